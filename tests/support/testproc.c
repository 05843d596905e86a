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
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <sys/mman.h>
#include <spawn.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
extern char **environ;
#endif

#include "testproc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dispatch ---------------------------------------------------------------- */

/* The process that started this helper, from the pid tp_spawn_self leaves
 * in the helper's environment (asking the OS for our parent once we run
 * would be too late: it may have ended already). POSIX: its pid, which
 * getppid() stops returning when it ends. Windows: a handle on it. */
#define TP_PARENT_ENV "XSHM_TP_PARENT"
#ifdef _WIN32
static HANDLE g_parent;
#else
static pid_t g_parent;
#endif

static void note_parent(void)
{
#ifdef _WIN32
    char buf[32];
    DWORD n = GetEnvironmentVariableA(TP_PARENT_ENV, buf, (DWORD)sizeof buf);
    if (n > 0 && n < sizeof buf)
        g_parent = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)strtoul(buf, NULL, 10));
#else
    const char *env = getenv(TP_PARENT_ENV);
    g_parent = env != NULL ? (pid_t)strtol(env, NULL, 10) : getppid();
#endif
}

bool tp_parent_gone(void)
{
#ifdef _WIN32
    return g_parent != NULL && WaitForSingleObject(g_parent, 0) == WAIT_OBJECT_0;
#else
    return g_parent != 0 && getppid() != g_parent;
#endif
}

int tp_dispatch(int argc, char **argv, const tp_helper_t *helpers, int *exit_code)
{
    if (argc < 2 || strcmp(argv[1], "--helper") != 0)
        return 0;
    note_parent();
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

uint64_t tp_now_ms(void)
{
#ifdef _WIN32
    return (uint64_t)GetTickCount64();
#else
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
#endif
}

void tp_sleep_ms(uint32_t ms)
{
#ifdef _WIN32
    Sleep(ms);
#else
    struct timespec req, rem;
    req.tv_sec = (time_t)(ms / 1000u);
    req.tv_nsec = (long)(ms % 1000u) * 1000000L;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
#endif
}

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

static unsigned long current_pid(void)
{
#ifdef _WIN32
    return (unsigned long)GetCurrentProcessId();
#else
    return (unsigned long)getpid();
#endif
}

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

/* ---- processes: Windows ---------------------------------------------------------- */

#ifdef _WIN32

/* Append one argument quoted for the C runtime's command-line parser:
 * backslashes are literal except before a '"', where they are doubled. */
static int append_arg(char *cmd, size_t cap, size_t *len, const char *arg)
{
    size_t need = 3 + 2 * strlen(arg) + 2; /* space, quotes, worst case */
    if (*len + need >= cap)
        return -1;
    char *p = cmd + *len;
    *p++ = ' ';
    if (arg[0] != '\0' && strpbrk(arg, " \t\n\v\"") == NULL) {
        size_t l = strlen(arg);
        memcpy(p, arg, l);
        p += l;
    } else {
        *p++ = '"';
        for (const char *s = arg;; s++) {
            size_t nb = 0;
            while (*s == '\\') {
                nb++;
                s++;
            }
            if (*s == '\0') {
                for (size_t i = 0; i < 2 * nb; i++) /* before the closing quote */
                    *p++ = '\\';
                break;
            }
            if (*s == '"') {
                for (size_t i = 0; i < 2 * nb + 1; i++)
                    *p++ = '\\';
            } else {
                for (size_t i = 0; i < nb; i++)
                    *p++ = '\\';
            }
            *p++ = *s;
        }
        *p++ = '"';
    }
    *p = '\0';
    *len = (size_t)(p - cmd);
    return 0;
}

int tp_spawn_self(tp_child_t *c, const char *helper, const char *const *args)
{
    char exe[MAX_PATH * 4];
    size_t cap = 32768; /* CreateProcess's command-line limit */
    size_t len = 0;

    memset(c, 0, sizeof *c);
    DWORD n = GetModuleFileNameA(NULL, exe, (DWORD)sizeof exe);
    if (n == 0 || n >= sizeof exe) {
        fprintf(stderr, "testproc: GetModuleFileNameA failed (%lu)\n", GetLastError());
        return -1;
    }
    char *cmd = (char *)malloc(cap);
    if (cmd == NULL)
        return -1;
    /* argv[0]: the program name is split at the first '"' pair, no escapes. */
    len = (size_t)snprintf(cmd, cap, "\"%s\"", exe);
    int bad = append_arg(cmd, cap, &len, "--helper") || append_arg(cmd, cap, &len, helper);
    for (size_t i = 0; !bad && args != NULL && args[i] != NULL; i++)
        bad = append_arg(cmd, cap, &len, args[i]);
    if (bad) {
        fprintf(stderr, "testproc: command line too long\n");
        free(cmd);
        return -1;
    }

    char self_pid[32];
    snprintf(self_pid, sizeof self_pid, "%lu", (unsigned long)GetCurrentProcessId());
    SetEnvironmentVariableA(TP_PARENT_ENV, self_pid); /* inherited: see note_parent */

    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    if (!CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) {
        fprintf(stderr, "testproc: CreateProcessA failed (%lu)\n", GetLastError());
        free(cmd);
        return -1;
    }
    free(cmd);
    CloseHandle(pi.hThread);
    c->process = pi.hProcess;
    c->pid = (uint32_t)pi.dwProcessId;
    c->running = 1;
    return 0;
}

static void reap(tp_child_t *c)
{
    DWORD code = 0;
    if (!GetExitCodeProcess((HANDLE)c->process, &code))
        code = (DWORD)-1;
    c->exit_code = (int)code;
    CloseHandle((HANDLE)c->process);
    c->process = NULL;
    c->running = 0;
}

int tp_wait(tp_child_t *c, uint32_t timeout_ms, int *exit_code)
{
    if (!c->running) {
        if (c->pid == 0)
            return -1; /* never started */
    } else {
        DWORD r = WaitForSingleObject((HANDLE)c->process,
                                      timeout_ms == UINT32_MAX ? INFINITE : timeout_ms);
        if (r != WAIT_OBJECT_0)
            return -1;
        reap(c);
    }
    if (exit_code)
        *exit_code = c->exit_code;
    return 0;
}

void tp_kill(tp_child_t *c)
{
    if (c == NULL || !c->running)
        return;
    TerminateProcess((HANDLE)c->process, 137);
    WaitForSingleObject((HANDLE)c->process, INFINITE);
    reap(c);
}

/* ---- processes: POSIX ---------------------------------------------------------- */

#else

/*
 * The emulator the tests run under, from XSHM_TEST_EMULATOR (set by
 * tests/CMakeLists.txt when the build is for another processor, e.g.
 * "/usr/bin/qemu-aarch64 -L /usr/aarch64-linux-gnu"): its words, separated
 * by spaces, are stored into words[] (at most max) from the copy *buf,
 * which the caller frees. Returns the number of words, 0 without emulator.
 */
static size_t emulator_words(char **buf, char **words, size_t max)
{
    const char *env = getenv("XSHM_TEST_EMULATOR");
    size_t n = 0;

    *buf = NULL;
    if (env == NULL || env[0] == '\0')
        return 0;
    *buf = strdup(env);
    if (*buf == NULL)
        return 0;
    char *save = NULL;
    for (char *w = strtok_r(*buf, " ", &save); w != NULL && n < max; w = strtok_r(NULL, " ", &save))
        words[n++] = w;
    return n;
}

int tp_spawn_self(tp_child_t *c, const char *helper, const char *const *args)
{
    char exe[PATH_MAX];
    char *emu_buf;
    char *emu[16];
    size_t nargs = 0;

    memset(c, 0, sizeof *c);
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0 || (size_t)n >= sizeof exe - 1)
        strcpy(exe, "/proc/self/exe");
    else
        exe[n] = '\0';

    /* Under an emulator (qemu-user runs a program for another processor),
     * the child is the emulator running this program. */
    size_t nemu = emulator_words(&emu_buf, emu, sizeof emu / sizeof emu[0]);
    while (args != NULL && args[nargs] != NULL)
        nargs++;
    char **argv = (char **)calloc(nemu + nargs + 4, sizeof *argv);
    if (argv == NULL) {
        free(emu_buf);
        return -1;
    }
    /* posix_spawn takes char *const[] but does not modify the strings. */
    size_t k = 0;
    for (size_t i = 0; i < nemu; i++)
        argv[k++] = emu[i];
    argv[k++] = exe;
    argv[k++] = (char *)(uintptr_t) "--helper";
    argv[k++] = (char *)(uintptr_t)helper;
    for (size_t i = 0; i < nargs; i++)
        argv[k++] = (char *)(uintptr_t)args[i];
    argv[k] = NULL;

    /* Our environment, with our pid as the helper's parent (note_parent). */
    size_t nenv = 0;
    while (environ[nenv] != NULL)
        nenv++;
    char **envp = (char **)calloc(nenv + 2, sizeof *envp);
    char parent[48];
    snprintf(parent, sizeof parent, "%s=%lu", TP_PARENT_ENV, (unsigned long)getpid());
    if (envp == NULL) {
        free(argv);
        free(emu_buf);
        return -1;
    }
    size_t k2 = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], TP_PARENT_ENV "=", sizeof(TP_PARENT_ENV)) != 0)
            envp[k2++] = environ[i];
    envp[k2++] = parent;
    envp[k2] = NULL;

    fflush(stdout); /* do not let the child inherit unflushed output */
    fflush(stderr);
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], NULL, NULL, argv, envp);
    if (e != 0)
        fprintf(stderr, "testproc: posix_spawn(%s) failed: %s\n", argv[0], strerror(e));
    free(envp);
    free(argv);
    free(emu_buf);
    if (e != 0)
        return -1;
    c->pid = (uint32_t)pid;
    c->running = 1;
    return 0;
}

/* Reap with waitpid(options); 1 when reaped, 0 when still running, -1 on error. */
static int reap(tp_child_t *c, int options)
{
    int status;
    pid_t r;
    do {
        r = waitpid((pid_t)c->pid, &status, options);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0) {
        fprintf(stderr, "testproc: waitpid(%lu): %s\n", (unsigned long)c->pid, strerror(errno));
        c->running = 0;
        c->exit_code = -1;
        return -1;
    }
    if (WIFEXITED(status))
        c->exit_code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status))
        c->exit_code = 128 + WTERMSIG(status);
    else
        c->exit_code = -1;
    c->running = 0;
    return 1;
}

int tp_wait(tp_child_t *c, uint32_t timeout_ms, int *exit_code)
{
    if (c->running) {
        uint64_t deadline = tp_now_ms() + timeout_ms;
        for (;;) {
            int r = reap(c, timeout_ms == UINT32_MAX ? 0 : WNOHANG);
            if (r < 0)
                return -1;
            if (r > 0)
                break;
            if (tp_now_ms() >= deadline)
                return -1;
            tp_sleep_ms(1);
        }
    } else if (c->pid == 0) {
        return -1; /* never started */
    }
    if (exit_code)
        *exit_code = c->exit_code;
    return 0;
}

void tp_kill(tp_child_t *c)
{
    if (c == NULL || !c->running)
        return;
    kill((pid_t)c->pid, SIGKILL);
    reap(c, 0);
}

#endif

/* ---- processes: both ------------------------------------------------------------ */

int tp_wait_or_kill(tp_child_t *c, uint32_t timeout_ms, int *exit_code)
{
    if (tp_wait(c, timeout_ms, exit_code) == 0)
        return 0;
    tp_kill(c);
    return -1;
}

bool tp_under_wine(void)
{
#ifdef _WIN32
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
#else
    return false;
#endif
}
