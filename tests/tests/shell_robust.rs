//! The debug shell against hostile peers, end to end on a real instance: a
//! detached `sched spin` in the real kernel under QEMU gets garbage on
//! both layers while it spins in ring 3. On the supervisor's socket: more
//! than 100 connections of random bytes, truncated frames, oversized frames
//! and uploads abandoned half way. On the guest's console itself, through
//! the supervisor's raw pass-through: the same kinds of garbage (the
//! kernel must not trust its host peer either), and uploads whose peer
//! vanished. Afterwards `progs` lists exactly what was loaded before, a
//! fresh `exec` returns the right value, and the app's output and status
//! are those of a plain foreground run. Also: the runtime directory and
//! the instance's sockets are private to the user (0700, 0600).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use e2e::sup::{is_reply, shell_frame, FromSup, SupConn, ToSup};
use e2e::{app, mask_numbers, ushell, Instance, Vm};
use serde::de::DeserializeOwned;
use shellproto::{ClientMsg, FrameError, Hello, MessageDecoder, Reply, Request, ServerMsg, ShellError, UploadError, MAX_FRAME};

/// Long enough for every step below on a loaded 2-core machine under TCG;
/// the test checks that they all ran while the app spun.
const SPIN_SECS: &str = "40";

fn objects_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ushell-e2e-robust-{}", std::process::id()))
}

fn object(rel: &str) -> PathBuf {
    bpf_build::compile(&e2e::workspace_root().join(rel), &objects_dir())
}

fn sched_app() -> PathBuf {
    app("sched", "musl")
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// xorshift64: the same garbage on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// How a `T` decoder takes `bytes`: one entry per frame.
fn decode_all<T: DeserializeOwned>(bytes: &[u8]) -> Vec<Result<T, FrameError>> {
    MessageDecoder::<T>::new().push(bytes)
}

/// `len` random bytes, zeros included, ending with a delimiter, in which no
/// frame happens to be a valid `T` (a random `ToSup::Stop` would end the
/// instance; a random `Request::Unload` would unload the program). Returns
/// them with the bad frames a decoder reports for them.
fn garbage<T: DeserializeOwned>(rng: &mut Rng, len: usize) -> (Vec<u8>, Vec<FrameError>) {
    loop {
        let mut bytes: Vec<u8> = (0..len).map(|_| (rng.next() >> 24) as u8).collect();
        bytes.push(0);
        let decoded = decode_all::<T>(&bytes);
        if decoded.iter().all(|m| m.is_err()) {
            return (bytes, decoded.into_iter().filter_map(Result::err).collect());
        }
    }
}

/// A real frame cut in half (no delimiter).
fn cut_frame(full: &[u8]) -> Vec<u8> {
    full[..full.len() / 2].to_vec()
}

fn chunk_req(upload: u32) -> Request {
    Request::UploadChunk { upload, offset: 0, data: vec![1; 600] }
}

fn hello() -> Request {
    Request::Hello(Hello { version: shellproto::VERSION, client: "e2e-robust".into() })
}

fn bad_frames(msgs: &[FromSup]) -> Vec<FrameError> {
    msgs.iter()
        .filter_map(|m| match m {
            FromSup::BadFrame(e) => Some(*e),
            _ => None,
        })
        .collect()
}

fn prog_names(reply: &Result<Reply, ShellError>) -> Vec<String> {
    match reply {
        Ok(Reply::Progs(p)) => p.iter().map(|p| p.name.clone()).collect(),
        other => panic!("progs: {other:?}"),
    }
}

/// The supervisor's socket: 125 connections, five kinds of abuse. The
/// connections that stay to read check that the supervisor answered the
/// garbage and kept reading that very connection.
fn garbage_on_the_instance_socket(sock: &Path, obj: &[u8]) -> usize {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut connections = 0;
    for i in 0..125u32 {
        let mut c = SupConn::connect(sock);
        connections += 1;
        match i % 5 {
            // Random bytes, then gone.
            0 => {
                let n = 1 + (rng.next() % 3000) as usize;
                let (junk, _) = garbage::<ToSup>(&mut rng, n);
                let _ = c.send_bytes(&junk[..junk.len() - 1]);
            }
            // The first half of a real frame; every other time the rest of
            // the connection is used: a delimiter ends the cut frame, which
            // is reported, and the next frame is read normally.
            1 => {
                let _ = c.send_bytes(&cut_frame(&shell_frame(1, chunk_req(1))));
                if i % 10 == 1 {
                    c.send_bytes(&[0]).unwrap();
                    c.send_bytes(&shell_frame(2, Request::Progs)).unwrap();
                    let got = c.until("the progs reply after a cut frame", |m| is_reply(m, 2));
                    assert_eq!(bad_frames(&got), [FrameError::Truncated], "connection {i}: {got:?}");
                    assert!(matches!(got.last(), Some(FromSup::Shell(ServerMsg::Reply { result: Ok(Reply::Progs(_)), .. }))), "{got:?}");
                }
            }
            // More than a frame may hold, without a delimiter, then one.
            2 => {
                let mut big = vec![0x41u8; MAX_FRAME + 4464];
                big.push(0);
                c.send_bytes(&big).unwrap();
                c.send_bytes(&shell_frame(3, Request::Progs)).unwrap();
                let got = c.until("the progs reply after an oversized frame", |m| is_reply(m, 3));
                assert_eq!(bad_frames(&got), [FrameError::Oversized { max: MAX_FRAME as u32 }], "connection {i}: {got:?}");
            }
            // Begin an upload, send half of the object, vanish: the
            // supervisor aborts it in the guest (25 of them, more than the
            // 8 uploads the shell allows at once).
            3 => {
                c.send(&ToSup::Shell(ClientMsg { id: 1, req: hello() }));
                let upload = match c.request(2, Request::UploadBegin { name: "half.o".into(), size: obj.len() as u32 }) {
                    Ok(Reply::UploadReady { upload }) => upload,
                    other => panic!("connection {i}: UploadBegin: {other:?}"),
                };
                let half = &obj[..(obj.len() / 2).min(16 * 1024)];
                c.send_bytes(&shell_frame(3, Request::UploadChunk { upload, offset: 0, data: half.to_vec() })).unwrap();
            }
            // Random bytes, then a hello and a request on the same
            // connection: every garbage frame is reported, then answered.
            _ => {
                let n = 1 + (rng.next() % 3000) as usize;
                let (junk, want) = garbage::<ToSup>(&mut rng, n);
                c.send_bytes(&junk).unwrap();
                c.send_bytes(&shell_frame(1, hello())).unwrap();
                c.send_bytes(&shell_frame(2, Request::Progs)).unwrap();
                let got = c.until("the progs reply after random bytes", |m| is_reply(m, 2));
                assert_eq!(bad_frames(&got), want, "connection {i}: every bad frame is reported, in order");
                assert_eq!(prog_names(match got.last() {
                    Some(FromSup::Shell(ServerMsg::Reply { result, .. })) => result,
                    other => panic!("{other:?}"),
                }), ["record_arg"]);
            }
        }
        drop(c);
    }
    connections
}

/// Ids for raw requests: far from the supervisor's own guest ids (which
/// count up from 1), so the guest's replies are unattributed and go back to
/// the raw clients.
const RAW_ID: u32 = 0x7fff_0000;

/// `msg` as a frame for the guest, carried raw.
fn guest_frame(id: u32, req: Request) -> Vec<u8> {
    shellproto::encode(&ClientMsg { id, req }).unwrap()
}

/// Bytes for the guest, in `Raw` messages that fit the socket's frames.
fn send_raw(c: &mut SupConn, bytes: &[u8]) {
    for piece in bytes.chunks(MAX_FRAME / 2) {
        c.raw(piece.to_vec());
    }
}

/// The guest's console, through the raw pass-through: random bytes, a cut
/// frame, an oversized frame, an unknown request; the kernel reports each
/// bad frame, in order, and then answers a request. Then uploads whose
/// (raw) peer vanishes in the middle: the kernel holds them, never loads
/// them; a commit of one is refused as incomplete.
fn garbage_on_the_guest_console(sock: &Path, obj: &[u8]) -> usize {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut c = SupConn::connect(sock);
    // A delimiter first: whatever came before, the garbage starts a frame.
    let mut stream = vec![0u8];
    let (noise, _) = garbage::<ClientMsg>(&mut rng, 20_000);
    stream.extend(&noise);
    stream.extend(cut_frame(&guest_frame(RAW_ID, chunk_req(1))));
    stream.push(0);
    stream.extend(vec![0x42u8; MAX_FRAME + 5000]);
    stream.push(0);
    // A valid COBS frame whose message is an unknown request tag.
    stream.extend([0x03, 0x01, 0x6e, 0x00]);
    let want: Vec<FrameError> = decode_all::<ClientMsg>(&stream).into_iter().map(|m| m.expect_err("only garbage")).collect();
    assert!(want.contains(&FrameError::Truncated) && want.contains(&FrameError::Oversized { max: MAX_FRAME as u32 }), "{want:?}");
    send_raw(&mut c, &stream);
    c.raw(guest_frame(RAW_ID + 1, Request::Progs));
    let got = c.until("the kernel's answer to a raw progs after the garbage", |m| is_reply(m, RAW_ID + 1));
    let reported: Vec<FrameError> = got
        .iter()
        .filter_map(|m| match m {
            FromSup::Shell(ServerMsg::BadFrame(e)) => Some(*e),
            _ => None,
        })
        .collect();
    println!("guest console: {} bad frames sent, {} reported by the kernel", want.len(), reported.len());
    assert_eq!(reported, want, "the kernel reports every bad frame on its console, in order");
    let Some(FromSup::Shell(ServerMsg::Reply { result, .. })) = got.last() else { unreachable!() };
    assert_eq!(prog_names(result), ["record_arg"]);
    drop(c);

    // Uploads whose raw peer vanishes after half the object.
    let mut handles = Vec::new();
    for k in 0..3u32 {
        let mut c = SupConn::connect(sock);
        let id = RAW_ID + 0x100 + 2 * k;
        c.raw(guest_frame(id, Request::UploadBegin { name: "half.o".into(), size: obj.len() as u32 }));
        let upload = match c.until("UploadReady", |m| is_reply(m, id)).pop() {
            Some(FromSup::Shell(ServerMsg::Reply { result: Ok(Reply::UploadReady { upload }), .. })) => upload,
            other => panic!("raw UploadBegin: {other:?}"),
        };
        let half = &obj[..(obj.len() / 2).min(16 * 1024)];
        c.raw(guest_frame(id + 1, Request::UploadChunk { upload, offset: 0, data: half.to_vec() }));
        drop(c);
        handles.push(upload);
    }
    // What they left is not loadable: a commit is refused as incomplete;
    // the others are still held (the console tells the kernel nothing of
    // host connections) and go on an abort.
    let mut c = SupConn::connect(sock);
    let id = RAW_ID + 0x200;
    c.raw(guest_frame(id, Request::UploadCommit { upload: handles[0] }));
    match c.until("the commit's answer", |m| is_reply(m, id)).pop() {
        Some(FromSup::Shell(ServerMsg::Reply { result: Err(ShellError::Upload(UploadError::Incomplete { .. })), .. })) => {}
        other => panic!("commit of a half upload: {other:?}"),
    }
    for (k, h) in handles[1..].iter().enumerate() {
        let id = RAW_ID + 0x300 + k as u32;
        c.raw(guest_frame(id, Request::UploadAbort { upload: *h }));
        match c.until("the abort's answer", |m| is_reply(m, id)).pop() {
            Some(FromSup::Shell(ServerMsg::Reply { result: Ok(Reply::Ack), .. })) => {}
            other => panic!("abort of an abandoned upload: {other:?}"),
        }
    }
    5
}

#[test]
fn garbage_on_the_instance_socket_and_the_guest_console_leaves_shell_and_app_intact() {
    let prog = object("tests/tests/progs/shell_e2e.c");
    let probe = object("tests/tests/progs/shell_kernel.c");
    let probe_bytes = std::fs::read(&probe).unwrap();
    // The same app without a shell session, for its output.
    let plain = std::thread::spawn(|| Vm::new(sched_app()).args(["spin", SPIN_SECS]).timeout(400).run());
    // The pid in the name: other checkouts may run the suite at once.
    let name = format!("robust-{}", std::process::id());
    let inst = Instance::start(&name, sched_app(), &["spin", SPIN_SECS], "", 400);
    inst.wait_for_log("the app's spin", |l| l.contains("[stderr] spin: start"));

    let o = inst.cmd(&["exec", path(&prog), "3"]);
    assert!(o.stdout_str().ends_with("returned: 6\n"), "{}", o.describe());
    let sock = inst.socket();

    let n = garbage_on_the_instance_socket(&sock, &probe_bytes);
    let m = garbage_on_the_guest_console(&sock, &probe_bytes);
    println!("{n} connections to the instance socket, {m} with raw bytes for the guest");

    // Still answering, with what was loaded before and nothing else.
    let o = inst.cmd(&["progs", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap_or_else(|e| panic!("{e}\n{}", o.describe()));
    let progs = v.as_array().unwrap_or_else(|| panic!("{}", o.describe()));
    assert_eq!(progs.iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(), ["record_arg"], "{}", o.describe());
    assert_eq!(progs[0]["run_count"], 1, "{}", o.describe());
    let o = inst.cmd(&["exec", "record_arg", "8"]);
    assert_eq!(o.stdout_str(), "[prog record_arg] record_arg: got 8\nreturned: 16\n", "{}", o.describe());
    let o = inst.cmd(&["map", "dump", "seen"]);
    assert!(o.stdout_str().starts_with("1 = 8\n"), "{}", o.describe());
    // And a fresh upload goes through: none of the abandoned ones holds a
    // place.
    let o = inst.cmd(&["exec", path(&probe), "41", "--prog", "probe_app"]);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    assert!(o.stdout_str().ends_with("returned: 42\n"), "{}", o.describe());
    let o = inst.cmd(&["progs", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout_str()).unwrap();
    let names: Vec<&str> = v.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["record_arg", "probe_app", "probe_kernel"], "{}", o.describe());

    let logs = inst.logs();
    assert!(logs.contains("[ushell] the kernel's shell refused a frame from the host"), "{logs}");
    assert!(!logs.contains("[stderr] spin: end"), "all of it ran while the app spun (raise SPIN_SECS?)\n{logs}");

    let w = inst.wait();
    assert_eq!(w.status, Some(0), "the app's status\n{}\n{}", w.describe(), inst.logs());
    let plain = plain.join().unwrap();
    assert_eq!(plain.status, Some(0), "{}", plain.describe());
    let detached = inst.app_stdout();
    assert!(detached.lines().any(|l| l.starts_with("PASSED:")), "{}", inst.logs());
    assert_eq!(mask_numbers(&detached), mask_numbers(&plain.stdout_str()), "the app's output is that of a plain run");
}

#[test]
fn the_runtime_dir_is_0700_and_the_instance_sockets_0600() {
    let name = format!("perm-{}", std::process::id());
    let inst = Instance::start(&name, "/bin/busybox", &["sleep", "120"], "", 300);
    // The instance answers on its socket: it is the live one.
    let o = inst.cmd(&["info"]);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    let sock = inst.socket();
    let dir = sock.parent().unwrap().to_path_buf();
    let runtime = dir.parent().unwrap().to_path_buf();
    assert_eq!(runtime, e2e::runtime_parent().join("ushell"), "$XDG_RUNTIME_DIR/ushell");
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).mode();
    assert_eq!(mode(&runtime) & 0o777, 0o700, "{}", runtime.display());
    assert_eq!(mode(&dir) & 0o777, 0o700, "{}", dir.display());
    for f in ["sock", "console.sock"] {
        let m = mode(&dir.join(f));
        assert_eq!(m & 0o170000, 0o140000, "{f} is a socket");
        assert_eq!(m & 0o777, 0o600, "{f}");
    }
    assert_eq!(mode(&dir.join("log")) & 0o777, 0o600, "the log");
    let o = ushell(&["stop", &name]);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    assert_eq!(inst.wait().status, Some(143));
}
