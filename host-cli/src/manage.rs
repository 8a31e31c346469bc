//! The instance commands that are not the kernel's: `ps`, `wait`, `stop`,
//! `logs`, `rm`; one-shot kernel commands (`ushell progs` ...); and the
//! hidden `raw` test hook.
//!
//! Exit status of commands on an instance: 0 done; 1 the kernel refused
//! (a verifier rejection, no such program, a map error); 125 `ushell`
//! could not ask (no such instance, it exited, the connection failed).

use std::io::{Read, Write};
use std::process::ExitCode;

use clap::Args;

use crate::client::{ClientError, Conn};
use crate::commands::{self, InstanceCmd, Session};
use crate::instance::{Record, RuntimeDir, State};
use crate::supervisor::wire::{FromSup, ToSup};

#[derive(Args, Debug)]
pub struct PsArgs {
    /// JSON: a list of objects with name, state, status, pid, app, socket, ...
    #[arg(short, long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct NameArg {
    /// The instance (default: -i, else the only running one).
    pub name: Option<String>,
}

impl NameArg {
    pub fn pick(self, global: Option<&str>) -> Option<String> {
        self.name.or_else(|| global.map(str::to_owned))
    }
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// The instance (default: -i, else the only running one).
    pub name: Option<String>,
    /// Keep printing new lines until the instance exits.
    #[arg(short, long)]
    pub follow: bool,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Instances to remove (exited ones only).
    pub names: Vec<String>,
    /// Remove every exited instance.
    #[arg(long)]
    pub exited: bool,
}

#[derive(Args, Debug)]
pub struct RawArgs {
    /// Seconds to keep printing what comes back after sending.
    #[arg(long, default_value_t = 2.0)]
    pub listen: f64,
}

fn status_code(n: u8) -> ExitCode {
    ExitCode::from(n)
}

pub fn ps(a: PsArgs) -> anyhow::Result<ExitCode> {
    let rt = RuntimeDir::open()?;
    let listing = rt.list()?;
    for name in &listing.removed_stale {
        eprintln!("ushell: removed the stale record of `{name}` (its supervisor is gone)");
    }
    let now = crate::instance::now_unix();
    if a.json {
        let v: Vec<serde_json::Value> = listing.records.iter().map(|r| ps_json(r, now)).collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = listing
        .records
        .iter()
        .map(|r| vec![r.name.clone(), r.state_text(), r.pid.pid.to_string(), uptime(r.uptime(now)), r.command_line()])
        .collect();
    print!("{}", commands::format::table(&["NAME", "STATE", "PID", "UPTIME", "APP"], &rows));
    Ok(ExitCode::SUCCESS)
}

pub fn ps_json(r: &Record, now: f64) -> serde_json::Value {
    serde_json::json!({
        "name": r.name,
        "state": r.state,
        "status": r.status,
        "pid": r.pid.pid,
        "qemu_pid": r.qemu_pid,
        "app": r.app,
        "args": r.args,
        "socket": r.socket,
        "log": r.log,
        "detached": r.detached,
        "started": r.started_unix,
        "uptime_secs": (r.uptime(now) * 1000.0).round() / 1000.0,
        "message": r.message,
    })
}

fn uptime(secs: f64) -> String {
    let s = secs as u64;
    match s {
        0..=59 => format!("{secs:.1}s"),
        60..=3599 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
    }
}

pub fn wait(name: Option<String>) -> anyhow::Result<ExitCode> {
    let rt = RuntimeDir::open()?;
    let rec = rt.resolve(name.as_deref(), true)?;
    let (status, message) = wait_for(&rt, &rec)?;
    if let Some(m) = message {
        eprintln!("ushell: {}: {m}", rec.name);
    }
    Ok(status_code(status))
}

/// The app's exit status: from the supervisor when it ends, or from the
/// record if it has ended already.
fn wait_for(rt: &RuntimeDir, rec: &Record) -> anyhow::Result<(u8, Option<String>)> {
    if rec.state == State::Running {
        // A connection that fails or closes (the instance is ending right
        // now) leaves the record to say how it ended.
        if let Ok(conn) = Conn::connect(rec) {
            if conn.send(&ToSup::Wait).is_ok() {
                while let Some(m) = conn.recv_sup() {
                    if let FromSup::Exited { status, message } = m {
                        return Ok((status, message));
                    }
                }
            }
        }
    }
    // The supervisor writes the record before it closes its socket.
    let r = rt.find(&rec.name)?;
    match (r.state, r.status) {
        (State::Exited, Some(s)) => Ok((s, r.message)),
        _ => anyhow::bail!("instance `{}` ended without recording an exit status", rec.name),
    }
}

pub fn stop(name: Option<String>) -> anyhow::Result<ExitCode> {
    let rt = RuntimeDir::open()?;
    let rec = rt.resolve(name.as_deref(), false)?;
    let conn = Conn::connect(&rec)?;
    let sent = conn.send(&ToSup::Wait).and_then(|()| conn.send(&ToSup::Stop));
    while let Some(m) = sent.as_ref().ok().and_then(|()| conn.recv_sup()) {
        if let FromSup::Exited { status, .. } = m {
            println!("{} stopped (status {status})", rec.name);
            return Ok(ExitCode::SUCCESS);
        }
    }
    let r = rt.find(&rec.name)?;
    println!("{} {}", r.name, r.state_text());
    Ok(ExitCode::SUCCESS)
}

pub fn logs(global: Option<&str>, a: LogsArgs) -> anyhow::Result<ExitCode> {
    let rt = RuntimeDir::open()?;
    let name = a.name.as_deref().or(global);
    let rec = rt.resolve(name, true)?;
    let mut out = std::io::stdout().lock();
    if a.follow && rec.state == State::Running {
        if let Ok(conn) = Conn::connect(&rec) {
            let started = conn.send(&ToSup::FollowLog).ok().and_then(|()| conn.recv_sup());
            if let Some(FromSup::LogFrom { offset }) = started {
                let text = std::fs::read(&rec.log)?;
                let upto = (offset as usize).min(text.len());
                // A reader that has seen enough (`| grep -m 1`) ends the
                // command quietly, as it does in the loop below.
                if out.write_all(&text[..upto]).and_then(|()| out.flush()).is_err() {
                    return Ok(ExitCode::SUCCESS);
                }
                while let Some(m) = conn.recv_sup() {
                    if let FromSup::Log(line) = m {
                        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
                            return Ok(ExitCode::SUCCESS);
                        }
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
        }
    }
    let text = std::fs::read(&rec.log).map_err(|e| anyhow::anyhow!("cannot read the log of `{}` at {}: {e}", rec.name, rec.log.display()))?;
    match out.write_all(&text).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(ExitCode::SUCCESS),
    }
}

pub fn rm(global: Option<&str>, a: RmArgs) -> anyhow::Result<ExitCode> {
    let rt = RuntimeDir::open()?;
    let mut names = a.names.clone();
    if let (true, Some(g)) = (names.is_empty() && !a.exited, global) {
        names.push(g.to_string());
    }
    if a.exited {
        names.extend(rt.list()?.records.into_iter().filter(|r| r.state == State::Exited).map(|r| r.name));
    }
    if names.is_empty() {
        anyhow::bail!("name the instances to remove (or pass --exited); `ushell ps` lists them");
    }
    let mut failed = false;
    for n in names {
        match rt.remove(&n) {
            Ok(()) => println!("{n}"),
            Err(e) => {
                eprintln!("ushell: error: {e}");
                failed = true;
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Connects to the instance `-i` names (or the only running one) and says hello.
pub fn session(global: Option<&str>) -> anyhow::Result<Session> {
    let rt = RuntimeDir::open()?;
    let rec = rt.resolve(global, false)?;
    let mut conn = Conn::connect(&rec)?;
    conn.patience_note = true;
    Ok(Session::open(conn)?)
}

pub fn one_shot(global: Option<&str>, cmd: &InstanceCmd) -> anyhow::Result<ExitCode> {
    let s = session(global)?;
    match commands::run(&s, cmd) {
        Ok(done) => {
            print!("{}", done.text);
            Ok(if done.failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Err(ClientError::Shell(e)) => {
            eprintln!("ushell: {}: {e}", cmd.name());
            Ok(ExitCode::from(1))
        }
        Err(ClientError::Usage(m)) => {
            eprintln!("ushell: {}: {m}", cmd.name());
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

/// `ushell raw`: stdin's bytes to the guest console verbatim; prints each
/// unattributed answer (bad frames, replies to ids the supervisor never
/// sent) as a line, for `--listen` seconds.
pub fn raw(global: Option<&str>, a: RawArgs) -> anyhow::Result<ExitCode> {
    let rt = RuntimeDir::open()?;
    let rec = rt.resolve(global, false)?;
    let conn = Conn::connect(&rec)?;
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes)?;
    for piece in bytes.chunks(shellproto::MAX_FRAME / 2) {
        conn.send(&ToSup::Raw(piece.to_vec()))?;
    }
    let until = std::time::Instant::now() + std::time::Duration::from_secs_f64(a.listen.max(0.0));
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        match conn.recv_sup_timeout(left) {
            Ok(FromSup::Shell(m)) => println!("{m:?}"),
            Ok(FromSup::Error(e)) => println!("error: {e}"),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::instance::ProcessId;

    #[test]
    fn ps_json_has_the_documented_fields() {
        let r = Record {
            name: "web".into(),
            state: State::Exited,
            pid: ProcessId { pid: 42, start_ticks: 7 },
            qemu_pid: Some(43),
            app: "/bin/app".into(),
            args: vec!["-x".into()],
            detached: true,
            started_unix: 100.0,
            finished_unix: Some(102.5),
            status: Some(3),
            message: None,
            socket: "/run/u/ushell/web/sock".into(),
            log: "/run/u/ushell/web/log".into(),
            remove_on_exit: false,
        };
        let v = ps_json(&r, 500.0);
        assert_eq!(v["name"], "web");
        assert_eq!(v["state"], "exited");
        assert_eq!(v["status"], 3);
        assert_eq!(v["pid"], 42);
        assert_eq!(v["app"], "/bin/app");
        assert_eq!(v["socket"], "/run/u/ushell/web/sock");
        assert_eq!(v["uptime_secs"], 2.5, "until the exit, not until now");
        assert_eq!(uptime(75.0), "1m15s");
        assert_eq!(uptime(3.25), "3.2s");
    }
}
