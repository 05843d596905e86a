/*
 * sim_platform.h - controls of the simulated platform (sim_platform.c).
 */
#ifndef XSHM_SIM_PLATFORM_H
#define XSHM_SIM_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* xshm_plat_wake_wait() timeouts this long or longer never expire. */
#define SIM_FOREVER_MS 3600000u

/* Forget every object, handle and lock (call from a scenario's setup). */
void sim_reset(void);

/* Process pid ended (for a process that is not an actor, as a setup's
 * dead server): what the OS releases is released. */
void sim_process_ended(uint32_t pid);

/* The memory of the object named `name` and its size, or NULL. */
void *sim_object(const char *name, size_t *size);

/* Names live while a handle is open, and unlink does nothing (Windows);
 * false: names live until unlinked (Linux). */
extern bool sim_windows_names;

/* xshm_plat_remote_fence_register() answer, xshm_plat_remote_fence() result, and how
 * often it was called. */
extern bool sim_remote_fence_registered;
extern bool sim_remote_fence_works;
extern unsigned sim_remote_fence_calls;

#endif /* XSHM_SIM_PLATFORM_H */
