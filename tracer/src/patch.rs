//! The byte patch: one function, [`patch`], that turns a site's nop into a
//! `call` to its trampoline and back, over the embedder's [`TextPoke`].
//!
//! Today's contract is the single-CPU one: the patch runs while no thread
//! is executing the site (the kernel's shell runs while the app is stopped
//! at an instruction boundary, and the kernel is not preemptible), so
//! writing the 5 bytes in any order is safe, provided no stopped thread's
//! instruction pointer lies strictly inside the site (only possible for
//! sites made of several nops; [`patch`] refuses then). The SMP version
//! (Linux's `text_poke_bp`: an `int3` first, a sync of all CPUs, the tail,
//! a sync, the first byte; or a stop-the-world rendezvous) replaces the
//! body of [`patch`] and the embedder's [`TextPoke::sync_cores`], not its
//! callers.

/// Writing code, implemented by the embedder. The kernel writes through a
/// kernel alias of the page (the app's text is never made writable to the
/// app); a host process may `mprotect` its own text.
pub trait TextPoke {
    /// Reads `buf.len()` bytes of code at `addr` (as the CPU will fetch them).
    fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), PokeError>;
    /// Writes `bytes` at `addr` through a writable alias.
    fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), PokeError>;
    /// Makes the change visible to instruction fetch on every CPU that may
    /// run it (on one CPU: nothing beyond the write; x86 snoops its own
    /// stores. On SMP: a serializing instruction on every other CPU).
    fn sync_cores(&mut self, addr: u64, len: usize);
}

/// What the embedder's memory access reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PokeError {
    #[error("address {0:#x} is not mapped text")]
    NotMapped(u64),
    #[error("address {0:#x}: {1}")]
    Failed(u64, &'static str),
}

/// Why a patch was refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("site {addr:#x}: expected {}, found {} (the code changed under the tracer, or this is not a site)", crate::discover::hex(.expected), crate::discover::hex(.found))]
    Unexpected { addr: u64, expected: [u8; 5], found: [u8; 5] },
    #[error("site {addr:#x}: a thread is stopped at {rip:#x}, inside the site's nops; retry when it has moved on")]
    ThreadInside { addr: u64, rip: u64 },
    #[error("site {addr:#x}: wrote {}, read back {}", crate::discover::hex(.wrote), crate::discover::hex(.found))]
    Verify { addr: u64, wrote: [u8; 5], found: [u8; 5] },
    #[error(transparent)]
    Poke(#[from] PokeError),
}

/// Replaces the 5 bytes at `addr`, which must be `old`, by `new`.
///
/// `stopped_ips` are the instruction pointers of every thread that could
/// run the site (the app's threads, stopped). Refuses if the current bytes
/// are not `old` or if an instruction pointer is strictly inside the site;
/// reads the result back and syncs the cores.
pub fn patch(poke: &mut dyn TextPoke, addr: u64, old: &[u8; 5], new: &[u8; 5], stopped_ips: &[u64]) -> Result<(), PatchError> {
    let mut found = [0u8; 5];
    poke.read(addr, &mut found)?;
    if &found != old {
        return Err(PatchError::Unexpected { addr, expected: *old, found });
    }
    if let Some(&rip) = stopped_ips.iter().find(|&&ip| ip > addr && ip < addr + 5) {
        return Err(PatchError::ThreadInside { addr, rip });
    }
    poke.write(addr, new)?;
    poke.read(addr, &mut found)?;
    if &found != new {
        return Err(PatchError::Verify { addr, wrote: *new, found });
    }
    poke.sync_cores(addr, 5);
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::vec::Vec;

    /// Byte-addressed fake text with a log of writes, for unit tests.
    #[derive(Default)]
    pub struct FakeText {
        pub bytes: BTreeMap<u64, u8>,
        pub writes: Vec<(u64, Vec<u8>)>,
        pub syncs: usize,
        /// Writes to this address are silently dropped (a broken alias).
        pub drop_writes_at: Option<u64>,
    }

    impl FakeText {
        pub fn with(addr: u64, b: &[u8]) -> FakeText {
            let mut t = FakeText::default();
            t.put(addr, b);
            t
        }
        pub fn put(&mut self, addr: u64, b: &[u8]) {
            for (i, &x) in b.iter().enumerate() {
                self.bytes.insert(addr + i as u64, x);
            }
        }
        pub fn get(&self, addr: u64, n: usize) -> Vec<u8> {
            (0..n as u64).map(|i| self.bytes[&(addr + i)]).collect()
        }
    }

    impl TextPoke for FakeText {
        fn read(&mut self, addr: u64, buf: &mut [u8]) -> Result<(), PokeError> {
            for (i, b) in buf.iter_mut().enumerate() {
                *b = *self.bytes.get(&(addr + i as u64)).ok_or(PokeError::NotMapped(addr + i as u64))?;
            }
            Ok(())
        }
        fn write(&mut self, addr: u64, bytes: &[u8]) -> Result<(), PokeError> {
            self.writes.push((addr, bytes.to_vec()));
            if self.drop_writes_at == Some(addr) {
                return Ok(());
            }
            for i in 0..bytes.len() as u64 {
                if !self.bytes.contains_key(&(addr + i)) {
                    return Err(PokeError::NotMapped(addr + i));
                }
            }
            self.put(addr, bytes);
            Ok(())
        }
        fn sync_cores(&mut self, _addr: u64, _len: usize) {
            self.syncs += 1;
        }
    }

    const NOP: [u8; 5] = crate::nops::NOPL5;

    #[test]
    fn patch_and_restore() {
        let site = 0x40_1200;
        let mut t = FakeText::with(site, &[0x0f, 0x1f, 0x44, 0x00, 0x00, 0x48, 0x8d]);
        let call = crate::x86::call_rel32(site, 0x40_9000).unwrap();
        assert_eq!(call, [0xe8, 0xfb, 0x7d, 0x00, 0x00]);
        patch(&mut t, site, &NOP, &call, &[]).unwrap();
        assert_eq!(t.get(site, 7), [0xe8, 0xfb, 0x7d, 0x00, 0x00, 0x48, 0x8d]);
        assert_eq!(t.writes, [(site, call.to_vec())]);
        assert_eq!(t.syncs, 1);
        patch(&mut t, site, &call, &NOP, &[]).unwrap();
        assert_eq!(t.get(site, 7), [0x0f, 0x1f, 0x44, 0x00, 0x00, 0x48, 0x8d]);
        assert_eq!(t.syncs, 2);
    }

    #[test]
    fn refuses_unexpected_bytes_without_writing() {
        let site = 0x1000;
        let mut t = FakeText::with(site, &[0x55, 0x48, 0x89, 0xe5, 0x90]);
        let e = patch(&mut t, site, &NOP, &[0xe8, 0, 0, 0, 0], &[]).unwrap_err();
        assert_eq!(e, PatchError::Unexpected { addr: site, expected: NOP, found: [0x55, 0x48, 0x89, 0xe5, 0x90] });
        assert!(e.to_string().contains("expected 0f 1f 44 00 00, found 55 48 89 e5 90"), "{e}");
        assert!(t.writes.is_empty());
        // Restoring twice: the second sees the nop, not the call, and refuses.
        let mut t = FakeText::with(site, &NOP);
        let call = [0xe8, 1, 2, 3, 4];
        assert!(matches!(patch(&mut t, site, &call, &NOP, &[]), Err(PatchError::Unexpected { .. })));
        assert!(t.writes.is_empty());
    }

    #[test]
    fn refuses_a_thread_inside_the_nops() {
        let site = 0x2000;
        let mut t = FakeText::with(site, &[0x90; 5]);
        let call = [0xe8, 1, 2, 3, 4];
        for rip in site + 1..site + 5 {
            assert_eq!(patch(&mut t, site, &[0x90; 5], &call, &[0x9999, rip]), Err(PatchError::ThreadInside { addr: site, rip }));
        }
        assert!(t.writes.is_empty());
        // At the site's first byte or just after it is fine.
        patch(&mut t, site, &[0x90; 5], &call, &[site, site + 5]).unwrap();
    }

    #[test]
    fn verifies_what_it_wrote() {
        let site = 0x3000;
        let mut t = FakeText::with(site, &NOP);
        t.drop_writes_at = Some(site);
        let call = [0xe8, 1, 2, 3, 4];
        assert_eq!(patch(&mut t, site, &NOP, &call, &[]), Err(PatchError::Verify { addr: site, wrote: call, found: NOP }));
        assert_eq!(t.syncs, 0);
        let mut t = FakeText::default();
        assert_eq!(patch(&mut t, site, &NOP, &call, &[]), Err(PatchError::Poke(PokeError::NotMapped(site))));
    }
}
