/*
 * Replays an allocation trace (shared/traces) against the C library's malloc, calloc,
 * realloc and free: the native row of the suite's trace replays. Compiled and run by
 * bench/run.mjs at bench time when a C compiler is there:
 *
 *   cc -O2 -fno-builtin-malloc -fno-builtin-free -o replay replay.c
 *   ./replay TRACE.bin [runs]        prints one JSON object on stdout
 *
 * TRACE.bin is the parsed trace as the runner writes it: u32 count, u32 idCount, then count
 * records of four u32: op | zeroed << 8 (op 0 alloc, 1 free, 2 realloc), id, size, align.
 * The same semantics as src/trace/replay.ts without verification: `a` is malloc (calloc when
 * zeroed; aligned_alloc above 16-byte alignment), `f` free, `r` realloc; then the blocks the
 * trace leaves live are freed. The clock covers both, and each of those frees is an op too
 * (as in the JS rows, which free them so that the next run starts from an empty heap).
 *
 * One untimed pass on the fresh heap measures the footprint (glibc: the highest byte of any
 * block in the brk heap above its start, plus the mmapped chunks live at that moment, as in
 * workloads.c), then one warm-up and `runs` timed replays of malloc and of the same loop with
 * no calls (a fake pointer: the baseline), interleaved; the median ns/op of each, and the net.
 * Time is the process's CPU time (CLOCK_PROCESS_CPUTIME_ID), as in workloads.c.
 */

#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_RUNS 15

typedef struct {
  uint32_t op, id, size, align;
} Op;

static Op *ops;
static uint32_t count, id_count;
static void **ptrs;
static double *sizes;

static uintptr_t heap_lo, heap_hi;
static double mmapped_live, peak_footprint;

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

#ifdef __GLIBC__
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

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

typedef struct {
  double ns, peak_live;
  long failures, ops;
} Result;

/* mode: 0 malloc, 1 malloc with footprint tracking, 2 baseline (a fake pointer, no calls) */
static inline __attribute__((always_inline)) Result replay(int mode) {
  const int track = mode == 1, fake = mode == 2;
  long failures = 0;
  double live = 0, peak_live = 0;
  const double t0 = now_ns();
  for (uint32_t i = 0; i < count; i++) {
    const Op o = ops[i];
    const uint32_t kind = o.op & 0xff, b = o.id;
    if (kind == 0) {
      const size_t n = o.size;
      void *p = fake            ? (void *)(uintptr_t)(64 + (n & 0))
                : o.align > 16  ? aligned_alloc(o.align, (n + o.align - 1) / o.align * o.align)
                : (o.op >> 8)   ? calloc(1, n)
                                : malloc(n);
      if (p == NULL) {
        failures++;
        continue;
      }
      if (track) track_alloc(p, n);
      ptrs[b] = p;
      sizes[b] = (double)n;
      live += (double)n;
      if (live > peak_live) peak_live = live;
    } else if (kind == 1) {
      void *p = ptrs[b];
      if (p == NULL) continue;
      if (track) track_free(p);
      if (!fake) free(p);
      live -= sizes[b];
      ptrs[b] = NULL;
    } else {
      const size_t n = o.size;
      void *p = ptrs[b];
      if (track && p != NULL) track_free(p);
      void *q = fake ? (void *)(uintptr_t)(64 + (n & 0)) : realloc(p, n);
      if (q == NULL) {
        if (track && p != NULL) track_alloc(p, (size_t)sizes[b]);
        failures++;
        continue;
      }
      if (track) track_alloc(q, n);
      live += (double)n - (p == NULL ? 0 : sizes[b]);
      if (live > peak_live) peak_live = live;
      ptrs[b] = q;
      sizes[b] = (double)n;
    }
  }
  long end_frees = 0;
  for (uint32_t b = 0; b < id_count; b++) {
    if (ptrs[b] != NULL) {
      if (track) track_free(ptrs[b]);
      if (!fake) free(ptrs[b]);
      ptrs[b] = NULL;
      end_frees++;
    }
  }
  const double ns = now_ns() - t0;
  return (Result){ns, peak_live, failures, (long)count + end_frees};
}

static __attribute__((noinline)) Result replay_timed(void) { return replay(0); }
static __attribute__((noinline)) Result replay_tracked(void) { return replay(1); }
static __attribute__((noinline)) Result replay_baseline(void) { return replay(2); }

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
  heap_hi = heap_lo;
  if (argc < 2) {
    fprintf(stderr, "usage: %s TRACE.bin [runs]\n", argv[0]);
    return 2;
  }
  int runs = argc > 2 ? atoi(argv[2]) : 5;
  if (runs < 1) runs = 1;
  if (runs > MAX_RUNS) runs = MAX_RUNS;
  FILE *f = fopen(argv[1], "rb");
  if (f == NULL) {
    perror(argv[1]);
    return 1;
  }
  /* unbuffered: no stdio buffer in the brk heap (the FILE itself is freed by fclose) */
  setvbuf(f, NULL, _IONBF, 0);
  uint32_t head[2];
  if (fread(head, sizeof head, 1, f) != 1) {
    fprintf(stderr, "%s: short file\n", argv[1]);
    return 1;
  }
  count = head[0];
  id_count = head[1];
  ops = zalloc_mapped((size_t)count * sizeof *ops);
  if (fread(ops, sizeof *ops, count, f) != count) {
    fprintf(stderr, "%s: short file\n", argv[1]);
    return 1;
  }
  fclose(f);
  ptrs = zalloc_mapped((size_t)id_count * sizeof *ptrs);
  sizes = zalloc_mapped((size_t)id_count * sizeof *sizes);
  const Result fp = replay_tracked();
  replay_baseline(); /* warm-up */
  replay_timed();
  double base[MAX_RUNS], raw[MAX_RUNS];
  Result last = fp;
  for (int r = 0; r < runs; r++) {
    const Result b = replay_baseline();
    base[r] = b.ns / (double)b.ops;
    last = replay_timed();
    raw[r] = last.ns / (double)last.ops;
  }
  const double mb = median(base, runs), mr = median(raw, runs);
  printf("{\"ops\":%ld,\"runs\":%d,\"baseline\":{\"rawNsPerOp\":%.4f,\"samples\":", last.ops, runs, mb);
  print_samples(base, runs);
  printf("},\"malloc\":{\"rawNsPerOp\":%.4f,\"netNsPerOp\":%.4f,\"samples\":", mr, mr - mb);
  print_samples(raw, runs);
  printf(",\"failures\":%ld,\"peakLiveBytes\":%.0f,", last.failures, fp.peak_live);
#ifdef __GLIBC__
  printf("\"footprint\":%.0f}}\n", peak_footprint);
#else
  printf("\"footprint\":null}}\n");
#endif
  return 0;
}
