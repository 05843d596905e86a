/*
 * testevlog.c - an event callback for tests that records what it gets.
 */
#include "testevlog.h"

#include <string.h>

void ev_init(ev_log_t *log)
{
    memset(log, 0, sizeof(*log));
    xshm_plat_mutex_init(&log->lock);
}

void ev_fini(ev_log_t *log) { xshm_plat_mutex_destroy(&log->lock); }

void ev_callback(void *ud, shm_event_type_t type, const void *data, uint32_t sz)
{
    uint64_t at = xshm_plat_now_ns();
    ev_log_t *log = (ev_log_t *)ud;
    ev_entry_t en;
    memset(&en, 0, sizeof(en));
    en.type = type;
    en.at_ns = at;
    bool ok;
    switch (type) {
    case SHM_EVENT_CONNECT:
    case SHM_EVENT_DISCONNECT:
        ok = data != NULL && sz == sizeof(shm_peer_info_t);
        if (ok)
            memcpy(&en.peer, data, sizeof(en.peer));
        break;
    case SHM_EVENT_ERROR:
        ok = data != NULL && sz == sizeof(shm_error_t);
        if (ok)
            memcpy(&en.error, data, sizeof(en.error));
        break;
    case SHM_EVENT_DATA_AVAILABLE:
        ok = data == NULL && sz == 0;
        break;
    default:
        ok = false; /* SPACE_AVAILABLE is never raised */
        break;
    }
    xshm_plat_mutex_lock(&log->lock);
    if (!ok)
        log->bad++;
    if ((unsigned)type < 5)
        log->by_type[type]++;
    if (type != SHM_EVENT_DATA_AVAILABLE && log->n < EV_MAX)
        log->e[log->n++] = en;
    xshm_plat_mutex_unlock(&log->lock);
}

uint32_t ev_count(ev_log_t *log, shm_event_type_t type)
{
    xshm_plat_mutex_lock(&log->lock);
    uint32_t v = log->by_type[type];
    xshm_plat_mutex_unlock(&log->lock);
    return v;
}

uint32_t ev_bad(ev_log_t *log)
{
    xshm_plat_mutex_lock(&log->lock);
    uint32_t v = log->bad;
    xshm_plat_mutex_unlock(&log->lock);
    return v;
}

int ev_find(ev_log_t *log, shm_event_type_t type, uint32_t k, ev_entry_t *out)
{
    int pos = -1;
    if (out)
        memset(out, 0, sizeof(*out));
    xshm_plat_mutex_lock(&log->lock);
    for (uint32_t i = 0; i < log->n; i++) {
        if (log->e[i].type == type && k-- == 0) {
            if (out)
                *out = log->e[i];
            pos = (int)i;
            break;
        }
    }
    xshm_plat_mutex_unlock(&log->lock);
    return pos;
}
