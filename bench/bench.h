/*
 * bench.h - what the files of xshm_bench share (see main.c for what the
 * benchmark measures and how):
 *
 *   main.c        options, the machine header, the run of the cases, targets
 *   case_floor.c  floor (cache-line and wake-up ping-pong) and ceiling (memcpy)
 *   case_xshm.c   xshm round trips, one-way throughput, the idle reader
 *   case_stream.c alternatives: pipe, Unix socket, named pipe
 *   measure.c     timing: TSC calibration, latency rows, plot samples
 *   peer.c        the benchmark's side of the child: start it, issue commands
 *   child.c       the child's command server
 *   mechanisms.c  the OS objects measured or shared (the control mapping,
 *                 futex / events, pipes and sockets): Linux and Windows
 *   report.c      rows, the table, JSON, gnuplot files
 *
 * The clock, processes, pinning and histogram are the support library's
 * (support/xsupport.h).
 */
#ifndef XSHM_BENCH_H
#define XSHM_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "shm_ipc.h"
#include "xsupport.h"

/* ---- the control block both processes map ------------------------------------------- */

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
    CMD_XSHM_ECHO,     /* connect to `name`, echo until a 1-byte message (arg: ZC_*) */
    CMD_XSHM_SINK,     /* connect, count slices ended by 1 byte, until 2 bytes (arg: ZC_*) */
    CMD_XSHM_IDLE,     /* connect, CPU time of one blocking receive (arg: callback) */
    CMD_XSHM_CLIENTS,  /* connect arg clients (<= 4), each sends its index, then echo
                          whatever each receives through it, until a 1-byte message */
    CMD_STREAM_ECHO,   /* arg: stream kind; echo 64-byte messages */
    CMD_STREAM_SINK,   /* arg: kind, arg2: message size; read slices */
    CMD_EXIT
};

/* arg of CMD_XSHM_ECHO and CMD_XSHM_SINK: the child receives with
 * shm_client_receive_view()/shm_client_release() and echoes with
 * shm_client_reserve()/shm_client_commit() instead of copying. */
#define ZC_VIEWS 1u

enum { STREAM_PIPE = 0, STREAM_SOCKET = 1, STREAM_NPIPE = 2 };
extern const char *const stream_names[3];

extern ctrl_t *C; /* the mapped control block */

/* ---- settings ------------------------------------------------------------------------- */

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

extern settings_t g_set;
extern unsigned char *g_out, *g_in; /* SHM_MAX_MESSAGE_SIZE each */

/* Print "xshm_bench: <message>" on stderr and exit with status 2. */
void die(const char *fmt, ...);

/* ---- rows and the report (report.c) ---------------------------------------------------- */

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
    char target[64];               /* "" when none */
    int met;                       /* -1 none, 0 not met, 1 met */
    bool failed;                   /* could not be measured */
    double bound;                  /* idle: upper bound given the counter's step */
    double gbs;                    /* one-way rows: delivered GB/s (< 0: none) */
    double lost_pct;               /* one-way rows: % of the sent messages lost (< 0: none) */
} row_t;

#define MAX_ROWS 40
extern row_t g_rows[MAX_ROWS];
extern int g_nrows;

/* What the header and the JSON say about the run. */
extern int g_cpu_child; /* the CPU the child is pinned to (-1: none) */
extern char g_machine[128], g_os[128], g_load[128], g_disturb[160], g_pin_note[160];
extern char g_lib_path[512], g_lib_id[48];

row_t *new_row(const char *section, const char *fmt, ...);
void set_ratio(row_t *r, const row_t *base, bool inverse, const char *to);
/* target: value <= limit (le) or >= limit; a value < 0 (no baseline in
 * this run, see --only) leaves it undecided (met = -1, printed "n/a"). */
void set_target(row_t *r, double value, bool le, double limit, const char *text);
/* "8 B", "64 KiB" */
void size_label(char *out, size_t n, uint32_t size);

void print_table(FILE *f);
void write_json(const char *path);
void write_plots(const char *dir);

/* ---- timing (measure.c) --------------------------------------------------------------- */

extern double g_ticks_per_ns;
double to_ns(uint64_t t);
uint64_t ns_to_ticks(double ns);

typedef bool (*op_fn)(void *ctx); /* one round trip */

/* Plot samples: a uniform random subset (reservoir) of a row's round trips,
 * in ns. */
#define PLOT_CAP 200000u
typedef struct plot_set {
    const char *file; /* "rtt_64B_<what>.txt" */
    const char *title;
    uint32_t *v;
    size_t n;      /* kept, at most PLOT_CAP */
    uint64_t seen; /* offered */
} plot_set_t;
extern plot_set_t g_plots[8];
extern int g_nplots;
/* A new set (file "rtt_...txt" in the plot folder) when --plot is given,
 * else NULL. */
plot_set_t *plot_for(const char *file, const char *title);

/* Spin for this many ns before each round trip (outside its timing); 0: none. */
extern uint64_t g_pause_ns;

/* Warm up, then time round trips one by one for run_s seconds; fills the
 * row's median, p99, p99.9, max. False when an op failed (r->failed). */
bool measure_latency(row_t *r, op_fn op, void *ctx, plot_set_t *plot);

/* The median of v[0..n) (sorts v). */
double median_of(double *v, int n);

/* ---- the child, from the benchmark's side (peer.c) -------------------------------------- */

extern double g_child_cpu_s; /* CPU seconds the child used, once reaped */

void spawn_child(int cpu);
bool child_alive(void);
void reap_child(void);
/* Wait until the child sets *w to v; false if it died or took 20 s. */
bool wait_child(uint32_t *w, uint32_t v);
/* Issue a command and wait until the child is set up for it. */
bool issue(uint32_t cmd, uint32_t arg, uint32_t arg2, const char *name);
/* Wait until the child has finished the command issued last. */
bool finish_cmd(void);

/* The child: its command loop (child.c). */
int child_main(int argc, char **argv);

/* ---- OS objects (mechanisms.c) ----------------------------------------------------------- */

/* The control block: created (and named) by the benchmark, opened by the
 * child, removed at the end. */
extern char g_ctrl_name[64];
void ctrl_create(void);
void ctrl_open(const char *name);
void ctrl_remove(void);

/* The wake-up floor's primitive: Linux futex on a word of the control
 * block, Windows a pair of named auto-reset events. */
extern const char *const wake_row_name;
void wake_objects_create(void);
void wake_objects_open(const char *ctrl_name);
void wake_ping(uint32_t i);  /* parent: wake the child, sleep until it answers */
void wake_echo_loop(void);   /* child: answer until STOP */
void wake_stop(void);        /* parent */

/* Byte streams: the kinds this OS has (STREAM_*), their ends. */
#ifdef _WIN32
typedef void *fd_t; /* HANDLE */
#else
typedef int fd_t;
#endif
typedef struct stream_ctx {
    fd_t rd, wr;
} stream_ctx_t;
extern const int stream_kinds[];
extern const int n_stream_kinds;
/* Benchmark: create them before spawning the child; the argument that
 * tells the child its ends. */
void streams_create(char *child_arg, size_t n);
/* Child: its ends, from that argument. */
void streams_adopt(const char *child_arg);
/* This side's ends of a kind (the child's: `child`); false when there is
 * no such stream. The benchmark's named pipe waits for the child here. */
bool stream_ends(int kind, bool child, stream_ctx_t *s);
/* Benchmark, after the child has opened a kind's ends: connected. */
bool stream_connected(int kind);
bool s_write(fd_t f, const void *p, size_t n);
long s_read(fd_t f, void *p, size_t n);
bool s_read_exact(fd_t f, void *p, size_t n);

#endif /* XSHM_BENCH_H */
