//! Map storage with fixed sizes: HASH, ARRAY, PERCPU_ARRAY (one CPU), RINGBUF
//! and the one-element arrays that hold global data.
//!
//! Every map allocates its whole value area up front (`max_entries *
//! value_size` bytes), so a value never moves: the interpreter hands programs
//! addresses of the form *(map region, byte offset)* and checks every access
//! against the area. Keys and values are checked against the map's sizes on
//! every call, from a program or from outside (the shell's dump commands).

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec;
use alloc::vec::Vec;
use hashbrown::HashMap;

use crate::spec::{MapSpec, MapType};

/// Upper bound on the bytes one map may allocate; a hostile object must not be
/// able to exhaust the kernel heap by declaring `max_entries = 4G`.
pub const MAX_MAP_BYTES: u64 = 64 << 20;
/// Upper bound on all maps of one object together.
pub const MAX_OBJECT_MAP_BYTES: u64 = 256 << 20;
/// Most maps one object may declare (Linux allows 64 per program).
pub const MAX_MAPS_PER_OBJECT: usize = 64;

/// `BPF_ANY`, `BPF_NOEXIST`, `BPF_EXIST`: update flags.
pub const BPF_ANY: u64 = 0;
pub const BPF_NOEXIST: u64 = 1;
pub const BPF_EXIST: u64 = 2;

/// Why a map operation failed. [`MapError::errno`] gives the Linux value a
/// helper returns to the program.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("no map with index {0}")]
    NoSuchMap(usize),
    #[error("map `{map}`: {what} is {got} bytes, the map expects {want}")]
    BadSize { map: alloc::string::String, what: &'static str, got: usize, want: usize },
    #[error("map `{0}`: key not found")]
    NotFound(alloc::string::String),
    #[error("map `{0}`: key already exists (BPF_NOEXIST)")]
    Exists(alloc::string::String),
    #[error("map `{0}`: full (max_entries reached)")]
    Full(alloc::string::String),
    #[error("map `{map}`: index {index} is not below max_entries {max}")]
    IndexOutOfRange { map: alloc::string::String, index: u32, max: u32 },
    #[error("map `{0}`: operation not supported by this map type")]
    Unsupported(alloc::string::String),
    #[error("map `{0}`: invalid flags {1:#x}")]
    BadFlags(alloc::string::String, u64),
    #[error("map `{0}`: read-only")]
    ReadOnly(alloc::string::String),
    #[error("map `{name}`: invalid definition: {reason}")]
    BadSpec { name: alloc::string::String, reason: &'static str },
}

impl MapError {
    /// The negative errno a helper returns for this error.
    pub fn errno(&self) -> i64 {
        match self {
            MapError::NotFound(_) => -2,             // ENOENT
            MapError::Full(_) => -7,                 // E2BIG
            MapError::Exists(_) => -17,              // EEXIST
            MapError::Unsupported(_) => -95,         // EOPNOTSUPP
            MapError::ReadOnly(_) => -1,             // EPERM
            _ => -22,                                // EINVAL
        }
    }
}

/// key -> slot; the value lives at `slot * value_size` in `values`. Keys of
/// up to 8 bytes (the common case: a pid, an address) are packed into a u64,
/// which hashes and compares without touching the heap.
enum Index {
    Small(HashMap<u64, u32>),
    Large(HashMap<Box<[u8]>, u32>),
}

fn pack(key: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    b[..key.len()].copy_from_slice(key);
    u64::from_le_bytes(b)
}

impl Index {
    fn get(&self, key: &[u8]) -> Option<u32> {
        match self {
            Index::Small(m) => m.get(&pack(key)).copied(),
            Index::Large(m) => m.get(key).copied(),
        }
    }

    fn insert(&mut self, key: &[u8], slot: u32) {
        match self {
            Index::Small(m) => m.insert(pack(key), slot),
            Index::Large(m) => m.insert(key.into(), slot),
        };
    }

    fn remove(&mut self, key: &[u8]) -> Option<u32> {
        match self {
            Index::Small(m) => m.remove(&pack(key)),
            Index::Large(m) => m.remove(key),
        }
    }

    fn len(&self) -> usize {
        match self {
            Index::Small(m) => m.len(),
            Index::Large(m) => m.len(),
        }
    }

    /// `(key, slot)` pairs; small keys are unpacked to `key_size` bytes.
    fn pairs(&self, key_size: usize) -> Vec<(Vec<u8>, u32)> {
        match self {
            Index::Small(m) => m.iter().map(|(k, &s)| (k.to_le_bytes()[..key_size].to_vec(), s)).collect(),
            Index::Large(m) => m.iter().map(|(k, &s)| (k.to_vec(), s)).collect(),
        }
    }
}

struct HashStore {
    index: Index,
    free: Vec<u32>,
}

struct Ringbuf {
    records: VecDeque<Vec<u8>>,
    /// Bytes accounted to committed and reserved records (8-byte header plus
    /// the payload rounded up to 8, as in Linux).
    used: usize,
    dropped: u64,
}

enum Store {
    Array,
    Hash(HashStore),
    Ringbuf(Ringbuf),
}

/// One map: its specification, its value area and its index.
pub struct Map {
    spec: MapSpec,
    values: Vec<u8>,
    store: Store,
}

/// Bytes a map may come to hold: values, plus keys and a free list for
/// hashes, plus records for ring buffers.
pub fn map_bytes(spec: &MapSpec) -> u64 {
    let n = spec.max_entries as u64;
    let values = spec.value_size as u64 * n;
    match spec.kind {
        MapType::Hash => values + (spec.key_size as u64 + 4 + 16) * n,
        MapType::Ringbuf => n,
        _ => values,
    }
}

/// Bytes a ring-buffer record occupies.
pub fn ringbuf_record_cost(len: usize) -> usize {
    8 + ((len + 7) & !7)
}

/// Checks a map definition without allocating anything.
pub fn check_spec(spec: &MapSpec) -> Result<(), MapError> {
    let bad = |reason| Err(MapError::BadSpec { name: spec.name.clone(), reason });
    if spec.max_entries == 0 {
        return bad("max_entries is 0");
    }
    match spec.kind {
        MapType::Array | MapType::PercpuArray if spec.key_size != 4 => return bad("array maps need a 4-byte key"),
        MapType::Array | MapType::PercpuArray if spec.value_size == 0 => return bad("value_size is 0"),
        MapType::Hash if spec.key_size == 0 || spec.value_size == 0 => return bad("key_size and value_size must be non-zero"),
        MapType::Ringbuf if spec.key_size != 0 || spec.value_size != 0 => return bad("ring buffers have no key or value"),
        MapType::Ringbuf if !spec.max_entries.is_power_of_two() || spec.max_entries < 16 => {
            return bad("ring buffer size (max_entries) must be a power of two >= 16")
        }
        _ => {}
    }
    if map_bytes(spec) > MAX_MAP_BYTES {
        return bad("larger than MAX_MAP_BYTES (64 MiB)");
    }
    if spec.initial.as_ref().is_some_and(|i| i.len() as u64 > spec.value_size as u64 * spec.max_entries as u64) {
        return bad("initial data longer than the value");
    }
    Ok(())
}

impl Map {
    /// Allocates a map after checking its definition.
    pub fn new(spec: &MapSpec) -> Result<Map, MapError> {
        check_spec(spec)?;
        let store = match spec.kind {
            MapType::Array | MapType::PercpuArray => Store::Array,
            MapType::Hash => {
                let index = if spec.key_size <= 8 { Index::Small(HashMap::new()) } else { Index::Large(HashMap::new()) };
                Store::Hash(HashStore { index, free: (0..spec.max_entries).rev().collect() })
            }
            MapType::Ringbuf => Store::Ringbuf(Ringbuf { records: VecDeque::new(), used: 0, dropped: 0 }),
        };
        let mut values = vec![0u8; spec.value_size as usize * spec.max_entries as usize];
        if let Some(init) = &spec.initial {
            values[..init.len()].copy_from_slice(init);
        }
        Ok(Map { spec: spec.clone(), values, store })
    }

    pub fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn check(&self, what: &'static str, got: usize, want: u32) -> Result<(), MapError> {
        if got != want as usize {
            return Err(MapError::BadSize { map: self.spec.name.clone(), what, got, want: want as usize });
        }
        Ok(())
    }

    fn array_index(&self, key: &[u8]) -> Result<u32, MapError> {
        self.check("key", key.len(), 4)?;
        Ok(u32::from_le_bytes([key[0], key[1], key[2], key[3]]))
    }

    /// Byte offset of the value for `key` inside [`Map::values`], if present.
    pub fn lookup_offset(&self, key: &[u8]) -> Result<Option<usize>, MapError> {
        let vs = self.spec.value_size as usize;
        match &self.store {
            Store::Array => {
                let i = self.array_index(key)?;
                Ok((i < self.spec.max_entries).then_some(i as usize * vs))
            }
            Store::Hash(h) => {
                self.check("key", key.len(), self.spec.key_size)?;
                Ok(h.index.get(key).map(|slot| slot as usize * vs))
            }
            Store::Ringbuf(_) => Err(MapError::Unsupported(self.spec.name.clone())),
        }
    }

    /// The value stored under `key`.
    pub fn lookup(&self, key: &[u8]) -> Result<Option<&[u8]>, MapError> {
        let vs = self.spec.value_size as usize;
        Ok(self.lookup_offset(key)?.map(|o| &self.values[o..o + vs]))
    }

    /// Inserts or replaces, with Linux's `BPF_ANY`/`BPF_NOEXIST`/`BPF_EXIST`.
    pub fn update(&mut self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags(self.spec.name.clone(), flags));
        }
        self.check("value", value.len(), self.spec.value_size)?;
        let vs = self.spec.value_size as usize;
        let off = match &mut self.store {
            Store::Array => {
                let i = self.array_index(key)?;
                if i >= self.spec.max_entries {
                    return Err(MapError::IndexOutOfRange { map: self.spec.name.clone(), index: i, max: self.spec.max_entries });
                }
                if flags == BPF_NOEXIST {
                    return Err(MapError::Exists(self.spec.name.clone()));
                }
                i as usize * vs
            }
            Store::Hash(h) => {
                if key.len() != self.spec.key_size as usize {
                    return Err(MapError::BadSize { map: self.spec.name.clone(), what: "key", got: key.len(), want: self.spec.key_size as usize });
                }
                match h.index.get(key) {
                    Some(slot) => {
                        if flags == BPF_NOEXIST {
                            return Err(MapError::Exists(self.spec.name.clone()));
                        }
                        slot as usize * vs
                    }
                    None => {
                        if flags == BPF_EXIST {
                            return Err(MapError::NotFound(self.spec.name.clone()));
                        }
                        let Some(slot) = h.free.pop() else {
                            return Err(MapError::Full(self.spec.name.clone()));
                        };
                        h.index.insert(key, slot);
                        slot as usize * vs
                    }
                }
            }
            Store::Ringbuf(_) => return Err(MapError::Unsupported(self.spec.name.clone())),
        };
        self.values[off..off + vs].copy_from_slice(value);
        Ok(())
    }

    /// Removes `key`. Arrays cannot delete (`-EINVAL`, as in Linux).
    pub fn delete(&mut self, key: &[u8]) -> Result<(), MapError> {
        match &mut self.store {
            Store::Hash(h) => {
                if key.len() != self.spec.key_size as usize {
                    return Err(MapError::BadSize { map: self.spec.name.clone(), what: "key", got: key.len(), want: self.spec.key_size as usize });
                }
                let slot = h.index.remove(key).ok_or_else(|| MapError::NotFound(self.spec.name.clone()))?;
                let vs = self.spec.value_size as usize;
                // A program may still hold a pointer to the old slot; zeroing
                // keeps stale reads from seeing the next owner's data early.
                self.values[slot as usize * vs..(slot as usize + 1) * vs].fill(0);
                h.free.push(slot);
                Ok(())
            }
            Store::Array => {
                self.array_index(key)?;
                Err(MapError::Unsupported(self.spec.name.clone()))
            }
            Store::Ringbuf(_) => Err(MapError::Unsupported(self.spec.name.clone())),
        }
    }

    /// All `(key, value)` pairs, in slot order for arrays and in unspecified
    /// order for hashes.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        let vs = self.spec.value_size as usize;
        match &self.store {
            Store::Array => (0..self.spec.max_entries)
                .map(|i| (i.to_le_bytes().to_vec(), self.values[i as usize * vs..(i as usize + 1) * vs].to_vec()))
                .collect(),
            Store::Hash(h) => h
                .index
                .pairs(self.spec.key_size as usize)
                .into_iter()
                .map(|(k, slot)| (k, self.values[slot as usize * vs..(slot as usize + 1) * vs].to_vec()))
                .collect(),
            Store::Ringbuf(_) => Vec::new(),
        }
    }

    /// Number of present entries (records waiting, for a ring buffer).
    pub fn len(&self) -> usize {
        match &self.store {
            Store::Array => self.spec.max_entries as usize,
            Store::Hash(h) => h.index.len(),
            Store::Ringbuf(r) => r.records.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value area the interpreter addresses.
    pub fn values(&self) -> &[u8] {
        &self.values
    }

    /// The value area the interpreter addresses, and whether programs may
    /// write it.
    pub fn values_mut(&mut self) -> (&mut [u8], bool) {
        (&mut self.values, !self.spec.read_only)
    }

    fn ring(&mut self) -> Result<&mut Ringbuf, MapError> {
        match &mut self.store {
            Store::Ringbuf(r) => Ok(r),
            _ => Err(MapError::Unsupported(self.spec.name.clone())),
        }
    }

    /// Accounts space for a record of `len` bytes; false if it does not fit
    /// (the record is dropped and counted, as Linux's reserve returns NULL).
    pub fn ringbuf_claim(&mut self, len: usize) -> Result<bool, MapError> {
        let cap = self.spec.max_entries as usize;
        let r = self.ring()?;
        let cost = ringbuf_record_cost(len);
        if len > cap || r.used + cost > cap {
            r.dropped += 1;
            return Ok(false);
        }
        r.used += cost;
        Ok(true)
    }

    /// Gives back the space of a discarded reservation.
    pub fn ringbuf_release(&mut self, len: usize) -> Result<(), MapError> {
        let r = self.ring()?;
        r.used = r.used.saturating_sub(ringbuf_record_cost(len));
        Ok(())
    }

    /// Appends a record whose space was claimed.
    pub fn ringbuf_commit(&mut self, data: Vec<u8>) -> Result<(), MapError> {
        self.ring()?.records.push_back(data);
        Ok(())
    }

    /// `bpf_ringbuf_output`: claim and commit in one step.
    pub fn ringbuf_output(&mut self, data: &[u8]) -> Result<bool, MapError> {
        if !self.ringbuf_claim(data.len())? {
            return Ok(false);
        }
        self.ringbuf_commit(data.to_vec())?;
        Ok(true)
    }

    /// The consumer side: takes the oldest committed record.
    pub fn ringbuf_pop(&mut self) -> Result<Option<Vec<u8>>, MapError> {
        let r = self.ring()?;
        let rec = r.records.pop_front();
        if let Some(rec) = &rec {
            r.used = r.used.saturating_sub(ringbuf_record_cost(rec.len()));
        }
        Ok(rec)
    }

    /// Records dropped because the buffer was full.
    pub fn ringbuf_dropped(&self) -> u64 {
        match &self.store {
            Store::Ringbuf(r) => r.dropped,
            _ => 0,
        }
    }
}

/// The maps of one loaded object, indexed as the loader numbered them (the
/// `imm` of a relocated `lddw`).
#[derive(Default)]
pub struct MapSet {
    maps: Vec<Map>,
}

impl MapSet {
    pub fn new(specs: &[MapSpec]) -> Result<MapSet, MapError> {
        let too_many = |reason| Err(MapError::BadSpec { name: specs.last().map(|s| s.name.clone()).unwrap_or_default(), reason });
        if specs.len() > MAX_MAPS_PER_OBJECT {
            return too_many("more than 64 maps in one object");
        }
        if specs.iter().map(map_bytes).sum::<u64>() > MAX_OBJECT_MAP_BYTES {
            return too_many("the object's maps together exceed 256 MiB");
        }
        Ok(MapSet { maps: specs.iter().map(Map::new).collect::<Result<_, _>>()? })
    }

    pub fn len(&self) -> usize {
        self.maps.len()
    }

    pub fn is_empty(&self) -> bool {
        self.maps.is_empty()
    }

    /// Index of the map called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.maps.iter().position(|m| m.spec.name == name)
    }

    // `ok_or_else`: with `ok_or` the error is built and dropped on every
    // successful call, which showed up in the helper-call profile.
    #[allow(clippy::unnecessary_lazy_evaluations)]
    pub fn get(&self, idx: usize) -> Result<&Map, MapError> {
        self.maps.get(idx).ok_or_else(|| MapError::NoSuchMap(idx))
    }

    #[allow(clippy::unnecessary_lazy_evaluations)]
    pub fn get_mut(&mut self, idx: usize) -> Result<&mut Map, MapError> {
        self.maps.get_mut(idx).ok_or_else(|| MapError::NoSuchMap(idx))
    }

    pub fn iter(&self) -> impl Iterator<Item = &Map> {
        self.maps.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    fn spec(kind: MapType, key: u32, value: u32, max: u32) -> MapSpec {
        MapSpec { name: "m".to_string(), kind, key_size: key, value_size: value, max_entries: max, initial: None, read_only: false }
    }

    #[test]
    fn hash_update_lookup_delete_and_capacity() {
        let mut m = Map::new(&spec(MapType::Hash, 8, 8, 2)).unwrap();
        m.update(&1u64.to_le_bytes(), &10u64.to_le_bytes(), BPF_ANY).unwrap();
        m.update(&2u64.to_le_bytes(), &20u64.to_le_bytes(), BPF_NOEXIST).unwrap();
        assert!(matches!(m.update(&3u64.to_le_bytes(), &30u64.to_le_bytes(), BPF_ANY), Err(MapError::Full(_))));
        assert!(matches!(m.update(&1u64.to_le_bytes(), &0u64.to_le_bytes(), BPF_NOEXIST), Err(MapError::Exists(_))));
        assert_eq!(m.lookup(&2u64.to_le_bytes()).unwrap().unwrap(), 20u64.to_le_bytes());
        m.delete(&1u64.to_le_bytes()).unwrap();
        assert_eq!(m.lookup(&1u64.to_le_bytes()).unwrap(), None);
        m.update(&3u64.to_le_bytes(), &30u64.to_le_bytes(), BPF_ANY).unwrap();
        assert_eq!(m.entries().len(), 2);
        assert!(matches!(m.lookup(&[0u8; 4]), Err(MapError::BadSize { .. })));
        assert!(matches!(m.update(&1u64.to_le_bytes(), &[0u8; 9], BPF_ANY), Err(MapError::BadSize { .. })));
        assert_eq!(m.delete(&9u64.to_le_bytes()).unwrap_err().errno(), -2);
    }

    #[test]
    fn array_bounds_and_no_delete() {
        let mut m = Map::new(&spec(MapType::Array, 4, 4, 3)).unwrap();
        m.update(&2u32.to_le_bytes(), &7u32.to_le_bytes(), BPF_ANY).unwrap();
        assert_eq!(m.lookup(&2u32.to_le_bytes()).unwrap().unwrap(), 7u32.to_le_bytes());
        assert_eq!(m.lookup(&3u32.to_le_bytes()).unwrap(), None);
        assert!(matches!(m.update(&3u32.to_le_bytes(), &[0; 4], BPF_ANY), Err(MapError::IndexOutOfRange { .. })));
        assert!(m.delete(&0u32.to_le_bytes()).is_err());
        assert_eq!(m.entries().len(), 3);
    }

    #[test]
    fn oversized_or_empty_maps_are_refused() {
        assert!(Map::new(&spec(MapType::Hash, 8, 1 << 20, 1 << 20)).is_err());
        assert!(Map::new(&spec(MapType::Hash, 8, 8, 0)).is_err());
        assert!(Map::new(&spec(MapType::Ringbuf, 0, 0, 1000)).is_err());
        assert!(Map::new(&spec(MapType::Array, 8, 8, 1)).is_err());
    }

    #[test]
    fn ringbuf_accounts_space() {
        let mut m = Map::new(&spec(MapType::Ringbuf, 0, 0, 32)).unwrap();
        assert!(m.ringbuf_output(&[1, 2, 3]).unwrap()); // 16 bytes
        assert!(m.ringbuf_output(&[4; 8]).unwrap()); // 16 bytes
        assert!(!m.ringbuf_output(&[5]).unwrap()); // full
        assert_eq!(m.ringbuf_dropped(), 1);
        assert_eq!(m.ringbuf_pop().unwrap().unwrap(), [1, 2, 3]);
        assert!(m.ringbuf_output(&[5]).unwrap());
        assert_eq!(m.len(), 2);
    }
}
