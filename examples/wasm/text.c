/*
 * A small C library of text and number functions, compiled to a wasm32-wasi module
 * (a reactor: no main, the host calls its exports). Every block it allocates comes from the
 * memkit Heap in its own memory (alloc.c), so the host writes the inputs into that heap and
 * reads, and frees, what these functions return. run.mjs builds and drives it.
 */

#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXPORT(name) __attribute__((export_name(name)))

/* Prints a greeting through WASI's stdout (the host's process.stdout). */
EXPORT("greet") void greet(const char *name) {
  printf("hello, %s, from C\n", name);
  fflush(stdout);
}

/* A new string: `text` in capitals with "!" after it. The caller frees it. */
EXPORT("shout") char *shout(const char *text) {
  size_t n = strlen(text);
  char *out = malloc(n + 2);
  if (out == NULL) return NULL;
  for (size_t i = 0; i < n; i++) out[i] = (char)toupper((unsigned char)text[i]);
  out[n] = '!';
  out[n + 1] = '\0';
  return out;
}

/*
 * Splits `text` at spaces. Returns a new array of new strings (each made by strndup, the
 * array grown by realloc) and stores their number in *count; the caller frees every word
 * and then the array. NULL when out of memory.
 */
EXPORT("split_words") char **split_words(const char *text, size_t *count) {
  char **words = NULL;
  size_t n = 0, cap = 0;
  for (const char *p = text; *p != '\0';) {
    while (*p == ' ') p++;
    if (*p == '\0') break;
    const char *start = p;
    while (*p != '\0' && *p != ' ') p++;
    if (n == cap) {
      cap = cap == 0 ? 2 : cap * 2;
      char **grown = realloc(words, cap * sizeof *words);
      if (grown == NULL) goto fail;
      words = grown;
    }
    words[n] = strndup(start, (size_t)(p - start));
    if (words[n] == NULL) goto fail;
    n++;
  }
  *count = n;
  return words;
fail:
  for (size_t i = 0; i < n; i++) free(words[i]);
  free(words);
  return NULL;
}

/* A new zeroed array (calloc) of the running sums of xs[0..n). The caller frees it. */
EXPORT("running_sums") double *running_sums(const double *xs, size_t n) {
  double *sums = calloc(n, sizeof *sums);
  if (sums == NULL) return NULL;
  double total = 0;
  for (size_t i = 0; i < n; i++) sums[i] = total += xs[i];
  return sums;
}

/*
 * `text` repeated `times` times in one new string, built by appending to a buffer that
 * realloc doubles: enough times and the heap grows the module's memory.
 */
EXPORT("repeat") char *repeat(const char *text, size_t times) {
  size_t n = strlen(text), len = 0, cap = 16;
  char *out = malloc(cap);
  if (out == NULL) return NULL;
  for (size_t i = 0; i < times; i++) {
    if (len + n + 1 > cap) {
      while (len + n + 1 > cap) cap *= 2;
      char *grown = realloc(out, cap);
      if (grown == NULL) {
        free(out);
        return NULL;
      }
      out = grown;
    }
    memcpy(out + len, text, n);
    len += n;
  }
  out[len] = '\0';
  return out;
}

/* aligned_alloc(align, size); errno tells why when it is NULL. */
EXPORT("make_aligned") void *make_aligned(size_t align, size_t size) {
  return aligned_alloc(align, size);
}

/* posix_memalign into *out; returns 0, EINVAL or ENOMEM. */
EXPORT("make_posix_aligned") int make_posix_aligned(void **out, size_t align, size_t size) {
  return posix_memalign(out, align, size);
}

/* The usable bytes of a block, whoever allocated it. */
EXPORT("usable") size_t usable(void *ptr) { return malloc_usable_size(ptr); }

/* Frees a block, whoever allocated it. */
EXPORT("release") void release(void *ptr) { free(ptr); }

/* A C bug: frees the block twice. The second free reaches memkit, which refuses it. */
EXPORT("free_twice") void free_twice(void *ptr) {
  free(ptr);
  free(ptr);
}

/* The errno of the last failed call. */
EXPORT("last_errno") int last_errno(void) { return errno; }
