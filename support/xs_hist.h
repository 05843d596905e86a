/*
 * xs_hist.h - a latency histogram (see xsupport.h).
 *
 * Log-linear: exact below 256, then 128 buckets per power of two, so that a
 * quantile is within 0.8% of the true value; values up to 2^40 (larger ones
 * count as 2^40 - 1). The unit is the caller's (ns, ticks). 37 KiB: keep
 * one in static storage or on the heap rather than on a small stack.
 */
#ifndef XSHM_XS_HIST_H
#define XSHM_XS_HIST_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XS_HIST_SUB 128u
#define XS_HIST_BUCKETS (XS_HIST_SUB * 36u)

typedef struct xs_hist {
    uint64_t n;   /* values added */
    uint64_t max; /* the largest, exact */
    uint64_t sum; /* of all values, for the mean */
    uint64_t b[XS_HIST_BUCKETS];
} xs_hist_t;

/* Empty it. */
void xs_hist_reset(xs_hist_t *h);

/* Count one value. */
void xs_hist_add(xs_hist_t *h, uint64_t v);

/* The value at quantile q (0..1, nearest rank): the middle of its bucket;
 * 0 when empty. */
double xs_hist_quantile(const xs_hist_t *h, double q);

/* The mean of the values added (exact); 0 when empty. */
double xs_hist_mean(const xs_hist_t *h);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_XS_HIST_H */
