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

/// File size after `strip --strip-all` (debug info and symbols are not
/// loaded, so this is the image a deployment would ship).
pub fn stripped(path: &Path, out_dir: &Path) -> anyhow::Result<u64> {
    let name = path.file_name().context("image path has no file name")?;
    let out = out_dir.join(name).with_extension("stripped");
    let st = std::process::Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(&out)
        .arg(path)
        .status()
        .context("running strip (binutils)")?;
    anyhow::ensure!(st.success(), "strip --strip-all {} failed ({st})", path.display());
    file(&out)
}

/// The kernel's patchable entries: (functions whose first bytes are LLVM's
/// 5-byte `-Zpatchable-function-entry` nop `0f 1f 44 00 08`, functions
/// with code), from the ELF symbol table.
pub fn patchable_entries(path: &Path) -> anyhow::Result<(usize, usize)> {
    const NOP: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x08];
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let elf = goblin::elf::Elf::parse(&data).with_context(|| format!("{}: not an ELF", path.display()))?;
    let mut addrs: Vec<u64> = elf
        .syms
        .iter()
        .filter(|s| s.st_type() == goblin::elf::sym::STT_FUNC && s.st_size >= 5 && s.st_value != 0)
        .map(|s| s.st_value)
        .collect();
    addrs.sort_unstable();
    addrs.dedup();
    anyhow::ensure!(!addrs.is_empty(), "{}: no function symbols", path.display());
    let bytes_at = |addr: u64| -> Option<&[u8]> {
        let sh = elf.section_headers.iter().find(|sh| {
            sh.sh_type == goblin::elf::section_header::SHT_PROGBITS && sh.sh_addr <= addr && addr + 5 <= sh.sh_addr + sh.sh_size
        })?;
        let off = (sh.sh_offset + (addr - sh.sh_addr)) as usize;
        data.get(off..off + 5)
    };
    let with = addrs.iter().filter(|&&a| bytes_at(a) == Some(&NOP[..])).count();
    Ok((with, addrs.len()))
}
