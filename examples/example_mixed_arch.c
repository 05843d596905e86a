/*
 * example_mixed_arch.c - a 32-bit and a 64-bit process sharing one channel.
 *
 * Build this file for x64 and for x86, then start the server from one build
 * and the client from the other (either way round):
 *
 *   example_mixed_arch server [channel]            the server (e.g. x64)
 *   example_mixed_arch [channel] [count]           the client (e.g. x86)
 *   example_mixed_arch --version                   library version and width
 *
 * The client sends `count` (default 1000) sample_t structs; the server checks
 * every field and sends each one back with its own pointer width; the
 * client checks the answers. Both print the peer's width from the CONNECT
 * event. Exit status 0 when every field arrived intact.
 *
 * xshm copies bytes; it is the struct that must look the same to both
 * processes. The rules for a struct that x86 and x64 processes exchange:
 *  - fixed-width types only: uint8_t .. uint64_t, int8_t .. int64_t, float,
 *    double, and arrays of them. Never long (32 bits on Windows x64, 64 on
 *    Linux x86_64), size_t, pointers, bool or enums;
 *  - every field at an offset that is a multiple of its size, gaps filled
 *    with explicit padding fields, and the size a multiple of 8. Linux i386
 *    aligns uint64_t and double to 4 inside a struct, Windows x86 and every
 *    64-bit target to 8: struct { uint32_t a; uint64_t b; } is 12 bytes on
 *    one and 16 on the other;
 *  - static asserts on the size and on every offset, so that a build that
 *    lays the struct out differently does not compile.
 * (tests/mixed/mixed_conformance.c is the full check the project runs.)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ipc.h"

/* ---- the shared struct: copy this part ------------------------------------- */

#define SAMPLE_MAGIC 0x4D584131u /* "1AXM" */

typedef struct sample {
    uint32_t magic;       /*  0: SAMPLE_MAGIC */
    uint32_t sender_bits; /*  4: the sender's pointer width, 32 or 64 */
    uint64_t seq;         /*  8: message number, from 0 */
    uint64_t total;       /* 16: messages in the session */
    double value;         /* 24 */
    int32_t delta;        /* 32 */
    uint16_t flags;       /* 36 */
    uint8_t pad0[2];      /* 38: explicit padding, zero */
    char text[16];        /* 40: NUL-terminated */
} sample_t;               /* 56 bytes */

#ifdef __cplusplus
#define SAMPLE_ASSERT(c, m) static_assert(c, m)
#else
#define SAMPLE_ASSERT(c, m) _Static_assert(c, m)
#endif
#define SAMPLE_OFFSET(field, off) \
    SAMPLE_ASSERT(offsetof(sample_t, field) == (off), "sample_t." #field " at " #off)
SAMPLE_ASSERT(sizeof(sample_t) == 56, "sample_t is 56 bytes");
SAMPLE_OFFSET(magic, 0);
SAMPLE_OFFSET(sender_bits, 4);
SAMPLE_OFFSET(seq, 8);
SAMPLE_OFFSET(total, 16);
SAMPLE_OFFSET(value, 24);
SAMPLE_OFFSET(delta, 32);
SAMPLE_OFFSET(flags, 36);
SAMPLE_OFFSET(pad0, 38);
SAMPLE_OFFSET(text, 40);

/* ---- contents: every field a function of the message number ---------------- */

static uint32_t my_bits(void) { return (uint32_t)(sizeof(void *) * 8); }

/* The client's message seq; the server answers with value negated. */
static void sample_make(sample_t *s, uint64_t seq, uint64_t total, int answer)
{
    memset(s, 0, sizeof(*s)); /* padding included */
    s->magic = SAMPLE_MAGIC;
    s->sender_bits = my_bits();
    s->seq = seq;
    s->total = total;
    s->value = ((double)seq + 0.25) * (answer ? -1.0 : 1.0); /* exact on every FPU */
    s->delta = -(int32_t)(seq % 1000000u);
    s->flags = (uint16_t)(seq * 40503u);
    snprintf(s->text, sizeof(s->text), "%s#%u", answer ? "a" : "s", (unsigned)seq);
}

static int sample_ok(const sample_t *got, uint64_t seq, uint64_t total, int answer)
{
    sample_t want;
    sample_make(&want, seq, total, answer);
    want.sender_bits = got->sender_bits; /* the peer's width: 32 or 64 */
    return (got->sender_bits == 32 || got->sender_bits == 64) &&
           memcmp(got, &want, sizeof(want)) == 0;
}

/* ---- events: the peer's width comes with CONNECT ---------------------------- */

static void on_event(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    const char *role = (const char *)ud;
    const shm_peer_info_t *peer = sz == sizeof(shm_peer_info_t) ? (const shm_peer_info_t *)data : NULL;
    if (type == SHM_EVENT_CONNECT && peer)
        printf("%s: this process is %u-bit; peer pid %u is %u-bit\n", role, my_bits(), peer->pid,
               peer->ptr_bits);
    else if (type == SHM_EVENT_DISCONNECT)
        printf("%s: peer left\n", role);
    fflush(stdout);
}

/* ---- server: check each sample, send it back -------------------------------- */

static int run_server(const char *name)
{
    shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
    cfg.size = 64 * 1024; /* small rings: 2 x 64 KiB of shared memory */
    cfg.max_readers = 1;
    cfg.timeout_ms = 30000; /* wait up to 30 s for the client and for each sample */
    shm_server_t *server = shm_server_create(name, &cfg);
    if (!server) {
        fprintf(stderr, "server: cannot create '%s': %s\n", name, shm_strerror(shm_last_error()));
        return 1;
    }
    shm_server_register_callback(server, on_event, (void *)"server");
    printf("server: waiting on '%s'\n", name);
    fflush(stdout);

    uint64_t seq = 0, total = 1;
    int rc = 0;
    while (seq < total) {
        sample_t s;
        shm_error_t err = SHM_RECV_STRUCT(server, &s);
        if (err != SHM_SUCCESS || !sample_ok(&s, seq, s.total, 0)) {
            fprintf(stderr, "server: sample %llu: %s\n", (unsigned long long)seq,
                    err != SHM_SUCCESS ? shm_strerror(err) : "a field differs");
            rc = 1;
            break;
        }
        total = s.total;
        sample_make(&s, seq, total, 1);
        if (SHM_SEND_STRUCT(server, &s) != SHM_SUCCESS) {
            rc = 1;
            break;
        }
        seq++;
    }
    if (rc == 0)
        printf("server: %llu samples from the client intact, all answered\n",
               (unsigned long long)total);
    shm_server_destroy(server);
    return rc;
}

/* ---- client: send samples one at a time, check the answers ------------------ */

static int run_client(const char *name, uint64_t count)
{
    /* shm_client_connect retries for about 500 ms; allow a server that
     * starts at the same moment up to 10 s. */
    shm_client_t *client = NULL;
    for (int attempt = 0; attempt < 20 && !client; attempt++) {
        client = shm_client_connect(name);
        if (!client && shm_last_error() != SHM_ERROR_NOT_FOUND)
            break;
    }
    if (!client) {
        fprintf(stderr, "client: cannot connect to '%s': %s\n", name, shm_strerror(shm_last_error()));
        return 1;
    }
    shm_client_register_callback(client, on_event, (void *)"client");

    int rc = 0;
    uint32_t server_bits = 0;
    for (uint64_t seq = 0; seq < count && rc == 0; seq++) {
        sample_t s;
        sample_make(&s, seq, count, 0);
        shm_error_t err = SHM_SEND_STRUCT(client, &s);
        if (err == SHM_SUCCESS)
            err = SHM_RECV_STRUCT(client, &s);
        if (err != SHM_SUCCESS || !sample_ok(&s, seq, count, 1)) {
            fprintf(stderr, "client: answer %llu: %s\n", (unsigned long long)seq,
                    err != SHM_SUCCESS ? shm_strerror(err) : "a field differs");
            rc = 1;
        }
        server_bits = s.sender_bits;
    }
    if (rc == 0)
        printf("client: %llu samples and answers intact (%u-bit client, %u-bit server)\n",
               (unsigned long long)count, my_bits(), server_bits);
    shm_client_disconnect(client);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--version") == 0) {
        uint32_t v = shm_version();
        printf("example_mixed_arch: xshm %u.%u.%u, %u-bit\n", v / 10000u, v / 100u % 100u,
               v % 100u, my_bits());
        return 0;
    }
    int is_server = argc > 1 && strcmp(argv[1], "server") == 0;
    int arg = is_server ? 2 : 1;
    const char *name = argc > arg ? argv[arg] : "xshm_mixed_arch";
    uint64_t count = argc > arg + 1 ? strtoull(argv[arg + 1], NULL, 10) : 1000;
    if (count == 0)
        count = 1;
    return is_server ? run_server(name) : run_client(name, count);
}
