//! Tristate numbers ("tnums", Linux `kernel/bpf/tnum.c`): which bits of a
//! scalar are known and what they are. A tnum is `(value, mask)`: bits set
//! in `mask` are unknown, the others equal `value`'s (`value & mask == 0`).
//! Ranges cannot say "a multiple of 8" or "bit 3 is clear"; tnums can, so
//! masked stack indexes are proven aligned and bit tests refine values.
//! The operations are Linux's, each an over-approximation of the concrete
//! one (checked by the tests below on random members).

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tnum {
    pub value: u64,
    pub mask: u64,
}

impl Tnum {
    pub const UNKNOWN: Tnum = Tnum { value: 0, mask: u64::MAX };

    pub const fn konst(v: u64) -> Tnum {
        Tnum { value: v, mask: 0 }
    }

    /// The smallest tnum holding every value of `min..=max`.
    pub fn range(min: u64, max: u64) -> Tnum {
        let chi = min ^ max;
        let bits = 64 - chi.leading_zeros();
        if bits > 63 {
            return Tnum::UNKNOWN;
        }
        let delta = (1u64 << bits) - 1;
        Tnum { value: min & !delta, mask: delta }
    }

    /// Smallest and largest member (unsigned).
    pub fn umin(&self) -> u64 {
        self.value
    }

    pub fn umax(&self) -> u64 {
        self.value | self.mask
    }

    /// Signed bounds: the sign bit at its best and worst.
    pub fn smin(&self) -> i64 {
        (self.value | (self.mask & (1 << 63))) as i64
    }

    pub fn smax(&self) -> i64 {
        (self.value | (self.mask & !(1 << 63))) as i64
    }

    #[cfg(test)]
    pub fn contains_value(&self, v: u64) -> bool {
        v & !self.mask == self.value
    }

    /// Whether every member of `b` is a member of `self`.
    pub fn contains(&self, b: &Tnum) -> bool {
        b.mask & !self.mask == 0 && b.value & !self.mask == self.value
    }

    /// Members of both; `None` if they disagree on a known bit.
    pub fn intersect(&self, b: &Tnum) -> Option<Tnum> {
        let known = !self.mask & !b.mask;
        if (self.value ^ b.value) & known != 0 {
            return None;
        }
        let v = self.value | b.value;
        let mu = self.mask & b.mask;
        Some(Tnum { value: v & !mu, mask: mu })
    }

    pub fn add(&self, b: &Tnum) -> Tnum {
        let sm = self.mask.wrapping_add(b.mask);
        let sv = self.value.wrapping_add(b.value);
        let sigma = sm.wrapping_add(sv);
        let chi = sigma ^ sv;
        let mu = chi | self.mask | b.mask;
        Tnum { value: sv & !mu, mask: mu }
    }

    pub fn sub(&self, b: &Tnum) -> Tnum {
        let dv = self.value.wrapping_sub(b.value);
        let alpha = dv.wrapping_add(self.mask);
        let beta = dv.wrapping_sub(b.mask);
        let chi = alpha ^ beta;
        let mu = chi | self.mask | b.mask;
        Tnum { value: dv & !mu, mask: mu }
    }

    pub fn and(&self, b: &Tnum) -> Tnum {
        let alpha = self.value | self.mask;
        let beta = b.value | b.mask;
        let v = self.value & b.value;
        Tnum { value: v, mask: alpha & beta & !v }
    }

    pub fn or(&self, b: &Tnum) -> Tnum {
        let v = self.value | b.value;
        let mu = self.mask | b.mask;
        Tnum { value: v, mask: mu & !v }
    }

    pub fn xor(&self, b: &Tnum) -> Tnum {
        let v = self.value ^ b.value;
        let mu = self.mask | b.mask;
        Tnum { value: v & !mu, mask: mu }
    }

    /// Linux's `tnum_mul` (the Harishankar et al. version).
    pub fn mul(&self, b: &Tnum) -> Tnum {
        let mut a = *self;
        let mut b = *b;
        let acc_v = a.value.wrapping_mul(b.value);
        let mut acc_m = Tnum::konst(0);
        while a.value != 0 || a.mask != 0 {
            if a.value & 1 != 0 {
                acc_m = acc_m.add(&Tnum { value: 0, mask: b.mask });
            } else if a.mask & 1 != 0 {
                acc_m = acc_m.add(&Tnum { value: 0, mask: b.value | b.mask });
            }
            a = a.rshift(1);
            b = b.lshift(1);
        }
        Tnum::konst(acc_v).add(&acc_m)
    }

    pub fn lshift(&self, k: u32) -> Tnum {
        Tnum { value: self.value << k, mask: self.mask << k }
    }

    pub fn rshift(&self, k: u32) -> Tnum {
        Tnum { value: self.value >> k, mask: self.mask >> k }
    }

    /// Arithmetic shift of the low `bits` (32 or 64) bits, zero-extended.
    pub fn arshift(&self, k: u32, bits: u32) -> Tnum {
        if bits == 32 {
            let v = ((self.value as u32 as i32) >> k) as u32 as u64;
            let m = ((self.mask as u32 as i32) >> k) as u32 as u64;
            Tnum { value: v, mask: m }
        } else {
            Tnum { value: ((self.value as i64) >> k) as u64, mask: ((self.mask as i64) >> k) as u64 }
        }
    }

    /// The low `bytes` bytes, zero-extended.
    pub fn cast(&self, bytes: u32) -> Tnum {
        if bytes >= 8 {
            return *self;
        }
        let keep = (1u64 << (bytes * 8)) - 1;
        Tnum { value: self.value & keep, mask: self.mask & keep }
    }

    /// Whether every member is a multiple of `size` (a power of two).
    pub fn is_aligned(&self, size: u64) -> bool {
        size == 0 || (self.value | self.mask) & (size - 1) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A few members of `t`: its extremes and some mixes of the unknown bits.
    fn members(t: &Tnum, seed: u64) -> Vec<u64> {
        let mut out = vec![t.umin(), t.umax()];
        let mut s = seed | 1;
        for _ in 0..6 {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            out.push(t.value | (s & t.mask));
        }
        out
    }

    fn random_tnum(s: &mut u64) -> Tnum {
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        let mask = match *s % 4 {
            0 => 0,
            1 => *s >> 60,
            2 => (*s >> 7) & 0xff0,
            _ => *s >> 3,
        };
        let v = s.rotate_left(17);
        Tnum { value: v & !mask, mask }
    }

    #[test]
    fn operations_over_approximate() {
        let mut s = 0x1234_5678_9abc_def1u64;
        for i in 0..3000 {
            let (a, b) = (random_tnum(&mut s), random_tnum(&mut s));
            for x in members(&a, i) {
                for y in members(&b, i * 7 + 1) {
                    assert!(a.add(&b).contains_value(x.wrapping_add(y)), "add {a:?} {b:?}");
                    assert!(a.sub(&b).contains_value(x.wrapping_sub(y)), "sub {a:?} {b:?}");
                    assert!(a.mul(&b).contains_value(x.wrapping_mul(y)), "mul {a:?} {b:?}");
                    assert!(a.and(&b).contains_value(x & y));
                    assert!(a.or(&b).contains_value(x | y));
                    assert!(a.xor(&b).contains_value(x ^ y));
                }
                let k = (i % 64) as u32;
                assert!(a.lshift(k).contains_value(x << k));
                assert!(a.rshift(k).contains_value(x >> k));
                assert!(a.arshift(k, 64).contains_value(((x as i64) >> k) as u64));
                let k32 = k % 32;
                assert!(a.cast(4).arshift(k32, 32).contains_value(((x as u32 as i32) >> k32) as u32 as u64));
                assert!(a.cast(4).contains_value(x & 0xffff_ffff));
            }
        }
    }

    #[test]
    fn ranges_and_alignment() {
        let r = Tnum::range(0, 7);
        assert_eq!(r, Tnum { value: 0, mask: 7 });
        assert!(Tnum::range(16, 23).contains_value(20));
        let idx = Tnum::UNKNOWN.and(&Tnum::konst(7)).lshift(3);
        assert!(idx.is_aligned(8) && !idx.is_aligned(16));
        assert_eq!(idx.umax(), 56);
        assert!(Tnum::konst(5).intersect(&Tnum::konst(4)).is_none());
    }
}
