/*
 * test_support.c - the programs' support library (support/): the histogram's
 * quantiles, the clock, threads and flags, starting a copy of this program
 * and reading its exit code, killing it, pinning. The benchmark's and the
 * stress pair's figures rest on these.
 *
 * With "--exit N" the program only exits with status N (a copy of it is the
 * child of the spawning tests); with "--wait" it waits until it is killed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#ifdef _WIN32
#include <windows.h>
#endif

#include "xsupport.h"

static xs_hist_t g_hist; /* 37 KiB: not on the stack */

static void test_hist_exact_below_256(void **state)
{
    (void)state;
    xs_hist_reset(&g_hist);
    assert_true(xs_hist_quantile(&g_hist, 0.5) == 0.0);
    assert_true(xs_hist_mean(&g_hist) == 0.0);
    for (uint64_t v = 1; v <= 100; v++)
        xs_hist_add(&g_hist, v);
    assert_int_equal(g_hist.n, 100);
    assert_int_equal(g_hist.max, 100);
    /* nearest rank: the 50th of 100 values is 50, the 99th is 99 */
    assert_true(xs_hist_quantile(&g_hist, 0.5) == 50.0);
    assert_true(xs_hist_quantile(&g_hist, 0.99) == 99.0);
    assert_true(xs_hist_quantile(&g_hist, 1.0) == 100.0);
    assert_true(xs_hist_quantile(&g_hist, 0.0) == 1.0);
    assert_true(xs_hist_mean(&g_hist) == 50.5);
}

static void within(double got, double want, double rel)
{
    double d = got > want ? got - want : want - got;
    if (d > want * rel)
        fail_msg("%.1f is not within %.2f %% of %.1f", got, rel * 100, want);
}

static void test_hist_large_values_within_bound(void **state)
{
    (void)state;
    static const uint64_t values[] = {300, 1000, 4097, 65535, 1000000, 123456789,
                                      (uint64_t)1 << 39};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        xs_hist_reset(&g_hist);
        xs_hist_add(&g_hist, values[i]);
        /* one value: every quantile is it, within the bucket's 0.8 %, and
         * never above the exact maximum */
        double q = xs_hist_quantile(&g_hist, 0.5);
        within(q, (double)values[i], 0.008);
        assert_true(q <= (double)values[i]);
    }
    /* a million small and one huge: p50 small, p100 the huge one exactly */
    xs_hist_reset(&g_hist);
    for (int i = 0; i < 1000000; i++)
        xs_hist_add(&g_hist, 200);
    xs_hist_add(&g_hist, 5000000);
    assert_true(xs_hist_quantile(&g_hist, 0.5) == 200.0);
    assert_true(xs_hist_quantile(&g_hist, 0.999999) == 200.0);
    within(xs_hist_quantile(&g_hist, 1.0), 5000000.0, 0.008);
    assert_int_equal(g_hist.max, 5000000);
}

static void test_clock_monotonic_and_sleep(void **state)
{
    (void)state;
    uint64_t prev = xs_now_ns();
    for (int i = 0; i < 100000; i++) {
        uint64_t now = xs_now_ns();
        assert_true(now >= prev);
        prev = now;
    }
    /* the sleep is what is tested here: it lasts at least what it was asked */
    uint64_t t0 = xs_now_ns();
    xs_sleep_ms(30);
    uint64_t slept = xs_now_ns() - t0;
    if (slept < 29000000u)
        fail_msg("xs_sleep_ms(30) returned after %llu ns", (unsigned long long)slept);
    uint64_t ms0 = xs_now_ms();
    assert_true(ms0 >= t0 / 1000000u);
}

typedef struct {
    int value;
    xs_flag_t done;
} thread_arg_t;

static void thread_body(void *p)
{
    thread_arg_t *a = (thread_arg_t *)p;
    a->value = 42;
    xs_flag_raise(&a->done);
}

static void test_thread_and_flag(void **state)
{
    (void)state;
    thread_arg_t a = {0, 0};
    xs_thread_t t;
    assert_false(xs_flag_is_up(&a.done));
    assert_true(xs_thread_start(&t, thread_body, &a));
    xs_thread_join(&t);
    assert_true(xs_flag_is_up(&a.done));
    assert_int_equal(a.value, 42);
}

static void test_spawn_self_exit_code(void **state)
{
    (void)state;
    static const char *const codes[] = {"0", "7", "100"};
    for (size_t i = 0; i < 3; i++) {
        const char *args[] = {"--exit", codes[i], NULL};
        xs_proc_t p;
        memset(&p, 0, sizeof p);
        assert_int_equal(xs_spawn_self(&p, args), 0);
        assert_true(p.pid != 0);
        int code = -1;
        assert_int_equal(xs_proc_wait(&p, 60000, &code), 0);
        assert_int_equal(code, atoi(codes[i]));
        assert_false(xs_proc_alive(&p));
    }
}

static void test_spawn_kill(void **state)
{
    (void)state;
    const char *args[] = {"--wait", NULL};
    xs_proc_t p;
    memset(&p, 0, sizeof p);
    assert_int_equal(xs_spawn_self(&p, args), 0);
    /* it waits for its parent to go: still running after a short wait */
    assert_int_equal(xs_proc_wait(&p, 50, NULL), -1);
    assert_true(xs_proc_alive(&p));
    xs_proc_kill(&p);
    assert_false(xs_proc_alive(&p));
    xs_proc_kill(&p); /* a reaped child: nothing happens */
}

static void test_pin_to_allowed_cpu(void **state)
{
    (void)state;
    int cpus[256];
    assert_true(xs_cpu_count() >= 1);
    int n = xs_cpus_allowed(cpus, 256);
    assert_true(n >= 1);
    int last = cpus[n - 1];
    assert_true(last >= 0);
    assert_true(xs_pin_to(last));
#ifdef _WIN32
    /* the thread's mask is now that CPU alone (setting it again returns it) */
    assert_true(SetThreadAffinityMask(GetCurrentThread(), (DWORD_PTR)1 << last) ==
                ((DWORD_PTR)1 << last));
#else
    /* now this is the only CPU allowed */
    assert_int_equal(xs_cpus_allowed(cpus, 256), 1);
    assert_int_equal(cpus[0], last);
#endif
    assert_false(xs_pin_to(-1));
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "--exit") == 0)
        return atoi(argv[2]);
    if (argc == 2 && strcmp(argv[1], "--wait") == 0) {
        xs_parent_note();
        while (!xs_parent_gone())
            xs_sleep_ms(20); /* polls for the parent's end, a bounded wait */
        return 0;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_exact_below_256),
        cmocka_unit_test(test_hist_large_values_within_bound),
        cmocka_unit_test(test_clock_monotonic_and_sleep),
        cmocka_unit_test(test_thread_and_flag),
        cmocka_unit_test(test_spawn_self_exit_code),
        cmocka_unit_test(test_spawn_kill),
        cmocka_unit_test(test_pin_to_allowed_cpu),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
