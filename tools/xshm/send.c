/*
 * send.c - xshm send NAME TEXT: connect as a client, send one message,
 * leave.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char help_send[] =
    "usage: xshm send NAME TEXT [--hex]\n"
    "\n"
    "Connect to the channel NAME as a client, send TEXT as one message (its\n"
    "bytes, without a terminating NUL), and disconnect. With --hex, TEXT is the\n"
    "message in hexadecimal, whitespace allowed: \"48 65 6c 6c 6f\".\n"
    "The message goes to the server only (clients never see each other's).\n"
    "Use -- before a TEXT that starts with '-'.\n";

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode hex digits (whitespace between bytes allowed); -1 if malformed. */
static long decode_hex(const char *s, unsigned char *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            s++;
            continue;
        }
        int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);
        if (hi < 0 || lo < 0 || n >= cap)
            return -1;
        out[n++] = (unsigned char)(hi * 16 + lo);
        s += 2;
    }
    return (long)n;
}

static int cmd_send(const opts_t *o)
{
    chan_name_t name;
    int rc = cli_need_name("send", o, &name);
    if (rc != EXIT_OK)
        return rc;
    if (o->npos < 2)
        return cli_usage_error("send: missing TEXT (the message)");
    if (o->npos > 2)
        return cli_usage_error("send: unexpected argument '%s' (quote TEXT with spaces)",
                               o->pos[2]);
    static unsigned char buf[SHM_MAX_MESSAGE_SIZE];
    const char *text = o->pos[1];
    size_t len;
    if (o->given & OPT_HEX) {
        long n = decode_hex(text, buf, sizeof(buf));
        if (n < 0)
            return cli_usage_error("send: --hex needs pairs of hex digits (at most %u bytes), "
                                   "e.g. \"de ad be ef\"",
                                   (unsigned)SHM_MAX_MESSAGE_SIZE);
        len = (size_t)n;
    } else {
        len = strlen(text);
        if (len > sizeof(buf))
            return cli_usage_error("send: TEXT is %lu bytes; a message has at most %u",
                                   (unsigned long)len, (unsigned)SHM_MAX_MESSAGE_SIZE);
        memcpy(buf, text, len);
    }
    if (len == 0)
        return cli_usage_error("send: the message is empty; a message has at least 1 byte");

    shm_client_t *c = shm_client_connect(name.arg);
    if (!c) {
        cli_report_connect_error(&name, shm_last_error());
        return EXIT_RUNTIME;
    }
    shm_error_t e = shm_client_send(c, buf, (uint32_t)len);
    shm_client_disconnect(c);
    if (e == SHM_ERROR_INVALID_PARAM) {
        cli_fail("send: a message of %lu bytes is too large for channel %s (xshm stat %s shows "
                 "its largest message)",
                 (unsigned long)len, name.arg, name.arg);
        return EXIT_RUNTIME;
    }
    if (e != SHM_SUCCESS) {
        cli_fail("send: %s: %s", name.arg,
                 e == SHM_ERROR_NOT_CONNECTED ? "the server went away" : shm_strerror(e));
        return EXIT_RUNTIME;
    }
    printf("sent %lu bytes to %s\n", (unsigned long)len, name.arg);
    return EXIT_OK;
}

const command_t cli_cmd_send = {"send", OPT_HEX, 3, cmd_send, help_send};
