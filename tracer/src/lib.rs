//! Function-entry tracing, the library core (issue 10): everything but the
//! kernel's memory and entry paths, so it is tested and benchmarked on the
//! host.
//!
//! - [`nops`] and [`discover`]: which functions have a patch site (a 5-byte
//!   nop at the entry, as gcc `-pg -mfentry -mnop-mcount`,
//!   `-fpatchable-function-entry=5` and LLVM's patchable function entries
//!   emit it), from an ELF image and its load bias;
//! - [`patch`]: the byte patch, one function over the embedder's
//!   [`patch::TextPoke`];
//! - [`tramp`]: the per-site trampoline's machine code (fentry/kprobe
//!   entry, fexit around the body; dispatch by a direct call or a reserved
//!   syscall);
//! - [`frame`]: what the trampoline saves, and the program contexts;
//! - [`attach`]: the ordered program list per site, attach/detach, counters,
//!   retirement of trampolines;
//! - `host` (feature `std`): the same in a host process (own text patched
//!   after `mprotect`, trampolines in an mmap'd arena), for tests and the
//!   benchmark.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod attach;
pub mod discover;
pub mod frame;
#[cfg(feature = "std")]
pub mod host;
pub mod nops;
pub mod patch;
pub mod tramp;
pub mod x86;

pub use attach::{AttachError, AttachId, AttachInfo, Change, Config, ProgKind, Runner, Text, Tracer, TrampolineMemory};
pub use discover::{LookupError, Site, SiteTable, HOW_TO_COMPILE};
pub use frame::{CallInfo, Phase, TraceFrame};
pub use patch::{patch, PatchError, PokeError, TextPoke};
pub use tramp::{Dispatch, Spec, Trampoline};
