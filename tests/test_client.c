/*
 * test_client.c - the client of the xshm bidirectional stress test.
 *
 * Connects to test_server (retrying for up to 10 s while the channel does
 * not exist yet), then:
 *   (a) round trip: sends --count messages of mixed sizes one at a time,
 *       each echoed by the server, and times every round trip with the
 *       monotonic clock: p50, p90, p99, p99.9 and max;
 *   (b) throughput and loss: sends its own stream to the server while a
 *       receiver thread checks the server's stream (sequence numbers, sizes,
 *       checksums); both sides send at full speed at the same time (or, with
 *       --paced, never more than half a ring ahead of the receiver);
 * writes test_log.txt in the working folder (and prints it), says goodbye
 * and disconnects. Exits 0 when every check passed, 1 otherwise, 2 on bad
 * usage.
 *
 *   test_client [--name NAME] [--count N] [--min-size B] [--max-size B]
 *               [--ring-size B] [--mode busy|blocking] [--paced] [--quick]
 *               [--spawn-server PATH]
 *
 * --spawn-server PATH starts the server itself (PATH, with the same options,
 * on a channel of its own unless --name is given), waits for it and includes
 * its verdict and report: one command for a test runner.
 *
 * The channel's ring size and receive mode are the server's; the client
 * notes when its own options differ. Timing is printed, never asserted.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "stress_common.h"
#include "xsupport.h"

/* ---- the client's side ------------------------------------------------------------------ */

#define SALT_ECHO 0xEC40EC4000000001ull
#define SALT_CLIENT_STREAM 0xC11E47C100000003ull
#define CONNECT_PATIENCE_NS 10000000000ull /* 10 s */

/* The round trips' percentiles (support/xs_hist.h: within 0.8%), max and
 * mean (exact), in ns. */
static void rtt_summarize(const xs_hist_t *h, rtt_summary_t *s)
{
    s->count = h->n;
    if (h->n == 0)
        return;
    s->p50 = (uint64_t)xs_hist_quantile(h, 0.50);
    s->p90 = (uint64_t)xs_hist_quantile(h, 0.90);
    s->p99 = (uint64_t)xs_hist_quantile(h, 0.99);
    s->p999 = (uint64_t)xs_hist_quantile(h, 0.999);
    s->max = h->max;
    s->mean = (uint64_t)xs_hist_mean(h);
}

/* Phase (a): `count` round trips. Every echo must be the message sent. */
static void round_trips(const options_t *o, rtt_summary_t *s)
{
    unsigned char *out = (unsigned char *)malloc(SHM_MAX_MESSAGE_SIZE);
    unsigned char *in = (unsigned char *)malloc(SHM_MAX_MESSAGE_SIZE);
    xs_hist_t *rtt = (xs_hist_t *)malloc(sizeof(xs_hist_t));
    memset(s, 0, sizeof(*s));
    if (rtt)
        xs_hist_reset(rtt);
    if (!out || !in || !rtt) {
        say("client: out of memory for phase (a)\n");
        s->failures = 1;
    }
    for (uint32_t i = 0; i < o->count && s->failures == 0; i++) {
        uint32_t n = size_for(i, SALT_ECHO, o->min_size, o->max_size), got = SHM_MAX_MESSAGE_SIZE;
        msg_fill(out, n, SALT_ECHO + i);
        msg_seal(out, K_ECHO, i, n);
        uint64_t t0 = xs_now_ns();
        shm_error_t e = ep_send(out, n);
        if (e == SHM_SUCCESS)
            e = recv_wait(in, &got, STRESS_PATIENCE_MS, SPINS_LATENCY, true);
        uint64_t t1 = xs_now_ns();
        if (e != SHM_SUCCESS) {
            say("client: round trip %u failed: %s\n", i, shm_strerror(e));
            s->failures++;
        } else if (got != n || memcmp(in, out, n) != 0) {
            say("client: echo %u differs from the message sent (%u bytes sent, %u received)\n",
                i, n, got);
            s->failures++;
        } else {
            xs_hist_add(rtt, t1 - t0);
        }
    }
    if (rtt)
        rtt_summarize(rtt, s);
    free(rtt);
    free(in);
    free(out);
}

/* ---- --spawn-server: run test_server as a child (one command for a test) ------------------ */

static xs_proc_t g_spawned;

/* Start `path` with the run's options; its output goes to server_report.txt
 * only (printed here when it ends). */
static bool spawn_server(const char *path, const options_t *o)
{
    char count[16], mn[16], mx[16], ring[16];
    snprintf(count, sizeof(count), "%u", o->count);
    snprintf(mn, sizeof(mn), "%u", o->min_size);
    snprintf(mx, sizeof(mx), "%u", o->max_size);
    snprintf(ring, sizeof(ring), "%u", o->ring_size);
    const char *args[16];
    int n = 0;
    args[n++] = "--name";
    args[n++] = o->name;
    args[n++] = "--count";
    args[n++] = count;
    args[n++] = "--min-size";
    args[n++] = mn;
    args[n++] = "--max-size";
    args[n++] = mx;
    args[n++] = "--ring-size";
    args[n++] = ring;
    args[n++] = "--mode";
    args[n++] = o->busy ? "busy" : "blocking";
    if (o->paced)
        args[n++] = "--paced";
    if (o->quick)
        args[n++] = "--quick";
    args[n] = NULL;
    return xs_spawn(&g_spawned, path, args, XS_SPAWN_QUIET) == 0;
}

/* Wait for the spawned server (it leaves after the client, or after 30 s
 * without one); returns its exit status, -1 if it did not end. */
static int reap_server(void)
{
    int status = -1;
    if (xs_proc_wait_or_kill(&g_spawned, STRESS_PATIENCE_MS + 5000u, &status) != 0)
        status = -1;
    return status;
}

static int finish(int failures)
{
    if (g_spawned.pid != 0) {
        int st = reap_server();
        FILE *f = fopen("server_report.txt", "r");
        say("client: the server exited with status %d%s\n", st,
            st == 0 ? "" : st == -1 ? " (it did not end; killed)" : "");
        if (f) {
            char line[512];
            printf("---- server_report.txt ----\n");
            while (fgets(line, sizeof(line), f))
                fputs(line, stdout);
            printf("---- end of server_report.txt ----\n");
            fclose(f);
        }
        if (st != 0)
            failures++;
    }
    if (failures)
        say("RESULT: FAIL (%d failed check%s)\n", failures, failures == 1 ? "" : "s");
    else
        say("RESULT: PASS\n");
    if (g_report)
        fclose(g_report);
    g_report = NULL;
    return failures ? 1 : 0;
}

/* Leave after a failure, telling the server so that it does not wait. */
static int give_up(int failures)
{
    uint64_t bye = (uint64_t)failures;
    send_ctrl(K_BYE, &bye, 1);
    shm_client_disconnect(g_client);
    return finish(failures);
}

int main(int argc, char **argv)
{
    options_t o;
    const char *server_path = NULL;
    char unique[64];
    /* --spawn-server PATH is the client's own; the rest is common. */
    char **args = (char **)malloc(sizeof(char *) * (size_t)(argc + 1));
    int nargs = 0;
    if (!args)
        return 2;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--spawn-server") == 0 && i + 1 < argc)
            server_path = argv[++i];
        else if (strncmp(argv[i], "--spawn-server=", 15) == 0)
            server_path = argv[i] + 15;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(argv[0]);
            printf("  --spawn-server PATH  start the server (PATH, with the same options) and\n"
                   "                     include its verdict; the channel is named\n"
                   "                     xshm_stress_<pid> unless --name is given\n");
            free(args);
            return 0;
        } else
            args[nargs++] = argv[i];
    }
    args[nargs] = NULL;
    int rc = parse_options(nargs, args, &o);
    free(args);
    if (rc)
        return rc == 1 ? 0 : 2;
    g_self = "client";
    g_report = fopen("test_log.txt", "w");
    if (!g_report)
        fprintf(stderr, "client: cannot write test_log.txt; printing only\n");
    say("xshm stress test: client (library %u.%u.%u)\n", shm_version() / 10000,
        shm_version() / 100 % 100, shm_version() % 100);

    if (server_path) {
        if (!o.name_given) {
            snprintf(unique, sizeof(unique), "xshm_stress_%lu", (unsigned long)xs_pid());
            o.name = unique;
        }
        if (!spawn_server(server_path, &o)) {
            say("client: cannot start the server %s\n", server_path);
            return finish(1);
        }
        say("client: started %s (channel %s)\n", server_path, o.name);
    }

    /* shm_client_connect retries for about 500 ms; a server started at the
     * same moment gets 10 s. */
    uint64_t t0 = xs_now_ns();
    for (;;) {
        g_client = shm_client_connect(o.name);
        if (g_client || shm_last_error() != SHM_ERROR_NOT_FOUND ||
            xs_now_ns() - t0 >= CONNECT_PATIENCE_NS)
            break;
        xs_sleep_ms(10);
    }
    if (!g_client) {
        say("client: cannot connect to '%s': %s\n", o.name, shm_strerror(shm_last_error()));
        return finish(1);
    }

    uint64_t w[CTRL_WORDS];
    {
        uint64_t hello[8];
        hello_words(&o, o.busy, o.ring_size, hello);
        shm_error_t e = send_ctrl(K_HELLO, hello, 8);
        if (e == SHM_SUCCESS)
            e = recv_ctrl(K_HELLO, w, STRESS_PATIENCE_MS, true);
        if (e != SHM_SUCCESS || w[0] != STRESS_MAGIC) {
            say("client: no valid greeting from the server: %s\n",
                e == SHM_SUCCESS ? "another protocol version" : shm_strerror(e));
            return give_up(1);
        }
    }
    uint64_t peer_count = w[1], peer_min = w[2], peer_max = w[3];
    bool peer_paced = w[4] != 0;
    g_busy = w[5] != 0;
    g_ring_size = (uint32_t)w[6];
    say("client: connected to the server (%u-bit)\n", (unsigned)w[7]);
    if (g_busy != o.busy)
        say("client: note: --mode %s asked, but the server's channel is %s: using that\n",
            o.busy ? "busy" : "blocking", g_busy ? "busy" : "blocking");
    if (g_ring_size != o.ring_size)
        say("client: note: --ring-size %u asked, but the server's rings have %u bytes\n",
            o.ring_size, g_ring_size);
    const char *unfit = ring_fits(g_ring_size, o.max_size, o.paced);
    if (unfit) {
        say("client: %s (the server's ring size is %u)\n", unfit, g_ring_size);
        return give_up(1);
    }
    params_print(&o, peer_count, peer_min, peer_max, peer_paced, "server");

    /* Phase (a). */
    int failures = 0;
    rtt_summary_t rtt;
    say("client: phase (a): %u round trips\n", o.count);
    round_trips(&o, &rtt);
    if (rtt.failures) {
        rtt_print(&rtt);
        return give_up(1);
    }

    /* Phase (b). */
    tx_stats_t tx;
    rx_stats_t mine, theirs;
    memset(&theirs, 0, sizeof(theirs));
    say("client: phase (b): sending %u messages while receiving the server's\n", o.count);
    run_both_ways(&o, SALT_CLIENT_STREAM, true, &tx, &mine);
    if (tx.error != SHM_SUCCESS) {
        say("client: sending stopped after %" PRIu64 " messages: %s\n", tx.sent,
            shm_strerror(tx.error));
        failures++;
    }

    /* Exchange figures: ours first, then the server's. */
    memset(w, 0, sizeof(w));
    rx_to_words(&mine, w);
    w[13] = rtt.count;
    w[14] = rtt.failures;
    w[15] = rtt.p50;
    w[16] = rtt.p90;
    w[17] = rtt.p99;
    w[18] = rtt.p999;
    w[19] = rtt.max;
    w[20] = rtt.mean;
    shm_error_t e = send_ctrl(K_RESULT, w, 21);
    if (e == SHM_SUCCESS)
        e = recv_ctrl(K_RESULT, w, STRESS_PATIENCE_MS, true);
    if (e == SHM_SUCCESS) {
        rx_from_words(&theirs, w);
        if (w[14]) {
            say("client: the server saw %" PRIu64 " damaged messages in phase (a)\n", w[14]);
            failures++;
        }
    } else {
        say("client: no figures from the server: %s\n", shm_strerror(e));
        failures++;
    }

    say("\n");
    rtt_print(&rtt);
    say("phase (b): both directions at once, each side with a receiver thread\n");
    if (e == SHM_SUCCESS)
        failures += direction_report("client -> server (checked by the server)", &theirs,
                                     o.paced);
    failures += direction_report("server -> client (checked here)", &mine, peer_paced);

    {
        uint64_t bye = (uint64_t)failures;
        send_ctrl(K_BYE, &bye, 1);
    }
    shm_client_disconnect(g_client);
    return finish(failures);
}
