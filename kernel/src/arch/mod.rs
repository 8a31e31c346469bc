//! Everything that touches the CPU directly. All of the kernel's `unsafe`
//! lives here and in `drivers/`; the rest of the kernel is safe Rust on top.

pub mod apic;
pub mod boot;
pub mod cpu;
pub mod execmem;
pub mod gdt;
pub mod idt;
pub mod ioapic;
pub mod mem;
pub mod paging;
pub mod percpu;
pub mod port;
pub mod syscall;
pub mod task;
pub mod tracing;
pub mod usermode;
pub mod wx;
