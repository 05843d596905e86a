/*
 * echo_peer.c - the C side of bindings/python/bench_roundtrip.py.
 *
 *   xshm_echo_peer serve NAME [busy]
 *       Creates the channel NAME (the default configuration: blocking
 *       receive, with timeout_ms 200; with "busy", non-blocking receive,
 *       polled), prints "ready" and sends every message it receives back,
 *       until a message of 1 byte: then it exits 0. Exits 1 on an error, 2
 *       after 60 s without a message.
 *   xshm_echo_peer ping NAME SIZE WARMUP COUNT
 *       Connects to NAME, sends WARMUP then COUNT messages of SIZE bytes one
 *       at a time, each carrying its sequence number, and waits for each
 *       echo (receive as the server says: blocking, or polled while it
 *       answers SHM_ERROR_EMPTY). Prints "median_ns P50 p99_ns P99 count N"
 *       for the COUNT timed round trips (monotonic clock). Exits 0 when every
 *       echo was its own message.
 *
 * The Python client of the benchmark and the C pinger take turns against one
 * echo server, so the two figures differ only by the side that pings.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ipc.h"

#include "xs_time.h" /* the programs' support library: the clock */

#define IDLE_LIMIT_NS 60000000000ull

static int serve(const char *name, int busy)
{
    shm_ring_config_t config = SHM_DEFAULT_CONFIG();
    config.timeout_ms = 200;
    config.blocking = !busy;
    shm_server_t *server = shm_server_create(name, &config);
    if (!server) {
        fprintf(stderr, "echo_peer: cannot create '%s': %s\n", name,
                shm_strerror(shm_last_error()));
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    static unsigned char buf[SHM_MAX_MESSAGE_SIZE];
    int rc = 0;
    uint64_t last = xs_now_ns();
    for (;;) {
        uint32_t size = sizeof(buf);
        shm_error_t err = shm_server_receive(server, buf, &size);
        if (err == SHM_SUCCESS) {
            if (size == 1)
                break; /* the end */
            last = 0;
            err = shm_server_send(server, buf, size);
            if (err != SHM_SUCCESS && err != SHM_ERROR_NOT_CONNECTED) {
                fprintf(stderr, "echo_peer: send: %s\n", shm_strerror(err));
                rc = 1;
                break;
            }
            continue;
        }
        if (err != SHM_ERROR_EMPTY && err != SHM_ERROR_TIMEOUT) {
            fprintf(stderr, "echo_peer: receive: %s\n", shm_strerror(err));
            rc = 1;
            break;
        }
        uint64_t t = xs_now_ns();
        if (last == 0)
            last = t; /* idle since now */
        if (t - last >= IDLE_LIMIT_NS) {
            fprintf(stderr, "echo_peer: no message for 60 s\n");
            rc = 2;
            break;
        }
    }
    shm_server_destroy(server);
    return rc;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int ping(const char *name, uint32_t size, uint32_t warmup, uint32_t count)
{
    if (size < 8 || size > SHM_MAX_MESSAGE_SIZE || count == 0) {
        fprintf(stderr, "echo_peer: size 8..%u, count > 0\n", SHM_MAX_MESSAGE_SIZE);
        return 1;
    }
    shm_client_t *client = shm_client_connect(name);
    if (!client) {
        fprintf(stderr, "echo_peer: cannot connect to '%s': %s\n", name,
                shm_strerror(shm_last_error()));
        return 1;
    }
    static unsigned char out[SHM_MAX_MESSAGE_SIZE], in[SHM_MAX_MESSAGE_SIZE];
    uint64_t *samples = (uint64_t *)malloc(sizeof(uint64_t) * count);
    int rc = samples ? 0 : 1;
    memset(out, 0x5A, sizeof(out));
    for (uint64_t seq = 1; rc == 0 && seq <= (uint64_t)warmup + count; seq++) {
        memcpy(out, &seq, sizeof(seq));
        uint64_t t0 = xs_now_ns();
        shm_error_t err = shm_client_send(client, out, size);
        uint32_t got = sizeof(in);
        if (err == SHM_SUCCESS)
            while ((err = shm_client_receive(client, in, &got)) == SHM_ERROR_EMPTY)
                got = sizeof(in);
        uint64_t t1 = xs_now_ns();
        if (err != SHM_SUCCESS || got != size || memcmp(in, &seq, sizeof(seq)) != 0) {
            fprintf(stderr, "echo_peer: round trip %llu failed: %s\n", (unsigned long long)seq,
                    err != SHM_SUCCESS ? shm_strerror(err) : "not its own echo");
            rc = 1;
        } else if (seq > warmup) {
            samples[seq - warmup - 1] = t1 - t0;
        }
    }
    if (rc == 0) {
        qsort(samples, count, sizeof(uint64_t), cmp_u64);
        printf("median_ns %llu p99_ns %llu count %u\n", (unsigned long long)samples[count / 2],
               (unsigned long long)samples[(size_t)count * 99 / 100], count);
    }
    free(samples);
    shm_client_disconnect(client);
    return rc;
}

int main(int argc, char **argv)
{
    if ((argc == 3 || (argc == 4 && strcmp(argv[3], "busy") == 0)) &&
        strcmp(argv[1], "serve") == 0)
        return serve(argv[2], argc == 4);
    if (argc == 6 && strcmp(argv[1], "ping") == 0)
        return ping(argv[2], (uint32_t)strtoul(argv[3], NULL, 10),
                    (uint32_t)strtoul(argv[4], NULL, 10), (uint32_t)strtoul(argv[5], NULL, 10));
    fprintf(stderr, "usage: xshm_echo_peer serve NAME [busy]\n"
                    "       xshm_echo_peer ping NAME SIZE WARMUP COUNT\n");
    return 2;
}
