/*
 * testrun.c - main() of a CMocka test program: helper or tests.
 */
#include "testrun.h"

#include <stdlib.h>

int tr_main(int argc, char **argv, const tp_helper_t *helpers, const struct CMUnitTest *tests,
            size_t count)
{
    int rc;
    if (helpers && tp_dispatch(argc, argv, helpers, &rc))
        return rc;
    const char *filter = getenv("XSHM_TEST_FILTER");
    if (filter && filter[0] != '\0')
        cmocka_set_test_filter(filter);
    return _cmocka_run_group_tests("tests", tests, count, NULL, NULL);
}
