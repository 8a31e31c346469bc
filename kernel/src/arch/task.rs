//! Kernel stacks and the context switch. A [`TaskContext`] is the saved
//! kernel state of one task: its stack and, while it is switched out, the
//! stack pointer to resume from. The scheduler above decides who runs; this
//! module only switches, and keeps every stack alive while it is in use:
//! the running context is held in a per-CPU slot, and the one just left is
//! dropped only after the switch, by the code now running on another stack.
//!
//! A context may carry task-local data for the layers above (the user
//! thread a task runs), which [`with_current_local`] lends to the running
//! code without a lock or a reference count: the syscall path reads it on
//! every call.

use alloc::boxed::Box;
use alloc::sync::Arc;
use core::any::{Any, TypeId};
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicPtr, Ordering};

use super::mem::{alloc_pages_uninit, free_pages, phys_to_virt, PAGE_SIZE};
use super::paging::{kernel_entry, set_kernel_entry};

/// Bytes of kernel stack per task (syscall handlers run on it).
pub const KERNEL_STACK_SIZE: usize = 64 * 1024;

type Entry = Box<dyn FnOnce() + Send>;

/// Data a task carries for the layers above, fixed at creation.
pub type TaskLocal = Arc<dyn Any + Send + Sync>;

/// Pages of a kernel stack, the guard page included.
const STACK_PAGES: usize = KERNEL_STACK_SIZE / PAGE_SIZE as usize + 1;

/// A task's kernel stack: [`KERNEL_STACK_SIZE`] bytes above a guard page
/// whose direct-map entry is cleared, so running off the bottom faults
/// (reported as a kernel stack overflow, see [`guard_of_current`]) instead
/// of overwriting the heap block below.
struct Stack {
    /// Physical address of the pages, the guard page first.
    phys: u64,
    /// The guard page's direct-map entry before it was cleared.
    guard_entry: u64,
}

impl Stack {
    fn new() -> Option<Stack> {
        // Left uninitialised: zeroing 64 KiB per task would be most of the
        // boot's instruction count.
        let phys = alloc_pages_uninit(STACK_PAGES)?;
        let guard = phys_to_virt(phys);
        // (Page tables change only here and in execmem, never from an
        // interrupt, on the one CPU.)
        match kernel_entry(guard) {
            Some(e) if set_kernel_entry(guard, 0).is_some() => Some(Stack { phys, guard_entry: e }),
            _ => {
                // SAFETY: just allocated, untouched, its entries unchanged.
                unsafe { free_pages(phys, STACK_PAGES) };
                None
            }
        }
    }

    fn guard(&self) -> u64 {
        phys_to_virt(self.phys)
    }

    fn top(&self) -> u64 {
        self.guard() + STACK_PAGES as u64 * PAGE_SIZE
    }

    /// The stack's words (below the top).
    fn words(&mut self) -> &mut [MaybeUninit<u64>] {
        // SAFETY: the pages above the guard are this stack's own, mapped
        // (direct map) and writable; uninitialised words are MaybeUninit.
        unsafe { core::slice::from_raw_parts_mut((self.guard() + PAGE_SIZE) as *mut MaybeUninit<u64>, KERNEL_STACK_SIZE / 8) }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // The heap writes its bookkeeping into free blocks: map the guard
        // page again before giving the pages back.
        if set_kernel_entry(self.guard(), self.guard_entry).is_some() {
            // SAFETY: the pages of `Stack::new`'s allocation, all mapped
            // again; the task that ran on them is gone (contexts are
            // dropped only after the switch away from them).
            unsafe { free_pages(self.phys, STACK_PAGES) };
        }
        // Else (no memory to split a table, which cannot happen for an
        // entry that was split already): the pages leak, never reused
        // with a page unmapped.
    }
}

/// The guard page of the running task's kernel stack (start, end), if it
/// has one: what a fault report checks `cr2` against.
pub fn guard_of_current() -> Option<(u64, u64)> {
    // SAFETY: CURRENT_PTR always points at a live context (the running
    // one, kept alive in SLOTS, or BEFORE_INIT).
    let cur = unsafe { &*CURRENT_PTR.load(Ordering::Relaxed) };
    cur.stack.as_ref().map(|s| (s.guard(), s.guard() + PAGE_SIZE))
}

pub struct TaskContext {
    /// Saved rsp while switched out; written only by `switch_stacks`.
    rsp: UnsafeCell<u64>,
    /// None for the boot context, which runs on the boot stack.
    stack: Option<Stack>,
    /// The local data's type (`()`'s for none) and the address of its
    /// value, kept beside it so that a lookup compares with a constant and
    /// loads one pointer instead of calling through the vtable.
    local_type: TypeId,
    local_value: NonNull<()>,
    /// Owns the value `local_value` points to.
    _local: Option<TaskLocal>,
}

// SAFETY: `rsp` is touched only by the context switch, with interrupts off
// on the one CPU; the stack memory is owned and only used by the task; the
// local's raw pointer is its own Arc's value, which is Send + Sync.
unsafe impl Sync for TaskContext {}
// SAFETY: as above.
unsafe impl Send for TaskContext {}

/// What runs when a task's function returns: the scheduler's exit path.
/// Registered by [`init`], so this layer never names the code above it.
static mut ON_TASK_RETURN: fn() -> ! = super::cpu::halt_forever;

struct Slots {
    current: Option<Arc<TaskContext>>,
    prev: Option<Arc<TaskContext>>,
}
struct Cpu0Slots(UnsafeCell<Slots>);
// SAFETY: one CPU; accessed only with interrupts off (asserted by callers'
// contracts below: `switch_to` disables them itself).
unsafe impl Sync for Cpu0Slots {}
static SLOTS: Cpu0Slots = Cpu0Slots(UnsafeCell::new(Slots { current: None, prev: None }));
/// `SLOTS.current` as a plain pointer, for [`with_current_local`]: one
/// relaxed load, race-free whatever the interrupt state. Never null: before
/// `init` it points at a context with no local data.
static CURRENT_PTR: AtomicPtr<TaskContext> = AtomicPtr::new(&BEFORE_INIT as *const TaskContext as *mut TaskContext);
static BEFORE_INIT: TaskContext = TaskContext::without_stack();

core::arch::global_asm!(
    ".text",
    // switch_stacks(save: *mut u64 [rdi], next_rsp: u64 [rsi])
    ".global switch_stacks",
    "switch_stacks:",
    "push rbp", "push rbx", "push r12", "push r13", "push r14", "push r15",
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "pop r15", "pop r14", "pop r13", "pop r12", "pop rbx", "pop rbp",
    "ret",
    // First run of a new task: r12 holds its boxed entry.
    ".global task_trampoline",
    "task_trampoline:",
    "mov rdi, r12",
    "call {start}",
    "ud2",
    start = sym task_start,
);

extern "C" {
    fn switch_stacks(save: *mut u64, next_rsp: u64);
    fn task_trampoline();
}

/// Registers the boot context as the running one and the function a task
/// returns into.
pub fn init(on_task_return: fn() -> !) -> Arc<TaskContext> {
    let boot = Arc::new(TaskContext::without_stack());
    let _irq = super::cpu::irq_off();
    // SAFETY: interrupts off, boot: nothing else uses the slots.
    unsafe {
        ON_TASK_RETURN = on_task_return;
        (*SLOTS.0.get()).current = Some(boot.clone());
    }
    CURRENT_PTR.store(Arc::as_ptr(&boot).cast_mut(), Ordering::Relaxed);
    boot
}

impl TaskContext {
    /// A context on a stack it does not own (the boot stack), without
    /// local data.
    const fn without_stack() -> TaskContext {
        TaskContext { rsp: UnsafeCell::new(0), stack: None, local_type: TypeId::of::<()>(), local_value: NonNull::dangling(), _local: None }
    }

    /// A context that will run `entry` on a fresh kernel stack, with
    /// interrupts off, the first time it is switched to. None if out of memory.
    pub fn new(entry: Entry, local: Option<TaskLocal>) -> Option<Arc<TaskContext>> {
        let words = KERNEL_STACK_SIZE / 8;
        let mut stack = Stack::new()?;
        let entry = Box::into_raw(Box::new(entry)) as u64;
        // Initial frame popped by switch_stacks: r15 r14 r13 r12 rbx rbp, ret.
        // One more word keeps rsp 16-byte aligned + 8 at the trampoline's
        // call, as the ABI wants.
        let frame = [0, 0, 0, entry, 0, 0, task_trampoline as *const () as u64, 0];
        let at = words - frame.len();
        for (slot, v) in stack.words()[at..].iter_mut().zip(frame) {
            slot.write(v);
        }
        let rsp = stack.top() - (frame.len() * 8) as u64;
        let (local_type, local_value) = match &local {
            Some(l) => ((**l).type_id(), NonNull::from(&**l).cast::<()>()),
            None => (TypeId::of::<()>(), NonNull::dangling()),
        };
        Some(Arc::new(TaskContext { rsp: UnsafeCell::new(rsp), stack: Some(stack), local_type, local_value, _local: local }))
    }

    /// Top of the kernel stack (0 for the boot context).
    pub fn stack_top(&self) -> u64 {
        self.stack.as_ref().map_or(0, Stack::top)
    }
}

impl Drop for TaskContext {
    fn drop(&mut self) {
        // A task that never ran still owns its boxed entry.
        if let Some(stack) = &mut self.stack {
            // SAFETY: reading our own saved rsp: if the task never ran, the
            // frame written by `new` is intact and its rsp points at it.
            let never_ran = unsafe { *self.rsp.get() } == stack.top() - 8 * 8;
            if never_ran {
                let words = stack.words();
                let n = words.len();
                // SAFETY: the word `new` wrote the entry's pointer to (it
                // came from Box::into_raw and was never taken by task_start).
                drop(unsafe { Box::from_raw(words[n - 5].assume_init() as *mut Entry) });
            }
        }
    }
}

extern "C" fn task_start(entry: u64) -> ! {
    finish_switch();
    // SAFETY: `entry` is the pointer `TaskContext::new` leaked for this
    // task; the trampoline runs once per task, so it is taken once.
    let f = unsafe { Box::from_raw(entry as *mut Entry) };
    f();
    // SAFETY: the pointer is registered once at boot.
    let on_return = unsafe { ON_TASK_RETURN };
    on_return()
}

/// Runs `f` with the running task's local data if it is a `T` (None for
/// tasks without, or with another type).
///
/// The borrow needs no lock or count: the running context lives at least
/// as long as code runs on its stack (it is dropped only by
/// [`finish_switch`] on another stack, after the CPU has left it for good),
/// and `f`, running on that stack, cannot keep the reference beyond its
/// call. `f` may block and be switched out and back meanwhile.
#[inline(always)]
pub fn with_current_local<T: Any, R>(f: impl for<'a> FnOnce(Option<&'a T>) -> R) -> R {
    // SAFETY: CURRENT_PTR is the context this code runs on, or the static
    // placeholder before `init`; it is alive for all of `f`, as above.
    let ctx = unsafe { &*CURRENT_PTR.load(Ordering::Relaxed) };
    // `()` is never a local (its type marks "none"), so a match means a value.
    let local = if ctx.local_type == TypeId::of::<T>() && TypeId::of::<T>() != TypeId::of::<()>() {
        // SAFETY: the TypeId was taken from the value `local_value` points
        // to, at creation, and `_local` keeps that value alive.
        Some(unsafe { ctx.local_value.cast::<T>().as_ref() })
    } else {
        None
    };
    f(local)
}

/// Drops the context switched away from, now that nothing runs on it.
fn finish_switch() {
    // SAFETY: interrupts are off across a switch (see switch_to).
    let prev = unsafe { (*SLOTS.0.get()).prev.take() };
    drop(prev);
}

/// Switches this CPU to `next`, returning when the current context is
/// switched back to. The current context stays alive while switched out as
/// long as someone holds it; if nobody does (a task that exited), its stack
/// is freed right after the switch.
pub fn switch_to(next: Arc<TaskContext>) {
    // Restored when this context is switched back to, to its own IF state.
    let _irq = super::cpu::irq_off();
    // SAFETY: interrupts are off for the whole switch on the only CPU, so
    // the slots and the contexts' rsp fields have a single user.
    unsafe {
        let slots = &mut *SLOTS.0.get();
        let prev = slots.current.take().unwrap_or_else(|| unreachable!("task::init ran at boot"));
        if Arc::ptr_eq(&prev, &next) {
            slots.current = Some(prev);
            return;
        }
        let save = prev.rsp.get();
        let next_rsp = *next.rsp.get();
        let top = next.stack_top();
        if top != 0 {
            super::percpu::set_kernel_stack(top);
        }
        CURRENT_PTR.store(Arc::as_ptr(&next).cast_mut(), Ordering::Relaxed);
        slots.current = Some(next);
        slots.prev = Some(prev);
        switch_stacks(save, next_rsp);
    }
    finish_switch();
}
