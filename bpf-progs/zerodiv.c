// SPDX-License-Identifier: MIT
// Division and modulo by a run-time zero: accepted, and by the BPF ISA the
// quotient is 0 and the remainder is the dividend, so this returns 0 + 100.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("syscall")
long zerodiv(__u64 *args)
{
	__u64 d = args[0];

	return 100 / d + 100 % d;
}

char LICENSE[] SEC("license") = "GPL";
