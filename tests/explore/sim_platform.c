/*
 * sim_platform.c - platform.h for the interleaving explorer: a simulated OS
 * whose every call is a step of the schedule.
 *
 * Processes are the explorer's actors (their pids, see explore.h); a killed
 * actor's process is gone: xshm_plat_proc_alive() says so, and what the OS
 * releases at a process's end (name locks; on the Windows model, handles
 * and with them names) is released. Named shared memory objects follow the
 * Linux port (a name lives until it is unlinked, an object of size 0 is not
 * found) or, with sim_windows_names, the Windows one (a name lives while a
 * handle to it is open, unlink does nothing). Time is the explorer's
 * virtual clock; waits block the actor until their word changes or their
 * timeout passes on that clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore.h"
#include "platform.h"
#include "sim_platform.h"

#define SIM_OBJECTS 32
#define SIM_HANDLES 128
#define SIM_LOCKS 16

typedef struct sim_obj {
    bool used;
    bool named;
    char name[PLAT_NAME_MAX];
    size_t size;   /* 0 until sized */
    void *raw;
    void *mem;     /* 64-byte aligned */
    int refs;      /* open handles */
} sim_obj_t;

typedef struct sim_handle {
    bool open;
    int obj;
    uint32_t pid;
} sim_handle_t;

typedef struct sim_lock {
    bool used;
    char name[PLAT_NAME_MAX];
    uint32_t holder; /* pid, 0: free */
} sim_lock_t;

static sim_obj_t objs[SIM_OBJECTS];
static sim_handle_t handles[SIM_HANDLES];
static sim_lock_t locks[SIM_LOCKS];
static uint32_t wake_generation;

bool sim_windows_names;
bool sim_remote_fence_registered;
bool sim_remote_fence_works = true;
unsigned sim_remote_fence_calls;

/* ---- bookkeeping --------------------------------------------------------------------- */

static void obj_free(sim_obj_t *o)
{
    free(o->raw);
    memset(o, 0, sizeof(*o));
}

static void handle_close(int h)
{
    sim_handle_t *hd = &handles[h];
    if (!hd->open)
        return;
    hd->open = false;
    sim_obj_t *o = &objs[hd->obj];
    if (--o->refs == 0 && sim_windows_names)
        o->named = false; /* a Windows name lives as long as a handle */
}

static void on_kill(uint32_t pid)
{
    for (int i = 0; i < SIM_LOCKS; i++)
        if (locks[i].used && locks[i].holder == pid)
            locks[i].holder = 0;
    if (sim_windows_names)
        for (int h = 0; h < SIM_HANDLES; h++)
            if (handles[h].open && handles[h].pid == pid)
                handle_close(h);
}

void sim_reset(void)
{
    for (int i = 0; i < SIM_OBJECTS; i++)
        if (objs[i].used)
            obj_free(&objs[i]);
    memset(handles, 0, sizeof(handles));
    memset(locks, 0, sizeof(locks));
    wake_generation = 0;
    sim_remote_fence_calls = 0;
    xe_on_kill = on_kill;
}

void sim_process_ended(uint32_t pid) { on_kill(pid); }

static int find_named(const char *name)
{
    for (int i = 0; i < SIM_OBJECTS; i++)
        if (objs[i].used && objs[i].named && strcmp(objs[i].name, name) == 0)
            return i;
    return -1;
}

static int new_handle(int obj)
{
    for (int h = 0; h < SIM_HANDLES; h++)
        if (!handles[h].open) {
            handles[h].open = true;
            handles[h].obj = obj;
            handles[h].pid = xe_self_pid();
            objs[obj].refs++;
            return h;
        }
    xe_fail("sim: out of handles");
    return -1;
}

static bool name_ok(const char *name)
{
    return name && name[0] && strlen(name) < PLAT_NAME_MAX && !strchr(name, '/');
}

/* ---- shared memory -------------------------------------------------------------------------- */

shm_error_t xshm_plat_shm_create(plat_shm_t *shm, const char *name, size_t size)
{
    memset(shm, 0, sizeof(*shm));
    if (!name_ok(name) || size == 0)
        return SHM_ERROR_INVALID_PARAM;
    xe_os_step("xshm_plat_shm_create: create the name");
    if (find_named(name) >= 0)
        return SHM_ERROR_EXISTS;
    int i;
    for (i = 0; i < SIM_OBJECTS && objs[i].used; i++)
        ;
    if (i == SIM_OBJECTS) {
        xe_fail("sim: out of objects");
        return SHM_ERROR_MEMORY;
    }
    sim_obj_t *o = &objs[i];
    o->used = true;
    o->named = true;
    snprintf(o->name, sizeof(o->name), "%s", name);
    int h = new_handle(i);
    if (!sim_windows_names)
        xe_os_step("xshm_plat_shm_create: size it"); /* Linux: shm_open, then ftruncate */
    o->raw = calloc(1, size + 64);
    if (!o->raw) {
        xe_fail("sim: out of memory");
        return SHM_ERROR_MEMORY;
    }
    o->mem = (void *)(((uintptr_t)o->raw + 63u) & ~(uintptr_t)63u);
    o->size = size;
    xe_shared(o->mem, size);
    shm->base = o->mem;
    shm->size = size;
    shm->fd = (intptr_t)h + 1;
    snprintf(shm->name, sizeof(shm->name), "%s", name);
    return SHM_SUCCESS;
}

shm_error_t xshm_plat_shm_open(plat_shm_t *shm, const char *name)
{
    memset(shm, 0, sizeof(*shm));
    if (!name_ok(name))
        return SHM_ERROR_INVALID_PARAM;
    xe_os_step("xshm_plat_shm_open");
    int i = find_named(name);
    if (i < 0 || objs[i].size == 0)
        return SHM_ERROR_NOT_FOUND;
    int h = new_handle(i);
    shm->base = objs[i].mem;
    shm->size = objs[i].size;
    shm->fd = (intptr_t)h + 1;
    snprintf(shm->name, sizeof(shm->name), "%s", name);
    return SHM_SUCCESS;
}

void xshm_plat_shm_drop_name(plat_shm_t *shm)
{
    if (!shm || !shm->base || shm->fd <= 0)
        return;
    if (sim_windows_names) { /* the handle goes, the mapping stays */
        handle_close((int)shm->fd - 1);
        shm->fd = 0;
    }
}

void xshm_plat_shm_close(plat_shm_t *shm)
{
    if (!shm || !shm->base)
        return;
    xe_os_step("xshm_plat_shm_close");
    if (shm->fd > 0 && shm->fd <= SIM_HANDLES)
        handle_close((int)shm->fd - 1);
    memset(shm, 0, sizeof(*shm));
}

shm_error_t xshm_plat_shm_unlink(const char *name)
{
    if (!name_ok(name))
        return SHM_ERROR_INVALID_PARAM;
    if (sim_windows_names)
        return SHM_SUCCESS;
    xe_os_step("xshm_plat_shm_unlink");
    int i = find_named(name);
    if (i < 0)
        return SHM_ERROR_NOT_FOUND;
    objs[i].named = false; /* the memory stays for whoever maps it */
    return SHM_SUCCESS;
}

/* The object named `name` (for checks), or NULL. */
void *sim_object(const char *name, size_t *size)
{
    int i = find_named(name);
    if (i < 0)
        return NULL;
    if (size)
        *size = objs[i].size;
    return objs[i].mem;
}

shm_error_t xshm_plat_create_security(const char *sddl)
{
    return sddl == NULL ? SHM_SUCCESS : SHM_ERROR_INVALID_PARAM;
}

/* ---- name locks ------------------------------------------------------------------------------ */
#if defined(PLAT_HAS_LOCK) /* (tests/explore/against.sh builds older code too) */

shm_error_t xshm_plat_lock_take(plat_lock_t *l, const char *name)
{
    memset(l, 0, sizeof(*l));
    if (!name_ok(name))
        return SHM_ERROR_INVALID_PARAM;
    xe_os_step("xshm_plat_lock_take");
    int free_slot = -1;
    for (int i = 0; i < SIM_LOCKS; i++) {
        if (locks[i].used && strcmp(locks[i].name, name) == 0) {
            if (locks[i].holder != 0)
                return SHM_ERROR_EXISTS;
            locks[i].holder = xe_self_pid();
            l->handle = i + 1;
            snprintf(l->name, sizeof(l->name), "%s", name);
            return SHM_SUCCESS;
        }
        if (!locks[i].used && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0) {
        xe_fail("sim: out of locks");
        return SHM_ERROR_SYSTEM;
    }
    locks[free_slot].used = true;
    snprintf(locks[free_slot].name, sizeof(locks[free_slot].name), "%s", name);
    locks[free_slot].holder = xe_self_pid();
    l->handle = free_slot + 1;
    snprintf(l->name, sizeof(l->name), "%s", name);
    return SHM_SUCCESS;
}

void xshm_plat_lock_release(plat_lock_t *l)
{
    if (!l || l->handle == 0)
        return;
    xe_os_step("xshm_plat_lock_release");
    locks[l->handle - 1].holder = 0;
    l->handle = 0;
}
#endif

/* ---- wake-up objects -------------------------------------------------------------------------- */

shm_error_t xshm_plat_wake_open(plat_wake_t *w, const char *name, bool create)
{
    (void)name;
    (void)create;
    w->handle = 1;
    return SHM_SUCCESS;
}

void xshm_plat_wake_close(plat_wake_t *w)
{
    if (w)
        w->handle = 0;
}

typedef struct wait_arg {
    const volatile uint32_t *word;
    uint32_t expected;
    uint32_t generation;
} wait_arg_t;

static bool woken(void *p)
{
    wait_arg_t *a = (wait_arg_t *)p;
    return *a->word != a->expected || wake_generation != a->generation;
}

shm_error_t xshm_plat_wake_wait(plat_wake_t *w, uint32_t *word, uint32_t expected, uint32_t timeout_ms)
{
    (void)w;
    xe_os_step("xshm_plat_wake_wait");
    wait_arg_t a = {word, expected, wake_generation};
    if (*a.word != expected)
        return SHM_SUCCESS;
    /* A wait of an hour or more counts as waiting forever: a scenario spans
     * seconds, and a wake-up lost then shows as an actor that waits forever. */
    uint64_t deadline = timeout_ms >= SIM_FOREVER_MS ? UINT64_MAX
                                                     : xe_now() + (uint64_t)timeout_ms * 1000000u;
    return xe_block(woken, &a, deadline) ? SHM_SUCCESS : SHM_ERROR_TIMEOUT;
}

void xshm_plat_wake_signal(plat_wake_t *w, uint32_t *word)
{
    (void)w;
    (void)word;
    xe_os_step("xshm_plat_wake_signal");
    wake_generation++;
}

/* ---- threads and locks ------------------------------------------------------------------------ */

shm_error_t xshm_plat_thread_start(plat_thread_t *t, plat_thread_fn fn, void *arg)
{
    (void)fn;
    (void)arg;
    memset(t, 0, sizeof(*t));
    return SHM_ERROR_SYSTEM; /* scenarios run no listener threads */
}

void xshm_plat_thread_join(plat_thread_t *t) { (void)t; }
void xshm_plat_thread_detach(plat_thread_t *t) { (void)t; }
bool xshm_plat_thread_is_current(const plat_thread_t *t) { return t && t->id != 0 && t->id == xshm_plat_thread_self(); }

uint64_t xshm_plat_thread_self(void) { return (uint64_t)(xe_self() + 2); }

typedef struct sim_mutex {
    int owner; /* actor + 2, 0: free */
} sim_mutex_t;

static bool mutex_free(void *p) { return ((sim_mutex_t *)p)->owner == 0; }

void xshm_plat_mutex_init(plat_mutex_t *m) { memset(m, 0, sizeof(*m)); }
void xshm_plat_mutex_destroy(plat_mutex_t *m) { (void)m; }

void xshm_plat_mutex_lock(plat_mutex_t *m)
{
    sim_mutex_t *x = (sim_mutex_t *)(void *)m->u.bytes;
    xe_os_step("xshm_plat_mutex_lock");
    if (x->owner != 0 && !xe_block(mutex_free, x, UINT64_MAX))
        return;
    x->owner = xe_self() + 2;
}

void xshm_plat_mutex_unlock(plat_mutex_t *m)
{
    sim_mutex_t *x = (sim_mutex_t *)(void *)m->u.bytes;
    xe_os_step("xshm_plat_mutex_unlock");
    x->owner = 0;
}

/* ---- fences, processes, time -------------------------------------------------------------------- */

bool xshm_plat_remote_fence_register(void) { return sim_remote_fence_registered; }

bool xshm_plat_remote_fence(void)
{
    xe_os_step("xshm_plat_remote_fence");
    sim_remote_fence_calls++;
    if (sim_remote_fence_works)
        xe_drain_every_actor(); /* a full fence on every CPU */
    return sim_remote_fence_works;
}

bool xshm_plat_local_fence_register(void) { return false; }
bool xshm_plat_local_fence(void) { return false; }

void xshm_plat_proc_self(plat_proc_id_t *id)
{
    id->pid = xe_self_pid();
    id->start_time = xe_start_time(id->pid);
}

bool xshm_plat_proc_alive(const plat_proc_id_t *id)
{
    if (!id || id->pid == 0)
        return false;
    xe_os_step("xshm_plat_proc_alive");
    return xe_pid_alive(id->pid) &&
           (id->start_time == 0 || id->start_time == xe_start_time(id->pid));
}

uint64_t xshm_plat_now_ns(void) { return xe_now(); }

void xshm_plat_sleep_ms(uint32_t ms)
{
    if (ms == 0) {
        xe_yield_hint("xshm_plat_sleep_ms(0)");
        return;
    }
    xe_block(NULL, NULL, xe_now() + (uint64_t)ms * 1000000u);
}

const char *xshm_plat_last_os_error(int *code)
{
    if (code)
        *code = 0;
    return "";
}

bool xshm_plat_process_exiting(void) { return false; }
