//! Process and system information syscalls: exit, ids, limits, arch_prctl,
//! uname, sysinfo, getrandom and the thread-setup calls libc makes at start.

use super::{fail, Args, Context, SysResult};
use crate::process;
use linux_abi::flags::*;
use linux_abi::structs::{Rlimit, Sysinfo, Utsname, RLIM_INFINITY};
use linux_abi::Errno;

pub fn exit(ctx: &Context, a: &mut Args) -> SysResult {
    process::exit(ctx.process(), a.i32(0) as u8)
}

pub fn getpid(ctx: &Context, _: &mut Args) -> SysResult {
    Ok(ctx.process().pid as usize)
}

pub fn gettid(ctx: &Context, _: &mut Args) -> SysResult {
    Ok(ctx.thread().tid as usize)
}

pub fn getppid(ctx: &Context, _: &mut Args) -> SysResult {
    Ok(ctx.process().ppid as usize)
}

/// The app runs as root (uid/gid 0).
pub fn zero_id(_ctx: &Context, _: &mut Args) -> SysResult {
    Ok(0)
}

/// Root may set any id; we stay root, which only matters to programs that
/// drop privileges and then check (noted as a limitation).
pub fn set_id(_ctx: &Context, _: &mut Args) -> SysResult {
    Ok(0)
}

pub fn getresid(ctx: &Context, a: &mut Args) -> SysResult {
    for i in 0..3 {
        ctx.user().write_val(a.u64(i), &0u32)?;
    }
    Ok(0)
}

/// No supplementary groups.
pub fn getgroups(_ctx: &Context, _: &mut Args) -> SysResult {
    Ok(0)
}

pub fn set_tid_address(ctx: &Context, a: &mut Args) -> SysResult {
    ctx.thread().state.lock().clear_child_tid = a.u64(0);
    Ok(ctx.thread().tid as usize)
}

/// Recorded nowhere: robust futexes matter only when a thread dies holding
/// a lock, and there is a single thread whose death ends the VM.
pub fn set_robust_list(_ctx: &Context, a: &mut Args) -> SysResult {
    if a.usize(1) != 24 {
        fail!(EINVAL);
    }
    Ok(0)
}

fn limit(resource: u32) -> Result<Rlimit, Errno> {
    match resource {
        RLIMIT_STACK => Ok(Rlimit { cur: 8 << 20, max: RLIM_INFINITY }),
        RLIMIT_NOFILE => Ok(Rlimit { cur: crate::fs::fdtable::MAX_FDS as u64, max: crate::fs::fdtable::MAX_FDS as u64 }),
        0..=15 => Ok(Rlimit { cur: RLIM_INFINITY, max: RLIM_INFINITY }),
        _ => Err(Errno::EINVAL),
    }
}

pub fn prlimit64(ctx: &Context, a: &mut Args) -> SysResult {
    let (pid, res, new, old) = (a.i32(0), a.u32(1), a.u64(2), a.u64(3));
    if pid != 0 && pid != ctx.process().pid as i32 {
        fail!(ESRCH);
    }
    let cur = limit(res)?;
    if old != 0 {
        ctx.user().write_val(old, &cur)?;
    }
    if new != 0 {
        let _: Rlimit = ctx.user().read_val(new)?;
        // Limits are not enforced beyond the fixed ones; accepting the new
        // value is what Linux does for root within the hard limit.
    }
    Ok(0)
}

pub fn getrlimit(ctx: &Context, a: &mut Args) -> SysResult {
    let cur = limit(a.u32(0))?;
    ctx.user().write_val(a.u64(1), &cur)?;
    Ok(0)
}

pub fn setrlimit(ctx: &Context, a: &mut Args) -> SysResult {
    limit(a.u32(0))?;
    let _: Rlimit = ctx.user().read_val(a.u64(1))?;
    Ok(0)
}

/// FS and GS bases are the thread's: saved in it, loaded by the scheduler.
pub fn arch_prctl(ctx: &Context, a: &mut Args) -> SysResult {
    let (code, addr) = (a.u32(0), a.u64(1));
    let t = ctx.thread();
    match code {
        ARCH_SET_FS if t.set_fs_base(addr) => {}
        // The app's GS base waits in KERNEL_GS_BASE while the kernel runs.
        ARCH_SET_GS if t.set_gs_base(addr) => {}
        ARCH_SET_FS | ARCH_SET_GS => fail!(EPERM, "the base is outside the user half"),
        ARCH_GET_FS | ARCH_GET_GS => {
            let v = if code == ARCH_GET_FS { t.fs_base() } else { t.gs_base() };
            ctx.user().write_val(addr, &v)?;
        }
        _ => fail!(EINVAL, "unknown arch_prctl code"),
    }
    Ok(0)
}

/// One thread: there is nobody to yield to.
pub fn sched_yield(_ctx: &Context, _: &mut Args) -> SysResult {
    Ok(0)
}

pub fn sched_getaffinity(ctx: &Context, a: &mut Args) -> SysResult {
    let (len, mask) = (a.usize(1), a.u64(2));
    if len < 8 {
        fail!(EINVAL);
    }
    ctx.user().write_val(mask, &1u64)?;
    Ok(8)
}

fn field(s: &str) -> [u8; 65] {
    let mut f = [0u8; 65];
    let n = s.len().min(64);
    f[..n].copy_from_slice(&s.as_bytes()[..n]);
    f
}

pub fn uname(ctx: &Context, a: &mut Args) -> SysResult {
    let u = Utsname {
        sysname: field("Linux"),
        nodename: field("ushell"),
        // Programs compare kernel versions; claim a modern one.
        release: field("6.1.0-ushell"),
        version: field("#1 SMP ushell unikernel"),
        machine: field("x86_64"),
        domainname: field("(none)"),
    };
    ctx.user().write_val(a.u64(0), &u)?;
    Ok(0)
}

pub fn sysinfo(ctx: &Context, a: &mut Args) -> SysResult {
    let (total, used) = crate::arch::mem::stats();
    let s = Sysinfo {
        uptime: (crate::time::monotonic_ns() / 1_000_000_000) as i64,
        totalram: total,
        freeram: total - used,
        procs: 1,
        mem_unit: 1,
        ..Default::default()
    };
    ctx.user().write_val(a.u64(0), &s)?;
    Ok(0)
}

pub fn getrandom(ctx: &Context, a: &mut Args) -> SysResult {
    let (buf, len, flags) = (a.u64(0), a.usize(1), a.u32(2));
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0 {
        fail!(EINVAL);
    }
    // Linux's cap per call; filled a page at a time, so an app-sized
    // buffer is never allocated, and a bad pointer is EFAULT at once (or a
    // short count after some bytes, as Linux).
    let len = len.min(33_554_431);
    let mut chunk = [0u8; 4096];
    let mut done = 0;
    while done < len {
        let n = chunk.len().min(len - done);
        crate::random::fill(&mut chunk[..n]);
        if let Err(e) = ctx.user().copy_to_user(buf.wrapping_add(done as u64), &chunk[..n]) {
            if done == 0 {
                return Err(e.into());
            }
            break;
        }
        done += n;
    }
    Ok(done)
}

pub fn prctl(ctx: &Context, a: &mut Args) -> SysResult {
    match a.u32(0) {
        PR_SET_NAME => {
            let name = ctx.user().read_bytes(a.u64(1), 16)?;
            let end = name.iter().position(|b| *b == 0).unwrap_or(15).min(15);
            let s = alloc::string::String::from_utf8_lossy(&name[..end]).into_owned();
            ctx.process().exe.lock().comm = s;
            Ok(0)
        }
        PR_GET_NAME => {
            let mut out = [0u8; 16];
            {
                let exe = ctx.process().exe.lock();
                let n = exe.comm.len().min(15);
                out[..n].copy_from_slice(&exe.comm.as_bytes()[..n]);
            }
            ctx.user().copy_to_user(a.u64(1), &out)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL.into()),
    }
}

/// Restartable sequences are optional: glibc and others check for ENOSYS
/// and fall back, so this answers quietly instead of logging as unknown.
pub fn rseq(_ctx: &Context, _: &mut Args) -> SysResult {
    Err(Errno::ENOSYS.into())
}
