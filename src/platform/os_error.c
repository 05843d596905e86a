/*
 * os_error.c - the last failed OS call of this thread, for both ports.
 *
 * A port records every OS call that fails (xshm_plat_os_fail) and gets the
 * shm_error_t its own table maps the code to (xshm_plat_map_os_error);
 * xshm_plat_last_os_error tells the caller which call it was and its code.
 */
#include "platform.h"

#if defined(_MSC_VER) && !defined(__clang__)
#define OS_TLS __declspec(thread)
#else
#define OS_TLS _Thread_local
#endif

static OS_TLS const char *g_err_fn = "";
static OS_TLS int g_err_code = 0;

shm_error_t xshm_plat_os_fail(const char *fn, int code)
{
    g_err_fn = fn;
    g_err_code = code;
    return xshm_plat_map_os_error(code);
}

const char *xshm_plat_last_os_error(int *code)
{
    if (code)
        *code = g_err_code;
    return g_err_fn;
}
