//! `#[serde(with = "shellproto::bytes")]` for `Vec<u8>` fields (the
//! protocol's own and the supervisor's): postcard writes
//! them as a length and the bytes (the same wire format as a sequence of
//! `u8`), but reading them through `deserialize_byte_buf` takes the bytes
//! from the frame, so a forged length cannot make the reader allocate more
//! than the frame holds (serde's sequence visitor would preallocate up to
//! 1 MiB on the length's word).

use alloc::vec::Vec;
use core::fmt;

use serde::de::{self, Visitor};
use serde::{Deserializer, Serializer};

pub fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bytes(v)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    d.deserialize_byte_buf(BytesVisitor)
}

struct BytesVisitor;

impl<'de> Visitor<'de> for BytesVisitor {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("bytes")
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
        Ok(v.to_vec())
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
        Ok(v)
    }
}
