/* enosys: calls system calls the kernel does not implement and expects
 * -ENOSYS, as Linux returns for unknown numbers. acct(2) is a real syscall a
 * unikernel has no reason to implement; 999 is not a syscall at all. */
#include "support/check.h"
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    errno = 0;
    long r = syscall(SYS_acct, "/nonexistent");
    CHECK(r == -1 && errno == ENOSYS, "acct(2) fails with ENOSYS (got %ld)", r);
    errno = 0;
    r = syscall(999);
    CHECK(r == -1 && errno == ENOSYS, "syscall 999 fails with ENOSYS (got %ld)", r);
    CHECK(getpid() > 0, "the app keeps running after ENOSYS");
    DONE();
}
