//! `struct linux_dirent64` records as getdents64 returns them: inode,
//! offset of the next entry, record length, type, NUL-terminated name,
//! padded to 8 bytes.

/// Bytes before the name: d_ino (8), d_off (8), d_reclen (2), d_type (1).
const HEADER: usize = 19;

/// The record length of an entry named `name`.
pub const fn reclen(name: &[u8]) -> usize {
    (HEADER + name.len() + 1).next_multiple_of(8)
}

/// Writes one record at the start of `out`; returns its length, or None
/// if `out` is too short (the caller stops there, as Linux does).
pub fn encode(out: &mut [u8], ino: u64, next_off: i64, dtype: u8, name: &[u8]) -> Option<usize> {
    let len = reclen(name);
    let rec = out.get_mut(..len)?;
    rec[0..8].copy_from_slice(&ino.to_le_bytes());
    rec[8..16].copy_from_slice(&next_off.to_le_bytes());
    rec[16..18].copy_from_slice(&(len as u16).to_le_bytes());
    rec[18] = dtype;
    rec[HEADER..HEADER + name.len()].copy_from_slice(name);
    rec[HEADER + name.len()..].fill(0);
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_layout_matches_linux_dirent64() {
        let mut buf = [0xaau8; 64];
        let n = encode(&mut buf, 0x1122, 7, 4, b"dir").unwrap();
        assert_eq!(n, 24, "19 + 3 + NUL rounds up to 24");
        assert_eq!(u64::from_le_bytes(buf[0..8].try_into().unwrap()), 0x1122);
        assert_eq!(i64::from_le_bytes(buf[8..16].try_into().unwrap()), 7);
        assert_eq!(u16::from_le_bytes(buf[16..18].try_into().unwrap()), 24);
        assert_eq!(buf[18], 4);
        assert_eq!(&buf[19..22], b"dir");
        assert!(buf[22..24].iter().all(|b| *b == 0), "NUL and padding are zero");
        assert_eq!(buf[24], 0xaa, "nothing written past the record");
    }

    #[test]
    fn lengths_are_aligned_and_hold_the_nul() {
        for len in 0..40 {
            let name = alloc_name(len);
            let r = reclen(&name[..len]);
            assert_eq!(r % 8, 0);
            assert!(r > HEADER + len, "room for the NUL");
            assert!(r <= HEADER + len + 8);
        }
    }

    #[test]
    fn too_short_a_buffer_writes_nothing() {
        let mut buf = [0xaau8; 23];
        assert_eq!(encode(&mut buf, 1, 1, 8, b"abc"), None);
        assert!(buf.iter().all(|b| *b == 0xaa));
    }

    fn alloc_name(len: usize) -> [u8; 40] {
        let mut n = [b'x'; 40];
        n[len..].fill(0);
        n
    }
}
