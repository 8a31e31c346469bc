//! An instance's socket spoken to directly, for tests that must send what
//! no `ushell` command would: garbage, cut frames, raw bytes for the guest
//! console. The supervisor's envelope is mirrored here from
//! `host-cli/src/supervisor/wire.rs` (its definition; the variant order is
//! the encoding), checked by the tests getting the answers they expect.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use shellproto::{ClientMsg, FrameError, MessageDecoder, Reply, Request, ServerMsg, ShellError};

/// Client → supervisor (`wire::ToSup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToSup {
    Shell(ClientMsg),
    Status,
    Wait,
    Stop,
    FollowLog,
    Events(bool),
    /// Bytes for the guest console, verbatim.
    Raw(Vec<u8>),
}

/// `wire::Status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub name: String,
    pub app: String,
    pub kernel: Option<String>,
    pub shell: String,
    pub clients: u32,
}

/// Supervisor → client (`wire::FromSup`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromSup {
    Shell(ServerMsg),
    Failed { id: u32, message: String },
    Status(Status),
    Exited { status: u8, message: Option<String> },
    LogFrom { offset: u64 },
    Log(String),
    /// A frame from this client the supervisor could not decode.
    BadFrame(FrameError),
    Error(String),
}

/// `frame` of `msg` for the instance socket.
pub fn frame(msg: &ToSup) -> Vec<u8> {
    shellproto::encode(msg).expect("encode for the instance socket")
}

/// A shell request in the supervisor's envelope.
pub fn shell_frame(id: u32, req: Request) -> Vec<u8> {
    frame(&ToSup::Shell(ClientMsg { id, req }))
}

/// How long one answer may take (TCG on a loaded 2-core machine).
const ANSWER_LIMIT: Duration = Duration::from_secs(60);

/// One connection to an instance's socket.
pub struct SupConn {
    stream: UnixStream,
    incoming: Receiver<Result<FromSup, FrameError>>,
}

impl SupConn {
    pub fn connect(socket: &Path) -> SupConn {
        let stream = UnixStream::connect(socket).unwrap_or_else(|e| panic!("connect to {}: {e}", socket.display()));
        let mut reader = stream.try_clone().expect("clone the stream");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut dec = MessageDecoder::<FromSup>::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                for m in dec.push(&buf[..n]) {
                    if tx.send(m).is_err() {
                        return;
                    }
                }
            }
        });
        SupConn { stream, incoming: rx }
    }

    /// Bytes on the socket as they are. A write the supervisor refuses
    /// (it may close a connection that sent garbage) is not an error here.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    pub fn send(&mut self, msg: &ToSup) {
        self.send_bytes(&frame(msg)).expect("write to the instance socket");
    }

    /// The next message, or None after `timeout` or when the supervisor
    /// closed the connection.
    pub fn next(&mut self, timeout: Duration) -> Option<Result<FromSup, FrameError>> {
        self.incoming.recv_timeout(timeout).ok()
    }

    /// Messages until `done` says the last one ends the wait; panics after
    /// [`ANSWER_LIMIT`] with what came.
    pub fn until(&mut self, what: &str, mut done: impl FnMut(&FromSup) -> bool) -> Vec<FromSup> {
        let start = Instant::now();
        let mut got = Vec::new();
        loop {
            let left = ANSWER_LIMIT.saturating_sub(start.elapsed());
            match self.next(left) {
                Some(Ok(m)) => {
                    let end = done(&m);
                    got.push(m);
                    if end {
                        return got;
                    }
                }
                Some(Err(e)) => panic!("the supervisor sent a frame this side cannot decode ({e}) while waiting for {what}; before it: {got:?}"),
                None => panic!("no {what} within {ANSWER_LIMIT:?} (or the connection closed); got: {got:?}"),
            }
        }
    }

    /// Sends shell request `id` and waits for its reply.
    pub fn request(&mut self, id: u32, req: Request) -> Result<Reply, ShellError> {
        self.send(&ToSup::Shell(ClientMsg { id, req }));
        match self.until(&format!("the reply to request {id}"), |m| is_reply(m, id)).pop() {
            Some(FromSup::Shell(ServerMsg::Reply { result, .. })) => result,
            other => unreachable!("{other:?}"),
        }
    }

    /// Raw bytes for the guest's console (the supervisor's pass-through).
    pub fn raw(&mut self, bytes: Vec<u8>) {
        self.send(&ToSup::Raw(bytes));
    }
}

/// The guest's reply with `id`.
pub fn is_reply(m: &FromSup, id: u32) -> bool {
    matches!(m, FromSup::Shell(ServerMsg::Reply { id: got, .. }) if *got == id)
}
