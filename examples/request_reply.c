/*
 * request_reply.c - one server answering several clients, each one
 * individually (addressed messaging).
 *
 *   request_reply                           the whole example: a server in
 *                                           this process, and three client
 *                                           processes (copies of this program)
 *   request_reply client CHANNEL TOKEN      one client (started by the above)
 *
 * Each client sends ROUNDS requests "TOKEN #k"; the server learns who sent
 * each one (shm_server_receive_from) and answers that client alone
 * (shm_server_send_to) with "reply to TOKEN #k". A client checks that it
 * got exactly its own answers, in order, and prints a PASS line. Exit
 * status 0 when every client passed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ipc.h"

#ifdef _WIN32
#include <process.h>
#else
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
extern char **environ;
#endif

#define CLIENTS 3
#define ROUNDS 20

/* ---- a client --------------------------------------------------------------- */

static int run_client(const char *channel, const char *token)
{
    shm_client_t *client = shm_client_connect(channel);
    if (!client) {
        printf("client %s: connect: %s\n", token, shm_strerror(shm_last_error()));
        return 1;
    }
    int failed = 0;
    for (int k = 0; k < ROUNDS && !failed; k++) {
        char request[64], expected[80], reply[80];
        snprintf(request, sizeof(request), "%s #%d", token, k);
        snprintf(expected, sizeof(expected), "reply to %s #%d", token, k);
        uint32_t size = sizeof(reply);
        shm_error_t err = shm_client_send(client, request, (uint32_t)strlen(request) + 1);
        if (err == SHM_SUCCESS)
            err = shm_client_receive(client, reply, &size); /* blocks, 10 s at most */
        if (err != SHM_SUCCESS) {
            printf("client %s: request %d: %s\n", token, k, shm_strerror(err));
            failed = 1;
        } else if (size != strlen(expected) + 1 || memcmp(reply, expected, size) != 0) {
            printf("client %s: FAIL: got \"%.*s\", expected \"%s\"\n", token, (int)size, reply,
                   expected);
            failed = 1;
        }
    }
    shm_stats_t stats;
    if (!failed && shm_client_get_stats(client, &stats) == SHM_SUCCESS &&
        (stats.messages_received != ROUNDS || stats.messages_lost != 0)) {
        printf("client %s: FAIL: %llu messages received, %llu lost\n", token,
               (unsigned long long)stats.messages_received, (unsigned long long)stats.messages_lost);
        failed = 1;
    }
    if (!failed)
        printf("client %s: PASS (%d answers, every one its own)\n", token, ROUNDS);
    fflush(stdout);
    shm_client_disconnect(client);
    return failed;
}

/* ---- starting the clients ------------------------------------------------------ */

#ifdef _WIN32
typedef intptr_t child_t;

static unsigned long self_pid(void) { return (unsigned long)_getpid(); }

static int start_client(child_t *child, const char *self, const char *channel, const char *token)
{
    char quoted[1024]; /* the command line is the arguments joined by spaces */
    snprintf(quoted, sizeof(quoted), "\"%s\"", self);
    const char *args[] = {quoted, "client", channel, token, NULL};
    *child = _spawnvp(_P_NOWAIT, self, args);
    return *child == -1 ? -1 : 0;
}

static int wait_client(child_t child)
{
    int status = 1;
    return _cwait(&status, child, 0) == -1 ? 1 : status;
}
#else
typedef pid_t child_t;

static unsigned long self_pid(void) { return (unsigned long)getpid(); }

static int start_client(child_t *child, const char *self, const char *channel, const char *token)
{
    char *args[] = {(char *)self, "client", (char *)channel, (char *)token, NULL};
    return posix_spawnp(child, self, NULL, NULL, args, environ) == 0 ? 0 : -1;
}

static int wait_client(child_t child)
{
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
        return 1;
    return WEXITSTATUS(status);
}
#endif

/* ---- the server ----------------------------------------------------------------- */

static int run_server(const char *self)
{
    char channel[64];
    snprintf(channel, sizeof(channel), "xshm_request_reply_%lu", self_pid());
    shm_ring_config_t config = SHM_DEFAULT_CONFIG();
    config.size = 64 * 1024;
    config.timeout_ms = 10000; /* the clients' receives, and ours, wait 10 s at most */
    shm_server_t *server = shm_server_create(channel, &config);
    if (!server) {
        printf("server: create: %s\n", shm_strerror(shm_last_error()));
        return 1;
    }
    static const char *const tokens[CLIENTS] = {"alpha", "bravo", "charlie"};
    child_t children[CLIENTS];
    int started = 0, failed = 0;
    for (; started < CLIENTS; started++)
        if (start_client(&children[started], self, channel, tokens[started]) != 0) {
            printf("server: could not start client %s\n", tokens[started]);
            failed = 1;
            break;
        }

    /* Answer every request to the client that sent it, and it alone. */
    for (int answered = 0; !failed && answered < started * ROUNDS; answered++) {
        char request[64], reply[80];
        uint32_t size = sizeof(request);
        shm_client_id_t from;
        shm_error_t err = shm_server_receive_from(server, request, &size, &from);
        if (err == SHM_SUCCESS && (size == 0 || request[size - 1] != '\0'))
            err = SHM_ERROR_INVALID_PARAM;
        if (err == SHM_SUCCESS) {
            snprintf(reply, sizeof(reply), "reply to %s", request);
            err = shm_server_send_to(server, from, reply, (uint32_t)strlen(reply) + 1);
        }
        if (err != SHM_SUCCESS) {
            printf("server: request %d: %s\n", answered, shm_strerror(err));
            failed = 1;
        }
    }
    for (int i = 0; i < started; i++)
        if (wait_client(children[i]) != 0)
            failed = 1;
    printf("server: %s\n", failed ? "FAIL" : "every client got exactly its own answers");
    shm_server_destroy(server);
    return failed;
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "client") == 0)
        return run_client(argv[2], argv[3]);
    if (argc != 1) {
        fprintf(stderr, "usage: request_reply | request_reply client CHANNEL TOKEN\n");
        return 2;
    }
    return run_server(argv[0]);
}
