// test_cplusplus.cpp - the public header compiled as C++11 and linked against
// the library: SHM_DEFAULT_CONFIG() (an inline function in C++), the struct
// macros on a server and on a client pointer (overloads instead of C11
// _Generic), the other macros, and a tiny in-process exchange whose every
// result, every value received and every event are checked: DATA_AVAILABLE
// once for each message the client sends (each is left unread until the
// event has come), CONNECT once, nothing else.
// Exit code 0 on success, 1 on the first failed check.
#include "shm_ipc.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>

namespace {

struct point {
    int32_t x;
    int32_t y;
    double z;
    char label[20];
};

std::atomic<int> g_connects(0);
std::atomic<int> g_data(0);
std::atomic<int> g_other(0); // any other event, or one with unexpected data

void on_event(void *, shm_event_type_t type, const void *data, uint32_t sz)
{
    if (type == SHM_EVENT_CONNECT && data != nullptr && sz == sizeof(shm_peer_info_t))
        ++g_connects;
    else if (type == SHM_EVENT_DATA_AVAILABLE && data == nullptr && sz == 0)
        ++g_data;
    else
        ++g_other;
}

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (!(cond)) {                                                                   \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            return 1;                                                                    \
        }                                                                                \
    } while (0)

// Wait (busy, bounded) until flag reaches want; then it must be exactly want.
bool wait_for(const std::atomic<int> &flag, int want, int ms)
{
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    while (flag.load() < want) {
        if (std::chrono::steady_clock::now() > deadline)
            return false;
    }
    return flag.load() == want;
}

// Releases the endpoints on every way out of run(), failed checks included.
struct endpoints {
    shm_server_t *server = nullptr;
    shm_client_t *client = nullptr;
    endpoints() = default;
    endpoints(const endpoints &) = delete;
    endpoints &operator=(const endpoints &) = delete;
    ~endpoints()
    {
        shm_client_disconnect(client);
        shm_server_destroy(server);
    }
};

std::string unique_name()
{
    std::random_device rd;
    std::mt19937_64 gen((static_cast<uint64_t>(rd()) << 32) ^ rd() ^
                        static_cast<uint64_t>(
                            std::chrono::steady_clock::now().time_since_epoch().count()));
    char buf[48];
    std::snprintf(buf, sizeof(buf), "cplusplus-%016llx",
                  static_cast<unsigned long long>(gen()));
    return buf;
}

int run()
{
    CHECK(shm_version() == SHM_VERSION_NUMBER);
    shm_ring_config_t config = SHM_DEFAULT_CONFIG();
    CHECK(config.size == 4u * 1024u * 1024u);
    CHECK(config.max_readers == 4);
    CHECK(config.blocking);
    CHECK(config.timeout_ms == 5000);
    config.size = 64 * 1024; // small rings are enough here
    config.max_readers = 1;

    const std::string name = unique_name();
    endpoints ep;
    // Exported and callable from C++: an SDDL that does not parse (and, on
    // POSIX, any SDDL) is refused before anything is created.
    CHECK(shm_server_create_with_security(name.c_str(), &config, "not an sddl") == nullptr);
    CHECK(shm_last_error() == SHM_ERROR_INVALID_PARAM);
    shm_server_t *server = ep.server = shm_server_create(name.c_str(), &config);
    CHECK(server != nullptr);
    shm_client_t *client = ep.client = SHM_CONNECT_CLIENT(name.c_str());
    CHECK(client != nullptr);
    CHECK(SHM_SERVER_ON_EVENT(server, on_event, nullptr) == SHM_SUCCESS);
    CHECK(wait_for(g_connects, 1, 10000)); // CONNECT at once for the client already there

    // Struct macros, server -> client and client -> server.
    point p;
    std::memset(&p, 0, sizeof(p));
    p.x = 1;
    p.y = -2;
    p.z = 3.5;
    std::strcpy(p.label, "from server");
    CHECK(SHM_SEND_STRUCT(server, &p) == SHM_SUCCESS);
    point q;
    std::memset(&q, 0, sizeof(q));
    CHECK(SHM_RECV_STRUCT(client, &q) == SHM_SUCCESS);
    CHECK(std::memcmp(&p, &q, sizeof(p)) == 0);
    std::strcpy(q.label, "from client");
    q.label[sizeof(q.label) - 1] = '!'; // the struct's last byte changes too
    CHECK(SHM_SEND_STRUCT(client, &q) == SHM_SUCCESS);
    // The server's listener raises DATA_AVAILABLE for it: the message stays
    // unread until then, so the event cannot be missed.
    CHECK(wait_for(g_data, 1, 10000));
    point r;
    std::memset(&r, 0, sizeof(r));
    CHECK(SHM_RECV_STRUCT(server, &r) == SHM_SUCCESS);
    CHECK(std::memcmp(&r, &q, sizeof(r)) == 0);
    CHECK(r.x == 1 && r.y == -2 && r.z == 3.5);
    CHECK(std::strcmp(r.label, "from client") == 0);

    // Plain send/receive through the macros.
    const char hello[] = "Hello!";
    CHECK(SHM_CLIENT_SEND(client, hello, sizeof(hello)) == SHM_SUCCESS);
    CHECK(wait_for(g_data, 2, 10000));
    char buf[64];
    uint32_t sz = sizeof(buf);
    CHECK(SHM_SERVER_RECEIVE(server, buf, &sz) == SHM_SUCCESS);
    CHECK(sz == sizeof(hello) && std::strcmp(buf, hello) == 0);
    CHECK(SHM_SERVER_SEND(server, hello, sizeof(hello)) == SHM_SUCCESS);
    sz = sizeof(buf);
    CHECK(SHM_CLIENT_RECEIVE(client, buf, &sz) == SHM_SUCCESS);
    CHECK(sz == sizeof(hello) && std::strcmp(buf, hello) == 0);

    // A message of another size than the struct.
    char big[sizeof(point) + 4];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = static_cast<char>('a' + i % 26);
    CHECK(shm_server_send(server, big, sizeof(big)) == SHM_SUCCESS);
    CHECK(SHM_RECV_STRUCT(client, &q) == SHM_ERROR_BUFFER_TOO_SMALL); // left in place
    char got[sizeof(big) + 8];
    std::memset(got, 0, sizeof(got));
    sz = sizeof(got);
    CHECK(SHM_CLIENT_RECEIVE(client, got, &sz) == SHM_SUCCESS);
    CHECK(sz == sizeof(big) && std::memcmp(got, big, sizeof(big)) == 0);
    CHECK(shm_client_send(client, big, 3) == SHM_SUCCESS);
    CHECK(wait_for(g_data, 3, 10000));
    CHECK(SHM_RECV_STRUCT(server, &r) == SHM_ERROR_INVALID_PARAM); // consumed

    shm_stats_t st;
    CHECK(shm_server_get_stats(server, &st) == SHM_SUCCESS);
    CHECK(st.connected == 1 && st.messages_sent == 3 && st.messages_received == 3);
    CHECK(st.bytes_sent == sizeof(point) + sizeof(hello) + sizeof(big));
    CHECK(st.bytes_received == sizeof(point) + sizeof(hello) + 3);
    CHECK(st.messages_lost == 0);
    CHECK(shm_ring_available(shm_server_tx_ring(server)) == config.size);
    shm_stats_t cst;
    CHECK(shm_client_get_stats(client, &cst) == SHM_SUCCESS);
    CHECK(cst.connected == 1 && cst.messages_sent == 3 && cst.messages_received == 3);
    CHECK(cst.bytes_sent == st.bytes_received && cst.bytes_received == st.bytes_sent);
    CHECK(cst.messages_lost == 0);

    // One DATA_AVAILABLE per message the client sent (each waited for before
    // it was read), one CONNECT, no other event.
    CHECK(g_data.load() == 3);
    CHECK(g_connects.load() == 1);
    CHECK(g_other.load() == 0);

    // Zero-copy both ways: reserve/commit, receive_view/release.
    void *room = nullptr;
    CHECK(shm_server_reserve(server, 16, &room) == SHM_SUCCESS);
    std::memcpy(room, hello, sizeof(hello));
    CHECK(shm_server_commit(server, room, sizeof(hello)) == SHM_SUCCESS);
    shm_view_t view;
    CHECK(shm_client_receive_view(client, &view) == SHM_SUCCESS);
    CHECK(view.size == sizeof(hello) && view.from == 0);
    CHECK(std::memcmp(view.data, hello, sizeof(hello)) == 0);
    CHECK(shm_client_release(client, &view) == SHM_SUCCESS);
    CHECK(shm_client_reserve(client, 8, &room) == SHM_SUCCESS);
    CHECK(shm_client_abort(client, room) == SHM_SUCCESS);
    CHECK(shm_client_reserve(client, 8, &room) == SHM_SUCCESS);
    std::memcpy(room, "zc", 3);
    CHECK(shm_client_commit(client, room, 3) == SHM_SUCCESS);
    CHECK(wait_for(g_data, 4, 10000));
    CHECK(shm_server_receive_view(server, &view) == SHM_SUCCESS);
    CHECK(view.size == 3 && std::strcmp(static_cast<const char *>(view.data), "zc") == 0);
    shm_client_id_t from = view.from;
    CHECK(from != 0 && (from & 0xFFu) == 0);
    CHECK(shm_server_release(server, &view) == SHM_SUCCESS);
    CHECK(shm_server_release(server, &view) == SHM_ERROR_INVALID_PARAM);
    CHECK(std::strcmp(shm_strerror(SHM_ERROR_OVERWRITTEN), "unknown error") != 0);

    return 0; // ~endpoints: disconnect, then destroy
}

} // namespace

int main()
{
    int rc = run();
    std::printf("test_cplusplus: %s\n", rc == 0 ? "PASSED" : "FAILED");
    return rc;
}
