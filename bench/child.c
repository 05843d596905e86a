/*
 * child.c - the child's command server: a copy of xshm_bench started with
 * --child (peer.c) maps the control block, pins itself to the other CPU,
 * and runs the benchmark's commands one at a time: the other end of every
 * measurement. It refuses to run with another libxshm than the benchmark's.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

/* The step of the process CPU-time counter: spin until it moves twice
 * (at most 0.2 s). Linux accounts in ns; Windows in clock ticks. */
static uint64_t cpu_time_step(void)
{
    uint64_t t0 = xs_now_ns(), a = xs_process_cpu_ns(), b;
    do {
        b = xs_process_cpu_ns();
    } while (b == a && xs_now_ns() - t0 < 100000000u);
    a = b;
    do {
        b = xs_process_cpu_ns();
    } while (b == a && xs_now_ns() - t0 < 200000000u);
    return b > a ? b - a : 0;
}

static shm_client_t *child_connect(const char *name)
{
    uint64_t t0 = xs_now_ns();
    for (;;) {
        shm_client_t *c = shm_client_connect(name);
        if (c || shm_last_error() != SHM_ERROR_NOT_FOUND || xs_now_ns() - t0 > 10000000000ull)
            return c;
    }
}

static void child_fail(int32_t status, uint32_t seq)
{
    C->status = status ? status : -1;
    xs_store32(&C->ack_seq.v, seq);
}

static void noop_callback(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    (void)ud;
    (void)type;
    (void)data;
    (void)sz;
}

static void child_xshm(uint32_t cmd, uint32_t seq, unsigned char *buf)
{
    shm_client_t *c = child_connect(C->name);
    if (!c) {
        child_fail((int32_t)shm_last_error(), seq);
        return;
    }
    if (cmd == CMD_XSHM_IDLE) {
        if (C->arg)
            shm_client_register_callback(c, noop_callback, NULL);
        C->res[2] = cpu_time_step();
    }
    xs_store32(&C->ack_seq.v, seq);
    if (cmd == CMD_XSHM_ECHO && (C->arg & ZC_VIEWS)) {
        /* The message where it lies; its echo written in place. */
        for (uint32_t polls = 1;; polls++) {
            shm_view_t v;
            shm_error_t e = shm_client_receive_view(c, &v);
            if (e == SHM_ERROR_EMPTY || e == SHM_ERROR_TIMEOUT) {
                if ((polls & 0xFFFFFFu) == 0 && xs_parent_gone())
                    break;
                continue;
            }
            void *room = NULL;
            if (e != SHM_SUCCESS || v.size == 1 ||
                shm_client_reserve(c, v.size, &room) != SHM_SUCCESS)
                break;
            memcpy(room, v.data, v.size);
            if (shm_client_release(c, &v) != SHM_SUCCESS) { /* overwritten: do not echo it */
                shm_client_abort(c, room);
                break;
            }
            if (shm_client_commit(c, room, v.size) != SHM_SUCCESS)
                break;
        }
    } else if (cmd == CMD_XSHM_ECHO) {
        for (uint32_t polls = 1;; polls++) {
            uint32_t n = SHM_MAX_MESSAGE_SIZE;
            shm_error_t e = shm_client_receive(c, buf, &n);
            if (e == SHM_ERROR_EMPTY || e == SHM_ERROR_TIMEOUT) {
                if ((polls & 0xFFFFFFu) == 0 && xs_parent_gone())
                    break;
                continue;
            }
            if (e != SHM_SUCCESS || n == 1 || shm_client_send(c, buf, n) != SHM_SUCCESS)
                break;
        }
    } else if (cmd == CMD_XSHM_SINK) {
        uint64_t received = 0, lost = 0, expected = 0, first = 0;
        shm_stats_t st0, st;
        shm_client_get_stats(c, &st0);
        bool views = (C->arg & ZC_VIEWS) != 0;
        for (uint32_t polls = 1;; polls++) {
            uint32_t n = SHM_MAX_MESSAGE_SIZE;
            shm_view_t v;
            shm_error_t e;
            if (views) {
                /* In place: the sequence number and the last 8 bytes are
                 * read where they lie, then the view is released. */
                e = shm_client_receive_view(c, &v);
                if (e == SHM_SUCCESS) {
                    n = v.size;
                    memcpy(buf, v.data, n < 8 ? n : 8);
                    if (n >= 16)
                        memcpy(buf + 8, (const unsigned char *)v.data + n - 8, 8);
                    e = shm_client_release(c, &v);
                    if (e == SHM_ERROR_OVERWRITTEN) /* counted lost by the library */
                        continue;
                }
            } else {
                e = shm_client_receive(c, buf, &n);
            }
            if (e == SHM_ERROR_EMPTY) {
                if ((polls & 0xFFFFFFu) == 0 && xs_parent_gone())
                    break;
                continue;
            }
            if (e != SHM_SUCCESS || n == 2)
                break;
            if (n == 1) { /* end of a slice: report it */
                uint64_t t = xs_now_ns();
                shm_client_get_stats(c, &st);
                C->res[0] = received;
                C->res[1] = lost;
                C->res[2] = st.messages_lost - st0.messages_lost;
                C->res[3] = received ? t - first : 0;
                xs_store32(&C->slice.v, xs_load32(&C->slice.v) + 1);
                st0 = st;
                received = lost = expected = 0;
                continue;
            }
            uint64_t s;
            memcpy(&s, buf, 8);
            if (received == 0)
                first = xs_now_ns();
            if (s > expected)
                lost += s - expected;
            expected = s + 1;
            received++;
        }
    } else { /* CMD_XSHM_IDLE */
        uint32_t n = SHM_MAX_MESSAGE_SIZE;
        uint64_t cpu0 = xs_process_cpu_ns(), t0 = xs_now_ns();
        shm_error_t e = shm_client_receive(c, buf, &n);
        uint64_t t1 = xs_now_ns(), cpu1 = xs_process_cpu_ns();
        C->res[0] = cpu1 - cpu0;
        C->res[1] = t1 - t0;
        if (e != SHM_SUCCESS)
            C->status = (int32_t)e;
    }
    shm_client_disconnect(c);
}

/* Several clients of one channel, polled in turn by this one thread: each
 * echoes what it receives (addressed to it) back to the server. */
static void child_clients(uint32_t seq, unsigned char *buf)
{
    shm_client_t *cl[4] = {NULL, NULL, NULL, NULL};
    uint32_t n = C->arg < 1 ? 1 : C->arg > 4 ? 4 : C->arg, k;
    for (k = 0; k < n; k++) {
        cl[k] = child_connect(C->name);
        memset(buf, 0, 8);
        memcpy(buf, &k, sizeof(k));
        if (!cl[k] || shm_client_send(cl[k], buf, 8) != SHM_SUCCESS) { /* hello: its index */
            child_fail((int32_t)shm_last_error(), seq);
            break;
        }
    }
    if (k == n) {
        xs_store32(&C->ack_seq.v, seq);
        bool done = false;
        for (uint32_t polls = 1; !done; polls++) {
            for (k = 0; k < n && !done; k++) {
                uint32_t size = SHM_MAX_MESSAGE_SIZE;
                shm_error_t e = shm_client_receive(cl[k], buf, &size);
                if (e == SHM_ERROR_EMPTY)
                    continue;
                done = e != SHM_SUCCESS || size == 1 || shm_client_send(cl[k], buf, size) != SHM_SUCCESS;
            }
            if ((polls & 0xFFFFFFu) == 0 && xs_parent_gone())
                break;
        }
    }
    for (k = 0; k < n; k++)
        if (cl[k])
            shm_client_disconnect(cl[k]);
}

static void child_stream(uint32_t cmd, uint32_t seq, unsigned char *buf)
{
    stream_ctx_t s;
    if (!stream_ends((int)C->arg, true, &s)) {
        child_fail(-1, seq);
        return;
    }
    fd_t rd = s.rd, wr = s.wr;
    xs_store32(&C->ack_seq.v, seq);
    if (cmd == CMD_STREAM_ECHO) {
        while (s_read_exact(rd, buf, 64) && buf[0] == 0 && s_write(wr, buf, 64)) {
        }
        return;
    }
    /* Sink: messages of arg2 bytes; the first byte of each is 0, or 1 at the
     * end of a slice, or 2 at the end of the last one. */
    uint64_t size = C->arg2, pos = 0, bytes = 0, first = 0;
    for (;;) {
        long r = s_read(rd, buf, 262144);
        if (r <= 0)
            break;
        if (bytes == 0)
            first = xs_now_ns();
        /* Look at the first byte of every message that starts in this chunk. */
        uint64_t off = (size - pos % size) % size, marker = 0;
        for (; off < (uint64_t)r; off += size)
            if (buf[off] != 0) {
                marker = buf[off];
                break;
            }
        pos += (uint64_t)r;
        bytes += (uint64_t)r;
        if (marker) {
            /* The end message is the last in flight: the chunk ends with it
             * (read it in full first if it was split). */
            uint64_t rest = (size - pos % size) % size;
            if (rest && !s_read_exact(rd, buf, (size_t)rest))
                break;
            pos += rest;
            bytes += rest;
            C->res[0] = bytes - size; /* data messages only */
            C->res[1] = xs_now_ns() - first;
            xs_store32(&C->slice.v, xs_load32(&C->slice.v) + 1);
            bytes = 0;
            if (marker == 2)
                break;
        }
    }
}

/* xshm_bench --child <control block> <cpu> <stream ends> */
int child_main(int argc, char **argv)
{
    xs_parent_note();
    xs_die_with_parent();
    if (argc < 5)
        die("child: missing arguments");
    ctrl_open(argv[2]);
    int cpu = atoi(argv[3]);
    if (cpu >= 0)
        xs_pin_to(cpu);
    streams_adopt(argv[4]);
    wake_objects_open(argv[2]);
    xs_module_of((const void *)(uintptr_t)shm_version, "xshm.dll", g_lib_path,
                 sizeof(g_lib_path), g_lib_id, sizeof(g_lib_id));
    if (strcmp(C->library, g_lib_path) != 0)
        die("child: loaded %s, the benchmark %s", g_lib_path, C->library);
    static unsigned char buf[262144]; /* a message, or a chunk of a stream */
    uint32_t seen = 0; /* the parent may have issued the first command already */
    for (;;) {
        uint32_t seq = xs_load32(&C->cmd_seq.v);
        if (seq == seen) {
            if (xs_parent_gone())
                return 1;
            xs_sleep_ms(1);
            continue;
        }
        seen = seq;
        uint32_t cmd = C->cmd;
        switch (cmd) {
        case CMD_CACHELINE: {
            /* Round trip i uses pair i % FLOOR_PAIRS; the parent starts at 1. */
            xs_store32(&C->ack_seq.v, seq);
            for (uint32_t i = 1, spins = 0;;) {
                floor_pair_t *p = &C->floor[i % FLOOR_PAIRS];
                uint32_t v = xs_load32(&p->ping.v);
                if (v != i && v != STOP) {
                    if (++spins == 0 && xs_parent_gone())
                        return 1;
                    continue;
                }
                if (v == STOP)
                    break;
                xs_store32(&p->pong.v, v);
                i++;
            }
            break;
        }
        case CMD_WAKE:
            xs_store32(&C->ack_seq.v, seq);
            wake_echo_loop();
            break;
        case CMD_XSHM_ECHO:
        case CMD_XSHM_SINK:
        case CMD_XSHM_IDLE:
            child_xshm(cmd, seq, buf);
            break;
        case CMD_XSHM_CLIENTS:
            child_clients(seq, buf);
            break;
        case CMD_STREAM_ECHO:
        case CMD_STREAM_SINK:
            child_stream(cmd, seq, buf);
            break;
        case CMD_EXIT:
            xs_store32(&C->ack_seq.v, seq);
            xs_store32(&C->done_seq.v, seq);
            return 0;
        default:
            child_fail(-1, seq);
            break;
        }
        xs_store32(&C->done_seq.v, seq);
    }
}

