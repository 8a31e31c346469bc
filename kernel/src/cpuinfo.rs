//! CPU identification strings for /proc/cpuinfo and uname.

use crate::arch::cpu::cpuid;
use alloc::string::String;

fn regs_to_string(regs: &[u32]) -> String {
    let mut bytes = alloc::vec::Vec::new();
    for r in regs {
        bytes.extend_from_slice(&r.to_le_bytes());
    }
    String::from_utf8_lossy(&bytes).trim_matches(char::from(0)).trim().into()
}

pub fn vendor() -> String {
    let r = cpuid(0, 0);
    regs_to_string(&[r.ebx, r.edx, r.ecx])
}

pub fn brand() -> String {
    if cpuid(0x8000_0000, 0).eax < 0x8000_0004 {
        return "unknown".into();
    }
    let mut regs = alloc::vec::Vec::new();
    for leaf in 0x8000_0002..=0x8000_0004 {
        let r = cpuid(leaf, 0);
        regs.extend_from_slice(&[r.eax, r.ebx, r.ecx, r.edx]);
    }
    regs_to_string(&regs)
}
