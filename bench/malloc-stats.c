// glibc's own figures for a running node, for bench/session-churn.ts: preloaded, it
// prints mallinfo2 (and, with MSTATS_FULL, malloc_stats(): per arena) to stderr when the
// file named by MSTATS_TRIGGER appears, then removes the file (a thread polls every 20 ms).
//   gcc -O2 -shared -fPIC -pthread -o bench/build/malloc-stats.so bench/malloc-stats.c
//   MSTATS_TRIGGER=/tmp/mstats LD_PRELOAD=$PWD/bench/build/malloc-stats.so \
//     node --expose-gc --import tsx bench/session-churn.ts   (not through npm: its own
//     processes would answer the trigger)
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
static const char* trigger;
static void dump(void) {
  struct mallinfo2 m = mallinfo2();
  fprintf(stderr, "mallinfo2: arena(non-mmapped)=%.1fM hblkhd(mmapped)=%.1fM uordblks(in use)=%.1fM fordblks(free)=%.1fM keepcost=%zu\n",
          m.arena / 1048576.0, m.hblkhd / 1048576.0, m.uordblks / 1048576.0, m.fordblks / 1048576.0, m.keepcost);
  if (getenv("MSTATS_FULL")) malloc_stats();
  if (getenv("MSTATS_INFO")) malloc_info(0, stderr);
}
static void* watch(void* arg) {
  (void)arg;
  for (;;) {
    if (access(trigger, F_OK) == 0) {
      dump();
      unlink(trigger);
    }
    usleep(20000);
  }
  return NULL;
}
__attribute__((constructor)) static void init(void) {
  trigger = getenv("MSTATS_TRIGGER");
  if (!trigger) return;
  pthread_t t;
  pthread_create(&t, NULL, watch, NULL);
  pthread_detach(t);
}
