//! Signal syscalls. Dispositions and the mask are recorded with Linux's
//! checks; nothing sends asynchronous signals yet, and a signal the app
//! raises on itself takes the default action (handlers are not invoked yet,
//! noted in ARCHITECTURE.md).

use super::{fail, Args, Context, SysResult};
use crate::process;
use linux_abi::signal::*;
use linux_abi::Errno;


fn check_sig(sig: u32) -> Result<usize, Errno> {
    if sig == 0 || sig > NSIG {
        return Err(Errno::EINVAL);
    }
    Ok(sig as usize - 1)
}

pub fn rt_sigaction(ctx: &Context, a: &mut Args) -> SysResult {
    let (sig, act, old, size) = (a.u32(0), a.u64(1), a.u64(2), a.usize(3));
    if size != 8 {
        fail!(EINVAL);
    }
    let idx = check_sig(sig)?;
    let new: Option<KSigaction> = if act != 0 {
        if sig == SIGKILL || sig == SIGSTOP {
            fail!(EINVAL, "the action of SIGKILL and SIGSTOP cannot change");
        }
        Some(ctx.user().read_val(act)?)
    } else {
        None
    };
    let prev = {
        let mut actions = ctx.process().sigactions.lock();
        let prev = actions[idx];
        if let Some(n) = new {
            actions[idx] = n;
        }
        prev
    };
    if old != 0 {
        ctx.user().write_val(old, &prev)?;
    }
    Ok(0)
}

pub fn rt_sigprocmask(ctx: &Context, a: &mut Args) -> SysResult {
    let (how, set, old, size) = (a.i32(0), a.u64(1), a.u64(2), a.usize(3));
    if size != 8 {
        fail!(EINVAL);
    }
    let new: Option<u64> = if set != 0 { Some(ctx.user().read_val(set)?) } else { None };
    let prev = {
        let mut t = ctx.thread().state.lock();
        let prev = t.sigmask;
        if let Some(s) = new {
            let unblockable = (1u64 << (SIGKILL - 1)) | (1u64 << (SIGSTOP - 1));
            t.sigmask = match how {
                SIG_BLOCK => prev | s,
                SIG_UNBLOCK => prev & !s,
                SIG_SETMASK => s,
                _ => fail!(EINVAL, "how is not SIG_BLOCK, SIG_UNBLOCK or SIG_SETMASK"),
            } & !unblockable;
        }
        prev
    };
    if old != 0 {
        ctx.user().write_val(old, &prev)?;
    }
    Ok(0)
}

pub fn sigaltstack(ctx: &Context, a: &mut Args) -> SysResult {
    let (ss, old) = (a.u64(0), a.u64(1));
    let new: Option<StackT> = if ss != 0 { Some(ctx.user().read_val(ss)?) } else { None };
    if let Some(n) = &new {
        if n.flags & !(SS_DISABLE | SS_ONSTACK) != 0 {
            fail!(EINVAL);
        }
        if n.flags & SS_DISABLE == 0 && n.size < MINSIGSTKSZ {
            fail!(ENOMEM);
        }
    }
    let prev = {
        let mut t = ctx.thread().state.lock();
        let prev = t.altstack;
        if let Some(n) = new {
            t.altstack = n;
        }
        prev
    };
    if old != 0 {
        ctx.user().write_val(old, &prev)?;
    }
    Ok(0)
}

/// A signal the kernel raises for the caller's own action (SIGPIPE from a
/// write to a pipe without readers): ignored when the app ignores or
/// blocks it, and without effect but a log line when it has a handler
/// (handlers are not run yet; on Linux the handler would run and the call
/// still fail); otherwise the default action, which for these signals ends
/// the app.
pub fn raise_for_call(ctx: &Context, sig: u32) {
    let Ok(idx) = check_sig(sig) else { return };
    let blocked = ctx.thread().state.lock().sigmask & (1u64 << idx) != 0;
    let act = ctx.process().sigactions.lock()[idx];
    if blocked || act.handler == SIG_IGN || (act.handler == SIG_DFL && default_ignored(sig)) {
        return;
    }
    if act.handler != SIG_DFL {
        crate::kinfo_once!("{} has a handler, but handlers are not run yet: the call fails without it (said once)", name(sig));
        return;
    }
    process::exit(ctx.process(), (128 + sig) as u8)
}

/// Delivers `sig` to the app itself with the default action.
fn raise(ctx: &Context, sig: u32) -> SysResult {
    if sig == 0 {
        return Ok(0); // existence check
    }
    let idx = check_sig(sig)?;
    let act = ctx.process().sigactions.lock()[idx];
    let ignored_by_default = default_ignored(sig);
    if act.handler == SIG_IGN || (act.handler == SIG_DFL && ignored_by_default) {
        return Ok(0);
    }
    if act.handler != SIG_DFL {
        crate::kinfo!("signal {} has a handler, but handlers are not run yet: taking the default action", name(sig));
    }
    crate::kinfo!("app killed by {} ({sig}) that it sent itself", name(sig));
    process::exit(ctx.process(), (128 + sig) as u8)
}

pub fn kill(ctx: &Context, a: &mut Args) -> SysResult {
    let pid = a.i32(0);
    if pid != ctx.process().pid as i32 && pid != 0 && pid != -1 {
        fail!(ESRCH);
    }
    raise(ctx, a.u32(1))
}

pub fn tkill(ctx: &Context, a: &mut Args) -> SysResult {
    if a.i32(0) != ctx.process().pid as i32 {
        fail!(ESRCH);
    }
    raise(ctx, a.u32(1))
}

pub fn tgkill(ctx: &Context, a: &mut Args) -> SysResult {
    if a.i32(0) != ctx.process().pid as i32 || a.i32(1) != ctx.process().pid as i32 {
        fail!(ESRCH);
    }
    raise(ctx, a.u32(2))
}
