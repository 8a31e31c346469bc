/* The QEMU floor: the smallest PVH kernel. At its 32-bit PVH entry it reads
 * the TSC (= guest instructions under -icount shift=0,sleep=off), prints
 * "FLOOR tsc=<16 hex digits>\n" on COM1 and exits through isa-debug-exit
 * (port 0xf4, QEMU status 1). Everything before this entry is firmware and
 * QEMU's boot path, which every kernel booted with -kernel pays.
 *
 * Build: gcc -nostdlib -static -no-pie -Wl,-Ttext=0x100000 -Wl,--build-id=none
 */
	.section .note.Xen, "a"
	.balign 4
	.long 4                 /* namesz: "Xen\0" */
	.long 4                 /* descsz */
	.long 18                /* XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.long pvh_entry

	.text
	.code32
	.globl pvh_entry
pvh_entry:
	rdtsc                   /* edx:eax; nothing above touches the TSC */
	mov %eax, %edi
	mov %edx, %esi
	mov $msg, %ebx
1:	movb (%ebx), %al        /* "FLOOR tsc=" */
	test %al, %al
	jz 2f
	call putc
	inc %ebx
	jmp 1b
2:	mov %esi, %ebp          /* high word, then low word */
	call put_hex32
	mov %edi, %ebp
	call put_hex32
	mov $'\n', %al
	call putc
	mov $0, %eax            /* QEMU exits with (0 << 1) | 1 = 1 */
	mov $0xf4, %dx
	outl %eax, %dx
3:	hlt
	jmp 3b

/* ebp: value; prints 8 hex digits. */
put_hex32:
	mov $8, %ecx
4:	rol $4, %ebp
	mov %ebp, %eax
	and $0xf, %eax
	movb hexdigits(%eax), %al
	call putc
	loop 4b
	ret

/* al: byte to COM1 (QEMU's UART needs no setup to transmit). */
putc:
	mov $0x3f8, %dx
	outb %al, %dx
	ret

	.section .rodata
msg:	.asciz "FLOOR tsc="
hexdigits:	.ascii "0123456789abcdef"
