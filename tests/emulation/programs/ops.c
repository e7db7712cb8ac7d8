/* ops REPS: each region runs operator 0 (1000 iterations) then operator 1 (2000). */
#include <stdio.h>
#include <stdlib.h>
#include "marker.h"

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 1;
    long acc = 0;
    for (int r = 0; r < reps; r++) {
        edgekit_mark(EDGEKIT_BEGIN);
        edgekit_mark(EDGEKIT_OPERATOR(0));
        acc = edgekit_spin(acc, 1000);
        edgekit_mark(EDGEKIT_OPERATOR(1));
        acc = edgekit_spin(acc, 2000);
        edgekit_mark(EDGEKIT_END);
    }
    printf("%ld\n", acc);
    return 0;
}
