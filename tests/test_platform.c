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
    if (plat_shm_open(&shm, argv[1]) != SHM_SUCCESS)
        return 10;
    if (plat_wake_open(&wake, argv[2], false) != SHM_SUCCESS) {
        plat_shm_close(&shm);
        return 11;
    }
    shared_area_t *a = area_of(&shm);
    xa_store32_relaxed(&a->value, 0xC0FFEEu);
    xa_store32_rel(&a->word, 1);
    xa_fence_seq_cst();
    plat_wake_signal(&wake, &a->word);
    plat_wake_close(&wake);
    plat_shm_close(&shm);
    return 0;
}

/* ident <shm> exit|hang: publish plat_proc_self(), then exit 0 or wait to be
 * killed (giving up after 30 s so that a broken test leaves nothing behind). */
static int helper_ident(int argc, char **argv)
{
    plat_shm_t shm;
    plat_proc_id_t id;
    if (argc != 3)
        return 2;
    if (plat_shm_open(&shm, argv[1]) != SHM_SUCCESS)
        return 10;
    shared_area_t *a = area_of(&shm);
    plat_proc_self(&id);
    xa_store64_relaxed(&a->pid, id.pid);
    xa_store64_relaxed(&a->start_time, id.start_time);
    xa_store32_rel(&a->ready, 1);
    if (strcmp(argv[2], "hang") == 0) {
        uint64_t end = plat_now_ns() + 30000000000ull;
        while (plat_now_ns() < end)
            plat_sleep_ms(10);
        plat_shm_close(&shm);
        return 3;
    }
    plat_shm_close(&shm);
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

static const tp_helper_t helpers[] = {
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
    plat_wake_close(&f->wa);
    plat_wake_close(&f->wb);
    plat_shm_close(&f->a);
    plat_shm_close(&f->b);
    (void)plat_shm_unlink(f->shm_name);
    free(f);
    return 0;
}

/* Create f->a (SEG_SIZE) and, on Windows, the wake-up event (creator: wa,
 * opener: wb). */
static void make_channel(fixture_t *f)
{
    assert_int_equal(plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    assert_int_equal(plat_wake_open(&f->wa, f->wake_name, true), SHM_SUCCESS);
    assert_int_equal(plat_wake_open(&f->wb, f->wake_name, false), SHM_SUCCESS);
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

    assert_int_equal(plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    assert_non_null(f->a.base);
    assert_int_equal(f->a.size, SEG_SIZE);
    assert_string_equal(f->a.name, f->shm_name);
    const unsigned char *p = (const unsigned char *)f->a.base;
    for (size_t i = 0; i < SEG_SIZE; i++)
        if (p[i] != 0)
            fail_msg("byte %u of a new segment is %u", (unsigned)i, p[i]);

    assert_int_equal(plat_shm_open(&f->b, f->shm_name), SHM_SUCCESS);
    assert_non_null(f->b.base);
    assert_true(f->b.size >= SEG_SIZE);

    /* Two mappings of one object: a write through one is seen by the other. */
    static const char msg[] = "hello through shared memory";
    memcpy((char *)f->a.base + 1000, msg, sizeof msg);
    assert_memory_equal((char *)f->b.base + 1000, msg, sizeof msg);
    ((volatile unsigned char *)f->b.base)[SEG_SIZE - 1] = 0xA5;
    assert_int_equal(((volatile unsigned char *)f->a.base)[SEG_SIZE - 1], 0xA5);

    plat_shm_close(&f->b);
    assert_null(f->b.base);
    plat_shm_close(&f->b); /* closing twice is harmless */
    plat_shm_close(&f->a);
    assert_null(f->a.base);

    plat_shm_t zeroed;
    memset(&zeroed, 0, sizeof zeroed);
    plat_shm_close(&zeroed); /* so is closing a zeroed one */
}

static void test_shm_create_twice_exists(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    int code = 0;

    assert_int_equal(plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    assert_int_equal(plat_shm_create(&f->b, f->shm_name, SEG_SIZE), SHM_ERROR_EXISTS);
    assert_null(f->b.base);
    const char *fn = plat_last_os_error(&code);
    assert_true(fn[0] != '\0');
    assert_int_equal(code, OS_ERR_EXISTS);
    /* The first one is untouched. */
    assert_int_equal(plat_shm_open(&f->b, f->shm_name), SHM_SUCCESS);
}

static void test_shm_open_missing(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    int code = 0;

    assert_int_equal(plat_shm_open(&f->b, f->shm_name), SHM_ERROR_NOT_FOUND);
    assert_null(f->b.base);
    const char *fn = plat_last_os_error(&code);
    assert_true(fn[0] != '\0');
    assert_int_equal(code, OS_ERR_NOT_FOUND);
#ifdef _WIN32
    assert_int_equal(plat_shm_unlink(f->shm_name), SHM_SUCCESS); /* nothing to do */
#else
    assert_int_equal(plat_shm_unlink(f->shm_name), SHM_ERROR_NOT_FOUND);
#endif
}

static void test_shm_unlink(void **state)
{
    fixture_t *f = (fixture_t *)*state;

    assert_int_equal(plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    area_of(&f->a)->value = 42;
    assert_int_equal(plat_shm_unlink(f->shm_name), SHM_SUCCESS);
#ifdef _WIN32
    /* The name lives as long as a handle does. */
    assert_int_equal(plat_shm_open(&f->b, f->shm_name), SHM_SUCCESS);
    plat_shm_close(&f->b);
    plat_shm_close(&f->a);
    assert_int_equal(plat_shm_open(&f->b, f->shm_name), SHM_ERROR_NOT_FOUND);
#else
    /* The name is gone; the mapping is still valid. */
    assert_int_equal(plat_shm_open(&f->b, f->shm_name), SHM_ERROR_NOT_FOUND);
    assert_int_equal(area_of(&f->a)->value, 42);
    assert_int_equal(plat_shm_unlink(f->shm_name), SHM_ERROR_NOT_FOUND);
    plat_shm_close(&f->a);
#endif
    /* The name can be created again, as a new, zeroed object. */
    assert_int_equal(plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
    assert_int_equal(area_of(&f->a)->value, 0);
}

static void test_shm_invalid_params(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    char longname[PLAT_NAME_MAX + 1];

    memset(longname, 'a', PLAT_NAME_MAX);
    longname[PLAT_NAME_MAX] = '\0';

    assert_int_equal(plat_shm_create(&f->a, f->shm_name, 0), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(plat_shm_create(&f->a, NULL, SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(plat_shm_create(&f->a, "", SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(plat_shm_create(&f->a, "xshm.a/b.seg", SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(plat_shm_create(&f->a, "xshm.a\\b.seg", SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(plat_shm_create(&f->a, longname, SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(plat_shm_create(NULL, f->shm_name, SEG_SIZE), SHM_ERROR_INVALID_PARAM);
    assert_null(f->a.base);
    assert_int_equal(plat_shm_open(&f->b, NULL), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(plat_shm_open(&f->b, "xshm.a/b.seg"), SHM_ERROR_INVALID_PARAM);
    assert_int_equal(plat_shm_unlink("xshm.a/b.seg"), SHM_ERROR_INVALID_PARAM);

    /* Nothing was created under the valid name by the failed calls. */
    assert_int_equal(plat_shm_open(&f->b, f->shm_name), SHM_ERROR_NOT_FOUND);

#ifdef _WIN32
    /* A namespace prefix is part of a Windows name. */
    char local[PLAT_NAME_MAX];
    snprintf(local, sizeof local, "Local\\%s", f->shm_name);
    assert_int_equal(plat_shm_create(&f->a, local, SEG_SIZE), SHM_SUCCESS);
    assert_int_equal(plat_shm_open(&f->b, f->shm_name), SHM_SUCCESS); /* same object */
#else
    /* The upper layer strips it before calling on Linux. */
    assert_int_equal(plat_shm_create(&f->a, "Local\\xshm.x.seg", SEG_SIZE),
                     SHM_ERROR_INVALID_PARAM);
#endif
}

#ifndef _WIN32
/* The mode of a new segment is 0600 whatever the umask. */
static void check_mode_with_umask(fixture_t *f, mode_t mask)
{
    struct stat st;
    mode_t old = umask(mask);
    shm_error_t err = plat_shm_create(&f->a, f->shm_name, SEG_SIZE);
    umask(old);
    assert_int_equal(err, SHM_SUCCESS);
    assert_int_equal(fstat((int)f->a.fd, &st), 0);
    if ((st.st_mode & 07777) != 0600)
        fail_msg("umask %03o: mode %04o, expected 0600", (unsigned)mask,
                 (unsigned)(st.st_mode & 07777));
    assert_int_equal(st.st_uid, geteuid());
    assert_int_equal(st.st_size, SEG_SIZE);
    plat_shm_close(&f->a);
    assert_int_equal(plat_shm_unlink(f->shm_name), SHM_SUCCESS);
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
            if (plat_wake_wait(c->wake, c->word, i, 10000) == SHM_ERROR_TIMEOUT) {
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
    waiter_ctx_t c;
    memset(&c, 0, sizeof c);
    c.wake = &f->wb;
    c.word = &a->word;
    assert_int_equal(plat_thread_start(&t, waiter_main, &c), SHM_SUCCESS);
    for (uint32_t i = 0; i < WAKE_ROUNDS; i++) {
        TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c.armed) == i + 1, 10000);
        if (!ok)
            break;
        xa_store32_rel(&a->word, i + 1);
        xa_fence_seq_cst();
        plat_wake_signal(&f->wa, &a->word);
    }
    TP_WAIT_UNTIL_SET(ok, xa_load32_acq(&c.done) == 1, 15000);
    assert_true(ok); /* else the thread is stuck: do not join it */
    plat_thread_join(&t);
    assert_int_equal(xa_load32_acq(&c.timeouts), 0);
}

static void test_wake_changed_word(void **state)
{
    fixture_t *f = (fixture_t *)*state;

    make_channel(f);
    shared_area_t *a = area_of(&f->a);
    xa_store32_rel(&a->word, 5);
    uint64_t t0 = plat_now_ns();
    assert_int_equal(plat_wake_wait(&f->wb, &a->word, 4, 10000), SHM_SUCCESS);
    assert_int_equal(plat_wake_wait(&f->wb, &a->word, 4, PLAT_WAIT_FOREVER), SHM_SUCCESS);
    assert_true(plat_now_ns() - t0 < 2000000000ull);
}

/* Wait until SHM_ERROR_TIMEOUT (wake-ups may be spurious); the elapsed ms. */
static uint64_t timed_wait_ms(fixture_t *f, uint32_t timeout_ms)
{
    shared_area_t *a = area_of(&f->a);
    uint64_t t0 = plat_now_ns();
    shm_error_t err = SHM_SUCCESS;
    for (int i = 0; i < 1000 && err == SHM_SUCCESS; i++) {
        uint64_t spent = (plat_now_ns() - t0) / 1000000u;
        uint32_t left = spent >= timeout_ms ? 0 : timeout_ms - (uint32_t)spent;
        err = plat_wake_wait(&f->wb, &a->word, 0, left);
    }
    assert_int_equal(err, SHM_ERROR_TIMEOUT);
    return (plat_now_ns() - t0) / 1000000u;
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

    uint64_t deadline = plat_now_ns() + (uint64_t)HELPER_TIMEOUT_MS * 1000000u;
    while (xa_load32_acq(&a->word) == 0) {
        uint64_t now = plat_now_ns();
        if (now >= deadline)
            break;
        uint32_t left = (uint32_t)((deadline - now) / 1000000u) + 1;
        /* The helper starts after we are asleep and signals us: running out
         * of time here is a lost wake-up (or a helper that failed). */
        assert_int_equal(plat_wake_wait(&f->wa, &a->word, 0, left), SHM_SUCCESS);
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

    plat_proc_self(&id);
#ifdef _WIN32
    assert_int_equal(id.pid, (uint32_t)GetCurrentProcessId());
#else
    assert_int_equal(id.pid, (uint32_t)getpid());
#endif
    assert_true(id.start_time != 0);
    assert_true(plat_proc_alive(&id));

    other = id; /* the same pid, another start time: a reused pid */
    other.start_time = id.start_time + 1;
    assert_false(plat_proc_alive(&other));
    other.start_time = 0; /* unknown start time: the pid alone decides */
    assert_true(plat_proc_alive(&other));
    other.pid = 0;
    assert_false(plat_proc_alive(&other));
}

/* The identity of a process does not depend on the thread that asks; from
 * another thread, the process is alive too. (qemu-user's own
 * /proc/self/stat, which the library must not read, gives every thread the
 * time its emulation began as the start time.) */
typedef struct proc_thread_ctx {
    plat_proc_id_t main_id;   /* read on the main thread */
    plat_proc_id_t thread_id; /* read on the thread */
    bool main_alive;          /* plat_proc_alive(&main_id) on the thread */
} proc_thread_ctx_t;

static void proc_thread_main(void *arg)
{
    proc_thread_ctx_t *c = (proc_thread_ctx_t *)arg;
    plat_proc_self(&c->thread_id);
    c->main_alive = plat_proc_alive(&c->main_id);
}

static void test_proc_self_threads(void **state)
{
    proc_thread_ctx_t c;
    plat_thread_t t;
    (void)state;

    memset(&c, 0, sizeof c);
    plat_proc_self(&c.main_id);
    plat_sleep_ms(30); /* a few clock ticks: per-thread start times would differ */
    assert_int_equal(plat_thread_start(&t, proc_thread_main, &c), SHM_SUCCESS);
    plat_thread_join(&t);
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
    assert_int_equal(plat_shm_create(&f->a, f->shm_name, SEG_SIZE), SHM_SUCCESS);
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
    TP_WAIT_UNTIL_SET(ok, !plat_proc_alive(&id), HELPER_TIMEOUT_MS);
    assert_true(ok);
    assert_int_equal(tp_wait(&f->child, HELPER_TIMEOUT_MS, &code), 0);
    assert_int_equal(code, 0);
    assert_false(plat_proc_alive(&id)); /* and after reaping */
}

static void test_proc_killed_child(void **state)
{
    fixture_t *f = (fixture_t *)*state;
    plat_proc_id_t id, reused;
    int code = -1;

    spawn_ident(f, "hang", &id);
    assert_true(plat_proc_alive(&id));
    reused = id;
    reused.start_time ^= 1;
    assert_false(plat_proc_alive(&reused));
    assert_int_equal(tp_wait(&f->child, 20, &code), -1); /* still running */
    tp_kill(&f->child);
    assert_int_equal(f->child.exit_code, 137); /* 128 + SIGKILL; 137 on Windows too */
    assert_false(plat_proc_alive(&id));
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
    xa_store32_relaxed(&c->was_current, plat_thread_is_current(&c->t) ? 1u : 0u);
    xa_store32_rel(&c->ran, 1);
}

static void test_thread_start_join(void **state)
{
    thread_ctx_t c;
    (void)state;

    memset(&c, 0, sizeof c);
    assert_false(plat_thread_is_current(&c.t)); /* a zeroed thread is no one */
    assert_int_equal(plat_thread_start(&c.t, thread_main, &c), SHM_SUCCESS);
    assert_false(plat_thread_is_current(&c.t)); /* we are not that thread */
    plat_thread_join(&c.t);
    assert_int_equal(xa_load32_acq(&c.ran), 1);
    assert_int_equal(xa_load32_relaxed(&c.was_current), 1);
    assert_false(plat_thread_is_current(&c.t));
    assert_int_equal(plat_thread_start(&c.t, NULL, &c), SHM_ERROR_INVALID_PARAM);
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
    assert_int_equal(plat_thread_start(&t, detached_main, &flag), SHM_SUCCESS);
    plat_thread_detach(&t);
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
        plat_mutex_lock(&c->lock);
        c->count++;
        plat_mutex_unlock(&c->lock);
    }
}

static void test_mutex_counter(void **state)
{
    counter_ctx_t c;
    plat_thread_t t1, t2;
    (void)state;

    memset(&c, 0, sizeof c);
    plat_mutex_init(&c.lock);
    assert_int_equal(plat_thread_start(&t1, counter_main, &c), SHM_SUCCESS);
    assert_int_equal(plat_thread_start(&t2, counter_main, &c), SHM_SUCCESS);
    plat_thread_join(&t1);
    plat_thread_join(&t2);
    plat_mutex_lock(&c.lock);
    uint64_t total = c.count;
    plat_mutex_unlock(&c.lock);
    plat_mutex_destroy(&c.lock);
    assert_int_equal(total, 2u * COUNT_PER_THREAD);
}

/* ---- the clock ---------------------------------------------------------------------- */

static void test_clock(void **state)
{
    (void)state;
    uint64_t prev = plat_now_ns();
    for (int i = 0; i < 100000; i++) {
        uint64_t now = plat_now_ns();
        if (now < prev)
            fail_msg("the clock went back by %lu ns", (unsigned long)(prev - now));
        prev = now;
    }
    plat_sleep_ms(0);
    uint64_t t0 = plat_now_ns();
    plat_sleep_ms(20);
    uint64_t ms = (plat_now_ns() - t0) / 1000000u;
    /* Generous: Windows sleeps are counted in timer ticks (~15.6 ms). */
    if (ms < 10 || ms > 2000)
        fail_msg("a 20 ms sleep took %lu ms", (unsigned long)ms);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
