//! The IDT and the exception entry stubs. Every stub saves all general
//! registers into a [`TrapFrame`] and calls [`crate::trap::handle`], so fault
//! reports can show the full register state and the page-fault handler can
//! resume the faulting instruction.

use super::gdt::{IST_DOUBLE_FAULT, KERNEL_CS};
use core::cell::UnsafeCell;

/// Registers saved on exception entry; the layout matches the stubs below.
#[derive(Debug, Clone, Copy)]
#[repr(C)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    pub vector: u64,
    pub error: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    /// Whether the trap came from ring 3 (a question, not a conversion).
    #[allow(clippy::wrong_self_convention)]
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

core::arch::global_asm!(
    ".text",
    ".global trap_common",
    "trap_common:",
    // From ring 3 (the saved CS, above vector and error code, has RPL 3):
    // switch GS to the per-CPU area, and back on the way out.
    "test qword ptr [rsp + 24], 3",
    "jz 1f",
    "swapgs",
    "1:",
    "push rax", "push rbx", "push rcx", "push rdx", "push rsi", "push rdi", "push rbp",
    "push r8", "push r9", "push r10", "push r11", "push r12", "push r13", "push r14", "push r15",
    "mov rdi, rsp",
    "cld",
    "call [rip + {handler}]",
    "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
    "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
    "add rsp, 16",
    "test qword ptr [rsp + 8], 3",
    "jz 2f",
    "swapgs",
    "2:",
    "iretq",
    handler = sym TRAP_HANDLER,
);

core::arch::global_asm!(
    ".text",
    ".macro STUB n, has_err",
    ".global trap_stub_\\n",
    "trap_stub_\\n:",
    ".if \\has_err == 0",
    "push 0",
    ".endif",
    "push \\n",
    "jmp trap_common",
    ".endm",
    "STUB 0,0", "STUB 1,0", "STUB 2,0", "STUB 3,0", "STUB 4,0", "STUB 5,0", "STUB 6,0", "STUB 7,0",
    "STUB 8,1", "STUB 9,0", "STUB 10,1", "STUB 11,1", "STUB 12,1", "STUB 13,1", "STUB 14,1", "STUB 15,0",
    "STUB 16,0", "STUB 17,1", "STUB 18,0", "STUB 19,0", "STUB 20,0", "STUB 21,1", "STUB 22,0", "STUB 23,0",
    "STUB 24,0", "STUB 25,0", "STUB 26,0", "STUB 27,0", "STUB 28,0", "STUB 29,1", "STUB 30,1", "STUB 31,0",
    "STUB 32,0", "STUB 33,0", "STUB 34,0",
    ".section .rodata",
    ".balign 8",
    ".global trap_stub_table",
    "trap_stub_table:",
    ".irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,32,33,34",
    ".quad trap_stub_\\n",
    ".endr",
    ".text",
);

/// The local APIC timer's vector.
pub const TIMER_VECTOR: usize = 32;
/// Vector used for any other external interrupt (the APIC's spurious one
/// included): ignored.
pub const SPURIOUS_VECTOR: usize = 33;
/// The virtio console's interrupt (routed by `ioapic::route`).
pub const DEVICE_VECTOR: usize = 34;

#[derive(Clone, Copy)]
#[repr(C)]
struct Gate {
    off_lo: u16,
    sel: u16,
    ist: u8,
    attr: u8,
    off_mid: u16,
    off_hi: u32,
    _zero: u32,
}

const EMPTY: Gate = Gate { off_lo: 0, sel: 0, ist: 0, attr: 0, off_mid: 0, off_hi: 0, _zero: 0 };

#[repr(C, align(16))]
struct Idt(UnsafeCell<[Gate; 256]>);
// SAFETY: filled once during single-threaded boot, then only read by the CPU.
unsafe impl Sync for Idt {}
static IDT: Idt = Idt(UnsafeCell::new([EMPTY; 256]));

extern "C" {
    static trap_stub_table: [u64; 35];
}

/// The kernel's trap handler, called by every stub with the saved registers.
/// Registered by [`init`], so this layer never names the code above it.
#[no_mangle]
static mut TRAP_HANDLER: extern "C" fn(&mut TrapFrame) = unregistered;

extern "C" fn unregistered(_: &mut TrapFrame) {
    super::cpu::halt_forever()
}

/// Loads the IDT; every exception and interrupt calls `handler`.
pub fn init(handler: extern "C" fn(&mut TrapFrame)) {
    // SAFETY: single-threaded boot, interrupts off: no stub runs while the
    // pointer is written.
    unsafe { TRAP_HANDLER = handler };
    // SAFETY: single-threaded boot; the IDT is 'static; stub addresses come
    // from the assembler table above.
    unsafe {
        let idt = &mut *IDT.0.get();
        for (v, &addr) in trap_stub_table.iter().enumerate() {
            let mut g = Gate {
                off_lo: addr as u16,
                sel: KERNEL_CS,
                ist: 0,
                attr: 0x8e, // present, DPL 0, interrupt gate
                off_mid: (addr >> 16) as u16,
                off_hi: (addr >> 32) as u32,
                _zero: 0,
            };
            if v == 8 {
                g.ist = IST_DOUBLE_FAULT;
            }
            // `int3` and `into` are software interrupts: ring 3 may raise
            // them (DPL 3), as on Linux, so they arrive as #BP and #OF
            // (SIGTRAP, SIGSEGV) instead of a #GP.
            if v == 3 || v == 4 {
                g.attr = 0xee;
            }
            idt[v] = g;
        }
        // Any other vector is treated as spurious.
        let spurious = idt[SPURIOUS_VECTOR];
        for g in idt.iter_mut().skip(trap_stub_table.len()) {
            *g = spurious;
        }
        #[repr(C, packed)]
        struct Ptr {
            limit: u16,
            base: u64,
        }
        let ptr = Ptr { limit: (core::mem::size_of::<[Gate; 256]>() - 1) as u16, base: idt.as_ptr() as u64 };
        core::arch::asm!("lidt [{}]", in(reg) &ptr, options(nostack));
    }
}
