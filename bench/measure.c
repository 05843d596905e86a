/*
 * measure.c - timing: the tick rate, latency rows (warm-up, then round trips
 * timed one by one into a histogram), plot samples, medians.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

double g_ticks_per_ns = 1.0;

double to_ns(uint64_t t) { return (double)t / g_ticks_per_ns; }
uint64_t ns_to_ticks(double ns) { return (uint64_t)(ns * g_ticks_per_ns); }

plot_set_t g_plots[8];
int g_nplots;
static uint64_t g_rng = 0x2545F4914F6CDD1Dull;

static uint64_t rng(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

static void plot_add(plot_set_t *p, uint64_t t)
{
    double ns = to_ns(t);
    uint32_t v = ns > 4e9 ? 4000000000u : (uint32_t)(ns + 0.5);
    p->seen++;
    if (p->n < PLOT_CAP)
        p->v[p->n++] = v;
    else {
        uint64_t j = rng() % p->seen;
        if (j < PLOT_CAP)
            p->v[(size_t)j] = v;
    }
}

plot_set_t *plot_for(const char *file, const char *title)
{
    if (!g_set.plot || g_nplots == (int)(sizeof(g_plots) / sizeof(g_plots[0])))
        return NULL;
    plot_set_t *p = &g_plots[g_nplots];
    p->v = (uint32_t *)malloc(sizeof(uint32_t) * PLOT_CAP);
    if (!p->v)
        return NULL;
    p->file = file;
    p->title = title;
    p->n = p->seen = 0;
    g_nplots++;
    return p;
}

static xs_hist_t g_hist;

/* Spin for `ns` (outside the timed region of a round trip). */
uint64_t g_pause_ns;

static void pause_before(void)
{
    uint64_t end = xs_ticks() + ns_to_ticks((double)g_pause_ns);
    while (xs_ticks() < end) {
    }
}

/* A latency row goes on past run_s until it has this many samples (a peer
 * descheduled by other work can stall a round trip for a second), up to ten
 * times run_s. */
#define MIN_SAMPLES 1000u

/* Warm up, then time round trips one by one for run_s seconds (after a
 * pause of g_pause_ns before each, when set). */
bool measure_latency(row_t *r, op_fn op, void *ctx, plot_set_t *plot)
{
    uint64_t end = xs_ticks() + ns_to_ticks(g_set.warm_s * 1e9);
    while (xs_ticks() < end) {
        if (g_pause_ns)
            pause_before();
        if (!op(ctx)) {
            r->failed = true;
            return false;
        }
    }
    xs_hist_reset(&g_hist);
    uint64_t start = xs_ticks();
    uint64_t last = start + ns_to_ticks(10 * g_set.run_s * 1e9);
    end = start + ns_to_ticks(g_set.run_s * 1e9);
    for (;;) {
        if (g_pause_ns)
            pause_before();
        uint64_t t0 = xs_ticks();
        if (!op(ctx)) {
            r->failed = true;
            return false;
        }
        uint64_t t1 = xs_ticks();
        xs_hist_add(&g_hist, t1 - t0);
        if (plot)
            plot_add(plot, t1 - t0);
        if ((t1 >= end && g_hist.n >= MIN_SAMPLES) || t1 >= last)
            break;
    }
    if (g_hist.n < MIN_SAMPLES)
        snprintf(r->note, sizeof(r->note), "only %" PRIu64 " round trips in %.1f s: disturbed",
                 g_hist.n, to_ns(xs_ticks() - start) / 1e9);
    r->unit = U_NS;
    r->samples = g_hist.n;
    r->median = to_ns((uint64_t)xs_hist_quantile(&g_hist, 0.5));
    r->p99 = to_ns((uint64_t)xs_hist_quantile(&g_hist, 0.99));
    r->p999 = to_ns((uint64_t)xs_hist_quantile(&g_hist, 0.999));
    r->max = to_ns(g_hist.max);
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

