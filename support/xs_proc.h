/*
 * xs_proc.h - starting programs, a copy of this one above all (see
 * xsupport.h).
 *
 * A program that needs a second process runs a copy of itself with
 * arguments that tell it which part to play (tests/support/testproc.h:
 * "--helper <name>"; the benchmark: "--child ..."). POSIX: posix_spawn of
 * /proc/self/exe, under the emulator that XSHM_TEST_EMULATOR names when it
 * is set (qemu-user, for a build for another processor); the child inherits
 * the descriptors that are not close-on-exec. Windows: CreateProcessA of the
 * module's own path, with a command line quoted for the C runtime's parser.
 * Either way the child learns who started it (xs_parent_gone).
 */
#ifndef XSHM_XS_PROC_H
#define XSHM_XS_PROC_H

#include <stdbool.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A child process. Zero-initialise it; xs_proc_kill on a zeroed, reaped or
 * killed child does nothing. */
typedef struct xs_proc {
    uint32_t pid;     /* process id */
    int running;      /* started and not yet reaped */
    int exit_code;    /* valid once reaped */
    double cpu_s;     /* CPU seconds it used, once reaped (< 0: unknown) */
#ifdef _WIN32
    void *process;    /* HANDLE */
#endif
} xs_proc_t;

/* xs_spawn flags */
#define XS_SPAWN_QUIET 1u /* the child's stdout goes to the null device */

/*
 * Start `exe` (NULL: a copy of the running program) with the arguments
 * args[0..] after its name (NULL-terminated, may be NULL). Returns 0, or -1
 * with a message on stderr.
 */
int xs_spawn(xs_proc_t *p, const char *exe, const char *const *args, unsigned flags);

/* xs_spawn(p, NULL, args, 0). */
int xs_spawn_self(xs_proc_t *p, const char *const *args);

/*
 * Wait up to timeout_ms (UINT32_MAX: no limit) for the child to exit.
 * Returns 0 when it has exited (and is reaped), with its exit code in
 * *exit_code (may be NULL); a process ended by a signal gives 128 + the
 * signal number. Returns -1 on timeout (the child keeps running) or error.
 */
int xs_proc_wait(xs_proc_t *p, uint32_t timeout_ms, int *exit_code);

/* True while the child runs (reaps it once it has ended). */
bool xs_proc_alive(xs_proc_t *p);

/* Kill the child (SIGKILL / TerminateProcess with code 137) and reap it. */
void xs_proc_kill(xs_proc_t *p);

/* xs_proc_wait, and xs_proc_kill when the child has not exited within
 * timeout_ms: 0 with its exit code in *exit_code (may be NULL), or -1 once
 * it was killed (*exit_code left as it was). */
int xs_proc_wait_or_kill(xs_proc_t *p, uint32_t timeout_ms, int *exit_code);

/*
 * In a child started by xs_spawn: xs_parent_note() (call it first thing)
 * records the process that started it, from what xs_spawn left in the
 * environment (asking the OS later would be too late: the parent may have
 * ended already); xs_parent_gone() is then true once that process has
 * ended, false before and outside such a child. A child that runs until it
 * is told to stop checks it now and then, so that it never outlives a parent
 * that failed.
 */
void xs_parent_note(void);
bool xs_parent_gone(void);

/* Linux: have the kernel kill this process when the thread that started
 * it ends (PR_SET_PDEATHSIG), and exit at once when it already has.
 * Elsewhere nothing: poll xs_parent_gone(). Call after xs_parent_note(). */
void xs_die_with_parent(void);

/* True when `prog` (Windows: prog.exe) is found on PATH. */
bool xs_on_path(const char *prog);

/* Create the folder `dir` (its parent must exist); true when it exists. */
bool xs_make_dir(const char *dir);

/* Run the shell command `cmd` in the folder `dir` (system(): sh or cmd);
 * returns system()'s value. */
int xs_system_in(const char *dir, const char *cmd);

/* This process's id. */
uint32_t xs_pid(void);

/* True when this Windows program runs under Wine (ntdll exports
 * wine_get_version); false elsewhere. */
bool xs_under_wine(void);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_XS_PROC_H */
