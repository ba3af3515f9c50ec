/*
 * The C allocator of a WebAssembly module, served by a memkit Heap.
 *
 * Link this file into a wasm32-wasi program and its malloc, free, calloc, realloc,
 * aligned_alloc, posix_memalign and malloc_usable_size become calls to the host: imports
 * from the module "memkit", which the host answers with a Heap that lives in this module's
 * own memory, above __heap_base (`Heap.inWasmMemory(memory, __heap_base)`). C and
 * JavaScript then share one heap: either side may allocate a block and the other may read,
 * resize or free it.
 *
 * This must be the module's only allocator. wasi-libc's own malloc (dlmalloc) starts its
 * first chunk at __heap_base, which is where the Heap keeps its header: left in, the two
 * would overwrite each other. Defining every function wasi-libc's allocator object defines
 * (the seven above and the three internal __libc_ names musl's own code calls) keeps that
 * object out of the link: a static library's member is linked only for a name that nothing
 * else defines. Check with `-Wl,--trace`: no `dlmalloc.o` in the list.
 *
 * Arguments C allows but memkit rejects are settled here, so the host only sees calls it
 * accepts: realloc(p, 0) keeps a minimal block (as wasi-libc's allocator does), a bad
 * alignment is EINVAL. A pointer that was never allocated, or is freed twice, reaches the
 * host, and memkit throws its typed error (for example DoubleFreeError, ERR_DOUBLE_FREE)
 * out of the wasm call into the JavaScript that made it; the heap is left unchanged.
 */

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#define IMPORT(name) __attribute__((import_module("memkit"), import_name(name)))

IMPORT("malloc") void *memkit_malloc(size_t size);
IMPORT("calloc") void *memkit_calloc(size_t count, size_t size);
IMPORT("realloc") void *memkit_realloc(void *ptr, size_t size);
IMPORT("memalign") void *memkit_memalign(size_t align, size_t size);
IMPORT("free") void memkit_free(void *ptr);
IMPORT("usable_size") size_t memkit_usable_size(void *ptr);

/* The largest alignment memkit gives. */
#define MAX_ALIGN 65536u

static int is_power_of_two(size_t x) { return x != 0 && (x & (x - 1)) == 0; }

void *malloc(size_t size) {
  void *p = memkit_malloc(size);
  if (p == NULL) errno = ENOMEM;
  return p;
}

void *calloc(size_t count, size_t size) {
  void *p = memkit_calloc(count, size);
  if (p == NULL) errno = ENOMEM;
  return p;
}

void *realloc(void *ptr, size_t size) {
  void *p = memkit_realloc(ptr, size == 0 ? 1 : size);
  if (p == NULL) errno = ENOMEM;
  return p;
}

void free(void *ptr) { memkit_free(ptr); }

void *aligned_alloc(size_t align, size_t size) {
  if (!is_power_of_two(align) || align > MAX_ALIGN) {
    errno = EINVAL;
    return NULL;
  }
  void *p = memkit_memalign(align, size);
  if (p == NULL) errno = ENOMEM;
  return p;
}

int posix_memalign(void **out, size_t align, size_t size) {
  if (!is_power_of_two(align) || align % sizeof(void *) != 0 || align > MAX_ALIGN) return EINVAL;
  void *p = memkit_memalign(align, size);
  if (p == NULL) return ENOMEM;
  *out = p;
  return 0;
}

size_t malloc_usable_size(void *ptr) { return ptr == NULL ? 0 : memkit_usable_size(ptr); }

/* musl's internal names for the same functions (atexit and the locale code call them). */
void *__libc_malloc(size_t size) { return malloc(size); }
void *__libc_calloc(size_t count, size_t size) { return calloc(count, size); }
void __libc_free(void *ptr) { free(ptr); }
