/* test_budget: the fleet's LLM budgets against the test Redis (PIYASA_REDIS_URL
 * of scripts/test): takes sent all at once never pass a daily limit together,
 * a refusal is reported "first" once a day, a settle gives room back, a bot's
 * and a chat's budgets hold on their own, rpm holds, a pause holds; and the
 * x-ratelimit-reset format is read. */
#include "common/net/ra.h"
#include "tests/check_main.h"
#include "worker/calls/budget.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uv_loop_t loop;
static struct ra *redis;
static struct budget *b;
static char prefix[64];
static int up;

static void on_state(int u, const char *why, void *arg)
{
	(void)why;
	(void)arg;
	up = u;
}

struct res {
	int done, first;
	enum budget_verdict v;
	int64_t wait;
};

static void on_take(enum budget_verdict v, int64_t wait, int first, void *arg)
{
	struct res *r = arg;

	r->done = 1;
	r->v = v;
	r->wait = wait;
	r->first = first;
}

static void run_until(int *flag, int want)
{
	for (int i = 0; i < 5000 && *flag < want; i++)
		uv_run(&loop, UV_RUN_ONCE);
	ck_assert_int_ge(*flag, want);
}

static void setup(void)
{
	const char *url = getenv("PIYASA_REDIS_URL");
	char err[128];

	ck_assert_msg(url != NULL, "PIYASA_REDIS_URL (scripts/test sets it)");
	uv_loop_init(&loop);
	redis = ra_new(&loop, url, 2000, on_state, NULL, err, sizeof err);
	ck_assert_msg(redis != NULL, "%s", err);
	run_until(&up, 1);
	snprintf(prefix, sizeof prefix, "tb%d-%ld", (int)getpid(), (long)random());
	ck_assert_ptr_nonnull(b = budget_new(redis, prefix));
}

static void teardown(void)
{
	budget_free(b);
	ra_free(redis);
	uv_run(&loop, UV_RUN_DEFAULT);
	uv_loop_close(&loop);
}

static struct budget_ask ask(long long daily, int64_t bot, long long bot_daily)
{
	return (struct budget_ask){ .provider = "p1",
				    .daily = daily,
				    .bot_id = bot,
				    .chat_id = -100,
				    .bot_daily = bot_daily,
				    .est = 100 };
}

/* n takes sent in one go; counts of each verdict and of "first" refusals. */
static void take_n(struct budget_ask *a, int n, int64_t now, int counts[6], int *firsts)
{
	struct res *r = calloc((size_t)n, sizeof *r);
	int done = 0;

	for (int i = 0; i < n; i++)
		ck_assert_int_eq(budget_take(b, &a[i], now, on_take, &r[i]), 0);
	while (done < n) {
		uv_run(&loop, UV_RUN_ONCE);
		done = 0;
		for (int i = 0; i < n; i++)
			done += r[i].done;
	}
	memset(counts, 0, 6 * sizeof *counts);
	*firsts = 0;
	for (int i = 0; i < n; i++) {
		counts[r[i].v]++;
		*firsts += r[i].first;
	}
	free(r);
}

START_TEST(a_daily_limit_holds_for_takes_at_once)
{
	struct budget_ask a[50];
	int c[6], firsts;
	int64_t now = 1700000000000LL + 3600 * 1000;

	for (int i = 0; i < 50; i++)
		a[i] = ask(1000, i, 0);
	take_n(a, 50, now, c, &firsts);
	ck_assert_int_eq(c[BUDGET_OK], 10); /* 10 x 100 = the day's 1000 */
	ck_assert_int_eq(c[BUDGET_PROVIDER_SPENT], 40);
	ck_assert_int_eq(firsts, 1); /* the log line, once */
	/* Calls that used 40 each give 600 back: six more fit. */
	for (int i = 0; i < 10; i++)
		budget_settle(b, &a[i], 40 - 100);
	take_n(a + 10, 40, now, c, &firsts);
	ck_assert_int_eq(c[BUDGET_OK], 6);
	ck_assert_int_eq(firsts, 0); /* already told today */
}
END_TEST

START_TEST(a_bots_budget_holds_alone)
{
	struct budget_ask a[10];
	int c[6], firsts;
	int64_t now = 1700000000000LL;

	for (int i = 0; i < 10; i++)
		a[i] = ask(0, 7, 350); /* one bot, 350 a day */
	take_n(a, 10, now, c, &firsts);
	ck_assert_int_eq(c[BUDGET_OK], 3);
	ck_assert_int_eq(c[BUDGET_BOT_SPENT], 7);
	a[0] = ask(0, 8, 350); /* another bot is not held */
	take_n(a, 1, now, c, &firsts);
	ck_assert_int_eq(c[BUDGET_OK], 1);
}
END_TEST

START_TEST(rpm_and_a_pause_hold)
{
	struct budget_ask a[5];
	int c[6], firsts;
	int64_t now = 1700000000000LL + 10000; /* 10 s into a minute */

	for (int i = 0; i < 5; i++) {
		a[i] = ask(0, i, 0);
		a[i].rpm = 3;
	}
	take_n(a, 5, now, c, &firsts);
	ck_assert_int_eq(c[BUDGET_OK], 3);
	ck_assert_int_eq(c[BUDGET_PACED], 2);
	a[0] = ask(0, 1, 0);
	a[0].provider = "p2";
	budget_pause(b, "p2", 60000);
	take_n(a, 1, now, c, &firsts);
	ck_assert_int_eq(c[BUDGET_PACED], 1);
}
END_TEST

START_TEST(reset_durations)
{
	ck_assert_int_eq(budget_parse_reset("1s"), 1000);
	ck_assert_int_eq(budget_parse_reset("6m0s"), 360000);
	ck_assert_int_eq(budget_parse_reset("20ms"), 20);
	ck_assert_int_eq(budget_parse_reset("1.5s"), 1500);
	ck_assert_int_eq(budget_parse_reset("2h3m4.5s"), 7384500);
	ck_assert_int_eq(budget_parse_reset("7"), 7000);
	ck_assert_int_eq(budget_parse_reset(""), -1);
	ck_assert_int_eq(budget_parse_reset("soon"), -1);
	ck_assert_int_eq(budget_parse_reset("-1s"), -1);
	ck_assert_int_eq(budget_parse_reset(NULL), -1);
}
END_TEST

static Suite *budget_suite(void)
{
	Suite *s = suite_create("budget");
	TCase *tc = tcase_create("redis");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, a_daily_limit_holds_for_takes_at_once);
	tcase_add_test(tc, a_bots_budget_holds_alone);
	tcase_add_test(tc, rpm_and_a_pause_hold);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_test(tc, reset_durations);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(budget_suite)
