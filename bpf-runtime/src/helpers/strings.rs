//! String helpers: `bpf_strncmp` against a constant string, and
//! `bpf_snprintf` with `bpf_trace_printk`'s conversions (the format a
//! constant string, the arguments an array of u64).

use alloc::vec::Vec;

use super::{size, Arg, Call, HelperDef, Imp, ProgTypes, Ret, MAX_ERRNO};
use crate::interp::HelperError;
use crate::isa::helper as id;

/// Most arguments `bpf_snprintf` takes (Linux `MAX_BPRINTF_VARARGS`).
pub const MAX_SNPRINTF_ARGS: usize = 12;

pub(super) const HELPERS: &[HelperDef] = &[
    HelperDef {
        id: id::STRNCMP,
        name: "bpf_strncmp",
        args: &[Arg::Mem, Arg::ConstSize, Arg::ConstStr],
        // Linux's strncmp: -1, 0 or 1.
        ret: Ret::Integer { min: -1, max: 1 },
        progs: ProgTypes::ALL,
        call: Imp::Mem(strncmp),
    },
    HelperDef {
        id: id::SNPRINTF,
        name: "bpf_snprintf",
        args: &[Arg::UninitMem, Arg::Size, Arg::ConstStr, Arg::MemOrNull, Arg::Size],
        ret: Ret::Integer { min: -MAX_ERRNO, max: i64::MAX },
        progs: ProgTypes::ALL,
        call: Imp::Mem(snprintf),
    },
];

/// Longest constant string read (the verifier found a NUL before it).
const MAX_CONST_STR: usize = 4096;

fn strncmp(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let n = size(a[1])?;
    let s1 = super::maps::copy_in(c.mem, a[0], n)?;
    let s2 = c.mem.c_str(a[2], n.min(MAX_CONST_STR))?;
    for i in 0..n {
        let (c1, c2) = (s1[i], s2.get(i).copied().unwrap_or(0));
        if c1 != c2 {
            return Ok(if c1 < c2 { -1i64 as u64 } else { 1 });
        }
        if c1 == 0 {
            break;
        }
    }
    Ok(0)
}

fn snprintf(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let out_len = size(a[1])?;
    let data_len = size(a[4])?;
    if data_len % 8 != 0 || data_len / 8 > MAX_SNPRINTF_ARGS {
        return Ok(super::EINVAL as u64);
    }
    let mut args = Vec::with_capacity(data_len / 8);
    for i in 0..data_len / 8 {
        let mut b = [0u8; 8];
        c.mem.read(a[3].wrapping_add(8 * i as u64), &mut b)?;
        args.push(u64::from_le_bytes(b));
    }
    let mut fmt = c.mem.c_str(a[2], MAX_CONST_STR)?;
    fmt.push(0);
    let text = match super::printk::format(&fmt, &args, c.mem) {
        Ok(t) => t,
        Err(HelperError::BadArg(_)) => return Ok(super::EINVAL as u64),
        Err(e) => return Err(e),
    };
    c.mem.check(a[0], out_len, true)?;
    if out_len > 0 {
        let n = text.len().min(out_len - 1);
        c.mem.write(a[0], &text.as_bytes()[..n])?;
        c.mem.write(a[0] + n as u64, &[0])?;
        // The rest of the buffer is initialized too (the verifier says so).
        let pad = out_len - n - 1;
        if pad > 0 {
            c.mem.write(a[0] + n as u64 + 1, &alloc::vec![0u8; pad])?;
        }
    }
    Ok(text.len() as u64 + 1)
}
