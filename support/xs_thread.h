/*
 * xs_thread.h - threads for programs (see xsupport.h).
 */
#ifndef XSHM_XS_THREAD_H
#define XSHM_XS_THREAD_H

#include <stdbool.h>

#ifndef _WIN32
#include <pthread.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A thread running fn(arg). The struct must stay in place until joined. */
typedef struct xs_thread {
    void (*fn)(void *);
    void *arg;
#ifdef _WIN32
    void *handle; /* HANDLE */
#else
    pthread_t handle;
#endif
} xs_thread_t;

/* Start fn(arg) in a new thread; false when the OS refuses. */
bool xs_thread_start(xs_thread_t *t, void (*fn)(void *), void *arg);

/* Wait for the thread to return, and release it. */
void xs_thread_join(xs_thread_t *t);

/* A flag one thread raises (release) and another polls (acquire).
 * Zero-initialise it: down. */
typedef volatile long xs_flag_t;
void xs_flag_raise(xs_flag_t *f);
bool xs_flag_is_up(xs_flag_t *f);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_XS_THREAD_H */
