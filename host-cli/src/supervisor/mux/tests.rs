//! The multiplexer against a scripted guest: every guest message here is
//! one the test writes, so each routing rule is checked on its own.

use super::*;
use shellproto::{LogLevel, Ref};

fn ready() -> Mux {
    let mut m = Mux::new();
    let out = m.guest_connected();
    assert!(matches!(&out[..], [Out::Guest(ClientMsg { id: 0, req: Request::Hello(h) }), Out::Guest(ClientMsg { req: Request::FlowStart, .. })] if h.version == VERSION), "{out:?}");
    let out = m.guest_msg(Ok(ServerMsg::Reply { id: 0, result: Ok(Reply::Hello(hello_reply())) }));
    assert!(matches!(&out[..], [Out::Note(n)] if n.contains("ready")), "{out:?}");
    let out = m.guest_msg(Ok(ServerMsg::Reply { id: FLOW_ID, result: Ok(Reply::FlowStarted { window: 65536 }) }));
    assert_eq!(out, []);
    m
}

fn hello_reply() -> HelloReply {
    HelloReply { version: VERSION, kernel: "k 1".into(), max_frame: 65536, max_chunk: 32768, max_object: 1 << 20 }
}

fn msg(id: u32, req: Request) -> ClientMsg {
    ClientMsg { id, req }
}

/// The guest id of the single message sent to the guest in `out`.
fn sent(out: &[Out]) -> (u32, Request) {
    match out {
        [Out::Guest(ClientMsg { id, req })] => (*id, req.clone()),
        other => panic!("expected one message to the guest, got {other:?}"),
    }
}

fn answer(m: &mut Mux, gid: u32, r: Reply) -> Vec<Out> {
    m.guest_msg(Ok(ServerMsg::Reply { id: gid, result: Ok(r) }))
}

#[test]
fn the_same_client_ids_from_two_clients_get_their_own_replies() {
    let mut m = ready();
    m.client_connected(1);
    m.client_connected(2);
    let (g1, _) = sent(&m.client_msg(1, msg(5, Request::Progs)));
    let (g2, _) = sent(&m.client_msg(2, msg(5, Request::Maps)));
    assert_ne!(g1, g2, "guest ids are unique");
    assert_ne!(g1, 0);
    // Answered in order; each goes back to its client under id 5.
    assert_eq!(answer(&mut m, g1, Reply::Progs(vec![])), [reply(1, 5, Ok(Reply::Progs(vec![])))]);
    assert_eq!(answer(&mut m, g2, Reply::Maps(vec![])), [reply(2, 5, Ok(Reply::Maps(vec![])))]);
    assert_eq!(m.in_flight(), 0);
}

#[test]
fn requests_before_the_hello_reply_wait_and_client_hellos_are_answered_locally() {
    let mut m = Mux::new();
    m.client_connected(1);
    assert!(m.client_msg(1, msg(1, Request::Hello(Hello { version: VERSION, client: "c".into() }))).is_empty());
    assert!(m.client_msg(1, msg(2, Request::Info)).is_empty(), "queued while offline");
    let out = m.guest_connected();
    assert_eq!(out.len(), 2, "only the supervisor's hello and flow start go out: {out:?}");
    let out = m.guest_msg(Ok(ServerMsg::Reply { id: 0, result: Ok(Reply::Hello(hello_reply())) }));
    assert_eq!(out.len(), 3, "{out:?}");
    assert_eq!(out[1], reply(1, 1, Ok(Reply::Hello(hello_reply()))));
    assert!(matches!(&out[2], Out::Guest(ClientMsg { req: Request::Info, .. })));
    // Later hellos are answered from the cached reply, never forwarded.
    let out = m.client_msg(1, msg(3, Request::Hello(Hello { version: VERSION, client: "c".into() })));
    assert_eq!(out, [reply(1, 3, Ok(Reply::Hello(hello_reply())))]);
    let out = m.client_msg(1, msg(4, Request::Hello(Hello { version: VERSION + 1, client: "new".into() })));
    assert_eq!(out, [reply(1, 4, Err(ShellError::Version { server: VERSION, client: VERSION + 1 }))]);
}

#[test]
fn a_refused_hello_is_every_request_s_answer() {
    let mut m = Mux::new();
    m.guest_connected();
    m.client_connected(1);
    assert!(m.client_msg(1, msg(9, Request::Progs)).is_empty());
    let refusal = ShellError::Version { server: 2, client: VERSION };
    let out = m.guest_msg(Ok(ServerMsg::Reply { id: 0, result: Err(refusal.clone()) }));
    assert_eq!(out[1..], [reply(1, 9, Err(refusal.clone()))]);
    assert_eq!(m.client_msg(1, msg(10, Request::Maps)), [reply(1, 10, Err(refusal))]);
    assert!(m.shell_state().starts_with("refused"));
}

#[test]
fn uploads_belong_to_their_client_and_are_aborted_when_it_leaves() {
    let mut m = ready();
    m.client_connected(1);
    m.client_connected(2);
    let (g, _) = sent(&m.client_msg(1, msg(1, Request::UploadBegin { name: "a.o".into(), size: 10 })));
    assert_eq!(answer(&mut m, g, Reply::UploadReady { upload: 77 }), [reply(1, 1, Ok(Reply::UploadReady { upload: 77 }))]);
    // Another client cannot feed or commit it.
    let chunk = Request::UploadChunk { upload: 77, offset: 0, data: vec![1; 4] };
    let no = Err(ShellError::Upload(UploadError::NoSuchUpload { upload: 77 }));
    assert_eq!(m.client_msg(2, msg(1, chunk.clone())), [reply(2, 1, no.clone())]);
    assert_eq!(m.client_msg(2, msg(2, Request::UploadCommit { upload: 77 })), [reply(2, 2, no)]);
    let (g, _) = sent(&m.client_msg(1, msg(2, chunk)));
    answer(&mut m, g, Reply::Ack);
    // Client 1 vanishes mid-upload: the supervisor aborts it.
    let (_, req) = sent(&m.client_gone(1));
    assert_eq!(req, Request::UploadAbort { upload: 77 });
    assert!(m.client_gone(1).is_empty(), "nothing left to abort");
}

#[test]
fn an_upload_ready_for_a_client_that_left_is_aborted() {
    let mut m = ready();
    m.client_connected(1);
    let (g, _) = sent(&m.client_msg(1, msg(1, Request::UploadBegin { name: "a.o".into(), size: 10 })));
    assert!(m.client_gone(1).is_empty(), "no upload handle known yet");
    let (abort_id, req) = sent(&answer(&mut m, g, Reply::UploadReady { upload: 5 }));
    assert_eq!(req, Request::UploadAbort { upload: 5 });
    assert!(answer(&mut m, abort_id, Reply::Ack).is_empty(), "the abort's reply is nobody's");
}

#[test]
fn committed_or_refused_uploads_need_no_abort() {
    let mut m = ready();
    m.client_connected(1);
    for (upload, end) in [(3u32, Request::UploadCommit { upload: 3 }), (4, Request::UploadAbort { upload: 4 })] {
        let (g, _) = sent(&m.client_msg(1, msg(1, Request::UploadBegin { name: "a.o".into(), size: 10 })));
        answer(&mut m, g, Reply::UploadReady { upload });
        sent(&m.client_msg(1, msg(2, end)));
    }
    let (g, _) = sent(&m.client_msg(1, msg(1, Request::UploadBegin { name: "a.o".into(), size: 10 })));
    answer(&mut m, g, Reply::UploadReady { upload: 6 });
    let (g, _) = sent(&m.client_msg(1, msg(2, Request::UploadChunk { upload: 6, offset: 9, data: vec![0] })));
    let refused = m.guest_msg(Ok(ServerMsg::Reply { id: g, result: Err(ShellError::Upload(UploadError::OutOfOrder { upload: 6, expected: 0, got: 9 })) }));
    assert_eq!(refused.len(), 1);
    assert!(m.client_gone(1).is_empty(), "the guest dropped all three already");
}

#[test]
fn events_reach_subscribers_the_log_and_the_client_whose_exec_runs() {
    let mut m = ready();
    for c in [1, 2, 3] {
        m.client_connected(c);
    }
    m.subscribe(1, true);
    let (g, _) = sent(&m.client_msg(2, msg(8, Request::Exec { prog: Ref::Name("fill".into()), arg: vec![] })));
    let ev = Event::ProgOutput { prog: 1, name: "fill".into(), line: "stored 7".into() };
    let out = m.guest_msg(Ok(ServerMsg::Event(ev.clone())));
    let to = |c| Out::Client(c, FromSup::Shell(ServerMsg::Event(ev.clone())));
    assert_eq!(out, [Out::Log(ev.clone()), to(1), to(2)], "client 3 neither follows nor runs it");
    answer(&mut m, g, Reply::Returned { value: 7, run_time_ns: 10 });
    // A kernel line while no exec runs: subscribers and the log only.
    let k = Event::Kernel { level: LogLevel::Info, line: "hi".into() };
    let out = m.guest_msg(Ok(ServerMsg::Event(k.clone())));
    assert_eq!(out, [Out::Log(k.clone()), Out::Client(1, FromSup::Shell(ServerMsg::Event(k)))]);
}

#[test]
fn an_exec_by_id_gets_only_its_programs_lines_not_those_of_traced_programs() {
    let mut m = ready();
    m.client_connected(2);
    let (g, _) = sent(&m.client_msg(2, msg(8, Request::Exec { prog: Ref::Id(4), arg: vec![] })));
    let traced = Event::ProgOutput { prog: 9, name: "notify".into(), line: "myfun called".into() };
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(traced.clone()))), [Out::Log(traced)], "a program on a function printed meanwhile");
    let mine = Event::ProgOutput { prog: 4, name: "get_count".into(), line: "looked up".into() };
    let out = m.guest_msg(Ok(ServerMsg::Event(mine.clone())));
    assert_eq!(out, [Out::Log(mine.clone()), Out::Client(2, FromSup::Shell(ServerMsg::Event(mine)))]);
    answer(&mut m, g, Reply::Returned { value: 7, run_time_ns: 10 });
}

#[test]
fn when_the_guest_goes_every_waiting_request_fails() {
    let mut m = ready();
    m.client_connected(1);
    sent(&m.client_msg(1, msg(4, Request::Info)));
    let out = m.guest_gone("the app exited (status 0)");
    assert_eq!(out, [Out::Client(1, FromSup::Failed { id: 4, message: "the app exited (status 0)".into() })]);
    let out = m.client_msg(1, msg(5, Request::Progs));
    assert_eq!(out, [Out::Client(1, FromSup::Failed { id: 5, message: "the app exited (status 0)".into() })]);
}

#[test]
fn unattributed_guest_output_goes_to_raw_clients_and_the_log() {
    let mut m = ready();
    m.client_connected(1);
    m.client_connected(2);
    let out = m.raw(2, vec![1, 2, 3]);
    assert_eq!(out, [Out::GuestRaw(vec![1, 2, 3])], "raw bytes go verbatim");
    assert!(m.take_raw_open(), "they ended inside a frame: the next frame starts with a delimiter");
    assert!(!m.take_raw_open(), "once");
    m.raw(2, vec![4, 0]);
    assert!(!m.take_raw_open(), "they ended with a delimiter");
    m.raw(2, vec![5]);
    m.raw(2, Vec::new());
    assert!(m.take_raw_open(), "nothing sent changes nothing");
    let bad = FrameError::Truncated;
    let out = m.guest_msg(Ok(ServerMsg::BadFrame(bad)));
    assert!(matches!(&out[0], Out::Note(_)));
    assert_eq!(out[1..], [Out::Client(2, FromSup::Shell(ServerMsg::BadFrame(bad)))]);
    let out = answer(&mut m, 999, Reply::Ack);
    assert_eq!(out[1..], [Out::Client(2, FromSup::Shell(ServerMsg::Reply { id: 999, result: Ok(Reply::Ack) }))]);
    let out = m.guest_msg(Err(FrameError::Oversized { max: 10 }));
    assert!(matches!(&out[..], [Out::Note(n)] if n.contains("bad frame")));
}

#[test]
fn guest_ids_skip_those_in_flight_and_the_supervisors() {
    let mut m = ready();
    m.client_connected(1);
    m.next_id = u32::MAX - 1;
    let (a, _) = sent(&m.client_msg(1, msg(1, Request::Progs)));
    let (b, _) = sent(&m.client_msg(1, msg(2, Request::Progs)));
    assert_eq!((a, b), (u32::MAX - 1, 1), "wraps around past the flow id u32::MAX and the hello id 0");
    m.next_id = 1;
    let (c, _) = sent(&m.client_msg(1, msg(3, Request::Progs)));
    assert_eq!(c, 2, "1 is still in flight");
}

#[test]
fn a_full_guest_queue_fails_the_request() {
    let mut m = ready();
    m.client_connected(1);
    let (g, _) = sent(&m.client_msg(1, msg(6, Request::Progs)));
    assert_eq!(m.send_failed(g, "full"), [Out::Client(1, FromSup::Failed { id: 6, message: "full".into() })]);
    assert_eq!(m.in_flight(), 0);
}

fn syscalls(b: u8) -> Event {
    Event::Syscalls { data: vec![b; 8] }
}

fn to_client(c: ClientId, ev: Event) -> Out {
    Out::Client(c, FromSup::Shell(ServerMsg::Event(ev)))
}

#[test]
fn syscall_records_go_to_the_tracing_client_only_never_to_the_log() {
    let mut m = ready();
    for c in [1, 2] {
        m.client_connected(c);
        m.subscribe(c, true);
    }
    // Nobody traces: records are dropped.
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(syscalls(1)))), []);
    let (g, req) = sent(&m.client_msg(2, msg(7, Request::TraceStart { syscalls: vec![], ring_bytes: 0 })));
    assert!(matches!(req, Request::TraceStart { .. }));
    assert_eq!(answer(&mut m, g, Reply::TraceStarted { ring_bytes: 1 << 20 }), [reply(2, 7, Ok(Reply::TraceStarted { ring_bytes: 1 << 20 }))]);
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(syscalls(2)))), [to_client(2, syscalls(2))]);
    let lost = Event::Lost { what: "syscall records (trace ring buffer full)".into(), count: 9 };
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(lost.clone()))), [Out::Log(lost.clone()), to_client(2, lost)]);
    // Other events still go to every subscriber.
    let k = Event::Kernel { level: LogLevel::Info, line: "x".into() };
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(k.clone()))).len(), 3);
    // A second tracer is refused by the supervisor; so is its stop.
    let out = m.client_msg(1, msg(3, Request::TraceStart { syscalls: vec![0], ring_bytes: 0 }));
    assert!(matches!(&out[..], [Out::Client(1, FromSup::Failed { id: 3, message })] if message.contains("already traced")), "{out:?}");
    let out = m.client_msg(1, msg(4, Request::TraceStop));
    assert!(matches!(&out[..], [Out::Client(1, FromSup::Failed { id: 4, .. })]), "{out:?}");
    // The owner stops: records before the reply are still its, then nobody's.
    let (g, _) = sent(&m.client_msg(2, msg(8, Request::TraceStop)));
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(syscalls(3)))), [to_client(2, syscalls(3))]);
    assert_eq!(answer(&mut m, g, Reply::TraceStopped { records: 3, lost: 9 }), [reply(2, 8, Ok(Reply::TraceStopped { records: 3, lost: 9 }))]);
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(syscalls(4)))), []);
    // Now client 1 may trace.
    let (g, _) = sent(&m.client_msg(1, msg(5, Request::TraceStart { syscalls: vec![], ring_bytes: 0 })));
    answer(&mut m, g, Reply::TraceStarted { ring_bytes: 8192 });
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(syscalls(5)))), [to_client(1, syscalls(5))]);
}

#[test]
fn a_tracer_that_goes_away_stops_the_stream_and_a_refused_start_frees_the_slot() {
    let mut m = ready();
    m.client_connected(1);
    let (g, _) = sent(&m.client_msg(1, msg(1, Request::TraceStart { syscalls: vec![], ring_bytes: 0 })));
    answer(&mut m, g, Reply::TraceStarted { ring_bytes: 8192 });
    let out = m.client_gone(1);
    assert!(out.iter().any(|o| matches!(o, Out::Guest(ClientMsg { req: Request::TraceStop, .. }))), "{out:?}");
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(syscalls(1)))), [], "its records are dropped");
    m.client_connected(2);
    let (g, _) = sent(&m.client_msg(2, msg(1, Request::TraceStart { syscalls: vec![], ring_bytes: 0 })));
    let out = m.guest_msg(Ok(ServerMsg::Reply { id: g, result: Err(ShellError::Unsupported { what: "syscall tracing".into() }) }));
    assert_eq!(out.len(), 1);
    m.client_connected(3);
    let out = m.client_msg(3, msg(1, Request::TraceStart { syscalls: vec![], ring_bytes: 0 }));
    assert!(matches!(&out[..], [Out::Guest(_)]), "the refused start left no tracer: {out:?}");
}

#[test]
fn the_supervisors_own_stream_goes_to_its_tracer_and_clients_cannot_take_it() {
    let mut m = Mux::new();
    m.trace_locally();
    // Records from boot arrive before the hello is answered.
    m.guest_connected();
    assert_eq!(m.guest_msg(Ok(ServerMsg::Event(syscalls(1)))), [Out::Trace(syscalls(1))]);
    let _ = m.guest_msg(Ok(ServerMsg::Reply { id: 0, result: Ok(Reply::Hello(hello_reply())) }));
    m.client_connected(1);
    let out = m.client_msg(1, msg(2, Request::TraceStop));
    assert!(matches!(&out[..], [Out::Client(1, FromSup::Failed { message, .. })] if message.contains("run --trace")), "{out:?}");
}

#[test]
fn flow_control_confirms_every_quarter_window_from_the_end_of_the_flow_reply() {
    let mut m = ready();
    let flow_id = match &m.guest_connected()[..] {
        [_, Out::Guest(ClientMsg { id, req: Request::FlowStart })] => *id,
        other => panic!("{other:?}"),
    };
    assert!(m.guest_read(1 << 20).is_empty(), "nothing is confirmed before the guest agreed");
    let _ = m.guest_msg(Ok(ServerMsg::Reply { id: 0, result: Ok(Reply::Hello(hello_reply())) }));
    m.guest_at(1000);
    let out = m.guest_msg(Ok(ServerMsg::Reply { id: flow_id, result: Ok(Reply::FlowStarted { window: 4096 }) }));
    assert_eq!(out, [], "the flow reply is the supervisor's own");
    assert_eq!(m.guest_read(1000 + 1023), []);
    assert_eq!(m.guest_read(1000 + 1024), [Out::Guest(ClientMsg { id: flow_id, req: Request::FlowRead { read: 1024 } })]);
    assert_eq!(m.guest_read(1000 + 2000), [], "less than a quarter window since the last confirmation");
    assert_eq!(m.guest_read(1000 + 5000), [Out::Guest(ClientMsg { id: flow_id, req: Request::FlowRead { read: 5000 } })]);
}

#[test]
fn a_kernel_without_flow_control_is_noted_and_nothing_is_confirmed() {
    let mut m = ready();
    m.guest_connected();
    let _ = m.guest_msg(Ok(ServerMsg::Reply { id: 0, result: Ok(Reply::Hello(hello_reply())) }));
    let out = m.guest_msg(Ok(ServerMsg::Reply { id: u32::MAX, result: Err(ShellError::HelloFirst) }));
    assert!(matches!(&out[..], [Out::Note(n)] if n.contains("no flow control")), "{out:?}");
    assert_eq!(m.guest_read(1 << 30), []);
}
