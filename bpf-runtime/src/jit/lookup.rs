//! `bpf_map_lookup_elem` in place, for the common case of a counter: a
//! hash map with 8-byte keys ([`crate::maps::hash::Probe`]), the key on the
//! stack, and a bucket whose chain is empty or starts with the key. The
//! emitted code computes the bucket as `HashIndex::get` does and answers
//! from its first slot; whatever it cannot answer there (another kind of
//! map or key, a longer chain, a marker of another bucket met while slots
//! are being reused, an argument that is not what it should be, helpers
//! that are not the Linux ones) goes to the shim, which does the whole
//! lookup and reports the errors. Both give the same r0 by construction:
//! a chain's first slot holding the key is what the walk returns first,
//! and a head that is this bucket's nulls marker is what makes it return
//! NULL. Saves the call into Rust and the decoding in it: a third of a
//! hash counter's run.
//!
//! In: BPF r1 (rdi, the map handle) and r2 (rsi, the key's address), set
//! for the call. Out at `done`: r0 (rax); rdx, rcx, r8, r9 and r11 are
//! clobbered, as a call clobbers them. At `slow`: r1 and r2 unchanged,
//! for the shim.

use core::mem::offset_of;

use super::rt::{CTX, LINUX, NREGIONS, REGIONS, REGION_BASE, REGION_PROBE, REGION_RLEN, REGION_SHIFT};
use super::x86::{cc, mem, mem_idx, Asm, Label, Rm, W, *};
use crate::interp::mem as imem;
use crate::maps::hash::{self, Probe};

/// `Probe` fields (`repr(C)`).
const P_SEED: i32 = offset_of!(Probe, seed) as i32;
const P_SHIFT: i32 = offset_of!(Probe, shift) as i32;
const P_BUCKETS: i32 = offset_of!(Probe, buckets) as i32;
const P_KEYS: i32 = offset_of!(Probe, keys) as i32;
const P_SLOTS: i32 = offset_of!(Probe, slots) as i32;
const P_VALUE_SIZE: i32 = offset_of!(Probe, value_size) as i32;

/// A map handle's tag minus this is the map's region tag (wrapping far
/// out of the table for tags below `TAG_MAP_HANDLE`).
const HANDLE_TO_REGION: i32 = (imem::TAG_MAP_BASE as i64 - imem::TAG_MAP_HANDLE as i64) as i32;

/// Emits the in-place lookup: jumps to `done` with r0 set, or to `slow`.
pub(super) fn hash_lookup(a: &mut Asm, slow: Label, done: Label) {
    let nulls = a.label();
    // The Linux helpers' maps only (`Rt::linux`).
    a.load(W::B, false, R11, mem(CTX, LINUX));
    a.alu_mr(W::D, 0x85, Rm::Reg(R11), R11);
    a.jcc(cc::E, slow);
    // r1 = (TAG_MAP_HANDLE + i) << 32: the region of map i, if it has a probe.
    a.alu_mr(W::D, 0x85, Rm::Reg(RDI), RDI);
    a.jcc(cc::NE, slow);
    a.mov_rr(W::Q, RAX, RDI);
    a.shift_ri(W::Q, 5, RAX, 32);
    a.alu_ri(W::Q, 0, Rm::Reg(RAX), HANDLE_TO_REGION);
    a.alu_rm(W::Q, 0x3b, RAX, mem(CTX, NREGIONS));
    a.jcc(cc::AE, slow);
    a.shift_ri(W::Q, 4, RAX, REGION_SHIFT);
    a.alu_rm(W::Q, 0x03, RAX, mem(CTX, REGIONS));
    a.load(W::Q, false, R9, mem(RAX, REGION_PROBE));
    a.alu_mr(W::Q, 0x85, Rm::Reg(R9), R9);
    a.jcc(cc::E, slow);
    // r2 = TAG_STACK << 32 | off, with the 8 bytes inside the stack: w.
    a.mov_rr(W::Q, RAX, RSI);
    a.shift_ri(W::Q, 5, RAX, 32);
    a.alu_ri(W::Q, 7, Rm::Reg(RAX), imem::TAG_STACK as i32);
    a.jcc(cc::NE, slow);
    a.mov_rr(W::D, RAX, RSI);
    a.lea(RDX, mem(RAX, 8));
    a.load(W::Q, false, R11, mem(CTX, REGIONS));
    let stack = (imem::TAG_STACK as i32) << REGION_SHIFT;
    a.alu_rm(W::Q, 0x3b, RDX, mem(R11, stack + REGION_RLEN));
    a.jcc(cc::A, slow);
    a.alu_rm(W::Q, 0x03, RAX, mem(R11, stack + REGION_BASE));
    a.load(W::Q, false, RDX, mem(RAX, 0));
    // The bucket: mix(seed, w) * K >> shift (`HashIndex::get`).
    a.load(W::Q, false, RAX, mem(R9, P_SEED));
    a.alu_mr(W::Q, 0x31, Rm::Reg(RAX), RDX);
    a.mov_ri(R11, hash::K);
    a.imul_rr(W::Q, RAX, R11);
    a.mov_rr(W::Q, RCX, RAX);
    a.shift_ri(W::Q, 5, RCX, hash::MIX_SHIFT);
    a.alu_mr(W::Q, 0x31, Rm::Reg(RAX), RCX);
    a.imul_rr(W::Q, RAX, R11);
    a.load(W::Q, false, RCX, mem(R9, P_SHIFT));
    a.shift_cl(W::Q, 5, RAX);
    // r8 = the bucket; ecx = its head.
    a.mov_rr(W::Q, R8, RAX);
    if hash::BUCKET_SIZE.is_power_of_two() {
        a.shift_ri(W::Q, 4, RAX, hash::BUCKET_SIZE.trailing_zeros() as u8);
    } else {
        a.imul_rri(W::Q, RAX, RAX, hash::BUCKET_SIZE as i32);
    }
    a.alu_rm(W::Q, 0x03, RAX, mem(R9, P_BUCKETS));
    a.load(W::D, false, RCX, mem(RAX, hash::BUCKET_HEAD as i32));
    // A nulls marker has the top bit (the sign) set.
    a.alu_mr(W::D, 0x85, Rm::Reg(RCX), RCX);
    a.jcc(cc::L, nulls);
    // A slot: the key's, or the shim walks on.
    a.alu_rm(W::Q, 0x3b, RCX, mem(R9, P_SLOTS));
    a.jcc(cc::AE, slow);
    a.load(W::Q, false, R11, mem(R9, P_KEYS));
    a.alu_rm(W::Q, 0x3b, RDX, mem_idx(R11, RCX, 8, 0));
    a.jcc(cc::NE, slow);
    // r0 = the value's address: (region tag << 32) | (slot * value_size) as u32.
    a.op(W::Q, &[0x0f, 0xaf], RCX, mem(R9, P_VALUE_SIZE), false);
    a.mov_rr(W::D, RCX, RCX);
    a.mov_rr(W::Q, RAX, RDI);
    a.shift_ri(W::Q, 5, RAX, 32);
    a.alu_ri(W::Q, 0, Rm::Reg(RAX), HANDLE_TO_REGION);
    a.shift_ri(W::Q, 4, RAX, 32);
    a.alu_mr(W::Q, 0x09, Rm::Reg(RAX), RCX);
    a.jmp(done);
    // This bucket's own marker: the chain is empty, NULL. Another
    // bucket's (the head was reused under us): the shim starts over.
    a.bind(nulls);
    a.alu_ri(W::D, 1, Rm::Reg(R8), hash::NULLS as i32);
    a.alu_mr(W::D, 0x39, Rm::Reg(RCX), R8);
    a.jcc(cc::NE, slow);
    a.mov_ri(RAX, 0);
    a.jmp(done);
}
