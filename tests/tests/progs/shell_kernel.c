// SPDX-License-Identifier: MIT
// The e2e test's program for the kernel's debug shell (tests/tests/shell_kernel.rs).
// `probe_app` reads a decimal number from its context (the exec argument),
// writes what it learned into `results`, prints a line and returns n + 1:
//   results[0] = n, results[1] = n * n,
//   results[2] = bpf_get_current_pid_tgid(),
//   results[3] = address of the app's `main` (bpf_kallsyms_lookup_name),
//   results[4] = the first 8 bytes of `main`'s code (bpf_probe_read_user),
//   results[5] = bpf_probe_read_user's return value at address 8 (-EFAULT).
// n also goes to the ring buffer `records`.
// `probe_kernel` looks up the kernel symbol its context names and reads it:
//   results[6] = the symbol's address, results[7] = its first 8 bytes,
//   results[8] = bpf_probe_read_kernel's return value for the direct map
//   (not the image's read-only data, so -EFAULT);
// it returns bpf_probe_read_kernel's value for the symbol.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} records SEC(".maps");

static void put(__u32 key, __u64 value)
{
	bpf_map_update_elem(&results, &key, &value, BPF_ANY);
}

SEC("syscall")
long probe_app(const char *arg)
{
	__u64 n = 0;

	for (int i = 0; i < 20; i++) {
		char c = arg[i];

		if (c < '0' || c > '9')
			break;
		n = n * 10 + (c - '0');
	}
	put(0, n);
	put(1, n * n);
	put(2, bpf_get_current_pid_tgid());

	__u64 addr = 0;
	__u64 code = 0;
	if (bpf_kallsyms_lookup_name("main", sizeof("main"), 0, &addr) == 0)
		bpf_probe_read_user(&code, sizeof(code), (void *)addr);
	put(3, addr);
	put(4, code);
	put(5, bpf_probe_read_user(&code, sizeof(code), (void *)8));

	bpf_ringbuf_output(&records, &n, sizeof(n), 0);
	bpf_printk("probe_app: n=%llu", n);
	return n + 1;
}

SEC("syscall/kernel")
long probe_kernel(const char *name)
{
	__u64 addr = 0;
	__u64 bytes = 0;
	long r = -1;

	if (bpf_kallsyms_lookup_name(name, 256, 0, &addr) == 0)
		r = bpf_probe_read_kernel(&bytes, sizeof(bytes), (void *)addr);
	put(6, addr);
	put(7, bytes);
	put(8, bpf_probe_read_kernel(&bytes, sizeof(bytes), (void *)0xffff800000001000ULL));
	return r;
}

char LICENSE[] SEC("license") = "GPL";
