/* test_bots: the bot change notice as a worker reads it ("ID ID ..."): every
 * id in order, what follows a bad token ignored, at most max kept (a longer
 * notice makes the worker forget every bot, see bots.c). The cache itself is
 * lcache's (test_lcache); the notice end to end is test_api's
 * persona_edit_reaches_the_next_prompt. */
#include "tests/check_main.h"
#include "worker/chat/bots.h"

#include <check.h>

START_TEST(ids_in_order)
{
	int64_t ids[8];

	ck_assert_uint_eq(bots_parse_notice("7 12 900000000001", ids, 8), 3);
	ck_assert_int_eq(ids[0], 7);
	ck_assert_int_eq(ids[1], 12);
	ck_assert_int_eq(ids[2], 900000000001LL);
	ck_assert_uint_eq(bots_parse_notice("  3  4", ids, 8), 2);
	ck_assert_int_eq(ids[1], 4);
}
END_TEST

START_TEST(bad_or_empty)
{
	int64_t ids[8];

	ck_assert_uint_eq(bots_parse_notice("", ids, 8), 0);
	ck_assert_uint_eq(bots_parse_notice("x 1", ids, 8), 0);
	ck_assert_uint_eq(bots_parse_notice("5 y 6", ids, 8), 1);
	ck_assert_int_eq(ids[0], 5);
	ck_assert_uint_eq(bots_parse_notice("99999999999999999999 1", ids, 8), 0); /* overflow */
}
END_TEST

START_TEST(at_most_max)
{
	int64_t ids[3];

	ck_assert_uint_eq(bots_parse_notice("1 2 3 4 5", ids, 3), 3);
	ck_assert_int_eq(ids[2], 3);
}
END_TEST

static Suite *bots_suite(void)
{
	Suite *s = suite_create("bots");
	TCase *tc = tcase_create("notice");

	tcase_add_test(tc, ids_in_order);
	tcase_add_test(tc, bad_or_empty);
	tcase_add_test(tc, at_most_max);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(bots_suite)
