/*
 * xsupport.h - the support library of xshm's programs (benchmark, stress
 * pair, soak, test helpers): everything they need from the OS beyond the
 * public API, written once for Linux and Windows.
 *
 *   xs_time.h    monotonic clock, sleep, yield, the TSC, process CPU time
 *   xs_atomic.h  32-bit words handed between threads or processes
 *   xs_thread.h  threads and a flag one thread raises for another
 *   xs_proc.h    start a program (or a copy of this one), wait, kill;
 *                find a program on PATH, run a command in a folder
 *   xs_machine.h CPUs this process may use, pinning, what to print about
 *                the machine and the library a program loaded
 *   xs_hist.h    latency histogram with percentiles
 *
 * Not part of the library nor installed: examples stay self-contained.
 * Every name is xs_*.
 */
#ifndef XSHM_XSUPPORT_H
#define XSHM_XSUPPORT_H

#include "xs_atomic.h"
#include "xs_hist.h"
#include "xs_machine.h"
#include "xs_proc.h"
#include "xs_thread.h"
#include "xs_time.h"

#endif /* XSHM_XSUPPORT_H */
