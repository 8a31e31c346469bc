//! A BPF_MAP_TYPE_RINGBUF for many producers (programs on every CPU) and one
//! consumer (the shell): records with Linux's space accounting (an 8-byte
//! header plus the payload rounded up to 8), behind a spin lock held only
//! for the bookkeeping, never while a program fills a reserved record.

use alloc::collections::VecDeque;
use alloc::vec::Vec;

/// Bytes a record occupies.
pub fn record_cost(len: usize) -> usize {
    8 + ((len + 7) & !7)
}

struct Inner {
    records: VecDeque<Vec<u8>>,
    /// Bytes accounted to committed and reserved records.
    used: usize,
    dropped: u64,
}

pub struct Ringbuf {
    cap: usize,
    inner: spin::Mutex<Inner>,
}

impl Ringbuf {
    pub fn new(cap: usize) -> Ringbuf {
        Ringbuf { cap, inner: spin::Mutex::new(Inner { records: VecDeque::new(), used: 0, dropped: 0 }) }
    }

    /// Accounts space for a record of `len` bytes; false if it does not fit
    /// (the record is dropped and counted, as Linux's reserve returns NULL).
    pub fn claim(&self, len: usize) -> bool {
        let mut r = self.inner.lock();
        let cost = record_cost(len);
        if len > self.cap || r.used + cost > self.cap {
            r.dropped += 1;
            return false;
        }
        r.used += cost;
        true
    }

    /// Gives back the space of a discarded reservation.
    pub fn release(&self, len: usize) {
        let mut r = self.inner.lock();
        r.used = r.used.saturating_sub(record_cost(len));
    }

    /// Appends a record whose space was claimed.
    pub fn commit(&self, data: Vec<u8>) {
        self.inner.lock().records.push_back(data);
    }

    /// The consumer side: takes the oldest committed record.
    pub fn pop(&self) -> Option<Vec<u8>> {
        let mut r = self.inner.lock();
        let rec = r.records.pop_front()?;
        r.used = r.used.saturating_sub(record_cost(rec.len()));
        Some(rec)
    }

    /// Committed records waiting for the consumer.
    pub fn len(&self) -> usize {
        self.inner.lock().records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Records dropped because the buffer was full.
    pub fn dropped(&self) -> u64 {
        self.inner.lock().dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn producers_on_several_threads_lose_nothing_that_fits() {
        let rb = std::sync::Arc::new(Ringbuf::new(1 << 20));
        let producers: Vec<_> = (0..4u8)
            .map(|t| {
                let rb = rb.clone();
                std::thread::spawn(move || {
                    for i in 0..1000u32 {
                        assert!(rb.claim(8));
                        let mut rec = i.to_le_bytes().to_vec();
                        rec.extend([t; 4]);
                        rb.commit(rec);
                    }
                })
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        let mut next = [0u32; 4];
        while let Some(rec) = rb.pop() {
            let (i, t) = (u32::from_le_bytes(rec[..4].try_into().unwrap()), rec[4] as usize);
            assert_eq!(i, next[t], "each producer's records arrive in order");
            next[t] += 1;
        }
        assert_eq!(next, [1000; 4]);
        assert_eq!(rb.dropped(), 0);
    }
}
