/*
 * case_xshm.c - xshm itself: round trips of 8 B .. 64 KiB, busy-polled and
 * blocking; one-way throughput with delivered rate and loss; the CPU a
 * reader blocked in receive uses. The child is the client.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cases.h"

typedef struct xshm_ctx {
    shm_server_t *srv;
    unsigned char *out, *in;
    uint32_t size;
    uint64_t seq;
} xshm_ctx_t;

/* An answer the server polls for: a copy into `buf` (n bytes), its sender,
 * or a view. */
typedef struct answer {
    shm_server_t *srv;
    unsigned char *buf;
    uint32_t n;
    shm_client_id_t from;
    shm_view_t view;
} answer_t;

static shm_error_t recv_copy(answer_t *a)
{
    a->n = SHM_MAX_MESSAGE_SIZE;
    return shm_server_receive(a->srv, a->buf, &a->n);
}

static shm_error_t recv_from(answer_t *a)
{
    a->n = SHM_MAX_MESSAGE_SIZE;
    return shm_server_receive_from(a->srv, a->buf, &a->n, &a->from);
}

static shm_error_t recv_view(answer_t *a) { return shm_server_receive_view(a->srv, &a->view); }

/* Poll (busy channel) or block (blocking channel) with `recv` until it
 * answers other than SHM_ERROR_EMPTY; every 2^20 empty polls, make sure the
 * child still runs (SHM_ERROR_NOT_CONNECTED when not). Inline: each caller's
 * `recv` is called directly in its timed loop. */
static inline shm_error_t poll_answer(shm_error_t (*recv)(answer_t *), answer_t *a)
{
    for (uint32_t polls = 1;; polls++) {
        shm_error_t e = recv(a);
        if (e != SHM_ERROR_EMPTY)
            return e; /* a timeout too: an answer cannot take 5 s */
        if ((polls & 0xFFFFFu) == 0 && !child_alive())
            return SHM_ERROR_NOT_CONNECTED;
    }
}

/* Send, then poll (busy channel) or block (blocking channel) for the echo.
 * Each message carries a sequence number and its echo must carry it back:
 * a stale echo, or a second message in flight, would make round trips look
 * shorter than they are. */
static bool op_xshm(void *ctx)
{
    xshm_ctx_t *x = (xshm_ctx_t *)ctx;
    uint64_t seq = ++x->seq;
    memcpy(x->out, &seq, 8);
    if (shm_server_send(x->srv, x->out, x->size) != SHM_SUCCESS)
        return false;
    answer_t a = {x->srv, x->in, 0, 0, {NULL, 0, 0, 0, {0, 0}}};
    if (poll_answer(recv_copy, &a) != SHM_SUCCESS)
        return false;
    if (a.n != x->size || memcmp(x->in, &seq, 8) != 0) {
        fprintf(stderr, "xshm_bench: echo of message %" PRIu64 " is not its own\n", seq);
        return false;
    }
    return true;
}

static shm_server_t *make_server(const char *what, bool blocking, char *name, size_t n)
{
    shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
    cfg.blocking = blocking;
    snprintf(name, n, "xshm_bench.%lu.%s", (unsigned long)xs_pid(), what);
    shm_server_t *s = shm_server_create(name, &cfg);
    if (!s)
        fprintf(stderr, "xshm_bench: cannot create channel %s: %s\n", name,
                shm_strerror(shm_last_error()));
    return s;
}

static const uint32_t rtt_sizes[] = {8, 64, 1024, 65536}; /* at least 8: the sequence */

/* Round trips of every size on one channel; returns the 64 B row. */
row_t *bench_xshm_rtt(bool blocking, const row_t *floor)
{
    char name[96], label[16];
    row_t *r64 = NULL;
    uint64_t seq = 0; /* one sequence for the channel's rows */
    shm_server_t *srv = make_server(blocking ? "blocking" : "busy", blocking, name, sizeof(name));
    bool ok = srv && issue(CMD_XSHM_ECHO, 0, 0, name);
    for (size_t i = 0; i < sizeof(rtt_sizes) / sizeof(rtt_sizes[0]); i++) {
        if (g_set.core && rtt_sizes[i] != 64)
            continue;
        size_label(label, sizeof(label), rtt_sizes[i]);
        row_t *r = new_row("xshm", "round trip %s, %s", label,
                           blocking ? "blocking receive" : "busy-poll");
        xshm_ctx_t x;
        x.srv = srv;
        x.out = g_out;
        x.in = g_in;
        x.size = rtt_sizes[i];
        x.seq = seq;
        plot_set_t *plot = NULL;
        if (rtt_sizes[i] == 64) {
            r64 = r;
            plot = plot_for(blocking ? "rtt_64B_xshm_blocking.txt" : "rtt_64B_xshm_busy.txt",
                            blocking ? "xshm blocking receive" : "xshm busy-poll");
        }
        if (!ok || !measure_latency(r, op_xshm, &x, plot))
            r->failed = true;
        seq = x.seq;
        set_ratio(r, floor, false, blocking ? "wake-up floor" : "cache-line floor");
    }
    if (blocking) {
        /* The same after a pause longer than the receive's spin: both sides
         * are asleep when a message comes, as in a quiet channel. */
        row_t *r = new_row("xshm", "round trip 64 B, blocking, both asleep");
        xshm_ctx_t x;
        x.srv = srv;
        x.out = g_out;
        x.in = g_in;
        x.size = 64;
        x.seq = seq;
        g_pause_ns = 100000;
        if (!ok || !measure_latency(r, op_xshm, &x, NULL))
            r->failed = true;
        g_pause_ns = 0;
        set_ratio(r, floor, false, "wake-up floor");
        if (!r->note[0]) /* else: says it was disturbed */
            snprintf(r->note, sizeof(r->note), "each send after a 100 us pause (not timed)");
    }
    if (ok) {
        shm_server_send(srv, g_out, 1); /* ends the echo */
        finish_cmd();
    }
    shm_server_destroy(srv);
    return r64;
}

/* The 64 B round trip without a copy: the message written in place, its
 * echo read where it lies (the child echoes the same way). */
static bool op_xshm_views(void *ctx)
{
    xshm_ctx_t *x = (xshm_ctx_t *)ctx;
    uint64_t seq = ++x->seq;
    void *room = NULL;
    if (shm_server_reserve(x->srv, x->size, &room) != SHM_SUCCESS)
        return false;
    memcpy(room, &seq, 8);
    if (shm_server_commit(x->srv, room, x->size) != SHM_SUCCESS)
        return false;
    answer_t a = {x->srv, NULL, 0, 0, {NULL, 0, 0, 0, {0, 0}}};
    if (poll_answer(recv_view, &a) != SHM_SUCCESS)
        return false;
    bool mine = a.view.size == x->size && memcmp(a.view.data, &seq, 8) == 0;
    if (shm_server_release(x->srv, &a.view) != SHM_SUCCESS || !mine) {
        fprintf(stderr, "xshm_bench: echo of message %" PRIu64 " is not its own\n", seq);
        return false;
    }
    return true;
}

row_t *bench_xshm_rtt_views(const row_t *floor)
{
    char name[96];
    shm_server_t *srv = make_server("views", false, name, sizeof(name));
    bool ok = srv && issue(CMD_XSHM_ECHO, ZC_VIEWS, 0, name);
    row_t *r = new_row("xshm", "round trip 64 B, busy, reserve + view");
    xshm_ctx_t x;
    x.srv = srv;
    x.out = g_out;
    x.in = g_in;
    x.size = 64;
    x.seq = 0;
    if (!ok || !measure_latency(r, op_xshm_views, &x, NULL))
        r->failed = true;
    set_ratio(r, floor, false, "cache-line floor");
    if (ok) {
        shm_server_send(srv, g_out, 1); /* ends the echo */
        finish_cmd();
    }
    shm_server_destroy(srv);
    return r;
}

typedef struct rr_ctx {
    shm_server_t *srv;
    shm_client_id_t ids[4]; /* client k's id, from its hello */
    uint32_t clients;
    uint64_t seq;
} rr_ctx_t;

/* One request/reply: the server sends to client seq % clients by its id
 * and waits for the answer, which must come from that client (by
 * shm_server_receive_from) and carry the same sequence number. */
static bool op_request_reply(void *ctx)
{
    rr_ctx_t *x = (rr_ctx_t *)ctx;
    uint64_t seq = ++x->seq;
    uint32_t k = (uint32_t)(seq % x->clients);
    memcpy(g_out, &seq, 8);
    if (shm_server_send_to(x->srv, x->ids[k], g_out, 64) != SHM_SUCCESS)
        return false;
    answer_t a = {x->srv, g_in, 0, 0, {NULL, 0, 0, 0, {0, 0}}};
    if (poll_answer(recv_from, &a) != SHM_SUCCESS)
        return false;
    if (a.n != 64 || memcmp(g_in, &seq, 8) != 0 || a.from != x->ids[k]) {
        fprintf(stderr, "xshm_bench: answer %" PRIu64 " is not client %u's\n", seq, k);
        return false;
    }
    return true;
}

/* Request/reply round trips with `clients` clients connected (in the child,
 * polled in turn by one thread), each addressed by its id in turn. */
row_t *bench_xshm_request_reply(uint32_t clients, const row_t *floor)
{
    char name[96], what[16];
    snprintf(what, sizeof(what), "rr%u", clients);
    rr_ctx_t x;
    memset(&x, 0, sizeof(x));
    x.clients = clients;
    x.srv = make_server(what, false, name, sizeof(name));
    row_t *r = new_row("xshm", "request/reply 64 B, %u client%s, by id", clients,
                       clients == 1 ? "" : "s");
    bool ok = x.srv && issue(CMD_XSHM_CLIENTS, clients, 0, name);
    /* The hellos: each client's index, from its id. */
    for (uint32_t got = 0, polls = 1; ok && got < clients; polls++) {
        uint32_t n = SHM_MAX_MESSAGE_SIZE, k;
        shm_client_id_t from = 0;
        shm_error_t e = shm_server_receive_from(x.srv, g_in, &n, &from);
        if (e == SHM_SUCCESS && n == 8) {
            memcpy(&k, g_in, sizeof(k));
            if (k < clients && x.ids[k] == 0) {
                x.ids[k] = from;
                got++;
            }
        } else if ((e != SHM_ERROR_EMPTY && e != SHM_SUCCESS) ||
                   ((polls & 0xFFFFFu) == 0 && !child_alive())) {
            ok = false;
        }
    }
    if (!ok || !measure_latency(r, op_request_reply, &x, NULL))
        r->failed = true;
    set_ratio(r, floor, false, "cache-line floor");
    if (!r->note[0])
        snprintf(r->note, sizeof(r->note), "busy-poll; the answer must come from the client asked");
    if (ok) {
        shm_server_send(x.srv, g_out, 1); /* ends every client's echo */
        finish_cmd();
    }
    if (x.srv)
        shm_server_destroy(x.srv);
    return r;
}

/* Send g_out's first `size` bytes: copied in by shm_server_send, or with
 * `views` written in place into a reservation (the producer's one write). */
static bool send_one(shm_server_t *srv, uint32_t size, bool views)
{
    if (!views)
        return shm_server_send(srv, g_out, size) == SHM_SUCCESS;
    void *room = NULL;
    if (shm_server_reserve(srv, size, &room) != SHM_SUCCESS)
        return false;
    memcpy(room, g_out, size);
    return shm_server_commit(srv, room, size) == SHM_SUCCESS;
}

/* One-way: this process sends for a slice, the child counts. With `views`,
 * 64 KiB only, sent by reserve/commit and received by view/release. */
void bench_xshm_oneway(const row_t *const *memcpy_rows, bool views, row_t **r64_out,
                       row_t **r64k_out)
{
    static const uint32_t sizes[] = {64, 1024, 65536};
    char name[96], label[16];
    shm_server_t *srv =
        make_server(views ? "oneway-zc" : "oneway", false, name, sizeof(name));
    bool ok = srv && issue(CMD_XSHM_SINK, views ? ZC_VIEWS : 0, 0, name);
    uint32_t slice_no = xs_load32(&C->slice.v);
    for (int i = 0; i < 3; i++) {
        uint32_t size = sizes[i];
        double rates[16], gbs[16];
        if ((g_set.core || views) && size == 1024)
            continue;
        if (views && size == 64)
            continue;
        uint64_t sent_all = 0, recv_all = 0, lost_all = 0, lib_lost_all = 0, bad = 0;
        double send_rate = 0;
        size_label(label, sizeof(label), size);
        row_t *r = new_row("xshm", "one-way %s messages%s", label,
                           views ? ", reserve + view" : "");
        r->unit = U_MPS;
        for (int s = -1; ok && s < g_set.slices; s++) { /* s = -1: warm-up */
            double secs = s < 0 ? g_set.warm_s : g_set.slice_s;
            uint64_t sent = 0, t0 = xs_ticks(), t1;
            uint64_t end = t0 + ns_to_ticks(secs * 1e9);
            memset(g_out, 0x33, size);
            do {
                for (int k = 0; k < 64; k++) {
                    memcpy(g_out, &sent, 8); /* sequence number */
                    if (!send_one(srv, size, views)) {
                        ok = false;
                        break;
                    }
                    sent++;
                }
                t1 = xs_ticks();
            } while (ok && t1 < end);
            if (!ok || shm_server_send(srv, g_out, 1) != SHM_SUCCESS || /* end of slice */
                !wait_child(&C->slice.v, ++slice_no)) {
                ok = false;
                break;
            }
            if (s < 0)
                continue;
            uint64_t received = C->res[0], lost = C->res[1], lib_lost = C->res[2], rx_ns = C->res[3];
            rates[s] = rx_ns ? (double)received * 1e3 / (double)rx_ns : 0; /* M/s */
            gbs[s] = rates[s] * size / 1e3;
            send_rate += (double)sent * 1e3 / to_ns(t1 - t0) / g_set.slices;
            sent_all += sent;
            recv_all += received;
            lost_all += lost;
            lib_lost_all += lib_lost;
            if (received + lost != sent || lib_lost != lost)
                bad++;
        }
        if (!ok) {
            r->failed = true;
            continue;
        }
        r->median = median_of(rates, g_set.slices);
        r->gbs = median_of(gbs, g_set.slices);
        r->lost_pct = sent_all ? 100.0 * (double)lost_all / (double)sent_all : 0.0;
        snprintf(r->note, sizeof(r->note), "%.2f GB/s; sent %.2f M/s, lost %.1f%%%s", r->gbs,
                 send_rate, r->lost_pct, bad ? ", LOSS COUNT MISMATCH" : "");
        (void)recv_all;
        (void)lib_lost_all;
        /* Ratio to memcpy of the same block: delivered bytes/s over copied bytes/s. */
        const row_t *m = memcpy_rows[i];
        if (m && !m->failed && m->median > 0) {
            r->ratio = r->gbs / m->median;
            snprintf(r->ratio_to, sizeof(r->ratio_to), "memcpy %s", label);
        }
        if (size == 64 && r64_out)
            *r64_out = r;
        if (size == 65536 && r64k_out)
            *r64k_out = r;
    }
    if (ok) {
        shm_server_send(srv, g_out, 2); /* ends the sink */
        finish_cmd();
    }
    shm_server_destroy(srv);
}

/* The CPU a reader blocked in receive for idle_s uses. */
row_t *bench_idle(bool with_callback)
{
    char name[96];
    row_t *r = new_row("idle", "reader blocked in receive%s",
                       with_callback ? ", event callback set" : "");
    r->unit = U_PCT;
    shm_server_t *srv = make_server(with_callback ? "idlecb" : "idle", true, name, sizeof(name));
    if (!srv || !issue(CMD_XSHM_IDLE, with_callback ? 1u : 0u, 0, name)) {
        r->failed = true;
        shm_server_destroy(srv);
        return r;
    }
    /* A counter that moves in steps (Windows: clock ticks) needs a window long
     * enough for one step to be at most a third of 1%; up to 5 s. */
    uint64_t step = C->res[2];
    double window = g_set.idle_s;
    if (!g_set.quick && step * 300.0 / 1e9 > window)
        window = step * 300.0 / 1e9 > 5.0 ? 5.0 : step * 300.0 / 1e9;
    xs_sleep_ms((unsigned)(window * 1000));
    memset(g_out, 0x11, 8);
    shm_server_send(srv, g_out, 8);
    if (!finish_cmd()) {
        r->failed = true;
    } else {
        uint64_t cpu = C->res[0], wall = C->res[1];
        r->median = wall ? 100.0 * (double)cpu / (double)wall : -1;
        r->bound = wall ? 100.0 * (double)(cpu + step) / (double)wall : -1;
        if (step >= 1000000u)
            snprintf(r->note, sizeof(r->note),
                     "%.1f ms CPU in %.2f s; counter step %.1f ms: at most %.2f %%", cpu / 1e6,
                     wall / 1e9, step / 1e6, r->bound);
        else
            snprintf(r->note, sizeof(r->note), "%.2f ms CPU in %.2f s of the child", cpu / 1e6,
                     wall / 1e9);
    }
    shm_server_destroy(srv);
    return r;
}

