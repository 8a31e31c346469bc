//! Syscall tracing (issue 11): BPF programs on the syscall tracepoints and
//! the built-in stream behind `ushell trace`, both fed by the kernel's one
//! syscall hook.
//!
//! * **Programs**: `tracepoint/raw_syscalls/sys_enter` (ctx: `id` at 8,
//!   `args[6]` at 16), `…/sys_exit` (`id` at 8, `ret` at 16),
//!   `tracepoint/syscalls/sys_enter_NAME` (`__syscall_nr` at 8, the named
//!   args from 16) and `sys_exit_NAME` (`__syscall_nr`, `ret` at 16), and
//!   `raw_tracepoint/sys_enter` (`args[0]` = a `struct pt_regs *` the
//!   program reads with `bpf_probe_read_kernel`, `args[1]` = the id) and
//!   `raw_tracepoint/sys_exit` (`args[1]` = the return value). Layouts come
//!   from `linux_abi::trace::tracepoint`, the names from the syscall
//!   declarations.
//! * **The stream**: the kernel writes one record per syscall
//!   (`linux_abi::trace::record`, captured arguments included) into a BPF
//!   ring buffer ([`Stream`]); the shell's task drains it into
//!   `Event::Syscalls` and reports what a full buffer dropped.
//!
//! The kernel asks [`SyscallTracing::wanted`] whether to keep its hook
//! installed: with nothing attached and no stream, the syscall path is the
//! untraced one.

use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};

use bpf_runtime::maps::Map;
use bpf_runtime::spec::{MapSpec, MapType};
use linux_abi::trace::tracepoint::{RawSysEnter, RawSysExit, SysEnter, SysExit};
use shellproto::{AttachKind, Attachment, ShellError, SiteChange, Space};

use crate::bpf::RunOutput;
use crate::kernel::Kernel;
use crate::trace::Prog;

/// Default size of the stream's ring buffer.
pub const DEFAULT_RING_BYTES: u32 = 1 << 20;
/// Smallest ring buffer a client may ask for (one record of the largest size).
pub const MIN_RING_BYTES: u32 = 8192;
/// Largest (a sixteenth of a small guest's memory at most is the client's call).
pub const MAX_RING_BYTES: u32 = 64 << 20;

/// The syscall whose tracepoint event is `event` (`newfstat` is fstat).
fn event_nr(event: &str) -> Option<usize> {
    linux_abi::decl::DECLS.iter().find(|d| linux_abi::trace::tracepoint::event_name(d) == event).map(|d| d.nr)
}

/// Where a syscall program sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    RawEnter,
    RawExit,
    Enter(u16),
    Exit(u16),
    RawTpEnter,
    RawTpExit,
}

impl Point {
    /// The point a section names (`tracepoint/syscalls/sys_enter_openat`).
    pub fn from_section(section: &str) -> Result<Option<Point>, String> {
        let tp = section.strip_prefix("tracepoint/").or_else(|| section.strip_prefix("tp/"));
        if let Some(tp) = tp {
            return Ok(Some(match tp {
                "raw_syscalls/sys_enter" => Point::RawEnter,
                "raw_syscalls/sys_exit" => Point::RawExit,
                _ => {
                    let (enter, event) = match (tp.strip_prefix("syscalls/sys_enter_"), tp.strip_prefix("syscalls/sys_exit_")) {
                        (Some(e), _) => (true, e),
                        (_, Some(e)) => (false, e),
                        _ => return Err(alloc::format!("unknown tracepoint `{tp}`")),
                    };
                    let nr = event_nr(event).ok_or_else(|| alloc::format!("no syscall has the tracepoint event `{event}`"))? as u16;
                    if enter {
                        Point::Enter(nr)
                    } else {
                        Point::Exit(nr)
                    }
                }
            }));
        }
        let raw = section.strip_prefix("raw_tracepoint/").or_else(|| section.strip_prefix("raw_tp/"));
        Ok(match raw {
            Some("sys_enter") => Some(Point::RawTpEnter),
            Some("sys_exit") => Some(Point::RawTpExit),
            Some(other) => return Err(alloc::format!("unknown raw tracepoint `{other}` (sys_enter and sys_exit exist)")),
            None => None,
        })
    }

    /// The name `ushell list` shows.
    pub fn name(self) -> String {
        let event = |nr: u16| linux_abi::decl::decl(nr as usize).map_or("?", linux_abi::trace::tracepoint::event_name);
        match self {
            Point::RawEnter => "raw_syscalls/sys_enter".into(),
            Point::RawExit => "raw_syscalls/sys_exit".into(),
            Point::Enter(nr) => alloc::format!("syscalls/sys_enter_{}", event(nr)),
            Point::Exit(nr) => alloc::format!("syscalls/sys_exit_{}", event(nr)),
            Point::RawTpEnter => "raw_tracepoint/sys_enter".into(),
            Point::RawTpExit => "raw_tracepoint/sys_exit".into(),
        }
    }

    fn kind(self) -> AttachKind {
        match self {
            Point::RawTpEnter | Point::RawTpExit => AttachKind::RawTracepoint,
            _ => AttachKind::Tracepoint,
        }
    }

    fn at_enter(self, nr: u16) -> bool {
        match self {
            Point::RawEnter | Point::RawTpEnter => true,
            Point::Enter(n) => n == nr,
            _ => false,
        }
    }

    fn at_exit(self, nr: u16) -> bool {
        match self {
            Point::RawExit | Point::RawTpExit => true,
            Point::Exit(n) => n == nr,
            _ => false,
        }
    }
}

struct SysProg {
    id: u32,
    prog: Prog,
    point: Point,
    run_cnt: AtomicU64,
    run_time_ns: AtomicU64,
}

/// The built-in stream: a ring buffer of records and the syscalls wanted.
pub struct Stream {
    ring: Arc<Map>,
    /// Drops already reported.
    reported: u64,
    records: u64,
    /// Records pushed since the last drain, and the ring bytes they take.
    undrained: u32,
    undrained_bytes: usize,
    /// A quarter of the ring: undrained bytes that wake the reader.
    wake_bytes: usize,
    /// Whether the reader was woken since the last drain.
    woken: bool,
}

/// Records that wake the stream's reader (about 35 KB of the ~135-byte
/// records a busy app makes; the default ring holds ~7,000), unless a
/// quarter of a smaller ring fills first.
pub const WAKE_EVERY: u32 = 256;

/// Programs on the syscall hook, and the stream.
pub struct SyscallTracing {
    progs: spin::RwLock<Vec<SysProg>>,
    next_id: AtomicU32,
    stream: spin::Mutex<Option<Stream>>,
    streaming: AtomicBool,
    /// The stream's filter (one bit per syscall number below 512; all set
    /// when every call is traced), readable without its lock (asked per call).
    wanted_nrs: [AtomicU64; 8],
    /// Whether any program sits at entry / at exit: the hook skips the
    /// other side's lock and list walk (a sys_enter program alone then
    /// costs nothing at exit).
    any_enter: AtomicBool,
    any_exit: AtomicBool,
}

impl Default for SyscallTracing {
    fn default() -> Self {
        SyscallTracing {
            progs: spin::RwLock::new(Vec::new()),
            next_id: AtomicU32::new(1),
            stream: spin::Mutex::new(None),
            streaming: AtomicBool::new(false),
            wanted_nrs: Default::default(),
            any_enter: AtomicBool::new(false),
            any_exit: AtomicBool::new(false),
        }
    }
}

/// A tracepoint context, built on the stack (no allocation per call).
struct Ctx {
    buf: [u8; 64],
    len: usize,
}

impl Ctx {
    fn of(bytes: &[u8]) -> Ctx {
        let mut c = Ctx { buf: [0; 64], len: bytes.len() };
        c.buf[..bytes.len()].copy_from_slice(bytes);
        c
    }

    fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `struct pt_regs` of a syscall entry, as `raw_tracepoint/sys_enter`'s
/// `args[0]` points at it (x86-64 layout: di at 112, si 104, dx 96, r10 56,
/// r8 72, r9 64, orig_ax 120).
fn syscall_pt_regs(nr: u64, args: &[u64; 6], ret: Option<u64>) -> [u8; tracer::frame::PT_REGS_SIZE] {
    let mut r = [0u8; tracer::frame::PT_REGS_SIZE];
    let mut put = |off: usize, v: u64| r[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(112, args[0]);
    put(104, args[1]);
    put(96, args[2]);
    put(56, args[3]);
    put(72, args[4]);
    put(64, args[5]);
    put(120, nr);
    put(80, ret.unwrap_or(nr));
    r
}

impl SyscallTracing {
    /// Whether the kernel's syscall hook has anything to do.
    pub fn wanted(&self) -> bool {
        self.streaming.load(Relaxed) || !self.progs.read().is_empty()
    }

    /// Whether a program sits at syscall entry.
    pub fn any_enter(&self) -> bool {
        self.any_enter.load(Relaxed)
    }

    /// Whether a program sits at syscall exit.
    pub fn any_exit(&self) -> bool {
        self.any_exit.load(Relaxed)
    }

    /// Recomputes [`Self::any_enter`] and [`Self::any_exit`] (the caller
    /// holds the list's write lock).
    fn update_sides(&self, progs: &[SysProg]) {
        let enter = progs.iter().any(|p| matches!(p.point, Point::RawEnter | Point::RawTpEnter | Point::Enter(_)));
        let exit = progs.iter().any(|p| matches!(p.point, Point::RawExit | Point::RawTpExit | Point::Exit(_)));
        self.any_enter.store(enter, Relaxed);
        self.any_exit.store(exit, Relaxed);
    }

    /// Whether the stream wants syscall `nr`.
    pub fn streams(&self, nr: u64) -> bool {
        self.streaming.load(Relaxed) && nr < 512 && self.wanted_nrs[nr as usize / 64].load(Relaxed) & (1 << (nr % 64)) != 0
    }

    /// One record into the ring buffer (dropped and counted when full).
    /// True, once per drain, when the reader should be woken: [`WAKE_EVERY`]
    /// records or a quarter of the ring have come in since it last
    /// drained, so it drains while the app runs instead of when it next
    /// happens to wake (a sleeping shell once let a busy app fill and
    /// overflow the ring between two of its rounds; a fixed record count
    /// alone let a small ring overflow before the reader was woken).
    #[must_use]
    pub fn push(&self, record: &[u8]) -> bool {
        let mut g = self.stream.lock();
        let Some(s) = g.as_mut() else { return false };
        if let Ok(true) = s.ring.ringbuf_output(record) {
            s.records += 1;
            s.undrained += 1;
            s.undrained_bytes += bpf_runtime::maps::ringbuf_record_cost(record.len());
            if !s.woken && (s.undrained >= WAKE_EVERY || s.undrained_bytes >= s.wake_bytes) {
                s.woken = true;
                return true;
            }
        }
        false
    }

    /// Starts (or restarts) the stream.
    pub fn start(&self, syscalls: &[u16], ring_bytes: u32) -> Result<u32, ShellError> {
        let bytes = if ring_bytes == 0 { DEFAULT_RING_BYTES } else { ring_bytes.clamp(MIN_RING_BYTES, MAX_RING_BYTES) };
        let bytes = bytes.next_power_of_two();
        let spec = MapSpec { name: "ushell_trace".into(), kind: MapType::Ringbuf, key_size: 0, value_size: 0, max_entries: bytes, initial: None, read_only: false };
        let ring = Map::new(&spec).map_err(|e| ShellError::OutOfMemory { what: alloc::format!("a trace ring buffer of {bytes} bytes: {e}") })?;
        let mut filter = [0u64; 8];
        if syscalls.is_empty() {
            filter = [u64::MAX; 8];
        }
        for &nr in syscalls {
            if nr < 512 {
                filter[nr as usize / 64] |= 1 << (nr % 64);
            }
        }
        for (w, f) in self.wanted_nrs.iter().zip(filter) {
            w.store(f, Relaxed);
        }
        *self.stream.lock() = Some(Stream { ring: Arc::new(ring), reported: 0, records: 0, undrained: 0, undrained_bytes: 0, wake_bytes: bytes as usize / 4, woken: false });
        self.streaming.store(true, Relaxed);
        Ok(bytes)
    }

    /// Ends recording (no new records; the hook stops wanting the calls)
    /// while the records already in the ring are still drained; then
    /// [`SyscallTracing::stop`].
    pub fn close(&self) {
        self.streaming.store(false, Relaxed);
    }

    /// Stops the stream, dropping its ring: `(records, lost)`.
    pub fn stop(&self) -> (u64, u64) {
        self.streaming.store(false, Relaxed);
        match self.stream.lock().take() {
            Some(s) => (s.records, s.ring.ringbuf_dropped()),
            None => (0, 0),
        }
    }

    /// Records waiting (up to about `max_bytes`), concatenated, and the
    /// drops not reported yet.
    pub fn drain(&self, max_bytes: usize) -> (Vec<u8>, u64) {
        let mut g = self.stream.lock();
        let Some(s) = g.as_mut() else { return (Vec::new(), 0) };
        let mut out = Vec::new();
        while out.len() < max_bytes {
            match s.ring.ringbuf_pop() {
                Ok(Some(r)) => out.extend_from_slice(&r),
                _ => break,
            }
        }
        let dropped = s.ring.ringbuf_dropped();
        let new = dropped - s.reported.min(dropped);
        s.reported = dropped;
        (s.undrained, s.undrained_bytes, s.woken) = (0, 0, false);
        (out, new)
    }

    /// Attaches a tracepoint program.
    pub fn attach(&self, prog: Prog, point: Point) -> SiteChange {
        let id = self.next_id.fetch_add(1, Relaxed);
        let change = SiteChange {
            attachment: id,
            func: point.name(),
            space: Space::Kernel,
            addr: 0,
            kind: point.kind(),
            prog: prog.id,
            prog_name: String::from(&*prog.name),
            before: [0; 5],
            after: [0; 5],
            trampoline: None,
        };
        let mut progs = self.progs.write();
        progs.push(SysProg { id, prog, point, run_cnt: AtomicU64::new(0), run_time_ns: AtomicU64::new(0) });
        self.update_sides(&progs);
        change
    }

    /// Detaches program `prog` (from `point` if given).
    pub fn detach(&self, prog: u32, point: Option<&str>) -> Option<SiteChange> {
        let mut progs = self.progs.write();
        let i = progs.iter().position(|p| p.prog.id == prog && point.is_none_or(|n| p.point.name() == n))?;
        let p = progs.remove(i);
        self.update_sides(&progs);
        Some(SiteChange {
            attachment: p.id,
            func: p.point.name(),
            space: Space::Kernel,
            addr: 0,
            kind: p.point.kind(),
            prog: p.prog.id,
            prog_name: String::from(&*p.prog.name),
            before: [0; 5],
            after: [0; 5],
            trampoline: None,
        })
    }

    /// Where program `prog` is attached.
    pub fn points_of(&self, prog: u32) -> Vec<String> {
        self.progs.read().iter().filter(|p| p.prog.id == prog).map(|p| p.point.name()).collect()
    }

    pub fn list(&self) -> Vec<Attachment> {
        self.progs
            .read()
            .iter()
            .map(|p| Attachment {
                id: p.id,
                func: p.point.name(),
                space: Space::Kernel,
                addr: 0,
                kind: p.point.kind(),
                prog: p.prog.id,
                prog_name: String::from(&*p.prog.name),
                run_cnt: p.run_cnt.load(Relaxed),
                run_time_ns: p.run_time_ns.load(Relaxed),
                trampoline: None,
            })
            .collect()
    }

    /// Runs the programs on syscall entry (`ret` None) or exit (the
    /// caller holds the guard); returns how many runs failed.
    pub(crate) fn run(&self, nr: u64, args: &[u64; 6], ret: Option<u64>, kernel: &mut dyn Kernel, vm: &mut bpf_runtime::interp::Vm, out: &mut RunOutput) -> u64 {
        let progs = self.progs.read();
        let mut errors = 0;
        let here = |p: &&SysProg| match ret {
            None => p.point.at_enter(nr as u16),
            Some(_) => p.point.at_exit(nr as u16),
        };
        for p in progs.iter().filter(here) {
            let regs;
            let (ctx, window): (Ctx, Option<(u64, &[u8])>) = match (p.point, ret) {
                (Point::RawEnter, _) => (Ctx::of(zerocopy::IntoBytes::as_bytes(&RawSysEnter { common: [0; 8], id: nr as i64, args: *args })), None),
                (Point::Enter(_), _) => (Ctx::of(zerocopy::IntoBytes::as_bytes(&SysEnter { common: [0; 8], syscall_nr: nr as i32, _pad: 0, args: *args })), None),
                (Point::RawExit, Some(r)) => (Ctx::of(zerocopy::IntoBytes::as_bytes(&RawSysExit { common: [0; 8], id: nr as i64, ret: r as i64 })), None),
                (Point::Exit(_), Some(r)) => (Ctx::of(zerocopy::IntoBytes::as_bytes(&SysExit { common: [0; 8], syscall_nr: nr as i32, _pad: 0, ret: r as i64 })), None),
                // raw_tracepoint: args[0] = the pt_regs, args[1] = the id
                // at entry, the return value at exit.
                _ => {
                    regs = syscall_pt_regs(nr, args, ret);
                    let addr = regs.as_ptr() as u64;
                    let mut c = [0u8; 48];
                    c[..8].copy_from_slice(&addr.to_le_bytes());
                    c[8..16].copy_from_slice(&ret.unwrap_or(nr).to_le_bytes());
                    (Ctx::of(&c), Some((addr, &regs[..])))
                }
            };
            let t0 = kernel.now_ns();
            if p.prog.object.run_traced(vm, p.prog.index, ctx.bytes(), crate::bpf::Origin::Tracepoint(window), kernel, out).is_err() {
                errors += 1;
            }
            p.run_time_ns.fetch_add(kernel.now_ns().saturating_sub(t0), Relaxed);
            p.run_cnt.fetch_add(1, Relaxed);
        }
        errors
    }
}
