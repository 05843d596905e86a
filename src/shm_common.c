/*
 * shm_common.c - error texts, the thread's last error, version.
 */
#include "shm_common.h"

#include <stdio.h>
#include <string.h>

const char *shm_strerror(shm_error_t err)
{
    switch (err) {
#define SHM_ERROR_TEXT_(name, value, text) \
    case name:                             \
        return text;
        SHM_ERROR_MAP(SHM_ERROR_TEXT_)
#undef SHM_ERROR_TEXT_
    default:
        return "unknown error";
    }
}

/* initial-exec: one instruction to reach it, even from the shared library
 * (busy-polling receives return SHM_ERROR_EMPTY millions of times a second) */
#if defined(__GNUC__) && defined(__ELF__)
__attribute__((tls_model("initial-exec")))
#endif
static PLAT_THREAD_LOCAL shm_error_t last_error = SHM_SUCCESS;

shm_error_t shm_last_error(void) { return last_error; }

shm_error_t xshm_set_error(shm_error_t err)
{
    last_error = err;
    return err;
}

uint32_t shm_version(void) { return SHM_VERSION_NUMBER; }

/* ---- locks ---------------------------------------------------------------------- */

void xshm_spin_lock(uint32_t *lock)
{
    for (unsigned spins = 0; xa_xchg32(lock, 1) != 0;) {
        while (xa_load32_relaxed(lock) != 0) {
            if (++spins < 256)
                xa_pause();
            else
                xshm_plat_sleep_ms(0); /* the holder may be preempted: let it run */
        }
    }
}

/* Called with l->spin held: end the owner's fast path. */
static void revoke(shm_block_t *l)
{
    if (xa_load32_relaxed(&l->revoked))
        return;
    xa_store32_relaxed(&l->revoked, 1);
    if (!xshm_plat_local_fence())
        xa_fence_seq_cst(); /* unreachable in practice: bias needs the fence */
    for (unsigned spins = 0; xa_load32_acq(&l->busy) != 0;)
        if (++spins > 256)
            xshm_plat_sleep_ms(0);
}

bool xshm_block_lock_slow(shm_block_t *l)
{
    uint64_t self = xshm_plat_thread_self();
    xshm_spin_lock(&l->spin);
    uint64_t owner = xa_load64_relaxed(&l->owner);
    if (owner == 0 && !xa_load32_relaxed(&l->revoked)) {
        /* First taker: bias towards it if fences allow. */
        if (xshm_plat_local_fence_register())
            xa_store64_rel(&l->owner, self);
        else
            xa_store32_relaxed(&l->revoked, 1);
    } else if (owner != self) {
        revoke(l);
    }
    return false;
}

void xshm_block_drain(shm_block_t *l)
{
    xshm_spin_lock(&l->spin);
    revoke(l);
    xshm_spin_unlock(&l->spin);
}

/* ---- names ------------------------------------------------------------------------ */

shm_error_t xshm_channel_os_name(const char *name, char *out, size_t n, const char **bare)
{
    if (!name || !out)
        return SHM_ERROR_INVALID_PARAM;
    const char *prefix = "Local\\";
    if (strncmp(name, "Local\\", 6) == 0) {
        name += 6;
    } else if (strncmp(name, "Global\\", 7) == 0) {
        prefix = "Global\\";
        name += 7;
    }
    size_t len = strlen(name);
    if (len < 1 || len > SHM_MAX_NAME_LENGTH)
        return SHM_ERROR_INVALID_PARAM;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        if (!ok)
            return SHM_ERROR_INVALID_PARAM;
    }
#ifndef _WIN32
    prefix = ""; /* one namespace: both prefixes mean the same */
#endif
    int w = snprintf(out, n, "%sxshm.%s", prefix, name);
    if (w <= 0 || (size_t)w >= n)
        return SHM_ERROR_INVALID_PARAM;
    if (bare)
        *bare = name;
    return SHM_SUCCESS;
}
