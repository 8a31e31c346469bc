//! Framing: a message is postcard bytes, COBS-encoded (so it holds no
//! `0x00`), followed by one `0x00` delimiter.
//!
//! [`FrameDecoder`] takes the byte stream in whatever pieces the transport
//! delivers and hands out frames. It never buffers more than its maximum:
//! a longer frame is reported as [`FrameError::Oversized`] as soon as it
//! exceeds the limit and the rest of it is dropped as it arrives, up to the
//! next delimiter, where decoding starts afresh. A bad frame (garbage, lost
//! bytes) costs only itself. Empty frames (`00 00`) are skipped, so a writer
//! may send a lone `0x00` to end whatever a reader had half-received.

use alloc::vec::Vec;
use core::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{EncodeError, FrameError, Malformed};
use crate::MAX_FRAME;

/// Encodes `msg` as one frame, delimiter included; refuses a frame longer
/// than [`MAX_FRAME`].
pub fn encode<T: Serialize>(msg: &T) -> Result<Vec<u8>, EncodeError> {
    encode_with_max(msg, MAX_FRAME)
}

/// [`encode`] with another frame limit.
pub fn encode_with_max<T: Serialize>(msg: &T, max: usize) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(msg, max, &mut out)?;
    Ok(out)
}

/// Appends `msg` as one frame to `out` (nothing on an error); the frame's
/// size, delimiter included.
///
/// The bytes are those of postcard's COBS flavor, made faster: postcard
/// serializes into a plain buffer (byte strings are copied whole) and
/// [`cobs_encode`] encodes it in one pass, where the COBS flavor pushes
/// byte by byte through its encoder state; the syscall stream sends
/// megabytes this way.
pub fn encode_into<T: Serialize>(msg: &T, max: usize, out: &mut Vec<u8>) -> Result<usize, EncodeError> {
    let plain = postcard::to_allocvec(msg).map_err(|_| EncodeError::Serialize)?;
    let start = out.len();
    cobs_encode(&plain, out);
    let size = out.len() - start;
    if size > max {
        out.truncate(start);
        return Err(EncodeError::TooLarge { size, max });
    }
    out.push(0);
    Ok(size + 1)
}

/// COBS, as the `cobs` crate (postcard's) writes it: each run of bytes
/// between zeros becomes blocks of at most 254 bytes behind a length code;
/// a full block (code 0xFF) implies no zero, so a run of exactly 254 bytes
/// is followed by an empty block. One pass over a buffer sized for the
/// worst case: syscall records are dense with zeros (small numbers in
/// 64-bit fields), where copying run by run costs far more per byte.
pub fn cobs_encode(data: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + data.len() + data.len() / 254 + 1, 0);
    let buf = &mut out[start..];
    let (mut code_at, mut o, mut code) = (0usize, 1usize, 1u8);
    let mut i = 0;
    while i < data.len() {
        let b = data[i];
        if b != 0 {
            buf[o] = b;
            o += 1;
            code += 1;
            i += 1;
            if code != 0xFF {
                continue;
            }
        } else if data.get(i..i + 8) == Some(&[0; 8]) {
            // Eight zeros (a zero 64-bit field): the first closes the
            // block, the other seven are empty blocks, the next one opens.
            buf[code_at] = code;
            buf[o..o + 7].fill(1);
            code_at = o + 7;
            o += 8;
            code = 1;
            i += 8;
            continue;
        } else {
            i += 1;
        }
        // A zero, or a full block: close the block, open the next.
        buf[code_at] = code;
        code_at = o;
        o += 1;
        code = 1;
    }
    buf[code_at] = code;
    out.truncate(start + o);
}

/// Decodes one message from a frame's payload (COBS already removed).
pub fn decode_message<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    use postcard::Error as E;
    let bad = |why| Err(FrameError::Malformed { why });
    match postcard::take_from_bytes::<T>(payload) {
        Ok((msg, [])) => Ok(msg),
        Ok(_) => bad(Malformed::TrailingBytes),
        Err(E::DeserializeUnexpectedEnd) => Err(FrameError::Truncated),
        Err(E::DeserializeBadUtf8 | E::DeserializeBadChar) => bad(Malformed::BadUtf8),
        Err(_) => bad(Malformed::BadValue),
    }
}

/// Splits a byte stream into frames, within a fixed buffer.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    max: usize,
    /// Inside an oversized frame: drop bytes up to the next delimiter.
    discarding: bool,
    /// `buf` holds the frame handed out last; it is cleared on the next call.
    handed_out: bool,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder for frames of up to [`MAX_FRAME`] bytes.
    pub fn new() -> Self {
        Self::with_max(MAX_FRAME)
    }

    /// A decoder for frames of up to `max` bytes. The buffer is allocated
    /// once, here, and never grows.
    pub fn with_max(max: usize) -> Self {
        FrameDecoder { buf: Vec::with_capacity(max), max, discarding: false, handed_out: false }
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Bytes of an unfinished frame held so far.
    pub fn buffered(&self) -> usize {
        if self.handed_out {
            0
        } else {
            self.buf.len()
        }
    }

    /// Bytes the decoder has allocated: never more than [`Self::max`].
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Takes bytes from the front of `input` through the end of the next
    /// frame and returns the frame's payload (COBS removed), or what was
    /// wrong with it. `None`: `input` is used up and an unfinished frame, if
    /// any, is kept for the next call.
    pub fn next_frame<'a>(&'a mut self, input: &mut &[u8]) -> Option<Result<&'a [u8], FrameError>> {
        if self.handed_out {
            self.buf.clear();
            self.handed_out = false;
        }
        while !input.is_empty() {
            let (piece, ends) = match input.iter().position(|&b| b == 0) {
                Some(i) => {
                    let (piece, rest) = (&input[..i], &input[i + 1..]);
                    *input = rest;
                    (piece, true)
                }
                None => (core::mem::take(input), false),
            };
            if self.discarding {
                self.discarding = !ends;
                continue;
            }
            if self.buf.len() + piece.len() > self.max {
                self.buf.clear();
                self.discarding = !ends;
                return Some(Err(FrameError::Oversized { max: self.max as u32 }));
            }
            self.buf.extend_from_slice(piece);
            if !ends {
                return None;
            }
            if self.buf.is_empty() {
                continue;
            }
            self.handed_out = true;
            // In place: the payload is never longer than its encoding. The
            // only failure left for a non-empty frame is a COBS group that
            // runs past the frame's end, i.e. bytes lost before the delimiter.
            return Some(match cobs::decode_in_place(&mut self.buf) {
                Ok(n) => Ok(&self.buf[..n]),
                Err(_) => Err(FrameError::Truncated),
            });
        }
        None
    }

    /// The stream ended (the peer disconnected): drops any unfinished frame
    /// and reports it as truncated. The decoder is ready for a new stream.
    pub fn finish(&mut self) -> Option<FrameError> {
        let partial = self.buffered() > 0;
        self.buf.clear();
        self.discarding = false;
        self.handed_out = false;
        partial.then_some(FrameError::Truncated)
    }
}

/// A [`FrameDecoder`] that decodes each frame as a `T` (a [`crate::ClientMsg`]
/// on the server, a [`crate::ServerMsg`] on the client).
#[derive(Debug)]
pub struct MessageDecoder<T> {
    frames: FrameDecoder,
    _msg: PhantomData<fn() -> T>,
}

impl<T: DeserializeOwned> Default for MessageDecoder<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: DeserializeOwned> MessageDecoder<T> {
    pub fn new() -> Self {
        Self::with_max(MAX_FRAME)
    }

    pub fn with_max(max: usize) -> Self {
        MessageDecoder { frames: FrameDecoder::with_max(max), _msg: PhantomData }
    }

    /// The next message (or bad frame) from the front of `input`; `None`
    /// when `input` is used up.
    pub fn next(&mut self, input: &mut &[u8]) -> Option<Result<T, FrameError>> {
        let frame = self.frames.next_frame(input)?;
        Some(frame.and_then(decode_message))
    }

    /// Every message and bad frame in `input`, in order.
    pub fn push(&mut self, mut input: &[u8]) -> Vec<Result<T, FrameError>> {
        let mut out = Vec::new();
        while let Some(m) = self.next(&mut input) {
            out.push(m);
        }
        out
    }

    /// See [`FrameDecoder::finish`].
    pub fn finish(&mut self) -> Option<FrameError> {
        self.frames.finish()
    }

    pub fn frames(&self) -> &FrameDecoder {
        &self.frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{ClientMsg, Hello, Ref, Request};
    use alloc::vec;

    fn hello(id: u32) -> ClientMsg {
        ClientMsg { id, req: Request::Hello(Hello { version: crate::VERSION, client: "test".into() }) }
    }

    /// The fast encoder writes exactly postcard's COBS-flavor bytes, at
    /// every block-boundary length and zero placement.
    #[test]
    fn frames_are_byte_for_byte_postcards_cobs() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in (0..1100).chain([2540, 65_000]) {
            for density in [0u64, 1, 2, 16, 128, 256, 999] {
                // 999: 64-bit little-endian fields with small values (runs
                // of zeros of every length), like syscall records.
                let data: Vec<u8> = if density == 999 {
                    (0..len).map(|i| if i % 8 == 0 || (i % 8 == 1 && rnd() % 3 == 0) { (rnd() % 256) as u8 } else if rnd() % 20 == 0 { 7 } else { 0 }).collect()
                } else {
                    (0..len).map(|_| if density > 0 && rnd() % density == 0 { 0 } else { (rnd() % 255 + 1) as u8 }).collect()
                };
                let msg = Request::MapDelete { map: Ref::Id(7), key: data };
                let ours = encode_with_max(&msg, usize::MAX).unwrap();
                assert_eq!(ours, postcard::to_allocvec_cobs(&msg).unwrap(), "len {len}, a zero in {density}");
                let mut d = MessageDecoder::<Request>::with_max(1 << 20);
                assert_eq!(d.push(&ours), [Ok(msg)]);
            }
        }
    }

    #[test]
    fn a_frame_is_cobs_without_zeros_then_one_delimiter() {
        let msg = ClientMsg { id: 0, req: Request::MapDelete { map: Ref::Id(0), key: vec![0; 300] } };
        let f = encode(&msg).unwrap();
        assert_eq!(f.last(), Some(&0));
        assert!(!f[..f.len() - 1].contains(&0), "zeros inside the frame");
        let mut d = MessageDecoder::<ClientMsg>::new();
        assert_eq!(d.push(&f), [Ok(msg)]);
    }

    #[test]
    fn the_hello_encoding_is_frozen() {
        // Variant 0, version, client name: what every version can read.
        let f = encode(&ClientMsg { id: 1, req: Request::Hello(Hello { version: 1, client: "c".into() }) }).unwrap();
        let payload = cobs::decode_vec(&f[..f.len() - 1]).unwrap();
        assert_eq!(payload, [1, 0, 1, 1, b'c']);
    }

    #[test]
    fn pieces_of_any_size_give_the_same_frames() {
        let stream: Vec<u8> = (0..5).flat_map(|i| encode(&hello(i)).unwrap()).collect();
        for piece in 1..stream.len() {
            let mut d = MessageDecoder::<ClientMsg>::new();
            let got: Vec<_> = stream.chunks(piece).flat_map(|c| d.push(c)).collect();
            assert_eq!(got, (0..5).map(|i| Ok(hello(i))).collect::<Vec<_>>(), "pieces of {piece}");
            assert_eq!(d.finish(), None);
        }
    }

    #[test]
    fn oversized_frames_are_reported_once_dropped_and_resynced() {
        let mut d = MessageDecoder::<ClientMsg>::with_max(64);
        let mut got = d.push(&[7u8; 50]);
        assert!(got.is_empty());
        got.extend(d.push(&[7u8; 50]));
        assert_eq!(got, [Err(FrameError::Oversized { max: 64 })]);
        // Still inside the oversized frame: dropped without another error.
        assert!(d.push(&[9u8; 10_000]).is_empty());
        assert_eq!(d.frames().buffered(), 0);
        assert!(d.frames().capacity() <= 64);
        let mut tail = vec![0u8];
        tail.extend(encode(&hello(3)).unwrap());
        assert_eq!(d.push(&tail), [Ok(hello(3))]);
    }

    #[test]
    fn truncated_and_malformed_frames() {
        let f = encode(&ClientMsg { id: 9, req: Request::SymSearch { pattern: "main".into(), limit: 10 } }).unwrap();
        let mut d = MessageDecoder::<ClientMsg>::new();
        // The last 3 bytes before the delimiter are lost.
        let mut cut = f[..f.len() - 4].to_vec();
        cut.push(0);
        assert_eq!(d.push(&cut), [Err(FrameError::Truncated)]);
        // The stream ends inside a frame.
        assert!(d.push(&f[..5]).is_empty());
        assert_eq!(d.finish(), Some(FrameError::Truncated));
        // A valid COBS frame whose message has a byte too many.
        let mut payload = postcard::to_allocvec(&hello(1)).unwrap();
        payload.push(5);
        let mut framed = cobs::encode_vec(&payload);
        framed.push(0);
        assert_eq!(d.push(&framed), [Err(FrameError::Malformed { why: Malformed::TrailingBytes })]);
        // An unknown request kind.
        let mut framed = cobs::encode_vec(&[1, 100]);
        framed.push(0);
        assert_eq!(d.push(&framed), [Err(FrameError::Malformed { why: Malformed::BadValue })]);
        // Empty frames are padding, not errors.
        assert!(d.push(&[0, 0, 0]).is_empty());
    }

    #[test]
    fn a_forged_length_allocates_only_what_the_frame_holds() {
        // MapDelete with a key "of" 2^31 bytes but 3 bytes present: postcard
        // runs out of input; the byte-buffer path never reserves the length.
        let mut payload = vec![1, 11, 0, 0];
        payload.extend([0x80, 0x80, 0x80, 0x80, 0x08, 1, 2, 3]);
        let mut framed = cobs::encode_vec(&payload);
        framed.push(0);
        let mut d = MessageDecoder::<ClientMsg>::new();
        assert_eq!(d.push(&framed), [Err(FrameError::Truncated)]);
    }

    #[test]
    fn too_large_messages_are_not_sent() {
        let msg = ClientMsg { id: 0, req: Request::MapDelete { map: Ref::Id(0), key: vec![1; MAX_FRAME] } };
        assert!(matches!(encode(&msg), Err(EncodeError::TooLarge { max: MAX_FRAME, .. })));
        let chunk = ClientMsg { id: u32::MAX, req: Request::UploadChunk { upload: u32::MAX, offset: u32::MAX, data: vec![0; crate::MAX_CHUNK] } };
        assert!(encode(&chunk).is_ok(), "a full chunk of zeros (worst COBS case is 0xff bytes) fits");
        let chunk = ClientMsg { id: u32::MAX, req: Request::UploadChunk { upload: u32::MAX, offset: u32::MAX, data: vec![0xff; crate::MAX_CHUNK] } };
        assert!(encode(&chunk).is_ok(), "a full chunk of 0xff fits");
    }
}
