//! A writable in-memory filesystem with Linux path-resolution semantics
//! (`.`/`..`, symlinks with a 40-hop limit, trailing slashes), seeded by the
//! kernel from the initrd. File contents from the initrd are borrowed
//! (`&'static [u8]`) until first written, so a 2 MiB busybox costs no copy.
//! Errors are Linux errnos, ready for syscall handlers.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod data;
mod node;
mod path;
mod tree;

pub use data::{Budget, Data, MAX_FILE_SIZE};
pub use node::{Metadata, NodeKind};
pub use tree::{DirEntry, Ino, RamFs, ROOT};
