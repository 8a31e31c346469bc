//! The x86-64 JIT: a prepared program ([`crate::interp::Prepared`]) becomes
//! machine code with the interpreter's semantics, including its run-time
//! checks, so it is safe to run even on a program the verifier never saw.
//!
//! The runtime stays `no_std`: [`compile`] returns position-independent
//! bytes; the embedder puts them into executable memory (the kernel: pages
//! mapped executable and never writable at the same time; the host:
//! [`host::Mmap`]) and hands them back as an [`ExecMemory`], from which
//! [`JitProgram::new`] makes something [`crate::interp::Vm::run_jit`] runs.
//!
//! Constant blinding ([`JitOptions::blinding`], on by default) keeps the
//! program's immediates out of the code, as Linux's `bpf_jit_harden` does:
//! each appears as `imm ^ key` and `key` with a fresh key, so an untrusted
//! object cannot plant chosen instruction bytes in executable memory.

mod emit;
#[cfg(unix)]
pub mod host;
mod lookup;
mod rt;
mod scan;
pub mod x86;

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::interp::{ExecError, Helpers, Input, Mem, Prepared, Vm};
use crate::maps::MapSet;

/// Which engine runs a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Engine {
    /// The JIT (where the program was compiled).
    #[default]
    Jit,
    /// The interpreter: the reference, and the fallback.
    Interp,
}

/// Compilation options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JitOptions {
    /// Constant blinding of immediates. On by default: objects are
    /// untrusted unless the embedder says otherwise.
    pub blinding: bool,
    /// Seed of the blinding keys; give each compilation a random one (the
    /// kernel: RDRAND or the TSC).
    pub seed: u64,
}

impl Default for JitOptions {
    fn default() -> Self {
        JitOptions { blinding: true, seed: 0x9e37_79b9_7f4a_7c15 }
    }
}

impl JitOptions {
    /// No blinding, for objects the embedder trusts (and benchmarks).
    pub fn trusted() -> JitOptions {
        JitOptions { blinding: false, ..JitOptions::default() }
    }
}

/// Why a program could not be compiled or installed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JitError {
    #[error("program is empty")]
    Empty,
    #[error("instruction {pc}: register r{reg} does not exist")]
    BadRegister { pc: usize, reg: u8 },
    #[error("code buffer too small: need {need} bytes, have {have}")]
    BufferTooSmall { need: usize, have: usize },
    #[error("executable memory does not hold the compiled code")]
    Mismatch,
    #[error("executable memory: {0}")]
    Exec(&'static str),
    #[error("JIT internal error: {0}")]
    Internal(&'static str),
}

/// Compiled code, not yet executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JitCode {
    code: Vec<u8>,
    /// What a run of it must set up (`scan::need` bits).
    needs: u8,
}

impl JitCode {
    /// The machine code; the entry point is its first byte. It contains no
    /// absolute references to itself, so it may be copied anywhere.
    pub fn bytes(&self) -> &[u8] {
        &self.code
    }

    pub fn len(&self) -> usize {
        self.code.len()
    }

    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }
}

/// Compiles a prepared program.
pub fn compile(prog: &Prepared, opts: &JitOptions) -> Result<JitCode, JitError> {
    let (code, needs) = emit::compile(&prog.ops, &prog.callbacks, opts)?;
    Ok(JitCode { code, needs })
}

/// Compiles into a buffer the embedder supplies; returns the code's length.
pub fn compile_into(prog: &Prepared, opts: &JitOptions, buf: &mut [u8]) -> Result<usize, JitError> {
    let code = compile(prog, opts)?;
    let have = buf.len();
    let dst = buf.get_mut(..code.len()).ok_or(JitError::BufferTooSmall { need: code.len(), have })?;
    dst.copy_from_slice(code.bytes());
    Ok(code.len())
}

/// Executable memory holding a copy of a [`JitCode`], owned by the embedder.
///
/// # Safety
/// Implementors promise that `as_ptr()` points to `len()` bytes that are
/// mapped readable and executable for as long as the value lives, hold an
/// unmodified copy of one `JitCode`'s bytes, and are not writable through
/// any mapping while they are executable (W^X).
#[allow(unsafe_code)]
pub unsafe trait ExecMemory: Send + Sync {
    fn as_ptr(&self) -> *const u8;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A compiled program in executable memory, ready for [`Vm::run_jit`].
pub struct JitProgram {
    mem: Box<dyn ExecMemory>,
    /// `mem.as_ptr()`, kept to save a dynamic call per run.
    entry: *const u8,
    /// [`JitCode::needs`] of the code.
    needs: u8,
}

// SAFETY: `entry` points into `mem`, which is `Send + Sync` and immutable.
#[allow(unsafe_code)]
unsafe impl Send for JitProgram {}
// SAFETY: as above; running the code never writes it.
#[allow(unsafe_code)]
unsafe impl Sync for JitProgram {}

impl core::fmt::Debug for JitProgram {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "JitProgram({} bytes at {:p})", self.mem.len(), self.mem.as_ptr())
    }
}

impl JitProgram {
    /// Checks that `mem` holds exactly `code` and takes it.
    #[allow(unsafe_code)]
    pub fn new(code: &JitCode, mem: Box<dyn ExecMemory>) -> Result<JitProgram, JitError> {
        if mem.len() != code.len() || mem.as_ptr().is_null() {
            return Err(JitError::Mismatch);
        }
        // SAFETY: `ExecMemory` promises `len()` readable bytes at `as_ptr()`.
        let installed = unsafe { core::slice::from_raw_parts(mem.as_ptr(), mem.len()) };
        if installed != code.bytes() {
            return Err(JitError::Mismatch);
        }
        let entry = mem.as_ptr();
        Ok(JitProgram { mem, entry, needs: code.needs })
    }

    pub fn code_len(&self) -> usize {
        self.mem.len()
    }
}

impl Vm {
    /// Runs a compiled program, like [`Vm::run`] runs a prepared one: the
    /// same stack, budget, address space and errors.
    #[allow(unsafe_code)]
    #[inline]
    pub fn run_jit<H: Helpers>(&mut self, prog: &JitProgram, input: Input<'_>, maps: &MapSet, helpers: &mut H) -> Result<u64, ExecError> {
        let budget = self.step_limit;
        let (stack, reservations, keys, state) = self.parts_jit();
        if prog.needs & scan::need::MEM == 0 {
            // Neither memory nor helpers: nothing to lend the code, and
            // nothing to release after it.
            // SAFETY: as below; the code calls no shim (`scan::shape`).
            return unsafe { state.run_bare(prog.entry, prog.needs, &input, budget) };
        }
        let mut m = Mem { stack, input, maps, reservations, keys };
        // SAFETY: `JitProgram::new` checked that the executable memory holds
        // compiled code, and `prog` keeps it mapped during the call.
        let r0 = unsafe { state.run_mem(prog.entry, &mut m, helpers, budget) };
        state.outcome(r0, budget)
    }
}

pub(crate) use rt::{JitState, Region};
