/* loop N [REPS [PRE]]: PRE iterations outside any region, then REPS regions of N iterations. */
#include <stdio.h>
#include <stdlib.h>
#include "marker.h"

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000;
    int reps = argc > 2 ? atoi(argv[2]) : 1;
    long acc = edgekit_spin(0, argc > 3 ? atol(argv[3]) : 0);
    for (int r = 0; r < reps; r++) {
        edgekit_mark(EDGEKIT_BEGIN);
        acc = edgekit_spin(acc, n);
        edgekit_mark(EDGEKIT_END);
    }
    printf("%ld\n", acc);
    return 0;
}
