/*
 * report.c - the rows of a run and their output: the table, the JSON file
 * (--json) and the plot folder's sample files and gnuplot script (--plot).
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

char g_machine[128], g_os[128], g_load[128], g_disturb[160], g_pin_note[160];
char g_lib_path[512], g_lib_id[48];

/* ---- rows ------------------------------------------------------------------------------- */

row_t g_rows[MAX_ROWS];
int g_nrows;

row_t *new_row(const char *section, const char *fmt, ...)
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
    r->lost_pct = -1;
    va_start(ap, fmt);
    vsnprintf(r->name, sizeof(r->name), fmt, ap);
    va_end(ap);
    return r;
}

void set_ratio(row_t *r, const row_t *base, bool inverse, const char *to)
{
    if (r->failed || !base || base->failed || base->median <= 0 || r->median <= 0)
        return;
    r->ratio = inverse ? base->median / r->median : r->median / base->median;
    snprintf(r->ratio_to, sizeof(r->ratio_to), "%s", to);
}

void set_target(row_t *r, double value, bool le, double limit, const char *text)
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

void size_label(char *out, size_t n, uint32_t size)
{
    if (size >= 1024 && size % 1024 == 0)
        snprintf(out, n, "%u KiB", size / 1024);
    else
        snprintf(out, n, "%u B", size);
}

/* ---- the table, JSON, plots ------------------------------------------------------------- */

void print_table(FILE *f)
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

void write_json(const char *path)
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
    fprintf(f, ",\n  \"cpus_online\": %d,\n  \"os\": ", xs_cpu_count());
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

void write_plots(const char *dir)
{
    char path[1024];
    xs_make_dir(dir);
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
    if (!xs_on_path("gnuplot")) {
        printf("plot: gnuplot is not on PATH: PNG skipped (run 'gnuplot rtt_64B.gp' in %s)\n",
               dir);
        return;
    }
    if (xs_system_in(dir, "gnuplot rtt_64B.gp") == 0)
        printf("plot: %s/rtt_64B.png\n", dir);
    else
        printf("plot: gnuplot failed: PNG skipped\n");
}

