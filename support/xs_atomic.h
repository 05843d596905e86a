/*
 * xs_atomic.h - 32-bit words that two threads or two processes (over a
 * shared mapping) hand each other: a load with acquire and a store with
 * release ordering, inline, as a measured loop cannot afford a call (see
 * xsupport.h). MSVC: volatile with compiler barriers, which on x86 and x64
 * are the acquire/release the processor gives every load and store.
 */
#ifndef XSHM_XS_ATOMIC_H
#define XSHM_XS_ATOMIC_H

#include <stdint.h>

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
static __forceinline uint32_t xs_load32(const uint32_t *p)
{
    uint32_t v = *(const volatile uint32_t *)p;
    _ReadWriteBarrier();
    return v;
}
static __forceinline void xs_store32(uint32_t *p, uint32_t v)
{
    _ReadWriteBarrier();
    *(volatile uint32_t *)p = v;
}
#else
static inline uint32_t xs_load32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void xs_store32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
#endif

#endif /* XSHM_XS_ATOMIC_H */
