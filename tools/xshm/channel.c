/*
 * channel.c - opening a channel to observe it, and saying why that failed.
 *
 * list, stat and watch are observers: they open the channel's segment
 * through the library's inspection module (shm_inspect.h), which validates
 * it as every client does, then only loads words. Where the OS allows, the
 * mapping is made read-only as soon as it is mapped, so a write by mistake
 * would fault instead of disturbing the channel.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#endif

/* Make the mapping read-only, so that nothing here can write to it. Best
 * effort: the inspection module only loads anyway. */
static void protect_readonly(void *base, size_t size)
{
#if defined(_WIN32)
    DWORD old;
    (void)VirtualProtect(base, size, PAGE_READONLY, &old);
#else
    (void)mprotect(base, size, PROT_READ);
#endif
}

shm_error_t cli_view_open(xshm_inspect_t **v, const chan_name_t *name, char *why, size_t n)
{
    return xshm_inspect_open(v, name->os, protect_readonly, why, n);
}

void cli_owner_of(const chan_name_t *name, owner_info_t *o)
{
    memset(o, 0, sizeof(*o));
#ifndef _WIN32
    char path[PLAT_NAME_MAX + 16];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm/%s", name->os);
    if (stat(path, &st) != 0)
        return;
    o->known = true;
    o->uid = (uint32_t)st.st_uid;
    o->mode = (uint32_t)(st.st_mode & 07777);
    struct passwd *pw = getpwuid(st.st_uid);
    if (pw && pw->pw_name)
        snprintf(o->user, sizeof(o->user), "%s", pw->pw_name);
    else
        snprintf(o->user, sizeof(o->user), "%u", (unsigned)o->uid);
#else
    (void)name;
#endif
}

const char *cli_seg_state_text(const xshm_inspect_snap_t *s)
{
    switch (s->state) {
    case XSHM_INSPECT_SEG_READY:
        return s->creator_alive ? "ready" : "creator dead";
    case XSHM_INSPECT_SEG_CLOSED:
        return "closed";
    case XSHM_INSPECT_SEG_INITIALIZING:
        return "initializing";
    default:
        return "unknown";
    }
}

void cli_report_open_error(const chan_name_t *name, shm_error_t e, const char *why)
{
    switch (e) {
    case SHM_ERROR_NOT_FOUND:
        if (why && why[0])
            cli_fail("channel %s exists but cannot be read yet: %s", name->arg, why);
        else
            cli_fail("no channel named %s", name->arg);
        break;
    case SHM_ERROR_ACCESS: {
        owner_info_t o;
        cli_owner_of(name, &o);
        if (o.known)
            cli_fail("access denied to channel %s: it belongs to %s (uid %u, mode %04o), and "
                     "only its creator may open it; run xshm as that user",
                     name->arg, o.user, (unsigned)o.uid, (unsigned)o.mode);
        else
            cli_fail("access denied to channel %s: only the user who created it (and, on "
                     "Windows, SYSTEM and Administrators) may open it",
                     name->arg);
        break;
    }
    case SHM_ERROR_INVALID_SEGMENT:
        cli_fail("%s is not a valid xshm channel: %s", name->arg,
                 why && why[0] ? why : "its segment header does not validate");
        break;
    default: {
        int code = 0;
        const char *fn = xshm_plat_last_os_error(&code);
        if (fn && fn[0])
            cli_fail("cannot open channel %s: %s (%s failed, error %d)", name->arg,
                     shm_strerror(e), fn, code);
        else
            cli_fail("cannot open channel %s: %s", name->arg, shm_strerror(e));
        break;
    }
    }
}

void cli_report_connect_error(const chan_name_t *name, shm_error_t e)
{
    if (e == SHM_ERROR_NOT_FOUND) {
        /* Distinguish "no such object" from "a channel whose server is gone". */
        xshm_inspect_t *v;
        char why[256];
        shm_error_t ve = cli_view_open(&v, name, why, sizeof(why));
        if (ve == SHM_SUCCESS) {
            xshm_inspect_snap_t *s = (xshm_inspect_snap_t *)malloc(sizeof(*s));
            if (s) {
                xshm_inspect_snapshot(v, s);
                if (s->state == XSHM_INSPECT_SEG_READY && s->creator_alive)
                    cli_fail("no channel named %s when connecting; a server has created it "
                             "since: try again",
                             name->arg);
                else
                    cli_fail("channel %s exists but its server is gone (state: %s, server pid "
                             "%u): there is no one to connect to",
                             name->arg, cli_seg_state_text(s), (unsigned)s->creator_pid);
                free(s);
            } else {
                cli_fail("channel %s exists but its server is gone", name->arg);
            }
            xshm_inspect_close(v);
            return;
        }
        cli_report_open_error(name, ve, why);
        return;
    }
    if (e == SHM_ERROR_BUSY) {
        cli_fail("all client slots of channel %s are taken (xshm stat %s shows them)", name->arg,
                 name->arg);
        return;
    }
    if (e == SHM_ERROR_INVALID_SEGMENT) {
        xshm_inspect_t *v;
        char why[256];
        shm_error_t ve = cli_view_open(&v, name, why, sizeof(why));
        if (ve == SHM_SUCCESS)
            xshm_inspect_close(v);
        cli_report_open_error(name, SHM_ERROR_INVALID_SEGMENT, ve == SHM_SUCCESS ? NULL : why);
        return;
    }
    cli_report_open_error(name, e, NULL);
}
