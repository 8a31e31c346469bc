/* args: prints argv and envp and checks the auxiliary vector the kernel built
 * against what the binary knows about itself. */
#include "support/check.h"
#include <elf.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char **environ;
extern const Elf64_Ehdr __ehdr_start; /* the ELF header, mapped with the first segment */
extern void _start(void);

int main(int argc, char **argv)
{
    for (int i = 0; i < argc; i++) printf("argv[%d]=%s\n", i, argv[i]);
    for (char **e = environ; *e; e++) printf("env %s\n", *e);
    CHECK(argv[argc] == NULL, "argv is NULL-terminated");

    unsigned long pagesz = getauxval(AT_PAGESZ);
    CHECK(pagesz == 4096, "AT_PAGESZ = %lu", pagesz);
    CHECK(sysconf(_SC_PAGESIZE) == 4096, "sysconf(_SC_PAGESIZE) = 4096");

    const unsigned char *rnd = (const unsigned char *)getauxval(AT_RANDOM);
    int nonzero = 0;
    if (rnd) for (int i = 0; i < 16; i++) nonzero |= rnd[i];
    CHECK(rnd != NULL && nonzero, "AT_RANDOM points to 16 bytes, not all zero");

    unsigned long phdr = getauxval(AT_PHDR);
    unsigned long want_phdr = (unsigned long)&__ehdr_start + __ehdr_start.e_phoff;
    CHECK(phdr == want_phdr, "AT_PHDR %#lx = ELF header + e_phoff %#lx", phdr, want_phdr);
    CHECK(getauxval(AT_PHNUM) == __ehdr_start.e_phnum, "AT_PHNUM = e_phnum = %d", __ehdr_start.e_phnum);
    CHECK(getauxval(AT_PHENT) == sizeof(Elf64_Phdr), "AT_PHENT = %zu", sizeof(Elf64_Phdr));
    unsigned long entry = getauxval(AT_ENTRY);
    CHECK(entry == (unsigned long)&_start, "AT_ENTRY %#lx = &_start %#lx", entry, (unsigned long)&_start);

    const char *execfn = (const char *)getauxval(AT_EXECFN);
    CHECK(execfn && strcmp(execfn, argv[0]) == 0, "AT_EXECFN \"%s\" = argv[0]", execfn ? execfn : "(null)");
    CHECK(getauxval(AT_CLKTCK) == 100, "AT_CLKTCK = %lu", getauxval(AT_CLKTCK));
    CHECK(getauxval(AT_SECURE) == 0, "AT_SECURE = 0");
    CHECK(getauxval(AT_UID) == getuid() && getauxval(AT_EUID) == geteuid(), "AT_UID/AT_EUID match getuid/geteuid");
    CHECK(getauxval(AT_GID) == getgid() && getauxval(AT_EGID) == getegid(), "AT_GID/AT_EGID match getgid/getegid");

    /* The SysV ABI: the stack pointer at _start is 16-byte aligned, so a
     * local in main ends up aligned as the compiler assumes. */
    _Alignas(16) char probe[16];
    CHECK(((uintptr_t)probe & 15) == 0, "stack is 16-byte aligned");

    char cwd[256];
    CHECK(getcwd(cwd, sizeof cwd) && strcmp(cwd, "/") == 0, "cwd is /");
    DONE();
}
