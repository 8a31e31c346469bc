// SPDX-License-Identifier: MIT
// calltime: how long calls of a function take, from an fentry and an
// fexit program on the same function (attach both: `--prog enter` and
// `--prog leave`). The app is single-threaded, so one start time is kept.
// get_calltime returns, for args[0] = 0, 1, 2: the calls timed, their
// total nanoseconds, the longest call's nanoseconds. The times include
// the tracer's own cost (the trampoline and the programs).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 3);
	__type(key, __u32);
	__type(value, __u64);
} calltime SEC(".maps");

SEC("fentry/myfun")
int enter(void *ctx)
{
	__u32 k = 0;
	__u64 *t = bpf_map_lookup_elem(&start, &k);

	if (t)
		*t = bpf_ktime_get_ns();
	return 0;
}

SEC("fexit/myfun")
int leave(void *ctx)
{
	__u32 k = 0, kcalls = 0, ktotal = 1, kmax = 2;
	__u64 *t = bpf_map_lookup_elem(&start, &k);
	__u64 *calls, *total, *max, d;

	/* No start time: enter was attached after this call began. */
	if (!t || *t == 0)
		return 0;
	d = bpf_ktime_get_ns() - *t;
	*t = 0;
	calls = bpf_map_lookup_elem(&calltime, &kcalls);
	total = bpf_map_lookup_elem(&calltime, &ktotal);
	max = bpf_map_lookup_elem(&calltime, &kmax);
	if (!calls || !total || !max)
		return 0;
	*calls += 1;
	*total += d;
	if (d > *max)
		*max = d;
	return 0;
}

SEC("syscall")
long get_calltime(__u32 *args)
{
	__u32 key = args[0];
	__u64 *v;

	if (key > 2)
		return -1;
	v = bpf_map_lookup_elem(&calltime, &key);
	return v ? *v : 0;
}

char LICENSE[] SEC("license") = "GPL";
