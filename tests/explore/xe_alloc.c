/*
 * xe_alloc.c - tracked allocations (see xe_alloc.h).
 */
#include "xe_alloc.h"

#include <stdint.h>
#include <string.h>

typedef struct block {
    struct block *prev, *next;
    void *raw;       /* what malloc returned */
    uint64_t pad_;   /* keeps the payload 16-byte aligned */
} block_t;

static block_t head = {&head, &head, NULL, 0};

static void *track(void *raw, size_t off)
{
    block_t *b = (block_t *)((char *)raw + off);
    b->raw = raw;
    b->next = head.next;
    b->prev = &head;
    head.next->prev = b;
    head.next = b;
    return b + 1;
}

static block_t *block_of(void *p) { return (block_t *)p - 1; }

static void untrack(block_t *b)
{
    b->prev->next = b->next;
    b->next->prev = b->prev;
}

void *xe_malloc(size_t n)
{
    void *raw = malloc(sizeof(block_t) + (n ? n : 1));
    return raw ? track(raw, 0) : NULL;
}

void *xe_calloc(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size)
        return NULL;
    void *p = xe_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void xe_free(void *p)
{
    if (!p)
        return;
    block_t *b = block_of(p);
    untrack(b);
    free(b->raw);
}

void *xe_realloc(void *p, size_t n)
{
    if (!p)
        return xe_malloc(n);
    block_t *b = block_of(p);
    untrack(b);
    void *raw = realloc(b->raw, sizeof(block_t) + (n ? n : 1));
    if (!raw) {
        track(b->raw, 0);
        return NULL;
    }
    return track(raw, 0);
}

void *xe_aligned_alloc(size_t size)
{
    /* room for the block header right below a 64-byte boundary */
    void *raw = malloc(size + 64 + sizeof(block_t));
    if (!raw)
        return NULL;
    uintptr_t user = ((uintptr_t)raw + sizeof(block_t) + 63u) & ~(uintptr_t)63u;
    void *p = track(raw, (size_t)(user - sizeof(block_t) - (uintptr_t)raw));
    memset(p, 0, size);
    return p;
}

void xe_aligned_free(void *p) { xe_free(p); }

void xe_alloc_reset(void)
{
    while (head.next != &head) {
        block_t *b = head.next;
        untrack(b);
        free(b->raw);
    }
}
