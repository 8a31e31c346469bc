//! The run protocol: everything `ushell run` (host) and the kernel (guest) must
//! agree on to start an app and learn how it ended.
//!
//! * The app, its extra files and the run description travel in the initrd
//!   (cpio "newc"). The run description lives under [`RUN_DIR`], which the kernel
//!   reads and then hides from the app.
//! * The app's stdout goes to COM1, stdin comes from COM1 (framed, see
//!   [`stdin`]), stderr and kernel log lines go to COM2.
//! * The kernel reports how the run ended on the debugcon control port as one
//!   text line ([`CtlEvent`]), then powers off through `isa-debug-exit`.
#![cfg_attr(not(test), no_std)]

pub mod stdin;
mod ctl;

pub use ctl::CtlEvent;

/// COM1: app stdout (guest → host) and framed stdin (host → guest).
pub const STDIO_PORT: u16 = 0x3f8;
/// COM2: app stderr and kernel log lines (guest → host).
pub const STDERR_PORT: u16 = 0x2f8;
/// QEMU `isa-debugcon` I/O port carrying [`CtlEvent`] lines.
pub const CTL_PORT: u16 = 0xe9;
/// QEMU `isa-debug-exit` I/O port (iosize 4). QEMU exits with `(value << 1) | 1`.
pub const EXIT_PORT: u16 = 0xf4;

/// Directory in the initrd holding the run description.
pub const RUN_DIR: &str = ".ushell";
/// NUL-terminated argv strings; `argv[0]` is the guest path of the executable.
pub const ARGV_FILE: &str = ".ushell/argv";
/// NUL-terminated `KEY=VALUE` strings.
pub const ENVP_FILE: &str = ".ushell/envp";

/// `ushell run`'s own exit status when the kernel panicked, QEMU failed or
/// the run timed out (as `docker run` uses 125 for its own failures).
pub const HOST_FAILURE_STATUS: i32 = 125;

/// Encodes a list of strings as consecutive NUL-terminated strings.
#[cfg(test)]
fn encode_nul_list(items: &[&str]) -> std::vec::Vec<u8> {
    let mut out = std::vec::Vec::new();
    for s in items {
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }
    out
}

/// Iterates the NUL-terminated strings of an argv/envp file. A missing final
/// NUL still yields the last item.
pub fn nul_list(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let trimmed = bytes.strip_suffix(&[0]).unwrap_or(bytes);
    trimmed.split(|b| *b == 0).filter(move |_| !bytes.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_list_roundtrip() {
        let enc = encode_nul_list(&["/bin/busybox", "tr", "", "a-z"]);
        let items: Vec<&[u8]> = nul_list(&enc).collect();
        assert_eq!(items, vec![&b"/bin/busybox"[..], b"tr", b"", b"a-z"]);
        assert_eq!(nul_list(b"").count(), 0);
        assert_eq!(nul_list(b"a\0b").collect::<Vec<_>>(), vec![&b"a"[..], b"b"]);
    }
}
