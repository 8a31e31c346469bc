// SPDX-License-Identifier: MIT
// Verifier parity with Linux: programs the Linux verifier accepts that need
// precision tracking and liveness (sieve, big_values), variable-offset
// stack accesses with tnums (masked_index), callbacks (loop_sum) and string
// helpers (name_is_hello, format_pair). tests/verifier_parity.rs loads and
// runs each.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SIEVE_N 1024
struct sieve_bits {
	__u64 w[SIEVE_N / 64];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sieve_bits);
} sieve_map SEC(".maps");

#define NV 512
struct vals {
	__u32 v[NV];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct vals);
} vals_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[32]);
} text_map SEC(".maps");

/* Sieve of Eratosthenes over a bitmap in a map value: each round tests a
 * bit and `continue`s, so every round forks; the prime counter never
 * reaches a branch or an address, so the forks' states prune. */
SEC("syscall/sieve")
int sieve(void *ctx)
{
	__u32 k = 0;
	struct sieve_bits *b = bpf_map_lookup_elem(&sieve_map, &k);
	int primes = 0;

	if (!b)
		return 0;
	for (__u32 i = 2; i < SIEVE_N; i++) {
		if (b->w[i / 64] & (1ULL << (i % 64)))
			continue;
		primes++;
		for (__u32 j = i * i; j < SIEVE_N; j += i)
			b->w[j / 64] |= 1ULL << (j % 64);
	}
	return primes;
}

/* A loop whose branch depends on the map's data. */
SEC("syscall/big_values")
int big_values(void *ctx)
{
	__u32 k = 0;
	struct vals *p = bpf_map_lookup_elem(&vals_map, &k);
	__u32 big = 0;
	__u64 small = 0;

	if (!p)
		return 0;
	for (int i = 0; i < NV; i++) {
		__u32 x = p->v[i];

		if (x > 100)
			big++;
		else
			small += x;
	}
	return big * 100000 + small;
}

/* A masked index into a stack array: the verifier bounds it with the mask
 * and proves it aligned with the tnum of `(x & 7) * 8`. */
SEC("syscall/masked_index")
int masked_index(void *ctx)
{
	__u32 k = 0;
	struct vals *p = bpf_map_lookup_elem(&vals_map, &k);
	__u64 buf[8] = {};

	if (!p)
		return 0;
	buf[p->v[0] & 7] = 10;
	buf[(p->v[1] >> 3) & 7] += 5;
	return buf[p->v[2] & 7];
}

struct loop_ctx {
	__u64 sum;
};

static int add_index(__u32 i, void *data)
{
	struct loop_ctx *c = data;

	c->sum += i;
	return 0;
}

/* bpf_loop: the callback is verified as a frame of its own. */
SEC("syscall/loop_sum")
int loop_sum(void *ctx)
{
	struct loop_ctx c = { .sum = 0 };
	long n = bpf_loop(100, add_index, &c, 0);

	return c.sum * 1000 + n;
}

static int stop_at_7(__u32 i, void *data)
{
	return i == 7;
}

/* A callback that stops the loop early: bpf_loop returns i + 1. */
SEC("syscall/loop_stop")
int loop_stop(void *ctx)
{
	return bpf_loop(100, stop_at_7, 0, 0);
}

/* bpf_strncmp against a constant string in .rodata. */
SEC("syscall/name_is_hello")
int name_is_hello(void *ctx)
{
	__u32 k = 0;
	struct vals *p = bpf_map_lookup_elem(&vals_map, &k);

	if (!p)
		return -1;
	return bpf_strncmp((const char *)p->v, 8, "hello");
}

/* bpf_snprintf into a stack buffer, copied to a map for the test. */
SEC("syscall/format_pair")
int format_pair(void *ctx)
{
	__u32 k = 0;
	char out[32];
	__u64 args[2] = { 42, 7 };
	long n = bpf_snprintf(out, sizeof(out), "%d-%d", args, sizeof(args));

	bpf_map_update_elem(&text_map, &k, out, 0);
	return n;
}

/* bpf_ktime_get_boot_ns and bpf_get_func_arg_cnt exist. */
SEC("fentry/myfun")
int boot_time(void *ctx)
{
	__u64 t = bpf_ktime_get_boot_ns();
	__u64 arg = 0;

	if (bpf_get_func_arg(ctx, 0, &arg) < 0)
		arg = 0;
	return (t != 0) + bpf_get_func_arg_cnt(ctx) * 10 + arg * 100;
}

char LICENSE[] SEC("license") = "GPL";
