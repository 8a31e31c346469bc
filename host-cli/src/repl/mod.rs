//! `ushell shell` (and `ushell` alone): a rustyline REPL on an instance.
//! The same commands as the command line, `help` and `help CMD`, history
//! (kept in `$XDG_STATE_HOME/ushell/history`), Tab completion of commands
//! and of the instance's program, map and symbol names, and the kernel's
//! events (program output, kernel lines) printed above the prompt as they
//! arrive, through rustyline's external printer.

mod complete;

use std::borrow::Cow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{DefaultHistory, History};
use rustyline::validate::Validator;
use rustyline::{Context, Editor, ExternalPrinter as _};
use shellproto::{Reply, Request};

use crate::client::ClientError;
use crate::commands::help::{self, ReplCmd, ReplLine};
use crate::commands::{self, format, Session};
use crate::supervisor::wire::ToSup;

struct InstanceNames<'a>(&'a Session);

impl complete::Names for InstanceNames<'_> {
    fn progs(&self) -> Vec<String> {
        commands::names(self.0).0
    }
    fn maps(&self) -> Vec<String> {
        commands::names(self.0).1
    }
    fn symbols(&self, prefix: &str) -> Vec<String> {
        match self.0.conn.call(Request::SymSearch { pattern: format!("{prefix}*"), limit: 200 }) {
            Ok(Reply::Symbols { symbols, .. }) => symbols.into_iter().map(|s| s.name).collect(),
            _ => Vec::new(),
        }
    }
    fn sites(&self, prefix: &str) -> Vec<String> {
        match self.0.conn.call(Request::Sites { pattern: format!("{prefix}*"), limit: 200 }) {
            Ok(Reply::Sites { sites, .. }) => sites.into_iter().map(|s| s.name).collect(),
            _ => Vec::new(),
        }
    }
}

struct ReplHelper {
    session: Arc<Session>,
    files: FilenameCompleter,
}

impl Completer for ReplHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let (start, want, names) = complete::candidates(line, pos, &InstanceNames(&self.session));
        let mut pairs: Vec<Pair> = names.into_iter().map(|n| Pair { display: n.clone(), replacement: n }).collect();
        if matches!(want, complete::Want::File | complete::Want::ProgOrFile | complete::Want::SiteOrFile) {
            let (fstart, files) = self.files.complete(line, pos, ctx)?;
            if pairs.is_empty() {
                return Ok((fstart, files));
            }
            if fstart == start {
                pairs.extend(files);
            }
        }
        Ok((start, pairs))
    }
}

impl Hinter for ReplHelper {
    type Hint = String;
}
impl Highlighter for ReplHelper {
    fn highlight_prompt<'b, 's: 'b, 'p: 'b>(&'s self, prompt: &'p str, _default: bool) -> Cow<'b, str> {
        Cow::Borrowed(prompt)
    }
}
impl Validator for ReplHelper {}
impl rustyline::Helper for ReplHelper {}

fn history_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))?;
    Some(state.join("ushell/history"))
}

pub fn main(global: Option<&str>) -> anyhow::Result<ExitCode> {
    let mut session = crate::manage::session(global)?;
    session.live_events = true;
    session.conn.patience_note = false;
    let session = Arc::new(session);
    let name = session.conn.name.clone();
    let mut rl: Editor<ReplHelper, DefaultHistory> = Editor::with_config(
        rustyline::Config::builder().auto_add_history(true).completion_type(rustyline::CompletionType::List).max_history_size(1000)?.build(),
    )?;
    rl.set_helper(Some(ReplHelper { session: session.clone(), files: FilenameCompleter::new() }));
    let out = Output::new(&mut rl);
    let events = out.clone();
    session.conn.on_events(move |ev| events.print(format!("{}\n", format::event_line(&ev))));
    session.conn.send(&ToSup::Events(true))?;
    let history = history_path();
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    println!("ushell shell on instance `{name}` ({}). `help` lists the commands; Ctrl-D leaves.", session.hello.kernel);
    let prompt = format!("ushell {name}> ");
    loop {
        let line = match rl.readline(&prompt) {
            Ok(l) => l,
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        match run_line(&session, &line, &out) {
            Step::Continue => {}
            Step::Exit => break,
            Step::Gone(msg) => {
                out.finish();
                eprintln!("ushell: {msg}");
                save(&mut rl, &history);
                return Ok(ExitCode::from(runproto::HOST_FAILURE_STATUS as u8));
            }
        }
    }
    out.finish();
    save(&mut rl, &history);
    Ok(ExitCode::SUCCESS)
}

/// Where events and the instance commands' results are printed, in the
/// order they arrived: a program's output before the `returned: N` of its
/// run. In a terminal that is rustyline's external printer (above the
/// prompt), driven by a thread of its own: the printer holds one line and
/// is drained only while a prompt waits for keys, so a print may block
/// until the next prompt, and the connection's reader, which hands the
/// running command its reply, must never wait for it (it did: a hang when
/// events came as Enter was pressed). Without a terminal, plain lines.
#[derive(Clone)]
struct Output {
    tx: Option<std::sync::mpsc::Sender<Printed>>,
}

enum Printed {
    Text(String),
    /// Answered once everything before it is printed.
    Flush(std::sync::mpsc::Sender<()>),
}

impl Output {
    fn new(rl: &mut Editor<ReplHelper, DefaultHistory>) -> Output {
        let Ok(mut p) = rl.create_external_printer() else { return Output { tx: None } };
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for m in rx {
                match m {
                    Printed::Text(t) => {
                        let _ = p.print(t);
                    }
                    Printed::Flush(ack) => {
                        let _ = ack.send(());
                    }
                }
            }
        });
        Output { tx: Some(tx) }
    }

    fn print(&self, text: String) {
        match &self.tx {
            Some(tx) => {
                let _ = tx.send(Printed::Text(text));
            }
            None => {
                use std::io::Write;
                let mut o = std::io::stdout().lock();
                let _ = o.write_all(text.as_bytes());
                let _ = o.flush();
            }
        }
    }

    /// Lets the printer write what is queued before the shell ends (it
    /// may be waiting for a prompt that never comes: then not for long).
    fn finish(&self) {
        if let Some(tx) = &self.tx {
            let (ack, done) = std::sync::mpsc::channel();
            if tx.send(Printed::Flush(ack)).is_ok() {
                let _ = done.recv_timeout(std::time::Duration::from_secs(1));
            }
        }
    }
}

fn save(rl: &mut Editor<ReplHelper, DefaultHistory>, path: &Option<PathBuf>) {
    let Some(p) = path else { return };
    if rl.history().is_empty() {
        return;
    }
    if let Some(dir) = p.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    if let Err(e) = rl.save_history(p) {
        eprintln!("ushell: warning: cannot save the shell history to {}: {e}", p.display());
    }
}

enum Step {
    Continue,
    Exit,
    Gone(String),
}

fn run_line(s: &Session, line: &str, out: &Output) -> Step {
    let words = match shell_words::split(line) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            return Step::Continue;
        }
    };
    if words.is_empty() {
        return Step::Continue;
    }
    let cmd = match ReplLine::try_parse_from(&words) {
        Ok(l) => l.cmd,
        Err(e) => {
            // clap's message, without its "Usage" footer pointing at --help.
            let text = e.render().to_string();
            let text = text.replace("For more information, try '--help'.", "Try `help`.");
            eprint!("{text}");
            return Step::Continue;
        }
    };
    match cmd {
        ReplCmd::Exit => Step::Exit,
        ReplCmd::Help { command } if command.is_empty() => {
            print!("{}", help::overview());
            Step::Continue
        }
        ReplCmd::Help { command } => {
            match help::command_help(&command) {
                Some(h) => print!("{h}"),
                None => eprintln!("no command `{}`; `help` lists them", command.join(" ")),
            }
            Step::Continue
        }
        ReplCmd::Instance(c) => match commands::run(s, &c) {
            Ok(done) => {
                out.print(done.text);
                Step::Continue
            }
            Err(e @ (ClientError::Closed { .. } | ClientError::Exited { .. })) => Step::Gone(e.to_string()),
            Err(e) => {
                eprintln!("error: {e}");
                Step::Continue
            }
        },
    }
}
