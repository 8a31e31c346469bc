//! The descriptor table: small integers to shared open file descriptions,
//! each with its own close-on-exec flag. New descriptors take the lowest
//! free number, as POSIX requires.

use super::file::FileRef;
use alloc::vec::Vec;
use linux_abi::Errno;

/// RLIMIT_NOFILE.
pub const MAX_FDS: usize = 1024;

#[derive(Clone)]
pub struct Slot {
    pub file: FileRef,
    pub cloexec: bool,
}

#[derive(Default)]
pub struct FdTable {
    slots: Vec<Option<Slot>>,
}

impl FdTable {
    pub fn get(&self, fd: i32) -> Result<FileRef, Errno> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(|s| s.as_ref())
            .map(|s| s.file.clone())
            .ok_or(Errno::EBADF)
    }

    pub fn slot_mut(&mut self, fd: i32) -> Result<&mut Slot, Errno> {
        usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i)).and_then(|s| s.as_mut()).ok_or(Errno::EBADF)
    }

    /// Installs at the lowest free number >= `min`.
    pub fn insert_from(&mut self, min: usize, file: FileRef, cloexec: bool) -> Result<i32, Errno> {
        let idx = (min..MAX_FDS).find(|&i| self.slots.get(i).is_none_or(|s| s.is_none())).ok_or(Errno::EMFILE)?;
        if idx >= self.slots.len() {
            self.slots.resize(idx + 1, None);
        }
        self.slots[idx] = Some(Slot { file, cloexec });
        Ok(idx as i32)
    }

    pub fn insert(&mut self, file: FileRef, cloexec: bool) -> Result<i32, Errno> {
        self.insert_from(0, file, cloexec)
    }

    /// Installs at exactly `fd`, closing what was there (dup2).
    pub fn insert_at(&mut self, fd: i32, file: FileRef, cloexec: bool) -> Result<(), Errno> {
        let idx = usize::try_from(fd).ok().filter(|&i| i < MAX_FDS).ok_or(Errno::EBADF)?;
        if idx >= self.slots.len() {
            self.slots.resize(idx + 1, None);
        }
        self.slots[idx] = Some(Slot { file, cloexec });
        Ok(())
    }

    pub fn close(&mut self, fd: i32) -> Result<(), Errno> {
        let idx = usize::try_from(fd).map_err(|_| Errno::EBADF)?;
        match self.slots.get_mut(idx) {
            Some(s @ Some(_)) => {
                *s = None;
                Ok(())
            }
            _ => Err(Errno::EBADF),
        }
    }
}
