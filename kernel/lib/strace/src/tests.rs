//! Unit tests per decoder. Each builds a record the way the kernel will:
//! [`linux_abi::trace::record::capture`] over a fake address space, at entry
//! and at exit. Expected lines are strace 6.1's (Debian 12) for the same
//! calls, taken from native runs (tests/native.rs checks them live).

use super::*;
use alloc::string::ToString;
use alloc::vec;
use alloc::vec::Vec;
use linux_abi::sysno::nr;
use linux_abi::trace::capture::{plan, Phase};
use linux_abi::trace::record::{capture, Entry, Fault, Record, RecordWriter, UserMemory, MAX_RECORD};

/// Memory regions: (address, bytes).
struct Mem(Vec<(u64, Vec<u8>)>);

impl UserMemory for Mem {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), Fault> {
        for (base, bytes) in &self.0 {
            if addr >= *base && addr + buf.len() as u64 <= base + bytes.len() as u64 {
                let off = (addr - base) as usize;
                buf.copy_from_slice(&bytes[off..off + buf.len()]);
                return Ok(());
            }
        }
        Err(Fault)
    }
}

fn record(nr: usize, args: [u64; 6], ret: i64, regions: &[(u64, &[u8])], dur_ns: u64) -> Vec<u8> {
    let mem = Mem(regions.iter().map(|(a, b)| (*a, b.to_vec())).collect());
    let mut buf = vec![0u8; MAX_RECORD];
    let e = Entry { nr: nr as u16, pid: 1, tid: 1, args, enter_ns: 5_000 };
    let mut w = RecordWriter::begin(&mut buf, &e).unwrap();
    capture(&mut w, plan(nr), Phase::Entry, 0, &mem);
    capture(&mut w, plan(nr), Phase::Exit, ret, &mem);
    let n = w.finish(ret, 5_000 + dur_ns);
    buf.truncate(n);
    buf
}

fn line(nr: usize, args: [u64; 6], ret: i64, regions: &[(u64, &[u8])]) -> String {
    let buf = record(nr, args, ret, regions, 12_345);
    format_line(&Record::parse(&buf).unwrap(), &Options::default())
}

const FDCWD: u64 = -100i64 as u64;

fn stat_bytes(mode: u32, size: i64, rdev: u64) -> Vec<u8> {
    let mut st = linux_abi::structs::Stat { st_mode: mode, st_size: size, st_rdev: rdev, ..Default::default() };
    st.st_nlink = 1;
    linux_abi::zerocopy::IntoBytes::as_bytes(&st).to_vec()
}

#[test]
fn files() {
    assert_eq!(line(nr::OPENAT, [FDCWD, 0x1000, 0o2000000, 0, 0, 0], 3, &[(0x1000, b"/etc/hosts\0")]), r#"openat(AT_FDCWD, "/etc/hosts", O_RDONLY|O_CLOEXEC) = 3"#);
    assert_eq!(
        line(nr::OPENAT, [FDCWD, 0x1000, 0o1101 | 0o100000, 0o644, 0, 0], 9, &[(0x1000, b"/tmp/st/newf\0")]),
        r#"openat(AT_FDCWD, "/tmp/st/newf", O_WRONLY|O_CREAT|O_TRUNC|O_LARGEFILE, 0644) = 9"#
    );
    assert_eq!(line(nr::OPEN, [0x1000, 0o100001, 0, 0, 0, 0], 3, &[(0x1000, b"/dev/null\0")]), r#"open("/dev/null", O_WRONLY|O_LARGEFILE) = 3"#);
    assert_eq!(line(nr::OPENAT, [FDCWD, 0x1000, 0, 0, 0, 0], -2, &[(0x1000, b"/nope\0")]), r#"openat(AT_FDCWD, "/nope", O_RDONLY)     = -1 ENOENT (No such file or directory)"#);
    assert_eq!(line(nr::CLOSE, [99, 0, 0, 0, 0, 0], -9, &[]), "close(99)                               = -1 EBADF (Bad file descriptor)");
    assert_eq!(line(nr::CLOSE, [3, 0, 0, 0, 0, 0], 0, &[]), "close(3)                                = 0");
    assert_eq!(line(nr::LSEEK, [8, 5, 0, 0, 0, 0], 5, &[]), "lseek(8, 5, SEEK_SET)                   = 5");
    assert_eq!(line(nr::LSEEK, [8, 0, 2, 0, 0, 0], 1221, &[]), "lseek(8, 0, SEEK_END)                   = 1221");
    assert_eq!(line(nr::ACCESS, [0x1000, 6, 0, 0, 0, 0], 0, &[(0x1000, b"/tmp\0")]), r#"access("/tmp", R_OK|W_OK)               = 0"#);
    assert_eq!(line(nr::ACCESS, [0x1000, 0, 0, 0, 0, 0], -2, &[(0x1000, b"/nonexist\0")]), r#"access("/nonexist", F_OK)               = -1 ENOENT (No such file or directory)"#);
    assert_eq!(line(nr::MKDIRAT, [FDCWD, 0x1000, 0o755, 0, 0, 0], 0, &[(0x1000, b"/tmp/st/dd\0")]), r#"mkdirat(AT_FDCWD, "/tmp/st/dd", 0755)   = 0"#);
    assert_eq!(line(nr::UNLINKAT, [FDCWD, 0x1000, 0x200, 0, 0, 0], 0, &[(0x1000, b"/tmp/st/dd\0")]), r#"unlinkat(AT_FDCWD, "/tmp/st/dd", AT_REMOVEDIR) = 0"#);
    assert_eq!(
        line(nr::RENAMEAT2, [FDCWD, 0x1000, FDCWD, 0x2000, 1, 0], -2, &[(0x1000, b"/tmp/st/nx\0"), (0x2000, b"/tmp/st/ny\0")]),
        r#"renameat2(AT_FDCWD, "/tmp/st/nx", AT_FDCWD, "/tmp/st/ny", RENAME_NOREPLACE) = -1 ENOENT (No such file or directory)"#
    );
    assert_eq!(line(nr::CHDIR, [0x1000, 0, 0, 0, 0, 0], 0, &[(0x1000, b"/tmp\0")]), r#"chdir("/tmp")                           = 0"#);
    assert_eq!(line(nr::GETCWD, [0x1000, 64, 0, 0, 0, 0], 8, &[(0x1000, b"/tmp/st\0")]), r#"getcwd("/tmp/st", 64)                   = 8"#);
    assert_eq!(line(nr::READLINK, [0x1000, 0x2000, 64, 0, 0, 0], 13, &[(0x1000, b"/proc/self/exe\0"), (0x2000, b"/tmp/st/probe")]), r#"readlink("/proc/self/exe", "/tmp/st/probe", 64) = 13"#);
    assert_eq!(line(nr::UMASK, [0o22, 0, 0, 0, 0, 0], 0o22, &[]), "umask(022)                              = 022");
    // A long path is shown cut, with `...`.
    let long = [b'a'; 300];
    let l = line(nr::CHDIR, [0x1000, 0, 0, 0, 0, 0], -36, &[(0x1000, &long)]);
    assert!(l.starts_with(&format!("chdir(\"{}\"...) = -1 ENAMETOOLONG", "a".repeat(256))), "{l}");
    // NULL and unreadable pointers.
    assert_eq!(line(nr::CHDIR, [0, 0, 0, 0, 0, 0], -14, &[]), "chdir(NULL)                             = -1 EFAULT (Bad address)");
    assert_eq!(line(nr::CHDIR, [0xdead0000, 0, 0, 0, 0, 0], -14, &[]), "chdir(0xdead0000)                       = -1 EFAULT (Bad address)");
}

#[test]
fn data() {
    let w = b"a\0b\x017\x1bx\x7f\xff\"\\\t\n\r\x0b\x0c 1234567890123456789012345678901234567890";
    assert_eq!(line(nr::WRITE, [3, 0x1000, 60, 0, 0, 0], 60, &[(0x1000, w)]), r#"write(3, "a\0b\0017\33x\177\377\"\\\t\n\r\v\f 123456789012345"..., 60) = 60"#);
    assert_eq!(line(nr::WRITE, [3, 0x1000, 3, 0, 0, 0], 3, &[(0x1000, b"\x01\x028")]), r#"write(3, "\1\28", 3)                    = 3"#);
    assert_eq!(line(nr::WRITE, [1, 0x1000, 13, 0, 0, 0], 13, &[(0x1000, b"hello, world\n")]), r#"write(1, "hello, world\n", 13)          = 13"#);
    let zeros = [0u8; 64];
    assert_eq!(line(nr::READ, [4, 0x1000, 40, 0, 0, 0], 40, &[(0x1000, &zeros)]), format!("read(4, \"{}\"..., 40) = 40", "\\0".repeat(32)));
    assert_eq!(line(nr::READ, [4, 0x1000, 10, 0, 0, 0], 10, &[(0x1000, &zeros)]), format!("read(4, \"{}\", 10)     = 10", "\\0".repeat(10)));
    assert_eq!(line(nr::READ, [3, 0x1000, 4096, 0, 0, 0], 0, &[(0x1000, &zeros)]), r#"read(3, "", 4096)                       = 0"#);
    assert_eq!(line(nr::READ, [3, 0x7ffc1000, 4096, 0, 0, 0], -9, &[]), "read(3, 0x7ffc1000, 4096)               = -1 EBADF (Bad file descriptor)");
    assert_eq!(line(nr::PREAD64, [3, 0x1000, 5, 0, 0, 0], 5, &[(0x1000, b"Hello")]), r#"pread64(3, "Hello", 5, 0)               = 5"#);
    assert_eq!(line(nr::PWRITE64, [3, 0x1000, 1, 0, 0, 0], 1, &[(0x1000, b"H")]), r#"pwrite64(3, "H", 1, 0)                  = 1"#);
    assert_eq!(
        line(nr::GETRANDOM, [0x1000, 8, 1, 0, 0, 0], 8, &[(0x1000, &[0xd2, 0x33, 0x18, 0x76, 0x29, 0xc0, 0x54, 0xd0])]),
        r#"getrandom("\xd2\x33\x18\x76\x29\xc0\x54\xd0", 8, GRND_NONBLOCK) = 8"#
    );
}

fn iov(entries: &[(u64, u64)]) -> Vec<u8> {
    entries.iter().flat_map(|(b, l)| b.to_le_bytes().into_iter().chain(l.to_le_bytes())).collect()
}

#[test]
fn iovecs() {
    let v = iov(&[(0x2000, 2), (0x3000, 3)]);
    assert_eq!(
        line(nr::WRITEV, [3, 0x1000, 2, 0, 0, 0], 5, &[(0x1000, &v), (0x2000, b"ab"), (0x3000, b"cd\n")]),
        r#"writev(3, [{iov_base="ab", iov_len=2}, {iov_base="cd\n", iov_len=3}], 2) = 5"#
    );
    let v = iov(&[(0x2000, 2), (0x3000, 40)]);
    let z = [0u8; 40];
    assert_eq!(
        line(nr::READV, [4, 0x1000, 2, 0, 0, 0], 42, &[(0x1000, &v), (0x2000, &z[..2]), (0x3000, &z)]),
        format!(r#"readv(4, [{{iov_base="\0\0", iov_len=2}}, {{iov_base="{}"..., iov_len=40}}], 2) = 42"#, "\\0".repeat(32))
    );
    let v = iov(&[(0x2000, 2), (0x3000, 3)]);
    assert_eq!(
        line(nr::READV, [42, 0x1000, 2, 0, 0, 0], 5, &[(0x1000, &v), (0x2000, b"He"), (0x3000, b"llo")]),
        r#"readv(42, [{iov_base="He", iov_len=2}, {iov_base="llo", iov_len=3}], 2) = 5"#
    );
    assert_eq!(line(nr::READV, [9, 0x1000, 2, 0, 0, 0], -9, &[(0x1000, &v)]), "readv(9, 0x1000, 2)                     = -1 EBADF (Bad file descriptor)");
}

#[test]
fn stat_family() {
    let reg = stat_bytes(0o100644, 1221, 0);
    assert_eq!(
        line(nr::NEWFSTATAT, [FDCWD, 0x1000, 0x2000, 0, 0, 0], 0, &[(0x1000, b"/etc/passwd\0"), (0x2000, &reg)]),
        r#"newfstatat(AT_FDCWD, "/etc/passwd", {st_mode=S_IFREG|0644, st_size=1221, ...}, 0) = 0"#
    );
    assert_eq!(line(nr::STAT, [0x1000, 0x2000, 0, 0, 0, 0], 0, &[(0x1000, b"/etc/passwd\0"), (0x2000, &reg)]), r#"stat("/etc/passwd", {st_mode=S_IFREG|0644, st_size=1221, ...}) = 0"#);
    assert_eq!(
        line(nr::STAT, [0x1000, 0x7ffe6d3a85f0, 0, 0, 0, 0], -2, &[(0x1000, b"/nonexist\0")]),
        r#"stat("/nonexist", 0x7ffe6d3a85f0)       = -1 ENOENT (No such file or directory)"#
    );
    let chr = stat_bytes(0o20666, 0, 0x105);
    assert_eq!(line(nr::FSTAT, [4, 0x2000, 0, 0, 0, 0], 0, &[(0x2000, &chr)]), "fstat(4, {st_mode=S_IFCHR|0666, st_rdev=makedev(0x1, 0x5), ...}) = 0");
    let dir = stat_bytes(0o41777, 4096, 0);
    assert_eq!(line(nr::FSTAT, [3, 0x2000, 0, 0, 0, 0], 0, &[(0x2000, &dir)]), "fstat(3, {st_mode=S_IFDIR|S_ISVTX|0777, st_size=4096, ...}) = 0");
    assert_eq!(
        line(nr::NEWFSTATAT, [3, 0x1000, 0x2000, 0x1000, 0, 0], 0, &[(0x1000, b"\0"), (0x2000, &reg)]),
        r#"newfstatat(3, "", {st_mode=S_IFREG|0644, st_size=1221, ...}, AT_EMPTY_PATH) = 0"#
    );
}

#[test]
fn memory() {
    assert_eq!(line(nr::BRK, [0, 0, 0, 0, 0, 0], 0x55805a4fe000, &[]), "brk(NULL)                               = 0x55805a4fe000");
    assert_eq!(
        line(nr::MMAP, [0, 8192, 3, 0x22, -1i64 as u64, 0], 0x7f2b2c5b8000, &[]),
        "mmap(NULL, 8192, PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS, -1, 0) = 0x7f2b2c5b8000"
    );
    assert_eq!(line(nr::MMAP, [0, 4096, 1, 2, 8, 4096], 0x7f2b2c5b7000, &[]), "mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 8, 0x1000) = 0x7f2b2c5b7000");
    assert_eq!(line(nr::MMAP, [0, 4096, 1, 2, 1000, 0], -9, &[]), "mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 1000, 0) = -1 EBADF (Bad file descriptor)");
    assert_eq!(line(nr::MADVISE, [0x7f2b2c5b8000, 4096, 4, 0, 0, 0], 0, &[]), "madvise(0x7f2b2c5b8000, 4096, MADV_DONTNEED) = 0");
    assert_eq!(line(nr::MPROTECT, [0x7f2b2c5b8000, 4096, 0, 0, 0, 0], 0, &[]), "mprotect(0x7f2b2c5b8000, 4096, PROT_NONE) = 0");
    assert_eq!(line(nr::MREMAP, [0x7f2b2c5b8000, 8192, 16384, 1, 0, 0], -14, &[]), "mremap(0x7f2b2c5b8000, 8192, 16384, MREMAP_MAYMOVE) = -1 EFAULT (Bad address)");
    assert_eq!(line(nr::MUNMAP, [u64::MAX, 16384, 0, 0, 0, 0], -22, &[]), "munmap(0xffffffffffffffff, 16384)       = -1 EINVAL (Invalid argument)");
}

#[test]
fn descriptors_and_ioctl() {
    assert_eq!(line(nr::PIPE2, [0x1000, 0o2000000, 0, 0, 0, 0], 0, &[(0x1000, &[5, 0, 0, 0, 6, 0, 0, 0])]), "pipe2([5, 6], O_CLOEXEC)                = 0");
    assert_eq!(line(nr::DUP, [5, 0, 0, 0, 0, 0], 7, &[]), "dup(5)                                  = 7");
    assert_eq!(line(nr::DUP2, [5, 20, 0, 0, 0, 0], 20, &[]), "dup2(5, 20)                             = 20");
    assert_eq!(line(nr::DUP3, [5, 21, 0o2000000, 0, 0, 0], 21, &[]), "dup3(5, 21, O_CLOEXEC)                  = 21");
    assert_eq!(line(nr::FCNTL, [5, 1, 0, 0, 0, 0], 1, &[]), "fcntl(5, F_GETFD)                       = 0x1 (flags FD_CLOEXEC)");
    assert_eq!(line(nr::FCNTL, [5, 2, 1, 0, 0, 0], 0, &[]), "fcntl(5, F_SETFD, FD_CLOEXEC)           = 0");
    assert_eq!(line(nr::FCNTL, [5, 3, 0, 0, 0, 0], 0, &[]), "fcntl(5, F_GETFL)                       = 0 (flags O_RDONLY)");
    assert_eq!(line(nr::FCNTL, [5, 3, 0, 0, 0, 0], 0x8002, &[]), "fcntl(5, F_GETFL)                       = 0x8002 (flags O_RDWR|O_LARGEFILE)");
    assert_eq!(line(nr::FCNTL, [5, 4, 0o104000, 0, 0, 0], 0, &[]), "fcntl(5, F_SETFL, O_RDONLY|O_NONBLOCK|O_LARGEFILE) = 0");
    assert_eq!(line(nr::FCNTL, [5, 0, 30, 0, 0, 0], 30, &[]), "fcntl(5, F_DUPFD, 30)                   = 30");
    assert_eq!(line(nr::IOCTL, [1, 0x5401, 0x7ffe6d3a9ab0, 0, 0, 0], -25, &[]), "ioctl(1, TCGETS, 0x7ffe6d3a9ab0)        = -1 ENOTTY (Inappropriate ioctl for device)");
    let mut tio = [0u8; 36];
    tio[4..8].copy_from_slice(&5u32.to_le_bytes()); // OPOST|ONLCR
    tio[8..12].copy_from_slice(&0o277u32.to_le_bytes()); // B38400|CS8|CREAD
    tio[12..16].copy_from_slice(&0o105073u32.to_le_bytes()); // ISIG|ICANON|ECHO|...
    tio[0..4].copy_from_slice(&0o2400u32.to_le_bytes()); // ICRNL|IXON
    tio[12..16].copy_from_slice(&0o105073u32.to_le_bytes());
    // strace 6.1 on a pty (`script -c 'strace busybox ls'`).
    assert_eq!(
        line(nr::IOCTL, [1, 0x5401, 0x1000, 0, 0, 0], 0, &[(0x1000, &tio)]),
        "ioctl(1, TCGETS, {c_iflag=ICRNL|IXON, c_oflag=NL0|CR0|TAB0|BS0|VT0|FF0|OPOST|ONLCR, c_cflag=B38400|CS8|CREAD, c_lflag=ISIG|ICANON|ECHO|ECHOE|ECHOK|IEXTEN|ECHOCTL|ECHOKE, ...}) = 0"
    );
    assert_eq!(line(nr::IOCTL, [3, 0x5451, 0, 0, 0, 0], 0, &[]), "ioctl(3, FIOCLEX)                       = 0");
    assert_eq!(line(nr::IOCTL, [3, 0x541b, 0x1000, 0, 0, 0], 0, &[(0x1000, &[7, 0, 0, 0])]), "ioctl(3, FIONREAD, [7])                 = 0");
    let ws = [24u8, 0, 80, 0, 0, 0, 0, 0];
    assert_eq!(line(nr::IOCTL, [1, 0x5413, 0x1000, 0, 0, 0], 0, &[(0x1000, &ws)]), "ioctl(1, TIOCGWINSZ, {ws_row=24, ws_col=80, ws_xpixel=0, ws_ypixel=0}) = 0");
    let mut pf = vec![5u8, 0, 0, 0, 1, 0, 0, 0];
    assert_eq!(line(nr::POLL, [0x1000, 1, 0, 0, 0, 0], 0, &[(0x1000, &pf)]), "poll([{fd=5, events=POLLIN}], 1, 0)     = 0 (Timeout)");
    pf[6] = 1;
    assert_eq!(line(nr::POLL, [0x1000, 1, 0, 0, 0, 0], 1, &[(0x1000, &pf)]), "poll([{fd=5, events=POLLIN}], 1, 0)     = 1 ([{fd=5, revents=POLLIN}])");
    let mut d = vec![0u8; 136];
    for (at, len) in [(0, 24), (24, 24), (48, 32), (80, 32), (112, 24)] {
        d[at + 16] = len;
    }
    assert_eq!(line(nr::GETDENTS64, [11, 0x1000, 4096, 0, 0, 0], 136, &[(0x1000, &d)]), "getdents64(11, 0x1000 /* 5 entries */, 4096) = 136");
    assert_eq!(line(nr::GETDENTS64, [8, 0x7ffe6d3a9ab0, 64, 0, 0, 0], -20, &[]), "getdents64(8, 0x7ffe6d3a9ab0, 64)       = -1 ENOTDIR (Not a directory)");
}

#[test]
fn time_and_process() {
    let ts = |s: i64, n: i64| s.to_le_bytes().into_iter().chain(n.to_le_bytes()).collect::<Vec<u8>>();
    assert_eq!(line(nr::NANOSLEEP, [0x1000, 0, 0, 0, 0, 0], 0, &[(0x1000, &ts(0, 1000))]), "nanosleep({tv_sec=0, tv_nsec=1000}, NULL) = 0");
    assert_eq!(
        line(nr::CLOCK_NANOSLEEP, [1, 0, 0x1000, 0, 0, 0], 0, &[(0x1000, &ts(0, 2000))]),
        "clock_nanosleep(CLOCK_MONOTONIC, 0, {tv_sec=0, tv_nsec=2000}, NULL) = 0"
    );
    assert_eq!(line(nr::CLOCK_GETTIME, [1, 0x1000, 0, 0, 0, 0], 0, &[(0x1000, &ts(1234, 5678))]), "clock_gettime(CLOCK_MONOTONIC, {tv_sec=1234, tv_nsec=5678}) = 0");
    let mut u = vec![0u8; 390];
    u[..5].copy_from_slice(b"Linux");
    u[65..67].copy_from_slice(b"vm");
    assert_eq!(line(nr::UNAME, [0x1000, 0, 0, 0, 0, 0], 0, &[(0x1000, &u)]), r#"uname({sysname="Linux", nodename="vm", ...}) = 0"#);
    assert_eq!(line(nr::ARCH_PRCTL, [0x1002, 0x406158, 0, 0, 0, 0], 0, &[]), "arch_prctl(ARCH_SET_FS, 0x406158)       = 0");
    assert_eq!(line(nr::SET_TID_ADDRESS, [0x406290, 0, 0, 0, 0, 0], 22560, &[]), "set_tid_address(0x406290)               = 22560");
    assert_eq!(line(nr::SET_ROBUST_LIST, [0x7f2b2c5b8a20, 24, 0, 0, 0, 0], 0, &[]), "set_robust_list(0x7f2b2c5b8a20, 24)     = 0");
    assert_eq!(line(nr::GETPID, [0; 6], 22560, &[]), "getpid()                                = 22560");
    assert_eq!(line(nr::GETPPID, [0; 6], 22557, &[]), "getppid()                               = 22557");
    assert_eq!(line(nr::EXIT_GROUP, [3, 0, 0, 0, 0, 0], 0, &[]), "exit_group(3)                           = ?");
    let rl = |c: u64, m: u64| c.to_le_bytes().into_iter().chain(m.to_le_bytes()).collect::<Vec<u8>>();
    assert_eq!(
        line(nr::PRLIMIT64, [0, 3, 0, 0x1000, 0, 0], 0, &[(0x1000, &rl(8 << 20, u64::MAX))]),
        "prlimit64(0, RLIMIT_STACK, NULL, {rlim_cur=8192*1024, rlim_max=RLIM64_INFINITY}) = 0"
    );
    assert_eq!(line(nr::PRLIMIT64, [0, 7, 0, 0x1000, 0, 0], 0, &[(0x1000, &rl(20000, 20000))]), "prlimit64(0, RLIMIT_NOFILE, NULL, {rlim_cur=20000, rlim_max=20000}) = 0");
    // Signals.
    let set = |m: u64| m.to_le_bytes().to_vec();
    assert_eq!(line(nr::RT_SIGPROCMASK, [0, 0x1000, 0, 8, 0, 0], 0, &[(0x1000, &set(1 << 16))]), "rt_sigprocmask(SIG_BLOCK, [CHLD], NULL, 8) = 0");
    assert_eq!(
        line(nr::RT_SIGPROCMASK, [2, 0x1000, 0x2000, 8, 0, 0], 0, &[(0x1000, &set(!(7u64 << 31))), (0x2000, &set(1 << 16))]),
        "rt_sigprocmask(SIG_SETMASK, ~[RTMIN RT_1 RT_2], [CHLD], 8) = 0"
    );
    let act: Vec<u8> = [1u64, 0x0400_0000, 0x402629, 0].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(
        line(nr::RT_SIGACTION, [2, 0x1000, 0, 8, 0, 0], 0, &[(0x1000, &act)]),
        "rt_sigaction(SIGINT, {sa_handler=SIG_IGN, sa_mask=[], sa_flags=SA_RESTORER, sa_restorer=0x402629}, NULL, 8) = 0"
    );
    assert_eq!(line(nr::KILL, [1, 15, 0, 0, 0, 0], -1, &[]), "kill(1, SIGTERM)                        = -1 EPERM (Operation not permitted)");
}

#[test]
fn statx_sigaction_sigaltstack() {
    let mut sx = vec![0u8; 256];
    sx[0..4].copy_from_slice(&0x17ffu32.to_le_bytes());
    sx[28..30].copy_from_slice(&0o100644u16.to_le_bytes());
    sx[40..48].copy_from_slice(&1221u64.to_le_bytes());
    // strace 6.1 (tests/native/probe.c).
    assert_eq!(
        line(nr::STATX, [FDCWD, 0x1000, 0x100, 0xfff, 0x2000, 0], 0, &[(0x1000, b"/etc/passwd\0"), (0x2000, &sx)]),
        r#"statx(AT_FDCWD, "/etc/passwd", AT_STATX_SYNC_AS_STAT|AT_SYMLINK_NOFOLLOW, STATX_ALL, {stx_mask=STATX_BASIC_STATS|STATX_MNT_ID, stx_attributes=0, stx_mode=S_IFREG|0644, stx_size=1221, ...}) = 0"#
    );
    assert_eq!(
        line(nr::STATX, [3, 0x1000, 0x1000, 0xfff, 0x7ffd4e3cff20, 0], -9, &[(0x1000, b"\0")]),
        r#"statx(3, "", AT_STATX_SYNC_AS_STAT|AT_EMPTY_PATH, STATX_ALL, 0x7ffd4e3cff20) = -1 EBADF (Bad file descriptor)"#
    );
    let act: Vec<u8> = [0x401139u64, 0x4000_0000 | 0x1000_0000 | 0x0400_0000, 0x401e5b, (1 << 1) | (1 << 14)].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(
        line(nr::RT_SIGACTION, [10, 0, 0x1000, 8, 0, 0], 0, &[(0x1000, &act)]),
        "rt_sigaction(SIGUSR1, NULL, {sa_handler=0x401139, sa_mask=[INT TERM], sa_flags=SA_RESTORER|SA_RESTART|SA_NODEFER, sa_restorer=0x401e5b}, 8) = 0"
    );
    let st = |sp: u64, fl: u64, size: u64| [sp, fl, size].iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>();
    assert_eq!(
        line(nr::SIGALTSTACK, [0x1000, 0x2000, 0, 0, 0, 0], 0, &[(0x1000, &st(0x4a94000, 0, 16384)), (0x2000, &st(0, 2, 0))]),
        "sigaltstack({ss_sp=0x4a94000, ss_flags=0, ss_size=16384}, {ss_sp=NULL, ss_flags=SS_DISABLE, ss_size=0}) = 0"
    );
}

#[test]
fn sysinfo() {
    let si = linux_abi::structs::Sysinfo {
        uptime: 4495,
        loads: [278112, 281152, 221216],
        totalram: 25275990016,
        freeram: 20144852992,
        sharedram: 9580544,
        bufferram: 16535552,
        procs: 102,
        mem_unit: 1,
        ..Default::default()
    };
    let b = linux_abi::zerocopy::IntoBytes::as_bytes(&si).to_vec();
    // strace 6.1, busybox ls.
    assert_eq!(
        line(nr::SYSINFO, [0x1000, 0, 0, 0, 0, 0], 0, &[(0x1000, &b)]),
        "sysinfo({uptime=4495, loads=[278112, 281152, 221216], totalram=25275990016, freeram=20144852992, sharedram=9580544, bufferram=16535552, totalswap=0, freeswap=0, procs=102, totalhigh=0, freehigh=0, mem_unit=1}) = 0"
    );
}

#[test]
fn unknown_values_like_strace() {
    // strace 6.1 on raw syscalls with values it has no names for.
    assert_eq!(line(nr::ARCH_PRCTL, [0x3001, 0x1000, 0, 0, 0, 0], -22, &[]), "arch_prctl(0x3001 /* ARCH_??? */, 0x1000) = -1 EINVAL (Invalid argument)");
    assert_eq!(line(nr::LSEEK, [0, 0, 9, 0, 0, 0], -22, &[]), "lseek(0, 0, 0x9 /* SEEK_??? */)         = -1 EINVAL (Invalid argument)");
    assert_eq!(line(nr::CLOCK_GETTIME, [77, 0, 0, 0, 0, 0], -22, &[]), "clock_gettime(0x4d /* CLOCK_??? */, NULL) = -1 EINVAL (Invalid argument)");
    assert_eq!(line(nr::MADVISE, [0, 0, 999, 0, 0, 0], -22, &[]), "madvise(NULL, 0, 0x3e7 /* MADV_??? */)  = -1 EINVAL (Invalid argument)");
    assert_eq!(line(nr::FCNTL, [0, 999, 0x4016e4, 0, 0, 0], -22, &[]), "fcntl(0, 0x3e7 /* F_??? */, 0x4016e4)   = -1 EINVAL (Invalid argument)");
    assert_eq!(line(nr::RT_SIGPROCMASK, [7, 0, 0, 8, 0, 0], 0, &[]), "rt_sigprocmask(0x7 /* SIG_??? */, NULL, NULL, 8) = 0");
    assert_eq!(line(nr::PRLIMIT64, [0, 99, 0, 0, 0, 0], -22, &[]), "prlimit64(0, 0x63 /* RLIMIT_??? */, NULL, NULL) = -1 EINVAL (Invalid argument)");
    assert_eq!(line(nr::IOCTL, [0, 0x1234, 0, 0, 0, 0], -25, &[]), "ioctl(0, _IOC(_IOC_NONE, 0x12, 0x34, 0), 0) = -1 ENOTTY (Inappropriate ioctl for device)");
    assert_eq!(line(nr::IOCTL, [0, 0xc0185400, 0, 0, 0, 0], -25, &[]), "ioctl(0, _IOC(_IOC_READ|_IOC_WRITE, 0x54, 0, 0x18), 0) = -1 ENOTTY (Inappropriate ioctl for device)");
    assert_eq!(line(nr::OPENAT, [FDCWD, 0x1000, 0x40000000, 0, 0, 0], -2, &[(0x1000, b"x\0")]), r#"openat(AT_FDCWD, "x", O_RDONLY|0x40000000) = -1 ENOENT (No such file or directory)"#);
    assert_eq!(
        line(nr::MMAP, [0, 4096, 0x10, 0x1000022, -1i64 as u64, 0], 0x7f99515e2000, &[]),
        "mmap(NULL, 4096, 0x10 /* PROT_??? */, MAP_PRIVATE|MAP_ANONYMOUS|0x1000000, -1, 0) = 0x7f99515e2000"
    );
    assert_eq!(line(nr::KILL, [0, 0, 0, 0, 0, 0], 0, &[]), "kill(0, 0)                              = 0");
    assert_eq!(line(nr::KILL, [0, 99, 0, 0, 0, 0], -22, &[]), "kill(0, 99)                             = -1 EINVAL (Invalid argument)");
    assert_eq!(line(nr::FUTEX, [0, 0x80, 0, 0, 0, 0], -14, &[]), "futex(NULL, FUTEX_WAIT_PRIVATE, 0, NULL) = -1 EFAULT (Bad address)");
}

#[test]
fn unknown_and_undecoded() {
    assert_eq!(line(500, [1, 2, 3, 0, 0, 0], -38, &[]), "syscall_0x1f4(0x1, 0x2, 0x3, 0, 0, 0)   = -1 ENOSYS (Function not implemented)");
    assert_eq!(line(nr::ACCT, [0x1000, 0, 0, 0, 0, 0], -38, &[]), "acct(0x1000, 0, 0, 0, 0, 0)             = -1 ENOSYS (Function not implemented)");
}

#[test]
fn timing_and_end_lines() {
    let buf = record(nr::WRITE, [1, 0x1000, 1, 0, 0, 0], 1, &[(0x1000, b"x")], 69_400);
    let opts = Options { show_time: true, ..Options::default() };
    assert_eq!(format_line(&Record::parse(&buf).unwrap(), &opts), r#"write(1, "x", 1)                        = 1 <0.000069>"#);
    assert_eq!(exited_line(3), "+++ exited with 3 +++");
    assert_eq!(killed_line(11, false), "+++ killed by SIGSEGV +++");
    assert_eq!(killed_line(11, true), "+++ killed by SIGSEGV (core dumped) +++");
    assert_eq!(end_line(139), "+++ killed by SIGSEGV +++");
    assert_eq!(end_line(0), "+++ exited with 0 +++");
    assert_eq!(signal_line(&SigInfo { signo: 11, code: 1, ..SigInfo::default() }), "--- SIGSEGV {si_signo=SIGSEGV, si_code=SEGV_MAPERR, si_addr=NULL} ---");
    assert_eq!(signal_line(&SigInfo { signo: 8, code: 1, addr: 0x401136, ..SigInfo::default() }), "--- SIGFPE {si_signo=SIGFPE, si_code=FPE_INTDIV, si_addr=0x401136} ---");
    assert_eq!(signal_line(&SigInfo { signo: 15, code: 0, pid: 1, uid: 0, addr: 0 }), "--- SIGTERM {si_signo=SIGTERM, si_code=SI_USER, si_pid=1, si_uid=0} ---");
}

#[test]
fn json() {
    let buf = record(nr::OPENAT, [FDCWD, 0x1000, 0, 0, 0, 0], -2, &[(0x1000, b"/a\0")], 700);
    let j = format_json(&Record::parse(&buf).unwrap(), &Options::default());
    assert_eq!(
        j,
        r#"{"pid":1,"tid":1,"nr":257,"name":"openat","args":[18446744073709551516,4096,0,0,0,0],"ret":-2,"errno":"ENOENT","enter_ns":5000,"dur_ns":700,"line":"openat(AT_FDCWD, \"/a\", O_RDONLY)        = -1 ENOENT (No such file or directory)"}"#
    );
}

#[test]
fn filter() {
    let s = SyscallSet::parse("read,write,openat").unwrap();
    assert!(s.contains(0) && s.contains(1) && s.contains(257) && !s.contains(3));
    assert_eq!(SyscallSet::parse("trace=close").unwrap().words()[0], 1 << 3);
    assert_eq!(SyscallSet::parse("nosuch"), Err(UnknownSyscall("nosuch".to_string())));
    assert!(SyscallSet::parse("all").unwrap().contains(600));
}

/// `strace -c` of probe.c (tests/native/probe.c) on Debian 12, verbatim; the
/// summary is fed the same per-call times and must print the same table.
#[test]
fn summary_matches_strace() {
    let table = include_str!("../tests/fixtures/probe-c.txt");
    let mut s = Summary::new();
    for l in table.lines().skip(2) {
        if l.starts_with("---") {
            break;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        let (secs, calls, errors, name) = match f.len() {
            6 => (f[1], f[3].parse::<u64>().unwrap(), f[4].parse::<u64>().unwrap(), f[5]),
            _ => (f[1], f[3].parse::<u64>().unwrap(), 0, f[4]),
        };
        let us: u64 = secs.replace('.', "").parse().unwrap();
        let n = linux_abi::sysno::SYSCALLS.iter().find(|x| x.1 == name).unwrap().0;
        for i in 0..calls {
            // All the time on the first call: the average is the same.
            s.add_call(n, if i == 0 { us * 1000 } else { 0 }, i < errors);
        }
    }
    assert_eq!(s.render(), table);
}

#[test]
fn summary_widens_columns() {
    let mut s = Summary::new();
    s.add_call(nr::READ, 12_345_678_901, false);
    s.add_call(nr::SET_MEMPOLICY_HOME_NODE, 1000, true);
    let t = s.render();
    let lines: Vec<&str> = t.lines().collect();
    assert_eq!(lines[0], "% time     seconds  usecs/call     calls    errors syscall");
    assert_eq!(lines[1], "------ ----------- ----------- --------- --------- ------------------------");
    assert_eq!(lines[2], "100.00   12.345679    12345678         1           read");
    assert_eq!(lines[3], "  0.00    0.000001           1         1         1 set_mempolicy_home_node");
    assert_eq!(lines[5], "100.00   12.345680     6172839         2         1 total");
}

#[test]
fn histogram_like_bpftrace() {
    let mut h = Histogram::new();
    for v in [0, 1, 5, 6, 7, 9, 1500, 1500] {
        h.add(v);
    }
    assert_eq!(hist::bucket(0), 1);
    assert_eq!(hist::bucket(1), 2);
    assert_eq!(hist::bucket(4), 4);
    assert_eq!(hist::bucket(7), 4);
    assert_eq!(hist::bucket(1 << 20), 22);
    let out = h.render("usecs");
    let expected = "@usecs:\n\
[0]                    1 |@@@@@@@@@@@@@@@@@                                   |\n\
[1]                    1 |@@@@@@@@@@@@@@@@@                                   |\n\
[2, 4)                 0 |                                                    |\n\
[4, 8)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n\
[8, 16)                1 |@@@@@@@@@@@@@@@@@                                   |\n\
[16, 32)               0 |                                                    |\n\
[32, 64)               0 |                                                    |\n\
[64, 128)              0 |                                                    |\n\
[128, 256)             0 |                                                    |\n\
[256, 512)             0 |                                                    |\n\
[512, 1K)              0 |                                                    |\n\
[1K, 2K)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                  |\n\
\n";
    assert_eq!(out, expected);
    assert_eq!(Histogram::new().render("x"), "@x:\n\n");
    // The same buckets counted elsewhere (syslat.c's array map).
    let mut s = Histogram::new();
    for b in 0..hist::BUCKETS {
        s.set(b, h.count(b));
    }
    s.set(hist::BUCKETS, 99);
    assert_eq!((s.render("usecs"), s.total()), (expected.to_string(), 8));
}

/// Records from a confused or hostile guest never make the formatter panic:
/// random numbers, arguments, return values and blobs of random lengths for
/// every argument and phase.
#[test]
fn garbage_records_do_not_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut buf = vec![0u8; MAX_RECORD];
    for round in 0..20_000 {
        let nr = (rnd() % 520) as u16;
        let mut args = [0u64; 6];
        for a in &mut args {
            *a = match rnd() % 4 {
                0 => 0,
                1 => rnd() % 64,
                2 => rnd(),
                _ => 0x1000,
            };
        }
        let e = Entry { nr, pid: 1, tid: 1, args, enter_ns: rnd() };
        let mut w = RecordWriter::begin(&mut buf, &e).unwrap();
        let nblobs = rnd() % 6;
        for _ in 0..nblobs {
            let len = (rnd() % 80) as usize;
            let phase = if rnd() % 2 == 0 { Phase::Entry } else { Phase::Exit };
            let (cap, arg, elem) = ((rnd() % 12) as u8, (rnd() % 7) as u8, (rnd() % 3) as u8);
            let fill = rnd();
            w.blob(cap, arg, elem, phase, len, |b| {
                for (i, v) in b.iter_mut().enumerate() {
                    *v = (fill >> (i % 8)) as u8;
                }
                if fill % 7 == 0 {
                    None
                } else {
                    Some((b.len(), fill % 3 == 0))
                }
            });
        }
        let ret = match rnd() % 3 {
            0 => -((rnd() % 600) as i64),
            1 => (rnd() % 5000) as i64,
            _ => rnd() as i64,
        };
        let n = if round % 5 == 0 { w.len() } else { w.finish(ret, rnd()) };
        let rec = Record::parse(&buf[..n]).unwrap();
        let opts = Options { show_time: round % 2 == 0, ..Options::default() };
        let _ = format_line(&rec, &opts);
        let _ = format_json(&rec, &opts);
        let mut s = Summary::new();
        s.add(&rec);
        let _ = s.render();
        // Random bytes are refused, not a panic.
        let mut junk = buf[..n].to_vec();
        for _ in 0..3 {
            let i = (rnd() as usize) % junk.len();
            junk[i] = rnd() as u8;
        }
        if let Ok(r) = Record::parse(&junk) {
            let _ = format_line(&r, &opts);
        }
    }
}
