/*
 * test_ipc_connect.c - channel names, and a channel's lifecycle: create,
 * connect, reuse of a name, a full channel, a server that leaves, a client
 * in another process.
 *
 * Helper processes are copies of this program started with
 * "--helper <name> ..." (tests/support/testproc.h).
 * Every channel name is unique (tp_unique_name), so parallel runs never
 * meet. Waits are on conditions with timeouts, never plain sleeps; timing
 * assertions only check generous bounds.
 */
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform.h"
#include "shm_common.h"
#include "shm_ipc.h"
#include "testchan.h"
#include "testevlog.h"
#include "testleft.h"
#include "testproc.h"
#include "testrun.h"

/* ---- names ----------------------------------------------------------------------- */

static void test_names(void **state)
{
    (void)state;
    char long65[66], local65[80];
    memset(long65, 'a', 65);
    long65[65] = '\0';
    snprintf(local65, sizeof(local65), "Local\\%s", long65);
    const char *invalid[] = {
        "",
        long65,
        local65,
        "a/b",
        "/abc",
        "a b",
        " ",
        "abc ",
        "caf\xc3\xa9",                /* UTF-8 bytes */
        "\xd0\xb8\xd0\xbc\xd1\x8f",   /* UTF-8 bytes only */
        "Local\\\xc3\xa9t\xc3\xa9",
        "\xff",
        "Local\\",
        "Global\\",
        "Foo\\x",
        "a\\b",
        "Local\\Global\\x",
        "Local\\a/b",
        "a:b",
        "a*b",
        "tab\tname",
        "new\nline",
    };
    shm_ring_config_t c = tc_config(4096, 1, false, 0);
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        /* The library refuses the name itself, before any OS call: the
         * OS may refuse some of them too (Linux: '/' in a shm_open name),
         * with the same code, which would hide a library that lets them
         * through. Every entry point turns a name into OS names with
         * xshm_channel_os_name. */
        char os_name[PLAT_NAME_MAX];
        const char *bare = NULL;
        if (xshm_channel_os_name(invalid[i], os_name, sizeof(os_name), &bare) !=
            SHM_ERROR_INVALID_PARAM)
            fail_msg("invalid name %u (\"%s\") is not refused by the library's own check",
                     (unsigned)i, invalid[i]);
        assert_null(shm_server_create(invalid[i], &c));
        assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
        uint64_t t0 = tc_now_ms();
        assert_null(shm_client_connect(invalid[i]));
        assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
        assert_true(tc_now_ms() - t0 < 5000); /* no retrying for a bad name */
    }
    /* A valid name passes the same check (it can tell). */
    {
        char os_name[PLAT_NAME_MAX];
        const char *bare = NULL;
        assert_int_equal(xshm_channel_os_name("Local\\ok.name_-9", os_name, sizeof(os_name), &bare),
                         SHM_SUCCESS);
        assert_non_null(bare);
        assert_string_equal(bare, "ok.name_-9");
    }

    /* The longest name: exactly 64 characters, with and without a prefix. */
    char base64[65], name64[65], pref64[80];
    memset(base64, 'n', 64);
    base64[64] = '\0';
    tp_unique_name(name64, sizeof(name64), base64);
    assert_int_equal(strlen(name64), 64);
    shm_server_t *s = tc_server_config(name64, &c);
    shm_client_t *cl = shm_client_connect(name64);
    assert_non_null(cl);
    shm_client_disconnect(cl);
    snprintf(pref64, sizeof(pref64), "Local\\%s", name64);
    cl = shm_client_connect(pref64); /* Local\ is the default namespace */
    assert_non_null(cl);
    shm_client_disconnect(cl);
    shm_server_destroy(s);

    /* Every allowed character. */
    char odd[80];
    tp_unique_name(odd, sizeof(odd), "AZaz09._-");
    s = tc_server_config(odd, &c);
    shm_server_destroy(s);

    char name[80], local[96];
    tp_unique_name(name, sizeof(name), "pfx");
    snprintf(local, sizeof(local), "Local\\%s", name);
    s = tc_server_config(local, &c);
    cl = tc_client(name);
    shm_client_disconnect(cl);
    cl = shm_client_connect(local);
    assert_non_null(cl);
    shm_client_disconnect(cl);
    assert_null(shm_server_create(name, &c)); /* Local\x is x */
    assert_int_equal(shm_last_error(), SHM_ERROR_EXISTS);
    shm_server_destroy(s);
}

/* The Global\ prefix: Windows' session-wide namespace; on Linux the same
 * single namespace as Local\. */
static void test_names_global(void **state)
{
    (void)state;
    char name[80], local[96], global[96];
    tp_unique_name(name, sizeof(name), "glob");
    snprintf(local, sizeof(local), "Local\\%s", name);
    snprintf(global, sizeof(global), "Global\\%s", name);
    shm_ring_config_t c = tc_config(4096, 1, false, 0);
#ifdef _WIN32
    /* Global\ needs SeCreateGlobalPrivilege: it may fail with ACCESS, and
     * with nothing else. */
    shm_server_t *s = shm_server_create(global, &c);
    if (s == NULL) {
        assert_int_equal(shm_last_error(), SHM_ERROR_ACCESS);
        print_message("test_names_global: skipped: a Global\\ channel cannot be created here "
                      "(SHM_ERROR_ACCESS: no SeCreateGlobalPrivilege)\n");
        skip();
    }
    shm_client_t *cl = shm_client_connect(global);
    assert_non_null(cl);
    assert_int_equal(shm_server_send(s, "g", 2), SHM_SUCCESS);
    char buf[8];
    uint32_t sz = sizeof(buf);
    assert_int_equal(shm_client_receive(cl, buf, &sz), SHM_SUCCESS);
    assert_string_equal(buf, "g");
    shm_client_disconnect(cl);
    DWORD session = 0;
    if (ProcessIdToSessionId(GetCurrentProcessId(), &session) && session != 0) {
        /* Another namespace than Local\ (outside session 0, where the two
         * coincide): the same bare name is free there, and a client of
         * Local\ does not find the Global\ channel. */
        assert_null(shm_client_connect(local));
        assert_int_equal(shm_last_error(), SHM_ERROR_NOT_FOUND);
        shm_server_t *l = tc_server_config(local, &c);
        shm_server_destroy(l);
    } else {
        print_message("test_names_global: session 0, where Local\\ and Global\\ are one "
                      "namespace: their separation is not checked\n");
    }
    shm_server_destroy(s);
#else
    /* Linux: Local\ and Global\ name the same single namespace. */
    shm_server_t *s = tc_server_config(local, &c);
    shm_client_t *cl = shm_client_connect(global);
    assert_non_null(cl);
    shm_client_disconnect(cl);
    assert_null(shm_server_create(global, &c));
    assert_int_equal(shm_last_error(), SHM_ERROR_EXISTS);
    shm_server_destroy(s);
    s = tc_server_config(global, &c);
    cl = shm_client_connect(local);
    assert_non_null(cl);
    shm_client_disconnect(cl);
    shm_server_destroy(s);
#endif
}

/* ---- channel lifecycle ----------------------------------------------------------- */

static void test_exists_and_reuse(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "exists");
    shm_server_t *s = tc_server(name);
    shm_ring_config_t c = tc_small_config();
    assert_null(shm_server_create(name, &c));
    assert_int_equal(shm_last_error(), SHM_ERROR_EXISTS);
    shm_ring_config_t other = tc_config(8192, 2, true, 10);
    assert_null(shm_server_create(name, &other));
    assert_int_equal(shm_last_error(), SHM_ERROR_EXISTS);

    /* The first server is unharmed. */
    shm_client_t *cl = tc_client(name);
    assert_int_equal(shm_server_send(s, "one", 4), SHM_SUCCESS);
    char buf[16];
    uint32_t sz = sizeof(buf);
    assert_int_equal(shm_client_receive(cl, buf, &sz), SHM_SUCCESS);
    assert_string_equal(buf, "one");
    shm_client_disconnect(cl);
    shm_server_destroy(s);

    /* Destroyed, then reused, several times; a different config each time. */
    for (uint32_t round = 0; round < 3; round++) {
        shm_ring_config_t rc = tc_config(4096u << round, 1 + round, false, 0);
        s = tc_server_config(name, &rc);
        cl = tc_client(name);
        assert_int_equal(shm_client_send(cl, &round, sizeof(round)), SHM_SUCCESS);
        uint32_t got = 99;
        sz = sizeof(got);
        assert_int_equal(shm_server_receive(s, &got, &sz), SHM_SUCCESS);
        assert_int_equal(got, round);
        assert_int_equal(shm_server_send(s, &round, sizeof(round)), SHM_SUCCESS);
        sz = sizeof(got);
        got = 99;
        assert_int_equal(shm_client_receive(cl, &got, &sz), SHM_SUCCESS);
        assert_int_equal(got, round);
        shm_client_disconnect(cl);
        shm_server_destroy(s);
    }
}

static void test_connect_not_found(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "missing");
    uint64_t t0 = tc_now_ms();
    assert_null(shm_client_connect(name));
    uint64_t spent = tc_now_ms() - t0;
    assert_int_equal(shm_last_error(), SHM_ERROR_NOT_FOUND);
    print_message("connect to a missing channel gave up after %llu ms\n",
                  (unsigned long long)spent);
    assert_true(spent >= 400);
    assert_true(spent < 5000);

    /* A destroyed channel is not found either. */
    shm_server_t *s = tc_server(name);
    shm_server_destroy(s);
    assert_null(shm_client_connect(name));
    assert_int_equal(shm_last_error(), SHM_ERROR_NOT_FOUND);
}

static void test_busy(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "busy");
    shm_ring_config_t c = tc_config(4096, 2, false, 0);
    shm_server_t *s = tc_server_config(name, &c);
    shm_client_t *c1 = shm_client_connect(name);
    shm_client_t *c2 = shm_client_connect(name);
    assert_non_null(c1);
    assert_non_null(c2);
    assert_int_equal(tc_server_connected(s), 2);
    assert_null(shm_client_connect(name));
    assert_int_equal(shm_last_error(), SHM_ERROR_BUSY);
    assert_int_equal(tc_server_connected(s), 2);
    /* A freed slot can be taken again. */
    shm_client_disconnect(c1);
    assert_int_equal(tc_server_connected(s), 1);
    shm_client_t *c3 = tc_client(name);
    assert_null(shm_client_connect(name));
    assert_int_equal(shm_last_error(), SHM_ERROR_BUSY);
    /* Server messages reach every client. */
    assert_int_equal(shm_server_send(s, "all", 4), SHM_SUCCESS);
    char buf[8];
    uint32_t sz = sizeof(buf);
    assert_int_equal(shm_client_receive(c2, buf, &sz), SHM_SUCCESS);
    assert_string_equal(buf, "all");
    sz = sizeof(buf);
    assert_int_equal(shm_client_receive(c3, buf, &sz), SHM_SUCCESS);
    assert_string_equal(buf, "all");
    /* The server receives from each. */
    assert_int_equal(shm_client_send(c2, "c2", 3), SHM_SUCCESS);
    assert_int_equal(shm_client_send(c3, "c3", 3), SHM_SUCCESS);
    bool seen2 = false, seen3 = false;
    for (int i = 0; i < 2; i++) {
        sz = sizeof(buf);
        assert_int_equal(shm_server_receive(s, buf, &sz), SHM_SUCCESS);
        assert_int_equal(sz, 3);
        if (strcmp(buf, "c2") == 0)
            seen2 = true;
        if (strcmp(buf, "c3") == 0)
            seen3 = true;
    }
    assert_true(seen2 && seen3);
    shm_client_disconnect(c2);
    shm_client_disconnect(c3);
    shm_server_destroy(s);
}

static void test_not_connected(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "notconn");
    shm_server_t *s = tc_server(name);
    TC_ASSERT_FAILS_WITH(shm_server_send(s, "x", 1), SHM_ERROR_NOT_CONNECTED);
    /* A message too big for the ring is refused as such, client or not. */
    static const uint8_t big[4096];
    TC_ASSERT_FAILS_WITH(shm_server_send(s, big, sizeof(big)), SHM_ERROR_INVALID_PARAM);
    shm_client_t *cl = tc_client(name);
    assert_int_equal(shm_server_send(s, "x", 2), SHM_SUCCESS);
    shm_client_disconnect(cl);
    TC_ASSERT_FAILS_WITH(shm_server_send(s, "x", 1), SHM_ERROR_NOT_CONNECTED);

    /* Messages sent to a client before the server left are delivered;
     * then the client learns the server is gone. */
    cl = tc_client(name);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(shm_server_send(s, &i, sizeof(i)), SHM_SUCCESS);
    shm_server_destroy(s);
    for (uint32_t i = 0; i < 3; i++) {
        uint32_t v = 99, sz = sizeof(v);
        assert_int_equal(shm_client_receive(cl, &v, &sz), SHM_SUCCESS);
        assert_int_equal(v, i);
    }
    uint32_t v, sz = sizeof(v);
    /* Non-blocking as well: NOT_CONNECTED rather than EMPTY for ever. */
    TC_ASSERT_FAILS_WITH(shm_client_receive(cl, &v, &sz), SHM_ERROR_NOT_CONNECTED);
    TC_ASSERT_FAILS_WITH(shm_client_send(cl, "x", 1), SHM_ERROR_NOT_CONNECTED);
    TC_ASSERT_FAILS_WITH(shm_client_send(cl, big, sizeof(big)), SHM_ERROR_INVALID_PARAM);
    shm_stats_t st;
    assert_int_equal(shm_client_get_stats(cl, &st), SHM_SUCCESS);
    assert_int_equal(st.connected, 0);
    shm_client_disconnect(cl);
}

/* ---- another process: connect, exchange, disconnect ------------------------------ */

/* Helper: connect, see the server's CONNECT, say hello, get a reply, leave. */
static int helper_hello(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    uint32_t parent = (uint32_t)strtoul(argv[2], NULL, 10);
    ev_log_t log;
    ev_init(&log);
    shm_client_t *c = shm_client_connect(argv[1]);
    if (!c) {
        fprintf(stderr, "hello: connect: %s\n", shm_strerror(shm_last_error()));
        return 3;
    }
    if (shm_client_register_callback(c, ev_callback, &log) != SHM_SUCCESS)
        return 4;
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, ev_count(&log, SHM_EVENT_CONNECT) == 1, 10000);
    ev_entry_t e;
    if (!ok || ev_find(&log, SHM_EVENT_CONNECT, 0, &e) < 0)
        return 5;
    if (e.peer.pid != parent || e.peer.ptr_bits != TC_PTR_BITS || e.peer.slot != 0) {
        fprintf(stderr, "hello: server peer pid %u bits %u\n", e.peer.pid, e.peer.ptr_bits);
        return 6;
    }
    char msg[64];
    snprintf(msg, sizeof(msg), "hello from %u", tc_self_pid());
    if (shm_client_send(c, msg, (uint32_t)strlen(msg) + 1) != SHM_SUCCESS)
        return 7;
    char reply[64];
    uint32_t sz = sizeof(reply);
    shm_error_t r = shm_client_receive(c, reply, &sz);
    if (r != SHM_SUCCESS || strcmp(reply, "welcome") != 0) {
        fprintf(stderr, "hello: receive: %s\n", shm_strerror(r));
        return 8;
    }
    shm_client_disconnect(c);
    int rc = ev_bad(&log) ? 9 : 0;
    ev_fini(&log);
    return rc;
}

static void test_connect_disconnect_other_process(void **state)
{
    (void)state;
    char name[80], pid_s[16];
    tp_unique_name(name, sizeof(name), "hello");
    snprintf(pid_s, sizeof(pid_s), "%u", tc_self_pid());
    static ev_log_t log; /* static: the listener may outlive a failed test (tl_teardown) */
    shm_ring_config_t c = tc_config(4096, 2, true, 10000);
    shm_server_t *s = tc_logged_server_config(name, &c, &log);
    tl_server(s);

    tp_child_t *child = tl_child();
    assert_non_null(child);
    const char *args[] = {name, pid_s, NULL};
    assert_int_equal(tp_spawn_self(child, "hello", args), 0);
    bool ok = TP_WAIT_UNTIL(ev_count(&log, SHM_EVENT_CONNECT) == 1, 20000);
    if (!ok)
        tp_kill(child);
    assert_true(ok);
    ev_entry_t e;
    assert_true(ev_find(&log, SHM_EVENT_CONNECT, 0, &e) >= 0);
    assert_int_equal(e.peer.pid, child->pid);
    assert_int_equal(e.peer.ptr_bits, TC_PTR_BITS);
    assert_true(e.peer.slot < 2);
    uint32_t slot = e.peer.slot;

    char buf[64], expect[64];
    uint32_t sz = sizeof(buf);
    shm_error_t r = shm_server_receive(s, buf, &sz);
    if (r != SHM_SUCCESS)
        tp_kill(child);
    assert_int_equal(r, SHM_SUCCESS);
    snprintf(expect, sizeof(expect), "hello from %u", child->pid);
    assert_string_equal(buf, expect);
    assert_int_equal(shm_server_send(s, "welcome", 8), SHM_SUCCESS);

    ok = TP_WAIT_UNTIL(ev_count(&log, SHM_EVENT_DISCONNECT) == 1, 20000);
    int code = -1;
    tp_wait_or_kill(child, 20000, &code);
    assert_true(ok);
    assert_int_equal(code, 0);
    assert_true(ev_find(&log, SHM_EVENT_DISCONNECT, 0, &e) >= 0);
    assert_int_equal(e.peer.pid, child->pid);
    assert_int_equal(e.peer.ptr_bits, TC_PTR_BITS);
    assert_int_equal(e.peer.slot, slot);
    assert_true(ev_find(&log, SHM_EVENT_CONNECT, 0, NULL) <
                ev_find(&log, SHM_EVENT_DISCONNECT, 0, NULL));
    assert_int_equal(tc_server_connected(s), 0);
    tl_server_destroy(s);
    assert_int_equal(ev_count(&log, SHM_EVENT_CONNECT), 1);
    assert_int_equal(ev_count(&log, SHM_EVENT_DISCONNECT), 1);
    assert_int_equal(ev_bad(&log), 0);
    ev_fini(&log);
}

/* ---- main ------------------------------------------------------------------------ */

static const tp_helper_t helpers[] = {
    {"hello", helper_hello},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_names_global),
        cmocka_unit_test(test_exists_and_reuse),
        cmocka_unit_test(test_connect_not_found),
        cmocka_unit_test(test_busy),
        cmocka_unit_test(test_not_connected),
        cmocka_unit_test_teardown(test_connect_disconnect_other_process, tl_teardown),
    };
    return tr_main(argc, argv, helpers, tests, sizeof(tests) / sizeof(tests[0]));
}
