// SPDX-License-Identifier: MIT
// An fentry program that does nothing: the tracer's fixed cost per call
// (trampoline, dispatch, one program run), measured by tracer's benchmark.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry/myfun")
int fentry_noop(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
