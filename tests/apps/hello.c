/* hello: prints a greeting and exits with the status given as argv[1]
 * (default 0), the smallest test of loading, write(2) and exit_group(2). */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    printf("hello, world\n");
    return argc > 1 ? atoi(argv[1]) : 0;
}
