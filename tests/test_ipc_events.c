/*
 * test_ipc_events.c - callbacks and the listener: callbacks that use or end
 * their own endpoint, a callback replaced, CONNECT and DISCONNECT raised on
 * a wake rather than a periodic check, and for a client that comes and
 * goes at once.
 *
 * Every channel name is unique (tp_unique_name), so parallel runs never
 * meet. Waits are on conditions with timeouts, never plain sleeps; timing
 * assertions only check generous bounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "atomics.h"
#include "platform.h"
#include "shm_ipc.h"
#include "shm_ipc_hooks.h"
#include "testchan.h"
#include "testevlog.h"
#include "testproc.h"
#include "testrun.h"

/* ---- callbacks that use their own endpoint --------------------------------------- */

typedef struct cb_echo {
    shm_server_t *s;
    uint32_t echoed;    /* atomic */
    uint32_t errors;    /* atomic */
    uint32_t destroyed; /* atomic */
} cb_echo_t;

static void echo_from_callback(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    cb_echo_t *e = (cb_echo_t *)ud;
    (void)data;
    (void)sz;
    if (type != SHM_EVENT_DATA_AVAILABLE)
        return;
    for (;;) {
        char buf[128];
        uint32_t n = sizeof(buf);
        shm_error_t r = shm_server_receive(e->s, buf, &n);
        if (r == SHM_ERROR_EMPTY)
            return;
        if (r != SHM_SUCCESS) {
            xa_fetch_add32(&e->errors, 1);
            return;
        }
        if (n == 5 && memcmp(buf, "quit", 5) == 0) {
            /* Destroy our own endpoint from its callback; never touch it again. */
            shm_server_destroy(e->s);
            xa_store32_rel(&e->destroyed, 1);
            return;
        }
        if (shm_server_send(e->s, buf, n) != SHM_SUCCESS)
            xa_fetch_add32(&e->errors, 1);
        else
            xa_fetch_add32(&e->echoed, 1);
    }
}

static void test_callback_uses_endpoint(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "cbecho");
    shm_ring_config_t c = tc_config(64u * 1024u, 1, false, 0);
    cb_echo_t e;
    memset(&e, 0, sizeof(e));
    e.s = tc_server_config(name, &c);
    shm_client_t *cl = tc_client(name);
    assert_int_equal(shm_server_register_callback(e.s, echo_from_callback, &e), SHM_SUCCESS);

    /* Bursts of 1, 2, ... 20 messages, each echoed from the callback. */
    uint32_t seq = 0;
    for (uint32_t burst = 1; burst <= 20; burst++) {
        uint32_t first = seq;
        for (uint32_t k = 0; k < burst; k++, seq++) {
            char m[32];
            int len = snprintf(m, sizeof(m), "m%u", seq);
            assert_int_equal(shm_client_send(cl, m, (uint32_t)len + 1), SHM_SUCCESS);
        }
        for (uint32_t k = first; k < seq; k++) {
            char m[32], want[32];
            uint32_t sz = sizeof(m);
            assert_int_equal(tc_client_recv_within(cl, m, &sz, 10000), SHM_SUCCESS);
            snprintf(want, sizeof(want), "m%u", k);
            assert_string_equal(m, want);
        }
    }
    assert_int_equal(xa_load32_acq(&e.echoed), seq);
    assert_int_equal(xa_load32_acq(&e.errors), 0);

    /* The callback destroys the server. */
    assert_int_equal(shm_client_send(cl, "quit", 5), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(xa_load32_acq(&e.destroyed) == 1, 10000));
    char m[32];
    uint32_t sz = sizeof(m);
    assert_int_equal(tc_client_recv_within(cl, m, &sz, 10000), SHM_ERROR_NOT_CONNECTED);
    /* The name is free again. */
    shm_server_t *s2 = tc_server_config(name, &c);
    shm_client_disconnect(cl);
    shm_server_destroy(s2);
}

typedef struct cb_self_disconnect {
    shm_client_t *c;
    uint32_t disconnected; /* atomic */
} cb_self_disconnect_t;

static void disconnect_from_callback(void *ud, shm_event_type_t type, const void *data,
                                     uint32_t sz)
{
    cb_self_disconnect_t *d = (cb_self_disconnect_t *)ud;
    (void)data;
    (void)sz;
    if (type == SHM_EVENT_DISCONNECT) {
        shm_client_disconnect(d->c);
        xa_store32_rel(&d->disconnected, 1);
    }
}

static void destroy_on_connect(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    cb_echo_t *e = (cb_echo_t *)ud;
    (void)data;
    (void)sz;
    if (type == SHM_EVENT_CONNECT && !xa_load32_acq(&e->destroyed)) {
        shm_server_destroy(e->s);
        xa_store32_rel(&e->destroyed, 1);
    }
}

static void test_callback_ends_endpoint(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "cbend");
    shm_ring_config_t c = tc_config(4096, 1, true, 5000);

    /* A client that disconnects itself when the server goes away. */
    shm_server_t *s = tc_server_config(name, &c);
    cb_self_disconnect_t d;
    memset(&d, 0, sizeof(d));
    d.c = tc_client(name);
    assert_int_equal(shm_client_register_callback(d.c, disconnect_from_callback, &d), SHM_SUCCESS);
    shm_server_destroy(s);
    assert_true(TP_WAIT_UNTIL(xa_load32_acq(&d.disconnected) == 1, 10000));

    /* A server that destroys itself on CONNECT. */
    cb_echo_t e;
    memset(&e, 0, sizeof(e));
    e.s = tc_server_config(name, &c);
    assert_int_equal(shm_server_register_callback(e.s, destroy_on_connect, &e), SHM_SUCCESS);
    shm_client_t *cl = tc_client(name);
    assert_true(TP_WAIT_UNTIL(xa_load32_acq(&e.destroyed) == 1, 10000));
    assert_int_equal(shm_client_send(cl, "x", 1), SHM_ERROR_NOT_CONNECTED);
    shm_client_disconnect(cl);
    s = tc_server_config(name, &c);
    shm_server_destroy(s);
}

/* ---- a callback replaced, the listener woken ------------------------------------- */

/* Events of every type in a log. */
static uint32_t ev_total(ev_log_t *log)
{
    uint32_t n = 0;
    for (int t = 0; t <= (int)SHM_EVENT_CONNECT; t++)
        n += ev_count(log, (shm_event_type_t)t);
    return n;
}

/* A second register_callback replaces the first callback and its user data
 * (shm_ipc.h), on a server and on a client. */
static void test_register_callback_replaces(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "recb");
    ev_log_t s1, s2, c1, c2;
    ev_init(&s1);
    ev_init(&s2);
    ev_init(&c1);
    ev_init(&c2);
    shm_server_t *s = tc_server(name);
    assert_int_equal(shm_server_register_callback(s, ev_callback, &s1), SHM_SUCCESS);
    assert_int_equal(shm_server_register_callback(s, ev_callback, &s2), SHM_SUCCESS);

    shm_client_t *cl = tc_client(name);
    assert_true(TP_WAIT_UNTIL(ev_count(&s2, SHM_EVENT_CONNECT) == 1, 10000));
    assert_int_equal(shm_client_send(cl, "d", 2), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(ev_count(&s2, SHM_EVENT_DATA_AVAILABLE) >= 1, 10000));

    assert_int_equal(shm_client_register_callback(cl, ev_callback, &c1), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(ev_count(&c1, SHM_EVENT_CONNECT) == 1, 10000));
    assert_int_equal(shm_client_register_callback(cl, ev_callback, &c2), SHM_SUCCESS);
    assert_int_equal(shm_server_send(s, "d", 2), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(ev_count(&c2, SHM_EVENT_DATA_AVAILABLE) >= 1, 10000));
    shm_server_destroy(s);
    assert_true(TP_WAIT_UNTIL(ev_count(&c2, SHM_EVENT_DISCONNECT) == 1, 10000));
    shm_client_disconnect(cl);

    assert_int_equal(ev_total(&s1), 0);
    assert_int_equal(ev_total(&c1), 1); /* its CONNECT, before it was replaced */
    assert_int_equal(ev_count(&c2, SHM_EVENT_CONNECT), 0);
    assert_int_equal(ev_bad(&s2), 0);
    assert_int_equal(ev_bad(&c2), 0);
    ev_fini(&s1);
    ev_fini(&s2);
    ev_fini(&c1);
    ev_fini(&c2);
}

/*
 * A client that connects or disconnects wakes the server's listener, which
 * raises CONNECT / DISCONNECT at once (lifecycle.md) rather than at its
 * periodic check. The server is told to act only on changes it was woken
 * for (shm_ipc_hooks.h): then only the wake can deliver the events, and the
 * test needs no clock.
 */
static void test_disconnect_wakes_server(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "wakedisc");
    ev_log_t log;
    ev_init(&log);
    shm_server_t *s = tc_server(name);
    xshm_server_test_wake_only(s, true);
    assert_int_equal(shm_server_register_callback(s, ev_callback, &log), SHM_SUCCESS);
    for (uint32_t round = 1; round <= 3; round++) {
        shm_client_t *cl = tc_client(name);
        if (!TP_WAIT_UNTIL(ev_count(&log, SHM_EVENT_CONNECT) == round, 10000))
            fail_msg("round %u: no CONNECT: the connecting client did not wake the server", round);
        shm_client_disconnect(cl);
        if (!TP_WAIT_UNTIL(ev_count(&log, SHM_EVENT_DISCONNECT) == round, 10000))
            fail_msg("round %u: no DISCONNECT: the disconnecting client did not wake the server",
                     round);
        ev_entry_t e;
        assert_true(ev_get(&log, SHM_EVENT_DISCONNECT, round - 1, &e));
        assert_int_equal(e.peer.pid, tc_self_pid());
        assert_int_equal(e.peer.slot, 0);
    }
    xshm_server_test_wake_only(s, false);
    assert_int_equal(tc_server_connected(s), 0);
    shm_server_destroy(s);
    assert_int_equal(ev_count(&log, SHM_EVENT_CONNECT), 3);
    assert_int_equal(ev_count(&log, SHM_EVENT_DISCONNECT), 3);
    assert_int_equal(ev_bad(&log), 0);
    ev_fini(&log);
}

/* A client that registers its callback after the server left gets
 * DISCONNECT, and no CONNECT ("raised at once if the server is there"). */
static void test_client_register_after_server_left(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "lateregister");
    ev_log_t log;
    ev_init(&log);
    shm_server_t *s = tc_server(name);
    shm_client_t *cl = tc_client(name);
    shm_server_destroy(s);
    assert_int_equal(shm_client_register_callback(cl, ev_callback, &log), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(ev_count(&log, SHM_EVENT_DISCONNECT) == 1, 10000));
    shm_client_disconnect(cl);
    assert_int_equal(ev_count(&log, SHM_EVENT_CONNECT), 0);
    assert_int_equal(ev_count(&log, SHM_EVENT_DISCONNECT), 1);
    assert_int_equal(ev_bad(&log), 0);
    ev_fini(&log);
}

/* ---- a client that comes and goes at once is still seen -------------------------- */

typedef struct brief {
    uint32_t connects, disconnects; /* atomic */
    uint32_t last_pid;              /* atomic */
} brief_t;

static void brief_handler(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    brief_t *b = (brief_t *)ud;
    if ((type == SHM_EVENT_CONNECT || type == SHM_EVENT_DISCONNECT) && sz == sizeof(shm_peer_info_t))
        xa_store32_rel(&b->last_pid, ((const shm_peer_info_t *)data)->pid);
    if (type == SHM_EVENT_CONNECT)
        xa_fetch_add32(&b->connects, 1);
    if (type == SHM_EVENT_DISCONNECT)
        xa_fetch_add32(&b->disconnects, 1);
}

static void test_brief_client_seen(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "brief");
    shm_ring_config_t c = tc_config(1u << 16, 2, true, 1000);
    shm_server_t *s = tc_server_config(name, &c);
    brief_t b;
    memset(&b, 0, sizeof(b));
    assert_int_equal(shm_server_register_callback(s, brief_handler, &b), SHM_SUCCESS);
    plat_proc_id_t self;
    xshm_plat_proc_self(&self);
    /* Each client connects and leaves at once, faster than the 100 ms poll:
     * the server must still report the pair, and promptly. */
    for (uint32_t k = 1; k <= 10; k++) {
        uint64_t t0 = tp_now_ms();
        shm_client_t *cl = tc_client(name);
        shm_client_disconnect(cl);
        bool ok = false;
        TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&b.connects) == k && xa_load32_acq(&b.disconnects) == k,
                          2000);
        if (!ok)
            fail_msg("client %u: %u CONNECT and %u DISCONNECT seen after %u ms", k,
                     xa_load32_acq(&b.connects), xa_load32_acq(&b.disconnects),
                     (unsigned)(tp_now_ms() - t0));
        assert_int_equal(xa_load32_acq(&b.last_pid), self.pid);
    }
    shm_server_destroy(s);
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_callback_uses_endpoint),
        cmocka_unit_test(test_callback_ends_endpoint),
        cmocka_unit_test(test_register_callback_replaces),
        cmocka_unit_test(test_disconnect_wakes_server),
        cmocka_unit_test(test_client_register_after_server_left),
        cmocka_unit_test(test_brief_client_seen),
    };
    return tr_main(argc, argv, NULL, tests, sizeof(tests) / sizeof(tests[0]));
}
