/*
 * shm_ringbuffer.h - shared segment layout and the overwriting ring.
 *
 * A segment is one named shared-memory object:
 *
 *   [segment header][ring 0][ring 1]...      every part 64-byte aligned
 *   ring = [ring header][reader slot x n][data: capacity bytes]
 *
 * Ring 0 has max_readers reader slots; every further ring has one. Rings
 * 0..max_readers hold ring_capacity data bytes, the rings after them
 * addr_capacity. A channel uses ring 0 for server -> clients, ring 1 + i
 * for client i -> server and ring 1 + max_readers + i for server -> client
 * i (addressed messages), so that every ring has a single writing process
 * and no lock is shared between processes.
 *
 * Each ring has one writing process and up to max_readers readers, each with
 * its own cursor in a reader slot. Positions are 64-bit byte counters that
 * only grow; the offset in the data area is position & (capacity - 1).
 *
 * Records are 8-byte aligned: a 24-byte header (mark, sequence, length,
 * type) and the payload. A message's type word is SHM_REC_MESSAGE, or
 * SHM_REC_TAGGED | tag for a message that carries a tag (1..2^30 - 1) of
 * its writer's choosing (shm_ring_t.w_tag): a channel tags a client ring's
 * records with the writing client's claim epoch, and an addressed ring's
 * records with the epoch of the client they are for. A reader learns the
 * tag of each message it reads (last_tag) and may be told to pass over
 * messages with another tag (want_tag). A padding record (or, when fewer than 24 bytes
 * remain, the bare remainder) fills the end of the data area before the
 * writer wraps. A record's mark, its position | 1, is stored last: it says
 * "complete" to a reader that reached that position by reading the record
 * before it, because the writer clears the next record's mark word before
 * it marks a record complete (so no stale word of an older lap is ever
 * read as a mark). That lets a reader that keeps up read without loading
 * the tail, and find the ring empty without loading it either: the word at
 * its position still clear and limit (below) at most a ring past that
 * position mean no record there is complete yet. The mark never decides
 * whether a copy is intact.
 *
 * Three positions of the writer, each only growing, say what a reader may
 * trust:
 *   tail   end of the last published record (release): [.., tail) is written;
 *   head   oldest intact record: the writer moves it past every record it is
 *          about to overwrite, before it writes a byte there;
 *   limit  the writer writes no byte at a position >= limit; it moves it
 *          ahead in steps of capacity / 8, also before writing.
 * A reader reads records below the tail it loaded (acquire), or the one
 * whose mark it found as above. It copies the
 * record, then (acquire fence) loads limit: limit <= pos + capacity proves
 * that no byte of the record at pos was overwritten during the copy; else it
 * loads head: head <= pos proves the same, head > pos means the copy may be
 * torn and is discarded. Both words only grow, so newer bytes cannot forge
 * them, unlike a value stored in the ring itself (a tag at the record could
 * be rewritten by a newer record's sequence number or payload word with the
 * same bits). limit sits on a line the writer rarely writes, so the check
 * costs a reader a load that hits its cache; head is loaded only by readers
 * that lag by most of a ring. A lapped reader resumes at head and counts its
 * loss from the sequence numbers.
 *
 * Everything read from shared memory is bounded before use: a corrupted or
 * hostile segment yields SHM_ERROR_INVALID_SEGMENT, never an access outside
 * the mapping.
 */
#ifndef XSHM_RINGBUFFER_H
#define XSHM_RINGBUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "atomics.h"
#include "platform.h"
#include "shm_ipc.h"
#include "shm_layout.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- shared layout ---------------------------------------------------------
 * Fixed-width fields only, explicit padding, every uint64_t at an 8-byte
 * offset, hot words on their own 64-byte lines. Identical for x86 and x64.
 * The structs (xshm_seg_header_t, xshm_ring_header_t, xshm_reader_slot_t,
 * xshm_record_header_t), SHM_SEG_MAGIC and SHM_LAYOUT_VERSION are stated
 * once, as tables, in shm_layout.h, whose static asserts check every offset
 * on every target.
 */

#define SHM_CACHE_LINE 64u
#define SHM_RECORD_HEADER_SIZE SHM_MESSAGE_OVERHEAD
#define SHM_RECORD_ALIGN 8u

enum { SHM_SEG_INITIALIZING = 0, SHM_SEG_READY = 1, SHM_SEG_CLOSED = 2 };
enum { SHM_REC_MESSAGE = 0x4D534731u /* "1GSM" */, SHM_REC_PADDING = 0x50414431u };
/* A tagged message: the two high bits set (neither constant above has
 * them), the tag in the low 30 bits, never 0. */
#define SHM_REC_TAGGED 0xC0000000u
#define SHM_REC_TAG_MASK 0x3FFFFFFFu

/*
 * A reader slot's `claim` word: the process id of its owner (or last owner)
 * in the high half; in the low half a claim counter (epoch) and the state, so
 * that a compare-and-swap on it cannot confuse two successive owners.
 *   FREE -> CLAIMING(pid, epoch + 1)   a claimer, in one compare-and-swap
 *   CLAIMING -> ACTIVE (same pid, epoch)   once its identity is written
 *   CLAIMING or ACTIVE -> FREE (same epoch)   detach, or a reclaim of a slot
 *                                             whose owner process is gone
 * Each step is a compare-and-swap from the word the actor last saw; a failed
 * one means the slot is no longer what it saw. The owner's pid is part of
 * the claim itself, so a slot is never left claimed by nobody known: a
 * CLAIMING slot is reclaimed only when that process is gone, never because
 * its owner is slow (stopped in a debugger, a paused VM), and an owner
 * writes into its slot only while its claim stands.
 */
enum { SHM_SLOT_FREE = 0, SHM_SLOT_CLAIMING = 1, SHM_SLOT_ACTIVE = 2 };
#define SHM_CLAIM(pid, epoch, state) \
    (((uint64_t)(uint32_t)(pid) << 32) | ((uint64_t)(uint32_t)(epoch) << 2) | (uint64_t)(state))
#define SHM_CLAIM_STATE(c) ((uint32_t)((c) & 3u))
#define SHM_CLAIM_EPOCH(c) ((uint32_t)(((c) >> 2) & 0x3FFFFFFFu))
#define SHM_CLAIM_PID(c) ((uint32_t)((c) >> 32))

/* writer_flags */
#define SHM_WRITER_REMOTE_FENCE 1u /* the writer skips its fence: sleepers call
                                      xshm_plat_remote_fence() before sleeping */

/* ---- process-local handles ------------------------------------------------- */

typedef struct shm_ring {
    xshm_ring_header_t *hdr;
    xshm_reader_slot_t *slots;
    uint8_t *data;
    uint32_t capacity;
    uint32_t mask;
    uint32_t max_readers;
    uint32_t max_payload;     /* largest message this ring accepts */
    /* writer state, valid in the writing process only */
    bool writer_ready;
    bool w_remote_fence;      /* sleepers fence for us (SHM_WRITER_REMOTE_FENCE) */
    bool w_open;              /* a reservation is open (xshm_ring_reserve) */
    bool w_padded;            /* it wrote (and marked) a padding record */
    uint32_t w_size;          /* its size */
    uint64_t w_start;         /* its record's position */
    uint64_t w_tail, w_head, w_limit, w_seq, w_bytes;
    uint32_t w_tag;           /* tag of the messages written (0: untagged); set
                                 by the writing endpoint under its send lock */
} shm_ring_t;

/* Parameters of a new segment. */
typedef struct xshm_seg_params {
    uint32_t ring_count;      /* 1..SHM_SEG_MAX_RINGS */
    uint32_t capacity;        /* power of two, SHM_MIN_RING_SIZE..SHM_MAX_RING_SIZE */
    uint32_t max_readers;     /* 1..SHM_MAX_READERS */
    bool blocking;            /* recorded for clients */
    uint32_t timeout_ms;      /* recorded for clients */
    uint32_t addr_capacity;   /* data bytes of the rings after ring max_readers:
                                 a power of two, SHM_MIN_RING_SIZE..capacity;
                                 0: capacity */
} xshm_seg_params_t;

/* A channel's rings: ring 0, a client ring and an addressed ring per slot. */
#define SHM_SEG_MAX_RINGS (1u + 2u * SHM_MAX_READERS)
#define SHM_CHANNEL_RINGS(max_readers) (1u + 2u * (max_readers))
/* The data bytes of a channel's addressed rings for rings of `capacity`. */
#define SHM_ADDRESSED_CAPACITY(capacity) \
    ((capacity) < SHM_ADDRESSED_RING_SIZE ? (capacity) : SHM_ADDRESSED_RING_SIZE)

typedef struct xshm_segment {
    plat_shm_t shm;           /* the OS object (zero for a memory-only segment) */
    xshm_seg_header_t *hdr;
    size_t mapped_size;
    uint32_t ring_count;
    shm_ring_t rings[SHM_SEG_MAX_RINGS];
    uint64_t generation;      /* as validated at attach */
} xshm_segment_t;

/* A reader of one ring, with its claimed slot. Not shared between processes;
 * the threads of one process serialise their calls on it. */
typedef struct xshm_ring_reader {
    XA_ALIGN8 uint64_t cursor; /* atomic: xshm_ring_reader_pending() reads it
                                  without the caller's lock */
    uint64_t tail_seen;       /* the tail as last loaded: reload only at it */
    uint64_t seq_pos;         /* position from which expected_seq holds */
    uint64_t expected_seq;
    uint64_t received;
    uint64_t lost;
    uint64_t bytes;           /* payload bytes delivered */
    uint64_t claim;           /* SHM_CLAIM(pid, epoch, ACTIVE) of our claim */
    bool peek;                /* the mark word at the cursor was cleared for
                                 us: a mark there means a complete record */
    bool view_open;           /* a view is held (xshm_ring_view) */
    uint32_t view_len;        /* its length */
    uint64_t view_pos;        /* its record's position: the token */
    uint32_t want_tag;        /* non-zero: messages with another tag (or none)
                                 are passed over, neither received nor lost */
    uint32_t last_tag;        /* the tag of the message last read (0: none) */
    shm_ring_t *ring;
    xshm_reader_slot_t *slot;
    uint32_t slot_index;
} xshm_ring_reader_t;

/* ---- segment ---------------------------------------------------------------- */

/* Bytes a segment with these parameters needs; 0 if they are invalid. */
size_t xshm_segment_size(const xshm_seg_params_t *p);

/* Check parameters: SHM_SUCCESS or SHM_ERROR_INVALID_PARAM. */
shm_error_t xshm_seg_params_check(const xshm_seg_params_t *p);

/*
 * Lay out a new segment in `mem` (size bytes, zeroed or not, 64-byte aligned)
 * and mark it ready; the creator identity is the calling process. Then attach
 * `seg` to it as xshm_segment_attach does. Errors: SHM_ERROR_INVALID_PARAM.
 */
shm_error_t xshm_segment_format(xshm_segment_t *seg, void *mem, size_t size,
                               const xshm_seg_params_t *p);

/*
 * Validate the segment at `mem` (`size` bytes mapped) and bind `seg` to it.
 * Reads only the segment header; every field is checked before use.
 * Errors: SHM_ERROR_INVALID_SEGMENT (bad magic, version, sizes, capacity,
 * reader count, or a layout larger than the mapping), SHM_ERROR_NOT_FOUND
 * (header not yet published by its creator), SHM_ERROR_INVALID_PARAM.
 */
shm_error_t xshm_segment_attach(xshm_segment_t *seg, void *mem, size_t size);

/* Create a named segment (xshm_plat_shm_create + format). Errors: those two. */
shm_error_t xshm_segment_create(xshm_segment_t *seg, const char *os_name,
                               const xshm_seg_params_t *p);

/* Open a named segment (xshm_plat_shm_open + attach). */
shm_error_t xshm_segment_open(xshm_segment_t *seg, const char *os_name);

/* Mark the segment READY (release): its creator has set up everything a
 * peer may rely on (readers attached, wake-up objects created). format
 * leaves it INITIALIZING. */
void xshm_segment_publish(xshm_segment_t *seg);

/* Release process-local state and unmap (does not unlink the name). */
void xshm_segment_close(xshm_segment_t *seg);

/* ---- writer ------------------------------------------------------------------ */

/* Prepare `ring` for writing from this process (recovers the writer state
 * from shared memory). Call once before xshm_ring_write. */
shm_error_t xshm_ring_writer_init(shm_ring_t *ring);
void xshm_ring_writer_fini(shm_ring_t *ring);

/*
 * Append one message of 1..ring->max_payload bytes. Never blocks on readers:
 * the oldest records are overwritten when the ring is full. Callers
 * serialise the writing threads of their process.
 * Errors: SHM_ERROR_INVALID_PARAM (NULL data, size 0 or too large).
 * The caller wakes sleeping readers afterwards (xshm_ring_wake_needed).
 */
shm_error_t xshm_ring_write(shm_ring_t *ring, const void *data, uint32_t size);

/*
 * Zero-copy writing: xshm_ring_write is reserve, copy, commit, and these
 * are its two halves with the caller's own writes between them.
 *
 * xshm_ring_reserve: reserve a record for a message of 1..max_payload bytes
 * and set *ptr to its payload, `size` contiguous bytes inside the ring
 * (records never wrap). Like a write it never waits: it gives up the oldest
 * records the reserved size needs (head moves past them now, so readers
 * that lag count them lost), writes a padding record if the record goes
 * to the next lap, and the header. Nothing is published: readers see the
 * message only after the commit. Errors: SHM_ERROR_INVALID_PARAM (NULL,
 * size 0 or too large, no writer), SHM_ERROR_BUSY (a reservation is open:
 * one at a time; xshm_ring_write returns it too meanwhile).
 *
 * xshm_ring_commit: publish the reserved record as a message of `size`
 * bytes, 1..the reserved size (the first `size` bytes at *ptr), exactly as
 * xshm_ring_write publishes one. The records given up for the reserved size
 * stay given up. Errors: SHM_ERROR_INVALID_PARAM (no open reservation, size
 * 0 or larger than reserved).
 *
 * xshm_ring_abort: close the reservation without a message: no sequence
 * number is used and readers see nothing of it. The records given up for it
 * stay given up (lost for a reader that had not read them, as after a
 * write). A padding record it wrote is already marked, and a reader may
 * have read it: it stays, and the tail is published past it (no message);
 * otherwise the next write or reservation starts at the same position.
 * Errors: SHM_ERROR_INVALID_PARAM (no open reservation).
 *
 * xshm_ring_reserved: the open reservation's payload pointer and size, or
 * NULL when none is open.
 * The caller wakes sleeping readers after a commit, as after a write.
 */
shm_error_t xshm_ring_reserve(shm_ring_t *ring, uint32_t size, void **ptr);
shm_error_t xshm_ring_commit(shm_ring_t *ring, uint32_t size);
shm_error_t xshm_ring_abort(shm_ring_t *ring);
void *xshm_ring_reserved(const shm_ring_t *ring, uint32_t *size);

/* After a write: a full fence, then true when some reader slot may be
 * sleeping (the writer then wakes the slots whose `waiting` is set). */
bool xshm_ring_wake_needed(shm_ring_t *ring);

/* ---- readers -------------------------------------------------------------------- */

/*
 * Claim a free reader slot with the caller's identity (see SHM_CLAIM); the
 * reader starts at the current tail (it receives messages written from now
 * on). Errors: SHM_ERROR_BUSY when every slot is taken.
 */
shm_error_t xshm_ring_reader_attach(shm_ring_t *ring, xshm_ring_reader_t *r);

/*
 * As xshm_ring_reader_attach, with a step between the claim and its
 * activation: once slot `slot` is CLAIMING (the identity written),
 * prepare(ctx, slot, epoch) runs; when it fails the claim is given back and
 * its error returned. Peers that act on ACTIVE slots see what it did.
 */
shm_error_t xshm_ring_reader_attach_then(shm_ring_t *ring, xshm_ring_reader_t *r,
                                         shm_error_t (*prepare)(void *ctx, uint32_t slot,
                                                                uint32_t epoch),
                                         void *ctx);

/*
 * Become the reader of slot 0 of `ring` whatever its claim says: for a ring
 * whose reader is decided elsewhere (a channel's addressed ring i is read by
 * whoever holds slot i of ring 0, so a claim left on it is a previous
 * holder's). The claim's epoch moves on, so that a previous holder that
 * still runs publishes nothing more into the slot.
 */
void xshm_ring_reader_take(shm_ring_t *ring, xshm_ring_reader_t *r);

/* Give the slot back (only if our claim still stands). */
void xshm_ring_reader_detach(xshm_ring_reader_t *r);

/* The slot's claim word as this reader holds it (ACTIVE). */
uint64_t xshm_ring_reader_claim(const xshm_ring_reader_t *r);

/* The claim word of slot i (acquire: the owner's identity, written before
 * it became ACTIVE, may be read after it). */
uint64_t xshm_ring_slot_claim(const shm_ring_t *ring, uint32_t i);

/*
 * Free slot i of a reader whose process is gone, if its claim word still
 * equals `observed` (CLAIMING or ACTIVE). Clears its waiting mark. Returns
 * true when this call freed it. The caller has established that the
 * process SHM_CLAIM_PID(observed) (with the slot's start time, once ACTIVE)
 * is not running: an owner that is alive, however slow, keeps its slot.
 */
bool xshm_ring_slot_reclaim(shm_ring_t *ring, uint32_t i, uint64_t observed);

/* Records a read may try before it gives up (see xshm_ring_read). The
 * interleaving explorer's build lowers it, to reach that end. */
#ifndef SHM_RING_READ_TRIES
#define SHM_RING_READ_TRIES (1u << 20)
#endif

/*
 * Copy the next message into buf (*size bytes available) and set *size to its
 * length. Non-blocking. Errors: SHM_ERROR_EMPTY (nothing new),
 * SHM_ERROR_BUFFER_TOO_SMALL (*size set to the length needed; the message
 * stays), SHM_ERROR_INVALID_PARAM, SHM_ERROR_INVALID_SEGMENT (the ring's
 * shared state is corrupt; the reader resynchronises at the tail).
 * SHM_ERROR_EMPTY also when the writer overwrote the record under the
 * reader on each of SHM_RING_READ_TRIES tries: nothing is delivered, the
 * loss is counted, the next call goes on from the oldest intact record.
 * On success r->last_tag is the message's tag (0: untagged). With
 * r->want_tag set, a message with another tag is passed over as if it were
 * padding: not delivered, not counted as received nor as lost.
 * Callers serialise their calls on one reader.
 */
shm_error_t xshm_ring_read(xshm_ring_reader_t *r, void *buf, uint32_t *size);

/*
 * Zero-copy reading. xshm_ring_view finds the next message as xshm_ring_read
 * does (the same padding, loss counting, resynchronisation and corruption
 * handling), checks once that its record is intact, and sets *ptr and *len
 * to its payload inside the ring and *token to the record's position,
 * without copying. Errors: those of xshm_ring_read but
 * SHM_ERROR_BUFFER_TOO_SMALL, and SHM_ERROR_BUSY while a view is held
 * (xshm_ring_read returns it too meanwhile: one view at a time).
 *
 * The writer never waits for a view: it may overwrite the bytes while the
 * caller reads them. xshm_ring_view_release runs the check of a copy (an
 * acquire fence, then limit and perhaps head) after the caller's reads:
 * SHM_SUCCESS proves that no byte of the record was overwritten while the
 * view was held, and the message counts as received. Otherwise
 * SHM_ERROR_OVERWRITTEN: the message counts as lost, never as received,
 * and the reader resumes as after a lapped copy (at head;
 * SHM_ERROR_INVALID_SEGMENT when head is not believable, and it restarts
 * at the tail). Either way the view is closed. SHM_ERROR_INVALID_PARAM
 * (the view is not closed): no view is held, or token is not its token.
 */
shm_error_t xshm_ring_view(xshm_ring_reader_t *r, const void **ptr, uint32_t *len,
                           uint64_t *token);
shm_error_t xshm_ring_view_release(xshm_ring_reader_t *r, uint64_t token);

/* True when the reader has unread records (a cheap check, no copy). */
bool xshm_ring_reader_pending(const xshm_ring_reader_t *r);

/* Nothing complete at position c, given the word read there (acquire) by a
 * reader that keeps up: still the 0 the writer cleared, and limit says no
 * later lap reached it (xshm_ring_read's step 1b, see shm_ringbuffer.c). */
static inline bool xshm_ring_clear_at(const shm_ring_t *r, uint64_t c, uint64_t word)
{
    return word == 0 && xa_load64_relaxed(&r->hdr->limit) <= c + r->capacity;
}

/* True when a read would surely find nothing: the reader keeps up and the
 * word at its position is clear (above). Inline, for the endpoints to skip
 * a ring that is usually empty (a client's addressed ring) at the cost of
 * two loads; false does not promise a message. */
static inline bool xshm_ring_reader_idle(const xshm_ring_reader_t *rd)
{
    const shm_ring_t *r = rd->ring;
    uint64_t c = rd->cursor; /* the caller holds the reader's lock */
    uint32_t off = (uint32_t)(c & r->mask);
    return rd->peek && c >= rd->tail_seen && r->capacity - off >= SHM_RECORD_HEADER_SIZE &&
           xshm_ring_clear_at(r, c, xa_load64_acq((const uint64_t *)(const void *)(r->data + off)));
}

/*
 * Sleeping (the event-count pattern, driven by shm_events_wait.c):
 *   reader: w = wake word; sleep_begin (marks waiting, full fence);
 *           if (!pending) wait(word, w); sleep_end;
 *   writer: publish; if (xshm_ring_wake_needed) xshm_ring_wake_sleepers(...)
 * wake_sleepers clears each slot's waiting mark and calls wake(ctx, slot),
 * which bumps that reader's wake word and signals its wake-up object.
 */
/* Returns true when the caller must xshm_plat_remote_fence() before sleeping. */
bool xshm_ring_reader_sleep_begin(xshm_ring_reader_t *r);
/* The caller's xshm_plat_remote_fence() failed: tell the writer to fence itself
 * from now on (full fence). A write in flight may still have skipped its
 * fence: the caller bounds its sleep (SHM_FENCE_FAILED_SLEEP_MS). */
void xshm_ring_reader_fence_failed(xshm_ring_reader_t *r);
#define SHM_FENCE_FAILED_SLEEP_MS 1u
void xshm_ring_reader_sleep_end(xshm_ring_reader_t *r);
void xshm_ring_wake_sleepers(shm_ring_t *ring, void (*wake)(void *ctx, uint32_t slot),
                            void *ctx);

/* Messages lost by this reader so far (exact). */
uint64_t xshm_ring_reader_lost(const xshm_ring_reader_t *r);

/* The counters a reader publishes in its slot (any thread may read them). */
typedef struct xshm_reader_counts {
    uint64_t received, bytes, lost;
} xshm_reader_counts_t;
void xshm_ring_reader_counts(const xshm_ring_reader_t *r, xshm_reader_counts_t *out);

/* ---- monitoring ------------------------------------------------------------------ */

/* shm_ring_available() (public, shm_ipc.h): free bytes before the slowest
 * active reader loses data. */

/*
 * tail, next_seq and (if `bytes` is not NULL) bytes_written of the ring as
 * one published set: the writer changes them under pub_ver, odd meanwhile,
 * and this retries until it reads the same even pub_ver before and after.
 * After a million tries (a writer that died between its two pub_ver stores:
 * the words will not change again) the last values read. *tail is rounded
 * down to a record boundary, so a position taken from it is never
 * misaligned. For readers and observers (shm_inspect.c).
 */
void xshm_ring_counters(const shm_ring_t *ring, uint64_t *tail, uint64_t *seq, uint64_t *bytes);

/* Number of slots in the ACTIVE state. */
uint32_t xshm_ring_active_readers(const shm_ring_t *ring);

/* Messages written to the ring so far. */
uint64_t xshm_ring_messages_written(const shm_ring_t *ring);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_RINGBUFFER_H */
