/*
 * shm_ringbuffer.h - shared segment layout and the overwriting ring.
 *
 * A segment is one named shared-memory object:
 *
 *   [segment header][ring 0][ring 1]...      every part 64-byte aligned
 *   ring = [ring header][reader slot x n][data: capacity bytes]
 *
 * Ring 0 has max_readers reader slots; every further ring has one. A channel
 * uses ring 0 for server -> clients and ring 1 + i for client i -> server, so
 * that every ring has a single writing process and no lock is shared between
 * processes.
 *
 * Each ring has one writing process and up to max_readers readers, each with
 * its own cursor in a reader slot. Positions are 64-bit byte counters that
 * only grow; the offset in the data area is position & (capacity - 1).
 *
 * Records are 8-byte aligned: a 24-byte header (tag, sequence, length, type)
 * and the payload. A padding record (or, when fewer than 24 bytes remain, the
 * bare remainder) fills the end of the data area before the writer wraps.
 *
 * A record's tag is its position | 1, stored last (release): it says "the
 * record that starts here, at this position, is complete". Before the writer
 * overwrites any byte of older records it clears their tags (walking them
 * from `head`, the oldest intact record, and moving `head` past them), then
 * a release fence, then the new bytes; last it publishes `tail`.
 * A reader checks the tag, copies the record, and checks the tag again
 * (after an acquire fence): unchanged means no byte it copied was
 * overwritten, so a torn record is never delivered. This needs no shared
 * word written per message besides `tail`, which a lagging reader loads once
 * per batch. (The writer also keeps `intent`, the end of the record being
 * written, for monitoring and for recovery after a crash mid-write.)
 * A lapped reader resumes at `head` and counts its loss from the sequence
 * numbers.
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

#include "platform.h"
#include "shm_ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- shared layout ---------------------------------------------------------
 * Fixed-width fields only, explicit padding, every uint64_t at an 8-byte
 * offset, hot words on their own 64-byte lines. Identical for x86 and x64;
 * the static asserts in shm_ringbuffer.c check every offset on every target.
 */

#define SHM_SEG_MAGIC 0x4D485358u /* "XSHM" in little-endian memory */
#define SHM_LAYOUT_VERSION 1u
#define SHM_CACHE_LINE 64u
#define SHM_RECORD_HEADER_SIZE SHM_MESSAGE_OVERHEAD
#define SHM_RECORD_ALIGN 8u

enum { SHM_SEG_INITIALIZING = 0, SHM_SEG_READY = 1, SHM_SEG_CLOSED = 2 };
enum { SHM_REC_MESSAGE = 0x4D534731u /* "1GSM" */, SHM_REC_PADDING = 0x50414431u };
/* A slot's `state` word packs a claim counter with the state, so that a
 * compare-and-swap on it cannot confuse two successive owners of a slot. */
enum { SHM_SLOT_FREE = 0, SHM_SLOT_CLAIMING = 1, SHM_SLOT_ACTIVE = 2 };
#define SHM_SLOT_STATE(word) ((word) & 3u)
#define SHM_SLOT_EPOCH(word) ((word) >> 2)
#define SHM_SLOT_WORD(epoch, state) (((uint32_t)(epoch) << 2) | (uint32_t)(state))

typedef struct shm_seg_header {
    uint32_t magic;           /* 0: SHM_SEG_MAGIC, stored last at creation */
    uint32_t layout_version;  /* 4 */
    uint32_t header_size;     /* 8: sizeof(shm_seg_header_t) */
    uint32_t ring_count;      /* 12: 1..SHM_SEG_MAX_RINGS */
    uint64_t total_size;      /* 16: bytes of the layout */
    uint32_t ring_capacity;   /* 24: data bytes per ring, power of two */
    uint32_t max_readers;     /* 28: reader slots of ring 0 (others: 1) */
    uint32_t max_message;     /* 32: SHM_MAX_MESSAGE_SIZE */
    uint32_t creator_ptr_bits;/* 36: 32 or 64 */
    uint32_t creator_pid;     /* 40 */
    uint32_t state;           /* 44: SHM_SEG_* */
    uint64_t creator_start;   /* 48: process start time, see plat_proc_id_t */
    uint64_t generation;      /* 56: new value each time a channel is created */
    uint32_t cfg_blocking;    /* 64: the server's receive mode, for clients */
    uint32_t cfg_timeout_ms;  /* 68 */
    uint32_t server_wake;     /* 72: wake word of a reader of several rings */
    uint32_t member_changes;  /* 76: bumped by clients joining or leaving */
    uint32_t reserved[12];    /* 80..127 */
} shm_seg_header_t;

/* writer_flags */
#define SHM_WRITER_REMOTE_FENCE 1u /* the writer skips its fence: sleepers call
                                      plat_remote_fence() before sleeping */

typedef struct shm_ring_header {
    /* line 0: fixed at creation, and the writer's identity */
    uint32_t capacity;        /* 0 */
    uint32_t max_readers;     /* 4 */
    uint32_t ring_index;      /* 8 */
    uint32_t writer_pid;      /* 12: process that writes this ring */
    uint64_t writer_start;    /* 16 */
    uint32_t writer_ptr_bits; /* 24 */
    uint32_t writer_flags;    /* 28: SHM_WRITER_* */
    uint32_t reserved0[8];    /* 32..63 */
    /* line 1: what readers poll, written by the writer for every message */
    uint64_t tail;            /* 64: end of the last published record */
    uint64_t reserved1[7];    /* 72..127 */
    /* line 2: the writer's bookkeeping, read by readers only when lapped
     * or attaching */
    uint64_t head;            /* 128: oldest intact record */
    uint64_t next_seq;        /* 136: sequence number of the next message */
    uint64_t pub_ver;         /* 144: odd while tail/next_seq are changing */
    uint64_t bytes_written;   /* 152: payload bytes, for statistics */
    uint64_t intent;          /* 160: end of the record being written */
    uint64_t reserved2[3];    /* 168..191 */
    /* line 3: written by readers going to sleep, read by the writer */
    uint32_t waiters;         /* 192: slots whose `waiting` is set */
    uint32_t reserved3[15];   /* 196..255 */
} shm_ring_header_t;

typedef struct shm_reader_slot {
    /* line 0: owned by the reader, updated per message */
    uint64_t cursor;          /* 0: next position to read */
    uint64_t expected_seq;    /* 8: sequence number expected next */
    uint64_t received;        /* 16: messages delivered */
    uint64_t lost;            /* 24: messages overwritten before delivery */
    uint64_t bytes;           /* 32: payload bytes delivered */
    uint64_t reserved0[3];    /* 40..63 */
    /* line 1: identity and sleeping */
    uint32_t state;           /* 64: SHM_SLOT_WORD(epoch, SHM_SLOT_*) */
    uint32_t reserved_epoch;  /* 68: zero */
    uint32_t pid;             /* 72 */
    uint32_t ptr_bits;        /* 76 */
    uint64_t start_time;      /* 80 */
    uint32_t waiting;         /* 88: 1 while the reader sleeps or is about to */
    uint32_t wake_word;       /* 92: futex word, bumped to wake the reader */
    uint32_t reserved1[8];    /* 96..127 */
} shm_reader_slot_t;

typedef struct shm_record_header {
    uint64_t tag;             /* position | 1 once complete; 0 once dead */
    uint64_t seq;             /* message sequence number; 0 for padding */
    uint32_t length;          /* payload bytes (message) or record bytes (padding) */
    uint32_t type;            /* SHM_REC_* */
} shm_record_header_t;

/* ---- process-local handles ------------------------------------------------- */

typedef struct shm_ring {
    shm_ring_header_t *hdr;
    shm_reader_slot_t *slots;
    uint8_t *data;
    uint32_t capacity;
    uint32_t mask;
    uint32_t max_readers;
    uint32_t max_payload;     /* largest message this ring accepts */
    /* writer state, valid in the writing process only */
    bool writer_ready;
    bool w_remote_fence;      /* sleepers fence for us (SHM_WRITER_REMOTE_FENCE) */
    uint64_t w_tail, w_head, w_seq, w_bytes;
} shm_ring_t;

/* Parameters of a new segment. */
typedef struct shm_seg_params {
    uint32_t ring_count;      /* 1..SHM_SEG_MAX_RINGS */
    uint32_t capacity;        /* power of two, SHM_MIN_RING_SIZE..SHM_MAX_RING_SIZE */
    uint32_t max_readers;     /* 1..SHM_MAX_READERS */
    bool blocking;            /* recorded for clients */
    uint32_t timeout_ms;      /* recorded for clients */
} shm_seg_params_t;

#define SHM_SEG_MAX_RINGS (1u + SHM_MAX_READERS)

typedef struct shm_segment {
    plat_shm_t shm;           /* the OS object (zero for a memory-only segment) */
    shm_seg_header_t *hdr;
    size_t mapped_size;
    uint32_t ring_count;
    shm_ring_t rings[SHM_SEG_MAX_RINGS];
    uint64_t generation;      /* as validated at attach */
} shm_segment_t;

/* A reader of one ring, with its claimed slot. Not shared between processes;
 * the threads of one process serialise their calls on it. */
typedef struct shm_ring_reader {
    shm_ring_t *ring;
    shm_reader_slot_t *slot;
    uint32_t slot_index;
    uint64_t cursor;
    uint64_t tail_seen;       /* the tail as last loaded: reload only at it */
    uint64_t seq_pos;         /* position from which expected_seq holds */
    uint64_t expected_seq;
    uint64_t received;
    uint64_t lost;
    uint64_t bytes;           /* payload bytes delivered */
    uint32_t claim_word;      /* SHM_SLOT_WORD(epoch, ACTIVE) of our claim */
} shm_ring_reader_t;

/* ---- segment ---------------------------------------------------------------- */

/* Bytes a segment with these parameters needs; 0 if they are invalid. */
size_t shm_segment_size(const shm_seg_params_t *p);

/* Check parameters: SHM_SUCCESS or SHM_ERROR_INVALID_PARAM. */
shm_error_t shm_seg_params_check(const shm_seg_params_t *p);

/*
 * Lay out a new segment in `mem` (size bytes, zeroed or not, 64-byte aligned)
 * and mark it ready; the creator identity is the calling process. Then attach
 * `seg` to it as shm_segment_attach does. Errors: SHM_ERROR_INVALID_PARAM.
 */
shm_error_t shm_segment_format(shm_segment_t *seg, void *mem, size_t size,
                               const shm_seg_params_t *p);

/*
 * Validate the segment at `mem` (`size` bytes mapped) and bind `seg` to it.
 * Reads only the segment header; every field is checked before use.
 * Errors: SHM_ERROR_INVALID_SEGMENT (bad magic, version, sizes, capacity,
 * reader count, or a layout larger than the mapping), SHM_ERROR_NOT_FOUND
 * (header not yet published by its creator), SHM_ERROR_INVALID_PARAM.
 */
shm_error_t shm_segment_attach(shm_segment_t *seg, void *mem, size_t size);

/* Create a named segment (plat_shm_create + format). Errors: those two. */
shm_error_t shm_segment_create(shm_segment_t *seg, const char *os_name,
                               const shm_seg_params_t *p);

/* Open a named segment (plat_shm_open + attach). */
shm_error_t shm_segment_open(shm_segment_t *seg, const char *os_name);

/* Mark the segment READY (release): its creator has set up everything a
 * peer may rely on (readers attached, wake-up objects created). format
 * leaves it INITIALIZING. */
void shm_segment_publish(shm_segment_t *seg);

/* Release process-local state and unmap (does not unlink the name). */
void shm_segment_close(shm_segment_t *seg);

/* ---- writer ------------------------------------------------------------------ */

/* Prepare `ring` for writing from this process (recovers the writer state
 * from shared memory). Call once before shm_ring_write. */
shm_error_t shm_ring_writer_init(shm_ring_t *ring);
void shm_ring_writer_fini(shm_ring_t *ring);

/*
 * Append one message of 1..ring->max_payload bytes. Never blocks on readers:
 * the oldest records are overwritten when the ring is full. Callers
 * serialise the writing threads of their process.
 * Errors: SHM_ERROR_INVALID_PARAM (NULL data, size 0 or too large).
 * The caller wakes sleeping readers afterwards (shm_ring_wake_needed).
 */
shm_error_t shm_ring_write(shm_ring_t *ring, const void *data, uint32_t size);

/* After a write: a full fence, then true when some reader slot may be
 * sleeping (the writer then wakes the slots whose `waiting` is set). */
bool shm_ring_wake_needed(shm_ring_t *ring);

/* ---- readers -------------------------------------------------------------------- */

/*
 * Claim a free reader slot with the caller's identity; the reader starts at
 * the current tail (it receives messages written from now on).
 * Errors: SHM_ERROR_BUSY when every slot is taken.
 */
shm_error_t shm_ring_reader_attach(shm_ring_t *ring, shm_ring_reader_t *r);

/* Give the slot back. */
void shm_ring_reader_detach(shm_ring_reader_t *r);

/* The slot's state word as this reader claimed it. */
uint32_t shm_ring_reader_claim_word(const shm_ring_reader_t *r);

/*
 * Free slot i of a reader that died, if its state word still equals
 * `observed` (ACTIVE or CLAIMING, with the same epoch). Clears its waiting
 * mark. Returns true when this call freed it.
 */
bool shm_ring_slot_reclaim(shm_ring_t *ring, uint32_t i, uint32_t observed);

/*
 * Copy the next message into buf (*size bytes available) and set *size to its
 * length. Non-blocking. Errors: SHM_ERROR_EMPTY (nothing new),
 * SHM_ERROR_BUFFER_TOO_SMALL (*size set to the length needed; the message
 * stays), SHM_ERROR_INVALID_PARAM, SHM_ERROR_INVALID_SEGMENT (the ring's
 * shared state is corrupt; the reader resynchronises at the tail).
 * Callers serialise their calls on one reader.
 */
shm_error_t shm_ring_read(shm_ring_reader_t *r, void *buf, uint32_t *size);

/* True when the reader has unread records (a cheap check, no copy). */
bool shm_ring_reader_pending(const shm_ring_reader_t *r);

/*
 * Sleeping (the event-count pattern, driven by shm_events.c):
 *   reader: w = wake word; sleep_begin (marks waiting, full fence);
 *           if (!pending) wait(word, w); sleep_end;
 *   writer: publish; if (shm_ring_wake_needed) shm_ring_wake_sleepers(...)
 * wake_sleepers clears each slot's waiting mark and calls wake(ctx, slot),
 * which bumps that reader's wake word and signals its wake-up object.
 */
/* Returns true when the caller must plat_remote_fence() before sleeping. */
bool shm_ring_reader_sleep_begin(shm_ring_reader_t *r);
void shm_ring_reader_sleep_end(shm_ring_reader_t *r);
void shm_ring_wake_sleepers(shm_ring_t *ring, void (*wake)(void *ctx, uint32_t slot),
                            void *ctx);

/* Messages lost by this reader so far (exact). */
uint64_t shm_ring_reader_lost(const shm_ring_reader_t *r);

/* The counters a reader publishes in its slot (any thread may read them). */
typedef struct shm_reader_counts {
    uint64_t received, bytes, lost;
} shm_reader_counts_t;
void shm_ring_reader_counts(const shm_ring_reader_t *r, shm_reader_counts_t *out);

/* ---- monitoring ------------------------------------------------------------------ */

/* shm_ring_available() (public, shm_ipc.h): free bytes before the slowest
 * active reader loses data. */

/* Number of slots in the ACTIVE state. */
uint32_t shm_ring_active_readers(const shm_ring_t *ring);

/* Messages written to the ring so far. */
uint64_t shm_ring_messages_written(const shm_ring_t *ring);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_RINGBUFFER_H */
