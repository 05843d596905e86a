/*
 * tail.c - xshm tail NAME: connect as a client and dump every message the
 * server sends (hex and ASCII).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help_tail[] =
    "usage: xshm tail NAME [--count N] [--timeout MS]\n"
    "\n"
    "Connect to the channel NAME as a client and print every message the server\n"
    "sends, with its number and size, as hex and ASCII (like xxd). Stops after\n"
    "N messages, when no message came for MS milliseconds, when the server goes\n"
    "away, or on Ctrl-C (Windows: also Ctrl-Break, or when the console window\n"
    "closes); in every case it leaves the channel and prints a summary.\n"
    "\n"
    "tail is a real client: receiving is only possible through a client slot.\n"
    "It takes one of the channel's slots while it runs (the server sees it\n"
    "connect and leave), and it sees only the messages sent after it connected;\n"
    "the other clients still get every message (each reads its own copy).\n"
    "Exit status 1 if --count was given and fewer messages came.\n";

/* xxd-style dump: offset, 16 bytes in groups of two, ASCII. */
static void hexdump(const unsigned char *p, uint32_t n)
{
    for (uint32_t off = 0; off < n; off += 16) {
        char line[96];
        int w = snprintf(line, sizeof(line), "%08x: ", (unsigned)off);
        for (uint32_t k = 0; k < 16; k++) {
            if (off + k < n)
                w += snprintf(line + w, sizeof(line) - (size_t)w, "%02x", p[off + k]);
            else
                w += snprintf(line + w, sizeof(line) - (size_t)w, "  ");
            if (k & 1)
                line[w++] = ' ';
        }
        line[w++] = ' ';
        for (uint32_t k = 0; k < 16 && off + k < n; k++) {
            unsigned char c = p[off + k];
            line[w++] = (char)(c >= 0x20 && c < 0x7f ? c : '.');
        }
        line[w] = '\0';
        puts(line);
    }
}

/* Set by the listener thread when the server leaves; read by tail. */
static plat_mutex_t g_gone_lock;
static bool g_server_gone;

static bool server_gone(void)
{
    xshm_plat_mutex_lock(&g_gone_lock);
    bool gone = g_server_gone;
    xshm_plat_mutex_unlock(&g_gone_lock);
    return gone;
}

/* On the client's listener thread: messages arrived (DATA_AVAILABLE), the
 * server left (DISCONNECT), ...: wake tail, which looks. */
static void tail_event(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    (void)ud;
    (void)data;
    (void)sz;
    if (type == SHM_EVENT_DISCONNECT) {
        xshm_plat_mutex_lock(&g_gone_lock);
        g_server_gone = true;
        xshm_plat_mutex_unlock(&g_gone_lock);
    }
    cli_wake_up();
}

/*
 * tail looks whether a message waits for its own reader slot (found in a
 * view of the channel, shm_inspect.h) before it calls the (blocking)
 * receive: a blocking receive waits as the server configured it, possibly
 * forever, and would hold off --timeout and Ctrl-C. When none waits, tail
 * waits for its event callback (or an interrupt) to wake it instead.
 */
static int cmd_tail(const opts_t *o)
{
    chan_name_t name;
    int rc = cli_need_name("tail", o, &name);
    if (rc != EXIT_OK)
        return rc;
    if (o->npos > 1)
        return cli_usage_error("tail: unexpected argument '%s'", o->pos[1]);

    if (!cli_catch_interrupt("tail"))
        return EXIT_RUNTIME;
    xshm_plat_mutex_init(&g_gone_lock);
    shm_client_t *c = shm_client_connect(name.arg);
    if (!c) {
        cli_report_connect_error(&name, shm_last_error());
        return EXIT_RUNTIME;
    }
    shm_error_t ce = shm_client_register_callback(c, tail_event, NULL);
    if (ce != SHM_SUCCESS) {
        shm_client_disconnect(c);
        cli_fail("tail: cannot watch the channel for messages: %s", shm_strerror(ce));
        return EXIT_RUNTIME;
    }
    plat_proc_id_t self;
    xshm_plat_proc_self(&self);
    xshm_inspect_t *view = NULL;
    uint32_t slot = 0;
    bool have_slot = false;
    bool have_view = cli_view_open(&view, &name, NULL, 0) == SHM_SUCCESS;
    if (have_view)
        have_slot = xshm_inspect_find_reader(view, 0, &self, &slot);
    fprintf(stderr, "xshm tail: connected to %s as a client (pid %u)%s; Ctrl-C to stop\n", name.arg,
            (unsigned)self.pid,
            have_view ? "" : " (cannot map the channel: timeouts are the server's)");

    static unsigned char buf[SHM_MAX_MESSAGE_SIZE];
    uint64_t got = 0, bytes = 0, lost = 0;
    uint64_t last_ns = xs_now_ns();
    const char *end = NULL;
    rc = EXIT_OK;
    for (;;) {
        if (cli_interrupted()) {
            end = "interrupted";
            break;
        }
        if (o->count && got >= o->count) {
            end = "done";
            break;
        }
        bool gone = server_gone();
        bool pending = !have_slot || xshm_inspect_reader_pending(view, 0, slot);
        if (pending || gone) {
            uint32_t size = sizeof(buf);
            shm_error_t e = shm_client_receive(c, buf, &size);
            if (e == SHM_SUCCESS) {
                shm_stats_t st;
                got++;
                bytes += size;
                if (shm_client_get_stats(c, &st) == SHM_SUCCESS && st.messages_lost > lost) {
                    printf("(%" PRIu64 " message%s lost before this one: overwritten before "
                           "tail read them)\n",
                           st.messages_lost - lost, st.messages_lost - lost == 1 ? "" : "s");
                    lost = st.messages_lost;
                }
                printf("message %" PRIu64 ": %u bytes\n", got, (unsigned)size);
                hexdump(buf, size);
                fflush(stdout);
                last_ns = xs_now_ns();
                continue;
            }
            if (e == SHM_ERROR_NOT_CONNECTED || e == SHM_ERROR_CLOSED ||
                (gone && (e == SHM_ERROR_EMPTY || e == SHM_ERROR_TIMEOUT))) {
                end = "the server went away";
                break;
            }
            if (e == SHM_ERROR_INVALID_SEGMENT) {
                fprintf(stderr, "xshm tail: the channel's ring was inconsistent; resumed at its "
                                "newest message\n");
                continue;
            }
            if (e != SHM_ERROR_TIMEOUT && e != SHM_ERROR_EMPTY) {
                cli_fail("tail: receive failed: %s", shm_strerror(e));
                rc = EXIT_RUNTIME;
                end = "error";
                break;
            }
        }
        /* Nothing to read: wait for the callback, an interrupt or --timeout. */
        uint32_t wait_ms = WAIT_FOREVER_MS;
        if (o->timeout_ms) {
            wait_ms = cli_ms_until(xs_now_ns(), last_ns + (uint64_t)o->timeout_ms * 1000000u);
            if (wait_ms == 0) {
                end = "timed out";
                break;
            }
        }
        cli_wait_woken(wait_ms);
    }
    xshm_inspect_close(view);
    shm_client_disconnect(c);
    fprintf(stderr,
            "xshm tail: %" PRIu64 " message%s (%" PRIu64 " bytes) received, %" PRIu64 " lost; %s\n",
            got, got == 1 ? "" : "s", bytes, lost, end);
    if (rc == EXIT_OK && o->count && got < o->count) {
        cli_fail("tail: %" PRIu64 " of %u messages received (%s)", got, (unsigned)o->count, end);
        rc = EXIT_RUNTIME;
    }
    return rc;
}

const command_t cli_cmd_tail = {"tail", OPT_COUNT | OPT_TIMEOUT, 2, cmd_tail, help_tail};
