/*
 * shm_layout.h - the shared layout, stated once.
 *
 * Every struct that lies in shared memory is one table here: a row per
 * field, in memory order, with its type and its byte offset.
 *
 *   F(T, field, type, offset)          a field
 *   A(T, field, type, count, offset)   an array (explicit padding)
 *
 * The type is a name of XSHM_LAYOUT_TYPE_*: u32 or u64, so a field has the
 * same size in 32-bit and 64-bit processes by construction. From the tables
 * come
 *   - the struct definitions below (xshm_seg_header_t, ...);
 *   - the static asserts at the end of this file, compiled by every target:
 *     each field at its offset, each 64-bit field at a multiple of 8, the
 *     fields' sizes adding up to the struct's size (no implicit padding
 *     anywhere), and that size;
 *   - tests/mixed/layout_dump.c, which prints the layout as compiled, so
 *     that a test compares a 32-bit and a 64-bit build (label mixed).
 * The layout is a wire format shared by 32-bit and 64-bit processes: a
 * change here bumps SHM_LAYOUT_VERSION.
 */
#ifndef XSHM_LAYOUT_H
#define XSHM_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#define SHM_SEG_MAGIC 0x4D485358u /* "XSHM" in little-endian memory */
#define SHM_LAYOUT_VERSION 3u

#define XSHM_LAYOUT_TYPE_u32 uint32_t
#define XSHM_LAYOUT_TYPE_u64 uint64_t
#define XSHM_LAYOUT_TYPE(type) XSHM_LAYOUT_TYPE_##type

/* ---- the tables ---------------------------------------------------------------- */

/* clang-format off */

/* The segment header, at offset 0 of the segment. */
#define XSHM_SEG_HEADER_LAYOUT(T, F, A)                                                    \
    F(T, magic,            u32,      0) /* SHM_SEG_MAGIC, stored last at creation */      \
    F(T, layout_version,   u32,      4)                                                    \
    F(T, header_size,      u32,      8) /* sizeof(xshm_seg_header_t) */                    \
    F(T, ring_count,       u32,     12) /* 1..SHM_SEG_MAX_RINGS */                         \
    F(T, total_size,       u64,     16) /* bytes of the layout */                          \
    F(T, ring_capacity,    u32,     24) /* data bytes of rings 0..max_readers, power of */ \
                                        /* two */                                          \
    F(T, max_readers,      u32,     28) /* reader slots of ring 0 (others: 1) */           \
    F(T, max_message,      u32,     32) /* SHM_MAX_MESSAGE_SIZE */                         \
    F(T, creator_ptr_bits, u32,     36) /* 32 or 64 */                                     \
    F(T, creator_pid,      u32,     40)                                                    \
    F(T, state,            u32,     44) /* SHM_SEG_* */                                    \
    F(T, creator_start,    u64,     48) /* process start time, see plat_proc_id_t */       \
    F(T, generation,       u64,     56) /* new value each time a channel is created */     \
    F(T, cfg_blocking,     u32,     64) /* the server's receive mode, for clients */       \
    F(T, cfg_timeout_ms,   u32,     68)                                                    \
    F(T, server_wake,      u32,     72) /* wake word of a reader of several rings */       \
    F(T, member_changes,   u32,     76) /* bumped by clients joining or leaving */         \
    F(T, addr_capacity,    u32,     80) /* data bytes of the rings after ring */           \
                                        /* max_readers (addressed rings), power of two */  \
    A(T, reserved,         u32, 11, 84) /* 84..127 */
#define XSHM_SEG_HEADER_SIZE 128

/*
 * A ring's header. Line 0: fixed at creation, the writer's identity, and
 * words written rarely but read often (limit: by every reader after every
 * copy). Line 1: what readers poll, written by the writer for every
 * message. Line 2: the writer's bookkeeping, read by readers only when
 * lagging, lapped or attaching. Line 3: written by readers going to sleep,
 * read by the writer.
 */
#define XSHM_RING_HEADER_LAYOUT(T, F, A)                                                   \
    F(T, capacity,         u32,      0) /* line 0 */                                       \
    F(T, max_readers,      u32,      4)                                                    \
    F(T, ring_index,       u32,      8)                                                    \
    F(T, writer_pid,       u32,     12) /* process that writes this ring */                \
    F(T, writer_start,     u64,     16)                                                    \
    F(T, writer_ptr_bits,  u32,     24)                                                    \
    F(T, writer_flags,     u32,     28) /* SHM_WRITER_* */                                 \
    F(T, limit,            u64,     32) /* no byte at a position >= limit is written */    \
    F(T, fence_failed,     u32,     40) /* a sleeper's remote fence failed: the writer */  \
                                        /* must fence itself (sticky) */                   \
    A(T, reserved0,        u32,  5, 44) /* 44..63 */                                       \
    F(T, tail,             u64,     64) /* line 1: end of the last published record */     \
    A(T, reserved1,        u64,  7, 72) /* 72..127 */                                      \
    F(T, head,             u64,    128) /* line 2: oldest intact record */                 \
    F(T, next_seq,         u64,    136) /* sequence number of the next message */          \
    F(T, pub_ver,          u64,    144) /* odd while tail/next_seq are changing */         \
    F(T, bytes_written,    u64,    152) /* payload bytes, for statistics */                \
    F(T, intent,           u64,    160) /* end of the record being written */              \
    A(T, reserved2,        u64,  3, 168) /* 168..191 */                                    \
    F(T, waiters,          u32,    192) /* line 3: slots whose `waiting` is set */         \
    A(T, reserved3,        u32, 15, 196) /* 196..255 */
#define XSHM_RING_HEADER_SIZE 256

/* A reader slot. Line 0: owned by the reader, updated per message. Line 1:
 * claim, identity and sleeping. */
#define XSHM_READER_SLOT_LAYOUT(T, F, A)                                                   \
    F(T, cursor,           u64,      0) /* line 0: next position to read */                \
    F(T, expected_seq,     u64,      8) /* sequence number expected next */                \
    F(T, received,         u64,     16) /* messages delivered */                           \
    F(T, lost,             u64,     24) /* messages overwritten before delivery */         \
    F(T, bytes,            u64,     32) /* payload bytes delivered */                      \
    A(T, reserved0,        u64,  3, 40) /* 40..63 */                                       \
    F(T, claim,            u64,     64) /* line 1: SHM_CLAIM(pid, epoch, SHM_SLOT_*) */    \
    F(T, start_time,       u64,     72) /* owner's process start time */                   \
    F(T, ptr_bits,         u32,     80) /* owner's pointer width */                        \
    F(T, waiting,          u32,     84) /* 1 while the reader sleeps or is about to */     \
    F(T, wake_word,        u32,     88) /* futex word, bumped to wake the reader */        \
    A(T, reserved1,        u32,  9, 92) /* 92..127 */
#define XSHM_READER_SLOT_SIZE 128

/* A record's header, at the record's position in the data area. */
#define XSHM_RECORD_HEADER_LAYOUT(T, F, A)                                                 \
    F(T, pos,              u64,      0) /* the record's mark: its position | 1, stored */  \
                                        /* last (release); 0 until then */                 \
    F(T, seq,              u64,      8) /* message sequence number; 0 for padding */       \
    F(T, length,           u32,     16) /* payload bytes (message) or record bytes */      \
                                        /* (padding) */                                    \
    F(T, type,             u32,     20) /* SHM_REC_*, or a tagged message */
#define XSHM_RECORD_HEADER_SIZE 24

/* Every table, with the struct it defines and that struct's size. */
#define XSHM_LAYOUT_STRUCTS(S)                                                             \
    S(xshm_seg_header_t,    XSHM_SEG_HEADER_LAYOUT,    XSHM_SEG_HEADER_SIZE)              \
    S(xshm_ring_header_t,   XSHM_RING_HEADER_LAYOUT,   XSHM_RING_HEADER_SIZE)             \
    S(xshm_reader_slot_t,   XSHM_READER_SLOT_LAYOUT,   XSHM_READER_SLOT_SIZE)             \
    S(xshm_record_header_t, XSHM_RECORD_HEADER_LAYOUT, XSHM_RECORD_HEADER_SIZE)
/* clang-format on */

/* ---- the structs ------------------------------------------------------------- */

#define XSHM_LAYOUT_DECLARE(T, field, type, off) XSHM_LAYOUT_TYPE(type) field;
#define XSHM_LAYOUT_DECLARE_ARRAY(T, field, type, n, off) XSHM_LAYOUT_TYPE(type) field[n];

/* typedef struct tag { the table's fields } T; */
#define XSHM_LAYOUT_STRUCT(tag, T, LAYOUT)                                                        \
    typedef struct tag {                                                                           \
        LAYOUT(T, XSHM_LAYOUT_DECLARE, XSHM_LAYOUT_DECLARE_ARRAY)                                  \
    } T;

XSHM_LAYOUT_STRUCT(xshm_seg_header, xshm_seg_header_t, XSHM_SEG_HEADER_LAYOUT)
XSHM_LAYOUT_STRUCT(xshm_ring_header, xshm_ring_header_t, XSHM_RING_HEADER_LAYOUT)
XSHM_LAYOUT_STRUCT(xshm_reader_slot, xshm_reader_slot_t, XSHM_READER_SLOT_LAYOUT)
XSHM_LAYOUT_STRUCT(xshm_record_header, xshm_record_header_t, XSHM_RECORD_HEADER_LAYOUT)

/* ---- the checks, on every compiler and target ---------------------------------- */

#if defined(__cplusplus)
#define XSHM_LAYOUT_STATIC_ASSERT(c, m) static_assert(c, m)
#else
#define XSHM_LAYOUT_STATIC_ASSERT(c, m) _Static_assert(c, m)
#endif

#define XSHM_LAYOUT_CHECK(T, field, type, off)                                                     \
    XSHM_LAYOUT_STATIC_ASSERT(offsetof(T, field) == (off), #T "." #field ": offset");              \
    XSHM_LAYOUT_STATIC_ASSERT(sizeof(XSHM_LAYOUT_TYPE(type)) < 8 || (off) % 8 == 0,                \
                              #T "." #field ": a 64-bit field at an offset not 8-aligned");
#define XSHM_LAYOUT_CHECK_ARRAY(T, field, type, n, off) XSHM_LAYOUT_CHECK(T, field, type, off)
#define XSHM_LAYOUT_ADD(T, field, type, off) +sizeof(XSHM_LAYOUT_TYPE(type))
#define XSHM_LAYOUT_ADD_ARRAY(T, field, type, n, off) +sizeof(XSHM_LAYOUT_TYPE(type)) * (n)

/* The fields, at their offsets in order, add up to the size: no padding
 * between them or after the last. */
#define XSHM_LAYOUT_CHECK_STRUCT(T, LAYOUT, size)                                                  \
    XSHM_LAYOUT_STATIC_ASSERT(sizeof(T) == (size), #T ": size");                                   \
    XSHM_LAYOUT_STATIC_ASSERT((0 LAYOUT(T, XSHM_LAYOUT_ADD, XSHM_LAYOUT_ADD_ARRAY)) == (size),     \
                              #T ": implicit padding");                                            \
    LAYOUT(T, XSHM_LAYOUT_CHECK, XSHM_LAYOUT_CHECK_ARRAY)

XSHM_LAYOUT_STRUCTS(XSHM_LAYOUT_CHECK_STRUCT)

#endif /* XSHM_LAYOUT_H */
