//! `ushell trace` (issue 11): the syscalls of a running instance's app,
//! from now on, in strace's format (or `-c`'s table), until Ctrl-C (which
//! detaches: the app keeps running) or the app's exit; and `--hist
//! SYSCALL`, a latency histogram counted by a BPF program in the kernel
//! (`bpf-progs/syslat.c`, embedded in `ushell`). `ushell run --trace` uses
//! the same [`printer`] for a stream that starts at boot.

pub mod printer;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::Context;
use shellproto::{Event, Ref, Reply, Request};

use crate::client::{upload, ClientError, Conn};
use crate::commands::Session;
use crate::instance::{Record, RuntimeDir};
use crate::supervisor::wire::{FromSup, ToSup};
use printer::{End, Printer, Style};

#[derive(clap::Args, Debug, Clone, PartialEq)]
#[command(after_help = "\
Examples:
  ushell trace                      # every call of the only running instance, until Ctrl-C
  ushell trace web -e openat,read -T
  ushell trace -c                   # Ctrl-C (or the app's exit) prints strace -c's table
  ushell trace -o calls.txt --ring 4194304
  ushell trace --hist nanosleep     # latency histogram (bpftrace hist() format)

Lines are strace's (`openat(AT_FDCWD, \"/etc/hosts\", O_RDONLY) = 3`), from the moment the \
command starts. Ctrl-C detaches and leaves the app running; when the app exits, the last line \
is `+++ exited with N +++` (or `+++ killed by SIGSEGV +++`) and ushell exits with the app's \
status. Records the kernel's ring buffer had to drop are reported in the stream \
(`ushell: N syscall records lost (ring buffer full)`); a larger --ring helps. One `ushell \
trace` at a time per instance (--hist excepted: it uses BPF programs, not the stream).")]
pub struct TraceArgs {
    /// The instance (default: the only running one; `-i NAME` works too).
    pub name: Option<String>,
    /// Only these syscalls (strace's `-e trace=...`): `-e openat,read`.
    #[arg(short = 'e', value_name = "SYSCALL[,...]")]
    pub syscalls: Option<String>,
    /// Show the time spent in each call (`<0.000012>`).
    #[arg(short = 'T')]
    pub time: bool,
    /// One JSON object per call.
    #[arg(short, long)]
    pub json: bool,
    /// Write the trace to FILE instead of stdout.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Count calls, errors and time per syscall; print strace -c's table at the end.
    #[arg(short = 'c', long = "summary", conflicts_with = "json")]
    pub summary: bool,
    /// The kernel's ring buffer for the records, in bytes (default 1 MiB; 8 KiB to 64 MiB).
    #[arg(long, value_name = "BYTES")]
    pub ring: Option<u32>,
    /// A latency histogram of SYSCALL (name or number), counted in the kernel by
    /// bpf-progs/syslat.c, printed at the end as bpftrace's hist().
    #[arg(long, value_name = "SYSCALL", conflicts_with_all = ["syscalls", "summary", "json", "time", "ring"])]
    pub hist: Option<String>,
    /// Stop after SECS seconds (as Ctrl-C would).
    #[arg(long, value_name = "SECS")]
    pub duration: Option<f64>,
}

/// Set by SIGINT, SIGTERM and SIGHUP (signal-hook's handler only stores
/// to it).
static STOP: std::sync::LazyLock<Arc<AtomicBool>> = std::sync::LazyLock::new(Default::default);

fn catch_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        if let Err(e) = signal_hook::flag::register(sig, Arc::clone(&STOP)) {
            eprintln!("ushell: cannot catch signal {sig} ({e}): Ctrl-C will not print the summary");
        }
    }
}

/// When the command ends by itself: Ctrl-C or `--duration`.
struct Until(Option<Instant>);

impl Until {
    fn new(secs: Option<f64>) -> anyhow::Result<Until> {
        let d = secs
            .map(|s| Duration::try_from_secs_f64(s).ok().filter(|d| !d.is_zero()).context("--duration must be a number of seconds > 0"))
            .transpose()?;
        Ok(Until(d.map(|d| Instant::now() + d)))
    }

    fn reached(&self) -> bool {
        STOP.load(Ordering::SeqCst) || self.0.is_some_and(|t| Instant::now() >= t)
    }
}

fn output(path: &Option<PathBuf>) -> anyhow::Result<Box<dyn Write + Send>> {
    Ok(match path {
        Some(p) => Box::new(std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?),
        None => Box::new(std::io::stdout()),
    })
}

/// How the instance ended: its status and the end line's facts.
fn ended(rec: &Record, status: u8) -> End {
    End::from_status(status, &std::fs::read_to_string(&rec.log).unwrap_or_default())
}

/// The app's exit as the supervisor announces it (or as the record says,
/// when the connection closed first).
fn exit_of(rt: &RuntimeDir, rec: &Record, m: Result<FromSup, RecvTimeoutError>) -> Option<(u8, Option<String>)> {
    match m {
        Ok(FromSup::Exited { status, message }) => Some((status, message)),
        Err(RecvTimeoutError::Disconnected) => match rt.find(&rec.name) {
            Ok(r) => Some((r.status.unwrap_or(runproto::HOST_FAILURE_STATUS as u8), r.message)),
            Err(_) => Some((runproto::HOST_FAILURE_STATUS as u8, Some("the instance's supervisor went away".into()))),
        },
        _ => None,
    }
}

fn refused(what: &str, e: ClientError) -> anyhow::Result<ExitCode> {
    match e {
        ClientError::Shell(e) => {
            eprintln!("ushell: {what}: {e}");
            Ok(ExitCode::from(1))
        }
        ClientError::Failed(m) => {
            eprintln!("ushell: {what}: {m}");
            Ok(ExitCode::from(1))
        }
        ClientError::Usage(m) => {
            eprintln!("ushell: {what}: {m}");
            Ok(ExitCode::from(2))
        }
        e => Err(e.into()),
    }
}

pub fn main(global: Option<&str>, a: TraceArgs) -> anyhow::Result<ExitCode> {
    let rt = RuntimeDir::open()?;
    let rec = rt.resolve(a.name.as_deref().or(global), false)?;
    let until = Until::new(a.duration)?;
    let syscalls = match printer::syscall_numbers(a.syscalls.as_deref()) {
        Ok(n) => n,
        Err(m) => return refused("trace", ClientError::Usage(m)),
    };
    let hist_nr = match a.hist.as_deref().map(syscall_nr).transpose() {
        Ok(n) => n,
        Err(m) => return refused("trace", ClientError::Usage(m)),
    };
    let mut conn = Conn::connect(&rec)?;
    conn.patience_note = true;
    let s = Session::open(conn)?;
    let (tx, events) = channel::<Event>();
    s.conn.on_events(move |ev| {
        let _ = tx.send(ev);
    });
    s.conn.send(&ToSup::Wait)?;
    catch_signals();
    match hist_nr {
        Some(nr) => hist(&rt, &rec, &s, &a, nr, &until),
        None => stream(&rt, &rec, &s, &a, syscalls, events, &until),
    }
}

fn stream(rt: &RuntimeDir, rec: &Record, s: &Session, a: &TraceArgs, syscalls: Vec<u16>, events: Receiver<Event>, until: &Until) -> anyhow::Result<ExitCode> {
    let out = output(&a.output)?;
    let ring_bytes = match s.conn.call(Request::TraceStart { syscalls, ring_bytes: a.ring.unwrap_or(0) }) {
        Ok(Reply::TraceStarted { ring_bytes }) => ring_bytes,
        Ok(other) => return Err(crate::commands::unexpected("trace", other).into()),
        Err(e) => return refused("trace", e),
    };
    eprintln!("ushell: tracing the syscalls of {} (ring buffer of {ring_bytes} bytes); Ctrl-C detaches", rec.name);
    let mut p = Printer::new(Style { summary: a.summary, json: a.json, show_time: a.time }, out);
    loop {
        match events.recv_timeout(Duration::from_millis(50)) {
            Ok(ev) => p.event(&ev),
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {}
        }
        if let Some((status, message)) = exit_of(rt, rec, s.conn.recv_sup_timeout(Duration::ZERO)) {
            // Every event that came before the exit is in the queue already.
            while let Ok(ev) = events.try_recv() {
                p.event(&ev);
            }
            p.finish(Some(ended(rec, status)));
            if let Some(m) = message {
                eprintln!("ushell: {}: {m}", rec.name);
            }
            return Ok(ExitCode::from(status));
        }
        if until.reached() || p.broken {
            match s.conn.call(Request::TraceStop) {
                Ok(Reply::TraceStopped { records, lost }) => {
                    while let Ok(ev) = events.try_recv() {
                        p.event(&ev);
                    }
                    p.finish(None);
                    eprintln!("ushell: detached from {} (it keeps running): {records} records, {lost} lost", rec.name);
                    return Ok(ExitCode::SUCCESS);
                }
                // The instance is exiting: its exit comes next.
                Ok(_) | Err(_) => {
                    STOP.store(false, Ordering::SeqCst);
                    let m = s.conn.recv_sup_timeout(Duration::from_secs(10));
                    let (status, _) = exit_of(rt, rec, m).unwrap_or((runproto::HOST_FAILURE_STATUS as u8, None));
                    while let Ok(ev) = events.try_recv() {
                        p.event(&ev);
                    }
                    p.finish(Some(ended(rec, status)));
                    return Ok(ExitCode::from(status));
                }
            }
        }
    }
}

/// A syscall by name (`nanosleep`) or number (`35`).
pub fn syscall_nr(s: &str) -> Result<u16, String> {
    if let Ok(n) = s.parse::<u16>() {
        return Ok(n);
    }
    linux_abi::sysno::SYSCALLS.iter().find(|(_, n)| *n == s).map(|(nr, _)| *nr as u16).ok_or_else(|| format!("--hist: no syscall named `{s}`"))
}

/// bpf-progs/syslat.c, compiled by build.rs.
const SYSLAT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/syslat.o"));

/// The buckets of syslat's `hist` map.
fn read_hist(s: &Session, map: u32) -> Result<strace::Histogram, ClientError> {
    let (_, entries) = crate::commands::dump(s, &map.to_string())?;
    let mut h = strace::Histogram::new();
    for e in entries {
        if let (Ok(k), Ok(v)) = (<[u8; 4]>::try_from(&e.key[..]), <[u8; 8]>::try_from(&e.value[..])) {
            h.set(u32::from_le_bytes(k) as usize, u64::from_le_bytes(v));
        }
    }
    Ok(h)
}

fn hist(rt: &RuntimeDir, rec: &Record, s: &Session, a: &TraceArgs, nr: u16, until: &Until) -> anyhow::Result<ExitCode> {
    let name = linux_abi::syscall_name(nr as usize).map_or_else(|| format!("syscall {nr}"), String::from);
    if SYSLAT.is_empty() {
        anyhow::bail!("this ushell was built without clang, so without bpf-progs/syslat.c; install clang and libbpf-dev and rebuild it");
    }
    let mut out = output(&a.output)?;
    let obj = match upload::load_bytes(&s.conn, &s.hello, "syslat.o", SYSLAT, shellproto::Engine::default()) {
        Ok(o) => o,
        Err(e) => return refused("trace --hist", e),
    };
    // Global data maps are named after the object (`syslat.data`).
    let map = |n: &str| obj.maps.iter().find(|m| m.name == n || (n == ".data" && m.global_data && m.name.ends_with(".data"))).map(|m| m.id);
    let prog = |n: &str| obj.progs.iter().find(|p| p.name == n).map(|p| p.id);
    let (Some(data), Some(hist_map), Some(enter), Some(exit)) = (map(".data"), map("hist"), prog("syslat_enter"), prog("syslat_exit")) else {
        anyhow::bail!("the kernel loaded syslat.o without its maps `.data` and `hist` or its programs: {obj:?}");
    };
    let unload = || {
        for p in [enter, exit] {
            let _ = s.conn.call(Request::Unload { prog: Ref::Id(p) });
        }
    };
    let setup = (|| -> Result<(), ClientError> {
        s.conn.call(Request::MapUpdate { map: Ref::Id(data), key: 0u32.to_le_bytes().to_vec(), value: (nr as u32).to_le_bytes().to_vec(), flags: 0 })?;
        // The exit program first: a call it sees without a start is skipped.
        for p in [exit, enter] {
            s.conn.call(Request::Attach { func: None, prog: Ref::Id(p), nr_args: None })?;
        }
        Ok(())
    })();
    if let Err(e) = setup {
        unload();
        return refused("trace --hist", e);
    }
    eprintln!("ushell: counting the latency of {name} in {} (syslat.o, object {}); Ctrl-C prints the histogram", rec.name, obj.id);
    let mut last = strace::Histogram::new();
    let mut read_at = Instant::now();
    loop {
        if let Some((status, message)) = exit_of(rt, rec, s.conn.recv_sup_timeout(Duration::from_millis(100))) {
            // The VM is gone with its map: the last reading is what there is.
            write!(out, "{}", last.render("usecs"))?;
            eprintln!(
                "ushell: {} exited; the histogram was read {:.1} s before ({} calls of {name}; later calls are not in it)",
                rec.name,
                read_at.elapsed().as_secs_f64(),
                last.total()
            );
            if let Some(m) = message {
                eprintln!("ushell: {}: {m}", rec.name);
            }
            return Ok(ExitCode::from(status));
        }
        if until.reached() {
            break;
        }
        if read_at.elapsed() >= Duration::from_millis(500) {
            if let Ok(h) = read_hist(s, hist_map) {
                last = h;
                read_at = Instant::now();
            }
        }
    }
    // The enter program first, so no call is left half-measured.
    for p in [enter, exit] {
        if let Err(e) = s.conn.call(Request::Detach { func: None, prog: Ref::Id(p) }) {
            return refused("trace --hist", e);
        }
    }
    let h = match read_hist(s, hist_map) {
        Ok(h) => h,
        Err(e) => return refused("trace --hist", e),
    };
    unload();
    write!(out, "{}", h.render("usecs"))?;
    out.flush()?;
    eprintln!("ushell: {} calls of {name}; syslat.o detached and unloaded ({} keeps running)", h.total(), rec.name);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syscalls_by_name_or_number() {
        assert_eq!(syscall_nr("nanosleep"), Ok(35));
        assert_eq!(syscall_nr("0"), Ok(0));
        assert!(syscall_nr("nope").unwrap_err().contains("no syscall named `nope`"));
    }

    #[test]
    fn syslat_is_embedded_and_verifies() {
        assert!(!SYSLAT.is_empty(), "build.rs compiles bpf-progs/syslat.c");
        let obj = bpf_runtime::loader::parse(SYSLAT).unwrap();
        let names: Vec<(&str, &str)> = obj.programs.iter().map(|p| (p.name.as_str(), p.section.as_str())).collect();
        assert_eq!(names, [("syslat_enter", "tracepoint/raw_syscalls/sys_enter"), ("syslat_exit", "tracepoint/raw_syscalls/sys_exit")]);
    }
}
