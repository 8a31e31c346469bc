//! Zero-copy parser: iterates the entries of an archive held in memory.
//!
//! Entries are returned in archive order, up to (not including) the
//! `TRAILER!!!` entry. Hard links are reported as the archive stores them
//! (newc puts the data on the last link only); `ushell run` never writes
//! hard links.

use crate::align4;
use crate::error::{ParseError, ParseErrorKind};
use crate::header::{FileKind, Header, HEADER_LEN, TRAILER};

/// An archive in memory.
#[derive(Debug, Clone, Copy)]
pub struct Archive<'a> {
    data: &'a [u8],
}

impl<'a> Archive<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Archive { data }
    }

    /// Iterates the entries; the iterator ends after the trailer or after the
    /// first error.
    pub fn entries(&self) -> Entries<'a> {
        Entries { data: self.data, pos: 0, done: false }
    }

    /// Checks the whole archive, returning the number of entries.
    pub fn validate(&self) -> Result<usize, ParseError> {
        self.entries().try_fold(0, |n, e| e.map(|_| n + 1))
    }
}

/// One member of an archive. `data` is the file content (the target for a
/// symlink).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    pub header: Header,
    /// The name as stored, e.g. `bin/busybox`, `./etc` or `.`.
    pub name: &'a str,
    pub data: &'a [u8],
    /// Byte offset of this entry's header in the archive.
    pub offset: usize,
}

impl<'a> Entry<'a> {
    pub fn kind(&self) -> FileKind {
        FileKind::from_mode(self.header.mode)
    }

    /// Permission bits (including setuid/setgid/sticky).
    pub fn perm(&self) -> u32 {
        self.header.mode & 0o7777
    }

    /// The name relative to the archive root, without leading `/` or `./`
    /// components and without a trailing `/`. The root itself (`.`) is `""`.
    pub fn path(&self) -> &'a str {
        let mut p = self.name;
        loop {
            if let Some(rest) = p.strip_prefix('/') {
                p = rest;
            } else if let Some(rest) = p.strip_prefix("./") {
                p = rest;
            } else if p == "." {
                p = "";
            } else {
                break;
            }
        }
        p.trim_end_matches('/')
    }

    /// The link target of a symlink entry.
    pub fn symlink_target(&self) -> Option<&'a [u8]> {
        (self.kind() == FileKind::Symlink).then_some(self.data)
    }
}

/// Iterator over the entries of an [`Archive`].
#[derive(Debug, Clone)]
pub struct Entries<'a> {
    data: &'a [u8],
    pos: usize,
    done: bool,
}

impl<'a> Entries<'a> {
    fn parse_one(&self) -> Result<(Option<Entry<'a>>, usize), ParseError> {
        let offset = self.pos;
        let err = |kind| ParseError { offset, kind };
        let rest = self.data.get(offset..).unwrap_or(&[]);
        if rest.is_empty() {
            return Err(err(ParseErrorKind::MissingTrailer));
        }
        let raw: &[u8; HEADER_LEN] = rest
            .get(..HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(err(ParseErrorKind::Truncated))?;
        let header = Header::decode(raw).map_err(err)?;

        let namesize = header.namesize as usize;
        let name_end = HEADER_LEN.checked_add(namesize).ok_or(err(ParseErrorKind::Truncated))?;
        let name_with_nul = rest.get(HEADER_LEN..name_end).ok_or(err(ParseErrorKind::Truncated))?;
        let name_bytes = match name_with_nul.split_last() {
            Some((0, name)) if !name.is_empty() && !name.contains(&0) => name,
            _ => return Err(err(ParseErrorKind::BadName)),
        };
        let name = core::str::from_utf8(name_bytes).map_err(|_| err(ParseErrorKind::NameNotUtf8))?;

        let data_start = align4(name_end).ok_or(err(ParseErrorKind::Truncated))?;
        let data_end = data_start
            .checked_add(header.filesize as usize)
            .ok_or(err(ParseErrorKind::Truncated))?;
        let data = rest.get(data_start..data_end).ok_or(err(ParseErrorKind::Truncated))?;
        // GNU cpio and the kernel's initramfs checksum regular files only
        // (a symlink's check field is 0).
        if header.has_crc && FileKind::from_mode(header.mode) == FileKind::File {
            let actual = data.iter().fold(0u32, |s, &b| s.wrapping_add(b as u32));
            if actual != header.check {
                return Err(err(ParseErrorKind::BadChecksum { expected: header.check, actual }));
            }
        }
        // The padding after the last entry's data may be missing (some
        // writers stop at the trailer name), so clamp instead of failing.
        let next = align4(data_end).map_or(rest.len(), |e| e.min(rest.len()));
        if name == TRAILER {
            return Ok((None, offset + next));
        }
        Ok((Some(Entry { header, name, data, offset }), offset + next))
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<Entry<'a>, ParseError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.parse_one() {
            Ok((Some(entry), next)) => {
                self.pos = next;
                Some(Ok(entry))
            }
            Ok((None, _)) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}
