/*
 * test_server.c - the server of the xshm bidirectional stress test.
 *
 * Creates the channel and waits up to 30 s for test_client, then:
 *   (a) echoes every message of the client's round-trip phase;
 *   (b) sends its own stream of sequence-numbered, checksummed messages of
 *       mixed sizes to the client while a receiver thread checks the
 *       client's stream: every payload, gaps (loss), order, and that
 *       received + lost == sent exactly, against the library's own count;
 * exchanges figures with the client, writes server_report.txt in the working
 * folder (and prints it), and exits once the client has left: 0 when every
 * check passed, 1 otherwise, 2 on bad usage.
 *
 *   test_server [--name NAME] [--count N] [--min-size B] [--max-size B]
 *               [--ring-size B] [--mode busy|blocking] [--paced] [--quick]
 *
 * The server's --ring-size and --mode configure the channel; the client
 * follows them. --count, --min-size, --max-size and --paced apply to what
 * each side sends. Timing is printed, never asserted.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stress_common.h"
#include "xsupport.h"

/* ---- the server's side ------------------------------------------------------------------ */

#define SALT_SERVER_STREAM 0x5E5E5E5E00000002ull

/* Phase (a): send back every ECHO message until the client says START.
 * Returns SHM_SUCCESS at START. */
static shm_error_t echo_phase(uint64_t *echoed, uint64_t *damaged)
{
    unsigned char *buf = (unsigned char *)malloc(SHM_MAX_MESSAGE_SIZE);
    shm_error_t e = SHM_ERROR_MEMORY;
    while (buf) {
        uint32_t n = SHM_MAX_MESSAGE_SIZE, kind, seq;
        e = recv_wait(buf, &n, STRESS_PATIENCE_MS, SPINS_LATENCY, true);
        if (e != SHM_SUCCESS)
            break;
        if (!msg_open(buf, n, &kind, &seq)) {
            (*damaged)++; /* send it back anyway: the client reports it */
            kind = K_ECHO;
        }
        if (kind == K_ECHO) {
            e = ep_send(buf, n);
            if (e != SHM_SUCCESS)
                break;
            (*echoed)++;
            continue;
        }
        if (kind == K_START && n == CTRL_SIZE) {
            e = SHM_SUCCESS;
            break;
        }
        if (kind == K_BYE) {
            e = SHM_ERROR_CLOSED;
            break;
        }
        say("server: unexpected control message %u during phase (a)\n", kind);
        e = SHM_ERROR_INVALID_SEGMENT;
        break;
    }
    free(buf);
    return e;
}

/* How a step failed, in words. */
static const char *step_error(shm_error_t e)
{
    if (e == SHM_ERROR_CLOSED)
        return "the client gave up (see test_log.txt)";
    if (e == SHM_ERROR_INVALID_SEGMENT)
        return "protocol error";
    return shm_strerror(e);
}

static int finish(int failures)
{
    if (failures)
        say("RESULT: FAIL (%d failed check%s)\n", failures, failures == 1 ? "" : "s");
    else
        say("RESULT: PASS\n");
    if (g_report)
        fclose(g_report);
    g_report = NULL;
    return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
    options_t o;
    int rc = parse_options(argc, argv, &o);
    if (rc)
        return rc == 1 ? 0 : 2;
    g_self = "server";
    const char *unfit = ring_fits(o.ring_size, o.max_size, o.paced);
    if (unfit) {
        fprintf(stderr, "%s: %s\n", argv[0], unfit);
        return 2;
    }
    g_report = fopen("server_report.txt", "w");
    if (!g_report)
        fprintf(stderr, "server: cannot write server_report.txt; printing only\n");
    say("xshm stress test: server (library %u.%u.%u)\n", shm_version() / 10000,
        shm_version() / 100 % 100, shm_version() % 100);

    shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
    cfg.size = o.ring_size;
    cfg.max_readers = 1;
    cfg.blocking = !o.busy;
    cfg.timeout_ms = 1000; /* blocked receives come back to check the peer */
    g_server = shm_server_create(o.name, &cfg);
    if (!g_server) {
        say("server: cannot create channel '%s': %s\n", o.name, shm_strerror(shm_last_error()));
        return finish(1);
    }
    g_busy = o.busy;
    g_ring_size = o.ring_size;
    say("server: channel '%s' ready; waiting up to %u s for test_client\n", o.name,
        STRESS_PATIENCE_MS / 1000);

    int failures = 0;
    uint64_t w[CTRL_WORDS];
    shm_error_t e = recv_ctrl(K_HELLO, w, STRESS_PATIENCE_MS, false);
    if (e != SHM_SUCCESS || w[0] != STRESS_MAGIC) {
        if (e == SHM_ERROR_TIMEOUT)
            say("server: no client came within %u s\n", STRESS_PATIENCE_MS / 1000);
        else
            say("server: bad greeting from the client: %s\n",
                e == SHM_SUCCESS ? "another protocol version" : step_error(e));
        shm_server_destroy(g_server);
        return finish(1);
    }
    uint64_t peer_count = w[1], peer_min = w[2], peer_max = w[3];
    bool peer_paced = w[4] != 0;
    say("server: client connected (%u-bit)\n", (unsigned)w[7]);
    if ((w[5] != 0) != o.busy)
        say("server: note: the client asked for --mode %s; the channel is %s\n",
            w[5] ? "busy" : "blocking", o.busy ? "busy" : "blocking");
    if (w[6] != o.ring_size)
        say("server: note: the client asked for --ring-size %" PRIu64 "; the channel has %u\n",
            w[6], o.ring_size);
    {
        uint64_t hello[8];
        hello_words(&o, o.busy, o.ring_size, hello);
        e = send_ctrl(K_HELLO, hello, 8);
    }
    params_print(&o, peer_count, peer_min, peer_max, peer_paced, "client");

    /* Phase (a). */
    uint64_t echoed = 0, damaged = 0;
    if (e == SHM_SUCCESS) {
        say("server: phase (a): echoing the client's messages\n");
        e = echo_phase(&echoed, &damaged);
    }
    if (e != SHM_SUCCESS) {
        say("server: phase (a) failed after %" PRIu64 " echoes: %s\n", echoed, step_error(e));
        shm_server_destroy(g_server);
        return finish(1);
    }
    say("server: phase (a): %" PRIu64 " messages echoed, %" PRIu64 " arrived damaged\n", echoed,
        damaged);
    if (damaged)
        failures++;

    /* Phase (b). */
    say("server: phase (b): sending %u messages while receiving the client's\n", o.count);
    tx_stats_t tx;
    rx_stats_t mine, theirs;
    run_both_ways(&o, SALT_SERVER_STREAM, false, &tx, &mine);
    if (tx.error != SHM_SUCCESS) {
        say("server: sending stopped after %" PRIu64 " messages: %s\n", tx.sent,
            shm_strerror(tx.error));
        failures++;
    }

    /* Exchange figures: the client's first, then ours. */
    memset(&theirs, 0, sizeof(theirs));
    rtt_summary_t rtt;
    memset(&rtt, 0, sizeof(rtt));
    e = recv_ctrl(K_RESULT, w, STRESS_PATIENCE_MS, true);
    if (e == SHM_SUCCESS) {
        rx_from_words(&theirs, w);
        rtt.count = w[13];
        rtt.failures = w[14];
        rtt.p50 = w[15];
        rtt.p90 = w[16];
        rtt.p99 = w[17];
        rtt.p999 = w[18];
        rtt.max = w[19];
        rtt.mean = w[20];
        memset(w, 0, sizeof(w));
        rx_to_words(&mine, w);
        w[13] = echoed;
        w[14] = damaged;
        e = send_ctrl(K_RESULT, w, 15);
    }
    if (e != SHM_SUCCESS) {
        say("server: no figures from the client: %s\n", step_error(e));
        failures++;
    }

    say("\n");
    if (e == SHM_SUCCESS) {
        rtt_print(&rtt);
        if (rtt.failures || rtt.count == 0)
            failures++;
    }
    say("phase (b): both directions at once, each side with a receiver thread\n");
    failures += direction_report("client -> server (checked here)", &mine, peer_paced);
    if (e == SHM_SUCCESS)
        failures += direction_report("server -> client (checked by the client)", &theirs,
                                     o.paced);

    /* The client says goodbye and leaves; a server never outlives it by more
     * than the patience limit. */
    if (e == SHM_SUCCESS) {
        e = recv_ctrl(K_BYE, w, STRESS_PATIENCE_MS, true);
        if (e != SHM_SUCCESS && e != SHM_ERROR_NOT_CONNECTED)
            say("server: no goodbye from the client: %s\n", step_error(e));
    }
    for (int i = 0; i < 100 && ep_peer_present(); i++)
        xs_sleep_ms(50);
    say("server: client left\n");
    shm_server_destroy(g_server);
    return finish(failures);
}
