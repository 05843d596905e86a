/*
 * shm_ipc_hooks.h - switches of the ipc layer (shm_ipc_server.c) for the
 * tests, not part of the public API (not exported from the shared library).
 */
#ifndef XSHM_IPC_HOOKS_H
#define XSHM_IPC_HOOKS_H

#include <stdbool.h>

#include "shm_ipc.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * With `on`, the server's listener acts only on a change of its clients
 * that it was woken for: a client's connect or disconnect must both count
 * itself in the segment (member_changes) and signal the server's wake-up
 * object, or the listener never raises its event. The periodic check (every
 * SHM_LISTENER_TICK_MS), which would deliver it a little later, finds
 * nothing, and crashed clients are not looked for by the listener. Lets a
 * test tell "at once" from "at the next periodic check" without measuring
 * time. Other calls (receive, send, get_stats) still look for clients.
 */
void xshm_server_test_wake_only(shm_server_t *server, bool on);

#ifdef __cplusplus
}
#endif

#endif
