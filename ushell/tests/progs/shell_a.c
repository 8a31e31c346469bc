// SPDX-License-Identifier: MIT
// The shell's test object: `fill` stores the value given in its context under
// the key given there, prints what it did, and counts its runs in .bss;
// `emit` sends a record to a ring buffer (one program per section, so it
// is in `syscall/emit`, which is run on demand as `syscall` is); `big` is an array to page through.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct args {
	__u32 key;
	__u32 pad;
	__u64 value;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} shared SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 8192);
	__type(key, __u32);
	__type(value, __u64);
} big SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} records SEC(".maps");

__u64 runs = 0;

SEC("syscall")
long fill(struct args *a)
{
	__u32 key = a->key;
	__u64 value = a->value;

	bpf_map_update_elem(&shared, &key, &value, BPF_ANY);
	runs++;
	bpf_printk("fill %u=%llu", key, value);
	return value + 1;
}

SEC("syscall/emit")
long emit(struct args *a)
{
	__u64 v = a->value;

	return bpf_ringbuf_output(&records, &v, sizeof(v), 0);
}

SEC("kprobe/myfun")
int probe(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
