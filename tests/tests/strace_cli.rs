//! `ushell trace` and `ushell run --trace` end to end (issue 11's CLI):
//! the real `ushell` against the real kernel under QEMU, and Debian's
//! `strace` running the same static binary natively. (a) `run --trace`
//! from the first instruction, line by line against `strace -f`; (b)
//! `ushell trace` attached to a running app and detached again, the app
//! going on to exit normally, and a trace that ends with the app's exit;
//! (c) `trace -c`'s counts and errors against `strace -c -f`; (d) the BPF
//! counter `bpf-progs/syscount.c` through `ushell map dump` against
//! `trace -c` over the same window; (e) `trace --hist`'s total against the
//! stream. Each test explains the differences it allows.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use e2e::{default_accel, ushell, ushell_cmd, ushell_kernel_args, Instance};
use serde_json::Value;

const APP: &str = r#"
/* stapp: the syscall tracer's CLI test app (issue 11). Built with
 * `-pg -mfentry -mnop-mcount -mrecord-mcount`, static and non-PIE, so `go`
 * and `finish` start with the 5-byte nop the function tracer patches: the
 * app sees an attachment as the `call` byte at the function's entry,
 * without a syscall, which is how the test opens and closes its windows.
 *
 *   stapp work             one round of file, memory and time calls; exit 3
 *   stapp gated N [nogate] spin (no syscalls) until `go` is traced, N rounds
 *                          of `work`, spin until `finish` is traced; exit 0
 *                          (nogate: no spinning, for the native run)
 *   stapp storm N          N getppid calls as fast as they go; exit 0
 *   stapp loop N           N rounds of open/read/close/getppid and a 20 ms
 *                          nanosleep, then "loop: done"; exit 0 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline, used)) void go(void) { __asm__ volatile(""); }
__attribute__((noinline, used)) void finish(void) { __asm__ volatile(""); }

static int traced(void (*fn)(void))
{
    const volatile unsigned char *p = (const volatile unsigned char *)fn;
    if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
        p += 4;
    return p[0] == 0xe8;
}

static volatile unsigned long spins;

static void spin_until(void (*fn)(void))
{
    while (!traced(fn))
        spins++;
}

static void work(void)
{
    char buf[64];
    struct stat st;
    struct timespec ts;
    umask(022);
    mkdir("st", 0755);
    mkdir("st", 0755);
    int fd = open("st/f", O_CREAT | O_RDWR | O_TRUNC, 0644);
    write(fd, "hello strace\n", 13);
    lseek(fd, 0, SEEK_SET);
    read(fd, buf, sizeof buf);
    fstat(fd, &st);
    close(fd);
    close(fd);
    open("st/missing", O_RDONLY);
    unlink("st/f");
    rmdir("st");
    char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    p[0] = 1;
    mprotect(p, 4096, PROT_READ);
    munmap(p, 8192);
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    ts.tv_sec = 0;
    ts.tv_nsec = 2000000;
    nanosleep(&ts, NULL);
    getpid();
    write(1, "work: done\n", 11);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "work")) {
        work();
        return 3;
    }
    if (argc > 2 && !strcmp(argv[1], "gated")) {
        int gate = !(argc > 3 && !strcmp(argv[3], "nogate"));
        if (gate) {
            /* Said before the window opens (the test waits for it: a trace
             * started earlier would see the start-up calls too). */
            write(2, "gated: spinning\n", 16);
            spin_until(go);
        }
        for (long i = 0; i < atol(argv[2]); i++)
            work();
        if (gate)
            spin_until(finish);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "storm")) {
        for (long i = 0; i < atol(argv[2]); i++)
            syscall(SYS_getppid);
        return 0;
    }
    if (argc > 2 && !strcmp(argv[1], "loop")) {
        long rounds = atol(argv[2]);
        write(2, "loop: start\n", 12);
        for (long i = 0; i < rounds; i++) {
            char buf[8];
            int fd = open(argv[0], O_RDONLY);
            read(fd, buf, sizeof buf);
            close(fd);
            syscall(SYS_getppid);
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
        write(1, "loop: done\n", 11);
        return 0;
    }
    return 2;
}
"#;

/// Hard limit of an instance.
const INSTANCE_TIMEOUT: u64 = 600;
/// Longest wait for something that must happen soon (a hang guard only).
const PATIENCE: Duration = Duration::from_secs(180);

fn work_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("e2e-strace-cli-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Built once per test process (tests run in parallel).
fn stapp() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let dir = work_dir();
        let src = dir.join("stapp.c");
        std::fs::write(&src, APP).unwrap();
        let obj = dir.join("stapp.o");
        let bin = dir.join("stapp");
        let cc = |args: &[&OsStr]| {
            let o = Command::new("musl-gcc").args(args).output().expect("musl-gcc");
            assert!(o.status.success(), "musl-gcc {args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        cc(&[
            "-O1".as_ref(), "-g".as_ref(), "-Wall".as_ref(), "-pg".as_ref(), "-mfentry".as_ref(), "-mnop-mcount".as_ref(),
            "-mrecord-mcount".as_ref(), "-fno-pie".as_ref(), "-c".as_ref(), src.as_os_str(), "-o".as_ref(), obj.as_os_str(),
        ]);
        cc(&["-static".as_ref(), "-no-pie".as_ref(), obj.as_os_str(), "-o".as_ref(), bin.as_os_str()]);
        bin
    })
    .clone()
}

fn object(name: &str) -> PathBuf {
    bpf_build::compile(&e2e::workspace_root().join("bpf-progs").join(format!("{name}.c")), &work_dir().join("progs"))
}

fn have_strace() -> bool {
    let ok = Command::new("strace").arg("-V").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "strace is needed (apt-get install strace)");
        eprintln!("SKIPPED: strace is not installed (apt-get install strace)");
    }
    ok
}

/// Runs `stapp ARGS` natively under `strace -f OPTS` in a fresh directory
/// of its own (the app only writes relative paths there); strace's output.
fn native_strace(opts: &[&str], args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("strace.out");
    let o = Command::new("strace")
        .arg("-f")
        .args(opts)
        .arg("-o")
        .arg(&out)
        .arg("--")
        .arg(stapp())
        .args(args)
        .current_dir(dir.path())
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(o.status.code().is_some(), "strace: {o:?}");
    std::fs::read_to_string(&out).unwrap_or_else(|e| panic!("strace wrote no output ({e}): {}", String::from_utf8_lossy(&o.stderr)))
}

/// What legitimately differs between the two traces: strace -f's pid
/// prefix and the padding it shifts, addresses (mmap's, the stack's),
/// pids, clock readings.
fn normalize(line: &str) -> String {
    let l = match line.split_once(' ') {
        Some((pid, rest)) if pid.chars().all(|c| c.is_ascii_digit()) && !pid.is_empty() => rest,
        _ => line,
    };
    let mut s = l.split_whitespace().collect::<Vec<_>>().join(" ");
    let name = s.split('(').next().unwrap_or("").to_string();
    if ["getpid", "getppid", "gettid", "set_tid_address"].contains(&name.as_str()) {
        if let Some(i) = s.rfind("= ") {
            s = format!("{}= PID", &s[..i]);
        }
    }
    let mut out = String::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'0' && b.get(i + 1) == Some(&b'x') {
            out.push_str("ADDR");
            i += 2;
            while i < b.len() && b[i].is_ascii_hexdigit() {
                i += 1;
            }
            continue;
        }
        out.push(b[i] as char);
        i += 1;
    }
    if name == "clock_gettime" {
        out = e2e::mask_numbers(&out);
    }
    out
}

/// `(name, calls, errors)` rows of an `strace -c` table, without the total.
fn table(t: &str) -> BTreeMap<String, (u64, u64)> {
    let mut rows = BTreeMap::new();
    let lines: Vec<&str> = t.lines().collect();
    assert!(lines.first().is_some_and(|l| l.starts_with("% time")), "not a -c table:\n{t}");
    for l in &lines[2..] {
        if l.starts_with("------") {
            break;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        let (calls, errors, name) = match f.len() {
            6 => (f[3], f[4], f[5]),
            5 => (f[3], "0", f[4]),
            _ => panic!("row {l:?} in\n{t}"),
        };
        rows.insert(name.to_string(), (calls.parse().unwrap(), errors.parse().unwrap()));
    }
    rows
}

/// A `ushell` command running in the background, output in files.
struct Bg {
    child: Child,
    stdout: PathBuf,
    stderr: PathBuf,
    what: String,
}

impl Bg {
    fn start(tag: &str, args: &[&str]) -> Bg {
        let dir = work_dir();
        let stdout = dir.join(format!("{tag}.out"));
        let stderr = dir.join(format!("{tag}.err"));
        let mut c = ushell_cmd();
        c.args(args).stdin(Stdio::null()).stdout(File::create(&stdout).unwrap()).stderr(File::create(&stderr).unwrap());
        let child = c.spawn().unwrap();
        Bg { child, stdout, stderr, what: format!("ushell {}", args.join(" ")) }
    }

    fn out(&self) -> String {
        std::fs::read_to_string(&self.stdout).unwrap_or_default()
    }

    fn err(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until `f` holds for its stdout and stderr.
    fn wait_for(&mut self, what: &str, f: impl Fn(&str, &str) -> bool) {
        let t0 = Instant::now();
        while !f(&self.out(), &self.err()) {
            if let Ok(Some(st)) = self.child.try_wait() {
                panic!("{} ended ({st}) before {what}\nstdout:\n{}\nstderr:\n{}", self.what, self.out(), self.err());
            }
            assert!(t0.elapsed() < PATIENCE, "{}: gave up waiting for {what}\nstdout:\n{}\nstderr:\n{}", self.what, self.out(), self.err());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Ctrl-C, as a user would: SIGINT.
    fn interrupt(&self) {
        let ok = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().unwrap();
        assert!(ok.success());
    }

    /// Its exit status, within the patience.
    fn finish(&mut self) -> i32 {
        let t0 = Instant::now();
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or_else(|| panic!("{} killed: {st}", self.what));
            }
            if t0.elapsed() > PATIENCE {
                let _ = self.child.kill();
                panic!("{} did not end\nstdout:\n{}\nstderr:\n{}", self.what, self.out(), self.err());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(inst: &Instance, args: &[&str]) -> String {
    let o = inst.cmd(args);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    o.stdout_str()
}

/// (a) `ushell run --trace` from the first instruction against Debian's
/// `strace -f` on the same static binary, call by call.
///
/// The one difference, and why: Linux's trace starts with the tracee's
/// `execve` (strace runs the program with it); our kernel starts the app
/// without one, so our first line is musl's first call, `arch_prctl`.
/// Everything else is the same call with the same decoded arguments and
/// result once addresses (mmap's, musl's TLS and `set_tid_address`
/// pointers, which differ with the memory layout), pids (ours is 1) and the
/// monotonic clock's reading are masked.
#[test]
fn run_trace_prints_what_strace_prints_for_the_same_binary() {
    if !have_strace() {
        return;
    }
    let out = work_dir().join("run-trace.txt");
    let o = ushell(&[
        OsStr::new("run"), "-q".as_ref(), "--rm".as_ref(), "--accel".as_ref(), default_accel().as_ref(), "--timeout".as_ref(), "300".as_ref(),
        "--trace".as_ref(), "-o".as_ref(), out.as_os_str(), stapp().as_os_str(), "work".as_ref(),
    ]);
    assert_eq!(o.status, Some(3), "{}", o.describe());
    assert_eq!(o.stdout_str(), "work: done\n");
    let ours: Vec<String> = std::fs::read_to_string(&out).unwrap().lines().map(normalize).collect();
    let theirs_text = native_strace(&[], &["work"]);
    let theirs: Vec<String> = theirs_text.lines().map(normalize).collect();
    // Linux's start: the execve that strace ran the program with.
    assert!(theirs[0].starts_with("execve("), "{theirs_text}");
    assert_eq!(ours, theirs[1..], "ours vs strace -f (after execve)\nstrace:\n{theirs_text}");
    assert!(ours.len() >= 24, "{ours:#?}");
    for l in ["mkdir(\"st\", 0755) = -1 EEXIST (File exists)", "fstat(3, {st_mode=S_IFREG|0644, st_size=13, ...}) = 0", "+++ exited with 3 +++"] {
        assert!(ours.iter().any(|o| o == l), "{l} in {ours:#?}");
    }

    // On stderr, like strace's, when there is no -o; only -e's calls.
    let o = ushell(&[
        OsStr::new("run"), "-q".as_ref(), "--rm".as_ref(), "--accel".as_ref(), default_accel().as_ref(), "--timeout".as_ref(), "300".as_ref(),
        "--trace=mkdir,nanosleep".as_ref(), stapp().as_os_str(), "work".as_ref(),
    ]);
    assert_eq!(o.status, Some(3), "{}", o.describe());
    let lines: Vec<String> = o.stderr.lines().map(normalize).collect();
    assert_eq!(
        lines,
        ["mkdir(\"st\", 0755) = 0", "mkdir(\"st\", 0755) = -1 EEXIST (File exists)", "nanosleep({tv_sec=0, tv_nsec=2000000}, NULL) = 0", "+++ exited with 3 +++"],
        "{}",
        o.describe()
    );

    // A kill by a signal ends the trace as strace's does.
    let o = ushell(&[
        OsStr::new("run"), "-q".as_ref(), "--rm".as_ref(), "--accel".as_ref(), default_accel().as_ref(), "--timeout".as_ref(), "300".as_ref(),
        "--trace".as_ref(), e2e::app("fault", "musl").as_os_str(),
    ]);
    assert_eq!(o.status, Some(139), "{}", o.describe());
    assert_eq!(o.stderr.lines().last(), Some("+++ killed by SIGSEGV +++"), "{}", o.describe());
}

/// (b) `ushell trace` on a running app shows its calls from that moment
/// on; Ctrl-C detaches and the app goes on to exit normally; a second
/// `ushell trace` stays to the end and prints the exit.
#[test]
fn trace_attaches_to_a_running_app_and_detaching_leaves_it_running() {
    let rounds = 250;
    let inst = Instance::start("st-attach", stapp(), &["loop", &rounds.to_string()], "", INSTANCE_TIMEOUT);
    inst.wait_for_log("the loop's start", |l| l.contains("loop: start"));
    let mut t = Bg::start("attach-1", &["trace", &inst.name]);
    // Ten rounds of the loop, then Ctrl-C.
    t.wait_for("ten rounds", |out, _| out.matches("nanosleep(").count() >= 10);
    t.interrupt();
    assert_eq!(t.finish(), 0, "{}", t.err());
    assert!(t.err().contains(&format!("detached from {} (it keeps running)", inst.name)), "{}", t.err());
    let out = t.out();
    let mut lines: Vec<&str> = out.lines().collect();
    // A call in flight when the stream stopped (the 20 ms sleep, most
    // likely) has no return value: `= ?`, as the kernel documents.
    if lines.last().is_some_and(|l| l.ends_with("= ?")) {
        lines.pop();
    }
    // From a round's start on, each round is the same five calls.
    let first = lines.iter().position(|l| l.starts_with("open(")).unwrap();
    let app = stapp().to_string_lossy().into_owned();
    let round = [
        format!("open(\"{app}\", O_RDONLY|O_LARGEFILE) = 3"),
        "read(3, \"\\177ELF\\2\\1\\1\\0\", 8) = 8".to_string(),
        "close(3) = 0".into(),
        "getppid() = 0".into(),
        "nanosleep({tv_sec=0, tv_nsec=20000000}, NULL) = 0".into(),
    ];
    let whole = (lines.len() - first) / 5 * 5;
    assert!(whole >= 40, "{out}");
    for (i, l) in lines[first..first + whole].iter().enumerate() {
        assert_eq!(l.split_whitespace().collect::<Vec<_>>().join(" "), round[i % 5], "line {} of\n{out}", first + i);
    }
    assert!(first < 5, "the calls before the first open are the end of a round: {out}");
    assert!(!out.contains("+++"), "the app did not exit");
    // Still running after the detach.
    let ps = ushell(&["ps", "-j"]);
    assert!(ps.stdout_str().contains("\"running\""), "{}", ps.describe());
    // A second trace until the exit: the app's last calls and its status.
    let mut t = Bg::start("attach-2", &["trace", "-i", &inst.name]);
    let status = t.finish();
    let out = t.out();
    assert_eq!(status, 0, "ushell trace exits with the app's status\n{out}\n{}", t.err());
    let tail: Vec<String> = out.lines().rev().take(3).map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    assert_eq!(tail, ["+++ exited with 0 +++", "exit_group(0) = ?", "write(1, \"loop: done\\n\", 11) = 11"], "{out}");
    let w = inst.wait();
    assert_eq!(w.status, Some(0), "{}", w.describe());
    assert_eq!(inst.app_stdout(), "loop: done\n");
}

/// (c), (d), (e) over one window. The app spins without syscalls before
/// and after its workload; `ushell trace -c`, the BPF counter syscount.c
/// and `ushell trace --hist nanosleep` all start while it spins before,
/// attaching to `go` lets it run, and they stop while it spins after, so
/// the three see exactly the same calls: the N rounds of `work`.
///
/// (c) Natively, `strace -c -f` of the same rounds (`gated N nogate`)
/// has the same rows with the same calls and errors, plus the calls made
/// before the window: `execve` (Linux's start), `arch_prctl` and
/// `set_tid_address` (musl's start-up, which the unikernel app makes too,
/// before `go`). exit_group is in neither table (strace -c counts only
/// calls that return).
/// (d) syscount counts at sys_enter, the table at the return: equal here
/// because no call is in flight at either end of the window.
/// (e) The histogram's buckets add up to the table's nanosleep calls.
#[test]
fn trace_c_syscount_and_hist_count_the_same_window_as_strace_c() {
    let rounds: u64 = 7;
    let inst = Instance::start("st-count", stapp(), &["gated", &rounds.to_string()], "", INSTANCE_TIMEOUT);
    inst.wait_for_log("the app's spin before the window", |l| l.contains("gated: spinning"));
    let table_file = work_dir().join("count-c.txt");
    let mut c = Bg::start("count-c", &["trace", "-c", "-o", table_file.to_str().unwrap(), "-i", &inst.name]);
    c.wait_for("the stream's start", |_, err| err.contains("tracing the syscalls"));
    let mut h = Bg::start("count-hist", &["trace", "--hist", "nanosleep", "-i", &inst.name]);
    h.wait_for("the histogram's programs", |_, err| err.contains("counting the latency"));
    ok(&inst, &["attach", object("syscount").to_str().unwrap()]);
    let noop = object("fentry_noop");
    ok(&inst, &["attach", "go", noop.to_str().unwrap()]);
    // The workload is over when its last call (a write) has been counted
    // 2 N times and nothing changes for a second.
    let count = |inst: &Instance| -> BTreeMap<String, u64> {
        let v: Value = serde_json::from_str(&ok(inst, &["map", "dump", "syscalls", "-j"])).unwrap();
        v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (linux_abi::syscall_name(e["key"].as_u64().unwrap() as usize).unwrap().to_string(), e["value"].as_u64().unwrap()))
            .collect()
    };
    let t0 = Instant::now();
    let mut last = BTreeMap::new();
    loop {
        let now = count(&inst);
        if now.get("write") == Some(&(2 * rounds)) && now == last {
            break;
        }
        assert!(t0.elapsed() < PATIENCE, "the workload did not end: {now:?}");
        last = now;
        std::thread::sleep(Duration::from_secs(1));
    }
    c.interrupt();
    assert_eq!(c.finish(), 0, "{}", c.err());
    h.interrupt();
    assert_eq!(h.finish(), 0, "{}", h.err());
    let counted = count(&inst);
    let ours_text = std::fs::read_to_string(&table_file).unwrap();
    let ours = table(&ours_text);
    println!("ushell trace -c over the window:\n{ours_text}");

    // (d) the BPF counter and the table, name by name.
    let table_calls: BTreeMap<String, u64> = ours.iter().map(|(n, (c, _))| (n.clone(), *c)).collect();
    assert_eq!(counted, table_calls, "syscount's map vs trace -c");
    assert_eq!(ours["nanosleep"], (rounds, 0));
    assert_eq!(ours["mkdir"], (2 * rounds, rounds), "one EEXIST per round");

    // (e) the histogram's total.
    let hist = h.out();
    println!("ushell trace --hist nanosleep:\n{hist}");
    assert!(hist.starts_with("@usecs:\n"), "{hist}");
    let total: u64 = hist.lines().skip(1).filter(|l| !l.is_empty()).map(|l| l[16..24].trim().parse::<u64>().unwrap()).sum();
    assert_eq!(total, ours["nanosleep"].0, "histogram total vs the stream's nanosleep calls\n{hist}");
    assert!(h.err().contains(&format!("{rounds} calls of nanosleep")), "{}", h.err());
    // 2 ms sleeps: at least the [1K, 2K) bucket.
    assert!(hist.lines().skip(1).all(|l| l.is_empty() || !l.starts_with("[0]")), "{hist}");

    // (c) against strace -c natively.
    if have_strace() {
        let theirs_text = native_strace(&["-c"], &["gated", &rounds.to_string(), "nogate"]);
        let mut theirs = table(&theirs_text);
        println!("strace -c -f natively:\n{theirs_text}");
        for before in ["execve", "arch_prctl", "set_tid_address"] {
            assert_eq!(theirs.remove(before).map(|r| r.0), Some(1), "{before} before the window\n{theirs_text}");
        }
        assert_eq!(ours, theirs, "trace -c vs strace -c -f\nours:\n{ours_text}\nstrace:\n{theirs_text}");
    }

    // Let the app finish: it exits normally.
    ok(&inst, &["detach", "syscount"]);
    ok(&inst, &["attach", "finish", noop.to_str().unwrap()]);
    let w = inst.wait();
    assert_eq!(w.status, Some(0), "{}", w.describe());
    assert_eq!(inst.app_stdout(), "work: done\n".repeat(rounds as usize));
}

/// A ring buffer too small for a storm of calls: the records the kernel
/// dropped are counted in the stream where they happened, so the calls
/// printed and the calls reported lost add up to exactly the calls made.
#[test]
fn records_lost_to_a_full_ring_buffer_are_reported_in_the_stream() {
    let n: u64 = 200_000;
    let out = work_dir().join("storm.txt");
    // A shell that rests 200 ms after each round (a test hook) cannot keep
    // up with the storm, so the 8 KiB ring overflows for certain; one that
    // keeps up (woken at a quarter of the ring) may lose nothing.
    let o = ushell_kernel_args("ushell.test=slow-shell", &[
        OsStr::new("run"), "-q".as_ref(), "--rm".as_ref(), "--accel".as_ref(), default_accel().as_ref(), "--timeout".as_ref(), "300".as_ref(),
        "--trace=getppid".as_ref(), "--ring".as_ref(), "8192".as_ref(), "-o".as_ref(), out.as_os_str(), stapp().as_os_str(), "storm".as_ref(),
        n.to_string().as_ref(),
    ]);
    assert_eq!(o.status, Some(0), "{}", o.describe());
    let text = std::fs::read_to_string(&out).unwrap();
    let printed = text.lines().filter(|l| l.starts_with("getppid()")).count() as u64;
    let lost: u64 = text
        .lines()
        .filter_map(|l| l.strip_prefix("ushell: ")?.strip_suffix(" syscall records lost (ring buffer full)")?.parse::<u64>().ok())
        .sum();
    println!("storm of {n}: {printed} printed, {lost} reported lost");
    assert!(lost > 0, "an 8 KiB ring must overflow under the storm with a slow shell");
    assert_eq!(printed + lost, n, "every call is printed or counted as lost");
    assert_eq!(text.lines().last(), Some("+++ exited with 0 +++"));
}
