/*
 * testchan.c - a server, a client and their event logs, as most tests start.
 */
#include "testchan.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform.h"

shm_ring_config_t tc_config(uint32_t size, uint32_t readers, bool blocking, uint32_t timeout_ms)
{
    shm_ring_config_t c;
    memset(&c, 0, sizeof(c));
    c.size = size;
    c.max_readers = readers;
    c.blocking = blocking;
    c.timeout_ms = timeout_ms;
    return c;
}

shm_ring_config_t tc_small_config(void) { return tc_config(4096, 1, false, 0); }

shm_server_t *tc_server_config(const char *name, const shm_ring_config_t *config)
{
    shm_server_t *s = shm_server_create(name, config);
    if (!s)
        fail_msg("shm_server_create(\"%s\"): %s", name, shm_strerror(shm_last_error()));
    return s;
}

shm_server_t *tc_server(const char *name)
{
    shm_ring_config_t c = tc_small_config();
    return tc_server_config(name, &c);
}

shm_client_t *tc_client(const char *name)
{
    shm_client_t *c = shm_client_connect(name);
    if (!c)
        fail_msg("shm_client_connect(\"%s\"): %s", name, shm_strerror(shm_last_error()));
    return c;
}

shm_client_t *tc_connect_within(const char *name, uint32_t ms)
{
    uint64_t deadline = tp_now_ms() + ms;
    for (;;) {
        shm_client_t *c = shm_client_connect(name);
        if (c || shm_last_error() != SHM_ERROR_NOT_FOUND || tp_now_ms() >= deadline)
            return c;
    }
}

shm_server_t *tc_logged_server_config(const char *name, const shm_ring_config_t *config,
                                      ev_log_t *log)
{
    ev_init(log);
    shm_server_t *s = tc_server_config(name, config);
    assert_int_equal(shm_server_register_callback(s, ev_callback, log), SHM_SUCCESS);
    return s;
}

shm_server_t *tc_logged_server(const char *name, ev_log_t *log)
{
    shm_ring_config_t c = tc_small_config();
    return tc_logged_server_config(name, &c, log);
}

void tc_logged_pair(const char *name, shm_server_t **s, ev_log_t *slog, shm_client_t **c,
                    ev_log_t *clog)
{
    ev_init(slog);
    ev_init(clog);
    *s = tc_server(name);
    *c = tc_client(name);
    assert_int_equal(shm_server_register_callback(*s, ev_callback, slog), SHM_SUCCESS);
    assert_int_equal(shm_client_register_callback(*c, ev_callback, clog), SHM_SUCCESS);
}

/* `text` from the client to the server (to_server) or back, received whole. */
static void pass(shm_server_t *s, shm_client_t *c, bool to_server, const char *text)
{
    uint32_t n = (uint32_t)strlen(text) + 1;
    char buf[256];
    uint32_t sz = sizeof(buf);
    assert_true(n <= sizeof(buf));
    shm_error_t e = to_server ? shm_client_send(c, text, n) : shm_server_send(s, text, n);
    assert_int_equal(e, SHM_SUCCESS);
    e = to_server ? shm_server_receive(s, buf, &sz) : shm_client_receive(c, buf, &sz);
    assert_int_equal(e, SHM_SUCCESS);
    assert_int_equal(sz, n);
    assert_string_equal(buf, text);
}

void tc_pass_to_server(shm_server_t *s, shm_client_t *c, const char *text)
{
    pass(s, c, true, text);
}

void tc_pass_to_client(shm_server_t *s, shm_client_t *c, const char *text)
{
    pass(s, c, false, text);
}

int tc_exit_code(tp_child_t *c, uint32_t timeout_ms, const char *what)
{
    uint32_t pid = c->pid;
    int code = -1;
    if (tp_wait_or_kill(c, timeout_ms, &code) != 0)
        fail_msg("%s (process %u) did not exit within %u ms", what, (unsigned)pid,
                 (unsigned)timeout_ms);
    return code;
}

uint64_t tc_now_ms(void) { return xshm_plat_now_ns() / 1000000u; }

uint32_t tc_self_pid(void)
{
    plat_proc_id_t id;
    xshm_plat_proc_self(&id);
    return id.pid;
}

void *tc_malloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        fail_msg("malloc(%lu) failed", (unsigned long)n);
    return p;
}

uint32_t tc_server_connected(shm_server_t *s)
{
    shm_stats_t st;
    if (shm_server_get_stats(s, &st) != SHM_SUCCESS)
        return UINT32_MAX;
    return st.connected;
}

shm_error_t tc_client_recv_within(shm_client_t *c, void *buf, uint32_t *size, uint32_t ms)
{
    uint32_t cap = *size;
    uint64_t deadline = tc_now_ms() + ms;
    for (;;) {
        *size = cap;
        shm_error_t e = shm_client_receive(c, buf, size);
        if (e != SHM_ERROR_EMPTY || tc_now_ms() >= deadline)
            return e;
        tp_sleep_ms(1);
    }
}
