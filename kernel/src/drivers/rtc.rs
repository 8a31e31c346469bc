//! CMOS real-time clock: read once at boot to anchor CLOCK_REALTIME.

use crate::arch::port::{inb, outb};

fn reg(r: u8) -> u8 {
    outb(0x70, r);
    inb(0x71)
}

fn bcd(v: u8) -> u64 {
    ((v >> 4) * 10 + (v & 0xf)) as u64
}

/// Days from 1970-01-01 to the given civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u64, d: u64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy as i64;
    era * 146097 + doe - 719468
}

/// Seconds since the epoch, as the RTC reports them (UTC in QEMU), or
/// `None` when there is no RTC (microvm under KVM has none by default).
pub fn unix_time() -> Option<u64> {
    let mut tries = 0;
    loop {
        let status = reg(0x0a);
        if status == 0xff {
            return None; // floating bus: no device
        }
        if status & 0x80 == 0 {
            break;
        }
        tries += 1;
        if tries > 100_000 {
            return None; // update-in-progress never clears
        }
        core::hint::spin_loop();
    }
    let b = reg(0x0b);
    let conv = |v: u8| if b & 0x04 != 0 { v as u64 } else { bcd(v) };
    let sec = conv(reg(0x00));
    let min = conv(reg(0x02));
    let hour_raw = reg(0x04);
    let mut hour = conv(hour_raw & 0x7f);
    if b & 0x02 == 0 && hour_raw & 0x80 != 0 {
        hour = (hour % 12) + 12;
    }
    let day = conv(reg(0x07));
    let month = conv(reg(0x08));
    let year = 2000 + conv(reg(0x09)) as i64;
    let days = days_from_civil(year, month, day);
    Some((days.max(0) as u64) * 86400 + hour * 3600 + min * 60 + sec)
}
