/*
 * xs_machine.h - the machine a program runs on: CPUs, pinning, what to print
 * about it (see xsupport.h).
 */
#ifndef XSHM_XS_MACHINE_H
#define XSHM_XS_MACHINE_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CPUs online. */
int xs_cpu_count(void);

/* The first `max` CPUs this process may run on, in cpus[]; returns how
 * many (0 when the OS does not say). */
int xs_cpus_allowed(int *cpus, int max);

/* Run on `cpu` only: the calling thread on Linux (the whole process of a
 * single-threaded program), the process on Windows. False when refused. */
bool xs_pin_to(int cpu);
/* Pin the calling thread alone to `cpu`; false when the OS refuses (on
 * Windows, also when the process may not run there). */
bool xs_pin_thread_to(int cpu);

/* The processor's brand string (x86 CPUID), or "unknown CPU". */
void xs_cpu_model(char *out, size_t n);

/* The OS, its release and processor, and the build's pointer width, e.g.
 * "Linux 6.1.0 x86_64, 64-bit build" or "Windows API under Wine 8.0, 64-bit
 * build". */
void xs_os_description(char *out, size_t n);

/* The 1-minute load average; < 0 where there is none (Windows). */
double xs_load_average(void);

/* CPU seconds the whole machine has spent busy, and in hypervisor steal,
 * since boot (Linux /proc/stat); false where unknown (Windows). */
bool xs_machine_cpu_s(double *busy, double *steal);

/* CPU seconds used by this process and its reaped children (Linux);
 * 0 where unknown. */
double xs_own_cpu_s(void);

/*
 * The file (shared library or program) the function `fn` was loaded from,
 * as a path, and its build id: the GNU build-id note on Linux, the PE
 * header's link time on Windows ("none" when it has none). For a DLL on
 * Windows name it in `dll` (NULL: the program): the module is found by
 * name there. "unknown" when it cannot be told.
 */
void xs_module_of(const void *fn, const char *dll, char *path, size_t npath, char *id,
                  size_t nid);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_XS_MACHINE_H */
