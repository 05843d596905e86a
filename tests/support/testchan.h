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

/* One message through the channel: `text` (its terminating NUL included) is
 * sent by the client c, and the server's next receive returns exactly it;
 * and the other way. */
void tc_pass_to_server(shm_server_t *s, shm_client_t *c, const char *text);
void tc_pass_to_client(shm_server_t *s, shm_client_t *c, const char *text);

#ifdef __cplusplus
}
#endif

#endif
