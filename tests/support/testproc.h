/*
 * testproc.h - helper processes and condition polling for the tests.
 *
 * A test that needs a second process runs a copy of its own executable with
 * "--helper <name> args..."; main() hands its arguments to tp_dispatch()
 * first, which runs the named helper instead of the tests:
 *
 *     static const tp_helper_t helpers[] = {{"writer", helper_writer}, {NULL, NULL}};
 *     int main(int argc, char **argv)
 *     {
 *         int rc;
 *         if (tp_dispatch(argc, argv, helpers, &rc))
 *             return rc;
 *         ... run the tests ...
 *     }
 *
 * The processes, the clock and the sleep are the support library's
 * (support/xs_proc.h, xs_time.h): POSIX posix_spawn of /proc/self/exe, run
 * by the emulator that XSHM_TEST_EMULATOR names when it is set (qemu-user,
 * for a build for another processor); Windows CreateProcessA of the
 * module's own path, with a command line quoted for the C runtime's parser.
 */
#ifndef XSHM_TESTPROC_H
#define XSHM_TESTPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xs_proc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A helper: fn(argc, argv) with argv[0] = the helper's name and argv[1..]
 * its arguments; its return value is the process exit code. */
typedef struct tp_helper {
    const char *name;
    int (*fn)(int argc, char **argv);
} tp_helper_t;

/* A child process (the support library's, support/xs_proc.h): pid,
 * running, exit_code. Zero-initialise it; tp_kill on a zeroed, reaped or
 * killed child does nothing. */
typedef xs_proc_t tp_child_t;

/*
 * If argv[1] is "--helper", run the helper named by argv[2] from the table
 * (terminated by an entry with a NULL name), store its exit code in
 * *exit_code (127 for an unknown or missing name) and return 1. Otherwise
 * return 0: the program is running its tests.
 */
int tp_dispatch(int argc, char **argv, const tp_helper_t *helpers, int *exit_code);

/*
 * In a helper: true once the process that started it (tp_spawn_self) has
 * ended. A helper that runs until it is killed checks it now and then, so
 * that a test that fails before it kills its helper does not leave it
 * running (holding the test's output open). False outside a helper.
 */
bool tp_parent_gone(void);

/*
 * Start a copy of the running executable as "--helper <helper> args..."
 * (args: NULL-terminated, may be NULL). Returns 0, or -1 with a message on
 * stderr.
 */
int tp_spawn_self(tp_child_t *c, const char *helper, const char *const *args);

/*
 * Wait up to timeout_ms for the child to exit. Returns 0 when it has exited
 * (and is reaped), with its exit code in *exit_code (may be NULL); a process
 * ended by a signal gives 128 + the signal number. Returns -1 on timeout
 * (the child keeps running) or on error.
 */
int tp_wait(tp_child_t *c, uint32_t timeout_ms, int *exit_code);

/* Kill the child (SIGKILL / TerminateProcess with code 137) and reap it. */
void tp_kill(tp_child_t *c);

/* tp_wait, and when the child has not exited within timeout_ms, tp_kill:
 * 0 with its exit code in *exit_code (may be NULL), or -1 once it was
 * killed (*exit_code left as it was). */
int tp_wait_or_kill(tp_child_t *c, uint32_t timeout_ms, int *exit_code);

/*
 * A name unique to this call, this process and this moment: base, the pid,
 * a counter and random characters, e.g. "base-1234-7-k3x9q2". Only
 * [A-Za-z0-9._-] (other characters of base become '_'), at most 64
 * characters and at most n - 1; base is shortened when needed.
 *
 * The process records every name it hands out (the first TP_MAX_NAMES), and
 * when it exits normally (atexit; a test that fails still ends that way)
 * tp_cleanup_names() removes what is left of the objects made under them.
 */
void tp_unique_name(char *buf, size_t n, const char *base);

#define TP_MAX_NAMES 512

/*
 * Remove the shared-memory objects named after the names this process got
 * from tp_unique_name: on Linux every entry of /dev/shm that holds such a
 * name as a whole component (preceded by the start or '.', followed by the
 * end, '.' or '@'): a channel's segment "xshm.<name>", its lock file
 * "xshm.<name>@lock", and the tests' own "xshm.<name>.seg" and the like.
 * Only the process that generated a name removes its objects: a helper
 * process given a name by its parent never does, killed or not. Windows:
 * nothing to do, named objects vanish with their last handle. Returns the
 * number of objects removed.
 */
unsigned tp_cleanup_names(void);

/* True when this Windows program runs under Wine (ntdll exports
 * wine_get_version); false elsewhere. */
bool tp_under_wine(void);

/* Monotonic milliseconds, arbitrary origin. */
uint64_t tp_now_ms(void);

/* Sleep ms milliseconds. */
void tp_sleep_ms(uint32_t ms);

/*
 * Poll `cond` every millisecond until it is true or timeout_ms has passed;
 * store in `ok` (a bool lvalue) whether it became true. `cond` is evaluated
 * once more at the deadline, so a condition that becomes true just in time
 * is not missed. Any compiler.
 */
#define TP_WAIT_UNTIL_SET(ok, cond, timeout_ms)                                \
    do {                                                                       \
        uint64_t tp_deadline_ = tp_now_ms() + (uint64_t)(timeout_ms);          \
        for (;;) {                                                             \
            if (cond) {                                                        \
                (ok) = true;                                                   \
                break;                                                         \
            }                                                                  \
            if (tp_now_ms() >= tp_deadline_) {                                 \
                (ok) = (cond) ? true : false;                                  \
                break;                                                         \
            }                                                                  \
            tp_sleep_ms(1);                                                    \
        }                                                                      \
    } while (0)

/*
 * The same as an expression: true when `cond` became true within
 * timeout_ms. Needs statement expressions (GCC, Clang, MinGW); with MSVC use
 * TP_WAIT_UNTIL_SET.
 */
#if defined(__GNUC__) || defined(__clang__)
#define TP_WAIT_UNTIL(cond, timeout_ms)                                        \
    __extension__({                                                            \
        bool tp_ok_ = false;                                                   \
        TP_WAIT_UNTIL_SET(tp_ok_, cond, timeout_ms);                           \
        tp_ok_;                                                                \
    })
#endif

#ifdef __cplusplus
}
#endif

#endif /* XSHM_TESTPROC_H */
