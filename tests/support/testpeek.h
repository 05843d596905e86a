/*
 * testpeek.h - a test's own view of a channel's shared memory.
 *
 * Some tests look into a channel through the internal headers
 * (shm_ringbuffer.h): they map it a second time ("peek") to see whether a
 * receive sleeps, or to forge a recorded process identity or a damaged
 * header. The channel's OS name is the library's own
 * (xshm_channel_os_name), never a copy of its rule.
 */
#ifndef XSHM_TESTPEEK_H
#define XSHM_TESTPEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm_ringbuffer.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The OS object name of channel `name` (xshm_channel_os_name, without an
 * explicit prefix: "xshm.<name>" on Linux, "Local\xshm.<name>" on Windows);
 * fails the test when the library refuses the name. */
void pk_os_name(char *out, size_t n, const char *name);

/* A second, independent mapping of channel `name`; NULL if it cannot be
 * opened (absent, or not valid yet). Close it with pk_close. */
xshm_segment_t *pk_open(const char *name);
void pk_close(xshm_segment_t *seg); /* NULL is ignored */

/* True once channel `name` is published (SHM_SEG_READY) by process `pid`. */
bool pk_ready_by(const char *name, uint32_t pid);

/* Reader slot `slot` of ring r is marked waiting: its receive sleeps. */
bool pk_slot_waiting(const shm_ring_t *r, uint32_t slot);
/* Some reader slot of ring r is marked waiting. */
bool pk_any_slot_waiting(const shm_ring_t *r);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_TESTPEEK_H */
