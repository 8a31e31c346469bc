// SPDX-License-Identifier: MIT
// For tests/tests/shell_e2e.rs: `record_arg` is run with `ushell exec
// shell_e2e.o 21`; its context holds "21", NUL-terminated. It parses the
// decimal number, stores it in `seen` under key 1, prints it with
// bpf_printk and returns twice the number.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("syscall")
long record_arg(const char *arg)
{
	__u64 n = 0;
	__u32 key = 1;

	for (int i = 0; i < 20; i++) {
		char c = arg[i];

		if (c < '0' || c > '9')
			break;
		n = n * 10 + (c - '0');
	}
	bpf_map_update_elem(&seen, &key, &n, BPF_ANY);
	bpf_printk("record_arg: got %llu", n);
	return n * 2;
}

char LICENSE[] SEC("license") = "GPL";
