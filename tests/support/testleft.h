/*
 * testleft.h - what a test leaves running when one of its asserts fails.
 *
 * A failed CMocka assert leaves the test function at once (longjmp): a
 * thread the test started keeps running, blocked on an endpoint that nobody
 * destroys, a listener keeps calling back, a helper process keeps running.
 * A test registers them here as it starts them and drops them as it ends
 * them; the teardown tl_teardown (cmocka_unit_test_teardown(test, tl_teardown))
 * ends whatever is still registered, so that the failure is reported cleanly
 * and the next test starts with nothing of this one running:
 *   1. registered servers are destroyed and clients disconnected (which
 *      wakes receives blocked in them with SHM_ERROR_CLOSED and stops their
 *      listeners);
 *   2. registered helper processes are killed;
 *   3. registered threads are joined once they say they are done (a thread
 *      that stays blocked is left detached and named on stderr: its state
 *      must not live on the test's stack).
 *
 * Whatever a registered thread or callback writes to must outlive the test
 * function: static or heap storage, never the test's locals.
 */
#ifndef XSHM_TESTLEFT_H
#define XSHM_TESTLEFT_H

#include <stdint.h>

#include "platform.h"
#include "shm_ipc.h"
#include "testproc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define TL_MAX 16

/* A server or client that the teardown destroys if the test has not. */
void tl_server(shm_server_t *s);
void tl_client(shm_client_t *c);
/* Destroy / disconnect it and drop it from the list (NULL is ignored). */
void tl_server_destroy(shm_server_t *s);
void tl_client_disconnect(shm_client_t *c);

/* A zeroed helper process record that the teardown kills (tp_kill: nothing
 * happens for one that was reaped or killed). NULL when all TL_MAX are
 * taken. */
tp_child_t *tl_child(void);

/* Start fn(arg) in a thread that the teardown joins; `done` is an atomic
 * flag the thread sets (release) as its last access to its state. *out
 * (may be NULL) gets the thread for tl_join. SHM_ERROR_SYSTEM as
 * xshm_plat_thread_start, SHM_ERROR_MEMORY when all TL_MAX are taken. */
shm_error_t tl_thread_start(plat_thread_t **out, plat_thread_fn fn, void *arg,
                            const uint32_t *done);
/* Join a thread started by tl_thread_start and drop it from the list. */
void tl_join(plat_thread_t *t);

/* The CMocka teardown: end what is still registered, then empty the list. */
int tl_teardown(void **state);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_TESTLEFT_H */
