/*
 * stress_common.c - what test_server.c and test_client.c share: options,
 * the message format with its checks, the two phases and the report (see
 * stress_common.h). The OS part (clock, threads) is the support library's.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress_common.h"
#include "xsupport.h"

/* ---- output: stdout and the report file ----------------------------------------- */

FILE *g_report;

void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (g_report) {
        va_list copy;
        va_copy(copy, ap);
        vfprintf(g_report, fmt, copy);
        va_end(copy);
        fflush(g_report);
    }
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
}

/* ---- options (the same for both programs) ----------------------------------------- */

void usage(const char *prog)
{
    printf("usage: %s [options]\n"
           "  --name NAME        channel name (default xshm_stress)\n"
           "  --count N          messages each way in each phase (default %u; --quick: %u)\n"
           "  --min-size B       smallest message, >= 8 (default 8)\n"
           "  --max-size B       largest message, <= 65536 (default 65536)\n"
           "  --ring-size B      ring size, a power of two (default 4M; the server's counts)\n"
           "  --mode busy|blocking  poll a non-blocking receive, or block in receive\n"
           "                     (default blocking; the server's channel decides)\n"
           "  --paced            never let the sender run more than half a ring ahead\n"
           "                     of the receiver: nothing may be lost\n"
           "  --quick            a short run (%u messages each way)\n"
           "Sizes accept a K or M suffix (x1024, x1048576).\n",
           prog, STRESS_COUNT, STRESS_QUICK_COUNT, STRESS_QUICK_COUNT);
}

static bool parse_u32(const char *s, uint32_t *out)
{
    char *end = NULL;
    unsigned long long v;
    if (!s || !*s || *s == '-')
        return false;
    v = strtoull(s, &end, 10);
    if (end && (*end == 'k' || *end == 'K')) {
        v *= 1024u;
        end++;
    } else if (end && (*end == 'm' || *end == 'M')) {
        v *= 1024u * 1024u;
        end++;
    }
    if (!end || *end || v > 0xFFFFFFFFull)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* 0: run; 1: help printed; 2: bad usage (message printed). */
int parse_options(int argc, char **argv, options_t *o)
{
    bool count_given = false;
    o->name = "xshm_stress";
    o->name_given = false;
    o->count = STRESS_COUNT;
    o->min_size = 8;
    o->max_size = SHM_MAX_MESSAGE_SIZE;
    o->ring_size = 4u * 1024u * 1024u;
    o->busy = false;
    o->paced = false;
    o->quick = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = NULL;
        char key[32];
        const char *eq = strchr(a, '=');
        size_t klen = eq ? (size_t)(eq - a) : strlen(a);
        if (klen >= sizeof(key)) {
            fprintf(stderr, "%s: unknown option '%s'\n", argv[0], a);
            return 2;
        }
        memcpy(key, a, klen);
        key[klen] = '\0';
        if (strcmp(key, "--help") == 0 || strcmp(key, "-h") == 0) {
            usage(argv[0]);
            return 1;
        }
        if (strcmp(key, "--paced") == 0 || strcmp(key, "--quick") == 0) {
            if (eq) {
                fprintf(stderr, "%s: %s takes no value\n", argv[0], key);
                return 2;
            }
            if (key[2] == 'p')
                o->paced = true;
            else
                o->quick = true;
            continue;
        }
        if (eq)
            val = eq + 1;
        else if (i + 1 < argc)
            val = argv[++i];
        if (!val) {
            fprintf(stderr, "%s: %s needs a value\n", argv[0], key);
            return 2;
        }
        bool ok = true;
        if (strcmp(key, "--name") == 0) {
            o->name = val;
            o->name_given = true;
        } else if (strcmp(key, "--count") == 0) {
            ok = parse_u32(val, &o->count) && o->count > 0;
            count_given = true;
        } else if (strcmp(key, "--min-size") == 0) {
            ok = parse_u32(val, &o->min_size);
        } else if (strcmp(key, "--max-size") == 0) {
            ok = parse_u32(val, &o->max_size);
        } else if (strcmp(key, "--ring-size") == 0) {
            ok = parse_u32(val, &o->ring_size);
        } else if (strcmp(key, "--mode") == 0) {
            ok = strcmp(val, "busy") == 0 || strcmp(val, "blocking") == 0;
            o->busy = ok && val[1] == 'u';
        } else {
            fprintf(stderr, "%s: unknown option '%s' (--help lists them)\n", argv[0], key);
            return 2;
        }
        if (!ok) {
            fprintf(stderr, "%s: bad value '%s' for %s\n", argv[0], val, key);
            return 2;
        }
    }
    if (o->quick && !count_given)
        o->count = STRESS_QUICK_COUNT;
    if (o->min_size < 8 || o->max_size > SHM_MAX_MESSAGE_SIZE || o->min_size > o->max_size) {
        fprintf(stderr, "%s: need 8 <= --min-size <= --max-size <= %u\n", argv[0],
                SHM_MAX_MESSAGE_SIZE);
        return 2;
    }
    if (o->ring_size < SHM_MIN_RING_SIZE || o->ring_size > SHM_MAX_RING_SIZE ||
        (o->ring_size & (o->ring_size - 1)) != 0) {
        fprintf(stderr, "%s: --ring-size must be a power of two in %u..%u\n", argv[0],
                SHM_MIN_RING_SIZE, SHM_MAX_RING_SIZE);
        return 2;
    }
    return 0;
}

/* A ring of `ring` bytes can carry messages of `max` bytes; paced, it must
 * also hold two of the largest records in half a ring (see pace_window). */
const char *ring_fits(uint32_t ring, uint32_t max, bool paced)
{
    if (max > ring - 16u)
        return "--max-size is larger than the ring holds (ring size - 16)";
    if (paced && (uint64_t)ring < 4ull * (max + 24u))
        return "--paced needs --ring-size >= 4 x (--max-size + 24)";
    return NULL;
}

/* ---- messages (the format: stress_common.h) ------------------------------------------ */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 27;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 31;
    return x;
}

static uint64_t msg_sum(uint32_t seq, uint32_t size, uint32_t kind, const unsigned char *p,
                        uint32_t n)
{
    uint64_t a = mix64(((uint64_t)seq << 32) ^ ((uint64_t)size << 3) ^ kind);
    uint64_t b = ~a;
    uint32_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        a += w;
        b += a;
    }
    if (i < n) {
        uint64_t w = 0;
        memcpy(&w, p + i, n - i);
        a += w;
        b += a;
    }
    return mix64(a ^ mix64(b));
}

static uint32_t check12(uint64_t sum) { return (uint32_t)((sum * 0x9E3779B97F4A7C15ull) >> 52); }

static uint32_t hdr_len(uint32_t size) { return size >= 16 ? 16u : 8u; }

/* Pseudo-random payload after the header. */
void msg_fill(unsigned char *p, uint32_t size, uint64_t seed)
{
    uint64_t x = mix64(seed) | 1u;
    uint32_t i = hdr_len(size);
    for (; i + 8 <= size; i += 8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        memcpy(p + i, &x, 8);
    }
    for (; i < size; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

/* Write the header for the payload in place. */
void msg_seal(unsigned char *p, uint32_t kind, uint32_t seq, uint32_t size)
{
    uint32_t h = hdr_len(size);
    uint64_t sum = msg_sum(seq, size, kind, p + h, size - h);
    uint32_t info = size | (kind << 17) | (check12(sum) << 20);
    memcpy(p, &seq, 4);
    memcpy(p + 4, &info, 4);
    if (h == 16)
        memcpy(p + 8, &sum, 8);
}

/* True when p[0..n) is an intact message; then *kind and *seq are set. */
bool msg_open(const unsigned char *p, uint32_t n, uint32_t *kind, uint32_t *seq)
{
    uint32_t info;
    if (n < 8)
        return false;
    memcpy(seq, p, 4);
    memcpy(&info, p + 4, 4);
    if ((info & 0x1FFFFu) != n)
        return false;
    *kind = (info >> 17) & 7u;
    uint32_t h = hdr_len(n);
    uint64_t sum = msg_sum(*seq, n, *kind, p + h, n - h);
    if (check12(sum) != info >> 20)
        return false;
    if (h == 16) {
        uint64_t stored;
        memcpy(&stored, p + 8, 8);
        if (stored != sum)
            return false;
    }
    return true;
}

static void ctrl_set(unsigned char *p, uint32_t i, uint64_t v) { memcpy(p + 16 + 8 * i, &v, 8); }
static uint64_t ctrl_get(const unsigned char *p, uint32_t i)
{
    uint64_t v;
    memcpy(&v, p + 16 + 8 * i, 8);
    return v;
}

/*
 * Message sizes, a function of the sequence number: an octave between
 * min_size and max_size is picked with a bias to small ones (u^2), then a
 * size within it. For 8..65536: about 60% under 256 bytes, 4% over 32 KiB.
 */
static uint32_t log2_floor(uint32_t v)
{
    uint32_t r = 0;
    while (v >>= 1)
        r++;
    return r;
}

uint32_t size_for(uint32_t seq, uint64_t salt, uint32_t min, uint32_t max)
{
    if (min >= max)
        return min;
    uint64_t r = mix64(salt ^ ((uint64_t)seq * 0x9E3779B97F4A7C15ull));
    uint32_t lo = log2_floor(min), hi = log2_floor(max);
    uint64_t u = r & 0xFFFFu;
    uint32_t octave = lo + (uint32_t)(((uint64_t)(hi - lo + 1) * ((u * u) >> 16)) >> 16);
    uint64_t from = (uint64_t)1 << octave, to = ((uint64_t)1 << (octave + 1)) - 1;
    if (from < min)
        from = min;
    if (to > max)
        to = max;
    return (uint32_t)(from + (r >> 16) % (to - from + 1));
}

/* ---- the endpoint ------------------------------------------------------------------------ */

shm_server_t *g_server;
shm_client_t *g_client;

shm_error_t ep_send(const void *data, uint32_t size)
{
    return g_server ? shm_server_send(g_server, data, size) : shm_client_send(g_client, data, size);
}

shm_error_t ep_receive(void *data, uint32_t *size)
{
    return g_server ? shm_server_receive(g_server, data, size)
                    : shm_client_receive(g_client, data, size);
}

void ep_stats(shm_stats_t *st)
{
    shm_error_t e = g_server ? shm_server_get_stats(g_server, st)
                             : shm_client_get_stats(g_client, st);
    if (e != SHM_SUCCESS)
        memset(st, 0, sizeof(*st));
}

bool ep_peer_present(void)
{
    shm_stats_t st;
    ep_stats(&st);
    return st.connected != 0;
}

shm_ring_t *ep_tx_ring(void)
{
    return g_server ? shm_server_tx_ring(g_server) : shm_client_tx_ring(g_client);
}

/* ---- receiving and control messages ------------------------------------------------------ */

const char *g_self;
bool g_busy;
uint32_t g_ring_size;

/*
 * Receive one message within `patience_ms`: poll (busy mode) or block. While
 * polling, the CPU is given away after `spins` empty polls in a row (the other
 * threads of the test, or other programs, may need it). Checks every 100 ms
 * that the peer is still there when `check_peer`. Returns the library's
 * error, or SHM_ERROR_TIMEOUT / SHM_ERROR_NOT_CONNECTED.
 */
shm_error_t recv_wait(void *buf, uint32_t *size, uint32_t patience_ms, uint32_t spins,
                      bool check_peer)
{
    uint64_t start = xs_now_ns(), last_check = start;
    uint32_t cap = *size, empty = 0;
    for (;;) {
        uint32_t n = cap;
        shm_error_t e = ep_receive(buf, &n);
        if (e == SHM_SUCCESS) {
            *size = n;
            return e;
        }
        if (e != SHM_ERROR_EMPTY && e != SHM_ERROR_TIMEOUT)
            return e;
        empty++;
        if (e == SHM_ERROR_TIMEOUT || (empty & 1023u) == 0) {
            uint64_t t = xs_now_ns();
            if (t - start >= (uint64_t)patience_ms * 1000000u)
                return SHM_ERROR_TIMEOUT;
            if (check_peer && t - last_check >= 100000000u) {
                last_check = t;
                if (!ep_peer_present())
                    return SHM_ERROR_NOT_CONNECTED;
            }
        }
        if (e == SHM_ERROR_EMPTY) {
            if (empty > spins)
                xs_yield();
            else
                xs_cpu_relax();
        }
    }
}

/* Send a control message (never lost: nothing is written after it until
 * the peer answers). */
shm_error_t send_ctrl(uint32_t kind, const uint64_t *words, uint32_t nwords)
{
    unsigned char msg[CTRL_SIZE];
    memset(msg, 0, sizeof(msg));
    for (uint32_t i = 0; i < nwords && i < CTRL_WORDS; i++)
        ctrl_set(msg, i, words[i]);
    msg_seal(msg, kind, 0, CTRL_SIZE);
    return ep_send(msg, CTRL_SIZE);
}

/* The greeting: protocol version, what this side sends, the channel as it
 * sees it (busy, ring size) and its pointer width. */
void hello_words(const options_t *o, bool busy, uint32_t ring_size, uint64_t *w)
{
    w[0] = STRESS_MAGIC;
    w[1] = o->count;
    w[2] = o->min_size;
    w[3] = o->max_size;
    w[4] = o->paced;
    w[5] = busy;
    w[6] = ring_size;
    w[7] = sizeof(void *) * 8;
}

/* Wait for a control message of `kind`; anything else is a protocol error.
 * A BYE from the peer is returned as SHM_ERROR_CLOSED. */
shm_error_t recv_ctrl(uint32_t kind, uint64_t *words, uint32_t patience_ms,
                      bool check_peer)
{
    static unsigned char msg[SHM_MAX_MESSAGE_SIZE];
    uint32_t n = sizeof(msg), k, seq;
    shm_error_t e = recv_wait(msg, &n, patience_ms, SPINS_STREAM, check_peer);
    if (e != SHM_SUCCESS)
        return e;
    if (!msg_open(msg, n, &k, &seq) || n != CTRL_SIZE) {
        say("%s: expected a control message, got %u bytes that are not one\n", g_self, n);
        return SHM_ERROR_INVALID_SEGMENT;
    }
    for (uint32_t i = 0; i < CTRL_WORDS; i++)
        words[i] = ctrl_get(msg, i);
    if (k == K_BYE && kind != K_BYE)
        return SHM_ERROR_CLOSED;
    if (k != kind) {
        say("%s: expected control message %u, got %u\n", g_self, kind, k);
        return SHM_ERROR_INVALID_SEGMENT;
    }
    return SHM_SUCCESS;
}

/* ---- phase (a): round-trip percentiles ----------------------------------------------- */

void rtt_print(const rtt_summary_t *s)
{
    say("phase (a): round trip client -> server -> client, one message in flight\n");
    say("  echoes            %" PRIu64 " (failed: %" PRIu64 ")\n", s->count, s->failures);
    if (s->count)
        say("  round trip (us)   p50 %.1f   p90 %.1f   p99 %.1f   p99.9 %.1f   max %.1f"
            "   mean %.1f\n",
            s->p50 / 1e3, s->p90 / 1e3, s->p99 / 1e3, s->p999 / 1e3, s->max / 1e3,
            s->mean / 1e3);
}

/* ---- phase (b): both directions at full speed ------------------------------------------- */

void rx_to_words(const rx_stats_t *r, uint64_t *w)
{
    w[0] = r->received;
    w[1] = r->lost;
    w[2] = r->corrupted;
    w[3] = r->out_of_order;
    w[4] = r->bytes;
    w[5] = r->peer_sent;
    w[6] = r->peer_bytes;
    w[7] = r->peer_tx_ns;
    w[8] = r->rx_ns;
    w[9] = r->lib_lost;
    w[10] = r->error;
    w[11] = r->unexpected;
    w[12] = r->ended;
}

void rx_from_words(rx_stats_t *r, const uint64_t *w)
{
    r->received = w[0];
    r->lost = w[1];
    r->corrupted = w[2];
    r->out_of_order = w[3];
    r->bytes = w[4];
    r->peer_sent = w[5];
    r->peer_bytes = w[6];
    r->peer_tx_ns = w[7];
    r->rx_ns = w[8];
    r->lib_lost = w[9];
    r->error = w[10];
    r->unexpected = w[11];
    r->ended = w[12];
}

/* The receiver thread: reads one direction until the sender's END. */
static void rx_thread(void *arg)
{
    rx_stats_t *r = (rx_stats_t *)arg;
    unsigned char *buf = (unsigned char *)malloc(SHM_MAX_MESSAGE_SIZE);
    uint64_t t0 = xs_now_ns();
    uint32_t expected = 0;
    if (!buf) {
        r->error = (uint64_t)-(int64_t)SHM_ERROR_MEMORY;
        return;
    }
    for (;;) {
        uint32_t n = SHM_MAX_MESSAGE_SIZE, kind, seq;
        shm_error_t e = recv_wait(buf, &n, STRESS_PATIENCE_MS, SPINS_STREAM, true);
        if (e != SHM_SUCCESS) {
            r->error = (uint64_t)-(int64_t)e;
            break;
        }
        if (r->received == 0 && r->corrupted == 0)
            xs_flag_raise(&r->started);
        if (!msg_open(buf, n, &kind, &seq)) {
            r->corrupted++;
            continue;
        }
        if (kind == K_DATA) {
            if (seq >= expected) {
                r->lost += seq - expected;
                expected = seq + 1;
                r->received++;
                r->bytes += n;
            } else {
                r->out_of_order++;
            }
        } else if (kind == K_END && n == CTRL_SIZE) {
            r->peer_sent = ctrl_get(buf, 0);
            r->peer_bytes = ctrl_get(buf, 1);
            r->peer_tx_ns = ctrl_get(buf, 2);
            if (r->peer_sent > expected)
                r->lost += r->peer_sent - expected; /* the last ones were overwritten */
            r->ended = 1;
            break;
        } else {
            r->unexpected++;
        }
    }
    r->rx_ns = xs_now_ns() - t0;
    free(buf);
}

/*
 * Paced sending: wait until this message fits in the window. The window is
 * half the ring: with at most ring/2 bytes unread, plus this record and a
 * padding record at the wrap (each at most the record size), the writer
 * never reaches bytes the receiver has not copied out yet.
 */
static shm_error_t pace_window(uint32_t size)
{
    uint64_t record = 16u + ((size + 7u) & ~7u);
    uint64_t limit = g_ring_size / 2u;
    uint64_t start = 0;
    for (uint32_t spins = 0;; spins++) {
        uint64_t in_flight = g_ring_size - shm_ring_available(ep_tx_ring());
        if (in_flight + 2 * record <= limit)
            return SHM_SUCCESS;
        if (spins < 64) {
            xs_cpu_relax();
            continue;
        }
        uint64_t t = xs_now_ns();
        if (start == 0)
            start = t;
        if (t - start > (uint64_t)STRESS_PATIENCE_MS * 1000000u)
            return SHM_ERROR_TIMEOUT;
        if ((spins & 1023u) == 0 && !ep_peer_present())
            return SHM_ERROR_NOT_CONNECTED;
        if (t - start > 2000000u)
            xs_sleep_ms(1); /* the receiver is asleep or descheduled */
        else
            xs_yield();
    }
}

/* Send `count` data messages as fast as possible (or paced), then END. */
static void send_stream(const options_t *o, uint64_t salt, tx_stats_t *t)
{
    unsigned char *buf = (unsigned char *)malloc(SHM_MAX_MESSAGE_SIZE);
    uint64_t t0 = xs_now_ns();
    memset(t, 0, sizeof(*t));
    if (!buf) {
        t->error = SHM_ERROR_MEMORY;
        return;
    }
    for (uint32_t seq = 0; seq < o->count; seq++) {
        uint32_t n = size_for(seq, salt, o->min_size, o->max_size);
        msg_fill(buf, n, salt + seq);
        msg_seal(buf, K_DATA, seq, n);
        if (o->paced) {
            t->error = pace_window(n);
            if (t->error != SHM_SUCCESS)
                break;
        }
        t->error = ep_send(buf, n);
        if (t->error != SHM_SUCCESS)
            break;
        t->sent++;
        t->bytes += n;
    }
    t->tx_ns = xs_now_ns() - t0;
    free(buf);
    if (t->error == SHM_SUCCESS) {
        uint64_t w[3];
        w[0] = t->sent;
        w[1] = t->bytes;
        w[2] = t->tx_ns;
        t->error = send_ctrl(K_END, w, 3);
    }
}

/*
 * Run phase (b) on this side: a receiver thread takes the peer's stream while
 * this thread sends its own. No message may be lost before both receivers
 * run, so the client (`lead`) starts its receiver, announces the phase with
 * K_START (which the server reads before starting its own receiver and
 * stream), and sends only once the server's stream has begun.
 */
void run_both_ways(const options_t *o, uint64_t salt, bool lead, tx_stats_t *tx,
                   rx_stats_t *rx)
{
    shm_stats_t before, after;
    xs_thread_t th;
    memset(rx, 0, sizeof(*rx));
    memset(tx, 0, sizeof(*tx));
    ep_stats(&before);
    if (!xs_thread_start(&th, rx_thread, rx)) {
        rx->error = (uint64_t)-(int64_t)SHM_ERROR_SYSTEM;
        tx->error = SHM_ERROR_SYSTEM;
        return;
    }
    if (lead) {
        uint64_t t0 = xs_now_ns();
        tx->error = send_ctrl(K_START, NULL, 0);
        while (tx->error == SHM_SUCCESS && !xs_flag_is_up(&rx->started)) {
            if (xs_now_ns() - t0 > (uint64_t)STRESS_PATIENCE_MS * 1000000u)
                tx->error = SHM_ERROR_TIMEOUT;
            xs_yield();
        }
    }
    if (tx->error == SHM_SUCCESS)
        send_stream(o, salt, tx);
    xs_thread_join(&th);
    ep_stats(&after);
    rx->lib_lost = after.messages_lost - before.messages_lost;
}

static double mbps(uint64_t bytes, uint64_t ns) { return ns ? (double)bytes * 1e3 / (double)ns : 0; }
static double mps(uint64_t msgs, uint64_t ns) { return ns ? (double)msgs * 1e9 / (double)ns : 0; }

/* Print one direction as its receiver saw it; returns the number of
 * failed checks. */
int direction_report(const char *label, const rx_stats_t *r, bool sender_paced)
{
    int bad = 0;
    say("  %s\n", label);
    say("    sent            %" PRIu64 " messages, %.1f MB in %.3f s: %.1f MB/s, %.0f msg/s\n",
        r->peer_sent, r->peer_bytes / 1e6, r->peer_tx_ns / 1e9, mbps(r->peer_bytes, r->peer_tx_ns),
        mps(r->peer_sent, r->peer_tx_ns));
    say("    received        %" PRIu64 " messages, %.1f MB in %.3f s: %.1f MB/s, %.0f msg/s\n",
        r->received, r->bytes / 1e6, r->rx_ns / 1e9, mbps(r->bytes, r->rx_ns),
        mps(r->received, r->rx_ns));
    say("    lost            %" PRIu64 " (%.3f%%) counted from sequence gaps; library stats: "
        "%" PRIu64 "\n",
        r->lost, r->peer_sent ? 100.0 * (double)r->lost / (double)r->peer_sent : 0.0,
        r->lib_lost);
    say("    corrupted       %" PRIu64 "\n", r->corrupted);
    say("    out of order    %" PRIu64 "\n", r->out_of_order);
    if (r->error) {
        say("    FAILED: receiving stopped: %s\n", shm_strerror((shm_error_t)-(int64_t)r->error));
        bad++;
    }
    if (!r->ended) {
        say("    FAILED: the sender's end-of-stream message never came\n");
        bad++;
    }
    if (r->corrupted) {
        say("    FAILED: corrupted messages\n");
        bad++;
    }
    if (r->out_of_order) {
        say("    FAILED: messages out of order\n");
        bad++;
    }
    if (r->unexpected) {
        say("    FAILED: %" PRIu64 " unexpected control messages\n", r->unexpected);
        bad++;
    }
    if (r->ended) {
        if (r->received + r->lost == r->peer_sent) {
            say("    received + lost = %" PRIu64 " = sent: exact\n", r->peer_sent);
        } else {
            say("    FAILED: received + lost = %" PRIu64 " != sent %" PRIu64 "\n",
                r->received + r->lost, r->peer_sent);
            bad++;
        }
        if (r->lib_lost != r->lost) {
            say("    FAILED: the library counted %" PRIu64 " lost, the sequence numbers %" PRIu64
                "\n",
                r->lib_lost, r->lost);
            bad++;
        }
    }
    if (sender_paced && r->lost) {
        say("    FAILED: messages lost although the sender was paced\n");
        bad++;
    }
    return bad;
}

void params_print(const options_t *o, uint64_t peer_count, uint64_t peer_min,
                  uint64_t peer_max, bool peer_paced, const char *peer)
{
    say("parameters\n");
    say("  channel           %s\n", o->name);
    say("  ring size         %u bytes per direction\n", g_ring_size);
    say("  receive mode      %s\n", g_busy ? "busy (non-blocking receive, polled)"
                                           : "blocking (config.blocking = true, 1 s timeout)");
    say("  messages          %s sends %u per phase, %s sends %" PRIu64 "%s\n", g_self, o->count,
        peer, peer_count, o->quick ? " (--quick)" : "");
    say("  sizes             %s: %u..%u bytes, %s: %" PRIu64 "..%" PRIu64
        " bytes (skewed to small)\n",
        g_self, o->min_size, o->max_size, peer, peer_min, peer_max);
    say("  pacing            %s: %s, %s: %s\n", g_self,
        o->paced ? "on (less than half a ring in flight)" : "off", peer,
        peer_paced ? "on" : "off");
    say("  pointer width     %u-bit\n", (unsigned)(sizeof(void *) * 8));
}

