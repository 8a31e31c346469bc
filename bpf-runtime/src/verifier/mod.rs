//! The verifier: proves, before anything runs, that a program terminates and
//! only touches memory it may. (API sketch; the implementation replaces it.)

use crate::isa::Insn;
use crate::spec::{MapSpec, ProgType};

/// Why a program was rejected, and at which instruction slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierError {
    pub insn: usize,
    pub kind: ErrorKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    NotYetImplemented,
}

/// Verifies `insns` (after relocation: map references are `lddw` with
/// `PSEUDO_MAP_FD`/`PSEUDO_MAP_VALUE` and an index into `maps`).
pub fn verify(insns: &[Insn], prog_type: ProgType, maps: &[MapSpec]) -> Result<(), VerifierError> {
    let _ = (insns, prog_type, maps);
    Err(VerifierError { insn: 0, kind: ErrorKind::NotYetImplemented })
}
