//! GDT and TSS. Selector layout follows what `syscall`/`sysret` expect
//! (kernel CS, kernel SS; then user CS32, user SS, user CS64), so a sysret
//! path can be added beside the iretq one.

use core::cell::UnsafeCell;

pub const KERNEL_CS: u16 = 0x08;
pub const KERNEL_DS: u16 = 0x10;
pub const USER_DS: u16 = 0x20 | 3;
pub const USER_CS: u16 = 0x28 | 3;
const TSS_SEL: u16 = 0x30;

#[repr(C, packed(4))]
struct Tss {
    _reserved0: u32,
    rsp: [u64; 3],
    _reserved1: u64,
    ist: [u64; 7],
    _reserved2: u64,
    _reserved3: u16,
    iomap_base: u16,
}

#[repr(C, align(16))]
struct Gdt([u64; 8]);

struct Tables {
    gdt: UnsafeCell<Gdt>,
    tss: UnsafeCell<Tss>,
}

// SAFETY: written once during single-threaded boot, then only read by the CPU.
unsafe impl Sync for Tables {}

static TABLES: Tables = Tables {
    gdt: UnsafeCell::new(Gdt([
        0,
        0x00af9a000000ffff, // kernel code 64
        0x00cf92000000ffff, // kernel data
        0x00cffa000000ffff, // user code 32 (unused, keeps the sysret layout)
        0x00cff2000000ffff, // user data
        0x00affa000000ffff, // user code 64
        0,                  // TSS low
        0,                  // TSS high
    ])),
    tss: UnsafeCell::new(Tss {
        _reserved0: 0,
        rsp: [0; 3],
        _reserved1: 0,
        ist: [0; 7],
        _reserved2: 0,
        _reserved3: 0,
        iomap_base: core::mem::size_of::<Tss>() as u16,
    }),
};

#[repr(C, align(16))]
struct Stack([u8; 16384]);
static mut DOUBLE_FAULT_STACK: Stack = Stack([0; 16384]);

/// IST slot (1-based) used for double faults.
pub const IST_DOUBLE_FAULT: u8 = 1;

/// The stack the CPU switches to on an interrupt from ring 3 (the current
/// task's kernel stack).
pub fn set_rsp0(top: u64) {
    // SAFETY: the TSS is 'static; the CPU reads rsp0 only on a ring change,
    // which cannot happen while the kernel runs this with interrupts off.
    unsafe { (*TABLES.tss.get()).rsp[0] = top };
}

/// Loads the GDT and TSS. `rsp0` is the stack the CPU switches to when an
/// interrupt or exception arrives from ring 3.
pub fn init(rsp0: u64) {
    // SAFETY: single-threaded boot; the tables are 'static and stay valid
    // for as long as the CPU uses them.
    unsafe {
        let tss = &mut *TABLES.tss.get();
        tss.rsp[0] = rsp0;
        let df_top = (&raw const DOUBLE_FAULT_STACK as u64) + core::mem::size_of::<Stack>() as u64;
        tss.ist[(IST_DOUBLE_FAULT - 1) as usize] = df_top;

        let base = tss as *const Tss as u64;
        let limit = (core::mem::size_of::<Tss>() - 1) as u64;
        let low = (limit & 0xffff)
            | ((base & 0xff_ffff) << 16)
            | (0x89u64 << 40) // present, 64-bit TSS (available)
            | (((limit >> 16) & 0xf) << 48)
            | (((base >> 24) & 0xff) << 56);
        let gdt = &mut *TABLES.gdt.get();
        gdt.0[6] = low;
        gdt.0[7] = base >> 32;

        #[repr(C, packed)]
        struct Ptr {
            limit: u16,
            base: u64,
        }
        let ptr = Ptr { limit: (core::mem::size_of::<Gdt>() - 1) as u16, base: gdt as *const Gdt as u64 };
        core::arch::asm!(
            "lgdt [{ptr}]",
            "push {cs}",
            "lea {tmp}, [rip + 2f]",
            "push {tmp}",
            "retfq",
            "2:",
            "mov ds, {ds:x}",
            "mov es, {ds:x}",
            "mov ss, {ds:x}",
            "ltr {tss:x}",
            ptr = in(reg) &ptr,
            cs = in(reg) KERNEL_CS as u64,
            ds = in(reg) KERNEL_DS as u64,
            tss = in(reg) TSS_SEL as u64,
            tmp = out(reg) _,
        );
    }
}
