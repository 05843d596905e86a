/*
 * shm_ipc.c - server and client.
 *
 * A channel is one segment: ring 0 carries server -> clients (each client
 * reads it through its own slot), ring 1 + i carries client i -> server.
 * The server notices clients through the slots of ring 0: an ACTIVE slot
 * whose process is alive is a connected client; a slot whose process died is
 * reclaimed. A client notices the server going away through the segment
 * state (graceful close), the creator's identity (crash) and the generation
 * number (the channel was created anew).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "shm_common.h"
#include "shm_events.h"
#include "shm_ipc_hooks.h"
#include "shm_ringbuffer.h"

/* How often send/receive look for crashed peers when no listener does. */
#define PEER_POLL_NS (50u * 1000000u)
/* A blocked receive re-checks its peer this often. */
#define WAIT_SLICE_MS 50u
/* shm_client_connect retries this long while the channel is absent. */
#define CONNECT_RETRY_MS 500u

/* ---- names ------------------------------------------------------------------------ */

/* Wake-up object names carry the generation, so that objects of an older
 * server with the same name are never confused with ours. '@' cannot occur
 * in a channel name: no other channel's objects can have these names. */
static shm_error_t wake_name(char *out, size_t n, const char *base, uint64_t gen,
                             const char *what, uint32_t index)
{
    int w = snprintf(out, n, "%s@%08x%08x.%s%u", base, (unsigned)(gen >> 32), (unsigned)gen,
                     what, (unsigned)index);
    return (w > 0 && (size_t)w < n) ? SHM_SUCCESS : SHM_ERROR_INVALID_PARAM;
}

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
    const shm_reader_slot_t *s = &r->slots[slot];
    memset(p, 0, sizeof(*p));
    p->pid = SHM_CLAIM_PID(claim);
    p->ptr_bits = xa_load32_relaxed(&s->ptr_bits);
    p->slot = slot;
    id->pid = p->pid;
    id->start_time = xa_load64_relaxed(&s->start_time);
}

/* Public functions returning shm_error_t leave failures in shm_last_error(). */
static shm_error_t ret(shm_error_t e) { return e == SHM_SUCCESS ? e : xshm_set_error(e); }

/* ---- concurrency of calls on one endpoint ------------------------------------------ */

/*
 * Sends of one endpoint are serialised by send_lock, receives by recv_lock
 * (biased locks: a single sending or receiving thread pays no atomic
 * instruction per message). Destroy marks the endpoint closing, drains both
 * locks (after which every call sees `closing`), wakes the receives that
 * wait and waits until none is left: a receive registers in `waiting` while
 * still holding recv_lock, and leaving it is its last access to the
 * endpoint.
 */
typedef struct ep_sync {
    uint32_t closing; /* atomic */
    uint32_t waiting; /* atomic: receives between their tries */
    shm_block_t send_lock;
    shm_block_t recv_lock;
} ep_sync_t;

static bool ep_closing(ep_sync_t *e) { return xa_load32_acq(&e->closing) != 0; }

/* True every 256th call: rate-limits checks that read the clock on paths
 * that may be polled in a tight loop. Racy increments only skew the rate. */
static bool due_by_count(uint32_t *counter)
{
    uint32_t n = xa_load32_relaxed(counter) + 1;
    xa_store32_relaxed(counter, n);
    return (n & 255u) == 0;
}

static void ep_close(ep_sync_t *e, shm_wake_target_t *t)
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

/* ---- server --------------------------------------------------------------------------- */

typedef struct known_peer {
    bool connected;
    uint64_t word; /* slot claim word when it connected */
    uint64_t seen; /* slot claim word at the last poll */
    shm_peer_info_t info;
} known_peer_t;

struct shm_server {
    shm_segment_t seg;
    plat_lock_t lock;     /* ownership of the channel's name, while we live */
    char seg_name[PLAT_NAME_MAX];
    char base[PLAT_NAME_MAX];
    bool blocking;
    uint32_t timeout_ms;
    uint32_t max_readers;
    shm_ring_t *tx;
    shm_ring_reader_t rx[SHM_MAX_READERS];
    shm_ring_reader_t *rx_ptr[SHM_MAX_READERS];
    plat_wake_t client_wake[SHM_MAX_READERS];
    shm_wake_target_t target; /* word: segment server_wake */
    shm_listener_t listener;
    ep_sync_t sync;
    plat_mutex_t peer_lock;
    known_peer_t known[SHM_MAX_READERS];
    XA_ALIGN8 uint64_t last_poll_ns; /* atomic */
    uint32_t members_seen; /* segment member_changes at the last poll */
    uint32_t send_count;   /* for rate-limiting peer polls */
    uint32_t poll_count;
    uint32_t rr;           /* round-robin start for receive (under recv_lock) */
    uint32_t test_wake_only; /* atomic: xshm_server_test_wake_only() */
    uint32_t test_wake_seen; /* server_wake when the listener last looked */
};

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
            if (!xshm_plat_proc_alive(&claimer) && xshm_ring_slot_reclaim(s->tx, i, word))
                k->seen = xshm_ring_slot_claim(s->tx, i); /* it never connected */
            continue;
        }
        bool active = SHM_CLAIM_STATE(word) == SHM_SLOT_ACTIVE;
        shm_peer_info_t info;
        plat_proc_id_t id;
        if (active) {
            peer_from_slot(s->tx, i, word, &info, &id);
            if (!xshm_plat_proc_alive(&id)) {
                /* Crashed without disconnecting: free its slot. */
                xshm_ring_slot_reclaim(s->tx, i, word);
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

static const shm_listener_ops_t server_ops = {server_listener_poll, server_pending,
                                              server_data_mark, server_finish, server_changed};

/*
 * What is at seg_name while we hold the channel's name lock: left by a
 * server that is gone (crashed, perhaps while creating it), since a live one
 * would hold the lock. Only a channel of another layout version whose
 * creator still runs is not ours to take (its servers do not take the
 * lock). Returns SHM_SUCCESS when it may be replaced.
 */
static shm_error_t judge_stale(const plat_shm_t *shm)
{
    const shm_seg_header_t *h = (const shm_seg_header_t *)shm->base;
    if (shm->size < sizeof(*h) || xa_load32_acq(&h->magic) != SHM_SEG_MAGIC ||
        xa_load32_relaxed(&h->layout_version) == SHM_LAYOUT_VERSION)
        return SHM_SUCCESS;
    plat_proc_id_t id = {xa_load32_relaxed(&h->creator_pid), xa_load64_relaxed(&h->creator_start)};
    return xshm_plat_proc_alive(&id) ? SHM_ERROR_EXISTS : SHM_SUCCESS;
}

/* create_segment tries this often while the name stays taken. */
#define CREATE_TRIES 50

/*
 * True when a client is attached to the channel laid out in `shm` (an
 * ACTIVE or CLAIMING slot of ring 0 whose process runs): it may still write
 * into that memory. Memory that is not a published channel of this layout
 * has no client; nor can anyone join a channel whose server is gone.
 */
static bool old_clients_live(const plat_shm_t *shm)
{
    shm_segment_t *seg = (shm_segment_t *)calloc(1, sizeof(*seg));
    if (!seg)
        return true; /* cannot tell: do not reuse */
    bool live = false;
    if (xshm_segment_attach(seg, shm->base, shm->size) == SHM_SUCCESS) {
        shm_ring_t *r = &seg->rings[0];
        for (uint32_t i = 0; i < r->max_readers && !live; i++) {
            uint64_t word = xshm_ring_slot_claim(r, i);
            uint32_t st = SHM_CLAIM_STATE(word);
            if (st != SHM_SLOT_ACTIVE && st != SHM_SLOT_CLAIMING)
                continue;
            plat_proc_id_t id = {SHM_CLAIM_PID(word), 0};
            if (st == SHM_SLOT_ACTIVE)
                id.start_time = xa_load64_relaxed(&r->slots[i].start_time);
            live = xshm_plat_proc_alive(&id);
        }
    }
    free(seg);
    return live;
}

/*
 * Create the segment under the name lock (s->lock, taken by the caller):
 * exactly one of several servers starting at once gets the lock. Whatever
 * is under the name was left by a server that is gone (a live one holds the
 * lock): its name is removed and the channel created afresh, as a new
 * object, where no client of the old channel (still mapping the old one)
 * can write. An object that is not ours (xshm_plat_shm_open: another user's, or
 * on Linux not mode 0600) is never used: SHM_ERROR_ACCESS. Reused in place
 * only when its name cannot be removed and no client is attached to it.
 */
static shm_error_t create_segment(shm_server_t *s, const shm_seg_params_t *p)
{
    for (int attempt = 0; attempt < CREATE_TRIES; attempt++) {
        shm_error_t e = xshm_segment_create(&s->seg, s->seg_name, p);
        if (e != SHM_ERROR_EXISTS)
            return e;
        plat_shm_t shm;
        e = xshm_plat_shm_open(&shm, s->seg_name);
        if (e == SHM_SUCCESS)
            e = judge_stale(&shm);
        else if (e == SHM_ERROR_NOT_FOUND)
            e = SHM_SUCCESS; /* gone meanwhile, or never sized: replace it */
        if (e != SHM_SUCCESS) {
            xshm_plat_shm_close(&shm);
            return e == SHM_ERROR_ACCESS ? e : SHM_ERROR_EXISTS;
        }
        if (attempt == 0 || !shm.base) {
            /* Remove the name and create afresh. Clients of the dead server
             * keep their mapping and see it gone. */
            xshm_plat_shm_close(&shm);
            xshm_plat_shm_unlink(s->seg_name);
            continue;
        }
        /* The name outlived its removal: Windows, where a name lasts as
         * long as a handle to it, and some process of ours keeps one (the
         * clients of this library drop theirs once mapped; one of an older
         * version, or a process in the middle of opening it, may not). Lay
         * the new channel out in place only when no client is attached to
         * the old one, since an attached client could write into the new
         * channel before it notices; otherwise wait for the name to go. */
        if (old_clients_live(&shm)) {
            xshm_plat_shm_close(&shm);
            xshm_plat_sleep_ms(2);
            continue;
        }
        e = xshm_segment_format(&s->seg, shm.base, shm.size, p);
        if (e != SHM_SUCCESS) {
            xshm_plat_shm_close(&shm);
            return SHM_ERROR_EXISTS;
        }
        s->seg.shm = shm;
        return SHM_SUCCESS;
    }
    return SHM_ERROR_EXISTS;
}

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
    if (err != SHM_SUCCESS) {
        xshm_set_error(err);
        return NULL;
    }
    shm_server_t *s = (shm_server_t *)calloc(1, sizeof(*s));
    if (!s) {
        xshm_set_error(SHM_ERROR_MEMORY);
        return NULL;
    }
    snprintf(s->base, sizeof(s->base), "%s", base);
    snprintf(s->seg_name, sizeof(s->seg_name), "%s", base);
    s->blocking = cfg.blocking;
    s->timeout_ms = cfg.timeout_ms;
    s->max_readers = cfg.max_readers;

    shm_seg_params_t p = {1 + cfg.max_readers, cfg.size, cfg.max_readers, cfg.blocking,
                          cfg.timeout_ms};
    /* The name lock first: a live server holds it (EXISTS); once we have it,
     * nobody else creates, replaces or removes this channel until we let go. */
    err = xshm_plat_lock_take(&s->lock, s->seg_name);
    if (err == SHM_SUCCESS) {
        err = create_segment(s, &p);
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
    for (uint32_t i = 0; err == SHM_SUCCESS && i < cfg.max_readers; i++) {
        err = xshm_ring_reader_attach(&s->seg.rings[1 + i], &s->rx[i]);
        s->rx_ptr[i] = &s->rx[i];
        if (err == SHM_SUCCESS)
            err = wake_name(wname, sizeof(wname), base, gen, "c", i);
        if (err == SHM_SUCCESS)
            err = xshm_plat_wake_open(&s->client_wake[i], wname, true);
    }
    xshm_wake_target_init(&s->target, &s->seg.hdr->server_wake, s->rx_ptr, cfg.max_readers);
    if (err == SHM_SUCCESS)
        err = wake_name(wname, sizeof(wname), base, gen, "s", 0);
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
    shm_seg_header_t *h = s->seg.hdr;
    if (h) {
        /* Tell clients, and wake those asleep in receive. */
        xa_store32_rel(&h->state, SHM_SEG_CLOSED);
        xa_fence_seq_cst();
        for (uint32_t i = 0; i < s->max_readers; i++)
            server_wake_client(s, i);
    }
    ep_close(&s->sync, &s->target);
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

shm_error_t shm_server_send(shm_server_t *s, const void *data, uint32_t size)
{
    if (!s || !data || size == 0)
        return ret(SHM_ERROR_INVALID_PARAM);
    bool fast = xshm_block_lock(&s->sync.send_lock);
    shm_error_t err = SHM_ERROR_CLOSED;
    /* The ring only under the lock and not closing: destroy drains the lock
     * before it lets go of the segment. */
    if (!ep_closing(&s->sync)) {
        if ((++s->send_count & 1023u) == 0)
            server_poll_if_due(s);
        err = SHM_ERROR_NOT_CONNECTED;
        if (size > s->tx->max_payload)
            err = SHM_ERROR_INVALID_PARAM;
        else if (xshm_ring_active_readers(s->tx) > 0) {
            err = xshm_ring_write(s->tx, data, size);
            if (err == SHM_SUCCESS)
                xshm_ev_notify(s->tx, server_wake_client, s);
        }
    }
    xshm_block_unlock(&s->sync.send_lock, fast);
    return ret(err);
}

/* One pass over the client rings, starting at a rotating index. */
static shm_error_t server_try_receive(shm_server_t *s, void *data, uint32_t *size)
{
    uint32_t n = s->max_readers;
    uint32_t start = s->rr++; /* under recv_lock */
    for (uint32_t k = 0; k < n; k++) {
        shm_ring_reader_t *rd = &s->rx[(start + k) % n];
        uint32_t sz = *size; /* an empty ring answers EMPTY as cheaply as a check */
        shm_error_t e = xshm_ring_read(rd, data, &sz);
        if (e == SHM_ERROR_EMPTY)
            continue;
        if (e == SHM_ERROR_INVALID_SEGMENT)
            xshm_listener_push(&s->listener, SHM_EVENT_ERROR, NULL, e);
        if (e == SHM_SUCCESS || e == SHM_ERROR_BUFFER_TOO_SMALL)
            *size = sz;
        return e;
    }
    return SHM_ERROR_EMPTY;
}

/* The receive loop shared by server and client. */
typedef struct recv_ops {
    shm_error_t (*try_receive)(void *ep, void *data, uint32_t *size);
    /* SHM_SUCCESS while waiting makes sense; `waiting`: once per wait slice,
     * so expensive checks are due; otherwise keep it cheap (busy polling) */
    shm_error_t (*peer_state)(void *ep, bool waiting);
    bool (*ready)(void *ep);
} recv_ops_t;

/* One attempt under recv_lock; `closing` is checked inside the lock. */
static shm_error_t try_locked(const recv_ops_t *ops, void *ep, ep_sync_t *sync, void *data,
                              uint32_t *size, bool register_wait)
{
    bool fast = xshm_block_lock(&sync->recv_lock);
    shm_error_t e = ep_closing(sync) ? SHM_ERROR_CLOSED : ops->try_receive(ep, data, size);
    if (e == SHM_ERROR_EMPTY && register_wait)
        xa_fetch_add32(&sync->waiting, 1);
    xshm_block_unlock(&sync->recv_lock, fast);
    return e;
}

static shm_error_t wait_loop(const recv_ops_t *ops, void *ep, ep_sync_t *sync,
                             shm_wake_target_t *t, uint32_t timeout_ms, void *data,
                             uint32_t *size)
{
    uint64_t start = xshm_plat_now_ns();
    uint32_t spin = SHM_EV_SPIN_NS;
    for (;;) {
        if (ep_closing(sync))
            return SHM_ERROR_CLOSED;
        shm_error_t e = ops->peer_state(ep, true);
        if (e != SHM_SUCCESS) {
            /* The peer left: deliver what it sent before leaving first. */
            shm_error_t last = try_locked(ops, ep, sync, data, size, false);
            return last == SHM_ERROR_EMPTY ? e : last;
        }
        uint32_t slice = WAIT_SLICE_MS;
        if (timeout_ms) {
            uint64_t spent_ms = (xshm_plat_now_ns() - start) / 1000000u;
            if (spent_ms >= timeout_ms) {
                /* One last look: a message may have come at the deadline. */
                e = try_locked(ops, ep, sync, data, size, false);
                return e == SHM_ERROR_EMPTY ? SHM_ERROR_TIMEOUT : e;
            }
            if (timeout_ms - spent_ms < slice)
                slice = (uint32_t)(timeout_ms - spent_ms);
        }
        xshm_ev_wait(t, ops->ready, ep, slice, spin);
        spin = 0; /* spin once per call, then sleep */
        e = try_locked(ops, ep, sync, data, size, false);
        if (e != SHM_ERROR_EMPTY)
            return e;
    }
}

/* The receive shared by server and client. */
static shm_error_t receive_common(const recv_ops_t *ops, void *ep, ep_sync_t *sync,
                                  shm_wake_target_t *t, bool blocking, uint32_t timeout_ms,
                                  void *data, uint32_t *size)
{
    shm_error_t e = try_locked(ops, ep, sync, data, size, blocking);
    if (e != SHM_ERROR_EMPTY)
        return e;
    if (!blocking) {
        e = ops->peer_state(ep, false);
        if (e == SHM_SUCCESS)
            return SHM_ERROR_EMPTY;
        shm_error_t last = try_locked(ops, ep, sync, data, size, false);
        return last == SHM_ERROR_EMPTY ? e : last;
    }
    e = wait_loop(ops, ep, sync, t, timeout_ms, data, size);
    xa_fetch_add32(&sync->waiting, (uint32_t)-1); /* our last access to ep */
    return e;
}

static shm_error_t server_try_receive_v(void *ep, void *data, uint32_t *size)
{
    return server_try_receive((shm_server_t *)ep, data, size);
}

static shm_error_t server_peer_state(void *ep, bool waiting)
{
    shm_server_t *s = (shm_server_t *)ep;
    if (waiting || due_by_count(&s->poll_count))
        server_poll_if_due(s); /* clients come and go; keep waiting */
    return SHM_SUCCESS;
}

static const recv_ops_t server_recv_ops = {server_try_receive_v, server_peer_state, server_ready};

shm_error_t shm_server_receive(shm_server_t *s, void *data, uint32_t *size)
{
    if (!s || !size || (!data && *size != 0))
        return ret(SHM_ERROR_INVALID_PARAM);
    return ret(receive_common(&server_recv_ops, s, &s->sync, &s->target, s->blocking,
                          s->timeout_ms, data, size));
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
        shm_reader_counts_t n;
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

/* ---- client --------------------------------------------------------------------------- */

struct shm_client {
    shm_segment_t seg;
    char base[PLAT_NAME_MAX];
    uint64_t generation;
    uint32_t slot;
    bool blocking;
    uint32_t timeout_ms;
    shm_ring_reader_t rx;
    shm_ring_reader_t *rx_ptr;
    bool rx_attached;
    shm_ring_t *tx;
    uint64_t tx_msgs0, tx_bytes0; /* ring counters when we connected */
    plat_wake_t server_wake;
    shm_wake_target_t target;     /* word: our slot's wake_word */
    shm_listener_t listener;
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
    shm_seg_header_t *h = c->seg.hdr;
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
    return client_same_channel(c) && xshm_ring_reader_pending(&c->rx);
}

static uint64_t client_data_mark(void *arg)
{
    return xa_load64_acq(&((shm_client_t *)arg)->rx.ring->hdr->tail);
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

static const shm_listener_ops_t client_ops = {client_poll, client_pending, client_data_mark,
                                              client_finish, client_changed};

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
    shm_seg_header_t *h = c->seg.hdr;
    uint32_t readers = xa_load32_relaxed(&h->max_readers);
    if (c->seg.ring_count != 1 + readers) {
        xshm_segment_close(&c->seg);
        return SHM_ERROR_INVALID_SEGMENT; /* a segment, but not a channel */
    }
    c->server_id.pid = xa_load32_relaxed(&h->creator_pid);
    c->server_id.start_time = xa_load64_relaxed(&h->creator_start);
    if (xa_load32_acq(&h->state) != SHM_SEG_READY || !xshm_plat_proc_alive(&c->server_id)) {
        xshm_segment_close(&c->seg);
        return SHM_ERROR_NOT_FOUND; /* left by a server that is gone */
    }
    e = xshm_ring_reader_attach(&c->seg.rings[0], &c->rx);
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
    c->tx_msgs0 = xshm_ring_messages_written(c->tx);
    c->tx_bytes0 = xa_load64_relaxed(&c->tx->hdr->bytes_written);
    c->rx_ptr = &c->rx;
    xshm_wake_target_init(&c->target, &c->rx.slot->wake_word, &c->rx_ptr, 1);
    char wname[PLAT_NAME_MAX];
    if (err == SHM_SUCCESS)
        err = wake_name(wname, sizeof(wname), c->base, c->generation, "s", 0);
    if (err == SHM_SUCCESS)
        err = xshm_plat_wake_open(&c->server_wake, wname, false);
    if (err == SHM_SUCCESS)
        err = wake_name(wname, sizeof(wname), c->base, c->generation, "c", c->slot);
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
    if (err != SHM_SUCCESS) {
        xshm_set_error(err);
        return NULL;
    }
    shm_client_t *c = (shm_client_t *)calloc(1, sizeof(*c));
    if (!c) {
        xshm_set_error(SHM_ERROR_MEMORY);
        return NULL;
    }
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
    ep_close(&c->sync, &c->target);
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
    ep_close(&c->sync, &c->target);
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

shm_error_t shm_client_send(shm_client_t *c, const void *data, uint32_t size)
{
    if (c && xa_load32_acq(&c->detached))
        return ret(SHM_ERROR_NOT_CONNECTED);
    if (!c || !data || size == 0)
        return ret(SHM_ERROR_INVALID_PARAM);
    bool fast = xshm_block_lock(&c->sync.send_lock);
    shm_error_t err = SHM_ERROR_CLOSED;
    if (!ep_closing(&c->sync)) { /* the ring only then: see shm_server_send */
        bool check = (++c->send_count & 1023u) == 0;
        err = SHM_ERROR_NOT_CONNECTED;
        if (size > c->tx->max_payload)
            err = SHM_ERROR_INVALID_PARAM;
        else if (!(check ? client_gone_now(c) : client_server_gone(c, false))) {
            err = xshm_ring_write(c->tx, data, size);
            if (err == SHM_SUCCESS)
                xshm_ev_notify(c->tx, client_wake_server, c);
        }
    }
    xshm_block_unlock(&c->sync.send_lock, fast);
    return ret(err);
}

static shm_error_t client_try_receive(void *ep, void *data, uint32_t *size)
{
    shm_client_t *c = (shm_client_t *)ep;
    if (!client_same_channel(c))
        return SHM_ERROR_EMPTY; /* the caller then finds the server gone */
    shm_error_t e = xshm_ring_read(&c->rx, data, size);
    if (e == SHM_SUCCESS && !client_same_channel(c))
        return SHM_ERROR_EMPTY; /* laid out anew while we read */
    if (e == SHM_ERROR_INVALID_SEGMENT)
        xshm_listener_push(&c->listener, SHM_EVENT_ERROR, NULL, e);
    return e;
}

static shm_error_t client_peer_state(void *ep, bool waiting)
{
    shm_client_t *c = (shm_client_t *)ep;
    bool gone = (waiting || due_by_count(&c->poll_count)) ? client_gone_now(c)
                                                           : client_server_gone(c, false);
    return gone ? SHM_ERROR_NOT_CONNECTED : SHM_SUCCESS;
}

static const recv_ops_t client_recv_ops = {client_try_receive, client_peer_state, client_ready};

shm_error_t shm_client_receive(shm_client_t *c, void *data, uint32_t *size)
{
    if (!c || !size || (!data && *size != 0))
        return ret(SHM_ERROR_INVALID_PARAM);
    if (xa_load32_acq(&c->detached))
        return ret(SHM_ERROR_NOT_CONNECTED);
    return ret(receive_common(&client_recv_ops, c, &c->sync, &c->target, c->blocking,
                          c->timeout_ms, data, size));
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
    shm_reader_counts_t n;
    xshm_ring_reader_counts(&c->rx, &n);
    st->messages_received = n.received;
    st->bytes_received = n.bytes;
    st->messages_lost = n.lost;
    st->connected = client_gone_now(c) ? 0u : 1u;
    return SHM_SUCCESS;
}

shm_ring_t *shm_client_tx_ring(shm_client_t *c)
{
    xshm_set_error(c ? SHM_SUCCESS : SHM_ERROR_INVALID_PARAM);
    return c ? c->tx : NULL;
}
