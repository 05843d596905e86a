/*
 * shm_events.c - waiting, waking and the listener thread.
 */
#include "shm_events.h"

#include <string.h>

#include "atomics.h"

/* ---- wake targets ---------------------------------------------------------------- */

void xshm_wake_target_init(shm_wake_target_t *t, uint32_t *word, shm_ring_reader_t **readers,
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

void xshm_wake_target_fini(shm_wake_target_t *t) { xshm_plat_mutex_destroy(&t->lock); }

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
static bool sleep_begin(shm_wake_target_t *t)
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

static void sleep_end(shm_wake_target_t *t)
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

void xshm_ev_wake_local(shm_wake_target_t *t) { xshm_ev_signal(t->word, &t->os); }

shm_error_t xshm_ev_wait(shm_wake_target_t *t, bool (*ready)(void *ctx), void *ctx,
                        uint32_t timeout_ms, uint32_t spin_ns)
{
    if (ready(ctx))
        return SHM_SUCCESS;
    uint64_t start = xshm_plat_now_ns();
    /* Spin: a reply often comes within microseconds, and waking a sleeping
     * thread costs tens of microseconds on virtual machines. */
    if (spin_ns) {
        uint64_t spin_until = start + spin_ns;
        do {
            for (int k = 0; k < 16; k++) {
                xa_pause();
                if (ready(ctx))
                    return SHM_SUCCESS;
            }
        } while (xshm_plat_now_ns() < spin_until);
    }
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

/* ---- listener ----------------------------------------------------------------------- */

void xshm_listener_init(shm_listener_t *l, const shm_listener_ops_t *ops, void *ep,
                       shm_wake_target_t *target)
{
    memset(l, 0, sizeof(*l));
    l->ops = ops;
    l->ep = ep;
    l->target = target;
    xshm_plat_mutex_init(&l->lock);
}

void xshm_listener_fini(shm_listener_t *l) { xshm_plat_mutex_destroy(&l->lock); }

bool xshm_listener_callback(shm_listener_t *l, shm_event_callback_t *cb, void **ud)
{
    xshm_plat_mutex_lock(&l->lock);
    *cb = l->cb;
    *ud = l->ud;
    bool own = l->started && xshm_plat_thread_is_current(&l->thread);
    xshm_plat_mutex_unlock(&l->lock);
    return !own;
}

bool xshm_listener_active(shm_listener_t *l)
{
    xshm_plat_mutex_lock(&l->lock);
    bool on = l->cb != NULL;
    xshm_plat_mutex_unlock(&l->lock);
    return on;
}

void xshm_listener_push(shm_listener_t *l, shm_event_type_t type, const shm_peer_info_t *peer,
                       shm_error_t error)
{
    xshm_plat_mutex_lock(&l->lock);
    if (l->cb) {
        if (l->q_count == SHM_LISTENER_QUEUE) {
            l->q_head = (l->q_head + 1) % SHM_LISTENER_QUEUE; /* drop the oldest */
            l->q_count--;
            l->dropped++;
        }
        shm_queued_event_t *e = &l->queue[(l->q_head + l->q_count) % SHM_LISTENER_QUEUE];
        memset(e, 0, sizeof(*e));
        e->type = type;
        if (peer)
            e->peer = *peer;
        e->error = error;
        l->q_count++;
        xa_store32_rel(&l->q_pending, l->q_count);
    }
    bool wake = l->cb && l->started && !xshm_plat_thread_is_current(&l->thread);
    xshm_plat_mutex_unlock(&l->lock);
    if (wake)
        xshm_ev_wake_local(l->target);
}

static bool finishing(shm_listener_t *l) { return xa_load32_acq(&l->finish_on_exit) != 0; }

/* Call the callback for each queued event, without holding the lock. */
static void dispatch_queue(shm_listener_t *l)
{
    while (!finishing(l)) {
        xshm_plat_mutex_lock(&l->lock);
        if (l->q_count == 0) {
            xshm_plat_mutex_unlock(&l->lock);
            return;
        }
        shm_queued_event_t e = l->queue[l->q_head];
        l->q_head = (l->q_head + 1) % SHM_LISTENER_QUEUE;
        l->q_count--;
        xa_store32_rel(&l->q_pending, l->q_count);
        shm_event_callback_t cb = l->cb;
        void *ud = l->ud;
        xshm_plat_mutex_unlock(&l->lock);
        if (!cb)
            continue;
        if (e.type == SHM_EVENT_ERROR)
            cb(ud, e.type, &e.error, (uint32_t)sizeof(e.error));
        else
            cb(ud, e.type, &e.peer, (uint32_t)sizeof(e.peer));
    }
}

static bool listener_ready(void *arg)
{
    shm_listener_t *l = (shm_listener_t *)arg;
    if (xa_load32_acq(&l->stop) || xa_load32_acq(&l->q_pending) || l->ops->changed(l->ep))
        return true;
    return l->ops->pending(l->ep) && l->ops->data_mark(l->ep) != l->announced;
}

static void listener_main(void *arg)
{
    shm_listener_t *l = (shm_listener_t *)arg;
    uint64_t next_poll = 0;
    const uint64_t tick_ns = (uint64_t)SHM_LISTENER_TICK_MS * 1000000u;
    while (!xa_load32_acq(&l->stop)) {
        uint64_t now = xshm_plat_now_ns();
        if (now >= next_poll || l->ops->changed(l->ep)) {
            l->ops->poll(l->ep);
            next_poll = now + tick_ns;
        }
        dispatch_queue(l);
        if (finishing(l) || xa_load32_acq(&l->stop))
            break;
        uint64_t mark = l->ops->data_mark(l->ep);
        if (mark != l->announced && l->ops->pending(l->ep)) {
            l->announced = mark;
            xshm_plat_mutex_lock(&l->lock);
            shm_event_callback_t cb = l->cb;
            void *ud = l->ud;
            xshm_plat_mutex_unlock(&l->lock);
            if (cb)
                cb(ud, SHM_EVENT_DATA_AVAILABLE, NULL, 0);
            if (finishing(l))
                break;
            continue; /* look again before sleeping */
        }
        now = xshm_plat_now_ns();
        uint64_t wait_ms = next_poll > now ? (next_poll - now + 999999u) / 1000000u : 0;
        if (wait_ms)
            xshm_ev_wait(l->target, listener_ready, l, (uint32_t)wait_ms, 0);
    }
    if (finishing(l)) {
        /* Destroy was called from our own callback: nobody joins us. */
        xshm_plat_thread_detach(&l->thread);
        l->ops->finish(l->ep);
    }
}

shm_error_t xshm_listener_start(shm_listener_t *l, shm_event_callback_t cb, void *ud)
{
    if (!cb)
        return SHM_ERROR_INVALID_PARAM;
    xshm_plat_mutex_lock(&l->lock);
    l->cb = cb;
    l->ud = ud;
    shm_error_t err = SHM_SUCCESS;
    if (!l->started) {
        /* (Re)start: a stopped listener may be started again. Holding the
         * lock while the thread starts keeps l->thread consistent for
         * readers of it (push, stop). */
        xa_store32_relaxed(&l->stop, 0);
        xa_store32_relaxed(&l->finish_on_exit, 0);
        err = xshm_plat_thread_start(&l->thread, listener_main, l);
        if (err == SHM_SUCCESS)
            l->started = true;
        else
            l->cb = NULL;
    }
    xshm_plat_mutex_unlock(&l->lock);
    return err;
}

bool xshm_listener_stop(shm_listener_t *l)
{
    xshm_plat_mutex_lock(&l->lock);
    bool started = l->started;
    l->cb = NULL;
    xshm_plat_mutex_unlock(&l->lock);
    if (!started)
        return true;
    if (xshm_plat_thread_is_current(&l->thread)) {
        xa_store32_rel(&l->finish_on_exit, 1);
        xa_store32_rel(&l->stop, 1);
        return false;
    }
    xa_store32_rel(&l->stop, 1);
    xshm_ev_wake_local(l->target);
    xshm_plat_thread_join(&l->thread);
    xshm_plat_mutex_lock(&l->lock);
    l->started = false;
    xshm_plat_mutex_unlock(&l->lock);
    return true;
}
