/*
 * test_ipc_data.c - messages through a channel: sizes, a buffer too small,
 * timeouts, blocked receives and what wakes them, fairness between
 * clients, a corrupt ring, an echo and a ping-pong across two processes
 * (no lost wake-up), several threads on one endpoint.
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
#include "shm_ringbuffer.h"
#include "testblocked.h"
#include "testchan.h"
#include "testevlog.h"
#include "testleft.h"
#include "testmsg.h"
#include "testpeek.h"
#include "testproc.h"
#include "testrun.h"

#if defined(XA_TSAN)
#define SAN_SLOW 1 /* byte-wise atomic copies under TSan: shorter runs */
#else
#define SAN_SLOW 0
#endif

/* ---- message sizes, a buffer too small ------------------------------------------- */

static void test_send_sizes(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "sizes");
    shm_ring_config_t c = tc_config(128u * 1024u, 1, false, 0);
    shm_server_t *s = tc_server_config(name, &c);
    shm_client_t *cl = tc_client(name);
    uint8_t *msg = (uint8_t *)tc_malloc(SHM_MAX_MESSAGE_SIZE + 1);
    uint8_t *out = (uint8_t *)tc_malloc(SHM_MAX_MESSAGE_SIZE + 1);
    tm_make(msg, 77, SHM_MAX_MESSAGE_SIZE + 1);

    TC_ASSERT_FAILS_WITH(shm_server_send(s, msg, 0), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_send(s, msg, SHM_MAX_MESSAGE_SIZE + 1),
                         SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_server_send(s, msg, UINT32_MAX), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(shm_server_send(s, msg, SHM_MAX_MESSAGE_SIZE), SHM_SUCCESS);
    assert_int_equal(shm_server_send(s, msg, 1), SHM_SUCCESS);
    uint32_t sz = SHM_MAX_MESSAGE_SIZE + 1;
    assert_int_equal(shm_client_receive(cl, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, SHM_MAX_MESSAGE_SIZE);
    assert_memory_equal(out, msg, SHM_MAX_MESSAGE_SIZE);
    sz = SHM_MAX_MESSAGE_SIZE;
    assert_int_equal(shm_client_receive(cl, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, 1);
    assert_int_equal(out[0], msg[0]);
    sz = SHM_MAX_MESSAGE_SIZE;
    assert_int_equal(shm_client_receive(cl, out, &sz), SHM_ERROR_EMPTY);

    TC_ASSERT_FAILS_WITH(shm_client_send(cl, msg, 0), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_send(cl, msg, SHM_MAX_MESSAGE_SIZE + 1),
                         SHM_ERROR_INVALID_PARAM);
    assert_int_equal(shm_client_send(cl, msg, SHM_MAX_MESSAGE_SIZE), SHM_SUCCESS);
    sz = SHM_MAX_MESSAGE_SIZE;
    assert_int_equal(shm_server_receive(s, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, SHM_MAX_MESSAGE_SIZE);
    assert_memory_equal(out, msg, SHM_MAX_MESSAGE_SIZE);
    shm_client_disconnect(cl);
    shm_server_destroy(s);

    /* A 64 KiB ring holds messages of up to size - SHM_MESSAGE_OVERHEAD
     * bytes (shm_ipc.h, shm_ring_config_t). */
    c = tc_config(64u * 1024u, 1, false, 0);
    s = tc_server_config(name, &c);
    cl = tc_client(name);
    const uint32_t max64 = 64u * 1024u - SHM_MESSAGE_OVERHEAD;
    TC_ASSERT_FAILS_WITH(shm_server_send(s, msg, max64 + 1), SHM_ERROR_INVALID_PARAM);
    TC_ASSERT_FAILS_WITH(shm_client_send(cl, msg, max64 + 1), SHM_ERROR_INVALID_PARAM);
    shm_error_t r1 = shm_server_send(s, msg, max64);
    shm_error_t r2 = shm_client_send(cl, msg, max64);
    if (r1 != SHM_SUCCESS || r2 != SHM_SUCCESS) {
        shm_client_disconnect(cl);
        shm_server_destroy(s);
        free(msg);
        free(out);
        fail_msg("a %u-byte message on a 64 KiB ring: server %s, client %s; shm_ipc.h "
                 "documents messages of up to min(SHM_MAX_MESSAGE_SIZE, size - SHM_MESSAGE_OVERHEAD) bytes",
                 max64, shm_strerror(r1), shm_strerror(r2));
    }
    sz = SHM_MAX_MESSAGE_SIZE;
    assert_int_equal(shm_client_receive(cl, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, max64);
    assert_memory_equal(out, msg, max64);
    sz = SHM_MAX_MESSAGE_SIZE;
    assert_int_equal(shm_server_receive(s, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, max64);
    shm_client_disconnect(cl);
    shm_server_destroy(s);
    free(msg);
    free(out);
}

static void too_small_roundtrip(shm_error_t (*recv)(void *ep, void *data, uint32_t *size),
                                void *ep)
{
    uint8_t msg[100], out[200];
    tm_make(msg, 5, sizeof(msg));
    uint32_t sz = 10;
    memset(out, 0xEE, sizeof(out));
    assert_int_equal(recv(ep, out, &sz), SHM_ERROR_BUFFER_TOO_SMALL);
    assert_int_equal(shm_last_error(), SHM_ERROR_BUFFER_TOO_SMALL);
    assert_int_equal(sz, 100);
    assert_int_equal(out[10], 0xEE); /* nothing written past the buffer */
    sz = 99;
    assert_int_equal(recv(ep, out, &sz), SHM_ERROR_BUFFER_TOO_SMALL);
    assert_int_equal(sz, 100);
    sz = 0;
    assert_int_equal(recv(ep, NULL, &sz), SHM_ERROR_BUFFER_TOO_SMALL);
    assert_int_equal(sz, 100);
    sz = 100;
    assert_int_equal(recv(ep, out, &sz), SHM_SUCCESS);
    assert_int_equal(sz, 100);
    assert_memory_equal(out, msg, 100);
    sz = sizeof(out);
    assert_int_equal(recv(ep, out, &sz), SHM_SUCCESS); /* the next one */
    assert_int_equal(sz, 3);
    assert_string_equal((char *)out, "nx");
    sz = sizeof(out);
    assert_int_equal(recv(ep, out, &sz), SHM_ERROR_EMPTY);
}

static shm_error_t recv_server_v(void *ep, void *d, uint32_t *sz)
{
    return shm_server_receive((shm_server_t *)ep, d, sz);
}
static shm_error_t recv_client_v(void *ep, void *d, uint32_t *sz)
{
    return shm_client_receive((shm_client_t *)ep, d, sz);
}

static void test_buffer_too_small(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "small");
    shm_server_t *s = tc_server(name);
    shm_client_t *cl = tc_client(name);
    uint8_t msg[100];
    tm_make(msg, 5, sizeof(msg));
    assert_int_equal(shm_server_send(s, msg, sizeof(msg)), SHM_SUCCESS);
    assert_int_equal(shm_server_send(s, "nx", 3), SHM_SUCCESS);
    too_small_roundtrip(recv_client_v, cl);
    assert_int_equal(shm_client_send(cl, msg, sizeof(msg)), SHM_SUCCESS);
    assert_int_equal(shm_client_send(cl, "nx", 3), SHM_SUCCESS);
    too_small_roundtrip(recv_server_v, s);
    shm_client_disconnect(cl);
    shm_server_destroy(s);
}

/* ---- timeouts -------------------------------------------------------------------- */

static void test_receive_timeout(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "timeout");
    const uint32_t timeout = 300;
    shm_ring_config_t c = tc_config(4096, 1, true, timeout);
    shm_server_t *s = tc_server_config(name, &c);
    uint8_t buf[16];
    uint32_t sz = sizeof(buf);

    /* Server, no client at all. */
    uint64_t t0 = tc_now_ms();
    TC_ASSERT_FAILS_WITH(shm_server_receive(s, buf, &sz), SHM_ERROR_TIMEOUT);
    uint64_t spent = tc_now_ms() - t0;
    print_message("server receive timed out after %llu ms (timeout %u)\n",
                  (unsigned long long)spent, timeout);
    assert_true(spent >= timeout);
    assert_true(spent < timeout + 2000);

    /* Client (it uses the server's blocking and timeout_ms). */
    shm_client_t *cl = tc_client(name);
    sz = sizeof(buf);
    t0 = tc_now_ms();
    TC_ASSERT_FAILS_WITH(shm_client_receive(cl, buf, &sz), SHM_ERROR_TIMEOUT);
    spent = tc_now_ms() - t0;
    print_message("client receive timed out after %llu ms\n", (unsigned long long)spent);
    assert_true(spent >= timeout);
    assert_true(spent < timeout + 2000);

    /* Server, with a client connected that sends nothing. */
    sz = sizeof(buf);
    t0 = tc_now_ms();
    TC_ASSERT_FAILS_WITH(shm_server_receive(s, buf, &sz), SHM_ERROR_TIMEOUT);
    spent = tc_now_ms() - t0;
    assert_true(spent >= timeout);
    assert_true(spent < timeout + 2000);

    /* A message that is there is returned at once. */
    assert_int_equal(shm_client_send(cl, "now", 4), SHM_SUCCESS);
    sz = sizeof(buf);
    assert_int_equal(shm_server_receive(s, buf, &sz), SHM_SUCCESS);
    assert_string_equal((char *)buf, "now");
    shm_client_disconnect(cl);
    shm_server_destroy(s);

    /* Non-blocking: EMPTY at once. */
    c = tc_config(4096, 1, false, 5000);
    s = tc_server_config(name, &c);
    cl = tc_client(name);
    sz = sizeof(buf);
    t0 = tc_now_ms();
    TC_ASSERT_FAILS_WITH(shm_server_receive(s, buf, &sz), SHM_ERROR_EMPTY);
    assert_true(tc_now_ms() - t0 < 100);
    sz = sizeof(buf);
    t0 = tc_now_ms();
    TC_ASSERT_FAILS_WITH(shm_client_receive(cl, buf, &sz), SHM_ERROR_EMPTY);
    assert_true(tc_now_ms() - t0 < 100);
    shm_client_disconnect(cl);
    shm_server_destroy(s);
}

/* ---- echo of random-size messages across two processes --------------------------- */

/* Size of message `seq` of the echo stream: 1..65536, both ends included;
 * a quarter uniform, the rest log-uniform (many small, some large). */
static uint32_t echo_size(uint64_t seq)
{
    if (seq % 997 == 0)
        return SHM_MAX_MESSAGE_SIZE;
    if (seq % 997 == 1)
        return 1;
    uint64_t x = seq * 6364136223846793005ull + 1442695040888963407ull;
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    uint32_t v = (uint32_t)x;
    if ((x >> 40) % 4 == 0)
        return 1 + v % SHM_MAX_MESSAGE_SIZE;
    uint32_t bits = (uint32_t)(x >> 44) % 17u;
    return 1 + v % (1u << bits);
}

static int helper_echo(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    uint64_t count = strtoull(argv[2], NULL, 10);
    shm_client_t *c = shm_client_connect(argv[1]);
    if (!c) {
        fprintf(stderr, "echo: connect: %s\n", shm_strerror(shm_last_error()));
        return 3;
    }
    uint8_t *buf = (uint8_t *)malloc(SHM_MAX_MESSAGE_SIZE);
    if (!buf)
        return 4;
    int rc = 0;
    for (uint64_t seq = 0; seq < count && rc == 0; seq++) {
        uint32_t sz = SHM_MAX_MESSAGE_SIZE;
        shm_error_t r = shm_client_receive(c, buf, &sz);
        if (r != SHM_SUCCESS) {
            fprintf(stderr, "echo: receive %llu: %s\n", (unsigned long long)seq, shm_strerror(r));
            rc = 5;
        } else if (sz != echo_size(seq) || !tm_check(buf, seq, sz)) {
            fprintf(stderr, "echo: message %llu: bad content or size %u\n",
                    (unsigned long long)seq, sz);
            rc = 6;
        } else if ((r = shm_client_send(c, buf, sz)) != SHM_SUCCESS) {
            fprintf(stderr, "echo: send %llu: %s\n", (unsigned long long)seq, shm_strerror(r));
            rc = 7;
        }
    }
    shm_stats_t st;
    if (rc == 0 && (shm_client_get_stats(c, &st) != SHM_SUCCESS || st.messages_lost != 0 ||
                    st.messages_received != count || st.messages_sent != count)) {
        fprintf(stderr, "echo: stats: lost %llu\n", (unsigned long long)st.messages_lost);
        rc = 8;
    }
    free(buf);
    shm_client_disconnect(c);
    return rc;
}

static void test_echo_two_processes(void **state)
{
    (void)state;
    const uint64_t count = SAN_SLOW ? 3000 : 10000;
    print_message("echo: %llu messages of 1..65536 bytes each way\n", (unsigned long long)count);
    char name[80], count_s[32];
    tp_unique_name(name, sizeof(name), "echo");
    snprintf(count_s, sizeof(count_s), "%llu", (unsigned long long)count);
    /* 8 messages in flight at most, 1 MiB rings: nothing is overwritten. */
    const uint64_t window = 8;
    shm_ring_config_t c = tc_config(1u << 20, 1, true, 10000);
    shm_server_t *s = tc_server_config(name, &c);
    tp_child_t child;
    const char *args[] = {name, count_s, NULL};
    assert_int_equal(tp_spawn_self(&child, "echo", args), 0);
    bool ok = TP_WAIT_UNTIL(tc_server_connected(s) == 1, 20000);
    if (!ok)
        tp_kill(&child);
    assert_true(ok);

    uint8_t *msg = (uint8_t *)tc_malloc(SHM_MAX_MESSAGE_SIZE);
    uint8_t *out = (uint8_t *)tc_malloc(SHM_MAX_MESSAGE_SIZE);
    uint64_t sent = 0, got = 0, bytes = 0, bad = 0;
    shm_error_t fail = SHM_SUCCESS;
    uint64_t t0 = tc_now_ms();
    while (got < count && fail == SHM_SUCCESS && bad == 0) {
        while (sent < count && sent - got < window) {
            uint32_t len = echo_size(sent);
            tm_make(msg, sent, len);
            fail = shm_server_send(s, msg, len);
            if (fail != SHM_SUCCESS)
                break;
            bytes += len;
            sent++;
        }
        if (fail != SHM_SUCCESS)
            break;
        uint32_t sz = SHM_MAX_MESSAGE_SIZE;
        fail = shm_server_receive(s, out, &sz);
        if (fail != SHM_SUCCESS)
            break;
        if (sz != echo_size(got) || !tm_check(out, got, sz))
            bad++;
        got++;
    }
    uint64_t ms = tc_now_ms() - t0;
    int code = -1;
    tp_wait_or_kill(&child, 30000, &code);
    print_message("echo: %llu messages, %llu MB each way, in %llu ms\n", (unsigned long long)got,
                  (unsigned long long)(bytes >> 20), (unsigned long long)ms);
    assert_int_equal(fail, SHM_SUCCESS);
    assert_int_equal(bad, 0);
    assert_int_equal(got, count);
    assert_int_equal(code, 0);
    shm_stats_t st;
    assert_int_equal(shm_server_get_stats(s, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_sent, count);
    assert_int_equal(st.messages_received, count);
    assert_int_equal(st.bytes_sent, bytes);
    assert_int_equal(st.bytes_received, bytes);
    assert_int_equal(st.messages_lost, 0);
    free(msg);
    free(out);
    shm_server_destroy(s);
}

/* ---- ping-pong: no lost wake-up -------------------------------------------------- */

/*
 * Reply jitter, so that the other side's receive goes to sleep at varying
 * points (before, around and after the end of its spin phase, about 20 us)
 * instead of always finding the reply while it spins: half the replies go
 * at once, some after a yield, the rest after a busy wait of 0..63 us.
 */
static void pingpong_jitter(uint64_t i, uint64_t salt)
{
    uint64_t x = (i + salt) * 0x9E3779B97F4A7C15ull;
    x ^= x >> 29;
    uint32_t kind = (uint32_t)(x >> 59); /* 0..31 */
    if (kind < 16)
        return;
    if (kind < 20) {
        xshm_plat_sleep_ms(0);
        return;
    }
    uint64_t until = xshm_plat_now_ns() + ((x >> 8) % 64u) * 1000u;
    while (xshm_plat_now_ns() < until)
        xa_pause();
}

static int helper_pong(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    uint64_t count = strtoull(argv[2], NULL, 10);
    shm_client_t *c = shm_client_connect(argv[1]);
    if (!c)
        return 3;
    int rc = 0;
    for (uint64_t i = 0; i < count; i++) {
        uint64_t v = 0;
        uint32_t sz = sizeof(v);
        shm_error_t r = shm_client_receive(c, &v, &sz);
        if (r != SHM_SUCCESS || sz != sizeof(v) || v != i) {
            fprintf(stderr, "pong: at %llu: %s (got %llu)\n", (unsigned long long)i,
                    shm_strerror(r), (unsigned long long)v);
            rc = 4;
            break;
        }
        v = ~v;
        pingpong_jitter(i, 1);
        if (shm_client_send(c, &v, sizeof(v)) != SHM_SUCCESS) {
            rc = 5;
            break;
        }
    }
    shm_client_disconnect(c);
    return rc;
}

/* One ping-pong run: what test_pingpong_no_lost_wakeup judges. */
typedef struct pingpong_run {
    uint64_t done;      /* round trips completed */
    uint64_t ms;        /* their duration */
    uint64_t max_ns;    /* the longest one */
    uint64_t over1ms, over10ms, over40ms, over150ms; /* round trips that long or longer */
    uint64_t bad;       /* wrong replies */
    shm_error_t fail;   /* the first send or receive that failed */
    int code;           /* the helper's exit code, -1 if it was killed */
} pingpong_run_t;

/*
 * A blocked receive sleeps in slices of 50 ms (WAIT_SLICE_MS) and looks at
 * the ring after each one, so a lost wake-up does not end in TIMEOUT: it
 * shows as a round trip stalled for about one slice (two, if both
 * directions lose theirs). A run stops early once more than stall_limit
 * round trips took 40 ms or more.
 */
static void pingpong_once(uint64_t count, uint64_t stall_limit, pingpong_run_t *r)
{
    char name[80], count_s[32];
    memset(r, 0, sizeof(*r));
    r->fail = SHM_SUCCESS;
    r->code = -1;
    tp_unique_name(name, sizeof(name), "pingpong");
    snprintf(count_s, sizeof(count_s), "%llu", (unsigned long long)count);
    shm_ring_config_t c = tc_config(4096, 1, true, 10000);
    shm_server_t *s = tc_server_config(name, &c);
    tp_child_t child;
    const char *args[] = {name, count_s, NULL};
    assert_int_equal(tp_spawn_self(&child, "pong", args), 0);
    bool ok = TP_WAIT_UNTIL(tc_server_connected(s) == 1, 20000);
    if (!ok)
        tp_kill(&child);
    assert_true(ok);
    uint64_t t0 = tc_now_ms(), i = 0;
    for (; i < count; i++) {
        pingpong_jitter(i, 2);
        uint64_t rt0 = xshm_plat_now_ns();
        r->fail = shm_server_send(s, &i, sizeof(i));
        if (r->fail != SHM_SUCCESS)
            break;
        uint64_t v = 0;
        uint32_t sz = sizeof(v);
        r->fail = shm_server_receive(s, &v, &sz);
        if (r->fail != SHM_SUCCESS)
            break;
        uint64_t rt = xshm_plat_now_ns() - rt0;
        r->max_ns = rt > r->max_ns ? rt : r->max_ns;
        r->over1ms += rt >= 1000000u;
        r->over10ms += rt >= 10000000u;
        r->over40ms += rt >= 40000000u;
        r->over150ms += rt >= 150000000u;
        if (sz != sizeof(v) || v != ~i) {
            r->bad++;
            break;
        }
        if (r->over40ms > stall_limit) {
            i++;
            break; /* fail fast: the wake-up path is broken */
        }
    }
    r->done = i;
    r->ms = tc_now_ms() - t0;
    if (r->over40ms > stall_limit)
        tp_kill(&child); /* it waits for a message that will not come */
    else
        tp_wait_or_kill(&child, 20000, &r->code);
    print_message("ping-pong: %llu of %llu round trips in %llu ms (%.1f us each)%s\n",
                  (unsigned long long)i, (unsigned long long)count, (unsigned long long)r->ms,
                  i ? (double)r->ms * 1000.0 / (double)i : 0.0, tp_under_wine() ? " [wine]" : "");
    print_message("ping-pong: round trips >= 1 ms: %llu, >= 10 ms: %llu, >= 40 ms: %llu, "
                  ">= 150 ms: %llu, longest %.1f ms\n",
                  (unsigned long long)r->over1ms, (unsigned long long)r->over10ms,
                  (unsigned long long)r->over40ms, (unsigned long long)r->over150ms,
                  (double)r->max_ns / 1e6);
    shm_server_destroy(s);
}

static void test_pingpong_no_lost_wakeup(void **state)
{
    (void)state;
    /* Full count under Wine too: about 80 us per round trip there. */
    const uint64_t count = 100000;
    /*
     * The test counts round trips of 40 ms or more. A correct implementation
     * shows 0 (even with three copies of this test running on two cores);
     * one that skips the re-check after marking itself waiting shows
     * dozens per 100,000. Scheduling noise is allowed a few.
     *
     * A machine busy enough to keep a process from running for 150 ms
     * (under an emulator, whose programs need more processor time, that
     * happens sooner) can stall more round trips than that by itself; a
     * lost wake-up costs one or two slices, not 150 ms. When the limit is
     * passed in such a run, the run tells nothing: it is repeated, up to
     * three runs, and the last one decides.
     */
    const uint64_t stall_limit = 10;
    const int max_runs = 3;
    pingpong_run_t r;
    for (int run = 1;; run++) {
        pingpong_once(count, stall_limit, &r);
        if (r.over40ms <= stall_limit || r.over150ms == 0 || run == max_runs)
            break;
        print_message("ping-pong: run %d of %d: %llu round trips stalled for 40 ms or more, "
                      "%llu of them for 150 ms or more: the machine is too busy to tell; "
                      "again\n",
                      run, max_runs, (unsigned long long)r.over40ms,
                      (unsigned long long)r.over150ms);
    }
    if (r.over40ms > stall_limit)
        fail_msg("%llu round trips stalled for 40 ms or more (limit %llu): lost wake-ups",
                 (unsigned long long)r.over40ms, (unsigned long long)stall_limit);
    assert_int_equal(r.fail, SHM_SUCCESS); /* TIMEOUT: a wake-up lost for good */
    assert_int_equal(r.bad, 0);
    assert_int_equal(r.done, count);
    assert_int_equal(r.code, 0);
}

/* ---- several threads on one endpoint --------------------------------------------- */

#define MT_SENDERS 4u
#define MT_RECEIVERS 2u

typedef struct mt_dir {
    shm_server_t *s;
    shm_client_t *c;
    bool from_client;       /* client -> server, else server -> client */
    uint32_t per_thread;
    uint32_t *counts;       /* [MT_SENDERS * per_thread], atomic */
    uint32_t received;      /* atomic */
    uint32_t bad;           /* atomic: malformed, unexpected error */
    uint32_t send_fail;     /* atomic */
    uint32_t timeouts;      /* atomic */
    uint64_t deadline_ms;
} mt_dir_t;

typedef struct mt_arg {
    mt_dir_t *d;
    uint32_t tid;
    uint32_t done; /* atomic: set as the thread ends */
} mt_arg_t;

static uint32_t mt_len(uint32_t tid, uint32_t seq) { return 8u + (tid * 7919u + seq * 104729u) % 193u; }

static uint8_t mt_byte(uint32_t tid, uint32_t seq, uint32_t i)
{
    return (uint8_t)((tid * 31u) ^ (seq * 131u) ^ (i * 17u));
}

static void mt_sender(void *arg)
{
    mt_arg_t *a = (mt_arg_t *)arg;
    mt_dir_t *d = a->d;
    uint8_t buf[256];
    for (uint32_t seq = 0; seq < d->per_thread; seq++) {
        uint32_t len = mt_len(a->tid, seq);
        memcpy(buf, &a->tid, 4);
        memcpy(buf + 4, &seq, 4);
        for (uint32_t i = 8; i < len; i++)
            buf[i] = mt_byte(a->tid, seq, i);
        shm_error_t r = d->from_client ? shm_client_send(d->c, buf, len)
                                       : shm_server_send(d->s, buf, len);
        if (r != SHM_SUCCESS)
            xa_fetch_add32(&d->send_fail, 1);
    }
    xa_store32_rel(&a->done, 1);
}

static void mt_receiver(void *arg)
{
    mt_arg_t *a = (mt_arg_t *)arg;
    mt_dir_t *d = a->d;
    const uint32_t total = MT_SENDERS * d->per_thread;
    uint8_t buf[256];
    while (xa_load32_acq(&d->received) < total && tc_now_ms() < d->deadline_ms) {
        uint32_t sz = sizeof(buf);
        shm_error_t r = d->from_client ? shm_server_receive(d->s, buf, &sz)
                                       : shm_client_receive(d->c, buf, &sz);
        if (r == SHM_ERROR_TIMEOUT) {
            xa_fetch_add32(&d->timeouts, 1);
            continue;
        }
        if (r != SHM_SUCCESS || sz < 8) {
            xa_fetch_add32(&d->bad, 1);
            break;
        }
        uint32_t tid, seq;
        memcpy(&tid, buf, 4);
        memcpy(&seq, buf + 4, 4);
        bool ok = tid < MT_SENDERS && seq < d->per_thread && sz == mt_len(tid, seq);
        for (uint32_t i = 8; ok && i < sz; i++)
            ok = buf[i] == mt_byte(tid, seq, i);
        if (!ok) {
            xa_fetch_add32(&d->bad, 1);
            continue;
        }
        xa_fetch_add32(&d->counts[tid * d->per_thread + seq], 1);
        xa_fetch_add32(&d->received, 1);
    }
    xa_store32_rel(&a->done, 1);
}

static void test_threads_one_endpoint(void **state)
{
    (void)state;
    const uint32_t per_thread = SAN_SLOW ? 1000 : 3000;
    char name[80];
    tp_unique_name(name, sizeof(name), "threads");
    /* 4 MiB rings hold everything 4 threads send (<= 12000 * 216 bytes):
     * nothing is overwritten even if the receivers stall. */
    shm_ring_config_t c = tc_config(4u << 20, 1, true, 100);
    shm_server_t *s = tc_server_config(name, &c);
    tl_server(s);
    shm_client_t *cl = tc_client(name);
    tl_client(cl);

    /* Static: after a failed assert the threads run on until tl_teardown
     * ends them (destroying the endpoints makes them return at once). */
    static mt_dir_t dir[2];
    static mt_arg_t sargs[2][MT_SENDERS], rargs[2][MT_RECEIVERS];
    plat_thread_t *st[2][MT_SENDERS], *rt[2][MT_RECEIVERS];
    for (int k = 0; k < 2; k++) {
        mt_dir_t *d = &dir[k];
        memset(d, 0, sizeof(*d));
        d->s = s;
        d->c = cl;
        d->from_client = k == 0;
        d->per_thread = per_thread;
        d->counts = (uint32_t *)calloc(MT_SENDERS * per_thread, sizeof(uint32_t));
        assert_non_null(d->counts);
        d->deadline_ms = tc_now_ms() + 60000;
    }
    /* Both directions at once: 8 senders, 4 receivers. */
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < MT_RECEIVERS; i++) {
            rargs[k][i].d = &dir[k];
            rargs[k][i].tid = i;
            rargs[k][i].done = 0;
            assert_int_equal(tl_thread_start(&rt[k][i], mt_receiver, &rargs[k][i],
                                             &rargs[k][i].done),
                             SHM_SUCCESS);
        }
    }
    uint64_t t0 = tc_now_ms();
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < MT_SENDERS; i++) {
            sargs[k][i].d = &dir[k];
            sargs[k][i].tid = i;
            sargs[k][i].done = 0;
            assert_int_equal(tl_thread_start(&st[k][i], mt_sender, &sargs[k][i],
                                             &sargs[k][i].done),
                             SHM_SUCCESS);
        }
    }
    for (int k = 0; k < 2; k++) {
        for (uint32_t i = 0; i < MT_SENDERS; i++)
            tl_join(st[k][i]);
        for (uint32_t i = 0; i < MT_RECEIVERS; i++)
            tl_join(rt[k][i]);
    }
    print_message("threads: 2 x %u messages in %llu ms\n", MT_SENDERS * per_thread,
                  (unsigned long long)(tc_now_ms() - t0));
    for (int k = 0; k < 2; k++) {
        mt_dir_t *d = &dir[k];
        assert_int_equal(d->send_fail, 0);
        assert_int_equal(d->bad, 0);
        assert_int_equal(d->received, MT_SENDERS * per_thread);
        uint32_t missing = 0, dup = 0;
        for (uint32_t i = 0; i < MT_SENDERS * per_thread; i++) {
            if (d->counts[i] == 0)
                missing++;
            else if (d->counts[i] > 1)
                dup++;
        }
        if (missing || dup)
            print_message("direction %d: %u missing, %u duplicated\n", k, missing, dup);
        assert_int_equal(missing, 0);
        assert_int_equal(dup, 0);
        free(d->counts);
    }
    shm_stats_t ss, cs;
    assert_int_equal(shm_server_get_stats(s, &ss), SHM_SUCCESS);
    assert_int_equal(shm_client_get_stats(cl, &cs), SHM_SUCCESS);
    assert_int_equal(ss.messages_lost, 0);
    assert_int_equal(cs.messages_lost, 0);
    assert_int_equal(ss.messages_received, MT_SENDERS * per_thread);
    assert_int_equal(cs.messages_received, MT_SENDERS * per_thread);
    assert_int_equal(ss.messages_sent, MT_SENDERS * per_thread);
    assert_int_equal(cs.messages_sent, MT_SENDERS * per_thread);
    tl_client_disconnect(cl);
    tl_server_destroy(s);
}

/* ---- blocked receives and destruction -------------------------------------------- */

/* A server and a client of `name` (config c) whose receive blocks in a
 * thread, with state in *b, until the server is destroyed (server_leaves:
 * SHM_ERROR_NOT_CONNECTED) or the client disconnects (SHM_ERROR_CLOSED, and
 * the server sees no client): that result, within 2 s. */
static void client_receive_woken(const char *name, const shm_ring_config_t *c, tb_receive_t *b,
                                 bool server_leaves)
{
    shm_server_t *s = tc_server_config(name, c);
    tl_server(s);
    shm_client_t *cl = tc_client(name);
    tl_client(cl);
    tb_init(b, NULL, cl);
    plat_thread_t *t;
    assert_int_equal(tb_start(&t, b), SHM_SUCCESS);
    assert_true(TP_WAIT_UNTIL(pk_any_slot_waiting(shm_server_tx_ring(s)), 10000));
    uint64_t t0 = xshm_plat_now_ns();
    if (server_leaves)
        tl_server_destroy(s);
    else
        tl_client_disconnect(cl);
    assert_true(TP_WAIT_UNTIL(tb_done(b), 10000));
    tl_join(t);
    uint64_t ms = (b->end_ns - t0) / 1000000u;
    print_message("blocked client receive returned %llu ms after %s\n", (unsigned long long)ms,
                  server_leaves ? "server destroy" : "client disconnect");
    assert_int_equal(b->result, server_leaves ? SHM_ERROR_NOT_CONNECTED : SHM_ERROR_CLOSED);
    assert_true(ms < 2000);
    if (server_leaves) {
        tl_client_disconnect(cl);
    } else {
        assert_int_equal(tc_server_connected(s), 0);
        tl_server_destroy(s);
    }
}

static void test_destroy_wakes_blocked_receive(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "wakeclose");
    /* A long timeout: a receive that is not woken shows as a failure. */
    shm_ring_config_t c = tc_config(4096, 1, true, 30000);

    /* 1. A server receive blocked in a thread; the server is destroyed. */
    shm_server_t *s = tc_server_config(name, &c);
    tl_server(s);
    shm_client_t *cl = tc_client(name);
    tl_client(cl);
    const shm_ring_t *to_server = shm_client_tx_ring(cl); /* its slot 0: the server */
    static tb_receive_t b; /* static: the thread may outlive a failed test (tl_teardown) */
    tb_init(&b, s, NULL);
    plat_thread_t *t;
    assert_int_equal(tb_start(&t, &b), SHM_SUCCESS);
    /* Asleep once it has marked its reader slot as waiting. */
    assert_true(TP_WAIT_UNTIL(pk_any_slot_waiting(to_server), 10000));
    uint64_t t0 = xshm_plat_now_ns();
    tl_server_destroy(s);
    assert_true(TP_WAIT_UNTIL(tb_done(&b), 10000));
    tl_join(t);
    uint64_t ms = (b.end_ns - t0) / 1000000u;
    print_message("blocked server receive returned %llu ms after destroy\n",
                  (unsigned long long)ms);
    assert_int_equal(b.result, SHM_ERROR_CLOSED);
    assert_true(ms < 2000);
    tl_client_disconnect(cl);

    /* 2. A client receive blocked in a thread; the server is destroyed. */
    client_receive_woken(name, &c, &b, true);

    /* 3. A client receive blocked in a thread; the client disconnects. */
    client_receive_woken(name, &c, &b, false);
}

/* ---- no timeout ------------------------------------------------------------------ */

/*
 * timeout_ms = 0 means no time limit (shm_ipc.h): a blocking receive waits
 * until a message comes. The message is sent only once the receive is seen
 * asleep (its reader slot marked waiting), so it cannot have been there
 * when the receive started; a receive that returned at once is caught
 * before anything is sent.
 */
static void test_timeout_zero_waits(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "notimeout");
    shm_ring_config_t c = tc_config(4096, 1, true, 0);
    shm_server_t *s = tc_server_config(name, &c);
    tl_server(s);
    shm_client_t *cl = tc_client(name);
    tl_client(cl);

    for (int dir = 0; dir < 2; dir++) {
        bool to_client = dir == 0;
        static tb_receive_t b; /* static: the thread may outlive a failed test */
        tb_init(&b, to_client ? NULL : s, cl);
        plat_thread_t *t;
        assert_int_equal(tb_start(&t, &b), SHM_SUCCESS);
        /* The receiver's slot: the client's in the server's ring, or the
         * server's in the client's. */
        const shm_ring_t *ring = to_client ? shm_server_tx_ring(s) : shm_client_tx_ring(cl);
        bool asleep = TP_WAIT_UNTIL(pk_any_slot_waiting(ring) || tb_done(&b), 20000);
        if (tb_done(&b)) {
            tl_join(t);
            fail_msg("%s receive with timeout_ms 0 returned %s before any message was sent",
                     to_client ? "client" : "server", shm_strerror(b.result));
        }
        if (!asleep) {
            /* Unblock it before failing: it waits for good. */
            (void)(to_client ? shm_server_send(s, "x", 2) : shm_client_send(cl, "x", 2));
            tl_join(t);
            fail_msg("the receive never went to sleep");
        }
        const char *msg = to_client ? "late to client" : "late to server";
        uint32_t len = (uint32_t)strlen(msg) + 1;
        assert_int_equal(to_client ? shm_server_send(s, msg, len) : shm_client_send(cl, msg, len),
                         SHM_SUCCESS);
        bool done = TP_WAIT_UNTIL(tb_done(&b), 20000);
        if (done)
            tl_join(t);
        assert_true(done); /* else tl_teardown ends the endpoints: CLOSED wakes it */
        assert_int_equal(b.result, SHM_SUCCESS);
        assert_int_equal(b.size, len);
        assert_string_equal(b.buf, msg);
    }
    tl_client_disconnect(cl);
    tl_server_destroy(s);
}

/* ---- fairness between clients, a corrupt ring ------------------------------------ */

/*
 * shm_server_receive visits the client rings in turn, starting with a
 * different ring each call (ring.md): with two clients whose rings both hold
 * messages, consecutive receives alternate between them; neither starves.
 */
static void test_receive_fairness(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "fair");
    shm_ring_config_t c = tc_config(4096, 2, false, 0);
    shm_server_t *s = tc_server_config(name, &c);
    shm_client_t *cl[2];
    for (int i = 0; i < 2; i++) {
        cl[i] = shm_client_connect(name);
        assert_non_null(cl[i]);
    }
    const int per_client = 10;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < per_client; k++) {
            char m[8];
            snprintf(m, sizeof(m), "%d:%d", i, k);
            assert_int_equal(shm_client_send(cl[i], m, (uint32_t)strlen(m) + 1), SHM_SUCCESS);
        }
    int prev = -1, next[2] = {0, 0};
    for (int n = 0; n < 2 * per_client; n++) {
        char m[8];
        uint32_t sz = sizeof(m);
        assert_int_equal(shm_server_receive(s, m, &sz), SHM_SUCCESS);
        int who = -1, k = -1;
        assert_int_equal(sscanf(m, "%d:%d", &who, &k), 2);
        assert_true(who == 0 || who == 1);
        assert_int_equal(k, next[who]); /* each ring in order */
        next[who]++;
        if (who == prev)
            fail_msg("receive %d took client %d's message %d again while client %d had %d "
                     "waiting",
                     n, who, k, 1 - who, per_client - next[1 - who]);
        prev = who;
    }
    shm_client_disconnect(cl[0]);
    shm_client_disconnect(cl[1]);
    shm_server_destroy(s);
}

/* Overwrite the mark of the record at position 0 of `ring` (a fresh ring's
 * first message) with a value no writer stores there. */
static void corrupt_first_record(const shm_ring_t *ring)
{
    xshm_record_header_t *h = (xshm_record_header_t *)(void *)ring->data;
    xa_store64_relaxed(&h->pos, 0x5151515151515150ull);
}

/* A receive that meets a record that makes no sense (a buggy or hostile
 * writer) returns SHM_ERROR_INVALID_SEGMENT and raises SHM_EVENT_ERROR, on
 * both sides; it never crashes or returns the bytes. */
static void test_receive_corrupt_ring(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "corrupt");
    ev_log_t slog, clog;
    shm_server_t *s;
    shm_client_t *cl;
    tc_logged_pair(name, &s, &slog, &cl, &clog);

    char buf[32];
    uint32_t sz;
    assert_int_equal(shm_client_send(cl, "to be spoiled", 14), SHM_SUCCESS);
    corrupt_first_record(shm_client_tx_ring(cl));
    sz = sizeof(buf);
    TC_ASSERT_FAILS_WITH(shm_server_receive(s, buf, &sz), SHM_ERROR_INVALID_SEGMENT);
    assert_true(TP_WAIT_UNTIL(ev_count(&slog, SHM_EVENT_ERROR) >= 1, 10000));
    /* The reader starts over at the writer's end: later messages arrive. */
    tc_pass_to_server(s, cl, "after");

    assert_int_equal(shm_server_send(s, "to be spoiled", 14), SHM_SUCCESS);
    corrupt_first_record(shm_server_tx_ring(s));
    sz = sizeof(buf);
    TC_ASSERT_FAILS_WITH(shm_client_receive(cl, buf, &sz), SHM_ERROR_INVALID_SEGMENT);
    assert_true(TP_WAIT_UNTIL(ev_count(&clog, SHM_EVENT_ERROR) >= 1, 10000));
    tc_pass_to_client(s, cl, "after");

    ev_entry_t e;
    assert_true(ev_get(&slog, SHM_EVENT_ERROR, 0, &e));
    assert_int_equal(e.error, SHM_ERROR_INVALID_SEGMENT);
    assert_true(ev_get(&clog, SHM_EVENT_ERROR, 0, &e));
    assert_int_equal(e.error, SHM_ERROR_INVALID_SEGMENT);
    shm_client_disconnect(cl);
    shm_server_destroy(s);
    assert_int_equal(ev_bad(&slog), 0);
    assert_int_equal(ev_bad(&clog), 0);
    ev_fini(&slog);
    ev_fini(&clog);
}

/* ---- main ------------------------------------------------------------------------ */

static const tp_helper_t helpers[] = {
    {"echo", helper_echo},
    {"pong", helper_pong},
    {NULL, NULL},
};

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send_sizes),
        cmocka_unit_test(test_buffer_too_small),
        cmocka_unit_test(test_receive_timeout),
        cmocka_unit_test_teardown(test_timeout_zero_waits, tl_teardown),
        cmocka_unit_test_teardown(test_destroy_wakes_blocked_receive, tl_teardown),
        cmocka_unit_test(test_receive_fairness),
        cmocka_unit_test(test_receive_corrupt_ring),
        cmocka_unit_test(test_echo_two_processes),
        cmocka_unit_test(test_pingpong_no_lost_wakeup),
        cmocka_unit_test_teardown(test_threads_one_endpoint, tl_teardown),
    };
    return tr_main(argc, argv, helpers, tests, sizeof(tests) / sizeof(tests[0]));
}
