/*
 * shm_events_wait.c - the wait primitive: wake targets, waiting on one (spin,
 * then sleep; the event-count pattern of shm_events.h) and waking it.
 */
#include "shm_events.h"

#include "atomics.h"

void xshm_wake_target_init(xshm_wake_target_t *t, uint32_t *word, xshm_ring_reader_t **readers,
                          uint32_t reader_count)
{
    t->word = word;
    t->readers = readers;
    t->reader_count = reader_count;
    t->sleepers = 0;
    t->in_os_wait = 0;
    t->fence_short = 0;
    xshm_plat_mutex_init(&t->lock);
}

void xshm_wake_target_fini(xshm_wake_target_t *t) { xshm_plat_mutex_destroy(&t->lock); }

/*
 * Several threads of one process may sleep on one target (receivers and the
 * listener). Every sleeper (re)marks the slots: a writer clears a mark when
 * it wakes the slot, and a thread that goes back to sleep must set it again.
 * Only the last sleeper to leave clears the marks.
 * Returns true when our remote fence, which had to stand in for a writer
 * that skips its own, failed. The writers are told (they fence themselves
 * from their next message on), but a message in flight meanwhile may have
 * skipped its fence and not seen our mark, its tail still in its CPU's
 * store buffer: the caller's next sleep, whenever it comes, is short (a
 * store buffer drains in nanoseconds), and then re-checks.
 */
static bool sleep_begin(xshm_wake_target_t *t)
{
    uint64_t remote = 0; /* readers whose writer relies on our remote fence */
    xshm_plat_mutex_lock(&t->lock);
    t->sleepers++;
    for (uint32_t i = 0; i < t->reader_count; i++)
        if (t->readers[i] && t->readers[i]->slot && xshm_ring_reader_sleep_begin(t->readers[i]))
            remote |= 1ull << (i & 63u);
    xshm_plat_mutex_unlock(&t->lock);
    /* marks before the caller's re-check of the tails, on our side and, for
     * writers that skip their fence, on theirs */
    if (remote && xshm_plat_remote_fence())
        return false;
    xa_fence_seq_cst();
    if (!remote)
        return false;
    for (uint32_t i = 0; i < t->reader_count; i++)
        if ((remote >> (i & 63u)) & 1u)
            xshm_ring_reader_fence_failed(t->readers[i]);
    return true;
}

static void sleep_end(xshm_wake_target_t *t)
{
    xshm_plat_mutex_lock(&t->lock);
    if (--t->sleepers == 0)
        for (uint32_t i = 0; i < t->reader_count; i++)
            if (t->readers[i] && t->readers[i]->slot)
                xshm_ring_reader_sleep_end(t->readers[i]);
    xshm_plat_mutex_unlock(&t->lock);
}

void xshm_ev_signal(uint32_t *word, plat_wake_t *os)
{
    xa_fetch_add32(word, 1);
    xshm_plat_wake_signal(os, word);
}

void xshm_ev_wake_local(xshm_wake_target_t *t) { xshm_ev_signal(t->word, &t->os); }

bool xshm_ev_spin(bool (*ready)(void *ctx), void *ctx, uint32_t spin_ns)
{
    uint64_t spin_until = xshm_plat_now_ns() + spin_ns;
    do {
        for (int k = 0; k < 16; k++) {
            xa_pause();
            if (ready(ctx))
                return true;
        }
    } while (xshm_plat_now_ns() < spin_until);
    return false;
}

shm_error_t xshm_ev_wait(xshm_wake_target_t *t, bool (*ready)(void *ctx), void *ctx,
                        uint32_t timeout_ms, uint32_t spin_ns)
{
    if (ready(ctx))
        return SHM_SUCCESS;
    uint64_t start = xshm_plat_now_ns();
    /* Spin: a reply often comes within microseconds, and waking a sleeping
     * thread costs tens of microseconds on virtual machines. */
    if (spin_ns && xshm_ev_spin(ready, ctx, spin_ns))
        return SHM_SUCCESS;
    uint64_t deadline = start + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
        uint32_t w = xa_load32_acq(t->word);
        if (sleep_begin(t))
            xa_store32_relaxed(&t->fence_short, 1);
        if (ready(ctx)) {
            sleep_end(t);
            return SHM_SUCCESS;
        }
        uint64_t now = xshm_plat_now_ns();
        if (now >= deadline) {
            sleep_end(t);
            return SHM_ERROR_TIMEOUT;
        }
        uint64_t left_ms = (deadline - now + 999999u) / 1000000u;
        if (xa_xchg32(&t->fence_short, 0) && left_ms > SHM_FENCE_FAILED_SLEEP_MS)
            left_ms = SHM_FENCE_FAILED_SLEEP_MS;
        xa_fetch_add32(&t->in_os_wait, 1);
        shm_error_t e = xshm_plat_wake_wait(&t->os, t->word, w, (uint32_t)left_ms);
        uint32_t others = xa_fetch_add32(&t->in_os_wait, (uint32_t)-1) - 1;
        /* One signal may wake a single thread (an auto-reset event): pass it
         * on while other threads of this process still sleep on it. */
        if (e == SHM_SUCCESS && others > 0 && xa_load32_acq(t->word) != w)
            xshm_plat_wake_signal(&t->os, t->word);
        sleep_end(t);
        if (ready(ctx))
            return SHM_SUCCESS;
    }
}
