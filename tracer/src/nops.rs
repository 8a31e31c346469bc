//! The byte forms of a patch site: the 5 bytes of no-ops compilers put at a
//! function's entry, and the `endbr64` that may precede them.
//!
//! What the compilers here emit (checked with gcc 12.2 and rustc nightly
//! 2026-10-28, LLVM):
//! - `gcc -pg -mfentry -mnop-mcount`: one `nopl 0x0(%rax,%rax,1)`,
//!   `0f 1f 44 00 00` (needs `-fno-pie`; gcc refuses `-mnop-mcount` with PIC);
//! - `gcc -fpatchable-function-entry=5`: five `nop`s, `90 90 90 90 90`;
//! - `rustc -Zpatchable-function-entry=5,0` and
//!   `#[patchable_function_entry(prefix_nops = 0, entry_nops = 5)]`: LLVM's
//!   `nopl 0x8(%rax,%rax,1)`, `0f 1f 44 00 08` (the displacement 8 marks it
//!   as LLVM's, as opposed to gcc's 0);
//! - with `-fcf-protection` gcc puts `endbr64` (`f3 0f 1e fa`) first and the
//!   nops after it, so the site is at entry + 4.
//!
//! Any other sequence of x86 no-ops that is exactly 5 bytes long is accepted
//! too, as `Mixed`.

/// `endbr64`, which precedes the nops under `-fcf-protection`.
pub const ENDBR64: [u8; 4] = [0xf3, 0x0f, 0x1e, 0xfa];

/// The nop gcc's `-mnop-mcount` writes (and Linux's ftrace restores).
pub const NOPL5: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x00];
/// LLVM's 5-byte nop for patchable function entries.
pub const NOPL5_LLVM: [u8; 5] = [0x0f, 0x1f, 0x44, 0x00, 0x08];
/// gcc's `-fpatchable-function-entry=5`.
pub const NOP1X5: [u8; 5] = [0x90; 5];

/// Which compiler form a site has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NopForm {
    /// `0f 1f 44 00 00`: gcc `-pg -mfentry -mnop-mcount`.
    Mcount,
    /// `0f 1f 44 00 08`: LLVM patchable function entry (Rust).
    Llvm,
    /// `90 90 90 90 90`: gcc `-fpatchable-function-entry=5`.
    Nop1x5,
    /// Another sequence of no-ops totalling 5 bytes.
    Mixed,
}

impl NopForm {
    /// Whether the 5 bytes are one instruction. When they are not, a thread
    /// can be stopped between two of them, and the site may be patched only
    /// when no thread's instruction pointer is inside it.
    pub fn single_instruction(self, bytes: &[u8; 5]) -> bool {
        match self {
            NopForm::Mcount | NopForm::Llvm => true,
            NopForm::Nop1x5 => false,
            NopForm::Mixed => nop_len(bytes) == Some(5),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            NopForm::Mcount => "5-byte nop (gcc -pg -mfentry -mnop-mcount)",
            NopForm::Llvm => "5-byte nop (LLVM patchable-function-entry)",
            NopForm::Nop1x5 => "five 1-byte nops (gcc -fpatchable-function-entry=5)",
            NopForm::Mixed => "5 bytes of nops",
        }
    }
}

/// Length of the no-op instruction at the start of `b`, if it is one of the
/// recommended multi-byte nop forms (Intel SDM, `NOP`) or `xchg ax, ax`.
fn nop_len(b: &[u8]) -> Option<usize> {
    match b {
        [0x90, ..] => Some(1),
        [0x66, 0x90, ..] => Some(2),
        [0x0f, 0x1f, 0x00, ..] => Some(3),
        [0x0f, 0x1f, 0x40, _, ..] => Some(4),
        [0x0f, 0x1f, 0x44, 0x00, _, ..] => Some(5),
        [0x66, 0x0f, 0x1f, 0x44, 0x00, _, ..] => Some(6),
        _ => None,
    }
}

/// The form of 5 bytes if they are a patch site.
pub fn classify(bytes: &[u8; 5]) -> Option<NopForm> {
    match *bytes {
        NOPL5 => return Some(NopForm::Mcount),
        NOPL5_LLVM => return Some(NopForm::Llvm),
        NOP1X5 => return Some(NopForm::Nop1x5),
        _ => {}
    }
    let mut at = 0;
    while at < 5 {
        at += nop_len(&bytes[at..])?;
    }
    (at == 5).then_some(NopForm::Mixed)
}

/// Where the site of a function whose first bytes are `entry` is, relative
/// to the entry (0, or 4 after `endbr64`), and its form.
pub fn find_at_entry(entry: &[u8]) -> Option<(u64, NopForm)> {
    let at = |off: usize| -> Option<(u64, NopForm)> {
        let five: &[u8; 5] = entry.get(off..off + 5)?.try_into().ok()?;
        classify(five).map(|f| (off as u64, f))
    };
    at(0).or_else(|| if entry.starts_with(&ENDBR64) { at(ENDBR64.len()) } else { None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiler_forms() {
        assert_eq!(classify(&NOPL5), Some(NopForm::Mcount));
        assert_eq!(classify(&NOPL5_LLVM), Some(NopForm::Llvm));
        assert_eq!(classify(&NOP1X5), Some(NopForm::Nop1x5));
        assert_eq!(classify(&[0x66, 0x90, 0x0f, 0x1f, 0x00]), Some(NopForm::Mixed));
        assert_eq!(classify(&[0x0f, 0x1f, 0x40, 0x00, 0x90]), Some(NopForm::Mixed));
        assert!(NopForm::Mcount.single_instruction(&NOPL5));
        assert!(!NopForm::Nop1x5.single_instruction(&NOP1X5));
        assert!(!NopForm::Mixed.single_instruction(&[0x66, 0x90, 0x0f, 0x1f, 0x00]));
    }

    #[test]
    fn non_sites() {
        // push rbp; mov rbp, rsp; sub ...: an ordinary prologue.
        assert_eq!(classify(&[0x55, 0x48, 0x89, 0xe5, 0x48]), None);
        // A call (an already patched site, or call __fentry__ without -mnop-mcount).
        assert_eq!(classify(&[0xe8, 0, 0, 0, 0]), None);
        // Four nops then a real instruction.
        assert_eq!(classify(&[0x90, 0x90, 0x90, 0x90, 0xc3]), None);
        // A 6-byte nop does not fit in 5.
        assert_eq!(classify(&[0x90, 0x66, 0x0f, 0x1f, 0x44]), None);
    }

    #[test]
    fn endbr64_first() {
        let mut f = ENDBR64.to_vec();
        f.extend_from_slice(&NOP1X5);
        f.push(0xc3);
        assert_eq!(find_at_entry(&f), Some((4, NopForm::Nop1x5)));
        assert_eq!(find_at_entry(&[0x0f, 0x1f, 0x44, 0x00, 0x00, 0xc3]), Some((0, NopForm::Mcount)));
        assert_eq!(find_at_entry(&[0xf3, 0x0f, 0x1e, 0xfa, 0x55, 0x48, 0x89, 0xe5, 0x90]), None);
        assert_eq!(find_at_entry(&[0x0f, 0x1f]), None);
    }
}
