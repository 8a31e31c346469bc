//! Device drivers for the few devices a microvm has: 16550 UARTs, the PIT
//! (for TSC calibration), the CMOS RTC, QEMU's debug-exit/debugcon ports and
//! virtio-mmio devices (the debug shell's console).

pub mod kvmclock;
pub mod qemu;
pub mod rtc;
pub mod serial;
pub mod tsc;
pub mod virtio;
pub mod virtio_console;
