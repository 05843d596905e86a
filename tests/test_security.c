/*
 * test_security.c - who can open a channel, and what someone who takes a
 * channel's name first gets (docs/security.md).
 *
 * Linux: two real users. The test runs as root and starts copies of itself
 * as helpers under setpriv, as "nobody" (the squatter) and "daemon" (the
 * victim). A squatter's objects under /dev/shm, of mode 0666 or its lock
 * file, must never be used by the victim's server or client, and nothing
 * the victim sends may end up where the squatter can read it.
 * Windows: objects pre-created under the names the library uses, owned by
 * another user (an owner SID that is not ours, with a NULL DACL: open to
 * everyone), the rights the library opens its objects with, and a server
 * started by a thread that impersonates.
 * Both: a client of a previous server that still maps the old segment
 * cannot write into the channel that a new server created under the name.
 */
#ifndef _WIN32
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "shm_ipc.h"
#include "shm_ringbuffer.h"
#include "testchan.h"
#include "testpeek.h"
#include "testproc.h"

#ifdef _WIN32
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>
#else
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
extern char **environ;
#endif

#define SECRET "XSHM-TOP-SECRET-PAYLOAD"
#define WAIT_MS 20000u

/* Helper exit codes: 0 done, 1 the squatter saw the secret, 2 usage,
 * 3 setup failed, 20 - e: an xshm call failed with error e (e < 0). */
#define EXIT_SAW_SECRET 1
#define EXIT_USAGE 2
#define EXIT_SETUP 3
#define EXIT_ERR(e) (20 - (int)(e))

static shm_ring_config_t small_config(void)
{
    shm_ring_config_t c = SHM_DEFAULT_CONFIG();
    c.size = 4096;
    c.max_readers = 2;
    c.blocking = false;
    c.timeout_ms = 0;
    return c;
}

/* What a helper's exit code says, for messages. */
static const char *exit_text(int code)
{
    static char buf[96];
    if (code == 0)
        return "done";
    if (code == EXIT_SAW_SECRET)
        return "the squatter read the secret";
    if (code == EXIT_SETUP)
        return "helper setup failed (see its output)";
    if (code >= 20 - SHM_ERROR_INVALID_PARAM && code <= 20 - SHM_ERROR_SYSTEM) {
        snprintf(buf, sizeof(buf), "failed: %s", shm_strerror((shm_error_t)(20 - code)));
        return buf;
    }
    snprintf(buf, sizeof(buf), "exit code %d", code);
    return buf;
}

/* True when `needle` occurs in the n bytes at p. */
static bool contains(const void *p, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    const unsigned char *b = (const unsigned char *)p;
    for (size_t i = 0; k <= n && i <= n - k; i++)
        if (b[i] == (unsigned char)needle[0] && memcmp(b + i, needle, k) == 0)
            return true;
    return false;
}

/* Server and client of `name` in this process; the client sends SECRET and
 * the server receives it, the server sends it back. SHM_SUCCESS or why
 * not. */
static shm_error_t exchange_secret(shm_server_t *s, const char *name, shm_client_t **out)
{
    shm_client_t *c = shm_client_connect(name);
    if (!c)
        return shm_last_error();
    char buf[64];
    uint32_t sz = sizeof(buf);
    shm_error_t e = shm_client_send(c, SECRET, sizeof(SECRET));
    bool got = false;
    if (e == SHM_SUCCESS)
        TP_WAIT_UNTIL_SET(got, (sz = sizeof(buf), shm_server_receive(s, buf, &sz) == SHM_SUCCESS),
                          WAIT_MS);
    if (e == SHM_SUCCESS && !got)
        e = SHM_ERROR_TIMEOUT;
    if (e == SHM_SUCCESS)
        e = shm_server_send(s, SECRET, sizeof(SECRET));
    *out = c;
    return e;
}

/* ---- both: a client of the previous server ------------------------------------------ */

/*
 * A server goes away while a client still maps its segment, and a new
 * server creates the channel again under the name. The old client has
 * passed its checks just before (it does not know yet): it writes a message
 * into its ring and its reader slot. None of it may reach the new channel:
 * the new server receives nothing, a new client gets the first slot and a
 * clean exchange. (Before: on Windows the old client's handle kept the
 * name, and the new channel was laid out in the old memory.)
 */
static void test_old_client_cannot_touch_new_channel(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "sec-old");
    shm_ring_config_t cfg = small_config();
    shm_server_t *s1 = tc_server_config(name, &cfg);
    shm_client_t *old = tc_client(name);
    assert_int_equal(shm_client_send(old, "hello", 6), SHM_SUCCESS);
    shm_ring_t *old_tx = shm_client_tx_ring(old);
    assert_non_null(old_tx);
    shm_server_destroy(s1);

    shm_server_t *s2 = shm_server_create(name, &cfg);
    if (!s2)
        fail_msg("new server while an old client maps the old segment: %s",
                 shm_strerror(shm_last_error()));

    /* The old client's late writes: a message in its ring, its slot freed
     * and its cursor moved, as its send and disconnect would do. */
    assert_int_equal(xshm_ring_write(old_tx, "stale", 6), SHM_SUCCESS);
    shm_ring_t *s2_tx = shm_server_tx_ring(s2);
    char buf[64];
    uint32_t sz = sizeof(buf);
    shm_error_t r = shm_server_receive(s2, buf, &sz);
    if (r == SHM_SUCCESS)
        fail_msg("the new server received \"%.*s\", written by a client of the old one",
                 (int)(sz < sizeof(buf) ? sz : sizeof(buf)), buf);
    if (r != SHM_ERROR_EMPTY)
        fail_msg("the new server's receive after an old client's write: %s", shm_strerror(r));
    if (xshm_ring_messages_written(s2_tx) != 0)
        fail_msg("the new server's ring shows %llu messages it never sent",
                 (unsigned long long)xshm_ring_messages_written(s2_tx));

    /* A new client: first slot, clean exchange both ways. */
    shm_client_t *fresh = tc_client(name);
    tc_pass_to_server(s2, fresh, "new");
    sz = sizeof(buf);
    assert_int_equal(shm_server_receive(s2, buf, &sz), SHM_ERROR_EMPTY);
    tc_pass_to_client(s2, fresh, "back");
    shm_stats_t st;
    assert_int_equal(shm_server_get_stats(s2, &st), SHM_SUCCESS);
    assert_int_equal(st.connected, 1);

    shm_client_disconnect(old); /* leaves its slot in the old memory */
    assert_int_equal(shm_server_get_stats(s2, &st), SHM_SUCCESS);
    assert_int_equal(st.connected, 1);
    shm_client_disconnect(fresh);
    shm_server_destroy(s2);
}

/*
 * The same while another process of ours keeps a handle to the old segment
 * (here this process, as a client of an older version might): on Windows
 * the name then outlives the server and cannot be removed. The new server
 * either creates a new segment, or, while the old client is attached,
 * fails with SHM_ERROR_EXISTS; it never lays its channel out under the
 * attached client. Once that client has left, the name can be created
 * again. (Before: on Windows the new channel was laid out in the old
 * memory, and the old client's message reached the new server.)
 */
static void test_old_client_while_name_held(void **state)
{
    (void)state;
    char name[80], os[PLAT_NAME_MAX];
    tp_unique_name(name, sizeof(name), "sec-held");
    shm_ring_config_t cfg = small_config();
    shm_server_t *s1 = tc_server_config(name, &cfg);
    shm_client_t *old = tc_client(name);
    shm_ring_t *old_tx = shm_client_tx_ring(old);
    pk_os_name(os, sizeof(os), name);
#ifdef _WIN32
    HANDLE hold = OpenFileMappingA(FILE_MAP_READ, FALSE, os);
    assert_non_null(hold);
#else
    plat_shm_t hold;
    assert_int_equal(xshm_plat_shm_open(&hold, os), SHM_SUCCESS);
#endif
    shm_server_destroy(s1);

    shm_server_t *s2 = shm_server_create(name, &cfg);
    shm_error_t e = shm_last_error();
    char buf[64];
    uint32_t sz = sizeof(buf);
    if (s2) {
        assert_int_equal(xshm_ring_write(old_tx, "stale", 6), SHM_SUCCESS);
        shm_error_t r = shm_server_receive(s2, buf, &sz);
        if (r == SHM_SUCCESS)
            fail_msg("the new server received \"%.*s\", written by an attached client of the "
                     "old one", (int)(sz < sizeof(buf) ? sz : sizeof(buf)), buf);
        assert_int_equal(r, SHM_ERROR_EMPTY);
        assert_int_equal(xshm_ring_messages_written(shm_server_tx_ring(s2)), 0);
        shm_server_destroy(s2);
    } else {
        print_message("new server while an attached old client's segment is held: %s\n",
                      shm_strerror(e));
        assert_int_equal(e, SHM_ERROR_EXISTS);
    }

    /* The old client gone, a new server gets the name although it is still
     * held, and works. */
    shm_client_disconnect(old);
    s2 = shm_server_create(name, &cfg);
    if (!s2)
        fail_msg("new server once the old client has left: %s", shm_strerror(shm_last_error()));
    shm_client_t *fresh = tc_client(name);
    tc_pass_to_server(s2, fresh, "new");
    shm_client_disconnect(fresh);
    shm_server_destroy(s2);
#ifdef _WIN32
    CloseHandle(hold);
#else
    xshm_plat_shm_close(&hold);
#endif
}

/* ---- Linux: two users ------------------------------------------------------------------- */
#ifndef _WIN32

static char g_exe[4096]; /* this program, where the other users can run it */
static char g_copy_dir[64];

/* "/dev/shm/xshm.<name><suffix>" */
static void obj_path(char *out, size_t n, const char *name, const char *suffix)
{
    snprintf(out, n, "/dev/shm/xshm.%s%s", name, suffix);
}

/* True when every directory on the way to path and path itself can be
 * searched / executed by any user. */
static bool reachable_by_all(const char *path)
{
    char buf[4096];
    snprintf(buf, sizeof(buf), "%s", path);
    struct stat st;
    if (stat(buf, &st) != 0 || !(st.st_mode & S_IXOTH))
        return false;
    for (char *p = strrchr(buf, '/'); p && p != buf; p = strrchr(buf, '/')) {
        *p = '\0';
        if (stat(buf, &st) != 0 || !(st.st_mode & S_IXOTH))
            return false;
    }
    return true;
}

/* Copy file from -> to with mode 0755. */
static bool copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb");
    FILE *out = in ? fopen(to, "wb") : NULL;
    bool ok = in && out;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof(buf), in)) > 0)
        ok = fwrite(buf, 1, n, out) == n;
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        ok = false;
    return ok && chmod(to, 0755) == 0;
}

/* Why the two-user tests cannot run here, or NULL. Finds setpriv and makes
 * sure both users can run this program (copying it to a temporary folder
 * when its own folder is closed to them). */
static const char *two_users_unavailable(void)
{
    if (geteuid() != 0)
        return "needs root to run helpers as the users nobody and daemon";
    if (getpwnam("nobody") == NULL || getpwnam("daemon") == NULL)
        return "the users nobody and daemon do not both exist";
    if (access("/usr/bin/setpriv", X_OK) != 0 && access("/bin/setpriv", X_OK) != 0)
        return "setpriv (util-linux) is missing";
    if (getenv("XSHM_TEST_EMULATOR") && getenv("XSHM_TEST_EMULATOR")[0])
        return "runs under an emulator: the helpers would need it under setpriv too";
    if (g_exe[0])
        return NULL;
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        return "cannot read /proc/self/exe";
    self[n] = '\0';
    if (reachable_by_all(self)) {
        snprintf(g_exe, sizeof(g_exe), "%s", self);
        return NULL;
    }
    snprintf(g_copy_dir, sizeof(g_copy_dir), "/tmp/xshm-sec-XXXXXX");
    if (mkdtemp(g_copy_dir) == NULL || chmod(g_copy_dir, 0755) != 0)
        return "cannot make a temporary folder for a copy of the test program";
    snprintf(g_exe, sizeof(g_exe), "%s/test_security", g_copy_dir);
    if (!copy_file(self, g_exe) || !reachable_by_all(g_exe)) {
        g_exe[0] = '\0';
        return "cannot copy the test program where the other users can run it";
    }
    print_message("(the test program's folder is closed to other users: runs a copy in %s)\n",
                  g_copy_dir);
    return NULL;
}

#define SKIP_UNLESS_TWO_USERS()                                                   \
    do {                                                                         \
        const char *why_ = two_users_unavailable();                              \
        if (why_) {                                                              \
            print_message("skipped: %s\n", why_);                                \
            skip();                                                              \
        }                                                                        \
    } while (0)

/*
 * Start this program's helper `helper` as `user` (its uid, its primary
 * group, no other groups) through setpriv. With `pipes` (int[2]), the
 * helper's fd 3 writes to pipes[0] (read here) and its fd 4 reads what is
 * written to pipes[1] (closing it tells the helper to finish).
 */
static void spawn_as(tp_child_t *c, const char *user, const char *helper,
                     const char *const *args, int *pipes)
{
    struct passwd *pw = getpwnam(user);
    assert_non_null(pw);
    char uid[32], gid[32];
    snprintf(uid, sizeof(uid), "--reuid=%lu", (unsigned long)pw->pw_uid);
    snprintf(gid, sizeof(gid), "--regid=%lu", (unsigned long)pw->pw_gid);
    const char *argv[32];
    size_t k = 0;
    argv[k++] = "setpriv";
    argv[k++] = uid;
    argv[k++] = gid;
    argv[k++] = "--clear-groups";
    argv[k++] = g_exe;
    argv[k++] = "--helper";
    argv[k++] = helper;
    for (size_t i = 0; args && args[i] && k < 31; i++)
        argv[k++] = args[i];
    argv[k] = NULL;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int up[2] = {-1, -1}, down[2] = {-1, -1}, child_w = -1, child_r = -1;
    if (pipes) {
        /* The child's ends go to fds 3 and 4 from copies above them (the
         * pipes themselves may be 3 or 4); every other end is close-on-exec. */
        assert_int_equal(pipe(up), 0);
        assert_int_equal(pipe(down), 0);
        child_w = fcntl(up[1], F_DUPFD_CLOEXEC, 10);
        child_r = fcntl(down[0], F_DUPFD_CLOEXEC, 10);
        assert_true(child_w >= 10 && child_r >= 10);
        close(up[1]);
        close(down[0]);
        assert_int_equal(fcntl(up[0], F_SETFD, FD_CLOEXEC), 0);
        assert_int_equal(fcntl(down[1], F_SETFD, FD_CLOEXEC), 0);
        posix_spawn_file_actions_adddup2(&fa, child_w, 3);
        posix_spawn_file_actions_adddup2(&fa, child_r, 4);
    }
    memset(c, 0, sizeof(*c));
    pid_t pid;
    int e = posix_spawnp(&pid, "setpriv", &fa, NULL, (char *const *)(uintptr_t)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (pipes) {
        close(child_w);
        close(child_r);
        pipes[0] = up[0];
        pipes[1] = down[1];
    }
    if (e != 0)
        fail_msg("posix_spawnp(setpriv): %s", strerror(e));
    c->pid = (uint32_t)pid;
    c->running = 1;
}

/* Run a helper as `user` to its end; its exit code. */
static int run_as(const char *user, const char *helper, const char *const *args)
{
    tp_child_t c;
    spawn_as(&c, user, helper, args, NULL);
    char what[96];
    snprintf(what, sizeof(what), "helper %s (as %s)", helper, user);
    return tc_exit_code(&c, WAIT_MS, what);
}

/* Wait until the helper at the other end of fd writes a byte. */
static bool wait_ready(int fd)
{
    struct pollfd p = {fd, POLLIN, 0};
    int r;
    do {
        r = poll(&p, 1, (int)WAIT_MS);
    } while (r < 0 && errno == EINTR);
    char b;
    return r == 1 && read(fd, &b, 1) == 1;
}

/* In a helper: tell the parent we are ready (fd 3). */
static void say_ready(void)
{
    if (write(3, "R", 1) != 1)
        perror("helper: fd 3");
}

/* In a helper: true once the parent has closed our fd 4. */
static bool told_to_finish(int timeout_ms)
{
    struct pollfd p = {4, POLLIN, 0};
    return poll(&p, 1, timeout_ms) != 0;
}

static void remove_objects(const char *name)
{
    char path[256];
    obj_path(path, sizeof(path), name, "");
    unlink(path);
    obj_path(path, sizeof(path), name, "@lock");
    unlink(path);
}

/* "squat-dead" <name> segment|lock: leave an object of ours, mode 0666,
 * under the name. segment: a channel created, then the process dies
 * without cleaning up, its segment made 0666, its lock file removed. lock:
 * only a lock file, mode 0666. */
static int helper_squat_dead(int argc, char **argv)
{
    if (argc != 3)
        return EXIT_USAGE;
    char path[256];
    if (strcmp(argv[2], "lock") == 0) {
        obj_path(path, sizeof(path), argv[1], "@lock");
        int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
        if (fd < 0 || fchmod(fd, 0666) != 0) {
            perror("squat-dead: lock file");
            return EXIT_SETUP;
        }
        close(fd);
        return 0;
    }
    shm_ring_config_t cfg = small_config();
    shm_server_t *s = shm_server_create(argv[1], &cfg);
    if (!s)
        return EXIT_ERR(shm_last_error());
    obj_path(path, sizeof(path), argv[1], "");
    if (chmod(path, 0666) != 0) {
        perror("squat-dead: chmod");
        return EXIT_SETUP;
    }
    obj_path(path, sizeof(path), argv[1], "@lock");
    unlink(path);
    _exit(0); /* dies: the server is never destroyed */
}

/* "squat-live" <name> <mode>: a server of ours whose segment has mode
 * <mode> (octal); ready on fd 3; receives until fd 4 closes, then exits
 * EXIT_SAW_SECRET if a message held the secret. */
static int helper_squat_live(int argc, char **argv)
{
    if (argc != 3)
        return EXIT_USAGE;
    shm_ring_config_t cfg = small_config();
    shm_server_t *s = shm_server_create(argv[1], &cfg);
    if (!s)
        return EXIT_ERR(shm_last_error());
    char path[256];
    obj_path(path, sizeof(path), argv[1], "");
    if (chmod(path, (mode_t)strtoul(argv[2], NULL, 8)) != 0) {
        perror("squat-live: chmod");
        return EXIT_SETUP;
    }
    say_ready();
    bool saw = false, done = false;
    for (;;) {
        char buf[256];
        uint32_t sz = sizeof(buf);
        while (shm_server_receive(s, buf, &sz) == SHM_SUCCESS) {
            if (contains(buf, sz, SECRET))
                saw = true;
            sz = sizeof(buf);
        }
        if (done)
            break;
        done = told_to_finish(1); /* one more pass after the word */
    }
    printf("squat-live (uid %u): %s\n", (unsigned)getuid(),
           saw ? "received the secret" : "received no secret");
    shm_server_destroy(s);
    return saw ? EXIT_SAW_SECRET : 0;
}

/* "serve" <name>: create the channel, exchange the secret with a client of
 * our own, close everything. */
static int helper_serve(int argc, char **argv)
{
    if (argc != 2)
        return EXIT_USAGE;
    shm_ring_config_t cfg = small_config();
    shm_server_t *s = shm_server_create(argv[1], &cfg);
    if (!s) {
        shm_error_t e = shm_last_error();
        printf("serve (uid %u): create: %s\n", (unsigned)getuid(), shm_strerror(e));
        return EXIT_ERR(e);
    }
    shm_client_t *c = NULL;
    shm_error_t e = exchange_secret(s, argv[1], &c);
    printf("serve (uid %u): created; exchange: %s\n", (unsigned)getuid(), shm_strerror(e));
    shm_client_disconnect(c);
    shm_server_destroy(s);
    return e == SHM_SUCCESS ? 0 : EXIT_ERR(e);
}

/* "send" <name>: connect and send the secret. */
static int helper_send(int argc, char **argv)
{
    if (argc != 2)
        return EXIT_USAGE;
    shm_client_t *c = shm_client_connect(argv[1]);
    if (!c) {
        shm_error_t e = shm_last_error();
        printf("send (uid %u): connect: %s\n", (unsigned)getuid(), shm_strerror(e));
        return EXIT_ERR(e);
    }
    shm_error_t e = shm_client_send(c, SECRET, sizeof(SECRET));
    printf("send (uid %u): connected; send: %s\n", (unsigned)getuid(), shm_strerror(e));
    shm_client_disconnect(c);
    return e == SHM_SUCCESS ? 0 : EXIT_ERR(e);
}

/* "spy" <name>: read the object under the name; EXIT_SAW_SECRET if the
 * secret is in it. */
static int helper_spy(int argc, char **argv)
{
    if (argc != 2)
        return EXIT_USAGE;
    char path[256];
    obj_path(path, sizeof(path), argv[1], "");
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || st.st_size <= 0) {
        perror("spy: open");
        return EXIT_SETUP;
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (p == MAP_FAILED) {
        perror("spy: mmap");
        return EXIT_SETUP;
    }
    bool saw = contains(p, (size_t)st.st_size, SECRET);
    munmap(p, (size_t)st.st_size);
    return saw ? EXIT_SAW_SECRET : 0;
}

/* Owner and mode of a path, for preconditions. */
static void expect_owner_mode(const char *path, const char *user, unsigned mode)
{
    struct stat st;
    if (stat(path, &st) != 0)
        fail_msg("setup: %s: %s", path, strerror(errno));
    struct passwd *pw = getpwnam(user);
    assert_non_null(pw);
    if (st.st_uid != pw->pw_uid || (st.st_mode & 07777) != mode)
        fail_msg("setup: %s has uid %u mode %04o, expected %s's and %04o", path,
                 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777), user, mode);
}

/*
 * nobody creates a channel, dies without cleaning up and makes its segment
 * 0666. daemon then creates a server of that name: the sticky /dev/shm
 * stops it from removing nobody's object. It must not use it: it gets
 * SHM_ERROR_ACCESS, and nobody finds nothing of daemon's in its object.
 * (Before: daemon's server laid its channel out in nobody's object and
 * nobody read the secret daemon's client sent.)
 */
static void test_squatted_segment_refused(void **state)
{
    (void)state;
    SKIP_UNLESS_TWO_USERS();
    char name[80], path[256];
    tp_unique_name(name, sizeof(name), "sec-seg");
    const char *squat_args[] = {name, "segment", NULL};
    int code = run_as("nobody", "squat-dead", squat_args);
    if (code != 0)
        fail_msg("setup: nobody's channel: %s", exit_text(code));
    obj_path(path, sizeof(path), name, "");
    expect_owner_mode(path, "nobody", 0666);

    const char *args[] = {name, NULL};
    int serve = run_as("daemon", "serve", args);
    int spy = run_as("nobody", "spy", args);
    remove_objects(name);
    if (spy == EXIT_SAW_SECRET)
        fail_msg("daemon's server used nobody's object (server: %s): nobody read the secret",
                 exit_text(serve));
    if (spy != 0)
        fail_msg("nobody's spy: %s", exit_text(spy));
    if (serve != EXIT_ERR(SHM_ERROR_ACCESS))
        fail_msg("daemon's server over nobody's object: %s, expected %s", exit_text(serve),
                 shm_strerror(SHM_ERROR_ACCESS));
}

/*
 * nobody leaves a lock file /dev/shm/xshm.<name>@lock of mode 0666. A
 * server of daemon must not take its lock on it (nobody could hold it to
 * block daemon, or remove it under daemon's running server so that a second
 * server of daemon takes the name too): SHM_ERROR_ACCESS. (Before: daemon's
 * server ran on nobody's lock file.)
 */
static void test_squatted_lock_refused(void **state)
{
    (void)state;
    SKIP_UNLESS_TWO_USERS();
    char name[80], path[256];
    tp_unique_name(name, sizeof(name), "sec-lock");
    const char *squat_args[] = {name, "lock", NULL};
    int code = run_as("nobody", "squat-dead", squat_args);
    if (code != 0)
        fail_msg("setup: nobody's lock file: %s", exit_text(code));
    obj_path(path, sizeof(path), name, "@lock");
    expect_owner_mode(path, "nobody", 0666);

    const char *args[] = {name, NULL};
    int serve = run_as("daemon", "serve", args);
    remove_objects(name);
    if (serve != EXIT_ERR(SHM_ERROR_ACCESS))
        fail_msg("daemon's server with nobody's lock file: %s, expected %s", exit_text(serve),
                 shm_strerror(SHM_ERROR_ACCESS));
}

/* A live server of `squatter` whose segment has `mode`; `client` connects
 * (another user through a helper, or NULL: this process, root) and sends
 * the secret. Returns the client's outcome (exit code); *saw: the squatter
 * received the secret. */
static int squatter_vs_client(const char *name, const char *mode, const char *client, bool *saw)
{
    tp_child_t sq;
    int pipes[2];
    const char *sq_args[] = {name, mode, NULL};
    spawn_as(&sq, "nobody", "squat-live", sq_args, pipes);
    if (!wait_ready(pipes[0])) {
        tp_kill(&sq);
        fail_msg("setup: nobody's server did not get ready");
    }
    int result;
    if (client) {
        const char *args[] = {name, NULL};
        result = run_as(client, "send", args);
    } else {
        shm_client_t *c = shm_client_connect(name);
        shm_error_t e = c ? shm_client_send(c, SECRET, sizeof(SECRET)) : shm_last_error();
        if (c)
            shm_client_disconnect(c);
        result = e == SHM_SUCCESS ? 0 : EXIT_ERR(e);
    }
    close(pipes[1]); /* squatter: finish */
    int code = -1;
    tp_wait_or_kill(&sq, WAIT_MS, &code);
    close(pipes[0]);
    remove_objects(name);
    if (code != 0 && code != EXIT_SAW_SECRET)
        fail_msg("nobody's server: %s", exit_text(code));
    *saw = code == EXIT_SAW_SECRET;
    return result;
}

/*
 * nobody runs a server under the name with its segment made 0666. A client
 * of daemon must not connect to it (the object is not daemon's): it gets
 * SHM_ERROR_ACCESS and nobody receives nothing. (Before: daemon's client
 * connected and nobody received the secret.)
 */
static void test_client_refuses_squatter(void **state)
{
    (void)state;
    SKIP_UNLESS_TWO_USERS();
    char name[80];
    tp_unique_name(name, sizeof(name), "sec-cli");
    bool saw = false;
    int client = squatter_vs_client(name, "0666", "daemon", &saw);
    if (saw)
        fail_msg("daemon's client connected to nobody's server (%s): nobody received the secret",
                 exit_text(client));
    if (client != EXIT_ERR(SHM_ERROR_ACCESS))
        fail_msg("daemon's client to nobody's channel: %s, expected %s", exit_text(client),
                 shm_strerror(SHM_ERROR_ACCESS));
}

/*
 * The same with nobody's segment left at 0600: only root can open it, and
 * root's client must not connect either (the object is not root's): a
 * client talks only to a server of its own user. (Before: root connected
 * and nobody received the secret.)
 */
static void test_root_client_refuses_other_user(void **state)
{
    (void)state;
    SKIP_UNLESS_TWO_USERS();
    char name[80];
    tp_unique_name(name, sizeof(name), "sec-root");
    bool saw = false;
    int client = squatter_vs_client(name, "0600", NULL, &saw);
    if (saw)
        fail_msg("root's client connected to nobody's server (%s): nobody received the secret",
                 exit_text(client));
    if (client != EXIT_ERR(SHM_ERROR_ACCESS))
        fail_msg("root's client to nobody's channel: %s, expected %s", exit_text(client),
                 shm_strerror(SHM_ERROR_ACCESS));
}

/*
 * One user: a channel whose segment someone made 0666 (every user may have
 * mapped it meanwhile) is refused by a client: SHM_ERROR_ACCESS. Runs
 * without root. (Before: the client connected.)
 */
static void test_client_refuses_loose_mode(void **state)
{
    (void)state;
    char name[80], path[256];
    tp_unique_name(name, sizeof(name), "sec-mode");
    shm_ring_config_t cfg = small_config();
    shm_server_t *s = tc_server_config(name, &cfg);
    obj_path(path, sizeof(path), name, "");
    assert_int_equal(chmod(path, 0666), 0);
    shm_client_t *c = shm_client_connect(name);
    shm_error_t e = shm_last_error();
    if (c) {
        shm_client_disconnect(c);
        shm_server_destroy(s);
        fail_msg("a client connected to a channel whose segment has mode 0666");
    }
    shm_server_destroy(s);
    assert_int_equal(e, SHM_ERROR_ACCESS);
}

#endif /* !_WIN32 */

/* ---- Windows: objects of another owner ---------------------------------------------------- */
#ifdef _WIN32

#define OTHER_SID "S-1-5-21-1-2-3-1001" /* an owner that is not us */

/*
 * Security attributes of a squatter: owner OTHER_SID, NULL DACL (everyone
 * may do anything). False (and a message) when the OS does not let us name
 * another owner (Windows without SeRestorePrivilege; Wine allows it).
 */
typedef struct squat_sec {
    SECURITY_ATTRIBUTES sa;
    SECURITY_DESCRIPTOR sd;
    PSID owner;
} squat_sec_t;

static void squat_sec_init(squat_sec_t *q)
{
    memset(q, 0, sizeof(*q));
    assert_true(ConvertStringSidToSidA(OTHER_SID, &q->owner));
    assert_true(InitializeSecurityDescriptor(&q->sd, SECURITY_DESCRIPTOR_REVISION));
    assert_true(SetSecurityDescriptorDacl(&q->sd, TRUE, NULL, FALSE));
    assert_true(SetSecurityDescriptorOwner(&q->sd, q->owner, FALSE));
    q->sa.nLength = sizeof(q->sa);
    q->sa.lpSecurityDescriptor = &q->sd;
}

static void squat_sec_free(squat_sec_t *q) { LocalFree(q->owner); }

/* Skip when creating an object owned by another SID was refused. */
static void skip_if_owner_refused(HANDLE h, const char *what)
{
    if (h == NULL && GetLastError() == ERROR_INVALID_OWNER) {
        print_message("skipped: this system does not let a process make a %s owned by %s "
                      "(needs SeRestorePrivilege); Wine does\n",
                      what, OTHER_SID);
        skip();
    }
}

/* The bytes of the live channel `name` (its segment, total_size bytes). */
static void *copy_segment(const char *name, size_t *size)
{
    char os[128];
    snprintf(os, sizeof(os), "Local\\xshm.%s", name);
    HANDLE h = OpenFileMappingA(FILE_MAP_READ, FALSE, os);
    assert_non_null(h);
    const xshm_seg_header_t *hdr = (const xshm_seg_header_t *)MapViewOfFile(h, FILE_MAP_READ, 0, 0, 0);
    assert_non_null(hdr);
    *size = (size_t)hdr->total_size;
    void *copy = malloc(*size);
    assert_non_null(copy);
    memcpy(copy, hdr, *size);
    UnmapViewOfFile(hdr);
    CloseHandle(h);
    return copy;
}

/* The bytes of the segment of a channel made under `name` with config cfg
 * (its server gone again). */
static void *copy_new_segment(const char *name, const shm_ring_config_t *cfg, size_t *size)
{
    shm_server_t *s0 = tc_server_config(name, cfg);
    void *bytes = copy_segment(name, size);
    shm_server_destroy(s0);
    return bytes;
}

/* A squatter's section "Local\xshm.<name>" holding `bytes`; its view. */
static HANDLE squat_section(const char *name, const void *bytes, size_t size, void **view)
{
    char os[128];
    snprintf(os, sizeof(os), "Local\\xshm.%s", name);
    squat_sec_t q;
    squat_sec_init(&q);
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, &q.sa, PAGE_READWRITE, 0, (DWORD)size, os);
    squat_sec_free(&q);
    skip_if_owner_refused(h, "section");
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0); /* a new object, not a leftover */
    *view = MapViewOfFile(h, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, 0);
    assert_non_null(*view);
    memcpy(*view, bytes, size);
    return h;
}

/* A squatter's event `os` (manual reset, signalled). */
static HANDLE squat_event(const char *os)
{
    squat_sec_t q;
    squat_sec_init(&q);
    HANDLE h = CreateEventA(&q.sa, TRUE, TRUE, os);
    squat_sec_free(&q);
    skip_if_owner_refused(h, "event");
    assert_non_null(h);
    assert_int_equal(GetLastError(), 0);
    return h;
}

/*
 * Another user made "Local\xshm.<name>" first: a section with a NULL DACL
 * whose header is a valid channel's, its creator gone. shm_server_create
 * must not lay its channel out in it: SHM_ERROR_ACCESS. (Before: the server
 * took the section over and the squatter read the secret from it.)
 */
static void test_win_squatted_section_server(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "sec-wsec");
    shm_ring_config_t cfg = small_config();
    size_t size;
    void *bytes = copy_new_segment(name, &cfg, &size);
    xshm_seg_header_t *h = (xshm_seg_header_t *)bytes;
    h->creator_pid = 0xFFFFFFF0u; /* no such process */
    h->state = SHM_SEG_CLOSED;
    void *view;
    HANDLE sq = squat_section(name, bytes, size, &view);
    free(bytes);

    shm_server_t *s = shm_server_create(name, &cfg);
    shm_error_t e = shm_last_error();
    if (s) {
        shm_client_t *c = NULL;
        shm_error_t x = exchange_secret(s, name, &c);
        bool leaked = contains(view, size, SECRET);
        shm_client_disconnect(c);
        shm_server_destroy(s);
        UnmapViewOfFile(view);
        CloseHandle(sq);
        fail_msg("the server used another user's section (exchange: %s)%s", shm_strerror(x),
                 leaked ? ": the squatter read the secret" : "");
    }
    UnmapViewOfFile(view);
    CloseHandle(sq);
    assert_int_equal(e, SHM_ERROR_ACCESS);
}

/* The wake-up event names of generation gen (as xshm_wake_name builds them,
 * src/shm_names.c). */
static void wake_event_name(char *out, size_t n, const char *name, uint64_t gen,
                            const char *what, uint32_t i)
{
    snprintf(out, n, "Local\\xshm.%s@%08x%08x.%s%u", name, (unsigned)(gen >> 32), (unsigned)gen,
             what, (unsigned)i);
}

/*
 * Another user runs a fake channel under the name: a section with a NULL
 * DACL holding a ready channel whose creator (this process) is alive, and
 * the wake-up events its clients open. A client must not connect:
 * SHM_ERROR_ACCESS. (Before: it connected and the squatter read the secret
 * it sent.)
 */
static void test_win_squatted_section_client(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "sec-wcli");
    shm_ring_config_t cfg = small_config();
    size_t size;
    void *bytes = copy_new_segment(name, &cfg, &size);
    const xshm_seg_header_t *h = (const xshm_seg_header_t *)bytes;
    assert_int_equal(h->state, SHM_SEG_READY);
    void *view;
    HANDLE sq = squat_section(name, bytes, size, &view);
    HANDLE ev[1 + SHM_MAX_READERS];
    char os[160];
    wake_event_name(os, sizeof(os), name, h->generation, "s", 0);
    ev[0] = squat_event(os);
    for (uint32_t i = 0; i < cfg.max_readers; i++) {
        wake_event_name(os, sizeof(os), name, h->generation, "c", i);
        ev[1 + i] = squat_event(os);
    }
    free(bytes);

    shm_client_t *c = shm_client_connect(name);
    shm_error_t e = shm_last_error();
    bool leaked = false;
    if (c) {
        (void)shm_client_send(c, SECRET, sizeof(SECRET));
        leaked = contains(view, size, SECRET);
        shm_client_disconnect(c);
    }
    for (uint32_t i = 0; i <= cfg.max_readers; i++)
        CloseHandle(ev[i]);
    UnmapViewOfFile(view);
    CloseHandle(sq);
    if (c)
        fail_msg("a client connected to another user's section%s",
                 leaked ? ": the squatter read the secret" : "");
    assert_int_equal(e, SHM_ERROR_ACCESS);
}

/*
 * Another user made the channel's lock event "Local\xshm.<name>@lock": the
 * server cannot have the name, and says whose fault it is:
 * SHM_ERROR_ACCESS, not SHM_ERROR_EXISTS (which means a live server of
 * ours). (Before: SHM_ERROR_EXISTS.)
 */
static void test_win_squatted_lock(void **state)
{
    (void)state;
    char name[80], os[160];
    tp_unique_name(name, sizeof(name), "sec-wlock");
    snprintf(os, sizeof(os), "Local\\xshm.%s@lock", name);
    HANDLE ev = squat_event(os);
    shm_ring_config_t cfg = small_config();
    shm_server_t *s = shm_server_create(name, &cfg);
    shm_error_t e = shm_last_error();
    if (s)
        shm_server_destroy(s);
    CloseHandle(ev);
    if (s)
        fail_msg("the server started on another user's lock event");
    assert_int_equal(e, SHM_ERROR_ACCESS);
}

/*
 * A wake-up event name (it carries a new generation, so nothing of the
 * channel can have it yet) that someone made first: a manual-reset event
 * left signalled would make every sleeper spin, an auto-reset one that its
 * maker waits on would steal wake-ups. Creating it fails: another user's is
 * SHM_ERROR_ACCESS, one of ours SHM_ERROR_EXISTS. (Before: the existing
 * event was used.)
 */
static void test_win_squatted_wake_event(void **state)
{
    (void)state;
    char name[80], os[160];
    tp_unique_name(name, sizeof(name), "sec-wev");
    wake_event_name(os, sizeof(os), name, 0x0123456789abcdefull, "c", 0);
    HANDLE ev = squat_event(os);
    plat_wake_t w;
    memset(&w, 0, sizeof(w));
    shm_error_t e = xshm_plat_wake_open(&w, os, true);
    xshm_plat_wake_close(&w);
    CloseHandle(ev);
    if (e == SHM_SUCCESS)
        fail_msg("created a wake-up object over another user's signalled manual-reset event");
    assert_int_equal(e, SHM_ERROR_ACCESS);

    plat_wake_t mine, again;
    memset(&again, 0, sizeof(again));
    assert_int_equal(xshm_plat_wake_open(&mine, os, true), SHM_SUCCESS);
    e = xshm_plat_wake_open(&again, os, true);
    xshm_plat_wake_close(&again);
    xshm_plat_wake_close(&mine);
    assert_int_equal(e, SHM_ERROR_EXISTS);
}

/*
 * A section whose DACL grants us only what mapping it read-write needs
 * (SECTION_MAP_READ | SECTION_MAP_WRITE, plus SECTION_QUERY and
 * READ_CONTROL), owned by us: xshm_plat_shm_open must open it. It asks for no
 * more than that. (Before: it asked for FILE_MAP_ALL_ACCESS and was
 * refused.)
 */
static void test_win_open_needs_read_write_only(void **state)
{
    (void)state;
    char name[80], os[160];
    tp_unique_name(name, sizeof(name), "sec-wrw");
    snprintf(os, sizeof(os), "Local\\xshm.%s", name);

    HANDLE tok;
    assert_true(OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &tok));
    union {
        TOKEN_USER tu;
        BYTE bytes[256];
    } u;
    DWORD len;
    assert_true(GetTokenInformation(tok, TokenUser, &u, sizeof(u), &len));
    CloseHandle(tok);
    union {
        ACL acl;
        BYTE bytes[256];
    } a;
    assert_true(InitializeAcl(&a.acl, sizeof(a), ACL_REVISION));
    assert_true(AddAccessAllowedAce(&a.acl, ACL_REVISION,
                                    SECTION_MAP_READ | SECTION_MAP_WRITE | SECTION_QUERY |
                                        READ_CONTROL,
                                    u.tu.User.Sid));
    SECURITY_DESCRIPTOR sd;
    assert_true(InitializeSecurityDescriptor(&sd, SECURITY_DESCRIPTOR_REVISION));
    assert_true(SetSecurityDescriptorDacl(&sd, TRUE, &a.acl, FALSE));
    assert_true(SetSecurityDescriptorOwner(&sd, u.tu.User.Sid, FALSE));
    SECURITY_ATTRIBUTES sa = {sizeof(sa), &sd, FALSE};
    HANDLE h = CreateFileMappingA(INVALID_HANDLE_VALUE, &sa, PAGE_READWRITE, 0, 65536, os);
    assert_non_null(h);

    plat_shm_t shm;
    shm_error_t e = xshm_plat_shm_open(&shm, os);
    int code = 0;
    const char *fn = xshm_plat_last_os_error(&code);
    if (e == SHM_SUCCESS) {
        ((volatile char *)shm.base)[0] = 1; /* mapped writable */
        xshm_plat_shm_close(&shm);
    }
    CloseHandle(h);
    if (e != SHM_SUCCESS)
        fail_msg("open with read-write rights only: %s (%s: %d)", shm_strerror(e), fn, code);
}

/* "impersonate" <name>: impersonate ourselves with a token whose identity
 * cannot open the process token (as a service acting for a client), then
 * create a channel and exchange a message on it. */
static int helper_impersonate(int argc, char **argv)
{
    if (argc != 2)
        return EXIT_USAGE;
    if (!ImpersonateSelf(SecurityImpersonation)) {
        printf("impersonate: ImpersonateSelf: %lu\n", GetLastError());
        return EXIT_SETUP;
    }
    HANDLE pt;
    if (!OpenProcessToken(GetCurrentProcess(), WRITE_DAC, &pt)) {
        printf("impersonate: OpenProcessToken(WRITE_DAC): %lu\n", GetLastError());
        return EXIT_SETUP;
    }
    union {
        ACL acl;
        BYTE bytes[64];
    } a;
    InitializeAcl(&a.acl, sizeof(a), ACL_REVISION); /* empty: no one */
    DWORD r = SetSecurityInfo(pt, SE_KERNEL_OBJECT,
                              DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                              NULL, NULL, &a.acl, NULL);
    CloseHandle(pt);
    HANDLE q;
    if (r != ERROR_SUCCESS || OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &q)) {
        printf("impersonate: could not close the process token to the thread (%lu)\n", r);
        return EXIT_SETUP;
    }
    shm_ring_config_t cfg = small_config();
    shm_server_t *s = shm_server_create(argv[1], &cfg);
    if (!s) {
        shm_error_t e = shm_last_error();
        int code = 0;
        const char *fn = xshm_plat_last_os_error(&code);
        printf("impersonate: create: %s (%s: %d)\n", shm_strerror(e), fn, code);
        return EXIT_ERR(e);
    }
    shm_client_t *c = NULL;
    shm_error_t e = exchange_secret(s, argv[1], &c);
    printf("impersonate: created; exchange: %s\n", shm_strerror(e));
    shm_client_disconnect(c);
    shm_server_destroy(s);
    return e == SHM_SUCCESS ? 0 : EXIT_ERR(e);
}

/*
 * A server started by a thread that impersonates a client whose identity
 * may not open the process token: the objects are made for the thread's
 * user (its token), and creating the channel works. (Before: the process
 * token was opened, which failed: SHM_ERROR_ACCESS.) Wine gives every token
 * the same user, so that the owner taken from the thread's token rather
 * than the process's cannot be told apart here by the owner alone.
 */
static void test_win_server_while_impersonating(void **state)
{
    (void)state;
    char name[80];
    tp_unique_name(name, sizeof(name), "sec-wimp");
    tp_child_t c;
    const char *args[] = {name, NULL};
    assert_int_equal(tp_spawn_self(&c, "impersonate", args), 0);
    int code = tc_exit_code(&c, WAIT_MS, "the impersonating helper");
    if (code == EXIT_SETUP) {
        print_message("skipped: the helper could not set up the impersonation (see its output)\n");
        skip();
    }
    if (code != 0)
        fail_msg("server while impersonating: %s", exit_text(code));
}

#endif /* _WIN32 */

/* ---- main ----------------------------------------------------------------------------------- */

static const tp_helper_t helpers[] = {
#ifndef _WIN32
    {"squat-dead", helper_squat_dead},
    {"squat-live", helper_squat_live},
    {"serve", helper_serve},
    {"send", helper_send},
    {"spy", helper_spy},
#else
    {"impersonate", helper_impersonate},
#endif
    {NULL, NULL}};

/* A Linux-only or Windows-only test, named on the other system as skipped. */
#define SKIPPED_ON_THIS_OS(fn, why)                                              \
    static void fn(void **state)                                                 \
    {                                                                            \
        (void)state;                                                             \
        print_message("skipped: %s\n", why);                                     \
        skip();                                                                  \
    }

#ifdef _WIN32
#define LINUX_ONLY "Linux only (two users, /dev/shm)"
SKIPPED_ON_THIS_OS(test_squatted_segment_refused, LINUX_ONLY)
SKIPPED_ON_THIS_OS(test_squatted_lock_refused, LINUX_ONLY)
SKIPPED_ON_THIS_OS(test_client_refuses_squatter, LINUX_ONLY)
SKIPPED_ON_THIS_OS(test_root_client_refuses_other_user, LINUX_ONLY)
SKIPPED_ON_THIS_OS(test_client_refuses_loose_mode, LINUX_ONLY)
#else
#define WINDOWS_ONLY "Windows only (security descriptors, named events)"
SKIPPED_ON_THIS_OS(test_win_squatted_section_server, WINDOWS_ONLY)
SKIPPED_ON_THIS_OS(test_win_squatted_section_client, WINDOWS_ONLY)
SKIPPED_ON_THIS_OS(test_win_squatted_lock, WINDOWS_ONLY)
SKIPPED_ON_THIS_OS(test_win_squatted_wake_event, WINDOWS_ONLY)
SKIPPED_ON_THIS_OS(test_win_open_needs_read_write_only, WINDOWS_ONLY)
SKIPPED_ON_THIS_OS(test_win_server_while_impersonating, WINDOWS_ONLY)
#endif

static int cleanup(void **state)
{
    (void)state;
#ifndef _WIN32
    if (g_copy_dir[0]) {
        unlink(g_exe);
        rmdir(g_copy_dir);
    }
#endif
    return 0;
}

int main(int argc, char **argv)
{
    int rc;
    if (tp_dispatch(argc, argv, helpers, &rc))
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_client_cannot_touch_new_channel),
        cmocka_unit_test(test_old_client_while_name_held),
        cmocka_unit_test(test_squatted_segment_refused),
        cmocka_unit_test(test_squatted_lock_refused),
        cmocka_unit_test(test_client_refuses_squatter),
        cmocka_unit_test(test_root_client_refuses_other_user),
        cmocka_unit_test(test_client_refuses_loose_mode),
        cmocka_unit_test(test_win_squatted_section_server),
        cmocka_unit_test(test_win_squatted_section_client),
        cmocka_unit_test(test_win_squatted_lock),
        cmocka_unit_test(test_win_squatted_wake_event),
        cmocka_unit_test(test_win_open_needs_read_write_only),
        cmocka_unit_test(test_win_server_while_impersonating),
    };
    return cmocka_run_group_tests(tests, NULL, cleanup);
}
