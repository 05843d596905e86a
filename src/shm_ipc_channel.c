/*
 * shm_ipc_channel.c - creating a channel's segment for a server: under the
 * name lock, replacing what a server that is gone left under the name, and
 * never laying a new channel out in memory that a client of the old one
 * still writes to.
 */
#include "shm_ipc_internal.h"

#include <stdlib.h>

/*
 * What is at seg_name while we hold the channel's name lock: left by a
 * server that is gone (crashed, perhaps while creating it), since a live one
 * would hold the lock. Only a channel of another layout version whose
 * creator still runs is not ours to take (its servers do not take the
 * lock). Returns SHM_SUCCESS when it may be replaced.
 */
static shm_error_t judge_stale(const plat_shm_t *shm)
{
    const xshm_seg_header_t *h = (const xshm_seg_header_t *)shm->base;
    if (shm->size < sizeof(*h) || xa_load32_acq(&h->magic) != SHM_SEG_MAGIC ||
        xa_load32_relaxed(&h->layout_version) == SHM_LAYOUT_VERSION)
        return SHM_SUCCESS;
    plat_proc_id_t id = {xa_load32_relaxed(&h->creator_pid), xa_load64_relaxed(&h->creator_start)};
    return xshm_plat_proc_alive(&id) ? SHM_ERROR_EXISTS : SHM_SUCCESS;
}

/* xshm_channel_create tries this often while the name stays taken. */
#define CREATE_TRIES 50

/*
 * True when a client is attached to the channel laid out in `shm` (an
 * ACTIVE or CLAIMING slot of ring 0 whose process runs): it may still write
 * into that memory. Memory that is not a published channel of this layout
 * has no client; nor can anyone join a channel whose server is gone.
 */
static bool old_clients_live(const plat_shm_t *shm)
{
    xshm_segment_t *seg = (xshm_segment_t *)calloc(1, sizeof(*seg));
    if (!seg)
        return true; /* cannot tell: do not reuse */
    bool live = false;
    if (xshm_segment_attach(seg, shm->base, shm->size) == SHM_SUCCESS) {
        shm_ring_t *r = &seg->rings[0];
        for (uint32_t i = 0; i < r->max_readers && !live; i++) {
            uint64_t word = xshm_ring_slot_claim(r, i);
            uint32_t st = SHM_CLAIM_STATE(word);
            if (st != SHM_SLOT_ACTIVE && st != SHM_SLOT_CLAIMING)
                continue;
            plat_proc_id_t id = {SHM_CLAIM_PID(word), 0};
            if (st == SHM_SLOT_ACTIVE)
                id.start_time = xa_load64_relaxed(&r->slots[i].start_time);
            live = xshm_plat_proc_alive(&id);
        }
    }
    free(seg);
    return live;
}

/*
 * Create the segment under the name lock (taken by the caller): exactly
 * one of several servers starting at once gets the lock. Whatever
 * is under the name was left by a server that is gone (a live one holds the
 * lock): its name is removed and the channel created afresh, as a new
 * object, where no client of the old channel (still mapping the old one)
 * can write. An object that is not ours (xshm_plat_shm_open: another user's, or
 * on Linux not mode 0600) is never used: SHM_ERROR_ACCESS. Reused in place
 * only when its name cannot be removed and no client is attached to it.
 */
shm_error_t xshm_channel_create(xshm_segment_t *seg, const char *seg_name,
                                const xshm_seg_params_t *p)
{
    for (int attempt = 0; attempt < CREATE_TRIES; attempt++) {
        shm_error_t e = xshm_segment_create(seg, seg_name, p);
        if (e != SHM_ERROR_EXISTS)
            return e;
        plat_shm_t shm;
        e = xshm_plat_shm_open(&shm, seg_name);
        if (e == SHM_SUCCESS)
            e = judge_stale(&shm);
        else if (e == SHM_ERROR_NOT_FOUND)
            e = SHM_SUCCESS; /* gone meanwhile, or never sized: replace it */
        if (e != SHM_SUCCESS) {
            xshm_plat_shm_close(&shm);
            return e == SHM_ERROR_ACCESS ? e : SHM_ERROR_EXISTS;
        }
        if (attempt == 0 || !shm.base) {
            /* Remove the name and create afresh. Clients of the dead server
             * keep their mapping and see it gone. */
            xshm_plat_shm_close(&shm);
            xshm_plat_shm_unlink(seg_name);
            continue;
        }
        /* The name outlived its removal: Windows, where a name lasts as
         * long as a handle to it, and some process of ours keeps one (the
         * clients of this library drop theirs once mapped; one of an older
         * version, or a process in the middle of opening it, may not). Lay
         * the new channel out in place only when no client is attached to
         * the old one, since an attached client could write into the new
         * channel before it notices; otherwise wait for the name to go. */
        if (old_clients_live(&shm)) {
            xshm_plat_shm_close(&shm);
            xshm_plat_sleep_ms(2);
            continue;
        }
        e = xshm_segment_format(seg, shm.base, shm.size, p);
        if (e != SHM_SUCCESS) {
            xshm_plat_shm_close(&shm);
            return SHM_ERROR_EXISTS;
        }
        seg->shm = shm;
        return SHM_SUCCESS;
    }
    return SHM_ERROR_EXISTS;
}
