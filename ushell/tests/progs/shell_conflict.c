// SPDX-License-Identifier: MIT
// A `shared` map with another value size than shell_a.c's: the shell must
// refuse to load it while shell_a's map is live.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u32);
} shared SEC(".maps");

SEC("syscall")
long touch(__u32 *key)
{
	__u32 k = *key;
	__u32 *v = bpf_map_lookup_elem(&shared, &k);

	return v ? *v : 0;
}

char LICENSE[] SEC("license") = "GPL";
