/*
 * xs_thread.c - threads (see xs_thread.h).
 */
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <process.h>
#include <windows.h>
#endif

#include "xs_thread.h"

#ifdef _WIN32

static unsigned __stdcall thread_main(void *p)
{
    xs_thread_t *t = (xs_thread_t *)p;
    t->fn(t->arg);
    return 0;
}

bool xs_thread_start(xs_thread_t *t, void (*fn)(void *), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    t->handle = (void *)_beginthreadex(NULL, 0, thread_main, t, 0, NULL);
    return t->handle != NULL;
}

void xs_thread_join(xs_thread_t *t)
{
    WaitForSingleObject((HANDLE)t->handle, INFINITE);
    CloseHandle((HANDLE)t->handle);
    t->handle = NULL;
}

void xs_flag_raise(xs_flag_t *f) { InterlockedExchange(f, 1); }

bool xs_flag_is_up(xs_flag_t *f) { return InterlockedCompareExchange(f, 0, 0) != 0; }

#else

static void *thread_main(void *p)
{
    xs_thread_t *t = (xs_thread_t *)p;
    t->fn(t->arg);
    return NULL;
}

bool xs_thread_start(xs_thread_t *t, void (*fn)(void *), void *arg)
{
    t->fn = fn;
    t->arg = arg;
    return pthread_create(&t->handle, NULL, thread_main, t) == 0;
}

void xs_thread_join(xs_thread_t *t) { pthread_join(t->handle, NULL); }

void xs_flag_raise(xs_flag_t *f) { __atomic_store_n(f, 1, __ATOMIC_RELEASE); }

bool xs_flag_is_up(xs_flag_t *f) { return __atomic_load_n(f, __ATOMIC_ACQUIRE) != 0; }

#endif
