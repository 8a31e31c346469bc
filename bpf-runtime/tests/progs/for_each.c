// SPDX-License-Identifier: MIT
// bpf_for_each_map_elem (helper 164): sums over an array map and a hash
// map, a callback that stops early, one that updates the value it is given
// and one that reads the key; the unsafe variants (a callback returning 2,
// a write through the read-only key pointer) must be rejected.
// tests/for_each.rs loads and runs them on both engines.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} hash SEC(".maps");

struct sum_ctx {
	__u64 sum;
	__u64 keys;
	__u64 calls;
};

static long add_array(struct bpf_map *map, __u32 *key, __u64 *val, struct sum_ctx *c)
{
	c->sum += *val;
	c->keys += *key;
	c->calls++;
	return 0;
}

/* sum of the values * 1000 + sum of the indices; r0 also checks the count. */
SEC("syscall/sum_array")
int sum_array(void *ctx)
{
	struct sum_ctx c = {};
	long n = bpf_for_each_map_elem(&arr, add_array, &c, 0);

	if (n != c.calls)
		return -1;
	return c.sum * 1000 + c.keys;
}

static long add_hash(struct bpf_map *map, __u64 *key, __u64 *val, struct sum_ctx *c)
{
	c->sum += *val;
	c->keys ^= *key;
	c->calls++;
	return 0;
}

/* sum of the values * 1000 + the number of entries; the keys xored in hash_keys. */
SEC("syscall/sum_hash")
int sum_hash(void *ctx)
{
	struct sum_ctx c = {};
	long n = bpf_for_each_map_elem(&hash, add_hash, &c, 0);
	__u32 k = 0;
	__u64 *out = bpf_map_lookup_elem(&arr, &k);

	if (n != c.calls)
		return -1;
	if (out)
		*out = c.keys;
	return c.sum * 1000 + n;
}

static long stop_at_five(struct bpf_map *map, __u32 *key, __u64 *val, struct sum_ctx *c)
{
	c->calls++;
	return *key == 5;
}

/* Stops after the element with index 5: 6 calls. */
SEC("syscall/stop_early")
int stop_early(void *ctx)
{
	struct sum_ctx c = {};
	long n = bpf_for_each_map_elem(&arr, stop_at_five, &c, 0);

	return n * 100 + c.calls;
}

static long double_it(struct bpf_map *map, __u64 *key, __u64 *val, void *c)
{
	*val *= 2;
	return 0;
}

/* Doubles every value of the hash map in place. */
SEC("syscall/double_hash")
int double_hash(void *ctx)
{
	return bpf_for_each_map_elem(&hash, double_it, 0, 0);
}

/* Flags must be 0. */
SEC("syscall/bad_flags")
int bad_flags(void *ctx)
{
	return bpf_for_each_map_elem(&hash, double_it, 0, 1);
}

struct nest_ctx {
	__u64 outer_keys;
	__u64 inner_calls;
};

static long inner_cb(struct bpf_map *map, __u64 *key, __u64 *val, struct nest_ctx *c)
{
	c->inner_calls++;
	return 0;
}

static long outer_cb(struct bpf_map *map, __u32 *key, __u64 *val, struct nest_ctx *c)
{
	bpf_for_each_map_elem(&hash, inner_cb, c, 0);
	/* Read after the inner walk: each depth has its own key. */
	c->outer_keys += *key;
	return 0;
}

/* A walk of the hash map inside each call of a walk of the array. */
SEC("syscall/nested")
int nested(void *ctx)
{
	struct nest_ctx c = {};

	bpf_for_each_map_elem(&arr, outer_cb, &c, 0);
	return c.outer_keys * 100000 + c.inner_calls;
}

char LICENSE[] SEC("license") = "GPL";
