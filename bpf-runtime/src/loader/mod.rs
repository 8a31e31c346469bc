//! The object loader: reads the ELF files that `clang -O2 -g -target bpf`
//! makes from libbpf-style C and returns maps and relocated programs.
//!
//! - Every executable section except `.text` is one program; its name says
//!   where it attaches and fixes its [`ProgType`].
//! - `.text` holds bpf-to-bpf callees; a program that calls into it gets a
//!   copy appended, and its `R_BPF_64_32` call relocations become pc-relative
//!   `call` immediates (as libbpf does).
//! - `R_BPF_64_64` on `lddw` naming a `.maps` symbol becomes
//!   `PSEUDO_MAP_FD` + map index; naming global data (`.rodata*`, `.data*`,
//!   `.bss*`, each a one-element array map) becomes `PSEUDO_MAP_VALUE` + map
//!   index with the byte offset in the second slot.
//! - Map definitions come from BTF ([`btf`]), since `.maps` is all zeros.
//! - Helper calls must name a helper this runtime provides.

pub mod btf;

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use goblin::elf::{section_header, sym, Elf};

use crate::isa::{self, Insn};
use crate::spec::{MapSpec, MapType, ProgType};

const EM_BPF: u16 = 247;

/// What went wrong, without the location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadErrorKind {
    /// goblin could not parse the file.
    Elf(String),
    NotBpf(String),
    Btf(&'static str),
    /// A map definition is incomplete or unsupported.
    BadMap(String),
    /// A section's contents are malformed.
    BadSection(&'static str),
    /// A relocation cannot be applied.
    Reloc(String),
    /// `call` names a helper ID this runtime does not provide.
    UnknownHelper { insn: usize, id: i32 },
    /// A section holds more than one program.
    SeveralPrograms(Vec<String>),
    /// The section name does not give a program type we support.
    UnsupportedSection(&'static str),
    NoPrograms,
}

/// A loader error, naming the section and symbol involved when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub section: Option<String>,
    pub symbol: Option<String>,
    pub kind: LoadErrorKind,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.section {
            write!(f, "section `{s}`: ")?;
        }
        if let Some(s) = &self.symbol {
            write!(f, "symbol `{s}`: ")?;
        }
        match &self.kind {
            LoadErrorKind::Elf(e) => write!(f, "not a valid ELF file: {e}"),
            LoadErrorKind::NotBpf(why) => write!(f, "not a BPF object ({why}); build it with clang -target bpf"),
            LoadErrorKind::Btf(e) => write!(f, "bad BTF: {e}"),
            LoadErrorKind::BadMap(e) => write!(f, "bad map definition: {e}"),
            LoadErrorKind::BadSection(e) => write!(f, "{e}"),
            LoadErrorKind::Reloc(e) => write!(f, "cannot relocate: {e}"),
            LoadErrorKind::UnknownHelper { insn, id } => {
                write!(f, "instruction {insn} calls unknown helper {id}; this runtime provides helpers ")?;
                let ids: Vec<String> = crate::helpers::all().map(|p| p.id.to_string()).collect();
                write!(f, "{}", ids.join(", "))
            }
            LoadErrorKind::SeveralPrograms(names) => write!(f, "holds several programs ({}); give each its own SEC(...)", names.join(", ")),
            LoadErrorKind::UnsupportedSection(e) => write!(f, "{e}"),
            LoadErrorKind::NoPrograms => write!(f, "no program sections (use SEC(\"...\") on a function)"),
        }
    }
}

impl core::error::Error for LoadError {}

fn err(section: Option<&str>, symbol: Option<&str>, kind: LoadErrorKind) -> LoadError {
    LoadError { section: section.map(str::to_string), symbol: symbol.map(str::to_string), kind }
}

/// One program: its section (the attach point), its function name and its
/// relocated instructions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    pub name: String,
    pub section: String,
    pub prog_type: ProgType,
    pub insns: Vec<Insn>,
}

/// A parsed object: map specifications (indexed as the relocated `lddw`s
/// refer to them) and programs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub maps: Vec<MapSpec>,
    pub programs: Vec<Program>,
}

/// The program type a section name asks for.
pub fn prog_type_for(section: &str) -> Result<ProgType, &'static str> {
    let tp = section.strip_prefix("tracepoint/").or_else(|| section.strip_prefix("tp/"));
    if let Some(tp) = tp {
        return match tp {
            "raw_syscalls/sys_enter" => Ok(ProgType::TracepointSysEnter),
            "raw_syscalls/sys_exit" => Ok(ProgType::TracepointSysExit),
            _ if tp.starts_with("syscalls/sys_enter_") => Ok(ProgType::TracepointSysEnter),
            _ if tp.starts_with("syscalls/sys_exit_") => Ok(ProgType::TracepointSysExit),
            _ => Err("only tracepoint/syscalls/sys_{enter,exit}_* and tracepoint/raw_syscalls/sys_{enter,exit} are supported"),
        };
    }
    Ok(if section.starts_with("fentry/") {
        ProgType::Fentry
    } else if section.starts_with("fexit/") {
        ProgType::Fexit
    } else if section.starts_with("kprobe/") || section.starts_with("kretprobe/") {
        ProgType::Kprobe
    } else if section.starts_with("raw_tracepoint/") || section.starts_with("raw_tp/") {
        ProgType::RawTracepoint
    } else {
        ProgType::Syscall
    })
}

fn is_data_section(name: &str) -> bool {
    [".rodata", ".data", ".bss"].iter().any(|p| name == *p || name.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
}

struct Ctx<'a> {
    elf: Elf<'a>,
    bytes: &'a [u8],
    /// Section index -> map index, for global-data sections.
    data_maps: Vec<(usize, usize)>,
    maps: Vec<MapSpec>,
    maps_shndx: Option<usize>,
    text_shndx: Option<usize>,
}

impl<'a> Ctx<'a> {
    fn sec_name(&self, idx: usize) -> &'a str {
        self.elf.section_headers.get(idx).and_then(|s| self.elf.shdr_strtab.get_at(s.sh_name)).unwrap_or("?")
    }

    fn sec_bytes(&self, idx: usize) -> Result<&'a [u8], LoadError> {
        let sh = &self.elf.section_headers[idx];
        if sh.sh_type == section_header::SHT_NOBITS {
            return Ok(&[]);
        }
        let start = usize::try_from(sh.sh_offset).ok();
        let len = usize::try_from(sh.sh_size).ok();
        start
            .zip(len)
            .and_then(|(s, l)| self.bytes.get(s..s.checked_add(l)?))
            .ok_or_else(|| err(Some(self.sec_name(idx)), None, LoadErrorKind::BadSection("section data lies outside the file")))
    }

    fn insns_of(&self, idx: usize) -> Result<Vec<Insn>, LoadError> {
        isa::decode_all(self.sec_bytes(idx)?)
            .ok_or_else(|| err(Some(self.sec_name(idx)), None, LoadErrorKind::BadSection("code size is not a multiple of 8")))
    }

    fn sym_name(&self, s: &sym::Sym) -> &'a str {
        self.elf.strtab.get_at(s.st_name).unwrap_or("")
    }

    /// The name of a function or object defined at `off` in section `shndx`.
    fn sym_at(&self, shndx: usize, off: u64) -> Option<&'a str> {
        self.elf
            .syms
            .iter()
            .find(|s| s.st_shndx == shndx && s.st_value == off && matches!(s.st_type(), sym::STT_FUNC | sym::STT_OBJECT))
            .map(|s| self.sym_name(&s))
            .filter(|n| !n.is_empty())
    }
}

/// Parses a BPF ELF object.
pub fn parse(bytes: &[u8]) -> Result<Object, LoadError> {
    let elf = Elf::parse(bytes).map_err(|e| err(None, None, LoadErrorKind::Elf(e.to_string())))?;
    if elf.header.e_machine != EM_BPF {
        return Err(err(None, None, LoadErrorKind::NotBpf(format!("e_machine is {}, not EM_BPF (247)", elf.header.e_machine))));
    }
    if !elf.little_endian || !elf.is_64 {
        return Err(err(None, None, LoadErrorKind::NotBpf("only 64-bit little-endian objects are supported".into())));
    }
    let mut cx = Ctx { elf, bytes, data_maps: Vec::new(), maps: Vec::new(), maps_shndx: None, text_shndx: None };
    let n = cx.elf.section_headers.len();
    for i in 0..n {
        match cx.sec_name(i) {
            ".maps" => cx.maps_shndx = Some(i),
            ".text" => cx.text_shndx = Some(i),
            _ => {}
        }
    }
    read_btf_maps(&mut cx)?;
    for i in 0..n {
        let name = cx.sec_name(i);
        let sh = &cx.elf.section_headers[i];
        if is_data_section(name) && sh.sh_size > 0 && (sh.sh_type == section_header::SHT_PROGBITS || sh.sh_type == section_header::SHT_NOBITS) {
            let size = u32::try_from(sh.sh_size).map_err(|_| err(Some(name), None, LoadErrorKind::BadSection("global data section larger than 4 GiB")))?;
            let initial = if sh.sh_type == section_header::SHT_NOBITS { None } else { Some(cx.sec_bytes(i)?.to_vec()) };
            cx.data_maps.push((i, cx.maps.len()));
            cx.maps.push(MapSpec {
                name: name.to_string(),
                kind: MapType::Array,
                key_size: 4,
                value_size: size,
                max_entries: 1,
                initial,
                read_only: name.starts_with(".rodata"),
            });
        }
    }
    if cx.maps.len() > crate::maps::MAX_MAPS_PER_OBJECT {
        return Err(err(None, None, LoadErrorKind::BadMap(format!("{} maps, more than the limit of {}", cx.maps.len(), crate::maps::MAX_MAPS_PER_OBJECT))));
    }
    let total: u64 = cx.maps.iter().map(crate::maps::map_bytes).sum();
    if total > crate::maps::MAX_OBJECT_MAP_BYTES {
        return Err(err(None, None, LoadErrorKind::BadMap(format!("the maps need {total} bytes together, more than the limit of 256 MiB"))));
    }
    let mut programs = Vec::new();
    for i in 0..n {
        let sh = &cx.elf.section_headers[i];
        let exec = sh.sh_type == section_header::SHT_PROGBITS && sh.sh_flags & u64::from(section_header::SHF_EXECINSTR) != 0;
        if exec && sh.sh_size > 0 && Some(i) != cx.text_shndx {
            programs.push(build_program(&cx, i)?);
        }
    }
    if programs.is_empty() {
        return Err(err(None, None, LoadErrorKind::NoPrograms));
    }
    Ok(Object { maps: cx.maps, programs })
}

fn read_btf_maps(cx: &mut Ctx<'_>) -> Result<(), LoadError> {
    let Some(maps_idx) = cx.maps_shndx else { return Ok(()) };
    let btf_idx = (0..cx.elf.section_headers.len()).find(|&i| cx.sec_name(i) == ".BTF");
    let Some(btf_idx) = btf_idx else {
        return Err(err(Some(".maps"), None, LoadErrorKind::Btf("the object has `.maps` but no `.BTF`; compile with -g")));
    };
    let btf = btf::Btf::parse(cx.sec_bytes(btf_idx)?).map_err(|e| err(Some(".BTF"), None, LoadErrorKind::Btf(e)))?;
    let defs = btf.map_defs().map_err(|(sym, e)| err(Some(".maps"), Some(&sym), LoadErrorKind::Btf(e)))?;
    if defs.len() > crate::maps::MAX_MAPS_PER_OBJECT {
        return Err(err(Some(".maps"), None, LoadErrorKind::BadMap(format!("{} maps, more than the limit of {}", defs.len(), crate::maps::MAX_MAPS_PER_OBJECT))));
    }
    for d in defs {
        let bad = |why: String| err(Some(".maps"), Some(&d.name), LoadErrorKind::BadMap(why));
        let raw_kind = d.kind.ok_or_else(|| bad("missing __uint(type, ...)".into()))?;
        let kind = MapType::from_linux(raw_kind)
            .ok_or_else(|| bad(format!("map type {raw_kind} is not supported (HASH=1, ARRAY=2, PERCPU_ARRAY=6, RINGBUF=27 are)")))?;
        let max_entries = d.max_entries.ok_or_else(|| bad("missing __uint(max_entries, ...)".into()))?;
        let (key_size, value_size) = if kind == MapType::Ringbuf {
            (0, 0)
        } else {
            (d.key_size.ok_or_else(|| bad("missing key type or key_size".into()))?, d.value_size.ok_or_else(|| bad("missing value type or value_size".into()))?)
        };
        let spec = MapSpec { name: d.name.clone(), kind, key_size, value_size, max_entries, initial: None, read_only: false };
        // Check the definition now so the error names the map.
        crate::maps::check_spec(&spec).map_err(|e| bad(e.to_string()))?;
        cx.maps.push(spec);
    }
    let _ = maps_idx;
    Ok(())
}

/// Relocations of section `target`, as (offset, type, symbol index).
fn relocs_for(cx: &Ctx<'_>, target: usize) -> Vec<(u64, u32, usize)> {
    let mut out = Vec::new();
    for (ridx, rs) in &cx.elf.shdr_relocs {
        if cx.elf.section_headers.get(*ridx).map(|s| s.sh_info as usize) == Some(target) {
            out.extend(rs.iter().map(|r| (r.r_offset, r.r_type, r.r_sym)));
        }
    }
    out
}

/// Applies the relocations of section `sec`, whose code sits at `base` in
/// `image`; `.text` (if appended) sits at `text_base`.
fn relocate(cx: &Ctx<'_>, prog_sec: &str, sec: usize, base: usize, sec_len: usize, text_base: Option<usize>, image: &mut [Insn]) -> Result<(), LoadError> {
    for (off, _rtype, sym_idx) in relocs_for(cx, sec) {
        let s = cx.elf.syms.get(sym_idx).ok_or_else(|| err(Some(prog_sec), None, LoadErrorKind::Reloc(format!("symbol index {sym_idx} out of range"))))?;
        let sym_name = cx.sym_name(&s);
        let at_probe = (base + (off / 8) as usize).min(image.len().saturating_sub(1));
        // A section symbol (static function, string literal) shows as the
        // symbol defined at the target offset, if there is one.
        let target_off = match image.get(at_probe) {
            Some(i) if i.opc == isa::CLS_JMP | isa::JMP_CALL => s.st_value.wrapping_add((i.imm as i64 + 1).wrapping_mul(8) as u64),
            Some(i) => s.st_value.wrapping_add(i.imm as i64 as u64),
            None => s.st_value,
        };
        let shown = if sym_name.is_empty() { cx.sym_at(s.st_shndx, target_off).unwrap_or(cx.sec_name(s.st_shndx)) } else { sym_name };
        let fail = |why: String| err(Some(prog_sec), Some(shown), LoadErrorKind::Reloc(why));
        if off % 8 != 0 || off / 8 >= sec_len as u64 {
            return Err(fail(format!("relocation offset {off:#x} is not an instruction of `{}`", cx.sec_name(sec))));
        }
        let at = base + (off / 8) as usize;
        let insn = image[at];
        if s.st_shndx == section_header::SHN_UNDEF as usize {
            return Err(fail("extern symbols (kfuncs, __kconfig, __ksym) are not supported".into()));
        }
        if insn.opc == isa::LDDW {
            if at + 1 >= image.len() || (off / 8) as usize + 1 >= sec_len {
                return Err(fail("lddw relocation on the last instruction".into()));
            }
            if Some(s.st_shndx) == cx.maps_shndx {
                let idx = cx.maps.iter().position(|m| m.name == sym_name).ok_or_else(|| fail("`.maps` symbol has no BTF map definition".into()))?;
                image[at].src = isa::PSEUDO_MAP_FD;
                image[at].imm = idx as i32;
            } else if let Some(&(_, idx)) = cx.data_maps.iter().find(|(sh, _)| *sh == s.st_shndx) {
                let data_off = i64::from(insn.imm) + s.st_value as i64;
                if data_off < 0 || data_off >= cx.maps[idx].value_size as i64 {
                    return Err(fail(format!("offset {data_off} lies outside `{}`", cx.maps[idx].name)));
                }
                image[at].src = isa::PSEUDO_MAP_VALUE;
                image[at].imm = idx as i32;
                image[at + 1].imm = data_off as i32;
            } else if Some(s.st_shndx) == cx.text_shndx || s.st_shndx == sec {
                // A callback (`bpf_loop(n, fn, ...)`): libbpf's
                // `BPF_PSEUDO_FUNC`, imm relative to the next slot.
                let fn_base = if s.st_shndx == sec { base } else { text_base.ok_or_else(|| fail("function address in .text without .text".into()))? };
                let byte_off = s.st_value as i64 + i64::from(insn.imm);
                if byte_off % 8 != 0 {
                    return Err(fail(format!("function address at byte {byte_off}, not an instruction")));
                }
                let abs = fn_base as i64 + byte_off / 8;
                if byte_off < 0 || abs >= image.len() as i64 {
                    return Err(fail("function address outside the code".into()));
                }
                image[at].src = isa::PSEUDO_FUNC;
                image[at].imm = (abs - at as i64 - 1) as i32;
                image[at + 1].imm = 0;
            } else {
                return Err(fail(format!("lddw refers to section `{}`, which is neither `.maps` nor global data", cx.sec_name(s.st_shndx))));
            }
        } else if insn.opc == isa::CLS_JMP | isa::JMP_CALL && insn.src == isa::PSEUDO_CALL {
            let callee_base = if s.st_shndx == sec {
                base
            } else if Some(s.st_shndx) == cx.text_shndx {
                text_base.ok_or_else(|| fail("call into .text without .text".into()))?
            } else {
                return Err(fail(format!("call into section `{}`; callees must be in .text", cx.sec_name(s.st_shndx))));
            };
            // libbpf: callee = symbol offset / 8 + imm + 1 (imm is -1 for a
            // named function, the offset for a section symbol).
            let target = (s.st_value / 8) as i64 + i64::from(insn.imm) + 1;
            let abs = callee_base as i64 + target;
            if target < 0 || abs >= image.len() as i64 {
                return Err(fail("call target outside the code".into()));
            }
            image[at].imm = (abs - at as i64 - 1) as i32;
        } else {
            return Err(fail(format!("relocation on instruction {} (opcode {:#04x}), which is neither lddw nor call", off / 8, insn.opc)));
        }
    }
    Ok(())
}

fn build_program(cx: &Ctx<'_>, idx: usize) -> Result<Program, LoadError> {
    let section = cx.sec_name(idx);
    let prog_type = prog_type_for(section).map_err(|e| err(Some(section), None, LoadErrorKind::UnsupportedSection(e)))?;
    let funcs: Vec<String> = cx
        .elf
        .syms
        .iter()
        .filter(|s| s.st_shndx == idx && s.st_type() == sym::STT_FUNC && s.st_bind() == sym::STB_GLOBAL)
        .map(|s| cx.sym_name(&s).to_string())
        .collect();
    if funcs.len() > 1 {
        return Err(err(Some(section), None, LoadErrorKind::SeveralPrograms(funcs)));
    }
    let name = funcs.into_iter().next().unwrap_or_else(|| section.to_string());
    let mut image = cx.insns_of(idx)?;
    let sec_len = image.len();
    let calls_text = relocs_for(cx, idx).iter().any(|&(_, _, si)| cx.elf.syms.get(si).is_some_and(|s| Some(s.st_shndx) == cx.text_shndx));
    let mut text_base = None;
    let mut text_len = 0;
    if let (true, Some(t)) = (calls_text, cx.text_shndx) {
        text_base = Some(image.len());
        let text = cx.insns_of(t)?;
        text_len = text.len();
        image.extend(text);
    }
    if image.len() > isa::MAX_INSNS {
        return Err(err(Some(section), Some(&name), LoadErrorKind::BadSection("program longer than 65536 instructions")));
    }
    relocate(cx, section, idx, 0, sec_len, text_base, &mut image)?;
    if let (Some(tb), Some(t)) = (text_base, cx.text_shndx) {
        relocate(cx, section, t, tb, text_len, text_base, &mut image)?;
    }
    let mut i = 0;
    while i < image.len() {
        let ins = image[i];
        if ins.opc == isa::CLS_JMP | isa::JMP_CALL && ins.src == 0 && crate::helpers::proto(ins.imm).is_none() {
            return Err(err(Some(section), Some(&name), LoadErrorKind::UnknownHelper { insn: i, id: ins.imm }));
        }
        i += if ins.opc == isa::LDDW { 2 } else { 1 };
    }
    Ok(Program { name, section: section.to_string(), prog_type, insns: image })
}

/// A program's instructions as bytes, e.g. for a disassembler.
pub fn to_bytes(insns: &[Insn]) -> Vec<u8> {
    let mut v = vec![];
    for i in insns {
        v.extend_from_slice(&i.encode());
    }
    v
}
