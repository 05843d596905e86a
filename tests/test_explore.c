/*
 * test_explore.c - every shared-memory protocol of xshm, run under every
 * schedule within a preemption bound (tests/explore/explore.h, DESIGN.md
 * section 9): the ring's write, read and resynchronisation, the reader
 * slot's claim, release and reclaim, the channel's creation and reclaim,
 * and sleeping and waking.
 *
 * Invariants, checked after every step or at the end of each schedule:
 *   - every delivered message is byte for byte one that was sent, in order;
 *   - received + lost == sent, for every reader, once it has caught up;
 *   - a reader slot has at most one live owner, and one whose owner is gone
 *     is reclaimed;
 *   - at most one live server owns a channel name, and a name whose owner
 *     is gone can be created again;
 *   - nothing waits forever (no lost wake-up).
 * Each test prints how many schedules it ran. The scenarios named after a
 * bug are the ones that found it in the code before its fix.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "atomics.h"
#include "explore.h"
#include "platform.h"
#include "shm_events.h"
#include "shm_ipc.h"
#include "shm_ringbuffer.h"
#include "sim_platform.h"
#include "xe_alloc.h"

/* --quick (slow targets: sanitizers, emulators): one preemption less per
 * scenario, at least one. linux-x64 runs the full bounds. */
static int g_quick;

static void run_scenario(const xe_scenario_t *sc_in, void *ctx)
{
    xe_scenario_t scq = *sc_in;
    const xe_scenario_t *sc = &scq;
    if (g_quick && scq.preemptions > 1)
        scq.preemptions--;
    xe_result_t res;
    int rc = xe_explore(sc, ctx, &res);
    xe_print(sc, &res);
    if (rc != 0)
        fail_msg("%s: %s", sc->name, res.failure);
}

/* ---- the ring ----------------------------------------------------------------------- */

#define MAX_MSGS 16
#define MAX_READERS 2
#define BUF_SIZE 8192

typedef struct ring_sc {
    /* the plan */
    uint32_t capacity;
    int readers;                   /* actors 0..readers-1; the writer is the last */
    uint32_t presend;              /* messages written in setup */
    uint32_t nmsg;
    uint32_t sizes[MAX_MSGS];
    uint64_t fill[MAX_MSGS];       /* non-zero: every payload word is this */
    uint32_t first_buf;            /* a reader's first buffer (0: BUF_SIZE) */
    bool writer_pauses;            /* the writer lets others run between messages */
    uint32_t handover;             /* restart: the first writer (which may be
                                      killed) writes messages up to this one,
                                      a second process takes over the ring
                                      and writes the rest */
    uint32_t view_readers;         /* readers (bit mask) that take views */
    bool zc_writer;                /* the writer reserves, fills in place and
                                      commits */
    uint32_t zc_extra;             /* it reserves this much more than it commits */
    uint32_t abort_size[MAX_MSGS]; /* non-zero: before message k it reserves
                                      this much, fills it and aborts */
    /* the state of a schedule */
    void *mem;
    xshm_segment_t seg;
    shm_ring_t *ring;
    xshm_ring_reader_t rd[MAX_READERS];
    uint32_t written;
    bool writer_done;
    xshm_segment_t seg2;                    /* the second writer's view */
    bool first_done;
    uint8_t msg[BUF_SIZE];                 /* the writer's message */
    uint8_t msg2[BUF_SIZE];                /* the second writer's */
    uint8_t want[MAX_READERS][BUF_SIZE];   /* what a reader expects */
    uint8_t buf[MAX_READERS][BUF_SIZE];
} ring_sc_t;

/* Message k of the plan, into out. */
static void make_msg(const ring_sc_t *r, uint32_t k, uint8_t *out)
{
    uint32_t n = r->sizes[k];
    if (r->fill[k]) {
        for (uint32_t i = 0; i < n; i++)
            out[i] = (uint8_t)(r->fill[k] >> (8u * (i % 8u)));
    } else {
        for (uint32_t i = 0; i < n; i++)
            out[i] = (uint8_t)(k * 37u + i * 11u + 5u);
    }
}

/* Message k by reserve, fill in place, commit (the fill is the caller's
 * stores into the ring: steps, through the store buffer under TSO), after
 * an aborted reservation if the plan has one. */
static void ring_write_zc(ring_sc_t *r, uint32_t k)
{
    shm_ring_t *w = r->ring;
    void *p = NULL;
    if (r->abort_size[k]) {
        if (xshm_ring_reserve(w, r->abort_size[k], &p) != SHM_SUCCESS)
            xe_fail("reserve before message %u failed", k);
        make_msg(r, (k + 7u) % MAX_MSGS, r->msg); /* bytes no reader may see */
        xa_copy_to_shared(p, r->msg, r->abort_size[k] < 64 ? r->abort_size[k] : 64);
        if (xshm_ring_abort(w) != SHM_SUCCESS)
            xe_fail("abort before message %u failed", k);
    }
    uint32_t size = r->sizes[k];
    uint32_t reserved = size + r->zc_extra <= w->max_payload ? size + r->zc_extra : size;
    if (xshm_ring_reserve(w, reserved, &p) != SHM_SUCCESS)
        xe_fail("reserve of message %u failed", k);
    make_msg(r, k, r->msg);
    xa_copy_to_shared(p, r->msg, size);
    if (xshm_ring_commit(w, size) != SHM_SUCCESS)
        xe_fail("commit of message %u failed", k);
}

static void ring_write_next(ring_sc_t *r)
{
    uint32_t k = r->written++; /* counted as sent once the write starts */
    if (r->zc_writer) {
        ring_write_zc(r, k);
        return;
    }
    make_msg(r, k, r->msg);
    if (xshm_ring_write(r->ring, r->msg, r->sizes[k]) != SHM_SUCCESS)
        xe_fail("write of message %u failed", k);
}

static void ring_setup(void *ctx)
{
    ring_sc_t *r = (ring_sc_t *)ctx;
    sim_reset();
    xe_alloc_reset();
    xshm_seg_params_t p = {1, r->capacity, (uint32_t)r->readers, false, 0, 0};
    size_t size = xshm_segment_size(&p);
    r->mem = xe_aligned_alloc(size);
    xe_shared(r->mem, size);
    xshm_segment_format(&r->seg, r->mem, size, &p);
    r->ring = &r->seg.rings[0];
    xshm_ring_writer_init(r->ring);
    for (int i = 0; i < r->readers; i++)
        if (xshm_ring_reader_attach(r->ring, &r->rd[i]) != SHM_SUCCESS)
            xe_fail("setup: attach failed");
    r->written = 0;
    r->writer_done = false;
    r->first_done = false;
    if (r->handover && xshm_segment_attach(&r->seg2, r->mem, size) != SHM_SUCCESS)
        xe_fail("setup: second view");
    while (r->written < r->presend)
        ring_write_next(r);
}

/* Messages sent: with a handover, what the ring says it published (a
 * message the killed writer had begun may never have been). */
static uint64_t ring_sent(const ring_sc_t *r)
{
    return r->handover ? r->ring->hdr->next_seq : r->written;
}

static bool first_writer_gone(void *ctx)
{
    ring_sc_t *r = (ring_sc_t *)ctx;
    return r->first_done || !xe_pid_alive(201);
}

/* The second writer: once the first is done or killed, it takes the ring
 * over (xshm_ring_writer_init) and writes from the ring's next sequence
 * number on, message k being the plan's message k. */
static void ring_second_writer(ring_sc_t *r)
{
    xe_block(first_writer_gone, r, UINT64_MAX);
    shm_ring_t *w = &r->seg2.rings[0];
    if (xshm_ring_writer_init(w) != SHM_SUCCESS)
        xe_fail("second writer: init failed");
    while (w->w_seq < r->nmsg) {
        uint32_t k = (uint32_t)w->w_seq;
        if (r->written < k + 1)
            r->written = k + 1;
        make_msg(r, k, r->msg2);
        if (xshm_ring_write(w, r->msg2, r->sizes[k]) != SHM_SUCCESS)
            xe_fail("second writer: write of message %u failed", k);
    }
    r->writer_done = true;
}

/* A view of the next message: the caller's reads of its bytes (a copy,
 * in steps), then the release. A release that says SUCCESS must have been
 * right: the bytes read are exactly the message sent. A message whose
 * release reports an overwrite is not checked (the contract: discard). */
static shm_error_t ring_view_read(ring_sc_t *r, int id, uint32_t *size)
{
    xshm_ring_reader_t *rd = &r->rd[id];
    const void *ptr = NULL;
    uint64_t token = 0;
    shm_error_t e = xshm_ring_view(rd, &ptr, size, &token);
    if (e != SHM_SUCCESS)
        return e;
    uint64_t seq = rd->expected_seq - 1;
    if (*size > BUF_SIZE)
        xe_fail("reader %d: a view of %u bytes", id, *size);
    xa_copy_from_shared(r->buf[id], ptr, *size);
    e = xshm_ring_view_release(rd, token);
    if (e == SHM_ERROR_OVERWRITTEN) {
        xe_note("reader %d: view of #%llu overwritten", id, (unsigned long long)seq);
        return SHM_ERROR_EMPTY; /* nothing delivered; counted lost */
    }
    return e;
}

static void ring_reader(ring_sc_t *r, int id)
{
    xshm_ring_reader_t *rd = &r->rd[id];
    uint8_t *buf = r->buf[id];
    uint32_t cap = r->first_buf ? r->first_buf : BUF_SIZE;
    bool view = (r->view_readers >> id) & 1u;
    for (;;) {
        uint32_t size = cap;
        shm_error_t e = view ? ring_view_read(r, id, &size) : xshm_ring_read(rd, buf, &size);
        if (e == SHM_SUCCESS) {
            uint64_t seq = rd->expected_seq - 1;
            if (seq >= r->written || size != r->sizes[seq])
                xe_fail("reader %d: delivered message #%llu of %u bytes, never sent", id,
                        (unsigned long long)seq, size);
            make_msg(r, (uint32_t)seq, r->want[id]);
            if (memcmp(buf, r->want[id], size) != 0)
                xe_fail("reader %d: delivered message #%llu is not the one sent (torn)", id,
                        (unsigned long long)seq);
            xe_note("reader %d: got #%llu", id, (unsigned long long)seq);
        } else if (e == SHM_ERROR_BUFFER_TOO_SMALL) {
            if (size > BUF_SIZE || cap == BUF_SIZE)
                xe_fail("reader %d: too small for %u bytes with a buffer of %u", id, size, cap);
            cap = BUF_SIZE; /* the message stays: read it with the big buffer */
        } else if (e == SHM_ERROR_EMPTY) {
            if (r->writer_done && rd->received + rd->lost == ring_sent(r))
                return;
            xe_yield_hint("reader: empty");
        } else {
            xe_fail("reader %d: read returned %s", id, shm_strerror(e));
        }
    }
}

static void ring_actor(void *ctx, int id)
{
    ring_sc_t *r = (ring_sc_t *)ctx;
    if (id < r->readers) {
        ring_reader(r, id);
        return;
    }
    if (id > r->readers) {
        ring_second_writer(r);
        return;
    }
    uint32_t last = r->handover ? r->handover : r->nmsg;
    while (r->written < last) {
        ring_write_next(r);
        if (r->writer_pauses)
            xe_switch_point("writer: between messages");
    }
    if (r->handover)
        r->first_done = true;
    else
        r->writer_done = true;
}

static const char *ring_final(void *ctx)
{
    ring_sc_t *r = (ring_sc_t *)ctx;
    static char why[160];
    for (int i = 0; i < r->readers; i++) {
        const xshm_ring_reader_t *rd = &r->rd[i];
        if (rd->received + rd->lost != ring_sent(r)) {
            snprintf(why, sizeof(why), "reader %d: received %llu + lost %llu != sent %llu", i,
                     (unsigned long long)rd->received, (unsigned long long)rd->lost,
                     (unsigned long long)ring_sent(r));
            return why;
        }
    }
    return NULL;
}

static void ring_teardown(void *ctx)
{
    ring_sc_t *r = (ring_sc_t *)ctx;
    xshm_ring_writer_fini(r->ring);
    xe_aligned_free(r->mem);
    r->mem = NULL;
}

/* A ring scenario as data: the messages, and how the actors run. */
typedef struct ring_plan {
    const char *name;
    int readers;                   /* 1 or 2 */
    uint32_t presend;
    uint32_t nmsg;
    uint32_t sizes[MAX_MSGS];
    int fill_msg;                  /* this message's payload words are `fill` */
    uint64_t fill;
    uint32_t first_buf;
    bool writer_pauses;
    bool pso;
    uint32_t handover;             /* (see ring_sc_t) */
    uint32_t view_readers;         /* (see ring_sc_t) */
    bool zc_writer;
    uint32_t zc_extra;
    uint32_t abort_size[MAX_MSGS];
} ring_plan_t;

static xe_scenario_t ring_scenario(const char *name, ring_sc_t *r, int preemptions);

/* Run a ring scenario on a 4096-byte ring, with at most 2 preemptions. */
static void run_ring(const ring_plan_t *p)
{
    ring_sc_t *r = (ring_sc_t *)calloc(1, sizeof(*r));
    assert_non_null(r);
    r->capacity = 4096;
    r->readers = p->readers;
    r->presend = p->presend;
    r->nmsg = p->nmsg;
    memcpy(r->sizes, p->sizes, sizeof(r->sizes));
    if (p->fill)
        r->fill[p->fill_msg] = p->fill;
    r->first_buf = p->first_buf;
    r->writer_pauses = p->writer_pauses;
    r->handover = p->handover;
    r->view_readers = p->view_readers;
    r->zc_writer = p->zc_writer;
    r->zc_extra = p->zc_extra;
    memcpy(r->abort_size, p->abort_size, sizeof(r->abort_size));
    xe_scenario_t sc = ring_scenario(p->name, r, 2);
    sc.pso = p->pso;
    if (p->handover) {
        /* the first writer (process 201) may be killed at any step; the
         * second (202) takes over */
        sc.actors = r->readers + 2;
        sc.pids[r->readers] = 201;
        sc.pids[r->readers + 1] = 202;
        sc.killable = 1u << r->readers;
        sc.preemptions = 1;
    }
    run_scenario(&sc, r);
    free(r);
}

static xe_scenario_t ring_scenario(const char *name, ring_sc_t *r, int preemptions)
{
    xe_scenario_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.name = name;
    sc.actors = r->readers + 1;
    sc.preemptions = preemptions;
    sc.setup = ring_setup;
    sc.actor = ring_actor;
    sc.final_check = ring_final;
    sc.teardown = ring_teardown;
    return sc;
}

/*
 * Bug: a torn read through a recycled tag. On a 4096-byte ring, messages
 * #0..#3 of 8 bytes sit at positions 0..128 and R = #4, of 72 bytes, at 128.
 * The reader reads #0..#3 and starts on R; meanwhile the writer sends 3848
 * bytes (224..4096) and then 1000 bytes whose payload words are all 129,
 * the value a check on "position | 1" at 128 expected. Before the fix the
 * reader returned those bytes as R.
 */
static void test_ring_torn_read_recycled_tag(void **state)
{
    (void)state;
    static const ring_plan_t p = {"ring: torn read, recycled tag", 1, 5, 7,
                                  {8, 8, 8, 8, 72, 3848, 1000}, 6, 129, 0, false, false, 0,
                                  0, false, 0, {0}};
    run_ring(&p);
}

/*
 * Bug: the order of the writer's stores on weakly ordered CPUs. Its stores
 * that give records up and those of new bytes may reach memory out of
 * order (ARM64) unless a release fence separates them; a reader could then
 * see new bytes (or, before, a cleared tag) with the old head. The torn-read
 * and lapping scenarios again, with the writer's stores reordered (PSO).
 */
static void test_ring_store_order(void **state)
{
    (void)state;
    static const ring_plan_t p = {"ring: torn read (PSO)", 1, 5, 7,
                                  {8, 8, 8, 8, 72, 3848, 1000}, 6, 129, 0, false, true, 0,
                                  0, false, 0, {0}};
    run_ring(&p);
}

static void test_ring_store_order_lap(void **state)
{
    (void)state;
    static const ring_plan_t p = {"ring: wrap and lap (PSO)", 1, 2, 6,
                                  {1500, 2000, 700, 3000, 100, 1200}, 0, 0, 0, false, true, 0,
                                  0, false, 0, {0}};
    run_ring(&p);
}

/* A reader racing a writer that laps it, with padding records at the end
 * of each lap, a record too big for the reader's first buffer and a message
 * spanning most of the ring. */
static void test_ring_wrap_and_lap(void **state)
{
    (void)state;
    static const ring_plan_t p = {"ring: wrap and lap", 1, 0, 8,
                                  {1500, 700, 2000, 100, 1200, 3000, 8, 900}, 0, 0, 1024,
                                  false, false, 0, 0, false, 0, {0}};
    run_ring(&p);
}

/* Fewer than a record header's bytes left at the end of the data area (a
 * bare remainder, no padding record), while the reader is lapped. */
static void test_ring_bare_remainder(void **state)
{
    (void)state;
    /* records of 2024 + 2064 = 4088 bytes: 8 left, then 100 wraps */
    static const ring_plan_t p = {"ring: bare remainder", 1, 1, 6,
                                  {2000, 2040, 100, 3000, 50, 2500}, 0, 0, 0, false, false, 0,
                                  0, false, 0, {0}};
    run_ring(&p);
}

/*
 * Bug: a read could return SHM_SUCCESS with nothing copied, when the writer
 * overwrote the record under it on its last allowed try (the explorer's
 * build allows a read SHM_RING_READ_TRIES = 2 tries). Messages of 3000
 * bytes on a 4096-byte ring: each one overwrites the one before.
 */
static void test_ring_lapped_on_every_try(void **state)
{
    (void)state;
    static const ring_plan_t p = {"ring: lapped on every try", 1, 1, 4,
                                  {3000, 3000, 3000, 3000}, 0, 0, 0, true, false, 0,
                                  0, false, 0, {0}};
    run_ring(&p);
}

/*
 * Bug: a false SHM_ERROR_INVALID_SEGMENT, then a message delivered twice.
 * A record longer than the tail's offset that does not fit before the end
 * of the data area goes to the next lap without a padding record, and head
 * jumps to that lap's start, ahead of the published tail; a lapped reader
 * resumed there, read the record before its tail was published, and then
 * found itself more than a ring ahead of the tail.
 */
static void test_ring_resume_ahead_of_tail(void **state)
{
    (void)state;
    static const ring_plan_t p = {"ring: resume ahead of the tail", 1, 5, 7,
                                  {1000, 1000, 1000, 1000, 1000, 3500, 200}, 0, 0, 0, false,
                                  false, 0, 0, false, 0, {0}};
    run_ring(&p);
}

/*
 * A reader that keeps up reads the next record as soon as its mark (its
 * position | 1) is there, before the tail. Stale bytes of an older lap at
 * that place must never pass for the mark: here message #0's payload words
 * all hold 5121, the mark of position 5120, where a record starts in the
 * next lap (after #1 and #2).
 */
static void test_ring_stale_mark(void **state)
{
    (void)state;
    /* #0: [0, 4024) (payload of 5121s); #1: [4096, 4224) after padding;
     * #2: [4224, 5120); #3 at 5120; #4 */
    static const ring_plan_t p = {"ring: stale bytes as a mark", 1, 1, 5,
                                  {4000, 100, 872, 100, 500}, 0, 5121, 0, false, false, 0,
                                  0, false, 0, {0}};
    run_ring(&p);
}

/*
 * A writer killed at any step, mid-record included, and another process
 * taking its ring over (xshm_ring_writer_init, as a client that reconnects
 * does): the new writer publishes a record the dead one had marked complete
 * but not published (a reader may have read it already through its mark),
 * and never leaves a word at its tail that reads as a mark. The reader
 * races both.
 */
static void test_ring_writer_killed(void **state)
{
    (void)state;
    static const ring_plan_t p = {"ring: writer killed, another takes over", 1, 1, 6,
                                  {600, 1500, 2000, 900, 3000, 200}, 0, 0, 0, false, false, 3,
                                  0, false, 0, {0}};
    run_ring(&p);
}

/* Two readers of one ring, each with its own cursor, and a writer lapping
 * both. */
static void test_ring_two_readers(void **state)
{
    (void)state;
    static const ring_plan_t p = {"ring: two readers", 2, 0, 4, {1800, 2600, 400, 3000},
                                  0, 0, 0, false, false, 0, 0, false, 0, {0}};
    run_ring(&p);
}

/* ---- zero-copy ---------------------------------------------------------------------------- */

/*
 * The writer reserves, fills the record in place and commits, shorter than
 * it reserved, with aborted reservations between: one whose record had to
 * go to the next lap behind a padding record (before #2: 2000 bytes do not
 * fit in the 1544 left after #0 and #1, so the padding at 2552 is marked
 * before the abort publishes it; #2, which would fit there, must not be
 * written over it: a reader may have read the padding's mark, which the
 * record at 2552 would have repeated), and one that leaves nothing marked
 * (before #4). The reader races every step: every message it gets is byte
 * for byte the one committed, never an aborted one's bytes, and received +
 * lost == sent.
 */
static const ring_plan_t zc_writer_plan = {.name = "zero-copy: reserve, commit shorter, abort",
                                           .readers = 1, .nmsg = 5,
                                           .sizes = {1000, 1500, 500, 700, 3000},
                                           .zc_writer = true, .zc_extra = 200,
                                           .abort_size = {0, 0, 2000, 0, 100}};

static void test_zc_reserve_commit_abort(void **state)
{
    (void)state;
    run_ring(&zc_writer_plan);
}

/* The same, with the writer's stores reordered (PSO): the in-place fill
 * after the reservation's release fence, the marks after it. */
static void test_zc_reserve_pso(void **state)
{
    (void)state;
    ring_plan_t p = zc_writer_plan;
    p.name = "zero-copy: reserve, commit, abort (PSO)";
    p.pso = true;
    run_ring(&p);
}

/*
 * The release check: the reader holds a view while the writer laps it
 * (each 3000-byte message overwrites the one before), and reads the bytes
 * of the view at any point of the writer's progress. A release that
 * returns SUCCESS must be right: the bytes read are the message. Every
 * overwrite during the hold must be reported, so a release that skipped
 * or weakened the check (say, one that looked at head alone, or trusted
 * the mark) delivers a torn message here.
 */
static void test_zc_view_lapped(void **state)
{
    (void)state;
    static const ring_plan_t p = {.name = "zero-copy: view lapped while held", .readers = 1,
                                  .presend = 1, .nmsg = 4, .sizes = {3000, 3000, 3000, 3000},
                                  .writer_pauses = true, .view_readers = 1};
    run_ring(&p);
}

/* The recycled-tag schedule for a view: R (#4) is viewed, the writer
 * overwrites it with bytes whose every word is the value R's mark had. */
static void test_zc_view_recycled_tag(void **state)
{
    (void)state;
    static const ring_plan_t p = {.name = "zero-copy: view, recycled tag", .readers = 1,
                                  .presend = 5, .nmsg = 7,
                                  .sizes = {8, 8, 8, 8, 72, 3848, 1000},
                                  .fill_msg = 6, .fill = 129, .view_readers = 1};
    run_ring(&p);
}

/* Views under reordered stores (PSO), lapped. */
static void test_zc_view_pso(void **state)
{
    (void)state;
    static const ring_plan_t p = {.name = "zero-copy: view lapped (PSO)", .readers = 1,
                                  .presend = 2, .nmsg = 6,
                                  .sizes = {1500, 2000, 700, 3000, 100, 1200},
                                  .view_readers = 1, .pso = true};
    run_ring(&p);
}

/* Both ends zero-copy, two readers (one by views, one by copies), a writer
 * that commits short and aborts, lapping both. */
static void test_zc_both_ends(void **state)
{
    (void)state;
    static const ring_plan_t p = {.name = "zero-copy: both ends, two readers", .readers = 2,
                                  .nmsg = 3, .sizes = {1800, 2600, 3000},
                                  .view_readers = 1, .zc_writer = true, .zc_extra = 64,
                                  .abort_size = {0, 2000, 0}};
    run_ring(&p);
}

/* ---- reader slots ----------------------------------------------------------------------- */
#if defined(SHM_CLAIM) /* the slot API of this version (tests/explore/against.sh) */

/*
 * Two processes claim the one reader slot of a ring while a third reclaims
 * slots whose owner is gone; either claimer may be killed at any step.
 * A live owner reads (publishing its counters in the slot) and leaves.
 */
typedef struct slot_sc {
    void *mem;
    xshm_segment_t seg;
    shm_ring_t *ring;
    xshm_ring_reader_t rd[2];
    bool owns[2];
} slot_sc_t;

static void slot_setup(void *ctx)
{
    slot_sc_t *s = (slot_sc_t *)ctx;
    sim_reset();
    xe_alloc_reset();
    xshm_seg_params_t p = {1, 4096, 1, false, 0, 0};
    size_t size = xshm_segment_size(&p);
    s->mem = xe_aligned_alloc(size);
    xe_shared(s->mem, size);
    xshm_segment_format(&s->seg, s->mem, size, &p);
    s->ring = &s->seg.rings[0];
    xshm_ring_writer_init(s->ring);
    memset(s->rd, 0, sizeof(s->rd));
    s->owns[0] = s->owns[1] = false;
}

/* The server's rule: a CLAIMING slot is reclaimed when the process named in
 * its claim is gone, an ACTIVE one when its process (pid and start time)
 * is gone. */
static void reap(shm_ring_t *ring)
{
    uint64_t w = xshm_ring_slot_claim(ring, 0);
    uint32_t st = SHM_CLAIM_STATE(w);
    if (st == SHM_SLOT_FREE)
        return;
    plat_proc_id_t id = {SHM_CLAIM_PID(w), 0};
    if (st == SHM_SLOT_ACTIVE)
        id.start_time = xa_load64_relaxed(&ring->slots[0].start_time);
    if (!xshm_plat_proc_alive(&id))
        xshm_ring_slot_reclaim(ring, 0, w);
}

static void slot_actor(void *ctx, int id)
{
    slot_sc_t *s = (slot_sc_t *)ctx;
    if (id == 2) {
        for (int k = 0; k < 3; k++) {
            reap(s->ring);
            xe_yield_hint("reaper: between rounds");
        }
        return;
    }
    if (xshm_ring_reader_attach(s->ring, &s->rd[id]) != SHM_SUCCESS)
        return;
    s->owns[id] = true;
    uint8_t buf[64];
    uint32_t size = sizeof(buf);
    xshm_ring_read(&s->rd[id], buf, &size);
    s->owns[id] = false;
    xshm_ring_reader_detach(&s->rd[id]);
}

static const char *slot_check(void *ctx)
{
    slot_sc_t *s = (slot_sc_t *)ctx;
    int live = 0;
    for (int i = 0; i < 2; i++)
        if (s->owns[i] && xe_pid_alive(100u + (uint32_t)i))
            live++;
    if (live > 1)
        return "two live processes own slot 0";
    uint64_t w = s->ring->slots[0].claim;
    if (SHM_CLAIM_STATE(w) == SHM_SLOT_ACTIVE) {
        for (int i = 0; i < 2; i++)
            if (s->owns[i] && xe_pid_alive(100u + (uint32_t)i) && SHM_CLAIM_PID(w) != 100u + (uint32_t)i)
                return "slot 0 names another process than its live owner";
    }
    return NULL;
}

static const char *slot_final(void *ctx)
{
    slot_sc_t *s = (slot_sc_t *)ctx;
    reap(s->ring); /* a server's next poll */
    if (SHM_CLAIM_STATE(s->ring->slots[0].claim) != SHM_SLOT_FREE)
        return "slot 0 stays claimed by a process that is gone";
    if (s->ring->hdr->waiters != 0)
        return "the ring counts a sleeper that is gone";
    return NULL;
}

static void slot_teardown(void *ctx)
{
    slot_sc_t *s = (slot_sc_t *)ctx;
    xe_aligned_free(s->mem);
    s->mem = NULL;
}

static void test_slot_claim_release_reclaim(void **state)
{
    (void)state;
    slot_sc_t *s = (slot_sc_t *)calloc(1, sizeof(*s));
    assert_non_null(s);
    xe_scenario_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.name = "slot: claim, release, reclaim";
    sc.actors = 3;
    sc.pids[0] = 100;
    sc.pids[1] = 101;
    sc.pids[2] = 1;
    sc.killable = 3u;
    sc.preemptions = 2;
    sc.setup = slot_setup;
    sc.actor = slot_actor;
    sc.check = slot_check;
    sc.final_check = slot_final;
    sc.teardown = slot_teardown;
    run_scenario(&sc, s);
    free(s);
}
#else
static void test_slot_claim_release_reclaim(void **state)
{
    (void)state;
    skip();
}
#endif

/* ---- channels: clients and servers ---------------------------------------------------- */

#define CHAN "xe"

static shm_ring_config_t one_client(void)
{
    shm_ring_config_t c;
    memset(&c, 0, sizeof(c));
    c.size = 4096;
    c.max_readers = 1;
    c.blocking = false;
    c.timeout_ms = 0;
    return c;
}

/*
 * Bug: two live clients could own one slot. A client stopped (a debugger, a
 * paused VM) between claiming the channel's only slot and becoming ACTIVE
 * for longer than the server's 2 s claim timeout lost the slot to a second
 * client, then stored ACTIVE over that one's claim. Two clients, and the
 * server polling its clients before and after 2.1 s of virtual time.
 */
typedef struct chan_sc {
    shm_server_t *server;
    shm_client_t *client[2];
} chan_sc_t;

static void chan_setup(void *ctx)
{
    chan_sc_t *c = (chan_sc_t *)ctx;
    sim_reset();
    xe_alloc_reset();
    shm_ring_config_t cfg = one_client();
    c->server = shm_server_create(CHAN, &cfg);
    if (!c->server)
        xe_fail("setup: server: %s", shm_strerror(shm_last_error()));
    c->client[0] = c->client[1] = NULL;
}

static void chan_actor(void *ctx, int id)
{
    chan_sc_t *c = (chan_sc_t *)ctx;
    if (id == 2) {
        shm_stats_t st;
        shm_server_get_stats(c->server, &st); /* polls its clients */
        xshm_plat_sleep_ms(2100);
        shm_server_get_stats(c->server, &st);
        return;
    }
    c->client[id] = shm_client_connect(CHAN);
}

static const char *chan_final(void *ctx)
{
    chan_sc_t *c = (chan_sc_t *)ctx;
    if (c->client[0] && c->client[1] &&
        shm_client_tx_ring(c->client[0])->hdr->ring_index ==
            shm_client_tx_ring(c->client[1])->hdr->ring_index)
        return "two live clients own the same slot";
    return NULL;
}

static void chan_teardown(void *ctx)
{
    chan_sc_t *c = (chan_sc_t *)ctx;
    for (int i = 0; i < 2; i++)
        if (c->client[i]) {
            xe_set_setup_pid(101u + (uint32_t)i);
            shm_client_disconnect(c->client[i]);
        }
    xe_set_setup_pid(1);
    shm_server_destroy(c->server);
}

static void test_slot_paused_claimer(void **state)
{
    (void)state;
    chan_sc_t *c = (chan_sc_t *)calloc(1, sizeof(*c));
    assert_non_null(c);
    xe_scenario_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.name = "slot: paused claimer";
    sc.actors = 3;
    sc.pids[0] = 101;
    sc.pids[1] = 102;
    sc.pids[2] = 1;
    sc.preemptions = 2;
    sc.setup = chan_setup;
    sc.actor = chan_actor;
    sc.final_check = chan_final;
    sc.teardown = chan_teardown;
    run_scenario(&sc, c);
    free(c);
}

/*
 * Servers creating one channel name. `creators` actors call
 * shm_server_create; with `killable`, the first may be killed at any step
 * (a server killed while creating its channel). `stale`: a server of
 * process 99 created the channel in setup and died without destroying it.
 * `client`: a client of it (process 98, alive) is connected to it.
 * Invariants: at most one live server owns the name; no new channel is laid
 * out in memory that a connected client of the old one still maps; once
 * every actor is done, a name without a live server can be created again.
 */
typedef struct create_sc {
    bool stale;
    bool windows;
    bool client;
    shm_client_t *old;     /* the old channel's client */
    uint8_t *old_mem;      /* the old channel's memory, which it maps */
    size_t old_size;
    shm_server_t *made[2];
    shm_error_t err[2];
    shm_server_t *dead;
} create_sc_t;

static void create_setup(void *ctx)
{
    create_sc_t *c = (create_sc_t *)ctx;
    sim_reset();
    xe_alloc_reset();
    sim_windows_names = c->windows;
    c->made[0] = c->made[1] = NULL;
    c->err[0] = c->err[1] = SHM_SUCCESS;
    c->dead = NULL;
    c->old = NULL;
    c->old_mem = NULL;
    if (c->stale) {
        xe_set_setup_pid(99);
        if (c->client)
            xe_setup_alive(99, true); /* until its client has connected */
        shm_ring_config_t cfg = one_client();
        c->dead = shm_server_create(CHAN, &cfg);
        if (!c->dead)
            xe_fail("setup: the server that dies: %s", shm_strerror(shm_last_error()));
        c->old_mem = (uint8_t *)sim_object("xshm." CHAN, &c->old_size);
        if (c->client) {
            xe_set_setup_pid(98);
            xe_setup_alive(98, true); /* alive, and mapping the old channel */
            c->old = shm_client_connect(CHAN);
            if (!c->old)
                xe_fail("setup: the old client: %s", shm_strerror(shm_last_error()));
            xe_setup_alive(99, false);
        } else if (c->windows) {
            /* a process (98, alive) still has the segment open */
            xe_set_setup_pid(98);
            plat_shm_t keep;
            xshm_plat_shm_open(&keep, "xshm." CHAN);
        }
        sim_process_ended(99); /* killed: the OS releases what it held */
    }
}

static void create_actor(void *ctx, int id)
{
    create_sc_t *c = (create_sc_t *)ctx;
    shm_ring_config_t cfg = one_client();
    c->made[id] = shm_server_create(CHAN, &cfg);
    c->err[id] = c->made[id] ? SHM_SUCCESS : shm_last_error();
    xe_note("server %d: %s", id, shm_strerror(c->err[id]));
}

static const char *create_check(void *ctx)
{
    create_sc_t *c = (create_sc_t *)ctx;
    if (c->made[0] && c->made[1] && xe_pid_alive(200) && xe_pid_alive(201))
        return "two live servers own the channel name";
    for (int i = 0; i < 2 && c->old; i++) {
        shm_ring_t *tx = c->made[i] ? shm_server_tx_ring(c->made[i]) : NULL;
        uint8_t *at = tx ? (uint8_t *)tx->hdr : NULL;
        if (at && at >= c->old_mem && at < c->old_mem + c->old_size)
            return "a new channel was laid out in memory a client of the old one still maps";
    }
    return NULL;
}

static const char *create_final(void *ctx)
{
    create_sc_t *c = (create_sc_t *)ctx;
    static char why[160];
    const char *bad = create_check(ctx);
    if (bad)
        return bad;
    for (int i = 0; i < 2; i++)
        if (c->err[i] != SHM_SUCCESS && c->err[i] != SHM_ERROR_EXISTS) {
            snprintf(why, sizeof(why), "server %d: %s", i, shm_strerror(c->err[i]));
            return why;
        }
    bool live = (c->made[0] && xe_pid_alive(200)) || (c->made[1] && xe_pid_alive(201));
    if (!live) {
        /* nobody owns the name: a new server (process 300) must get it */
        xe_set_setup_pid(300);
        shm_ring_config_t cfg = one_client();
        shm_server_t *s = shm_server_create(CHAN, &cfg);
        if (!s) {
            snprintf(why, sizeof(why), "the name stays blocked with no live server: %s",
                     shm_strerror(shm_last_error()));
            return why;
        }
        shm_server_destroy(s);
    }
    return NULL;
}

static void create_teardown(void *ctx)
{
    create_sc_t *c = (create_sc_t *)ctx;
    for (int i = 0; i < 2; i++)
        if (c->made[i] && xe_pid_alive(200u + (uint32_t)i)) {
            xe_set_setup_pid(200u + (uint32_t)i);
            shm_server_destroy(c->made[i]);
        }
    if (c->old) {
        xe_set_setup_pid(98);
        shm_client_disconnect(c->old);
        xe_setup_alive(98, false);
    }
    sim_windows_names = false;
}

static void run_create(const char *name, bool stale, bool windows, bool client, bool killable,
                       int bound)
{
    create_sc_t *c = (create_sc_t *)calloc(1, sizeof(*c));
    assert_non_null(c);
    c->stale = stale;
    c->windows = windows;
    c->client = client;
    xe_scenario_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.name = name;
    sc.actors = 2;
    sc.pids[0] = 200;
    sc.pids[1] = 201;
    sc.killable = killable ? 1u : 0u;
    sc.preemptions = bound;
    sc.setup = create_setup;
    sc.actor = create_actor;
    sc.check = create_check;
    sc.final_check = create_final;
    sc.teardown = create_teardown;
    run_scenario(&sc, c);
    free(c);
}

/* Bug: a server killed while creating its channel blocked the name for
 * good (an object of size 0, or of zeros, counted as a live server). */
static void test_channel_killed_creator(void **state)
{
    (void)state;
    run_create("channel: killed creator", false, false, false, true, 1);
}

/* Bug: two servers reclaiming the same stale name both won (the second
 * removed the first one's new channel). */
static void test_channel_two_reclaimers(void **state)
{
    (void)state;
    run_create("channel: two reclaimers", true, false, false, false, 2);
}

/* The same on the Windows model: the dead server's segment is still held
 * by a client, so it is laid out anew in place. */
static void test_channel_two_reclaimers_windows(void **state)
{
    (void)state;
    run_create("channel: two reclaimers (Windows)", true, true, false, false, 2);
}

/* Bug: the new channel was laid out in the old segment while a client of
 * the dead server still mapped it (Windows: the client's handle kept the
 * name), where the client could still write its messages and its slot. */
static void test_channel_reclaimed_under_client_windows(void **state)
{
    (void)state;
    run_create("channel: reclaimed under a client (Windows)", true, true, true, false, 2);
}

/* The same on Linux, where the name is removed and created anew. */
static void test_channel_reclaimed_under_client(void **state)
{
    (void)state;
    run_create("channel: reclaimed under a client", true, false, true, false, 2);
}

/* ---- addressed messages and client ids ---------------------------------------------------- */

/*
 * shm_server_send_to and shm_server_receive_from while a client's slot
 * changes hands. Client A (process 101, connected in setup, id_a) sends
 * "from-a" and leaves; client B (102) takes the channel's only slot once A
 * is gone and sends "from-b"; the server (1) sends "for-a" to id_a, then
 * receives everything with receive_from. Invariants:
 *   - B never receives "for-a", not even when A leaves and B joins between
 *     the server's check of id_a and its write (B's reader passes over a
 *     record tagged with another epoch), and such a record counts neither
 *     as received nor as lost for B;
 *   - "from-a" is attributed to id_a and "from-b" to B's id, never the
 *     other way round.
 */
typedef struct addr_sc {
    shm_server_t *server;
    shm_client_t *a, *b;
    shm_client_id_t id_a, id_b;
    bool a_done, b_sent, to_sent;
} addr_sc_t;

static bool addr_flag(void *arg) { return *(bool *)arg; }

static void addr_setup(void *ctx)
{
    addr_sc_t *c = (addr_sc_t *)ctx;
    sim_reset();
    xe_alloc_reset();
    shm_ring_config_t cfg = one_client();
    c->server = shm_server_create(CHAN, &cfg);
    if (!c->server)
        xe_fail("setup: server: %s", shm_strerror(shm_last_error()));
    xe_set_setup_pid(101);
    c->a = shm_client_connect(CHAN);
    xe_set_setup_pid(1);
    if (!c->a)
        xe_fail("setup: client A: %s", shm_strerror(shm_last_error()));
    char buf[16];
    uint32_t size = sizeof(buf);
    xe_set_setup_pid(101);
    shm_error_t e = shm_client_send(c->a, "hello", 6);
    xe_set_setup_pid(1);
    if (e != SHM_SUCCESS || shm_server_receive_from(c->server, buf, &size, &c->id_a) != SHM_SUCCESS)
        xe_fail("setup: A's hello");
    c->b = NULL;
    c->id_b = 0;
    c->a_done = c->b_sent = c->to_sent = false;
}

static void addr_server(addr_sc_t *c)
{
    shm_error_t e = shm_server_send_to(c->server, c->id_a, "for-a", 6);
    if (e != SHM_SUCCESS && e != SHM_ERROR_NOT_CONNECTED)
        xe_fail("server: send_to returned %s", shm_strerror(e));
    c->to_sent = true;
    xe_block(addr_flag, &c->b_sent, UINT64_MAX);
    char buf[16];
    for (;;) {
        uint32_t size = sizeof(buf);
        shm_client_id_t from = 0;
        e = shm_server_receive_from(c->server, buf, &size, &from);
        if (e == SHM_ERROR_EMPTY)
            break;
        if (e != SHM_SUCCESS)
            xe_fail("server: receive_from returned %s", shm_strerror(e));
        xe_note("server: got %s from %llx", buf, (unsigned long long)from);
        if (strcmp(buf, "from-a") == 0 && from != c->id_a)
            xe_fail("A's message attributed to %llx, not to A (%llx)", (unsigned long long)from,
                    (unsigned long long)c->id_a);
        if (strcmp(buf, "from-b") == 0 && from != c->id_b)
            xe_fail("B's message attributed to %llx, not to B (%llx)", (unsigned long long)from,
                    (unsigned long long)c->id_b);
    }
}

static void addr_client_b(addr_sc_t *c)
{
    xe_block(addr_flag, &c->a_done, UINT64_MAX);
    c->b = shm_client_connect(CHAN);
    if (!c->b)
        xe_fail("B: connect: %s", shm_strerror(shm_last_error()));
    uint64_t claim = xshm_ring_slot_claim(shm_server_tx_ring(c->server), 0);
    c->id_b = ((uint64_t)SHM_CLAIM_EPOCH(claim) << 8) | 0u;
    if (c->id_b == c->id_a)
        xe_fail("B got A's id %llx", (unsigned long long)c->id_a);
    if (shm_client_send(c->b, "from-b", 7) != SHM_SUCCESS)
        xe_fail("B: send failed");
    c->b_sent = true;
    xe_block(addr_flag, &c->to_sent, UINT64_MAX);
    char buf[16];
    uint32_t size = sizeof(buf);
    shm_error_t e = shm_client_receive(c->b, buf, &size);
    if (e == SHM_SUCCESS)
        xe_fail("B received \"%s\", addressed to A", buf);
    if (e != SHM_ERROR_EMPTY)
        xe_fail("B: receive returned %s", shm_strerror(e));
    shm_stats_t st;
    if (shm_client_get_stats(c->b, &st) != SHM_SUCCESS || st.messages_received != 0 ||
        st.messages_lost != 0)
        xe_fail("B counts A's message: %llu received, %llu lost",
                (unsigned long long)st.messages_received, (unsigned long long)st.messages_lost);
}

static void addr_actor(void *ctx, int id)
{
    addr_sc_t *c = (addr_sc_t *)ctx;
    if (id == 0) {
        addr_server(c);
    } else if (id == 1) {
        if (shm_client_send(c->a, "from-a", 7) != SHM_SUCCESS)
            xe_fail("A: send failed");
        shm_client_disconnect(c->a);
        c->a = NULL;
        c->a_done = true;
    } else {
        addr_client_b(c);
    }
}

static void addr_teardown(void *ctx)
{
    addr_sc_t *c = (addr_sc_t *)ctx;
    if (c->a) {
        xe_set_setup_pid(101);
        shm_client_disconnect(c->a);
    }
    if (c->b) {
        xe_set_setup_pid(102);
        shm_client_disconnect(c->b);
    }
    xe_set_setup_pid(1);
    shm_server_destroy(c->server);
    c->a = c->b = NULL;
}

static void test_addressed_slot_changes_hands(void **state)
{
    (void)state;
    addr_sc_t *c = (addr_sc_t *)calloc(1, sizeof(*c));
    assert_non_null(c);
    xe_scenario_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.name = "addressed: the slot changes hands under send_to";
    sc.actors = 3;
    sc.pids[0] = 1;
    sc.pids[1] = 101;
    sc.pids[2] = 102;
    sc.preemptions = 2;
    sc.max_steps = 200000;
    sc.setup = addr_setup;
    sc.actor = addr_actor;
    sc.teardown = addr_teardown;
    run_scenario(&sc, c);
    free(c);
}

/* ---- sleeping and waking ------------------------------------------------------------------ */
/* ---- sleeping and waking ------------------------------------------------------------------ */

/*
 * A reader that finds its ring empty sleeps on its wake word (xshm_ev_wait,
 * no spinning) with a wait that never times out; the writer publishes two
 * messages, waking sleepers after each. A wake-up lost anywhere leaves the
 * reader waiting forever.
 */
typedef struct wake_sc {
    void *mem;
    xshm_segment_t seg;
    shm_ring_t *ring;
    xshm_ring_reader_t rd;
    xshm_ring_reader_t *rd_ptr;
    xshm_wake_target_t target;
    uint32_t got;
} wake_sc_t;

static void wake_setup(void *ctx)
{
    wake_sc_t *w = (wake_sc_t *)ctx;
    sim_reset();
    xe_alloc_reset();
    xshm_seg_params_t p = {1, 4096, 1, true, 0, 0};
    size_t size = xshm_segment_size(&p);
    w->mem = xe_aligned_alloc(size);
    xe_shared(w->mem, size);
    xshm_segment_format(&w->seg, w->mem, size, &p);
    w->ring = &w->seg.rings[0];
    xshm_ring_writer_init(w->ring);
    xshm_ring_reader_attach(w->ring, &w->rd);
    w->rd_ptr = &w->rd;
    xshm_wake_target_init(&w->target, &w->rd.slot->wake_word, &w->rd_ptr, 1);
    xshm_plat_wake_open(&w->target.os, "xe-wake", true);
    w->got = 0;
}

static bool wake_ready(void *ctx) { return xshm_ring_reader_pending(&((wake_sc_t *)ctx)->rd); }

static void wake_signal(void *ctx, uint32_t slot)
{
    wake_sc_t *w = (wake_sc_t *)ctx;
    (void)slot;
    xshm_ev_signal(&w->rd.slot->wake_word, &w->target.os);
}

static void wake_actor(void *ctx, int id)
{
    wake_sc_t *w = (wake_sc_t *)ctx;
    if (id == 1) {
        for (int k = 0; k < 2; k++) {
            uint8_t m[16] = {(uint8_t)k};
            xshm_ring_write(w->ring, m, sizeof(m));
            xshm_ev_notify(w->ring, wake_signal, w);
        }
        return;
    }
    while (w->got < 2) {
        uint8_t buf[16];
        uint32_t size = sizeof(buf);
        shm_error_t e = xshm_ring_read(&w->rd, buf, &size);
        if (e == SHM_SUCCESS) {
            w->got++;
            continue;
        }
        if (e != SHM_ERROR_EMPTY)
            xe_fail("read: %s", shm_strerror(e));
        xshm_ev_wait(&w->target, wake_ready, w, SIM_FOREVER_MS, 0);
    }
}

static const char *wake_final(void *ctx)
{
    wake_sc_t *w = (wake_sc_t *)ctx;
    if (w->ring->hdr->waiters != 0)
        return "a waiting mark outlived its sleeper";
    return NULL;
}

static void wake_teardown(void *ctx)
{
    wake_sc_t *w = (wake_sc_t *)ctx;
    xshm_wake_target_fini(&w->target);
    xe_aligned_free(w->mem);
    w->mem = NULL;
}

/* How the writer orders its tail store before its load of the sleepers'
 * count: its own full fence, or the sleepers' remote fence (membarrier),
 * which may fail. */
typedef enum { FENCE_OWN, FENCE_REMOTE, FENCE_REMOTE_FAILS } fence_mode_t;
static fence_mode_t g_fence_mode;

static void wake_setup_mode(void *ctx)
{
    sim_remote_fence_registered = g_fence_mode != FENCE_OWN;
    sim_remote_fence_works = g_fence_mode != FENCE_REMOTE_FAILS;
    wake_setup(ctx);
}

static void run_wake(const char *name, fence_mode_t mode, int bound)
{
    wake_sc_t *w = (wake_sc_t *)calloc(1, sizeof(*w));
    assert_non_null(w);
    g_fence_mode = mode;
    xe_scenario_t sc;
    memset(&sc, 0, sizeof(sc));
    sc.name = name;
    sc.actors = 2;
    sc.pids[0] = 100;
    sc.pids[1] = 1;
    sc.preemptions = bound;
    sc.tso = true;
    sc.setup = wake_setup_mode;
    sc.actor = wake_actor;
    sc.final_check = wake_final;
    sc.teardown = wake_teardown;
    run_scenario(&sc, w);
    sim_remote_fence_registered = false;
    sim_remote_fence_works = true;
    free(w);
}

/* Under TSO, the writer's tail store may still wait in its store buffer
 * when it loads the count of sleepers; a fence on one side or the other
 * must make one of them see the other. */
static void test_sleep_wake(void **state)
{
    (void)state;
    run_wake("wake: writer fences (TSO)", FENCE_OWN, 2);
    run_wake("wake: remote fence (TSO)", FENCE_REMOTE, 2);
}

/* Bug: a wake-up was lost when a sleeper's remote fence failed (seccomp,
 * an old kernel): the writer kept skipping its own fence, and the reader
 * slept through the message (until its 50 ms slice ended). */
static void test_sleep_wake_remote_fence_fails(void **state)
{
    (void)state;
    run_wake("wake: remote fence fails (TSO)", FENCE_REMOTE_FAILS, 2);
}

/* ---- the explorer itself ------------------------------------------------------------------- */

/*
 * The store-buffering litmus test: A stores x then loads y, B stores y then
 * loads x. Sequentially consistent, one of them sees the other's store;
 * on TSO (x86) both may load 0. The explorer must find that outcome under
 * TSO (or its TSO model shows nothing), and must not under SC.
 */
typedef struct litmus {
    uint64_t *mem; /* x = mem[0], y = mem[8]: separate lines */
    uint64_t r[2];
    bool tso;
} litmus_t;

static void litmus_setup(void *ctx)
{
    litmus_t *l = (litmus_t *)ctx;
    memset(l->mem, 0, 16 * sizeof(uint64_t));
    xe_shared(l->mem, 16 * sizeof(uint64_t));
    l->r[0] = l->r[1] = 7;
}

static void litmus_actor(void *ctx, int id)
{
    litmus_t *l = (litmus_t *)ctx;
    xa_store64_relaxed(&l->mem[id ? 8 : 0], 1);
    l->r[id] = xa_load64_relaxed(&l->mem[id ? 0 : 8]);
}

static const char *litmus_final(void *ctx)
{
    litmus_t *l = (litmus_t *)ctx;
    return l->r[0] == 0 && l->r[1] == 0 ? "both loads saw 0" : NULL;
}

static void test_explorer_store_buffering(void **state)
{
    (void)state;
    litmus_t l;
    l.mem = (uint64_t *)calloc(16, sizeof(uint64_t));
    assert_non_null(l.mem);
    for (int tso = 0; tso <= 1; tso++) {
        xe_scenario_t sc;
        memset(&sc, 0, sizeof(sc));
        sc.name = tso ? "explorer: litmus SB (TSO)" : "explorer: litmus SB (SC)";
        sc.actors = 2;
        sc.preemptions = 2;
        sc.tso = tso != 0;
        sc.setup = litmus_setup;
        sc.actor = litmus_actor;
        sc.final_check = litmus_final;
        xe_result_t res;
        int rc = xe_explore(&sc, &l, &res);
        printf("explore %-28s %8llu schedules: %s\n", sc.name,
               (unsigned long long)res.schedules,
               rc ? "found r1 = r2 = 0, as the model allows" : "r1 = r2 = 0 never seen");
        if (tso)
            assert_int_equal(rc, 1);
        else
            assert_int_equal(rc, 0);
    }
    free(l.mem);
}

/*
 * The message-passing litmus test: A stores data then flag, B loads flag
 * then data. Under PSO, B may see the flag without the data unless A puts
 * a release fence between its stores: the explorer must find the first,
 * and not the second.
 */
static bool g_mp_fence;

static void mp_actor(void *ctx, int id)
{
    litmus_t *l = (litmus_t *)ctx;
    if (id == 0) {
        xa_store64_relaxed(&l->mem[0], 1);
        if (g_mp_fence)
            xa_fence_rel();
        xa_store64_relaxed(&l->mem[8], 1);
        return;
    }
    l->r[0] = xa_load64_relaxed(&l->mem[8]);
    xa_fence_acq();
    l->r[1] = xa_load64_relaxed(&l->mem[0]);
}

static const char *mp_final(void *ctx)
{
    litmus_t *l = (litmus_t *)ctx;
    return l->r[0] == 1 && l->r[1] == 0 ? "the flag without the data" : NULL;
}

static void test_explorer_message_passing(void **state)
{
    (void)state;
    litmus_t l;
    l.mem = (uint64_t *)calloc(16, sizeof(uint64_t));
    assert_non_null(l.mem);
    for (int fence = 0; fence <= 1; fence++) {
        g_mp_fence = fence != 0;
        xe_scenario_t sc;
        memset(&sc, 0, sizeof(sc));
        sc.name = fence ? "explorer: litmus MP + fence (PSO)" : "explorer: litmus MP (PSO)";
        sc.actors = 2;
        sc.preemptions = 2;
        sc.pso = true;
        sc.setup = litmus_setup;
        sc.actor = mp_actor;
        sc.final_check = mp_final;
        xe_result_t res;
        int rc = xe_explore(&sc, &l, &res);
        printf("explore %-28s %8llu schedules: %s\n", sc.name,
               (unsigned long long)res.schedules,
               rc ? "found the flag without the data, as the model allows"
                  : "the flag never seen without the data");
        assert_int_equal(rc, fence ? 0 : 1);
    }
    free(l.mem);
}

int main(int argc, char **argv)
{
    g_quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_explorer_store_buffering),
        cmocka_unit_test(test_explorer_message_passing),
        cmocka_unit_test(test_ring_torn_read_recycled_tag),
        cmocka_unit_test(test_ring_wrap_and_lap),
        cmocka_unit_test(test_ring_bare_remainder),
        cmocka_unit_test(test_ring_lapped_on_every_try),
        cmocka_unit_test(test_ring_resume_ahead_of_tail),
        cmocka_unit_test(test_ring_stale_mark),
        cmocka_unit_test(test_ring_writer_killed),
        cmocka_unit_test(test_ring_two_readers),
        cmocka_unit_test(test_ring_store_order),
        cmocka_unit_test(test_ring_store_order_lap),
        cmocka_unit_test(test_zc_reserve_commit_abort),
        cmocka_unit_test(test_zc_reserve_pso),
        cmocka_unit_test(test_zc_view_lapped),
        cmocka_unit_test(test_zc_view_recycled_tag),
        cmocka_unit_test(test_zc_view_pso),
        cmocka_unit_test(test_zc_both_ends),
        cmocka_unit_test(test_slot_claim_release_reclaim),
        cmocka_unit_test(test_slot_paused_claimer),
        cmocka_unit_test(test_channel_killed_creator),
        cmocka_unit_test(test_channel_two_reclaimers),
        cmocka_unit_test(test_channel_two_reclaimers_windows),
        cmocka_unit_test(test_channel_reclaimed_under_client_windows),
        cmocka_unit_test(test_channel_reclaimed_under_client),
        cmocka_unit_test(test_addressed_slot_changes_hands),
        cmocka_unit_test(test_sleep_wake),
        cmocka_unit_test(test_sleep_wake_remote_fence_fails),
    };
    /* XE_FILTER=pattern (CMocka's test filter, * and ? allowed) runs some */
    const char *filter = getenv("XE_FILTER");
    if (filter && *filter)
        cmocka_set_test_filter(filter);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    xe_alloc_reset();
    return rc;
}
