/*
 * shm_inspect.c - read-only views of a segment (see shm_inspect.h).
 *
 * Every word is loaded with the atomics helpers and never stored: a view
 * may be a read-only mapping. Positions and counts come from the ring's own
 * reads where it has one (xshm_ring_counters, xshm_ring_slot_claim); the
 * rest are plain loads of words the ring publishes, bounded before use.
 */
#include "shm_inspect.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "shm_ringbuffer.h"

struct xshm_inspect {
    xshm_segment_t seg; /* seg.shm is zero for a segment of the caller's */
};

#if XSHM_INSPECT_MAX_RINGS != SHM_SEG_MAX_RINGS
#error "a snapshot holds every ring of a segment"
#endif

uint32_t xshm_inspect_layout_version(void) { return SHM_LAYOUT_VERSION; }

/* ---- opening ---------------------------------------------------------------- */

static void say(char *why, size_t n, const char *text)
{
    if (why && n)
        snprintf(why, n, "%s", text);
}

/* Why xshm_segment_attach refused the segment at base (size bytes mapped). */
static void explain_invalid(const void *base, size_t size, char *why, size_t n)
{
    const xshm_seg_header_t *h = (const xshm_seg_header_t *)base;
    if (!why || !n)
        return;
    if (size < sizeof(xshm_seg_header_t)) {
        snprintf(why, n, "it is %lu bytes, smaller than a segment header", (unsigned long)size);
        return;
    }
    uint32_t magic = xa_load32_relaxed(&h->magic);
    uint32_t version = xa_load32_relaxed(&h->layout_version);
    if (magic != SHM_SEG_MAGIC) {
        snprintf(why, n,
                 "it does not start with the xshm magic number (0x%08x, expected 0x%08x): "
                 "another program's object, or damaged",
                 (unsigned)magic, (unsigned)SHM_SEG_MAGIC);
    } else if (version != SHM_LAYOUT_VERSION) {
        snprintf(why, n,
                 "its layout version is %u, this xshm reads layout version %u: made by "
                 "another version of xshm",
                 (unsigned)version, (unsigned)SHM_LAYOUT_VERSION);
    } else if (xa_load32_relaxed(&h->header_size) != sizeof(xshm_seg_header_t) ||
               xa_load32_relaxed(&h->max_message) != SHM_MAX_MESSAGE_SIZE) {
        snprintf(why, n,
                 "its header (size %u, largest message %u) is not the one of this xshm: made "
                 "by another version of xshm",
                 (unsigned)xa_load32_relaxed(&h->header_size),
                 (unsigned)xa_load32_relaxed(&h->max_message));
    } else {
        snprintf(why, n,
                 "its geometry does not add up (%u rings of %u bytes, %u client slots, "
                 "%" PRIu64 " bytes declared, %lu mapped): damaged",
                 (unsigned)xa_load32_relaxed(&h->ring_count),
                 (unsigned)xa_load32_relaxed(&h->ring_capacity),
                 (unsigned)xa_load32_relaxed(&h->max_readers), xa_load64_relaxed(&h->total_size),
                 (unsigned long)size);
    }
}

/* Validate the segment at mem into v->seg; `why` as in shm_inspect.h. */
static shm_error_t bind(xshm_inspect_t *v, void *mem, size_t size, bool channel, char *why,
                        size_t n)
{
    xshm_segment_t *seg = &v->seg;
    shm_error_t e = xshm_segment_attach(seg, mem, size);
    if (e == SHM_SUCCESS && channel &&
        seg->ring_count != SHM_CHANNEL_RINGS(seg->rings[0].max_readers)) {
        if (why && n)
            snprintf(why, n,
                     "it is an xshm segment but not a channel (%u rings for %u client slots)",
                     (unsigned)seg->ring_count, (unsigned)seg->rings[0].max_readers);
        memset(seg, 0, sizeof(*seg));
        return SHM_ERROR_INVALID_SEGMENT;
    }
    if (e == SHM_ERROR_INVALID_SEGMENT)
        explain_invalid(mem, size, why, n);
    else if (e == SHM_ERROR_NOT_FOUND)
        say(why, n,
            "its creator has not published its header (it is being created, or its creator "
            "died before finishing)");
    return e;
}

/* The start of attach and open: why cleared, *out NULL, the argument `what`
 * given, a zeroed view; NULL with *err set (INVALID_PARAM or MEMORY). */
static xshm_inspect_t *view_new(xshm_inspect_t **out, const void *what, char *why, size_t n,
                                shm_error_t *err)
{
    if (why && n)
        why[0] = '\0';
    *err = SHM_ERROR_INVALID_PARAM;
    if (!out)
        return NULL;
    *out = NULL;
    if (!what)
        return NULL;
    xshm_inspect_t *v = (xshm_inspect_t *)calloc(1, sizeof(*v));
    *err = v ? SHM_SUCCESS : SHM_ERROR_MEMORY;
    return v;
}

shm_error_t xshm_inspect_attach(xshm_inspect_t **out, void *mem, size_t size, bool channel,
                                char *why, size_t n)
{
    shm_error_t e;
    xshm_inspect_t *v = view_new(out, mem, why, n, &e);
    if (!v)
        return e;
    e = bind(v, mem, size, channel, why, n);
    if (e != SHM_SUCCESS) {
        free(v);
        return e;
    }
    *out = v;
    return SHM_SUCCESS;
}

shm_error_t xshm_inspect_open(xshm_inspect_t **out, const char *os_name,
                              xshm_inspect_mapped_fn mapped, char *why, size_t n)
{
    shm_error_t e;
    xshm_inspect_t *v = view_new(out, os_name, why, n, &e);
    if (!v)
        return e;
    plat_shm_t shm;
    memset(&shm, 0, sizeof(shm));
    e = xshm_plat_shm_open(&shm, os_name);
    if (e != SHM_SUCCESS) {
        if (e == SHM_ERROR_INVALID_SEGMENT)
            say(why, n,
                "the object is empty: its creator has not sized it yet, or died while "
                "creating it");
        free(v);
        return e;
    }
    if (mapped)
        mapped(shm.base, shm.size);
    e = bind(v, shm.base, shm.size, true, why, n);
    if (e != SHM_SUCCESS) {
        xshm_plat_shm_close(&shm);
        free(v);
        return e;
    }
    v->seg.shm = shm;
    *out = v;
    return SHM_SUCCESS;
}

void xshm_inspect_close(xshm_inspect_t *v)
{
    if (!v)
        return;
    xshm_segment_close(&v->seg); /* unmaps only what xshm_inspect_open mapped */
    free(v);
}

uint32_t xshm_inspect_ring_count(const xshm_inspect_t *v) { return v ? v->seg.ring_count : 0; }

/* ---- snapshots ------------------------------------------------------------------ */

static bool proc_alive(uint32_t pid, uint64_t start)
{
    plat_proc_id_t id;
    id.pid = pid;
    id.start_time = start;
    return pid != 0 && xshm_plat_proc_alive(&id);
}

static uint32_t slot_state(uint64_t claim)
{
    switch (SHM_CLAIM_STATE(claim)) {
    case SHM_SLOT_FREE:
        return XSHM_INSPECT_SLOT_FREE;
    case SHM_SLOT_CLAIMING:
        return XSHM_INSPECT_SLOT_CLAIMING;
    case SHM_SLOT_ACTIVE:
        return XSHM_INSPECT_SLOT_ACTIVE;
    default:
        return XSHM_INSPECT_SLOT_INVALID;
    }
}

static uint32_t seg_state(uint32_t state)
{
    switch (state) {
    case SHM_SEG_INITIALIZING:
        return XSHM_INSPECT_SEG_INITIALIZING;
    case SHM_SEG_READY:
        return XSHM_INSPECT_SEG_READY;
    case SHM_SEG_CLOSED:
        return XSHM_INSPECT_SEG_CLOSED;
    default:
        return XSHM_INSPECT_SEG_UNKNOWN;
    }
}

static void slot_snapshot(const shm_ring_t *r, uint32_t k, const xshm_inspect_ring_t *rs,
                          xshm_inspect_slot_t *ss)
{
    const xshm_reader_slot_t *sl = &r->slots[k];
    uint64_t claim = xshm_ring_slot_claim(r, k);
    ss->state = slot_state(claim);
    ss->pid = SHM_CLAIM_PID(claim);
    ss->ptr_bits = xa_load32_relaxed(&sl->ptr_bits);
    ss->start_time = xa_load64_relaxed(&sl->start_time);
    ss->waiting = xa_load32_relaxed(&sl->waiting) != 0;
    ss->cursor = xa_load64_relaxed(&sl->cursor);
    ss->expected_seq = xa_load64_relaxed(&sl->expected_seq);
    ss->received = xa_load64_relaxed(&sl->received);
    ss->lost = xa_load64_relaxed(&sl->lost);
    ss->bytes = xa_load64_relaxed(&sl->bytes);
    ss->lag = ss->cursor <= rs->tail ? rs->tail - ss->cursor : 0;
    ss->unread = ss->expected_seq <= rs->messages ? rs->messages - ss->expected_seq : 0;
    ss->lapped = ss->state == XSHM_INSPECT_SLOT_ACTIVE && ss->cursor < rs->head;
    if (ss->state != XSHM_INSPECT_SLOT_FREE)
        ss->alive = proc_alive(ss->pid, ss->start_time);
}

static void ring_snapshot(const shm_ring_t *r, xshm_inspect_ring_t *rs)
{
    const xshm_ring_header_t *h = r->hdr;
    memset(rs, 0, sizeof(*rs));
    rs->capacity = r->capacity;
    rs->nslots = r->max_readers <= SHM_MAX_READERS ? r->max_readers : SHM_MAX_READERS;
    xshm_ring_counters(r, &rs->tail, &rs->messages, &rs->bytes);
    rs->head = xa_load64_relaxed(&h->head);
    rs->writer_pid = xa_load32_relaxed(&h->writer_pid);
    rs->writer_bits = xa_load32_relaxed(&h->writer_ptr_bits);
    rs->writer_alive = proc_alive(rs->writer_pid, xa_load64_relaxed(&h->writer_start));
    rs->waiters = xa_load32_relaxed(&h->waiters);
    uint64_t slowest = 0;
    for (uint32_t k = 0; k < rs->nslots; k++) {
        xshm_inspect_slot_t *ss = &rs->slots[k];
        slot_snapshot(r, k, rs, ss);
        if (ss->state == XSHM_INSPECT_SLOT_ACTIVE && ss->lag > slowest)
            slowest = ss->lag;
    }
    rs->used = slowest < rs->capacity ? slowest : rs->capacity;
}

bool xshm_inspect_ring(const xshm_inspect_t *v, uint32_t i, xshm_inspect_ring_t *out)
{
    if (!out)
        return false;
    if (!v || i >= v->seg.ring_count || i >= SHM_SEG_MAX_RINGS) {
        memset(out, 0, sizeof(*out));
        return false;
    }
    ring_snapshot(&v->seg.rings[i], out);
    return true;
}

bool xshm_inspect_ring_counters(const xshm_inspect_t *v, uint32_t i, uint64_t *tail,
                                uint64_t *messages, uint64_t *bytes)
{
    uint64_t t = 0, m = 0, b = 0;
    bool ok = v && i < v->seg.ring_count && i < SHM_SEG_MAX_RINGS;
    if (ok)
        xshm_ring_counters(&v->seg.rings[i], &t, &m, &b);
    if (tail)
        *tail = t;
    if (messages)
        *messages = m;
    if (bytes)
        *bytes = b;
    return ok;
}

void xshm_inspect_snapshot(const xshm_inspect_t *v, xshm_inspect_snap_t *s)
{
    if (!s)
        return;
    memset(s, 0, sizeof(*s));
    if (!v || !v->seg.hdr)
        return;
    const xshm_segment_t *seg = &v->seg;
    const xshm_seg_header_t *h = seg->hdr;
    s->t_ns = xshm_plat_now_ns();
    s->mapped = seg->mapped_size;
    s->state = seg_state(xa_load32_acq(&h->state));
    s->layout_version = xa_load32_relaxed(&h->layout_version);
    s->ring_count = seg->ring_count;
    s->capacity = seg->rings[0].capacity;
    s->max_readers = seg->rings[0].max_readers;
    s->max_message = seg->rings[0].max_payload;
    s->creator_pid = xa_load32_relaxed(&h->creator_pid);
    s->creator_bits = xa_load32_relaxed(&h->creator_ptr_bits);
    s->creator_alive = proc_alive(s->creator_pid, xa_load64_relaxed(&h->creator_start));
    s->generation = xa_load64_relaxed(&h->generation);
    s->blocking = xa_load32_relaxed(&h->cfg_blocking) != 0;
    s->timeout_ms = xa_load32_relaxed(&h->cfg_timeout_ms);
    for (uint32_t i = 0; i < seg->ring_count && i < SHM_SEG_MAX_RINGS; i++) {
        xshm_inspect_ring_t *rs = &s->rings[i];
        ring_snapshot(&seg->rings[i], rs);
        if (i != 0)
            continue;
        for (uint32_t k = 0; k < rs->nslots; k++)
            if (rs->slots[k].state == XSHM_INSPECT_SLOT_ACTIVE && rs->slots[k].alive)
                s->clients++;
    }
}

/* ---- one reader --------------------------------------------------------------------- */

bool xshm_inspect_find_reader(const xshm_inspect_t *v, uint32_t i, const plat_proc_id_t *id,
                              uint32_t *slot)
{
    if (!v || !id || i >= v->seg.ring_count || i >= SHM_SEG_MAX_RINGS)
        return false;
    const shm_ring_t *r = &v->seg.rings[i];
    for (uint32_t k = 0; k < r->max_readers; k++) {
        uint64_t claim = xshm_ring_slot_claim(r, k);
        if (SHM_CLAIM_STATE(claim) == SHM_SLOT_ACTIVE && SHM_CLAIM_PID(claim) == id->pid &&
            xa_load64_relaxed(&r->slots[k].start_time) == id->start_time) {
            if (slot)
                *slot = k;
            return true;
        }
    }
    return false;
}

bool xshm_inspect_reader_pending(const xshm_inspect_t *v, uint32_t i, uint32_t slot)
{
    if (!v || i >= v->seg.ring_count || i >= SHM_SEG_MAX_RINGS)
        return false;
    const shm_ring_t *r = &v->seg.rings[i];
    if (slot >= r->max_readers ||
        SHM_CLAIM_STATE(xshm_ring_slot_claim(r, slot)) != SHM_SLOT_ACTIVE)
        return false;
    return xa_load64_acq(&r->hdr->tail) > xa_load64_relaxed(&r->slots[slot].cursor);
}
