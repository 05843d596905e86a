/*
 * shm_error.c - error texts, the thread's last error, version.
 */
#include "shm_error.h"

#include "platform.h"

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
