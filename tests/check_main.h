/* check_main: the main() every test program shares, so each test file ends with
 * its suite and one line instead of a copied runner.
 *
 * Use: write `static Suite *x_suite(void)` (suite_create, tcases, tests), then
 *
 *     #include "tests/check_main.h"
 *     ...
 *     CHECK_MAIN(x_suite)
 *
 * A program that fails on more than its tests (test_fakeapi: the fake's exit
 * status) calls check_run(x_suite()) from its own main instead.
 *
 * Tests run forked (check's default; CK_FORK=no runs them in one process, for
 * gdb). CK_RUN_CASE=name runs only the test case (TCase) of that exact name,
 * which is what `scripts/test unit|integration SUITE CASE` sets; a filter that
 * matches no test fails, so a typo cannot pass for green. */
#ifndef PIYASA_TESTS_CHECK_MAIN_H
#define PIYASA_TESTS_CHECK_MAIN_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Runs the suite (and frees it); returns the number of failed tests, or 1 when
 * a CK_RUN_* or tag filter left nothing to run. */
static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed, ran;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	ran = srunner_ntests_run(sr);
	srunner_free(sr);
	if (ran == 0 && (getenv("CK_RUN_CASE") || getenv("CK_RUN_SUITE") ||
			 getenv("CK_INCLUDE_TAGS") || getenv("CK_EXCLUDE_TAGS"))) {
		fprintf(stderr,
			"\nno test matched CK_RUN_CASE=%s CK_RUN_SUITE=%s (exact names: "
			"see tcase_create in the test file)\n",
			getenv("CK_RUN_CASE") ? getenv("CK_RUN_CASE") : "",
			getenv("CK_RUN_SUITE") ? getenv("CK_RUN_SUITE") : "");
		return 1;
	}
	return failed;
}

#define CHECK_MAIN(suite_fn)                                                \
	int main(void)                                                      \
	{                                                                   \
		return check_run(suite_fn()) ? EXIT_FAILURE : EXIT_SUCCESS; \
	}

#endif
