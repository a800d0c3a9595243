/* A guest-RIP sampling profiler for engine work: with SOFTKVM_PROFILE=FILE in the environment,
 * a thread samples each vCPU's RIP every 200 us (a racy read is fine for a histogram) and, when
 * the vCPU is destroyed, appends "samples rip" lines, most frequent first, to FILE. The run loop
 * pays nothing for it. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

#define PROF_SLOTS (1 << 16)

struct profile {
  pthread_t thread;
  volatile bool stop;
  const volatile uint64_t *rip;
  int vcpu_id;
  uint64_t rip_of[PROF_SLOTS];
  uint32_t count[PROF_SLOTS];
  uint64_t lost;
};

static void *profile_main(void *arg)
{
  struct profile *p = arg;
  struct timespec ts = { 0, 200000 };
  while (!p->stop) {
    nanosleep(&ts, NULL);
    uint64_t rip = *p->rip;
    unsigned h = (unsigned)((rip * 0x9e3779b97f4a7c15ULL) >> 48);
    for (int i = 0;; i++, h = (h + 1) & (PROF_SLOTS - 1)) {
      if (i == 64) { p->lost++; break; }
      if (p->count[h] && p->rip_of[h] != rip) continue;
      p->rip_of[h] = rip;
      p->count[h]++;
      break;
    }
  }
  return NULL;
}

void *profile_start(struct skvm_vcpu *v)
{
  if (!getenv("SOFTKVM_PROFILE")) return NULL;
  struct profile *p = calloc(1, sizeof(*p));
  if (!p) return NULL;
  p->rip = &v->cpu.rip;
  p->vcpu_id = v->id;
  if (pthread_create(&p->thread, NULL, profile_main, p)) {
    free(p);
    return NULL;
  }
  return p;
}

static int by_count(const void *a, const void *b)
{
  const uint64_t *x = a, *y = b;
  return x[0] < y[0] ? 1 : x[0] > y[0] ? -1 : 0;
}

void profile_stop(void *handle)
{
  struct profile *p = handle;
  if (!p) return;
  p->stop = true;
  pthread_join(p->thread, NULL);
  uint64_t (*rows)[2] = malloc(sizeof(uint64_t[2]) * PROF_SLOTS);
  int n = 0;
  for (int i = 0; i < PROF_SLOTS && rows; i++)
    if (p->count[i]) rows[n][0] = p->count[i], rows[n][1] = p->rip_of[i], n++;
  FILE *f = rows ? fopen(getenv("SOFTKVM_PROFILE"), "a") : NULL;
  if (f) {
    qsort(rows, n, sizeof(rows[0]), by_count);
    fprintf(f, "# vcpu %d: %d distinct rips, %llu samples lost\n", p->vcpu_id, n,
            (unsigned long long)p->lost);
    for (int i = 0; i < n; i++) fprintf(f, "%llu %llx\n", (unsigned long long)rows[i][0],
                                        (unsigned long long)rows[i][1]);
    fclose(f);
  }
  free(rows);
  free(p);
}
