//! Packs the app, extra files and the run description into the cpio "newc"
//! initrd the kernel boots with.
//!
//! Guest paths are kept without a leading `/` (cpio names are relative). A
//! host path becomes a guest path by resolving it lexically from `/`, the
//! app's working directory: `/bin/busybox` → `bin/busybox`, `target/x/hello`
//! and `./target/x/hello` → `target/x/hello`, so `argv[0]` as given names the
//! file inside the guest too.
//!
//! Adding a host path only records it with the size `stat` gave it (see
//! `hostfile`); contents are read by [`Initrd::encode`]. So the archive's size
//! is known, and checked against the guest's RAM, before anything is read.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use cpio::{Meta, Writer};
use runproto::{ARGV_FILE, ENVP_FILE, RUN_DIR};

use super::error::RunError;
use super::hostfile::{self, HostFile, Role};

/// The environment Linux's init hands to its first process, roughly.
pub const DEFAULT_ENV: [&str; 3] = ["PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/", "TERM=linux"];

#[derive(Debug, Clone, PartialEq, Eq)]
enum Node {
    Dir(Meta),
    File(Meta, Content),
    Symlink(Meta, String),
}

/// A file's bytes: in memory, or on the host to be read when encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Content {
    Data(Vec<u8>),
    Host(HostFile),
}

impl Content {
    fn len(&self) -> u64 {
        match self {
            Content::Data(d) => d.len() as u64,
            Content::Host(h) => h.len,
        }
    }
}

/// Bytes one newc entry takes: the 110-byte header and the NUL-terminated
/// name padded to 4, then the data padded to 4.
fn entry_size(name: &str, data_len: u64) -> u64 {
    (110 + name.len() as u64 + 1).next_multiple_of(4) + data_len.next_multiple_of(4)
}

/// The initrd's tree, keyed by guest path (no leading `/`). Parents sort
/// before their children, so iteration order is a valid archive order.
#[derive(Debug, Default)]
pub struct Initrd {
    nodes: BTreeMap<String, Node>,
    /// Things skipped while packing, to show the user.
    pub warnings: Vec<String>,
}

/// Resolves `path` lexically against `/`: drops `.` and empty components,
/// applies `..` (never above the root). Fails on non-UTF-8 paths and on paths
/// that name the root itself.
pub fn guest_path(path: &OsStr) -> Result<String, RunError> {
    let s = path.to_str().ok_or_else(|| RunError::GuestPath {
        guest: path.to_string_lossy().into_owned(),
        why: "guest paths must be UTF-8".into(),
    })?;
    let mut parts: Vec<&str> = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    if parts.is_empty() {
        return Err(RunError::GuestPath { guest: s.into(), why: "names the root directory".into() });
    }
    Ok(parts.join("/"))
}

fn meta_of(md: &std::fs::Metadata) -> Meta {
    let mtime = md
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u32::try_from(d.as_secs()).unwrap_or(u32::MAX));
    // Files belong to root in the guest, as in an initramfs.
    Meta { perm: md.permissions().mode() & 0o7777, uid: 0, gid: 0, mtime }
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> RunError + '_ {
    move |source| RunError::Read { path: path.to_path_buf(), source }
}

impl Initrd {
    pub fn new() -> Self {
        Self::default()
    }

    fn insert(&mut self, guest: &str, node: Node) -> Result<(), RunError> {
        if guest == RUN_DIR || guest.starts_with(&format!("{RUN_DIR}/")) {
            return Err(RunError::GuestPath {
                guest: format!("/{guest}"),
                why: format!("/{RUN_DIR} is reserved for the run description"),
            });
        }
        self.insert_unchecked(guest, node)
    }

    fn insert_unchecked(&mut self, guest: &str, node: Node) -> Result<(), RunError> {
        let mut end = 0;
        while let Some(i) = guest[end..].find('/') {
            end += i;
            let parent = &guest[..end];
            match self.nodes.get(parent) {
                None => {
                    self.nodes.insert(parent.to_string(), Node::Dir(Meta { perm: 0o755, ..Meta::default() }));
                }
                Some(Node::Dir(_)) => {}
                Some(_) => {
                    return Err(RunError::GuestPath {
                        guest: format!("/{guest}"),
                        why: format!("/{parent} is already a file, not a directory"),
                    })
                }
            }
            end += 1;
        }
        match (self.nodes.get(guest), &node) {
            (Some(Node::Dir(_)), Node::Dir(_)) | (None, _) => {}
            (Some(Node::Dir(_)), _) => {
                return Err(RunError::GuestPath {
                    guest: format!("/{guest}"),
                    why: "is already a directory".into(),
                })
            }
            (Some(_), Node::Dir(_)) => {
                return Err(RunError::GuestPath {
                    guest: format!("/{guest}"),
                    why: "is already a file, not a directory".into(),
                })
            }
            // A later file replaces an earlier one (e.g. --file over --rootfs).
            (Some(_), _) => {}
        }
        self.nodes.insert(guest.to_string(), node);
        Ok(())
    }

    /// Adds a file from the host (following symlinks), or a whole directory
    /// tree if `host` is a directory. Anything else (FIFO, device, socket)
    /// is refused, decided by `stat` without opening it.
    pub fn add_host_path(&mut self, host: &Path, guest: &str, role: Role) -> Result<(), RunError> {
        let md = hostfile::check(host, role)?;
        if md.is_dir() {
            return self.add_tree(host, guest);
        }
        self.insert(guest, Node::File(meta_of(&md), Content::Host(HostFile { path: host.to_path_buf(), len: md.len() })))
    }

    /// Replaces a file's contents by bytes already read (the app, which is
    /// inspected before packing).
    pub fn set_data(&mut self, guest: &str, data: Vec<u8>) {
        if let Some(Node::File(_, c)) = self.nodes.get_mut(guest) {
            *c = Content::Data(data);
        }
    }

    /// The host file recorded at `guest`, if it is one.
    pub fn host_file(&self, guest: &str) -> Option<&HostFile> {
        match self.nodes.get(guest) {
            Some(Node::File(_, Content::Host(h))) => Some(h),
            _ => None,
        }
    }

    /// The size of the archive [`Initrd::encode`] will write.
    pub fn encoded_size(&self) -> u64 {
        let entries: u64 = self
            .nodes
            .iter()
            .map(|(p, n)| match n {
                Node::Dir(_) => entry_size(p, 0),
                Node::File(_, c) => entry_size(p, c.len()),
                Node::Symlink(_, t) => entry_size(p, t.len() as u64),
            })
            .sum();
        entries + entry_size("TRAILER!!!", 0)
    }

    /// Adds everything below the host directory `dir` under the guest
    /// directory `guest` (`""` for the root). Symlinks are kept as symlinks;
    /// FIFOs, devices and sockets inside are skipped with a warning, never
    /// opened.
    pub fn add_tree(&mut self, dir: &Path, guest: &str) -> Result<(), RunError> {
        let md = hostfile::check(dir, Role::Rootfs)?;
        if !guest.is_empty() {
            self.insert(guest, Node::Dir(meta_of(&md)))?;
        }
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(read_err(dir))?
            .collect::<Result<_, _>>()
            .map_err(read_err(dir))?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let host = entry.path();
            let name = guest_path(entry.file_name().as_os_str())?;
            let child = if guest.is_empty() { name } else { format!("{guest}/{name}") };
            let md = std::fs::symlink_metadata(&host).map_err(read_err(&host))?;
            let ft = md.file_type();
            if ft.is_dir() {
                self.add_tree(&host, &child)?;
            } else if ft.is_symlink() {
                let target = std::fs::read_link(&host).map_err(read_err(&host))?;
                let target = target.to_str().ok_or_else(|| RunError::GuestPath {
                    guest: format!("/{child}"),
                    why: "symlink target is not UTF-8".into(),
                })?;
                self.insert(&child, Node::Symlink(meta_of(&md), target.to_string()))?;
            } else if ft.is_file() {
                let content = Content::Host(HostFile { path: host.clone(), len: md.len() });
                self.insert(&child, Node::File(meta_of(&md), content))?;
            } else {
                self.warnings.push(format!(
                    "skipped {}: it is {}; only regular files, directories and symlinks can be packed",
                    host.display(),
                    hostfile::kind_name(&ft)
                ));
            }
        }
        Ok(())
    }

    /// Writes the run description: argv and envp as NUL-terminated lists.
    pub fn set_run_description(&mut self, argv: &[&[u8]], envp: &[String]) -> Result<(), RunError> {
        let mut a = Vec::new();
        for s in argv {
            a.extend_from_slice(s);
            a.push(0);
        }
        let mut e = Vec::new();
        for s in envp {
            e.extend_from_slice(s.as_bytes());
            e.push(0);
        }
        self.insert_unchecked(RUN_DIR, Node::Dir(Meta { perm: 0o755, ..Meta::default() }))?;
        self.insert_unchecked(ARGV_FILE, Node::File(Meta::default(), Content::Data(a)))?;
        self.insert_unchecked(ENVP_FILE, Node::File(Meta::default(), Content::Data(e)))
    }

    /// True if the guest path is a regular file in the initrd.
    pub fn has_file(&self, guest: &str) -> bool {
        matches!(self.nodes.get(guest), Some(Node::File(..)))
    }

    /// One line per entry (`/path size`), for `--dry-run` and `-v`.
    pub fn listing(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|(p, n)| match n {
                Node::Dir(_) => format!("/{p}/"),
                Node::File(_, c) => format!("/{p} ({} bytes)", c.len()),
                Node::Symlink(_, t) => format!("/{p} -> {t}"),
            })
            .collect()
    }

    /// Writes the archive, reading the host files now (each bounded by the
    /// size recorded when it was added).
    pub fn encode(&self) -> Result<Vec<u8>, RunError> {
        let mut w = Writer::new();
        for (path, node) in &self.nodes {
            match node {
                Node::Dir(m) => w.dir(path, m)?,
                Node::File(m, Content::Data(d)) => w.file(path, m, d)?,
                Node::File(m, Content::Host(h)) => w.file(path, m, &h.read()?)?,
                Node::Symlink(m, t) => w.symlink(path, m, t)?,
            }
        }
        Ok(w.finish())
    }
}

/// The app's environment: [`DEFAULT_ENV`], overridden and extended by the
/// user's `-e KEY=VAL` (or `-e KEY`, which copies the host's value).
pub fn environment(
    user: &[String],
    host_var: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, RunError> {
    let mut env: Vec<String> = DEFAULT_ENV.iter().map(|s| s.to_string()).collect();
    for item in user {
        let full = match item.split_once('=') {
            Some(("", _)) => None,
            Some(_) => Some(item.clone()),
            None => match host_var(item) {
                Some(v) => Some(format!("{item}={v}")),
                None => {
                    return Err(RunError::BadOption {
                        option: "-e",
                        value: item.clone(),
                        why: "not set in the host environment (use -e KEY=VAL)".into(),
                    })
                }
            },
        };
        let Some(full) = full else {
            return Err(RunError::BadOption { option: "-e", value: item.clone(), why: "empty variable name".into() });
        };
        let key = full.split_once('=').map_or(full.as_str(), |(k, _)| k).to_string();
        match env.iter_mut().find(|e| e.split_once('=').is_some_and(|(k, _)| k == key)) {
            Some(slot) => *slot = full,
            None => env.push(full),
        }
    }
    Ok(env)
}

/// Splits a `--file HOST[:GUEST]` value. The split is at the last `:` whose
/// right side is an absolute path, so host paths may contain `:`.
pub fn parse_file_spec(spec: &OsStr) -> Result<(PathBuf, String), RunError> {
    let bytes = spec.as_bytes();
    let split = bytes.iter().rposition(|&b| b == b':').filter(|&i| bytes.get(i + 1) == Some(&b'/'));
    let (host, guest) = match split {
        Some(i) => (OsStr::from_bytes(&bytes[..i]), OsStr::from_bytes(&bytes[i + 1..])),
        None => (spec, spec),
    };
    if host.is_empty() {
        return Err(RunError::BadOption {
            option: "--file",
            value: spec.to_string_lossy().into_owned(),
            why: "empty host path".into(),
        });
    }
    Ok((PathBuf::from(host), guest_path(guest)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use cpio::{Archive, FileKind};

    fn g(s: &str) -> String {
        guest_path(OsStr::new(s)).unwrap()
    }

    #[test]
    fn guest_paths() {
        assert_eq!(g("/bin/busybox"), "bin/busybox");
        assert_eq!(g("target/x/hello"), "target/x/hello");
        assert_eq!(g("./target//x/./hello"), "target/x/hello");
        assert_eq!(g("../../x/hello"), "x/hello");
        assert_eq!(g("/a/b/../c"), "a/c");
        assert!(guest_path(OsStr::new("/")).is_err());
        assert!(guest_path(OsStr::new("a/..")).is_err());
    }

    #[test]
    fn file_specs() {
        let p = |s: &str| parse_file_spec(OsStr::new(s)).unwrap();
        assert_eq!(p("data/in.txt"), (PathBuf::from("data/in.txt"), "data/in.txt".into()));
        assert_eq!(p("/tmp/a:/etc/b"), (PathBuf::from("/tmp/a"), "etc/b".into()));
        assert_eq!(p("odd:name"), (PathBuf::from("odd:name"), "odd:name".into()));
        assert_eq!(p("x:y:/z"), (PathBuf::from("x:y"), "z".into()));
        assert!(parse_file_spec(OsStr::new(":/z")).is_err());
    }

    #[test]
    fn env_defaults_and_overrides() {
        let host = |k: &str| (k == "LANG").then(|| "C.UTF-8".to_string());
        let e = environment(&["HOME=/root".into(), "A=1=2".into(), "LANG".into()], host).unwrap();
        assert_eq!(e, ["PATH=/bin:/usr/bin:/sbin:/usr/sbin", "HOME=/root", "TERM=linux", "A=1=2", "LANG=C.UTF-8"]);
        assert!(environment(&["NOPE".into()], host).is_err());
        assert!(environment(&["=x".into()], host).is_err());
    }

    #[test]
    fn tree_parents_conflicts_and_encoding() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        std::fs::create_dir_all(root.join("r/etc")).unwrap();
        std::fs::write(root.join("r/etc/motd"), b"hi\n").unwrap();
        std::os::unix::fs::symlink("motd", root.join("r/etc/link")).unwrap();
        std::fs::write(root.join("app"), b"\x7fELF").unwrap();
        std::fs::set_permissions(root.join("app"), std::fs::Permissions::from_mode(0o751)).unwrap();

        let mut i = Initrd::new();
        i.add_tree(&root.join("r"), "").unwrap();
        i.add_host_path(&root.join("app"), "usr/local/bin/app", Role::App).unwrap();
        i.add_host_path(&root.join("app"), "etc/motd", Role::File).unwrap(); // replaces the rootfs file
        assert!(i.add_host_path(&root.join("app"), "etc/motd/x", Role::File).is_err(), "file used as directory");
        assert!(i.add_host_path(&root.join("r"), "etc/motd", Role::File).is_err(), "directory over a file");
        assert!(i.add_host_path(&root.join("app"), ".ushell/argv", Role::File).is_err(), "reserved");
        i.set_run_description(&[b"/usr/local/bin/app", b"\xffx"], &["A=1".into()]).unwrap();
        assert!(i.has_file("usr/local/bin/app"));

        let bytes = i.encode().unwrap();
        assert_eq!(i.encoded_size(), bytes.len() as u64, "the size checked against -m is the size written");
        let entries: Vec<_> = Archive::new(&bytes).entries().map(Result::unwrap).collect();
        let names: Vec<_> = entries.iter().map(|e| (e.name, e.kind())).collect();
        assert_eq!(
            names,
            [
                (".ushell", FileKind::Dir),
                (".ushell/argv", FileKind::File),
                (".ushell/envp", FileKind::File),
                ("etc", FileKind::Dir),
                ("etc/link", FileKind::Symlink),
                ("etc/motd", FileKind::File),
                ("usr", FileKind::Dir),
                ("usr/local", FileKind::Dir),
                ("usr/local/bin", FileKind::Dir),
                ("usr/local/bin/app", FileKind::File),
            ]
        );
        let by = |n: &str| entries.iter().find(|e| e.name == n).unwrap();
        assert_eq!(by(".ushell/argv").data, b"/usr/local/bin/app\0\xffx\0");
        assert_eq!(by(".ushell/envp").data, b"A=1\0");
        assert_eq!(by("usr/local/bin/app").perm(), 0o751);
        assert_eq!(by("etc/motd").data, b"\x7fELF");
        assert_eq!(by("etc/link").data, b"motd");
        assert_eq!(by("usr/local/bin/app").header.uid, 0);
    }
}
