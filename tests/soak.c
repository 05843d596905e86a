/*
 * soak.c - a long two-process soak of one channel, through the public API.
 *
 *   soak [--messages N] [--ring BYTES] [--seconds S] [--stall-ms MS]
 *        [--stall-every N] [--pause-every N] [--seed N]
 *
 * The program creates a channel (shm_server_create, blocking receive) and
 * starts a copy of itself (tests/support/testproc: posix_spawn of
 * /proc/self/exe on Linux, CreateProcess on Windows) that connects as the
 * client and sends N messages (default 10,000,000) to the server as fast as
 * it can, but pauses for 0..1 ms about once every --pause-every messages
 * (default 2,000; 0: never), so that the reader also catches up and waits
 * for messages, not only is lapped. The sizes are
 * random, 1 byte to the ring's largest message (--ring 65536, the default:
 * 65512 bytes = 64 KiB - SHM_MESSAGE_OVERHEAD; --ring 131072 gives the full
 * 1..65536), log-uniform (as many of 1..2 bytes as of 32..64 KiB: skewed
 * small, about 3.9 KB on average). The server receives; at random points it
 * stalls for 0..--stall-ms milliseconds (default 20, about once every
 * --stall-every messages, default 20,000), so the writer laps it and the
 * oldest messages are overwritten.
 *
 * Every message is a function of the seed and its sequence number: its size
 * and contents. From 16 bytes on it starts with its sequence number and a
 * checksum of the rest; a shorter one is identified by the library's count
 * of lost messages (its sequence number is the next expected plus the loss
 * the library just counted) and then checked byte by byte. The reader
 * checks that each message is intact (size, checksum, every byte) and in
 * order, and after every message that the loss the library counted equals
 * the sequence gap. The writer ends with a marker carrying its count of
 * messages sent (and its own statistics); then, exactly:
 *     received + lost (sequence gaps) == sent,
 *     lost (library statistics) == lost (sequence gaps),
 *     received (library statistics) == received + 1 (the end marker).
 * Prints sent, received, lost, MB/s, messages/s and time. Exits 0 when every
 * check passed, 1 otherwise, 2 on bad usage. --seconds S stops the writer
 * after S seconds (the checks still hold for what it sent).
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ipc.h"
#include "testproc.h"

#define SOAK_MAGIC 0x444E452D4B414F53ull /* "SOAK-END" */
#define SOAK_END_SEQ UINT64_MAX
#define NOISE_BYTES (256u * 1024u)
#define ACK_TEXT "soak-ack"

/* ---- messages: a function of (seed, seq) -------------------------------------- */

static uint8_t noise[NOISE_BYTES];

static uint64_t mix64(uint64_t z)
{
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void noise_init(uint64_t seed)
{
    for (uint32_t i = 0; i < NOISE_BYTES; i += 8) {
        uint64_t v = mix64(seed * 0x2545F4914F6CDD1Dull + i);
        memcpy(noise + i, &v, 8);
    }
}

/* 1..max, log-uniform: the exponent is uniform in 0..16. */
static uint32_t msg_size(uint64_t seed, uint64_t seq, uint32_t max)
{
    uint64_t x = mix64(seed ^ (seq * 0xD6E8FEB86659FD93ull));
    uint32_t bits = (uint32_t)(x % 17u);
    uint32_t len = 1u + (uint32_t)((x >> 8) % (1ull << bits));
    return len > max ? max : len;
}

/* Where message seq takes its payload bytes from. */
static const uint8_t *msg_payload(uint64_t seed, uint64_t seq)
{
    return noise + mix64(seed + seq) % (NOISE_BYTES - SHM_MAX_MESSAGE_SIZE);
}

/* A checksum of the payload, its length and the sequence number: four
 * independent lanes of 8-byte words. */
static uint64_t checksum(uint64_t seq, const uint8_t *p, size_t n)
{
    const uint64_t k = 0x9FB21C651E98DF25ull;
    uint64_t h0 = seq ^ 0x243F6A8885A308D3ull, h1 = n ^ 0x13198A2E03707344ull;
    uint64_t h2 = 0xA4093822299F31D0ull, h3 = 0x082EFA98EC4E6C89ull;
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        uint64_t w[4];
        memcpy(w, p + i, 32);
        h0 = (h0 ^ w[0]) * k;
        h1 = (h1 ^ w[1]) * k;
        h2 = (h2 ^ w[2]) * k;
        h3 = (h3 ^ w[3]) * k;
        h0 ^= h0 >> 29;
        h1 ^= h1 >> 29;
        h2 ^= h2 >> 29;
        h3 ^= h3 >> 29;
    }
    for (; i < n; i++)
        h0 = (h0 ^ p[i]) * k;
    return mix64(h0 ^ mix64(h1 ^ mix64(h2 ^ mix64(h3))));
}

/* Message seq of len bytes. From 16 bytes: seq, checksum, payload. */
static void msg_make(uint8_t *buf, uint64_t seed, uint64_t seq, uint32_t len)
{
    if (len >= 16) {
        memcpy(buf + 16, msg_payload(seed, seq), len - 16);
        uint64_t sum = checksum(seq, buf + 16, len - 16);
        memcpy(buf, &seq, 8);
        memcpy(buf + 8, &sum, 8);
    } else {
        uint64_t v[2] = {mix64(seed ^ seq), mix64(seed + ~seq)};
        memcpy(buf, v, len);
    }
}

/* 0: intact; otherwise what is wrong. */
static const char *msg_check(const uint8_t *buf, uint64_t seed, uint64_t seq, uint32_t len)
{
    if (len >= 16) {
        uint64_t s, sum;
        memcpy(&s, buf, 8);
        memcpy(&sum, buf + 8, 8);
        if (s != seq)
            return "sequence number";
        if (sum != checksum(seq, buf + 16, len - 16))
            return "checksum";
        if (memcmp(buf + 16, msg_payload(seed, seq), len - 16) != 0)
            return "payload bytes";
        return NULL;
    }
    uint64_t v[2] = {mix64(seed ^ seq), mix64(seed + ~seq)};
    return memcmp(buf, v, len) == 0 ? NULL : "bytes (short message)";
}

/* The end marker: 32 bytes. */
typedef struct end_marker {
    uint64_t seq;       /* SOAK_END_SEQ */
    uint64_t sent;      /* data messages sent */
    uint64_t lib_sent;  /* the client's messages_sent before the marker */
    uint64_t magic;     /* SOAK_MAGIC */
} end_marker_t;

static uint64_t rng_next(uint64_t *s) { return mix64(*s += 0x632BE59BD9B4E019ull); }

static double mb(uint64_t bytes) { return (double)bytes / 1e6; }

/* ---- options ----------------------------------------------------------------------- */

typedef struct opts {
    uint64_t messages;
    uint32_t ring;
    uint32_t seconds;    /* 0: no limit */
    uint32_t stall_ms;
    uint32_t stall_every;
    uint32_t pause_every;
    uint64_t seed;
} opts_t;

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end)
        return false;
    *out = v;
    return true;
}

static int usage(void)
{
    fprintf(stderr, "usage: soak [--messages N] [--ring BYTES] [--seconds S] [--stall-ms MS]\n"
                    "            [--stall-every N] [--pause-every N] [--seed N]\n");
    return 2;
}

/* ---- the writer: a client ---------------------------------------------------------- */

/* argv: writer NAME MESSAGES MAXSIZE SECONDS SEED PAUSE_EVERY */
static int helper_writer(int argc, char **argv)
{
    uint64_t messages, max, seconds, seed, pause_every;
    if (argc != 7 || !parse_u64(argv[2], &messages) || !parse_u64(argv[3], &max) ||
        !parse_u64(argv[4], &seconds) || !parse_u64(argv[5], &seed) ||
        !parse_u64(argv[6], &pause_every)) {
        fprintf(stderr, "soak writer: bad arguments\n");
        return 2;
    }
    const char *name = argv[1];
    noise_init(seed);
    uint8_t *buf = (uint8_t *)malloc(SHM_MAX_MESSAGE_SIZE);
    if (!buf)
        return 1;

    shm_client_t *c = NULL;
    uint64_t t0 = tp_now_ms();
    while (!c && tp_now_ms() - t0 < 10000)
        c = shm_client_connect(name);
    if (!c) {
        fprintf(stderr, "soak writer: cannot connect to %s: %s\n", name,
                shm_strerror(shm_last_error()));
        free(buf);
        return 1;
    }

    uint64_t rng = seed ^ 0xA5A5A5A5u, seq = 0;
    uint64_t start = tp_now_ms();
    int rc = 0;
    for (; seq < messages; seq++) {
        if ((seq & 1023u) == 0 && seconds && tp_now_ms() - start >= seconds * 1000u)
            break;
        uint32_t len = msg_size(seed, seq, (uint32_t)max);
        msg_make(buf, seed, seq, len);
        shm_error_t e = shm_client_send(c, buf, len);
        if (e != SHM_SUCCESS) {
            fprintf(stderr, "soak writer: send of message %" PRIu64 " (%u bytes): %s\n", seq, len,
                    shm_strerror(e));
            rc = 1;
            break;
        }
        /* Now and then a short pause (0: a yield): the reader catches up. */
        if (pause_every && rng_next(&rng) % pause_every == 0)
            tp_sleep_ms((uint32_t)(rng_next(&rng) % 2u));
    }

    shm_stats_t st;
    memset(&st, 0, sizeof(st));
    (void)shm_client_get_stats(c, &st);
    end_marker_t end = {SOAK_END_SEQ, seq, st.messages_sent, SOAK_MAGIC};
    if (rc == 0 && shm_client_send(c, &end, sizeof(end)) != SHM_SUCCESS) {
        fprintf(stderr, "soak writer: cannot send the end marker\n");
        rc = 1;
    }
    /* Stay until the reader has the marker (it answers), at most 60 s. */
    bool acked = false;
    t0 = tp_now_ms();
    while (rc == 0 && !acked && tp_now_ms() - t0 < 60000) {
        uint8_t ack[16];
        uint32_t n = sizeof(ack);
        shm_error_t e = shm_client_receive(c, ack, &n);
        if (e == SHM_SUCCESS && n == sizeof(ACK_TEXT) - 1 && memcmp(ack, ACK_TEXT, n) == 0)
            acked = true;
        else if (e != SHM_SUCCESS && e != SHM_ERROR_TIMEOUT && e != SHM_ERROR_EMPTY)
            break;
    }
    if (rc == 0 && !acked) {
        fprintf(stderr, "soak writer: no answer to the end marker\n");
        rc = 1;
    }
    shm_client_disconnect(c);
    free(buf);
    return rc;
}

/* ---- the reader: the server --------------------------------------------------------- */

typedef struct tally {
    uint64_t received, bytes, lost, gaps, max_gap, stalls, stall_ms, short_msgs;
} tally_t;

static int run(const opts_t *o)
{
    uint32_t max = o->ring - SHM_MESSAGE_OVERHEAD;
    if (max > SHM_MAX_MESSAGE_SIZE)
        max = SHM_MAX_MESSAGE_SIZE;
    char name[64];
    tp_unique_name(name, sizeof(name), "soak");
    shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
    cfg.size = o->ring;
    cfg.max_readers = 1;
    cfg.blocking = true;
    cfg.timeout_ms = 200;
    shm_server_t *s = shm_server_create(name, &cfg);
    if (!s) {
        printf("soak: FAILED: shm_server_create(%s): %s\n", name, shm_strerror(shm_last_error()));
        return 1;
    }
    printf("soak: %" PRIu64 " messages of 1..%u bytes through a %u-byte ring; reader stalls of "
           "0..%u ms about every %u messages, writer pauses about every %u; seed %" PRIu64 "%s\n",
           o->messages, max, o->ring, o->stall_ms, o->stall_every, o->pause_every, o->seed,
           o->seconds ? "; time limit" : "");
    fflush(stdout);
    noise_init(o->seed);

    char a_msgs[24], a_max[16], a_secs[16], a_seed[24], a_pause[16];
    snprintf(a_msgs, sizeof(a_msgs), "%" PRIu64, o->messages);
    snprintf(a_max, sizeof(a_max), "%u", max);
    snprintf(a_secs, sizeof(a_secs), "%u", o->seconds);
    snprintf(a_seed, sizeof(a_seed), "%" PRIu64, o->seed);
    snprintf(a_pause, sizeof(a_pause), "%u", o->pause_every);
    const char *args[] = {name, a_msgs, a_max, a_secs, a_seed, a_pause, NULL};
    tp_child_t child;
    memset(&child, 0, sizeof(child));
    if (tp_spawn_self(&child, "writer", args) != 0) {
        printf("soak: FAILED: cannot start the writer process\n");
        shm_server_destroy(s);
        return 1;
    }

    uint8_t *buf = (uint8_t *)malloc(SHM_MAX_MESSAGE_SIZE);
    tally_t t;
    memset(&t, 0, sizeof(t));
    uint64_t expected = 0, lib_lost = 0, rng = o->seed ^ 0x5A5A5A5Au;
    uint64_t start = tp_now_ms(), last_msg = start, last_report = start;
    uint64_t deadline = o->seconds ? start + (uint64_t)o->seconds * 1000u + 60000u : 0;
    const char *failure = NULL;
    char why[256];
    end_marker_t end;
    memset(&end, 0, sizeof(end));
    bool ended = false;
    int child_code = -1;

    while (!ended && !failure && buf) {
        uint32_t n = SHM_MAX_MESSAGE_SIZE;
        shm_error_t e = shm_server_receive(s, buf, &n);
        uint64_t now = tp_now_ms();
        if (e == SHM_ERROR_TIMEOUT || e == SHM_ERROR_EMPTY) {
            if (child.running && tp_wait(&child, 0, &child_code) == 0) {
                /* It may have sent the marker just before exiting. */
                n = SHM_MAX_MESSAGE_SIZE;
                e = shm_server_receive(s, buf, &n);
                if (e != SHM_SUCCESS) {
                    snprintf(why, sizeof(why), "the writer exited (code %d) before its end marker",
                             child_code);
                    failure = why;
                    break;
                }
            } else {
                if (now - last_msg > 30000)
                    failure = "no message for 30 s";
                else if (deadline && now > deadline)
                    failure = "the time limit passed without the end marker";
                continue;
            }
        }
        if (e != SHM_SUCCESS) {
            snprintf(why, sizeof(why), "shm_server_receive: %s", shm_strerror(e));
            failure = why;
            break;
        }
        last_msg = now;
        shm_stats_t st;
        if (shm_server_get_stats(s, &st) != SHM_SUCCESS) {
            failure = "shm_server_get_stats failed";
            break;
        }
        uint64_t lib_gap = st.messages_lost - lib_lost;
        lib_lost = st.messages_lost;

        uint64_t first = 0;
        if (n >= 8)
            memcpy(&first, buf, 8);
        if (n == sizeof(end) && first == SOAK_END_SEQ) {
            memcpy(&end, buf, sizeof(end));
            if (end.magic != SOAK_MAGIC) {
                failure = "a corrupt end marker";
                break;
            }
            if (end.sent < expected) {
                snprintf(why, sizeof(why), "the end marker says %" PRIu64 " sent, but message %" PRIu64
                         " arrived", end.sent, expected - 1);
                failure = why;
                break;
            }
            /* Messages lost just before the marker are counted in lib_gap. */
            t.lost += end.sent - expected;
            if (end.sent - expected != lib_gap) {
                snprintf(why, sizeof(why), "before the end marker: %" PRIu64 " messages missing, the "
                         "library counted %" PRIu64 " lost", end.sent - expected, lib_gap);
                failure = why;
            }
            if (end.sent > expected) {
                t.gaps++;
                if (end.sent - expected > t.max_gap)
                    t.max_gap = end.sent - expected;
            }
            ended = true;
            if (shm_server_send(s, ACK_TEXT, sizeof(ACK_TEXT) - 1) != SHM_SUCCESS)
                failure = failure ? failure : "cannot answer the end marker";
            break;
        }

        /* The message's sequence number: its own, or (short) the library's. */
        uint64_t seq = n >= 16 ? first : expected + lib_gap;
        if (n < 16)
            t.short_msgs++;
        if (seq < expected) {
            snprintf(why, sizeof(why), "message %" PRIu64 " arrived after %" PRIu64 " (out of order)",
                     seq, expected - 1);
            failure = why;
            break;
        }
        if (seq - expected != lib_gap) {
            snprintf(why, sizeof(why), "message %" PRIu64 " after %" PRIu64 ": a gap of %" PRIu64
                     " but the library counted %" PRIu64 " lost", seq, expected, seq - expected, lib_gap);
            failure = why;
            break;
        }
        uint32_t want = msg_size(o->seed, seq, max);
        const char *bad = n != want ? "size" : msg_check(buf, o->seed, seq, n);
        if (bad) {
            snprintf(why, sizeof(why), "message %" PRIu64 " (%u bytes, expected %u) is corrupt: %s",
                     seq, n, want, bad);
            failure = why;
            break;
        }
        if (seq > expected) {
            t.gaps++;
            t.lost += seq - expected;
            if (seq - expected > t.max_gap)
                t.max_gap = seq - expected;
        }
        expected = seq + 1;
        t.received++;
        t.bytes += n;

        /* A stall at a random point. */
        if (o->stall_every && rng_next(&rng) % o->stall_every == 0) {
            uint32_t ms = (uint32_t)(rng_next(&rng) % ((uint64_t)o->stall_ms + 1));
            tp_sleep_ms(ms);
            t.stalls++;
            t.stall_ms += ms;
        }
        if (now - last_report >= 10000) {
            last_report = now;
            printf("soak: %5.0f s: %" PRIu64 " received, %" PRIu64 " lost\n",
                   (double)(now - start) / 1000.0, t.received, t.lost);
            fflush(stdout);
        }
    }
    double secs = (double)(tp_now_ms() - start) / 1000.0;
    if (!buf)
        failure = "out of memory";

    /* The writer's verdict. */
    if (child.running && tp_wait(&child, 30000, &child_code) != 0) {
        tp_kill(&child);
        if (!failure)
            failure = "the writer did not exit";
    }
    if (!failure && child_code != 0) {
        snprintf(why, sizeof(why), "the writer exited with code %d", child_code);
        failure = why;
    }

    shm_stats_t st;
    memset(&st, 0, sizeof(st));
    (void)shm_server_get_stats(s, &st);
    if (secs <= 0)
        secs = 0.001;
    if (ended) {
        printf("soak: sent      %" PRIu64 " messages (the writer's statistics: %" PRIu64 ")%s\n",
               end.sent, end.lib_sent, end.sent < o->messages ? ", stopped by the time limit" : "");
        printf("soak: received  %" PRIu64 " messages, %.1f MB (%" PRIu64 " of them shorter than 16 "
               "bytes)\n", t.received, mb(t.bytes), t.short_msgs);
        printf("soak: lost      %" PRIu64 " from sequence gaps, %" PRIu64 " in the library's "
               "statistics (%.2f%%, %" PRIu64 " gaps, the longest %" PRIu64 ")\n",
               t.lost, st.messages_lost, end.sent ? 100.0 * (double)t.lost / (double)end.sent : 0.0,
               t.gaps, t.max_gap);
        printf("soak: stalls    %" PRIu64 " (%.1f s in all)\n", t.stalls, (double)t.stall_ms / 1000.0);
        printf("soak: time      %.1f s: %.1f MB/s received, %.0f messages/s sent, %.0f received\n",
               secs, mb(t.bytes) / secs, (double)end.sent / secs, (double)t.received / secs);
        if (!failure && t.received + t.lost != end.sent) {
            snprintf(why, sizeof(why), "received + lost = %" PRIu64 " != sent %" PRIu64,
                     t.received + t.lost, end.sent);
            failure = why;
        }
        if (!failure && st.messages_lost != t.lost) {
            snprintf(why, sizeof(why), "lost: library %" PRIu64 " != sequence gaps %" PRIu64,
                     st.messages_lost, t.lost);
            failure = why;
        }
        if (!failure && st.messages_received != t.received + 1) {
            snprintf(why, sizeof(why), "received: library %" PRIu64 " != %" PRIu64 " + 1 (marker)",
                     st.messages_received, t.received);
            failure = why;
        }
        if (!failure && end.lib_sent != end.sent) {
            snprintf(why, sizeof(why), "the writer's statistics say %" PRIu64 " sent, it counted %" PRIu64,
                     end.lib_sent, end.sent);
            failure = why;
        }
        if (!failure && t.received == 0)
            failure = "nothing received";
        if (!failure && o->seconds == 0 && end.sent != o->messages) {
            snprintf(why, sizeof(why), "the writer sent %" PRIu64 " of %" PRIu64 " messages",
                     end.sent, o->messages);
            failure = why;
        }
    } else {
        printf("soak: received  %" PRIu64 " messages before the failure, %" PRIu64 " lost\n",
               t.received, t.lost);
    }
    free(buf);
    shm_server_destroy(s);
    if (failure) {
        printf("soak: FAILED: %s\n", failure);
        return 1;
    }
    printf("soak: ok: received + lost == sent (%" PRIu64 " + %" PRIu64 " = %" PRIu64
           "), the library's loss count agrees\n", t.received, t.lost, end.sent);
    return 0;
}

static const tp_helper_t helpers[] = {{"writer", helper_writer}, {NULL, NULL}};

int main(int argc, char **argv)
{
    int rc;
    if (tp_dispatch(argc, argv, helpers, &rc))
        return rc;
    opts_t o = {10000000u, 65536u, 0, 20, 20000, 2000, 1};
    for (int i = 1; i < argc; i++) {
        uint64_t v;
        const char *a = argv[i];
        if (i + 1 >= argc || !parse_u64(argv[i + 1], &v))
            return usage();
        i++;
        if (strcmp(a, "--messages") == 0 && v > 0)
            o.messages = v;
        else if (strcmp(a, "--ring") == 0 && v >= SHM_MIN_RING_SIZE && v <= SHM_MAX_RING_SIZE &&
                 (v & (v - 1)) == 0)
            o.ring = (uint32_t)v;
        else if (strcmp(a, "--seconds") == 0 && v <= 1000000u)
            o.seconds = (uint32_t)v;
        else if (strcmp(a, "--stall-ms") == 0 && v <= 10000u)
            o.stall_ms = (uint32_t)v;
        else if (strcmp(a, "--stall-every") == 0 && v <= 0xFFFFFFFFu)
            o.stall_every = (uint32_t)v;
        else if (strcmp(a, "--pause-every") == 0 && v <= 0xFFFFFFFFu)
            o.pause_every = (uint32_t)v;
        else if (strcmp(a, "--seed") == 0)
            o.seed = v;
        else
            return usage();
    }
    return run(&o);
}
