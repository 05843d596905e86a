/*
 * test_zerocopy.c - zero-copy send (reserve, commit, abort) and receive
 * (receive_view, release) through a channel: their errors, the BUSY rules
 * of one reservation and one view per endpoint, a commit shorter than its
 * reservation, an abort followed by a send, a release after the writer
 * lapped the view (SHM_ERROR_OVERWRITTEN, the message counted lost), the
 * same sequence and loss accounting as the copying receive, blocking and
 * timeouts, destroy with a reservation or a view open, and an exchange
 * across two processes.
 *
 * Helper processes are copies of this program started with
 * "--helper <name> ..." (tests/support/testproc.h).
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
#include "testchan.h"
#include "testmsg.h"
#include "testproc.h"
#include "testrun.h"

/* Reserve `len` bytes on the server, fill them with message `seq`, commit
 * `len` bytes. */
static void server_zc_send(shm_server_t *s, uint64_t seq, uint32_t len)
{
    void *p = NULL;
    assert_int_equal(shm_server_reserve(s, len, &p), SHM_SUCCESS);
    assert_non_null(p);
    tm_make((uint8_t *)p, seq, len);
    assert_int_equal(shm_server_commit(s, p, len), SHM_SUCCESS);
}

static void client_send_msg(shm_client_t *c, uint64_t seq, uint32_t len)
{
    uint8_t buf[4096];
    assert_true(len <= sizeof(buf));
    tm_make(buf, seq, len);
    assert_int_equal(shm_client_send(c, buf, len), SHM_SUCCESS);
}

static void server_send_msg(shm_server_t *s, uint64_t seq, uint32_t len)
{
    uint8_t buf[4096];
    assert_true(len <= sizeof(buf));
    tm_make(buf, seq, len);
    assert_int_equal(shm_server_send(s, buf, len), SHM_SUCCESS);
}

static void client_stats(shm_client_t *c, shm_stats_t *st)
{
    assert_int_equal(shm_client_get_stats(c, st), SHM_SUCCESS);
}

/* ---- reserve, commit, abort -------------------------------------------------------- */

static void test_reserve_commit(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "zc-commit");
    shm_server_t *s = tc_server(name);
    shm_client_t *c = tc_client(name);
    uint8_t out[4096];

    /* server -> client, committed at the reserved size and shorter */
    server_zc_send(s, 1, 100);
    void *p = NULL;
    assert_int_equal(shm_server_reserve(s, 200, &p), SHM_SUCCESS);
    tm_make((uint8_t *)p, 2, 60);
    assert_int_equal(shm_server_commit(s, p, 60), SHM_SUCCESS);
    uint32_t sz = sizeof(out);
    assert_int_equal(shm_client_receive(c, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, 100);
    assert_true(tm_check(out, 1, 100));
    sz = sizeof(out);
    assert_int_equal(shm_client_receive(c, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, 60);
    assert_true(tm_check(out, 2, 60));
    sz = sizeof(out);
    assert_int_equal(shm_client_receive(c, out, &sz), SHM_ERROR_EMPTY);

    /* client -> server */
    assert_int_equal(shm_client_reserve(c, 300, &p), SHM_SUCCESS);
    tm_make((uint8_t *)p, 3, 300);
    assert_int_equal(shm_client_commit(c, p, 300), SHM_SUCCESS);
    sz = sizeof(out);
    assert_int_equal(shm_server_receive(s, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, 300);
    assert_true(tm_check(out, 3, 300));

    /* the largest message the ring takes, then one more byte */
    uint32_t max = 4096 - SHM_MESSAGE_OVERHEAD;
    assert_int_equal(shm_server_reserve(s, max, &p), SHM_SUCCESS);
    tm_make((uint8_t *)p, 4, max);
    assert_int_equal(shm_server_commit(s, p, max), SHM_SUCCESS);
    sz = sizeof(out);
    assert_int_equal(shm_client_receive(c, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, max);
    assert_true(tm_check(out, 4, max));
    TC_ASSERT_FAILS_WITH(shm_server_reserve(s, max + 1, &p), SHM_ERROR_INVALID_PARAM);

    shm_stats_t st;
    client_stats(c, &st);
    assert_int_equal(st.messages_received, 3);
    assert_int_equal(st.messages_lost, 0);
    assert_int_equal(st.messages_sent, 1);
    assert_int_equal(st.bytes_sent, 300);
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

static void test_reserve_errors_and_busy(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "zc-busy");
    shm_server_t *s = tc_server(name);
    void *p = NULL, *q = NULL;
    uint8_t msg[16] = {1, 2, 3};

    /* no client yet: nothing is reserved */
    TC_ASSERT_FAILS_WITH(shm_server_reserve(s, 10, &p), SHM_ERROR_NOT_CONNECTED);
    shm_client_t *c = tc_client(name);

    TC_ASSERT_FAILS_WITH(shm_server_reserve(NULL, 10, &p), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_reserve(s, 10, NULL), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_reserve(s, 0, &p), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_reserve(NULL, 10, &p), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_reserve(c, 0, &p), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_reserve(c, SHM_MAX_MESSAGE_SIZE + 1, &p),
                         SHM_ERROR_INVALID_PARAM);
    /* nothing open */
    TC_ASSERT_FAILS_WITH(shm_server_commit(s, msg, 1), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_abort(s, msg), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_commit(c, msg, 1), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_abort(c, msg), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_commit(NULL, msg, 1), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_abort(NULL, msg), SHM_ERROR_INVALID_PARAM);

    /* one open: every other send and reserve is BUSY, at once */
    assert_int_equal(shm_server_reserve(s, 64, &p), SHM_SUCCESS);
    TC_ASSERT_FAILS_WITH(shm_server_reserve(s, 8, &q), SHM_ERROR_BUSY);
    TC_ASSERT_FAILS_WITH(shm_server_send(s, msg, sizeof(msg)), SHM_ERROR_BUSY);
    /* wrong pointer, size 0, larger than reserved: refused, still open */
    TC_ASSERT_FAILS_WITH(shm_server_commit(s, (uint8_t *)p + 8, 8), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_commit(s, NULL, 8), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_commit(s, p, 0), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_commit(s, p, 65), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_abort(s, msg), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_reserve(s, 8, &q), SHM_ERROR_BUSY);
    tm_make((uint8_t *)p, 9, 64);
    assert_int_equal(shm_server_commit(s, p, 64), SHM_SUCCESS);
    TC_ASSERT_FAILS_WITH(shm_server_commit(s, p, 64), SHM_ERROR_INVALID_PARAM); /* closed */
    assert_int_equal(shm_server_send(s, msg, sizeof(msg)), SHM_SUCCESS);

    /* the same on the client */
    assert_int_equal(shm_client_reserve(c, 32, &p), SHM_SUCCESS);
    TC_ASSERT_FAILS_WITH(shm_client_reserve(c, 8, &q), SHM_ERROR_BUSY);
    TC_ASSERT_FAILS_WITH(shm_client_send(c, msg, sizeof(msg)), SHM_ERROR_BUSY);
    TC_ASSERT_FAILS_WITH(shm_client_commit(c, p, 33), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(shm_client_abort(c, p), SHM_SUCCESS);
    TC_ASSERT_FAILS_WITH(shm_client_abort(c, p), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(shm_client_send(c, msg, sizeof(msg)), SHM_SUCCESS);

    uint8_t out[256];
    uint32_t sz = sizeof(out);
    assert_int_equal(shm_client_receive(c, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, 64);
    assert_true(tm_check(out, 9, 64));
    sz = sizeof(out);
    assert_int_equal(shm_client_receive(c, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, sizeof(msg));
    sz = sizeof(out);
    assert_int_equal(shm_server_receive(s, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, sizeof(msg));
    assert_memory_equal(out, msg, sizeof(msg));
    sz = sizeof(out);
    assert_int_equal(shm_server_receive(s, out, &sz), SHM_ERROR_EMPTY);
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* A reservation open in one thread: a send from another thread returns
 * SHM_ERROR_BUSY at once (no lock is held between the calls). */
typedef struct busy_arg {
    shm_server_t *s;
    shm_error_t send, reserve;
} busy_arg_t;

static void busy_thread(void *arg)
{
    busy_arg_t *a = (busy_arg_t *)arg;
    uint8_t m[8] = {0};
    void *p = NULL;
    a->send = shm_server_send(a->s, m, sizeof(m));
    a->reserve = shm_server_reserve(a->s, 8, &p);
}

static void test_busy_from_another_thread(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "zc-thread");
    shm_server_t *s = tc_server(name);
    shm_client_t *c = tc_client(name);
    void *p = NULL;
    assert_int_equal(shm_server_reserve(s, 40, &p), SHM_SUCCESS);
    busy_arg_t a = {s, SHM_SUCCESS, SHM_SUCCESS};
    plat_thread_t t;
    assert_int_equal(xshm_plat_thread_start(&t, busy_thread, &a), SHM_SUCCESS);
    xshm_plat_thread_join(&t);
    assert_int_equal(a.send, SHM_ERROR_BUSY);
    assert_int_equal(a.reserve, SHM_ERROR_BUSY);
    tm_make((uint8_t *)p, 5, 40);
    assert_int_equal(shm_server_commit(s, p, 40), SHM_SUCCESS);
    uint8_t out[64];
    uint32_t sz = sizeof(out);
    assert_int_equal(shm_client_receive(c, out, &sz), SHM_SUCCESS);
    assert_true(sz == 40 && tm_check(out, 5, 40));
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* An abort sends nothing and uses no sequence number: the next message
 * arrives without a loss, also when the aborted record had to go to the
 * next lap behind a padding record. */
static void test_abort_then_send(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "zc-abort");
    shm_server_t *s = tc_server(name);
    shm_client_t *c = tc_client(name);
    uint8_t out[4096];
    uint64_t seq = 0;
    for (int round = 0; round < 40; round++) {
        void *p = NULL;
        /* sizes that leave every kind of remainder at the end of the ring */
        uint32_t len = 300u + (uint32_t)round * 97u % 1500u;
        assert_int_equal(shm_server_reserve(s, len, &p), SHM_SUCCESS);
        memset(p, 0xEE, len);
        assert_int_equal(shm_server_abort(s, p), SHM_SUCCESS);
        uint32_t sz = sizeof(out);
        assert_int_equal(shm_client_receive(c, out, &sz), SHM_ERROR_EMPTY);
        uint32_t mlen = 100u + (uint32_t)round * 53u % 900u;
        server_send_msg(s, seq, mlen);
        sz = sizeof(out);
        assert_int_equal(shm_client_receive(c, out, &sz), SHM_SUCCESS);
        assert_int_equal(sz, mlen);
        assert_true(tm_check(out, seq, mlen));
        seq++;
    }
    shm_stats_t st;
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_sent, seq);
    client_stats(c, &st);
    assert_int_equal(st.messages_received, seq);
    assert_int_equal(st.messages_lost, 0);
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* ---- receive_view, release ----------------------------------------------------------- */

static void test_view_release(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "zc-view");
    shm_server_t *s = tc_server(name);
    shm_client_t *c = tc_client(name);
    shm_view_t v, w;
    uint8_t out[256];

    TC_ASSERT_FAILS_WITH(shm_client_receive_view(NULL, &v), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_receive_view(c, NULL), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_receive_view(s, NULL), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_receive_view(c, &v), SHM_ERROR_EMPTY);
    TC_ASSERT_FAILS_WITH(shm_server_receive_view(s, &v), SHM_ERROR_EMPTY);

    for (uint64_t k = 0; k < 3; k++)
        server_send_msg(s, k, 50 + (uint32_t)k);
    assert_int_equal(shm_client_receive_view(c, &v), SHM_SUCCESS);
    assert_int_equal(v.size, 50);
    assert_true(tm_check((const uint8_t *)v.data, 0, 50));
    assert_int_equal(v.from, 0);
    assert_int_equal(v.reserved, 0);
    /* one view at a time: receives are BUSY until it is released */
    TC_ASSERT_FAILS_WITH(shm_client_receive_view(c, &w), SHM_ERROR_BUSY);
    uint32_t sz = sizeof(out);
    TC_ASSERT_FAILS_WITH(shm_client_receive(c, out, &sz), SHM_ERROR_BUSY);
    /* a view that is not the open one */
    w = v;
    w.internal[0] += 8;
    TC_ASSERT_FAILS_WITH(shm_client_release(c, &w), SHM_ERROR_INVALID_PARAM);
    w = v;
    w.internal[1] = 3;
    TC_ASSERT_FAILS_WITH(shm_client_release(c, &w), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_release(NULL, &v), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_release(c, NULL), SHM_ERROR_INVALID_PARAM);
    shm_stats_t st;
    client_stats(c, &st);
    assert_int_equal(st.messages_received, 0); /* counted at the release */
    assert_int_equal(shm_client_release(c, &v), SHM_SUCCESS);
    TC_ASSERT_FAILS_WITH(shm_client_release(c, &v), SHM_ERROR_INVALID_PARAM); /* closed */
    client_stats(c, &st);
    assert_int_equal(st.messages_received, 1);
    assert_int_equal(st.bytes_received, 50);
    /* copy and view mixed, in order */
    sz = sizeof(out);
    assert_int_equal(shm_client_receive(c, out, &sz), SHM_SUCCESS);
    assert_true(sz == 51 && tm_check(out, 1, 51));
    assert_int_equal(shm_client_receive_view(c, &v), SHM_SUCCESS);
    assert_true(v.size == 52 && tm_check((const uint8_t *)v.data, 2, 52));
    assert_int_equal(shm_client_release(c, &v), SHM_SUCCESS);
    TC_ASSERT_FAILS_WITH(shm_client_receive_view(c, &v), SHM_ERROR_EMPTY);

    /* the server's view names the client */
    client_send_msg(c, 7, 70);
    assert_int_equal(shm_server_receive_view(s, &v), SHM_SUCCESS);
    assert_true(v.size == 70 && tm_check((const uint8_t *)v.data, 7, 70));
    assert_int_equal(v.from & 0xFFu, 0);       /* slot 0 */
    assert_true((v.from >> 8) >= 1);           /* its claim epoch */
    assert_int_equal(v.internal[1], 1);        /* ring 1 */
    client_send_msg(c, 8, 80);
    TC_ASSERT_FAILS_WITH(shm_server_receive_view(s, &w), SHM_ERROR_BUSY);
    sz = sizeof(out);
    TC_ASSERT_FAILS_WITH(shm_server_receive(s, out, &sz), SHM_ERROR_BUSY);
    w = v;
    w.internal[1] = 0;
    TC_ASSERT_FAILS_WITH(shm_server_release(s, &w), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_release(NULL, &v), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(shm_server_release(s, &v), SHM_SUCCESS);
    sz = sizeof(out);
    assert_int_equal(shm_server_receive(s, out, &sz), SHM_SUCCESS);
    assert_true(sz == 80 && tm_check(out, 8, 80));
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_received, 2);
    assert_int_equal(st.messages_lost, 0);
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* The writer laps a view while it is held: the release says so, the message
 * counts as lost and not received, and the reader goes on from the oldest
 * intact message with exact accounting. */
static void test_release_after_lap(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "zc-lap");
    shm_server_t *s = tc_server(name); /* 4096-byte rings */
    shm_client_t *c = tc_client(name);
    shm_view_t v;
    uint64_t seq = 0;
    server_send_msg(s, seq++, 1000);
    assert_int_equal(shm_client_receive_view(c, &v), SHM_SUCCESS);
    assert_true(tm_check((const uint8_t *)v.data, 0, 1000));
    for (int k = 0; k < 5; k++)
        server_send_msg(s, seq++, 1000); /* 5 x 1024 bytes: a lap */
    TC_ASSERT_FAILS_WITH(shm_client_release(c, &v), SHM_ERROR_OVERWRITTEN);
    shm_stats_t st;
    client_stats(c, &st);
    assert_int_equal(st.messages_received, 0);
    assert_true(st.messages_lost >= 1);
    TC_ASSERT_FAILS_WITH(shm_client_release(c, &v), SHM_ERROR_INVALID_PARAM);
    /* the rest, by view */
    uint64_t last = 0;
    while (shm_client_receive_view(c, &v) == SHM_SUCCESS) {
        assert_int_equal(v.size, 1000);
        assert_int_equal(shm_client_release(c, &v), SHM_SUCCESS);
        last++;
    }
    client_stats(c, &st);
    assert_int_equal(st.messages_received, last);
    assert_int_equal(st.messages_received + st.messages_lost, seq);
    assert_true(last >= 2);

    /* the same on the server's side, a client's ring lapped */
    client_send_msg(c, 100, 1000);
    assert_int_equal(shm_server_receive_view(s, &v), SHM_SUCCESS);
    for (int k = 0; k < 5; k++)
        client_send_msg(c, 101 + (uint64_t)k, 1000);
    TC_ASSERT_FAILS_WITH(shm_server_release(s, &v), SHM_ERROR_OVERWRITTEN);
    uint8_t out[1024];
    uint32_t sz = sizeof(out);
    uint64_t got = 0;
    while (sz = sizeof(out), shm_server_receive(s, out, &sz) == SHM_SUCCESS)
        got++;
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_received, got);
    assert_int_equal(st.messages_received + st.messages_lost, 6);
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* Two clients read the same stream, which overwrites, one by copies and one
 * by views released at once: the same messages, sequence numbers and
 * counts. */
static void test_view_accounting_matches_copy(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "zc-acct");
    shm_ring_config_t cfg = tc_config(4096, 2, false, 0);
    shm_server_t *s = tc_server_config(name, &cfg);
    shm_client_t *a = tc_client(name);
    shm_client_t *b = tc_client(name);
    uint8_t out[4096];
    uint64_t seq = 0;
    for (int round = 0; round < 50; round++) {
        int burst = 1 + round % 9;
        for (int k = 0; k < burst; k++) {
            uint32_t len = 40u + (uint32_t)((seq * 131u) % 700u);
            server_send_msg(s, seq, len);
            seq++;
        }
        int reads = 1 + round % 4;
        for (int k = 0; k < reads; k++) {
            uint32_t sz = sizeof(out);
            shm_error_t ea = shm_client_receive(a, out, &sz);
            shm_view_t v;
            shm_error_t eb = shm_client_receive_view(b, &v);
            assert_int_equal(ea, eb);
            if (ea != SHM_SUCCESS)
                break;
            assert_int_equal(sz, v.size);
            assert_memory_equal(out, v.data, sz);
            assert_int_equal(shm_client_release(b, &v), SHM_SUCCESS);
            shm_stats_t sa, sb;
            client_stats(a, &sa);
            client_stats(b, &sb);
            assert_int_equal(sa.messages_received, sb.messages_received);
            assert_int_equal(sa.messages_lost, sb.messages_lost);
            assert_int_equal(sa.bytes_received, sb.bytes_received);
        }
    }
    shm_stats_t sa, sb;
    client_stats(a, &sa);
    client_stats(b, &sb);
    assert_true(sa.messages_lost > 0); /* the stream did overwrite */
    shm_client_disconnect(a);
    shm_client_disconnect(b);
    shm_server_destroy(s);
}

static void test_view_blocking(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "zc-block");
    shm_ring_config_t cfg = tc_config(4096, 1, true, 50);
    shm_server_t *s = tc_server_config(name, &cfg);
    shm_client_t *c = tc_client(name);
    shm_view_t v;
    uint64_t t0 = tc_now_ms();
    TC_ASSERT_FAILS_WITH(shm_client_receive_view(c, &v), SHM_ERROR_TIMEOUT);
    TC_ASSERT_FAILS_WITH(shm_server_receive_view(s, &v), SHM_ERROR_TIMEOUT);
    assert_true(tc_now_ms() - t0 >= 90);
    server_send_msg(s, 3, 33);
    assert_int_equal(shm_client_receive_view(c, &v), SHM_SUCCESS);
    assert_true(v.size == 33 && tm_check((const uint8_t *)v.data, 3, 33));
    /* BUSY at once, not after the timeout */
    TC_ASSERT_FAILS_WITH(shm_client_receive_view(c, &v), SHM_ERROR_BUSY);
    /* the server goes: the open view stays releasable, then NOT_CONNECTED */
    shm_server_destroy(s);
    assert_int_equal(shm_client_release(c, &v), SHM_SUCCESS);
    TC_ASSERT_FAILS_WITH(shm_client_receive_view(c, &v), SHM_ERROR_NOT_CONNECTED);
    void *p = NULL;
    TC_ASSERT_FAILS_WITH(shm_client_reserve(c, 8, &p), SHM_ERROR_NOT_CONNECTED);
    shm_client_disconnect(c);
}

/* Destroy and disconnect with a reservation and a view open: nothing is
 * published, nothing is touched after the unmap (ASan checks). */
static void test_destroy_with_open(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "zc-destroy");
    shm_server_t *s = tc_server(name);
    shm_client_t *c = tc_client(name);
    client_send_msg(c, 1, 10);
    server_send_msg(s, 2, 20);
    shm_view_t sv, cv;
    void *sp = NULL, *cp = NULL;
    assert_int_equal(shm_server_receive_view(s, &sv), SHM_SUCCESS);
    assert_int_equal(shm_client_receive_view(c, &cv), SHM_SUCCESS);
    assert_int_equal(shm_server_reserve(s, 100, &sp), SHM_SUCCESS);
    assert_int_equal(shm_client_reserve(c, 100, &cp), SHM_SUCCESS);
    shm_client_disconnect(c);
    shm_server_destroy(s);

    /* a reconnect drops them too */
    tp_unique_name(name, sizeof(name), "zc-reconnect");
    s = tc_server(name);
    c = tc_client(name);
    server_send_msg(s, 3, 30);
    assert_int_equal(shm_client_receive_view(c, &cv), SHM_SUCCESS);
    assert_int_equal(shm_client_reserve(c, 100, &cp), SHM_SUCCESS);
    assert_int_equal(shm_client_reconnect(c), SHM_SUCCESS);
    TC_ASSERT_FAILS_WITH(shm_client_release(c, &cv), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_commit(c, cp, 10), SHM_ERROR_INVALID_PARAM);
    client_send_msg(c, 4, 40);
    uint8_t out[64];
    uint32_t sz = sizeof(out);
    assert_int_equal(shm_server_receive(s, out, &sz), SHM_SUCCESS);
    assert_true(sz == 40 && tm_check(out, 4, 40));
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* ---- two processes -------------------------------------------------------------------- */

static uint32_t zc_size(uint64_t seq) { return 1u + (uint32_t)((seq * 2654435761u) % 20000u); }

/* The helper client: receives each message by view, checks it, answers it
 * by reserve/commit with the same bytes, then releases the view. */
static int helper_zc_echo(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    uint64_t count = strtoull(argv[2], NULL, 10);
    shm_client_t *c = tc_connect_within(argv[1], 20000);
    if (!c) {
        fprintf(stderr, "zc_echo: connect: %s\n", shm_strerror(shm_last_error()));
        return 3;
    }
    int rc = 0;
    for (uint64_t seq = 0; seq < count && rc == 0; seq++) {
        shm_view_t v;
        void *p = NULL;
        shm_error_t r = shm_client_receive_view(c, &v);
        if (r != SHM_SUCCESS) {
            fprintf(stderr, "zc_echo: view %llu: %s\n", (unsigned long long)seq, shm_strerror(r));
            rc = 4;
        } else if (v.size != zc_size(seq) || !tm_check((const uint8_t *)v.data, seq, v.size)) {
            fprintf(stderr, "zc_echo: message %llu: bad content or size\n",
                    (unsigned long long)seq);
            rc = 5;
        } else if ((r = shm_client_reserve(c, v.size, &p)) != SHM_SUCCESS) {
            rc = 6;
        } else {
            memcpy(p, v.data, v.size);
            if ((r = shm_client_release(c, &v)) != SHM_SUCCESS) {
                fprintf(stderr, "zc_echo: release %llu: %s\n", (unsigned long long)seq,
                        shm_strerror(r));
                rc = 7;
                shm_client_abort(c, p);
            } else if (shm_client_commit(c, p, v.size) != SHM_SUCCESS) {
                rc = 8;
            }
        }
    }
    shm_stats_t st;
    if (rc == 0 && (shm_client_get_stats(c, &st) != SHM_SUCCESS || st.messages_lost != 0 ||
                    st.messages_received != count || st.messages_sent != count))
        rc = 9;
    shm_client_disconnect(c);
    return rc;
}

static void test_two_processes(void **state)
{
    (void)state;
    const uint64_t count = 2000;
    char name[80], count_s[32];
    tp_unique_name(name, sizeof(name), "zc-2p");
    snprintf(count_s, sizeof(count_s), "%llu", (unsigned long long)count);
    shm_ring_config_t cfg = tc_config(1u << 20, 1, true, 10000);
    shm_server_t *s = tc_server_config(name, &cfg);
    tp_child_t child;
    const char *args[] = {name, count_s, NULL};
    assert_int_equal(tp_spawn_self(&child, "zc_echo", args), 0);
    bool ok = TP_WAIT_UNTIL(tc_server_connected(s) == 1, 20000);
    if (!ok)
        tp_kill(&child);
    assert_true(ok);
    shm_error_t fail = SHM_SUCCESS;
    uint64_t bad = 0;
    for (uint64_t seq = 0; seq < count && fail == SHM_SUCCESS && bad == 0; seq++) {
        void *p = NULL;
        uint32_t len = zc_size(seq);
        fail = shm_server_reserve(s, len, &p);
        if (fail != SHM_SUCCESS)
            break;
        tm_make((uint8_t *)p, seq, len);
        fail = shm_server_commit(s, p, len);
        shm_view_t v;
        if (fail == SHM_SUCCESS)
            fail = shm_server_receive_view(s, &v);
        if (fail != SHM_SUCCESS)
            break;
        if (v.size != len || !tm_check((const uint8_t *)v.data, seq, len) || (v.from & 0xFFu) != 0)
            bad++;
        fail = shm_server_release(s, &v);
    }
    int code = tc_exit_code(&child, 30000, "zc_echo helper");
    shm_stats_t st;
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    shm_server_destroy(s);
    if (fail != SHM_SUCCESS)
        fail_msg("server: %s", shm_strerror(fail));
    assert_int_equal(bad, 0);
    assert_int_equal(code, 0);
    assert_int_equal(st.messages_received, count);
    assert_int_equal(st.messages_lost, 0);
}

/* ---- main ------------------------------------------------------------------------ */

static const tp_helper_t helpers[] = {
    {"zc_echo", helper_zc_echo},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserve_commit),
        cmocka_unit_test(test_reserve_errors_and_busy),
        cmocka_unit_test(test_busy_from_another_thread),
        cmocka_unit_test(test_abort_then_send),
        cmocka_unit_test(test_view_release),
        cmocka_unit_test(test_release_after_lap),
        cmocka_unit_test(test_view_accounting_matches_copy),
        cmocka_unit_test(test_view_blocking),
        cmocka_unit_test(test_destroy_with_open),
        cmocka_unit_test(test_two_processes),
    };
    return tr_main(argc, argv, helpers, tests, sizeof(tests) / sizeof(tests[0]));
}
