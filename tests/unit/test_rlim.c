/* test_rlim: the API's rate-limit table: a burst, then a refusal with the wait
 * until the next token, independent names, forgetting, a bounded table. */
#include "api/rlim.h"
#include "tests/check_main.h"

#include <check.h>
#include <stdio.h>

START_TEST(burst_then_refusal_with_retry_after)
{
	struct rlim *r = rlim_new(100);
	struct rlim_result res;

	/* 60 a minute, burst 3: three at once, the fourth waits a second. */
	for (int i = 0; i < 3; i++) {
		rlim_take(r, "addr:1.2.3.4", 60, 3, 1000, &res);
		ck_assert_int_eq(res.ok, 1);
		ck_assert_int_eq(res.limit, 3);
		ck_assert_int_eq(res.remaining, 2 - i);
	}
	rlim_take(r, "addr:1.2.3.4", 60, 3, 1000, &res);
	ck_assert_int_eq(res.ok, 0);
	ck_assert_int_eq(res.remaining, 0);
	ck_assert_int_eq(res.retry_after_s, 1);
	ck_assert_int_eq(res.reset_s, 3);
	/* another name is not touched */
	rlim_take(r, "addr:5.6.7.8", 60, 3, 1000, &res);
	ck_assert_int_eq(res.ok, 1);
	/* a second later one more */
	rlim_take(r, "addr:1.2.3.4", 60, 3, 2000, &res);
	ck_assert_int_eq(res.ok, 1);
	rlim_forget(r, "addr:1.2.3.4");
	rlim_take(r, "addr:1.2.3.4", 60, 3, 2000, &res);
	ck_assert_int_eq(res.remaining, 2);
	rlim_free(r);
}
END_TEST

START_TEST(table_stays_bounded)
{
	struct rlim *r = rlim_new(50);
	struct rlim_result res;
	char name[32];

	/* A flood of new addresses, each spending its bucket: the table keeps 50. */
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof name, "addr:%d", i);
		rlim_take(r, name, 1, 1, 5000, &res);
		ck_assert_int_eq(res.ok, 1);
		ck_assert_uint_le(rlim_count(r), 50);
	}
	rlim_free(r);
}
END_TEST

static Suite *rlim_suite(void)
{
	Suite *s = suite_create("rlim");
	TCase *t = tcase_create("rlim");

	tcase_add_test(t, burst_then_refusal_with_retry_after);
	tcase_add_test(t, table_stays_bounded);
	suite_add_tcase(s, t);
	return s;
}

CHECK_MAIN(rlim_suite)
