//! `guest-bench`: guest-instruction benchmarks of our kernel against a Linux
//! guest (Debian's `linux-image-amd64`) in the same QEMU, printed side by side
//! from one run. See `tests/bench/README.md`.
//!
//! Usage: `cargo run --release -p guest-bench [-- OPTIONS]`
//!   --runs N     wall-time runs per guest, median shown (default 5)
//!   --no-build   do not build ushell and the kernels (with and without
//!                patchable entries) first
//!   --no-linux   skip the Linux guest (its column shows n/a)
//!   --no-mem     skip the smallest -m searches

mod apps;
mod linux;
mod measure;
mod memsearch;
mod ours;
mod paths;
mod qemu;
mod report;
mod size;
mod table;

use std::process::{Command, ExitCode};

use anyhow::{bail, Context};

use measure::{LinuxSide, Side};
use paths::Paths;
use table::{Goal, Measure, Row, Table, Unit};

struct Opts {
    runs: usize,
    build: bool,
    linux: bool,
    mem: bool,
}

impl Opts {
    fn parse() -> anyhow::Result<Opts> {
        let mut o = Opts { runs: 5, build: true, linux: true, mem: true };
        let mut args = std::env::args().skip(1);
        while let Some(a) = args.next() {
            match a.as_str() {
                "--runs" => {
                    o.runs = args.next().context("--runs needs a number")?.parse().context("--runs")?;
                    if o.runs == 0 {
                        bail!("--runs must be at least 1");
                    }
                }
                "--no-build" => o.build = false,
                "--no-linux" => o.linux = false,
                "--no-mem" => o.mem = false,
                "-h" | "--help" => {
                    println!("{}", include_str!("main.rs").lines().take(10).map(|l| &l[3.min(l.len())..]).collect::<Vec<_>>().join("\n"));
                    std::process::exit(0);
                }
                _ => bail!("unknown argument {a:?} (try --help)"),
            }
        }
        Ok(o)
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("guest-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `cargo ARGS` in the workspace with `env` set (and `unset`
/// removed); shows the output on failure only (warnings are the other
/// crates' business).
fn cargo(p: &Paths, args: &[&str], env: &[(&str, &str)], unset: &[&str]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}=\"{v}\" ")).collect();
    measure::progress(&format!("{}cargo {}", shown.concat(), args.join(" ")));
    let mut cmd = Command::new(&cargo);
    cmd.args(args).current_dir(&p.workspace);
    for (k, v) in env {
        cmd.env(k, v);
    }
    for k in unset {
        cmd.env_remove(k);
    }
    match cmd.output() {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => {
            let text = String::from_utf8_lossy(&o.stderr);
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("{}", lines[lines.len().saturating_sub(30)..].join("\n"));
            Err(format!("`cargo {}` failed ({})", args.join(" "), o.status))
        }
        Err(e) => Err(format!("running cargo: {e}")),
    }
}

/// Builds ushell and our kernel into the current target directory.
fn build_ours(p: &Paths) -> Result<(), String> {
    cargo(p, &["build", "--release", "-p", "host-cli"], &[], &[])?;
    cargo(p, &["build", "-p", "kernel", "--release", "--target", "x86_64-unknown-none"], &[], &[])
}

/// The kernel's rustflags (`.cargo/config.toml`) without
/// `-Zpatchable-function-entry=5,0`.
const NOPATCH_RUSTFLAGS: &str = "-C relocation-model=static -C force-frame-pointers=yes";

/// Builds our kernel without patchable entries into `<target>/nopatch`.
/// `RUSTFLAGS` replaces `target.x86_64-unknown-none.rustflags` of the
/// config (`CARGO_TARGET_X86_64_UNKNOWN_NONE_RUSTFLAGS` would not: cargo
/// appends an environment array to the config file's); with `--target` it
/// does not reach build scripts and proc macros. The linker setting stays.
fn build_nopatch(p: &Paths) -> Result<(), String> {
    let dir = p.nopatch_target();
    let dir = dir.to_str().ok_or("the target directory is not UTF-8")?;
    cargo(
        p,
        &["build", "-p", "kernel", "--release", "--target", "x86_64-unknown-none", "--target-dir", dir],
        &[("RUSTFLAGS", NOPATCH_RUSTFLAGS)],
        &["CARGO_ENCODED_RUSTFLAGS", "CARGO_TARGET_X86_64_UNKNOWN_NONE_RUSTFLAGS"],
    )
}

fn run() -> anyhow::Result<()> {
    let opts = Opts::parse()?;
    let paths = Paths::discover()?;
    let apps = apps::build(&paths.workspace, &paths.out)?;

    let built = if opts.build { build_ours(&paths) } else { Ok(()) };
    let ours_env = built.and_then(|()| ours::Ours::find(paths.ushell(), paths.kernel(), &paths.out, &apps.bench));

    let floor = measure::floor(&apps.floor, opts.runs);
    let linux = if opts.linux {
        Some(linux::Linux::prepare(&paths.out, &apps.bench)?)
    } else {
        None
    };
    let linux_side = linux.as_ref().map(|l| measure::linux(l, opts.runs, opts.mem));
    let ours_side = measure::ours(&ours_env, opts.runs, opts.mem);
    let nopatch_built = if opts.build { build_nopatch(&paths) } else { Ok(()) };
    let nopatch_env =
        nopatch_built.and_then(|()| ours::Ours::find(paths.ushell(), paths.kernel_nopatch(), &paths.out, &apps.bench));
    measure::progress("ours without patchable entries, icount syscall run");
    let nopatch = nopatch_env.as_ref().map_err(Clone::clone).and_then(|o| measure::syscall_run(o, "ours without patchable entries"));

    println!();
    println!("guest-bench: our kernel vs Linux in the same QEMU ({})", qemu::version());
    println!("  machine: -machine microvm,acpi=off -accel tcg -cpu max (TCG: /dev/kvm here is PVM, see DEVELOPERS.md)");
    println!("  instruction rows: {} (guest TSC = 1 tick per guest instruction;", qemu::ICOUNT.join(" "));
    println!("    idle time is skipped to the next timer, so guest halts still add ticks)");
    println!("  wall rows: TCG without icount, median of {} runs", opts.runs);
    println!(
        "  memory: -m {}M for both guests' instruction runs and Linux's wall runs; ushell's default for ours' wall runs",
        measure::MEM_MIB
    );
    match &linux {
        Some(l) => println!(
            "  Linux: {} ({}), cmdline \"{} <mode>\", initramfs = /init and /proc",
            l.release,
            l.bzimage.display(),
            linux::CMDLINE
        ),
        None => println!("  Linux: skipped (--no-linux)"),
    }
    if let Ok(o) = &ours_env {
        println!("  ours: {} run by {}", o.kernel.display(), o.ushell.display());
    }
    println!("  app: {} (musl-gcc -static -O2, same binary on both)", apps.bench.display());
    println!();
    print!("{}", rows(&paths, &apps, &floor, &ours_env, &ours_side, linux.as_ref(), linux_side.as_ref()).render());
    print_details(&ours_side, linux_side.as_ref());
    println!();
    print!("{}", patch_rows(&floor, &ours_env, &ours_side, &nopatch_env, &nopatch));
    Ok(())
}

fn rows(
    paths: &Paths,
    apps: &apps::Apps,
    floor: &measure::Floor,
    ours_env: &Result<ours::Ours, String>,
    ours: &Side,
    linux: Option<&linux::Linux>,
    lside: Option<&LinuxSide>,
) -> Table {
    let skipped = || Err::<f64, String>("skipped (--no-linux)".into());
    type Bench = Result<report::BenchLine, String>;
    let per_syscall = |b: &Bench| b.as_ref().map(|b| b.per_syscall()).map_err(Clone::clone);
    let per_libc = |b: &Bench| b.as_ref().map(|b| b.per_libc_syscall()).map_err(Clone::clone);
    let boot = |b: &Bench| -> Measure {
        let b = b.as_ref().map_err(Clone::clone)?;
        let f = floor.entry_tsc.as_ref().map_err(Clone::clone)?;
        Ok(b.entry_tsc as f64 - f)
    };
    let mut t = Table::default();
    t.push(Row {
        name: "(a) insns per getppid, raw `syscall`".into(),
        unit: Unit::Insns,
        ours: per_syscall(&ours.bench),
        linux: lside.map_or_else(skipped, |l| per_syscall(&l.bz.bench)),
        floor: None,
        goal: Goal::LinuxOverOursAtLeast(3.0),
    });
    t.push(Row {
        name: "(a) same via musl syscall(SYS_getppid)".into(),
        unit: Unit::Insns,
        ours: per_libc(&ours.bench),
        linux: lside.map_or_else(skipped, |l| per_libc(&l.bz.bench)),
        floor: None,
        goal: Goal::LinuxOverOursAtLeast(3.0),
    });
    t.push(Row {
        name: "(b) insns kernel entry -> app entry, bzImage".into(),
        unit: Unit::Insns,
        ours: boot(&ours.bench),
        linux: lside.map_or_else(skipped, |l| boot(&l.bz.bench)),
        floor: Some(floor.entry_tsc.clone()),
        goal: Goal::LinuxOverOursAtLeast(50.0),
    });
    t.push(Row {
        name: "(b) same, Linux vmlinux via PVH".into(),
        unit: Unit::Insns,
        ours: boot(&ours.bench),
        linux: lside.map_or_else(skipped, |l| boot(&l.pvh)),
        floor: Some(floor.entry_tsc.clone()),
        goal: Goal::LinuxOverOursAtLeast(50.0),
    });
    t.push(Row {
        name: "(c) wall time of hello, TCG (s)".into(),
        unit: Unit::Seconds,
        ours: ours.wall.clone(),
        linux: lside.map_or_else(skipped, |l| l.bz.wall.clone()),
        floor: Some(floor.wall.clone()),
        goal: Goal::None,
    });
    let ours_elf = ours_env.as_ref().map_err(Clone::clone).and_then(|o| size::elf(&o.kernel).map_err(|e| format!("{e:#}")));
    let floor_elf = size::elf(&apps.floor).map_err(|e| format!("{e:#}"));
    t.push(Row {
        name: "(d) image file as built, bzImage".into(),
        unit: Unit::Bytes,
        ours: ours_elf.as_ref().map(|s| s.file as f64).map_err(Clone::clone),
        linux: linux.map_or_else(skipped, |l| size::file(&l.bzimage).map(|n| n as f64).map_err(|e| format!("{e:#}"))),
        floor: Some(floor_elf.as_ref().map(|s| s.file as f64).map_err(Clone::clone)),
        goal: Goal::OursAtMost(1024.0 * 1024.0),
    });
    let strip = |p: &std::path::Path| size::stripped(p, &paths.out).map(|n| n as f64).map_err(|e| format!("{e:#}"));
    t.push(Row {
        name: "(d) image stripped (ours), bzImage".into(),
        unit: Unit::Bytes,
        ours: ours_env.as_ref().map_err(Clone::clone).and_then(|o| strip(&o.kernel)),
        linux: linux.map_or_else(skipped, |l| size::file(&l.bzimage).map(|n| n as f64).map_err(|e| format!("{e:#}"))),
        floor: Some(strip(&apps.floor)),
        goal: Goal::OursAtMost(1024.0 * 1024.0),
    });
    t.push(Row {
        name: "(d) loadable segments in memory (vmlinux)".into(),
        unit: Unit::Bytes,
        ours: ours_elf.as_ref().map(|s| s.load_mem as f64).map_err(Clone::clone),
        linux: linux.map_or_else(skipped, |l| size::elf(&l.vmlinux).map(|s| s.load_mem as f64).map_err(|e| format!("{e:#}"))),
        floor: Some(floor_elf.as_ref().map(|s| s.load_mem as f64).map_err(Clone::clone)),
        goal: Goal::None,
    });
    t.push(Row {
        name: "(d) smallest -m running hello".into(),
        unit: Unit::MiB,
        ours: ours.min_mem.clone(),
        linux: lside.map_or_else(skipped, |l| l.bz.min_mem.clone()),
        floor: None,
        goal: Goal::OursAtMost(8.0),
    });
    t
}

/// (f): what the kernel's patchable entries (the function tracer's sites,
/// `-Zpatchable-function-entry=5,0`) cost when nothing is attached: our
/// kernel as built against the same kernel built without the flag.
fn patch_rows(
    floor: &measure::Floor,
    ours_env: &Result<ours::Ours, String>,
    ours: &Side,
    nopatch_env: &Result<ours::Ours, String>,
    nopatch: &Result<report::BenchLine, String>,
) -> String {
    type Bench = Result<report::BenchLine, String>;
    let boot = |b: &Bench| -> Measure {
        let b = b.as_ref().map_err(Clone::clone)?;
        let f = floor.entry_tsc.as_ref().map_err(Clone::clone)?;
        Ok(b.entry_tsc as f64 - f)
    };
    let raw = |b: &Bench| b.as_ref().map(|b| b.per_syscall()).map_err(Clone::clone);
    let libc = |b: &Bench| b.as_ref().map(|b| b.per_libc_syscall()).map_err(Clone::clone);
    let entries = |o: &Result<ours::Ours, String>| -> (Measure, Measure) {
        match o.as_ref().map_err(Clone::clone).and_then(|o| size::patchable_entries(&o.kernel).map_err(|e| format!("{e:#}"))) {
            Ok((with, total)) => (Ok(with as f64), Ok(total as f64)),
            Err(e) => (Err(e.clone()), Err(e)),
        }
    };
    let ((ow, ot), (nw, nt)) = (entries(ours_env), entries(nopatch_env));
    let file = |o: &Result<ours::Ours, String>| -> Measure {
        o.as_ref().map_err(Clone::clone).and_then(|o| size::elf(&o.kernel).map(|s| s.file as f64).map_err(|e| format!("{e:#}")))
    };
    let rows: Vec<(&str, Unit, Measure, Measure)> = vec![
        ("(f) insns per getppid, raw `syscall`", Unit::Insns, raw(&ours.bench), raw(nopatch)),
        ("(f) same via musl syscall(SYS_getppid)", Unit::Insns, libc(&ours.bench), libc(nopatch)),
        ("(f) insns kernel entry -> app entry", Unit::Insns, boot(&ours.bench), boot(nopatch)),
        ("(f) functions starting with 0f 1f 44 00 08", Unit::Insns, ow, nw),
        ("(f) function symbols in the image", Unit::Insns, ot, nt),
        ("(f) image file as built", Unit::Bytes, file(ours_env), file(nopatch_env)),
    ];
    let mut out = String::from("(f) the kernel's patchable entries (tracer sites, -Zpatchable-function-entry=5,0), nothing attached:\n");
    let header = ["metric", "ours (with)", "without the flag", "with - without"];
    let mut lines = vec![header.map(String::from)];
    let mut notes: Vec<String> = Vec::new();
    let mut cell = |m: &Measure, unit: Unit| match m {
        Ok(v) => table::fmt_value(*v, unit),
        Err(e) => {
            notes.push(e.clone());
            format!("n/a [{}]", notes.len())
        }
    };
    for (name, unit, with, without) in &rows {
        let diff = match (with, without) {
            (Ok(a), Ok(b)) if matches!(unit, Unit::Bytes) => format!("{:+.1} KiB", (a - b) / 1024.0),
            (Ok(a), Ok(b)) => format!("{:+}", ((a - b) * 10.0).round() / 10.0),
            _ => "-".into(),
        };
        lines.push([name.to_string(), cell(with, *unit), cell(without, *unit), diff]);
    }
    let mut width = [0usize; 4];
    for l in &lines {
        for (w, c) in width.iter_mut().zip(l) {
            *w = (*w).max(c.chars().count());
        }
    }
    for (i, l) in lines.iter().enumerate() {
        let mut s = format!("{:<w$}", l[0], w = width[0]);
        for (c, w) in l.iter().zip(width).skip(1) {
            s += &format!("  {c:>w$}");
        }
        out += s.trim_end();
        out.push('\n');
        if i == 0 {
            out += &"-".repeat(width.iter().sum::<usize>() + 2 * (width.len() - 1));
            out.push('\n');
        }
    }
    for (i, n) in notes.iter().enumerate() {
        out += &format!("[{}] {n}\n", i + 1);
    }
    if let Ok(o) = nopatch_env {
        out += &format!("  without the flag: {} (RUSTFLAGS=\"{NOPATCH_RUSTFLAGS}\", --target-dir {})\n", o.kernel.display(), "<target>/nopatch");
    }
    out
}

fn print_details(ours: &Side, linux: Option<&LinuxSide>) {
    println!();
    println!("raw bench lines (TSC ticks; per getppid = (sys - empty) / iters, min over repetitions,");
    println!("  median in brackets; libc start-up = main_tsc - entry_tsc):");
    let show = |who: &str, b: &Result<report::BenchLine, String>| match b {
        Ok(b) => println!(
            "  {who:<20} entry_tsc={} libc start-up={} sys_min={} empty_min={} libc_min={} iters={} \
             -> {:.1} [{:.1}] raw, {:.1} libc per getppid",
            b.entry_tsc,
            b.main_tsc.saturating_sub(b.entry_tsc),
            b.sys_min,
            b.empty_min,
            b.libc_min,
            b.iters,
            b.per_syscall(),
            b.per_syscall_median(),
            b.per_libc_syscall()
        ),
        Err(e) => println!("  {who:<22} n/a: {e}"),
    };
    show("ours", &ours.bench);
    println!("  ours per getppid before the scheduler (commit ff2e662, tests/bench/README.md): 80 raw, 114 libc");
    match &ours.sleep {
        Ok(s) => println!(
            "  ours nanosleep(1 s), guest instructions (sleep run minus clock-read run, halted time excluded):\n    \
             blocking (task sleeps, CPU halts): {}\n    polling the clock (ushell.sleep=poll, the method before): {}\n    \
             polling/blocking: {:.0}x",
            s.blocking,
            s.polling,
            s.polling as f64 / s.blocking.max(1) as f64
        ),
        Err(e) => println!("  ours nanosleep(1 s): n/a: {e}"),
    }
    if ours.min_mem.as_ref().is_ok_and(|m| *m <= 2.0) {
        println!("  ours: 2 MiB is the floor of the -m search: ushell rejects -m below 2M");
    }
    if let Some(l) = linux {
        show("Linux bzImage", &l.bz.bench);
        show("Linux vmlinux (PVH)", &l.pvh);
        let idle = |m: &Measure| m.as_ref().map_or_else(|e| format!("n/a ({e})"), |s| format!("{s:.3} s"));
        println!(
            "  Linux idle (halted) time by /proc/uptime after the run, in 10 ms units: bzImage {}, vmlinux (PVH) {}\n  \
             (idle time would advance the TSC without instructions; none means Linux's boot count is all instructions)",
            idle(&l.bz_idle),
            idle(&l.pvh_idle)
        );
    }
}
