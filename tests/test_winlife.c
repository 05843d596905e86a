/*
 * test_winlife.c - Windows lifecycle and odd objects in the platform layer:
 * a section whose pages are only reserved, liveness of a process that is
 * not ours, an endpoint destroyed during process exit while a receive was
 * blocked, and xshm.dll unloaded with a listener running.
 *
 * Built twice on Windows: as the test program, and with WINLIFE_HOOK_DLL as
 * winlife_hook.dll, a stand-in for a user's DLL whose DllMain destroys its
 * endpoints on DLL_PROCESS_DETACH (it calls back into the program that set
 * its hook). The cases that need one run a copy of this program as a helper
 * process and wait for it with a deadline: a hang is a failure, not a stuck
 * test. On Linux every case skips (they are about Windows only).
 */
#ifdef WINLIFE_HOOK_DLL

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

typedef void (*winlife_hook_fn)(void *arg, int process_exit);

static winlife_hook_fn g_hook;
static void *g_hook_arg;

__declspec(dllexport) void winlife_set_hook(winlife_hook_fn fn, void *arg);

void winlife_set_hook(winlife_hook_fn fn, void *arg)
{
    g_hook = fn;
    g_hook_arg = arg;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved);

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved)
{
    (void)inst;
    /* reserved != NULL: the process is exiting (its other threads are gone);
     * NULL: FreeLibrary. Either way the loader lock is held. */
    if (reason == DLL_PROCESS_DETACH && g_hook)
        g_hook(g_hook_arg, reserved != NULL);
    return TRUE;
}

#else /* the test program */

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "atomics.h"
#include "platform.h"
#include "shm_ipc.h"
#include "shm_ringbuffer.h"
#include "testproc.h"

#define HELPER_TIMEOUT_MS 20000u

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <process.h>

/* ---- item: a section of reserved pages ---------------------------------------- */

/* Security for an object owned by our user, with a DACL for it alone (the
 * process's user: these tests do not impersonate). */
typedef struct user_sd {
    SECURITY_ATTRIBUTES sa;
    SECURITY_DESCRIPTOR sd;
    BYTE tu[512];
    BYTE acl[512];
} user_sd_t;

static void user_sd_init(user_sd_t *u)
{
    HANDLE token;
    DWORD len = 0;
    assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token));
    assert_true(GetTokenInformation(token, TokenUser, u->tu, sizeof u->tu, &len));
    CloseHandle(token);
    PSID sid = ((TOKEN_USER *)(void *)u->tu)->User.Sid;
    PACL acl = (PACL)(void *)u->acl;
    assert_true(InitializeAcl(acl, sizeof u->acl, ACL_REVISION));
    assert_true(AddAccessAllowedAce(acl, ACL_REVISION, GENERIC_ALL, sid));
    assert_true(InitializeSecurityDescriptor(&u->sd, SECURITY_DESCRIPTOR_REVISION));
    assert_true(SetSecurityDescriptorOwner(&u->sd, sid, FALSE));
    assert_true(SetSecurityDescriptorDacl(&u->sd, TRUE, acl, FALSE));
    u->sa.nLength = sizeof u->sa;
    u->sa.lpSecurityDescriptor = &u->sd;
    u->sa.bInheritHandle = FALSE;
}

/*
 * A section made with SEC_RESERVE (by anyone of our user: a buggy or hostile
 * program that took the name first) has pages that fault on first touch
 * until its maker commits them. Opening it must be refused, not crash the
 * reader at its first look at the header. `commit` bytes at its start are
 * committed (0: none), as a maker that committed only part would.
 */
static void check_reserved_section_refused(size_t size, size_t commit)
{
    char uname[64], name[PLAT_NAME_MAX];
    tp_unique_name(uname, sizeof uname, "wlres");
    snprintf(name, sizeof name, "Local\\xshm.%s", uname);

    user_sd_t sec;
    user_sd_init(&sec);
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, &sec.sa, PAGE_READWRITE | SEC_RESERVE, 0,
                                  (DWORD)size, name);
    assert_non_null(h);
    void *view = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
    assert_non_null(view);
    if (commit)
        assert_non_null(VirtualAlloc(view, commit, MEM_COMMIT, PAGE_READWRITE));

    MEMORY_BASIC_INFORMATION mbi;
    assert_int_not_equal(VirtualQuery((char *)view + commit, &mbi, sizeof mbi), 0);
    if (mbi.State != MEM_RESERVE) {
        UnmapViewOfFile(view);
        CloseHandle(h);
        printf("[  SKIPPED ] reserved section: this system reports State 0x%lx, not "
               "MEM_RESERVE, for the reserved pages of a SEC_RESERVE view\n",
               (unsigned long)mbi.State);
        skip();
    }

    plat_shm_t shm;
    memset(&shm, 0, sizeof shm);
    shm_error_t err = xshm_plat_shm_open(&shm, name);
    bool opened = err == SHM_SUCCESS;
    xshm_plat_shm_close(&shm);
    UnmapViewOfFile(view);
    CloseHandle(h);
    if (opened)
        fail_msg("a section with reserved pages was opened (commit %lu of %lu bytes)",
                 (unsigned long)commit, (unsigned long)size);
    assert_int_equal(err, SHM_ERROR_ACCESS);
    assert_null(shm.base);
}

static void test_reserved_section_refused(void **state)
{
    (void)state;
    check_reserved_section_refused(256u * 1024u, 0);
}

static void test_partly_committed_section_refused(void **state)
{
    (void)state;
    check_reserved_section_refused(256u * 1024u, 64u * 1024u);
}

/* A section made as xshm_plat_shm_create makes them (committed) still opens, in
 * full. */
static void test_committed_section_opens(void **state)
{
    (void)state;
    char uname[64], name[PLAT_NAME_MAX];
    tp_unique_name(uname, sizeof uname, "wlcom");
    snprintf(name, sizeof name, "Local\\xshm.%s", uname);
    plat_shm_t a, b;
    assert_int_equal(xshm_plat_shm_create(&a, name, 256u * 1024u), SHM_SUCCESS);
    assert_int_equal(xshm_plat_shm_open(&b, name), SHM_SUCCESS);
    assert_true(b.size >= 256u * 1024u);
    ((volatile char *)b.base)[b.size - 1] = 1;
    assert_int_equal(((volatile char *)a.base)[b.size - 1], 1);
    xshm_plat_shm_close(&b);
    xshm_plat_shm_close(&a);
}

/* ---- item: liveness of a process we may not synchronise with ---------------------- */

/* OpenProcess as another user's process answers it: no SYNCHRONIZE, but
 * PROCESS_QUERY_LIMITED_INFORMATION (usually granted across users). With
 * g_deny_all, nothing at all (a protected process). */
static bool g_deny_all;

static void *deny_sync_open(uint32_t access, int inherit, uint32_t pid)
{
    if (g_deny_all || (access & SYNCHRONIZE) != 0) {
        SetLastError(ERROR_ACCESS_DENIED);
        return NULL;
    }
    return OpenProcess((DWORD)access, inherit ? TRUE : FALSE, (DWORD)pid);
}

/* A helper that runs until its parent ends or it is killed. */
static int helper_idle(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    while (!tp_parent_gone())
        tp_sleep_ms(10); /* nothing to wait for but the kill */
    return 0;
}

/*
 * A peer's pid now belongs to a process that denies us SYNCHRONIZE (another
 * user's: the peer died and its pid was reused). Its creation time differs
 * from the recorded one, so the peer is gone; with the right creation time
 * it is alive; once it has exited it is gone.
 */
static void test_alive_access_denied_checks_start_time(void **state)
{
    (void)state;
    tp_child_t child;
    memset(&child, 0, sizeof child);
    assert_int_equal(tp_spawn_self(&child, "idle", NULL), 0);

    HANDLE h = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, (DWORD)child.pid);
    assert_non_null(h);
    FILETIME cr, ex, k, u;
    assert_true(GetProcessTimes(h, &cr, &ex, &k, &u));
    CloseHandle(h);
    plat_proc_id_t id;
    id.pid = child.pid;
    id.start_time = ((uint64_t)cr.dwHighDateTime << 32) | cr.dwLowDateTime;
    assert_true(xshm_plat_proc_alive(&id)); /* the real OpenProcess */

    g_deny_all = false;
    plat_win_open_process_fn old = xshm_plat_win_test_open_process(deny_sync_open);
    bool same = xshm_plat_proc_alive(&id);
    plat_proc_id_t reused = id;
    reused.start_time = id.start_time + 1; /* the dead peer's: another process now */
    bool other = xshm_plat_proc_alive(&reused);
    xshm_plat_win_test_open_process(old);

    tp_kill(&child);
    xshm_plat_win_test_open_process(deny_sync_open);
    bool after_exit = xshm_plat_proc_alive(&id);
    xshm_plat_win_test_open_process(old);

    assert_true(same);
    if (other)
        fail_msg("a reused pid that denies SYNCHRONIZE kept the dead peer alive");
    /* Wine may hand out a pid again at once; then the process now under it
     * has another creation time, and is no less gone. */
    assert_false(after_exit);
}

/* Nothing can be learnt (a protected process): not declared dead. */
static void test_alive_all_denied_is_alive(void **state)
{
    (void)state;
    plat_proc_id_t id;
    xshm_plat_proc_self(&id);
    id.start_time += 1; /* would be "reused" if it could be read */
    g_deny_all = true;
    plat_win_open_process_fn old = xshm_plat_win_test_open_process(deny_sync_open);
    bool alive = xshm_plat_proc_alive(&id);
    xshm_plat_win_test_open_process(old);
    g_deny_all = false;
    assert_true(alive);
}

/* ---- the hook DLL and the shared status word ---------------------------------- */

typedef void (*winlife_hook_fn)(void *arg, int process_exit);
typedef void (*winlife_set_hook_fn)(winlife_hook_fn fn, void *arg);

/* Path of a file beside this program. */
static void beside_me(char *out, size_t n, const char *file)
{
    DWORD len = GetModuleFileNameA(NULL, out, (DWORD)n);
    if (len == 0 || len >= n) {
        out[0] = '\0';
        return;
    }
    char *slash = strrchr(out, '\\');
    char *fslash = strrchr(out, '/');
    if (fslash > slash)
        slash = fslash;
    size_t dir = slash ? (size_t)(slash - out) + 1 : 0;
    snprintf(out + dir, n - dir, "%s", file);
}

static HMODULE load_beside_me(const char *file)
{
    char path[MAX_PATH];
    beside_me(path, sizeof path, file);
    HMODULE m = LoadLibraryA(path);
    if (m == NULL)
        fprintf(stderr, "LoadLibrary(%s): error %lu\n", path, (unsigned long)GetLastError());
    return m;
}

/* Progress the helper reports in a segment its parent keeps. */
typedef struct status_area {
    uint32_t stage;
    uint32_t pad_;
} status_area_t;

enum { ST_NONE = 0, ST_HOOK_ENTERED = 1, ST_HOOK_DONE = 2, ST_UNLOADED = 3 };

static status_area_t *open_status(plat_shm_t *shm, const char *name)
{
    if (xshm_plat_shm_open(shm, name) != SHM_SUCCESS)
        return NULL;
    return (status_area_t *)shm->base;
}

/* Run helper `helper` with the channel name and the status segment's name;
 * it must end within HELPER_TIMEOUT_MS with exit code `want`, having reached
 * status `stage`. */
static void run_bounded_helper(const char *helper, int want, uint32_t stage)
{
    char chan[64], seg[64], segos[PLAT_NAME_MAX];
    tp_unique_name(chan, sizeof chan, "wlc");
    tp_unique_name(seg, sizeof seg, "wls");
    snprintf(segos, sizeof segos, "Local\\xshm.%s.st", seg);
    plat_shm_t shm;
    assert_int_equal(xshm_plat_shm_create(&shm, segos, 4096), SHM_SUCCESS);
    status_area_t *st = (status_area_t *)shm.base;

    tp_child_t child;
    memset(&child, 0, sizeof child);
    const char *args[] = {chan, segos, NULL};
    assert_int_equal(tp_spawn_self(&child, helper, args), 0);
    int code = -1;
    if (tp_wait(&child, HELPER_TIMEOUT_MS, &code) != 0) {
        uint32_t reached = xa_load32_acq(&st->stage);
        tp_kill(&child);
        xshm_plat_shm_close(&shm);
        fail_msg("helper %s hung (still running after %u ms, at stage %u)", helper,
                 HELPER_TIMEOUT_MS, reached);
    }
    uint32_t reached = xa_load32_acq(&st->stage);
    xshm_plat_shm_close(&shm);
    if (code != want)
        fail_msg("helper %s exited with %d, not %d (stage %u)", helper, code, want, reached);
    assert_int_equal(reached, stage);
}

/* ---- item: destroy during process exit, a receive blocked ------------------------ */

typedef struct exit_ctx {
    shm_server_t *server;
    shm_client_t *client;
    status_area_t *st;
} exit_ctx_t;

static exit_ctx_t g_exit;

static unsigned __stdcall blocked_receive(void *arg)
{
    shm_client_t *c = (shm_client_t *)arg;
    char buf[256];
    for (;;) {
        uint32_t size = sizeof buf;
        shm_error_t e = shm_client_receive(c, buf, &size);
        if (e != SHM_SUCCESS && e != SHM_ERROR_TIMEOUT)
            return 0;
    }
}

static bool any_slot_waiting(const shm_ring_t *r)
{
    for (uint32_t i = 0; i < r->max_readers; i++)
        if (xa_load32_acq(&r->slots[i].waiting))
            return true;
    return false;
}

/* The user's DllMain: destroy the endpoints at DLL_PROCESS_DETACH. */
static void exit_hook(void *arg, int process_exit)
{
    exit_ctx_t *x = (exit_ctx_t *)arg;
    if (!process_exit)
        return;
    xa_store32_rel(&x->st->stage, ST_HOOK_ENTERED);
    shm_client_disconnect(x->client);
    shm_server_destroy(x->server);
    xa_store32_rel(&x->st->stage, ST_HOOK_DONE);
}

/* exit_blocked <channel> <status>: a thread blocked in receive, then
 * ExitProcess(42); winlife_hook.dll's DllMain destroys the endpoints. */
static int helper_exit_blocked(int argc, char **argv)
{
    plat_shm_t stshm;
    if (argc < 3)
        return 2;
    status_area_t *st = open_status(&stshm, argv[2]);
    if (st == NULL)
        return 3;
    HMODULE hook = load_beside_me("winlife_hook.dll");
    if (hook == NULL)
        return 4;
    winlife_set_hook_fn set_hook =
        (winlife_set_hook_fn)(void (*)(void))GetProcAddress(hook, "winlife_set_hook");
    if (set_hook == NULL)
        return 5;
    shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
    cfg.size = 64u * 1024u;
    cfg.timeout_ms = 0; /* no limit */
    g_exit.st = st;
    g_exit.server = shm_server_create(argv[1], &cfg);
    if (g_exit.server == NULL)
        return 6;
    g_exit.client = shm_client_connect(argv[1]);
    if (g_exit.client == NULL)
        return 7;
    uintptr_t t = _beginthreadex(NULL, 0, blocked_receive, g_exit.client, 0, NULL);
    if (t == 0)
        return 8;
    bool asleep;
    TP_WAIT_UNTIL_SET(asleep, any_slot_waiting(shm_server_tx_ring(g_exit.server)), 10000);
    if (!asleep)
        return 9;
    set_hook(exit_hook, &g_exit);
    ExitProcess(42); /* kills the receiving thread, then runs DllMain */
}

static void test_destroy_at_process_exit_receive_blocked(void **state)
{
    (void)state;
    run_bounded_helper("exit_blocked", 42, ST_HOOK_DONE);
}

/* ---- item: unloading xshm.dll with a listener --------------------------------- */

typedef shm_server_t *(*server_create_fn)(const char *, const shm_ring_config_t *);
typedef void (*server_destroy_fn)(shm_server_t *);
typedef shm_error_t (*register_fn)(shm_server_t *, shm_event_callback_t, void *);

typedef struct dll_api {
    HMODULE dll;
    server_create_fn create;
    server_destroy_fn destroy;
    register_fn reg;
} dll_api_t;

static bool load_xshm_dll(dll_api_t *a)
{
    memset(a, 0, sizeof *a);
    a->dll = load_beside_me("xshm.dll");
    if (a->dll == NULL)
        return false;
    a->create = (server_create_fn)(void (*)(void))GetProcAddress(a->dll, "shm_server_create");
    a->destroy = (server_destroy_fn)(void (*)(void))GetProcAddress(a->dll, "shm_server_destroy");
    a->reg = (register_fn)(void (*)(void))GetProcAddress(a->dll, "shm_server_register_callback");
    return a->create && a->destroy && a->reg;
}

static void on_event(void *ud, shm_event_type_t type, const void *data, uint32_t size)
{
    (void)type;
    (void)data;
    (void)size;
    xa_fetch_add32((uint32_t *)ud, 1);
}

/* Wait until the xshm.dll this process loaded is gone from it. */
static bool xshm_dll_unloaded(HMODULE was)
{
    HMODULE now = NULL;
    bool gone;
    TP_WAIT_UNTIL_SET(gone,
                      !GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
                                          "xshm.dll", &now) ||
                          now != was,
                      10000);
    return gone;
}

typedef struct unload_ctx {
    dll_api_t api;
    shm_server_t *server;
    status_area_t *st;
} unload_ctx_t;

static unload_ctx_t g_unload;

/* A user's DllMain (at FreeLibrary of its DLL): destroy the server whose
 * listener runs, under the loader lock. */
static void unload_hook(void *arg, int process_exit)
{
    unload_ctx_t *x = (unload_ctx_t *)arg;
    if (process_exit)
        return;
    xa_store32_rel(&x->st->stage, ST_HOOK_ENTERED);
    x->api.destroy(x->server);
    xa_store32_rel(&x->st->stage, ST_HOOK_DONE);
}

static shm_server_t *create_listening(dll_api_t *a, const char *name, uint32_t *events)
{
    shm_ring_config_t cfg = SHM_DEFAULT_CONFIG();
    cfg.size = 64u * 1024u;
    shm_server_t *s = a->create(name, &cfg);
    if (s != NULL && a->reg(s, on_event, events) != SHM_SUCCESS) {
        a->destroy(s);
        s = NULL;
    }
    return s;
}

/* unload_in_dllmain <channel> <status>: xshm.dll loaded at run time, a
 * server with a callback, destroyed from winlife_hook.dll's DllMain at its
 * FreeLibrary; then xshm.dll is freed and must leave the process. */
static int helper_unload_in_dllmain(int argc, char **argv)
{
    plat_shm_t stshm;
    static uint32_t events;
    if (argc < 3)
        return 2;
    status_area_t *st = open_status(&stshm, argv[2]);
    if (st == NULL)
        return 3;
    if (!load_xshm_dll(&g_unload.api))
        return 4;
    HMODULE hook = load_beside_me("winlife_hook.dll");
    if (hook == NULL)
        return 5;
    winlife_set_hook_fn set_hook =
        (winlife_set_hook_fn)(void (*)(void))GetProcAddress(hook, "winlife_set_hook");
    if (set_hook == NULL)
        return 6;
    g_unload.st = st;
    g_unload.server = create_listening(&g_unload.api, argv[1], &events);
    if (g_unload.server == NULL)
        return 7;
    set_hook(unload_hook, &g_unload);
    FreeLibrary(hook); /* DllMain destroys the server, loader lock held */
    HMODULE was = g_unload.api.dll;
    FreeLibrary(was);
    if (!xshm_dll_unloaded(was))
        return 8;
    xa_store32_rel(&st->stage, ST_UNLOADED);
    return 42;
}

/* unload_listening <channel> <status>: xshm.dll freed while a listener runs
 * (the server never destroyed, as by a program that forgot to): the DLL
 * stays while the listener runs, and nothing crashes. */
static int helper_unload_listening(int argc, char **argv)
{
    plat_shm_t stshm;
    static uint32_t events;
    dll_api_t a;
    if (argc < 3)
        return 2;
    status_area_t *st = open_status(&stshm, argv[2]);
    if (st == NULL)
        return 3;
    if (!load_xshm_dll(&a))
        return 4;
    shm_server_t *s = create_listening(&a, argv[1], &events);
    if (s == NULL)
        return 5;
    HMODULE was = a.dll;
    FreeLibrary(was); /* the listener still runs: xshm.dll must stay */
    /* The listener polls every 100 ms: give it several turns in which an
     * unloaded DLL would crash the process. */
    uint64_t until = tp_now_ms() + 500;
    while (tp_now_ms() < until) {
        HMODULE now = NULL;
        if (!GetModuleHandleExA(GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, "xshm.dll",
                                &now) ||
            now != was)
            return 6; /* unloaded under the running listener */
        tp_sleep_ms(10);
    }
    /* No call into xshm.dll from here on: this program let go of it. */
    xa_store32_rel(&st->stage, ST_HOOK_DONE);
    ExitProcess(42);
}

static void test_freelibrary_destroy_in_dllmain(void **state)
{
    (void)state;
    run_bounded_helper("unload_in_dllmain", 42, ST_UNLOADED);
}

static void test_freelibrary_listener_running(void **state)
{
    (void)state;
    run_bounded_helper("unload_listening", 42, ST_HOOK_DONE);
}

static const tp_helper_t helpers[] = {{"idle", helper_idle},
                                      {"exit_blocked", helper_exit_blocked},
                                      {"unload_in_dllmain", helper_unload_in_dllmain},
                                      {"unload_listening", helper_unload_listening},
                                      {NULL, NULL}};

#else /* !_WIN32 */

static void skip_windows_only(const char *name)
{
    printf("[  SKIPPED ] %s: Windows only (sections, OpenProcess rights, DllMain, "
           "FreeLibrary)\n",
           name);
    skip();
}

#define WINDOWS_ONLY(fn) \
    static void fn(void **state) { (void)state; skip_windows_only(#fn); }
WINDOWS_ONLY(test_reserved_section_refused)
WINDOWS_ONLY(test_partly_committed_section_refused)
WINDOWS_ONLY(test_committed_section_opens)
WINDOWS_ONLY(test_alive_access_denied_checks_start_time)
WINDOWS_ONLY(test_alive_all_denied_is_alive)
WINDOWS_ONLY(test_destroy_at_process_exit_receive_blocked)
WINDOWS_ONLY(test_freelibrary_destroy_in_dllmain)
WINDOWS_ONLY(test_freelibrary_listener_running)

static const tp_helper_t helpers[] = {{NULL, NULL}};

#endif

int main(int argc, char **argv)
{
    int rc;
    if (tp_dispatch(argc, argv, helpers, &rc))
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reserved_section_refused),
        cmocka_unit_test(test_partly_committed_section_refused),
        cmocka_unit_test(test_committed_section_opens),
        cmocka_unit_test(test_alive_access_denied_checks_start_time),
        cmocka_unit_test(test_alive_all_denied_is_alive),
        cmocka_unit_test(test_destroy_at_process_exit_receive_blocked),
        cmocka_unit_test(test_freelibrary_destroy_in_dllmain),
        cmocka_unit_test(test_freelibrary_listener_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}

#endif /* WINLIFE_HOOK_DLL */
