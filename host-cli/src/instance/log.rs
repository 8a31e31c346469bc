//! The instance log: everything the instance said, one line per entry,
//! tagged with its source (`[stdout] `, `[stderr] `, `[kernel] `,
//! `[prog NAME] `, `[ringbuf MAP] `, `[qemu] `, `[ushell] `). The supervisor
//! is its only writer; `ushell logs` reads the file, and `logs -f` also
//! follows new lines through the supervisor ([`InstanceLog::follow`]).

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Mutex;

/// Where a line came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Stdout,
    Stderr,
    /// Kernel log lines (COM2 lines with the `[ushell] ` prefix, and the
    /// shell's kernel events).
    Kernel,
    /// A program's `bpf_printk` output, by program name.
    Prog(String),
    /// A ring-buffer record, by map name.
    Ringbuf(String),
    /// QEMU's own messages.
    Qemu,
    /// The supervisor's (start, exit, errors).
    Supervisor,
}

impl Source {
    pub fn tag(&self) -> String {
        match self {
            Source::Stdout => "stdout".into(),
            Source::Stderr => "stderr".into(),
            Source::Kernel => "kernel".into(),
            Source::Prog(name) => format!("prog {name}"),
            Source::Ringbuf(map) => format!("ringbuf {map}"),
            Source::Qemu => "qemu".into(),
            Source::Supervisor => "ushell".into(),
        }
    }
}

/// One log line as written: `[tag] text`.
pub fn format_line(source: &Source, text: &str) -> String {
    format!("[{}] {}", source.tag(), text.trim_end_matches(['\n', '\r']))
}

/// Lines a follower may fall behind before it is disconnected.
const FOLLOW_BACKLOG: usize = 65_536;

struct Inner {
    file: File,
    len: u64,
    followers: Vec<SyncSender<String>>,
    closed: bool,
}

pub struct InstanceLog {
    inner: Mutex<Inner>,
}

impl InstanceLog {
    /// Creates (or appends to) the log at `path`, mode 0600.
    pub fn open(path: &Path) -> io::Result<InstanceLog> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
        let len = file.metadata()?.len();
        Ok(InstanceLog { inner: Mutex::new(Inner { file, len, followers: Vec::new(), closed: false }) })
    }

    /// Appends one entry (several if `text` holds newlines).
    pub fn line(&self, source: &Source, text: &str) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        for piece in text.trim_end_matches('\n').split('\n') {
            let line = format_line(source, piece);
            // A full disk must not stop the instance; the line still
            // reaches the followers.
            if inner.file.write_all(format!("{line}\n").as_bytes()).is_ok() {
                inner.len += line.len() as u64 + 1;
            }
            let mut lagged = 0;
            inner.followers.retain(|f| match f.try_send(line.clone()) {
                Ok(()) => true,
                Err(TrySendError::Full(_)) => {
                    lagged += 1;
                    false
                }
                Err(TrySendError::Disconnected(_)) => false,
            });
            if lagged > 0 {
                let note = format_line(&Source::Supervisor, &format!("{lagged} `logs -f` reader(s) fell {FOLLOW_BACKLOG} lines behind and were disconnected"));
                let _ = inner.file.write_all(format!("{note}\n").as_bytes());
                inner.len += note.len() as u64 + 1;
            }
        }
    }

    /// The log's length now, and every line written from then on, until
    /// [`Self::close`].
    pub fn follow(&self) -> (u64, Receiver<String>) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let (tx, rx) = sync_channel(FOLLOW_BACKLOG);
        if !inner.closed {
            inner.followers.push(tx);
        }
        (inner.len, rx)
    }

    /// No more lines: followers see the end of their stream.
    pub fn close(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.closed = true;
        inner.followers.clear();
        let _ = inner.file.flush();
    }
}

/// Cuts a byte stream into lines for the log. A line longer than
/// [`LineSplitter::MAX`] is cut there; bytes that are not UTF-8 are shown
/// as U+FFFD (the app's output itself is passed on unchanged elsewhere).
#[derive(Debug, Default)]
pub struct LineSplitter {
    buf: Vec<u8>,
}

impl LineSplitter {
    pub const MAX: usize = 4096;

    /// Complete lines in `bytes` (with what came before), without newlines.
    pub fn push(&mut self, bytes: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        for &b in bytes {
            if b == b'\n' {
                out.push(self.take());
            } else {
                self.buf.push(b);
                if self.buf.len() >= Self::MAX {
                    out.push(self.take());
                }
            }
        }
        out
    }

    /// The unfinished last line, if any.
    pub fn finish(&mut self) -> Option<String> {
        (!self.buf.is_empty()).then(|| self.take())
    }

    fn take(&mut self) -> String {
        let line = String::from_utf8_lossy(&self.buf).trim_end_matches('\r').to_string();
        self.buf.clear();
        line
    }
}

/// What a line of QEMU's stderr (COM2 and QEMU's messages) is.
pub fn classify_stderr(line: &str) -> (Source, &str) {
    if let Some(rest) = line.strip_prefix("[ushell] ") {
        (Source::Kernel, rest)
    } else if line.starts_with("qemu-system-") {
        (Source::Qemu, line)
    } else {
        (Source::Stderr, line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_tagged_and_followers_see_new_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("log");
        let log = InstanceLog::open(&p).unwrap();
        log.line(&Source::Stdout, "hello\n");
        let (offset, rx) = log.follow();
        assert_eq!(offset, "[stdout] hello\n".len() as u64);
        log.line(&Source::Prog("fill".into()), "a\nb");
        log.close();
        log.line(&Source::Kernel, "after close");
        assert_eq!(rx.iter().collect::<Vec<_>>(), ["[prog fill] a", "[prog fill] b"]);
        let text = std::fs::read_to_string(&p).unwrap();
        assert_eq!(text, "[stdout] hello\n[prog fill] a\n[prog fill] b\n[kernel] after close\n");
        use std::os::unix::fs::MetadataExt;
        assert_eq!(std::fs::metadata(&p).unwrap().mode() & 0o777, 0o600);
    }

    #[test]
    fn splitting_keeps_partial_lines_and_cuts_long_ones() {
        let mut s = LineSplitter::default();
        assert_eq!(s.push(b"ab"), Vec::<String>::new());
        assert_eq!(s.push(b"c\r\nd\n\ne"), ["abc", "d", ""]);
        assert_eq!(s.finish().as_deref(), Some("e"));
        assert_eq!(s.finish(), None);
        let long = vec![b'x'; LineSplitter::MAX + 3];
        let got = s.push(&long);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].len(), LineSplitter::MAX);
        assert_eq!(s.push(&[0xff, b'\n']), ["xxx\u{fffd}"]);
    }

    #[test]
    fn stderr_lines_are_told_apart() {
        assert_eq!(classify_stderr("[ushell] boot ok"), (Source::Kernel, "boot ok"));
        assert_eq!(classify_stderr("qemu-system-x86_64: -m: bad").0, Source::Qemu);
        assert_eq!(classify_stderr("oops"), (Source::Stderr, "oops"));
    }
}
