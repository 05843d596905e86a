/*
 * cli.h - what the files of the xshm command-line tool share.
 *
 *   main.c      usage text, the command table, main()
 *   options.c   the option parser, channel names, error messages
 *   channel.c   opening a channel to observe it, and why that failed
 *   json.c      a small JSON writer
 *   report.c    a channel snapshot as text and as JSON (stat, watch)
 *   wait.c      Ctrl-C and waiting (watch, tail)
 *   list.c, stat.c, watch.c, send.c, tail.c   one command each
 *
 * The tool reads a channel's shared state only through the library's
 * inspection module (shm_inspect.h): no file here knows the shared layout.
 * Exit status: 0 success, 1 runtime error, 2 usage error.
 */
#ifndef XSHM_CLI_H
#define XSHM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "platform.h"
#include "shm_inspect.h"
#include "shm_ipc.h"
#include "xs_time.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* ---- options.c ----------------------------------------------------------------- */

/* "xshm: " and the message, on stderr. */
void cli_fail(const char *fmt, ...);
/* The same, with a hint at --help; returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...);

enum {
    OPT_JSON = 1 << 0,
    OPT_ALL = 1 << 1,
    OPT_INTERVAL = 1 << 2,
    OPT_COUNT = 1 << 3,
    OPT_TIMEOUT = 1 << 4,
    OPT_HEX = 1 << 5
};

typedef struct opts {
    unsigned given;       /* OPT_* given */
    uint32_t interval_ms; /* --interval, default 1000 */
    uint32_t count;       /* --count, 0 if not given */
    uint32_t timeout_ms;  /* --timeout, 0 if not given */
    int npos;
    const char *pos[4];   /* positional arguments */
    bool help;            /* -h or --help */
} opts_t;

/* Parse argv[first..] for a command accepting `allowed` options and at most
 * maxpos positional arguments. Returns EXIT_OK or EXIT_USAGE (said). */
int cli_parse_opts(const char *cmd, int argc, char **argv, int first, unsigned allowed,
                   int maxpos, opts_t *o);

typedef struct chan_name {
    const char *arg;                    /* as given, for messages */
    char bare[SHM_MAX_NAME_LENGTH + 1]; /* without a Local\ or Global\ prefix */
    char os[PLAT_NAME_MAX];             /* the OS object name, as the library builds it */
} chan_name_t;

/* The library's own naming rule (xshm_channel_os_name). */
bool cli_parse_name(const char *arg, chan_name_t *n);

/* The NAME argument: present and valid, or a usage error (EXIT_USAGE). */
int cli_need_name(const char *cmd, const opts_t *o, chan_name_t *name);

/* ---- channel.c -------------------------------------------------------------------- */

/* Owner of the object (Linux: the file under /dev/shm). */
typedef struct owner_info {
    bool known;
    uint32_t uid;
    uint32_t mode;
    char user[64];
} owner_info_t;

void cli_owner_of(const chan_name_t *name, owner_info_t *o);

/* Open the channel to observe it (xshm_inspect_open), the mapping made
 * read-only as soon as it is mapped; `why` as there. */
shm_error_t cli_view_open(xshm_inspect_t **v, const chan_name_t *name, char *why, size_t n);

/* A message for a failure to open (or connect to) the channel. */
void cli_report_open_error(const chan_name_t *name, shm_error_t e, const char *why);

/* Why shm_client_connect failed, in words. */
void cli_report_connect_error(const chan_name_t *name, shm_error_t e);

/* "ready", "creator dead", "closed", ... */
const char *cli_seg_state_text(const xshm_inspect_snap_t *s);

/* ---- json.c ------------------------------------------------------------------------ */

typedef struct jw {
    FILE *f;
    bool pretty;
    int depth;
    bool first[16];
} jw_t;

void jw_init(jw_t *w, FILE *f, bool pretty);
void jw_open(jw_t *w, const char *key, char bracket); /* key NULL inside an array */
void jw_close(jw_t *w, char bracket);
void jw_u64(jw_t *w, const char *key, uint64_t v);
void jw_bool(jw_t *w, const char *key, bool v);
void jw_str(jw_t *w, const char *key, const char *v);
void jw_num(jw_t *w, const char *key, double v);
void jw_null(jw_t *w, const char *key);

/* ---- report.c ---------------------------------------------------------------------- */

/* "512 B", "4 KiB", "1.5 MiB". */
void cli_fmt_size(uint64_t v, char *buf, size_t n);

/* A snapshot as text (stat, watch). `prev`: the one before, for rates (watch). */
void cli_print_stat(const chan_name_t *name, const xshm_inspect_snap_t *s,
                    const owner_info_t *owner, bool all, const xshm_inspect_snap_t *prev,
                    bool rates);

/* The members of stat's JSON object, into an object the caller opened. */
void cli_json_stat_body(jw_t *w, const chan_name_t *name, const xshm_inspect_snap_t *s,
                        const owner_info_t *owner, const xshm_inspect_snap_t *prev, bool rates);

/* ---- wait.c ------------------------------------------------------------------------- */

#define WAIT_FOREVER_MS UINT32_MAX

/* Install the interrupt handling; false (with a message) if it cannot be. */
bool cli_catch_interrupt(const char *cmd);
/* An interrupt came (Ctrl-C, ...): the command stops. */
bool cli_interrupted(void);
/* Wake the waiting command (from any thread). */
void cli_wake_up(void);
/* Block until woken or until ms milliseconds have passed (WAIT_FOREVER_MS:
 * no limit). May return early: the caller re-checks its conditions. */
void cli_wait_woken(uint32_t ms);
/* Milliseconds from now_ns until end_ns, rounded up (0 if passed). */
uint32_t cli_ms_until(uint64_t now_ns, uint64_t end_ns);
/* Wait ms milliseconds, or less if interrupted. */
void cli_nap_ms(uint32_t ms);
/* The command has stopped and printed what it prints: after a console
 * close, the process may end now. */
void cli_interrupt_finished(void);

/* ---- the commands --------------------------------------------------------------------- */

typedef struct command {
    const char *name;
    unsigned options; /* OPT_* it accepts */
    int maxpos;       /* positional arguments parsed: one more than it takes,
                         so that it names an extra one itself */
    int (*run)(const opts_t *o);
    const char *help;
} command_t;

extern const command_t cli_cmd_list, cli_cmd_stat, cli_cmd_watch, cli_cmd_send, cli_cmd_tail;

#endif /* XSHM_CLI_H */
