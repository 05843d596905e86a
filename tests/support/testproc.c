/*
 * testproc.c - helper processes and polling for the tests (see testproc.h).
 */
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <limits.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#endif

#include "testproc.h"
#include "xs_proc.h"
#include "xs_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dispatch ---------------------------------------------------------------- */

bool tp_parent_gone(void) { return xs_parent_gone(); }

int tp_dispatch(int argc, char **argv, const tp_helper_t *helpers, int *exit_code)
{
    if (argc < 2 || strcmp(argv[1], "--helper") != 0)
        return 0;
    xs_parent_note();
    *exit_code = 127;
    if (argc < 3) {
        fprintf(stderr, "testproc: --helper needs a helper name\n");
        return 1;
    }
    for (const tp_helper_t *h = helpers; h != NULL && h->name != NULL; h++) {
        if (strcmp(h->name, argv[2]) == 0) {
            *exit_code = h->fn(argc - 2, argv + 2);
            fflush(stdout);
            fflush(stderr);
            return 1;
        }
    }
    fprintf(stderr, "testproc: unknown helper '%s'\n", argv[2]);
    return 1;
}

/* ---- time -------------------------------------------------------------------- */

uint64_t tp_now_ms(void) { return xs_now_ms(); }

void tp_sleep_ms(uint32_t ms) { xs_sleep_ms(ms); }

/* ---- unique names -------------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    /* splitmix64 finaliser */
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static uint32_t atomic_inc(volatile long *v)
{
#if defined(_MSC_VER) && !defined(__clang__)
    return (uint32_t)InterlockedIncrement(v);
#else
    return (uint32_t)__atomic_add_fetch(v, 1, __ATOMIC_SEQ_CST);
#endif
}

static uint32_t next_counter(void)
{
    static volatile long counter;
    return atomic_inc(&counter);
}

static uint64_t entropy(void)
{
    uint64_t e;
#ifdef _WIN32
    LARGE_INTEGER c;
    FILETIME ft;
    QueryPerformanceCounter(&c);
    GetSystemTimeAsFileTime(&ft);
    e = (uint64_t)c.QuadPart ^ (((uint64_t)ft.dwHighDateTime << 32) | ft.dwLowDateTime);
#else
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    e = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
    return e;
}

static unsigned long current_pid(void) { return (unsigned long)xs_pid(); }

/* ---- names handed out, removed at exit ------------------------------------------------ */

typedef struct tp_name_rec {
    char name[65];
    unsigned long pid;       /* the process that generated it */
    volatile long ready;     /* 1 once name and pid are written */
} tp_name_rec_t;

static tp_name_rec_t g_names[TP_MAX_NAMES];
static volatile long g_name_slots; /* slots taken (may exceed TP_MAX_NAMES) */
static volatile long g_cleanup_registered;

static void cleanup_at_exit(void) { (void)tp_cleanup_names(); }

static void record_name(const char *name, unsigned long pid)
{
    if (atomic_inc(&g_cleanup_registered) == 1)
        atexit(cleanup_at_exit);
    uint32_t i = atomic_inc(&g_name_slots) - 1;
    if (i >= TP_MAX_NAMES)
        return; /* only the first ones: a test program makes a few dozen */
    size_t len = strlen(name);
    if (len >= sizeof g_names[i].name)
        return;
    memcpy(g_names[i].name, name, len + 1);
    g_names[i].pid = pid;
    atomic_inc(&g_names[i].ready);
}

#ifndef _WIN32
/* True when `entry` holds `name` as a whole component: after the start or a
 * '.', before the end, a '.' or a '@'. */
static int names_object(const char *entry, const char *name)
{
    size_t len = strlen(name);
    if (len == 0)
        return 0;
    for (const char *p = strstr(entry, name); p != NULL; p = strstr(p + 1, name)) {
        char before = p == entry ? '.' : p[-1];
        char after = p[len];
        if (before == '.' && (after == '\0' || after == '.' || after == '@'))
            return 1;
    }
    return 0;
}
#endif

unsigned tp_cleanup_names(void)
{
#ifdef _WIN32
    return 0; /* named objects vanish with their last handle */
#else
    unsigned long self = current_pid();
    uint32_t n = (uint32_t)g_name_slots;
    unsigned removed = 0;
    if (n > TP_MAX_NAMES)
        n = TP_MAX_NAMES;
    DIR *dir = opendir("/dev/shm");
    if (dir == NULL)
        return 0;
    for (struct dirent *d = readdir(dir); d != NULL; d = readdir(dir)) {
        if (d->d_name[0] == '.')
            continue;
        for (uint32_t i = 0; i < n; i++) {
            const tp_name_rec_t *r = &g_names[i];
            if (!r->ready || r->pid != self || !names_object(d->d_name, r->name))
                continue;
            char path[NAME_MAX + 2];
            snprintf(path, sizeof path, "/%s", d->d_name);
            if (shm_unlink(path) == 0)
                removed++;
            break;
        }
    }
    closedir(dir);
    return removed;
#endif
}

void tp_unique_name(char *buf, size_t n, const char *base)
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    char suffix[48];
    char rnd[7];
    int local;

    if (buf == NULL || n == 0)
        return;
    unsigned long pid = current_pid();
    uint32_t count = next_counter();
    uint64_t r = mix64(entropy() ^ ((uint64_t)pid << 32) ^ count ^
                       (uint64_t)(uintptr_t)&local);
    for (size_t i = 0; i < sizeof rnd - 1; i++) {
        rnd[i] = alphabet[r % (sizeof alphabet - 1)];
        r /= sizeof alphabet - 1;
    }
    rnd[sizeof rnd - 1] = '\0';
    snprintf(suffix, sizeof suffix, "-%lu-%lu-%s", pid, (unsigned long)count, rnd);

    size_t limit = n - 1 < 64 ? n - 1 : 64;
    size_t slen = strlen(suffix);
    if (slen > limit) { /* a tiny buffer: keep the most unique part */
        memcpy(buf, suffix + (slen - limit), limit);
        buf[limit] = '\0';
        if (buf[0] == '-' || buf[0] == '.')
            buf[0] = 'x';
        record_name(buf, pid);
        return;
    }
    if (base == NULL || base[0] == '\0')
        base = "t";
    size_t blen = strlen(base);
    if (blen > limit - slen)
        blen = limit - slen;
    for (size_t i = 0; i < blen; i++) {
        char ch = base[i];
        int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
        buf[i] = ok ? ch : '_';
    }
    memcpy(buf + blen, suffix, slen + 1);
    record_name(buf, pid);
}

/* ---- processes ------------------------------------------------------------------ */

int tp_spawn_self(tp_child_t *c, const char *helper, const char *const *args)
{
    size_t nargs = 0;
    while (args != NULL && args[nargs] != NULL)
        nargs++;
    const char **argv = (const char **)calloc(nargs + 3, sizeof *argv);
    if (argv == NULL) {
        memset(c, 0, sizeof *c);
        return -1;
    }
    argv[0] = "--helper";
    argv[1] = helper;
    for (size_t i = 0; i < nargs; i++)
        argv[2 + i] = args[i];
    int r = xs_spawn_self(c, argv);
    free((void *)argv);
    return r;
}

int tp_wait(tp_child_t *c, uint32_t timeout_ms, int *exit_code)
{
    return xs_proc_wait(c, timeout_ms, exit_code);
}

void tp_kill(tp_child_t *c) { xs_proc_kill(c); }

int tp_wait_or_kill(tp_child_t *c, uint32_t timeout_ms, int *exit_code)
{
    return xs_proc_wait_or_kill(c, timeout_ms, exit_code);
}

bool tp_under_wine(void) { return xs_under_wine(); }
