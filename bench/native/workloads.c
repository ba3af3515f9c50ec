/*
 * The anchor workloads of shared/WORKLOADS.md (W1-W4) against the C library's malloc/free:
 * the native row of the benchmark suite. Compiled and run by bench/run.mjs at bench time
 * when a C compiler is there:
 *
 *   cc -O2 -fno-builtin-malloc -fno-builtin-free -o workloads workloads.c
 *   ./workloads W1 [runs]        prints one JSON object on stdout
 *
 * Exactly the JS suite's work (bench/workloads.mjs): xorshift32 seeded with 2463534242, the
 * same slot counts, sizes and iteration counts; the draws are derived before the clock
 * starts (slot = r % slots, size from the same r), consumed in the order WORKLOADS.md
 * consumes rand() calls. One process per workload; in it: one untimed footprint pass on the
 * fresh heap, then one warm-up run of the empty loop and of malloc, then `runs` timed runs of
 * each, interleaved; the median ns/op of each, net = malloc - baseline. Time is the process's
 * CPU time (CLOCK_PROCESS_CPUTIME_ID), as the JS rows use process.cpuUsage(): on a shared
 * machine, time spent descheduled does not count.
 *
 * Footprint (glibc only): at every allocation of the footprint pass, the highest byte of any
 * block in the brk heap above the heap's start (the program break before the first
 * allocation) plus the bytes of the mmapped chunks live at that moment (their chunk size,
 * read from glibc's chunk header); the peak of that sum. Elsewhere it is reported as null.
 *
 * -fno-builtin-malloc/free keep the compiler from reasoning about (or removing) the calls.
 */

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <gnu/libc-version.h>
#endif

#define SEED 2463534242u
#define MAX_RUNS 15

enum { MODE_BASELINE, MODE_MALLOC, MODE_FOOTPRINT };

typedef struct {
  const char *id, *name;
  long slots, iterations, rounds, per_round;
} Workload;

static const Workload WORKLOADS[] = {
    {"W1", "W1 churn-small", 10000, 2000000, 0, 0},
    {"W2", "W2 fixed-64", 1000, 2000000, 0, 0},
    {"W3", "W3 arena", 0, 0, 1000, 1000},
    {"W4", "W4 large", 100, 20000, 0, 0},
};

typedef struct {
  double ns;
  long ops, failures, draws;
  double peak_live, footprint;
} Result;

static int32_t *SLOT, *SIZE;
static void **table;
static double *sizes;

/* footprint accounting (MODE_FOOTPRINT only) */
static uintptr_t heap_lo, heap_hi;
static double mmapped_live, peak_footprint;

/* The program's own arrays come from mmap, so the brk heap holds malloc's blocks only. */
static void *zalloc_mapped(size_t bytes) {
  void *p = mmap(NULL, bytes ? bytes : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  return p;
}

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void make_draws(const Workload *w) {
  const int w1 = strcmp(w->id, "W1") == 0, w2 = strcmp(w->id, "W2") == 0,
            w3 = strcmp(w->id, "W3") == 0;
  const long count = w3 ? w->rounds * w->per_round : w2 ? w->iterations : 2 * w->iterations;
  SLOT = zalloc_mapped((size_t)count * sizeof *SLOT);
  SIZE = zalloc_mapped((size_t)count * sizeof *SIZE);
  uint32_t x = SEED;
  for (long k = 0; k < count; k++) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    if (!w3) SLOT[k] = (int32_t)(x % (uint32_t)w->slots);
    SIZE[k] = w1 ? 8 + (int32_t)(x % 505) : w3 ? 16 + (int32_t)(x % 49)
                                         : w2 ? 64 : 4096 + (int32_t)(x % 1048576);
  }
}

#ifdef __GLIBC__
/* glibc's chunk header: the size word before the block, bit 1 = IS_MMAPPED. */
static inline size_t chunk_word(void *p) { return *(const size_t *)((uintptr_t)p - sizeof(size_t)); }
static inline void track_alloc(void *p, size_t n) {
  const size_t h = chunk_word(p);
  if (h & 2) {
    mmapped_live += (double)(h & ~(size_t)7);
  } else if ((uintptr_t)p + n > heap_hi) {
    heap_hi = (uintptr_t)p + n;
  }
  const double fp = (heap_hi > heap_lo ? (double)(heap_hi - heap_lo) : 0) + mmapped_live;
  if (fp > peak_footprint) peak_footprint = fp;
}
static inline void track_free(void *p) {
  const size_t h = chunk_word(p);
  if (h & 2) mmapped_live -= (double)(h & ~(size_t)7);
}
#else
static inline void track_alloc(void *p, size_t n) { (void)p; (void)n; }
static inline void track_free(void *p) { (void)p; }
#endif

static inline __attribute__((always_inline)) void *do_alloc(int mode, size_t n) {
  if (mode == MODE_BASELINE) return (void *)(uintptr_t)(64 + (n & 0));
  void *p = malloc(n);
  if (mode == MODE_FOOTPRINT && p) track_alloc(p, n);
  return p;
}

static inline __attribute__((always_inline)) void do_free(int mode, void *p) {
  if (mode == MODE_BASELINE) return;
  if (mode == MODE_FOOTPRINT) track_free(p);
  free(p);
}

static inline __attribute__((always_inline)) Result churn(const Workload *w, int mode, int fixed64) {
  const long nslots = w->slots, iterations = w->iterations;
  for (long s = 0; s < nslots; s++) table[s] = NULL, sizes[s] = 0;
  long k = 0, ops = 0, failures = 0;
  double live = 0, peak_live = 0;
  uintptr_t top = 0;
  const double t0 = now_ns();
  for (long i = 0; i < iterations; i++) {
    const int32_t s = SLOT[k++];
    void *p = table[s];
    if (p != NULL) {
      do_free(mode, p);
      live -= sizes[s];
      table[s] = NULL;
      ops++;
    } else {
      const int32_t n = fixed64 ? 64 : SIZE[k++];
      void *q = do_alloc(mode, (size_t)n);
      ops++;
      if (q == NULL) {
        failures++;
      } else {
        table[s] = q;
        sizes[s] = n;
        live += n;
        if (live > peak_live) peak_live = live;
        if ((uintptr_t)q + (uintptr_t)n > top) top = (uintptr_t)q + (uintptr_t)n;
      }
    }
  }
  for (long s = 0; s < nslots; s++) {
    if (table[s] != NULL) {
      do_free(mode, table[s]);
      table[s] = NULL;
      ops++;
    }
  }
  const double ns = now_ns() - t0;
  /* `top` keeps the bookkeeping the JS loops do; it is not a footprint for malloc */
  __asm__ volatile("" : : "r"(top));
  return (Result){ns, ops, failures, k, peak_live, 0};
}

static inline __attribute__((always_inline)) Result arena(const Workload *w, int mode) {
  const long rounds = w->rounds, per_round = w->per_round;
  long k = 0, ops = 0, failures = 0;
  double peak_live = 0;
  uintptr_t top = 0;
  const double t0 = now_ns();
  for (long round = 0; round < rounds; round++) {
    double live = 0;
    for (long j = 0; j < per_round; j++) {
      const int32_t n = SIZE[k++];
      void *q = do_alloc(mode, (size_t)n);
      ops++;
      table[j] = q;
      sizes[j] = n;
      if (q == NULL) {
        failures++;
      } else {
        live += n;
        if ((uintptr_t)q + (uintptr_t)n > top) top = (uintptr_t)q + (uintptr_t)n;
      }
    }
    if (live > peak_live) peak_live = live;
    for (long j = 0; j < per_round; j++) {
      void *p = table[j];
      if (p != NULL) {
        do_free(mode, p);
        table[j] = NULL;
      }
    }
    ops += per_round;
  }
  const double ns = now_ns() - t0;
  __asm__ volatile("" : : "r"(top));
  return (Result){ns, ops, failures, k, peak_live, 0};
}

#define VARIANT(NAME, MODE)                                                    \
  static __attribute__((noinline)) Result NAME(const Workload *w) {            \
    if (strcmp(w->id, "W3") == 0) return arena(w, MODE);                       \
    if (strcmp(w->id, "W2") == 0) return churn(w, MODE, 1);                    \
    return churn(w, MODE, 0);                                                  \
  }
VARIANT(run_baseline, MODE_BASELINE)
VARIANT(run_malloc, MODE_MALLOC)
VARIANT(run_footprint, MODE_FOOTPRINT)

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(const double *xs, int n) {
  double s[MAX_RUNS];
  memcpy(s, xs, (size_t)n * sizeof *s);
  qsort(s, (size_t)n, sizeof *s, cmp_double);
  return s[n / 2];
}

static void print_samples(const double *xs, int n) {
  printf("[");
  for (int i = 0; i < n; i++) printf("%s%.4f", i ? "," : "", xs[i]);
  printf("]");
}

int main(int argc, char **argv) {
  heap_lo = (uintptr_t)sbrk(0);
  if (argc < 2) {
    fprintf(stderr, "usage: %s W1|W2|W3|W4 [runs]\n", argv[0]);
    return 2;
  }
  const Workload *w = NULL;
  for (size_t i = 0; i < sizeof WORKLOADS / sizeof *WORKLOADS; i++)
    if (strcmp(argv[1], WORKLOADS[i].id) == 0) w = &WORKLOADS[i];
  if (w == NULL) {
    fprintf(stderr, "unknown workload %s\n", argv[1]);
    return 2;
  }
  int runs = argc > 2 ? atoi(argv[2]) : 5;
  if (runs < 1) runs = 1;
  if (runs > MAX_RUNS) runs = MAX_RUNS;
  const long table_len = w->slots > w->per_round ? w->slots : w->per_round;
  table = zalloc_mapped((size_t)table_len * sizeof *table);
  sizes = zalloc_mapped((size_t)table_len * sizeof *sizes);
  make_draws(w);
  heap_hi = heap_lo;

  const Result fp = run_footprint(w);
  run_baseline(w); /* warm-up */
  run_malloc(w);
  double base[MAX_RUNS], raw[MAX_RUNS];
  Result last = fp;
  for (int r = 0; r < runs; r++) {
    const Result b = run_baseline(w);
    base[r] = b.ns / (double)b.ops;
    last = run_malloc(w);
    raw[r] = last.ns / (double)last.ops;
  }
  const double mb = median(base, runs), mr = median(raw, runs);
#ifdef __GLIBC__
  const char *libc = gnu_get_libc_version();
  printf("{\"libc\":\"glibc %s\",", libc);
#else
  printf("{\"libc\":\"unknown\",");
#endif
  printf("\"workload\":\"%s\",\"runs\":%d,", w->id, runs);
  printf("\"baseline\":{\"rawNsPerOp\":%.4f,\"samples\":", mb);
  print_samples(base, runs);
  printf("},\"malloc\":{\"rawNsPerOp\":%.4f,\"netNsPerOp\":%.4f,\"samples\":", mr, mr - mb);
  print_samples(raw, runs);
  printf(",\"ops\":%ld,\"failures\":%ld,\"draws\":%ld,\"peakLiveBytes\":%.0f,", last.ops,
         last.failures, last.draws, last.peak_live);
#ifdef __GLIBC__
  printf("\"footprint\":%.0f}}\n", peak_footprint);
#else
  printf("\"footprint\":null}}\n");
#endif
  return 0;
}
