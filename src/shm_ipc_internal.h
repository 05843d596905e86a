/*
 * shm_ipc_internal.h - what the files of the ipc layer share: the endpoint's
 * concurrency (shm_ipc_endpoint.c), the receive engine (same file) and the
 * creation of a channel's segment (shm_ipc_channel.c). The server is
 * shm_ipc_server.c, the client shm_ipc_client.c; the public API is
 * include/shm_ipc.h.
 *
 * A channel is one segment: ring 0 carries server -> clients (each client
 * reads it through its own slot), ring 1 + i carries client i -> server,
 * ring 1 + max_readers + i server -> client i (addressed messages). Client
 * i's id is (epoch << 8) | i, epoch being that of its claim of slot i of
 * ring 0; it tags its ring's records with that epoch, and the server tags
 * an addressed message with the epoch of the client it is for, which that
 * client's reader checks (want_tag).
 * The server notices clients through the slots of ring 0: an ACTIVE slot
 * whose process is alive is a connected client; a slot whose process died is
 * reclaimed. A client notices the server going away through the segment
 * state (graceful close), the creator's identity (crash) and the generation
 * number (the channel was created anew).
 */
#ifndef XSHM_IPC_INTERNAL_H
#define XSHM_IPC_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "atomics.h"
#include "platform.h"
#include "shm_error.h"
#include "shm_events.h"
#include "shm_lock.h"
#include "shm_names.h"
#include "shm_ringbuffer.h"

/* How often send/receive look for crashed peers when no listener does. */
#define PEER_POLL_NS (50u * 1000000u)

/* Public functions returning shm_error_t leave failures in shm_last_error(). */
static inline shm_error_t ret(shm_error_t e)
{
    return e == SHM_SUCCESS ? e : xshm_set_error(e);
}

/* ---- concurrency of calls on one endpoint ------------------------------------------ */

/*
 * Sends of one endpoint are serialised by send_lock, receives by recv_lock
 * (biased locks: a single sending or receiving thread pays no atomic
 * instruction per message). Destroy marks the endpoint closing, drains both
 * locks (after which every call sees `closing`), wakes the receives that
 * wait and waits until none is left: a receive registers in `waiting` while
 * still holding recv_lock, and leaving it is its last access to the
 * endpoint.
 */
typedef struct ep_sync {
    uint32_t closing; /* atomic */
    uint32_t waiting; /* atomic: receives between their tries */
    xshm_block_t send_lock;
    xshm_block_t recv_lock;
} ep_sync_t;

static inline bool ep_closing(ep_sync_t *e) { return xa_load32_acq(&e->closing) != 0; }

/* True every 256th call: rate-limits checks that read the clock on paths
 * that may be polled in a tight loop. Racy increments only skew the rate. */
static inline bool due_by_count(uint32_t *counter)
{
    uint32_t n = xa_load32_relaxed(counter) + 1;
    xa_store32_relaxed(counter, n);
    return (n & 255u) == 0;
}

/* A new endpoint struct of `size` bytes, zeroed, once the checks before it
 * passed (err == SHM_SUCCESS); otherwise, or without memory, NULL with the
 * thread's last error set. */
void *xshm_ep_alloc(size_t size, shm_error_t err);

/* Destroy's part of the above: closing, draining, waiting for the receives
 * (woken through t). */
void xshm_ep_close(ep_sync_t *e, xshm_wake_target_t *t);

/* ---- receive engine ----------------------------------------------------------------- */

/* The receive loop shared by server and client. */
typedef struct recv_ops {
    /* data, size: as given to xshm_ep_receive (a buffer and its size, or for
     * a view's ops an shm_view_t and an unused size); `from` (may be NULL):
     * the sender's client id, on success */
    shm_error_t (*try_receive)(void *ep, void *data, uint32_t *size, uint64_t *from);
    /* SHM_SUCCESS while waiting makes sense; `waiting`: once per wait slice,
     * so expensive checks are due; otherwise keep it cheap (busy polling) */
    shm_error_t (*peer_state)(void *ep, bool waiting);
    bool (*ready)(void *ep);
} recv_ops_t;

/* The receive shared by server and client (shm_ipc_endpoint.c): one try,
 * then, when `blocking`, the wait for a message, the peer leaving, closing
 * or timeout_ms (0: no limit). */
shm_error_t xshm_ep_receive(const recv_ops_t *ops, void *ep, ep_sync_t *sync,
                            xshm_wake_target_t *t, bool blocking, uint32_t timeout_ms,
                            void *data, uint32_t *size, uint64_t *from);

/* ---- zero-copy ------------------------------------------------------------------------ */

/*
 * A reservation lives in the sending ring (xshm_ring_reserve) and a view in
 * the reader (xshm_ring_view), not in a lock: each call takes send_lock or
 * recv_lock for its own duration only, so a send, reserve or receive that
 * meets an open one returns SHM_ERROR_BUSY instead of waiting, whichever
 * thread holds it. Destroy drains the locks as for every call; the
 * reservation or view is dropped with the segment.
 */

/* Reserve on `tx` under send_lock: `can_send` (under the lock) says
 * SHM_SUCCESS or why not (no peer). */
shm_error_t xshm_ep_reserve(ep_sync_t *e, shm_ring_t *tx, uint32_t size, void **ptr,
                            shm_error_t (*can_send)(void *ep), void *ep);

/* Commit (`commit`, `size` bytes) or abort the open reservation of tx,
 * whose pointer must be ptr; a commit wakes the readers through wake(ep). */
shm_error_t xshm_ep_finish(ep_sync_t *e, shm_ring_t *tx, void *ptr, uint32_t size, bool commit,
                           void (*wake)(void *ep, uint32_t slot), void *ep);

/* Release the view held by rd (NULL: the view names no reader of ours)
 * under recv_lock; corruption raises an ERROR event on l. */
shm_error_t xshm_ep_release(ep_sync_t *e, xshm_ring_reader_t *rd, const shm_view_t *view,
                            xshm_listener_t *l);

/* ---- the channel's segment ---------------------------------------------------------- */

/* Client ids (shm_client_id_t): ((uint64_t)epoch << 8) | slot. */
#define CLIENT_ID(epoch, slot) (((uint64_t)(epoch) << 8) | (uint64_t)(slot))
#define CLIENT_ID_SLOT(id) ((uint32_t)((id) & 0xFFu))
#define CLIENT_ID_EPOCH(id) ((uint32_t)((id) >> 8))

/*
 * Create the channel's segment `seg` under the name seg_name, whose name
 * lock the caller holds; what a server that is gone left under that name is
 * replaced (shm_ipc_channel.c). Errors: SHM_ERROR_EXISTS, SHM_ERROR_ACCESS,
 * and those of xshm_segment_create.
 */
shm_error_t xshm_channel_create(xshm_segment_t *seg, const char *seg_name,
                                const xshm_seg_params_t *p);

#endif
