//! The decoder against the real strace (Debian 12's strace 6.1): static test
//! apps run natively twice, once under `strace` and once under a small ptrace
//! tracer here that does what the kernel will do, following
//! `linux_abi::trace::capture::plan` with `record::capture` at each syscall's
//! entry and exit (memory read with `process_vm_readv`) and formatting the
//! records with this crate. ASLR is off in both runs, so addresses match;
//! pids, times and random bytes are masked. The lines must be equal.
//!
//! Only harmless programs run here, in a fresh temporary directory:
//! tests/apps/{hello,time,mmap,fault}.c, tests/native/{probe,unknown}.c and a few read-mostly
//! busybox commands (ls, cat, sort, wc, echo, head, stat, mkdir, cp).
//! Skipped with a note when strace, musl-gcc or ptrace is unavailable (fails
//! instead under CI=true).

use std::path::{Path, PathBuf};
use std::process::Command;

use linux_abi::trace::capture::{plan, Phase};
use linux_abi::trace::record::{capture, Entry, Fault, Record, RecordWriter, UserMemory, MAX_RECORD};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..")
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

fn skip(why: &str) -> bool {
    assert!(std::env::var("CI").as_deref() != Ok("true"), "native strace comparison cannot run: {why}");
    eprintln!("NOT CHECKED: {why}");
    true
}

fn build(src: &Path, out: &Path, compiler: &str) {
    let st = Command::new(compiler)
        .args(["-static", "-O1", "-D_GNU_SOURCE", "-w"])
        .arg(format!("-I{}", repo().join("tests/apps").display()))
        .arg(src)
        .arg("-o")
        .arg(out)
        .status()
        .unwrap();
    assert!(st.success(), "building {}", src.display());
}

/// The tracee's memory through process_vm_readv.
struct Proc(libc::pid_t);

impl UserMemory for Proc {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        if buf.is_empty() {
            return Ok(());
        }
        let local = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
        let remote = libc::iovec { iov_base: addr as *mut libc::c_void, iov_len: buf.len() };
        // SAFETY: `local` describes `buf`, which we own; the remote side is read by the kernel.
        let n = unsafe { libc::process_vm_readv(self.0, &local, 1, &remote, 1, 0) };
        if n == buf.len() as isize {
            Ok(())
        } else {
            Err(Fault)
        }
    }
}

fn now_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `t` is a valid timespec to write.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut t) };
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// A pseudo-terminal whose master end we keep open (and drain) while the
/// apps write to the slave.
struct Pty {
    _master: std::fs::File,
    slave: PathBuf,
}

impl Pty {
    fn open() -> Option<Pty> {
        use std::os::fd::FromRawFd;
        // SAFETY: plain libc calls; the fd is owned by the File from here on.
        unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY);
            if m < 0 || libc::grantpt(m) != 0 || libc::unlockpt(m) != 0 {
                return None;
            }
            let name = libc::ptsname(m);
            if name.is_null() {
                return None;
            }
            let slave = PathBuf::from(std::ffi::CStr::from_ptr(name).to_str().ok()?);
            let master = std::fs::File::from_raw_fd(m);
            let mut drain = master.try_clone().ok()?;
            std::thread::spawn(move || {
                let mut b = [0u8; 4096];
                while std::io::Read::read(&mut drain, &mut b).is_ok_and(|n| n > 0) {}
            });
            Some(Pty { _master: master, slave })
        }
    }
}

/// Runs `argv` under our ptrace tracer in `cwd` with ASLR off and stdout on
/// /dev/null; returns the lines.
fn our_trace(argv: &[&str], cwd: &Path, tty: Option<&Path>) -> (Vec<String>, strace::Summary) {
    use std::ffi::CString;
    let cargs: Vec<CString> = argv.iter().map(|a| CString::new(*a).unwrap()).collect();
    let mut ptrs: Vec<*const libc::c_char> = cargs.iter().map(|c| c.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    let env = [CString::new("PATH=/usr/bin:/bin").unwrap()];
    let envp = [env[0].as_ptr(), std::ptr::null()];
    let cwd_c = CString::new(cwd.to_str().unwrap()).unwrap();
    let devnull = CString::new(tty.map_or("/dev/null", |p| p.to_str().unwrap())).unwrap();
    // SAFETY: the child only calls async-signal-safe functions before execve.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork");
    if pid == 0 {
        // SAFETY: plain syscalls in the child; it execs or exits.
        unsafe {
            let fd = libc::open(devnull.as_ptr(), libc::O_RDWR | libc::O_NOCTTY);
            libc::dup2(fd, 1);
            libc::dup2(fd, 0);
            libc::close(fd);
            libc::chdir(cwd_c.as_ptr());
            libc::personality(libc::ADDR_NO_RANDOMIZE as libc::c_ulong);
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            // Stop, so the tracer sees execve itself.
            libc::kill(libc::getpid(), libc::SIGSTOP);
            libc::execve(ptrs[0], ptrs.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(libc::WIFSTOPPED(status), "the child stops before execve");
    // SAFETY: ptrace requests on our stopped tracee.
    unsafe { libc::ptrace(libc::PTRACE_SETOPTIONS, pid, 0, libc::PTRACE_O_TRACESYSGOOD | libc::PTRACE_O_EXITKILL | libc::PTRACE_O_TRACEEXEC) };
    let mem = Proc(pid);
    let mut lines = Vec::new();
    let mut buf = vec![0u8; MAX_RECORD];
    let mut in_call = false;
    let opts = strace::Options::default();
    let mut summary = strace::Summary::new();
    loop {
        // SAFETY: as above.
        unsafe { libc::ptrace(libc::PTRACE_SYSCALL, pid, 0, 0) };
        // SAFETY: as above.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
            if in_call {
                // exit_group: no exit stop.
                let n = RecordWriter::resume(&mut buf).unwrap().len();
                lines.push(strace::format_line(&Record::parse(&buf[..n]).unwrap(), &opts));
            }
            lines.push(if libc::WIFEXITED(status) {
                strace::exited_line(libc::WEXITSTATUS(status))
            } else {
                strace::killed_line(libc::WTERMSIG(status), libc::WCOREDUMP(status))
            });
            break;
        }
        let sig = libc::WSTOPSIG(status);
        if status >> 16 != 0 {
            continue; // PTRACE_EVENT_EXEC
        }
        if sig != libc::SIGTRAP | 0x80 {
            // A signal: print it as strace does and deliver it.
            // SAFETY: siginfo_t is plain data; ptrace fills it.
            let mut si: libc::siginfo_t = unsafe { std::mem::zeroed() };
            // SAFETY: as above.
            unsafe { libc::ptrace(libc::PTRACE_GETSIGINFO, pid, 0, &mut si as *mut _ as *mut libc::c_void) };
            // SAFETY: reading the union member the signal's code says is there.
            let (addr, spid, suid) = unsafe { (si.si_addr() as u64, si.si_pid(), si.si_uid()) };
            lines.push(strace::signal_line(&strace::SigInfo { signo: si.si_signo, code: si.si_code, addr, pid: spid, uid: suid }));
            // SAFETY: resume the tracee with its signal.
            unsafe { libc::ptrace(libc::PTRACE_SYSCALL, pid, 0, sig) };
            // SAFETY: as above.
            unsafe { libc::waitpid(pid, &mut status, 0) };
            if libc::WIFEXITED(status) || libc::WIFSIGNALED(status) {
                lines.push(if libc::WIFSIGNALED(status) {
                    strace::killed_line(libc::WTERMSIG(status), libc::WCOREDUMP(status))
                } else {
                    strace::exited_line(libc::WEXITSTATUS(status))
                });
                break;
            }
            continue;
        }
        // SAFETY: user_regs_struct is plain data; ptrace fills it.
        let mut regs: libc::user_regs_struct = unsafe { std::mem::zeroed() };
        // SAFETY: as above.
        unsafe { libc::ptrace(libc::PTRACE_GETREGS, pid, 0, &mut regs as *mut _ as *mut libc::c_void) };
        if !in_call {
            let e = Entry {
                nr: regs.orig_rax as u16,
                pid: pid as u32,
                tid: pid as u32,
                args: [regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9],
                enter_ns: now_ns(),
            };
            let mut w = RecordWriter::begin(&mut buf, &e).unwrap();
            capture(&mut w, plan(e.nr as usize), Phase::Entry, 0, &mem);
            in_call = true;
        } else {
            let ret = regs.rax as i64;
            let mut w = RecordWriter::resume(&mut buf).unwrap();
            let nr = w.entry().nr as usize;
            capture(&mut w, plan(nr), Phase::Exit, ret, &mem);
            let n = w.finish(ret, now_ns());
            let rec = Record::parse(&buf[..n]).unwrap();
            lines.push(strace::format_line(&rec, &opts));
            summary.add(&rec);
            in_call = false;
        }
    }
    (lines, summary)
}

/// Runs `argv` under Debian's strace the same way (`extra`: more strace options).
fn real_strace(argv: &[&str], cwd: &Path, out: &Path, extra: &[&str], tty: Option<&Path>) -> Vec<String> {
    let stdio = |p: &Path| std::process::Stdio::from(std::fs::OpenOptions::new().read(true).write(true).open(p).unwrap());
    let st = Command::new("setarch")
        .args(["-R", "strace"])
        .args(extra)
        .arg("-o")
        .arg(out)
        .arg("--")
        .args(argv)
        .current_dir(cwd)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .stdout(tty.map_or_else(std::process::Stdio::null, stdio))
        .stdin(tty.map_or_else(std::process::Stdio::null, stdio))
        .status()
        .unwrap();
    let _ = st;
    let text = std::fs::read_to_string(out).unwrap();
    text.lines().map(String::from).collect()
}

/// Masks what differs between two runs: pids, clock readings, random bytes,
/// and the `-1 ENOSYS` execve line's environment pointer.
fn normalize(l: &str) -> String {
    let name = l.split('(').next().unwrap_or("");
    let mut s = match name {
        "getpid" | "getppid" | "gettid" | "set_tid_address" => match l.rfind("= ") {
            Some(i) => format!("{}= PID", &l[..i]),
            None => l.to_string(),
        },
        _ => l.to_string(),
    };
    if name == "execve" {
        // envp is in the tracer's memory: its address differs.
        if let Some(i) = s.rfind("], 0x") {
            if let Some(j) = s[i..].find(" /* ") {
                s = format!("{}], ENVP{}", &s[..i], &s[i + j..]);
            }
        }
    }
    if name == "getrandom" {
        if let (Some(a), Some(b)) = (s.find('"'), s[1..].find("\", ").map(|i| i + 1)) {
            s = format!("{}\"RANDOM{}", &s[..a], &s[b..]);
        }
    }
    // Clock readings; the apps' own reports on stdout (they print timings).
    let stdout = s.starts_with("write(1, ") || s.starts_with("writev(1, ");
    if stdout {
        return s.chars().map(|c| if c.is_ascii_digit() { 'N' } else { c }).collect();
    }
    if name == "clock_gettime" || name == "clock_getres" || name == "gettimeofday" || name == "sysinfo" {
        let mut out = String::new();
        let mut digits = false;
        for c in s.chars() {
            if c.is_ascii_digit() && (digits || out.ends_with('=')) {
                if !digits {
                    out.push('N');
                }
                digits = true;
                continue;
            }
            digits = false;
            out.push(c);
        }
        s = out;
    }
    s
}

/// The rows of a `-c` table without the times: `(name, calls, errors)`,
/// sorted by name, and the total's calls and errors.
type Rows = (Vec<(String, u64, u64)>, (u64, u64));

fn table_rows(t: &str) -> Result<Rows, String> {
    let lines: Vec<&str> = t.lines().collect();
    if lines.len() < 4 || lines[0] != "% time     seconds  usecs/call     calls    errors syscall" || !lines[1].starts_with("------ -----------") {
        return Err(format!("not a -c table: {t:?}"));
    }
    let mut rows = Vec::new();
    let mut total = (0, 0);
    let mut past = false;
    for l in &lines[2..] {
        if l.starts_with("------") {
            past = true;
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        let (calls, errors, name) = match f.len() {
            6 => (f[3], f[4], f[5]),
            5 => (f[3], "0", f[4]),
            _ => return Err(format!("row {l:?}")),
        };
        let calls: u64 = calls.parse().map_err(|_| format!("calls in {l:?}"))?;
        let errors: u64 = errors.parse().map_err(|_| format!("errors in {l:?}"))?;
        let name = name.to_string();
        if past {
            total = (calls, errors);
        } else {
            rows.push((name, calls, errors));
        }
    }
    rows.sort();
    Ok((rows, total))
}

fn same_table(theirs: &[String], ours: &str) -> Result<(), String> {
    let (t, (tc, te)) = table_rows(&theirs.join("\n"))?;
    let (o, (oc, oe)) = table_rows(ours)?;
    if t != o || tc != oc || te != oe {
        return Err(format!("strace:\n{}\nours:\n{ours}", theirs.join("\n")));
    }
    Ok(())
}

#[test]
fn matches_real_strace() {
    if !have("strace") {
        skip("strace is not installed (apt-get install strace)");
        return;
    }
    if !have("musl-gcc") && !Path::new("/usr/bin/musl-gcc").exists() {
        skip("musl-gcc is not installed (musl-tools)");
        return;
    }
    let tmp = std::env::temp_dir().join(format!("strace-native-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let apps = repo().join("tests/apps");
    let mut programs: Vec<(String, PathBuf, Vec<String>)> = Vec::new();
    for (name, src, cc) in [
        ("probe-musl", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/probe.c"), "musl-gcc"),
        ("probe-glibc", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/probe.c"), "gcc"),
        ("hello-musl", apps.join("hello.c"), "musl-gcc"),
        ("hello-glibc", apps.join("hello.c"), "gcc"),
        ("time-musl", apps.join("time.c"), "musl-gcc"),
        ("mmap-musl", apps.join("mmap.c"), "musl-gcc"),
        ("mmap-glibc", apps.join("mmap.c"), "gcc"),
        ("fault-musl", apps.join("fault.c"), "musl-gcc"),
        ("unknown-musl", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/native/unknown.c"), "musl-gcc"),
        ("fault-glibc", apps.join("fault.c"), "gcc"),
    ] {
        let exe = tmp.join(name);
        build(&src, &exe, cc);
        programs.push((name.to_string(), exe.clone(), vec![exe.to_str().unwrap().to_string()]));
    }
    programs[2].2.push("7".into());
    assert_eq!(programs[3].0, "hello-glibc");
    if Path::new("/bin/busybox").exists() {
        for cmd in [&["ls", "-l", "."][..], &["cat", "f"], &["sort", "f"], &["wc", "-l", "f"], &["echo", "hi"], &["head", "-n", "1", "f"], &["stat", "f"], &["mkdir", "-p", "x/y"], &["cp", "f", "g"], &["ls", "/usr/bin"]] {
            let mut argv = vec!["/bin/busybox".to_string()];
            argv.extend(cmd.iter().map(|a| a.to_string()));
            let name: String = cmd.join("-").chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
            programs.push((format!("busybox-{name}"), PathBuf::from("/bin/busybox"), argv));
        }
    }

    // Two runs on a terminal (a pty), for TCGETS and TIOCGWINSZ.
    let pty = Pty::open();
    if pty.is_some() {
        if let Some(p) = programs.get(3).cloned() {
            programs.push((format!("{}-tty", p.0), p.1, p.2));
        }
        if Path::new("/bin/busybox").exists() {
            programs.push(("busybox-ls-tty".into(), PathBuf::from("/bin/busybox"), vec!["/bin/busybox".into(), "ls".into()]));
        }
    }

    let mut checked = 0;
    let mut failures = Vec::new();
    for (name, _exe, argv) in &programs {
        let tty = if name.ends_with("-tty") { pty.as_ref().map(|p| p.slave.as_path()) } else { None };
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let work = tmp.join("work");
        let fresh = || {
            let _ = std::fs::remove_dir_all(&work);
            std::fs::create_dir_all(&work).unwrap();
            std::fs::write(work.join("f"), "b\na\n").unwrap();
        };
        fresh();
        let theirs = real_strace(&argv, &work, &tmp.join(format!("{name}.strace")), &[], tty);
        if theirs.is_empty() || theirs.iter().any(|l| l.contains("PTRACE_TRACEME") || l.contains("Operation not permitted")) && theirs.len() < 3 {
            skip("strace cannot trace here (ptrace not permitted?)");
            return;
        }
        fresh();
        let (ours, summary) = our_trace(&argv, &work, tty);
        eprintln!("{name}: {} lines from strace, {} from ours", theirs.len(), ours.len());
        fresh();
        let table = real_strace(&argv, &work, &tmp.join(format!("{name}.c")), &["-c"], tty);
        if let Err(e) = same_table(&table, &summary.render()) {
            failures.push(format!("{name} -c: {e}"));
        }
        let (t, o): (Vec<String>, Vec<String>) = (theirs.iter().map(|l| normalize(l)).collect(), ours.iter().map(|l| normalize(l)).collect());
        for i in 0..t.len().max(o.len()) {
            let (a, b) = (t.get(i).map_or("<none>", String::as_str), o.get(i).map_or("<none>", String::as_str));
            if a != b {
                failures.push(format!("{name} line {}:\n  strace: {a}\n  ours:   {b}", i + 2));
            } else {
                checked += 1;
            }
        }
    }
    if std::env::var_os("STRACE_NATIVE_KEEP").is_none() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    assert!(failures.is_empty(), "{} lines differ ({checked} equal):\n{}", failures.len(), failures.join("\n"));
    assert!(checked > 150, "only {checked} lines compared");
    eprintln!("{checked} lines equal to strace's");
}
