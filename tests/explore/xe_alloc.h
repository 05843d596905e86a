/*
 * xe_alloc.h - heap allocations of the explorer's build of the library.
 *
 * The library's sources are compiled with XE_ALLOC_REDIRECT and this header
 * forced in first, so that their malloc / calloc / realloc / free are
 * tracked: what a killed actor or an abandoned schedule allocated is freed
 * by xe_alloc_reset() before the next schedule, and no schedule leaks.
 */
#ifndef XSHM_XE_ALLOC_H
#define XSHM_XE_ALLOC_H

#include <stddef.h>
#include <stdlib.h>

void *xe_malloc(size_t n);
void *xe_calloc(size_t n, size_t size);
void *xe_realloc(void *p, size_t n);
void xe_free(void *p);

/* Free every tracked allocation still live. */
void xe_alloc_reset(void);

/* size bytes, 64-byte aligned, tracked (a scenario's segment). */
void *xe_aligned_alloc(size_t size);
void xe_aligned_free(void *p);

#if defined(XE_ALLOC_REDIRECT)
#define malloc(n) xe_malloc(n)
#define calloc(n, s) xe_calloc((n), (s))
#define realloc(p, n) xe_realloc((p), (n))
#define free(p) xe_free(p)
#endif

#endif /* XSHM_XE_ALLOC_H */
