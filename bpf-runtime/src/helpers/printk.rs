//! `bpf_trace_printk` formatting: the conversions Linux accepts (`%d %i %u
//! %x %X` with `l`/`ll` length, `%p %px %pK`, `%s`, `%c`, `%%`), at most
//! three arguments. An unsupported conversion is an error, as in Linux.

use alloc::string::String;
use core::fmt::Write;

use super::{size, Arg, Call, HelperDef, Imp, ProgTypes, ANY};
use crate::interp::{HelperError, Mem};
use crate::isa::helper as id;

pub(super) const HELPERS: &[HelperDef] = &[HelperDef {
    id: id::TRACE_PRINTK,
    name: "bpf_trace_printk",
    args: &[Arg::Mem, Arg::Size, Arg::Vararg, Arg::Vararg, Arg::Vararg],
    ret: ANY,
    progs: ProgTypes::ALL,
    call: Imp::Mem(trace_printk),
}];

fn trace_printk(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let fmt = super::maps::copy_in(c.mem, a[0], size(a[1])?)?;
    let line = format(&fmt, &a[2..5], c.mem)?;
    c.env.trace(&line);
    Ok(line.len() as u64)
}

/// Longest string a `%s` argument may contribute.
const MAX_STR: usize = 256;

pub fn format(fmt: &[u8], args: &[u64], m: &Mem<'_>) -> Result<String, HelperError> {
    let fmt = match fmt.iter().position(|&b| b == 0) {
        Some(n) => &fmt[..n],
        None => return Err(HelperError::BadArg("format string is not NUL-terminated")),
    };
    let mut out = String::new();
    let mut next = args.iter();
    let mut i = 0;
    while i < fmt.len() {
        let c = fmt[i];
        i += 1;
        if c != b'%' {
            out.push(c as char);
            continue;
        }
        if fmt.get(i) == Some(&b'%') {
            out.push('%');
            i += 1;
            continue;
        }
        let mut longs = 0;
        while fmt.get(i) == Some(&b'l') {
            longs += 1;
            i += 1;
        }
        let conv = *fmt.get(i).ok_or(HelperError::BadArg("format ends inside a conversion"))?;
        i += 1;
        let v = *next.next().ok_or(HelperError::BadArg("more conversions than arguments (at most 3)"))?;
        // `%d` without `l` takes an int, as in C.
        let narrow = longs == 0;
        let _ = match conv {
            b'd' | b'i' if narrow => write!(out, "{}", v as i32),
            b'd' | b'i' => write!(out, "{}", v as i64),
            b'u' if narrow => write!(out, "{}", v as u32),
            b'u' => write!(out, "{}", v),
            b'x' if narrow => write!(out, "{:x}", v as u32),
            b'x' => write!(out, "{:x}", v),
            b'X' if narrow => write!(out, "{:X}", v as u32),
            b'X' => write!(out, "{:X}", v),
            b'c' => write!(out, "{}", v as u8 as char),
            b'p' => {
                if matches!(fmt.get(i), Some(b'x' | b'K')) {
                    i += 1;
                }
                write!(out, "0x{:x}", v)
            }
            b's' => {
                let s = m.c_str(v, MAX_STR)?;
                write!(out, "{}", String::from_utf8_lossy(&s))
            }
            _ => return Err(HelperError::BadArg("unsupported conversion in format string")),
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::interp::mem::{addr, Input, TAG_STACK};
    use crate::maps::MapSet;
    use alloc::vec;
    use alloc::vec::Vec;

    fn fmt(f: &[u8], args: &[u64]) -> Result<String, HelperError> {
        let mut stack = vec![0u8; 64];
        stack[..6].copy_from_slice(b"hello\0");
        let maps = MapSet::default();
        let mut res = Vec::new();
        let m = Mem { stack: &mut stack, input: Input::None, maps: &maps, reservations: &mut res, keys: &mut Default::default() };
        format(f, args, &m)
    }

    #[test]
    fn conversions_follow_c() {
        let s = addr(TAG_STACK, 0);
        assert_eq!(fmt(b"%d %u %x %X\0", &[-5i64 as u64, u64::MAX, 255, 255]).unwrap(), "-5 4294967295 ff FF");
        assert_eq!(fmt(b"%lld %llu %lx\0", &[-5i64 as u64, u64::MAX, 1 << 40]).unwrap(), "-5 18446744073709551615 10000000000");
        assert_eq!(fmt(b"%s! %c 100%%\0", &[s, b'x' as u64, 0]).unwrap(), "hello! x 100%");
        assert_eq!(fmt(b"%p %pK\0", &[0x1000, 0x2000]).unwrap(), "0x1000 0x2000");
    }

    #[test]
    fn bad_formats_are_errors() {
        assert!(fmt(b"no terminator", &[]).is_err());
        assert!(fmt(b"%d %d %d %d\0", &[1, 2, 3]).is_err());
        assert!(fmt(b"%q\0", &[1]).is_err());
        assert!(fmt(b"%s\0", &[0x1234]).is_err(), "a %s pointer must point into a region");
    }
}
