//! The program list per site and the attach/detach steps: [`Tracer`].
//!
//! Each traced site has an ordered list of programs (fentry, kprobe, fexit,
//! kretprobe mixed) and one live trampoline whose shape follows the list:
//! entry-only while no exit program is attached, calling the body when one
//! is. Attaching or detaching a program that does not change the shape only
//! edits the list; a shape change builds a new trampoline, repoints the
//! site's `call` at it and retires the old one; the last detach writes the
//! original nop back.
//!
//! Retired trampolines are freed by [`Tracer::reclaim`] once nothing can be
//! inside them: no thread stopped in their code (the embedder passes the
//! stopped instruction pointers) and no call in flight through an exit
//! trampoline (counted by the dispatch: a thread blocked inside a traced
//! function has the trampoline's address on its stack).
//!
//! Concurrency: [`Tracer::dispatch`] takes `&self` and a read lock, so any
//! number of CPUs run programs while the shell attaches (writers are
//! serialized and hold the write lock only to publish a change). Counters
//! are relaxed atomics per (site, program), like Linux's `run_cnt` /
//! `run_time_ns`.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use spin::{Mutex, RwLock};

use crate::discover::Site;
use crate::frame::{CallInfo, Phase, TraceFrame};
use crate::patch::{self, PatchError, PokeError, TextPoke};
use crate::tramp::{self, Dispatch, Spec, TrampError, Trampoline, MAX_LEN};
use crate::x86;

/// The kind of a tracing program, from its section name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgKind {
    /// `fentry/FUNC`: `u64 args[6]`, before the body.
    Fentry,
    /// `fexit/FUNC`: args and the return value, after the body.
    Fexit,
    /// `kprobe/FUNC`: `struct pt_regs`, before the body.
    Kprobe,
    /// `kretprobe/FUNC`: `struct pt_regs` with `ax` = the return value, after.
    Kretprobe,
}

impl ProgKind {
    pub fn phase(self) -> Phase {
        match self {
            ProgKind::Fentry | ProgKind::Kprobe => Phase::Entry,
            ProgKind::Fexit | ProgKind::Kretprobe => Phase::Exit,
        }
    }

    /// The kind and the function named by a libbpf section (`fentry/myfun`
    /// gives `(Fentry, Some("myfun"))`; a bare `fentry` gives no name).
    pub fn from_section(section: &str) -> Option<(ProgKind, Option<&str>)> {
        let (kind, rest) = section.split_once('/').map_or((section, None), |(k, r)| (k, Some(r)));
        let kind = match kind {
            "fentry" => ProgKind::Fentry,
            "fexit" => ProgKind::Fexit,
            "kprobe" => ProgKind::Kprobe,
            "kretprobe" => ProgKind::Kretprobe,
            _ => return None,
        };
        Some((kind, rest.filter(|r| !r.is_empty())))
    }

    pub fn name(self) -> &'static str {
        match self {
            ProgKind::Fentry => "fentry",
            ProgKind::Fexit => "fexit",
            ProgKind::Kprobe => "kprobe",
            ProgKind::Kretprobe => "kretprobe",
        }
    }
}

/// Executable memory for trampolines, implemented by the embedder (the
/// kernel: pages mapped executable, and for app sites user-executable but
/// not user-writable; the code is written through [`TextPoke`]).
pub trait TrampolineMemory {
    /// `len` bytes of executable memory within rel32 reach of `near`.
    fn alloc(&mut self, near: u64, len: usize) -> Result<u64, PokeError>;
    /// Gives back what `alloc` returned; nothing executes it any more.
    fn free(&mut self, addr: u64, len: usize);
}

/// What runs the programs, implemented by the embedder (the kernel: BPF
/// runtime, a `Vm` per CPU, an `Env` answering the helpers from `call`).
pub trait Runner<P> {
    /// Runs `prog` on `ctx`; the programs' return values are ignored, as in
    /// Linux for these types. Errors are the runner's to report.
    fn run(&mut self, prog: &P, ctx: &[u8], call: &CallInfo<'_>);
    /// Monotonic nanoseconds, for `run_time_ns` (only read while timing is on).
    fn now_ns(&mut self) -> u64 {
        0
    }
}

/// What attach and detach write with.
pub struct Text<'a> {
    pub poke: &'a mut dyn TextPoke,
    pub mem: &'a mut dyn TrampolineMemory,
    /// Instruction pointers of every stopped thread that may run the site.
    pub stopped_ips: &'a [u64],
}

/// One attachment, for detach and listings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttachId(pub u32);

/// What an attach or detach changed at the site (the shell prints it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub id: AttachId,
    pub site: u64,
    pub before: [u8; 5],
    pub after: [u8; 5],
    /// The trampoline the site calls now (None: back to the nop).
    pub trampoline: Option<u64>,
}

/// Why attach or detach failed; the tracer's state is unchanged then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttachError {
    #[error(transparent)]
    Patch(#[from] PatchError),
    #[error(transparent)]
    Trampoline(#[from] TrampError),
    #[error("trampoline memory: {0}")]
    Memory(PokeError),
    #[error("trampoline at {0:#x} reads back different bytes than were written")]
    TrampolineVerify(u64),
    #[error("no attachment {0}")]
    NoSuchAttachment(u32),
    #[error("site {0:#x} is being traced with different original bytes")]
    SiteMismatch(u64),
}

/// How trampolines reach the embedder, and what they save.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    pub dispatch: Dispatch,
    /// See [`Spec::save_vector`].
    pub save_vector: bool,
    /// Measure `run_time_ns` (two clock reads per program run).
    pub timing: bool,
}

/// A listing row (bpftool's `run_cnt`, `run_time_ns`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachInfo<P> {
    pub id: AttachId,
    pub site: Site,
    pub kind: ProgKind,
    pub prog: P,
    pub run_cnt: u64,
    pub run_time_ns: u64,
    pub trampoline: Option<u64>,
}

struct Attached<P> {
    id: AttachId,
    kind: ProgKind,
    prog: P,
    run_cnt: AtomicU64,
    run_time_ns: AtomicU64,
}

struct SiteState<P> {
    site: Site,
    nr_args: u8,
    progs: Vec<Attached<P>>,
    tramp: Option<u32>,
}

struct TrampSlot {
    site: usize,
    tramp: Trampoline,
    exit: bool,
    in_flight: AtomicU64,
    retired: bool,
}

struct State<P> {
    sites: Vec<SiteState<P>>,
    /// Indexed by trampoline id; `None` once freed (the id is reused).
    tramps: Vec<Option<TrampSlot>>,
    next_id: u32,
}

/// Sites, their programs and trampolines.
pub struct Tracer<P> {
    cfg: Config,
    timing: AtomicBool,
    state: RwLock<State<P>>,
    writer: Mutex<()>,
}

impl<P> Tracer<P> {
    pub fn new(cfg: Config) -> Tracer<P> {
        Tracer { cfg, timing: AtomicBool::new(cfg.timing), state: RwLock::new(State { sites: Vec::new(), tramps: Vec::new(), next_id: 1 }), writer: Mutex::new(()) }
    }

    /// Turns `run_time_ns` measurement on or off (Linux's `bpf_stats_enabled`).
    pub fn set_timing(&self, on: bool) {
        self.timing.store(on, Relaxed);
    }

    /// Runs the programs of trampoline `id` for `phase`: the body of the
    /// embedder's dispatch entry. Unknown ids are ignored (returns false):
    /// the kernel's syscall path checks the caller first.
    pub fn dispatch(&self, id: u32, phase: Phase, frame: &TraceFrame, runner: &mut dyn Runner<P>) -> bool {
        let st = self.state.read();
        let Some(Some(t)) = st.tramps.get(id as usize) else { return false };
        if t.exit {
            match phase {
                Phase::Entry => t.in_flight.fetch_add(1, Relaxed),
                Phase::Exit => t.in_flight.fetch_sub(1, Relaxed),
            };
        }
        let s = &st.sites[t.site];
        let call = CallInfo { ip: s.site.func, frame, phase, nr_args: s.nr_args };
        let timing = self.timing.load(Relaxed);
        let mut exit_buf = [0u8; 56];
        let exit: &[u8] = if phase == Phase::Exit { frame.fexit_ctx(s.nr_args, &mut exit_buf) } else { &[] };
        let mut regs: Option<[u8; crate::frame::PT_REGS_SIZE]> = None;
        for a in &s.progs {
            if a.kind.phase() != phase {
                continue;
            }
            let ctx: &[u8] = match a.kind {
                ProgKind::Fentry => frame.fentry_ctx(),
                ProgKind::Fexit => exit,
                ProgKind::Kprobe => &regs.get_or_insert_with(|| frame.kprobe_ctx(s.site.func))[..],
                ProgKind::Kretprobe => &regs.get_or_insert_with(|| TraceFrame { rax: frame.ret, ..*frame }.kprobe_ctx(s.site.func))[..],
            };
            let t0 = if timing { runner.now_ns() } else { 0 };
            runner.run(&a.prog, ctx, &call);
            if timing {
                a.run_time_ns.fetch_add(runner.now_ns().wrapping_sub(t0), Relaxed);
            }
            a.run_cnt.fetch_add(1, Relaxed);
        }
        true
    }

    /// The bytes the site holds now, as far as the tracer knows.
    fn current_bytes(st: &State<P>, s: &SiteState<P>) -> [u8; 5] {
        match s.tramp.and_then(|t| st.tramps[t as usize].as_ref()) {
            Some(t) => x86::call_rel32(s.site.addr, t.tramp.addr).unwrap_or(s.site.original),
            None => s.site.original,
        }
    }

    /// Builds and writes a trampoline for site slot `si`; returns its id.
    fn install(&self, text: &mut Text<'_>, si: usize, site: &Site, exit: bool) -> Result<(u32, Trampoline), AttachError> {
        let id = {
            let st = self.state.read();
            st.tramps.iter().position(Option::is_none).unwrap_or(st.tramps.len()) as u32
        };
        let addr = text.mem.alloc(site.addr, MAX_LEN).map_err(AttachError::Memory)?;
        let spec = Spec { site: site.addr, id, exit, dispatch: self.cfg.dispatch, save_vector: self.cfg.save_vector, stack_args: 0 };
        let written = tramp::build(&spec, addr).map_err(AttachError::from).and_then(|t| {
            text.poke.write(addr, &t.code).map_err(AttachError::Memory)?;
            let mut back = alloc::vec![0u8; t.code.len()];
            text.poke.read(addr, &mut back).map_err(AttachError::Memory)?;
            if back != t.code {
                return Err(AttachError::TrampolineVerify(addr));
            }
            text.poke.sync_cores(addr, t.code.len());
            Ok(t)
        });
        let t = match written {
            Ok(t) => t,
            Err(e) => {
                text.mem.free(addr, MAX_LEN);
                return Err(e);
            }
        };
        let mut st = self.state.write();
        let slot = TrampSlot { site: si, tramp: t.clone(), exit, in_flight: AtomicU64::new(0), retired: false };
        if id as usize == st.tramps.len() {
            st.tramps.push(Some(slot));
        } else {
            st.tramps[id as usize] = Some(slot);
        }
        Ok((id, t))
    }

    /// Frees a trampoline that was never reachable (a failed patch).
    fn uninstall(&self, text: &mut Text<'_>, id: u32) {
        if let Some(t) = self.state.write().tramps[id as usize].take() {
            text.mem.free(t.tramp.addr, MAX_LEN);
        }
    }

    /// Attaches `prog` to `site` after the programs already there.
    /// `nr_args` is the function's argument count if known (from BTF, or
    /// the user), else 6: it places the return value in the fexit context
    /// and bounds `bpf_get_func_arg`. The site's first attach sets it; a
    /// later one with a count below 6 corrects it for all its programs.
    pub fn attach(&self, site: &Site, kind: ProgKind, prog: P, nr_args: u8, text: &mut Text<'_>) -> Result<Change, AttachError> {
        let _w = self.writer.lock();
        let (si, before, cur, cur_exit, id) = {
            let mut st = self.state.write();
            let si = match st.sites.iter().position(|s| s.site.addr == site.addr) {
                Some(i) if st.sites[i].site.original != site.original => return Err(AttachError::SiteMismatch(site.addr)),
                Some(i) => {
                    // A count below 6 is a fact about the function (the
                    // user said it); 6 is "unknown" and keeps what is known.
                    if nr_args < 6 {
                        st.sites[i].nr_args = nr_args;
                    }
                    i
                }
                None => {
                    st.sites.push(SiteState { site: site.clone(), nr_args: nr_args.min(6), progs: Vec::new(), tramp: None });
                    st.sites.len() - 1
                }
            };
            let id = AttachId(st.next_id);
            st.next_id += 1;
            let s = &st.sites[si];
            let cur = s.tramp;
            let cur_exit = cur.and_then(|t| st.tramps[t as usize].as_ref()).is_some_and(|t| t.exit);
            (si, Self::current_bytes(&st, s), cur, cur_exit, id)
        };
        let entry = Attached { id, kind, prog, run_cnt: AtomicU64::new(0), run_time_ns: AtomicU64::new(0) };
        let need_exit = cur_exit || kind.phase() == Phase::Exit;
        if cur.is_some() && need_exit == cur_exit {
            self.state.write().sites[si].progs.push(entry);
            return Ok(Change { id, site: site.addr, before, after: before, trampoline: self.trampoline_of(si) });
        }
        let (tid, t) = self.install(text, si, site, need_exit)?;
        // Publish the program before the site can reach the trampoline.
        self.state.write().sites[si].progs.push(entry);
        let after = x86::call_rel32(site.addr, t.addr).ok_or(TrampError::OutOfReach { site: site.addr, tramp: t.addr })?;
        if let Err(e) = patch::patch(text.poke, site.addr, &before, &after, text.stopped_ips) {
            self.state.write().sites[si].progs.retain(|a| a.id != id);
            self.uninstall(text, tid);
            return Err(e.into());
        }
        self.swap_trampoline(si, Some(tid));
        Ok(Change { id, site: site.addr, before, after, trampoline: Some(t.addr) })
    }

    /// Points site slot `si` at `new`, retiring the old trampoline.
    fn swap_trampoline(&self, si: usize, new: Option<u32>) {
        let mut st = self.state.write();
        if let Some(old) = core::mem::replace(&mut st.sites[si].tramp, new) {
            if let Some(t) = st.tramps[old as usize].as_mut() {
                t.retired = true;
            }
        }
    }

    fn trampoline_of(&self, si: usize) -> Option<u64> {
        let st = self.state.read();
        st.sites[si].tramp.and_then(|t| st.tramps[t as usize].as_ref()).map(|t| t.tramp.addr)
    }

    /// Detaches one attachment; the others on the site keep running. The
    /// last one restores the original nop. Returns the program and what
    /// changed at the site.
    pub fn detach(&self, id: AttachId, text: &mut Text<'_>) -> Result<(P, Change), AttachError> {
        let _w = self.writer.lock();
        let (si, site, before, cur_exit, rest_exit, rest_empty) = {
            let st = self.state.read();
            let Some(si) = st.sites.iter().position(|s| s.progs.iter().any(|a| a.id == id)) else {
                return Err(AttachError::NoSuchAttachment(id.0));
            };
            let s = &st.sites[si];
            let rest = || s.progs.iter().filter(|a| a.id != id);
            let cur_exit = s.tramp.and_then(|t| st.tramps[t as usize].as_ref()).is_some_and(|t| t.exit);
            (si, s.site.clone(), Self::current_bytes(&st, s), cur_exit, rest().any(|a| a.kind.phase() == Phase::Exit), rest().next().is_none())
        };
        let remove = |this: &Self| -> P {
            let mut st = this.state.write();
            let progs = &mut st.sites[si].progs;
            let i = progs.iter().position(|a| a.id == id).unwrap_or(0);
            progs.remove(i).prog
        };
        if rest_empty {
            patch::patch(text.poke, site.addr, &before, &site.original, text.stopped_ips)?;
            self.swap_trampoline(si, None);
            return Ok((remove(self), Change { id, site: site.addr, before, after: site.original, trampoline: None }));
        }
        if rest_exit == cur_exit {
            return Ok((remove(self), Change { id, site: site.addr, before, after: before, trampoline: self.trampoline_of(si) }));
        }
        let (tid, t) = self.install(text, si, &site, rest_exit)?;
        let after = x86::call_rel32(site.addr, t.addr).ok_or(TrampError::OutOfReach { site: site.addr, tramp: t.addr })?;
        if let Err(e) = patch::patch(text.poke, site.addr, &before, &after, text.stopped_ips) {
            self.uninstall(text, tid);
            return Err(e.into());
        }
        self.swap_trampoline(si, Some(tid));
        Ok((remove(self), Change { id, site: site.addr, before, after, trampoline: Some(t.addr) }))
    }

    /// Frees retired trampolines nothing can be inside: none of
    /// `stopped_ips` in their code, no call in flight through them.
    /// Returns how many are still waiting.
    pub fn reclaim(&self, mem: &mut dyn TrampolineMemory, stopped_ips: &[u64]) -> usize {
        let _w = self.writer.lock();
        let mut st = self.state.write();
        let mut waiting = 0;
        for slot in st.tramps.iter_mut() {
            let Some(t) = slot else { continue };
            if !t.retired {
                continue;
            }
            if t.in_flight.load(Relaxed) != 0 || stopped_ips.iter().any(|&ip| t.tramp.contains(ip)) {
                waiting += 1;
                continue;
            }
            mem.free(t.tramp.addr, MAX_LEN);
            *slot = None;
        }
        waiting
    }

    /// The trampoline id a syscall-dispatch return address belongs to, and
    /// the phase: the kernel's check that the reserved syscall came from
    /// trampoline `id` (`rcx` = `rip`), live or retired.
    pub fn syscall_origin(&self, id: u32, rip: u64) -> Option<Phase> {
        let st = self.state.read();
        let t = st.tramps.get(id as usize)?.as_ref()?;
        match t.tramp.syscall_returns.iter().position(|&r| r == rip)? {
            0 => Some(Phase::Entry),
            _ => Some(Phase::Exit),
        }
    }

    /// Whether `ip` is inside any trampoline (live or retired), and whose.
    pub fn trampoline_at(&self, ip: u64) -> Option<u64> {
        let st = self.state.read();
        st.tramps.iter().flatten().find(|t| t.tramp.contains(ip)).map(|t| st.sites[t.site].site.func)
    }

    /// Number of trampolines allocated (live and waiting for reclaim).
    pub fn trampolines(&self) -> usize {
        self.state.read().tramps.iter().flatten().count()
    }
}

impl<P: Clone> Tracer<P> {
    /// Every attachment, by site in first-attach order, then attach order.
    pub fn list(&self) -> Vec<AttachInfo<P>> {
        let st = self.state.read();
        let mut out = Vec::new();
        for s in &st.sites {
            let trampoline = s.tramp.and_then(|t| st.tramps[t as usize].as_ref()).map(|t| t.tramp.addr);
            for a in &s.progs {
                out.push(AttachInfo {
                    id: a.id,
                    site: s.site.clone(),
                    kind: a.kind,
                    prog: a.prog.clone(),
                    run_cnt: a.run_cnt.load(Relaxed),
                    run_time_ns: a.run_time_ns.load(Relaxed),
                    trampoline,
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nops::NOPL5;
    use crate::patch::tests::FakeText;
    use alloc::string::String;
    use alloc::vec;

    const SITE: u64 = 0x40_1200;
    const ARENA: u64 = 0x50_0000;

    /// Slots of MAX_LEN bytes at ARENA, backed by the same fake text.
    struct FakeMem {
        used: Vec<bool>,
        freed: Vec<u64>,
        fail: bool,
    }

    impl TrampolineMemory for FakeMem {
        fn alloc(&mut self, _near: u64, _len: usize) -> Result<u64, PokeError> {
            if self.fail {
                return Err(PokeError::Failed(0, "full"));
            }
            let i = self.used.iter().position(|u| !u).ok_or(PokeError::Failed(0, "full"))?;
            self.used[i] = true;
            Ok(ARENA + (i * MAX_LEN) as u64)
        }
        fn free(&mut self, addr: u64, _len: usize) {
            self.used[((addr - ARENA) as usize) / MAX_LEN] = false;
            self.freed.push(addr);
        }
    }

    struct World {
        text: FakeText,
        mem: FakeMem,
    }

    impl World {
        fn new() -> World {
            let mut text = FakeText::with(SITE, &NOPL5);
            text.put(ARENA, &vec![0u8; 8 * MAX_LEN]);
            World { text, mem: FakeMem { used: vec![false; 8], freed: Vec::new(), fail: false } }
        }
        fn text(&mut self) -> Text<'_> {
            Text { poke: &mut self.text, mem: &mut self.mem, stopped_ips: &[] }
        }
        fn site_bytes(&self) -> Vec<u8> {
            self.text.get(SITE, 5)
        }
    }

    fn site() -> Site {
        Site { name: "myfun".into(), func: SITE, addr: SITE, original: NOPL5, form: crate::nops::NopForm::Mcount, listed: true }
    }

    fn tracer() -> Tracer<&'static str> {
        Tracer::new(Config { dispatch: Dispatch::Call(0x40_8000), save_vector: false, timing: true })
    }

    /// Records which programs ran, with what context.
    #[derive(Default)]
    struct Log {
        ran: Vec<(&'static str, usize, u64)>,
        clock: u64,
    }

    impl Runner<&'static str> for Log {
        fn run(&mut self, prog: &&'static str, ctx: &[u8], call: &CallInfo<'_>) {
            let first = u64::from_ne_bytes(ctx[..8].try_into().unwrap());
            self.ran.push((prog, ctx.len(), first));
            assert_eq!(call.func_ip(), SITE);
        }
        fn now_ns(&mut self) -> u64 {
            self.clock += 10;
            self.clock
        }
    }

    fn frame() -> TraceFrame {
        TraceFrame { args: [41, 2, 3, 4, 5, 6], ret: 99, r15: 1515, ..Default::default() }
    }

    fn live_tramp(t: &Tracer<&'static str>) -> (u32, u64) {
        let st = t.state.read();
        let id = st.sites[0].tramp.unwrap();
        (id, st.tramps[id as usize].as_ref().unwrap().tramp.addr)
    }

    #[test]
    fn attach_patches_and_runs_in_order() {
        let mut w = World::new();
        let t = tracer();
        let c1 = t.attach(&site(), ProgKind::Fentry, "count", 6, &mut w.text()).unwrap();
        assert_eq!(c1.before, NOPL5);
        let (id, addr) = live_tramp(&t);
        assert_eq!(c1.after, x86::call_rel32(SITE, addr).unwrap());
        assert_eq!(w.site_bytes(), c1.after);
        // The trampoline was written where it was allocated, and is the builder's code.
        let want = tramp::build(&Spec { site: SITE, id, exit: false, dispatch: Dispatch::Call(0x40_8000), save_vector: false, stack_args: 0 }, addr).unwrap();
        assert_eq!(w.text.get(addr, want.code.len()), want.code);
        // A second entry program: same trampoline, no write to the site.
        let writes = w.text.writes.len();
        let c2 = t.attach(&site(), ProgKind::Kprobe, "notify", 6, &mut w.text()).unwrap();
        assert_eq!((c2.before, c2.after, w.text.writes.len()), (c1.after, c1.after, writes));
        let mut log = Log::default();
        assert!(t.dispatch(id, Phase::Entry, &frame(), &mut log));
        // fentry gets args[6] (48 bytes), kprobe pt_regs (168, r15 first).
        assert_eq!(log.ran, [("count", 48, 41), ("notify", 168, 1515)]);
        log.ran.clear();
        assert!(t.dispatch(id, Phase::Exit, &frame(), &mut log));
        assert!(log.ran.is_empty(), "no exit programs");
        assert!(!t.dispatch(77, Phase::Entry, &frame(), &mut log), "unknown id");
        let l = t.list();
        assert_eq!(l.iter().map(|a| (a.prog, a.run_cnt, a.run_time_ns)).collect::<Vec<_>>(), [("count", 1, 10), ("notify", 1, 10)]);
        assert_eq!(l[0].trampoline, Some(addr));
    }

    #[test]
    fn fexit_changes_the_trampoline_and_back() {
        let mut w = World::new();
        let t = tracer();
        let a = t.attach(&site(), ProgKind::Fentry, "count", 6, &mut w.text()).unwrap();
        let (id1, addr1) = live_tramp(&t);
        let b = t.attach(&site(), ProgKind::Fexit, "check", 6, &mut w.text()).unwrap();
        let (id2, addr2) = live_tramp(&t);
        assert_ne!(addr1, addr2);
        assert_eq!((b.before, b.after), (a.after, x86::call_rel32(SITE, addr2).unwrap()));
        assert_eq!(w.site_bytes(), b.after);
        let mut log = Log::default();
        t.dispatch(id2, Phase::Entry, &frame(), &mut log);
        t.dispatch(id2, Phase::Exit, &frame(), &mut log);
        assert_eq!(log.ran, [("count", 48, 41), ("check", 56, 41)]);
        // The old trampoline is retired, freed once nothing is inside it.
        assert_eq!(t.trampolines(), 2);
        assert_eq!(t.reclaim(&mut w.mem, &[addr1 + 3]), 1, "a thread stopped inside it");
        assert_eq!(t.reclaim(&mut w.mem, &[]), 0);
        assert_eq!(w.mem.freed, [addr1]);
        assert!(!t.dispatch(id1, Phase::Entry, &frame(), &mut log));
        // Detaching the fexit program goes back to an entry-only trampoline.
        let (p, c) = t.detach(b.id, &mut w.text()).unwrap();
        assert_eq!(p, "check");
        let (_, addr3) = live_tramp(&t);
        assert_eq!((c.before, c.after), (b.after, x86::call_rel32(SITE, addr3).unwrap()));
        assert!(t.state.read().tramps.iter().flatten().any(|s| s.tramp.addr == addr3 && !s.exit));
        // The last detach writes the nop back.
        let (_, c) = t.detach(a.id, &mut w.text()).unwrap();
        assert_eq!((c.after, c.trampoline), (NOPL5, None));
        assert_eq!(w.site_bytes(), NOPL5);
        t.reclaim(&mut w.mem, &[]);
        assert_eq!(t.trampolines(), 0);
        assert!(w.mem.used.iter().all(|u| !u));
        assert_eq!(t.detach(a.id, &mut w.text()), Err(AttachError::NoSuchAttachment(a.id.0)));
    }

    #[test]
    fn a_call_in_flight_keeps_an_exit_trampoline() {
        let mut w = World::new();
        let t = tracer();
        let a = t.attach(&site(), ProgKind::Fexit, "check", 6, &mut w.text()).unwrap();
        let (id, _) = live_tramp(&t);
        let mut log = Log::default();
        t.dispatch(id, Phase::Entry, &frame(), &mut log); // the body is running (blocked, say)
        t.detach(a.id, &mut w.text()).unwrap();
        assert_eq!(w.site_bytes(), NOPL5);
        assert_eq!(t.reclaim(&mut w.mem, &[]), 1);
        t.dispatch(id, Phase::Exit, &frame(), &mut log); // ... returns through it
        assert_eq!(t.reclaim(&mut w.mem, &[]), 0);
        assert!(log.ran.is_empty(), "the program was detached before the body returned");
    }

    #[test]
    fn detaching_one_leaves_the_others() {
        let mut w = World::new();
        let t = tracer();
        let ids: Vec<AttachId> = ["a", "b", "c"].iter().map(|p| t.attach(&site(), ProgKind::Fentry, p, 6, &mut w.text()).unwrap().id).collect();
        let patched = w.site_bytes();
        t.detach(ids[1], &mut w.text()).unwrap();
        assert_eq!(w.site_bytes(), patched);
        let (id, _) = live_tramp(&t);
        let mut log = Log::default();
        t.dispatch(id, Phase::Entry, &frame(), &mut log);
        assert_eq!(log.ran.iter().map(|r| r.0).collect::<Vec<_>>(), ["a", "c"]);
        assert_eq!(t.list().iter().map(|a| a.id).collect::<Vec<_>>(), [ids[0], ids[2]]);
    }

    #[test]
    fn failures_leave_everything_as_it_was() {
        // The site holds something else: refused, nothing written, memory given back.
        let mut w = World::new();
        w.text.put(SITE, &[0x55, 0x48, 0x89, 0xe5, 0x90]);
        let t = tracer();
        let e = t.attach(&site(), ProgKind::Fentry, "count", 6, &mut w.text()).unwrap_err();
        assert!(matches!(e, AttachError::Patch(PatchError::Unexpected { .. })), "{e}");
        assert!(t.list().is_empty());
        assert_eq!(t.trampolines(), 0);
        assert!(w.mem.used.iter().all(|u| !u));
        assert_eq!(w.site_bytes(), [0x55, 0x48, 0x89, 0xe5, 0x90]);
        // No trampoline memory.
        let mut w = World::new();
        w.mem.fail = true;
        assert!(matches!(t.attach(&site(), ProgKind::Fentry, "count", 6, &mut w.text()), Err(AttachError::Memory(_))));
        assert_eq!(w.site_bytes(), NOPL5);
        assert!(t.list().is_empty());
        // The same address with other original bytes.
        let mut w = World::new();
        t.attach(&site(), ProgKind::Fentry, "count", 6, &mut w.text()).unwrap();
        let other = Site { original: [0x90; 5], ..site() };
        assert_eq!(t.attach(&other, ProgKind::Fentry, "x", 6, &mut w.text()), Err(AttachError::SiteMismatch(SITE)));
    }

    #[test]
    fn kretprobe_sees_the_return_value_in_ax() {
        let mut w = World::new();
        let t: Tracer<&'static str> = tracer();
        t.attach(&site(), ProgKind::Kretprobe, "ret", 6, &mut w.text()).unwrap();
        let (id, _) = live_tramp(&t);
        struct Ax(Vec<u64>);
        impl Runner<&'static str> for Ax {
            fn run(&mut self, _: &&'static str, ctx: &[u8], call: &CallInfo<'_>) {
                self.0.push(u64::from_ne_bytes(ctx[80..88].try_into().unwrap()));
                self.0.push(call.ret().unwrap());
            }
        }
        let mut r = Ax(Vec::new());
        t.dispatch(id, Phase::Exit, &frame(), &mut r);
        assert_eq!(r.0, [99, 99]);
    }

    #[test]
    fn sections_name_kind_and_function() {
        assert_eq!(ProgKind::from_section("fentry/myfun"), Some((ProgKind::Fentry, Some("myfun"))));
        assert_eq!(ProgKind::from_section("fexit/vfs_read"), Some((ProgKind::Fexit, Some("vfs_read"))));
        assert_eq!(ProgKind::from_section("kprobe/"), Some((ProgKind::Kprobe, None)));
        assert_eq!(ProgKind::from_section("kretprobe"), Some((ProgKind::Kretprobe, None)));
        assert_eq!(ProgKind::from_section("syscall"), None);
        assert_eq!(ProgKind::from_section("tracepoint/syscalls/sys_enter_openat"), None);
        let _: String = ProgKind::Fexit.name().into();
    }
}
