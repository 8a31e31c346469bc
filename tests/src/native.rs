//! Runs a [`Vm`]'s app natively on the host, with the argv, environment,
//! working directory and stdin the guest gives it, so an app's own checks
//! (and its output) can be compared with Linux's.
//!
//! The app runs in a private mount namespace whose root is a fresh temporary
//! directory holding only the app (at its host path), a private /dev with
//! read-only binds of the host's null, zero, full, random, urandom and tty,
//! and the host's /proc: apps like fileio create files under `/`, and on the host that must
//! not touch the real root. The namespace is made with `unshare` (util-linux)
//! and a user namespace, so no privileges are needed; if it cannot be made,
//! the run fails with `unshare`'s message (it never silently runs unsandboxed).

use std::ffi::OsString;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::vm::{capture, Output, Vm};

/// The environment `ushell run` starts an app with (host-cli's
/// `initrd::DEFAULT_ENV`); `-e` entries override or extend it in order.
const DEFAULT_ENV: [&str; 3] = ["PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/", "TERM=linux"];
/// Native runs are quick; this only bounds a hung app.
const NATIVE_TIMEOUT_SECS: u64 = 60;

/// The guest environment for `-e` entries `extra`, in the guest's order.
fn guest_env(extra: &[String]) -> Vec<String> {
    let mut env: Vec<String> = DEFAULT_ENV.iter().map(|s| s.to_string()).collect();
    for e in extra {
        let kv = if e.contains('=') { e.clone() } else { format!("{e}={}", std::env::var(e).unwrap_or_default()) };
        let key = kv.split('=').next().unwrap().to_string();
        match env.iter_mut().find(|v| v.split('=').next() == Some(key.as_str())) {
            Some(slot) => *slot = kv,
            None => env.push(kv),
        }
    }
    env
}

fn find_tool(name: &str) -> PathBuf {
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("`{name}` not found: native runs need it (Debian package coreutils/util-linux)"))
}

impl Vm {
    /// Runs this VM's app natively (see the module docs). `status` is the
    /// exit status, or 128+N if signal N killed the app, as `ushell run`
    /// reports it. Panics for `ushell run` options it cannot mirror.
    pub fn run_native(&self) -> Output {
        let mut extra_env = Vec::new();
        let mut opts = self.opts().iter();
        while let Some(o) = opts.next() {
            match o.to_str() {
                Some("-e") => extra_env.push(opts.next().unwrap().to_string_lossy().into_owned()),
                _ => panic!("run_native cannot mirror the ushell run option {o:?}"),
            }
        }
        let command = self.command();
        let app = PathBuf::from(&command[0]);
        assert!(app.is_absolute(), "run_native needs an absolute app path, got {}", app.display());

        let root = tempfile::tempdir().expect("temporary root for a native run");
        let inside = root.path().join(app.strip_prefix("/").unwrap());
        std::fs::create_dir_all(inside.parent().unwrap()).unwrap();
        std::fs::copy(&app, &inside).unwrap_or_else(|e| panic!("copy {} into the native root: {e}", app.display()));
        for d in ["dev", "proc"] {
            std::fs::create_dir(root.path().join(d)).unwrap();
        }

        // sh gives the new root a /dev of its own (a tmpfs holding read-only
        // binds of the few host devices apps use: uid 0 in the namespace is
        // the host's root, so a writable bind of the host's /dev would let
        // an app unlink or chmod the real nodes) and /proc, then `env -i`
        // gives the app exactly the guest environment, in order, and chroot
        // (which also makes `/` the working directory, as in the guest) runs it.
        let script = r#"mount -t tmpfs -o mode=755 devtmp "$0/dev" &&
for n in null zero full random urandom tty; do
  [ -e /dev/$n ] || continue
  : > "$0/dev/$n" && mount --bind /dev/$n "$0/dev/$n" && mount -o remount,bind,ro "$0/dev/$n" || exit 1
done &&
ln -s /proc/self/fd "$0/dev/fd" && ln -s /proc/self/fd/0 "$0/dev/stdin" &&
ln -s /proc/self/fd/1 "$0/dev/stdout" && ln -s /proc/self/fd/2 "$0/dev/stderr" &&
mount --rbind /proc "$0/proc" && exec env -i "$@""#;
        let mut cmd = Command::new(find_tool("unshare"));
        cmd.args(["--mount", "--map-root-user", "--", "sh", "-c", script])
            .arg(root.path())
            .args(guest_env(&extra_env))
            .arg(find_tool("chroot"))
            .arg(root.path())
            .args(command)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let cmdline = std::iter::once("native:".to_string())
            .chain(command.iter().map(|a: &OsString| a.to_string_lossy().into_owned()))
            .collect::<Vec<_>>()
            .join(" ");
        let (status, out) =
            capture(cmd, self.stdin_data().to_vec(), Duration::from_secs(NATIVE_TIMEOUT_SECS), cmdline);
        let status = status.and_then(|s| s.code().or_else(|| s.signal().map(|n| 128 + n)));
        Output { status, ..out }
    }
}

#[cfg(test)]
mod tests {
    use super::guest_env;

    #[test]
    fn guest_env_overrides_in_place_and_appends() {
        let e = guest_env(&["HOME=/root".into(), "A=1=2".into()]);
        assert_eq!(e, ["PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/root", "TERM=linux", "A=1=2"]);
    }
}
