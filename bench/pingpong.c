/*
 * pingpong.c - a cross-check of xshm_bench's "round trip 64 B, busy-poll"
 * row, written against the public API only (Linux).
 *
 *   pingpong [--size BYTES] [--seconds S]
 *
 * This process creates a channel (default config, non-blocking receive),
 * forks a client, and the two are pinned to the first two CPUs the process
 * may use. The server sends a message carrying a sequence number and polls
 * shm_server_receive() until the client, polling shm_client_receive(), has
 * sent it back; an echo that does not carry the number just sent stops the
 * run (a second message in flight would halve the figure). Each round trip is
 * timed on its own (TSC on x86, else the monotonic clock); beside the median
 * and p99, the mean is the run's length on the monotonic clock divided by the
 * round trips (the loop's own work included). Percentiles come from the
 * support library's histogram (within 0.8%).
 *
 * First, the same two processes ping-pong single cache lines of a shared
 * mapping, walking 512 line pairs as the benchmark's floor does: compare the
 * ratio of the two rows with xshm_bench's, not absolute figures from runs
 * of different moments.
 */
#define _GNU_SOURCE /* MAP_ANONYMOUS */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm_ipc.h"
#include "xsupport.h"

#define PAIRS 512u
#define STOP 0xFFFFFFFFu

typedef struct pair {
    _Alignas(128) volatile uint32_t ping; /* server writes */
    _Alignas(128) volatile uint32_t pong; /* client writes */
} pair_t;

static xs_hist_t g_hist; /* round trips, in ticks */
static double g_ticks_per_ns = 1.0;

static void pin(int cpu)
{
    if (!xs_pin_to(cpu)) {
        fprintf(stderr, "pingpong: cannot pin to CPU %d\n", cpu);
        exit(1);
    }
}

static void report(const char *what, uint64_t wall_ns)
{
    uint64_t n = g_hist.n;
    if (n == 0)
        return;
    printf("%-30s median %6.0f ns  p99 %7.0f ns  mean %7.0f ns  (%llu round trips)\n", what,
           xs_hist_quantile(&g_hist, 0.5) / g_ticks_per_ns,
           xs_hist_quantile(&g_hist, 0.99) / g_ticks_per_ns, (double)wall_ns / (double)n,
           (unsigned long long)n);
}

static void client(pair_t *pairs, const char *name)
{
    for (uint32_t i = 1;;) { /* cache lines: round trip i on pair i % PAIRS */
        uint32_t v = pairs[i % PAIRS].ping;
        if (v == STOP)
            break;
        if (v == i)
            pairs[i++ % PAIRS].pong = v;
    }
    shm_client_t *c = NULL;
    while (!(c = shm_client_connect(name))) {
    }
    static unsigned char buf[SHM_MAX_MESSAGE_SIZE];
    for (;;) {
        uint32_t n = sizeof(buf);
        shm_error_t e = shm_client_receive(c, buf, &n);
        if (e == SHM_ERROR_EMPTY)
            continue;
        if (e != SHM_SUCCESS || n == 1 || shm_client_send(c, buf, n) != SHM_SUCCESS)
            break;
    }
    shm_client_disconnect(c);
}

int main(int argc, char **argv)
{
    uint32_t size = 64;
    double seconds = 1.0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
            seconds = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: pingpong [--size BYTES] [--seconds S]\n");
            return 2;
        }
    }
    if (size < 8 || size > SHM_MAX_MESSAGE_SIZE || seconds <= 0) {
        fprintf(stderr, "pingpong: size 8..%u, seconds > 0\n", SHM_MAX_MESSAGE_SIZE);
        return 2;
    }
    int cpus[2] = {-1, -1};
    if (xs_cpus_allowed(cpus, 2) < 2) {
        fprintf(stderr, "pingpong: needs two CPUs\n");
        return 1;
    }
    pair_t *pairs = (pair_t *)mmap(NULL, sizeof(pair_t) * PAIRS, PROT_READ | PROT_WRITE,
                                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (pairs == MAP_FAILED) {
        fprintf(stderr, "pingpong: out of memory\n");
        return 1;
    }
    xs_hist_reset(&g_hist); /* no page faults while timing */
    char name[64];
    snprintf(name, sizeof(name), "pingpong.%ld", (long)getpid());

    pid_t child = fork();
    if (child < 0) {
        perror("pingpong: fork");
        return 1;
    }
    if (child == 0) {
        xs_parent_note();
        xs_die_with_parent();
        pin(cpus[1]);
        client(pairs, name);
        _exit(0);
    }
    pin(cpus[0]);
    printf("pingpong: server on CPU %d, client on CPU %d; %s; xshm %u.%u.%u\n", cpus[0], cpus[1],
           XS_TICKS_NAME, shm_version() / 10000, shm_version() / 100 % 100, shm_version() % 100);

    g_ticks_per_ns = xs_ticks_per_ns(100);
    uint64_t t0, end;

    /* floor: 0.2 s warm-up, then timed round trips */
    uint32_t i = 0;
    for (end = xs_now_ns() + 200000000u; xs_now_ns() < end;) {
        pair_t *p = &pairs[++i % PAIRS];
        p->ping = i;
        while (p->pong != i) {
        }
    }
    t0 = xs_now_ns();
    for (end = t0 + (uint64_t)(seconds * 1e9); xs_now_ns() < end;) {
        uint64_t a = xs_ticks();
        pair_t *p = &pairs[++i % PAIRS];
        p->ping = i;
        while (p->pong != i) {
        }
        xs_hist_add(&g_hist, xs_ticks() - a);
    }
    report("cache-line ping-pong", xs_now_ns() - t0);
    pairs[(i + 1) % PAIRS].ping = STOP;

    shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
    cfg.blocking = false;
    shm_server_t *s = shm_server_create(name, &cfg);
    if (!s) {
        fprintf(stderr, "pingpong: %s\n", shm_strerror(shm_last_error()));
        return 1;
    }
    static unsigned char out[SHM_MAX_MESSAGE_SIZE], in[SHM_MAX_MESSAGE_SIZE];
    memset(out, 0x5A, sizeof(out));
    uint64_t seq = 0;
    int bad = 0;
    end = xs_now_ns() + 10000000000u; /* the client connects, echoes a first message */
    while (shm_server_send(s, out, size) == SHM_ERROR_NOT_CONNECTED && !(bad = xs_now_ns() > end)) {
    }
    for (uint32_t m = sizeof(in); !bad && shm_server_receive(s, in, &m) != SHM_SUCCESS;
         m = sizeof(in))
        bad = xs_now_ns() > end;
    if (bad)
        fprintf(stderr, "pingpong: the client did not answer\n");
    xs_hist_reset(&g_hist);
    for (int timed = 0; timed < 2 && !bad; timed++) {
        t0 = xs_now_ns();
        end = t0 + (uint64_t)((timed ? seconds : 0.2) * 1e9);
        for (; xs_now_ns() < end;) {
            uint64_t a = xs_ticks();
            seq++;
            memcpy(out, &seq, 8);
            shm_server_send(s, out, size);
            uint32_t m = sizeof(in);
            shm_error_t e;
            while ((e = shm_server_receive(s, in, &m)) == SHM_ERROR_EMPTY)
                m = sizeof(in);
            if (timed)
                xs_hist_add(&g_hist, xs_ticks() - a);
            if (e != SHM_SUCCESS || m != size || memcmp(in, &seq, 8) != 0) {
                fprintf(stderr, "pingpong: echo of message %llu is not its own\n",
                        (unsigned long long)seq);
                bad = 1;
                break;
            }
        }
    }
    char what[64];
    snprintf(what, sizeof(what), "xshm %u B busy round trip", size);
    report(what, xs_now_ns() - t0);
    shm_server_send(s, out, 1);
    waitpid(child, NULL, 0);
    shm_server_destroy(s);
    return bad;
}
