// SPDX-License-Identifier: MIT
// syslat: the latency of one syscall as a log2 histogram, what
// `ushell trace --hist SYSCALL` loads (it is embedded in `ushell`), and an
// example for writing your own tracepoint programs: bpftrace's
//
//   tracepoint:raw_syscalls:sys_enter /args->id == NR/ { @start[tid] = nsecs; }
//   tracepoint:raw_syscalls:sys_exit /@start[tid]/ {
//       @usecs = hist((nsecs - @start[tid]) / 1000); delete(@start[tid]); }
//
// written out in C. `target_nr` is a global in .data, set by the CLI with a
// map update before the programs are attached (`ushell map update .data 0
// NR` by hand). `hist` holds the buckets bpftrace's hist() uses: 1 for 0 us,
// k + 2 for [2^k, 2^(k+1)) us; `ushell map dump hist` shows them raw.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define BUCKETS 66

volatile __u32 target_nr = 0xffffffff;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, BUCKETS);
	__type(key, __u32);
	__type(value, __u64);
} hist SEC(".maps");

struct sys_enter_ctx {
	__u64 common;
	long id;
	unsigned long args[6];
};

struct sys_exit_ctx {
	__u64 common;
	long id;
	long ret;
};

static __always_inline __u32 log2_u64(__u64 v)
{
	__u32 r = 0;
	if (v >> 32) { v >>= 32; r += 32; }
	if (v >> 16) { v >>= 16; r += 16; }
	if (v >> 8) { v >>= 8; r += 8; }
	if (v >> 4) { v >>= 4; r += 4; }
	if (v >> 2) { v >>= 2; r += 2; }
	if (v >> 1) { r += 1; }
	return r;
}

SEC("tracepoint/raw_syscalls/sys_enter")
int syslat_enter(struct sys_enter_ctx *ctx)
{
	if (ctx->id != target_nr)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &tid, &now, BPF_ANY);
	return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int syslat_exit(struct sys_exit_ctx *ctx)
{
	if (ctx->id != target_nr)
		return 0;
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *t0 = bpf_map_lookup_elem(&start, &tid);
	if (!t0)
		return 0; /* entered before we were attached */
	__u64 us = (bpf_ktime_get_ns() - *t0) / 1000;
	bpf_map_delete_elem(&start, &tid);
	__u32 b = us ? log2_u64(us) + 2 : 1;
	__u64 *slot = bpf_map_lookup_elem(&hist, &b);
	if (slot)
		__sync_fetch_and_add(slot, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
