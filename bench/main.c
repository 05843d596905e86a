/*
 * main.c - xshm_bench: xshm measured against this machine's floor and ceiling.
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
 * program started with --child (support/xs_proc.h: posix_spawn of
 * /proc/self/exe on Linux, CreateProcess on Windows). Parent and child are
 * pinned to two different CPUs when the process may use two. The files of
 * the benchmark: bench.h.
 */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "cases.h"

settings_t g_set;
int g_cpu_child = -1;
unsigned char *g_out, *g_in;

void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "xshm_bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(2);
}

/* The 1-minute load average before the run, with a warning when other work
 * is running. */
static void load_note(char *out, size_t n)
{
    double l1 = xs_load_average();
#ifdef _WIN32
    snprintf(out, n, "n/a on Windows");
    (void)l1;
#else
    if (l1 < 0)
        snprintf(out, n, "unknown");
    else
        snprintf(out, n, "%.2f%s", l1,
                 l1 > 0.5 ? " (other work is running: figures may be disturbed)" : "");
#endif
}

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
#ifdef SIGPIPE
    signal(SIGPIPE, SIG_IGN); /* a stream's reader that has gone: an error, not death */
#endif
    g_out = (unsigned char *)calloc(1, SHM_MAX_MESSAGE_SIZE);
    g_in = (unsigned char *)calloc(1, SHM_MAX_MESSAGE_SIZE);
    if (!g_out || !g_in)
        die("out of memory");

    xs_cpu_model(g_machine, sizeof(g_machine));
    xs_os_description(g_os, sizeof(g_os));
    xs_module_of((const void *)(uintptr_t)shm_version, "xshm.dll", g_lib_path,
                 sizeof(g_lib_path), g_lib_id, sizeof(g_lib_id));
    load_note(g_load, sizeof(g_load));
    int cpus[2] = {-1, -1};
    int ncpus = xs_cpus_allowed(cpus, 2);
    int cpu_parent = ncpus > 0 ? cpus[0] : -1, cpu_child = ncpus > 1 ? cpus[1] : -1;
    bool pinned = cpu_parent >= 0 && xs_pin_to(cpu_parent);
    if (cpu_child < 0) {
        cpu_child = cpu_parent;
        snprintf(g_pin_note, sizeof(g_pin_note),
                 "only one CPU available: both processes on CPU %d%s", cpu_parent,
                 pinned ? "" : " (pinning failed)");
    } else {
        snprintf(g_pin_note, sizeof(g_pin_note), "benchmark process on CPU %d, child on CPU %d%s",
                 cpu_parent, cpu_child, pinned ? "" : " (pinning FAILED: unpinned)");
    }
    g_ticks_per_ns = xs_ticks_per_ns(g_set.quick ? 20 : 100);
    uint64_t best = UINT64_MAX;
    for (int i = 0; i < 1000; i++) {
        uint64_t a = xs_ticks(), b = xs_ticks();
        if (b - a < best)
            best = b - a;
    }
    double busy0 = 0, steal0 = 0, busy1 = 0, steal1 = 0;
    bool have_sys = xs_machine_cpu_s(&busy0, &steal0);
    uint64_t run_t0 = xs_now_ns();
    ctrl_create();
    snprintf(C->library, sizeof(C->library), "%s", g_lib_path);
    wake_objects_create();
    g_cpu_child = cpu_child;
    spawn_child(cpu_child);

    printf("xshm_bench: xshm %u.%u.%u\n", shm_version() / 10000, shm_version() / 100 % 100,
           shm_version() % 100);
    printf("library   %s (build id %s)\n", g_lib_path, g_lib_id);
    printf("machine   %s, %d CPUs online; %s\n", g_machine, xs_cpu_count(), g_os);
    printf("pinning   %s\n", g_pin_note);
    printf("load      1-minute load average before the run: %s\n", g_load);
    printf("timer     %s at %.3f GHz, %.0f ns per read (included once in each round trip)\n",
           XS_TICKS_NAME, g_ticks_per_ns, to_ns(best));
    printf("method    %s: %.2f s warm-up, then %.2f s of individually timed round trips per "
           "latency row;\n          throughput: median of %d slices of %.2f s; xshm channels: "
           "default config (4 MiB rings, 4 client slots)\n\n",
           g_set.quick ? "quick" : "full", g_set.warm_s, g_set.run_s, g_set.slices,
           g_set.slice_s);
    fflush(stdout);

    /* floor and ceiling */
    row_t *cl = NULL, *tf = NULL, *wk = NULL, *busy64 = NULL, *block64 = NULL, *ow64 = NULL, *ow64k = NULL;
    row_t *idle = NULL, *ow64k_zc = NULL;
    const row_t *mc[3] = {NULL, NULL, NULL};
    if (want("floor")) {
        cl = bench_floor_cacheline();
        tf = bench_floor_threads();
        if (!g_set.core)
            wk = bench_floor_wake();
    }
    if (want("ceiling") && !g_set.core)
        bench_ceiling(mc);

    /* xshm */
    if (want("xshm")) {
        busy64 = bench_xshm_rtt(false, cl);
        if (!g_set.core)
            block64 = bench_xshm_rtt(true, wk);
        bench_xshm_oneway(mc, false, &ow64, &ow64k);
        if (!g_set.core) {
            bench_xshm_rtt_views(cl);
            for (uint32_t n = 1; n <= 4; n *= 2)
                bench_xshm_request_reply(n, cl);
            bench_xshm_oneway(mc, true, NULL, &ow64k_zc);
        }
    }

    /* alternatives */
    if (want("alt"))
        for (int i = 0; i < n_stream_kinds; i++)
            bench_stream(stream_kinds[i], wk, mc);

    /* idle */
    if (want("idle")) {
        idle = bench_idle(false);
        bench_idle(true);
    }

    /* targets */
    if (busy64 && tf && !tf->failed && tf->median > 0 && busy64->median > 0) {
        /* The busy round trip against the thread floor, and its tail. */
        double to_threads = busy64->median / tf->median;
        set_target(busy64, to_threads, true, 2.0, "target <= 2x thread floor, p99 <= 3x p50");
        if (busy64->met == 1 && busy64->p99 > 3.0 * busy64->median)
            busy64->met = 0;
        size_t used = strlen(busy64->note);
        snprintf(busy64->note + used, sizeof(busy64->note) - used, "%s%.2fx thread floor",
                 used ? "; " : "", to_threads);
    }
    if (block64 && busy64 && !busy64->failed && busy64->median > 0)
        set_target(block64, block64->median / busy64->median, true, 1.10,
                   "target within 10% of busy-poll");
    if (ow64k)
        set_target(ow64k, ow64k->ratio, false, 0.5, "target >= 50% of memcpy");
    if (ow64k_zc)
        set_target(ow64k_zc, ow64k_zc->ratio, false, 0.9, "target >= 0.9x memcpy");
    if (ow64) {
        set_target(ow64, ow64->median, false, 40.0, "target >= 40 M msg/s, loss <= 1%");
        if (ow64->met == 1 && ow64->lost_pct > 1.0)
            ow64->met = 0;
    }
    if (idle) {
        /* Judged on the upper bound: the value plus one step of the counter. */
        set_target(idle, idle->bound, true, 1.0, "target < 1% of a core");
        if (idle->met == 1 && idle->bound >= 1.0)
            idle->met = 0; /* strictly less */
    }

    issue(CMD_EXIT, 0, 0, NULL);
    reap_child();
    ctrl_remove();
    if (have_sys && xs_machine_cpu_s(&busy1, &steal1)) {
        double wall = (double)(xs_now_ns() - run_t0) / 1e9;
        double other = (busy1 - busy0) - xs_own_cpu_s();
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
