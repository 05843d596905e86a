/*
 * list.c - xshm list: the channels of this machine (Linux: the xshm.*
 * objects of /dev/shm), each with its owner, state, clients, ring size and
 * server.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "shm_names.h"

#ifndef _WIN32
#include <dirent.h>
#endif

static const char help_list[] =
    "usage: xshm list [--json]\n"
    "\n"
    "The channels of this machine (Linux: the xshm.* objects of /dev/shm), each\n"
    "with its owner, state (ready, closed, creator dead, or why it cannot be\n"
    "read), connected clients (active slots whose process is alive) of the\n"
    "maximum, the size of each ring and the server's process id.\n"
    "Windows has no way to enumerate named sections: use xshm stat NAME.\n";

#ifndef _WIN32
typedef struct list_entry {
    char bare[SHM_MAX_NAME_LENGTH + 1];
} list_entry_t;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const list_entry_t *)a)->bare, ((const list_entry_t *)b)->bare);
}
#endif

static int cmd_list(const opts_t *o)
{
    if (o->npos > 0)
        return cli_usage_error("list: unexpected argument '%s'", o->pos[0]);
#ifdef _WIN32
    (void)o;
    cli_fail("list: not supported on Windows (named sections cannot be enumerated); "
             "use xshm stat NAME");
    return EXIT_USAGE;
#else
    DIR *d = opendir("/dev/shm");
    if (!d) {
        cli_fail("list: cannot read /dev/shm: %s", strerror(errno));
        return EXIT_RUNTIME;
    }
    size_t n = 0, cap = 16;
    list_entry_t *v = (list_entry_t *)malloc(cap * sizeof(*v));
    struct dirent *de;
    while (v && (de = readdir(d)) != NULL) {
        char os[PLAT_NAME_MAX];
        if (strncmp(de->d_name, "xshm.", 5) != 0 ||
            xshm_channel_os_name(de->d_name + 5, os, sizeof(os), NULL) != SHM_SUCCESS)
            continue;
        if (n == cap) {
            list_entry_t *nv = (list_entry_t *)realloc(v, 2 * cap * sizeof(*v));
            if (!nv)
                break;
            v = nv;
            cap *= 2;
        }
        snprintf(v[n++].bare, sizeof(v[0].bare), "%s", de->d_name + 5);
    }
    closedir(d);
    if (!v) {
        cli_fail("list: out of memory");
        return EXIT_RUNTIME;
    }
    qsort(v, n, sizeof(*v), cmp_entry);

    bool json = (o->given & OPT_JSON) != 0;
    jw_t w;
    jw_init(&w, stdout, true);
    xshm_inspect_snap_t *s = (xshm_inspect_snap_t *)malloc(sizeof(*s));
    if (!s) {
        free(v);
        cli_fail("list: out of memory");
        return EXIT_RUNTIME;
    }
    if (json)
        jw_open(&w, NULL, '[');
    else if (n == 0)
        printf("no channels\n");
    else
        printf("%-32s %-12s %-24s %-8s %-9s %s\n", "CHANNEL", "OWNER", "STATE", "CLIENTS", "RING",
               "SERVER");
    for (size_t i = 0; i < n; i++) {
        chan_name_t name;
        xshm_inspect_t *view;
        owner_info_t own;
        char why[256], state[64], clients[24], ring[32], server[24];
        if (!cli_parse_name(v[i].bare, &name))
            continue;
        name.arg = v[i].bare;
        cli_owner_of(&name, &own);
        shm_error_t e = cli_view_open(&view, &name, why, sizeof(why));
        bool ok = e == SHM_SUCCESS;
        if (ok) {
            xshm_inspect_snapshot(view, s);
            xshm_inspect_close(view);
            snprintf(state, sizeof(state), "%s", cli_seg_state_text(s));
            snprintf(clients, sizeof(clients), "%u/%u", (unsigned)s->clients,
                     (unsigned)s->max_readers);
            cli_fmt_size(s->capacity, ring, sizeof(ring));
            snprintf(server, sizeof(server), "%u", (unsigned)s->creator_pid);
        } else {
            snprintf(state, sizeof(state), "%s",
                     e == SHM_ERROR_ACCESS            ? "access denied"
                     : e == SHM_ERROR_INVALID_SEGMENT ? "invalid"
                     : e == SHM_ERROR_NOT_FOUND       ? "unpublished"
                                                      : shm_strerror(e));
            snprintf(clients, sizeof(clients), "-");
            snprintf(ring, sizeof(ring), "-");
            snprintf(server, sizeof(server), "-");
        }
        if (json) {
            jw_open(&w, NULL, '{');
            jw_str(&w, "name", name.bare);
            jw_str(&w, "object", name.os);
            if (own.known) {
                jw_u64(&w, "uid", own.uid);
                jw_str(&w, "user", own.user);
            }
            jw_str(&w, "state", state);
            if (ok) {
                jw_u64(&w, "clients", s->clients);
                jw_u64(&w, "max_clients", s->max_readers);
                jw_u64(&w, "ring_size", s->capacity);
                jw_u64(&w, "server_pid", s->creator_pid);
                jw_bool(&w, "server_alive", s->creator_alive);
            } else if (why[0]) {
                jw_str(&w, "error", why);
            }
            jw_close(&w, '}');
        } else {
            char owner[64];
            if (own.known)
                snprintf(owner, sizeof(owner), "%s", own.user);
            else
                snprintf(owner, sizeof(owner), "?");
            printf("%-32s %-12s %-24s %-8s %-9s %s\n", name.bare, owner, state, clients, ring,
                   server);
        }
    }
    if (json)
        jw_close(&w, ']');
    free(s);
    free(v);
    return EXIT_OK;
#endif
}

const command_t cli_cmd_list = {"list", OPT_JSON, 1, cmd_list, help_list};
