/* random: getrandom(2) and /dev/urandom give bytes that are not constant. */
#include "support/check.h"
#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

static int all_zero(const unsigned char *b, int n)
{
    for (int i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

int main(void)
{
    unsigned char a[32] = {0}, b[32] = {0};
    CHECK(getrandom(a, sizeof a, 0) == 32, "getrandom 32 bytes");
    CHECK(!all_zero(a, 32), "bytes are not all zero");
    CHECK(getrandom(b, sizeof b, GRND_NONBLOCK) == 32, "getrandom again (GRND_NONBLOCK)");
    CHECK(memcmp(a, b, 32) != 0, "two calls differ");
    int fd = open("/dev/urandom", O_RDONLY);
    unsigned char u[16] = {0};
    CHECK(fd >= 0 && read(fd, u, 16) == 16 && !all_zero(u, 16), "/dev/urandom gives 16 nonzero bytes");
    printf("random: %02x%02x%02x%02x...\n", a[0], a[1], a[2], a[3]);
    DONE();
}
