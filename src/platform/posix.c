/*
 * posix.c - the Linux port of platform.h.
 *
 * Shared memory: POSIX shm objects (/dev/shm), mode 0600, mapped MAP_SHARED.
 * Wake-up: a process-shared futex on the 32-bit word itself.
 * Threads and locks: pthreads. Process identity: pid + start time from
 * /proc/<pid>/stat. Clock: CLOCK_MONOTONIC.
 */
#define _GNU_SOURCE 1

#include "platform.h"
#include "atomics.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

_Static_assert(sizeof(pthread_mutex_t) <= sizeof(((plat_mutex_t *)0)->u.bytes),
               "pthread_mutex_t does not fit in plat_mutex_t");
_Static_assert(_Alignof(pthread_mutex_t) <= _Alignof(plat_mutex_t),
               "plat_mutex_t is not aligned enough for pthread_mutex_t");
_Static_assert(sizeof(pthread_t) <= sizeof(intptr_t), "pthread_t does not fit in intptr_t");

/* ---- OS errors (the bookkeeping: os_error.c) ------------------------------ */

/* The one errno -> shm_error_t table of this port. */
shm_error_t xshm_plat_map_os_error(int e)
{
    switch (e) {
    case 0:
        return SHM_SUCCESS;
    case EEXIST:
        return SHM_ERROR_EXISTS;
    case ENOENT:
        return SHM_ERROR_NOT_FOUND;
    case EACCES:
    case EPERM:
    case ELOOP: /* O_NOFOLLOW: someone put a symbolic link under the name */
        return SHM_ERROR_ACCESS;
    case ENOMEM:
    case ENOSPC:
    case EFBIG:
        return SHM_ERROR_MEMORY;
    case ENAMETOOLONG:
    case EINVAL:
        return SHM_ERROR_INVALID_PARAM;
    default:
        return SHM_ERROR_SYSTEM; /* any other errno: an OS call failed */
    }
}

/* Record that OS call `fn` failed with errno `e`; return the mapped code. */
static shm_error_t os_fail(const char *fn, int e) { return xshm_plat_os_fail(fn, e); }

/* ---- shared memory --------------------------------------------------------- */

/*
 * Build "/<name>" in out (PLAT_NAME_MAX + 1 bytes). The name is one path
 * component under /dev/shm: no '/', no '\\' (a Windows namespace prefix is
 * stripped by the caller), not "." or "..".
 */
static shm_error_t shm_path(const char *name, char out[PLAT_NAME_MAX + 1])
{
    if (name == NULL)
        return SHM_ERROR_INVALID_PARAM;
    size_t len = strlen(name);
    if (len == 0 || len >= PLAT_NAME_MAX)
        return SHM_ERROR_INVALID_PARAM;
    if (strchr(name, '/') || strchr(name, '\\'))
        return SHM_ERROR_INVALID_PARAM;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return SHM_ERROR_INVALID_PARAM;
    out[0] = '/';
    memcpy(out + 1, name, len + 1);
    return SHM_SUCCESS;
}

/*
 * Whether the object open at fd is one this library may use: a regular file
 * of the calling process's effective user with mode exactly 0600, the only
 * kind it creates. /dev/shm is writable by every user, so anyone can put an
 * object under a channel's name first, give it any mode, and keep it mapped;
 * the sticky bit then stops us from removing it. Such an object is
 * SHM_ERROR_ACCESS, never used: a server would write its messages where the
 * object's owner reads them, a client would send to that owner's process.
 */
static shm_error_t check_owned(int fd, struct stat *st)
{
    if (fstat(fd, st) != 0)
        return os_fail("fstat", errno);
    if (!S_ISREG(st->st_mode) || st->st_uid != geteuid() ||
        (st->st_mode & 07777) != (S_IRUSR | S_IWUSR))
        return os_fail("fstat (owner and mode)", EACCES);
    return SHM_SUCCESS;
}

static void shm_reset(plat_shm_t *shm)
{
    shm->base = NULL;
    shm->size = 0;
    shm->fd = -1;
    shm->name[0] = '\0';
}

static void shm_fill(plat_shm_t *shm, void *base, size_t size, int fd, const char *name)
{
    shm->base = base;
    shm->size = size;
    shm->fd = fd;
    memcpy(shm->name, name, strlen(name) + 1); /* length checked by shm_path */
}

shm_error_t xshm_plat_shm_create(plat_shm_t *shm, const char *name, size_t size)
{
    char path[PLAT_NAME_MAX + 1];
    shm_error_t err;

    if (shm == NULL)
        return SHM_ERROR_INVALID_PARAM;
    shm_reset(shm);
    if ((err = shm_path(name, path)) != SHM_SUCCESS)
        return err;
    if (size == 0)
        return SHM_ERROR_INVALID_PARAM;
    /* off_t may be 32 bits (i386 without _FILE_OFFSET_BITS=64). */
    if (sizeof(off_t) < sizeof(uint64_t) && (uint64_t)size > (uint64_t)INT32_MAX)
        return os_fail("ftruncate", EFBIG);

    /* shm_open sets FD_CLOEXEC on Linux anyway; O_CLOEXEC states the intent. */
    int fd = shm_open(path, O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, S_IRUSR | S_IWUSR);
    if (fd < 0)
        return os_fail("shm_open", errno);

    const char *fn;
    int e;
    /* The umask applied at creation may have narrowed (or, with a default
     * ACL, widened) the mode: set exactly 0600. */
    if (fchmod(fd, S_IRUSR | S_IWUSR) != 0) {
        fn = "fchmod";
        e = errno;
        goto fail;
    }
    /* O_EXCL made it ours; confirm what the checks of xshm_plat_shm_open expect
     * (a file system with odd ownership rules would show here). */
    struct stat st;
    if (check_owned(fd, &st) != SHM_SUCCESS) {
        fn = xshm_plat_last_os_error(&e);
        goto fail;
    }
    if (ftruncate(fd, (off_t)size) != 0) {
        fn = "ftruncate";
        e = errno;
        goto fail;
    }
    /* tmpfs allocates lazily: reserve the pages now so that a full /dev/shm
     * is an error here rather than a SIGBUS on the first write. Filesystems
     * that cannot reserve are left to allocate lazily. */
    do {
        e = posix_fallocate(fd, 0, (off_t)size);
    } while (e == EINTR);
    if (e == ENOSPC || e == ENOMEM || e == EFBIG) {
        fn = "posix_fallocate";
        goto fail;
    }

    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        fn = "mmap";
        e = errno;
        goto fail;
    }
    shm_fill(shm, base, size, fd, name);
    return SHM_SUCCESS;

fail:
    shm_unlink(path); /* a failed create leaves no object behind */
    close(fd);
    return os_fail(fn, e);
}

shm_error_t xshm_plat_shm_open(plat_shm_t *shm, const char *name)
{
    char path[PLAT_NAME_MAX + 1];
    shm_error_t err;
    struct stat st;

    if (shm == NULL)
        return SHM_ERROR_INVALID_PARAM;
    shm_reset(shm);
    if ((err = shm_path(name, path)) != SHM_SUCCESS)
        return err;

    int fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
    if (fd < 0)
        return os_fail("shm_open", errno);
    /* Before anything else, the size included: another user's object is
     * refused at once, not retried as one still being created. */
    if ((err = check_owned(fd, &st)) != SHM_SUCCESS) {
        close(fd);
        return err;
    }
    /* Size 0: the creator is between shm_open and ftruncate (or died
     * there): not there yet, as for a segment not yet published, so that a
     * connecting client retries. */
    if (st.st_size <= 0) {
        close(fd);
        return SHM_ERROR_NOT_FOUND;
    }
    if ((uint64_t)st.st_size > (uint64_t)SIZE_MAX) {
        close(fd);
        return os_fail("mmap", ENOMEM);
    }
    size_t size = (size_t)st.st_size;
    void *base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (base == MAP_FAILED) {
        err = os_fail("mmap", errno);
        close(fd);
        return err;
    }
    shm_fill(shm, base, size, fd, name);
    return SHM_SUCCESS;
}

void xshm_plat_shm_drop_name(plat_shm_t *shm)
{
    (void)shm; /* a name lives until xshm_plat_shm_unlink, whoever has it open */
}

void xshm_plat_shm_close(plat_shm_t *shm)
{
    if (shm == NULL)
        return;
    /* base is the "open" mark: a zeroed struct has fd 0, which is not ours. */
    if (shm->base != NULL) {
        munmap(shm->base, shm->size);
        close((int)shm->fd);
    }
    shm_reset(shm);
}

shm_error_t xshm_plat_shm_unlink(const char *name)
{
    char path[PLAT_NAME_MAX + 1];
    shm_error_t err;

    if ((err = shm_path(name, path)) != SHM_SUCCESS)
        return err;
    if (shm_unlink(path) != 0)
        return os_fail("shm_unlink", errno);
    return SHM_SUCCESS;
}

/* ---- name locks: flock() on "<name>@lock" ---------------------------------- */

/* Same file: both descriptors name one inode. */
static bool same_file(int a, int b)
{
    struct stat sa, sb;
    return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

shm_error_t xshm_plat_create_security(const char *sddl)
{
    /* Segments are owner-only (mode 0600): there is nothing else to set. */
    return sddl == NULL ? SHM_SUCCESS : SHM_ERROR_INVALID_PARAM;
}

shm_error_t xshm_plat_lock_take(plat_lock_t *l, const char *name)
{
    char lname[PLAT_NAME_MAX], path[PLAT_NAME_MAX + 1];
    shm_error_t err;

    if (l == NULL)
        return SHM_ERROR_INVALID_PARAM;
    l->handle = 0;
    l->name[0] = '\0';
    int n = snprintf(lname, sizeof lname, "%s@lock", name ? name : "");
    if (name == NULL || n <= 0 || (size_t)n >= sizeof lname)
        return SHM_ERROR_INVALID_PARAM;
    if ((err = shm_path(lname, path)) != SHM_SUCCESS)
        return err;
    /* The holder removes the file while it holds the lock, so the lock we
     * get may be on a file that no longer has the name: then try again. */
    for (int tries = 0; tries < 100; tries++) {
        /* Created exclusively when absent; an existing file must be ours
         * (0600, our user): another user's file would let its owner hold
         * the lock to block us, or remove it under us so that a second
         * server of ours takes the name while the first still runs. */
        int fd = shm_open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, S_IRUSR | S_IWUSR);
        if (fd >= 0 && fchmod(fd, S_IRUSR | S_IWUSR) != 0) { /* the umask may have narrowed it */
            int e = errno;
            shm_unlink(path);
            close(fd);
            return os_fail("fchmod", e);
        }
        if (fd < 0 && errno == EEXIST) {
            fd = shm_open(path, O_RDWR | O_CLOEXEC, 0);
            if (fd < 0 && errno == ENOENT)
                continue; /* removed by its holder meanwhile */
        }
        if (fd < 0)
            return os_fail("shm_open", errno);
        struct stat st;
        if ((err = check_owned(fd, &st)) != SHM_SUCCESS) { /* not our lock file */
            close(fd);
            return err;
        }
        int rc;
        do {
            rc = flock(fd, LOCK_EX | LOCK_NB);
        } while (rc != 0 && errno == EINTR);
        if (rc != 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                return SHM_ERROR_EXISTS;
            return os_fail("flock", e);
        }
        int again = shm_open(path, O_RDWR | O_CLOEXEC, 0);
        bool ours = again >= 0 && same_file(fd, again);
        if (again >= 0)
            close(again);
        if (ours) {
            l->handle = (intptr_t)fd + 1;
            memcpy(l->name, lname, (size_t)n + 1);
            return SHM_SUCCESS;
        }
        close(fd); /* removed (or replaced) by its last holder meanwhile */
    }
    return os_fail("flock", EAGAIN);
}

void xshm_plat_lock_release(plat_lock_t *l)
{
    char path[PLAT_NAME_MAX + 1];
    if (l == NULL || l->handle == 0)
        return;
    if (shm_path(l->name, path) == SHM_SUCCESS)
        shm_unlink(path); /* while we hold it: see xshm_plat_lock_take */
    close((int)(l->handle - 1));
    l->handle = 0;
    l->name[0] = '\0';
}

/* ---- wake-up objects: futex on the shared word --------------------------- */

/* No FUTEX_PRIVATE_FLAG: the word lives in a MAP_SHARED mapping and the
 * sleeper and the waker are in different processes. */
static long futex_call(uint32_t *word, int op, uint32_t val, const struct timespec *ts)
{
#if defined(SYS_futex_time64)
    /* A 32-bit ABI built with a 64-bit time_t needs the time64 system call. */
    if (sizeof(ts->tv_sec) > sizeof(long))
        return syscall(SYS_futex_time64, word, op, val, ts, NULL, 0);
#endif
    return syscall(SYS_futex, word, op, val, ts, NULL, 0);
}

shm_error_t xshm_plat_wake_open(plat_wake_t *w, const char *name, bool create)
{
    (void)name;
    (void)create;
    if (w == NULL)
        return SHM_ERROR_INVALID_PARAM;
    w->handle = 0;
    return SHM_SUCCESS;
}

void xshm_plat_wake_close(plat_wake_t *w)
{
    if (w != NULL)
        w->handle = 0;
}

shm_error_t xshm_plat_wake_wait(plat_wake_t *w, uint32_t *word, uint32_t expected,
                           uint32_t timeout_ms)
{
    struct timespec ts, *pts = NULL;

    (void)w;
    if (word == NULL || ((uintptr_t)word & 3u) != 0)
        return SHM_ERROR_INVALID_PARAM;
    if (xa_load32_acq(word) != expected)
        return SHM_SUCCESS;
    if (timeout_ms != PLAT_WAIT_FOREVER) {
        ts.tv_sec = (time_t)(timeout_ms / 1000u);
        ts.tv_nsec = (long)(timeout_ms % 1000u) * 1000000L;
        pts = &ts;
    }
    /* The kernel compares *word with expected atomically with going to
     * sleep, so a change + wake between our check and the call is not lost.
     * The timeout is relative and measured on CLOCK_MONOTONIC. */
    if (futex_call(word, FUTEX_WAIT, expected, pts) == 0)
        return SHM_SUCCESS;
    switch (errno) {
    case EAGAIN: /* *word != expected already */
    case EINTR:  /* a signal: spurious, the caller re-checks */
        return SHM_SUCCESS;
    case ETIMEDOUT:
        return SHM_ERROR_TIMEOUT;
    default:
        return os_fail("futex(FUTEX_WAIT)", errno);
    }
}

void xshm_plat_wake_signal(plat_wake_t *w, uint32_t *word)
{
    (void)w;
    if (word == NULL)
        return;
    if (futex_call(word, FUTEX_WAKE, (uint32_t)INT_MAX, NULL) < 0)
        (void)os_fail("futex(FUTEX_WAKE)", errno);
}

/* ---- threads ----------------------------------------------------------------- */

/*
 * The new thread must not run fn before the creator has filled in *t (fn may
 * call xshm_plat_thread_is_current(t) at once), so it waits for `go`. The start
 * block is freed by whichever side drops the last of its two references.
 */
typedef struct thread_start {
    plat_thread_fn fn;
    void *arg;
    uint32_t go;
    uint32_t refs;
} thread_start_t;

static void thread_start_release(thread_start_t *s)
{
    if (xa_fetch_add32(&s->refs, UINT32_MAX) == 1)
        free(s);
}

static void *thread_trampoline(void *p)
{
    thread_start_t *s = (thread_start_t *)p;
    while (xa_load32_acq(&s->go) == 0)
        futex_call(&s->go, FUTEX_WAIT_PRIVATE, 0, NULL);
    plat_thread_fn fn = s->fn;
    void *arg = s->arg;
    thread_start_release(s);
    fn(arg);
    return NULL;
}

shm_error_t xshm_plat_thread_start(plat_thread_t *t, plat_thread_fn fn, void *arg)
{
    if (t == NULL || fn == NULL)
        return SHM_ERROR_INVALID_PARAM;
    t->handle = 0;
    t->id = 0;

    thread_start_t *s = (thread_start_t *)malloc(sizeof *s);
    if (s == NULL)
        return os_fail("malloc", ENOMEM);
    s->fn = fn;
    s->arg = arg;
    s->go = 0;
    s->refs = 2;

    /* Library threads take no asynchronous signals: the application's
     * handlers run on its own threads. The new thread inherits this mask. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t tid;
    int e = pthread_create(&tid, NULL, thread_trampoline, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e != 0) {
        free(s);
        (void)os_fail("pthread_create", e);
        return SHM_ERROR_SYSTEM; /* the contract has one code for this */
    }

    intptr_t h = 0;
    memcpy(&h, &tid, sizeof tid);
    t->handle = h;
    t->id = (uint64_t)(uintptr_t)h;

    xa_store32_rel(&s->go, 1);
    futex_call(&s->go, FUTEX_WAKE_PRIVATE, 1, NULL);
    thread_start_release(s);
    return SHM_SUCCESS;
}

static pthread_t thread_of(const plat_thread_t *t)
{
    pthread_t tid;
    memcpy(&tid, &t->handle, sizeof tid);
    return tid;
}

void xshm_plat_thread_join(plat_thread_t *t)
{
    if (t == NULL || t->id == 0)
        return;
    int e = pthread_join(thread_of(t), NULL);
    if (e != 0)
        (void)os_fail("pthread_join", e);
    t->handle = 0;
    t->id = 0;
}

void xshm_plat_thread_detach(plat_thread_t *t)
{
    if (t == NULL || t->id == 0)
        return;
    int e = pthread_detach(thread_of(t));
    if (e != 0)
        (void)os_fail("pthread_detach", e);
    t->handle = 0;
    t->id = 0;
}

bool xshm_plat_thread_is_current(const plat_thread_t *t)
{
    if (t == NULL || t->id == 0)
        return false;
    return pthread_equal(thread_of(t), pthread_self()) != 0;
}

/* ---- mutex ------------------------------------------------------------------- */

static pthread_mutex_t *mutex_of(plat_mutex_t *m) { return (pthread_mutex_t *)(void *)m->u.bytes; }

void xshm_plat_mutex_init(plat_mutex_t *m)
{
    int e = pthread_mutex_init(mutex_of(m), NULL);
    if (e != 0)
        (void)os_fail("pthread_mutex_init", e);
}

void xshm_plat_mutex_destroy(plat_mutex_t *m) { pthread_mutex_destroy(mutex_of(m)); }

void xshm_plat_mutex_lock(plat_mutex_t *m)
{
    int e = pthread_mutex_lock(mutex_of(m));
    if (e != 0) /* only on misuse (a destroyed or corrupt mutex) */
        abort();
}

void xshm_plat_mutex_unlock(plat_mutex_t *m) { pthread_mutex_unlock(mutex_of(m)); }

/* ---- processes ------------------------------------------------------------- */

/*
 * Read state (field 3) and start time (field 22, clock ticks after boot) of
 * /proc/<pid>/stat. Field 2 is "(comm)" and comm may hold spaces and
 * parentheses, so fields are counted after the LAST ')'.
 * Returns 0 or an errno value (ENOENT: no such process).
 *
 * The file is opened in the /proc/<pid> directory, not by its full path:
 * qemu-user replaces "/proc/self/stat" and "/proc/<its own pid>/stat" with a
 * file of its own whose start time is when it began emulating the calling
 * thread, so it differs between the threads of a process and from the
 * kernel's value that every other process reads. The kernel's file gives
 * one identity to all.
 */
static int proc_read_stat(uint32_t pid, char *state, uint64_t *start_time)
{
    char path[48];
    char buf[1024];
    size_t len = 0;

    snprintf(path, sizeof path, "/proc/%lu", (unsigned long)pid);
    int dir = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0)
        return errno;
    int fd = openat(dir, "stat", O_RDONLY | O_CLOEXEC);
    int open_errno = errno;
    close(dir);
    if (fd < 0)
        return open_errno == ESRCH ? ENOENT : open_errno; /* it exited meanwhile */
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return e == ESRCH ? ENOENT : e; /* ESRCH: it exited meanwhile */
        }
        if (n == 0 || len + (size_t)n == sizeof buf - 1) {
            len += (size_t)n;
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';

    char *p = strrchr(buf, ')');
    if (p == NULL)
        return EINVAL;
    p++;
    /* p -> " S ppid pgrp ..." : field 3 is the first token after ')'. */
    int field = 2;
    char *tok = p;
    while (*tok) {
        while (*tok == ' ')
            tok++;
        if (*tok == '\0')
            break;
        field++;
        if (field == 3)
            *state = *tok;
        if (field == 22) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(tok, &end, 10);
            if (errno != 0 || end == tok)
                return EINVAL;
            *start_time = (uint64_t)v;
            return 0;
        }
        while (*tok && *tok != ' ')
            tok++;
    }
    return EINVAL;
}

void xshm_plat_proc_self(plat_proc_id_t *id)
{
    char state;
    uint64_t start = 0;
    id->pid = (uint32_t)getpid();
    if (proc_read_stat(id->pid, &state, &start) != 0)
        start = 0; /* /proc unavailable: identity by pid only */
    id->start_time = start;
}

bool xshm_plat_proc_alive(const plat_proc_id_t *id)
{
    char state = '?';
    uint64_t start = 0;

    if (id == NULL || id->pid == 0 || id->pid > (uint32_t)INT_MAX)
        return false;
    int e = proc_read_stat(id->pid, &state, &start);
    if (e == 0) {
        if (state == 'Z' || state == 'X') /* exited, not yet reaped */
            return false;
        return id->start_time == 0 || id->start_time == start;
    }
    /* /proc could not tell. If it works for us, a missing entry means no
     * such process (or one hidden by hidepid=, i.e. another user's, so not
     * our peer). Without /proc, fall back to kill(pid, 0), which cannot see
     * zombies or a reused pid. */
    if (e == ENOENT) {
        char s;
        uint64_t t;
        if (proc_read_stat((uint32_t)getpid(), &s, &t) == 0)
            return false;
    }
    if (kill((pid_t)id->pid, 0) == 0)
        return true;
    return errno == EPERM;
}

/* ---- time ------------------------------------------------------------------- */

uint64_t xshm_plat_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void xshm_plat_sleep_ms(uint32_t ms)
{
    if (ms == 0) {
        sched_yield();
        return;
    }
    struct timespec req, rem;
    req.tv_sec = (time_t)(ms / 1000u);
    req.tv_nsec = (long)(ms % 1000u) * 1000000L;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

/* ---- asymmetric fences ---------------------------------------------------- */

static int membarrier_call(int cmd) { return (int)syscall(__NR_membarrier, cmd, 0, 0); }

/* Register once for the membarrier command `run` (of the commands `query`
 * says are available, through `reg`); *state caches the answer: 0 unknown,
 * 1 registered, 2 unavailable. */
static bool fence_register(uint32_t *state, int query_bits, int reg)
{
    uint32_t st = xa_load32_acq(state);
    if (st == 0) {
        int q = membarrier_call(MEMBARRIER_CMD_QUERY);
        bool ok = q > 0 && (q & query_bits) == query_bits && membarrier_call(reg) == 0;
        if (!ok)
            os_fail("membarrier", errno);
        st = ok ? 1u : 2u;
        xa_store32_rel(state, st);
    }
    return st == 1;
}

/* Run the membarrier command `cmd`; when it fails, a local full fence, and
 * false (the caller then takes the slow path). */
static bool fence_run(int cmd)
{
    if (membarrier_call(cmd) == 0)
        return true;
    os_fail("membarrier", errno);
    xa_fence_seq_cst();
    return false;
}

bool xshm_plat_remote_fence_register(void)
{
    static uint32_t state;
    return fence_register(&state,
                          MEMBARRIER_CMD_GLOBAL_EXPEDITED |
                              MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED,
                          MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
}

bool xshm_plat_remote_fence(void) { return fence_run(MEMBARRIER_CMD_GLOBAL_EXPEDITED); }

bool xshm_plat_local_fence_register(void)
{
    static uint32_t state;
    return fence_register(&state, MEMBARRIER_CMD_PRIVATE_EXPEDITED,
                          MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
}

bool xshm_plat_local_fence(void) { return fence_run(MEMBARRIER_CMD_PRIVATE_EXPEDITED); }

uint64_t xshm_plat_thread_self(void) { return (uint64_t)(uintptr_t)pthread_self(); }

bool xshm_plat_process_exiting(void) { return false; }
