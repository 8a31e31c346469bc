// SPDX-License-Identifier: MIT
// Sends one event per openat(2) call to a ring buffer. Also exercises global
// data (.rodata, .data, .bss) and a bpf-to-bpf call.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u64 pid_tgid;
	__u64 ts;
	__u64 seq;
	__u64 tag;
	char comm[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

const volatile __u64 tag = 0x7a67;	/* .rodata: set by the loader's user */
__u64 sent = 0;				/* .bss */
__u64 seq_base = 1000;			/* .data */

static __noinline int fill(struct event *e)
{
	e->pid_tgid = bpf_get_current_pid_tgid();
	e->ts = bpf_ktime_get_ns();
	e->seq = seq_base + sent;
	e->tag = tag;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat")
int on_openat(void *ctx)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return 0;
	fill(e);
	bpf_ringbuf_submit(e, 0);
	__sync_fetch_and_add(&sent, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
