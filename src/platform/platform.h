/*
 * platform.h - the only door to the operating system.
 *
 * Every function a port must provide, each with its contract. The ports are
 * win32.c with win32_security.c (Windows, MSVC and MinGW) and posix.c
 * (Linux); CMake compiles one, and os_error.c for both. Functions that can
 * fail return an shm_error_t (0 on success) and record the failing OS call
 * and its code for xshm_plat_last_os_error().
 */
#ifndef XSHM_PLATFORM_H
#define XSHM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm_ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Thread-local storage class, for every compiler the project builds with. */
#if defined(_MSC_VER) && !defined(__clang__)
#define PLAT_THREAD_LOCAL __declspec(thread)
#else
#define PLAT_THREAD_LOCAL _Thread_local
#endif

/* ---- shared memory ------------------------------------------------------ */

/* Longest OS object name the layers above build (prefix + name + suffix). */
#define PLAT_NAME_MAX 128

typedef struct plat_shm {
    void *base;    /* first byte of the mapping, NULL when closed */
    size_t size;   /* bytes mapped (for an opened segment: the whole object) */
    intptr_t fd;   /* POSIX: file descriptor; Windows: mapping HANDLE */
    char name[PLAT_NAME_MAX]; /* OS object name as given */
} plat_shm_t;

/*
 * Create the named segment of `size` bytes, zero-filled, readable and
 * writable by the creating user only (Linux: mode 0600; Windows: a DACL for
 * the user, SYSTEM and Administrators, and the user as owner), and map it.
 * Always a new object: an existing one is never reused. `name` is an OS
 * object name built by the caller from a validated channel name (on Windows
 * it may start with "Local\" or "Global\"). On Windows the user is the one
 * of the thread's token while the thread impersonates, else the process's.
 * Errors: SHM_ERROR_EXISTS if an object with that name exists,
 * SHM_ERROR_ACCESS, SHM_ERROR_MEMORY (no room / mapping failed),
 * SHM_ERROR_INVALID_PARAM (name too long or size 0), SHM_ERROR_SYSTEM.
 */
shm_error_t xshm_plat_shm_create(plat_shm_t *shm, const char *name, size_t size);

/*
 * The security of the objects that xshm_plat_shm_create, xshm_plat_lock_take and
 * xshm_plat_wake_open (create) make on the calling thread from now on, until the
 * next call: NULL is the default above. Windows: an SDDL string whose DACL
 * (and SACL, if any) replace the default one; the owner stays the user.
 * Errors (the previous setting stays): SHM_ERROR_INVALID_PARAM (does not
 * parse, no DACL or a NULL DACL; POSIX: any non-NULL sddl, segments are
 * owner-only), SHM_ERROR_MEMORY. xshm_plat_create_security(NULL) never fails.
 */
shm_error_t xshm_plat_create_security(const char *sddl);

/*
 * Open and map an existing named segment, read-write (no more rights than
 * that), in full; shm->size is the size of the object as the OS reports it
 * (Windows: the mapped region, rounded to pages). An object its creator has
 * not sized yet counts as not found.
 * Only an object as xshm_plat_shm_create makes them is opened: Linux: a regular
 * file of the caller's effective user with mode exactly 0600; Windows: a
 * section owned by the caller's user (or by SYSTEM or Administrators, who
 * can reach into any process anyway). Anything else is SHM_ERROR_ACCESS,
 * checked before the size.
 * Errors: SHM_ERROR_NOT_FOUND, SHM_ERROR_ACCESS, SHM_ERROR_MEMORY,
 * SHM_ERROR_INVALID_PARAM, SHM_ERROR_SYSTEM.
 */
shm_error_t xshm_plat_shm_open(plat_shm_t *shm, const char *name);

/*
 * Stop keeping the name of the opened segment alive; the mapping stays
 * valid until xshm_plat_shm_close. Windows: closes the object's handle (a name
 * lasts as long as a handle to it), so that once the creator's handle is
 * gone a new object can take the name while the old one is still mapped
 * here, as on Linux after xshm_plat_shm_unlink. Elsewhere: nothing.
 */
void xshm_plat_shm_drop_name(plat_shm_t *shm);

/* Unmap and close. Safe on a zeroed or already closed plat_shm_t. */
void xshm_plat_shm_close(plat_shm_t *shm);

/*
 * Remove the name so that a later xshm_plat_shm_create can succeed; mappings
 * stay valid until closed. Windows: names vanish with their last handle, so
 * this does nothing and returns SHM_SUCCESS. Returns SHM_ERROR_NOT_FOUND if
 * there was no such name.
 */
shm_error_t xshm_plat_shm_unlink(const char *name);

/* ---- name locks ------------------------------------------------------------
 *
 * A lock on a name that the OS releases when its holder's process ends,
 * however it ends. A server holds one on its channel for its lifetime, so
 * that "a live server owns this name" and "exactly one of several creators
 * wins" never depend on what a dead process left in shared memory.
 * Linux: an flock() on the file "<name>@lock" beside the segments (mode
 * 0600), removed by its holder when it lets go. Windows: a named event
 * "<name>@lock" that only the holder has open ('@' never occurs in a
 * channel name, so no other object has that name). An existing lock object
 * of another user (or, on Linux, of another mode) is SHM_ERROR_ACCESS.
 */

#define PLAT_HAS_LOCK 1

typedef struct plat_lock {
    intptr_t handle; /* POSIX: file descriptor + 1 (0: not held); Windows: HANDLE */
    char name[PLAT_NAME_MAX];
} plat_lock_t;

/*
 * Take the lock of `name` (an OS object name, as for xshm_plat_shm_create); never
 * blocks. Errors: SHM_ERROR_EXISTS (another process, or another plat_lock_t
 * of this process, holds it), SHM_ERROR_ACCESS (the lock object is another
 * user's, or on Linux not a regular file of mode 0600),
 * SHM_ERROR_INVALID_PARAM (name too long), SHM_ERROR_SYSTEM.
 */
shm_error_t xshm_plat_lock_take(plat_lock_t *l, const char *name);

/* Let go of the lock (Linux: remove its file first). Safe on a zeroed or
 * released plat_lock_t. */
void xshm_plat_lock_release(plat_lock_t *l);

/* ---- wake-up objects ------------------------------------------------------
 *
 * A wake-up object pairs a 32-bit word in shared memory with an OS object
 * that a sleeping reader waits on. Linux: a process-shared futex on the word
 * itself (the name is unused). Windows: a named auto-reset event.
 */

typedef struct plat_wake {
    intptr_t handle; /* Windows: event HANDLE; POSIX: unused (0) */
} plat_wake_t;

/*
 * Create (create = true) or open the wake-up object `name` (an OS object
 * name, see xshm_plat_shm_create; same security rules). Creating is exclusive:
 * an existing object of that name (Windows: an event someone made first, of
 * whatever kind) is SHM_ERROR_EXISTS, or SHM_ERROR_ACCESS when it is not
 * the user's; opening checks the owner as xshm_plat_shm_open does.
 * Errors: SHM_ERROR_NOT_FOUND (open), SHM_ERROR_EXISTS (create),
 * SHM_ERROR_ACCESS, SHM_ERROR_SYSTEM.
 */
shm_error_t xshm_plat_wake_open(plat_wake_t *w, const char *name, bool create);

/* Close. Safe on a zeroed or closed plat_wake_t. */
void xshm_plat_wake_close(plat_wake_t *w);

/*
 * Sleep while *word == expected, for at most timeout_ms milliseconds
 * (PLAT_WAIT_FOREVER: no limit). Returns SHM_SUCCESS when woken, when *word
 * differs from expected on entry, or spuriously; SHM_ERROR_TIMEOUT when the
 * time ran out. The caller re-checks its condition in every case.
 */
#define PLAT_WAIT_FOREVER UINT32_MAX
shm_error_t xshm_plat_wake_wait(plat_wake_t *w, uint32_t *word, uint32_t expected,
                           uint32_t timeout_ms);

/*
 * Wake the sleeper(s) of this object. The caller has already changed *word
 * (with a full fence before reading the sleeper's "waiting" mark).
 */
void xshm_plat_wake_signal(plat_wake_t *w, uint32_t *word);

/* ---- threads and locks --------------------------------------------------- */

typedef struct plat_thread {
    intptr_t handle; /* Windows: thread HANDLE; POSIX: pthread_t */
    uint64_t id;     /* OS thread id, for xshm_plat_thread_is_current */
    intptr_t done;   /* Windows: event set once fn has returned; POSIX: 0 */
} plat_thread_t;

typedef void (*plat_thread_fn)(void *arg);

/*
 * Start a thread running fn(arg). Errors: SHM_ERROR_SYSTEM.
 * Windows: the thread holds a reference to the module this code is in
 * (xshm.dll, or the module the static library is linked into) until it
 * ends, so that a FreeLibrary while it runs cannot unmap the code under it;
 * it lets go as it exits (FreeLibraryAndExitThread).
 */
shm_error_t xshm_plat_thread_start(plat_thread_t *t, plat_thread_fn fn, void *arg);

/*
 * Wait for fn to return and release the thread. Windows: returns once fn
 * has returned (the thread then runs only this port's code, in the module it
 * holds, before it exits), or once the thread is gone (killed by
 * ExitProcess), so a join under the loader lock (from DllMain) does not wait
 * for the thread's exit, which needs that lock.
 */
void xshm_plat_thread_join(plat_thread_t *t);

/* Release a thread that will finish on its own (no join). */
void xshm_plat_thread_detach(plat_thread_t *t);

/* True when called from thread t. */
bool xshm_plat_thread_is_current(const plat_thread_t *t);

/* A non-zero number identifying the calling thread while it runs. */
uint64_t xshm_plat_thread_self(void);

/* A non-recursive in-process lock. Storage large enough for
 * pthread_mutex_t (POSIX) and CRITICAL_SECTION (Windows). */
typedef struct plat_mutex {
    union {
        uint64_t align_;
        unsigned char bytes[64];
    } u;
} plat_mutex_t;

void xshm_plat_mutex_init(plat_mutex_t *m);
void xshm_plat_mutex_destroy(plat_mutex_t *m);
void xshm_plat_mutex_lock(plat_mutex_t *m);
void xshm_plat_mutex_unlock(plat_mutex_t *m);

/* ---- asymmetric fences -------------------------------------------------------
 *
 * A writer that publishes a message and then checks whether a reader sleeps
 * needs a full fence between the two (store-load order). With these, the
 * writer's process registers once and skips that fence; a reader about to
 * sleep calls xshm_plat_remote_fence(), which acts as a full fence on every thread
 * of every registered process (Linux: membarrier GLOBAL_EXPEDITED).
 */

/* Register the calling process; true when remote fences will cover it.
 * False where the OS has no such fence (Windows) or refuses it. Idempotent. */
bool xshm_plat_remote_fence_register(void);

/* A full fence on this thread and on every thread of every registered
 * process. False if the call failed (then registered writers are not
 * covered; callers fall back to bounded waits). */
bool xshm_plat_remote_fence(void);

/*
 * The same for the threads of this process only (Linux: membarrier
 * PRIVATE_EXPEDITED). Register once; false where unavailable, and then the
 * callers never skip their fences.
 */
bool xshm_plat_local_fence_register(void);
bool xshm_plat_local_fence(void);

/* ---- processes and time ---------------------------------------------------- */

/* A process identity that a reused process id cannot impersonate. */
typedef struct plat_proc_id {
    uint32_t pid;
    uint64_t start_time; /* OS-specific units; 0 when unknown */
} plat_proc_id_t;

/* The calling process. */
void xshm_plat_proc_self(plat_proc_id_t *id);

/*
 * True when the process `id` is running: same pid and, when start_time is not
 * 0, the same start time. A process that has exited but has not been reaped
 * (a zombie) counts as gone.
 */
bool xshm_plat_proc_alive(const plat_proc_id_t *id);

#ifdef _WIN32
/*
 * Tests only: the OpenProcess that xshm_plat_proc_alive calls (arguments and
 * result as OpenProcess's: DWORD access, BOOL inherit, DWORD pid, HANDLE),
 * so that a test can play a process that denies some rights. NULL restores
 * the real one. Returns the previous one (NULL: the real one).
 */
typedef void *(*plat_win_open_process_fn)(uint32_t access, int inherit, uint32_t pid);
plat_win_open_process_fn xshm_plat_win_test_open_process(plat_win_open_process_fn fn);
#endif

/*
 * True once the process has begun to exit and its other threads may have
 * been killed where they stood: Windows: DLLs are being detached by
 * ExitProcess (RtlDllShutdownInProgress), e.g. an endpoint destroyed from
 * DllMain or a DLL's atexit handler then. Nothing should wait for another
 * thread of the process then. POSIX: always false (exit() runs its handlers
 * with the other threads still running).
 */
bool xshm_plat_process_exiting(void);

/* Monotonic time in nanoseconds, from an arbitrary origin. */
uint64_t xshm_plat_now_ns(void);

/* Sleep for ms milliseconds (0: give up the time slice). */
void xshm_plat_sleep_ms(uint32_t ms);

/* The last failing OS call of this thread, for diagnostics: its function name
 * and its error code (errno or GetLastError()); "" and 0 if none. */
const char *xshm_plat_last_os_error(int *code);

/* The port's one table from an OS error code (errno on POSIX, a
 * GetLastError() value on Windows) to the shm_error_t that the functions
 * above return when an OS call fails with it: 0 -> SHM_SUCCESS; "exists",
 * "not found", "access denied", "no memory or room" and "bad name or
 * argument" -> SHM_ERROR_EXISTS, _NOT_FOUND, _ACCESS, _MEMORY,
 * _INVALID_PARAM; anything else -> SHM_ERROR_SYSTEM. */
shm_error_t xshm_plat_map_os_error(int code);

/* Record that OS call fn failed with code (errno or a GetLastError() value)
 * as this thread's last failing call; returns xshm_plat_map_os_error(code).
 * Common to the ports (os_error.c). */
shm_error_t xshm_plat_os_fail(const char *fn, int code);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_PLATFORM_H */
