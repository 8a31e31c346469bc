//! The benchmark's hand-written programs, shared by `benches/interp.rs`
//! and `examples/jit_one.rs` (which profiles them one at a time).

/// A hash-map counter (lookup, increment, update on a miss), without
/// atomics (rbpf has none); `lddw %r1, 0` is the map (the bench makes
/// it name map 0 for us, a constant for rbpf).
pub const COUNT_ASM: &str = "
call 173
stxdw [%r10-8], %r0
lddw %r1, 0
mov %r2, %r10
add %r2, -8
call 1
jeq %r0, 0, miss
ldxdw %r1, [%r0]
add %r1, 1
stxdw [%r0], %r1
mov %r0, 0
exit
miss:
stdw [%r10-16], 1
lddw %r1, 0
mov %r2, %r10
add %r2, -8
mov %r3, %r10
add %r3, -16
mov %r4, 0
call 2
mov %r0, 0
exit";

/// A loop of 1,003 ALU and jump instructions.
pub const ALU_ASM: &str = "
mov %r0, 0
mov %r1, 0
loop:
add %r0, %r1
xor %r0, 0x5a
mul %r0, 3
add %r1, 1
jlt %r1, 200, loop
exit";
pub const ALU_STEPS: f64 = 2.0 + 200.0 * 5.0 + 1.0;
