//! The hub: one thread that owns the multiplexer and applies what it says.
//! Everything else (the guest console's reader, each client's reader,
//! the QEMU watcher) sends it a [`HubMsg`]; writers are threads of their own
//! behind bounded queues, so a slow peer never stalls the hub.

use std::collections::BTreeMap;
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use shellproto::{encode, Event, FrameError, ServerMsg};

use super::mux::{ClientId, Mux, Out};
use super::wire::{FromSup, Status, ToSup};
use crate::instance::log::{InstanceLog, Source};

pub enum HubMsg {
    /// QEMU connected; frames for the guest go to this queue.
    GuestConnected(SyncSender<GuestFrame>),
    /// A message from the guest, and where in the console stream it ends.
    Guest(Result<ServerMsg, FrameError>, u64),
    /// Bytes read from the guest console so far.
    GuestRead(u64),
    GuestClosed,
    ClientConnected { id: ClientId, tx: SyncSender<FromSup>, stream: UnixStream },
    Client(ClientId, Result<ToSup, FrameError>),
    ClientGone(ClientId),
    /// The run is over: tell everyone and end.
    Exited { status: u8, message: Option<String> },
}

/// Encoded bytes for the guest console.
pub struct GuestFrame {
    pub bytes: Vec<u8>,
}

/// What the hub needs from the rest of the supervisor.
pub struct HubEnv {
    pub name: String,
    pub app: String,
    pub log: Arc<InstanceLog>,
    /// Asks the QEMU watcher to end the VM.
    pub stop: Box<dyn Fn() + Send>,
    /// `ushell run --trace`: the syscall stream from boot goes here.
    pub trace: Option<std::sync::mpsc::Sender<Event>>,
}

struct Client {
    tx: SyncSender<FromSup>,
    stream: UnixStream,
}

pub fn run(env: HubEnv, rx: Receiver<HubMsg>) {
    let mut mux = Mux::new();
    if env.trace.is_some() {
        mux.trace_locally();
    }
    let mut guest: Option<SyncSender<GuestFrame>> = None;
    let mut clients: BTreeMap<ClientId, Client> = BTreeMap::new();
    let mut waiters: Vec<ClientId> = Vec::new();
    for msg in rx {
        let outs = match msg {
            HubMsg::GuestConnected(tx) => {
                guest = Some(tx);
                mux.guest_connected()
            }
            HubMsg::Guest(m, end) => {
                mux.guest_at(end);
                mux.guest_msg(m)
            }
            HubMsg::GuestRead(total) => mux.guest_read(total),
            HubMsg::GuestClosed => {
                guest = None;
                mux.guest_gone("the guest console closed (the VM is ending)")
            }
            HubMsg::ClientConnected { id, tx, stream } => {
                mux.client_connected(id);
                clients.insert(id, Client { tx, stream });
                Vec::new()
            }
            HubMsg::ClientGone(id) => {
                clients.remove(&id);
                waiters.retain(|w| *w != id);
                mux.client_gone(id)
            }
            HubMsg::Client(id, m) => match m {
                Err(e) => vec![Out::Client(id, FromSup::BadFrame(e))],
                Ok(ToSup::Shell(msg)) => mux.client_msg(id, msg),
                Ok(ToSup::Raw(bytes)) => mux.raw(id, bytes),
                Ok(ToSup::Events(on)) => {
                    mux.subscribe(id, on);
                    Vec::new()
                }
                Ok(ToSup::Status) => {
                    let s = Status {
                        name: env.name.clone(),
                        app: env.app.clone(),
                        kernel: mux.kernel().map(|k| k.kernel.clone()),
                        shell: mux.shell_state(),
                        clients: mux.clients() as u32,
                    };
                    vec![Out::Client(id, FromSup::Status(s))]
                }
                Ok(ToSup::Wait) => {
                    waiters.push(id);
                    Vec::new()
                }
                Ok(ToSup::Stop) => {
                    env.log.line(&Source::Supervisor, "stop requested by `ushell stop`");
                    (env.stop)();
                    Vec::new()
                }
                Ok(ToSup::FollowLog) => {
                    if let Some(c) = clients.get(&id) {
                        follow_log(&env.log, c.tx.clone());
                    }
                    Vec::new()
                }
            },
            HubMsg::Exited { status, message } => {
                let why = match &message {
                    Some(m) => format!("the instance ended before answering: {m}"),
                    None => format!("the app exited (status {status}) before the kernel answered"),
                };
                let mut outs = mux.guest_gone(&why);
                outs.extend(waiters.drain(..).map(|w| Out::Client(w, FromSup::Exited { status, message: message.clone() })));
                apply(outs, &env, &mut mux, &mut guest, &mut clients);
                // Dropping the queues lets each writer send what is left,
                // then close its connection.
                return;
            }
        };
        apply(outs, &env, &mut mux, &mut guest, &mut clients);
    }
}

fn apply(outs: Vec<Out>, env: &HubEnv, mux: &mut Mux, guest: &mut Option<SyncSender<GuestFrame>>, clients: &mut BTreeMap<ClientId, Client>) {
    let mut work = std::collections::VecDeque::from(outs);
    while let Some(out) = work.pop_front() {
        match out {
            Out::Guest(msg) => {
                let gid = msg.id;
                let mut frame = match encode(&msg) {
                    Ok(f) => f,
                    Err(e) => {
                        work.extend(mux.send_failed(gid, &format!("the request cannot be sent: {e}")));
                        continue;
                    }
                };
                if mux.take_raw_open() {
                    frame.insert(0, 0);
                }
                if let Err(why) = to_guest(guest, GuestFrame { bytes: frame }) {
                    work.extend(mux.send_failed(gid, why));
                }
            }
            Out::GuestRaw(bytes) => {
                if let Err(why) = to_guest(guest, GuestFrame { bytes }) {
                    env.log.line(&Source::Supervisor, &format!("raw bytes for the guest dropped: {why}"));
                }
            }
            Out::Client(id, m) => {
                let Some(c) = clients.get(&id) else { continue };
                match c.tx.try_send(m) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => {
                        env.log.line(&Source::Supervisor, &format!("client {id} does not read its replies; disconnected"));
                        let _ = c.stream.shutdown(std::net::Shutdown::Both);
                        clients.remove(&id);
                        work.extend(mux.client_gone(id));
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        clients.remove(&id);
                        work.extend(mux.client_gone(id));
                    }
                }
            }
            Out::Log(ev) => log_event(&env.log, &ev),
            Out::Note(n) => env.log.line(&Source::Supervisor, &n),
            Out::Trace(ev) => {
                if let Some(t) = &env.trace {
                    let _ = t.send(ev);
                }
            }
        }
    }
}

fn to_guest(guest: &Option<SyncSender<GuestFrame>>, f: GuestFrame) -> Result<(), &'static str> {
    let Some(tx) = guest else { return Err("the guest console is not connected") };
    tx.try_send(f).map_err(|e| match e {
        TrySendError::Full(_) => "the guest console is not reading: too many requests are queued for it",
        TrySendError::Disconnected(_) => "the guest console closed",
    })
}

/// `FollowLog`: the offset now, then each new line, on a thread of its own
/// (it may block on a slow client; the log drops it if it falls too far
/// behind).
fn follow_log(log: &InstanceLog, tx: SyncSender<FromSup>) {
    let (offset, lines) = log.follow();
    std::thread::spawn(move || {
        if tx.send(FromSup::LogFrom { offset }).is_err() {
            return;
        }
        for line in lines {
            if tx.send(FromSup::Log(line)).is_err() {
                return;
            }
        }
    });
}

pub fn log_event(log: &InstanceLog, ev: &Event) {
    match ev {
        Event::ProgOutput { name, line, .. } => log.line(&Source::Prog(name.clone()), line),
        Event::Ringbuf { map_name, data, .. } => log.line(&Source::Ringbuf(map_name.clone()), &crate::commands::value::hex(data)),
        Event::Kernel { level, line } => log.line(&Source::Kernel, &format!("{}{line}", crate::commands::format::level_prefix(*level))),
        Event::Lost { what, count } => log.line(&Source::Supervisor, &format!("lost {count}: {what}")),
        // Records of `ushell trace`: for the client that asked, not the log.
        Event::Syscalls { .. } => {}
    }
}
