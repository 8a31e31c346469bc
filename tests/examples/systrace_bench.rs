//! Syscall tracing's cost (issue 11's benchmark acceptance), one run, our
//! figures printed beside their baselines:
//!
//! 1. guest instructions per raw `getppid` round trip with the syscall
//!    hooks built in but off (the default kernel) vs a kernel built
//!    without them (`--no-default-features`, the `syscall-hooks` feature
//!    off: `dispatch` has no flag test), built by this bench into
//!    `target/nohooks` with the same rustflags;
//! 2. the same with `bpf-progs/sys_noop.c` attached to
//!    `tracepoint/raw_syscalls/sys_enter` through the shell (JIT, then the
//!    interpreter), and with the stream on (`TraceStart` of every syscall,
//!    records drained to the host meanwhile); and the same program on
//!    Debian's Linux (the newest `/boot/vmlinuz-*`, booted as its `vmlinux`
//!    through PVH in the same QEMU with icount) attached by a static
//!    libbpf loader, `/init` of its initramfs (`tests/bench/apps/bpf_init.c`,
//!    `gcc -static ... -lbpf -lelf -lz`), which runs the same getppid loop
//!    before, with and after the program;
//! 3. a syscall-heavy app (`sys_loop mix`: open, read, fstat, lseek, close,
//!    getppid) streamed vs untraced in the unikernel, in guest instructions
//!    under TCG `-icount shift=0,sleep=off` (the app reads the TSC around
//!    each round: one tick per guest instruction, the shell's task draining
//!    the ring buffer on the same CPU included; the host side of the
//!    virtio console is not), and the same static binary natively under
//!    `strace -f -o /dev/null` vs untraced (host TSC ticks per round).
//!
//! Rounds: the app (`tests/bench/apps/sys_loop.c`) prints `round K: T`
//! after each round; a state is measured on `ROUNDS` rounds that started
//! after the change, min and median.
//!
//! `cargo run --release -p e2e --example systrace_bench` (`cargo kernel`
//! and `cargo build --release` first; the no-hooks kernel is built here,
//! `SYSTRACE_BENCH_NOHOOKS=PATH` uses another image instead).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::shell::{ShellVm, ShellVmConfig};
use shellproto::{Engine, Event, Ref, Reply, Request, ServerMsg};

const APP: &str = include_str!("../bench/apps/sys_loop.c");
const BPF_INIT: &str = include_str!("../bench/apps/bpf_init.c");
/// getppid calls per round.
const N_SYS: u64 = 20_000;
/// mix iterations (6 syscalls each) per round.
const N_MIX: u64 = 2_000;
/// Rounds per state.
const ROUNDS: usize = 7;
/// Native rounds (more: the host is noisy).
const NATIVE_ROUNDS: usize = 15;
/// The stream's ring buffer (the kernel's default).
const RING_BYTES: u32 = 0;

fn build_app(dir: &Path) -> PathBuf {
    let src = dir.join("sys_loop.c");
    std::fs::write(&src, APP).unwrap();
    let bin = dir.join("sys_loop");
    let ok = Command::new("musl-gcc").args(["-O2", "-static"]).arg(&src).arg("-o").arg(&bin).status().unwrap();
    assert!(ok.success(), "musl-gcc failed");
    bin
}

/// The kernel without the `syscall-hooks` feature, in `<target>/nohooks`
/// (same `.cargo/config.toml` rustflags: only the feature differs).
fn nohooks_kernel() -> PathBuf {
    if let Some(p) = std::env::var_os("SYSTRACE_BENCH_NOHOOKS") {
        return PathBuf::from(p);
    }
    let root = e2e::workspace_root();
    let dir = root.join("target/nohooks");
    eprintln!("systrace_bench: building the kernel with --no-default-features into {}", dir.display());
    let ok = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args(["build", "-p", "kernel", "--release", "--target", "x86_64-unknown-none", "--no-default-features", "--target-dir"])
        .arg(&dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .status()
        .unwrap();
    assert!(ok.success(), "building the no-hooks kernel failed");
    dir.join("x86_64-unknown-none/release/kernel")
}

fn bpf_obj(name: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join("e2e-systrace-bench-progs");
    let obj = bpf_build::compile(&e2e::workspace_root().join("bpf-progs").join(name), &dir);
    std::fs::read(obj).unwrap()
}

/// What the stream delivered while a VM ran.
#[derive(Default, Clone, Copy)]
struct Streamed {
    records: u64,
    bytes: u64,
    lost: u64,
    bad_frames: u64,
}

impl Streamed {
    fn event(&mut self, e: &Event) {
        match e {
            Event::Syscalls { data } => {
                self.bytes += data.len() as u64;
                let mut rest = &data[..];
                while rest.len() >= 4 {
                    let size = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
                    if size == 0 || size > rest.len() {
                        break;
                    }
                    self.records += 1;
                    rest = &rest[size..];
                }
            }
            Event::Lost { count, what } if what.contains("syscall records") => self.lost += *count,
            _ => {}
        }
    }
}

#[derive(Clone, Copy)]
struct Ticks {
    min: u64,
    median: u64,
}

fn ticks(mut t: Vec<u64>) -> Ticks {
    t.sort_unstable();
    Ticks { min: t[0], median: t[t.len() / 2] }
}

/// One VM running sys_loop, the rounds it printed so far and the stream's
/// events (the host takes them as they come: the client's reader thread).
struct Run {
    vm: ShellVm,
    seen: usize,
    rounds: Vec<(u64, u64)>,
    streamed: Streamed,
}

impl Run {
    fn start(app: &Path, kernel: Option<&Path>, mode: &str, n: u64) -> Run {
        let cfg = ShellVmConfig {
            app: app.to_path_buf(),
            args: vec![mode.into(), n.to_string(), "1000000000".into()],
            kernel_args: String::new(),
            timeout_secs: 3600,
            icount: true,
            accel: "tcg".into(),
        };
        let mut vm = match kernel {
            Some(k) => ShellVm::start_with_kernel(&cfg, k),
            None => ShellVm::start(&cfg),
        };
        vm.client.hello();
        vm.client.flow_control();
        let mut r = Run { vm, seen: 0, rounds: Vec::new(), streamed: Streamed::default() };
        r.wait_rounds(0, 1);
        r
    }

    fn poll(&mut self) {
        let lines = self.vm.stderr_so_far();
        for l in &lines[self.seen..] {
            let Some(rest) = l.trim().strip_prefix("round ") else { continue };
            let Some((k, t)) = rest.split_once(": ") else { continue };
            if let (Ok(k), Ok(t)) = (k.parse(), t.trim().parse()) {
                self.rounds.push((k, t));
            }
        }
        self.seen = lines.len();
    }

    /// Takes the guest's messages for `d` (the stream's events).
    fn pump(&mut self, d: Duration) {
        let end = Instant::now() + d;
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            match self.vm.client.next_msg(left) {
                Some(Ok(ServerMsg::Event(e))) => self.streamed.event(&e),
                Some(Ok(other)) => panic!("unexpected {other:?}"),
                // Counted and printed (seen once under the stream: "truncated frame").
                Some(Err(e)) => {
                    eprintln!("systrace_bench: a frame the host cannot decode: {e}");
                    self.streamed.bad_frames += 1;
                }
                None => break,
            }
        }
    }

    fn wait_rounds(&mut self, from: u64, count: usize) -> Vec<u64> {
        let deadline = Instant::now() + Duration::from_secs(1200);
        loop {
            self.poll();
            let got: Vec<u64> = self.rounds.iter().filter(|(k, _)| *k >= from).map(|(_, t)| *t).take(count).collect();
            if got.len() == count {
                return got;
            }
            assert!(Instant::now() < deadline, "no {count} rounds from {from}:\n{}", self.vm.stderr_so_far().join("\n"));
            self.pump(Duration::from_millis(20));
        }
    }

    /// `ROUNDS` rounds that started after now (the last one printed may
    /// have been under way at the change: counting starts two after it).
    fn measure(&mut self) -> Ticks {
        self.pump(Duration::from_millis(200));
        self.poll();
        let last = self.rounds.last().map_or(0, |r| r.0);
        ticks(self.wait_rounds(last + 2, ROUNDS))
    }

    fn request(&mut self, req: Request) -> Reply {
        let what = format!("{req:?}");
        let a = self.vm.client.request(req);
        for e in &a.events {
            self.streamed.event(e);
        }
        a.result.unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    fn load(&mut self, file: &str, engine: Engine) -> (String, Vec<u32>) {
        let a = self.vm.client.load_with(file, &bpf_obj(file), 16 << 10, Some(engine));
        match a.result {
            Ok(Reply::Loaded(l)) => (l.progs[0].name.clone(), l.progs.iter().map(|p| p.id).collect()),
            other => panic!("load {file}: {other:?}"),
        }
    }

    /// Attaches `file`'s program with `engine`, measures, detaches, unloads;
    /// returns the ticks and the program's run count.
    fn with_prog(&mut self, file: &str, engine: Engine) -> (Ticks, u64) {
        let (name, ids) = self.load(file, engine);
        let r = self.request(Request::Attach { func: None, prog: Ref::Name(name.clone()), nr_args: None });
        assert!(matches!(&r, Reply::Attached(ch) if ch.func == "raw_syscalls/sys_enter"), "{r:?}");
        let t = self.measure();
        let runs = match self.request(Request::Attachments { func: None }) {
            Reply::Attachments(a) => a.iter().find(|a| a.prog_name == name).map_or(0, |a| a.run_cnt),
            other => panic!("attachments: {other:?}"),
        };
        self.request(Request::Detach { func: None, prog: Ref::Name(name) });
        for id in ids {
            self.request(Request::Unload { prog: Ref::Id(id) });
        }
        (t, runs)
    }

    /// Streams every syscall while measuring; returns the ticks, what
    /// arrived at the host, and the kernel's (records, lost) at the stop.
    fn streaming(&mut self) -> (Ticks, Streamed, (u64, u64)) {
        self.streamed = Streamed::default();
        let r = self.request(Request::TraceStart { syscalls: vec![], ring_bytes: RING_BYTES });
        assert!(matches!(r, Reply::TraceStarted { .. }), "{r:?}");
        let t = self.measure();
        let stop = match self.request(Request::TraceStop) {
            Reply::TraceStopped { records, lost } => (records, lost),
            other => panic!("trace stop: {other:?}"),
        };
        self.pump(Duration::from_millis(300));
        (t, self.streamed, stop)
    }
}

/// Native rounds of `sys_loop`, optionally under `strace -f -o /dev/null`.
fn native(app: &Path, mode: &str, n: u64, strace: bool) -> (Ticks, Duration) {
    let mut cmd = if strace {
        let mut c = Command::new("strace");
        c.args(["-f", "-o", "/dev/null"]).arg(app);
        c
    } else {
        Command::new(app)
    };
    let t0 = Instant::now();
    let out = cmd.args([mode, &n.to_string(), &NATIVE_ROUNDS.to_string()]).stdout(Stdio::null()).output().expect("run sys_loop natively");
    let wall = t0.elapsed();
    assert!(out.status.success(), "sys_loop natively (strace {strace}): {}", String::from_utf8_lossy(&out.stderr));
    let t: Vec<u64> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("round ")?.split_once(": ")?.1.trim().parse().ok())
        .collect();
    assert_eq!(t.len(), NATIVE_ROUNDS);
    (ticks(t), wall)
}

/// The newest `/boot/vmlinuz-*` (or `SYSTRACE_BENCH_LINUX`) as a vmlinux
/// ELF (its xz payload unpacked, as guest-bench does), cached in `out`.
fn linux_vmlinux(out: &Path) -> Result<(PathBuf, String), String> {
    let bz = match std::env::var_os("SYSTRACE_BENCH_LINUX") {
        Some(p) => PathBuf::from(p),
        None => {
            let mut v: Vec<PathBuf> = std::fs::read_dir("/boot")
                .map_err(|e| format!("/boot: {e}"))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmlinuz-")))
                .collect();
            v.sort();
            v.pop().ok_or("no /boot/vmlinuz-* (apt-get install linux-image-amd64)")?
        }
    };
    let release = bz.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_prefix("vmlinuz-")).unwrap_or("?").to_string();
    let vmlinux = out.join(format!("vmlinux-{release}"));
    if vmlinux.is_file() {
        return Ok((vmlinux, release));
    }
    let data = std::fs::read(&bz).map_err(|e| format!("{}: {e}", bz.display()))?;
    let at = data.windows(6).position(|w| w == b"\xfd7zXZ\x00").ok_or("no xz stream in the bzImage")?;
    let mut child = Command::new("xz")
        .args(["-dc", "--single-stream"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("xz: {e}"))?;
    let mut stdin = child.stdin.take().unwrap();
    let payload = data[at..].to_vec();
    let feeder = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &payload));
    let res = child.wait_with_output().map_err(|e| format!("xz: {e}"))?;
    let _ = feeder.join();
    if !res.stdout.starts_with(b"\x7fELF") {
        return Err("xz did not give an ELF".into());
    }
    std::fs::write(&vmlinux, &res.stdout).map_err(|e| e.to_string())?;
    Ok((vmlinux, release))
}

/// The Linux side of 2: per-round ticks of the getppid loop without, with
/// and after sys_noop.c on raw_syscalls/sys_enter.
struct LinuxRun {
    release: String,
    plain: Ticks,
    bpf: Ticks,
    detached: Ticks,
}

fn linux_bpf(dir: &Path) -> Result<LinuxRun, String> {
    let out = e2e::workspace_root().join("target/systrace-bench");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
    let (vmlinux, release) = linux_vmlinux(&out)?;
    let src = dir.join("bpf_init.c");
    std::fs::write(&src, BPF_INIT).unwrap();
    let init = dir.join("bpf_init");
    let cc = Command::new("gcc").args(["-O2", "-static"]).arg(&src).arg("-o").arg(&init).args(["-lbpf", "-lelf", "-lz"]).output().map_err(|e| format!("gcc: {e}"))?;
    if !cc.status.success() {
        return Err(format!("gcc -static -lbpf -lelf -lz failed (apt-get install libbpf-dev libelf-dev zlib1g-dev): {}", String::from_utf8_lossy(&cc.stderr)));
    }
    let meta = |perm| cpio::Meta { perm, ..cpio::Meta::default() };
    let mut w = cpio::Writer::new();
    w.file("init", &meta(0o755), &std::fs::read(&init).unwrap()).map_err(|e| format!("{e:?}"))?;
    w.file("sys_noop.o", &meta(0o644), &bpf_obj("sys_noop.c")).map_err(|e| format!("{e:?}"))?;
    for d in ["proc", "sys"] {
        w.dir(d, &meta(0o555)).map_err(|e| format!("{e:?}"))?;
    }
    let initrd = dir.join("linux-initramfs.cpio");
    std::fs::write(&initrd, w.finish()).unwrap();
    let append = format!("console=ttyS0 quiet nokaslr panic=-1 -- {N_SYS} {ROUNDS}");
    let res = Command::new("timeout")
        .args(["--kill-after=5", "900", "qemu-system-x86_64", "-machine", "microvm,acpi=off", "-accel", "tcg", "-cpu", "max", "-m", "256M"])
        .args(["-display", "none", "-no-reboot", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=4", "-icount", "shift=0,sleep=off"])
        .arg("-kernel")
        .arg(&vmlinux)
        .arg("-initrd")
        .arg(&initrd)
        .args(["-append", &append])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("qemu: {e}"))?;
    let text = String::from_utf8_lossy(&res.stdout);
    let get = |what: &str| -> Result<Ticks, String> {
        let t: Vec<u64> = text.lines().filter_map(|l| l.strip_prefix(what)?.strip_prefix(" round ")?.split_once(": ")?.1.trim().parse().ok()).collect();
        if t.is_empty() {
            return Err(format!("Linux guest: no `{what} round` lines (QEMU {}):\n{}", res.status, text.lines().rev().take(15).collect::<Vec<_>>().join("\n")));
        }
        Ok(ticks(t))
    };
    Ok(LinuxRun { release, plain: get("plain")?, bpf: get("bpf")?, detached: get("detached")? })
}

fn per(t: Ticks, n: u64) -> (f64, f64) {
    (t.min as f64 / n as f64, t.median as f64 / n as f64)
}

fn main() {
    let dir = std::env::temp_dir().join(format!("e2e-systrace-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let app = build_app(&dir);
    let nohooks = nohooks_kernel();

    eprintln!("systrace_bench: getppid, kernel without syscall hooks ({N_SYS} per round, icount)");
    let mut r = Run::start(&app, Some(&nohooks), "getppid", N_SYS);
    let base_nohooks = r.measure();
    drop(r);

    eprintln!("systrace_bench: getppid, default kernel (hooks built in)");
    let mut r = Run::start(&app, None, "getppid", N_SYS);
    let base_off = r.measure();
    eprintln!("systrace_bench: sys_noop.c on raw_syscalls/sys_enter (JIT)");
    let (noop_jit, runs_jit) = r.with_prog("sys_noop.c", Engine::Jit);
    eprintln!("systrace_bench: sys_noop.c (interpreter)");
    let (noop_interp, runs_interp) = r.with_prog("sys_noop.c", Engine::Interp);
    let base_off_again = r.measure();
    eprintln!("systrace_bench: getppid streamed");
    let (sys_stream, sys_streamed, sys_stop) = r.streaming();
    drop(r);

    eprintln!("systrace_bench: mix ({N_MIX} x 6 syscalls per round), untraced then streamed");
    let mut m = Run::start(&app, None, "mix", N_MIX);
    let mix_off = m.measure();
    let (mix_stream, mix_streamed, mix_stop) = m.streaming();
    let mix_off_after = m.measure();
    drop(m);

    eprintln!("systrace_bench: Linux guest, sys_noop.c attached by a static libbpf /init (icount)");
    let linux = linux_bpf(&dir);

    eprintln!("systrace_bench: the same binary natively, untraced and under strace -f -o /dev/null");
    let (nat_mix, nat_mix_wall) = native(&app, "mix", N_MIX, false);
    let (nat_mix_st, nat_mix_st_wall) = native(&app, "mix", N_MIX, true);
    let (nat_sys, _) = native(&app, "getppid", N_SYS, false);
    let (nat_sys_st, _) = native(&app, "getppid", N_SYS, true);

    let (b_nh, b_nh_med) = per(base_nohooks, N_SYS);
    let (b_off, b_off_med) = per(base_off, N_SYS);
    println!();
    println!("systrace_bench: syscall tracing's cost, one run");
    println!("  unikernel rows: guest instructions under TCG -icount shift=0,sleep=off (guest TSC = 1 tick per instruction),");
    println!("  per raw getppid round trip including the app's loop (~3 instructions), min over {ROUNDS} rounds [median]");
    println!();
    println!("1. hooks off vs compiled out ({N_SYS} getppid per round)");
    println!("   {:<62} {:>8.2} [{:.2}]", "kernel without syscall-hooks (--no-default-features)", b_nh, b_nh_med);
    println!("   {:<62} {:>8.2} [{:.2}]", "default kernel, hooks built in, nothing attached", b_off, b_off_med);
    println!("   {:<62} {:>+8.2}   (goal: at most +2)", "difference", b_off - b_nh);
    println!("   (default kernel again after the programs: {:.2})", per(base_off_again, N_SYS).0);
    println!();
    println!("2. a noop program on tracepoint/raw_syscalls/sys_enter (bpf-progs/sys_noop.c), per getppid");
    for (what, t, runs) in [("sys_noop.c, JIT", noop_jit, runs_jit), ("sys_noop.c, interpreter", noop_interp, runs_interp)] {
        let (v, med) = per(t, N_SYS);
        println!("   {:<62} {:>8.2} [{:.2}]  +{:.2} over hooks off (program ran {runs} times)", what, v, med, v - b_off);
    }
    let (v, med) = per(sys_stream, N_SYS);
    println!(
        "   {:<62} {:>8.2} [{:.2}]  +{:.2} ({} records at the host, {} lost, {} bad frames; kernel: {} records, {} lost)",
        "stream of every syscall on (TraceStart), no program",
        v,
        med,
        v - b_off,
        sys_streamed.records,
        sys_streamed.lost,
        sys_streamed.bad_frames,
        sys_stop.0,
        sys_stop.1
    );
    match &linux {
        Ok(l) => {
            let (p, b, d) = (per(l.plain, N_SYS), per(l.bpf, N_SYS), per(l.detached, N_SYS));
            println!("   Linux {} guest, same QEMU and icount, same loop, /init attaching with libbpf:", l.release);
            println!("   {:<62} {:>8.2} [{:.2}]", "  Linux, nothing attached", p.0, p.1);
            println!("   {:<62} {:>8.2} [{:.2}]  +{:.2} over nothing attached", "  Linux, sys_noop.c attached (tracepoint, JIT)", b.0, b.1, b.0 - p.0);
            println!("   {:<62} {:>8.2} [{:.2}]", "  Linux, after bpf_link__destroy", d.0, d.1);
        }
        Err(e) => println!("   Linux guest: not measured: {e}"),
    }
    println!("   Linux, quoted (bpftime's paper, not measured here): tracepoint with a BPF program ~+34 ns on a 404 ns syscall (+8%)");
    println!("   native host, measured: raw getppid {:.1} TSC ticks, under strace -f {:.1} ({:.1}x)", per(nat_sys, N_SYS).0, per(nat_sys_st, N_SYS).0, nat_sys_st.min as f64 / nat_sys.min as f64);
    println!();
    println!("3. syscall-heavy app (sys_loop mix: open, read 64, fstat, lseek, close, getppid; {N_MIX} x 6 calls per round)");
    println!("   {:<44} {:>14} {:>14} {:>9} {:>9}", "", "min/round", "median/round", "x (min)", "x (med)");
    let row = |what: &str, t: Ticks, base: Ticks| {
        println!(
            "   {:<44} {:>14} {:>14} {:>9.2} {:>9.2}",
            what,
            t.min,
            t.median,
            t.min as f64 / base.min as f64,
            t.median as f64 / base.median as f64
        )
    };
    row("unikernel untraced (guest insns)", mix_off, mix_off);
    row("unikernel, stream of every call (guest insns)", mix_stream, mix_off);
    row("unikernel untraced again after the stop", mix_off_after, mix_off);
    println!(
        "     stream: {} records ({:.1} MiB) at the host, {} lost, {} bad frames; kernel: {} records, {} lost; {:.0} guest insns per call untraced, {:.0} streamed  (goal: <= 1.5x)",
        mix_streamed.records,
        mix_streamed.bytes as f64 / (1 << 20) as f64,
        mix_streamed.lost,
        mix_streamed.bad_frames,
        mix_stop.0,
        mix_stop.1,
        mix_off.median as f64 / (N_MIX * 6) as f64,
        mix_stream.median as f64 / (N_MIX * 6) as f64
    );
    row("native untraced (host TSC ticks)", nat_mix, nat_mix);
    row("native, strace -f -o /dev/null (host TSC)", nat_mix_st, nat_mix);
    println!(
        "     native wall time of {NATIVE_ROUNDS} rounds (process included): untraced {:.3} s, strace {:.3} s ({:.1}x)",
        nat_mix_wall.as_secs_f64(),
        nat_mix_st_wall.as_secs_f64(),
        nat_mix_st_wall.as_secs_f64() / nat_mix_wall.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
