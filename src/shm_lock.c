/*
 * shm_lock.c - the spin lock, and the biased lock's slow path (see shm_lock.h).
 */
#include "shm_lock.h"

void xshm_spin_lock(uint32_t *lock)
{
    for (unsigned spins = 0; xa_xchg32(lock, 1) != 0;) {
        while (xa_load32_relaxed(lock) != 0) {
            if (++spins < 256)
                xa_pause();
            else
                xshm_plat_sleep_ms(0); /* the holder may be preempted: let it run */
        }
    }
}

/* Called with l->spin held: end the owner's fast path. */
static void revoke(xshm_block_t *l)
{
    if (xa_load32_relaxed(&l->revoked))
        return;
    xa_store32_relaxed(&l->revoked, 1);
    if (!xshm_plat_local_fence())
        xa_fence_seq_cst(); /* unreachable in practice: bias needs the fence */
    for (unsigned spins = 0; xa_load32_acq(&l->busy) != 0;)
        if (++spins > 256)
            xshm_plat_sleep_ms(0);
}

bool xshm_block_lock_slow(xshm_block_t *l)
{
    uint64_t self = xshm_plat_thread_self();
    xshm_spin_lock(&l->spin);
    uint64_t owner = xa_load64_relaxed(&l->owner);
    if (owner == 0 && !xa_load32_relaxed(&l->revoked)) {
        /* First taker: bias towards it if fences allow. */
        if (xshm_plat_local_fence_register())
            xa_store64_rel(&l->owner, self);
        else
            xa_store32_relaxed(&l->revoked, 1);
    } else if (owner != self) {
        revoke(l);
    }
    return false;
}

void xshm_block_drain(xshm_block_t *l)
{
    xshm_spin_lock(&l->spin);
    revoke(l);
    xshm_spin_unlock(&l->spin);
}
