/*
 * win32_port.h - what the files of the Windows port share (win32.c,
 * win32_security.c): the Windows headers, recording a failed OS call, and
 * the security every object of a channel is created with and checked for.
 */
#ifndef XSHM_WIN32_PORT_H
#define XSHM_WIN32_PORT_H

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0601
#endif

#include "platform.h"

#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#if defined(_MSC_VER)
#pragma comment(lib, "advapi32.lib")
#define PLAT_TLS __declspec(thread)
#else
#define PLAT_TLS _Thread_local
#endif

/* Record that OS call `fn` failed with code `e`; return the mapped code. */
static inline shm_error_t os_fail(const char *fn, DWORD e) { return xshm_plat_os_fail(fn, (int)e); }

/* Same, with GetLastError() of the call that just failed. */
static inline shm_error_t os_fail_last(const char *fn) { return os_fail(fn, GetLastError()); }

/*
 * Security attributes for every object this port creates: a protected DACL
 * (no inherited entries) granting GENERIC_ALL to the user (token_user), to
 * LocalSystem and to BUILTIN\Administrators, and to no one else, and the
 * user as owner (by default an elevated administrator's objects would be
 * owned by Administrators). Never a NULL DACL (which would let everyone
 * in). After xshm_plat_create_security(sddl): that DACL (and SACL) instead, the
 * user still the owner.
 */
typedef struct object_security {
    SECURITY_ATTRIBUTES sa;
    SECURITY_DESCRIPTOR sd;
    PACL acl;
    BYTE user[SECURITY_MAX_SID_SIZE];
    BYTE system[SECURITY_MAX_SID_SIZE];
    BYTE admins[SECURITY_MAX_SID_SIZE];
} object_security_t;

/*
 * An object name: 1..PLAT_NAME_MAX-1 characters, an optional "Local\" or
 * "Global\" namespace, then no further '\' and no '/'. INVALID_PARAM if not.
 */
shm_error_t xshm_win_check_name(const char *name);

/* ACCESS unless the owner of object h is the user of this thread's token
 * (or, with or_admin, SYSTEM or Administrators). */
shm_error_t xshm_win_check_owner_self(HANDLE h, bool or_admin);

/* A create that found the name taken (ERROR_ALREADY_EXISTS): close h;
 * EXISTS when the object is the user's own, ACCESS when anyone else's. */
shm_error_t xshm_win_existing_object(HANDLE h, const char *fn);

/* The security a new object of a channel is created with; free it with
 * xshm_win_security_free. */
shm_error_t xshm_win_security_init(object_security_t *s);
void xshm_win_security_free(object_security_t *s);

#endif /* XSHM_WIN32_PORT_H */
