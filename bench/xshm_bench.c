/*
 * xshm_bench.c - xshm measured against this machine's floor and ceiling.
 *
 * Prints one table per run:
 *   floor        a bare cache-line ping-pong between two processes over a
 *                shared mapping (busy; round trip i on the i-th of 512 line
 *                pairs, as a line's cost depends on its address), and a bare
 *                wake-up ping-pong with the
 *                platform's primitive (Linux: futex on a shared word;
 *                Windows: a pair of named auto-reset events);
 *   ceiling      single-thread memcpy of 64 B, 1 KiB and 64 KiB blocks;
 *   xshm         round trips of 8 B .. 64 KiB, busy-polled (non-blocking
 *                receive in a loop) and blocking (config.blocking = true);
 *                one-way throughput of 64 B, 1 KiB and 64 KiB messages,
 *                delivered rate and loss;
 *   alternatives pipe and Unix-domain socket (Linux), a named pipe (Windows);
 *   idle         the CPU a reader blocked in receive uses.
 * Latency rows give the median and p99 of individually timed round trips
 * (TSC, calibrated against the monotonic clock) over about a second after a
 * warm-up; throughput rows the median of five slices. Ratios compare rows of
 * the same run. The targets are printed as "met" / "NOT met" and never
 * asserted: the exit status is non-zero only when the benchmark cannot run.
 *
 *   xshm_bench [--quick] [--json FILE] [--plot DIR] [--only SECTIONS] [--core]
 *
 *   --quick      shorter samples (about a quarter second per row)
 *   --json FILE  every row, with the machine description, as JSON
 *   --plot DIR   the 64 B round-trip samples of each mechanism (one value in
 *                ns per line), a gnuplot script, and its PNG (histogram and
 *                CDF) when gnuplot is on PATH
 *   --only S,..  only these sections (floor, ceiling, xshm, alt, idle)
 *   --core       only the cache-line floor, the 64 B busy round trip and
 *                one-way 64 B and 64 KiB: what scripts/bench.sh --baseline
 *                compares between two builds of the library
 *
 * The table's header names the libxshm the run loaded (path and build id);
 * the child refuses to run with another one. Each round-trip message carries
 * a sequence number that its echo must return.
 *
 * The other side of every measurement is a child process, a copy of this
 * program started with --child (fork + exec of /proc/self/exe on Linux,
 * CreateProcess on Windows). Parent and child are pinned to two different
 * CPUs when the process may use two.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* sched_setaffinity, CPU_SET, syscall */
#endif
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shm_ipc.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <windows.h>
#else
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#endif

#if defined(_M_IX86) || defined(_M_X64) || defined(__i386__) || defined(__x86_64__)
#define BENCH_X86 1
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#else
#include <cpuid.h>
#include <x86intrin.h>
#endif
#endif

/* ---- shared words between the two processes ------------------------------------ */

#if defined(_MSC_VER) && !defined(__clang__)
static __forceinline uint32_t ld32(const uint32_t *p)
{
    uint32_t v = *(const volatile uint32_t *)p;
    _ReadWriteBarrier();
    return v;
}
static __forceinline void st32(uint32_t *p, uint32_t v)
{
    _ReadWriteBarrier();
    *(volatile uint32_t *)p = v;
}
#else
static inline uint32_t ld32(const uint32_t *p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
static inline void st32(uint32_t *p, uint32_t v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }
#endif

/* One word alone on its cache line. */
typedef struct line {
    uint32_t v;
    uint32_t pad[15];
} line_t;

/* Cache-line floor: ping and pong lines of FLOOR_PAIRS pairs, each line alone
 * in its 128-byte block (no adjacent-line prefetch between the two). A round
 * trip's cost depends on where its line lives: on a mesh of cores it differs
 * by up to 2x from one line to the next (each address has its home on one
 * tile), and one line's figure changes from run to run with the physical
 * page it gets. The floor walks the pairs in turn, as xshm's messages walk
 * their ring, so it is the same mix of placements every run. */
#define FLOOR_PAIRS 512u
typedef struct floor_pair {
    line_t ping; /* parent writes */
    line_t pad0;
    line_t pong; /* child writes */
    line_t pad1;
} floor_pair_t;

/* The control block both processes map. */
typedef struct ctrl {
    line_t cmd_seq;  /* parent: bumped to issue a command */
    line_t ack_seq;  /* child: the command is set up (e.g. connected) */
    line_t done_seq; /* child: the command finished, results written */
    line_t wake_a;   /* wake-up floor (futex words): parent -> child */
    line_t wake_b;   /* child -> parent */
    line_t slice;    /* child: a throughput slice's figures are in res[] */
    uint32_t cmd, arg, arg2;
    int32_t status;  /* child: 0, or an error of the last command */
    char name[64];
    uint64_t res[8];
    char library[512]; /* the parent's libxshm, which the child must load too */
    floor_pair_t floor[FLOOR_PAIRS];
} ctrl_t;

#define STOP 0xFFFFFFFFu

enum {
    CMD_CACHELINE = 1, /* echo each pair's ping into its pong until STOP */
    CMD_WAKE,          /* wake-up echo until STOP */
    CMD_XSHM_ECHO,     /* connect to `name`, echo until a 1-byte message */
    CMD_XSHM_SINK,     /* connect, count slices ended by 1 byte, until 2 bytes */
    CMD_XSHM_IDLE,     /* connect, CPU time of one blocking receive (arg: callback) */
    CMD_STREAM_ECHO,   /* arg: stream kind; echo 64-byte messages */
    CMD_STREAM_SINK,   /* arg: kind, arg2: message size; read slices */
    CMD_EXIT
};

enum { STREAM_PIPE = 0, STREAM_SOCKET = 1, STREAM_NPIPE = 2 };
static const char *const stream_names[] = {"pipe", "Unix socket", "named pipe"};

/* ---- time --------------------------------------------------------------------------- */

#ifdef _WIN32
static uint64_t now_ns(void)
{
    static LARGE_INTEGER freq;
    LARGE_INTEGER c;
    if (freq.QuadPart == 0)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&c);
    return (uint64_t)((double)c.QuadPart * (1e9 / (double)freq.QuadPart));
}
static void sleep_ms(unsigned ms) { Sleep(ms); }
#else
static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000u), (long)(ms % 1000u) * 1000000L};
    nanosleep(&ts, NULL);
}
#endif

/* Timestamps for individual round trips: the TSC where there is one. */
#ifdef BENCH_X86
static uint64_t ticks(void) { return __rdtsc(); }
#else
static uint64_t ticks(void) { return now_ns(); }
#endif
static double g_ticks_per_ns = 1.0;

static void calibrate_ticks(uint32_t ms)
{
    uint64_t t0 = now_ns(), c0 = ticks(), t1, c1;
    do {
        t1 = now_ns();
        c1 = ticks();
    } while (t1 - t0 < (uint64_t)ms * 1000000u);
    g_ticks_per_ns = (double)(c1 - c0) / (double)(t1 - t0);
}

static double to_ns(uint64_t t) { return (double)t / g_ticks_per_ns; }
static uint64_t ns_to_ticks(double ns) { return (uint64_t)(ns * g_ticks_per_ns); }

/* ---- settings and output --------------------------------------------------------------- */

typedef struct settings {
    bool quick;
    bool core;        /* only the rows a before/after comparison needs */
    const char *only; /* comma-separated sections, NULL: all */
    const char *json;
    const char *plot;
    double warm_s;  /* warm-up before each row */
    double run_s;   /* samples per latency row */
    int slices;     /* throughput: slices per row */
    double slice_s; /* throughput: seconds per slice */
    double idle_s;  /* idle reader: seconds blocked */
} settings_t;

static settings_t g_set;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "xshm_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* ---- latency histogram: 128 sub-buckets per power of two (< 0.8% error) ------------ */

#define H_SUB 128u
#define H_BUCKETS (H_SUB * 36u)

typedef struct hist {
    uint64_t n;
    uint64_t max;
    uint64_t b[H_BUCKETS];
} hist_t;

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

static void hist_add(hist_t *h, uint64_t v)
{
    uint32_t idx;
    if (v >= ((uint64_t)1 << 40))
        v = ((uint64_t)1 << 40) - 1;
    if (v < 2 * H_SUB) {
        idx = (uint32_t)v;
    } else {
        uint32_t e = log2_u64(v) - 7;
        idx = e * H_SUB + (uint32_t)(v >> e);
    }
    h->b[idx]++;
    h->n++;
    if (v > h->max)
        h->max = v;
}

/* The value (ticks) at quantile q: the middle of its bucket. */
static double hist_quantile(const hist_t *h, double q)
{
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999), seen = 0;
    if (rank < 1)
        rank = 1;
    for (uint32_t i = 0; i < H_BUCKETS; i++) {
        seen += h->b[i];
        if (seen >= rank) {
            if (i < 2 * H_SUB)
                return (double)i;
            uint32_t e = i / H_SUB - 1, m = i - e * H_SUB;
            return ((double)m + 0.5) * (double)((uint64_t)1 << e);
        }
    }
    return (double)h->max;
}

/* ---- rows -------------------------------------------------------------------------------- */

typedef enum { U_NS, U_GBS, U_MPS, U_PCT } unit_t;

typedef struct row {
    const char *section;
    char name[64];
    unit_t unit;
    double median, p99, p999, max; /* p99 < 0: not a latency row */
    uint64_t samples;
    char note[96];                 /* secondary figures */
    double ratio;                  /* < 0: none */
    char ratio_to[40];
    char target[40];               /* "" when none */
    int met;                       /* -1 none, 0 not met, 1 met */
    bool failed;                   /* could not be measured */
    double bound;                  /* idle: upper bound given the counter's step */
    double gbs;                    /* one-way rows: delivered GB/s (< 0: none) */
} row_t;

#define MAX_ROWS 40
static row_t g_rows[MAX_ROWS];
static int g_nrows;

static row_t *new_row(const char *section, const char *fmt, ...)
{
    va_list ap;
    if (g_nrows == MAX_ROWS)
        die("too many rows");
    row_t *r = &g_rows[g_nrows++];
    memset(r, 0, sizeof(*r));
    r->section = section;
    r->p99 = r->p999 = r->max = -1;
    r->ratio = -1;
    r->met = -1;
    r->gbs = -1;
    va_start(ap, fmt);
    vsnprintf(r->name, sizeof(r->name), fmt, ap);
    va_end(ap);
    return r;
}

static void set_ratio(row_t *r, const row_t *base, bool inverse, const char *to)
{
    if (r->failed || !base || base->failed || base->median <= 0 || r->median <= 0)
        return;
    r->ratio = inverse ? base->median / r->median : r->median / base->median;
    snprintf(r->ratio_to, sizeof(r->ratio_to), "%s", to);
}

/* target: value <= limit (le) or >= limit; a value < 0 (no baseline in
 * this run, see --only) leaves it undecided (met = -1, printed "n/a"). */
static void set_target(row_t *r, double value, bool le, double limit, const char *text)
{
    snprintf(r->target, sizeof(r->target), "%s", text);
    if (r->failed)
        r->met = 0;
    else if (value < 0)
        r->met = -1;
    else
        r->met = le ? value <= limit : value >= limit;
}

static void fmt_value(char *out, size_t n, unit_t u, double v)
{
    if (v < 0) {
        snprintf(out, n, "-");
        return;
    }
    switch (u) {
    case U_NS:
        if (v < 1e3)
            snprintf(out, n, "%.0f ns", v);
        else if (v < 1e6)
            snprintf(out, n, "%.2f us", v / 1e3);
        else
            snprintf(out, n, "%.2f ms", v / 1e6);
        break;
    case U_GBS:
        snprintf(out, n, "%.2f GB/s", v);
        break;
    case U_MPS:
        if (v >= 1)
            snprintf(out, n, "%.2f M/s", v);
        else
            snprintf(out, n, "%.1f k/s", v * 1e3);
        break;
    case U_PCT:
        snprintf(out, n, "%.3f %%", v);
        break;
    }
}

/* ---- shared control block, child process, pinning ------------------------------------- */

static ctrl_t *C;
static char g_ctrl_name[64];
static int g_cpu_parent = -1, g_cpu_child = -1;
static char g_pin_note[160];

#ifdef _WIN32
static HANDLE g_ctrl_map, g_ev_a, g_ev_b, g_child, g_parent, g_npipe = INVALID_HANDLE_VALUE;

static void ctrl_create(void)
{
    snprintf(g_ctrl_name, sizeof(g_ctrl_name), "Local\\xshm_bench.%lu",
             (unsigned long)GetCurrentProcessId());
    g_ctrl_map = CreateFileMappingA(INVALID_HANDLE_VALUE, NULL, PAGE_READWRITE, 0,
                                    (DWORD)sizeof(ctrl_t), g_ctrl_name);
    if (!g_ctrl_map)
        die("CreateFileMapping failed (%lu)", (unsigned long)GetLastError());
    C = (ctrl_t *)MapViewOfFile(g_ctrl_map, FILE_MAP_ALL_ACCESS, 0, 0, sizeof(ctrl_t));
    if (!C)
        die("MapViewOfFile failed (%lu)", (unsigned long)GetLastError());
    memset(C, 0, sizeof(*C));
}

static void ctrl_open(const char *name)
{
    g_ctrl_map = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, name);
    C = g_ctrl_map ? (ctrl_t *)MapViewOfFile(g_ctrl_map, FILE_MAP_ALL_ACCESS, 0, 0, sizeof(ctrl_t))
                   : NULL;
    if (!C)
        die("child: cannot open %s (%lu)", name, (unsigned long)GetLastError());
}

static void ctrl_remove(void) {}

static bool pin_to(int cpu)
{
    DWORD_PTR mask = (DWORD_PTR)1 << cpu;
    return SetProcessAffinityMask(GetCurrentProcess(), mask) != 0;
}

/* The first two CPUs this process may run on. */
static void pick_cpus(void)
{
    DWORD_PTR proc = 0, sys = 0;
    if (!GetProcessAffinityMask(GetCurrentProcess(), &proc, &sys))
        return;
    for (int i = 0; i < (int)(sizeof(DWORD_PTR) * 8); i++) {
        if (!(proc & ((DWORD_PTR)1 << i)))
            continue;
        if (g_cpu_parent < 0)
            g_cpu_parent = i;
        else if (g_cpu_child < 0)
            g_cpu_child = i;
    }
}

static void spawn_child(void)
{
    char exe[MAX_PATH], cmd[MAX_PATH + 160];
    STARTUPINFOA si;
    PROCESS_INFORMATION pi;
    DWORD n = GetModuleFileNameA(NULL, exe, (DWORD)sizeof(exe));
    if (n == 0 || n >= sizeof(exe))
        die("GetModuleFileName failed");
    snprintf(cmd, sizeof(cmd), "\"%s\" --child %s %d %lu", exe, g_ctrl_name, g_cpu_child,
             (unsigned long)GetCurrentProcessId());
    memset(&si, 0, sizeof(si));
    si.cb = sizeof(si);
    if (!CreateProcessA(exe, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi))
        die("CreateProcess failed (%lu)", (unsigned long)GetLastError());
    CloseHandle(pi.hThread);
    g_child = pi.hProcess;
}

static bool child_alive(void) { return WaitForSingleObject(g_child, 0) == WAIT_TIMEOUT; }

static double g_child_cpu_s = -1; /* CPU seconds the child used, once reaped */

static void reap_child(void)
{
    if (g_child) {
        FILETIME c, e, k, u;
        if (WaitForSingleObject(g_child, 10000) != WAIT_OBJECT_0)
            TerminateProcess(g_child, 1);
        else if (GetProcessTimes(g_child, &c, &e, &k, &u))
            g_child_cpu_s = (double)((((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime) +
                                     (((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime)) /
                            1e7;
        CloseHandle(g_child);
        g_child = NULL;
    }
}

static bool parent_gone(void) { return g_parent && WaitForSingleObject(g_parent, 0) != WAIT_TIMEOUT; }

static void wake_objects_create(void)
{
    char n[96];
    snprintf(n, sizeof(n), "%s.a", g_ctrl_name);
    g_ev_a = CreateEventA(NULL, FALSE, FALSE, n);
    snprintf(n, sizeof(n), "%s.b", g_ctrl_name);
    g_ev_b = CreateEventA(NULL, FALSE, FALSE, n);
    if (!g_ev_a || !g_ev_b)
        die("CreateEvent failed (%lu)", (unsigned long)GetLastError());
}

static void wake_objects_open(const char *ctrl_name)
{
    char n[96];
    snprintf(n, sizeof(n), "%s.a", ctrl_name);
    g_ev_a = OpenEventA(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, n);
    snprintf(n, sizeof(n), "%s.b", ctrl_name);
    g_ev_b = OpenEventA(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, n);
    if (!g_ev_a || !g_ev_b)
        die("child: OpenEvent failed (%lu)", (unsigned long)GetLastError());
}

/* Parent: wake the child, then sleep until it answers. */
static void wake_ping(uint32_t i)
{
    st32(&C->wake_a.v, i);
    SetEvent(g_ev_a);
    while (ld32(&C->wake_b.v) != i)
        WaitForSingleObject(g_ev_b, 1000);
}

static void wake_echo_loop(void)
{
    uint32_t last = ld32(&C->wake_a.v);
    for (;;) {
        uint32_t v = ld32(&C->wake_a.v);
        if (v == last) {
            if (WaitForSingleObject(g_ev_a, 1000) == WAIT_TIMEOUT && parent_gone())
                exit(1);
            continue;
        }
        if (v == STOP)
            return;
        last = v;
        st32(&C->wake_b.v, v);
        SetEvent(g_ev_b);
    }
}

static void wake_stop(void)
{
    st32(&C->wake_a.v, STOP);
    SetEvent(g_ev_a);
}

static uint64_t process_cpu_ns(void)
{
    FILETIME c, e, k, u;
    if (!GetProcessTimes(GetCurrentProcess(), &c, &e, &k, &u))
        return 0;
    uint64_t kk = ((uint64_t)k.dwHighDateTime << 32) | k.dwLowDateTime;
    uint64_t uu = ((uint64_t)u.dwHighDateTime << 32) | u.dwLowDateTime;
    return (kk + uu) * 100u;
}

static void os_description(char *out, size_t n)
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

static int cpu_count(void)
{
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    return (int)si.dwNumberOfProcessors;
}

static void load_note(char *out, size_t n) { snprintf(out, n, "n/a on Windows"); }
static bool sys_cpu(double *busy, double *steal)
{
    (void)busy;
    (void)steal;
    return false;
}
static double own_cpu(void) { return 0; }

#else /* Linux */

static int g_ctrl_fd = -1;
static pid_t g_child;
static int g_p2c[2] = {-1, -1}, g_c2p[2] = {-1, -1}, g_sock[2] = {-1, -1};

static void ctrl_create(void)
{
    snprintf(g_ctrl_name, sizeof(g_ctrl_name), "/xshm_bench.%ld", (long)getpid());
    g_ctrl_fd = shm_open(g_ctrl_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (g_ctrl_fd < 0 || ftruncate(g_ctrl_fd, (off_t)sizeof(ctrl_t)) != 0)
        die("shm_open %s: %s", g_ctrl_name, strerror(errno));
    C = (ctrl_t *)mmap(NULL, sizeof(ctrl_t), PROT_READ | PROT_WRITE, MAP_SHARED, g_ctrl_fd, 0);
    if (C == MAP_FAILED)
        die("mmap: %s", strerror(errno));
}

static void ctrl_open(const char *name)
{
    int fd = shm_open(name, O_RDWR, 0600);
    if (fd < 0)
        die("child: shm_open %s: %s", name, strerror(errno));
    C = (ctrl_t *)mmap(NULL, sizeof(ctrl_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (C == MAP_FAILED)
        die("child: mmap: %s", strerror(errno));
    close(fd);
}

static void ctrl_remove(void)
{
    if (g_ctrl_name[0])
        shm_unlink(g_ctrl_name);
}

static bool pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return sched_setaffinity(0, sizeof(set), &set) == 0;
}

static void pick_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return;
    for (int i = 0; i < CPU_SETSIZE; i++) {
        if (!CPU_ISSET(i, &set))
            continue;
        if (g_cpu_parent < 0)
            g_cpu_parent = i;
        else if (g_cpu_child < 0)
            g_cpu_child = i;
    }
}

static void spawn_child(void)
{
    char a_cpu[16], a_ppid[24], a_p2c[16], a_c2p[16], a_sock[16];
    pid_t parent = getpid();
    if (pipe(g_p2c) != 0 || pipe(g_c2p) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, g_sock) != 0)
        die("pipe/socketpair: %s", strerror(errno));
    snprintf(a_cpu, sizeof(a_cpu), "%d", g_cpu_child);
    snprintf(a_ppid, sizeof(a_ppid), "%ld", (long)parent);
    snprintf(a_p2c, sizeof(a_p2c), "%d", g_p2c[0]);
    snprintf(a_c2p, sizeof(a_c2p), "%d", g_c2p[1]);
    snprintf(a_sock, sizeof(a_sock), "%d", g_sock[1]);
    char *args[] = {(char *)"xshm_bench", (char *)"--child", g_ctrl_name, a_cpu, a_ppid,
                    a_p2c,                a_c2p,              a_sock,      NULL};
    fflush(stdout);
    g_child = fork();
    if (g_child < 0)
        die("fork: %s", strerror(errno));
    if (g_child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the parent */
        if (getppid() != parent)
            _exit(1);
        execv("/proc/self/exe", args);
        _exit(127);
    }
}

static bool child_alive(void)
{
    int st;
    return waitpid(g_child, &st, WNOHANG) == 0;
}

static double g_child_cpu_s = -1; /* CPU seconds the child used, once reaped */

static void reap_child(void)
{
    if (g_child > 0) {
        for (int i = 0; i < 1000; i++) {
            int st;
            if (waitpid(g_child, &st, WNOHANG) != 0)
                break;
            if (i == 999) {
                kill(g_child, SIGKILL);
                waitpid(g_child, &st, 0);
            }
            sleep_ms(10);
        }
        g_child = 0;
        struct rusage ru;
        if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
            g_child_cpu_s = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                            (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    }
}

static bool parent_gone(void) { return false; /* PR_SET_PDEATHSIG ends us */ }

static void wake_objects_create(void) {}
static void wake_objects_open(const char *ctrl_name) { (void)ctrl_name; }

/* FUTEX_WAIT / FUTEX_WAKE on a word of the shared mapping (not private). */
static void futex_wait(uint32_t *w, uint32_t v) { syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0); }
static void futex_wake(uint32_t *w) { syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0); }

static void wake_ping(uint32_t i)
{
    uint32_t v;
    st32(&C->wake_a.v, i);
    futex_wake(&C->wake_a.v);
    while ((v = ld32(&C->wake_b.v)) != i)
        futex_wait(&C->wake_b.v, v);
}

static void wake_echo_loop(void)
{
    uint32_t last = ld32(&C->wake_a.v);
    for (;;) {
        uint32_t v = ld32(&C->wake_a.v);
        if (v == last) {
            futex_wait(&C->wake_a.v, v);
            continue;
        }
        if (v == STOP)
            return;
        last = v;
        st32(&C->wake_b.v, v);
        futex_wake(&C->wake_b.v);
    }
}

static void wake_stop(void)
{
    st32(&C->wake_a.v, STOP);
    futex_wake(&C->wake_a.v);
}

static uint64_t process_cpu_ns(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return ((uint64_t)ru.ru_utime.tv_sec + (uint64_t)ru.ru_stime.tv_sec) * 1000000000u +
           ((uint64_t)ru.ru_utime.tv_usec + (uint64_t)ru.ru_stime.tv_usec) * 1000u;
}

static void os_description(char *out, size_t n)
{
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(out, n, "%.20s %.40s %.20s, %d-bit build", u.sysname, u.release, u.machine,
                 (int)(sizeof(void *) * 8));
    else
        snprintf(out, n, "Linux, %d-bit build", (int)(sizeof(void *) * 8));
}

static int cpu_count(void) { return (int)sysconf(_SC_NPROCESSORS_ONLN); }

/* CPU seconds the whole machine spent busy, and in steal, since boot. */
static bool sys_cpu(double *busy, double *steal)
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

/* CPU seconds used by this process and its reaped children. */
static double own_cpu(void)
{
    struct rusage a, b;
    if (getrusage(RUSAGE_SELF, &a) != 0 || getrusage(RUSAGE_CHILDREN, &b) != 0)
        return 0;
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec +
                    b.ru_stime.tv_usec) / 1e6;
}

static void load_note(char *out, size_t n)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l1 = -1;
    snprintf(out, n, "unknown");
    if (f) {
        if (fscanf(f, "%lf", &l1) == 1)
            snprintf(out, n, "%.2f%s", l1,
                     l1 > 0.5 ? " (other work is running: figures may be disturbed)" : "");
        fclose(f);
    }
}
#endif

/* ---- which library is loaded ----------------------------------------------------------- */

/* The file the running shm_version() comes from, and its build id where the
 * platform has one (GNU build-id note): a before/after comparison must know
 * which library each run really used. */
static char g_lib_path[512], g_lib_id[48];

#ifdef _WIN32
static void library_identity(void)
{
    /* The DLL the import table named; a static build has none: the program. */
    HMODULE h = GetModuleHandleA("xshm.dll");
    if (!h)
        h = GetModuleHandleA(NULL);
    snprintf(g_lib_path, sizeof(g_lib_path), "unknown");
    snprintf(g_lib_id, sizeof(g_lib_id), "none");
    if (h) {
        DWORD n = GetModuleFileNameA(h, g_lib_path, (DWORD)sizeof(g_lib_path));
        if (n == 0 || n >= sizeof(g_lib_path))
            snprintf(g_lib_path, sizeof(g_lib_path), "unknown");
        /* The PE header's link time stands in for a build id. */
        const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)h;
        const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)((const char *)h + dos->e_lfanew);
        snprintf(g_lib_id, sizeof(g_lib_id), "link time %08lx",
                 (unsigned long)nt->FileHeader.TimeDateStamp);
    }
}
#else
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

static void library_identity(void)
{
    Dl_info info;
    snprintf(g_lib_path, sizeof(g_lib_path), "unknown");
    snprintf(g_lib_id, sizeof(g_lib_id), "none");
    if (dladdr((void *)(uintptr_t)shm_version, &info) == 0 || !info.dli_fname)
        return;
    if (!realpath(info.dli_fname, g_lib_path))
        snprintf(g_lib_path, sizeof(g_lib_path), "%s", info.dli_fname);
    /* dl_iterate_phdr names objects by load bias: a shared library's is its base */
    build_id_search_t b = {(uintptr_t)info.dli_fbase, g_lib_id, sizeof(g_lib_id)};
    dl_iterate_phdr(find_build_id, &b);
}
#endif

static void cpu_model(char *out, size_t n)
{
    char brand[49];
    memset(brand, 0, sizeof(brand));
#if defined(BENCH_X86) && defined(_MSC_VER) && !defined(__clang__)
    int r[4];
    __cpuid(r, (int)0x80000000);
    if ((unsigned)r[0] >= 0x80000004u)
        for (int i = 0; i < 3; i++) {
            __cpuid(r, (int)(0x80000002u + (unsigned)i));
            memcpy(brand + 16 * i, r, 16);
        }
#elif defined(BENCH_X86)
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

/* ---- commands ----------------------------------------------------------------------------- */

static uint32_t g_seq;

/* Wait until the child sets *w to v; false if it died or took 20 s. */
static bool wait_child(uint32_t *w, uint32_t v)
{
    uint64_t t0 = now_ns();
    for (uint32_t i = 0;; i++) {
        if (ld32(w) == v)
            return true;
        if ((i & 255u) == 255u) {
            if (!child_alive() || now_ns() - t0 > 20000000000ull)
                return false;
            sleep_ms(1);
        }
    }
}

/* Issue a command and wait until the child is set up for it. */
static bool issue(uint32_t cmd, uint32_t arg, uint32_t arg2, const char *name)
{
    C->cmd = cmd;
    C->arg = arg;
    C->arg2 = arg2;
    C->status = 0;
    snprintf(C->name, sizeof(C->name), "%s", name ? name : "");
    st32(&C->cmd_seq.v, ++g_seq);
    return wait_child(&C->ack_seq.v, g_seq) && C->status == 0;
}

static bool finish_cmd(void) { return wait_child(&C->done_seq.v, g_seq) && C->status == 0; }

/* ---- latency measurement ---------------------------------------------------------------- */

typedef bool (*op_fn)(void *ctx); /* one round trip */

/* Plot samples: a uniform random subset (reservoir) of the run, in ns. */
#define PLOT_CAP 200000u
typedef struct plot_set {
    const char *file; /* "rtt_64B_<what>.txt" */
    const char *title;
    uint32_t *v;
    size_t n;      /* kept, at most PLOT_CAP */
    uint64_t seen; /* offered */
} plot_set_t;

static plot_set_t g_plots[8];
static int g_nplots;
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

static plot_set_t *plot_for(const char *file, const char *title)
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

static hist_t g_hist;

/* Spin for `ns` (outside the timed region of a round trip). */
static uint64_t g_pause_ns;

static void pause_before(void)
{
    uint64_t end = ticks() + ns_to_ticks((double)g_pause_ns);
    while (ticks() < end) {
    }
}

/* A latency row goes on past run_s until it has this many samples (a peer
 * descheduled by other work can stall a round trip for a second), up to ten
 * times run_s. */
#define MIN_SAMPLES 1000u

/* Warm up, then time round trips one by one for run_s seconds (after a
 * pause of g_pause_ns before each, when set). */
static bool measure_latency(row_t *r, op_fn op, void *ctx, plot_set_t *plot)
{
    uint64_t end = ticks() + ns_to_ticks(g_set.warm_s * 1e9);
    while (ticks() < end) {
        if (g_pause_ns)
            pause_before();
        if (!op(ctx)) {
            r->failed = true;
            return false;
        }
    }
    memset(&g_hist, 0, sizeof(g_hist));
    uint64_t start = ticks();
    uint64_t last = start + ns_to_ticks(10 * g_set.run_s * 1e9);
    end = start + ns_to_ticks(g_set.run_s * 1e9);
    for (;;) {
        if (g_pause_ns)
            pause_before();
        uint64_t t0 = ticks();
        if (!op(ctx)) {
            r->failed = true;
            return false;
        }
        uint64_t t1 = ticks();
        hist_add(&g_hist, t1 - t0);
        if (plot)
            plot_add(plot, t1 - t0);
        if ((t1 >= end && g_hist.n >= MIN_SAMPLES) || t1 >= last)
            break;
    }
    if (g_hist.n < MIN_SAMPLES)
        snprintf(r->note, sizeof(r->note), "only %" PRIu64 " round trips in %.1f s: disturbed",
                 g_hist.n, to_ns(ticks() - start) / 1e9);
    r->unit = U_NS;
    r->samples = g_hist.n;
    r->median = to_ns((uint64_t)hist_quantile(&g_hist, 0.5));
    r->p99 = to_ns((uint64_t)hist_quantile(&g_hist, 0.99));
    r->p999 = to_ns((uint64_t)hist_quantile(&g_hist, 0.999));
    r->max = to_ns(g_hist.max);
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- floor ---------------------------------------------------------------------------------- */

static uint32_t g_ping_no;

static bool op_cacheline(void *ctx)
{
    uint32_t i = ++g_ping_no;
    floor_pair_t *p = &C->floor[i % FLOOR_PAIRS];
    (void)ctx;
    st32(&p->ping.v, i);
    while (ld32(&p->pong.v) != i) {
    }
    return true;
}

static bool op_wake(void *ctx)
{
    (void)ctx;
    wake_ping(++g_ping_no);
    return true;
}

static row_t *bench_floor_cacheline(void)
{
    row_t *r = new_row("floor", "cache-line ping-pong, round trip");
    for (uint32_t k = 0; k < FLOOR_PAIRS; k++) {
        st32(&C->floor[k].ping.v, 0);
        st32(&C->floor[k].pong.v, 0);
    }
    g_ping_no = 0;
    if (!issue(CMD_CACHELINE, 0, 0, NULL)) {
        r->failed = true;
        return r;
    }
    measure_latency(r, op_cacheline, NULL, plot_for("rtt_floor_cacheline.txt", "floor: cache-line ping-pong"));
    st32(&C->floor[(g_ping_no + 1) % FLOOR_PAIRS].ping.v, STOP);
    finish_cmd();
    if (!r->note[0]) /* else: says it was disturbed */
        snprintf(r->note, sizeof(r->note), "busy baseline; %u line pairs in turn", FLOOR_PAIRS);
    return r;
}

static row_t *bench_floor_wake(void)
{
#ifdef _WIN32
    row_t *r = new_row("floor", "event wake-up ping-pong, round trip");
#else
    row_t *r = new_row("floor", "futex wake-up ping-pong, round trip");
#endif
    st32(&C->wake_a.v, 0);
    st32(&C->wake_b.v, 0);
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

/* Median bytes/ns (= GB/s) over the slices. */
static double memcpy_rate(size_t block)
{
    unsigned char *src = (unsigned char *)malloc(block), *dst = (unsigned char *)malloc(block);
    double rates[16];
    int slices = g_set.slices;
    uint32_t batch = block >= 65536 ? 16 : block >= 1024 ? 512 : 4096;
    if (!src || !dst)
        die("out of memory");
    memset(src, 0x5A, block);
    memset(dst, 0, block);
    uint64_t end = ticks() + ns_to_ticks(g_set.warm_s * 1e9);
    while (ticks() < end)
        for (uint32_t k = 0; k < batch; k++)
            g_memcpy(dst, src, block);
    for (int s = 0; s < slices; s++) {
        uint64_t copies = 0, t0 = ticks(), t1;
        end = t0 + ns_to_ticks(g_set.slice_s * 1e9);
        do {
            for (uint32_t k = 0; k < batch; k++)
                g_memcpy(dst, src, block);
            copies += batch;
            t1 = ticks();
        } while (t1 < end);
        rates[s] = (double)copies * (double)block / to_ns(t1 - t0);
    }
    free(src);
    free(dst);
    return median_of(rates, slices);
}

/* ---- xshm ----------------------------------------------------------------------------------- */

typedef struct xshm_ctx {
    shm_server_t *srv;
    unsigned char *out, *in;
    uint32_t size;
    uint64_t seq;
} xshm_ctx_t;

/* Send, then poll (busy channel) or block (blocking channel) for the echo.
 * Each message carries a sequence number and its echo must carry it back:
 * a stale echo, or a second message in flight, would make round trips look
 * shorter than they are. */
static bool op_xshm(void *ctx)
{
    xshm_ctx_t *x = (xshm_ctx_t *)ctx;
    uint64_t seq = ++x->seq;
    memcpy(x->out, &seq, 8);
    if (shm_server_send(x->srv, x->out, x->size) != SHM_SUCCESS)
        return false;
    for (uint32_t polls = 1;; polls++) {
        uint32_t n = SHM_MAX_MESSAGE_SIZE;
        shm_error_t e = shm_server_receive(x->srv, x->in, &n);
        if (e == SHM_SUCCESS) {
            if (n != x->size || memcmp(x->in, &seq, 8) != 0) {
                fprintf(stderr, "xshm_bench: echo of message %" PRIu64 " is not its own\n", seq);
                return false;
            }
            return true;
        }
        if (e != SHM_ERROR_EMPTY)
            return false; /* a timeout too: the echo cannot take 5 s */
        if ((polls & 0xFFFFFu) == 0 && !child_alive())
            return false;
    }
}

static unsigned char *g_out, *g_in;

static shm_server_t *make_server(const char *what, bool blocking, char *name, size_t n)
{
    shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
    cfg.blocking = blocking;
#ifdef _WIN32
    unsigned long pid = (unsigned long)GetCurrentProcessId();
#else
    unsigned long pid = (unsigned long)getpid();
#endif
    snprintf(name, n, "xshm_bench.%lu.%s", pid, what);
    shm_server_t *s = shm_server_create(name, &cfg);
    if (!s)
        fprintf(stderr, "xshm_bench: cannot create channel %s: %s\n", name,
                shm_strerror(shm_last_error()));
    return s;
}

static const uint32_t rtt_sizes[] = {8, 64, 1024, 65536}; /* at least 8: the sequence */

static void size_label(char *out, size_t n, uint32_t size)
{
    if (size >= 1024 && size % 1024 == 0)
        snprintf(out, n, "%u KiB", size / 1024);
    else
        snprintf(out, n, "%u B", size);
}

/* Round trips of every size on one channel; returns the 64 B row. */
static row_t *bench_xshm_rtt(bool blocking, const row_t *floor)
{
    char name[96], label[16];
    row_t *r64 = NULL;
    uint64_t seq = 0; /* one sequence for the channel's rows */
    shm_server_t *srv = make_server(blocking ? "blocking" : "busy", blocking, name, sizeof(name));
    bool ok = srv && issue(CMD_XSHM_ECHO, 0, 0, name);
    for (size_t i = 0; i < sizeof(rtt_sizes) / sizeof(rtt_sizes[0]); i++) {
        if (g_set.core && rtt_sizes[i] != 64)
            continue;
        size_label(label, sizeof(label), rtt_sizes[i]);
        row_t *r = new_row("xshm", "round trip %s, %s", label,
                           blocking ? "blocking receive" : "busy-poll");
        xshm_ctx_t x;
        x.srv = srv;
        x.out = g_out;
        x.in = g_in;
        x.size = rtt_sizes[i];
        x.seq = seq;
        plot_set_t *plot = NULL;
        if (rtt_sizes[i] == 64) {
            r64 = r;
            plot = plot_for(blocking ? "rtt_64B_xshm_blocking.txt" : "rtt_64B_xshm_busy.txt",
                            blocking ? "xshm blocking receive" : "xshm busy-poll");
        }
        if (!ok || !measure_latency(r, op_xshm, &x, plot))
            r->failed = true;
        seq = x.seq;
        set_ratio(r, floor, false, blocking ? "wake-up floor" : "cache-line floor");
    }
    if (blocking) {
        /* The same after a pause longer than the receive's spin: both sides
         * are asleep when a message comes, as in a quiet channel. */
        row_t *r = new_row("xshm", "round trip 64 B, blocking, both asleep");
        xshm_ctx_t x;
        x.srv = srv;
        x.out = g_out;
        x.in = g_in;
        x.size = 64;
        x.seq = seq;
        g_pause_ns = 100000;
        if (!ok || !measure_latency(r, op_xshm, &x, NULL))
            r->failed = true;
        g_pause_ns = 0;
        set_ratio(r, floor, false, "wake-up floor");
        if (!r->note[0]) /* else: says it was disturbed */
            snprintf(r->note, sizeof(r->note), "each send after a 100 us pause (not timed)");
    }
    if (ok) {
        shm_server_send(srv, g_out, 1); /* ends the echo */
        finish_cmd();
    }
    shm_server_destroy(srv);
    return r64;
}

/* One-way: this process sends for a slice, the child counts. */
static void bench_xshm_oneway(const row_t *const *memcpy_rows, row_t **r64_out, row_t **r64k_out)
{
    static const uint32_t sizes[] = {64, 1024, 65536};
    char name[96], label[16];
    shm_server_t *srv = make_server("oneway", false, name, sizeof(name));
    bool ok = srv && issue(CMD_XSHM_SINK, 0, 0, name);
    uint32_t slice_no = ld32(&C->slice.v);
    for (int i = 0; i < 3; i++) {
        uint32_t size = sizes[i];
        double rates[16], gbs[16];
        if (g_set.core && size == 1024)
            continue;
        uint64_t sent_all = 0, recv_all = 0, lost_all = 0, lib_lost_all = 0, bad = 0;
        double send_rate = 0;
        size_label(label, sizeof(label), size);
        row_t *r = new_row("xshm", "one-way %s messages", label);
        r->unit = U_MPS;
        for (int s = -1; ok && s < g_set.slices; s++) { /* s = -1: warm-up */
            double secs = s < 0 ? g_set.warm_s : g_set.slice_s;
            uint64_t sent = 0, t0 = ticks(), t1;
            uint64_t end = t0 + ns_to_ticks(secs * 1e9);
            memset(g_out, 0x33, size);
            do {
                for (int k = 0; k < 64; k++) {
                    memcpy(g_out, &sent, 8); /* sequence number */
                    if (shm_server_send(srv, g_out, size) != SHM_SUCCESS) {
                        ok = false;
                        break;
                    }
                    sent++;
                }
                t1 = ticks();
            } while (ok && t1 < end);
            if (!ok || shm_server_send(srv, g_out, 1) != SHM_SUCCESS || /* end of slice */
                !wait_child(&C->slice.v, ++slice_no)) {
                ok = false;
                break;
            }
            if (s < 0)
                continue;
            uint64_t received = C->res[0], lost = C->res[1], lib_lost = C->res[2], rx_ns = C->res[3];
            rates[s] = rx_ns ? (double)received * 1e3 / (double)rx_ns : 0; /* M/s */
            gbs[s] = rates[s] * size / 1e3;
            send_rate += (double)sent * 1e3 / to_ns(t1 - t0) / g_set.slices;
            sent_all += sent;
            recv_all += received;
            lost_all += lost;
            lib_lost_all += lib_lost;
            if (received + lost != sent || lib_lost != lost)
                bad++;
        }
        if (!ok) {
            r->failed = true;
            continue;
        }
        r->median = median_of(rates, g_set.slices);
        r->gbs = median_of(gbs, g_set.slices);
        snprintf(r->note, sizeof(r->note), "%.2f GB/s; sent %.2f M/s, lost %.1f%%%s",
                 r->gbs, send_rate,
                 sent_all ? 100.0 * (double)lost_all / (double)sent_all : 0.0,
                 bad ? ", LOSS COUNT MISMATCH" : "");
        (void)recv_all;
        (void)lib_lost_all;
        /* Ratio to memcpy of the same block: delivered bytes/s over copied bytes/s. */
        const row_t *m = memcpy_rows[i];
        if (m && !m->failed && m->median > 0) {
            r->ratio = r->gbs / m->median;
            snprintf(r->ratio_to, sizeof(r->ratio_to), "memcpy %s", label);
        }
        if (size == 64)
            *r64_out = r;
        if (size == 65536)
            *r64k_out = r;
    }
    if (ok) {
        shm_server_send(srv, g_out, 2); /* ends the sink */
        finish_cmd();
    }
    shm_server_destroy(srv);
}

/* The CPU a reader blocked in receive for idle_s uses. */
static row_t *bench_idle(bool with_callback)
{
    char name[96];
    row_t *r = new_row("idle", "reader blocked in receive%s",
                       with_callback ? ", event callback set" : "");
    r->unit = U_PCT;
    shm_server_t *srv = make_server(with_callback ? "idlecb" : "idle", true, name, sizeof(name));
    if (!srv || !issue(CMD_XSHM_IDLE, with_callback ? 1u : 0u, 0, name)) {
        r->failed = true;
        shm_server_destroy(srv);
        return r;
    }
    /* A counter that moves in steps (Windows: clock ticks) needs a window long
     * enough for one step to be at most a third of 1%; up to 5 s. */
    uint64_t step = C->res[2];
    double window = g_set.idle_s;
    if (!g_set.quick && step * 300.0 / 1e9 > window)
        window = step * 300.0 / 1e9 > 5.0 ? 5.0 : step * 300.0 / 1e9;
    sleep_ms((unsigned)(window * 1000));
    memset(g_out, 0x11, 8);
    shm_server_send(srv, g_out, 8);
    if (!finish_cmd()) {
        r->failed = true;
    } else {
        uint64_t cpu = C->res[0], wall = C->res[1];
        r->median = wall ? 100.0 * (double)cpu / (double)wall : -1;
        r->bound = wall ? 100.0 * (double)(cpu + step) / (double)wall : -1;
        if (step >= 1000000u)
            snprintf(r->note, sizeof(r->note),
                     "%.1f ms CPU in %.2f s; counter step %.1f ms: at most %.2f %%", cpu / 1e6,
                     wall / 1e9, step / 1e6, r->bound);
        else
            snprintf(r->note, sizeof(r->note), "%.2f ms CPU in %.2f s of the child", cpu / 1e6,
                     wall / 1e9);
    }
    shm_server_destroy(srv);
    return r;
}

/* ---- alternatives: byte streams ------------------------------------------------------------ */

#ifdef _WIN32
typedef HANDLE fd_t;
static bool s_write(fd_t f, const void *p, size_t n)
{
    const char *c = (const char *)p;
    while (n) {
        DWORD w = 0;
        if (!WriteFile(f, c, (DWORD)n, &w, NULL))
            return false;
        c += w;
        n -= w;
    }
    return true;
}
static long s_read(fd_t f, void *p, size_t n)
{
    DWORD r = 0;
    if (!ReadFile(f, p, (DWORD)n, &r, NULL))
        return -1;
    return (long)r;
}
#else
typedef int fd_t;
static bool s_write(fd_t f, const void *p, size_t n)
{
    const char *c = (const char *)p;
    while (n) {
        ssize_t w = write(f, c, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        c += w;
        n -= (size_t)w;
    }
    return true;
}
static long s_read(fd_t f, void *p, size_t n)
{
    for (;;) {
        ssize_t r = read(f, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        return (long)r;
    }
}
#endif

static bool s_read_exact(fd_t f, void *p, size_t n)
{
    char *c = (char *)p;
    while (n) {
        long r = s_read(f, c, n);
        if (r <= 0)
            return false;
        c += r;
        n -= (size_t)r;
    }
    return true;
}

typedef struct stream_ctx {
    fd_t rd, wr;
} stream_ctx_t;

/* This side's ends of a stream kind. */
static bool stream_parent_ends(int kind, stream_ctx_t *s)
{
#ifdef _WIN32
    if (kind != STREAM_NPIPE || g_npipe == INVALID_HANDLE_VALUE)
        return false;
    s->rd = s->wr = g_npipe;
#else
    if (kind == STREAM_PIPE) {
        s->rd = g_c2p[0];
        s->wr = g_p2c[1];
    } else if (kind == STREAM_SOCKET) {
        s->rd = s->wr = g_sock[0];
    } else {
        return false;
    }
#endif
    return true;
}

static bool op_stream(void *ctx)
{
    stream_ctx_t *s = (stream_ctx_t *)ctx;
    g_out[0] = 0;
    return s_write(s->wr, g_out, 64) && s_read_exact(s->rd, g_in, 64);
}

#ifdef _WIN32
static void npipe_create(void)
{
    char n[96];
    snprintf(n, sizeof(n), "\\\\.\\pipe\\xshm_bench.%lu", (unsigned long)GetCurrentProcessId());
    g_npipe = CreateNamedPipeA(n, PIPE_ACCESS_DUPLEX, PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT,
                               1, 65536, 65536, 0, NULL);
}
#endif

static row_t *bench_stream(int kind, const row_t *wake_floor, const row_t *const *memcpy_rows)
{
    stream_ctx_t s;
    const char *what = stream_names[kind];
    row_t *rtt = new_row("alt", "%s round trip 64 B", what);
    if (!stream_parent_ends(kind, &s) || !issue(CMD_STREAM_ECHO, (uint32_t)kind, 0, NULL)) {
        rtt->failed = true;
        return rtt;
    }
#ifdef _WIN32
    if (!ConnectNamedPipe(g_npipe, NULL) && GetLastError() != ERROR_PIPE_CONNECTED) {
        rtt->failed = true;
        return rtt;
    }
#endif
    static const char *const files[] = {"rtt_64B_pipe.txt", "rtt_64B_unix_socket.txt",
                                        "rtt_64B_named_pipe.txt"};
    measure_latency(rtt, op_stream, &s, plot_for(files[kind], what));
    g_out[0] = 1; /* ends the echo */
    s_write(s.wr, g_out, 64);
    finish_cmd();
    set_ratio(rtt, wake_floor, false, "wake-up floor");

    static const uint32_t sizes[] = {64, 65536};
    for (int i = 0; i < 2; i++) {
        char label[16];
        uint32_t size = sizes[i];
        double rates[16];
        bool ok = true;
        size_label(label, sizeof(label), size);
        row_t *r = new_row("alt", "%s one-way %s", what, label);
        r->unit = U_MPS;
        if (!issue(CMD_STREAM_SINK, (uint32_t)kind, size, NULL)) {
            r->failed = true;
            continue;
        }
        uint32_t slice_no = ld32(&C->slice.v);
        for (int sl = -1; ok && sl < g_set.slices; sl++) {
            double secs = sl < 0 ? g_set.warm_s : g_set.slice_s;
            uint64_t end = ticks() + ns_to_ticks(secs * 1e9);
            memset(g_out, 0, size);
            do {
                for (int k = 0; k < 16 && ok; k++)
                    ok = s_write(s.wr, g_out, size);
            } while (ok && ticks() < end);
            g_out[0] = sl == g_set.slices - 1 ? 2 : 1; /* end of slice / of the sink */
            ok = ok && s_write(s.wr, g_out, size) && wait_child(&C->slice.v, ++slice_no);
            if (ok && sl >= 0) {
                uint64_t bytes = C->res[0], rx_ns = C->res[1];
                rates[sl] = rx_ns ? (double)bytes / size * 1e3 / (double)rx_ns : 0;
            }
        }
        ok = finish_cmd() && ok;
        if (!ok) {
            r->failed = true;
            continue;
        }
        r->median = median_of(rates, g_set.slices);
        r->gbs = r->median * size / 1e3;
        snprintf(r->note, sizeof(r->note), "%.2f GB/s; %u-byte writes, nothing lost", r->gbs,
                 size);
        const row_t *m = memcpy_rows[i == 0 ? 0 : 2];
        if (m && !m->failed && m->median > 0) {
            r->ratio = r->median * size / 1e3 / m->median;
            snprintf(r->ratio_to, sizeof(r->ratio_to), "memcpy %s", label);
        }
    }
    return rtt;
}

/* ---- the child ------------------------------------------------------------------------------- */

static fd_t g_child_rd[3], g_child_wr[3];

/* The step of the process CPU-time counter: spin until it moves twice
 * (at most 0.2 s). Linux accounts in ns; Windows in clock ticks. */
static uint64_t cpu_time_step(void)
{
    uint64_t t0 = now_ns(), a = process_cpu_ns(), b;
    do {
        b = process_cpu_ns();
    } while (b == a && now_ns() - t0 < 100000000u);
    a = b;
    do {
        b = process_cpu_ns();
    } while (b == a && now_ns() - t0 < 200000000u);
    return b > a ? b - a : 0;
}

static shm_client_t *child_connect(const char *name)
{
    uint64_t t0 = now_ns();
    for (;;) {
        shm_client_t *c = shm_client_connect(name);
        if (c || shm_last_error() != SHM_ERROR_NOT_FOUND || now_ns() - t0 > 10000000000ull)
            return c;
    }
}

static void child_fail(int32_t status, uint32_t seq)
{
    C->status = status ? status : -1;
    st32(&C->ack_seq.v, seq);
}

static void noop_callback(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    (void)ud;
    (void)type;
    (void)data;
    (void)sz;
}

static void child_xshm(uint32_t cmd, uint32_t seq, unsigned char *buf)
{
    shm_client_t *c = child_connect(C->name);
    if (!c) {
        child_fail((int32_t)shm_last_error(), seq);
        return;
    }
    if (cmd == CMD_XSHM_IDLE) {
        if (C->arg)
            shm_client_register_callback(c, noop_callback, NULL);
        C->res[2] = cpu_time_step();
    }
    st32(&C->ack_seq.v, seq);
    if (cmd == CMD_XSHM_ECHO) {
        for (uint32_t polls = 1;; polls++) {
            uint32_t n = SHM_MAX_MESSAGE_SIZE;
            shm_error_t e = shm_client_receive(c, buf, &n);
            if (e == SHM_ERROR_EMPTY || e == SHM_ERROR_TIMEOUT) {
                if ((polls & 0xFFFFFFu) == 0 && parent_gone())
                    break;
                continue;
            }
            if (e != SHM_SUCCESS || n == 1 || shm_client_send(c, buf, n) != SHM_SUCCESS)
                break;
        }
    } else if (cmd == CMD_XSHM_SINK) {
        uint64_t received = 0, lost = 0, expected = 0, first = 0;
        shm_stats_t st0, st;
        shm_client_get_stats(c, &st0);
        for (uint32_t polls = 1;; polls++) {
            uint32_t n = SHM_MAX_MESSAGE_SIZE;
            shm_error_t e = shm_client_receive(c, buf, &n);
            if (e == SHM_ERROR_EMPTY) {
                if ((polls & 0xFFFFFFu) == 0 && parent_gone())
                    break;
                continue;
            }
            if (e != SHM_SUCCESS || n == 2)
                break;
            if (n == 1) { /* end of a slice: report it */
                uint64_t t = now_ns();
                shm_client_get_stats(c, &st);
                C->res[0] = received;
                C->res[1] = lost;
                C->res[2] = st.messages_lost - st0.messages_lost;
                C->res[3] = received ? t - first : 0;
                st32(&C->slice.v, ld32(&C->slice.v) + 1);
                st0 = st;
                received = lost = expected = 0;
                continue;
            }
            uint64_t s;
            memcpy(&s, buf, 8);
            if (received == 0)
                first = now_ns();
            if (s > expected)
                lost += s - expected;
            expected = s + 1;
            received++;
        }
    } else { /* CMD_XSHM_IDLE */
        uint32_t n = SHM_MAX_MESSAGE_SIZE;
        uint64_t cpu0 = process_cpu_ns(), t0 = now_ns();
        shm_error_t e = shm_client_receive(c, buf, &n);
        uint64_t t1 = now_ns(), cpu1 = process_cpu_ns();
        C->res[0] = cpu1 - cpu0;
        C->res[1] = t1 - t0;
        if (e != SHM_SUCCESS)
            C->status = (int32_t)e;
    }
    shm_client_disconnect(c);
}

static void child_stream(uint32_t cmd, uint32_t seq, unsigned char *buf)
{
    int kind = (int)C->arg;
    if (kind < 0 || kind > 2) {
        child_fail(-1, seq);
        return;
    }
#ifdef _WIN32
    if (kind == STREAM_NPIPE && g_child_rd[kind] == NULL) {
        char n[96];
        snprintf(n, sizeof(n), "\\\\.\\pipe\\xshm_bench.%s", strrchr(g_ctrl_name, '.') + 1);
        HANDLE h = CreateFileA(n, GENERIC_READ | GENERIC_WRITE, 0, NULL, OPEN_EXISTING, 0, NULL);
        if (h == INVALID_HANDLE_VALUE) {
            child_fail(-1, seq);
            return;
        }
        g_child_rd[kind] = g_child_wr[kind] = h;
    }
#endif
    fd_t rd = g_child_rd[kind], wr = g_child_wr[kind];
    st32(&C->ack_seq.v, seq);
    if (cmd == CMD_STREAM_ECHO) {
        while (s_read_exact(rd, buf, 64) && buf[0] == 0 && s_write(wr, buf, 64)) {
        }
        return;
    }
    /* Sink: messages of arg2 bytes; the first byte of each is 0, or 1 at the
     * end of a slice, or 2 at the end of the last one. */
    uint64_t size = C->arg2, pos = 0, bytes = 0, first = 0;
    for (;;) {
        long r = s_read(rd, buf, 262144);
        if (r <= 0)
            break;
        if (bytes == 0)
            first = now_ns();
        /* Look at the first byte of every message that starts in this chunk. */
        uint64_t off = (size - pos % size) % size, marker = 0;
        for (; off < (uint64_t)r; off += size)
            if (buf[off] != 0) {
                marker = buf[off];
                break;
            }
        pos += (uint64_t)r;
        bytes += (uint64_t)r;
        if (marker) {
            /* The end message is the last in flight: the chunk ends with it
             * (read it in full first if it was split). */
            uint64_t rest = (size - pos % size) % size;
            if (rest && !s_read_exact(rd, buf, (size_t)rest))
                break;
            pos += rest;
            bytes += rest;
            C->res[0] = bytes - size; /* data messages only */
            C->res[1] = now_ns() - first;
            st32(&C->slice.v, ld32(&C->slice.v) + 1);
            bytes = 0;
            if (marker == 2)
                break;
        }
    }
}

static int child_main(int argc, char **argv)
{
    if (argc < 5)
        die("child: missing arguments");
    ctrl_open(argv[2]);
    snprintf(g_ctrl_name, sizeof(g_ctrl_name), "%s", argv[2]);
    int cpu = atoi(argv[3]);
    if (cpu >= 0)
        pin_to(cpu);
#ifdef _WIN32
    g_parent = OpenProcess(SYNCHRONIZE, FALSE, (DWORD)strtoul(argv[4], NULL, 10));
#else
    if (argc < 8)
        die("child: missing arguments");
    g_child_rd[STREAM_PIPE] = atoi(argv[5]);
    g_child_wr[STREAM_PIPE] = atoi(argv[6]);
    g_child_rd[STREAM_SOCKET] = g_child_wr[STREAM_SOCKET] = atoi(argv[7]);
#endif
    wake_objects_open(argv[2]);
    library_identity();
    if (strcmp(C->library, g_lib_path) != 0)
        die("child: loaded %s, the benchmark %s", g_lib_path, C->library);
    unsigned char *buf = (unsigned char *)malloc(262144);
    if (!buf)
        die("child: out of memory");
    uint32_t seen = 0; /* the parent may have issued the first command already */
    for (;;) {
        uint32_t seq = ld32(&C->cmd_seq.v);
        if (seq == seen) {
            if (parent_gone())
                return 1;
            sleep_ms(1);
            continue;
        }
        seen = seq;
        uint32_t cmd = C->cmd;
        switch (cmd) {
        case CMD_CACHELINE: {
            /* Round trip i uses pair i % FLOOR_PAIRS; the parent starts at 1. */
            st32(&C->ack_seq.v, seq);
            for (uint32_t i = 1, spins = 0;;) {
                floor_pair_t *p = &C->floor[i % FLOOR_PAIRS];
                uint32_t v = ld32(&p->ping.v);
                if (v != i && v != STOP) {
                    if (++spins == 0 && parent_gone())
                        return 1;
                    continue;
                }
                if (v == STOP)
                    break;
                st32(&p->pong.v, v);
                i++;
            }
            break;
        }
        case CMD_WAKE:
            st32(&C->ack_seq.v, seq);
            wake_echo_loop();
            break;
        case CMD_XSHM_ECHO:
        case CMD_XSHM_SINK:
        case CMD_XSHM_IDLE:
            child_xshm(cmd, seq, buf);
            break;
        case CMD_STREAM_ECHO:
        case CMD_STREAM_SINK:
            child_stream(cmd, seq, buf);
            break;
        case CMD_EXIT:
            st32(&C->ack_seq.v, seq);
            st32(&C->done_seq.v, seq);
            return 0;
        default:
            child_fail(-1, seq);
            break;
        }
        st32(&C->done_seq.v, seq);
    }
}

/* ---- output ---------------------------------------------------------------------------------- */

static char g_machine[128], g_os[128], g_load[128], g_disturb[160];

static void print_table(FILE *f)
{
    fprintf(f, "%-8s %-44s %12s %12s  %-24s %s\n", "section", "row", "median", "p99",
            "ratio to baseline", "target / notes");
    for (int i = 0; i < g_nrows; i++) {
        const row_t *r = &g_rows[i];
        char med[32], p99[32], ratio[48], tail[160];
        if (r->failed) {
            fprintf(f, "%-8s %-44s %12s %12s  %-24s %s\n", r->section, r->name, "FAILED", "", "",
                    r->target[0] ? "target NOT met (not measured)" : "");
            continue;
        }
        fmt_value(med, sizeof(med), r->unit, r->median);
        fmt_value(p99, sizeof(p99), r->unit, r->p99);
        if (r->p99 < 0)
            p99[0] = '\0';
        if (r->ratio >= 0)
            snprintf(ratio, sizeof(ratio), "%.2fx %s", r->ratio, r->ratio_to);
        else
            ratio[0] = '\0';
        if (r->target[0])
            snprintf(tail, sizeof(tail), "%s: %s%s%s", r->target,
                     r->met < 0 ? "n/a (baseline not run)" : r->met ? "met" : "NOT met",
                     r->note[0] ? "; " : "", r->note);
        else
            snprintf(tail, sizeof(tail), "%s", r->note);
        fprintf(f, "%-8s %-44s %12s %12s  %-24s %s\n", r->section, r->name, med, p99, ratio, tail);
    }
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', f);
        if ((unsigned char)*s >= 0x20)
            fputc(*s, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v)
{
    if (v < 0)
        fprintf(f, "null");
    else
        fprintf(f, "%.6g", v);
}

static void write_json(const char *path)
{
    static const char *const units[] = {"ns", "GB/s", "M/s", "%"};
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "xshm_bench: cannot write %s\n", path);
        return;
    }
    fprintf(f, "{\n  \"library_version\": \"%u.%u.%u\",\n  \"cpu\": ", shm_version() / 10000,
            shm_version() / 100 % 100, shm_version() % 100);
    json_str(f, g_machine);
    fprintf(f, ",\n  \"library\": ");
    json_str(f, g_lib_path);
    fprintf(f, ",\n  \"library_build_id\": ");
    json_str(f, g_lib_id);
    fprintf(f, ",\n  \"cpus_online\": %d,\n  \"os\": ", cpu_count());
    json_str(f, g_os);
    fprintf(f, ",\n  \"pinning\": ");
    json_str(f, g_pin_note);
    fprintf(f, ",\n  \"load_average\": ");
    json_str(f, g_load);
    fprintf(f, ",\n  \"disturbance\": ");
    json_str(f, g_disturb);
    fprintf(f, ",\n  \"quick\": %s,\n  \"rows\": [\n", g_set.quick ? "true" : "false");
    for (int i = 0; i < g_nrows; i++) {
        const row_t *r = &g_rows[i];
        fprintf(f, "    {\"section\": ");
        json_str(f, r->section);
        fprintf(f, ", \"name\": ");
        json_str(f, r->name);
        fprintf(f, ", \"unit\": \"%s\", \"failed\": %s, \"median\": ", units[r->unit],
                r->failed ? "true" : "false");
        json_num(f, r->failed ? -1 : r->median);
        fprintf(f, ", \"p99\": ");
        json_num(f, r->failed ? -1 : r->p99);
        fprintf(f, ", \"p999\": ");
        json_num(f, r->failed ? -1 : r->p999);
        fprintf(f, ", \"max\": ");
        json_num(f, r->failed ? -1 : r->max);
        fprintf(f, ", \"gb_per_s\": ");
        json_num(f, r->failed ? -1 : r->gbs);
        fprintf(f, ", \"samples\": %" PRIu64 ", \"ratio\": ", r->samples);
        json_num(f, r->ratio);
        fprintf(f, ", \"ratio_to\": ");
        json_str(f, r->ratio_to);
        fprintf(f, ", \"note\": ");
        json_str(f, r->note);
        fprintf(f, ", \"target\": ");
        json_str(f, r->target);
        fprintf(f, ", \"target_met\": %s}%s\n",
                r->met < 0 ? "null" : r->met ? "true" : "false", i + 1 < g_nrows ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
    printf("json: %s\n", path);
}

static bool on_path(const char *prog)
{
#ifdef _WIN32
    char found[MAX_PATH];
    return SearchPathA(NULL, prog, ".exe", (DWORD)sizeof(found), found, NULL) != 0;
#else
    const char *path = getenv("PATH");
    char buf[1024];
    while (path && *path) {
        const char *end = strchr(path, ':');
        size_t len = end ? (size_t)(end - path) : strlen(path);
        if (len > 0 && len < sizeof(buf) - 32) {
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)len, path, prog);
            if (access(buf, X_OK) == 0)
                return true;
        }
        path = end ? end + 1 : NULL;
    }
    return false;
#endif
}

static void make_dir(const char *dir)
{
#ifdef _WIN32
    CreateDirectoryA(dir, NULL);
#else
    mkdir(dir, 0755);
#endif
}

static void write_plots(const char *dir)
{
    char path[1024];
    make_dir(dir);
    for (int i = 0; i < g_nplots; i++) {
        plot_set_t *p = &g_plots[i];
        snprintf(path, sizeof(path), "%s/%s", dir, p->file);
        FILE *f = fopen(path, "w");
        if (!f) {
            fprintf(stderr, "xshm_bench: cannot write %s\n", path);
            return;
        }
        for (size_t k = 0; k < p->n; k++)
            fprintf(f, "%u\n", p->v[k]);
        fclose(f);
    }
    snprintf(path, sizeof(path), "%s/rtt_64B.gp", dir);
    FILE *g = fopen(path, "w");
    if (!g) {
        fprintf(stderr, "xshm_bench: cannot write %s\n", path);
        return;
    }
    fprintf(g, "# gnuplot script written by xshm_bench; run it in this folder:"
               " gnuplot rtt_64B.gp\n"
               "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) "
               "{ set terminal pngcairo size 1200,900 noenhanced } "
               "else { set terminal png size 1200,900 noenhanced }\n"
               "set output 'rtt_64B.png'\n"
               "set multiplot layout 2,1 title '64 B round trips: %s; %s'\n"
               "set logscale x\nset grid\nset xlabel 'round trip (ns)'\n"
               "set ylabel 'fraction of round trips <= x'\nset key bottom right\n"
               "set yrange [0:1]\n",
            g_machine, g_os);
    fprintf(g, "plot ");
    for (int i = 0; i < g_nplots; i++)
        fprintf(g, "%s'%s' using 1:(1.0) smooth cnormal with lines lw 2 title '%s'",
                i ? ", \\\n     " : "", g_plots[i].file, g_plots[i].title);
    fprintf(g, "\nset ylabel 'share of round trips per bin (bins of 1/20 decade)'\n"
               "set autoscale y\nset key top right\n"
               "bin(x) = 10**(floor(log10(x) * 20) / 20.0)\n");
    fprintf(g, "plot ");
    for (int i = 0; i < g_nplots; i++)
        fprintf(g, "%s'%s' using (bin($1)):(1.0 / %lu) smooth frequency with steps "
                   "lw 2 title '%s'",
                i ? ", \\\n     " : "", g_plots[i].file,
                (unsigned long)(g_plots[i].n ? g_plots[i].n : 1), g_plots[i].title);
    fprintf(g, "\nunset multiplot\n");
    fclose(g);
    printf("plot: %d sample files and rtt_64B.gp in %s\n", g_nplots, dir);
    if (!on_path("gnuplot")) {
        printf("plot: gnuplot is not on PATH: PNG skipped (run 'gnuplot rtt_64B.gp' in %s)\n",
               dir);
        return;
    }
    char cmd[1200];
#ifdef _WIN32
    snprintf(cmd, sizeof(cmd), "cd /d \"%s\" && gnuplot rtt_64B.gp", dir);
#else
    snprintf(cmd, sizeof(cmd), "cd '%s' && gnuplot rtt_64B.gp", dir);
#endif
    fflush(stdout);
    if (system(cmd) == 0)
        printf("plot: %s/rtt_64B.png\n", dir);
    else
        printf("plot: gnuplot failed: PNG skipped\n");
}

/* ---- main ------------------------------------------------------------------------------------ */

/* Is this section selected by --only? */
static bool want(const char *section)
{
    const char *p = g_set.only;
    size_t n = strlen(section);
    if (!p)
        return true;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, section, n) == 0)
            return true;
        if (!end)
            break;
        p = end + 1;
    }
    return false;
}

static void usage(void)
{
    printf("usage: xshm_bench [--quick] [--json FILE] [--plot DIR] [--only SECTIONS] [--core]\n"
           "  --quick      shorter samples (about a quarter second per row)\n"
           "  --json FILE  write every row as JSON\n"
           "  --plot DIR   write the 64 B round-trip samples, a gnuplot script and,\n"
           "               when gnuplot is on PATH, rtt_64B.png\n"
           "  --only S,..  run only these sections: floor, ceiling, xshm, alt, idle\n"
           "               (ratios need the floor and ceiling rows)\n"
           "  --core       only the cache-line floor, the 64 B busy round trip and\n"
           "               one-way 64 B and 64 KiB (for before/after comparisons)\n");
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return child_main(argc, argv);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            g_set.quick = true;
        else if (strcmp(argv[i], "--json") == 0 && i + 1 < argc)
            g_set.json = argv[++i];
        else if (strcmp(argv[i], "--plot") == 0 && i + 1 < argc)
            g_set.plot = argv[++i];
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            g_set.only = argv[++i];
        else if (strcmp(argv[i], "--core") == 0)
            g_set.core = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage();
            return 0;
        } else {
            usage();
            return 2;
        }
    }
    if (g_set.core && !g_set.only)
        g_set.only = "floor,xshm";
    g_set.warm_s = g_set.quick ? 0.05 : 0.2;
    g_set.run_s = g_set.quick ? 0.25 : 1.0;
    g_set.slices = g_set.quick ? 3 : 5;
    g_set.slice_s = g_set.quick ? 0.1 : 0.2;
    g_set.idle_s = g_set.quick ? 0.5 : 1.0;
#ifndef _WIN32
    signal(SIGPIPE, SIG_IGN);
#endif
    g_out = (unsigned char *)calloc(1, SHM_MAX_MESSAGE_SIZE);
    g_in = (unsigned char *)calloc(1, SHM_MAX_MESSAGE_SIZE);
    if (!g_out || !g_in)
        die("out of memory");

    cpu_model(g_machine, sizeof(g_machine));
    os_description(g_os, sizeof(g_os));
    library_identity();
    load_note(g_load, sizeof(g_load));
    pick_cpus();
    bool pinned = g_cpu_parent >= 0 && pin_to(g_cpu_parent);
    if (g_cpu_child < 0) {
        g_cpu_child = g_cpu_parent;
        snprintf(g_pin_note, sizeof(g_pin_note),
                 "only one CPU available: both processes on CPU %d%s", g_cpu_parent,
                 pinned ? "" : " (pinning failed)");
    } else {
        snprintf(g_pin_note, sizeof(g_pin_note), "benchmark process on CPU %d, child on CPU %d%s",
                 g_cpu_parent, g_cpu_child, pinned ? "" : " (pinning FAILED: unpinned)");
    }
    calibrate_ticks(g_set.quick ? 20 : 100);
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = ticks(), b = ticks();
        if (b - a < best)
            best = b - a;
    }
    double busy0 = 0, steal0 = 0, busy1 = 0, steal1 = 0;
    bool have_sys = sys_cpu(&busy0, &steal0);
    uint64_t run_t0 = now_ns();
    ctrl_create();
    snprintf(C->library, sizeof(C->library), "%s", g_lib_path);
    wake_objects_create();
#ifdef _WIN32
    npipe_create();
#endif
    spawn_child();

    printf("xshm_bench: xshm %u.%u.%u\n", shm_version() / 10000, shm_version() / 100 % 100,
           shm_version() % 100);
    printf("library   %s (build id %s)\n", g_lib_path, g_lib_id);
    printf("machine   %s, %d CPUs online; %s\n", g_machine, cpu_count(), g_os);
    printf("pinning   %s\n", g_pin_note);
    printf("load      1-minute load average before the run: %s\n", g_load);
    printf("timer     %s at %.3f GHz, %.0f ns per read (included once in each round trip)\n",
#ifdef BENCH_X86
           "TSC",
#else
           "monotonic clock",
#endif
           g_ticks_per_ns, to_ns(best));
    printf("method    %s: %.2f s warm-up, then %.2f s of individually timed round trips per "
           "latency row;\n          throughput: median of %d slices of %.2f s; xshm channels: "
           "default config (4 MiB rings, 4 client slots)\n\n",
           g_set.quick ? "quick" : "full", g_set.warm_s, g_set.run_s, g_set.slices,
           g_set.slice_s);
    fflush(stdout);

    /* floor and ceiling */
    row_t *cl = NULL, *wk = NULL, *busy64 = NULL, *block64 = NULL, *ow64 = NULL, *ow64k = NULL;
    row_t *idle = NULL;
    const row_t *mc[3] = {NULL, NULL, NULL};
    if (want("floor")) {
        cl = bench_floor_cacheline();
        if (!g_set.core)
            wk = bench_floor_wake();
    }
    if (want("ceiling") && !g_set.core) {
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

    /* xshm */
    if (want("xshm")) {
        busy64 = bench_xshm_rtt(false, cl);
        if (!g_set.core)
            block64 = bench_xshm_rtt(true, wk);
        bench_xshm_oneway(mc, &ow64, &ow64k);
    }

    /* alternatives */
    if (want("alt")) {
#ifdef _WIN32
        bench_stream(STREAM_NPIPE, wk, mc);
#else
        bench_stream(STREAM_PIPE, wk, mc);
        bench_stream(STREAM_SOCKET, wk, mc);
#endif
    }

    /* idle */
    if (want("idle")) {
        idle = bench_idle(false);
        bench_idle(true);
    }

    /* targets */
    if (busy64)
        set_target(busy64, busy64->ratio, true, 3.0, "target <= 3x floor");
    if (block64)
        set_target(block64, block64->ratio, true, 1.5, "target <= 1.5x floor");
    if (ow64k)
        set_target(ow64k, ow64k->ratio, false, 0.5, "target >= 50% of memcpy");
    if (ow64)
        set_target(ow64, ow64->median, false, 20.0, "target >= 20 M msg/s");
    if (idle) {
        /* Judged on the upper bound: the value plus one step of the counter. */
        set_target(idle, idle->bound, true, 1.0, "target < 1% of a core");
        if (idle->met == 1 && idle->bound >= 1.0)
            idle->met = 0; /* strictly less */
    }

    issue(CMD_EXIT, 0, 0, NULL);
    reap_child();
    ctrl_remove();
    if (have_sys && sys_cpu(&busy1, &steal1)) {
        double wall = (double)(now_ns() - run_t0) / 1e9;
        double other = (busy1 - busy0) - own_cpu();
        snprintf(g_disturb, sizeof(g_disturb),
                 "other processes used %.0f%% of one CPU during the run, hypervisor steal %.1f%%%s",
                 other > 0 ? 100.0 * other / wall : 0.0, 100.0 * (steal1 - steal0) / wall,
                 other / wall > 0.1 ? " (figures may be disturbed)" : "");
        printf("disturb   %s\n\n", g_disturb);
    }

    if (g_child_cpu_s >= 0)
        printf("child     the child process used %.2f s of CPU\n\n", g_child_cpu_s);
    print_table(stdout);
    int met = 0, total = 0;
    for (int i = 0; i < g_nrows; i++)
        if (g_rows[i].met >= 0) {
            total++;
            met += g_rows[i].met;
        }
    printf("\ntargets met: %d of %d (printed, not asserted)\n", met, total);
    if (g_set.json)
        write_json(g_set.json);
    if (g_set.plot)
        write_plots(g_set.plot);
    return 0;
}
