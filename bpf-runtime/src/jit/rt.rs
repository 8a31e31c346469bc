//! The boundary between the JIT's machine code and Rust: the run context the
//! code addresses through r12 ([`Rt`], `repr(C)`, field offsets shared with
//! the emitter), the Rust functions the code calls (helper calls: generic,
//! by definition, the map lookup, a `bpf_for_each_map_elem` step; and the
//! slow path of a memory access), and [`JitState::run_mem`] (or
//! `run_bare`), the calls into the code, with the context and region table
//! it keeps from run to run.
//! All of the JIT's `unsafe` is here and in [`super::ExecMemory`].
#![allow(unsafe_code)]

use core::mem::offset_of;

use crate::interp::mem::{self, Input, Mem};
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::helpers::{Env, HelperDef, Imp, LinuxHelpers};
use crate::interp::{ExecError, ExecErrorKind, HelperError, Helpers};

/// One entry of the region table: address tag `i` names the region at
/// index `i` (0 is empty, then stack, input, and the maps in order). Stores check `wlen`,
/// loads `rlen`; read-only regions have `wlen` 0, so a store into them
/// takes the slow path, which reports the precise fault. A hash map with
/// 8-byte keys also has its [`crate::maps::hash::Probe`]'s address in
/// `probe` (else 0), for the inline lookup.
#[derive(Clone, Copy, Default)]
#[repr(C)]
pub(crate) struct Region {
    pub base: u64,
    pub rlen: u64,
    pub wlen: u64,
    pub probe: u64,
}

/// `Region`'s size as a shift (the table is indexed by `tag << 5`) and its
/// field offsets, for the emitted code.
pub(crate) const REGION_SHIFT: u8 = 5;
const _: () = assert!(core::mem::size_of::<Region>() == 1 << REGION_SHIFT);
pub(crate) const REGION_BASE: i32 = offset_of!(Region, base) as i32;
pub(crate) const REGION_RLEN: i32 = offset_of!(Region, rlen) as i32;
pub(crate) const REGION_WLEN: i32 = offset_of!(Region, wlen) as i32;
pub(crate) const REGION_PROBE: i32 = offset_of!(Region, probe) as i32;

/// The register the machine code keeps the context ([`Rt`]) in.
pub(crate) const CTX: u8 = super::x86::R12;

/// How the machine code stopped with an error (`Rt::err`).
pub(crate) const ERR_NONE: u64 = 0;
pub(crate) const ERR_INVALID_OPCODE: u64 = 1;
pub(crate) const ERR_PC_OUT_OF_RANGE: u64 = 2;
pub(crate) const ERR_CALL_DEPTH: u64 = 3;
pub(crate) const ERR_STEP_LIMIT: u64 = 4;
/// Rust recorded the error in `Rt::error` (a fault or a helper's error).
pub(crate) const ERR_RECORDED: u64 = 5;
/// A callback helper (ID in `err_arg`) got something that is not one of
/// the program's callbacks.
pub(crate) const ERR_BAD_CALLBACK: u64 = 6;

/// The run context. The machine code reads and writes the fields before
/// `mem`; Rust owns the rest.
#[repr(C)]
pub(crate) struct Rt {
    /// The budget register (r10) while Rust runs; its initial value.
    pub budget: u64,
    /// rsp after the prologue, to unwind from any depth on an error.
    pub saved_rsp: u64,
    /// bpf-to-bpf call depth.
    pub depth: u64,
    /// The helper ID and the pc of the call in progress.
    pub call_id: u32,
    pub call_pc: u32,
    pub err: u64,
    pub err_pc: u64,
    pub err_arg: u64,
    /// Initial r2: the input's length (r1, its address, is a constant).
    pub r2: u64,
    pub nregions: u64,
    pub regions: *const Region,
    pub stack_base: *mut u8,
    pub scratch: u64,
    /// `bpf_for_each_map_elem`: the next cursor and the key's address
    /// [`for_each_shim`] found.
    pub fe_cursor: u64,
    pub fe_key: u64,
    pub mem: *mut Mem<'static>,
    pub helpers: *mut (dyn Helpers + 'static),
    /// `Helpers::linux_env` of `helpers`: the Linux helpers' embedder,
    /// whose helpers the shims then call directly (`None`: through
    /// `helpers`).
    pub env: Option<*mut (dyn Env + 'static)>,
    /// `Helpers::linux_maps` of `helpers`.
    pub linux: bool,
    /// The definition of the helper in progress, for [`def_shim`].
    pub call_def: *const HelperDef,
    pub error: Option<ExecError>,
}

pub(crate) const BUDGET: i32 = offset_of!(Rt, budget) as i32;
pub(crate) const SAVED_RSP: i32 = offset_of!(Rt, saved_rsp) as i32;
pub(crate) const DEPTH: i32 = offset_of!(Rt, depth) as i32;
pub(crate) const CALL_ID: i32 = offset_of!(Rt, call_id) as i32;
pub(crate) const CALL_PC: i32 = offset_of!(Rt, call_pc) as i32;
pub(crate) const ERR: i32 = offset_of!(Rt, err) as i32;
pub(crate) const ERR_PC: i32 = offset_of!(Rt, err_pc) as i32;
pub(crate) const ERR_ARG: i32 = offset_of!(Rt, err_arg) as i32;
pub(crate) const R2: i32 = offset_of!(Rt, r2) as i32;
pub(crate) const NREGIONS: i32 = offset_of!(Rt, nregions) as i32;
pub(crate) const REGIONS: i32 = offset_of!(Rt, regions) as i32;
pub(crate) const STACK_BASE: i32 = offset_of!(Rt, stack_base) as i32;
pub(crate) const SCRATCH: i32 = offset_of!(Rt, scratch) as i32;
pub(crate) const FE_CURSOR: i32 = offset_of!(Rt, fe_cursor) as i32;
pub(crate) const FE_KEY: i32 = offset_of!(Rt, fe_key) as i32;
pub(crate) const CALL_DEF: i32 = offset_of!(Rt, call_def) as i32;
pub(crate) const LINUX: i32 = offset_of!(Rt, linux) as i32;

/// The compiled program's entry: `r0 = f(rt)`, or an error in `rt.err`.
pub(crate) type Entry = unsafe extern "C" fn(*mut Rt) -> u64;

/// Called by the machine code for `callx` and unknown helper IDs, with BPF r1-r5 in the
/// System V argument registers and the context as the sixth argument.
///
/// # Safety
/// `rt` is the context [`JitState::run_mem`] passed to the code; it keeps it and
/// everything it points to alive and unaliased until the code returns.
pub(crate) unsafe extern "C" fn helper_shim(a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, rt: *mut Rt) -> u64 {
    // SAFETY: per the contract above; the machine code does not touch the
    // context or the run's memory while this function runs.
    let rt = unsafe { &mut *rt };
    // SAFETY: `mem` and `helpers` point to what `JitState::run_mem` borrows
    // for the whole run.
    let m = unsafe { &mut *rt.mem };
    let id = rt.call_id as i32;
    let args = [a1, a2, a3, a4, a5];
    let r = match rt.env {
        // One run uses either `env` or `helpers`, never both.
        // SAFETY: `env` is borrowed from `helpers` for the run, like it.
        Some(env) => crate::interp::call_helper(&mut LinuxHelpers { env: unsafe { &mut *env } }, true, id, &args, m),
        // SAFETY: as above.
        None => crate::interp::call_helper(unsafe { &mut *rt.helpers }, rt.linux, id, &args, m),
    };
    helper_result(rt, id, r)
}

#[inline(always)]
fn helper_result(rt: &mut Rt, id: i32, r: Result<u64, HelperError>) -> u64 {
    match r {
        Ok(v) => v,
        Err(err) => helper_failed(rt, id, err),
    }
}

#[cold]
fn helper_failed(rt: &mut Rt, id: i32, err: HelperError) -> u64 {
    rt.error = Some(ExecError { pc: rt.call_pc as usize, kind: ExecErrorKind::Helper { id, err } });
    rt.err = ERR_RECORDED;
    0
}

/// A call of the helper whose definition the code stored in `call_def`
/// (an `imm` the program names, checked at compile time): straight to
/// its implementation when the helpers are the Linux ones over an
/// embedder's `Env`, through `Helpers::call` otherwise.
///
/// # Safety
/// As for [`helper_shim`]; `call_def` points to a `HelperDef` from
/// [`crate::helpers::def`] (a static).
pub(crate) unsafe extern "C" fn def_shim(a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, rt: *mut Rt) -> u64 {
    // SAFETY: as in `helper_shim`.
    let rt = unsafe { &mut *rt };
    // SAFETY: `call_def` as promised above.
    let d = unsafe { &*rt.call_def };
    if let (Imp::Env(f), Some(env)) = (d.call, rt.env) {
        // SAFETY: `env` is borrowed from `helpers` for the run.
        let r = d.checked(f(unsafe { &mut *env }));
        return helper_result(rt, d.id, r);
    }
    // SAFETY: as in `helper_shim`.
    unsafe { def_shim_slow(a1, a2, a3, a4, a5, rt, d) }
}

/// [`def_shim`] for a helper that needs its arguments and memory, or
/// helpers that are not the Linux ones.
///
/// # Safety
/// As for [`helper_shim`].
#[inline(never)]
unsafe fn def_shim_slow(a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, rt: &mut Rt, d: &HelperDef) -> u64 {
    // SAFETY: as in `helper_shim`.
    let m = unsafe { &mut *rt.mem };
    let args = [a1, a2, a3, a4, a5];
    let r = match rt.env {
        // SAFETY: `env` is borrowed from `helpers` for the run, like it.
        Some(env) => LinuxHelpers::run_def(unsafe { &mut *env }, d, &args, m),
        // SAFETY: as in `helper_shim`.
        None => unsafe { &mut *rt.helpers }.call(d.id, &args, m),
    };
    helper_result(rt, d.id, r)
}

/// `bpf_map_lookup_elem` with a constant ID: in place for the Linux
/// helpers (as [`crate::interp::call_helper`]), else through `helpers`.
///
/// # Safety
/// As for [`helper_shim`].
pub(crate) unsafe extern "C" fn lookup_shim(a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, rt: *mut Rt) -> u64 {
    // SAFETY: as in `helper_shim`.
    let rt = unsafe { &mut *rt };
    if rt.linux {
        // SAFETY: as in `helper_shim`.
        if let Some(v) = crate::helpers::lookup_fast(unsafe { &*rt.mem }, a1, a2) {
            return v;
        }
    }
    // SAFETY: as in `helper_shim`.
    unsafe { lookup_shim_slow(a1, a2, a3, a4, a5, rt) }
}

/// [`lookup_shim`] off its fast path.
///
/// # Safety
/// As for [`helper_shim`].
#[cold]
#[inline(never)]
unsafe fn lookup_shim_slow(a1: u64, a2: u64, a3: u64, a4: u64, a5: u64, rt: &mut Rt) -> u64 {
    // SAFETY: as in `helper_shim`.
    let m = unsafe { &mut *rt.mem };
    let id = crate::isa::helper::MAP_LOOKUP_ELEM;
    let r = if rt.linux {
        crate::helpers::lookup_in_place(m, a1, a2)
    } else if let Some(env) = rt.env {
        // SAFETY: as in `def_shim`.
        LinuxHelpers { env: unsafe { &mut *env } }.call(id, &[a1, a2, a3, a4, a5], m)
    } else {
        // SAFETY: as in `helper_shim`.
        unsafe { &mut *rt.helpers }.call(id, &[a1, a2, a3, a4, a5], m)
    };
    helper_result(rt, id, r)
}

/// One step of `bpf_for_each_map_elem` (helper ID and pc in `call_id` and
/// `call_pc`): the address of the value of the element at `cursor` or
/// after it, with the next cursor and the key's address in `fe_cursor` and
/// `fe_key`; 0 past the last element, or after recording an error.
///
/// # Safety
/// As for [`helper_shim`].
pub(crate) unsafe extern "C" fn for_each_shim(map: u64, cursor: u64, rt: *mut Rt) -> u64 {
    // SAFETY: as in `helper_shim`.
    let rt = unsafe { &mut *rt };
    // SAFETY: as in `helper_shim`.
    let m = unsafe { &mut *rt.mem };
    // The callback's frame is one deeper than the caller's.
    match crate::helpers::callback::for_each_next(m, map, cursor, rt.depth as usize + 1) {
        Ok(Some((next, key, value))) => {
            rt.fe_cursor = next;
            rt.fe_key = key;
            value
        }
        Ok(None) => 0,
        Err(err) => {
            rt.error = Some(ExecError { pc: rt.call_pc as usize, kind: ExecErrorKind::Helper { id: rt.call_id as i32, err } });
            rt.err = ERR_RECORDED;
            0
        }
    }
}

/// The slow path of a memory access the region table did not resolve (a
/// ring buffer record, or a fault): the host address of `info & 0x7f` bytes
/// at `addr`, for writing if `info & 0x80`, or NULL after recording the
/// fault at pc `info >> 8`.
///
/// # Safety
/// As for [`helper_shim`].
pub(crate) unsafe extern "C" fn resolve_shim(rt: *mut Rt, addr: u64, info: u64) -> *mut u8 {
    // SAFETY: as in `helper_shim`.
    let rt = unsafe { &mut *rt };
    // SAFETY: as in `helper_shim`.
    let m = unsafe { &mut *rt.mem };
    match m.host_ptr(addr, (info & 0x7f) as usize, info & 0x80 != 0) {
        Ok(p) => p,
        Err(f) => {
            rt.error = Some(ExecError { pc: (info >> 8) as usize, kind: ExecErrorKind::Fault(f) });
            rt.err = ERR_RECORDED;
            core::ptr::null_mut()
        }
    }
}

/// `helpers.linux_env()` as a raw pointer, out of line on purpose. Inlined,
/// the compiler copies the fat pointer that the caller has just stored
/// (building `LinuxHelpers { env }` for the run) with one 16-byte load,
/// which the CPU cannot forward from the two 8-byte stores: a stall of
/// about 4 ns per run, a quarter of a hash counter's. Returned in two
/// registers, it is loaded as two words.
#[inline(never)]
fn env_of<H: Helpers>(helpers: &mut H) -> Option<*mut (dyn Env + '_)> {
    helpers.linux_env().map(|e| e as *mut dyn Env)
}

/// Helpers that provide nothing: the placeholder `Rt::helpers` holds
/// between runs (never called).
struct NoHelpers;

impl Helpers for NoHelpers {
    fn call(&mut self, _: i32, _: &[u64; 5], _: &mut Mem<'_>) -> Result<u64, HelperError> {
        Err(HelperError::Unknown)
    }
}

/// The JIT's state in a [`crate::interp::Vm`]: the run context and the
/// region table, kept from run to run, so that a run patches only what
/// changes (the input, the budget, the borrowed memory and helpers).
pub(crate) struct JitState {
    rt: Rt,
    /// Nothing, stack, input, then the maps of `regions_of` (by tag).
    regions: Vec<Region>,
    regions_of: Option<Arc<Vec<Region>>>,
}

// SAFETY: the raw pointers in `rt` are dereferenced only while `run`
// runs, by the code it calls and the shims, when what they point to is
// borrowed for the run; between runs they are never used.
unsafe impl Send for JitState {}
// SAFETY: as above; `&JitState` gives no access to the pointers.
unsafe impl Sync for JitState {}

impl Default for JitState {
    fn default() -> Self {
        JitState {
            rt: Rt {
                budget: 0,
                saved_rsp: 0,
                depth: 0,
                call_id: 0,
                call_pc: 0,
                err: ERR_NONE,
                err_pc: 0,
                err_arg: 0,
                r2: 0,
                nregions: 0,
                regions: core::ptr::null(),
                stack_base: core::ptr::null_mut(),
                scratch: 0,
                fe_cursor: 0,
                fe_key: 0,
                mem: core::ptr::null_mut(),
                helpers: core::ptr::null_mut::<NoHelpers>(),
                env: None,
                linux: false,
                call_def: core::ptr::null(),
                error: None,
            },
            regions: Vec::new(),
            regions_of: None,
        }
    }
}

impl JitState {
    /// Runs compiled code over `m` with `helpers`, starting with `budget`
    /// backward jumps and calls, then gives back the ring-buffer records
    /// the run reserved and did not hand back; r0, or an error for
    /// [`JitState::outcome`]. Out of line, for [`crate::interp::Vm::run_jit`]:
    /// inlined, its registers would be saved by every caller, also around
    /// runs of code without memory or helpers (a third of a no-op run);
    /// and it returns a `u64` in a register, not a `Result` through memory.
    /// `m` is built by the caller field by field and read here the same
    /// way, never copied whole (see [`env_of`] for why that matters).
    ///
    /// # Safety
    /// `entry` must be the first byte of an unmodified copy of code from
    /// [`super::compile`], in executable memory that stays mapped for the
    /// call.
    #[inline(never)]
    pub(crate) unsafe fn run_mem<H: Helpers>(&mut self, entry: *const u8, m: &mut Mem<'_>, helpers: &mut H, budget: u64) -> u64 {
        let stack_base = m.stack.as_mut_ptr();
        if !self.regions_of.as_ref().is_some_and(|c| Arc::ptr_eq(c, &m.maps.regions)) || self.rt.stack_base != stack_base {
            self.refill(m);
        }
        let input = match &mut m.input {
            Input::None => Region::default(),
            Input::ReadOnly(b) => Region { base: b.as_ptr() as u64, rlen: b.len() as u64, wlen: 0, probe: 0 },
            Input::Writable(b) => Region { base: b.as_mut_ptr() as u64, rlen: b.len() as u64, wlen: b.len() as u64, probe: 0 },
        };
        if let Some(r) = self.regions.get_mut(mem::TAG_INPUT as usize) {
            *r = input;
        }
        let rt = &mut self.rt;
        rt.budget = budget;
        rt.r2 = input.rlen;
        rt.linux = helpers.linux_maps();
        // SAFETY: only the lifetimes are erased: `m` and `helpers` (and
        // the `env` borrowed from it) outlive the call below, the only
        // user of these pointers. The shims use `env` when there is one
        // and `helpers` only otherwise.
        unsafe {
            rt.env = env_of(helpers).map(|e| core::mem::transmute::<*mut (dyn Env + '_), *mut (dyn Env + 'static)>(e));
            let h = helpers as &mut dyn Helpers as *mut dyn Helpers;
            rt.helpers = core::mem::transmute::<*mut dyn Helpers, *mut (dyn Helpers + 'static)>(h);
            rt.mem = core::mem::transmute::<*mut Mem<'_>, *mut Mem<'static>>(m as *mut Mem<'_>);
        }
        // SAFETY: as the caller guarantees; the context is set for the run.
        let r0 = unsafe { self.call(entry) };
        m.release_reservations();
        r0
    }

    /// Runs compiled code that touches no memory and calls no helper
    /// ([`super::scan::need::MEM`] clear): only the budget and r2, where
    /// `needs` asks for them, are set; `mem` and the helpers in the context
    /// stay as they were (dangling between runs, and never used).
    ///
    /// # Safety
    /// As for [`JitState::run_mem`], and the code was compiled with `needs`.
    #[inline]
    pub(crate) unsafe fn run_bare(&mut self, entry: *const u8, needs: u8, input: &Input<'_>, budget: u64) -> Result<u64, ExecError> {
        use super::scan::need;
        let rt = &mut self.rt;
        if needs & need::BUDGET != 0 {
            rt.budget = budget;
        }
        if needs & need::INPUT_LEN != 0 {
            rt.r2 = input.len() as u64;
        }
        // SAFETY: as the caller guarantees; such code reads only the
        // context, whose budget and r2 are set where it asks.
        let r0 = unsafe { self.call(entry) };
        self.outcome(r0, budget)
    }

    /// Calls the code with the context.
    ///
    /// # Safety
    /// `entry` is the first byte of our compiled code (see
    /// [`JitState::run_mem`]), and every context field the code uses is set
    /// for this run. Such code follows the System V ABI (callee-saved
    /// registers restored, rsp balanced even on an error exit), touches
    /// memory only through the region table, the stack base and the shims,
    /// and returns.
    #[inline(always)]
    unsafe fn call(&mut self, entry: *const u8) -> u64 {
        // SAFETY: as the caller guarantees.
        unsafe {
            let f: Entry = core::mem::transmute::<*const u8, Entry>(entry);
            f(&mut self.rt)
        }
    }

    /// What a run that returned `r0` came to: r0, or the error it stopped
    /// with (the context is then reset for the next run).
    #[inline(always)]
    pub(crate) fn outcome(&mut self, r0: u64, budget: u64) -> Result<u64, ExecError> {
        if self.rt.err != ERR_NONE {
            return Err(self.failed(budget));
        }
        Ok(r0)
    }

    /// The error the code stopped with; resets the context for the next run.
    #[cold]
    fn failed(&mut self, budget: u64) -> ExecError {
        let rt = &mut self.rt;
        let k = core::mem::replace(&mut rt.err, ERR_NONE);
        rt.depth = 0;
        if k == ERR_RECORDED {
            return rt.error.take().unwrap_or(ExecError { pc: 0, kind: ExecErrorKind::PcOutOfRange });
        }
        ExecError {
            pc: rt.err_pc as usize,
            kind: match k {
                ERR_INVALID_OPCODE => ExecErrorKind::InvalidOpcode(rt.err_arg as u8),
                ERR_PC_OUT_OF_RANGE => ExecErrorKind::PcOutOfRange,
                ERR_CALL_DEPTH => ExecErrorKind::CallDepth,
                ERR_BAD_CALLBACK => ExecErrorKind::Helper { id: rt.err_arg as i32, err: crate::interp::HelperError::BadArg(crate::interp::BAD_CALLBACK) },
                _ => ExecErrorKind::StepLimit(budget),
            },
        }
    }

    /// Rebuilds the region table: nothing (tag 0), stack, input (filled
    /// per run), then the maps, copied only when the map set changed (`regions_of` holds the
    /// set's table, so the comparison cannot be fooled by a freed and
    /// reused allocation).
    #[cold]
    fn refill(&mut self, m: &mut Mem<'_>) {
        let maps = &m.maps.regions;
        self.regions.clear();
        // Tag 0 names nothing: an empty region, so every access to it
        // takes the slow path, which reports the fault.
        self.regions.push(Region::default());
        self.regions.push(Region { base: m.stack.as_mut_ptr() as u64, rlen: m.stack.len() as u64, wlen: m.stack.len() as u64, probe: 0 });
        self.regions.push(Region::default());
        self.regions.extend_from_slice(maps);
        self.regions_of = Some(maps.clone());
        self.rt.stack_base = m.stack.as_mut_ptr();
        self.rt.regions = self.regions.as_ptr();
        self.rt.nregions = self.regions.len() as u64;
        debug_assert_eq!((mem::TAG_STACK, mem::TAG_INPUT, mem::TAG_MAP_BASE), (1, 2, 3));
    }
}
