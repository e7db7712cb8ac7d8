/* threads T: T pthreads; thread i spins 50000*(i+1) iterations, all inside one region. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include "marker.h"

#define MAX_THREADS 16
static pthread_barrier_t start, finish;

static void *work(void *arg)
{
    long n = (long)arg;
    pthread_barrier_wait(&start);      /* all threads exist: vCPU indices are distinct */
    long acc = edgekit_spin(0, n);
    pthread_barrier_wait(&finish);
    return (void *)acc;
}

int main(int argc, char **argv)
{
    int t = argc > 1 ? atoi(argv[1]) : 4;
    pthread_t tid[MAX_THREADS];
    long total = 0;
    if (t < 1 || t > MAX_THREADS) {
        return 2;
    }
    pthread_barrier_init(&start, NULL, (unsigned)t + 1);
    pthread_barrier_init(&finish, NULL, (unsigned)t + 1);
    edgekit_mark(EDGEKIT_BEGIN);
    for (long i = 0; i < t; i++) {
        pthread_create(&tid[i], NULL, work, (void *)(50000 * (i + 1)));
    }
    pthread_barrier_wait(&start);
    pthread_barrier_wait(&finish);
    for (int i = 0; i < t; i++) {
        void *ret;
        pthread_join(tid[i], &ret);
        total += (long)ret;
    }
    edgekit_mark(EDGEKIT_END);
    printf("%ld\n", total);
    return 0;
}
