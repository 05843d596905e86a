/*
 * test_ipc_addressed.c - addressed messaging: client ids
 * (shm_client_id_t), shm_server_receive_from and shm_server_send_to.
 *
 * Ids are unique across reconnects and slot reuse and never 0; the events'
 * ids are those receive_from reports; send_to reaches its client alone,
 * fails with SHM_ERROR_NOT_CONNECTED for a client that left even when its
 * slot has a new occupant (which then receives nothing); messages are
 * attributed to the client that wrote them even after its slot changed
 * hands; an addressed ring counts its losses exactly; a blocked client
 * receive wakes for an addressed message; bad arguments are refused. The
 * race of a slot changing hands between send_to's check and its write is
 * the explorer's (tests/test_explore.c, "addressed: ...").
 *
 * Helper processes are copies of this program started with
 * "--helper <name> ..." (tests/support/testproc.h). Waits are on conditions
 * with timeouts, never plain sleeps.
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

#include "platform.h"
#include "shm_ipc.h"
#include "testblocked.h"
#include "testchan.h"
#include "testevlog.h"
#include "testleft.h"
#include "testpeek.h"
#include "testproc.h"
#include "testrun.h"

#define ID_SLOT(id) ((uint32_t)((id) & 0xFFu))
#define ID_EPOCH(id) ((uint64_t)(id) >> 8)

/* The client sends text (its NUL included); the server's receive_from
 * returns exactly it: the sender's id. */
static shm_client_id_t id_of(shm_server_t *s, shm_client_t *c, const char *text)
{
    uint32_t n = (uint32_t)strlen(text) + 1;
    assert_int_equal(shm_client_send(c, text, n), SHM_SUCCESS);
    char buf[64];
    uint32_t sz = sizeof(buf);
    shm_client_id_t from = 0;
    assert_int_equal(shm_server_receive_from(s, buf, &sz, &from), SHM_SUCCESS);
    assert_int_equal(sz, n);
    assert_string_equal(buf, text);
    return from;
}

/* The client's next message (non-blocking, within 10 s) is exactly text. */
static void client_gets(shm_client_t *c, const char *text)
{
    char buf[64];
    uint32_t sz = sizeof(buf);
    assert_int_equal(tc_client_recv_within(c, buf, &sz, 10000), SHM_SUCCESS);
    assert_int_equal(sz, (uint32_t)strlen(text) + 1);
    assert_string_equal(buf, text);
}

static void client_gets_nothing(shm_client_t *c)
{
    char buf[64];
    uint32_t sz = sizeof(buf);
    assert_int_equal(shm_client_receive(c, buf, &sz), SHM_ERROR_EMPTY);
}

/* ---- ids ---------------------------------------------------------------------------- */

/*
 * One slot, taken by one client after another, and a client that
 * reconnects: every id differs from every earlier one, names slot 0, and
 * is not 0.
 */
static void test_ids_unique_across_reuse(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "addr-ids");
    shm_server_t *s = tc_server(name); /* one client slot */
    enum { N = 6 };
    shm_client_id_t ids[N + 2];
    for (int k = 0; k < N; k++) {
        shm_client_t *c = tc_client(name);
        ids[k] = id_of(s, c, "hello");
        shm_client_disconnect(c);
    }
    /* A client that reconnects to the same server: a new id. */
    shm_client_t *c = tc_client(name);
    ids[N] = id_of(s, c, "before");
    assert_int_equal(shm_client_reconnect(c), SHM_SUCCESS);
    ids[N + 1] = id_of(s, c, "after");
    shm_client_disconnect(c);
    for (int k = 0; k < N + 2; k++) {
        assert_true(ids[k] != 0);
        assert_int_equal(ID_SLOT(ids[k]), 0);
        assert_true(ID_EPOCH(ids[k]) >= 1 && ID_EPOCH(ids[k]) < (1u << 30));
        for (int j = 0; j < k; j++)
            assert_true(ids[j] != ids[k]);
    }
    shm_server_destroy(s);
}

/*
 * Each CONNECT and DISCONNECT carries the id receive_from reports for that
 * client's messages (the slot in its low byte), and a client's own events
 * carry 0.
 */
static void test_event_ids_match_receive_from(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "addr-ev");
    ev_log_t slog, clog;
    shm_ring_config_t cfg = tc_config(4096, 2, false, 0);
    shm_server_t *s = tc_logged_server_config(name, &cfg, &slog);
    ev_init(&clog);
    shm_client_t *c1 = tc_client(name);
    assert_int_equal(shm_client_register_callback(c1, ev_callback, &clog), SHM_SUCCESS);
    /* dispatched before c1 leaves (its listener drops what it has not) */
    assert_true(TP_WAIT_UNTIL(ev_count(&clog, SHM_EVENT_CONNECT) == 1, 10000));
    shm_client_t *c2 = tc_client(name);
    shm_client_id_t id1 = id_of(s, c1, "one"), id2 = id_of(s, c2, "two");
    assert_true(id1 != id2);
    assert_true(TP_WAIT_UNTIL(ev_count(&slog, SHM_EVENT_CONNECT) == 2, 10000));
    for (uint32_t k = 0; k < 2; k++) {
        ev_entry_t e;
        assert_true(ev_get(&slog, SHM_EVENT_CONNECT, k, &e));
        assert_true(e.peer.client_id == id1 || e.peer.client_id == id2);
        assert_int_equal(ID_SLOT(e.peer.client_id), e.peer.slot);
    }
    shm_client_disconnect(c1);
    assert_true(TP_WAIT_UNTIL(ev_count(&slog, SHM_EVENT_DISCONNECT) == 1, 10000));
    ev_entry_t e;
    assert_true(ev_get(&slog, SHM_EVENT_DISCONNECT, 0, &e));
    assert_true(e.peer.client_id == id1);
    shm_client_disconnect(c2);
    assert_true(TP_WAIT_UNTIL(ev_count(&slog, SHM_EVENT_DISCONNECT) == 2, 10000));
    assert_true(ev_get(&slog, SHM_EVENT_DISCONNECT, 1, &e));
    assert_true(e.peer.client_id == id2);
    assert_true(ev_get(&clog, SHM_EVENT_CONNECT, 0, &e));
    assert_true(e.peer.client_id == 0); /* the server has no client id */
    shm_server_destroy(s);
    assert_int_equal(ev_bad(&slog), 0);
    assert_int_equal(ev_bad(&clog), 0);
    ev_fini(&slog);
    ev_fini(&clog);
}

/*
 * Messages of a client that left, still unread, are attributed to it, and
 * those of the client that took its slot to the newcomer.
 */
static void test_attribution_after_slot_reuse(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "addr-attr");
    shm_server_t *s = tc_server(name); /* one client slot */
    shm_client_t *a = tc_client(name);
    shm_client_id_t id_a = id_of(s, a, "a0");
    assert_int_equal(shm_client_send(a, "a1", 3), SHM_SUCCESS);
    assert_int_equal(shm_client_send(a, "a2", 3), SHM_SUCCESS);
    shm_client_disconnect(a);
    shm_client_t *b = tc_client(name); /* the same slot, the same ring */
    assert_int_equal(shm_client_send(b, "b1", 3), SHM_SUCCESS);
    const char *want[3] = {"a1", "a2", "b1"};
    shm_client_id_t id_b = 0;
    for (int k = 0; k < 3; k++) {
        char buf[16];
        uint32_t sz = sizeof(buf);
        shm_client_id_t from = 0;
        assert_int_equal(shm_server_receive_from(s, buf, &sz, &from), SHM_SUCCESS);
        assert_string_equal(buf, want[k]);
        if (k < 2) {
            assert_true(from == id_a);
        } else {
            id_b = from;
            assert_true(from != id_a);
            assert_int_equal(ID_SLOT(from), ID_SLOT(id_a));
        }
    }
    assert_true(id_of(s, b, "b2") == id_b);
    shm_client_disconnect(b);
    shm_server_destroy(s);
}

/* ---- send_to ---------------------------------------------------------------------------- */

/*
 * Three clients: each addressed message reaches its client alone, in
 * order; a broadcast reaches all three; each client's statistics count
 * both kinds.
 */
static void test_send_to_reaches_only_its_client(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "addr-only");
    shm_ring_config_t cfg = tc_config(4096, 3, false, 0);
    shm_server_t *s = tc_server_config(name, &cfg);
    shm_client_t *c[3];
    shm_client_id_t id[3];
    char text[32];
    for (int k = 0; k < 3; k++) {
        c[k] = tc_client(name);
        snprintf(text, sizeof(text), "hello %d", k);
        id[k] = id_of(s, c[k], text);
    }
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < 3; k++) {
            snprintf(text, sizeof(text), "to %d #%d", k, round);
            assert_int_equal(shm_server_send_to(s, id[k], text, (uint32_t)strlen(text) + 1),
                             SHM_SUCCESS);
        }
    for (int k = 0; k < 3; k++) {
        for (int round = 0; round < 3; round++) {
            snprintf(text, sizeof(text), "to %d #%d", k, round);
            client_gets(c[k], text);
        }
        client_gets_nothing(c[k]);
    }
    assert_int_equal(shm_server_send(s, "all", 4), SHM_SUCCESS);
    for (int k = 0; k < 3; k++) {
        client_gets(c[k], "all");
        client_gets_nothing(c[k]);
        shm_stats_t st;
        assert_int_equal(shm_client_get_stats(c[k], &st), SHM_SUCCESS);
        assert_int_equal(st.messages_received, 4);
        assert_int_equal(st.messages_lost, 0);
    }
    shm_stats_t st;
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_sent, 9 + 1); /* addressed and broadcast */
    for (int k = 0; k < 3; k++)
        shm_client_disconnect(c[k]);
    shm_server_destroy(s);
}

/*
 * The id of a client that left: SHM_ERROR_NOT_CONNECTED, before and after a
 * new client takes its slot, and the newcomer receives nothing of it.
 */
static void test_stale_id_not_connected(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "addr-stale");
    shm_server_t *s = tc_server(name); /* one client slot */
    shm_client_t *a = tc_client(name);
    shm_client_id_t id_a = id_of(s, a, "a");
    assert_int_equal(shm_server_send_to(s, id_a, "for a", 6), SHM_SUCCESS);
    shm_client_disconnect(a);
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, id_a, "late", 5), SHM_ERROR_NOT_CONNECTED);
    shm_client_t *b = tc_client(name);
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, id_a, "late", 5), SHM_ERROR_NOT_CONNECTED);
    shm_client_id_t id_b = id_of(s, b, "b");
    assert_true(id_b != id_a);
    assert_int_equal(ID_SLOT(id_b), ID_SLOT(id_a));
    client_gets_nothing(b); /* not "for a", sent before b came, nor "late" */
    assert_int_equal(shm_server_send_to(s, id_b, "for b", 6), SHM_SUCCESS);
    client_gets(b, "for b");
    client_gets_nothing(b);
    shm_stats_t st;
    assert_int_equal(shm_client_get_stats(b, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_received, 1);
    assert_int_equal(st.messages_lost, 0);
    shm_client_disconnect(b);
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, id_b, "gone", 5), SHM_ERROR_NOT_CONNECTED);
    shm_server_destroy(s);
}

/*
 * An addressed ring that overflows: the client receives the newest
 * messages, in order, and received + lost == sent, exactly; the broadcast
 * ring loses nothing meanwhile.
 */
static void test_addressed_loss_exact(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "addr-loss");
    shm_server_t *s = tc_server(name); /* 4096-byte rings */
    shm_client_t *c = tc_client(name);
    shm_client_id_t id = id_of(s, c, "c");
    enum { SENT = 100, LEN = 100 };
    uint8_t msg[LEN];
    for (uint32_t k = 0; k < SENT; k++) {
        memset(msg, 0, sizeof(msg));
        memcpy(msg, &k, sizeof(k));
        assert_int_equal(shm_server_send_to(s, id, msg, LEN), SHM_SUCCESS);
    }
    assert_int_equal(shm_server_send(s, "bcast", 6), SHM_SUCCESS);
    uint32_t got = 0, last = 0, bcast = 0;
    for (;;) {
        uint8_t buf[LEN];
        uint32_t sz = sizeof(buf);
        shm_error_t e = shm_client_receive(c, buf, &sz);
        if (e == SHM_ERROR_EMPTY)
            break;
        assert_int_equal(e, SHM_SUCCESS);
        if (sz == 6) {
            assert_memory_equal(buf, "bcast", 6);
            bcast++;
            continue;
        }
        assert_int_equal(sz, LEN);
        uint32_t k;
        memcpy(&k, buf, sizeof(k));
        if (got > 0)
            assert_true(k > last); /* in order */
        last = k;
        got++;
    }
    assert_int_equal(bcast, 1);
    assert_int_equal(last, SENT - 1); /* the newest survive */
    assert_true(got < SENT);          /* 100 records of 128 bytes do not fit 4096 */
    shm_stats_t st;
    assert_int_equal(shm_client_get_stats(c, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_received, got + 1);
    assert_int_equal(st.messages_lost, SENT - got);
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* A client blocked in receive (a thread, asleep on its wake-up object)
 * wakes for an addressed message. */
static void test_blocked_client_woken_by_send_to(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "addr-wake");
    shm_ring_config_t cfg = tc_config(4096, 2, true, 20000);
    shm_server_t *s = tc_server_config(name, &cfg);
    tl_server(s);
    shm_client_t *c = tc_client(name);
    tl_client(c);
    shm_client_id_t id = id_of(s, c, "c");
    static tb_receive_t b; /* static: the thread may outlive a failed test (tl_teardown) */
    tb_init(&b, NULL, c);
    plat_thread_t *t;
    assert_int_equal(tb_start(&t, &b), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(pk_any_slot_waiting(shm_server_tx_ring(s)), 10000)); /* asleep */
    assert_int_equal(shm_server_send_to(s, id, "wake up", 8), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(tb_done(&b), 10000));
    tl_join(t);
    assert_int_equal(b.result, SHM_SUCCESS);
    assert_string_equal(b.buf, "wake up");
    tl_client_disconnect(c);
    tl_server_destroy(s);
}

/* ---- bad arguments --------------------------------------------------------------------------- */

static void test_invalid_params(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "addr-param");
    shm_ring_config_t cfg = tc_config(4096, 2, false, 0);
    shm_server_t *s = tc_server_config(name, &cfg);
    shm_client_t *c = tc_client(name);
    shm_client_id_t id = id_of(s, c, "c");
    static uint8_t big[4096];
    char buf[16];
    uint32_t sz = sizeof(buf);
    shm_client_id_t from = 0;

    TC_ASSERT_FAILS_WITH(shm_server_send_to(NULL, id, "x", 2), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, id, NULL, 2), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, id, "x", 0), SHM_ERROR_INVALID_PARAM);
    /* larger than the addressed ring takes (4096 - SHM_MESSAGE_OVERHEAD) */
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, id, big, 4096 - SHM_MESSAGE_OVERHEAD + 1),
                         SHM_ERROR_INVALID_PARAM);
    assert_int_equal(shm_server_send_to(s, id, big, 4096 - SHM_MESSAGE_OVERHEAD), SHM_SUCCESS);
    /* values no client id has: 0, a slot past max_readers, an epoch of 0 or
     * of more than 30 bits */
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, 0, "x", 2), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, (id & ~(uint64_t)0xFF) | 2u, "x", 2),
                         SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, ID_SLOT(id), "x", 2), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, id | ((uint64_t)1 << 38), "x", 2),
                         SHM_ERROR_INVALID_PARAM);
    /* a slot nobody holds */
    TC_ASSERT_FAILS_WITH(shm_server_send_to(s, (id & ~(uint64_t)0xFF) | (ID_SLOT(id) ^ 1u), "x", 2),
                         SHM_ERROR_NOT_CONNECTED);

    TC_ASSERT_FAILS_WITH(shm_server_receive_from(NULL, buf, &sz, &from), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_receive_from(s, buf, NULL, &from), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_receive_from(s, buf, &sz, NULL), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_receive_from(s, buf, &sz, &from), SHM_ERROR_EMPTY);
    assert_true(from == 0); /* left alone */
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* ---- two processes -------------------------------------------------------------------------- */

/* A client process: sends "req <token> <k>" for k < 20, and expects the
 * answer "rep <token> <k>" to each, addressed to it, and nothing else. */
static int helper_requester(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    shm_client_t *c = tc_connect_within(argv[1], 20000);
    if (!c) {
        fprintf(stderr, "requester: connect: %s\n", shm_strerror(shm_last_error()));
        return 3;
    }
    int rc = 0;
    for (int k = 0; k < 20 && rc == 0; k++) {
        char req[64], want[64], got[64];
        snprintf(req, sizeof(req), "req %s %d", argv[2], k);
        snprintf(want, sizeof(want), "rep %s %d", argv[2], k);
        uint32_t sz = sizeof(got);
        shm_error_t e = shm_client_send(c, req, (uint32_t)strlen(req) + 1);
        if (e == SHM_SUCCESS)
            e = shm_client_receive(c, got, &sz);
        if (e != SHM_SUCCESS) {
            fprintf(stderr, "requester %s: %d: %s\n", argv[2], k, shm_strerror(e));
            rc = 4;
        } else if (sz != strlen(want) + 1 || strcmp(got, want) != 0) {
            fprintf(stderr, "requester %s: got \"%.*s\", expected \"%s\"\n", argv[2], (int)sz,
                    got, want);
            rc = 5;
        }
    }
    shm_client_disconnect(c);
    return rc;
}

/* Two client processes ask, the server answers each through send_to to the
 * id receive_from gave: each gets exactly its own answers. */
static void test_request_reply_two_processes(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "addr-rr");
    shm_ring_config_t cfg = tc_config(64u * 1024u, 2, true, 20000);
    shm_server_t *s = tc_server_config(name, &cfg);
    tl_server(s);
    const char *tokens[2] = {"alpha", "beta"};
    tp_child_t *kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = tl_child();
        assert_non_null(kids[k]);
        const char *args[] = {name, tokens[k], NULL};
        assert_int_equal(tp_spawn_self(kids[k], "requester", args), 0);
    }
    for (int n = 0; n < 40; n++) {
        char buf[64], rep[64];
        uint32_t sz = sizeof(buf);
        shm_client_id_t from = 0;
        assert_int_equal(shm_server_receive_from(s, buf, &sz, &from), SHM_SUCCESS);
        assert_true(sz > 4 && buf[sz - 1] == '\0' && strncmp(buf, "req ", 4) == 0);
        snprintf(rep, sizeof(rep), "rep %s", buf + 4);
        assert_int_equal(shm_server_send_to(s, from, rep, (uint32_t)strlen(rep) + 1), SHM_SUCCESS);
    }
    for (int k = 0; k < 2; k++)
        assert_int_equal(tc_exit_code(kids[k], 20000, "requester"), 0);
    tl_server_destroy(s);
}

/* ---- main -------------------------------------------------------------------------------- */

static const tp_helper_t helpers[] = {
    {"requester", helper_requester},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids_unique_across_reuse),
        cmocka_unit_test(test_event_ids_match_receive_from),
        cmocka_unit_test(test_attribution_after_slot_reuse),
        cmocka_unit_test(test_send_to_reaches_only_its_client),
        cmocka_unit_test(test_stale_id_not_connected),
        cmocka_unit_test(test_addressed_loss_exact),
        cmocka_unit_test_teardown(test_blocked_client_woken_by_send_to, tl_teardown),
        cmocka_unit_test(test_invalid_params),
        cmocka_unit_test_teardown(test_request_reply_two_processes, tl_teardown),
    };
    return tr_main(argc, argv, helpers, tests, sizeof(tests) / sizeof(tests[0]));
}
