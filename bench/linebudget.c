/*
 * linebudget.c - the cache-line budget of a busy-poll round trip, counted.
 *
 *   linebudget [--size BYTES] [--rounds N] [--check MOVES]
 *
 * Built against the library compiled again with XSHM_LINE_TRACE, in which
 * every access to a shared word or a copy into or out of a ring reports its
 * address, size and whether it writes (src/platform/atomics.h). One thread
 * plays both sides of a channel (default config, non-blocking receive), as
 * the two processes of bench/pingpong.c do:
 *
 *   client polls (empty), server sends, client receives     server -> client
 *   server polls (empty), client sends, server receives     client -> server
 *
 * Each cache line has a copy per side, valid or not, as in a MESI cache of
 * unlimited size: a side that reads or writes a line whose copy is invalid
 * (the other side wrote it since) moves the line to its core; a side that
 * writes a line the other side holds invalidates that copy. After a warm-up
 * of a full lap of both rings, the table lists, per line of the channel,
 * what each side reads and writes and how many lines move per round trip,
 * split by direction. Real caches are finite: a ring larger than the cache
 * brings its data lines from memory as well; this counts only what the two
 * sides take from each other, which is what a round trip waits for.
 *
 * --check MOVES exits 1 when the lines moved per round trip exceed MOVES
 * (the budget stated in docs/performance.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shm_ipc.h"
#include "shm_ringbuffer.h"

/* ---- the cache model ------------------------------------------------------ */

enum { SIDE_SERVER = 0, SIDE_CLIENT = 1, DIR_S2C = 0, DIR_C2S = 1 };

#define MAX_KINDS 64
typedef struct kind {
    char name[96];
    uint64_t reads[2], writes[2]; /* accesses, per side */
    uint64_t moves[2];            /* per direction: lines moved to a core */
    uint64_t invals[2];           /* per direction: copies invalidated */
} kind_t;

typedef struct line {
    uintptr_t addr; /* line address + 1; 0: empty entry */
    uint8_t valid[2];
    int8_t kind;
} line_t;

#define TABLE_BITS 21
static line_t *g_lines;
static kind_t g_kinds[MAX_KINDS];
static int g_nkinds;
static int g_on;   /* counting */
static int g_side; /* who runs now */
static int g_dir;  /* which message is under way */

/* The channel, for naming lines. */
static uintptr_t g_base, g_end;
static uintptr_t g_cbase; /* the client's mapping of the same segment */
static xshm_segment_t g_seg;

static int kind_of_name(const char *name)
{
    for (int i = 0; i < g_nkinds; i++)
        if (strcmp(g_kinds[i].name, name) == 0)
            return i;
    if (g_nkinds == MAX_KINDS) {
        fprintf(stderr, "linebudget: too many kinds of line\n");
        exit(2);
    }
    snprintf(g_kinds[g_nkinds].name, sizeof(g_kinds[g_nkinds].name), "%s", name);
    return g_nkinds++;
}

static const char *header_line_name(uint32_t line)
{
    static const char *names[] = {"0 (limit, identity)", "1 (tail)",
                                  "2 (head, pub_ver, next_seq)", "3 (waiters)"};
    return line < 4 ? names[line] : "?";
}

/* Name of the line at address a. */
static int classify(uintptr_t a)
{
    char name[96];
    if (a < g_base || a >= g_end)
        return kind_of_name("process-local words");
    if (a < g_base + sizeof(xshm_seg_header_t))
        return kind_of_name("segment header");
    for (uint32_t r = 0; r < g_seg.ring_count; r++) {
        const shm_ring_t *ring = &g_seg.rings[r];
        uintptr_t h = (uintptr_t)ring->hdr, s = (uintptr_t)ring->slots, d = (uintptr_t)ring->data;
        if (a >= h && a < s) {
            snprintf(name, sizeof(name), "ring %u header line %s", r,
                     header_line_name((uint32_t)((a - h) / 64u)));
            return kind_of_name(name);
        }
        if (a >= s && a < d) {
            uint32_t off = (uint32_t)(a - s);
            snprintf(name, sizeof(name), "ring %u slot %u line %u (%s)", r,
                     off / (uint32_t)sizeof(xshm_reader_slot_t), off % 128u / 64u,
                     off % 128u < 64u ? "cursor, counters" : "claim, waiting");
            return kind_of_name(name);
        }
        if (a >= d && a < d + ring->capacity) {
            snprintf(name, sizeof(name), "ring %u data (records)", r);
            return kind_of_name(name);
        }
    }
    return kind_of_name("segment (other)");
}

static line_t *line_at(uintptr_t a)
{
    uintptr_t key = (a & ~(uintptr_t)63) + 1;
    size_t mask = ((size_t)1 << TABLE_BITS) - 1;
    size_t i = (size_t)((key >> 6) * 0x9E3779B97F4A7C15ull >> 20) & mask;
    for (;;) {
        line_t *l = &g_lines[i];
        if (l->addr == key)
            return l;
        if (l->addr == 0) {
            l->addr = key;
            l->kind = (int8_t)classify(a & ~(uintptr_t)63);
            return l;
        }
        i = (i + 1) & mask;
    }
}

static void touch(uintptr_t a, int write)
{
    line_t *l = line_at(a);
    kind_t *k = &g_kinds[l->kind];
    int me = g_side, other = 1 - g_side;
    if (write)
        k->writes[me]++;
    else
        k->reads[me]++;
    if (!l->valid[me])
        k->moves[g_dir]++;
    else if (write && l->valid[other])
        k->invals[g_dir]++;
    l->valid[me] = 1;
    if (write)
        l->valid[other] = 0;
}

void xshm_line_trace(const void *p, size_t n, int write)
{
    if (!g_on || n == 0)
        return;
    uintptr_t a = (uintptr_t)p;
    if (a >= g_cbase && a < g_cbase + (g_end - g_base))
        a = a - g_cbase + g_base; /* one line, whichever mapping names it */
    for (uintptr_t l = a & ~(uintptr_t)63; l < a + n; l += 64)
        touch(l, write);
}

static void reset_counts(void)
{
    for (int i = 0; i < g_nkinds; i++) {
        memset(g_kinds[i].reads, 0, sizeof(g_kinds[i].reads));
        memset(g_kinds[i].writes, 0, sizeof(g_kinds[i].writes));
        memset(g_kinds[i].moves, 0, sizeof(g_kinds[i].moves));
        memset(g_kinds[i].invals, 0, sizeof(g_kinds[i].invals));
    }
}

/* ---- the round trips -------------------------------------------------------- */

static void fail(const char *what, shm_error_t e)
{
    fprintf(stderr, "linebudget: %s: %s\n", what, shm_strerror(e));
    exit(2);
}

static void expect_empty(shm_error_t e, const char *who)
{
    if (e != SHM_ERROR_EMPTY)
        fail(who, e);
}

static void round_trip(shm_server_t *s, shm_client_t *c, uint8_t *msg, uint32_t size, uint32_t i)
{
    uint8_t buf[SHM_MAX_MESSAGE_SIZE];
    uint32_t n;
    memcpy(msg, &i, sizeof(i));

    g_dir = DIR_S2C;
    g_side = SIDE_CLIENT;
    n = sizeof(buf);
    expect_empty(shm_client_receive(c, buf, &n), "client poll");
    g_side = SIDE_SERVER;
    shm_error_t e = shm_server_send(s, msg, size);
    if (e != SHM_SUCCESS)
        fail("server send", e);
    g_side = SIDE_CLIENT;
    n = sizeof(buf);
    e = shm_client_receive(c, buf, &n);
    if (e != SHM_SUCCESS || n != size || memcmp(buf, msg, size) != 0)
        fail("client receive", e == SHM_SUCCESS ? SHM_ERROR_INVALID_SEGMENT : e);

    g_dir = DIR_C2S;
    g_side = SIDE_SERVER;
    n = sizeof(buf);
    expect_empty(shm_server_receive(s, buf, &n), "server poll");
    g_side = SIDE_CLIENT;
    e = shm_client_send(c, buf, size);
    if (e != SHM_SUCCESS)
        fail("client send", e);
    g_side = SIDE_SERVER;
    n = sizeof(buf);
    e = shm_server_receive(s, buf, &n);
    if (e != SHM_SUCCESS || n != size || memcmp(buf, msg, size) != 0)
        fail("server receive", e == SHM_SUCCESS ? SHM_ERROR_INVALID_SEGMENT : e);
}

static double per(uint64_t v, uint32_t rounds) { return (double)v / (double)rounds; }

int main(int argc, char **argv)
{
    uint32_t size = 64, rounds = 0;
    double check = -1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--size") == 0 && i + 1 < argc)
            size = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
            rounds = (uint32_t)strtoul(argv[++i], NULL, 10);
        else if (strcmp(argv[i], "--check") == 0 && i + 1 < argc)
            check = strtod(argv[++i], NULL);
        else {
            fprintf(stderr, "usage: linebudget [--size BYTES] [--rounds N] [--check MOVES]\n");
            return 2;
        }
    }
    if (size < sizeof(uint32_t) || size > SHM_MAX_MESSAGE_SIZE) {
        fprintf(stderr, "linebudget: --size must be 4..%u\n", SHM_MAX_MESSAGE_SIZE);
        return 2;
    }
    g_lines = (line_t *)calloc((size_t)1 << TABLE_BITS, sizeof(line_t));
    uint8_t *msg = (uint8_t *)calloc(1, size);
    if (!g_lines || !msg)
        return 2;

    char name[64];
    snprintf(name, sizeof(name), "linebudget-%ld", (long)getpid());
    shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
    cfg.blocking = false;
    shm_server_t *s = shm_server_create(name, &cfg);
    if (!s)
        fail("server create", shm_last_error());
    shm_client_t *c = shm_client_connect(name);
    if (!c)
        fail("client connect", shm_last_error());

    /* The segment: ring 0 follows its header. */
    shm_ring_t *tx = shm_server_tx_ring(s);
    g_base = (uintptr_t)tx->hdr - sizeof(xshm_seg_header_t);
    const xshm_seg_header_t *sh = (const xshm_seg_header_t *)g_base;
    g_end = g_base + (uintptr_t)sh->total_size;
    if (xshm_segment_attach(&g_seg, (void *)g_base, (size_t)sh->total_size) != SHM_SUCCESS)
        fail("naming the segment's lines", SHM_ERROR_INVALID_SEGMENT);

    /* The client maps the segment at another address: its ring is the one
     * after ring 0 that it writes. */
    shm_ring_t *ctx = shm_client_tx_ring(c);
    uint32_t cring = (uint32_t)ctx->hdr->ring_index;
    if (cring == 0 || cring >= g_seg.ring_count)
        fail("naming the client's mapping", SHM_ERROR_INVALID_SEGMENT);
    g_cbase = (uintptr_t)ctx->hdr - ((uintptr_t)g_seg.rings[cring].hdr - g_base);

    /* Warm-up: every record line of both rings written and read once, so
     * that steady state is what is counted. */
    uint32_t record = (SHM_MESSAGE_OVERHEAD + size + 7u) & ~7u;
    uint32_t warm = cfg.size / record + 16u;
    if (rounds == 0)
        rounds = warm + 1000u; /* at least a lap, so every record placement counts */
    g_on = 1;
    for (uint32_t i = 0; i < warm; i++)
        round_trip(s, c, msg, size, i);
    reset_counts();
    for (uint32_t i = 0; i < rounds; i++)
        round_trip(s, c, msg, size, warm + i);
    g_on = 0;

    printf("cache-line budget of a %u B busy-poll round trip (%u round trips after a lap of warm-up)\n",
           size, rounds);
    printf("per round trip: accesses by each side, and lines moved to a core (invalidations)\n");
    printf("%-44s %8s %8s %8s %8s %14s %14s\n", "line", "srv rd", "srv wr", "cli rd", "cli wr",
           "moved s->c", "moved c->s");
    double total[2] = {0, 0}, inval[2] = {0, 0};
    for (int i = 0; i < g_nkinds; i++) {
        kind_t *k = &g_kinds[i];
        if (k->reads[0] + k->reads[1] + k->writes[0] + k->writes[1] == 0)
            continue;
        printf("%-44s %8.2f %8.2f %8.2f %8.2f %6.2f (%5.2f) %6.2f (%5.2f)\n", k->name,
               per(k->reads[0], rounds), per(k->writes[0], rounds), per(k->reads[1], rounds),
               per(k->writes[1], rounds), per(k->moves[0], rounds), per(k->invals[0], rounds),
               per(k->moves[1], rounds), per(k->invals[1], rounds));
        for (int d = 0; d < 2; d++) {
            total[d] += per(k->moves[d], rounds);
            inval[d] += per(k->invals[d], rounds);
        }
    }
    printf("%-44s %8s %8s %8s %8s %6.2f (%5.2f) %6.2f (%5.2f)\n", "total", "", "", "", "",
           total[0], inval[0], total[1], inval[1]);
    double moves = total[0] + total[1];
    printf("lines moved per round trip: %.2f (%.2f per message)\n", moves, moves / 2);

    g_seg.shm.base = NULL; /* the server's mapping: not ours to unmap */
    shm_client_disconnect(c);
    shm_server_destroy(s);
    free(msg);
    free(g_lines);
    if (check >= 0 && moves > check) {
        printf("linebudget: %.2f lines moved per round trip, more than the budget of %.2f\n", moves,
               check);
        return 1;
    }
    if (check >= 0)
        printf("linebudget: within the budget of %.2f lines per round trip\n", check);
    return 0;
}
