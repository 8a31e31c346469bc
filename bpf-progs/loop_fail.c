// SPDX-License-Identifier: MIT
// An infinite loop: the verifier must reject it (it would never return).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("prog")
int loop_fail(void *ctx)
{
	volatile int i = 0;

	for (;;)
		i++;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
