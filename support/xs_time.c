/*
 * xs_time.c - clocks and waiting (see xs_time.h).
 */
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#if !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep */
#endif
#include <errno.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>
#endif

#include "xs_time.h"

#ifdef _WIN32

uint64_t xs_now_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER c;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&c);
    uint64_t f = (uint64_t)freq.QuadPart, v = (uint64_t)c.QuadPart;
    return v / f * 1000000000u + v % f * 1000000000u / f;
}

void xs_sleep_ms(uint32_t ms) { Sleep(ms); }

void xs_yield(void) { SwitchToThread(); }

void xs_cpu_relax(void) { YieldProcessor(); }

uint64_t xs_process_cpu_ns(void)
{
    FILETIME c, e, k, u;
    if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u))
        return 0;
    uint64_t kk = ((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime;
    uint64_t uu = ((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime;
    return (kk + uu) * 100u;
}

#else

uint64_t xs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void xs_sleep_ms(uint32_t ms)
{
    struct timespec req, rem;
    req.tv_sec = (time_t)(ms / 1000u);
    req.tv_nsec = (long)(ms % 1000u) * 1000000L;
    while (nanosleep(&req, &rem) != 0 && errno == EINTR)
        req = rem;
}

void xs_yield(void) { sched_yield(); }

void xs_cpu_relax(void)
{
#if defined(__i386__) || defined(__x86_64__)
    __builtin_ia32_pause();
#endif
}

uint64_t xs_process_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

#endif

uint64_t xs_now_ms(void) { return xs_now_ns() / 1000000u; }

double xs_ticks_per_ns(uint32_t ms)
{
    uint64_t t0 = xs_now_ns(), c0 = xs_ticks(), t1, c1;
    do {
        t1 = xs_now_ns();
        c1 = xs_ticks();
    } while (t1 - t0 < (uint64_t)ms * 1000000u);
    return (double)(c1 - c0) / (double)(t1 - t0);
}
