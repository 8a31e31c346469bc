//! Bytes in, bytes out: what the kernel's console task drives. It feeds
//! whatever the console delivered to [`Server::receive`] and writes out the
//! bytes it gets back; garbage, truncated and oversized frames are answered
//! with [`ServerMsg::BadFrame`] and decoding resumes at the next frame.
//! The server also owns the output's flow control ([`shellproto::flow`]): it
//! counts the bytes it wrote, and [`Server::sendable`] tells the console
//! task how many it may hand to the device.

use alloc::vec::Vec;

use shellproto::upload::Limits;
use shellproto::{encode, encode_into, ClientMsg, Event, MessageDecoder, Reply, Request, ServerMsg, ShellError, MAX_FRAME};

use shellproto::flow::{Flow, WINDOW};
use crate::kernel::Kernel;
use crate::shell::Shell;

pub struct Server<K: Kernel> {
    shell: Shell<K>,
    decoder: MessageDecoder<ClientMsg>,
    /// Bytes written to the output since the server was made.
    written: u64,
    flow: Flow,
}

impl<K: Kernel> Server<K> {
    pub fn new(kernel: K, limits: Limits) -> Self {
        Server { shell: Shell::new(kernel, limits), decoder: MessageDecoder::new(), written: 0, flow: Flow::default() }
    }

    /// How many bytes at the front of the output may go to the device now,
    /// when `unsent` bytes of what the server wrote are still waiting (the
    /// caller sends from the front and drains what it sent).
    pub fn sendable(&self, unsent: usize) -> usize {
        self.flow.sendable(self.written.saturating_sub(unsent as u64), unsent)
    }

    pub fn shell(&mut self) -> &mut Shell<K> {
        &mut self.shell
    }

    /// Handles every complete frame in `input` (a partial one is kept) and
    /// appends the encoded replies and events to `out`.
    pub fn receive(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        while let Some(frame) = self.decoder.next(&mut input) {
            let msgs = match frame {
                Ok(ClientMsg { req: Request::FlowRead { read }, .. }) => {
                    self.flow.confirm(read);
                    continue;
                }
                Ok(ClientMsg { id, req: Request::FlowStart }) if self.shell.greeted() => {
                    self.put(&ServerMsg::Reply { id, result: Ok(Reply::FlowStarted { window: WINDOW }) }, out);
                    self.flow.start(self.written);
                    continue;
                }
                Ok(msg) => {
                    if matches!(msg.req, Request::Hello(_)) {
                        self.flow.stop();
                    }
                    self.shell.handle(msg)
                }
                Err(e) => alloc::vec![ServerMsg::BadFrame(e)],
            };
            for m in &msgs {
                self.put(m, out);
            }
        }
    }

    fn put(&mut self, m: &ServerMsg, out: &mut Vec<u8>) {
        let before = out.len();
        write(m, out);
        self.written += (out.len() - before) as u64;
    }

    /// The peer disconnected (or the console was reset): an unfinished
    /// frame is dropped and uploads in progress are aborted.
    pub fn disconnected(&mut self) {
        let _ = self.decoder.finish();
        self.shell.end_session();
        self.flow.stop();
    }

    /// Ring-buffer records waiting, encoded into `out`.
    pub fn poll(&mut self, out: &mut Vec<u8>) {
        for m in &self.shell.poll_output() {
            self.put(m, out);
        }
    }

    /// Sends an event the kernel produced (a log line).
    pub fn event(&mut self, ev: Event, out: &mut Vec<u8>) {
        self.put(&ServerMsg::Event(ev), out);
    }
}

/// Encodes `m`; a reply too large for a frame becomes an error reply with
/// the same id, so the client is answered either way.
fn write(m: &ServerMsg, out: &mut Vec<u8>) {
    match encode_into(m, MAX_FRAME, out) {
        Ok(_) => {}
        Err(e) => {
            let size = match e {
                shellproto::EncodeError::TooLarge { size, .. } => size as u32,
                shellproto::EncodeError::Serialize => 0,
            };
            let fallback = match m {
                ServerMsg::Reply { id, .. } => ServerMsg::Reply { id: *id, result: Err(ShellError::ReplyTooLarge { size, max: MAX_FRAME as u32 }) },
                _ => ServerMsg::Event(Event::Lost { what: "an event too large for a frame".into(), count: 1 }),
            };
            if let Ok(frame) = encode(&fallback) {
                out.extend_from_slice(&frame);
            }
        }
    }
}
