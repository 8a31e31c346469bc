//! Helpers about time and the current task, answered by the embedder:
//! `bpf_ktime_get_ns`, `bpf_get_prandom_u32`, `bpf_get_smp_processor_id`,
//! `bpf_get_current_pid_tgid`, `bpf_get_current_comm`, `bpf_get_func_ip`,
//! `bpf_ktime_get_boot_ns`, `bpf_get_func_arg`/`_ret`/`_arg_cnt`.

use super::{size, Arg, Call, HelperDef, Imp, ProgTypes, Ret, ANY, ERRNO_OR_ZERO};
use crate::interp::HelperError;
use crate::isa::helper as id;
use crate::spec::ProgType;

const U32: Ret = Ret::Integer { min: 0, max: u32::MAX as i64 };

pub(super) const HELPERS: &[HelperDef] = &[
    HelperDef { id: id::KTIME_GET_NS, name: "bpf_ktime_get_ns", args: &[], ret: ANY, progs: ProgTypes::ALL, call: Imp::Env(|e| e.ktime_ns()) },
    HelperDef { id: id::GET_PRANDOM_U32, name: "bpf_get_prandom_u32", args: &[], ret: U32, progs: ProgTypes::ALL, call: Imp::Env(|e| e.prandom_u32() as u64) },
    HelperDef { id: id::GET_SMP_PROCESSOR_ID, name: "bpf_get_smp_processor_id", args: &[], ret: U32, progs: ProgTypes::ALL, call: Imp::Env(|e| e.cpu_id() as u64) },
    HelperDef { id: id::GET_CURRENT_PID_TGID, name: "bpf_get_current_pid_tgid", args: &[], ret: ANY, progs: ProgTypes::ALL, call: Imp::Env(|e| e.pid_tgid()) },
    HelperDef {
        id: id::GET_CURRENT_COMM,
        name: "bpf_get_current_comm",
        args: &[Arg::UninitMem, Arg::Size],
        ret: Ret::Integer { min: 0, max: 0 },
        progs: ProgTypes::ALL,
        call: Imp::Mem(comm),
    },
    HelperDef {
        id: id::GET_FUNC_IP,
        name: "bpf_get_func_ip",
        args: &[Arg::Ctx],
        ret: ANY,
        // Only programs attached to a function have one (as in Linux).
        progs: ProgTypes::of(&[ProgType::Fentry, ProgType::Fexit, ProgType::Kprobe]),
        call: Imp::Env(|e| e.func_ip()),
    },
    HelperDef { id: id::KTIME_GET_BOOT_NS, name: "bpf_ktime_get_boot_ns", args: &[], ret: ANY, progs: ProgTypes::ALL, call: Imp::Env(|e| e.ktime_boot_ns()) },
    HelperDef {
        id: id::GET_FUNC_ARG,
        name: "bpf_get_func_arg",
        args: &[Arg::Ctx, Arg::Anything, Arg::U64Out],
        ret: ERRNO_OR_ZERO,
        progs: ProgTypes::of(&[ProgType::Fentry, ProgType::Fexit]),
        call: Imp::Mem(|c, a| {
            let r = c.env.func_arg(a[1] as u32);
            out_u64(c, a[2], r)
        }),
    },
    HelperDef {
        id: id::GET_FUNC_RET,
        name: "bpf_get_func_ret",
        args: &[Arg::Ctx, Arg::U64Out],
        ret: ERRNO_OR_ZERO,
        progs: ProgTypes::of(&[ProgType::Fexit]),
        call: Imp::Mem(|c, a| {
            let r = c.env.func_ret();
            out_u64(c, a[1], r)
        }),
    },
    HelperDef {
        id: id::GET_FUNC_ARG_CNT,
        name: "bpf_get_func_arg_cnt",
        args: &[Arg::Ctx],
        // Linux: at most MAX_BPF_FUNC_ARGS (12).
        ret: Ret::Integer { min: 0, max: 12 },
        progs: ProgTypes::of(&[ProgType::Fentry, ProgType::Fexit]),
        call: Imp::Env(|e| e.func_arg_cnt().min(12)),
    },
];

/// Writes `r`'s value (0 on an error, so the verifier's "written" holds)
/// to the 8 bytes at `dst` and returns 0 or the errno.
fn out_u64(c: &mut Call<'_, '_>, dst: u64, r: Result<u64, i64>) -> Result<u64, HelperError> {
    let (v, ret) = match r {
        Ok(v) => (v, 0),
        Err(e) => (0, e.clamp(-super::MAX_ERRNO, -1)),
    };
    c.mem.write(dst, &v.to_le_bytes())?;
    Ok(ret as u64)
}

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
