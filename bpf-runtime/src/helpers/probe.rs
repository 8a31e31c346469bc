//! Reading memory outside the program's regions, through the embedder's
//! checked copy: `bpf_probe_read_kernel` / `_user` and their `_str` forms
//! (a bad address is a negative errno and a zeroed buffer, never a fault),
//! and `bpf_kallsyms_lookup_name` for symbol addresses.

use alloc::string::String;
use alloc::vec;

use super::{size, Arg, Call, Env, HelperDef, Imp, ProgTypes, Ret, EINVAL, ENOENT, ERRNO_OR_ZERO, MAX_ERRNO};
use crate::interp::HelperError;
use crate::isa::helper as id;
use crate::spec::ProgType;

/// Which address space a probe read targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddrSpace {
    Kernel,
    /// The application's memory.
    User,
}

/// Largest buffer a probe read fills in one call, so a hostile size cannot
/// make the runtime allocate much (the verifier bounds it to 512 MiB).
const MAX_PROBE: usize = 1 << 16;
const STR: Ret = Ret::Integer { min: -MAX_ERRNO, max: i32::MAX as i64 };
const PROBE_ARGS: &[Arg] = &[Arg::UninitMem, Arg::Size, Arg::Anything];

pub(super) const HELPERS: &[HelperDef] = &[
    HelperDef { id: id::PROBE_READ_USER, name: "bpf_probe_read_user", args: PROBE_ARGS, ret: ERRNO_OR_ZERO, progs: ProgTypes::ALL, call: Imp::Mem(|c, a| read(c, a, AddrSpace::User)) },
    HelperDef { id: id::PROBE_READ_KERNEL, name: "bpf_probe_read_kernel", args: PROBE_ARGS, ret: ERRNO_OR_ZERO, progs: ProgTypes::ALL, call: Imp::Mem(|c, a| read(c, a, AddrSpace::Kernel)) },
    HelperDef { id: id::PROBE_READ_USER_STR, name: "bpf_probe_read_user_str", args: PROBE_ARGS, ret: STR, progs: ProgTypes::ALL, call: Imp::Mem(|c, a| read_str(c, a, AddrSpace::User)) },
    HelperDef { id: id::PROBE_READ_KERNEL_STR, name: "bpf_probe_read_kernel_str", args: PROBE_ARGS, ret: STR, progs: ProgTypes::ALL, call: Imp::Mem(|c, a| read_str(c, a, AddrSpace::Kernel)) },
    HelperDef {
        id: id::KALLSYMS_LOOKUP_NAME,
        name: "bpf_kallsyms_lookup_name",
        args: &[Arg::Mem, Arg::Size, Arg::Anything, Arg::U64Out],
        ret: ERRNO_OR_ZERO,
        // Linux offers it to BPF_PROG_TYPE_SYSCALL only.
        progs: ProgTypes::of(&[ProgType::Syscall]),
        call: Imp::Mem(kallsyms),
    },
];

/// The destination buffer `a[0]`/`a[1]`, checked writable before anything
/// is read into it.
fn dest(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<vec::Vec<u8>, HelperError> {
    let len = size(a[1])?;
    if len > MAX_PROBE {
        return Err(HelperError::BadArg("probe read larger than 64 KiB"));
    }
    c.mem.check(a[0], len, true)?;
    Ok(vec![0; len])
}

fn read(c: &mut Call<'_, '_>, a: &[u64; 5], space: AddrSpace) -> Result<u64, HelperError> {
    let mut buf = dest(c, a)?;
    let r = c.env.probe_read(space, a[2], &mut buf);
    if r.is_err() {
        buf.fill(0); // Linux zeroes the buffer on failure.
    }
    c.mem.write(a[0], &buf)?;
    Ok(match r {
        Ok(()) => 0,
        Err(e) => clamp_errno(e) as u64,
    })
}

fn read_str(c: &mut Call<'_, '_>, a: &[u64; 5], space: AddrSpace) -> Result<u64, HelperError> {
    let mut buf = dest(c, a)?;
    let r = c.env.probe_read_str(space, a[2], &mut buf);
    let ret = match r {
        Ok(n) if n <= buf.len() => n as i64,
        // An embedder that claims more than the buffer is treated as failing.
        Ok(_) => EINVAL,
        Err(e) => clamp_errno(e),
    };
    if ret < 0 {
        buf.fill(0);
    }
    c.mem.write(a[0], &buf)?;
    Ok(ret as u64)
}

/// A negative errno in Linux's range, whatever the embedder returned.
fn clamp_errno(e: i64) -> i64 {
    if (-MAX_ERRNO..0).contains(&e) {
        e
    } else {
        super::EFAULT
    }
}

/// [`Env::probe_read_str`]'s default: byte by byte through `probe_read`.
pub(super) fn str_bytewise<E: Env + ?Sized>(env: &mut E, space: AddrSpace, addr: u64, dst: &mut [u8]) -> Result<usize, i64> {
    for (i, d) in dst.iter_mut().enumerate() {
        let mut b = [0u8];
        env.probe_read(space, addr.wrapping_add(i as u64), &mut b)?;
        *d = b[0];
        if b[0] == 0 {
            return Ok(i + 1);
        }
    }
    if let Some(last) = dst.last_mut() {
        *last = 0;
    }
    Ok(dst.len())
}

fn kallsyms(c: &mut Call<'_, '_>, a: &[u64; 5]) -> Result<u64, HelperError> {
    let len = size(a[1])?;
    c.mem.check(a[3], 8, true)?;
    let raw = super::maps::copy_in(c.mem, a[0], len)?;
    let Some(nul) = raw.iter().position(|&b| b == 0) else {
        return Ok(EINVAL as u64); // not NUL-terminated
    };
    if a[2] != 0 {
        return Ok(EINVAL as u64);
    }
    let name = String::from_utf8_lossy(&raw[..nul]).into_owned();
    let (addr, ret) = match c.env.kallsyms_lookup(&name) {
        Some(v) => (v, 0),
        None => (0, ENOENT),
    };
    c.mem.write(a[3], &addr.to_le_bytes())?;
    Ok(ret as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Readable bytes at 0x1000..0x1010 ("user"), nothing elsewhere.
    struct Fake;
    impl Env for Fake {
        fn ktime_ns(&mut self) -> u64 {
            0
        }
        fn trace(&mut self, _: &str) {}
        fn prandom_u32(&mut self) -> u32 {
            0
        }
        fn pid_tgid(&mut self) -> u64 {
            0
        }
        fn comm(&mut self) -> [u8; 16] {
            [0; 16]
        }
        fn probe_read(&mut self, _: AddrSpace, addr: u64, dst: &mut [u8]) -> Result<(), i64> {
            let mem = b"hello\0world.....";
            let off = addr.checked_sub(0x1000).filter(|o| o + dst.len() as u64 <= 16).ok_or(super::super::EFAULT)?;
            dst.copy_from_slice(&mem[off as usize..off as usize + dst.len()]);
            Ok(())
        }
    }

    #[test]
    fn strings_stop_at_nul_or_buffer_end_and_faults_are_errors() {
        let mut b = [0xffu8; 8];
        assert_eq!(str_bytewise(&mut Fake, AddrSpace::User, 0x1000, &mut b), Ok(6));
        assert_eq!(&b[..6], b"hello\0");
        assert_eq!(str_bytewise(&mut Fake, AddrSpace::User, 0x1006, &mut b[..4]), Ok(4));
        assert_eq!(&b[..4], b"wor\0", "truncated and still terminated");
        assert_eq!(str_bytewise(&mut Fake, AddrSpace::User, 0x100c, &mut b), Err(-14), "runs into unmapped memory");
    }
}
