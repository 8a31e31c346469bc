//! The runs behind each table row, one function per guest. Every function
//! returns a `Measure` per metric: a number, or the reason there is none.

use std::path::Path;
use std::time::Duration;

use crate::linux::Linux;
use crate::memsearch;
use crate::ours::Ours;
use crate::qemu::{self, Vm};
use crate::report::{self, BenchLine};
use crate::table::Measure;

/// What the hello runs must print.
pub const HELLO: &str = "hello, world";
/// Upper end of the `-m` search, MiB.
const MEM_MAX_MIB: u32 = 512;
/// Memory for the instruction-count runs of both guests and Linux's wall-time
/// runs, MiB. (Ours' wall-time runs use ushell's default, as users run it.)
pub const MEM_MIB: u32 = 256;

pub fn progress(what: &str) {
    eprintln!("guest-bench: {what}");
}

fn median(mut v: Vec<Duration>) -> f64 {
    v.sort();
    v[v.len() / 2].as_secs_f64()
}

pub struct Floor {
    pub entry_tsc: Measure,
    pub wall: Measure,
}

pub fn floor(kernel: &Path, runs: usize) -> Floor {
    let vm = |icount| Vm { kernel: kernel.into(), initrd: None, append: None, mem_mib: MEM_MIB, icount, timeout_s: 60 };
    progress("floor kernel, icount");
    let entry_tsc = match qemu::run(&vm(true)) {
        Ok(r) => report::parse_floor(&r.serial).map(|t| t as f64).ok_or_else(|| format!("floor: {}", r.describe())),
        Err(e) => Err(format!("floor: {e:#}")),
    };
    progress(&format!("floor kernel, wall time x{runs}"));
    let mut walls = Vec::new();
    for _ in 0..runs {
        match qemu::run(&vm(false)) {
            Ok(r) if r.exited_ok() && report::parse_floor(&r.serial).is_some() => walls.push(r.wall),
            Ok(r) => return Floor { entry_tsc, wall: Err(format!("floor: {}", r.describe())) },
            Err(e) => return Floor { entry_tsc, wall: Err(format!("floor: {e:#}")) },
        }
    }
    Floor { entry_tsc, wall: Ok(median(walls)) }
}

/// Numbers from one guest kernel.
pub struct Side {
    pub bench: Result<BenchLine, String>,
    pub wall: Measure,
    pub min_mem: Measure,
    /// Ours only: what one nanosleep(1 s) costs in instructions.
    pub sleep: Result<SleepCost, String>,
}

pub struct LinuxSide {
    pub bz: Side,
    /// The syscall run of the vmlinux booted through PVH.
    pub pvh: Result<BenchLine, String>,
    /// Seconds Linux was idle by `/proc/uptime` at the end of each syscall
    /// run (bzImage, PVH); all of it during boot, the bench never sleeps.
    pub bz_idle: Measure,
    pub pvh_idle: Measure,
}

pub fn linux(l: &Linux, runs: usize, mem_search: bool) -> LinuxSide {
    let bench = |kernel: &Path, what: &str| -> (Result<BenchLine, String>, Measure) {
        progress(&format!("Linux {what}, icount syscall run (about 30 s)"));
        let r = match l.run(kernel, "syscall", MEM_MIB, true) {
            Ok(r) => r,
            Err(e) => return (Err(format!("Linux {what}: {e:#}")), Err(format!("Linux {what}: {e:#}"))),
        };
        let line = report::parse_bench(&r.serial)
            .ok_or_else(|| format!("Linux {what}: no GUESTBENCH line ({})", r.describe()));
        let idle = report::parse_linux_uptime(&r.serial)
            .map(|(_, idle)| idle)
            .ok_or_else(|| format!("Linux {what}: no LINUXUPTIME line"));
        (line, idle)
    };
    let hello_ok = |mem: u32| -> Result<Duration, String> {
        let r = l.run(&l.bzimage, "hello", mem, false).map_err(|e| format!("Linux: {e:#}"))?;
        if r.exited_ok() && r.serial.contains(HELLO) {
            Ok(r.wall)
        } else {
            Err(format!("Linux hello with -m {mem}M: {}", r.describe()))
        }
    };
    let (bz, bz_idle) = bench(&l.bzimage, "bzImage");
    let (pvh, pvh_idle) = bench(&l.vmlinux, "vmlinux via PVH");
    progress(&format!("Linux hello, wall time x{runs}"));
    let wall = (0..runs).map(|_| hello_ok(MEM_MIB)).collect::<Result<Vec<_>, _>>().map(median);
    let min_mem = if mem_search {
        progress("Linux hello, smallest -m (binary search)");
        search(|m| hello_ok(m).is_ok(), "Linux")
    } else {
        Err("skipped (--no-mem)".into())
    };
    let sleep = Err("not measured for Linux".into());
    LinuxSide { bz: Side { bench: bz, wall, min_mem, sleep }, pvh, bz_idle, pvh_idle }
}

pub fn ours(o: &Result<Ours, String>, runs: usize, mem_search: bool) -> Side {
    let o = match o {
        Ok(o) => o,
        Err(why) => {
            return Side { bench: Err(why.clone()), wall: Err(why.clone()), min_mem: Err(why.clone()), sleep: Err(why.clone()) }
        }
    };
    progress("ours, icount syscall run");
    let bench = syscall_run(o, "ours");
    let hello_ok = |mem: Option<u32>| -> Result<Duration, String> {
        let r = o.run(&["hello"], mem, false).map_err(|e| format!("ours: {e:#}"))?;
        if r.status == Some(0) && r.stdout.contains(HELLO) {
            Ok(r.wall)
        } else {
            Err(format!("ours hello: {}", r.describe()))
        }
    };
    progress(&format!("ours hello (ushell run), wall time x{runs}"));
    let wall = (0..runs).map(|_| hello_ok(None)).collect::<Result<Vec<_>, _>>().map(median);
    let min_mem = if mem_search {
        progress("ours hello, smallest -m (binary search)");
        search(|m| hello_ok(Some(m)).is_ok(), "ours")
    } else {
        Err("skipped (--no-mem)".into())
    };
    progress("ours, icount nanosleep(1 s) runs: blocking, polling, and a clock-read baseline");
    let sleep = sleep_cost(o);
    Side { bench, wall, min_mem, sleep }
}

/// The bench app's icount syscall run on our kernel `o` (`who` names it
/// in errors): getppid round trips and the boot count.
pub fn syscall_run(o: &Ours, who: &str) -> Result<BenchLine, String> {
    o.run(&["syscall"], Some(MEM_MIB), true) // the same RAM as Linux's run
        .map_err(|e| format!("{who}: {e:#}"))
        .and_then(|r| report::parse_bench(&r.stdout).ok_or_else(|| format!("{who}: no GUESTBENCH line ({})", r.describe())))
}

/// Instructions one nanosleep(1 s) costs: a sleeping run minus a run that
/// only reads the clock once (both pay the clock's calibration),
/// with the scheduler (the task blocks, the CPU halts) and with
/// `ushell.sleep=poll` (the clock-polling loop the kernel used before).
fn sleep_cost(o: &Ours) -> Result<SleepCost, String> {
    let base = o.busy_insns(&["clock"], "")?;
    let blocking = o.busy_insns(&["sleep"], "")?;
    let polling = o.busy_insns(&["sleep"], "ushell.sleep=poll")?;
    Ok(SleepCost { blocking: blocking.saturating_sub(base), polling: polling.saturating_sub(base) })
}

pub struct SleepCost {
    pub blocking: u64,
    pub polling: u64,
}

fn search(ok: impl FnMut(u32) -> bool, who: &str) -> Measure {
    memsearch::smallest(1, MEM_MAX_MIB, ok)
        .map(f64::from)
        .ok_or_else(|| format!("{who}: hello fails even with -m {MEM_MAX_MIB}M"))
}
