/*
 * Self-relocating start file for static-PIE musl binaries.
 *
 * Upstream musl ships this as rcrt1.o, Debian's musl-tools does not, and its
 * musl-gcc ignores -static-pie (it silently links a dynamic PIE instead).
 * A static PIE has no dynamic loader, so before any C code may touch a
 * pointer in data, the binary must apply its own R_X86_64_RELATIVE
 * relocations; Linux (and our kernel) only map it at a random base.
 *
 * Build with -fPIE -fno-stack-protector: nothing here may use TLS or an
 * unrelocated data pointer.
 */
#include <elf.h>
#include <stddef.h>

__asm__(
    ".text\n"
    ".global _start\n"
    ".type _start,@function\n"
    "_start:\n"
    "  xor %rbp,%rbp\n"
    "  mov %rsp,%rdi\n"          /* sp: argc, argv..., envp..., auxv */
    "  lea _DYNAMIC(%rip),%rsi\n"
    "  and $-16,%rsp\n"
    "  call __ushell_rcrt1_start\n"
    "  hlt\n");

int main();
__attribute__((weak)) void _init(void);
__attribute__((weak)) void _fini(void);
int __libc_start_main(int (*)(), int, char **, void (*)(void), void (*)(void), void (*)(void));

__attribute__((used, visibility("hidden"))) void __ushell_rcrt1_start(size_t *sp, Elf64_Dyn *dynv)
{
    size_t argc = sp[0];
    char **argv = (char **)(sp + 1);
    char **envp = argv + argc + 1;
    while (*envp) envp++;
    Elf64_auxv_t *aux = (Elf64_auxv_t *)(envp + 1);

    Elf64_Phdr *phdr = 0;
    size_t phnum = 0, phent = sizeof(Elf64_Phdr);
    for (; aux->a_type != AT_NULL; aux++) {
        if (aux->a_type == AT_PHDR) phdr = (Elf64_Phdr *)aux->a_un.a_val;
        if (aux->a_type == AT_PHNUM) phnum = aux->a_un.a_val;
        if (aux->a_type == AT_PHENT) phent = aux->a_un.a_val;
    }
    /* The load bias: where PT_DYNAMIC really is minus where it was linked. */
    size_t base = 0;
    for (size_t i = 0; i < phnum; i++) {
        Elf64_Phdr *ph = (Elf64_Phdr *)((char *)phdr + i * phent);
        if (ph->p_type == PT_DYNAMIC) base = (size_t)dynv - ph->p_vaddr;
    }
    Elf64_Rela *rela = 0;
    size_t relasz = 0;
    for (Elf64_Dyn *d = dynv; d->d_tag != DT_NULL; d++) {
        if (d->d_tag == DT_RELA) rela = (Elf64_Rela *)(base + d->d_un.d_ptr);
        if (d->d_tag == DT_RELASZ) relasz = d->d_un.d_val;
    }
    for (size_t i = 0; i < relasz / sizeof(Elf64_Rela); i++) {
        if (ELF64_R_TYPE(rela[i].r_info) == R_X86_64_RELATIVE)
            *(size_t *)(base + rela[i].r_offset) = base + rela[i].r_addend;
    }
    __libc_start_main(main, (int)argc, argv, _init, _fini, 0);
}
