//! The kernel's own symbol table, embedded in the image.
//!
//! The linker wrapper `kernel/ksyms-ld` links the kernel, lists its symbols
//! with `nm -C` (demangled), and writes them into the `.ksyms` section
//! (placed last by `kernel/linker.ld`, so filling it moves nothing): after
//! the 16-byte header (`arch::mem::KSYMS_HEADER`) come lines `<addr hex> <size hex> <name>`,
//! sorted by address and ended by a NUL; an address in the top 4 GiB is
//! written `~` and its low 32 bits. They are parsed once, on the
//! shell's first symbol question.

use alloc::string::String;
use alloc::vec::Vec;
use shellproto::{SymOrigin, Symbol};

/// Function and data symbols of the kernel, by address.
pub fn parse() -> Vec<Symbol> {
    let section = crate::arch::mem::ksyms_section();
    let body = section.get(crate::arch::mem::KSYMS_HEADER.len()..).unwrap_or(&[]);
    let body = &body[..body.iter().position(|b| *b == 0).unwrap_or(body.len())];
    let mut out: Vec<Symbol> = core::str::from_utf8(body)
        .unwrap_or("")
        .lines()
        .filter_map(|line| {
            let mut f = line.splitn(3, ' ');
            let a = f.next()?;
            // "~XXXXXXXX": the top 4 GiB, where the kernel image lives.
            let addr = match a.strip_prefix('~') {
                Some(low) => 0xffff_ffff_0000_0000 | u64::from_str_radix(low, 16).ok()?,
                None => u64::from_str_radix(a, 16).ok()?,
            };
            let size = u64::from_str_radix(f.next()?, 16).ok()?;
            let name = strip_hash(f.next()?);
            Some(Symbol { name: String::from(name), addr, size, origin: SymOrigin::Kernel })
        })
        .collect();
    out.sort_by_key(|s| s.addr);
    out
}

/// `kernel::task::schedule::h0123456789abcdef` (legacy mangling, as `nm`
/// prints it) → `kernel::task::schedule`: the hash only tells apart
/// instances a user does not ask for by name.
fn strip_hash(name: &str) -> &str {
    match name.rsplit_once("::h") {
        Some((base, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => base,
        _ => name,
    }
}
