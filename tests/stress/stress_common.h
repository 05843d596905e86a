/*
 * stress_common.h - what test_server.c and test_client.c share
 * (stress_common.c): options, the message format with its checks, the two
 * phases and the report, over either side of the channel (ep_*).
 */
#ifndef XSHM_STRESS_COMMON_H
#define XSHM_STRESS_COMMON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shm_ipc.h"
#include "xs_thread.h"

/* ---- output: stdout and the report file ------------------------------------------------- */

extern FILE *g_report; /* NULL: stdout only */

/* printf to stdout and to the report file, both flushed. */
void say(const char *fmt, ...);

/* ---- options (the same for both programs) ------------------------------------------------- */

#define STRESS_PATIENCE_MS 30000u /* no progress for this long: give up */
#define STRESS_COUNT 100000u
#define STRESS_QUICK_COUNT 10000u

typedef struct options {
    const char *name;
    bool name_given;
    uint32_t count;     /* messages this side sends in each phase */
    uint32_t min_size;  /* bytes */
    uint32_t max_size;
    uint32_t ring_size; /* bytes per ring (the server's value is used) */
    bool busy;          /* non-blocking receive, polled */
    bool paced;         /* keep less than half a ring in flight: no loss */
    bool quick;
} options_t;

void usage(const char *prog);

/* 0: run; 1: help printed; 2: bad usage (message printed). */
int parse_options(int argc, char **argv, options_t *o);

/* NULL when a ring of `ring` bytes can carry messages of `max` bytes (and,
 * paced, hold two of the largest records in half a ring); else why not. */
const char *ring_fits(uint32_t ring, uint32_t max, bool paced);

/* ---- messages ----------------------------------------------------------------------------
 *
 * Every message starts with a header that makes it self-checking:
 *   bytes 0..3   u32 seq: the data sequence number of its stream (0 for control)
 *   bytes 4..7   u32 info: size (bits 0..16), kind (bits 17..19), check (bits 20..31)
 *   bytes 8..15  u64 sum (messages of 16 bytes or more)
 * `sum` covers the bytes after the header and is seeded with seq, size and
 * kind; `check` is 12 bits of it (for 8..15-byte messages, the sum covers
 * bytes 8..size-1). Control messages carry u64 words after the 16-byte header.
 */
enum { K_DATA = 0, K_ECHO = 1, K_HELLO = 2, K_START = 3, K_END = 4, K_RESULT = 5, K_BYE = 6 };

#define CTRL_WORDS 24u
#define CTRL_SIZE (16u + CTRL_WORDS * 8u)
#define STRESS_MAGIC 0x5853484D53545201ull /* hello: protocol version 1 */

/* Pseudo-random payload after the header. */
void msg_fill(unsigned char *p, uint32_t size, uint64_t seed);

/* Write the header for the payload in place. */
void msg_seal(unsigned char *p, uint32_t kind, uint32_t seq, uint32_t size);

/* True when p[0..n) is an intact message; then *kind and *seq are set. */
bool msg_open(const unsigned char *p, uint32_t n, uint32_t *kind, uint32_t *seq);

/* A message's size, a function of its sequence number, skewed to small
 * sizes: for 8..65536 about 60% under 256 bytes, 4% over 32 KiB. */
uint32_t size_for(uint32_t seq, uint64_t salt, uint32_t min, uint32_t max);

/* ---- the endpoint: this side of the channel ------------------------------------------------ */

/* The server sets g_server, the client g_client; ep_* act on the one set. */
extern shm_server_t *g_server;
extern shm_client_t *g_client;

shm_error_t ep_send(const void *data, uint32_t size);
shm_error_t ep_receive(void *data, uint32_t *size);
bool ep_peer_present(void);
void ep_stats(shm_stats_t *st);
shm_ring_t *ep_tx_ring(void);

extern const char *g_self;   /* "server" or "client" */
extern bool g_busy;          /* the channel's receive mode */
extern uint32_t g_ring_size; /* the channel's ring size */

/* ---- receiving and control messages ----------------------------------------------------- */

#define SPINS_LATENCY 16384u /* round trips: pure polling unless the peer stalls */
#define SPINS_STREAM 64u     /* receiver threads, which share the CPUs with senders */

/*
 * Receive one message within `patience_ms`: poll (busy mode) or block. While
 * polling, the CPU is given away after `spins` empty polls in a row. Checks
 * every 100 ms that the peer is still there when `check_peer`. Returns the
 * library's error, or SHM_ERROR_TIMEOUT / SHM_ERROR_NOT_CONNECTED.
 */
shm_error_t recv_wait(void *buf, uint32_t *size, uint32_t patience_ms, uint32_t spins,
                      bool check_peer);

/* Send a control message of `kind` carrying nwords words (never lost:
 * nothing is written after it until the peer answers). */
shm_error_t send_ctrl(uint32_t kind, const uint64_t *words, uint32_t nwords);

/* Wait for a control message of `kind` (its CTRL_WORDS words into
 * words[]); anything else is a protocol error. A BYE from the peer is
 * returned as SHM_ERROR_CLOSED. */
shm_error_t recv_ctrl(uint32_t kind, uint64_t *words, uint32_t patience_ms, bool check_peer);

/* The greeting's 8 words: protocol version, what this side sends, the
 * channel as it sees it (busy, ring size) and its pointer width. */
void hello_words(const options_t *o, bool busy, uint32_t ring_size, uint64_t *w);

/* ---- phase (a): round-trip percentiles -------------------------------------------------- */

typedef struct rtt_summary {
    uint64_t count, failures;
    uint64_t p50, p90, p99, p999, max, mean; /* ns */
} rtt_summary_t;

void rtt_print(const rtt_summary_t *s);

/* ---- phase (b): both directions at full speed ------------------------------------------- */

/* What one receiver saw of one direction. */
typedef struct rx_stats {
    uint64_t received, lost, corrupted, out_of_order, bytes;
    uint64_t peer_sent, peer_bytes, peer_tx_ns; /* from the sender's END */
    uint64_t rx_ns;                             /* phase start to END */
    uint64_t lib_lost;                          /* the library's messages_lost */
    uint64_t error;                             /* shm_error_t, negated; 0 = none */
    uint64_t unexpected;                        /* control messages out of place */
    uint64_t ended;                             /* END seen */
    xs_flag_t started;                          /* a first message came */
} rx_stats_t;

/* What one sender did. */
typedef struct tx_stats {
    uint64_t sent, bytes, tx_ns;
    shm_error_t error;
} tx_stats_t;

/* rx_stats_t to and from the words 0..12 of a RESULT message. */
void rx_to_words(const rx_stats_t *r, uint64_t *w);
void rx_from_words(rx_stats_t *r, const uint64_t *w);

/*
 * Run phase (b) on this side: a receiver thread takes the peer's stream while
 * this thread sends its own. No message may be lost before both receivers
 * run, so the client (`lead`) starts its receiver, announces the phase with
 * K_START (which the server reads before starting its own receiver and
 * stream), and sends only once the server's stream has begun.
 */
void run_both_ways(const options_t *o, uint64_t salt, bool lead, tx_stats_t *tx,
                   rx_stats_t *rx);

/* Print one direction as its receiver saw it; returns the number of
 * failed checks. */
int direction_report(const char *label, const rx_stats_t *r, bool sender_paced);

/* The run's parameters, both sides'. */
void params_print(const options_t *o, uint64_t peer_count, uint64_t peer_min,
                  uint64_t peer_max, bool peer_paced, const char *peer);

#endif /* XSHM_STRESS_COMMON_H */
