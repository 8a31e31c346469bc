// SPDX-License-Identifier: MIT
// Two unsafe map accesses the verifier must reject: a map value used without
// a NULL check, and a read past the end of a checked value.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} values SEC(".maps");

SEC("prog")
long oob_null(void *ctx)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&values, &key);

	return *v; /* v may be NULL */
}

SEC("syscall")
long oob_read(__u32 *args)
{
	__u32 key = 0;
	__u64 *v = bpf_map_lookup_elem(&values, &key);

	if (!v)
		return 0;
	return v[args[0] & 7]; /* the value holds one u64, not eight */
}

char LICENSE[] SEC("license") = "GPL";
