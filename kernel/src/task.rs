//! Tasks and the scheduler's mechanism. A task is a kernel stack with a
//! saved context (`arch::task`) and a scheduling state; the app's thread is
//! a task that lives in ring 3 most of the time, a kernel task (the shell's
//! console server, test hooks) is a plain function. The policy, round robin
//! and timers, is the host-tested `sched` crate.
//!
//! The kernel is not preemptible: syscall handlers and kernel tasks run
//! with interrupts off and give the CPU up only by blocking ([`WaitQueue`],
//! [`sleep_until`]) or yielding. The timer preempts ring 3 code, so an app
//! that spins without syscalls still lets kernel tasks run. When nothing is
//! runnable the boot context, which is the idle task, halts until the next
//! interrupt.

use crate::arch::task::{self as context, TaskContext};
use crate::sync::IrqMutex;
use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use linux_abi::Errno;
use crate::process::Thread;
use sched::{RunQueue, TimerQueue};

pub type TaskId = u64;

/// The boot context: runs when nothing else can.
const IDLE: TaskId = 0;
/// Timer interrupts per second.
pub const HZ: u32 = 100;
/// Ticks a task runs before a waiting task gets the CPU (20 ms).
const SLICE_TICKS: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ready,
    Running,
    Blocked,
}

struct Task {
    name: &'static str,
    ctx: Arc<TaskContext>,
    state: State,
    /// The user thread this task runs, None for kernel tasks.
    thread: Option<Arc<Thread>>,
}

struct Scheduler {
    tasks: BTreeMap<TaskId, Task>,
    run_queue: RunQueue<TaskId>,
    timers: TimerQueue<TaskId>,
    current: TaskId,
    next_id: TaskId,
    /// Set when the run is over: only the idle task runs from then on,
    /// and the tasks in `survivors` (the shell sending its last output).
    shutdown: bool,
    survivors: Vec<TaskId>,
}

static SCHED: IrqMutex<Option<Scheduler>> = IrqMutex::new(None);
static TICKS: AtomicU64 = AtomicU64::new(0);
/// The APIC timer was started: the idle task may halt.
static TIMER_RUNNING: AtomicBool = AtomicBool::new(false);
/// TSC ticks spent halted in the idle loop. Under TCG `-icount` the TSC
/// counts guest instructions plus skipped idle time, so total minus this is
/// the instructions executed (the benchmark's sleep figure).
static IDLE_TSC: AtomicU64 = AtomicU64::new(0);
static HALTS: AtomicU64 = AtomicU64::new(0);

fn with<R>(f: impl FnOnce(&mut Scheduler) -> R) -> R {
    let mut g = SCHED.lock();
    f(g.as_mut().unwrap_or_else(|| unreachable!("task::init runs at boot")))
}

/// Makes the running boot code the idle task and starts the timer.
pub fn init() {
    let boot = context::init(exit_current);
    let mut tasks = BTreeMap::new();
    tasks.insert(IDLE, Task { name: "idle", ctx: boot, state: State::Running, thread: None });
    *SCHED.lock() = Some(Scheduler {
        tasks,
        run_queue: RunQueue::new(SLICE_TICKS),
        timers: TimerQueue::new(),
        current: IDLE,
        next_id: 1,
        shutdown: false,
        survivors: Vec::new(),
    });
    use crate::arch::idt::{SPURIOUS_VECTOR, TIMER_VECTOR};
    // The idle task halts only when a timer will wake it; before the first
    // tick arrives, waiting for it in a polling loop would cost up to a
    // whole tick of instructions (the benchmark's sleep figure showed it).
    if crate::arch::apic::start_timer(TIMER_VECTOR as u8, 0xff, HZ) {
        TIMER_RUNNING.store(true, Ordering::Relaxed);
    } else {
        crate::kinfo!("warning: no local APIC: no preemption, sleeps poll the clock");
    }
    let _ = SPURIOUS_VECTOR;
}

/// Starts `f` as a new task, runnable at once. `f` may return, which ends
/// the task.
pub fn spawn(name: &'static str, f: impl FnOnce() + Send + 'static) -> Result<TaskId, Errno> {
    spawn_task(name, None, f)
}

/// Starts a task that runs `thread`: `f` enters ring 3 with the thread's
/// user context; the scheduler loads the thread's FS and GS bases whenever
/// the task is switched in.
pub fn spawn_user(thread: Arc<Thread>, f: impl FnOnce() + Send + 'static) -> Result<TaskId, Errno> {
    spawn_task("user", Some(thread), f)
}

fn spawn_task(name: &'static str, thread: Option<Arc<Thread>>, f: impl FnOnce() + Send + 'static) -> Result<TaskId, Errno> {
    let local = thread.clone().map(|t| t as context::TaskLocal);
    let ctx = TaskContext::new(Box::new(f), local).ok_or(Errno::ENOMEM)?;
    Ok(with(|s| {
        let id = s.next_id;
        s.next_id += 1;
        s.tasks.insert(id, Task { name, ctx, state: State::Ready, thread });
        s.run_queue.enqueue(id);
        id
    }))
}

pub fn current() -> TaskId {
    with(|s| s.current)
}

/// Runs `f` with the running task's thread, borrowed without a lock or a
/// count (the syscall path's way to its context).
#[inline(always)]
pub fn with_current_thread<R>(f: impl FnOnce(Option<&Thread>) -> R) -> R {
    context::with_current_local::<Thread, R>(f)
}

/// Switches to the next runnable task (the idle task if none). The caller
/// has already put the current task where it belongs: back in the run
/// queue, blocked on something, or gone.
fn schedule() {
    let next = with(|s| {
        let prev_thread = s.tasks.get(&s.current).and_then(|t| t.thread.as_ref()).map(Arc::as_ptr);
        let next = if s.shutdown {
            // Tasks that are not survivors never run again.
            loop {
                match s.run_queue.pick_next() {
                    Some(id) if s.survivors.contains(&id) => break id,
                    Some(_) => continue,
                    None => break IDLE,
                }
            }
        } else {
            s.run_queue.pick_next().unwrap_or(IDLE)
        };
        s.current = next;
        let t = s.tasks.get_mut(&next).unwrap_or_else(|| unreachable!("queued tasks exist"));
        t.state = State::Running;
        // The thread's FS and GS bases go into the CPU when the thread
        // changes (two MSR writes). Kernel tasks leave them alone: the
        // kernel never uses FS, and its GS is the per-CPU area.
        if let Some(th) = t.thread.as_ref().filter(|th| prev_thread != Some(Arc::as_ptr(th))) {
            th.load_bases();
        }
        t.ctx.clone()
    });
    context::switch_to(next);
}

/// An interrupt woke a task while the kernel ran (it does not preempt
/// itself): the syscall returns through [`preempt_point`] and yields there.
static RESCHED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// From an interrupt that woke a task: run it at once if ring 3 was
/// interrupted, else when the current syscall returns to ring 3 (the
/// shell answering an app that lives in syscalls, as under a trace).
pub fn wake_preempts(from_user: bool) {
    if from_user {
        yield_now();
    } else {
        RESCHED.store(true, Ordering::Relaxed);
    }
}

/// On the way back to ring 3: yields if an interrupt asked for it.
#[inline]
pub fn preempt_point() {
    if RESCHED.load(Ordering::Relaxed) {
        RESCHED.store(false, Ordering::Relaxed);
        yield_now();
    }
}

/// Lets other runnable tasks go first.
pub fn yield_now() {
    let _irq = crate::arch::cpu::irq_off();
    let others = with(|s| {
        let cur = s.current;
        if cur != IDLE && !s.run_queue.is_empty() {
            if let Some(t) = s.tasks.get_mut(&cur) {
                t.state = State::Ready;
            }
            s.run_queue.enqueue(cur);
            true
        } else {
            false
        }
    });
    if others {
        schedule();
    }
}

/// Blocks the current task until [`wake`] (or `deadline_ns` passes).
/// Interrupts must be off since the caller checked its wake-up condition,
/// or a wake-up could be lost.
fn block(deadline_ns: Option<u64>) {
    let timer = with(|s| {
        let cur = s.current;
        if let Some(t) = s.tasks.get_mut(&cur) {
            t.state = State::Blocked;
        }
        deadline_ns.map(|d| s.timers.add(d, cur))
    });
    schedule();
    if let Some(t) = timer {
        with(|s| s.timers.cancel(t));
    }
}

fn wake_locked(s: &mut Scheduler, id: TaskId) {
    if let Some(t) = s.tasks.get_mut(&id) {
        if t.state == State::Blocked {
            t.state = State::Ready;
            s.run_queue.enqueue(id);
        }
    }
}

/// Sleeps until the monotonic clock reaches `deadline_ns`.
pub fn sleep_until(deadline_ns: u64) {
    loop {
        let _irq = crate::arch::cpu::irq_off();
        if crate::time::monotonic_ns() >= deadline_ns {
            return;
        }
        block(Some(deadline_ns));
    }
}

/// Ends the current task; its stack is freed once the CPU has left it.
pub fn exit_current() -> ! {
    // Never dropped: the task does not come back.
    let _irq = crate::arch::cpu::irq_off();
    with(|s| {
        let cur = s.current;
        if let Some(t) = s.tasks.remove(&cur) {
            crate::kdebug!("task {} ({cur}) exited", t.name);
        }
        s.run_queue.remove(cur);
    });
    schedule();
    unreachable!("an exited task is never switched back to")
}

/// Lets the calling task run after [`shutdown`] (the debug shell, which
/// sends what it still holds before the power-off).
pub fn survive_shutdown() {
    with(|s| {
        let me = s.current;
        if !s.survivors.contains(&me) {
            s.survivors.push(me);
        }
    });
}

/// From now on only the idle task runs (the run is over).
pub fn shutdown() {
    with(|s| s.shutdown = true);
}

/// Fires the timers that are due. Reading the clock calibrates the TSC on
/// first use, so it is read only when someone sleeps.
fn fire_timers(s: &mut Scheduler) {
    if s.timers.is_empty() {
        return;
    }
    let now = crate::time::monotonic_ns();
    while let Some(id) = s.timers.pop_expired(now) {
        wake_locked(s, id);
    }
}

/// The timer interrupt, after EOI. `from_user`: it interrupted ring 3,
/// the only place where the kernel preempts.
pub fn on_timer_tick(from_user: bool) {
    TICKS.fetch_add(1, Ordering::Relaxed);
    let preempt = with(|s| {
        fire_timers(s);
        s.current != IDLE && s.run_queue.tick() && from_user
    });
    if preempt {
        yield_now();
    }
}

/// The idle loop, on the boot stack: run whatever is runnable, else halt
/// until an interrupt; end the VM once `finished` says the run is over.
pub fn idle_loop(finished: fn() -> Option<runproto::CtlEvent>) -> ! {
    loop {
        let _irq = crate::arch::cpu::irq_off();
        if let Some(ev) = finished() {
            let total = crate::arch::cpu::rdtsc();
            let idle = IDLE_TSC.load(Ordering::Relaxed);
            crate::kdebug!("cpu: busy {} idle {} TSC ticks since boot, {} timer ticks, {} halts", total.saturating_sub(idle), idle, ticks(), HALTS.load(Ordering::Relaxed));
            crate::drivers::qemu::finish(ev);
        }
        let runnable = with(|s| {
            if !TIMER_RUNNING.load(Ordering::Relaxed) {
                // No timer interrupt: check the sleepers by polling.
                fire_timers(s);
            }
            !s.run_queue.is_empty()
        });
        if runnable {
            schedule();
        } else if TIMER_RUNNING.load(Ordering::Relaxed) {
            let t0 = crate::arch::cpu::rdtsc();
            crate::arch::cpu::wait_for_interrupt();
            IDLE_TSC.fetch_add(crate::arch::cpu::rdtsc().saturating_sub(t0), Ordering::Relaxed);
            HALTS.fetch_add(1, Ordering::Relaxed);
        } else {
            crate::arch::cpu::let_interrupts_in();
            core::hint::spin_loop();
        }
    }
}

/// Timer ticks since boot.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// Tasks waiting for a condition. [`WaitQueue::wait_until`] re-checks the
/// condition with interrupts off before blocking, and wakers call
/// [`WaitQueue::wake_all`] after changing what the condition reads, so no
/// wake-up is lost on this (single) CPU.
pub struct WaitQueue {
    waiters: IrqMutex<Vec<TaskId>>,
}

impl WaitQueue {
    pub const fn new() -> WaitQueue {
        WaitQueue { waiters: IrqMutex::new(Vec::new()) }
    }

    /// Blocks until `ready` returns a value, or until `deadline_ns`
    /// (monotonic) passes, then returns None.
    pub fn wait_until<R>(&self, deadline_ns: Option<u64>, mut ready: impl FnMut() -> Option<R>) -> Option<R> {
        loop {
            let _irq = crate::arch::cpu::irq_off();
            if let Some(r) = ready() {
                return Some(r);
            }
            if deadline_ns.is_some_and(|d| crate::time::monotonic_ns() >= d) {
                return None;
            }
            let me = current();
            self.waiters.lock().push(me);
            block(deadline_ns);
            self.waiters.lock().retain(|w| *w != me);
        }
    }

    pub fn wake_all(&self) {
        let waiters = core::mem::take(&mut *self.waiters.lock());
        if waiters.is_empty() {
            return;
        }
        with(|s| {
            for id in waiters {
                wake_locked(s, id);
            }
        });
    }
}

impl Default for WaitQueue {
    fn default() -> Self {
        Self::new()
    }
}
