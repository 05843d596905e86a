/*
 * options.c - the xshm tool's option parser, channel names and error
 * messages.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "shm_names.h"

void cli_fail(const char *fmt, ...)
{
    va_list ap;
    fputs("xshm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int cli_usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("xshm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(xshm --help for usage)\n", stderr);
    return EXIT_USAGE;
}

bool cli_parse_name(const char *arg, chan_name_t *n)
{
    const char *bare = NULL;
    if (xshm_channel_os_name(arg, n->os, sizeof(n->os), &bare) != SHM_SUCCESS)
        return false;
    n->arg = arg;
    snprintf(n->bare, sizeof(n->bare), "%s", bare);
    return true;
}

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return false;
    *out = (uint32_t)v;
    return true;
}

int cli_parse_opts(const char *cmd, int argc, char **argv, int first, unsigned allowed,
                   int maxpos, opts_t *o)
{
    static const struct {
        const char *name;
        unsigned bit;
        bool has_value;
    } table[] = {{"--json", OPT_JSON, false},        {"--all", OPT_ALL, false},
                 {"--interval", OPT_INTERVAL, true}, {"--count", OPT_COUNT, true},
                 {"--timeout", OPT_TIMEOUT, true},   {"--hex", OPT_HEX, false}};
    memset(o, 0, sizeof(*o));
    o->interval_ms = 1000;
    bool dashdash = false;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
            continue;
        }
        if (dashdash || a[0] != '-' || a[1] == '\0') {
            if (o->npos >= maxpos)
                return cli_usage_error("%s: unexpected argument '%s'", cmd, a);
            o->pos[o->npos++] = a;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = true;
            continue;
        }
        size_t k, nt = sizeof(table) / sizeof(table[0]);
        const char *value = NULL;
        for (k = 0; k < nt; k++) {
            size_t len = strlen(table[k].name);
            if (strncmp(a, table[k].name, len) == 0 && (a[len] == '\0' || a[len] == '=')) {
                if (a[len] == '=')
                    value = a + len + 1;
                break;
            }
        }
        if (k == nt)
            return cli_usage_error("%s: unknown option '%s'", cmd, a);
        if (!(allowed & table[k].bit))
            return cli_usage_error("%s: option %s does not apply to this command", cmd,
                                   table[k].name);
        if (table[k].has_value && !value) {
            if (i + 1 >= argc)
                return cli_usage_error("%s: option %s needs a value", cmd, table[k].name);
            value = argv[++i];
        } else if (!table[k].has_value && value) {
            return cli_usage_error("%s: option %s takes no value", cmd, table[k].name);
        }
        o->given |= table[k].bit;
        if (table[k].bit == OPT_INTERVAL && !parse_u32(value, 10, 3600000, &o->interval_ms))
            return cli_usage_error("%s: --interval needs milliseconds, 10 to 3600000, not '%s'",
                                   cmd, value);
        if (table[k].bit == OPT_COUNT && !parse_u32(value, 1, UINT32_MAX, &o->count))
            return cli_usage_error("%s: --count needs a positive number, not '%s'", cmd, value);
        if (table[k].bit == OPT_TIMEOUT && !parse_u32(value, 1, UINT32_MAX, &o->timeout_ms))
            return cli_usage_error(
                "%s: --timeout needs a positive number of milliseconds, not '%s'", cmd, value);
    }
    return EXIT_OK;
}

int cli_need_name(const char *cmd, const opts_t *o, chan_name_t *name)
{
    if (o->npos < 1)
        return cli_usage_error("%s: missing channel NAME", cmd);
    if (!cli_parse_name(o->pos[0], name))
        return cli_usage_error("%s: invalid channel name '%s': 1 to %u characters of "
                               "[A-Za-z0-9._-], optionally prefixed Local\\ or Global\\",
                               cmd, o->pos[0], (unsigned)SHM_MAX_NAME_LENGTH);
    return EXIT_OK;
}
