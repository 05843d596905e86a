/*
 * xs_machine.c - CPUs, pinning, machine description (see xs_machine.h).
 */
#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET, dladdr, dl_iterate_phdr */
#endif
#include <dlfcn.h>
#include <limits.h>
#include <link.h>
#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <unistd.h>
#endif

#if defined(_M_IX86) || defined(_M_X64) || defined(__i386__) || defined(__x86_64__)
#define XS_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#endif
#endif

#include "xs_machine.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void xs_cpu_model(char *out, size_t n)
{
    char brand[49];
    memset(brand, 0, sizeof(brand));
#if defined(XS_X86) && defined(_MSC_VER) && !defined(__clang__)
    int r[4];
    __cpuid(r, (int)0x80000000);
    if ((unsigned)r[0] >= 0x80000004u)
        for (int i = 0; i < 3; i++) {
            __cpuid(r, (int)(0x80000002u + (unsigned)i));
            memcpy(brand + 16 * i, r, 16);
        }
#elif defined(XS_X86)
    unsigned r[4];
    if (__get_cpuid(0x80000000u, &r[0], &r[1], &r[2], &r[3]) && r[0] >= 0x80000004u)
        for (unsigned i = 0; i < 3; i++) {
            __get_cpuid(0x80000002u + i, &r[0], &r[1], &r[2], &r[3]);
            memcpy(brand + 16 * i, r, 16);
        }
#endif
    const char *b = brand;
    while (*b == ' ')
        b++;
    snprintf(out, n, "%s", *b ? b : "unknown CPU");
}

#ifdef _WIN32

int xs_cpu_count(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (int)si.dwNumberOfProcessors;
}

int xs_cpus_allowed(int *cpus, int max)
{
    DWORD_PTR proc = 0, sys = 0;
    int k = 0;
    if (!GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys))
        return 0;
    for (int i = 0; i < (int)(sizeof(DWORD_PTR) * 8) && k < max; i++)
        if (proc & ((DWORD_PTR)1 << i))
            cpus[k++] = i;
    return k;
}

bool xs_pin_to(int cpu)
{
    if (cpu < 0 || cpu >= (int)(sizeof(DWORD_PTR) * 8))
        return false;
    return SetProcessAffinityMask(GetCurrentProcess(), (DWORD_PTR)1 << cpu) != 0;
}

bool xs_pin_thread_to(int cpu)
{
    DWORD_PTR process_mask, system_mask;
    if (cpu < 0 || cpu >= (int)(sizeof(DWORD_PTR) * 8) ||
        !GetProcessAffinityMask(GetCurrentProcess(), &process_mask, &system_mask) ||
        (process_mask & ((DWORD_PTR)1 << cpu)) == 0)
        return false;
    return SetThreadAffinityMask(GetCurrentThread(), (DWORD_PTR)1 << cpu) != 0;
}

void xs_os_description(char *out, size_t n)
{
    HMODULE ntdll = GetModuleHandleA("ntdll.dll");
    FARPROC p = ntdll ? GetProcAddress(ntdll, "wine_get_version") : NULL;
    if (p) {
        const char *(*wine_version)(void) = (const char *(*)(void))(void (*)(void))p;
        snprintf(out, n, "Windows API under Wine %s, %d-bit build", wine_version(),
                 (int)(sizeof(void *) * 8));
    } else {
        snprintf(out, n, "Windows, %d-bit build", (int)(sizeof(void *) * 8));
    }
}

double xs_load_average(void) { return -1; }

bool xs_machine_cpu_s(double *busy, double *steal)
{
    (void)busy;
    (void)steal;
    return false;
}

double xs_own_cpu_s(void) { return 0; }

void xs_module_of(const void *fn, const char *dll, char *path, size_t npath, char *id,
                  size_t nid)
{
    /* The DLL the import table named; a static build has none: the program. */
    HMODULE h = dll ? GetModuleHandleA(dll) : NULL;
    (void)fn;
    if (!h)
        h = GetModuleHandleA(NULL);
    snprintf(path, npath, "unknown");
    snprintf(id, nid, "none");
    if (h) {
        DWORD n = GetModuleFileNameA(h, path, (DWORD)npath);
        if (n == 0 || n >= npath)
            snprintf(path, npath, "unknown");
        /* The PE header's link time stands in for a build id. */
        const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)h;
        const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)((const char *)h + dos->e_lfanew);
        snprintf(id, nid, "link time %08lx", (unsigned long)nt->FileHeader.TimeDateStamp);
    }
}

#else

int xs_cpu_count(void) { return (int)sysconf(_SC_NPROCESSORS_ONLN); }

int xs_cpus_allowed(int *cpus, int max)
{
    cpu_set_t set;
    int k = 0;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return 0;
    for (int i = 0; i < CPU_SETSIZE && k < max; i++)
        if (CPU_ISSET(i, &set))
            cpus[k++] = i;
    return k;
}

bool xs_pin_to(int cpu)
{
    cpu_set_t set;
    if (cpu < 0 || cpu >= CPU_SETSIZE)
        return false;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0;
}

/* sched_setaffinity(0, ...) above already applies to the calling thread only. */
bool xs_pin_thread_to(int cpu) { return xs_pin_to(cpu); }

void xs_os_description(char *out, size_t n)
{
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(out, n, "%.20s %.40s %.20s, %d-bit build", u.sysname, u.release, u.machine,
                 (int)(sizeof(void *) * 8));
    else
        snprintf(out, n, "Linux, %d-bit build", (int)(sizeof(void *) * 8));
}

double xs_load_average(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l1 = -1;
    if (f) {
        if (fscanf(f, "%lf", &l1) != 1)
            l1 = -1;
        fclose(f);
    }
    return l1;
}

bool xs_machine_cpu_s(double *busy, double *steal)
{
    unsigned long long v[8] = {0};
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return false;
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 8)
        return false;
    double hz = (double)sysconf(_SC_CLK_TCK);
    *busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / hz; /* user nice system irq softirq */
    *steal = (double)v[7] / hz;
    return true;
}

double xs_own_cpu_s(void)
{
    struct rusage a, b;
    if (getrusage(RUSAGE_SELF, &a) != 0 || getrusage(RUSAGE_CHILDREN, &b) != 0)
        return 0;
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
                    b.ru_stime.tv_usec) / 1e6;
}

typedef struct build_id_search {
    uintptr_t base;
    char *out;
    size_t n;
} build_id_search_t;

static int find_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
    build_id_search_t *b = (build_id_search_t *)arg;
    (void)size;
    if ((uintptr_t)info->dlpi_addr != b->base)
        return 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const unsigned char *p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        const unsigned char *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)(const void *)p;
            const unsigned char *name = p + sizeof(*nh);
            const unsigned char *desc = name + ((nh->n_namesz + 3u) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && memcmp(name, "GNU", 4) == 0 &&
                desc + nh->n_descsz <= end) {
                size_t k = 0;
                for (uint32_t j = 0; j < nh->n_descsz && k + 3 <= b->n; j++, k += 2)
                    snprintf(b->out + k, b->n - k, "%02x", desc[j]);
                return 1;
            }
            p = desc + ((nh->n_descsz + 3u) & ~3u);
        }
    }
    return 1;
}

void xs_module_of(const void *fn, const char *dll, char *path, size_t npath, char *id,
                  size_t nid)
{
    Dl_info info;
    (void)dll;
    snprintf(path, npath, "unknown");
    snprintf(id, nid, "none");
    if (dladdr(fn, &info) == 0 || !info.dli_fname)
        return;
    char real[PATH_MAX];
    if (realpath(info.dli_fname, real))
        snprintf(path, npath, "%s", real);
    else
        snprintf(path, npath, "%s", info.dli_fname);
    /* dl_iterate_phdr names objects by load bias: a shared library's is its base */
    build_id_search_t b = {(uintptr_t)info.dli_fbase, id, nid};
    dl_iterate_phdr(find_build_id, &b);
}

#endif
