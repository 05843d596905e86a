/*
 * testmsg.h - self-checking test messages and aligned buffers.
 *
 * A message is fully determined by its sequence number and length; from 16
 * bytes on it also carries the sequence number and a checksum of the rest,
 * so that a receiver can tell an intact message from a torn or misplaced one.
 */
#ifndef XSHM_TESTMSG_H
#define XSHM_TESTMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Fill buf with message `seq` of `len` bytes. */
void tm_make(uint8_t *buf, uint64_t seq, uint32_t len);

/* True when buf holds message `seq` of `len` bytes, intact. */
bool tm_check(const uint8_t *buf, uint64_t seq, uint32_t len);

/* FNV-1a of n bytes. */
uint64_t tm_fnv1a(const uint8_t *p, size_t n);

/* size bytes aligned to 64 (rounded up to a multiple of 64), or NULL; free
 * with tm_free64. Sized exactly, so that ASan sees accesses past the end. */
void *tm_alloc64(size_t size);
void tm_free64(void *p);

#ifdef __cplusplus
}
#endif

#endif
