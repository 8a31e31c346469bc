//! Round robin with time slices.

use alloc::collections::VecDeque;

/// The tasks ready to run (not the running one) and the running task's
/// used share of its slice.
#[derive(Debug)]
pub struct RunQueue<T> {
    ready: VecDeque<T>,
    slice_ticks: u32,
    used_ticks: u32,
}

impl<T: PartialEq + Copy> RunQueue<T> {
    /// `slice_ticks` (at least 1) is how many timer ticks a task may run
    /// before it yields to a waiting task.
    pub fn new(slice_ticks: u32) -> Self {
        RunQueue { ready: VecDeque::new(), slice_ticks: slice_ticks.max(1), used_ticks: 0 }
    }

    /// Makes `t` runnable, behind everyone already waiting. A task already
    /// queued is not queued twice (a double wake-up is harmless).
    pub fn enqueue(&mut self, t: T) {
        if !self.ready.contains(&t) {
            self.ready.push_back(t);
        }
    }

    /// Takes `t` out of the queue (it blocked or exited before running).
    pub fn remove(&mut self, t: T) {
        self.ready.retain(|x| *x != t);
    }

    /// The next task to run, which gets a fresh slice.
    pub fn pick_next(&mut self) -> Option<T> {
        let t = self.ready.pop_front()?;
        self.used_ticks = 0;
        Some(t)
    }

    /// One timer tick of the running task. True when its slice is used up
    /// and another task is waiting: the caller should switch.
    pub fn tick(&mut self) -> bool {
        self.used_ticks = self.used_ticks.saturating_add(1);
        self.used_ticks >= self.slice_ticks && !self.ready.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.ready.is_empty()
    }

    pub fn len(&self) -> usize {
        self.ready.len()
    }

    pub fn contains(&self, t: T) -> bool {
        self.ready.contains(&t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_order_and_no_duplicates() {
        let mut q = RunQueue::new(1);
        q.enqueue(1);
        q.enqueue(2);
        q.enqueue(1);
        q.enqueue(3);
        assert_eq!(q.len(), 3);
        assert_eq!(q.pick_next(), Some(1));
        assert_eq!(q.pick_next(), Some(2));
        assert_eq!(q.pick_next(), Some(3));
        assert_eq!(q.pick_next(), None);
    }

    #[test]
    fn tick_preempts_only_when_slice_used_and_someone_waits() {
        let mut q = RunQueue::new(3);
        assert!(!q.tick(), "nobody waits");
        assert!(!q.tick());
        assert!(!q.tick(), "slice used, but nobody waits");
        q.enqueue(7);
        assert!(q.tick(), "slice used and 7 waits");
        assert_eq!(q.pick_next(), Some(7));
        q.enqueue(8);
        assert!(!q.tick(), "fresh slice for 7");
        assert!(!q.tick());
        assert!(q.tick());
    }

    #[test]
    fn remove_drops_a_blocked_task() {
        let mut q = RunQueue::new(1);
        q.enqueue(1);
        q.enqueue(2);
        q.remove(1);
        assert!(!q.contains(1));
        assert_eq!(q.pick_next(), Some(2));
        assert!(q.is_empty());
    }

    /// Round robin is fair: with every task re-queued after its slice, each
    /// of n tasks runs exactly once in every n picks.
    #[test]
    fn fairness_over_many_rounds() {
        let mut q = RunQueue::new(2);
        for t in 0..5u32 {
            q.enqueue(t);
        }
        let mut runs = [0u32; 5];
        let mut cur = q.pick_next().unwrap();
        for _ in 0..1000 {
            if q.tick() {
                q.enqueue(cur);
                cur = q.pick_next().unwrap();
                runs[cur as usize] += 1;
            }
        }
        let (min, max) = (runs.iter().min().unwrap(), runs.iter().max().unwrap());
        assert!(max - min <= 1, "{runs:?}");
        assert!(*min > 0);
    }
}
