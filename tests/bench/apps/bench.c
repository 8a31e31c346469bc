/* Guest benchmark app, run unmodified on our kernel and on Linux.
 *
 * Under QEMU TCG with `-icount shift=0,sleep=off` the guest TSC advances one
 * tick per guest instruction, so rdtsc differences count instructions.
 *
 *   bench [exit-port] syscall  -> "GUESTBENCH entry_tsc=T main_tsc=T sys_min=S ..."
 *   bench [exit-port] hello    -> "hello, world"
 *
 * Link with `-Wl,-e,bench_entry`: the TSC is read at the app's very first
 * instruction, before musl's _start runs.
 *
 * `exit-port` (words before it are ignored): end the run through QEMU's
 * isa-debug-exit (port 0xf4), for Linux as /init, which must never return
 * (and Linux halts instead of powering off on microvm with acpi=off). QEMU
 * exits with (code << 1) | 1.
 */
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/io.h>
#include <sys/mount.h>
#include <sys/syscall.h>

/* The TSC at the app's first instruction. Nothing at process entry is
 * needed in rax or rdx (musl's _start only reads rsp), so rdtsc may clobber
 * them; rdx is zeroed again as the ABI asks (no exit handler to register). */
uint64_t entry_tsc;
__asm__(".text\n"
	".globl bench_entry\n"
	"bench_entry:\n"
	"	rdtsc\n"
	"	shl $32, %rdx\n"
	"	or %rdx, %rax\n"
	"	mov %rax, entry_tsc(%rip)\n"
	"	xor %edx, %edx\n"
	"	jmp _start\n");

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* A raw getppid round trip: the kernel's entry/exit path, no libc wrapper. */
static inline long raw_getppid(void)
{
	long ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"((long)SYS_getppid) : "rcx", "r11", "memory");
	return ret;
}

/* The same loop body without the syscall instruction: the loop overhead. */
static inline long raw_nothing(void)
{
	long ret;
	__asm__ volatile("" : "=a"(ret) : "a"((long)SYS_getppid) : "rcx", "r11", "memory");
	return ret;
}

#define ITERS 2000
#define REPS 25

enum loop { LOOP_RAW, LOOP_EMPTY, LOOP_LIBC };

static uint64_t time_loop(enum loop kind)
{
	uint64_t t0 = rdtsc();
	switch (kind) {
	case LOOP_RAW:
		for (int i = 0; i < ITERS; i++)
			raw_getppid();
		break;
	case LOOP_EMPTY:
		for (int i = 0; i < ITERS; i++)
			raw_nothing();
		break;
	case LOOP_LIBC: /* musl's syscall() wrapper, as most code would call it */
		for (int i = 0; i < ITERS; i++)
			syscall(SYS_getppid);
		break;
	}
	return rdtsc() - t0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}


/* Min over repetitions drops the repetitions a timer interrupt landed in;
 * the median is printed too so a reader can see the spread. */
static void bench_syscall(uint64_t main_tsc)
{
	uint64_t sys[REPS], empty[REPS], libc[REPS];
	/* warm-up: caches, TLB, lazy kernel state */
	time_loop(LOOP_RAW);
	time_loop(LOOP_EMPTY);
	time_loop(LOOP_LIBC);
	for (int r = 0; r < REPS; r++) {
		sys[r] = time_loop(LOOP_RAW);
		empty[r] = time_loop(LOOP_EMPTY);
		libc[r] = time_loop(LOOP_LIBC);
	}
	qsort(sys, REPS, sizeof sys[0], cmp_u64);
	qsort(empty, REPS, sizeof empty[0], cmp_u64);
	qsort(libc, REPS, sizeof libc[0], cmp_u64);
	printf("GUESTBENCH entry_tsc=%llu main_tsc=%llu iters=%d reps=%d sys_min=%llu sys_med=%llu "
	       "empty_min=%llu empty_med=%llu libc_min=%llu libc_med=%llu ppid=%ld\n",
	       (unsigned long long)entry_tsc, (unsigned long long)main_tsc, ITERS, REPS,
	       (unsigned long long)sys[0], (unsigned long long)sys[REPS / 2],
	       (unsigned long long)empty[0], (unsigned long long)empty[REPS / 2],
	       (unsigned long long)libc[0], (unsigned long long)libc[REPS / 2],
	       raw_getppid());
}

/* Linux only (as /init): how long the kernel was idle since it booted.
 * Under icount with sleep=off, idle time still advances the TSC, so these
 * ticks are in the boot count without being instructions. */
static void print_linux_idle(void)
{
	char buf[128];
	if (mount("proc", "/proc", "proc", 0, NULL) != 0) {
		perror("bench: mount /proc");
		return;
	}
	FILE *f = fopen("/proc/uptime", "r");
	if (!f || !fgets(buf, sizeof buf, f)) {
		perror("bench: /proc/uptime");
		return;
	}
	fclose(f);
	printf("LINUXUPTIME %s", buf);
}

int main(int argc, char **argv)
{
	/* libc start-up ran between entry_tsc and here. */
	uint64_t main_tsc = rdtsc();
	int exit_port = 0, i = 1;
	/* As /init, Linux passes the boot parameters it does not know (such as
	 * `nokaslr`) before the words after `--`: skip up to the marker. */
	for (int k = 1; k < argc; k++) {
		if (strcmp(argv[k], "exit-port") == 0) {
			exit_port = 1;
			i = k + 1;
			break;
		}
	}
	const char *mode = i < argc ? argv[i] : "syscall";
	int status = 0;
	if (strcmp(mode, "hello") == 0) {
		printf("hello, world\n");
	} else if (strcmp(mode, "clock") == 0 || strcmp(mode, "sleep") == 0) {
		/* The first clock read calibrates the kernel's clock; "clock"
		 * stops there (the baseline), "sleep" adds one nanosleep(1 s). */
		struct timespec now, req = {1, 0};
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (mode[0] == 's')
			nanosleep(&req, NULL);
		printf("done\n");
	} else if (strcmp(mode, "syscall") == 0) {
		bench_syscall(main_tsc);
		if (exit_port)
			print_linux_idle();
	} else {
		fprintf(stderr, "bench: unknown mode %s\n", mode);
		status = 2;
	}
	fflush(stdout);
	if (exit_port) {
		if (ioperm(0xf4, 4, 1) != 0) {
			perror("bench: ioperm(0xf4)");
			return 125;
		}
		outl(status, 0xf4);
		for (;;)
			pause();
	}
	return status;
}
