/* traced: the function tracer's test app (issue 10). Built by build.rs with
 * `-pg -mfentry -mnop-mcount -mrecord-mcount`, static and non-PIE, so each
 * of its functions starts with the 5-byte nop `0f 1f 44 00 00` the tracer
 * patches; `nosite` is built without one.
 *
 *   traced [-n CALLS] [-r READS] [-w]
 *     -n CALLS  call myfun(i) for i < CALLS and print the sum (default 100000)
 *     -r READS  read(2) this program's own file READS times, 4096 bytes each
 *               time from its start, and print the bytes read
 *     -w        wait for the tracer (the test's signals, since a detached
 *               app has no stdin): after the CALLS, keep calling myfun at
 *               full speed until a program is attached to `finish`; with
 *               -r, the reads happen once a program is attached to
 *               `start_reads` (so a count attached to the kernel's read
 *               handler before that sees exactly READS reads).
 *
 * The app sees an attachment by reading its own code: the site's first
 * byte is 0x0f (the nop) or 0xe8 (a call to a trampoline). Every return
 * value of myfun is checked against 3 * a + 1; the exit status is 0 if all
 * were right, 1 otherwise. Stdout is the same with and without tracing
 * and with and without -w, so a run under the tracer is compared with a
 * native run; what depends on timing (the calls made while waiting) goes
 * to stderr. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) long myfun(long a)
{
    /* An empty asm keeps gcc from computing the result at the call site
     * (interprocedural constant propagation) or dropping the call. */
    __asm__ volatile("" : "+r"(a));
    return 3 * a + 1;
}

/* Never called: their sites are the test's signals. */
__attribute__((noinline, used)) void start_reads(void)
{
    __asm__ volatile("");
}

__attribute__((noinline, used)) void finish(void)
{
    __asm__ volatile("");
}

/* No patch site: attaching to it must fail with the how-to-compile hint. */
__attribute__((noinline, used, no_instrument_function)) long nosite(long a)
{
    __asm__ volatile("" : "+r"(a));
    return a * 5 + 2;
}

/* The patch site of `fn`: its entry, or 4 bytes on after an endbr64. */
static const volatile unsigned char *site_of(void (*fn)(void))
{
    const volatile unsigned char *p = (const volatile unsigned char *)fn;
    if (p[0] == 0xf3 && p[1] == 0x0f && p[2] == 0x1e && p[3] == 0xfa)
        p += 4;
    return p;
}

static int traced(void (*fn)(void))
{
    return site_of(fn)[0] == 0xe8;
}

static unsigned long mismatches;

static long call(long a)
{
    long r = myfun(a);
    if (r != 3 * a + 1)
        mismatches++;
    return r;
}

/* Calls myfun until `fn` is traced; returns how many calls that took. */
static unsigned long spin_until(void (*fn)(void))
{
    unsigned long n = 0;
    while (!traced(fn))
        call((long)(n++ & 0xffff));
    return n;
}

static long do_reads(const char *path, long reads)
{
    char buf[4096];
    long total = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        exit(2);
    }
    for (long i = 0; i < reads; i++) {
        if (lseek(fd, 0, SEEK_SET) != 0) {
            perror("lseek");
            exit(2);
        }
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0) {
            perror("read");
            exit(2);
        }
        total += n;
    }
    close(fd);
    return total;
}

int main(int argc, char **argv)
{
    long calls = 100000, reads = -1;
    int wait = 0, opt;
    while ((opt = getopt(argc, argv, "n:r:w")) != -1) {
        switch (opt) {
        case 'n': calls = atol(optarg); break;
        case 'r': reads = atol(optarg); break;
        case 'w': wait = 1; break;
        default:
            fprintf(stderr, "usage: %s [-n CALLS] [-r READS] [-w]\n", argv[0]);
            return 2;
        }
    }

    long sum = 0;
    for (long i = 0; i < calls; i++)
        sum += call(i);
    printf("traced: myfun(i) for i < %ld: sum %ld\n", calls, sum);
    fflush(stdout);

    if (reads >= 0) {
        if (wait) {
            fprintf(stderr, "traced: waiting for start_reads to be traced\n");
            unsigned long n = spin_until(start_reads);
            fprintf(stderr, "traced: start_reads is traced (after %lu more calls)\n", n);
        }
        long bytes = do_reads(argv[0], reads);
        printf("traced: read %s %ld times: %ld bytes\n", argv[0], reads, bytes);
        fflush(stdout);
        fprintf(stderr, "traced: reads done\n");
    }

    if (wait) {
        fprintf(stderr, "traced: calling myfun until finish is traced\n");
        unsigned long n = spin_until(finish);
        fprintf(stderr, "traced: finish is traced (after %lu more calls)\n", n);
    }
    printf("traced: every return value of myfun checked: %lu wrong\n", mismatches);
    printf("traced: nosite(8) = %ld\n", nosite(8));
    return mismatches ? 1 : 0;
}
