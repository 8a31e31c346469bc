//! The messages: what a client asks ([`Request`]), what the server answers
//! ([`Reply`]) and what it pushes unasked ([`Event`]), in their envelopes
//! ([`ClientMsg`], [`ServerMsg`]).
//!
//! Variant order is the wire encoding (postcard numbers variants from 0):
//! new variants go at the end, and any other change bumps
//! [`crate::VERSION`]. `Request::Hello` stays variant 0 with its fields
//! forever, so that mismatched versions can still say so.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{FrameError, ShellError};
use crate::trace::{Attachment, FuncText, SiteChange, SiteInfo};
use crate::facts::{Engine, Info, LoadedObject, LogLevel, MapEntry, MapInfo, ProgInfo, Symbol, SymbolAt};

/// Client → server: one request and the id its reply will carry. Ids are
/// the client's choice; a supervisor multiplexing several clients onto one
/// console renumbers them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientMsg {
    pub id: u32,
    pub req: Request,
}

/// Server → client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServerMsg {
    /// The answer to request `id`.
    Reply { id: u32, result: Result<Reply, ShellError> },
    /// Output that belongs to no request.
    Event(Event),
    /// A frame that could not be decoded, so it has no id to answer. The
    /// server has already resynchronized at the next frame.
    BadFrame(FrameError),
}

/// A program or a map, by id or by name (a function name or section name for
/// programs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Ref {
    Id(u32),
    Name(String),
}

impl fmt::Display for Ref {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Ref::Id(id) => write!(f, "#{id}"),
            Ref::Name(n) => write!(f, "`{n}`"),
        }
    }
}

impl Ref {
    /// A number is an id, anything else a name: what a user types.
    pub fn parse(s: &str) -> Ref {
        match s.parse() {
            Ok(id) => Ref::Id(id),
            Err(_) => Ref::Name(s.into()),
        }
    }
}

/// The first request of a session. Its encoding is frozen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`crate::VERSION`] of the client.
    pub version: u16,
    /// Who is asking, for the kernel's log (`ushell 0.1.0`).
    pub client: String,
}

/// The server's answer to [`Hello`]: its version and its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HelloReply {
    pub version: u16,
    /// Kernel name and version, e.g. `ushell-kernel 0.1.0`.
    pub kernel: String,
    /// Largest frame the server reads and writes.
    pub max_frame: u32,
    /// Largest chunk of an upload.
    pub max_chunk: u32,
    /// Largest object an upload may declare.
    pub max_object: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Must come first; a second hello starts a new session (pending
    /// uploads are aborted).
    Hello(Hello),
    /// Starts an upload of a `size`-byte object; `name` names it in listings
    /// (usually the file name). Answered with [`Reply::UploadReady`].
    UploadBegin { name: String, size: u32 },
    /// The next bytes of the upload, at `offset` (chunks come in order).
    UploadChunk {
        upload: u32,
        offset: u32,
        #[serde(with = "crate::bytes")]
        data: Vec<u8>,
    },
    /// All bytes are there: verify and load. Answered with [`Reply::Loaded`]
    /// or an error; either way the upload is gone.
    UploadCommit { upload: u32 },
    /// Drop the upload (the client gave up or disconnected).
    UploadAbort { upload: u32 },
    /// Run a `SEC("syscall")` program once with `arg` as its context
    /// (NUL-terminated and zero-padded to [`crate::EXEC_CTX_SIZE`]).
    Exec {
        prog: Ref,
        #[serde(with = "crate::bytes")]
        arg: Vec<u8>,
    },
    /// Unload a program; its object's maps go with the object's last program
    /// unless another object shares them.
    Unload { prog: Ref },
    /// Loaded programs.
    Progs,
    /// Live maps.
    Maps,
    /// Entries of a map from position `cursor` on (0 first); the reply says
    /// where to continue.
    MapDump { map: Ref, cursor: u32 },
    /// Linux's `bpf_map_update_elem` with its `BPF_ANY`/`NOEXIST`/`EXIST` flags.
    MapUpdate {
        map: Ref,
        #[serde(with = "crate::bytes")]
        key: Vec<u8>,
        #[serde(with = "crate::bytes")]
        value: Vec<u8>,
        flags: u64,
    },
    MapDelete {
        map: Ref,
        #[serde(with = "crate::bytes")]
        key: Vec<u8>,
    },
    /// Symbols (app and kernel) matching a pattern: `*` and `?` wildcards,
    /// a plain word matches as a substring. At most `limit` results.
    SymSearch { pattern: String, limit: u32 },
    /// The symbol containing an address, as `func+off`.
    SymAt { addr: u64 },
    /// Kernel version, memory, uptime, the app, syscall counts.
    Info,
    /// [`Request::UploadCommit`] choosing the engine that runs the
    /// object's programs; `UploadCommit` means [`Engine::default`] (the
    /// JIT), so clients that do not choose keep working.
    UploadCommitWith { upload: u32, engine: Engine },
    /// Attach a loaded tracing program (`fentry/`, `fexit/`, `kprobe/`,
    /// `kretprobe/`) to a function, the app's or the kernel's; `func`
    /// defaults to the name in the program's section. `nr_args`: the
    /// function's argument count (places the return value in the fexit
    /// context), 6 if not given. Answered with [`Reply::Attached`].
    Attach { func: Option<String>, prog: Ref, nr_args: Option<u8> },
    /// Detach a program from a function (`func` `None`: the one function
    /// it sits on). Answered with [`Reply::Detached`].
    Detach { func: Option<String>, prog: Ref },
    /// Attachments, all or those on one function.
    Attachments { func: Option<String> },
    /// Functions that can be traced (app first, then kernel), matching a
    /// pattern as [`Request::SymSearch`] does; at most `limit`.
    Sites { pattern: String, limit: u32 },
    /// The first `len` bytes of a function as the CPU sees them now.
    FuncText { func: String, len: u32 },
    /// Start streaming the app's syscalls (`ushell trace`): one record per
    /// call (linux-abi's `trace::record` format) in [`Event::Syscalls`];
    /// `syscalls`: the numbers to trace, all if empty; `ring_bytes`: the
    /// ring buffer between the syscall path and the shell (0: the
    /// default). A second start replaces the first.
    TraceStart { syscalls: Vec<u16>, ring_bytes: u32 },
    /// Stop streaming; answered with [`Reply::TraceStopped`] after the
    /// records still waiting have been sent, which may take many rounds of
    /// the shell (requests sent meanwhile may be answered first).
    TraceStop,
    /// Turns on flow control of the server's output for this session,
    /// answered with [`Reply::FlowStarted`]. From the first byte after that
    /// reply's frame, the server keeps at most `window` bytes in flight:
    /// bytes sent and not yet confirmed by [`Request::FlowRead`]. Needed
    /// because QEMU's virtconsole drops what its chardev does not take at
    /// once; a reader that confirms what it read never loses a byte.
    FlowStart,
    /// The client has read `read` bytes of output since the reply to its
    /// [`Request::FlowStart`] (a running total; never answered).
    FlowRead { read: u64 },
}

impl Request {
    /// The command's name, for logs and errors.
    pub fn name(&self) -> &'static str {
        match self {
            Request::Hello(_) => "hello",
            Request::UploadBegin { .. } => "upload-begin",
            Request::UploadChunk { .. } => "upload-chunk",
            Request::UploadCommit { .. } => "upload-commit",
            Request::UploadAbort { .. } => "upload-abort",
            Request::Exec { .. } => "exec",
            Request::Unload { .. } => "unload",
            Request::Progs => "progs",
            Request::Maps => "maps",
            Request::MapDump { .. } => "map-dump",
            Request::MapUpdate { .. } => "map-update",
            Request::MapDelete { .. } => "map-delete",
            Request::SymSearch { .. } => "sym",
            Request::SymAt { .. } => "sym-at",
            Request::Info => "info",
            Request::UploadCommitWith { .. } => "upload-commit",
            Request::Attach { .. } => "attach",
            Request::Detach { .. } => "detach",
            Request::Attachments { .. } => "list",
            Request::Sites { .. } => "sites",
            Request::FuncText { .. } => "disas",
            Request::TraceStart { .. } => "trace",
            Request::TraceStop => "trace-stop",
            Request::FlowStart => "flow-start",
            Request::FlowRead { .. } => "flow-read",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    Hello(HelloReply),
    /// The upload's handle for its chunks.
    UploadReady { upload: u32 },
    /// Done, nothing to report (a chunk, an abort, a map update or delete).
    Ack,
    /// The object passed the verifier and is loaded.
    Loaded(LoadedObject),
    /// The program's return value (r0) and how long it ran.
    Returned { value: u64, run_time_ns: u64 },
    /// What an unload removed: programs, and maps no one uses any more.
    Unloaded { progs: Vec<u32>, maps: Vec<u32> },
    Progs(Vec<ProgInfo>),
    Maps(Vec<MapInfo>),
    /// Entries `cursor..` of a map; `next` is the cursor of the rest, `None`
    /// at the end. Hash maps have no stable order: entries added or removed
    /// between pages may be missed or repeated, as with Linux's
    /// `get_next_key` walks.
    MapEntries { map: MapInfo, entries: Vec<MapEntry>, next: Option<u32> },
    /// `truncated`: more symbols matched than the request's limit.
    Symbols { symbols: Vec<Symbol>, truncated: bool },
    SymbolAt(Option<SymbolAt>),
    Info(Info),
    Attached(SiteChange),
    Detached(SiteChange),
    Attachments(Vec<Attachment>),
    Sites { sites: Vec<SiteInfo>, truncated: bool },
    FuncText(FuncText),
    /// Streaming is on with a ring buffer of this many bytes.
    TraceStarted { ring_bytes: u32 },
    /// Streaming is off: records sent in all, and records lost to a full
    /// ring buffer (each loss was also reported as an [`Event::Lost`]).
    TraceStopped { records: u64, lost: u64 },
    /// Flow control is on; at most `window` unconfirmed bytes in flight.
    FlowStarted { window: u32 },
}

/// Pushed by the server as things happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A `bpf_printk` line of a program, tagged with its id and name.
    ProgOutput { prog: u32, name: String, line: String },
    /// A ring-buffer record, tagged with the map and the object it belongs to.
    Ringbuf {
        map: u32,
        map_name: String,
        object: String,
        #[serde(with = "crate::bytes")]
        data: Vec<u8>,
    },
    /// A kernel log line.
    Kernel { level: LogLevel, line: String },
    /// Output that could not be delivered (a full buffer); never silently
    /// dropped, so the count of what was lost is sent instead.
    Lost { what: String, count: u64 },
    /// Syscall records of `ushell trace`, in order: linux-abi
    /// `trace::record` records back to back (each starts with its size).
    Syscalls {
        #[serde(with = "crate::bytes")]
        data: Vec<u8>,
    },
}
