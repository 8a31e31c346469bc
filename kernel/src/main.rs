//! The unikernel: boots from QEMU's PVH entry, seeds a ramfs from the
//! initrd, loads one Linux ELF program and runs it in ring 3, answering its
//! system calls the way Linux would. See ARCHITECTURE.md for the map.
#![no_std]
#![no_main]

extern crate alloc;

mod arch;
mod boot_info;
mod cpuinfo;
mod drivers;
mod exec;
mod fs;
mod log;
mod mm;
mod process;
mod random;
mod syscall;
mod time;
mod trap;

use drivers::serial::{COM1, COM2};

#[repr(C, align(16))]
struct KernelStack([u8; 65536]);
static mut SYSCALL_STACK: KernelStack = KernelStack([0; 65536]);

/// Called by the boot stub in long mode, on the boot stack.
#[no_mangle]
pub extern "C" fn kernel_entry64(start_info_phys: u32) -> ! {
    let boot_tsc = arch::cpu::rdtsc();
    COM1.init(true);
    COM2.init(false);
    // The host holds stdin back until now, so the FIFO reset loses nothing.
    drivers::qemu::send(runproto::CtlEvent::Ready);
    kdebug_early("entry");
    let kstack_top = (&raw const SYSCALL_STACK as u64) + core::mem::size_of::<KernelStack>() as u64;
    arch::gdt::init(kstack_top);
    kdebug_early("gdt");
    arch::idt::init();
    kdebug_early("idt");
    // Mask the legacy PICs: the kernel polls and wants no stray IRQs.
    arch::port::outb(0x21, 0xff);
    arch::port::outb(0xa1, 0xff);

    let info = boot_info::read(start_info_phys as u64);
    for line in info.cmdline.split_whitespace() {
        if line == "ushell.log=debug" {
            log::set_debug(true);
        }
    }
    kdebug_early("info");
    boot_info::give_ram_to_heap(&info);
    kdebug_early("heap");
    arch::paging::drop_identity_map();
    kdebug_early("paging");
    drivers::tsc::init(boot_tsc);
    kdebug_early("tsc");
    time::init();
    random::init();
    kdebug_early("rand");
    arch::cpu::enable_user_fpu();
    kdebug_early("fpu");
    arch::syscall::init(kstack_top);
    kdebug!("boot: {} MiB heap, initrd {} bytes", arch::mem::stats().0 >> 20, info.initrd.len());

    fs::init();
    let seeded = fs::with(|v| {
        let n = fs::initrd::seed(v, info.initrd);
        fs::initrd::add_system_files(v);
        n
    });
    if let Err(e) = seeded {
        kinfo!("the initrd is not a valid cpio archive: {e:?}");
        drivers::qemu::finish(runproto::CtlEvent::Panic);
    }
    let (proc, entry) = match exec::load() {
        Ok(x) => x,
        Err(e) => {
            kinfo!("cannot start the app: {e}");
            // Like a shell that cannot exec: 127 when missing, 126 otherwise.
            let status = if matches!(e, exec::ExecError::NotFound(_)) { 127 } else { 126 };
            drivers::qemu::finish(runproto::CtlEvent::Exit(status));
        }
    };
    *process::PROCESS.lock() = Some(proc);
    kdebug!("boot: entering app at {:#x} after {} TSC ticks", entry.rip, arch::cpu::rdtsc() - boot_tsc);
    arch::usermode::enter(entry.rip, entry.rsp)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    kinfo!("KERNEL PANIC: {info}");
    drivers::qemu::finish(runproto::CtlEvent::Panic)
}

/// Boot progress with the TSC, for `ushell.log=debug` (ring-0 code is
/// slow under PVM, so knowing where boot time goes matters).
fn kdebug_early(s: &str) {
    kdebug!("boot: {} at tsc {}", s, arch::cpu::rdtsc());
}
