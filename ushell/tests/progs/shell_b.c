// SPDX-License-Identifier: MIT
// Declares shell_a.c's `shared` map with the same definition, so the shell
// shares it: `read_shared` returns what `fill` stored (or -1).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} shared SEC(".maps");

SEC("syscall")
long read_shared(__u32 *key)
{
	__u32 k = *key;
	__u64 *v = bpf_map_lookup_elem(&shared, &k);

	return v ? (long)*v : -1;
}

char LICENSE[] SEC("license") = "GPL";
