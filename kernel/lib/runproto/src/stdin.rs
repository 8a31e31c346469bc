//! Framing of the host's stdin on COM1, so the guest can tell end-of-file from
//! data: a serial line has no EOF of its own.
//!
//! `0xFF 0x00` is a literal `0xFF`, `0xFF 0x01` is end-of-file; every other
//! byte stands for itself.

pub const ESC: u8 = 0xFF;
pub const ESC_LITERAL: u8 = 0x00;
pub const ESC_EOF: u8 = 0x01;

/// Appends the framed form of `data` to `out`.
#[cfg(test)]
pub fn encode_into(data: &[u8], out: &mut std::vec::Vec<u8>) {
    for &b in data {
        out.push(b);
        if b == ESC {
            out.push(ESC_LITERAL);
        }
    }
}

/// Calls `emit` once per framed byte of `data`, without allocating.
pub fn encode_each(data: &[u8], mut emit: impl FnMut(u8)) {
    for &b in data {
        emit(b);
        if b == ESC {
            emit(ESC_LITERAL);
        }
    }
}

/// The framed end-of-file marker.
pub const EOF_FRAME: [u8; 2] = [ESC, ESC_EOF];

/// What one received byte meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    Byte(u8),
    Eof,
    /// The byte was the first half of an escape.
    Pending,
}

/// Stateful decoder on the guest side.
#[derive(Debug, Default, Clone)]
pub struct Decoder {
    escaped: bool,
}

impl Decoder {
    pub const fn new() -> Self {
        Decoder { escaped: false }
    }

    pub fn push(&mut self, b: u8) -> Decoded {
        if self.escaped {
            self.escaped = false;
            // An unknown escape code is treated as a literal 0xFF rather than
            // dropped, so nothing the host sent silently disappears.
            return if b == ESC_EOF { Decoded::Eof } else { Decoded::Byte(ESC) };
        }
        if b == ESC {
            self.escaped = true;
            Decoded::Pending
        } else {
            Decoded::Byte(b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_all_bytes_then_eof() {
        let data: Vec<u8> = (0..=255u8).chain([0xFF, 0xFF, 1]).collect();
        let mut framed = Vec::new();
        encode_into(&data, &mut framed);
        framed.extend_from_slice(&EOF_FRAME);
        let mut via_each = Vec::new();
        encode_each(&data, |b| via_each.push(b));
        assert_eq!(&framed[..framed.len() - 2], &via_each[..]);

        let mut d = Decoder::new();
        let mut out = Vec::new();
        let mut eof = false;
        for b in framed {
            match d.push(b) {
                Decoded::Byte(x) => out.push(x),
                Decoded::Eof => eof = true,
                Decoded::Pending => {}
            }
        }
        assert!(eof);
        assert_eq!(out, data);
    }
}
