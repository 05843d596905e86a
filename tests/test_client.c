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
/* ==== common to test_server.c and test_client.c (keep the two copies identical) ==== */

#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#endif
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ipc.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <process.h>
#include <windows.h>
#else
#include <pthread.h>
#include <sched.h>
#include <time.h>
#endif

/* ---- platform helpers --------------------------------------------------------- */

#ifdef _WIN32
static uint64_t now_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER c;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&c);
    return (uint64_t)((double)c.QuadPart * 1e9 / (double)freq.QuadPart);
}
static void sleep_ms(unsigned ms) { Sleep(ms); }
static void yield_cpu(void) { SwitchToThread(); }
#define cpu_relax() YieldProcessor()
#else
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}
static void yield_cpu(void) { sched_yield(); }
#if defined(__i386__) || defined(__x86_64__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif
#endif

typedef struct thread {
    void (*fn)(void *);
    void *arg;
#ifdef _WIN32
    HANDLE handle;
#else
    pthread_t handle;
#endif
} thread_t;

#ifdef _WIN32
static unsigned __stdcall thread_main(void *p)
{
    thread_t *t = (thread_t *)p;
    t->fn(t->arg);
    return 0;
}
static bool thread_start(thread_t *t, void (*fn)(void *), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    t->handle = (HANDLE)_beginthreadex(NULL, 0, thread_main, t, 0, NULL);
    return t->handle != NULL;
}
static void thread_join(thread_t *t)
{
    WaitForSingleObject(t->handle, INFINITE);
    CloseHandle(t->handle);
}
#else
static void *thread_main(void *p)
{
    thread_t *t = (thread_t *)p;
    t->fn(t->arg);
    return NULL;
}
static bool thread_start(thread_t *t, void (*fn)(void *), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    return pthread_create(&t->handle, NULL, thread_main, t) == 0;
}
static void thread_join(thread_t *t) { pthread_join(t->handle, NULL); }
#endif

/* A flag one thread raises and another polls. */
#ifdef _WIN32
typedef volatile LONG flag_t;
static void flag_raise(flag_t *f) { InterlockedExchange(f, 1); }
static bool flag_is_up(flag_t *f) { return InterlockedCompareExchange(f, 0, 0) != 0; }
#else
typedef int flag_t;
static void flag_raise(flag_t *f) { __atomic_store_n(f, 1, __ATOMIC_RELEASE); }
static bool flag_is_up(flag_t *f) { return __atomic_load_n(f, __ATOMIC_ACQUIRE) != 0; }
#endif

/* ---- output: stdout and the report file ----------------------------------------- */

static FILE *g_report;

static void say(const char *fmt, ...)
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

#define STRESS_PATIENCE_MS 30000u /* no progress for this long: give up */
#define STRESS_COUNT 100000u
#define STRESS_QUICK_COUNT 10000u

typedef struct options {
    const char *name;
    bool name_given;
    uint32_t count;     /* messages this side sends in each phase */
    uint32_t min_size;  /* bytes */
    uint32_t max_size;
    uint32_t ring_size; /* bytes per ring (the server's value is used) */
    bool busy;          /* non-blocking receive, polled */
    bool paced;         /* keep less than half a ring in flight: no loss */
    bool quick;
} options_t;

static void usage(const char *prog)
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
static int parse_options(int argc, char **argv, options_t *o)
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
static const char *ring_fits(uint32_t ring, uint32_t max, bool paced)
{
    if (max > ring - 16u)
        return "--max-size is larger than the ring holds (ring size - 16)";
    if (paced && (uint64_t)ring < 4ull * (max + 24u))
        return "--paced needs --ring-size >= 4 x (--max-size + 24)";
    return NULL;
}

/* ---- messages ------------------------------------------------------------------------
 *
 * Every message starts with a header that makes it self-checking:
 *   bytes 0..3   u32 seq: the data sequence number of its stream (0 for control)
 *   bytes 4..7   u32 info: size (bits 0..16), kind (bits 17..19), check (bits 20..31)
 *   bytes 8..15  u64 sum (messages of 16 bytes or more)
 * `sum` covers the bytes after the header and is seeded with seq, size and
 * kind; `check` is 12 bits of it (for 8..15-byte messages, the sum covers
 * bytes 8..size-1). Control messages carry u64 words after the 16-byte header.
 */
enum { K_DATA = 0, K_ECHO = 1, K_HELLO = 2, K_START = 3, K_END = 4, K_RESULT = 5, K_BYE = 6 };

#define CTRL_WORDS 24u
#define CTRL_SIZE (16u + CTRL_WORDS * 8u)
#define STRESS_MAGIC 0x5853484D53545201ull /* hello: protocol version 1 */

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
static void msg_fill(unsigned char *p, uint32_t size, uint64_t seed)
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
static void msg_seal(unsigned char *p, uint32_t kind, uint32_t seq, uint32_t size)
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
static bool msg_open(const unsigned char *p, uint32_t n, uint32_t *kind, uint32_t *seq)
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

static uint32_t size_for(uint32_t seq, uint64_t salt, uint32_t min, uint32_t max)
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

/* ---- the endpoint (defined by each program) ------------------------------------------ */

static shm_error_t ep_send(const void *data, uint32_t size);
static shm_error_t ep_receive(void *data, uint32_t *size);
static bool ep_peer_present(void);
static void ep_stats(shm_stats_t *st);
static shm_ring_t *ep_tx_ring(void);

static const char *g_self;       /* "server" or "client" */
static bool g_busy;              /* the channel's receive mode */
static uint32_t g_ring_size;     /* the channel's ring size */

/*
 * Receive one message within `patience_ms`: poll (busy mode) or block. While
 * polling, the CPU is given away after `spins` empty polls in a row (the other
 * threads of the test, or other programs, may need it). Checks every 100 ms
 * that the peer is still there when `check_peer`. Returns the library's
 * error, or SHM_ERROR_TIMEOUT / SHM_ERROR_NOT_CONNECTED.
 */
#define SPINS_LATENCY 16384u /* round trips: pure polling unless the peer stalls */
#define SPINS_STREAM 64u     /* receiver threads, which share the CPUs with senders */

static shm_error_t recv_wait(void *buf, uint32_t *size, uint32_t patience_ms, uint32_t spins,
                             bool check_peer)
{
    uint64_t start = now_ns(), last_check = start;
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
            uint64_t t = now_ns();
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
                yield_cpu();
            else
                cpu_relax();
        }
    }
}

/* Send a control message (never lost: nothing is written after it until
 * the peer answers). */
static shm_error_t send_ctrl(uint32_t kind, const uint64_t *words, uint32_t nwords)
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
static void hello_words(const options_t *o, bool busy, uint32_t ring_size, uint64_t *w)
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
static shm_error_t recv_ctrl(uint32_t kind, uint64_t *words, uint32_t patience_ms,
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

typedef struct rtt_summary {
    uint64_t count, failures;
    uint64_t p50, p90, p99, p999, max, mean; /* ns */
} rtt_summary_t;

static void rtt_print(const rtt_summary_t *s)
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

/* What one receiver saw of one direction. */
typedef struct rx_stats {
    uint64_t received, lost, corrupted, out_of_order, bytes;
    uint64_t peer_sent, peer_bytes, peer_tx_ns; /* from the sender's END */
    uint64_t rx_ns;                             /* phase start to END */
    uint64_t lib_lost;                          /* the library's messages_lost */
    uint64_t error;                             /* shm_error_t, negated; 0 = none */
    uint64_t unexpected;                        /* control messages out of place */
    uint64_t ended;                             /* END seen */
    flag_t started;                             /* a first message came */
} rx_stats_t;

static void rx_to_words(const rx_stats_t *r, uint64_t *w)
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

static void rx_from_words(rx_stats_t *r, const uint64_t *w)
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
    uint64_t t0 = now_ns();
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
            flag_raise(&r->started);
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
    r->rx_ns = now_ns() - t0;
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
            cpu_relax();
            continue;
        }
        uint64_t t = now_ns();
        if (start == 0)
            start = t;
        if (t - start > (uint64_t)STRESS_PATIENCE_MS * 1000000u)
            return SHM_ERROR_TIMEOUT;
        if ((spins & 1023u) == 0 && !ep_peer_present())
            return SHM_ERROR_NOT_CONNECTED;
        if (t - start > 2000000u)
            sleep_ms(1); /* the receiver is asleep or descheduled */
        else
            yield_cpu();
    }
}

/* What one sender did. */
typedef struct tx_stats {
    uint64_t sent, bytes, tx_ns;
    shm_error_t error;
} tx_stats_t;

/* Send `count` data messages as fast as possible (or paced), then END. */
static void send_stream(const options_t *o, uint64_t salt, tx_stats_t *t)
{
    unsigned char *buf = (unsigned char *)malloc(SHM_MAX_MESSAGE_SIZE);
    uint64_t t0 = now_ns();
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
    t->tx_ns = now_ns() - t0;
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
static void run_both_ways(const options_t *o, uint64_t salt, bool lead, tx_stats_t *tx,
                          rx_stats_t *rx)
{
    shm_stats_t before, after;
    thread_t th;
    memset(rx, 0, sizeof(*rx));
    memset(tx, 0, sizeof(*tx));
    ep_stats(&before);
    if (!thread_start(&th, rx_thread, rx)) {
        rx->error = (uint64_t)-(int64_t)SHM_ERROR_SYSTEM;
        tx->error = SHM_ERROR_SYSTEM;
        return;
    }
    if (lead) {
        uint64_t t0 = now_ns();
        tx->error = send_ctrl(K_START, NULL, 0);
        while (tx->error == SHM_SUCCESS && !flag_is_up(&rx->started)) {
            if (now_ns() - t0 > (uint64_t)STRESS_PATIENCE_MS * 1000000u)
                tx->error = SHM_ERROR_TIMEOUT;
            yield_cpu();
        }
    }
    if (tx->error == SHM_SUCCESS)
        send_stream(o, salt, tx);
    thread_join(&th);
    ep_stats(&after);
    rx->lib_lost = after.messages_lost - before.messages_lost;
}

static double mbps(uint64_t bytes, uint64_t ns) { return ns ? (double)bytes * 1e3 / (double)ns : 0; }
static double mps(uint64_t msgs, uint64_t ns) { return ns ? (double)msgs * 1e9 / (double)ns : 0; }

/* Print one direction as its receiver saw it; returns the number of
 * failed checks. */
static int direction_report(const char *label, const rx_stats_t *r, bool sender_paced)
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

static void params_print(const options_t *o, uint64_t peer_count, uint64_t peer_min,
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

/* ==== end of the common part ==== */

#ifndef _WIN32
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

/* ---- the client endpoint ---------------------------------------------------------------- */

#define SALT_ECHO 0xEC40EC4000000001ull
#define SALT_CLIENT_STREAM 0xC11E47C100000003ull
#define CONNECT_PATIENCE_NS 10000000000ull /* 10 s */

static shm_client_t *g_client;

static shm_error_t ep_send(const void *data, uint32_t size)
{
    return shm_client_send(g_client, data, size);
}
static shm_error_t ep_receive(void *data, uint32_t *size)
{
    return shm_client_receive(g_client, data, size);
}
static void ep_stats(shm_stats_t *st)
{
    if (shm_client_get_stats(g_client, st) != SHM_SUCCESS)
        memset(st, 0, sizeof(*st));
}
static bool ep_peer_present(void)
{
    shm_stats_t st;
    ep_stats(&st);
    return st.connected != 0;
}
static shm_ring_t *ep_tx_ring(void) { return shm_client_tx_ring(g_client); }

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n). */
static uint64_t pct(const uint64_t *v, uint64_t n, double p)
{
    uint64_t rank = (uint64_t)(p * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static void rtt_summarize(uint64_t *v, uint64_t n, rtt_summary_t *s)
{
    uint64_t total = 0;
    s->count = n;
    if (n == 0)
        return;
    qsort(v, (size_t)n, sizeof(*v), cmp_u64);
    for (size_t i = 0; i < (size_t)n; i++)
        total += v[i];
    s->p50 = pct(v, n, 0.50);
    s->p90 = pct(v, n, 0.90);
    s->p99 = pct(v, n, 0.99);
    s->p999 = pct(v, n, 0.999);
    s->max = v[(size_t)(n - 1)];
    s->mean = total / n;
}

/* Phase (a): `count` round trips. Every echo must be the message sent. */
static void round_trips(const options_t *o, rtt_summary_t *s)
{
    unsigned char *out = (unsigned char *)malloc(SHM_MAX_MESSAGE_SIZE);
    unsigned char *in = (unsigned char *)malloc(SHM_MAX_MESSAGE_SIZE);
    uint64_t *rtt = (uint64_t *)malloc(sizeof(uint64_t) * o->count);
    size_t done = 0;
    memset(s, 0, sizeof(*s));
    if (!out || !in || !rtt) {
        say("client: out of memory for phase (a)\n");
        s->failures = 1;
    }
    for (uint32_t i = 0; i < o->count && s->failures == 0; i++) {
        uint32_t n = size_for(i, SALT_ECHO, o->min_size, o->max_size), got = SHM_MAX_MESSAGE_SIZE;
        msg_fill(out, n, SALT_ECHO + i);
        msg_seal(out, K_ECHO, i, n);
        uint64_t t0 = now_ns();
        shm_error_t e = ep_send(out, n);
        if (e == SHM_SUCCESS)
            e = recv_wait(in, &got, STRESS_PATIENCE_MS, SPINS_LATENCY, true);
        uint64_t t1 = now_ns();
        if (e != SHM_SUCCESS) {
            say("client: round trip %u failed: %s\n", i, shm_strerror(e));
            s->failures++;
        } else if (got != n || memcmp(in, out, n) != 0) {
            say("client: echo %u differs from the message sent (%u bytes sent, %u received)\n",
                i, n, got);
            s->failures++;
        } else {
            rtt[done++] = t1 - t0;
        }
    }
    if (rtt)
        rtt_summarize(rtt, done, s);
    s->count = done;
    free(rtt);
    free(in);
    free(out);
}

/* ---- --spawn-server: run test_server as a child (one command for a test) ------------------ */

#ifdef _WIN32
typedef HANDLE server_proc_t;
#else
typedef pid_t server_proc_t;
#endif
static server_proc_t g_spawned;
static bool g_has_spawned;

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
    args[n++] = path;
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
    fflush(stdout);
#ifdef _WIN32
    char cmd[2048];
    size_t len = 0;
    for (int i = 0; i < n; i++) {
        int w = snprintf(cmd + len, sizeof(cmd) - len, i ? " %s" : "\"%s\"", args[i]);
        if (w < 0 || (size_t)w >= sizeof(cmd) - len)
            return false;
        len += (size_t)w;
    }
    SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
    HANDLE nul = CreateFileA("NUL", GENERIC_WRITE, FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
    si.hStdOutput = nul;
    si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
    BOOL ok = CreateProcessA(path, cmd, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi);
    if (nul != INVALID_HANDLE_VALUE)
        CloseHandle(nul);
    if (!ok)
        return false;
    CloseHandle(pi.hThread);
    g_spawned = pi.hProcess;
#else
    pid_t pid = fork();
    if (pid < 0)
        return false;
    if (pid == 0) {
        int nul = open("/dev/null", O_WRONLY);
        if (nul >= 0)
            dup2(nul, 1);
        execv(path, (char *const *)args);
        _exit(127);
    }
    g_spawned = pid;
#endif
    g_has_spawned = true;
    return true;
}

/* Wait for the spawned server (it leaves after the client, or after 30 s
 * without one); returns its exit status, -1 if it did not end. */
static int reap_server(void)
{
    int status = -1;
#ifdef _WIN32
    DWORD code;
    if (WaitForSingleObject(g_spawned, (STRESS_PATIENCE_MS + 5000u)) == WAIT_OBJECT_0 &&
        GetExitCodeProcess(g_spawned, &code))
        status = (int)code;
    else
        TerminateProcess(g_spawned, 1);
    CloseHandle(g_spawned);
#else
    uint64_t t0 = now_ns();
    for (;;) {
        int st;
        pid_t r = waitpid(g_spawned, &st, WNOHANG);
        if (r == g_spawned) {
            status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
            break;
        }
        if (r < 0 || now_ns() - t0 > (uint64_t)(STRESS_PATIENCE_MS + 5000u) * 1000000u) {
            kill(g_spawned, SIGKILL);
            waitpid(g_spawned, &st, 0);
            break;
        }
        sleep_ms(20);
    }
#endif
    g_has_spawned = false;
    return status;
}

static int finish(int failures)
{
    if (g_has_spawned) {
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
#ifdef _WIN32
            snprintf(unique, sizeof(unique), "xshm_stress_%lu", (unsigned long)GetCurrentProcessId());
#else
            snprintf(unique, sizeof(unique), "xshm_stress_%ld", (long)getpid());
#endif
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
    uint64_t t0 = now_ns();
    for (;;) {
        g_client = shm_client_connect(o.name);
        if (g_client || shm_last_error() != SHM_ERROR_NOT_FOUND ||
            now_ns() - t0 >= CONNECT_PATIENCE_NS)
            break;
        sleep_ms(10);
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
