/* The app of tests/examples/systrace_bench.rs (syscall tracing's cost).
 *
 *   sys_loop getppid N ROUNDS  each round makes N raw getppid syscalls
 *   sys_loop mix N ROUNDS      each round makes N iterations of a
 *                              syscall-heavy mix: open(argv[0]), read 64
 *                              bytes, fstat, lseek, close, getppid (6 calls)
 *
 * After each round it prints "round K: T" to stderr, T = the TSC ticks of
 * the round (under TCG -icount shift=0,sleep=off one tick per guest
 * instruction; natively, the host's TSC). Static (musl), so the same binary
 * runs in the unikernel and natively, with and without strace. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: sys_loop getppid|mix N ROUNDS\n");
		return 2;
	}
	int mix = !strcmp(argv[1], "mix");
	long n = atol(argv[2]), rounds = atol(argv[3]), sink = 0;
	fprintf(stderr, "sys_loop: %s x %ld per round\n", mix ? "mix" : "getppid", n);
	for (long k = 0; k < rounds; k++) {
		unsigned long long t0 = tsc();
		if (mix) {
			for (long i = 0; i < n; i++) {
				char buf[64];
				struct stat st;
				int fd = open(argv[0], O_RDONLY);
				sink += read(fd, buf, sizeof buf);
				sink += fstat(fd, &st);
				sink += lseek(fd, 0, SEEK_SET);
				close(fd);
				sink += raw_getppid();
			}
		} else {
			for (long i = 0; i < n; i++)
				sink += raw_getppid();
		}
		unsigned long long t1 = tsc();
		fprintf(stderr, "round %ld: %llu\n", k, t1 - t0);
	}
	printf("sink %ld\n", sink);
	return 0;
}
