/*
 * report.c - a channel snapshot (shm_inspect.h) as text and as JSON: the
 * output of stat and of each refresh of watch.
 */
#include <inttypes.h>
#include <stdio.h>

#include "cli.h"

void cli_fmt_size(uint64_t v, char *buf, size_t n)
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

static const char *slot_state_text(uint32_t st)
{
    switch (st) {
    case XSHM_INSPECT_SLOT_FREE:
        return "free";
    case XSHM_INSPECT_SLOT_CLAIMING:
        return "claiming";
    case XSHM_INSPECT_SLOT_ACTIVE:
        return "active";
    default:
        return "invalid";
    }
}

/* Per-ring rates between two snapshots of the same channel; false if they
 * cannot be compared (another generation, counters going backwards). */
static bool ring_rate(const xshm_inspect_snap_t *prev, const xshm_inspect_snap_t *cur, uint32_t i,
                      double *msgs, double *mb)
{
    if (!prev || prev->generation != cur->generation || prev->ring_count != cur->ring_count ||
        cur->t_ns <= prev->t_ns)
        return false;
    const xshm_inspect_ring_t *a = &prev->rings[i], *b = &cur->rings[i];
    if (b->messages < a->messages || b->bytes < a->bytes)
        return false;
    double secs = (double)(cur->t_ns - prev->t_ns) / 1e9;
    *msgs = (double)(b->messages - a->messages) / secs;
    *mb = (double)(b->bytes - a->bytes) / secs / 1e6;
    return true;
}

/* ---- text ------------------------------------------------------------------------ */

/* The client slot ring i > 0 belongs to: rings 1..max_readers carry client
 * slot i - 1 -> server, the rest (addressed rings) server -> that slot. */
static uint32_t ring_slot(const xshm_inspect_snap_t *s, uint32_t i)
{
    return i <= s->max_readers ? i - 1 : i - 1 - s->max_readers;
}

static bool ring_addressed(const xshm_inspect_snap_t *s, uint32_t i)
{
    return i > s->max_readers;
}

/* Whether ring i is worth showing without --all. */
static bool ring_shown(const xshm_inspect_snap_t *s, uint32_t i, bool all)
{
    if (all || i == 0)
        return true;
    uint32_t slot = ring_slot(s, i);
    return (slot < SHM_MAX_READERS && s->rings[0].slots[slot].state != XSHM_INSPECT_SLOT_FREE) ||
           s->rings[i].messages != 0;
}

static void print_ring(const xshm_inspect_snap_t *s, uint32_t i, bool all,
                       const xshm_inspect_snap_t *prev, bool rates)
{
    const xshm_inspect_ring_t *r = &s->rings[i];
    char cap[32], used[32], bytes[32];
    cli_fmt_size(r->capacity, cap, sizeof(cap));
    cli_fmt_size(r->used, used, sizeof(used));
    cli_fmt_size(r->bytes, bytes, sizeof(bytes));
    if (i == 0)
        printf("\nring 0: server -> clients\n");
    else if (ring_addressed(s, i))
        printf("\nring %u: server -> client slot %u (addressed)\n", (unsigned)i,
               (unsigned)ring_slot(s, i));
    else
        printf("\nring %u: client slot %u -> server\n", (unsigned)i, (unsigned)ring_slot(s, i));
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
        const xshm_inspect_slot_t *sl = &r->slots[k];
        if (sl->state == XSHM_INSPECT_SLOT_FREE && !all) {
            hidden++;
            continue;
        }
        if (sl->state == XSHM_INSPECT_SLOT_FREE) {
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

void cli_print_stat(const chan_name_t *name, const xshm_inspect_snap_t *s,
                    const owner_info_t *owner, bool all, const xshm_inspect_snap_t *prev,
                    bool rates)
{
    char cap[32], mapped[32];
    cli_fmt_size(s->capacity, cap, sizeof(cap));
    cli_fmt_size((uint64_t)s->mapped, mapped, sizeof(mapped));
    printf("channel     %s (object %s, %s mapped)\n", name->arg, name->os, mapped);
    if (owner->known)
        printf("owner       %s (uid %u), mode %04o\n", owner->user, (unsigned)owner->uid,
               (unsigned)owner->mode);
    printf("state       %s\n", cli_seg_state_text(s));
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
        printf("\n(%u ring%s of free client slots, never written to, not shown; --all shows "
               "them)\n",
               (unsigned)hidden, hidden == 1 ? "" : "s");
}

/* ---- JSON -------------------------------------------------------------------------- */

void cli_json_stat_body(jw_t *w, const chan_name_t *name, const xshm_inspect_snap_t *s,
                        const owner_info_t *owner, const xshm_inspect_snap_t *prev, bool rates)
{
    char gen[32];
    snprintf(gen, sizeof(gen), "0x%016" PRIx64, s->generation);
    jw_str(w, "name", name->arg);
    jw_str(w, "object", name->os);
    jw_u64(w, "mapped_bytes", (uint64_t)s->mapped);
    if (owner->known) {
        jw_open(w, "owner", '{');
        jw_u64(w, "uid", owner->uid);
        jw_str(w, "user", owner->user);
        jw_u64(w, "mode", owner->mode);
        jw_close(w, '}');
    } else {
        jw_null(w, "owner");
    }
    jw_str(w, "state", cli_seg_state_text(s));
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
        const xshm_inspect_ring_t *r = &s->rings[i];
        jw_open(w, NULL, '{');
        jw_u64(w, "index", i);
        jw_str(w, "direction", i == 0                  ? "server->clients"
                               : ring_addressed(s, i) ? "server->client"
                                                      : "client->server");
        if (i > 0)
            jw_u64(w, "client_slot", ring_slot(s, i));
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
            const xshm_inspect_slot_t *sl = &r->slots[k];
            jw_open(w, NULL, '{');
            jw_u64(w, "slot", k);
            jw_str(w, "state", slot_state_text(sl->state));
            if (sl->state != XSHM_INSPECT_SLOT_FREE) {
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
