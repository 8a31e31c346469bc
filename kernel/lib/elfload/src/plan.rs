//! Reads an ELF executable into a [`LoadPlan`]: its loadable segments,
//! entry point and program-header location, relative to a load bias that the
//! kernel picks (0 for ET_EXEC, a randomized base for static-PIE).

use alloc::string::String;
use alloc::vec::Vec;
use goblin::elf::{header, program_header as ph, Elf};

pub const PAGE_SIZE: u64 = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElfError {
    /// Not an ELF file, or its headers are damaged.
    Malformed(String),
    /// A valid ELF that this loader cannot run (wrong machine, class, type).
    Unsupported(&'static str),
    /// A dynamically linked program: needs the interpreter at this path.
    NeedsInterpreter(String),
}

impl core::fmt::Display for ElfError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ElfError::Malformed(m) => write!(f, "not a valid ELF executable: {m}"),
            ElfError::Unsupported(m) => write!(f, "unsupported ELF executable: {m}"),
            ElfError::NeedsInterpreter(p) => {
                write!(f, "dynamically linked (interpreter {p}); only static and static-PIE programs run for now")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ElfKind {
    /// ET_EXEC: fixed addresses, bias 0.
    Exec,
    /// ET_DYN without PT_INTERP: static-PIE, loaded at a chosen bias.
    StaticPie,
}

/// One PT_LOAD segment, addresses before applying the load bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub vaddr: u64,
    pub memsz: u64,
    pub file_offset: u64,
    pub filesz: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Segment {
    /// Page-aligned start and end (exclusive) of the memory this segment covers.
    pub fn page_range(&self) -> (u64, u64) {
        let start = self.vaddr & !(PAGE_SIZE - 1);
        let end = (self.vaddr + self.memsz + PAGE_SIZE - 1) & !(PAGE_SIZE - 1);
        (start, end)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadPlan {
    pub kind: ElfKind,
    pub entry: u64,
    pub segments: Vec<Segment>,
    /// Virtual address of the program headers (for AT_PHDR), unbiased.
    pub phdr_vaddr: u64,
    pub phent: u64,
    pub phnum: u64,
    /// Whether PT_GNU_STACK asks for an executable stack.
    pub exec_stack: bool,
}

impl LoadPlan {
    /// Lowest and highest (exclusive, page-aligned) unbiased addresses used.
    pub fn span(&self) -> (u64, u64) {
        let lo = self.segments.iter().map(|s| s.page_range().0).min().unwrap_or(0);
        let hi = self.segments.iter().map(|s| s.page_range().1).max().unwrap_or(0);
        (lo, hi)
    }
}

/// Parses `bytes` and checks that every segment lies inside the file and does
/// not overflow the address space.
pub fn plan(bytes: &[u8]) -> Result<LoadPlan, ElfError> {
    // Only the header and the program headers: a full parse (sections,
    // symbols, relocations) was a third of the boot's instructions.
    let malformed = |e: goblin::error::Error| ElfError::Malformed(alloc::format!("{e}"));
    let mut elf = Elf::lazy_parse(Elf::parse_header(bytes).map_err(malformed)?).map_err(malformed)?;
    if !elf.is_64 || !elf.little_endian {
        return Err(ElfError::Unsupported("not a 64-bit little-endian ELF"));
    }
    let ctx = goblin::container::Ctx::new(goblin::container::Container::Big, goblin::container::Endian::Little);
    elf.program_headers =
        goblin::elf::ProgramHeader::parse(bytes, elf.header.e_phoff as usize, elf.header.e_phnum as usize, ctx).map_err(malformed)?;
    elf.interpreter = elf.program_headers.iter().find(|p| p.p_type == ph::PT_INTERP).map(|p| {
        let start = (p.p_offset as usize).min(bytes.len());
        let end = (p.p_offset as usize).saturating_add(p.p_filesz as usize).min(bytes.len());
        let s = &bytes[start..end];
        core::str::from_utf8(s.split(|b| *b == 0).next().unwrap_or(s)).unwrap_or("(not UTF-8)")
    });
    if !elf.is_64 || !elf.little_endian {
        return Err(ElfError::Unsupported("not a 64-bit little-endian ELF"));
    }
    if elf.header.e_machine != header::EM_X86_64 {
        return Err(ElfError::Unsupported("not an x86-64 program"));
    }
    if let Some(interp) = elf.interpreter {
        return Err(ElfError::NeedsInterpreter(String::from(interp)));
    }
    let kind = match elf.header.e_type {
        header::ET_EXEC => ElfKind::Exec,
        header::ET_DYN => ElfKind::StaticPie,
        _ => return Err(ElfError::Unsupported("not an executable (ET_EXEC or ET_DYN)")),
    };
    let mut segments = Vec::new();
    let mut phdr_vaddr = None;
    let mut exec_stack = false;
    for p in &elf.program_headers {
        match p.p_type {
            ph::PT_LOAD => {
                let end_in_file = p.p_offset.checked_add(p.p_filesz);
                if end_in_file.is_none_or(|e| e > bytes.len() as u64) {
                    return Err(ElfError::Malformed("PT_LOAD segment extends past end of file".into()));
                }
                if p.p_filesz > p.p_memsz
                    || p.p_vaddr.checked_add(p.p_memsz).is_none_or(|e| e > 0x0000_7fff_ffff_f000)
                {
                    return Err(ElfError::Malformed("PT_LOAD segment has bad sizes or addresses".into()));
                }
                if p.p_vaddr % PAGE_SIZE != p.p_offset % PAGE_SIZE {
                    return Err(ElfError::Malformed("PT_LOAD segment is not page-congruent".into()));
                }
                segments.push(Segment {
                    vaddr: p.p_vaddr,
                    memsz: p.p_memsz,
                    file_offset: p.p_offset,
                    filesz: p.p_filesz,
                    read: p.is_read(),
                    write: p.is_write(),
                    exec: p.is_executable(),
                });
            }
            ph::PT_PHDR => phdr_vaddr = Some(p.p_vaddr),
            ph::PT_GNU_STACK => exec_stack = p.is_executable(),
            _ => {}
        }
    }
    if segments.is_empty() {
        return Err(ElfError::Malformed("no PT_LOAD segments".into()));
    }
    // Without PT_PHDR (common in static binaries) the headers are found in
    // the segment that maps file offset e_phoff, as Linux's loader does.
    let phoff = elf.header.e_phoff;
    let phdr_vaddr = match phdr_vaddr {
        Some(v) => v,
        None => segments
            .iter()
            .find(|s| s.file_offset <= phoff && phoff < s.file_offset + s.filesz)
            .map(|s| s.vaddr + (phoff - s.file_offset))
            .unwrap_or(0),
    };
    Ok(LoadPlan {
        kind,
        entry: elf.entry,
        segments,
        phdr_vaddr,
        phent: elf.header.e_phentsize as u64,
        phnum: elf.header.e_phnum as u64,
        exec_stack,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_garbage() {
        assert!(matches!(plan(b"not an elf at all, definitely not"), Err(ElfError::Malformed(_))));
        assert!(matches!(plan(&[]), Err(ElfError::Malformed(_))));
    }

    #[test]
    fn plans_host_binary_if_static() {
        // The test binary itself is a dynamically linked ET_DYN: must ask for an interpreter.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        match plan(&exe) {
            Err(ElfError::NeedsInterpreter(p)) => assert!(p.contains("ld-linux")),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn plans_busybox_static() {
        let bytes = std::fs::read("/bin/busybox").expect("/bin/busybox (apt package busybox-static; scripts/setup.sh installs it)");
        let p = plan(&bytes).expect("busybox-static plans");
        assert!(!p.segments.is_empty());
        let (lo, hi) = p.span();
        assert!(lo < hi);
        assert!(p.phnum > 0 && p.phent == 56);
        assert!(p.entry >= lo && p.entry < hi);
    }
}
