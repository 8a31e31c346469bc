//! In-memory newc writer.

use alloc::string::ToString;
use alloc::vec::Vec;

use crate::error::WriteError;
use crate::header::{FileKind, Header, HEADER_LEN, TRAILER};

/// Ownership, permissions and time of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Permission bits only; the writer adds the file type.
    pub perm: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: u32,
}

impl Default for Meta {
    fn default() -> Self {
        Meta { perm: 0o644, uid: 0, gid: 0, mtime: 0 }
    }
}

/// Builds a newc archive. Inode numbers are assigned in order from 1; every
/// entry has its own inode (no hard links).
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
    next_ino: u32,
}

impl Writer {
    pub fn new() -> Self {
        Writer { out: Vec::new(), next_ino: 1 }
    }

    /// Adds a regular file.
    pub fn file(&mut self, name: &str, meta: &Meta, data: &[u8]) -> Result<(), WriteError> {
        self.entry(name, FileKind::File, meta, 1, data)
    }

    /// Adds a directory (its contents are separate entries).
    pub fn dir(&mut self, name: &str, meta: &Meta) -> Result<(), WriteError> {
        self.entry(name, FileKind::Dir, meta, 2, &[])
    }

    /// Adds a symbolic link pointing to `target`.
    pub fn symlink(&mut self, name: &str, meta: &Meta, target: &str) -> Result<(), WriteError> {
        self.entry(name, FileKind::Symlink, meta, 1, target.as_bytes())
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        // Cannot fail: the trailer name is valid and has no data.
        let h = header(0, 0, 1, &Meta { perm: 0, ..Meta::default() }, TRAILER.len() as u32 + 1, 0);
        self.push(&h, TRAILER, &[]);
        self.out
    }

    fn entry(
        &mut self,
        name: &str,
        kind: FileKind,
        meta: &Meta,
        nlink: u32,
        data: &[u8],
    ) -> Result<(), WriteError> {
        if name.is_empty() || name.contains('\0') || name == TRAILER {
            return Err(WriteError::BadName { name: name.to_string() });
        }
        let size = u32::try_from(data.len())
            .map_err(|_| WriteError::TooLarge { name: name.to_string(), size: data.len() })?;
        let namesize = u32::try_from(name.len() + 1)
            .map_err(|_| WriteError::BadName { name: name.to_string() })?;
        let ino = self.next_ino;
        self.next_ino = self.next_ino.wrapping_add(1);
        let mode = kind.type_bits() | (meta.perm & 0o7777);
        let h = header(ino, mode, nlink, meta, namesize, size);
        self.push(&h, name, data);
        Ok(())
    }

    fn push(&mut self, h: &Header, name: &str, data: &[u8]) {
        self.out.extend_from_slice(&h.encode());
        self.out.extend_from_slice(name.as_bytes());
        self.out.push(0);
        pad4(&mut self.out);
        self.out.extend_from_slice(data);
        pad4(&mut self.out);
    }
}

fn header(ino: u32, mode: u32, nlink: u32, meta: &Meta, namesize: u32, size: u32) -> Header {
    Header {
        ino,
        mode,
        uid: meta.uid,
        gid: meta.gid,
        nlink,
        mtime: meta.mtime,
        filesize: size,
        namesize,
        ..Header::default()
    }
}

fn pad4(out: &mut Vec<u8>) {
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

const _: () = assert!(HEADER_LEN == 110);
