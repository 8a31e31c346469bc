// SPDX-License-Identifier: MIT
// The unsafe variants of parity_accept.c, each rejected (as by Linux) with
// the instruction named: tests/verifier_parity.rs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

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

/* The index is not masked: it may point anywhere. */
SEC("syscall/unmasked_index")
int unmasked_index(void *ctx)
{
	__u32 k = 0;
	struct vals *p = bpf_map_lookup_elem(&vals_map, &k);
	__u64 buf[8] = {};

	if (!p)
		return 0;
	buf[p->v[0]] = 10;
	return buf[1];
}

/* Masked, but only buf[0] was ever written. */
SEC("syscall/uninit_read")
int uninit_read(void *ctx)
{
	__u32 k = 0;
	struct vals *p = bpf_map_lookup_elem(&vals_map, &k);
	__u64 buf[8];

	if (!p)
		return 0;
	buf[0] = 1;
	return buf[p->v[0] & 7];
}

static int returns_two(__u32 i, void *data)
{
	return 2;
}

/* A bpf_loop callback must return 0 or 1. */
SEC("syscall/bad_callback")
int bad_callback(void *ctx)
{
	return bpf_loop(10, returns_two, 0, 0);
}

char LICENSE[] SEC("license") = "GPL";

struct bump_ctx {
	__u32 i;
};

static int bump(__u32 n, void *data)
{
	struct bump_ctx *c = data;

	c->i += 4;
	return 0;
}

/* After bpf_loop the callback may have run any number of times: c.i is not
 * 0 or 4 (what one verification of the callback would suggest) but
 * anything, so the unchecked index is refused. (Linux 6.1 verified the
 * callback once and accepted this; Linux 6.7 refuses it.) */
SEC("syscall/callback_runs_more_than_once")
int callback_runs_more_than_once(void *ctx)
{
	struct bump_ctx c = { .i = 0 };
	__u64 buf[8] = {};

	bpf_loop(2, bump, &c, 0);
	return buf[c.i];
}

static __attribute__((noinline)) int deep(int x)
{
	char b[200];

	__builtin_memset(b, x, sizeof(b));
	return b[x & 127];
}

/* 400 bytes here and 200 in the callee: 416 + 224 > 512 (Linux:
 * "combined stack size of 2 calls is 640. Too large"). */
SEC("syscall/stack_chain_too_deep")
int stack_chain_too_deep(void *ctx)
{
	char a[400];
	__u32 k = 0;
	struct vals *p = bpf_map_lookup_elem(&vals_map, &k);

	if (!p)
		return 0;
	__builtin_memset(a, 1, sizeof(a));
	return a[p->v[0] & 255] + deep(p->v[1]);
}
