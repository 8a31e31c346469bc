//! Shared by host-cli's supervisor tests: instances of the real `ushell`
//! binary whose VM is `examples/fake_guest.rs` (a stand-in for QEMU and the
//! kernel that serves the console with the real shell library), each in a
//! runtime directory of its own.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn ushell_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ushell"))
}

/// Built by `cargo test` with the other targets of the package.
pub fn fake_guest() -> PathBuf {
    let p = ushell_bin().parent().unwrap().join("examples/fake_guest");
    assert!(p.is_file(), "{} is missing: run `cargo test -p host-cli`, which builds the examples too", p.display());
    p
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A clang-compiled object from `ushell/tests/progs` or `bpf-progs`.
pub fn object(rel: &str, out: &Path) -> PathBuf {
    bpf_build::compile(&workspace().join(rel), out)
}

/// A private runtime directory, a dummy kernel image, a minimal static
/// ELF as the app, and the fake guest as QEMU.
pub struct Env {
    pub tmp: tempfile::TempDir,
}

impl Env {
    pub fn new() -> Env {
        let tmp = tempfile::Builder::new().prefix("hcli-").tempdir_in("/tmp").unwrap();
        std::fs::create_dir(tmp.path().join("xdg")).unwrap();
        std::fs::write(tmp.path().join("kernel"), b"\x7fELF not really a kernel").unwrap();
        std::fs::write(tmp.path().join("app"), minimal_elf()).unwrap();
        Env { tmp }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    /// The runtime directory `ushell` uses here.
    pub fn runtime_dir(&self) -> PathBuf {
        self.path("xdg/ushell")
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new(ushell_bin());
        c.env("XDG_RUNTIME_DIR", self.path("xdg"))
            .env("XDG_STATE_HOME", self.path("state"))
            .env("USHELL_QEMU", fake_guest())
            .env("USHELL_KERNEL", self.path("kernel"))
            .env_remove("USHELL_KERNEL_ARGS")
            .stdin(Stdio::null());
        c
    }

    /// Runs `ushell ARGS` to the end (a hung one is killed after 60 s, so
    /// a bug shows as a failure, not a stuck suite).
    pub fn ushell(&self, args: &[&str]) -> Out {
        run_with_limit(self.cmd().args(args), Duration::from_secs(60))
    }

    /// `ushell run -d --name NAME APP`; returns the printed name.
    pub fn start(&self, name: &str) -> String {
        let exit = self.exit_file(name);
        let o = run_with_limit(
            self.cmd().env("FAKE_GUEST_EXIT", &exit).args(["run", "-q", "--accel", "tcg", "-d", "--name", name]).arg(self.path("app")).arg("arg1"),
            Duration::from_secs(60),
        );
        assert_eq!(o.status, Some(0), "run -d failed\n{o}");
        o.stdout.trim().to_string()
    }

    pub fn exit_file(&self, name: &str) -> PathBuf {
        self.path(&format!("exit-{name}"))
    }

    /// Makes the fake app of `name` exit with `status`.
    pub fn end_app(&self, name: &str, status: u8) {
        std::fs::write(self.exit_file(name), status.to_string()).unwrap();
    }

    /// The instance's socket, from `ps -j`.
    pub fn socket(&self, name: &str) -> PathBuf {
        let o = self.ushell(&["ps", "-j"]);
        let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("ps -j: {e}\n{o}"));
        let inst = v.as_array().unwrap().iter().find(|i| i["name"] == name).unwrap_or_else(|| panic!("{name} not in ps -j\n{o}"));
        PathBuf::from(inst["socket"].as_str().unwrap())
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // End every instance still running (only ours: they live in this
        // environment's runtime directory).
        if let Ok(o) = self.cmd().args(["ps", "-j"]).output() {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&o.stdout) {
                for i in v.as_array().into_iter().flatten() {
                    if i["state"] == "running" {
                        let _ = self.cmd().args(["stop", i["name"].as_str().unwrap_or("")]).output();
                    }
                }
            }
        }
    }
}

/// A 64-byte ELF header: x86_64, ET_EXEC, no program headers. `ushell run`
/// only inspects it; the fake guest never runs it.
pub fn minimal_elf() -> Vec<u8> {
    let mut h = vec![0u8; 64];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 2; // 64-bit
    h[5] = 1; // little-endian
    h[6] = 1;
    h[16] = 2; // ET_EXEC
    h[18] = 62; // x86_64
    h[20] = 1;
    h[52] = 64; // e_ehsize
    h[54] = 56; // e_phentsize
    h
}

#[derive(Debug)]
pub struct Out {
    pub status: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "status {:?}\n--- stdout ---\n{}--- stderr ---\n{}", self.status, self.stdout, self.stderr)
    }
}

pub fn run_with_limit(cmd: &mut Command, limit: Duration) -> Out {
    use wait_timeout::ChildExt;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting ushell");
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let a = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut so, &mut s);
        s
    });
    let b = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut se, &mut s);
        s
    });
    let status = match child.wait_timeout(limit).unwrap() {
        Some(s) => s.code(),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            None
        }
    };
    // A detached supervisor keeps the pipes only until it is ready.
    Out { status, stdout: a.join().unwrap(), stderr: b.join().unwrap() }
}

/// Polls `f` until it returns Some (a hang guard, not a timing check: the
/// limit only turns a hang into a failure).
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn output(o: Output) -> Out {
    Out { status: o.status.code(), stdout: String::from_utf8_lossy(&o.stdout).into(), stderr: String::from_utf8_lossy(&o.stderr).into() }
}
