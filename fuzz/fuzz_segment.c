/*
 * fuzz_segment.c - libFuzzer target: a shared segment written by a hostile,
 * buggy or crashed peer.
 *
 * Built by scripts/fuzz.sh with clang -fsanitize=fuzzer,address,undefined
 * straight from the library's sources. Two kinds of input, chosen by the
 * low two bits of the first byte:
 *
 *   raw (00)   the rest of the input is the whole segment, copied into a
 *              buffer of exactly that size (64-byte aligned), so that
 *              AddressSanitizer reports any access past the mapping.
 *              xshm_segment_attach; if it accepts the segment, readers are
 *              attached to every ring and read with buffers of many sizes,
 *              the monitoring calls run, then a writer takes the ring over
 *              (xshm_ring_writer_init), writes, and the readers read again.
 *              An odd pub_ver word (a writer that died while publishing)
 *              is made even unless the first byte is 0xFC: with it every
 *              reader attach spins a million times (~0.5 s under ASan).
 *   ops (else) a valid segment is built with xshm_segment_format (geometry
 *              from bytes 1..4) and the rest is a program of operations:
 *              writes (single and bursts, sizes aimed at the ring's
 *              boundaries), reads, drains, reader attach/detach, writer
 *              restarts, monitoring, re-attaching the segment, and patches
 *              that overwrite ring header words, reader slot words, record
 *              header fields (of a chosen message, padding record, or the
 *              record at a reader's cursor) or data bytes.
 *
 * What the target reads of the shared state, beyond what the ring's calls
 * return, it reads through the inspection module (src/shm_inspect.h), as
 * the xshm tool does: so its snapshots meet the same hostile segments. A
 * view of the segment accepts exactly what xshm_segment_attach accepts, and
 * its values stay bounded (checked at each monitoring step); for a ring
 * nobody has patched they are exact (the tail and message count after each
 * write, each strong reader's cursor and counts).
 *
 * Never allowed: a crash, a sanitizer report, an access outside the
 * segment or the caller's buffer, an unbounded loop, an undocumented error
 * code. Beyond that the target keeps a model of what its writer wrote and,
 * for every reader of a ring that nobody has patched, checks what the ring
 * promises: each message is delivered intact and in order, the loss
 * counted from the sequence numbers equals the library's, "empty" means
 * every message was received or lost, a too-small buffer reports the next
 * message's size, and a lapped reader loses only the messages that were
 * really overwritten.
 *
 * FUZZ_STRICT=1 adds two checks. (1) A reader that attaches after a writer
 * took over a patched or hostile ring is checked as above, all but the
 * last promise (a writer that found malformed records may give up messages
 * that were not overwritten yet), and so are the counts its slot publishes
 * (xshm_ring_reader_counts). (2) Every position the library derives from
 * shared words is 8-byte aligned: a reader's cursor after it attaches and
 * after each read, the writer's head after it starts and after each write.
 * What strict runs find (2026-12-06: about 520,000 inputs in 18 minutes):
 * check (2) never failed; check (1) failed four times, always on the new
 * reader's slot counts and always for the same reason. A patch sets a
 * slot's claim word back (to 0 in the inputs traced) while a reader of this
 * process still holds the slot; a new reader of the same process then
 * claims the slot with the very value the stale one holds (same process
 * id, same epoch: SHM_CLAIM), so the library cannot tell them apart. The
 * stale reader publishes its received/lost counts into the new reader's
 * slot, and its detach frees the slot under the new reader. The messages
 * each reader delivers stay intact and each reader's own counts stay
 * right. Only a peer that writes the slot words can bring this about.
 * To look past that failure, run libFuzzer's jobs in a child process that
 * goes on after a failure (scripts/fuzz.sh ... -- -fork=1
 * -ignore_crashes=1); each failing input is kept in DIR/crashes.
 * FUZZ_TRACE=1 prints every operation, for replaying one input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "shm_inspect.h"
#include "shm_ringbuffer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_READERS 4u   /* readers the target tracks per ring */
#define FZ_MAX_RINGS 8u     /* rings driven in raw mode */
#define FZ_MAX_OPS 1024u    /* operations per input */
#define FZ_MAX_MODEL 65536u /* messages remembered per ring */
#define FZ_NOISE (1u << 18)

static void fz_fail(const char *what, const char *file, int line)
{
    fprintf(stderr, "fuzz_segment: check failed: %s (%s:%d)\n", what, file, line);
    abort();
}
#define FZ_CHECK(cond)                                 \
    do {                                               \
        if (!(cond))                                   \
            fz_fail(#cond, __FILE__, __LINE__);        \
    } while (0)

/* FUZZ_TRACE=1 in the environment: print every operation (for a replay). */
static int trace = -1;
static int strict = -1; /* FUZZ_STRICT=1 */
#define TRACE(...)                                                  \
    do {                                                            \
        if (trace)                                                  \
            fprintf(stderr, __VA_ARGS__);                           \
    } while (0)
#define U64(x) ((unsigned long long)(x))

/* ---- input and randomness --------------------------------------------------------- */

typedef struct fz_in {
    const uint8_t *p;
    size_t n;
    uint64_t rng; /* raw mode: choices come from a generator seeded by the input */
    bool use_rng;
} fz_in_t;

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* `bytes` bytes of input (zeros once it is exhausted), big-endian. */
static uint64_t take(fz_in_t *in, unsigned bytes)
{
    if (in->use_rng) {
        uint64_t v = splitmix(&in->rng);
        return bytes >= 8 ? v : v & ((1ull << (8 * bytes)) - 1);
    }
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++) {
        v <<= 8;
        if (in->n) {
            v |= *in->p++;
            in->n--;
        }
    }
    return v;
}
static uint32_t take8(fz_in_t *in) { return (uint32_t)take(in, 1); }
static uint32_t take16(fz_in_t *in) { return (uint32_t)take(in, 2); }
static bool more(const fz_in_t *in) { return in->use_rng || in->n > 0; }

/* ---- message contents ---------------------------------------------------------------- */

static uint8_t noise[FZ_NOISE];
static uint8_t msgbuf[SHM_MAX_MESSAGE_SIZE];

static void noise_init(void)
{
    static bool done;
    if (done)
        return;
    uint64_t s = 12345;
    for (size_t i = 0; i < sizeof(noise); i += 8) {
        uint64_t v = splitmix(&s);
        memcpy(noise + i, &v, 8);
    }
    done = true;
}

/* Message `seq` of ring k: noise from a place that depends on both; of 8
 * bytes or more it starts with its sequence number. */
static const uint8_t *msg_noise(uint32_t k, uint64_t seq)
{
    uint64_t x = seq * 0x9E3779B97F4A7C15ull + k * 0x632BE59BD9B4E019ull;
    return noise + (size_t)((x >> 20) % (FZ_NOISE - SHM_MAX_MESSAGE_SIZE));
}

static void msg_make(uint8_t *buf, uint32_t k, uint64_t seq, uint32_t len)
{
    memcpy(buf, msg_noise(k, seq), len);
    if (len >= 8)
        memcpy(buf, &seq, 8);
}

static bool msg_ok(const uint8_t *buf, uint32_t k, uint64_t seq, uint32_t len)
{
    const uint8_t *n = msg_noise(k, seq);
    if (len >= 8) {
        uint64_t s;
        memcpy(&s, buf, 8);
        return s == seq && memcmp(buf + 8, n + 8, len - 8) == 0;
    }
    return memcmp(buf, n, len) == 0;
}

/* ---- model ----------------------------------------------------------------------------- */

typedef struct fz_reader {
    xshm_ring_reader_t rd;
    bool active;
    uint64_t epoch;   /* ring epoch at attach: strong while unchanged */
    bool strong;      /* delivery, order and accounting are checked */
    bool exact;       /* and loss only of overwritten records */
    uint64_t next;    /* the sequence number it must deliver or lose next */
} fz_reader_t;

typedef struct fz_ring {
    uint32_t k;
    shm_ring_t *w;            /* the writer's handle */
    shm_ring_t *r;            /* the readers' handle (another attach) */
    bool writer;              /* writer_init succeeded */
    uint64_t epoch;           /* bumped by each patch of this ring */
    bool dirty;               /* patched since the writer's last init */
    bool ever_patched;        /* patched at any time (or hostile from the start) */
    bool seq_sane;            /* next_seq far from wrapping */
    uint64_t base, count;     /* messages [base, base + count) from our writer */
    uint64_t end;             /* where the writer's last record ends */
    uint64_t reach;           /* and the end of what it wrote: its record
                                 and the next record's mark word, cleared */
    uint32_t size[FZ_MAX_MODEL];
    uint64_t start[FZ_MAX_MODEL];
    fz_reader_t rd[FZ_MAX_READERS];
    uint32_t nreaders;        /* readers this ring can have (<= FZ_MAX_READERS) */
    bool slow;                /* pub_ver odd: every snapshot of the tail spins */
} fz_ring_t;

static fz_ring_t rings[FZ_MAX_RINGS];
static xshm_inspect_t *view; /* the observer's view of the segment */

static uint32_t rec_size(uint32_t payload)
{
    return (SHM_RECORD_HEADER_SIZE + payload + (SHM_RECORD_ALIGN - 1)) & ~(SHM_RECORD_ALIGN - 1);
}

static bool strong(const fz_ring_t *m, const fz_reader_t *x)
{
    return x->strong && x->epoch == m->epoch;
}

/* Message seq of our writer: index in the model, or -1. */
static long model_index(const fz_ring_t *m, uint64_t seq)
{
    if (seq < m->base || seq - m->base >= m->count)
        return -1;
    return (long)(seq - m->base);
}

/* Overwritten: a record that starts before reach - capacity (the writer's
 * head has moved past it). */
static bool model_dead(const fz_ring_t *m, uint64_t seq)
{
    long i = model_index(m, seq);
    return i >= 0 && m->start[i] + m->w->capacity < m->reach;
}

static void ring_patched(fz_ring_t *m)
{
    m->epoch++;
    m->dirty = true;
    m->ever_patched = true;
}

/* ---- writer ------------------------------------------------------------------------------- */

static void writer_start(fz_ring_t *m)
{
    if (m->writer)
        xshm_ring_writer_fini(m->w);
    FZ_CHECK(xshm_ring_writer_init(m->w) == SHM_SUCCESS);
    FZ_CHECK((m->w->w_tail & (SHM_RECORD_ALIGN - 1)) == 0 && m->w->w_tail < (1ull << 62));
    FZ_CHECK(m->w->w_head <= m->w->w_tail);
    if (strict)
        FZ_CHECK((m->w->w_head & (SHM_RECORD_ALIGN - 1)) == 0);
    /* A restart on an untouched ring continues where the writer stopped. One
     * patched long ago may not: a tail the patch put just below 2^62, which
     * the writer has passed since, is taken for corrupt (reset to 0). */
    bool same = m->w->w_tail == m->end && m->w->w_seq == m->base + m->count;
    if (m->writer && !m->dirty && !m->ever_patched)
        FZ_CHECK(same);
    /* a writer taking over a ring it does not know continues from its tail
     * (and may clear the mark word there) */
    if (!(m->writer && !m->dirty && same))
        m->reach = m->w->w_tail + 8;
    if (!(m->writer && !m->dirty && same)) {
        m->base = m->w->w_seq;
        m->count = 0;
        m->end = m->w->w_tail;
        m->seq_sane = m->base < (1ull << 62);
        m->epoch++; /* earlier readers knew another model */
        m->dirty = false;
    }
    m->writer = true;
}

/* Write one message of `len` bytes (any value: invalid ones must be refused). */
static void do_write(fz_ring_t *m, uint32_t len)
{
    if (!m->writer)
        return;
    shm_ring_t *w = m->w;
    uint64_t seq = m->base + m->count;
    bool valid = len >= 1 && len <= w->max_payload;
    if (valid)
        msg_make(msgbuf, m->k, seq, len);
    shm_error_t e = xshm_ring_write(w, msgbuf, len);
    if (!valid) {
        FZ_CHECK(e == SHM_ERROR_INVALID_PARAM);
        return;
    }
    FZ_CHECK(e == SHM_SUCCESS);
    TRACE("  write ring %u seq %llu size %u: tail %llu head %llu\n", m->k, U64(seq), len, U64(w->w_tail),
          U64(w->w_head));
    /* Where the record went: after a padding when it does not fit the end. */
    uint32_t span = rec_size(len);
    uint32_t rest = w->capacity - (uint32_t)(m->end & w->mask);
    uint64_t start = m->end + (rest < span ? rest : 0);
    m->end = start + span;
    m->reach = m->end + (span + 8 <= w->capacity ? 8 : 0);
    FZ_CHECK(w->w_tail == m->end);
    FZ_CHECK(w->w_seq == seq + 1);
    FZ_CHECK(w->w_head <= w->w_tail && w->w_tail - w->w_head <= w->capacity);
    if (strict)
        FZ_CHECK((w->w_head & (SHM_RECORD_ALIGN - 1)) == 0);
    if (!m->dirty) {
        uint64_t tail, messages;
        FZ_CHECK(xshm_inspect_ring_counters(view, m->k, &tail, &messages, NULL));
        FZ_CHECK(tail == m->end);
        FZ_CHECK(messages == seq + 1);
    }
    if (m->count < FZ_MAX_MODEL) {
        m->size[m->count] = len;
        m->start[m->count] = start;
        m->count++;
    } else {
        /* The model is full: stop checking (the ring keeps being driven). */
        m->epoch++;
        m->base = seq + 1;
        m->count = 0;
        m->seq_sane = false;
    }
    /* Every strong reader has something pending now. */
    for (uint32_t j = 0; j < m->nreaders; j++) {
        fz_reader_t *x = &m->rd[j];
        if (x->active && strong(m, x))
            FZ_CHECK(xshm_ring_reader_pending(&x->rd));
    }
}

/* Message size from a selector; some aim at the ring's boundaries. */
static uint32_t pick_size(fz_ring_t *m, uint32_t sel)
{
    uint32_t maxp = m->w->max_payload;
    uint32_t v = sel & 0x1FFF;
    uint32_t rest = m->w->capacity - (uint32_t)(m->end & m->w->mask);
    switch (sel >> 13) {
    case 0: return 1 + v % 16;
    case 1: return 1 + v % 256;
    case 2: return 1 + v % 4096;
    case 3: return maxp - v % 64;
    case 4: /* fill the rest of the data area exactly, or just miss */
        return rest > SHM_RECORD_HEADER_SIZE ? rest - SHM_RECORD_HEADER_SIZE - (v % 3) * 8 : 1 + v % 8;
    case 5: /* leave fewer than a header's bytes at the end */
        return rest > 2 * SHM_RECORD_HEADER_SIZE ? rest - SHM_RECORD_HEADER_SIZE - 8 - (v % 2) * 8 : 40;
    case 6: return v % 64 == 0 ? (v & 64 ? 0 : maxp + 1 + v % 8) : 1 + (v * 7) % maxp; /* some invalid */
    default: return 1 + (uint32_t)((uint64_t)v * v % maxp);
    }
}

/* ---- readers ------------------------------------------------------------------------------- */

static void reader_attach(fz_ring_t *m, uint32_t j)
{
    fz_reader_t *x = &m->rd[j];
    if (x->active)
        return;
    shm_error_t e = xshm_ring_reader_attach(m->r, &x->rd);
    FZ_CHECK(e == SHM_SUCCESS || e == SHM_ERROR_BUSY);
    TRACE("  attach ring %u reader %u: %d slot %u cursor %llu\n", m->k, j, (int)e,
          e == SHM_SUCCESS ? x->rd.slot_index : 0u, U64(x->rd.cursor));
    if (e != SHM_SUCCESS)
        return;
    x->active = true;
    x->epoch = m->epoch;
    x->strong = m->writer && !m->dirty && m->seq_sane && (!m->ever_patched || strict);
    if (strict)
        FZ_CHECK((x->rd.cursor & (SHM_RECORD_ALIGN - 1)) == 0);
    x->exact = x->strong && !m->ever_patched;
    x->next = m->base + m->count;
    if (x->strong) {
        FZ_CHECK(x->rd.cursor == m->end);
        FZ_CHECK(x->rd.expected_seq == x->next);
        FZ_CHECK(!xshm_ring_reader_pending(&x->rd));
    }
}

static void reader_detach(fz_ring_t *m, uint32_t j)
{
    fz_reader_t *x = &m->rd[j];
    if (!x->active)
        return;
    xshm_ring_reader_detach(&x->rd);
    x->active = false;
}

/* The message a reader at `from` meets next: the first one still intact.
 * Without `exact` (a writer that found malformed records gave up everything
 * before its new record)
 * any later message of that size will do. */
static bool model_next_size(const fz_ring_t *m, uint64_t from, uint32_t size, bool exact)
{
    for (uint64_t s = from; s < m->base + m->count; s++) {
        long i = model_index(m, s);
        if (exact && !model_dead(m, s))
            return m->size[i] == size;
        if (!exact && m->size[i] == size)
            return true;
    }
    return false;
}

/* One read with a buffer of `cap` bytes (exactly that size, so that ASan sees
 * an overflow; NULL when 0). Returns the result. */
static shm_error_t do_read(fz_ring_t *m, uint32_t j, uint32_t cap)
{
    fz_reader_t *x = &m->rd[j];
    if (!x->active)
        return SHM_ERROR_INVALID_PARAM;
    uint8_t *buf = cap ? (uint8_t *)malloc(cap) : NULL;
    FZ_CHECK(cap == 0 || buf);
    uint32_t size = cap;
    uint64_t lost0 = x->rd.lost, recv0 = x->rd.received;
    shm_error_t e = xshm_ring_read(&x->rd, buf, &size);
    if (strict)
        FZ_CHECK((x->rd.cursor & (SHM_RECORD_ALIGN - 1)) == 0);
    bool st = strong(m, x);
    TRACE("  read ring %u reader %u cap %u: %d size %u cursor %llu seq %llu lost %llu%s\n", m->k, j, cap,
          (int)e, size, U64(x->rd.cursor), U64(x->rd.expected_seq), U64(x->rd.lost), st ? " (strong)" : "");
    switch (e) {
    case SHM_SUCCESS: {
        FZ_CHECK(size >= 1 && size <= cap && size <= m->r->max_payload);
        FZ_CHECK(x->rd.received == recv0 + 1);
        if (!st)
            break; /* (a hostile sequence number may even wrap `lost`) */
        uint64_t seq = x->next + (x->rd.lost - lost0);
        long i = model_index(m, seq);
        FZ_CHECK(i >= 0);
        FZ_CHECK(m->size[i] == size);
        FZ_CHECK(msg_ok(buf, m->k, seq, size));
        FZ_CHECK(!model_dead(m, seq));
        if (x->exact)
            for (uint64_t s = x->next; s < seq; s++)
                FZ_CHECK(model_dead(m, s)); /* lost only what was overwritten */
        x->next = seq + 1;
        FZ_CHECK(x->rd.expected_seq == x->next);
        break;
    }
    case SHM_ERROR_EMPTY:
        FZ_CHECK(x->rd.received == recv0);
        if (st) {
            FZ_CHECK(x->rd.lost == lost0);
            FZ_CHECK(x->next == m->base + m->count); /* all received or lost */
            FZ_CHECK(x->rd.cursor == m->end);
            FZ_CHECK(!xshm_ring_reader_pending(&x->rd));
        }
        break;
    case SHM_ERROR_BUFFER_TOO_SMALL: {
        FZ_CHECK(size > cap && size <= m->r->max_payload);
        FZ_CHECK(x->rd.received == recv0);
        if (st) {
            FZ_CHECK(model_next_size(m, x->next, size, x->exact));
        }
        /* The message stayed: a buffer of the size asked for takes it. */
        uint32_t need = size;
        free(buf);
        buf = (uint8_t *)malloc(need);
        FZ_CHECK(buf);
        size = need;
        lost0 = x->rd.lost;
        e = xshm_ring_read(&x->rd, buf, &size);
        if (st) {
            FZ_CHECK(e == SHM_SUCCESS && size == need);
            uint64_t seq = x->next + (x->rd.lost - lost0);
            long i = model_index(m, seq);
            FZ_CHECK(i >= 0 && m->size[i] == size && msg_ok(buf, m->k, seq, size));
            x->next = seq + 1;
        } else {
            FZ_CHECK(e == SHM_SUCCESS || e == SHM_ERROR_INVALID_SEGMENT ||
                     e == SHM_ERROR_EMPTY || e == SHM_ERROR_BUFFER_TOO_SMALL);
            if (e == SHM_SUCCESS)
                FZ_CHECK(size >= 1 && size <= need);
        }
        break;
    }
    case SHM_ERROR_INVALID_SEGMENT:
        FZ_CHECK(!st); /* an honest ring is never reported corrupt */
        break;
    default:
        FZ_CHECK(!"unexpected result of xshm_ring_read");
    }
    free(buf);
    return e;
}

/* Read until empty (or an error), bounded. */
static void drain(fz_ring_t *m, uint32_t j, uint32_t cap)
{
    if (!m->rd[j].active)
        return;
    if (m->slow) {
        (void)do_read(m, j, cap); /* each resync may spin: see run_raw */
        return;
    }
    uint32_t bound = 2 * (m->r->capacity / SHM_RECORD_HEADER_SIZE) + 16;
    for (uint32_t i = 0; i < bound; i++) {
        shm_error_t e = do_read(m, j, cap);
        if (e != SHM_SUCCESS && e != SHM_ERROR_BUFFER_TOO_SMALL)
            return;
    }
    FZ_CHECK(!strong(m, &m->rd[j]) || !"drain did not end");
}

static uint32_t pick_cap(fz_ring_t *m, uint32_t sel)
{
    uint32_t maxp = m->r->max_payload;
    switch (sel & 7) {
    case 0: return 0;
    case 1: return 1 + (sel >> 3) % 16;
    case 2: return 1 + (sel >> 3) % 512;
    case 3: return maxp;
    case 4: return SHM_MAX_MESSAGE_SIZE;
    case 5: return maxp > 1 ? maxp - 1 - (sel >> 3) % 8 : 1;
    default: return 1 + (sel >> 3) % maxp;
    }
}

static void wake_cb(void *ctx, uint32_t slot)
{
    (void)slot;
    (*(uint32_t *)ctx)++;
}

/* What an observer sees of ring m (shm_inspect.h): bounded always, exact
 * where nobody has patched the ring. Not on a ring whose pub_ver is odd:
 * each read of its counters spins (see run_raw). */
static void inspect_ring(const fz_ring_t *m)
{
    static xshm_inspect_ring_t ir;
    if (m->slow)
        return;
    FZ_CHECK(xshm_inspect_ring(view, m->k, &ir));
    FZ_CHECK(ir.capacity == m->r->capacity);
    FZ_CHECK(ir.nslots == m->r->max_readers);
    FZ_CHECK(ir.used <= ir.capacity);
    FZ_CHECK((ir.tail & (SHM_RECORD_ALIGN - 1)) == 0);
    for (uint32_t k = 0; k < ir.nslots; k++) {
        const xshm_inspect_slot_t *sl = &ir.slots[k];
        FZ_CHECK(sl->state <= XSHM_INSPECT_SLOT_INVALID);
        FZ_CHECK(sl->lag <= ir.tail && sl->unread <= ir.messages);
        FZ_CHECK(!sl->alive || sl->state != XSHM_INSPECT_SLOT_FREE);
    }
    if (m->dirty || !m->writer)
        return;
    FZ_CHECK(ir.tail == m->end);
    FZ_CHECK(ir.messages == m->base + m->count);
    for (uint32_t j = 0; j < m->nreaders; j++) {
        const fz_reader_t *x = &m->rd[j];
        if (!x->active || !strong(m, x))
            continue;
        const xshm_inspect_slot_t *sl = &ir.slots[x->rd.slot_index];
        FZ_CHECK(sl->state == XSHM_INSPECT_SLOT_ACTIVE && sl->alive);
        FZ_CHECK(sl->cursor == x->rd.cursor && sl->lag == m->end - x->rd.cursor);
        FZ_CHECK(sl->received == x->rd.received && sl->lost == x->rd.lost);
        FZ_CHECK(sl->expected_seq == x->rd.expected_seq);
    }
}

/* The calls that only look, and the sleeping protocol. */
static void monitor(fz_ring_t *m, uint32_t sel)
{
    shm_ring_t *r = m->r;
    uint32_t avail = shm_ring_available(r);
    FZ_CHECK(avail <= r->capacity);
    uint32_t active = xshm_ring_active_readers(r);
    FZ_CHECK(active <= r->max_readers);
    (void)xshm_ring_messages_written(r);
    for (uint32_t j = 0; j < m->nreaders; j++) {
        fz_reader_t *x = &m->rd[j];
        if (!x->active)
            continue;
        (void)xshm_ring_reader_pending(&x->rd);
        xshm_reader_counts_t c;
        xshm_ring_reader_counts(&x->rd, &c);
        FZ_CHECK(xshm_ring_reader_lost(&x->rd) == x->rd.lost);
        if (strong(m, x))
            FZ_CHECK(c.received == x->rd.received && c.lost == x->rd.lost);
        if (sel & (1u << j)) {
            (void)xshm_ring_reader_sleep_begin(&x->rd);
            if (sel & 0x80)
                xshm_ring_reader_sleep_end(&x->rd);
        }
    }
    if (m->writer && xshm_ring_wake_needed(m->w)) {
        uint32_t woken = 0;
        xshm_ring_wake_sleepers(m->w, wake_cb, &woken);
        FZ_CHECK(woken <= m->w->max_readers);
    }
    for (uint32_t j = 0; j < m->nreaders; j++)
        if (m->rd[j].active)
            xshm_ring_reader_sleep_end(&m->rd[j].rd);
    inspect_ring(m);
}

/* ---- geometry ------------------------------------------------------------------------------- */

/* Everything attach bound lies inside [mem, mem + size). */
static void check_geometry(const xshm_segment_t *seg, const uint8_t *mem, size_t size)
{
    FZ_CHECK(seg->ring_count >= 1 && seg->ring_count <= SHM_SEG_MAX_RINGS);
    FZ_CHECK((const uint8_t *)seg->hdr == mem);
    for (uint32_t i = 0; i < seg->ring_count; i++) {
        const shm_ring_t *r = &seg->rings[i];
        const uint8_t *h = (const uint8_t *)r->hdr, *s = (const uint8_t *)r->slots;
        FZ_CHECK(r->capacity >= SHM_MIN_RING_SIZE && (r->capacity & (r->capacity - 1)) == 0);
        FZ_CHECK(r->mask == r->capacity - 1);
        FZ_CHECK(r->max_readers >= 1 && r->max_readers <= SHM_MAX_READERS);
        FZ_CHECK(r->max_payload >= 1 && r->max_payload <= SHM_MAX_MESSAGE_SIZE &&
                 r->max_payload + SHM_RECORD_HEADER_SIZE <= r->capacity);
        FZ_CHECK(h >= mem + sizeof(xshm_seg_header_t));
        FZ_CHECK(s == h + sizeof(xshm_ring_header_t));
        FZ_CHECK(r->data == s + (size_t)r->max_readers * sizeof(xshm_reader_slot_t));
        FZ_CHECK((size_t)(r->data - mem) + r->capacity <= size);
        FZ_CHECK(((uintptr_t)h & 7) == 0 && ((uintptr_t)r->data & 7) == 0);
        if (i > 0)
            FZ_CHECK(h >= seg->rings[i - 1].data + seg->rings[i - 1].capacity);
    }
}

static void *alloc_exact(size_t size)
{
    void *p = NULL;
    if (posix_memalign(&p, SHM_CACHE_LINE, size ? size : 1) != 0)
        return NULL;
    return p;
}

/* ---- raw mode: the input is the segment ---------------------------------------------------- */

static void ring_model_reset(fz_ring_t *m, uint32_t k, shm_ring_t *w, shm_ring_t *r)
{
    memset(m, 0, offsetof(fz_ring_t, size));
    memset(m->rd, 0, sizeof(m->rd));
    m->k = k;
    m->w = w;
    m->r = r;
    m->nreaders = r->max_readers < FZ_MAX_READERS ? r->max_readers : FZ_MAX_READERS;
    m->slow = false;
}

static void run_raw(const uint8_t *data, size_t size)
{
    bool keep_odd = data[0] == 0xFC;
    size_t segsize = size - 1;
    uint8_t *mem = (uint8_t *)alloc_exact(segsize);
    FZ_CHECK(mem);
    memcpy(mem, data + 1, segsize);

    xshm_segment_t *seg = (xshm_segment_t *)calloc(1, sizeof(*seg));
    FZ_CHECK(seg);
    shm_error_t e = xshm_segment_attach(seg, mem, segsize);
    FZ_CHECK(e == SHM_SUCCESS || e == SHM_ERROR_INVALID_SEGMENT || e == SHM_ERROR_NOT_FOUND);
    char why[256];
    FZ_CHECK(xshm_inspect_attach(&view, mem, segsize, false, why, sizeof(why)) == e);
    FZ_CHECK((e == SHM_SUCCESS) == (view != NULL) && (e == SHM_SUCCESS) == (why[0] == '\0'));
    if (e != SHM_SUCCESS)
        goto out;
    check_geometry(seg, mem, segsize);
    FZ_CHECK(xshm_inspect_ring_count(view) == seg->ring_count);

    fz_in_t in;
    memset(&in, 0, sizeof(in));
    in.use_rng = true;
    in.rng = 0xC0FFEE;
    for (size_t i = 0; i < size; i++) /* the choices depend on the whole input */
        in.rng = (in.rng ^ data[i]) * 0x100000001B3ull;

    /* With an odd pub_ver each snapshot of the tail (reader attach, resync
     * after corruption) spins a million times: ~0.4 s under ASan. Then only
     * ring 0, one reader and a few calls, to stay far below -timeout. */
    uint32_t n = seg->ring_count < FZ_MAX_RINGS ? seg->ring_count : FZ_MAX_RINGS;
    uint32_t rounds = 24, max_writes = 24;
    if (keep_odd) {
        n = 1;
        rounds = 1;
        max_writes = 2;
    }
    for (uint32_t k = 0; k < n; k++) {
        shm_ring_t *r = &seg->rings[k];
        if (!keep_odd) {
            uint64_t v = xa_load64_relaxed(&r->hdr->pub_ver);
            xa_store64_relaxed(&r->hdr->pub_ver, v & ~1ull);
        }
        fz_ring_t *m = &rings[k];
        ring_model_reset(m, k, r, r);
        m->ever_patched = true; /* hostile from the start */
        m->dirty = true;
        if (keep_odd) {
            m->slow = true;
            m->nreaders = 1;
        }

        /* Readers of whatever is there. */
        for (uint32_t j = 0; j + 1 < m->nreaders || j == 0; j++)
            reader_attach(m, j);
        for (uint32_t round = 0; round < rounds; round++)
            for (uint32_t j = 0; j < m->nreaders; j++)
                (void)do_read(m, j, pick_cap(m, take16(&in)));
        monitor(m, take8(&in));

        /* A writer takes the ring over; a reader attached now (checked under
         * FUZZ_STRICT) should see only its messages. */
        writer_start(m);
        uint32_t last = m->nreaders - 1;
        reader_detach(m, last);
        reader_attach(m, last);
        uint32_t writes = 1 + take8(&in) % max_writes;
        for (uint32_t i = 0; i < writes; i++) {
            do_write(m, pick_size(m, take16(&in)));
            if (take8(&in) % 3 == 0)
                for (uint32_t j = 0; j < m->nreaders; j++)
                    (void)do_read(m, j, pick_cap(m, take16(&in)));
        }
        monitor(m, take8(&in));
        for (uint32_t j = 0; j < m->nreaders; j++)
            drain(m, j, SHM_MAX_MESSAGE_SIZE);
        if (xshm_ring_slot_reclaim(r, take8(&in) % r->max_readers, xshm_ring_slot_claim(r, 0)))
            ring_patched(m); /* a slot freed under a reader */
        for (uint32_t j = 0; j < m->nreaders; j++)
            reader_detach(m, j);
        xshm_ring_writer_fini(r);
    }
    if (!keep_odd && seg->ring_count <= n) { /* every pub_ver made even */
        static xshm_inspect_snap_t snap;
        xshm_inspect_snapshot(view, &snap);
        FZ_CHECK(snap.ring_count == seg->ring_count && snap.capacity == seg->rings[0].capacity);
        FZ_CHECK(snap.clients <= snap.max_readers && snap.state <= XSHM_INSPECT_SEG_UNKNOWN);
    }
out:
    xshm_inspect_close(view);
    view = NULL;
    xshm_segment_close(seg); /* a memory-only segment: unmaps nothing */
    free(seg);
    free(mem);
}

/* ---- ops mode: a valid segment, then a program ----------------------------------------------- */

enum {
    OP_WRITE, OP_WRITE2, OP_BURST, OP_READ, OP_READ2, OP_DRAIN,
    OP_PATCH_RING, OP_PATCH_SLOT, OP_PATCH_DATA, OP_PATCH_RECORD,
    OP_ATTACH, OP_WRITER_RESTART, OP_MONITOR, OP_REATTACH, OP_RECLAIM, OP_PATCH_SEG,
    OP_COUNT
};

static const char *const op_names[OP_COUNT] = {
    "write", "write", "burst", "read", "read", "drain",
    "patch-ring", "patch-slot", "patch-data", "patch-record",
    "attach/detach", "writer-restart", "monitor", "reattach", "reclaim", "patch-seg"};

/* A new value for a word of `bytes` bytes at p, by one of a few recipes. */
static void patch_word(fz_in_t *in, void *p, unsigned bytes, const fz_ring_t *m)
{
    uint64_t cur = 0;
    memcpy(&cur, p, bytes);
    uint64_t v;
    uint32_t how = take8(in);
    switch (how % 8) {
    case 0: v = take(in, bytes); break;
    case 1: v = cur + (uint64_t)(int64_t)(int8_t)take8(in) * 8; break;     /* nearby record */
    case 2: v = cur + (uint64_t)(int64_t)(int8_t)take8(in); break;         /* misaligned */
    case 3: v = cur ^ (1ull << (take8(in) % (8 * bytes))); break;
    case 4: v = 0; break;
    case 5: v = cur + (uint64_t)m->w->capacity * ((how >> 3) % 3 + 1); break; /* a lap */
    case 6: v = cur - (uint64_t)m->w->capacity * ((how >> 3) % 3 + 1); break;
    default: {
        static const uint64_t special[] = {~0ull, 1ull << 62, 1ull << 63, 0xFFFFFFFFull,
                                           SHM_REC_MESSAGE, SHM_REC_PADDING, 1, 24, 65536};
        v = special[(how >> 3) % (sizeof(special) / sizeof(special[0]))];
        break;
    }
    }
    memcpy(p, &v, bytes); /* little-endian: the low bytes for a 4-byte word */
    TRACE("  patch %u bytes: %#llx -> %#llx\n", bytes, U64(cur), U64(v));
}

static void run_ops(const uint8_t *data, size_t size)
{
    fz_in_t in;
    memset(&in, 0, sizeof(in));
    in.p = data + 1;
    in.n = size - 1;

    xshm_seg_params_t p;
    memset(&p, 0, sizeof(p));
    p.ring_count = 1 + take8(&in) % 3;
    p.capacity = SHM_MIN_RING_SIZE << (take8(&in) % 3);
    p.max_readers = 1 + take8(&in) % FZ_MAX_READERS;
    uint32_t b = take8(&in);
    size_t need = xshm_segment_size(&p);
    FZ_CHECK(need > 0);
    size_t segsize = need + ((b & 0x80) ? (b & 0x7F) * 8u : 0u); /* a larger mapping */
    uint8_t *mem = (uint8_t *)alloc_exact(segsize);
    FZ_CHECK(mem);
    xshm_segment_t *ws = (xshm_segment_t *)calloc(1, sizeof(*ws)); /* the writer's view */
    xshm_segment_t *rs = (xshm_segment_t *)calloc(1, sizeof(*rs)); /* the readers' view */
    xshm_segment_t *vs = (xshm_segment_t *)calloc(1, sizeof(*vs)); /* a visitor's */
    FZ_CHECK(ws && rs && vs);
    FZ_CHECK(xshm_segment_format(ws, mem, segsize, &p) == SHM_SUCCESS);
    FZ_CHECK(xshm_segment_attach(rs, mem, segsize) == SHM_SUCCESS);
    check_geometry(rs, mem, segsize);
    FZ_CHECK(xshm_inspect_attach(&view, mem, segsize, false, NULL, 0) == SHM_SUCCESS);
    FZ_CHECK(rs->ring_count == p.ring_count);

    for (uint32_t k = 0; k < p.ring_count; k++) {
        fz_ring_t *m = &rings[k];
        ring_model_reset(m, k, &ws->rings[k], &rs->rings[k]);
        writer_start(m);
        reader_attach(m, 0);
        FZ_CHECK(m->rd[0].active && m->rd[0].exact);
    }

    uint32_t op_limit = FZ_MAX_OPS;
    for (uint32_t op = 0; op < op_limit && more(&in); op++) {
        uint32_t code = take8(&in);
        fz_ring_t *m = &rings[take8(&in) % p.ring_count];
        shm_ring_t *r = m->r;
        uint32_t j = take8(&in) % m->nreaders;
        TRACE("op %u: %s ring %u reader %u (tail %llu head %llu pub_ver %llu; model end %llu seqs %llu+%llu)\n",
              op, op_names[code % OP_COUNT], m->k, j, U64(m->w->hdr->tail), U64(m->w->hdr->head),
              U64(m->w->hdr->pub_ver), U64(m->end), U64(m->base), U64(m->count));
        switch (code % OP_COUNT) {
        case OP_WRITE:
        case OP_WRITE2:
            do_write(m, pick_size(m, take16(&in)));
            break;
        case OP_BURST: {
            uint32_t n = 1 + take8(&in) % 64, sel = take16(&in);
            for (uint32_t i = 0; i < n; i++)
                do_write(m, pick_size(m, (sel & 0xE000) | ((sel + i * 977u) & 0x1FFF)));
            break;
        }
        case OP_READ:
        case OP_READ2:
            (void)do_read(m, j, pick_cap(m, take16(&in)));
            break;
        case OP_DRAIN:
            drain(m, j, pick_cap(m, take16(&in)));
            break;
        case OP_PATCH_RING: {
            uint32_t word = take8(&in) % (sizeof(xshm_ring_header_t) / 8);
            /* mostly the words the protocol lives on: tail, head, next_seq,
             * pub_ver, bytes_written, intent, waiters, writer_flags */
            static const uint32_t hot[] = {
                offsetof(xshm_ring_header_t, tail) / 8, offsetof(xshm_ring_header_t, head) / 8,
                offsetof(xshm_ring_header_t, next_seq) / 8, offsetof(xshm_ring_header_t, pub_ver) / 8,
                offsetof(xshm_ring_header_t, bytes_written) / 8, offsetof(xshm_ring_header_t, intent) / 8,
                offsetof(xshm_ring_header_t, waiters) / 8, offsetof(xshm_ring_header_t, writer_flags) / 8};
            if (word & 1)
                word = hot[(word >> 1) % 8];
            patch_word(&in, (uint8_t *)r->hdr + word * 8, 8, m);
            if (word == offsetof(xshm_ring_header_t, pub_ver) / 8 && (r->hdr->pub_ver & 1)) {
                /* Odd: slow (see run_raw). Rarely kept, then few more ops. */
                if ((code & 0xF0) != 0xF0) {
                    r->hdr->pub_ver &= ~1ull;
                } else if (!m->slow) {
                    m->slow = true;
                    if (op_limit > op + 6)
                        op_limit = op + 6;
                }
            }
            ring_patched(m);
            break;
        }
        case OP_PATCH_SLOT: {
            /* 4-byte units; mostly cursor, expected_seq, claim, waiting */
            uint32_t s = take8(&in) % r->max_readers;
            uint32_t word = take8(&in) % (sizeof(xshm_reader_slot_t) / 4);
            static const uint32_t hot[] = {
                offsetof(xshm_reader_slot_t, cursor) / 4, offsetof(xshm_reader_slot_t, expected_seq) / 4,
                offsetof(xshm_reader_slot_t, claim) / 4, offsetof(xshm_reader_slot_t, waiting) / 4};
            if (word & 1)
                word = hot[(word >> 1) % 4];
            unsigned bytes = ((word < 16 && word % 2 == 0) ||
                              word == offsetof(xshm_reader_slot_t, claim) / 4 ||
                              word == offsetof(xshm_reader_slot_t, start_time) / 4) ? 8 : 4;
            patch_word(&in, (uint8_t *)&r->slots[s] + word * 4, bytes, m);
            ring_patched(m);
            break;
        }
        case OP_PATCH_DATA: {
            uint32_t off = take16(&in) % r->capacity, len = 1 + take8(&in) % 16;
            if (off + len > r->capacity)
                len = r->capacity - off;
            for (uint32_t i = 0; i < len; i++)
                r->data[off + i] = (uint8_t)take8(&in);
            ring_patched(m);
            break;
        }
        case OP_PATCH_RECORD: {
            /* the header of a message we wrote, of the padding before it, or
             * of the record at a reader's cursor */
            uint32_t which = take8(&in);
            uint64_t pos;
            if ((which & 3) == 3 && m->rd[j].active) {
                pos = m->rd[j].rd.cursor;
            } else if (m->count > 0) {
                uint64_t i = m->count - 1 - take8(&in) % m->count;
                pos = m->start[i];
                if ((which & 3) == 2 && (pos & r->mask) == 0 && i > 0)
                    pos = m->start[i - 1] + rec_size(m->size[i - 1]); /* its padding */
            } else {
                break;
            }
            uint32_t off = (uint32_t)(pos & r->mask);
            if (off + SHM_RECORD_HEADER_SIZE > r->capacity)
                break;
            static const uint32_t field_off[] = {0, 8, 16, 20};
            uint32_t f = (which >> 2) % 4;
            patch_word(&in, r->data + off + field_off[f], f < 2 ? 8 : 4, m);
            ring_patched(m);
            break;
        }
        case OP_ATTACH:
            if (m->rd[j].active)
                reader_detach(m, j);
            else
                reader_attach(m, j);
            break;
        case OP_WRITER_RESTART:
            writer_start(m);
            break;
        case OP_MONITOR:
            monitor(m, take8(&in));
            break;
        case OP_REATTACH: {
            /* Another process opens the segment and reads a little; an
             * observer opens it too. */
            shm_error_t e = xshm_segment_attach(vs, mem, segsize);
            FZ_CHECK(e == SHM_SUCCESS || e == SHM_ERROR_INVALID_SEGMENT || e == SHM_ERROR_NOT_FOUND);
            xshm_inspect_t *vv = NULL;
            FZ_CHECK(xshm_inspect_attach(&vv, mem, segsize, (code & 0x80) != 0, NULL, 0) == e ||
                     (code & 0x80) != 0);
            xshm_inspect_close(vv);
            if (e != SHM_SUCCESS)
                break;
            check_geometry(vs, mem, segsize);
            if (vs->ring_count != rs->ring_count || vs->rings[0].data != rs->rings[0].data ||
                vs->rings[0].capacity != rs->rings[0].capacity)
                break; /* another geometry: its slots would be our data */
            shm_ring_t *vr = &vs->rings[m->k];
            xshm_ring_reader_t vrd;
            if (xshm_ring_reader_attach(vr, &vrd) == SHM_SUCCESS) {
                uint32_t cap = pick_cap(m, take16(&in));
                uint8_t *buf = cap ? (uint8_t *)malloc(cap) : NULL;
                for (uint32_t i = 0; i < 8; i++) {
                    uint32_t sz = cap;
                    shm_error_t re = xshm_ring_read(&vrd, buf, &sz);
                    FZ_CHECK(re == SHM_SUCCESS || re == SHM_ERROR_EMPTY ||
                             re == SHM_ERROR_BUFFER_TOO_SMALL || re == SHM_ERROR_INVALID_SEGMENT);
                    if (re == SHM_SUCCESS)
                        FZ_CHECK(sz >= 1 && sz <= cap);
                    if (re != SHM_SUCCESS)
                        break;
                }
                free(buf);
                xshm_ring_reader_detach(&vrd);
            }
            break;
        }
        case OP_RECLAIM: {
            uint32_t s = take8(&in) % r->max_readers;
            uint64_t word = xshm_ring_slot_claim(r, s);
            if (take8(&in) & 1)
                word ^= 4; /* another epoch: must not free it */
            bool freed = xshm_ring_slot_reclaim(r, s, word);
            if (freed)
                ring_patched(m); /* its reader lost its slot */
            break;
        }
        case OP_PATCH_SEG:
            patch_word(&in, (uint8_t *)mem + (take8(&in) % 16) * 8, (take8(&in) & 1) ? 4 : 8, m);
            break; /* only later attaches read it */
        }
    }

    /* Every strong reader still gets the rest. */
    for (uint32_t k = 0; k < p.ring_count; k++) {
        fz_ring_t *m = &rings[k];
        for (uint32_t j = 0; j < m->nreaders; j++) {
            drain(m, j, SHM_MAX_MESSAGE_SIZE);
            reader_detach(m, j);
        }
        xshm_ring_writer_fini(m->w);
    }
    xshm_inspect_close(view);
    view = NULL;
    memset(ws, 0, sizeof(*ws)); /* no OS object behind them */
    xshm_segment_close(rs);
    free(ws);
    free(rs);
    free(vs);
    free(mem);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    noise_init();
    if (trace < 0) {
        const char *t = getenv("FUZZ_TRACE"), *st = getenv("FUZZ_STRICT");
        trace = t && *t && strcmp(t, "0") != 0;
        strict = st && *st && strcmp(st, "0") != 0;
    }
    if ((data[0] & 3) == 0) {
        if (size > 1)
            run_raw(data, size);
    } else {
        run_ops(data, size);
    }
    return 0;
}
