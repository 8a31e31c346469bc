//! The index of a hash map: key -> slot, with lookups that take no lock
//! and updates that lock one bucket, as Linux's preallocated `htab` does.
//!
//! Slots are preallocated; a slot's key lives in `keys` and its chain link
//! in `next`, all atomics, so a lookup can walk a chain while another CPU
//! changes it. A deleted slot may be reused in another bucket while a
//! reader stands on it; chains end in a *nulls* marker naming their
//! bucket (Linux's `hlist_nulls`), so a reader that wandered into another
//! chain notices at its end and starts over. As in Linux, a lookup racing
//! with a delete may return the slot of the key it just missed: the value
//! area stays valid, the program sees whatever is there.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering::*};

/// Chain ends carry this bit plus the bucket index; slot indices never have
/// it (maps hold far fewer than 2^31 entries).
pub(crate) const NULLS: u32 = 1 << 31;

struct Bucket {
    lock: spin::Mutex<()>,
    head: AtomicU32,
}

pub struct HashIndex {
    key_size: usize,
    /// Words per key: `key_size` rounded up to 8 bytes, zero-padded.
    kw: usize,
    keys: Box<[AtomicU64]>,
    next: Box<[AtomicU32]>,
    /// Whether a slot holds an entry, for iteration in slot order
    /// (`bpf_for_each_map_elem`) without walking or locking buckets.
    used: Box<[AtomicBool]>,
    buckets: Box<[Bucket]>,
    bits: u32,
    /// Per-map hash seed ([`next_seed`]), so a program's keys collide in
    /// one map's buckets only if it knows that map's seed.
    seed: u64,
    free: spin::Mutex<Vec<u32>>,
    len: AtomicUsize,
}

/// Why an insert did not happen.
#[derive(Debug, PartialEq, Eq)]
pub enum InsertError {
    Exists,
    NotFound,
    Full,
}

/// Whether an update may create or replace (`BPF_NOEXIST`, `BPF_EXIST`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Any,
    Create,
    Replace,
}

/// Bytes of bookkeeping per entry, for the map size limit.
pub const OVERHEAD_PER_ENTRY: u64 = 4 + 8 + 8 + 1;

/// The key as little-endian words, the last one zero-padded.
#[inline(always)]
fn words(key: &[u8]) -> impl Iterator<Item = u64> + '_ {
    key.chunks(8).map(|c| match <[u8; 8]>::try_from(c) {
        Ok(b) => u64::from_le_bytes(b),
        Err(_) => {
            let mut b = [0u8; 8];
            b[..c.len()].copy_from_slice(c);
            u64::from_le_bytes(b)
        }
    })
}

/// A key of at most 8 bytes as one zero-padded word.
#[inline(always)]
fn word(key: &[u8]) -> u64 {
    match <[u8; 8]>::try_from(key) {
        Ok(b) => u64::from_le_bytes(b),
        Err(_) => words(key).next().unwrap_or(0),
    }
}

/// [`mix`]'s and the bucket's multiplier.
pub(crate) const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// The seeds of new maps: a counter stepped by the golden ratio and mixed
/// (splitmix64); the embedder may reseed it ([`set_seed`]) from a real
/// random source (the kernel: RDRAND or the TSC).
static SEED: AtomicU64 = AtomicU64::new(0x243f_6a88_85a3_08d3);

/// Reseeds the hash seeds of maps created from now on.
pub fn set_seed(seed: u64) {
    SEED.store(seed, Relaxed);
}

fn next_seed(salt: u64) -> u64 {
    let mut z = SEED.fetch_add(K, Relaxed).wrapping_add(K) ^ salt;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// One multiply-xorshift round per key word: a few cycles for the usual
/// 8-byte key (no SipHash: the seed, not the function, keeps programs
/// from aiming keys at one bucket of a map they cannot inspect).
#[inline(always)]
fn mix(h: u64, w: u64) -> u64 {
    let h = (h ^ w).wrapping_mul(K);
    h ^ (h >> MIX_SHIFT)
}

/// What the JIT's inline `bpf_map_lookup_elem` reads of a hash map with
/// 8-byte keys (`repr(C)`: the emitter addresses its fields), enough to
/// look at the first slot of a key's chain as [`HashIndex::get`] does:
/// the bucket is `mix(seed, key) * K >> shift`, its head a slot whose key
/// is compared or a nulls marker. Anything else (a longer chain, another
/// bucket's marker) is left to the shim, which walks as `get` does.
#[repr(C)]
pub(crate) struct Probe {
    pub seed: u64,
    /// `64 - bits`.
    pub shift: u64,
    /// `&buckets[0]`, [`BUCKET_SIZE`] bytes apart, the head at [`BUCKET_HEAD`].
    pub buckets: u64,
    /// `&keys[0]`: one word per slot.
    pub keys: u64,
    pub slots: u64,
    /// The map's value size: a slot's value is at `slot * value_size`.
    pub value_size: u64,
}

pub(crate) const BUCKET_SIZE: usize = core::mem::size_of::<Bucket>();
pub(crate) const BUCKET_HEAD: usize = core::mem::offset_of!(Bucket, head);
/// [`mix`]'s shift.
pub(crate) const MIX_SHIFT: u8 = 29;

impl HashIndex {
    /// The [`Probe`] of an index with 8-byte keys (one word, no padding).
    pub(crate) fn probe(&self, value_size: u32) -> Option<Probe> {
        (self.key_size == 8).then(|| Probe {
            seed: self.seed,
            shift: 64 - self.bits as u64,
            buckets: self.buckets.as_ptr() as u64,
            keys: self.keys.as_ptr() as u64,
            slots: self.keys.len() as u64,
            value_size: value_size as u64,
        })
    }

    pub fn new(key_size: usize, max_entries: u32) -> HashIndex {
        let n = max_entries as usize;
        let kw = key_size.div_ceil(8);
        let bits = max_entries.next_power_of_two().trailing_zeros().max(1);
        let buckets: Box<[Bucket]> = (0..1usize << bits).map(|b| Bucket { lock: spin::Mutex::new(()), head: AtomicU32::new(NULLS | b as u32) }).collect();
        let seed = next_seed(buckets.as_ptr() as u64);
        HashIndex {
            seed,
            key_size,
            kw,
            keys: (0..n * kw).map(|_| AtomicU64::new(0)).collect(),
            next: (0..n).map(|_| AtomicU32::new(NULLS)).collect(),
            used: (0..n).map(|_| AtomicBool::new(false)).collect(),
            buckets,
            bits,
            free: spin::Mutex::new((0..max_entries).rev().collect()),
            len: AtomicUsize::new(0),
        }
    }

    #[inline(always)]
    fn bucket_of_hash(&self, h: u64) -> usize {
        (h.wrapping_mul(K) >> (64 - self.bits)) as usize
    }

    #[inline(always)]
    fn bucket_of(&self, key: &[u8]) -> usize {
        self.bucket_of_hash(words(key).fold(self.seed, mix))
    }

    fn key_is(&self, slot: u32, key: &[u8]) -> bool {
        let base = slot as usize * self.kw;
        words(key).enumerate().all(|(i, w)| self.keys[base + i].load(Relaxed) == w)
    }

    /// The slot holding `key`, without taking a lock.
    #[inline(always)]
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        if self.kw == 1 {
            // Keys of up to 8 bytes (addresses, pids): one word, compared
            // in one load per chain element.
            let w = word(key);
            let b = self.bucket_of_hash(mix(self.seed, w));
            return self.walk(b, |s| self.keys.get(s as usize).is_some_and(|k| k.load(Relaxed) == w));
        }
        self.get_long(key)
    }

    /// [`HashIndex::get`] for keys of more than 8 bytes.
    #[inline(never)]
    fn get_long(&self, key: &[u8]) -> Option<u32> {
        self.walk(self.bucket_of(key), |s| self.key_is(s, key))
    }

    /// Walks bucket `b`'s chain, without a lock, to the slot `is_key`
    /// accepts.
    #[inline(always)]
    fn walk(&self, b: usize, is_key: impl Fn(u32) -> bool) -> Option<u32> {
        // A consistent chain is at most every slot long; a longer walk means
        // slots were reused under the reader, so it starts over, as it does
        // when it ends in another bucket's chain. Only concurrent updates
        // that make progress can send it back.
        let limit = self.next.len() + 1;
        'restart: loop {
            let mut s = self.buckets[b].head.load(Acquire);
            for _ in 0..limit {
                if s & NULLS != 0 {
                    if s == NULLS | b as u32 {
                        return None;
                    }
                    continue 'restart;
                }
                if is_key(s) {
                    return Some(s);
                }
                s = self.next.get(s as usize)?.load(Acquire);
            }
        }
    }

    /// Finds `key` in bucket `b` with its lock held: (predecessor, slot).
    fn find_locked(&self, b: usize, key: &[u8]) -> Option<(Option<u32>, u32)> {
        let mut prev = None;
        let mut s = self.buckets[b].head.load(Relaxed);
        while s & NULLS == 0 {
            if self.key_is(s, key) {
                return Some((prev, s));
            }
            prev = Some(s);
            s = self.next[s as usize].load(Relaxed);
        }
        None
    }

    /// Finds or creates the slot for `key` and calls `fill(slot, fresh)`
    /// with the bucket locked, before a new slot becomes visible to
    /// lookups, so readers never see a new key with an old value.
    pub fn upsert(&self, key: &[u8], mode: Mode, fill: impl FnOnce(u32, bool)) -> Result<(), InsertError> {
        debug_assert_eq!(key.len(), self.key_size);
        let b = self.bucket_of(key);
        let _guard = self.buckets[b].lock.lock();
        if let Some((_, s)) = self.find_locked(b, key) {
            if mode == Mode::Create {
                return Err(InsertError::Exists);
            }
            fill(s, false);
            return Ok(());
        }
        if mode == Mode::Replace {
            return Err(InsertError::NotFound);
        }
        let Some(s) = self.free.lock().pop() else {
            return Err(InsertError::Full);
        };
        fill(s, true);
        let base = s as usize * self.kw;
        for (i, w) in words(key).enumerate() {
            self.keys[base + i].store(w, Relaxed);
        }
        self.next[s as usize].store(self.buckets[b].head.load(Relaxed), Relaxed);
        // Release: a reader that sees the slot sees its key and value.
        self.buckets[b].head.store(s, Release);
        self.used[s as usize].store(true, Release);
        self.len.fetch_add(1, Relaxed);
        Ok(())
    }

    /// Unlinks `key`; `clear(slot)` runs before the slot can be reused.
    pub fn remove(&self, key: &[u8], clear: impl FnOnce(u32)) -> Option<u32> {
        let b = self.bucket_of(key);
        let _guard = self.buckets[b].lock.lock();
        let (prev, s) = self.find_locked(b, key)?;
        // `next[s]` stays as it was, so a reader standing on `s` goes on
        // along the chain.
        let after = self.next[s as usize].load(Relaxed);
        match prev {
            Some(p) => self.next[p as usize].store(after, Release),
            None => self.buckets[b].head.store(after, Release),
        }
        self.used[s as usize].store(false, Relaxed);
        clear(s);
        self.free.lock().push(s);
        self.len.fetch_sub(1, Relaxed);
        Some(s)
    }

    /// The first slot at or after `from` that holds an entry, without a
    /// lock; with its key copied into `key` (`key_size` bytes). Racing
    /// updates may make it see an entry just removed or miss one just
    /// added, as Linux's iteration under RCU may.
    pub fn next_used(&self, from: u32, key: &mut Vec<u8>) -> Option<u32> {
        let s = (from as usize..self.used.len()).find(|&s| self.used[s].load(Acquire))?;
        key.clear();
        let base = s * self.kw;
        for i in 0..self.kw {
            key.extend_from_slice(&self.keys[base + i].load(Relaxed).to_le_bytes());
        }
        key.truncate(self.key_size);
        Some(s as u32)
    }

    pub fn len(&self) -> usize {
        self.len.load(Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(key, slot)` of every entry, bucket by bucket, each bucket read
    /// under its lock.
    pub fn pairs(&self) -> Vec<(Vec<u8>, u32)> {
        let mut out = Vec::with_capacity(self.len());
        for b in self.buckets.iter() {
            let _guard = b.lock.lock();
            let mut s = b.head.load(Relaxed);
            while s & NULLS == 0 {
                let base = s as usize * self.kw;
                let mut k: Vec<u8> = (0..self.kw).flat_map(|i| self.keys[base + i].load(Relaxed).to_le_bytes()).collect();
                k.truncate(self.key_size);
                out.push((k, s));
                s = self.next[s as usize].load(Relaxed);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_find_remove_reuse() {
        let h = HashIndex::new(12, 3);
        let k = |i: u8| [i; 12];
        for i in 0..3 {
            h.upsert(&k(i), Mode::Any, |_, fresh| assert!(fresh)).unwrap();
        }
        assert_eq!(h.upsert(&k(9), Mode::Any, |_, _| {}), Err(InsertError::Full));
        assert_eq!(h.upsert(&k(1), Mode::Create, |_, _| {}), Err(InsertError::Exists));
        assert_eq!(h.upsert(&k(9), Mode::Replace, |_, _| {}), Err(InsertError::NotFound));
        let s1 = h.get(&k(1)).unwrap();
        assert_eq!(h.remove(&k(1), |_| {}), Some(s1));
        assert_eq!(h.get(&k(1)), None);
        h.upsert(&k(7), Mode::Any, |s, _| assert_eq!(s, s1, "the freed slot is reused")).unwrap();
        let mut keys: Vec<u8> = h.pairs().iter().map(|(k, _)| k[0]).collect();
        keys.sort();
        assert_eq!(keys, [0, 2, 7]);
    }

    #[test]
    fn lookups_race_with_updates_on_other_threads() {
        let h = std::sync::Arc::new(HashIndex::new(8, 64));
        h.upsert(&1u64.to_le_bytes(), Mode::Any, |_, _| {}).unwrap();
        let writer = {
            let h = h.clone();
            std::thread::spawn(move || {
                for round in 0..20_000u64 {
                    let k = (2 + round % 50).to_le_bytes();
                    let _ = h.upsert(&k, Mode::Any, |_, _| {});
                    h.remove(&k, |_| {});
                }
            })
        };
        // Key 1 is never removed: every lookup must find it.
        for _ in 0..200_000 {
            assert!(h.get(&1u64.to_le_bytes()).is_some());
        }
        writer.join().unwrap();
        assert_eq!(h.len(), 1);
    }
}
