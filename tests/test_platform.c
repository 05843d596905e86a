/*
 * test_platform.c - the platform layer (platform.h) on Linux and Windows:
 * shared memory, security of the objects, wake-up objects (in-process and
 * across processes), threads, the mutex, process identity and the clock.
 *
 * Cross-process cases run a copy of this program as a helper (testproc.h).
 */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomics.h"
#include "platform.h"
#include "shm_common.h"
#include "testproc.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <aclapi.h>
#define OS_ERR_EXISTS ((int)ERROR_ALREADY_EXISTS)
#define OS_ERR_NOT_FOUND ((int)ERROR_FILE_NOT_FOUND)
#else
#include <errno.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <unistd.h>
#define OS_ERR_EXISTS EEXIST
#define OS_ERR_NOT_FOUND ENOENT
#endif

#define SEG_SIZE 65536u
#define HELPER_TIMEOUT_MS 20000u

/* What the tests and their helper processes share, at the start of a
 * segment. */
typedef struct shared_area {
    uint32_t word;  /* the wake-up word */
    uint32_t ready; /* 1: the helper has published its identity */
    uint32_t value;
    uint32_t pad_;
    uint64_t pid;
    uint64_t start_time;
} shared_area_t;

static shared_area_t *area_of(const plat_shm_t *shm) { return (shared_area_t *)shm->base; }

/* ---- helper processes ------------------------------------------------------- */

/* writer <shm> <wake>: store a value, change the word, signal. */
static int helper_writer(int argc, char **argv)
{
    plat_shm_t shm;
    plat_wake_t wake;
    if (argc != 3)
        return 2;
    if (xshm_plat_shm_open(&shm, argv[1]) != SHM_SUCCESS)
        return 10;
    if (xshm_plat_wake_open(&wake, argv[2], false) != SHM_SUCCESS) {
        xshm_plat_shm_close(&shm);
        return 11;
    }
    shared_area_t *a = area_of(&shm);
    xa_store32_relaxed(&a->value, 0xC0FFEEu);
    xa_store32_rel(&a->word, 1);
    xa_fence_seq_cst();
    xshm_plat_wake_signal(&wake, &a->word);
    xshm_plat_wake_close(&wake);
    xshm_plat_shm_close(&shm);
    return 0;
}

/* ident <shm> exit|hang: publish xshm_plat_proc_self(), then exit 0 or wait to be
 * killed (giving up after 30 s so that a broken test leaves nothing behind). */
static int helper_ident(int argc, char **argv)
{
    plat_shm_t shm;
    plat_proc_id_t id;
    if (argc != 3)
        return 2;
    if (xshm_plat_shm_open(&shm, argv[1]) != SHM_SUCCESS)
        return 10;
    shared_area_t *a = area_of(&shm);
    xshm_plat_proc_self(&id);
    xa_store64_relaxed(&a->pid, id.pid);
    xa_store64_relaxed(&a->start_time, id.start_time);
    xa_store32_rel(&a->ready, 1);
    if (strcmp(argv[2], "hang") == 0) {
        uint64_t end = xshm_plat_now_ns() + 30000000000ull;
        while (xshm_plat_now_ns() < end && !tp_parent_gone())
            xshm_plat_sleep_ms(10);
        xshm_plat_shm_close(&shm);
        return 3;
    }
    xshm_plat_shm_close(&shm);
    return 0;
}

static int helper_exit7(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    return 7;
}

static int helper_raise(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    raise(SIGTERM);
    return 0;
}

/* The arguments that test_testproc_exit_codes passes, awkward on purpose:
 * they must arrive unchanged (Windows command-line quoting). */
static const char *const odd_args[] = {"", "two words", "quote\"inside", "trailing\\",
                                       "back\\\\slash \\\"q\"", "tab\there", NULL};

static int helper_args(int argc, char **argv)
{
    int n = 0;
    while (odd_args[n] != NULL)
        n++;
    if (argc != n + 1)
        return 1;
    for (int i = 0; i < n; i++)
        if (strcmp(argv[i + 1], odd_args[i]) != 0)
            return 2 + i;
    return 0;
}

/* Where the cleanup helpers report, in the test's segment. */
#define NAME_AREA_OFFSET 256u

/* The objects a channel of OS name `os` leaves behind on Linux when its
 * process ends without cleaning up: its segment, its name lock (never
 * released) and a further segment "<os>.seg". Returns 0 or a step number. */
static int make_leftovers(const char *os)
{
    static plat_shm_t seg, extra; /* kept mapped: the process just ends */
    static plat_lock_t lock;
    char extra_name[PLAT_NAME_MAX + 8];
    snprintf(extra_name, sizeof extra_name, "%s.seg", os);
    if (xshm_plat_shm_create(&seg, os, 4096) != SHM_SUCCESS)
        return 20;
    if (xshm_plat_lock_take(&lock, os) != SHM_SUCCESS)
        return 21;
    if (xshm_plat_shm_create(&extra, extra_name, 4096) != SHM_SUCCESS)
        return 22;
    return 0;
}

/* leave <shm>: make objects under a name of our own (tp_unique_name), tell
 * the test that name and exit normally, without removing them. */
static int helper_leave(int argc, char **argv)
{
    plat_shm_t shm;
    char name[65], os[PLAT_NAME_MAX];
    if (argc != 2)
        return 2;
    if (xshm_plat_shm_open(&shm, argv[1]) != SHM_SUCCESS)
        return 10;
    tp_unique_name(name, sizeof name, "leave");
    snprintf(os, sizeof os, "xshm.%s", name);
    int rc = make_leftovers(os);
    if (rc != 0)
        return rc;
    memcpy((char *)shm.base + NAME_AREA_OFFSET, name, strlen(name) + 1);
    xa_store32_rel(&area_of(&shm)->ready, 1);
    xshm_plat_shm_close(&shm);
    return 0;
}

/* touch <os>: make objects under a name the test gave us, exit normally. */
static int helper_touch(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    return make_leftovers(argv[1]);
}

/* orphan <shm>: start "outlive" and exit at once. */
static int helper_orphan(int argc, char **argv)
{
    tp_child_t grandchild;
    if (argc != 2)
        return 2;
    const char *args[2] = {argv[1], NULL};
    if (tp_parent_gone())
        return 3; /* our parent, the test, is still waiting for us */
    return tp_spawn_self(&grandchild, "outlive", args) == 0 ? 0 : 4;
}

/* outlive <shm>: wait until the process that started us ("orphan") has
 * ended, then say so in the segment (value 1; 2 if it never ends). */
static int helper_outlive(int argc, char **argv)
{
    plat_shm_t shm;
    if (argc != 2)
        return 2;
    if (xshm_plat_shm_open(&shm, argv[1]) != SHM_SUCCESS)
        return 10;
    bool gone = false;
    TP_WAIT_UNTIL_SET(gone, tp_parent_gone(), HELPER_TIMEOUT_MS);
    xa_store32_relaxed(&area_of(&shm)->value, gone ? 1u : 2u);
    xa_store32_rel(&area_of(&shm)->ready, 1);
    xshm_plat_shm_close(&shm);
    return 0;
}

static const tp_helper_t helpers[] = {
    {"orphan", helper_orphan},
    {"outlive", helper_outlive},
    {"leave", helper_leave},
    {"touch", helper_touch},
    {"writer", helper_writer},
    {"args", helper_args},
    {"ident", helper_ident},
    {"exit7", helper_exit7},
    {"raise", helper_raise},
    {NULL, NULL},
};

/* ---- fixture: unique names, cleaned up whatever happens ------------------- */

typedef struct fixture {
    char shm_name[PLAT_NAME_MAX];
    char wake_name[PLAT_NAME_MAX];
    plat_shm_t a, b;
    plat_wake_t wa, wb;
    tp_child_t child;
} fixture_t;

static int fx_setup(void **state)
{
    char chan[65];
    fixture_t *f = (fixture_t *)calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    tp_unique_name(chan, sizeof chan, "tplat");
    snprintf(f->shm_name, sizeof f->shm_name, "xshm.%s.seg", chan);
    snprintf(f->wake_name, sizeof f->wake_name, "xshm.%s.wk0", chan);
    *state = f;
    return 0;
}

static int fx_teardown(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    tp_kill(&f->child);
    xshm_plat_wake_close(&f->wa);
    xshm_plat_wake_close(&f->wb);
    xshm_plat_shm_close(&f->a);
    xshm_plat_shm_close(&f->b);
    (void)xshm_plat_shm_unlink(f->shm_name);
    free(f);
    return 0;
}

/* Create f->a (SEG_SIZE) and, on Windows, the wake-up event (creator: wa,
 * opener: wb). */
static void make_channel(fixture_t *f)
{
    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    assert_int_equal(xshm_plat_wake_open(&f->wa, f->wake_name, true), SHM_SUCCESS);
    assert_int_equal(xshm_plat_wake_open(&f->wb, f->wake_name, false), SHM_SUCCESS);
}

#define SKIP_BECAUSE(reason)                                                   \
    do {                                                                       \
        print_message("[  SKIPPED ] %s\n", reason);                            \
        skip();                                                                \
    } while (0)

/* ---- shared memory ------------------------------------------------------------ */

static void test_shm_create_open_close(void **state)
{
    fixture_t *f = (fixture_t *)*state;

    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    assert_non_null(f->a.base);
    assert_int_equal(f->a.size, SEG_SIZE);
    assert_string_equal(f->a.name, f->shm_name);
    const unsigned char *p = (const unsigned char *)f->a.base;
    for (size_t i = 0; i < SEG_SIZE; i++)
        if (p[i] != 0)
            fail_msg("byte %u of a new segment is %u", (unsigned)i, p[i]);

    assert_int_equal(xshm_plat_shm_open(&f->b, f->shm_name), SHM_SUCCESS);
    assert_non_null(f->b.base);
    assert_true(f->b.size >= SEG_SIZE);

    /* Two mappings of one object: a write through one is seen by the other. */
    static const char msg[] = "hello through shared memory";
    memcpy((char *)f->a.base + 1000, msg, sizeof msg);
    assert_memory_equal((char *)f->b.base + 1000, msg, sizeof msg);
    ((volatile unsigned char *)f->b.base)[SEG_SIZE - 1] = 0xA5;
    assert_int_equal(((volatile unsigned char *)f->a.base)[SEG_SIZE - 1], 0xA5);

    xshm_plat_shm_close(&f->b);
    assert_null(f->b.base);
    xshm_plat_shm_close(&f->b); /* closing twice is harmless */
    xshm_plat_shm_close(&f->a);
    assert_null(f->a.base);

    plat_shm_t zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    xshm_plat_shm_close(&zeroed); /* so is closing a zeroed one */
}

static void test_shm_create_twice_exists(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    int code = 0;

    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    assert_int_equal(xshm_plat_shm_create(&f->b, f->shm_name, SEG_SIZE), SHM_ERROR_EXISTS);
    assert_null(f->b.base);
    const char *fn = xshm_plat_last_os_error(&code);
    assert_true(fn[0] != '\0');
    assert_int_equal(code, OS_ERR_EXISTS);
    /* The first one is untouched. */
    assert_int_equal(xshm_plat_shm_open(&f->b, f->shm_name), SHM_SUCCESS);
}

static void test_shm_open_missing(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    int code = 0;

    assert_int_equal(xshm_plat_shm_open(&f->b, f->shm_name), SHM_ERROR_NOT_FOUND);
    assert_null(f->b.base);
    const char *fn = xshm_plat_last_os_error(&code);
    assert_true(fn[0] != '\0');
    assert_int_equal(code, OS_ERR_NOT_FOUND);
#ifdef _WIN32
    assert_int_equal(xshm_plat_shm_unlink(f->shm_name), SHM_SUCCESS); /* nothing to do */
#else
    assert_int_equal(xshm_plat_shm_unlink(f->shm_name), SHM_ERROR_NOT_FOUND);
#endif
}

static void test_shm_unlink(void **state)
{
    fixture_t *f = (fixture_t *)*state;

    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    area_of(&f->a)->value = 42;
    assert_int_equal(xshm_plat_shm_unlink(f->shm_name), SHM_SUCCESS);
#ifdef _WIN32
    /* The name lives as long as a handle does. */
    assert_int_equal(xshm_plat_shm_open(&f->b, f->shm_name), SHM_SUCCESS);
    xshm_plat_shm_close(&f->b);
    xshm_plat_shm_close(&f->a);
    assert_int_equal(xshm_plat_shm_open(&f->b, f->shm_name), SHM_ERROR_NOT_FOUND);
#else
    /* The name is gone; the mapping is still valid. */
    assert_int_equal(xshm_plat_shm_open(&f->b, f->shm_name), SHM_ERROR_NOT_FOUND);
    assert_int_equal(area_of(&f->a)->value, 42);
    assert_int_equal(xshm_plat_shm_unlink(f->shm_name), SHM_ERROR_NOT_FOUND);
    xshm_plat_shm_close(&f->a);
#endif
    /* The name can be created again, as a new, zeroed object. */
    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    assert_int_equal(area_of(&f->a)->value, 0);
}

static void test_shm_invalid_params(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    char longname[PLAT_NAME_MAX + 1];

    memset(longname, 'a', PLAT_NAME_MAX);
    longname[PLAT_NAME_MAX] = '\0';

    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, 0), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_plat_shm_create(&f->a, NULL, SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_plat_shm_create(&f->a, "", SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_plat_shm_create(&f->a, "xshm.a/b.seg", SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_plat_shm_create(&f->a, "xshm.a\\b.seg", SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_plat_shm_create(&f->a, longname, SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_plat_shm_create(NULL, f->shm_name, SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_null(f->a.base);
    assert_int_equal(xshm_plat_shm_open(&f->b, NULL), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_plat_shm_open(&f->b, "xshm.a/b.seg"), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_plat_shm_unlink("xshm.a/b.seg"), SHM_ERROR_INVALID_PARAM);

    /* Nothing was created under the valid name by the failed calls. */
    assert_int_equal(xshm_plat_shm_open(&f->b, f->shm_name), SHM_ERROR_NOT_FOUND);

#ifdef _WIN32
    /* A namespace prefix is part of a Windows name. */
    char local[PLAT_NAME_MAX];
    snprintf(local, sizeof local, "Local\\%s", f->shm_name);
    assert_int_equal(xshm_plat_shm_create(&f->a, local, SEG_SIZE), SHM_SUCCESS);
    assert_int_equal(xshm_plat_shm_open(&f->b, f->shm_name), SHM_SUCCESS); /* same object */
#else
    /* The upper layer strips it before calling on Linux. */
    assert_int_equal(xshm_plat_shm_create(&f->a, "Local\\xshm.x.seg", SEG_SIZE),
                     SHM_ERROR_INVALID_PARAM);
#endif
}

#ifndef _WIN32
/* The mode of a new segment is 0600 whatever the umask. */
static void check_mode_with_umask(fixture_t *f, mode_t mask)
{
    struct stat st;
    mode_t old = umask(mask);
    shm_error_t err = xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE);
    umask(old);
    assert_int_equal(err, SHM_SUCCESS);
    assert_int_equal(fstat((int)f->a.fd, &st), 0);
    if ((st.st_mode & 07777) != 0600)
        fail_msg("umask %03o: mode %04o, expected 0600", (unsigned)mask,
                 (unsigned)(st.st_mode & 07777));
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(st.st_size, SEG_SIZE);
    xshm_plat_shm_close(&f->a);
    assert_int_equal(xshm_plat_shm_unlink(f->shm_name), SHM_SUCCESS);
}
#endif

static void test_shm_mode_0600(void **state)
{
#ifdef _WIN32
    (void)state;
    SKIP_BECAUSE("POSIX file modes: Windows objects are covered by test_shm_dacl");
#else
    fixture_t *f = (fixture_t *)*state;
    check_mode_with_umask(f, 0);
    check_mode_with_umask(f, 077);
    check_mode_with_umask(f, 0277); /* would give 0400 without the fchmod */
#endif
}

#ifdef _WIN32
/* The object's DACL: exactly three allow entries, for the user, LocalSystem
 * and Administrators, each with full access. */
static void check_dacl(HANDLE h, const char *what)
{
    PACL dacl = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    BYTE user_buf[SECURITY_MAX_SID_SIZE], system_sid[SECURITY_MAX_SID_SIZE];
    BYTE admins_sid[SECURITY_MAX_SID_SIZE], everyone_sid[SECURITY_MAX_SID_SIZE];
    BYTE token_buf[512];
    HANDLE token;
    DWORD n;

    assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token));
    assert_true(GetTokenInformation(token, TokenUser, token_buf, sizeof token_buf, &n));
    CloseHandle(token);
    assert_true(CopySid(sizeof user_buf, user_buf, ((TOKEN_USER *)token_buf)->User.Sid));
    n = sizeof system_sid;
    assert_true(CreateWellKnownSid(WinLocalSystemSid, NULL, system_sid, &n));
    n = sizeof admins_sid;
    assert_true(CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, admins_sid, &n));
    n = sizeof everyone_sid;
    assert_true(CreateWellKnownSid(WinWorldSid, NULL, everyone_sid, &n));

    DWORD r = GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, NULL, NULL,
                              &dacl, NULL, &sd);
    if (r != ERROR_SUCCESS)
        fail_msg("%s: GetSecurityInfo failed (%lu)", what, r);
    if (dacl == NULL) {
        LocalFree(sd);
        fail_msg("%s: NULL DACL (everyone has access)", what);
    }
    int seen_user = 0, seen_system = 0, seen_admins = 0, other = 0;
    for (DWORD i = 0; i < dacl->AceCount; i++) {
        ACE_HEADER *hdr;
        assert_true(GetAce(dacl, i, (void **)&hdr));
        if (hdr->AceType != ACCESS_ALLOWED_ACE_TYPE) {
            other++;
            continue;
        }
        ACCESS_ALLOWED_ACE *ace = (ACCESS_ALLOWED_ACE *)hdr;
        PSID sid = (PSID)&ace->SidStart;
        /* GENERIC_ALL as given, or mapped to the object's specific rights. */
        bool full = (ace->Mask & GENERIC_ALL) != 0 ||
                    (ace->Mask & STANDARD_RIGHTS_REQUIRED) == STANDARD_RIGHTS_REQUIRED;
        if (EqualSid(sid, (PSID)user_buf) && full)
            seen_user++;
        else if (EqualSid(sid, (PSID)system_sid) && full)
            seen_system++;
        else if (EqualSid(sid, (PSID)admins_sid) && full)
            seen_admins++;
        else
            other++;
        if (EqualSid(sid, (PSID)everyone_sid))
            other += 100;
    }
    DWORD count = dacl->AceCount;
    LocalFree(sd);
    if (count != 3 || seen_user != 1 || seen_system != 1 || seen_admins != 1 || other != 0)
        fail_msg("%s: %lu ACEs: user %d, SYSTEM %d, Administrators %d, other %d", what,
                 count, seen_user, seen_system, seen_admins, other);
}
#endif

static void test_shm_dacl(void **state)
{
#ifdef _WIN32
    fixture_t *f = (fixture_t *)*state;
    make_channel(f);
    /* Open the objects by name, as another program would, and read their
     * DACLs. */
    HANDLE h = OpenFileMappingA(READ_CONTROL, FALSE, f->shm_name);
    assert_non_null(h);
    check_dacl(h, "file mapping");
    CloseHandle(h);
    h = OpenEventA(READ_CONTROL, FALSE, f->wake_name);
    assert_non_null(h);
    check_dacl(h, "event");
    CloseHandle(h);
#else
    (void)state;
    SKIP_BECAUSE("Windows DACLs: Linux segments are covered by test_shm_mode_0600");
#endif
}

/* ---- wake-up ------------------------------------------------------------------ */

#define WAKE_ROUNDS 200u

typedef struct waiter_ctx {
    plat_wake_t *wake;
    uint32_t *word;
    uint32_t armed;    /* round the waiter is about to wait in, plus 1 */
    uint32_t timeouts;
    uint32_t done;
} waiter_ctx_t;

/* Round i: sleep while *word == i, with a generous timeout that only a lost
 * wake-up would reach. */
static void waiter_main(void *arg)
{
    waiter_ctx_t *c = (waiter_ctx_t *)arg;
    for (uint32_t i = 0; i < WAKE_ROUNDS; i++) {
        xa_store32_rel(&c->armed, i + 1);
        while (xa_load32_acq(c->word) == i) {
            if (xshm_plat_wake_wait(c->wake, c->word, i, 10000) == SHM_ERROR_TIMEOUT) {
                xa_fetch_add32(&c->timeouts, 1);
                break;
            }
        }
    }
    xa_store32_rel(&c->done, 1);
}

static void test_wake_thread(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    plat_thread_t t;
    bool ok = false;

    make_channel(f);
    shared_area_t *a = area_of(&f->a);
    /* Static: a thread that is still waiting after a failure must not write
     * into this function's stack once CMocka has left it. */
    static waiter_ctx_t c;
    memset(&c, 0, sizeof c);
    c.wake = &f->wb;
    c.word = &a->word;
    assert_int_equal(xshm_plat_thread_start(&t, waiter_main, &c), SHM_SUCCESS);
    for (uint32_t i = 0; i < WAKE_ROUNDS; i++) {
        TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c.armed) == i + 1, 10000);
        if (!ok)
            break;
        xa_store32_rel(&a->word, i + 1);
        xa_fence_seq_cst();
        xshm_plat_wake_signal(&f->wa, &a->word);
    }
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c.done) == 1, 15000);
    if (!ok) {
        /* Stuck: end its rounds (each wait also times out within 10 s) so
         * that it is joined, not left using the fixture's wake object. */
        bool ended = false;
        xa_store32_rel(&a->word, WAKE_ROUNDS);
        xa_fence_seq_cst();
        xshm_plat_wake_signal(&f->wa, &a->word);
        TP_WAIT_UNTIL_SET(ended, xa_load32_acq(&c.done) == 1, 25000);
        if (ended)
            xshm_plat_thread_join(&t);
        else
            xshm_plat_thread_detach(&t);
    } else {
        xshm_plat_thread_join(&t);
    }
    assert_true(ok);
    assert_int_equal(xa_load32_acq(&c.timeouts), 0);
}

static void test_wake_changed_word(void **state)
{
    fixture_t *f = (fixture_t *)*state;

    make_channel(f);
    shared_area_t *a = area_of(&f->a);
    xa_store32_rel(&a->word, 5);
    uint64_t t0 = xshm_plat_now_ns();
    assert_int_equal(xshm_plat_wake_wait(&f->wb, &a->word, 4, 10000), SHM_SUCCESS);
    assert_int_equal(xshm_plat_wake_wait(&f->wb, &a->word, 4, PLAT_WAIT_FOREVER), SHM_SUCCESS);
    assert_true(xshm_plat_now_ns() - t0 < 2000000000ull);
}

/* Wait until SHM_ERROR_TIMEOUT (wake-ups may be spurious); the elapsed ms. */
static uint64_t timed_wait_ms(fixture_t *f, uint32_t timeout_ms)
{
    shared_area_t *a = area_of(&f->a);
    uint64_t t0 = xshm_plat_now_ns();
    shm_error_t err = SHM_SUCCESS;
    for (int i = 0; i < 1000 && err == SHM_SUCCESS; i++) {
        uint64_t spent = (xshm_plat_now_ns() - t0) / 1000000u;
        uint32_t left = spent >= timeout_ms ? 0 : timeout_ms - (uint32_t)spent;
        err = xshm_plat_wake_wait(&f->wb, &a->word, 0, left);
    }
    assert_int_equal(err, SHM_ERROR_TIMEOUT);
    return (xshm_plat_now_ns() - t0) / 1000000u;
}

static void test_wake_timeout(void **state)
{
    fixture_t *f = (fixture_t *)*state;

    make_channel(f);
    uint64_t ms = timed_wait_ms(f, 200);
    if (ms < 200 || ms > 2200)
        fail_msg("a 200 ms wait took %lu ms", (unsigned long)ms);
    ms = timed_wait_ms(f, 0);
    if (ms > 2000)
        fail_msg("a 0 ms wait took %lu ms", (unsigned long)ms);
}

static void test_wake_cross_process(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    int code = -1;

    make_channel(f);
    shared_area_t *a = area_of(&f->a);
    const char *args[3];
    args[0] = f->shm_name;
    args[1] = f->wake_name;
    args[2] = NULL;
    assert_int_equal(tp_spawn_self(&f->child, "writer", args), 0);

    uint64_t deadline = xshm_plat_now_ns() + (uint64_t)HELPER_TIMEOUT_MS * 1000000u;
    while (xa_load32_acq(&a->word) == 0) {
        uint64_t now = xshm_plat_now_ns();
        if (now >= deadline)
            break;
        uint32_t left = (uint32_t)((deadline - now) / 1000000u) + 1;
        /* The helper starts after we are asleep and signals us: running out
         * of time here is a lost wake-up (or a helper that failed). */
        assert_int_equal(xshm_plat_wake_wait(&f->wa, &a->word, 0, left), SHM_SUCCESS);
    }
    assert_int_equal(xa_load32_acq(&a->word), 1);
    assert_int_equal(xa_load32_relaxed(&a->value), 0xC0FFEEu);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 0);
}

/* ---- process identity ----------------------------------------------------------- */

static void test_proc_self(void **state)
{
    plat_proc_id_t id, other;
    (void)state;

    xshm_plat_proc_self(&id);
#ifdef _WIN32
    assert_int_equal(id.pid, (uint32_t)GetCurrentProcessId());
#else
    assert_int_equal(id.pid, (uint32_t)getpid());
#endif
    assert_true(id.start_time != 0);
    assert_true(xshm_plat_proc_alive(&id));

    other = id; /* the same pid, another start time: a reused pid */
    other.start_time = id.start_time + 1;
    assert_false(xshm_plat_proc_alive(&other));
    other.start_time = 0; /* unknown start time: the pid alone decides */
    assert_true(xshm_plat_proc_alive(&other));
    other.pid = 0;
    assert_false(xshm_plat_proc_alive(&other));
}

/* The identity of a process does not depend on the thread that asks; from
 * another thread, the process is alive too. (qemu-user's own
 * /proc/self/stat, which the library must not read, gives every thread the
 * time its emulation began as the start time.) */
typedef struct proc_thread_ctx {
    plat_proc_id_t main_id;   /* read on the main thread */
    plat_proc_id_t thread_id; /* read on the thread */
    bool main_alive;          /* xshm_plat_proc_alive(&main_id) on the thread */
} proc_thread_ctx_t;

static void proc_thread_main(void *arg)
{
    proc_thread_ctx_t *c = (proc_thread_ctx_t *)arg;
    xshm_plat_proc_self(&c->thread_id);
    c->main_alive = xshm_plat_proc_alive(&c->main_id);
}

static void test_proc_self_threads(void **state)
{
    proc_thread_ctx_t c;
    plat_thread_t t;
    (void)state;

    memset(&c, 0, sizeof c);
    xshm_plat_proc_self(&c.main_id);
    xshm_plat_sleep_ms(30); /* a few clock ticks: per-thread start times would differ */
    assert_int_equal(xshm_plat_thread_start(&t, proc_thread_main, &c), SHM_SUCCESS);
    xshm_plat_thread_join(&t);
    assert_int_equal(c.thread_id.pid, c.main_id.pid);
    if (c.thread_id.start_time != c.main_id.start_time)
        fail_msg("start time %llu on a thread, %llu on the main thread",
                 (unsigned long long)c.thread_id.start_time,
                 (unsigned long long)c.main_id.start_time);
    assert_true(c.main_alive);
}

/* Start an "ident" helper and read the identity it publishes. */
static void spawn_ident(fixture_t *f, const char *mode, plat_proc_id_t *id)
{
    bool ok = false;
    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    shared_area_t *a = area_of(&f->a);
    const char *args[3];
    args[0] = f->shm_name;
    args[1] = mode;
    args[2] = NULL;
    assert_int_equal(tp_spawn_self(&f->child, "ident", args), 0);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&a->ready) == 1, HELPER_TIMEOUT_MS);
    assert_true(ok);
    id->pid = (uint32_t)xa_load64_relaxed(&a->pid);
    id->start_time = xa_load64_relaxed(&a->start_time);
    assert_int_equal(id->pid, f->child.pid);
}

static void test_proc_exited_child(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    plat_proc_id_t id;
    int code = -1;
    bool ok = false;

    spawn_ident(f, "exit", &id);
    assert_true(id.start_time != 0);
    /* Exited but not reaped yet (a zombie on Linux, a signalled process
     * object on Windows): already gone. */
    TP_WAIT_UNTIL_SET(ok, !xshm_plat_proc_alive(&id), HELPER_TIMEOUT_MS);
    assert_true(ok);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 0);
    assert_false(xshm_plat_proc_alive(&id)); /* and after reaping */
}

static void test_proc_killed_child(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    plat_proc_id_t id, reused;
    int code = -1;

    spawn_ident(f, "hang", &id);
    assert_true(xshm_plat_proc_alive(&id));
    reused = id;
    reused.start_time ^= 1;
    assert_false(xshm_plat_proc_alive(&reused));
    assert_int_equal(tp_wait(&f->child, 20, &code), -1); /* still running */
    tp_kill(&f->child);
    assert_int_equal(f->child.exit_code, 137); /* 128 + SIGKILL; 137 on Windows too */
    assert_false(xshm_plat_proc_alive(&id));
}

/* ---- the test-process helpers themselves ---------------------------------------- */

static void test_testproc_exit_codes(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    int code = -1;

    assert_int_equal(tp_spawn_self(&f->child, "exit7", NULL), 0);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 7);
    code = -1;
    assert_int_equal(tp_wait(&f->child, 0, &code), 0); /* reaped: same answer */
    assert_int_equal(code, 7);

    assert_int_equal(tp_spawn_self(&f->child, "args", odd_args), 0);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 0);

    assert_int_equal(tp_spawn_self(&f->child, "no-such-helper", NULL), 0);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 127);

#ifndef _WIN32
    assert_int_equal(tp_spawn_self(&f->child, "raise", NULL), 0);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 128 + SIGTERM);
#endif
}

static int count_args(int argc, char **argv)
{
    (void)argv;
    return argc; /* helper name + args */
}

static void test_testproc_dispatch(void **state)
{
    static const tp_helper_t table[] = {{"count", count_args}, {NULL, NULL}};
    char a0[] = "prog", a1[] = "--helper", a2[] = "count", a3[] = "x", a4[] = "y";
    char *argv[6], *plain[3];
    int rc = -1;
    (void)state;

    argv[0] = a0;
    argv[1] = a1;
    argv[2] = a2;
    argv[3] = a3;
    argv[4] = a4;
    argv[5] = NULL;
    plain[0] = a0;
    plain[1] = a3;
    plain[2] = NULL;

    assert_int_equal(tp_dispatch(5, argv, table, &rc), 1);
    assert_int_equal(rc, 3);
    assert_int_equal(tp_dispatch(2, plain, table, &rc), 0);
    assert_int_equal(tp_dispatch(1, plain, table, &rc), 0);
    argv[2] = a4;
    assert_int_equal(tp_dispatch(3, argv, table, &rc), 1);
    assert_int_equal(rc, 127);
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return false;
    }
    return true;
}

static void test_testproc_unique_name(void **state)
{
    char a[65], b[65], c[65], small[12];
    (void)state;

    tp_unique_name(a, sizeof a, "chan");
    tp_unique_name(b, sizeof b, "chan");
    assert_true(name_ok(a));
    assert_true(name_ok(b));
    assert_string_not_equal(a, b);
    assert_memory_equal(a, "chan-", 5);

    tp_unique_name(c, sizeof c, "bad name/with\\slashes and a very long tail to be cut short");
    assert_true(name_ok(c));
    tp_unique_name(small, sizeof small, "x");
    assert_true(name_ok(small));
    assert_true(strlen(small) <= sizeof small - 1);
}

/* ---- threads and the mutex ------------------------------------------------------- */

typedef struct thread_ctx {
    plat_thread_t t;
    uint32_t ran;
    uint32_t was_current;
} thread_ctx_t;

static void thread_main(void *arg)
{
    thread_ctx_t *c = (thread_ctx_t *)arg;
    /* *t is complete before the thread runs. */
    xa_store32_relaxed(&c->was_current, xshm_plat_thread_is_current(&c->t) ? 1u : 0u);
    xa_store32_rel(&c->ran, 1);
}

static void test_thread_start_join(void **state)
{
    thread_ctx_t c;
    (void)state;

    memset(&c, 0, sizeof c);
    assert_false(xshm_plat_thread_is_current(&c.t)); /* a zeroed thread is no one */
    assert_int_equal(xshm_plat_thread_start(&c.t, thread_main, &c), SHM_SUCCESS);
    bool is_me = xshm_plat_thread_is_current(&c.t); /* checked once it is joined */
    xshm_plat_thread_join(&c.t);
    assert_false(is_me); /* we are not that thread */
    assert_int_equal(xa_load32_acq(&c.ran), 1);
    assert_int_equal(xa_load32_relaxed(&c.was_current), 1);
    assert_false(xshm_plat_thread_is_current(&c.t));
    assert_int_equal(xshm_plat_thread_start(&c.t, NULL, &c), SHM_ERROR_INVALID_PARAM);
}

static void detached_main(void *arg)
{
    xa_store32_rel((uint32_t *)arg, 1); /* its last touch of *arg */
}

static void test_thread_detach(void **state)
{
    static uint32_t flag;
    plat_thread_t t;
    bool ok = false;
    (void)state;

    xa_store32_rel(&flag, 0);
    assert_int_equal(xshm_plat_thread_start(&t, detached_main, &flag), SHM_SUCCESS);
    xshm_plat_thread_detach(&t);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&flag) == 1, 10000);
    assert_true(ok);
}

#define COUNT_PER_THREAD 200000u

typedef struct counter_ctx {
    plat_mutex_t lock;
    uint64_t count; /* guarded by lock, plain accesses */
} counter_ctx_t;

static void counter_main(void *arg)
{
    counter_ctx_t *c = (counter_ctx_t *)arg;
    for (uint32_t i = 0; i < COUNT_PER_THREAD; i++) {
        xshm_plat_mutex_lock(&c->lock);
        c->count++;
        xshm_plat_mutex_unlock(&c->lock);
    }
}

static void test_mutex_counter(void **state)
{
    counter_ctx_t c;
    plat_thread_t t1, t2;
    (void)state;

    memset(&c, 0, sizeof c);
    xshm_plat_mutex_init(&c.lock);
    assert_int_equal(xshm_plat_thread_start(&t1, counter_main, &c), SHM_SUCCESS);
    shm_error_t e2 = xshm_plat_thread_start(&t2, counter_main, &c);
    xshm_plat_thread_join(&t1); /* before any assert: it uses c, on this stack */
    if (e2 == SHM_SUCCESS)
        xshm_plat_thread_join(&t2);
    assert_int_equal(e2, SHM_SUCCESS);
    xshm_plat_mutex_lock(&c.lock);
    uint64_t total = c.count;
    xshm_plat_mutex_unlock(&c.lock);
    xshm_plat_mutex_destroy(&c.lock);
    assert_int_equal(total, 2u * COUNT_PER_THREAD);
}

/* ---- the clock ---------------------------------------------------------------------- */

static void test_clock(void **state)
{
    (void)state;
    uint64_t prev = xshm_plat_now_ns();
    for (int i = 0; i < 100000; i++) {
        uint64_t now = xshm_plat_now_ns();
        if (now < prev)
            fail_msg("the clock went back by %lu ns", (unsigned long)(prev - now));
        prev = now;
    }
    xshm_plat_sleep_ms(0);
    uint64_t t0 = xshm_plat_now_ns();
    xshm_plat_sleep_ms(20);
    uint64_t ms = (xshm_plat_now_ns() - t0) / 1000000u;
    /* Generous: Windows sleeps are counted in timer ticks (~15.6 ms). */
    if (ms < 10 || ms > 2000)
        fail_msg("a 20 ms sleep took %lu ms", (unsigned long)ms);

    /* Across whole seconds (where a mistake in the units would show): still
     * monotonic, and in step with the test's own clock. */
    uint64_t start_ms = tp_now_ms();
    t0 = prev = xshm_plat_now_ns();
    while (tp_now_ms() - start_ms < 1200) {
        xshm_plat_sleep_ms(5);
        uint64_t now = xshm_plat_now_ns();
        if (now < prev)
            fail_msg("the clock went back by %llu ns", (unsigned long long)(prev - now));
        prev = now;
    }
    ms = (prev - t0) / 1000000u;
    if (ms < 1100 || ms > 3200)
        fail_msg("1200 ms of the test's clock were %lu ms of xshm_plat_now_ns()", (unsigned long)ms);
}

/* ---- OS errors -------------------------------------------------------------------- */

typedef struct os_err_case {
    int code;
    shm_error_t want;
    const char *what;
} os_err_case_t;

/* The port's table, entry by entry: no room or memory is SHM_ERROR_MEMORY,
 * an OS failure without a code of its own is SHM_ERROR_SYSTEM, and so on. */
static void test_os_error_map(void **state)
{
    (void)state;
#ifdef _WIN32
    static const os_err_case_t cases[] = {
        {ERROR_SUCCESS, SHM_SUCCESS, "ERROR_SUCCESS"},
        {ERROR_ALREADY_EXISTS, SHM_ERROR_EXISTS, "ERROR_ALREADY_EXISTS"},
        {ERROR_FILE_NOT_FOUND, SHM_ERROR_NOT_FOUND, "ERROR_FILE_NOT_FOUND"},
        {ERROR_ACCESS_DENIED, SHM_ERROR_ACCESS, "ERROR_ACCESS_DENIED"},
        {ERROR_NOT_ENOUGH_MEMORY, SHM_ERROR_MEMORY, "ERROR_NOT_ENOUGH_MEMORY"},
        {ERROR_COMMITMENT_LIMIT, SHM_ERROR_MEMORY, "ERROR_COMMITMENT_LIMIT"},
        {ERROR_OUTOFMEMORY, SHM_ERROR_MEMORY, "ERROR_OUTOFMEMORY"},
        {ERROR_INVALID_NAME, SHM_ERROR_INVALID_PARAM, "ERROR_INVALID_NAME"},
        {ERROR_INVALID_PARAMETER, SHM_ERROR_INVALID_PARAM, "ERROR_INVALID_PARAMETER"},
        {ERROR_BAD_PATHNAME, SHM_ERROR_INVALID_PARAM, "ERROR_BAD_PATHNAME"},
        {ERROR_INVALID_HANDLE, SHM_ERROR_SYSTEM, "ERROR_INVALID_HANDLE"},
        {ERROR_GEN_FAILURE, SHM_ERROR_SYSTEM, "ERROR_GEN_FAILURE"},
        {ERROR_TOO_MANY_OPEN_FILES, SHM_ERROR_SYSTEM, "ERROR_TOO_MANY_OPEN_FILES"},
        {ERROR_SHARING_VIOLATION, SHM_ERROR_SYSTEM, "ERROR_SHARING_VIOLATION"},
    };
#else
    static const os_err_case_t cases[] = {
        {0, SHM_SUCCESS, "0"},
        {EEXIST, SHM_ERROR_EXISTS, "EEXIST"},
        {ENOENT, SHM_ERROR_NOT_FOUND, "ENOENT"},
        {EACCES, SHM_ERROR_ACCESS, "EACCES"},
        {EPERM, SHM_ERROR_ACCESS, "EPERM"},
        {ENOMEM, SHM_ERROR_MEMORY, "ENOMEM"},
        {ENOSPC, SHM_ERROR_MEMORY, "ENOSPC"},
        {EFBIG, SHM_ERROR_MEMORY, "EFBIG"},
        {ENAMETOOLONG, SHM_ERROR_INVALID_PARAM, "ENAMETOOLONG"},
        {EINVAL, SHM_ERROR_INVALID_PARAM, "EINVAL"},
        {EIO, SHM_ERROR_SYSTEM, "EIO"},
        {EBADF, SHM_ERROR_SYSTEM, "EBADF"},
        {EMFILE, SHM_ERROR_SYSTEM, "EMFILE"},
        {EAGAIN, SHM_ERROR_SYSTEM, "EAGAIN"},
        {ENOSYS, SHM_ERROR_SYSTEM, "ENOSYS"},
    };
#endif
    int wrong = 0;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        shm_error_t got = xshm_plat_map_os_error(cases[i].code);
        if (got != cases[i].want) {
            print_error("%s (%d): %s, expected %s\n", cases[i].what, cases[i].code,
                        shm_strerror(got), shm_strerror(cases[i].want));
            wrong++;
        }
    }
    assert_int_equal(wrong, 0);
}

/* A segment larger than the OS can give: SHM_ERROR_MEMORY at once (Linux:
 * larger than the whole of /dev/shm, which posix_fallocate refuses before
 * allocating anything; Windows: larger than the address space), with the
 * failing call recorded, and no object left under the name. */
static void test_shm_create_too_big(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    size_t size;
#ifdef _WIN32
    size = sizeof(void *) == 8 ? (size_t)((uint64_t)1 << 50) : (size_t)0xFFFF0000u;
#else
    struct statvfs vfs;
    assert_int_equal(statvfs("/dev/shm", &vfs), 0);
    uint64_t total = (uint64_t)vfs.f_blocks * (uint64_t)vfs.f_frsize;
    if (vfs.f_blocks == 0 || total >= (uint64_t)(SIZE_MAX / 4) ||
        sizeof(off_t) < sizeof(uint64_t)) {
        /* An unlimited tmpfs would really try to allocate the size. */
        SKIP_BECAUSE("/dev/shm has no size limit (or does not fit this process): nothing "
                     "larger than it to ask for");
        return;
    }
    size = (size_t)(total + 65536u);
#endif
    int code = 0;
    shm_error_t err = xshm_plat_shm_create(&f->a, f->shm_name, size);
    const char *fn = xshm_plat_last_os_error(&code);
    print_message("a segment of %llu bytes: %s (%s failed with %d)\n", (unsigned long long)size,
                  shm_strerror(err), fn, code);
    assert_int_equal(err, SHM_ERROR_MEMORY);
    assert_null(f->a.base);
    assert_true(fn[0] != '\0');
#if defined(_WIN32) && !defined(_WIN64)
    /* A 32-bit process: the section may be made and its view then not fit
     * the address space, a failure whose code varies (Wine:
     * ERROR_INVALID_PARAMETER); the library reports MEMORY for it. */
    if (strcmp(fn, "MapViewOfFile") != 0)
        assert_int_equal(xshm_plat_map_os_error(code), SHM_ERROR_MEMORY);
#else
    assert_int_equal(xshm_plat_map_os_error(code), SHM_ERROR_MEMORY);
#endif
    /* Nothing left under the name: it can be created at a normal size. */
    assert_int_equal(xshm_plat_shm_open(&f->b, f->shm_name), SHM_ERROR_NOT_FOUND);
    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
}

/* ---- channel names (shm_common) ------------------------------------------------------ */

#ifdef _WIN32
#define OS_PREFIX_LOCAL "Local\\"
#define OS_PREFIX_GLOBAL "Global\\"
#else
#define OS_PREFIX_LOCAL ""
#define OS_PREFIX_GLOBAL ""
#endif

static void expect_os_name(const char *name, const char *want, const char *want_bare)
{
    char out[PLAT_NAME_MAX];
    const char *bare = NULL;
    shm_error_t err = xshm_channel_os_name(name, out, sizeof out, &bare);
    if (err != SHM_SUCCESS)
        fail_msg("\"%s\": %s", name, shm_strerror(err));
    if (strcmp(out, want) != 0 || bare == NULL || strcmp(bare, want_bare) != 0)
        fail_msg("\"%s\": \"%s\" (bare \"%s\"), expected \"%s\" (bare \"%s\")", name, out,
                 bare ? bare : "(null)", want, want_bare);
    /* Exactly the room it needs, and one byte less. */
    size_t need = strlen(want) + 1;
    assert_int_equal(xshm_channel_os_name(name, out, need, NULL), SHM_SUCCESS);
    assert_string_equal(out, want);
    assert_int_equal(xshm_channel_os_name(name, out, need - 1, NULL), SHM_ERROR_INVALID_PARAM);
}

static void test_channel_os_name(void **state)
{
    (void)state;
    char n64[SHM_MAX_NAME_LENGTH + 2], want[PLAT_NAME_MAX], prefixed[PLAT_NAME_MAX];
    memset(n64, 'a', sizeof n64);
    n64[SHM_MAX_NAME_LENGTH] = '\0';

    expect_os_name("abc", OS_PREFIX_LOCAL "xshm.abc", "abc");
    expect_os_name("Local\\abc", OS_PREFIX_LOCAL "xshm.abc", "abc");
    expect_os_name("Global\\abc", OS_PREFIX_GLOBAL "xshm.abc", "abc");
    expect_os_name("A.z_0-9", OS_PREFIX_LOCAL "xshm.A.z_0-9", "A.z_0-9");
    snprintf(want, sizeof want, OS_PREFIX_LOCAL "xshm.%s", n64);
    expect_os_name(n64, want, n64);
    snprintf(prefixed, sizeof prefixed, "Global\\%s", n64);
    snprintf(want, sizeof want, OS_PREFIX_GLOBAL "xshm.%s", n64);
    expect_os_name(prefixed, want, n64);

    static const char *const bad[] = {"", "Local\\", "Global\\", "a b", "a/b", "a\\b", "a@lock",
                                      "Local\\Global\\x", "local\\x", "Global\\\\x", "\xc3\xa9t\xc3\xa9"};
    char out[PLAT_NAME_MAX];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (xshm_channel_os_name(bad[i], out, sizeof out, NULL) != SHM_ERROR_INVALID_PARAM)
            fail_msg("\"%s\" accepted as a channel name", bad[i]);
    n64[SHM_MAX_NAME_LENGTH] = 'a';
    n64[SHM_MAX_NAME_LENGTH + 1] = '\0'; /* 65 characters */
    assert_int_equal(xshm_channel_os_name(n64, out, sizeof out, NULL), SHM_ERROR_INVALID_PARAM);
    snprintf(prefixed, sizeof prefixed, "Local\\%s", n64);
    assert_int_equal(xshm_channel_os_name(prefixed, out, sizeof out, NULL), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_channel_os_name(NULL, out, sizeof out, NULL), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(xshm_channel_os_name("abc", NULL, sizeof out, NULL), SHM_ERROR_INVALID_PARAM);
}

/* ---- the biased lock (shm_common) --------------------------------------------------- */

#define BLOCK_ROUNDS 200000u

typedef struct block_ctx {
    xshm_block_t lock;
    uint32_t go;      /* atomic: both threads start together */
    uint64_t count;   /* guarded by lock; plain accesses */
    uint32_t inside;  /* atomic: threads inside the lock now */
    uint32_t overlap; /* atomic: times two were inside at once */
} block_ctx_t;

static void block_main(void *arg)
{
    block_ctx_t *c = (block_ctx_t *)arg;
    while (!xa_load32_acq(&c->go))
        xa_pause();
    for (uint32_t i = 0; i < BLOCK_ROUNDS; i++) {
        bool fast = xshm_block_lock(&c->lock);
        if (xa_fetch_add32(&c->inside, 1) != 0)
            xa_fetch_add32(&c->overlap, 1);
        uint64_t v = c->count;
        if ((i & 63u) == 0)
            xa_pause(); /* widen the window a lost exclusion would leave */
        c->count = v + 1;
        xa_fetch_add32(&c->inside, (uint32_t)-1);
        xshm_block_unlock(&c->lock, fast);
    }
}

/* The first thread to take the lock is favoured (a plain store), until a
 * second thread comes: from then on both exclude each other. */
static void test_block_lock_excludes(void **state)
{
    (void)state;
    block_ctx_t *c = (block_ctx_t *)calloc(1, sizeof *c);
    assert_non_null(c);
    /* One of the two threads takes it first and is favoured (where fences
     * allow), the other takes the favour away. */
    plat_thread_t t1, t2;
    assert_int_equal(xshm_plat_thread_start(&t1, block_main, c), SHM_SUCCESS);
    shm_error_t e2 = xshm_plat_thread_start(&t2, block_main, c);
    xa_store32_rel(&c->go, 1);
    xshm_plat_thread_join(&t1); /* before any assert: it waits for go, then runs */
    if (e2 == SHM_SUCCESS)
        xshm_plat_thread_join(&t2);
    assert_int_equal(e2, SHM_SUCCESS);
    /* And the main thread, after them. */
    bool fast = xshm_block_lock(&c->lock);
    c->count++;
    xshm_block_unlock(&c->lock, fast);
    xshm_block_drain(&c->lock);
    print_message("biased lock: %llu increments, %u overlaps\n", (unsigned long long)c->count,
                  xa_load32_acq(&c->overlap));
    assert_int_equal(xa_load32_acq(&c->overlap), 0);
    assert_int_equal(c->count, 2u * BLOCK_ROUNDS + 1u);
    free(c);
}

/* ---- cleanup of the tests' named objects ------------------------------------------------ */

#ifndef _WIN32
static bool shm_entry_exists(const char *os, const char *suffix)
{
    char path[PLAT_NAME_MAX + 32];
    struct stat st;
    snprintf(path, sizeof path, "/dev/shm/%s%s", os, suffix);
    return stat(path, &st) == 0;
}

static int leftovers_of(const char *os)
{
    return (int)shm_entry_exists(os, "") + (int)shm_entry_exists(os, "@lock") +
           (int)shm_entry_exists(os, ".seg");
}
#endif

/*
 * Names from tp_unique_name are cleaned up by the process that generated
 * them when it exits, whatever its tests left (a channel's segment, its
 * lock file, further objects); a process given a name by another never
 * removes that one's objects.
 */
static void test_testproc_cleanup(void **state)
{
#ifdef _WIN32
    (void)state;
    SKIP_BECAUSE("Windows: named objects vanish with their last handle, nothing to clean");
#else
    fixture_t *f = (fixture_t *)*state;
    int code = -1;
    bool ok = false;
    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);

    /* A helper makes objects under a name of its own and exits: gone. */
    const char *args[2] = {f->shm_name, NULL};
    assert_int_equal(tp_spawn_self(&f->child, "leave", args), 0);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 0);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&area_of(&f->a)->ready) == 1, HELPER_TIMEOUT_MS);
    assert_true(ok);
    char theirs[PLAT_NAME_MAX];
    snprintf(theirs, sizeof theirs, "xshm.%s", (const char *)f->a.base + NAME_AREA_OFFSET);
    int left = leftovers_of(theirs);
    print_message("helper's own name %s: %d of 3 objects left after it exited\n", theirs, left);
    assert_int_equal(left, 0);

    /* A helper makes objects under a name of ours and exits: they stay. */
    char mine[65], os[PLAT_NAME_MAX];
    tp_unique_name(mine, sizeof mine, "mine");
    snprintf(os, sizeof os, "xshm.%s", mine);
    const char *targs[2] = {os, NULL};
    assert_int_equal(tp_spawn_self(&f->child, "touch", targs), 0);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 0);
    assert_int_equal(leftovers_of(os), 3);
    /* A name that merely starts like ours is not ours. */
    char similar[PLAT_NAME_MAX + 2];
    snprintf(similar, sizeof similar, "%sx", os);
    plat_shm_t other;
    assert_int_equal(xshm_plat_shm_create(&other, similar, 4096), SHM_SUCCESS);

    /* What this process exits with, now: ours go, the other stays. */
    unsigned removed = tp_cleanup_names();
    assert_true(removed >= 3);
    assert_int_equal(leftovers_of(os), 0);
    assert_true(shm_entry_exists(similar, ""));
    xshm_plat_shm_close(&other);
    assert_int_equal(xshm_plat_shm_unlink(similar), SHM_SUCCESS);
#endif
}

/* A helper notices that the process that started it has ended (and a test
 * process, started by nobody's tp_spawn_self, is no helper). */
static void test_testproc_parent_gone(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    int code = -1;
    bool ok = false;
    assert_false(tp_parent_gone());
    assert_int_equal(xshm_plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    const char *args[2] = {f->shm_name, NULL};
    assert_int_equal(tp_spawn_self(&f->child, "orphan", args), 0);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 0);
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&area_of(&f->a)->ready) == 1, 2 * HELPER_TIMEOUT_MS);
    assert_true(ok);
    assert_int_equal(xa_load32_relaxed(&area_of(&f->a)->value), 1);
}

/* ---- main -------------------------------------------------------------------------- */

#define FX_TEST(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

int main(int argc, char **argv)
{
    int rc;
    if (tp_dispatch(argc, argv, helpers, &rc))
        return rc;

    const struct CMUnitTest tests[] = {
        FX_TEST(test_shm_create_open_close),
        FX_TEST(test_shm_create_twice_exists),
        FX_TEST(test_shm_open_missing),
        FX_TEST(test_shm_unlink),
        FX_TEST(test_shm_invalid_params),
        FX_TEST(test_shm_mode_0600),
        FX_TEST(test_shm_dacl),
        FX_TEST(test_wake_thread),
        FX_TEST(test_wake_changed_word),
        FX_TEST(test_wake_timeout),
        FX_TEST(test_wake_cross_process),
        cmocka_unit_test(test_proc_self),
        cmocka_unit_test(test_proc_self_threads),
        FX_TEST(test_proc_exited_child),
        FX_TEST(test_proc_killed_child),
        FX_TEST(test_testproc_exit_codes),
        cmocka_unit_test(test_testproc_dispatch),
        cmocka_unit_test(test_testproc_unique_name),
        cmocka_unit_test(test_thread_start_join),
        cmocka_unit_test(test_thread_detach),
        cmocka_unit_test(test_mutex_counter),
        cmocka_unit_test(test_clock),
        cmocka_unit_test(test_os_error_map),
        FX_TEST(test_shm_create_too_big),
        cmocka_unit_test(test_channel_os_name),
        cmocka_unit_test(test_block_lock_excludes),
        FX_TEST(test_testproc_cleanup),
        FX_TEST(test_testproc_parent_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
