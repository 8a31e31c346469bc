//! Parses what the guest programs print: the bench app's `GUESTBENCH k=v ...`
//! line and the floor kernel's `FLOOR tsc=<hex>` line.

/// The bench app's measurements (all in TSC ticks = guest instructions
/// under icount).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchLine {
    /// TSC read at the app's first instruction (its ELF entry point).
    pub entry_tsc: u64,
    /// TSC read first thing in `main`, after libc start-up.
    pub main_tsc: u64,
    pub iters: u64,
    /// Fastest repetition of `iters` getppid round trips.
    pub sys_min: u64,
    pub sys_med: u64,
    /// Fastest repetition of the same loop without the `syscall` instruction.
    pub empty_min: u64,
    pub empty_med: u64,
    /// The same round trips through musl's `syscall()` wrapper.
    pub libc_min: u64,
    pub libc_med: u64,
}

impl BenchLine {
    /// Instructions per getppid round trip, loop overhead subtracted.
    pub fn per_syscall(&self) -> f64 {
        self.sys_min.saturating_sub(self.empty_min) as f64 / self.iters as f64
    }

    /// The same from the median repetitions, to show the spread.
    pub fn per_syscall_median(&self) -> f64 {
        self.sys_med.saturating_sub(self.empty_med) as f64 / self.iters as f64
    }

    /// Instructions per `syscall(SYS_getppid)` call, wrapper included.
    pub fn per_libc_syscall(&self) -> f64 {
        self.libc_min.saturating_sub(self.empty_min) as f64 / self.iters as f64
    }
}

pub fn parse_bench(serial: &str) -> Option<BenchLine> {
    let line = serial.lines().find_map(|l| l.trim().strip_prefix("GUESTBENCH "))?;
    let field = |key: &str| -> Option<u64> {
        line.split_whitespace().find_map(|kv| kv.strip_prefix(key)?.strip_prefix('=')?.parse().ok())
    };
    Some(BenchLine {
        entry_tsc: field("entry_tsc")?,
        main_tsc: field("main_tsc")?,
        iters: field("iters").filter(|n| *n > 0)?,
        sys_min: field("sys_min")?,
        sys_med: field("sys_med")?,
        empty_min: field("empty_min")?,
        empty_med: field("empty_med")?,
        libc_min: field("libc_min")?,
        libc_med: field("libc_med")?,
    })
}

/// Linux's `/proc/uptime` as /init printed it: (uptime, idle) in seconds.
pub fn parse_linux_uptime(serial: &str) -> Option<(f64, f64)> {
    let line = serial.lines().find_map(|l| l.trim().strip_prefix("LINUXUPTIME "))?;
    let mut it = line.split_whitespace().map(|w| w.parse::<f64>().ok());
    Some((it.next()??, it.next()??))
}

pub fn parse_floor(serial: &str) -> Option<u64> {
    let hex = serial.lines().find_map(|l| l.trim().strip_prefix("FLOOR tsc="))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bench_line_amid_boot_noise() {
        let s = "[    0.1] booting\nGUESTBENCH entry_tsc=6161700000 main_tsc=6161705425 iters=2000 reps=25 \
                 sys_min=650007 sys_med=650100 empty_min=6007 empty_med=6009 libc_min=682007 libc_med=682007 ppid=0\n";
        let b = parse_bench(s).unwrap();
        assert_eq!(b.entry_tsc, 6161700000);
        assert_eq!(b.main_tsc, 6161705425);
        assert_eq!(b.per_syscall(), 322.0);
        assert_eq!(b.per_libc_syscall(), 338.0);
        assert_eq!(b.per_syscall_median(), (650100.0 - 6009.0) / 2000.0);
    }

    #[test]
    fn bench_line_missing_field_or_zero_iters() {
        assert_eq!(parse_bench("GUESTBENCH main_tsc=1 iters=2 sys_min=3\n"), None);
        assert_eq!(parse_bench(
                "GUESTBENCH entry_tsc=1 main_tsc=1 iters=0 sys_min=3 sys_med=3 empty_min=1 empty_med=1 libc_min=1 libc_med=1"
            ), None);
        assert_eq!(parse_bench("hello\n"), None);
    }

    #[test]
    fn linux_uptime_line() {
        assert_eq!(parse_linux_uptime("x\nLINUXUPTIME 1.75 0.42\n"), Some((1.75, 0.42)));
        assert_eq!(parse_linux_uptime("LINUXUPTIME 1.75\n"), None);
    }

    #[test]
    fn floor_line() {
        assert_eq!(parse_floor("x\nFLOOR tsc=00000000000012aa\n"), Some(0x12aa));
        assert_eq!(parse_floor("FLOOR tsc=zz\n"), None);
        assert_eq!(parse_floor(""), None);
    }
}
