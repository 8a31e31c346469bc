/* /init of the Linux guest in tests/examples/systrace_bench.rs: the
 * getppid loop of sys_loop.c, first untraced, then with /sys_noop.o (the
 * same object the unikernel runs, bpf-progs/sys_noop.c) attached to
 * tracepoint/raw_syscalls/sys_enter through libbpf (linked statically:
 * gcc -static ... -lbpf -lelf -lz).
 *
 *   /init [words...] N ROUNDS   (the kernel command line's words after
 *                                "--"; the last two count)
 *
 * Prints "plain round K: T" and "bpf round K: T" (T = TSC ticks of N raw
 * getppid calls; one tick per guest instruction under TCG icount), then
 * ends the run through isa-debug-exit (port 0xf4): Linux's /init must not
 * return. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <bpf/libbpf.h>

static inline long raw_getppid(void)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_getppid) : "rcx", "r11", "memory");
	return ret;
}

static inline unsigned long long tsc(void)
{
	unsigned lo, hi;
	__asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) :: "memory");
	return (unsigned long long)hi << 32 | lo;
}

static void finish(int code)
{
	fflush(stdout);
	fflush(stderr);
	if (ioperm(0xf4, 4, 1) == 0)
		outl(code, 0xf4);
	for (;;)
		pause();
}

static long sink;

static void rounds(const char *what, long n, long r)
{
	for (long k = 0; k < r; k++) {
		unsigned long long t0 = tsc();
		for (long i = 0; i < n; i++)
			sink += raw_getppid();
		unsigned long long t1 = tsc();
		printf("%s round %ld: %llu\n", what, k, t1 - t0);
	}
	fflush(stdout);
}

int main(int argc, char **argv)
{
	long n = 20000, r = 7;
	if (argc >= 3) {
		n = atol(argv[argc - 2]);
		r = atol(argv[argc - 1]);
	}
	if (mount("sysfs", "/sys", "sysfs", 0, NULL) && errno != EBUSY)
		perror("bpf_init: mount /sys");
	if (mount("tracefs", "/sys/kernel/tracing", "tracefs", 0, NULL))
		perror("bpf_init: mount tracefs");
	struct rlimit inf = {RLIM_INFINITY, RLIM_INFINITY};
	setrlimit(RLIMIT_MEMLOCK, &inf);

	rounds("plain", n, r);
	struct bpf_object *obj = bpf_object__open_file("/sys_noop.o", NULL);
	if (!obj) {
		fprintf(stderr, "bpf_init: open /sys_noop.o: %s\n", strerror(errno));
		finish(3);
	}
	if (bpf_object__load(obj)) {
		fprintf(stderr, "bpf_init: load: %s\n", strerror(errno));
		finish(3);
	}
	struct bpf_program *prog = bpf_object__find_program_by_name(obj, "sys_noop");
	struct bpf_link *link = prog ? bpf_program__attach(prog) : NULL;
	if (!link) {
		fprintf(stderr, "bpf_init: attach: %s\n", strerror(errno));
		finish(3);
	}
	printf("bpf_init: attached %s\n", bpf_program__section_name(prog));
	rounds("bpf", n, r);
	bpf_link__destroy(link);
	rounds("detached", n, r);
	printf("sink %ld\n", sink);
	finish(0);
	return 0;
}
