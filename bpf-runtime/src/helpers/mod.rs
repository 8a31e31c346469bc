//! Linux helper functions, by their Linux IDs ([`crate::isa::helper`]).
//!
//! Each helper is one [`HelperDef`]: its prototype (argument kinds for the
//! verifier), the range of its return value, the program types that may
//! call it, and its implementation. The definitions live next to their code
//! in the submodules, grouped by subject; [`def`] finds one by ID for the
//! loader, the verifier, the interpreter and the JIT alike.
//!
//! What a helper needs from its surroundings (time, the current task,
//! kernel and user memory, symbols, output) comes from the embedder's
//! [`Env`]: the kernel implements it, host tests supply their own. Every
//! helper checks its pointers through [`Mem`] and its sizes against the map,
//! so a wrong argument is an error value, never an out-of-bounds access.

pub mod callback;
mod maps;
mod printk;
mod probe;
mod ringbuf;
mod strings;
mod task;

use crate::interp::{HelperError, Helpers, Mem};
use crate::spec::ProgType;

pub use probe::AddrSpace;

/// `-EFAULT`, `-EINVAL`, `-ENOENT`: what helpers return to programs.
pub const EFAULT: i64 = -14;
pub const EINVAL: i64 = -22;
pub const ENOENT: i64 = -2;
/// `-E2BIG`, `-EOPNOTSUPP`.
pub const E2BIG: i64 = -7;
pub const EOPNOTSUPP: i64 = -95;
/// Largest errno magnitude (Linux's `MAX_ERRNO`).
pub const MAX_ERRNO: i64 = 4095;

/// What the embedder provides to helpers. One `Env` serves one run at a
/// time (`&mut`); a kernel running programs on several CPUs gives each its
/// own.
pub trait Env {
    /// `bpf_ktime_get_ns`: monotonic nanoseconds.
    fn ktime_ns(&mut self) -> u64;
    /// `bpf_trace_printk`: one formatted line (no trailing newline handling
    /// beyond what the program wrote).
    fn trace(&mut self, line: &str);
    /// `bpf_get_prandom_u32`.
    fn prandom_u32(&mut self) -> u32;
    /// `bpf_get_smp_processor_id`.
    fn cpu_id(&mut self) -> u32 {
        0
    }
    /// `bpf_get_current_pid_tgid`: `tgid << 32 | pid`.
    fn pid_tgid(&mut self) -> u64;
    /// `bpf_get_current_comm`: the task name, NUL-padded.
    fn comm(&mut self) -> [u8; 16];
    /// `bpf_get_func_ip`: address of the traced function (0 if none).
    fn func_ip(&mut self) -> u64 {
        0
    }
    /// `bpf_kallsyms_lookup_name`: a kernel or app symbol's address.
    fn kallsyms_lookup(&mut self, name: &str) -> Option<u64> {
        let _ = name;
        None
    }
    /// `bpf_probe_read_kernel` / `_user`: copies `dst.len()` bytes from
    /// `addr` in `space`, or returns a negative errno (`-EFAULT` for an
    /// address that is not mapped). Must never fault: the embedder checks
    /// the address (page tables, the app's mappings) or uses a copy routine
    /// that recovers from faults. The default has no memory to read.
    fn probe_read(&mut self, space: AddrSpace, addr: u64, dst: &mut [u8]) -> Result<(), i64> {
        let _ = (space, addr, dst);
        Err(EFAULT)
    }
    /// The `_str` forms: copies bytes up to and including a NUL, at most
    /// `dst.len()` (the last byte is then forced to NUL), and returns the
    /// number copied including the NUL. The default reads through
    /// [`Env::probe_read`] one byte at a time, so a string that ends just
    /// before an unmapped page is read correctly.
    fn probe_read_str(&mut self, space: AddrSpace, addr: u64, dst: &mut [u8]) -> Result<usize, i64> {
        probe::str_bytewise(self, space, addr, dst)
    }
    /// A ring buffer got a record (`map` is its index in the object); the
    /// kernel wakes its consumer. Not called with `BPF_RB_NO_WAKEUP`.
    fn ringbuf_wakeup(&mut self, map: usize) {
        let _ = map;
    }
    /// `bpf_ktime_get_boot_ns`: nanoseconds since boot, suspend included.
    /// The default is [`Env::ktime_ns`] (a unikernel does not suspend).
    fn ktime_boot_ns(&mut self) -> u64 {
        self.ktime_ns()
    }
    /// `bpf_get_func_arg`: argument `n` of the traced function (fentry,
    /// fexit), or a negative errno (`-EINVAL` past the last one). The
    /// default knows no arguments.
    fn func_arg(&mut self, n: u32) -> Result<u64, i64> {
        let _ = n;
        Err(EOPNOTSUPP)
    }
    /// `bpf_get_func_ret`: the traced function's return value (fexit).
    fn func_ret(&mut self) -> Result<u64, i64> {
        Err(EOPNOTSUPP)
    }
    /// `bpf_get_func_arg_cnt`: how many arguments the traced function has.
    fn func_arg_cnt(&mut self) -> u64 {
        0
    }
}

/// The kind of value a helper argument must be (a subset of Linux's
/// `enum bpf_arg_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// Any initialized scalar.
    Anything,
    /// A scalar or nothing: `bpf_printk` passes only as many numbers as its
    /// format uses.
    Vararg,
    /// A hash or array map (`lddw` of a map).
    Map,
    /// A hash or array map the program may change (not `.rodata`).
    MapWritable,
    /// A ring buffer map.
    Ringbuf,
    /// Pointer to `key_size` readable bytes (stack or map value).
    MapKey,
    /// Pointer to `value_size` readable bytes.
    MapValue,
    /// Pointer to readable memory whose size is the next argument.
    Mem,
    /// Pointer to writable memory whose size is the next argument; the
    /// helper initializes it.
    UninitMem,
    /// A size for the preceding memory argument: a scalar with known bounds.
    Size,
    /// A size that must be a known constant (`bpf_ringbuf_reserve`).
    ConstSize,
    /// The pointer returned by `bpf_ringbuf_reserve`, not NULL.
    RingbufRecord,
    /// The program's context pointer.
    Ctx,
    /// Pointer to 8 writable bytes.
    U64Out,
    /// A static function's address (`lddw` with `PSEUDO_FUNC`), which the
    /// helper calls back.
    Func,
    /// A pointer into the stack, or NULL: handed to the callback as is.
    StackOrNull,
    /// A NUL-terminated string in read-only global data (`.rodata`), at a
    /// constant offset.
    ConstStr,
    /// Like [`Arg::Mem`], or NULL when the size is 0.
    MemOrNull,
}

/// What a helper returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    /// A number in `min..=max` (signed). The runtime enforces the range, so
    /// the verifier may rely on it whatever the embedder's [`Env`] does.
    Integer { min: i64, max: i64 },
    /// Pointer to a value of the map in arg 1, or NULL.
    MapValueOrNull,
    /// Pointer to a ring-buffer record of arg 2's size, or NULL.
    RingbufRecordOrNull,
    /// Nothing (r0 is undefined afterwards).
    Void,
}

/// Any 64-bit number.
pub const ANY: Ret = Ret::Integer { min: i64::MIN, max: i64::MAX };
/// 0 or a negative errno.
pub const ERRNO_OR_ZERO: Ret = Ret::Integer { min: -MAX_ERRNO, max: 0 };

/// A set of program types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgTypes(u8);

impl ProgTypes {
    pub const ALL: ProgTypes = ProgTypes(u8::MAX);

    pub const fn of(types: &[ProgType]) -> ProgTypes {
        let mut bits = 0u8;
        let mut i = 0;
        while i < types.len() {
            bits |= 1 << types[i] as u8;
            i += 1;
        }
        ProgTypes(bits)
    }

    pub const fn contains(self, t: ProgType) -> bool {
        self.0 & (1 << t as u8) != 0
    }
}

/// What an implementation gets: the run's memory and the embedder.
pub struct Call<'c, 'm> {
    pub mem: &'c mut Mem<'m>,
    pub env: &'c mut dyn Env,
}

/// A helper's implementation: `r1..r5` in, `r0` out.
pub type HelperFn = fn(&mut Call<'_, '_>, &[u64; 5]) -> Result<u64, HelperError>;

/// A helper that only asks the embedder for a number.
pub type EnvFn = fn(&mut dyn Env) -> u64;

/// How a helper is implemented.
#[derive(Clone, Copy)]
pub enum Imp {
    /// With the arguments and the run's memory; may fail.
    Mem(HelperFn),
    /// A question to the embedder that reads no argument or memory and
    /// cannot fail (`bpf_get_func_ip`, `bpf_ktime_get_ns`, ...): the JIT's
    /// shim calls it without building a [`Call`] or an argument array, a
    /// third of a hash counter's run before.
    Env(EnvFn),
}

/// One helper, completely.
#[derive(Clone, Copy)]
pub struct HelperDef {
    pub id: i32,
    pub name: &'static str,
    pub args: &'static [Arg],
    pub ret: Ret,
    /// Program types that may call it (the verifier refuses others).
    pub progs: ProgTypes,
    pub call: Imp,
}

impl HelperDef {
    /// `v` if it is in the declared return range, else the error that
    /// keeps the verifier's assumption about r0 true whatever the
    /// embedder's [`Env`] returned.
    #[inline(always)]
    pub(crate) fn checked(&self, v: u64) -> Result<u64, HelperError> {
        if let Ret::Integer { min, max } = self.ret {
            if !(min..=max).contains(&(v as i64)) {
                return Err(HelperError::BadReturn(self.name));
            }
        }
        Ok(v)
    }
}

impl core::fmt::Debug for HelperDef {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} ({})", self.name, self.id)
    }
}

/// The helpers, by subject; each group lists its own definitions.
const GROUPS: &[&[HelperDef]] = &[maps::HELPERS, ringbuf::HELPERS, task::HELPERS, probe::HELPERS, printk::HELPERS, strings::HELPERS, callback::HELPERS];

/// Helper IDs below this are looked up in a table.
const MAX_ID: usize = 256;

const fn index() -> [Option<&'static HelperDef>; MAX_ID] {
    let mut t = [None; MAX_ID];
    let mut g = 0;
    while g < GROUPS.len() {
        let group: &'static [HelperDef] = GROUPS[g];
        let mut i = 0;
        while i < group.len() {
            let d = &group[i];
            assert!(d.id > 0 && (d.id as usize) < MAX_ID && t[d.id as usize].is_none(), "helper IDs are unique and small");
            t[d.id as usize] = Some(d);
            i += 1;
        }
        g += 1;
    }
    t
}

static BY_ID: [Option<&HelperDef>; MAX_ID] = index();

/// The definition of helper `id`, or `None` if this runtime does not provide
/// it (the loader rejects such programs).
pub fn def(id: i32) -> Option<&'static HelperDef> {
    BY_ID.get(usize::try_from(id).ok()?).copied().flatten()
}

/// Same as [`def`], under the name the loader and verifier have used.
pub fn proto(id: i32) -> Option<&'static HelperDef> {
    def(id)
}

/// Every helper this runtime provides, by ID.
pub fn all() -> impl Iterator<Item = &'static HelperDef> {
    BY_ID.iter().flatten().copied()
}

/// The Linux helpers, over an embedder's [`Env`].
pub struct LinuxHelpers<'e> {
    pub env: &'e mut dyn Env,
}

impl LinuxHelpers<'_> {
    /// Runs `d`, enforcing its declared return range.
    pub fn call_def(&mut self, d: &HelperDef, a: &[u64; 5], m: &mut Mem<'_>) -> Result<u64, HelperError> {
        Self::run_def(self.env, d, a, m)
    }

    /// [`LinuxHelpers::call_def`] over `env`.
    #[inline]
    pub(crate) fn run_def(env: &mut dyn Env, d: &HelperDef, a: &[u64; 5], m: &mut Mem<'_>) -> Result<u64, HelperError> {
        let v = match d.call {
            Imp::Mem(f) => f(&mut Call { mem: m, env }, a)?,
            Imp::Env(f) => f(env),
        };
        d.checked(v)
    }
}

impl Helpers for LinuxHelpers<'_> {
    #[inline]
    fn call(&mut self, id: i32, a: &[u64; 5], m: &mut Mem<'_>) -> Result<u64, HelperError> {
        match def(id) {
            Some(d) => self.call_def(d, a, m),
            None => Err(HelperError::Unknown),
        }
    }

    fn linux_maps(&self) -> bool {
        true
    }

    fn linux_env(&mut self) -> Option<&mut dyn Env> {
        Some(&mut *self.env)
    }
}

pub(crate) use maps::{lookup_fast, lookup_in_place};

/// An argument as a byte count (a size the verifier bounded, or garbage
/// from an unverified program, which the memory check then refuses).
fn size(v: u64) -> Result<usize, HelperError> {
    usize::try_from(v).map_err(|_| HelperError::BadArg("size"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_finds_every_group_member() {
        let n: usize = GROUPS.iter().map(|g| g.len()).sum();
        assert_eq!(all().count(), n);
        for d in all() {
            assert_eq!(def(d.id).unwrap().name, d.name);
        }
        assert!(def(0).is_none() && def(-1).is_none() && def(4242).is_none());
    }
}
