//! The one trait the kernel implements for the shell: what a program run,
//! a symbol search and `ushell info` need to know about the kernel.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use bpf_runtime::jit::{ExecMemory, JitError};

use shellproto::{AppInfo, Space, Symbol, SymbolAt, SyscallCount};
use tracer::{PokeError, SiteTable, Text};

use crate::trace::Tracing;

/// The task a program runs on behalf of (for `bpf_get_current_pid_tgid`
/// and `bpf_get_current_comm`): for `exec`, the shell's own kernel task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    pub pid: u32,
    pub tgid: u32,
    /// NUL-padded, as Linux's `comm`.
    pub comm: [u8; 16],
}

/// What `ushell info` reports about the kernel; the shell adds its own
/// counts of programs and maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFacts {
    pub mem_total: u64,
    pub mem_free: u64,
    pub uptime_ns: u64,
    pub app: AppInfo,
    /// Syscalls made so far (any order; the shell sorts them).
    pub syscalls: Vec<SyscallCount>,
}

/// The kernel, as the shell sees it.
pub trait Kernel {
    /// Name and version for the hello and `info`, e.g. `ushell-kernel 0.1.0`.
    fn version(&self) -> &str;
    /// Monotonic nanoseconds: `bpf_ktime_get_ns`, and programs' run times.
    fn now_ns(&mut self) -> u64;
    /// `bpf_get_prandom_u32`.
    fn random_u32(&mut self) -> u32;
    /// The task programs run on behalf of.
    fn current_task(&self) -> Task;
    /// `bpf_get_smp_processor_id`.
    fn cpu_id(&self) -> u32 {
        0
    }
    /// Calls `f` with every symbol, the app's and the kernel's, until it
    /// returns false.
    fn for_each_symbol(&self, f: &mut dyn FnMut(&Symbol) -> bool);
    /// The symbol containing `addr`.
    fn symbol_at(&self, addr: u64) -> Option<SymbolAt>;
    /// Memory, uptime, the app and its syscall counts.
    fn facts(&mut self) -> KernelFacts;
    /// `bpf_probe_read_{kernel,user}`: copies `dst.len()` bytes from
    /// `addr`, or a negative errno; must never fault (see
    /// `bpf_runtime::helpers::Env::probe_read`). The default reads nothing.
    fn probe_read(&mut self, space: bpf_runtime::helpers::AddrSpace, addr: u64, dst: &mut [u8]) -> Result<(), i64> {
        let _ = (space, addr, dst);
        Err(bpf_runtime::helpers::EFAULT)
    }
    /// Executable memory holding a copy of `code`, for the JIT: pages
    /// never writable and executable at once (see
    /// `bpf_runtime::jit::ExecMemory`), freed when the value is dropped
    /// (the program unloaded). The default has none, so programs run on
    /// the interpreter.
    fn exec_memory(&mut self, code: &[u8]) -> Result<Box<dyn ExecMemory>, JitError> {
        let _ = code;
        Err(JitError::Exec("this kernel provides no executable memory"))
    }

    /// The function tracer's state, shared with the kernel's dispatch
    /// entries. `None` (the default): this kernel cannot trace.
    fn tracing(&self) -> Option<&'static Tracing> {
        None
    }
    /// The patch sites of the app (from its image, once per image) or of
    /// the kernel (from its symbols, once).
    fn site_table(&mut self, space: Space) -> Option<alloc::sync::Arc<SiteTable>> {
        let _ = space;
        None
    }
    /// Runs `f` with what patches the code of `space`: the text writer
    /// (through a kernel alias, never by making the code writable), the
    /// trampoline memory, and the instruction pointers of every stopped
    /// thread. Err: why the kernel cannot (the app has exited).
    fn with_text(&mut self, space: Space, f: &mut dyn FnMut(&mut Text<'_>)) -> Result<(), String> {
        let _ = (space, f);
        Err("this kernel cannot patch code".into())
    }
    /// Reads code of `space` at `addr` as the CPU would fetch it.
    fn read_text(&mut self, space: Space, addr: u64, buf: &mut [u8]) -> Result<(), PokeError> {
        let _ = (space, addr, buf);
        Err(PokeError::NotMapped(addr))
    }
    /// Installs (`true`) or removes the kernel's syscall hook, which calls
    /// [`Tracing::sys_enter`] / [`Tracing::sys_exit`] and writes the
    /// stream's records; the shell calls it whenever
    /// `SyscallTracing::wanted` may have changed.
    fn syscall_hook(&mut self, on: bool) {
        let _ = on;
    }
}
