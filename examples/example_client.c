/*
 * example_client.c - the echo client of the xshm examples.
 *
 * Connects to example_server, sends messages of varied sizes (1 byte to
 * 64 KiB), checks that every echo comes back intact and in order, and prints
 * the round-trip times. Exits 0 when every echo matched.
 *
 *   example_client [channel-name] [messages]
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm_ipc.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
static double now_us(void)
{
    LARGE_INTEGER f, c;
    QueryPerformanceFrequency(&f);
    QueryPerformanceCounter(&c);
    return (double)c.QuadPart * 1e6 / (double)f.QuadPart;
}
static void pause_ms(unsigned ms) { Sleep(ms); }
#else
static double now_us(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}
static void pause_ms(unsigned ms)
{
    struct timespec ts = {0, (long)ms * 1000000L};
    nanosleep(&ts, NULL);
}
#endif

static void on_event(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    (void)ud;
    (void)sz;
    if (type == SHM_EVENT_CONNECT)
        printf("client: connected to server (pid %u, %u-bit)\n",
               ((const shm_peer_info_t *)data)->pid, ((const shm_peer_info_t *)data)->ptr_bits);
    else if (type == SHM_EVENT_DISCONNECT)
        printf("client: server went away\n");
    fflush(stdout);
}

/* Message i: its size and its bytes are a function of i. */
static uint32_t msg_size(uint32_t i)
{
    static const uint32_t sizes[] = {1, 7, 64, 100, 1000, 4096, 10000, 32768, 65536};
    return i < 9 ? sizes[i] : 1 + (i * 2654435761u) % (i % 10 == 0 ? 65536u : 2048u);
}

static void fill(unsigned char *p, uint32_t n, uint32_t i)
{
    for (uint32_t k = 0; k < n; k++)
        p[k] = (unsigned char)(i * 31u + k * 7u);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "xshm_example";
    uint32_t count = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 10) : 5000;
    if (count == 0)
        count = 1;

    /* The library retries for about 500 ms; give a server started at the
     * same moment up to 10 s. */
    shm_client_t *client = NULL;
    for (int attempt = 0; attempt < 20 && !client; attempt++) {
        client = shm_client_connect(name);
        if (!client && shm_last_error() != SHM_ERROR_NOT_FOUND)
            break;
        if (!client)
            pause_ms(1);
    }
    if (!client) {
        fprintf(stderr, "client: cannot connect to '%s': %s\n", name,
                shm_strerror(shm_last_error()));
        return 1;
    }
    shm_client_register_callback(client, on_event, NULL);

    static unsigned char out[SHM_MAX_MESSAGE_SIZE], in[SHM_MAX_MESSAGE_SIZE];
    double *rtt = (double *)malloc(sizeof(double) * count);
    unsigned long long bytes = 0;
    int rc = 0;
    for (uint32_t i = 0; i < count && rtt; i++) {
        uint32_t n = msg_size(i);
        fill(out, n, i);
        double t0 = now_us();
        shm_error_t err = shm_client_send(client, out, n);
        if (err != SHM_SUCCESS) {
            fprintf(stderr, "client: send %u failed: %s\n", i, shm_strerror(err));
            rc = 1;
            break;
        }
        uint32_t got = sizeof(in);
        err = shm_client_receive(client, in, &got);
        rtt[i] = now_us() - t0;
        if (err != SHM_SUCCESS) {
            fprintf(stderr, "client: no echo for message %u: %s\n", i, shm_strerror(err));
            rc = 1;
            break;
        }
        if (got != n || memcmp(in, out, n) != 0) {
            fprintf(stderr, "client: echo %u differs (%u bytes sent, %u received)\n", i, n, got);
            rc = 1;
            break;
        }
        bytes += n;
    }
    if (rc == 0 && rtt) {
        qsort(rtt, count, sizeof(double), cmp_double);
        printf("client: %u echoes of 1..65536 bytes (%.1f MiB) all intact\n", count,
               (double)bytes * 2 / (1024.0 * 1024.0));
        printf("client: round trip median %.1f us, p90 %.1f us, p99 %.1f us, max %.1f us\n",
               rtt[count / 2], rtt[(size_t)count * 9 / 10], rtt[(size_t)count * 99 / 100],
               rtt[count - 1]);
    }
    free(rtt);
    shm_client_disconnect(client);
    return rc;
}
