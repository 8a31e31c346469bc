//! 16550 UART, polled. COM1 carries the app's stdout and framed stdin, COM2
//! its stderr and the kernel log (see the `runproto` crate).

use crate::arch::port::{inb, outb};

#[derive(Clone, Copy)]
pub struct Uart {
    base: u16,
}

const LSR_DATA_READY: u8 = 1;
const LSR_THR_EMPTY: u8 = 1 << 5;

pub const COM1: Uart = Uart { base: runproto::STDIO_PORT };
pub const COM2: Uart = Uart { base: runproto::STDERR_PORT };

impl Uart {
    /// Programs the UART for polling. With `fifo`, the 16-byte FIFOs are
    /// switched on (which clears them): the host hands over 16 bytes per
    /// QEMU main-loop pass instead of one.
    pub fn init(&self, fifo: bool) {
        let b = self.base;
        outb(b + 1, 0x00); // no interrupts: the kernel polls
        outb(b + 3, 0x80); // DLAB
        outb(b, 0x01); // 115200 baud (QEMU ignores it)
        outb(b + 1, 0x00);
        outb(b + 3, 0x03); // 8N1
        outb(b + 2, if fifo { 0x07 } else { 0x00 });
        outb(b + 4, 0x03); // DTR | RTS
    }

    pub fn write_byte(&self, c: u8) {
        while inb(self.base + 5) & LSR_THR_EMPTY == 0 {
            core::hint::spin_loop();
        }
        outb(self.base, c);
    }

    pub fn write(&self, bytes: &[u8]) {
        for &c in bytes {
            self.write_byte(c);
        }
    }

    /// A received byte, if one is waiting.
    pub fn try_read(&self) -> Option<u8> {
        (inb(self.base + 5) & LSR_DATA_READY != 0).then(|| inb(self.base))
    }
}

impl core::fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.write(s.as_bytes());
        Ok(())
    }
}
