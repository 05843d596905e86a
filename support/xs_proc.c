/*
 * xs_proc.c - starting programs (see xs_proc.h).
 */
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* wait4, strdup, strtok_r */
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
extern char **environ;
#endif

#include "xs_proc.h"
#include "xs_time.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The parent's pid, which xs_spawn leaves in the child's environment. */
#define XS_PARENT_ENV "XSHM_XS_PARENT"

int xs_spawn_self(xs_proc_t *p, const char *const *args) { return xs_spawn(p, NULL, args, 0); }

int xs_proc_wait_or_kill(xs_proc_t *p, uint32_t timeout_ms, int *exit_code)
{
    if (xs_proc_wait(p, timeout_ms, exit_code) == 0)
        return 0;
    xs_proc_kill(p);
    return -1;
}

bool xs_proc_alive(xs_proc_t *p) { return p->running && xs_proc_wait(p, 0, NULL) != 0; }

int xs_system_in(const char *dir, const char *cmd)
{
    size_t n = strlen(dir) + strlen(cmd) + 32;
    char *line = (char *)malloc(n);
    if (line == NULL)
        return -1;
#ifdef _WIN32
    snprintf(line, n, "cd /d \"%s\" && %s", dir, cmd);
#else
    snprintf(line, n, "cd '%s' && %s", dir, cmd);
#endif
    fflush(stdout);
    fflush(stderr);
    int r = system(line);
    free(line);
    return r;
}

/* ---- Windows ------------------------------------------------------------------ */

#ifdef _WIN32

static HANDLE g_parent;

void xs_parent_note(void)
{
    char buf[32];
    DWORD n = GetEnvironmentVariableA(XS_PARENT_ENV, buf, (DWORD)sizeof buf);
    if (n > 0 && n < sizeof buf)
        g_parent = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)strtoul(buf, NULL, 10));
}

bool xs_parent_gone(void)
{
    return g_parent != NULL && WaitForSingleObject(g_parent, 0) == WAIT_OBJECT_0;
}

void xs_die_with_parent(void) {}

bool xs_on_path(const char *prog)
{
    char found[MAX_PATH];
    return SearchPathA(NULL, prog, ".exe", (DWORD)sizeof(found), found, NULL) != 0;
}

bool xs_make_dir(const char *dir)
{
    DWORD a;
    CreateDirectoryA(dir, NULL);
    a = GetFileAttributesA(dir);
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY);
}

uint32_t xs_pid(void) { return (uint32_t)GetCurrentProcessId(); }

bool xs_under_wine(void)
{
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

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

int xs_spawn(xs_proc_t *c, const char *exe, const char *const *args, unsigned flags)
{
    char self[MAX_PATH * 4];
    size_t cap = 32768; /* CreateProcess's command-line limit */
    size_t len = 0;

    memset(c, 0, sizeof *c);
    c->cpu_s = -1;
    if (exe == NULL) {
        DWORD n = GetModuleFileNameA(NULL, self, (DWORD)sizeof self);
        if (n == 0 || n >= sizeof self) {
            fprintf(stderr, "xs_spawn: GetModuleFileNameA failed (%lu)\n", GetLastError());
            return -1;
        }
        exe = self;
    }
    char *cmd = (char *)malloc(cap);
    if (cmd == NULL)
        return -1;
    /* argv[0]: the program name is split at the first '"' pair, no escapes. */
    len = (size_t)snprintf(cmd, cap, "\"%s\"", exe);
    int bad = len >= cap;
    for (size_t i = 0; !bad && args != NULL && args[i] != NULL; i++)
        bad = append_arg(cmd, cap, &len, args[i]);
    if (bad) {
        fprintf(stderr, "xs_spawn: command line too long\n");
        free(cmd);
        return -1;
    }

    char self_pid[32];
    snprintf(self_pid, sizeof self_pid, "%lu", (unsigned long)GetCurrentProcessId());
    SetEnvironmentVariableA(XS_PARENT_ENV, self_pid); /* inherited: see xs_parent_note */

    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    HANDLE nul = INVALID_HANDLE_VALUE;
    BOOL inherit = FALSE;
    memset(&si, 0, sizeof si);
    si.cb = sizeof si;
    if (flags & XS_SPAWN_QUIET) {
        SECURITY_ATTRIBUTES sa = {sizeof(sa), NULL, TRUE};
        nul = CreateFileA("NUL", GENERIC_WRITE, FILE_SHARE_WRITE, &sa, OPEN_EXISTING, 0, NULL);
        si.dwFlags = STARTF_USESTDHANDLES;
        si.hStdInput = GetStdHandle(STD_INPUT_HANDLE);
        si.hStdOutput = nul;
        si.hStdError = GetStdHandle(STD_ERROR_HANDLE);
        inherit = TRUE;
    }
    fflush(stdout);
    fflush(stderr);
    BOOL ok = CreateProcessA(exe, cmd, NULL, NULL, inherit, 0, NULL, NULL, &si, &pi);
    DWORD err = GetLastError();
    if (nul != INVALID_HANDLE_VALUE)
        CloseHandle(nul);
    free(cmd);
    if (!ok) {
        fprintf(stderr, "xs_spawn: CreateProcessA(%s) failed (%lu)\n", exe, err);
        return -1;
    }
    CloseHandle(pi.hThread);
    c->process = pi.hProcess;
    c->pid = (uint32_t)pi.dwProcessId;
    c->running = 1;
    return 0;
}

static void reap(xs_proc_t *c)
{
    DWORD code = 0;
    FILETIME cr, ex, k, u;
    if (!GetExitCodeProcess((HANDLE)c->process, &code))
        code = (DWORD)-1;
    if (GetProcessTimes((HANDLE)c->process, &cr, &ex, &k, &u))
        c->cpu_s = (double)((((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime) +
                            (((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime)) / 1e7;
    c->exit_code = (int)code;
    CloseHandle((HANDLE)c->process);
    c->process = NULL;
    c->running = 0;
}

int xs_proc_wait(xs_proc_t *c, uint32_t timeout_ms, int *exit_code)
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

void xs_proc_kill(xs_proc_t *c)
{
    if (c == NULL || !c->running)
        return;
    TerminateProcess((HANDLE)c->process, 137);
    WaitForSingleObject((HANDLE)c->process, INFINITE);
    reap(c);
}

/* ---- POSIX ---------------------------------------------------------------------- */

#else

static pid_t g_parent;

void xs_parent_note(void)
{
    const char *env = getenv(XS_PARENT_ENV);
    g_parent = env != NULL ? (pid_t)strtol(env, NULL, 10) : getppid();
}

bool xs_parent_gone(void) { return g_parent != 0 && getppid() != g_parent; }

void xs_die_with_parent(void)
{
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGKILL);
#endif
    if (xs_parent_gone())
        _exit(1);
}

uint32_t xs_pid(void) { return (uint32_t)getpid(); }

bool xs_under_wine(void) { return false; }

bool xs_on_path(const char *prog)
{
    const char *path = getenv("PATH");
    char buf[1024];
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len < sizeof(buf) - 32) {
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, prog);
            if (access(buf, X_OK) == 0)
                return true;
        }
        path = end ? end + 1 : NULL;
    }
    return false;
}

bool xs_make_dir(const char *dir)
{
    struct stat st;
    mkdir(dir, 0755);
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * The emulator a copy of this program runs under, from XSHM_TEST_EMULATOR
 * (set by tests/CMakeLists.txt when the build is for another processor,
 * e.g. "/usr/bin/qemu-aarch64 -L /usr/aarch64-linux-gnu"): its words,
 * separated by spaces, are stored into words[] (at most max) from the copy
 * *buf, which the caller frees. Returns the number of words, 0 without.
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

int xs_spawn(xs_proc_t *c, const char *exe, const char *const *args, unsigned flags)
{
    char self[PATH_MAX];
    char *emu_buf = NULL;
    char *emu[16];
    size_t nemu = 0, nargs = 0;

    memset(c, 0, sizeof *c);
    c->cpu_s = -1;
    if (exe == NULL) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0 || (size_t)n >= sizeof self - 1)
            strcpy(self, "/proc/self/exe");
        else
            self[n] = '\0';
        exe = self;
        /* Under an emulator (qemu-user runs a program for another
         * processor), the child is the emulator running this program. */
        nemu = emulator_words(&emu_buf, emu, sizeof emu / sizeof emu[0]);
    }
    while (args != NULL && args[nargs] != NULL)
        nargs++;
    char **argv = (char **)calloc(nemu + nargs + 2, sizeof *argv);
    if (argv == NULL) {
        free(emu_buf);
        return -1;
    }
    /* posix_spawn takes char *const[] but does not modify the strings. */
    size_t k = 0;
    for (size_t i = 0; i < nemu; i++)
        argv[k++] = emu[i];
    argv[k++] = (char *)(uintptr_t)exe;
    for (size_t i = 0; i < nargs; i++)
        argv[k++] = (char *)(uintptr_t)args[i];
    argv[k] = NULL;

    /* Our environment, with our pid as the child's parent (xs_parent_note). */
    size_t nenv = 0;
    while (environ[nenv] != NULL)
        nenv++;
    char **envp = (char **)calloc(nenv + 2, sizeof *envp);
    char parent[48];
    snprintf(parent, sizeof parent, "%s=%lu", XS_PARENT_ENV, (unsigned long)getpid());
    if (envp == NULL) {
        free(argv);
        free(emu_buf);
        return -1;
    }
    size_t k2 = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], XS_PARENT_ENV "=", sizeof(XS_PARENT_ENV)) != 0)
            envp[k2++] = environ[i];
    envp[k2++] = parent;
    envp[k2] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_t *fap = NULL;
    if (flags & XS_SPAWN_QUIET) {
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
        fap = &fa;
    }
    fflush(stdout); /* do not let the child inherit unflushed output */
    fflush(stderr);
    pid_t pid;
    int e = posix_spawnp(&pid, argv[0], fap, NULL, argv, envp);
    if (e != 0)
        fprintf(stderr, "xs_spawn: posix_spawn(%s) failed: %s\n", argv[0], strerror(e));
    if (fap)
        posix_spawn_file_actions_destroy(fap);
    free(envp);
    free(argv);
    free(emu_buf);
    if (e != 0)
        return -1;
    c->pid = (uint32_t)pid;
    c->running = 1;
    return 0;
}

/* Reap with wait4(options); 1 when reaped, 0 when still running, -1 on error. */
static int reap(xs_proc_t *c, int options)
{
    int status;
    struct rusage ru;
    pid_t r;
    do {
        r = wait4((pid_t)c->pid, &status, options, &ru);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return 0;
    if (r < 0) {
        fprintf(stderr, "xs_proc: waitpid(%lu): %s\n", (unsigned long)c->pid, strerror(errno));
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
    c->cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
               (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    c->running = 0;
    return 1;
}

int xs_proc_wait(xs_proc_t *c, uint32_t timeout_ms, int *exit_code)
{
    if (c->running) {
        uint64_t deadline = xs_now_ms() + timeout_ms;
        for (;;) {
            int r = reap(c, timeout_ms == UINT32_MAX ? 0 : WNOHANG);
            if (r < 0)
                return -1;
            if (r > 0)
                break;
            if (xs_now_ms() >= deadline)
                return -1;
            xs_sleep_ms(1);
        }
    } else if (c->pid == 0) {
        return -1; /* never started */
    }
    if (exit_code)
        *exit_code = c->exit_code;
    return 0;
}

void xs_proc_kill(xs_proc_t *c)
{
    if (c == NULL || !c->running)
        return;
    kill((pid_t)c->pid, SIGKILL);
    reap(c, 0);
}

#endif
