//! QEMU's isa-debugcon (control events for the host) and isa-debug-exit
//! (power off with a status).

use crate::arch::port::{outb, outl};
use runproto::CtlEvent;

struct Ctl;

impl core::fmt::Write for Ctl {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for b in s.bytes() {
            outb(runproto::CTL_PORT, b);
        }
        Ok(())
    }
}

/// Sends a control event to the host.
pub fn send(ev: CtlEvent) {
    use core::fmt::Write;
    let _ = write!(Ctl, "{ev}");
}

/// Tells the host how the run ended, then powers the VM off.
pub fn finish(ev: CtlEvent) -> ! {
    send(ev);
    let code = match ev {
        CtlEvent::Exit(s) => s as u32,
        CtlEvent::Panic | CtlEvent::Ready => 0x7f,
    };
    outl(runproto::EXIT_PORT, code);
    // Without the debug-exit device QEMU keeps running: stop here.
    crate::arch::cpu::halt_forever()
}
