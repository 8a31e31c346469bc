/* time: the monotonic clock moves forward, sleeping takes at least as long as
 * asked, and the wall clock looks like a wall clock. */
#include "support/check.h"
#include <sys/time.h>
#include <time.h>

static long long ns(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

int main(void)
{
    struct timespec a, b, c, res;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &a) == 0, "clock_gettime(MONOTONIC)");
    volatile unsigned long spin = 0;
    for (int i = 0; i < 1000000; i++) spin += i;
    CHECK(clock_gettime(CLOCK_MONOTONIC, &b) == 0 && ns(b) > ns(a), "monotonic clock advanced over a busy loop (%lld ns)", ns(b) - ns(a));
    CHECK(a.tv_nsec >= 0 && a.tv_nsec < 1000000000, "tv_nsec in range");
    struct timespec req = {0, 10 * 1000 * 1000};
    CHECK(nanosleep(&req, NULL) == 0, "nanosleep 10 ms");
    clock_gettime(CLOCK_MONOTONIC, &c);
    CHECK(ns(c) - ns(b) >= 10 * 1000 * 1000, "at least 10 ms passed (%lld ns)", ns(c) - ns(b));
    req.tv_nsec = 5 * 1000 * 1000;
    CHECK(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, NULL) == 0, "clock_nanosleep 5 ms");
    CHECK(clock_getres(CLOCK_MONOTONIC, &res) == 0 && ns(res) > 0 && ns(res) <= 1000000, "clock_getres(MONOTONIC) = %lld ns", ns(res));

    struct timeval tv;
    struct timespec rt;
    CHECK(gettimeofday(&tv, NULL) == 0 && tv.tv_usec >= 0 && tv.tv_usec < 1000000, "gettimeofday");
    CHECK(clock_gettime(CLOCK_REALTIME, &rt) == 0, "clock_gettime(REALTIME)");
    long long diff = (rt.tv_sec - tv.tv_sec) * 1000000LL + rt.tv_nsec / 1000 - tv.tv_usec;
    CHECK(diff >= 0 && diff < 1000000, "gettimeofday and CLOCK_REALTIME agree (%lld us apart)", diff);
    /* 2020-01-01: a guest that never read the RTC would say 1970. */
    CHECK(tv.tv_sec > 1577836800, "wall clock is after 2020 (%lld)", (long long)tv.tv_sec);
    time_t t = time(NULL);
    CHECK(t >= tv.tv_sec && t - tv.tv_sec < 5, "time() agrees with gettimeofday");
    DONE();
}
