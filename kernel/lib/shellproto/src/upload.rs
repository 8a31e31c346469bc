//! The server's side of chunked uploads, as a pure state machine.
//!
//! An object arrives as `UploadBegin { name, size }`, chunks in order, then
//! `UploadCommit`. [`Uploads`] holds the uploads in progress and hands out
//! the complete object bytes only on a commit that has every byte; the
//! caller then loads them in one step, so an object is either wholly loaded
//! or not at all. Any refused step ends its upload and frees what it held.
//! When a client disconnects, the supervisor sends `UploadAbort` for the
//! uploads it owned; when the console itself resets (a new hello),
//! [`Uploads::abort_all`] drops everything.
//!
//! Memory follows the bytes received, not the sizes declared (a hostile
//! `UploadBegin` of the maximum size costs nothing until chunks come), and
//! is bounded by [`Limits`]; buffers grow with `try_reserve`, so running
//! out of memory is an error, not a panic.

use alloc::string::String;
use alloc::vec::Vec;

use crate::error::UploadError;
use crate::{DEFAULT_MAX_OBJECT, MAX_CHUNK};

/// How much the uploads in progress may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest declared object size.
    pub max_object: u32,
    /// Largest chunk.
    pub max_chunk: u32,
    /// Uploads in progress at once.
    pub max_uploads: u32,
    /// Declared sizes of all uploads in progress together.
    pub max_total: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_object: DEFAULT_MAX_OBJECT, max_chunk: MAX_CHUNK as u32, max_uploads: 8, max_total: 2 * DEFAULT_MAX_OBJECT as u64 }
    }
}

/// One upload in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub name: String,
    pub size: u32,
    data: Vec<u8>,
}

impl Upload {
    /// Bytes received so far.
    pub fn received(&self) -> u32 {
        self.data.len() as u32
    }
}

/// A committed upload: the whole object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Object {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// The uploads in progress, by handle.
#[derive(Debug, Clone)]
pub struct Uploads {
    limits: Limits,
    next: u32,
    active: Vec<(u32, Upload)>,
}

impl Default for Uploads {
    fn default() -> Self {
        Self::new(Limits::default())
    }
}

impl Uploads {
    pub fn new(limits: Limits) -> Self {
        Uploads { limits, next: 1, active: Vec::new() }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Uploads in progress.
    pub fn len(&self) -> usize {
        self.active.len()
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }

    /// Bytes held by all uploads in progress.
    pub fn held(&self) -> u64 {
        self.active.iter().map(|(_, u)| u.data.len() as u64).sum()
    }

    pub fn get(&self, upload: u32) -> Option<&Upload> {
        self.active.iter().find(|(id, _)| *id == upload).map(|(_, u)| u)
    }

    fn declared(&self) -> u64 {
        self.active.iter().map(|(_, u)| u64::from(u.size)).sum()
    }

    /// Starts an upload; returns its handle.
    pub fn begin(&mut self, name: String, size: u32) -> Result<u32, UploadError> {
        let l = self.limits;
        if size == 0 {
            return Err(UploadError::Empty);
        }
        if size > l.max_object {
            return Err(UploadError::TooLarge { size, max: l.max_object });
        }
        if self.active.len() >= l.max_uploads as usize {
            return Err(UploadError::TooMany { max: l.max_uploads });
        }
        let held = self.declared();
        if held + u64::from(size) > l.max_total {
            return Err(UploadError::NoRoom { held, size, max: l.max_total });
        }
        let id = self.next;
        // Handles are not reused soon, so a late chunk for a finished upload
        // is refused rather than landing in a new one.
        self.next = self.next.wrapping_add(1).max(1);
        self.active.push((id, Upload { name, size, data: Vec::new() }));
        Ok(id)
    }

    fn index(&self, upload: u32) -> Result<usize, UploadError> {
        self.active.iter().position(|(id, _)| *id == upload).ok_or(UploadError::NoSuchUpload { upload })
    }

    /// Adds the chunk at `offset`. A refused chunk ends the upload.
    pub fn chunk(&mut self, upload: u32, offset: u32, data: &[u8]) -> Result<(), UploadError> {
        let i = self.index(upload)?;
        let max = self.limits.max_chunk;
        let u = &mut self.active[i].1;
        let received = u.data.len() as u32;
        let end = u64::from(offset) + data.len() as u64;
        let err = if data.len() > max as usize {
            Some(UploadError::ChunkTooLarge { upload, len: data.len().min(u32::MAX as usize) as u32, max })
        } else if offset != received {
            Some(UploadError::OutOfOrder { upload, expected: received, got: offset })
        } else if end > u64::from(u.size) {
            Some(UploadError::Overrun { upload, end, size: u.size })
        } else if u.data.try_reserve_exact(data.len()).is_err() {
            Some(UploadError::OutOfMemory { upload, size: u.size })
        } else {
            None
        };
        if let Some(e) = err {
            self.active.remove(i);
            return Err(e);
        }
        u.data.extend_from_slice(data);
        Ok(())
    }

    /// Ends the upload; gives the object if every byte came.
    pub fn commit(&mut self, upload: u32) -> Result<Object, UploadError> {
        let i = self.index(upload)?;
        let (_, u) = self.active.remove(i);
        if u.data.len() != u.size as usize {
            return Err(UploadError::Incomplete { upload, received: u.data.len() as u32, size: u.size });
        }
        Ok(Object { name: u.name, bytes: u.data })
    }

    /// Drops the upload and what it held.
    pub fn abort(&mut self, upload: u32) -> Result<(), UploadError> {
        let i = self.index(upload)?;
        self.active.remove(i);
        Ok(())
    }

    /// Drops every upload (the peer went away); returns how many there were.
    pub fn abort_all(&mut self) -> usize {
        let n = self.active.len();
        self.active = Vec::new();
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Uploads {
        Uploads::new(Limits { max_object: 100, max_chunk: 10, max_uploads: 2, max_total: 150 })
    }

    #[test]
    fn chunks_in_order_then_commit_give_the_object() {
        let mut u = small();
        let h = u.begin("a.o".into(), 25).unwrap();
        for (off, c) in [(0u32, &[1u8; 10][..]), (10, &[2; 10]), (20, &[3; 5])] {
            u.chunk(h, off, c).unwrap();
        }
        assert_eq!(u.get(h).unwrap().received(), 25);
        let obj = u.commit(h).unwrap();
        assert_eq!(obj.name, "a.o");
        assert_eq!(obj.bytes, [[1u8; 10].as_slice(), &[2; 10], &[3; 5]].concat());
        assert!(u.is_empty());
        assert_eq!(u.commit(h), Err(UploadError::NoSuchUpload { upload: h }));
    }

    #[test]
    fn every_refused_step_ends_the_upload() {
        let mut u = small();
        let cases: [(u32, &[u8], UploadError); 3] = [
            (5, &[0; 3], UploadError::OutOfOrder { upload: 0, expected: 0, got: 5 }),
            (0, &[0; 11], UploadError::ChunkTooLarge { upload: 0, len: 11, max: 10 }),
            (0, &[0; 10], UploadError::Overrun { upload: 0, end: 10, size: 4 }),
        ];
        for (off, data, want) in cases {
            let h = u.begin("x".into(), 4).unwrap();
            let got = u.chunk(h, off, data).unwrap_err();
            let want = match want {
                UploadError::OutOfOrder { expected, got, .. } => UploadError::OutOfOrder { upload: h, expected, got },
                UploadError::ChunkTooLarge { len, max, .. } => UploadError::ChunkTooLarge { upload: h, len, max },
                UploadError::Overrun { end, size, .. } => UploadError::Overrun { upload: h, end, size },
                w => w,
            };
            assert_eq!(got, want);
            assert!(u.get(h).is_none() && u.is_empty(), "{got}: the upload is gone");
        }
        let h = u.begin("x".into(), 4).unwrap();
        u.chunk(h, 0, &[1, 2]).unwrap();
        assert_eq!(u.commit(h), Err(UploadError::Incomplete { upload: h, received: 2, size: 4 }));
        assert!(u.is_empty());
    }

    #[test]
    fn limits_on_size_count_and_total() {
        let mut u = small();
        assert_eq!(u.begin("x".into(), 0), Err(UploadError::Empty));
        assert_eq!(u.begin("x".into(), 101), Err(UploadError::TooLarge { size: 101, max: 100 }));
        let a = u.begin("a".into(), 100).unwrap();
        assert_eq!(u.begin("b".into(), 51), Err(UploadError::NoRoom { held: 100, size: 51, max: 150 }));
        let b = u.begin("b".into(), 50).unwrap();
        assert_eq!(u.begin("c".into(), 1), Err(UploadError::TooMany { max: 2 }));
        assert_ne!(a, b);
        // Declared sizes cost nothing until bytes come.
        assert_eq!(u.held(), 0);
        u.chunk(b, 0, &[7; 10]).unwrap();
        assert_eq!(u.held(), 10);
        u.abort(a).unwrap();
        assert_eq!(u.abort(a), Err(UploadError::NoSuchUpload { upload: a }));
        assert_eq!(u.abort_all(), 1);
        assert_eq!((u.len(), u.held()), (0, 0));
        // Handles are fresh after aborts.
        let c = u.begin("c".into(), 1).unwrap();
        assert!(c != a && c != b);
    }
}
