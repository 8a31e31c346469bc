//! Clock and sleep syscalls.

use super::{Args, Context, SysResult};
use crate::time::{monotonic_ns, realtime_ns, sleep_until};
use linux_abi::flags::*;
use linux_abi::structs::{Timespec, Timeval};
use linux_abi::Errno;

fn clock_now(id: u32) -> Result<u64, Errno> {
    match id {
        CLOCK_REALTIME | CLOCK_REALTIME_COARSE => Ok(realtime_ns()),
        CLOCK_MONOTONIC | CLOCK_MONOTONIC_RAW | CLOCK_MONOTONIC_COARSE | CLOCK_BOOTTIME => Ok(monotonic_ns()),
        // The app is the only thing running: its CPU time is the time since boot.
        CLOCK_PROCESS_CPUTIME_ID | CLOCK_THREAD_CPUTIME_ID => Ok(monotonic_ns()),
        _ => Err(Errno::EINVAL),
    }
}

pub fn clock_gettime(ctx: &Context, a: &mut Args) -> SysResult {
    let ts = Timespec::from_nanos(clock_now(a.u32(0))?);
    ctx.user().write_val(a.u64(1), &ts)?;
    Ok(0)
}

pub fn clock_getres(ctx: &Context, a: &mut Args) -> SysResult {
    clock_now(a.u32(0))?;
    if a.u64(1) != 0 {
        ctx.user().write_val(a.u64(1), &Timespec { tv_sec: 0, tv_nsec: 1 })?;
    }
    Ok(0)
}

pub fn gettimeofday(ctx: &Context, a: &mut Args) -> SysResult {
    if a.u64(0) != 0 {
        let ns = realtime_ns();
        let tv = Timeval { tv_sec: (ns / 1_000_000_000) as i64, tv_usec: ((ns % 1_000_000_000) / 1000) as i64 };
        ctx.user().write_val(a.u64(0), &tv)?;
    }
    Ok(0)
}

pub fn time(ctx: &Context, a: &mut Args) -> SysResult {
    let secs = realtime_ns() / 1_000_000_000;
    if a.u64(0) != 0 {
        ctx.user().write_val(a.u64(0), &secs)?;
    }
    Ok(secs as usize)
}

fn read_ts(ctx: &Context, addr: u64) -> Result<u64, Errno> {
    let ts: Timespec = ctx.user().read_val(addr)?;
    ts.to_nanos().ok_or(Errno::EINVAL)
}

pub fn nanosleep(ctx: &Context, a: &mut Args) -> SysResult {
    let d = read_ts(ctx, a.u64(0))?;
    sleep_until(monotonic_ns().saturating_add(d));
    Ok(0)
}

pub fn clock_nanosleep(ctx: &Context, a: &mut Args) -> SysResult {
    let (id, flags) = (a.u32(0), a.u32(1));
    let now = clock_now(id)?;
    let t = read_ts(ctx, a.u64(2))?;
    let wait = if flags & TIMER_ABSTIME != 0 { t.saturating_sub(now) } else { t };
    sleep_until(monotonic_ns().saturating_add(wait));
    Ok(0)
}

pub fn times(ctx: &Context, a: &mut Args) -> SysResult {
    let ticks = monotonic_ns() / 10_000_000; // USER_HZ = 100
    if a.u64(0) != 0 {
        let t = [ticks, 0u64, 0, 0];
        ctx.user().write_val(a.u64(0), &t)?;
    }
    Ok(ticks as usize)
}
