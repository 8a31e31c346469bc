//! `ushell trace -c`: strace's `-c` table (`call_summary_pers` in strace's
//! `count.c`): rows sorted by total time (ties in syscall-number order), the
//! columns `% time`, `seconds`, `usecs/call`, `calls`, `errors`, `syscall`
//! (widened when a value needs more room), a divider, and the `total` row.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use linux_abi::trace::record::Record;

use crate::line::is_error;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Count {
    calls: u64,
    errors: u64,
    ns: u64,
}

/// Per-syscall call counts, errors and time, fed one record at a time.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    counts: Vec<Count>,
}

impl Summary {
    pub fn new() -> Summary {
        Summary::default()
    }

    /// Counts a finished call. As in strace, calls that did not return
    /// (exit_group) are not counted, nor numbers without a name.
    pub fn add(&mut self, rec: &Record<'_>) {
        if rec.exited() {
            self.add_call(rec.nr as usize, rec.duration_ns(), is_error(rec.ret));
        }
    }

    /// Counts one call of `nr` that took `ns` nanoseconds.
    pub fn add_call(&mut self, nr: usize, ns: u64, failed: bool) {
        if linux_abi::syscall_name(nr).is_none() {
            return;
        }
        if self.counts.len() <= nr {
            self.counts.resize(nr + 1, Count::default());
        }
        let c = &mut self.counts[nr];
        c.calls += 1;
        c.errors += failed as u64;
        c.ns += ns;
    }

    pub fn is_empty(&self) -> bool {
        self.counts.iter().all(|c| c.calls == 0)
    }

    /// The table, each line ending in `\n`.
    pub fn render(&self) -> String {
        let rows: Vec<(usize, Count)> = self.counts.iter().copied().enumerate().filter(|(_, c)| c.calls > 0).collect();
        let mut sorted = rows.clone();
        sorted.sort_by_key(|r| core::cmp::Reverse(r.1.ns)); // stable: ties stay in number order
        let total_ns: u64 = rows.iter().map(|r| r.1.ns).sum();
        let calls: u64 = rows.iter().map(|r| r.1.calls).sum();
        let errors: u64 = rows.iter().map(|r| r.1.errors).sum();
        let secs = |ns: u64| format_secs(ns);
        // strace's time_avg is a timespec division (truncating nanoseconds),
        // printed as `(uint64_t) (ts_float(avg) * 1e6)`.
        let avg_us = |c: &Count| (ts_float(c.ns / c.calls) * 1e6) as u64;
        let avg_max = rows.iter().map(|r| avg_us(&r.1)).max().unwrap_or(0);
        let name_max = rows.iter().map(|r| linux_abi::syscall_name(r.0).unwrap_or("").len()).max().unwrap_or(0);
        let w_pct = 6;
        let w_sec = 11usize.max(secs(total_ns).len());
        let w_avg = 11usize.max(digits(avg_max));
        let w_calls = 9usize.max(digits(calls));
        let w_err = 9usize.max(digits(errors));
        let w_name = 16usize.max(name_max + 1);

        let mut s = String::new();
        let _ = writeln!(s, "{:>w_pct$} {:>w_sec$} {:>w_avg$} {:>w_calls$} {:>w_err$} syscall", "% time", "seconds", "usecs/call", "calls", "errors");
        let divider = |s: &mut String| {
            for (i, w) in [w_pct, w_sec, w_avg, w_calls, w_err, w_name].iter().enumerate() {
                if i > 0 {
                    s.push(' ');
                }
                s.extend(core::iter::repeat_n('-', *w));
            }
            s.push('\n');
        };
        divider(&mut s);
        for (n, c) in &sorted {
            let pct = if c.ns == 0 { 0.0 } else { 100.0 * ts_float(c.ns) / ts_float(total_ns) };
            let _ = write!(s, "{:>w_pct$} {:>w_sec$} {:>w_avg$} {:>w_calls$} ", fmt_pct(pct), secs(c.ns), avg_us(c), c.calls);
            err_col(&mut s, c.errors, w_err);
            let _ = writeln!(s, " {}", linux_abi::syscall_name(*n).unwrap_or(""));
        }
        divider(&mut s);
        let total_avg = if calls == 0 { 0 } else { (ts_float(total_ns) / calls as f64 * 1e6) as u64 };
        let _ = write!(s, "{:>w_pct$} {:>w_sec$} {:>w_avg$} {:>w_calls$} ", "100.00", secs(total_ns), total_avg, calls);
        err_col(&mut s, errors, w_err);
        s.push_str(" total\n");
        s
    }
}

fn digits(v: u64) -> usize {
    let mut n = 1;
    let mut v = v / 10;
    while v > 0 {
        n += 1;
        v /= 10;
    }
    n
}

/// strace's `ts_float`: seconds as a double, `sec + nsec / 1e9`.
fn ts_float(ns: u64) -> f64 {
    (ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1_000_000_000.0
}

/// `%.6f` of `ts_float` (Rust and glibc both round the exact binary value).
fn format_secs(ns: u64) -> String {
    let mut s = String::new();
    let _ = write!(s, "{:.6}", ts_float(ns));
    s
}

/// `%.2f` of a percentage.
fn fmt_pct(p: f64) -> String {
    let mut s = String::new();
    let _ = write!(s, "{p:.2}");
    s
}

/// `%*.0lu`: zero prints as blanks.
fn err_col(s: &mut String, v: u64, w: usize) {
    if v == 0 {
        s.extend(core::iter::repeat_n(' ', w));
    } else {
        let _ = write!(s, "{v:>w$}");
    }
}
