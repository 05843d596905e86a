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
    shm_segment_t seg;
    shm_ring_t *ring;
    shm_ring_reader_t rd;
    shm_ring_reader_t *rd_ptr;
    shm_wake_target_t target;
    uint32_t stop; /* atomic */
} fixture_t;



static int setup(void **state)
{
    fixture_t *f = (fixture_t *)calloc(1, sizeof(*f));
    shm_seg_params_t p = {1, 1u << 16, 2, true, 0};
    size_t size = shm_segment_size(&p);
    f->mem = tm_alloc64(size);
    if (!f->mem || shm_segment_format(&f->seg, f->mem, size, &p) != SHM_SUCCESS)
        return -1;
    f->ring = &f->seg.rings[0];
    if (shm_ring_writer_init(f->ring) != SHM_SUCCESS ||
        shm_ring_reader_attach(f->ring, &f->rd) != SHM_SUCCESS)
        return -1;
    f->rd_ptr = &f->rd;
    shm_wake_target_init(&f->target, &f->rd.slot->wake_word, &f->rd_ptr, 1);
    char name[80], os[PLAT_NAME_MAX];
    tp_unique_name(name, sizeof(name), "ev");
    snprintf(os, sizeof(os), "Local\\xshm.%s.w", name);
#ifndef _WIN32
    snprintf(os, sizeof(os), "xshm.%s.w", name);
#endif
    if (plat_wake_open(&f->target.os, os, true) != SHM_SUCCESS)
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    plat_wake_close(&f->target.os);
    shm_wake_target_fini(&f->target);
    shm_ring_reader_detach(&f->rd);
    shm_segment_close(&f->seg);
    tm_free64(f->mem);
    free(f);
    return 0;
}

static bool pending(void *ctx) { return shm_ring_reader_pending(&((fixture_t *)ctx)->rd); }

/* The writer's side of a wake-up: bump the slot's word, signal its object. */
static void wake_slot(void *ctx, uint32_t slot)
{
    fixture_t *f = (fixture_t *)ctx;
    (void)slot;
    shm_ev_signal(f->target.word, &f->target.os);
}

static void write_and_notify(fixture_t *f, uint32_t value)
{
    assert_int_equal(shm_ring_write(f->ring, &value, sizeof(value)), SHM_SUCCESS);
    shm_ev_notify(f->ring, wake_slot, f);
}

/* ---- waiting --------------------------------------------------------------------- */

static void test_wait_times_out(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    uint64_t t0 = plat_now_ns();
    assert_int_equal(shm_ev_wait(&f->target, pending, f, 200, SHM_EV_SPIN_NS), SHM_ERROR_TIMEOUT);
    uint64_t ms = (plat_now_ns() - t0) / 1000000u;
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
    uint64_t t0 = plat_now_ns();
    assert_int_equal(shm_ev_wait(&f->target, pending, f, 5000, 0), SHM_SUCCESS);
    assert_true(plat_now_ns() - t0 < 1000000000ull);
}

/* A writer that pauses now and then, so that the reader falls asleep between
 * messages, and a reader waiting with a long timeout: a lost wake-up shows as
 * a wait that takes the whole timeout (or a stall far beyond the writer's
 * pause), never as success by luck. */
typedef struct pinger {
    fixture_t *f;
    uint32_t count;
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
            uint64_t until = plat_now_ns() + 30000u + (x >> 40) % 30000u;
            while (plat_now_ns() < until)
                xa_pause();
        }
        /* never more than half a ring ahead: nothing may be overwritten */
        while (shm_ring_available(p->f->ring) < p->f->ring->capacity / 2)
            xa_pause();
        assert_int_equal(shm_ring_write(p->f->ring, &i, sizeof(i)), SHM_SUCCESS);
        shm_ev_notify(p->f->ring, wake_slot, p->f);
    }
}

static void test_no_lost_wakeup(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    pinger_t p = {f, ROUNDS};
    plat_thread_t th;
    assert_int_equal(plat_thread_start(&th, writer_thread, &p), SHM_SUCCESS);
    uint32_t got = 0, stalls = 0;
    uint64_t worst = 0;
    while (got < p.count) {
        uint64_t t0 = plat_now_ns();
        shm_error_t e = shm_ev_wait(&f->target, pending, f, 10000, SHM_EV_SPIN_NS);
        uint64_t dt = plat_now_ns() - t0;
        if (dt > worst)
            worst = dt;
        if (dt > 40000000ull)
            stalls++;
        assert_int_equal(e, SHM_SUCCESS);
        for (;;) {
            uint32_t v, sz = sizeof(v);
            shm_error_t r = shm_ring_read(&f->rd, &v, &sz);
            if (r == SHM_ERROR_EMPTY)
                break;
            assert_int_equal(r, SHM_SUCCESS);
            assert_int_equal(v, got);
            got++;
        }
    }
    plat_thread_join(&th);
    print_message("%u messages, longest wait %.2f ms, waits over 40 ms: %u\n", got,
                  (double)worst / 1e6, stalls);
    /* A wait over 40 ms means a wake-up was lost (the writer never pauses
     * that long); allow a few for a loaded machine's scheduler. */
    assert_true(stalls <= 3);
    assert_int_equal(shm_ring_reader_lost(&f->rd), 0);
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
    s->result = shm_ev_wait(&s->f->target, pending, s->f, 10000, 0);
}

static void test_two_sleepers_wake(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    sleeper_t a = {f, SHM_ERROR_SYSTEM, 0}, b = {f, SHM_ERROR_SYSTEM, 0};
    plat_thread_t ta, tb;
    assert_int_equal(plat_thread_start(&ta, sleeper_thread, &a), SHM_SUCCESS);
    assert_int_equal(plat_thread_start(&tb, sleeper_thread, &b), SHM_SUCCESS);
    /* Wait until both are inside the wait and the slot is marked. */
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok,
                      xa_load32_acq(&a.asleep) && xa_load32_acq(&b.asleep) &&
                          xa_load32_acq(&f->target.in_os_wait) == 2,
                      5000);
    assert_true(ok);
    uint64_t t0 = plat_now_ns();
    write_and_notify(f, 1); /* one notification */
    plat_thread_join(&ta);
    plat_thread_join(&tb);
    assert_int_equal(a.result, SHM_SUCCESS);
    assert_int_equal(b.result, SHM_SUCCESS);
    assert_true(plat_now_ns() - t0 < 2000000000ull);
    assert_int_equal(xa_load32_acq(&f->ring->hdr->waiters), 0);
}

/* shm_ev_wake_local ends a wait whose condition is set by the caller. */
static bool stop_set(void *ctx) { return xa_load32_acq(&((fixture_t *)ctx)->stop) != 0; }

static void stopper_thread(void *arg)
{
    sleeper_t *s = (sleeper_t *)arg;
    xa_store32_rel(&s->asleep, 1);
    s->result = shm_ev_wait(&s->f->target, stop_set, s->f, 10000, 0);
}

static void test_wake_local(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    sleeper_t a = {f, SHM_ERROR_SYSTEM, 0};
    plat_thread_t ta;
    assert_int_equal(plat_thread_start(&ta, stopper_thread, &a), SHM_SUCCESS);
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&f->target.in_os_wait) == 1, 5000);
    assert_true(ok);
    uint64_t t0 = plat_now_ns();
    xa_store32_rel(&f->stop, 1);
    shm_ev_wake_local(&f->target);
    plat_thread_join(&ta);
    assert_int_equal(a.result, SHM_SUCCESS);
    assert_true(plat_now_ns() - t0 < 2000000000ull);
}

/* ---- listener ------------------------------------------------------------------------ */

typedef struct lctx {
    fixture_t *f;
    shm_listener_t l;
    uint32_t polls;      /* atomic */
    uint32_t finished;   /* atomic */
    uint32_t change;     /* atomic: membership changed, poll now */
    uint32_t events[5];  /* atomic, by type */
    uint32_t last_pid;
    bool stop_in_callback;
    bool stopped_from_cb;
} lctx_t;

static void l_poll(void *ep) { xa_fetch_add32(&((lctx_t *)ep)->polls, 1); }
static bool l_pending(void *ep) { return shm_ring_reader_pending(&((lctx_t *)ep)->f->rd); }
static uint64_t l_mark(void *ep) { return xa_load64_acq(&((lctx_t *)ep)->f->ring->hdr->tail); }
static void l_finish(void *ep) { xa_store32_rel(&((lctx_t *)ep)->finished, 1); }
static bool l_changed(void *ep) { return xa_load32_acq(&((lctx_t *)ep)->change) != 0; }
static const shm_listener_ops_t l_ops = {l_poll, l_pending, l_mark, l_finish, l_changed};

static void l_callback(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    lctx_t *c = (lctx_t *)ud;
    if (type == SHM_EVENT_CONNECT) {
        assert_int_equal(sz, sizeof(shm_peer_info_t));
        c->last_pid = ((const shm_peer_info_t *)data)->pid;
    }
    if (type == SHM_EVENT_ERROR) {
        assert_int_equal(sz, sizeof(shm_error_t));
        assert_int_equal(*(const shm_error_t *)data, SHM_ERROR_INVALID_SEGMENT);
    }
    if (type == SHM_EVENT_DATA_AVAILABLE) {
        assert_null(data);
        /* consume, as a user would */
        for (;;) {
            uint32_t v, n = sizeof(v);
            if (shm_ring_read(&c->f->rd, &v, &n) != SHM_SUCCESS)
                break;
        }
    }
    if (c->stop_in_callback && type == SHM_EVENT_DISCONNECT)
        c->stopped_from_cb = !shm_listener_stop(&c->l);
    xa_fetch_add32(&c->events[type], 1);
}

static void test_listener_dispatch(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    lctx_t c;
    memset(&c, 0, sizeof(c));
    c.f = f;
    shm_listener_init(&c.l, &l_ops, &c, &f->target);
    /* Events pushed before a callback exists are dropped. */
    shm_peer_info_t peer = {4242, 64, 1, 0};
    shm_listener_push(&c.l, SHM_EVENT_CONNECT, &peer, SHM_SUCCESS);
    assert_false(shm_listener_active(&c.l));
    assert_int_equal(shm_listener_start(&c.l, NULL, NULL), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(shm_listener_start(&c.l, l_callback, &c), SHM_SUCCESS);
    assert_true(shm_listener_active(&c.l));

    shm_listener_push(&c.l, SHM_EVENT_CONNECT, &peer, SHM_SUCCESS);
    shm_listener_push(&c.l, SHM_EVENT_ERROR, NULL, SHM_ERROR_INVALID_SEGMENT);
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c.events[SHM_EVENT_CONNECT]) == 1 &&
                              xa_load32_acq(&c.events[SHM_EVENT_ERROR]) == 1,
                      5000);
    assert_true(ok);
    assert_int_equal(c.last_pid, 4242);

    /* New data raises DATA_AVAILABLE promptly (the listener sleeps on the
     * same target as receivers and is woken by the writer). */
    uint64_t t0 = plat_now_ns();
    write_and_notify(f, 1);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c.events[SHM_EVENT_DATA_AVAILABLE]) >= 1, 5000);
    assert_true(ok);
    print_message("DATA_AVAILABLE after %.3f ms\n", (double)(plat_now_ns() - t0) / 1e6);

    /* The periodic tick polls for peers. */
    uint32_t polls = xa_load32_acq(&c.polls);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c.polls) >= polls + 2, 5000);
    assert_true(ok);

    /* A change of membership makes it poll at once, not at the next tick:
     * while `change` is set it polls on every turn, far more often than the
     * 100 ms tick allows. */
    polls = xa_load32_acq(&c.polls);
    t0 = plat_now_ns();
    xa_store32_rel(&c.change, 1);
    shm_ev_wake_local(&f->target);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c.polls) >= polls + 20, 5000);
    xa_store32_rel(&c.change, 0);
    assert_true(ok);
    assert_true(plat_now_ns() - t0 < 1000000000ull); /* 20 polls: not 20 ticks */

    /* Stopped from another thread: joined, finish not called. */
    assert_true(shm_listener_stop(&c.l));
    assert_int_equal(xa_load32_acq(&c.finished), 0);
    assert_false(shm_listener_active(&c.l));
    shm_listener_fini(&c.l);
    assert_int_equal(xa_load32_acq(&f->ring->hdr->waiters), 0);
}

static void test_listener_stop_from_callback(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    lctx_t *c = (lctx_t *)calloc(1, sizeof(*c));
    c->f = f;
    c->stop_in_callback = true;
    shm_listener_init(&c->l, &l_ops, c, &f->target);
    assert_int_equal(shm_listener_start(&c->l, l_callback, c), SHM_SUCCESS);
    shm_peer_info_t peer = {1, 32, 0, 0};
    shm_listener_push(&c->l, SHM_EVENT_DISCONNECT, &peer, SHM_SUCCESS);
    /* Events after the stop are not delivered. */
    shm_listener_push(&c->l, SHM_EVENT_CONNECT, &peer, SHM_SUCCESS);
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c->finished) == 1, 5000);
    assert_true(ok);
    assert_true(c->stopped_from_cb);
    assert_int_equal(xa_load32_acq(&c->events[SHM_EVENT_DISCONNECT]), 1);
    assert_int_equal(xa_load32_acq(&c->events[SHM_EVENT_CONNECT]), 0);
    /* finish ran on the listener thread, which detached itself; nothing to
     * join. Give the exiting thread no access to c: it is done with it once
     * finish has returned. */
    shm_listener_fini(&c->l);
    free(c);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
