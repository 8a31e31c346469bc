// SPDX-License-Identifier: MIT
// syscount: counts the app's system calls per number, as `ushell trace -c`
// does (and bcc's syscount), from the raw sys_enter tracepoint.
// `ushell map dump counts` shows them: key = syscall number, value = calls.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 512);
	__type(key, __u32);
	__type(value, __u64);
} syscalls SEC(".maps");

struct sys_enter_ctx {
	__u64 common;
	long id;
	unsigned long args[6];
};

SEC("tracepoint/raw_syscalls/sys_enter")
int syscount(struct sys_enter_ctx *ctx)
{
	__u32 id = ctx->id;
	__u64 *v = bpf_map_lookup_elem(&syscalls, &id);
	if (v) {
		__sync_fetch_and_add(v, 1);
	} else {
		__u64 one = 1;
		bpf_map_update_elem(&syscalls, &id, &one, BPF_NOEXIST);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
