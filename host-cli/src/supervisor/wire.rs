//! The instance socket's protocol, between `ushell` invocations and the
//! supervisor: shellproto's framing (postcard in COBS frames, at most
//! `MAX_FRAME` bytes) around the supervisor's own envelope, which carries
//! shellproto messages plus what only the supervisor can answer (waiting
//! for the exit, stopping, following the log, the raw pass-through).
//!
//! Variant order is the encoding: new variants go at the end.

use serde::{Deserialize, Serialize};
use shellproto::{ClientMsg, FrameError, ServerMsg};

/// Client → supervisor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ToSup {
    /// A shell request, with the client's own id; the supervisor renumbers
    /// it for the guest and answers with this id.
    Shell(ClientMsg),
    /// The instance's facts ([`FromSup::Status`]).
    Status,
    /// Answer [`FromSup::Exited`] once the app has exited (at once if it has).
    Wait,
    /// End the instance (QEMU is killed); waiters get the exit.
    Stop,
    /// The log's length now ([`FromSup::LogFrom`]), then every new line
    /// ([`FromSup::Log`]) until the instance exits.
    FollowLog,
    /// Receive the guest's events ([`FromSup::Shell`] with
    /// [`ServerMsg::Event`]) as they come: what the REPL shows above its
    /// prompt.
    Events(bool),
    /// For robustness tests: bytes written to the guest console verbatim
    /// (consecutive ones form one stream, so a frame may span several);
    /// when they end inside a frame, the supervisor's next frame starts
    /// with a lone delimiter so the guest's decoder resynchronizes first.
    /// Replies the supervisor cannot attribute (bad frames, ids it never
    /// sent) go to the clients that sent raw bytes.
    Raw(#[serde(with = "shellproto::bytes")] Vec<u8>),
}

/// Supervisor → client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FromSup {
    /// A reply (with the client's id) or an event from the guest.
    Shell(ServerMsg),
    /// Request `id` could not be answered by the guest: why.
    Failed { id: u32, message: String },
    Status(Status),
    /// The app exited (or the run failed): `ushell run`'s exit status.
    Exited { status: u8, message: Option<String> },
    LogFrom { offset: u64 },
    Log(String),
    /// A frame from this client that could not be decoded; the supervisor
    /// resynchronized at the next delimiter.
    BadFrame(FrameError),
    /// A supervisor-level refusal that belongs to no request.
    Error(String),
}

/// What `ToSup::Status` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub name: String,
    pub app: String,
    /// The kernel's hello: `None` until it has answered.
    pub kernel: Option<String>,
    /// `connecting`, `ready`, `refused: ...`, `gone`.
    pub shell: String,
    pub clients: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use shellproto::{encode, MessageDecoder, Request};

    #[test]
    fn messages_round_trip_through_frames() {
        let msgs = [
            ToSup::Shell(ClientMsg { id: 7, req: Request::Progs }),
            ToSup::Raw(vec![0, 1, 2, 0xff]),
            ToSup::Events(true),
            ToSup::Wait,
        ];
        let bytes: Vec<u8> = msgs.iter().flat_map(|m| encode(m).unwrap()).collect();
        let mut d = MessageDecoder::<ToSup>::new();
        assert_eq!(d.push(&bytes), msgs.iter().cloned().map(Ok).collect::<Vec<_>>());
        let back = FromSup::Exited { status: 3, message: None };
        let mut d = MessageDecoder::<FromSup>::new();
        assert_eq!(d.push(&encode(&back).unwrap()), [Ok(back)]);
    }
}
