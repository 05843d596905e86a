/*
 * xs_hist.c - the latency histogram (see xs_hist.h).
 */
#include <string.h>

#include "xs_hist.h"

static uint32_t log2_u64(uint64_t v)
{
    uint32_t r = 0;
    if (v >> 32) {
        v >>= 32;
        r += 32;
    }
    if (v >> 16) {
        v >>= 16;
        r += 16;
    }
    if (v >> 8) {
        v >>= 8;
        r += 8;
    }
    if (v >> 4) {
        v >>= 4;
        r += 4;
    }
    if (v >> 2) {
        v >>= 2;
        r += 2;
    }
    return r + (uint32_t)(v >> 1);
}

void xs_hist_reset(xs_hist_t *h) { memset(h, 0, sizeof(*h)); }

void xs_hist_add(xs_hist_t *h, uint64_t v)
{
    uint32_t idx;
    h->sum += v;
    if (v > h->max)
        h->max = v;
    h->n++;
    if (v >= ((uint64_t)1 << 40))
        v = ((uint64_t)1 << 40) - 1;
    if (v < 2 * XS_HIST_SUB) {
        idx = (uint32_t)v;
    } else {
        uint32_t e = log2_u64(v) - 7;
        idx = e * XS_HIST_SUB + (uint32_t)(v >> e);
    }
    h->b[idx]++;
}

double xs_hist_quantile(const xs_hist_t *h, double q)
{
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;
    if (h->n == 0)
        return 0;
    if (rank < 1)
        rank = 1;
    for (uint32_t i = 0; i < XS_HIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            if (i < 2 * XS_HIST_SUB)
                return (double)i;
            uint32_t e = i / XS_HIST_SUB - 1, m = i - e * XS_HIST_SUB;
            double mid = ((double)m + 0.5) * (double)((uint64_t)1 << e);
            return mid > (double)h->max ? (double)h->max : mid;
        }
    }
    return (double)h->max;
}

double xs_hist_mean(const xs_hist_t *h) { return h->n ? (double)h->sum / (double)h->n : 0; }
