//! What the syscall tracer (`ushell trace`) shares between the kernel, which
//! captures events, and the host, which decodes them: all derived from the one
//! declaration per syscall in [`crate::decl`], never from a second table.
//!
//! * [`capture`]: the capture plan, which argument memory the kernel copies at
//!   syscall entry and exit so that the call can be printed the way strace
//!   prints it (a path string at entry, `ret` bytes of a read buffer at exit,
//!   a `struct stat` at exit, iovec arrays and their buffers, ...).
//! * [`record`]: the binary event record one syscall becomes (number, six
//!   arguments, return value, entry and exit times, the captured blobs), a
//!   writer over a caller-supplied buffer (no allocation) and a reader.
//! * [`tracepoint`]: the context layouts of Linux's `raw_syscalls/sys_enter`,
//!   `raw_syscalls/sys_exit` and per-syscall `syscalls/sys_enter_<name>` /
//!   `sys_exit_<name>` tracepoints, for BPF programs attached there.

pub mod capture;
pub mod record;
pub mod tracepoint;
