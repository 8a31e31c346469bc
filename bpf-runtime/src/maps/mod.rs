//! Map storage with fixed sizes: HASH, ARRAY, PERCPU_ARRAY (one CPU), RINGBUF
//! and the one-element arrays that hold global data.
//!
//! Every map allocates its whole value area up front (`max_entries *
//! value_size` bytes), so a value never moves: the interpreter hands programs
//! addresses of the form *(map region, byte offset)*, the JIT the same, and
//! both check every access against the area. Keys and values are checked
//! against the map's sizes on every call, from a program or from outside
//! (the shell's dump commands).
//!
//! Maps synchronize internally, so one map serves programs running on
//! several CPUs and the shell at once through `&Map`: values are atomic
//! words ([`values`]), hash lookups take no lock and updates lock one bucket
//! ([`hash`]), the ring buffer takes many producers ([`ringbuf`]).

pub mod hash;
pub mod ringbuf;
pub mod values;

use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use crate::spec::{MapSpec, MapType};
use hash::{HashIndex, InsertError, Mode};
use ringbuf::Ringbuf;
use values::Values;

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

enum Store {
    Array,
    Hash(HashIndex),
    Ringbuf(Ringbuf),
}

/// One map: its specification, its value area and its index.
pub struct Map {
    spec: MapSpec,
    values: Values,
    store: Store,
    /// A hash map's [`hash::Probe`] for the JIT (8-byte keys), at a fixed
    /// address once the map is in its `Arc`.
    probe: Option<hash::Probe>,
}

/// Bytes a map may come to hold: values, plus keys and links for hashes,
/// plus records for ring buffers.
pub fn map_bytes(spec: &MapSpec) -> u64 {
    let n = spec.max_entries as u64;
    let values = spec.value_size as u64 * n;
    match spec.kind {
        MapType::Hash => values + ((spec.key_size as u64).div_ceil(8) * 8 + hash::OVERHEAD_PER_ENTRY) * n,
        MapType::Ringbuf => n,
        _ => values,
    }
}

/// Bytes a ring-buffer record occupies.
pub fn ringbuf_record_cost(len: usize) -> usize {
    ringbuf::record_cost(len)
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
            MapType::Hash => Store::Hash(HashIndex::new(spec.key_size as usize, spec.max_entries)),
            MapType::Ringbuf => Store::Ringbuf(Ringbuf::new(spec.max_entries as usize)),
        };
        let len = if spec.kind == MapType::Ringbuf { 0 } else { spec.value_size as usize * spec.max_entries as usize };
        let probe = match &store {
            Store::Hash(h) => h.probe(spec.value_size),
            _ => None,
        };
        Ok(Map { spec: spec.clone(), values: Values::new(len, spec.initial.as_deref()), store, probe })
    }

    pub fn spec(&self) -> &MapSpec {
        &self.spec
    }

    fn name(&self) -> alloc::string::String {
        self.spec.name.clone()
    }

    fn check(&self, what: &'static str, got: usize, want: u32) -> Result<(), MapError> {
        if got != want as usize {
            return Err(MapError::BadSize { map: self.name(), what, got, want: want as usize });
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
                Ok(h.get(key).map(|slot| slot as usize * vs))
            }
            Store::Ringbuf(_) => Err(MapError::Unsupported(self.name())),
        }
    }

    /// [`Map::lookup_offset`] for a key of the map's `key_size` (the
    /// caller checked), on the programs' hot path: `None` for a ring
    /// buffer, else whether the key is present.
    #[inline(always)]
    pub(crate) fn find(&self, key: &[u8]) -> Option<Option<usize>> {
        debug_assert_eq!(key.len(), self.spec.key_size as usize);
        let vs = self.spec.value_size as usize;
        match &self.store {
            Store::Hash(h) => Some(h.get(key).map(|slot| slot as usize * vs)),
            Store::Array => {
                let i = u32::from_le_bytes(*key.first_chunk::<4>()?);
                Some((i < self.spec.max_entries).then_some(i as usize * vs))
            }
            Store::Ringbuf(_) => None,
        }
    }

    /// A copy of the value stored under `key` (programs may be changing it
    /// at the same time, so no reference is handed out).
    pub fn lookup(&self, key: &[u8]) -> Result<Option<Vec<u8>>, MapError> {
        let vs = self.spec.value_size as usize;
        Ok(self.lookup_offset(key)?.map(|o| {
            let mut v = vec![0; vs];
            self.values.read(o, &mut v);
            v
        }))
    }

    /// Inserts or replaces, with Linux's `BPF_ANY`/`BPF_NOEXIST`/`BPF_EXIST`.
    pub fn update(&self, key: &[u8], value: &[u8], flags: u64) -> Result<(), MapError> {
        if flags > BPF_EXIST {
            return Err(MapError::BadFlags(self.name(), flags));
        }
        self.check("value", value.len(), self.spec.value_size)?;
        let vs = self.spec.value_size as usize;
        match &self.store {
            Store::Array => {
                let i = self.array_index(key)?;
                if i >= self.spec.max_entries {
                    return Err(MapError::IndexOutOfRange { map: self.name(), index: i, max: self.spec.max_entries });
                }
                if flags == BPF_NOEXIST {
                    return Err(MapError::Exists(self.name()));
                }
                self.values.write(i as usize * vs, value);
                Ok(())
            }
            Store::Hash(h) => {
                self.check("key", key.len(), self.spec.key_size)?;
                let mode = match flags {
                    BPF_NOEXIST => Mode::Create,
                    BPF_EXIST => Mode::Replace,
                    _ => Mode::Any,
                };
                h.upsert(key, mode, |slot, _| self.values.write(slot as usize * vs, value)).map_err(|e| match e {
                    InsertError::Exists => MapError::Exists(self.name()),
                    InsertError::NotFound => MapError::NotFound(self.name()),
                    InsertError::Full => MapError::Full(self.name()),
                })
            }
            Store::Ringbuf(_) => Err(MapError::Unsupported(self.name())),
        }
    }

    /// Removes `key`. Arrays cannot delete (`-EINVAL`, as in Linux).
    pub fn delete(&self, key: &[u8]) -> Result<(), MapError> {
        match &self.store {
            Store::Hash(h) => {
                self.check("key", key.len(), self.spec.key_size)?;
                let vs = self.spec.value_size as usize;
                // A program may still hold a pointer to the old slot; zeroing
                // keeps stale reads from seeing the next owner's data early.
                h.remove(key, |slot| self.values.clear(slot as usize * vs, vs)).ok_or_else(|| MapError::NotFound(self.name()))?;
                Ok(())
            }
            Store::Array => {
                self.array_index(key)?;
                Err(MapError::Unsupported(self.name()))
            }
            Store::Ringbuf(_) => Err(MapError::Unsupported(self.name())),
        }
    }

    fn value_at(&self, slot: u32) -> Vec<u8> {
        let vs = self.spec.value_size as usize;
        let mut v = vec![0; vs];
        self.values.read(slot as usize * vs, &mut v);
        v
    }

    /// All `(key, value)` pairs, in slot order for arrays and in unspecified
    /// order for hashes.
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        match &self.store {
            Store::Array => (0..self.spec.max_entries).map(|i| (i.to_le_bytes().to_vec(), self.value_at(i))).collect(),
            Store::Hash(h) => h.pairs().into_iter().map(|(k, slot)| (k, self.value_at(slot))).collect(),
            Store::Ringbuf(_) => Vec::new(),
        }
    }

    /// The first element at index (array) or slot (hash) `from` or after:
    /// its index or slot and its value's offset in [`Map::values`], with
    /// its key copied into `key`. `bpf_for_each_map_elem` walks a map with
    /// it, taking no lock, so its callback may update the map.
    pub fn next_entry(&self, from: u32, key: &mut Vec<u8>) -> Result<Option<(u32, usize)>, MapError> {
        let vs = self.spec.value_size as usize;
        match &self.store {
            Store::Array if from < self.spec.max_entries => {
                key.clear();
                key.extend_from_slice(&from.to_le_bytes());
                Ok(Some((from, from as usize * vs)))
            }
            Store::Array => Ok(None),
            Store::Hash(h) => Ok(h.next_used(from, key).map(|s| (s, s as usize * vs))),
            Store::Ringbuf(_) => Err(MapError::Unsupported(self.name())),
        }
    }

    /// Number of present entries (records waiting, for a ring buffer).
    pub fn len(&self) -> usize {
        match &self.store {
            Store::Array => self.spec.max_entries as usize,
            Store::Hash(h) => h.len(),
            Store::Ringbuf(r) => r.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value area programs address.
    pub fn values(&self) -> &Values {
        &self.values
    }

    /// Whether programs may write the value area.
    pub fn writable(&self) -> bool {
        !self.spec.read_only
    }

    fn ring(&self) -> Result<&Ringbuf, MapError> {
        match &self.store {
            Store::Ringbuf(r) => Ok(r),
            _ => Err(MapError::Unsupported(self.name())),
        }
    }

    /// Accounts space for a record of `len` bytes; false if it does not fit
    /// (the record is dropped and counted, as Linux's reserve returns NULL).
    pub fn ringbuf_claim(&self, len: usize) -> Result<bool, MapError> {
        Ok(self.ring()?.claim(len))
    }

    /// Gives back the space of a discarded reservation.
    pub fn ringbuf_release(&self, len: usize) -> Result<(), MapError> {
        self.ring()?.release(len);
        Ok(())
    }

    /// Appends a record whose space was claimed.
    pub fn ringbuf_commit(&self, data: Vec<u8>) -> Result<(), MapError> {
        self.ring()?.commit(data);
        Ok(())
    }

    /// `bpf_ringbuf_output`: claim and commit in one step.
    pub fn ringbuf_output(&self, data: &[u8]) -> Result<bool, MapError> {
        let r = self.ring()?;
        if !r.claim(data.len()) {
            return Ok(false);
        }
        r.commit(data.to_vec());
        Ok(true)
    }

    /// The consumer side: takes the oldest committed record.
    pub fn ringbuf_pop(&self) -> Result<Option<Vec<u8>>, MapError> {
        Ok(self.ring()?.pop())
    }

    /// Records dropped because the buffer was full.
    pub fn ringbuf_dropped(&self) -> u64 {
        self.ring().map_or(0, Ringbuf::dropped)
    }
}

/// The maps of one loaded object, indexed as the loader numbered them (the
/// `imm` of a relocated `lddw`).
/// Maps are shared (`Arc`): objects loaded into one kernel may use the same
/// map, as libbpf's pinning by name does.
#[derive(Default, Clone)]
pub struct MapSet {
    maps: Vec<Arc<Map>>,
    /// The maps as JIT regions, computed once: value areas never move.
    /// A `Vm` keeps a clone to know when its region table is current.
    pub(crate) regions: Arc<Vec<crate::jit::Region>>,
}

fn regions_of(maps: &[Arc<Map>]) -> Arc<Vec<crate::jit::Region>> {
    Arc::new(
        maps.iter()
            .map(|m| {
                let len = m.values.len() as u64;
                let probe = m.probe.as_ref().map_or(0, |p| p as *const hash::Probe as u64);
                crate::jit::Region { base: m.values.as_ptr() as u64, rlen: len, wlen: if m.writable() { len } else { 0 }, probe }
            })
            .collect(),
    )
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
        let maps: Vec<Arc<Map>> = specs.iter().map(|s| Map::new(s).map(Arc::new)).collect::<Result<_, _>>()?;
        Ok(MapSet { regions: regions_of(&maps), maps })
    }

    /// A set of existing maps, in `lddw` index order.
    pub fn from_shared(maps: Vec<Arc<Map>>) -> MapSet {
        MapSet { regions: regions_of(&maps), maps }
    }

    /// Map `idx`, shared.
    pub fn shared(&self, idx: usize) -> Result<Arc<Map>, MapError> {
        self.maps.get(idx).cloned().ok_or(MapError::NoSuchMap(idx))
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
    /// Map `idx`, if there is one (the hot path's [`MapSet::get`]).
    #[inline]
    pub(crate) fn map(&self, idx: usize) -> Option<&Map> {
        self.maps.get(idx).map(|m| &**m)
    }

    pub fn get(&self, idx: usize) -> Result<&Map, MapError> {
        match self.maps.get(idx) {
            Some(m) => Ok(m),
            None => Err(MapError::NoSuchMap(idx)),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Map> {
        self.maps.iter().map(|m| &**m)
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
        let m = Map::new(&spec(MapType::Hash, 8, 8, 2)).unwrap();
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
        let m = Map::new(&spec(MapType::Array, 4, 4, 3)).unwrap();
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
        let m = Map::new(&spec(MapType::Ringbuf, 0, 0, 32)).unwrap();
        assert!(m.ringbuf_output(&[1, 2, 3]).unwrap()); // 16 bytes
        assert!(m.ringbuf_output(&[4; 8]).unwrap()); // 16 bytes
        assert!(!m.ringbuf_output(&[5]).unwrap()); // full
        assert_eq!(m.ringbuf_dropped(), 1);
        assert_eq!(m.ringbuf_pop().unwrap().unwrap(), [1, 2, 3]);
        assert!(m.ringbuf_output(&[5]).unwrap());
        assert_eq!(m.len(), 2);
    }
}
