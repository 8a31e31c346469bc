// SPDX-License-Identifier: MIT
// sys_noop: does nothing on every syscall's entry. The cost of a program on
// the raw sys_enter tracepoint itself (tests/examples/systrace_bench.rs;
// the same object is attached on Linux by the bench's libbpf loader).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_noop(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
