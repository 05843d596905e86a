/*
 * shm_names.c - channel names: the check, the OS name of the channel, and
 * the names of its wake-up objects.
 */
#include "shm_names.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

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

/* Wake-up object names carry the generation, so that objects of an older
 * server with the same name are never confused with ours. '@' cannot occur
 * in a channel name: no other channel's objects can have these names. */
shm_error_t xshm_wake_name(char *out, size_t n, const char *base, uint64_t gen,
                           const char *what, uint32_t index)
{
    int w = snprintf(out, n, "%s@%08x%08x.%s%u", base, (unsigned)(gen >> 32), (unsigned)gen,
                     what, (unsigned)index);
    return (w > 0 && (size_t)w < n) ? SHM_SUCCESS : SHM_ERROR_INVALID_PARAM;
}
