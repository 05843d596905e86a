/*
 * test_quickstart.c - the Quick Start of the original xSHM README (the API
 * this library keeps, see ChangeLog 1.0.0), as written, made into a program
 * that runs: server and client in one process exchange "Hello!" both ways,
 * the struct macros move a my_struct_t there and back, and every call's
 * result and every value received are checked against what was sent. That
 * README is not part of this tree; this repository's README.md has its own
 * program (section "Using the library"), which tests/readme_examples.cmake
 * builds and runs.
 *
 * The Quick Start's lines are kept verbatim; what had to change is marked
 * "[changed]", what had to be added to make it run or to check it is
 * marked "[added]":
 *   - the channel is a unique name held in a variable `test_channel` rather
 *     than the literal "test_channel", so that parallel runs never meet;
 *   - my_handler marks its unused parameters and handles the enum value the
 *     Quick Start's switch leaves out (SPACE_AVAILABLE): as written it does
 *     not compile with -Wall -Wextra -Werror (-Wunused-parameter, -Wswitch);
 *   - the results the Quick Start drops (shm_client_register_callback, the
 *     sends, SHM_SEND_STRUCT, SHM_RECV_STRUCT) are kept and checked;
 *   - its `uint32_t rsz = sizeof(r);` is left out: SHM_RECV_STRUCT takes no
 *     size and updates nothing ("// Updates rsz" is wrong); its result says
 *     whether exactly sizeof(r) bytes arrived (include/shm_ipc.h), and the
 *     struct received is compared byte for byte with the one sent;
 *   - SHM_SEND_STRUCT(server, &s) goes to the client, and
 *     SHM_RECV_STRUCT(server, &r) receives what the client sends, so the
 *     client receives the struct and sends it back in between.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "atomics.h"
#include "shm_ipc.h"
#include "testproc.h"

/* [added] what the handler saw, per event type (both endpoints use it) */
static uint32_t g_events[5];

static uint32_t events(shm_event_type_t type) { return xa_load32_acq(&g_events[type]); }

/* ---- Event Handler ------------------------------------------------------------ */
void my_handler(void* ud, shm_event_type_t type, const void* data, uint32_t sz);

void my_handler(void* ud, shm_event_type_t type, const void* data, uint32_t sz) {
    (void)ud; (void)data; (void)sz;                        /* [added] -Wunused-parameter */
    if ((unsigned)type < 5) xa_fetch_add32(&g_events[type], 1); /* [added] */
    switch (type) {
        case SHM_EVENT_CONNECT: printf("Client connected!\n"); break;
        case SHM_EVENT_DISCONNECT: printf("Client disconnected!\n"); break;
        case SHM_EVENT_DATA_AVAILABLE: /* poll receive */ break;
        case SHM_EVENT_ERROR: printf("Error!\n"); break;
        default: break;                                    /* [added] -Wswitch */
    }
}

static void test_quick_start(void **state)
{
    (void)state;
    char test_channel[80]; /* [added] */
    tp_unique_name(test_channel, sizeof(test_channel), "test_channel");

    /* ---- Server Setup ---------------------------------------------------------- */
    shm_ring_config_t config = SHM_DEFAULT_CONFIG();  // 4MB rings, blocking reads
    shm_server_t* server = shm_server_create(test_channel, &config); /* [changed] name */
    if (!server) { /* error */ fail_msg("shm_server_create: %s", shm_strerror(shm_last_error())); }

    // Auto-start listener on register
    shm_error_t err = shm_server_register_callback(server, my_handler, NULL);
    assert_int_equal(err, SHM_SUCCESS); /* [added] */

    /* ---- Client Connection ----------------------------------------------------- */
    shm_client_t* client = shm_client_connect(test_channel); /* [changed] name */
    if (!client) { /* error */ fail_msg("shm_client_connect: %s", shm_strerror(shm_last_error())); }

    // Register with auto-start
    err = shm_client_register_callback(client, my_handler, NULL); /* [changed] result kept */
    assert_int_equal(err, SHM_SUCCESS);                           /* [added] */

    /* [added] both sides see CONNECT: the server its client, the client its server */
    assert_true(TP_WAIT_UNTIL(events(SHM_EVENT_CONNECT) == 2, 10000));

    /* ---- Sending/Receiving ----------------------------------------------------- */
    // Send (always succeeds if size <= 64KB and connected for server)
    char msg[] = "Hello!";
    err = shm_server_send(server, msg, sizeof(msg));  // Server to client  [changed] result kept
    assert_int_equal(err, SHM_SUCCESS);                                       /* [added] */
    err = shm_client_send(client, msg, sizeof(msg));  // Client to server  [changed] result kept
    assert_int_equal(err, SHM_SUCCESS);                                       /* [added] */

    // Receive (blocks if empty and blocking=true)
    uint8_t buf[1024]; uint32_t sz = sizeof(buf);
    shm_error_t res = shm_server_receive(server, buf, &sz);  // From client
    if (res == SHM_SUCCESS) { /* process buf[0..sz] */ }
    assert_int_equal(res, SHM_SUCCESS);              /* [added] */
    assert_int_equal(sz, sizeof(msg));               /* [added] */
    assert_memory_equal(buf, msg, sizeof(msg));      /* [added] */

    /* [added] and the client's copy, from the server */
    memset(buf, 0, sizeof(buf));
    sz = sizeof(buf);
    res = shm_client_receive(client, buf, &sz);
    assert_int_equal(res, SHM_SUCCESS);
    assert_int_equal(sz, sizeof(msg));
    assert_memory_equal(buf, msg, sizeof(msg));

    /* ---- Structs (Macros) ------------------------------------------------------- */
    typedef struct { uint32_t id; char text[256]; } my_struct_t;
    my_struct_t s = { .id = 42 };
    /* [added] every byte of the struct carries something to compare */
    for (size_t i = 0; i < sizeof(s.text); i++)
        s.text[i] = (char)('A' + i % 26);
    err = SHM_SEND_STRUCT(server, &s);  // Server/client generic  [changed] result kept
    assert_int_equal(err, SHM_SUCCESS);                          /* [added] */

    /* [added] the client gets it, byte for byte, and sends it back changed */
    my_struct_t at_client;
    memset(&at_client, 0, sizeof(at_client));
    assert_int_equal(SHM_RECV_STRUCT(client, &at_client), SHM_SUCCESS);
    assert_memory_equal(&at_client, &s, sizeof(s));
    at_client.id = 43;
    at_client.text[sizeof(at_client.text) - 1] = '!';
    assert_int_equal(SHM_SEND_STRUCT(client, &at_client), SHM_SUCCESS);

    my_struct_t r;
    memset(&r, 0, sizeof(r));                                    /* [added] */
    err = SHM_RECV_STRUCT(server, &r);  /* [changed] result kept; rsz left out (see above) */
    assert_int_equal(err, SHM_SUCCESS);                          /* [added] */
    assert_memory_equal(&r, &at_client, sizeof(r));              /* [added] */
    assert_int_equal(r.id, 43);                                  /* [added] */

    /* [added] one CONNECT each, no DISCONNECT yet; no error was raised */
    assert_int_equal(events(SHM_EVENT_CONNECT), 2);
    assert_int_equal(events(SHM_EVENT_DISCONNECT), 0);
    assert_int_equal(events(SHM_EVENT_ERROR), 0);
    assert_int_equal(events(SHM_EVENT_SPACE_AVAILABLE), 0);

    /* ---- Cleanup ------------------------------------------------------------------ */
    shm_server_destroy(server);
    shm_client_disconnect(client);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
