/*
 * testrun.h - main() of a CMocka test program.
 *
 *     int main(int argc, char **argv)
 *     {
 *         const struct CMUnitTest tests[] = {cmocka_unit_test(test_a), ...};
 *         return tr_main(argc, argv, helpers, tests, sizeof(tests) / sizeof(tests[0]));
 *     }
 *
 * A program started as a helper ("--helper <name> ...", testproc.h) runs
 * that helper from `helpers` (NULL: the program has none) instead of its
 * tests. XSHM_TEST_FILTER=test_x* in the environment runs only the tests
 * whose names match.
 */
#ifndef XSHM_TESTRUN_H
#define XSHM_TESTRUN_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "testproc.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The helper's exit code, or CMocka's result for the `count` tests. */
int tr_main(int argc, char **argv, const tp_helper_t *helpers, const struct CMUnitTest *tests,
            size_t count);

#ifdef __cplusplus
}
#endif

#endif /* XSHM_TESTRUN_H */
