/*
 * case_floor.c - this machine's floor and ceiling, which the other rows are
 * compared with: a bare cache-line ping-pong between the two processes
 * (busy), a bare wake-up ping-pong with the OS's primitive (blocking), and
 * single-thread memcpy.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cases.h"

/* ---- floor ---------------------------------------------------------------------------------- */

static uint32_t g_ping_no;

static bool op_cacheline(void *ctx)
{
    uint32_t i = ++g_ping_no;
    floor_pair_t *p = &C->floor[i % FLOOR_PAIRS];
    (void)ctx;
    xs_store32(&p->ping.v, i);
    while (xs_load32(&p->pong.v) != i) {
    }
    return true;
}

static bool op_wake(void *ctx)
{
    (void)ctx;
    wake_ping(++g_ping_no);
    return true;
}

row_t *bench_floor_cacheline(void)
{
    row_t *r = new_row("floor", "cache-line ping-pong, round trip");
    for (uint32_t k = 0; k < FLOOR_PAIRS; k++) {
        xs_store32(&C->floor[k].ping.v, 0);
        xs_store32(&C->floor[k].pong.v, 0);
    }
    g_ping_no = 0;
    if (!issue(CMD_CACHELINE, 0, 0, NULL)) {
        r->failed = true;
        return r;
    }
    measure_latency(r, op_cacheline, NULL, plot_for("rtt_floor_cacheline.txt", "floor: cache-line ping-pong"));
    xs_store32(&C->floor[(g_ping_no + 1) % FLOOR_PAIRS].ping.v, STOP);
    finish_cmd();
    if (!r->note[0]) /* else: says it was disturbed */
        snprintf(r->note, sizeof(r->note), "busy baseline; %u line pairs in turn", FLOOR_PAIRS);
    return r;
}

/* The other end of the thread floor: the child's loop, in a thread of ours
 * on the child's CPU. */
static void floor_echo_thread(void *arg)
{
    bool *pinned = (bool *)arg;
    *pinned = g_cpu_child >= 0 && xs_pin_to(g_cpu_child);
    for (uint32_t i = 1;;) {
        floor_pair_t *p = &C->floor[i % FLOOR_PAIRS];
        uint32_t v = xs_load32(&p->ping.v);
        if (v == STOP)
            break;
        if (v != i)
            continue;
        xs_store32(&p->pong.v, v);
        i++;
    }
}

/* The same walk between two threads of this process: what two processes
 * add to it (nothing, when the lines are the same) shows beside it. */
row_t *bench_floor_threads(void)
{
    row_t *r = new_row("floor", "cache-line ping-pong, two threads");
    for (uint32_t k = 0; k < FLOOR_PAIRS; k++) {
        xs_store32(&C->floor[k].ping.v, 0);
        xs_store32(&C->floor[k].pong.v, 0);
    }
    g_ping_no = 0;
    bool pinned = false;
    xs_thread_t t;
    if (!xs_thread_start(&t, floor_echo_thread, &pinned)) {
        r->failed = true;
        return r;
    }
    measure_latency(r, op_cacheline, NULL, NULL);
    xs_store32(&C->floor[(g_ping_no + 1) % FLOOR_PAIRS].ping.v, STOP);
    xs_thread_join(&t);
    if (!r->note[0])
        snprintf(r->note, sizeof(r->note), "busy baseline of the target; %u line pairs%s",
                 FLOOR_PAIRS, pinned ? "" : "; second thread not pinned");
    return r;
}

row_t *bench_floor_wake(void)
{
    row_t *r = new_row("floor", "%s", wake_row_name);
    xs_store32(&C->wake_a.v, 0);
    xs_store32(&C->wake_b.v, 0);
    g_ping_no = 0;
    if (!issue(CMD_WAKE, 0, 0, NULL)) {
        r->failed = true;
        return r;
    }
    measure_latency(r, op_wake, NULL, plot_for("rtt_floor_wakeup.txt", "floor: wake-up ping-pong"));
    wake_stop();
    finish_cmd();
    if (!r->note[0]) /* else: says it was disturbed */
        snprintf(r->note, sizeof(r->note), "blocking baseline");
    return r;
}

/* ---- ceiling: memcpy ------------------------------------------------------------------------ */

/* Called through a volatile pointer: a real call to the C library's memcpy
 * every time, as in the library, never folded by the compiler. */
static void *(*volatile g_memcpy)(void *, const void *, size_t) = memcpy;

/* Median bytes/ns (= GB/s) over the slices. Source and destination lie in
 * one allocation, 64 bytes off a multiple of 4096 apart: two blocks from
 * malloc lie 16 bytes off (the allocator's header), and the C library's
 * memcpy of some CPUs (rep movsb on AMD Zen) runs 20 times slower at that
 * distance (1.3 against 24 to 32 GB/s for 64 KiB here), which would make
 * the ceiling a floor. */
static double memcpy_rate(size_t block)
{
    size_t apart = (block + 4095u) / 4096u * 4096u + 64u;
    unsigned char *mem = (unsigned char *)malloc(apart + block + 64u);
    double rates[16];
    int slices = g_set.slices;
    uint32_t batch = block >= 65536 ? 16 : block >= 1024 ? 512 : 4096;
    if (!mem)
        die("out of memory");
    unsigned char *src = mem + (64u - (uintptr_t)mem % 64u) % 64u, *dst = src + apart;
    memset(src, 0x5A, block);
    memset(dst, 0, block);
    uint64_t end = xs_ticks() + ns_to_ticks(g_set.warm_s * 1e9);
    while (xs_ticks() < end)
        for (uint32_t k = 0; k < batch; k++)
            g_memcpy(dst, src, block);
    for (int s = 0; s < slices; s++) {
        uint64_t copies = 0, t0 = xs_ticks(), t1;
        end = t0 + ns_to_ticks(g_set.slice_s * 1e9);
        do {
            for (uint32_t k = 0; k < batch; k++)
                g_memcpy(dst, src, block);
            copies += batch;
            t1 = xs_ticks();
        } while (t1 < end);
        rates[s] = (double)copies * (double)block / to_ns(t1 - t0);
    }
    free(mem);
    return median_of(rates, slices);
}

/* The ceiling rows: memcpy of 64 B, 1 KiB and 64 KiB blocks into mc[0..2],
 * and the 64 B copies per second. */
void bench_ceiling(const row_t *mc[3])
{
    static const size_t blocks[] = {64, 1024, 65536};
    for (int i = 0; i < 3; i++) {
        char label[16];
        size_label(label, sizeof(label), (uint32_t)blocks[i]);
        row_t *r = new_row("ceiling", "memcpy %s blocks, one thread", label);
        r->unit = U_GBS;
        r->median = memcpy_rate(blocks[i]);
        mc[i] = r;
    }
    row_t *mcc = new_row("ceiling", "memcpy 64 B copies per second");
    mcc->unit = U_MPS;
    mcc->median = mc[0]->median * 1e3 / 64;
    snprintf(mcc->note, sizeof(mcc->note), "same measurement as the 64 B row");
}
