//! The eBPF instruction set (RFC 9669) as plain data: opcode fields, the
//! decoded instruction, and the pseudo source-register values that the loader
//! writes into `lddw` and `call`. Shared by the assembler, loader, verifier and
//! interpreter so there is exactly one definition of the VM's vocabulary.

/// Number of general registers r0..r10.
pub const NUM_REGS: usize = 11;
/// r10, the read-only frame pointer.
pub const FP: u8 = 10;
/// Bytes of stack per frame.
pub const STACK_SIZE: usize = 512;
/// Upper bound on program length, in instruction slots.
pub const MAX_INSNS: usize = 65536;
/// Maximum bpf-to-bpf call depth.
pub const MAX_CALL_DEPTH: usize = 8;

// Instruction classes (low 3 bits of the opcode).
pub const CLS_LD: u8 = 0x00;
pub const CLS_LDX: u8 = 0x01;
pub const CLS_ST: u8 = 0x02;
pub const CLS_STX: u8 = 0x03;
pub const CLS_ALU: u8 = 0x04;
pub const CLS_JMP: u8 = 0x05;
pub const CLS_JMP32: u8 = 0x06;
pub const CLS_ALU64: u8 = 0x07;

// Source operand bit for ALU/JMP.
pub const SRC_K: u8 = 0x00;
pub const SRC_X: u8 = 0x08;

// ALU operations (high 4 bits).
pub const ALU_ADD: u8 = 0x00;
pub const ALU_SUB: u8 = 0x10;
pub const ALU_MUL: u8 = 0x20;
pub const ALU_DIV: u8 = 0x30;
pub const ALU_OR: u8 = 0x40;
pub const ALU_AND: u8 = 0x50;
pub const ALU_LSH: u8 = 0x60;
pub const ALU_RSH: u8 = 0x70;
pub const ALU_NEG: u8 = 0x80;
pub const ALU_MOD: u8 = 0x90;
pub const ALU_XOR: u8 = 0xa0;
pub const ALU_MOV: u8 = 0xb0;
pub const ALU_ARSH: u8 = 0xc0;
pub const ALU_END: u8 = 0xd0;

// Jump operations (high 4 bits).
pub const JMP_JA: u8 = 0x00;
pub const JMP_JEQ: u8 = 0x10;
pub const JMP_JGT: u8 = 0x20;
pub const JMP_JGE: u8 = 0x30;
pub const JMP_JSET: u8 = 0x40;
pub const JMP_JNE: u8 = 0x50;
pub const JMP_JSGT: u8 = 0x60;
pub const JMP_JSGE: u8 = 0x70;
pub const JMP_CALL: u8 = 0x80;
pub const JMP_EXIT: u8 = 0x90;
pub const JMP_JLT: u8 = 0xa0;
pub const JMP_JLE: u8 = 0xb0;
pub const JMP_JSLT: u8 = 0xc0;
pub const JMP_JSLE: u8 = 0xd0;

// Load/store size (bits 3-4) and mode (bits 5-7).
pub const SIZE_W: u8 = 0x00;
pub const SIZE_H: u8 = 0x08;
pub const SIZE_B: u8 = 0x10;
pub const SIZE_DW: u8 = 0x18;
pub const MODE_IMM: u8 = 0x00;
pub const MODE_ABS: u8 = 0x20;
pub const MODE_IND: u8 = 0x40;
pub const MODE_MEM: u8 = 0x60;
/// Sign-extending load (`ldxsb`, `ldxsh`, `ldxsw`), RFC 9669 section 5.2.
pub const MODE_MEMSX: u8 = 0x80;
pub const MODE_ATOMIC: u8 = 0xc0;

/// `lddw`: the only 16-byte instruction.
pub const LDDW: u8 = CLS_LD | SIZE_DW | MODE_IMM;

// Atomic operations, carried in `imm` of `STX | MODE_ATOMIC`.
pub const ATOMIC_ADD: i32 = 0x00;
pub const ATOMIC_OR: i32 = 0x40;
pub const ATOMIC_AND: i32 = 0x50;
pub const ATOMIC_XOR: i32 = 0xa0;
pub const ATOMIC_FETCH: i32 = 0x01;
pub const ATOMIC_XCHG: i32 = 0xe0 | ATOMIC_FETCH;
pub const ATOMIC_CMPXCHG: i32 = 0xf0 | ATOMIC_FETCH;

/// `lddw` src_reg: imm is an index into the program's map table.
pub const PSEUDO_MAP_FD: u8 = 1;
/// `lddw` src_reg: imm is a map index, the second slot's imm an offset into
/// its single value (global data: `.data`, `.rodata`, `.bss`).
pub const PSEUDO_MAP_VALUE: u8 = 2;
/// `call` src_reg: imm is a pc-relative offset to a bpf-to-bpf callee.
pub const PSEUDO_CALL: u8 = 1;
/// `lddw` src_reg: imm is a pc-relative offset (from the next slot) to a
/// static function whose address a helper gets, to call it back.
pub const PSEUDO_FUNC: u8 = 4;

/// One 8-byte instruction slot, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insn {
    pub opc: u8,
    pub dst: u8,
    pub src: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    pub const fn new(opc: u8, dst: u8, src: u8, off: i16, imm: i32) -> Self {
        Insn { opc, dst, src, off, imm }
    }

    /// Decodes one little-endian 8-byte slot.
    pub fn decode(b: &[u8; 8]) -> Insn {
        Insn {
            opc: b[0],
            dst: b[1] & 0x0f,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    pub fn encode(&self) -> [u8; 8] {
        let off = self.off.to_le_bytes();
        let imm = self.imm.to_le_bytes();
        [self.opc, (self.dst & 0x0f) | (self.src << 4), off[0], off[1], imm[0], imm[1], imm[2], imm[3]]
    }

    pub const fn class(&self) -> u8 {
        self.opc & 0x07
    }
}

/// Decodes a byte buffer into slots. Returns `None` if its length is not a
/// multiple of 8.
pub fn decode_all(bytes: &[u8]) -> Option<alloc::vec::Vec<Insn>> {
    if bytes.len() % 8 != 0 {
        return None;
    }
    Some(bytes.as_chunks::<8>().0.iter().map(Insn::decode).collect())
}

/// Linux helper function IDs this runtime implements.
pub mod helper {
    pub const MAP_LOOKUP_ELEM: i32 = 1;
    pub const MAP_UPDATE_ELEM: i32 = 2;
    pub const MAP_DELETE_ELEM: i32 = 3;
    pub const KTIME_GET_NS: i32 = 5;
    pub const TRACE_PRINTK: i32 = 6;
    pub const GET_PRANDOM_U32: i32 = 7;
    pub const GET_SMP_PROCESSOR_ID: i32 = 8;
    pub const GET_CURRENT_PID_TGID: i32 = 14;
    pub const GET_CURRENT_COMM: i32 = 16;
    pub const KTIME_GET_BOOT_NS: i32 = 125;
    pub const FOR_EACH_MAP_ELEM: i32 = 164;
    pub const SNPRINTF: i32 = 165;
    pub const PROBE_READ_USER: i32 = 112;
    pub const PROBE_READ_KERNEL: i32 = 113;
    pub const PROBE_READ_USER_STR: i32 = 114;
    pub const PROBE_READ_KERNEL_STR: i32 = 115;
    pub const RINGBUF_OUTPUT: i32 = 130;
    pub const RINGBUF_RESERVE: i32 = 131;
    pub const RINGBUF_SUBMIT: i32 = 132;
    pub const RINGBUF_DISCARD: i32 = 133;
    pub const GET_FUNC_IP: i32 = 173;
    pub const KALLSYMS_LOOKUP_NAME: i32 = 179;
    pub const LOOP: i32 = 181;
    pub const STRNCMP: i32 = 182;
    pub const GET_FUNC_ARG: i32 = 183;
    pub const GET_FUNC_RET: i32 = 184;
    pub const GET_FUNC_ARG_CNT: i32 = 185;
}
