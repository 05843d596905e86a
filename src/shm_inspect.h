/*
 * shm_inspect.h - read-only views of a segment's shared state, for the
 * programs that observe a channel without being a member of it: the xshm
 * tool (list, stat, watch, and tail's "is a message waiting"), the fuzzer
 * and the tests. Internal: not exported from the shared library.
 *
 * Besides the ring itself (shm_ringbuffer.c), this is the only code that
 * knows the shared layout; its callers see the values below, never a shared
 * field. A view validates the segment as every client does
 * (xshm_segment_attach), then only loads words: it takes no reader slot and
 * writes nothing, so the channel's members do not notice it.
 *
 * What a snapshot promises: every value is bounded as the ring bounds what it
 * reads (a hostile or damaged segment gives odd numbers, never an access
 * outside the mapping). Each ring's tail, messages and bytes written are one
 * set the writer published together (xshm_ring_counters, the ring's own
 * consistent read, with its alignment of the tail). The words of a reader
 * slot are each what its reader last published, loaded one after the other:
 * a reader that reads meanwhile may have moved between two of them.
 */
#ifndef XSHM_INSPECT_H
#define XSHM_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform.h"
#include "shm_ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rings of a channel: ring 0 (server -> clients) and one per client slot. */
#define XSHM_INSPECT_MAX_RINGS (1u + 2u * SHM_MAX_READERS)

/* The segment's state (xshm_inspect_snap_t.state). */
enum {
    XSHM_INSPECT_SEG_INITIALIZING = 0, /* created, not yet published by its creator */
    XSHM_INSPECT_SEG_READY = 1,
    XSHM_INSPECT_SEG_CLOSED = 2,       /* its server has closed it */
    XSHM_INSPECT_SEG_UNKNOWN = 3       /* a value the layout does not define */
};

/* A reader slot's state (xshm_inspect_slot_t.state). */
enum {
    XSHM_INSPECT_SLOT_FREE = 0,
    XSHM_INSPECT_SLOT_CLAIMING = 1, /* a reader is attaching */
    XSHM_INSPECT_SLOT_ACTIVE = 2,
    XSHM_INSPECT_SLOT_INVALID = 3   /* a claim word the layout does not define */
};

typedef struct xshm_inspect_slot {
    uint32_t state;        /* XSHM_INSPECT_SLOT_* */
    uint32_t pid;          /* owner, or last owner of a free slot */
    uint32_t ptr_bits;     /* owner's pointer width */
    uint64_t start_time;   /* owner's process start time (plat_proc_id_t) */
    bool alive;            /* not free, and its owner process is running */
    bool waiting;          /* the reader sleeps, or is about to */
    bool lapped;           /* cursor < head: the writer has overwritten
                              records the reader has not read yet */
    uint64_t cursor;       /* the next position the reader reads */
    uint64_t expected_seq; /* sequence number of the next message it reads */
    uint64_t lag;          /* tail - cursor, in bytes (0 if not behind) */
    uint64_t unread;       /* messages written and neither received nor
                              counted lost yet: messages - expected_seq */
    uint64_t received;     /* messages delivered */
    uint64_t lost;         /* messages overwritten before delivery (exact) */
    uint64_t bytes;        /* payload bytes delivered */
} xshm_inspect_slot_t;

typedef struct xshm_inspect_ring {
    uint32_t capacity;     /* data bytes */
    uint32_t nslots;       /* reader slots (ring 0: max_readers; others: 1) */
    uint64_t tail;         /* end of the last published record */
    uint64_t head;         /* oldest intact record */
    uint64_t messages;     /* messages written (the next sequence number) */
    uint64_t bytes;        /* payload bytes written */
    uint64_t used;         /* lag of the slowest active reader, at most capacity */
    uint32_t writer_pid;   /* 0 until a writer has started */
    uint32_t writer_bits;
    bool writer_alive;
    uint32_t waiters;      /* slots marked waiting */
    xshm_inspect_slot_t slots[SHM_MAX_READERS];
} xshm_inspect_ring_t;

typedef struct xshm_inspect_snap {
    uint64_t t_ns;         /* xshm_plat_now_ns() when it was taken */
    size_t mapped;         /* bytes mapped */
    uint32_t state;        /* XSHM_INSPECT_SEG_* */
    uint32_t layout_version;
    uint32_t ring_count;
    uint32_t capacity;     /* of rings 0..max_readers (addressed rings: rings[].capacity) */
    uint32_t max_readers;  /* reader slots of ring 0: the channel's client slots */
    uint32_t max_message;  /* largest message of ring 0 */
    uint32_t creator_pid;  /* the server */
    uint32_t creator_bits;
    bool creator_alive;
    uint64_t generation;   /* changes each time a server (re)creates the channel */
    bool blocking;         /* the server's receive mode, as clients inherit it */
    uint32_t timeout_ms;
    uint32_t clients;      /* active slots of ring 0 whose process is alive */
    xshm_inspect_ring_t rings[XSHM_INSPECT_MAX_RINGS];
} xshm_inspect_snap_t;

/* The shared layout version this library reads and writes. */
uint32_t xshm_inspect_layout_version(void);

/* A view of one segment (opaque). */
typedef struct xshm_inspect xshm_inspect_t;

/* Called by xshm_inspect_open once the object is mapped, before anything
 * in it is read (the xshm tool makes the mapping read-only there). */
typedef void (*xshm_inspect_mapped_fn)(void *base, size_t size);

/*
 * Open the channel segment named os_name (the OS name, see
 * xshm_channel_os_name) for observing: map it (xshm_plat_shm_open), call
 * `mapped` (may be NULL), validate it as a client does, and require it to
 * be laid out as a channel (1 + 2 * max_readers rings). On failure *out is NULL
 * and `why` (if not NULL, n bytes) says why in words when the object exists
 * (empty when there is nothing more to say than the error).
 * Errors: those of xshm_plat_shm_open (SHM_ERROR_NOT_FOUND, SHM_ERROR_ACCESS,
 * ...), SHM_ERROR_INVALID_SEGMENT (not an xshm segment, another layout
 * version, damaged, or not a channel), SHM_ERROR_NOT_FOUND (its creator has
 * not published its header), SHM_ERROR_MEMORY, SHM_ERROR_INVALID_PARAM.
 */
shm_error_t xshm_inspect_open(xshm_inspect_t **out, const char *os_name,
                              xshm_inspect_mapped_fn mapped, char *why, size_t n);

/*
 * The same for a segment at mem (size bytes, 8-byte aligned) that stays the
 * caller's: nothing is unmapped at close. With `channel`, a segment not laid
 * out as a channel is refused (SHM_ERROR_INVALID_SEGMENT).
 */
shm_error_t xshm_inspect_attach(xshm_inspect_t **out, void *mem, size_t size, bool channel,
                                char *why, size_t n);

/* Unmap (if opened by name) and free the view. NULL is fine. */
void xshm_inspect_close(xshm_inspect_t *v);

/* Rings of the segment (1..XSHM_INSPECT_MAX_RINGS). */
uint32_t xshm_inspect_ring_count(const xshm_inspect_t *v);

/* A snapshot of the whole segment (about 740 KB: allocate it). */
void xshm_inspect_snapshot(const xshm_inspect_t *v, xshm_inspect_snap_t *s);

/* A snapshot of ring i alone; false (and *out zeroed) if there is no ring i. */
bool xshm_inspect_ring(const xshm_inspect_t *v, uint32_t i, xshm_inspect_ring_t *out);

/* Ring i's tail, messages and payload bytes written, one published set
 * (as in a snapshot), and nothing else: no slot is read, no process looked
 * up. False (and zeros) if there is no ring i. */
bool xshm_inspect_ring_counters(const xshm_inspect_t *v, uint32_t i, uint64_t *tail,
                                uint64_t *messages, uint64_t *bytes);

/*
 * The active reader slot of ring i whose owner is process `id` (pid and
 * start time): true with its index in *slot. A client finds its own slot
 * this way, to ask xshm_inspect_reader_pending.
 */
bool xshm_inspect_find_reader(const xshm_inspect_t *v, uint32_t i, const plat_proc_id_t *id,
                              uint32_t *slot);

/* True when slot `slot` of ring i is active and the ring has records past
 * its cursor (a cheap check: three loads). False for a ring or slot that
 * does not exist, or a slot that is not active. */
bool xshm_inspect_reader_pending(const xshm_inspect_t *v, uint32_t i, uint32_t slot);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_INSPECT_H */
