/*
 * explore.h - a small interleaving explorer for xshm's shared-memory
 * protocols (DESIGN.md section 9).
 *
 * The library is compiled with XSHM_EXPLORE: every access to memory through
 * atomics.h (src/platform/explore_hooks.h) and every call into the platform
 * layer (tests/explore/sim_platform.c, a simulated OS) is a step. A scenario
 * runs a few actors - a writer, readers, clients claiming slots, servers
 * creating a channel - as coroutines of one thread; only one runs at a time,
 * and before each step the explorer decides who runs next. It runs the
 * scenario once per schedule, depth first over these decisions, with at
 * most `preemptions` switches away from an actor that could have gone on
 * (CHESS, Musuvathi and Qadeer 2007: most concurrency bugs need one or two),
 * and checks the scenario's invariants after every step. Switches at a
 * blocking point or a spin-wait hint are free.
 *
 * Besides the actors, a decision may be:
 *   - the clock: virtual time jumps to the next timeout of a blocked actor,
 *     while others could still run (an actor paused for seconds: a debugger,
 *     a stopped VM), costing one preemption;
 *   - a kill: a killable actor's process ends before its next step (at most
 *     one per schedule), as kill -9 would end it.
 * A schedule is printed as the decisions that differ from the default
 * ("12:a1 40:c 52:k0": at decision 12 actor 1 ran, at 40 the clock
 * advanced, at 52 actor 0 was killed); xe_replay() runs exactly that one,
 * which is how a regression test pins a bug the explorer found.
 *
 * Memory is sequentially consistent (each step atomic and seen by all at
 * once) unless the scenario asks for TSO, the model of x86: then an
 * actor's stores to shared memory (copies too, part by part) enter its own
 * store buffer (FIFO) and reach memory at a later decision, "f<i>.0":
 * actor i's oldest store drains. An actor
 * reads its own buffered stores; a read-modify-write, a seq_cst fence, an
 * OS call and blocking drain its buffer; a successful xshm_plat_remote_fence()
 * drains every actor's (membarrier). Draining at once is the default; any
 * other decision while a store waits costs a preemption, so the bound also
 * bounds how long stores wait. Time passing (the clock decision) drains
 * every buffer: a store buffer drains in nanoseconds, far sooner than any
 * timeout runs out. PSO adds what ARM64 does to stores: buffered stores
 * may reach memory out of order, except that none
 * passes a release fence or release store before it, nor an older store to
 * the same bytes ("f<i>.<k>": actor i's k-th drainable store drains). Loads
 * stay in program order in both models: what acquire orders on the
 * reader's side is argued against the C11 model in the protocol code.
 */
#ifndef XSHM_EXPLORE_H
#define XSHM_EXPLORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define XE_MAX_ACTORS 6

typedef struct xe_scenario {
    const char *name;
    int actors;                 /* 1..XE_MAX_ACTORS */
    uint32_t pids[XE_MAX_ACTORS]; /* process of each actor (0: 100 + index) */
    uint32_t killable;          /* actors that may be killed (bit mask) */
    int preemptions;            /* bound on preemptions per schedule */
    int copy_chunks;            /* steps per shared-memory copy (0: 2) */
    bool tso;                   /* x86's memory model: stores wait in a
                                   store buffer per actor (see below) */
    bool pso;                   /* and stores may pass each other, but not
                                   a release fence or store before them */
    unsigned max_steps;         /* per schedule (0: 20000); more is a failure */
    uint64_t max_schedules;     /* stop after this many (0: no limit) */
    /* Fresh state before each schedule (runs as process pids[0]'s setup,
     * outside the schedule). */
    void (*setup)(void *ctx);
    /* Actor `id`'s body. */
    void (*actor)(void *ctx, int id);
    /* After every step: NULL, or what is violated. */
    const char *(*check)(void *ctx);
    /* Once every actor finished (or was killed): NULL or what is violated. */
    const char *(*final_check)(void *ctx);
    /* After each schedule. */
    void (*teardown)(void *ctx);
} xe_scenario_t;

typedef struct xe_result {
    uint64_t schedules;         /* schedules run */
    uint64_t steps;             /* steps over all schedules */
    unsigned max_depth;         /* most decisions in one schedule */
    unsigned max_preemptions;   /* most preemptions used in one schedule */
    uint64_t kills;             /* schedules with a kill */
    bool complete;              /* every schedule within the bound was run */
    bool failed;
    char failure[512];          /* what was violated, and where */
    char replay[1024];          /* the failing schedule */
    char trace[8192];           /* its last steps */
} xe_result_t;

/* Run every schedule within the bound; stops at the first failure. Returns
 * 0 when none failed. */
int xe_explore(const xe_scenario_t *sc, void *ctx, xe_result_t *res);

/* Run the one schedule `choices` (as printed in res->replay). Returns 0 when
 * it did not fail. */
int xe_replay(const xe_scenario_t *sc, void *ctx, const char *choices, xe_result_t *res);

/* A one-line summary of a result, for the test output. */
void xe_print(const xe_scenario_t *sc, const xe_result_t *res);

/* ---- for actors and the simulated platform ---------------------------------- */

/* The running actor (-1 outside a schedule). */
int xe_self(void);

/* The process of the running actor, or of the setup outside a schedule
 * (the first actor's, unless xe_set_setup_pid() named another). */
uint32_t xe_self_pid(void);
void xe_set_setup_pid(uint32_t pid); /* from a setup; reset before each */
uint64_t xe_start_time(uint32_t pid); /* the start time of process pid */
bool xe_pid_alive(uint32_t pid);
/* A process of a scenario's setup (not an actor) counts as alive, or no
 * longer (at most 4 at once; a scenario's setup clears those it set). */
void xe_setup_alive(uint32_t pid, bool alive);      /* false once killed (or never ran) */

/* A step of the platform layer: a decision point before an OS call. */
void xe_os_step(const char *what);

/* Block the running actor until ready(arg) holds or virtual time reaches
 * deadline_ns (UINT64_MAX: no deadline). Returns false on the deadline. */
bool xe_block(bool (*ready)(void *arg), void *arg, uint64_t deadline_ns);

/* Memory shared between processes (a segment): under TSO only stores to
 * it wait in store buffers; process-local words stay sequentially
 * consistent (they are also read with plain loads). Forgotten before each
 * schedule; the simulated platform registers the objects it creates. */
void xe_shared(void *base, size_t size);

/* Every actor's buffered stores reach memory (a membarrier, under TSO). */
void xe_drain_every_actor(void);

/* A point where the running actor may be switched away from at no
 * preemption cost (a writer between two messages, say). */
void xe_switch_point(const char *where);

/* Give the other actors a turn (a spin-wait hint: no preemption cost). */
void xe_yield_hint(const char *where);

/* Virtual time, in ns; each call moves it on by 1 us, so that loops that
 * wait for the clock end. */
uint64_t xe_now(void);

/* Called by the simulation when a process ends: for the sim to release what
 * the OS releases (set by sim_platform.c). */
extern void (*xe_on_kill)(uint32_t pid);

/* Fail the schedule now (from an actor or a check). */
void xe_fail(const char *fmt, ...);

/* Add a line to the trace of the current schedule. */
void xe_note(const char *fmt, ...);

#endif /* XSHM_EXPLORE_H */
