//! One VMA: its end, rights and the name /proc/self/maps shows.

use crate::PageFlags;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Prot {
    pub read: bool,
    pub write: bool,
    pub exec: bool,
}

impl Prot {
    pub const NONE: Prot = Prot { read: false, write: false, exec: false };
    pub const RW: Prot = Prot { read: true, write: true, exec: false };

    pub fn from_linux(p: u32) -> Prot {
        use linux_abi::flags::*;
        Prot { read: p & PROT_READ != 0, write: p & PROT_WRITE != 0, exec: p & PROT_EXEC != 0 }
    }

    /// The page rights for this protection, `None` for PROT_NONE. x86 cannot
    /// express write-only or exec-only pages: they are readable too.
    pub fn page_flags(self) -> Option<PageFlags> {
        (self.read || self.write || self.exec).then_some(PageFlags { write: self.write, exec: self.exec })
    }

    /// Whether an access of this kind is allowed.
    pub fn allows(self, write: bool, exec: bool) -> bool {
        if write {
            self.write
        } else if exec {
            self.exec
        } else {
            self.read || self.write || self.exec
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Vma {
    pub end: u64,
    pub prot: Prot,
    /// Shown in /proc/self/maps.
    pub name: VmaName,
}

impl Vma {
    /// Whether `self` and `other` may form one VMA when they touch.
    pub fn alike(&self, other: &Vma) -> bool {
        self.prot == other.prot && self.name == other.name
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmaName {
    Anon,
    Image,
    Heap,
    Stack,
    Trampoline,
    /// The function tracer's trampolines for app sites (Linux names its
    /// uprobes page `[uprobes]`): executable, never writable by the app.
    Uprobes,
}
