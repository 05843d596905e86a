/*
 * testchan.h - the channel most tests start from: a server on a fresh name
 * with a small ring, a client connected to it, optionally an event log
 * (testevlog.h) registered on each.
 *
 * Each function fails the test (CMocka fail_msg, with the call and
 * shm_strerror of what it returned) when the library refuses; what it hands
 * back is never NULL.
 */
#ifndef XSHM_TESTCHAN_H
#define XSHM_TESTCHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm_ipc.h"
#include "testevlog.h"
#include "testproc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A ring config: ring size in bytes, max_readers, blocking, timeout_ms; the
 * fields not named are zero. */
shm_ring_config_t tc_config(uint32_t size, uint32_t readers, bool blocking, uint32_t timeout_ms);

/* 4096-byte rings, one reader, non-blocking receives. */
shm_ring_config_t tc_small_config(void);

/* shm_server_create(name, config). */
shm_server_t *tc_server_config(const char *name, const shm_ring_config_t *config);

/* shm_server_create(name) with tc_small_config(). */
shm_server_t *tc_server(const char *name);

/* shm_client_connect(name). */
shm_client_t *tc_client(const char *name);

/* ev_init(log), then tc_server(name) with ev_callback and log registered. */
shm_server_t *tc_logged_server(const char *name, ev_log_t *log);

/* The same with tc_server_config(name, config). */
shm_server_t *tc_logged_server_config(const char *name, const shm_ring_config_t *config,
                                      ev_log_t *log);

/* shm_client_connect(name), tried again while it fails with
 * SHM_ERROR_NOT_FOUND (the channel's server, another process, is still
 * starting) until ms have passed: the client, or NULL with shm_last_error()
 * set. It does not fail the test: helper processes use it too. (The
 * library itself retries for about 500 ms; a helper server may take longer
 * to start, under Wine.) */
shm_client_t *tc_connect_within(const char *name, uint32_t ms);

/* A server and a client of `name`, each with its event log registered
 * (ev_init, tc_server, tc_client, then the server's and the client's
 * register_callback). */
void tc_logged_pair(const char *name, shm_server_t **s, ev_log_t *slog, shm_client_t **c,
                    ev_log_t *clog);

/* The exit code of helper process c (testproc.h); when it has not exited
 * within timeout_ms it is killed and the test fails, naming `what`. */
int tc_exit_code(tp_child_t *c, uint32_t timeout_ms, const char *what);

/* The library's monotonic clock (xshm_plat_now_ns) in milliseconds: finer
 * than tp_now_ms on Windows, for the tests that measure a delay. */
uint64_t tc_now_ms(void);

/* This process's id, as a peer sees it in shm_peer_info_t. */
uint32_t tc_self_pid(void);

/* The pointer width a peer of this build reports (shm_peer_info_t). */
#define TC_PTR_BITS ((uint32_t)(sizeof(void *) * 8))

/* malloc(n); fails the test when it returns NULL. */
void *tc_malloc(size_t n);

/* The clients server s counts as connected (shm_server_get_stats),
 * UINT32_MAX when get_stats fails. */
uint32_t tc_server_connected(shm_server_t *s);

/* shm_client_receive, polled without blocking until it returns something
 * else than SHM_ERROR_EMPTY or ms have passed; *size is the buffer's size
 * on entry, as for the receive. */
shm_error_t tc_client_recv_within(shm_client_t *c, void *buf, uint32_t *size, uint32_t ms);

/* expr returns `code`, and shm_last_error() says the same. */
#define TC_ASSERT_FAILS_WITH(expr, code)                                                           \
    do {                                                                                           \
        assert_int_equal((expr), (code));                                                          \
        assert_int_equal(shm_last_error(), (code));                                                \
    } while (0)

/* One message through the channel: `text` (its terminating NUL included) is
 * sent by the client c, and the server's next receive returns exactly it;
 * and the other way. */
void tc_pass_to_server(shm_server_t *s, shm_client_t *c, const char *text);
void tc_pass_to_client(shm_server_t *s, shm_client_t *c, const char *text);

#ifdef __cplusplus
}
#endif

#endif
