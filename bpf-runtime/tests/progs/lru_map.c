// SPDX-License-Identifier: MIT
// Loader test input: a map type this runtime does not provide.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} lru SEC(".maps");

SEC("prog")
int use_lru(void *ctx)
{
	__u32 k = 0;
	return bpf_map_lookup_elem(&lru, &k) != 0;
}
