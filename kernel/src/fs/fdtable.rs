//! The process's descriptor table: the host-tested `fdtable` crate over
//! the kernel's open file descriptions.

use super::file::FileRef;

pub use fdtable::MAX_FDS;

pub type FdTable = fdtable::FdTable<FileRef>;
