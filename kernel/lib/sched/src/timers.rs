//! Deadline-ordered timers for sleeping tasks.

use alloc::collections::BTreeMap;

/// Names one armed timer, for cancellation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimerId {
    deadline: u64,
    seq: u64,
}

/// Timers keyed by (deadline, arming order): equal deadlines fire in the
/// order they were armed.
#[derive(Debug)]
pub struct TimerQueue<T> {
    timers: BTreeMap<TimerId, T>,
    seq: u64,
}

impl<T> Default for TimerQueue<T> {
    fn default() -> Self {
        TimerQueue { timers: BTreeMap::new(), seq: 0 }
    }
}

impl<T> TimerQueue<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Arms a timer for `t` at `deadline` (any monotonic unit).
    pub fn add(&mut self, deadline: u64, t: T) -> TimerId {
        self.seq += 1;
        let id = TimerId { deadline, seq: self.seq };
        self.timers.insert(id, t);
        id
    }

    /// Disarms a timer; returns its task if it had not fired yet.
    pub fn cancel(&mut self, id: TimerId) -> Option<T> {
        self.timers.remove(&id)
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next_deadline(&self) -> Option<u64> {
        self.timers.keys().next().map(|k| k.deadline)
    }

    /// Removes and returns the first timer whose deadline is `<= now`.
    /// Call it in a loop to fire all that are due.
    pub fn pop_expired(&mut self, now: u64) -> Option<T> {
        let first = *self.timers.keys().next()?;
        if first.deadline > now {
            return None;
        }
        self.timers.remove(&first)
    }

    pub fn is_empty(&self) -> bool {
        self.timers.is_empty()
    }

    pub fn len(&self) -> usize {
        self.timers.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn drain(q: &mut TimerQueue<u32>, now: u64) -> Vec<u32> {
        core::iter::from_fn(|| q.pop_expired(now)).collect()
    }

    #[test]
    fn fires_in_deadline_then_arming_order() {
        let mut q = TimerQueue::new();
        q.add(30, 3);
        q.add(10, 1);
        q.add(20, 2);
        q.add(10, 11);
        assert_eq!(q.next_deadline(), Some(10));
        assert_eq!(drain(&mut q, 9), Vec::<u32>::new());
        assert_eq!(drain(&mut q, 20), [1, 11, 2]);
        assert_eq!(q.next_deadline(), Some(30));
        assert_eq!(drain(&mut q, u64::MAX), [3]);
        assert!(q.is_empty());
    }

    #[test]
    fn cancel_only_unfired() {
        let mut q = TimerQueue::new();
        let a = q.add(5, 1);
        let b = q.add(6, 2);
        assert_eq!(q.cancel(a), Some(1));
        assert_eq!(q.cancel(a), None);
        assert_eq!(drain(&mut q, 10), [2]);
        assert_eq!(q.cancel(b), None, "already fired");
    }

    /// Against a model: a sorted list of (deadline, seq, task).
    #[test]
    fn matches_a_sorted_list_model() {
        let mut q = TimerQueue::new();
        let mut model: Vec<(u64, u64, u32)> = Vec::new();
        let mut ids = Vec::new();
        let mut x = 0x2545_f491u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut now = 0;
        for i in 0..2000u32 {
            match rnd() % 4 {
                0 | 1 => {
                    let d = now + rnd() % 100;
                    let id = q.add(d, i);
                    ids.push((id, i));
                    model.push((d, i as u64, i));
                }
                2 if !ids.is_empty() => {
                    let (id, t) = ids.swap_remove((rnd() % ids.len() as u64) as usize);
                    let had = model.iter().position(|m| m.2 == t);
                    assert_eq!(q.cancel(id).is_some(), had.is_some());
                    if let Some(p) = had {
                        model.remove(p);
                    }
                }
                _ => {
                    now += rnd() % 50;
                    model.sort();
                    let due: Vec<u32> = model.iter().filter(|m| m.0 <= now).map(|m| m.2).collect();
                    model.retain(|m| m.0 > now);
                    assert_eq!(drain(&mut q, now), due);
                }
            }
            assert_eq!(q.len(), model.len());
        }
    }
}
