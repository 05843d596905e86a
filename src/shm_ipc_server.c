/*
 * shm_ipc_server.c - the server: creating and destroying a channel, sending
 * to every client or to one, receiving from each (and telling which), and
 * finding clients that connect, disconnect or crash (slots of ring 0, see
 * shm_ipc_internal.h).
 */
#include "shm_ipc_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ipc_hooks.h"

static shm_error_t check_config(const shm_ring_config_t *c)
{
    if (c->size < SHM_MIN_RING_SIZE || c->size > SHM_MAX_RING_SIZE || (c->size & (c->size - 1)))
        return SHM_ERROR_INVALID_PARAM;
    if (c->max_readers < 1 || c->max_readers > SHM_MAX_READERS)
        return SHM_ERROR_INVALID_PARAM;
    return SHM_SUCCESS;
}

/* The owner of slot `slot` of ring r as its claim word `claim` names it. */
static void peer_from_slot(const shm_ring_t *r, uint32_t slot, uint64_t claim,
                           shm_peer_info_t *p, plat_proc_id_t *id)
{
    const xshm_reader_slot_t *s = &r->slots[slot];
    memset(p, 0, sizeof(*p));
    p->pid = SHM_CLAIM_PID(claim);
    p->ptr_bits = xa_load32_relaxed(&s->ptr_bits);
    p->slot = slot;
    p->client_id = CLIENT_ID(SHM_CLAIM_EPOCH(claim), slot);
    id->pid = p->pid;
    id->start_time = xa_load64_relaxed(&s->start_time);
}

/* Who an addressed ring's wake-up is for. */
typedef struct addr_wake {
    shm_server_t *server;
    uint32_t slot;
} addr_wake_t;

typedef struct known_peer {
    bool connected;
    uint64_t word; /* slot claim word when it connected */
    uint64_t seen; /* slot claim word at the last poll */
    shm_peer_info_t info;
} known_peer_t;

struct shm_server {
    xshm_segment_t seg;
    plat_lock_t lock;     /* ownership of the channel's name, while we live */
    char seg_name[PLAT_NAME_MAX];
    char base[PLAT_NAME_MAX];
    bool blocking;
    uint32_t timeout_ms;
    uint32_t max_readers;
    shm_ring_t *tx;
    shm_ring_t *addr[SHM_MAX_READERS]; /* addressed rings: server -> client i */
    addr_wake_t addr_wake[SHM_MAX_READERS];
    xshm_ring_reader_t rx[SHM_MAX_READERS];
    xshm_ring_reader_t *rx_ptr[SHM_MAX_READERS];
    plat_wake_t client_wake[SHM_MAX_READERS];
    xshm_wake_target_t target; /* word: segment server_wake */
    xshm_listener_t listener;
    ep_sync_t sync;
    plat_mutex_t peer_lock;
    known_peer_t known[SHM_MAX_READERS];
    XA_ALIGN8 uint64_t last_poll_ns; /* atomic */
    uint32_t members_seen; /* segment member_changes at the last poll */
    uint32_t send_members; /* under send_lock: member_changes when send_active was counted */
    uint32_t send_active;  /* under send_lock: ACTIVE slots of ring 0 then */
    bool send_counted;     /* under send_lock: send_active was counted */
    uint32_t send_count;   /* for rate-limiting peer polls */
    uint32_t poll_count;
    uint32_t rr;           /* round-robin start for receive (under recv_lock) */
    uint32_t viewing;      /* 1 + the ring of the last view (under recv_lock) */
    uint32_t test_wake_only; /* atomic: xshm_server_test_wake_only() */
    uint32_t test_wake_seen; /* server_wake when the listener last looked */
};

/* Free slot i of ring 0, whose claim `word` names a process that is gone,
 * and the reader slot of its addressed ring if that process holds it: that
 * one first, while no new client of slot i can have taken it over. */
static bool server_reclaim(shm_server_t *s, uint32_t i, uint64_t word)
{
    uint64_t aw = xshm_ring_slot_claim(s->addr[i], 0);
    if (SHM_CLAIM_STATE(aw) != SHM_SLOT_FREE && SHM_CLAIM_PID(aw) == SHM_CLAIM_PID(word))
        xshm_ring_slot_reclaim(s->addr[i], 0, aw);
    return xshm_ring_slot_reclaim(s->tx, i, word);
}

/* Find connects, disconnects and dead clients; queue their events. */
static void server_poll(void *arg)
{
    shm_server_t *s = (shm_server_t *)arg;
    xa_store64_relaxed(&s->last_poll_ns, xshm_plat_now_ns());
    xa_store32_relaxed(&s->members_seen, xa_load32_acq(&s->seg.hdr->member_changes));
    xshm_plat_mutex_lock(&s->peer_lock);
    for (uint32_t i = 0; i < s->max_readers; i++) {
        known_peer_t *k = &s->known[i];
        uint64_t word = xshm_ring_slot_claim(s->tx, i);
        if (SHM_CLAIM_STATE(word) == SHM_SLOT_CLAIMING) {
            /* A client is filling in the slot: look again at the next poll.
             * Its pid is part of the claim: one that died doing so is freed,
             * a live one keeps the slot however long it takes. */
            plat_proc_id_t claimer = {SHM_CLAIM_PID(word), 0};
            if (!xshm_plat_proc_alive(&claimer) && server_reclaim(s, i, word)) {
                k->seen = xshm_ring_slot_claim(s->tx, i); /* it never connected */
                xa_fetch_add32(&s->seg.hdr->member_changes, 1); /* for server_has_clients */
            }
            continue;
        }
        bool active = SHM_CLAIM_STATE(word) == SHM_SLOT_ACTIVE;
        shm_peer_info_t info;
        plat_proc_id_t id;
        if (active) {
            peer_from_slot(s->tx, i, word, &info, &id);
            if (!xshm_plat_proc_alive(&id)) {
                /* Crashed without disconnecting: free its slot. */
                if (server_reclaim(s, i, word))
                    xa_fetch_add32(&s->seg.hdr->member_changes, 1); /* for server_has_clients */
                active = false;
            }
        }
        if (k->connected && (!active || k->word != word)) {
            k->connected = false;
            xshm_listener_push(&s->listener, SHM_EVENT_DISCONNECT, &k->info, SHM_SUCCESS);
        } else if (!k->connected && !active &&
                   SHM_CLAIM_EPOCH(word) != SHM_CLAIM_EPOCH(k->seen)) {
            /* A client came and went between two polls: its identity stays
             * in the slot after it leaves. */
            peer_from_slot(s->tx, i, word, &info, &id);
            xshm_listener_push(&s->listener, SHM_EVENT_CONNECT, &info, SHM_SUCCESS);
            xshm_listener_push(&s->listener, SHM_EVENT_DISCONNECT, &info, SHM_SUCCESS);
        }
        if (active && !k->connected) {
            k->connected = true;
            k->word = word;
            k->info = info;
            xshm_listener_push(&s->listener, SHM_EVENT_CONNECT, &k->info, SHM_SUCCESS);
        }
        k->seen = word;
    }
    xshm_plat_mutex_unlock(&s->peer_lock);
}

static void server_poll_if_due(shm_server_t *s)
{
    uint64_t now = xshm_plat_now_ns();
    if (now - xa_load64_relaxed(&s->last_poll_ns) >= PEER_POLL_NS)
        server_poll(s);
}

static bool server_pending(void *arg)
{
    shm_server_t *s = (shm_server_t *)arg;
    for (uint32_t i = 0; i < s->max_readers; i++)
        if (xshm_ring_reader_pending(&s->rx[i]))
            return true;
    return false;
}

static uint64_t server_data_mark(void *arg)
{
    shm_server_t *s = (shm_server_t *)arg;
    uint64_t m = 0;
    for (uint32_t i = 0; i < s->max_readers; i++)
        m += xa_load64_acq(&s->seg.rings[1 + i].hdr->tail);
    return m;
}

static bool server_ready(void *arg)
{
    shm_server_t *s = (shm_server_t *)arg;
    return ep_closing(&s->sync) || server_pending(s);
}

static void server_wake_client(void *arg, uint32_t slot)
{
    shm_server_t *s = (shm_server_t *)arg;
    xshm_ev_signal(&s->tx->slots[slot].wake_word, &s->client_wake[slot]);
}

static void server_wake_addressed(void *arg, uint32_t slot)
{
    addr_wake_t *w = (addr_wake_t *)arg;
    (void)slot; /* an addressed ring's only slot: client w->slot's */
    server_wake_client(w->server, w->slot);
}

static void server_free(shm_server_t *s);

static void server_finish(void *arg) { server_free((shm_server_t *)arg); }

static bool server_changed(void *arg)
{
    shm_server_t *s = (shm_server_t *)arg;
    return xa_load32_acq(&s->seg.hdr->member_changes) != xa_load32_relaxed(&s->members_seen);
}

/* The listener's check: server_poll, unless a test asked it to act only on
 * changes it was woken for (shm_ipc_hooks.h). */
static void server_listener_poll(void *arg)
{
    shm_server_t *s = (shm_server_t *)arg;
    if (xa_load32_acq(&s->test_wake_only)) {
        /* The wake word first: a client bumps member_changes, then it. */
        uint32_t w = xa_load32_acq(&s->seg.hdr->server_wake);
        if (!server_changed(s)) {
            s->test_wake_seen = w; /* wakes for nothing are spent */
            return;
        }
        if (w == s->test_wake_seen) {
            /* A change without its wake, so far: it comes right after the
             * change, or (a client that does not wake us) never. */
            xshm_plat_sleep_ms(1);
            return;
        }
        s->test_wake_seen = w;
    }
    server_poll(s);
}

void xshm_server_test_wake_only(shm_server_t *s, bool on)
{
    if (s)
        xa_store32_rel(&s->test_wake_only, on ? 1u : 0u);
}

static const xshm_listener_ops_t server_ops = {server_listener_poll, server_pending,
                                              server_data_mark, server_finish, server_changed};

static void server_free(shm_server_t *s)
{
    xshm_listener_fini(&s->listener);
    xshm_wake_target_fini(&s->target);
    xshm_plat_mutex_destroy(&s->peer_lock);
    free(s);
}

static shm_server_t *server_create(const char *name, const shm_ring_config_t *config)
{
    shm_ring_config_t cfg = config ? *config : SHM_DEFAULT_CONFIG();
    char base[PLAT_NAME_MAX];
    shm_error_t err = xshm_channel_os_name(name, base, sizeof(base), NULL);
    if (err == SHM_SUCCESS)
        err = check_config(&cfg);
    shm_server_t *s = (shm_server_t *)xshm_ep_alloc(sizeof(*s), err);
    if (!s)
        return NULL;
    snprintf(s->base, sizeof(s->base), "%s", base);
    snprintf(s->seg_name, sizeof(s->seg_name), "%s", base);
    s->blocking = cfg.blocking;
    s->timeout_ms = cfg.timeout_ms;
    s->max_readers = cfg.max_readers;

    xshm_seg_params_t p = {SHM_CHANNEL_RINGS(cfg.max_readers), cfg.size, cfg.max_readers,
                          cfg.blocking, cfg.timeout_ms, SHM_ADDRESSED_CAPACITY(cfg.size)};
    /* The name lock first: a live server holds it (EXISTS); once we have it,
     * nobody else creates, replaces or removes this channel until we let go. */
    err = xshm_plat_lock_take(&s->lock, s->seg_name);
    if (err == SHM_SUCCESS) {
        err = xshm_channel_create(&s->seg, s->seg_name, &p);
        if (err != SHM_SUCCESS)
            xshm_plat_lock_release(&s->lock);
    }
    if (err != SHM_SUCCESS) {
        free(s);
        xshm_set_error(err);
        return NULL;
    }
    s->tx = &s->seg.rings[0];
    uint64_t gen = s->seg.generation;
    char wname[PLAT_NAME_MAX];
    err = xshm_ring_writer_init(s->tx);
    for (uint32_t i = 0; i < cfg.max_readers; i++) {
        s->addr[i] = &s->seg.rings[1 + cfg.max_readers + i];
        s->addr_wake[i].server = s;
        s->addr_wake[i].slot = i;
    }
    for (uint32_t i = 0; err == SHM_SUCCESS && i < cfg.max_readers; i++) {
        err = xshm_ring_reader_attach(&s->seg.rings[1 + i], &s->rx[i]);
        s->rx_ptr[i] = &s->rx[i];
        if (err == SHM_SUCCESS)
            err = xshm_ring_writer_init(s->addr[i]);
        if (err == SHM_SUCCESS)
            err = xshm_wake_name(wname, sizeof(wname), base, gen, "c", i);
        if (err == SHM_SUCCESS)
            err = xshm_plat_wake_open(&s->client_wake[i], wname, true);
    }
    xshm_wake_target_init(&s->target, &s->seg.hdr->server_wake, s->rx_ptr, cfg.max_readers);
    if (err == SHM_SUCCESS)
        err = xshm_wake_name(wname, sizeof(wname), base, gen, "s", 0);
    if (err == SHM_SUCCESS)
        err = xshm_plat_wake_open(&s->target.os, wname, true);
    xshm_plat_mutex_init(&s->peer_lock);
    xshm_listener_init(&s->listener, &server_ops, s, &s->target);
    if (err != SHM_SUCCESS) {
        shm_server_destroy(s);
        xshm_set_error(err);
        return NULL;
    }
    /* Only now may clients join: our readers of their rings exist (a client
     * sending earlier would have written below their starting cursor) and
     * so do the wake-up objects they open. */
    xshm_segment_publish(&s->seg);
    xshm_set_error(SHM_SUCCESS);
    return s;
}

shm_server_t *shm_server_create_with_security(const char *name, const shm_ring_config_t *config,
                                              const char *sddl)
{
    /* Parsed before anything is created: a bad one leaves no object. */
    shm_error_t err = xshm_plat_create_security(sddl);
    if (err != SHM_SUCCESS) {
        xshm_set_error(err);
        return NULL;
    }
    shm_server_t *s = server_create(name, config);
    if (sddl != NULL)
        (void)xshm_plat_create_security(NULL); /* never fails; last error kept */
    return s;
}

shm_server_t *shm_server_create(const char *name, const shm_ring_config_t *config)
{
    return shm_server_create_with_security(name, config, NULL);
}

void shm_server_destroy(shm_server_t *s)
{
    if (!s)
        return;
    bool own_thread = !xshm_listener_stop(&s->listener);
    xshm_seg_header_t *h = s->seg.hdr;
    if (h) {
        /* Tell clients, and wake those asleep in receive. */
        xa_store32_rel(&h->state, SHM_SEG_CLOSED);
        xa_fence_seq_cst();
        for (uint32_t i = 0; i < s->max_readers; i++)
            server_wake_client(s, i);
    }
    xshm_ep_close(&s->sync, &s->target);
    for (uint32_t i = 0; i < s->max_readers; i++) {
        xshm_ring_reader_detach(&s->rx[i]);
        xshm_plat_wake_close(&s->client_wake[i]);
    }
    xshm_plat_wake_close(&s->target.os);
    xshm_segment_close(&s->seg);
    /* The name is still ours (we hold its lock): remove it, then let go. */
    xshm_plat_shm_unlink(s->seg_name);
    xshm_plat_lock_release(&s->lock);
    if (!own_thread)
        server_free(s);
    /* else: the listener frees s when the callback returns */
}

/* Sends look for dead clients now and then (every 1024th, when due). */
static void send_poll(shm_server_t *s)
{
    if ((++s->send_count & 1023u) == 0)
        server_poll_if_due(s);
}

/*
 * True when a slot of ring 0 is ACTIVE: a client is there to receive. Under
 * send_lock. The slots are counted again only when the segment's
 * member_changes has moved since the last count, so a send loads one word
 * of a line that changes when clients come and go, not a line per slot.
 * Every change of a slot's state to or from ACTIVE is followed by a bump of
 * member_changes: a client's, after its claim and after its detach
 * (shm_ipc_client.c), the server's after it reclaims the slot of a client
 * that died (server_poll). A send that loads the new value (acquire) counts
 * the slots as that change left them.
 */
static bool server_has_clients(shm_server_t *s)
{
    uint32_t changes = xa_load32_acq(&s->seg.hdr->member_changes);
    if (!s->send_counted || changes != s->send_members) {
        s->send_active = xshm_ring_active_readers(s->tx);
        s->send_members = changes;
        s->send_counted = true;
    }
    return s->send_active > 0;
}

/* Under send_lock: a client to send to (SHM_ERROR_NOT_CONNECTED: none).
 * Looks for clients that came or went every 1024th call. */
static shm_error_t server_can_send(void *ep)
{
    shm_server_t *s = (shm_server_t *)ep;
    send_poll(s);
    return server_has_clients(s) ? SHM_SUCCESS : SHM_ERROR_NOT_CONNECTED;
}

shm_error_t shm_server_send(shm_server_t *s, const void *data, uint32_t size)
{
    if (!s || !data || size == 0)
        return ret(SHM_ERROR_INVALID_PARAM);
    bool fast = xshm_block_lock(&s->sync.send_lock);
    shm_error_t err = SHM_ERROR_CLOSED;
    /* The ring only under the lock and not closing: destroy drains the lock
     * before it lets go of the segment. */
    if (!ep_closing(&s->sync)) {
        if (size > s->tx->max_payload)
            err = SHM_ERROR_INVALID_PARAM;
        else if ((err = server_can_send(s)) == SHM_SUCCESS) {
            err = xshm_ring_write(s->tx, data, size);
            if (err == SHM_SUCCESS)
                xshm_ev_notify(s->tx, server_wake_client, s);
        }
    }
    xshm_block_unlock(&s->sync.send_lock, fast);
    return ret(err);
}

shm_error_t shm_server_send_to(shm_server_t *s, shm_client_id_t client, const void *data,
                               uint32_t size)
{
    uint32_t slot = CLIENT_ID_SLOT(client), epoch = CLIENT_ID_EPOCH(client);
    if (!s || !data || size == 0 || slot >= s->max_readers || epoch == 0 ||
        (client >> 8) > SHM_REC_TAG_MASK)
        return ret(SHM_ERROR_INVALID_PARAM);
    bool quick = xshm_block_lock(&s->sync.send_lock);
    shm_error_t err = SHM_ERROR_CLOSED;
    if (!ep_closing(&s->sync)) { /* the ring only then: see shm_server_send */
        send_poll(s);
        shm_ring_t *r = s->addr[slot];
        uint64_t word = xshm_ring_slot_claim(s->tx, slot);
        err = SHM_ERROR_NOT_CONNECTED;
        if (size > r->max_payload) {
            err = SHM_ERROR_INVALID_PARAM;
        } else if (SHM_CLAIM_STATE(word) == SHM_SLOT_ACTIVE && SHM_CLAIM_EPOCH(word) == epoch) {
            /* The client may leave, and another take its slot, before the
             * record is published: the tag makes the newcomer's reader pass
             * it over (want_tag), so it reaches nobody but `client`. */
            r->w_tag = epoch;
            err = xshm_ring_write(r, data, size);
            if (err == SHM_SUCCESS)
                xshm_ev_notify(r, server_wake_addressed, &s->addr_wake[slot]);
        }
    }
    xshm_block_unlock(&s->sync.send_lock, quick);
    return ret(err);
}

/* One pass over the client rings, starting at a rotating index: a copy
 * into data (*size bytes), or with `view` a view. `from` (may be NULL) and
 * the view's `from`: the sender's id, from the record's tag (its writer's
 * epoch), never from whoever holds the slot now. */
static shm_error_t server_try_receive(shm_server_t *s, void *data, uint32_t *size,
                                      uint64_t *from, shm_view_t *view)
{
    if (s->viewing && s->rx[s->viewing - 1].view_open)
        return SHM_ERROR_BUSY; /* one view at a time */
    uint32_t n = s->max_readers;
    uint32_t start = s->rr++; /* under recv_lock */
    for (uint32_t k = 0; k < n; k++) {
        uint32_t i = (start + k) % n;
        xshm_ring_reader_t *rd = &s->rx[i];
        uint32_t sz = *size; /* an empty ring answers EMPTY as cheaply as a check */
        shm_error_t e = view ? xshm_ring_view(rd, &view->data, &view->size, &view->internal[0])
                             : xshm_ring_read(rd, data, &sz);
        if (e == SHM_ERROR_EMPTY)
            continue;
        if (e == SHM_ERROR_INVALID_SEGMENT)
            xshm_listener_push(&s->listener, SHM_EVENT_ERROR, NULL, e);
        if (view && e == SHM_SUCCESS) {
            view->reserved = 0;
            view->from = CLIENT_ID(rd->last_tag, i);
            view->internal[1] = 1u + i;
            s->viewing = 1u + i;
        } else if (!view && (e == SHM_SUCCESS || e == SHM_ERROR_BUFFER_TOO_SMALL)) {
            *size = sz;
        }
        if (e == SHM_SUCCESS && from)
            *from = CLIENT_ID(rd->last_tag, i); /* its writer's epoch */
        return e;
    }
    return SHM_ERROR_EMPTY;
}

static shm_error_t server_try_receive_v(void *ep, void *data, uint32_t *size, uint64_t *from)
{
    return server_try_receive((shm_server_t *)ep, data, size, from, NULL);
}

static shm_error_t server_try_view_v(void *ep, void *view, uint32_t *size, uint64_t *from)
{
    return server_try_receive((shm_server_t *)ep, NULL, size, from, (shm_view_t *)view);
}

static shm_error_t server_peer_state(void *ep, bool waiting)
{
    shm_server_t *s = (shm_server_t *)ep;
    if (waiting || due_by_count(&s->poll_count))
        server_poll_if_due(s); /* clients come and go; keep waiting */
    return SHM_SUCCESS;
}

static const recv_ops_t server_recv_ops = {server_try_receive_v, server_peer_state, server_ready};
static const recv_ops_t server_view_ops = {server_try_view_v, server_peer_state, server_ready};

shm_error_t shm_server_receive(shm_server_t *s, void *data, uint32_t *size)
{
    if (!s || !size || (!data && *size != 0))
        return ret(SHM_ERROR_INVALID_PARAM);
    return ret(xshm_ep_receive(&server_recv_ops, s, &s->sync, &s->target, s->blocking,
                               s->timeout_ms, data, size, NULL));
}

shm_error_t shm_server_receive_from(shm_server_t *s, void *data, uint32_t *size,
                                    shm_client_id_t *from)
{
    if (!s || !size || (!data && *size != 0) || !from)
        return ret(SHM_ERROR_INVALID_PARAM);
    return ret(xshm_ep_receive(&server_recv_ops, s, &s->sync, &s->target, s->blocking,
                               s->timeout_ms, data, size, from));
}

/* ---- zero-copy ------------------------------------------------------------------------ */

shm_error_t shm_server_reserve(shm_server_t *s, uint32_t size, void **ptr)
{
    if (!s)
        return ret(SHM_ERROR_INVALID_PARAM);
    return ret(xshm_ep_reserve(&s->sync, s->tx, size, ptr, server_can_send, s));
}

shm_error_t shm_server_commit(shm_server_t *s, void *ptr, uint32_t size)
{
    if (!s)
        return ret(SHM_ERROR_INVALID_PARAM);
    return ret(xshm_ep_finish(&s->sync, s->tx, ptr, size, true, server_wake_client, s));
}

shm_error_t shm_server_abort(shm_server_t *s, void *ptr)
{
    if (!s)
        return ret(SHM_ERROR_INVALID_PARAM);
    return ret(xshm_ep_finish(&s->sync, s->tx, ptr, 0, false, server_wake_client, s));
}

shm_error_t shm_server_receive_view(shm_server_t *s, shm_view_t *view)
{
    if (!s || !view)
        return ret(SHM_ERROR_INVALID_PARAM);
    uint32_t unused = 0;
    return ret(xshm_ep_receive(&server_view_ops, s, &s->sync, &s->target, s->blocking,
                               s->timeout_ms, view, &unused, NULL));
}

shm_error_t shm_server_release(shm_server_t *s, shm_view_t *view)
{
    if (!s || !view)
        return ret(SHM_ERROR_INVALID_PARAM);
    uint64_t ring = view->internal[1];
    xshm_ring_reader_t *rd = ring >= 1 && ring <= s->max_readers ? &s->rx[ring - 1] : NULL;
    return ret(xshm_ep_release(&s->sync, rd, view, &s->listener));
}

shm_error_t shm_server_register_callback(shm_server_t *s, shm_event_callback_t cb, void *ud)
{
    if (!s || !cb)
        return ret(SHM_ERROR_INVALID_PARAM);
    if (ep_closing(&s->sync))
        return ret(SHM_ERROR_CLOSED);
    server_poll(s);
    /* Under peer_lock: clients already known get CONNECT from here, later
     * ones from the poll, none twice. */
    xshm_plat_mutex_lock(&s->peer_lock);
    bool was_active = xshm_listener_active(&s->listener);
    shm_error_t err = xshm_listener_start(&s->listener, cb, ud);
    if (err == SHM_SUCCESS && !was_active)
        for (uint32_t i = 0; i < s->max_readers; i++)
            if (s->known[i].connected)
                xshm_listener_push(&s->listener, SHM_EVENT_CONNECT, &s->known[i].info, SHM_SUCCESS);
    xshm_plat_mutex_unlock(&s->peer_lock);
    return ret(err);
}

shm_error_t shm_server_get_stats(shm_server_t *s, shm_stats_t *st)
{
    if (!s || !st)
        return ret(SHM_ERROR_INVALID_PARAM);
    if (ep_closing(&s->sync))
        return ret(SHM_ERROR_CLOSED);
    server_poll_if_due(s);
    memset(st, 0, sizeof(*st));
    st->messages_sent = xshm_ring_messages_written(s->tx);
    st->bytes_sent = xa_load64_relaxed(&s->tx->hdr->bytes_written);
    for (uint32_t i = 0; i < s->max_readers; i++) {
        st->messages_sent += xshm_ring_messages_written(s->addr[i]);
        st->bytes_sent += xa_load64_relaxed(&s->addr[i]->hdr->bytes_written);
        xshm_reader_counts_t n;
        xshm_ring_reader_counts(&s->rx[i], &n);
        st->messages_received += n.received;
        st->bytes_received += n.bytes;
        st->messages_lost += n.lost;
    }
    st->connected = xshm_ring_active_readers(s->tx);
    return SHM_SUCCESS;
}

shm_ring_t *shm_server_tx_ring(shm_server_t *s)
{
    xshm_set_error(s ? SHM_SUCCESS : SHM_ERROR_INVALID_PARAM);
    return s ? s->tx : NULL;
}
