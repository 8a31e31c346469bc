//! The tracer in this very process: functions of the test binary carry
//! LLVM's patchable entries, get patched through `/proc/self/mem`, and run
//! their programs through real trampolines. Each test owns its traced
//! function, tracer and handler; patching happens on the thread that calls
//! the function (single-CPU patch semantics, see `tracer::patch`).
#![feature(patchable_function_entry)]

mod common;

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::LazyLock;

use bpf_runtime::jit::Engine;
use common::{BpfRunner, Prog};
use tracer::host::{entry_addr, Arena, Handler, OwnText};
use tracer::nops::NopForm;
use tracer::{CallInfo, Config, Dispatch, Phase, ProgKind, Runner, TextPoke, TraceFrame, Tracer};

#[no_mangle]
#[inline(never)]
#[patchable_function_entry(prefix_nops = 0, entry_nops = 5)]
pub extern "C" fn traced_sum6(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    a + 2 * b + 3 * c + 4 * d + 5 * e + 6 * f
}

#[no_mangle]
#[inline(never)]
#[patchable_function_entry(prefix_nops = 0, entry_nops = 5)]
pub extern "C" fn traced_float(x: f64, y: f64, n: u64) -> f64 {
    x * y + n as f64
}

#[no_mangle]
#[inline(never)]
#[patchable_function_entry(prefix_nops = 0, entry_nops = 5)]
pub extern "C" fn myfun_bpf(a: u64) -> u64 {
    3 * a + 1
}

#[no_mangle]
#[inline(never)]
#[patchable_function_entry(prefix_nops = 0, entry_nops = 5)]
pub extern "C" fn myfun_stress(a: u64) -> u64 {
    // Not myfun_bpf's body: identical functions are merged in release
    // builds (one address, one site for both names).
    5 * a + 2
}

#[no_mangle]
#[inline(never)]
#[patchable_function_entry(prefix_nops = 0, entry_nops = 5)]
pub extern "C" fn traced_syscall(a: u64, b: u64, c: u64, d: u64, e: u64, f: u64) -> u64 {
    a ^ (b << 1) ^ (c << 2) ^ (d << 3) ^ (e << 4) ^ (f << 5)
}

fn addr(f: usize) -> u64 {
    f as u64
}

/// What the recording runner saw, per program run.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    prog: u32,
    phase: Phase,
    ip: u64,
    args: [u64; 6],
    ret: u64,
    ctx_len: usize,
    entry_rsp_mod16: u64,
}

#[derive(Default)]
struct Recorder(Vec<Seen>);

impl Runner<u32> for Recorder {
    fn run(&mut self, prog: &u32, ctx: &[u8], call: &CallInfo<'_>) {
        // Use SSE in the dispatch on purpose: the float test checks that
        // the trampoline's vector save keeps the arguments intact.
        let noise = black_box(1.5f64) * black_box(3.25f64);
        black_box(noise);
        self.0.push(Seen {
            prog: *prog,
            phase: call.phase,
            ip: call.ip,
            args: call.frame.args,
            ret: call.frame.ret,
            ctx_len: ctx.len(),
            entry_rsp_mod16: call.frame.rsp % 16,
        });
    }
}

macro_rules! recording_handler {
    ($h:ident, $tracer:ident, $log:ident, $save_vector:expr) => {
        struct $h;
        static $tracer: LazyLock<Tracer<u32>> =
            LazyLock::new(|| Tracer::new(Config { dispatch: Dispatch::Call(entry_addr::<$h>()), save_vector: $save_vector, timing: false }));
        thread_local!(static $log: RefCell<Recorder> = RefCell::new(Recorder::default()));
        impl Handler for $h {
            fn handle(frame: &TraceFrame, id: u32, phase: Phase) {
                $log.with_borrow_mut(|r| $tracer.dispatch(id, phase, frame, r));
            }
        }
    };
}

fn text<'a>(poke: &'a mut OwnText, arena: &'a mut Arena) -> tracer::Text<'a> {
    tracer::Text { poke, mem: arena, stopped_ips: &[] }
}

recording_handler!(SumH, SUM_T, SUM_LOG, false);

#[test]
fn entry_and_exit_see_arguments_and_return_value() {
    let site = common::own_site("traced_sum6", addr(traced_sum6 as *const () as usize));
    assert_eq!(site.form, NopForm::Llvm, "rustc's patchable entry: {:02x?}", site.original);
    assert!(site.listed, "in __patchable_function_entries");
    let (mut poke, mut arena) = (OwnText::open().unwrap(), Arena::new().unwrap());
    let f = black_box(traced_sum6 as extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64);
    let plain = f(1, 2, 3, 4, 5, 6);
    assert_eq!(plain, 91);

    let a = SUM_T.attach(&site, ProgKind::Fentry, 1, 6, &mut text(&mut poke, &mut arena)).unwrap();
    let mut now = [0u8; 5];
    poke.read(site.addr, &mut now).unwrap();
    assert_eq!(now, a.after);
    assert_eq!(now[0], 0xe8, "a call");
    assert_eq!(f(1, 2, 3, 4, 5, 6), plain);
    let k = SUM_T.attach(&site, ProgKind::Kprobe, 2, 6, &mut text(&mut poke, &mut arena)).unwrap();
    let x = SUM_T.attach(&site, ProgKind::Fexit, 3, 6, &mut text(&mut poke, &mut arena)).unwrap();
    assert_eq!(f(10, 20, 30, 40, 50, 60), 910);
    let seen = SUM_LOG.with_borrow_mut(|r| std::mem::take(&mut r.0));
    let args = [10, 20, 30, 40, 50, 60];
    let want = |prog, phase, ret, ctx_len| Seen { prog, phase, ip: site.func, args, ret, ctx_len, entry_rsp_mod16: 8 };
    assert_eq!(seen[0], Seen { args: [1, 2, 3, 4, 5, 6], ..want(1, Phase::Entry, 0, 48) });
    assert_eq!(&seen[1..], [want(1, Phase::Entry, 0, 48), want(2, Phase::Entry, 0, 168), want(3, Phase::Exit, 910, 56)]);

    // Detach in another order than attach; the last one restores the nop.
    SUM_T.detach(k.id, &mut text(&mut poke, &mut arena)).unwrap();
    SUM_T.detach(x.id, &mut text(&mut poke, &mut arena)).unwrap();
    assert_eq!(f(1, 1, 1, 1, 1, 1), 21);
    assert_eq!(SUM_LOG.with_borrow(|r| r.0.iter().map(|s| s.prog).collect::<Vec<_>>()), [1]);
    let (_, c) = SUM_T.detach(a.id, &mut text(&mut poke, &mut arena)).unwrap();
    assert_eq!(c.after, site.original);
    poke.read(site.addr, &mut now).unwrap();
    assert_eq!(now, site.original);
    assert_eq!(f(1, 2, 3, 4, 5, 6), plain);
    assert_eq!(SUM_LOG.with_borrow(|r| r.0.len()), 1, "nothing runs after detach");
    assert_eq!(SUM_T.reclaim(&mut arena, &[]), 0);
    assert_eq!(arena.in_use(), 0);
}

recording_handler!(FloatH, FLOAT_T, FLOAT_LOG, true);

#[test]
fn vector_arguments_and_return_survive_with_save_vector() {
    let site = common::own_site("traced_float", addr(traced_float as *const () as usize));
    let (mut poke, mut arena) = (OwnText::open().unwrap(), Arena::new().unwrap());
    let f = black_box(traced_float as extern "C" fn(f64, f64, u64) -> f64);
    let a = FLOAT_T.attach(&site, ProgKind::Fentry, 1, 3, &mut text(&mut poke, &mut arena)).unwrap();
    let b = FLOAT_T.attach(&site, ProgKind::Fexit, 2, 3, &mut text(&mut poke, &mut arena)).unwrap();
    for i in 0..100u64 {
        assert_eq!(f(i as f64, 0.5, i), i as f64 * 1.5);
    }
    let seen = FLOAT_LOG.with_borrow(|r| r.0.len());
    assert_eq!(seen, 200);
    FLOAT_T.detach(b.id, &mut text(&mut poke, &mut arena)).unwrap();
    FLOAT_T.detach(a.id, &mut text(&mut poke, &mut arena)).unwrap();
    FLOAT_T.reclaim(&mut arena, &[]);
}

struct BpfH;
static BPF_T: LazyLock<Tracer<Prog>> =
    LazyLock::new(|| Tracer::new(Config { dispatch: Dispatch::Call(entry_addr::<BpfH>()), save_vector: true, timing: true }));
thread_local!(static BPF_RUN: RefCell<BpfRunner> = RefCell::new(BpfRunner::new(Engine::Interp)));
impl Handler for BpfH {
    fn handle(frame: &TraceFrame, id: u32, phase: Phase) {
        BPF_RUN.with_borrow_mut(|r| BPF_T.dispatch(id, phase, frame, r));
    }
}

#[test]
fn count_notify_and_fexit_check_from_clang() {
    let site = common::own_site("myfun_bpf", addr(myfun_bpf as *const () as usize));
    let (mut poke, mut arena) = (OwnText::open().unwrap(), Arena::new().unwrap());
    let f = black_box(myfun_bpf as extern "C" fn(u64) -> u64);
    for engine in [Engine::Interp, Engine::Jit] {
        let jit = engine == Engine::Jit;
        BPF_RUN.with_borrow_mut(|r| r.engine = engine);
        let count = common::load("count", jit);
        let notify = common::load("notify", jit);
        let check = common::load("fexit_check", jit);
        let c = BPF_T.attach(&site, ProgKind::Fentry, Prog::new(&count, "count"), 1, &mut text(&mut poke, &mut arena)).unwrap();
        let n = BPF_T.attach(&site, ProgKind::Kprobe, Prog::new(&notify, "notify"), 1, &mut text(&mut poke, &mut arena)).unwrap();
        let x = BPF_T.attach(&site, ProgKind::Fexit, Prog::new(&check, "fexit_check"), 1, &mut text(&mut poke, &mut arena)).unwrap();
        let mut sum = 0u64;
        for i in 0..1000 {
            sum = sum.wrapping_add(f(i));
        }
        assert_eq!(sum, (0..1000).map(|i| 3 * i + 1).sum::<u64>());
        BPF_RUN.with_borrow_mut(|r| {
            assert_eq!(r.errors, 0, "{engine:?}");
            assert_eq!(r.exec(&count, "get_count", &[site.func]), 1000, "{engine:?}");
            assert_eq!(r.exec(&check, "get_checks", &[0]), 1000, "calls seen by fexit");
            assert_eq!(r.exec(&check, "get_checks", &[1]), 0, "mismatches");
            assert_eq!(r.env.lines, 1000);
            let pid = std::process::id();
            assert_eq!(r.env.last, format!("myfun called by pid {pid} tgid {pid}"));
            r.env.lines = 0;
        });
        let l = BPF_T.list();
        assert_eq!(l.iter().map(|a| (a.kind, a.run_cnt)).collect::<Vec<_>>(), [(ProgKind::Fentry, 1000), (ProgKind::Kprobe, 1000), (ProgKind::Fexit, 1000)]);
        assert!(l.iter().all(|a| a.run_time_ns > 0));
        // Notify off: count keeps counting.
        BPF_T.detach(n.id, &mut text(&mut poke, &mut arena)).unwrap();
        f(5);
        BPF_RUN.with_borrow_mut(|r| {
            assert_eq!(r.exec(&count, "get_count", &[site.func]), 1001);
            assert_eq!(r.env.lines, 0);
        });
        BPF_T.detach(c.id, &mut text(&mut poke, &mut arena)).unwrap();
        BPF_T.detach(x.id, &mut text(&mut poke, &mut arena)).unwrap();
        f(5);
        BPF_RUN.with_borrow_mut(|r| assert_eq!(r.exec(&count, "get_count", &[site.func]), 1001, "detached: no more counts"));
        BPF_T.reclaim(&mut arena, &[]);
    }
    assert_eq!(arena.in_use(), 0);
}

struct StressH;
static STRESS_T: LazyLock<Tracer<Prog>> =
    LazyLock::new(|| Tracer::new(Config { dispatch: Dispatch::Call(entry_addr::<StressH>()), save_vector: true, timing: false }));
thread_local!(static STRESS_RUN: RefCell<BpfRunner> = RefCell::new(BpfRunner::new(Engine::Interp)));
impl Handler for StressH {
    fn handle(frame: &TraceFrame, id: u32, phase: Phase) {
        STRESS_RUN.with_borrow_mut(|r| STRESS_T.dispatch(id, phase, frame, r));
    }
}

/// 10,000 attach/detach cycles of count on a function called at full speed
/// between them, on the same thread (the single-CPU contract: the patch
/// runs while nothing executes the site).
#[test]
fn stress_ten_thousand_attach_detach_cycles() {
    let site = common::own_site("myfun_stress", addr(myfun_stress as *const () as usize));
    let (mut poke, mut arena) = (OwnText::open().unwrap(), Arena::new().unwrap());
    let f = black_box(myfun_stress as extern "C" fn(u64) -> u64);
    let count = common::load("count", false);
    let (mut sum, mut want, mut last) = (0u64, 0u64, 0u64);
    let mut x = 0u64;
    for cycle in 0..10_000u64 {
        let a = STRESS_T.attach(&site, ProgKind::Fentry, Prog::new(&count, "count"), 1, &mut text(&mut poke, &mut arena)).unwrap();
        for _ in 0..10 {
            sum = sum.wrapping_add(f(x));
            want = want.wrapping_add(5 * x + 2);
            x += 1;
        }
        let now = STRESS_RUN.with_borrow_mut(|r| r.exec(&count, "get_count", &[site.func]));
        assert!(now > last || cycle == 0 && now == 10, "cycle {cycle}: count {now} after {last}");
        assert_eq!(now, 10 * (cycle + 1));
        last = now;
        STRESS_T.detach(a.id, &mut text(&mut poke, &mut arena)).unwrap();
        for _ in 0..10 {
            sum = sum.wrapping_add(f(x));
            want = want.wrapping_add(5 * x + 2);
            x += 1;
        }
        STRESS_T.reclaim(&mut arena, &[]);
    }
    assert_eq!(sum, want, "the function's results never changed");
    assert_eq!(STRESS_RUN.with_borrow_mut(|r| r.exec(&count, "get_count", &[site.func])), 100_000);
    assert_eq!((arena.in_use(), STRESS_T.trampolines()), (0, 0));
    let mut now = [0u8; 5];
    poke.read(site.addr, &mut now).unwrap();
    assert_eq!(now, site.original);
}

struct SysH;
static SYS_T: LazyLock<Tracer<u32>> = LazyLock::new(|| Tracer::new(Config { dispatch: Dispatch::Syscall(SYS_NR), save_vector: false, timing: false }));
impl Handler for SysH {
    fn handle(_: &TraceFrame, _: u32, _: Phase) {}
}
/// Not a Linux syscall: the host kernel answers -ENOSYS, standing in for
/// the unikernel's dispatch. What this proves is that the syscall form
/// keeps every register the function needs (rcx and r11 are clobbered by
/// `syscall`) and returns the right value, on entry-only and fexit shapes.
const SYS_NR: u32 = 0x1ff;

#[test]
fn syscall_dispatch_is_transparent_to_the_function() {
    let site = common::own_site("traced_syscall", addr(traced_syscall as *const () as usize));
    let (mut poke, mut arena) = (OwnText::open().unwrap(), Arena::new().unwrap());
    let f = black_box(traced_syscall as extern "C" fn(u64, u64, u64, u64, u64, u64) -> u64);
    let want = f(1, 2, 3, 4, 5, 6);
    let a = SYS_T.attach(&site, ProgKind::Fentry, 1, 6, &mut text(&mut poke, &mut arena)).unwrap();
    assert_eq!(f(1, 2, 3, 4, 5, 6), want);
    let b = SYS_T.attach(&site, ProgKind::Fexit, 2, 6, &mut text(&mut poke, &mut arena)).unwrap();
    assert_eq!(f(1, 2, 3, 4, 5, 6), want);
    let t = b.trampoline.unwrap();
    // The kernel's check of a trampoline syscall's origin: both syscall
    // return addresses of the live trampoline, and nothing else.
    let mut code = vec![0u8; tracer::tramp::MAX_LEN];
    poke.read(t, &mut code).unwrap();
    let ids: Vec<u64> = (0..tracer::tramp::MAX_LEN as u64 - 1).filter(|&i| code[i as usize..i as usize + 2] == [0x0f, 0x05]).map(|i| t + i + 2).collect();
    assert_eq!(ids.len(), 2);
    let id = (0..8).find(|&id| SYS_T.syscall_origin(id, ids[0]).is_some()).unwrap();
    assert_eq!(SYS_T.syscall_origin(id, ids[0]), Some(Phase::Entry));
    assert_eq!(SYS_T.syscall_origin(id, ids[1]), Some(Phase::Exit));
    assert_eq!(SYS_T.syscall_origin(id, ids[1] + 1), None);
    let _ = SysH::handle;
    SYS_T.detach(a.id, &mut text(&mut poke, &mut arena)).unwrap();
    SYS_T.detach(b.id, &mut text(&mut poke, &mut arena)).unwrap();
    assert_eq!(f(1, 2, 3, 4, 5, 6), want);
}
