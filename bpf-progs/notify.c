// SPDX-License-Identifier: MIT
// Prints a line with bpf_printk each time the traced function runs.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("kprobe/myfun")
int notify(void *ctx)
{
	__u64 id = bpf_get_current_pid_tgid();

	bpf_printk("myfun called by pid %d tgid %d", (__u32)id, (__u32)(id >> 32));
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
