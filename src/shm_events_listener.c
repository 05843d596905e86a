/*
 * shm_events_listener.c - the listener thread of an endpoint: it has the
 * endpoint look for peers (every SHM_LISTENER_TICK_MS, or at once when a
 * peer signals a change), hands the events queued meanwhile to the callback
 * outside the lock, and raises DATA_AVAILABLE when messages wait.
 */
#include "shm_events.h"

#include <string.h>

#include "atomics.h"

void xshm_listener_init(xshm_listener_t *l, const xshm_listener_ops_t *ops, void *ep,
                       xshm_wake_target_t *target)
{
    memset(l, 0, sizeof(*l));
    l->ops = ops;
    l->ep = ep;
    l->target = target;
    xshm_plat_mutex_init(&l->lock);
}

void xshm_listener_fini(xshm_listener_t *l) { xshm_plat_mutex_destroy(&l->lock); }

bool xshm_listener_callback(xshm_listener_t *l, shm_event_callback_t *cb, void **ud)
{
    xshm_plat_mutex_lock(&l->lock);
    *cb = l->cb;
    *ud = l->ud;
    bool own = l->started && xshm_plat_thread_is_current(&l->thread);
    xshm_plat_mutex_unlock(&l->lock);
    return !own;
}

bool xshm_listener_active(xshm_listener_t *l)
{
    xshm_plat_mutex_lock(&l->lock);
    bool on = l->cb != NULL;
    xshm_plat_mutex_unlock(&l->lock);
    return on;
}

void xshm_listener_push(xshm_listener_t *l, shm_event_type_t type, const shm_peer_info_t *peer,
                       shm_error_t error)
{
    xshm_plat_mutex_lock(&l->lock);
    if (l->cb) {
        if (l->q_count == SHM_LISTENER_QUEUE) {
            l->q_head = (l->q_head + 1) % SHM_LISTENER_QUEUE; /* drop the oldest */
            l->q_count--;
            l->dropped++;
        }
        xshm_queued_event_t *e = &l->queue[(l->q_head + l->q_count) % SHM_LISTENER_QUEUE];
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

static bool finishing(xshm_listener_t *l) { return xa_load32_acq(&l->finish_on_exit) != 0; }

/* Call the callback for each queued event, without holding the lock. */
static void dispatch_queue(xshm_listener_t *l)
{
    while (!finishing(l)) {
        xshm_plat_mutex_lock(&l->lock);
        if (l->q_count == 0) {
            xshm_plat_mutex_unlock(&l->lock);
            return;
        }
        xshm_queued_event_t e = l->queue[l->q_head];
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
    xshm_listener_t *l = (xshm_listener_t *)arg;
    if (xa_load32_acq(&l->stop) || xa_load32_acq(&l->q_pending) || l->ops->changed(l->ep))
        return true;
    return l->ops->pending(l->ep) && l->ops->data_mark(l->ep) != l->announced;
}

static void listener_main(void *arg)
{
    xshm_listener_t *l = (xshm_listener_t *)arg;
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

shm_error_t xshm_listener_start(xshm_listener_t *l, shm_event_callback_t cb, void *ud)
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

bool xshm_listener_stop(xshm_listener_t *l)
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
