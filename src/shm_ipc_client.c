/*
 * shm_ipc_client.c - the client: joining a channel (claiming a reader slot
 * of ring 0, with it its own ring and its addressed ring), sending,
 * receiving (broadcasts and addressed messages), reconnecting, and noticing
 * that the server closed, crashed or was replaced.
 */
#include "shm_ipc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* shm_client_connect retries this long while the channel is absent. */
#define CONNECT_RETRY_MS 500u

struct shm_client {
    xshm_segment_t seg;
    char base[PLAT_NAME_MAX];
    uint64_t generation;
    uint32_t slot;
    bool blocking;
    uint32_t timeout_ms;
    xshm_ring_reader_t rx;         /* ring 0: the server's broadcasts */
    xshm_ring_reader_t arx;        /* our addressed ring: messages for us alone */
    xshm_ring_reader_t *rx_ptr[2]; /* both, for the wake target */
    bool rx_attached;
    uint32_t epoch;                /* of our claim: our id's, our records' tag */
    uint32_t rr;                   /* which ring receive tries first (recv_lock) */
    shm_ring_t *tx;
    uint64_t tx_msgs0, tx_bytes0; /* ring counters when we connected */
    plat_wake_t server_wake;
    xshm_wake_target_t target;     /* word: our slot's wake_word */
    xshm_listener_t listener;
    ep_sync_t sync;
    shm_peer_info_t server_info;
    plat_proc_id_t server_id;
    uint32_t server_gone;         /* atomic, latched */
    uint32_t detached;            /* atomic: a reconnect failed, nothing held */
    shm_event_callback_t kept_cb; /* the callback while detached (the listener */
    void *kept_ud;                /* forgot it when it was stopped) */
    XA_ALIGN8 uint64_t last_poll_ns; /* atomic */
    uint32_t send_count;
    uint32_t poll_count;
};

/* The server closed, died, or was replaced by a new channel of that name. */
static bool client_server_gone(shm_client_t *c, bool check_process)
{
    if (xa_load32_acq(&c->server_gone))
        return true;
    xshm_seg_header_t *h = c->seg.hdr;
    bool gone = xa_load32_acq(&h->state) != SHM_SEG_READY ||
                xa_load64_relaxed(&h->generation) != c->generation ||
                (check_process && !xshm_plat_proc_alive(&c->server_id));
    if (gone && xa_xchg32(&c->server_gone, 1) == 0)
        xshm_listener_push(&c->listener, SHM_EVENT_DISCONNECT, &c->server_info, SHM_SUCCESS);
    return gone;
}

static void client_poll(void *arg)
{
    shm_client_t *c = (shm_client_t *)arg;
    xa_store64_relaxed(&c->last_poll_ns, xshm_plat_now_ns());
    client_server_gone(c, true);
}

static bool client_gone_now(shm_client_t *c)
{
    uint64_t now = xshm_plat_now_ns();
    bool due = now - xa_load64_relaxed(&c->last_poll_ns) >= PEER_POLL_NS;
    if (due)
        xa_store64_relaxed(&c->last_poll_ns, now);
    return client_server_gone(c, due);
}

/* False once a new channel was laid out in the memory we joined (Windows
 * reuses a segment in place while a client still holds it): our reader's
 * position and slot then belong to another channel's ring. */
static bool client_same_channel(shm_client_t *c)
{
    return xa_load64_acq(&c->seg.hdr->generation) == c->generation;
}

static bool client_pending(void *arg)
{
    shm_client_t *c = (shm_client_t *)arg;
    return client_same_channel(c) &&
           (xshm_ring_reader_pending(&c->rx) || xshm_ring_reader_pending(&c->arx));
}

static uint64_t client_data_mark(void *arg)
{
    shm_client_t *c = (shm_client_t *)arg;
    return xa_load64_acq(&c->rx.ring->hdr->tail) + xa_load64_acq(&c->arx.ring->hdr->tail);
}

static bool client_ready(void *arg)
{
    shm_client_t *c = (shm_client_t *)arg;
    return ep_closing(&c->sync) || client_pending(c) ||
           xa_load32_relaxed(&c->seg.hdr->state) != SHM_SEG_READY;
}

static void client_wake_server(void *arg, uint32_t slot)
{
    shm_client_t *c = (shm_client_t *)arg;
    (void)slot;
    xshm_ev_signal(&c->seg.hdr->server_wake, &c->server_wake);
}

static void client_free(shm_client_t *c)
{
    xshm_listener_fini(&c->listener);
    free(c);
}

static void client_finish(void *arg) { client_free((shm_client_t *)arg); }

static bool client_changed(void *arg)
{
    /* The server closed (or a new one replaced it) and we have not said so. */
    shm_client_t *c = (shm_client_t *)arg;
    return !xa_load32_acq(&c->server_gone) &&
           (xa_load32_acq(&c->seg.hdr->state) != SHM_SEG_READY || !client_same_channel(c));
}

static const xshm_listener_ops_t client_ops = {client_poll, client_pending, client_data_mark,
                                              client_finish, client_changed};

/* Between claiming slot `slot` of ring 0 and turning it ACTIVE: become the
 * reader of addressed ring `slot`, so that whatever the server addresses to
 * us once it sees us ACTIVE reaches us. Records on it for the slot's
 * previous holders carry their epoch, not ours: passed over. */
static shm_error_t client_take_addressed(void *arg, uint32_t slot, uint32_t epoch)
{
    shm_client_t *c = (shm_client_t *)arg;
    uint32_t readers = c->seg.rings[0].max_readers;
    xshm_ring_reader_take(&c->seg.rings[1 + readers + slot], &c->arx);
    c->arx.want_tag = epoch;
    c->epoch = epoch;
    return SHM_SUCCESS;
}

/* One attempt: open, check the channel and its server, claim a slot. */
static shm_error_t client_attach(shm_client_t *c)
{
    shm_error_t e = xshm_segment_open(&c->seg, c->base);
    if (e != SHM_SUCCESS)
        return e;
    /* The name is the server's: it goes with it (Windows: with the last
     * handle), so that a new server creates a new segment rather than lay
     * its channel out in the memory we still map. */
    xshm_plat_shm_drop_name(&c->seg.shm);
    xshm_seg_header_t *h = c->seg.hdr;
    uint32_t readers = xa_load32_relaxed(&h->max_readers);
    if (readers > SHM_MAX_READERS || c->seg.ring_count != SHM_CHANNEL_RINGS(readers)) {
        xshm_segment_close(&c->seg);
        return SHM_ERROR_INVALID_SEGMENT; /* a segment, but not a channel */
    }
    c->server_id.pid = xa_load32_relaxed(&h->creator_pid);
    c->server_id.start_time = xa_load64_relaxed(&h->creator_start);
    if (xa_load32_acq(&h->state) != SHM_SEG_READY || !xshm_plat_proc_alive(&c->server_id)) {
        xshm_segment_close(&c->seg);
        return SHM_ERROR_NOT_FOUND; /* left by a server that is gone */
    }
    e = xshm_ring_reader_attach_then(&c->seg.rings[0], &c->rx, client_take_addressed, c);
    if (e != SHM_SUCCESS) {
        xshm_segment_close(&c->seg);
        return e;
    }
    c->rx_attached = true;
    c->slot = c->rx.slot_index;
    c->generation = c->seg.generation;
    c->blocking = xa_load32_relaxed(&h->cfg_blocking) != 0;
    c->timeout_ms = xa_load32_relaxed(&h->cfg_timeout_ms);
    c->server_info.pid = c->server_id.pid;
    c->server_info.ptr_bits = xa_load32_relaxed(&h->creator_ptr_bits);
    return SHM_SUCCESS;
}

/* Give back what client_open took; the listener is stopped and no call is
 * inside the client. */
static void client_release(shm_client_t *c)
{
    /* Leave the slot only if the channel is still the one we joined: a new
     * server may have laid out a new channel in the same memory. */
    if (c->rx_attached && xa_load64_relaxed(&c->seg.hdr->generation) == c->generation) {
        xshm_ring_reader_detach(&c->arx); /* before the slot it goes with */
        xshm_ring_reader_detach(&c->rx);
        /* Let the server notice at once rather than at its next poll. */
        xa_fetch_add32(&c->seg.hdr->member_changes, 1); /* we left */
        client_wake_server(c, 0);                        /* it looks now */
    }
    c->rx_attached = false;
    xshm_plat_wake_close(&c->server_wake);
    xshm_plat_wake_close(&c->target.os);
    xshm_wake_target_fini(&c->target);
    xshm_segment_close(&c->seg);
}

/* Join the channel named c->base, retrying while it is absent. On failure
 * c holds nothing. */
static shm_error_t client_open(shm_client_t *c)
{
    shm_error_t err;
    uint64_t deadline = xshm_plat_now_ns() + (uint64_t)CONNECT_RETRY_MS * 1000000u;
    for (;;) {
        err = client_attach(c);
        if (err != SHM_ERROR_NOT_FOUND || xshm_plat_now_ns() >= deadline)
            break;
        xshm_plat_sleep_ms(5);
    }
    if (err != SHM_SUCCESS)
        return err;
    c->tx = &c->seg.rings[1 + c->slot];
    err = xshm_ring_writer_init(c->tx);
    c->tx->w_tag = c->epoch; /* the server attributes our messages by it */
    c->tx_msgs0 = xshm_ring_messages_written(c->tx);
    c->tx_bytes0 = xa_load64_relaxed(&c->tx->hdr->bytes_written);
    c->rx_ptr[0] = &c->rx;
    c->rx_ptr[1] = &c->arx;
    /* One wake word for both rings: the server wakes us through it for
     * either. */
    xshm_wake_target_init(&c->target, &c->rx.slot->wake_word, c->rx_ptr, 2);
    char wname[PLAT_NAME_MAX];
    if (err == SHM_SUCCESS)
        err = xshm_wake_name(wname, sizeof(wname), c->base, c->generation, "s", 0);
    if (err == SHM_SUCCESS)
        err = xshm_plat_wake_open(&c->server_wake, wname, false);
    if (err == SHM_SUCCESS)
        err = xshm_wake_name(wname, sizeof(wname), c->base, c->generation, "c", c->slot);
    if (err == SHM_SUCCESS)
        err = xshm_plat_wake_open(&c->target.os, wname, false);
    if (err != SHM_SUCCESS) {
        client_release(c);
        return err;
    }
    xa_store32_rel(&c->server_gone, 0);
    xa_store64_relaxed(&c->last_poll_ns, xshm_plat_now_ns());
    xa_fetch_add32(&c->seg.hdr->member_changes, 1); /* the server's listener */
    client_wake_server(c, 0);                        /* polls at once */
    return SHM_SUCCESS;
}

shm_client_t *shm_client_connect(const char *name)
{
    char base[PLAT_NAME_MAX];
    shm_error_t err = xshm_channel_os_name(name, base, sizeof(base), NULL);
    shm_client_t *c = (shm_client_t *)xshm_ep_alloc(sizeof(*c), err);
    if (!c)
        return NULL;
    snprintf(c->base, sizeof(c->base), "%s", base);
    xshm_listener_init(&c->listener, &client_ops, c, &c->target);
    err = client_open(c);
    if (err != SHM_SUCCESS) {
        client_free(c);
        xshm_set_error(err);
        return NULL;
    }
    xshm_set_error(SHM_SUCCESS);
    return c;
}

void shm_client_disconnect(shm_client_t *c)
{
    if (!c)
        return;
    bool own_thread = !xshm_listener_stop(&c->listener);
    xshm_ep_close(&c->sync, &c->target);
    if (!xa_load32_acq(&c->detached))
        client_release(c);
    if (!own_thread)
        client_free(c);
}

shm_error_t shm_client_reconnect(shm_client_t *c)
{
    if (!c)
        return ret(SHM_ERROR_INVALID_PARAM);
    shm_event_callback_t cb;
    void *ud;
    if (!xshm_listener_callback(&c->listener, &cb, &ud))
        return ret(SHM_ERROR_INVALID_PARAM); /* called from our own callback */
    if (xa_load32_acq(&c->detached)) {
        cb = c->kept_cb;
        ud = c->kept_ud;
    }
    xshm_listener_stop(&c->listener);
    xshm_ep_close(&c->sync, &c->target);
    if (!xa_load32_acq(&c->detached))
        client_release(c);
    memset(&c->sync, 0, sizeof(c->sync));
    shm_error_t err = client_open(c);
    if (err != SHM_SUCCESS) {
        /* Stay detached: calls fail with NOT_CONNECTED until a reconnect
         * succeeds. */
        c->kept_cb = cb;
        c->kept_ud = ud;
        xa_store32_rel(&c->detached, 1);
        xa_store32_rel(&c->sync.closing, 1);
        return ret(err);
    }
    xa_store32_rel(&c->detached, 0);
    if (cb)
        err = shm_client_register_callback(c, cb, ud);
    return ret(err);
}

/* Under send_lock: the server is there (SHM_ERROR_NOT_CONNECTED: gone).
 * Checks its process every 1024th call. */
static shm_error_t client_can_send(void *ep)
{
    shm_client_t *c = (shm_client_t *)ep;
    bool check = (++c->send_count & 1023u) == 0;
    return (check ? client_gone_now(c) : client_server_gone(c, false)) ? SHM_ERROR_NOT_CONNECTED
                                                                       : SHM_SUCCESS;
}

shm_error_t shm_client_send(shm_client_t *c, const void *data, uint32_t size)
{
    if (c && xa_load32_acq(&c->detached))
        return ret(SHM_ERROR_NOT_CONNECTED);
    if (!c || !data || size == 0)
        return ret(SHM_ERROR_INVALID_PARAM);
    bool fast = xshm_block_lock(&c->sync.send_lock);
    shm_error_t err = SHM_ERROR_CLOSED;
    if (!ep_closing(&c->sync)) { /* the ring only then: see shm_server_send */
        if (size > c->tx->max_payload)
            err = SHM_ERROR_INVALID_PARAM;
        else if ((err = client_can_send(c)) == SHM_SUCCESS) {
            err = xshm_ring_write(c->tx, data, size);
            if (err == SHM_SUCCESS)
                xshm_ev_notify(c->tx, client_wake_server, c);
        }
    }
    xshm_block_unlock(&c->sync.send_lock, fast);
    return ret(err);
}

/* One try over the broadcasts and our addressed messages, the ring tried
 * first alternating so that neither kind holds the other back: a copy into
 * data (*size bytes), or with `view` a view (internal[1]: which ring). */
static shm_error_t client_try(shm_client_t *c, void *data, uint32_t *size, shm_view_t *view)
{
    if (!client_same_channel(c))
        return SHM_ERROR_EMPTY; /* the caller then finds the server gone */
    if (c->rx.view_open || c->arx.view_open)
        return SHM_ERROR_BUSY; /* one view at a time, over both rings */
    uint32_t first = c->rr++ & 1u, which = 0;
    shm_error_t e = SHM_ERROR_EMPTY;
    for (uint32_t k = 0; k < 2 && e == SHM_ERROR_EMPTY; k++) {
        which = (first + k) & 1u;
        xshm_ring_reader_t *rd = c->rx_ptr[which];
        if (xshm_ring_reader_idle(rd))
            continue; /* nothing there, told by two loads (most receives: one ring is) */
        e = view ? xshm_ring_view(rd, &view->data, &view->size, &view->internal[0])
                 : xshm_ring_read(rd, data, size);
    }
    if (e == SHM_SUCCESS && !client_same_channel(c)) {
        if (view) /* not ours to hand out */
            xshm_ring_view_release(c->rx_ptr[which], view->internal[0]);
        return SHM_ERROR_EMPTY; /* laid out anew while we read */
    }
    if (e == SHM_ERROR_INVALID_SEGMENT)
        xshm_listener_push(&c->listener, SHM_EVENT_ERROR, NULL, e);
    if (view && e == SHM_SUCCESS) {
        view->reserved = 0;
        view->from = 0;
        view->internal[1] = which;
    }
    return e;
}

static shm_error_t client_try_receive(void *ep, void *data, uint32_t *size, uint64_t *from)
{
    (void)from;
    return client_try((shm_client_t *)ep, data, size, NULL);
}

static shm_error_t client_try_view(void *ep, void *view, uint32_t *size, uint64_t *from)
{
    (void)from;
    return client_try((shm_client_t *)ep, NULL, size, (shm_view_t *)view);
}

static shm_error_t client_peer_state(void *ep, bool waiting)
{
    shm_client_t *c = (shm_client_t *)ep;
    bool gone = (waiting || due_by_count(&c->poll_count)) ? client_gone_now(c)
                                                           : client_server_gone(c, false);
    return gone ? SHM_ERROR_NOT_CONNECTED : SHM_SUCCESS;
}

static const recv_ops_t client_recv_ops = {client_try_receive, client_peer_state, client_ready};
static const recv_ops_t client_view_ops = {client_try_view, client_peer_state, client_ready};

shm_error_t shm_client_receive(shm_client_t *c, void *data, uint32_t *size)
{
    if (!c || !size || (!data && *size != 0))
        return ret(SHM_ERROR_INVALID_PARAM);
    if (xa_load32_acq(&c->detached))
        return ret(SHM_ERROR_NOT_CONNECTED);
    return ret(xshm_ep_receive(&client_recv_ops, c, &c->sync, &c->target, c->blocking,
                               c->timeout_ms, data, size, NULL));
}

/* ---- zero-copy ------------------------------------------------------------------------ */

shm_error_t shm_client_reserve(shm_client_t *c, uint32_t size, void **ptr)
{
    if (c && xa_load32_acq(&c->detached))
        return ret(SHM_ERROR_NOT_CONNECTED);
    if (!c)
        return ret(SHM_ERROR_INVALID_PARAM);
    return ret(xshm_ep_reserve(&c->sync, c->tx, size, ptr, client_can_send, c));
}

/* Commit or abort (shm_client_commit, shm_client_abort). */
static shm_error_t client_end_reserve(shm_client_t *c, void *ptr, uint32_t size, bool commit)
{
    if (c && xa_load32_acq(&c->detached))
        return ret(SHM_ERROR_NOT_CONNECTED);
    if (!c)
        return ret(SHM_ERROR_INVALID_PARAM);
    return ret(xshm_ep_finish(&c->sync, c->tx, ptr, size, commit, client_wake_server, c));
}

shm_error_t shm_client_commit(shm_client_t *c, void *ptr, uint32_t size)
{
    return client_end_reserve(c, ptr, size, true);
}

shm_error_t shm_client_abort(shm_client_t *c, void *ptr)
{
    return client_end_reserve(c, ptr, 0, false);
}

shm_error_t shm_client_receive_view(shm_client_t *c, shm_view_t *view)
{
    if (!c || !view)
        return ret(SHM_ERROR_INVALID_PARAM);
    if (xa_load32_acq(&c->detached))
        return ret(SHM_ERROR_NOT_CONNECTED);
    uint32_t unused = 0;
    return ret(xshm_ep_receive(&client_view_ops, c, &c->sync, &c->target, c->blocking,
                               c->timeout_ms, view, &unused, NULL));
}

shm_error_t shm_client_release(shm_client_t *c, shm_view_t *view)
{
    if (c && xa_load32_acq(&c->detached))
        return ret(SHM_ERROR_NOT_CONNECTED);
    if (!c || !view)
        return ret(SHM_ERROR_INVALID_PARAM);
    xshm_ring_reader_t *rd = view->internal[1] < 2 ? c->rx_ptr[view->internal[1]] : NULL;
    return ret(xshm_ep_release(&c->sync, rd, view, &c->listener));
}

shm_error_t shm_client_register_callback(shm_client_t *c, shm_event_callback_t cb, void *ud)
{
    if (!c || !cb)
        return ret(SHM_ERROR_INVALID_PARAM);
    if (xa_load32_acq(&c->detached)) /* before `closing`, which it sets too */
        return ret(SHM_ERROR_NOT_CONNECTED);
    if (ep_closing(&c->sync))
        return ret(SHM_ERROR_CLOSED);
    bool was_active = xshm_listener_active(&c->listener);
    shm_error_t err = xshm_listener_start(&c->listener, cb, ud);
    if (err == SHM_SUCCESS && !was_active && !client_server_gone(c, true))
        xshm_listener_push(&c->listener, SHM_EVENT_CONNECT, &c->server_info, SHM_SUCCESS);
    return ret(err);
}

shm_error_t shm_client_get_stats(shm_client_t *c, shm_stats_t *st)
{
    if (!c || !st)
        return ret(SHM_ERROR_INVALID_PARAM);
    if (xa_load32_acq(&c->detached))
        return ret(SHM_ERROR_NOT_CONNECTED);
    if (ep_closing(&c->sync))
        return ret(SHM_ERROR_CLOSED);
    memset(st, 0, sizeof(*st));
    st->messages_sent = xshm_ring_messages_written(c->tx) - c->tx_msgs0;
    st->bytes_sent = xa_load64_relaxed(&c->tx->hdr->bytes_written) - c->tx_bytes0;
    for (int k = 0; k < 2; k++) { /* broadcasts and addressed messages */
        xshm_reader_counts_t n;
        xshm_ring_reader_counts(c->rx_ptr[k], &n);
        st->messages_received += n.received;
        st->bytes_received += n.bytes;
        st->messages_lost += n.lost;
    }
    st->connected = client_gone_now(c) ? 0u : 1u;
    return SHM_SUCCESS;
}

shm_ring_t *shm_client_tx_ring(shm_client_t *c)
{
    xshm_set_error(c ? SHM_SUCCESS : SHM_ERROR_INVALID_PARAM);
    return c ? c->tx : NULL;
}
