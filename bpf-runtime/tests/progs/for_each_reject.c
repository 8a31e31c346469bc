// SPDX-License-Identifier: MIT
// Unsafe uses of bpf_for_each_map_elem, each rejected by the verifier.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} arr SEC(".maps");

static long returns_two(struct bpf_map *map, __u32 *key, __u64 *val, void *c)
{
	return 2;
}

/* A bpf_for_each_map_elem callback must return 0 or 1. */
SEC("syscall/bad_return")
int bad_return(void *ctx)
{
	return bpf_for_each_map_elem(&arr, returns_two, 0, 0);
}

static long writes_key(struct bpf_map *map, __u32 *key, __u64 *val, void *c)
{
	*key = 0;
	return 0;
}

/* The key is read-only. */
SEC("syscall/key_write")
int key_write(void *ctx)
{
	return bpf_for_each_map_elem(&arr, writes_key, 0, 0);
}

static long reads_past_value(struct bpf_map *map, __u32 *key, __u64 *val, void *c)
{
	return val[1] == 0;
}

/* The value is value_size (8) bytes. */
SEC("syscall/value_oob")
int value_oob(void *ctx)
{
	return bpf_for_each_map_elem(&arr, reads_past_value, 0, 0);
}

char LICENSE[] SEC("license") = "GPL";
