/*
 * shm_lock.h - the in-process locks of the layers above the platform: a spin
 * lock, and the biased lock that serialises the sends and the receives of
 * one endpoint.
 */
#ifndef XSHM_LOCK_H
#define XSHM_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "atomics.h"
#include "platform.h"

/* ---- spin lock ----------------------------------------------------------------
 * For short critical sections among the threads of one process: one atomic
 * exchange to take it, a release store to give it back; a waiter that spins
 * too long yields its time slice. */
void xshm_spin_lock(uint32_t *lock);
static inline void xshm_spin_unlock(uint32_t *lock) { xa_store32_rel(lock, 0); }

/* ---- biased lock ----------------------------------------------------------------
 *
 * Sending or receiving takes a lock per message, and on x86 every locked
 * instruction waits for the thread's earlier stores to reach other caches,
 * which costs as much as the message itself. Most endpoints are used by one
 * thread, so the lock is biased towards the first thread that takes it: that
 * thread enters by a plain store of `busy` and a load of `revoked`. Another
 * thread revokes the bias for good: it sets `revoked`, runs
 * xshm_plat_local_fence() (a full fence on every thread of the process, so the
 * owner either sees `revoked` or has its `busy` seen) and waits for `busy`
 * to clear; from then on everyone uses the spin lock. Without a usable
 * xshm_plat_local_fence() the bias is never granted.
 */
typedef struct xshm_block {
    uint32_t spin;    /* the lock proper */
    uint32_t revoked; /* 1: no fast path any more */
    uint32_t busy;    /* the owner is inside on the fast path */
    uint32_t pad_;
    XA_ALIGN8 uint64_t owner; /* xshm_plat_thread_self() of the biased thread, 0: none */
} xshm_block_t;

/* Take the lock; returns the token to pass to xshm_block_unlock. */
bool xshm_block_lock_slow(xshm_block_t *l);

static inline bool xshm_block_lock(xshm_block_t *l)
{
    uint64_t owner = xa_load64_relaxed(&l->owner); /* 0 when never biased */
    if (owner != 0 && owner == xshm_plat_thread_self()) {
        xa_store32_relaxed(&l->busy, 1);
        xa_compiler_barrier(); /* the revoker's xshm_plat_local_fence() orders us */
        if (!xa_load32_relaxed(&l->revoked))
            return true;
        xa_store32_rel(&l->busy, 0);
    }
    return xshm_block_lock_slow(l);
}

static inline void xshm_block_unlock(xshm_block_t *l, bool fast)
{
    if (fast)
        xa_store32_rel(&l->busy, 0);
    else
        xshm_spin_unlock(&l->spin);
}

/* Revoke the bias for good and wait until nobody holds the lock (used before
 * an endpoint is torn down). */
void xshm_block_drain(xshm_block_t *l);

#endif
