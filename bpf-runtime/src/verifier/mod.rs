//! The verifier: proves, before anything runs, that a program terminates and
//! only touches memory it may.
//!
//! Two phases:
//! 1. [`cfg`]: structural checks (opcodes, registers, reserved fields, jump
//!    targets, `lddw` pairs, helper IDs, functions ending in `exit`).
//! 2. [`explore`]: abstract interpretation along every path, in the spirit
//!    of the Linux verifier: registers are uninitialized, scalars with
//!    unsigned and signed ranges ([`scalar`]), or typed pointers with offset
//!    ranges ([`state`]); memory accesses ([`mem`]), ALU ([`alu`]) and
//!    helper calls ([`call`]) are checked and transfer the state. Loops are
//!    unrolled until they exit or repeat a state (rejected as infinite),
//!    within a budget of [`explore::MAX_PROCESSED`] instructions.
//!
//! Not supported (rejected with a clear error): legacy packet access
//! (`ld_abs`/`ld_ind`), kfunc calls. The stack is 512 bytes per frame, as
//! the interpreter allocates it.

mod alu;
mod call;
mod cfg;
mod error;
mod explore;
mod liveness;
mod log;
mod mem;
mod scalar;
mod state;
mod tnum;

pub use error::{ErrorKind, LeakTarget, RegKind, VerifierError};
pub use explore::MAX_PROCESSED;
pub use log::Disasm;

use crate::isa::Insn;
use crate::spec::{MapSpec, ProgType};

/// What verification found out, for statistics and the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    /// Instructions abstractly executed over all paths.
    pub insns_processed: usize,
    /// States remembered for pruning.
    pub states_stored: usize,
    /// Functions: the program and its bpf-to-bpf callees.
    pub functions: usize,
}

/// Verifies `insns` (after relocation: map references are `lddw` with
/// `PSEUDO_MAP_FD`/`PSEUDO_MAP_VALUE` and an index into `maps`).
pub fn verify(insns: &[Insn], prog_type: ProgType, maps: &[MapSpec]) -> Result<Verified, VerifierError> {
    run(insns, prog_type, maps, None)
}

/// Like [`verify`], writing the abstract state after every instruction to
/// `log` (for teaching: `ushell verify --log`).
pub fn verify_with_log(insns: &[Insn], prog_type: ProgType, maps: &[MapSpec], log: &mut dyn core::fmt::Write) -> Result<Verified, VerifierError> {
    run(insns, prog_type, maps, Some(log))
}

fn run(insns: &[Insn], prog_type: ProgType, maps: &[MapSpec], mut log: Option<&mut dyn core::fmt::Write>) -> Result<Verified, VerifierError> {
    let cfg = match cfg::check(insns, maps) {
        Ok(c) => c,
        Err(e) => {
            if let Some(l) = log.as_mut() {
                let _ = writeln!(l, "rejected: {e}");
            }
            return Err(e);
        }
    };
    explore::Explorer::new(insns, cfg, prog_type, maps, log).run()
}

use core::fmt::Write as _;
