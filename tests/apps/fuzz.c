/*
 * fuzz: calls every x86_64 syscall number 0..460 with random arguments and
 * reports what came back. The kernel under test must survive all of it: no
 * panic, no reset, no hang; the app must reach its summary.
 *
 *   fuzz [--seed S] [--calls N] [--start K] [--skip N,M,..] [--only N,M,..]
 *        [--trace-from K] [--progress N]
 *
 * Every call's arguments are a pure function of (seed, call index) and of
 * the app's own memory layout, so a failure is replayed by passing the same
 * seed: `--trace-from K` prints each call from index K on before making it
 * (the last line printed before a panic is the culprit), `--start K` begins
 * at call K without making the earlier ones, `--only` restricts the numbers.
 * Without --seed a fresh seed is taken from getrandom and printed.
 *
 * Calls go in rounds: each round is a shuffled permutation of the numbers
 * not skipped, and each round starts by resetting the fuzzer's playground
 * (files under /fuzz, descriptors 0..10, the arena, signal dispositions,
 * rlimits, cwd), so a round's outcome depends on that round only.
 *
 * Never called (they end or block the app, or make the run meaningless):
 * rt_sigreturn, pause, clone, fork, vfork, clone3, execve, execveat, exit,
 * exit_group, rt_sigsuspend, reboot, kexec_load, kexec_file_load, semop (it
 * can wait forever; semtimedop covers it with a timeout), uretprobe and
 * uprobe (335, 336: SIGILL when not called from a probe trampoline). Other calls get
 * their arguments adjusted, each adjustment counted in the summary:
 *  - blocking: every timeout becomes a pointer to a timespec/timeval of at
 *    most 1 ms (or a bad pointer), poll/epoll timeouts at most 1 ms,
 *    clock_nanosleep never on the app's own CPU-time clock; new
 *    descriptors are non-blocking (O_NONBLOCK, SOCK_NONBLOCK, EFD_NONBLOCK
 *    ... forced, or fcntl'd after pipe/eventfd/signalfd/inotify_init);
 *    F_SETFL keeps O_NONBLOCK, FIONBIO is not sent, F_SETLKW becomes
 *    F_SETLK, flock gets LOCK_NB, splice/tee/vmsplice SPLICE_F_NONBLOCK,
 *    msgsnd/msgrcv IPC_NOWAIT, recv/send MSG_DONTWAIT, io_uring_enter waits
 *    for no completions, mknod makes no FIFOs, ptrace(PTRACE_TRACEME) is not
 *    sent (signals would stop the app for a tracer that never comes);
 *  - self-harm: all catchable signals are ignored and stay so
 *    (rt_sigaction only ever installs SIG_IGN), SIGKILL and SIGSTOP are never
 *    sent, timers and mq_notify get well-formed sigevents, F_SETSIG never
 *    names them; ARCH_SET_FS (musl's TLS) and shadow stacks are not set;
 *    rseq only ever registers a zeroed area of the app's (Linux kills the app
 *    when rseq_cs is garbage); seccomp strict/filter modes and PR_SET_SECCOMP /
 *    PR_SET_SYSCALL_USER_DISPATCH are not entered; RLIMIT_CPU and
 *    RLIMIT_RTTIME are not set (their hard limit is SIGKILL);
 *  - own memory: munmap, mprotect, pkey_mprotect, madvise, mremap,
 *    remap_file_pages and mmap(MAP_FIXED) never touch the app's image,
 *    stack, its scratch buffer or anything mapped when it started (unless
 *    Linux would refuse the range before acting: unaligned, overflowing,
 *    beyond the user half); shmat gets no SHM_REMAP;
 *  - own descriptors: close, close_range, dup2 and dup3 leave the app's
 *    output descriptors (250..252) alone.
 * Pointer arguments point into a scratch buffer (the fuzzer writes only
 * there), into an arena the memory calls play with, or nowhere useful:
 * NULL, page 0, kernel-half addresses, non-canonical ones, the end of the
 * scratch buffer, unaligned, random.
 *
 * Refuses to run anywhere but in the ushell unikernel (PID 1 and uname's
 * version naming it): as root on a real Linux, even in fresh user, PID and
 * mount namespaces under a chroot, random unlink/chmod/rename calls
 * escape (chroot into a subdirectory, then ".." from the old cwd) and
 * damage the host. Never run it natively.
 *
 * Exit status 0 after the summary; 1 if the app found its own memory
 * changed by the kernel (a write through a pointer it never passed) or a
 * bad command line; 2 when refusing to run.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint64_t u64;
typedef uint32_t u32;

#define NR_COUNT 461 /* numbers 0..460 */
#define PAGE 4096ull
#define OUT_FD 250   /* the real stdout, moved out of the fuzzed range */
#define ERR_FD 251   /* the real stderr */
#define ROOT_FD 252  /* "/", to climb out of a chroot at reset */
#define AT_FDCWD_ -100
#define TASK_SIZE 0x7ffffffff000ull

/* Where the fuzzer's scratch buffer and the memory calls' arena go: far
 * from the image (0x400000 or the PIE base 0x5555...), the stack and mmap
 * base (0x7ffe...), so even 16 TiB ranges from the arena miss them. */
#define SCRATCH_ADDR 0x100000000ull /* 4 GiB */
#define SCRATCH_SIZE (256 * 1024ull)
#define ARENA_ADDR 0x200000000000ull /* 32 TiB */
#define ARENA_SPAN (8 * 1024 * 1024ull)

/* ---- raw syscalls ------------------------------------------------------ */

static inline long sc6(long n, long a, long b, long c, long d, long e, long f)
{
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    long ret;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return ret;
}
#define sc0(n) sc6(n, 0, 0, 0, 0, 0, 0)
#define sc1(n, a) sc6(n, (long)(a), 0, 0, 0, 0, 0)
#define sc2(n, a, b) sc6(n, (long)(a), (long)(b), 0, 0, 0, 0)
#define sc3(n, a, b, c) sc6(n, (long)(a), (long)(b), (long)(c), 0, 0, 0)
#define sc4(n, a, b, c, d) sc6(n, (long)(a), (long)(b), (long)(c), (long)(d), 0, 0)

enum {
    NR_read = 0, NR_write = 1, NR_open = 2, NR_close = 3, NR_poll = 7, NR_mmap = 9,
    NR_mprotect = 10, NR_munmap = 11, NR_brk = 12, NR_rt_sigaction = 13,
    NR_rt_sigprocmask = 14, NR_rt_sigreturn = 15, NR_ioctl = 16, NR_pipe = 22,
    NR_select = 23, NR_mremap = 25, NR_madvise = 28, NR_shmat = 30, NR_dup2 = 33,
    NR_pause = 34, NR_nanosleep = 35, NR_getpid = 39, NR_socket = 41,
    NR_sendto = 44, NR_recvfrom = 45, NR_sendmsg = 46, NR_recvmsg = 47,
    NR_socketpair = 53, NR_clone = 56, NR_fork = 57, NR_vfork = 58, NR_execve = 59,
    NR_exit = 60, NR_kill = 62, NR_semop = 65, NR_msgsnd = 69, NR_msgrcv = 70,
    NR_fcntl = 72, NR_flock = 73, NR_ftruncate = 77, NR_chdir = 80, NR_fchdir = 81,
    NR_mkdir = 83, NR_umask = 95, NR_ptrace = 101, NR_rt_sigtimedwait = 128,
    NR_rt_sigqueueinfo = 129, NR_rt_sigsuspend = 130, NR_sigaltstack = 131,
    NR_mknod = 133, NR_prctl = 157, NR_arch_prctl = 158, NR_setrlimit = 160,
    NR_chroot = 161, NR_reboot = 169, NR_tkill = 200, NR_futex = 202,
    NR_io_getevents = 208, NR_remap_file_pages = 216, NR_semtimedop = 220,
    NR_timer_create = 222, NR_clock_nanosleep = 230, NR_exit_group = 231,
    NR_epoll_wait = 232, NR_tgkill = 234, NR_mq_open = 240, NR_mq_timedsend = 242,
    NR_mq_timedreceive = 243, NR_mq_notify = 244, NR_kexec_load = 246,
    NR_inotify_init = 253, NR_openat = 257, NR_mknodat = 259, NR_pselect6 = 270,
    NR_ppoll = 271, NR_splice = 275, NR_tee = 276, NR_vmsplice = 278,
    NR_epoll_pwait = 281, NR_signalfd = 282, NR_timerfd_create = 283,
    NR_eventfd = 284, NR_accept4 = 288, NR_signalfd4 = 289, NR_eventfd2 = 290,
    NR_dup3 = 292, NR_pipe2 = 293, NR_inotify_init1 = 294,
    NR_rt_tgsigqueueinfo = 297, NR_recvmmsg = 299, NR_fanotify_init = 300,
    NR_prlimit64 = 302, NR_open_by_handle_at = 304, NR_sendmmsg = 307,
    NR_seccomp = 317, NR_getrandom = 318, NR_kexec_file_load = 320,
    NR_execveat = 322, NR_userfaultfd = 323, NR_pkey_mprotect = 329,
    NR_io_pgetevents = 333, NR_rseq = 334, NR_pidfd_send_signal = 424,
    NR_io_uring_enter = 426, NR_clone3 = 435, NR_close_range = 436,
    NR_openat2 = 437, NR_epoll_pwait2 = 441, NR_futex_waitv = 449,
    NR_futex_wait = 455,
};

static const int never_called[] = {
    NR_rt_sigreturn, NR_pause, NR_clone, NR_fork, NR_vfork, NR_clone3, NR_execve,
    NR_execveat, NR_exit, NR_exit_group, NR_rt_sigsuspend, NR_reboot,
    NR_kexec_load, NR_kexec_file_load, NR_semop,
    335, 336, /* uretprobe, uprobe (Linux 6.11+): SIGILL unless called from the probe trampoline */
};

/* ---- output (to the saved stdout; no malloc anywhere) ------------------ */

static int out_fd = 1;
static char obuf[4096];

static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(obuf, sizeof obuf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof obuf - 1)
        n = sizeof obuf - 1;
    for (int off = 0; off < n;) {
        long w = sc3(NR_write, out_fd, obuf + off, n - off);
        if (w <= 0)
            break;
        off += w;
    }
}

static const char *const errno_names[134] = {
    [1] = "EPERM", [2] = "ENOENT", [3] = "ESRCH", [4] = "EINTR", [5] = "EIO", [6] = "ENXIO",
    [7] = "E2BIG", [8] = "ENOEXEC", [9] = "EBADF", [10] = "ECHILD", [11] = "EAGAIN",
    [12] = "ENOMEM", [13] = "EACCES", [14] = "EFAULT", [15] = "ENOTBLK", [16] = "EBUSY",
    [17] = "EEXIST", [18] = "EXDEV", [19] = "ENODEV", [20] = "ENOTDIR", [21] = "EISDIR",
    [22] = "EINVAL", [23] = "ENFILE", [24] = "EMFILE", [25] = "ENOTTY", [26] = "ETXTBSY",
    [27] = "EFBIG", [28] = "ENOSPC", [29] = "ESPIPE", [30] = "EROFS", [31] = "EMLINK",
    [32] = "EPIPE", [33] = "EDOM", [34] = "ERANGE", [35] = "EDEADLK", [36] = "ENAMETOOLONG",
    [37] = "ENOLCK", [38] = "ENOSYS", [39] = "ENOTEMPTY", [40] = "ELOOP", [42] = "ENOMSG",
    [43] = "EIDRM", [61] = "ENODATA", [62] = "ETIME", [71] = "EPROTO", [74] = "EBADMSG",
    [75] = "EOVERFLOW", [84] = "EILSEQ", [88] = "ENOTSOCK", [90] = "EMSGSIZE",
    [92] = "ENOPROTOOPT", [93] = "EPROTONOSUPPORT", [95] = "EOPNOTSUPP",
    [97] = "EAFNOSUPPORT", [98] = "EADDRINUSE", [103] = "ECONNABORTED",
    [104] = "ECONNRESET", [105] = "ENOBUFS", [106] = "EISCONN", [107] = "ENOTCONN",
    [110] = "ETIMEDOUT", [111] = "ECONNREFUSED", [114] = "EALREADY",
    [115] = "EINPROGRESS", [116] = "ESTALE", [122] = "EDQUOT", [125] = "ECANCELED",
    [126] = "ENOKEY", [130] = "EOWNERDEAD", [133] = "EHWPOISON",
};

/* ---- randomness: splitmix64, one stream per call ----------------------- */

typedef struct { u64 s; } rng;

static u64 mix(u64 z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static u64 next(rng *r) { return mix(r->s += 0x9e3779b97f4a7c15ull); }
static u64 below(rng *r, u64 n) { return n ? next(r) % n : 0; }
static int chance(rng *r, int one_in) { return below(r, one_in) == 0; }
static rng stream(u64 seed, u64 tag, u64 index) { return (rng){mix(seed ^ mix(tag * 0x100000001b3ull + index))}; }

/* ---- the app's own memory, which no call may take away ----------------- */

extern char __executable_start[], etext[], end[];

struct range { u64 lo, hi; };
static struct range prot_ranges[64];
static int nprot;

static void protect(u64 lo, u64 hi, const char *what)
{
    lo &= ~(PAGE - 1);
    hi = (hi + PAGE - 1) & ~(PAGE - 1);
    if (nprot < 64)
        prot_ranges[nprot++] = (struct range){lo, hi};
    say("fuzz: protected %#lx-%#lx %s\n", (unsigned long)lo, (unsigned long)hi, what);
}

static int hits_protected(u64 lo, u64 hi)
{
    for (int i = 0; i < nprot; i++)
        if (lo < prot_ranges[i].hi && prot_ranges[i].lo < hi)
            return 1;
    return 0;
}

/* Would Linux act on [addr, addr+len) of the app's own memory? No if the
 * call fails its argument checks first: unaligned start, overflowing or
 * empty range, or (for calls that check it) past the user half. */
static int harms_self(u64 addr, u64 len, int checks_task_size)
{
    if (addr & (PAGE - 1))
        return 0;
    u64 l = (len + PAGE - 1) & ~(PAGE - 1);
    if (len == 0 || l < len || addr + l < addr)
        return 0;
    if (checks_task_size && addr + l > TASK_SIZE)
        return 0;
    return hits_protected(addr, addr + l);
}

static unsigned char *scratch = (unsigned char *)SCRATCH_ADDR;
static u64 initial_brk;

/* Canaries: if any changes, the kernel wrote where no argument pointed. */
static volatile u64 canary_data[8] = {0x6675a2a1, 0x6675a2a2, 0x6675a2a3, 0x6675a2a4,
                                      0x6675a2a5, 0x6675a2a6, 0x6675a2a7, 0x6675a2a8};
static volatile u64 canary_bss[8];
static u64 text_sum;

static u64 checksum(const unsigned char *p, const unsigned char *e)
{
    u64 h = 0xcbf29ce484222325ull;
    for (; p < e; p++)
        h = (h ^ *p) * 0x100000001b3ull;
    return h;
}

static int canaries_ok(volatile u64 *stack_canary)
{
    for (int i = 0; i < 8; i++)
        if (canary_data[i] != 0x6675a2a1ull + i || canary_bss[i] != ~(0x6675a2a1ull + i) ||
            stack_canary[i] != 0x57ac0000ull + i)
            return 0;
    return 1;
}

/* ---- argument values ---------------------------------------------------- */

/* Scratch layout: [0, 8K) path strings (one slot per argument), [8K, 12K)
 * structs the fuzzer writes per call (timespecs, sigactions, ...), the
 * rest random data refilled each round. The page after it is unmapped. */
#define PATH_SLOT(i) (scratch + 512 * (i))
#define LONG_PATH (scratch + 3 * 1024)            /* 5000 bytes, to 8K */
#define STRUCT_SLOT(i) (scratch + 8192 + 256 * (i))
#define RANDOM_AREA 12288

static const char *paths[] = {
    "/fuzz/a", "/fuzz/f", "/fuzz/d", "/fuzz/d/x", "/fuzz/link", "/fuzz/dangling",
    "/fuzz/loop", "/fuzz/f/", "/fuzz/nonexistent/x", "//fuzz//a", "/fuzz/./d/../f",
    "a", "d/", "f", ".", "..", "/", "", "/dev/null", "/dev/zero", "/dev/full",
    "/dev/urandom", "/proc/self/exe", "/proc/self/fd/0", "/proc/self/maps", "/tmp",
    "/tmp/fuzz", "/etc/passwd", "/.ushell/argv", "/fuzz/\xff\xfe", NULL /* argv[0] */,
    NULL /* long path */, NULL /* long component */,
};
#define NPATHS (sizeof paths / sizeof paths[0])
static const char *self_path;

static const u64 huge_values[] = {
    0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ull, 0x7fffffffffffffffull,
    0x8000000000000000ull, 0xfffffffffffff000ull, 1ull << 40, 1ull << 44, 1ull << 46,
    1ull << 47, 33554431, 64 << 20, 1ull << 30, 0xffffffffffffff00ull, 4095, 4097,
};
#define NHUGE (sizeof huge_values / sizeof huge_values[0])

/* The last successful mmap/mremap results, fair targets for later calls. */
static u64 recent_maps[256][2];
static unsigned nrecent;

static u64 path_ptr(rng *r, int slot)
{
    unsigned i = below(r, NPATHS);
    char *dst = (char *)PATH_SLOT(slot);
    if (paths[i]) {
        strcpy(dst, paths[i]);
        return (u64)dst;
    }
    if (i == NPATHS - 3) {
        strncpy(dst, self_path, 511);
        dst[511] = 0;
        return (u64)dst;
    }
    if (i == NPATHS - 2)
        return (u64)LONG_PATH; /* "a/a/a/..." of 4999 bytes: ENAMETOOLONG */
    memcpy(dst, "/fuzz/", 6);
    memset(dst + 6, 'c', 300);
    dst[306] = 0;
    return (u64)dst;
}

static u64 kernel_addr(rng *r)
{
    switch (below(r, 4)) {
    case 0: return 0xffff800000000000ull + below(r, 4ull << 30);  /* direct map */
    case 1: return 0xffffffff80000000ull + below(r, 16 << 20);    /* kernel image */
    case 2: return 0xffff800000000000ull;
    default: return 0xfffffffffffff000ull + below(r, 4096);
    }
}

static u64 bad_ptr(rng *r)
{
    switch (below(r, 7)) {
    case 0: return 0;
    case 1: return below(r, 4096);                               /* page 0 */
    case 2: return 0x10000 + below(r, 0x10000);                  /* unmapped low */
    case 3: return kernel_addr(r);
    case 4: return 0x0000800000000000ull + below(r, 1ull << 40); /* non-canonical */
    case 5: return TASK_SIZE - below(r, 64);                     /* top of user */
    /* at most 8 bytes before the unmapped page: any struct crosses it */
    default: return (u64)scratch + SCRATCH_SIZE - 1 - below(r, 8);
    }
}

static u64 arena_ptr(rng *r)
{
    u64 off = below(r, ARENA_SPAN);
    return ARENA_ADDR + (chance(r, 3) ? off : off & ~(PAGE - 1));
}

static u64 scratch_ptr(rng *r)
{
    u64 off = below(r, SCRATCH_SIZE);
    return (u64)scratch + (chance(r, 4) ? off : off & ~7ull);
}

static u64 gen_ptr(rng *r)
{
    switch (below(r, 10)) {
    case 0: case 1: case 2: case 3: return scratch_ptr(r);
    case 4: case 5: return arena_ptr(r);
    case 6: return nrecent ? recent_maps[below(r, nrecent < 256 ? nrecent : 256)][0] + (chance(r, 2) ? 0 : below(r, 8192)) : 0;
    default: return bad_ptr(r);
    }
}

static u64 gen_len(rng *r)
{
    switch (below(r, 10)) {
    case 0: return 0;
    case 1: case 2: return below(r, 64);
    case 3: return below(r, 4097);
    case 4: return PAGE * (1 + below(r, 64));
    case 5: return below(r, SCRATCH_SIZE + 1);
    case 6: case 7: return huge_values[below(r, NHUGE)];
    case 8: return (u64)-1 - below(r, 2);
    default: return next(r) >> below(r, 64);
    }
}

static u64 gen_fd(rng *r)
{
    switch (below(r, 12)) {
    case 0: return (u64)-1;
    case 1: return (u64)(long)AT_FDCWD_;
    case 2: return below(r, 64);
    case 3: return next(r) & 0xffffffff;
    default: return below(r, 11);
    }
}

static u64 gen_flags(rng *r)
{
    switch (below(r, 6)) {
    case 0: return 0;
    case 1: return 1ull << below(r, 32);
    case 2: return (1ull << below(r, 32)) | (1ull << below(r, 32));
    case 3: return next(r) & next(r) & 0xffffffff;
    case 4: return below(r, 16);
    default: return next(r) & 0xffffffff;
    }
}

static u64 gen_off(rng *r)
{
    switch (below(r, 9)) {
    case 0: return 0;
    case 1: return below(r, 8192);
    case 2: return PAGE * below(r, 64);
    case 3: return 1ull << 40;
    case 4: return (u64)-1 - below(r, 4096);
    case 5: return 0x7fffffffffffffffull - below(r, 2);
    case 6: return 64ull << 20;
    case 7: return huge_values[below(r, NHUGE)];
    default: return next(r);
    }
}

static u64 gen_small(rng *r)
{
    switch (below(r, 6)) {
    case 0: return (u64)-1;
    case 1: return next(r) & 0xffffffff;
    default: return below(r, 17);
    }
}

static u64 gen_any(rng *r, int slot)
{
    switch (below(r, 16)) {
    case 0: return 0;
    case 1: return below(r, 17);
    case 2: return (u64)-1;
    case 3: return below(r, 11);
    case 4: return huge_values[below(r, NHUGE)];
    case 5: return next(r);
    case 6: return next(r) & 0xffffffff;
    case 7: case 8: return scratch_ptr(r);
    case 9: return arena_ptr(r);
    case 10: return bad_ptr(r);
    case 11: return path_ptr(r, slot);
    case 12: return PAGE * below(r, 1024);
    case 13: return gen_flags(r);
    case 14: return (u64)(long)AT_FDCWD_;
    default: return gen_off(r);
    }
}

/* Memory-call address: mostly the arena, sometimes anywhere interesting. */
static u64 gen_addr(rng *r)
{
    switch (below(r, 12)) {
    case 0: case 1: case 2: case 3: case 4: return ARENA_ADDR + (below(r, ARENA_SPAN) & ~(PAGE - 1));
    case 5: return arena_ptr(r);
    case 6: return nrecent ? recent_maps[below(r, nrecent < 256 ? nrecent : 256)][0] : ARENA_ADDR;
    case 7: return PAGE * below(r, 64);                     /* page 0 and up */
    case 8: return kernel_addr(r);
    case 9: return 0x0000800000000000ull - PAGE * below(r, 4);
    case 10: return initial_brk + PAGE * below(r, 16);
    default: return next(r) & ~(PAGE - 1) & 0x7fffffffffffull;
    }
}

static u64 gen_mmlen(rng *r)
{
    switch (below(r, 8)) {
    case 0: case 1: case 2: return PAGE * (1 + below(r, 512));
    case 3: return 1 + below(r, 3 * PAGE);
    case 4: return 1ull << (30 + below(r, 18)); /* 1 GiB .. 128 TiB */
    case 5: return 16ull << 40;                 /* 16 TiB */
    case 6: return huge_values[below(r, NHUGE)];
    default: return gen_len(r);
    }
}

static u64 gen_brk(rng *r)
{
    switch (below(r, 6)) {
    case 0: return 0;
    case 1: return initial_brk + below(r, 1 << 20);
    case 2: return initial_brk + (1ull << (20 + below(r, 24)));
    case 3: return initial_brk - below(r, 1 << 20);
    case 4: return initial_brk + (8ull << 40);
    default: return next(r);
    }
}

static u64 gen_sig(rng *r)
{
    return chance(r, 8) ? next(r) & 0xffffffff : below(r, 66);
}

/* A timeout of at most 1 ms (or a bad pointer): blocking calls return. */
static u64 small_timespec(rng *r, int slot, int timeval)
{
    if (chance(r, 8))
        return bad_ptr(r);
    long *t = (long *)STRUCT_SLOT(slot);
    t[0] = 0;
    t[1] = timeval ? (long)below(r, 1000) : (long)below(r, 1000000);
    if (chance(r, 16))
        t[1] = chance(r, 2) ? -1 : 1000000000; /* invalid: EINVAL */
    return (u64)t;
}

/* ---- argument kinds per syscall ---------------------------------------- */
/* f fd, d dirfd, P path, p pointer, l length, i flags, n small number,
 * o offset, a memory address, L memory length, b brk, m mode, S signal,
 * z sigset size (8), u anything. Numbers not listed get 'u' for all six. */
static const char *const kinds[NR_COUNT] = {
    [0] = "fpl", [1] = "fpl", [2] = "Pim", [3] = "f", [4] = "Pp", [5] = "fp", [6] = "Pp",
    [7] = "pnn", [8] = "fon", [9] = "aLnMfo", [10] = "aLn", [11] = "aL", [12] = "b",
    [13] = "Sppz", [14] = "nppz", [16] = "fip", [17] = "fplo", [18] = "fplo", [19] = "fpn",
    [20] = "fpn", [21] = "Pn", [22] = "p", [23] = "npppp", [25] = "aLLia", [26] = "aLn",
    [27] = "aLp", [28] = "aLA", [32] = "f", [33] = "ff", [35] = "pp", [37] = "n",
    [38] = "npp", [40] = "ffpl", [41] = "nin", [42] = "fpl", [43] = "fpp", [44] = "fplipl",
    [45] = "fplipp", [46] = "fpi", [47] = "fpi", [48] = "fn", [49] = "fpl", [50] = "fn",
    [51] = "fpp", [52] = "fpp", [53] = "ninp", [54] = "fnnpl", [55] = "fnnpp", [61] = "nppp",
    [62] = "nS", [63] = "p", [72] = "fnu", [73] = "fn", [74] = "f", [75] = "f", [76] = "Po",
    [77] = "fo", [78] = "fpl", [79] = "pl", [80] = "P", [81] = "f", [82] = "PP", [83] = "Pm",
    [84] = "P", [85] = "Pm", [86] = "PP", [87] = "P", [88] = "PP", [89] = "Ppl", [90] = "Pm",
    [91] = "fm", [92] = "Pnn", [93] = "fnn", [94] = "Pnn", [95] = "m", [96] = "pp",
    [97] = "np", [98] = "np", [99] = "p", [100] = "p", [128] = "pppz", [129] = "nSp",
    [131] = "pp", [132] = "Pp", [133] = "Pmn", [137] = "Pp", [138] = "fp", [157] = "nuuuu",
    [158] = "np", [160] = "np", [161] = "P", [187] = "fol", [188] = "PPpli", [191] = "PPpl",
    [194] = "Ppl", [197] = "PP", [200] = "nS", [201] = "p", [202] = "pnnppn", [204] = "nlp",
    [217] = "fpl", [218] = "p", [221] = "fooi", [228] = "np", [229] = "np", [230] = "nipp",
    [232] = "fpnn", [233] = "fnfp", [234] = "nnS", [235] = "Pp", [257] = "dPim",
    [258] = "dPm", [259] = "dPmn", [260] = "dPnni", [262] = "dPpi", [263] = "dPi",
    [264] = "dPdP", [265] = "dPdPi", [266] = "PdP", [267] = "dPpl", [268] = "dPm",
    [269] = "dPn", [270] = "nppppp", [271] = "pnppz", [275] = "fpfpli", [276] = "ffli",
    [278] = "fpni", [280] = "dPpi", [281] = "fpnnpz", [283] = "ni", [284] = "n",
    [285] = "fnoo", [288] = "fppi", [289] = "fpzi", [290] = "ni", [291] = "i",
    [292] = "ffi", [293] = "pi", [294] = "i", [295] = "fpno", [296] = "fpno",
    [302] = "nnpp", [316] = "dPdPi", [318] = "pli", [319] = "Pi", [326] = "fpfpli",
    [327] = "fpnoi", [328] = "fpnoi", [329] = "aLnn", [332] = "dPinp", [334] = "plnn",
    [424] = "fSpi", [434] = "ni", [436] = "ffi", [437] = "dPpl", [439] = "dPni",
    [441] = "fpnppz", [449] = "pnipn", [452] = "dPmi", [455] = "pnnipn",
};

static u64 gen_kind(rng *r, char k, int slot)
{
    if (chance(r, 10))
        return gen_any(r, slot);
    switch (k) {
    case 'f': return gen_fd(r);
    case 'd': return chance(r, 2) ? (u64)(long)AT_FDCWD_ : gen_fd(r);
    case 'P': return chance(r, 8) ? gen_ptr(r) : path_ptr(r, slot);
    case 'p': return gen_ptr(r);
    case 'l': return gen_len(r);
    case 'i': return gen_flags(r);
    case 'n': return gen_small(r);
    case 'o': return gen_off(r);
    case 'a': return gen_addr(r);
    case 'L': return gen_mmlen(r);
    case 'b': return gen_brk(r);
    case 'm': return chance(r, 4) ? next(r) & 0xffffffff : below(r, 010000) | (chance(r, 3) ? (below(r, 16) << 12) : 0);
    case 'S': return gen_sig(r);
    case 'z': return chance(r, 4) ? gen_small(r) : 8;
    case 'M': { /* mmap flags: mostly valid combinations */
        static const u64 extra[] = {0x10 /* FIXED */, 0x100000 /* FIXED_NOREPLACE */, 0x4000 /* NORESERVE */,
                                    0x8000 /* POPULATE */, 0x100 /* GROWSDOWN */, 0x40 /* 32BIT */,
                                    0x10000 /* NONBLOCK */, 0x40000 /* HUGETLB */, 0x80000 /* SYNC */};
        u64 f = (chance(r, 4) ? 0x01 : 0x02) | (chance(r, 4) ? 0 : 0x20);
        for (int j = below(r, 3); j > 0; j--)
            f |= extra[below(r, sizeof extra / sizeof extra[0])];
        return chance(r, 8) ? f | gen_flags(r) : f;
    }
    case 'A': /* madvise advice */
        return chance(r, 8) ? gen_small(r) : chance(r, 10) ? 100 + below(r, 2) : below(r, 26);
    default: return gen_any(r, slot);
    }
}

/* ---- adjustments: keep the app alive and unblocked ---------------------- */

static u64 adjusted;
static struct { u32 cpu_id_start, cpu_id; u64 rseq_cs; u32 flags, node_id, mm_cid, pad[3]; } rseq_area __attribute__((aligned(32)));

static void set(u64 *a, u64 v)
{
    if (*a != v) {
        *a = v;
        adjusted++;
    }
}
static void set_bits(u64 *a, u64 bits) { set(a, *a | bits); }

static int is_fatal_sig(u64 s) { return (u32)s == 9 || (u32)s == 19; }

/* A sigevent for timer_create/mq_notify: a harmless notification, or none,
 * or a bad pointer. */
static u64 safe_sigevent(rng *r, int slot)
{
    if (chance(r, 4))
        return chance(r, 2) ? 0 : bad_ptr(r);
    unsigned char *p = STRUCT_SLOT(slot);
    memset(p, 0, 64);
    u64 sig = gen_sig(r);
    if (is_fatal_sig(sig))
        sig = 10;
    *(u64 *)p = next(r);                       /* sigev_value */
    *(int *)(p + 8) = (int)sig;                /* sigev_signo */
    *(int *)(p + 12) = (int)below(r, 6);       /* sigev_notify: SIGNAL, NONE, THREAD, 3, THREAD_ID, 5 */
    *(int *)(p + 16) = (int)below(r, 4);       /* sigev_notify_thread_id */
    return (u64)p;
}

/* rt_sigaction's new action: SIG_IGN with random flags, mask and restorer
 * (a handler would run once the kernel delivers signals, and SIG_DFL would
 * let a pending SIGALRM end the app), or no action, or a bad pointer. */
static u64 safe_sigaction(rng *r, int slot)
{
    switch (below(r, 4)) {
    case 0: return 0;
    case 1: return bad_ptr(r);
    default: {
        u64 *p = (u64 *)STRUCT_SLOT(slot);
        p[0] = 1; /* SIG_IGN */
        p[1] = gen_flags(r);
        p[2] = gen_ptr(r);
        p[3] = next(r);
        return (u64)p;
    }
    }
}

static void adjust(rng *r, int nr, u64 *a)
{
    switch (nr) {
    /* -- never block -- */
    case NR_poll: if ((long)a[2] < 0 || a[2] > 1) set(&a[2], below(r, 2)); break;
    case NR_epoll_wait: case NR_epoll_pwait: if ((int)a[3] < 0 || (int)a[3] > 1) set(&a[3], below(r, 2)); break;
    case NR_select: set(&a[4], small_timespec(r, 4, 1)); break;
    case NR_pselect6: set(&a[4], small_timespec(r, 4, 0)); break;
    case NR_ppoll: set(&a[2], small_timespec(r, 2, 0)); break;
    case NR_epoll_pwait2: set(&a[3], small_timespec(r, 3, 0)); break;
    case NR_nanosleep: set(&a[0], small_timespec(r, 0, 0)); break;
    case NR_clock_nanosleep:
        /* a CPU-time clock of the app itself never advances while it sleeps */
        if ((int)a[0] == 2 || (int)a[0] < 0) set(&a[0], 1);
        set(&a[2], small_timespec(r, 2, 0));
        break;
    case NR_futex: set(&a[3], small_timespec(r, 3, 0)); break;
    case NR_futex_wait: set(&a[4], small_timespec(r, 4, 0)); break;
    case NR_futex_waitv: set(&a[3], small_timespec(r, 3, 0)); break;
    case NR_rt_sigtimedwait: set(&a[2], small_timespec(r, 2, 0)); break;
    case NR_io_getevents: case NR_io_pgetevents: set(&a[4], small_timespec(r, 4, 0)); break;
    case NR_mq_timedsend: case NR_mq_timedreceive: set(&a[4], small_timespec(r, 4, 0)); break;
    case NR_semtimedop: set(&a[3], small_timespec(r, 3, 0)); break;
    case NR_recvmmsg: set_bits(&a[3], 0x40); set(&a[4], small_timespec(r, 4, 0)); break;
    case NR_recvfrom: case NR_sendto: set_bits(&a[3], 0x40); break; /* MSG_DONTWAIT */
    case NR_recvmsg: case NR_sendmsg: set_bits(&a[2], 0x40); break;
    case NR_sendmmsg: set_bits(&a[3], 0x40); break;
    case NR_msgsnd: set_bits(&a[3], 04000); break; /* IPC_NOWAIT */
    case NR_msgrcv: set_bits(&a[4], 04000); break;
    case NR_open: set_bits(&a[1], 04000); break;   /* O_NONBLOCK */
    case NR_openat: set_bits(&a[2], 04000); break;
    case NR_open_by_handle_at: set_bits(&a[2], 04000); break;
    case NR_mq_open: set_bits(&a[1], 04000); break;
    case NR_openat2:
        if (a[2] >= (u64)scratch && a[2] + 8 <= (u64)scratch + SCRATCH_SIZE && !(a[2] & 7))
            *(u64 *)a[2] |= 04000; /* open_how.flags */
        else if (!chance(r, 4))
            set(&a[2], bad_ptr(r));
        break;
    case NR_pipe2: set_bits(&a[1], 04000); break;
    case NR_socket: case NR_socketpair: set_bits(&a[1], 04000); break; /* SOCK_NONBLOCK */
    case NR_accept4: set_bits(&a[3], 04000); break;
    /* EFD_, TFD_, IN_ and SFD_NONBLOCK are all O_NONBLOCK */
    case NR_eventfd2: case NR_timerfd_create: set_bits(&a[1], 04000); break;
    case NR_inotify_init1: set_bits(&a[0], 04000); break;
    case NR_signalfd4: set_bits(&a[3], 04000); break;
    case NR_fanotify_init: set_bits(&a[0], 2); break; /* FAN_NONBLOCK */
    case NR_userfaultfd: set_bits(&a[0], 04000); break;
    case NR_mknod: case NR_mknodat: {
        int i = nr == NR_mknod ? 1 : 2;
        if ((a[i] & 0170000) == 0010000) /* S_IFIFO: opening it would block */
            set(&a[i], (a[i] & ~0170000ull) | 0100000);
        break;
    }
    case NR_fcntl:
        switch ((u32)a[1]) {
        case 4: set_bits(&a[2], 04000); break;       /* F_SETFL keeps O_NONBLOCK */
        case 7: set(&a[1], 6); break;                /* F_SETLKW -> F_SETLK */
        case 38: set(&a[1], 37); break;              /* F_OFD_SETLKW -> F_OFD_SETLK */
        case 10: if (is_fatal_sig(a[2])) set(&a[2], 0); break; /* F_SETSIG */
        }
        break;
    case NR_ioctl: if ((u32)a[1] == 0x5421) set(&a[1], 0x541b); break; /* FIONBIO -> FIONREAD */
    case NR_flock: set_bits(&a[1], 4); break;        /* LOCK_NB */
    case NR_splice: set_bits(&a[5], 2); break;       /* SPLICE_F_NONBLOCK */
    case NR_tee: case NR_vmsplice: set_bits(&a[3], 2); break;
    case NR_io_uring_enter: set(&a[2], 0); break;   /* min_complete */
    case NR_ptrace: if ((u32)a[0] == 0) set(&a[0], 2); break; /* TRACEME -> PEEKDATA */
    /* -- never end the app -- */
    case NR_kill: case NR_tkill: case NR_rt_sigqueueinfo: case NR_pidfd_send_signal:
        if (is_fatal_sig(a[1])) set(&a[1], 0);
        break;
    case NR_tgkill: case NR_rt_tgsigqueueinfo: if (is_fatal_sig(a[2])) set(&a[2], 0); break;
    case NR_rt_sigaction: set(&a[1], safe_sigaction(r, 1)); break;
    case NR_timer_create: set(&a[1], safe_sigevent(r, 1)); break;
    case NR_mq_notify: set(&a[1], safe_sigevent(r, 1)); break;
    case NR_arch_prctl:
        if ((u32)a[0] == 0x1002 || ((u32)a[0] >= 0x5001 && (u32)a[0] <= 0x5005))
            set(&a[0], 0x1003); /* ARCH_SET_FS, ARCH_SHSTK_* -> ARCH_GET_FS */
        break;
    case NR_seccomp: if ((u32)a[0] <= 1) set(&a[0], 2); break; /* -> GET_ACTION_AVAIL */
    case NR_prctl:
        if ((u32)a[0] == 22) set(&a[0], 21);         /* PR_SET_SECCOMP -> PR_GET_SECCOMP */
        if ((u32)a[0] == 59) set(&a[0], 0);          /* PR_SET_SYSCALL_USER_DISPATCH */
        break;
    case NR_setrlimit: if ((u32)a[0] == 0 || (u32)a[0] == 15) set(&a[0], 16 + below(r, 1000)); break;
    case NR_prlimit64: if ((u32)a[1] == 0 || (u32)a[1] == 15) set(&a[1], 16 + below(r, 1000)); break;
    case NR_rseq:
        /* Linux reads rseq->rseq_cs after every preemption and kills the
         * app if it is garbage: register only a zeroed area of our own (or
         * bad pointers), never random scratch data. */
        if (chance(r, 2) || (a[0] >= (u64)scratch && a[0] < (u64)scratch + SCRATCH_SIZE) ||
            (a[0] >= ARENA_ADDR && a[0] < ARENA_ADDR + ARENA_SPAN))
            set(&a[0], (u64)&rseq_area);
        break;
    /* -- never take the app's own memory -- */
    case NR_mmap:
        if (a[3] & 0x10) /* MAP_FIXED */
            for (int t = 0; t < 8 && harms_self(a[0], a[1], 1); t++)
                set(&a[0], gen_addr(r)), set(&a[1], gen_mmlen(r));
        if ((a[3] & 0x10) && harms_self(a[0], a[1], 1)) set(&a[0], ARENA_ADDR), set(&a[1], PAGE);
        break;
    case NR_munmap: case NR_mprotect: case NR_pkey_mprotect: case NR_madvise: case NR_remap_file_pages: {
        int task = nr == NR_munmap;
        for (int t = 0; t < 8 && harms_self(a[0], a[1], task); t++)
            set(&a[0], gen_addr(r)), set(&a[1], gen_mmlen(r));
        if (harms_self(a[0], a[1], task)) set(&a[0], ARENA_ADDR), set(&a[1], PAGE);
        break;
    }
    case NR_mremap: {
        /* old range (at least a page: old_len 0 duplicates a mapping), and
         * the target of MREMAP_FIXED */
        for (int t = 0; t < 8 && (harms_self(a[0], a[1] ? a[1] : 1, 1) || ((a[3] & 2) && harms_self(a[4], a[2], 1))); t++)
            set(&a[0], gen_addr(r)), set(&a[1], gen_mmlen(r)), set(&a[4], gen_addr(r));
        if (harms_self(a[0], a[1] ? a[1] : 1, 1) || ((a[3] & 2) && harms_self(a[4], a[2], 1)))
            set(&a[0], ARENA_ADDR), set(&a[1], PAGE), set(&a[4], ARENA_ADDR + PAGE);
        break;
    }
    case NR_shmat: if (a[2] & 040000) set(&a[2], a[2] & ~040000ull); break; /* SHM_REMAP */
    case NR_brk: break; /* Linux keeps brk between its start and the next mapping */
    /* -- never close the app's own output -- */
    case NR_close: if ((u32)a[0] >= OUT_FD && (u32)a[0] <= ROOT_FD) set(&a[0], 10); break;
    case NR_dup2: case NR_dup3: if ((u32)a[1] >= OUT_FD && (u32)a[1] <= ROOT_FD) set(&a[1], 10); break;
    case NR_close_range: {
        u32 lo = a[0], hi = a[1];
        if (lo <= ROOT_FD && hi >= OUT_FD) {
            if (lo < OUT_FD) set(&a[1], OUT_FD - 1);
            else set(&a[0], ROOT_FD + 1);
        }
        break;
    }
    }
}

/* After a call: new descriptors become non-blocking where the call had no
 * flag for it; new mappings are remembered for later calls and cleanup. */
static long lowest_free_fd(long from)
{
    while (from < 65536 && sc2(NR_fcntl, from, 1 /* F_GETFD */) != -9 /* EBADF */)
        from++;
    return from;
}

/* pipe(2) has no flags and may write its descriptors where the fuzzer
 * cannot read them back; they will be the two lowest free numbers. */
static long pipe_fds[2];

static void before(int nr)
{
    if (nr == NR_pipe) {
        pipe_fds[0] = lowest_free_fd(0);
        pipe_fds[1] = lowest_free_fd(pipe_fds[0] + 1);
    }
}

static void after(int nr, const u64 *a, long ret)
{
    long fds[2] = {-1, -1};
    switch (nr) {
    case NR_pipe:
        if (ret == 0)
            fds[0] = pipe_fds[0], fds[1] = pipe_fds[1];
        break;
    case NR_eventfd: case NR_signalfd: case NR_inotify_init: case 43 /* accept */:
        fds[0] = ret;
        break;
    case NR_mmap: case NR_mremap:
        if (ret > 0 && (u64)ret < TASK_SIZE && !((u64)ret >= ARENA_ADDR && (u64)ret < ARENA_ADDR + ARENA_SPAN)) {
            recent_maps[nrecent % 256][0] = ret;
            recent_maps[nrecent % 256][1] = nr == NR_mmap ? a[1] : a[2];
            nrecent++;
        }
        break;
    }
    for (int i = 0; i < 2; i++)
        if (fds[i] >= 0 && fds[i] < 4096) {
            long fl = sc2(NR_fcntl, fds[i], 3 /* F_GETFL */);
            if (fl >= 0)
                sc3(NR_fcntl, fds[i], 4 /* F_SETFL */, fl | 04000);
        }
}

/* ---- the playground, reset at each round ------------------------------- */

static u64 saved_rlimits[16][2];

static void put_fd(long fd, int want)
{
    if (fd < 0)
        return;
    if (fd != want) {
        sc2(NR_dup2, fd, want);
        sc1(NR_close, fd);
    }
}

static void reset(rng *r)
{
    /* Out of any chroot and back to /fuzz. */
    sc1(NR_fchdir, ROOT_FD);
    sc1(NR_chroot, ".");
    sc1(NR_chdir, "/");
    sc1(NR_umask, 022);
    /* Memory: the fuzz calls' mappings, the heap, the arena. */
    unsigned n = nrecent < 256 ? nrecent : 256;
    for (unsigned i = 0; i < n; i++) {
        u64 lo = recent_maps[i][0], len = recent_maps[i][1];
        if (!harms_self(lo, len, 1))
            sc2(NR_munmap, lo, len);
    }
    nrecent = 0;
    sc1(NR_brk, initial_brk);
    sc2(NR_munmap, ARENA_ADDR, ARENA_SPAN);
    /* arena: 2 MiB RW (first pages touched), 1 MiB R, 1 MiB hole, 1 MiB
     * PROT_NONE, 1 MiB RWX, 2 MiB hole */
    u64 A = ARENA_ADDR;
    long m = sc6(NR_mmap, A, 2 << 20, 3, 0x32 /* PRIVATE|FIXED|ANON */, -1, 0);
    if (m == (long)A)
        for (int i = 0; i < 16; i++)
            ((volatile char *)A)[i * PAGE] = (char)i;
    sc6(NR_mmap, A + (2 << 20), 1 << 20, 1, 0x32, -1, 0);
    sc6(NR_mmap, A + (4 << 20), 1 << 20, 0, 0x32, -1, 0);
    sc6(NR_mmap, A + (5 << 20), 1 << 20, 7, 0x32, -1, 0);
    /* Descriptors: everything but ours closed, then a fixed set. */
    if (sc3(NR_close_range, 0, OUT_FD - 1, 0) != 0 || sc3(NR_close_range, ROOT_FD + 1, ~0u, 0) != 0)
        for (int fd = 0; fd < 1024; fd++) /* close_range missing: the default RLIMIT_NOFILE's worth */
            if (fd < OUT_FD || fd > ROOT_FD)
                sc1(NR_close, fd);
    sc2(NR_mkdir, "/fuzz", 0755);
    sc2(NR_mkdir, "/fuzz/d", 0755);
    sc2(NR_mkdir, "/tmp", 01777);
    sc2(88 /* symlink */, "/fuzz/f", "/fuzz/link");
    sc2(88, "/fuzz/nowhere", "/fuzz/dangling");
    sc2(88, "/fuzz/loop", "/fuzz/loop");
    sc1(NR_chdir, "/fuzz");
    /* Files the calls may have grown: empty again (memory stays bounded). */
    static const char *const grown[] = {"/fuzz/a", "/fuzz/in", "/fuzz/d/x", "/fuzz/c", "/tmp/fuzz", "/fuzz/d/a", "/fuzz/d/f"};
    for (unsigned i = 0; i < sizeof grown / sizeof grown[0]; i++)
        sc2(76 /* truncate */, grown[i], 0);
    put_fd(sc3(NR_open, "/fuzz/in", 0102 | 04000, 0644), 0);           /* O_RDWR|O_CREAT */
    put_fd(sc3(NR_open, "/fuzz/out", 01102 | 04000, 0644), 1);         /* ... |O_TRUNC */
    put_fd(sc3(NR_open, "/fuzz/err", 01102 | 04000, 0644), 2);
    put_fd(sc3(NR_open, "/fuzz", 0200000 | 04000, 0), 3);              /* O_DIRECTORY */
    int p[2];
    if (sc2(NR_pipe2, p, 04000) == 0) {
        put_fd(p[0], 4);
        put_fd(p[1], 5);
    }
    long f = sc3(NR_open, "/fuzz/f", 0102 | 04000, 0644);
    if (f >= 0) {
        sc2(NR_ftruncate, f, 65536);
        put_fd(f, 6);
    }
    put_fd(sc3(NR_open, self_path, 04000, 0), 7);
    put_fd(sc3(NR_open, "/", 0200000, 0), 8);
    put_fd(sc3(NR_open, "/dev/null", 2 | 04000, 0), 9);
    put_fd(sc1(32 /* dup */, 6), 10);
    sc3(NR_write, 0, "input for the fuzzer\n", 21);
    /* A private copy of /fuzz/f in the arena, for file-backed mappings. */
    sc6(NR_mmap, A + (7 << 20), 65536, 3, 0x12 /* PRIVATE|FIXED */, 6, 0);
    /* Signals: every catchable one ignored, none blocked, no altstack. */
    for (int s = 1; s <= 64; s++) {
        if (s == 9 || s == 19)
            continue;
        u64 act[4] = {1 /* SIG_IGN */, 0, 0, 0};
        sc4(NR_rt_sigaction, s, act, 0, 8);
    }
    u64 none = 0;
    sc4(NR_rt_sigprocmask, 2 /* SIG_SETMASK */, &none, 0, 8);
    u64 ss[3] = {0, 2 /* SS_DISABLE */, 0};
    sc2(NR_sigaltstack, ss, 0);
    for (int i = 0; i < 16; i++)
        if (saved_rlimits[i][1])
            sc2(NR_setrlimit, i, saved_rlimits[i]);
    /* Scratch: fresh random data, with plausible values (pointers into the
     * scratch buffer and arena, small numbers, sizes) sprinkled in so that
     * iovecs, msghdrs and friends sometimes make sense. */
    u64 *w = (u64 *)(scratch + RANDOM_AREA);
    for (u64 i = 0; i < (SCRATCH_SIZE - RANDOM_AREA) / 8; i++) {
        switch (below(r, 4)) {
        case 0: w[i] = next(r); break;
        case 1: w[i] = below(r, 4096); break;
        case 2: w[i] = scratch_ptr(r); break;
        default: w[i] = gen_any(r, 5); break;
        }
    }
}

/* Everything /proc/self/maps lists at start (where the kernel has it: on
 * Linux that adds the vDSO and vvar pages). */
static void protect_maps(void)
{
    static char buf[32768];
    long fd = sc3(NR_open, "/proc/self/maps", 0, 0), n = 0, got;
    if (fd < 0)
        return;
    while (n < (long)sizeof buf - 1 && (got = sc3(NR_read, fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += got;
    sc1(NR_close, fd);
    buf[n > 0 ? n : 0] = 0;
    for (char *l = buf; *l;) {
        char *e;
        u64 lo = strtoull(l, &e, 16), hi = *e == '-' ? strtoull(e + 1, &e, 16) : 0;
        if (hi > lo && lo < TASK_SIZE)
            protect(lo, hi, "(from /proc/self/maps)");
        while (*l && *l != '\n')
            l++;
        if (*l)
            l++;
    }
}

/* ---- command line ------------------------------------------------------- */

static int parse_list(const char *s, unsigned char *set_, const char *what)
{
    while (*s) {
        char *e;
        unsigned long n = strtoul(s, &e, 0);
        if (e == s || n >= NR_COUNT) {
            say("fuzz: bad %s list at \"%s\" (want numbers 0..460 separated by commas)\n", what, s);
            return -1;
        }
        set_[n] = 1;
        s = *e == ',' ? e + 1 : e;
        if (*e && *e != ',') {
            say("fuzz: bad %s list at \"%s\"\n", what, e);
            return -1;
        }
    }
    return 0;
}

static int parse_u64(const char *s, u64 *v, const char *what)
{
    char *e;
    *v = strtoull(s, &e, 0);
    if (!*s || *e) {
        say("fuzz: bad %s \"%s\"\n", what, s);
        return -1;
    }
    return 0;
}

static u64 calls_by_nr[NR_COUNT], enosys_by_nr[NR_COUNT], errno_count[4096];

int main(int argc, char **argv)
{
    volatile u64 stack_canary[8];
    for (int i = 0; i < 8; i++) {
        stack_canary[i] = 0x57ac0000ull + i;
        canary_bss[i] = ~(0x6675a2a1ull + i);
    }
    u64 seed = 0, calls = 100000, start = 0, trace_from = ~0ull, progress = 10000;
    int have_seed = 0;
    static unsigned char skip[NR_COUNT], only[NR_COUNT];
    int any_only = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            say("fuzz: %s needs a value\n", o);
            return 1;
        }
        int bad = 0;
        if (!strcmp(o, "--seed")) bad = parse_u64(v, &seed, "seed"), have_seed = 1;
        else if (!strcmp(o, "--calls")) bad = parse_u64(v, &calls, "call count");
        else if (!strcmp(o, "--start")) bad = parse_u64(v, &start, "start index");
        else if (!strcmp(o, "--trace-from")) bad = parse_u64(v, &trace_from, "trace start");
        else if (!strcmp(o, "--progress")) bad = parse_u64(v, &progress, "progress interval");
        else if (!strcmp(o, "--skip")) bad = parse_list(v, skip, "skip");
        else if (!strcmp(o, "--only")) bad = parse_list(v, only, "only"), any_only = 1;
        else {
            say("fuzz: unknown option %s\nusage: fuzz [--seed S] [--calls N] [--start K] [--skip N,M,..] [--only N,M,..] [--trace-from K] [--progress N]\n", o);
            return 1;
        }
        if (bad)
            return 1;
        i++;
    }
    static char uts[6][65];
    if (sc0(NR_getpid) != 1 || sc1(63 /* uname */, uts) != 0 || !strstr(uts[3], "ushell unikernel")) {
        say("fuzz: refusing to run outside the ushell unikernel: random unlink, chmod, rename and kill calls "
            "would damage a real host, even inside namespaces and a chroot. Run it with `ushell run`.\n");
        return 2;
    }
    if (!have_seed && sc3(NR_getrandom, &seed, 8, 0) != 8)
        seed = 0x5eed;
    self_path = argv[0];

    /* The real stdout/stderr move out of the fuzzed descriptor range. */
    sc2(NR_dup2, 1, OUT_FD);
    sc2(NR_dup2, 2, ERR_FD);
    long rootfd = sc3(NR_open, "/", 0200000, 0);
    if (rootfd >= 0)
        put_fd(rootfd, ROOT_FD);
    if (sc2(NR_fcntl, OUT_FD, 1 /* F_GETFD */) < 0) {
        say("fuzz: cannot move stdout to fd %d\n", OUT_FD);
        return 1;
    }
    out_fd = OUT_FD;

    say("fuzz: seed %#lx calls %lu start %lu\n", (unsigned long)seed, (unsigned long)calls, (unsigned long)start);
    /* What must survive: the image (text to bss), the heap's start, the
     * stack (8 MiB below and the argument area above), the vDSO if any. */
    initial_brk = sc1(NR_brk, 0);
    protect((u64)__executable_start, (u64)end, "image");
    protect(initial_brk, initial_brk + PAGE, "brk start");
    u64 sp = (u64)&stack_canary;
    protect(sp - (9ull << 20), sp + (1ull << 20), "stack");
    protect(0x7fffffff0000ull, 0x7fffffff1000ull, "trampoline page");
    protect_maps();
    text_sum = checksum((unsigned char *)__executable_start, (unsigned char *)etext);

    /* The scratch buffer, with an unmapped page after it. */
    long s = sc6(NR_mmap, SCRATCH_ADDR, SCRATCH_SIZE, 3, 0x100022 /* PRIVATE|ANON|FIXED_NOREPLACE */, -1, 0);
    if (s < 0 && s > -4096) {
        say("fuzz: cannot map the scratch buffer at %#lx (error %ld)\n", (unsigned long)SCRATCH_ADDR, -s);
        return 1;
    }
    scratch = (unsigned char *)s;
    sc2(NR_munmap, (u64)scratch + SCRATCH_SIZE, PAGE);
    protect((u64)scratch, (u64)scratch + SCRATCH_SIZE, "scratch buffer");
    for (int i = 0; i < 4999; i++)
        LONG_PATH[i] = i % 2 ? '/' : 'a';
    LONG_PATH[4999] = 0;
    for (int i = 0; i < 16; i++)
        sc2(97 /* getrlimit */, i, saved_rlimits[i]);

    int order[NR_COUNT], nnums = 0;
    for (int n = 0; n < NR_COUNT; n++)
        if (!skip[n] && (!any_only || only[n]))
            order[nnums++] = n;
    for (unsigned i = 0; i < sizeof never_called / sizeof never_called[0]; i++)
        for (int j = 0; j < nnums; j++)
            if (order[j] == never_called[i])
                order[j] = order[--nnums];
    if (!nnums) {
        say("fuzz: no syscall numbers left to call\n");
        return 1;
    }
    say("fuzz: numbers never called:");
    for (int n = 0; n < NR_COUNT; n++) {
        int in = 0;
        for (int j = 0; j < nnums; j++)
            in |= order[j] == n;
        if (!in)
            say(" %d", n);
    }
    say("\n");
    int base[NR_COUNT];
    memcpy(base, order, sizeof base);

    u64 made = 0, ok = 0;
    long cur_round = -1;
    int perm[NR_COUNT];
    for (u64 i = start; i < start + calls; i++) {
        long round = i / nnums;
        if (round != cur_round) {
            cur_round = round;
            rng rr = stream(seed, 1, round);
            memcpy(perm, base, sizeof perm);
            for (int j = nnums - 1; j > 0; j--) {
                int k = below(&rr, j + 1), t = perm[j];
                perm[j] = perm[k];
                perm[k] = t;
            }
            if (!canaries_ok(stack_canary)) {
                say("\nFAIL: the app's own memory changed (canaries) before round %ld\n", round);
                return 1;
            }
            reset(&rr);
        }
        int nr = perm[i % nnums];
        rng r = stream(seed, 2, i);
        u64 a[6];
        const char *k = kinds[nr];
        int typed = k && !chance(&r, 4);
        for (int j = 0; j < 6; j++)
            a[j] = typed && j < (int)strlen(k) ? gen_kind(&r, k[j], j) : gen_any(&r, j);
        adjust(&r, nr, a);
        if (i >= trace_from)
            say("call %lu: %d(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)\n", (unsigned long)i, nr, (unsigned long)a[0],
                (unsigned long)a[1], (unsigned long)a[2], (unsigned long)a[3], (unsigned long)a[4], (unsigned long)a[5]);
        before(nr);
        long ret = sc6(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        if (i >= trace_from)
            say("  -> %ld (%#lx)\n", ret, (unsigned long)ret);
        after(nr, a, ret);
        made++;
        calls_by_nr[nr]++;
        if (ret < 0 && ret > -4096) {
            errno_count[-ret]++;
            enosys_by_nr[nr] += ret == -38;
        } else {
            ok++;
        }
        if (progress && made % progress == 0)
            say("fuzz: progress %lu calls\n", (unsigned long)made);
    }

    /* Restore the standard descriptors' view for the summary. */
    if (!canaries_ok(stack_canary)) {
        say("\nFAIL: the app's own memory changed (canaries)\n");
        return 1;
    }
    if (checksum((unsigned char *)__executable_start, (unsigned char *)etext) != text_sum) {
        say("\nFAIL: the app's own text changed\n");
        return 1;
    }
    int numbers = 0, enosys_only = 0;
    for (int n = 0; n < NR_COUNT; n++) {
        numbers += calls_by_nr[n] > 0;
        enosys_only += calls_by_nr[n] > 0 && enosys_by_nr[n] == calls_by_nr[n];
    }
    say("\nfuzz: summary calls=%lu ok=%lu failed=%lu numbers=%d enosys_only=%d adjusted=%lu seed=%#lx\n",
        (unsigned long)made, (unsigned long)ok, (unsigned long)(made - ok), numbers, enosys_only,
        (unsigned long)adjusted, (unsigned long)seed);
    say("fuzz: errors");
    for (int e = 1; e < 4096; e++)
        if (errno_count[e]) {
            if (e < 134 && errno_names[e])
                say(" %s=%lu", errno_names[e], (unsigned long)errno_count[e]);
            else
                say(" errno%d=%lu", e, (unsigned long)errno_count[e]);
        }
    say("\nfuzz: answered (not only ENOSYS):");
    for (int n = 0; n < NR_COUNT; n++)
        if (calls_by_nr[n] && enosys_by_nr[n] != calls_by_nr[n])
            say(" %d", n);
    say("\nfuzz: done\n");
    return 0;
}
