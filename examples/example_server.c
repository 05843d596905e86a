/*
 * example_server.c - the echo server of the xshm examples.
 *
 * Creates a channel, prints connection events, and sends every message it
 * receives back to the client. Exits 0 once a client has connected and left
 * again; non-zero if no client came within the wait limit or on an error.
 *
 *   example_server [channel-name] [wait-seconds]
 */
#include <stdio.h>
#include <stdlib.h>

#include "shm_ipc.h"

static volatile int clients_seen;
static volatile int clients_left;

static void on_event(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    const shm_peer_info_t *peer = (const shm_peer_info_t *)data;
    (void)ud;
    switch (type) {
    case SHM_EVENT_CONNECT:
        if (peer && sz == sizeof(*peer))
            printf("server: client connected (pid %u, %u-bit, slot %u)\n", peer->pid,
                   peer->ptr_bits, peer->slot);
        clients_seen++;
        break;
    case SHM_EVENT_DISCONNECT:
        if (peer && sz == sizeof(*peer))
            printf("server: client disconnected (pid %u)\n", peer->pid);
        clients_left++;
        break;
    case SHM_EVENT_ERROR:
        printf("server: error event: %s\n", shm_strerror(*(const shm_error_t *)data));
        break;
    default:
        break; /* DATA_AVAILABLE: the main loop receives */
    }
    fflush(stdout);
}

int main(int argc, char **argv)
{
    const char *name = argc > 1 ? argv[1] : "xshm_example";
    int wait_s = argc > 2 ? atoi(argv[2]) : 30;

    shm_ring_config_t config = SHM_DEFAULT_CONFIG(); /* 4 MiB rings */
    config.timeout_ms = 200; /* wake up regularly to check for the end */
    shm_server_t *server = shm_server_create(name, &config);
    if (!server) {
        fprintf(stderr, "server: cannot create channel '%s': %s\n", name,
                shm_strerror(shm_last_error()));
        return 1;
    }
    if (shm_server_register_callback(server, on_event, NULL) != SHM_SUCCESS) {
        fprintf(stderr, "server: cannot start the listener\n");
        shm_server_destroy(server);
        return 1;
    }
    printf("server: channel '%s' ready, waiting for a client\n", name);
    fflush(stdout);

    static unsigned char buf[SHM_MAX_MESSAGE_SIZE];
    unsigned long long echoed = 0;
    int idle_ms = 0, rc = 0;
    for (;;) {
        uint32_t size = sizeof(buf);
        shm_error_t err = shm_server_receive(server, buf, &size);
        if (err == SHM_SUCCESS) {
            idle_ms = 0;
            err = shm_server_send(server, buf, size);
            if (err != SHM_SUCCESS && err != SHM_ERROR_NOT_CONNECTED) {
                fprintf(stderr, "server: send failed: %s\n", shm_strerror(err));
                rc = 1;
                break;
            }
            echoed++;
            continue;
        }
        if (err != SHM_ERROR_TIMEOUT) {
            fprintf(stderr, "server: receive failed: %s\n", shm_strerror(err));
            rc = 1;
            break;
        }
        if (clients_seen > 0 && clients_left >= clients_seen)
            break; /* the client came and went */
        idle_ms += (int)config.timeout_ms;
        if (clients_seen == 0 && idle_ms >= wait_s * 1000) {
            fprintf(stderr, "server: no client within %d s\n", wait_s);
            rc = 2;
            break;
        }
    }
    shm_stats_t st;
    if (shm_server_get_stats(server, &st) == SHM_SUCCESS)
        printf("server: echoed %llu messages, received %llu bytes, lost %llu\n", echoed,
               (unsigned long long)st.bytes_received, (unsigned long long)st.messages_lost);
    shm_server_destroy(server);
    return rc;
}
