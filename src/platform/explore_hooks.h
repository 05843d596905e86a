/*
 * explore_hooks.h - atomics.h for the interleaving explorer's test build
 * (XSHM_EXPLORE; see tests/explore/explore.h and DESIGN.md section 9).
 *
 * Every helper of atomics.h becomes a call into the explorer, which makes it
 * a step: the explorer's scheduler may run another actor before the access
 * is performed, and checks the scenario's invariants after it. Release
 * builds never see this file: the step hooks cost nothing there.
 */
#ifndef XSHM_EXPLORE_HOOKS_H
#define XSHM_EXPLORE_HOOKS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { XE_RELAXED = 0, XE_ACQUIRE = 1, XE_RELEASE = 2, XE_SEQ_CST = 3 } xe_order_t;

/* "file:line" of the access, for the printed schedule. */
#define XE_STR2_(x) #x
#define XE_STR_(x) XE_STR2_(x)
#define XE_HERE __FILE__ ":" XE_STR_(__LINE__)

uint32_t xe_load32(const uint32_t *p, xe_order_t o, const char *where);
uint64_t xe_load64(const uint64_t *p, xe_order_t o, const char *where);
void xe_store32(uint32_t *p, uint32_t v, xe_order_t o, const char *where);
void xe_store64(uint64_t *p, uint64_t v, xe_order_t o, const char *where);
uint32_t xe_fetch_add32(uint32_t *p, uint32_t v, const char *where);
uint64_t xe_fetch_add64(uint64_t *p, uint64_t v, const char *where);
uint32_t xe_xchg32(uint32_t *p, uint32_t v, const char *where);
int xe_cas32(uint32_t *p, uint32_t expected, uint32_t desired, const char *where);
int xe_cas64(uint64_t *p, uint64_t expected, uint64_t desired, const char *where);
void xe_fence(xe_order_t o, const char *where);
void xe_pause(const char *where);
void xe_copy_from(void *dst, const void *src, size_t n, const char *where);
void xe_copy_to(void *dst, const void *src, size_t n, const char *where);

#ifdef __cplusplus
}
#endif

#define xa_compiler_barrier() ((void)0)

#define xa_load32_relaxed(p) xe_load32((p), XE_RELAXED, XE_HERE)
#define xa_load32_acq(p) xe_load32((p), XE_ACQUIRE, XE_HERE)
#define xa_store32_relaxed(p, v) xe_store32((p), (v), XE_RELAXED, XE_HERE)
#define xa_store32_rel(p, v) xe_store32((p), (v), XE_RELEASE, XE_HERE)
#define xa_fetch_add32(p, v) xe_fetch_add32((p), (v), XE_HERE)
#define xa_xchg32(p, v) xe_xchg32((p), (v), XE_HERE)
#define xa_cas32(p, e, d) xe_cas32((p), (e), (d), XE_HERE)
#define xa_load64_relaxed(p) xe_load64((p), XE_RELAXED, XE_HERE)
#define xa_load64_acq(p) xe_load64((p), XE_ACQUIRE, XE_HERE)
#define xa_store64_relaxed(p, v) xe_store64((p), (v), XE_RELAXED, XE_HERE)
#define xa_store64_rel(p, v) xe_store64((p), (v), XE_RELEASE, XE_HERE)
#define xa_fetch_add64(p, v) xe_fetch_add64((p), (v), XE_HERE)
#define xa_cas64(p, e, d) xe_cas64((p), (e), (d), XE_HERE)
#define xa_fence_acq() xe_fence(XE_ACQUIRE, XE_HERE)
#define xa_fence_rel() xe_fence(XE_RELEASE, XE_HERE)
#define xa_fence_seq_cst() xe_fence(XE_SEQ_CST, XE_HERE)
#define xa_pause() xe_pause(XE_HERE)
#define xa_copy_from_shared(dst, src, n) xe_copy_from((dst), (src), (n), XE_HERE)
#define xa_copy_to_shared(dst, src, n) xe_copy_to((dst), (src), (n), XE_HERE)

#endif /* XSHM_EXPLORE_HOOKS_H */
