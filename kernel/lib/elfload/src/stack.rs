//! The initial process stack, laid out exactly as Linux's `create_elf_tables`:
//!
//! ```text
//! high  [8 zero bytes] execfn, envp strings, argv strings, platform, AT_RANDOM bytes
//!       padding to 16 bytes
//!       auxv pairs ... AT_NULL
//!       NULL, envp pointers
//!       NULL, argv pointers
//! sp -> argc                      (16-byte aligned)
//! ```

use alloc::vec;
use alloc::vec::Vec;
use linux_abi::auxv::*;

/// What goes on the stack besides the strings: the auxv entries the caller
/// computes (AT_PHDR, AT_ENTRY, ...). AT_RANDOM, AT_EXECFN and AT_PLATFORM
/// are added here because they point into the string area.
pub struct StackSpec<'a> {
    pub argv: &'a [&'a [u8]],
    pub envp: &'a [&'a [u8]],
    pub auxv: &'a [(u64, u64)],
    pub random: [u8; 16],
    pub execfn: &'a [u8],
}

/// The built stack: `bytes` must be copied so that it ends at the stack top
/// given to [`build`]; `sp` is the initial rsp.
pub struct StackImage {
    pub bytes: Vec<u8>,
    pub sp: u64,
}

const PLATFORM: &[u8] = b"x86_64";

/// Builds the image for a stack whose highest address (exclusive) is `top`.
pub fn build(top: u64, spec: &StackSpec<'_>) -> StackImage {
    // Strings, from the top down, recording their addresses.
    let mut strings: Vec<u8> = Vec::new();
    let mut cursor = top - 8; // Linux leaves a NULL word at the very top.
    let mut push_str = |s: &[u8], strings: &mut Vec<u8>| -> u64 {
        cursor -= s.len() as u64 + 1;
        let mut chunk = Vec::with_capacity(s.len() + 1);
        chunk.extend_from_slice(s);
        chunk.push(0);
        strings.splice(0..0, chunk);
        cursor
    };
    let execfn_addr = push_str(spec.execfn, &mut strings);
    let mut env_addrs: Vec<u64> = spec.envp.iter().rev().map(|e| push_str(e, &mut strings)).collect();
    env_addrs.reverse();
    let mut arg_addrs: Vec<u64> = spec.argv.iter().rev().map(|a| push_str(a, &mut strings)).collect();
    arg_addrs.reverse();
    let platform_addr = push_str(PLATFORM, &mut strings);
    cursor -= 16;
    let random_addr = cursor;
    strings.splice(0..0, spec.random.iter().copied());

    let mut auxv: Vec<(u64, u64)> = spec.auxv.to_vec();
    auxv.push((AT_RANDOM, random_addr));
    auxv.push((AT_EXECFN, execfn_addr));
    auxv.push((AT_PLATFORM, platform_addr));
    auxv.push((AT_NULL, 0));

    let words = 1 + arg_addrs.len() + 1 + env_addrs.len() + 1 + auxv.len() * 2;
    let table_bytes = words as u64 * 8;
    let sp = (cursor - table_bytes) & !15;
    let mut table: Vec<u64> = Vec::with_capacity(words);
    table.push(spec.argv.len() as u64);
    table.extend_from_slice(&arg_addrs);
    table.push(0);
    table.extend_from_slice(&env_addrs);
    table.push(0);
    for (k, v) in auxv {
        table.push(k);
        table.push(v);
    }

    let mut bytes = vec![0u8; (top - sp) as usize];
    for (i, w) in table.iter().enumerate() {
        bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
    }
    let str_off = (cursor - sp) as usize;
    bytes[str_off..str_off + strings.len()].copy_from_slice(&strings);
    StackImage { bytes, sp }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(img: &StackImage, top: u64, addr: u64) -> u64 {
        let off = (addr - (top - img.bytes.len() as u64)) as usize;
        u64::from_le_bytes(img.bytes[off..off + 8].try_into().unwrap())
    }

    fn cstr(img: &StackImage, top: u64, addr: u64) -> Vec<u8> {
        let off = (addr - (top - img.bytes.len() as u64)) as usize;
        img.bytes[off..].iter().take_while(|b| **b != 0).copied().collect()
    }

    #[test]
    fn layout_matches_linux() {
        let top = 0x7fff_0000_0000;
        let spec = StackSpec {
            argv: &[b"/bin/prog", b"arg1"],
            envp: &[b"A=1", b"PATH=/bin"],
            auxv: &[(AT_PAGESZ, 4096), (AT_ENTRY, 0x401000)],
            random: [7; 16],
            execfn: b"/bin/prog",
        };
        let img = build(top, &spec);
        assert_eq!(img.sp % 16, 0);
        assert_eq!(img.sp, top - img.bytes.len() as u64);
        assert_eq!(word(&img, top, img.sp), 2);
        assert_eq!(cstr(&img, top, word(&img, top, img.sp + 8)), b"/bin/prog");
        assert_eq!(cstr(&img, top, word(&img, top, img.sp + 16)), b"arg1");
        assert_eq!(word(&img, top, img.sp + 24), 0);
        assert_eq!(cstr(&img, top, word(&img, top, img.sp + 32)), b"A=1");
        assert_eq!(cstr(&img, top, word(&img, top, img.sp + 40)), b"PATH=/bin");
        assert_eq!(word(&img, top, img.sp + 48), 0);
        // auxv
        let mut a = img.sp + 56;
        let mut found = std::collections::HashMap::new();
        loop {
            let (k, v) = (word(&img, top, a), word(&img, top, a + 8));
            if k == AT_NULL {
                break;
            }
            found.insert(k, v);
            a += 16;
        }
        assert_eq!(found[&AT_PAGESZ], 4096);
        assert_eq!(found[&AT_ENTRY], 0x401000);
        assert_eq!(cstr(&img, top, found[&AT_EXECFN]), b"/bin/prog");
        assert_eq!(cstr(&img, top, found[&AT_PLATFORM]), b"x86_64");
        let r = found[&AT_RANDOM];
        let off = (r - img.sp) as usize;
        assert_eq!(&img.bytes[off..off + 16], &[7u8; 16]);
        // the top word stays zero
        assert_eq!(word(&img, top, top - 8), 0);
    }
}
