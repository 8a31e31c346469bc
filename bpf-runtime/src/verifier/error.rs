//! Why a program was rejected: one variant per kind of unsafety, each with a
//! one-line message that says what to change.

use alloc::string::String;
use core::fmt;

/// Why a program was rejected, and at which instruction slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("insn {insn}: {kind}")]
pub struct VerifierError {
    pub insn: usize,
    pub kind: ErrorKind,
}

/// What a register holds, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegKind {
    Uninit,
    Scalar,
    Ctx,
    Stack,
    MapPtr,
    MapValue,
    MapValueOrNull,
    RingbufMem,
    RingbufMemOrNull,
    Func,
    MapKey,
}

impl fmt::Display for RegKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RegKind::Uninit => "uninitialized",
            RegKind::Scalar => "a scalar",
            RegKind::Ctx => "the context pointer",
            RegKind::Stack => "a stack pointer",
            RegKind::MapPtr => "a map pointer",
            RegKind::MapValue => "a map value pointer",
            RegKind::MapValueOrNull => "a map value pointer that may be NULL",
            RegKind::RingbufMem => "a ring buffer record pointer",
            RegKind::RingbufMemOrNull => "a ring buffer record pointer that may be NULL",
            RegKind::Func => "a function's address",
            RegKind::MapKey => "a map key pointer (read-only)",
        })
    }
}

/// Where a pointer would have escaped to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeakTarget {
    MapValue,
    RingbufMem,
    ReturnValue,
    HelperArg,
}

impl fmt::Display for LeakTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LeakTarget::MapValue => "into a map value",
            LeakTarget::RingbufMem => "into a ring buffer record",
            LeakTarget::ReturnValue => "as the return value (r0)",
            LeakTarget::HelperArg => "to a helper as a plain number",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    // ---- structure ----
    #[error("the program is empty")]
    EmptyProgram,
    #[error("the program has {len} instruction slots, more than the limit of {max}", max = crate::isa::MAX_INSNS)]
    TooLong { len: usize },
    #[error("unknown opcode {opc:#04x}")]
    InvalidOpcode { opc: u8 },
    #[error("register r{reg} does not exist (r0..r10 only)")]
    InvalidRegister { reg: u8 },
    #[error("reserved field `{field}` must be zero")]
    ReservedField { field: &'static str },
    #[error("r10 is the read-only frame pointer; copy it to another register first")]
    WriteToR10,
    #[error("jump to {target} is outside the program (0..{len})")]
    JumpOutOfRange { target: i64, len: usize },
    #[error("jump to {target} lands in the middle of a 16-byte lddw")]
    JumpIntoLddw { target: usize },
    #[error("jump to {target} leaves the function (bpf-to-bpf calls are the only way between functions)")]
    JumpAcrossFunction { target: usize },
    #[error("lddw needs two slots but the program ends after the first")]
    IncompleteLddw,
    #[error("lddw with unknown source {src} (0 = constant, 1 = map, 2 = map value, 4 = function)")]
    InvalidLddwSrc { src: u8 },
    #[error("lddw refers to map #{index}, but the object has {count} maps")]
    InvalidMapIndex { index: i64, count: usize },
    #[error("lddw points {off} bytes into global data `{map}`, which is only {size} bytes")]
    GlobalDataOffset { map: String, off: u32, size: u32 },
    #[error("call to unknown helper {id}; see `helpers::all()` for the helpers this runtime provides")]
    UnknownHelper { id: i32 },
    #[error("{helper} may not be called from {prog} programs")]
    HelperNotAllowed { helper: &'static str, prog: &'static str },
    #[error("atomic operation of {size} bytes at offset {off} must be naturally aligned")]
    MisalignedAtomic { off: i64, size: usize },
    #[error("{what} is not supported")]
    Unsupported { what: &'static str },
    #[error("the function ending here falls off its end: the last instruction must be `exit` or a jump")]
    FallOffEnd,
    // ---- termination and budget ----
    #[error("infinite loop at PC {pc}: jumping back to {header} repeats a state already seen there, so the loop may never end")]
    InfiniteLoop { pc: usize, header: usize },
    #[error(
        "program too complex: {processed} instructions explored without finishing{}",
        .last_back_edge.map(|pc| alloc::format!("; is the loop that jumps back at PC {pc} bounded by a constant?")).unwrap_or_default()
    )]
    TooComplex { processed: usize, last_back_edge: Option<usize> },
    #[error("bpf-to-bpf calls nest deeper than {max} frames (recursion?)", max = crate::isa::MAX_CALL_DEPTH)]
    CallTooDeep,
    // ---- registers ----
    #[error("r{reg} is read before it is written (!read_ok)")]
    UninitRegister { reg: u8 },
    // ---- memory ----
    #[error("r{reg} is {found}; memory can only be accessed through stack, context, map value or ring buffer pointers")]
    InvalidMemAccess { reg: u8, found: RegKind },
    #[error("r{reg} may be NULL: check the result of {helper} against 0 before using it")]
    MaybeNull { reg: u8, helper: &'static str },
    #[error("stack access at fp{off:+} of {size} bytes is outside the {max}-byte stack", max = crate::isa::STACK_SIZE)]
    StackOutOfBounds { off: i64, size: usize },
    #[error("stack access at fp{off:+} of {size} bytes is not aligned to {size}")]
    StackMisaligned { off: i64, size: usize },
    #[error("r{reg} points into the stack at a variable offset; helper arguments and atomics need a constant one")]
    VariableStackOffset { reg: u8 },
    #[error("r{reg}: {size}-byte stack access at a variable offset fp{min:+}..=fp{max:+} may leave the {stack}-byte frame; mask or check the index first", stack = crate::isa::STACK_SIZE)]
    VariableStackOutOfBounds { reg: u8, min: i64, max: i64, size: usize },
    #[error("r{reg}: {size}-byte stack access at a variable offset is not provably aligned to {size}; scale a masked index (e.g. (i & 7) * 8)")]
    VariableStackMisaligned { reg: u8, size: usize },
    #[error("read of {size} bytes at a variable offset fp{min:+}..=fp{max:+} may touch stack bytes that were never written")]
    UninitStackReadVar { min: i64, max: i64, size: usize },
    #[error("stack access at a variable offset fp{min:+}..: pointers may not be stored or read there")]
    VariableStackPointer { min: i64, max: i64 },
    #[error("the call chain through insn {call} uses {size} bytes of stack (each frame rounded up to 32), more than the {max} bytes Linux allows", max = crate::isa::STACK_SIZE)]
    StackTooDeep { call: usize, size: usize },
    #[error("read of {size} bytes at fp{off:+} touches stack bytes that were never written")]
    UninitStackRead { off: i64, size: usize },
    #[error("{size}-byte access at fp{off:+} would use only part of a spilled pointer")]
    PartialPointer { off: i64, size: usize },
    #[error("a pointer into this function's stack would outlive the call (stored in the caller's stack or returned)")]
    StackPointerEscape,
    #[error("context access at offset {off} of {size} bytes: the {prog} context is {ctx_size} bytes")]
    CtxOutOfBounds { off: i64, size: usize, ctx_size: usize, prog: &'static str },
    #[error("context access at offset {off} of {size} bytes is not aligned to {size}")]
    CtxMisaligned { off: i64, size: usize },
    #[error("the context is read-only")]
    CtxWrite,
    #[error("context offset in r{reg} is not a constant")]
    VariableCtxOffset { reg: u8 },
    #[error("access to map `{map}` value at offsets {min}..{end} (size {size}): the value is {value_size} bytes")]
    MapValueOutOfBounds { map: String, min: i64, end: i64, size: usize, value_size: u32 },
    #[error("access to ring buffer record at offsets {min}..{end}: the record is {mem_size} bytes")]
    MemOutOfBounds { min: i64, end: i64, mem_size: u32 },
    #[error("map `{map}` is read-only (const data); the program may not write it")]
    ReadOnlyMap { map: String },
    #[error("access to bytes {min}..{end} of the key of map `{map}` ({key_size} bytes): {why}")]
    MapKeyAccess { map: String, min: i64, end: i64, key_size: u32, why: &'static str },
    #[error("atomic operations work on 4 or 8 bytes of map values, records or the stack only; here on {found}")]
    InvalidAtomic { found: RegKind },
    // ---- pointers ----
    #[error("r{reg} holds a pointer that would leak {to}")]
    PointerLeak { reg: u8, to: LeakTarget },
    #[error("r{reg} is {found}: only adding or subtracting a bounded scalar to a non-NULL pointer is allowed ({op})")]
    PointerArithmetic { reg: u8, found: RegKind, op: &'static str },
    #[error("r{reg}: the offset added to the pointer is not bounded; check it against a limit first")]
    UnboundedPointerArithmetic { reg: u8 },
    #[error("r{reg}: comparing pointers is not allowed, except a possibly-NULL pointer against 0")]
    PointerComparison { reg: u8 },
    // ---- helpers ----
    #[error("{helper} argument {arg} (r{arg}) must be {expected}, but it is {found}")]
    HelperArgType { helper: &'static str, arg: u8, expected: &'static str, found: RegKind },
    #[error("{helper} argument {arg} (r{arg}): {why}")]
    HelperArg { helper: &'static str, arg: u8, why: &'static str },
    #[error("{helper} does not work on map `{map}` of this type")]
    WrongMapType { helper: &'static str, map: String },
    #[error("the ring buffer record reserved at insn {acquired_at} is neither submitted nor discarded on some path to exit")]
    UnreleasedReference { acquired_at: usize },
    // ---- callbacks ----
    #[error("the {helper} callback must return a number in {min}..={max} (0: go on, 1: stop), but it may return {found}")]
    CallbackReturn { helper: &'static str, min: i64, max: i64, found: String },
    #[error("{helper} argument {arg} (r{arg}) must be a constant NUL-terminated string in read-only global data (.rodata): {why}")]
    ConstStr { helper: &'static str, arg: u8, why: &'static str },
}
