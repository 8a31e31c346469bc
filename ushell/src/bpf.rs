//! The shell's one contact with `bpf-runtime`: loading (the same
//! `runtime::load`, verifier included, as `ushell verify`), running,
//! map operations, and the helpers' environment. When the runtime's API
//! changes, this file changes.
//!
//! **Maps live outside their objects.** `runtime::load` gives an object its
//! own `MapSet`, which its programs address by index. To share a map between
//! objects (same name and definition, like libbpf's pinning by name) the
//! shell takes every map out of its object at load, leaving a one-byte
//! placeholder, and keeps it in the registry; for a run it swaps the
//! registry's maps into the object's slots and back. A swap moves a `Map`
//! (a few words), never its contents. This needs `&mut` access for the run,
//! which the runtime's `Loaded::run(&mut self, ..)` needs anyway; once
//! programs run concurrently (`run(&self)` with internally synchronized
//! maps) the runtime should let `load` take existing maps instead
//! (e.g. `Arc<Map>` per slot), and this file should use that.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use bpf_runtime::helpers::Env;
use bpf_runtime::interp::Vm;
use bpf_runtime::jit::{JitOptions, JitProgram};
use bpf_runtime::maps::{Map, MapError};
use bpf_runtime::runtime::{self, Loaded};
use bpf_runtime::spec::{self, MapSpec};
use shellproto::{Engine, MapDef, MapType, ProgType, ShellError, Symbol};

use crate::kernel::Kernel;

/// Most `bpf_printk` lines kept from one run; the rest are counted.
pub const MAX_LINES_PER_RUN: usize = 256;

/// A loaded object whose maps are held by the registry.
pub struct Object {
    loaded: Loaded,
}

/// One live map.
pub struct MapStore {
    map: alloc::sync::Arc<Map>,
}

/// A program as listings describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgMeta {
    pub name: String,
    pub section: String,
    pub prog_type: ProgType,
    pub insns: u32,
    /// What runs it.
    pub engine: Engine,
}

/// A map as the object declared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapMeta {
    /// The declared name (a section name such as `.bss` for global data).
    pub name: String,
    pub def: MapDef,
    pub global_data: bool,
    pub read_only: bool,
}

/// What a run produced besides its result.
#[derive(Debug, Default)]
pub struct RunOutput {
    /// `bpf_printk` lines, in order.
    pub lines: Vec<String>,
    /// Lines beyond [`MAX_LINES_PER_RUN`].
    pub lines_lost: u64,
    pub run_time_ns: u64,
}

/// Reusable execution state (the interpreter's stack).
#[derive(Default)]
pub struct Runner {
    vm: Vm,
}

fn prog_type(t: spec::ProgType) -> ProgType {
    match t {
        spec::ProgType::Fentry => ProgType::Fentry,
        spec::ProgType::Fexit => ProgType::Fexit,
        spec::ProgType::Kprobe => ProgType::Kprobe,
        spec::ProgType::TracepointSysEnter => ProgType::TracepointSysEnter,
        spec::ProgType::TracepointSysExit => ProgType::TracepointSysExit,
        spec::ProgType::RawTracepoint => ProgType::RawTracepoint,
        spec::ProgType::Syscall => ProgType::Syscall,
    }
}

fn map_type(t: spec::MapType) -> MapType {
    match t {
        spec::MapType::Hash => MapType::Hash,
        spec::MapType::Array => MapType::Array,
        spec::MapType::PercpuArray => MapType::PercpuArray,
        spec::MapType::Ringbuf => MapType::Ringbuf,
    }
}

fn map_meta(s: &MapSpec) -> MapMeta {
    MapMeta {
        name: s.name.clone(),
        def: MapDef { map_type: map_type(s.kind), key_size: s.key_size, value_size: s.value_size, max_entries: s.max_entries },
        // Global data is what the loader made from a section (`.data`,
        // `.bss`, `.rodata`): it has initial bytes or a section's name.
        global_data: s.initial.is_some() || s.name.starts_with('.'),
        read_only: s.read_only,
    }
}

/// A freshly loaded object, its programs in order, and the maps taken out
/// of it (in its slot order).
pub struct Parts {
    pub object: Object,
    pub progs: Vec<ProgMeta>,
    pub maps: Vec<(MapMeta, MapStore)>,
    /// Why the JIT was asked for but the interpreter runs some programs.
    pub jit_failed: Option<String>,
}

/// Parses, verifies every program and allocates the maps of an object;
/// takes the maps out (see the module docs). With [`Engine::Jit`] the
/// programs are compiled, constants blinded with a fresh random seed, into
/// the kernel's executable memory; if that fails the object still loads,
/// the programs not compiled on the interpreter, and
/// [`Parts::jit_failed`] says why.
pub fn load<K: Kernel + ?Sized>(object: &str, bytes: &[u8], engine: Engine, kernel: &mut K) -> Result<Parts, ShellError> {
    let mut loaded = runtime::load(bytes).map_err(|e| match e {
        runtime::Error::Rejected { program, section, err } => {
            ShellError::Rejected { program, section, insn: err.insn as u32, message: err.kind.to_string() }
        }
        other => ShellError::Object { object: object.to_string(), message: other.to_string() },
    })?;
    let mut jit_failed = None;
    if engine == Engine::Jit {
        let seed = (u64::from(kernel.random_u32()) << 32) | u64::from(kernel.random_u32());
        let opts = JitOptions { blinding: true, seed };
        let compiled = loaded.compile_jit(&opts, &mut |code| JitProgram::new(code, kernel.exec_memory(code.bytes())?));
        // Programs compiled before a failure keep their code; the rest
        // run on the interpreter, and the listing says which is which.
        jit_failed = compiled.err().map(|e| e.to_string());
    }
    let progs = loaded
        .programs
        .iter()
        .map(|p| ProgMeta {
            name: p.name.clone(),
            section: p.section.clone(),
            prog_type: prog_type(p.prog_type),
            insns: p.insns.len() as u32,
            engine: if p.is_jitted() { Engine::Jit } else { Engine::Interp },
        })
        .collect();
    let mut maps = Vec::with_capacity(loaded.maps.len());
    for i in 0..loaded.maps.len() {
        let map = loaded.maps.shared(i).map_err(|e| ShellError::Object { object: object.to_string(), message: e.to_string() })?;
        maps.push((map_meta(map.spec()), MapStore { map }));
    }
    Ok(Parts { object: Object { loaded }, progs, maps, jit_failed })
}

fn map_error(name: &str, e: MapError) -> ShellError {
    ShellError::Map { map: name.to_string(), errno: e.errno() as i32, message: e.to_string() }
}

impl Object {
    /// Points the object's slots at `maps` (its maps in its order, some
    /// of them shared with other objects through the registry), once at
    /// load: the runtime's maps synchronize internally, so a slot is an
    /// `Arc`, and the object is immutable afterwards (shared with the
    /// tracer, which runs its programs from trampolines).
    pub fn set_maps(&mut self, maps: &[&MapStore]) -> Result<(), ShellError> {
        if maps.len() != self.loaded.maps.len() {
            let msg = format!("{} maps given for {} slots", maps.len(), self.loaded.maps.len());
            return Err(ShellError::Object { object: String::new(), message: msg });
        }
        self.loaded.maps = bpf_runtime::maps::MapSet::from_shared(maps.iter().map(|m| m.map.clone()).collect());
        Ok(())
    }

    /// Runs program `index` with `ctx`.
    pub fn run<K: Kernel + ?Sized>(&self, runner: &mut Runner, index: usize, ctx: &[u8], kernel: &mut K) -> (Result<u64, ShellError>, RunOutput) {
        let mut out = RunOutput::default();
        let mut env = RunEnv { kernel, out: &mut out, call: None, window: None };
        let start = env.kernel.now_ns();
        let r = self.loaded.run(&mut runner.vm, index, ctx, &mut env);
        let end = env.kernel.now_ns();
        out.run_time_ns = end.saturating_sub(start);
        let r = r.map_err(|e| ShellError::Exec { program: self.prog_name(index), pc: e.pc as u32, message: e.kind.to_string() });
        (r, out)
    }

    /// Runs program `index` from a trampoline or a syscall hook (`origin`);
    /// `bpf_printk` lines go to `out`.
    pub fn run_traced<K: Kernel + ?Sized>(&self, vm: &mut Vm, index: usize, ctx: &[u8], origin: Origin<'_>, kernel: &mut K, out: &mut RunOutput) -> Result<u64, bpf_runtime::interp::ExecError> {
        let (call, window) = match origin {
            Origin::Call(c) => (Some(c), None),
            Origin::Tracepoint(w) => (None, w),
        };
        let mut env = RunEnv { kernel, out, call, window };
        self.loaded.run(vm, index, ctx, &mut env)
    }

    pub fn prog_name(&self, index: usize) -> String {
        self.loaded.programs.get(index).map_or_else(String::new, |p| p.name.clone())
    }
}

impl MapStore {
    /// Entries present (records waiting, for a ring buffer).
    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All `(key, value)` pairs (arrays in index order).
    pub fn entries(&self) -> Vec<(Vec<u8>, Vec<u8>)> {
        self.map.entries()
    }

    pub fn lookup(&self, name: &str, key: &[u8]) -> Result<Option<Vec<u8>>, ShellError> {
        self.map.lookup(key).map_err(|e| map_error(name, e))
    }

    /// `bpf_map_update_elem` from outside: a read-only map (`.rodata`)
    /// refuses, as Linux's `BPF_F_RDONLY_PROG` maps frozen by libbpf do.
    pub fn update(&mut self, name: &str, key: &[u8], value: &[u8], flags: u64) -> Result<(), ShellError> {
        if self.map.spec().read_only {
            return Err(map_error(name, MapError::ReadOnly(name.to_string())));
        }
        self.map.update(key, value, flags).map_err(|e| map_error(name, e))
    }

    pub fn delete(&mut self, name: &str, key: &[u8]) -> Result<(), ShellError> {
        self.map.delete(key).map_err(|e| map_error(name, e))
    }

    /// The oldest ring-buffer record, if any (`None` for other maps).
    pub fn ringbuf_pop(&mut self) -> Option<Vec<u8>> {
        self.map.ringbuf_pop().ok().flatten()
    }

    /// Records a ring buffer has dropped since it was created.
    pub fn ringbuf_dropped(&self) -> u64 {
        self.map.ringbuf_dropped()
    }
}

/// The helpers' environment for one run: the kernel's time, randomness and
/// task, with `bpf_printk` lines collected so they reach the host tagged
/// with the program.
/// What a traced run comes from, which decides what its helpers can see.
pub enum Origin<'a> {
    /// A trampoline: the call answers the function-call helpers (173,
    /// 183-185).
    Call(&'a tracer::CallInfo<'a>),
    /// A syscall tracepoint, with kernel memory the run may read with
    /// `bpf_probe_read_kernel` besides what the kernel allows (the
    /// `pt_regs` a raw tracepoint points at: address, bytes).
    Tracepoint(Option<(u64, &'a [u8])>),
}

struct RunEnv<'a, K: Kernel + ?Sized> {
    kernel: &'a mut K,
    out: &'a mut RunOutput,
    /// The traced call, for runs from a trampoline.
    call: Option<&'a tracer::CallInfo<'a>>,
    /// Kernel bytes this run may also read (address, bytes).
    window: Option<(u64, &'a [u8])>,
}

impl<K: Kernel + ?Sized> Env for RunEnv<'_, K> {
    fn ktime_ns(&mut self) -> u64 {
        self.kernel.now_ns()
    }

    fn trace(&mut self, line: &str) {
        if self.out.lines.len() < MAX_LINES_PER_RUN {
            self.out.lines.push(line.trim_end_matches('\n').to_string());
        } else {
            self.out.lines_lost += 1;
        }
    }

    fn prandom_u32(&mut self) -> u32 {
        self.kernel.random_u32()
    }

    fn cpu_id(&mut self) -> u32 {
        self.kernel.cpu_id()
    }

    fn pid_tgid(&mut self) -> u64 {
        let t = self.kernel.current_task();
        (u64::from(t.tgid) << 32) | u64::from(t.pid)
    }

    fn comm(&mut self) -> [u8; 16] {
        self.kernel.current_task().comm
    }

    fn probe_read(&mut self, space: bpf_runtime::helpers::AddrSpace, addr: u64, dst: &mut [u8]) -> Result<(), i64> {
        if let (bpf_runtime::helpers::AddrSpace::Kernel, Some((base, bytes))) = (space, self.window) {
            let off = addr.wrapping_sub(base);
            if let Some(src) = usize::try_from(off).ok().and_then(|o| bytes.get(o..o.checked_add(dst.len())?)) {
                dst.copy_from_slice(src);
                return Ok(());
            }
        }
        self.kernel.probe_read(space, addr, dst)
    }

    fn func_ip(&mut self) -> u64 {
        self.call.map_or(0, |c| c.ip)
    }

    fn func_arg(&mut self, n: u32) -> Result<u64, i64> {
        self.call.ok_or(bpf_runtime::helpers::EINVAL)?.arg(u64::from(n))
    }

    fn func_ret(&mut self) -> Result<u64, i64> {
        self.call.ok_or(bpf_runtime::helpers::EOPNOTSUPP)?.ret()
    }

    fn func_arg_cnt(&mut self) -> u64 {
        self.call.map_or(0, |c| u64::from(c.nr_args))
    }

    fn kallsyms_lookup(&mut self, name: &str) -> Option<u64> {
        let mut found = None;
        self.kernel.for_each_symbol(&mut |s: &Symbol| {
            if s.name == name {
                found = Some(s.addr);
            }
            found.is_none()
        });
        found
    }
}
