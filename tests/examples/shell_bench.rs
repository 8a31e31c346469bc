//! The debug shell's costs, measured through the real console:
//!
//! * the round trip of a trivial request (`Progs` on an empty instance),
//!   host to guest and back, as wall time under TCG (median over N), and as
//!   guest instructions under TCG `-icount shift=0,sleep=off`, where the
//!   guest TSC counts instructions: the kernel's `ushell.shell=stats` event
//!   gives the ticks from the console's interrupt to the reply handed to
//!   the device (the task's way back to sleep is not in it);
//! * loading `bpf-progs/count.c` (upload, verifier, maps): wall time and
//!   guest instructions (sum over the load's rounds), median over M.
//!
//! Printed next to Unikraft ushell's published round trip (18 µs).
//!
//! `cargo run --release -p e2e --example shell_bench [-- N]` (N requests,
//! default 1000; `cargo kernel` and `cargo build --release` first).

use std::time::Duration;

use e2e::shell::{Client, ShellVm, ShellVmConfig};
use shellproto::{Event, Ref, Reply, Request};

const LOADS: usize = 20;
const UNIKRAFT_RTT_US: f64 = 18.0;

fn median<T: Copy + Ord>(v: &mut [T]) -> T {
    v.sort_unstable();
    v[v.len() / 2]
}

fn vm(icount: bool) -> ShellVm {
    ShellVm::start(&ShellVmConfig {
        app: e2e::app("sched", "musl"),
        // Long enough for the whole measurement; the VM is killed after.
        args: vec!["spin".into(), "600".into()],
        kernel_args: if icount { "ushell.shell=stats".into() } else { String::new() },
        timeout_secs: 900,
        icount,
        accel: "tcg".into(),
    })
}

/// The TSC ticks of the stats events among `events`.
fn round_tsc(events: &[Event]) -> Vec<u64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Kernel { line, .. } => line.strip_prefix("shell: round of ")?.split(": ").nth(1)?.strip_suffix(" tsc")?.parse().ok(),
            _ => None,
        })
        .collect()
}

/// A request, then the stats event that follows its reply.
fn timed(c: &mut Client, req: Request) -> (Duration, shellproto::Reply, u64) {
    let a = c.request(req);
    let reply = a.result.unwrap_or_else(|e| panic!("request failed: {e}"));
    let tsc = match c.next_msg(Duration::from_secs(30)) {
        Some(Ok(shellproto::ServerMsg::Event(e))) => round_tsc(&[e]).first().copied().unwrap_or(0),
        other => panic!("no stats event after the reply: {other:?}"),
    };
    (a.elapsed, reply, tsc)
}

/// (wall, guest ticks) of loading then unloading `obj` once.
fn load_once(c: &mut Client, obj: &[u8], stats: bool) -> (Duration, u64) {
    let start = std::time::Instant::now();
    let mut ticks = 0;
    let upload = if stats {
        let (_, r, t) = timed(c, Request::UploadBegin { name: "count.o".into(), size: obj.len() as u32 });
        ticks += t;
        match r {
            Reply::UploadReady { upload } => upload,
            other => panic!("{other:?}"),
        }
    } else {
        match c.request(Request::UploadBegin { name: "count.o".into(), size: obj.len() as u32 }).result {
            Ok(Reply::UploadReady { upload }) => upload,
            other => panic!("{other:?}"),
        }
    };
    for (i, chunk) in obj.chunks(shellproto::MAX_CHUNK).enumerate() {
        let req = Request::UploadChunk { upload, offset: (i * shellproto::MAX_CHUNK) as u32, data: chunk.to_vec() };
        if stats {
            ticks += timed(c, req).2;
        } else {
            c.request(req).result.expect("chunk");
        }
    }
    let commit = Request::UploadCommit { upload };
    let prog = if stats {
        let (_, r, t) = timed(c, commit);
        ticks += t;
        r
    } else {
        c.request(commit).result.expect("commit")
    };
    let wall = start.elapsed();
    let Reply::Loaded(l) = prog else { panic!("count.o not loaded: {prog:?}") };
    let unload = Request::Unload { prog: Ref::Id(l.progs[0].id) };
    if stats {
        timed(c, unload);
    } else {
        c.request(unload).result.expect("unload");
    }
    (wall, ticks)
}

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let obj = {
        let dir = std::env::temp_dir().join("e2e-shell-bench");
        let o = bpf_build::compile(&e2e::workspace_root().join("bpf-progs/count.c"), &dir);
        std::fs::read(o).unwrap()
    };

    eprintln!("shell_bench: {n} round trips and {LOADS} loads of count.o ({} bytes), TCG", obj.len());
    let mut tcg = vm(false);
    tcg.client.hello();
    let mut rtt: Vec<Duration> = (0..n)
        .map(|_| {
            let a = tcg.client.request(Request::Progs);
            assert!(matches!(a.result, Ok(Reply::Progs(ref p)) if p.is_empty()), "{:?}", a.result);
            a.elapsed
        })
        .collect();
    let mut load_wall: Vec<Duration> = (0..LOADS).map(|_| load_once(&mut tcg.client, &obj, false).0).collect();
    drop(tcg);

    eprintln!("shell_bench: the same under -icount shift=0,sleep=off");
    let mut ic = vm(true);
    ic.client.hello();
    let mut ticks: Vec<u64> = (0..n)
        .map(|_| {
            let (_, r, t) = timed(&mut ic.client, Request::Progs);
            assert!(matches!(r, Reply::Progs(ref p) if p.is_empty()));
            t
        })
        .collect();
    let mut load_ticks: Vec<u64> = (0..LOADS).map(|_| load_once(&mut ic.client, &obj, true).1).collect();
    drop(ic);

    let rtt_us = median(&mut rtt).as_secs_f64() * 1e6;
    let ins = median(&mut ticks);
    let load_ms = median(&mut load_wall).as_secs_f64() * 1e3;
    let load_ins = median(&mut load_ticks);
    println!();
    let rows = [
        (format!("trivial request round trip, wall (median of {n})"), format!("{rtt_us:.1} µs"), format!("{UNIKRAFT_RTT_US:.0} µs (published)")),
        ("guest instructions per request (icount)".into(), ins.to_string(), "-".into()),
        (format!("load count.o ({} bytes), wall (median of {LOADS})", obj.len()), format!("{load_ms:.2} ms"), "-".into()),
        ("load count.o, guest instructions (icount)".into(), load_ins.to_string(), "-".into()),
    ];
    println!("| {:<50} | {:>12} | {:>22} |", "debug shell, TCG", "ours", "Unikraft ushell (TUM)");
    println!("|{:-<52}|{:->14}|{:->24}|", "", "", "");
    for (what, ours, theirs) in rows {
        println!("| {what:<50} | {ours:>12} | {theirs:>22} |");
    }
    println!();
    println!("Guest instructions: from the console interrupt to the reply handed to the device (ushell.shell=stats).");
    println!("Unikraft's figure is from its paper (KVM), not measured in this run; ours is TCG on this machine.");
}
