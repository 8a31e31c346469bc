//! Syscall tracing's kernel half, end to end in shellproto: the stream of
//! syscall records from the app's first instruction (`ushell.trace=all`,
//! what `ushell run --trace` asks for), records decoded with linux-abi's
//! reader and checked call by call against what the app did; tracepoint
//! programs (a per-id counter on `raw_syscalls/sys_enter` matching the
//! stream's counts exactly, a `sys_enter_openat` program printing paths
//! read with `bpf_probe_read_user_str`); and a tiny ring buffer under a
//! syscall storm, whose drops are reported while the shell stays
//! responsive and the app's result is unchanged. (The CLI's decoding into
//! strace's format is tested with `ushell trace`.)

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e::default_accel;
use e2e::shell::{Client, ShellVm, ShellVmConfig};
use linux_abi::sysno::nr;
use linux_abi::trace::capture::Phase;
use linux_abi::trace::record::Record;
use shellproto::{ClientMsg, Event, Ref, Reply, Request, ServerMsg};

const APP: &str = r#"
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void seq(const char *self) {
    char buf[16];
    int fd = open(self, O_RDONLY);
    long n = read(fd, buf, sizeof buf);
    close(fd);
    int bad = open("/nonexistent", O_RDONLY);
    long pid = syscall(SYS_getpid);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    write(1, "done\n", 5);
    (void)n; (void)bad; (void)pid;
}

int main(int argc, char **argv) {
    if (!strcmp(argv[1], "seq")) {
        seq(argv[0]);
        return 3;
    }
    if (!strcmp(argv[1], "loop")) {
        /* argv[2] rounds of open/read/close/getppid/failed open, with a
         * 1 ms sleep each, announced on stderr first. */
        long rounds = atol(argv[2]);
        fprintf(stderr, "loop: start\n");
        for (long i = 0; i < rounds; i++) {
            char buf[8];
            int fd = open(argv[0], O_RDONLY);
            read(fd, buf, sizeof buf);
            close(fd);
            syscall(SYS_getppid);
            openat(AT_FDCWD, "/nonexistent/x", O_RDONLY);
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
        printf("loop: %ld rounds\n", rounds);
        return 0;
    }
    /* storm N: N getppid calls, as fast as they go */
    long n = atol(argv[2]), sum = 0;
    fprintf(stderr, "storm: start\n");
    for (long i = 0; i < n; i++)
        sum += syscall(SYS_getppid);
    printf("storm: %ld calls, sum %ld\n", n, sum);
    return 0;
}
"#;

/// Built once per test process (the tests run in parallel and must not
/// rewrite the binary another one is packing).
fn build_app() -> PathBuf {
    static APP_BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    APP_BIN.get_or_init(build_app_once).clone()
}

fn build_app_once() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("e2e-systrace-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("systrace.c");
    std::fs::write(&src, APP).unwrap();
    let bin = dir.join("systrace");
    let ok = Command::new("musl-gcc").args(["-O1", "-static"]).arg(&src).arg("-o").arg(&bin).status().unwrap();
    assert!(ok.success(), "musl-gcc failed");
    bin
}

fn bpf_obj(name: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join("e2e-systrace-progs");
    let obj = bpf_build::compile(&e2e::workspace_root().join("bpf-progs").join(name), &dir);
    std::fs::read(obj).unwrap()
}

/// Starts the app with a console; the hello's answer and the events that
/// came before it (a stream from boot starts before the hello) are kept.
fn start_keeping(args: &[&str], kernel_args: &str) -> (ShellVm, Vec<Event>) {
    let cfg = ShellVmConfig {
        app: build_app(),
        args: args.iter().map(|s| s.to_string()).collect(),
        kernel_args: kernel_args.into(),
        timeout_secs: 300,
        icount: false,
        accel: default_accel(),
    };
    let mut vm = ShellVm::start(&cfg);
    vm.client.send_raw(&[0]);
    let a = vm.client.request(Request::Hello(shellproto::Hello { version: shellproto::VERSION, client: "e2e".into() }));
    assert!(matches!(a.result, Ok(Reply::Hello(_))), "{:?}", a.result);
    (vm, a.events)
}

fn start(args: &[&str], kernel_args: &str) -> ShellVm {
    let cfg = ShellVmConfig {
        app: build_app(),
        args: args.iter().map(|s| s.to_string()).collect(),
        kernel_args: kernel_args.into(),
        timeout_secs: 300,
        icount: false,
        accel: default_accel(),
    };
    let mut vm = ShellVm::start(&cfg);
    vm.client.hello();
    // As the supervisor does: a full stream must not overrun the console.
    vm.client.flow_control();
    vm
}

/// One decoded record, owned.
#[derive(Debug, Clone)]
struct Call {
    nr: u16,
    args: [u64; 6],
    ret: Option<i64>,
    /// (arg, phase is exit, data)
    blobs: Vec<(u8, bool, Vec<u8>)>,
}

fn decode(data: &[u8], out: &mut Vec<Call>) {
    let mut rest = data;
    while !rest.is_empty() {
        let r = Record::parse(rest).unwrap_or_else(|e| panic!("bad record: {e:?}"));
        let size = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        out.push(Call {
            nr: r.nr,
            args: r.args,
            ret: r.exited().then_some(r.ret),
            blobs: r.blobs().map(|b| (b.arg, b.phase() == Phase::Exit, b.data.to_vec())).collect(),
        });
        rest = &rest[size..];
    }
}

/// Collects events (syscall records, program lines, losses) for `d`.
fn collect(c: &mut Client, d: Duration, calls: &mut Vec<Call>, lines: &mut Vec<String>, lost: &mut u64) {
    let end = Instant::now() + d;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match c.next_msg(left) {
            Some(Ok(ServerMsg::Event(e))) => event(e, calls, lines, lost),
            Some(Ok(other)) => panic!("unexpected {other:?}"),
            Some(Err(e)) => panic!("{e}"),
            None => break,
        }
    }
}

fn event(e: Event, calls: &mut Vec<Call>, lines: &mut Vec<String>, lost: &mut u64) {
    match e {
        Event::Syscalls { data } => decode(&data, calls),
        Event::ProgOutput { line, .. } => lines.push(line),
        Event::Lost { count, what } if what.contains("syscall records") => *lost += count,
        _ => {}
    }
}

fn request(c: &mut Client, req: Request, calls: &mut Vec<Call>, lines: &mut Vec<String>, lost: &mut u64) -> Reply {
    let what = format!("{req:?}");
    let a = c.request(req);
    for e in a.events {
        event(e, calls, lines, lost);
    }
    a.result.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Sends requests in one write, so the shell answers them in one round
/// (the app does not run between them); returns the replies.
fn batch(c: &mut Client, reqs: Vec<Request>, calls: &mut Vec<Call>, lines: &mut Vec<String>, lost: &mut u64) -> Vec<Reply> {
    let base = 10_000 + (Instant::now().elapsed().as_nanos() as u32 % 1000) * 10;
    let n = reqs.len();
    let mut bytes = Vec::new();
    for (i, req) in reqs.into_iter().enumerate() {
        bytes.extend(shellproto::encode(&ClientMsg { id: base + i as u32, req }).unwrap());
    }
    c.send_raw(&bytes);
    let mut replies: BTreeMap<u32, Reply> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while replies.len() < n {
        match c.next_msg(deadline.saturating_duration_since(Instant::now())) {
            Some(Ok(ServerMsg::Reply { id, result })) => {
                replies.insert(id, result.unwrap_or_else(|e| panic!("batched request {id}: {e}")));
            }
            Some(Ok(ServerMsg::Event(e))) => event(e, calls, lines, lost),
            other => panic!("while waiting for batched replies: {other:?}"),
        }
    }
    replies.into_values().collect()
}

fn load(c: &mut Client, name: &str) {
    let a = c.load(name, &bpf_obj(name), 16 << 10);
    assert!(matches!(a.result, Ok(Reply::Loaded(_))), "load {name}: {:?}", a.result);
}

#[test]
fn the_stream_from_the_first_instruction_shows_each_call_with_its_arguments_and_result() {
    let (mut vm, early) = start_keeping(&["seq"], &std::env::var("SYSTRACE_KERNEL_ARGS").unwrap_or_else(|_| "ushell.trace=all".into()));
    let (mut calls, mut lines, mut lost) = (Vec::new(), Vec::new(), 0);
    for e in early {
        event(e, &mut calls, &mut lines, &mut lost);
    }
    let app_path = build_app().to_string_lossy().into_owned();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !calls.iter().any(|c: &Call| c.nr as usize == nr::EXIT_GROUP) {
        assert!(Instant::now() < deadline, "no exit_group in the stream: {calls:?}\nstderr:\n{}", vm.stderr_so_far().join("\n"));
        collect(&mut vm.client, Duration::from_millis(200), &mut calls, &mut lines, &mut lost);
    }
    assert_eq!(lost, 0);
    // The app's calls from its first open on, in order (musl's start-up
    // calls come before: arch_prctl, set_tid_address, ...).
    let i = calls.iter().position(|c| c.nr as usize == nr::OPEN || c.nr as usize == nr::OPENAT).expect("an open");
    let s: Vec<&Call> = calls[i..].iter().collect();
    let names: Vec<&str> = s.iter().map(|c| linux_abi::syscall_name(c.nr as usize).unwrap_or("?")).collect();
    assert_eq!(names, ["open", "read", "close", "open", "getpid", "nanosleep", "write", "exit_group"], "{s:#?}");
    let path_of = |c: &Call| c.blobs.iter().find(|b| b.0 == 0 && !b.1).map(|b| String::from_utf8_lossy(&b.2).into_owned());
    assert_eq!(path_of(s[0]).as_deref(), Some(app_path.as_str()), "the path captured at entry");
    assert_eq!(s[0].ret, Some(3));
    assert_eq!((s[1].args[0], s[1].args[2], s[1].ret), (3, 16, Some(16)));
    let data = s[1].blobs.iter().find(|b| b.0 == 1 && b.1).map(|b| b.2.clone()).expect("read's buffer, captured at exit");
    assert_eq!(&data[..4], b"\x7fELF");
    assert_eq!(s[2].ret, Some(0));
    assert_eq!(path_of(s[3]).as_deref(), Some("/nonexistent"));
    assert_eq!(s[3].ret, Some(-2), "ENOENT");
    assert_eq!(s[4].ret, Some(1), "getpid");
    let ts = s[5].blobs.iter().find(|b| b.0 == 0 && !b.1).map(|b| b.2.clone()).expect("nanosleep's timespec");
    assert_eq!(ts, [0u64.to_le_bytes(), 1_000_000u64.to_le_bytes()].concat());
    let w = s[6].blobs.iter().find(|b| b.0 == 1 && !b.1).map(|b| b.2.clone()).expect("write's buffer");
    assert_eq!((w.as_slice(), s[6].ret), (&b"done\n"[..], Some(5)));
    assert_eq!((s[7].args[0], s[7].ret), (3, None), "exit_group(3) does not return");
    let out = vm.wait(Duration::from_secs(60));
    assert_eq!(out.status, Some(3));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n");
}

#[test]
fn tracepoint_programs_count_what_the_stream_shows_and_print_openat_paths() {
    let mut vm = start(&["loop", "300"], "");
    let (mut calls, mut lines, mut lost) = (Vec::new(), Vec::new(), 0);
    let c = &mut vm.client;
    load(c, "syscount.c");
    load(c, "openat_path.c");
    // Stream and counter start in one round, and stop in one round: both
    // see exactly the same calls.
    let r = batch(
        c,
        vec![
            Request::TraceStart { syscalls: vec![], ring_bytes: 0 },
            Request::Attach { func: None, prog: Ref::Name("syscount".into()), nr_args: None },
            Request::Attach { func: None, prog: Ref::Name("openat_path".into()), nr_args: None },
        ],
        &mut calls,
        &mut lines,
        &mut lost,
    );
    assert!(matches!(r[0], Reply::TraceStarted { .. }), "{r:?}");
    assert!(matches!(&r[1], Reply::Attached(ch) if ch.func == "raw_syscalls/sys_enter"), "{r:?}");
    assert!(matches!(&r[2], Reply::Attached(ch) if ch.func == "syscalls/sys_enter_openat"), "{r:?}");
    // Until the app has made a few rounds of calls (each round is 7).
    let deadline = Instant::now() + Duration::from_secs(60);
    while calls.len() <= 20 {
        assert!(Instant::now() < deadline, "the stream shows only {} calls", calls.len());
        collect(c, Duration::from_millis(50), &mut calls, &mut lines, &mut lost);
    }
    let r = batch(
        c,
        vec![Request::Detach { func: None, prog: Ref::Name("syscount".into()) }, Request::TraceStop],
        &mut calls,
        &mut lines,
        &mut lost,
    );
    let Reply::TraceStopped { records, lost: stopped_lost } = r[1] else { panic!("{r:?}") };
    assert_eq!((stopped_lost, lost), (0, 0));
    assert_eq!(records as usize, calls.len(), "every record sent arrived");
    assert!(calls.len() > 20, "the app made calls meanwhile: {}", calls.len());

    // The counter's map equals the stream's counts, id by id.
    let mut stream: BTreeMap<u32, u64> = BTreeMap::new();
    for call in &calls {
        *stream.entry(call.nr as u32).or_default() += 1;
    }
    let Reply::MapEntries { entries, next: None, .. } = request(c, Request::MapDump { map: Ref::Name("syscalls".into()), cursor: 0 }, &mut calls, &mut lines, &mut lost) else {
        panic!()
    };
    let counted: BTreeMap<u32, u64> =
        entries.iter().map(|e| (u32::from_le_bytes(e.key[..4].try_into().unwrap()), u64::from_le_bytes(e.value[..8].try_into().unwrap()))).collect();
    assert_eq!(counted, stream, "syscount's map vs the stream");
    // The openat program printed the path of every openat (musl's open()
    // is SYS_open on x86-64, so only the explicit openat counts).
    let openats = calls.iter().filter(|c| c.nr as usize == nr::OPENAT).count();
    assert!(openats > 0);
    // Their lines come with the shell's next rounds.
    let printed = |lines: &[String]| lines.iter().filter(|l| *l == "openat: /nonexistent/x").count();
    let deadline = Instant::now() + Duration::from_secs(30);
    while printed(&lines) < openats && Instant::now() < deadline {
        collect(c, Duration::from_millis(50), &mut calls, &mut lines, &mut lost);
    }
    assert!(lines.iter().filter(|l| *l == "openat: /nonexistent/x").count() >= openats, "{openats} openat calls, lines {lines:?}");
    request(c, Request::Detach { func: None, prog: Ref::Name("openat_path".into()) }, &mut calls, &mut lines, &mut lost);
    let out = vm.wait(Duration::from_secs(120));
    assert_eq!(out.status, Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "loop: 300 rounds\n");
}

#[test]
fn a_tiny_ring_buffer_under_a_storm_reports_its_drops_and_changes_nothing_else() {
    let mut vm = start(&["storm", "3000000"], "");
    let (mut calls, mut lines, mut lost) = (Vec::new(), Vec::new(), 0);
    let c = &mut vm.client;
    let Reply::TraceStarted { ring_bytes } = request(c, Request::TraceStart { syscalls: vec![nr::GETPPID as u16], ring_bytes: 8192 }, &mut calls, &mut lines, &mut lost) else {
        panic!()
    };
    assert_eq!(ring_bytes, 8192);
    // A reader that falls behind: for a second nothing read is confirmed,
    // so the kernel's output stops at the flow-control window and the ring
    // overflows (a shell woken at a quarter of the ring otherwise often
    // keeps up with the storm, so drops would be up to chance).
    c.hold_flow(true);
    std::thread::sleep(Duration::from_secs(1));
    c.hold_flow(false);
    // The shell answers while the storm goes on.
    let t0 = Instant::now();
    let mut answered = 0;
    while t0.elapsed() < Duration::from_secs(3) {
        request(c, Request::Progs, &mut calls, &mut lines, &mut lost);
        answered += 1;
        collect(c, Duration::from_millis(50), &mut calls, &mut lines, &mut lost);
    }
    let Reply::TraceStopped { records, lost: total_lost } = request(c, Request::TraceStop, &mut calls, &mut lines, &mut lost) else { panic!() };
    println!("storm: {records} records, {total_lost} lost, {answered} requests answered meanwhile");
    assert!(total_lost > 0, "an 8 KiB ring buffer must overflow while the reader holds its confirmations");
    assert_eq!(lost, total_lost, "every drop was reported as a Lost event");
    assert_eq!(records as usize, calls.len());
    assert!(calls.iter().all(|c| c.nr as usize == nr::GETPPID && c.ret == Some(0)), "only getppid was traced");
    assert!(answered > 5);
    let out = vm.wait(Duration::from_secs(300));
    assert_eq!(out.status, Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "storm: 3000000 calls, sum 0\n");
}
