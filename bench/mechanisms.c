/*
 * mechanisms.c - the OS objects of the benchmark, Linux and Windows side by
 * side: the control block both processes map, the wake-up floor's primitive
 * (futex / events) and the byte streams measured against xshm (pipe and
 * Unix socket / named pipe). These are what the benchmark measures or how
 * its two processes talk, not helpers: everything else of the OS comes from
 * the support library.
 */
#if !defined(_WIN32) && !defined(_GNU_SOURCE)
#define _GNU_SOURCE /* syscall */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "bench.h"

ctrl_t *C;
char g_ctrl_name[64];
const char *const stream_names[3] = {"pipe", "Unix socket", "named pipe"};

static bool s_write_some(fd_t f, const char *c, size_t n, size_t *w);

bool s_write(fd_t f, const void *p, size_t n)
{
    const char *c = (const char *)p;
    while (n) {
        size_t w = 0;
        if (!s_write_some(f, c, n, &w))
            return false;
        c += w;
        n -= w;
    }
    return true;
}

bool s_read_exact(fd_t f, void *p, size_t n)
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

#ifdef _WIN32

/* ---- Windows ------------------------------------------------------------------------- */

static HANDLE g_ctrl_map, g_ev_a, g_ev_b;
static HANDLE g_npipe = INVALID_HANDLE_VALUE; /* the benchmark's end */
static HANDLE g_npipe_child;                  /* the child's end, once opened */
static char g_npipe_name[96];

void ctrl_create(void)
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

void ctrl_open(const char *name)
{
    g_ctrl_map = OpenFileMappingA(FILE_MAP_ALL_ACCESS, FALSE, name);
    C = g_ctrl_map ? (ctrl_t *)MapViewOfFile(g_ctrl_map, FILE_MAP_ALL_ACCESS, 0, 0, sizeof(ctrl_t))
                   : NULL;
    if (!C)
        die("child: cannot open %s (%lu)", name, (unsigned long)GetLastError());
    snprintf(g_ctrl_name, sizeof(g_ctrl_name), "%s", name);
}

void ctrl_remove(void) {} /* the mapping vanishes with its last handle */

const char *const wake_row_name = "event wake-up ping-pong, round trip";

void wake_objects_create(void)
{
    char n[96];
    snprintf(n, sizeof(n), "%s.a", g_ctrl_name);
    g_ev_a = CreateEventA(NULL, FALSE, FALSE, n);
    snprintf(n, sizeof(n), "%s.b", g_ctrl_name);
    g_ev_b = CreateEventA(NULL, FALSE, FALSE, n);
    if (!g_ev_a || !g_ev_b)
        die("CreateEvent failed (%lu)", (unsigned long)GetLastError());
}

void wake_objects_open(const char *ctrl_name)
{
    char n[96];
    snprintf(n, sizeof(n), "%s.a", ctrl_name);
    g_ev_a = OpenEventA(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, n);
    snprintf(n, sizeof(n), "%s.b", ctrl_name);
    g_ev_b = OpenEventA(EVENT_MODIFY_STATE | SYNCHRONIZE, FALSE, n);
    if (!g_ev_a || !g_ev_b)
        die("child: OpenEvent failed (%lu)", (unsigned long)GetLastError());
}

void wake_ping(uint32_t i)
{
    xs_store32(&C->wake_a.v, i);
    SetEvent(g_ev_a);
    while (xs_load32(&C->wake_b.v) != i)
        WaitForSingleObject(g_ev_b, 1000);
}

void wake_echo_loop(void)
{
    uint32_t last = xs_load32(&C->wake_a.v);
    for (;;) {
        uint32_t v = xs_load32(&C->wake_a.v);
        if (v == last) {
            if (WaitForSingleObject(g_ev_a, 1000) == WAIT_TIMEOUT && xs_parent_gone())
                exit(1);
            continue;
        }
        if (v == STOP)
            return;
        last = v;
        xs_store32(&C->wake_b.v, v);
        SetEvent(g_ev_b);
    }
}

void wake_stop(void)
{
    xs_store32(&C->wake_a.v, STOP);
    SetEvent(g_ev_a);
}

const int stream_kinds[] = {STREAM_NPIPE};
const int n_stream_kinds = 1;

void streams_create(char *child_arg, size_t n)
{
    snprintf(g_npipe_name, sizeof(g_npipe_name), "\\\\.\\pipe\\xshm_bench.%lu",
             (unsigned long)GetCurrentProcessId());
    g_npipe = CreateNamedPipeA(g_npipe_name, PIPE_ACCESS_DUPLEX,
                               PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT, 1, 65536, 65536,
                               0, NULL);
    snprintf(child_arg, n, "%s", g_npipe_name);
}

void streams_adopt(const char *child_arg)
{
    snprintf(g_npipe_name, sizeof(g_npipe_name), "%s", child_arg);
}

bool stream_ends(int kind, bool child, stream_ctx_t *s)
{
    if (kind != STREAM_NPIPE)
        return false;
    if (!child) {
        if (g_npipe == INVALID_HANDLE_VALUE)
            return false;
        s->rd = s->wr = g_npipe;
        return true;
    }
    if (g_npipe_child == NULL) {
        HANDLE h = CreateFileA(g_npipe_name, GENERIC_READ | GENERIC_WRITE, 0, NULL,
                               OPEN_EXISTING, 0, NULL);
        if (h == INVALID_HANDLE_VALUE)
            return false;
        g_npipe_child = h;
    }
    s->rd = s->wr = g_npipe_child;
    return true;
}

bool stream_connected(int kind)
{
    (void)kind;
    return ConnectNamedPipe(g_npipe, NULL) || GetLastError() == ERROR_PIPE_CONNECTED;
}

static bool s_write_some(fd_t f, const char *c, size_t n, size_t *w)
{
    DWORD done = 0;
    if (!WriteFile((HANDLE)f, c, (DWORD)n, &done, NULL))
        return false;
    *w = done;
    return true;
}

long s_read(fd_t f, void *p, size_t n)
{
    DWORD r = 0;
    if (!ReadFile((HANDLE)f, p, (DWORD)n, &r, NULL))
        return -1;
    return (long)r;
}

#else

/* ---- Linux ----------------------------------------------------------------------------- */

static int g_ctrl_fd = -1;
static int g_p2c[2] = {-1, -1}, g_c2p[2] = {-1, -1}, g_sock[2] = {-1, -1};
static fd_t g_child_rd[2], g_child_wr[2]; /* the child's ends: pipe, socket */

void ctrl_create(void)
{
    snprintf(g_ctrl_name, sizeof(g_ctrl_name), "/xshm_bench.%ld", (long)getpid());
    g_ctrl_fd = shm_open(g_ctrl_name, O_CREAT | O_EXCL | O_RDWR, 0600);
    if (g_ctrl_fd < 0 || ftruncate(g_ctrl_fd, (off_t)sizeof(ctrl_t)) != 0)
        die("shm_open %s: %s", g_ctrl_name, strerror(errno));
    C = (ctrl_t *)mmap(NULL, sizeof(ctrl_t), PROT_READ | PROT_WRITE, MAP_SHARED, g_ctrl_fd, 0);
    if (C == MAP_FAILED)
        die("mmap: %s", strerror(errno));
}

void ctrl_open(const char *name)
{
    int fd = shm_open(name, O_RDWR, 0600);
    if (fd < 0)
        die("child: shm_open %s: %s", name, strerror(errno));
    C = (ctrl_t *)mmap(NULL, sizeof(ctrl_t), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (C == MAP_FAILED)
        die("child: mmap: %s", strerror(errno));
    close(fd);
    snprintf(g_ctrl_name, sizeof(g_ctrl_name), "%s", name);
}

void ctrl_remove(void)
{
    if (g_ctrl_name[0])
        shm_unlink(g_ctrl_name);
}

const char *const wake_row_name = "futex wake-up ping-pong, round trip";

void wake_objects_create(void) {}
void wake_objects_open(const char *ctrl_name) { (void)ctrl_name; }

/* FUTEX_WAIT / FUTEX_WAKE on a word of the shared mapping (not private). */
static void futex_wait(uint32_t *w, uint32_t v) { syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0); }
static void futex_wake(uint32_t *w) { syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0); }

void wake_ping(uint32_t i)
{
    uint32_t v;
    xs_store32(&C->wake_a.v, i);
    futex_wake(&C->wake_a.v);
    while ((v = xs_load32(&C->wake_b.v)) != i)
        futex_wait(&C->wake_b.v, v);
}

void wake_echo_loop(void)
{
    uint32_t last = xs_load32(&C->wake_a.v);
    for (;;) {
        uint32_t v = xs_load32(&C->wake_a.v);
        if (v == last) {
            futex_wait(&C->wake_a.v, v);
            continue;
        }
        if (v == STOP)
            return;
        last = v;
        xs_store32(&C->wake_b.v, v);
        futex_wake(&C->wake_b.v);
    }
}

void wake_stop(void)
{
    xs_store32(&C->wake_a.v, STOP);
    futex_wake(&C->wake_a.v);
}

const int stream_kinds[] = {STREAM_PIPE, STREAM_SOCKET};
const int n_stream_kinds = 2;

/* The child inherits the descriptors (not close-on-exec) and is told the
 * numbers of its ends. */
void streams_create(char *child_arg, size_t n)
{
    if (pipe(g_p2c) != 0 || pipe(g_c2p) != 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, g_sock) != 0)
        die("pipe/socketpair: %s", strerror(errno));
    snprintf(child_arg, n, "%d,%d,%d", g_p2c[0], g_c2p[1], g_sock[1]);
}

void streams_adopt(const char *child_arg)
{
    int rd = -1, wr = -1, sock = -1;
    if (sscanf(child_arg, "%d,%d,%d", &rd, &wr, &sock) != 3)
        die("child: bad stream argument '%s'", child_arg);
    g_child_rd[STREAM_PIPE] = rd;
    g_child_wr[STREAM_PIPE] = wr;
    g_child_rd[STREAM_SOCKET] = g_child_wr[STREAM_SOCKET] = sock;
}

bool stream_ends(int kind, bool child, stream_ctx_t *s)
{
    if (kind != STREAM_PIPE && kind != STREAM_SOCKET)
        return false;
    if (child) {
        s->rd = g_child_rd[kind];
        s->wr = g_child_wr[kind];
    } else if (kind == STREAM_PIPE) {
        s->rd = g_c2p[0];
        s->wr = g_p2c[1];
    } else {
        s->rd = s->wr = g_sock[0];
    }
    return true;
}

bool stream_connected(int kind)
{
    (void)kind;
    return true;
}

static bool s_write_some(fd_t f, const char *c, size_t n, size_t *w)
{
    for (;;) {
        ssize_t r = write(f, c, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return false;
        *w = (size_t)r;
        return true;
    }
}

long s_read(fd_t f, void *p, size_t n)
{
    for (;;) {
        ssize_t r = read(f, p, n);
        if (r < 0 && errno == EINTR)
            continue;
        return (long)r;
    }
}

#endif
