//! `ushell run` refuses what it cannot pack, at once: a character device
//! (`/dev/zero`, which would be read without end), a FIFO (opening it would
//! block until a writer comes) and a unix socket, given as APP, `--file` or
//! `--rootfs`; and an initrd that cannot fit in `-m`. Each gets status 125
//! and one line on stderr naming the path and what it is.
//!
//! The real built `ushell` runs with the real kernel image, so everything
//! but the refused path is valid. A watchdog kills `ushell` if it has not
//! exited after [`HANG_LIMIT`]: that bound only tells a hang from an answer
//! (the refusal takes milliseconds), it is not a speed requirement.

use std::os::unix::net::UnixListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use wait_timeout::ChildExt;

const HOST_FAILURE: Option<i32> = Some(runproto::HOST_FAILURE_STATUS);
const HANG_LIMIT: Duration = Duration::from_secs(20);

struct Run {
    status: Option<i32>,
    stdout: String,
    stderr: String,
    cmdline: String,
}

/// `ushell run -q --accel tcg --timeout 60 --kernel K ARGS...` with stdin
/// closed, killed with its process group (and any QEMU) after HANG_LIMIT.
fn ushell_run(args: &[&str]) -> Run {
    let kernel = e2e::kernel_image();
    let mut full: Vec<String> = ["run", "-q", "--accel", "tcg", "--timeout", "60", "--kernel"].map(String::from).to_vec();
    full.push(kernel.display().to_string());
    full.extend(args.iter().map(|s| s.to_string()));
    let cmdline = format!("ushell {}", full.join(" "));
    let mut child = Command::new(e2e::ushell_bin())
        .args(&full)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmdline}: {e}"));
    let status = child.wait_timeout(HANG_LIMIT).expect("waiting for ushell");
    if status.is_none() {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", child.id())]).status();
        let _ = child.wait();
        panic!("{cmdline} hung: still running after {HANG_LIMIT:?}, killed");
    }
    let out = child.wait_with_output().expect("collecting ushell's output");
    Run {
        status: status.and_then(|s| s.code()),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        cmdline,
    }
}

impl Run {
    fn describe(&self) -> String {
        format!("$ {}\nstatus {:?}\n--- stdout ---\n{}--- stderr ---\n{}", self.cmdline, self.status, self.stdout, self.stderr)
    }

    /// Status 125, nothing on stdout, and exactly one stderr line, an error
    /// that contains every one of `want`.
    fn assert_refused(&self, want: &[&str]) {
        assert_eq!(self.status, HOST_FAILURE, "{}", self.describe());
        assert!(self.stdout.is_empty(), "{}", self.describe());
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line expected\n{}", self.describe());
        assert!(lines[0].starts_with("ushell: error: "), "{}", self.describe());
        for w in want {
            assert!(lines[0].contains(w), "{w:?} missing\n{}", self.describe());
        }
    }
}

/// The three special files, kept alive by the returned guards.
struct Specials {
    _dir: tempfile::TempDir,
    _listener: UnixListener,
    cases: Vec<(PathBuf, &'static str)>,
}

fn specials() -> Specials {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let st = Command::new("mkfifo").arg(&fifo).status().expect("mkfifo (coreutils)");
    assert!(st.success(), "mkfifo failed");
    let sock = dir.path().join("sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let cases = vec![(PathBuf::from("/dev/zero"), "a character device"), (fifo, "a FIFO"), (sock, "a socket")];
    Specials { _dir: dir, _listener: listener, cases }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn special_files_as_app_are_refused() {
    let sp = specials();
    for (path, kind) in &sp.cases {
        ushell_run(&[s(path)]).assert_refused(&["APP", s(path), kind, "must be a regular file"]);
        // Arguments after APP change nothing.
        ushell_run(&[s(path), "x", "y"]).assert_refused(&["APP", s(path), kind]);
    }
}

#[test]
fn special_files_as_file_or_rootfs_are_refused() {
    let sp = specials();
    for (path, kind) in &sp.cases {
        ushell_run(&["--file", s(path), "/bin/busybox", "true"]).assert_refused(&["--file", s(path), kind]);
        let spec = format!("{}:/data/x", s(path));
        ushell_run(&["--file", &spec, "/bin/busybox", "true"]).assert_refused(&["--file", s(path), kind]);
        ushell_run(&["--rootfs", s(path), "/bin/busybox", "true"]).assert_refused(&["--rootfs", s(path), kind, "must be a directory"]);
    }
}

#[test]
fn special_files_inside_a_directory_are_skipped_with_a_warning() {
    let sp = specials();
    let dir = sp.cases[1].0.parent().unwrap().to_path_buf();
    std::fs::write(dir.join("plain.txt"), "packed\n").unwrap();
    let guest = dir.join("plain.txt");
    let r = ushell_run(&["--file", s(&dir), "/bin/busybox", "cat", s(&guest)]);
    assert_eq!((r.status, r.stdout.as_str()), (Some(0), "packed\n"), "{}", r.describe());
    for (path, kind) in &sp.cases[1..] {
        let line = format!("ushell: warning: skipped {}: it is {kind}", path.display());
        assert!(r.stderr.contains(&line), "{line:?} missing\n{}", r.describe());
    }
}

#[test]
fn an_initrd_larger_than_memory_is_refused_before_packing() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big");
    // Sparse: 80 MiB by stat, no disk used.
    std::fs::File::create(&big).unwrap().set_len(80 << 20).unwrap();
    let r = ushell_run(&["-m", "64M", "--file", s(&big), "/bin/busybox", "true"]);
    r.assert_refused(&["cannot fit in -m 64M", "pass -m"]);
    // The same file fits in more memory and the app sees all of it.
    let r = ushell_run(&["-m", "160M", "--file", s(&big), "/bin/busybox", "wc", "-c", s(&big)]);
    assert_eq!(r.status, Some(0), "{}", r.describe());
    assert!(r.stdout.starts_with(&format!("{} ", 80 << 20)), "{}", r.describe());
}
