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
