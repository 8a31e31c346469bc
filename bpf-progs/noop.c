// SPDX-License-Identifier: MIT
// The smallest program: returns 0. Used by the benchmark and as a smoke test.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("prog")
int noop(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
