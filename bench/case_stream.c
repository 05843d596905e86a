/*
 * case_stream.c - the alternatives: a 64-byte round trip and one-way
 * throughput over the OS's byte streams (Linux: pipe and Unix-domain
 * socket; Windows: a named pipe; mechanisms.c), against the same floor and
 * ceiling as xshm.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cases.h"

static bool op_stream(void *ctx)
{
    stream_ctx_t *s = (stream_ctx_t *)ctx;
    g_out[0] = 0;
    return s_write(s->wr, g_out, 64) && s_read_exact(s->rd, g_in, 64);
}

row_t *bench_stream(int kind, const row_t *wake_floor, const row_t *const *memcpy_rows)
{
    stream_ctx_t s;
    const char *what = stream_names[kind];
    row_t *rtt = new_row("alt", "%s round trip 64 B", what);
    if (!stream_ends(kind, false, &s) || !issue(CMD_STREAM_ECHO, (uint32_t)kind, 0, NULL) ||
        !stream_connected(kind)) {
        rtt->failed = true;
        return rtt;
    }
    static const char *const files[] = {"rtt_64B_pipe.txt", "rtt_64B_unix_socket.txt",
                                        "rtt_64B_named_pipe.txt"};
    measure_latency(rtt, op_stream, &s, plot_for(files[kind], what));
    g_out[0] = 1; /* ends the echo */
    s_write(s.wr, g_out, 64);
    finish_cmd();
    set_ratio(rtt, wake_floor, false, "wake-up floor");

    static const uint32_t sizes[] = {64, 65536};
    for (int i = 0; i < 2; i++) {
        char label[16];
        uint32_t size = sizes[i];
        double rates[16];
        bool ok = true;
        size_label(label, sizeof(label), size);
        row_t *r = new_row("alt", "%s one-way %s", what, label);
        r->unit = U_MPS;
        if (!issue(CMD_STREAM_SINK, (uint32_t)kind, size, NULL)) {
            r->failed = true;
            continue;
        }
        uint32_t slice_no = xs_load32(&C->slice.v);
        for (int sl = -1; ok && sl < g_set.slices; sl++) {
            double secs = sl < 0 ? g_set.warm_s : g_set.slice_s;
            uint64_t end = xs_ticks() + ns_to_ticks(secs * 1e9);
            memset(g_out, 0, size);
            do {
                for (int k = 0; k < 16 && ok; k++)
                    ok = s_write(s.wr, g_out, size);
            } while (ok && xs_ticks() < end);
            g_out[0] = sl == g_set.slices - 1 ? 2 : 1; /* end of slice / of the sink */
            ok = ok && s_write(s.wr, g_out, size) && wait_child(&C->slice.v, ++slice_no);
            if (ok && sl >= 0) {
                uint64_t bytes = C->res[0], rx_ns = C->res[1];
                rates[sl] = rx_ns ? (double)bytes / size * 1e3 / (double)rx_ns : 0;
            }
        }
        ok = finish_cmd() && ok;
        if (!ok) {
            r->failed = true;
            continue;
        }
        r->median = median_of(rates, g_set.slices);
        r->gbs = r->median * size / 1e3;
        snprintf(r->note, sizeof(r->note), "%.2f GB/s; %u-byte writes, nothing lost", r->gbs,
                 size);
        const row_t *m = memcpy_rows[i == 0 ? 0 : 2];
        if (m && !m->failed && m->median > 0) {
            r->ratio = r->median * size / 1e3 / m->median;
            snprintf(r->ratio_to, sizeof(r->ratio_to), "memcpy %s", label);
        }
    }
    return rtt;
}

