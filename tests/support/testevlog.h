/*
 * testevlog.h - an event callback for tests that records what it gets.
 *
 * Pass ev_callback with an ev_log_t as user data to a register function; the
 * log counts every event by type, counts events whose data or size are not
 * what shm_ipc.h documents as `bad`, and keeps CONNECT, DISCONNECT and ERROR
 * events in order, with the time each arrived (DATA_AVAILABLE is only
 * counted: it may come very often).
 */
#ifndef XSHM_TESTEVLOG_H
#define XSHM_TESTEVLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "platform.h"
#include "shm_ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EV_MAX 256

typedef struct ev_entry {
    shm_event_type_t type;
    shm_peer_info_t peer; /* CONNECT, DISCONNECT */
    shm_error_t error;    /* ERROR */
    uint64_t at_ns;       /* xshm_plat_now_ns() when the callback ran */
} ev_entry_t;

typedef struct ev_log {
    plat_mutex_t lock;
    ev_entry_t e[EV_MAX];
    uint32_t n;
    uint32_t by_type[5];
    uint32_t bad; /* wrong data or size, or an unknown type */
} ev_log_t;

void ev_init(ev_log_t *log);
void ev_fini(ev_log_t *log);
void ev_callback(void *ud, shm_event_type_t type, const void *data, uint32_t sz);
uint32_t ev_count(ev_log_t *log, shm_event_type_t type);
uint32_t ev_bad(ev_log_t *log);

/* Position in the log of the k-th (0-based) event of `type`, -1 if none;
 * *out (may be NULL) gets a copy. */
int ev_find(ev_log_t *log, shm_event_type_t type, uint32_t k, ev_entry_t *out);

/* The same as a yes/no: the k-th event of `type` into *out. */
static inline bool ev_get(ev_log_t *log, shm_event_type_t type, uint32_t k, ev_entry_t *out)
{
    return ev_find(log, type, k, out) >= 0;
}

#ifdef __cplusplus
}
#endif

#endif
