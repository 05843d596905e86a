/*
 * win32_security.c - the Windows port's names and security: which object
 * names are valid, the user objects are made for (the thread's token while
 * it impersonates), the owner check every open makes, and the security
 * descriptor every object is created with (ours, or the DACL of the SDDL
 * given to xshm_plat_create_security).
 */
#include "win32_port.h"

#include <stdlib.h>
#include <string.h>

/*
 * An object name: 1..PLAT_NAME_MAX-1 characters, an optional "Local\" or
 * "Global\" namespace, then no further '\' (that would name another
 * namespace or directory) and no '/'.
 */
shm_error_t xshm_win_check_name(const char *name)
{
    if (name == NULL)
        return SHM_ERROR_INVALID_PARAM;
    size_t len = strlen(name);
    if (len == 0 || len >= PLAT_NAME_MAX)
        return SHM_ERROR_INVALID_PARAM;
    const char *rest = name;
    if (strncmp(rest, "Local\\", 6) == 0)
        rest += 6;
    else if (strncmp(rest, "Global\\", 7) == 0)
        rest += 7;
    if (*rest == '\0' || strchr(rest, '\\') || strchr(rest, '/'))
        return SHM_ERROR_INVALID_PARAM;
    return SHM_SUCCESS;
}

/*
 * The user the objects are made for and checked against: the thread's
 * token while the thread impersonates (a service acting for a client gets
 * objects of the client, and its process token may not even be open to the
 * client's identity), else the process's.
 */
static shm_error_t token_user(BYTE sid[SECURITY_MAX_SID_SIZE])
{
    HANDLE token = NULL;
    TOKEN_USER *tu = NULL;
    DWORD len = 0;
    shm_error_t err;

    /* OpenAsSelf: the token is opened as the process, which may open its
     * threads' tokens whoever they impersonate. */
    if (!OpenThreadToken(GetCurrentThread(), TOKEN_QUERY, TRUE, &token)) {
        if (GetLastError() != ERROR_NO_TOKEN)
            return os_fail_last("OpenThreadToken");
        if (!OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &token))
            return os_fail_last("OpenProcessToken");
    }
    if (!GetTokenInformation(token, TokenUser, NULL, 0, &len) &&
        GetLastError() != ERROR_INSUFFICIENT_BUFFER) {
        err = os_fail_last("GetTokenInformation");
        CloseHandle(token);
        return err;
    }
    tu = (TOKEN_USER *)malloc(len);
    if (tu == NULL) {
        CloseHandle(token);
        return os_fail("malloc", ERROR_NOT_ENOUGH_MEMORY);
    }
    if (!GetTokenInformation(token, TokenUser, tu, len, &len)) {
        err = os_fail_last("GetTokenInformation");
        free(tu);
        CloseHandle(token);
        return err;
    }
    CloseHandle(token);
    err = SHM_SUCCESS;
    if (!CopySid(SECURITY_MAX_SID_SIZE, sid, tu->User.Sid))
        err = os_fail_last("CopySid");
    free(tu);
    return err;
}

/*
 * Who owns the object h (opened with READ_CONTROL): SHM_SUCCESS when it is
 * `user`; with `or_admin`, SYSTEM and Administrators count too (they can
 * reach into any process anyway, and the DACLs of this port admit them).
 * SHM_ERROR_ACCESS for anyone else and for an object without an owner
 * (another user's object, or one made with no security at all: someone
 * took the name first).
 */
static shm_error_t check_owner(HANDLE h, const BYTE *user, bool or_admin)
{
    PSID owner = NULL;
    PSECURITY_DESCRIPTOR sd = NULL;
    DWORD e = GetSecurityInfo(h, SE_KERNEL_OBJECT, OWNER_SECURITY_INFORMATION, &owner, NULL,
                              NULL, NULL, &sd);
    if (e != ERROR_SUCCESS)
        return os_fail("GetSecurityInfo", e);
    bool ok = owner != NULL && IsValidSid(owner) &&
              (EqualSid(owner, (PSID)user) ||
               (or_admin && (IsWellKnownSid(owner, WinLocalSystemSid) ||
                             IsWellKnownSid(owner, WinBuiltinAdministratorsSid))));
    LocalFree(sd);
    return ok ? SHM_SUCCESS : os_fail("GetSecurityInfo (owner)", ERROR_ACCESS_DENIED);
}

/* Check the owner of h against the user of the calling thread. */
shm_error_t xshm_win_check_owner_self(HANDLE h, bool or_admin)
{
    BYTE user[SECURITY_MAX_SID_SIZE];
    shm_error_t err = token_user(user);
    return err != SHM_SUCCESS ? err : check_owner(h, user, or_admin);
}

/*
 * An object we tried to create exists already (h: the handle the create
 * call returned to it, closed here). Ours: SHM_ERROR_EXISTS; anyone else's
 * (squatted by another user, or made without security): SHM_ERROR_ACCESS.
 */
shm_error_t xshm_win_existing_object(HANDLE h, const char *fn)
{
    shm_error_t err = xshm_win_check_owner_self(h, false);
    CloseHandle(h);
    if (err == SHM_SUCCESS)
        err = os_fail(fn, ERROR_ALREADY_EXISTS);
    return err;
}

void xshm_win_security_free(object_security_t *s)
{
    free(s->acl);
    s->acl = NULL;
}

/* The descriptor xshm_plat_create_security parsed for this thread's objects
 * (LocalAlloc'ed), NULL for the default DACL. */
static PLAT_TLS PSECURITY_DESCRIPTOR g_create_sd;

shm_error_t xshm_plat_create_security(const char *sddl)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    if (sddl != NULL) {
        if (!ConvertStringSecurityDescriptorToSecurityDescriptorA(sddl, SDDL_REVISION_1, &sd,
                                                                  NULL)) {
            DWORD e = GetLastError();
            (void)os_fail("ConvertStringSecurityDescriptorToSecurityDescriptorA", e);
            return e == ERROR_NOT_ENOUGH_MEMORY ? SHM_ERROR_MEMORY : SHM_ERROR_INVALID_PARAM;
        }
        /* Never a missing or NULL DACL: that would let everyone in. */
        BOOL present = FALSE, defaulted = FALSE;
        PACL dacl = NULL;
        bool has_dacl =
            GetSecurityDescriptorDacl(sd, &present, &dacl, &defaulted) && present && dacl != NULL;
        if (!has_dacl) {
            (void)os_fail("GetSecurityDescriptorDacl (no DACL)", ERROR_INVALID_SECURITY_DESCR);
            LocalFree(sd);
            return SHM_ERROR_INVALID_PARAM;
        }
    }
    if (g_create_sd != NULL)
        LocalFree(g_create_sd);
    g_create_sd = sd;
    return SHM_SUCCESS;
}

/* s->sd from g_create_sd: its DACL, SACL and their protection, with the
 * user (already in s->user) as owner. The ACLs stay g_create_sd's. */
static shm_error_t security_from_sddl(object_security_t *s)
{
    PSECURITY_DESCRIPTOR src = g_create_sd;
    BOOL present = FALSE, defaulted = FALSE;
    PACL dacl = NULL, sacl = NULL;
    SECURITY_DESCRIPTOR_CONTROL ctl = 0;
    DWORD rev = 0;

    if (!InitializeSecurityDescriptor(&s->sd, SECURITY_DESCRIPTOR_REVISION))
        return os_fail_last("InitializeSecurityDescriptor");
    if (!SetSecurityDescriptorOwner(&s->sd, (PSID)s->user, FALSE))
        return os_fail_last("SetSecurityDescriptorOwner");
    if (!GetSecurityDescriptorControl(src, &ctl, &rev))
        return os_fail_last("GetSecurityDescriptorControl");
    if (!GetSecurityDescriptorDacl(src, &present, &dacl, &defaulted))
        return os_fail_last("GetSecurityDescriptorDacl");
    if (!SetSecurityDescriptorDacl(&s->sd, present, dacl, FALSE))
        return os_fail_last("SetSecurityDescriptorDacl");
    if (!GetSecurityDescriptorSacl(src, &present, &sacl, &defaulted))
        return os_fail_last("GetSecurityDescriptorSacl");
    if (present && !SetSecurityDescriptorSacl(&s->sd, TRUE, sacl, FALSE))
        return os_fail_last("SetSecurityDescriptorSacl");
    SECURITY_DESCRIPTOR_CONTROL prot = ctl & (SE_DACL_PROTECTED | SE_SACL_PROTECTED);
    if (prot != 0 && !SetSecurityDescriptorControl(&s->sd, prot, prot))
        return os_fail_last("SetSecurityDescriptorControl");
    s->sa.nLength = sizeof s->sa;
    s->sa.lpSecurityDescriptor = &s->sd;
    s->sa.bInheritHandle = FALSE;
    return SHM_SUCCESS;
}

shm_error_t xshm_win_security_init(object_security_t *s)
{
    shm_error_t err;

    memset(s, 0, sizeof *s);
    if ((err = token_user(s->user)) != SHM_SUCCESS)
        return err;
    if (g_create_sd != NULL) /* xshm_plat_create_security's, instead of ours */
        return security_from_sddl(s);

    DWORD n = sizeof s->system;
    if (!CreateWellKnownSid(WinLocalSystemSid, NULL, s->system, &n))
        return os_fail_last("CreateWellKnownSid");
    n = sizeof s->admins;
    if (!CreateWellKnownSid(WinBuiltinAdministratorsSid, NULL, s->admins, &n))
        return os_fail_last("CreateWellKnownSid");

    PSID sids[3];
    sids[0] = (PSID)s->user;
    sids[1] = (PSID)s->system;
    sids[2] = (PSID)s->admins;
    DWORD acl_size = sizeof(ACL);
    for (int i = 0; i < 3; i++)
        acl_size += (DWORD)(sizeof(ACCESS_ALLOWED_ACE) - sizeof(DWORD)) + GetLengthSid(sids[i]);
    acl_size = (acl_size + 3u) & ~3u; /* DWORD-aligned */
    s->acl = (PACL)malloc(acl_size);
    if (s->acl == NULL)
        return os_fail("malloc", ERROR_NOT_ENOUGH_MEMORY);
    if (!InitializeAcl(s->acl, acl_size, ACL_REVISION)) {
        err = os_fail_last("InitializeAcl");
        goto fail;
    }
    for (int i = 0; i < 3; i++) {
        if (!AddAccessAllowedAce(s->acl, ACL_REVISION, GENERIC_ALL, sids[i])) {
            err = os_fail_last("AddAccessAllowedAce");
            goto fail;
        }
    }
    if (!InitializeSecurityDescriptor(&s->sd, SECURITY_DESCRIPTOR_REVISION)) {
        err = os_fail_last("InitializeSecurityDescriptor");
        goto fail;
    }
    if (!SetSecurityDescriptorOwner(&s->sd, (PSID)s->user, FALSE)) {
        err = os_fail_last("SetSecurityDescriptorOwner");
        goto fail;
    }
    if (!SetSecurityDescriptorDacl(&s->sd, TRUE, s->acl, FALSE)) {
        err = os_fail_last("SetSecurityDescriptorDacl");
        goto fail;
    }
    if (!SetSecurityDescriptorControl(&s->sd, SE_DACL_PROTECTED, SE_DACL_PROTECTED)) {
        err = os_fail_last("SetSecurityDescriptorControl");
        goto fail;
    }
    s->sa.nLength = sizeof s->sa;
    s->sa.lpSecurityDescriptor = &s->sd;
    s->sa.bInheritHandle = FALSE;
    return SHM_SUCCESS;

fail:
    xshm_win_security_free(s);
    return err;
}

