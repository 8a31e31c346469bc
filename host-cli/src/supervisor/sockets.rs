//! The supervisor's two sockets and the threads that read and write them:
//! the guest console (QEMU connects once) and the instance socket (any
//! number of `ushell` invocations). Readers decode frames and send them to
//! the hub; writers drain bounded queues.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Sender};
use std::sync::{Arc, Mutex};

use shellproto::{encode, MessageDecoder, ServerMsg, MAX_FRAME};

use super::hub::{GuestFrame, HubMsg};
use super::wire::{FromSup, ToSup};

/// Frames that may wait for the guest console.
const GUEST_QUEUE: usize = 1024;
/// Messages that may wait for one client.
const CLIENT_QUEUE: usize = 4096;

/// Binds a unix socket at `path`, mode 0600.
pub fn bind_private(path: &Path) -> std::io::Result<UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    let l = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(l)
}

/// Accepts QEMU's connection (the first one), then reads the guest's
/// frames until it closes. Later connections are refused: the listener is
/// closed once QEMU is connected.
/// The returned [`GuestRead`] tells when everything the guest sent has
/// reached the hub.
pub fn serve_guest(listener: UnixListener, hub: Sender<HubMsg>) -> GuestRead {
    let connected = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (done_tx, done) = std::sync::mpsc::channel::<()>();
    let c = connected.clone();
    std::thread::spawn(move || {
        let _done = done_tx;
        let Ok((stream, _)) = listener.accept() else { return };
        c.store(true, Ordering::SeqCst);
        drop(listener);
        let Ok(writer) = stream.try_clone() else { return };
        let (tx, rx) = sync_channel::<GuestFrame>(GUEST_QUEUE);
        std::thread::spawn(move || {
            let mut w = writer;
            for f in rx {
                if w.write_all(&f.bytes).is_err() {
                    return;
                }
            }
        });
        if hub.send(HubMsg::GuestConnected(tx)).is_err() {
            return;
        }
        read_frames::<ServerMsg>(stream, |r| {
            hub.send(match r {
                Got::Frame(m, end) => HubMsg::Guest(m, end),
                Got::Bytes(total) => HubMsg::GuestRead(total),
            })
            .is_ok()
        });
        let _ = hub.send(HubMsg::GuestClosed);
    });
    GuestRead { connected, done }
}

/// Whether the guest console's reader has handed the hub its last frame.
pub struct GuestRead {
    connected: Arc<std::sync::atomic::AtomicBool>,
    done: std::sync::mpsc::Receiver<()>,
}

impl GuestRead {
    /// Waits (at most `limit`) until the console's last frames are with the
    /// hub, so the exit is never announced before the records that came
    /// before it (the last syscalls of `ushell trace`).
    pub fn wait(&self, limit: std::time::Duration) {
        if self.connected.load(Ordering::SeqCst) {
            let _ = self.done.recv_timeout(limit);
        }
    }
}

/// What a reader hands on: a message (or bad frame) and the stream
/// position where it ends, or, after each read, the bytes read so far (the
/// guest console's flow control counts them).
enum Got<T> {
    Frame(Result<T, shellproto::FrameError>, u64),
    Bytes(u64),
}

/// Reads frames from `stream` and hands them to `each` until the stream
/// ends or `each` says stop.
fn read_frames<T: serde::de::DeserializeOwned>(mut stream: UnixStream, mut each: impl FnMut(Got<T>) -> bool) {
    let mut dec = MessageDecoder::<T>::with_max(MAX_FRAME);
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        let mut input = &buf[..n];
        while let Some(m) = dec.next(&mut input) {
            if !each(Got::Frame(m, total + (n - input.len()) as u64)) {
                return;
            }
        }
        total += n as u64;
        if !each(Got::Bytes(total)) {
            return;
        }
    }
    if let Some(e) = dec.finish() {
        each(Got::Frame(Err(e), total));
    }
}

/// Accepts clients until the process ends; each gets an id, a reader
/// thread and a writer thread.
pub fn serve_clients(listener: UnixListener, hub: Sender<HubMsg>, writers: Arc<WriterCount>) {
    std::thread::spawn(move || {
        let next = AtomicU64::new(1);
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let id = next.fetch_add(1, Ordering::Relaxed);
            let (Ok(w), Ok(shut)) = (stream.try_clone(), stream.try_clone()) else { continue };
            let (tx, rx) = sync_channel::<FromSup>(CLIENT_QUEUE);
            let guard = writers.enter();
            std::thread::spawn(move || {
                let _guard = guard;
                let mut w = w;
                for m in rx {
                    let Ok(frame) = encode(&m) else { continue };
                    if w.write_all(&frame).is_err() {
                        break;
                    }
                }
                let _ = w.shutdown(std::net::Shutdown::Both);
            });
            if hub.send(HubMsg::ClientConnected { id, tx, stream: shut }).is_err() {
                return;
            }
            let hub = hub.clone();
            std::thread::spawn(move || {
                read_frames::<ToSup>(stream, |r| match r {
                    Got::Frame(m, _) => hub.send(HubMsg::Client(id, m)).is_ok(),
                    Got::Bytes(_) => true,
                });
                let _ = hub.send(HubMsg::ClientGone(id));
            });
        }
    });
}

/// Counts client writers still running, so the supervisor can let them
/// deliver the exit before the process ends.
#[derive(Default)]
pub struct WriterCount {
    live: Mutex<usize>,
    changed: std::sync::Condvar,
}

pub struct WriterGuard(Arc<WriterCount>);

impl Drop for WriterGuard {
    fn drop(&mut self) {
        let mut n = self.0.live.lock().unwrap_or_else(|e| e.into_inner());
        *n -= 1;
        self.0.changed.notify_all();
    }
}

impl WriterCount {
    fn enter(self: &Arc<Self>) -> WriterGuard {
        *self.live.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        WriterGuard(self.clone())
    }

    /// Waits until every writer is done, or `limit` passes (a client that
    /// never reads must not keep the supervisor alive).
    pub fn wait_idle(&self, limit: std::time::Duration) {
        let n = self.live.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self.changed.wait_timeout_while(n, limit, |n| *n > 0);
    }
}
