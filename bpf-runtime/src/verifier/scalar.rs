//! The abstract domain for scalars: a value lies in an unsigned range, in a
//! signed range and in a [`Tnum`] (known bits) at once, as in the Linux
//! verifier; [`Scalar::synced`] lets each tighten the others. Every
//! operation here over-approximates the concrete one in `interp` (RFC 9669
//! semantics), which is what makes bounds proofs built on it sound.

use super::tnum::Tnum;
use crate::isa::*;

/// A set of 64-bit values: all `v` with `umin <= v <= umax` (unsigned) and
/// `smin <= v as i64 <= smax`, and `var.contains_value(v)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scalar {
    pub umin: u64,
    pub umax: u64,
    pub smin: i64,
    pub smax: i64,
    pub var: Tnum,
}

const U32: u64 = u32::MAX as u64;

impl Scalar {
    pub const UNKNOWN: Scalar = Scalar { umin: 0, umax: u64::MAX, smin: i64::MIN, smax: i64::MAX, var: Tnum::UNKNOWN };

    pub const fn konst(v: u64) -> Scalar {
        Scalar { umin: v, umax: v, smin: v as i64, smax: v as i64, var: Tnum::konst(v) }
    }

    /// The values of tnum `t`.
    pub fn of_tnum(t: Tnum) -> Scalar {
        Scalar { var: t, ..Scalar::UNKNOWN }.synced().unwrap_or(Scalar::UNKNOWN)
    }

    /// `self` restricted to the members of `t` (`self` if none are left,
    /// which sound callers never see).
    pub fn with_tnum(self, t: Tnum) -> Scalar {
        match self.var.intersect(&t) {
            Some(var) => Scalar { var, ..self }.synced().unwrap_or(self),
            None => self,
        }
    }

    /// The values `lo..=hi` (unsigned); `lo <= hi` is the caller's promise.
    pub fn urange(lo: u64, hi: u64) -> Scalar {
        Scalar { umin: lo, umax: hi, ..Scalar::UNKNOWN }.synced().unwrap_or(Scalar::UNKNOWN)
    }

    pub fn srange(lo: i64, hi: i64) -> Scalar {
        Scalar { smin: lo, smax: hi, ..Scalar::UNKNOWN }.synced().unwrap_or(Scalar::UNKNOWN)
    }

    /// Any value of `bytes` bytes, zero-extended.
    pub fn of_width(bytes: usize) -> Scalar {
        if bytes >= 8 {
            Scalar::UNKNOWN
        } else {
            Scalar::urange(0, (1u64 << (bytes * 8)) - 1)
        }
    }

    pub fn as_const(&self) -> Option<u64> {
        (self.umin == self.umax).then_some(self.umin)
    }

    /// Whether every value of `other` is in `self`.
    pub fn contains(&self, other: &Scalar) -> bool {
        self.umin <= other.umin
            && other.umax <= self.umax
            && self.smin <= other.smin
            && other.smax <= self.smax
            && self.var.contains(&other.var)
    }

    /// Tightens the signed bounds from the unsigned ones and back; `None`
    /// when no value satisfies both (an infeasible branch).
    pub fn synced(self) -> Option<Scalar> {
        let mut s = self;
        for _ in 0..2 {
            if s.umin > s.umax || s.smin > s.smax {
                return None;
            }
            // Known bits bound the value both ways.
            s.umin = s.umin.max(s.var.umin());
            s.umax = s.umax.min(s.var.umax());
            s.smin = s.smin.max(s.var.smin());
            s.smax = s.smax.min(s.var.smax());
            if s.umin > s.umax || s.smin > s.smax {
                return None;
            }
            // A signed range on one side of zero is an ordered unsigned range.
            if s.smin >= 0 || s.smax < 0 {
                s.umin = s.umin.max(s.smin as u64);
                s.umax = s.umax.min(s.smax as u64);
            }
            if s.umin > s.umax {
                return None;
            }
            // An unsigned range not crossing 2^63 is an ordered signed range.
            if (s.umin as i64) <= (s.umax as i64) {
                s.smin = s.smin.max(s.umin as i64);
                s.smax = s.smax.min(s.umax as i64);
            }
            // And a range fixes the bits its ends share.
            s.var = s.var.intersect(&Tnum::range(s.umin, s.umax))?;
        }
        (s.umin <= s.umax && s.smin <= s.smax).then_some(s)
    }

    /// Both sets' common values.
    pub fn meet(&self, o: &Scalar) -> Option<Scalar> {
        let var = self.var.intersect(&o.var)?;
        Scalar { umin: self.umin.max(o.umin), umax: self.umax.min(o.umax), smin: self.smin.max(o.smin), smax: self.smax.min(o.smax), var }
            .synced()
    }

    /// The low 32 bits, zero-extended.
    pub fn trunc32(&self) -> Scalar {
        if self.umax <= U32 {
            *self
        } else {
            Scalar::of_tnum(self.var.cast(4))
        }
    }

    fn fits32(&self) -> bool {
        self.umax <= U32
    }
}

/// Highest value with no bit above the highest set bit of `m`.
fn fill_bits(m: u64) -> u64 {
    if m == 0 {
        0
    } else {
        u64::MAX >> m.leading_zeros()
    }
}

/// The concrete ALU operation as RFC 9669 defines it (masked shifts,
/// division by zero gives 0, modulo by zero leaves the dividend).
pub fn eval(op: u8, is64: bool, off: i16, a: u64, b: u64) -> Option<u64> {
    let (a, b) = if is64 { (a, b) } else { (a & U32, b & U32) };
    let mask = if is64 { 63 } else { 31 };
    let r = match op {
        ALU_ADD => a.wrapping_add(b),
        ALU_SUB => a.wrapping_sub(b),
        ALU_MUL => a.wrapping_mul(b),
        ALU_DIV if off == 0 => a.checked_div(b).unwrap_or(0),
        ALU_MOD if off == 0 => a.checked_rem(b).unwrap_or(a),
        ALU_DIV | ALU_MOD if off == 1 => {
            let (x, y) = if is64 { (a as i64, b as i64) } else { (a as u32 as i32 as i64, b as u32 as i32 as i64) };
            let r = match (op, y) {
                (ALU_DIV, 0) => 0,
                (ALU_MOD, 0) => x,
                (ALU_DIV, _) if is64 => x.wrapping_div(y),
                (ALU_DIV, _) => (x as i32).wrapping_div(y as i32) as i64,
                (_, _) if is64 => x.wrapping_rem(y),
                (_, _) => (x as i32).wrapping_rem(y as i32) as i64,
            };
            r as u64
        }
        ALU_OR => a | b,
        ALU_AND => a & b,
        ALU_XOR => a ^ b,
        ALU_LSH => a << (b & mask),
        ALU_RSH => a >> (b & mask),
        ALU_ARSH if is64 => ((a as i64) >> (b & mask)) as u64,
        ALU_ARSH => ((a as u32 as i32) >> (b & mask)) as u32 as u64,
        _ => return None,
    };
    Some(if is64 { r } else { r & U32 })
}

/// Abstract binary ALU operation (not MOV, NEG or END) on scalars.
pub fn binop(op: u8, is64: bool, off: i16, a: Scalar, b: Scalar) -> Scalar {
    let (a, b) = if is64 { (a, b) } else { (a.trunc32(), b.trunc32()) };
    if let (Some(x), Some(y)) = (a.as_const(), b.as_const()) {
        if let Some(r) = eval(op, is64, off, x, y) {
            return Scalar::konst(r);
        }
    }
    let limit = if is64 { u64::MAX } else { U32 };
    let full = Scalar::urange(0, limit);
    let width_ok = |s: Scalar| if s.umax <= limit { s } else { full };
    let r = match op {
        ALU_ADD => {
            let u = a.umax.checked_add(b.umax).filter(|&m| m <= limit).map(|m| (a.umin + b.umin, m));
            let s = if is64 { a.smin.checked_add(b.smin).zip(a.smax.checked_add(b.smax)) } else { None };
            let mut r = full;
            if let Some((lo, hi)) = u {
                r = Scalar::urange(lo, hi);
            }
            if let Some((lo, hi)) = s {
                r = r.meet(&Scalar::srange(lo, hi)).unwrap_or(full);
            }
            r
        }
        ALU_SUB => {
            let mut r = full;
            if a.umin >= b.umax {
                r = Scalar::urange(a.umin - b.umax, a.umax - b.umin);
            }
            if is64 {
                if let (Some(lo), Some(hi)) = (a.smin.checked_sub(b.smax), a.smax.checked_sub(b.smin)) {
                    r = r.meet(&Scalar::srange(lo, hi)).unwrap_or(full);
                }
            }
            r
        }
        ALU_MUL => match a.umax.checked_mul(b.umax) {
            Some(m) if m <= limit => Scalar::urange(a.umin * b.umin, m),
            _ => full,
        },
        ALU_DIV if off == 0 => {
            match a.umax.checked_div(b.umin) {
                Some(hi) => Scalar::urange(a.umin / b.umax, hi),
                None => Scalar::urange(0, a.umax),
            }
        }
        ALU_MOD if off == 0 => {
            if b.umin > a.umax {
                a
            } else if b.umin > 0 {
                Scalar::urange(0, a.umax.min(b.umax - 1))
            } else {
                Scalar::urange(0, a.umax)
            }
        }
        ALU_AND => Scalar::urange(0, a.umax.min(b.umax)),
        ALU_OR => Scalar::urange(a.umin.max(b.umin), fill_bits(a.umax | b.umax)),
        ALU_XOR => Scalar::urange(0, fill_bits(a.umax | b.umax)),
        ALU_LSH => match b.as_const() {
            Some(k) if k < if is64 { 64 } else { 32 } && a.umax.leading_zeros() as u64 >= k && (a.umax << k) <= limit => {
                Scalar::urange(a.umin << k, a.umax << k)
            }
            _ => full,
        },
        ALU_RSH => {
            let bits = if is64 { 64 } else { 32 };
            if b.umax < bits {
                Scalar::urange(a.umin >> b.umax, a.umax >> b.umin)
            } else {
                Scalar::urange(0, a.umax)
            }
        }
        ALU_ARSH if is64 => match b.as_const() {
            Some(k) if k < 64 => Scalar::srange(a.smin >> k, a.smax >> k),
            _ => Scalar::srange(a.smin.min(0), a.smax.max(0)),
        },
        _ => full,
    };
    width_ok(r).with_tnum(binop_tnum(op, is64, &a, &b))
}

/// The known bits of `a op b` (operands already truncated for 32-bit ops).
fn binop_tnum(op: u8, is64: bool, a: &Scalar, b: &Scalar) -> Tnum {
    let bits = if is64 { 64 } else { 32 };
    let shift = b.as_const().filter(|&k| k < bits).map(|k| k as u32);
    let t = match (op, shift) {
        (ALU_ADD, _) => a.var.add(&b.var),
        (ALU_SUB, _) => a.var.sub(&b.var),
        (ALU_MUL, _) => a.var.mul(&b.var),
        (ALU_AND, _) => a.var.and(&b.var),
        (ALU_OR, _) => a.var.or(&b.var),
        (ALU_XOR, _) => a.var.xor(&b.var),
        (ALU_LSH, Some(k)) => a.var.lshift(k),
        (ALU_RSH, Some(k)) => a.var.rshift(k),
        (ALU_ARSH, Some(k)) => a.var.arshift(k, bits as u32),
        _ => Tnum::UNKNOWN,
    };
    if is64 {
        t
    } else {
        t.cast(4)
    }
}

/// `dst = -dst`.
pub fn neg(is64: bool, a: Scalar) -> Scalar {
    match (a.as_const(), is64) {
        (Some(v), true) => Scalar::konst(v.wrapping_neg()),
        (Some(v), false) => Scalar::konst((v as u32).wrapping_neg() as u64),
        (None, true) if a.smin != i64::MIN => Scalar::srange(-a.smax, -a.smin).with_tnum(Tnum::konst(0).sub(&a.var)),
        (None, true) => Scalar::of_tnum(Tnum::konst(0).sub(&a.var)),
        (None, false) => Scalar::of_tnum(Tnum::konst(0).sub(&a.trunc32().var).cast(4)),
    }
}

/// `mov`/`movsx` of a scalar: `bits` is 0 (plain) or the sign-extended width.
pub fn mov(is64: bool, bits: i16, b: Scalar) -> Scalar {
    let ext = if bits == 0 {
        b
    } else {
        let half = 1i64 << (bits - 1);
        let src = b.trunc32();
        if bits < 32 && src.umax < half as u64 {
            src
        } else if bits == 32 && b.fits32() && b.umax < half as u64 {
            b
        } else {
            Scalar::srange(-half, half - 1)
        }
    };
    if is64 {
        ext
    } else {
        ext.trunc32()
    }
}

/// Byte-order conversions: `le` truncation and `be`/`bswap` swaps.
pub fn endian(swap: bool, width: i32, a: Scalar) -> Scalar {
    let bytes = (width / 8) as usize;
    if let Some(v) = a.as_const() {
        let r = match (swap, width) {
            (false, 16) => v & 0xffff,
            (false, 32) => v & U32,
            (true, 16) => (v as u16).swap_bytes() as u64,
            (true, 32) => (v as u32).swap_bytes() as u64,
            (true, _) => v.swap_bytes(),
            (false, _) => v,
        };
        return Scalar::konst(r);
    }
    if !swap && bytes < 8 && a.umax < (1u64 << (bytes * 8)) {
        return a;
    }
    if !swap && bytes >= 8 {
        return a;
    }
    Scalar::of_width(bytes)
}

/// A sign-extending load's result for `bytes` bytes.
pub fn sign_extended(bytes: usize) -> Scalar {
    let half = 1i64 << (bytes * 8 - 1);
    Scalar::srange(-half, half - 1)
}

/// The operands' values on one side of a branch; `None` if it cannot happen.
pub type Branch = Option<(Scalar, Scalar)>;

/// Refines `a op b` for a conditional jump: the pair of (new a, new b) on
/// the taken branch, and on the fall-through; `None` where the branch is
/// impossible. `op` is a JMP operation other than JA/CALL/EXIT.
pub fn refine(op: u8, a: Scalar, b: Scalar) -> (Branch, Branch) {
    let swap = |r: Option<(Scalar, Scalar)>| r.map(|(x, y)| (y, x));
    match op {
        JMP_JEQ => (eq(a, b), ne(a, b)),
        JMP_JNE => (ne(a, b), eq(a, b)),
        JMP_JGT => (ugt(a, b), swap(uge(b, a))),
        JMP_JGE => (uge(a, b), swap(ugt(b, a))),
        JMP_JLT => (swap(ugt(b, a)), uge(a, b)),
        JMP_JLE => (swap(uge(b, a)), ugt(a, b)),
        JMP_JSGT => (sgt(a, b), swap(sge(b, a))),
        JMP_JSGE => (sge(a, b), swap(sgt(b, a))),
        JMP_JSLT => (swap(sgt(b, a)), sge(a, b)),
        JMP_JSLE => (swap(sge(b, a)), sgt(a, b)),
        JMP_JSET => {
            let both = Some((a, b));
            match (a.as_const(), b.as_const()) {
                (Some(x), Some(y)) if x & y != 0 => (both, None),
                (Some(x), Some(y)) if x & y == 0 => (None, both),
                _ if a.umax == 0 || b.umax == 0 => (None, both),
                (_, Some(c)) => jset_const(a, b, c),
                (Some(c), _) => swap2(jset_const(b, a, c)),
                _ => (both, both),
            }
        }
        _ => (Some((a, b)), Some((a, b))),
    }
}

fn swap2((t, f): (Branch, Branch)) -> (Branch, Branch) {
    (t.map(|(x, y)| (y, x)), f.map(|(x, y)| (y, x)))
}

/// `a & c` with `c` constant: not taken, the bits of `c` are clear in `a`;
/// taken, some is set (and if `c` is one bit, that bit).
fn jset_const(a: Scalar, b: Scalar, c: u64) -> (Branch, Branch) {
    let fall = a.var.intersect(&Tnum { value: 0, mask: !c }).and_then(|var| Scalar { var, ..a }.synced());
    let may_set = (a.var.value | a.var.mask) & c != 0;
    let taken = if !may_set {
        None
    } else if c.is_power_of_two() {
        a.var.intersect(&Tnum { value: c, mask: !c }).and_then(|var| Scalar { var, ..a }.synced())
    } else {
        Some(a)
    };
    (taken.map(|x| (x, b)), fall.map(|x| (x, b)))
}

fn pair(a: Scalar, b: Scalar) -> Option<(Scalar, Scalar)> {
    Some((a.synced()?, b.synced()?))
}

fn eq(a: Scalar, b: Scalar) -> Option<(Scalar, Scalar)> {
    let m = a.meet(&b)?;
    Some((m, m))
}

fn ne(a: Scalar, b: Scalar) -> Option<(Scalar, Scalar)> {
    let cut = |x: Scalar, c: u64| {
        let mut x = x;
        if x.umin == c {
            x.umin = x.umin.checked_add(1)?;
        }
        if x.umax == c {
            x.umax = x.umax.checked_sub(1)?;
        }
        if x.smin == c as i64 {
            x.smin = x.smin.checked_add(1)?;
        }
        if x.smax == c as i64 {
            x.smax = x.smax.checked_sub(1)?;
        }
        x.synced()
    };
    match (a.as_const(), b.as_const()) {
        (Some(x), Some(y)) if x == y => None,
        (_, Some(c)) => Some((cut(a, c)?, b)),
        (Some(c), _) => Some((a, cut(b, c)?)),
        _ => Some((a, b)),
    }
}

fn ugt(a: Scalar, b: Scalar) -> Option<(Scalar, Scalar)> {
    let mut a2 = a;
    let mut b2 = b;
    a2.umin = a.umin.max(b.umin.checked_add(1)?);
    b2.umax = b.umax.min(a.umax.checked_sub(1)?);
    pair(a2, b2)
}

fn uge(a: Scalar, b: Scalar) -> Option<(Scalar, Scalar)> {
    let mut a2 = a;
    let mut b2 = b;
    a2.umin = a.umin.max(b.umin);
    b2.umax = b.umax.min(a.umax);
    pair(a2, b2)
}

fn sgt(a: Scalar, b: Scalar) -> Option<(Scalar, Scalar)> {
    let mut a2 = a;
    let mut b2 = b;
    a2.smin = a.smin.max(b.smin.checked_add(1)?);
    b2.smax = b.smax.min(a.smax.checked_sub(1)?);
    pair(a2, b2)
}

fn sge(a: Scalar, b: Scalar) -> Option<(Scalar, Scalar)> {
    let mut a2 = a;
    let mut b2 = b;
    a2.smin = a.smin.max(b.smin);
    b2.smax = b.smax.min(a.smax);
    pair(a2, b2)
}

/// `jmp32`: compares the low 32 bits. Refines only when both values are
/// their own low 32 bits (unsigned) or non-negative `i32`s (signed); else
/// only decides a branch when even the truncated ranges settle it.
pub fn refine32(op: u8, a: Scalar, b: Scalar) -> (Branch, Branch) {
    let signed = matches!(op, JMP_JSGT | JMP_JSGE | JMP_JSLT | JMP_JSLE);
    let exact = if signed { a.umax <= i32::MAX as u64 && b.umax <= i32::MAX as u64 } else { a.fits32() && b.fits32() };
    if exact {
        return refine(op, a, b);
    }
    if signed {
        return (Some((a, b)), Some((a, b)));
    }
    let (t, f) = refine(op, a.trunc32(), b.trunc32());
    (t.map(|_| (a, b)), f.map(|_| (a, b)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_derives_signed_from_unsigned() {
        let s = Scalar::urange(3, 10);
        assert_eq!((s.smin, s.smax), (3, 10));
        let n = Scalar::srange(-4, -1);
        assert_eq!((n.umin, n.umax), ((-4i64) as u64, u64::MAX));
        assert!(Scalar { umin: 5, umax: 3, ..Scalar::UNKNOWN }.synced().is_none());
    }

    #[test]
    fn add_and_overflow() {
        let r = binop(ALU_ADD, true, 0, Scalar::urange(1, 5), Scalar::konst(10));
        assert_eq!((r.umin, r.umax), (11, 15));
        let r = binop(ALU_ADD, false, 0, Scalar::urange(0, U32), Scalar::konst(1));
        assert_eq!((r.umin, r.umax), (0, U32));
    }

    #[test]
    fn and_mask_bounds() {
        let r = binop(ALU_AND, true, 0, Scalar::UNKNOWN, Scalar::konst(7));
        assert_eq!((r.umin, r.umax), (0, 7));
    }

    #[test]
    fn division_by_zero_follows_the_isa() {
        assert_eq!(eval(ALU_DIV, true, 0, 100, 0), Some(0));
        assert_eq!(eval(ALU_MOD, true, 0, 100, 0), Some(100));
        assert_eq!(eval(ALU_MOD, false, 0, 0x1_0000_0005, 0), Some(5));
        let r = binop(ALU_DIV, true, 0, Scalar::urange(0, 100), Scalar::urange(0, 9));
        assert_eq!((r.umin, r.umax), (0, 100));
    }

    #[test]
    fn shifts_are_masked() {
        assert_eq!(eval(ALU_LSH, true, 0, 1, 65), Some(2));
        assert_eq!(eval(ALU_LSH, false, 0, 1, 33), Some(2));
        let r = binop(ALU_LSH, true, 0, Scalar::urange(0, 3), Scalar::konst(3));
        assert_eq!((r.umin, r.umax), (0, 24));
    }

    #[test]
    fn refine_unsigned_branches() {
        let (t, f) = refine(JMP_JGT, Scalar::urange(0, 100), Scalar::konst(10));
        assert_eq!(t.unwrap().0.umin, 11);
        assert_eq!(f.unwrap().0.umax, 10);
        let (t, f) = refine(JMP_JGT, Scalar::konst(3), Scalar::konst(10));
        assert!(t.is_none());
        assert!(f.is_some());
        let (t, f) = refine(JMP_JNE, Scalar::urange(0, 5), Scalar::konst(0));
        assert_eq!(t.unwrap().0.umin, 1);
        assert_eq!(f.unwrap().0.as_const(), Some(0));
    }

    #[test]
    fn refine_signed_branches() {
        let (t, f) = refine(JMP_JSLT, Scalar::UNKNOWN, Scalar::konst(0));
        let t = t.unwrap().0;
        assert!(t.smax < 0);
        assert!(t.umin > i64::MAX as u64);
        assert_eq!(f.unwrap().0.smin, 0);
    }

    #[test]
    fn movsx_ranges() {
        let r = mov(true, 8, Scalar::konst(0x80));
        assert_eq!((r.smin, r.smax), (-128, 127));
        assert_eq!(mov(true, 8, Scalar::konst(5)).as_const(), Some(5));
    }
}
