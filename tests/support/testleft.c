/*
 * testleft.c - what a test leaves running when one of its asserts fails.
 */
#include "testleft.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "atomics.h"

/* How long the teardown waits for a thread, once its endpoint is gone. */
#define TL_THREAD_WAIT_MS 10000u

typedef struct tl_thread {
    plat_thread_t t;
    const uint32_t *done;
    bool used;
} tl_thread_t;

static shm_server_t *servers[TL_MAX];
static shm_client_t *clients[TL_MAX];
static tp_child_t children[TL_MAX];
static bool child_used[TL_MAX];
static tl_thread_t threads[TL_MAX];

static void put(void **list, void *p)
{
    if (!p)
        return;
    for (int i = 0; i < TL_MAX; i++) {
        if (!list[i]) {
            list[i] = p;
            return;
        }
    }
    fprintf(stderr, "testleft: more than %d endpoints, %p is not ended after a failure\n", TL_MAX,
            p);
}

/* Drop p from the list; true when it was there. */
static bool drop(void **list, void *p)
{
    for (int i = 0; p && i < TL_MAX; i++) {
        if (list[i] == p) {
            list[i] = NULL;
            return true;
        }
    }
    return false;
}

void tl_server(shm_server_t *s) { put((void **)servers, s); }
void tl_client(shm_client_t *c) { put((void **)clients, c); }

void tl_server_destroy(shm_server_t *s)
{
    drop((void **)servers, s);
    shm_server_destroy(s);
}

void tl_client_disconnect(shm_client_t *c)
{
    drop((void **)clients, c);
    shm_client_disconnect(c);
}

tp_child_t *tl_child(void)
{
    for (int i = 0; i < TL_MAX; i++) {
        if (!child_used[i]) {
            child_used[i] = true;
            memset(&children[i], 0, sizeof(children[i]));
            return &children[i];
        }
    }
    return NULL;
}

shm_error_t tl_thread_start(plat_thread_t **out, plat_thread_fn fn, void *arg,
                            const uint32_t *done)
{
    for (int i = 0; i < TL_MAX; i++) {
        tl_thread_t *t = &threads[i];
        if (t->used)
            continue;
        shm_error_t e = xshm_plat_thread_start(&t->t, fn, arg);
        if (e != SHM_SUCCESS)
            return e;
        t->done = done;
        t->used = true;
        if (out)
            *out = &t->t;
        return SHM_SUCCESS;
    }
    return SHM_ERROR_MEMORY;
}

void tl_join(plat_thread_t *pt)
{
    for (int i = 0; i < TL_MAX; i++) {
        if (threads[i].used && &threads[i].t == pt) {
            xshm_plat_thread_join(pt);
            threads[i].used = false;
            return;
        }
    }
}

int tl_teardown(void **state)
{
    (void)state;
    for (int i = 0; i < TL_MAX; i++) {
        if (servers[i]) {
            fprintf(stderr, "testleft: destroying a server the test left\n");
            shm_server_destroy(servers[i]);
            servers[i] = NULL;
        }
        if (clients[i]) {
            fprintf(stderr, "testleft: disconnecting a client the test left\n");
            shm_client_disconnect(clients[i]);
            clients[i] = NULL;
        }
    }
    for (int i = 0; i < TL_MAX; i++) {
        if (child_used[i] && children[i].running) {
            fprintf(stderr, "testleft: killing helper %u the test left\n", children[i].pid);
            tp_kill(&children[i]);
        }
        child_used[i] = false;
    }
    for (int i = 0; i < TL_MAX; i++) {
        tl_thread_t *t = &threads[i];
        if (!t->used)
            continue;
        bool done = false;
        TP_WAIT_UNTIL_SET(done, xa_load32_acq(t->done) != 0, TL_THREAD_WAIT_MS);
        if (done) {
            xshm_plat_thread_join(&t->t);
        } else {
            fprintf(stderr, "testleft: a thread the test started is still blocked after %u ms; "
                            "left running, detached\n", TL_THREAD_WAIT_MS);
            xshm_plat_thread_detach(&t->t);
        }
        t->used = false;
    }
    return 0;
}
