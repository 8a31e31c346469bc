//! QEMU's stdout (the app's stdout, COM1) and stderr (COM2: the app's
//! stderr and the kernel's log; QEMU's own messages): copied unchanged to
//! ours in the foreground, and line by line into the instance log.

use std::io::{Read, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::instance::log::{classify_stderr, InstanceLog, LineSplitter, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// Copies `from` until it ends. `passthrough`: also to our own stream (a
/// failed write there, e.g. a closed pipe, stops only that copy).
pub fn copy(mut from: impl Read + Send + 'static, stream: Stream, passthrough: bool, log: Arc<InstanceLog>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut split = LineSplitter::default();
        let mut buf = vec![0u8; 16 * 1024];
        let mut pass = passthrough;
        let record = |line: &str| match stream {
            Stream::Stdout => log.line(&Source::Stdout, line),
            Stream::Stderr => {
                let (src, text) = classify_stderr(line);
                log.line(&src, text)
            }
        };
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            if pass {
                let ok = match stream {
                    Stream::Stdout => write_all_flush(&mut std::io::stdout().lock(), &buf[..n]),
                    Stream::Stderr => write_all_flush(&mut std::io::stderr().lock(), &buf[..n]),
                };
                pass = ok;
            }
            for line in split.push(&buf[..n]) {
                record(&line);
            }
        }
        if let Some(line) = split.finish() {
            record(&line);
        }
    })
}

fn write_all_flush(w: &mut impl Write, b: &[u8]) -> bool {
    w.write_all(b).and_then(|()| w.flush()).is_ok()
}
