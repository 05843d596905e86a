/*
 * testmsg.c - self-checking test messages and aligned buffers.
 */
#include "testmsg.h"

#include <stdlib.h>
#include <string.h>
#ifdef _WIN32
#include <malloc.h>
#endif

static uint8_t pattern_byte(uint64_t seq, uint32_t i)
{
    uint32_t x = (uint32_t)(seq * 2654435761u) ^ (i * 0x9E3779B1u);
    x ^= x >> 15;
    return (uint8_t)(x * 0x2C1B3C6Du >> 24);
}

uint64_t tm_fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

void tm_make(uint8_t *buf, uint64_t seq, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        buf[i] = pattern_byte(seq, i);
    if (len >= 16) {
        uint64_t sum = tm_fnv1a(buf + 16, len - 16);
        memcpy(buf, &seq, 8);
        memcpy(buf + 8, &sum, 8);
    }
}

bool tm_check(const uint8_t *buf, uint64_t seq, uint32_t len)
{
    uint32_t from = 0;
    if (len >= 16) {
        uint64_t s, sum;
        memcpy(&s, buf, 8);
        memcpy(&sum, buf + 8, 8);
        if (s != seq || sum != tm_fnv1a(buf + 16, len - 16))
            return false;
        from = 16;
    }
    for (uint32_t i = from; i < len; i++)
        if (buf[i] != pattern_byte(seq, i))
            return false;
    return true;
}

void *tm_alloc64(size_t size)
{
    size = (size + 63) & ~(size_t)63;
#ifdef _WIN32
    return _aligned_malloc(size, 64);
#else
    return aligned_alloc(64, size);
#endif
}

void tm_free64(void *p)
{
#ifdef _WIN32
    _aligned_free(p);
#else
    free(p);
#endif
}
