/*
 * watch.c - xshm watch NAME: stat, refreshed, with message rates per ring.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <io.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

static const char help_watch[] =
    "usage: xshm watch NAME [--interval MS] [--count N] [--json] [--all]\n"
    "\n"
    "The output of xshm stat, refreshed every MS milliseconds (default 1000),\n"
    "with messages/s and MB/s per ring measured between two refreshes (the\n"
    "first refresh comes one interval after the start). Stops after N\n"
    "refreshes, or on Ctrl-C (Windows: also Ctrl-Break). With --json: one\n"
    "JSON document per line.\n"
    "Read-only, like stat.\n";

/* Take one snapshot; the channel is reopened every time so that a server
 * that restarts (new generation) is followed. */
static shm_error_t sample(const chan_name_t *name, xshm_inspect_snap_t *s, owner_info_t *owner,
                          char *why, size_t n)
{
    xshm_inspect_t *view;
    shm_error_t e = cli_view_open(&view, name, why, n);
    if (e != SHM_SUCCESS)
        return e;
    xshm_inspect_snapshot(view, s);
    xshm_inspect_close(view);
    cli_owner_of(name, owner);
    return SHM_SUCCESS;
}

static bool stdout_is_terminal(void)
{
#ifdef _WIN32
    return _isatty(_fileno(stdout)) != 0;
#else
    return isatty(fileno(stdout)) != 0;
#endif
}

/* Let the terminal understand the clear-screen sequence (Windows 10+);
 * false when it does not. */
static bool terminal_can_clear(void)
{
#ifdef _WIN32
    HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
    DWORD mode;
    if (h == INVALID_HANDLE_VALUE || !GetConsoleMode(h, &mode))
        return false;
    return SetConsoleMode(h, mode | 0x0004 /* ENABLE_VIRTUAL_TERMINAL_PROCESSING */) != 0;
#else
    return true;
#endif
}

static int cmd_watch(const opts_t *o)
{
    chan_name_t name;
    int rc = cli_need_name("watch", o, &name);
    if (rc != EXIT_OK)
        return rc;
    if (o->npos > 1)
        return cli_usage_error("watch: unexpected argument '%s'", o->pos[1]);
    bool json = (o->given & OPT_JSON) != 0, all = (o->given & OPT_ALL) != 0;
    xshm_inspect_snap_t *snaps = (xshm_inspect_snap_t *)calloc(2, sizeof(xshm_inspect_snap_t));
    if (!snaps) {
        cli_fail("watch: out of memory");
        return EXIT_RUNTIME;
    }
    char why[256];
    owner_info_t owner;
    xshm_inspect_snap_t *prev = &snaps[0], *cur = &snaps[1];
    shm_error_t e = sample(&name, prev, &owner, why, sizeof(why));
    if (e != SHM_SUCCESS) {
        cli_report_open_error(&name, e, why);
        free(snaps);
        return EXIT_RUNTIME;
    }
    bool have_prev = true;
    bool clear = !json && stdout_is_terminal() && terminal_can_clear();
    uint64_t t0 = prev->t_ns;
    if (!cli_catch_interrupt("watch")) {
        free(snaps);
        return EXIT_RUNTIME;
    }
    for (uint32_t k = 1; o->count == 0 || k <= o->count; k++) {
        cli_nap_ms(o->interval_ms);
        if (cli_interrupted())
            break;
        e = sample(&name, cur, &owner, why, sizeof(why));
        double elapsed = (double)(xs_now_ns() - t0) / 1e9;
        if (json) {
            jw_t w;
            jw_init(&w, stdout, false);
            jw_open(&w, NULL, '{');
            jw_u64(&w, "refresh", k);
            jw_num(&w, "elapsed_s", elapsed);
            jw_u64(&w, "interval_ms", o->interval_ms);
            if (e == SHM_SUCCESS) {
                jw_open(&w, "channel", '{');
                cli_json_stat_body(&w, &name, cur, &owner, have_prev ? prev : NULL, true);
                jw_close(&w, '}');
            } else {
                jw_null(&w, "channel");
                jw_str(&w, "error",
                       e == SHM_ERROR_NOT_FOUND && !why[0] ? "no such channel"
                                                           : (why[0] ? why : shm_strerror(e)));
            }
            jw_close(&w, '}');
        } else {
            if (clear)
                fputs("\033[H\033[2J", stdout);
            else if (k > 1)
                fputc('\n', stdout);
            if (o->count)
                printf("== xshm watch %s: refresh %u of %u, every %u ms, %.1f s ==\n", name.arg,
                       (unsigned)k, (unsigned)o->count, (unsigned)o->interval_ms, elapsed);
            else
                printf("== xshm watch %s: refresh %u, every %u ms, %.1f s (Ctrl-C to stop) ==\n",
                       name.arg, (unsigned)k, (unsigned)o->interval_ms, elapsed);
            if (e == SHM_SUCCESS)
                cli_print_stat(&name, cur, &owner, all, have_prev ? prev : NULL, true);
            else if (e == SHM_ERROR_NOT_FOUND && !why[0])
                printf("no channel named %s (gone; still watching)\n", name.arg);
            else
                printf("cannot read channel %s: %s\n", name.arg, why[0] ? why : shm_strerror(e));
        }
        fflush(stdout);
        if (e == SHM_SUCCESS) {
            xshm_inspect_snap_t *t = prev;
            prev = cur;
            cur = t;
            have_prev = true;
        } else {
            have_prev = false;
        }
    }
    free(snaps);
    return EXIT_OK;
}

const command_t cli_cmd_watch = {"watch", OPT_JSON | OPT_ALL | OPT_INTERVAL | OPT_COUNT, 2,
                                 cmd_watch, help_watch};
