//! Structures as strace prints them without `-v`: `{st_mode=S_IFREG|0644,
//! st_size=42, ...}`, `{tv_sec=0, tv_nsec=1000}`, `[CHLD]`, ...

use alloc::format;
use alloc::string::String;
use core::fmt::Write;

use linux_abi::decl::{FlagSet, StructKind, SyscallDecl};
use linux_abi::flags::*;
use linux_abi::names::DisplayFlags;
use linux_abi::sysno::nr;
use linux_abi::trace::capture::Phase;
use linux_abi::trace::record::Record;

use crate::line::mode;
use crate::quote::{quoted, quoted_cstr};

fn u16_at(d: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([d[at], d[at + 1]])
}
fn u32_at(d: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(d[at..at + 4].try_into().unwrap())
}
fn u64_at(d: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(d[at..at + 8].try_into().unwrap())
}
fn i64_at(d: &[u8], at: usize) -> i64 {
    u64_at(d, at) as i64
}

/// strace's signal name without the `SIG` prefix: `INT`, `RTMIN` (32),
/// `RT_1` (33), ...; `None` for numbers outside 1..=64.
pub fn signame(sig: i32) -> Option<String> {
    match sig {
        1..=31 => Some(String::from(&linux_abi::signal::name(sig as u32)[3..])),
        32 => Some(String::from("RTMIN")),
        33..=64 => Some(format!("RT_{}", sig - 32)),
        _ => None,
    }
}

/// A kernel sigset (`[CHLD]`, `~[RTMIN RT_1]` when 2/3 or more are set, `[]`).
pub fn sigset(s: &mut String, mask: u64) {
    let (mask, inv) = if mask.count_ones() >= 64 * 2 / 3 { (!mask, true) } else { (mask, false) };
    if inv {
        s.push('~');
    }
    s.push('[');
    let mut first = true;
    for sig in 1..=64 {
        if mask & (1u64 << (sig - 1)) != 0 {
            if !first {
                s.push(' ');
            }
            first = false;
            s.push_str(&signame(sig).unwrap_or_default());
        }
    }
    s.push(']');
}

pub fn timespec(s: &mut String, d: &[u8]) {
    if d.len() < 16 {
        return;
    }
    let _ = write!(s, "{{tv_sec={}, tv_nsec={}}}", i64_at(d, 0), i64_at(d, 8));
}

fn timeval(s: &mut String, d: &[u8]) {
    let _ = write!(s, "{{tv_sec={}, tv_usec={}}}", i64_at(d, 0), i64_at(d, 8));
}

fn file_type(m: u32) -> Option<&'static str> {
    Some(match m & S_IFMT {
        S_IFREG => "S_IFREG",
        S_IFDIR => "S_IFDIR",
        S_IFCHR => "S_IFCHR",
        S_IFBLK => "S_IFBLK",
        S_IFIFO => "S_IFIFO",
        S_IFLNK => "S_IFLNK",
        S_IFSOCK => "S_IFSOCK",
        _ => return None,
    })
}

/// `st_mode` as strace prints it: `S_IFREG|0644`, `S_IFDIR|S_ISVTX|0777`.
pub fn st_mode(s: &mut String, m: u32) {
    match file_type(m) {
        Some(t) => {
            s.push_str(t);
            s.push('|');
        }
        None if m & S_IFMT != 0 => {
            let _ = write!(s, "{:#o}|", m & S_IFMT);
        }
        None => {}
    }
    for (bit, name) in [(0o4000, "S_ISUID|"), (0o2000, "S_ISGID|"), (0o1000, "S_ISVTX|")] {
        if m & bit != 0 {
            s.push_str(name);
        }
    }
    mode(s, (m & 0o777) as u64);
}

/// `makedev(0x1, 0x5)` of a dev_t (glibc's major/minor split).
fn makedev(s: &mut String, dev: u64) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let h = |v: u64| if v == 0 { String::from("0") } else { format!("{v:#x}") };
    let _ = write!(s, "makedev({}, {})", h(major), h(minor));
}

fn stat(s: &mut String, d: &[u8]) {
    let m = u32_at(d, 24);
    s.push_str("{st_mode=");
    st_mode(s, m);
    if matches!(m & S_IFMT, S_IFCHR | S_IFBLK) {
        s.push_str(", st_rdev=");
        makedev(s, u64_at(d, 40));
    } else {
        let _ = write!(s, ", st_size={}", i64_at(d, 48));
    }
    s.push_str(", ...}");
}

fn utsname(s: &mut String, d: &[u8]) {
    s.push_str("{sysname=");
    quoted_cstr(s, &d[..65], false);
    s.push_str(", nodename=");
    quoted_cstr(s, &d[65..130], false);
    s.push_str(", ...}");
}

fn rlim(s: &mut String, v: u64, infinity: &str) {
    if v == u64::MAX {
        s.push_str(infinity);
    } else if v > 1024 && v % 1024 == 0 {
        let _ = write!(s, "{}*1024", v / 1024);
    } else {
        let _ = write!(s, "{v}");
    }
}

fn rlimit(s: &mut String, d: &[u8], infinity: &str) {
    s.push_str("{rlim_cur=");
    rlim(s, u64_at(d, 0), infinity);
    s.push_str(", rlim_max=");
    rlim(s, u64_at(d, 8), infinity);
    s.push('}');
}

fn sigaction(s: &mut String, d: &[u8]) {
    let (handler, fl, restorer, mask) = (u64_at(d, 0), u64_at(d, 8), u64_at(d, 16), u64_at(d, 24));
    s.push_str("{sa_handler=");
    match handler {
        0 => s.push_str("SIG_DFL"),
        1 => s.push_str("SIG_IGN"),
        h => {
            let _ = write!(s, "{h:#x}");
        }
    }
    s.push_str(", sa_mask=");
    sigset(s, mask);
    let _ = write!(s, ", sa_flags={}", DisplayFlags(FlagSet::Sigaction, fl));
    if fl & linux_abi::signal::SA_RESTORER != 0 {
        let _ = write!(s, ", sa_restorer={restorer:#x}");
    }
    s.push('}');
}

/// `[{fd=5, events=POLLIN}]` (entry) or `[{fd=5, revents=POLLIN}]` (exit:
/// only the entries with events).
pub fn pollfds(s: &mut String, d: &[u8], revents: bool, more: bool) {
    s.push('[');
    let mut first = true;
    for p in d.as_chunks::<8>().0 {
        let fd = u32_at(p, 0) as i32;
        let ev = if revents { u16_at(p, 6) } else { u16_at(p, 4) };
        if revents && ev == 0 {
            continue;
        }
        if !first {
            s.push_str(", ");
        }
        first = false;
        let _ = write!(s, "{{fd={fd}, {}={}}}", if revents { "revents" } else { "events" }, DisplayFlags(FlagSet::Poll, ev as u64));
    }
    if more {
        s.push_str(", ...");
    }
    s.push(']');
}

/// The iovec array `iov` (raw `struct iovec`s) with each element's buffer
/// from the blobs of `arg` captured at `phase`; `total` bytes at most are
/// shown across elements (readv: what was read).
#[allow(clippy::too_many_arguments)]
pub fn iovecs(s: &mut String, rec: &Record<'_>, arg: u8, iov: &[u8], cnt: usize, phase: Phase, total: u64, max: usize) {
    s.push('[');
    let mut left = total;
    let n = (iov.len() / 16).min(cnt);
    let data_cap = rec.plan().captures().iter().position(|c| c.arg == arg && matches!(c.extent, linux_abi::trace::capture::Extent::IovData { .. }));
    for e in 0..n {
        if e > 0 {
            s.push_str(", ");
        }
        let (base, len) = (u64_at(iov, 16 * e), u64_at(iov, 16 * e + 8));
        s.push_str("{iov_base=");
        let data = rec.blobs().find(|b| b.arg == arg && b.elem == e as u8 && b.phase() == phase && Some(b.cap as usize) == data_cap);
        match data {
            _ if base == 0 => s.push_str("NULL"),
            Some(b) if !b.fault() => {
                let avail = len.min(left);
                quoted(s, b.data, max, b.truncated() || avail > b.data.len() as u64);
            }
            _ => {
                let _ = write!(s, "{base:#x}");
            }
        }
        left = left.saturating_sub(len);
        let _ = write!(s, ", iov_len={len}}}");
    }
    if cnt > n {
        s.push_str(", ...");
    }
    s.push(']');
}

pub fn winsize(s: &mut String, d: &[u8]) {
    let _ = write!(s, "{{ws_row={}, ws_col={}, ws_xpixel={}, ws_ypixel={}}}", u16_at(d, 0), u16_at(d, 2), u16_at(d, 4), u16_at(d, 6));
}

/// `CBAUD` values, in strace's order (its xlat/baud_options.in).
const BAUDS: [(u32, &str); 32] = [
    (0, "B0"),
    (1, "B50"),
    (2, "B75"),
    (3, "B110"),
    (4, "B134"),
    (5, "B150"),
    (6, "B200"),
    (7, "B300"),
    (8, "B600"),
    (9, "B1200"),
    (10, "B1800"),
    (11, "B2400"),
    (12, "B4800"),
    (13, "B9600"),
    (14, "B19200"),
    (15, "B38400"),
    (0o10001, "B57600"),
    (0o10002, "B115200"),
    (0o10003, "B230400"),
    (0o10004, "B460800"),
    (0o10005, "B500000"),
    (0o10006, "B576000"),
    (0o10007, "B921600"),
    (0o10010, "B1000000"),
    (0o10011, "B1152000"),
    (0o10012, "B1500000"),
    (0o10013, "B2000000"),
    (0o10014, "B2500000"),
    (0o10015, "B3000000"),
    (0o10016, "B3500000"),
    (0o10017, "B4000000"),
    (0o10000, "BOTHER"),
];

const IFLAGS: &[(u32, &str)] = &[
    (0o1, "IGNBRK"),
    (0o2, "BRKINT"),
    (0o4, "IGNPAR"),
    (0o10, "PARMRK"),
    (0o20, "INPCK"),
    (0o40, "ISTRIP"),
    (0o100, "INLCR"),
    (0o200, "IGNCR"),
    (0o400, "ICRNL"),
    (0o1000, "IUCLC"),
    (0o2000, "IXON"),
    (0o4000, "IXANY"),
    (0o10000, "IXOFF"),
    (0o20000, "IMAXBEL"),
    (0o40000, "IUTF8"),
];
const OFLAGS: &[(u32, &str)] = &[(0o1, "OPOST"), (0o2, "OLCUC"), (0o4, "ONLCR"), (0o10, "OCRNL"), (0o20, "ONOCR"), (0o40, "ONLRET"), (0o100, "OFILL"), (0o200, "OFDEL")];
const CFLAGS: &[(u32, &str)] = &[
    (0o100, "CSTOPB"),
    (0o200, "CREAD"),
    (0o400, "PARENB"),
    (0o1000, "PARODD"),
    (0o2000, "HUPCL"),
    (0o4000, "CLOCAL"),
    (0o10000000000, "CMSPAR"),
    (0o20000000000, "CRTSCTS"),
];
const LFLAGS: &[(u32, &str)] = &[
    (0o1, "ISIG"),
    (0o2, "ICANON"),
    (0o4, "XCASE"),
    (0o10, "ECHO"),
    (0o20, "ECHOE"),
    (0o40, "ECHOK"),
    (0o100, "ECHONL"),
    (0o200, "NOFLSH"),
    (0o100000, "IEXTEN"),
    (0o1000, "ECHOCTL"),
    (0o2000, "ECHOPRT"),
    (0o4000, "ECHOKE"),
    (0o10000, "FLUSHO"),
    (0o40000, "PENDIN"),
    (0o400, "TOSTOP"),
    (0o200000, "EXTPROC"),
];

/// strace's `printflags`: names joined by `|`, the rest in hex, `0` for none.
fn term_flags(s: &mut String, table: &[(u32, &str)], v: u32) {
    let mut rest = v;
    let mut any = false;
    for &(bit, name) in table {
        if rest & bit == bit && bit != 0 {
            if any {
                s.push('|');
            }
            s.push_str(name);
            rest &= !bit;
            any = true;
        }
    }
    if rest != 0 {
        if any {
            s.push('|');
        }
        let _ = write!(s, "{rest:#x}");
    } else if !any {
        s.push('0');
    }
}

fn baud(s: &mut String, v: u32) {
    match BAUDS.iter().find(|b| b.0 == v) {
        Some((_, n)) => s.push_str(n),
        None => {
            let _ = write!(s, "{v:#x} /* B??? */");
        }
    }
}

/// `struct termios` as strace 6.1 prints it without `-v` (its `term.c`):
/// `{c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR,
/// c_cflag=B38400|CS8|CREAD, c_lflag=ISIG|ICANON|ECHO|..., ...}`.
pub fn termios(s: &mut String, d: &[u8]) {
    let (iflag, oflag, cflag, lflag) = (u32_at(d, 0), u32_at(d, 4), u32_at(d, 8), u32_at(d, 12));
    s.push_str("{c_iflag=");
    term_flags(s, IFLAGS, iflag);
    s.push_str(", c_oflag=");
    let mut o = oflag;
    let fields: [(u32, &[&str]); 6] = [
        (0o400, &["NL0", "NL1"]),
        (0o3000, &["CR0", "CR1", "CR2", "CR3"]),
        (0o14000, &["TAB0", "TAB1", "TAB2", "XTABS"]),
        (0o20000, &["BS0", "BS1"]),
        (0o40000, &["VT0", "VT1"]),
        (0o100000, &["FF0", "FF1"]),
    ];
    for (mask, names) in fields {
        let shift = mask.trailing_zeros();
        s.push_str(names[((o & mask) >> shift) as usize]);
        s.push('|');
        o &= !mask;
    }
    term_flags(s, OFLAGS, o);
    s.push_str(", c_cflag=");
    const CBAUD: u32 = 0o10017;
    const CIBAUD: u32 = CBAUD << 16;
    const CSIZE: u32 = 0o60;
    baud(s, cflag & CBAUD);
    s.push('|');
    if cflag & CIBAUD != 0 {
        baud(s, (cflag & CIBAUD) >> 16);
        s.push_str("<<IBSHIFT|");
    }
    s.push_str(["CS5", "CS6", "CS7", "CS8"][((cflag & CSIZE) >> 4) as usize]);
    s.push('|');
    term_flags(s, CFLAGS, cflag & !(CBAUD | CIBAUD | CSIZE));
    s.push_str(", c_lflag=");
    term_flags(s, LFLAGS, lflag);
    s.push_str(", ...}");
}

const STATX_ATTRS: [(u64, &str); 9] = [
    (0x4, "STATX_ATTR_COMPRESSED"),
    (0x10, "STATX_ATTR_IMMUTABLE"),
    (0x20, "STATX_ATTR_APPEND"),
    (0x40, "STATX_ATTR_NODUMP"),
    (0x800, "STATX_ATTR_ENCRYPTED"),
    (0x1000, "STATX_ATTR_AUTOMOUNT"),
    (0x2000, "STATX_ATTR_MOUNT_ROOT"),
    (0x100000, "STATX_ATTR_VERITY"),
    (0x200000, "STATX_ATTR_DAX"),
];

/// `{stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFREG|0644, stx_size=1221, ...}`.
fn statx(s: &mut String, d: &[u8]) {
    let _ = write!(s, "{{stx_mask={}, stx_attributes=", DisplayFlags(FlagSet::StatxMask, u32_at(d, 0) as u64));
    let attrs = u64_at(d, 8);
    let mut rest = attrs;
    let mut any = false;
    for (bit, name) in STATX_ATTRS {
        if rest & bit != 0 {
            s.push_str(if any { "|" } else { "" });
            s.push_str(name);
            rest &= !bit;
            any = true;
        }
    }
    match (rest, any) {
        (0, true) => {}
        (0, false) => s.push('0'),
        (r, _) => {
            let _ = write!(s, "{}{r:#x}", if any { "|" } else { "" });
        }
    }
    s.push_str(", stx_mode=");
    st_mode(s, u16_at(d, 28) as u32);
    let _ = write!(s, ", stx_size={}, ...}}", u64_at(d, 40));
}

/// Decodes a struct of kind `k`; false if it is not decoded (the caller
/// prints the address).
pub fn decode(s: &mut String, k: StructKind, d: &[u8], call: &SyscallDecl) -> bool {
    let need = linux_abi::trace::capture::struct_size(k) as usize;
    if d.len() < need {
        return false;
    }
    match k {
        StructKind::Stat => stat(s, d),
        StructKind::Timespec => timespec(s, d),
        StructKind::Timeval => timeval(s, d),
        StructKind::Utsname => utsname(s, d),
        StructKind::Rlimit => rlimit(s, d, if call.nr == nr::PRLIMIT64 { "RLIM64_INFINITY" } else { "RLIM_INFINITY" }),
        StructKind::Sigaction => sigaction(s, d),
        StructKind::Sigset => sigset(s, u64_at(d, 0)),
        StructKind::Statx => statx(s, d),
        StructKind::Stack => {
            s.push_str("{ss_sp=");
            match u64_at(d, 0) {
                0 => s.push_str("NULL"),
                p => {
                    let _ = write!(s, "{p:#x}");
                }
            }
            s.push_str(", ss_flags=");
            term_flags(s, &[(1, "SS_ONSTACK"), (2, "SS_DISABLE"), (1 << 31, "SS_AUTODISARM")], u32_at(d, 8));
            let _ = write!(s, ", ss_size={}}}", u64_at(d, 16));
        }
        StructKind::Sysinfo => {
            let _ = write!(
                s,
                "{{uptime={}, loads=[{}, {}, {}], totalram={}, freeram={}, sharedram={}, bufferram={}, totalswap={}, freeswap={}, procs={}, totalhigh={}, freehigh={}, mem_unit={}}}",
                i64_at(d, 0),
                u64_at(d, 8),
                u64_at(d, 16),
                u64_at(d, 24),
                u64_at(d, 32),
                u64_at(d, 40),
                u64_at(d, 48),
                u64_at(d, 56),
                u64_at(d, 64),
                u64_at(d, 72),
                u16_at(d, 80),
                u64_at(d, 88),
                u64_at(d, 96),
                u32_at(d, 104)
            );
        }
        StructKind::FdPair => {
            let _ = write!(s, "[{}, {}]", u32_at(d, 0) as i32, u32_at(d, 4) as i32);
        }
        StructKind::Int | StructKind::Tid => {
            let _ = write!(s, "[{}]", u32_at(d, 0) as i32);
        }
        StructKind::Uid | StructKind::Gid => {
            let _ = write!(s, "[{}]", u32_at(d, 0) as i32);
        }
        StructKind::TimeT | StructKind::OffT => {
            let _ = write!(s, "[{}]", i64_at(d, 0));
        }
        StructKind::TimespecPair => {
            s.push('[');
            timespec(s, &d[..16]);
            s.push_str(", ");
            timespec(s, &d[16..32]);
            s.push(']');
        }
        _ => return false,
    }
    true
}
