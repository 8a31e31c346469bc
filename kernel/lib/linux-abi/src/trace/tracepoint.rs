//! Context layouts of Linux's syscall tracepoints, as a BPF program attached
//! there reads them (and as `/sys/kernel/tracing/events/.../format` shows
//! them). Every tracepoint record starts with the 8-byte common header
//! (`common_type` u16, `common_flags` u8, `common_preempt_count` u8,
//! `common_pid` i32).
//!
//! * `raw_syscalls/sys_enter`: `long id` at 8, `unsigned long args[6]` at 16 ([`RawSysEnter`]).
//! * `raw_syscalls/sys_exit`: `long id` at 8, `long ret` at 16 ([`RawSysExit`]).
//! * `syscalls/sys_enter_<event>`: `int __syscall_nr` at 8 (4 bytes, then 4
//!   bytes of padding), then each argument as an 8-byte field from offset 16,
//!   named as in Linux's `SYSCALL_DEFINE` ([`crate::decl::ArgDecl::kname`]).
//! * `syscalls/sys_exit_<event>`: `int __syscall_nr` at 8, `long ret` at 16.
//!
//! `<event>` is the `SYSCALL_DEFINE` name, which differs from the syscall's
//! name for a few calls (`fstat` is `newfstat`): [`event_name`].

use crate::decl::{ArgKind, SyscallDecl};
use crate::sysno::nr;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Size of the common header every tracepoint record starts with.
pub const COMMON_HEADER_LEN: usize = 8;

/// `raw_syscalls/sys_enter`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct RawSysEnter {
    pub common: [u8; COMMON_HEADER_LEN],
    pub id: i64,
    pub args: [u64; 6],
}

/// `raw_syscalls/sys_exit`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct RawSysExit {
    pub common: [u8; COMMON_HEADER_LEN],
    pub id: i64,
    pub ret: i64,
}

/// `syscalls/sys_enter_<event>`: only the first [`SyscallDecl::arity`]
/// entries of `args` are part of the tracepoint (its size is
/// [`sys_enter_size`]); a context for a shorter call is a prefix of this.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct SysEnter {
    pub common: [u8; COMMON_HEADER_LEN],
    pub syscall_nr: i32,
    pub _pad: u32,
    pub args: [u64; 6],
}

/// `syscalls/sys_exit_<event>`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, IntoBytes, FromBytes, Immutable, KnownLayout)]
#[repr(C)]
pub struct SysExit {
    pub common: [u8; COMMON_HEADER_LEN],
    pub syscall_nr: i32,
    pub _pad: u32,
    pub ret: i64,
}

pub const RAW_ENTER_ID: usize = 8;
pub const RAW_ENTER_ARGS: usize = 16;
pub const RAW_EXIT_ID: usize = 8;
pub const RAW_EXIT_RET: usize = 16;
pub const SYSCALL_NR_OFFSET: usize = 8;
pub const SYS_EXIT_RET: usize = 16;

/// Offset of argument `i` in `syscalls/sys_enter_<event>`.
pub const fn sys_enter_arg_offset(i: usize) -> usize {
    16 + 8 * i
}

/// Size of the `syscalls/sys_enter_<event>` record of `d`.
pub const fn sys_enter_size(d: &SyscallDecl) -> usize {
    sys_enter_arg_offset(d.arity())
}

pub const SYS_EXIT_SIZE: usize = 24;

/// The tracepoint event name of `d` without the `sys_enter_`/`sys_exit_`
/// prefix: the `SYSCALL_DEFINE` name.
pub fn event_name(d: &SyscallDecl) -> &'static str {
    match d.nr {
        nr::STAT => "newstat",
        nr::FSTAT => "newfstat",
        nr::LSTAT => "newlstat",
        nr::UNAME => "newuname",
        nr::SENDFILE => "sendfile64",
        _ => d.name,
    }
}

/// One field of a tracepoint format: name, offset, size, signedness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub name: &'static str,
    pub offset: usize,
    pub size: usize,
    pub signed: bool,
}

/// Whether Linux declares an argument of this kind with a signed C type (it
/// decides `signed:` in the format file).
pub const fn kind_is_signed(k: ArgKind) -> bool {
    matches!(k, ArgKind::DirFd | ArgKind::Int | ArgKind::Offset | ArgKind::Pid | ArgKind::Signal | ArgKind::Enum(_))
}

/// The fields after the common header of `syscalls/sys_enter_<event>` of
/// `d`: `__syscall_nr`, then one per argument. Fixed-size, no allocation.
pub fn sys_enter_fields(d: &SyscallDecl) -> impl Iterator<Item = Field> + '_ {
    let nr = Field { name: "__syscall_nr", offset: SYSCALL_NR_OFFSET, size: 4, signed: true };
    core::iter::once(nr).chain(d.args.iter().enumerate().map(|(i, a)| Field { name: a.kname, offset: sys_enter_arg_offset(i), size: 8, signed: kind_is_signed(a.kind) }))
}

/// The fields after the common header of `syscalls/sys_exit_<event>`.
pub const SYS_EXIT_FIELDS: [Field; 2] =
    [Field { name: "__syscall_nr", offset: SYSCALL_NR_OFFSET, size: 4, signed: true }, Field { name: "ret", offset: SYS_EXIT_RET, size: 8, signed: true }];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decl;
    use core::mem::{offset_of, size_of};

    #[test]
    fn layouts() {
        assert_eq!(offset_of!(RawSysEnter, id), RAW_ENTER_ID);
        assert_eq!(offset_of!(RawSysEnter, args), RAW_ENTER_ARGS);
        assert_eq!(size_of::<RawSysEnter>(), 64);
        assert_eq!(offset_of!(RawSysExit, ret), RAW_EXIT_RET);
        assert_eq!(size_of::<RawSysExit>(), 24);
        assert_eq!(offset_of!(SysEnter, syscall_nr), SYSCALL_NR_OFFSET);
        assert_eq!(offset_of!(SysEnter, args), sys_enter_arg_offset(0));
        assert_eq!(offset_of!(SysExit, ret), SYS_EXIT_RET);
        assert_eq!(size_of::<SysExit>(), SYS_EXIT_SIZE);
    }

    #[test]
    fn openat_format_like_linux() {
        // /sys/kernel/tracing/events/syscalls/sys_enter_openat/format:
        //   field:int __syscall_nr; offset:8;  size:4; signed:1;
        //   field:int dfd;          offset:16; size:8; signed:0;
        //   field:const char * filename; offset:24; size:8; signed:0;
        //   field:int flags;        offset:32; size:8; signed:0;
        //   field:umode_t mode;     offset:40; size:8; signed:0;
        let f: Vec<(&str, usize)> = sys_enter_fields(&decl::OPENAT).map(|f| (f.name, f.offset)).collect();
        assert_eq!(f, [("__syscall_nr", 8), ("dfd", 16), ("filename", 24), ("flags", 32), ("mode", 40)]);
        assert_eq!(sys_enter_size(&decl::OPENAT), 48);
        assert_eq!(event_name(&decl::FSTAT), "newfstat");
        assert_eq!(event_name(&decl::READ), "read");
        let m: Vec<&str> = sys_enter_fields(&decl::MMAP).map(|f| f.name).collect();
        assert_eq!(m, ["__syscall_nr", "addr", "len", "prot", "flags", "fd", "off"]);
        let r: Vec<&str> = sys_enter_fields(&decl::READ).map(|f| f.name).collect();
        assert_eq!(r, ["__syscall_nr", "fd", "buf", "count"]);
    }

    #[test]
    fn kernel_names_are_unique_per_call() {
        for d in decl::DECLS {
            let mut n: Vec<&str> = d.args.iter().map(|a| a.kname).collect();
            n.sort_unstable();
            n.dedup();
            assert_eq!(n.len(), d.arity(), "{}: duplicate SYSCALL_DEFINE name", d.name);
            assert!(d.args.iter().all(|a| a.kname != "__syscall_nr" && !a.kname.is_empty()));
        }
    }
}
