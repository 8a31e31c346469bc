//! The kernel log: lines prefixed `[ushell] ` on COM2, which the host shows
//! on stderr. `debug` lines appear only with `ushell.log=debug`.

use core::sync::atomic::{AtomicBool, Ordering};

static DEBUG: AtomicBool = AtomicBool::new(false);

pub fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

pub fn debug_enabled() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

pub fn write_line(args: core::fmt::Arguments<'_>) {
    use core::fmt::Write;
    let mut out = crate::drivers::serial::COM2;
    let _ = out.write_str("[ushell] ");
    let _ = out.write_fmt(args);
    let _ = out.write_str("\n");
}

#[macro_export]
macro_rules! kinfo {
    ($($arg:tt)*) => { $crate::log::write_line(format_args!($($arg)*)) };
}

/// `kinfo!` the first time this line runs only: for notes about what the
/// app does that would otherwise repeat on every call (the fuzzer makes
/// millions).
#[macro_export]
macro_rules! kinfo_once {
    ($($arg:tt)*) => {{
        static SAID: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
        if !SAID.swap(true, core::sync::atomic::Ordering::Relaxed) {
            $crate::log::write_line(format_args!($($arg)*))
        }
    }};
}

#[macro_export]
macro_rules! kdebug {
    ($($arg:tt)*) => {
        if $crate::log::debug_enabled() { $crate::log::write_line(format_args!($($arg)*)) }
    };
}
