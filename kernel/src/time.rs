//! Clocks: monotonic time from the calibrated TSC, wall time anchored to
//! the RTC at boot.

use core::sync::atomic::{AtomicU64, Ordering};

static BOOT_EPOCH_NS: AtomicU64 = AtomicU64::new(0);

pub fn init() {
    let ns = match crate::drivers::rtc::unix_time() {
        Some(secs) => secs * 1_000_000_000,
        None => match crate::drivers::kvmclock::wall_clock_ns() {
            Some(ns) => ns,
            None => {
                crate::kinfo!("warning: no RTC and no KVM wall clock: CLOCK_REALTIME starts at 1970");
                0
            }
        },
    };
    BOOT_EPOCH_NS.store(ns, Ordering::Relaxed);
}

pub fn monotonic_ns() -> u64 {
    crate::drivers::tsc::monotonic_ns()
}

/// Wall time for file timestamps: exact once the clock is calibrated, the
/// boot time before (so seeding the ramfs at boot does not pay for a
/// calibration that many programs never need).
pub fn coarse_realtime_ns() -> u64 {
    BOOT_EPOCH_NS.load(Ordering::Relaxed) + crate::drivers::tsc::monotonic_ns_if_calibrated().unwrap_or(0)
}

pub fn realtime_ns() -> u64 {
    BOOT_EPOCH_NS.load(Ordering::Relaxed) + monotonic_ns()
}

static POLLING_SLEEP: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// `ushell.sleep=poll`: sleeps spin on the clock, as before the scheduler,
/// so the benchmark can show what blocking saves in the same run.
pub fn set_polling_sleep(on: bool) {
    POLLING_SLEEP.store(on, Ordering::Relaxed);
}

/// Puts the current task to sleep until the monotonic clock reaches
/// `deadline`; the CPU runs other tasks or halts meanwhile.
pub fn sleep_until(deadline: u64) {
    if POLLING_SLEEP.load(Ordering::Relaxed) {
        while monotonic_ns() < deadline {
            core::hint::spin_loop();
        }
        return;
    }
    crate::task::sleep_until(deadline);
}
