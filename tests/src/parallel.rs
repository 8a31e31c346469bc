//! Runs independent cases on a few threads (each case boots its own VM).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Number of concurrent VMs: `E2E_JOBS`, else the number of CPUs (at most 4).
pub fn jobs() -> usize {
    std::env::var("E2E_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()).min(4))
}

/// Maps `f` over `items` on [`jobs`] threads, keeping the order.
pub fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs().min(items.len().max(1)) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results.into_inner().unwrap().into_iter().map(|r| r.expect("every case ran")).collect()
}
