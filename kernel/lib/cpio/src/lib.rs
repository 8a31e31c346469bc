//! cpio "newc" archives (the format Linux uses for initramfs).
//!
//! * [`Archive`] parses an archive in place: entries borrow their names and
//!   file bytes from the input, nothing is copied. It never panics; a
//!   truncated or corrupt archive yields a typed [`ParseError`].
//! * [`Writer`] builds an archive in memory (used by `ushell run` to pack the
//!   initrd).
//!
//! Layout of one entry: a 110-byte ASCII header (magic `070701`, or `070702`
//! with a checksum, then 13 eight-digit hex fields), the NUL-terminated name,
//! padding to a multiple of 4, the file data, padding to a multiple of 4. The
//! archive ends with an entry named `TRAILER!!!`.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod error;
mod header;
mod parse;
mod write;

pub use error::{ParseError, ParseErrorKind, WriteError};
pub use header::{FileKind, Header, HEADER_LEN, MAGIC_CRC, MAGIC_NEWC, TRAILER};
pub use parse::{Archive, Entries, Entry};
pub use write::{Meta, Writer};

/// Rounds `n` up to the next multiple of 4 (newc's alignment), or `None` on
/// overflow.
pub(crate) fn align4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}
