//! The instance supervisor: what `ushell run` is while its VM runs. It
//! owns QEMU, the app's stdio, the instance log and two sockets: the guest
//! console (QEMU connects to it, the supervisor is its only client) and the
//! instance socket, where later `ushell` invocations ask for things. One
//! hub thread ([`hub`]) routes between them through the multiplexer
//! ([`mux`]); the instance socket speaks [`wire`].
//!
//! ```text
//!  ushell load/exec/.. ─┐                        ┌─ QEMU stdout ─► our stdout + log [stdout]
//!  ushell shell (REPL) ─┼─ NAME/sock ─► hub ◄─► console.sock ─ virtconsole ─ kernel shell
//!  ushell wait/logs -f ─┘               │        └─ QEMU stderr ─► our stderr + log [stderr]/[kernel]
//!                                       └─ log [prog ..] [kernel] [ushell]
//! ```

pub mod hub;
pub mod mux;
mod sockets;
mod stdio;
mod vm;
pub mod wire;

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::instance::log::{InstanceLog, Source};
use crate::instance::{InstanceDir, Record, State};
use crate::run::qemu::{Outcome, VmConfig};
use crate::run::Deadline;

pub use sockets::bind_private;

/// Everything a supervised run needs; the sockets are bound and the log
/// is open, so a client can connect as soon as the record exists.
pub struct Launch {
    pub cfg: VmConfig,
    pub deadline: Option<Deadline>,
    pub inst: InstanceDir,
    pub record: Record,
    pub client_listener: std::os::unix::net::UnixListener,
    pub console_listener: std::os::unix::net::UnixListener,
    pub log: Arc<InstanceLog>,
    /// Foreground: the app's output also goes to our stdout/stderr, and
    /// our stdin to the app.
    pub foreground: bool,
    /// Called once QEMU runs (detached: tells the waiting parent).
    pub on_started: Box<dyn FnOnce()>,
    /// `ushell run --trace`: how and where the stream from boot is printed.
    pub trace: Option<(crate::systrace::printer::Style, Box<dyn std::io::Write + Send>)>,
}

/// Runs the VM to its end while serving the instance; returns how it ended.
pub fn supervise(l: Launch) -> anyhow::Result<Outcome> {
    let Launch { cfg, deadline, inst, mut record, client_listener, console_listener, log, foreground, on_started, trace } = l;
    record.write(&inst.record())?;
    log.line(&Source::Supervisor, &format!("instance {} started (supervisor pid {}): {}", record.name, record.pid.pid, record.command_line()));

    let mut child = match Command::new(&cfg.qemu)
        .args(cfg.args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            let msg = format!("cannot start {}: {e}", cfg.qemu.to_string_lossy());
            finish(&inst, &mut record, &log, 125, Some(msg.clone()));
            anyhow::bail!(msg);
        }
    };
    let to_guest = child.stdin.take().context("QEMU's stdin pipe")?;
    let ctl_path = cfg.ctl.clone();
    // Kept (not joined): it may stay blocked reading a terminal the app
    // never asked for.
    let _forwarder = std::thread::spawn(move || {
        crate::run::stdin::wait_until_ready(&ctl_path);
        crate::run::stdin::forward(std::io::stdin().lock(), to_guest)
    });
    let copiers = [
        stdio::copy(child.stdout.take().context("QEMU's stdout pipe")?, stdio::Stream::Stdout, foreground, log.clone()),
        stdio::copy(child.stderr.take().context("QEMU's stderr pipe")?, stdio::Stream::Stderr, foreground, log.clone()),
    ];

    let stop = Arc::new(AtomicBool::new(false));
    let (hub_tx, hub_rx) = channel();
    // The printer of `run --trace`: its sender lives in the hub, so the
    // stream ends when the hub does.
    let (trace_tx, printer) = match trace {
        Some((style, out)) => {
            let (tx, rx) = channel::<shellproto::Event>();
            let h = std::thread::spawn(move || {
                let mut p = crate::systrace::printer::Printer::new(style, out);
                for ev in rx {
                    p.event(&ev);
                }
                p
            });
            (Some(tx), Some(h))
        }
        None => (None, None),
    };
    let env = hub::HubEnv {
        name: record.name.clone(),
        app: record.command_line(),
        log: log.clone(),
        stop: Box::new({
            let stop = stop.clone();
            move || stop.store(true, Ordering::SeqCst)
        }),
        trace: trace_tx,
    };
    let hub_thread = std::thread::spawn(move || hub::run(env, hub_rx));
    let writers = Arc::new(sockets::WriterCount::default());
    let guest_read = sockets::serve_guest(console_listener, hub_tx.clone());
    sockets::serve_clients(client_listener, hub_tx.clone(), writers.clone());

    record.qemu_pid = Some(child.id());
    record.write(&inst.record())?;
    on_started();

    let end = vm::watch(child, deadline.map(|d| d.at), stop)?;
    for c in copiers {
        let _ = c.join();
    }
    // What the console sent before the VM ended (the last syscall records)
    // reaches the hub before the exit is announced.
    guest_read.wait(Duration::from_secs(2));
    let outcome = match end {
        vm::VmEnd::Exited(st) => {
            let ctl = std::fs::read(&cfg.ctl).unwrap_or_default();
            Outcome::from_run(&String::from_utf8_lossy(&ctl), st.code())
        }
        vm::VmEnd::TimedOut => Outcome::TimedOut { secs: deadline.map_or(0.0, |d| d.limit.as_secs_f64()) },
        vm::VmEnd::Stopped => Outcome::Stopped,
    };
    let status = outcome.exit_status();
    let message = outcome.failure_message();
    finish(&inst, &mut record, &log, status, message.clone());
    let _ = hub_tx.send(hub::HubMsg::Exited { status, message });
    let _ = hub_thread.join();
    log.close();
    if let Some(h) = printer {
        if let Ok(mut p) = h.join() {
            let end = match outcome {
                Outcome::Exited(n) => Some(crate::systrace::printer::End::from_status(n, &std::fs::read_to_string(&record.log).unwrap_or_default())),
                _ => None,
            };
            p.finish(end);
        }
    }
    writers.wait_idle(Duration::from_secs(2));
    for p in [inst.socket(), inst.console()] {
        let _ = std::fs::remove_file(p);
    }
    if record.remove_on_exit {
        let _ = std::fs::remove_dir_all(&inst.dir);
    }
    Ok(outcome)
}

/// Records the end: in the log, and in the record (before any client is
/// told, so one that finds the socket gone reads the final record).
fn finish(inst: &InstanceDir, record: &mut Record, log: &InstanceLog, status: u8, message: Option<String>) {
    if let Some(m) = &message {
        log.line(&Source::Supervisor, m);
    }
    log.line(&Source::Supervisor, &format!("exited with status {status}"));
    record.state = State::Exited;
    record.status = Some(status);
    record.message = message;
    record.finished_unix = Some(crate::instance::now_unix());
    if let Err(e) = record.write(&inst.record()) {
        log.line(&Source::Supervisor, &format!("cannot write the record: {e}"));
    }
}
