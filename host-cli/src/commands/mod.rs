//! The commands that act on a running instance's kernel: `load`, `exec`,
//! `unload`, `progs`, `maps`, `map dump/update/delete`, `sym`, `info`, and
//! the function tracer's `attach`, `detach`, `list`, `sites`, `disas`. One
//! definition serves the command line (`ushell load x.o -i web`) and the
//! REPL (`load x.o`), so both parse, answer and print the same way.

pub mod disas;
pub mod exec;
pub mod format;
pub mod help;
pub mod trace;
pub mod trace_format;
pub mod value;

use std::path::PathBuf;

use clap::{Args, Subcommand};
use shellproto::{HelloReply, Ref, Reply, Request};

use crate::client::{ClientError, Conn};

/// `load --engine`.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineArg {
    Jit,
    Interp,
}

impl From<EngineArg> for shellproto::Engine {
    fn from(e: EngineArg) -> Self {
        match e {
            EngineArg::Jit => shellproto::Engine::Jit,
            EngineArg::Interp => shellproto::Engine::Interp,
        }
    }
}

#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum InstanceCmd {
    /// Verify a BPF object and load it into the instance's kernel.
    #[command(after_help = "Examples:\n  ushell load bpf-progs/count.o\n  ushell load --engine interp bpf-progs/count.o\n\nPrints the programs (id, name, section, type, engine) and maps loaded. A verifier \
rejection prints the offending instruction and exits with status 1; nothing of the object is loaded and the app keeps running.")]
    Load {
        /// Object file from `clang -O2 -g -target bpf -c`.
        object: PathBuf,
        /// What runs the programs: the JIT (machine code, constants blinded) or the interpreter.
        #[arg(long, value_enum, default_value_t = EngineArg::Jit)]
        engine: EngineArg,
        #[arg(short, long)]
        json: bool,
    },
    /// Run a SEC("syscall") program once and print its return value.
    #[command(after_help = "Examples:\n  ushell exec get_count.o myfun\n  ushell exec 3 42\n  ushell exec prog.o --prog fill 7\n\n\
PROG is an object file (loaded first) or a loaded program's id or name. The context is a read-only 256-byte buffer holding \
ARG, NUL-terminated and zero-padded (with --hex, ARG is hex bytes). The program's bpf_printk lines are printed before `returned: N`.")]
    Exec(exec::ExecArgs),
    /// Unload a program (and maps no other object uses).
    #[command(after_help = "Example:\n  ushell unload count")]
    Unload {
        /// Program id or name.
        prog: String,
        #[arg(short, long)]
        json: bool,
    },
    /// List loaded programs with their run counts and run times.
    #[command(after_help = "Example:\n  ushell progs -j")]
    Progs {
        #[arg(short, long)]
        json: bool,
    },
    /// List live maps.
    #[command(after_help = "Example:\n  ushell maps")]
    Maps {
        #[arg(short, long)]
        json: bool,
    },
    /// Read or change a map's entries.
    #[command(subcommand)]
    Map(MapCmd),
    /// Search the app's and the kernel's symbols (`*` and `?` wildcards; a plain word matches anywhere).
    #[command(after_help = "Examples:\n  ushell sym main\n  ushell sym 'sys_*'")]
    Sym {
        pattern: String,
        /// Most symbols to list.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(short, long)]
        json: bool,
    },
    /// The kernel's version, memory, uptime, app and syscall counts.
    #[command(after_help = "Example:\n  ushell info")]
    Info {
        #[arg(short, long)]
        json: bool,
    },
    /// Attach a tracing program to a function's entry (or exit) in the app or the kernel.
    #[command(after_help = "Examples:\n  ushell attach myfun count.o\n  ushell attach count.o\n  ushell attach myfun fexit_check.o --args 1\n  ushell attach kernel::syscall::fs::read count\n\n\
PROG is an object file (loaded first; --prog picks one of its programs, by default its only fentry, fexit, kprobe or \
kretprobe program) or a loaded program's id or name. Without FUNC the function is the one the program's section names \
(SEC(\"fentry/myfun\")). The function's 5-byte entry nop becomes a call to a trampoline that runs the attached programs; \
the line printed shows the site's bytes before and after. A function without a nop is refused with how to compile it.")]
    Attach(trace::AttachArgs),
    /// Detach a program from a function (the site's nop is restored when it was the last).
    #[command(after_help = "Examples:\n  ushell detach myfun count\n  ushell detach notify\n\n\
FUNC may be left out when the program sits on one function. The line printed shows the site's bytes before and after.")]
    Detach(trace::DetachArgs),
    /// Which programs sit on which functions, with hit counts and run times.
    #[command(after_help = "Examples:\n  ushell list\n  ushell list myfun -j\n\n\
RUN_CNT and RUN_TIME_NS are the attachment's runs and their total time, as bpftool's run_cnt and run_time_ns.")]
    List {
        /// Only the programs on this function.
        func: Option<String>,
        #[arg(short, long)]
        json: bool,
    },
    /// Functions that can be traced (those with a 5-byte entry nop), the app's and the kernel's.
    #[command(after_help = "Examples:\n  ushell sites\n  ushell sites myfun\n  ushell sites 'kernel::syscall::*'\n\n\
PATTERN as for sym: `*` and `?` wildcards, a plain word matches anywhere. BYTES are the site's bytes when nothing is attached.")]
    Sites {
        #[arg(default_value = "*")]
        pattern: String,
        /// Most functions to list.
        #[arg(long, default_value_t = 100)]
        limit: u32,
        #[arg(short, long)]
        json: bool,
    },
    /// Disassemble a function's first instructions as they are now (patched or not).
    #[command(after_help = "Examples:\n  ushell disas myfun\n  ushell disas -n 3 myfun\n\n\
The bytes are read from the running kernel or app and decoded on the host (Intel syntax). The patch site's line is \
marked `<- site`; a call to an attachment's trampoline names its programs.")]
    Disas {
        func: String,
        /// How many instructions.
        #[arg(short = 'n', default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=34))]
        count: u32,
        #[arg(short, long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug, Clone, PartialEq)]
pub enum MapCmd {
    /// Print every entry of a map.
    #[command(after_help = "Example:\n  ushell map dump counts\n\nKeys and values of 4 or 8 bytes print as unsigned integers, others as hex bytes.")]
    Dump {
        /// Map id or name.
        map: String,
        #[arg(short, long)]
        json: bool,
    },
    /// Set an entry (bpf_map_update_elem).
    #[command(after_help = "Example:\n  ushell map update counts 4198400 0\n  ushell map update big 0x01020304 --flags noexist 00ff\n\n\
KEY and VALUE are integers (decimal, or 0x... hex) for 4- and 8-byte keys and values, hex bytes otherwise.")]
    Update(UpdateArgs),
    /// Delete an entry.
    #[command(after_help = "Example:\n  ushell map delete counts 4198400")]
    Delete { map: String, key: String },
}

#[derive(Args, Debug, Clone, PartialEq)]
pub struct UpdateArgs {
    pub map: String,
    pub key: String,
    pub value: String,
    /// any (create or replace), noexist (create only), exist (replace only).
    #[arg(long, value_enum, default_value_t = UpdateFlag::Any)]
    pub flags: UpdateFlag,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateFlag {
    Any,
    Noexist,
    Exist,
}

impl UpdateFlag {
    /// Linux's BPF_ANY, BPF_NOEXIST, BPF_EXIST.
    pub fn bits(self) -> u64 {
        match self {
            UpdateFlag::Any => 0,
            UpdateFlag::Noexist => 1,
            UpdateFlag::Exist => 2,
        }
    }
}

impl InstanceCmd {
    pub fn name(&self) -> &'static str {
        match self {
            InstanceCmd::Load { .. } => "load",
            InstanceCmd::Exec(_) => "exec",
            InstanceCmd::Unload { .. } => "unload",
            InstanceCmd::Progs { .. } => "progs",
            InstanceCmd::Maps { .. } => "maps",
            InstanceCmd::Map(_) => "map",
            InstanceCmd::Sym { .. } => "sym",
            InstanceCmd::Info { .. } => "info",
            InstanceCmd::Attach(_) => "attach",
            InstanceCmd::Detach(_) => "detach",
            InstanceCmd::List { .. } => "list",
            InstanceCmd::Sites { .. } => "sites",
            InstanceCmd::Disas { .. } => "disas",
        }
    }
}

/// A connection that has said hello.
pub struct Session {
    pub conn: Conn,
    pub hello: HelloReply,
    /// Events are printed as they arrive (the REPL), not collected per
    /// command.
    pub live_events: bool,
}

impl Session {
    pub fn open(conn: Conn) -> Result<Session, ClientError> {
        let hello = conn.hello()?;
        Ok(Session { conn, hello, live_events: false })
    }
}

/// What a command printed, and whether it succeeded.
#[derive(Debug, Default)]
pub struct Done {
    pub text: String,
    /// Exit status 1: the command ran but its answer is a refusal (a
    /// verifier rejection printed with details).
    pub failed: bool,
}

impl Done {
    fn ok(text: String) -> Done {
        Done { text, failed: false }
    }
}

/// Runs one command; the text is what it prints on stdout.
pub fn run(s: &Session, cmd: &InstanceCmd) -> Result<Done, ClientError> {
    use format as f;
    match cmd {
        InstanceCmd::Load { object, engine, json } => exec::load(s, object, (*engine).into(), *json),
        InstanceCmd::Exec(a) => exec::exec(s, a),
        InstanceCmd::Unload { prog, json } => match s.conn.call(Request::Unload { prog: Ref::parse(prog) })? {
            Reply::Unloaded { progs, maps } => Ok(Done::ok(f::unloaded(&progs, &maps, *json))),
            other => Err(unexpected("unload", other)),
        },
        InstanceCmd::Progs { json } => match s.conn.call(Request::Progs)? {
            Reply::Progs(p) => Ok(Done::ok(f::progs(&p, *json))),
            other => Err(unexpected("progs", other)),
        },
        InstanceCmd::Maps { json } => match s.conn.call(Request::Maps)? {
            Reply::Maps(m) => Ok(Done::ok(f::maps(&m, *json))),
            other => Err(unexpected("maps", other)),
        },
        InstanceCmd::Map(MapCmd::Dump { map, json }) => {
            let (info, entries) = dump(s, map)?;
            Ok(Done::ok(f::map_dump(&info, &entries, *json)))
        }
        InstanceCmd::Map(MapCmd::Update(a)) => {
            let info = map_info(s, &a.map)?;
            let key = value::parse(&a.key, info.def.key_size, "KEY")?;
            let val = value::parse(&a.value, info.def.value_size, "VALUE")?;
            expect_ack(s.conn.call(Request::MapUpdate { map: Ref::Id(info.id), key, value: val, flags: a.flags.bits() })?, "map-update")
        }
        InstanceCmd::Map(MapCmd::Delete { map, key }) => {
            let info = map_info(s, map)?;
            let key = value::parse(key, info.def.key_size, "KEY")?;
            expect_ack(s.conn.call(Request::MapDelete { map: Ref::Id(info.id), key })?, "map-delete")
        }
        InstanceCmd::Sym { pattern, limit, json } => match s.conn.call(Request::SymSearch { pattern: pattern.clone(), limit: *limit })? {
            Reply::Symbols { symbols, truncated } => Ok(Done::ok(f::symbols(&symbols, truncated, *limit, *json))),
            other => Err(unexpected("sym", other)),
        },
        InstanceCmd::Info { json } => match s.conn.call(Request::Info)? {
            Reply::Info(i) => Ok(Done::ok(f::info(&i, *json))),
            other => Err(unexpected("info", other)),
        },
        InstanceCmd::Attach(a) => trace::attach(s, a),
        InstanceCmd::Detach(a) => trace::detach(s, a),
        InstanceCmd::List { func, json } => trace::list(s, func.as_deref(), *json),
        InstanceCmd::Sites { pattern, limit, json } => trace::sites(s, pattern, *limit, *json),
        InstanceCmd::Disas { func, count, json } => trace::disas(s, func, *count, *json),
    }
}

fn expect_ack(r: Reply, what: &'static str) -> Result<Done, ClientError> {
    match r {
        Reply::Ack => Ok(Done::ok(String::new())),
        other => Err(unexpected(what, other)),
    }
}

pub fn unexpected(request: &'static str, reply: Reply) -> ClientError {
    ClientError::Unexpected { request, reply: format!("{reply:?}") }
}

/// A map's facts by id or name (for its key and value sizes).
pub fn map_info(s: &Session, map: &str) -> Result<shellproto::MapInfo, ClientError> {
    match s.conn.call(Request::MapDump { map: Ref::parse(map), cursor: u32::MAX })? {
        Reply::MapEntries { map, .. } => Ok(map),
        other => Err(unexpected("map-dump", other)),
    }
}

/// Every entry of a map, page by page.
pub fn dump(s: &Session, map: &str) -> Result<(shellproto::MapInfo, Vec<shellproto::MapEntry>), ClientError> {
    let mut cursor = 0;
    let mut all = Vec::new();
    let mut r = Ref::parse(map);
    loop {
        match s.conn.call(Request::MapDump { map: r.clone(), cursor })? {
            Reply::MapEntries { map, entries, next } => {
                all.extend(entries);
                // Later pages by id: the name could be reused meanwhile.
                r = Ref::Id(map.id);
                match next {
                    Some(n) if n > cursor => cursor = n,
                    _ => return Ok((map, all)),
                }
            }
            other => return Err(unexpected("map-dump", other)),
        }
    }
}

/// Names the REPL completes: programs and maps.
pub fn names(s: &Session) -> (Vec<String>, Vec<String>) {
    let progs = match s.conn.call(Request::Progs) {
        Ok(Reply::Progs(p)) => p.into_iter().map(|p| p.name).collect(),
        _ => Vec::new(),
    };
    let maps = match s.conn.call(Request::Maps) {
        Ok(Reply::Maps(m)) => m.into_iter().map(|m| m.name).collect(),
        _ => Vec::new(),
    };
    (progs, maps)
}
