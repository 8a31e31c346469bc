/* sched: the scheduler seen from the app. Needs the kernel's test hooks
 * (USHELL_KERNEL_ARGS=ushell.test=ticker,pipe), so it runs only in the
 * unikernel.
 *   sched spin SECS  spins in ring 3 for SECS seconds without a single
 *                    syscall between two markers on stderr; the kernel's
 *                    ticker task must log in between (checked by the test).
 *   sched pipe       reads /dev/ushell-test-pipe, whose writer is a kernel
 *                    task writing a line every 300 ms: each read blocks
 *                    until data arrives, then end-of-file.
 *   sched sleep      nanosleep, clock_nanosleep and poll with a timeout
 *                    sleep as long as asked; a read of an empty pipe with
 *                    O_NONBLOCK says EAGAIN. */
#include "support/check.h"
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static unsigned long long rdtsc(void)
{
    unsigned lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((unsigned long long)hi << 32) | lo;
}

/* A clock reading and the TSC at the same moment: the reading bracketed by
 * two TSC reads, the tightest of a few tries, so that being preempted
 * between the two (a kernel task may run) cannot skew the rate. */
static void clock_and_tsc(long long *t, unsigned long long *c)
{
    unsigned long long best = ~0ull;
    for (int i = 0; i < 8; i++) {
        unsigned long long a = rdtsc();
        long long tt = now_ns();
        unsigned long long b = rdtsc();
        if (b - a < best) {
            best = b - a;
            *t = tt;
            *c = a + (b - a) / 2;
        }
    }
}

static int spin(int secs)
{
    /* TSC rate from two clock readings 200 ms apart. */
    long long t0, t1;
    unsigned long long c0, c1;
    clock_and_tsc(&t0, &c0);
    struct timespec req = {0, 200 * 1000 * 1000};
    nanosleep(&req, NULL);
    clock_and_tsc(&t1, &c1);
    double per_ns = (double)(c1 - c0) / (double)(t1 - t0);
    unsigned long long until = c1 + (unsigned long long)(per_ns * 1e9 * secs);
    write(2, "spin: start\n", 12);
    /* No syscall from here to the end marker. */
    while (rdtsc() < until)
        __asm__ volatile("pause");
    write(2, "spin: end\n", 10);
    long long spun = now_ns() - t1;
    CHECK(spun >= secs * 900000000LL, "spun for %lld ms in ring 3", spun / 1000000);
    DONE();
}

static int pipe_test(void)
{
    int fd = open("/dev/ushell-test-pipe", O_RDONLY);
    CHECK(fd >= 0, "open /dev/ushell-test-pipe (needs ushell.test=pipe)");
    if (fd < 0)
        DONE();
    char buf[64];
    for (int i = 1; i <= 3; i++) {
        long long t0 = now_ns();
        ssize_t n = read(fd, buf, sizeof buf - 1);
        long long waited = now_ns() - t0;
        buf[n > 0 ? n : 0] = 0;
        char want[16];
        snprintf(want, sizeof want, "tick %d\n", i);
        CHECK(n > 0 && strcmp(buf, want) == 0, "read %d got \"tick %d\" (%zd bytes)", i, i, n);
        /* The writer sleeps 300 ms before each line. */
        CHECK(waited >= 200 * 1000000LL, "read %d blocked %lld ms until the writer wrote", i, waited / 1000000);
    }
    ssize_t n = read(fd, buf, sizeof buf);
    CHECK(n == 0, "end of file once the writer closed (read = %zd)", n);
    close(fd);
    DONE();
}

static int sleep_test(void)
{
    long long t0 = now_ns();
    struct timespec req = {1, 0};
    CHECK(nanosleep(&req, NULL) == 0, "nanosleep(1 s)");
    long long d = now_ns() - t0;
    CHECK(d >= 1000000000LL, "slept %lld ms >= 1000", d / 1000000);
    t0 = now_ns();
    struct timespec abs;
    clock_gettime(CLOCK_MONOTONIC, &abs);
    abs.tv_nsec += 300 * 1000000L;
    if (abs.tv_nsec >= 1000000000L) {
        abs.tv_sec++;
        abs.tv_nsec -= 1000000000L;
    }
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL) == 0, "clock_nanosleep(ABSTIME +300 ms)");
    d = now_ns() - t0;
    CHECK(d >= 300 * 1000000LL, "slept %lld ms >= 300", d / 1000000);

    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    t0 = now_ns();
    int r = poll(&pfd, 1, 250);
    d = now_ns() - t0;
    CHECK(r == 0 && pfd.revents == 0, "poll on an empty pipe times out (= %d)", r);
    CHECK(d >= 250 * 1000000LL, "poll waited %lld ms >= 250", d / 1000000);
    write(p[1], "x", 1);
    r = poll(&pfd, 1, -1);
    CHECK(r == 1 && (pfd.revents & POLLIN), "poll sees data at once (= %d, revents %#x)", r, pfd.revents);
    char c;
    CHECK(read(p[0], &c, 1) == 1 && c == 'x', "read the byte");
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    CHECK(read(p[0], &c, 1) == -1 && errno == EAGAIN, "O_NONBLOCK read of an empty pipe: EAGAIN");
    close(p[1]);
    fcntl(p[0], F_SETFL, 0);
    CHECK(read(p[0], &c, 1) == 0, "blocking read after the writer closed: end of file");
    DONE();
}

int main(int argc, char **argv)
{
    if (argc > 2 && strcmp(argv[1], "spin") == 0)
        return spin(atoi(argv[2]));
    if (argc > 1 && strcmp(argv[1], "pipe") == 0)
        return pipe_test();
    if (argc > 1 && strcmp(argv[1], "sleep") == 0)
        return sleep_test();
    fprintf(stderr, "usage: sched spin SECS | pipe | sleep\n");
    return 2;
}
