/*
 * wait.c - Ctrl-C and waiting, for the commands that run until they are
 * stopped (watch, tail).
 *
 * They run until they are interrupted: Ctrl-C or Ctrl-Break, the console
 * window closing, logoff or shutdown (Windows), SIGINT or SIGTERM (POSIX).
 * An interrupt is recorded and wakes the command, which then stops at once
 * as at any clean stop: tail leaves the channel, and both print what they
 * print then (tail its summary). Their waits block on one wake-up that an
 * interrupt sets, and that tail's event callback sets when messages arrive
 * or the server leaves; a wait returns when woken or when its time is up,
 * and the caller re-checks what it waits for.
 *
 * The interrupt is kept in an OS object rather than in a variable, since it
 * comes from another thread (or a signal handler): Windows: a console
 * control handler (SetConsoleCtrlHandler), which the system runs on a
 * thread of its own, sets a manual-reset event; waits are on it and on an
 * auto-reset event for the other wake-ups. The C runtime's signal(SIGINT)
 * would see Ctrl-C only: Ctrl-Break and closing the window would end the
 * process on the spot, still connected. Under Wine a SIGINT that reaches the
 * Windows process arrives as CTRL_C_EVENT too. POSIX: sigaction handlers
 * write to a pipe that is never read (write is async-signal-safe; it stays
 * readable once written), other wake-ups to a second pipe; poll waits on
 * both with a timeout.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <string.h>

#include "cli.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#endif

#ifdef _WIN32
static HANDLE g_wake;      /* auto-reset event: look again */
static HANDLE g_interrupt; /* manual-reset event: interrupted, for good */
static HANDLE g_finished;  /* manual-reset event: the command has stopped and said so */
#else
static int g_wake_pipe[2] = {-1, -1};      /* read end, write end; both non-blocking */
static int g_interrupt_pipe[2] = {-1, -1}; /* the same; readable once interrupted */
#endif

bool cli_interrupted(void)
{
#ifdef _WIN32
    return g_interrupt && WaitForSingleObject(g_interrupt, 0) == WAIT_OBJECT_0;
#else
    if (g_interrupt_pipe[0] < 0)
        return false;
    struct pollfd p;
    p.fd = g_interrupt_pipe[0];
    p.events = POLLIN;
    p.revents = 0;
    return poll(&p, 1, 0) > 0 && (p.revents & POLLIN) != 0;
#endif
}

void cli_wake_up(void)
{
#ifdef _WIN32
    if (g_wake)
        SetEvent(g_wake);
#else
    char b = 1;
    ssize_t n = write(g_wake_pipe[1], &b, 1); /* a full pipe already holds a wake-up */
    (void)n;
#endif
}

#ifdef _WIN32
static BOOL WINAPI on_console_ctrl(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
        SetEvent(g_interrupt);
        return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        /* The process ends when this returns (after a close: at the latest
         * about 5 s after the event), so wait here, within that, until the
         * command has left the channel and printed its summary. */
        SetEvent(g_interrupt);
        WaitForSingleObject(g_finished, 4000);
        return TRUE;
    default:
        return FALSE;
    }
}
#else
static void on_signal(int sig)
{
    int saved = errno;
    char b = 1;
    (void)sig;
    ssize_t n = write(g_interrupt_pipe[1], &b, 1); /* full: already readable */
    (void)n;
    errno = saved;
}

static bool make_pipe(int fds[2])
{
    if (pipe(fds) != 0)
        return false;
    for (int i = 0; i < 2; i++) {
        int fl = fcntl(fds[i], F_GETFL);
        if (fl == -1 || fcntl(fds[i], F_SETFL, fl | O_NONBLOCK) != 0 ||
            fcntl(fds[i], F_SETFD, FD_CLOEXEC) != 0)
            return false;
    }
    return true;
}
#endif

bool cli_catch_interrupt(const char *cmd)
{
#ifdef _WIN32
    g_wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    g_interrupt = CreateEventW(NULL, TRUE, FALSE, NULL);
    g_finished = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (g_wake && g_interrupt && g_finished && SetConsoleCtrlHandler(on_console_ctrl, TRUE))
        return true;
    cli_fail("%s: cannot handle Ctrl-C (Windows error %lu)", cmd, (unsigned long)GetLastError());
    return false;
#else
    bool ok = make_pipe(g_wake_pipe) && make_pipe(g_interrupt_pipe);
    if (ok) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        ok = sigaction(SIGINT, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0;
    }
    if (!ok)
        cli_fail("%s: cannot handle Ctrl-C: %s", cmd, strerror(errno));
    return ok;
#endif
}

void cli_interrupt_finished(void)
{
    fflush(stdout);
    fflush(stderr);
#ifdef _WIN32
    if (g_finished)
        SetEvent(g_finished);
#endif
}

void cli_wait_woken(uint32_t ms)
{
#ifdef _WIN32
    HANDLE h[2] = {g_wake, g_interrupt};
    WaitForMultipleObjects(2, h, FALSE, ms == WAIT_FOREVER_MS ? INFINITE : (DWORD)ms);
#else
    struct pollfd p[2];
    p[0].fd = g_wake_pipe[0];
    p[1].fd = g_interrupt_pipe[0];
    for (int i = 0; i < 2; i++) {
        p[i].events = POLLIN;
        p[i].revents = 0;
    }
    if (poll(p, 2, ms == WAIT_FOREVER_MS || ms > INT_MAX ? -1 : (int)ms) > 0 &&
        (p[0].revents & POLLIN)) {
        char buf[64];
        while (read(g_wake_pipe[0], buf, sizeof(buf)) > 0) {
        }
    }
#endif
}

uint32_t cli_ms_until(uint64_t now_ns, uint64_t end_ns)
{
    if (now_ns >= end_ns)
        return 0;
    uint64_t ms = (end_ns - now_ns + 999999u) / 1000000u;
    return ms >= WAIT_FOREVER_MS ? WAIT_FOREVER_MS - 1 : (uint32_t)ms;
}

void cli_nap_ms(uint32_t ms)
{
    uint64_t end = xs_now_ns() + (uint64_t)ms * 1000000u;
    for (;;) {
        uint32_t left = cli_ms_until(xs_now_ns(), end);
        if (left == 0 || cli_interrupted())
            break;
        cli_wait_woken(left);
    }
}
