//! PVH entry: QEMU's `-kernel` loader finds `pvh_start32` through the Xen ELF
//! note, jumps there in 32-bit protected mode without paging, with `ebx`
//! pointing at `hvm_start_info`. The stub builds boot page tables (identity
//! and direct map of the first 4 GiB, kernel window at -2 GiB), enters long
//! mode and calls [`crate::kernel_entry64`] on the boot stack.

core::arch::global_asm!(
    r#"
    .section .note.Xen, "a", @note
    .balign 4
    .long 4
    .long 8
    .long 18                    /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .balign 4
    .quad pvh_start32

    .section .boot.bss, "aw", @nobits
    .balign 4096
boot_pml4:          .skip 4096
boot_pdpt_direct:   .skip 4096
boot_pdpt_high:     .skip 4096
boot_pd:            .skip 4 * 4096
boot_tables_end:

    .section .boot.data, "aw"
    .balign 16
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
boot_gdt_end:
boot_gdt_ptr:
    .word boot_gdt_end - boot_gdt - 1
    .long boot_gdt

    .section .boot.text, "ax"
    .code32
    .global pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %esi

    lea boot_pml4, %edi
    xor %eax, %eax
    mov $((boot_tables_end - boot_pml4) / 4), %ecx
    rep stosl

    /* 2048 large pages: 0..4 GiB */
    lea boot_pd, %edi
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, (%edi,%ecx,8)
    mov %ecx, %edx
    shr $11, %edx
    mov %edx, 4(%edi,%ecx,8)
    inc %ecx
    cmp $2048, %ecx
    jb 1b

    lea boot_pdpt_direct, %edi
    lea (boot_pd + 3), %eax
    mov %eax, 0(%edi)
    add $4096, %eax
    mov %eax, 8(%edi)
    add $4096, %eax
    mov %eax, 16(%edi)
    add $4096, %eax
    mov %eax, 24(%edi)

    lea (boot_pd + 3), %eax
    mov %eax, (boot_pdpt_high + 510 * 8)

    lea (boot_pdpt_direct + 3), %eax
    mov %eax, boot_pml4
    mov %eax, (boot_pml4 + 256 * 8)
    lea (boot_pdpt_high + 3), %eax
    mov %eax, (boot_pml4 + 511 * 8)

    mov %cr4, %eax
    or $0x20, %eax              /* PAE */
    mov %eax, %cr4
    lea boot_pml4, %eax
    mov %eax, %cr3
    mov $0xC0000080, %ecx       /* EFER */
    rdmsr
    or $0x900, %eax             /* LME | NXE */
    wrmsr
    mov %cr0, %eax
    or $0x80010001, %eax        /* PG | WP | PE */
    mov %eax, %cr0

    lgdt boot_gdt_ptr
    ljmp $0x08, $boot64

    .code64
boot64:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    movabs $boot_stack_top, %rsp
    xor %ebp, %ebp
    mov %esi, %edi
    movabs $kernel_entry64, %rax
    call *%rax
2:  hlt
    jmp 2b

    .section .bss.boot_stack, "aw", @nobits
    .balign 16
boot_stack:
    .skip 65536
    .global boot_stack_top
boot_stack_top:
    .text
    "#,
    options(att_syntax)
);
