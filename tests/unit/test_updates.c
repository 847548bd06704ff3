/* test_updates: the pure part of the getUpdates pollers: the offset a batch
 * moves to. (The polls themselves run against the fake API in the integration
 * tests.) */
#include "tests/check_main.h"
#include "worker/chat/updates.h"

#include <check.h>
#include <jansson.h>
#include <stdint.h>

static int64_t next(int64_t offset, const char *batch)
{
	json_t *r = json_loads(batch, 0, NULL);
	int64_t o;

	ck_assert_ptr_nonnull(r);
	o = updates_next_offset(offset, r);
	json_decref(r);
	return o;
}

START_TEST(offset_is_one_past_the_highest_update)
{
	ck_assert_int_eq(next(0, "[]"), 0);
	ck_assert_int_eq(next(0, "[{\"update_id\": 7}, {\"update_id\": 9}, {\"update_id\": 8}]"), 10);
	ck_assert_int_eq(next(50, "[{\"update_id\": 7}]"), 50); /* never backwards */
	ck_assert_int_eq(next(5, "[{\"update_id\": \"99\"}, {}, 3, {\"update_id\": 6}]"), 7);
}
END_TEST

/* A hostile (or broken) Telegram sends update_id INT64_MAX: the offset used to
 * wrap to INT64_MIN (undefined behaviour), and the same updates came back 20
 * times a second (issue 19, item 6). */
START_TEST(offset_never_wraps)
{
	ck_assert_int_eq(next(10, "[{\"update_id\": 9223372036854775807}]"), INT64_MAX);
	ck_assert_int_eq(next(INT64_MAX, "[{\"update_id\": 9223372036854775807}, "
					 "{\"update_id\": 12}]"),
			 INT64_MAX);
	ck_assert_int_eq(next(10, "[{\"update_id\": -9223372036854775807}]"), 10);
}
END_TEST

static Suite *updates_suite(void)
{
	Suite *s = suite_create("updates");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, offset_is_one_past_the_highest_update);
	tcase_add_test(tc, offset_never_wraps);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(updates_suite)
