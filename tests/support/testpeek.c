/*
 * testpeek.c - a second mapping of a channel, for tests that look inside.
 */
#include "testpeek.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdlib.h>

#include <cmocka.h>

#include "atomics.h"
#include "platform.h"
#include "shm_common.h"

void pk_os_name(char *out, size_t n, const char *name)
{
    shm_error_t e = xshm_channel_os_name(name, out, n, NULL);
    if (e != SHM_SUCCESS)
        fail_msg("the OS name of channel \"%s\": %s", name, shm_strerror(e));
}

xshm_segment_t *pk_open(const char *name)
{
    char os[PLAT_NAME_MAX];
    if (xshm_channel_os_name(name, os, sizeof(os), NULL) != SHM_SUCCESS)
        return NULL;
    xshm_segment_t *seg = (xshm_segment_t *)calloc(1, sizeof(*seg));
    if (!seg)
        return NULL;
    if (xshm_segment_open(seg, os) != SHM_SUCCESS) {
        free(seg);
        return NULL;
    }
    return seg;
}

void pk_close(xshm_segment_t *seg)
{
    if (seg) {
        xshm_segment_close(seg);
        free(seg);
    }
}

bool pk_ready_by(const char *name, uint32_t pid)
{
    xshm_segment_t *seg = pk_open(name);
    if (!seg)
        return false;
    bool ok = xa_load32_acq(&seg->hdr->state) == SHM_SEG_READY &&
              xa_load32_relaxed(&seg->hdr->creator_pid) == pid;
    pk_close(seg);
    return ok;
}

bool pk_slot_waiting(const shm_ring_t *r, uint32_t slot)
{
    return xa_load32_acq(&r->slots[slot].waiting) != 0;
}

bool pk_any_slot_waiting(const shm_ring_t *r)
{
    for (uint32_t i = 0; i < r->max_readers; i++)
        if (pk_slot_waiting(r, i))
            return true;
    return false;
}
