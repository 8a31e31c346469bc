/*
 * check.h: tiny test helpers shared by the e2e test apps.
 *
 * CHECK(cond, fmt, ...) prints "ok   <what>" or "FAIL <what> (...)" on stdout
 * and counts failures; DONE() prints a summary and returns nonzero if any
 * check failed, so the app's exit status tells the e2e test the verdict and
 * stdout tells a human which check it was.
 */
#ifndef USHELL_CHECK_H
#define USHELL_CHECK_H
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond, ...)                                                        \
    do {                                                                        \
        int saved_errno_ = errno;                                               \
        check_count++;                                                          \
        if (cond) {                                                             \
            printf("ok   ");                                                    \
            printf(__VA_ARGS__);                                                \
            printf("\n");                                                       \
        } else {                                                                \
            check_failures++;                                                   \
            printf("FAIL ");                                                    \
            printf(__VA_ARGS__);                                                \
            printf("  [%s:%d: %s; errno %d %s]\n", __FILE__, __LINE__, #cond,   \
                   saved_errno_, strerror(saved_errno_));                       \
        }                                                                       \
        errno = saved_errno_;                                                   \
    } while (0)

#define DONE()                                                                  \
    do {                                                                        \
        printf("%s: %d/%d checks passed\n", check_failures ? "FAILED" : "PASSED", \
               check_count - check_failures, check_count);                      \
        fflush(stdout);                                                         \
        return check_failures ? 1 : 0;                                          \
    } while (0)

#endif
