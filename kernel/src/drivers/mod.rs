//! Device drivers for the few devices a microvm has: 16550 UARTs, the PIT
//! (for TSC calibration), the CMOS RTC and QEMU's debug-exit/debugcon ports.

pub mod kvmclock;
pub mod qemu;
pub mod rtc;
pub mod serial;
pub mod tsc;
