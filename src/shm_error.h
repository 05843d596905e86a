/*
 * shm_error.h - the thread's last error (shm_last_error), as the layers
 * above the platform set it. shm_strerror() and shm_version() are API
 * (shm_ipc.h); they live beside it in shm_error.c.
 */
#ifndef XSHM_ERROR_H
#define XSHM_ERROR_H

#include "shm_ipc.h"

/* Record err as this thread's last error (see shm_last_error) and return it. */
shm_error_t xshm_set_error(shm_error_t err);

#endif
