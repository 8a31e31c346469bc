//! The supervisor and the instance commands, end to end on the host: the
//! real `ushell` binary supervises `examples/fake_guest` in place of QEMU
//! (the real shell library serves the console, with real clang objects and
//! the real verifier). What needs the real kernel is in tests/tests/shell_e2e.rs.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::{eventually, object, Env};
use serde::{Deserialize, Serialize};
use shellproto::{encode, ClientMsg, Hello, MessageDecoder, Reply, Request, ServerMsg, VERSION};

/// `key 7, value 42` for shell_a.c's `fill` (struct args { u32 key; u32 pad; u64 value; }).
const FILL_7_42: &str = "07000000 00000000 2a00000000000000";

#[test]
fn a_detached_instance_answers_commands_then_reports_its_exit() {
    let env = Env::new();
    let objs = env.path("objs");
    let a = object("ushell/tests/progs/shell_a.c", &objs);
    let loop_fail = object("bpf-progs/loop_fail.c", &objs);
    let oob = object("bpf-progs/oob.c", &objs);

    assert_eq!(env.start("web"), "web");
    let ps = env.ushell(&["ps"]);
    let row = ps.stdout.lines().find(|l| l.starts_with("web ")).unwrap_or_else(|| panic!("{ps}"));
    assert!(row.contains("running") && row.contains("app arg1"), "{row}");

    let o = env.ushell(&["progs", "-i", "web"]);
    assert_eq!((o.status, o.stdout.as_str()), (Some(0), "no programs loaded\n"), "{o}");

    let o = env.ushell(&["load", a.to_str().unwrap()]);
    assert_eq!(o.status, Some(0), "{o}");
    for want in ["loaded `shell_a", "fill", "syscall", "shared", "hash key 4 value 8 max_entries 16"] {
        assert!(o.stdout.contains(want), "{want:?} missing\n{o}");
    }

    let o = env.ushell(&["exec", "fill", "--hex", FILL_7_42]);
    assert_eq!(o.status, Some(0), "{o}");
    assert_eq!(o.stdout, "[prog fill] fill 7=42\nreturned: 43\n", "the run's output, then its value\n{o}");

    let o = env.ushell(&["map", "dump", "shared"]);
    assert!(o.stdout.starts_with("7 = 42\n"), "{o}");
    let o = env.ushell(&["map", "update", "shared", "8", "0x10"]);
    assert_eq!(o.status, Some(0), "{o}");
    let o = env.ushell(&["map", "dump", "shared", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let mut entries: Vec<(u64, u64)> = v["entries"].as_array().unwrap().iter().map(|e| (e["key"].as_u64().unwrap(), e["value"].as_u64().unwrap())).collect();
    entries.sort();
    assert_eq!(entries, [(7, 42), (8, 16)]);
    assert_eq!(env.ushell(&["map", "delete", "shared", "8"]).status, Some(0));
    let o = env.ushell(&["map", "delete", "shared", "8"]);
    assert_eq!(o.status, Some(1), "deleting a missing key is the kernel's refusal\n{o}");

    let o = env.ushell(&["sym", "spin"]);
    assert!(o.stdout.lines().any(|l| l.contains(" app ") && l.ends_with(" spin")), "{o}");
    let o = env.ushell(&["info"]);
    assert!(o.stdout.contains("kernel:   fake-guest 0.1") && o.stdout.contains("loaded:   3 programs"), "{o}");

    for (obj, insn_line) in [(&loop_fail, "rejected at insn"), (&oob, "rejected at insn")] {
        let o = env.ushell(&["load", obj.to_str().unwrap()]);
        assert_eq!(o.status, Some(1), "{o}");
        assert!(o.stdout.contains(insn_line), "{o}");
        // The instruction itself, disassembled from the local object.
        assert!(o.stdout.lines().any(|l| l.starts_with("    ") && l.trim_start().split(':').next().is_some_and(|n| n.parse::<u32>().is_ok())), "{o}");
        assert!(o.stdout.contains("nothing of the object was loaded"), "{o}");
    }
    let o = env.ushell(&["progs", "-j"]);
    let progs: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    let names: Vec<&str> = progs.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["fill", "emit", "probe"], "the refused objects left nothing\n{o}");
    assert_eq!(progs[0]["run_count"], 1);

    env.end_app("web", 3);
    let o = env.ushell(&["wait", "web"]);
    assert_eq!(o.status, Some(3), "wait gives the app's status\n{o}");
    let o = env.ushell(&["wait", "web"]);
    assert_eq!(o.status, Some(3), "also after the exit, from the record\n{o}");
    let ps = env.ushell(&["ps", "-j"]);
    let v: serde_json::Value = serde_json::from_str(&ps.stdout).unwrap();
    assert_eq!((v[0]["state"].as_str(), v[0]["status"].as_u64()), (Some("exited"), Some(3)), "{ps}");

    let logs = env.ushell(&["logs", "web"]);
    for want in ["[stdout] fake app: hello", "[kernel] fake kernel: console connected", "[prog fill] fill 7=42", "[ushell] exited with status 3"] {
        assert!(logs.stdout.lines().any(|l| l == want), "{want:?} missing in the log\n{logs}");
    }
    let o = env.ushell(&["progs", "-i", "web"]);
    assert_eq!(o.status, Some(125), "{o}");
    assert!(o.stderr.contains("instance `web` has exited (status 3)"), "{o}");
    assert_eq!(env.ushell(&["rm", "web"]).status, Some(0));
    assert!(!env.runtime_dir().join("web").exists());
}

#[test]
fn the_runtime_dir_is_0700_and_sockets_and_log_0600() {
    let env = Env::new();
    env.start("perm");
    let mode = |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display())).mode();
    let rt = env.runtime_dir();
    assert_eq!(mode(&rt) & 0o777, 0o700);
    assert_eq!(mode(&rt.join("perm")) & 0o777, 0o700);
    for f in ["sock", "console.sock"] {
        let m = mode(&rt.join("perm").join(f));
        assert_eq!(m & 0o170000, 0o140000, "{f} is a socket");
        assert_eq!(m & 0o777, 0o600, "{f}");
    }
    assert_eq!(mode(&rt.join("perm/log")) & 0o777, 0o600);
    env.end_app("perm", 0);
    let o = env.ushell(&["wait"]);
    assert_eq!(o.status, Some(0), "the only instance is the default\n{o}");
}

#[test]
fn stop_ends_an_instance_with_status_143() {
    let env = Env::new();
    env.start("s");
    let o = env.ushell(&["stop", "s"]);
    assert_eq!(o.status, Some(0), "{o}");
    assert!(o.stdout.contains("s stopped (status 143)"), "{o}");
    assert_eq!(env.ushell(&["wait", "-i", "s"]).status, Some(143));
    let logs = env.ushell(&["logs", "s"]).stdout;
    assert!(logs.contains("[ushell] stop requested by `ushell stop`"), "{logs}");
}

#[test]
fn instance_choice_with_several_running_and_i_before_or_after() {
    let env = Env::new();
    env.start("one");
    env.start("two");
    let o = env.ushell(&["progs"]);
    assert_eq!(o.status, Some(125));
    assert!(o.stderr.contains("2 instances are running (one, two); say which with -i NAME"), "{o}");
    assert_eq!(env.ushell(&["-i", "two", "progs"]).status, Some(0));
    assert_eq!(env.ushell(&["progs", "-i", "one"]).status, Some(0));
    let o = env.ushell(&["run", "-q", "-d", "--name", "one", env.path("app").to_str().unwrap()]);
    assert_eq!(o.status, Some(125), "a taken name is refused\n{o}");
    assert!(o.stderr.contains("an instance named `one` already exists"), "{o}");
    let gen = env.ushell(&["run", "-q", "-d", env.path("app").to_str().unwrap()]);
    assert!(gen.stdout.trim().starts_with("app-"), "a generated name from the app's file name\n{gen}");
}

#[test]
fn a_foreground_run_keeps_its_stdio_and_records_the_instance() {
    let env = Env::new();
    let name = "fg";
    let exit = env.exit_file(name);
    let mut child = env
        .cmd()
        .env("FAKE_GUEST_EXIT", &exit)
        .args(["run", "-q", "--name", name, "--rm"])
        .arg(env.path("app"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    eventually("the instance to run", || (env.ushell(&["ps"]).stdout.contains("fg ")).then_some(()));
    env.end_app(name, 5);
    let o = common::output(child_output(&mut child));
    assert_eq!(o.status, Some(5), "{o}");
    assert_eq!(o.stdout, "fake app: hello\nfake app: exiting with 5\n", "app stdout unchanged on ours\n{o}");
    assert!(o.stderr.contains("[ushell] fake kernel: console connected"), "kernel lines on our stderr\n{o}");
    assert!(!env.runtime_dir().join(name).exists(), "--rm removed the record");
}

fn child_output(child: &mut std::process::Child) -> std::process::Output {
    use wait_timeout::ChildExt;
    let status = child.wait_timeout(Duration::from_secs(60)).unwrap().expect("the foreground run ended");
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
    child.stderr.take().unwrap().read_to_end(&mut stderr).unwrap();
    std::process::Output { status, stdout, stderr }
}

/// The instance socket's envelope, variant 0 only (`ToSup::Shell`): the
/// same encoding as host-cli's, checked by these tests getting answers.
#[derive(Serialize)]
enum ToSup {
    Shell(ClientMsg),
}

#[derive(Deserialize, Debug)]
enum FromSup {
    Shell(ServerMsg),
}

fn frame(id: u32, req: Request) -> Vec<u8> {
    encode(&ToSup::Shell(ClientMsg { id, req })).unwrap()
}

/// Sends requests on a raw connection and reads replies until `n` arrived.
fn replies(s: &mut UnixStream, n: usize) -> Vec<ServerMsg> {
    let mut dec = MessageDecoder::<FromSup>::new();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    while got.len() < n {
        let k = s.read(&mut buf).expect("a reply");
        assert!(k > 0, "the supervisor closed the connection");
        got.extend(dec.push(&buf[..k]).into_iter().filter_map(Result::ok).map(|FromSup::Shell(m)| m));
    }
    got
}

#[test]
fn garbage_truncated_oversized_frames_and_abandoned_uploads_leave_the_instance_answering() {
    let env = Env::new();
    let a = object("ushell/tests/progs/shell_a.c", &env.path("objs"));
    env.start("rob");
    assert_eq!(env.ushell(&["load", a.to_str().unwrap()]).status, Some(0));
    let sock = env.socket("rob");
    let hello = Request::Hello(Hello { version: VERSION, client: "test".into() });
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..120 {
        let mut s = UnixStream::connect(&sock).unwrap();
        match i % 4 {
            0 => {
                let junk: Vec<u8> = (0..1 + rnd() % 3000).map(|_| rnd() as u8).collect();
                let _ = s.write_all(&junk);
            }
            1 => {
                let f = frame(1, Request::Progs);
                let _ = s.write_all(&f[..f.len() / 2]);
            }
            2 => {
                let _ = s.write_all(&vec![0x41u8; 70_000]);
            }
            _ => {
                // Begin an upload, send half of it, vanish.
                s.write_all(&frame(1, hello.clone())).unwrap();
                s.write_all(&frame(2, Request::UploadBegin { name: "half.o".into(), size: 1000 })).unwrap();
                let r = replies(&mut s, 2);
                let upload = match &r[1] {
                    ServerMsg::Reply { id: 2, result: Ok(Reply::UploadReady { upload }) } => *upload,
                    other => panic!("connection {i}: {other:?}"),
                };
                s.write_all(&frame(3, Request::UploadChunk { upload, offset: 0, data: vec![7; 500] })).unwrap();
            }
        }
        drop(s);
    }
    // 30 abandoned uploads: the shell allows 8 at a time, so each was aborted.
    let o = env.ushell(&["progs", "-j"]);
    assert_eq!(o.status, Some(0), "{o}");
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect::<Vec<_>>(), ["fill", "emit", "probe"]);
    let o = env.ushell(&["exec", "fill", "-x", FILL_7_42]);
    assert!(o.stdout.ends_with("returned: 43\n"), "{o}");

    // A bad frame on a connection is answered on that connection, and the
    // next frame on it is read normally.
    let mut s = UnixStream::connect(&sock).unwrap();
    let mut bytes = vec![1, 2, 3, 0];
    bytes.extend(frame(1, hello.clone()));
    bytes.extend(frame(2, Request::Progs));
    s.write_all(&bytes).unwrap();
    let r = replies(&mut s, 2);
    assert!(matches!(&r[1], ServerMsg::Reply { id: 2, result: Ok(Reply::Progs(p)) } if p.len() == 3), "{r:?}");
}

#[test]
fn raw_bytes_reach_the_guest_and_it_keeps_answering() {
    let env = Env::new();
    env.start("raw");
    // `raw` refuses while the guest's console is not connected yet (a
    // request waits for the guest's hello instead): wait for it first.
    let o = env.ushell(&["progs", "-i", "raw"]);
    assert_eq!(o.status, Some(0), "{o}");
    let mut child = env.cmd().args(["raw", "-i", "raw", "--listen", "3"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    // A junk frame, a truncated real one, and an unknown request tag.
    let mut junk = vec![0x13, 0x37, 0x00];
    let f = encode(&ClientMsg { id: 1, req: Request::Progs }).unwrap();
    junk.extend(&f[..f.len() - 2]);
    junk.extend([0x00, 0x03, 0x01, 0x64, 0x00]);
    child.stdin.take().unwrap().write_all(&junk).unwrap();
    let mut out = String::new();
    child.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    child.wait().unwrap();
    assert!(out.lines().filter(|l| l.starts_with("BadFrame(")).count() >= 2, "the guest's bad-frame answers come back\n{out}");
    let o = env.ushell(&["progs", "-i", "raw"]);
    assert_eq!((o.status, o.stdout.as_str()), (Some(0), "no programs loaded\n"), "{o}");
    let logs = env.ushell(&["logs", "raw"]).stdout;
    assert!(logs.contains("[ushell] the kernel's shell refused a frame from the host"), "{logs}");
}

#[test]
fn concurrent_clients_each_get_their_own_replies() {
    let env = Env::new();
    let a = object("ushell/tests/progs/shell_a.c", &env.path("objs"));
    env.start("two");
    assert_eq!(env.ushell(&["load", a.to_str().unwrap()]).status, Some(0));
    std::thread::scope(|s| {
        let execs = s.spawn(|| {
            for k in 0..15u32 {
                let arg = format!("{:02x}000000 00000000 {:02x}00000000000000", k, k + 100);
                let o = env.ushell(&["exec", "fill", "-x", &arg]);
                assert_eq!(o.stdout, format!("[prog fill] fill {k}={}\nreturned: {}\n", k + 100, k + 101), "{o}");
            }
        });
        let lists = s.spawn(|| {
            for _ in 0..15 {
                let o = env.ushell(&["maps", "-j"]);
                let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}\n{o}"));
                assert!(v.as_array().unwrap().iter().any(|m| m["name"] == "shared"), "{o}");
            }
        });
        execs.join().unwrap();
        lists.join().unwrap();
    });
}

#[test]
fn logs_follow_until_the_exit() {
    let env = Env::new();
    env.start("f");
    let mut child = env.cmd().args(["logs", "-f", "f"]).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("[stdout] fake app: hello") {
        let n = out.read(&mut buf).unwrap();
        assert!(n > 0, "logs -f ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    env.end_app("f", 9);
    out.read_to_string(&mut seen).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(seen.contains("[stdout] fake app: exiting with 9") && seen.trim_end().ends_with("[ushell] exited with status 9"), "{seen}");
}

#[test]
fn version_names_the_cli_and_the_kernel_image() {
    let env = Env::new();
    let o = env.ushell(&["--version"]);
    assert_eq!(o.status, Some(0));
    assert!(o.stdout.starts_with("ushell 0.1.0\nkernel image: "), "{o}");
    assert!(o.stdout.contains(env.path("kernel").to_str().unwrap()), "USHELL_KERNEL is the one used\n{o}");
    assert!(o.stdout.contains("embedded kernel image: "), "{o}");
}
