//! Prints a syscall stream as strace does: one line per record (or, with
//! `-c`, the summary table at the end), the losses where they happened,
//! and the `+++ exited with N +++` line. Shared by `ushell trace` (stdout)
//! and `ushell run --trace` (stderr).

use std::io::Write;

use linux_abi::trace::record::Record;
use shellproto::Event;

/// How the stream is printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Style {
    /// `-c`: the summary table at the end instead of lines.
    pub summary: bool,
    /// `-j`: one JSON object per call.
    pub json: bool,
    /// `-T`: the time spent in each call.
    pub show_time: bool,
}

/// How the traced app ended, for the last line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    Exited(i32),
    Killed(i32),
}

impl End {
    /// From the instance's exit status and its log: a status of 128+N is a
    /// kill by signal N when the kernel logged `app killed by` (an app may
    /// also call `exit(139)`).
    pub fn from_status(status: u8, log: &str) -> End {
        let killed = log.lines().any(|l| l.contains("app killed by "));
        match status {
            129..=192 if killed => End::Killed(status as i32 - 128),
            s => End::Exited(s as i32),
        }
    }

    pub fn line(&self) -> String {
        match *self {
            End::Exited(n) => strace::exited_line(n),
            End::Killed(sig) => strace::killed_line(sig, false),
        }
    }
}

pub struct Printer {
    style: Style,
    out: Box<dyn Write + Send>,
    summary: strace::Summary,
    /// Records received, and records the kernel reported lost.
    pub records: u64,
    pub lost: u64,
    /// The output failed (a closed pipe): nothing more is written.
    pub broken: bool,
}

/// The line that reports a loss, in the stream where it happened.
pub fn lost_line(count: u64) -> String {
    format!("ushell: {count} syscall records lost (ring buffer full)")
}

impl Printer {
    pub fn new(style: Style, out: Box<dyn Write + Send>) -> Printer {
        Printer { style, out, summary: strace::Summary::new(), records: 0, lost: 0, broken: false }
    }

    fn write(&mut self, text: &str) {
        if self.broken {
            return;
        }
        if self.out.write_all(text.as_bytes()).and_then(|()| self.out.flush()).is_err() {
            self.broken = true;
        }
    }

    /// One event of the stream (others are ignored).
    pub fn event(&mut self, ev: &Event) {
        match ev {
            Event::Syscalls { data } => self.records_in(data),
            Event::Lost { what, count } if what.starts_with("syscall records") => {
                self.lost += count;
                self.write(&format!("{}\n", lost_line(*count)));
            }
            _ => {}
        }
    }

    fn records_in(&mut self, data: &[u8]) {
        let opts = strace::Options { show_time: self.style.show_time, ..strace::Options::default() };
        let mut rest = data;
        let mut text = String::new();
        while rest.len() >= 4 {
            let size = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
            let rec = match Record::parse(rest) {
                Ok(r) if size >= 8 && size <= rest.len() => r,
                other => {
                    text.push_str(&format!("ushell: a malformed syscall record ({:?}); {} bytes skipped\n", other.err(), rest.len()));
                    break;
                }
            };
            self.records += 1;
            if self.style.summary {
                self.summary.add(&rec);
            } else if self.style.json {
                text.push_str(&strace::format_json(&rec, &opts));
                text.push('\n');
            } else {
                text.push_str(&strace::format_line(&rec, &opts));
                text.push('\n');
            }
            rest = &rest[size..];
        }
        if !text.is_empty() {
            self.write(&text);
        }
    }

    /// The end of the stream: the table (`-c`), then, when the app ended,
    /// strace's last line (`-c` prints only the table, as strace does).
    pub fn finish(&mut self, end: Option<End>) {
        if self.style.summary {
            let t = self.summary.render();
            self.write(&t);
        } else if let Some(e) = end {
            let line = if self.style.json {
                match e {
                    End::Exited(n) => format!("{{\"exited\":{n}}}\n"),
                    End::Killed(s) => format!("{{\"killed\":{s}}}\n"),
                }
            } else {
                format!("{}\n", e.line())
            };
            self.write(&line);
        }
    }
}

/// The syscall numbers of `-e SPEC` (empty: all), or the unknown name.
pub fn syscall_numbers(spec: Option<&str>) -> Result<Vec<u16>, String> {
    let Some(spec) = spec else { return Ok(Vec::new()) };
    let set = strace::SyscallSet::parse(spec).map_err(|u| format!("-e: no syscall named `{}`", u.0))?;
    if set == strace::SyscallSet::ALL {
        return Ok(Vec::new());
    }
    let nrs: Vec<u16> = (0..512u16).filter(|n| set.contains(*n as usize)).collect();
    if nrs.is_empty() {
        return Err("-e: no syscalls named".into());
    }
    Ok(nrs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// A record of `nr(args)` that returned `ret` (no blobs).
    fn record(nr: u16, args: [u64; 6], ret: Option<i64>) -> Vec<u8> {
        let mut b = vec![0u8; 96];
        b[..4].copy_from_slice(&96u32.to_le_bytes());
        b[4] = 1;
        b[5] = ret.is_some() as u8;
        b[6..8].copy_from_slice(&nr.to_le_bytes());
        b[8..12].copy_from_slice(&1u32.to_le_bytes());
        b[12..16].copy_from_slice(&1u32.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            b[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        b[64..72].copy_from_slice(&ret.unwrap_or(0).to_le_bytes());
        b[72..80].copy_from_slice(&1000u64.to_le_bytes());
        b[80..88].copy_from_slice(&3000u64.to_le_bytes());
        b
    }

    fn text(b: &Buf) -> String {
        String::from_utf8(b.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn lines_losses_and_the_end_in_stream_order() {
        let b = Buf::default();
        let mut p = Printer::new(Style::default(), Box::new(b.clone()));
        let mut data = record(39, [0; 6], Some(1));
        data.extend(record(3, [7, 0, 0, 0, 0, 0], Some(-9)));
        p.event(&Event::Syscalls { data });
        p.event(&Event::Lost { what: "syscall records (trace ring buffer full)".into(), count: 1234 });
        p.event(&Event::Lost { what: "bpf_printk lines of `x`".into(), count: 5 });
        p.event(&Event::Syscalls { data: record(231, [3, 0, 0, 0, 0, 0], None) });
        p.finish(Some(End::Exited(3)));
        assert_eq!((p.records, p.lost), (3, 1234));
        let t = text(&b);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], format!("{:<39} = 1", "getpid()"));
        assert_eq!(lines[1], format!("{:<39} = -1 EBADF (Bad file descriptor)", "close(7)"));
        assert_eq!(lines[2], "ushell: 1234 syscall records lost (ring buffer full)");
        assert_eq!(lines[3], format!("{:<39} = ?", "exit_group(3)"));
        assert_eq!(lines[4], "+++ exited with 3 +++");
        assert_eq!(lines.len(), 5);
    }

    #[test]
    fn the_summary_counts_calls_and_errors_and_replaces_the_lines() {
        let b = Buf::default();
        let mut p = Printer::new(Style { summary: true, ..Style::default() }, Box::new(b.clone()));
        let mut data = Vec::new();
        for r in [Some(0), Some(-9), Some(0)] {
            data.extend(record(3, [3, 0, 0, 0, 0, 0], r));
        }
        p.event(&Event::Syscalls { data });
        p.finish(Some(End::Exited(0)));
        let t = text(&b);
        assert!(t.starts_with("% time     seconds  usecs/call     calls    errors syscall\n"), "{t}");
        let row = t.lines().find(|l| l.ends_with(" close")).unwrap();
        assert_eq!(row.split_whitespace().collect::<Vec<_>>()[3..], ["3", "1", "close"]);
        assert!(!t.contains("+++"), "strace -c prints only the table");
    }

    #[test]
    fn the_end_line_names_a_signal_only_when_the_kernel_killed_the_app() {
        assert_eq!(End::from_status(139, "[kernel] app killed by SIGSEGV (11, SEGV_MAPERR): page fault at rip 0x401000\n"), End::Killed(11));
        assert_eq!(End::from_status(139, "[stdout] exit(139) on purpose\n"), End::Exited(139));
        assert_eq!(End::from_status(0, ""), End::Exited(0));
        assert_eq!(End::Killed(11).line(), "+++ killed by SIGSEGV +++");
        assert_eq!(End::Exited(0).line(), "+++ exited with 0 +++");
    }

    #[test]
    fn syscall_names_become_numbers() {
        assert_eq!(syscall_numbers(None).unwrap(), Vec::<u16>::new());
        assert_eq!(syscall_numbers(Some("all")).unwrap(), Vec::<u16>::new());
        assert_eq!(syscall_numbers(Some("write,read")).unwrap(), [0, 1]);
        assert_eq!(syscall_numbers(Some("trace=openat")).unwrap(), [257]);
        assert_eq!(syscall_numbers(Some("nope")).unwrap_err(), "-e: no syscall named `nope`");
    }
}
