/* fault: dereferences NULL in a named function. Under Linux this dies of
 * SIGSEGV (status 139); the unikernel must do the same and name crash_here in
 * its fault report. */
#include <stdio.h>

/* volatile: the compiler must not see the NULL and turn the store into ud2. */
int *volatile target = 0;

__attribute__((noinline)) void crash_here(int *p)
{
    *p = 42;
}

int main(void)
{
    printf("about to dereference NULL\n");
    fflush(stdout);
    crash_here(target);
    printf("still alive?!\n");
    return 0;
}
