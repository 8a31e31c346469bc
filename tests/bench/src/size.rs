//! Kernel image sizes: the file, and what its loadable segments occupy.

use std::path::Path;

use anyhow::Context;

pub struct ElfSize {
    pub file: u64,
    /// Sum of PT_LOAD memory sizes (including .bss).
    pub load_mem: u64,
}

pub fn elf(path: &Path) -> anyhow::Result<ElfSize> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let elf = goblin::elf::Elf::parse(&data).with_context(|| format!("{}: not an ELF", path.display()))?;
    let loads = elf.program_headers.iter().filter(|p| p.p_type == goblin::elf::program_header::PT_LOAD);
    let load_mem = loads.map(|p| p.p_memsz).sum();
    Ok(ElfSize { file: data.len() as u64, load_mem })
}

pub fn file(path: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(path).with_context(|| format!("stat {}", path.display()))?.len())
}
