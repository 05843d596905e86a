/*
 * win32.c - the Windows port of platform.h (MSVC and MinGW-w64, x86 and x64).
 *
 * Shared memory: named file mappings backed by the paging file.
 * Wake-up: named auto-reset events. Both are created with an explicit DACL
 * (the user, SYSTEM, Administrators; or the DACL of the SDDL given to
 * xshm_plat_create_security) and the user as owner, always anew (an
 * existing object of the name is an error, never used), and opened only
 * when their owner is the user (or SYSTEM or Administrators), with the
 * rights the library needs. Threads: CreateThread, each holding a reference
 * to our module while it runs. Locks:
 * CRITICAL_SECTION. Process identity: pid + creation time.
 * Clock: QueryPerformanceCounter. Object names are ASCII: the A functions.
 * The names and the security of the objects: win32_security.c.
 */
#include "win32_port.h" /* first: it sets the Windows version the port needs */
#include "atomics.h"

#include <process.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(sizeof(CRITICAL_SECTION) <= sizeof(((plat_mutex_t *)0)->u.bytes),
               "CRITICAL_SECTION does not fit in plat_mutex_t");
_Static_assert(_Alignof(CRITICAL_SECTION) <= _Alignof(plat_mutex_t),
               "plat_mutex_t is not aligned enough for CRITICAL_SECTION");
_Static_assert(sizeof(HANDLE) <= sizeof(intptr_t), "HANDLE does not fit in intptr_t");

/* ---- OS errors (the bookkeeping: os_error.c) ------------------------------ */

/* The one Win32 error -> shm_error_t table of this port. */
static shm_error_t map_win32_error(DWORD e)
{
    switch (e) {
    case ERROR_SUCCESS:
        return SHM_SUCCESS;
    case ERROR_FILE_NOT_FOUND:
        return SHM_ERROR_NOT_FOUND;
    case ERROR_ACCESS_DENIED:
        return SHM_ERROR_ACCESS;
    case ERROR_ALREADY_EXISTS:
        return SHM_ERROR_EXISTS;
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_OUTOFMEMORY:
        return SHM_ERROR_MEMORY;
    case ERROR_INVALID_NAME:
    case ERROR_INVALID_PARAMETER:
    case ERROR_BAD_PATHNAME:
        return SHM_ERROR_INVALID_PARAM;
    default:
        return SHM_ERROR_SYSTEM;
    }
}

shm_error_t xshm_plat_map_os_error(int code) { return map_win32_error((DWORD)code); }



/* ---- shared memory --------------------------------------------------------- */

static void shm_reset(plat_shm_t *shm)
{
    shm->base = NULL;
    shm->size = 0;
    shm->fd = 0;
    shm->name[0] = '\0';
}

static void shm_fill(plat_shm_t *shm, void *base, size_t size, HANDLE h, const char *name)
{
    shm->base = base;
    shm->size = size;
    shm->fd = (intptr_t)h;
    memcpy(shm->name, name, strlen(name) + 1); /* length checked by xshm_win_check_name */
}

/* The start of create and open: a valid handle to fill, reset, and a valid name. */
static shm_error_t shm_prepare(plat_shm_t *shm, const char *name)
{
    if (shm == NULL)
        return SHM_ERROR_INVALID_PARAM;
    shm_reset(shm);
    return xshm_win_check_name(name);
}

shm_error_t xshm_plat_shm_create(plat_shm_t *shm, const char *name, size_t size)
{
    object_security_t sec;
    shm_error_t err;

    if ((err = shm_prepare(shm, name)) != SHM_SUCCESS)
        return err;
    if (size == 0)
        return SHM_ERROR_INVALID_PARAM;
    if ((err = xshm_win_security_init(&sec)) != SHM_SUCCESS)
        return err;

    uint64_t size64 = (uint64_t)size;
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, &sec.sa, PAGE_READWRITE,
                                  (DWORD)(size64 >> 32), (DWORD)(size64 & 0xFFFFFFFFu), name);
    DWORD e = GetLastError(); /* read before anything else can change it */
    xshm_win_security_free(&sec);
    if (h == NULL)
        return os_fail("CreateFileMappingA", e);
    if (e == ERROR_ALREADY_EXISTS) /* handed the existing object, our DACL ignored */
        return xshm_win_existing_object(h, "CreateFileMappingA");
    void *base = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size);
    if (base == NULL) {
        /* Our own section, just made at this size: a view of it that cannot
         * be mapped means the address space cannot hold it (a 32-bit
         * process; Wine says ERROR_INVALID_PARAMETER then). */
        (void)os_fail_last("MapViewOfFile");
        CloseHandle(h);
        return SHM_ERROR_MEMORY;
    }
    shm_fill(shm, base, size, h, name);
    return SHM_SUCCESS;
}

/*
 * The size of the view at `base` (all its regions), which must be committed
 * throughout. A section made with SEC_RESERVE (not by xshm_plat_shm_create) has
 * pages that are only reserved until its maker commits them: the first read
 * of one is an access violation. Such a view is SHM_ERROR_ACCESS (not an
 * object xshm_plat_shm_create makes), found before anything reads it.
 */
static shm_error_t view_size_committed(void *base, size_t *size)
{
    MEMORY_BASIC_INFORMATION mbi;
    char *p = (char *)base;
    size_t total = 0;
    for (;;) {
        if (VirtualQuery(p, &mbi, sizeof mbi) == 0) {
            if (total != 0)
                break; /* past the end of the address space */
            return os_fail_last("VirtualQuery");
        }
        if (mbi.AllocationBase != base || mbi.State == MEM_FREE)
            break; /* past the end of the view */
        if (mbi.State != MEM_COMMIT)
            return os_fail("VirtualQuery (reserved pages)", ERROR_ACCESS_DENIED);
        total += (size_t)mbi.RegionSize;
        p += mbi.RegionSize;
    }
    *size = total;
    return SHM_SUCCESS;
}

shm_error_t xshm_plat_shm_open(plat_shm_t *shm, const char *name)
{
    shm_error_t err;

    if ((err = shm_prepare(shm, name)) != SHM_SUCCESS)
        return err;

    /* The rights to map it read-write, and READ_CONTROL to see its owner. */
    HANDLE h = OpenFileMappingA(FILE_MAP_READ | FILE_MAP_WRITE | READ_CONTROL, FALSE, name);
    if (h == NULL)
        return os_fail_last("OpenFileMappingA");
    if ((err = xshm_win_check_owner_self(h, true)) != SHM_SUCCESS) {
        CloseHandle(h);
        return err;
    }
    void *base = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0); /* 0: all of it */
    if (base == NULL) {
        err = os_fail_last("MapViewOfFile");
        CloseHandle(h);
        return err;
    }
    size_t size = 0;
    if ((err = view_size_committed(base, &size)) != SHM_SUCCESS) {
        UnmapViewOfFile(base);
        CloseHandle(h);
        return err;
    }
    shm_fill(shm, base, size, h, name);
    return SHM_SUCCESS;
}

void xshm_plat_shm_drop_name(plat_shm_t *shm)
{
    /* The view keeps the memory; the name lives as long as a handle does. */
    if (shm != NULL && shm->base != NULL && shm->fd != 0) {
        CloseHandle((HANDLE)shm->fd); /* keep no handle */
        shm->fd = 0;
    }
}

void xshm_plat_shm_close(plat_shm_t *shm)
{
    if (shm == NULL)
        return;
    if (shm->base != NULL)
        UnmapViewOfFile(shm->base);
    if (shm->fd != 0)
        CloseHandle((HANDLE)shm->fd);
    shm_reset(shm);
}

shm_error_t xshm_plat_shm_unlink(const char *name)
{
    /* A mapping's name lives as long as its last handle. */
    return xshm_win_check_name(name);
}

/* ---- name locks: an event named "<name>@lock" ------------------------------- */

shm_error_t xshm_plat_lock_take(plat_lock_t *l, const char *name)
{
    char lname[PLAT_NAME_MAX];
    object_security_t sec;
    shm_error_t err;

    if (l == NULL)
        return SHM_ERROR_INVALID_PARAM;
    l->handle = 0;
    l->name[0] = '\0';
    int n = name ? snprintf(lname, sizeof lname, "%s@lock", name) : -1;
    if (n <= 0 || (size_t)n >= sizeof lname)
        return SHM_ERROR_INVALID_PARAM;
    if ((err = xshm_win_check_name(lname)) != SHM_SUCCESS)
        return err;
    if ((err = xshm_win_security_init(&sec)) != SHM_SUCCESS)
        return err;
    /* The object lives exactly as long as a handle to it: only its holder
     * opens it, and the OS closes the handle when the holder ends. */
    HANDLE h = CreateEventA(&sec.sa, TRUE, FALSE, lname);
    DWORD e = GetLastError();
    xshm_win_security_free(&sec);
    if (h == NULL)
        return os_fail("CreateEventA", e);
    if (e == ERROR_ALREADY_EXISTS) /* a live server of ours, or a squatter */
        return xshm_win_existing_object(h, "CreateEventA");
    l->handle = (intptr_t)h;
    memcpy(l->name, lname, (size_t)n + 1);
    return SHM_SUCCESS;
}

void xshm_plat_lock_release(plat_lock_t *l)
{
    if (l == NULL || l->handle == 0)
        return;
    CloseHandle((HANDLE)l->handle);
    l->handle = 0;
    l->name[0] = '\0';
}

/* ---- wake-up objects: named auto-reset events ------------------------------ */

shm_error_t xshm_plat_wake_open(plat_wake_t *w, const char *name, bool create)
{
    shm_error_t err;
    HANDLE h;

    if (w == NULL)
        return SHM_ERROR_INVALID_PARAM;
    w->handle = 0;
    if ((err = xshm_win_check_name(name)) != SHM_SUCCESS)
        return err;
    if (create) {
        object_security_t sec;
        if ((err = xshm_win_security_init(&sec)) != SHM_SUCCESS)
            return err;
        h = CreateEventA(&sec.sa, FALSE, FALSE, name);
        DWORD e = GetLastError();
        xshm_win_security_free(&sec);
        if (h == NULL)
            return os_fail("CreateEventA", e);
        /* The name carries the channel's new generation, so nothing of ours
         * has it: someone made it first. Never use it: a manual-reset event
         * left signalled would make sleepers spin, one that its maker
         * waits on would steal their wake-ups. */
        if (e == ERROR_ALREADY_EXISTS) /* made first by someone else */
            return xshm_win_existing_object(h, "CreateEventA");
    } else {
        h = OpenEventA(EVENT_MODIFY_STATE | SYNCHRONIZE | READ_CONTROL, FALSE, name);
        if (h == NULL)
            return os_fail_last("OpenEventA");
        if ((err = xshm_win_check_owner_self(h, true)) != SHM_SUCCESS) {
            CloseHandle(h);
            return err;
        }
    }
    w->handle = (intptr_t)h;
    return SHM_SUCCESS;
}

void xshm_plat_wake_close(plat_wake_t *w)
{
    if (w == NULL)
        return;
    if (w->handle != 0)
        CloseHandle((HANDLE)w->handle);
    w->handle = 0;
}

shm_error_t xshm_plat_wake_wait(plat_wake_t *w, uint32_t *word, uint32_t expected,
                           uint32_t timeout_ms)
{
    if (w == NULL || w->handle == 0 || word == NULL)
        return SHM_ERROR_INVALID_PARAM;
    /* A signal sent after this check stays in the auto-reset event until we
     * wait, so it is not lost. */
    if (xa_load32_acq(word) != expected)
        return SHM_SUCCESS;

    uint64_t deadline = 0;
    if (timeout_ms != PLAT_WAIT_FOREVER)
        deadline = xshm_plat_now_ns() + (uint64_t)timeout_ms * 1000000u;
    DWORD ms = timeout_ms == PLAT_WAIT_FOREVER ? INFINITE : (DWORD)timeout_ms;
    for (;;) {
        DWORD r = WaitForSingleObject((HANDLE)w->handle, ms);
        if (r == WAIT_OBJECT_0)
            return SHM_SUCCESS;
        if (r != WAIT_TIMEOUT)
            return os_fail_last("WaitForSingleObject");
        /* Timer ticks may end a wait slightly early: never report a timeout
         * before timeout_ms has passed. */
        uint64_t now = xshm_plat_now_ns();
        if (now >= deadline)
            return SHM_ERROR_TIMEOUT;
        if (xa_load32_acq(word) != expected)
            return SHM_SUCCESS;
        ms = (DWORD)((deadline - now + 999999u) / 1000000u);
    }
}

void xshm_plat_wake_signal(plat_wake_t *w, uint32_t *word)
{
    (void)word;
    if (w == NULL || w->handle == 0)
        return;
    if (!SetEvent((HANDLE)w->handle))
        (void)os_fail_last("SetEvent");
}

/* ---- threads ----------------------------------------------------------------- */

/* How long xshm_plat_thread_start waits to see its thread run (see there). */
#define THREAD_START_WAIT_MS 2000

typedef struct thread_start {
    plat_thread_fn fn;
    void *arg;
    HMODULE pin;  /* the module of this code, referenced for the thread's life */
    HANDLE done;  /* the thread's own handle to plat_thread_t.done */
    HANDLE running; /* set once the thread runs (xshm_plat_thread_start waits) */
} thread_start_t;

/*
 * After fn returns the thread touches nothing of its caller's: it sets
 * `done` (a join under the loader lock returns then, without waiting for
 * the thread's exit, which needs that lock) and leaves through
 * FreeLibraryAndExitThread, so the module stays mapped until the thread has
 * left its code, whatever FreeLibrary calls were made meanwhile.
 */
static DWORD WINAPI thread_trampoline(void *p)
{
    thread_start_t s = *(thread_start_t *)p;
    free(p);
    SetEvent(s.running); /* the starter closes it */
    s.fn(s.arg);
    SetEvent(s.done);
    CloseHandle(s.done);
    if (s.pin)
        FreeLibraryAndExitThread(s.pin, 0);
    return 0;
}

static void thread_reset(plat_thread_t *t)
{
    t->handle = 0;
    t->id = 0;
    t->done = 0;
}

shm_error_t xshm_plat_thread_start(plat_thread_t *t, plat_thread_fn fn, void *arg)
{
    if (t == NULL || fn == NULL)
        return SHM_ERROR_INVALID_PARAM;
    thread_reset(t);

    thread_start_t *s = (thread_start_t *)malloc(sizeof *s);
    if (s == NULL)
        return os_fail("malloc", ERROR_NOT_ENOUGH_MEMORY);
    s->fn = fn;
    s->arg = arg;
    s->pin = NULL;
    s->done = NULL;
    s->running = NULL;
    const char *failed = NULL; /* the OS call that failed */
    HANDLE h = NULL;
    HANDLE done = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (done == NULL) {
        failed = "CreateEventA";
        goto fail;
    }
    if (!DuplicateHandle(GetCurrentProcess(), done, GetCurrentProcess(), &s->done, 0, FALSE,
                         DUPLICATE_SAME_ACCESS)) {
        s->done = NULL;
        failed = "DuplicateHandle";
        goto fail;
    }
    /* A reference to our module (FROM_ADDRESS: xshm.dll, or whatever the
     * static library is linked into), dropped by the thread as it exits. */
    if (!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
                            (LPCSTR)(uintptr_t)thread_trampoline, &s->pin)) {
        s->pin = NULL;
        failed = "GetModuleHandleExA";
        goto fail;
    }
    HANDLE running = CreateEventA(NULL, TRUE, FALSE, NULL);
    if (running == NULL) {
        failed = "CreateEventA";
        goto fail;
    }
    s->running = running;

    /* Started suspended so that *t is filled in before fn can run (fn may
     * call xshm_plat_thread_is_current(t) at once). */
    DWORD tid = 0;
    h = CreateThread(NULL, 0, thread_trampoline, s, CREATE_SUSPENDED, &tid);
    if (h == NULL) {
        failed = "CreateThread";
        goto fail;
    }
    t->handle = (intptr_t)h;
    t->id = tid;
    t->done = (intptr_t)done;
    if (ResumeThread(h) == (DWORD)-1) {
        /* Cannot happen for a thread we just created; do not leak it. */
        (void)os_fail_last("ResumeThread"); /* before TerminateThread's own error */
        TerminateThread(h, 1);
        goto fail;
    }

    /* A new thread takes the loader lock once (DLL_THREAD_ATTACH) before it
     * runs fn: wait until it has, so that a later join from DllMain (loader
     * lock held) does not wait for a thread that cannot start. A start from
     * DllMain itself (the lock held here) cannot see it run: it gives up
     * after THREAD_START_WAIT_MS rather than hang, and the thread runs once
     * DllMain returns. */
    HANDLE hs[2];
    hs[0] = running;
    hs[1] = h;
    if (WaitForMultipleObjects(2, hs, FALSE, THREAD_START_WAIT_MS) == WAIT_FAILED)
        (void)os_fail_last("WaitForMultipleObjects");
    CloseHandle(running);
    return SHM_SUCCESS;

fail: /* undo what was made, in reverse order; the thread never ran fn */
    if (failed != NULL)
        (void)os_fail_last(failed);
    if (h != NULL)
        CloseHandle(h);
    if (s->running != NULL)
        CloseHandle(s->running);
    if (s->pin != NULL)
        FreeLibrary(s->pin);
    if (s->done != NULL)
        CloseHandle(s->done);
    if (done != NULL)
        CloseHandle(done);
    free(s);
    thread_reset(t);
    return SHM_ERROR_SYSTEM;
}

void xshm_plat_thread_join(plat_thread_t *t)
{
    if (t == NULL || t->handle == 0)
        return;
    /* fn has returned, or the thread is gone (killed by ExitProcess before
     * it could say so). Not the thread's exit alone: under the loader lock
     * (a destroy from DllMain) that would never come. */
    HANDLE ends[2];
    ends[0] = (HANDLE)t->done;
    ends[1] = (HANDLE)t->handle;
    if (WaitForMultipleObjects(2, ends, FALSE, INFINITE) == WAIT_FAILED)
        (void)os_fail_last("WaitForMultipleObjects");
    CloseHandle((HANDLE)t->done);
    CloseHandle((HANDLE)t->handle);
    thread_reset(t);
}

void xshm_plat_thread_detach(plat_thread_t *t)
{
    if (t == NULL || t->handle == 0)
        return;
    CloseHandle((HANDLE)t->done);
    CloseHandle((HANDLE)t->handle);
    thread_reset(t);
}

bool xshm_plat_thread_is_current(const plat_thread_t *t)
{
    return t != NULL && t->handle != 0 && t->id == (uint64_t)GetCurrentThreadId();
}

/* ---- mutex ------------------------------------------------------------------- */

static CRITICAL_SECTION *cs_of(plat_mutex_t *m) { return (CRITICAL_SECTION *)(void *)m->u.bytes; }

void xshm_plat_mutex_init(plat_mutex_t *m) { InitializeCriticalSection(cs_of(m)); }
void xshm_plat_mutex_destroy(plat_mutex_t *m) { DeleteCriticalSection(cs_of(m)); }
void xshm_plat_mutex_lock(plat_mutex_t *m) { EnterCriticalSection(cs_of(m)); }
void xshm_plat_mutex_unlock(plat_mutex_t *m) { LeaveCriticalSection(cs_of(m)); }

/* ---- processes ------------------------------------------------------------- */

static uint64_t filetime_u64(const FILETIME *ft)
{
    return ((uint64_t)ft->dwHighDateTime << 32) | (uint64_t)ft->dwLowDateTime;
}

/* Creation time of an open process (100 ns units since 1601), 0 on failure. */
static uint64_t process_start_time(HANDLE h)
{
    FILETIME created, exited, kernel, user;
    if (!GetProcessTimes(h, &created, &exited, &kernel, &user)) {
        (void)os_fail_last("GetProcessTimes");
        return 0;
    }
    return filetime_u64(&created);
}

void xshm_plat_proc_self(plat_proc_id_t *id)
{
    id->pid = (uint32_t)GetCurrentProcessId();
    id->start_time = process_start_time(GetCurrentProcess());
}

static void *real_open_process(uint32_t access, int inherit, uint32_t pid)
{
    return (void *)OpenProcess((DWORD)access, inherit ? TRUE : FALSE, (DWORD)pid);
}

static plat_win_open_process_fn g_open_process = real_open_process;

plat_win_open_process_fn xshm_plat_win_test_open_process(plat_win_open_process_fn fn)
{
    plat_win_open_process_fn old = g_open_process;
    g_open_process = fn ? fn : real_open_process;
    return old == real_open_process ? NULL : old;
}

bool xshm_plat_proc_alive(const plat_proc_id_t *id)
{
    if (id == NULL || id->pid == 0)
        return false;
    bool can_wait = true;
    HANDLE h = (HANDLE)g_open_process(SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION, FALSE,
                                      id->pid);
    if (h == NULL && GetLastError() == ERROR_ACCESS_DENIED) {
        /* Not ours (another user's process now has the pid, or a service):
         * PROCESS_QUERY_LIMITED_INFORMATION alone is usually still granted,
         * and tells its creation time and whether it has exited. */
        can_wait = false;
        h = (HANDLE)g_open_process(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, id->pid);
    }
    if (h == NULL) {
        DWORD e = GetLastError();
        (void)os_fail("OpenProcess", e);
        if (e == ERROR_INVALID_PARAMETER) /* no such process */
            return false;
        /* ERROR_ACCESS_DENIED even for that (a protected process), or
         * anything else: cannot tell, so do not declare a live peer dead. */
        return true;
    }
    bool alive = true;
    DWORD code = 0;
    if (can_wait ? WaitForSingleObject(h, 0) == WAIT_OBJECT_0
                 : (GetExitCodeProcess(h, &code) && code != STILL_ACTIVE)) {
        alive = false; /* exited; the pid is still held by some handle */
    } else if (id->start_time != 0) {
        uint64_t start = process_start_time(h);
        if (start != 0 && start != id->start_time)
            alive = false; /* the pid was reused */
    }
    CloseHandle(h);
    return alive;
}

/*
 * RtlDllShutdownInProgress (ntdll, since Windows XP; Wine has it too): TRUE
 * once ExitProcess has killed the other threads and is detaching DLLs.
 */
typedef BOOLEAN(WINAPI *shutdown_fn)(void);

bool xshm_plat_process_exiting(void)
{
    static shutdown_fn fn; /* racing first calls store the same value */
    static LONG looked;
    if (!InterlockedCompareExchange(&looked, 0, 0)) {
        HMODULE ntdll = GetModuleHandleA("ntdll.dll");
        if (ntdll)
            fn = (shutdown_fn)(void (*)(void))GetProcAddress(ntdll, "RtlDllShutdownInProgress");
        InterlockedExchange(&looked, 1);
    }
    return fn != NULL && fn() != 0;
}

/* ---- time ------------------------------------------------------------------- */

uint64_t xshm_plat_now_ns(void)
{
    LARGE_INTEGER c, f;
    QueryPerformanceCounter(&c);
    QueryPerformanceFrequency(&f);
    uint64_t count = (uint64_t)c.QuadPart;
    uint64_t freq = (uint64_t)f.QuadPart;
    /* Split so that count * 1e9 cannot overflow. */
    return (count / freq) * 1000000000u + (count % freq) * 1000000000u / freq;
}

void xshm_plat_sleep_ms(uint32_t ms) { Sleep((DWORD)ms); }

/* ---- asymmetric fences ---------------------------------------------------- */

/* FlushProcessWriteBuffers reaches only the threads of the calling process;
 * Windows has no fence that covers another process, so writers keep theirs. */
bool xshm_plat_remote_fence_register(void) { return false; }

bool xshm_plat_remote_fence(void)
{
    MemoryBarrier();
    return false;
}

/* FlushProcessWriteBuffers would serve here, but whether an emulation of it
 * really interrupts the other threads cannot be relied on: callers keep
 * their own fences on Windows. */
bool xshm_plat_local_fence_register(void) { return false; }

bool xshm_plat_local_fence(void)
{
    MemoryBarrier();
    return false;
}

uint64_t xshm_plat_thread_self(void) { return (uint64_t)GetCurrentThreadId() + 1u; }
