//! Typed errors for parsing and writing archives.

use core::fmt;

/// Why an archive could not be parsed, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseError {
    /// Byte offset of the header of the entry that failed.
    pub offset: usize,
    pub kind: ParseErrorKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParseErrorKind {
    /// The header does not start with `070701` or `070702`.
    BadMagic,
    /// A header field is not 8 hex digits; the field's name is given.
    BadHexField(&'static str),
    /// The archive ends inside a header, name or file data.
    Truncated,
    /// The name has no terminating NUL where `namesize` says it ends, or
    /// contains a NUL before that, or is empty.
    BadName,
    /// The name is not valid UTF-8.
    NameNotUtf8,
    /// A `070702` entry whose checksum does not match its data.
    BadChecksum { expected: u32, actual: u32 },
    /// The input ended without a `TRAILER!!!` entry.
    MissingTrailer,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cpio entry at byte {}: ", self.offset)?;
        match self.kind {
            ParseErrorKind::BadMagic => f.write_str("bad magic (not a newc archive)"),
            ParseErrorKind::BadHexField(name) => write!(f, "header field {name} is not 8 hex digits"),
            ParseErrorKind::Truncated => f.write_str("archive is truncated"),
            ParseErrorKind::BadName => f.write_str("malformed file name"),
            ParseErrorKind::NameNotUtf8 => f.write_str("file name is not UTF-8"),
            ParseErrorKind::BadChecksum { expected, actual } => {
                write!(f, "checksum mismatch (header {expected:#x}, data {actual:#x})")
            }
            ParseErrorKind::MissingTrailer => f.write_str("archive ends without TRAILER!!!"),
        }
    }
}

/// Why an entry could not be added to a [`crate::Writer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// newc stores sizes in 32 bits.
    TooLarge { name: alloc::string::String, size: usize },
    /// Names must be non-empty and free of NUL bytes.
    BadName { name: alloc::string::String },
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::TooLarge { name, size } => {
                write!(f, "{name}: {size} bytes is too large for a cpio newc entry (max 4 GiB - 1)")
            }
            WriteError::BadName { name } => write!(f, "{name:?}: not a valid cpio entry name"),
        }
    }
}

impl core::error::Error for ParseError {}
impl core::error::Error for WriteError {}
