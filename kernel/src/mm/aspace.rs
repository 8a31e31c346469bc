//! The app's address space: the VMA set of the `vmspace` crate (placement,
//! splitting, joining, demand-paging decisions) over page tables of its own
//! ([`PageTableRoot`]). Everything `vmspace::VmSpace` offers (`map_fixed`,
//! `unmap`, `protect`, `find`, `find_free`, `set_brk`, `remap`, `discard`,
//! `fault_in`, the brk and mmap fields) is reached through `Deref`.

use crate::arch::mem::PAGE_SIZE;
use crate::arch::paging::{PageFlags, PageTableRoot, USER_END};
use core::ops::{Deref, DerefMut};
use linux_abi::Errno;
use vmspace::VmSpace;

#[allow(unused_imports)] // `Vma` was defined here; its path stays valid
pub use vmspace::{Prot, Vma, VmaName};

pub struct AddressSpace {
    space: VmSpace<PageTableRoot>,
}

impl AddressSpace {
    /// An empty address space with its own page-table root; ENOMEM when
    /// no frame is left for the root. Call [`AddressSpace::activate`]
    /// before ring 3 or the CR3-based [`crate::arch::paging::translate_user`]
    /// use it.
    pub fn try_new() -> Result<AddressSpace, Errno> {
        let root = PageTableRoot::new().ok_or(Errno::ENOMEM)?;
        // Linux's TASK_SIZE: the last user page stays unmapped, so no range
        // ends at the canonical hole (munmap(0, 1 << 47) is EINVAL).
        Ok(AddressSpace { space: VmSpace::new(root, USER_END - PAGE_SIZE) })
    }

    /// Loads this address space's page tables into CR3.
    pub fn activate(&self) {
        self.space.page_table().activate()
    }

    /// The frame and permissions of the page containing `va`, if accessible;
    /// works whether or not this address space is active (mm/user.rs can
    /// use it instead of the CR3-based `paging::translate_user`).
    #[allow(dead_code)]
    pub fn translate(&self, va: u64) -> Option<(u64, PageFlags)> {
        self.space.page_table().translate(va)
    }
}

impl Deref for AddressSpace {
    type Target = VmSpace<PageTableRoot>;

    fn deref(&self) -> &Self::Target {
        &self.space
    }
}

impl DerefMut for AddressSpace {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.space
    }
}
