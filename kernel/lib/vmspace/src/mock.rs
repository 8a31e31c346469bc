//! A page table in a map, recording frames, for the tests.

use crate::{PageFlags, PageState, PageTable, PAGE_SIZE};
use linux_abi::Errno;
use std::collections::BTreeMap;

#[derive(Default)]
pub struct MockPt {
    /// va -> (frame id, rights; `None` = inaccessible).
    pub pages: BTreeMap<u64, (u64, Option<PageFlags>)>,
    pub allocated: u64,
    pub freed: u64,
    /// Calls of `unmap`/`protect`/`move_page`, to show that holes are skipped.
    pub calls: u64,
    /// `move_page` fails once, after this many moves have succeeded.
    pub moves_before_failure: Option<u64>,
    /// `map` fails (out of memory) while set.
    pub out_of_memory: bool,
}

impl PageTable for MockPt {
    fn map(&mut self, va: u64, flags: PageFlags) -> Result<(), Errno> {
        assert_eq!(va % PAGE_SIZE, 0);
        assert!(!self.pages.contains_key(&va), "map over a frame at {va:#x}");
        if self.out_of_memory {
            return Err(Errno::ENOMEM);
        }
        self.pages.insert(va, (self.allocated, Some(flags)));
        self.allocated += 1;
        Ok(())
    }

    fn unmap(&mut self, va: u64) -> bool {
        self.calls += 1;
        let had = self.pages.remove(&va).is_some();
        self.freed += had as u64;
        had
    }

    fn protect(&mut self, va: u64, flags: Option<PageFlags>) {
        self.calls += 1;
        if let Some(p) = self.pages.get_mut(&va) {
            p.1 = flags;
        }
    }

    fn query(&self, va: u64) -> Option<PageState> {
        self.pages.get(&va).map(|(_, f)| f.map_or(PageState::Inaccessible, PageState::Present))
    }

    fn move_page(&mut self, from: u64, to: u64, flags: Option<PageFlags>) -> Result<(), Errno> {
        self.calls += 1;
        assert!(!self.pages.contains_key(&to), "move onto a frame at {to:#x}");
        if let Some(n) = self.moves_before_failure.as_mut() {
            if *n == 0 {
                self.moves_before_failure = None;
                return Err(Errno::ENOMEM);
            }
            *n -= 1;
        }
        if let Some((frame, _)) = self.pages.remove(&from) {
            self.pages.insert(to, (frame, flags));
        }
        Ok(())
    }

    fn next_mapped(&self, from: u64, to: u64) -> Option<u64> {
        if from >= to {
            return None;
        }
        self.pages.range(from..to).next().map(|(va, _)| *va)
    }
}
