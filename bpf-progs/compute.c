// SPDX-License-Identifier: MIT
// compute: plain computations that build both as BPF programs (clang
// -target bpf; each function one program, run by `ushell prog run`) and as
// a native program (gcc; main prints "NAME VALUE" per function), so the
// two can be compared: CRC32, an insertion sort, 64- and 32-bit arithmetic
// with shifts, byte swaps and a chain of bpf-to-bpf calls.
#ifdef __bpf__
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#define PROG(name) SEC("syscall/" #name) __u64 name(void *ctx)
#define NOINLINE static __attribute__((noinline))
#else
#include <stdint.h>
#include <stdio.h>
typedef uint64_t __u64;
typedef uint32_t __u32;
typedef int64_t __s64;
typedef int32_t __s32;
typedef uint8_t __u8;
#define PROG(name) __u64 name(void *ctx)
#define NOINLINE static __attribute__((noinline))
#endif

/* CRC-32 (IEEE 802.3, reflected, as zlib) of 64 bytes 3, 10, 17, ... */
PROG(crc32)
{
	__u32 crc = 0xffffffff;

	for (int i = 0; i < 64; i++) {
		crc ^= (__u8)(i * 7 + 3);
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
	}
	return ~crc;
}

/* Insertion sort of 16 pseudo-random numbers on the stack; returns a
 * checksum of the sorted order. */
PROG(sort)
{
	__u32 a[16];
	__u32 x = 12345;
	__u64 sum = 0;

	for (int i = 0; i < 16; i++) {
		x = x * 1103515245 + 12345;
		a[i] = (x >> 8) & 0xffff;
	}
	for (int i = 1; i < 16; i++) {
		__u32 v = a[i];
		int j = i;

		while (j > 0 && a[j - 1] > v) {
			a[j] = a[j - 1];
			j--;
		}
		a[j] = v;
	}
	for (int i = 0; i < 16; i++)
		sum = sum * 31 + a[i];
	return sum;
}

/* 64-bit arithmetic: multiply, xor, shifts both ways, arithmetic shift,
 * unsigned division and modulo. */
PROG(arith64)
{
	__u64 x = 0x0123456789abcdefULL;
	__s64 s = -1234567890123LL;

	for (int i = 0; i < 10; i++) {
		x = x * 0x9e3779b97f4a7c15ULL + i;
		x ^= x >> 29;
		x += x << 7;
		s = (s >> 3) ^ (__s64)x;
	}
	return x ^ (__u64)s ^ (x / 12345) ^ (x % 1000003);
}

/* 32-bit arithmetic: wrapping multiply and add, shifts, signed shifts and
 * unsigned division, zero-extended into the 64-bit result. */
PROG(arith32)
{
	__u32 x = 0x89abcdef;
	__s32 s = -987654;

	for (int i = 0; i < 10; i++) {
		x = x * 2654435761u + (__u32)i;
		x ^= x >> 13;
		x += x << 3;
		s = (s >> 2) + (__s32)(x & 0xffff);
	}
	return ((__u64)(x / 7u) << 32) | (__u32)(s ^ (__s32)(x % 65521u));
}

/* Byte swaps of every width. */
PROG(bswap)
{
	__u64 v = 0x0102030405060708ULL;
	__u32 w = 0xa1b2c3d4;
	__u32 h = 0xbeef;

	return __builtin_bswap64(v) ^ ((__u64)__builtin_bswap32(w) << 16) ^ __builtin_bswap16((unsigned short)h);
}

/* A chain of bpf-to-bpf calls, four deep. */
NOINLINE __u64 step4(__u64 x)
{
	return x * 3 + 1;
}

NOINLINE __u64 step3(__u64 x)
{
	return step4(x ^ 0x55) + step4(x >> 1);
}

NOINLINE __u64 step2(__u64 x)
{
	return step3(x + 7) * 5;
}

NOINLINE __u64 step1(__u64 x)
{
	return step2(x) - step2(x << 2);
}

PROG(calls)
{
	return step1(1000);
}

#ifdef __bpf__
char LICENSE[] SEC("license") = "GPL";
#else
int main(void)
{
	printf("crc32 %llu\n", (unsigned long long)crc32(0));
	printf("sort %llu\n", (unsigned long long)sort(0));
	printf("arith64 %llu\n", (unsigned long long)arith64(0));
	printf("arith32 %llu\n", (unsigned long long)arith32(0));
	printf("bswap %llu\n", (unsigned long long)bswap(0));
	printf("calls %llu\n", (unsigned long long)calls(0));
	return 0;
}
#endif
