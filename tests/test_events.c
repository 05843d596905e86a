/*
 * test_events.c - waiting and waking on a ring, and the listener thread.
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
#include "platform.h"
#include "shm_events.h"
#include "shm_ringbuffer.h"
#include "testmsg.h"
#include "testproc.h"

#if defined(XA_TSAN)
#define ROUNDS 3000u
#else
#define ROUNDS 30000u
#endif

/* One ring in private memory, one reader, and the reader's wake target. */
typedef struct fixture {
    void *mem;
    xshm_segment_t seg;
    shm_ring_t *ring;
    xshm_ring_reader_t rd;
    xshm_ring_reader_t *rd_ptr;
    xshm_wake_target_t target;
    uint32_t stop; /* atomic: threads of the test, end now */
    /* What a test started, for the teardown to end should the test fail
     * (a CMocka failure leaves the test function at once). */
    struct lctx *lctx;        /* a listener, stopped and freed at teardown */
    plat_thread_t threads[2]; /* threads still to join */
    uint32_t nthreads;
} fixture_t;

static void end_leftovers(fixture_t *f);

static int setup(void **state)
{
    fixture_t *f = (fixture_t *)calloc(1, sizeof(*f));
    xshm_seg_params_t p = {1, 1u << 16, 2, true, 0, 0};
    size_t size = xshm_segment_size(&p);
    f->mem = tm_alloc64(size);
    if (!f->mem || xshm_segment_format(&f->seg, f->mem, size, &p) != SHM_SUCCESS)
        return -1;
    f->ring = &f->seg.rings[0];
    if (xshm_ring_writer_init(f->ring) != SHM_SUCCESS ||
        xshm_ring_reader_attach(f->ring, &f->rd) != SHM_SUCCESS)
        return -1;
    f->rd_ptr = &f->rd;
    xshm_wake_target_init(&f->target, &f->rd.slot->wake_word, &f->rd_ptr, 1);
    char name[80], os[PLAT_NAME_MAX];
    tp_unique_name(name, sizeof(name), "ev");
    snprintf(os, sizeof(os), "Local\\xshm.%s.w", name);
#ifndef _WIN32
    snprintf(os, sizeof(os), "xshm.%s.w", name);
#endif
    if (xshm_plat_wake_open(&f->target.os, os, true) != SHM_SUCCESS)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    end_leftovers(f);
    xshm_plat_wake_close(&f->target.os);
    xshm_wake_target_fini(&f->target);
    xshm_ring_reader_detach(&f->rd);
    xshm_segment_close(&f->seg);
    tm_free64(f->mem);
    free(f);
    return 0;
}

static bool pending(void *ctx) { return xshm_ring_reader_pending(&((fixture_t *)ctx)->rd); }

/* The writer's side of a wake-up: bump the slot's word, signal its object. */
static void wake_slot(void *ctx, uint32_t slot)
{
    fixture_t *f = (fixture_t *)ctx;
    (void)slot;
    xshm_ev_signal(f->target.word, &f->target.os);
}

static void write_and_notify(fixture_t *f, uint32_t value)
{
    assert_int_equal(xshm_ring_write(f->ring, &value, sizeof(value)), SHM_SUCCESS);
    xshm_ev_notify(f->ring, wake_slot, f);
}

/* Start a thread that the teardown joins if the test does not. */
static plat_thread_t *start_thread(fixture_t *f, plat_thread_fn fn, void *arg)
{
    assert_true(f->nthreads < sizeof(f->threads) / sizeof(f->threads[0]));
    plat_thread_t *t = &f->threads[f->nthreads];
    assert_int_equal(xshm_plat_thread_start(t, fn, arg), SHM_SUCCESS);
    f->nthreads++;
    return t;
}

static void join_threads(fixture_t *f)
{
    for (uint32_t i = 0; i < f->nthreads; i++)
        xshm_plat_thread_join(&f->threads[i]);
    f->nthreads = 0;
}

/* ---- waiting --------------------------------------------------------------------- */

static void test_wait_times_out(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    uint64_t t0 = xshm_plat_now_ns();
    assert_int_equal(xshm_ev_wait(&f->target, pending, f, 200, SHM_EV_SPIN_NS), SHM_ERROR_TIMEOUT);
    uint64_t ms = (xshm_plat_now_ns() - t0) / 1000000u;
    assert_true(ms >= 200);
    assert_true(ms < 2200);
    /* Nobody is marked waiting afterwards. */
    assert_int_equal(xa_load32_acq(&f->ring->hdr->waiters), 0);
    assert_int_equal(xa_load32_acq(&f->rd.slot->waiting), 0);
}

static void test_wait_returns_at_once_when_ready(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    write_and_notify(f, 7);
    uint64_t t0 = xshm_plat_now_ns();
    assert_int_equal(xshm_ev_wait(&f->target, pending, f, 5000, 0), SHM_SUCCESS);
    assert_true(xshm_plat_now_ns() - t0 < 1000000000ull);
}

/* A writer that pauses now and then, so that the reader falls asleep between
 * messages, and a reader waiting with a long timeout: a lost wake-up shows as
 * a wait that takes the whole timeout (or a stall far beyond the writer's
 * pause), never as success by luck. */
typedef struct pinger {
    fixture_t *f;
    uint32_t count;
    shm_error_t error; /* a failed write; the main thread reports it */
} pinger_t;

static void writer_thread(void *arg)
{
    pinger_t *p = (pinger_t *)arg;
    uint64_t x = 88172645463325252ull;
    for (uint32_t i = 0; i < p->count; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if ((x & 7) == 0) {
            /* pause long enough for the reader to finish spinning */
            uint64_t until = xshm_plat_now_ns() + 30000u + (x >> 40) % 30000u;
            while (xshm_plat_now_ns() < until)
                xa_pause();
        }
        /* never more than half a ring ahead: nothing may be overwritten */
        while (shm_ring_available(p->f->ring) < p->f->ring->capacity / 2) {
            if (xa_load32_acq(&p->f->stop))
                return;
            xa_pause();
        }
        p->error = xshm_ring_write(p->f->ring, &i, sizeof(i));
        if (p->error != SHM_SUCCESS)
            return; /* the reader then times out, and the main thread says why */
        xshm_ev_notify(p->f->ring, wake_slot, p->f);
    }
}

static void test_no_lost_wakeup(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    /* (static: a thread the teardown ends may still use it after a failure) */
    static pinger_t p;
    p.f = f;
    p.count = ROUNDS;
    p.error = SHM_SUCCESS;
    start_thread(f, writer_thread, &p);
    uint32_t got = 0, stalls = 0;
    uint64_t worst = 0;
    char why[128] = "";
    while (got < p.count && why[0] == '\0') {
        uint64_t t0 = xshm_plat_now_ns();
        shm_error_t e = xshm_ev_wait(&f->target, pending, f, 10000, SHM_EV_SPIN_NS);
        uint64_t dt = xshm_plat_now_ns() - t0;
        if (dt > worst)
            worst = dt;
        if (dt > 40000000ull)
            stalls++;
        if (e != SHM_SUCCESS) {
            snprintf(why, sizeof(why), "wait %u: %s", got, shm_strerror(e));
            break;
        }
        for (;;) {
            uint32_t v, sz = sizeof(v);
            shm_error_t r = xshm_ring_read(&f->rd, &v, &sz);
            if (r == SHM_ERROR_EMPTY)
                break;
            if (r != SHM_SUCCESS || v != got) {
                snprintf(why, sizeof(why), "read %u: %s, value %u", got, shm_strerror(r), v);
                break;
            }
            got++;
        }
    }
    xa_store32_rel(&f->stop, 1); /* (when the reader gave up early) */
    join_threads(f);
    assert_int_equal(p.error, SHM_SUCCESS);
    if (why[0] != '\0')
        fail_msg("%s", why);
    print_message("%u messages, longest wait %.2f ms, waits over 40 ms: %u\n", got,
                  (double)worst / 1e6, stalls);
    /* A wait over 40 ms means a wake-up was lost (the writer never pauses
     * that long); allow a few for a loaded machine's scheduler. */
    assert_true(stalls <= 3);
    assert_int_equal(xshm_ring_reader_lost(&f->rd), 0);
}

/* Two threads of one process asleep on the same target both wake up. */
typedef struct sleeper {
    fixture_t *f;
    shm_error_t result;
    uint32_t asleep; /* atomic */
} sleeper_t;

static void sleeper_thread(void *arg)
{
    sleeper_t *s = (sleeper_t *)arg;
    xa_store32_rel(&s->asleep, 1);
    s->result = xshm_ev_wait(&s->f->target, pending, s->f, 10000, 0);
}

static void test_two_sleepers_wake(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    static sleeper_t a, b; /* (static: see test_no_lost_wakeup) */
    sleeper_t init = {f, SHM_ERROR_SYSTEM, 0};
    a = b = init;
    start_thread(f, sleeper_thread, &a);
    start_thread(f, sleeper_thread, &b);
    /* Wait until both are inside the wait and the slot is marked. */
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok,
                      xa_load32_acq(&a.asleep) && xa_load32_acq(&b.asleep) &&
                          xa_load32_acq(&f->target.in_os_wait) == 2,
                      5000);
    assert_true(ok);
    uint64_t t0 = xshm_plat_now_ns();
    write_and_notify(f, 1); /* one notification */
    join_threads(f);
    assert_int_equal(a.result, SHM_SUCCESS);
    assert_int_equal(b.result, SHM_SUCCESS);
    assert_true(xshm_plat_now_ns() - t0 < 2000000000ull);
    assert_int_equal(xa_load32_acq(&f->ring->hdr->waiters), 0);
}

/* xshm_ev_wake_local ends a wait whose condition is set by the caller. */
static bool stop_set(void *ctx) { return xa_load32_acq(&((fixture_t *)ctx)->stop) != 0; }

static void stopper_thread(void *arg)
{
    sleeper_t *s = (sleeper_t *)arg;
    xa_store32_rel(&s->asleep, 1);
    s->result = xshm_ev_wait(&s->f->target, stop_set, s->f, 10000, 0);
}

static void test_wake_local(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    static sleeper_t a; /* (static: see test_no_lost_wakeup) */
    sleeper_t init = {f, SHM_ERROR_SYSTEM, 0};
    a = init;
    start_thread(f, stopper_thread, &a);
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&f->target.in_os_wait) == 1, 5000);
    assert_true(ok);
    uint64_t t0 = xshm_plat_now_ns();
    xa_store32_rel(&f->stop, 1);
    xshm_ev_wake_local(&f->target);
    join_threads(f);
    assert_int_equal(a.result, SHM_SUCCESS);
    assert_true(xshm_plat_now_ns() - t0 < 2000000000ull);
}

/* ---- listener ------------------------------------------------------------------------ */

typedef struct lctx {
    fixture_t *f;
    xshm_listener_t l;
    uint32_t polls;      /* atomic */
    uint32_t finished;   /* atomic */
    uint32_t change;     /* atomic: membership changed, poll now */
    uint32_t events[5];  /* atomic, by type */
    uint32_t last_pid;   /* atomic: the latest CONNECT's pid */
    uint32_t bad;        /* atomic: events whose data or size break the contract */
    bool stop_in_callback;
    bool stopped_from_cb;
    bool keep_data;      /* leave the messages of DATA_AVAILABLE unread */
    /* A CONNECT from hold_pid (non-zero) keeps the callback, and so the
     * listener thread, until `release` is set. */
    uint32_t hold_pid;
    uint32_t held;       /* atomic: the callback is holding */
    uint32_t release;    /* atomic */
    uint32_t hold_timeout; /* atomic: released by its deadline, not by the test */
    uint32_t n;          /* atomic: entries of log[] written */
    struct {
        shm_event_type_t type;
        uint32_t id;     /* peer pid, or the error code */
    } log[160];
} lctx_t;

static void l_poll(void *ep) { xa_fetch_add32(&((lctx_t *)ep)->polls, 1); }
static bool l_pending(void *ep) { return xshm_ring_reader_pending(&((lctx_t *)ep)->f->rd); }
static uint64_t l_mark(void *ep) { return xa_load64_acq(&((lctx_t *)ep)->f->ring->hdr->tail); }
static void l_finish(void *ep) { xa_store32_rel(&((lctx_t *)ep)->finished, 1); }
static bool l_changed(void *ep) { return xa_load32_acq(&((lctx_t *)ep)->change) != 0; }
static const xshm_listener_ops_t l_ops = {l_poll, l_pending, l_mark, l_finish, l_changed};

/* Runs on the listener thread: it only records (a CMocka assert here would
 * end the program instead of failing the test); the test asserts on what it
 * recorded. */
static void l_callback(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    lctx_t *c = (lctx_t *)ud;
    uint32_t id = 0;
    bool ok = false;
    if (type == SHM_EVENT_CONNECT || type == SHM_EVENT_DISCONNECT) {
        ok = data != NULL && sz == sizeof(shm_peer_info_t);
        if (ok)
            id = ((const shm_peer_info_t *)data)->pid;
        if (ok && type == SHM_EVENT_CONNECT)
            xa_store32_rel(&c->last_pid, id);
    } else if (type == SHM_EVENT_ERROR) {
        ok = data != NULL && sz == sizeof(shm_error_t);
        if (ok)
            id = (uint32_t)*(const shm_error_t *)data;
    } else if (type == SHM_EVENT_DATA_AVAILABLE) {
        ok = data == NULL && sz == 0;
        /* consume, as a user would */
        while (!c->keep_data) {
            uint32_t v, n = sizeof(v);
            if (xshm_ring_read(&c->f->rd, &v, &n) != SHM_SUCCESS)
                break;
        }
    }
    if (!ok)
        xa_fetch_add32(&c->bad, 1);
    uint32_t n = xa_load32_acq(&c->n);
    if (type != SHM_EVENT_DATA_AVAILABLE && n < sizeof(c->log) / sizeof(c->log[0])) {
        c->log[n].type = type;
        c->log[n].id = id;
        xa_store32_rel(&c->n, n + 1);
    }
    if (c->hold_pid != 0 && type == SHM_EVENT_CONNECT && id == c->hold_pid) {
        xa_store32_rel(&c->held, 1);
        bool released = false;
        TP_WAIT_UNTIL_SET(released, xa_load32_acq(&c->release) != 0, 20000);
        if (!released)
            xa_store32_rel(&c->hold_timeout, 1);
    }
    if (c->stop_in_callback && type == SHM_EVENT_DISCONNECT)
        c->stopped_from_cb = !xshm_listener_stop(&c->l);
    if ((unsigned)type < 5)
        xa_fetch_add32(&c->events[type], 1);
}

/* A listener context on the heap, stopped and freed by the teardown. */
static lctx_t *lctx_new(fixture_t *f)
{
    lctx_t *c = (lctx_t *)calloc(1, sizeof(*c));
    assert_non_null(c);
    c->f = f;
    xshm_listener_init(&c->l, &l_ops, c, &f->target);
    f->lctx = c;
    return c;
}

/* The teardown: end whatever a failed test left running, so that it cannot
 * touch the fixture once freed: a held listener is let go and stopped,
 * threads waiting for a message or for `stop` get both. */
static void end_leftovers(fixture_t *f)
{
    if (f->lctx) {
        xa_store32_rel(&f->lctx->release, 1);
        xshm_listener_stop(&f->lctx->l);
        xshm_listener_fini(&f->lctx->l);
        free(f->lctx);
        f->lctx = NULL;
    }
    if (f->nthreads) {
        uint32_t v = 0;
        xa_store32_rel(&f->stop, 1);
        (void)xshm_ring_write(f->ring, &v, sizeof(v));
        xshm_ev_notify(f->ring, wake_slot, f);
        xshm_ev_wake_local(&f->target);
        join_threads(f);
    }
}

static void test_listener_dispatch(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    lctx_t *c = lctx_new(f);
    /* Events pushed before a callback exists are dropped. */
    shm_peer_info_t early = {4241, 64, 1, 0, 0};
    xshm_listener_push(&c->l, SHM_EVENT_CONNECT, &early, SHM_SUCCESS);
    assert_false(xshm_listener_active(&c->l));
    assert_int_equal(xshm_listener_start(&c->l, NULL, NULL), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_listener_start(&c->l, l_callback, c), SHM_SUCCESS);
    assert_true(xshm_listener_active(&c->l));

    /* Then each is delivered once, in order, with its data. */
    shm_peer_info_t peer = {4242, 64, 1, 0, 0};
    xshm_listener_push(&c->l, SHM_EVENT_CONNECT, &peer, SHM_SUCCESS);
    xshm_listener_push(&c->l, SHM_EVENT_ERROR, NULL, SHM_ERROR_INVALID_SEGMENT);
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->events[SHM_EVENT_ERROR]) == 1, 5000);
    assert_true(ok);
    assert_int_equal(xa_load32_acq(&c->n), 2);
    assert_int_equal(c->log[0].type, SHM_EVENT_CONNECT);
    assert_int_equal(c->log[0].id, 4242);
    assert_int_equal(c->log[1].type, SHM_EVENT_ERROR);
    assert_int_equal((shm_error_t)c->log[1].id, SHM_ERROR_INVALID_SEGMENT);
    assert_int_equal(xa_load32_acq(&c->events[SHM_EVENT_CONNECT]), 1);
    assert_int_equal(xa_load32_acq(&c->last_pid), 4242);

    /* New data raises DATA_AVAILABLE promptly (the listener sleeps on the
     * same target as receivers and is woken by the writer). */
    uint64_t t0 = xshm_plat_now_ns();
    write_and_notify(f, 1);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->events[SHM_EVENT_DATA_AVAILABLE]) >= 1, 5000);
    assert_true(ok);
    print_message("DATA_AVAILABLE after %.3f ms\n", (double)(xshm_plat_now_ns() - t0) / 1e6);

    /* The periodic tick polls for peers. */
    uint32_t polls = xa_load32_acq(&c->polls);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->polls) >= polls + 2, 5000);
    assert_true(ok);

    /* A change of membership makes it poll at once, not at the next tick:
     * while `change` is set it polls on every turn, far more often than the
     * 100 ms tick allows. */
    polls = xa_load32_acq(&c->polls);
    t0 = xshm_plat_now_ns();
    xa_store32_rel(&c->change, 1);
    xshm_ev_wake_local(&f->target);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->polls) >= polls + 20, 5000);
    xa_store32_rel(&c->change, 0);
    assert_true(ok);
    assert_true(xshm_plat_now_ns() - t0 < 1000000000ull); /* 20 polls: not 20 ticks */

    /* Stopped from another thread: joined, finish not called. */
    assert_true(xshm_listener_stop(&c->l));
    assert_int_equal(xa_load32_acq(&c->finished), 0);
    assert_false(xshm_listener_active(&c->l));
    assert_int_equal(xa_load32_acq(&f->ring->hdr->waiters), 0);
    assert_int_equal(xa_load32_acq(&c->bad), 0);
}

static void test_listener_stop_from_callback(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    lctx_t *c = (lctx_t *)calloc(1, sizeof(*c));
    c->f = f;
    c->stop_in_callback = true;
    xshm_listener_init(&c->l, &l_ops, c, &f->target);
    assert_int_equal(xshm_listener_start(&c->l, l_callback, c), SHM_SUCCESS);
    shm_peer_info_t peer = {1, 32, 0, 0, 0};
    xshm_listener_push(&c->l, SHM_EVENT_DISCONNECT, &peer, SHM_SUCCESS);
    /* Events after the stop are not delivered. */
    xshm_listener_push(&c->l, SHM_EVENT_CONNECT, &peer, SHM_SUCCESS);
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->finished) == 1, 5000);
    assert_true(ok);
    assert_true(c->stopped_from_cb);
    assert_int_equal(xa_load32_acq(&c->events[SHM_EVENT_DISCONNECT]), 1);
    assert_int_equal(xa_load32_acq(&c->events[SHM_EVENT_CONNECT]), 0);
    assert_int_equal(xa_load32_acq(&c->bad), 0);
    /* finish ran on the listener thread, which detached itself; nothing to
     * join. Give the exiting thread no access to c: it is done with it once
     * finish has returned. */
    xshm_listener_fini(&c->l);
    free(c);
}

/*
 * A full queue drops its oldest event, not the newest, and counts it. The
 * listener is held inside the callback (the first event's) while the test
 * pushes the queue's size and 10 more: when it is let go, it delivers the
 * newest SHM_LISTENER_QUEUE of them, in order.
 */
static void test_listener_queue_drops_oldest(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    lctx_t *c = lctx_new(f);
    c->hold_pid = 100000;
    assert_int_equal(xshm_listener_start(&c->l, l_callback, c), SHM_SUCCESS);
    shm_peer_info_t peer = {c->hold_pid, 64, 0, 0, 0};
    xshm_listener_push(&c->l, SHM_EVENT_CONNECT, &peer, SHM_SUCCESS);
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->held) == 1, 10000);
    if (!ok)
        fail_msg("the listener did not deliver the first event");
    const uint32_t extra = 10, total = SHM_LISTENER_QUEUE + extra;
    for (uint32_t i = 1; i <= total; i++) {
        peer.pid = i;
        xshm_listener_push(&c->l, (i & 1) ? SHM_EVENT_CONNECT : SHM_EVENT_DISCONNECT, &peer,
                          SHM_SUCCESS);
    }
    xshm_plat_mutex_lock(&c->l.lock);
    uint32_t queued = c->l.q_count;
    uint64_t dropped = c->l.dropped;
    xshm_plat_mutex_unlock(&c->l.lock);
    xa_store32_rel(&c->release, 1);
    /* A last event, once the queue has room: everything before it has been
     * delivered when it is. */
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->n) >= 1 + SHM_LISTENER_QUEUE, 10000);
    peer.pid = 200000;
    xshm_listener_push(&c->l, SHM_EVENT_CONNECT, &peer, SHM_SUCCESS);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->last_pid) == 200000, 10000);
    assert_true(xshm_listener_stop(&c->l));
    assert_int_equal(xa_load32_acq(&c->hold_timeout), 0);
    assert_int_equal(queued, SHM_LISTENER_QUEUE);
    assert_int_equal(dropped, extra);
    uint32_t n = xa_load32_acq(&c->n);
    assert_int_equal(n, 1 + SHM_LISTENER_QUEUE + 1);
    assert_int_equal(c->log[0].id, c->hold_pid);
    for (uint32_t k = 0; k < SHM_LISTENER_QUEUE; k++) {
        uint32_t want = extra + 1 + k;
        if (c->log[1 + k].id != want ||
            c->log[1 + k].type != ((want & 1) ? SHM_EVENT_CONNECT : SHM_EVENT_DISCONNECT))
            fail_msg("event %u after the hold: peer %u (type %d), expected peer %u", k,
                     c->log[1 + k].id, (int)c->log[1 + k].type, want);
    }
    assert_int_equal(c->log[n - 1].id, 200000);
    assert_int_equal(xa_load32_acq(&c->bad), 0);
}

/* One DATA_AVAILABLE per new data: not again on every tick while the
 * messages stay unread. */
static void test_listener_data_available_once(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    lctx_t *c = lctx_new(f);
    c->keep_data = true;
    assert_int_equal(xshm_listener_start(&c->l, l_callback, c), SHM_SUCCESS);
    bool ok = false, all = true;
    uint32_t counts[2];
    for (uint32_t k = 0; k < 2; k++) {
        write_and_notify(f, k);
        TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->events[SHM_EVENT_DATA_AVAILABLE]) >= k + 1, 5000);
        all = all && ok;
        /* Two ticks later (the listener polls on each): still once. */
        uint32_t polls = xa_load32_acq(&c->polls);
        TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->polls) >= polls + 2, 5000);
        all = all && ok;
        counts[k] = xa_load32_acq(&c->events[SHM_EVENT_DATA_AVAILABLE]);
    }
    assert_true(xshm_listener_stop(&c->l));
    assert_true(all);
    assert_int_equal(counts[0], 1);
    assert_int_equal(counts[1], 2);
    assert_true(xshm_ring_reader_pending(&f->rd)); /* both still unread */
    assert_int_equal(xa_load32_acq(&c->bad), 0);
}

/* A listener stopped from another thread can be started again, and then
 * delivers events again. */
static void test_listener_restart(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    lctx_t *c = lctx_new(f);
    bool ok[2] = {false, false};
    for (uint32_t k = 0; k < 2; k++) {
        assert_int_equal(xshm_listener_start(&c->l, l_callback, c), SHM_SUCCESS);
        shm_peer_info_t peer = {10 + k, 64, 0, 0, 0};
        xshm_listener_push(&c->l, SHM_EVENT_CONNECT, &peer, SHM_SUCCESS);
        TP_WAIT_UNTIL_SET(ok[k], xa_load32_acq(&c->events[SHM_EVENT_CONNECT]) == k + 1, 5000);
        assert_true(xshm_listener_stop(&c->l));
        assert_false(xshm_listener_active(&c->l));
    }
    assert_true(ok[0]);
    if (!ok[1])
        fail_msg("a restarted listener delivered nothing");
    assert_int_equal(xa_load32_acq(&c->last_pid), 11);
}

/*
 * The lost wake-up guard: a waiter marks itself waiting and then checks its
 * condition once more before it sleeps. Driven by hand: the waiter's first
 * check finds nothing, and right after it (before the mark) the writer
 * publishes a message and finds nobody marked, so it wakes nobody. The
 * waiter must then not sleep: its check after marking finds the message.
 * The test watches for the waiter entering the OS wait; if it does, that
 * is the lost wake-up (it would sleep the whole timeout): the test wakes it
 * and fails.
 */
typedef struct recheck {
    fixture_t *f;
    uint32_t checks;    /* calls of the condition (waiter thread only) */
    shm_error_t write_error;
    bool woke_anyone;   /* the writer found a reader marked waiting */
    shm_error_t result;
    uint32_t done;      /* atomic */
} recheck_t;

static bool publish_after_first_check(void *ctx)
{
    recheck_t *x = (recheck_t *)ctx;
    bool ready = xshm_ring_reader_pending(&x->f->rd);
    if (++x->checks == 1) {
        uint32_t v = 42;
        x->write_error = xshm_ring_write(x->f->ring, &v, sizeof(v));
        x->woke_anyone = xshm_ring_wake_needed(x->f->ring);
        if (x->woke_anyone)
            xshm_ring_wake_sleepers(x->f->ring, wake_slot, x->f);
    }
    return ready;
}

static void recheck_waiter(void *arg)
{
    recheck_t *x = (recheck_t *)arg;
    x->result = xshm_ev_wait(&x->f->target, publish_after_first_check, x, 20000, 0);
    xa_store32_rel(&x->done, 1);
}

static void test_wait_rechecks_after_marking(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    static recheck_t x; /* (static: see test_no_lost_wakeup) */
    memset(&x, 0, sizeof(x));
    x.f = f;
    x.result = SHM_ERROR_SYSTEM;
    start_thread(f, recheck_waiter, &x);
    bool ended = false;
    TP_WAIT_UNTIL_SET(ended,
                      xa_load32_acq(&x.done) != 0 || xa_load32_acq(&f->target.in_os_wait) != 0,
                      30000);
    bool slept = !xa_load32_acq(&x.done) && xa_load32_acq(&f->target.in_os_wait) != 0;
    if (slept)
        xshm_ev_wake_local(&f->target); /* it would sleep 20 s: end it */
    TP_WAIT_UNTIL_SET(ended, xa_load32_acq(&x.done) != 0, 30000);
    assert_true(ended);
    join_threads(f);
    assert_int_equal(x.write_error, SHM_SUCCESS);
    assert_false(x.woke_anyone); /* the interleaving is the one meant */
    if (slept)
        fail_msg("the waiter slept with a message pending (published between its check and "
                 "its waiting mark)");
    assert_int_equal(x.result, SHM_SUCCESS);
    assert_int_equal(x.checks, 2); /* the first check, and the one after marking */
    assert_int_equal(xa_load32_acq(&f->ring->hdr->waiters), 0);
    uint32_t v = 0, sz = sizeof(v);
    assert_int_equal(xshm_ring_read(&f->rd, &v, &sz), SHM_SUCCESS);
    assert_int_equal(v, 42);
}

int main(int argc, char **argv)
{
    int rc;
    if (tp_dispatch(argc, argv, NULL, &rc))
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_wait_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_returns_at_once_when_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_lost_wakeup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_two_sleepers_wake, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wake_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_dispatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_stop_from_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_queue_drops_oldest, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_data_available_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_restart, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_rechecks_after_marking, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
