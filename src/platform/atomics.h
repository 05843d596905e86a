/*
 * atomics.h - the memory-ordering vocabulary of xshm.
 *
 * All shared-memory words are accessed through these helpers, never through
 * plain loads and stores. Each helper names its ordering, with the meaning
 * of the C11 memory model (<stdatomic.h>), which the protocol comments in
 * shm_ringbuffer.c and shm_events_wait.c argue against:
 *   relaxed  - atomic (never torn), no ordering with other accesses;
 *   acquire  - later loads/stores of this thread cannot move before it;
 *   release  - earlier loads/stores of this thread cannot move after it;
 *   seq_cst  - a full fence: also orders an earlier store before a later load
 *              (the store-load order x86 does not give for free).
 * Fences: xa_fence_rel() before a relaxed store X and xa_fence_acq() after a
 * relaxed load that reads X synchronise (C11 7.17.4): what the storing thread
 * did before its fence happens before what the loading thread does after its
 * fence. Read-modify-write helpers (xchg, fetch_add, cas) are seq_cst.
 * 64-bit helpers are single atomic accesses on 32-bit x86 too (cmpxchg8b /
 * 8-byte SSE or x87 moves), provided the word is 8-byte aligned: the shared
 * layout guarantees it, and process-local 64-bit atomics are declared
 * XA_ALIGN8 (see below).
 *
 * Three branches: GCC/Clang/MinGW (__atomic builtins), MSVC (intrinsics; x86
 * and x64 only), and XSHM_EXPLORE, the test build in which every helper is a
 * step of the interleaving explorer (tests/explore/).
 */
#ifndef XSHM_ATOMICS_H
#define XSHM_ATOMICS_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SANITIZE_THREAD__)
#define XA_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define XA_TSAN 1
#endif
#endif

/* A process-local uint64_t that is accessed atomically: 8-byte aligned on
 * every target (i386 and Win32 align uint64_t struct members to 4 only, and
 * a misaligned 64-bit word may be read torn). Write it as
 * `XA_ALIGN8 uint64_t field;`. */
#if defined(_MSC_VER) && !defined(__clang__)
#define XA_ALIGN8 __declspec(align(8))
#elif defined(__cplusplus)
#define XA_ALIGN8 alignas(8)
#else
#define XA_ALIGN8 _Alignas(8)
#endif

#if defined(XSHM_EXPLORE)
/* ---------------------------------------------- the explorer's test build */
#include "explore_hooks.h"

#elif defined(_MSC_VER) && !defined(__clang__)
/* ------------------------------------------------------------------ MSVC */
/* The MSVC branch relies on x86/x64 being TSO: a plain (volatile) load is an
 * acquire and a plain store a release once the compiler is restrained.
 * Weakly ordered CPUs (ARM64) need real acquire/release instructions. */
#if !defined(_M_IX86) && !defined(_M_X64)
#error "xshm with MSVC supports x86 and x64 only (atomics.h); on ARM64 build with clang or GCC"
#endif
#include <intrin.h>

#define XA_INLINE static __forceinline
#define xa_compiler_barrier() _ReadWriteBarrier()

XA_INLINE uint32_t xa_load32_relaxed(const uint32_t *p) { return *(const volatile uint32_t *)p; }
XA_INLINE uint32_t xa_load32_acq(const uint32_t *p)
{
    uint32_t v = *(const volatile uint32_t *)p;
    _ReadWriteBarrier();
    return v;
}
XA_INLINE void xa_store32_relaxed(uint32_t *p, uint32_t v) { *(volatile uint32_t *)p = v; }
XA_INLINE void xa_store32_rel(uint32_t *p, uint32_t v)
{
    _ReadWriteBarrier();
    *(volatile uint32_t *)p = v;
}
XA_INLINE uint32_t xa_fetch_add32(uint32_t *p, uint32_t v)
{
    return (uint32_t)_InterlockedExchangeAdd((volatile long *)p, (long)v);
}
XA_INLINE uint32_t xa_xchg32(uint32_t *p, uint32_t v)
{
    return (uint32_t)_InterlockedExchange((volatile long *)p, (long)v);
}
/* Compare-and-swap: returns 1 and stores `desired` if *p == expected. */
XA_INLINE int xa_cas32(uint32_t *p, uint32_t expected, uint32_t desired)
{
    return (uint32_t)_InterlockedCompareExchange((volatile long *)p, (long)desired,
                                                 (long)expected) == expected;
}

#if defined(_M_X64)
XA_INLINE uint64_t xa_load64_relaxed(const uint64_t *p) { return *(const volatile uint64_t *)p; }
XA_INLINE void xa_store64_relaxed(uint64_t *p, uint64_t v) { *(volatile uint64_t *)p = v; }
#else
/* x86: an aligned 8-byte SSE2 move is a single atomic access (as GCC does
 * for __atomic on i686 with SSE2); a pure load, unlike cmpxchg8b, so that a
 * read-only mapping can be read. */
#include <emmintrin.h>
XA_INLINE uint64_t xa_load64_relaxed(const uint64_t *p)
{
    uint64_t v;
    _mm_storel_epi64((__m128i *)&v, _mm_loadl_epi64((const __m128i *)p));
    return v;
}
XA_INLINE void xa_store64_relaxed(uint64_t *p, uint64_t v)
{
    _mm_storel_epi64((__m128i *)p, _mm_loadl_epi64((const __m128i *)&v));
}
#endif
XA_INLINE uint64_t xa_load64_acq(const uint64_t *p)
{
    uint64_t v = xa_load64_relaxed(p);
    _ReadWriteBarrier();
    return v;
}
XA_INLINE void xa_store64_rel(uint64_t *p, uint64_t v)
{
    _ReadWriteBarrier();
    xa_store64_relaxed(p, v);
}
XA_INLINE uint64_t xa_fetch_add64(uint64_t *p, uint64_t v)
{
    return (uint64_t)_InterlockedExchangeAdd64((volatile __int64 *)p, (__int64)v);
}
XA_INLINE int xa_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
    return (uint64_t)_InterlockedCompareExchange64((volatile __int64 *)p, (__int64)desired,
                                                   (__int64)expected) == expected;
}
/* x86/x64 are TSO: acquire and release fences only restrain the compiler. */
XA_INLINE void xa_fence_acq(void) { _ReadWriteBarrier(); }
XA_INLINE void xa_fence_rel(void) { _ReadWriteBarrier(); }
XA_INLINE void xa_fence_seq_cst(void)
{
    long dummy = 0;
    _InterlockedOr(&dummy, 0); /* a locked instruction is a full fence */
    _ReadWriteBarrier();
}
XA_INLINE void xa_pause(void) { _mm_pause(); }

#else
/* ------------------------------------------------------ GCC, Clang, MinGW */

#define XA_INLINE static inline __attribute__((always_inline))
#define xa_compiler_barrier() __asm__ __volatile__("" ::: "memory")

/* XSHM_LINE_TRACE: the cache-line budget's test build (bench/linebudget.c)
 * sees every shared access, with its size and whether it writes. */
#if defined(XSHM_LINE_TRACE)
void xshm_line_trace(const void *p, size_t n, int write);
#define XA_TRACE(p, n, w) xshm_line_trace((p), (n), (w))
#else
#define XA_TRACE(p, n, w) ((void)0)
#endif

/* On i386 a uint64_t member may be only 4-aligned to the compiler; the
 * shared layout puts every one at an 8-byte offset, and this type tells the
 * compiler so, which keeps 64-bit atomics inline and lock-free. */
typedef uint64_t xa_u64_aligned __attribute__((aligned(8)));

XA_INLINE uint32_t xa_load32_relaxed(const uint32_t *p) { XA_TRACE(p, 4, 0); return __atomic_load_n(p, __ATOMIC_RELAXED); }
XA_INLINE uint32_t xa_load32_acq(const uint32_t *p) { XA_TRACE(p, 4, 0); return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
XA_INLINE void xa_store32_relaxed(uint32_t *p, uint32_t v) { XA_TRACE(p, 4, 1); __atomic_store_n(p, v, __ATOMIC_RELAXED); }
XA_INLINE void xa_store32_rel(uint32_t *p, uint32_t v) { XA_TRACE(p, 4, 1); __atomic_store_n(p, v, __ATOMIC_RELEASE); }
XA_INLINE uint32_t xa_fetch_add32(uint32_t *p, uint32_t v) { XA_TRACE(p, 4, 1); return __atomic_fetch_add(p, v, __ATOMIC_SEQ_CST); }
XA_INLINE uint32_t xa_xchg32(uint32_t *p, uint32_t v) { XA_TRACE(p, 4, 1); return __atomic_exchange_n(p, v, __ATOMIC_SEQ_CST); }
XA_INLINE int xa_cas32(uint32_t *p, uint32_t expected, uint32_t desired)
{
    XA_TRACE(p, 4, 1);
    return __atomic_compare_exchange_n(p, &expected, desired, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

XA_INLINE uint64_t xa_load64_relaxed(const uint64_t *p)
{
    XA_TRACE(p, 8, 0);
    return __atomic_load_n((const xa_u64_aligned *)p, __ATOMIC_RELAXED);
}
XA_INLINE uint64_t xa_load64_acq(const uint64_t *p)
{
    XA_TRACE(p, 8, 0);
    return __atomic_load_n((const xa_u64_aligned *)p, __ATOMIC_ACQUIRE);
}
XA_INLINE void xa_store64_relaxed(uint64_t *p, uint64_t v)
{
    XA_TRACE(p, 8, 1);
    __atomic_store_n((xa_u64_aligned *)p, v, __ATOMIC_RELAXED);
}
XA_INLINE void xa_store64_rel(uint64_t *p, uint64_t v)
{
    XA_TRACE(p, 8, 1);
    __atomic_store_n((xa_u64_aligned *)p, v, __ATOMIC_RELEASE);
}
XA_INLINE uint64_t xa_fetch_add64(uint64_t *p, uint64_t v)
{
    XA_TRACE(p, 8, 1);
    return __atomic_fetch_add((xa_u64_aligned *)p, v, __ATOMIC_SEQ_CST);
}
XA_INLINE int xa_cas64(uint64_t *p, uint64_t expected, uint64_t desired)
{
    XA_TRACE(p, 8, 1);
    return __atomic_compare_exchange_n((xa_u64_aligned *)p, &expected, desired, 0,
                                       __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}
XA_INLINE void xa_fence_acq(void) { __atomic_thread_fence(__ATOMIC_ACQUIRE); }
XA_INLINE void xa_fence_rel(void) { __atomic_thread_fence(__ATOMIC_RELEASE); }
XA_INLINE void xa_fence_seq_cst(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#if defined(__i386__) || defined(__x86_64__)
XA_INLINE void xa_pause(void) { __builtin_ia32_pause(); }
#elif defined(__aarch64__) || defined(__arm__)
XA_INLINE void xa_pause(void) { __asm__ __volatile__("yield" ::: "memory"); }
#else
XA_INLINE void xa_pause(void) { xa_compiler_barrier(); }
#endif

#endif /* compiler branches */

/*
 * Bulk copies into and out of a ring's data area. A reader may copy bytes
 * that the writer is overwriting at the same moment; the ring detects that
 * afterwards (the writer's `limit` and `head`, loaded after an acquire
 * fence) and discards the copy: the seqlock pattern. In C11 terms the copy
 * stands for relaxed atomic loads of each byte (Boehm, "Can seqlocks get
 * along with programming language memory models?", 2012); under
 * ThreadSanitizer it is made of exactly those, so that this designed race is
 * not reported; elsewhere it is plain memcpy.
 */
#if defined(XSHM_EXPLORE)
/* explore_hooks.h defines them */
#elif defined(XA_TSAN)
static inline void xa_copy_shared(void *dst, const void *src, size_t n)
{
    unsigned char *d = (unsigned char *)dst;
    const unsigned char *s = (const unsigned char *)src;
    for (size_t i = 0; i < n; i++)
        __atomic_store_n(d + i, __atomic_load_n(s + i, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
}
#define xa_copy_from_shared(dst, src, n) xa_copy_shared((dst), (src), (n))
#define xa_copy_to_shared(dst, src, n) xa_copy_shared((dst), (src), (n))
#elif defined(XSHM_LINE_TRACE)
#define xa_copy_from_shared(dst, src, n) (XA_TRACE((src), (n), 0), memcpy((dst), (src), (n)))
#define xa_copy_to_shared(dst, src, n) (XA_TRACE((dst), (n), 1), memcpy((dst), (src), (n)))
#else
#define xa_copy_from_shared(dst, src, n) memcpy((dst), (src), (n))
#define xa_copy_to_shared(dst, src, n) memcpy((dst), (src), (n))
#endif

#endif /* XSHM_ATOMICS_H */
