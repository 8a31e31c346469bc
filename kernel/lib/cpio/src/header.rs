//! The fixed 110-byte newc header and the file kinds its mode encodes.

use crate::error::ParseErrorKind;

pub const HEADER_LEN: usize = 110;
/// Magic of plain newc entries.
pub const MAGIC_NEWC: &[u8; 6] = b"070701";
/// Magic of newc entries with a checksum (`cpio -H crc`).
pub const MAGIC_CRC: &[u8; 6] = b"070702";
/// Name of the entry that ends an archive.
pub const TRAILER: &str = "TRAILER!!!";

const S_IFMT: u32 = 0o170000;

/// The type bits of an entry's mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    File,
    Dir,
    Symlink,
    CharDev,
    BlockDev,
    Fifo,
    Socket,
    /// Type bits no Linux file type uses.
    Unknown,
}

impl FileKind {
    pub fn from_mode(mode: u32) -> FileKind {
        match mode & S_IFMT {
            0o100000 => FileKind::File,
            0o040000 => FileKind::Dir,
            0o120000 => FileKind::Symlink,
            0o020000 => FileKind::CharDev,
            0o060000 => FileKind::BlockDev,
            0o010000 => FileKind::Fifo,
            0o140000 => FileKind::Socket,
            _ => FileKind::Unknown,
        }
    }

    /// The `S_IF*` bits for this kind (0 for [`FileKind::Unknown`]).
    pub fn type_bits(self) -> u32 {
        match self {
            FileKind::File => 0o100000,
            FileKind::Dir => 0o040000,
            FileKind::Symlink => 0o120000,
            FileKind::CharDev => 0o020000,
            FileKind::BlockDev => 0o060000,
            FileKind::Fifo => 0o010000,
            FileKind::Socket => 0o140000,
            FileKind::Unknown => 0,
        }
    }
}

/// The decoded numeric fields of a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    pub ino: u32,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub nlink: u32,
    pub mtime: u32,
    pub filesize: u32,
    pub devmajor: u32,
    pub devminor: u32,
    pub rdevmajor: u32,
    pub rdevminor: u32,
    pub namesize: u32,
    pub check: u32,
    /// True for `070702` (checksummed) entries.
    pub has_crc: bool,
}

const FIELDS: [&str; 13] = [
    "ino", "mode", "uid", "gid", "nlink", "mtime", "filesize", "devmajor", "devminor", "rdevmajor",
    "rdevminor", "namesize", "check",
];

impl Header {
    /// Decodes a header from exactly [`HEADER_LEN`] bytes.
    pub fn decode(raw: &[u8; HEADER_LEN]) -> Result<Header, ParseErrorKind> {
        let has_crc = match &raw[..6] {
            m if m == MAGIC_NEWC => false,
            m if m == MAGIC_CRC => true,
            _ => return Err(ParseErrorKind::BadMagic),
        };
        let mut v = [0u32; 13];
        for (i, (slot, name)) in v.iter_mut().zip(FIELDS).enumerate() {
            let start = 6 + i * 8;
            *slot = hex8(&raw[start..start + 8]).ok_or(ParseErrorKind::BadHexField(name))?;
        }
        Ok(Header {
            ino: v[0],
            mode: v[1],
            uid: v[2],
            gid: v[3],
            nlink: v[4],
            mtime: v[5],
            filesize: v[6],
            devmajor: v[7],
            devminor: v[8],
            rdevmajor: v[9],
            rdevminor: v[10],
            namesize: v[11],
            check: v[12],
            has_crc,
        })
    }

    /// Encodes the header as newc (or crc, if `has_crc`) ASCII.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..6].copy_from_slice(if self.has_crc { MAGIC_CRC } else { MAGIC_NEWC });
        let v = [
            self.ino, self.mode, self.uid, self.gid, self.nlink, self.mtime, self.filesize,
            self.devmajor, self.devminor, self.rdevmajor, self.rdevminor, self.namesize, self.check,
        ];
        for (i, val) in v.iter().enumerate() {
            put_hex8(&mut out[6 + i * 8..14 + i * 8], *val);
        }
        out
    }
}

fn hex8(s: &[u8]) -> Option<u32> {
    s.iter().try_fold(0u32, |acc, &c| {
        let d = (c as char).to_digit(16)?;
        Some((acc << 4) | d)
    })
}

fn put_hex8(out: &mut [u8], v: u32) {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = DIGITS[((v >> (28 - 4 * i)) & 0xf) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_roundtrip() {
        let h = Header {
            ino: 1,
            mode: 0o100755,
            uid: 1000,
            gid: 0xdeadbeef,
            nlink: 1,
            mtime: 0x6543_2100,
            filesize: 12345,
            namesize: 9,
            check: 7,
            has_crc: true,
            ..Header::default()
        };
        assert_eq!(Header::decode(&h.encode()), Ok(h));
    }

    #[test]
    fn hex_accepts_both_cases_rejects_other() {
        assert_eq!(hex8(b"0000abCD"), Some(0xabcd));
        assert_eq!(hex8(b"0000abCg"), None);
        assert_eq!(hex8(b"+0000001"), None);
    }

    #[test]
    fn bad_magic_and_field() {
        let mut raw = Header::default().encode();
        raw[5] = b'9';
        assert_eq!(Header::decode(&raw), Err(ParseErrorKind::BadMagic));
        let mut raw = Header::default().encode();
        raw[6 + 6 * 8] = b'x';
        assert_eq!(Header::decode(&raw), Err(ParseErrorKind::BadHexField("filesize")));
    }

    #[test]
    fn kinds() {
        for k in [FileKind::File, FileKind::Dir, FileKind::Symlink, FileKind::CharDev,
                  FileKind::BlockDev, FileKind::Fifo, FileKind::Socket] {
            assert_eq!(FileKind::from_mode(k.type_bits() | 0o644), k);
        }
        assert_eq!(FileKind::from_mode(0o644), FileKind::Unknown);
    }
}
