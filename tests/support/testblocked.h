/*
 * testblocked.h - a receive blocked in another thread.
 *
 * A test fills a tb_receive_t (server or client), starts tb_start (a
 * thread registered with testleft.h, so that a failed assert does not
 * leave it running), makes something happen, then reads what the receive
 * returned and when. The state must outlive the test function (static):
 * after a failed assert the thread runs on until tl_teardown ends it.
 */
#ifndef XSHM_TESTBLOCKED_H
#define XSHM_TESTBLOCKED_H

#include <stdbool.h>
#include <stdint.h>

#include "platform.h"
#include "shm_ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tb_receive {
    shm_server_t *s;    /* the server's receive when set, */
    shm_client_t *c;    /* else the client's */
    uint32_t started;   /* atomic: set just before the receive is called */
    uint32_t done;      /* atomic: set once the fields below are written */
    shm_error_t result; /* what the receive returned */
    char buf[64];       /* the message, NUL-terminated on SUCCESS */
    uint32_t size;      /* its size */
    uint64_t end_ns;    /* xshm_plat_now_ns() when the receive returned */
} tb_receive_t;

/* Zero *b and set its endpoint: exactly one of s and c. */
void tb_init(tb_receive_t *b, shm_server_t *s, shm_client_t *c);

/* The thread's function: one receive into b->buf (63 bytes at most). */
void tb_receive(void *arg);

/* Start tb_receive(b) in a thread (tl_thread_start): SHM_SUCCESS or its
 * error; *t gets the thread for tl_join. */
shm_error_t tb_start(plat_thread_t **t, tb_receive_t *b);

/* The receive has returned. */
bool tb_done(tb_receive_t *b);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_TESTBLOCKED_H */
