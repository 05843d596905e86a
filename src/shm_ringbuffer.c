/*
 * shm_ringbuffer.c - segment layout and the overwriting multi-reader ring.
 * The protocol is described in shm_ringbuffer.h.
 */
#include "shm_ringbuffer.h"

#include <string.h>

#include "atomics.h"

/* ---- checks beyond the shared layout's own (shm_layout.h) -------------------- */

_Static_assert(SHM_RECORD_HEADER_SIZE == sizeof(xshm_record_header_t), "record header size");

/* Process-local 64-bit words read atomically by other threads: 8-byte
 * aligned on every target (a misaligned one may be read torn on i386). */
_Static_assert(offsetof(xshm_ring_reader_t, cursor) % 8 == 0, "reader cursor alignment");
_Static_assert(_Alignof(xshm_ring_reader_t) >= 8, "reader alignment");

/* ---- geometry ------------------------------------------------------------------ */

static uint32_t ring_slot_count(uint32_t ring_index, uint32_t max_readers)
{
    return ring_index == 0 ? max_readers : 1u;
}

/* Rings after ring max_readers (a channel's addressed rings) hold
 * addr_capacity bytes, the others capacity. */
static uint32_t ring_data_size(uint32_t ring_index, uint32_t max_readers, uint32_t capacity,
                               uint32_t addr_capacity)
{
    return ring_index > max_readers ? addr_capacity : capacity;
}

static size_t ring_span(uint32_t slots, uint32_t capacity)
{
    return sizeof(xshm_ring_header_t) + (size_t)slots * sizeof(xshm_reader_slot_t) + capacity;
}

static bool is_pow2(uint32_t v) { return v != 0 && (v & (v - 1)) == 0; }

static uint32_t record_size(uint32_t payload)
{
    return (SHM_RECORD_HEADER_SIZE + payload + (SHM_RECORD_ALIGN - 1)) & ~(SHM_RECORD_ALIGN - 1);
}

static uint32_t ptr_bits(void) { return (uint32_t)(sizeof(void *) * 8); }

shm_error_t xshm_seg_params_check(const xshm_seg_params_t *p)
{
    if (!p || p->ring_count < 1 || p->ring_count > SHM_SEG_MAX_RINGS)
        return SHM_ERROR_INVALID_PARAM;
    if (!is_pow2(p->capacity) || p->capacity < SHM_MIN_RING_SIZE || p->capacity > SHM_MAX_RING_SIZE)
        return SHM_ERROR_INVALID_PARAM;
    if (p->max_readers < 1 || p->max_readers > SHM_MAX_READERS)
        return SHM_ERROR_INVALID_PARAM;
    if (p->addr_capacity != 0 && (!is_pow2(p->addr_capacity) ||
                                  p->addr_capacity < SHM_MIN_RING_SIZE ||
                                  p->addr_capacity > p->capacity))
        return SHM_ERROR_INVALID_PARAM;
    return SHM_SUCCESS;
}

static uint32_t addr_capacity_of(const xshm_seg_params_t *p)
{
    return p->addr_capacity ? p->addr_capacity : p->capacity;
}

/* Size of a layout; 0 when it would not fit a size_t (32-bit processes). */
static size_t layout_size(uint32_t ring_count, uint32_t capacity, uint32_t max_readers,
                          uint32_t addr_capacity)
{
    uint64_t total = sizeof(xshm_seg_header_t);
    for (uint32_t i = 0; i < ring_count; i++)
        total += ring_span(ring_slot_count(i, max_readers),
                           ring_data_size(i, max_readers, capacity, addr_capacity));
    if (total > (uint64_t)(SIZE_MAX / 2))
        return 0;
    return (size_t)total;
}

size_t xshm_segment_size(const xshm_seg_params_t *p)
{
    if (xshm_seg_params_check(p) != SHM_SUCCESS)
        return 0;
    return layout_size(p->ring_count, p->capacity, p->max_readers, addr_capacity_of(p));
}

/* Bind the process-local ring handles to validated geometry. */
static void bind_rings(xshm_segment_t *seg, uint8_t *base, uint32_t ring_count,
                       uint32_t ring_capacity, uint32_t max_readers, uint32_t addr_capacity)
{
    size_t off = sizeof(xshm_seg_header_t);
    seg->ring_count = ring_count;
    for (uint32_t i = 0; i < ring_count; i++) {
        shm_ring_t *r = &seg->rings[i];
        uint32_t slots = ring_slot_count(i, max_readers);
        uint32_t capacity = ring_data_size(i, max_readers, ring_capacity, addr_capacity);
        memset(r, 0, sizeof(*r));
        r->hdr = (xshm_ring_header_t *)(void *)(base + off);
        r->slots = (xshm_reader_slot_t *)(void *)(base + off + sizeof(xshm_ring_header_t));
        r->data = base + off + sizeof(xshm_ring_header_t) + (size_t)slots * sizeof(xshm_reader_slot_t);
        r->capacity = capacity;
        r->mask = capacity - 1;
        r->max_readers = slots;
        r->max_payload = capacity - SHM_RECORD_HEADER_SIZE < SHM_MAX_MESSAGE_SIZE
                             ? capacity - SHM_RECORD_HEADER_SIZE
                             : SHM_MAX_MESSAGE_SIZE;
        off += ring_span(slots, capacity);
    }
}

shm_error_t xshm_segment_format(xshm_segment_t *seg, void *mem, size_t size,
                               const xshm_seg_params_t *p)
{
    if (!seg || !mem || ((uintptr_t)mem & (SHM_CACHE_LINE - 1)) != 0)
        return SHM_ERROR_INVALID_PARAM;
    size_t need = xshm_segment_size(p);
    if (need == 0 || size < need)
        return SHM_ERROR_INVALID_PARAM;

    plat_proc_id_t self;
    xshm_plat_proc_self(&self);
    uint8_t *base = (uint8_t *)mem;
    xshm_seg_header_t *h = (xshm_seg_header_t *)mem;
    xa_store32_rel(&h->magic, 0); /* unpublished while we write */
    memset(base + sizeof(h->magic), 0, need - sizeof(h->magic));
    h->layout_version = SHM_LAYOUT_VERSION;
    h->header_size = (uint32_t)sizeof(xshm_seg_header_t);
    h->ring_count = p->ring_count;
    h->total_size = need;
    h->ring_capacity = p->capacity;
    h->addr_capacity = addr_capacity_of(p);
    h->max_readers = p->max_readers;
    h->max_message = SHM_MAX_MESSAGE_SIZE;
    h->creator_ptr_bits = ptr_bits();
    h->creator_pid = self.pid;
    h->creator_start = self.start_time;
    h->generation = xshm_plat_now_ns() ^ ((uint64_t)self.pid << 32) ^ self.start_time;
    h->cfg_blocking = p->blocking ? 1u : 0u;
    h->cfg_timeout_ms = p->timeout_ms;
    h->state = SHM_SEG_INITIALIZING; /* READY once its owner is set up */

    memset(seg, 0, sizeof(*seg));
    bind_rings(seg, base, p->ring_count, p->capacity, p->max_readers, addr_capacity_of(p));
    for (uint32_t i = 0; i < p->ring_count; i++) {
        xshm_ring_header_t *rh = seg->rings[i].hdr;
        rh->capacity = seg->rings[i].capacity;
        rh->max_readers = seg->rings[i].max_readers;
        rh->ring_index = i;
    }
    seg->hdr = h;
    seg->mapped_size = size;
    seg->generation = h->generation;
    /* Publish: everything above becomes visible before the magic. */
    xa_store32_rel(&h->magic, SHM_SEG_MAGIC);
    return SHM_SUCCESS;
}

shm_error_t xshm_segment_attach(xshm_segment_t *seg, void *mem, size_t size)
{
    if (!seg || !mem || ((uintptr_t)mem & 7u) != 0)
        return SHM_ERROR_INVALID_PARAM;
    if (size < sizeof(xshm_seg_header_t))
        return SHM_ERROR_INVALID_SEGMENT;
    xshm_seg_header_t *h = (xshm_seg_header_t *)mem;
    uint32_t magic = xa_load32_acq(&h->magic);
    if (magic == 0)
        return SHM_ERROR_NOT_FOUND; /* creator has not published it yet */
    if (magic != SHM_SEG_MAGIC)
        return SHM_ERROR_INVALID_SEGMENT;
    /* Read each field once, check it, and use only the checked copy. */
    uint32_t version = xa_load32_relaxed(&h->layout_version);
    uint32_t hsize = xa_load32_relaxed(&h->header_size);
    uint32_t rings = xa_load32_relaxed(&h->ring_count);
    uint64_t total = xa_load64_relaxed(&h->total_size);
    uint32_t cap = xa_load32_relaxed(&h->ring_capacity);
    uint32_t addr_cap = xa_load32_relaxed(&h->addr_capacity);
    uint32_t readers = xa_load32_relaxed(&h->max_readers);
    uint32_t maxmsg = xa_load32_relaxed(&h->max_message);
    if (version != SHM_LAYOUT_VERSION || hsize != sizeof(xshm_seg_header_t) ||
        maxmsg != SHM_MAX_MESSAGE_SIZE)
        return SHM_ERROR_INVALID_SEGMENT;
    xshm_seg_params_t p = {rings, cap, readers, false, 0, addr_cap};
    if (addr_cap == 0 || xshm_seg_params_check(&p) != SHM_SUCCESS)
        return SHM_ERROR_INVALID_SEGMENT;
    size_t need = layout_size(rings, cap, readers, addr_cap);
    if (need == 0 || total != (uint64_t)need || need > size)
        return SHM_ERROR_INVALID_SEGMENT;
    memset(seg, 0, sizeof(*seg));
    bind_rings(seg, (uint8_t *)mem, rings, cap, readers, addr_cap);
    /* Each ring header must agree with the segment header. */
    for (uint32_t i = 0; i < rings; i++) {
        shm_ring_t *r = &seg->rings[i];
        if (xa_load32_relaxed(&r->hdr->capacity) != r->capacity ||
            xa_load32_relaxed(&r->hdr->max_readers) != r->max_readers ||
            xa_load32_relaxed(&r->hdr->ring_index) != i) {
            memset(seg, 0, sizeof(*seg));
            return SHM_ERROR_INVALID_SEGMENT;
        }
    }
    seg->hdr = h;
    seg->mapped_size = size;
    seg->generation = xa_load64_relaxed(&h->generation);
    return SHM_SUCCESS;
}

shm_error_t xshm_segment_create(xshm_segment_t *seg, const char *os_name,
                               const xshm_seg_params_t *p)
{
    if (!seg || !os_name)
        return SHM_ERROR_INVALID_PARAM;
    size_t need = xshm_segment_size(p);
    if (need == 0)
        return SHM_ERROR_INVALID_PARAM;
    plat_shm_t shm;
    memset(&shm, 0, sizeof(shm));
    shm_error_t err = xshm_plat_shm_create(&shm, os_name, need);
    if (err != SHM_SUCCESS)
        return err;
    err = xshm_segment_format(seg, shm.base, shm.size, p);
    if (err != SHM_SUCCESS) {
        xshm_plat_shm_close(&shm);
        xshm_plat_shm_unlink(os_name);
        return err;
    }
    seg->shm = shm;
    return SHM_SUCCESS;
}

shm_error_t xshm_segment_open(xshm_segment_t *seg, const char *os_name)
{
    if (!seg || !os_name)
        return SHM_ERROR_INVALID_PARAM;
    plat_shm_t shm;
    memset(&shm, 0, sizeof(shm));
    shm_error_t err = xshm_plat_shm_open(&shm, os_name);
    if (err != SHM_SUCCESS)
        return err;
    err = xshm_segment_attach(seg, shm.base, shm.size);
    if (err != SHM_SUCCESS) {
        xshm_plat_shm_close(&shm);
        return err;
    }
    seg->shm = shm;
    return SHM_SUCCESS;
}

void xshm_segment_publish(xshm_segment_t *seg)
{
    xa_store32_rel(&seg->hdr->state, SHM_SEG_READY);
}

void xshm_segment_close(xshm_segment_t *seg)
{
    if (!seg)
        return;
    for (uint32_t i = 0; i < seg->ring_count && i < SHM_SEG_MAX_RINGS; i++)
        xshm_ring_writer_fini(&seg->rings[i]);
    if (seg->shm.base)
        xshm_plat_shm_close(&seg->shm);
    memset(seg, 0, sizeof(*seg));
}

/* ---- records --------------------------------------------------------------------- */

/* A message's type word: untagged, or SHM_REC_TAGGED with a tag of 1..2^30-1. */
static bool is_message(uint32_t type)
{
    return type == SHM_REC_MESSAGE ||
           ((type & ~SHM_REC_TAG_MASK) == SHM_REC_TAGGED && (type & SHM_REC_TAG_MASK) != 0);
}

/* The tag of a message's type word (0: untagged). */
static uint32_t tag_of(uint32_t type)
{
    return type == SHM_REC_MESSAGE ? 0u : type & SHM_REC_TAG_MASK;
}

/* The header of the writer's next message (its mark, stored last, zero
 * here): every message header is made here. */
static void record_header_init(const shm_ring_t *r, xshm_record_header_t *h, uint64_t seq,
                               uint32_t size)
{
    uint32_t tag = r->w_tag & SHM_REC_TAG_MASK;
    h->pos = 0;
    h->seq = seq;
    h->length = size;
    h->type = tag ? SHM_REC_TAGGED | tag : SHM_REC_MESSAGE;
}

/* The writer moves `limit` ahead by this much at a time: readers that lag by
 * less than capacity - step prove a copy intact without loading `head`. */
static uint32_t limit_step(const shm_ring_t *r) { return r->capacity / 8u; }

/*
 * Size of the record whose header was copied to *hdr from offset `off`, or 0
 * if the header is not well-formed. Every field is bounded; the position
 * field is not checked here (only once the copy is known intact).
 */
static uint32_t record_span(const shm_ring_t *r, const xshm_record_header_t *hdr, uint32_t off)
{
    uint32_t rest = r->capacity - off;
    if (hdr->type == SHM_REC_PADDING)
        return hdr->length == rest ? rest : 0;
    if (!is_message(hdr->type) || hdr->length == 0 || hdr->length > r->max_payload)
        return 0;
    uint32_t span = record_size(hdr->length);
    return span <= rest ? span : 0;
}

/* Copy the header of the record at pos and return its size (0: malformed).
 * Fewer than a header's bytes before the end of the data area are an
 * implicit padding record, read from no byte. */
static uint32_t record_at(const shm_ring_t *r, uint64_t pos, xshm_record_header_t *hdr)
{
    uint32_t off = (uint32_t)(pos & r->mask);
    uint32_t rest = r->capacity - off;
    if (rest < SHM_RECORD_HEADER_SIZE) {
        memset(hdr, 0, sizeof(*hdr));
        hdr->pos = pos | 1u; /* (as a mark would say) */
        hdr->type = SHM_REC_PADDING;
        hdr->length = rest;
        return rest;
    }
    xa_copy_from_shared(hdr, r->data + off, sizeof(*hdr));
    return record_span(r, hdr, off);
}

/* ---- writer --------------------------------------------------------------------------- */

/* Write a record header's fields after its mark word, at rec. Each field is
 * stored from a register: a header built on the stack and copied as a
 * whole would be loaded back before its own stores reached the cache,
 * which on x86 waits for every store before them, the record's earlier
 * stores to lines a reader holds included. */
static void put_header(uint8_t *rec, uint64_t seq, uint32_t length, uint32_t type)
{
    xa_copy_to_shared(rec + offsetof(xshm_record_header_t, seq), &seq, sizeof(seq));
    xa_copy_to_shared(rec + offsetof(xshm_record_header_t, length), &length, sizeof(length));
    xa_copy_to_shared(rec + offsetof(xshm_record_header_t, type), &type, sizeof(type));
}

static uint64_t mark_of(uint64_t pos) { return pos | 1u; }

static uint64_t *mark_at(const shm_ring_t *r, uint64_t pos)
{
    return (uint64_t *)(void *)(r->data + (pos & r->mask));
}

/* Bytes a record of `span` clears past its end: the mark word of the next
 * record (none for a record that fills the whole ring: the word past it is
 * its own mark). */
static uint32_t clear_span(const shm_ring_t *r, uint32_t span)
{
    return span + 8u <= r->capacity ? 8u : 0u;
}

/* The new head: past every record that [.., end) will overwrite. Walks the
 * headers of our own earlier records (bounded: a reader may write the
 * mapping, so a malformed one ends the walk at `start`). */
static uint64_t advance_head(const shm_ring_t *r, uint64_t head, uint64_t tail, uint64_t start,
                             uint64_t end)
{
    if (end <= r->capacity)
        return head;
    uint64_t target = end - r->capacity;
    while (head < target) {
        if (head >= tail)
            return start; /* only the padding we are about to write is left */
        xshm_record_header_t hdr;
        uint32_t span = record_at(r, head, &hdr);
        if (span == 0 || head + span > tail)
            return start; /* damaged: count everything before us overwritten */
        head += span;
    }
    return head;
}

shm_error_t xshm_ring_writer_init(shm_ring_t *r)
{
    if (!r || !r->hdr)
        return SHM_ERROR_INVALID_PARAM;
    xshm_ring_header_t *h = r->hdr;
    /* Continue where the previous writer (if any) stopped; bound what it
     * left. */
    uint64_t tail = xa_load64_acq(&h->tail);
    uint64_t head = xa_load64_acq(&h->head);
    uint64_t limit = xa_load64_relaxed(&h->limit);
    uint64_t seq = xa_load64_relaxed(&h->next_seq);
    uint64_t bytes = xa_load64_relaxed(&h->bytes_written);
    const uint64_t misaligned = SHM_RECORD_ALIGN - 1;
    if (tail >= (1ull << 62) || (tail & misaligned) != 0)
        head = tail = 0; /* not a position an honest writer reaches: start over */
    else if (head > tail || (head & misaligned) != 0 || tail - head > r->capacity)
        head = tail; /* it had cleared everything up to its padding, or corrupt */
    /* A writer that died between marking a record complete and publishing
     * the tail left a record that readers may have read already (through
     * its mark): publish it (and a padding record before it), so that we
     * write after it. It may have counted the record in next_seq already
     * (it died between its next_seq and tail stores; bytes_written is then
     * taken as it is, a statistic). */
    for (int k = 0; k < 2; k++) {
        xshm_record_header_t hdr;
        uint32_t span = record_at(r, tail, &hdr);
        uint32_t off = (uint32_t)(tail & r->mask);
        bool message = is_message(hdr.type);
        bool counted = message && hdr.seq + 1 == seq;
        if (span == 0 || r->capacity - off < SHM_RECORD_HEADER_SIZE || hdr.pos != mark_of(tail) ||
            (message && hdr.seq != seq && !counted) || tail + span - head > r->capacity)
            break;
        if (message && !counted) {
            seq++;
            bytes += hdr.length;
        }
        tail += span;
        if (message)
            break; /* a writer writes one message at a time */
    }
    /* limit only grows (readers rely on it); one outside (tail, tail +
     * capacity] is not an honest writer's and is taken back to the tail. */
    if (limit < tail || limit - tail > r->capacity)
        limit = tail;
    /* The mark word at the tail must not say "complete" to a reader before
     * we write there. Our predecessor cleared it; if it still says so (a
     * damaged record, or a reset ring), clear it, after giving up what is
     * stored there. */
    bool clear = xa_load64_relaxed(mark_at(r, tail)) == mark_of(tail);
    if (clear) {
        head = advance_head(r, head, tail, tail, tail + 8u);
        if (limit < tail + 8u)
            limit = tail + 8u + limit_step(r);
    }
    /* pub_ver even: a writer that died between its two stores left it odd. */
    uint64_t ver = xa_load64_relaxed(&h->pub_ver);
    xa_store64_relaxed(&h->pub_ver, (ver + 1) & ~(uint64_t)1);
    xa_store64_rel(&h->limit, limit);
    xa_store64_rel(&h->head, head);
    xa_fence_rel();
    if (clear)
        xa_store64_relaxed(mark_at(r, tail), 0);
    xa_store64_relaxed(&h->next_seq, seq);
    xa_store64_relaxed(&h->bytes_written, bytes);
    xa_store64_rel(&h->intent, tail);
    xa_store64_rel(&h->tail, tail);
    plat_proc_id_t self;
    xshm_plat_proc_self(&self);
    xa_store32_relaxed(&h->writer_pid, self.pid);
    xa_store64_relaxed(&h->writer_start, self.start_time);
    xa_store32_relaxed(&h->writer_ptr_bits, ptr_bits());
    /* A sleeper whose remote fence failed asked writers to fence themselves. */
    r->w_remote_fence = xshm_plat_remote_fence_register() && xa_load32_acq(&h->fence_failed) == 0;
    /* Published with a full fence: a reader that sleeps after seeing the flag
     * fences for us; one that saw it clear keeps relying on our own fence. */
    xa_xchg32(&h->writer_flags, r->w_remote_fence ? SHM_WRITER_REMOTE_FENCE : 0u);
    r->w_tail = tail;
    r->w_head = head;
    r->w_limit = limit;
    r->w_seq = seq;
    r->w_bytes = bytes;
    r->w_open = false;
    r->writer_ready = true;
    return SHM_SUCCESS;
}

void xshm_ring_writer_fini(shm_ring_t *r)
{
    if (r) {
        r->writer_ready = false;
        r->w_open = false;
    }
}

/* The 24-byte header of message `seq` of `size` bytes. Every path that
 * writes a message's header builds it here. */
/* Write the header of the reserved record (all but its mark word). */
static void write_header(shm_ring_t *r, uint32_t size)
{
    xshm_record_header_t rh;
    record_header_init(r, &rh, r->w_seq, size);
    put_header(r->data + (uint32_t)(r->w_start & r->mask), rh.seq, rh.length, rh.type);
}

/*
 * Write protocol, with the C11 argument for each step (the reader's side is
 * in xshm_ring_read). xshm_ring_write is reserve_record (step 1 and the
 * header), the copy of the payload, then commit_record (steps 2 and 3); the
 * zero-copy calls run the same two halves with the caller's writes between
 * them.
 *  1. head, limit and intent are stored (relaxed) before the release fence
 *     F1, and every byte of the new records after it. A reader that copies
 *     any of those bytes and then runs its acquire fence F2 synchronises
 *     with us (F1 before a store, F2 after a load that read it), so its
 *     later loads of limit and head return these values or newer ones.
 *     That is what makes a torn copy detectable. (An ARM64 CPU may reorder
 *     plain stores; without F1 a reader could see new bytes with an old
 *     head.) head covers the records the new bytes overwrite, and the 8
 *     bytes past the record that step 2 clears. The payload the caller
 *     writes in place after reserve_record is such bytes too: F1 comes
 *     before it.
 *  2. The record: header and payload, then the mark word of the next
 *     record cleared, then the record's own mark (position | 1) with a
 *     release store. A reader that loads that mark (acquire) sees the
 *     record whole, and the next mark word cleared (or a later value): so
 *     the mark it finds at its next position is never a stale word of an
 *     older lap, which an older message's payload could make look like
 *     that position's mark.
 *  3. tail is published with a release store: a reader that loads it
 *     (acquire) sees every byte of every record below it. next_seq is
 *     published with it under pub_ver (odd while they change), for readers
 *     that attach or resynchronise.
 * A commit may be shorter than its reservation: step 1 gave up the records
 * the reserved size would overwrite, and they stay given up (a reader that
 * lags counts them lost, as if they were overwritten). An abort publishes
 * no message (see xshm_ring_abort).
 */
static inline uint8_t *reserve_record(shm_ring_t *r, uint32_t size)
{
    xshm_ring_header_t *h = r->hdr;
    uint32_t span = record_size(size);

    uint64_t tail = r->w_tail;
    uint32_t off = (uint32_t)(tail & r->mask);
    uint32_t rest = r->capacity - off;
    uint32_t pad = rest < span ? rest : 0;
    uint64_t start = tail + pad;
    uint64_t end = start + span;
    uint32_t clear = clear_span(r, span);
    uint64_t head = advance_head(r, r->w_head, tail, start, end + clear);

    /* 1. */
    if (head != r->w_head)
        xa_store64_relaxed(&h->head, head);
    if (end + clear > r->w_limit) {
        r->w_limit = end + clear + limit_step(r);
        xa_store64_relaxed(&h->limit, r->w_limit);
    }
    xa_store64_relaxed(&h->intent, end);
    xa_fence_rel();

    /* 2. A padding record only when the new record leaves it intact: one that
     * reaches into it (span > off, the record starting at offset 0) would
     * overwrite its header. Without one, a reader at the padding finds head
     * (= start) past it and resumes there. */
    r->w_padded = pad >= SHM_RECORD_HEADER_SIZE && span <= off;
    if (r->w_padded) {
        put_header(r->data + off, 0, pad, SHM_REC_PADDING);
        xa_store64_rel(mark_at(r, tail), mark_of(tail));
    }
    r->w_head = head; /* stored: it only grows, whatever the record becomes */
    r->w_start = start;
    r->w_size = size;
    write_header(r, size);
    return r->data + (uint32_t)(start & r->mask) + SHM_RECORD_HEADER_SIZE;
}

/* Steps 2 (the marks) and 3 for the reserved record, `size` bytes long
 * (1..the reserved size). */
static inline void commit_record(shm_ring_t *r, uint32_t size)
{
    xshm_ring_header_t *h = r->hdr;
    uint64_t start = r->w_start;
    uint32_t span = record_size(size);
    uint64_t end = start + span;
    if (size != r->w_size)
        write_header(r, size);
    if (clear_span(r, span))
        xa_store64_relaxed(mark_at(r, end), 0);
    xa_store64_rel(mark_at(r, start), mark_of(start));

    /* 3. */
    uint64_t ver = xa_load64_relaxed(&h->pub_ver);
    xa_store64_relaxed(&h->pub_ver, ver + 1);
    xa_fence_rel();
    xa_store64_relaxed(&h->next_seq, r->w_seq + 1);
    r->w_bytes += size;
    xa_store64_relaxed(&h->bytes_written, r->w_bytes);
    xa_store64_rel(&h->tail, end);
    xa_store64_rel(&h->pub_ver, ver + 2);

    r->w_tail = end;
    r->w_seq++;
}

shm_error_t xshm_ring_write(shm_ring_t *r, const void *data, uint32_t size)
{
    if (!r || !r->hdr || !data || size == 0 || size > r->max_payload)
        return SHM_ERROR_INVALID_PARAM;
    if (!r->writer_ready)
        return SHM_ERROR_INVALID_PARAM;
    if (r->w_open)
        return SHM_ERROR_BUSY;
    uint8_t *payload = reserve_record(r, size);
    xa_copy_to_shared(payload, data, size);
    commit_record(r, size);
    return SHM_SUCCESS;
}

shm_error_t xshm_ring_reserve(shm_ring_t *r, uint32_t size, void **ptr)
{
    if (!r || !r->hdr || !ptr || size == 0 || size > r->max_payload || !r->writer_ready)
        return SHM_ERROR_INVALID_PARAM;
    if (r->w_open)
        return SHM_ERROR_BUSY;
    *ptr = reserve_record(r, size);
    r->w_open = true;
    return SHM_SUCCESS;
}

void *xshm_ring_reserved(const shm_ring_t *r, uint32_t *size)
{
    if (!r || !r->writer_ready || !r->w_open)
        return NULL;
    if (size)
        *size = r->w_size;
    return r->data + (uint32_t)(r->w_start & r->mask) + SHM_RECORD_HEADER_SIZE;
}

shm_error_t xshm_ring_commit(shm_ring_t *r, uint32_t size)
{
    if (!r || !r->writer_ready || !r->w_open || size == 0 || size > r->w_size)
        return SHM_ERROR_INVALID_PARAM;
    r->w_open = false;
    commit_record(r, size);
    return SHM_SUCCESS;
}

shm_error_t xshm_ring_abort(shm_ring_t *r)
{
    if (!r || !r->writer_ready || !r->w_open)
        return SHM_ERROR_INVALID_PARAM;
    r->w_open = false;
    if (!r->w_padded)
        return SHM_SUCCESS; /* nothing marked: the next write starts at the tail again */
    /* A padding record is marked, and a reader may have read it: we may not
     * write there again in this lap. Publish it (tail = start, no message),
     * with the mark word at start cleared first, as at every published
     * tail (step 1 gave that word up). */
    xshm_ring_header_t *h = r->hdr;
    uint64_t start = r->w_start;
    xa_store64_relaxed(mark_at(r, start), 0);
    uint64_t ver = xa_load64_relaxed(&h->pub_ver);
    xa_store64_relaxed(&h->pub_ver, ver + 1);
    xa_fence_rel();
    xa_store64_rel(&h->tail, start);
    xa_store64_rel(&h->pub_ver, ver + 2);
    r->w_tail = start;
    return SHM_SUCCESS;
}

bool xshm_ring_wake_needed(shm_ring_t *r)
{
    /* Orders our tail store before the load of `waiters`; the reader does the
     * mirror image (waiting store, fence, tail load): one side sees the other.
     * With a remote fence the sleeper's xshm_plat_remote_fence() plays our part,
     * until a sleeper reports that its remote fence failed. */
    if (r->w_remote_fence) {
        if (xa_load32_relaxed(&r->hdr->fence_failed) == 0) {
            xa_compiler_barrier();
            return xa_load32_relaxed(&r->hdr->waiters) != 0;
        }
        r->w_remote_fence = false; /* from now on we fence ourselves */
    }
    xa_fence_seq_cst();
    return xa_load32_relaxed(&r->hdr->waiters) != 0;
}

void xshm_ring_wake_sleepers(shm_ring_t *r, void (*wake)(void *ctx, uint32_t slot), void *ctx)
{
    for (uint32_t i = 0; i < r->max_readers; i++) {
        xshm_reader_slot_t *s = &r->slots[i];
        if (xa_load32_relaxed(&s->waiting) && xa_xchg32(&s->waiting, 0) == 1) {
            xa_fetch_add32(&r->hdr->waiters, (uint32_t)-1);
            wake(ctx, i);
        }
    }
}

/* ---- readers ----------------------------------------------------------------------------- */

/* A consistent (tail, next_seq[, bytes_written]) set: see shm_ringbuffer.h. */
void xshm_ring_counters(const shm_ring_t *r, uint64_t *tail, uint64_t *seq, uint64_t *bytes)
{
    xshm_ring_header_t *h = r->hdr;
    for (unsigned spins = 0;; spins++) {
        uint64_t v1 = xa_load64_acq(&h->pub_ver);
        uint64_t t = xa_load64_acq(&h->tail);
        uint64_t s = xa_load64_acq(&h->next_seq);
        uint64_t b = bytes ? xa_load64_acq(&h->bytes_written) : 0; /* (a reader: no load) */
        xa_fence_acq();
        uint64_t v2 = xa_load64_relaxed(&h->pub_ver);
        if ((v1 == v2 && (v1 & 1) == 0) || spins > 1000000u) {
            /* (after a million tries: a writer died between the two pub_ver
             * stores, and tail/next_seq will not change under us again) */
            *tail = t & ~(uint64_t)(SHM_RECORD_ALIGN - 1); /* never a misaligned cursor */
            *seq = s;
            if (bytes)
                *bytes = b;
            return;
        }
        xa_pause();
    }
}

static void publish_fields(xshm_ring_reader_t *rd)
{
    xshm_reader_slot_t *s = rd->slot;
    /* A message held in a view is still unread: the slot shows the view's
     * position until its release, so that a writer pacing itself with
     * shm_ring_available() does not overwrite it. */
    xa_store64_relaxed(&s->cursor, rd->view_open ? rd->view_pos : rd->cursor);
    xa_store64_relaxed(&s->expected_seq, rd->expected_seq);
    xa_store64_relaxed(&s->received, rd->received);
    xa_store64_relaxed(&s->lost, rd->lost);
    xa_store64_relaxed(&s->bytes, rd->bytes);
}

/* Show our position and counters in our slot while our claim stands. A
 * claim is taken from a process only once it is gone (xshm_ring_slot_reclaim),
 * so the check guards against a reader wrongly taken for gone, not a race
 * of two live owners. */
static void reader_publish(xshm_ring_reader_t *rd)
{
    if (xa_load64_relaxed(&rd->slot->claim) == rd->claim)
        publish_fields(rd);
}

void xshm_ring_reader_counts(const xshm_ring_reader_t *rd, xshm_reader_counts_t *out)
{
    memset(out, 0, sizeof(*out));
    if (!rd || !rd->slot)
        return;
    out->received = xa_load64_relaxed(&rd->slot->received);
    out->bytes = xa_load64_relaxed(&rd->slot->bytes);
    out->lost = xa_load64_relaxed(&rd->slot->lost);
}

/* The claim counter after `word`'s: never 0, so that a claim's epoch (and
 * a channel's client id made from it) is never 0. */
static uint32_t next_epoch(uint64_t word)
{
    uint32_t epoch = (SHM_CLAIM_EPOCH(word) + 1u) & 0x3FFFFFFFu;
    return epoch ? epoch : 1u;
}

/* Fill in rd as the reader of slot i, which this process has just claimed:
 * it starts at the published tail. */
static void reader_init(shm_ring_t *r, xshm_ring_reader_t *rd, uint32_t i,
                        const plat_proc_id_t *self)
{
    xshm_reader_slot_t *s = &r->slots[i];
    memset(rd, 0, sizeof(*rd));
    rd->ring = r;
    rd->slot = s;
    rd->slot_index = i;
    uint64_t cursor;
    xshm_ring_counters(r, &cursor, &rd->expected_seq, NULL);
    xa_store64_relaxed(&rd->cursor, cursor);
    rd->seq_pos = rd->tail_seen = cursor;
    rd->peek = true; /* the mark word at a published tail is cleared */
    xa_store64_relaxed(&s->start_time, self->start_time);
    xa_store32_relaxed(&s->ptr_bits, ptr_bits());
    xa_store32_relaxed(&s->waiting, 0);
    publish_fields(rd);
}

/* Clear slot s's waiting mark (and its count in the ring header). */
static void clear_waiting(shm_ring_t *r, xshm_reader_slot_t *s)
{
    if (xa_xchg32(&s->waiting, 0) == 1)
        xa_fetch_add32(&r->hdr->waiters, (uint32_t)-1);
}

static uint64_t freed(uint64_t claim)
{
    return SHM_CLAIM(SHM_CLAIM_PID(claim), SHM_CLAIM_EPOCH(claim), SHM_SLOT_FREE);
}

shm_error_t xshm_ring_reader_attach_then(shm_ring_t *r, xshm_ring_reader_t *rd,
                                         shm_error_t (*prepare)(void *ctx, uint32_t slot,
                                                                uint32_t epoch),
                                         void *ctx)
{
    if (!r || !r->hdr || !rd)
        return SHM_ERROR_INVALID_PARAM;
    plat_proc_id_t self;
    xshm_plat_proc_self(&self);
    for (uint32_t i = 0; i < r->max_readers; i++) {
        xshm_reader_slot_t *s = &r->slots[i];
        uint64_t word = xa_load64_acq(&s->claim);
        if (SHM_CLAIM_STATE(word) != SHM_SLOT_FREE)
            continue;
        uint32_t epoch = next_epoch(word);
        uint64_t claiming = SHM_CLAIM(self.pid, epoch, SHM_SLOT_CLAIMING);
        if (!xa_cas64(&s->claim, word, claiming))
            continue; /* taken meanwhile */
        /* The slot is ours while this process lives: fill it in. */
        reader_init(r, rd, i, &self);
        if (prepare) {
            shm_error_t e = prepare(ctx, i, epoch);
            if (e != SHM_SUCCESS) {
                xa_cas64(&s->claim, claiming, freed(claiming));
                memset(rd, 0, sizeof(*rd));
                return e;
            }
        }
        /* ACTIVE by a compare-and-swap (seq_cst: the identity above, and
         * what prepare did, is visible to whoever sees ACTIVE). It fails
         * only if the slot was reclaimed, i.e. this process was taken for
         * gone: the slot is someone else's then, and we leave it alone. */
        uint64_t active = SHM_CLAIM(self.pid, epoch, SHM_SLOT_ACTIVE);
        if (!xa_cas64(&s->claim, claiming, active)) {
            memset(rd, 0, sizeof(*rd));
            continue;
        }
        rd->claim = active;
        return SHM_SUCCESS;
    }
    return SHM_ERROR_BUSY;
}

shm_error_t xshm_ring_reader_attach(shm_ring_t *r, xshm_ring_reader_t *rd)
{
    return xshm_ring_reader_attach_then(r, rd, NULL, NULL);
}

void xshm_ring_reader_take(shm_ring_t *r, xshm_ring_reader_t *rd)
{
    plat_proc_id_t self;
    xshm_plat_proc_self(&self);
    xshm_reader_slot_t *s = &r->slots[0];
    uint64_t word, claiming;
    uint32_t epoch;
    do {
        word = xa_load64_acq(&s->claim);
        epoch = next_epoch(word);
        claiming = SHM_CLAIM(self.pid, epoch, SHM_SLOT_CLAIMING);
    } while (!xa_cas64(&s->claim, word, claiming));
    /* A previous holder that died asleep left its waiting mark: it is not
     * ours to keep counted. */
    clear_waiting(r, &r->slots[0]);
    reader_init(r, rd, 0, &self);
    uint64_t active = SHM_CLAIM(self.pid, epoch, SHM_SLOT_ACTIVE);
    xa_cas64(&s->claim, claiming, active); /* nobody else moves a taken slot */
    rd->claim = active;
}

void xshm_ring_reader_detach(xshm_ring_reader_t *rd)
{
    if (!rd || !rd->slot)
        return;
    clear_waiting(rd->ring, rd->slot);
    /* Only if the claim still stands. The identity stays: it names the last
     * owner, for a server that polls after we left. */
    xa_cas64(&rd->slot->claim, rd->claim, freed(rd->claim));
    rd->slot = NULL;
    rd->ring = NULL;
}

uint64_t xshm_ring_reader_claim(const xshm_ring_reader_t *rd) { return rd->claim; }

uint64_t xshm_ring_slot_claim(const shm_ring_t *r, uint32_t i)
{
    if (!r || !r->hdr || i >= r->max_readers)
        return 0;
    return xa_load64_acq(&r->slots[i].claim);
}

bool xshm_ring_slot_reclaim(shm_ring_t *r, uint32_t i, uint64_t observed)
{
    if (!r || i >= r->max_readers || SHM_CLAIM_STATE(observed) == SHM_SLOT_FREE)
        return false;
    xshm_reader_slot_t *s = &r->slots[i];
    if (xa_load64_acq(&s->claim) != observed)
        return false;
    /* The owner is gone: nobody sets its waiting mark again. Clear it before
     * the slot is free, so that we never clear a next owner's. */
    clear_waiting(r, s);
    return xa_cas64(&s->claim, observed, freed(observed));
}

bool xshm_ring_reader_pending(const xshm_ring_reader_t *rd)
{
    /* Called without the reader's lock (a hint for waiting): the cursor is
     * only ever stored atomically. */
    return xa_load64_acq(&rd->ring->hdr->tail) > xa_load64_relaxed(&rd->cursor);
}

/*
 * True unless the record at pos is intact after the caller's copy of it.
 * The acquire fence pairs with the writer's release fence before its data
 * stores (xshm_ring_write, step 1): if any copied byte was written after the
 * record at pos was given up, the writer's new limit and head are visible
 * now. limit <= pos + capacity: the writer has not written at pos +
 * capacity or beyond, where the record's bytes lie in the next lap; else
 * head > pos says the record was given up.
 */
static bool overwritten(const shm_ring_t *r, uint64_t pos)
{
    xa_fence_acq();
    if (xa_load64_relaxed(&r->hdr->limit) <= pos + r->capacity)
        return false;
    return xa_load64_relaxed(&r->hdr->head) > pos;
}

/* Lost our place (lapped, or shared state out of bounds): resume at the
 * oldest intact record if head is believable, else at the tail. */
static shm_error_t resync(xshm_ring_reader_t *rd, bool corrupt)
{
    const shm_ring_t *r = rd->ring;
    /* The writer stores head before publishing the tail of the same write
     * (both ordered by its release fence). So a tail seen before head bounds
     * it from below (head >= tail - capacity), and a tail seen after it from
     * above (head <= tail + capacity: at most the padding of the record being
     * written). A head outside these bounds is not the writer's. */
    uint64_t tail1 = xa_load64_acq(&r->hdr->tail);
    uint64_t head = xa_load64_acq(&r->hdr->head);
    uint64_t tail2 = xa_load64_acq(&r->hdr->tail);
    if (!corrupt && head > rd->cursor && (head & (SHM_RECORD_ALIGN - 1)) == 0 &&
        head + r->capacity >= tail1 && head <= tail2 + r->capacity) {
        xa_store64_relaxed(&rd->cursor, head);
        rd->peek = false; /* only records below a published tail, from here */
        return SHM_SUCCESS;
    }
    /* Nothing believable to resume from: start over at the tail. Loss from
     * here on is counted again from the sequence numbers. */
    uint64_t cursor;
    xshm_ring_counters(r, &cursor, &rd->expected_seq, NULL);
    xa_store64_relaxed(&rd->cursor, cursor);
    rd->tail_seen = rd->seq_pos = cursor;
    rd->peek = false;
    return SHM_ERROR_INVALID_SEGMENT;
}

/*
 * Read protocol (the writer's side is in xshm_ring_write):
 *  1. tail is loaded with acquire, only when the reader has read all it
 *     knew of (a lagging reader batches): every record below it is written.
 *  2. The record's header is copied and bounded, then its payload.
 *  3. overwritten(): an acquire fence, then limit and perhaps head, two
 *     words that only grow. A copy that read any byte of a later write sees
 *     that write's limit and head (release fence / acquire fence
 *     synchronisation), and is discarded. Nothing stored in the ring itself
 *     is trusted for this: newer bytes could repeat it.
 *  4. Only then are the header's position and sequence number checked; a
 *     mismatch now is corruption, not a race.
 * A record that is too big for the caller's buffer, malformed, or padding is
 * acted upon only after the same check.
 * next_message is the protocol, for a copy (xshm_ring_read) and for a view
 * (xshm_ring_view: `view`, buf NULL, *size UINT32_MAX): a view checks the
 * header as a copy checks header and payload, and leaves the payload's
 * check, and the counting of the message as received, to
 * xshm_ring_view_release.
 */
static inline shm_error_t next_message(xshm_ring_reader_t *rd, void *buf, uint32_t *size,
                                       bool view)
{
    const shm_ring_t *r = rd->ring;
    if (rd->view_open)
        return SHM_ERROR_BUSY; /* one view at a time, and no read past it */
    shm_error_t result = SHM_ERROR_EMPTY; /* SUCCESS only with a message copied */
    uint64_t start_cursor = rd->cursor;

    /* Every try either delivers, ends, or moves the cursor forward (past
     * padding, or to a head past it); the bound only keeps a writer that
     * laps us on every try, or a hostile one, from holding us. */
    for (uint32_t tries = 0; tries < SHM_RING_READ_TRIES; tries++) {
        uint64_t c = rd->cursor;
        uint32_t off = (uint32_t)(c & r->mask);
        uint64_t tail = rd->tail_seen;
        bool peeked = c >= tail && rd->peek && r->capacity - off >= SHM_RECORD_HEADER_SIZE;
        uint64_t mark = peeked ? xa_load64_acq(mark_at(r, c)) : 0;
        if (peeked && mark == mark_of(c)) {
            /* 1a. The next record's mark: it is complete, and it ends before
             * this lap does. Read it without waiting to see the tail, which
             * the writer publishes after it, and without loading the line
             * the writer updates for every message. */
            tail = c + (r->capacity - off);
        } else if (peeked && xshm_ring_clear_at(r, c, mark)) {
            /* 1b. The word the writer cleared for us is still clear, and
             * the writer has written no byte of the next lap at our
             * position (limit, which it moves before writing; acquire on
             * the mark: a word of a later lap would come with that lap's
             * limit): the record at c is not complete yet. Empty, without
             * loading the tail: a reader that polls an empty ring keeps
             * only the mark's line and limit's, which the writer rarely
             * writes, in its cache. Any other word, or a limit past
             * c + capacity (we may be lapped), takes the tail below. */
            break;
        } else if (c >= tail) {
            /* 1. */
            uint64_t t = xa_load64_acq(&r->hdr->tail);
            if ((t & (SHM_RECORD_ALIGN - 1)) != 0) {
                resync(rd, true); /* no honest writer stores that */
                result = SHM_ERROR_INVALID_SEGMENT;
                break;
            }
            tail = rd->tail_seen = t;
            if (t == c)
                break; /* empty */
            if (t < c) {
                /* We resumed at a head just past padding that the writer
                 * has not published yet: nothing to read until it does.
                 * Further ahead than a ring: the shared tail is corrupt. */
                if (c - t > r->capacity) {
                    resync(rd, true);
                    result = SHM_ERROR_INVALID_SEGMENT;
                }
                break;
            }
        }
        bool lapped = tail - c > r->capacity;
        xshm_record_header_t hdr = {0, 0, 0, 0};
        uint32_t span = 0;
        if (!lapped) {
            /* 2. */
            span = record_at(r, c, &hdr);
            if (span == 0 || c + span > tail) {
                if (!overwritten(r, c)) {
                    resync(rd, true); /* intact but malformed: corrupt */
                    result = SHM_ERROR_INVALID_SEGMENT;
                    break;
                }
                lapped = true;
            } else if (is_message(hdr.type) && hdr.length <= *size && !view &&
                       (!rd->want_tag || tag_of(hdr.type) == rd->want_tag)) {
                xa_copy_from_shared(buf, r->data + off + SHM_RECORD_HEADER_SIZE, hdr.length);
                lapped = overwritten(r, c); /* 3. */
            } else if (off + SHM_RECORD_HEADER_SIZE <= r->capacity) {
                lapped = overwritten(r, c); /* padding, too big, a view, or not ours: header only */
            }
        }
        if (lapped) {
            if (resync(rd, false) != SHM_SUCCESS) {
                result = SHM_ERROR_INVALID_SEGMENT;
                break;
            }
            continue;
        }
        /* 4. The copy is intact. */
        if (hdr.pos != mark_of(c)) {
            resync(rd, true);
            result = SHM_ERROR_INVALID_SEGMENT;
            break;
        }
        if (hdr.type == SHM_REC_PADDING) {
            /* The next lap's first mark word was not cleared for us. */
            rd->peek = false;
            xa_store64_relaxed(&rd->cursor, c + span);
            continue;
        }
        bool ours = !rd->want_tag || tag_of(hdr.type) == rd->want_tag;
        if (ours && hdr.length > *size) {
            *size = hdr.length; /* the message stays for a larger buffer */
            result = SHM_ERROR_BUFFER_TOO_SMALL;
            break;
        }
        /* The sequence only grows, and by no more than the messages that
         * fit in the bytes since the position expected_seq belongs to. */
        if (hdr.seq < rd->expected_seq ||
            hdr.seq - rd->expected_seq > (c - rd->seq_pos) / record_size(1)) {
            resync(rd, true);
            result = SHM_ERROR_INVALID_SEGMENT;
            break;
        }
        rd->lost += hdr.seq - rd->expected_seq;
        rd->expected_seq = hdr.seq + 1;
        rd->seq_pos = c + span;
        rd->peek = true; /* its writer cleared the next mark word first */
        xa_store64_relaxed(&rd->cursor, c + span);
        if (!ours)
            continue; /* another reader's: passed over, not received, not lost */
        rd->last_tag = tag_of(hdr.type);
        if (view) {
            rd->view_open = true; /* received once released intact */
            rd->view_pos = c;
            rd->view_len = hdr.length;
        } else {
            rd->received++;
            rd->bytes += hdr.length;
        }
        *size = hdr.length;
        result = SHM_SUCCESS;
        break;
    }
    if (rd->cursor != start_cursor)
        reader_publish(rd);
    return result;
}

shm_error_t xshm_ring_read(xshm_ring_reader_t *rd, void *buf, uint32_t *size)
{
    if (!rd || !rd->ring || !size || (!buf && *size != 0))
        return SHM_ERROR_INVALID_PARAM;
    return next_message(rd, buf, size, false);
}

shm_error_t xshm_ring_view(xshm_ring_reader_t *rd, const void **ptr, uint32_t *len,
                           uint64_t *token)
{
    if (!rd || !rd->ring || !ptr || !len || !token)
        return SHM_ERROR_INVALID_PARAM;
    uint32_t size = UINT32_MAX;
    shm_error_t e = next_message(rd, NULL, &size, true);
    if (e != SHM_SUCCESS)
        return e;
    const shm_ring_t *r = rd->ring;
    *ptr = r->data + (uint32_t)(rd->view_pos & r->mask) + SHM_RECORD_HEADER_SIZE;
    *len = rd->view_len;
    *token = rd->view_pos;
    return SHM_SUCCESS;
}

/* The check of step 3, for the bytes of a view, after the caller's reads. */
shm_error_t xshm_ring_view_release(xshm_ring_reader_t *rd, uint64_t token)
{
    if (!rd || !rd->ring || !rd->view_open || token != rd->view_pos)
        return SHM_ERROR_INVALID_PARAM;
    rd->view_open = false;
    shm_error_t result = SHM_SUCCESS;
    if (!overwritten(rd->ring, token)) {
        rd->received++;
        rd->bytes += rd->view_len;
    } else {
        /* Lapped while held: lost, not received; resume as a lapped copy
         * does, from the record's position (head is past it). */
        rd->lost++;
        xa_store64_relaxed(&rd->cursor, token);
        result = resync(rd, false) == SHM_SUCCESS ? SHM_ERROR_OVERWRITTEN
                                                  : SHM_ERROR_INVALID_SEGMENT;
    }
    reader_publish(rd);
    return result;
}

uint64_t xshm_ring_reader_lost(const xshm_ring_reader_t *rd) { return rd ? rd->lost : 0; }

bool xshm_ring_reader_sleep_begin(xshm_ring_reader_t *rd)
{
    if (xa_xchg32(&rd->slot->waiting, 1) == 0)
        xa_fetch_add32(&rd->ring->hdr->waiters, 1);
    /* Both RMWs above are full fences: the caller's next tail load is
     * ordered after them. A writer that skips its own fence needs ours to
     * reach its CPU too, unless a sleeper already found that impossible. */
    const xshm_ring_header_t *h = rd->ring->hdr;
    return (xa_load32_acq(&h->writer_flags) & SHM_WRITER_REMOTE_FENCE) != 0 &&
           xa_load32_relaxed(&h->fence_failed) == 0;
}

void xshm_ring_reader_fence_failed(xshm_ring_reader_t *rd)
{
    xa_xchg32(&rd->ring->hdr->fence_failed, 1);
}

void xshm_ring_reader_sleep_end(xshm_ring_reader_t *rd)
{
    clear_waiting(rd->ring, rd->slot);
}

/* ---- monitoring ----------------------------------------------------------------------------- */

uint32_t xshm_ring_active_readers(const shm_ring_t *r)
{
    uint32_t n = 0;
    if (!r || !r->hdr)
        return 0;
    for (uint32_t i = 0; i < r->max_readers; i++)
        if (SHM_CLAIM_STATE(xa_load64_acq(&r->slots[i].claim)) == SHM_SLOT_ACTIVE)
            n++;
    return n;
}

uint32_t shm_ring_available(const shm_ring_t *r)
{
    if (!r || !r->hdr)
        return 0;
    uint64_t tail = xa_load64_acq(&r->hdr->tail);
    uint64_t used = 0;
    for (uint32_t i = 0; i < r->max_readers; i++) {
        if (SHM_CLAIM_STATE(xa_load64_acq(&r->slots[i].claim)) != SHM_SLOT_ACTIVE)
            continue;
        uint64_t c = xa_load64_relaxed(&r->slots[i].cursor);
        uint64_t lag = c <= tail ? tail - c : 0;
        if (lag > used)
            used = lag;
    }
    return used >= r->capacity ? 0 : (uint32_t)(r->capacity - used);
}

uint64_t xshm_ring_messages_written(const shm_ring_t *r)
{
    return (r && r->hdr) ? xa_load64_acq(&r->hdr->next_seq) : 0;
}
