//! The generated /proc files: their contents and the file object that
//! serves them.

use super::file::{FileLike, SeekKind};
use super::Special;
use crate::mm::aspace::VmaName;
use crate::process::Process;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt::Write;
use linux_abi::Errno;
use ramfs::{Ino, Metadata};

pub fn generate(kind: Special, p: &Process) -> Vec<u8> {
    let mut s = String::new();
    match kind {
        Special::ProcMaps => {
            let exe = p.exe.lock().path.clone();
            let mm = p.mm();
            let mm = mm.lock();
            for (start, v) in mm.vmas() {
                let perms = format!(
                    "{}{}{}p",
                    if v.prot.read { 'r' } else { '-' },
                    if v.prot.write { 'w' } else { '-' },
                    if v.prot.exec { 'x' } else { '-' }
                );
                let name = match v.name {
                    VmaName::Image => exe.as_str(),
                    VmaName::Heap => "[heap]",
                    VmaName::Stack => "[stack]",
                    VmaName::Trampoline => "[vdso]",
                    VmaName::Uprobes => "[uprobes]",
                    VmaName::Anon => "",
                };
                let _ = writeln!(s, "{:08x}-{:08x} {} 00000000 00:00 0 {}", start, v.end, perms, name);
            }
        }
        Special::ProcMeminfo => {
            let (total, used) = crate::arch::mem::stats();
            let _ = writeln!(s, "MemTotal:       {:8} kB", total / 1024);
            let _ = writeln!(s, "MemFree:        {:8} kB", (total - used) / 1024);
            let _ = writeln!(s, "MemAvailable:   {:8} kB", (total - used) / 1024);
            let _ = writeln!(s, "Buffers:               0 kB\nCached:                0 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB");
        }
        Special::ProcCpuinfo => {
            let mhz = crate::drivers::tsc::hz() / 1_000_000;
            let _ = writeln!(
                s,
                "processor\t: 0\nvendor_id\t: {}\nmodel name\t: {}\ncpu MHz\t\t: {}.000\ncpu cores\t: 1\n",
                crate::cpuinfo::vendor(),
                crate::cpuinfo::brand(),
                mhz
            );
        }
        Special::ProcMounts => {
            s.push_str("ramfs / ramfs rw 0 0\nproc /proc proc rw 0 0\n");
        }
        Special::ProcStat => {
            let _ = writeln!(s, "1 ({}) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0", p.exe.lock().comm);
        }
    }
    s.into_bytes()
}

/// A /proc file: its contents generated when opened, its metadata that of
/// its ramfs placeholder node with the generated size.
pub struct GeneratedFile {
    ino: Ino,
    data: Vec<u8>,
}

impl GeneratedFile {
    pub fn open(ino: Ino, kind: Special) -> Arc<GeneratedFile> {
        let data = match crate::process::current() {
            Some(p) => generate(kind, &p),
            None => Vec::new(),
        };
        Arc::new(GeneratedFile { ino, data })
    }

    fn remaining(&self, offset: u64) -> usize {
        usize::try_from((self.data.len() as u64).saturating_sub(offset)).unwrap_or(usize::MAX)
    }
}

impl FileLike for GeneratedFile {
    fn read(&self, buf: &mut [u8], offset: u64) -> Result<usize, Errno> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX).min(self.data.len());
        let n = buf.len().min(self.data.len() - start);
        buf[..n].copy_from_slice(&self.data[start..start + n]);
        Ok(n)
    }

    fn read_hint(&self, offset: u64) -> usize {
        self.remaining(offset)
    }

    fn stat(&self) -> Result<Metadata, Errno> {
        let mut m = super::with(|v| v.tree.metadata(self.ino))?;
        m.size = self.data.len() as u64;
        Ok(m)
    }

    fn seek_kind(&self) -> SeekKind {
        SeekKind::Positional
    }

    fn opened_node(&self) -> Option<Ino> {
        Some(self.ino)
    }
}
