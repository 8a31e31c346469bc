//! What is loaded into the instance: objects, their programs, and the maps,
//! each with an id (ids count up from 1 and are never reused while the
//! instance lives, so a stale id names nothing rather than something else).
//!
//! Maps are shared by name, like libbpf's pinning by name: an object that
//! declares a map with the name and definition of a live map uses that map,
//! so one object reads what another fills. The same name with another
//! definition refuses the load (as libbpf refuses to reuse an incompatible
//! pinned map). Global data (`.data`, `.bss`, `.rodata`) is private to its
//! object and listed as `<object>.bss` and so on, as libbpf names it.
//!
//! A load is all or nothing: everything is checked before anything is
//! registered.

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;

use shellproto::{Engine, LoadedObject, MapInfo, ProgInfo, Ref, ShellError};

use crate::bpf::{self, MapMeta, MapStore, ProgMeta, RunOutput, Runner};
use crate::kernel::Kernel;

struct ObjectEntry {
    name: String,
    /// Shared with the tracer's attachments, which run its programs.
    object: Arc<bpf::Object>,
    /// Map id of each of the object's map slots, in its order.
    maps: Vec<u32>,
    progs: Vec<u32>,
}

struct ProgEntry {
    object: u32,
    /// Index in the object.
    index: usize,
    meta: ProgMeta,
    run_count: u64,
    run_time_ns: u64,
}

struct MapSlot {
    /// The name listings show (global data prefixed with the object).
    name: String,
    meta: MapMeta,
    store: MapStore,
    /// Objects using it, in load order.
    objects: Vec<u32>,
}

/// A ring-buffer record taken by [`Registry::drain_ringbufs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub map: u32,
    pub map_name: String,
    pub object: String,
    pub data: Vec<u8>,
}

#[derive(Default)]
pub struct Registry {
    next_id: u32,
    objects: BTreeMap<u32, ObjectEntry>,
    progs: BTreeMap<u32, ProgEntry>,
    maps: BTreeMap<u32, MapSlot>,
}

/// `counts.o` → `counts`: the prefix of global-data map names.
fn object_stem(name: &str) -> &str {
    let base = name.rsplit('/').next().unwrap_or(name);
    base.strip_suffix(".o").unwrap_or(base)
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    fn fresh_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    pub fn prog_count(&self) -> usize {
        self.progs.len()
    }

    pub fn map_count(&self) -> usize {
        self.maps.len()
    }

    /// The live shareable map called `name`, if any.
    fn shared_map(&self, name: &str) -> Option<(u32, &MapSlot)> {
        self.maps.iter().find(|(_, m)| !m.meta.global_data && m.name == name).map(|(id, m)| (*id, m))
    }

    /// Loads an object (verifier included) for `engine`; all or nothing,
    /// except that programs the JIT failed on run on the interpreter (the
    /// second value says why).
    pub fn load<K: Kernel + ?Sized>(&mut self, name: &str, bytes: &[u8], engine: Engine, kernel: &mut K) -> Result<(LoadedObject, Option<String>), ShellError> {
        let bpf::Parts { mut object, progs, maps, jit_failed } = bpf::load(name, bytes, engine, kernel)?;
        // Check every map before registering anything.
        let mut uses: Vec<Option<u32>> = Vec::with_capacity(maps.len());
        for (meta, _) in &maps {
            let existing = if meta.global_data { None } else { self.shared_map(&meta.name) };
            match existing {
                Some((_, slot)) if slot.meta.def != meta.def || slot.meta.read_only != meta.read_only => {
                    return Err(ShellError::MapConflict { map: meta.name.clone(), existing: slot.meta.def, declared: meta.def });
                }
                Some((id, _)) => uses.push(Some(id)),
                None => uses.push(None),
            }
        }
        let oid = self.fresh_id();
        let mut map_ids = Vec::with_capacity(maps.len());
        for ((meta, store), used) in maps.into_iter().zip(uses) {
            let id = match used {
                // The object's own copy of a shared map is dropped here.
                Some(id) => id,
                None => {
                    let id = self.fresh_id();
                    let shown = if meta.global_data { format!("{}{}", object_stem(name), meta.name) } else { meta.name.clone() };
                    self.maps.insert(id, MapSlot { name: shown, meta, store, objects: Vec::new() });
                    id
                }
            };
            if let Some(m) = self.maps.get_mut(&id) {
                m.objects.push(oid);
            }
            map_ids.push(id);
        }
        {
            let stores: Vec<&MapStore> = map_ids.iter().filter_map(|id| self.maps.get(id).map(|m| &m.store)).collect();
            object.set_maps(&stores)?;
        }
        let object = Arc::new(object);
        let mut prog_ids = Vec::with_capacity(progs.len());
        for (index, meta) in progs.into_iter().enumerate() {
            let id = self.fresh_id();
            self.progs.insert(id, ProgEntry { object: oid, index, meta, run_count: 0, run_time_ns: 0 });
            prog_ids.push(id);
        }
        self.objects.insert(oid, ObjectEntry { name: name.to_string(), object, maps: map_ids.clone(), progs: prog_ids.clone() });
        let loaded = LoadedObject {
            id: oid,
            name: name.to_string(),
            progs: prog_ids.iter().filter_map(|&p| self.prog_info(p)).collect(),
            maps: map_ids.iter().filter_map(|&m| self.map_info(m)).collect(),
        };
        Ok((loaded, jit_failed))
    }

    /// A program by id, or by function or section name (which must be
    /// unique among the loaded programs).
    pub fn resolve_prog(&self, r: &Ref) -> Result<u32, ShellError> {
        match r {
            Ref::Id(id) if self.progs.contains_key(id) => Ok(*id),
            Ref::Id(_) => Err(ShellError::NoSuchProg(r.clone())),
            Ref::Name(n) => {
                let ids: Vec<u32> = self.progs.iter().filter(|(_, p)| p.meta.name == *n || p.meta.section == *n).map(|(id, _)| *id).collect();
                match ids.as_slice() {
                    [] => Err(ShellError::NoSuchProg(r.clone())),
                    [id] => Ok(*id),
                    _ => Err(ShellError::Ambiguous { what: "programs".into(), name: n.clone(), ids }),
                }
            }
        }
    }

    /// A map by id or by its listed name.
    pub fn resolve_map(&self, r: &Ref) -> Result<u32, ShellError> {
        match r {
            Ref::Id(id) if self.maps.contains_key(id) => Ok(*id),
            Ref::Id(_) => Err(ShellError::NoSuchMap(r.clone())),
            Ref::Name(n) => {
                let ids: Vec<u32> = self.maps.iter().filter(|(_, m)| m.name == *n).map(|(id, _)| *id).collect();
                match ids.as_slice() {
                    [] => Err(ShellError::NoSuchMap(r.clone())),
                    [id] => Ok(*id),
                    _ => Err(ShellError::Ambiguous { what: "maps".into(), name: n.clone(), ids }),
                }
            }
        }
    }

    pub fn prog_info(&self, id: u32) -> Option<ProgInfo> {
        let p = self.progs.get(&id)?;
        let o = self.objects.get(&p.object)?;
        Some(ProgInfo {
            id,
            name: p.meta.name.clone(),
            section: p.meta.section.clone(),
            prog_type: p.meta.prog_type,
            object: o.name.clone(),
            object_id: p.object,
            insns: p.meta.insns,
            maps: o.maps.clone(),
            run_count: p.run_count,
            run_time_ns: p.run_time_ns,
            engine: p.meta.engine,
        })
    }

    pub fn map_info(&self, id: u32) -> Option<MapInfo> {
        let m = self.maps.get(&id)?;
        Some(MapInfo {
            id,
            name: m.name.clone(),
            def: m.meta.def,
            entries: m.store.len() as u32,
            global_data: m.meta.global_data,
            read_only: m.meta.read_only,
            objects: m.objects.clone(),
        })
    }

    pub fn progs(&self) -> Vec<ProgInfo> {
        self.progs.keys().filter_map(|&id| self.prog_info(id)).collect()
    }

    pub fn maps(&self) -> Vec<MapInfo> {
        self.maps.keys().filter_map(|&id| self.map_info(id)).collect()
    }

    /// The program's metadata.
    pub fn prog_meta(&self, id: u32) -> Option<&ProgMeta> {
        self.progs.get(&id).map(|p| &p.meta)
    }

    /// Runs a program once and counts the run (failed runs count too, as
    /// in Linux's `run_cnt`).
    pub fn run<K: Kernel + ?Sized>(&mut self, id: u32, ctx: &[u8], runner: &mut Runner, kernel: &mut K) -> (Result<u64, ShellError>, RunOutput) {
        let Some(p) = self.progs.get_mut(&id) else {
            return (Err(ShellError::NoSuchProg(Ref::Id(id))), RunOutput::default());
        };
        let Some(o) = self.objects.get(&p.object) else {
            return (Err(ShellError::NoSuchProg(Ref::Id(id))), RunOutput::default());
        };
        let (r, out) = o.object.run(runner, p.index, ctx, kernel);
        p.run_count += 1;
        p.run_time_ns = p.run_time_ns.saturating_add(out.run_time_ns);
        (r, out)
    }

    /// What a trampoline needs to run program `id`: its object and index.
    pub fn traced(&self, id: u32) -> Option<crate::trace::Prog> {
        let p = self.progs.get(&id)?;
        let o = self.objects.get(&p.object)?;
        Some(crate::trace::Prog { id, name: Arc::from(p.meta.name.as_str()), object: o.object.clone(), index: p.index })
    }

    /// Unloads a program. When it was its object's last, the object goes,
    /// and with it the maps no other object uses. Returns the program ids
    /// and map ids removed.
    pub fn unload(&mut self, id: u32) -> Result<(Vec<u32>, Vec<u32>), ShellError> {
        let p = self.progs.remove(&id).ok_or(ShellError::NoSuchProg(Ref::Id(id)))?;
        let mut freed = Vec::new();
        let last = self.objects.get_mut(&p.object).is_some_and(|o| {
            o.progs.retain(|&x| x != id);
            o.progs.is_empty()
        });
        if last {
            if let Some(o) = self.objects.remove(&p.object) {
                for mid in o.maps {
                    let gone = self.maps.get_mut(&mid).is_some_and(|m| {
                        m.objects.retain(|&x| x != p.object);
                        m.objects.is_empty()
                    });
                    if gone {
                        self.maps.remove(&mid);
                        freed.push(mid);
                    }
                }
            }
        }
        Ok((alloc::vec![id], freed))
    }

    /// The map's listed name and store.
    pub fn map_mut(&mut self, id: u32) -> Result<(&str, &mut MapStore), ShellError> {
        let m = self.maps.get_mut(&id).ok_or(ShellError::NoSuchMap(Ref::Id(id)))?;
        Ok((&m.name, &mut m.store))
    }

    pub fn map(&self, id: u32) -> Result<&MapStore, ShellError> {
        self.maps.get(&id).map(|m| &m.store).ok_or(ShellError::NoSuchMap(Ref::Id(id)))
    }

    /// Takes up to `max` waiting ring-buffer records, oldest first per map,
    /// and the records each ring buffer dropped in total so far.
    pub fn drain_ringbufs(&mut self, max: usize) -> (Vec<Record>, Vec<(u32, String, u64)>) {
        let mut records = Vec::new();
        let mut dropped = Vec::new();
        for (&id, m) in self.maps.iter_mut() {
            if m.meta.def.map_type != shellproto::MapType::Ringbuf {
                continue;
            }
            let object = m.objects.first().and_then(|o| self.objects.get(o)).map_or_else(String::new, |o| o.name.clone());
            while records.len() < max {
                let Some(data) = m.store.ringbuf_pop() else { break };
                records.push(Record { map: id, map_name: m.name.clone(), object: object.clone(), data });
            }
            dropped.push((id, m.name.clone(), m.store.ringbuf_dropped()));
        }
        (records, dropped)
    }
}
