/*
 * testblocked.c - a receive blocked in another thread.
 */
#include "testblocked.h"

#include <string.h>

#include "atomics.h"
#include "testleft.h"

void tb_init(tb_receive_t *b, shm_server_t *s, shm_client_t *c)
{
    memset(b, 0, sizeof(*b));
    b->s = s;
    b->c = s ? NULL : c;
}

void tb_receive(void *arg)
{
    tb_receive_t *b = (tb_receive_t *)arg;
    b->size = sizeof(b->buf) - 1;
    xa_store32_rel(&b->started, 1);
    if (b->s)
        b->result = shm_server_receive(b->s, b->buf, &b->size);
    else
        b->result = shm_client_receive(b->c, b->buf, &b->size);
    b->end_ns = xshm_plat_now_ns();
    if (b->result == SHM_SUCCESS && b->size < sizeof(b->buf))
        b->buf[b->size] = '\0';
    xa_store32_rel(&b->done, 1);
}

shm_error_t tb_start(plat_thread_t **t, tb_receive_t *b)
{
    return tl_thread_start(t, tb_receive, b, &b->done);
}

bool tb_done(tb_receive_t *b) { return xa_load32_acq(&b->done) != 0; }
