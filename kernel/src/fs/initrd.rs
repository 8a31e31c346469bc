//! Seeds the ramfs from the initrd (cpio newc), then adds what a Linux
//! userland expects to find: /dev nodes, /proc, /tmp and /etc basics.

use super::{Special, Vfs};
use alloc::vec::Vec;
use cpio::{Archive, FileKind};
use ramfs::{Data, ROOT};

pub fn seed(vfs: &mut Vfs, initrd: &'static [u8]) -> Result<usize, cpio::ParseError> {
    let t = &mut vfs.tree;
    let mut n = 0;
    for e in Archive::new(initrd).entries() {
        let e = e?;
        let path = e.path().as_bytes();
        if path.is_empty() {
            continue;
        }
        let (parent_path, name) = match path.iter().rposition(|b| *b == b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&b""[..], path),
        };
        let Ok(parent) = t.mkdir_all(parent_path, 0o755) else {
            crate::kinfo!("initrd: cannot create parent of {}", e.path());
            continue;
        };
        let mtime = e.header.mtime as u64 * 1_000_000_000;
        let res = match e.kind() {
            FileKind::Dir => match t.lookup(parent, name, false) {
                Ok(ino) if t.is_dir(ino) => t.set_perm(ino, e.perm()).map(|_| ino),
                _ => t.mkdir(parent, name, e.perm()),
            },
            FileKind::File => t.create_file(parent, name, e.perm(), Data::Borrowed(e.data)),
            FileKind::Symlink => t.symlink(parent, name, e.data),
            _ => {
                crate::kinfo!("initrd: skipping special file {}", e.path());
                continue;
            }
        };
        match res {
            Ok(ino) => {
                let _ = t.set_mtime(ino, mtime);
                n += 1;
            }
            Err(err) => crate::kinfo!("initrd: {}: {:?}", e.path(), err),
        }
    }
    Ok(n)
}

fn ensure_file(vfs: &mut Vfs, dir: &[u8], name: &[u8], contents: &'static [u8]) {
    let t = &mut vfs.tree;
    let Ok(d) = t.mkdir_all(dir, 0o755) else { return };
    if t.lookup(d, name, false).is_err() {
        let _ = t.create_file(d, name, 0o644, Data::Borrowed(contents));
    }
}

/// Adds /dev, /proc, /tmp and /etc files the initrd did not provide.
pub fn add_system_files(vfs: &mut Vfs) {
    let t = &mut vfs.tree;
    if let Ok(dev) = t.mkdir_all(b"/dev", 0o755) {
        for (name, major, minor, perm) in [
            (&b"null"[..], 1, 3, 0o666),
            (b"zero", 1, 5, 0o666),
            (b"full", 1, 7, 0o666),
            (b"random", 1, 8, 0o666),
            (b"urandom", 1, 9, 0o666),
            (b"tty", 5, 0, 0o666),
            (b"console", 5, 1, 0o600),
        ] {
            let _ = t.mknod_chr(dev, name, perm, major, minor);
        }
        if crate::testhooks::pipe_hook_enabled() {
            let (major, minor) = crate::testhooks::TEST_PIPE_DEV;
            let _ = t.mknod_chr(dev, crate::testhooks::TEST_PIPE_NAME, 0o444, major, minor);
        }
        let _ = t.symlink(dev, b"stdin", b"/proc/self/fd/0");
        let _ = t.symlink(dev, b"stdout", b"/proc/self/fd/1");
        let _ = t.symlink(dev, b"stderr", b"/proc/self/fd/2");
    }
    let _ = t.mkdir_all(b"/tmp", 0o1777).and_then(|tmp| t.set_perm(tmp, 0o1777));
    let mut specials: Vec<(ramfs::Ino, Special)> = Vec::new();
    if let Ok(proc_dir) = t.mkdir_all(b"/proc", 0o555) {
        if let Ok(pid_dir) = t.mkdir(proc_dir, b"1", 0o555) {
            let _ = t.mkdir(pid_dir, b"fd", 0o500);
            if let Ok(ino) = t.create_file(pid_dir, b"maps", 0o444, Data::Borrowed(b"")) {
                specials.push((ino, Special::ProcMaps));
            }
            if let Ok(ino) = t.create_file(pid_dir, b"stat", 0o444, Data::Borrowed(b"")) {
                specials.push((ino, Special::ProcStat));
            }
        }
        let _ = t.symlink(proc_dir, b"self", b"1");
        if let Ok(ino) = t.create_file(proc_dir, b"meminfo", 0o444, Data::Borrowed(b"")) {
            specials.push((ino, Special::ProcMeminfo));
        }
        if let Ok(ino) = t.create_file(proc_dir, b"cpuinfo", 0o444, Data::Borrowed(b"")) {
            specials.push((ino, Special::ProcCpuinfo));
        }
        if let Ok(ino) = t.create_file(proc_dir, b"mounts", 0o444, Data::Borrowed(b"")) {
            specials.push((ino, Special::ProcMounts));
        }
    }
    vfs.special.extend(specials);
    ensure_file(vfs, b"/etc", b"passwd", b"root:x:0:0:root:/root:/bin/sh\n");
    ensure_file(vfs, b"/etc", b"group", b"root:x:0:\n");
    ensure_file(vfs, b"/etc", b"hosts", b"127.0.0.1\tlocalhost\n::1\tlocalhost\n");
    let _ = vfs.tree.mkdir_all(b"/root", 0o700);
    let _ = ROOT;
}

/// Points /proc/self/exe at the running program.
pub fn set_exe_link(vfs: &mut Vfs, exe_abs: &[u8]) {
    let t = &mut vfs.tree;
    if let Ok(pid_dir) = t.lookup(ROOT, b"/proc/1", true) {
        let _ = t.remove(pid_dir, b"exe", false);
        let _ = t.symlink(pid_dir, b"exe", exe_abs);
        let _ = t.remove(pid_dir, b"cwd", false);
        let _ = t.symlink(pid_dir, b"cwd", b"/");
    }
}
