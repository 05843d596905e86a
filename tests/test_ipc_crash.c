/*
 * test_ipc_crash.c - dead peers noticed through the API: a client process
 * killed (with and without a callback on the server), a server process
 * killed while its client has no callback. test_reliability goes further
 * (bounds on the delays, reused process ids, damaged segments).
 *
 * Helper processes are copies of this program started with
 * "--helper <name> ..." (tests/support/testproc.h).
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
#include "testblocked.h"
#include "testchan.h"
#include "testevlog.h"
#include "testleft.h"
#include "testproc.h"
#include "testrun.h"

/* ---- a client process killed ----------------------------------------------------- */

/* Helper: connect, announce, then wait until killed (on a blocking or a
 * non-blocking channel). */
static int helper_linger(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    shm_client_t *c = shm_client_connect(argv[1]);
    if (!c)
        return 3;
    if (shm_client_send(c, "ready", 6) != SHM_SUCCESS)
        return 4;
    for (;;) {
        char buf[16];
        uint32_t sz = sizeof(buf);
        shm_error_t r = shm_client_receive(c, buf, &sz);
        if (r == SHM_ERROR_EMPTY)
            tp_sleep_ms(1); /* nothing to wait for but the kill */
        else if (r != SHM_SUCCESS && r != SHM_ERROR_TIMEOUT)
            break;
    }
    shm_client_disconnect(c);
    return 0;
}

/* A client killed without disconnecting: DISCONNECT, and its slot is free. */
static void test_crashed_client(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "crash");
    static ev_log_t log; /* static: the listener may outlive a failed test (tl_teardown) */
    shm_ring_config_t c = tc_config(4096, 1, true, 20000);
    shm_server_t *s = tc_logged_server_config(name, &c, &log);
    tl_server(s);
    tp_child_t *child = tl_child();
    assert_non_null(child);
    const char *args[] = {name, NULL};
    assert_int_equal(tp_spawn_self(child, "linger", args), 0);
    char buf[16];
    uint32_t sz = sizeof(buf);
    shm_error_t r = shm_server_receive(s, buf, &sz);
    if (r != SHM_SUCCESS)
        tp_kill(child);
    assert_int_equal(r, SHM_SUCCESS);
    assert_string_equal(buf, "ready");
    assert_true(TP_WAIT_UNTIL(ev_count(&log, SHM_EVENT_CONNECT) == 1, 10000));
    uint64_t t0 = tc_now_ms();
    tp_kill(child);
    assert_true(TP_WAIT_UNTIL(ev_count(&log, SHM_EVENT_DISCONNECT) == 1, 10000));
    print_message("killed client noticed after %llu ms\n", (unsigned long long)(tc_now_ms() - t0));
    ev_entry_t e;
    assert_true(ev_find(&log, SHM_EVENT_DISCONNECT, 0, &e) >= 0);
    assert_int_equal(e.peer.pid, child->pid);
    assert_int_equal(tc_server_connected(s), 0);
    /* Its slot (the only one) can be taken again. */
    shm_client_t *cl = tc_client(name);
    assert_true(TP_WAIT_UNTIL(ev_count(&log, SHM_EVENT_CONNECT) == 2, 10000));
    shm_client_disconnect(cl);
    tl_server_destroy(s);
    assert_int_equal(ev_bad(&log), 0);
    ev_fini(&log);
}

/* ---- a server process killed, peers without a callback --------------------------- */

/*
 * Helper "hold" <name> <blocking 0|1>: create the channel (4 KiB rings, one
 * client, a 20 s receive timeout when blocking), wait for a client, send it
 * "ready", then receive until killed. Exit codes: 2 usage, 3 create failed,
 * 4 no client came, 5 send failed.
 */
static int helper_hold(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    shm_ring_config_t c = tc_config(4096, 1, strcmp(argv[2], "1") == 0, 20000);
    shm_server_t *s = shm_server_create(argv[1], &c);
    if (!s) {
        fprintf(stderr, "hold: create: %s\n", shm_strerror(shm_last_error()));
        return 3;
    }
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, tc_server_connected(s) == 1, 20000);
    if (!ok)
        return 4;
    if (shm_server_send(s, "ready", 6) != SHM_SUCCESS)
        return 5;
    for (;;) {
        char buf[16];
        uint32_t sz = sizeof(buf);
        shm_error_t r = shm_server_receive(s, buf, &sz);
        if (r == SHM_ERROR_EMPTY)
            tp_sleep_ms(1); /* nothing to wait for but the kill */
        else if (r != SHM_SUCCESS && r != SHM_ERROR_TIMEOUT)
            break;
    }
    shm_server_destroy(s);
    return 0;
}

/* Start a "hold" server process on `name` and join it: the client has
 * received "ready". */
static shm_client_t *join_held_server(tp_child_t *srv, const char *name, bool blocking)
{
    const char *args[] = {name, blocking ? "1" : "0", NULL};
    assert_int_equal(tp_spawn_self(srv, "hold", args), 0);
    shm_client_t *cl = tc_connect_within(name, 20000);
    if (!cl) {
        tp_kill(srv);
        fail_msg("connect to the server process: %s", shm_strerror(shm_last_error()));
    }
    char buf[16];
    uint32_t sz = sizeof(buf);
    shm_error_t r = tc_client_recv_within(cl, buf, &sz, 20000);
    if (r != SHM_SUCCESS || strcmp(buf, "ready") != 0) {
        tp_kill(srv);
        fail_msg("the server process's \"ready\": %s", shm_strerror(r));
    }
    return cl;
}

/* What a killed server left under `name` is reclaimed by the next server. */
static void reclaim_name(const char *name)
{
    shm_ring_config_t c = tc_config(4096, 1, false, 0);
    shm_server_t *s = shm_server_create(name, &c);
    if (!s)
        fail_msg("create over a killed server's channel: %s", shm_strerror(shm_last_error()));
    shm_server_destroy(s);
}

/*
 * A server process killed, the client with no callback (so no listener
 * checks for it): each of its calls finds out by itself (lifecycle.md,
 * "Peers are also checked without a listener"): a blocked receive returns
 * SHM_ERROR_NOT_CONNECTED long before its 20 s timeout, and so do polling
 * non-blocking receives and sends, each on a channel of its own (the first
 * call that notices tells the others of that client).
 */
static void test_crashed_server_without_callback(void **state)
{
    (void)state;
    char name[80];

    /* 1. A blocking receive, blocked (most likely) when the kill comes. */
    tp_unique_name(name, sizeof(name), "srvcrash-b");
    tp_child_t *srv = tl_child();
    assert_non_null(srv);
    shm_client_t *cl = join_held_server(srv, name, true);
    tl_client(cl);
    static tb_receive_t b; /* static: the thread may outlive a failed test (tl_teardown) */
    tb_init(&b, NULL, cl);
    plat_thread_t *t;
    assert_int_equal(tb_start(&t, &b), SHM_SUCCESS);
    uint64_t t0 = xshm_plat_now_ns();
    tp_kill(srv);
    /* Beyond the 20 s timeout: a receive that never notices returns TIMEOUT
     * then, and the thread is joined either way. */
    bool done = TP_WAIT_UNTIL(tb_done(&b), 60000);
    if (done)
        tl_join(t);
    assert_true(done);
    uint64_t ms = (b.end_ns - t0) / 1000000u;
    print_message("killed server: blocked receive returned %s after %llu ms (no callback)\n",
                  shm_strerror(b.result), (unsigned long long)ms);
    assert_int_equal(b.result, SHM_ERROR_NOT_CONNECTED);
    assert_true(ms < 10000);
    /* A channel whose server died counts as absent. */
    assert_null(shm_client_connect(name));
    assert_int_equal(shm_last_error(), SHM_ERROR_NOT_FOUND);
    tl_client_disconnect(cl);
    reclaim_name(name);

    /* 2. Non-blocking receives, polled. */
    tp_unique_name(name, sizeof(name), "srvcrash-n");
    cl = join_held_server(srv, name, false);
    tp_kill(srv);
    shm_error_t r = SHM_ERROR_EMPTY;
    uint64_t deadline = tc_now_ms() + 10000;
    while (r == SHM_ERROR_EMPTY && tc_now_ms() < deadline) {
        for (int k = 0; k < 512 && r == SHM_ERROR_EMPTY; k++) {
            char buf[16];
            uint32_t sz = sizeof(buf);
            r = shm_client_receive(cl, buf, &sz);
        }
        if (r == SHM_ERROR_EMPTY)
            tp_sleep_ms(1);
    }
    assert_int_equal(r, SHM_ERROR_NOT_CONNECTED);
    shm_client_disconnect(cl);
    reclaim_name(name);

    /* 3. Sends only. */
    tp_unique_name(name, sizeof(name), "srvcrash-s");
    cl = join_held_server(srv, name, false);
    tp_kill(srv);
    r = SHM_SUCCESS;
    deadline = tc_now_ms() + 10000;
    uint64_t sent = 0;
    while (r == SHM_SUCCESS && tc_now_ms() < deadline) {
        for (int k = 0; k < 2048 && r == SHM_SUCCESS; k++, sent++)
            r = shm_client_send(cl, "x", 1);
        if (r == SHM_SUCCESS)
            tp_sleep_ms(1);
    }
    print_message("killed server: noticed by a send after %llu sends\n", (unsigned long long)sent);
    assert_int_equal(r, SHM_ERROR_NOT_CONNECTED);
    shm_client_disconnect(cl);
    reclaim_name(name);
}

/* A linger client process on `name`, seen by the server (its "ready"). */
static void start_linger_client(shm_server_t *s, tp_child_t *child, const char *name)
{
    const char *args[] = {name, NULL};
    assert_int_equal(tp_spawn_self(child, "linger", args), 0);
    uint64_t deadline = tc_now_ms() + 20000;
    for (;;) {
        char buf[16];
        uint32_t sz = sizeof(buf);
        shm_error_t r = shm_server_receive(s, buf, &sz);
        if (r == SHM_SUCCESS && strcmp(buf, "ready") == 0)
            return;
        if ((r != SHM_ERROR_EMPTY && r != SHM_ERROR_TIMEOUT) || tc_now_ms() >= deadline) {
            tp_kill(child);
            fail_msg("the client process's \"ready\": %s", shm_strerror(r));
        }
        if (r == SHM_ERROR_EMPTY)
            tp_sleep_ms(1);
    }
}

/*
 * A client process killed, the server with no callback: its slot is freed
 * by the server's own calls (troubleshooting.md, SHM_ERROR_BUSY: "otherwise
 * during its receives and sends"). The channel has one slot: a new client
 * is refused (BUSY) until the dead one's slot is freed. Only the call under
 * test runs between tries (get_stats would look for dead clients itself).
 */
static void test_crashed_client_without_callback(void **state)
{
    (void)state;
    char name[80];
    tp_child_t child;

    /* 1. Blocking receives (100 ms timeout). */
    tp_unique_name(name, sizeof(name), "clicrash-b");
    shm_ring_config_t c = tc_config(4096, 1, true, 100);
    shm_server_t *s = tc_server_config(name, &c);
    start_linger_client(s, &child, name);
    tp_kill(&child);
    shm_client_t *cl = NULL;
    uint64_t deadline = tc_now_ms() + 10000;
    while (!cl && tc_now_ms() < deadline) {
        char buf[16];
        uint32_t sz = sizeof(buf);
        shm_error_t r = shm_server_receive(s, buf, &sz);
        if (r != SHM_ERROR_TIMEOUT)
            fail_msg("blocked server receive: %s, expected SHM_ERROR_TIMEOUT", shm_strerror(r));
        cl = shm_client_connect(name);
        if (!cl)
            assert_int_equal(shm_last_error(), SHM_ERROR_BUSY);
    }
    if (!cl)
        fail_msg("the killed client's slot was not freed by blocking receives within 10 s");
    assert_int_equal(shm_client_send(cl, "new", 4), SHM_SUCCESS);
    char buf[16];
    uint32_t sz = sizeof(buf);
    assert_int_equal(shm_server_receive(s, buf, &sz), SHM_SUCCESS);
    assert_string_equal(buf, "new");
    assert_int_equal(tc_server_connected(s), 1);
    shm_client_disconnect(cl);
    shm_server_destroy(s);

    /* 2. Non-blocking receives, polled. */
    tp_unique_name(name, sizeof(name), "clicrash-n");
    c = tc_config(4096, 1, false, 0);
    s = tc_server_config(name, &c);
    start_linger_client(s, &child, name);
    tp_kill(&child);
    cl = NULL;
    deadline = tc_now_ms() + 10000;
    while (!cl && tc_now_ms() < deadline) {
        for (int k = 0; k < 512; k++) {
            sz = sizeof(buf);
            assert_int_equal(shm_server_receive(s, buf, &sz), SHM_ERROR_EMPTY);
        }
        cl = shm_client_connect(name);
        if (!cl) {
            assert_int_equal(shm_last_error(), SHM_ERROR_BUSY);
            tp_sleep_ms(1);
        }
    }
    if (!cl)
        fail_msg("the killed client's slot was not freed by non-blocking receives within 10 s");
    assert_int_equal(tc_server_connected(s), 1);
    shm_client_disconnect(cl);
    shm_server_destroy(s);

    /* 3. Sends only: they succeed while the dead client still holds its
     * slot, then SHM_ERROR_NOT_CONNECTED (nobody is left). */
    tp_unique_name(name, sizeof(name), "clicrash-s");
    s = tc_server_config(name, &c);
    start_linger_client(s, &child, name);
    tp_kill(&child);
    shm_error_t r = SHM_SUCCESS;
    deadline = tc_now_ms() + 10000;
    while (r == SHM_SUCCESS && tc_now_ms() < deadline) {
        for (int k = 0; k < 2048 && r == SHM_SUCCESS; k++)
            r = shm_server_send(s, "x", 1);
        if (r == SHM_SUCCESS)
            tp_sleep_ms(1);
    }
    assert_int_equal(r, SHM_ERROR_NOT_CONNECTED);
    cl = tc_client(name);
    shm_client_disconnect(cl);
    shm_server_destroy(s);
}

/* ---- main ------------------------------------------------------------------------ */

static const tp_helper_t helpers[] = {
    {"linger", helper_linger},
    {"hold", helper_hold},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_crashed_client, tl_teardown),
        cmocka_unit_test_teardown(test_crashed_server_without_callback, tl_teardown),
        cmocka_unit_test(test_crashed_client_without_callback),
    };
    return tr_main(argc, argv, helpers, tests, sizeof(tests) / sizeof(tests[0]));
}
