//! The app's memory: its address space (VMAs from the `vmspace` crate over
//! its own page tables, demand paging, brk, mmap placement) and checked
//! copies between user and kernel memory.

pub mod aspace;
pub mod user;

pub use aspace::{AddressSpace, Prot};
