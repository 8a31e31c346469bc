//! Typed errors. [`ShellError`] travels in replies and carries the facts a
//! user needs (the instruction the verifier refused, the map and the sizes
//! it expected); [`FrameError`] is what a reader finds wrong with a frame;
//! [`EncodeError`] is a message too large to send.

use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::facts::{MapDef, ProgType};
use crate::msg::Ref;

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ShellError {
    #[error("protocol version mismatch: the kernel speaks version {server}, this client {client}; use a ushell built with the same kernel")]
    Version { server: u16, client: u16 },
    #[error("the session has not said hello yet (the first request must be Hello)")]
    HelloFirst,
    #[error("no program {0}")]
    NoSuchProg(Ref),
    #[error("no map {0}")]
    NoSuchMap(Ref),
    #[error("`{name}` names several {what} (ids {ids:?}); give an id")]
    Ambiguous { what: String, name: String, ids: Vec<u32> },
    #[error("upload: {0}")]
    Upload(#[from] UploadError),
    /// The ELF object could not be parsed (not BPF, bad BTF, bad relocation).
    #[error("cannot load `{object}`: {message}")]
    Object { object: String, message: String },
    /// The verifier refused a program; nothing of the object was loaded.
    #[error("program `{program}` (section `{section}`) rejected at insn {insn}: {message}")]
    Rejected { program: String, section: String, insn: u32, message: String },
    #[error("map `{map}` is already loaded with {existing}, but this object declares {declared}; maps are shared by name only when their definitions match")]
    MapConflict { map: String, existing: MapDef, declared: MapDef },
    /// A map operation failed; `errno` is the Linux value a helper would return.
    #[error("{message}")]
    Map { map: String, errno: i32, message: String },
    #[error("program `{program}` is a {prog_type} program; only SEC(\"syscall\") programs can be run with exec")]
    NotRunnable { program: String, prog_type: ProgType },
    #[error("exec argument is {len} bytes; at most {max} fit in the context with their NUL")]
    ArgTooLong { len: u32, max: u32 },
    /// The interpreter stopped the program (a runtime check failed).
    #[error("program `{program}` failed at insn {pc}: {message}")]
    Exec { program: String, pc: u32, message: String },
    #[error("the reply ({size} bytes) does not fit in a frame (at most {max})")]
    ReplyTooLarge { size: u32, max: u32 },
    #[error("out of memory: {what}")]
    OutOfMemory { what: String },
    #[error("{what} is not supported by this kernel")]
    Unsupported { what: String },
    /// The function exists but has no patch site; `how` says how to build
    /// the app so that it has one.
    #[error("`{func}` at {addr:#x} has no patch site (its entry is {first}); {how}")]
    NoSite { func: String, addr: u64, first: String, how: String },
    /// No app or kernel function has that name.
    #[error("no function `{func}` in the app or the kernel{}", similar_names(similar))]
    UnknownFunc { func: String, similar: Vec<String> },
    #[error("program `{program}` is a {prog_type} program; only fentry, fexit, kprobe and kretprobe programs attach to functions")]
    NotAttachable { program: String, prog_type: ProgType },
    #[error("program `{program}` has no function in its section `{section}`; name the function to attach to")]
    NoTarget { program: String, section: String },
    #[error("program `{program}` is not attached{}", on_func(func))]
    NotAttached { program: String, func: Option<String> },
    #[error("program `{program}` is attached to several functions ({funcs:?}); name one")]
    AttachedSeveral { program: String, funcs: Vec<String> },
    /// Patching or trampoline memory failed; nothing changed.
    #[error("cannot attach to `{func}`: {message}")]
    Attach { func: String, message: String },
    #[error("cannot unload program `{program}`: it is attached to {funcs:?}; detach it first")]
    StillAttached { program: String, funcs: Vec<String> },
}

fn similar_names(s: &[String]) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = String::from("; similar: ");
    for (i, n) in s.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(n);
    }
    out
}

fn on_func(f: &Option<String>) -> String {
    match f {
        Some(f) => alloc::format!(" to `{f}`"),
        None => String::new(),
    }
}

/// Why an upload step was refused. Every refusal ends the upload: what it
/// had received is dropped, and the client starts over.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum UploadError {
    #[error("an object of {size} bytes is larger than the kernel accepts ({max})")]
    TooLarge { size: u32, max: u32 },
    #[error("an object of 0 bytes")]
    Empty,
    #[error("{max} uploads are already in progress")]
    TooMany { max: u32 },
    #[error("the uploads in progress already hold {held} bytes; {size} more would exceed {max}")]
    NoRoom { held: u64, size: u32, max: u64 },
    #[error("no upload {upload} (it was committed, aborted, refused, or never begun)")]
    NoSuchUpload { upload: u32 },
    #[error("upload {upload}: chunk at offset {got}, expected {expected} (chunks must come in order)")]
    OutOfOrder { upload: u32, expected: u32, got: u32 },
    #[error("upload {upload}: chunk of {len} bytes is larger than the limit ({max})")]
    ChunkTooLarge { upload: u32, len: u32, max: u32 },
    #[error("upload {upload}: chunk ends at byte {end}, past the declared size {size}")]
    Overrun { upload: u32, end: u64, size: u32 },
    #[error("upload {upload}: committed after {received} of {size} bytes")]
    Incomplete { upload: u32, received: u32, size: u32 },
    #[error("upload {upload}: no memory for {size} bytes")]
    OutOfMemory { upload: u32, size: u32 },
}

/// What a reader found wrong with a frame. After any of these the reader
/// has skipped to the next delimiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum FrameError {
    /// More than `max` bytes came without a delimiter; they were dropped
    /// as they came, up to the next delimiter.
    #[error("frame longer than {max} bytes, dropped")]
    Oversized { max: u32 },
    /// The frame ended before its content did: bytes were lost, or the
    /// stream ended inside a frame.
    #[error("truncated frame")]
    Truncated,
    /// Not a message of this protocol version.
    #[error("malformed frame: {why}")]
    Malformed { why: Malformed },
}

/// The ways a complete frame can fail to be a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum Malformed {
    #[error("bytes after the end of the message")]
    TrailingBytes,
    #[error("a string is not UTF-8")]
    BadUtf8,
    /// An unknown variant tag or an out-of-range number: garbage, or a
    /// peer of another protocol version.
    #[error("an unknown tag or an out-of-range value")]
    BadValue,
}

/// A message that cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("message of {size} encoded bytes is larger than a frame ({max})")]
    TooLarge { size: usize, max: usize },
    #[error("message cannot be encoded")]
    Serialize,
}
