//! Pure parts of starting a Linux ELF program: what to map where
//! ([`plan`]), the initial stack image Linux builds ([`stack`]), and symbol
//! lookup for fault reports ([`symbols`]). The kernel does the mapping.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod plan;
pub mod stack;
pub mod symbols;

pub use plan::{ElfError, ElfKind, LoadPlan, Segment};
