/*
 * zero_copy.c - messages written and read in place, without a copy.
 *
 *   zero_copy server [channel] [wait-seconds]   the server
 *   zero_copy client [channel] [count]          the client (default 1000)
 *
 * The client builds each request directly in the ring: shm_client_reserve()
 * gives it room there, it writes the request, shm_client_commit() sends it
 * (shorter than reserved: it reserves for the largest request). The server
 * reads each request where it lies (shm_server_receive_view()), writes its
 * answer directly into its own ring (shm_server_reserve()), and only then
 * releases the request: shm_server_release() says whether the request's
 * bytes stayed intact while it read them. If they did not (the client
 * overwrote them meanwhile), the answer computed from them is aborted,
 * never sent. The client checks every answer through a view as well.
 * Both print a summary; exit status 0 when every check passed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ipc.h"

#define MAX_PAYLOAD 4000u
#define DONE 0xFFFFFFFFu

/* A request or an answer: this header, then `len` payload bytes. */
typedef struct msg_head {
    uint32_t seq; /* request number; DONE ends the session */
    uint32_t len; /* payload bytes that follow */
} msg_head_t;

/* Request seq's payload byte i; the answer has each byte + 1. */
static uint8_t request_byte(uint32_t seq, uint32_t i) { return (uint8_t)(seq * 31u + i * 7u); }
static uint32_t request_len(uint32_t seq) { return 1u + seq * 131u % MAX_PAYLOAD; }

static int run_server(const char *name, int wait_s)
{
    shm_ring_config_t config = SHM_DEFAULT_CONFIG();
    config.timeout_ms = 200; /* receive_view returns now and then to check the time */
    shm_server_t *server = shm_server_create(name, &config);
    if (!server) {
        fprintf(stderr, "server: cannot create '%s': %s\n", name, shm_strerror(shm_last_error()));
        return 1;
    }
    unsigned answered = 0, bad = 0, overwritten = 0, idle_ms = 0;
    int done = 0;
    while (!done && idle_ms < (unsigned)wait_s * 1000u) {
        shm_view_t req;
        shm_error_t e = shm_server_receive_view(server, &req);
        if (e == SHM_ERROR_TIMEOUT) {
            idle_ms += 200;
            continue;
        }
        if (e != SHM_SUCCESS) {
            fprintf(stderr, "server: receive_view: %s\n", shm_strerror(e));
            break;
        }
        idle_ms = 0;
        msg_head_t h = {0, 0};
        if (req.size >= sizeof(h))
            memcpy(&h, req.data, sizeof(h));
        if (req.size < sizeof(h) || h.len != req.size - sizeof(h)) {
            bad++;
            shm_server_release(server, &req);
            continue;
        }
        if (h.seq == DONE) {
            done = shm_server_release(server, &req) == SHM_SUCCESS;
            continue;
        }
        /* The answer, computed from the request's bytes in place into our
         * ring. */
        void *out = NULL;
        e = shm_server_reserve(server, req.size, &out);
        if (e != SHM_SUCCESS) {
            fprintf(stderr, "server: reserve: %s\n", shm_strerror(e));
            shm_server_release(server, &req);
            break;
        }
        const uint8_t *in = (const uint8_t *)req.data + sizeof(h);
        uint8_t *ans = (uint8_t *)out + sizeof(h);
        memcpy(out, &h, sizeof(h));
        for (uint32_t i = 0; i < h.len; i++)
            ans[i] = (uint8_t)(in[i] + 1u);
        /* The release contract: only SUCCESS says the request was intact
         * the whole time; otherwise discard what was computed from it. */
        if (shm_server_release(server, &req) != SHM_SUCCESS) {
            overwritten++;
            shm_server_abort(server, out);
            continue;
        }
        e = shm_server_commit(server, out, req.size);
        if (e != SHM_SUCCESS) {
            fprintf(stderr, "server: commit: %s\n", shm_strerror(e));
            break;
        }
        answered++;
    }
    shm_stats_t st;
    shm_server_get_stats(server, &st);
    printf("server: answered %u requests in place (%u malformed, %u overwritten while read); "
           "received %llu, lost %llu\n",
           answered, bad, overwritten, (unsigned long long)st.messages_received,
           (unsigned long long)st.messages_lost);
    shm_server_destroy(server);
    return done && bad == 0 ? 0 : 1;
}

static int run_client(const char *name, uint32_t count)
{
    shm_client_t *client = shm_client_connect(name);
    if (!client) {
        fprintf(stderr, "client: cannot connect to '%s': %s\n", name,
                shm_strerror(shm_last_error()));
        return 1;
    }
    uint32_t ok = 0, wrong = 0;
    uint64_t bytes = 0;
    shm_error_t e = SHM_SUCCESS;
    for (uint32_t seq = 0; seq < count && e == SHM_SUCCESS; seq++) {
        /* The request, written where it will be read. */
        void *p = NULL;
        e = shm_client_reserve(client, (uint32_t)sizeof(msg_head_t) + MAX_PAYLOAD, &p);
        if (e != SHM_SUCCESS)
            break;
        msg_head_t h = {seq, request_len(seq)};
        memcpy(p, &h, sizeof(h));
        uint8_t *payload = (uint8_t *)p + sizeof(h);
        for (uint32_t i = 0; i < h.len; i++)
            payload[i] = request_byte(seq, i);
        e = shm_client_commit(client, p, (uint32_t)sizeof(h) + h.len); /* shorter than reserved */
        if (e != SHM_SUCCESS)
            break;
        /* The answer, checked where it lies. */
        shm_view_t ans;
        e = shm_client_receive_view(client, &ans);
        if (e != SHM_SUCCESS)
            break;
        msg_head_t ah;
        int good = ans.size == sizeof(h) + h.len;
        if (good) {
            memcpy(&ah, ans.data, sizeof(ah));
            const uint8_t *a = (const uint8_t *)ans.data + sizeof(ah);
            good = ah.seq == seq && ah.len == h.len;
            for (uint32_t i = 0; good && i < h.len; i++)
                good = a[i] == (uint8_t)(request_byte(seq, i) + 1u);
        }
        e = shm_client_release(client, &ans);
        if (e == SHM_SUCCESS && good) {
            ok++;
            bytes += h.len;
        } else if (e == SHM_SUCCESS || e == SHM_ERROR_OVERWRITTEN) {
            wrong++; /* the server answers one request at a time: never overwritten */
            e = SHM_SUCCESS;
        }
    }
    if (e != SHM_SUCCESS)
        fprintf(stderr, "client: %s\n", shm_strerror(e));
    msg_head_t bye = {DONE, 0};
    shm_client_send(client, &bye, sizeof(bye));
    shm_stats_t st;
    shm_client_get_stats(client, &st);
    printf("client: %u of %u answers correct (%llu payload bytes each way), %u wrong; "
           "sent %llu, received %llu, lost %llu\n",
           ok, count, (unsigned long long)bytes, wrong, (unsigned long long)st.messages_sent,
           (unsigned long long)st.messages_received, (unsigned long long)st.messages_lost);
    shm_client_disconnect(client);
    return ok == count ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || (strcmp(argv[1], "server") != 0 && strcmp(argv[1], "client") != 0)) {
        fprintf(stderr, "usage: zero_copy server [channel] [wait-seconds]\n"
                        "       zero_copy client [channel] [count]\n");
        return 2;
    }
    const char *name = argc > 2 ? argv[2] : "xshm_zero_copy";
    if (strcmp(argv[1], "server") == 0)
        return run_server(name, argc > 3 ? atoi(argv[3]) : 30);
    return run_client(name, argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 10) : 1000u);
}
