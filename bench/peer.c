/*
 * peer.c - the benchmark's side of its child process: start it (a copy of
 * this program with --child), issue commands through the control block,
 * wait for its answers, reap it.
 */
#include <stdio.h>
#include <string.h>

#include "bench.h"

static xs_proc_t g_child;
static uint32_t g_seq;
double g_child_cpu_s = -1;

/* The child: "--child <control block> <cpu> <stream ends>" (child.c). */
void spawn_child(int cpu)
{
    char a_cpu[16], a_streams[128];
    streams_create(a_streams, sizeof(a_streams));
    snprintf(a_cpu, sizeof(a_cpu), "%d", cpu);
    const char *args[] = {"--child", g_ctrl_name, a_cpu, a_streams, NULL};
    if (xs_spawn_self(&g_child, args) != 0)
        die("cannot start the child process");
}

bool child_alive(void) { return xs_proc_alive(&g_child); }

void reap_child(void)
{
    if (g_child.pid == 0)
        return;
    if (xs_proc_wait_or_kill(&g_child, 10000, NULL) == 0)
        g_child_cpu_s = g_child.cpu_s;
}

bool wait_child(uint32_t *w, uint32_t v)
{
    uint64_t t0 = xs_now_ns();
    for (uint32_t i = 0;; i++) {
        if (xs_load32(w) == v)
            return true;
        if ((i & 255u) == 255u) {
            if (!child_alive() || xs_now_ns() - t0 > 20000000000ull)
                return false;
            xs_sleep_ms(1);
        }
    }
}

bool issue(uint32_t cmd, uint32_t arg, uint32_t arg2, const char *name)
{
    C->cmd = cmd;
    C->arg = arg;
    C->arg2 = arg2;
    C->status = 0;
    snprintf(C->name, sizeof(C->name), "%s", name ? name : "");
    xs_store32(&C->cmd_seq.v, ++g_seq);
    return wait_child(&C->ack_seq.v, g_seq) && C->status == 0;
}

bool finish_cmd(void) { return wait_child(&C->done_seq.v, g_seq) && C->status == 0; }
