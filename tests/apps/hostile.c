/* hostile: what a hostile or careless app can throw at the kernel, one case
 * per argument. Each case prints what the calls returned, so the e2e test
 * (tests/tests/hardening.rs) can compare with Linux's answers; the cases
 * that must end the app (out of memory, int3, idiv) die instead.
 *
 *   getrandom   getrandom(bad pointer, 32 MiB) -> EFAULT
 *   sparse      truncate/ftruncate/pwrite/lseek+write far past the end
 *   fill        write a file until the file system is full -> ENOSPC
 *   touch N     touch N MiB of anonymous memory (OOM under a small -m)
 *   sbrk N      grow the break by N MiB (brk syscall), touching it
 *   overcommit  malloc 16 GiB, mmap 16 TiB, brk +8 TiB -> ENOMEM
 *   ranges      mprotect/munmap/madvise/brk over 16 TiB, timed
 *   madvall     madvise(DONTNEED) over the whole user half
 *   fuzzfound   what the syscall fuzzer found: far mmap hints, munmap of
 *               the user half, SIGPIPE rules
 *   lowmap      mmap at 0 and below 64 KiB -> EPERM
 *   madvkernel  madvise on a kernel address -> ENOMEM
 *   umip        sidt in ring 3
 *   int3 / idiv / div0  the fault signals
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The errno names these cases can see (musl has no strerrorname_np). */
static const char *ename(int e)
{
    switch (e) {
    case EFAULT: return "EFAULT";
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EPERM: return "EPERM";
    case EINVAL: return "EINVAL";
    case EFBIG: return "EFBIG";
    case EACCES: return "EACCES";
    case EBADF: return "EBADF";
    case EPIPE: return "EPIPE";
    default: return "E?";
    }
}

static const char *err(long r)
{
    return r < 0 ? ename(errno) : "ok";
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int case_getrandom(void)
{
    long r = syscall(SYS_getrandom, (void *)0x10, 33554431, 0);
    printf("getrandom(bad, 32 MiB): %s\n", err(r));
    r = syscall(SYS_getrandom, (void *)0xffff800000000000ul, 4096, 0);
    printf("getrandom(kernel address): %s\n", err(r));
    return 0;
}

static int case_sparse(void)
{
    const char *path = "/hostile-sparse";
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    printf("ftruncate(1 TiB): %s\n", err(ftruncate(fd, 1ll << 40)));
    struct stat st;
    fstat(fd, &st);
    printf("size after ftruncate: %lld\n", (long long)st.st_size);
    printf("pwrite at 1 TiB: %s\n", err(pwrite(fd, "x", 1, 1ll << 40)));
    fstat(fd, &st);
    printf("size after pwrite: %lld\n", (long long)st.st_size);
    char buf[4096];
    memset(buf, 0x55, sizeof buf);
    long n = pread(fd, buf, sizeof buf, 1ll << 39);
    int zeros = 1;
    for (long i = 0; i < n; i++)
        zeros &= buf[i] == 0;
    printf("read in the hole: %ld bytes, all zero: %s\n", n, zeros ? "yes" : "no");
    n = pread(fd, buf, 2, (1ll << 40) - 1);
    printf("read across the end: %ld bytes: %02x %02x\n", n, buf[0], buf[1]);
    printf("lseek 64 GiB: %s\n", err(lseek(fd, 64ll << 30, SEEK_SET)));
    printf("write after lseek: %s\n", err(write(fd, "y", 1)));
    printf("truncate(64 MiB): %s\n", err(truncate(path, 64 << 20)));
    fstat(fd, &st);
    printf("size after truncate: %lld\n", (long long)st.st_size);
    /* A hole takes no memory: Linux's tmpfs counts 512-byte blocks in use. */
    printf("blocks of a 64 MiB hole: %s\n", st.st_blocks < 64 ? "few" : "many");
    close(fd);
    unlink(path);
    return 0;
}

static int case_fill(void)
{
    int fd = open("/hostile-fill", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        perror("open");
        return 1;
    }
    static char chunk[1 << 20];
    memset(chunk, 'f', sizeof chunk);
    long total = 0;
    for (int i = 0; i < 400; i++) {
        long w = write(fd, chunk, sizeof chunk);
        if (w < 0) {
            printf("write failed after %ld MiB: %s\n", total >> 20, ename(errno));
            close(fd);
            unlink("/hostile-fill");
            printf("after unlink, a small write: %s\n", err(write(open("/hostile-small", O_WRONLY | O_CREAT, 0600), "z", 1)));
            return 0;
        }
        total += w;
    }
    printf("wrote %ld MiB without an error\n", total >> 20);
    return 0;
}

static int case_touch(long mib)
{
    char *p = mmap(0, mib << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        printf("mmap %ld MiB: %s\n", mib, ename(errno));
        return 0;
    }
    printf("mmap %ld MiB: ok; touching\n", mib);
    fflush(stdout);
    for (long i = 0; i < mib << 20; i += 4096)
        p[i] = 1;
    printf("touched %ld MiB\n", mib);
    return 0;
}

/* brk through the syscall: musl's sbrk refuses to grow the heap. */
static int case_sbrk(long mib)
{
    char *cur = (char *)syscall(SYS_brk, 0);
    for (long i = 0; i < mib; i++) {
        char *next = (char *)syscall(SYS_brk, cur + (1 << 20));
        if (next != cur + (1 << 20)) {
            printf("brk failed after %ld MiB\n", i);
            return 0;
        }
        for (long j = 0; j < 1 << 20; j += 4096)
            cur[j] = 1;
        cur = next;
    }
    printf("grew the break by %ld MiB\n", mib);
    return 0;
}

static int case_overcommit(void)
{
    void *m = malloc(16ul << 30);
    printf("malloc(16 GiB): %s\n", m ? "ok" : "NULL");
    void *p = mmap(0, 16ul << 40, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("mmap(16 TiB, rw): %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    void *cur = sbrk(0);
    long r = syscall(SYS_brk, (char *)cur + (8ul << 40));
    printf("brk(+8 TiB): %s\n", (void *)r == cur ? "unchanged" : "moved");
    return 0;
}

static void timed(const char *what, long r, double t0)
{
    double dt = now() - t0;
    printf("%s: %s in %s\n", what, err(r), dt < 1.0 ? "under 1 s" : "OVER 1 s");
}

static int case_ranges(void)
{
    size_t len = 16ul << 40;
    double t0 = now();
    /* PROT_NONE is not committed memory on Linux, so this is accepted. */
    char *p = mmap(0, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    timed("mmap(16 TiB, none)", p == MAP_FAILED ? -1 : 0, t0);
    if (p == MAP_FAILED)
        return 1;
    t0 = now();
    timed("mprotect(16 TiB, read)", mprotect(p, len, PROT_READ), t0);
    p[len / 2] == 0 ? (void)0 : (void)puts("nonzero read");
    t0 = now();
    timed("madvise(16 TiB, DONTNEED)", madvise(p, len, MADV_DONTNEED), t0);
    t0 = now();
    timed("munmap(16 TiB)", munmap(p, len), t0);
    void *cur = sbrk(0);
    t0 = now();
    long up = syscall(SYS_brk, (char *)cur + (8ul << 40));
    long down = syscall(SYS_brk, cur);
    double dt = now() - t0;
    printf("brk +8 TiB and back: %s, %s in %s\n", (void *)up == cur ? "refused" : "moved", (void *)down == cur ? "back" : "lost",
           dt < 1.0 ? "under 1 s" : "OVER 1 s");
    return 0;
}

/* Discards every page of the app, its stack included: on Linux the call
 * returns ENOMEM (the range has holes) and the app then dies of SIGSEGV
 * when it returns into a zeroed stack. What matters is that it is quick. */
static int case_madvall(void)
{
    printf("madvise(0x10000, 0x7fff00000000, DONTNEED)\n");
    madvise((void *)0x10000, 0x7fff00000000ul, MADV_DONTNEED);
    printf("survived\n");
    return 0;
}

/* Found by the fuzzer: a far mmap hint over 16 TiB was checked page by
 * page; munmap of the whole user half was accepted; SIGPIPE killed an app
 * that ignores it, and an empty write to a broken pipe raised it. */
static int case_fuzzfound(void)
{
    double t0 = now();
    void *p = mmap((void *)0x400000000000ul, 1ul << 44, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    timed("mmap(hint 64 TiB, 16 TiB)", p == MAP_FAILED ? -1 : 0, t0);
    if (p != MAP_FAILED)
        munmap(p, 1ul << 44);
    t0 = now();
    p = mmap((void *)0x400000000000ul, 1ul << 44, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    timed("mmap(hint 64 TiB, 16 TiB, private)", p == MAP_FAILED ? -1 : 0, t0);
    if (p != MAP_FAILED)
        munmap(p, 1ul << 44);
    printf("munmap(0, 1 << 47): %s\n", err(munmap(0, 1ul << 47)));
    int fds[2];
    if (pipe(fds) != 0)
        return 1;
    close(fds[0]);
    printf("write(broken pipe, 0 bytes): %ld\n", (long)write(fds[1], "", 0));
    signal(SIGPIPE, SIG_IGN);
    printf("write(broken pipe) with SIGPIPE ignored: %s\n", err(write(fds[1], "x", 1)));
    return 0;
}

static int case_lowmap(void)
{
    void *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("mmap(0, MAP_FIXED): %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    p = mmap((void *)0x8000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("mmap(0x8000, MAP_FIXED): %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    p = mmap((void *)0x10000, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    printf("mmap(0x10000, MAP_FIXED): %s\n", p == MAP_FAILED ? ename(errno) : "ok");
    return 0;
}

static int case_madvkernel(void)
{
    printf("madvise(kernel address): %s\n", err(madvise((void *)0xffff800000000000ul, 4096, MADV_DONTNEED)));
    return 0;
}

static int case_umip(void)
{
    unsigned char idtr[10] = {0};
    printf("executing sidt\n");
    fflush(stdout);
    __asm__ volatile("sidt %0" : "=m"(idtr));
    uint64_t base;
    memcpy(&base, idtr + 2, 8);
    printf("sidt did not fault: IDT base %#lx\n", (unsigned long)base);
    return 0;
}

volatile int divisor = -1;
volatile int dividend = INT32_MIN;
volatile int zero = 0;

int main(int argc, char **argv)
{
    setvbuf(stdout, 0, _IONBF, 0);
    if (argc < 2) {
        fprintf(stderr, "usage: hostile CASE [N]\n");
        return 2;
    }
    const char *c = argv[1];
    long n = argc > 2 ? atol(argv[2]) : 0;
    if (!strcmp(c, "getrandom"))
        return case_getrandom();
    if (!strcmp(c, "sparse"))
        return case_sparse();
    if (!strcmp(c, "fill"))
        return case_fill();
    if (!strcmp(c, "touch"))
        return case_touch(n);
    if (!strcmp(c, "sbrk"))
        return case_sbrk(n);
    if (!strcmp(c, "overcommit"))
        return case_overcommit();
    if (!strcmp(c, "ranges"))
        return case_ranges();
    if (!strcmp(c, "fuzzfound"))
        return case_fuzzfound();
    if (!strcmp(c, "madvall"))
        return case_madvall();
    if (!strcmp(c, "lowmap"))
        return case_lowmap();
    if (!strcmp(c, "madvkernel"))
        return case_madvkernel();
    if (!strcmp(c, "umip"))
        return case_umip();
    if (!strcmp(c, "int3")) {
        printf("executing int3\n");
        __asm__ volatile("int3");
        return 0;
    }
    if (!strcmp(c, "idiv")) {
        printf("dividing INT_MIN by -1\n");
        printf("%d\n", dividend / divisor);
        return 0;
    }
    if (!strcmp(c, "div0")) {
        printf("dividing by zero\n");
        printf("%d\n", dividend / zero);
        return 0;
    }
    fprintf(stderr, "unknown case %s\n", c);
    return 2;
}
