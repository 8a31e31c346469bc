//! A connection to an instance's supervisor, as every `ushell` command on
//! an instance uses it: requests with ids, their replies matched by a
//! reader thread (so the REPL's completer and its output printer can share
//! one connection), events handed to a callback, and the supervisor's own
//! messages (exit, log lines, status) on a queue.

mod error;
pub mod upload;

pub use error::ClientError;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shellproto::{encode, ClientMsg, Event, Hello, HelloReply, MessageDecoder, Reply, Request, ServerMsg, ShellError, VERSION};

use crate::instance::{Record, State};
use crate::supervisor::wire::{FromSup, ToSup};

/// How a request ended.
enum Answer {
    Reply(Result<Reply, ShellError>),
    Failed(String),
}

type EventSink = Box<dyn FnMut(Event) + Send>;

#[derive(Default)]
struct Shared {
    waiting: Mutex<HashMap<u32, SyncSender<Answer>>>,
    events: Mutex<Option<EventSink>>,
}

pub struct Conn {
    writer: Mutex<UnixStream>,
    shared: Arc<Shared>,
    next_id: AtomicU32,
    sup: Mutex<Receiver<FromSup>>,
    /// The instance's name, for messages.
    pub name: String,
    /// Print a note when the kernel takes long to answer (one-shot commands).
    pub patience_note: bool,
}

impl Conn {
    /// Connects to a running instance's socket.
    pub fn connect(rec: &Record) -> Result<Conn, ClientError> {
        if rec.state == State::Exited {
            return Err(ClientError::Exited { name: rec.name.clone(), status: rec.status });
        }
        Self::connect_path(&rec.socket, &rec.name)
    }

    pub fn connect_path(socket: &Path, name: &str) -> Result<Conn, ClientError> {
        let stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect { name: name.into(), path: socket.into(), source })?;
        let reader = stream.try_clone().map_err(|source| ClientError::Connect { name: name.into(), path: socket.into(), source })?;
        let shared = Arc::new(Shared::default());
        let (sup_tx, sup_rx) = channel();
        let s = shared.clone();
        std::thread::spawn(move || read_loop(reader, s, sup_tx));
        Ok(Conn {
            writer: Mutex::new(stream),
            shared,
            next_id: AtomicU32::new(1),
            sup: Mutex::new(sup_rx),
            name: name.into(),
            patience_note: false,
        })
    }

    /// Sends a supervisor message.
    pub fn send(&self, m: &ToSup) -> Result<(), ClientError> {
        let frame = encode(m).map_err(|e| ClientError::Encode(e.to_string()))?;
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        w.write_all(&frame).map_err(|_| ClientError::Closed { name: self.name.clone() })
    }

    /// The next message from the supervisor that is not a reply or an
    /// event; `None` once the connection is closed.
    pub fn recv_sup(&self) -> Option<FromSup> {
        self.sup.lock().unwrap_or_else(|e| e.into_inner()).recv().ok()
    }

    pub fn recv_sup_timeout(&self, t: Duration) -> Result<FromSup, RecvTimeoutError> {
        self.sup.lock().unwrap_or_else(|e| e.into_inner()).recv_timeout(t)
    }

    /// Events from now on go to `sink` (replies are not affected).
    pub fn on_events(&self, sink: impl FnMut(Event) + Send + 'static) {
        *self.shared.events.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(sink));
    }

    /// One request, answered.
    pub fn call(&self, req: Request) -> Result<Reply, ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed).max(1);
        let (tx, rx) = sync_channel(1);
        self.shared.waiting.lock().unwrap_or_else(|e| e.into_inner()).insert(id, tx);
        let what = req.name();
        if let Err(e) = self.send(&ToSup::Shell(ClientMsg { id, req })) {
            self.shared.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            return Err(e);
        }
        let answer = if self.patience_note {
            match rx.recv_timeout(Duration::from_secs(3)) {
                Ok(a) => Ok(a),
                Err(RecvTimeoutError::Disconnected) => Err(()),
                Err(RecvTimeoutError::Timeout) => {
                    eprintln!("ushell: waiting for instance `{}` to answer `{what}` (the kernel's shell may still be booting)", self.name);
                    rx.recv().map_err(|_| ())
                }
            }
        } else {
            rx.recv().map_err(|_| ())
        };
        match answer {
            Ok(Answer::Reply(Ok(r))) => Ok(r),
            Ok(Answer::Reply(Err(e))) => Err(ClientError::Shell(e)),
            Ok(Answer::Failed(m)) => Err(ClientError::Failed(m)),
            Err(()) => Err(ClientError::Closed { name: self.name.clone() }),
        }
    }

    /// Says hello; returns the kernel's limits.
    pub fn hello(&self) -> Result<HelloReply, ClientError> {
        let client = format!("ushell {}", env!("CARGO_PKG_VERSION"));
        match self.call(Request::Hello(Hello { version: VERSION, client }))? {
            Reply::Hello(h) => Ok(h),
            other => Err(ClientError::Unexpected { request: "hello", reply: format!("{other:?}") }),
        }
    }
}

fn read_loop(mut stream: UnixStream, shared: Arc<Shared>, sup: std::sync::mpsc::Sender<FromSup>) {
    let mut dec = MessageDecoder::<FromSup>::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for m in dec.push(&buf[..n]) {
            let Ok(m) = m else { continue };
            let waiter = |id: u32| shared.waiting.lock().unwrap_or_else(|e| e.into_inner()).remove(&id);
            match m {
                FromSup::Shell(ServerMsg::Reply { id, result }) => match waiter(id) {
                    Some(w) => {
                        let _ = w.send(Answer::Reply(result));
                    }
                    // Not ours: an answer to raw bytes (`ushell raw`).
                    None => {
                        let _ = sup.send(FromSup::Shell(ServerMsg::Reply { id, result }));
                    }
                },
                FromSup::Failed { id, message } => {
                    if let Some(w) = waiter(id) {
                        let _ = w.send(Answer::Failed(message));
                    }
                }
                FromSup::Shell(ServerMsg::Event(ev)) => {
                    if let Some(sink) = shared.events.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                        sink(ev);
                    }
                }
                other => {
                    let _ = sup.send(other);
                }
            }
        }
    }
    // Every request still waiting sees the end.
    shared.waiting.lock().unwrap_or_else(|e| e.into_inner()).clear();
}
