//! Scheduling policy, kept apart from the mechanism (context switch, timer
//! interrupt, locks), which lives in the kernel. Everything here is plain
//! data structures over task ids, so it is tested on the host.
//!
//! * [`RunQueue`]: preemptive round robin. Runnable tasks wait in FIFO order;
//!   the running task may use `slice_ticks` timer ticks before [`RunQueue::tick`]
//!   asks for a switch, and only if someone else is waiting.
//! * [`TimerQueue`]: sleeping tasks ordered by deadline, with cancellation
//!   (a task woken early by data leaves its timer behind).
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]

extern crate alloc;

mod runqueue;
mod timers;

pub use runqueue::RunQueue;
pub use timers::{TimerId, TimerQueue};
