//! Helper calls, checked against the prototypes in [`crate::helpers`]: map
//! pointers of the right kind, keys and values of the map's sizes in
//! initialized memory, memory/size pairs, ring buffer records (acquired by
//! reserve, released by submit/discard), no pointer passed where a number
//! is expected. Afterwards r1-r5 are unreadable and r0 has the return type.

use super::error::{ErrorKind, LeakTarget, VerifierError};
use super::explore::{fail, Env};
use super::mem::{check_object, stack_addr, stack_clobber, stack_readable};
use super::scalar::Scalar;
use super::state::{Callback, Ptr, PtrKind, Reg, Ref, State};
use crate::helpers::{def, Arg, HelperDef, Ret};
use crate::spec::MapType;

/// Largest size a memory argument may have.
const MAX_MEM_ARG: u64 = 1 << 29;

struct Call<'p> {
    pc: usize,
    proto: &'p HelperDef,
}

impl Call<'_> {
    fn err(&self, kind: ErrorKind) -> VerifierError {
        fail(self.pc, kind)
    }

    fn type_err(&self, arg: u8, expected: &'static str, r: &Reg) -> VerifierError {
        if *r == Reg::Uninit {
            return self.err(ErrorKind::UninitRegister { reg: arg });
        }
        self.err(ErrorKind::HelperArgType { helper: self.proto.name, arg, expected, found: r.kind() })
    }

    fn arg_err(&self, arg: u8, why: &'static str) -> VerifierError {
        self.err(ErrorKind::HelperArg { helper: self.proto.name, arg, why })
    }

    /// Checks `size` bytes of memory at the pointer in `arg`, read or
    /// written by the helper.
    fn mem(&self, env: &Env, st: &mut State, arg: u8, size: u64, write: bool) -> Result<(), VerifierError> {
        let r = st.cur().regs[arg as usize];
        let p = match r {
            Reg::Ptr(p) if p.nullable => {
                let helper = if matches!(p.kind, PtrKind::Mem { .. }) { "bpf_ringbuf_reserve" } else { "bpf_map_lookup_elem" };
                return Err(self.err(ErrorKind::MaybeNull { reg: arg, helper }));
            }
            Reg::Ptr(p) if !matches!(p.kind, PtrKind::MapPtr { .. } | PtrKind::Func { .. }) => p,
            _ => return Err(self.type_err(arg, "a pointer to memory (stack, map value or record)", &r)),
        };
        if size == 0 {
            return Ok(());
        }
        match p.kind {
            PtrKind::Stack { frame } => {
                let a = stack_addr(self.pc, arg, &p, 0, size, false)?;
                if write {
                    stack_clobber(st, self.pc, frame, a, size)
                } else {
                    stack_readable(st, self.pc, frame, a, size, Some(arg))
                }
            }
            _ => check_object(env, self.pc, arg, &p, 0, size, write),
        }
    }

    /// The map in `arg`, which must be a map pointer of a kind the helper
    /// works on.
    fn map(&self, env: &Env, st: &State, arg: u8, want: Arg) -> Result<u32, VerifierError> {
        let r = st.cur().regs[arg as usize];
        let Reg::Ptr(Ptr { kind: PtrKind::MapPtr { map }, .. }) = r else {
            return Err(self.type_err(arg, "a map (lddw of a map)", &r));
        };
        let m = &env.maps[map as usize];
        if (want == Arg::Ringbuf) != (m.kind == MapType::Ringbuf) {
            return Err(self.err(ErrorKind::WrongMapType { helper: self.proto.name, map: m.name.clone() }));
        }
        if m.read_only && want == Arg::MapWritable {
            return Err(self.err(ErrorKind::ReadOnlyMap { map: m.name.clone() }));
        }
        Ok(map)
    }
}

impl Call<'_> {
    /// A constant string: a pointer at a constant offset into read-only
    /// global data whose initial bytes hold a NUL after it (Linux
    /// `ARG_PTR_TO_CONST_STR`).
    fn const_str(&self, env: &Env, arg: u8, r: &Reg) -> Result<(), VerifierError> {
        let err = |why| self.err(ErrorKind::ConstStr { helper: self.proto.name, arg, why });
        let Reg::Ptr(p) = r else { return Err(self.type_err(arg, "a pointer to a constant string", r)) };
        let PtrKind::MapValue { map } = p.kind else { return Err(err("it does not point into global data")) };
        if p.nullable {
            return Err(self.err(ErrorKind::MaybeNull { reg: arg, helper: "bpf_map_lookup_elem" }));
        }
        let m = &env.maps[map as usize];
        let (true, Some(data)) = (m.read_only, m.initial.as_deref()) else { return Err(err("the map is writable")) };
        let Some(off) = p.const_off().and_then(|o| usize::try_from(o).ok()) else { return Err(err("the offset is not a constant")) };
        if !data.get(off..).is_some_and(|rest| rest.contains(&0)) {
            return Err(err("no NUL byte ends it inside the map"));
        }
        Ok(())
    }
}

/// Checks and applies a call to helper `helper_id` at `pc`. For a helper
/// that calls a function back, returns what the callback frame needs.
pub fn helper(env: &mut Env, st: &mut State, pc: usize, helper_id: i32) -> Result<Option<Callback>, VerifierError> {
    let Some(proto) = def(helper_id) else {
        return Err(fail(pc, ErrorKind::UnknownHelper { id: helper_id }));
    };
    if !proto.progs.contains(env.prog_type) {
        return Err(fail(pc, ErrorKind::HelperNotAllowed { helper: proto.name, prog: super::mem::prog_name(env) }));
    }
    let c = Call { pc, proto };
    let mut map: Option<u32> = None;
    let mut const_size = 0u64;
    let mut released: Option<u32> = None;
    let mut func: Option<usize> = None;
    let mut args = [Reg::Uninit; 5];
    args.copy_from_slice(&st.cur().regs[1..=5]);
    for (i, arg) in proto.args.iter().enumerate() {
        let regno = i as u8 + 1;
        let r = st.cur().regs[regno as usize];
        match arg {
            Arg::Anything | Arg::Vararg => match r {
                Reg::Scalar(_) => {}
                Reg::Uninit if *arg == Arg::Vararg => {}
                // bpf_trace_printk's `%s` takes a pointer (to the stack or
                // a map value): the helper reads it through the runtime's
                // checked regions, and the number a `%d` of it prints is
                // the runtime's region address, no kernel address (Linux
                // lets privileged programs pass pointers here too).
                Reg::Ptr(_) if *arg == Arg::Vararg => {}
                Reg::Ptr(_) => return Err(c.err(ErrorKind::PointerLeak { reg: regno, to: LeakTarget::HelperArg })),
                Reg::Uninit => return Err(c.err(ErrorKind::UninitRegister { reg: regno })),
            },
            Arg::Map | Arg::MapWritable | Arg::Ringbuf => map = Some(c.map(env, st, regno, *arg)?),
            Arg::MapKey | Arg::MapValue => {
                let m = &env.maps[map.expect("prototypes put the map first") as usize];
                let size = if *arg == Arg::MapKey { m.key_size } else { m.value_size };
                c.mem(env, st, regno, size as u64, false)?;
            }
            Arg::Mem | Arg::UninitMem | Arg::MemOrNull => {
                let size_reg = regno + 1;
                let s = match st.cur().regs[size_reg as usize] {
                    Reg::Scalar(s) => s,
                    other => return Err(c.type_err(size_reg, "a size (a bounded number)", &other)),
                };
                if s.umax > MAX_MEM_ARG {
                    return Err(c.arg_err(size_reg, "the size is not bounded; check it against a limit first"));
                }
                let null = matches!(r, Reg::Scalar(z) if z.as_const() == Some(0));
                if *arg == Arg::MemOrNull && null {
                    if s.umax != 0 {
                        return Err(c.arg_err(size_reg, "the pointer is NULL, so the size must be 0"));
                    }
                } else {
                    c.mem(env, st, regno, s.umax, *arg == Arg::UninitMem)?;
                }
            }
            Arg::Func => match r {
                Reg::Ptr(Ptr { kind: PtrKind::Func { entry }, .. }) => func = Some(entry as usize),
                _ => return Err(c.type_err(regno, "a static function (the callback)", &r)),
            },
            Arg::StackOrNull => match r {
                Reg::Ptr(p) if matches!(p.kind, PtrKind::Stack { .. }) => {}
                Reg::Scalar(z) if z.as_const() == Some(0) => {}
                _ => return Err(c.type_err(regno, "a pointer to the stack, or NULL", &r)),
            },
            Arg::ConstStr => c.const_str(env, regno, &r)?,
            Arg::Size => {} // checked with the memory argument before it
            Arg::ConstSize => match r {
                Reg::Scalar(s) if s.as_const().is_some_and(|v| v <= MAX_MEM_ARG) => const_size = s.umin,
                Reg::Scalar(_) => return Err(c.arg_err(regno, "the size must be a constant")),
                _ => return Err(c.type_err(regno, "a constant size", &r)),
            },
            Arg::RingbufRecord => match r {
                Reg::Ptr(p) if matches!(p.kind, PtrKind::Mem { .. }) && p.nullable => {
                    return Err(c.err(ErrorKind::MaybeNull { reg: regno, helper: "bpf_ringbuf_reserve" }));
                }
                Reg::Ptr(p) if matches!(p.kind, PtrKind::Mem { .. }) && p.ref_id != 0 => {
                    if p.const_off() != Some(0) {
                        return Err(c.arg_err(regno, "pass the pointer bpf_ringbuf_reserve returned, without an offset"));
                    }
                    released = Some(p.ref_id);
                }
                _ => return Err(c.type_err(regno, "a record from bpf_ringbuf_reserve", &r)),
            },
            Arg::Ctx => match r {
                Reg::Ptr(p) if p.kind == PtrKind::Ctx && p.const_off() == Some(0) => {}
                _ => return Err(c.type_err(regno, "the context pointer (r1 at entry)", &r)),
            },
            Arg::U64Out => c.mem(env, st, regno, 8, true)?,
        }
    }
    if let Some(rid) = released {
        st.refs.retain(|r| r.id != rid);
        // Copies of the released record are dangling now.
        st.for_each_reg(|r| {
            if matches!(r, Reg::Ptr(p) if p.ref_id == rid) {
                *r = Reg::Scalar(Scalar::UNKNOWN);
            }
        });
    }
    let r0 = match proto.ret {
        Ret::Integer { min, max } => Reg::Scalar(Scalar::srange(min, max)),
        Ret::Void => Reg::Uninit,
        Ret::MapValueOrNull => {
            let mut p = Ptr::new(PtrKind::MapValue { map: map.expect("lookup takes a map") }, 0);
            p.nullable = true;
            p.id = env.fresh_id();
            Reg::Ptr(p)
        }
        Ret::RingbufRecordOrNull => {
            let mut p = Ptr::new(PtrKind::Mem { size: const_size as u32 }, 0);
            p.nullable = true;
            p.id = env.fresh_id();
            p.ref_id = p.id;
            st.refs.push(Ref { id: p.id, acquired_at: pc });
            Reg::Ptr(p)
        }
    };
    let f = st.cur_mut();
    f.regs[1..=5].fill(Reg::Uninit);
    f.regs[0] = r0;
    Ok(func.map(|entry| Callback { helper: helper_id, call_pc: pc, entry, args }))
}
