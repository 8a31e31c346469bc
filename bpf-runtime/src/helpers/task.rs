//! Helpers about time and the current task, answered by the embedder:
//! `bpf_ktime_get_ns`, `bpf_get_prandom_u32`, `bpf_get_smp_processor_id`,
//! `bpf_get_current_pid_tgid`, `bpf_get_current_comm`, `bpf_get_func_ip`.

use super::{size, Arg, Call, HelperDef, ProgTypes, Ret, ANY};
use crate::interp::HelperError;
use crate::isa::helper as id;
use crate::spec::ProgType;

const U32: Ret = Ret::Integer { min: 0, max: u32::MAX as i64 };

pub(super) const HELPERS: &[HelperDef] = &[
    HelperDef { id: id::KTIME_GET_NS, name: "bpf_ktime_get_ns", args: &[], ret: ANY, progs: ProgTypes::ALL, call: |c, _| Ok(c.env.ktime_ns()) },
    HelperDef { id: id::GET_PRANDOM_U32, name: "bpf_get_prandom_u32", args: &[], ret: U32, progs: ProgTypes::ALL, call: |c, _| Ok(c.env.prandom_u32() as u64) },
    HelperDef { id: id::GET_SMP_PROCESSOR_ID, name: "bpf_get_smp_processor_id", args: &[], ret: U32, progs: ProgTypes::ALL, call: |c, _| Ok(c.env.cpu_id() as u64) },
    HelperDef { id: id::GET_CURRENT_PID_TGID, name: "bpf_get_current_pid_tgid", args: &[], ret: ANY, progs: ProgTypes::ALL, call: |c, _| Ok(c.env.pid_tgid()) },
    HelperDef {
        id: id::GET_CURRENT_COMM,
        name: "bpf_get_current_comm",
        args: &[Arg::UninitMem, Arg::Size],
        ret: Ret::Integer { min: 0, max: 0 },
        progs: ProgTypes::ALL,
        call: comm,
    },
    HelperDef {
        id: id::GET_FUNC_IP,
        name: "bpf_get_func_ip",
        args: &[Arg::Ctx],
        ret: ANY,
        // Only programs attached to a function have one (as in Linux).
        progs: ProgTypes::of(&[ProgType::Fentry, ProgType::Fexit, ProgType::Kprobe]),
        call: |c, _| Ok(c.env.func_ip()),
    },
];

fn comm(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let name = c.env.comm();
    let len = size(a[1])?;
    c.mem.check(a[0], len, true)?;
    let mut buf = [0u8; 16];
    let n = len.min(name.len()).saturating_sub(1);
    buf[..n].copy_from_slice(&name[..n]);
    // Zero-padded to the whole buffer, NUL-terminated.
    let mut at = 0;
    while at < len {
        let k = (len - at).min(16);
        let chunk = if at == 0 { &buf[..k] } else { &[0u8; 16][..k] };
        c.mem.write(a[0] + at as u64, chunk)?;
        at += k;
    }
    Ok(0)
}
