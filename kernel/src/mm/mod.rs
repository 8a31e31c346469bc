//! The app's memory: its address space (VMAs from the `vmspace` crate over
//! its own page tables, demand paging, brk, mmap placement) and checked
//! copies between user and kernel memory.

pub mod aspace;
pub mod user;

pub use aspace::{AddressSpace, Prot};

/// Linux's default `vm.mmap_min_addr` (and Debian's LSM minimum): nothing
/// maps below it, so a kernel NULL dereference can never reach app memory.
/// Linux lets a root process with CAP_SYS_RAWIO under it; we never do.
pub const MMAP_MIN_ADDR: u64 = 0x10000;
