/* The traced app of tests/examples/trace_bench.rs (the tracer's per-call
 * cost in the unikernel, in guest instructions under TCG icount).
 *
 *   trace_loop fun N ROUNDS      each round calls myfun N times
 *   trace_loop getppid N ROUNDS  each round makes N raw getppid syscalls
 *
 * After each round it prints "round K: T" to stderr, T = the TSC ticks of
 * the round's loop (one tick per guest instruction under
 * -icount shift=0,sleep=off). Built twice by the bench, with
 * `-pg -mfentry -mnop-mcount` (myfun starts with a 5-byte nop, the site)
 * and without (no nop: the baseline of the nop's own cost). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

__attribute__((noinline)) long myfun(long a)
{
	__asm__ volatile("");
	return 3 * a + 1;
}

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
		fprintf(stderr, "usage: trace_loop fun|getppid N ROUNDS\n");
		return 2;
	}
	int sys = !strcmp(argv[1], "getppid");
	long n = atol(argv[2]), rounds = atol(argv[3]), sink = 0;
	fprintf(stderr, "trace_loop: %s x %ld per round\n", sys ? "getppid" : "myfun", n);
	for (long k = 0; k < rounds; k++) {
		unsigned long long t0 = tsc();
		if (sys)
			for (long i = 0; i < n; i++)
				sink += raw_getppid();
		else
			for (long i = 0; i < n; i++)
				sink += myfun(i);
		unsigned long long t1 = tsc();
		fprintf(stderr, "round %ld: %llu\n", k, t1 - t0);
	}
	printf("sink %ld\n", sink);
	return 0;
}
