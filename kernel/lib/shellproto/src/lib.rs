//! The debug shell's wire protocol, shared by the kernel (server) and
//! `host-cli` (client): everything both sides must agree on to talk over the
//! virtio console.
//!
//! * **Messages** ([`msg`]): the client sends [`ClientMsg`] (a request id and
//!   a [`Request`]); the server answers every request with one
//!   [`ServerMsg::Reply`] carrying the same id and either a [`Reply`] or a
//!   typed [`ShellError`], and pushes [`Event`]s (program output, kernel log
//!   lines) at any time. Listings and facts are in [`facts`].
//! * **Encoding**: postcard (compact, `serde`, `no_std`), one message per COBS
//!   frame, frames ended by a `0x00` byte ([`frame`]). COBS keeps `0x00` out
//!   of the frame body, so a reader that lost its place (garbage, a dropped
//!   byte, a peer that vanished mid-frame) resynchronizes at the next zero.
//!   A frame may hold at most [`MAX_FRAME`] encoded bytes.
//! * **Versioning**: the first request is [`Request::Hello`] with
//!   [`VERSION`]; its encoding is frozen (variant 0 of [`Request`], fields
//!   never change), so any two versions can at least refuse each other
//!   clearly ([`ShellError::Version`]).
//! * **Uploads** ([`upload`]): a program object travels in chunks of at most
//!   [`MAX_CHUNK`] bytes (`UploadBegin`, `UploadChunk`..., `UploadCommit`, or
//!   `UploadCommitWith` to pick the engine: the JIT or the interpreter);
//!   [`upload::Uploads`] is the server's state machine, which keeps nothing
//!   half-loaded when a client aborts or disconnects.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod bytes;
pub mod error;
pub mod facts;
pub mod flow;
pub mod frame;
pub mod msg;
pub mod trace;
pub mod upload;

pub use error::{EncodeError, FrameError, ShellError, UploadError};
pub use facts::*;
pub use frame::{encode, encode_into, FrameDecoder, MessageDecoder};
pub use trace::{AttachKind, Attachment, FuncText, SiteChange, SiteInfo, Space};
pub use msg::{ClientMsg, Event, Hello, HelloReply, Ref, Reply, Request, ServerMsg};

/// Protocol version sent in [`Request::Hello`]. Bump it whenever an
/// encoding other than the hello's changes. 2: programs say which engine
/// runs them (`ProgInfo::engine`), `Request::UploadCommitWith` picks it.
/// 3: the function tracer (`Attach`, `Detach`, `Attachments`, `Sites`,
/// `FuncText`) and syscall streaming (`TraceStart`, `TraceStop`). 4: flow
/// control of the server's output (`FlowStart`, `FlowRead`).
pub const VERSION: u16 = 4;

/// Most encoded bytes one frame may hold, the delimiter not counted. Both
/// sides refuse to send more ([`EncodeError::TooLarge`]) and a reader drops
/// a longer frame ([`FrameError::Oversized`]) without buffering it.
pub const MAX_FRAME: usize = 64 * 1024;

/// Most object bytes in one `UploadChunk`: with postcard's and COBS's
/// overhead (under 1%) a chunk always fits in [`MAX_FRAME`].
pub const MAX_CHUNK: usize = 32 * 1024;

/// Largest program object a server accepts unless its hello reply says
/// otherwise. clang's objects with BTF are tens of KiB.
pub const DEFAULT_MAX_OBJECT: u32 = 8 << 20;

/// The context of a `SEC("syscall")` program run by [`Request::Exec`]:
/// the argument, NUL-terminated and zero-padded to this size.
pub const EXEC_CTX_SIZE: usize = 256;
