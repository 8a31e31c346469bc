// SPDX-License-Identifier: MIT
// Loader test input: a function pointer (bpf_loop callback).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static int step(__u32 i, void *ctx)
{
	return 0;
}

SEC("prog")
int loops(void *ctx)
{
	return bpf_loop(4, step, 0, 0);
}
