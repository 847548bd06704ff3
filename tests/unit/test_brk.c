/* test_brk: the circuit breaker on a virtual clock. Each test drives one breaker
 * through a scenario (trips, waits, probes, cooldowns, stale results) and checks
 * the state, the admissions and the transitions it reports; a seeded random walk
 * of 100,000 steps checks the invariants hold whatever the order of events, and
 * another that a breaker on a shared config goes as one on its own copy. */
#include "common/backoff.h"
#include "tests/check_main.h"
#include "worker/calls/brk.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

struct seen {
	int n;
	enum brk_state from[64], to[64];
	char why[64][80];
	const struct brk *b; /* to read the state from inside the callback */
	enum brk_state inside[64];
};

static void on_transition(const char *name, enum brk_state from, enum brk_state to, const char *why,
			  void *arg)
{
	struct seen *s = arg;

	ck_assert_ptr_nonnull(name);
	if (s->n < 64) {
		s->from[s->n] = from;
		s->to[s->n] = to;
		snprintf(s->why[s->n], sizeof s->why[0], "%s", why);
		s->inside[s->n] = s->b ? brk_state(s->b, INT64_MAX) : to;
	}
	s->n++;
}

/* Defaults without jitter, so waits are exact. */
static struct brk_config cfg_exact(void)
{
	struct brk_config c;

	brk_config_defaults(&c);
	c.open_jitter = 0;
	return c;
}

static struct brk *mk(const struct brk_config *c, struct seen *s)
{
	struct brk *b = brk_new("test", c, 1);

	ck_assert_ptr_nonnull(b);
	if (s) {
		memset(s, 0, sizeof *s);
		s->b = b;
		brk_on_transition(b, on_transition, s);
	}
	return b;
}

/* One call: allowed, then recorded at the same instant. Returns brk_allow's answer. */
static int call(struct brk *b, int64_t now, enum brk_result r, int dur)
{
	uint64_t g;

	if (!brk_allow(b, now, &g))
		return 0;
	brk_record(b, now, g, r, dur);
	return 1;
}

static void calls(struct brk *b, int64_t now, enum brk_result r, int dur, int n)
{
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(call(b, now, r, dur), 1);
}

/* Trip a breaker with default-ish config through consecutive failures. */
static void trip_now(struct brk *b, int64_t now)
{
	for (int i = 0; i < 100 && brk_state(b, now) == BRK_CLOSED; i++)
		call(b, now, BRK_FAILURE, 10);
	ck_assert_int_eq(brk_state(b, now), BRK_OPEN);
}

/* ---- configuration ---- */

START_TEST(defaults_and_config_check)
{
	struct brk_config c;
	char err[128];

	brk_config_defaults(&c);
	ck_assert_int_eq(c.window_ms, 30000);
	ck_assert_int_eq(c.min_calls, 10);
	ck_assert_double_eq(c.failure_rate, 0.5);
	ck_assert_int_eq(c.consecutive_failures, 5);
	ck_assert_int_eq(c.slow_call_ms, 10000);
	ck_assert_double_eq(c.slow_rate, 0.8);
	ck_assert_int_eq(c.open_ms, 5000);
	ck_assert_int_eq(c.open_max_ms, 120000);
	ck_assert_double_eq(c.open_jitter, 0.2);
	ck_assert_int_eq(c.half_open_probes, 3);
	ck_assert_int_eq(c.probe_timeout_ms, 120000);
	ck_assert_int_eq(brk_config_check(&c, err, sizeof err), 0);

	c.open_max_ms = 100;
	ck_assert_int_eq(brk_config_check(&c, err, sizeof err), -1);
	ck_assert_str_eq(err, "open_max_ms 100 is below open_ms 5000");
	ck_assert_ptr_null(brk_new("x", &c, 1));

	brk_config_defaults(&c);
	c.failure_rate = 1.5;
	ck_assert_int_eq(brk_config_check(&c, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "failure_rate"));
	brk_config_defaults(&c);
	c.open_jitter = 1.0;
	ck_assert_int_eq(brk_config_check(&c, NULL, 0), -1);
	brk_config_defaults(&c);
	c.window_ms = 5;
	ck_assert_int_eq(brk_config_check(&c, err, 8), -1);
	ck_assert_int_eq((int)strlen(err), 7); /* cut to the buffer, terminated */
	brk_config_defaults(&c);
	c.half_open_probes = 0;
	ck_assert_int_eq(brk_config_check(&c, err, sizeof err), -1);
	brk_config_defaults(&c);
	c.slow_rate = -0.1;
	ck_assert_int_eq(brk_config_check(&c, err, sizeof err), -1);
	brk_config_defaults(&c);
	c.min_calls = 0;
	ck_assert_int_eq(brk_config_check(&c, err, sizeof err), -1);
}
END_TEST

START_TEST(new_free_and_names)
{
	struct brk_config c;
	struct brk *b;
	char longname[100];

	brk_config_defaults(&c);
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = 0;
	b = brk_new(longname, &c, 0);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq((int)strlen(brk_name(b)), BRK_NAME_MAX);
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	ck_assert_int_eq(brk_trips(b), 0);
	ck_assert_int_eq(brk_retry_at(b), 0);
	brk_free(b);
	b = brk_new(NULL, &c, 0);
	ck_assert_str_eq(brk_name(b), "");
	brk_free(b);
	brk_free(NULL);

	ck_assert_str_eq(brk_state_name(BRK_CLOSED), "closed");
	ck_assert_str_eq(brk_state_name(BRK_OPEN), "open");
	ck_assert_str_eq(brk_state_name(BRK_HALF_OPEN), "half_open");
	ck_assert_str_eq(brk_state_name(BRK_COOLING), "cooling");
	ck_assert_str_eq(brk_state_name((enum brk_state)42), "?");
}
END_TEST

/* 10,000 breakers, one per bot: they must be cheap to make and to drop. */
START_TEST(many_breakers)
{
	enum { N = 10000 };
	struct brk_config c;
	struct brk **v = calloc(N, sizeof *v);
	char name[32];

	brk_config_defaults(&c);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof name, "bot %d", i);
		v[i] = brk_new(name, &c, (uint64_t)i);
		ck_assert_ptr_nonnull(v[i]);
		call(v[i], i, BRK_SUCCESS, 5);
	}
	ck_assert_str_eq(brk_name(v[N - 1]), "bot 9999");
	for (int i = 0; i < N; i++)
		brk_free(v[i]);
	free(v);
}
END_TEST

/* A breaker on a shared config goes exactly as one on its own copy: the same
 * admissions, generations, waits (jitter on, same seed) and transitions. */
START_TEST(shared_config_replays_the_copy)
{
	struct brk_config c;
	struct seen sa, sb;
	struct brk *a, *b;
	uint64_t rng = 7, ga[16], gb[16];
	int64_t now = 0;
	int n = 0;

	brk_config_defaults(&c);
	c.window_ms = 1000;
	c.min_calls = 4;
	c.consecutive_failures = 3;
	c.slow_call_ms = 200;
	c.open_ms = 50;
	c.open_max_ms = 800;
	c.probe_timeout_ms = 500;
	ck_assert_ptr_null(brk_new_shared("x", &(struct brk_config){ 0 }, 1));
	a = brk_new("telegram-bot-42", &c, 5);
	b = brk_new_shared("telegram-bot-42", &c, 5);
	ck_assert_ptr_nonnull(b);
	ck_assert_str_eq(brk_name(b), "telegram-bot-42");
	memset(&sa, 0, sizeof sa);
	memset(&sb, 0, sizeof sb);
	brk_on_transition(a, on_transition, &sa);
	brk_on_transition(b, on_transition, &sb);
	for (int step = 0; step < 20000; step++) {
		uint64_t r = backoff_rand(&rng) % 100;

		now += (int64_t)(backoff_rand(&rng) % 15);
		if (r < 50 && n < 16) {
			ck_assert_int_eq(brk_allow(a, now, &ga[n]), brk_allow(b, now, &gb[n]));
			ck_assert_uint_eq(ga[n], gb[n]);
			n++;
		} else if (r < 95 && n > 0) {
			uint64_t k = backoff_rand(&rng) % 10;
			enum brk_result res = k < 5   ? BRK_SUCCESS
					      : k < 8 ? BRK_FAILURE
						      : BRK_IGNORED;
			int dur = (int)(backoff_rand(&rng) % 300);

			n--;
			brk_record(a, now, ga[n], res, dur);
			brk_record(b, now, gb[n], res, dur);
		} else {
			brk_cooldown(a, now, now + 100);
			brk_cooldown(b, now, now + 100);
		}
		ck_assert_int_eq(brk_state(a, now), brk_state(b, now));
		ck_assert_int_eq(brk_retry_at(a), brk_retry_at(b));
		ck_assert_int_eq(brk_trips(a), brk_trips(b));
	}
	ck_assert_int_gt(sa.n, 10);
	ck_assert_int_eq(sa.n, sb.n);
	for (int i = 0; i < sa.n && i < 64; i++) {
		ck_assert_int_eq(sa.to[i], sb.to[i]);
		ck_assert_str_eq(sa.why[i], sb.why[i]);
	}
	brk_free(a);
	brk_free(b);
}
END_TEST

/* ---- tripping ---- */

START_TEST(trips_on_failure_rate_only_after_min_calls)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b;

	c.consecutive_failures = 0;
	b = mk(&c, &s);
	/* 5 failures in 9 calls: over the rate, under min_calls. */
	for (int i = 0; i < 9; i++)
		call(b, 1000, i % 2 ? BRK_SUCCESS : BRK_FAILURE, 10);
	ck_assert_int_eq(brk_state(b, 1000), BRK_CLOSED);
	ck_assert_int_eq(s.n, 0);
	/* The tenth call makes it 5 of 10 = the rate exactly: trips. */
	call(b, 1000, BRK_SUCCESS, 10);
	ck_assert_int_eq(brk_state(b, 1000), BRK_OPEN);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.why[0], "failure rate 50% over 10 calls");
	ck_assert_int_eq(brk_trips(b), 1);
	ck_assert_int_eq(call(b, 1001, BRK_SUCCESS, 10), 0);
	brk_free(b);

	/* Just under the rate: 4 of 10, then successes: never trips. */
	b = mk(&c, &s);
	calls(b, 0, BRK_FAILURE, 10, 4);
	calls(b, 0, BRK_SUCCESS, 10, 200);
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	brk_free(b);

	/* failure_rate 0 turns the rate off: all failures trip nothing. */
	c.failure_rate = 0;
	b = mk(&c, &s);
	calls(b, 0, BRK_FAILURE, 10, 100);
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	brk_free(b);
}
END_TEST

START_TEST(trips_on_consecutive_failures)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b = mk(&c, &s);

	/* A success breaks the streak: 4 + 4 failures do not trip (9 calls < min). */
	calls(b, 0, BRK_FAILURE, 10, 4);
	calls(b, 0, BRK_SUCCESS, 10, 1);
	calls(b, 0, BRK_FAILURE, 10, 4);
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	calls(b, 0, BRK_FAILURE, 10, 1);
	ck_assert_int_eq(brk_state(b, 0), BRK_OPEN);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.why[0], "5 consecutive failures");
	brk_free(b);

	/* consecutive_failures 0 = off: with a high min_calls nothing trips. */
	c.consecutive_failures = 0;
	c.min_calls = 1000;
	b = mk(&c, &s);
	calls(b, 0, BRK_FAILURE, 10, 999);
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	calls(b, 0, BRK_FAILURE, 10, 1);
	ck_assert_int_eq(brk_state(b, 0), BRK_OPEN);
	ck_assert_str_eq(s.why[0], "failure rate 100% over 1000 calls");
	brk_free(b);
}
END_TEST

START_TEST(slow_calls_trip)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b;

	c.slow_call_ms = 1000;
	b = mk(&c, &s);
	calls(b, 0, BRK_SUCCESS, 999, 2);
	calls(b, 0, BRK_SUCCESS, 1000, 7); /* exactly slow_call_ms counts as slow */
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	calls(b, 0, BRK_SUCCESS, 60000, 1); /* 8 of 10 slow */
	ck_assert_int_eq(brk_state(b, 0), BRK_OPEN);
	ck_assert_str_eq(s.why[0], "slow calls 80% over 10 calls");
	brk_free(b);

	/* A slow failure is a failure, not a slow call. */
	c.consecutive_failures = 0;
	c.failure_rate = 0;
	b = mk(&c, &s);
	calls(b, 0, BRK_FAILURE, 50000, 50);
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	brk_free(b);

	/* slow_call_ms 0 = off. */
	c = cfg_exact();
	c.slow_call_ms = 0;
	b = mk(&c, &s);
	calls(b, 0, BRK_SUCCESS, 1000000, 100);
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	brk_free(b);
}
END_TEST

START_TEST(ignored_changes_nothing)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b = mk(&c, &s);

	/* IGNORED and COOLDOWN neither count as calls nor break a streak. */
	calls(b, 0, BRK_FAILURE, 10, 4);
	calls(b, 0, BRK_IGNORED, 10, 100);
	calls(b, 0, BRK_COOLDOWN, 10, 100);
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	ck_assert_int_eq(s.n, 0);
	calls(b, 0, BRK_FAILURE, 10, 1);
	ck_assert_int_eq(brk_state(b, 0), BRK_OPEN);
	ck_assert_str_eq(s.why[0], "5 consecutive failures");
	brk_free(b);

	/* Nor do they dilute the rate: 9 failures + 1000 ignored + 1 success. */
	c.consecutive_failures = 0;
	b = mk(&c, &s);
	calls(b, 0, BRK_FAILURE, 10, 9);
	calls(b, 0, BRK_IGNORED, 10, 1000);
	ck_assert_int_eq(brk_state(b, 0), BRK_CLOSED);
	calls(b, 0, BRK_SUCCESS, 10, 1);
	ck_assert_str_eq(s.why[0], "failure rate 90% over 10 calls");
	brk_free(b);
}
END_TEST

START_TEST(window_rotation_forgets_old_failures)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b;

	c.window_ms = 10000; /* buckets of 1000 ms */
	c.consecutive_failures = 0;

	/* 9 failures in bucket 0, the tenth in bucket 9: all in the window. */
	b = mk(&c, &s);
	calls(b, 0, BRK_FAILURE, 10, 9);
	calls(b, 9999, BRK_FAILURE, 10, 1);
	ck_assert_int_eq(brk_state(b, 9999), BRK_OPEN);
	ck_assert_str_eq(s.why[0], "failure rate 100% over 10 calls");
	brk_free(b);

	/* At 10000 bucket 0 has rotated out: one failure in one call. */
	b = mk(&c, &s);
	calls(b, 999, BRK_FAILURE, 10, 9);
	calls(b, 10000, BRK_FAILURE, 10, 1);
	ck_assert_int_eq(brk_state(b, 10000), BRK_CLOSED);
	/* And nine successes later the rate is 1/10, far below. */
	calls(b, 10500, BRK_SUCCESS, 10, 9);
	ck_assert_int_eq(brk_state(b, 10500), BRK_CLOSED);
	brk_free(b);

	/* A long silence clears the whole window at once. */
	b = mk(&c, &s);
	for (int i = 0; i < 9; i++)
		calls(b, i * 1000, BRK_FAILURE, 10, 1);
	calls(b, 1000000, BRK_FAILURE, 10, 9);
	ck_assert_int_eq(brk_state(b, 1000000), BRK_CLOSED);
	calls(b, 1000001, BRK_FAILURE, 10, 1);
	ck_assert_int_eq(brk_state(b, 1000001), BRK_OPEN);
	ck_assert_str_eq(s.why[0], "failure rate 100% over 10 calls");
	brk_free(b);

	/* A clock that steps back counts into the newest bucket, nothing breaks. */
	b = mk(&c, &s);
	calls(b, 50000, BRK_FAILURE, 10, 5);
	calls(b, 20000, BRK_FAILURE, 10, 5);
	ck_assert_int_eq(brk_state(b, 20000), BRK_OPEN);
	brk_free(b);
}
END_TEST

/* ---- cooldown ---- */

START_TEST(cooldown_blocks_without_tripping)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b = mk(&c, &s);
	uint64_t g;

	calls(b, 0, BRK_FAILURE, 10, 4);
	/* A 429 with retry_after 2 s. */
	ck_assert_int_eq(brk_allow(b, 100, &g), 1);
	brk_record(b, 100, g, BRK_COOLDOWN, 10);
	brk_cooldown(b, 100, 2100);
	ck_assert_int_eq(brk_state(b, 100), BRK_COOLING);
	ck_assert_int_eq(brk_retry_at(b), 2100);
	ck_assert_int_eq(brk_allow(b, 100, &g), 0);
	ck_assert_int_eq(brk_allow(b, 2099, &g), 0);
	ck_assert_int_eq(brk_trips(b), 0);
	ck_assert_int_eq(s.n, 0);

	/* An earlier end does not shorten it, a later one extends it; one in the
	 * past does nothing. */
	brk_cooldown(b, 200, 1500);
	ck_assert_int_eq(brk_retry_at(b), 2100);
	brk_cooldown(b, 200, 150);
	ck_assert_int_eq(brk_retry_at(b), 2100);
	brk_cooldown(b, 200, 3000);
	ck_assert_int_eq(brk_retry_at(b), 3000);
	ck_assert_int_eq(brk_allow(b, 2500, &g), 0);

	/* Over: closed as before, with its streak of 4 intact. */
	ck_assert_int_eq(brk_state(b, 3000), BRK_CLOSED);
	ck_assert_int_eq(call(b, 3000, BRK_FAILURE, 10), 1);
	ck_assert_int_eq(brk_state(b, 3000), BRK_OPEN);
	ck_assert_int_eq(s.n, 1);
	ck_assert_str_eq(s.why[0], "5 consecutive failures");
	brk_free(b);
}
END_TEST

START_TEST(cooldown_over_open_and_calls_in_flight)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b = mk(&c, &s);
	uint64_t g;

	/* A call in flight when the cooldown starts still reports normally. */
	ck_assert_int_eq(brk_allow(b, 0, &g), 1);
	calls(b, 0, BRK_FAILURE, 10, 4);
	brk_cooldown(b, 10, 1000);
	brk_record(b, 20, g, BRK_FAILURE, 20);
	ck_assert_int_eq(brk_state(b, 20), BRK_COOLING);
	ck_assert_int_eq(brk_trips(b), 1);
	/* OPEN until 5020, cooling until 1000: the later wins. */
	ck_assert_int_eq(brk_retry_at(b), 5020);
	/* A cooldown beyond the open wait holds the probes back. */
	brk_cooldown(b, 30, 9000);
	ck_assert_int_eq(brk_retry_at(b), 9000);
	ck_assert_int_eq(brk_allow(b, 6000, &g), 0);
	ck_assert_int_eq(brk_state(b, 8999), BRK_COOLING);
	ck_assert_int_eq(brk_state(b, 9000), BRK_OPEN);
	ck_assert_int_eq(brk_allow(b, 9000, &g), 1);
	ck_assert_int_eq(brk_state(b, 9000), BRK_HALF_OPEN);
	brk_free(b);
}
END_TEST

/* ---- open and half-open ---- */

START_TEST(open_then_half_open_exact_probes)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b = mk(&c, &s);
	uint64_t g[4];

	trip_now(b, 1000);
	ck_assert_int_eq(brk_retry_at(b), 6000);
	ck_assert_int_eq(brk_allow(b, 5999, &g[0]), 0);
	ck_assert_int_eq(brk_state(b, 5999), BRK_OPEN);
	ck_assert_int_eq(brk_state(b, 6500), BRK_OPEN); /* until brk_allow moves it */
	ck_assert_int_eq(s.n, 1);

	ck_assert_int_eq(brk_allow(b, 6500, &g[0]), 1);
	ck_assert_int_eq(brk_state(b, 6500), BRK_HALF_OPEN);
	ck_assert_int_eq(s.n, 2);
	ck_assert_str_eq(s.why[1], "open for 5500 ms");
	ck_assert_int_eq(brk_retry_at(b), 0);
	ck_assert_int_eq(brk_allow(b, 6501, &g[1]), 1);
	ck_assert_int_eq(brk_allow(b, 6502, &g[2]), 1);
	ck_assert_int_eq(brk_retry_at(b), 6502 + 5000);
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(brk_allow(b, 6503 + i, &g[3]), 0);
	ck_assert(g[0] == g[1] && g[1] == g[2] && g[2] == g[3]);

	/* An IGNORED (or COOLDOWN) probe gives its slot back. */
	brk_record(b, 7000, g[0], BRK_IGNORED, 10);
	ck_assert_int_eq(brk_allow(b, 7000, &g[3]), 1);
	ck_assert_int_eq(brk_allow(b, 7000, &g[3]), 0);
	brk_record(b, 7000, g[1], BRK_COOLDOWN, 10);
	ck_assert_int_eq(brk_allow(b, 7001, &g[3]), 1);
	ck_assert_int_eq(brk_allow(b, 7001, &g[3]), 0);
	ck_assert_int_eq(brk_state(b, 7001), BRK_HALF_OPEN);
	brk_free(b);
}
END_TEST

START_TEST(failed_probe_reopens_longer_and_capped)
{
	struct brk_config c;
	int below = 0, above = 0;

	brk_config_defaults(&c); /* jitter 0.2, 5000 doubling to 120000 */
	for (uint64_t seed = 1; seed <= 200; seed++) {
		struct brk *b = brk_new("p", &c, seed);
		int64_t now = 0;

		trip_now(b, now);
		for (int trips = 1; trips <= 12; trips++) {
			int64_t top = (int64_t)c.open_ms << (trips - 1);
			int64_t wait = brk_retry_at(b) - now;

			if (top > c.open_max_ms)
				top = c.open_max_ms;
			ck_assert_int_eq(brk_trips(b), trips);
			ck_assert_int_ge(wait, (int64_t)((double)top * 0.8) - 1);
			ck_assert_int_le(wait, (int64_t)((double)top * 1.2) + 1);
			ck_assert_int_le(wait, c.open_max_ms);
			if (trips == 1) {
				below += wait < 5000;
				above += wait > 5000;
			}
			/* Wait it out, fail the probe. */
			now += wait;
			ck_assert_int_eq(call(b, now - 1, BRK_SUCCESS, 1), 0);
			ck_assert_int_eq(call(b, now, BRK_FAILURE, 1), 1);
			ck_assert_int_eq(brk_state(b, now), BRK_OPEN);
		}
		brk_free(b);
	}
	/* The jitter spreads both ways. */
	ck_assert_int_gt(below, 50);
	ck_assert_int_gt(above, 50);
}
END_TEST

START_TEST(failed_probe_exact_doubling)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b = mk(&c, &s);
	int64_t now = 0;
	const int64_t want[] = { 5000, 10000, 20000, 40000, 80000, 120000, 120000 };

	trip_now(b, now);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		ck_assert_int_eq(brk_retry_at(b) - now, want[i]);
		now = brk_retry_at(b);
		call(b, now, BRK_FAILURE, 1);
	}
	ck_assert_int_eq(s.to[1], BRK_HALF_OPEN);
	ck_assert_int_eq(s.from[2], BRK_HALF_OPEN);
	ck_assert_int_eq(s.to[2], BRK_OPEN);
	ck_assert_str_eq(s.why[2], "probe failed");
	brk_free(b);
}
END_TEST

START_TEST(probes_succeed_close_and_reset_trips)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b = mk(&c, &s);
	uint64_t g[3];
	int64_t now = 0;

	trip_now(b, now);
	now = brk_retry_at(b);
	call(b, now, BRK_FAILURE, 1); /* trips = 2, wait 10000 */
	ck_assert_int_eq(brk_trips(b), 2);
	now = brk_retry_at(b);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(brk_allow(b, now, &g[i]), 1);
	brk_record(b, now + 10, g[0], BRK_SUCCESS, 10);
	brk_record(b, now + 20, g[1], BRK_SUCCESS, 10);
	ck_assert_int_eq(brk_state(b, now + 20), BRK_HALF_OPEN);
	brk_record(b, now + 30, g[2], BRK_SUCCESS, 10);
	ck_assert_int_eq(brk_state(b, now + 30), BRK_CLOSED);
	ck_assert_int_eq(brk_trips(b), 0);
	ck_assert_int_eq(brk_retry_at(b), 0);
	ck_assert_str_eq(s.why[s.n - 1], "3 probes succeeded");
	/* The next trip waits the base time again. */
	now += 30;
	trip_now(b, now);
	ck_assert_int_eq(brk_retry_at(b) - now, 5000);
	brk_free(b);
}
END_TEST

START_TEST(closing_clears_the_window)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b;
	uint64_t g;

	c.consecutive_failures = 0;
	c.half_open_probes = 1;
	b = mk(&c, &s);
	calls(b, 0, BRK_SUCCESS, 10, 5);
	calls(b, 0, BRK_FAILURE, 10, 5);
	ck_assert_int_eq(brk_state(b, 0), BRK_OPEN);
	ck_assert_int_eq(brk_allow(b, 5000, &g), 1);
	brk_record(b, 5000, g, BRK_SUCCESS, 10);
	ck_assert_int_eq(brk_state(b, 5000), BRK_CLOSED);
	ck_assert_str_eq(s.why[s.n - 1], "1 probe succeeded");
	/* 9 successes and 1 failure: only the new calls count. */
	calls(b, 5001, BRK_FAILURE, 10, 4);
	calls(b, 5001, BRK_SUCCESS, 10, 6);
	ck_assert_int_eq(brk_state(b, 5001), BRK_CLOSED);
	brk_free(b);
}
END_TEST

START_TEST(slow_probes_reopen)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b;
	uint64_t g;
	int64_t now;

	c.slow_call_ms = 1000;
	b = mk(&c, &s);
	trip_now(b, 0);
	now = brk_retry_at(b);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(brk_allow(b, now, &g), 1);
		brk_record(b, now, g, BRK_SUCCESS, 5000);
	}
	ck_assert_int_eq(brk_state(b, now), BRK_OPEN);
	ck_assert_str_eq(s.why[s.n - 1], "slow probes 100%");
	ck_assert_int_eq(brk_trips(b), 2);
	ck_assert_int_eq(brk_retry_at(b) - now, 10000);

	/* 2 of 3 slow = 67% < 80%: closes. */
	now = brk_retry_at(b);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(brk_allow(b, now, &g), 1);
		brk_record(b, now, g, BRK_SUCCESS, i ? 5000 : 10);
	}
	ck_assert_int_eq(brk_state(b, now), BRK_CLOSED);
	brk_free(b);
}
END_TEST

START_TEST(lost_probes_time_out)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b = mk(&c, &s);
	uint64_t g, probe;
	int64_t now;

	trip_now(b, 0);
	now = brk_retry_at(b);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(brk_allow(b, now + i, &probe), 1);
	/* No result ever comes back. */
	ck_assert_int_eq(brk_allow(b, now + 2 + 119999, &g), 0);
	ck_assert_int_eq(brk_state(b, now + 2 + 119999), BRK_HALF_OPEN);
	ck_assert_int_eq(brk_allow(b, now + 2 + 120000, &g), 0);
	ck_assert_int_eq(brk_state(b, now + 2 + 120000), BRK_OPEN);
	ck_assert_str_eq(s.why[s.n - 1], "no probe result in 120000 ms");
	ck_assert_int_eq(brk_trips(b), 2);
	/* A late probe result is from an older generation now. */
	ck_assert(g != probe);
	brk_record(b, now + 130000, probe, BRK_FAILURE, 10);
	ck_assert_int_eq(brk_state(b, now + 130000), BRK_OPEN);
	brk_free(b);

	/* probe_timeout_ms 0: half-open waits as long as it takes. */
	c.probe_timeout_ms = 0;
	b = mk(&c, &s);
	trip_now(b, 0);
	now = brk_retry_at(b);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(brk_allow(b, now, &g), 1);
	ck_assert_int_eq(brk_allow(b, now + 100000000, &g), 0);
	ck_assert_int_eq(brk_state(b, now + 100000000), BRK_HALF_OPEN);
	brk_free(b);
}
END_TEST

/* ---- generations ---- */

START_TEST(old_generation_results_ignored)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b;
	uint64_t old, stale_probe, g;
	int64_t now;

	c.slow_call_ms = 1000;
	b = mk(&c, &s);
	/* A slow call starts while closed... */
	ck_assert_int_eq(brk_allow(b, 0, &old), 1);
	trip_now(b, 10);
	now = brk_retry_at(b);
	ck_assert_int_eq(brk_allow(b, now, &g), 1);
	ck_assert(g != old);
	/* ...and ends during half-open: neither a probe success nor a failure. */
	brk_record(b, now + 1, old, BRK_SUCCESS, 60000);
	brk_record(b, now + 1, old, BRK_SUCCESS, 10);
	brk_record(b, now + 1, old, BRK_SUCCESS, 10);
	ck_assert_int_eq(brk_state(b, now + 1), BRK_HALF_OPEN);
	brk_record(b, now + 2, old, BRK_FAILURE, 10);
	ck_assert_int_eq(brk_state(b, now + 2), BRK_HALF_OPEN);
	/* Two slots remain: the stale results freed nothing and filled nothing. */
	ck_assert_int_eq(brk_allow(b, now + 3, &g), 1);
	ck_assert_int_eq(brk_allow(b, now + 3, &g), 1);
	ck_assert_int_eq(brk_allow(b, now + 3, &stale_probe), 0);
	for (int i = 0; i < 3; i++)
		brk_record(b, now + 4, g, BRK_SUCCESS, 10);
	ck_assert_int_eq(brk_state(b, now + 4), BRK_CLOSED);

	/* Once closed, a probe result of the old half-open round counts for nothing. */
	for (int i = 0; i < 20; i++)
		brk_record(b, now + 5, g, BRK_FAILURE, 10);
	ck_assert_int_eq(brk_state(b, now + 5), BRK_CLOSED);
	/* Nor does a made-up future generation. */
	for (int i = 0; i < 20; i++)
		brk_record(b, now + 5, g + 1000, BRK_FAILURE, 10);
	ck_assert_int_eq(brk_state(b, now + 5), BRK_CLOSED);
	/* A result recorded while OPEN (a caller's slip) is ignored too. */
	trip_now(b, now + 6);
	ck_assert_int_eq(brk_allow(b, now + 7, &g), 0);
	brk_record(b, now + 7, g, BRK_SUCCESS, 10);
	ck_assert_int_eq(brk_state(b, now + 7), BRK_OPEN);
	brk_free(b);
}
END_TEST

/* ---- reporting ---- */

START_TEST(transition_callback_reports_each_change)
{
	struct brk_config c = cfg_exact();
	struct seen s;
	struct brk *b;
	int64_t now = 0;

	c.consecutive_failures = 0;
	c.failure_rate = 0.6;
	b = mk(&c, &s);
	calls(b, now, BRK_SUCCESS, 10, 4);
	calls(b, now, BRK_FAILURE, 10, 6); /* closed -> open */
	now = brk_retry_at(b);
	call(b, now, BRK_FAILURE, 10); /* -> half_open -> open */
	now = brk_retry_at(b);
	calls(b, now, BRK_SUCCESS, 10, 3); /* -> half_open -> closed */

	ck_assert_int_eq(s.n, 5);
	const enum brk_state from[] = { BRK_CLOSED, BRK_OPEN, BRK_HALF_OPEN, BRK_OPEN, BRK_HALF_OPEN };
	const enum brk_state to[] = { BRK_OPEN, BRK_HALF_OPEN, BRK_OPEN, BRK_HALF_OPEN, BRK_CLOSED };
	const char *why[] = { "failure rate 60% over 10 calls", "open for 5000 ms", "probe failed",
			      "open for 10000 ms", "3 probes succeeded" };
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(s.from[i], from[i]);
		ck_assert_int_eq(s.to[i], to[i]);
		ck_assert_str_eq(s.why[i], why[i]);
		ck_assert_int_eq(s.inside[i], to[i]); /* the state had changed already */
	}

	/* No callback once unset; the name reaches it. */
	brk_on_transition(b, NULL, NULL);
	trip_now(b, now);
	ck_assert_int_eq(s.n, 5);
	brk_free(b);
}
END_TEST

/* ---- the random walk ---- */

struct walk {
	enum brk_state state; /* as the callbacks told it */
	int epoch;            /* transitions so far */
	int transitions[3][3];
	int bad;
};

static void on_walk(const char *name, enum brk_state from, enum brk_state to, const char *why, void *arg)
{
	struct walk *w = arg;
	int legal = (from == BRK_CLOSED && to == BRK_OPEN) ||
		    (from == BRK_OPEN && to == BRK_HALF_OPEN) ||
		    (from == BRK_HALF_OPEN && (to == BRK_OPEN || to == BRK_CLOSED));

	(void)name;
	w->epoch++;
	if (!legal || from != w->state || !why || !*why)
		w->bad++;
	else
		w->transitions[from][to]++;
	w->state = to;
}

struct inflight {
	uint64_t gen;
};

START_TEST(random_walk_keeps_invariants)
{
	struct brk_config c;
	struct walk w = { .state = BRK_CLOSED };
	struct inflight fl[64];
	int nfl = 0, ho_net = 0, ho_done = 0, max_ho_net = 0, allowed = 0, ho_epoch = -1;
	uint64_t rng = 0x5eed, ho_gen = UINT64_MAX, g;
	int64_t now = 0;
	struct brk *b;

	brk_config_defaults(&c);
	c.window_ms = 1000;
	c.min_calls = 5;
	c.consecutive_failures = 3;
	c.slow_call_ms = 200;
	c.open_ms = 50;
	c.open_max_ms = 800;
	c.open_jitter = 0.3;
	c.probe_timeout_ms = 2000;
	b = brk_new("walk", &c, 99);
	brk_on_transition(b, on_walk, &w);

	for (int step = 0; step < 100000; step++) {
		uint64_t r = backoff_rand(&rng) % 100;
		enum brk_state before;

		now += (int64_t)(backoff_rand(&rng) % 20);
		before = brk_state(b, now);
		if (before != BRK_COOLING)
			ck_assert_int_eq(before, w.state);
		if (r < 50) {
			int may_not = before == BRK_COOLING ||
				      (before == BRK_OPEN && now < brk_retry_at(b));
			int ok = brk_allow(b, now, &g);

			if (may_not)
				ck_assert_int_eq(ok, 0);
			if (!ok)
				continue;
			allowed++;
			ck_assert(w.state == BRK_CLOSED || w.state == BRK_HALF_OPEN);
			if (w.state == BRK_HALF_OPEN) {
				if (g != ho_gen) {
					ho_gen = g;
					ho_epoch = w.epoch;
					ho_net = ho_done = 0;
				}
				ck_assert_int_eq(ho_epoch, w.epoch);
				ho_net++;
				max_ho_net = ho_net > max_ho_net ? ho_net : max_ho_net;
				ck_assert_int_le(ho_net, c.half_open_probes);
			}
			if (nfl < 64)
				fl[nfl++].gen = g;
		} else if (r < 92 && nfl > 0) {
			int i = (int)(backoff_rand(&rng) % (uint64_t)nfl);
			uint64_t k = backoff_rand(&rng) % 100;
			enum brk_result res = k < 50   ? BRK_SUCCESS
					      : k < 80 ? BRK_FAILURE
					      : k < 90 ? BRK_IGNORED
						       : BRK_COOLDOWN;
			int dur = (int)(backoff_rand(&rng) % 400);
			uint64_t cg = fl[i].gen;

			fl[i] = fl[--nfl];
			/* Count only results of the half-open round still running. */
			if (cg == ho_gen && ho_epoch == w.epoch) {
				if (res == BRK_IGNORED || res == BRK_COOLDOWN)
					ho_net--;
				else
					ck_assert_int_le(++ho_done, c.half_open_probes);
			}
			brk_record(b, now, cg, res, dur);
			if (res == BRK_COOLDOWN && backoff_rand(&rng) % 4 == 0)
				brk_cooldown(b, now, now + (int64_t)(backoff_rand(&rng) % 300));
		} else if (r < 96 && nfl > 0) {
			int i = (int)(backoff_rand(&rng) % (uint64_t)nfl);

			fl[i] = fl[--nfl]; /* lost: never reported */
		} else {
			brk_record(b, now, backoff_rand(&rng), BRK_FAILURE, 1);
		}
		if (w.state == BRK_OPEN && brk_retry_at(b) > now) {
			/* Waits stay within the cap and are never zero. */
			ck_assert_int_le(brk_retry_at(b) - now, c.open_max_ms + 300);
		}
	}
	ck_assert_int_eq(w.bad, 0);
	/* The walk went everywhere. */
	ck_assert_int_gt(w.transitions[BRK_CLOSED][BRK_OPEN], 10);
	ck_assert_int_gt(w.transitions[BRK_OPEN][BRK_HALF_OPEN], 10);
	ck_assert_int_gt(w.transitions[BRK_HALF_OPEN][BRK_OPEN], 10);
	ck_assert_int_gt(w.transitions[BRK_HALF_OPEN][BRK_CLOSED], 10);
	ck_assert_int_eq(max_ho_net, c.half_open_probes);
	ck_assert_int_gt(allowed, 1000);
	brk_free(b);
}
END_TEST

static Suite *brk_suite(void)
{
	Suite *s = suite_create("brk");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, defaults_and_config_check);
	tcase_add_test(tc, new_free_and_names);
	tcase_add_test(tc, many_breakers);
	tcase_add_test(tc, shared_config_replays_the_copy);
	tcase_add_test(tc, trips_on_failure_rate_only_after_min_calls);
	tcase_add_test(tc, trips_on_consecutive_failures);
	tcase_add_test(tc, slow_calls_trip);
	tcase_add_test(tc, ignored_changes_nothing);
	tcase_add_test(tc, window_rotation_forgets_old_failures);
	tcase_add_test(tc, cooldown_blocks_without_tripping);
	tcase_add_test(tc, cooldown_over_open_and_calls_in_flight);
	tcase_add_test(tc, open_then_half_open_exact_probes);
	tcase_add_test(tc, failed_probe_reopens_longer_and_capped);
	tcase_add_test(tc, failed_probe_exact_doubling);
	tcase_add_test(tc, probes_succeed_close_and_reset_trips);
	tcase_add_test(tc, closing_clears_the_window);
	tcase_add_test(tc, slow_probes_reopen);
	tcase_add_test(tc, lost_probes_time_out);
	tcase_add_test(tc, old_generation_results_ignored);
	tcase_add_test(tc, transition_callback_reports_each_change);
	tcase_add_test(tc, random_walk_keeps_invariants);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(brk_suite)
