/*
 * test_ipc_stats.c - statistics and ring monitoring: shm_*_get_stats and
 * shm_ring_available, with and without loss, for one and two clients, and
 * a client's counts since it connected.
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

#include "shm_ipc.h"
#include "shm_ringbuffer.h"
#include "testchan.h"
#include "testproc.h"
#include "testrun.h"

/* ---- statistics and ring monitoring ---------------------------------------------- */

/* Ring bytes a message takes: record header + payload, aligned (internal
 * layout, shm_ringbuffer.h). */
static uint32_t span_of(uint32_t len)
{
    return (SHM_RECORD_HEADER_SIZE + len + SHM_RECORD_ALIGN - 1u) & ~(SHM_RECORD_ALIGN - 1u);
}

static void test_stats_and_available(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "stats");
    const uint32_t size = 64u * 1024u;
    shm_ring_config_t c = tc_config(size, 1, false, 0);
    shm_server_t *s = tc_server_config(name, &c);
    shm_stats_t st;
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_sent, 0);
    assert_int_equal(st.bytes_sent, 0);
    assert_int_equal(st.messages_received, 0);
    assert_int_equal(st.bytes_received, 0);
    assert_int_equal(st.messages_lost, 0);
    assert_int_equal(st.connected, 0);
    shm_ring_t *stx = shm_server_tx_ring(s);
    assert_non_null(stx);
    assert_int_equal(shm_ring_available(stx), size); /* no reader */

    shm_client_t *cl = tc_client(name);
    shm_ring_t *ctx = shm_client_tx_ring(cl);
    assert_non_null(ctx);
    assert_int_equal(shm_ring_available(ctx), size);
    assert_int_equal(tc_server_connected(s), 1);
    assert_int_equal(shm_client_get_stats(cl, &st), SHM_SUCCESS);
    assert_int_equal(st.connected, 1);
    assert_int_equal(st.messages_sent, 0);
    assert_int_equal(st.messages_received, 0);

    uint8_t buf[1024];
    memset(buf, 0x11, sizeof(buf));
    assert_int_equal(shm_server_send(s, buf, 10), SHM_SUCCESS);
    assert_int_equal(shm_server_send(s, buf, 20), SHM_SUCCESS);
    assert_int_equal(shm_server_send(s, buf, 30), SHM_SUCCESS);
    assert_int_equal(shm_ring_available(stx), size - span_of(10) - span_of(20) - span_of(30));
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_sent, 3);
    assert_int_equal(st.bytes_sent, 60);
    assert_int_equal(st.messages_received, 0);
    for (int i = 0; i < 3; i++) {
        uint32_t sz = sizeof(buf);
        assert_int_equal(shm_client_receive(cl, buf, &sz), SHM_SUCCESS);
    }
    assert_int_equal(shm_ring_available(stx), size);
    assert_int_equal(shm_client_get_stats(cl, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_received, 3);
    assert_int_equal(st.bytes_received, 60);
    assert_int_equal(st.messages_lost, 0);
    assert_int_equal(st.messages_sent, 0);

    assert_int_equal(shm_client_send(cl, buf, 100), SHM_SUCCESS);
    assert_int_equal(shm_client_send(cl, buf, 200), SHM_SUCCESS);
    assert_int_equal(shm_ring_available(ctx), size - span_of(100) - span_of(200));
    assert_int_equal(shm_client_get_stats(cl, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_sent, 2);
    assert_int_equal(st.bytes_sent, 300);
    for (int i = 0; i < 2; i++) {
        uint32_t sz = sizeof(buf);
        assert_int_equal(shm_server_receive(s, buf, &sz), SHM_SUCCESS);
    }
    assert_int_equal(shm_ring_available(ctx), size);
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_received, 2);
    assert_int_equal(st.bytes_received, 300);
    assert_int_equal(st.messages_lost, 0);
    assert_int_equal(st.messages_sent, 3);

    /* Overrun the client: it loses exactly what was overwritten. */
    const uint32_t burst = 200;
    for (uint32_t i = 0; i < burst; i++) {
        memcpy(buf, &i, sizeof(i));
        assert_int_equal(shm_server_send(s, buf, 1000), SHM_SUCCESS);
    }
    assert_int_equal(shm_ring_available(stx), 0);
    uint32_t got = 0, last = 0;
    for (;;) {
        uint32_t sz = sizeof(buf);
        shm_error_t e = shm_client_receive(cl, buf, &sz);
        if (e == SHM_ERROR_EMPTY)
            break;
        assert_int_equal(e, SHM_SUCCESS);
        assert_int_equal(sz, 1000);
        memcpy(&last, buf, sizeof(last));
        got++;
    }
    assert_int_equal(last, burst - 1);
    assert_int_equal(shm_client_get_stats(cl, &st), SHM_SUCCESS);
    print_message("overrun: %u of %u received, %llu lost\n", got, burst,
                  (unsigned long long)st.messages_lost);
    assert_true(st.messages_lost > 0);
    assert_int_equal(st.messages_received - 3 + st.messages_lost, burst);
    assert_int_equal(got + st.messages_lost, burst);

    shm_client_disconnect(cl);
    assert_int_equal(tc_server_connected(s), 0);
    assert_int_equal(shm_ring_available(stx), size);
    shm_server_destroy(s);
}

/*
 * Server statistics add up what every client ring delivered and lost (one
 * reader per client ring): two clients with different counts, without and
 * with loss.
 */
static void test_stats_two_clients(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "stats2");
    shm_ring_config_t c = tc_config(4096, 2, false, 0);
    shm_server_t *s = tc_server_config(name, &c);
    shm_client_t *a = shm_client_connect(name);
    shm_client_t *b = shm_client_connect(name);
    assert_non_null(a);
    assert_non_null(b);
    uint8_t buf[256];
    memset(buf, 0x3C, sizeof(buf));

    for (int i = 0; i < 3; i++)
        assert_int_equal(shm_client_send(a, buf, 10), SHM_SUCCESS);
    for (int i = 0; i < 5; i++)
        assert_int_equal(shm_client_send(b, buf, 20), SHM_SUCCESS);
    for (int i = 0; i < 8; i++) {
        uint32_t sz = sizeof(buf);
        assert_int_equal(shm_server_receive(s, buf, &sz), SHM_SUCCESS);
    }
    uint32_t sz = sizeof(buf);
    assert_int_equal(shm_server_receive(s, buf, &sz), SHM_ERROR_EMPTY);
    shm_stats_t st;
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_received, 8);
    assert_int_equal(st.bytes_received, 3 * 10 + 5 * 20);
    assert_int_equal(st.messages_lost, 0);
    assert_int_equal(st.connected, 2);

    /* Both rings overrun, by different amounts: 100 records of 128 bytes
     * and 60 of 224 in 4 KiB rings. */
    const uint32_t na = 100, nb = 60;
    for (uint32_t i = 0; i < na; i++)
        assert_int_equal(shm_client_send(a, buf, 100), SHM_SUCCESS);
    for (uint32_t i = 0; i < nb; i++)
        assert_int_equal(shm_client_send(b, buf, 200), SHM_SUCCESS);
    uint64_t got = 0, got_bytes = 0, got_a = 0, got_b = 0;
    for (;;) {
        sz = sizeof(buf);
        shm_error_t e = shm_server_receive(s, buf, &sz);
        if (e == SHM_ERROR_EMPTY)
            break;
        assert_int_equal(e, SHM_SUCCESS);
        assert_true(sz == 100 || sz == 200);
        got++;
        got_bytes += sz;
        if (sz == 100)
            got_a++;
        else
            got_b++;
    }
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    print_message("two clients: %llu of %u received, %llu lost\n", (unsigned long long)got,
                  na + nb, (unsigned long long)st.messages_lost);
    /* Each client delivered some and lost some: a sum differs from the
     * larger of the two. */
    assert_true(got_a > 0 && got_a < na);
    assert_true(got_b > 0 && got_b < nb);
    assert_int_equal(st.messages_received, 8 + got);
    assert_int_equal(st.bytes_received, 3 * 10 + 5 * 20 + got_bytes);
    assert_int_equal(st.messages_lost, (na - got_a) + (nb - got_b));
    shm_client_disconnect(a);
    shm_client_disconnect(b);
    shm_server_destroy(s);
}

/*
 * A client's messages_sent / bytes_sent count its own messages since it
 * connected, not those of an earlier client in its slot (the slot's ring is
 * the same); the server's count both.
 */
static void test_client_stats_since_connect(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "stats-slot");
    shm_server_t *s = tc_server(name);
    char buf[64];
    uint32_t sz;
    shm_stats_t st;

    shm_client_t *a = tc_client(name);
    for (int i = 0; i < 3; i++)
        assert_int_equal(shm_client_send(a, "aaaa", 5), SHM_SUCCESS);
    assert_int_equal(shm_server_send(s, "to a", 5), SHM_SUCCESS);
    sz = sizeof(buf);
    assert_int_equal(shm_client_receive(a, buf, &sz), SHM_SUCCESS);
    assert_int_equal(shm_client_get_stats(a, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_sent, 3);
    assert_int_equal(st.bytes_sent, 15);
    assert_int_equal(st.messages_received, 1);
    for (int i = 0; i < 3; i++) {
        sz = sizeof(buf);
        assert_int_equal(shm_server_receive(s, buf, &sz), SHM_SUCCESS);
    }
    shm_client_disconnect(a);

    shm_client_t *b = shm_client_connect(name); /* the only slot: a's */
    assert_non_null(b);
    assert_int_equal(shm_client_get_stats(b, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_sent, 0);
    assert_int_equal(st.bytes_sent, 0);
    assert_int_equal(st.messages_received, 0);
    assert_int_equal(st.bytes_received, 0);
    assert_int_equal(st.messages_lost, 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(shm_client_send(b, "bbbbbb", 7), SHM_SUCCESS);
    assert_int_equal(shm_client_get_stats(b, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_sent, 2);
    assert_int_equal(st.bytes_sent, 14);
    for (int i = 0; i < 2; i++) {
        sz = sizeof(buf);
        assert_int_equal(shm_server_receive(s, buf, &sz), SHM_SUCCESS);
        assert_string_equal(buf, "bbbbbb");
    }
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_received, 5);
    assert_int_equal(st.bytes_received, 15 + 14);
    assert_int_equal(st.messages_sent, 1);
    shm_client_disconnect(b);
    shm_server_destroy(s);
}

/* ---- main ------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_and_available),
        cmocka_unit_test(test_stats_two_clients),
        cmocka_unit_test(test_client_stats_since_connect),
    };
    return tr_main(argc, argv, NULL, tests, sizeof(tests) / sizeof(tests[0]));
}
