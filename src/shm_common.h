/*
 * shm_common.h - the helpers of the layers above the platform, for a
 * program (a test, the CLI) that uses several of them:
 *   shm_error.h   the thread's last error
 *   shm_names.h   channel names and the OS names of a channel's objects
 *   shm_lock.h    the spin lock and the biased lock
 * The library's own files include the one they use.
 */
#ifndef XSHM_COMMON_H
#define XSHM_COMMON_H

#include "shm_error.h"
#include "shm_lock.h"
#include "shm_names.h"

#endif
