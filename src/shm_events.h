/*
 * shm_events.h - waiting for messages, waking readers, and the listener
 * thread that raises CONNECT / DISCONNECT / DATA_AVAILABLE / ERROR.
 *
 * Waiting follows the event-count pattern:
 *   reader: w = *word; mark waiting (full fence); re-check; sleep while *word == w
 *   writer: publish tail; full fence; if someone is marked: bump *word, signal
 * so a wake-up cannot be lost, and a writer whose readers are awake makes no
 * system call. A reader spins briefly before it marks itself waiting.
 *
 * The wait primitive (wake targets, xshm_ev_*) is in shm_events_wait.c, the
 * listener thread (xshm_listener_*) in shm_events_listener.c.
 */
#ifndef XSHM_EVENTS_H
#define XSHM_EVENTS_H

#include <stdbool.h>
#include <stdint.h>

#include "platform.h"
#include "shm_ipc.h"
#include "shm_ringbuffer.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * What the threads of one process sleep on: a word in shared memory, its
 * wake-up object, and the reader slots that must be marked waiting so that
 * the writers of those rings signal it.
 */
typedef struct xshm_wake_target {
    uint32_t *word;
    plat_wake_t os;
    xshm_ring_reader_t **readers;
    uint32_t reader_count;
    plat_mutex_t lock;   /* guards sleepers and the waiting marks */
    uint32_t sleepers;   /* threads between sleep begin and end */
    uint32_t in_os_wait; /* threads inside xshm_plat_wake_wait (atomic) */
    uint32_t fence_short;/* atomic: a remote fence failed; the next sleep
                            is short (see sleep_begin) */
} xshm_wake_target_t;

void xshm_wake_target_init(xshm_wake_target_t *t, uint32_t *word, xshm_ring_reader_t **readers,
                          uint32_t reader_count);
void xshm_wake_target_fini(xshm_wake_target_t *t);

/* Spin this long (ns) before sleeping. */
#define SHM_EV_SPIN_NS 20000u

/* Poll ready(ctx), with pauses between, for up to spin_ns: true as soon as
 * it is. */
bool xshm_ev_spin(bool (*ready)(void *ctx), void *ctx, uint32_t spin_ns);

/*
 * Wait until ready(ctx) is true or timeout_ms passes. Spins up to spin_ns
 * first, then sleeps on the target. Returns SHM_SUCCESS (ready) or
 * SHM_ERROR_TIMEOUT. ready() must be cheap; it is called often.
 */
shm_error_t xshm_ev_wait(xshm_wake_target_t *t, bool (*ready)(void *ctx), void *ctx,
                        uint32_t timeout_ms, uint32_t spin_ns);

/* Wake every thread of this process sleeping on t (used when closing). */
void xshm_ev_wake_local(xshm_wake_target_t *t);

/* After writing to `ring`: wake the readers that sleep. wake(ctx, slot)
 * bumps that slot's word and signals its object. */
static inline void xshm_ev_notify(shm_ring_t *ring, void (*wake)(void *ctx, uint32_t slot),
                                 void *ctx)
{
    if (xshm_ring_wake_needed(ring))
        xshm_ring_wake_sleepers(ring, wake, ctx);
}

/* Bump a wake word and signal its object. */
void xshm_ev_signal(uint32_t *word, plat_wake_t *os);

/* ---- listener ------------------------------------------------------------------- */

/* What the listener needs from its endpoint. */
typedef struct xshm_listener_ops {
    void (*poll)(void *ep);            /* detect peers; queues CONNECT/DISCONNECT */
    bool (*pending)(void *ep);         /* unread messages? */
    uint64_t (*data_mark)(void *ep);   /* changes whenever a message is published */
    void (*finish)(void *ep);          /* free ep: destroy was called from the callback */
    bool (*changed)(void *ep);         /* peers may have come or gone: poll now */
} xshm_listener_ops_t;

#define SHM_LISTENER_QUEUE 64u
#define SHM_LISTENER_TICK_MS 100u

typedef struct xshm_queued_event {
    shm_event_type_t type;
    shm_peer_info_t peer;
    shm_error_t error;
} xshm_queued_event_t;

typedef struct xshm_listener {
    const xshm_listener_ops_t *ops;
    void *ep;
    xshm_wake_target_t *target;
    plat_thread_t thread;
    bool started;
    uint32_t stop;          /* atomic: set to end the thread */
    uint32_t finish_on_exit;/* atomic: destroy was called from the callback */
    plat_mutex_t lock;      /* guards cb, ud and the queue */
    shm_event_callback_t cb;
    void *ud;
    xshm_queued_event_t queue[SHM_LISTENER_QUEUE];
    uint32_t q_head, q_count;
    uint32_t q_pending;     /* atomic mirror of q_count, for the wait predicate */
    uint64_t dropped;       /* events lost to a full queue */
    uint64_t announced;     /* data_mark at the last DATA_AVAILABLE */
} xshm_listener_t;

void xshm_listener_init(xshm_listener_t *l, const xshm_listener_ops_t *ops, void *ep,
                       xshm_wake_target_t *target);

/* Set the callback and start the thread if needed. */
shm_error_t xshm_listener_start(xshm_listener_t *l, shm_event_callback_t cb, void *ud);

/* The registered callback (NULL if none) into *cb / *ud; false when called
 * from the listener thread itself. */
bool xshm_listener_callback(xshm_listener_t *l, shm_event_callback_t *cb, void **ud);

/* True when a callback is registered (events are worth queueing). */
bool xshm_listener_active(xshm_listener_t *l);

/* Queue an event for the callback (dropped when no callback is set). */
void xshm_listener_push(xshm_listener_t *l, shm_event_type_t type, const shm_peer_info_t *peer,
                       shm_error_t error);

/*
 * Stop the listener. From another thread: wake it, join it, return true.
 * From the listener thread itself (inside the callback): ask it to call
 * ops->finish after the callback returns and return false; the caller must
 * then leave the endpoint to that.
 */
bool xshm_listener_stop(xshm_listener_t *l);

void xshm_listener_fini(xshm_listener_t *l);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_EVENTS_H */
