//! Property tests against a page-by-page model, and unit tests for
//! placement and mremap edge cases.

use crate::mock::MockPt;
use crate::{PageFlags, Prot, VmSpace, VmaName, PAGE_SIZE};
use linux_abi::Errno;
use proptest::prelude::*;
use std::collections::BTreeMap;

const LIMIT_PAGES: u64 = 64;
const BRK_START_PAGE: u64 = 8;
const MMAP_MIN_PAGE: u64 = 4;
const MMAP_BASE_PAGE: u64 = 56;

fn pg(p: u64) -> u64 {
    p * PAGE_SIZE
}

fn space() -> VmSpace<MockPt> {
    let mut s = VmSpace::new(MockPt::default(), pg(LIMIT_PAGES));
    s.brk_start = pg(BRK_START_PAGE);
    s.brk = s.brk_start;
    s.mmap_min = pg(MMAP_MIN_PAGE);
    s.mmap_base = pg(MMAP_BASE_PAGE);
    s
}

#[derive(Debug, Clone)]
enum Op {
    Map { start: u64, n: u64, misalign: bool, prot: Prot, name: VmaName },
    Unmap { start: u64, n: u64 },
    Protect { start: u64, n: u64, prot: Prot },
    Brk { addr: u64 },
    Remap { old: u64, old_n: u64, new_n: u64, may_move: bool },
    Discard { start: u64, n: u64 },
    Touch { page: u64, off: u64, write: bool, exec: bool },
}

/// Page -> (prot, name, frame id if present). VMAs do not appear: the
/// crate's VMAs must be exactly the maximal runs of alike pages.
#[derive(Default)]
struct Model {
    pages: BTreeMap<u64, (Prot, VmaName, Option<u64>)>,
    brk: u64,
    next_frame: u64,
}

impl Model {
    fn free(&self, from: u64, to: u64) -> bool {
        self.pages.range(from..to).next().is_none()
    }

    fn find_free(&self, n: u64) -> Option<u64> {
        (MMAP_MIN_PAGE..=MMAP_BASE_PAGE.checked_sub(n)?).rev().find(|&s| self.free(s, s + n))
    }

    fn apply(&mut self, op: &Op) -> Result<u64, Errno> {
        match *op {
            Op::Map { start, n, misalign, prot, name } => {
                if misalign || n == 0 || start + n > LIMIT_PAGES {
                    return Err(Errno::EINVAL);
                }
                for p in start..start + n {
                    self.pages.insert(p, (prot, name, None));
                }
                Ok(0)
            }
            Op::Unmap { start, n } => {
                if n == 0 || start + n > LIMIT_PAGES {
                    return Err(Errno::EINVAL);
                }
                self.pages.retain(|p, _| !(start..start + n).contains(p));
                Ok(0)
            }
            Op::Protect { start, n, prot } => {
                if (start..start + n).any(|p| !self.pages.contains_key(&p)) {
                    return Err(Errno::ENOMEM);
                }
                for p in start..start + n {
                    self.pages.get_mut(&p).unwrap().0 = prot;
                }
                Ok(0)
            }
            Op::Brk { addr } => {
                let page_up = |v: u64| v.div_ceil(PAGE_SIZE);
                if addr < pg(BRK_START_PAGE) {
                    return Ok(self.brk);
                }
                let (old_end, new_end) = (page_up(self.brk), page_up(addr));
                if new_end > old_end {
                    if new_end > LIMIT_PAGES || !self.free(old_end, new_end) {
                        return Ok(self.brk);
                    }
                    for p in old_end..new_end {
                        self.pages.insert(p, (Prot::RW, VmaName::Heap, None));
                    }
                } else {
                    self.pages.retain(|p, _| !(new_end..old_end).contains(p));
                }
                self.brk = addr;
                Ok(addr)
            }
            Op::Remap { old, old_n, new_n, may_move } => {
                if old_n == 0 || new_n == 0 {
                    return Err(Errno::EINVAL);
                }
                let Some(&(prot, name, _)) = self.pages.get(&old) else { return Err(Errno::EFAULT) };
                let alike = |p: u64| self.pages.get(&p).is_some_and(|&(pr, nm, _)| pr == prot && nm == name);
                if !(old..old + old_n).all(alike) {
                    return Err(Errno::EFAULT);
                }
                if new_n <= old_n {
                    self.pages.retain(|p, _| !(old + new_n..old + old_n).contains(p));
                    return Ok(pg(old));
                }
                if old + new_n <= LIMIT_PAGES && self.free(old + old_n, old + new_n) {
                    for p in old + old_n..old + new_n {
                        self.pages.insert(p, (prot, name, None));
                    }
                    return Ok(pg(old));
                }
                if !may_move {
                    return Err(Errno::ENOMEM);
                }
                let new = self.find_free(new_n).ok_or(Errno::ENOMEM)?;
                let moved: Vec<_> = (old..old + old_n).map(|p| self.pages.remove(&p).unwrap()).collect();
                for (i, v) in moved.into_iter().enumerate() {
                    self.pages.insert(new + i as u64, v);
                }
                for p in new + old_n..new + new_n {
                    self.pages.insert(p, (prot, name, None));
                }
                Ok(pg(new))
            }
            Op::Discard { start, n } => {
                for (_, v) in self.pages.range_mut(start..start + n) {
                    v.2 = None;
                }
                Ok(0)
            }
            Op::Touch { page, write, exec, .. } => {
                let Some(v) = self.pages.get_mut(&page) else { return Err(Errno::EFAULT) };
                if !v.0.allows(write, exec) {
                    return Err(Errno::EFAULT);
                }
                if v.2.is_none() {
                    v.2 = Some(self.next_frame);
                    self.next_frame += 1;
                }
                Ok(0)
            }
        }
    }
}

fn run(s: &mut VmSpace<MockPt>, op: &Op) -> Result<u64, Errno> {
    match *op {
        Op::Map { start, n, misalign, prot, name } => s.map_fixed(pg(start) + misalign as u64, pg(n), prot, name).map(|_| 0),
        Op::Unmap { start, n } => s.unmap(pg(start), pg(n)).map(|_| 0),
        Op::Protect { start, n, prot } => s.protect(pg(start), pg(n), prot).map(|_| 0),
        Op::Brk { addr } => Ok(s.set_brk(addr)),
        Op::Remap { old, old_n, new_n, may_move } => s.remap(pg(old), pg(old_n), pg(new_n), may_move),
        Op::Discard { start, n } => {
            s.discard(pg(start), pg(n));
            Ok(0)
        }
        Op::Touch { page, off, write, exec } => s.fault_in(pg(page) + off, write, exec).map(|_| 0),
    }
}

/// Everything the crate promises, checked against the model.
fn check(s: &VmSpace<MockPt>, m: &Model) {
    let mut prev: Option<(u64, crate::Vma)> = None;
    for (start, v) in s.vmas() {
        assert!(start % PAGE_SIZE == 0 && v.end % PAGE_SIZE == 0 && start < v.end && v.end <= s.limit(), "bad VMA {start:#x} {v:?}");
        if let Some((ps, pv)) = prev {
            assert!(pv.end <= start, "VMAs overlap: {ps:#x} {pv:?} and {start:#x} {v:?}");
            assert!(pv.end < start || !pv.alike(v), "alike neighbours not joined: {ps:#x} {pv:?} and {start:#x} {v:?}");
        }
        prev = Some((start, *v));
    }
    for p in 0..LIMIT_PAGES {
        let got = s.find(pg(p)).map(|(_, v)| (v.prot, v.name));
        let want = m.pages.get(&p).map(|&(pr, nm, _)| (pr, nm));
        assert_eq!(got, want, "page {p}");
    }
    let pt = s.page_table();
    for (&va, &(frame, flags)) in &pt.pages {
        let (_, v) = s.find(va).unwrap_or_else(|| panic!("frame {frame} leaked at {va:#x}, outside every VMA"));
        assert_eq!(flags, v.prot.page_flags(), "rights of the page at {va:#x}");
        assert_eq!(m.pages.get(&(va / PAGE_SIZE)).and_then(|e| e.2), Some(frame), "frame at {va:#x}");
    }
    let present = m.pages.values().filter(|e| e.2.is_some()).count();
    assert_eq!(pt.pages.len(), present, "pages holding frames");
    assert_eq!(pt.allocated - pt.freed, pt.pages.len() as u64, "frames allocated but not mapped");
    assert_eq!(s.brk, m.brk);
}

fn prot() -> impl Strategy<Value = Prot> {
    (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(|(read, write, exec)| Prot { read, write, exec })
}

fn name() -> impl Strategy<Value = VmaName> {
    prop_oneof![Just(VmaName::Anon), Just(VmaName::Image), Just(VmaName::Heap), Just(VmaName::Stack)]
}

fn op() -> impl Strategy<Value = Op> {
    let page = 0..LIMIT_PAGES + 4;
    prop_oneof![
        4 => (page.clone(), 0..12u64, prop::bool::weighted(0.05), prot(), name())
            .prop_map(|(start, n, misalign, prot, name)| Op::Map { start, n, misalign, prot, name }),
        2 => (page.clone(), 0..12u64).prop_map(|(start, n)| Op::Unmap { start, n }),
        3 => (page.clone(), 0..8u64, prot()).prop_map(|(start, n, prot)| Op::Protect { start, n, prot }),
        2 => (0..LIMIT_PAGES + 4, prop_oneof![Just(0u64), Just(1), Just(100)]).prop_map(|(p, off)| Op::Brk { addr: pg(p) + off }),
        3 => (page.clone(), 0..8u64, 0..14u64, any::<bool>())
            .prop_map(|(old, old_n, new_n, may_move)| Op::Remap { old, old_n, new_n, may_move }),
        1 => (page.clone(), 0..12u64).prop_map(|(start, n)| Op::Discard { start, n }),
        5 => (page, prop_oneof![Just(0u64), Just(8), Just(PAGE_SIZE - 1)], any::<bool>(), prop::bool::weighted(0.2))
            .prop_map(|(page, off, write, exec)| Op::Touch { page, off, write, exec }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn agrees_with_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut s = space();
        let mut m = Model { brk: pg(BRK_START_PAGE), ..Model::default() };
        for (i, op) in ops.iter().enumerate() {
            let want = m.apply(op);
            let got = run(&mut s, op);
            prop_assert_eq!(got, want, "op {} {:?}", i, op);
            check(&s, &m);
        }
    }
}

// ---- find_free: top-down placement ----

#[test]
fn find_free_starts_just_below_mmap_base() {
    let s = space();
    assert_eq!(s.find_free(pg(2)), Ok(pg(MMAP_BASE_PAGE - 2)));
    // Lengths round up to pages.
    assert_eq!(s.find_free(1), Ok(pg(MMAP_BASE_PAGE - 1)));
    assert_eq!(s.find_free(0), Err(Errno::EINVAL));
}

#[test]
fn find_free_takes_the_highest_gap_that_fits() {
    let mut s = space();
    // [50,56) used, gap [48,50) of 2 pages, [40,48) used, below free.
    s.map_fixed(pg(50), pg(6), Prot::RW, VmaName::Anon).unwrap();
    s.map_fixed(pg(40), pg(8), Prot::RW, VmaName::Stack).unwrap();
    assert_eq!(s.find_free(pg(2)), Ok(pg(48)), "exact fit in the upper gap");
    assert_eq!(s.find_free(pg(3)), Ok(pg(37)), "too small a gap is skipped");
}

#[test]
fn find_free_skips_a_vma_straddling_mmap_base() {
    let mut s = space();
    s.map_fixed(pg(54), pg(4), Prot::RW, VmaName::Anon).unwrap();
    assert_eq!(s.find_free(pg(1)), Ok(pg(53)));
    // VMAs above mmap_base do not matter.
    s.map_fixed(pg(60), pg(2), Prot::RW, VmaName::Anon).unwrap();
    assert_eq!(s.find_free(pg(1)), Ok(pg(53)));
}

#[test]
fn find_free_never_goes_below_mmap_min() {
    let mut s = space();
    assert_eq!(s.find_free(pg(MMAP_BASE_PAGE - MMAP_MIN_PAGE)), Ok(pg(MMAP_MIN_PAGE)));
    assert_eq!(s.find_free(pg(MMAP_BASE_PAGE - MMAP_MIN_PAGE + 1)), Err(Errno::ENOMEM));
    s.map_fixed(pg(10), pg(1), Prot::RW, VmaName::Anon).unwrap();
    assert_eq!(s.find_free(pg(MMAP_BASE_PAGE - 11)), Ok(pg(11)));
    assert_eq!(s.find_free(pg(MMAP_BASE_PAGE - 10)), Err(Errno::ENOMEM));
    assert_eq!(s.find_free(u64::MAX), Err(Errno::ENOMEM));
}

// ---- remap edge cases ----

fn touched(s: &mut VmSpace<MockPt>, start: u64, n: u64) {
    for p in start..start + n {
        s.fault_in(pg(p), true, false).unwrap();
    }
}

#[test]
fn remap_rejects_bad_arguments() {
    let mut s = space();
    s.map_fixed(pg(10), pg(4), Prot::RW, VmaName::Anon).unwrap();
    assert_eq!(s.remap(pg(10) + 1, pg(1), pg(2), true), Err(Errno::EINVAL), "unaligned");
    assert_eq!(s.remap(pg(10), 0, pg(2), true), Err(Errno::EINVAL), "old_len 0 of a private mapping");
    assert_eq!(s.remap(pg(10), pg(1), 0, true), Err(Errno::EINVAL), "new_len 0");
    assert_eq!(s.remap(pg(10), u64::MAX, pg(1), true), Err(Errno::EINVAL), "old_len overflows");
    assert_eq!(s.remap(pg(20), pg(1), pg(2), true), Err(Errno::EFAULT), "unmapped");
    assert_eq!(s.remap(pg(12), pg(3), pg(4), true), Err(Errno::EFAULT), "runs past the VMA");
    assert_eq!(s.remap(pg(10), pg(1), u64::MAX - PAGE_SIZE * 2, true), Err(Errno::ENOMEM), "new end overflows");
}

#[test]
fn remap_across_two_vmas_is_efault() {
    let mut s = space();
    s.map_fixed(pg(10), pg(2), Prot::RW, VmaName::Anon).unwrap();
    s.map_fixed(pg(12), pg(2), Prot { read: true, ..Prot::default() }, VmaName::Anon).unwrap();
    assert_eq!(s.remap(pg(10), pg(4), pg(1), true), Err(Errno::EFAULT));
}

#[test]
fn remap_shrink_frees_the_tail() {
    let mut s = space();
    s.map_fixed(pg(10), pg(4), Prot::RW, VmaName::Anon).unwrap();
    touched(&mut s, 10, 4);
    assert_eq!(s.remap(pg(10), pg(4), pg(1), false), Ok(pg(10)));
    assert_eq!(s.page_table().pages.len(), 1);
    assert_eq!(s.find(pg(11)), None);
    assert_eq!(s.remap(pg(10), pg(1), pg(1), false), Ok(pg(10)), "same size");
}

#[test]
fn remap_grows_in_place_and_stays_one_vma() {
    let mut s = space();
    s.map_fixed(pg(10), pg(2), Prot::RW, VmaName::Anon).unwrap();
    assert_eq!(s.remap(pg(10), pg(2), pg(5), false), Ok(pg(10)));
    assert_eq!(s.vmas().count(), 1);
    assert_eq!(s.find(pg(14)).map(|(st, v)| (st, v.end)), Some((pg(10), pg(15))));
}

#[test]
fn remap_growing_a_prefix_must_move() {
    // The first page of a two-page VMA cannot grow in place: the second is in the way.
    let mut s = space();
    s.map_fixed(pg(10), pg(2), Prot::RW, VmaName::Anon).unwrap();
    assert_eq!(s.remap(pg(10), pg(1), pg(2), false), Err(Errno::ENOMEM));
    assert_eq!(s.remap(pg(10), pg(1), pg(2), true), Ok(pg(MMAP_BASE_PAGE - 2)));
}

#[test]
fn remap_past_the_limit_moves() {
    let mut s = space();
    s.map_fixed(pg(LIMIT_PAGES - 1), pg(1), Prot::RW, VmaName::Anon).unwrap();
    assert_eq!(s.remap(pg(LIMIT_PAGES - 1), pg(1), pg(2), false), Err(Errno::ENOMEM));
    assert_eq!(s.remap(pg(LIMIT_PAGES - 1), pg(1), pg(2), true), Ok(pg(MMAP_BASE_PAGE - 2)));
}

#[test]
fn remap_move_carries_frames_and_prot_none() {
    let mut s = space();
    s.map_fixed(pg(10), pg(3), Prot::RW, VmaName::Anon).unwrap();
    s.map_fixed(pg(13), pg(1), Prot::RW, VmaName::Stack).unwrap();
    touched(&mut s, 10, 1);
    touched(&mut s, 12, 1);
    s.protect(pg(10), pg(3), Prot::NONE).unwrap();
    let new = s.remap(pg(10), pg(3), pg(6), true).unwrap();
    assert_eq!(new, pg(MMAP_BASE_PAGE - 6));
    let pt = s.page_table();
    assert_eq!(pt.pages.get(&new), Some(&(0, None)));
    assert_eq!(pt.pages.get(&(new + pg(2))), Some(&(1, None)));
    assert_eq!(pt.pages.len(), 2);
    assert_eq!(s.find(pg(10)), None);
    assert_eq!(s.find(new + pg(5)).map(|(_, v)| (v.prot, v.name)), Some((Prot::NONE, VmaName::Anon)));
}

#[test]
fn remap_move_failure_leaves_the_old_mapping_whole() {
    let mut s = space();
    s.map_fixed(pg(10), pg(4), Prot::RW, VmaName::Anon).unwrap();
    s.map_fixed(pg(14), pg(1), Prot::RW, VmaName::Stack).unwrap();
    touched(&mut s, 10, 4);
    s.page_table_mut().moves_before_failure = Some(2);
    assert_eq!(s.remap(pg(10), pg(4), pg(8), true), Err(Errno::ENOMEM));
    let frames: Vec<_> = s.page_table().pages.iter().map(|(va, (f, _))| (*va, *f)).collect();
    assert_eq!(frames, (0..4).map(|i| (pg(10 + i), i)).collect::<Vec<_>>());
    assert_eq!(s.vmas().count(), 2);
    assert_eq!(s.find(pg(MMAP_BASE_PAGE - 1)), None);
}

// ---- fault_in ----

#[test]
fn fault_in_checks_rights() {
    let mut s = space();
    s.map_fixed(pg(10), pg(1), Prot { read: true, ..Prot::default() }, VmaName::Anon).unwrap();
    s.map_fixed(pg(11), pg(1), Prot { write: true, ..Prot::default() }, VmaName::Anon).unwrap();
    assert_eq!(s.fault_in(pg(10), true, false), Err(Errno::EFAULT));
    assert_eq!(s.fault_in(pg(10), false, true), Err(Errno::EFAULT));
    assert_eq!(s.fault_in(pg(10) + 5, false, false), Ok(()));
    // Write-only pages are readable on x86.
    assert_eq!(s.fault_in(pg(11), false, false), Ok(()));
    assert_eq!(s.page_table().pages.get(&pg(11)), Some(&(1, Some(PageFlags { write: true, exec: false }))));
    assert_eq!(s.fault_in(pg(12), false, false), Err(Errno::EFAULT));
    s.page_table_mut().out_of_memory = true;
    s.discard(pg(10), pg(1));
    assert_eq!(s.fault_in(pg(10), false, false), Err(Errno::ENOMEM));
}

// ---- huge sparse ranges: only pages that hold frames are visited ----

#[test]
fn huge_sparse_ranges_visit_only_mapped_pages() {
    const TIB: u64 = 1 << 40;
    let mut s = VmSpace::new(MockPt::default(), 1 << 47);
    let start = 0x1000_0000;
    s.map_fixed(start, 16 * TIB, Prot::RW, VmaName::Anon).unwrap();
    for va in [start, start + 3 * TIB, start + 16 * TIB - PAGE_SIZE] {
        s.fault_in(va, true, false).unwrap();
    }
    s.protect(start, 16 * TIB, Prot { read: true, ..Prot::default() }).unwrap();
    s.discard(start + TIB, TIB);
    s.unmap(start, 16 * TIB).unwrap();
    let pt = s.page_table();
    assert_eq!((pt.allocated, pt.freed, pt.pages.len()), (3, 3, 0));
    assert_eq!(pt.calls, 6, "3 protects and 3 unmaps");
    assert_eq!(s.vmas().count(), 0);
}

#[test]
fn brk_grows_into_one_heap_vma_and_shrinks() {
    let mut s = space();
    let b = pg(BRK_START_PAGE);
    assert_eq!(s.set_brk(b + 10), b + 10);
    assert_eq!(s.set_brk(b + pg(3)), b + pg(3));
    assert_eq!(s.vmas().count(), 1);
    assert_eq!(s.set_brk(b - 1), b + pg(3), "below brk_start");
    s.map_fixed(b + pg(4), pg(1), Prot::RW, VmaName::Anon).unwrap();
    assert_eq!(s.set_brk(b + pg(5)), b + pg(3), "blocked by a mapping");
    assert_eq!(s.set_brk(b), b);
    assert_eq!(s.find(b), None);
}

#[test]
fn unmap_and_map_reject_empty_and_out_of_range() {
    let mut s = space();
    assert_eq!(s.unmap(pg(1), 0), Err(Errno::EINVAL));
    assert_eq!(s.unmap(pg(LIMIT_PAGES), pg(1)), Err(Errno::EINVAL));
    assert_eq!(s.unmap(pg(1), u64::MAX), Err(Errno::EINVAL));
    assert_eq!(s.map_fixed(pg(1), 0, Prot::RW, VmaName::Anon), Err(Errno::EINVAL));
    assert_eq!(s.map_fixed(pg(1), u64::MAX, Prot::RW, VmaName::Anon), Err(Errno::ENOMEM));
    assert_eq!(s.protect(pg(1), 0, Prot::RW), Ok(()));
    assert_eq!(s.protect(pg(1), pg(1), Prot::RW), Err(Errno::ENOMEM));
}

#[test]
fn writable_requests_beyond_the_commit_limit_are_enomem() {
    let mut s = space();
    s.commit_limit = pg(4);
    assert_eq!(s.map_fixed(pg(20), pg(5), Prot::RW, VmaName::Anon), Err(Errno::ENOMEM));
    assert!(s.is_free(pg(20), pg(25)), "nothing was mapped");
    let none = Prot { read: false, write: false, exec: false };
    assert_eq!(s.map_fixed(pg(20), pg(20), none, VmaName::Anon), Ok(()), "PROT_NONE commits nothing");
    let ro = Prot { read: true, write: false, exec: false };
    assert_eq!(s.protect(pg(20), pg(20), ro), Ok(()), "neither does read-only");
    assert_eq!(s.protect(pg(20), pg(20), Prot::RW), Err(Errno::ENOMEM), "making it writable would");
    assert_eq!(s.protect(pg(20), pg(4), Prot::RW), Ok(()));
    assert_eq!(s.set_brk(s.brk_start + pg(5)), s.brk_start, "brk growth past the limit is refused");
    assert_eq!(s.set_brk(s.brk_start + pg(3)), s.brk_start + pg(3));
    assert_eq!(s.remap(pg(20), pg(4), pg(9), true), Err(Errno::ENOMEM), "growing by 5 pages");
}
