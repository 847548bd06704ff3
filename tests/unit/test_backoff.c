/* test_backoff: the retry delays never overflow, stay inside their bounds, and the
 * jitter is spread over the whole range (not stuck at an end). */
#include "common/backoff.h"
#include "tests/check_main.h"

#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

START_TEST(ceiling_doubles_then_caps)
{
	ck_assert_int_eq(backoff_ceiling(0, 100, 30000), 100);
	ck_assert_int_eq(backoff_ceiling(1, 100, 30000), 200);
	ck_assert_int_eq(backoff_ceiling(8, 100, 30000), 25600);
	ck_assert_int_eq(backoff_ceiling(9, 100, 30000), 30000);
	ck_assert_int_eq(backoff_ceiling(-5, 100, 30000), 100);
	ck_assert_int_eq(backoff_ceiling(0, 500, 300), 300);
}
END_TEST

START_TEST(ceiling_never_overflows)
{
	ck_assert_int_eq(backoff_ceiling(62, 1, INT64_MAX), (int64_t)1 << 62);
	ck_assert_int_eq(backoff_ceiling(63, 1, INT64_MAX), INT64_MAX);
	ck_assert_int_eq(backoff_ceiling(64, 1, INT64_MAX), INT64_MAX);
	ck_assert_int_eq(backoff_ceiling(1000, 100, 30000), 30000);
	ck_assert_int_eq(backoff_ceiling(INT_MAX, INT64_MAX, INT64_MAX), INT64_MAX);
	ck_assert_int_eq(backoff_ceiling(40, INT64_MAX / 2, INT64_MAX), INT64_MAX);
	for (int a = 0; a < 200; a++) {
		int64_t c = backoff_ceiling(a, 7, 1000000);
		ck_assert(c > 0 && c <= 1000000);
		ck_assert(c >= backoff_ceiling(a - 1, 7, 1000000));
	}
}
END_TEST

START_TEST(ceiling_degenerate_inputs)
{
	ck_assert_int_eq(backoff_ceiling(3, 0, 1000), 0);
	ck_assert_int_eq(backoff_ceiling(3, -10, 1000), 0);
	ck_assert_int_eq(backoff_ceiling(3, 10, 0), 0);
	ck_assert_int_eq(backoff_ceiling(3, 10, -1), 0);
}
END_TEST

START_TEST(full_jitter_bounds_and_spread)
{
	uint64_t rng = 42;
	int64_t lo = INT64_MAX, hi = -1;
	double sum = 0;
	const int n = 100000;

	for (int i = 0; i < n; i++) {
		int64_t d = backoff_full_jitter(3, 100, 30000, &rng); /* ceiling 800 */
		ck_assert(d >= 0 && d <= 800);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		sum += (double)d;
	}
	ck_assert_int_le(lo, 5);
	ck_assert_int_ge(hi, 795);
	ck_assert_double_eq_tol(sum / n, 400.0, 8.0);
}
END_TEST

START_TEST(full_jitter_huge_attempt)
{
	uint64_t rng = 7;

	for (int i = 0; i < 1000; i++) {
		int64_t d = backoff_full_jitter(INT_MAX, 1000, INT64_MAX, &rng);
		ck_assert(d >= 0);
		d = backoff_full_jitter(100000 + i, 250, 60000, &rng);
		ck_assert(d >= 0 && d <= 60000);
	}
	ck_assert_int_eq(backoff_full_jitter(5, 0, 1000, &rng), 0);
}
END_TEST

START_TEST(equal_jitter_keeps_a_floor)
{
	uint64_t rng = backoff_seed();

	for (int a = 0; a < 40; a++)
		for (int i = 0; i < 1000; i++) {
			int64_t c = backoff_ceiling(a, 100, 30000);
			int64_t d = backoff_equal_jitter(a, 100, 30000, &rng);
			ck_assert(d >= c / 2 && d <= c);
		}
	/* The first respawn delay of the supervisor: 50..100 ms, never 0. */
	for (int i = 0; i < 1000; i++) {
		int64_t d = backoff_equal_jitter(0, 100, 30000, &rng);
		ck_assert(d >= 50 && d <= 100);
	}
	ck_assert_int_eq(backoff_equal_jitter(0, 1, 1, &rng) <= 1, 1);
}
END_TEST

START_TEST(rand_zero_state_and_determinism)
{
	uint64_t a = 0, b = 0, c = 12345, d = 12345;

	/* A zeroed state is usable (not stuck at 0) and behaves like any fixed seed. */
	ck_assert(backoff_rand(&a) == backoff_rand(&b));
	ck_assert(a != 0 && a == b);
	ck_assert(backoff_rand(&a) != backoff_rand(&c));
	c = 12345;
	for (int i = 0; i < 100; i++)
		ck_assert(backoff_rand(&c) == backoff_rand(&d));
	ck_assert(backoff_seed() != 0);
}
END_TEST

START_TEST(uniform_range_and_mean)
{
	uint64_t rng = 99;
	double sum = 0, lo = 1, hi = 0;
	const int n = 200000;

	for (int i = 0; i < n; i++) {
		double u = backoff_uniform(&rng);
		ck_assert(u >= 0.0 && u < 1.0);
		sum += u;
		lo = u < lo ? u : lo;
		hi = u > hi ? u : hi;
	}
	ck_assert_double_eq_tol(sum / n, 0.5, 0.01);
	ck_assert(lo < 0.001 && hi > 0.999);
}
END_TEST

START_TEST(uniform_upto_inclusive)
{
	uint64_t rng = 5;
	int seen[4] = { 0 };

	for (int i = 0; i < 4000; i++) {
		int64_t v = backoff_uniform_upto(3, &rng);
		ck_assert(v >= 0 && v <= 3);
		seen[v]++;
	}
	for (int i = 0; i < 4; i++)
		ck_assert_int_gt(seen[i], 800);
	ck_assert_int_eq(backoff_uniform_upto(0, &rng), 0);
	ck_assert_int_eq(backoff_uniform_upto(-3, &rng), 0);
	ck_assert(backoff_uniform_upto(INT64_MAX, &rng) >= 0);
}
END_TEST

/* A Retry-After from outside: seconds to ms without overflow, at most a day. */
START_TEST(retry_after_is_clamped)
{
	ck_assert_int_eq(backoff_retry_after_ms(-1), -1);
	ck_assert_int_eq(backoff_retry_after_ms(0), 0);
	ck_assert_int_eq(backoff_retry_after_ms(5), 5000);
	ck_assert_int_eq(backoff_retry_after_ms(86400), 86400000);
	ck_assert_int_eq(backoff_retry_after_ms(86401), 86400000);
	ck_assert_int_eq(backoff_retry_after_ms(1LL << 62), 86400000);
	ck_assert_int_eq(backoff_retry_after_ms(LLONG_MAX), 86400000);
	ck_assert_int_eq(backoff_retry_after_ms(LLONG_MIN), -1);
}
END_TEST

static Suite *backoff_suite(void)
{
	Suite *s = suite_create("backoff");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, ceiling_doubles_then_caps);
	tcase_add_test(tc, ceiling_never_overflows);
	tcase_add_test(tc, ceiling_degenerate_inputs);
	tcase_add_test(tc, full_jitter_bounds_and_spread);
	tcase_add_test(tc, full_jitter_huge_attempt);
	tcase_add_test(tc, equal_jitter_keeps_a_floor);
	tcase_add_test(tc, rand_zero_state_and_determinism);
	tcase_add_test(tc, uniform_range_and_mean);
	tcase_add_test(tc, uniform_upto_inclusive);
	tcase_add_test(tc, retry_after_is_clamped);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(backoff_suite)
