/*
 * shm_names.h - the rule for channel names, and the OS names of a channel's
 * objects: its segment (and name lock) and its wake-up objects.
 */
#ifndef XSHM_NAMES_H
#define XSHM_NAMES_H

#include <stddef.h>
#include <stdint.h>

#include "shm_ipc.h"

/*
 * The OS object name of channel `name` ("[Local\|Global\]bare", bare being
 * 1..SHM_MAX_NAME_LENGTH characters of [A-Za-z0-9._-]): "<prefix>xshm.bare"
 * on Windows, where the prefix picks the namespace (Local\ by default), and
 * "xshm.bare" elsewhere. *bare (optional) points at the bare part of name.
 * Errors: SHM_ERROR_INVALID_PARAM.
 */
shm_error_t xshm_channel_os_name(const char *name, char *out, size_t n, const char **bare);

/* The name of wake-up object `what``index` of channel `base` (an OS name
 * from xshm_channel_os_name) in generation gen. Errors:
 * SHM_ERROR_INVALID_PARAM (out too small). */
shm_error_t xshm_wake_name(char *out, size_t n, const char *base, uint64_t gen,
                           const char *what, uint32_t index);

#endif
