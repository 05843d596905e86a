/*
 * stat.c - xshm stat NAME: one snapshot of a channel, read from its shared
 * memory without writing anything.
 */
#include <stdlib.h>

#include "cli.h"

static const char help_stat[] =
    "usage: xshm stat NAME [--json] [--all]\n"
    "\n"
    "One snapshot of the channel NAME, read from its shared memory without\n"
    "writing anything:\n"
    "  the server: process id, pointer width, alive; the channel's generation\n"
    "  and configuration (ring size, client slots, receive mode, timeout);\n"
    "  per ring (ring 0: server -> clients; ring 1+i: client slot i -> server;\n"
    "  ring 1+max+i: server -> client slot i, addressed messages):\n"
    "  capacity, bytes in use (tail - slowest active reader), messages and\n"
    "  bytes written, the writer's identity;\n"
    "  per reader slot: state, pid, pointer width, alive, position (cursor),\n"
    "  lag (tail - cursor, in bytes), messages received and lost, bytes.\n"
    "--all also shows free reader slots and the rings of free client slots never\n"
    "written to.\n";

static int cmd_stat(const opts_t *o)
{
    chan_name_t name;
    int rc = cli_need_name("stat", o, &name);
    if (rc != EXIT_OK)
        return rc;
    if (o->npos > 1)
        return cli_usage_error("stat: unexpected argument '%s'", o->pos[1]);
    xshm_inspect_t *view;
    char why[256];
    shm_error_t e = cli_view_open(&view, &name, why, sizeof(why));
    if (e != SHM_SUCCESS) {
        cli_report_open_error(&name, e, why);
        return EXIT_RUNTIME;
    }
    xshm_inspect_snap_t *s = (xshm_inspect_snap_t *)malloc(sizeof(*s));
    if (!s) {
        xshm_inspect_close(view);
        cli_fail("stat: out of memory");
        return EXIT_RUNTIME;
    }
    xshm_inspect_snapshot(view, s);
    xshm_inspect_close(view);
    owner_info_t owner;
    cli_owner_of(&name, &owner);
    if (o->given & OPT_JSON) {
        jw_t w;
        jw_init(&w, stdout, true);
        jw_open(&w, NULL, '{');
        cli_json_stat_body(&w, &name, s, &owner, NULL, false);
        jw_close(&w, '}');
    } else {
        cli_print_stat(&name, s, &owner, (o->given & OPT_ALL) != 0, NULL, false);
    }
    free(s);
    return EXIT_OK;
}

const command_t cli_cmd_stat = {"stat", OPT_JSON | OPT_ALL, 2, cmd_stat, help_stat};
