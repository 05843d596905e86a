/*
 * explore.c - the interleaving explorer (see explore.h).
 *
 * Actors are coroutines (ucontext on POSIX, fibers on Windows) of one
 * thread. Every step calls decide() in the running actor: it lists the
 * options (runnable actors, the clock, kills), takes the one the search
 * prescribes for this decision (or the default: the running actor goes on)
 * and switches only when another actor is to run. The search is a
 * depth-first walk over the decisions, replaying the schedule's prefix from
 * a fresh setup each time (stateless, as CHESS and loom do).
 */
#if !defined(_WIN32)
#define _XOPEN_SOURCE 700 /* ucontext */
#define _DEFAULT_SOURCE 1
#endif

#include "explore.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "explore_hooks.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <ucontext.h>
#endif

#if defined(__SANITIZE_ADDRESS__)
#define XE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define XE_ASAN 1
#endif
#endif
#ifdef XE_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

#define STACK_SIZE (512u * 1024u)
#define MAX_OPTS 64
#define TRACE_LINES 96u
#define T0_NS 1000000000000ull /* virtual time at the start of a schedule */

enum { A_RUNNABLE, A_BLOCKED, A_DONE, A_KILLED };
enum { OPT_ACTOR = 0, OPT_CLOCK = 1, OPT_KILL = 2, OPT_FLUSH = 3 };
#define SB_SIZE 64u
/* An option: kind, actor, and (a flush under PSO) which of the actor's
 * drainable stores. */
#define OPT(kind, i) ((uint16_t)(((kind) << 12) | ((i) << 8)))
#define OPT_FLUSH_K(i, k) ((uint16_t)((OPT_FLUSH << 12) | ((i) << 8) | (k)))
#define OPT_KIND(o) ((o) >> 12)
#define OPT_INDEX(o) (((o) >> 8) & 15)
#define OPT_ENTRY(o) ((o) & 255)

typedef struct sb_entry {
    void *addr;
    uint64_t val;     /* a word store */
    uint8_t *blob;    /* or the bytes of a copy (malloc'd) */
    size_t size;
    unsigned epoch;   /* PSO: stores of a later epoch never pass it */
} sb_entry_t;

typedef struct actor {
    int st;
    sb_entry_t sb[SB_SIZE];   /* store buffer (TSO), oldest first */
    unsigned sb_n;
    unsigned epoch;           /* PSO: bumped by release fences and stores */
    bool delaying;            /* its stores wait until its next drain */
    bool (*ready)(void *);
    void *ready_arg;
    uint64_t deadline;
    bool timed_out;
    bool hint;                /* its last step was a spin-wait hint */
    bool pause;               /* at a switch point (xe_switch_point) */
    const char *where;        /* its next step */
    void *stack;
#ifdef _WIN32
    LPVOID fiber;
#else
    ucontext_t uc;
#endif
} actor_t;

typedef struct decision {
    uint8_t n, def, chosen;
    bool goes_on;             /* the running actor could have gone on */
    uint8_t preempt_before, kills_before;
    uint64_t tried;
    uint16_t opts[MAX_OPTS];
} decision_t;

static struct {
    const xe_scenario_t *sc;
    void *ctx;
    actor_t a[XE_MAX_ACTORS];
    int n;
    int cur;                  /* running actor, -1: the main context */
    bool running;
    uint64_t now;
    unsigned steps;           /* in this schedule */
    unsigned chunks;
    bool alive[XE_MAX_ACTORS];
    uint32_t pid[XE_MAX_ACTORS];
    uint32_t setup_pid;
    /* the search */
    decision_t *stack;
    unsigned depth, len, cap;
    unsigned preempts, kills;
    /* a replay */
    const char *forced;
    /* failure */
    bool failed;
    char failure[512];
    /* trace of this schedule */
    char trace[TRACE_LINES][112];
    unsigned trace_n;
#ifdef _WIN32
    LPVOID main_fiber;
#else
    ucontext_t main_uc;
#endif
    int switch_from;          /* the actor that switched to the running one */
#ifdef XE_ASAN
    const void *main_bottom;
    size_t main_size;
#endif
} X;

void (*xe_on_kill)(uint32_t pid);

/* ---- trace and failure -------------------------------------------------------------- */

void xe_note(const char *fmt, ...)
{
    char *line = X.trace[X.trace_n % TRACE_LINES];
    int k = snprintf(line, sizeof(X.trace[0]), "%5u %c ", X.depth,
                     X.cur >= 0 ? (char)('0' + X.cur) : '-');
    va_list ap;
    va_start(ap, fmt);
    if (k > 0 && (size_t)k < sizeof(X.trace[0]))
        vsnprintf(line + k, sizeof(X.trace[0]) - (size_t)k, fmt, ap);
    va_end(ap);
    X.trace_n++;
}

static void switch_to(int to);

static void end_schedule(void)
{
    X.running = false;
    if (X.cur >= 0)
        switch_to(-1);
}

void xe_fail(const char *fmt, ...)
{
    if (X.failed)
        return;
    X.failed = true;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(X.failure, sizeof(X.failure), fmt, ap);
    va_end(ap);
    xe_note("FAILED: %s", X.failure);
    if (X.cur >= 0 && X.running)
        end_schedule(); /* never returns: the actors are abandoned */
}

static void drain_all(int i);
static bool drainable(const actor_t *a, unsigned k);

/* ---- coroutines ----------------------------------------------------------------------- */

static void actor_body(int id)
{
    X.sc->actor(X.ctx, id);
    /* (its buffered stores, under TSO, drain at later decisions) */
    X.a[id].st = A_DONE;
    xe_note("done");
    /* decide() switches to another actor or to the main context */
    extern void xe_internal_finished(void);
    xe_internal_finished();
}

#ifdef _WIN32
static void WINAPI fiber_main(LPVOID arg) { actor_body((int)(intptr_t)arg); }

static void start_actor(int id)
{
    actor_t *a = &X.a[id];
    if (a->fiber)
        DeleteFiber(a->fiber);
    a->fiber = CreateFiber(STACK_SIZE, fiber_main, (LPVOID)(intptr_t)id);
    if (!a->fiber) {
        fprintf(stderr, "explore: CreateFiber failed\n");
        abort();
    }
}

static void switch_to(int to)
{
    X.cur = to;
    SwitchToFiber(to < 0 ? X.main_fiber : X.a[to].fiber);
}
#else
#ifdef XE_ASAN
/* The other half of a stack switch (see switch_to): on the stack we came to. */
static void asan_finish(void *fake)
{
    const void *bottom;
    size_t size;
    __sanitizer_finish_switch_fiber(fake, &bottom, &size);
    if (X.switch_from < 0) {
        X.main_bottom = bottom;
        X.main_size = size;
    }
}
#endif

static void uc_main(int id)
{
#ifdef XE_ASAN
    asan_finish(NULL);
#endif
    actor_body(id);
}

static void start_actor(int id)
{
    actor_t *a = &X.a[id];
    if (!a->stack) {
        a->stack = malloc(STACK_SIZE);
        if (!a->stack)
            abort();
    }
#ifdef XE_ASAN
    /* an abandoned schedule may have left its frames poisoned */
    __asan_unpoison_memory_region(a->stack, STACK_SIZE);
#endif
    getcontext(&a->uc);
    a->uc.uc_stack.ss_sp = a->stack;
    a->uc.uc_stack.ss_size = STACK_SIZE;
    a->uc.uc_link = NULL;
    makecontext(&a->uc, (void (*)(void))uc_main, 1, id);
}

static void switch_to(int to)
{
    int from = X.cur;
    X.cur = to;
    ucontext_t *f = from < 0 ? &X.main_uc : &X.a[from].uc;
    ucontext_t *t = to < 0 ? &X.main_uc : &X.a[to].uc;
#ifdef XE_ASAN
    void *fake = NULL;
    if (to < 0)
        __sanitizer_start_switch_fiber(&fake, X.main_bottom, X.main_size);
    else
        __sanitizer_start_switch_fiber(&fake, X.a[to].stack, STACK_SIZE);
#endif
    X.switch_from = from;
    swapcontext(f, t);
#ifdef XE_ASAN
    asan_finish(fake);
#endif
}
#endif

/* ---- decisions ------------------------------------------------------------------------- */

static bool runnable(int i) { return X.a[i].st == A_RUNNABLE; }

/* Wake blocked actors whose condition holds. */
static void wake_ready(void)
{
    for (int i = 0; i < X.n; i++) {
        actor_t *a = &X.a[i];
        if (a->st == A_BLOCKED && a->ready && a->ready(a->ready_arg)) {
            a->st = A_RUNNABLE;
            a->timed_out = false;
        }
    }
}

static uint64_t next_deadline(void)
{
    uint64_t d = UINT64_MAX;
    for (int i = 0; i < X.n; i++)
        if (X.a[i].st == A_BLOCKED && X.a[i].deadline < d)
            d = X.a[i].deadline;
    return d;
}

/*
 * The options of a decision, and the default one (*def): the running actor
 * goes on when it can (*goes_on), else the next runnable actor after it,
 * else the clock. Options in a fixed order, so that a replay finds the same.
 */
static uint8_t options(uint16_t *opts, uint8_t *def, bool *goes_on)
{
    uint8_t n = 0;
    int cur = X.cur;
    *goes_on = cur >= 0 && runnable(cur) && !X.a[cur].hint && !X.a[cur].pause;
    int first = -1;
    /* Actors that gave a spin-wait hint let the others run first (they
     * would only spin again), until one of those others takes a step: they
     * are options only when nobody else can run. */
    bool others = false;
    for (int i = 0; i < X.n; i++)
        if (runnable(i) && !X.a[i].hint)
            others = true;
    for (int k = 0; k < X.n; k++) {
        int i = cur >= 0 ? (cur + 1 + k) % X.n : k;
        if (runnable(i) && !(X.a[i].hint && others)) {
            if (first < 0)
                first = n;
            if (*goes_on && i == cur)
                *def = n;
            opts[n++] = OPT(OPT_ACTOR, i);
        }
    }
    if (!*goes_on && first >= 0)
        *def = (uint8_t)first;
    if (next_deadline() != UINT64_MAX) {
        if (first < 0)
            *def = n;
        opts[n++] = OPT(OPT_CLOCK, 0);
    }
    /* TSO: a store the running actor just made drains by default; not
     * draining it opens a delay (its stores wait until its next drain
     * event), which costs a preemption. A waiting store may drain at any
     * later decision, and does by default once nothing else can run (the
     * stores of an actor that finished, say). */
    bool nothing_else = n == 0;
    for (int i = 0; i < X.n; i++)
        for (unsigned k = 0; k < X.a[i].sb_n && n < MAX_OPTS - XE_MAX_ACTORS; k++) {
            if (!drainable(&X.a[i], k))
                continue;
            if (k == 0 && ((i == cur && runnable(cur) && !X.a[i].delaying) ||
                           (nothing_else && n == 0)))
                *def = n;
            opts[n++] = OPT_FLUSH_K(i, k);
        }
    if (n == 0)
        return 0; /* nobody can run: finished, or waiting forever */
    /* A spinner waits for what others still hold in their store buffers:
     * that drains before it spins again. */
    if (cur >= 0 && X.a[cur].hint)
        for (uint8_t k = 0; k < n; k++)
            if (OPT_KIND(opts[k]) == OPT_FLUSH && OPT_INDEX(opts[k]) != cur) {
                *def = k;
                break;
            }
    if (X.kills == 0)
        for (int i = 0; i < X.n; i++)
            if (((X.sc->killable >> i) & 1u) && (X.a[i].st == A_RUNNABLE || X.a[i].st == A_BLOCKED))
                opts[n++] = OPT(OPT_KILL, i);
    return n;
}

/* Preemptions that choosing option k costs: another actor while the running
 * one could go on, or the clock while some actor could run. */
static unsigned cost(const decision_t *d, uint8_t k)
{
    if (k == d->def)
        return 0;
    uint16_t o = d->opts[k];
    if (OPT_KIND(o) == OPT_KILL)
        return 0; /* counted apart, at most one */
    if (OPT_KIND(o) == OPT_CLOCK)
        return 1; /* the default was an actor */
    if (OPT_KIND(d->opts[d->def]) == OPT_FLUSH)
        return 1; /* the running actor's new store waits: a delay opens */
    if (OPT_KIND(o) == OPT_FLUSH)
        return 1; /* a waiting store drains at this point */
    return d->goes_on ? 1u : 0u;
}

static int parse_forced(unsigned depth, uint16_t *opt)
{
    /* "12:a1 40:c 52:k0 60:f1.2" */
    const char *p = X.forced;
    while (p && *p) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *end;
        unsigned long d = strtoul(p, &end, 10);
        if (end == p || *end != ':')
            return -1;
        p = end + 1;
        char kind = *p++;
        int idx = 0, entry = 0;
        if (kind == 'a' || kind == 'k' || kind == 'f') {
            idx = (int)strtol(p, &end, 10);
            p = end;
        }
        if (kind == 'f' && *p == '.') {
            entry = (int)strtol(p + 1, &end, 10);
            p = end;
        }
        if (d == depth) {
            *opt = kind == 'a'   ? OPT(OPT_ACTOR, idx)
                   : kind == 'c' ? OPT(OPT_CLOCK, 0)
                   : kind == 'f' ? OPT_FLUSH_K(idx, entry)
                                 : OPT(OPT_KILL, idx);
            return 1;
        }
    }
    return 0;
}

/* ---- store buffers (TSO) ----------------------------------------------------------- */

static void sb_apply(const sb_entry_t *e)
{
    if (e->blob)
        memcpy(e->addr, e->blob, e->size);
    else if (e->size == 4)
        *(volatile uint32_t *)e->addr = (uint32_t)e->val;
    else
        *(volatile uint64_t *)e->addr = e->val;
}

static void progress(void);

static bool overlap(const sb_entry_t *e, const void *p, size_t n)
{
    const char *s0 = (const char *)e->addr, *l0 = (const char *)p;
    return s0 < l0 + n && l0 < s0 + e->size;
}

/* May entry k of actor i reach memory now? TSO: only the oldest. PSO: any
 * of the oldest epoch that no older store to an overlapping address
 * precedes. */
static bool drainable(const actor_t *a, unsigned k)
{
    if (k == 0)
        return true;
    if (!X.sc->pso || a->sb[k].epoch != a->sb[0].epoch)
        return false;
    for (unsigned j = 0; j < k; j++)
        if (overlap(&a->sb[j], a->sb[k].addr, a->sb[k].size))
            return false;
    return true;
}

/* Actor i's buffered store k reaches memory. */
static void drain_entry(int i, unsigned k)
{
    actor_t *a = &X.a[i];
    if (k >= a->sb_n)
        return;
    sb_apply(&a->sb[k]);
    free(a->sb[k].blob);
    memmove(&a->sb[k], &a->sb[k + 1], (a->sb_n - k - 1) * sizeof(a->sb[0]));
    a->sb_n--;
    int saved = X.cur;
    X.cur = i; /* progress() wakes the spinners other than the storer */
    progress();
    X.cur = saved;
}

static void drain_one(int i) { drain_entry(i, 0); }

/* A drain event of actor i (fence, read-modify-write, system call,
 * blocking, its end): every store it buffered reaches memory. */
static void drain_all(int i)
{
    if (i < 0)
        return;
    while (X.a[i].sb_n > 0)
        drain_one(i);
    X.a[i].delaying = false;
}

#define MAX_SHARED 8
static struct {
    const char *base;
    size_t size;
} shared[MAX_SHARED];
static unsigned n_shared;

void xe_shared(void *base, size_t size)
{
    if (n_shared < MAX_SHARED) {
        shared[n_shared].base = (const char *)base;
        shared[n_shared].size = size;
        n_shared++;
    }
}

static bool is_shared(const void *p)
{
    for (unsigned i = 0; i < n_shared; i++)
        if ((const char *)p >= shared[i].base && (const char *)p < shared[i].base + shared[i].size)
            return true;
    return false;
}

static bool buffered(const void *p)
{
    return X.sc && (X.sc->tso || X.sc->pso) && X.running && X.cur >= 0 && is_shared(p);
}

static void buffer(void *p, uint64_t v, const void *bytes, size_t size)
{
    actor_t *a = &X.a[X.cur];
    if (a->sb_n == SB_SIZE)
        drain_one(X.cur);
    sb_entry_t *e = &a->sb[a->sb_n++];
    e->addr = p;
    e->val = v;
    e->blob = NULL;
    e->size = size;
    e->epoch = a->epoch;
    if (bytes) {
        e->blob = (uint8_t *)malloc(size ? size : 1);
        if (!e->blob)
            abort();
        memcpy(e->blob, bytes, size);
    }
}

/* A store of the running actor: buffered under TSO or PSO (shared memory
 * only), else to memory. */
static void store(void *p, uint64_t v, uint8_t size)
{
    if (buffered(p)) {
        buffer(p, v, NULL, size);
        return;
    }
    sb_entry_t e;
    memset(&e, 0, sizeof(e));
    e.addr = p;
    e.val = v;
    e.size = size;
    sb_apply(&e);
    progress();
}

/* A load of the running actor: its newest buffered store to the same word,
 * else memory. A buffered store that overlaps the word only in part is
 * drained first, with everything before it. */
static uint64_t load(const void *p, uint8_t size)
{
    if (X.running && X.cur >= 0) {
        actor_t *a = &X.a[X.cur];
        for (unsigned k = a->sb_n; k-- > 0;) {
            const sb_entry_t *e = &a->sb[k];
            if (e->addr == p && e->size == size && !e->blob)
                return e->val;
            if (overlap(e, p, size)) {
                drain_all(X.cur);
                break;
            }
        }
    }
    return size == 4 ? *(const volatile uint32_t *)p : *(const volatile uint64_t *)p;
}

/* A read-modify-write or a full fence of the running actor: its stores
 * first. */
static void drain_self(void)
{
    if (X.running && X.cur >= 0)
        drain_all(X.cur);
}

void xe_drain_every_actor(void)
{
    for (int i = 0; i < X.n; i++)
        drain_all(i);
}

static decision_t *push_decision(void)
{
    if (X.len == X.cap) {
        unsigned cap = X.cap ? X.cap * 2 : 4096;
        decision_t *s = (decision_t *)realloc(X.stack, cap * sizeof(*s));
        if (!s)
            abort();
        X.stack = s;
        X.cap = cap;
    }
    return &X.stack[X.len++];
}

/* Make decisions until an actor is to run; switch to it (returns when the
 * caller is resumed, or at once if the caller goes on). */
static void decide(void)
{
    for (;;) {
        wake_ready();
        uint16_t opts[MAX_OPTS];
        uint8_t def = 0;
        bool goes_on;
        uint8_t n = options(opts, &def, &goes_on);
        if (n == 0) {
            for (int i = 0; i < X.n; i++)
                if (X.a[i].st == A_BLOCKED) {
                    xe_fail("nothing can run: actor %d waits forever (%s)", i,
                            X.a[i].where ? X.a[i].where : "?");
                    return;
                }
            end_schedule(); /* every actor finished or was killed */
            return;
        }
        uint8_t k = def;
        if (X.forced) {
            uint16_t want;
            int r = parse_forced(X.depth, &want);
            if (r < 0) {
                xe_fail("replay string is malformed");
                return;
            }
            if (r == 1) {
                k = 0xFF;
                for (uint8_t j = 0; j < n; j++)
                    if (opts[j] == want)
                        k = j;
                if (k == 0xFF) {
                    xe_fail("replay: decision %u has no such option", X.depth);
                    return;
                }
            }
        } else if (X.depth < X.len) {
            decision_t *d = &X.stack[X.depth];
            if (d->n != n || memcmp(d->opts, opts, n * sizeof(opts[0])) != 0) {
                xe_fail("the scenario is not deterministic: decision %u differs on replay", X.depth);
                return;
            }
            k = d->chosen;
        } else {
            decision_t *d = push_decision();
            d->n = n;
            d->def = def;
            d->goes_on = goes_on;
            d->chosen = def;
            d->tried = 1ull << def;
            d->preempt_before = (uint8_t)X.preempts;
            d->kills_before = (uint8_t)X.kills;
            memcpy(d->opts, opts, n * sizeof(opts[0]));
        }
        {
            decision_t tmp;
            tmp.n = n;
            tmp.def = def;
            tmp.goes_on = goes_on;
            memcpy(tmp.opts, opts, n * sizeof(opts[0]));
            X.preempts += cost(&tmp, k);
        }
        X.depth++;
        uint16_t o = opts[k];
        if (OPT_KIND(o) == OPT_CLOCK) {
            /* a store buffer drains in nanoseconds, long before a timeout */
            xe_drain_every_actor();
            uint64_t t = next_deadline();
            if (t > X.now)
                X.now = t;
            xe_note("clock -> +%llu ms", (unsigned long long)((X.now - T0_NS) / 1000000u));
            for (int i = 0; i < X.n; i++)
                if (X.a[i].st == A_BLOCKED && X.a[i].deadline <= X.now) {
                    X.a[i].st = A_RUNNABLE;
                    X.a[i].timed_out = true;
                }
            continue;
        }
        if (OPT_KIND(o) == OPT_FLUSH) {
            drain_entry(OPT_INDEX(o), OPT_ENTRY(o));
            continue;
        }
        if (OPT_KIND(o) == OPT_KILL) {
            int v = OPT_INDEX(o);
            drain_all(v); /* entering the kernel drains the store buffer */
            X.a[v].st = A_KILLED;
            X.alive[v] = false;
            X.kills++;
            xe_note("kill actor %d (process %u) before %s", v, X.pid[v],
                    X.a[v].where ? X.a[v].where : "its first step");
            /* A process ends with all its threads: other actors of it too. */
            for (int i = 0; i < X.n; i++)
                if (X.pid[i] == X.pid[v] && X.a[i].st != A_DONE) {
                    X.a[i].st = A_KILLED;
                    X.alive[i] = false;
                }
            if (xe_on_kill)
                xe_on_kill(X.pid[v]);
            continue;
        }
        int next = OPT_INDEX(o);
        if (X.cur >= 0 && X.a[X.cur].sb_n > 0 && OPT_KIND(opts[def]) == OPT_FLUSH)
            X.a[X.cur].delaying = true; /* its new store was not drained */
        if (next == X.cur)
            return;
        int me = X.cur;
        switch_to(next);
        /* resumed: someone chose us */
        (void)me;
        return;
    }
}

/* The running actor's next step. */
static void step(const char *where)
{
    if (!X.running || X.cur < 0)
        return;
    actor_t *me = &X.a[X.cur];
    me->where = where;
    if (++X.steps > (X.sc->max_steps ? X.sc->max_steps : 20000u)) {
        xe_fail("more than %u steps: a livelock, or a scenario too big",
                X.sc->max_steps ? X.sc->max_steps : 20000u);
        return;
    }
    if (X.sc->check) {
        const char *bad = X.sc->check(X.ctx);
        if (bad) {
            xe_fail("%s (before %s)", bad, where);
            return;
        }
    }
    decide();
    if (X.running && X.cur >= 0)
        xe_note("%s", where);
}

void xe_internal_finished(void);
void xe_internal_finished(void)
{
    if (X.sc->check) {
        const char *bad = X.sc->check(X.ctx);
        if (bad)
            xe_fail("%s (after actor %d finished)", bad, X.cur);
    }
    decide();
    /* A finished actor is never resumed. */
    end_schedule();
}

/* The running actor changed shared state: what the spinners wait for may
 * have come, so they are options again. */
static void progress(void)
{
    if (!X.running)
        return;
    for (int i = 0; i < X.n; i++)
        if (i != X.cur)
            X.a[i].hint = false;
}

/* ---- services for actors ------------------------------------------------------------------- */

int xe_self(void) { return X.running ? X.cur : -1; }

uint32_t xe_self_pid(void)
{
    if (X.running && X.cur >= 0)
        return X.pid[X.cur];
    if (X.setup_pid)
        return X.setup_pid;
    return X.sc ? X.pid[0] : 1u;
}

void xe_set_setup_pid(uint32_t pid) { X.setup_pid = pid; }

uint64_t xe_start_time(uint32_t pid) { return 7000u + (uint64_t)pid * 13u; }

/* Processes of a scenario's setup that count as alive (xe_setup_alive). */
static uint32_t setup_alive[4];

void xe_setup_alive(uint32_t pid, bool alive)
{
    for (int i = 0; i < 4; i++)
        if (setup_alive[i] == (alive ? 0u : pid)) {
            setup_alive[i] = alive ? pid : 0u;
            return;
        }
}

bool xe_pid_alive(uint32_t pid)
{
    for (int i = 0; i < 4; i++)
        if (pid != 0 && setup_alive[i] == pid)
            return true;
    bool known = false;
    for (int i = 0; i < X.n; i++)
        if (X.pid[i] == pid) {
            known = true;
            if (X.alive[i])
                return true;
        }
    (void)known;
    return false;
}

uint64_t xe_now(void)
{
    X.now += 1000u;
    return X.now;
}

void xe_os_step(const char *what)
{
    step(what);
    drain_self(); /* a system call drains the store buffer */
    progress();   /* and may change what others wait for */
}

bool xe_block(bool (*ready)(void *arg), void *arg, uint64_t deadline_ns)
{
    if (!X.running || X.cur < 0) {
        /* outside a schedule (setup): nothing else runs, so nothing changes */
        return ready ? ready(arg) : false;
    }
    if (ready && ready(arg))
        return true;
    actor_t *me = &X.a[X.cur];
    drain_all(X.cur);
    me->st = A_BLOCKED;
    me->ready = ready;
    me->ready_arg = arg;
    me->deadline = deadline_ns;
    me->timed_out = false;
    xe_note("blocks (%s)", deadline_ns == UINT64_MAX ? "no deadline" : "with a deadline");
    decide();
    me->ready = NULL;
    me->deadline = UINT64_MAX;
    return !me->timed_out;
}

void xe_switch_point(const char *where)
{
    if (!X.running || X.cur < 0)
        return;
    X.a[X.cur].pause = true;
    step(where);
    if (X.running && X.cur >= 0)
        X.a[X.cur].pause = false;
}

void xe_yield_hint(const char *where)
{
    if (!X.running || X.cur < 0)
        return;
    X.a[X.cur].hint = true;
    step(where);
}

/* ---- the hooks of atomics.h --------------------------------------------------------------------- */

uint32_t xe_load32(const uint32_t *p, xe_order_t o, const char *where)
{
    (void)o;
    step(where);
    return (uint32_t)load(p, 4);
}

uint64_t xe_load64(const uint64_t *p, xe_order_t o, const char *where)
{
    (void)o;
    step(where);
    return load(p, 8);
}

/* PSO: a release store or fence starts a new epoch: no later store passes
 * any earlier one. (A release store itself may be passed by later relaxed
 * stores, as on ARM.) */
static void release(void)
{
    if (X.running && X.cur >= 0)
        X.a[X.cur].epoch++;
}

void xe_store32(uint32_t *p, uint32_t v, xe_order_t o, const char *where)
{
    step(where);
    if (o >= XE_RELEASE)
        release();
    store(p, v, 4);
}

void xe_store64(uint64_t *p, uint64_t v, xe_order_t o, const char *where)
{
    step(where);
    if (o >= XE_RELEASE)
        release();
    store(p, v, 8);
}

uint32_t xe_fetch_add32(uint32_t *p, uint32_t v, const char *where)
{
    step(where);
    drain_self();
    uint32_t old = *p;
    *p = old + v;
    progress();
    return old;
}

uint64_t xe_fetch_add64(uint64_t *p, uint64_t v, const char *where)
{
    step(where);
    drain_self();
    uint64_t old = *p;
    *p = old + v;
    progress();
    return old;
}

uint32_t xe_xchg32(uint32_t *p, uint32_t v, const char *where)
{
    step(where);
    drain_self();
    uint32_t old = *p;
    *p = v;
    progress();
    return old;
}

int xe_cas32(uint32_t *p, uint32_t expected, uint32_t desired, const char *where)
{
    step(where);
    drain_self();
    if (*p != expected)
        return 0;
    *p = desired;
    progress();
    return 1;
}

int xe_cas64(uint64_t *p, uint64_t expected, uint64_t desired, const char *where)
{
    step(where);
    drain_self();
    if (*p != expected)
        return 0;
    *p = desired;
    progress();
    return 1;
}

void xe_fence(xe_order_t o, const char *where)
{
    (void)where;
    if (o == XE_SEQ_CST)
        drain_self(); /* acquire and release fences cost nothing on TSO */
    else if (o == XE_RELEASE)
        release();
}

void xe_pause(const char *where) { xe_yield_hint(where); }

/* A copy in X.chunks steps: another actor may write between its parts.
 * Under TSO or PSO a copy into shared memory is buffered, part by part. */
static void copy_steps(void *dst, const void *src, size_t n, const char *where, bool to_shared)
{
    unsigned chunks = X.chunks ? X.chunks : 2u;
    size_t done = 0;
    for (unsigned c = 0; c < chunks && done < n; c++) {
        size_t part = (c + 1 == chunks) ? n - done : (n / chunks + 7u) & ~(size_t)7u;
        if (part > n - done)
            part = n - done;
        step(where);
        if (to_shared && buffered((char *)dst + done))
            buffer((char *)dst + done, 0, (const char *)src + done, part);
        else
            memmove((char *)dst + done, (const char *)src + done, part);
        done += part;
    }
}

void xe_copy_from(void *dst, const void *src, size_t n, const char *where)
{
    /* our own stores to what we copy reach memory first (a coarse but
     * allowed order) */
    if (X.running && X.cur >= 0)
        for (unsigned k = 0; k < X.a[X.cur].sb_n; k++)
            if (overlap(&X.a[X.cur].sb[k], src, n)) {
                drain_self();
                break;
            }
    copy_steps(dst, src, n, where, false);
}

void xe_copy_to(void *dst, const void *src, size_t n, const char *where)
{
    copy_steps(dst, src, n, where, true);
    if (!buffered(dst))
        progress();
}

/* ---- the search ------------------------------------------------------------------------------ */

static void run_once(void)
{
    const xe_scenario_t *sc = X.sc;
    X.n = sc->actors;
    X.now = T0_NS;
    X.steps = 0;
    X.depth = 0;
    X.preempts = 0;
    X.kills = 0;
    X.failed = false;
    X.failure[0] = '\0';
    X.trace_n = 0;
    X.cur = -1;
    X.chunks = (unsigned)(sc->copy_chunks > 0 ? sc->copy_chunks : 2);
    for (int i = 0; i < X.n; i++) {
        X.pid[i] = sc->pids[i] ? sc->pids[i] : 100u + (uint32_t)i;
        X.alive[i] = true;
        memset(&X.a[i].st, 0, sizeof(X.a[i].st));
        X.a[i].st = A_RUNNABLE;
        X.a[i].ready = NULL;
        X.a[i].deadline = UINT64_MAX;
        X.a[i].hint = false;
        X.a[i].pause = false;
        X.a[i].where = NULL;
        for (unsigned k = 0; k < X.a[i].sb_n; k++)
            free(X.a[i].sb[k].blob);
        X.a[i].sb_n = 0;
        X.a[i].epoch = 0;
        X.a[i].delaying = false;
    }
    X.running = false;
    X.setup_pid = 0;
    n_shared = 0;
    if (sc->setup)
        sc->setup(X.ctx);
    X.setup_pid = 0;
    for (int i = 0; i < X.n; i++)
        start_actor(i);
    X.running = true;
    decide(); /* from the main context: switches to the first actor */
    X.running = false;
    X.cur = -1;
    if (!X.failed && sc->final_check) {
        const char *bad = sc->final_check(X.ctx);
        if (bad) {
            X.failed = true;
            snprintf(X.failure, sizeof(X.failure), "%s (at the end)", bad);
        }
    }
    if (sc->teardown)
        sc->teardown(X.ctx);
}

/* The next schedule: the deepest decision with an option not tried yet
 * that the bounds allow. */
static bool backtrack(void)
{
    while (X.len > 0) {
        decision_t *d = &X.stack[X.len - 1];
        for (uint8_t k = 0; k < d->n; k++) {
            if ((d->tried >> k) & 1u)
                continue;
            if (OPT_KIND(d->opts[k]) == OPT_KILL ? d->kills_before >= 1
                                                  : d->preempt_before + cost(d, k) >
                                                        (unsigned)X.sc->preemptions)
                continue;
            d->tried |= 1ull << k;
            d->chosen = k;
            return true;
        }
        X.len--;
    }
    return false;
}

static void result_from_run(xe_result_t *res)
{
    res->failed = X.failed;
    snprintf(res->failure, sizeof(res->failure), "%s", X.failure);
    /* the schedule: decisions that differ from the default */
    size_t used = 0;
    res->replay[0] = '\0';
    unsigned depth = X.forced ? 0 : X.len;
    for (unsigned i = 0; i < depth && used + 16 < sizeof(res->replay); i++) {
        const decision_t *d = &X.stack[i];
        if (d->chosen == d->def)
            continue;
        uint16_t o = d->opts[d->chosen];
        static const char kinds[] = {'a', 'c', 'k', 'f'};
        int w = OPT_KIND(o) == OPT_CLOCK
                    ? snprintf(res->replay + used, sizeof(res->replay) - used, "%s%u:c",
                               used ? " " : "", i)
                : OPT_KIND(o) == OPT_FLUSH
                    ? snprintf(res->replay + used, sizeof(res->replay) - used, "%s%u:f%d.%d",
                               used ? " " : "", i, OPT_INDEX(o), OPT_ENTRY(o))
                    : snprintf(res->replay + used, sizeof(res->replay) - used, "%s%u:%c%d",
                               used ? " " : "", i, kinds[OPT_KIND(o)], OPT_INDEX(o));
        if (w > 0)
            used += (size_t)w;
    }
    if (X.forced)
        snprintf(res->replay, sizeof(res->replay), "%s", X.forced);
    /* the trace's last lines */
    size_t t = 0;
    res->trace[0] = '\0';
    unsigned first = X.trace_n > TRACE_LINES ? X.trace_n - TRACE_LINES : 0;
    for (unsigned i = first; i < X.trace_n && t + 120 < sizeof(res->trace); i++) {
        int w = snprintf(res->trace + t, sizeof(res->trace) - t, "  %s\n", X.trace[i % TRACE_LINES]);
        if (w > 0)
            t += (size_t)w;
    }
}

static void begin(const xe_scenario_t *sc, void *ctx, xe_result_t *res)
{
    memset(res, 0, sizeof(*res));
    X.sc = sc;
    X.ctx = ctx;
    X.len = 0;
    X.forced = NULL;
#ifdef _WIN32
    if (!X.main_fiber) {
        X.main_fiber = ConvertThreadToFiber(NULL);
        if (!X.main_fiber) {
            fprintf(stderr, "explore: ConvertThreadToFiber failed\n");
            abort();
        }
    }
#endif
}

int xe_explore(const xe_scenario_t *sc, void *ctx, xe_result_t *res)
{
    begin(sc, ctx, res);
    for (;;) {
        run_once();
        res->schedules++;
        res->steps += X.steps;
        if (X.depth > res->max_depth)
            res->max_depth = X.depth;
        if (X.preempts > res->max_preemptions)
            res->max_preemptions = X.preempts;
        if (X.kills)
            res->kills++;
        if (X.failed) {
            result_from_run(res);
            return 1;
        }
        if (sc->max_schedules && res->schedules >= sc->max_schedules)
            return 0;
        if (!backtrack()) {
            res->complete = true;
            return 0;
        }
    }
}

int xe_replay(const xe_scenario_t *sc, void *ctx, const char *choices, xe_result_t *res)
{
    begin(sc, ctx, res);
    X.forced = choices;
    run_once();
    res->schedules = 1;
    res->steps = X.steps;
    res->max_depth = X.depth;
    res->max_preemptions = X.preempts;
    result_from_run(res);
    X.forced = NULL;
    return X.failed ? 1 : 0;
}

void xe_print(const xe_scenario_t *sc, const xe_result_t *res)
{
    printf("explore %-28s %8llu schedules (%s, <= %d preemptions%s), %llu steps, "
           "up to %u decisions%s%s\n",
           sc->name, (unsigned long long)res->schedules,
           res->complete ? "all" : "bounded run", sc->preemptions,
           sc->killable ? ", <= 1 kill" : "", (unsigned long long)res->steps, res->max_depth,
           res->failed ? ": FAILED: " : ": invariants held",
           res->failed ? res->failure : "");
    if (res->failed) {
        printf("  schedule: \"%s\"\n  last steps:\n%s", res->replay, res->trace);
    }
    fflush(stdout);
}
