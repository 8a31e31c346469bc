//! Forwards the host's stdin to the guest's COM1, framed so the guest sees
//! end-of-file (see `runproto::stdin`).

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

/// Blocks until the kernel's control channel (a file QEMU appends to)
/// shows its first event, `ready` (or an early exit): the guest switches on
/// its UART FIFO at boot, which discards whatever arrived before. Boot takes
/// a fraction of a second; the file is checked every 2 ms. If QEMU dies
/// first this never returns, which is fine: the caller does not join it.
pub fn wait_until_ready(ctl: &Path) {
    loop {
        if let Ok(text) = std::fs::read_to_string(ctl) {
            if text.lines().any(|l| runproto::CtlEvent::parse(l).is_some()) {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Copies `from` to `to` framed, then sends the EOF frame. Returns `to` so
/// the caller can keep the pipe open until QEMU exits. A write error (QEMU
/// exited and closed the pipe) ends forwarding quietly: the run's outcome is
/// decided elsewhere.
pub fn forward<R: Read, W: Write>(mut from: R, mut to: W) -> io::Result<W> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut framed = Vec::with_capacity(buf.len() + 64);
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            // An unreadable stdin (e.g. closed) counts as end of input.
            Err(_) => break,
        };
        framed.clear();
        runproto::stdin::encode_each(&buf[..n], |b| framed.push(b));
        to.write_all(&framed)?;
        to.flush()?;
    }
    to.write_all(&runproto::stdin::EOF_FRAME)?;
    to.flush()?;
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::*;
    use runproto::stdin::{Decoded, Decoder};

    #[test]
    fn frames_data_and_eof() {
        let data: Vec<u8> = (0..=255u8).cycle().take(40_000).collect();
        let out = forward(&data[..], Vec::new()).unwrap();
        let mut d = Decoder::new();
        let mut got = Vec::new();
        let mut eofs = 0;
        for b in out {
            match d.push(b) {
                Decoded::Byte(x) => got.push(x),
                Decoded::Eof => eofs += 1,
                Decoded::Pending => {}
            }
        }
        assert_eq!(got, data);
        assert_eq!(eofs, 1);
    }

    #[test]
    fn empty_input_is_just_eof() {
        assert_eq!(forward(&b""[..], Vec::new()).unwrap(), runproto::stdin::EOF_FRAME);
    }
}
