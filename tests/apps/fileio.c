/* fileio: file I/O on the ramfs seeded from the initrd, device files and
 * /proc/self/exe. Usage: fileio [FILE EXPECTED_CONTENT]: with arguments it
 * also checks that FILE (passed with --file) holds EXPECTED_CONTENT. */
#include "support/check.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

static int dir_has(const char *dir, const char *name)
{
    DIR *d = opendir(dir); /* readdir uses getdents64 */
    if (!d) return 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) found |= strcmp(e->d_name, name) == 0;
    closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    char buf[256];
    ssize_t n;

    if (argc >= 3) {
        int fd = open(argv[1], O_RDONLY);
        CHECK(fd >= 0, "open %s", argv[1]);
        n = read(fd, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = 0;
        CHECK(n == (ssize_t)strlen(argv[2]) && strcmp(buf, argv[2]) == 0, "%s holds the expected %zu bytes", argv[1], strlen(argv[2]));
        struct stat st;
        CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == (off_t)strlen(argv[2]), "fstat %s: regular, size %lld", argv[1], (long long)st.st_size);
        close(fd);
    }

    CHECK(getcwd(buf, sizeof buf) && strcmp(buf, "/") == 0, "cwd is /");
    CHECK(mkdir("/fio", 0755) == 0, "mkdir /fio");
    CHECK(mkdir("/fio", 0755) == -1 && errno == EEXIST, "mkdir /fio again: EEXIST");
    struct stat st;
    CHECK(stat("/fio", &st) == 0 && S_ISDIR(st.st_mode), "stat /fio: directory");

    int fd = open("/fio/a.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    CHECK(fd >= 0, "create /fio/a.txt");
    CHECK(write(fd, "hello ramfs\n", 12) == 12, "write 12 bytes");
    CHECK(lseek(fd, 0, SEEK_CUR) == 12, "lseek(0, SEEK_CUR) = 12");
    CHECK(lseek(fd, 6, SEEK_SET) == 6, "lseek(6, SEEK_SET)");
    n = read(fd, buf, sizeof buf);
    CHECK(n == 6 && memcmp(buf, "ramfs\n", 6) == 0, "read after seek gives \"ramfs\\n\"");
    CHECK(read(fd, buf, sizeof buf) == 0, "read at EOF returns 0");
    CHECK(lseek(fd, 0, SEEK_END) == 12, "lseek(0, SEEK_END) = 12");
    CHECK(pwrite(fd, "H", 1, 0) == 1, "pwrite at 0");
    CHECK(pread(fd, buf, 5, 0) == 5 && memcmp(buf, "Hello", 5) == 0, "pread sees the pwrite");
    CHECK(lseek(fd, 0, SEEK_CUR) == 12, "pread/pwrite leave the offset alone");
    struct iovec iov[2] = {{"ab", 2}, {"cd\n", 3}};
    CHECK(writev(fd, iov, 2) == 5, "writev 2+3 bytes");
    CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 17, "fstat size 17 (got %lld)", (long long)st.st_size);
    CHECK((st.st_mode & 0777) == (0644 & ~umask(022)), "mode 0644 minus umask (got %o)", st.st_mode & 0777);
    int fd2 = dup(fd);
    CHECK(fd2 > fd, "dup gives a new fd");
    CHECK(lseek(fd2, 0, SEEK_SET) == 0 && lseek(fd, 0, SEEK_CUR) == 0, "dup shares the file offset");
    CHECK(dup2(fd, 42) == 42, "dup2 to 42");
    char a[3] = {0}, b[4] = {0};
    struct iovec riov[2] = {{a, 2}, {b, 3}};
    CHECK(readv(42, riov, 2) == 5 && memcmp(a, "He", 2) == 0 && memcmp(b, "llo", 3) == 0, "readv through the dup2'd fd");
    close(42);
    close(fd2);
    CHECK(close(fd) == 0, "close");
    CHECK(close(fd) == -1 && errno == EBADF, "close twice: EBADF");

    CHECK(open("/fio/a.txt", O_CREAT | O_EXCL | O_WRONLY, 0644) == -1 && errno == EEXIST, "O_EXCL on existing file: EEXIST");
    CHECK(open("/fio/missing", O_RDONLY) == -1 && errno == ENOENT, "open missing file: ENOENT");
    CHECK(open("/fio/a.txt/x", O_RDONLY) == -1 && errno == ENOTDIR, "file as directory: ENOTDIR");
    CHECK(dir_has("/fio", "a.txt"), "getdents64 lists a.txt");
    CHECK(dir_has("/", "fio"), "getdents64 lists /fio in /");
    CHECK(rename("/fio/a.txt", "/fio/b.txt") == 0, "rename a.txt -> b.txt");
    CHECK(!dir_has("/fio", "a.txt") && dir_has("/fio", "b.txt"), "listing shows b.txt only");
    CHECK(stat("/fio/b.txt", &st) == 0 && st.st_size == 17, "renamed file keeps its data");
    CHECK(unlink("/fio/b.txt") == 0, "unlink b.txt");
    CHECK(stat("/fio/b.txt", &st) == -1 && errno == ENOENT, "stat after unlink: ENOENT");
    CHECK(access("/fio", R_OK | W_OK | X_OK) == 0, "access /fio rwx");

    CHECK(chdir("/fio") == 0 && getcwd(buf, sizeof buf) && strcmp(buf, "/fio") == 0, "chdir /fio, getcwd");
    fd = open("rel", O_CREAT | O_WRONLY, 0600);
    CHECK(fd >= 0 && stat("/fio/rel", &st) == 0, "relative create lands in cwd");
    close(fd);
    CHECK(chdir("/") == 0, "chdir /");

    fd = open("/dev/null", O_RDWR);
    CHECK(fd >= 0, "open /dev/null");
    CHECK(write(fd, "x", 1) == 1 && read(fd, buf, 10) == 0, "/dev/null swallows writes, reads EOF");
    close(fd);
    fd = open("/dev/zero", O_RDONLY);
    memset(buf, 0x55, 64);
    n = read(fd, buf, 64);
    int zero = n == 64;
    for (int i = 0; i < 64; i++) zero &= buf[i] == 0;
    CHECK(fd >= 0 && zero, "/dev/zero reads 64 zero bytes");
    close(fd);

    n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n >= 0) buf[n] = 0;
    CHECK(n > 0 && argv[0][0] == '/' && strcmp(buf, argv[0]) == 0, "readlink /proc/self/exe = %s", n > 0 ? buf : "?");
    fd = open("/proc/self/exe", O_RDONLY);
    CHECK(fd >= 0 && read(fd, buf, 4) == 4 && memcmp(buf, "\177ELF", 4) == 0, "/proc/self/exe reads as an ELF");
    close(fd);
    DONE();
}
