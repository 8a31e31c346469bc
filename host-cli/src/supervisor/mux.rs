//! The multiplexer: many clients, one guest console. A pure state machine
//! (messages in, [`Out`] actions out) that the supervisor's hub drives.
//!
//! * **Ids**: every request forwarded to the guest gets a fresh guest id;
//!   the reply is routed back to its client under the client's own id.
//!   Two clients may use the same ids.
//! * **Hello**: the supervisor says hello once, when QEMU connects.
//!   Requests that arrive before the kernel answers wait in a queue; a
//!   client's own hello is answered from the kernel's reply, never
//!   forwarded (a second hello would reset the guest's session and abort
//!   the other clients' uploads).
//! * **Uploads** belong to the client that began them: only it may send
//!   their chunks, and when it disconnects the supervisor sends
//!   `UploadAbort` for each, also for an upload whose `UploadReady` arrives
//!   after its client left.
//! * **Events** go to the instance log, to clients that subscribed, and, for
//!   program output, to the client whose `exec` is being served: the guest
//!   answers requests in order (but `TraceStop`, answered after the
//!   stream's last records), and the output of a run comes before its
//!   reply, so it belongs to the oldest request still waiting. Programs
//!   attached to functions print at any time, so when the exec names its
//!   program by id, only that program's lines are its output.
//! * **Syscall records** (`Event::Syscalls`, and `Event::Lost` for them)
//!   go only to the tracer: the client whose `TraceStart` is in force, or
//!   the supervisor itself (`ushell run --trace`, [`Out::Trace`]); never
//!   to the log or to other subscribers. One tracer at a time: another
//!   client's `TraceStart` is refused. When the tracing client goes away
//!   without `TraceStop` (killed), the supervisor stops the stream.
//! * **Flow control**: the supervisor's hello is followed by `FlowStart`;
//!   from the end of its reply the supervisor confirms what it read
//!   (`FlowRead`, every quarter window), and the guest keeps no more than
//!   a window unconfirmed, because QEMU's virtconsole drops what the
//!   socket does not take at once.
//! * **Raw** bytes (tests) go to the guest verbatim, so that consecutive
//!   pieces can form any stream, an oversized frame included; when they end
//!   inside a frame, the next frame the supervisor sends starts with a
//!   delimiter, so the guest's decoder resynchronizes first. What the
//!   supervisor cannot attribute afterwards (bad frames, unknown ids) goes
//!   to the clients that sent raw bytes.

use std::collections::{BTreeMap, VecDeque};

use shellproto::{ClientMsg, Event, FrameError, Hello, HelloReply, Reply, Request, ServerMsg, ShellError, UploadError, VERSION};

use super::wire::FromSup;

pub type ClientId = u64;

/// Requests that may wait for the kernel's hello, from all clients.
pub const MAX_QUEUED: usize = 1024;

/// What the hub must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Out {
    /// Send to the guest (as a frame).
    Guest(ClientMsg),
    /// Send to the guest verbatim.
    GuestRaw(Vec<u8>),
    Client(ClientId, FromSup),
    /// Record a guest event in the instance log.
    Log(Event),
    /// Record a supervisor note in the instance log.
    Note(String),
    /// Syscall records (or their losses) for the supervisor's own tracer
    /// (`ushell run --trace`).
    Trace(Event),
}

/// Who receives the syscall stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tracer {
    /// The supervisor (`ushell run --trace`: the stream runs from boot).
    Local,
    Client(ClientId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HelloState {
    /// QEMU has not connected yet.
    Offline,
    Waiting,
    Ready(HelloReply),
    Refused(ShellError),
    /// The console is gone (the instance exited) or answered nonsense.
    Gone(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Hello,
    UploadBegin,
    UploadChunk(u32),
    /// The program's id when the request gives one.
    Exec(Option<u32>),
    TraceStart,
    TraceStop,
    /// The supervisor's `FlowStart`.
    Flow,
    Other,
    /// The supervisor's own aborts: their replies are not anyone's.
    Internal,
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    owner: Option<(ClientId, u32)>,
    kind: Kind,
}

#[derive(Debug, Default, Clone, Copy)]
struct ClientState {
    events: bool,
    raw: bool,
}

#[derive(Debug)]
pub struct Mux {
    next_id: u32,
    pending: BTreeMap<u32, Pending>,
    /// Guest ids in the order sent: the guest answers in this order.
    order: VecDeque<u32>,
    uploads: BTreeMap<u32, ClientId>,
    hello: HelloState,
    queued: VecDeque<(ClientId, ClientMsg)>,
    clients: BTreeMap<ClientId, ClientState>,
    /// Raw bytes ended inside a frame: the guest's decoder is mid-frame.
    raw_open: bool,
    tracer: Option<Tracer>,
    flow: FlowState,
}

/// The supervisor's side of flow control; positions count the bytes read
/// from the guest console since QEMU connected.
#[derive(Debug, Default, Clone, Copy)]
struct FlowState {
    /// Where the message being handled ends ([`Mux::guest_at`]).
    at: u64,
    confirm: shellproto::flow::Confirmer,
}

impl Default for Mux {
    fn default() -> Self {
        Self::new()
    }
}

/// The supervisor's hello uses this guest id; client requests never do.
const HELLO_ID: u32 = 0;
/// The supervisor's `FlowStart` and `FlowRead` use this guest id.
const FLOW_ID: u32 = u32::MAX;

fn already_traced(t: Tracer) -> String {
    match t {
        Tracer::Local => "this instance's syscalls are already traced by its `ushell run --trace`".into(),
        Tracer::Client(_) => "this instance's syscalls are already traced by another `ushell trace` (one at a time)".into(),
    }
}

fn reply(c: ClientId, id: u32, result: Result<Reply, ShellError>) -> Out {
    Out::Client(c, FromSup::Shell(ServerMsg::Reply { id, result }))
}

impl Mux {
    pub fn new() -> Self {
        Mux {
            next_id: 1,
            pending: BTreeMap::new(),
            order: VecDeque::new(),
            uploads: BTreeMap::new(),
            hello: HelloState::Offline,
            queued: VecDeque::new(),
            clients: BTreeMap::new(),
            raw_open: false,
            tracer: None,
            flow: FlowState::default(),
        }
    }

    /// The stream started at boot (`ushell run --trace`) is the
    /// supervisor's: its records become [`Out::Trace`].
    pub fn trace_locally(&mut self) {
        self.tracer = Some(Tracer::Local);
    }

    /// The shell's state, for `ushell info` and `Status`.
    pub fn shell_state(&self) -> String {
        match &self.hello {
            HelloState::Offline => "not connected".into(),
            HelloState::Waiting => "connecting (the kernel has not answered hello yet)".into(),
            HelloState::Ready(_) => "ready".into(),
            HelloState::Refused(e) => format!("refused: {e}"),
            HelloState::Gone(why) => format!("gone: {why}"),
        }
    }

    pub fn kernel(&self) -> Option<&HelloReply> {
        match &self.hello {
            HelloState::Ready(r) => Some(r),
            _ => None,
        }
    }

    pub fn clients(&self) -> usize {
        self.clients.len()
    }

    /// Requests sent to the guest and not answered yet.
    #[cfg(test)]
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// QEMU connected to the console: say hello, and turn on flow control.
    pub fn guest_connected(&mut self) -> Vec<Out> {
        self.hello = HelloState::Waiting;
        self.flow = FlowState::default();
        for (id, kind) in [(HELLO_ID, Kind::Hello), (FLOW_ID, Kind::Flow)] {
            self.pending.insert(id, Pending { owner: None, kind });
            self.order.push_back(id);
        }
        let client = format!("ushell-supervisor {}", env!("CARGO_PKG_VERSION"));
        vec![
            Out::Guest(ClientMsg { id: HELLO_ID, req: Request::Hello(Hello { version: VERSION, client }) }),
            Out::Guest(ClientMsg { id: FLOW_ID, req: Request::FlowStart }),
        ]
    }

    /// The next message from the guest ends at byte `end` of the console
    /// stream (where the flow-control count begins after `FlowStarted`).
    pub fn guest_at(&mut self, end: u64) {
        self.flow.at = end;
    }

    /// `total` bytes have been read from the guest console: confirms them
    /// when a quarter window has come in since the last confirmation.
    pub fn guest_read(&mut self, total: u64) -> Vec<Out> {
        match self.flow.confirm.read(total) {
            Some(read) => vec![Out::Guest(ClientMsg { id: FLOW_ID, req: Request::FlowRead { read } })],
            None => Vec::new(),
        }
    }

    pub fn client_connected(&mut self, c: ClientId) {
        self.clients.insert(c, ClientState::default());
    }

    pub fn subscribe(&mut self, c: ClientId, events: bool) {
        if let Some(s) = self.clients.get_mut(&c) {
            s.events = events;
        }
    }

    /// A shell request from client `c`.
    pub fn client_msg(&mut self, c: ClientId, msg: ClientMsg) -> Vec<Out> {
        if !self.clients.contains_key(&c) {
            return Vec::new();
        }
        if let Request::Hello(h) = &msg.req {
            if h.version != VERSION {
                return vec![reply(c, msg.id, Err(ShellError::Version { server: VERSION, client: h.version }))];
            }
        }
        match &self.hello {
            HelloState::Offline | HelloState::Waiting => {
                if self.queued.len() >= MAX_QUEUED {
                    let message = format!("{MAX_QUEUED} requests are already waiting for the kernel's shell to answer hello");
                    return vec![Out::Client(c, FromSup::Failed { id: msg.id, message })];
                }
                self.queued.push_back((c, msg));
                Vec::new()
            }
            HelloState::Refused(e) => vec![reply(c, msg.id, Err(e.clone()))],
            HelloState::Gone(why) => vec![Out::Client(c, FromSup::Failed { id: msg.id, message: why.clone() })],
            HelloState::Ready(r) => match msg.req {
                Request::Hello(_) => vec![reply(c, msg.id, Ok(Reply::Hello(r.clone())))],
                req => self.forward(c, msg.id, req),
            },
        }
    }

    fn forward(&mut self, c: ClientId, id: u32, req: Request) -> Vec<Out> {
        let kind = match &req {
            Request::UploadBegin { .. } => Kind::UploadBegin,
            Request::UploadChunk { upload, .. }
            | Request::UploadCommit { upload }
            | Request::UploadCommitWith { upload, .. }
            | Request::UploadAbort { upload } => {
                if self.uploads.get(upload) != Some(&c) {
                    return vec![reply(c, id, Err(ShellError::Upload(UploadError::NoSuchUpload { upload: *upload })))];
                }
                if matches!(req, Request::UploadChunk { .. }) {
                    Kind::UploadChunk(*upload)
                } else {
                    // The guest drops the upload on a commit or an abort,
                    // whatever the outcome: nothing left to abort for `c`.
                    self.uploads.remove(upload);
                    Kind::Other
                }
            }
            Request::TraceStart { .. } => match self.tracer {
                Some(Tracer::Client(o)) if o == c => Kind::TraceStart,
                Some(t) => return vec![Out::Client(c, FromSup::Failed { id, message: already_traced(t) })],
                None => {
                    // From now on: the records that follow the reply are its.
                    self.tracer = Some(Tracer::Client(c));
                    Kind::TraceStart
                }
            },
            Request::TraceStop => match self.tracer {
                Some(Tracer::Client(o)) if o == c => Kind::TraceStop,
                Some(t) => return vec![Out::Client(c, FromSup::Failed { id, message: already_traced(t) })],
                None => Kind::TraceStop,
            },
            Request::Exec { prog, .. } => Kind::Exec(match prog {
                shellproto::Ref::Id(id) => Some(*id),
                shellproto::Ref::Name(_) => None,
            }),
            _ => Kind::Other,
        };
        vec![self.send(Some((c, id)), kind, req)]
    }

    fn send(&mut self, owner: Option<(ClientId, u32)>, kind: Kind, req: Request) -> Out {
        let gid = self.alloc();
        self.pending.insert(gid, Pending { owner, kind });
        self.order.push_back(gid);
        Out::Guest(ClientMsg { id: gid, req })
    }

    fn alloc(&mut self) -> u32 {
        loop {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            if id != HELLO_ID && id != FLOW_ID && !self.pending.contains_key(&id) {
                return id;
            }
        }
    }

    /// Bytes from a test client for the guest, verbatim.
    pub fn raw(&mut self, c: ClientId, bytes: Vec<u8>) -> Vec<Out> {
        let Some(s) = self.clients.get_mut(&c) else { return Vec::new() };
        s.raw = true;
        if matches!(self.hello, HelloState::Offline | HelloState::Gone(_)) {
            return vec![Out::Client(c, FromSup::Error(format!("the guest console is {}", self.shell_state())))];
        }
        if let Some(last) = bytes.last() {
            self.raw_open = *last != 0;
        }
        vec![Out::GuestRaw(bytes)]
    }

    /// Whether the frame about to go to the guest must start with a
    /// delimiter (raw bytes left the guest's decoder inside a frame); the
    /// caller sends it, so this answers true once.
    pub fn take_raw_open(&mut self) -> bool {
        std::mem::take(&mut self.raw_open)
    }

    /// A message (or a bad frame) from the guest.
    pub fn guest_msg(&mut self, msg: Result<ServerMsg, FrameError>) -> Vec<Out> {
        match msg {
            Err(e) => vec![Out::Note(format!("the guest console sent a bad frame: {e}"))],
            Ok(ServerMsg::Reply { id, result }) => self.guest_reply(id, result),
            Ok(ServerMsg::Event(ev)) => self.guest_event(ev),
            Ok(ServerMsg::BadFrame(e)) => {
                let mut out = vec![Out::Note(format!("the kernel's shell refused a frame from the host: {e}"))];
                out.extend(self.to_raw_clients(FromSup::Shell(ServerMsg::BadFrame(e))));
                out
            }
        }
    }

    fn to_raw_clients(&self, m: FromSup) -> Vec<Out> {
        self.clients.iter().filter(|(_, s)| s.raw).map(|(c, _)| Out::Client(*c, m.clone())).collect()
    }

    fn guest_reply(&mut self, id: u32, result: Result<Reply, ShellError>) -> Vec<Out> {
        let Some(p) = self.pending.remove(&id) else {
            let mut out = vec![Out::Note(format!("the kernel answered request id {id}, which no client sent"))];
            out.extend(self.to_raw_clients(FromSup::Shell(ServerMsg::Reply { id, result })));
            return out;
        };
        self.order.retain(|g| *g != id);
        let mut out = Vec::new();
        match (p.kind, &result) {
            (Kind::Hello, _) => return self.hello_answered(result),
            (Kind::Flow, Ok(Reply::FlowStarted { window })) => {
                self.flow.confirm.started(self.flow.at, *window);
                return out;
            }
            (Kind::Flow, _) => {
                out.push(Out::Note(format!("the kernel's shell has no flow control ({result:?}): output it sends faster than the supervisor reads may be lost")));
                return out;
            }
            (Kind::Internal, _) => return out,
            (Kind::UploadBegin, Ok(Reply::UploadReady { upload })) => match p.owner {
                Some((c, _)) if self.clients.contains_key(&c) => {
                    self.uploads.insert(*upload, c);
                }
                _ => out.push(self.send(None, Kind::Internal, Request::UploadAbort { upload: *upload })),
            },
            (Kind::UploadChunk(upload), Err(_)) => {
                // A refused chunk ends the upload in the guest.
                self.uploads.remove(&upload);
            }
            (Kind::TraceStart, Err(_)) => {
                if let (Some(Tracer::Client(t)), Some((c, _))) = (self.tracer, p.owner) {
                    if t == c {
                        self.tracer = None;
                    }
                }
            }
            (Kind::TraceStop, _) => {
                // The records before the reply were the stopping client's.
                if let (Some(Tracer::Client(t)), Some((c, _))) = (self.tracer, p.owner) {
                    if t == c {
                        self.tracer = None;
                    }
                }
            }
            _ => {}
        }
        if let Some((c, cid)) = p.owner {
            if self.clients.contains_key(&c) {
                out.push(reply(c, cid, result));
            }
        }
        out
    }

    fn hello_answered(&mut self, result: Result<Reply, ShellError>) -> Vec<Out> {
        let mut out = Vec::new();
        self.hello = match result {
            Ok(Reply::Hello(r)) => {
                out.push(Out::Note(format!("kernel shell ready: {} (protocol version {})", r.kernel, r.version)));
                HelloState::Ready(r)
            }
            Err(e) => {
                out.push(Out::Note(format!("the kernel's shell refused the supervisor's hello: {e}")));
                HelloState::Refused(e)
            }
            Ok(other) => {
                let why = format!("the kernel answered hello with {other:?}");
                out.push(Out::Note(why.clone()));
                HelloState::Gone(why)
            }
        };
        for (c, msg) in std::mem::take(&mut self.queued) {
            out.extend(self.client_msg(c, msg));
        }
        out
    }

    fn guest_event(&mut self, ev: Event) -> Vec<Out> {
        let records = match &ev {
            Event::Syscalls { .. } => Some(false),
            Event::Lost { what, .. } if what.starts_with("syscall records") => Some(true),
            _ => None,
        };
        if let Some(logged) = records {
            let mut out = Vec::new();
            if logged {
                out.push(Out::Log(ev.clone()));
            }
            match self.tracer {
                Some(Tracer::Local) => out.push(Out::Trace(ev)),
                Some(Tracer::Client(c)) if self.clients.contains_key(&c) => out.push(Out::Client(c, FromSup::Shell(ServerMsg::Event(ev)))),
                // Records of a tracer that left (its stop is on the way).
                _ => {}
            }
            return out;
        }
        let mut to: Vec<ClientId> = self.clients.iter().filter(|(_, s)| s.events).map(|(c, _)| *c).collect();
        if matches!(ev, Event::ProgOutput { .. } | Event::Ringbuf { .. }) {
            // A TraceStop is answered after the stream's last records, so
            // later requests may be answered first: the run is the oldest
            // other request.
            let running = self.order.iter().filter_map(|g| self.pending.get(g)).find(|p| p.kind != Kind::TraceStop);
            if let Some(Pending { owner: Some((c, _)), kind: Kind::Exec(of) }) = running {
                let theirs = match (&ev, of) {
                    (Event::ProgOutput { prog, .. }, Some(id)) => prog == id,
                    _ => true,
                };
                if theirs && self.clients.contains_key(c) && !to.contains(c) {
                    to.push(*c);
                }
            }
        }
        let mut out = vec![Out::Log(ev.clone())];
        out.extend(to.into_iter().map(|c| Out::Client(c, FromSup::Shell(ServerMsg::Event(ev.clone())))));
        out
    }

    /// A client went away: its waiting requests are dropped and its
    /// uploads aborted.
    pub fn client_gone(&mut self, c: ClientId) -> Vec<Out> {
        self.clients.remove(&c);
        self.queued.retain(|(q, _)| *q != c);
        let mine: Vec<u32> = self.uploads.iter().filter(|(_, o)| **o == c).map(|(u, _)| *u).collect();
        let mut out = Vec::new();
        for upload in mine {
            self.uploads.remove(&upload);
            out.push(self.send(None, Kind::Internal, Request::UploadAbort { upload }));
        }
        if self.tracer == Some(Tracer::Client(c)) {
            // `ushell trace` killed without detaching: stop the stream.
            self.tracer = None;
            if matches!(self.hello, HelloState::Ready(_)) {
                out.push(Out::Note(format!("client {c} went away while tracing syscalls; stream stopped")));
                out.push(self.send(None, Kind::Internal, Request::TraceStop));
            }
        }
        out
    }

    /// A message the hub could not send to the guest (its queue is full).
    pub fn send_failed(&mut self, gid: u32, why: &str) -> Vec<Out> {
        self.order.retain(|g| *g != gid);
        match self.pending.remove(&gid) {
            Some(Pending { owner: Some((c, id)), .. }) if self.clients.contains_key(&c) => {
                vec![Out::Client(c, FromSup::Failed { id, message: why.into() })]
            }
            _ => Vec::new(),
        }
    }

    /// The console closed (QEMU exited): every waiting request fails.
    pub fn guest_gone(&mut self, why: &str) -> Vec<Out> {
        self.hello = HelloState::Gone(why.into());
        let mut out = Vec::new();
        for (_, p) in std::mem::take(&mut self.pending) {
            if let Some((c, id)) = p.owner {
                if self.clients.contains_key(&c) {
                    out.push(Out::Client(c, FromSup::Failed { id, message: why.into() }));
                }
            }
        }
        for (c, msg) in std::mem::take(&mut self.queued) {
            out.push(Out::Client(c, FromSup::Failed { id: msg.id, message: why.into() }));
        }
        self.order.clear();
        self.uploads.clear();
        out
    }
}

#[cfg(test)]
mod tests;
