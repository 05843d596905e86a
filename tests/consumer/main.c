/*
 * main.c - a program built against an installed xshm: a server and a client
 * in one process exchange one message each way. Prints OK and exits 0, or
 * names the call that failed and exits 1.
 */
#include <stdio.h>
#include <string.h>

#ifdef _WIN32
#include <process.h>
#define getpid _getpid
#else
#include <unistd.h>
#endif

#include <shm_ipc.h>

static int failed(const char *what, shm_error_t err)
{
    fprintf(stderr, "FAILED: %s: %s\n", what, shm_strerror(err));
    return 1;
}

/* Receive one message on the client (server == NULL) or the server and check
 * that it is `want`. */
static int expect(shm_server_t *server, shm_client_t *client, const char *want)
{
    char buf[64];
    uint32_t size = sizeof(buf);
    shm_error_t err = server ? shm_server_receive(server, buf, &size)
                             : shm_client_receive(client, buf, &size);
    if (err != SHM_SUCCESS)
        return failed(server ? "shm_server_receive" : "shm_client_receive", err);
    if (size != strlen(want) + 1 || memcmp(buf, want, size) != 0) {
        fprintf(stderr, "FAILED: received %u bytes, not \"%s\"\n", (unsigned)size, want);
        return 1;
    }
    return 0;
}

int main(void)
{
    if (shm_version() != SHM_VERSION_NUMBER) {
        fprintf(stderr, "FAILED: header version %u, library version %u\n",
                (unsigned)SHM_VERSION_NUMBER, (unsigned)shm_version());
        return 1;
    }

    char name[64];
    snprintf(name, sizeof(name), "xshm_consumer_%d", (int)getpid());
    shm_ring_config_t config = SHM_DEFAULT_CONFIG();
    config.size = 64 * 1024;
    config.max_readers = 1;

    shm_server_t *server = shm_server_create(name, &config);
    if (!server)
        return failed("shm_server_create", shm_last_error());
    shm_client_t *client = shm_client_connect(name);
    if (!client) {
        shm_server_destroy(server);
        return failed("shm_client_connect", shm_last_error());
    }

    int rc = 0;
    shm_error_t err = shm_server_send(server, "ping", 5);
    if (err != SHM_SUCCESS)
        rc = failed("shm_server_send", err);
    if (rc == 0)
        rc = expect(NULL, client, "ping");
    if (rc == 0 && (err = shm_client_send(client, "pong", 5)) != SHM_SUCCESS)
        rc = failed("shm_client_send", err);
    if (rc == 0)
        rc = expect(server, NULL, "pong");
    /* zero-copy: written in the ring, read where it lies */
    void *room = NULL;
    shm_view_t view;
    if (rc == 0 && (err = shm_server_reserve(server, 8, &room)) != SHM_SUCCESS)
        rc = failed("shm_server_reserve", err);
    if (rc == 0) {
        memcpy(room, "zc", 3);
        if ((err = shm_server_commit(server, room, 3)) != SHM_SUCCESS)
            rc = failed("shm_server_commit", err);
    }
    if (rc == 0 && (err = shm_client_receive_view(client, &view)) != SHM_SUCCESS)
        rc = failed("shm_client_receive_view", err);
    if (rc == 0 && (view.size != 3 || memcmp(view.data, "zc", 3) != 0))
        rc = failed("zero-copy message", SHM_ERROR_INVALID_SEGMENT);
    if (rc == 0 && (err = shm_client_release(client, &view)) != SHM_SUCCESS)
        rc = failed("shm_client_release", err);

    shm_client_disconnect(client);
    shm_server_destroy(server);
    if (rc == 0)
        printf("OK\n");
    return rc;
}
