/* test_tbucket: token buckets on a virtual clock. Rates that are not exact in
 * binary (20/min, 30/s) must pace exactly over hours and days, waits must be
 * exactly enough, pauses and reloads must hold, and a random walk must never let
 * more through than burst + rate * time. */
#include "common/backoff.h"
#include "tests/check_main.h"
#include "common/tbucket.h"

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* check records the place of every passing assertion (a write each): in loops of
 * millions, test first and let check report only a failure. Arguments are
 * evaluated once. */
#define hot_int_eq(a, b)                          \
	do {                                      \
		int64_t a_ = (a), b_ = (b);       \
		if (a_ != b_)                     \
			ck_assert_int_eq(a_, b_); \
	} while (0)
#define hot_true(x) hot_int_eq(!!(x), 1)

/* Poll every millisecond over [from, to], taking all that can be taken. */
static long poll_every_ms(struct tb *b, int64_t from, int64_t to)
{
	long n = 0;

	for (int64_t t = from; t <= to; t++)
		while (tb_take(b, t, 1))
			n++;
	return n;
}

START_TEST(starts_full_then_refills)
{
	struct tb b;

	tb_init(&b, 1.0, 3, 1000);
	ck_assert_int_eq(tb_take(&b, 1000, 1), 1);
	ck_assert_int_eq(tb_take(&b, 1000, 1), 1);
	ck_assert_int_eq(tb_take(&b, 1000, 1), 1);
	ck_assert_int_eq(tb_take(&b, 1000, 1), 0);
	ck_assert_int_eq(tb_wait_ms(&b, 1000, 1), 1000);
	ck_assert_int_eq(tb_wait_ms(&b, 1400, 1), 600);
	ck_assert_int_eq(tb_take(&b, 1999, 1), 0);
	ck_assert_int_eq(tb_take(&b, 2000, 1), 1);
	/* A long idle fills to burst, no further. */
	ck_assert_double_eq_tol(tb_tokens(&b, 1000000), 3.0, 1e-12);
	ck_assert_int_eq(tb_take(&b, 1000000, 3), 1);
	ck_assert_int_eq(tb_take(&b, 1000000, 1), 0);
}
END_TEST

START_TEST(twenty_per_minute_exact_over_an_hour)
{
	struct tb b;

	/* 3 at once, then one every 3000 ms: at 3000, 6000, ..., 3600000. */
	tb_init(&b, 20.0 / 60.0, 3, 0);
	ck_assert_int_eq(poll_every_ms(&b, 0, 3600000), 1200 + 3);
	/* Burst 1: the first take at 0, then 1200 more. */
	tb_init(&b, 20.0 / 60.0, 1, 0);
	ck_assert_int_eq(poll_every_ms(&b, 0, 3600000 - 1), 1200);
	ck_assert_int_eq(poll_every_ms(&b, 3600000, 3600000), 1);
}
END_TEST

START_TEST(thirty_per_second_exact_over_an_hour)
{
	struct tb b;

	tb_init(&b, 30.0, 30, 0);
	ck_assert_int_eq(poll_every_ms(&b, 0, 3600000), 30 * 3600 + 30);
	tb_init(&b, 1.0, 1, 0);
	ck_assert_int_eq(poll_every_ms(&b, 0, 3600000), 3600 + 1);
}
END_TEST

/* Driven the way the worker drives it: take, ask the wait, sleep exactly that.
 * The k-th take must land on the ideal millisecond, k * 1000 / rate rounded up,
 * for a whole simulated day: any drift would show as a late take. Burst 2, so the
 * fraction of a token earned in the millisecond after an ideal instant carries
 * over (with burst 1 it cannot: see burst_one_spaces_strictly). */
static void paced(double rate_per_s, int64_t num, int64_t den, int64_t day)
{
	struct tb b;
	int64_t now = 0;
	long k = 0;

	/* rate = num / den per second; ideal time of take k: ceil(k * 1000 * den / num) */
	tb_init(&b, rate_per_s, 2, 0);
	hot_int_eq(tb_take(&b, 0, 2), 1);
	for (;;) {
		int64_t w = tb_wait_ms(&b, now, 1);

		hot_true(w >= 1);
		hot_int_eq(tb_take(&b, now + w - 1, 1), 0);
		now += w;
		if (now > day)
			break;
		hot_int_eq(tb_take(&b, now, 1), 1);
		k++;
		hot_int_eq(now, (k * 1000 * den + num - 1) / num);
	}
	hot_int_eq(k, day / 1000 * num / den);
}

START_TEST(paced_exactly_for_a_day)
{
	const int64_t day = 86400000;

	paced(30.0, 30, 1, day);
	paced(1.0, 1, 1, day);
	paced(20.0 / 60.0, 20, 60, day);
	paced(7.0, 7, 1, day);
}
END_TEST

/* Every whole rate per second (10 minutes) and per minute (a day). Without the
 * TB_EPS slack in tb_take, 3/s already fails: its tokens fall a hair short of 1
 * on the ideal millisecond and the take comes 1 ms late. */
START_TEST(paced_exactly_many_rates)
{
	for (int64_t num = 1; num <= 60; num++) {
		paced((double)num, num, 1, 600000);
		paced((double)num / 60.0, num, 60, 86400000);
	}
}
END_TEST

/* Burst 1 is strict spacing: at 30/s no two takes are closer than 33.3 ms, so on a
 * millisecond clock they come every 34 ms, never faster than the rate. */
START_TEST(burst_one_spaces_strictly)
{
	struct tb b;
	int64_t now = 0, prev = 0;

	tb_init(&b, 30, 1, 0);
	ck_assert_int_eq(tb_take(&b, 0, 1), 1);
	for (int i = 0; i < 1000; i++) {
		now += tb_wait_ms(&b, now, 1);
		ck_assert_int_eq(tb_take(&b, now, 1), 1);
		ck_assert_int_eq(now - prev, 34);
		prev = now;
	}
}
END_TEST

START_TEST(wait_counts_the_pause)
{
	struct tb b;

	tb_init(&b, 1.0, 2, 0);
	tb_pause(&b, 5000);
	ck_assert_int_eq(tb_take(&b, 0, 1), 0);
	ck_assert_int_eq(tb_take(&b, 4999, 1), 0);
	ck_assert_int_eq(tb_wait_ms(&b, 1000, 1), 4000);
	/* An earlier end does not shorten the pause. */
	tb_pause(&b, 3000);
	ck_assert_int_eq(tb_wait_ms(&b, 1000, 1), 4000);
	ck_assert_int_eq(tb_take(&b, 5000, 1), 1);
	ck_assert_int_eq(tb_take(&b, 5000, 1), 1);
	ck_assert_int_eq(tb_take(&b, 5000, 1), 0);
	/* Tokens refill during a pause: the longer of the two waits counts. */
	tb_pause(&b, 5500);
	ck_assert_int_eq(tb_wait_ms(&b, 5000, 1), 1000);
	tb_pause(&b, 9000);
	ck_assert_int_eq(tb_wait_ms(&b, 5000, 1), 4000);
	ck_assert_int_eq(tb_wait_ms(&b, 5000, 2), 4000);
	ck_assert_int_eq(tb_take(&b, 9000, 2), 1);
}
END_TEST

START_TEST(unlimited_always_takes)
{
	struct tb b;
	struct tb z;

	tb_init(&b, 0, 5, 0);
	for (int i = 0; i < 100000; i++)
		hot_int_eq(tb_take(&b, 0, 1000), 1);
	ck_assert_int_eq(tb_wait_ms(&b, 0, 1e12), 0);
	ck_assert_double_eq(tb_tokens(&b, 0), 5.0);
	/* ...unless paused: a 429 holds whatever the rate. */
	tb_pause(&b, 100);
	ck_assert_int_eq(tb_take(&b, 50, 1), 0);
	ck_assert_int_eq(tb_wait_ms(&b, 50, 1), 50);
	ck_assert_int_eq(tb_take(&b, 100, 1), 1);
	/* Negative or NaN rates are unlimited too; a zeroed struct is unlimited. */
	tb_init(&b, -3, 5, 0);
	ck_assert_int_eq(tb_take(&b, 0, 99), 1);
	tb_init(&b, NAN, 5, 0);
	ck_assert_int_eq(tb_take(&b, 0, 99), 1);
	memset(&z, 0, sizeof z);
	ck_assert_int_eq(tb_take(&z, 123, 1), 1);
	ck_assert_int_eq(tb_wait_ms(&z, 123, 1), 0);
}
END_TEST

START_TEST(more_than_burst_never)
{
	struct tb b;

	tb_init(&b, 10, 5, 0);
	ck_assert_int_eq(tb_take(&b, 1000000, 6), 0);
	ck_assert_int_eq(tb_wait_ms(&b, 0, 6), -1);
	ck_assert_int_eq(tb_wait_ms(&b, 0, 5), 0);
	/* A burst below 1 is 1, so one token can always come. */
	tb_init(&b, 10, 0, 0);
	ck_assert_double_eq(b.burst, 1.0);
	ck_assert_int_eq(tb_take(&b, 0, 1), 1);
	ck_assert_int_eq(tb_wait_ms(&b, 0, 1), 100);
	/* n <= 0 takes nothing. */
	ck_assert_int_eq(tb_take(&b, 0, 0), 1);
	ck_assert_int_eq(tb_take(&b, 0, -5), 1);
	ck_assert_int_eq(tb_wait_ms(&b, 0, 0), 0);
	ck_assert_int_eq(tb_wait_ms(&b, 0, 1), 100);
}
END_TEST

START_TEST(fractional_tokens_for_tpm)
{
	struct tb b;

	/* 1000 tokens a minute, a request of 600 tokens. */
	tb_init(&b, 1000.0 / 60.0, 1000, 0);
	ck_assert_int_eq(tb_take(&b, 0, 600), 1);
	ck_assert_int_eq(tb_take(&b, 0, 600), 0);
	ck_assert_int_eq(tb_wait_ms(&b, 0, 600), 12000);
	ck_assert_int_eq(tb_take(&b, 11999, 600), 0);
	ck_assert_int_eq(tb_take(&b, 12000, 600), 1);
	ck_assert_int_eq(tb_take(&b, 12000, 0.5), 0);
	ck_assert_int_eq(tb_wait_ms(&b, 12000, 0.5), 30);
}
END_TEST

START_TEST(set_rate_keeps_the_fill)
{
	struct tb b;

	tb_init(&b, 30, 30, 0);
	ck_assert_int_eq(tb_take(&b, 0, 30), 1);
	/* 500 ms later 15 tokens were earned at the old rate... */
	tb_set_rate(&b, 1, 5, 500);
	/* ...clamped to the new burst of 5. */
	ck_assert_double_eq_tol(tb_tokens(&b, 500), 5.0, 1e-9);
	ck_assert_int_eq(tb_take(&b, 500, 5), 1);
	ck_assert_int_eq(tb_wait_ms(&b, 500, 1), 1000);

	/* A bigger burst keeps the fill, it does not fill up. */
	tb_init(&b, 1, 2, 0);
	ck_assert_int_eq(tb_take(&b, 0, 2), 1);
	tb_set_rate(&b, 1, 100, 1500);
	ck_assert_double_eq_tol(tb_tokens(&b, 1500), 1.5, 1e-9);
	ck_assert_double_eq_tol(tb_tokens(&b, 3500), 3.5, 1e-9);

	/* The pause survives a reload; unlimited -> limited starts full. */
	tb_init(&b, 0, 1, 0);
	tb_pause(&b, 1000);
	tb_set_rate(&b, 2, 4, 10);
	ck_assert_int_eq(tb_take(&b, 999, 1), 0);
	ck_assert_int_eq(tb_take(&b, 1000, 4), 1);
	ck_assert_int_eq(tb_take(&b, 1000, 1), 0);
	/* limited -> unlimited. */
	tb_set_rate(&b, 0, 4, 1000);
	ck_assert_int_eq(tb_take(&b, 1000, 100), 1);
}
END_TEST

START_TEST(clock_stepping_back)
{
	struct tb b;

	tb_init(&b, 1, 1, 10000);
	ck_assert_int_eq(tb_take(&b, 10000, 1), 1);
	/* Earlier times earn nothing and do not rewind the bucket. */
	ck_assert_int_eq(tb_take(&b, 5000, 1), 0);
	ck_assert_int_eq(tb_wait_ms(&b, 5000, 1), 6000);
	ck_assert_int_eq(tb_take(&b, 10999, 1), 0);
	ck_assert_int_eq(tb_take(&b, 11000, 1), 1);
	ck_assert_int_eq(b.last_ms, 11000);
}
END_TEST

/* Random takes, waits, pauses and reloads: the answer of tb_wait_ms is always
 * exactly right, and the total never exceeds what rate and burst allow. */
START_TEST(random_walk_never_over_budget)
{
	uint64_t rng = 0xb0c4e7;

	for (int round = 0; round < 20; round++) {
		const double rates[] = { 30, 1, 20.0 / 60.0, 0.1, 1000, 7.5 };
		double rate = rates[backoff_rand(&rng) % 6];
		double burst = 1 + (double)(backoff_rand(&rng) % 10);
		struct tb b;
		int64_t now = (int64_t)(backoff_rand(&rng) % 1000000);
		int64_t start = now;
		double taken = 0;

		tb_init(&b, rate, burst, now);
		for (int i = 0; i < 20000; i++) {
			double n = (backoff_rand(&rng) % 4 == 0) ? burst * backoff_uniform(&rng) : 1;
			int64_t w = tb_wait_ms(&b, now, n);
			struct tb copy = b;

			hot_true(w >= 0);
			hot_int_eq(tb_take(&copy, now, n), w == 0);
			copy = b;
			hot_int_eq(tb_take(&copy, now + w, n), 1);
			if (w > 0) {
				copy = b;
				hot_int_eq(tb_take(&copy, now + w - 1, n), 0);
			}
			if (tb_take(&b, now, n))
				taken += n;
			hot_true(tb_tokens(&b, now) <= b.burst);
			hot_true(taken <= burst + rate / 1000.0 * (double)(now - start) + 1e-6);
			if (backoff_rand(&rng) % 500 == 0)
				tb_pause(&b, now + (int64_t)(backoff_rand(&rng) %
							     (uint64_t)(5000 / rate + 1)));
			now += (int64_t)(backoff_rand(&rng) % (uint64_t)(2000 / rate + 2));
		}
		/* Busy enough to be near the budget, not just under it by idling. */
		ck_assert(taken >= 0.5 * rate / 1000.0 * (double)(now - start));
	}
}
END_TEST

static Suite *tbucket_suite(void)
{
	Suite *s = suite_create("tbucket");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, starts_full_then_refills);
	tcase_add_test(tc, twenty_per_minute_exact_over_an_hour);
	tcase_add_test(tc, thirty_per_second_exact_over_an_hour);
	tcase_add_test(tc, paced_exactly_for_a_day);
	tcase_add_test(tc, paced_exactly_many_rates);
	tcase_add_test(tc, burst_one_spaces_strictly);
	tcase_add_test(tc, wait_counts_the_pause);
	tcase_add_test(tc, unlimited_always_takes);
	tcase_add_test(tc, more_than_burst_never);
	tcase_add_test(tc, fractional_tokens_for_tpm);
	tcase_add_test(tc, set_rate_keeps_the_fill);
	tcase_add_test(tc, clock_stepping_back);
	tcase_add_test(tc, random_walk_never_over_budget);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tbucket_suite)
