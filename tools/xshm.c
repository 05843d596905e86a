/*
 * xshm.c - the xshm command-line tool.
 *
 *   xshm list                 channels on this machine (Linux)
 *   xshm stat NAME            rings, reader slots, server, configuration
 *   xshm watch NAME           stat, refreshed, with message rates
 *   xshm send NAME TEXT       connect as a client, send one message, leave
 *   xshm tail NAME            connect as a client, dump what the server sends
 *
 * list, stat and watch are observers: they map the channel's segment through
 * xshm_plat_shm_open and validate it with xshm_segment_attach (the code every
 * client runs), then only load words with the atomics helpers. Where the OS
 * allows, the mapping is made read-only right after it is opened, so a write
 * by mistake would fault instead of disturbing the channel. send and tail are
 * ordinary clients (shm_client_connect).
 *
 * Exit status: 0 success, 1 runtime error, 2 usage error.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "platform.h"
#include "shm_common.h"
#include "shm_ipc.h"
#include "shm_ringbuffer.h"

#ifdef _WIN32
#define WIN32_LEAN_AND_MEAN
#include <io.h>
#include <windows.h>
#else
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* ---- help ------------------------------------------------------------------ */

static const char usage_text[] =
    "usage: xshm <command> [options]\n"
    "\n"
    "Inspect and use the xshm shared-memory channels of this machine.\n"
    "\n"
    "commands:\n"
    "  list            channels on this machine: owner, state, clients, ring size\n"
    "                  (Linux; Windows cannot enumerate named sections)\n"
    "  stat NAME       rings, reader slots, server identity and configuration\n"
    "  watch NAME      stat, refreshed, with message rates per ring\n"
    "  send NAME TEXT  connect as a client, send TEXT as one message, leave\n"
    "  tail NAME       connect as a client and dump every message the server\n"
    "                  sends (hex and ASCII)\n"
    "  help [COMMAND]  this text, or the options of one command\n"
    "\n"
    "options:\n"
    "  --json          list, stat, watch: JSON output\n"
    "  --all           stat, watch: also free slots and unused client rings\n"
    "  --interval MS   watch: time between refreshes (default 1000)\n"
    "  --count N       watch: stop after N refreshes; tail: after N messages\n"
    "  --timeout MS    tail: stop when no message came for MS milliseconds\n"
    "  --hex           send: TEXT is bytes in hex, e.g. \"de ad be ef\"\n"
    "  -h, --help      help; with a command: that command's help\n"
    "  -V, --version   versions of the tool and of the library\n"
    "\n"
    "list, stat and watch only read the channel's shared memory: they take no\n"
    "slot and never write, so the server and its clients do not notice them.\n"
    "send and tail are real clients: each takes a client slot while it runs.\n"
    "\n"
    "NAME: the channel name given to shm_server_create, 1-64 characters of\n"
    "[A-Za-z0-9._-], optionally prefixed Local\\ or Global\\ (Windows).\n"
    "\n"
    "Exit status: 0 success, 1 runtime error (no such channel, access denied,\n"
    "invalid segment, ...), 2 usage error.\n";

static const char help_list[] =
    "usage: xshm list [--json]\n"
    "\n"
    "The channels of this machine (Linux: the xshm.* objects of /dev/shm), each\n"
    "with its owner, state (ready, closed, creator dead, or why it cannot be\n"
    "read), connected clients (active slots whose process is alive) of the\n"
    "maximum, the size of each ring and the server's process id.\n"
    "Windows has no way to enumerate named sections: use xshm stat NAME.\n";

static const char help_stat[] =
    "usage: xshm stat NAME [--json] [--all]\n"
    "\n"
    "One snapshot of the channel NAME, read from its shared memory without\n"
    "writing anything:\n"
    "  the server: process id, pointer width, alive; the channel's generation\n"
    "  and configuration (ring size, client slots, receive mode, timeout);\n"
    "  per ring (ring 0: server -> clients; ring 1+i: client slot i -> server):\n"
    "  capacity, bytes in use (tail - slowest active reader), messages and\n"
    "  bytes written, the writer's identity;\n"
    "  per reader slot: state, pid, pointer width, alive, position (cursor),\n"
    "  lag (tail - cursor, in bytes), messages received and lost, bytes.\n"
    "--all also shows free reader slots and client rings never written to.\n";

static const char help_watch[] =
    "usage: xshm watch NAME [--interval MS] [--count N] [--json] [--all]\n"
    "\n"
    "The output of xshm stat, refreshed every MS milliseconds (default 1000),\n"
    "with messages/s and MB/s per ring measured between two refreshes (the\n"
    "first refresh comes one interval after the start). Stops after N\n"
    "refreshes, or on Ctrl-C (Windows: also Ctrl-Break). With --json: one\n"
    "JSON document per line.\n"
    "Read-only, like stat.\n";

static const char help_send[] =
    "usage: xshm send NAME TEXT [--hex]\n"
    "\n"
    "Connect to the channel NAME as a client, send TEXT as one message (its\n"
    "bytes, without a terminating NUL), and disconnect. With --hex, TEXT is the\n"
    "message in hexadecimal, whitespace allowed: \"48 65 6c 6c 6f\".\n"
    "The message goes to the server only (clients never see each other's).\n"
    "Use -- before a TEXT that starts with '-'.\n";

static const char help_tail[] =
    "usage: xshm tail NAME [--count N] [--timeout MS]\n"
    "\n"
    "Connect to the channel NAME as a client and print every message the server\n"
    "sends, with its number and size, as hex and ASCII (like xxd). Stops after\n"
    "N messages, when no message came for MS milliseconds, when the server goes\n"
    "away, or on Ctrl-C (Windows: also Ctrl-Break, or when the console window\n"
    "closes); in every case it leaves the channel and prints a summary.\n"
    "\n"
    "tail is a real client: receiving is only possible through a client slot.\n"
    "It takes one of the channel's slots while it runs (the server sees it\n"
    "connect and leave), and it sees only the messages sent after it connected;\n"
    "the other clients still get every message (each reads its own copy).\n"
    "Exit status 1 if --count was given and fewer messages came.\n";

/* ---- errors ------------------------------------------------------------------- */

static void fail(const char *fmt, ...)
{
    va_list ap;
    fputs("xshm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    fputs("xshm: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n(xshm --help for usage)\n", stderr);
    return EXIT_USAGE;
}

/* ---- channel names ---------------------------------------------------------- */

typedef struct chan_name {
    const char *arg;                    /* as given, for messages */
    char bare[SHM_MAX_NAME_LENGTH + 1]; /* without a Local\ or Global\ prefix */
    char os[PLAT_NAME_MAX];             /* the OS object name, as the library builds it */
} chan_name_t;

/* The library's own naming rule (xshm_channel_os_name). */
static bool parse_name(const char *arg, chan_name_t *n)
{
    const char *bare = NULL;
    if (xshm_channel_os_name(arg, n->os, sizeof(n->os), &bare) != SHM_SUCCESS)
        return false;
    n->arg = arg;
    snprintf(n->bare, sizeof(n->bare), "%s", bare);
    return true;
}

/* ---- read-only view of a segment ------------------------------------------------- */

/* Make the mapping read-only, so that nothing here can write to it. Best
 * effort: the code only loads anyway. */
static void protect_readonly(void *base, size_t size)
{
#if defined(_WIN32)
    DWORD old;
    (void)VirtualProtect(base, size, PAGE_READONLY, &old);
#else
    (void)mprotect(base, size, PROT_READ);
#endif
}

/* Why xshm_segment_attach refused the segment at base (size bytes mapped). */
static void explain_invalid(const void *base, size_t size, char *why, size_t n)
{
    const shm_seg_header_t *h = (const shm_seg_header_t *)base;
    if (size < sizeof(shm_seg_header_t)) {
        snprintf(why, n, "it is %lu bytes, smaller than a segment header", (unsigned long)size);
        return;
    }
    uint32_t magic = xa_load32_relaxed(&h->magic);
    uint32_t version = xa_load32_relaxed(&h->layout_version);
    if (magic != SHM_SEG_MAGIC) {
        snprintf(why, n,
                 "it does not start with the xshm magic number (0x%08x, expected 0x%08x): "
                 "another program's object, or damaged",
                 (unsigned)magic, (unsigned)SHM_SEG_MAGIC);
    } else if (version != SHM_LAYOUT_VERSION) {
        snprintf(why, n,
                 "its layout version is %u, this xshm reads layout version %u: made by "
                 "another version of xshm",
                 (unsigned)version, (unsigned)SHM_LAYOUT_VERSION);
    } else if (xa_load32_relaxed(&h->header_size) != sizeof(shm_seg_header_t) ||
               xa_load32_relaxed(&h->max_message) != SHM_MAX_MESSAGE_SIZE) {
        snprintf(why, n,
                 "its header (size %u, largest message %u) is not the one of this xshm: made "
                 "by another version of xshm",
                 (unsigned)xa_load32_relaxed(&h->header_size),
                 (unsigned)xa_load32_relaxed(&h->max_message));
    } else {
        snprintf(why, n,
                 "its geometry does not add up (%u rings of %u bytes, %u client slots, "
                 "%" PRIu64 " bytes declared, %lu mapped): damaged",
                 (unsigned)xa_load32_relaxed(&h->ring_count),
                 (unsigned)xa_load32_relaxed(&h->ring_capacity),
                 (unsigned)xa_load32_relaxed(&h->max_readers), xa_load64_relaxed(&h->total_size),
                 (unsigned long)size);
    }
}

/*
 * Open the channel's segment for reading: xshm_plat_shm_open, read-only
 * protection, then the same validation a client runs (xshm_segment_attach);
 * what xshm_segment_open does, with the protection in between. A segment that
 * is valid but is not laid out as a channel (1 + max_readers rings) is
 * refused too. On failure `why` (if not NULL) says why in words.
 */
static shm_error_t view_open(shm_segment_t *seg, const chan_name_t *name, char *why, size_t n)
{
    plat_shm_t shm;
    memset(&shm, 0, sizeof(shm));
    memset(seg, 0, sizeof(*seg));
    if (why && n)
        why[0] = '\0';
    shm_error_t e = xshm_plat_shm_open(&shm, name->os);
    if (e != SHM_SUCCESS) {
        if (e == SHM_ERROR_INVALID_SEGMENT && why)
            snprintf(why, n,
                     "the object is empty: its creator has not sized it yet, "
                     "or died while creating it");
        return e;
    }
    protect_readonly(shm.base, shm.size);
    e = xshm_segment_attach(seg, shm.base, shm.size);
    if (e == SHM_SUCCESS && seg->ring_count != 1u + seg->rings[0].max_readers) {
        if (why)
            snprintf(why, n,
                     "it is an xshm segment but not a channel (%u rings for %u client slots)",
                     (unsigned)seg->ring_count, (unsigned)seg->rings[0].max_readers);
        memset(seg, 0, sizeof(*seg));
        e = SHM_ERROR_INVALID_SEGMENT;
    } else if (e == SHM_ERROR_INVALID_SEGMENT && why) {
        explain_invalid(shm.base, shm.size, why, n);
    } else if (e == SHM_ERROR_NOT_FOUND && why) {
        snprintf(why, n,
                 "its creator has not published its header (it is being created, or "
                 "its creator died before finishing)");
    }
    if (e != SHM_SUCCESS) {
        xshm_plat_shm_close(&shm);
        return e;
    }
    seg->shm = shm;
    return SHM_SUCCESS;
}

/* Owner of the object (Linux: the file under /dev/shm). */
typedef struct owner_info {
    bool known;
    uint32_t uid;
    uint32_t mode;
    char user[64];
} owner_info_t;

static void owner_of(const chan_name_t *name, owner_info_t *o)
{
    memset(o, 0, sizeof(*o));
#ifndef _WIN32
    char path[PLAT_NAME_MAX + 16];
    struct stat st;
    snprintf(path, sizeof(path), "/dev/shm/%s", name->os);
    if (stat(path, &st) != 0)
        return;
    o->known = true;
    o->uid = (uint32_t)st.st_uid;
    o->mode = (uint32_t)(st.st_mode & 07777);
    struct passwd *pw = getpwuid(st.st_uid);
    if (pw && pw->pw_name)
        snprintf(o->user, sizeof(o->user), "%s", pw->pw_name);
    else
        snprintf(o->user, sizeof(o->user), "%u", (unsigned)o->uid);
#else
    (void)name;
#endif
}

/* A message for a failure to open (or connect to) the channel. */
static void report_open_error(const chan_name_t *name, shm_error_t e, const char *why)
{
    switch (e) {
    case SHM_ERROR_NOT_FOUND:
        if (why && why[0])
            fail("channel %s exists but cannot be read yet: %s", name->arg, why);
        else
            fail("no channel named %s", name->arg);
        break;
    case SHM_ERROR_ACCESS: {
        owner_info_t o;
        owner_of(name, &o);
        if (o.known)
            fail("access denied to channel %s: it belongs to %s (uid %u, mode %04o), and only "
                 "its creator may open it; run xshm as that user",
                 name->arg, o.user, (unsigned)o.uid, (unsigned)o.mode);
        else
            fail("access denied to channel %s: only the user who created it (and, on Windows, "
                 "SYSTEM and Administrators) may open it",
                 name->arg);
        break;
    }
    case SHM_ERROR_INVALID_SEGMENT:
        fail("%s is not a valid xshm channel: %s", name->arg,
             why && why[0] ? why : "its segment header does not validate");
        break;
    default: {
        int code = 0;
        const char *fn = xshm_plat_last_os_error(&code);
        if (fn && fn[0])
            fail("cannot open channel %s: %s (%s failed, error %d)", name->arg, shm_strerror(e), fn,
                 code);
        else
            fail("cannot open channel %s: %s", name->arg, shm_strerror(e));
        break;
    }
    }
}

/* ---- snapshots ----------------------------------------------------------------- */

typedef struct slot_snap {
    uint32_t state; /* SHM_SLOT_* */
    uint32_t pid, ptr_bits;
    uint64_t start_time;
    bool alive;
    bool waiting;
    uint64_t cursor, lag, received, lost, bytes;
} slot_snap_t;

typedef struct ring_snap {
    uint32_t capacity;
    uint32_t nslots;
    uint64_t tail, head, messages, bytes;
    uint64_t used;
    uint32_t writer_pid, writer_bits;
    bool writer_alive;
    uint32_t waiters;
    slot_snap_t slots[SHM_MAX_READERS];
} ring_snap_t;

typedef struct chan_snap {
    uint64_t t_ns;
    size_t mapped;
    uint32_t seg_state;
    uint32_t layout_version;
    uint32_t ring_count, capacity, max_readers, max_message;
    uint32_t creator_pid, creator_bits;
    bool creator_alive;
    uint64_t generation;
    bool blocking;
    uint32_t timeout_ms;
    uint32_t clients; /* ACTIVE slots of ring 0 whose process is alive */
    owner_info_t owner;
    ring_snap_t rings[SHM_SEG_MAX_RINGS];
} chan_snap_t;

static const char *seg_state_text(const chan_snap_t *s)
{
    switch (s->seg_state) {
    case SHM_SEG_READY:
        return s->creator_alive ? "ready" : "creator dead";
    case SHM_SEG_CLOSED:
        return "closed";
    case SHM_SEG_INITIALIZING:
        return "initializing";
    default:
        return "unknown";
    }
}

static const char *slot_state_text(uint32_t st)
{
    switch (st) {
    case SHM_SLOT_FREE:
        return "free";
    case SHM_SLOT_CLAIMING:
        return "claiming";
    case SHM_SLOT_ACTIVE:
        return "active";
    default:
        return "invalid";
    }
}

static bool proc_alive(uint32_t pid, uint64_t start)
{
    plat_proc_id_t id;
    id.pid = pid;
    id.start_time = start;
    return pid != 0 && xshm_plat_proc_alive(&id);
}

/* tail, next_seq and bytes_written as one consistent set (pub_ver is odd
 * while the writer changes them); after a bounded number of tries (a writer
 * that died between its two pub_ver stores) the last values read. */
static void read_counters(const shm_ring_header_t *h, uint64_t *tail, uint64_t *seq,
                          uint64_t *bytes)
{
    for (int tries = 0; tries < 1000; tries++) {
        uint64_t v1 = xa_load64_acq(&h->pub_ver);
        *tail = xa_load64_acq(&h->tail);
        *seq = xa_load64_acq(&h->next_seq);
        *bytes = xa_load64_acq(&h->bytes_written);
        xa_fence_acq();
        if ((v1 & 1) == 0 && v1 == xa_load64_relaxed(&h->pub_ver))
            return;
        xa_pause();
    }
}

static void snapshot(const shm_segment_t *seg, chan_snap_t *s)
{
    const shm_seg_header_t *h = seg->hdr;
    memset(s, 0, sizeof(*s));
    s->t_ns = xshm_plat_now_ns();
    s->mapped = seg->mapped_size;
    s->seg_state = xa_load32_acq(&h->state);
    s->layout_version = xa_load32_relaxed(&h->layout_version);
    s->ring_count = seg->ring_count;
    s->capacity = seg->rings[0].capacity;
    s->max_readers = seg->rings[0].max_readers;
    s->max_message = seg->rings[0].max_payload;
    s->creator_pid = xa_load32_relaxed(&h->creator_pid);
    s->creator_bits = xa_load32_relaxed(&h->creator_ptr_bits);
    s->creator_alive = proc_alive(s->creator_pid, xa_load64_relaxed(&h->creator_start));
    s->generation = xa_load64_relaxed(&h->generation);
    s->blocking = xa_load32_relaxed(&h->cfg_blocking) != 0;
    s->timeout_ms = xa_load32_relaxed(&h->cfg_timeout_ms);

    for (uint32_t i = 0; i < seg->ring_count && i < SHM_SEG_MAX_RINGS; i++) {
        const shm_ring_t *r = &seg->rings[i];
        ring_snap_t *rs = &s->rings[i];
        rs->capacity = r->capacity;
        rs->nslots = r->max_readers <= SHM_MAX_READERS ? r->max_readers : SHM_MAX_READERS;
        read_counters(r->hdr, &rs->tail, &rs->messages, &rs->bytes);
        rs->head = xa_load64_relaxed(&r->hdr->head);
        rs->writer_pid = xa_load32_relaxed(&r->hdr->writer_pid);
        rs->writer_bits = xa_load32_relaxed(&r->hdr->writer_ptr_bits);
        rs->writer_alive = proc_alive(rs->writer_pid, xa_load64_relaxed(&r->hdr->writer_start));
        rs->waiters = xa_load32_relaxed(&r->hdr->waiters);
        uint64_t slowest = 0;
        for (uint32_t k = 0; k < rs->nslots; k++) {
            const shm_reader_slot_t *sl = &r->slots[k];
            slot_snap_t *ss = &rs->slots[k];
            uint64_t claim = xa_load64_acq(&sl->claim);
            ss->state = SHM_CLAIM_STATE(claim);
            ss->pid = SHM_CLAIM_PID(claim);
            ss->ptr_bits = xa_load32_relaxed(&sl->ptr_bits);
            ss->start_time = xa_load64_relaxed(&sl->start_time);
            ss->waiting = xa_load32_relaxed(&sl->waiting) != 0;
            ss->cursor = xa_load64_relaxed(&sl->cursor);
            ss->received = xa_load64_relaxed(&sl->received);
            ss->lost = xa_load64_relaxed(&sl->lost);
            ss->bytes = xa_load64_relaxed(&sl->bytes);
            ss->lag = ss->cursor <= rs->tail ? rs->tail - ss->cursor : 0;
            if (ss->state != SHM_SLOT_FREE)
                ss->alive = proc_alive(ss->pid, ss->start_time);
            if (ss->state == SHM_SLOT_ACTIVE && ss->lag > slowest)
                slowest = ss->lag;
            if (i == 0 && ss->state == SHM_SLOT_ACTIVE && ss->alive)
                s->clients++;
        }
        rs->used = slowest < rs->capacity ? slowest : rs->capacity;
    }
}

/* Per-ring rates between two snapshots of the same channel; false if they
 * cannot be compared (another generation, counters going backwards). */
static bool ring_rate(const chan_snap_t *prev, const chan_snap_t *cur, uint32_t i, double *msgs,
                      double *mb)
{
    if (!prev || prev->generation != cur->generation || prev->ring_count != cur->ring_count ||
        cur->t_ns <= prev->t_ns)
        return false;
    const ring_snap_t *a = &prev->rings[i], *b = &cur->rings[i];
    if (b->messages < a->messages || b->bytes < a->bytes)
        return false;
    double secs = (double)(cur->t_ns - prev->t_ns) / 1e9;
    *msgs = (double)(b->messages - a->messages) / secs;
    *mb = (double)(b->bytes - a->bytes) / secs / 1e6;
    return true;
}

/* ---- human output --------------------------------------------------------------- */

static void fmt_size(uint64_t v, char *buf, size_t n)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    unsigned u = 0;
    double d = (double)v;
    while (d >= 1024.0 && u < 4) {
        d /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, n, "%" PRIu64 " B", v);
    else if (d == (double)(uint64_t)d)
        snprintf(buf, n, "%.0f %s", d, units[u]);
    else
        snprintf(buf, n, "%.1f %s", d, units[u]);
}

static const char *yes_no(bool b) { return b ? "yes" : "no"; }

/* Whether ring i is worth showing without --all. */
static bool ring_shown(const chan_snap_t *s, uint32_t i, bool all)
{
    if (all || i == 0)
        return true;
    return s->rings[0].slots[i - 1].state != SHM_SLOT_FREE || s->rings[i].messages != 0;
}

static void print_ring(const chan_snap_t *s, uint32_t i, bool all, const chan_snap_t *prev,
                       bool rates)
{
    const ring_snap_t *r = &s->rings[i];
    char cap[32], used[32], bytes[32];
    fmt_size(r->capacity, cap, sizeof(cap));
    fmt_size(r->used, used, sizeof(used));
    fmt_size(r->bytes, bytes, sizeof(bytes));
    if (i == 0)
        printf("\nring 0: server -> clients\n");
    else
        printf("\nring %u: client slot %u -> server\n", (unsigned)i, (unsigned)(i - 1));
    printf("  capacity  %s, used %s (%.1f%%), head %" PRIu64 ", tail %" PRIu64 "\n", cap, used,
           r->capacity ? 100.0 * (double)r->used / (double)r->capacity : 0.0, r->head, r->tail);
    if (r->bytes >= 1024)
        printf("  written   %" PRIu64 " messages, %" PRIu64 " bytes (%s)\n", r->messages, r->bytes,
               bytes);
    else
        printf("  written   %" PRIu64 " messages, %" PRIu64 " bytes\n", r->messages, r->bytes);
    if (r->writer_pid)
        printf("  writer    pid %u, %u-bit, %s\n", (unsigned)r->writer_pid,
               (unsigned)r->writer_bits, r->writer_alive ? "alive" : "dead");
    else
        printf("  writer    none yet\n");
    if (rates) {
        double m, mb;
        if (ring_rate(prev, s, i, &m, &mb))
            printf("  rate      %.1f msg/s, %.3f MB/s\n", m, mb);
        else
            printf("  rate      - msg/s, - MB/s (no comparable earlier sample)\n");
    }
    printf("  %4s  %-8s %8s %4s %5s %14s %10s %10s %8s %12s\n", "slot", "state", "pid", "bits",
           "alive", "position", "lag", "received", "lost", "bytes");
    uint32_t hidden = 0;
    for (uint32_t k = 0; k < r->nslots; k++) {
        const slot_snap_t *sl = &r->slots[k];
        if (sl->state == SHM_SLOT_FREE && !all) {
            hidden++;
            continue;
        }
        if (sl->state == SHM_SLOT_FREE) {
            printf("  %4u  %-8s %8s %4s %5s %14s %10s %10s %8s %12s\n", (unsigned)k, "free", "-",
                   "-", "-", "-", "-", "-", "-", "-");
            continue;
        }
        printf("  %4u  %-8s %8u %4u %5s %14" PRIu64 " %10" PRIu64 " %10" PRIu64 " %8" PRIu64
               " %12" PRIu64 "%s\n",
               (unsigned)k, slot_state_text(sl->state), (unsigned)sl->pid, (unsigned)sl->ptr_bits,
               yes_no(sl->alive), sl->cursor, sl->lag, sl->received, sl->lost, sl->bytes,
               sl->waiting ? "  (waiting)" : "");
    }
    if (hidden)
        printf("  (%u free slot%s not shown)\n", (unsigned)hidden, hidden == 1 ? "" : "s");
}

static void print_stat(const chan_name_t *name, const chan_snap_t *s, bool all,
                       const chan_snap_t *prev, bool rates)
{
    char cap[32], mapped[32];
    fmt_size(s->capacity, cap, sizeof(cap));
    fmt_size((uint64_t)s->mapped, mapped, sizeof(mapped));
    printf("channel     %s (object %s, %s mapped)\n", name->arg, name->os, mapped);
    if (s->owner.known)
        printf("owner       %s (uid %u), mode %04o\n", s->owner.user, (unsigned)s->owner.uid,
               (unsigned)s->owner.mode);
    printf("state       %s\n", seg_state_text(s));
    printf("server      pid %u, %u-bit, %s\n", (unsigned)s->creator_pid, (unsigned)s->creator_bits,
           s->creator_alive ? "alive" : "dead");
    printf("generation  0x%016" PRIx64 "\n", s->generation);
    printf("config      rings of %s, %u client slots, messages up to %u bytes, layout %u\n", cap,
           (unsigned)s->max_readers, (unsigned)s->max_message, (unsigned)s->layout_version);
    if (s->timeout_ms)
        printf("receive     %s, timeout %u ms\n", s->blocking ? "blocking" : "non-blocking",
               (unsigned)s->timeout_ms);
    else
        printf("receive     %s, no timeout\n", s->blocking ? "blocking" : "non-blocking");
    printf("clients     %u connected of %u\n", (unsigned)s->clients, (unsigned)s->max_readers);
    uint32_t hidden = 0;
    for (uint32_t i = 0; i < s->ring_count; i++) {
        if (ring_shown(s, i, all))
            print_ring(s, i, all, prev, rates);
        else
            hidden++;
    }
    if (hidden)
        printf("\n(%u client ring%s of free slots, never written to, not shown; --all shows "
               "them)\n",
               (unsigned)hidden, hidden == 1 ? "" : "s");
}

/* ---- JSON output ------------------------------------------------------------------ */

typedef struct jw {
    FILE *f;
    bool pretty;
    int depth;
    bool first[16];
} jw_t;

static void jw_init(jw_t *w, FILE *f, bool pretty)
{
    memset(w, 0, sizeof(*w));
    w->f = f;
    w->pretty = pretty;
}

static void jw_sep(jw_t *w, const char *key)
{
    if (w->depth > 0) {
        if (!w->first[w->depth])
            fputc(',', w->f);
        w->first[w->depth] = false;
        if (w->pretty) {
            fputc('\n', w->f);
            for (int i = 0; i < w->depth; i++)
                fputs("  ", w->f);
        }
    }
    if (key)
        fprintf(w->f, w->pretty ? "\"%s\": " : "\"%s\":", key);
}

static void jw_strval(jw_t *w, const char *s)
{
    fputc('"', w->f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(w->f, "\\%c", c);
        else if (c < 0x20)
            fprintf(w->f, "\\u%04x", (unsigned)c);
        else
            fputc(c, w->f);
    }
    fputc('"', w->f);
}

static void jw_open(jw_t *w, const char *key, char bracket)
{
    jw_sep(w, key);
    fputc(bracket, w->f);
    if (w->depth < 15)
        w->depth++;
    w->first[w->depth] = true;
}

static void jw_close(jw_t *w, char bracket)
{
    bool empty = w->first[w->depth];
    if (w->depth > 0)
        w->depth--;
    if (w->pretty && !empty) {
        fputc('\n', w->f);
        for (int i = 0; i < w->depth; i++)
            fputs("  ", w->f);
    }
    fputc(bracket, w->f);
    if (w->depth == 0)
        fputc('\n', w->f);
}

static void jw_u64(jw_t *w, const char *key, uint64_t v)
{
    jw_sep(w, key);
    fprintf(w->f, "%" PRIu64, v);
}

static void jw_bool(jw_t *w, const char *key, bool v)
{
    jw_sep(w, key);
    fputs(v ? "true" : "false", w->f);
}

static void jw_str(jw_t *w, const char *key, const char *v)
{
    jw_sep(w, key);
    jw_strval(w, v);
}

static void jw_num(jw_t *w, const char *key, double v)
{
    jw_sep(w, key);
    fprintf(w->f, "%.3f", v);
}

static void jw_null(jw_t *w, const char *key)
{
    jw_sep(w, key);
    fputs("null", w->f);
}

static void json_stat_body(jw_t *w, const chan_name_t *name, const chan_snap_t *s,
                           const chan_snap_t *prev, bool rates)
{
    char gen[32];
    snprintf(gen, sizeof(gen), "0x%016" PRIx64, s->generation);
    jw_str(w, "name", name->arg);
    jw_str(w, "object", name->os);
    jw_u64(w, "mapped_bytes", (uint64_t)s->mapped);
    if (s->owner.known) {
        jw_open(w, "owner", '{');
        jw_u64(w, "uid", s->owner.uid);
        jw_str(w, "user", s->owner.user);
        jw_u64(w, "mode", s->owner.mode);
        jw_close(w, '}');
    } else {
        jw_null(w, "owner");
    }
    jw_str(w, "state", seg_state_text(s));
    jw_open(w, "server", '{');
    jw_u64(w, "pid", s->creator_pid);
    jw_u64(w, "ptr_bits", s->creator_bits);
    jw_bool(w, "alive", s->creator_alive);
    jw_close(w, '}');
    jw_str(w, "generation", gen);
    jw_open(w, "config", '{');
    jw_u64(w, "ring_size", s->capacity);
    jw_u64(w, "max_clients", s->max_readers);
    jw_u64(w, "max_message", s->max_message);
    jw_bool(w, "blocking", s->blocking);
    jw_u64(w, "timeout_ms", s->timeout_ms);
    jw_u64(w, "layout_version", s->layout_version);
    jw_close(w, '}');
    jw_u64(w, "clients", s->clients);
    jw_open(w, "rings", '[');
    for (uint32_t i = 0; i < s->ring_count; i++) {
        const ring_snap_t *r = &s->rings[i];
        jw_open(w, NULL, '{');
        jw_u64(w, "index", i);
        jw_str(w, "direction", i == 0 ? "server->clients" : "client->server");
        if (i > 0)
            jw_u64(w, "client_slot", i - 1);
        jw_u64(w, "capacity", r->capacity);
        jw_u64(w, "used", r->used);
        jw_u64(w, "head", r->head);
        jw_u64(w, "tail", r->tail);
        jw_u64(w, "messages_written", r->messages);
        jw_u64(w, "bytes_written", r->bytes);
        jw_open(w, "writer", '{');
        jw_u64(w, "pid", r->writer_pid);
        jw_u64(w, "ptr_bits", r->writer_bits);
        jw_bool(w, "alive", r->writer_alive);
        jw_close(w, '}');
        if (rates) {
            double m, mb;
            if (ring_rate(prev, s, i, &m, &mb)) {
                jw_open(w, "rate", '{');
                jw_num(w, "messages_per_s", m);
                jw_num(w, "mb_per_s", mb);
                jw_close(w, '}');
            } else {
                jw_null(w, "rate");
            }
        }
        jw_open(w, "readers", '[');
        for (uint32_t k = 0; k < r->nslots; k++) {
            const slot_snap_t *sl = &r->slots[k];
            jw_open(w, NULL, '{');
            jw_u64(w, "slot", k);
            jw_str(w, "state", slot_state_text(sl->state));
            if (sl->state != SHM_SLOT_FREE) {
                jw_u64(w, "pid", sl->pid);
                jw_u64(w, "ptr_bits", sl->ptr_bits);
                jw_bool(w, "alive", sl->alive);
                jw_bool(w, "waiting", sl->waiting);
                jw_u64(w, "position", sl->cursor);
                jw_u64(w, "lag", sl->lag);
                jw_u64(w, "received", sl->received);
                jw_u64(w, "lost", sl->lost);
                jw_u64(w, "bytes", sl->bytes);
            }
            jw_close(w, '}');
        }
        jw_close(w, ']');
        jw_close(w, '}');
    }
    jw_close(w, ']');
}

/* ---- options ------------------------------------------------------------------------ */

enum {
    OPT_JSON = 1 << 0,
    OPT_ALL = 1 << 1,
    OPT_INTERVAL = 1 << 2,
    OPT_COUNT = 1 << 3,
    OPT_TIMEOUT = 1 << 4,
    OPT_HEX = 1 << 5
};

typedef struct opts {
    unsigned given;
    uint32_t interval_ms;
    uint32_t count;
    uint32_t timeout_ms;
    int npos;
    const char *pos[4];
    bool help;
} opts_t;

static bool parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v < lo || v > hi)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* Parse argv[first..] for a command accepting `allowed` options and at most
 * maxpos positional arguments. Returns EXIT_OK or EXIT_USAGE. */
static int parse_opts(const char *cmd, int argc, char **argv, int first, unsigned allowed,
                      int maxpos, opts_t *o)
{
    static const struct {
        const char *name;
        unsigned bit;
        bool has_value;
    } table[] = {{"--json", OPT_JSON, false},        {"--all", OPT_ALL, false},
                 {"--interval", OPT_INTERVAL, true}, {"--count", OPT_COUNT, true},
                 {"--timeout", OPT_TIMEOUT, true},   {"--hex", OPT_HEX, false}};
    memset(o, 0, sizeof(*o));
    o->interval_ms = 1000;
    bool dashdash = false;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!dashdash && strcmp(a, "--") == 0) {
            dashdash = true;
            continue;
        }
        if (dashdash || a[0] != '-' || a[1] == '\0') {
            if (o->npos >= maxpos)
                return usage_error("%s: unexpected argument '%s'", cmd, a);
            o->pos[o->npos++] = a;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = true;
            continue;
        }
        size_t k, nt = sizeof(table) / sizeof(table[0]);
        const char *value = NULL;
        for (k = 0; k < nt; k++) {
            size_t len = strlen(table[k].name);
            if (strncmp(a, table[k].name, len) == 0 && (a[len] == '\0' || a[len] == '=')) {
                if (a[len] == '=')
                    value = a + len + 1;
                break;
            }
        }
        if (k == nt)
            return usage_error("%s: unknown option '%s'", cmd, a);
        if (!(allowed & table[k].bit))
            return usage_error("%s: option %s does not apply to this command", cmd, table[k].name);
        if (table[k].has_value && !value) {
            if (i + 1 >= argc)
                return usage_error("%s: option %s needs a value", cmd, table[k].name);
            value = argv[++i];
        } else if (!table[k].has_value && value) {
            return usage_error("%s: option %s takes no value", cmd, table[k].name);
        }
        o->given |= table[k].bit;
        if (table[k].bit == OPT_INTERVAL && !parse_u32(value, 10, 3600000, &o->interval_ms))
            return usage_error("%s: --interval needs milliseconds, 10 to 3600000, not '%s'", cmd,
                               value);
        if (table[k].bit == OPT_COUNT && !parse_u32(value, 1, UINT32_MAX, &o->count))
            return usage_error("%s: --count needs a positive number, not '%s'", cmd, value);
        if (table[k].bit == OPT_TIMEOUT && !parse_u32(value, 1, UINT32_MAX, &o->timeout_ms))
            return usage_error("%s: --timeout needs a positive number of milliseconds, not '%s'",
                               cmd, value);
    }
    return EXIT_OK;
}

/* The NAME argument: present and valid, or a usage error. */
static int need_name(const char *cmd, const opts_t *o, chan_name_t *name)
{
    if (o->npos < 1)
        return usage_error("%s: missing channel NAME", cmd);
    if (!parse_name(o->pos[0], name))
        return usage_error("%s: invalid channel name '%s': 1 to %u characters of "
                           "[A-Za-z0-9._-], optionally prefixed Local\\ or Global\\",
                           cmd, o->pos[0], (unsigned)SHM_MAX_NAME_LENGTH);
    return EXIT_OK;
}

/* ---- Ctrl-C and waiting ------------------------------------------------------------------ */

/*
 * watch and tail run until they are interrupted: Ctrl-C or Ctrl-Break, the
 * console window closing, logoff or shutdown (Windows), SIGINT or SIGTERM
 * (POSIX). An interrupt sets g_interrupted and wakes the command, which then
 * stops at once as at any clean stop: tail leaves the channel, and both print
 * what they print then (tail its summary). Their waits block on one wake-up
 * that an interrupt sets, and that tail's event callback sets when messages
 * arrive or the server leaves; a wait returns when woken or when its time is
 * up, and the caller re-checks what it waits for.
 *
 * Windows: a console control handler (SetConsoleCtrlHandler), which the
 * system runs on a thread of its own, and an auto-reset event. The C
 * runtime's signal(SIGINT) would see Ctrl-C only: Ctrl-Break and closing the
 * window would end the process on the spot, still connected. Under Wine a
 * SIGINT that reaches the Windows process arrives as CTRL_C_EVENT too.
 * POSIX: sigaction handlers and a pipe to ourselves (write is
 * async-signal-safe; poll waits on the pipe with a timeout).
 */

#define WAIT_FOREVER_MS UINT32_MAX

static uint32_t g_interrupted; /* atomic: set once by the interrupt handler */

#ifdef _WIN32
static HANDLE g_wake;     /* auto-reset event */
static HANDLE g_finished; /* manual-reset event: the command has stopped and said so */
#else
static int g_wake_pipe[2] = {-1, -1}; /* read end, write end; both non-blocking */
#endif

static bool interrupted(void) { return xa_load32_acq(&g_interrupted) != 0; }

/* Wake the waiting command (from any thread, and from a signal handler). */
static void wake_up(void)
{
#ifdef _WIN32
    if (g_wake)
        SetEvent(g_wake);
#else
    char b = 1;
    ssize_t n = write(g_wake_pipe[1], &b, 1); /* a full pipe already holds a wake-up */
    (void)n;
#endif
}

static void interrupt_now(void)
{
    xa_store32_rel(&g_interrupted, 1);
    wake_up();
}

#ifdef _WIN32
static BOOL WINAPI on_console_ctrl(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
        interrupt_now();
        return TRUE;
    case CTRL_CLOSE_EVENT:
    case CTRL_LOGOFF_EVENT:
    case CTRL_SHUTDOWN_EVENT:
        /* The process ends when this returns (after a close: at the latest
         * about 5 s after the event), so wait here, within that, until the
         * command has left the channel and printed its summary. */
        interrupt_now();
        WaitForSingleObject(g_finished, 4000);
        return TRUE;
    default:
        return FALSE;
    }
}
#else
static void on_signal(int sig)
{
    int saved = errno;
    (void)sig;
    interrupt_now();
    errno = saved;
}
#endif

/* Install the interrupt handling; false (with a message) if it cannot be. */
static bool catch_interrupt(const char *cmd)
{
#ifdef _WIN32
    g_wake = CreateEventW(NULL, FALSE, FALSE, NULL);
    g_finished = CreateEventW(NULL, TRUE, FALSE, NULL);
    if (g_wake && g_finished && SetConsoleCtrlHandler(on_console_ctrl, TRUE))
        return true;
    fail("%s: cannot handle Ctrl-C (Windows error %lu)", cmd, (unsigned long)GetLastError());
    return false;
#else
    bool ok = pipe(g_wake_pipe) == 0;
    for (int i = 0; ok && i < 2; i++) {
        int fl = fcntl(g_wake_pipe[i], F_GETFL);
        ok = fl != -1 && fcntl(g_wake_pipe[i], F_SETFL, fl | O_NONBLOCK) == 0 &&
             fcntl(g_wake_pipe[i], F_SETFD, FD_CLOEXEC) == 0;
    }
    if (ok) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESTART;
        ok = sigaction(SIGINT, &sa, NULL) == 0 && sigaction(SIGTERM, &sa, NULL) == 0;
    }
    if (!ok)
        fail("%s: cannot handle Ctrl-C: %s", cmd, strerror(errno));
    return ok;
#endif
}

/* The command has stopped and printed what it prints: after a console
 * close, the process may end now. */
static void interrupt_finished(void)
{
    fflush(stdout);
    fflush(stderr);
#ifdef _WIN32
    if (g_finished)
        SetEvent(g_finished);
#endif
}

/* Block until woken or until ms milliseconds have passed (WAIT_FOREVER_MS:
 * no limit). May return early: the caller re-checks its conditions. */
static void wait_woken(uint32_t ms)
{
#ifdef _WIN32
    WaitForSingleObject(g_wake, ms == WAIT_FOREVER_MS ? INFINITE : (DWORD)ms);
#else
    struct pollfd p;
    p.fd = g_wake_pipe[0];
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, ms == WAIT_FOREVER_MS || ms > INT_MAX ? -1 : (int)ms) > 0) {
        char buf[64];
        while (read(g_wake_pipe[0], buf, sizeof(buf)) > 0) {
        }
    }
#endif
}

/* Milliseconds from now_ns until end_ns, rounded up (0 if passed). */
static uint32_t ms_until(uint64_t now_ns, uint64_t end_ns)
{
    if (now_ns >= end_ns)
        return 0;
    uint64_t ms = (end_ns - now_ns + 999999u) / 1000000u;
    return ms >= WAIT_FOREVER_MS ? WAIT_FOREVER_MS - 1 : (uint32_t)ms;
}

/* Wait ms milliseconds, or less if interrupted. */
static void nap_ms(uint32_t ms)
{
    uint64_t end = xshm_plat_now_ns() + (uint64_t)ms * 1000000u;
    for (;;) {
        uint32_t left = ms_until(xshm_plat_now_ns(), end);
        if (left == 0 || interrupted())
            break;
        wait_woken(left);
    }
}

/* ---- list ----------------------------------------------------------------------------- */

#ifndef _WIN32
typedef struct list_entry {
    char bare[SHM_MAX_NAME_LENGTH + 1];
} list_entry_t;

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const list_entry_t *)a)->bare, ((const list_entry_t *)b)->bare);
}
#endif

static int cmd_list(const opts_t *o)
{
    if (o->npos > 0)
        return usage_error("list: unexpected argument '%s'", o->pos[0]);
#ifdef _WIN32
    (void)o;
    fail("list: not supported on Windows (named sections cannot be enumerated); "
         "use xshm stat NAME");
    return EXIT_USAGE;
#else
    DIR *d = opendir("/dev/shm");
    if (!d) {
        fail("list: cannot read /dev/shm: %s", strerror(errno));
        return EXIT_RUNTIME;
    }
    size_t n = 0, cap = 16;
    list_entry_t *v = (list_entry_t *)malloc(cap * sizeof(*v));
    struct dirent *de;
    while (v && (de = readdir(d)) != NULL) {
        char os[PLAT_NAME_MAX];
        if (strncmp(de->d_name, "xshm.", 5) != 0 ||
            xshm_channel_os_name(de->d_name + 5, os, sizeof(os), NULL) != SHM_SUCCESS)
            continue;
        if (n == cap) {
            list_entry_t *nv = (list_entry_t *)realloc(v, 2 * cap * sizeof(*v));
            if (!nv)
                break;
            v = nv;
            cap *= 2;
        }
        snprintf(v[n++].bare, sizeof(v[0].bare), "%s", de->d_name + 5);
    }
    closedir(d);
    if (!v) {
        fail("list: out of memory");
        return EXIT_RUNTIME;
    }
    qsort(v, n, sizeof(*v), cmp_entry);

    bool json = (o->given & OPT_JSON) != 0;
    jw_t w;
    jw_init(&w, stdout, true);
    chan_snap_t *s = (chan_snap_t *)malloc(sizeof(*s));
    if (!s) {
        free(v);
        fail("list: out of memory");
        return EXIT_RUNTIME;
    }
    if (json)
        jw_open(&w, NULL, '[');
    else if (n == 0)
        printf("no channels\n");
    else
        printf("%-32s %-12s %-24s %-8s %-9s %s\n", "CHANNEL", "OWNER", "STATE", "CLIENTS", "RING",
               "SERVER");
    for (size_t i = 0; i < n; i++) {
        chan_name_t name;
        shm_segment_t seg;
        owner_info_t own;
        char why[256], state[64], clients[24], ring[32], server[24];
        if (!parse_name(v[i].bare, &name))
            continue;
        name.arg = v[i].bare;
        owner_of(&name, &own);
        shm_error_t e = view_open(&seg, &name, why, sizeof(why));
        bool ok = e == SHM_SUCCESS;
        if (ok) {
            snapshot(&seg, s);
            xshm_segment_close(&seg);
            snprintf(state, sizeof(state), "%s", seg_state_text(s));
            snprintf(clients, sizeof(clients), "%u/%u", (unsigned)s->clients,
                     (unsigned)s->max_readers);
            fmt_size(s->capacity, ring, sizeof(ring));
            snprintf(server, sizeof(server), "%u", (unsigned)s->creator_pid);
        } else {
            snprintf(state, sizeof(state), "%s",
                     e == SHM_ERROR_ACCESS            ? "access denied"
                     : e == SHM_ERROR_INVALID_SEGMENT ? "invalid"
                     : e == SHM_ERROR_NOT_FOUND       ? "unpublished"
                                                      : shm_strerror(e));
            snprintf(clients, sizeof(clients), "-");
            snprintf(ring, sizeof(ring), "-");
            snprintf(server, sizeof(server), "-");
        }
        if (json) {
            jw_open(&w, NULL, '{');
            jw_str(&w, "name", name.bare);
            jw_str(&w, "object", name.os);
            if (own.known) {
                jw_u64(&w, "uid", own.uid);
                jw_str(&w, "user", own.user);
            }
            jw_str(&w, "state", state);
            if (ok) {
                jw_u64(&w, "clients", s->clients);
                jw_u64(&w, "max_clients", s->max_readers);
                jw_u64(&w, "ring_size", s->capacity);
                jw_u64(&w, "server_pid", s->creator_pid);
                jw_bool(&w, "server_alive", s->creator_alive);
            } else if (why[0]) {
                jw_str(&w, "error", why);
            }
            jw_close(&w, '}');
        } else {
            char owner[64];
            if (own.known)
                snprintf(owner, sizeof(owner), "%s", own.user);
            else
                snprintf(owner, sizeof(owner), "?");
            printf("%-32s %-12s %-24s %-8s %-9s %s\n", name.bare, owner, state, clients, ring,
                   server);
        }
    }
    if (json)
        jw_close(&w, ']');
    free(s);
    free(v);
    return EXIT_OK;
#endif
}

/* ---- stat and watch --------------------------------------------------------------------- */

static int cmd_stat(const opts_t *o)
{
    chan_name_t name;
    int rc = need_name("stat", o, &name);
    if (rc != EXIT_OK)
        return rc;
    if (o->npos > 1)
        return usage_error("stat: unexpected argument '%s'", o->pos[1]);
    shm_segment_t seg;
    char why[256];
    shm_error_t e = view_open(&seg, &name, why, sizeof(why));
    if (e != SHM_SUCCESS) {
        report_open_error(&name, e, why);
        return EXIT_RUNTIME;
    }
    chan_snap_t *s = (chan_snap_t *)malloc(sizeof(*s));
    if (!s) {
        xshm_segment_close(&seg);
        fail("stat: out of memory");
        return EXIT_RUNTIME;
    }
    snapshot(&seg, s);
    xshm_segment_close(&seg);
    owner_of(&name, &s->owner);
    if (o->given & OPT_JSON) {
        jw_t w;
        jw_init(&w, stdout, true);
        jw_open(&w, NULL, '{');
        json_stat_body(&w, &name, s, NULL, false);
        jw_close(&w, '}');
    } else {
        print_stat(&name, s, (o->given & OPT_ALL) != 0, NULL, false);
    }
    free(s);
    return EXIT_OK;
}

/* Take one snapshot; the channel is reopened every time so that a server
 * that restarts (new generation) is followed. */
static shm_error_t sample(const chan_name_t *name, chan_snap_t *s, char *why, size_t n)
{
    shm_segment_t seg;
    shm_error_t e = view_open(&seg, name, why, n);
    if (e != SHM_SUCCESS)
        return e;
    snapshot(&seg, s);
    xshm_segment_close(&seg);
    owner_of(name, &s->owner);
    return SHM_SUCCESS;
}

static bool stdout_is_terminal(void)
{
#ifdef _WIN32
    return _isatty(_fileno(stdout)) != 0;
#else
    return isatty(fileno(stdout)) != 0;
#endif
}

/* Let the terminal understand the clear-screen sequence (Windows 10+);
 * false when it does not. */
static bool terminal_can_clear(void)
{
#ifdef _WIN32
    HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
    DWORD mode;
    if (h == INVALID_HANDLE_VALUE || !GetConsoleMode(h, &mode))
        return false;
    return SetConsoleMode(h, mode | 0x0004 /* ENABLE_VIRTUAL_TERMINAL_PROCESSING */) != 0;
#else
    return true;
#endif
}

static int cmd_watch(const opts_t *o)
{
    chan_name_t name;
    int rc = need_name("watch", o, &name);
    if (rc != EXIT_OK)
        return rc;
    if (o->npos > 1)
        return usage_error("watch: unexpected argument '%s'", o->pos[1]);
    bool json = (o->given & OPT_JSON) != 0, all = (o->given & OPT_ALL) != 0;
    chan_snap_t *snaps = (chan_snap_t *)calloc(2, sizeof(chan_snap_t));
    if (!snaps) {
        fail("watch: out of memory");
        return EXIT_RUNTIME;
    }
    char why[256];
    chan_snap_t *prev = &snaps[0], *cur = &snaps[1];
    shm_error_t e = sample(&name, prev, why, sizeof(why));
    if (e != SHM_SUCCESS) {
        report_open_error(&name, e, why);
        free(snaps);
        return EXIT_RUNTIME;
    }
    bool have_prev = true;
    bool clear = !json && stdout_is_terminal() && terminal_can_clear();
    uint64_t t0 = prev->t_ns;
    if (!catch_interrupt("watch")) {
        free(snaps);
        return EXIT_RUNTIME;
    }
    for (uint32_t k = 1; o->count == 0 || k <= o->count; k++) {
        nap_ms(o->interval_ms);
        if (interrupted())
            break;
        e = sample(&name, cur, why, sizeof(why));
        double elapsed = (double)(xshm_plat_now_ns() - t0) / 1e9;
        if (json) {
            jw_t w;
            jw_init(&w, stdout, false);
            jw_open(&w, NULL, '{');
            jw_u64(&w, "refresh", k);
            jw_num(&w, "elapsed_s", elapsed);
            jw_u64(&w, "interval_ms", o->interval_ms);
            if (e == SHM_SUCCESS) {
                jw_open(&w, "channel", '{');
                json_stat_body(&w, &name, cur, have_prev ? prev : NULL, true);
                jw_close(&w, '}');
            } else {
                jw_null(&w, "channel");
                jw_str(&w, "error",
                       e == SHM_ERROR_NOT_FOUND && !why[0] ? "no such channel"
                                                           : (why[0] ? why : shm_strerror(e)));
            }
            jw_close(&w, '}');
        } else {
            if (clear)
                fputs("\033[H\033[2J", stdout);
            else if (k > 1)
                fputc('\n', stdout);
            if (o->count)
                printf("== xshm watch %s: refresh %u of %u, every %u ms, %.1f s ==\n", name.arg,
                       (unsigned)k, (unsigned)o->count, (unsigned)o->interval_ms, elapsed);
            else
                printf("== xshm watch %s: refresh %u, every %u ms, %.1f s (Ctrl-C to stop) ==\n",
                       name.arg, (unsigned)k, (unsigned)o->interval_ms, elapsed);
            if (e == SHM_SUCCESS)
                print_stat(&name, cur, all, have_prev ? prev : NULL, true);
            else if (e == SHM_ERROR_NOT_FOUND && !why[0])
                printf("no channel named %s (gone; still watching)\n", name.arg);
            else
                printf("cannot read channel %s: %s\n", name.arg, why[0] ? why : shm_strerror(e));
        }
        fflush(stdout);
        if (e == SHM_SUCCESS) {
            chan_snap_t *t = prev;
            prev = cur;
            cur = t;
            have_prev = true;
        } else {
            have_prev = false;
        }
    }
    free(snaps);
    return EXIT_OK;
}

/* ---- send and tail ------------------------------------------------------------------- */

/* Why shm_client_connect failed, in words. */
static void report_connect_error(const chan_name_t *name, shm_error_t e)
{
    if (e == SHM_ERROR_NOT_FOUND) {
        /* Distinguish "no such object" from "a channel whose server is gone". */
        shm_segment_t seg;
        char why[256];
        shm_error_t v = view_open(&seg, name, why, sizeof(why));
        if (v == SHM_SUCCESS) {
            chan_snap_t *s = (chan_snap_t *)malloc(sizeof(*s));
            if (s) {
                snapshot(&seg, s);
                if (s->seg_state == SHM_SEG_READY && s->creator_alive)
                    fail("no channel named %s when connecting; a server has created it since: "
                         "try again",
                         name->arg);
                else
                    fail("channel %s exists but its server is gone (state: %s, server pid %u): "
                         "there is no one to connect to",
                         name->arg, seg_state_text(s), (unsigned)s->creator_pid);
                free(s);
            } else {
                fail("channel %s exists but its server is gone", name->arg);
            }
            xshm_segment_close(&seg);
            return;
        }
        report_open_error(name, v, why);
        return;
    }
    if (e == SHM_ERROR_BUSY) {
        fail("all client slots of channel %s are taken (xshm stat %s shows them)", name->arg,
             name->arg);
        return;
    }
    if (e == SHM_ERROR_INVALID_SEGMENT) {
        shm_segment_t seg;
        char why[256];
        shm_error_t v = view_open(&seg, name, why, sizeof(why));
        if (v == SHM_SUCCESS)
            xshm_segment_close(&seg);
        report_open_error(name, SHM_ERROR_INVALID_SEGMENT, v == SHM_SUCCESS ? NULL : why);
        return;
    }
    report_open_error(name, e, NULL);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode hex digits (whitespace between bytes allowed); -1 if malformed. */
static long decode_hex(const char *s, unsigned char *out, size_t cap)
{
    size_t n = 0;
    while (*s) {
        if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') {
            s++;
            continue;
        }
        int hi = hex_digit(s[0]), lo = hi < 0 ? -1 : hex_digit(s[1]);
        if (hi < 0 || lo < 0 || n >= cap)
            return -1;
        out[n++] = (unsigned char)(hi * 16 + lo);
        s += 2;
    }
    return (long)n;
}

static int cmd_send(const opts_t *o)
{
    chan_name_t name;
    int rc = need_name("send", o, &name);
    if (rc != EXIT_OK)
        return rc;
    if (o->npos < 2)
        return usage_error("send: missing TEXT (the message)");
    if (o->npos > 2)
        return usage_error("send: unexpected argument '%s' (quote TEXT with spaces)", o->pos[2]);
    static unsigned char buf[SHM_MAX_MESSAGE_SIZE];
    const char *text = o->pos[1];
    size_t len;
    if (o->given & OPT_HEX) {
        long n = decode_hex(text, buf, sizeof(buf));
        if (n < 0)
            return usage_error("send: --hex needs pairs of hex digits (at most %u bytes), "
                               "e.g. \"de ad be ef\"",
                               (unsigned)SHM_MAX_MESSAGE_SIZE);
        len = (size_t)n;
    } else {
        len = strlen(text);
        if (len > sizeof(buf))
            return usage_error("send: TEXT is %lu bytes; a message has at most %u",
                               (unsigned long)len, (unsigned)SHM_MAX_MESSAGE_SIZE);
        memcpy(buf, text, len);
    }
    if (len == 0)
        return usage_error("send: the message is empty; a message has at least 1 byte");

    shm_client_t *c = shm_client_connect(name.arg);
    if (!c) {
        report_connect_error(&name, shm_last_error());
        return EXIT_RUNTIME;
    }
    shm_error_t e = shm_client_send(c, buf, (uint32_t)len);
    shm_client_disconnect(c);
    if (e == SHM_ERROR_INVALID_PARAM) {
        fail("send: a message of %lu bytes is too large for channel %s (xshm stat %s shows its "
             "largest message)",
             (unsigned long)len, name.arg, name.arg);
        return EXIT_RUNTIME;
    }
    if (e != SHM_SUCCESS) {
        fail("send: %s: %s", name.arg,
             e == SHM_ERROR_NOT_CONNECTED ? "the server went away" : shm_strerror(e));
        return EXIT_RUNTIME;
    }
    printf("sent %lu bytes to %s\n", (unsigned long)len, name.arg);
    return EXIT_OK;
}

/* xxd-style dump: offset, 16 bytes in groups of two, ASCII. */
static void hexdump(const unsigned char *p, uint32_t n)
{
    for (uint32_t off = 0; off < n; off += 16) {
        char line[96];
        int w = snprintf(line, sizeof(line), "%08x: ", (unsigned)off);
        for (uint32_t k = 0; k < 16; k++) {
            if (off + k < n)
                w += snprintf(line + w, sizeof(line) - (size_t)w, "%02x", p[off + k]);
            else
                w += snprintf(line + w, sizeof(line) - (size_t)w, "  ");
            if (k & 1)
                line[w++] = ' ';
        }
        line[w++] = ' ';
        for (uint32_t k = 0; k < 16 && off + k < n; k++) {
            unsigned char c = p[off + k];
            line[w++] = (char)(c >= 0x20 && c < 0x7f ? c : '.');
        }
        line[w] = '\0';
        puts(line);
    }
}

static uint32_t g_server_gone; /* atomic: set by the listener thread */

/* On the client's listener thread: messages arrived (DATA_AVAILABLE), the
 * server left (DISCONNECT), ...: wake tail, which looks. */
static void tail_event(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    (void)ud;
    (void)data;
    (void)sz;
    if (type == SHM_EVENT_DISCONNECT)
        xa_store32_rel(&g_server_gone, 1);
    wake_up();
}

/*
 * The reader slot the client `self` took in ring 0 of the view, so that
 * tail can see whether a message waits before it calls the (blocking)
 * receive: a blocking receive waits as the server configured it, possibly
 * forever, and would hold off --timeout and Ctrl-C. When none waits, tail
 * waits for its event callback (or an interrupt) to wake it instead.
 */
static const shm_reader_slot_t *own_slot(const shm_segment_t *view)
{
    plat_proc_id_t self;
    xshm_plat_proc_self(&self);
    const shm_ring_t *r = &view->rings[0];
    for (uint32_t k = 0; k < r->max_readers; k++) {
        const shm_reader_slot_t *s = &r->slots[k];
        uint64_t claim = xa_load64_acq(&s->claim);
        if (SHM_CLAIM_STATE(claim) == SHM_SLOT_ACTIVE && SHM_CLAIM_PID(claim) == self.pid &&
            xa_load64_relaxed(&s->start_time) == self.start_time)
            return s;
    }
    return NULL;
}

static int cmd_tail(const opts_t *o)
{
    chan_name_t name;
    int rc = need_name("tail", o, &name);
    if (rc != EXIT_OK)
        return rc;
    if (o->npos > 1)
        return usage_error("tail: unexpected argument '%s'", o->pos[1]);

    if (!catch_interrupt("tail"))
        return EXIT_RUNTIME;
    shm_client_t *c = shm_client_connect(name.arg);
    if (!c) {
        report_connect_error(&name, shm_last_error());
        return EXIT_RUNTIME;
    }
    shm_error_t ce = shm_client_register_callback(c, tail_event, NULL);
    if (ce != SHM_SUCCESS) {
        shm_client_disconnect(c);
        fail("tail: cannot watch the channel for messages: %s", shm_strerror(ce));
        return EXIT_RUNTIME;
    }
    shm_segment_t view;
    const shm_reader_slot_t *slot = NULL;
    const shm_ring_t *ring0 = NULL;
    bool have_view = view_open(&view, &name, NULL, 0) == SHM_SUCCESS;
    if (have_view) {
        slot = own_slot(&view);
        ring0 = &view.rings[0];
    }
    plat_proc_id_t self;
    xshm_plat_proc_self(&self);
    fprintf(stderr, "xshm tail: connected to %s as a client (pid %u)%s; Ctrl-C to stop\n", name.arg,
            (unsigned)self.pid,
            have_view ? "" : " (cannot map the channel: timeouts are the server's)");

    static unsigned char buf[SHM_MAX_MESSAGE_SIZE];
    uint64_t got = 0, bytes = 0, lost = 0;
    uint64_t last_ns = xshm_plat_now_ns();
    const char *end = NULL;
    rc = EXIT_OK;
    for (;;) {
        if (interrupted()) {
            end = "interrupted";
            break;
        }
        if (o->count && got >= o->count) {
            end = "done";
            break;
        }
        bool gone = xa_load32_acq(&g_server_gone) != 0;
        bool pending = !slot || xa_load64_acq(&ring0->hdr->tail) > xa_load64_relaxed(&slot->cursor);
        if (pending || gone) {
            uint32_t size = sizeof(buf);
            shm_error_t e = shm_client_receive(c, buf, &size);
            if (e == SHM_SUCCESS) {
                shm_stats_t st;
                got++;
                bytes += size;
                if (shm_client_get_stats(c, &st) == SHM_SUCCESS && st.messages_lost > lost) {
                    printf("(%" PRIu64 " message%s lost before this one: overwritten before "
                           "tail read them)\n",
                           st.messages_lost - lost, st.messages_lost - lost == 1 ? "" : "s");
                    lost = st.messages_lost;
                }
                printf("message %" PRIu64 ": %u bytes\n", got, (unsigned)size);
                hexdump(buf, size);
                fflush(stdout);
                last_ns = xshm_plat_now_ns();
                continue;
            }
            if (e == SHM_ERROR_NOT_CONNECTED || e == SHM_ERROR_CLOSED ||
                (gone && (e == SHM_ERROR_EMPTY || e == SHM_ERROR_TIMEOUT))) {
                end = "the server went away";
                break;
            }
            if (e == SHM_ERROR_INVALID_SEGMENT) {
                fprintf(stderr, "xshm tail: the channel's ring was inconsistent; resumed at its "
                                "newest message\n");
                continue;
            }
            if (e != SHM_ERROR_TIMEOUT && e != SHM_ERROR_EMPTY) {
                fail("tail: receive failed: %s", shm_strerror(e));
                rc = EXIT_RUNTIME;
                end = "error";
                break;
            }
        }
        /* Nothing to read: wait for the callback, an interrupt or --timeout. */
        uint32_t wait_ms = WAIT_FOREVER_MS;
        if (o->timeout_ms) {
            wait_ms = ms_until(xshm_plat_now_ns(), last_ns + (uint64_t)o->timeout_ms * 1000000u);
            if (wait_ms == 0) {
                end = "timed out";
                break;
            }
        }
        wait_woken(wait_ms);
    }
    if (have_view)
        xshm_segment_close(&view);
    shm_client_disconnect(c);
    fprintf(stderr,
            "xshm tail: %" PRIu64 " message%s (%" PRIu64 " bytes) received, %" PRIu64 " lost; %s\n",
            got, got == 1 ? "" : "s", bytes, lost, end);
    if (rc == EXIT_OK && o->count && got < o->count) {
        fail("tail: %" PRIu64 " of %u messages received (%s)", got, (unsigned)o->count, end);
        rc = EXIT_RUNTIME;
    }
    return rc;
}

/* ---- main ----------------------------------------------------------------------------- */

static void print_version(void)
{
    uint32_t v = shm_version();
    printf("xshm %d.%d.%d (library %u.%u.%u, shared layout %u, %u-bit)\n", SHM_VERSION_MAJOR,
           SHM_VERSION_MINOR, SHM_VERSION_PATCH, (unsigned)(v / 10000), (unsigned)(v / 100 % 100),
           (unsigned)(v % 100), (unsigned)SHM_LAYOUT_VERSION, (unsigned)(sizeof(void *) * 8));
}

typedef struct command {
    const char *name;
    unsigned options;
    int maxpos;
    int (*run)(const opts_t *o);
    const char *help;
} command_t;

static const command_t commands[] = {
    {"list", OPT_JSON, 1, cmd_list, help_list},
    {"stat", OPT_JSON | OPT_ALL, 2, cmd_stat, help_stat},
    {"watch", OPT_JSON | OPT_ALL | OPT_INTERVAL | OPT_COUNT, 2, cmd_watch, help_watch},
    {"send", OPT_HEX, 3, cmd_send, help_send},
    {"tail", OPT_COUNT | OPT_TIMEOUT, 2, cmd_tail, help_tail},
};

static const command_t *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, stderr);
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "help") == 0) {
        if (argc > 2) {
            const command_t *c = find_command(argv[2]);
            if (!c)
                return usage_error("help: unknown command '%s'", argv[2]);
            fputs(c->help, stdout);
        } else {
            fputs(usage_text, stdout);
        }
        return EXIT_OK;
    }
    if (strcmp(cmd, "-V") == 0 || strcmp(cmd, "--version") == 0) {
        print_version();
        return EXIT_OK;
    }
    const command_t *c = find_command(cmd);
    if (!c) {
        if (cmd[0] == '-')
            return usage_error("unknown option '%s'", cmd);
        return usage_error("unknown command '%s'", cmd);
    }
    opts_t o;
    int rc = parse_opts(c->name, argc, argv, 2, c->options, c->maxpos, &o);
    if (rc != EXIT_OK)
        return rc;
    if (o.help) {
        fputs(c->help, stdout);
        return EXIT_OK;
    }
    rc = c->run(&o);
    interrupt_finished();
    return rc;
}
