//! `ushell trace --hist SYSCALL`: a power-of-2 histogram printed as bpftrace
//! prints `hist()` maps (`TextOutput::hist_to_str` in bpftrace's
//! `output.cpp`): buckets `[0]`, `[1]`, `[2, 4)`, `[4, 8)`, ... `[1K, 2K)`,
//! `[1M, 2M)`; the label left-aligned in 16 columns, the count right-aligned
//! in 8, then a bar of `@` scaled to 52 columns; only buckets from the first
//! to the last non-empty one.

use alloc::string::String;
use core::fmt::Write;

/// Buckets: 0 for negative values (never used here), 1 for 0, 2 for 1, then
/// `[2^k, 2^(k+1))` at `k + 2`.
pub const BUCKETS: usize = 66;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: [u64; BUCKETS],
}

impl Default for Histogram {
    fn default() -> Histogram {
        Histogram { counts: [0; BUCKETS] }
    }
}

/// The bucket of `v`, as bpftrace's `hist()` computes it.
pub fn bucket(v: u64) -> usize {
    if v == 0 {
        1
    } else {
        (63 - v.leading_zeros() as usize) + 2
    }
}

fn label(power: usize) -> String {
    let (p, suffix) = match power {
        40.. => (power - 40, "T"),
        30.. => (power - 30, "G"),
        20.. => (power - 20, "M"),
        10.. => (power - 10, "K"),
        _ => (power, ""),
    };
    let mut s = String::new();
    let _ = write!(s, "{}{suffix}", 1u64 << p);
    s
}

impl Histogram {
    pub fn new() -> Histogram {
        Histogram::default()
    }

    pub fn add(&mut self, v: u64) {
        self.counts[bucket(v)] += 1;
    }

    /// `--hist SYSCALL`: adds the call's latency in microseconds (bpftrace's
    /// `hist((nsecs - @start[tid]) / 1000)`) if it returned; print with
    /// `render("usecs")`.
    pub fn add_latency_us(&mut self, rec: &linux_abi::trace::record::Record<'_>) {
        if rec.exited() {
            self.add(rec.duration_ns() / 1000);
        }
    }

    /// Sets a bucket's count (buckets counted elsewhere, e.g. in a BPF
    /// array map indexed by [`bucket`]); buckets past the last are ignored.
    pub fn set(&mut self, bucket: usize, count: u64) {
        if let Some(c) = self.counts.get_mut(bucket) {
            *c = count;
        }
    }

    /// Values counted, all buckets together.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn count(&self, bucket: usize) -> u64 {
        self.counts[bucket]
    }

    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|&c| c == 0)
    }

    /// The bucket lines only (each ending in `\n`); empty if nothing was added.
    pub fn lines(&self) -> String {
        let mut s = String::new();
        let Some(min) = self.counts.iter().position(|&c| c > 0) else { return s };
        let max = self.counts.iter().rposition(|&c| c > 0).unwrap_or(min);
        let top = *self.counts.iter().max().unwrap_or(&1);
        for (i, &count) in self.counts.iter().enumerate().take(max + 1).skip(min) {
            let header = match i {
                0 => String::from("(..., 0)"),
                1 => String::from("[0]"),
                2 => String::from("[1]"),
                _ => {
                    let mut h = String::from("[");
                    h.push_str(&label(i - 2));
                    h.push_str(", ");
                    h.push_str(&label(i - 1));
                    h.push(')');
                    h
                }
            };
            let bar = (count as f32 / top as f32 * 52.0) as usize;
            let _ = writeln!(s, "{header:<16}{count:>8} |{:<52}|", "@".repeat(bar));
        }
        s
    }

    /// The map as bpftrace prints it at exit: `@name:` then the buckets and
    /// an empty line.
    pub fn render(&self, name: &str) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "@{name}:");
        s.push_str(&self.lines());
        s.push('\n');
        s
    }
}
