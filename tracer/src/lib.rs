//! Function-entry and syscall tracing (placeholder: nop patching comes in a later issue).
#![cfg_attr(not(test), no_std)]
