//! A verified eBPF runtime for the unikernel, usable on the host as well.
//!
//! Layers, bottom-up: [`isa`] (the instruction set), [`spec`] (maps and
//! program types as the loader describes them), [`loader`] (ELF objects from
//! clang), [`verifier`] (static proof of safety), [`maps`], [`helpers`] and
//! [`interp`] (execution with runtime bounds checks as a second line of
//! defence), [`runtime`] (load = parse + verify + allocate maps; run), and
//! `asm` (the bpf_conformance assembly dialect, for tests; behind the `asm`
//! feature, so the kernel does not build it).
#![cfg_attr(not(any(test, feature = "std")), no_std)]

#![deny(unsafe_code)]

extern crate alloc;

#[cfg(feature = "asm")]
pub mod asm;
pub mod helpers;
pub mod interp;
pub mod isa;
pub mod jit;
pub mod loader;
pub mod maps;
pub mod runtime;
pub mod spec;
pub mod verifier;
