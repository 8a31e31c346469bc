//! The interface to the hardware page tables that [`crate::VmSpace`] drives.

use linux_abi::Errno;

/// Access rights of a present user page. x86 pages are always readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageFlags {
    pub write: bool,
    pub exec: bool,
}

/// What sits at a user page that holds a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageState {
    /// Mapped and accessible with these rights.
    Present(PageFlags),
    /// The frame is kept but every access faults (PROT_NONE).
    Inaccessible,
}

/// One address space's page tables. Addresses are page-aligned user
/// addresses; the implementation owns the frames it maps and frees them
/// when they are unmapped or the table is dropped.
pub trait PageTable {
    /// Allocates a zeroed frame and maps it at `va`. `va` holds no frame.
    fn map(&mut self, va: u64, flags: PageFlags) -> Result<(), Errno>;
    /// Unmaps the page at `va` and frees its frame; false if it held none.
    fn unmap(&mut self, va: u64) -> bool;
    /// Changes the rights of the frame at `va` (`None`: inaccessible, frame
    /// kept). No-op if `va` holds no frame.
    fn protect(&mut self, va: u64, flags: Option<PageFlags>);
    /// The state of `va`, `None` if it holds no frame.
    fn query(&self, va: u64) -> Option<PageState>;
    /// Moves the frame at `from` to `to` (which holds none) with `flags`.
    /// No-op if `from` holds no frame. On error nothing has changed.
    fn move_page(&mut self, from: u64, to: u64, flags: Option<PageFlags>) -> Result<(), Errno>;
    /// The lowest page in `[from, to)` that holds a frame. Implementations
    /// skip empty table levels, so this is cheap over large holes.
    fn next_mapped(&self, from: u64, to: u64) -> Option<u64>;
}
