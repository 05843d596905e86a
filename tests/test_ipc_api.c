/*
 * test_ipc_api.c - the public API's contract apart from any traffic:
 * constants and version, error codes and texts, argument checks,
 * shm_last_error, ring configs, the convenience macros, and the calls on an
 * endpoint that is closing or detached.
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
#include "testchan.h"
#include "testevlog.h"
#include "testmsg.h"
#include "testproc.h"
#include "testrun.h"

/* ---- API constants, errors, version ---------------------------------------------- */

static void test_constants_and_version(void **state)
{
    (void)state;
    assert_int_equal(shm_version(), SHM_VERSION_NUMBER);
    assert_int_equal(SHM_VERSION_NUMBER,
                     SHM_VERSION_MAJOR * 10000 + SHM_VERSION_MINOR * 100 + SHM_VERSION_PATCH);
    /* The values of the original API. */
    assert_int_equal(SHM_SUCCESS, 0);
    assert_int_equal(SHM_ERROR_INVALID_PARAM, -1);
    assert_int_equal(SHM_ERROR_MEMORY, -2);
    assert_int_equal(SHM_ERROR_TIMEOUT, -3);
    assert_int_equal(SHM_ERROR_EMPTY, -4);
    assert_int_equal(SHM_ERROR_EXISTS, -5);
    assert_int_equal(SHM_ERROR_NOT_FOUND, -6);
    assert_int_equal(SHM_ERROR_ACCESS, -7);
    assert_int_equal(SHM_EVENT_DATA_AVAILABLE, 0);
    assert_int_equal(SHM_EVENT_SPACE_AVAILABLE, 1);
    assert_int_equal(SHM_EVENT_DISCONNECT, 2);
    assert_int_equal(SHM_EVENT_ERROR, 3);
    assert_int_equal(SHM_EVENT_CONNECT, 4);
    shm_ring_config_t d = SHM_DEFAULT_CONFIG();
    assert_int_equal(d.size, 4u * 1024u * 1024u);
    assert_int_equal(d.max_readers, 4);
    assert_true(d.blocking);
    assert_int_equal(d.timeout_ms, 5000);
}

static void test_strerror(void **state)
{
    (void)state;
    static const shm_error_t codes[] = {
#define CODE_(name, value, text) name,
        SHM_ERROR_MAP(CODE_)
#undef CODE_
    };
    static const char *const texts[] = {
#define TEXT_(name, value, text) text,
        SHM_ERROR_MAP(TEXT_)
#undef TEXT_
    };
    const size_t n = sizeof(codes) / sizeof(codes[0]);
    assert_int_equal(n, 15);
    assert_int_equal(SHM_ERROR_OVERWRITTEN, -14);
    assert_string_equal(shm_strerror(SHM_ERROR_OVERWRITTEN),
                        "the message was overwritten while its view was held");
    for (size_t i = 0; i < n; i++) {
        const char *t = shm_strerror(codes[i]);
        assert_non_null(t);
        assert_true(t[0] != '\0');
        assert_string_equal(t, texts[i]);
        assert_string_not_equal(t, "unknown error");
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(t, shm_strerror(codes[j]));
    }
    const int unknown[] = {1, 5, -15, -99, 1000, -1000000};
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        const char *t = shm_strerror((shm_error_t)unknown[i]);
        assert_non_null(t);
        assert_string_equal(t, "unknown error");
    }
}

/* ---- argument checks ------------------------------------------------------------- */

static void dummy_cb(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    (void)ud;
    (void)type;
    (void)data;
    (void)sz;
}

#define TC_ASSERT_FAILS_WITH(expr, code)                   \
    do {                                                \
        assert_int_equal((expr), (code));               \
        assert_int_equal(shm_last_error(), (code));     \
    } while (0)

static void test_null_arguments(void **state)
{
    (void)state;
    uint8_t buf[64];
    uint32_t sz = sizeof(buf);
    shm_stats_t st;
    shm_ring_config_t c = tc_config(4096, 1, false, 0);

    assert_null(shm_server_create(NULL, &c));
    assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
    assert_null(shm_client_connect(NULL));
    assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
    shm_server_destroy(NULL);
    shm_client_disconnect(NULL);

    TC_ASSERT_FAILS_WITH(shm_server_send(NULL, buf, 1), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_receive(NULL, buf, &sz), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_register_callback(NULL, dummy_cb, NULL),
                         SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_get_stats(NULL, &st), SHM_ERROR_INVALID_PARAM);
    assert_null(shm_server_tx_ring(NULL));
    TC_ASSERT_FAILS_WITH(shm_client_send(NULL, buf, 1), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_receive(NULL, buf, &sz), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_register_callback(NULL, dummy_cb, NULL),
                         SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_get_stats(NULL, &st), SHM_ERROR_INVALID_PARAM);
    assert_null(shm_client_tx_ring(NULL));
    assert_int_equal(shm_ring_available(NULL), 0);

    /* Valid endpoints, NULL in the other arguments. */
    char name[80];
    tp_unique_name(name, sizeof(name), "null");
    shm_server_t *s = tc_server_config(name, &c);
    assert_int_equal(shm_last_error(), SHM_SUCCESS);
    shm_client_t *cl = tc_client(name);
    assert_int_equal(shm_last_error(), SHM_SUCCESS);

    TC_ASSERT_FAILS_WITH(shm_server_send(s, NULL, 1), SHM_ERROR_INVALID_PARAM);
    sz = sizeof(buf);
    TC_ASSERT_FAILS_WITH(shm_server_receive(s, NULL, &sz), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_receive(s, buf, NULL), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_register_callback(s, NULL, NULL), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_get_stats(s, NULL), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_send(cl, NULL, 1), SHM_ERROR_INVALID_PARAM);
    sz = sizeof(buf);
    TC_ASSERT_FAILS_WITH(shm_client_receive(cl, NULL, &sz), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_receive(cl, buf, NULL), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_register_callback(cl, NULL, NULL), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_get_stats(cl, NULL), SHM_ERROR_INVALID_PARAM);
    assert_non_null(shm_server_tx_ring(s));
    assert_non_null(shm_client_tx_ring(cl));

    /* Nothing was sent by the failed calls. */
    sz = sizeof(buf);
    assert_int_equal(shm_client_receive(cl, buf, &sz), SHM_ERROR_EMPTY);
    sz = sizeof(buf);
    assert_int_equal(shm_server_receive(s, buf, &sz), SHM_ERROR_EMPTY);

    shm_client_disconnect(cl);
    shm_server_destroy(s);
}

/* shm_last_error is per thread. */
typedef struct last_error_probe {
    shm_error_t seen;
} last_error_probe_t;

static void probe_last_error(void *arg) { ((last_error_probe_t *)arg)->seen = shm_last_error(); }

static void test_last_error_thread_local(void **state)
{
    (void)state;
    assert_null(shm_server_create("", NULL));
    assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
    last_error_probe_t p = {SHM_ERROR_SYSTEM};
    plat_thread_t t;
    assert_int_equal(xshm_plat_thread_start(&t, probe_last_error, &p), SHM_SUCCESS);
    xshm_plat_thread_join(&t);
    assert_int_equal(p.seen, SHM_SUCCESS);
    assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
}

/* ---- ring configs ---------------------------------------------------------------- */

static void test_bad_config(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "cfg");
    const shm_ring_config_t bad[] = {
        tc_config(4097, 1, true, 100),                /* not a power of two */
        tc_config(3u << 20, 1, true, 100),            /* not a power of two */
        tc_config(0x80000001u, 1, true, 100),
        tc_config(SHM_MIN_RING_SIZE / 2, 1, true, 100), /* below the minimum */
        tc_config(1024, 1, true, 100),
        tc_config(0, 1, true, 100),
        tc_config(SHM_MAX_RING_SIZE * 2u, 1, true, 100), /* above the maximum */
        tc_config(4096, 0, true, 100),                /* no reader */
        tc_config(4096, SHM_MAX_READERS + 1, true, 100),
        tc_config(4096, UINT32_MAX, true, 100),
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_null(shm_server_create(name, &bad[i]));
        assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
    }
    /* The limits themselves are fine. */
    shm_ring_config_t ok = tc_config(SHM_MIN_RING_SIZE, SHM_MAX_READERS, true, 100);
    shm_server_t *s = tc_server_config(name, &ok);
    assert_int_equal(shm_last_error(), SHM_SUCCESS);
    shm_server_destroy(s);
    ok = tc_config(SHM_MIN_RING_SIZE, 1, false, 0);
    s = tc_server_config(name, &ok);
    shm_server_destroy(s);
    /* NULL config: the default one (4 MiB rings, 4 readers). */
    s = shm_server_create(name, NULL);
    assert_non_null(s);
    shm_client_t *c[4];
    for (int i = 0; i < 4; i++) {
        c[i] = shm_client_connect(name);
        assert_non_null(c[i]);
    }
    assert_null(shm_client_connect(name));
    assert_int_equal(shm_last_error(), SHM_ERROR_BUSY);
    /* 4 MiB rings take messages of SHM_MAX_MESSAGE_SIZE bytes. */
    uint8_t *msg = (uint8_t *)tc_malloc(SHM_MAX_MESSAGE_SIZE);
    memset(msg, 0x5A, SHM_MAX_MESSAGE_SIZE);
    assert_int_equal(shm_client_send(c[0], msg, SHM_MAX_MESSAGE_SIZE), SHM_SUCCESS);
    uint32_t sz = SHM_MAX_MESSAGE_SIZE;
    assert_int_equal(shm_server_receive(s, msg, &sz), SHM_SUCCESS);
    assert_int_equal(sz, SHM_MAX_MESSAGE_SIZE);
    free(msg);
    for (int i = 0; i < 4; i++)
        shm_client_disconnect(c[i]);
    shm_server_destroy(s);
}

/* ---- the convenience macros ------------------------------------------------------ */

typedef struct item {
    uint32_t id;
    char text[60];
} item_t;

static void test_struct_macros(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "structs");
    shm_server_t *server = tc_server(name);
    shm_client_t *client = tc_client(name);
    item_t a, b;
    memset(&a, 0, sizeof(a));
    a.id = 42;
    snprintf(a.text, sizeof(a.text), "to client");

    assert_int_equal(SHM_SEND_STRUCT(server, &a), SHM_SUCCESS);
    memset(&b, 0, sizeof(b));
    assert_int_equal(SHM_RECV_STRUCT(client, &b), SHM_SUCCESS);
    assert_memory_equal(&a, &b, sizeof(a));

    a.id = 43;
    snprintf(a.text, sizeof(a.text), "to server");
    assert_int_equal(SHM_SEND_STRUCT(client, &a), SHM_SUCCESS);
    memset(&b, 0, sizeof(b));
    assert_int_equal(SHM_RECV_STRUCT(server, &b), SHM_SUCCESS);
    assert_memory_equal(&a, &b, sizeof(a));

    /* Larger message: BUFFER_TOO_SMALL and the message stays. */
    uint8_t big[sizeof(item_t) + 8], out[sizeof(big)];
    tm_make(big, 9, sizeof(big));
    assert_int_equal(shm_server_send(server, big, sizeof(big)), SHM_SUCCESS);
    assert_int_equal(SHM_RECV_STRUCT(client, &b), SHM_ERROR_BUFFER_TOO_SMALL);
    uint32_t sz = sizeof(out);
    assert_int_equal(shm_client_receive(client, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, sizeof(big));
    assert_memory_equal(out, big, sizeof(big));
    assert_int_equal(shm_client_send(client, big, sizeof(big)), SHM_SUCCESS);
    assert_int_equal(SHM_RECV_STRUCT(server, &b), SHM_ERROR_BUFFER_TOO_SMALL);
    sz = sizeof(out);
    assert_int_equal(shm_server_receive(server, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, sizeof(big));

    /* Nothing there: the receive's own error. */
    assert_int_equal(SHM_RECV_STRUCT(server, &b), SHM_ERROR_EMPTY);
    assert_int_equal(SHM_RECV_STRUCT(client, &b), SHM_ERROR_EMPTY);

    /* A scalar works as well. */
    uint64_t v = 0x1122334455667788ull, w = 0;
    assert_int_equal(SHM_SEND_STRUCT(server, &v), SHM_SUCCESS);
    assert_int_equal(SHM_RECV_STRUCT(client, &w), SHM_SUCCESS);
    assert_true(v == w);

    /* Smaller message: INVALID_PARAM and the message is consumed. The macro
     * must read the received length after the receive call has set it. */
    shm_error_t rc_client, rc_server;
    assert_int_equal(shm_server_send(server, big, 10), SHM_SUCCESS);
    rc_client = SHM_RECV_STRUCT(client, &b);
    sz = sizeof(out);
    assert_int_equal(shm_client_receive(client, out, &sz), SHM_ERROR_EMPTY);
    assert_int_equal(shm_client_send(client, big, 10), SHM_SUCCESS);
    rc_server = SHM_RECV_STRUCT(server, &b);
    sz = sizeof(out);
    assert_int_equal(shm_server_receive(server, out, &sz), SHM_ERROR_EMPTY);

    shm_client_disconnect(client);
    assert_int_equal(SHM_SEND_STRUCT(server, &a), SHM_ERROR_NOT_CONNECTED);
    shm_server_destroy(server);
    if (rc_client != SHM_ERROR_INVALID_PARAM || rc_server != SHM_ERROR_INVALID_PARAM)
        fail_msg("SHM_RECV_STRUCT of a 10-byte message into a %u-byte struct gave "
                 "client %d / server %d, expected SHM_ERROR_INVALID_PARAM (%d)",
                 (unsigned)sizeof(item_t), (int)rc_client, (int)rc_server,
                 (int)SHM_ERROR_INVALID_PARAM);
}

static void test_setup_macros(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "setup");
    ev_log_t slog, clog;
    ev_init(&slog);
    ev_init(&clog);
    shm_server_t *s = SHM_SETUP_SERVER(name, ev_callback, &slog);
    assert_non_null(s);
    shm_client_t *c = SHM_SETUP_CLIENT(name, ev_callback, &clog);
    assert_non_null(c);
    assert_true(TP_WAIT_UNTIL(ev_count(&slog, SHM_EVENT_CONNECT) == 1, 5000));
    assert_true(TP_WAIT_UNTIL(ev_count(&clog, SHM_EVENT_CONNECT) == 1, 5000));
    ev_entry_t e;
    assert_true(ev_find(&clog, SHM_EVENT_CONNECT, 0, &e) >= 0);
    assert_int_equal(e.peer.pid, tc_self_pid()); /* the server: this process */
    assert_int_equal(e.peer.ptr_bits, TC_PTR_BITS);
    assert_true(ev_find(&slog, SHM_EVENT_CONNECT, 0, &e) >= 0);
    assert_int_equal(e.peer.pid, tc_self_pid());
    assert_int_equal(e.peer.ptr_bits, TC_PTR_BITS);
    assert_true(e.peer.slot < 4);

    /* The other convenience macros. */
    /* DATA_AVAILABLE is raised while the message is still unread. */
    char buf[16];
    uint32_t sz = sizeof(buf);
    assert_int_equal(SHM_SERVER_SEND(s, "hi", 3), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(ev_count(&clog, SHM_EVENT_DATA_AVAILABLE) >= 1, 5000));
    assert_int_equal(SHM_CLIENT_RECEIVE(c, buf, &sz), SHM_SUCCESS);
    assert_string_equal(buf, "hi");
    assert_int_equal(SHM_CLIENT_SEND(c, "ho", 3), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(ev_count(&slog, SHM_EVENT_DATA_AVAILABLE) >= 1, 5000));
    sz = sizeof(buf);
    assert_int_equal(SHM_SERVER_RECEIVE(s, buf, &sz), SHM_SUCCESS);
    assert_string_equal(buf, "ho");

    /* Server destroyed: the client sees DISCONNECT with the server's identity. */
    shm_server_destroy(s);
    assert_true(TP_WAIT_UNTIL(ev_count(&clog, SHM_EVENT_DISCONNECT) == 1, 5000));
    assert_true(ev_find(&clog, SHM_EVENT_DISCONNECT, 0, &e) >= 0);
    assert_int_equal(e.peer.pid, tc_self_pid());
    assert_int_equal(e.peer.ptr_bits, TC_PTR_BITS);
    assert_true(ev_find(&clog, SHM_EVENT_CONNECT, 0, NULL) <
                ev_find(&clog, SHM_EVENT_DISCONNECT, 0, NULL));
    shm_client_disconnect(c);
    assert_int_equal(ev_bad(&slog), 0);
    assert_int_equal(ev_bad(&clog), 0);
    assert_int_equal(ev_count(&clog, SHM_EVENT_SPACE_AVAILABLE), 0);
    assert_int_equal(ev_count(&clog, SHM_EVENT_ERROR), 0);
    assert_int_equal(ev_count(&slog, SHM_EVENT_ERROR), 0);

    /* Failures give NULL. */
    assert_null(SHM_SETUP_SERVER("bad name", ev_callback, &slog));
    assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
    assert_null(SHM_SETUP_CLIENT("bad/name", ev_callback, &clog));
    assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);

    /* SHM_CREATE_SERVER / SHM_CONNECT_CLIENT / SHM_*_ON_EVENT. */
    ev_log_t l2;
    ev_init(&l2);
    s = SHM_CREATE_SERVER(name);
    assert_non_null(s);
    c = SHM_CONNECT_CLIENT(name);
    assert_non_null(c);
    /* Registered after the client came: CONNECT is raised at once. */
    assert_int_equal(SHM_SERVER_ON_EVENT(s, ev_callback, &l2), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(ev_count(&l2, SHM_EVENT_CONNECT) == 1, 5000));
    assert_int_equal(SHM_CLIENT_ON_EVENT(c, dummy_cb, NULL), SHM_SUCCESS);
    shm_client_disconnect(c);
    assert_true(TP_WAIT_UNTIL(ev_count(&l2, SHM_EVENT_DISCONNECT) == 1, 5000));
    shm_server_destroy(s);
    assert_int_equal(ev_count(&l2, SHM_EVENT_CONNECT), 1);
    assert_int_equal(ev_bad(&l2), 0);
    ev_fini(&l2);
    ev_fini(&slog);
    ev_fini(&clog);
}

/* ---- shm_last_error, and calls on a closing or detached endpoint ----------------- */

/* shm_server_tx_ring / shm_client_tx_ring return a pointer: on success they
 * reset shm_last_error() to SHM_SUCCESS like the other such functions. */
static void test_tx_ring_resets_last_error(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "txring");
    shm_server_t *s = tc_server(name);
    shm_client_t *cl = tc_client(name);
    uint8_t b = 0;
    assert_int_equal(shm_server_send(s, &b, 0), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
    assert_non_null(shm_server_tx_ring(s));
    assert_int_equal(shm_last_error(), SHM_SUCCESS);
    uint32_t sz = 1;
    assert_int_equal(shm_client_receive(cl, &b, &sz), SHM_ERROR_EMPTY);
    assert_int_equal(shm_last_error(), SHM_ERROR_EMPTY);
    assert_non_null(shm_client_tx_ring(cl));
    assert_int_equal(shm_last_error(), SHM_SUCCESS);
    /* and a failure sets it */
    assert_null(shm_client_tx_ring(NULL));
    assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
    shm_client_disconnect(cl);
    shm_server_destroy(s);
}

/*
 * SHM_ERROR_CLOSED from the calls that list it: a call that runs while its
 * endpoint is being destroyed. Destroy (or disconnect) called from the
 * endpoint's own callback leaves the handle's memory in place until the
 * callback returns (the listener frees it then): the callback's calls after
 * it are such calls, deterministically.
 */
typedef struct closed_probe {
    shm_server_t *s;
    shm_client_t *c;
    uint32_t done; /* atomic */
    shm_error_t stats, reg, send, recv;
} closed_probe_t;

static void server_probe_closed(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    closed_probe_t *p = (closed_probe_t *)ud;
    (void)data;
    (void)sz;
    if (type != SHM_EVENT_CONNECT || xa_load32_acq(&p->done))
        return;
    shm_server_destroy(p->s);
    shm_stats_t st;
    char buf[8];
    uint32_t n = sizeof(buf);
    p->stats = shm_server_get_stats(p->s, &st);
    p->reg = shm_server_register_callback(p->s, dummy_cb, NULL);
    p->send = shm_server_send(p->s, "x", 2);
    p->recv = shm_server_receive(p->s, buf, &n);
    xa_store32_rel(&p->done, 1);
}

static void client_probe_closed(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    closed_probe_t *p = (closed_probe_t *)ud;
    (void)data;
    (void)sz;
    if (type != SHM_EVENT_CONNECT || xa_load32_acq(&p->done))
        return;
    shm_client_disconnect(p->c);
    shm_stats_t st;
    char buf[8];
    uint32_t n = sizeof(buf);
    p->stats = shm_client_get_stats(p->c, &st);
    p->reg = shm_client_register_callback(p->c, dummy_cb, NULL);
    p->send = shm_client_send(p->c, "x", 2);
    p->recv = shm_client_receive(p->c, buf, &n);
    xa_store32_rel(&p->done, 1);
}

static void test_errors_closed(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "closed");
    shm_ring_config_t c = tc_config(4096, 1, true, 20000);
    closed_probe_t p;
    memset(&p, 0, sizeof(p));
    p.s = tc_server_config(name, &c);
    shm_client_t *cl = tc_client(name);
    assert_int_equal(shm_server_register_callback(p.s, server_probe_closed, &p), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(xa_load32_acq(&p.done) == 1, 10000));
    assert_int_equal(p.stats, SHM_ERROR_CLOSED);
    assert_int_equal(p.reg, SHM_ERROR_CLOSED);
    assert_int_equal(p.send, SHM_ERROR_CLOSED);
    assert_int_equal(p.recv, SHM_ERROR_CLOSED);
    shm_client_disconnect(cl);

    shm_server_t *s = tc_server_config(name, &c);
    memset(&p, 0, sizeof(p));
    p.c = tc_client(name);
    assert_int_equal(shm_client_register_callback(p.c, client_probe_closed, &p), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(xa_load32_acq(&p.done) == 1, 10000));
    assert_int_equal(p.stats, SHM_ERROR_CLOSED);
    assert_int_equal(p.reg, SHM_ERROR_CLOSED);
    assert_int_equal(p.send, SHM_ERROR_CLOSED);
    assert_int_equal(p.recv, SHM_ERROR_CLOSED);
    assert_true(TP_WAIT_UNTIL(tc_server_connected(s) == 0, 10000));
    shm_server_destroy(s);
}

/* After a failed shm_client_reconnect every call that lists it returns
 * SHM_ERROR_NOT_CONNECTED, shm_client_register_callback included. */
static void test_errors_detached_client(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "detached");
    shm_server_t *s = tc_server(name);
    shm_client_t *cl = tc_client(name);
    shm_server_destroy(s);
    TC_ASSERT_FAILS_WITH(shm_client_reconnect(cl), SHM_ERROR_NOT_FOUND);
    TC_ASSERT_FAILS_WITH(shm_client_register_callback(cl, dummy_cb, NULL), SHM_ERROR_NOT_CONNECTED);
    TC_ASSERT_FAILS_WITH(shm_client_send(cl, "x", 2), SHM_ERROR_NOT_CONNECTED);
    char buf[8];
    uint32_t sz = sizeof(buf);
    TC_ASSERT_FAILS_WITH(shm_client_receive(cl, buf, &sz), SHM_ERROR_NOT_CONNECTED);
    shm_stats_t st;
    TC_ASSERT_FAILS_WITH(shm_client_get_stats(cl, &st), SHM_ERROR_NOT_CONNECTED);
    /* A server again: the same handle joins it. */
    s = tc_server(name);
    assert_int_equal(shm_client_reconnect(cl), SHM_SUCCESS);
    assert_int_equal(shm_client_register_callback(cl, dummy_cb, NULL), SHM_SUCCESS);
    tc_pass_to_server(s, cl, "y");
    shm_client_disconnect(cl);
    shm_server_destroy(s);
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_constants_and_version),
        cmocka_unit_test(test_strerror),
        cmocka_unit_test(test_null_arguments),
        cmocka_unit_test(test_last_error_thread_local),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_struct_macros),
        cmocka_unit_test(test_setup_macros),
        cmocka_unit_test(test_tx_ring_resets_last_error),
        cmocka_unit_test(test_errors_closed),
        cmocka_unit_test(test_errors_detached_client),
    };
    return tr_main(argc, argv, NULL, tests, sizeof(tests) / sizeof(tests[0]));
}
