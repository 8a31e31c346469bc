// SPDX-License-Identifier: MIT
// fexit: checks every return value of `long myfun(long a)` against its
// argument. The example apps and the tracer's tests define myfun(a) as
// 3 * a + 1. Attach with the argument count 1 (Linux reads it from BTF):
// the context is then { a, ret }, as BPF_PROG(myfun, long a, long ret)
// would see it. get_checks returns the number of calls seen (args[0] = 0)
// or of mismatches (args[0] = 1).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} checks SEC(".maps");

SEC("fexit/myfun")
int fexit_check(__u64 *ctx)
{
	__u64 a = ctx[0];
	__u64 ret = ctx[1];
	__u32 key = ret == 3 * a + 1 ? 0 : 1;
	__u32 calls = 0;
	__u64 *v;

	if (key) {
		v = bpf_map_lookup_elem(&checks, &key);
		if (v)
			__sync_fetch_and_add(v, 1);
	}
	v = bpf_map_lookup_elem(&checks, &calls);
	if (v)
		__sync_fetch_and_add(v, 1);
	return 0;
}

SEC("syscall")
long get_checks(__u32 *args)
{
	__u32 key = args[0] & 1;
	__u64 *v = bpf_map_lookup_elem(&checks, &key);

	return v ? *v : 0;
}

char LICENSE[] SEC("license") = "GPL";
