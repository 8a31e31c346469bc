//! The function tracer's side of the shell (issue 10): `attach`, `detach`,
//! `list`, `sites` and `disas`, and [`Tracing`], the state the kernel's
//! trampolines reach while the app runs.
//!
//! Two [`tracer::Tracer`]s, one per [`Space`]: app sites' trampolines
//! enter the kernel through the reserved syscall, kernel sites' call the
//! dispatch entry directly, and a tracer's trampolines have one shape of
//! dispatch. An attachment holds a [`Prog`]: the loaded object (an `Arc`,
//! shared with the registry) and the program's index, so a trampoline's
//! dispatch runs it without the registry (the shell's task may be in the
//! middle of a request when the app hits a site). `bpf_printk` lines of
//! traced runs wait in a bounded queue that the shell's task drains into
//! events; what does not fit is counted and reported, never dropped
//! silently.
//!
//! **Recursion.** A program, a helper or the shell itself may call a
//! traced kernel function. [`Tracing::dispatch`] runs programs only when
//! no dispatch and no attach or detach is under way on this CPU (one
//! guard: the kernel is not preemptible and has one CPU); a nested hit is
//! counted as a miss (Linux's `bpf_prog_active` and the program's
//! `recursion_misses`). The functions on the way from a trampoline to that
//! guard cannot be attached to at all ([`NOT_TRACEABLE`]).

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use bpf_runtime::interp::Vm;
use shellproto::{AttachKind, Attachment, FuncText, ShellError, SiteChange, SiteInfo, Space};
use tracer::{AttachError, AttachInfo, CallInfo, Dispatch, LookupError, Phase, ProgKind, Site, SiteTable, Text, TraceFrame, Tracer};

use crate::bpf::{Object, RunOutput};
use crate::kernel::Kernel;
use crate::registry::Registry;

/// `bpf_printk` lines of traced runs kept until the shell sends them.
pub const MAX_QUEUED_LINES: usize = 4096;
/// Most bytes `disas` reads.
pub const MAX_TEXT: u32 = 512;
/// Name prefixes of the functions between a trampoline and the recursion
/// guard (the dispatch path itself): attaching there would recurse before
/// the guard could stop it.
pub const NOT_TRACEABLE: &[&str] = &["tracer::", "ushell::trace::", "kernel::trace::", "kernel::arch::tracing::"];
/// What a kernel function without a site means.
pub const KERNEL_NO_SITE: &str = "kernel functions get a site from `-Zpatchable-function-entry=5,0` (the kernel is built with it); \
this one was not compiled with it (it comes from the precompiled `core`/`alloc`, or is an alias of another function)";

/// A program attached to a function: what its trampoline's dispatch runs.
#[derive(Clone)]
pub struct Prog {
    pub id: u32,
    pub name: Arc<str>,
    pub object: Arc<Object>,
    pub index: usize,
}

impl PartialEq for Prog {
    fn eq(&self, other: &Prog) -> bool {
        self.id == other.id
    }
}

struct Queue {
    lines: VecDeque<(u32, Arc<str>, String)>,
    lost: u64,
    /// Runs that failed (a runtime check stopped the program).
    errors: u64,
    last_error: Option<String>,
}

impl Queue {
    /// A run's `bpf_printk` lines (those beyond [`MAX_QUEUED_LINES`]
    /// counted as lost) and its failures.
    fn add(&mut self, prog: u32, name: &Arc<str>, out: RunOutput, errors: u64, error: Option<String>) {
        for line in out.lines {
            if self.lines.len() < MAX_QUEUED_LINES {
                self.lines.push_back((prog, name.clone(), line));
            } else {
                self.lost += 1;
            }
        }
        self.lost += out.lines_lost;
        self.errors += errors;
        if error.is_some() {
            self.last_error = error;
        }
    }
}

/// Output of traced runs, for the shell's task to send.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct TracedOutput {
    /// `(program id, program name, line)`.
    pub lines: Vec<(u32, String, String)>,
    pub lost: u64,
    pub errors: u64,
    pub last_error: Option<String>,
    /// Hits not run since the last take ([`Tracing::misses`]).
    pub missed: u64,
}

/// The tracer's state: shared by the shell (attach, detach, listings) and
/// the kernel's dispatch entries (running programs).
pub struct Tracing {
    app: Tracer<Prog>,
    kernel: Tracer<Prog>,
    /// Programs on the syscall tracepoints, and the `ushell trace` stream.
    pub sys: crate::systrace::SyscallTracing,
    busy: AtomicBool,
    misses: AtomicU64,
    /// `misses` when [`Tracing::take_output`] last reported them.
    misses_reported: AtomicU64,
    vm: spin::Mutex<Vm>,
    out: spin::Mutex<Queue>,
}

/// Sets the guard for the life of the value, if it was clear.
struct Guard<'a>(&'a AtomicBool);

impl<'a> Guard<'a> {
    fn take(flag: &'a AtomicBool) -> Option<Guard<'a>> {
        (!flag.swap(true, core::sync::atomic::Ordering::Acquire)).then_some(Guard(flag))
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        self.0.store(false, core::sync::atomic::Ordering::Release);
    }
}

impl Tracing {
    /// `app`: how app sites' trampolines reach the kernel (the reserved
    /// syscall); `kernel`: the direct call of the kernel's entry.
    pub fn new(app: Dispatch, kernel: Dispatch) -> Tracing {
        let cfg = |dispatch| tracer::Config { dispatch, save_vector: false, timing: true };
        Tracing {
            app: Tracer::new(cfg(app)),
            kernel: Tracer::new(cfg(kernel)),
            sys: crate::systrace::SyscallTracing::default(),
            busy: AtomicBool::new(false),
            misses: AtomicU64::new(0),
            misses_reported: AtomicU64::new(0),
            vm: spin::Mutex::new(Vm::new()),
            out: spin::Mutex::new(Queue { lines: VecDeque::new(), lost: 0, errors: 0, last_error: None }),
        }
    }

    pub fn tracer(&self, space: Space) -> &Tracer<Prog> {
        match space {
            Space::App => &self.app,
            Space::Kernel => &self.kernel,
        }
    }

    /// Hits skipped because a dispatch or an attach was under way.
    pub fn misses(&self) -> u64 {
        self.misses.load(Relaxed)
    }

    /// Whether the reserved syscall at `rip` comes from trampoline `id`'s
    /// own `syscall` for `phase` (anything else is not a trace entry).
    pub fn syscall_origin(&self, id: u32, rip: u64) -> Option<Phase> {
        self.app.syscall_origin(id, rip)
    }

    /// The body of the kernel's dispatch entries: runs trampoline `id`'s
    /// programs for `phase`. Returns false for an unknown trampoline.
    pub fn dispatch(&self, space: Space, id: u32, phase: Phase, frame: &TraceFrame, kernel: &mut dyn Kernel) -> bool {
        let Some(_g) = Guard::take(&self.busy) else {
            self.misses.fetch_add(1, Relaxed);
            return true;
        };
        let Some(mut vm) = self.vm.try_lock() else {
            self.misses.fetch_add(1, Relaxed);
            return true;
        };
        let mut runner = TraceRunner { vm: &mut vm, kernel, out: &self.out };
        self.tracer(space).dispatch(id, phase, frame, &mut runner)
    }

    /// The kernel's syscall hook at entry: runs the sys_enter programs.
    pub fn sys_enter(&self, nr: u64, args: &[u64; 6], kernel: &mut dyn Kernel) {
        if !self.sys.any_enter() {
            return;
        }
        self.run_sys(kernel, |sys, k, vm, out| sys.run(nr, args, None, k, vm, out));
    }

    /// The kernel's syscall hook at exit: runs the sys_exit programs.
    pub fn sys_exit(&self, nr: u64, args: &[u64; 6], ret: u64, kernel: &mut dyn Kernel) {
        if !self.sys.any_exit() {
            return;
        }
        self.run_sys(kernel, |sys, k, vm, out| sys.run(nr, args, Some(ret), k, vm, out));
    }

    fn run_sys(&self, kernel: &mut dyn Kernel, f: impl FnOnce(&crate::systrace::SyscallTracing, &mut dyn Kernel, &mut Vm, &mut RunOutput) -> u64) {
        let Some(_g) = Guard::take(&self.busy) else {
            self.misses.fetch_add(1, Relaxed);
            return;
        };
        let Some(mut vm) = self.vm.try_lock() else {
            self.misses.fetch_add(1, Relaxed);
            return;
        };
        let mut out = RunOutput::default();
        let errors = f(&self.sys, kernel, &mut vm, &mut out);
        if out.lines.is_empty() && out.lines_lost == 0 && errors == 0 {
            return;
        }
        let error = (errors > 0).then(|| String::from("a tracepoint program failed a runtime check"));
        self.out.lock().add(0, &Arc::from("tracepoint"), out, errors, error);
    }

    /// Takes the output of traced runs so far.
    pub fn take_output(&self) -> TracedOutput {
        let mut q = self.out.lock();
        let lines = q.lines.drain(..).map(|(id, name, line)| (id, name.to_string(), line)).collect();
        let misses = self.misses.load(Relaxed);
        let missed = misses - self.misses_reported.swap(misses, Relaxed).min(misses);
        TracedOutput { lines, lost: core::mem::take(&mut q.lost), errors: core::mem::take(&mut q.errors), last_error: q.last_error.take(), missed }
    }

    /// Runs `f` with the guard set, so that a traced function that `f`
    /// calls (the shell's own code, the allocator) does not dispatch while
    /// the tracer's lists are being changed.
    fn guarded<R>(&self, f: impl FnOnce() -> R) -> Result<R, ShellError> {
        let Some(_g) = Guard::take(&self.busy) else {
            return Err(ShellError::Unsupported { what: "attaching from inside a traced call".into() });
        };
        Ok(f())
    }

    /// Whether program `id` is attached anywhere, and where.
    pub fn attached_funcs(&self, id: u32) -> Vec<String> {
        let mut out = self.sys.points_of(id);
        for space in [Space::App, Space::Kernel] {
            for a in self.tracer(space).list() {
                if a.prog.id == id {
                    out.push(a.site.name.clone());
                }
            }
        }
        out
    }
}

struct TraceRunner<'a> {
    vm: &'a mut Vm,
    kernel: &'a mut dyn Kernel,
    out: &'a spin::Mutex<Queue>,
}

impl tracer::Runner<Prog> for TraceRunner<'_> {
    fn run(&mut self, prog: &Prog, ctx: &[u8], call: &CallInfo<'_>) {
        let mut out = RunOutput::default();
        let r = prog.object.run_traced(self.vm, prog.index, ctx, crate::bpf::Origin::Call(call), &mut *self.kernel, &mut out);
        if out.lines.is_empty() && out.lines_lost == 0 && r.is_ok() {
            return;
        }
        let error = r.err().map(|e| format!("program `{}` failed at insn {}: {}", prog.name, e.pc, e.kind));
        self.out.lock().add(prog.id, &prog.name, out, u64::from(error.is_some()), error);
    }

    fn now_ns(&mut self) -> u64 {
        self.kernel.now_ns()
    }
}

fn kind_of(k: ProgKind) -> AttachKind {
    match k {
        ProgKind::Fentry => AttachKind::Fentry,
        ProgKind::Fexit => AttachKind::Fexit,
        ProgKind::Kprobe => AttachKind::Kprobe,
        ProgKind::Kretprobe => AttachKind::Kretprobe,
    }
}

fn attach_error(func: &str, e: AttachError) -> ShellError {
    ShellError::Attach { func: func.into(), message: e.to_string() }
}

/// A function found in the app's or the kernel's table.
enum Found {
    Site(Space, Site),
    NoSite { space: Space, name: String, addr: u64, first: Vec<u8> },
}

/// The site tables the kernel gives, app first.
fn tables<K: Kernel + ?Sized>(kernel: &mut K) -> [(Space, Option<Arc<SiteTable>>); 2] {
    [(Space::App, kernel.site_table(Space::App)), (Space::Kernel, kernel.site_table(Space::Kernel))]
}

/// `name` in a table: exactly, or for kernel functions a unique
/// `::`-suffix (`fs::read` for `kernel::syscall::fs::read`).
fn lookup_in(t: &SiteTable, space: Space, name: &str) -> Option<Result<Found, Vec<String>>> {
    let resolved = match t.function(name) {
        Some(f) => f.name.clone(),
        None if space == Space::Kernel => {
            let suffix = format!("::{name}");
            let mut hits: Vec<&str> = t.functions.iter().filter(|f| f.name.ends_with(&suffix)).map(|f| f.name.as_str()).collect();
            hits.sort_unstable();
            hits.dedup();
            match hits.as_slice() {
                [] => return None,
                [one] => String::from(*one),
                many => return Some(Err(many.iter().map(|s| s.to_string()).collect())),
            }
        }
        None => return None,
    };
    Some(Ok(match t.site(&resolved) {
        Ok(s) => Found::Site(space, s.clone()),
        Err(LookupError::NoSite { name, addr, first }) => Found::NoSite { space, name, addr, first },
        Err(LookupError::Unknown { .. }) => return None,
    }))
}

fn find<K: Kernel + ?Sized>(kernel: &mut K, name: &str) -> Result<Found, ShellError> {
    let tables = tables(kernel);
    for (space, t) in &tables {
        let Some(t) = t else { continue };
        match lookup_in(t, *space, name) {
            Some(Ok(f)) => return Ok(f),
            Some(Err(several)) => {
                let message = format!("several kernel functions end with `::{name}` ({}); give the full name", several.join(", "));
                return Err(ShellError::Attach { func: name.into(), message });
            }
            None => {}
        }
    }
    let mut similar = Vec::new();
    for (_, t) in &tables {
        let Some(t) = t else { continue };
        similar.extend(t.functions.iter().filter(|f| f.name.contains(name)).take(5 - similar.len().min(5)).map(|f| f.name.clone()));
    }
    similar.truncate(5);
    Err(ShellError::UnknownFunc { func: name.into(), similar })
}

fn site_of<K: Kernel + ?Sized>(kernel: &mut K, name: &str) -> Result<(Space, Site), ShellError> {
    match find(kernel, name)? {
        Found::Site(space, site) => {
            if space == Space::Kernel && NOT_TRACEABLE.iter().any(|p| site.name.starts_with(p)) {
                return Err(ShellError::Attach { func: site.name, message: "it is part of the tracer's own dispatch path, which cannot be traced".into() });
            }
            Ok((space, site))
        }
        Found::NoSite { space, name, addr, first } => Err(ShellError::NoSite {
            func: name,
            addr,
            first: tracer::discover::hex(&first),
            how: String::from(match space {
                Space::App => tracer::HOW_TO_COMPILE,
                Space::Kernel => KERNEL_NO_SITE,
            }),
        }),
    }
}

fn change(c: &tracer::Change, site: &Site, space: Space, kind: ProgKind, prog: &Prog) -> SiteChange {
    SiteChange {
        attachment: c.id.0,
        func: site.name.clone(),
        space,
        addr: c.site,
        kind: kind_of(kind),
        prog: prog.id,
        prog_name: prog.name.to_string(),
        before: c.before,
        after: c.after,
        trampoline: c.trampoline,
    }
}

fn tracing<K: Kernel + ?Sized>(kernel: &K) -> Result<&'static Tracing, ShellError> {
    kernel.tracing().ok_or_else(|| ShellError::Unsupported { what: "function tracing".into() })
}

/// Runs `f` with the text of `space`, mapping the kernel's failure.
fn with_text<K: Kernel + ?Sized, R>(kernel: &mut K, space: Space, func: &str, f: impl FnOnce(&mut Text<'_>) -> R) -> Result<R, ShellError> {
    let mut f = Some(f);
    let mut out = None;
    kernel.with_text(space, &mut |text| {
        if let Some(f) = f.take() {
            out = Some(f(text));
        }
    })
    .map_err(|message| ShellError::Attach { func: func.into(), message })?;
    out.ok_or_else(|| ShellError::Attach { func: func.into(), message: "the kernel did not run the patch".into() })
}

/// `ushell attach`.
pub fn attach<K: Kernel + ?Sized>(reg: &Registry, kernel: &mut K, func: Option<&str>, prog: &shellproto::Ref, nr_args: Option<u8>) -> Result<SiteChange, ShellError> {
    let t = tracing(kernel)?;
    let id = reg.resolve_prog(prog)?;
    let meta = reg.prog_meta(id).ok_or_else(|| ShellError::NoSuchProg(prog.clone()))?;
    match crate::systrace::Point::from_section(&meta.section) {
        Ok(Some(point)) => {
            if let Some(f) = func.filter(|f| *f != point.name() && !meta.section.ends_with(*f)) {
                let message = alloc::format!("program `{}` belongs on `{}` (its section `{}`)", meta.name, point.name(), meta.section);
                return Err(ShellError::Attach { func: f.into(), message });
            }
            let p = reg.traced(id).ok_or_else(|| ShellError::NoSuchProg(prog.clone()))?;
            let c = t.sys.attach(p, point);
            kernel.syscall_hook(t.sys.wanted());
            return Ok(c);
        }
        Ok(None) => {}
        Err(message) => return Err(ShellError::Attach { func: meta.section.clone(), message }),
    }
    let Some((kind, target)) = ProgKind::from_section(&meta.section) else {
        return Err(ShellError::NotAttachable { program: meta.name.clone(), prog_type: meta.prog_type });
    };
    let func = func.or(target).ok_or_else(|| ShellError::NoTarget { program: meta.name.clone(), section: meta.section.clone() })?;
    let (space, site) = site_of(kernel, func)?;
    let p = reg.traced(id).ok_or_else(|| ShellError::NoSuchProg(prog.clone()))?;
    let tr = t.tracer(space);
    let nr = nr_args.unwrap_or(6).min(6);
    let c = with_text(kernel, space, &site.name, |text| t.guarded(|| tr.attach(&site, kind, p.clone(), nr, text)))?
        ?
        .map_err(|e| attach_error(&site.name, e))?;
    Ok(change(&c, &site, space, kind, &p))
}

/// `ushell detach`.
pub fn detach<K: Kernel + ?Sized>(reg: &Registry, kernel: &mut K, func: Option<&str>, prog: &shellproto::Ref) -> Result<SiteChange, ShellError> {
    let t = tracing(kernel)?;
    let id = reg.resolve_prog(prog)?;
    let name = reg.prog_meta(id).map_or_else(String::new, |m| m.name.clone());
    if !t.sys.points_of(id).is_empty() {
        let c = t.sys.detach(id, func).ok_or_else(|| ShellError::NotAttached { program: name.clone(), func: func.map(String::from) })?;
        kernel.syscall_hook(t.sys.wanted());
        return Ok(c);
    }
    let target = match func {
        Some(f) => Some(match find(kernel, f)? {
            Found::Site(_, s) => s.addr,
            Found::NoSite { name, .. } => return Err(ShellError::NotAttached { program: name.clone(), func: Some(name) }),
        }),
        None => None,
    };
    let mut found: Vec<(Space, AttachInfo<Prog>)> = Vec::new();
    for space in [Space::App, Space::Kernel] {
        for a in t.tracer(space).list() {
            if a.prog.id == id && target.is_none_or(|addr| a.site.addr == addr) {
                found.push((space, a));
            }
        }
    }
    let (space, a) = match found.len() {
        0 => return Err(ShellError::NotAttached { program: name, func: func.map(String::from) }),
        1 => found.remove(0),
        _ => {
            let mut funcs: Vec<String> = found.iter().map(|(_, a)| a.site.name.clone()).collect();
            funcs.dedup();
            if funcs.len() > 1 {
                return Err(ShellError::AttachedSeveral { program: name, funcs });
            }
            found.remove(0)
        }
    };
    let tr = t.tracer(space);
    let (p, c) = with_text(kernel, space, &a.site.name, |text| {
        t.guarded(|| {
            let r = tr.detach(a.id, text);
            tr.reclaim(text.mem, text.stopped_ips);
            r
        })
    })??
    .map_err(|e| attach_error(&a.site.name, e))?;
    Ok(change(&c, &a.site, space, a.kind, &p))
}

/// Frees retired trampolines nothing is inside any more (after the app
/// left them); call it from the shell's task now and then.
pub fn reclaim<K: Kernel + ?Sized>(kernel: &mut K) {
    let Some(t) = kernel.tracing() else { return };
    for space in [Space::App, Space::Kernel] {
        if t.tracer(space).trampolines() == 0 {
            continue;
        }
        let tr = t.tracer(space);
        let _ = kernel.with_text(space, &mut |text| {
            let _ = t.guarded(|| tr.reclaim(text.mem, text.stopped_ips));
        });
    }
}

/// `ushell list`.
pub fn attachments<K: Kernel + ?Sized>(kernel: &mut K, func: Option<&str>) -> Result<Vec<Attachment>, ShellError> {
    let t = tracing(kernel)?;
    let target = match func {
        Some(f) => Some(match find(kernel, f)? {
            Found::Site(_, s) => s.addr,
            Found::NoSite { addr, .. } => addr,
        }),
        None => None,
    };
    let mut out = Vec::new();
    if func.is_none() {
        out.extend(t.sys.list());
    }
    for space in [Space::App, Space::Kernel] {
        for a in t.tracer(space).list() {
            if target.is_some_and(|addr| a.site.addr != addr) {
                continue;
            }
            out.push(Attachment {
                id: a.id.0,
                func: a.site.name.clone(),
                space,
                addr: a.site.addr,
                kind: kind_of(a.kind),
                prog: a.prog.id,
                prog_name: a.prog.name.to_string(),
                run_cnt: a.run_cnt,
                run_time_ns: a.run_time_ns,
                trampoline: a.trampoline,
            });
        }
    }
    Ok(out)
}

/// `ushell sites`.
pub fn sites<K: Kernel + ?Sized>(kernel: &mut K, pattern: &str, limit: u32) -> (Vec<SiteInfo>, bool) {
    let limit = limit.clamp(1, crate::MAX_SYMBOLS) as usize;
    let counts: Vec<(u64, u32)> = match kernel.tracing() {
        Some(t) => {
            let mut c: Vec<(u64, u32)> = Vec::new();
            for space in [Space::App, Space::Kernel] {
                for a in t.tracer(space).list() {
                    match c.iter_mut().find(|(addr, _)| *addr == a.site.addr) {
                        Some((_, n)) => *n += 1,
                        None => c.push((a.site.addr, 1)),
                    }
                }
            }
            c
        }
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for (space, t) in tables(kernel) {
        let Some(t) = t else { continue };
        for s in &t.sites {
            if !crate::symbols::matches(pattern, &s.name) {
                continue;
            }
            if space == Space::Kernel && NOT_TRACEABLE.iter().any(|p| s.name.starts_with(p)) {
                continue;
            }
            if out.len() == limit {
                return (out, true);
            }
            let attached = counts.iter().find(|(a, _)| *a == s.addr).map_or(0, |(_, n)| *n);
            out.push(SiteInfo { name: s.name.clone(), space, func: s.func, addr: s.addr, original: s.original, attached });
        }
    }
    (out, false)
}

/// `ushell disas`: the function's first bytes as the CPU sees them.
pub fn func_text<K: Kernel + ?Sized>(kernel: &mut K, func: &str, len: u32) -> Result<FuncText, ShellError> {
    let (space, name, addr, site) = match find(kernel, func)? {
        Found::Site(space, s) => (space, s.name.clone(), s.func, Some(s.addr)),
        Found::NoSite { space, name, addr, .. } => (space, name, addr, None),
    };
    let mut bytes = alloc::vec![0u8; len.clamp(1, MAX_TEXT) as usize];
    // Shorter reads near the end of the mapped text.
    let mut n = bytes.len();
    loop {
        match kernel.read_text(space, addr, &mut bytes[..n]) {
            Ok(()) => break,
            Err(_) if n > 16 => n /= 2,
            Err(e) => return Err(ShellError::Attach { func: name, message: format!("cannot read its code: {e}") }),
        }
    }
    bytes.truncate(n);
    Ok(FuncText { name, space, addr, site, bytes })
}
