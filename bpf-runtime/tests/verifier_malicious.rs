//! Hand-written malicious or broken programs: each must be rejected with
//! the right kind of error at the offending instruction. Instruction
//! numbers count `lddw` as two slots.

mod verifier_util;

use bpf_runtime::isa::*;
use bpf_runtime::spec::ProgType;
use bpf_runtime::verifier::{ErrorKind as K, LeakTarget, RegKind};
use verifier_util::{prog, rejects, rejects_insns};

/// key fp-8 = 0, r0 = lookup(counts, &key): slots 0-5, r0 set by insn 5.
const LOOKUP: &str = "
    stdw [%r10-8], 0
    mov %r2, %r10
    add %r2, -8
    lddw %r1, map0
    call 1
";

#[test]
fn infinite_loop() {
    rejects("mov %r0, 0\n ja -1\n exit", 1, |k| *k == K::InfiniteLoop { pc: 1, header: 1 });
}

#[test]
fn loop_on_unknown_counter_never_settles() {
    // while (x != 0) x -= 1 would end, but x += 2 from 0 never meets 1.
    rejects("mov %r1, 0\n lp:\n add %r1, 2\n jne %r1, 1, lp\n mov %r0, 0\n exit", 2, |k| {
        matches!(k, K::TooComplex { last_back_edge: Some(2), .. })
    });
}

#[test]
fn loop_with_unbounded_exit_condition() {
    // r1 comes from the context: the loop repeats the same abstract state.
    rejects("ldxdw %r1, [%r1]\n lp:\n jeq %r1, 0, out\n rsh %r1, 0\n ja lp\n out:\n mov %r0, 0\n exit", 3, |k| {
        *k == K::InfiniteLoop { pc: 3, header: 1 }
    });
}

#[test]
fn null_map_value_dereference() {
    rejects(&format!("{LOOKUP} ldxdw %r0, [%r0]\n exit"), 6, |k| *k == K::MaybeNull { reg: 0, helper: "bpf_map_lookup_elem" });
}

#[test]
fn null_map_value_arithmetic() {
    rejects(&format!("{LOOKUP} add %r0, 8\n mov %r0, 0\n exit"), 6, |k| matches!(k, K::MaybeNull { reg: 0, .. }));
}

#[test]
fn map_value_read_past_the_end() {
    rejects(&format!("{LOOKUP} jeq %r0, 0, +1\n ldxdw %r0, [%r0+4]\n mov %r0, 0\n exit"), 7, |k| {
        matches!(k, K::MapValueOutOfBounds { min: 4, end: 12, value_size: 8, .. })
    });
}

#[test]
fn map_value_variable_index_out_of_bounds() {
    // idx & 3 scaled by 8 reaches offset 24 of an 8-byte value.
    let src = format!("mov %r6, %r1\n {LOOKUP} jeq %r0, 0, out\n ldxdw %r1, [%r6]\n and %r1, 3\n lsh %r1, 3\n add %r0, %r1\n ldxdw %r0, [%r0]\n out:\n mov %r0, 0\n exit");
    rejects(&src, 12, |k| matches!(k, K::MapValueOutOfBounds { min: 0, end: 32, .. }));
}

#[test]
fn map_value_unbounded_offset() {
    let src = format!("mov %r6, %r1\n {LOOKUP} jeq %r0, 0, out\n ldxdw %r1, [%r6]\n add %r0, %r1\n out:\n mov %r0, 0\n exit");
    rejects(&src, 9, |k| *k == K::UnboundedPointerArithmetic { reg: 0 });
}

#[test]
fn uninitialized_register() {
    rejects("mov %r0, %r2\n exit", 0, |k| *k == K::UninitRegister { reg: 2 });
}

#[test]
fn r0_not_set_before_exit() {
    rejects("mov %r1, 0\n exit", 1, |k| *k == K::UninitRegister { reg: 0 });
}

#[test]
fn result_of_a_callee_that_sets_no_r0() {
    rejects("call local f\n exit\n f:\n mov %r1, 0\n exit", 1, |k| *k == K::UninitRegister { reg: 0 });
}

#[test]
fn registers_are_clobbered_by_calls() {
    rejects("mov %r3, 1\n call 5\n mov %r0, %r3\n exit", 2, |k| *k == K::UninitRegister { reg: 3 });
}

#[test]
fn stack_out_of_bounds() {
    rejects("stdw [%r10-520], 1\n mov %r0, 0\n exit", 0, |k| *k == K::StackOutOfBounds { off: -520, size: 8 });
    rejects("stw [%r10+0], 1\n mov %r0, 0\n exit", 0, |k| *k == K::StackOutOfBounds { off: 0, size: 4 });
}

#[test]
fn stack_misaligned() {
    rejects("stdw [%r10-12], 1\n mov %r0, 0\n exit", 0, |k| *k == K::StackMisaligned { off: -12, size: 8 });
}

#[test]
fn uninitialized_stack_read() {
    rejects("stw [%r10-8], 1\n ldxdw %r0, [%r10-8]\n exit", 1, |k| *k == K::UninitStackRead { off: -8, size: 8 });
}

#[test]
fn uninitialized_key_for_helper() {
    rejects("mov %r2, %r10\n add %r2, -8\n lddw %r1, map0\n call 1\n mov %r0, 0\n exit", 4, |k| {
        *k == K::UninitStackRead { off: -8, size: 8 }
    });
}

#[test]
fn pointer_leak_into_map_value() {
    rejects(&format!("{LOOKUP} jeq %r0, 0, +1\n stxdw [%r0], %r10\n mov %r0, 0\n exit"), 7, |k| {
        *k == K::PointerLeak { reg: 10, to: LeakTarget::MapValue }
    });
}

#[test]
fn pointer_leak_through_spilled_stack_to_map_update() {
    // value = fp-16, which holds the spilled ctx pointer
    let src = "stxdw [%r10-16], %r1\n stdw [%r10-8], 0\n mov %r2, %r10\n add %r2, -8\n mov %r3, %r10\n add %r3, -16\n \
               mov %r4, 0\n lddw %r1, map0\n call 2\n mov %r0, 0\n exit";
    rejects(src, 9, |k| *k == K::PointerLeak { reg: 3, to: LeakTarget::HelperArg });
}

#[test]
fn pointer_leak_via_r0() {
    rejects("mov %r0, %r10\n exit", 1, |k| *k == K::PointerLeak { reg: 0, to: LeakTarget::ReturnValue });
}

#[test]
fn pointer_leak_as_helper_number() {
    let src = "lddw %r1, map2\n mov %r2, 8\n mov %r3, %r10\n call 131\n mov %r0, 0\n exit";
    rejects(src, 4, |k| *k == K::PointerLeak { reg: 3, to: LeakTarget::HelperArg });
}

#[test]
fn jump_out_of_range() {
    rejects("ja +5\n exit", 0, |k| *k == K::JumpOutOfRange { target: 6, len: 2 });
    rejects("jeq %r1, 0, -3\n mov %r0, 0\n exit", 0, |k| *k == K::JumpOutOfRange { target: -2, len: 3 });
}

#[test]
fn jump_into_the_middle_of_lddw() {
    rejects("ja +1\n lddw %r0, 0x100000000\n exit", 0, |k| *k == K::JumpIntoLddw { target: 2 });
}

#[test]
fn unknown_helper() {
    rejects("call 9999\n exit", 0, |k| *k == K::UnknownHelper { id: 9999 });
    rejects("mov %r0, 0\n call 4\n exit", 1, |k| *k == K::UnknownHelper { id: 4 });
}

#[test]
fn write_to_r10() {
    rejects("mov %r10, 0\n mov %r0, 0\n exit", 0, |k| *k == K::WriteToR10);
    rejects("mov %r0, 0\n add %r10, 8\n exit", 1, |k| *k == K::WriteToR10);
    rejects("mov %r0, 0\n ldxdw %r10, [%r1]\n exit", 1, |k| *k == K::WriteToR10);
}

#[test]
fn oversized_map_access_through_helper() {
    // The value for map0 is 8 bytes; at fp-4 only 4 fit below the frame.
    let src = "stdw [%r10-16], 0\n stw [%r10-4], 0\n mov %r2, %r10\n add %r2, -16\n mov %r3, %r10\n add %r3, -4\n \
               mov %r4, 0\n lddw %r1, map0\n call 2\n mov %r0, 0\n exit";
    rejects(src, 9, |k| *k == K::StackOutOfBounds { off: -4, size: 8 });
}

#[test]
fn ctx_write() {
    rejects("stdw [%r1], 1\n mov %r0, 0\n exit", 0, |k| *k == K::CtxWrite);
    rejects("mov %r2, 1\n stxw [%r1+8], %r2\n mov %r0, 0\n exit", 1, |k| *k == K::CtxWrite);
}

#[test]
fn ctx_out_of_bounds() {
    // fentry: six u64 arguments, 48 bytes.
    rejects("ldxdw %r0, [%r1+48]\n exit", 0, |k| matches!(k, K::CtxOutOfBounds { off: 48, size: 8, ctx_size: 48, .. }));
    rejects("ldxb %r0, [%r1-1]\n exit", 0, |k| matches!(k, K::CtxOutOfBounds { off: -1, .. }));
}

#[test]
fn helper_argument_of_the_wrong_type() {
    rejects("mov %r1, 0\n mov %r2, %r10\n call 1\n exit", 2, |k| {
        matches!(k, K::HelperArgType { arg: 1, found: RegKind::Scalar, .. })
    });
    // A key pointer where the map should be.
    rejects("stdw [%r10-8], 0\n mov %r1, %r10\n add %r1, -8\n mov %r2, %r1\n call 1\n mov %r0, 0\n exit", 4, |k| {
        matches!(k, K::HelperArgType { arg: 1, found: RegKind::Stack, .. })
    });
}

#[test]
fn ringbuf_helper_on_a_hash_map() {
    rejects("lddw %r1, map0\n mov %r2, 8\n mov %r3, 0\n call 131\n mov %r0, 0\n exit", 4, |k| matches!(k, K::WrongMapType { .. }));
}

#[test]
fn missing_exit() {
    rejects("mov %r0, 0", 0, |k| *k == K::FallOffEnd);
    rejects("mov %r0, 0\n jeq %r1, 0, -2", 1, |k| *k == K::FallOffEnd);
}

#[test]
fn reserved_fields_set() {
    let mut p = prog("mov %r0, 0\n exit");
    p[1].imm = 1;
    rejects_insns(&p, ProgType::Fentry, 1, |k| *k == K::ReservedField { field: "imm" });
    let mut p = prog("mov %r0, 0\n exit");
    p[0].src = 3;
    rejects_insns(&p, ProgType::Fentry, 0, |k| *k == K::ReservedField { field: "src" });
    let mut p = prog("ldxdw %r0, [%r1]\n exit");
    p[0].imm = 7;
    rejects_insns(&p, ProgType::Fentry, 0, |k| *k == K::ReservedField { field: "imm" });
}

#[test]
fn invalid_opcode_and_register() {
    let p = [Insn::new(0xff, 0, 0, 0, 0), Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0)];
    rejects_insns(&p, ProgType::Fentry, 0, |k| *k == K::InvalidOpcode { opc: 0xff });
    let p = [Insn::new(CLS_ALU64 | ALU_MOV, 11, 0, 0, 0), Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0)];
    rejects_insns(&p, ProgType::Fentry, 0, |k| *k == K::InvalidRegister { reg: 11 });
}

#[test]
fn incomplete_lddw() {
    let p = [Insn::new(CLS_ALU64 | ALU_MOV, 0, 0, 0, 0), Insn::new(LDDW, 0, 0, 0, 0)];
    rejects_insns(&p, ProgType::Fentry, 1, |k| *k == K::IncompleteLddw);
}

#[test]
fn map_index_out_of_range() {
    rejects("lddw %r1, map7\n mov %r0, 0\n exit", 0, |k| *k == K::InvalidMapIndex { index: 7, count: 5 });
}

#[test]
fn read_only_global_data_write() {
    rejects("lddw %r1, val1\n stdw [%r1+8], 1\n mov %r0, 0\n exit", 2, |k| *k == K::ReadOnlyMap { map: ".rodata".into() });
}

#[test]
fn read_only_map_update_through_helper() {
    let src = "stw [%r10-4], 0\n stdw [%r10-24], 0\n stdw [%r10-16], 0\n mov %r2, %r10\n add %r2, -4\n mov %r3, %r10\n add %r3, -24\n \
               mov %r4, 0\n lddw %r1, map1\n call 2\n mov %r0, 0\n exit";
    rejects(src, 10, |k| *k == K::ReadOnlyMap { map: ".rodata".into() });
}

#[test]
fn pointer_comparison() {
    rejects("jgt %r1, %r10, +0\n mov %r0, 0\n exit", 0, |k| *k == K::PointerComparison { reg: 1 });
}

#[test]
fn pointer_arithmetic_beyond_add_and_sub() {
    rejects("mov %r2, %r10\n mul %r2, 2\n mov %r0, 0\n exit", 1, |k| matches!(k, K::PointerArithmetic { reg: 2, .. }));
    rejects("mov32 %r2, %r10\n mov %r0, 0\n exit", 0, |k| matches!(k, K::PointerArithmetic { reg: 10, .. }));
    rejects("mov %r2, %r10\n sub %r2, %r1\n mov %r0, 0\n exit", 1, |k| matches!(k, K::PointerArithmetic { reg: 2, .. }));
}

#[test]
fn partial_read_of_a_spilled_pointer() {
    rejects("stxdw [%r10-8], %r1\n ldxw %r0, [%r10-8]\n exit", 1, |k| *k == K::PartialPointer { off: -8, size: 4 });
}

#[test]
fn partial_overwrite_of_a_spilled_pointer() {
    rejects("stxdw [%r10-8], %r1\n stw [%r10-8], 0\n mov %r0, 0\n exit", 1, |k| *k == K::PartialPointer { off: -8, size: 4 });
}

#[test]
fn dereferencing_a_scalar() {
    rejects("mov %r1, 4096\n ldxdw %r0, [%r1]\n exit", 1, |k| *k == K::InvalidMemAccess { reg: 1, found: RegKind::Scalar });
}

#[test]
fn ringbuf_record_never_submitted() {
    let src = "lddw %r1, map2\n mov %r2, 8\n mov %r3, 0\n call 131\n jeq %r0, 0, +1\n stdw [%r0], 1\n mov %r0, 0\n exit";
    rejects(src, 8, |k| *k == K::UnreleasedReference { acquired_at: 4 });
}

#[test]
fn ringbuf_record_used_after_submit() {
    let src = "lddw %r1, map2\n mov %r2, 8\n mov %r3, 0\n call 131\n jeq %r0, 0, out\n mov %r6, %r0\n \
               mov %r1, %r0\n mov %r2, 0\n call 132\n stdw [%r6], 1\n out:\n mov %r0, 0\n exit";
    rejects(src, 10, |k| *k == K::InvalidMemAccess { reg: 6, found: RegKind::Scalar });
}

#[test]
fn ringbuf_record_out_of_bounds() {
    let src = "lddw %r1, map2\n mov %r2, 8\n mov %r3, 0\n call 131\n jeq %r0, 0, out\n stdw [%r0+8], 1\n \
               mov %r1, %r0\n mov %r2, 0\n call 132\n out:\n mov %r0, 0\n exit";
    rejects(src, 6, |k| *k == K::MemOutOfBounds { min: 8, end: 16, mem_size: 8 });
}

#[test]
fn callee_stack_pointer_escapes() {
    // f stores a pointer to its own stack into the caller's frame.
    let src = "mov %r1, %r10\n add %r1, -8\n call local f\n mov %r0, 0\n exit\n f:\n mov %r2, %r10\n add %r2, -8\n stxdw [%r1], %r2\n mov %r0, 0\n exit";
    rejects(src, 7, |k| *k == K::StackPointerEscape);
    let src = "call local f\n mov %r0, 0\n exit\n f:\n mov %r0, %r10\n exit";
    rejects(src, 4, |k| *k == K::StackPointerEscape);
}

#[test]
fn unbounded_recursion() {
    rejects("call local f\n exit\n f:\n call local f\n exit", 2, |k| *k == K::CallTooDeep);
}

#[test]
fn jump_between_functions() {
    rejects("call local f\n ja f\n f:\n mov %r0, 0\n exit", 1, |k| *k == K::JumpAcrossFunction { target: 2 });
}

#[test]
fn unsupported_instructions() {
    let p = [Insn::new(CLS_LD | MODE_ABS | SIZE_W, 0, 0, 0, 0), Insn::new(CLS_JMP | JMP_EXIT, 0, 0, 0, 0)];
    rejects_insns(&p, ProgType::Fentry, 0, |k| matches!(k, K::Unsupported { .. }));
    rejects("mov %r2, 0\n call %r2\n exit", 1, |k| matches!(k, K::InvalidOpcode { .. }));
}

#[test]
fn tracepoint_ctx_is_smaller() {
    // sys_exit: header, id, ret: 24 bytes.
    let p = prog("ldxdw %r0, [%r1+24]\n exit");
    rejects_insns(&p, ProgType::TracepointSysExit, 0, |k| matches!(k, K::CtxOutOfBounds { off: 24, ctx_size: 24, .. }));
}
