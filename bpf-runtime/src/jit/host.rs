//! Executable memory on a Unix host: an anonymous mapping
//! written while read-write, then switched to read+execute, never both.
#![allow(unsafe_code)]

use super::{ExecMemory, JitCode, JitError, JitProgram};

/// A private anonymous mapping holding JIT code.
pub struct Mmap {
    ptr: *mut u8,
    len: usize,
}

// SAFETY: the mapping is immutable once built; any thread may execute it.
unsafe impl Send for Mmap {}
// SAFETY: as above.
unsafe impl Sync for Mmap {}

impl Mmap {
    /// Maps `code` read+execute.
    pub fn with_code(code: &[u8]) -> Result<Mmap, JitError> {
        let len = code.len().max(1);
        // SAFETY: a fresh anonymous mapping; no existing memory is touched.
        let ptr = unsafe { libc::mmap(core::ptr::null_mut(), len, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0) };
        if ptr == libc::MAP_FAILED {
            return Err(JitError::Exec("mmap failed"));
        }
        let m = Mmap { ptr: ptr.cast(), len: code.len() };
        // SAFETY: `ptr` is `len >= code.len()` writable bytes just mapped.
        unsafe { core::ptr::copy_nonoverlapping(code.as_ptr(), m.ptr, code.len()) };
        // SAFETY: changes only the protection of our own mapping.
        if unsafe { libc::mprotect(ptr, len, libc::PROT_READ | libc::PROT_EXEC) } != 0 {
            return Err(JitError::Exec("mprotect to read+execute failed"));
        }
        Ok(m)
    }
}

impl Drop for Mmap {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly what `with_code` mapped; nothing refers to
        // it any more (a `JitProgram` owns its `Mmap`).
        unsafe { libc::munmap(self.ptr.cast(), self.len.max(1)) };
    }
}

// SAFETY: `with_code` maps the bytes read+execute (never writable again)
// and the mapping lives until drop.
unsafe impl ExecMemory for Mmap {
    fn as_ptr(&self) -> *const u8 {
        self.ptr
    }
    fn len(&self) -> usize {
        self.len
    }
}

/// Compiled code, installed on the host.
pub fn install(code: &JitCode) -> Result<JitProgram, JitError> {
    JitProgram::new(code, alloc::boxed::Box::new(Mmap::with_code(code.bytes())?))
}
