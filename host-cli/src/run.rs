//! `ushell run`: packs an app into an initrd, boots the unikernel with it in
//! QEMU, relays stdin/stdout/stderr, and exits with the app's status.

mod accel;
mod detach;
mod elfcheck;
mod error;
mod hostfile;
mod initrd;
mod register;
pub(crate) mod qemu;
pub(crate) mod stdin;

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;

use accel::{AccelChoice, HostFacts};
use error::RunError;
use hostfile::Role;
use initrd::Initrd;
use qemu::{Outcome, VmConfig};

#[derive(clap::Args, Debug)]
#[command(after_help = "\
Exit status: the app's (0-255; 128+N when signal N killed it, e.g. 139 for a \
segfault; 143 after `ushell stop`); 125 when ushell itself failed (the app \
could not be packed, the kernel panicked, QEMU failed or the run timed out); \
126 when the kernel refused the ELF, 127 when it found no app. With -d: 0 once \
the instance runs (`ushell wait NAME` gives the app's status later).

Every run is an instance: `ushell ps` lists it, `ushell load/exec/...` act on \
it while it runs, `ushell logs` shows its output until `ushell rm` (or --rm).

Examples:
  echo hi | ushell run /bin/busybox tr a-z A-Z
  ushell run --file data.txt /bin/busybox wc -l /data.txt
  ushell run -e LANG=C --timeout 10 ./hello 3
  ushell run -d --name web ./server && ushell load count.o -i web")]
pub struct RunArgs {
    /// Accelerator: auto uses KVM only where it is hardware-backed.
    #[arg(long, value_enum, default_value_t = AccelChoice::Auto)]
    pub accel: AccelChoice,
    /// Guest RAM, e.g. 64M or 1G (plain numbers are MiB).
    #[arg(short = 'm', long = "memory", default_value = "64M", value_name = "SIZE")]
    pub memory: String,
    /// Kernel image [env: USHELL_KERNEL] [default: x86_64-unknown-none/release/kernel in this binary's target dir]
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Environment variable for the app (repeatable); KEY alone copies the host's value.
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Host file or directory to put in the guest, by default at the same path (repeatable).
    #[arg(long = "file", value_name = "HOST[:GUEST]")]
    pub files: Vec<OsString>,
    /// Host directory whose contents become the guest's root (repeatable).
    #[arg(long, value_name = "DIR")]
    pub rootfs: Vec<PathBuf>,
    /// Kill the VM after this many seconds (exit status 125).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Verbose: kernel debug log (ushell.log=debug) and the QEMU command line.
    #[arg(short, long)]
    pub verbose: bool,
    /// Do not print which accelerator is used.
    #[arg(short, long)]
    pub quiet: bool,
    /// Build the initrd and print the QEMU command instead of running it.
    #[arg(long)]
    pub dry_run: bool,
    /// Run in the background and print the instance's name; the app's
    /// stdout and stderr go to the instance log (`ushell logs`), its stdin
    /// is empty.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// The instance's name (letters, digits, '-', '_', '.'); default: the
    /// app's file name and 4 random hex digits.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Remove the instance's record and log when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Trace the app's syscalls from its first instruction, as strace does:
    /// lines on stderr (or -o FILE); `--trace=openat,read` only those.
    #[arg(long, value_name = "SYSCALL,...", num_args = 0..=1, require_equals = true, default_missing_value = "all", conflicts_with = "detach")]
    pub trace: Option<String>,
    /// With --trace: strace -c's table (calls, errors, time per syscall) at the exit instead of lines.
    #[arg(short = 'c', long = "summary", requires = "trace")]
    pub summary: bool,
    /// With --trace: write the trace to FILE.
    #[arg(short = 'o', long = "output", value_name = "FILE", requires = "trace")]
    pub trace_output: Option<PathBuf>,
    /// With --trace: show the time spent in each call.
    #[arg(short = 'T', requires = "trace")]
    pub trace_time: bool,
    /// With --trace: the kernel's ring buffer for the records, in bytes (default 1 MiB).
    #[arg(long, value_name = "BYTES", requires = "trace")]
    pub ring: Option<u32>,
    /// APP (the Linux executable on the host; argv[0] in the guest is exactly
    /// this string) and its arguments. Everything after APP goes to the app.
    #[arg(value_names = ["APP", "ARGS"], required = true, num_args = 1.., trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<OsString>,
}

impl RunArgs {
    /// The app as the user gave it.
    pub fn app(&self) -> &OsString {
        &self.command[0]
    }
}

pub fn main(args: RunArgs) -> anyhow::Result<ExitCode> {
    if args.detach && !args.dry_run && !detach::is_child() {
        return detach::spawn_supervisor(&args);
    }
    // --timeout covers the whole run from here: packing and QEMU's start too.
    let started = Instant::now();
    let timeout = args
        .timeout
        .map(|t| match Duration::try_from_secs_f64(t) {
            Ok(d) if !d.is_zero() => Ok(d),
            _ => Err(RunError::BadOption { option: "--timeout", value: t.to_string(), why: "must be a number of seconds > 0".into() }),
        })
        .transpose()?;
    let deadline = timeout.map(|limit| Deadline { at: started + limit, limit });
    let memory = qemu::parse_memory(&args.memory)?;
    // Every input is checked by `stat` alone before anything is read, so a
    // FIFO or a device is refused at once, before the accelerator line.
    let initrd = plan_initrd(&args)?;

    let (accel, why) = accel::choose(args.accel, &HostFacts::probe())?;
    let accel_line = format!("accel {accel} ({why})");
    if !args.quiet {
        eprintln!("ushell: {accel_line}");
    }
    let kernel = qemu::resolve_kernel(args.kernel.clone().or_else(|| std::env::var_os("USHELL_KERNEL").map(PathBuf::from)))?;
    let qemu_bin = qemu::find_qemu()?;
    check_fits(&initrd, &kernel, &memory)?;

    let dir = tempfile::Builder::new().prefix("ushell-run-").tempdir().context("creating a temporary directory")?;
    let initrd_path = dir.path().join("initrd.cpio");
    let app = PathBuf::from(args.app());
    let out = initrd_path.clone();
    let initrd = within(deadline, "packing the initrd", move || pack(initrd, &app, &out))??;
    for w in &initrd.warnings {
        eprintln!("ushell: warning: {w}");
    }
    let trace_words = trace_cmdline(&args)?;
    let extra = [std::env::var("USHELL_KERNEL_ARGS").unwrap_or_default(), trace_words.unwrap_or_default()].join(" ");
    let mut cfg = VmConfig {
        qemu: qemu_bin,
        kernel,
        initrd: initrd_path,
        ctl: dir.path().join("ctl"),
        accel,
        memory: memory.arg,
        cmdline: kernel_cmdline(args.verbose, Some(&extra)),
        console: None,
    };

    if args.dry_run {
        println!("{}", cfg.shell_line());
        eprintln!("ushell: initrd contents:");
        for line in initrd.listing() {
            eprintln!("  {line}");
        }
        let kept = dir.keep();
        eprintln!("ushell: dry run; initrd kept in {} (delete it when done)", kept.display());
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(outcome) = deadline_spent(deadline) {
        eprintln!("ushell: {}", outcome.failure_message().unwrap_or_default());
        return Ok(ExitCode::from(outcome.exit_status()));
    }
    let reg = register::register(&args)?;
    cfg.console = Some(reg.inst.console());
    if args.verbose {
        eprintln!("ushell: {}", cfg.shell_line());
    }
    reg.log.line(&crate::instance::log::Source::Supervisor, &accel_line);
    for w in &initrd.warnings {
        reg.log.line(&crate::instance::log::Source::Supervisor, &format!("warning: {w}"));
    }
    let foreground = !args.detach;
    let trace = match (&args.trace, &args.trace_output) {
        (None, _) => None,
        (Some(_), Some(p)) => {
            let f = std::fs::File::create(p).map_err(|source| RunError::Write { path: p.clone(), source })?;
            Some((trace_style(&args), Box::new(f) as Box<dyn std::io::Write + Send>))
        }
        (Some(_), None) => Some((trace_style(&args), Box::new(std::io::stderr()) as Box<dyn std::io::Write + Send>)),
    };
    let launch = crate::supervisor::Launch {
        trace,
        cfg,
        deadline,
        inst: reg.inst,
        record: reg.record,
        client_listener: reg.client_listener,
        console_listener: reg.console_listener,
        log: reg.log,
        foreground,
        on_started: Box::new(detach::started),
    };
    let outcome = crate::supervisor::supervise(launch)?;
    if let (Some(msg), true) = (outcome.failure_message(), foreground) {
        eprintln!("ushell: {msg}");
    }
    Ok(ExitCode::from(outcome.exit_status()))
}

/// A `--timeout` already spent (by packing) ends the run before QEMU starts.
fn deadline_spent(deadline: Option<Deadline>) -> Option<Outcome> {
    let d = deadline?;
    d.remaining().is_zero().then_some(Outcome::TimedOut { secs: d.limit.as_secs_f64() })
}

/// When `--timeout` runs out.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub at: Instant,
    pub limit: Duration,
}

impl Deadline {
    fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

/// Runs `work` on a thread and gives up when the deadline passes (the
/// thread is left behind: the process is about to exit with 125). Without
/// a deadline it runs here.
fn within<T: Send + 'static>(deadline: Option<Deadline>, stage: &'static str, work: impl FnOnce() -> T + Send + 'static) -> Result<T, RunError> {
    let Some(d) = deadline else { return Ok(work()) };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(work());
    });
    rx.recv_timeout(d.remaining()).map_err(|_| RunError::TimedOut { secs: d.limit.as_secs_f64(), stage })
}

/// Records rootfs trees, `--file`s, the app and the run description, each
/// host path checked by `stat` and nothing read yet.
fn plan_initrd(args: &RunArgs) -> Result<Initrd, RunError> {
    let mut initrd = Initrd::new();
    for dir in &args.rootfs {
        hostfile::check(dir, Role::Rootfs)?;
    }
    for spec in &args.files {
        let (host, _) = initrd::parse_file_spec(spec)?;
        hostfile::check(&host, Role::File)?;
    }
    let app_path = PathBuf::from(args.app());
    hostfile::check(&app_path, Role::App)?;
    // Checked all first, so the first wrong path is named before a large
    // tree is walked.
    for dir in &args.rootfs {
        initrd.add_tree(dir, "")?;
    }
    for spec in &args.files {
        let (host, guest) = initrd::parse_file_spec(spec)?;
        initrd.add_host_path(&host, &guest, Role::File)?;
    }
    initrd.add_host_path(&app_path, &initrd::guest_path(args.app())?, Role::App)?;
    let env = initrd::environment(&args.env, |k| std::env::var(k).ok())?;
    let argv: Vec<&[u8]> = args.command.iter().map(|a| a.as_bytes()).collect();
    initrd.set_run_description(&argv, &env)?;
    Ok(initrd)
}

/// Refuses an initrd that cannot fit in the guest's RAM beside the kernel.
fn check_fits(initrd: &Initrd, kernel: &std::path::Path, memory: &qemu::Memory) -> Result<(), RunError> {
    let kernel_len = std::fs::metadata(kernel).map_err(|source| RunError::Read { path: kernel.to_path_buf(), source })?.len();
    let size = initrd.encoded_size();
    // QEMU's PVH loader puts the kernel at 1 MiB and the initrd into RAM
    // beside it; less than this can never boot, whatever the app needs.
    let needed = (1 << 20) + kernel_len + size;
    if needed > memory.bytes {
        return Err(RunError::TooBig { initrd: size, kernel: kernel_len, needed, memory: memory.arg.clone() });
    }
    Ok(())
}

/// Reads and inspects the app, then writes the archive to `out`.
fn pack(mut initrd: Initrd, app: &std::path::Path, out: &std::path::Path) -> Result<Initrd, RunError> {
    let guest = initrd::guest_path(app.as_os_str())?;
    let host = initrd.host_file(&guest).cloned().ok_or_else(|| RunError::Changed { path: app.to_path_buf() })?;
    let data = host.read()?;
    let kind = elfcheck::inspect(&data).map_err(|why| RunError::BadApp { path: app.to_path_buf(), why })?;
    if let elfcheck::AppKind::Dynamic { interp } = kind {
        let have = initrd::guest_path(interp.as_ref()).is_ok_and(|g| initrd.has_file(&g));
        if !have {
            return Err(RunError::BadApp {
                path: app.to_path_buf(),
                why: format!(
                    "is dynamically linked (it needs {interp}); build it static \
                     (e.g. `musl-gcc -static` or `gcc -static`), or provide the loader and libraries with --rootfs"
                ),
            });
        }
    }
    initrd.set_data(&guest, data);
    let bytes = initrd.encode()?;
    std::fs::write(out, bytes).map_err(|source| RunError::Write { path: out.to_path_buf(), source })?;
    Ok(initrd)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        run: RunArgs,
    }

    fn parse(args: &[&str]) -> RunArgs {
        Cli::try_parse_from(std::iter::once("run").chain(args.iter().copied())).unwrap().run
    }

    #[test]
    fn app_options_stay_with_the_app() {
        let a = parse(&["-q", "--accel", "tcg", "/bin/busybox", "grep", "-v", "-e", "x", "--timeout", "1"]);
        assert_eq!(a.command, ["/bin/busybox", "grep", "-v", "-e", "x", "--timeout", "1"]);
        assert!(a.quiet && a.env.is_empty() && a.timeout.is_none());
        let a = parse(&["-e", "A=1", "--file", "x:/y", "-m", "32", "./hello", "-q"]);
        assert_eq!(a.command, ["./hello", "-q"]);
        assert!(!a.quiet);
        assert_eq!(a.memory, "32");
        assert_eq!(a.env, ["A=1"]);
        let a = parse(&["--", "-weird-name", "x"]);
        assert_eq!(a.app(), "-weird-name");
        assert!(Cli::try_parse_from(["run", "-q"]).is_err(), "APP is required");
    }
}

fn trace_style(args: &RunArgs) -> crate::systrace::printer::Style {
    crate::systrace::printer::Style { summary: args.summary, json: false, show_time: args.trace_time }
}

/// `--trace[=SET]` and `--ring` as kernel options: the kernel streams from
/// the app's first instruction (`ushell.trace=all` or `ushell.trace=NR,NR`,
/// `ushell.trace_ring=BYTES`).
fn trace_cmdline(args: &RunArgs) -> Result<Option<String>, RunError> {
    let Some(spec) = &args.trace else { return Ok(None) };
    let nrs = crate::systrace::printer::syscall_numbers(Some(spec))
        .map_err(|why| RunError::BadOption { option: "--trace", value: spec.clone(), why: why.trim_start_matches("-e: ").into() })?;
    let set = if nrs.is_empty() { "all".to_string() } else { nrs.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",") };
    let mut w = format!("ushell.trace={set}");
    if let Some(r) = args.ring {
        w.push_str(&format!(" ushell.trace_ring={r}"));
    }
    Ok(Some(w))
}

/// The kernel command line: `ushell.log=debug` for `-v`, then the words of
/// `USHELL_KERNEL_ARGS` (kernel options for tests and benchmarks, such as
/// `ushell.test=ticker` or `ushell.sleep=poll`).
fn kernel_cmdline(verbose: bool, extra: Option<&str>) -> String {
    let mut words: Vec<&str> = Vec::new();
    if verbose {
        words.push("ushell.log=debug");
    }
    words.extend(extra.unwrap_or("").split_whitespace());
    words.join(" ")
}

#[cfg(test)]
mod cmdline_tests {
    use super::kernel_cmdline;

    #[test]
    fn verbose_and_extra_words() {
        assert_eq!(kernel_cmdline(false, None), "");
        assert_eq!(kernel_cmdline(true, None), "ushell.log=debug");
        assert_eq!(kernel_cmdline(true, Some("  ushell.test=ticker  ushell.sleep=poll ")), "ushell.log=debug ushell.test=ticker ushell.sleep=poll");
        assert_eq!(kernel_cmdline(false, Some("a")), "a");
    }
}

#[cfg(test)]
mod deadline_tests {
    use super::*;

    #[test]
    fn work_that_never_ends_times_out_with_its_stage() {
        // The sender is kept alive inside the closure's blocked receive, so
        // the work really never finishes: only the deadline can end the wait.
        let (_keep, blocked) = std::sync::mpsc::channel::<()>();
        let d = Deadline { at: Instant::now() + Duration::from_millis(50), limit: Duration::from_millis(50) };
        let r = within(Some(d), "packing the initrd", move || blocked.recv());
        let e = r.map(|_| ()).unwrap_err();
        assert!(matches!(e, RunError::TimedOut { stage: "packing the initrd", .. }), "{e}");
        assert_eq!(e.to_string(), "timed out after 0.05 s while packing the initrd");
    }

    #[test]
    fn work_that_ends_returns_its_value() {
        assert_eq!(within(None, "x", || 7).unwrap(), 7);
        let d = Deadline { at: Instant::now() + Duration::from_secs(600), limit: Duration::from_secs(600) };
        assert_eq!(within(Some(d), "x", || 8).unwrap(), 8);
    }

    #[test]
    fn a_spent_deadline_ends_the_run_before_qemu() {
        let d = Deadline { at: Instant::now(), limit: Duration::from_secs(3) };
        assert_eq!(deadline_spent(Some(d)), Some(Outcome::TimedOut { secs: 3.0 }));
        assert_eq!(deadline_spent(None), None);
        let later = Deadline { at: Instant::now() + Duration::from_secs(600), limit: Duration::from_secs(600) };
        assert_eq!(deadline_spent(Some(later)), None);
    }

    #[test]
    fn initrds_that_cannot_fit_are_refused_before_packing() {
        let tmp = tempfile::tempdir().unwrap();
        let kernel = tmp.path().join("kernel");
        std::fs::write(&kernel, vec![0u8; 300 << 10]).unwrap();
        let app = tmp.path().join("app");
        // Sparse: 3 MiB by stat, nothing to read, and nothing is read.
        std::fs::File::create(&app).unwrap().set_len(3 << 20).unwrap();
        let mut i = Initrd::new();
        i.add_host_path(&app, "app", Role::App).unwrap();
        let small = qemu::parse_memory("4M").unwrap();
        let e = check_fits(&i, &kernel, &small).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, RunError::TooBig { .. }) && msg.contains("-m 4M") && msg.contains("pass -m 5M or more"), "{msg}");
        assert!(check_fits(&i, &kernel, &qemu::parse_memory("5M").unwrap()).is_ok());
    }
}
