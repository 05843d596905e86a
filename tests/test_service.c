/*
 * test_service.c - shm_server_create_with_security: a channel whose objects
 * carry the caller's security descriptor, so that a service and the desktop
 * programs of a session can share it (docs/security.md).
 *
 * Windows (Wine): the DACL read back from the section, the lock event and
 * both wake-up events is the SDDL's, the owner is the creating user; a
 * client of the same user opens the objects with only the rights a DACL
 * for clients grants; an SDDL that does not parse creates nothing; NULL is
 * shm_server_create, also right after a call with an SDDL on the thread.
 * Linux: channels are owner-only, any SDDL is refused.
 * Not testable here: a second user or Terminal Services session (Wine has
 * one user), SeCreateGlobalPrivilege, integrity levels, AppContainers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "shm_common.h"
#include "shm_ipc.h"
#include "shm_ringbuffer.h"
#include "testchan.h"
#include "testproc.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#ifndef EVENT_QUERY_STATE
#define EVENT_QUERY_STATE 0x0001 /* winnt.h of the DDK only */
#endif
#endif

/* Services' own and Interactive Users' read/write (docs/security.md). */
#define SERVICE_SDDL "D:P(A;;GA;;;SY)(A;;GA;;;BA)(A;;GRGW;;;IU)"

#define skip_because(why)                                                                          \
    do {                                                                                           \
        print_message("skipped: %s\n", why);                                                       \
        skip();                                                                                    \
    } while (0)

static shm_ring_config_t small(void) { return tc_config(4096, 1, true, 5000); }

/* Messages both ways between s and c. */
static void both_ways(shm_server_t *s, shm_client_t *c)
{
    char buf[32];
    uint32_t sz = sizeof buf;
    assert_int_equal(shm_server_send(s, "to client", 10), SHM_SUCCESS);
    assert_int_equal(shm_client_receive(c, buf, &sz), SHM_SUCCESS);
    assert_int_equal(sz, 10);
    assert_string_equal(buf, "to client");
    assert_int_equal(shm_client_send(c, "to server", 10), SHM_SUCCESS);
    sz = sizeof buf;
    assert_int_equal(shm_server_receive(s, buf, &sz), SHM_SUCCESS);
    assert_int_equal(sz, 10);
    assert_string_equal(buf, "to server");
}

#ifdef _WIN32

/* The OS names of the channel's objects: section, lock event, the server's
 * and client 0's wake-up events. */
typedef struct os_names {
    char seg[PLAT_NAME_MAX], lock[PLAT_NAME_MAX], swake[PLAT_NAME_MAX], cwake[PLAT_NAME_MAX];
} os_names_t;

static void channel_os_names(const char *name, os_names_t *n)
{
    assert_int_equal(xshm_channel_os_name(name, n->seg, sizeof n->seg, NULL), SHM_SUCCESS);
    snprintf(n->lock, sizeof n->lock, "%s@lock", n->seg);
    xshm_segment_t seg;
    memset(&seg, 0, sizeof seg);
    assert_int_equal(xshm_segment_open(&seg, n->seg), SHM_SUCCESS);
    uint64_t gen = seg.generation;
    xshm_segment_close(&seg);
    snprintf(n->swake, sizeof n->swake, "%s@%08x%08x.s0", n->seg, (unsigned)(gen >> 32),
             (unsigned)gen);
    snprintf(n->cwake, sizeof n->cwake, "%s@%08x%08x.c0", n->seg, (unsigned)(gen >> 32),
             (unsigned)gen);
}

static const GENERIC_MAPPING section_map = {
    STANDARD_RIGHTS_READ | SECTION_QUERY | SECTION_MAP_READ,
    STANDARD_RIGHTS_WRITE | SECTION_MAP_WRITE,
    STANDARD_RIGHTS_EXECUTE | SECTION_MAP_EXECUTE,
    SECTION_ALL_ACCESS,
};
static const GENERIC_MAPPING event_map = {
    STANDARD_RIGHTS_READ | EVENT_QUERY_STATE,
    STANDARD_RIGHTS_WRITE | EVENT_MODIFY_STATE,
    STANDARD_RIGHTS_EXECUTE | SYNCHRONIZE,
    EVENT_ALL_ACCESS,
};

/* The calling process's user SID, as a string (LocalFree it). */
static char *user_sid_string(PSID *sid_out, BYTE *buf, DWORD bufsize)
{
    HANDLE token = NULL;
    DWORD len = 0;
    assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token));
    assert_true(GetTokenInformation(token, TokenUser, buf, bufsize, &len));
    CloseHandle(token);
    PSID sid = ((TOKEN_USER *)buf)->User.Sid;
    char *s = NULL;
    assert_true(ConvertSidToStringSidA(sid, &s));
    if (sid_out)
        *sid_out = sid;
    return s;
}

/*
 * The security of object h (opened with READ_CONTROL) is that of `sddl`:
 * the same ACEs in the same order (types, SIDs, and rights once generic
 * rights are mapped with `map`), the DACL's protection, and the creating
 * user as owner.
 */
static void assert_security(HANDLE h, const char *what, const char *sddl,
                            const GENERIC_MAPPING *map)
{
    PSECURITY_DESCRIPTOR want_sd = NULL, got_sd = NULL;
    PACL want = NULL, got = NULL;
    PSID owner = NULL;
    BOOL present = FALSE, defaulted = FALSE;
    assert_true(ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl, SDDL_REVISION_1,
                                                                     &want_sd, NULL));
    assert_true(GetSecurityDescriptorDacl(want_sd, &present, &want, &defaulted));
    assert_true(present && want != NULL);
    DWORD e =
        GetSecurityInfo(h, SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION | OWNER_SECURITY_INFORMATION,
                        &owner, NULL, &got, NULL, &got_sd);
    assert_int_equal(e, ERROR_SUCCESS);
    char *text = NULL;
    if (ConvertSecurityDescriptorToStringSecurityDescriptorA(
            got_sd, SDDL_REVISION_1, DACL_SECURITY_INFORMATION | OWNER_SECURITY_INFORMATION, &text,
            NULL))
        print_message("%s: %s\n", what, text);
    if (text)
        LocalFree(text);
    if (got == NULL)
        fail_msg("%s: no DACL (everyone may open it)", what);
    if (got->AceCount != want->AceCount)
        fail_msg("%s: %u ACEs, the SDDL has %u", what, (unsigned)got->AceCount,
                 (unsigned)want->AceCount);
    for (WORD i = 0; i < want->AceCount; i++) {
        ACCESS_ALLOWED_ACE *a = NULL, *b = NULL;
        assert_true(GetAce(want, i, (LPVOID *)&a));
        assert_true(GetAce(got, i, (LPVOID *)&b));
        ACCESS_MASK ma = a->Mask, mb = b->Mask;
        MapGenericMask(&ma, (PGENERIC_MAPPING)map);
        MapGenericMask(&mb, (PGENERIC_MAPPING)map);
        if (a->Header.AceType != b->Header.AceType || ma != mb ||
            !EqualSid((PSID)&a->SidStart, (PSID)&b->SidStart))
            fail_msg("%s: ACE %u (type %u, rights 0x%lx) differs from the SDDL's (type %u, "
                     "rights 0x%lx) or names another SID",
                     what, (unsigned)i, (unsigned)b->Header.AceType, (unsigned long)mb,
                     (unsigned)a->Header.AceType, (unsigned long)ma);
    }
    SECURITY_DESCRIPTOR_CONTROL cw = 0, cg = 0;
    DWORD rev = 0;
    assert_true(GetSecurityDescriptorControl(want_sd, &cw, &rev));
    assert_true(GetSecurityDescriptorControl(got_sd, &cg, &rev));
    if ((cw & SE_DACL_PROTECTED) != (cg & SE_DACL_PROTECTED))
        fail_msg("%s: DACL protection 0x%x, the SDDL's 0x%x", what,
                 (unsigned)(cg & SE_DACL_PROTECTED), (unsigned)(cw & SE_DACL_PROTECTED));
    BYTE buf[256];
    PSID user = NULL;
    char *us = user_sid_string(&user, buf, sizeof buf);
    LocalFree(us);
    if (owner == NULL || !EqualSid(owner, user))
        fail_msg("%s: the owner is not the creating user", what);
    LocalFree(got_sd);
    LocalFree(want_sd);
}

static void assert_objects_security(const char *name, const char *sddl)
{
    os_names_t n;
    channel_os_names(name, &n);
    HANDLE h = OpenFileMappingA(READ_CONTROL, FALSE, n.seg);
    assert_non_null(h);
    assert_security(h, "section", sddl, &section_map);
    CloseHandle(h);
    const char *ev[3] = {n.lock, n.swake, n.cwake};
    const char *what[3] = {"lock event", "server wake event", "client wake event"};
    for (int i = 0; i < 3; i++) {
        h = OpenEventA(READ_CONTROL, FALSE, ev[i]);
        if (h == NULL)
            fail_msg("OpenEventA(%s) failed: %lu", ev[i], (unsigned long)GetLastError());
        assert_security(h, what[i], sddl, &event_map);
        CloseHandle(h);
    }
}

/* The DACL shm_server_create gives, for this user. */
static char *default_sddl(void)
{
    BYTE buf[256];
    char *us = user_sid_string(NULL, buf, sizeof buf);
    char *s = (char *)malloc(256);
    assert_non_null(s);
    snprintf(s, 256, "D:P(A;;GA;;;%s)(A;;GA;;;SY)(A;;GA;;;BA)", us);
    LocalFree(us);
    return s;
}
#endif

/* Every object of the channel carries the SDDL's DACL; the owner is the
 * creating user. */
static void test_sddl_is_every_objects_dacl(void **state)
{
    (void)state;
#ifndef _WIN32
    skip_because("SDDL is Windows only (Linux channels are owner-only)");
#else
    char name[64];
    tp_unique_name(name, sizeof name, "svc-dacl");
    shm_ring_config_t cfg = small();
    shm_server_t *s = shm_server_create_with_security(name, &cfg, SERVICE_SDDL);
    if (s == NULL)
        fail_msg("shm_server_create_with_security: %s", shm_strerror(shm_last_error()));
    assert_objects_security(name, SERVICE_SDDL);
    shm_server_destroy(s);
#endif
}

/* A client opens the objects with only the rights a DACL for clients
 * grants ("GRGWGX", docs/security.md): here the user's only ACE, so an open
 * asking for more is refused. Messages go both ways. */
static void test_client_needs_only_client_rights(void **state)
{
    (void)state;
#ifndef _WIN32
    skip_because("SDDL is Windows only (Linux channels are owner-only)");
#else
    char name[64], sddl[256];
    BYTE buf[256];
    char *us = user_sid_string(NULL, buf, sizeof buf);
    snprintf(sddl, sizeof sddl, "D:P(A;;GA;;;SY)(A;;GRGWGX;;;%s)", us);
    LocalFree(us);
    tp_unique_name(name, sizeof name, "svc-client");
    shm_ring_config_t cfg = small();
    shm_server_t *s = shm_server_create_with_security(name, &cfg, sddl);
    if (s == NULL)
        fail_msg("shm_server_create_with_security: %s", shm_strerror(shm_last_error()));
    assert_objects_security(name, sddl);
    shm_client_t *c = shm_client_connect(name);
    if (c == NULL)
        fail_msg("shm_client_connect: %s", shm_strerror(shm_last_error()));
    both_ways(s, c);
    shm_client_disconnect(c);
    shm_server_destroy(s);
#endif
}

/* An SDDL that does not parse, or has no DACL: SHM_ERROR_INVALID_PARAM,
 * and nothing exists under the name afterwards. */
static void test_bad_sddl_creates_nothing(void **state)
{
    (void)state;
#ifndef _WIN32
    skip_because("SDDL is Windows only (Linux refuses any: test_posix_sddl_refused)");
#else
    const char *bad[] = {"not an sddl", "D:P(A;;GA;;;NOSUCHSID)", "O:SY" /* no DACL */};
    char name[64];
    tp_unique_name(name, sizeof name, "svc-bad");
    shm_ring_config_t cfg = small();
    char seg[PLAT_NAME_MAX], lock[PLAT_NAME_MAX];
    assert_int_equal(xshm_channel_os_name(name, seg, sizeof seg, NULL), SHM_SUCCESS);
    snprintf(lock, sizeof lock, "%s@lock", seg);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        shm_server_t *s = shm_server_create_with_security(name, &cfg, bad[i]);
        if (s != NULL) {
            shm_server_destroy(s);
            fail_msg("\"%s\" was accepted", bad[i]);
        }
        assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
        HANDLE h = OpenFileMappingA(FILE_MAP_READ, FALSE, seg);
        if (h != NULL) {
            CloseHandle(h);
            fail_msg("\"%s\": a section exists under the name", bad[i]);
        }
        h = OpenEventA(SYNCHRONIZE, FALSE, lock);
        if (h != NULL) {
            CloseHandle(h);
            fail_msg("\"%s\": a lock event exists under the name", bad[i]);
        }
    }
    /* The name is free, and the failed call left no setting behind. */
    shm_server_t *s = shm_server_create(name, &cfg);
    assert_non_null(s);
    char *def = default_sddl();
    assert_objects_security(name, def);
    free(def);
    shm_server_destroy(s);
#endif
}

/* NULL is shm_server_create: the default DACL, a working channel; and a
 * call with an SDDL does not change what the thread's next server gets. */
static void test_null_sddl_is_server_create(void **state)
{
    (void)state;
    char name[64], other[64];
    tp_unique_name(name, sizeof name, "svc-null");
    tp_unique_name(other, sizeof other, "svc-first");
    shm_ring_config_t cfg = small();
#ifdef _WIN32
    shm_server_t *first = shm_server_create_with_security(other, &cfg, SERVICE_SDDL);
    assert_non_null(first);
#endif
    shm_server_t *s = shm_server_create_with_security(name, &cfg, NULL);
    if (s == NULL)
        fail_msg("shm_server_create_with_security(NULL): %s", shm_strerror(shm_last_error()));
    assert_int_equal(shm_last_error(), SHM_SUCCESS);
#ifdef _WIN32
    char *def = default_sddl();
    assert_objects_security(name, def);
    free(def);
    shm_server_destroy(first);
#endif
    /* Exactly shm_server_create: a second server of the name is EXISTS. */
    assert_null(shm_server_create_with_security(name, &cfg, NULL));
    assert_int_equal(shm_last_error(), SHM_ERROR_EXISTS);
    shm_client_t *c = shm_client_connect(name);
    if (c == NULL)
        fail_msg("shm_client_connect: %s", shm_strerror(shm_last_error()));
    both_ways(s, c);
    shm_client_disconnect(c);
    shm_server_destroy(s);
}

/* Linux/POSIX: channels are owner-only, any SDDL is SHM_ERROR_INVALID_PARAM
 * and creates nothing. */
static void test_posix_sddl_refused(void **state)
{
    (void)state;
#ifdef _WIN32
    skip_because("POSIX only (Windows applies the SDDL: the tests above)");
#else
    char name[64];
    tp_unique_name(name, sizeof name, "svc-posix");
    shm_ring_config_t cfg = small();
    shm_server_t *s = shm_server_create_with_security(name, &cfg, SERVICE_SDDL);
    if (s != NULL) {
        shm_server_destroy(s);
        fail_msg("an SDDL was accepted on POSIX");
    }
    assert_int_equal(shm_last_error(), SHM_ERROR_INVALID_PARAM);
    /* Nothing under the name: a client finds no channel. */
    assert_null(shm_client_connect(name));
    assert_int_equal(shm_last_error(), SHM_ERROR_NOT_FOUND);
#endif
}

static int cleanup(void **state)
{
    (void)state;
    tp_cleanup_names();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sddl_is_every_objects_dacl),
        cmocka_unit_test(test_client_needs_only_client_rights),
        cmocka_unit_test(test_bad_sddl_creates_nothing),
        cmocka_unit_test(test_null_sddl_is_server_create),
        cmocka_unit_test(test_posix_sddl_refused),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
