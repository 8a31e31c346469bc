//! Translation of a prepared program into x86-64, instruction by
//! instruction, with the interpreter's semantics exactly (it is the
//! reference; `tests/jit_differential.rs` compares them).
//!
//! Registers: BPF r0-r10 live in rax, rdi, rsi, rdx, rcx, r8, rbx, r13,
//! r14, r15, rbp (r1-r5 are the System V argument registers, so helper
//! calls pass them in place; r6-r10 are callee-saved). r12 holds the run
//! context ([`super::rt::Rt`]), r10 the budget of backward jumps and
//! calls, r9 and r11 are scratch.
//!
//! Addresses are the interpreter's tagged addresses, so a program sees the
//! same values on both engines. A memory access looks the tag up in the
//! run's region table and checks the bounds inline; what the table does not
//! resolve (ring buffer records, faults) goes to Rust through one slow-path
//! thunk. Only accesses at a constant offset from r10 inside the current
//! frame skip the check, when the program never writes r10. bpf-to-bpf
//! calls are x86 calls (r6-r10 pushed by the caller); `exit` is `ret`.

use alloc::vec::Vec;

use super::rt::{self, *};
use super::scan;
use super::x86::{cc, mem, mem_idx, Asm, Label, Rm, W, *};
use super::{JitError, JitOptions};
use crate::interp::mem as imem;
use crate::interp::Op;
use crate::isa::{self, MAX_CALL_DEPTH, STACK_SIZE};

const REG: [u8; 11] = [RAX, RDI, RSI, RDX, RCX, R8, RBX, R13, R14, R15, RBP];
const BUDGET_REG: u8 = R10;
const STACK_TOP: u64 = imem::addr(imem::TAG_STACK, (STACK_SIZE * MAX_CALL_DEPTH) as u32);

enum Stub {
    Error { label: Label, kind: u64, pc: u64, arg: u64 },
    /// The slow path of a memory access: resolve `[base + off]` in Rust.
    Slow { label: Label, back: Label, base: u8, off: i32, n: u8, info: u32 },
}

struct Emitter<'p> {
    a: Asm,
    ops: &'p [Op],
    pcs: Vec<Label>,
    stubs: Vec<Stub>,
    error_exit: Label,
    resolve: Label,
    /// State of the constant-blinding key generator; `None`: no blinding.
    blind: Option<u64>,
    fast_stack: bool,
    /// Entry pcs a callback helper may call (`Prepared::callbacks`).
    callbacks: &'p [u32],
    /// BPF registers the program may touch (bit `r`): r6-r10 outside it
    /// are neither saved, set up nor restored.
    used: u16,
    /// Calls of its own functions: the body is an x86 function, errors
    /// unwind to `Rt::saved_rsp`. Otherwise the body follows the prologue
    /// and every `exit` is the epilogue.
    calls: bool,
    /// The budget lives in r10 (programs with loops or calls of their own);
    /// otherwise in `Rt::budget`, spent only by helper calls.
    budget_reg: bool,
    /// The callee-saved registers pushed, in order, and whether rsp was
    /// moved by 8 more to keep it 16-byte aligned.
    saved: Vec<u8>,
    pad: bool,
    /// No run can fail (`scan::Shape::infallible`): the code never needs
    /// the context, so r12 is neither saved nor set.
    infallible: bool,
}

fn writes_r10(op: &Op) -> bool {
    let (d, s) = (op.regs & 15, op.regs >> 4);
    match op.code & 7 {
        isa::CLS_ALU | isa::CLS_ALU64 | isa::CLS_LDX | isa::CLS_LD => d == 10,
        isa::CLS_STX => op.code & 0xe0 == isa::MODE_ATOMIC && s == 10,
        _ => false,
    }
}

/// Compiles `ops` to position-independent machine code whose entry point
/// is its first byte.
/// Also returns what a run must provide (`scan::need` bits).
pub(crate) fn compile(ops: &[Op], callbacks: &[u32], opts: &JitOptions) -> Result<(Vec<u8>, u8), JitError> {
    if ops.is_empty() {
        return Err(JitError::Empty);
    }
    // Registers 11-15 exist only in the interpreter's register file; the
    // verifier refuses them, and so does the JIT.
    if let Some((pc, op)) = ops.iter().enumerate().find(|(_, o)| o.regs & 15 > 10 || o.regs >> 4 > 10) {
        return Err(JitError::BadRegister { pc, reg: (op.regs & 15).max(op.regs >> 4) });
    }
    let mut a = Asm::default();
    let pcs = (0..=ops.len()).map(|_| a.label()).collect();
    let (error_exit, resolve) = (a.label(), a.label());
    let sh = scan::shape(ops, callbacks);
    let mut e = Emitter {
        a,
        ops,
        pcs,
        stubs: Vec::new(),
        error_exit,
        resolve,
        blind: opts.blinding.then_some(opts.seed | 1),
        fast_stack: !ops.iter().any(writes_r10),
        callbacks,
        used: sh.used,
        calls: sh.calls,
        budget_reg: sh.calls || sh.loops,
        saved: Vec::new(),
        pad: false,
        infallible: sh.infallible,
    };
    e.prologue();
    let mut pc = 0;
    while pc < ops.len() {
        e.a.bind(e.pcs[pc]);
        pc += e.insn(pc);
    }
    // Falling off the end.
    let end = e.pcs[ops.len()];
    e.a.bind(end);
    e.error_here(rt::ERR_PC_OUT_OF_RANGE, ops.len() as u64, 0);
    e.stubs_and_thunk();
    let code = e.a.finish().ok_or(JitError::Internal("unbound label"))?;
    Ok((code, sh.needs))
}

impl Emitter<'_> {
    fn prologue(&mut self) {
        let used = self.used;
        // The callee-saved registers the code uses: r12 (the context) and
        // those of r6-r10 the program names.
        self.saved = [(6, RBX), (10, RBP), (11, R12), (7, R13), (8, R14), (9, R15)]
            .into_iter()
            .filter(|&(r, _)| (r == 11 && !self.infallible) || used & (1 << r) != 0)
            .map(|(_, x)| x)
            .collect();
        // rsp stays 16-byte aligned at the calls into Rust: entry left it
        // at 8 mod 16; the body runs either after one more `call` or here.
        // Code that cannot fail calls nothing.
        self.pad = self.saved.len() % 2 == usize::from(self.calls) && !self.infallible;
        // Registers the program reads before writing them get their
        // initial values (r10 is never written but by calls).
        let used = if self.calls { used } else { used & (scan::live_from(self.ops, 0, 0x3ff, false) | 1 << 10) };
        let a = &mut self.a;
        for &r in &self.saved {
            a.push(r);
        }
        if self.pad {
            a.alu_ri(W::Q, 5, Rm::Reg(RSP), 8);
        }
        if !self.infallible {
            a.mov_rr(W::Q, CTX, RDI);
        }
        if self.calls {
            a.store(W::Q, mem(CTX, SAVED_RSP), RSP);
        }
        // Initial registers, as the interpreter sets them, where read.
        if used & (1 << 1) != 0 {
            a.mov_ri(REG[1], imem::addr(imem::TAG_INPUT, 0));
        }
        if used & (1 << 2) != 0 {
            a.load(W::Q, false, REG[2], mem(CTX, R2));
        }
        if used & (1 << 10) != 0 {
            a.mov_ri(REG[10], STACK_TOP);
        }
        if self.budget_reg {
            a.load(W::Q, false, BUDGET_REG, mem(CTX, BUDGET));
        }
        for r in [0, 3, 4, 5, 6, 7, 8, 9] {
            if used & (1 << r) != 0 {
                a.mov_ri(REG[r], 0);
            }
        }
        if !self.calls {
            // The body follows; `exit` and errors are the epilogue
            // (emitted with the stubs).
            return;
        }
        let body = self.pcs[0];
        let epilogue = a.label();
        a.call(body);
        a.bind(epilogue);
        self.epilogue();
        // Errors unwind from any call depth: rsp as it was after the pushes.
        let a = &mut self.a;
        a.bind(self.error_exit);
        a.load(W::Q, false, RSP, mem(CTX, SAVED_RSP));
        a.jmp(epilogue);
    }

    /// Restores what the prologue saved and returns to Rust.
    fn epilogue(&mut self) {
        let a = &mut self.a;
        if self.pad {
            a.alu_ri(W::Q, 0, Rm::Reg(RSP), 8);
        }
        for &r in self.saved.iter().rev() {
            a.pop(r);
        }
        a.ret();
    }

    /// Stops with error `kind` here.
    fn error_here(&mut self, kind: u64, pc: u64, arg: u64) {
        let a = &mut self.a;
        a.mov_mi(W::Q, mem(CTX, ERR), kind as i32);
        a.mov_ri(R11, pc);
        a.store(W::Q, mem(CTX, ERR_PC), R11);
        a.mov_ri(R11, arg);
        a.store(W::Q, mem(CTX, ERR_ARG), R11);
        a.jmp(self.error_exit);
    }

    /// A label whose code stops with error `kind`.
    fn error_stub(&mut self, kind: u64, pc: u64, arg: u64) -> Label {
        let label = self.a.label();
        self.stubs.push(Stub::Error { label, kind, pc, arg });
        label
    }

    /// The label of pc `target` (wrapping, as the interpreter computes it).
    fn target(&mut self, target: usize) -> Label {
        match self.pcs.get(target) {
            Some(&l) => l,
            None => self.error_stub(rt::ERR_PC_OUT_OF_RANGE, target as u64, 0),
        }
    }

    fn stubs_and_thunk(&mut self) {
        if !self.calls {
            // Errors happen at the body's level: rsp is as the prologue
            // left it.
            self.a.bind(self.error_exit);
            self.epilogue();
        }
        for s in core::mem::take(&mut self.stubs) {
            match s {
                Stub::Error { label, kind, pc, arg } => {
                    self.a.bind(label);
                    self.error_here(kind, pc, arg);
                }
                Stub::Slow { label, back, base, off, n, info } => {
                    let a = &mut self.a;
                    a.bind(label);
                    a.lea(R11, mem(base, off));
                    a.mov_ri(R9, info as u64);
                    a.call(self.resolve);
                    a.alu_mr(W::Q, 0x85, Rm::Reg(R9), R9);
                    a.jcc(cc::E, self.error_exit);
                    a.mov_ri(R11, n as u64);
                    a.jmp(back);
                }
            }
        }
        // The slow-path thunk: r11 = address, r9 = info in; r9 = host
        // pointer or NULL out; every BPF register and the budget preserved.
        let a = &mut self.a;
        a.bind(self.resolve);
        const SAVED: [u8; 7] = [RAX, RCX, RDX, RSI, RDI, R8, R10];
        for r in SAVED {
            a.push(r);
        }
        a.mov_rr(W::Q, RDI, CTX);
        a.mov_rr(W::Q, RSI, R11);
        a.mov_rr(W::Q, RDX, R9);
        a.mov_ri(RAX, rt::resolve_shim as *const () as u64);
        a.call_reg(RAX);
        a.mov_rr(W::Q, R9, RAX);
        for r in SAVED.iter().rev() {
            a.pop(*r);
        }
        a.ret();
    }

    /// A fresh blinding key, if blinding.
    fn key(&mut self) -> Option<i32> {
        let s = self.blind.as_mut()?;
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        Some((*s as i32) | 1)
    }

    /// An immediate as an operand: `Some(imm)` to encode it, or `None`
    /// after loading it sign-extended into r11 without it appearing in the
    /// code (constant blinding: the code holds `imm ^ key` and `key`).
    fn imm(&mut self, imm: i32) -> Option<i32> {
        let Some(key) = self.key() else {
            return Some(imm);
        };
        self.a.mov_ri(R11, (imm ^ key) as i64 as u64);
        self.a.alu_ri(W::Q, 6, Rm::Reg(R11), key);
        None
    }

    /// Spends one unit of the budget at `pc`.
    fn spend(&mut self, pc: usize) {
        let stop = self.error_stub(rt::ERR_STEP_LIMIT, pc as u64, 0);
        self.a.alu_ri(W::Q, 5, self.budget(), 1);
        self.a.jcc(cc::B, stop);
    }

    /// Where the budget is.
    fn budget(&self) -> Rm {
        if self.budget_reg {
            Rm::Reg(BUDGET_REG)
        } else {
            mem(CTX, BUDGET)
        }
    }

    fn invalid(&mut self, pc: usize, code: u8) {
        self.error_here(rt::ERR_INVALID_OPCODE, pc as u64, code as u64);
    }

    /// Emits the instruction at `pc`; returns how many slots it took.
    fn insn(&mut self, pc: usize) -> usize {
        let op = self.ops[pc];
        let (d, s) = ((op.regs & 15) as usize, (op.regs >> 4) as usize);
        match op.code {
            0x07 | 0x17 | 0x27 | 0x37 | 0x47 | 0x57 | 0x67 | 0x77 | 0x87 | 0x97 | 0xa7 | 0xb7 | 0xc7 | 0xd7 | 0x0f | 0x1f | 0x2f | 0x3f
            | 0x4f | 0x5f | 0x6f | 0x7f | 0x9f | 0xaf | 0xbf | 0xcf | 0x04 | 0x14 | 0x24 | 0x34 | 0x44 | 0x54 | 0x64 | 0x74 | 0x84
            | 0x94 | 0xa4 | 0xb4 | 0xc4 | 0xd4 | 0x0c | 0x1c | 0x2c | 0x3c | 0x4c | 0x5c | 0x6c | 0x7c | 0x9c | 0xac | 0xbc | 0xcc
            | 0xdc => self.alu(pc, op, d, s),
            0x18 => {
                let hi = self.ops.get(pc + 1).map_or(0, |o| o.imm);
                let v = (op.imm as u32 as u64) | ((hi as u32 as u64) << 32);
                self.lddw(REG[d], v);
                // A jump into the second slot executes opcode 0.
                let second = self.pcs[pc + 1];
                self.stubs.push(Stub::Error { label: second, kind: rt::ERR_INVALID_OPCODE, pc: pc as u64 + 1, arg: 0 });
                return 2;
            }
            0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91 => {
                let n = size(op.code);
                let rm = self.addr(pc, s, op.off, n, false);
                self.a.load(W::of_size(n), op.code & 0xe0 == isa::MODE_MEMSX, REG[d], rm);
            }
            0x62 | 0x6a | 0x72 | 0x7a => {
                let n = size(op.code);
                let rm = self.addr(pc, d, op.off, n, true);
                match self.key() {
                    None => self.a.mov_mi(W::of_size(n), rm, op.imm),
                    Some(key) => {
                        self.a.lea(R9, rm);
                        self.a.mov_ri(R11, (op.imm ^ key) as i64 as u64);
                        self.a.alu_ri(W::Q, 6, Rm::Reg(R11), key);
                        self.a.store(W::of_size(n), mem(R9, 0), R11);
                    }
                }
            }
            0x63 | 0x6b | 0x73 | 0x7b => {
                let n = size(op.code);
                let rm = self.addr(pc, d, op.off, n, true);
                self.a.store(W::of_size(n), rm, REG[s]);
            }
            0xc3 | 0xdb => self.atomic(pc, op, d, s),
            0x05 => {
                let t = pc.wrapping_add(1).wrapping_add(op.off as isize as usize);
                self.branch(pc, None, t, op.off < 0);
            }
            0x06 => {
                let t = pc.wrapping_add(1).wrapping_add(op.imm as isize as usize);
                self.branch(pc, None, t, op.imm < 0);
            }
            0x15 | 0x1d | 0x25 | 0x2d | 0x35 | 0x3d | 0x45 | 0x4d | 0x55 | 0x5d | 0x65 | 0x6d | 0x75 | 0x7d | 0xa5 | 0xad | 0xb5 | 0xbd
            | 0xc5 | 0xcd | 0xd5 | 0xdd | 0x16 | 0x1e | 0x26 | 0x2e | 0x36 | 0x3e | 0x46 | 0x4e | 0x56 | 0x5e | 0x66 | 0x6e | 0x76 | 0x7e
            | 0xa6 | 0xae | 0xb6 | 0xbe | 0xc6 | 0xce | 0xd6 | 0xde => self.cond(pc, op, d, s),
            0x85 | 0x8d => {
                self.spend(pc);
                if op.code == 0x85 && s == isa::PSEUDO_CALL as usize {
                    self.local_call(pc, op);
                } else if op.code == 0x85 && s == 0 && op.imm == isa::helper::LOOP {
                    self.bpf_loop(pc);
                } else if op.code == 0x85 && s == 0 && op.imm == isa::helper::FOR_EACH_MAP_ELEM {
                    self.for_each(pc);
                } else if op.code == 0x8d || s == 0 {
                    self.helper_call(pc, op, d);
                } else {
                    self.invalid(pc, op.code);
                }
            }
            0x95 if self.calls => self.a.ret(),
            0x95 => self.epilogue(),
            code => self.invalid(pc, code),
        }
        1
    }

    fn lddw(&mut self, dst: u8, v: u64) {
        match self.key() {
            None => self.a.mov_ri(dst, v),
            Some(k) => {
                let key = (k as u64) << 32 | (k as u32 as u64).rotate_left(7);
                self.a.mov_ri(R11, key);
                self.a.mov_ri(dst, v ^ key);
                self.a.alu_mr(W::Q, 0x31, Rm::Reg(dst), R11);
            }
        }
    }

    fn alu(&mut self, pc: usize, op: Op, d: usize, s: usize) {
        let is64 = op.code & 7 == isa::CLS_ALU64;
        let w = if is64 { W::Q } else { W::D };
        let x = op.code & isa::SRC_X != 0;
        let (dst, src) = (REG[d], REG[s]);
        let a_op = op.code & 0xf0;
        // The group-1 form (`op r/m, reg` opcode, `/ext` for immediates).
        let group1 = match a_op {
            isa::ALU_ADD => Some((0x01, 0)),
            isa::ALU_SUB => Some((0x29, 5)),
            isa::ALU_OR => Some((0x09, 1)),
            isa::ALU_AND => Some((0x21, 4)),
            isa::ALU_XOR => Some((0x31, 6)),
            _ => None,
        };
        if let Some((opc, ext)) = group1 {
            if x {
                self.a.alu_mr(w, opc, Rm::Reg(dst), src);
            } else {
                match self.imm(op.imm) {
                    Some(i) => self.a.alu_ri(w, ext, Rm::Reg(dst), i),
                    None => self.a.alu_mr(w, opc, Rm::Reg(dst), R11),
                }
            }
            return;
        }
        match a_op {
            isa::ALU_MOV if x => match (is64, op.off) {
                (_, 0) => self.a.mov_rr(w, dst, src),
                (true, 8) => self.a.extend(W::Q, true, dst, W::B, src),
                (true, 16) => self.a.extend(W::Q, true, dst, W::H, src),
                (true, 32) => self.a.extend(W::Q, true, dst, W::D, src),
                (false, 8) => self.a.extend(W::D, true, dst, W::B, src),
                (false, 16) => self.a.extend(W::D, true, dst, W::H, src),
                _ => self.invalid(pc, op.code),
            },
            isa::ALU_MOV => {
                let v = if is64 { op.imm as i64 as u64 } else { op.imm as u32 as u64 };
                match self.key() {
                    None => self.a.mov_ri(dst, v),
                    Some(key) => {
                        let k = if is64 { key as i64 as u64 } else { key as u32 as u64 };
                        self.a.mov_ri(dst, v ^ k);
                        self.a.alu_ri(w, 6, Rm::Reg(dst), key);
                    }
                }
            }
            isa::ALU_MUL if x => self.a.imul_rr(w, dst, src),
            isa::ALU_MUL => match self.imm(op.imm) {
                None => self.a.imul_rr(w, dst, R11),
                // x*3, x*5, x*9 as one lea: one cycle instead of three.
                Some(k @ (3 | 5 | 9)) => self.a.op(w, &[0x8d], dst, mem_idx(dst, dst, (k - 1) as u8, 0), false),
                Some(k) => self.a.imul_rri(w, dst, dst, k),
            },
            isa::ALU_DIV | isa::ALU_MOD => self.divmod(op, w, dst, src, x, a_op == isa::ALU_MOD),
            isa::ALU_LSH | isa::ALU_RSH | isa::ALU_ARSH => {
                let ext = match a_op {
                    isa::ALU_LSH => 4,
                    isa::ALU_RSH => 5,
                    _ => 7,
                };
                if x {
                    self.shift_cl(w, ext, dst, src);
                } else {
                    let n = (op.imm as u32 & if is64 { 63 } else { 31 }) as u8;
                    if n != 0 {
                        self.a.shift_ri(w, ext, dst, n);
                    }
                }
                if !is64 {
                    // Zero-extends even for a shift by 0.
                    self.a.mov_rr(W::D, dst, dst);
                }
            }
            isa::ALU_NEG => self.a.grp3(w, 3, dst),
            isa::ALU_END => {
                // 0xd4: to little endian (truncate); 0xdc, 0xd7: swap.
                let swap = op.code != 0xd4;
                match (op.imm, swap) {
                    (16, false) => self.a.extend(W::D, false, dst, W::H, dst),
                    (32, false) => self.a.mov_rr(W::D, dst, dst),
                    (64, false) => {}
                    (16, true) => {
                        self.a.shift_ri(W::H, 1, dst, 8);
                        self.a.extend(W::D, false, dst, W::H, dst);
                    }
                    (32, true) => self.a.bswap(W::D, dst),
                    (64, true) => self.a.bswap(W::Q, dst),
                    _ => self.invalid(pc, op.code),
                }
            }
            _ => self.invalid(pc, op.code),
        }
    }

    /// `dst <<= src` and friends: the count must be in cl, which is BPF r4.
    fn shift_cl(&mut self, w: W, ext: u8, dst: u8, src: u8) {
        let a = &mut self.a;
        if src == RCX {
            a.shift_cl(w, ext, dst);
            return;
        }
        a.mov_rr(W::Q, R11, RCX);
        a.mov_rr(W::Q, RCX, src);
        if dst == RCX {
            a.shift_cl(w, ext, R11);
            a.mov_rr(W::Q, RCX, R11);
        } else {
            a.shift_cl(w, ext, dst);
            a.mov_rr(W::Q, RCX, R11);
        }
    }

    /// Division and modulo as RFC 9669 defines them: x/0 = 0, x%0 = x,
    /// signed INT_MIN/-1 = INT_MIN and INT_MIN%-1 = 0 (x86 would trap on
    /// both). `div` needs rax and rdx, which hold BPF r0 and r3.
    fn divmod(&mut self, op: Op, w: W, dst: u8, src: u8, x: bool, is_mod: bool) {
        let signed = op.off == 1;
        if x {
            self.a.mov_rr(W::Q, R11, src);
        } else if self.imm(op.imm).is_some() {
            self.a.mov_ri(R11, op.imm as i64 as u64);
        }
        let a = &mut self.a;
        let (zero, minus1, done) = (a.label(), a.label(), a.label());
        a.alu_mr(w, 0x85, Rm::Reg(R11), R11);
        a.jcc(cc::E, zero);
        if signed {
            a.alu_ri(w, 7, Rm::Reg(R11), -1);
            a.jcc(cc::E, minus1);
        }
        a.mov_rr(W::Q, R9, RAX);
        a.store(W::Q, mem(CTX, SCRATCH), RDX);
        a.mov_rr(W::Q, RAX, dst);
        if signed {
            a.sign_extend_ax(w);
        } else {
            a.mov_ri(RDX, 0);
        }
        a.grp3(w, if signed { 7 } else { 6 }, R11);
        a.mov_rr(w, R11, if is_mod { RDX } else { RAX });
        a.mov_rr(W::Q, RAX, R9);
        a.load(W::Q, false, RDX, mem(CTX, SCRATCH));
        a.mov_rr(W::Q, dst, R11);
        a.jmp(done);
        a.bind(zero);
        if !is_mod {
            a.mov_ri(dst, 0);
        } else if w == W::D {
            a.mov_rr(W::D, dst, dst);
        }
        a.jmp(done);
        a.bind(minus1);
        if signed {
            if is_mod {
                a.mov_ri(dst, 0);
            } else {
                a.grp3(w, 3, dst);
            }
        }
        a.bind(done);
    }

    /// The operand for `n` bytes at `reg + off`, checked: the region table
    /// resolves the tag inline, anything else goes to the slow path.
    fn addr(&mut self, pc: usize, reg: usize, off: i16, n: usize, write: bool) -> Rm {
        let base = REG[reg];
        if reg == 10 && self.fast_stack && off >= -(STACK_SIZE as i16) && off as i32 + n as i32 <= 0 {
            // r10 is the frame's top and never moves: the access is inside
            // the frame, which is inside the stack.
            if !self.calls {
                // One frame: r10 is the constant STACK_TOP.
                self.a.load(W::Q, false, R9, mem(CTX, STACK_BASE));
                return mem(R9, STACK_TOP as u32 as i32 + off as i32);
            }
            self.a.mov_rr(W::D, R11, RBP);
            self.a.load(W::Q, false, R9, mem(CTX, STACK_BASE));
            return mem_idx(R9, R11, 1, off as i32);
        }
        let (slow, back) = (self.a.label(), self.a.label());
        let a = &mut self.a;
        // r9 = the tag, which indexes the table (entry 0 is empty); r11 =
        // the offset plus the size, checked against the region's length.
        if off == 0 {
            a.mov_rr(W::Q, R9, base);
            a.mov_rr(W::D, R11, base);
        } else {
            a.lea(R11, mem(base, off as i32));
            a.mov_rr(W::Q, R9, R11);
            a.mov_rr(W::D, R11, R11);
        }
        a.shift_ri(W::Q, 5, R9, 32);
        a.alu_rm(W::Q, 0x3b, R9, mem(CTX, NREGIONS));
        a.jcc(cc::AE, slow);
        a.shift_ri(W::Q, 4, R9, REGION_SHIFT);
        a.alu_rm(W::Q, 0x03, R9, mem(CTX, REGIONS));
        a.alu_ri(W::Q, 0, Rm::Reg(R11), n as i32);
        a.alu_rm(W::Q, 0x3b, R11, mem(R9, if write { REGION_WLEN } else { REGION_RLEN }));
        a.jcc(cc::A, slow);
        a.load(W::Q, false, R9, mem(R9, REGION_BASE));
        a.bind(back);
        let info = ((pc as u32) << 8) | ((write as u32) << 7) | n as u32;
        self.stubs.push(Stub::Slow { label: slow, back, base, off: off as i32, n: n as u8, info });
        mem_idx(R9, R11, 1, -(n as i32))
    }

    fn atomic(&mut self, pc: usize, op: Op, d: usize, s: usize) {
        let w = if op.code == 0xc3 { W::D } else { W::Q };
        let n = if w == W::D { 4 } else { 8 };
        let kind = op.imm & !isa::ATOMIC_FETCH;
        if ![isa::ATOMIC_ADD, isa::ATOMIC_OR, isa::ATOMIC_AND, isa::ATOMIC_XOR, 0xe0, 0xf0].contains(&kind) {
            self.invalid(pc, op.code);
            return;
        }
        let fetch = op.imm & isa::ATOMIC_FETCH != 0;
        let rm = self.addr(pc, d, op.off, n, true);
        let src = REG[s];
        let a = &mut self.a;
        a.lea(R9, rm);
        let m = mem(R9, 0);
        match kind {
            isa::ATOMIC_ADD if fetch => {
                a.mov_rr(W::Q, R11, src);
                a.lock();
                a.xadd(w, m, R11);
                a.mov_rr(w, src, R11);
            }
            0xe0 => {
                a.mov_rr(W::Q, R11, src);
                a.xchg(w, m, R11);
                if fetch {
                    a.mov_rr(w, src, R11);
                }
            }
            0xf0 => {
                // Compares with r0, which is rax, as cmpxchg does.
                if !fetch {
                    a.store(W::Q, mem(CTX, SCRATCH), RAX);
                }
                a.lock();
                a.cmpxchg(w, m, src);
                if fetch && w == W::D {
                    a.mov_rr(W::D, RAX, RAX);
                }
                if !fetch {
                    a.load(W::Q, false, RAX, mem(CTX, SCRATCH));
                }
            }
            _ if !fetch => {
                let opc = match kind {
                    isa::ATOMIC_ADD => 0x01,
                    isa::ATOMIC_OR => 0x09,
                    isa::ATOMIC_AND => 0x21,
                    _ => 0x31,
                };
                a.lock();
                a.alu_mr(w, opc, m, src);
            }
            _ => {
                // Fetching or/and/xor: a cmpxchg loop in rax (BPF r0, saved).
                let opc = match kind {
                    isa::ATOMIC_OR => 0x09,
                    isa::ATOMIC_AND => 0x21,
                    _ => 0x31,
                };
                a.store(W::Q, mem(CTX, SCRATCH), RAX);
                a.load(w, false, RAX, m);
                let again = a.label();
                a.bind(again);
                a.mov_rr(W::Q, R11, RAX);
                if src == RAX {
                    a.alu_rm(w, opc + 2, R11, mem(CTX, SCRATCH));
                } else {
                    a.alu_mr(w, opc, Rm::Reg(R11), src);
                }
                a.lock();
                a.cmpxchg(w, m, R11);
                a.jcc(cc::NE, again);
                a.mov_rr(w, R11, RAX);
                a.load(W::Q, false, RAX, mem(CTX, SCRATCH));
                a.mov_rr(W::Q, src, R11);
            }
        }
    }

    /// A jump to pc `target`, conditional on `cond` (flags already set);
    /// backward jumps spend the budget when taken.
    fn branch(&mut self, pc: usize, cond: Option<u8>, target: usize, backward: bool) {
        let t = self.target(target);
        if !backward {
            match cond {
                Some(c) => self.a.jcc(c, t),
                None => self.a.jmp(t),
            }
            return;
        }
        // Taken: spend one unit and jump back while none is owed (the
        // branch a loop takes, so it is the only one taken per iteration).
        let stop = self.error_stub(rt::ERR_STEP_LIMIT, pc as u64, 0);
        let skip = self.a.label();
        if let Some(c) = cond {
            self.a.jcc(c ^ 1, skip);
        }
        self.a.alu_ri(W::Q, 5, self.budget(), 1);
        self.a.jcc(cc::AE, t);
        self.a.jmp(stop);
        self.a.bind(skip);
    }

    fn cond(&mut self, pc: usize, op: Op, d: usize, s: usize) {
        let w = if op.code & 7 == isa::CLS_JMP32 { W::D } else { W::Q };
        let x = op.code & isa::SRC_X != 0;
        let jset = op.code & 0xf0 == isa::JMP_JSET;
        let (dst, src) = (REG[d], REG[s]);
        let opc = if jset { 0x85 } else { 0x39 };
        if x {
            self.a.alu_mr(w, opc, Rm::Reg(dst), src);
        } else {
            match self.imm(op.imm) {
                None => self.a.alu_mr(w, opc, Rm::Reg(dst), R11),
                Some(i) if jset => {
                    self.a.op(w, &[0xf7], 0, Rm::Reg(dst), false);
                    self.a.code.extend_from_slice(&i.to_le_bytes());
                }
                Some(i) => self.a.alu_ri(w, 7, Rm::Reg(dst), i),
            }
        }
        let c = match op.code & 0xf0 {
            isa::JMP_JEQ => cc::E,
            isa::JMP_JNE | isa::JMP_JSET => cc::NE,
            isa::JMP_JGT => cc::A,
            isa::JMP_JGE => cc::AE,
            isa::JMP_JLT => cc::B,
            isa::JMP_JLE => cc::BE,
            isa::JMP_JSGT => cc::G,
            isa::JMP_JSGE => cc::GE,
            isa::JMP_JSLT => cc::L,
            _ => cc::LE,
        };
        let t = pc.wrapping_add(1).wrapping_add(op.off as isize as usize);
        self.branch(pc, Some(c), t, op.off < 0);
    }

    fn helper_call(&mut self, pc: usize, op: Op, d: usize) {
        let budget_reg = self.budget_reg;
        let live = scan::live_after_call(self.ops, pc + 1, self.calls);
        let a = &mut self.a;
        let in_place = (op.code == 0x85 && op.imm == isa::helper::MAP_LOOKUP_ELEM).then(|| (a.label(), a.label()));
        if let Some((slow, done)) = in_place {
            super::lookup::hash_lookup(a, slow, done);
            a.bind(slow);
        }
        if budget_reg {
            // r10 is not preserved by the callee.
            a.store(W::Q, mem(CTX, BUDGET), BUDGET_REG);
        }
        let shim = if op.code == 0x8d {
            // `callx`: the helper ID is in dst (ubpf, bpf_conformance).
            a.store(W::D, mem(CTX, CALL_ID), REG[d]);
            rt::helper_shim as *const ()
        } else if op.imm == isa::helper::MAP_LOOKUP_ELEM {
            rt::lookup_shim as *const ()
        } else if let Some(def) = crate::helpers::def(op.imm) {
            // A known helper: its definition resolved now, not per call.
            a.mov_ri(R11, def as *const crate::helpers::HelperDef as u64);
            a.store(W::Q, mem(CTX, CALL_DEF), R11);
            rt::def_shim as *const ()
        } else {
            a.mov_mi(W::D, mem(CTX, CALL_ID), op.imm);
            rt::helper_shim as *const ()
        };
        a.mov_mi(W::D, mem(CTX, CALL_PC), pc as i32);
        a.mov_rr(W::Q, R9, CTX);
        a.mov_ri(R11, shim as u64);
        a.call_reg(R11);
        if budget_reg {
            a.load(W::Q, false, BUDGET_REG, mem(CTX, BUDGET));
        }
        a.alu_ri(W::Q, 7, mem(CTX, ERR), 0);
        a.jcc(cc::NE, self.error_exit);
        if let Some((_, done)) = in_place {
            a.bind(done);
        }
        // The interpreter zeroes r1-r5 after a call; so do we (the System V
        // callee left whatever it liked there) where the program may read
        // them before writing them.
        for (r, &x) in REG.iter().enumerate().take(6).skip(1) {
            if live & (1 << r) != 0 {
                a.mov_ri(x, 0);
            }
        }
    }

    fn local_call(&mut self, pc: usize, op: Op) {
        let target = pc.wrapping_add(1).wrapping_add(op.imm as isize as usize);
        self.call_pc(pc, target);
    }

    /// `bpf_loop(n, callback, ctx, flags)` in place, as the interpreter runs
    /// it: -EINVAL for flags, -E2BIG past 2^23 iterations, else callback(i,
    /// ctx) as a bpf-to-bpf call per iteration (one unit of budget each)
    /// until it returns non-zero. The loop state lives on the x86 stack.
    fn bpf_loop(&mut self, pc: usize) {
        let bad = self.error_stub(rt::ERR_BAD_CALLBACK, pc as u64, isa::helper::LOOP as u64);
        let callbacks = self.callbacks;
        let a = &mut self.a;
        let (einval, e2big, top, stopped, all, out, fin) = (a.label(), a.label(), a.label(), a.label(), a.label(), a.label(), a.label());
        let (n, f, ctx, flags) = (REG[1], REG[2], REG[3], REG[4]);
        a.alu_mr(W::Q, 0x85, Rm::Reg(flags), flags);
        a.jcc(cc::NE, einval);
        a.mov_ri(R11, crate::helpers::callback::MAX_LOOPS);
        a.alu_mr(W::Q, 0x39, Rm::Reg(n), R11);
        a.jcc(cc::A, e2big);
        Self::check_callback(a, callbacks, f, bad);
        // [rsp] = i, [rsp+8] = callback, [rsp+16] = ctx, [rsp+24] = n.
        a.push(n);
        a.push(ctx);
        a.push(f);
        a.mov_ri(R11, 0);
        a.push(R11);
        a.bind(top);
        a.load(W::Q, false, R11, mem(RSP, 0));
        a.alu_rm(W::Q, 0x3b, R11, mem(RSP, 24));
        a.jcc(cc::AE, all);
        self.spend(pc);
        let a = &mut self.a;
        a.load(W::Q, false, REG[1], mem(RSP, 0));
        a.load(W::Q, false, REG[2], mem(RSP, 16));
        for r in [0, 3, 4, 5] {
            a.mov_ri(REG[r], 0);
        }
        self.call_stacked_callback(pc, callbacks, bad);
        let a = &mut self.a;
        a.alu_mr(W::Q, 0x85, Rm::Reg(REG[0]), REG[0]);
        a.jcc(cc::NE, stopped);
        a.alu_ri(W::Q, 0, mem(RSP, 0), 1);
        a.jmp(top);
        a.bind(stopped);
        a.load(W::Q, false, REG[0], mem(RSP, 0));
        a.alu_ri(W::Q, 0, Rm::Reg(REG[0]), 1);
        a.jmp(out);
        a.bind(all);
        a.load(W::Q, false, REG[0], mem(RSP, 0));
        a.bind(out);
        a.alu_ri(W::Q, 0, Rm::Reg(RSP), 32);
        a.jmp(fin);
        a.bind(einval);
        a.mov_ri(REG[0], crate::helpers::EINVAL as u64);
        a.jmp(fin);
        a.bind(e2big);
        a.mov_ri(REG[0], crate::helpers::E2BIG as u64);
        a.bind(fin);
        for &r in &REG[1..=5] {
            a.mov_ri(r, 0);
        }
    }

    /// `bpf_for_each_map_elem(map, callback, ctx, flags)` in place, as the
    /// interpreter runs it: -EINVAL for flags, else [`rt::for_each_shim`]
    /// finds each element and callback(map, key, value, ctx) runs as a
    /// bpf-to-bpf call (one unit of budget each) until it returns non-zero;
    /// r0 = the number of calls. The loop state lives on the x86 stack.
    fn for_each(&mut self, pc: usize) {
        let id = isa::helper::FOR_EACH_MAP_ELEM;
        let bad = self.error_stub(rt::ERR_BAD_CALLBACK, pc as u64, id as u64);
        let callbacks = self.callbacks;
        let error_exit = self.error_exit;
        let a = &mut self.a;
        let (einval, top, all, fin) = (a.label(), a.label(), a.label(), a.label());
        let (map, f, ctx, flags) = (REG[1], REG[2], REG[3], REG[4]);
        a.alu_mr(W::Q, 0x85, Rm::Reg(flags), flags);
        a.jcc(cc::NE, einval);
        Self::check_callback(a, callbacks, f, bad);
        // [rsp] = cursor, [rsp+8] = callback, [rsp+16] = ctx, [rsp+24] =
        // map, [rsp+32] = calls made, [rsp+40] = padding (rsp stays 16-byte
        // aligned for the calls into Rust).
        a.mov_ri(R11, 0);
        a.push(R11);
        a.push(R11);
        a.push(map);
        a.push(ctx);
        a.push(f);
        a.push(R11);
        a.bind(top);
        a.store(W::Q, mem(CTX, BUDGET), BUDGET_REG);
        a.mov_mi(W::D, mem(CTX, CALL_ID), id);
        a.mov_mi(W::D, mem(CTX, CALL_PC), pc as i32);
        a.load(W::Q, false, RDI, mem(RSP, 24));
        a.load(W::Q, false, RSI, mem(RSP, 0));
        a.mov_rr(W::Q, RDX, CTX);
        a.mov_ri(R11, rt::for_each_shim as *const () as u64);
        a.call_reg(R11);
        a.load(W::Q, false, BUDGET_REG, mem(CTX, BUDGET));
        a.alu_ri(W::Q, 7, mem(CTX, ERR), 0);
        a.jcc(cc::NE, error_exit);
        a.alu_mr(W::Q, 0x85, Rm::Reg(RAX), RAX);
        a.jcc(cc::E, all);
        a.load(W::Q, false, R11, mem(CTX, FE_CURSOR));
        a.store(W::Q, mem(RSP, 0), R11);
        a.mov_rr(W::Q, REG[3], RAX);
        a.load(W::Q, false, REG[2], mem(CTX, FE_KEY));
        a.load(W::Q, false, REG[1], mem(RSP, 24));
        a.load(W::Q, false, REG[4], mem(RSP, 16));
        a.mov_ri(REG[0], 0);
        a.mov_ri(REG[5], 0);
        self.spend(pc);
        self.call_stacked_callback(pc, callbacks, bad);
        let a = &mut self.a;
        a.alu_ri(W::Q, 0, mem(RSP, 32), 1);
        a.alu_mr(W::Q, 0x85, Rm::Reg(REG[0]), REG[0]);
        a.jcc(cc::E, top);
        a.bind(all);
        a.load(W::Q, false, REG[0], mem(RSP, 32));
        a.alu_ri(W::Q, 0, Rm::Reg(RSP), 48);
        a.jmp(fin);
        a.bind(einval);
        a.mov_ri(REG[0], crate::helpers::EINVAL as u64);
        a.bind(fin);
        for &r in &REG[1..=5] {
            a.mov_ri(r, 0);
        }
    }

    /// Jumps to `bad` unless register `f` holds the address of one of the
    /// program's callbacks (what `bpf_loop` and `bpf_for_each_map_elem` were
    /// given).
    fn check_callback(a: &mut Asm, callbacks: &[u32], f: u8, bad: Label) {
        let valid = a.label();
        for &t in callbacks {
            a.mov_ri(R11, imem::addr(imem::TAG_FUNC, t));
            a.alu_mr(W::Q, 0x39, Rm::Reg(f), R11);
            a.jcc(cc::E, valid);
        }
        a.jmp(bad);
        a.bind(valid);
    }

    /// Calls the callback whose address sits at `[rsp+8]` (checked with
    /// [`Self::check_callback`]; its arguments are in r1-r5), as a
    /// bpf-to-bpf call.
    fn call_stacked_callback(&mut self, pc: usize, callbacks: &[u32], bad: Label) {
        let after = self.a.label();
        self.a.load(W::Q, false, R11, mem(RSP, 8));
        for &t in callbacks {
            let next = self.a.label();
            self.a.mov_ri(R9, imem::addr(imem::TAG_FUNC, t));
            self.a.alu_mr(W::Q, 0x39, Rm::Reg(R11), R9);
            self.a.jcc(cc::NE, next);
            self.call_pc(pc, t as usize);
            self.a.jmp(after);
            self.a.bind(next);
        }
        self.a.jmp(bad);
        self.a.bind(after);
    }

    /// A bpf-to-bpf call of the function at `target`, in a new frame.
    fn call_pc(&mut self, pc: usize, target: usize) {
        let too_deep = self.error_stub(rt::ERR_CALL_DEPTH, pc as u64, 0);
        let t = self.target(target);
        let a = &mut self.a;
        a.load(W::Q, false, R11, mem(CTX, DEPTH));
        a.alu_ri(W::Q, 0, Rm::Reg(R11), 1);
        a.alu_ri(W::Q, 7, Rm::Reg(R11), MAX_CALL_DEPTH as i32);
        a.jcc(cc::AE, too_deep);
        a.store(W::Q, mem(CTX, DEPTH), R11);
        for r in [6, 7, 8, 9, 10] {
            a.push(REG[r]);
        }
        // r10 = the new frame's top: STACK_TOP - depth * STACK_SIZE.
        a.shift_ri(W::Q, 4, R11, STACK_SIZE.trailing_zeros() as u8);
        a.grp3(W::Q, 3, R11);
        a.mov_ri(REG[10], STACK_TOP);
        a.alu_mr(W::Q, 0x01, Rm::Reg(REG[10]), R11);
        a.call(t);
        for r in [10, 9, 8, 7, 6] {
            a.pop(REG[r]);
        }
        a.alu_ri(W::Q, 5, mem(CTX, DEPTH), 1);
    }
}

fn size(code: u8) -> usize {
    match code & 0x18 {
        isa::SIZE_B => 1,
        isa::SIZE_H => 2,
        isa::SIZE_W => 4,
        _ => 8,
    }
}
