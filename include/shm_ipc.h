/**
 * @file shm_ipc.h
 * @brief xshm: shared-memory IPC between processes on one machine.
 *
 * One server and up to config.max_readers clients share a named channel made
 * of overwriting rings: one server->clients (broadcast), and per client one
 * client->server and one server->that client (addressed messages). Writes never block: when a ring is full the oldest messages are
 * overwritten, and every reader learns exactly how many it lost. Messages are
 * 1..SHM_MAX_MESSAGE_SIZE bytes. x86 and x64 processes may share a channel.
 *
 * This header includes only standard C headers. Link against xshm (the DLL's
 * import library on Windows, libxshm on Linux). Define SHM_STATIC when linking
 * the static library (the CMake target xshm::xshm_static does it for you).
 *
 * Thread safety: every function may be called from any thread, and several
 * threads may send and receive on one endpoint at once. Each received message
 * is delivered to exactly one receiving thread. While a zero-copy reservation
 * or view of an endpoint is open, its sends or receives return SHM_ERROR_BUSY
 * (see the zero-copy calls).
 */
#ifndef SHM_IPC_H
#define SHM_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- version -------------------------------------------------------- */

/** Major version: changes with incompatible API or ABI changes. */
#define SHM_VERSION_MAJOR 1
/** Minor version: changes when features are added. */
#define SHM_VERSION_MINOR 0
/** Patch version: changes with fixes only. */
#define SHM_VERSION_PATCH 0
/** MAJOR * 10000 + MINOR * 100 + PATCH, as returned by shm_version(). */
#define SHM_VERSION_NUMBER \
    (SHM_VERSION_MAJOR * 10000 + SHM_VERSION_MINOR * 100 + SHM_VERSION_PATCH)

/* ---- export macro --------------------------------------------------- */

#if defined(SHM_BUILDING_DLL) && defined(SHM_STATIC)
#error "SHM_BUILDING_DLL and SHM_STATIC must not both be defined"
#endif

/**
 * @def SHM_API
 * Declaration attribute of every public function: on Windows dllimport, or
 * dllexport while the DLL is built (SHM_BUILDING_DLL); with GCC on other
 * systems default visibility while the library is built; empty otherwise and
 * with SHM_STATIC.
 */
#if defined(_WIN32) && !defined(SHM_STATIC)
#if defined(SHM_BUILDING_DLL)
#define SHM_API __declspec(dllexport)
#else
#define SHM_API __declspec(dllimport)
#endif
#elif defined(__GNUC__) && defined(SHM_BUILDING_DLL)
#define SHM_API __attribute__((visibility("default")))
#else
#define SHM_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits --------------------------------------------------------- */

/** Largest message, in bytes. A message has at least 1 byte. */
#define SHM_MAX_MESSAGE_SIZE 65536u
/** Smallest ring size (shm_ring_config_t::size), in bytes. */
#define SHM_MIN_RING_SIZE 4096u
/** Largest ring size, in bytes. A ring size is a power of two. */
#define SHM_MAX_RING_SIZE (1u << 30)
/** Bytes of ring space a message takes besides its payload (a header); a
 *  record is rounded up to a multiple of 8 bytes. */
#define SHM_MESSAGE_OVERHEAD 24u
/** Largest number of clients (shm_ring_config_t::max_readers). */
#define SHM_MAX_READERS 64u
/** Largest size of a client's addressed ring (shm_server_send_to()): it is
 *  min(shm_ring_config_t::size, SHM_ADDRESSED_RING_SIZE) bytes. */
#define SHM_ADDRESSED_RING_SIZE (256u * 1024u)
/** Longest channel name, without an optional `Local\` or `Global\` prefix. */
#define SHM_MAX_NAME_LENGTH 64u

/* ---- errors --------------------------------------------------------- */

/**
 * Every error code, as XX(name, value, text): generates shm_error_t and the
 * texts of shm_strerror(). Values 0..-7 are those of the original xSHM API;
 * new codes are appended and never reuse a value.
 */
#define SHM_ERROR_MAP(XX)                                                      \
    XX(SHM_SUCCESS, 0, "success")                                              \
    XX(SHM_ERROR_INVALID_PARAM, -1, "invalid parameter")                       \
    XX(SHM_ERROR_MEMORY, -2, "out of memory or shared memory unavailable")     \
    XX(SHM_ERROR_TIMEOUT, -3, "timed out")                                     \
    XX(SHM_ERROR_EMPTY, -4, "no message available")                            \
    XX(SHM_ERROR_EXISTS, -5, "a live channel with this name already exists")   \
    XX(SHM_ERROR_NOT_FOUND, -6, "no channel with this name")                   \
    XX(SHM_ERROR_ACCESS, -7, "access denied")                                  \
    XX(SHM_ERROR_NOT_CONNECTED, -8, "no peer is connected")                    \
    XX(SHM_ERROR_BUFFER_TOO_SMALL, -9, "receive buffer too small")             \
    XX(SHM_ERROR_INVALID_SEGMENT, -10,                                         \
       "shared segment is invalid or of another version")                      \
    XX(SHM_ERROR_CLOSED, -11, "endpoint is being destroyed")                  \
    XX(SHM_ERROR_BUSY, -12, "no free client slot, or a reservation or view is open") \
    XX(SHM_ERROR_SYSTEM, -13, "operating system call failed")                 \
    XX(SHM_ERROR_OVERWRITTEN, -14,                                             \
       "the message was overwritten while its view was held")

/** Result of the calls that can fail: SHM_SUCCESS (0) or a negative code, each
 *  listed with its text in SHM_ERROR_MAP. */
typedef enum {
#define SHM_ERROR_ENUM_ENTRY_(name, value, text) name = value,
    SHM_ERROR_MAP(SHM_ERROR_ENUM_ENTRY_)
#undef SHM_ERROR_ENUM_ENTRY_
} shm_error_t;

/** Text for an error code; never NULL ("unknown error" for a foreign value). */
SHM_API const char *shm_strerror(shm_error_t err);

/**
 * The error of the last failed call made by this thread: the only way to
 * learn why a function returning a pointer (shm_server_create,
 * shm_client_connect, ...) returned NULL; functions returning shm_error_t set
 * it to the code they return when it is not SHM_SUCCESS. A pointer-returning
 * function that succeeds resets it to SHM_SUCCESS. Thread-local.
 */
SHM_API shm_error_t shm_last_error(void);

/** The library's version (SHM_VERSION_NUMBER of the build); compare it with
 *  the header's SHM_VERSION_NUMBER to detect a header/DLL mismatch. */
SHM_API uint32_t shm_version(void);

/* ---- configuration ---------------------------------------------------------- */

/**
 * Channel configuration, chosen by the server. Clients use the server's
 * blocking and timeout_ms (read from the shared segment).
 */
typedef struct {
    /** Bytes of each ring, a power of two in SHM_MIN_RING_SIZE..SHM_MAX_RING_SIZE;
     *  a ring holds messages of up to
     *  min(SHM_MAX_MESSAGE_SIZE, size - SHM_MESSAGE_OVERHEAD) bytes. */
    uint32_t size;
    /** Clients that may be connected at once, 1..SHM_MAX_READERS. The channel
     *  has one server->clients ring of `size` bytes and per client slot a
     *  client->server ring of `size` bytes and an addressed server->client
     *  ring of A = min(size, SHM_ADDRESSED_RING_SIZE) bytes: it takes about
     *  (1 + max_readers) * size + max_readers * A bytes of shared memory
     *  (the default: 5 * 4 MiB + 4 * 256 KiB = 21 MiB). */
    uint32_t max_readers;
    /** Receive waits for a message (true) or returns SHM_ERROR_EMPTY at once
     *  (false). */
    bool blocking;
    /** Longest wait of a blocking receive, in milliseconds; 0 = no limit. */
    uint32_t timeout_ms;
} shm_ring_config_t;

#ifdef __cplusplus
}
/* C++ has no compound literals: an inline function gives the same value. */
static inline shm_ring_config_t shm_default_config_(void)
{
    shm_ring_config_t c;
    c.size = 4u * 1024u * 1024u;
    c.max_readers = 4;
    c.blocking = true;
    c.timeout_ms = 5000;
    return c;
}
#define SHM_DEFAULT_CONFIG() shm_default_config_()
extern "C" {
#else
/** 4 MiB rings, 4 clients, blocking receive with a 5 s timeout (in C++ an
 *  inline function returns the same value). */
#define SHM_DEFAULT_CONFIG() \
    ((shm_ring_config_t){.size = 4 * 1024 * 1024, .max_readers = 4, .blocking = true, .timeout_ms = 5000})
#endif

/* ---- handles ------------------------------------------------------------------ */

typedef struct shm_server shm_server_t; /**< A server (opaque): shm_server_create(). */
typedef struct shm_client shm_client_t; /**< A client (opaque): shm_client_connect(). */
typedef struct shm_ring shm_ring_t;     /**< A ring (opaque), for shm_ring_available(). */

/* ---- events -------------------------------------------------------------------- */

/** What an event callback is told. */
typedef enum {
    SHM_EVENT_DATA_AVAILABLE = 0,  /**< new messages arrived since the last one */
    SHM_EVENT_SPACE_AVAILABLE = 1, /**< never raised: writes never wait for room */
    SHM_EVENT_DISCONNECT = 2,      /**< a peer went away (gracefully or not) */
    SHM_EVENT_ERROR = 3,           /**< data: const shm_error_t* */
    SHM_EVENT_CONNECT = 4          /**< a peer arrived */
} shm_event_type_t;

/**
 * Event callback. Runs on the endpoint's listener thread, never while the
 * library holds a lock: it may call send and receive on its own endpoint,
 * and it may destroy (or disconnect) its endpoint, after which it must not
 * use it again.
 * @param ud    the pointer given with the callback
 * @param type  the event
 * @param data  CONNECT, DISCONNECT: const shm_peer_info_t *; ERROR: const
 *              shm_error_t *; DATA_AVAILABLE: NULL. Valid only during the call.
 * @param sz    sizeof(shm_peer_info_t), sizeof(shm_error_t) or 0
 */
typedef void (*shm_event_callback_t)(void *ud, shm_event_type_t type, const void *data,
                                     uint32_t sz);

/**
 * A client's identity on its server: unique across reconnects and slot
 * reuse, never 0. id = ((uint64_t)epoch << 8) | slot, where slot is the
 * client's slot (0..max_readers-1) and epoch is the 30-bit claim counter of
 * that slot (1..2^30-1), which moves on each time a client takes the slot.
 * A server learns it from shm_server_receive_from() and from the CONNECT and
 * DISCONNECT events (shm_peer_info_t::client_id), and answers the client
 * with shm_server_send_to(). (An id comes back only after 2^30 - 1 further
 * connections through the same slot.)
 */
typedef uint64_t shm_client_id_t;

/** The peer of a CONNECT or DISCONNECT event: for a server, the client; for
 *  a client, the server. */
typedef struct shm_peer_info {
    uint32_t pid;      /**< process id */
    uint32_t ptr_bits; /**< 32 or 64: the peer's pointer width */
    uint32_t slot;     /**< client slot, 0..max_readers-1 (0 for the server) */
    uint32_t reserved; /**< zero */
    /** server: the client's shm_client_id_t, the one shm_server_receive_from()
     *  reports for its messages; client: 0. (Added after 1.0: a callback
     *  built against 1.0 reads the first 16 bytes; `sz` is 24 now.) */
    uint64_t client_id;
} shm_peer_info_t;

/* ---- statistics ------------------------------------------------------------------ */

/** Counters of an endpoint: shm_server_get_stats(), shm_client_get_stats(). */
typedef struct shm_stats {
    uint64_t messages_sent;     /**< messages written (a client: since it connected) */
    uint64_t bytes_sent;        /**< their payload bytes */
    uint64_t messages_received; /**< messages delivered (a server: from all clients) */
    uint64_t bytes_received;    /**< their payload bytes */
    uint64_t messages_lost;  /**< overwritten before this endpoint read them */
    uint32_t connected;      /**< server: clients connected; client: 1 or 0 */
    uint32_t reserved;       /**< zero */
} shm_stats_t;

/* ---- server ----------------------------------------------------------------------- */

/**
 * Create a channel. Only the creating user can open it. Does not block.
 * @param name    1..SHM_MAX_NAME_LENGTH characters of [A-Za-z0-9._-],
 *                optionally prefixed `Local\` (the default) or `Global\`
 *                (Windows: visible across sessions, needs
 *                SeCreateGlobalPrivilege; Linux: the same as Local)
 * @param config  NULL means SHM_DEFAULT_CONFIG()
 * @return the server, to free with shm_server_destroy(); NULL on failure,
 *         with shm_last_error(): SHM_ERROR_INVALID_PARAM (name, config),
 *         SHM_ERROR_EXISTS (a live server has this name; one left by a dead
 *         server is reclaimed), SHM_ERROR_ACCESS, SHM_ERROR_MEMORY,
 *         SHM_ERROR_SYSTEM.
 */
SHM_API shm_server_t *shm_server_create(const char *name, const shm_ring_config_t *config);

/**
 * shm_server_create() with the security descriptor of the channel's objects
 * given as an SDDL string, so that other users can open it (a service and
 * the desktop programs of a session, see docs/security.md). Does not block.
 * @param name    as for shm_server_create()
 * @param config  as for shm_server_create() (NULL: SHM_DEFAULT_CONFIG())
 * @param sddl  NULL: exactly shm_server_create(). Windows: the DACL (and the
 *              SACL, e.g. a mandatory label "S:(ML;;NW;;;LW)") of every
 *              object of the channel (section, lock and wake-up events); it
 *              must have a DACL ("D:...", not a NULL DACL). The owner is
 *              always the creating user, whatever "O:" says. A client needs
 *              on the section FILE_MAP_READ|FILE_MAP_WRITE|READ_CONTROL and on
 *              the events SYNCHRONIZE|EVENT_MODIFY_STATE|READ_CONTROL: grant
 *              it "GRGWGX" (GR|GW covers the section, the events' SYNCHRONIZE
 *              is in GX). Linux/POSIX: channels are owner-only (mode 0600),
 *              so any non-NULL sddl is SHM_ERROR_INVALID_PARAM.
 * @return as shm_server_create(); an sddl that does not parse, or has no
 *         DACL, is SHM_ERROR_INVALID_PARAM and creates nothing.
 */
SHM_API shm_server_t *shm_server_create_with_security(const char *name,
                                                      const shm_ring_config_t *config,
                                                      const char *sddl);

/**
 * Close the channel: clients see DISCONNECT, receives blocked in other
 * threads return SHM_ERROR_CLOSED, the listener thread is stopped and joined
 * (or, when called from the callback, finishes after the callback returns).
 * NULL is ignored. The handle is invalid afterwards.
 */
SHM_API void shm_server_destroy(shm_server_t *server);

/**
 * Send one message of 1..SHM_MAX_MESSAGE_SIZE bytes to every connected
 * client. Never blocks: a client that does not keep up loses the oldest
 * messages (and learns how many).
 * @return SHM_SUCCESS, SHM_ERROR_INVALID_PARAM (NULL, size 0 or too large
 *         for the ring), SHM_ERROR_NOT_CONNECTED (no client: nothing is
 *         written), SHM_ERROR_CLOSED (the server is being destroyed).
 */
SHM_API shm_error_t shm_server_send(shm_server_t *server, const void *data, uint32_t size);

/**
 * Receive one message from any client into data (*size bytes available);
 * *size becomes the message length. Blocks as configured (blocking,
 * timeout_ms).
 * @return SHM_SUCCESS, SHM_ERROR_INVALID_PARAM, SHM_ERROR_EMPTY (non-blocking,
 *         nothing there), SHM_ERROR_TIMEOUT, SHM_ERROR_BUFFER_TOO_SMALL
 *         (*size set to the length needed; the message stays for the next
 *         call), SHM_ERROR_INVALID_SEGMENT (a ring holds a record that makes
 *         no sense: its writer is buggy or hostile; an SHM_EVENT_ERROR is
 *         raised too), SHM_ERROR_CLOSED (the server is being destroyed).
 */
SHM_API shm_error_t shm_server_receive(shm_server_t *server, void *data, uint32_t *size);

/**
 * shm_server_receive(), also telling which client sent the message.
 * @param server  the server
 * @param data    where the message is copied
 * @param size    in: the bytes available at data; out: the message length
 *                (or, with SHM_ERROR_BUFFER_TOO_SMALL, the length needed)
 * @param from    set to the sender's id on SHM_SUCCESS (left alone otherwise):
 *              the id of the client that wrote the message, even when it has
 *              left meanwhile and another client has its slot
 * @return as shm_server_receive(); SHM_ERROR_INVALID_PARAM also for a NULL
 *         `from`.
 */
SHM_API shm_error_t shm_server_receive_from(shm_server_t *server, void *data, uint32_t *size,
                                            shm_client_id_t *from);

/**
 * Send one message to the client `client` only, through that client's
 * addressed ring (min(size, SHM_ADDRESSED_RING_SIZE) bytes, see
 * shm_ring_config_t): the other clients do not see it and pay nothing for
 * it. Never blocks: a client that does not keep up loses its oldest
 * addressed messages, and counts them in its messages_lost. The client
 * receives it with shm_client_receive(), among the broadcasts of
 * shm_server_send(): the order of addressed messages among themselves is
 * kept, as is that of broadcasts, but not the order between the two kinds.
 * A message is never delivered to another client, not even to one that
 * takes the slot of `client` after it left while the message was on its way.
 * @param server  the server
 * @param client  the receiver: an id from shm_server_receive_from() or from a
 *                CONNECT event (shm_peer_info_t::client_id)
 * @param data    the message, 1..min(SHM_MAX_MESSAGE_SIZE, addressed ring
 *                size - SHM_MESSAGE_OVERHEAD) bytes
 * @param size    its length in bytes
 * @return SHM_SUCCESS, SHM_ERROR_INVALID_PARAM (NULL, size 0 or too large for
 *         the addressed ring, or a value that no client id can have),
 *         SHM_ERROR_NOT_CONNECTED (that client is gone, even when a new
 *         client has its slot: nothing is written), SHM_ERROR_CLOSED (the
 *         server is being destroyed).
 */
SHM_API shm_error_t shm_server_send_to(shm_server_t *server, shm_client_id_t client,
                                       const void *data, uint32_t size);

/**
 * Set the event callback cb, called with ud (replacing any earlier one), and
 * start the listener thread if it is not running. CONNECT is raised at once
 * for every client already connected.
 * @return SHM_SUCCESS, SHM_ERROR_INVALID_PARAM, SHM_ERROR_SYSTEM (thread
 *         could not start), SHM_ERROR_CLOSED (the server is being destroyed).
 */
SHM_API shm_error_t shm_server_register_callback(shm_server_t *server, shm_event_callback_t cb,
                                                 void *ud);

/** Counters of this server. Errors: SHM_ERROR_INVALID_PARAM, SHM_ERROR_CLOSED
 *  (the server is being destroyed). */
SHM_API shm_error_t shm_server_get_stats(shm_server_t *server, shm_stats_t *stats);

/** The server->clients ring, for shm_ring_available(); NULL for a NULL
 *  server (shm_last_error(): SHM_ERROR_INVALID_PARAM). */
SHM_API shm_ring_t *shm_server_tx_ring(shm_server_t *server);

/* ---- client ----------------------------------------------------------------------- */

/**
 * Connect to the channel `name` (same rules as shm_server_create()), retrying
 * for about 500 ms while it does not exist yet.
 * @return the client, to free with shm_client_disconnect(); NULL on failure,
 *         with shm_last_error(): SHM_ERROR_INVALID_PARAM, SHM_ERROR_NOT_FOUND
 *         (no live server), SHM_ERROR_BUSY (max_readers clients connected),
 *         SHM_ERROR_ACCESS (another user's channel), SHM_ERROR_INVALID_SEGMENT
 *         (not an xshm channel of this version), SHM_ERROR_MEMORY,
 *         SHM_ERROR_SYSTEM.
 */
SHM_API shm_client_t *shm_client_connect(const char *name);

/** Leave the channel (the server sees DISCONNECT) and free the handle, as
 *  shm_server_destroy() does for a server. NULL is ignored. */
SHM_API void shm_client_disconnect(shm_client_t *client);

/**
 * Leave the channel and join it again under the same name, keeping the
 * handle and its callback: after the server went away (DISCONNECT, or
 * SHM_ERROR_NOT_CONNECTED from a call) and a new one was started. Retries
 * for about 500 ms as shm_client_connect() does; the callback sees CONNECT
 * again. Statistics restart from zero. No other thread may be inside a call
 * on this client meanwhile, and it cannot be called from the client's own
 * callback (SHM_ERROR_INVALID_PARAM).
 * @return SHM_SUCCESS or an error of shm_client_connect(); after a failure
 *         the client stays disconnected (calls return SHM_ERROR_NOT_CONNECTED)
 *         until a later reconnect succeeds.
 */
SHM_API shm_error_t shm_client_reconnect(shm_client_t *client);

/**
 * Send one message of 1..SHM_MAX_MESSAGE_SIZE bytes to the server. Never
 * blocks.
 * @return SHM_SUCCESS, SHM_ERROR_INVALID_PARAM, SHM_ERROR_NOT_CONNECTED (the
 *         server is gone, or a shm_client_reconnect() failed),
 *         SHM_ERROR_CLOSED (the client is being disconnected).
 */
SHM_API shm_error_t shm_client_send(shm_client_t *client, const void *data, uint32_t size);

/**
 * Receive one message from the server; as shm_server_receive(), with the
 * server's blocking and timeout_ms (SHM_ERROR_CLOSED: the client is being
 * disconnected). Messages already sent are delivered even after the server
 * left (closed or died); then SHM_ERROR_NOT_CONNECTED, also after a failed
 * shm_client_reconnect(). Delivers both the server's broadcasts
 * (shm_server_send()) and the messages addressed to this client
 * (shm_server_send_to()); a blocked receive wakes for either. Each kind
 * arrives in the order sent; which kind comes first when both are waiting
 * is not defined.
 */
SHM_API shm_error_t shm_client_receive(shm_client_t *client, void *data, uint32_t *size);

/** As shm_server_register_callback(); CONNECT is raised at once if the
 *  server is there. Errors: SHM_ERROR_INVALID_PARAM, SHM_ERROR_SYSTEM,
 *  SHM_ERROR_NOT_CONNECTED (after a failed shm_client_reconnect()),
 *  SHM_ERROR_CLOSED (the client is being disconnected). */
SHM_API shm_error_t shm_client_register_callback(shm_client_t *client, shm_event_callback_t cb,
                                                 void *ud);

/** Counters of this client. Errors: SHM_ERROR_INVALID_PARAM,
 *  SHM_ERROR_NOT_CONNECTED (after a failed shm_client_reconnect()),
 *  SHM_ERROR_CLOSED (the client is being disconnected). */
SHM_API shm_error_t shm_client_get_stats(shm_client_t *client, shm_stats_t *stats);

/** This client's client->server ring, for shm_ring_available(); NULL for a
 *  NULL client (shm_last_error(): SHM_ERROR_INVALID_PARAM). */
SHM_API shm_ring_t *shm_client_tx_ring(shm_client_t *client);

/* ---- zero-copy ------------------------------------------------------------------- */

/**
 * @defgroup zerocopy Zero-copy send and receive
 * Send without a copy: reserve room in the ring, write the message in
 * place, commit it (or abort). Receive without a copy: take a view of the
 * next message inside the ring, read it, release it; the release says
 * whether the bytes stayed intact meanwhile.
 *
 * Writers never wait for readers, so a writer may overwrite a message while
 * a receiver holds its view. The contract: the bytes of a view may change
 * under the caller; only a release that returns SHM_SUCCESS proves they did
 * not change from the receive_view to the release. On SHM_ERROR_OVERWRITTEN
 * the caller discards whatever it computed from them; the message then
 * counts as lost (messages_lost), not as received. Sequence and loss
 * accounting are those of the copying receive.
 *
 * One reservation and one view per endpoint at a time:
 *  - while a reservation is open, a send or another reserve on the same
 *    endpoint returns SHM_ERROR_BUSY at once (from any thread, the
 *    reserving one included: nothing waits and nothing deadlocks; no lock
 *    is held between the calls). Any thread may commit or abort it.
 *  - while a view is open, a receive or receive_view on the same endpoint
 *    returns SHM_ERROR_BUSY at once. Any thread may release it.
 * The pointers of a reservation or a view point into the shared memory and
 * die with the endpoint: after shm_server_destroy() or
 * shm_client_disconnect() (or a shm_client_reconnect()) they must not be
 * used; the open reservation or view is then simply dropped (a reservation
 * publishes nothing).
 * @{
 */

/** A received message seen in place: shm_server_receive_view(),
 *  shm_client_receive_view(). */
typedef struct shm_view {
    const void *data;     /**< the message's bytes, inside the ring */
    uint32_t size;        /**< its length */
    uint32_t reserved;    /**< zero */
    shm_client_id_t from; /**< server: the sending client's id; client: 0 */
    uint64_t internal[2]; /**< the library's: position and ring */
} shm_view_t;

/**
 * Reserve room for a message of 1..SHM_MAX_MESSAGE_SIZE bytes to every
 * connected client, and set *ptr to it: `size` contiguous bytes inside the
 * ring, to fill in place before shm_server_commit(). Never waits: like a
 * send it overwrites the oldest messages when the ring is full (they are
 * given up now, and a client that had not read them counts them lost, even
 * if the reservation is aborted). Nothing is visible to clients before the
 * commit.
 * @return SHM_SUCCESS, SHM_ERROR_INVALID_PARAM (NULL, size 0 or too large
 *         for the ring), SHM_ERROR_NOT_CONNECTED (no client: nothing is
 *         reserved), SHM_ERROR_BUSY (a reservation of this server is open),
 *         SHM_ERROR_CLOSED (the server is being destroyed).
 */
SHM_API shm_error_t shm_server_reserve(shm_server_t *server, uint32_t size, void **ptr);

/**
 * Send the reserved message: its first `size` bytes (1..the reserved size)
 * at ptr, as shm_server_send() would have sent them. Any thread may call
 * it. Space reserved beyond `size` is not reused before the next lap.
 * @return SHM_SUCCESS, SHM_ERROR_INVALID_PARAM (no reservation is open, ptr
 *         is not its pointer, size 0 or larger than reserved: the
 *         reservation stays open), SHM_ERROR_CLOSED (the server is being
 *         destroyed).
 */
SHM_API shm_error_t shm_server_commit(shm_server_t *server, void *ptr, uint32_t size);

/**
 * Give the reservation up: nothing is sent and no sequence number is used.
 * Messages the reservation overwrote stay lost.
 * @return SHM_SUCCESS, SHM_ERROR_INVALID_PARAM (no reservation is open, or
 *         ptr is not its pointer), SHM_ERROR_CLOSED (the server is being
 *         destroyed).
 */
SHM_API shm_error_t shm_server_abort(shm_server_t *server, void *ptr);

/** As shm_server_reserve(), to the server. Errors: SHM_ERROR_INVALID_PARAM,
 *  SHM_ERROR_NOT_CONNECTED (the server is gone, or a shm_client_reconnect()
 *  failed), SHM_ERROR_BUSY (a reservation of this client is open),
 *  SHM_ERROR_CLOSED (the client is being disconnected). */
SHM_API shm_error_t shm_client_reserve(shm_client_t *client, uint32_t size, void **ptr);

/** As shm_server_commit(). Errors: SHM_ERROR_INVALID_PARAM,
 *  SHM_ERROR_NOT_CONNECTED (after a failed shm_client_reconnect()),
 *  SHM_ERROR_CLOSED. */
SHM_API shm_error_t shm_client_commit(shm_client_t *client, void *ptr, uint32_t size);

/** As shm_server_abort(). Errors: SHM_ERROR_INVALID_PARAM,
 *  SHM_ERROR_NOT_CONNECTED (after a failed shm_client_reconnect()),
 *  SHM_ERROR_CLOSED. */
SHM_API shm_error_t shm_client_abort(shm_client_t *client, void *ptr);

/**
 * Receive the next message from any client without copying it: view->data
 * and view->size describe it inside the ring, view->from is the sending
 * client's id. Blocks as shm_server_receive() does. Hand the view back with
 * shm_server_release() before the next receive.
 * @return SHM_SUCCESS, SHM_ERROR_INVALID_PARAM, SHM_ERROR_EMPTY
 *         (non-blocking, nothing there), SHM_ERROR_TIMEOUT, SHM_ERROR_BUSY
 *         (a view of this server is open), SHM_ERROR_INVALID_SEGMENT (as
 *         shm_server_receive()), SHM_ERROR_CLOSED (the server is being
 *         destroyed).
 */
SHM_API shm_error_t shm_server_receive_view(shm_server_t *server, shm_view_t *view);

/**
 * Hand the view back, and learn whether its bytes stayed intact the whole
 * time it was held. Any thread may call it.
 * @return SHM_SUCCESS (intact: the message counts as received),
 *         SHM_ERROR_OVERWRITTEN (the writer overwrote it meanwhile: discard
 *         what was computed from it; it counts as lost),
 *         SHM_ERROR_INVALID_SEGMENT (overwritten, and the ring's shared state
 *         is corrupt), SHM_ERROR_INVALID_PARAM (view is not the open view;
 *         the open view stays open), SHM_ERROR_CLOSED (the server is being
 *         destroyed). After any result but INVALID_PARAM the view is closed.
 */
SHM_API shm_error_t shm_server_release(shm_server_t *server, shm_view_t *view);

/** As shm_server_receive_view(), from the server (view->from is 0), with the
 *  errors of shm_client_receive() besides SHM_ERROR_BUFFER_TOO_SMALL, and
 *  SHM_ERROR_BUSY (a view of this client is open). */
SHM_API shm_error_t shm_client_receive_view(shm_client_t *client, shm_view_t *view);

/** As shm_server_release(). Errors: those of shm_server_release(), and
 *  SHM_ERROR_NOT_CONNECTED (after a failed shm_client_reconnect()). */
SHM_API shm_error_t shm_client_release(shm_client_t *client, shm_view_t *view);

/** @} */

/* ---- monitoring ------------------------------------------------------------------ */

/**
 * Bytes that can be written to `ring` before its slowest connected reader
 * starts losing messages (the ring's size when no reader is connected);
 * 0 for NULL.
 */
SHM_API uint32_t shm_ring_available(const shm_ring_t *ring);

/* ---- convenience macros ------------------------------------------------------- */

/** shm_server_create() with the default configuration. */
#define SHM_CREATE_SERVER(name) shm_server_create((name), NULL)
/** shm_client_connect(). */
#define SHM_CONNECT_CLIENT(name) shm_client_connect(name)
/** shm_server_send(); size is converted to uint32_t. */
#define SHM_SERVER_SEND(server, data, size) shm_server_send((server), (data), (uint32_t)(size))
/** shm_client_send(); size is converted to uint32_t. */
#define SHM_CLIENT_SEND(client, data, size) shm_client_send((client), (data), (uint32_t)(size))
/** shm_server_receive(); size is a uint32_t *. */
#define SHM_SERVER_RECEIVE(server, data, size) shm_server_receive((server), (data), (size))
/** shm_client_receive(); size is a uint32_t *. */
#define SHM_CLIENT_RECEIVE(client, data, size) shm_client_receive((client), (data), (size))
/** shm_server_register_callback(). */
#define SHM_SERVER_ON_EVENT(server, cb, ud) shm_server_register_callback((server), (cb), (ud))
/** shm_client_register_callback(). */
#define SHM_CLIENT_ON_EVENT(client, cb, ud) shm_client_register_callback((client), (cb), (ud))

#ifdef __cplusplus
}
#endif

/**
 * @def SHM_SETUP_SERVER(name, cb, ud)
 * Create a server with the default configuration and register cb; NULL (and
 * the server destroyed) if either step fails.
 */
/**
 * @def SHM_SETUP_CLIENT(name, cb, ud)
 * Connect a client and register cb; NULL (and the client disconnected) if
 * either step fails.
 */
static inline shm_server_t *shm_setup_server_(const char *name, shm_event_callback_t cb, void *ud)
{
    shm_server_t *s = shm_server_create(name, NULL);
    if (s && cb && shm_server_register_callback(s, cb, ud) != SHM_SUCCESS) {
        shm_server_destroy(s);
        s = NULL;
    }
    return s;
}
static inline shm_client_t *shm_setup_client_(const char *name, shm_event_callback_t cb, void *ud)
{
    shm_client_t *c = shm_client_connect(name);
    if (c && cb && shm_client_register_callback(c, cb, ud) != SHM_SUCCESS) {
        shm_client_disconnect(c);
        c = NULL;
    }
    return c;
}
#define SHM_SETUP_SERVER(name, cb, ud) shm_setup_server_((name), (cb), (ud))
#define SHM_SETUP_CLIENT(name, cb, ud) shm_setup_client_((name), (cb), (ud))

/**
 * @def SHM_SEND_STRUCT(endpoint, ptr)
 * Send *ptr (sizeof *ptr bytes) from a server or a client: the endpoint's
 * type picks the function (C11 _Generic, or overloads in C++).
 */
/**
 * @def SHM_RECV_STRUCT(endpoint, ptr)
 * Receive one message into *ptr on a server or a client; evaluates to an
 * shm_error_t: SHM_SUCCESS only for a message of exactly sizeof *ptr bytes;
 * SHM_ERROR_BUFFER_TOO_SMALL (message left in place) for a larger one;
 * SHM_ERROR_INVALID_PARAM (message consumed) for a smaller one.
 */
static inline shm_error_t shm_recv_exact_check_(shm_error_t err, uint32_t got, uint32_t want)
{
    return (err == SHM_SUCCESS && got != want) ? SHM_ERROR_INVALID_PARAM : err;
}
static inline shm_error_t shm_server_recv_exact_(shm_server_t *s, void *p, uint32_t want)
{
    uint32_t n = want;
    shm_error_t err = shm_server_receive(s, p, &n); /* before n is read */
    return shm_recv_exact_check_(err, n, want);
}
static inline shm_error_t shm_client_recv_exact_(shm_client_t *c, void *p, uint32_t want)
{
    uint32_t n = want;
    shm_error_t err = shm_client_receive(c, p, &n);
    return shm_recv_exact_check_(err, n, want);
}

#ifdef __cplusplus
static inline shm_error_t shm_send_any_(shm_server_t *s, const void *p, uint32_t n) { return shm_server_send(s, p, n); }
static inline shm_error_t shm_send_any_(shm_client_t *c, const void *p, uint32_t n) { return shm_client_send(c, p, n); }
static inline shm_error_t shm_recv_any_(shm_server_t *s, void *p, uint32_t n) { return shm_server_recv_exact_(s, p, n); }
static inline shm_error_t shm_recv_any_(shm_client_t *c, void *p, uint32_t n) { return shm_client_recv_exact_(c, p, n); }
#define SHM_SEND_STRUCT(endpoint, ptr) shm_send_any_((endpoint), (ptr), (uint32_t)sizeof(*(ptr)))
#define SHM_RECV_STRUCT(endpoint, ptr) shm_recv_any_((endpoint), (ptr), (uint32_t)sizeof(*(ptr)))
#else
#define SHM_SEND_STRUCT(endpoint, ptr)                                                      \
    _Generic((endpoint), shm_server_t *: shm_server_send, shm_client_t *: shm_client_send)( \
        (endpoint), (ptr), (uint32_t)sizeof(*(ptr)))
#define SHM_RECV_STRUCT(endpoint, ptr)                                      \
    _Generic((endpoint), shm_server_t *: shm_server_recv_exact_,            \
             shm_client_t *: shm_client_recv_exact_)((endpoint), (ptr),     \
                                                      (uint32_t)sizeof(*(ptr)))
#endif

#endif /* SHM_IPC_H */
