//! Well-formed programs the verifier must accept, so that the rejection
//! tests mean something: the usual map, ring buffer, loop, call and stack
//! patterns, hand-written and compiled by clang.

mod verifier_util;

use bpf_runtime::spec::ProgType;
use verifier_util::{accepts, accepts_as, rejects};

#[test]
fn count_style_lookup_then_update() {
    // v = lookup(&counts, &key); if (v) (*v)++ (atomically) else update(&counts, &key, &one, 0)
    accepts(
        "call 173
         stxdw [%r10-8], %r0
         mov %r2, %r10
         add %r2, -8
         lddw %r1, map0
         call 1
         jeq %r0, 0, miss
         mov %r1, 1
         lock add [%r0], %r1
         ja out
         miss:
         stdw [%r10-16], 1
         mov %r2, %r10
         add %r2, -8
         mov %r3, %r10
         add %r3, -16
         mov %r4, 0
         lddw %r1, map0
         call 2
         out:
         mov %r0, 0
         exit",
    );
}

#[test]
fn null_check_through_a_copy() {
    // The copy in r6 is checked; r0, its twin, becomes usable too.
    accepts(
        "stdw [%r10-8], 0
         mov %r2, %r10
         add %r2, -8
         lddw %r1, map0
         call 1
         mov %r6, %r0
         jne %r6, 0, +2
         mov %r0, 0
         exit
         ldxdw %r0, [%r0]
         exit",
    );
}

#[test]
fn division_by_zero_is_defined() {
    accepts("ldxdw %r1, [%r1]\n mov %r0, 100\n div %r0, %r1\n mod %r0, 0\n div32 %r0, 0\n exit");
}

#[test]
fn bounded_loop_is_unrolled() {
    let v = accepts("mov %r0, 0\n mov %r1, 0\n lp:\n add %r0, %r1\n add %r1, 1\n jlt %r1, 10, lp\n exit");
    assert!(v.insns_processed > 30, "the loop body runs ten times: {v:?}");
}

#[test]
fn bounded_index_into_a_map_value() {
    // (idx & 1) * 4 + 4 bytes fits the 8-byte value.
    accepts(
        "ldxdw %r6, [%r1]
         stdw [%r10-8], 0
         mov %r2, %r10
         add %r2, -8
         lddw %r1, map0
         call 1
         jeq %r0, 0, out
         and %r6, 1
         lsh %r6, 2
         add %r0, %r6
         ldxw %r0, [%r0]
         exit
         out:
         mov %r0, 0
         exit",
    );
}

#[test]
fn range_check_bounds_an_index() {
    // if (i < 2) value[i] as u32: offsets 0..8 of an 8-byte value.
    accepts(
        "ldxdw %r6, [%r1]
         stdw [%r10-8], 0
         mov %r2, %r10
         add %r2, -8
         lddw %r1, map0
         call 1
         jeq %r0, 0, out
         jge %r6, 2, out
         lsh %r6, 2
         add %r0, %r6
         ldxw %r0, [%r0]
         exit
         out:
         mov %r0, 0
         exit",
    );
    rejects(
        "ldxdw %r6, [%r1]
         stdw [%r10-8], 0
         mov %r2, %r10
         add %r2, -8
         lddw %r1, map0
         call 1
         jeq %r0, 0, out
         jgt %r6, 2, out
         lsh %r6, 2
         add %r0, %r6
         ldxw %r0, [%r0]
         exit
         out:
         mov %r0, 0
         exit",
        11,
        |k| matches!(k, bpf_runtime::verifier::ErrorKind::MapValueOutOfBounds { end: 12, .. }),
    );
}

#[test]
fn spilled_pointers_survive_the_stack() {
    accepts("stxdw [%r10-8], %r1\n ldxdw %r2, [%r10-8]\n ldxdw %r0, [%r2+8]\n exit");
}

#[test]
fn atomics_on_stack_and_map_values() {
    accepts(
        "stdw [%r10-8], 5
         mov %r1, 2
         lock fetch add [%r10-8], %r1
         mov %r0, 5
         lock cmpxchg [%r10-8], %r1
         lddw %r2, val3
         lock xchg [%r2+8], %r1
         mov %r0, %r1
         exit",
    );
}

#[test]
fn ringbuf_reserve_fill_submit() {
    accepts(
        "lddw %r1, map2
         mov %r2, 16
         mov %r3, 0
         call 131
         jeq %r0, 0, out
         stdw [%r0], 1
         stdw [%r0+8], 2
         mov %r1, %r0
         mov %r2, 0
         call 133
         out:
         mov %r0, 0
         exit",
    );
}

#[test]
fn helpers_with_memory_arguments() {
    // bpf_get_current_comm fills 16 stack bytes that are then printed.
    accepts(
        "mov %r1, %r10
         add %r1, -16
         mov %r2, 16
         call 16
         mov %r1, %r10
         add %r1, -16
         mov %r2, 16
         call 6
         mov %r0, 0
         exit",
    );
}

#[test]
fn bpf_to_bpf_call_writes_the_callers_stack() {
    let v = accepts(
        "mov %r1, %r10
         add %r1, -8
         call local fill
         ldxdw %r0, [%r10-8]
         exit
         fill:
         stdw [%r1], 7
         mov %r0, 0
         exit",
    );
    assert_eq!(v.functions, 2);
}

#[test]
fn global_data_reads_and_writes() {
    accepts("lddw %r1, val1\n ldxdw %r0, [%r1+8]\n lddw %r2, val3\n stxdw [%r2+8], %r0\n exit");
}

#[test]
fn jmp32_and_signed_compares() {
    accepts(
        "ldxw %r2, [%r1]
         mov %r0, 0
         jslt %r2, 0, +2
         jgt32 %r2, 100, +1
         mov %r0, %r2
         exit",
    );
}

#[test]
fn every_context_size() {
    for (pt, size) in [
        (ProgType::Fentry, 48),
        (ProgType::Fexit, 56),
        (ProgType::Kprobe, 168),
        (ProgType::TracepointSysEnter, 64),
        (ProgType::TracepointSysExit, 24),
        (ProgType::RawTracepoint, 48),
        (ProgType::Syscall, 256),
    ] {
        accepts_as(&format!("ldxdw %r0, [%r1+{}]\n exit", size - 8), pt);
    }
}

#[test]
fn many_independent_branches_are_pruned() {
    // 40 diamonds: 2^40 paths without pruning.
    let mut src = String::from("ldxdw %r2, [%r1]\n mov %r0, 0\n");
    for i in 0..40 {
        src += &format!("jeq %r2, {i}, +1\n add %r0, 1\n");
    }
    src += "mov %r0, 0\n exit";
    let v = accepts(&src);
    assert!(v.insns_processed < 10_000, "{v:?}");
}
