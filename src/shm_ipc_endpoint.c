/*
 * shm_ipc_endpoint.c - what server and client share: making an endpoint,
 * closing it while other threads may be inside its calls, and the receive engine (one
 * try under the receive lock, then spin, sleep and re-check the peer until a
 * message, the peer's departure, closing or the timeout).
 */
#include "shm_ipc_internal.h"
#include <stdlib.h>

void *xshm_ep_alloc(size_t size, shm_error_t err)
{
    void *ep = err == SHM_SUCCESS ? calloc(1, size) : NULL;
    if (err == SHM_SUCCESS && ep == NULL)
        err = SHM_ERROR_MEMORY;
    if (ep == NULL)
        xshm_set_error(err);
    return ep;
}

/* A blocked receive re-checks its peer this often. */
#define WAIT_SLICE_MS 50u

void xshm_ep_close(ep_sync_t *e, xshm_wake_target_t *t)
{
    xa_xchg32(&e->closing, 1);
    xshm_block_drain(&e->send_lock);
    xshm_block_drain(&e->recv_lock);
    /* During process exit (destroy from DllMain or a DLL's atexit handler
     * after ExitProcess) a receive that was blocked has been killed where it
     * stood, still counted in `waiting`: there is nobody to wait for. */
    while (xa_load32_acq(&e->waiting) != 0 && !xshm_plat_process_exiting()) {
        xshm_ev_wake_local(t); /* a receive may be asleep */
        xshm_plat_sleep_ms(1);
    }
}

/* One attempt under recv_lock; `closing` is checked inside the lock. */
static shm_error_t try_locked(const recv_ops_t *ops, void *ep, ep_sync_t *sync, void *data,
                              uint32_t *size, uint64_t *from, bool register_wait)
{
    bool fast = xshm_block_lock(&sync->recv_lock);
    shm_error_t e = ep_closing(sync) ? SHM_ERROR_CLOSED : ops->try_receive(ep, data, size, from);
    if (e == SHM_ERROR_EMPTY && register_wait)
        xa_fetch_add32(&sync->waiting, 1);
    xshm_block_unlock(&sync->recv_lock, fast);
    return e;
}

static shm_error_t wait_loop(const recv_ops_t *ops, void *ep, ep_sync_t *sync,
                             xshm_wake_target_t *t, uint32_t timeout_ms, void *data,
                             uint32_t *size, uint64_t *from)
{
    uint64_t start = xshm_plat_now_ns();
    /* Spin first: a reply often comes within microseconds, and the peer
     * check below may cost a system call (is its process alive?), which a
     * receive that waits for a prompt reply should not pay. */
    if (xshm_ev_spin(ops->ready, ep, SHM_EV_SPIN_NS)) {
        shm_error_t e = try_locked(ops, ep, sync, data, size, from, false);
        if (e != SHM_ERROR_EMPTY)
            return e;
    }
    for (;;) {
        if (ep_closing(sync))
            return SHM_ERROR_CLOSED;
        shm_error_t e = ops->peer_state(ep, true);
        if (e != SHM_SUCCESS) {
            /* The peer left: deliver what it sent before leaving first. */
            shm_error_t last = try_locked(ops, ep, sync, data, size, from, false);
            return last == SHM_ERROR_EMPTY ? e : last;
        }
        uint32_t slice = WAIT_SLICE_MS;
        if (timeout_ms) {
            uint64_t spent_ms = (xshm_plat_now_ns() - start) / 1000000u;
            if (spent_ms >= timeout_ms) {
                /* One last look: a message may have come at the deadline. */
                e = try_locked(ops, ep, sync, data, size, from, false);
                return e == SHM_ERROR_EMPTY ? SHM_ERROR_TIMEOUT : e;
            }
            if (timeout_ms - spent_ms < slice)
                slice = (uint32_t)(timeout_ms - spent_ms);
        }
        xshm_ev_wait(t, ops->ready, ep, slice, 0); /* spun above: sleep */
        e = try_locked(ops, ep, sync, data, size, from, false);
        if (e != SHM_ERROR_EMPTY)
            return e;
    }
}

/* The receive shared by server and client. */
shm_error_t xshm_ep_receive(const recv_ops_t *ops, void *ep, ep_sync_t *sync,
                            xshm_wake_target_t *t, bool blocking, uint32_t timeout_ms,
                            void *data, uint32_t *size, uint64_t *from)
{
    shm_error_t e = try_locked(ops, ep, sync, data, size, from, blocking);
    if (e != SHM_ERROR_EMPTY)
        return e;
    if (!blocking) {
        e = ops->peer_state(ep, false);
        if (e == SHM_SUCCESS)
            return SHM_ERROR_EMPTY;
        shm_error_t last = try_locked(ops, ep, sync, data, size, from, false);
        return last == SHM_ERROR_EMPTY ? e : last;
    }
    e = wait_loop(ops, ep, sync, t, timeout_ms, data, size, from);
    xa_fetch_add32(&sync->waiting, (uint32_t)-1); /* our last access to ep */
    return e;
}

/* ---- zero-copy ------------------------------------------------------------------------ */

shm_error_t xshm_ep_reserve(ep_sync_t *e, shm_ring_t *tx, uint32_t size, void **ptr,
                            shm_error_t (*can_send)(void *ep), void *ep)
{
    if (!ptr || size == 0)
        return SHM_ERROR_INVALID_PARAM;
    bool fast = xshm_block_lock(&e->send_lock);
    shm_error_t err = SHM_ERROR_CLOSED;
    if (!ep_closing(e)) { /* the ring only then: see shm_server_send */
        if (size > tx->max_payload)
            err = SHM_ERROR_INVALID_PARAM;
        else if (xshm_ring_reserved(tx, NULL) != NULL)
            err = SHM_ERROR_BUSY;
        else if ((err = can_send(ep)) == SHM_SUCCESS)
            err = xshm_ring_reserve(tx, size, ptr);
    }
    xshm_block_unlock(&e->send_lock, fast);
    return err;
}

shm_error_t xshm_ep_finish(ep_sync_t *e, shm_ring_t *tx, void *ptr, uint32_t size, bool commit,
                           void (*wake)(void *ep, uint32_t slot), void *ep)
{
    bool fast = xshm_block_lock(&e->send_lock);
    shm_error_t err = SHM_ERROR_CLOSED;
    if (!ep_closing(e)) {
        void *open = xshm_ring_reserved(tx, NULL);
        err = SHM_ERROR_INVALID_PARAM;
        if (open != NULL && ptr == open) {
            if (!commit)
                err = xshm_ring_abort(tx);
            else if ((err = xshm_ring_commit(tx, size)) == SHM_SUCCESS)
                xshm_ev_notify(tx, wake, ep);
        }
    }
    xshm_block_unlock(&e->send_lock, fast);
    return err;
}

shm_error_t xshm_ep_release(ep_sync_t *e, xshm_ring_reader_t *rd, const shm_view_t *view,
                            xshm_listener_t *l)
{
    bool fast = xshm_block_lock(&e->recv_lock);
    shm_error_t err = SHM_ERROR_CLOSED;
    if (!ep_closing(e)) {
        err = rd ? xshm_ring_view_release(rd, view->internal[0]) : SHM_ERROR_INVALID_PARAM;
        if (err == SHM_ERROR_INVALID_SEGMENT)
            xshm_listener_push(l, SHM_EVENT_ERROR, NULL, err);
    }
    xshm_block_unlock(&e->recv_lock, fast);
    return err;
}
