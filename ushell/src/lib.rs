//! The debug shell inside the kernel: the command logic behind `ushell load`,
//! `exec`, `progs`, `maps`, `map dump/update/delete`, `sym` and `info`.
//!
//! The kernel's console task feeds the bytes it receives to a [`Server`]
//! and writes back what the server produces; the server decodes
//! [`shellproto`] frames (resynchronizing after bad ones), hands each
//! request to the [`Shell`], and encodes its replies and events. The shell
//! owns what was loaded (the [`registry`]: objects, programs, maps with
//! their ids, maps shared by name) and reaches the kernel only through the
//! [`Kernel`] trait: time, randomness, the current task, symbols and the
//! facts `info` reports. Everything touching `bpf-runtime` is in [`bpf`].
#![cfg_attr(not(test), no_std)]

extern crate alloc;

pub mod bpf;
mod kernel;
pub mod registry;
mod server;
mod shell;
mod symbols;
pub mod systrace;
pub mod trace;

pub use kernel::{Kernel, KernelFacts, Task};
pub use server::Server;
pub use shell::{Shell, MAX_SYMBOLS};
pub use symbols::matches as symbol_matches;
