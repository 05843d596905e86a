/*
 * test_inspect.c - the inspection module (src/shm_inspect.h): what a
 * snapshot of a channel says, value by value.
 *
 * A real server and client (in this process, or the client in a helper
 * process that is killed) exchange known messages, and a view opened by
 * name, as the xshm tool opens it, must report exactly: messages and bytes
 * written per ring, the tail (the sum of the record sizes), each reader
 * slot's owner, liveness, cursor, lag, received and lost counts. A reader
 * lapped by the writer shows the lap before it reads, then the exact loss.
 * A killed reader's slot is shown, still claimed, as not alive. Segments
 * that are not channels (another program's object, an unpublished header,
 * another layout version, damaged geometry) give the documented error and a
 * reason in words; hostile words in a valid segment give bounded values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "platform.h"
#include "shm_common.h"
#include "shm_inspect.h"
#include "shm_ipc.h"
#include "shm_ipc_hooks.h"
#include "shm_ringbuffer.h"
#include "testchan.h"
#include "testproc.h"

/* Bytes a message of `len` bytes takes in a ring: header, payload, 8-byte
 * aligned (the record format of shm_ringbuffer.h). */
static uint64_t rec(uint32_t len)
{
    return (SHM_MESSAGE_OVERHEAD + len + 7u) & ~(uint64_t)7u;
}

static plat_proc_id_t self_id(void)
{
    plat_proc_id_t id;
    xshm_plat_proc_self(&id);
    return id;
}

static void os_name_of(const char *name, char *os, size_t n)
{
    assert_int_equal(xshm_channel_os_name(name, os, n, NULL), SHM_SUCCESS);
}

/* A view of channel `name`, opened as the xshm tool opens it. */
static xshm_inspect_t *view_of(const char *name)
{
    char os[PLAT_NAME_MAX], why[256];
    os_name_of(name, os, sizeof(os));
    xshm_inspect_t *v = NULL;
    shm_error_t e = xshm_inspect_open(&v, os, NULL, why, sizeof(why));
    if (e != SHM_SUCCESS)
        fail_msg("xshm_inspect_open(%s): %s (%s)", os, shm_strerror(e), why);
    assert_non_null(v);
    return v;
}

static xshm_inspect_snap_t *snap_of(const xshm_inspect_t *v)
{
    xshm_inspect_snap_t *s = (xshm_inspect_snap_t *)malloc(sizeof(*s));
    assert_non_null(s);
    xshm_inspect_snapshot(v, s);
    return s;
}

static void send_sized(shm_server_t *s, uint32_t len, char fill)
{
    char buf[256];
    assert_true(len <= sizeof(buf));
    memset(buf, fill, len);
    assert_int_equal(shm_server_send(s, buf, len), SHM_SUCCESS);
}

static void client_recv_sized(shm_client_t *c, uint32_t len)
{
    char buf[256];
    uint32_t sz = sizeof(buf);
    assert_int_equal(shm_client_receive(c, buf, &sz), SHM_SUCCESS);
    assert_int_equal(sz, len);
}

/* ---- a channel's counts ----------------------------------------------------------- */

/*
 * Server -> client: 5 messages, the client reads 3. Client -> server: 2,
 * the server reads 1. Every count of the snapshot is pinned.
 */
static void test_snapshot_counts(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "insp-counts");
    shm_ring_config_t cfg = tc_config(4096, 2, false, 0);
    shm_server_t *s = tc_server_config(name, &cfg);
    shm_client_t *c = tc_client(name);
    plat_proc_id_t me = self_id();

    static const uint32_t down[5] = {1, 10, 100, 17, 8};
    for (int i = 0; i < 5; i++)
        send_sized(s, down[i], (char)('a' + i));
    for (int i = 0; i < 3; i++)
        client_recv_sized(c, down[i]);
    assert_int_equal(shm_client_send(c, "abc", 3), SHM_SUCCESS);
    assert_int_equal(shm_client_send(c, "0123456789012345678901234567890", 30), SHM_SUCCESS);
    char buf[64];
    uint32_t sz = sizeof(buf);
    assert_int_equal(shm_server_receive(s, buf, &sz), SHM_SUCCESS);
    assert_int_equal(sz, 3);

    xshm_inspect_t *v = view_of(name);
    assert_int_equal(xshm_inspect_ring_count(v), 5); /* 1 + 2 per client slot */
    xshm_inspect_snap_t *sn = snap_of(v);

    /* the segment */
    assert_int_equal(sn->state, XSHM_INSPECT_SEG_READY);
    assert_int_equal(sn->layout_version, xshm_inspect_layout_version());
    assert_int_equal(sn->ring_count, 5);
    assert_int_equal(sn->capacity, 4096);
    assert_int_equal(sn->max_readers, 2);
    assert_int_equal(sn->max_message, 4096 - SHM_MESSAGE_OVERHEAD);
    assert_int_equal(sn->creator_pid, me.pid);
    assert_int_equal(sn->creator_bits, sizeof(void *) * 8);
    assert_true(sn->creator_alive);
    assert_false(sn->blocking);
    assert_int_equal(sn->timeout_ms, 0);
    assert_int_equal(sn->clients, 1);
    assert_true(sn->mapped >= 3u * 4096u);

    /* ring 0, server -> clients */
    const xshm_inspect_ring_t *r0 = &sn->rings[0];
    uint64_t tail0 = 0, read0 = 0;
    for (int i = 0; i < 5; i++)
        tail0 += rec(down[i]);
    for (int i = 0; i < 3; i++)
        read0 += rec(down[i]);
    assert_int_equal(r0->capacity, 4096);
    assert_int_equal(r0->nslots, 2);
    assert_int_equal(r0->messages, 5);
    assert_int_equal(r0->bytes, 1 + 10 + 100 + 17 + 8);
    assert_int_equal(r0->tail, tail0);
    assert_int_equal(r0->head, 0);
    assert_int_equal(r0->writer_pid, me.pid);
    assert_true(r0->writer_alive);
    assert_int_equal(r0->used, tail0 - read0);
    const xshm_inspect_slot_t *cl = &r0->slots[0];
    assert_int_equal(cl->state, XSHM_INSPECT_SLOT_ACTIVE);
    assert_int_equal(cl->pid, me.pid);
    assert_int_equal(cl->start_time, me.start_time);
    assert_int_equal(cl->ptr_bits, sizeof(void *) * 8);
    assert_true(cl->alive);
    assert_false(cl->lapped);
    assert_int_equal(cl->cursor, read0);
    assert_int_equal(cl->lag, tail0 - read0);
    assert_int_equal(cl->expected_seq, 3);
    assert_int_equal(cl->unread, 2);
    assert_int_equal(cl->received, 3);
    assert_int_equal(cl->lost, 0);
    assert_int_equal(cl->bytes, 1 + 10 + 100);
    assert_int_equal(r0->slots[1].state, XSHM_INSPECT_SLOT_FREE);
    assert_false(r0->slots[1].alive);

    /* ring 1, client slot 0 -> server, read by the server */
    const xshm_inspect_ring_t *r1 = &sn->rings[1];
    assert_int_equal(r1->nslots, 1);
    assert_int_equal(r1->messages, 2);
    assert_int_equal(r1->bytes, 33);
    assert_int_equal(r1->tail, rec(3) + rec(30));
    assert_int_equal(r1->writer_pid, me.pid);
    assert_true(r1->writer_alive);
    const xshm_inspect_slot_t *sv = &r1->slots[0];
    assert_int_equal(sv->state, XSHM_INSPECT_SLOT_ACTIVE);
    assert_true(sv->alive);
    assert_int_equal(sv->received, 1);
    assert_int_equal(sv->bytes, 3);
    assert_int_equal(sv->cursor, rec(3));
    assert_int_equal(sv->lag, rec(30));
    assert_int_equal(sv->unread, 1);

    /* ring 2, client slot 1: nobody has written it */
    assert_int_equal(sn->rings[2].messages, 0);
    assert_int_equal(sn->rings[2].tail, 0);
    assert_int_equal(sn->rings[2].writer_pid, 0);

    /* ring 3: addressed messages to client slot 0, read by the client */
    assert_int_equal(sn->rings[3].capacity, 4096);
    assert_int_equal(sn->rings[3].nslots, 1);
    assert_int_equal(sn->rings[3].messages, 0);
    assert_int_equal(sn->rings[3].slots[0].state, XSHM_INSPECT_SLOT_ACTIVE);
    assert_int_equal(sn->rings[3].slots[0].pid, me.pid);

    /* one ring alone says the same; there is no ring 5 */
    xshm_inspect_ring_t one;
    assert_true(xshm_inspect_ring(v, 0, &one));
    assert_int_equal(one.tail, tail0);
    assert_int_equal(one.messages, 5);
    assert_int_equal(one.slots[0].cursor, read0);
    assert_false(xshm_inspect_ring(v, 5, &one));
    assert_int_equal(one.messages, 0);
    uint64_t t, m, b;
    assert_true(xshm_inspect_ring_counters(v, 1, &t, &m, &b));
    assert_int_equal(t, rec(3) + rec(30));
    assert_int_equal(m, 2);
    assert_int_equal(b, 33);
    assert_false(xshm_inspect_ring_counters(v, 5, &t, &m, &b));
    assert_int_equal(t, 0);
    assert_int_equal(m, 0);

    /* the same channel, the same generation; the server gone: CLOSED */
    xshm_inspect_snap_t *again = snap_of(v);
    assert_int_equal(again->generation, sn->generation);
    shm_client_disconnect(c);
    shm_server_destroy(s);
    xshm_inspect_snapshot(v, again);
    assert_int_equal(again->state, XSHM_INSPECT_SEG_CLOSED);
    assert_int_equal(again->clients, 0);
    free(again);
    free(sn);
    xshm_inspect_close(v);
}

/* A client finds its own slot, and sees messages waiting there. */
static void test_find_reader_and_pending(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "insp-pending");
    shm_ring_config_t cfg = tc_config(4096, 3, false, 0);
    shm_server_t *s = tc_server_config(name, &cfg);
    shm_client_t *c1 = tc_client(name);
    xshm_inspect_t *v = view_of(name);
    plat_proc_id_t me = self_id();
    uint32_t slot = 99;
    assert_true(xshm_inspect_find_reader(v, 0, &me, &slot));
    assert_int_equal(slot, 0);
    plat_proc_id_t other = me;
    other.start_time++; /* same pid, another process (a reused pid) */
    assert_false(xshm_inspect_find_reader(v, 0, &other, &slot));
    assert_false(xshm_inspect_find_reader(v, 9, &me, &slot)); /* no such ring */

    assert_false(xshm_inspect_reader_pending(v, 0, 0));
    send_sized(s, 20, 'x');
    assert_true(xshm_inspect_reader_pending(v, 0, 0));
    assert_false(xshm_inspect_reader_pending(v, 0, 1)); /* a free slot */
    assert_false(xshm_inspect_reader_pending(v, 0, 3)); /* no such slot */
    client_recv_sized(c1, 20);
    assert_false(xshm_inspect_reader_pending(v, 0, 0));

    xshm_inspect_close(v);
    shm_client_disconnect(c1);
    shm_server_destroy(s);
}

/* ---- a lapped reader ------------------------------------------------------------------ */

/*
 * 100 messages of 40 bytes (64-byte records) into a 4096-byte ring whose
 * client reads nothing: the writer has overwritten the oldest ones. Before
 * the client reads, the snapshot shows the lap (lag past the capacity,
 * cursor below head, all 100 unread); after, exactly the overwritten
 * messages lost and the rest received.
 */
static void test_lost_after_lap(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "insp-lap");
    shm_server_t *s = tc_server(name); /* 4096-byte rings, one client */
    shm_client_t *c = tc_client(name);
    const uint32_t n = 100, len = 40;
    const uint64_t span = rec(len), cap = 4096;
    assert_int_equal(span, 64);
    for (uint32_t i = 0; i < n; i++)
        send_sized(s, len, (char)i);

    /* The writer's head: the oldest record its last write (the record and
     * the next record's 8-byte mark word) left intact. */
    uint64_t tail = n * span;
    uint64_t head = (tail + 8 - cap + span - 1) / span * span;
    uint64_t lost = head / span;
    assert_int_equal(lost, 37);

    xshm_inspect_t *v = view_of(name);
    xshm_inspect_snap_t *sn = snap_of(v);
    const xshm_inspect_ring_t *r0 = &sn->rings[0];
    assert_int_equal(r0->messages, n);
    assert_int_equal(r0->bytes, n * len);
    assert_int_equal(r0->tail, tail);
    assert_int_equal(r0->head, head);
    assert_int_equal(r0->used, cap); /* lag beyond the ring: shown as full */
    const xshm_inspect_slot_t *cl = &r0->slots[0];
    assert_int_equal(cl->state, XSHM_INSPECT_SLOT_ACTIVE);
    assert_true(cl->lapped);
    assert_int_equal(cl->cursor, 0);
    assert_int_equal(cl->lag, tail);
    assert_int_equal(cl->unread, n);
    assert_int_equal(cl->received, 0);
    assert_int_equal(cl->lost, 0); /* counted when the reader gets there */

    uint32_t got = 0;
    char buf[64];
    for (;;) {
        uint32_t sz = sizeof(buf);
        shm_error_t e = shm_client_receive(c, buf, &sz);
        if (e == SHM_ERROR_EMPTY)
            break;
        assert_int_equal(e, SHM_SUCCESS);
        assert_int_equal(sz, len);
        assert_int_equal((unsigned char)buf[0], (unsigned char)(lost + got)); /* in order */
        got++;
    }
    assert_int_equal(got, n - lost);

    xshm_inspect_snapshot(v, sn);
    cl = &r0->slots[0];
    assert_false(cl->lapped);
    assert_int_equal(cl->cursor, tail);
    assert_int_equal(cl->lag, 0);
    assert_int_equal(cl->unread, 0);
    assert_int_equal(cl->received, n - lost);
    assert_int_equal(cl->lost, lost);
    assert_int_equal(cl->bytes, (n - lost) * len);
    assert_int_equal(r0->used, 0);
    shm_stats_t st;
    assert_int_equal(shm_client_get_stats(c, &st), SHM_SUCCESS);
    assert_int_equal(st.messages_lost, cl->lost); /* the client's own count agrees */

    free(sn);
    xshm_inspect_close(v);
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* ---- a dead reader -------------------------------------------------------------------- */

/* Helper "client" <name>: connect, send "hello", then wait to be killed. */
static int helper_client(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    shm_client_t *c = tc_connect_within(argv[1], 20000);
    if (!c)
        return 3;
    if (shm_client_send(c, "hello", 5) != SHM_SUCCESS)
        return 4;
    while (!tp_parent_gone())
        tp_sleep_ms(10); /* nothing to wait for but the kill */
    shm_client_disconnect(c);
    return 0;
}

static bool helper_connected(const xshm_inspect_t *v, xshm_inspect_snap_t *sn)
{
    xshm_inspect_snapshot(v, sn);
    return sn->clients == 1 && sn->rings[1].messages == 1;
}

static bool slot_freed(shm_server_t *s, const xshm_inspect_t *v, xshm_inspect_snap_t *sn)
{
    shm_stats_t st;
    (void)shm_server_get_stats(s, &st); /* the server looks for dead clients */
    xshm_inspect_snapshot(v, sn);
    return sn->rings[0].slots[0].state == XSHM_INSPECT_SLOT_FREE;
}

/*
 * A client process killed without disconnecting: until the server notices
 * (its listener is told not to look, shm_ipc_hooks.h), the snapshot shows
 * its slot still claimed, by its pid, not alive, and its ring's writer
 * dead. Once the server has reclaimed the slot it is free, its last
 * owner's pid kept.
 */
static void test_dead_reader_not_alive(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "insp-dead");
    shm_server_t *s = tc_server(name);
    xshm_server_test_wake_only(s, true);
    xshm_inspect_t *v = view_of(name);
    xshm_inspect_snap_t *sn = snap_of(v);
    assert_int_equal(sn->clients, 0);

    tp_child_t child;
    memset(&child, 0, sizeof(child));
    const char *args[] = {name, NULL};
    assert_int_equal(tp_spawn_self(&child, "client", args), 0);
    bool ok = false;
    TP_WAIT_UNTIL_SET(ok, helper_connected(v, sn), 20000);
    if (!ok) {
        tp_kill(&child);
        fail_msg("the helper client did not connect and send (clients %u, messages %u)",
                 (unsigned)sn->clients, (unsigned)sn->rings[1].messages);
    }
    const xshm_inspect_slot_t *sl = &sn->rings[0].slots[0];
    assert_int_equal(sl->state, XSHM_INSPECT_SLOT_ACTIVE);
    assert_int_equal(sl->pid, child.pid);
    assert_true(sl->alive);
    assert_int_equal(sn->rings[1].writer_pid, child.pid);
    assert_true(sn->rings[1].writer_alive);

    tp_kill(&child);
    xshm_inspect_snapshot(v, sn);
    sl = &sn->rings[0].slots[0];
    assert_int_equal(sl->state, XSHM_INSPECT_SLOT_ACTIVE); /* nobody has reclaimed it */
    assert_int_equal(sl->pid, child.pid);
    assert_false(sl->alive);
    assert_int_equal(sn->clients, 0);
    assert_int_equal(sn->rings[1].writer_pid, child.pid);
    assert_false(sn->rings[1].writer_alive);
    assert_int_equal(sn->rings[1].messages, 1);
    assert_int_equal(sn->rings[1].bytes, 5);
    assert_true(sn->creator_alive); /* the server is this process */

    TP_WAIT_UNTIL_SET(ok, slot_freed(s, v, sn), 20000);
    if (!ok)
        fail_msg("the server did not reclaim the killed client's slot");
    sl = &sn->rings[0].slots[0];
    assert_int_equal(sl->pid, child.pid); /* the last owner stays */
    assert_false(sl->alive);

    free(sn);
    xshm_inspect_close(v);
    shm_server_destroy(s);
}

/* ---- segments that are not channels ------------------------------------------------- */

static void expect_refused(const char *os, shm_error_t want, const char *words)
{
    xshm_inspect_t *v = (xshm_inspect_t *)(uintptr_t)1; /* must be reset to NULL */
    char why[256];
    shm_error_t e = xshm_inspect_open(&v, os, NULL, why, sizeof(why));
    assert_int_equal(e, want);
    assert_null(v);
    if (words && !strstr(why, words))
        fail_msg("the reason \"%s\" does not say \"%s\"", why, words);
    if (!words)
        assert_string_equal(why, "");
}

/* Objects under a channel's name that are not valid channel segments. */
static void test_foreign_objects(void **state)
{
    (void)state;
    char name[80], os[PLAT_NAME_MAX];
    tp_unique_name(name, sizeof(name), "insp-foreign");
    os_name_of(name, os, sizeof(os));

    expect_refused(os, SHM_ERROR_NOT_FOUND, NULL); /* nothing there */

    plat_shm_t shm;
    memset(&shm, 0, sizeof(shm));
    assert_int_equal(xshm_plat_shm_create(&shm, os, 8192), SHM_SUCCESS);
    /* zeros: a header nobody has published */
    expect_refused(os, SHM_ERROR_NOT_FOUND, "not published");
    /* another program's bytes */
    memset(shm.base, 'Z', 8192);
    expect_refused(os, SHM_ERROR_INVALID_SEGMENT, "magic number");
    xshm_plat_shm_close(&shm);
    xshm_plat_shm_unlink(os);
}

/* A buffer of `size` bytes, 64-byte aligned; *raw is what to free. */
static uint8_t *aligned(size_t size, void **raw)
{
    *raw = calloc(1, size + 64);
    assert_non_null(*raw);
    return (uint8_t *)(((uintptr_t)*raw + 63u) & ~(uintptr_t)63u);
}

static shm_error_t attach_mem(void *mem, size_t size, bool channel, char *why, size_t n)
{
    xshm_inspect_t *v = NULL;
    shm_error_t e = xshm_inspect_attach(&v, mem, size, channel, why, n);
    if (e == SHM_SUCCESS)
        assert_non_null(v);
    else
        assert_null(v);
    xshm_inspect_close(v);
    return e;
}

/* A segment in memory: another layout version, damaged geometry, not a
 * channel. */
static void test_corrupt_segments(void **state)
{
    (void)state;
    xshm_seg_params_t p = {SHM_CHANNEL_RINGS(2), 4096, 2, false, 0, 0};
    size_t size = xshm_segment_size(&p);
    assert_true(size > 0);
    void *raw;
    uint8_t *mem = aligned(size, &raw);
    xshm_segment_t seg;
    assert_int_equal(xshm_segment_format(&seg, mem, size, &p), SHM_SUCCESS);
    char why[256];
    assert_int_equal(attach_mem(mem, size, true, why, sizeof(why)), SHM_SUCCESS);
    assert_string_equal(why, "");

    xshm_seg_header_t *h = (xshm_seg_header_t *)(void *)mem;
    h->layout_version = 99;
    assert_int_equal(attach_mem(mem, size, true, why, sizeof(why)), SHM_ERROR_INVALID_SEGMENT);
    assert_non_null(strstr(why, "layout version is 99"));
    h->layout_version = SHM_LAYOUT_VERSION;

    seg.rings[1].hdr->capacity = 8192; /* a ring header that disagrees */
    assert_int_equal(attach_mem(mem, size, true, why, sizeof(why)), SHM_ERROR_INVALID_SEGMENT);
    assert_non_null(strstr(why, "geometry does not add up"));
    seg.rings[1].hdr->capacity = 4096;

    assert_int_equal(attach_mem(mem, size - 64, true, why, sizeof(why)),
                     SHM_ERROR_INVALID_SEGMENT); /* larger than the mapping */
    assert_non_null(strstr(why, "geometry does not add up"));
    assert_int_equal(attach_mem(mem, 16, true, why, sizeof(why)), SHM_ERROR_INVALID_SEGMENT);
    assert_non_null(strstr(why, "smaller than a segment header"));
    assert_int_equal(attach_mem(mem, size, true, why, sizeof(why)), SHM_SUCCESS);
    free(raw);

    /* valid, but one ring for two client slots: not a channel */
    xshm_seg_params_t q = {1, 4096, 2, false, 0, 0};
    size = xshm_segment_size(&q);
    mem = aligned(size, &raw);
    assert_int_equal(xshm_segment_format(&seg, mem, size, &q), SHM_SUCCESS);
    assert_int_equal(attach_mem(mem, size, true, why, sizeof(why)), SHM_ERROR_INVALID_SEGMENT);
    assert_non_null(strstr(why, "not a channel"));
    xshm_inspect_t *v = NULL;
    assert_int_equal(xshm_inspect_attach(&v, mem, size, false, why, sizeof(why)), SHM_SUCCESS);
    assert_int_equal(xshm_inspect_ring_count(v), 1);
    xshm_inspect_close(v);
    free(raw);
}

/*
 * Hostile words in a valid segment give bounded values: a misaligned tail
 * is read rounded down to a record boundary (the ring's own rule), a cursor
 * past the tail is no lag, an undefined claim state is INVALID, and a
 * pub_ver left odd (a writer that died while publishing) still gives an
 * answer.
 */
static void test_hostile_words_bounded(void **state)
{
    (void)state;
    xshm_seg_params_t p = {SHM_CHANNEL_RINGS(1), 4096, 1, false, 0, 0};
    size_t size = xshm_segment_size(&p);
    void *raw;
    uint8_t *mem = aligned(size, &raw);
    xshm_segment_t seg;
    assert_int_equal(xshm_segment_format(&seg, mem, size, &p), SHM_SUCCESS);
    shm_ring_t *r = &seg.rings[0];
    assert_int_equal(xshm_ring_writer_init(r), SHM_SUCCESS);
    xshm_ring_reader_t rd;
    assert_int_equal(xshm_ring_reader_attach(r, &rd), SHM_SUCCESS);
    assert_int_equal(xshm_ring_write(r, "abcdef", 6), SHM_SUCCESS);
    assert_int_equal(xshm_ring_write(r, "ghij", 4), SHM_SUCCESS);
    uint64_t tail = rec(6) + rec(4);

    xshm_inspect_t *v = NULL;
    assert_int_equal(xshm_inspect_attach(&v, mem, size, true, NULL, 0), SHM_SUCCESS);
    xshm_inspect_ring_t one;
    assert_true(xshm_inspect_ring(v, 0, &one));
    assert_int_equal(one.tail, tail);
    assert_int_equal(one.messages, 2);
    assert_int_equal(one.bytes, 10);
    assert_int_equal(one.slots[0].lag, tail);

    r->hdr->tail = tail + 3;
    assert_true(xshm_inspect_ring(v, 0, &one));
    assert_int_equal(one.tail, tail); /* never a misaligned position */
    r->hdr->tail = tail;

    r->slots[0].cursor = tail + 4096;
    r->slots[0].expected_seq = 1000;
    assert_true(xshm_inspect_ring(v, 0, &one));
    assert_int_equal(one.slots[0].lag, 0);
    assert_int_equal(one.slots[0].unread, 0);
    assert_int_equal(one.used, 0);

    uint64_t claim = r->slots[0].claim;
    r->slots[0].claim = (claim & ~(uint64_t)3u) | 3u;
    assert_true(xshm_inspect_ring(v, 0, &one));
    assert_int_equal(one.slots[0].state, XSHM_INSPECT_SLOT_INVALID);
    r->slots[0].claim = claim;

    r->hdr->pub_ver |= 1u;
    assert_true(xshm_inspect_ring(v, 0, &one));
    assert_int_equal(one.tail, tail);
    assert_int_equal(one.messages, 2);
    r->hdr->pub_ver &= ~(uint64_t)1u;

    xshm_inspect_close(v);
    xshm_ring_reader_detach(&rd);
    xshm_ring_writer_fini(r);
    free(raw);
}

static const tp_helper_t helpers[] = {{"client", helper_client}, {NULL, NULL}};

int main(int argc, char **argv)
{
    int rc;
    if (tp_dispatch(argc, argv, helpers, &rc))
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_snapshot_counts),
        cmocka_unit_test(test_find_reader_and_pending),
        cmocka_unit_test(test_lost_after_lap),
        cmocka_unit_test(test_dead_reader_not_alive),
        cmocka_unit_test(test_foreign_objects),
        cmocka_unit_test(test_corrupt_segments),
        cmocka_unit_test(test_hostile_words_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
