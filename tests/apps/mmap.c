/* mmap: anonymous and file-backed private mappings, mprotect, mremap, brk. */
#include "support/check.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    (void)argc;
    const size_t pg = 4096;
    unsigned char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(p != MAP_FAILED && ((uintptr_t)p & (pg - 1)) == 0, "anonymous mmap of 4 pages, page-aligned");
    int zero = 1;
    for (size_t i = 0; i < 4 * pg; i++) zero &= p[i] == 0;
    CHECK(zero, "anonymous memory starts zeroed");
    memset(p, 0xab, 4 * pg);
    CHECK(p[0] == 0xab && p[4 * pg - 1] == 0xab, "anonymous memory is writable");
    CHECK(mprotect(p, pg, PROT_READ) == 0, "mprotect first page read-only");
    CHECK(p[0] == 0xab, "read-only page still readable");
    CHECK(mprotect(p, pg, PROT_READ | PROT_WRITE) == 0, "mprotect back to read-write");
    p[0] = 1;
    CHECK(munmap(p + 2 * pg, pg) == 0, "munmap a page in the middle");

    unsigned char *q = mremap(p, 2 * pg, 64 * pg, MREMAP_MAYMOVE);
    CHECK(q != MAP_FAILED, "mremap 2 -> 64 pages (may move)");
    if (q != MAP_FAILED) {
        CHECK(q[0] == 1 && q[pg] == 0xab && q[2 * pg - 1] == 0xab, "mremap keeps the contents");
        q[64 * pg - 1] = 7;
        CHECK(q[64 * pg - 1] == 7, "grown part is usable");
        CHECK(munmap(q, 64 * pg) == 0, "munmap the remapped area");
    }
    munmap(p + 3 * pg, pg);

    unsigned char *big = malloc(8 << 20);
    CHECK(big != NULL, "malloc 8 MiB (mmap-backed)");
    if (big) {
        memset(big, 0x5a, 8 << 20);
        CHECK(big[(8 << 20) - 1] == 0x5a, "8 MiB block writable");
        free(big);
    }

    /* File-backed MAP_PRIVATE: map our own executable. */
    int fd = open(argv[0], O_RDONLY);
    CHECK(fd >= 0, "open own executable %s", argv[0]);
    unsigned char *f = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    CHECK(f != MAP_FAILED && memcmp(f, "\177ELF", 4) == 0, "MAP_PRIVATE file mapping shows the ELF header");
    unsigned char g = 0;
    if (f != MAP_FAILED) {
        f[0] = 'X';
        CHECK(pread(fd, &g, 1, 0) == 1 && g == 0x7f, "writes to a private mapping do not reach the file");
        unsigned char *f2 = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, pg);
        unsigned char expect[16];
        CHECK(f2 != MAP_FAILED && pread(fd, expect, 16, pg) == 16 && memcmp(f2, expect, 16) == 0,
              "mapping at file offset 4096 matches pread");
        munmap(f, 2 * pg);
        if (f2 != MAP_FAILED) munmap(f2, pg);
    }
    close(fd);

    /* Raw brk(2): musl's sbrk() refuses to move the break at all. */
    char *b0 = (char *)syscall(SYS_brk, 0);
    CHECK(b0 != NULL && ((uintptr_t)b0 & 7) == 0, "brk(0) = %p", (void *)b0);
    char *b1 = (char *)syscall(SYS_brk, b0 + 4 * pg);
    CHECK(b1 == b0 + 4 * pg, "brk grows the heap by 4 pages");
    if (b1 == b0 + 4 * pg) {
        memset(b0, 0x11, 4 * pg);
        CHECK(b0[4 * pg - 1] == 0x11, "new heap is writable");
        CHECK((char *)syscall(SYS_brk, b0 + pg) == b0 + pg, "brk shrinks");
        CHECK((char *)syscall(SYS_brk, 0) == b0 + pg, "brk(0) reports the new break");
    }
    CHECK((char *)syscall(SYS_brk, (char *)8) == (char *)syscall(SYS_brk, 0), "an impossible brk leaves the break alone");
    CHECK(mmap(NULL, pg, PROT_READ, MAP_PRIVATE, 1000, 0) == MAP_FAILED && errno == EBADF, "mmap of a bad fd: EBADF");
    CHECK(munmap((void *)1, pg) == -1 && errno == EINVAL, "munmap of an unaligned address: EINVAL");
    DONE();
}
