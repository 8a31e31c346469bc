//! Contents of the generated /proc files.

use super::Special;
use crate::mm::aspace::VmaName;
use crate::process::Process;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

pub fn generate(kind: Special, p: &Process) -> Vec<u8> {
    let mut s = String::new();
    match kind {
        Special::ProcMaps => {
            for (start, v) in p.mm.vmas() {
                let perms = format!(
                    "{}{}{}p",
                    if v.prot.read { 'r' } else { '-' },
                    if v.prot.write { 'w' } else { '-' },
                    if v.prot.exec { 'x' } else { '-' }
                );
                let name = match v.name {
                    VmaName::Image => p.exe_path.as_str(),
                    VmaName::Heap => "[heap]",
                    VmaName::Stack => "[stack]",
                    VmaName::Trampoline => "[vdso]",
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
            let _ = writeln!(s, "1 ({}) R 0 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 0 0 0", p.comm);
        }
    }
    s.into_bytes()
}
