//! The unikernel: boots from QEMU's PVH entry, seeds a ramfs from the
//! initrd, loads one Linux ELF program and runs it in ring 3, answering its
//! system calls the way Linux would. See ARCHITECTURE.md for the map.
#![no_std]
#![no_main]
// Every unsafe block says why it is sound; only arch/ and drivers/ may
// have them.
#![deny(clippy::undocumented_unsafe_blocks)]
// Every module is `deny(unsafe_code)` unless allowed here: a new module
// gets the rule without anyone remembering it.
#![deny(unsafe_code)]

extern crate alloc;

#[allow(unsafe_code)]
mod arch;
mod boot_info;
mod cpuinfo;
#[allow(unsafe_code)]
mod drivers;
mod exec;
mod fs;
mod log;
mod mm;
mod process;
mod random;
mod shell;
mod sync;
mod syscall;
mod systrace;
mod task;
mod testhooks;
mod time;
mod trace;
mod trap;

use drivers::serial::{COM1, COM2};

/// Called by the boot stub in long mode, on the boot stack.
// The boot stub calls this symbol by name; nothing else exports it.
#[allow(unsafe_code)]
#[no_mangle]
pub extern "C" fn kernel_entry64(start_info_phys: u32) -> ! {
    let boot_tsc = arch::cpu::rdtsc();
    COM1.init(true);
    COM2.init(false);
    // The host holds stdin back until now, so the FIFO reset loses nothing.
    drivers::qemu::send(runproto::CtlEvent::Ready);
    kdebug_early("entry");
    // rsp0 is set per task by the context switch.
    arch::gdt::init(0);
    arch::percpu::init();
    kdebug_early("gdt");
    arch::idt::init(trap::handle);
    kdebug_early("idt");
    // Mask the legacy PICs: the kernel polls and wants no stray IRQs.
    arch::port::outb(0x21, 0xff);
    arch::port::outb(0xa1, 0xff);

    let info = boot_info::read(start_info_phys as u64);
    let mut test_hooks = None;
    let mut boot_trace: Option<&str> = None;
    let mut trace_ring = 0u32;
    for word in info.cmdline.split_whitespace() {
        match word.split_once('=') {
            Some(("ushell.log", "debug")) => {
                log::set_debug(true);
                syscall::debug_log_changed();
            }
            Some(("ushell.sleep", "poll")) => time::set_polling_sleep(true),
            Some(("ushell.test", list)) => test_hooks = Some(list),
            Some(("ushell.shell", opts)) => shell::set_option(opts),
            Some(("ushell.trace", spec)) => boot_trace = Some(spec),
            Some(("ushell.trace_ring", n)) => trace_ring = n.parse().unwrap_or(0),
            _ => {}
        }
    }
    kdebug_early("info");
    boot_info::give_ram_to_heap(&info);
    kdebug_early("heap");
    arch::paging::drop_identity_map();
    if let Err(e) = arch::wx::harden() {
        kinfo!("paging: the kernel's mappings stay writable and executable: {e}");
    }
    kdebug_early("paging");
    drivers::tsc::init(boot_tsc);
    kdebug_early("tsc");
    time::init();
    random::init();
    kdebug_early("rand");
    arch::cpu::enable_user_fpu();
    let prot = arch::cpu::enable_protections();
    kdebug_early("fpu");
    kdebug!("cpu: SMEP {}, SMAP {}, UMIP {}", prot.smep, prot.smap, prot.umip);
    arch::syscall::init(syscall::entry_handler());
    task::init();
    if let Some(list) = test_hooks {
        testhooks::enable(list);
    }
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
    process::register(proc.clone());
    let thread = alloc::sync::Arc::new(process::Thread::first(proc, &entry));
    kdebug!("boot: entering app at {:#x} after {} TSC ticks", entry.rip, arch::cpu::rdtsc() - boot_tsc);
    if let Err(e) = task::spawn_user(thread, move || arch::usermode::enter(entry.rip, entry.rsp)) {
        kinfo!("cannot start the app: no memory for its task ({e:?})");
        drivers::qemu::finish(runproto::CtlEvent::Exit(126));
    }
    // The debug shell, if a virtio console is attached: queued after the
    // app, so the app starts first and the shell's first round (the host's
    // hello, which reads the clock and so calibrates the TSC) does not
    // delay it.
    trace::init();
    // BPF hash maps seed their hash from this (per map), so an app cannot
    // predict collisions in a program's map.
    bpf_runtime::maps::hash::set_seed(random::next_u64());
    if let Some(spec) = boot_trace {
        systrace::start_at_boot(spec, trace_ring);
    }
    shell::start(info.cmdline);
    // The boot context becomes the idle task; it ends the run once the
    // app has exited.
    task::idle_loop(run_over)
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

/// The run is over once the app has exited and the shell has sent what it
/// still holds (its last syscall records and program output).
fn run_over() -> Option<runproto::CtlEvent> {
    let ev = process::run_over()?;
    (!shell::flush_pending()).then_some(ev)
}
