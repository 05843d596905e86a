/*
 * main.c - the xshm command-line tool.
 *
 *   xshm list                 channels on this machine (Linux)
 *   xshm stat NAME            rings, reader slots, server, configuration
 *   xshm watch NAME           stat, refreshed, with message rates
 *   xshm send NAME TEXT       connect as a client, send one message, leave
 *   xshm tail NAME            connect as a client, dump what the server sends
 *
 * list, stat and watch are observers: they read the channel through the
 * library's inspection module (shm_inspect.h), which validates the segment
 * as every client does and then only loads words. send and tail are
 * ordinary clients (shm_client_connect). cli.h lists the files.
 *
 * Exit status: 0 success, 1 runtime error, 2 usage error.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: xshm <command> [options]\n"
    "\n"
    "Inspect and use the xshm shared-memory channels of this machine.\n"
    "\n"
    "commands:\n"
    "  list            channels on this machine: owner, state, clients, ring size\n"
    "                  (Linux; Windows cannot enumerate named sections)\n"
    "  stat NAME       rings, reader slots, server identity and configuration\n"
    "  watch NAME      stat, refreshed, with message rates per ring\n"
    "  send NAME TEXT  connect as a client, send TEXT as one message, leave\n"
    "  tail NAME       connect as a client and dump every message the server\n"
    "                  sends (hex and ASCII)\n"
    "  help [COMMAND]  this text, or the options of one command\n"
    "\n"
    "options:\n"
    "  --json          list, stat, watch: JSON output\n"
    "  --all           stat, watch: also free slots and unused client rings\n"
    "  --interval MS   watch: time between refreshes (default 1000)\n"
    "  --count N       watch: stop after N refreshes; tail: after N messages\n"
    "  --timeout MS    tail: stop when no message came for MS milliseconds\n"
    "  --hex           send: TEXT is bytes in hex, e.g. \"de ad be ef\"\n"
    "  -h, --help      help; with a command: that command's help\n"
    "  -V, --version   versions of the tool and of the library\n"
    "\n"
    "list, stat and watch only read the channel's shared memory: they take no\n"
    "slot and never write, so the server and its clients do not notice them.\n"
    "send and tail are real clients: each takes a client slot while it runs.\n"
    "\n"
    "NAME: the channel name given to shm_server_create, 1-64 characters of\n"
    "[A-Za-z0-9._-], optionally prefixed Local\\ or Global\\ (Windows).\n"
    "\n"
    "Exit status: 0 success, 1 runtime error (no such channel, access denied,\n"
    "invalid segment, ...), 2 usage error.\n";

static void print_version(void)
{
    uint32_t v = shm_version();
    printf("xshm %d.%d.%d (library %u.%u.%u, shared layout %u, %u-bit)\n", SHM_VERSION_MAJOR,
           SHM_VERSION_MINOR, SHM_VERSION_PATCH, (unsigned)(v / 10000), (unsigned)(v / 100 % 100),
           (unsigned)(v % 100), (unsigned)xshm_inspect_layout_version(),
           (unsigned)(sizeof(void *) * 8));
}

static const command_t *const commands[] = {&cli_cmd_list, &cli_cmd_stat, &cli_cmd_watch,
                                            &cli_cmd_send, &cli_cmd_tail};

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i]->name, name) == 0)
            return commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2) {
            const command_t *c = find_command(argv[2]);
            if (!c)
                return cli_usage_error("help: unknown command '%s'", argv[2]);
            fputs(c->help, stdout);
        } else {
            fputs(usage_text, stdout);
        }
        return EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        print_version();
        return EXIT_OK;
    }
    const command_t *c = find_command(cmd);
    if (!c) {
        if (cmd[0] == '-')
            return cli_usage_error("unknown option '%s'", cmd);
        return cli_usage_error("unknown command '%s'", cmd);
    }
    opts_t o;
    int rc = cli_parse_opts(c->name, argc, argv, 2, c->options, c->maxpos, &o);
    if (rc != EXIT_OK)
        return rc;
    if (o.help) {
        fputs(c->help, stdout);
        return EXIT_OK;
    }
    rc = c->run(&o);
    cli_interrupt_finished();
    return rc;
}
