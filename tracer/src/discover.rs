//! Site discovery: which functions of an ELF image (an app or the kernel)
//! have a patch site, and where.
//!
//! Two sources, as Linux's ftrace: the address tables compilers write
//! (`__mcount_loc` from gcc `-mrecord-mcount`, `__patchable_function_entries`
//! from gcc and LLVM's patchable function entries), and the first bytes of
//! every function symbol (a 5-byte nop at the entry, or after `endbr64`).
//! Every table entry is checked against the bytes too, so a stale or foreign
//! table never yields a site that is not a nop. Addresses are link-time
//! addresses plus the load bias (0 for non-PIE, the load base for PIE).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use goblin::elf::{program_header::PT_LOAD, sym::STT_FUNC, Elf};

use crate::nops::{self, NopForm};

/// How to compile a program so its functions have sites; part of every
/// "no site" error.
pub const HOW_TO_COMPILE: &str = "rebuild it with `gcc -pg -mfentry -mnop-mcount -mrecord-mcount -fno-pie -no-pie` \
(a 5-byte nop at every function entry; add -static for a static app) or with `gcc -fpatchable-function-entry=5` \
(works for PIE too); in Rust, `-Zpatchable-function-entry=5,0` or \
`#[patchable_function_entry(prefix_nops = 0, entry_nops = 5)]`";

/// A function entry that can be patched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// The function's name (`sub_<addr>` if only a table lists it).
    pub name: String,
    /// The function's entry address (what `bpf_get_func_ip` returns).
    pub func: u64,
    /// Address of the 5 nop bytes: `func`, or `func + 4` after `endbr64`.
    pub addr: u64,
    /// The 5 bytes as compiled; detach writes them back.
    pub original: [u8; 5],
    pub form: NopForm,
    /// Listed in `__mcount_loc` or `__patchable_function_entries`.
    pub listed: bool,
}

impl Site {
    /// Whether a thread can be stopped inside the site (between two of its
    /// nops); such a site is patched only when no thread is.
    pub fn single_instruction(&self) -> bool {
        self.form.single_instruction(&self.original)
    }
}

/// A function symbol of the image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub addr: u64,
    pub size: u64,
    /// Index into [`SiteTable::sites`].
    pub site: Option<usize>,
    /// The first bytes in the file (up to 8), for the "no site" error.
    pub first: Vec<u8>,
}

/// Why an image could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoverError {
    #[error("not a usable ELF image: {0}")]
    Elf(String),
    #[error("{0}-bit ELF: only x86-64 images have sites")]
    NotX86_64(u32),
}

/// Why a name does not give a site.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    #[error("no function `{name}` in the image{}", suggest(.similar))]
    Unknown { name: String, similar: Vec<String> },
    #[error("function `{name}` at {addr:#x} has no patch site (it starts with {}, not a 5-byte nop): {HOW_TO_COMPILE}", hex(.first))]
    NoSite { name: String, addr: u64, first: Vec<u8> },
}

fn suggest(similar: &[String]) -> String {
    if similar.is_empty() {
        String::new()
    } else {
        format!(" (similar: {})", similar.join(", "))
    }
}

/// Bytes as `0f 1f 44 00 00`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::new();
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(' ');
        }
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Functions and sites of one image.
#[derive(Debug, Clone, Default)]
pub struct SiteTable {
    pub functions: Vec<Function>,
    pub sites: Vec<Site>,
    by_name: BTreeMap<String, usize>,
    /// Sites only a table lists, by their `sub_<addr>` name.
    unnamed: BTreeMap<String, usize>,
}

/// Bytes at link-time address `vaddr`, from the file (through `PT_LOAD`
/// segments, which is what is mapped at run time).
fn read_vaddr<'a>(elf: &Elf<'_>, image: &'a [u8], vaddr: u64, len: usize) -> Option<&'a [u8]> {
    elf.program_headers.iter().filter(|p| p.p_type == PT_LOAD).find_map(|p| {
        let off = vaddr.checked_sub(p.p_vaddr)?;
        if off.checked_add(len as u64)? > p.p_filesz {
            return None;
        }
        let start = usize::try_from(p.p_offset.checked_add(off)?).ok()?;
        image.get(start..start.checked_add(len)?)
    })
}

/// Reads the site address tables (8-byte little-endian link-time addresses).
/// In a PIE linked by lld the table holds zeros and the addresses are the
/// addends of its `R_X86_64_RELATIVE` relocations (bfd writes both).
fn table_addrs(elf: &Elf<'_>, image: &[u8]) -> Vec<u64> {
    const R_X86_64_RELATIVE: u32 = 8;
    let relative: BTreeMap<u64, u64> =
        elf.dynrelas.iter().filter(|r| r.r_type == R_X86_64_RELATIVE).filter_map(|r| Some((r.r_offset, u64::try_from(r.r_addend?).ok()?))).collect();
    let mut out = Vec::new();
    for sh in &elf.section_headers {
        let name = elf.shdr_strtab.get_at(sh.sh_name).unwrap_or("");
        if name != "__mcount_loc" && name != "__patchable_function_entries" {
            continue;
        }
        let (Ok(start), Ok(len)) = (usize::try_from(sh.sh_offset), usize::try_from(sh.sh_size)) else { continue };
        let Some(bytes) = start.checked_add(len).and_then(|end| image.get(start..end)) else { continue };
        for (i, c) in bytes.as_chunks::<8>().0.iter().enumerate() {
            let v = u64::from_le_bytes(*c);
            let v = if v != 0 { v } else { relative.get(&(sh.sh_addr + 8 * i as u64)).copied().unwrap_or(0) };
            if v != 0 {
                out.push(v);
            }
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

impl SiteTable {
    /// Discovers the sites of `image` loaded at `bias`.
    pub fn from_elf(image: &[u8], bias: u64) -> Result<SiteTable, DiscoverError> {
        let elf = Elf::parse(image).map_err(|e| DiscoverError::Elf(e.to_string()))?;
        if !elf.is_64 {
            return Err(DiscoverError::NotX86_64(32));
        }
        let listed = table_addrs(&elf, image);
        let syms = if elf.syms.is_empty() { (&elf.dynsyms, &elf.dynstrtab) } else { (&elf.syms, &elf.strtab) };
        let mut funcs: Vec<(u64, u64, String)> = syms
            .0
            .iter()
            .filter(|s| s.st_type() == STT_FUNC && s.st_value != 0 && s.st_shndx != 0)
            .filter_map(|s| Some((s.st_value, s.st_size, syms.1.get_at(s.st_name)?.to_string())))
            .filter(|(_, _, n)| !n.is_empty())
            .collect();
        funcs.sort();
        funcs.dedup_by(|a, b| a.0 == b.0 && a.2 == b.2);

        let mut t = SiteTable::default();
        let mut covered = Vec::new();
        for (vaddr, size, name) in funcs {
            let site = read_vaddr(&elf, image, vaddr, 9).or_else(|| read_vaddr(&elf, image, vaddr, 5)).and_then(nops::find_at_entry);
            let site_idx = site.map(|(off, form)| {
                let at = vaddr + off;
                let original: [u8; 5] = read_vaddr(&elf, image, at, 5).and_then(|b| b.try_into().ok()).unwrap_or(nops::NOPL5);
                covered.push(at);
                t.sites.push(Site { name: name.clone(), func: vaddr.wrapping_add(bias), addr: at.wrapping_add(bias), original, form, listed: listed.binary_search(&at).is_ok() });
                t.sites.len() - 1
            });
            let idx = t.functions.len();
            let first = (1..=8).rev().find_map(|n| read_vaddr(&elf, image, vaddr, n)).map(<[u8]>::to_vec).unwrap_or_default();
            t.functions.push(Function { name: name.clone(), addr: vaddr.wrapping_add(bias), size, site: site_idx, first });
            // A name defined twice (local symbols): keep the one with a site.
            match t.by_name.get(&name) {
                Some(&old) if t.functions[old].site.is_some() || site_idx.is_none() => {}
                _ => {
                    t.by_name.insert(name, idx);
                }
            }
        }
        // Table entries at no function symbol's entry (stripped images).
        covered.sort_unstable();
        for at in listed {
            if covered.binary_search(&at).is_ok() {
                continue;
            }
            let Some(original) = read_vaddr(&elf, image, at, 5).and_then(|b| <[u8; 5]>::try_from(b).ok()) else { continue };
            let Some(form) = nops::classify(&original) else { continue };
            let name = format!("sub_{:x}", at.wrapping_add(bias));
            t.unnamed.insert(name.clone(), t.sites.len());
            t.sites.push(Site { name, func: at.wrapping_add(bias), addr: at.wrapping_add(bias), original, form, listed: true });
        }
        Ok(t)
    }

    /// Discovers the sites of functions given by address, size and name
    /// (a kernel's own symbol table), reading their first bytes with `read`
    /// (`None`: not readable). Only entry nops count: there is no
    /// `__patchable_function_entries` table to consult, which is fine for
    /// LLVM's `0f 1f 44 00 08`, a form compilers emit only for patch sites.
    pub fn from_functions(funcs: impl IntoIterator<Item = (u64, u64, String)>, read: &mut dyn FnMut(u64, &mut [u8]) -> bool) -> SiteTable {
        let mut funcs: Vec<(u64, u64, String)> = funcs.into_iter().filter(|(_, _, n)| !n.is_empty()).collect();
        funcs.sort();
        funcs.dedup_by(|a, b| a.0 == b.0 && a.2 == b.2);
        let mut t = SiteTable::default();
        for (addr, size, name) in funcs {
            let mut first = [0u8; 9];
            let n = if read(addr, &mut first) {
                9
            } else if read(addr, &mut first[..5]) {
                5
            } else {
                0
            };
            let site_idx = nops::find_at_entry(&first[..n]).map(|(off, form)| {
                let at = addr + off;
                let original: [u8; 5] = first[off as usize..off as usize + 5].try_into().unwrap_or(nops::NOPL5);
                t.sites.push(Site { name: name.clone(), func: addr, addr: at, original, form, listed: false });
                t.sites.len() - 1
            });
            let idx = t.functions.len();
            t.functions.push(Function { name: name.clone(), addr, size, site: site_idx, first: first[..n.min(8)].to_vec() });
            match t.by_name.get(&name) {
                Some(&old) if t.functions[old].site.is_some() || site_idx.is_none() => {}
                _ => {
                    t.by_name.insert(name, idx);
                }
            }
        }
        t
    }

    /// The function called `name` (with or without a site).
    pub fn function(&self, name: &str) -> Option<&Function> {
        self.by_name.get(name).map(|&i| &self.functions[i])
    }

    /// The site of function `name`, or an error saying why there is none.
    pub fn site(&self, name: &str) -> Result<&Site, LookupError> {
        if let Some(&s) = self.unnamed.get(name) {
            return Ok(&self.sites[s]);
        }
        let Some(&i) = self.by_name.get(name) else {
            let similar = self.functions.iter().filter(|f| f.name.contains(name)).take(5).map(|f| f.name.clone()).collect();
            return Err(LookupError::Unknown { name: name.into(), similar });
        };
        let f = &self.functions[i];
        match f.site {
            Some(s) => Ok(&self.sites[s]),
            None => Err(LookupError::NoSite { name: f.name.clone(), addr: f.addr, first: f.first.clone() }),
        }
    }

    /// The function containing `addr`.
    pub fn function_at(&self, addr: u64) -> Option<&Function> {
        self.functions.iter().filter(|f| f.addr <= addr && addr < f.addr + f.size.max(1)).max_by_key(|f| f.addr)
    }

    /// Sites whose name contains `pattern` (all for an empty pattern).
    pub fn matching<'a>(&'a self, pattern: &'a str) -> impl Iterator<Item = &'a Site> + 'a {
        self.sites.iter().filter(move |s| s.name.contains(pattern))
    }
}
