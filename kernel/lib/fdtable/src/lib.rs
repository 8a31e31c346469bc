//! The descriptor table: small integers to shared open file descriptions,
//! each with its own close-on-exec flag. New descriptors take the lowest
//! free number, as POSIX requires. Generic over what a descriptor refers
//! to (the kernel's `FileRef`), so it is tested on the host.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
use linux_abi::Errno;

/// RLIMIT_NOFILE.
pub const MAX_FDS: usize = 1024;

#[derive(Clone)]
pub struct Slot<F> {
    pub file: F,
    pub cloexec: bool,
}

pub struct FdTable<F> {
    slots: Vec<Option<Slot<F>>>,
}

impl<F> Default for FdTable<F> {
    fn default() -> Self {
        FdTable { slots: Vec::new() }
    }
}

impl<F: Clone> FdTable<F> {
    /// The file behind `fd` (a shared reference to it).
    pub fn get(&self, fd: i32) -> Result<F, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.as_ref())
            .map(|s| s.file.clone())
            .ok_or(Errno::EBADF)
    }

    pub fn slot_mut(&mut self, fd: i32) -> Result<&mut Slot<F>, Errno> {
        usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i)).and_then(|s| s.as_mut()).ok_or(Errno::EBADF)
    }

    /// Installs at the lowest free number >= `min` (EMFILE when none is
    /// below MAX_FDS).
    pub fn insert_from(&mut self, min: usize, file: F, cloexec: bool) -> Result<i32, Errno> {
        let idx = (min..MAX_FDS).find(|&i| self.slots.get(i).is_none_or(|s| s.is_none())).ok_or(Errno::EMFILE)?;
        if idx >= self.slots.len() {
            self.slots.try_reserve(idx + 1 - self.slots.len()).map_err(|_| Errno::ENOMEM)?;
            self.slots.resize(idx + 1, None);
        }
        self.slots[idx] = Some(Slot { file, cloexec });
        Ok(idx as i32)
    }

    pub fn insert(&mut self, file: F, cloexec: bool) -> Result<i32, Errno> {
        self.insert_from(0, file, cloexec)
    }

    /// Installs at exactly `fd`, closing what was there (dup2).
    pub fn insert_at(&mut self, fd: i32, file: F, cloexec: bool) -> Result<(), Errno> {
        let idx = usize::try_from(fd).ok().filter(|&i| i < MAX_FDS).ok_or(Errno::EBADF)?;
        if idx >= self.slots.len() {
            self.slots.try_reserve(idx + 1 - self.slots.len()).map_err(|_| Errno::ENOMEM)?;
            self.slots.resize(idx + 1, None);
        }
        self.slots[idx] = Some(Slot { file, cloexec });
        Ok(())
    }

    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        self.take(fd).map(drop)
    }

    /// Removes `fd` and hands back its file, so the caller can drop it
    /// after releasing the table (closing may wake or free other objects).
    pub fn take(&mut self, fd: i32) -> Result<F, Errno> {
        let idx = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        self.slots.get_mut(idx).and_then(Option::take).map(|s| s.file).ok_or(Errno::EBADF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_number_first() {
        let mut t = FdTable::default();
        assert_eq!(t.insert("a", false), Ok(0));
        assert_eq!(t.insert("b", false), Ok(1));
        assert_eq!(t.insert("c", false), Ok(2));
        t.close(1).unwrap();
        assert_eq!(t.insert("d", false), Ok(1), "the hole is reused");
        assert_eq!(t.insert("e", false), Ok(3));
        assert_eq!(t.get(1), Ok("d"));
    }

    #[test]
    fn take_returns_the_file_and_frees_the_number() {
        let mut t = FdTable::default();
        t.insert("a", false).unwrap();
        assert_eq!(t.take(0), Ok("a"));
        assert_eq!(t.take(0), Err(Errno::EBADF), "taken once");
        assert_eq!(t.take(-1), Err(Errno::EBADF));
        assert_eq!(t.insert("b", false), Ok(0));
    }

    #[test]
    fn bad_descriptors_are_ebadf() {
        let mut t: FdTable<u8> = FdTable::default();
        assert_eq!(t.get(0), Err(Errno::EBADF));
        assert_eq!(t.get(-1), Err(Errno::EBADF));
        assert_eq!(t.close(5), Err(Errno::EBADF));
        assert_eq!(t.close(-3), Err(Errno::EBADF));
        t.insert(1, false).unwrap();
        t.close(0).unwrap();
        assert_eq!(t.close(0), Err(Errno::EBADF), "double close");
        assert!(t.slot_mut(0).is_err());
        assert_eq!(t.insert_at(MAX_FDS as i32, 1, false), Err(Errno::EBADF));
        assert_eq!(t.insert_at(-1, 1, false), Err(Errno::EBADF));
    }

    #[test]
    fn insert_from_and_at() {
        let mut t = FdTable::default();
        assert_eq!(t.insert_from(10, 'x', true), Ok(10), "F_DUPFD's minimum");
        assert!(t.slot_mut(10).unwrap().cloexec);
        assert_eq!(t.insert('y', false), Ok(0), "below the minimum still free");
        t.insert_at(10, 'z', false).unwrap();
        assert_eq!(t.get(10), Ok('z'), "dup2 replaces");
        assert!(!t.slot_mut(10).unwrap().cloexec, "with the new cloexec");
        t.insert_at(700, 'w', false).unwrap();
        assert_eq!(t.get(700), Ok('w'));
        assert_eq!(t.insert_from(700, 'v', false), Ok(701));
    }

    #[test]
    fn full_table_is_emfile() {
        let mut t = FdTable::default();
        for i in 0..MAX_FDS {
            assert_eq!(t.insert(i, false), Ok(i as i32));
        }
        assert_eq!(t.insert(0, false), Err(Errno::EMFILE));
        assert_eq!(t.insert_from(MAX_FDS + 5, 0, false), Err(Errno::EMFILE));
        t.close(512).unwrap();
        assert_eq!(t.insert(9, false), Ok(512));
    }

    /// Against a model: a map from number to value, lowest free first.
    #[test]
    fn matches_a_btreemap_model() {
        use std::collections::BTreeMap;
        let mut t = FdTable::default();
        let mut m: BTreeMap<i32, u32> = BTreeMap::new();
        let mut x = 0x9e37_79b9u64;
        for i in 0..5000u32 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let fd = (x % 64) as i32;
            match x % 3 {
                0 => {
                    let want = (0..).find(|k| !m.contains_key(k)).unwrap();
                    assert_eq!(t.insert(i, false), Ok(want));
                    m.insert(want, i);
                }
                1 => assert_eq!(t.close(fd).is_ok(), m.remove(&fd).is_some()),
                _ => {
                    t.insert_at(fd, i, false).unwrap();
                    m.insert(fd, i);
                }
            }
            for k in 0..64 {
                assert_eq!(t.get(k).ok(), m.get(&k).copied());
            }
        }
    }
}
