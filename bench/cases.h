/*
 * cases.h - the benchmark's cases, each adding its rows (see bench.h).
 */
#ifndef XSHM_BENCH_CASES_H
#define XSHM_BENCH_CASES_H

#include "bench.h"

/* floor and ceiling (case_floor.c) */
row_t *bench_floor_cacheline(void);
row_t *bench_floor_threads(void);
row_t *bench_floor_wake(void);
void bench_ceiling(const row_t *mc[3]);

/* xshm (case_xshm.c): round trips on one channel, returning the 64 B row;
 * one-way throughput (its 64 B and 64 KiB rows); the idle reader. */
row_t *bench_xshm_rtt(bool blocking, const row_t *floor);
void bench_xshm_oneway(const row_t *const *memcpy_rows, bool views, row_t **r64_out,
                       row_t **r64k_out);
row_t *bench_xshm_rtt_views(const row_t *floor);
row_t *bench_xshm_request_reply(uint32_t clients, const row_t *floor);
row_t *bench_idle(bool with_callback);

/* alternatives (case_stream.c): one stream kind, returning its round-trip row */
row_t *bench_stream(int kind, const row_t *wake_floor, const row_t *const *memcpy_rows);

#endif /* XSHM_BENCH_CASES_H */
