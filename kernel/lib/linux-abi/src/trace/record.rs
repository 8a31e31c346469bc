//! The binary event record of one traced syscall: a fixed 96-byte header and
//! the captured blobs, all little-endian, 8-byte aligned, at most
//! [`MAX_RECORD`] bytes, so one record is one BPF ring-buffer sample.
//!
//! ```text
//! header (96 bytes)
//!   0  u32  size        bytes of the whole record (header + blobs), a multiple of 8
//!   4  u8   version     RECORD_VERSION
//!   5  u8   flags       REC_EXITED (ret and exit_ns valid), REC_BLOBS_DROPPED (a blob did not fit)
//!   6  u16  nr          syscall number
//!   8  u32  pid         thread group id
//!  12  u32  tid
//!  16  u64  args[6]     the argument registers at entry
//!  64  i64  ret         rax at exit (-errno on failure)
//!  72  u64  enter_ns    monotonic clock at entry
//!  80  u64  exit_ns     monotonic clock at exit
//!  88  u16  nblobs
//!  90  [u8; 6]          zero
//! blob (8-byte header, then len bytes, zero-padded to 8)
//!   0  u8   cap         index of the capture in the syscall's CapturePlan
//!   1  u8   arg         the argument the pointer was in
//!   2  u8   elem        element index (iovec buffers), else 0
//!   3  u8   flags       BLOB_EXIT (taken at exit), BLOB_TRUNCATED (the object is longer), BLOB_FAULT (unreadable; len 0)
//!   4  u16  len
//!   6  u16  zero
//! ```
//!
//! The kernel begins a record at entry in a per-thread buffer
//! ([`RecordWriter::begin`]), runs [`capture`] for [`Phase::Entry`], lets the
//! syscall run, [`RecordWriter::resume`]s, runs [`capture`] for
//! [`Phase::Exit`] and [`RecordWriter::finish`]es; the host reads it back with
//! [`Record::parse`].

use super::capture::{iov_data_len, plan, CapturePlan, Extent, Phase, ARGV_CAP, IOV_CAP, MAX_BLOB_BYTES, MAX_CAPTURES};

pub const RECORD_VERSION: u8 = 1;
pub const HEADER_LEN: usize = 96;
pub const BLOB_HEADER_LEN: usize = 8;
/// Upper bound of a record: header, every capture's data and blob headers
/// with padding.
pub const MAX_RECORD: usize = 4096;
const _: () = assert!(HEADER_LEN + MAX_BLOB_BYTES + (MAX_CAPTURES + IOV_CAP as usize + ARGV_CAP as usize) * (BLOB_HEADER_LEN + 7) <= MAX_RECORD);

/// Record flag: the syscall returned; `ret` and `exit_ns` are valid.
pub const REC_EXITED: u8 = 1;
/// Record flag: a blob was left out because the buffer was full.
pub const REC_BLOBS_DROPPED: u8 = 2;

/// Blob flag: captured at exit (else at entry).
pub const BLOB_EXIT: u8 = 0x80;
/// Blob flag: the object was longer than what was copied (strace's `...`).
pub const BLOB_TRUNCATED: u8 = 1;
/// Blob flag: the memory could not be read (EFAULT); no data.
pub const BLOB_FAULT: u8 = 2;

/// What the kernel knows at syscall entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Entry {
    pub nr: u16,
    pub pid: u32,
    pub tid: u32,
    pub args: [u64; 6],
    pub enter_ns: u64,
}

fn put(buf: &mut [u8], at: usize, bytes: &[u8]) {
    buf[at..at + bytes.len()].copy_from_slice(bytes);
}

fn get<const N: usize>(buf: &[u8], at: usize) -> [u8; N] {
    let mut a = [0; N];
    a.copy_from_slice(&buf[at..at + N]);
    a
}

const fn pad8(n: usize) -> usize {
    (n + 7) & !7
}

/// Writes one record into a caller-supplied buffer (at least [`HEADER_LEN`]
/// bytes; [`MAX_RECORD`] always suffices). No allocation, no panics on a
/// short buffer: blobs that do not fit are dropped and flagged.
#[derive(Debug)]
pub struct RecordWriter<'a> {
    buf: &'a mut [u8],
    pos: usize,
    nblobs: u16,
}

impl<'a> RecordWriter<'a> {
    /// Starts a record for a syscall entering now. `None` if `buf` is shorter
    /// than the header.
    pub fn begin(buf: &'a mut [u8], e: &Entry) -> Option<RecordWriter<'a>> {
        if buf.len() < HEADER_LEN {
            return None;
        }
        buf[..HEADER_LEN].fill(0);
        buf[4] = RECORD_VERSION;
        put(buf, 6, &e.nr.to_le_bytes());
        put(buf, 8, &e.pid.to_le_bytes());
        put(buf, 12, &e.tid.to_le_bytes());
        for (i, a) in e.args.iter().enumerate() {
            put(buf, 16 + 8 * i, &a.to_le_bytes());
        }
        put(buf, 72, &e.enter_ns.to_le_bytes());
        let mut w = RecordWriter { buf, pos: HEADER_LEN, nblobs: 0 };
        w.sync();
        Some(w)
    }

    /// Continues a record begun in `buf` (at exit, after the syscall ran).
    pub fn resume(buf: &'a mut [u8]) -> Option<RecordWriter<'a>> {
        if buf.len() < HEADER_LEN || buf[4] != RECORD_VERSION {
            return None;
        }
        let pos = u32::from_le_bytes(get(buf, 0)) as usize;
        let nblobs = u16::from_le_bytes(get(buf, 88));
        if pos < HEADER_LEN || pos > buf.len() {
            return None;
        }
        Some(RecordWriter { buf, pos, nblobs })
    }

    fn sync(&mut self) {
        let (pos, n) = (self.pos as u32, self.nblobs);
        put(self.buf, 0, &pos.to_le_bytes());
        put(self.buf, 88, &n.to_le_bytes());
    }

    /// The syscall's number, as recorded at entry.
    pub fn nr(&self) -> u16 {
        u16::from_le_bytes(get(self.buf, 6))
    }

    /// The syscall's arguments, as recorded at entry.
    pub fn args(&self) -> [u64; 6] {
        core::array::from_fn(|i| u64::from_le_bytes(get(self.buf, 16 + 8 * i)))
    }

    /// The syscall's number and arguments, as recorded at entry.
    pub fn entry(&self) -> Entry {
        let mut args = [0; 6];
        for (i, a) in args.iter_mut().enumerate() {
            *a = u64::from_le_bytes(get(self.buf, 16 + 8 * i));
        }
        Entry {
            nr: u16::from_le_bytes(get(self.buf, 6)),
            pid: u32::from_le_bytes(get(self.buf, 8)),
            tid: u32::from_le_bytes(get(self.buf, 12)),
            args,
            enter_ns: u64::from_le_bytes(get(self.buf, 72)),
        }
    }

    /// Appends a blob of at most `max` bytes: `fill` gets the space and
    /// returns `Some((bytes written, truncated))`, or `None` when the memory
    /// was unreadable (a [`BLOB_FAULT`] blob with no data). Returns false if
    /// the blob did not fit (the record is flagged [`REC_BLOBS_DROPPED`]).
    pub fn blob(&mut self, cap: u8, arg: u8, elem: u8, phase: Phase, max: usize, fill: impl FnOnce(&mut [u8]) -> Option<(usize, bool)>) -> bool {
        let start = self.pos;
        let room = self.buf.len().saturating_sub(start + BLOB_HEADER_LEN);
        if self.buf.len() < start + BLOB_HEADER_LEN || (room < max && room < 8) {
            self.buf[5] |= REC_BLOBS_DROPPED;
            return false;
        }
        let mut max = max.min(room).min(u16::MAX as usize & !7);
        if pad8(max) > room {
            max = room & !7;
        }
        let data = &mut self.buf[start + BLOB_HEADER_LEN..start + BLOB_HEADER_LEN + max];
        let mut flags = if phase == Phase::Exit { BLOB_EXIT } else { 0 };
        let len = match fill(data) {
            Some((n, truncated)) => {
                if truncated {
                    flags |= BLOB_TRUNCATED;
                }
                n.min(max)
            }
            None => {
                flags |= BLOB_FAULT;
                0
            }
        };
        let end = start + BLOB_HEADER_LEN + pad8(len);
        self.buf[start + BLOB_HEADER_LEN + len..end].fill(0);
        put(self.buf, start, &[cap, arg, elem, flags]);
        put(self.buf, start + 4, &(len as u16).to_le_bytes());
        put(self.buf, start + 6, &[0, 0]);
        self.pos = end;
        self.nblobs += 1;
        self.sync();
        true
    }

    /// Marks the syscall returned with `ret` at `exit_ns`; the record is
    /// complete. Returns its size: `&buf[..size]` is the ring-buffer sample.
    pub fn finish(mut self, ret: i64, exit_ns: u64) -> usize {
        put(self.buf, 64, &ret.to_le_bytes());
        put(self.buf, 80, &exit_ns.to_le_bytes());
        self.buf[5] |= REC_EXITED;
        self.sync();
        self.pos
    }

    /// Size so far (for a record shipped without an exit, e.g. exit_group).
    pub fn len(&self) -> usize {
        self.pos
    }

    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Unreadable user memory (the kernel's EFAULT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault;

/// The tracee's memory, as the capturing side reads it (the kernel: its
/// checked user copies; a host test: `process_vm_readv`).
pub trait UserMemory {
    /// Fills `buf` from user address `addr`; `Err` if any byte is unreadable.
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault>;

    /// Copies a NUL-terminated string at `addr` into `buf`, without the NUL:
    /// `(length, truncated)`, truncated when `buf` filled up before a NUL.
    /// The default reads byte by byte after a failed whole read, so a string
    /// that ends just before an unmapped page is still found.
    fn read_cstr(&self, addr: u64, buf: &mut [u8]) -> Result<(usize, bool), Fault> {
        if self.read(addr, buf).is_ok() {
            return Ok(match buf.iter().position(|&b| b == 0) {
                Some(n) => (n, false),
                None => (buf.len(), true),
            });
        }
        let len = buf.len();
        for (i, slot) in buf.iter_mut().enumerate() {
            let mut b = [0u8];
            if self.read(addr + i as u64, &mut b).is_err() {
                return if i == 0 { Err(Fault) } else { Ok((i, true)) };
            }
            if b[0] == 0 {
                return Ok((i, false));
            }
            *slot = b[0];
        }
        Ok((len, true))
    }
}

/// Follows `plan`'s captures for `phase` (`ret` is the return value at exit,
/// 0 at entry), copying from `mem` into the record. NULL pointers and
/// captures whose condition does not hold are skipped. The kernel's whole
/// capture logic is this call at entry and at exit.
pub fn capture(w: &mut RecordWriter<'_>, plan: &CapturePlan, phase: Phase, ret: i64, mem: &impl UserMemory) {
    let args = w.args();
    for (i, c) in plan.at(phase) {
        if !c.cond.holds(&args, ret) {
            continue;
        }
        let ptr = args[c.arg as usize];
        if ptr == 0 {
            continue;
        }
        match c.extent {
            Extent::CStr => {
                w.blob(i as u8, c.arg, 0, phase, c.max as usize, |buf| mem.read_cstr(ptr, buf).ok());
            }
            Extent::IovData { cnt_arg, .. } => {
                let n = (args[cnt_arg as usize] as u32 as usize).min(IOV_CAP as usize);
                let mut before = 0u64;
                for e in 0..n {
                    let mut iov = [0u8; 16];
                    if mem.read(ptr + 16 * e as u64, &mut iov).is_err() {
                        break;
                    }
                    let base = u64::from_le_bytes(get(&iov, 0));
                    let len = u64::from_le_bytes(get(&iov, 8));
                    let (copy, truncated) = iov_data_len(c, len, before, ret);
                    before = before.saturating_add(len);
                    w.blob(i as u8, c.arg, e as u8, phase, copy, |buf| {
                        let n = copy.min(buf.len());
                        mem.read(base, &mut buf[..n]).ok().map(|_| (n, truncated || n < copy))
                    });
                }
            }
            Extent::StrArrayCount => {
                let mut n = 0u32;
                let mut bad = false;
                while n < super::capture::ARRAY_COUNT_MAX {
                    let mut p = [0u8; 8];
                    if mem.read(ptr + 8 * n as u64, &mut p).is_err() {
                        bad = true;
                        break;
                    }
                    if u64::from_le_bytes(p) == 0 {
                        break;
                    }
                    n += 1;
                }
                w.blob(i as u8, c.arg, 0, phase, 4, |buf| {
                    if bad {
                        return None;
                    }
                    buf[..4].copy_from_slice(&n.to_le_bytes());
                    Some((4, false))
                });
            }
            Extent::StrArray => {
                for e in 0..super::capture::ARGV_CAP as u64 {
                    let mut p = [0u8; 8];
                    if mem.read(ptr + 8 * e, &mut p).is_err() {
                        break;
                    }
                    let s = u64::from_le_bytes(p);
                    if s == 0 {
                        break;
                    }
                    w.blob(i as u8, c.arg, e as u8, phase, c.max as usize, |buf| mem.read_cstr(s, buf).ok());
                }
            }
            Extent::DirentCount => {
                let total = ret.max(0) as u64;
                let (mut at, mut n, mut bad) = (0u64, 0u32, false);
                while at + 19 <= total {
                    let mut rl = [0u8; 2];
                    if mem.read(ptr + at + 16, &mut rl).is_err() {
                        bad = true;
                        break;
                    }
                    let reclen = u16::from_le_bytes(rl) as u64;
                    if reclen == 0 {
                        break;
                    }
                    n += 1;
                    at += reclen;
                }
                w.blob(i as u8, c.arg, 0, phase, 4, |buf| {
                    if bad {
                        return None;
                    }
                    buf[..4].copy_from_slice(&n.to_le_bytes());
                    Some((4, false))
                });
            }
            _ => {
                let n = c.len(&args, ret);
                let truncated = c.truncates(&args, ret);
                w.blob(i as u8, c.arg, 0, phase, n, |buf| {
                    let m = n.min(buf.len());
                    mem.read(ptr, &mut buf[..m]).ok().map(|_| (m, truncated || m < n))
                });
            }
        }
    }
}

/// Why a byte string is not a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordError {
    /// Shorter than the header or than its `size` field.
    Short,
    /// An unknown version.
    Version(u8),
    /// A blob runs past the end of the record.
    BadBlob,
}

/// A parsed record, borrowing the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    pub nr: u16,
    pub flags: u8,
    pub pid: u32,
    pub tid: u32,
    pub args: [u64; 6],
    pub ret: i64,
    pub enter_ns: u64,
    pub exit_ns: u64,
    nblobs: u16,
    blobs: &'a [u8],
}

/// One captured blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blob<'a> {
    pub cap: u8,
    pub arg: u8,
    pub elem: u8,
    pub flags: u8,
    pub data: &'a [u8],
}

impl Blob<'_> {
    pub fn phase(&self) -> Phase {
        if self.flags & BLOB_EXIT != 0 {
            Phase::Exit
        } else {
            Phase::Entry
        }
    }
    pub fn truncated(&self) -> bool {
        self.flags & BLOB_TRUNCATED != 0
    }
    pub fn fault(&self) -> bool {
        self.flags & BLOB_FAULT != 0
    }
}

impl<'a> Record<'a> {
    /// Reads a record from the start of `bytes` (trailing bytes are ignored:
    /// ring-buffer samples may be padded).
    pub fn parse(bytes: &'a [u8]) -> Result<Record<'a>, RecordError> {
        if bytes.len() < HEADER_LEN {
            return Err(RecordError::Short);
        }
        if bytes[4] != RECORD_VERSION {
            return Err(RecordError::Version(bytes[4]));
        }
        let size = u32::from_le_bytes(get(bytes, 0)) as usize;
        if size < HEADER_LEN || size > bytes.len() {
            return Err(RecordError::Short);
        }
        let mut args = [0; 6];
        for (i, a) in args.iter_mut().enumerate() {
            *a = u64::from_le_bytes(get(bytes, 16 + 8 * i));
        }
        let r = Record {
            nr: u16::from_le_bytes(get(bytes, 6)),
            flags: bytes[5],
            pid: u32::from_le_bytes(get(bytes, 8)),
            tid: u32::from_le_bytes(get(bytes, 12)),
            args,
            ret: i64::from_le_bytes(get(bytes, 64)),
            enter_ns: u64::from_le_bytes(get(bytes, 72)),
            exit_ns: u64::from_le_bytes(get(bytes, 80)),
            nblobs: u16::from_le_bytes(get(bytes, 88)),
            blobs: &bytes[HEADER_LEN..size],
        };
        let mut n = 0;
        let mut it = r.blobs();
        for b in it.by_ref() {
            let _ = b;
            n += 1;
        }
        if it.bad || n != r.nblobs {
            return Err(RecordError::BadBlob);
        }
        Ok(r)
    }

    /// Whether the syscall returned (`ret`, `exit_ns` valid).
    pub fn exited(&self) -> bool {
        self.flags & REC_EXITED != 0
    }

    /// Time spent in the syscall, 0 if it did not return.
    pub fn duration_ns(&self) -> u64 {
        if self.exited() {
            self.exit_ns.saturating_sub(self.enter_ns)
        } else {
            0
        }
    }

    pub fn blobs(&self) -> Blobs<'a> {
        Blobs { rest: self.blobs, bad: false }
    }

    /// The blob of argument `arg` captured at `phase` (element 0).
    pub fn blob(&self, arg: u8, phase: Phase) -> Option<Blob<'a>> {
        self.blobs().find(|b| b.arg == arg && b.phase() == phase && b.elem == 0)
    }

    /// The blob of capture `cap` of the plan (element 0).
    pub fn blob_of_cap(&self, cap: u8) -> Option<Blob<'a>> {
        self.blobs().find(|b| b.cap == cap && b.elem == 0)
    }

    /// The capture plan the record was taken with.
    pub fn plan(&self) -> &'static CapturePlan {
        plan(self.nr as usize)
    }
}

/// Iterator over a record's blobs.
#[derive(Debug, Clone)]
pub struct Blobs<'a> {
    rest: &'a [u8],
    bad: bool,
}

impl<'a> Iterator for Blobs<'a> {
    type Item = Blob<'a>;

    fn next(&mut self) -> Option<Blob<'a>> {
        if self.rest.is_empty() || self.bad {
            return None;
        }
        if self.rest.len() < BLOB_HEADER_LEN {
            self.bad = true;
            return None;
        }
        let len = u16::from_le_bytes(get(self.rest, 4)) as usize;
        let end = BLOB_HEADER_LEN + pad8(len);
        if end > self.rest.len() {
            self.bad = true;
            return None;
        }
        let b = Blob { cap: self.rest[0], arg: self.rest[1], elem: self.rest[2], flags: self.rest[3], data: &self.rest[BLOB_HEADER_LEN..BLOB_HEADER_LEN + len] };
        self.rest = &self.rest[end..];
        Some(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sysno::nr;

    /// A fake address space: one region.
    struct Mem {
        base: u64,
        bytes: Vec<u8>,
    }

    impl UserMemory for Mem {
        fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
            let off = addr.checked_sub(self.base).ok_or(Fault)? as usize;
            let src = self.bytes.get(off..off + buf.len()).ok_or(Fault)?;
            buf.copy_from_slice(src);
            Ok(())
        }
    }

    fn record(nr: usize, args: [u64; 6], ret: i64, mem: &Mem) -> Vec<u8> {
        let mut buf = vec![0u8; MAX_RECORD];
        let e = Entry { nr: nr as u16, pid: 7, tid: 8, args, enter_ns: 1000 };
        let mut w = RecordWriter::begin(&mut buf, &e).unwrap();
        capture(&mut w, plan(nr), Phase::Entry, 0, mem);
        let mut w = RecordWriter::resume(&mut buf).unwrap();
        capture(&mut w, plan(nr), Phase::Exit, ret, mem);
        let n = w.finish(ret, 1500);
        buf.truncate(n);
        buf
    }

    #[test]
    fn openat_and_read_round_trip() {
        let mut bytes = vec![0u8; 256];
        bytes[..11].copy_from_slice(b"/etc/hosts\0");
        bytes[100..142].copy_from_slice(&[b'x'; 42]);
        let mem = Mem { base: 0x1000, bytes };
        let buf = record(nr::OPENAT, [(-100i64) as u64, 0x1000, 0o2000000, 0, 0, 0], 3, &mem);
        let r = Record::parse(&buf).unwrap();
        assert_eq!((r.nr, r.pid, r.tid, r.ret, r.duration_ns()), (nr::OPENAT as u16, 7, 8, 3, 500));
        let b = r.blob(1, Phase::Entry).unwrap();
        assert_eq!((b.data, b.truncated(), b.fault()), (&b"/etc/hosts"[..], false, false));
        assert_eq!(buf.len() % 8, 0);

        let buf = record(nr::READ, [3, 0x1000 + 100, 4096, 0, 0, 0], 42, &mem);
        let r = Record::parse(&buf).unwrap();
        let b = r.blob(1, Phase::Exit).unwrap();
        assert_eq!((b.data.len(), b.truncated()), (32, true));
        // A failed read captures nothing.
        let buf = record(nr::READ, [3, 0x1000 + 100, 4096, 0, 0, 0], -9, &mem);
        assert_eq!(Record::parse(&buf).unwrap().blobs().count(), 0);
        // A bad pointer is a fault blob.
        let buf = record(nr::OPENAT, [0, 0x9999_0000, 0, 0, 0, 0], -14, &mem);
        let b = Record::parse(&buf).unwrap().blob(1, Phase::Entry).unwrap();
        assert!(b.fault() && b.data.is_empty());
    }

    #[test]
    fn iovecs() {
        let mut bytes = vec![0u8; 512];
        let iov = |b: &mut Vec<u8>, at: usize, base: u64, len: u64| {
            b[at..at + 8].copy_from_slice(&base.to_le_bytes());
            b[at + 8..at + 16].copy_from_slice(&len.to_le_bytes());
        };
        iov(&mut bytes, 0, 0x1100, 2);
        iov(&mut bytes, 16, 0x1110, 3);
        bytes[0x100..0x102].copy_from_slice(b"ab");
        bytes[0x110..0x113].copy_from_slice(b"cd\n");
        let mem = Mem { base: 0x1000, bytes };
        let buf = record(nr::WRITEV, [3, 0x1000, 2, 0, 0, 0], 5, &mem);
        let r = Record::parse(&buf).unwrap();
        let datas: Vec<(u8, &[u8])> = r.blobs().filter(|b| b.cap == 1).map(|b| (b.elem, b.data)).collect();
        assert_eq!(datas, [(0, &b"ab"[..]), (1, &b"cd\n"[..])]);
        assert_eq!(r.blob(1, Phase::Entry).unwrap().data.len(), 32);
        // readv that read 3 bytes: 2 in the first buffer, 1 in the second.
        let buf = record(nr::READV, [3, 0x1000, 2, 0, 0, 0], 3, &mem);
        let r = Record::parse(&buf).unwrap();
        let datas: Vec<&[u8]> = r.blobs().filter(|b| b.phase() == Phase::Exit).map(|b| b.data).collect();
        assert_eq!(datas, [&b"ab"[..], &b"c"[..]]);
    }

    #[test]
    fn counts_and_string_arrays() {
        // getdents64: three records of 24, 32 and 24 bytes.
        let mut bytes = vec![0u8; 256];
        for (at, len) in [(0usize, 24u8), (24, 32), (56, 24)] {
            bytes[at + 16] = len;
        }
        // execve: path, argv = ["ab", "c"], envp = ["X=1"].
        let ptrs = |b: &mut Vec<u8>, at: usize, p: &[u64]| {
            for (i, v) in p.iter().enumerate() {
                b[at + 8 * i..at + 8 * i + 8].copy_from_slice(&v.to_le_bytes());
            }
        };
        bytes[100..103].copy_from_slice(b"/x\0");
        bytes[104..107].copy_from_slice(b"ab\0");
        bytes[108..110].copy_from_slice(b"c\0");
        bytes[112..116].copy_from_slice(b"X=1\0");
        ptrs(&mut bytes, 128, &[0x1000 + 104, 0x1000 + 108, 0]);
        ptrs(&mut bytes, 160, &[0x1000 + 112, 0]);
        let mem = Mem { base: 0x1000, bytes };
        let buf = record(nr::GETDENTS64, [3, 0x1000, 4096, 0, 0, 0], 80, &mem);
        let r = Record::parse(&buf).unwrap();
        assert_eq!(r.blob(1, Phase::Exit).unwrap().data, 3u32.to_le_bytes());
        let buf = record(nr::EXECVE, [0x1000 + 100, 0x1000 + 128, 0x1000 + 160, 0, 0, 0], 0, &mem);
        let r = Record::parse(&buf).unwrap();
        let argv: Vec<&[u8]> = r.blobs().filter(|b| b.arg == 1 && b.cap == 2).map(|b| b.data).collect();
        assert_eq!(argv, [&b"ab"[..], &b"c"[..]]);
        assert_eq!(r.blob_of_cap(1).unwrap().data, 2u32.to_le_bytes());
        assert_eq!(r.blob_of_cap(3).unwrap().data, 1u32.to_le_bytes());
    }

    #[test]
    fn bad_records() {
        assert_eq!(Record::parse(&[0; 10]), Err(RecordError::Short));
        let mut buf = vec![0u8; MAX_RECORD];
        let n = RecordWriter::begin(&mut buf, &Entry::default()).unwrap().finish(0, 0);
        assert_eq!(n, HEADER_LEN);
        assert!(Record::parse(&buf[..n]).unwrap().exited());
        buf[4] = 9;
        assert_eq!(Record::parse(&buf[..n]), Err(RecordError::Version(9)));
        buf[4] = RECORD_VERSION;
        buf[88] = 1; // claims a blob that is not there
        assert_eq!(Record::parse(&buf[..n]), Err(RecordError::BadBlob));
        // A short buffer drops blobs instead of failing.
        let mut small = [0u8; HEADER_LEN + 4];
        let mut w = RecordWriter::begin(&mut small, &Entry::default()).unwrap();
        assert!(!w.blob(0, 0, 0, Phase::Entry, 16, |_| Some((16, false))));
        let n = w.finish(0, 0);
        assert_ne!(Record::parse(&small[..n]).unwrap().flags & REC_BLOBS_DROPPED, 0);
    }
}
