//! The interpreter's second line of defence: hostile programs run *without*
//! the verifier must end in an `ExecError`, never a panic or an access
//! outside the region a pointer names.

use bpf_runtime::asm::assemble;
mod common;

use bpf_runtime::helpers::LinuxHelpers;
use bpf_runtime::interp::{ExecError, ExecErrorKind, Fault, HelperError, Input, Prepared, Vm};
use bpf_runtime::isa::{Insn, PSEUDO_MAP_FD, PSEUDO_MAP_VALUE};
use bpf_runtime::maps::MapSet;
use bpf_runtime::spec::{MapSpec, MapType};

fn maps() -> MapSet {
    let m = |name: &str, kind, k, v, n, ro| MapSpec { name: name.into(), kind, key_size: k, value_size: v, max_entries: n, initial: None, read_only: ro };
    MapSet::new(&[m("h", MapType::Hash, 8, 8, 4, false), m(".rodata", MapType::Array, 4, 16, 1, true), m("rb", MapType::Ringbuf, 0, 0, 64, false)]).unwrap()
}

/// Runs with maps 0 = hash, 1 = `.rodata`, 2 = ring buffer; tests turn an
/// `lddw` into a map reference by setting its `src` and `imm`.
fn run_with(insns: &[Insn], ctx: &[u8]) -> Result<u64, ExecError> {
    let prog = Prepared::new(insns, 3).unwrap();
    let mut vm = Vm::new();
    vm.step_limit = 100_000;
    vm.run(&prog, Input::ReadOnly(ctx), &maps(), &mut LinuxHelpers { env: &mut common::TestEnv::default() })
}

fn run(src: &str) -> Result<u64, ExecError> {
    run_with(&assemble(src).unwrap(), &[0u8; 64])
}

fn kind(src: &str) -> ExecErrorKind {
    run(src).expect_err("must fail").kind
}

#[test]
fn out_of_region_accesses_fault() {
    for src in [
        "ldxdw %r0, [%r10+0]\nexit",           // just above the stack
        "ldxdw %r0, [%r10-4097]\nexit",        // below all frames
        "ldxdw %r0, [%r1+60]\nexit",           // 4 bytes past the 64-byte ctx
        "mov %r1, 0x1234\nldxb %r0, [%r1]\nexit", // a scalar used as pointer
        "lddw %r1, 0x1fffffffc\nldxdw %r0, [%r1]\nexit", // offset + size overflows 32 bits
        "lddw %r1, 0xffffffffffffffff\nldxdw %r0, [%r1+8]\nexit",
        "lddw %r1, 0x80000000\nldxdw %r0, [%r1-8]\nexit",
    ] {
        assert!(matches!(kind(src), ExecErrorKind::Fault(Fault::OutOfBounds { .. })), "{src}");
    }
}

#[test]
fn context_and_rodata_are_read_only() {
    assert!(matches!(kind("stb [%r1], 1\nexit"), ExecErrorKind::Fault(Fault::ReadOnly { .. })));
    let mut p = assemble("lddw %r1, 0\nstw [%r1+4], 7\nexit").unwrap();
    p[0].src = PSEUDO_MAP_VALUE;
    p[0].imm = 1;
    assert!(matches!(run_with(&p, &[]).unwrap_err().kind, ExecErrorKind::Fault(Fault::ReadOnly { .. })));
}

#[test]
fn runaway_and_malformed_control_flow_stop() {
    assert_eq!(kind("ja -1"), ExecErrorKind::StepLimit(100_000));
    assert_eq!(kind("f:\ncall local f\nexit"), ExecErrorKind::CallDepth);
    assert_eq!(kind("ja +5\nexit"), ExecErrorKind::PcOutOfRange);
    assert_eq!(kind("mov %r0, 0"), ExecErrorKind::PcOutOfRange); // falls off the end
    assert_eq!(kind("ja +1\nlddw %r0, 5\nexit"), ExecErrorKind::InvalidOpcode(0)); // into lddw's second half
    assert!(matches!(run_with(&[Insn::new(0xff, 0, 0, 0, 0)], &[]).unwrap_err().kind, ExecErrorKind::InvalidOpcode(0xff)));
}

#[test]
fn helpers_check_their_arguments() {
    // A scalar instead of a map pointer.
    let e = kind("mov %r1, 1\nmov %r2, %r10\ncall 1\nexit");
    assert_eq!(e, ExecErrorKind::Helper { id: 1, err: HelperError::BadArg("argument is not a map pointer") });
    // A key pointer 4 bytes short of the 8-byte key.
    let mut p = assemble("lddw %r1, 0\nmov %r2, %r10\nadd %r2, -4\ncall 1\nexit").unwrap();
    p[0].src = PSEUDO_MAP_FD;
    let e = run_with(&p, &[]).unwrap_err();
    assert!(matches!(e.kind, ExecErrorKind::Helper { id: 1, err: HelperError::Fault(Fault::OutOfBounds { .. }) }), "{e}");
    assert_eq!(e.pc, 4, "the call's slot (lddw takes two)");
    // Submitting a ring-buffer record twice.
    let mut p = assemble("lddw %r1, 0\nmov %r2, 8\nmov %r3, 0\ncall 131\nmov %r6, %r0\nmov %r1, %r6\nmov %r2, 0\ncall 132\nmov %r1, %r6\nmov %r2, 0\ncall 132\nexit").unwrap();
    p[0].src = PSEUDO_MAP_FD;
    p[0].imm = 2;
    assert!(matches!(run_with(&p, &[]).unwrap_err().kind, ExecErrorKind::Helper { id: 132, .. }));
    // An unknown helper ID that slipped past the loader.
    assert_eq!(kind("call 4242\nexit"), ExecErrorKind::Helper { id: 4242, err: HelperError::Unknown });
}

#[test]
fn stale_ringbuf_record_pointer_faults_after_submit() {
    let mut p = assemble("lddw %r1, 0\nmov %r2, 8\nmov %r3, 0\ncall 131\nmov %r6, %r0\nmov %r1, %r6\nmov %r2, 0\ncall 132\nldxdw %r0, [%r6]\nexit").unwrap();
    p[0].src = PSEUDO_MAP_FD;
    p[0].imm = 2;
    assert!(matches!(run_with(&p, &[]).unwrap_err().kind, ExecErrorKind::Fault(Fault::OutOfBounds { .. })));
}

#[test]
fn bad_map_indices_are_refused_before_running() {
    let mut p = assemble("lddw %r1, 0\nexit").unwrap();
    p[0].src = PSEUDO_MAP_FD;
    p[0].imm = 3;
    assert!(Prepared::new(&p, 3).is_err());
    p[0].imm = -1;
    assert!(Prepared::new(&p, 3).is_err());
    assert!(Prepared::new(&assemble("lddw %r1, 0\nexit").unwrap()[..1], 0).is_err());
}
