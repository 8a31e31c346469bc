// SPDX-License-Identifier: MIT
// openat_path: prints the path of every openat(2) the app makes, read from
// its memory with bpf_probe_read_user_str at the per-syscall tracepoint
// (the context Linux gives: __syscall_nr at 8, then dfd, filename, flags,
// mode as 8-byte fields from 16).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct sys_enter_openat_ctx {
	__u64 common;
	int __syscall_nr;
	int pad;
	long dfd;
	const char *filename;
	long flags;
	long mode;
};

SEC("tracepoint/syscalls/sys_enter_openat")
int openat_path(struct sys_enter_openat_ctx *ctx)
{
	char path[64];
	long n = bpf_probe_read_user_str(path, sizeof(path), ctx->filename);
	if (n > 0)
		bpf_printk("openat: %s", path);
	else
		bpf_printk("openat: unreadable path (%ld)", n);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
