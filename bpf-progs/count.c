// SPDX-License-Identifier: MIT
// count: counts calls per traced function, in a hash map keyed by the
// function's address. get_count: run on demand with the address in the
// first 8 bytes of its context; returns the count.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, __u64);
} counts SEC(".maps");

SEC("fentry/myfun")
int count(void *ctx)
{
	__u64 ip = bpf_get_func_ip(ctx);
	__u64 *v = bpf_map_lookup_elem(&counts, &ip);

	if (v) {
		__sync_fetch_and_add(v, 1);
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&counts, &ip, &one, BPF_NOEXIST);
	}
	return 0;
}

SEC("syscall")
long get_count(__u64 *args)
{
	__u64 ip = args[0];
	__u64 *v = bpf_map_lookup_elem(&counts, &ip);

	return v ? *v : 0;
}

char LICENSE[] SEC("license") = "GPL";
