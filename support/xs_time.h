/*
 * xs_time.h - clocks and waiting for programs (see xsupport.h).
 */
#ifndef XSHM_XS_TIME_H
#define XSHM_XS_TIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Monotonic clock, arbitrary origin: nanoseconds and milliseconds. */
uint64_t xs_now_ns(void);
uint64_t xs_now_ms(void);

/* Sleep at least ms milliseconds (a signal does not cut it short). */
void xs_sleep_ms(uint32_t ms);

/* Give the CPU to another thread that is ready to run, if any. */
void xs_yield(void);

/* A spin-wait hint to the processor (x86: PAUSE); nothing elsewhere. */
void xs_cpu_relax(void);

/* CPU time (user + system) this process has used, in ns. Its step is the
 * OS's accounting unit: ns on Linux, a clock tick (~15.6 ms) on Windows. */
uint64_t xs_process_cpu_ns(void);

/*
 * xs_ticks(): a cheap timestamp for timing individual operations: the TSC
 * on x86 (XS_TICKS_NAME "TSC"), the monotonic clock in ns elsewhere.
 * xs_ticks_per_ns(ms) measures its rate against the monotonic clock for
 * ms milliseconds (1.0 without a TSC).
 */
#if defined(_M_IX86) || defined(_M_X64) || defined(__i386__) || defined(__x86_64__)
#define XS_HAVE_TSC 1
#define XS_TICKS_NAME "TSC"
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <x86intrin.h>
#endif
static inline uint64_t xs_ticks(void) { return (uint64_t)__rdtsc(); }
#else
#define XS_TICKS_NAME "monotonic clock"
static inline uint64_t xs_ticks(void) { return xs_now_ns(); }
#endif

double xs_ticks_per_ns(uint32_t ms);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_XS_TIME_H */
