// SPDX-License-Identifier: MIT
// Loader test input: two programs in one section.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("prog")
int first(void *ctx)
{
	return 1;
}

SEC("prog")
int second(void *ctx)
{
	return 2;
}
