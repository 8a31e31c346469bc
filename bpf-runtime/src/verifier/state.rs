//! The abstract machine state the verifier tracks along a path: register
//! types with scalar ranges or pointer offsets, the stack byte by byte
//! (written or not, spilled registers), call frames and the ring buffer
//! records not yet released. `subsumed_by` decides when a state adds nothing
//! over one already verified, for pruning and for loop detection.

use alloc::vec;
use alloc::vec::Vec;

use super::error::RegKind;
use super::scalar::Scalar;
use super::liveness::Live;
use super::tnum::Tnum;
use crate::isa::NUM_REGS;

/// What a pointer points to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PtrKind {
    Ctx,
    /// The stack of call frame `frame` (0 = the program's own).
    Stack { frame: u8 },
    /// A map itself, for helpers (`lddw` with `PSEUDO_MAP_FD`).
    MapPtr { map: u32 },
    MapValue { map: u32 },
    /// A ring buffer record of `size` bytes.
    Mem { size: u32 },
    /// A static function's address (`lddw` with `PSEUDO_FUNC`), for a
    /// helper that calls it back; not memory.
    Func { entry: u32 },
    /// The key of the element a `bpf_for_each_map_elem` callback is
    /// called for: read-only, the map's `key_size` bytes.
    MapKey { map: u32 },
}

/// A pointer with an offset range, possibly NULL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ptr {
    pub kind: PtrKind,
    /// Offset from the start of the object (from fp for the stack).
    pub off_min: i64,
    pub off_max: i64,
    /// Known bits of the offset (as a 64-bit two's complement number), for
    /// alignment proofs of variable offsets.
    pub var: Tnum,
    /// May be NULL; all copies of one helper result share `id`, so one NULL
    /// check settles them all.
    pub nullable: bool,
    pub id: u32,
    /// For ring buffer records: the reference that submit/discard releases.
    pub ref_id: u32,
}

impl Ptr {
    pub fn new(kind: PtrKind, off: i64) -> Ptr {
        Ptr { kind, off_min: off, off_max: off, var: Tnum::konst(off as u64), nullable: false, id: 0, ref_id: 0 }
    }

    pub fn const_off(&self) -> Option<i64> {
        (self.off_min == self.off_max).then_some(self.off_min)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reg {
    Uninit,
    Scalar(Scalar),
    Ptr(Ptr),
}

impl Reg {
    pub fn kind(&self) -> RegKind {
        match self {
            Reg::Uninit => RegKind::Uninit,
            Reg::Scalar(_) => RegKind::Scalar,
            Reg::Ptr(p) => match (p.kind, p.nullable) {
                (PtrKind::Ctx, _) => RegKind::Ctx,
                (PtrKind::Stack { .. }, _) => RegKind::Stack,
                (PtrKind::MapPtr { .. }, _) => RegKind::MapPtr,
                (PtrKind::MapValue { .. }, false) => RegKind::MapValue,
                (PtrKind::MapValue { .. }, true) => RegKind::MapValueOrNull,
                (PtrKind::Mem { .. }, false) => RegKind::RingbufMem,
                (PtrKind::Mem { .. }, true) => RegKind::RingbufMemOrNull,
                (PtrKind::Func { .. }, _) => RegKind::Func,
                (PtrKind::MapKey { .. }, _) => RegKind::MapKey,
            },
        }
    }
}

/// Eight stack bytes: which are written, and the register spilled there if
/// all eight were written at once by an aligned 8-byte store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Bit `j` set: byte `j` of the slot (lowest address first) is written.
    pub init: u8,
    pub spill: Option<Reg>,
}

pub const EMPTY_SLOT: Slot = Slot { init: 0, spill: None };

/// A frame that runs a callback for a helper (`bpf_loop`,
/// `bpf_for_each_map_elem`): its `exit` returns into the helper, which may
/// call it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Callback {
    pub helper: i32,
    /// The helper call, and the callback's first instruction.
    pub call_pc: usize,
    pub entry: usize,
    /// The helper's arguments the callback gets again on each call.
    pub args: [Reg; 5],
}

/// One bpf-to-bpf call frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub regs: [Reg; NUM_REGS],
    /// Slot `i` holds bytes fp-8(i+1) .. fp-8i; grown on demand, so its
    /// length is how deep the frame has written.
    pub stack: Vec<Slot>,
    /// Where `exit` returns to in the caller (unused for frame 0).
    pub ret_pc: usize,
    /// The function's first instruction.
    pub func: usize,
    pub callback: Option<Callback>,
}

impl Frame {
    pub fn new(ret_pc: usize, depth: u8, func: usize) -> Frame {
        let mut regs = [Reg::Uninit; NUM_REGS];
        regs[10] = Reg::Ptr(Ptr::new(PtrKind::Stack { frame: depth }, 0));
        Frame { regs, stack: Vec::new(), ret_pc, func, callback: None }
    }

    pub fn slot(&self, i: usize) -> Slot {
        self.stack.get(i).copied().unwrap_or(EMPTY_SLOT)
    }

    pub fn slot_mut(&mut self, i: usize) -> &mut Slot {
        if self.stack.len() <= i {
            self.stack.resize(i + 1, EMPTY_SLOT);
        }
        &mut self.stack[i]
    }
}

/// A ring buffer record that must be submitted or discarded before exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ref {
    pub id: u32,
    pub acquired_at: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub frames: Vec<Frame>,
    pub refs: Vec<Ref>,
}

impl State {
    /// Program entry: r1 = ctx, r10 = fp.
    pub fn entry() -> State {
        let mut f = Frame::new(0, 0, 0);
        f.regs[1] = Reg::Ptr(Ptr::new(PtrKind::Ctx, 0));
        State { frames: vec![f], refs: Vec::new() }
    }

    pub fn cur(&self) -> &Frame {
        self.frames.last().expect("a state always has a frame")
    }

    pub fn cur_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("a state always has a frame")
    }

    pub fn depth(&self) -> u8 {
        (self.frames.len() - 1) as u8
    }

    /// Applies `f` to every register and spilled register in every frame.
    pub fn for_each_reg(&mut self, mut f: impl FnMut(&mut Reg)) {
        for fr in &mut self.frames {
            fr.regs.iter_mut().for_each(&mut f);
            for s in &mut fr.stack {
                if let Some(r) = &mut s.spill {
                    f(r);
                }
            }
        }
    }

    /// Whether everything `self` allows is already allowed by `old`, so that
    /// `old`'s verification covers `self`'s. Pointer ids may differ between
    /// paths; they must correspond one to one.
    pub fn subsumed_by(&self, old: &State) -> bool {
        if self.frames.len() != old.frames.len() || self.refs.len() != old.refs.len() {
            return false;
        }
        let mut ids = IdMap::default();
        for (c, o) in self.frames.iter().zip(&old.frames) {
            if c.ret_pc != o.ret_pc || c.callback != o.callback {
                return false;
            }
            if !c.regs.iter().zip(&o.regs).all(|(c, o)| reg_within(c, o, &mut ids)) {
                return false;
            }
            for i in 0..o.stack.len() {
                if !slot_within(&c.slot(i), &o.slot(i), &mut ids) {
                    return false;
                }
            }
        }
        // Every outstanding reference of `self` must be one of `old`'s.
        self.refs.iter().all(|r| old.refs.iter().any(|o| ids.get(o.id) == Some(r.id)))
    }
}

impl State {
    /// Like [`State::subsumed_by`], but only for what may still matter:
    /// `live[k]` says which registers and slots frame `k` may still read
    /// and which of them must keep their ranges (see [`super::liveness`]).
    /// Dead locations may hold anything; live scalars that are not precise
    /// any number.
    pub fn subsumed_by_live(&self, old: &State, live: &[Live]) -> bool {
        if self.frames.len() != old.frames.len() || self.refs.len() != old.refs.len() || live.len() != self.frames.len() {
            return false;
        }
        let mut ids = IdMap::default();
        for ((c, o), l) in self.frames.iter().zip(&old.frames).zip(live) {
            if c.ret_pc != o.ret_pc || c.callback != o.callback {
                return false;
            }
            for (r, (cr, or)) in c.regs.iter().zip(&o.regs).enumerate() {
                if l.regs & (1 << r) == 0 {
                    continue;
                }
                let precise = l.sens & (1 << r) != 0;
                if !precise && matches!((cr, or), (Reg::Scalar(_), Reg::Scalar(_))) {
                    continue;
                }
                if !reg_within(cr, or, &mut ids) {
                    return false;
                }
            }
            for i in 0..o.stack.len() {
                let bit = 1u64 << i.min(63);
                if l.slots & bit == 0 {
                    continue;
                }
                let (cs, os) = (c.slot(i), o.slot(i));
                if l.sens_slots & bit == 0 {
                    if cs.init & os.init != os.init {
                        return false;
                    }
                    let scalar_or_data = |s: &Slot| matches!(s.spill, None | Some(Reg::Scalar(_)));
                    if scalar_or_data(&cs) && scalar_or_data(&os) {
                        continue;
                    }
                }
                if !slot_within(&cs, &os, &mut ids) {
                    return false;
                }
            }
        }
        self.refs.iter().all(|r| old.refs.iter().any(|o| ids.get(o.id) == Some(r.id)))
    }
}

/// Old-path id -> current-path id, kept one to one.
#[derive(Default)]
struct IdMap(Vec<(u32, u32)>);

impl IdMap {
    fn check(&mut self, old: u32, cur: u32) -> bool {
        if old == 0 || cur == 0 {
            return old == cur;
        }
        for &(o, c) in &self.0 {
            if o == old || c == cur {
                return o == old && c == cur;
            }
        }
        self.0.push((old, cur));
        true
    }

    fn get(&self, old: u32) -> Option<u32> {
        self.0.iter().find(|(o, _)| *o == old).map(|(_, c)| *c)
    }
}

fn reg_within(cur: &Reg, old: &Reg, ids: &mut IdMap) -> bool {
    match (cur, old) {
        // `old` never read it, or verification would have failed there.
        (_, Reg::Uninit) => true,
        (Reg::Scalar(c), Reg::Scalar(o)) => o.contains(c),
        (Reg::Ptr(c), Reg::Ptr(o)) => {
            c.kind == o.kind
                && c.nullable == o.nullable
                && o.off_min <= c.off_min
                && c.off_max <= o.off_max
                && o.var.contains(&c.var)
                && ids.check(o.id, c.id)
                && ids.check(o.ref_id, c.ref_id)
        }
        _ => false,
    }
}

fn slot_within(cur: &Slot, old: &Slot, ids: &mut IdMap) -> bool {
    // Bytes `old` had written must be written in `cur` too.
    if cur.init & old.init != old.init {
        return false;
    }
    match (&cur.spill, &old.spill) {
        (_, None) if old.init == 0 => true,
        // `old` reads these bytes as plain data: `cur` must not hold a pointer.
        (Some(Reg::Ptr(_)), None) => false,
        (_, None) => true,
        (Some(c), Some(o)) => reg_within(c, o, ids),
        (None, Some(o)) => matches!(o, Reg::Scalar(s) if *s == Scalar::UNKNOWN),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrower_scalars_are_subsumed() {
        let mut a = State::entry();
        let mut b = State::entry();
        a.cur_mut().regs[2] = Reg::Scalar(Scalar::urange(0, 10));
        b.cur_mut().regs[2] = Reg::Scalar(Scalar::urange(2, 5));
        assert!(b.subsumed_by(&a));
        assert!(!a.subsumed_by(&b));
    }

    #[test]
    fn uninit_in_old_accepts_anything() {
        let old = State::entry();
        let mut cur = State::entry();
        cur.cur_mut().regs[3] = Reg::Scalar(Scalar::UNKNOWN);
        assert!(cur.subsumed_by(&old));
        assert!(!old.subsumed_by(&cur));
    }

    #[test]
    fn null_ids_must_correspond() {
        let p = |id| {
            let mut p = Ptr::new(PtrKind::MapValue { map: 0 }, 0);
            p.nullable = true;
            p.id = id;
            Reg::Ptr(p)
        };
        let mut old = State::entry();
        old.cur_mut().regs[6] = p(1);
        old.cur_mut().regs[7] = p(2);
        let mut cur = State::entry();
        cur.cur_mut().regs[6] = p(5);
        cur.cur_mut().regs[7] = p(5);
        assert!(!cur.subsumed_by(&old), "one check would wrongly settle both");
        cur.cur_mut().regs[7] = p(6);
        assert!(cur.subsumed_by(&old));
    }

    #[test]
    fn spilled_pointer_is_not_plain_data() {
        let mut old = State::entry();
        old.cur_mut().slot_mut(0).init = 0xff;
        let mut cur = State::entry();
        *cur.cur_mut().slot_mut(0) = Slot { init: 0xff, spill: Some(Reg::Ptr(Ptr::new(PtrKind::Ctx, 0))) };
        assert!(!cur.subsumed_by(&old));
    }
}
