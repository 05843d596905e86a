/*
 * mixed_conformance.c - the conformance run of a 32-bit and a 64-bit process
 * on one channel (examples/example_mixed_arch.c is the short version to
 * learn from).
 *
 * Built for every target; tests/mixed/pair.sh starts the server from one
 * build and the client from another (an x86 and an x64 build, either way
 * round, or twice the same build):
 *
 *   mixed_conformance server [channel] [count] [options]    the server
 *   mixed_conformance [channel] [count] [options]           the client
 *   mixed_conformance --version                             build and width
 *
 * channel  channel name (default "xshm_mixed_conformance"), the same on both sides
 * count    messages each side sends in its paced stream (default 2000)
 * options
 *   --ring BYTES        server: bytes per ring, a power of two (default
 *                       65536). A ring holds messages of up to
 *                       min(65536, BYTES - 24) bytes: 131072 or more lets
 *                       messages of exactly 65536 bytes through.
 *   --burst N           messages each side sends in its unpaced burst
 *                       (default 1000; 0 skips the bursts; at least 16)
 *   --wait SECONDS      server: how long to wait for a client (default 30)
 *   --expect-peer-bits N  fail unless the peer is an N-bit process
 *
 * Both sides exchange the same message structs, declared below with
 * fixed-width types only and checked with static asserts so that every field
 * has the same offset in an x86 and an x64 build ("same struct defs"). Every
 * field of every message is derived from its sequence number and checked by
 * the receiver. The session, in both directions:
 *
 *   hello   each side announces its pointer width, pid and struct layout;
 *           the widths are checked against the CONNECT event's
 *           shm_peer_info_t.
 *   paced   `count` messages: structs and byte arrays of up to the largest
 *           message size, sent only when the ring has room for them
 *           (shm_ring_available), so nothing may be lost. The small ring
 *           wraps many times.
 *   burst   N messages sent as fast as possible, mostly near the largest
 *           size. For the first part the receiver does not read at all, so
 *           the writer laps it and overwrites what it has not read; then it
 *           reads while the writer sends the rest in waves of up to 32
 *           messages without pause, overrunning it again and again (also in
 *           the middle of a copy). The receiver must see only
 *           intact messages, in order, and exactly received + lost == sent,
 *           where lost comes from shm_*_get_stats (messages_lost) and agrees
 *           with the gaps in the sequence numbers.
 *   addressed   min(count, 500) round trips: the client sends a message, the
 *           server answers with shm_server_send_to to the id
 *           shm_server_receive_from gave it. The server receives every
 *           message of the session with shm_server_receive_from: each must
 *           name the same client id, the one its CONNECT event carried
 *           (shm_peer_info_t.client_id, whose low byte is the slot); the
 *           client's CONNECT carries 0.
 *
 * Every other message is sent by reserve/commit instead of send, and every
 * other receive takes a view (receive_view/release) instead of a copy: a
 * view's bytes are checked only when its release says they stayed intact;
 * one the writer overwrote meanwhile (bursts) is a lost message.
 *
 * Exits 0 when every check passed, 1 on a failed check or error, 2 on bad
 * arguments. The last line is "<role>: PASS ..." or "<role>: FAIL: ...".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ipc.h"
#include "xsupport.h"

/* ====================================================================== */
/* Shared message structs (the rules: examples/example_mixed_arch.c)      */
/* ====================================================================== */
/*
 * Rules for a struct that x86 and x64 processes exchange:
 *  - fixed-width types only (uint8_t .. uint64_t, int8_t .. int64_t, float,
 *    double, arrays of them); never long, size_t, pointers, bool or enums,
 *    whose sizes differ between targets or compilers;
 *  - put every field at an offset that is a multiple of its size, with
 *    explicit padding fields, and make the struct size a multiple of 8.
 *    Linux i386 aligns uint64_t and double to 4 inside structs, Windows x86
 *    and every x64 target to 8: `struct { uint32_t a; uint64_t b; }` has b
 *    at offset 4 on Linux i386 and at 8 elsewhere, and is 12 or 16 bytes;
 *  - check sizeof and every offsetof with static asserts, so that a build
 *    where the layout differs does not compile.
 */
#if defined(__cplusplus)
#define MX_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define MX_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif
#define MX_ASSERT_OFFSET(type, field, off)                                                         \
    MX_STATIC_ASSERT(offsetof(type, field) == (off), #type "." #field " must be at offset " #off)
#define MX_ASSERT_SIZE(type, size)                                                                 \
    MX_STATIC_ASSERT(sizeof(type) == (size), "sizeof(" #type ") must be " #size)

#define MX_MAGIC 0x3141584Du /* "MXA1" in little-endian memory */

enum {
    MX_HELLO = 1,  /* mx_hello_t */
    MX_RECORD = 2, /* mx_record_t */
    MX_BLOB = 3,   /* mx_blob_t + payload bytes */
    MX_END = 4,    /* mx_ctrl_t: end of a phase */
    MX_HOLD = 5,   /* mx_ctrl_t: "I stop reading; send your burst" */
    MX_TOKEN = 6,  /* mx_ctrl_t: read after the unread part of a burst */
    MX_DONE = 7    /* mx_ctrl_t: end of the session */
};

/* Every message starts with this header. */
typedef struct mx_head {
    uint32_t magic; /*  0: MX_MAGIC */
    uint32_t kind;  /*  4: MX_* */
    uint64_t seq;   /*  8: the sender's message number, from 0 */
} mx_head_t;
MX_ASSERT_SIZE(mx_head_t, 16);
MX_ASSERT_OFFSET(mx_head_t, magic, 0);
MX_ASSERT_OFFSET(mx_head_t, kind, 4);
MX_ASSERT_OFFSET(mx_head_t, seq, 8);

/* One of each kind of field. */
typedef struct mx_record {
    mx_head_t head;       /*   0 */
    uint8_t u8;           /*  16 */
    int8_t i8;            /*  17 */
    uint16_t u16;         /*  18 */
    int16_t i16;          /*  20 */
    uint8_t pad0[2];      /*  22: explicit padding, zero */
    uint32_t u32;         /*  24 */
    int32_t i32;          /*  28 */
    uint64_t u64;         /*  32 */
    int64_t i64;          /*  40 */
    double f64;           /*  48 */
    double f64_bits;      /*  56: a double given by its bit pattern */
    float f32;            /*  64 */
    uint32_t sender_bits; /*  68: the sender's pointer width, 32 or 64 */
    uint8_t bytes[24];    /*  72 */
    char text[16];        /*  96: NUL-terminated text */
    uint64_t check;       /* 112: FNV-1a of bytes 0..111 */
} mx_record_t;            /* 120 bytes */
MX_ASSERT_SIZE(mx_record_t, 120);
MX_ASSERT_OFFSET(mx_record_t, head, 0);
MX_ASSERT_OFFSET(mx_record_t, u8, 16);
MX_ASSERT_OFFSET(mx_record_t, i8, 17);
MX_ASSERT_OFFSET(mx_record_t, u16, 18);
MX_ASSERT_OFFSET(mx_record_t, i16, 20);
MX_ASSERT_OFFSET(mx_record_t, pad0, 22);
MX_ASSERT_OFFSET(mx_record_t, u32, 24);
MX_ASSERT_OFFSET(mx_record_t, i32, 28);
MX_ASSERT_OFFSET(mx_record_t, u64, 32);
MX_ASSERT_OFFSET(mx_record_t, i64, 40);
MX_ASSERT_OFFSET(mx_record_t, f64, 48);
MX_ASSERT_OFFSET(mx_record_t, f64_bits, 56);
MX_ASSERT_OFFSET(mx_record_t, f32, 64);
MX_ASSERT_OFFSET(mx_record_t, sender_bits, 68);
MX_ASSERT_OFFSET(mx_record_t, bytes, 72);
MX_ASSERT_OFFSET(mx_record_t, text, 96);
MX_ASSERT_OFFSET(mx_record_t, check, 112);

/* A byte array of `size` bytes in all: this header, then the payload. */
typedef struct mx_blob {
    mx_head_t head;      /*  0 */
    uint32_t size;       /* 16: bytes of the whole message */
    uint32_t sender_dir; /* 20: MX_FROM_SERVER or MX_FROM_CLIENT */
} mx_blob_t;             /* 24 bytes, then size - 24 payload bytes */
MX_ASSERT_SIZE(mx_blob_t, 24);
MX_ASSERT_OFFSET(mx_blob_t, head, 0);
MX_ASSERT_OFFSET(mx_blob_t, size, 16);
MX_ASSERT_OFFSET(mx_blob_t, sender_dir, 20);

typedef struct mx_hello {
    mx_head_t head;       /*  0 */
    uint32_t ptr_bits;    /* 16: sizeof(void *) * 8 of the sender */
    uint32_t pid;         /* 20 */
    uint32_t lib_version; /* 24: shm_version() */
    uint32_t record_size; /* 28: sizeof(mx_record_t) as the sender built it */
    uint32_t layout_sig;  /* 32: checksum of the offsets of mx_record_t */
    uint32_t ring_size;   /* 36: server: bytes per ring; client: 0 */
    uint32_t max_message; /* 40: largest message the sender sends */
    uint32_t paced_count; /* 44: messages of its paced stream */
    uint32_t burst_count; /* 48: messages of its burst */
    uint32_t reserved;    /* 52: zero */
} mx_hello_t;             /* 56 bytes */
MX_ASSERT_SIZE(mx_hello_t, 56);
MX_ASSERT_OFFSET(mx_hello_t, head, 0);
MX_ASSERT_OFFSET(mx_hello_t, ptr_bits, 16);
MX_ASSERT_OFFSET(mx_hello_t, pid, 20);
MX_ASSERT_OFFSET(mx_hello_t, lib_version, 24);
MX_ASSERT_OFFSET(mx_hello_t, record_size, 28);
MX_ASSERT_OFFSET(mx_hello_t, layout_sig, 32);
MX_ASSERT_OFFSET(mx_hello_t, ring_size, 36);
MX_ASSERT_OFFSET(mx_hello_t, max_message, 40);
MX_ASSERT_OFFSET(mx_hello_t, paced_count, 44);
MX_ASSERT_OFFSET(mx_hello_t, burst_count, 48);
MX_ASSERT_OFFSET(mx_hello_t, reserved, 52);

typedef struct mx_ctrl {
    mx_head_t head;     /*  0: MX_END, MX_HOLD, MX_TOKEN or MX_DONE */
    uint32_t phase;     /* 16: PHASE_* */
    uint32_t status;    /* 20: MX_DONE: 0 when every check passed */
    uint64_t count;     /* 24: MX_END: messages sent in the phase */
    uint64_t first_seq; /* 32: MX_END: seq of the phase's first message */
} mx_ctrl_t;            /* 40 bytes */
MX_ASSERT_SIZE(mx_ctrl_t, 40);
MX_ASSERT_OFFSET(mx_ctrl_t, head, 0);
MX_ASSERT_OFFSET(mx_ctrl_t, phase, 16);
MX_ASSERT_OFFSET(mx_ctrl_t, status, 20);
MX_ASSERT_OFFSET(mx_ctrl_t, count, 24);
MX_ASSERT_OFFSET(mx_ctrl_t, first_seq, 32);

/* Clock, sleep, yield and process id: the programs' support library (support/). */

/* Flags set by the event callback (listener thread), read by main. */
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
typedef volatile long flag_t;
#define FLAG_SET(p, v) _InterlockedExchange((p), (long)(v))
#define FLAG_GET(p) _InterlockedCompareExchange((p), 0, 0)
#else
typedef long flag_t;
#define FLAG_SET(p, v) __atomic_store_n((p), (long)(v), __ATOMIC_RELEASE)
#define FLAG_GET(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#endif

static uint32_t ptr_bits(void) { return (uint32_t)(sizeof(void *) * 8); }

/* ====================================================================== */
/* Message contents: a function of (sequence number, direction)           */
/* ====================================================================== */

#define MX_FROM_SERVER 1u
#define MX_FROM_CLIENT 2u
#define PATTERN_SPREAD 4096u

/* Payload bytes of blob n start at pattern + an offset that depends on n. */
static uint8_t pattern[SHM_MAX_MESSAGE_SIZE + PATTERN_SPREAD];

static void pattern_init(void)
{
    uint32_t x = 0x9E3779B9u; /* xorshift32: the same bytes on every target */
    for (size_t i = 0; i < sizeof(pattern); i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        pattern[i] = (uint8_t)(x >> 24);
    }
}

static const uint8_t *pattern_for(uint64_t seq, uint32_t dir)
{
    return pattern + (((uint32_t)seq * 2654435761u + dir * 977u) % PATTERN_SPREAD);
}

static uint64_t fnv1a(const void *p, size_t n)
{
    const uint8_t *b = (const uint8_t *)p;
    uint64_t h = 0xCBF29CE484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001B3ull;
    }
    return h;
}

/* A checksum of the struct layouts, exchanged in the hello: a peer built
 * with different definitions is refused at run time as well. */
static uint32_t layout_sig(void)
{
    static const uint32_t v[] = {(uint32_t)sizeof(mx_record_t),
                                 (uint32_t)offsetof(mx_record_t, u8),
                                 (uint32_t)offsetof(mx_record_t, i8),
                                 (uint32_t)offsetof(mx_record_t, u16),
                                 (uint32_t)offsetof(mx_record_t, i16),
                                 (uint32_t)offsetof(mx_record_t, u32),
                                 (uint32_t)offsetof(mx_record_t, i32),
                                 (uint32_t)offsetof(mx_record_t, u64),
                                 (uint32_t)offsetof(mx_record_t, i64),
                                 (uint32_t)offsetof(mx_record_t, f64),
                                 (uint32_t)offsetof(mx_record_t, f64_bits),
                                 (uint32_t)offsetof(mx_record_t, f32),
                                 (uint32_t)offsetof(mx_record_t, sender_bits),
                                 (uint32_t)offsetof(mx_record_t, bytes),
                                 (uint32_t)offsetof(mx_record_t, text),
                                 (uint32_t)offsetof(mx_record_t, check),
                                 (uint32_t)sizeof(mx_blob_t),
                                 (uint32_t)sizeof(mx_hello_t),
                                 (uint32_t)sizeof(mx_ctrl_t)};
    return (uint32_t)fnv1a(v, sizeof(v));
}

static void head_set(mx_head_t *h, uint32_t kind, uint64_t seq)
{
    h->magic = MX_MAGIC;
    h->kind = kind;
    h->seq = seq;
}

/* The record with number seq sent in direction dir by a bits-wide process.
 * Doubles and floats are built so that they are exact on every FPU (x87
 * included): the receiver compares their bits. */
static void record_make(mx_record_t *r, uint64_t seq, uint32_t dir, uint32_t bits)
{
    uint32_t s = (uint32_t)seq;
    memset(r, 0, sizeof(*r)); /* padding included: the whole struct is defined */
    head_set(&r->head, MX_RECORD, seq);
    r->u8 = (uint8_t)(s * 7u + dir);
    r->i8 = (int8_t)((int)(s % 256u) - 128);
    r->u16 = (uint16_t)(s * 40503u + dir);
    r->i16 = (int16_t)((int32_t)(s % 65536u) - 32768);
    r->u32 = (s * 2654435761u) ^ dir;
    r->i32 = -2 * (int32_t)(s % 1000000000u) + (int32_t)dir;
    r->u64 = seq * 0x9E3779B97F4A7C15ull + ((uint64_t)dir << 56);
    r->i64 = (int64_t)(seq % 1000000007u) * -1000003 - ((int64_t)dir << 40);
    r->f64 = (double)(int64_t)(seq & 0xFFFFFFFFFFull) * -0.25 + 1048576.5;
    uint64_t fb = 0x3FF0000000000000ull | (r->u64 & 0x000FFFFFFFFFFFFFull); /* in [1, 2) */
    memcpy(&r->f64_bits, &fb, sizeof(fb));
    r->f32 = (float)(s % 65536u) * 0.5f - 1000.0f;
    r->sender_bits = bits;
    for (uint32_t k = 0; k < sizeof(r->bytes); k++)
        r->bytes[k] = (uint8_t)(s * 31u + k * 7u + dir);
    snprintf(r->text, sizeof(r->text), "%s#%u", dir == MX_FROM_SERVER ? "srv" : "cli", s);
    r->check = fnv1a(r, offsetof(mx_record_t, check));
}

/* Size of blob seq: mostly within a few bytes of the largest message. */
static uint32_t blob_size(uint64_t seq, uint32_t max)
{
    static const uint32_t below_max[] = {0, 1, 7, 8, 9, 15, 16, 17, 24, 100, 1000};
    uint32_t c = ((uint32_t)seq * 2654435761u >> 16) % 16u;
    uint32_t n;
    if (c < 11)
        n = max - below_max[c];
    else if (c == 11)
        n = max / 2 + 1;
    else if (c == 12)
        n = max / 2 - 9;
    else if (c == 13)
        n = 4096 + 3;
    else if (c == 14)
        n = (uint32_t)sizeof(mx_blob_t) + 1;
    else
        n = 30000 + (uint32_t)(seq % 1000u);
    return n < max ? n : max; /* small rings */
}

/* Blobs of the unread part of a burst are all near the largest size, so
 * that a few of them are more than the ring holds. */
static uint32_t blob_size_big(uint64_t seq, uint32_t max) { return max - (uint32_t)(seq % 17u); }

/* ====================================================================== */
/* Endpoint: the server or the client, seen the same way                   */
/* ====================================================================== */

typedef struct events {
    flag_t connects, disconnects, errors;
    shm_peer_info_t connect_info, disconnect_info;
} events_t;

typedef struct endpoint {
    const char *role; /* "server" or "client" */
    const char *peer_role;
    shm_server_t *server;
    shm_client_t *client;
    uint32_t dir, peer_dir; /* MX_FROM_* of what we send / receive */
    uint32_t ring_size;     /* bytes per ring (the server's choice) */
    uint32_t max_message;   /* min(SHM_MAX_MESSAGE_SIZE, ring_size - SHM_MESSAGE_OVERHEAD) */
    uint32_t peer_bits;     /* from the peer's hello */
    uint64_t tx_seq;        /* seq of our next message = messages sent */
    uint64_t rx_next;       /* seq we expect next from the peer */
    uint64_t rx_count;      /* messages received */
    uint64_t rx_gaps;       /* messages missed, from the sequence numbers */
    uint64_t rx_calls;      /* receives tried: every other one takes a view */
    uint64_t zc_sent;       /* messages sent by reserve/commit */
    uint64_t zc_viewed;     /* messages received by a view released intact */
    uint64_t zc_overwritten; /* views the writer overwrote while we held them */
    shm_client_id_t peer_id; /* server: the client's id, from its first message */
    uint64_t foreign;       /* server: messages receive_from gave another id */
    int addressed;          /* server: send with shm_server_send_to(peer_id) */
    events_t ev;
} endpoint_t;

static union {
    uint64_t align;
    uint8_t b[SHM_MAX_MESSAGE_SIZE];
} rxbuf, txbuf;

static char fail_reason[512];

static int fail(endpoint_t *ep, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (!fail_reason[0])
        vsnprintf(fail_reason, sizeof(fail_reason), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s: error: %s\n", ep->role, fail_reason);
    return -1;
}

static void on_event(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    endpoint_t *ep = (endpoint_t *)ud;
    const shm_peer_info_t *peer =
        sz == sizeof(shm_peer_info_t) ? (const shm_peer_info_t *)data : NULL;
    switch (type) {
    case SHM_EVENT_CONNECT:
        if (peer)
            ep->ev.connect_info = *peer;
        FLAG_SET(&ep->ev.connects, FLAG_GET(&ep->ev.connects) + 1);
        break;
    case SHM_EVENT_DISCONNECT:
        if (peer)
            ep->ev.disconnect_info = *peer;
        FLAG_SET(&ep->ev.disconnects, FLAG_GET(&ep->ev.disconnects) + 1);
        break;
    case SHM_EVENT_ERROR:
        fprintf(stderr, "%s: error event: %s\n", ep->role,
                data ? shm_strerror(*(const shm_error_t *)data) : "?");
        FLAG_SET(&ep->ev.errors, FLAG_GET(&ep->ev.errors) + 1);
        break;
    default:
        break; /* DATA_AVAILABLE: main receives */
    }
}

/* Every other message is sent without a copy: reserved in the ring,
 * written there and committed (one in four reserves more than it commits).
 * The receiver cannot tell the difference. */
static shm_error_t ep_send_zc(endpoint_t *ep, const void *data, uint32_t size)
{
    uint32_t reserve = size;
    if (ep->tx_seq % 4u == 1u && size + 64u <= ep->max_message)
        reserve = size + 64u;
    void *p = NULL;
    shm_error_t e = ep->server ? shm_server_reserve(ep->server, reserve, &p)
                               : shm_client_reserve(ep->client, reserve, &p);
    if (e != SHM_SUCCESS)
        return e;
    memcpy(p, data, size);
    e = ep->server ? shm_server_commit(ep->server, p, size)
                   : shm_client_commit(ep->client, p, size);
    if (e == SHM_SUCCESS)
        ep->zc_sent++;
    return e;
}

static shm_error_t ep_send(endpoint_t *ep, const void *data, uint32_t size)
{
    if (ep->server && ep->addressed)
        return shm_server_send_to(ep->server, ep->peer_id, data, size);
    if (ep->tx_seq % 2u == 1u)
        return ep_send_zc(ep, data, size);
    return ep->server ? shm_server_send(ep->server, data, size)
                      : shm_client_send(ep->client, data, size);
}

/* A receive by view: the bytes are copied out for the checks, and count
 * only if the release says they stayed intact; a view the writer
 * overwrote meanwhile is a lost message (SHM_ERROR_EMPTY: try again). */
static shm_error_t ep_receive_view(endpoint_t *ep, void *data, uint32_t *size)
{
    shm_view_t v;
    shm_error_t e = ep->server ? shm_server_receive_view(ep->server, &v)
                               : shm_client_receive_view(ep->client, &v);
    if (e != SHM_SUCCESS)
        return e;
    int from_ok = ep->server ? v.from != 0 : v.from == 0;
    if (v.size <= *size)
        memcpy(data, v.data, v.size);
    e = ep->server ? shm_server_release(ep->server, &v) : shm_client_release(ep->client, &v);
    if (e == SHM_ERROR_OVERWRITTEN) {
        ep->zc_overwritten++;
        return SHM_ERROR_EMPTY;
    }
    if (e == SHM_SUCCESS && (v.size > *size || !from_ok)) {
        fail(ep, "view of %u bytes from client id %llu", v.size, (unsigned long long)v.from);
        return SHM_ERROR_INVALID_SEGMENT;
    }
    if (e == SHM_SUCCESS) {
        *size = v.size;
        ep->zc_viewed++;
        if (ep->server && ep->peer_id == 0) /* as receive_from below */
            ep->peer_id = v.from;
        else if (ep->server && v.from != ep->peer_id)
            ep->foreign++;
    }
    return e;
}

/* Every other receive by view; the server's others with
 * shm_server_receive_from: every message must come from the one client,
 * under one id. */
static shm_error_t ep_receive(endpoint_t *ep, void *data, uint32_t *size)
{
    if (ep->rx_calls++ % 2u == 1u)
        return ep_receive_view(ep, data, size);
    if (!ep->server)
        return shm_client_receive(ep->client, data, size);
    shm_client_id_t from = 0;
    shm_error_t e = shm_server_receive_from(ep->server, data, size, &from);
    if (e == SHM_SUCCESS) {
        if (ep->peer_id == 0)
            ep->peer_id = from;
        else if (from != ep->peer_id)
            ep->foreign++;
    }
    return e;
}

static shm_ring_t *ep_tx_ring(endpoint_t *ep)
{
    return ep->server ? shm_server_tx_ring(ep->server) : shm_client_tx_ring(ep->client);
}

static int ep_stats(endpoint_t *ep, shm_stats_t *st)
{
    shm_error_t e =
        ep->server ? shm_server_get_stats(ep->server, st) : shm_client_get_stats(ep->client, st);
    return e == SHM_SUCCESS ? 0 : fail(ep, "get_stats: %s", shm_strerror(e));
}

static int peer_gone(endpoint_t *ep) { return FLAG_GET(&ep->ev.disconnects) != 0; }

/*
 * Wait until `size` bytes can be sent without overwriting anything the peer
 * has not read. A message takes its size plus a 16-byte header, rounded up
 * to 8; when it does not fit before the end of the ring, the rest of the
 * ring is skipped, which costs at most as much again. Twice the record is
 * therefore always enough; when that is more than the ring, wait until the
 * peer has read everything.
 */
static int wait_available(endpoint_t *ep, uint32_t need, uint32_t wait_limit_ms)
{
    shm_ring_t *ring = ep_tx_ring(ep);
    uint64_t deadline = xs_now_ms() + wait_limit_ms;
    for (uint32_t spins = 0;; spins++) {
        if (shm_ring_available(ring) >= need)
            return 0;
        if (peer_gone(ep))
            return fail(ep, "%s left while we waited for room", ep->peer_role);
        if (xs_now_ms() > deadline)
            return fail(ep, "%s did not read for %u ms (ring available %u of %u)", ep->peer_role,
                        wait_limit_ms, shm_ring_available(ring), ep->ring_size);
        if (spins < 2000)
            xs_yield();
        else
            xs_sleep_ms(1);
    }
}

static int wait_room(endpoint_t *ep, uint32_t size, uint32_t wait_limit_ms)
{
    uint32_t record = (SHM_MESSAGE_OVERHEAD + size + 7u) & ~7u;
    return wait_available(ep, 2u * record < ep->ring_size ? 2u * record : ep->ring_size,
                          wait_limit_ms);
}

#define RECEIVE_LIMIT_MS 20000u

static int send_raw(endpoint_t *ep, const void *msg, uint32_t size)
{
    shm_error_t e = ep_send(ep, msg, size);
    if (e != SHM_SUCCESS)
        return fail(ep, "send of message %llu (%u bytes) failed: %s",
                    (unsigned long long)ep->tx_seq, size, shm_strerror(e));
    ep->tx_seq++;
    return 0;
}

static int send_paced(endpoint_t *ep, const void *msg, uint32_t size)
{
    if (wait_room(ep, size, RECEIVE_LIMIT_MS) != 0)
        return -1;
    return send_raw(ep, msg, size);
}

/* Build message ep->tx_seq of `kind` in txbuf; returns its size. */
static uint32_t make_message(endpoint_t *ep, uint32_t kind, uint32_t blob_bytes)
{
    uint64_t seq = ep->tx_seq;
    if (kind == MX_RECORD) {
        mx_record_t r;
        record_make(&r, seq, ep->dir, ptr_bits());
        memcpy(txbuf.b, &r, sizeof(r));
        return (uint32_t)sizeof(r);
    }
    mx_blob_t b;
    head_set(&b.head, MX_BLOB, seq);
    b.size = blob_bytes;
    b.sender_dir = ep->dir;
    memcpy(txbuf.b, &b, sizeof(b));
    memcpy(txbuf.b + sizeof(b), pattern_for(seq, ep->dir), blob_bytes - sizeof(b));
    return blob_bytes;
}

static int send_ctrl(endpoint_t *ep, uint32_t kind, uint32_t phase, uint32_t status, uint64_t count,
                     uint64_t first_seq)
{
    mx_ctrl_t c;
    memset(&c, 0, sizeof(c));
    head_set(&c.head, kind, ep->tx_seq);
    c.phase = phase;
    c.status = status;
    c.count = count;
    c.first_seq = first_seq;
    return send_paced(ep, &c, (uint32_t)sizeof(c));
}

/* Field-by-field check of a received record; names the first bad field. */
static int record_check(endpoint_t *ep, const mx_record_t *got)
{
    mx_record_t want;
    record_make(&want, got->head.seq, ep->peer_dir, ep->peer_bits);
#define CHECK_INT(f)                                                                               \
    if (got->f != want.f)                                                                          \
        return fail(ep, "record %llu: field " #f " is %lld, expected %lld",                        \
                    (unsigned long long)got->head.seq, (long long)got->f, (long long)want.f);
#define CHECK_BYTES(f)                                                                             \
    if (memcmp(&got->f, &want.f, sizeof(want.f)) != 0)                                             \
        return fail(ep, "record %llu: field " #f " differs", (unsigned long long)got->head.seq);
    CHECK_INT(u8)
    CHECK_INT(i8)
    CHECK_INT(u16)
    CHECK_INT(i16)
    CHECK_BYTES(pad0)
    CHECK_INT(u32)
    CHECK_INT(i32)
    CHECK_BYTES(u64) /* 64-bit values: compared as bytes, printed in hex below */
    CHECK_BYTES(i64)
    CHECK_BYTES(f64)
    CHECK_BYTES(f64_bits)
    CHECK_BYTES(f32)
    CHECK_INT(sender_bits)
    CHECK_BYTES(bytes)
    CHECK_BYTES(text)
    CHECK_BYTES(check)
#undef CHECK_INT
#undef CHECK_BYTES
    if (got->check != fnv1a(got, offsetof(mx_record_t, check)))
        return fail(ep, "record %llu: checksum mismatch", (unsigned long long)got->head.seq);
    if (memcmp(got, &want, sizeof(want)) != 0) /* belt and braces */
        return fail(ep, "record %llu differs", (unsigned long long)got->head.seq);
    return 0;
}

static int blob_check(endpoint_t *ep, const uint8_t *msg, uint32_t size)
{
    mx_blob_t b;
    memcpy(&b, msg, sizeof(b));
    if (b.size != size || b.sender_dir != ep->peer_dir)
        return fail(ep, "blob %llu: header says %u bytes from %u, received %u bytes",
                    (unsigned long long)b.head.seq, b.size, b.sender_dir, size);
    const uint8_t *want = pattern_for(b.head.seq, ep->peer_dir);
    if (memcmp(msg + sizeof(b), want, size - sizeof(b)) != 0) {
        uint32_t k = 0;
        while (msg[sizeof(b) + k] == want[k])
            k++;
        return fail(ep, "blob %llu (%u bytes): payload differs at byte %u",
                    (unsigned long long)b.head.seq, size, (unsigned)(sizeof(b) + k));
    }
    return 0;
}

/*
 * Receive the next message into rxbuf and check it completely. strict: its
 * seq must be the next one (nothing may be lost); otherwise it must only be
 * greater than the previous one, and the gap is counted. Returns its kind
 * (MX_*) or -1.
 */
static int receive_checked(endpoint_t *ep, int strict, uint32_t limit_ms, uint32_t *size_out,
                           mx_head_t *head_out)
{
    uint64_t deadline = xs_now_ms() + limit_ms;
    uint32_t size;
    for (;;) {
        size = (uint32_t)sizeof(rxbuf.b);
        shm_error_t e = ep_receive(ep, rxbuf.b, &size);
        if (e == SHM_SUCCESS)
            break;
        if (e != SHM_ERROR_TIMEOUT && e != SHM_ERROR_EMPTY)
            return fail(ep, "receive (expecting message %llu) failed: %s",
                        (unsigned long long)ep->rx_next, shm_strerror(e));
        if (peer_gone(ep))
            return fail(ep, "%s left (expecting message %llu)", ep->peer_role,
                        (unsigned long long)ep->rx_next);
        if (xs_now_ms() > deadline)
            return fail(ep, "nothing from the %s for %u ms (expecting message %llu)", ep->peer_role,
                        limit_ms, (unsigned long long)ep->rx_next);
    }
    mx_head_t h;
    if (size < sizeof(h))
        return fail(ep, "a message of %u bytes (expecting message %llu)", size,
                    (unsigned long long)ep->rx_next);
    memcpy(&h, rxbuf.b, sizeof(h));
    if (h.magic != MX_MAGIC)
        return fail(ep, "bad magic 0x%08x (expecting message %llu)", h.magic,
                    (unsigned long long)ep->rx_next);
    if (strict ? h.seq != ep->rx_next : h.seq < ep->rx_next)
        return fail(ep, "message %llu arrived, expected %s%llu", (unsigned long long)h.seq,
                    strict ? "" : "at least ", (unsigned long long)ep->rx_next);
    int ok;
    switch (h.kind) {
    case MX_RECORD:
        ok = size == sizeof(mx_record_t);
        if (ok) {
            mx_record_t r;
            memcpy(&r, rxbuf.b, sizeof(r));
            if (record_check(ep, &r) != 0)
                return -1;
        }
        break;
    case MX_BLOB:
        ok = size >= sizeof(mx_blob_t) && size <= ep->max_message;
        if (ok && blob_check(ep, rxbuf.b, size) != 0)
            return -1;
        break;
    case MX_HELLO:
        ok = size == sizeof(mx_hello_t);
        break;
    case MX_END:
    case MX_HOLD:
    case MX_TOKEN:
    case MX_DONE:
        ok = size == sizeof(mx_ctrl_t);
        break;
    default:
        ok = 0;
    }
    if (!ok)
        return fail(ep, "message %llu: kind %u with %u bytes", (unsigned long long)h.seq, h.kind,
                    size);
    ep->rx_gaps += h.seq - ep->rx_next;
    ep->rx_next = h.seq + 1;
    ep->rx_count++;
    if (size_out)
        *size_out = size;
    if (head_out)
        *head_out = h;
    return (int)h.kind;
}

static int receive_ctrl(endpoint_t *ep, uint32_t kind, uint32_t phase, mx_ctrl_t *out)
{
    mx_head_t h;
    int k = receive_checked(ep, 1, RECEIVE_LIMIT_MS, NULL, &h);
    if (k < 0)
        return -1;
    if ((uint32_t)k != kind)
        return fail(ep, "message %llu is of kind %d, expected %u", (unsigned long long)h.seq, k,
                    kind);
    mx_ctrl_t c;
    memcpy(&c, rxbuf.b, sizeof(c));
    if (c.phase != phase)
        return fail(ep, "control message %u for phase %u, expected phase %u", kind, c.phase, phase);
    if (out)
        *out = c;
    return 0;
}

/* ====================================================================== */
/* Phases                                                                  */
/* ====================================================================== */

enum {
    PHASE_PACED_C2S = 1,
    PHASE_PACED_S2C = 2,
    PHASE_BURST_C2S = 3,
    PHASE_BURST_S2C = 4,
    PHASE_DONE = 5,
    PHASE_ADDRESSED = 6
};

typedef struct results {
    uint64_t paced_rx, paced_records, paced_blobs;
    uint32_t paced_largest; /* bytes of the largest message received */
    uint64_t burst_sent, burst_rx, burst_lost, burst_records, burst_blobs;
} results_t;

/* Paced stream: count messages, one blob in eight, then END. */
static int paced_send(endpoint_t *ep, uint32_t phase, uint32_t count)
{
    uint64_t first = ep->tx_seq;
    for (uint32_t i = 0; i < count; i++) {
        /* One blob in eight; the first is exactly the largest message. */
        uint32_t bytes = i == 7u ? ep->max_message : blob_size(ep->tx_seq, ep->max_message);
        uint32_t n =
            (i % 8u == 7u) ? make_message(ep, MX_BLOB, bytes) : make_message(ep, MX_RECORD, 0);
        if (send_paced(ep, txbuf.b, n) != 0)
            return -1;
    }
    return send_ctrl(ep, MX_END, phase, 0, count, first);
}

static int paced_receive(endpoint_t *ep, uint32_t phase, uint32_t expected, results_t *res)
{
    shm_stats_t before, after;
    if (ep_stats(ep, &before) != 0)
        return -1;
    uint64_t first = ep->rx_next, records = 0, blobs = 0;
    uint32_t largest = 0;
    for (;;) {
        mx_head_t h;
        uint32_t size;
        int k = receive_checked(ep, 1, RECEIVE_LIMIT_MS, &size, &h);
        if (k < 0)
            return -1;
        if (k == MX_RECORD || k == MX_BLOB)
            largest = size > largest ? size : largest;
        if (k == MX_RECORD) {
            records++;
        } else if (k == MX_BLOB) {
            blobs++;
        } else if (k == MX_END) {
            mx_ctrl_t c;
            memcpy(&c, rxbuf.b, sizeof(c));
            if (c.phase != phase || c.count != expected || c.first_seq != first ||
                records + blobs != expected)
                return fail(ep,
                            "paced phase %u: END says %llu messages from %llu, received %llu "
                            "from %llu, %u announced",
                            phase, (unsigned long long)c.count, (unsigned long long)c.first_seq,
                            (unsigned long long)(records + blobs), (unsigned long long)first,
                            expected);
            break;
        } else {
            return fail(ep, "paced phase %u: unexpected message kind %d", phase, k);
        }
    }
    if (ep_stats(ep, &after) != 0)
        return -1;
    if (after.messages_lost != before.messages_lost)
        return fail(ep, "paced phase %u: %llu messages lost although the sender waited for room",
                    phase, (unsigned long long)(after.messages_lost - before.messages_lost));
    if (after.messages_received - before.messages_received != records + blobs + 1)
        return fail(ep, "paced phase %u: stats count %llu received, we counted %llu", phase,
                    (unsigned long long)(after.messages_received - before.messages_received),
                    (unsigned long long)(records + blobs + 1));
    res->paced_rx = records + blobs;
    res->paced_records = records;
    res->paced_blobs = blobs;
    res->paced_largest = largest;
    return 0;
}

/* Addressed round trips: the client sends, the server answers it with
 * shm_server_send_to (one message in flight: nothing may be lost). A byte
 * array of up to the largest size in one of four. */
static int addressed_round_trips(endpoint_t *ep, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++) {
        uint32_t kind = i % 4u == 3u ? MX_BLOB : MX_RECORD;
        uint32_t bytes = blob_size(ep->tx_seq, ep->max_message);
        if (ep->server) {
            if (receive_checked(ep, 1, RECEIVE_LIMIT_MS, NULL, NULL) < 0)
                return -1;
            ep->addressed = 1;
            int rc = send_raw(ep, txbuf.b, make_message(ep, kind, bytes));
            ep->addressed = 0;
            if (rc != 0)
                return -1;
        } else if (send_paced(ep, txbuf.b, make_message(ep, kind, bytes)) != 0 ||
                   receive_checked(ep, 1, RECEIVE_LIMIT_MS, NULL, NULL) < 0) {
            return -1;
        }
    }
    return 0;
}

/*
 * Messages of a burst sent while the receiver does not read: a quarter, at
 * least 16, and enough to fill the ring three times (three in four are byte
 * arrays near the largest size); never more than the burst.
 */
static uint32_t burst_unread_part(const endpoint_t *ep, uint32_t count)
{
    uint32_t n = count / 4u < 16u ? 16u : count / 4u;
    uint32_t fill = (3u * (ep->ring_size / ep->max_message) + 3u) * 4u / 3u + 1u;
    n = n > fill ? n : fill;
    return n < count ? n : count;
}

/* Payload bytes of the unread part of a burst that starts at first_seq. */
static uint64_t burst_unread_bytes(const endpoint_t *ep, uint64_t first_seq, uint32_t unread)
{
    uint64_t bytes = 0;
    for (uint32_t i = 0; i < unread; i++)
        bytes += i % 4u == 3u ? sizeof(mx_record_t) : blob_size_big(first_seq + i, ep->max_message);
    return bytes;
}

/*
 * Burst, sending side: wait for the peer's HOLD (it stops reading), send the
 * first part, read its TOKEN (the peer then knows the first part is out and
 * reads again), then send the rest while the peer reads: in waves of 4, 8,
 * 16 and 32 messages without any pause, each wave starting when the peer
 * has read half the ring, so that it is overrun many times, in the middle of
 * copying a message as well. Finally END, once the peer has caught up.
 */
static int burst_send(endpoint_t *ep, uint32_t phase, uint32_t count)
{
    uint32_t unread = burst_unread_part(ep, count);
    if (receive_ctrl(ep, MX_HOLD, phase, NULL) != 0)
        return -1;
    uint64_t first = ep->tx_seq;
    uint32_t wave_start = unread, wave = 0;
    for (uint32_t i = 0; i < count; i++) {
        if (i == unread && receive_ctrl(ep, MX_TOKEN, phase, NULL) != 0)
            return -1;
        if (i == wave_start && i > unread) {
            if (wait_available(ep, ep->ring_size / 2u, RECEIVE_LIMIT_MS) != 0)
                return -1;
        }
        if (i == wave_start)
            wave_start += 4u << (wave++ % 4u);
        uint32_t n;
        if (i % 4u == 3u)
            n = make_message(ep, MX_RECORD, 0);
        else if (i < unread)
            n = make_message(ep, MX_BLOB, blob_size_big(ep->tx_seq, ep->max_message));
        else
            n = make_message(ep, MX_BLOB, blob_size(ep->tx_seq, ep->max_message));
        if (send_raw(ep, txbuf.b, n) != 0)
            return -1;
    }
    if (unread == count && receive_ctrl(ep, MX_TOKEN, phase, NULL) != 0)
        return -1; /* the whole burst was the unread part */
    /* END must not be lost: wait until the peer has read everything. */
    if (wait_room(ep, ep->ring_size, RECEIVE_LIMIT_MS) != 0)
        return -1;
    return send_ctrl(ep, MX_END, phase, 0, count, first);
}

static int burst_receive(endpoint_t *ep, uint32_t phase, uint32_t expected, results_t *res)
{
    if (send_ctrl(ep, MX_HOLD, phase, 0, 0, 0) != 0 || send_ctrl(ep, MX_TOKEN, phase, 0, 0, 0) != 0)
        return -1;
    /* The peer reads TOKEN after the first part of its burst: once our ring
     * is empty again, that part is written, and has overwritten itself. */
    if (wait_room(ep, ep->ring_size, RECEIVE_LIMIT_MS) != 0)
        return -1;
    shm_stats_t before, after;
    if (ep_stats(ep, &before) != 0)
        return -1;
    uint64_t first = ep->rx_next, gaps0 = ep->rx_gaps, records = 0, blobs = 0;
    for (;;) {
        mx_head_t h;
        int k = receive_checked(ep, 0, RECEIVE_LIMIT_MS, NULL, &h);
        if (k < 0)
            return -1;
        if (k == MX_RECORD) {
            records++;
        } else if (k == MX_BLOB) {
            blobs++;
        } else if (k == MX_END) {
            mx_ctrl_t c;
            memcpy(&c, rxbuf.b, sizeof(c));
            if (c.phase != phase || c.count != expected || c.first_seq != first ||
                h.seq != first + expected)
                return fail(ep,
                            "burst phase %u: END (seq %llu) says %llu messages from %llu; "
                            "%u announced, first expected %llu",
                            phase, (unsigned long long)h.seq, (unsigned long long)c.count,
                            (unsigned long long)c.first_seq, expected, (unsigned long long)first);
            break;
        } else {
            return fail(ep, "burst phase %u: unexpected message kind %d", phase, k);
        }
    }
    if (ep_stats(ep, &after) != 0)
        return -1;
    uint64_t received = records + blobs;
    uint64_t gaps = ep->rx_gaps - gaps0;
    uint64_t lost = after.messages_lost - before.messages_lost;
    if (received + lost != expected || lost != gaps)
        return fail(ep,
                    "burst phase %u: received %llu + lost %llu (stats) != sent %u, or lost "
                    "!= %llu missing sequence numbers",
                    phase, (unsigned long long)received, (unsigned long long)lost, expected,
                    (unsigned long long)gaps);
    if (after.messages_received - before.messages_received != received + 1)
        return fail(ep, "burst phase %u: stats count %llu received, we counted %llu", phase,
                    (unsigned long long)(after.messages_received - before.messages_received),
                    (unsigned long long)(received + 1));
    /* While we did not read, more than the ring was written: the oldest of
     * it must have been overwritten. */
    uint32_t unread = burst_unread_part(ep, expected);
    uint64_t unread_bytes = burst_unread_bytes(ep, first, unread);
    if (lost == 0 && unread_bytes > ep->ring_size)
        return fail(ep,
                    "burst phase %u: nothing was overwritten although %u messages (%llu bytes) "
                    "were sent into a %u-byte ring while we did not read",
                    phase, unread, (unsigned long long)unread_bytes, ep->ring_size);
    res->burst_sent = expected;
    res->burst_rx = received;
    res->burst_lost = lost;
    res->burst_records = records;
    res->burst_blobs = blobs;
    return 0;
}

/* ====================================================================== */
/* Session                                                                 */
/* ====================================================================== */

typedef struct options {
    int is_server;
    const char *channel;
    uint32_t count;
    uint32_t burst;
    uint32_t ring;
    uint32_t wait_s;
    uint32_t expect_peer_bits; /* 0: any */
} options_t;

static int wait_connect_event(endpoint_t *ep, uint32_t limit_ms)
{
    uint64_t deadline = xs_now_ms() + limit_ms;
    while (FLAG_GET(&ep->ev.connects) == 0) {
        if (xs_now_ms() > deadline)
            return fail(ep, "no CONNECT event within %u ms", limit_ms);
        xs_sleep_ms(5);
    }
    return 0;
}

static int send_hello(endpoint_t *ep, const options_t *o)
{
    mx_hello_t h;
    memset(&h, 0, sizeof(h));
    head_set(&h.head, MX_HELLO, ep->tx_seq);
    h.ptr_bits = ptr_bits();
    h.pid = xs_pid();
    h.lib_version = shm_version();
    h.record_size = (uint32_t)sizeof(mx_record_t);
    h.layout_sig = layout_sig();
    h.ring_size = ep->server ? ep->ring_size : 0;
    h.max_message = ep->server ? ep->max_message : 0;
    h.paced_count = o->count;
    h.burst_count = o->burst;
    return send_paced(ep, &h, (uint32_t)sizeof(h));
}

static int receive_hello(endpoint_t *ep, uint32_t limit_ms, mx_hello_t *h)
{
    mx_head_t head;
    int k = receive_checked(ep, 1, limit_ms, NULL, &head);
    if (k < 0)
        return -1;
    if (k != MX_HELLO)
        return fail(ep, "first message from the %s is of kind %d, not a hello", ep->peer_role, k);
    memcpy(h, rxbuf.b, sizeof(*h));
    if (h->record_size != sizeof(mx_record_t) || h->layout_sig != layout_sig())
        return fail(ep,
                    "the %s's structs differ: record %u bytes, layout 0x%08x; ours %u bytes, "
                    "0x%08x",
                    ep->peer_role, h->record_size, h->layout_sig, (unsigned)sizeof(mx_record_t),
                    layout_sig());
    if (h->ptr_bits != 32 && h->ptr_bits != 64)
        return fail(ep, "the %s says it is %u-bit", ep->peer_role, h->ptr_bits);
    ep->peer_bits = h->ptr_bits;
    return 0;
}

static int session(endpoint_t *ep, const options_t *o)
{
    mx_hello_t peer;
    results_t rx;
    uint64_t t0 = xs_now_ms();
    memset(&rx, 0, sizeof(rx));

    /* ---- hello: widths, pids and layouts ---- */
    if (ep->server) {
        printf("server: waiting for a client on '%s' (up to %u s)\n", o->channel, o->wait_s);
        fflush(stdout);
        if (receive_hello(ep, o->wait_s * 1000u, &peer) != 0 || send_hello(ep, o) != 0)
            return -1;
    } else {
        if (send_hello(ep, o) != 0 || receive_hello(ep, RECEIVE_LIMIT_MS, &peer) != 0)
            return -1;
        if (peer.ring_size < SHM_MIN_RING_SIZE || peer.max_message < sizeof(mx_record_t) ||
            peer.max_message > SHM_MAX_MESSAGE_SIZE || peer.max_message > peer.ring_size - SHM_MESSAGE_OVERHEAD)
            return fail(ep, "server announces ring %u, largest message %u", peer.ring_size,
                        peer.max_message);
        ep->ring_size = peer.ring_size;
        ep->max_message = peer.max_message;
    }
    if (wait_connect_event(ep, 5000) != 0)
        return -1;
    shm_peer_info_t ci = ep->ev.connect_info;
    printf("%s: this process is %u-bit (pid %u); the %s is %u-bit (pid %u), "
           "from the CONNECT event\n",
           ep->role, ptr_bits(), xs_pid(), ep->peer_role, ci.ptr_bits, ci.pid);
    printf("%s: ring %u bytes, largest message %u bytes, record struct %u bytes, "
           "layouts match (0x%08x)\n",
           ep->role, ep->ring_size, ep->max_message, (unsigned)sizeof(mx_record_t), layout_sig());
    fflush(stdout);
    if (ci.ptr_bits != peer.ptr_bits || ci.pid != peer.pid)
        return fail(ep, "CONNECT event says %u-bit pid %u, the %s's hello %u-bit pid %u",
                    ci.ptr_bits, ci.pid, ep->peer_role, peer.ptr_bits, peer.pid);
    if (ep->server && (ci.client_id == 0 || ci.client_id != ep->peer_id ||
                       (uint32_t)(ci.client_id & 0xFFu) != ci.slot))
        return fail(ep, "CONNECT event names client id 0x%llx (slot %u), receive_from 0x%llx",
                    (unsigned long long)ci.client_id, ci.slot, (unsigned long long)ep->peer_id);
    if (!ep->server && ci.client_id != 0)
        return fail(ep, "the client's CONNECT event carries client id 0x%llx, not 0",
                    (unsigned long long)ci.client_id);
    if (o->expect_peer_bits && ci.ptr_bits != o->expect_peer_bits)
        return fail(ep, "the %s is %u-bit, expected %u-bit", ep->peer_role, ci.ptr_bits,
                    o->expect_peer_bits);
    if (peer.burst_count != 0 && peer.burst_count < 16)
        return fail(ep, "the %s announces a burst of %u (at least 16)", ep->peer_role,
                    peer.burst_count);

    /* ---- paced streams, then bursts, client first ---- */
    int is_s = ep->server != NULL;
    uint32_t my_burst = o->burst, peer_burst = peer.burst_count;
    if (is_s ? paced_receive(ep, PHASE_PACED_C2S, peer.paced_count, &rx)
             : paced_send(ep, PHASE_PACED_C2S, o->count))
        return -1;
    if (is_s ? paced_send(ep, PHASE_PACED_S2C, o->count)
             : paced_receive(ep, PHASE_PACED_S2C, peer.paced_count, &rx))
        return -1;
    printf("%s: paced  %s->%s: %u messages sent; %s->%s: %llu received (%llu structs, "
           "%llu byte arrays, largest %u bytes), every field intact, none lost\n",
           ep->role, ep->role, ep->peer_role, o->count, ep->peer_role, ep->role,
           (unsigned long long)rx.paced_rx, (unsigned long long)rx.paced_records,
           (unsigned long long)rx.paced_blobs, rx.paced_largest);
    fflush(stdout);
    uint32_t c_burst = is_s ? peer_burst : my_burst, s_burst = is_s ? my_burst : peer_burst;
    if (c_burst && (is_s ? burst_receive(ep, PHASE_BURST_C2S, c_burst, &rx)
                         : burst_send(ep, PHASE_BURST_C2S, c_burst)))
        return -1;
    if (s_burst && (is_s ? burst_send(ep, PHASE_BURST_S2C, s_burst)
                         : burst_receive(ep, PHASE_BURST_S2C, s_burst, &rx)))
        return -1;
    if (my_burst || peer_burst) {
        printf("%s: burst  %s->%s: %u messages sent without pause; %s->%s: %u sent, "
               "%llu received intact (%llu structs, %llu byte arrays) + %llu overwritten = %u\n",
               ep->role, ep->role, ep->peer_role, my_burst, ep->peer_role, ep->role, peer_burst,
               (unsigned long long)rx.burst_rx, (unsigned long long)rx.burst_records,
               (unsigned long long)rx.burst_blobs, (unsigned long long)rx.burst_lost,
               (unsigned)(rx.burst_rx + rx.burst_lost));
        fflush(stdout);
    }

    /* ---- addressed: request and reply, the server answering one client ---- */
    uint32_t trips = o->count < 500u ? o->count : 500u;
    if (addressed_round_trips(ep, trips) != 0)
        return -1;
    if (ep->server && ep->foreign != 0)
        return fail(ep, "%llu messages attributed to another client id than 0x%llx",
                    (unsigned long long)ep->foreign, (unsigned long long)ep->peer_id);
    if (ep->server)
        printf("server: addressed  %u round trips, each answered with send_to; every message "
               "from client id 0x%llx, as its CONNECT said\n",
               trips, (unsigned long long)ep->peer_id);
    else
        printf("client: addressed  %u round trips, each answer addressed to this client\n", trips);
    fflush(stdout);

    /* ---- done: the client says so, the server answers ---- */
    if (is_s ? receive_ctrl(ep, MX_DONE, PHASE_DONE, NULL) ||
                   send_ctrl(ep, MX_DONE, PHASE_DONE, 0, 0, 0)
             : send_ctrl(ep, MX_DONE, PHASE_DONE, 0, 0, 0) ||
                   receive_ctrl(ep, MX_DONE, PHASE_DONE, NULL))
        return -1;

    /* ---- the library's counters agree with ours ---- */
    shm_stats_t st;
    if (ep_stats(ep, &st) != 0)
        return -1;
    if (st.messages_sent != ep->tx_seq || st.messages_received != ep->rx_count ||
        st.messages_lost != ep->rx_gaps)
        return fail(ep,
                    "stats: sent %llu received %llu lost %llu; counted sent %llu received "
                    "%llu missing %llu",
                    (unsigned long long)st.messages_sent, (unsigned long long)st.messages_received,
                    (unsigned long long)st.messages_lost, (unsigned long long)ep->tx_seq,
                    (unsigned long long)ep->rx_count, (unsigned long long)ep->rx_gaps);
    if (FLAG_GET(&ep->ev.errors) != 0)
        return fail(ep, "%ld ERROR events", (long)FLAG_GET(&ep->ev.errors));
    printf("%s: stats agree: sent %llu, received %llu, lost %llu messages; %llu ms\n", ep->role,
           (unsigned long long)st.messages_sent, (unsigned long long)st.messages_received,
           (unsigned long long)st.messages_lost, (unsigned long long)(xs_now_ms() - t0));
    printf("%s: summary self=%u peer=%u ring=%u max=%u largest=%u paced_rx=%llu burst_rx=%llu "
           "burst_lost=%llu\n",
           ep->role, ptr_bits(), ep->peer_bits, ep->ring_size, ep->max_message, rx.paced_largest,
           (unsigned long long)rx.paced_rx, (unsigned long long)rx.burst_rx,
           (unsigned long long)rx.burst_lost);
    fflush(stdout);
    return 0;
}

/* ====================================================================== */
/* main                                                                    */
/* ====================================================================== */

static void usage(FILE *f)
{
    fprintf(f, "usage: mixed_conformance server [channel] [count] [options]   (server)\n"
               "       mixed_conformance [channel] [count] [options]          (client)\n"
               "       mixed_conformance --version\n"
               "options: --ring BYTES (server, power of two, default 65536), --burst N (default "
               "1000, 0 = none, else >= 16),\n"
               "         --wait SECONDS (server, default 30), --expect-peer-bits 32|64\n");
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end = NULL;
    unsigned long v = strtoul(s, &end, 10);
    if (!s[0] || *end || v > 0xFFFFFFFFul)
        return -1;
    *out = (uint32_t)v;
    return 0;
}

static int parse_args(int argc, char **argv, options_t *o)
{
    int positional = 0;
    o->is_server = 0;
    o->channel = "xshm_mixed_conformance";
    o->count = 2000;
    o->burst = 1000;
    o->ring = 65536;
    o->wait_s = 30;
    o->expect_peer_bits = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) == 0) {
            uint32_t *dst = strcmp(a, "--ring") == 0               ? &o->ring
                            : strcmp(a, "--burst") == 0            ? &o->burst
                            : strcmp(a, "--wait") == 0             ? &o->wait_s
                            : strcmp(a, "--expect-peer-bits") == 0 ? &o->expect_peer_bits
                                                                   : NULL;
            if (!dst || i + 1 >= argc || parse_u32(argv[i + 1], dst) != 0) {
                fprintf(stderr, "mixed_conformance: bad option '%s'\n", a);
                return -1;
            }
            i++;
        } else if (i == 1 && strcmp(a, "server") == 0) {
            o->is_server = 1;
        } else if (positional == 0) {
            o->channel = a;
            positional++;
        } else if (positional == 1) {
            if (parse_u32(a, &o->count) != 0) {
                fprintf(stderr, "mixed_conformance: bad message count '%s'\n", a);
                return -1;
            }
            positional++;
        } else {
            fprintf(stderr, "mixed_conformance: unexpected argument '%s'\n", a);
            return -1;
        }
    }
    if (o->burst != 0 && o->burst < 16) {
        fprintf(stderr, "mixed_conformance: --burst must be 0 or at least 16\n");
        return -1;
    }
    if (o->expect_peer_bits != 0 && o->expect_peer_bits != 32 && o->expect_peer_bits != 64) {
        fprintf(stderr, "mixed_conformance: --expect-peer-bits must be 32 or 64\n");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-h") == 0 ||
                     strcmp(argv[1], "--help") == 0)) {
        if (argv[1][1] == 'h' || argv[1][2] == 'h') {
            usage(stdout);
            return 0;
        }
        uint32_t v = shm_version();
        printf("mixed_conformance: xshm %u.%u.%u (header %u.%u.%u), %u-bit\n", v / 10000u,
               v / 100u % 100u, v % 100u, SHM_VERSION_MAJOR, SHM_VERSION_MINOR, SHM_VERSION_PATCH,
               ptr_bits());
        return 0;
    }
    options_t o;
    if (parse_args(argc, argv, &o) != 0) {
        usage(stderr);
        return 2;
    }
    pattern_init();

    static endpoint_t ep; /* static: zeroed, and outlives the listener thread */
    ep.role = o.is_server ? "server" : "client";
    ep.peer_role = o.is_server ? "client" : "server";
    ep.dir = o.is_server ? MX_FROM_SERVER : MX_FROM_CLIENT;
    ep.peer_dir = o.is_server ? MX_FROM_CLIENT : MX_FROM_SERVER;

    if (o.is_server) {
        shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
        cfg.size = o.ring;
        cfg.max_readers = 1;
        cfg.blocking = true;
        cfg.timeout_ms = 200; /* receive returns now and then to check on the peer */
        ep.server = shm_server_create(o.channel, &cfg);
        if (!ep.server) {
            fprintf(stderr, "server: cannot create channel '%s' (ring %u): %s\n", o.channel, o.ring,
                    shm_strerror(shm_last_error()));
            printf("server: FAIL: cannot create channel\n");
            return 1;
        }
        ep.ring_size = o.ring;
        ep.max_message = o.ring - SHM_MESSAGE_OVERHEAD < SHM_MAX_MESSAGE_SIZE ? o.ring - SHM_MESSAGE_OVERHEAD : SHM_MAX_MESSAGE_SIZE;
        if (shm_server_register_callback(ep.server, on_event, &ep) != SHM_SUCCESS) {
            fprintf(stderr, "server: cannot start the listener\n");
            shm_server_destroy(ep.server);
            return 1;
        }
    } else {
        /* shm_client_connect retries for about 500 ms; allow a server that
         * starts at the same moment up to 10 s. */
        for (int attempt = 0; attempt < 20 && !ep.client; attempt++) {
            ep.client = shm_client_connect(o.channel);
            if (!ep.client && shm_last_error() != SHM_ERROR_NOT_FOUND)
                break;
        }
        if (!ep.client) {
            fprintf(stderr, "client: cannot connect to '%s': %s\n", o.channel,
                    shm_strerror(shm_last_error()));
            printf("client: FAIL: cannot connect\n");
            return 1;
        }
        if (shm_client_register_callback(ep.client, on_event, &ep) != SHM_SUCCESS) {
            fprintf(stderr, "client: cannot start the listener\n");
            shm_client_disconnect(ep.client);
            return 1;
        }
    }

    int rc = session(&ep, &o) == 0 ? 0 : 1;

    if (ep.server) {
        if (rc == 0) {
            /* The client disconnects after our DONE: DISCONNECT must follow,
             * for the same process. */
            uint64_t deadline = xs_now_ms() + 10000;
            while (!peer_gone(&ep) && xs_now_ms() < deadline)
                xs_sleep_ms(5);
            if (!peer_gone(&ep)) {
                fail(&ep, "no DISCONNECT event within 10 s of the end");
                rc = 1;
            } else if (ep.ev.disconnect_info.pid != ep.ev.connect_info.pid) {
                fail(&ep, "DISCONNECT for pid %u, CONNECT was for pid %u",
                     ep.ev.disconnect_info.pid, ep.ev.connect_info.pid);
                rc = 1;
            } else
                printf("server: client disconnected (pid %u, %u-bit)\n", ep.ev.disconnect_info.pid,
                       ep.ev.disconnect_info.ptr_bits);
        }
        shm_server_destroy(ep.server);
    } else {
        shm_client_disconnect(ep.client);
    }
    if (rc == 0 && (ep.zc_sent == 0 || ep.zc_viewed == 0)) {
        fail(&ep, "zero-copy: %llu messages sent by reserve/commit, %llu received by view",
             (unsigned long long)ep.zc_sent, (unsigned long long)ep.zc_viewed);
        rc = 1;
    }
    if (rc == 0)
        printf("%s: zero-copy: %llu sent by reserve/commit, %llu received by view, %llu views "
               "overwritten while held (counted lost)\n",
               ep.role, (unsigned long long)ep.zc_sent, (unsigned long long)ep.zc_viewed,
               (unsigned long long)ep.zc_overwritten);
    if (rc == 0)
        printf("%s: PASS: %u-bit %s with %u-bit %s\n", ep.role, ptr_bits(), ep.role, ep.peer_bits,
               ep.peer_role);
    else
        printf("%s: FAIL: %s\n", ep.role, fail_reason[0] ? fail_reason : "error");
    fflush(stdout);
    return rc;
}
