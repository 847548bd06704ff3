/* test_sched: the bot scheduler on a virtual clock with a seeded generator.
 *
 * What a user would check: delays have the means BEHAVIOUR.md promises (30 s,
 * 18 s in prime hours, scaled, multiplied, halved for a bot that is behind) and
 * stay inside their bounds; a bot driven for a virtual day by heap + policy +
 * delay model never exceeds its hourly cap in any sliding hour, speaks only in
 * its active hours and speaks more in prime hours; the heap pops in order and a
 * tick with nothing due costs nothing however many bots wait; every verdict of
 * sched_check comes with the right retry time. */
#include "common/backoff.h"
#include "tests/check_main.h"
#include "worker/chat/sched.h"

#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_MS 60000LL
#define HOUR 3600000LL
#define DAY (24 * HOUR)

static int minute_of(int64_t t_ms)
{
	return (int)((t_ms / MIN_MS) % 1440);
}

static json_t *js(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &e);

	ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, e.text);
	return v;
}

/* ---- parameters, speed, hours ---- */

START_TEST(params_defaults_match_behaviour)
{
	struct sched_params p;

	sched_params_default(&p);
	ck_assert_double_eq(p.scale_factor, 1.0);
	ck_assert_double_eq(p.mean_s, 30.0);
	ck_assert_double_eq(p.prime_mean_s, 18.0);
	ck_assert_int_eq(p.prime_boost, 1);
	ck_assert_int_eq(p.nprime, 2);
	ck_assert_int_eq(p.prime_from[0], 9 * 60 + 30);
	ck_assert_int_eq(p.prime_to[0], 12 * 60);
	ck_assert_int_eq(p.prime_from[1], 14 * 60);
	ck_assert_int_eq(p.prime_to[1], 18 * 60);
	ck_assert_int_eq(p.hourly_min, 6);
	ck_assert_int_eq(p.hourly_max, 12);
	ck_assert_int_eq(p.hour_ms, HOUR);
	ck_assert(!sched_in_prime(&p, 9 * 60 + 29));
	ck_assert(sched_in_prime(&p, 9 * 60 + 30));
	ck_assert(!sched_in_prime(&p, 12 * 60));
	ck_assert(sched_in_prime(&p, 17 * 60 + 59));
	ck_assert(!sched_in_prime(&p, 13 * 60));
}
END_TEST

START_TEST(window_follows_scale)
{
	struct sched_params p;

	sched_params_default(&p);
	ck_assert_int_eq(sched_params_window_ms(&p), HOUR);
	p.scale_factor = 60;
	ck_assert_int_eq(sched_params_window_ms(&p), MIN_MS);
	p.scale_factor = 2;
	ck_assert_int_eq(sched_params_window_ms(&p), HOUR / 2);
	/* Slower than real time: delays stretch, the caps stay per real hour. */
	p.scale_factor = 0.5;
	ck_assert_int_eq(sched_params_window_ms(&p), HOUR);
	p.scale_factor = 0;
	ck_assert_int_eq(sched_params_window_ms(&p), HOUR);
	p.scale_factor = NAN;
	ck_assert_int_eq(sched_params_window_ms(&p), HOUR);
	p.scale_factor = 1e30;
	ck_assert_int_eq(sched_params_window_ms(&p), 1);
}
END_TEST

START_TEST(prime_hours_from_setting)
{
	struct sched_params p;
	char err[256];
	json_t *v;

	sched_params_default(&p);
	v = js("[\"08:00-09:00\", \"23:00-01:00\"]");
	ck_assert_int_eq(sched_params_set_prime(&p, v, err, sizeof err), 0);
	json_decref(v);
	ck_assert_int_eq(p.nprime, 2);
	ck_assert(sched_in_prime(&p, 8 * 60));
	ck_assert(sched_in_prime(&p, 0));
	ck_assert(!sched_in_prime(&p, 10 * 60));
	v = js("[]");
	ck_assert_int_eq(sched_params_set_prime(&p, v, err, sizeof err), 0);
	json_decref(v);
	ck_assert_int_eq(p.nprime, 0);
	for (int m = 0; m < 1440; m++)
		ck_assert(!sched_in_prime(&p, m)); /* [] = none, unlike active hours */
	v = js("[\"01:00-02:00\",\"02:00-03:00\",\"03:00-04:00\",\"04:00-05:00\",\"05:00-06:00\","
	       "\"06:00-07:00\",\"07:00-08:00\",\"08:00-09:00\",\"09:00-10:00\"]");
	ck_assert_int_eq(sched_params_set_prime(&p, v, err, sizeof err), -1);
	ck_assert_str_eq(err, "prime_hours: at most 8 ranges");
	json_decref(v);
	v = js("[\"9-17\"]");
	ck_assert_int_eq(sched_params_set_prime(&p, v, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "prime_hours[0]"));
	json_decref(v);
	ck_assert_int_eq(p.nprime, 0); /* unchanged by the failures */
}
END_TEST

START_TEST(speed_defaults_and_fields)
{
	struct sched_speed sp;
	char err[256];
	json_t *v;

	memset(&sp, 0, sizeof sp);
	ck_assert_int_eq(sched_speed_from_json(NULL, &sp, err, sizeof err), 0);
	ck_assert_double_eq(sp.base_delay_s, 0);
	ck_assert_double_eq(sp.delay_multiplier, 1);
	ck_assert_double_eq(sp.jitter_min, 0.7);
	ck_assert_double_eq(sp.jitter_max, 1.3);
	ck_assert_double_eq(sp.min_s, 2);
	ck_assert_double_eq(sp.max_s, 180);
	v = js("{}");
	memset(&sp, 0, sizeof sp);
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), 0);
	ck_assert_double_eq(sp.max_s, 180);
	json_decref(v);
	v = js("null");
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), 0);
	json_decref(v);

	v = js("{\"delay\":{\"base_delay_seconds\":45,\"delay_multiplier\":1.5,\"jitter_min\":0.5,"
	       "\"jitter_max\":2,\"min_seconds\":5,\"max_seconds\":600},"
	       "\"typing\":{\"wpm_min\":3,\"wpm_max\":5}}");
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), 0);
	ck_assert_double_eq(sp.base_delay_s, 45);
	ck_assert_double_eq(sp.delay_multiplier, 1.5);
	ck_assert_double_eq(sp.jitter_min, 0.5);
	ck_assert_double_eq(sp.jitter_max, 2);
	ck_assert_double_eq(sp.min_s, 5);
	ck_assert_double_eq(sp.max_s, 600);
	json_decref(v);

	v = js("{\"delay\":{\"delay_multiplier\":3}}");
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), 0);
	ck_assert_double_eq(sp.delay_multiplier, 3);
	ck_assert_double_eq(sp.base_delay_s, 0);
	ck_assert_double_eq(sp.jitter_min, 0.7);
	ck_assert_double_eq(sp.min_s, 2);
	json_decref(v);
}
END_TEST

START_TEST(speed_refused)
{
	struct sched_speed sp, before;
	char err[256];
	json_t *v;

	sched_speed_default(&sp);
	sp.max_s = 77;
	before = sp;
	v = js("{\"delay\":\"fast\"}");
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "speed_profile.delay"));
	json_decref(v);
	v = js("{\"delay\":{\"delay_multiplier\":0}}");
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), -1);
	json_decref(v);
	v = js("{\"delay\":{\"min_seconds\":10,\"max_seconds\":5}}");
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), -1);
	json_decref(v);
	/* Only min given, above the default max: refused once the defaults fill in. */
	v = js("{\"delay\":{\"min_seconds\":300}}");
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), -1);
	ck_assert_str_eq(err, "speed_profile.delay: min_seconds 300 above max_seconds 180");
	json_decref(v);
	v = js("{\"delay\":{\"jitter_min\":1.5}}");
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "jitter_min"));
	json_decref(v);
	v = js("{\"delay\":{\"delay_multiplyer\":2}}");
	ck_assert_int_eq(sched_speed_from_json(v, &sp, err, sizeof err), -1);
	json_decref(v);
	ck_assert_mem_eq(&sp, &before, sizeof sp);
}
END_TEST

START_TEST(hours_parse_contain_next_start)
{
	struct sched_hours h;
	char err[256];
	json_t *v;

	v = js("[]");
	ck_assert_int_eq(sched_hours_from_json(v, &h, err, sizeof err), 0);
	json_decref(v);
	ck_assert_int_eq(h.n, 0);
	for (int m = 0; m < 1440; m++) {
		ck_assert(sched_hours_contain(&h, m));
		ck_assert_int_eq(sched_hours_next_start(&h, m), 0);
	}
	ck_assert_int_eq(sched_hours_from_json(NULL, &h, err, sizeof err), 0);
	ck_assert(sched_hours_contain(&h, 123));
	ck_assert(sched_hours_contain(NULL, 123));

	v = js("[\"09:00-17:00\"]");
	ck_assert_int_eq(sched_hours_from_json(v, &h, err, sizeof err), 0);
	json_decref(v);
	ck_assert(!sched_hours_contain(&h, 8 * 60 + 59));
	ck_assert(sched_hours_contain(&h, 9 * 60));
	ck_assert(sched_hours_contain(&h, 16 * 60 + 59));
	ck_assert(!sched_hours_contain(&h, 17 * 60));
	ck_assert_int_eq(sched_hours_next_start(&h, 8 * 60), 60);
	ck_assert_int_eq(sched_hours_next_start(&h, 8 * 60 + 59), 1);
	ck_assert_int_eq(sched_hours_next_start(&h, 12 * 60), 0);
	ck_assert_int_eq(sched_hours_next_start(&h, 17 * 60), 16 * 60);
	ck_assert_int_eq(sched_hours_next_start(&h, 23 * 60 + 59), 9 * 60 + 1);

	v = js("[\"22:00-02:00\", \"12:00-12:30\"]");
	ck_assert_int_eq(sched_hours_from_json(v, &h, err, sizeof err), 0);
	json_decref(v);
	ck_assert(sched_hours_contain(&h, 22 * 60));
	ck_assert(sched_hours_contain(&h, 23 * 60 + 30));
	ck_assert(sched_hours_contain(&h, 0));
	ck_assert(sched_hours_contain(&h, 1 * 60 + 59));
	ck_assert(!sched_hours_contain(&h, 2 * 60));
	ck_assert(!sched_hours_contain(&h, 21 * 60 + 59));
	ck_assert(sched_hours_contain(&h, 12 * 60 + 15));
	ck_assert_int_eq(sched_hours_next_start(&h, 2 * 60), 10 * 60);
	ck_assert_int_eq(sched_hours_next_start(&h, 12 * 60 + 30), 9 * 60 + 30);
	ck_assert_int_eq(sched_hours_next_start(&h, 23 * 60), 0);

	v = js("[\"00:00-24:00\"]");
	ck_assert_int_eq(sched_hours_from_json(v, &h, err, sizeof err), 0);
	json_decref(v);
	ck_assert(sched_hours_contain(&h, 0) && sched_hours_contain(&h, 1439));
}
END_TEST

START_TEST(hours_refused)
{
	struct sched_hours h = { .n = 3 };
	char err[256];
	json_t *v = js("[\"09:00-17:00\", \"25:00-26:00\"]");

	ck_assert_int_eq(sched_hours_from_json(v, &h, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "active_hours[1]"));
	json_decref(v);
	v = js("\"09:00-17:00\"");
	ck_assert_int_eq(sched_hours_from_json(v, &h, err, sizeof err), -1);
	json_decref(v);
	v = json_array();
	for (int i = 0; i < SCHED_MAX_HOURS + 1; i++)
		json_array_append_new(v, json_string("10:00-11:00"));
	ck_assert_int_eq(sched_hours_from_json(v, &h, err, sizeof err), -1);
	ck_assert_str_eq(err, "active_hours: at most 16 ranges");
	json_decref(v);
	ck_assert_int_eq(h.n, 3); /* unchanged */
}
END_TEST

/* ---- delay model ---- */

struct stats {
	double mean, lo, hi;
};

static struct stats draw(const struct sched_params *p, const struct sched_speed *sp, int minute,
			 int favoured, int n, uint64_t seed)
{
	struct stats st = { 0, INFINITY, -INFINITY };
	uint64_t rng = seed;
	double sum = 0;

	for (int i = 0; i < n; i++) {
		double d = sched_delay_s(p, sp, minute, favoured, &rng);

		sum += d;
		st.lo = d < st.lo ? d : st.lo;
		st.hi = d > st.hi ? d : st.hi;
	}
	st.mean = sum / n;
	return st;
}

/* A speed with the clamp out of the way, to see the raw mean. */
static struct sched_speed unclamped(void)
{
	struct sched_speed sp;

	sched_speed_default(&sp);
	sp.min_s = 0;
	sp.max_s = 1e12;
	return sp;
}

#define N_DRAWS 200000
#define OUTSIDE (8 * 60) /* 08:00, not prime */
#define INSIDE (10 * 60) /* 10:00, prime */

static void assert_mean(double got, double want)
{
	ck_assert_msg(fabs(got - want) <= 0.02 * want, "mean %.3f, expected %.3f", got, want);
}

START_TEST(delay_means)
{
	struct sched_params p;
	struct sched_speed sp = unclamped();

	sched_params_default(&p);
	/* Jitter U(.7, 1.3) has mean 1, so the mean delay is the model's mean. */
	assert_mean(draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 1).mean, 30.0);
	assert_mean(draw(&p, &sp, INSIDE, 0, N_DRAWS, 2).mean, 18.0);
	ck_assert_double_eq_tol(sched_mean_s(&p, &sp, OUTSIDE, 0), 30.0, 1e-9);
	ck_assert_double_eq_tol(sched_mean_s(&p, &sp, INSIDE, 0), 18.0, 1e-9);
	/* No boost: prime hours are ordinary. */
	p.prime_boost = 0;
	assert_mean(draw(&p, &sp, INSIDE, 0, N_DRAWS, 3).mean, 30.0);
	p.prime_boost = 1;
	/* scale_factor 2 halves it, in and out of prime hours. */
	p.scale_factor = 2;
	assert_mean(draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 4).mean, 15.0);
	assert_mean(draw(&p, &sp, INSIDE, 0, N_DRAWS, 5).mean, 9.0);
	/* The scale floor is 0.1: 0.01 acts as 0.1. */
	p.scale_factor = 0.01;
	assert_mean(draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 6).mean, 300.0);
	p.scale_factor = 1;
	/* delay_multiplier. */
	sp.delay_multiplier = 2.5;
	assert_mean(draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 7).mean, 75.0);
	sp.delay_multiplier = 1;
	/* base_delay_seconds sets the mean; prime hours scale it by 18/30; scale applies. */
	sp.base_delay_s = 50;
	assert_mean(draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 8).mean, 50.0);
	assert_mean(draw(&p, &sp, INSIDE, 0, N_DRAWS, 9).mean, 30.0);
	p.scale_factor = 5;
	assert_mean(draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 10).mean, 10.0);
	sp.delay_multiplier = 2;
	assert_mean(draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 11).mean, 20.0);
}
END_TEST

START_TEST(delay_jitter_bounds)
{
	struct sched_params p;
	struct sched_speed sp = unclamped();

	sched_params_default(&p);
	/* Jitter fixed at 0.5: half the mean; at 2..4: three times the mean. */
	sp.jitter_min = sp.jitter_max = 0.5;
	assert_mean(draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 21).mean, 15.0);
	sp.jitter_min = 2;
	sp.jitter_max = 4;
	assert_mean(draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 22).mean, 90.0);
	/* min_seconds = max_seconds: every delay is exactly that. */
	sp.min_s = sp.max_s = 7;
	struct stats st = draw(&p, &sp, OUTSIDE, 0, 1000, 23);
	ck_assert_double_eq(st.lo, 7);
	ck_assert_double_eq(st.hi, 7);
}
END_TEST

/* E[clamp(Exp(m) x U(a, b), lo, hi)] by numerical integration over the jitter:
 * for a fixed j, E[clamp(X j, lo, hi)] = j (l + m (e^(-l/m) - e^(-h/m))) with
 * l = lo / j, h = hi / j. */
static double clamped_mean(double m, double a, double b, double lo, double hi)
{
	const int steps = 2000;
	double sum = 0;

	for (int i = 0; i < steps; i++) {
		double j = a + (b - a) * (i + 0.5) / steps, l = lo / j, h = hi / j;

		sum += j * (l + m * (exp(-l / m) - exp(-h / m)));
	}
	return sum / steps;
}

START_TEST(delay_clamped_defaults)
{
	struct sched_params p;
	struct sched_speed sp;
	struct stats st;

	sched_params_default(&p);
	sched_speed_default(&sp);
	st = draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 31);
	ck_assert(st.lo >= 2.0 && st.hi <= 180.0);
	ck_assert_double_eq(st.lo, 2.0); /* the floor is reached, not just approached */
	ck_assert_double_eq(st.hi, 180.0);
	assert_mean(st.mean, clamped_mean(30, 0.7, 1.3, 2, 180));
	st = draw(&p, &sp, INSIDE, 0, N_DRAWS, 32);
	ck_assert(st.lo >= 2.0 && st.hi <= 180.0);
	assert_mean(st.mean, clamped_mean(18, 0.7, 1.3, 2, 180));

	/* scale 60 (an hour in a minute): the bounds shrink too, to [1/30 s, 3 s]... */
	p.scale_factor = 60;
	st = draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 33);
	ck_assert(st.lo >= SCHED_MIN_DELAY_S && st.hi <= 3.0);
	ck_assert_double_eq(st.lo, SCHED_MIN_DELAY_S); /* ...with 2/60 raised to 0.05 */
	assert_mean(st.mean, clamped_mean(0.5, 0.7, 1.3, SCHED_MIN_DELAY_S, 3.0));
	/* A zero minimum still never gives a zero delay. */
	sp.min_s = 0;
	st = draw(&p, &sp, OUTSIDE, 0, N_DRAWS, 34);
	ck_assert_double_eq(st.lo, SCHED_MIN_DELAY_S);
	/* A NULL speed is the default speed. */
	p.scale_factor = 1;
	st = draw(&p, NULL, OUTSIDE, 0, N_DRAWS, 35);
	ck_assert(st.lo >= 2.0 && st.hi <= 180.0);
	assert_mean(st.mean, clamped_mean(30, 0.7, 1.3, 2, 180));
}
END_TEST

START_TEST(delay_is_deterministic_per_seed)
{
	struct sched_params p;
	uint64_t a = 77, b = 77;

	sched_params_default(&p);
	for (int i = 0; i < 1000; i++)
		ck_assert(sched_delay_s(&p, NULL, i % 1440, i & 1, &a) ==
			  sched_delay_s(&p, NULL, i % 1440, i & 1, &b));
}
END_TEST

/* ---- favoured ---- */

START_TEST(favoured_bot_speaks_sooner)
{
	struct sched_params p;
	struct sched *s = sched_new();
	const int64_t now = 10 * DAY;
	uint64_t rng = 5;
	double behind = 0, ahead = 0;

	sched_params_default(&p);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(sched_note_sent(s, 1, now - (i + 1) * 5 * MIN_MS), 0);
	for (int i = 0; i < 8; i++)
		ck_assert_int_eq(sched_note_sent(s, 2, now - (i + 1) * 5 * MIN_MS), 0);
	ck_assert(sched_favoured(&p, s, 1, now));  /* 5 < 6 */
	ck_assert(!sched_favoured(&p, s, 2, now)); /* 8 >= 6 */
	ck_assert(sched_favoured(&p, s, 3, now));  /* never sent */
	ck_assert_int_eq(sched_note_sent(s, 1, now - 1000), 0);
	ck_assert(!sched_favoured(&p, s, 1, now));              /* 6: at its minimum */
	ck_assert(sched_favoured(&p, s, 1, now + 40 * MIN_MS)); /* old sends left */
	/* The behind bot (3) draws delays about half as long as the other (2). */
	for (int i = 0; i < N_DRAWS; i++) {
		behind += sched_delay_s(&p, NULL, OUTSIDE, sched_favoured(&p, s, 3, now), &rng);
		ahead += sched_delay_s(&p, NULL, OUTSIDE, sched_favoured(&p, s, 2, now), &rng);
	}
	assert_mean(behind / N_DRAWS, clamped_mean(15, 0.7, 1.3, 2, 180));
	assert_mean(ahead / N_DRAWS, clamped_mean(30, 0.7, 1.3, 2, 180));
	ck_assert(behind < 0.6 * ahead);
	ck_assert_double_eq_tol(sched_mean_s(&p, NULL, OUTSIDE, 1), 15.0, 1e-9);
	sched_free(s);
}
END_TEST

/* ---- a virtual day of one bot ---- */

#define MAX_SENDS 20000

struct sim {
	int64_t sends[MAX_SENDS];
	int nsends;
	int inactive_retries, capped_retries, own_last;
	int64_t first_inactive_wake; /* where the first INACTIVE retry lands */
};

/* Drive bot 7 from t0 for span ms: heap + policy + delay model, as the worker
 * does. Others write in the chat between the bot's turns at random, so sometimes
 * the newest message is the bot's own. */
static void simulate(struct sim *out, const struct sched_params *p, const struct sched_hours *h,
		     int64_t t0, int64_t span, uint64_t seed)
{
	struct sched *s = sched_new();
	uint64_t rng = seed;
	int self_last = 0;
	int64_t ids[4], due;

	memset(out, 0, sizeof *out);
	out->first_inactive_wake = -1;
	ck_assert_int_eq(sched_add(s, 7, t0), 0);
	while ((due = sched_next_due(s)) < t0 + span) {
		int64_t now = due, retry = -1, next;
		int mod = minute_of(now);
		enum sched_verdict v;

		ck_assert_uint_eq(sched_pop_due(s, now, ids, 4), 1);
		ck_assert_int_eq(ids[0], 7);
		ck_assert_uint_eq(sched_size(s), 0);
		if (self_last && backoff_uniform(&rng) < 0.7)
			self_last = 0; /* someone else wrote meanwhile */
		v = sched_check(p, s, 7, now, mod, h, self_last, &retry);
		switch (v) {
		case SCHED_SPEAK:
			ck_assert_int_eq(retry, 0);
			ck_assert_int_lt(out->nsends, MAX_SENDS);
			out->sends[out->nsends++] = now;
			ck_assert_int_eq(sched_note_sent(s, 7, now), 0);
			self_last = 1;
			next = now + (int64_t)llround(
					     1000 * sched_delay_s(p, NULL, mod,
								  sched_favoured(p, s, 7, now), &rng));
			break;
		case SCHED_OWN_LAST:
			ck_assert_int_eq(retry, 0);
			out->own_last++;
			next = now + (int64_t)llround(1000 * sched_delay_s(p, NULL, mod, 0, &rng));
			break;
		case SCHED_INACTIVE:
			ck_assert_int_gt(retry, 0);
			if (out->first_inactive_wake < 0)
				out->first_inactive_wake = now + retry;
			out->inactive_retries++;
			next = now + retry;
			break;
		case SCHED_CAPPED:
		default:
			ck_assert_int_gt(retry, 0);
			ck_assert_int_le(retry, p->hour_ms);
			out->capped_retries++;
			next = now + retry;
			break;
		}
		ck_assert_int_gt(next, now);
		ck_assert_int_eq(sched_add(s, 7, next), 0);
	}
	sched_free(s);
}

/* The most sends in any window of w ms (window (t - w, t] ending at a send). */
static int max_in_window(const struct sim *r, int64_t w)
{
	int best = 0;

	for (int i = 0, j = 0; i < r->nsends; i++) {
		while (r->sends[j] <= r->sends[i] - w)
			j++;
		best = i - j + 1 > best ? i - j + 1 : best;
	}
	return best;
}

static struct sched_hours hours(const char *json)
{
	struct sched_hours h;
	char err[128];
	json_t *v = js(json);

	ck_assert_msg(sched_hours_from_json(v, &h, err, sizeof err) == 0, "%s", err);
	json_decref(v);
	return h;
}

static struct sim sim_buf;

START_TEST(day_with_office_hours)
{
	struct sched_params p;
	struct sched_hours h = hours("[\"09:00-17:00\"]");
	struct sim *r = &sim_buf;
	int per_hour[24] = { 0 };

	sched_params_default(&p);
	simulate(r, &p, &h, 0, DAY, 1234);
	ck_assert_int_le(max_in_window(r, HOUR), 12);
	for (int i = 0; i < r->nsends; i++) {
		int m = minute_of(r->sends[i]);

		ck_assert_msg(m >= 9 * 60 && m < 17 * 60, "sent at minute %d", m);
		per_hour[m / 60]++;
	}
	/* Uncapped the bot would say ~120 an hour: the cap binds, the minimum holds. */
	for (int hr = 9; hr < 17; hr++) {
		ck_assert_int_le(per_hour[hr], 12);
		ck_assert_int_ge(per_hour[hr], 6);
	}
	ck_assert_int_ge(r->nsends, 8 * 12 - 4);
	ck_assert_int_le(r->nsends, 8 * 12);
	/* Asleep at midnight, it woke exactly at 09:00:00.000. */
	ck_assert_int_eq(r->first_inactive_wake, 9 * HOUR);
	ck_assert_int_gt(r->capped_retries, 0);
	ck_assert_int_gt(r->own_last, 0);
	/* Waking on the exact instants makes the policy cheap: a few checks per send. */
	ck_assert_int_lt(r->inactive_retries + r->capped_retries, 4 * r->nsends);
}
END_TEST

START_TEST(day_with_wrapping_hours)
{
	struct sched_params p;
	struct sched_hours h = hours("[\"22:00-02:00\"]");
	struct sim *r = &sim_buf;

	sched_params_default(&p);
	/* Two days from noon, so both sides of midnight are crossed twice. */
	simulate(r, &p, &h, 12 * HOUR, 2 * DAY, 99);
	ck_assert_int_le(max_in_window(r, HOUR), 12);
	for (int i = 0; i < r->nsends; i++) {
		int m = minute_of(r->sends[i]);

		ck_assert_msg(m >= 22 * 60 || m < 2 * 60, "sent at minute %d", m);
	}
	ck_assert_int_ge(r->nsends, 2 * 4 * 12 - 6);
	ck_assert_int_eq(r->first_inactive_wake, 22 * HOUR);
}
END_TEST

START_TEST(prime_hours_speak_more_uncapped)
{
	struct sched_params p;
	struct sched_hours always = { .n = 0 };
	struct sim *r = &sim_buf;
	double prime = 0, other = 0, prime_h = 6.5, other_h = 24 - 6.5;

	sched_params_default(&p);
	p.hourly_max = 100000; /* counts saturate at SCHED_RING_MAX: never reached here */
	simulate(r, &p, &always, 0, DAY, 4321);
	ck_assert_int_eq(r->capped_retries, 0);
	for (int i = 0; i < r->nsends; i++) {
		if (sched_in_prime(&p, minute_of(r->sends[i])))
			prime++;
		else
			other++;
	}
	/* Turns come every ~18 s vs ~30 s (a bit more with the clamp); some turns are
	 * skipped because the bot wrote last, equally in and out of prime hours. */
	ck_assert_msg(prime / prime_h > 1.4 * (other / other_h), "prime %.1f/h, other %.1f/h",
		      prime / prime_h, other / other_h);
	ck_assert(other / other_h > 50);
}
END_TEST

START_TEST(scaled_time_keeps_the_cap_per_scaled_hour)
{
	struct sched_params p;
	struct sched_hours always = { .n = 0 };
	struct sim *r = &sim_buf;

	sched_params_default(&p);
	p.scale_factor = 60;
	p.hour_ms = sched_params_window_ms(&p);
	ck_assert_int_eq(p.hour_ms, MIN_MS);
	/* 24 real minutes = 24 virtual hours. */
	simulate(r, &p, &always, 0, 24 * MIN_MS, 777);
	ck_assert_int_le(max_in_window(r, MIN_MS), 12);
	ck_assert_int_ge(r->nsends, 24 * 12 - 12);
	ck_assert_int_le(r->nsends, 24 * 12);
}
END_TEST

/* ---- the heap ---- */

START_TEST(heap_orders_moves_removes)
{
	struct sched *s = sched_new();
	int64_t ids[16];

	ck_assert_int_eq(sched_next_due(s), INT64_MAX);
	ck_assert_uint_eq(sched_pop_due(s, INT64_MAX, ids, 16), 0);
	ck_assert_int_eq(sched_add(s, 10, 500), 0);
	ck_assert_int_eq(sched_add(s, 20, 100), 0);
	ck_assert_int_eq(sched_add(s, 30, 300), 0);
	ck_assert_int_eq(sched_add(s, -5, 300), 0); /* same time: smaller id first */
	ck_assert_int_eq(sched_add(s, INT64_MAX, 50), 0);
	ck_assert_int_eq(sched_add(s, INT64_MIN, 900), 0);
	ck_assert_uint_eq(sched_size(s), 6);
	ck_assert_int_eq(sched_next_due(s), 50);
	/* Move: 10 earlier, 20 later; the size stays. */
	ck_assert_int_eq(sched_add(s, 10, 10), 0);
	ck_assert_int_eq(sched_add(s, 20, 1000), 0);
	ck_assert_uint_eq(sched_size(s), 6);
	ck_assert_int_eq(sched_due(s, 10), 10);
	ck_assert_int_eq(sched_due(s, 20), 1000);
	ck_assert_int_eq(sched_due(s, 12345), INT64_MAX);
	/* Remove. */
	ck_assert_int_eq(sched_remove(s, INT64_MAX), 0);
	ck_assert_int_eq(sched_remove(s, INT64_MAX), -1);
	ck_assert_int_eq(sched_remove(s, 999), -1);
	ck_assert_int_eq(sched_due(s, INT64_MAX), INT64_MAX);
	/* pop_due only returns what is due, earliest first, at most max. */
	ck_assert_uint_eq(sched_pop_due(s, 9, ids, 16), 0);
	ck_assert_uint_eq(sched_pop_due(s, 300, ids, 2), 2);
	ck_assert_int_eq(ids[0], 10);
	ck_assert_int_eq(ids[1], -5);
	ck_assert_uint_eq(sched_pop_due(s, 300, ids, 16), 1);
	ck_assert_int_eq(ids[0], 30);
	ck_assert_int_eq(sched_next_due(s), 900);
	ck_assert_uint_eq(sched_pop_due(s, 999, ids, 16), 1);
	ck_assert_int_eq(ids[0], INT64_MIN);
	ck_assert_uint_eq(sched_size(s), 1);
	ck_assert_int_eq(sched_due(s, 10), INT64_MAX); /* popped: not queued any more */
	/* A popped bot can be queued again. */
	ck_assert_int_eq(sched_add(s, 10, 2000), 0);
	ck_assert_uint_eq(sched_pop_due(s, INT64_MAX, ids, 16), 2);
	ck_assert_int_eq(ids[0], 20);
	ck_assert_int_eq(ids[1], 10);
	ck_assert_uint_eq(sched_size(s), 0);
	sched_free(s);
	sched_free(NULL);
}
END_TEST

START_TEST(heap_random_against_reference)
{
	enum { N = 5000 };
	static int64_t due[N]; /* INT64_MAX = not queued */
	struct sched *s = sched_new();
	uint64_t rng = 31337;
	int64_t ids[64], now = 0, last_due = INT64_MIN, last_id = INT64_MIN;
	long bad = 0; /* counted, not asserted per step: check's asserts cost a syscall */

	for (int i = 0; i < N; i++)
		due[i] = INT64_MAX;
	for (int step = 0; step < 200000; step++) {
		int64_t id = (int64_t)backoff_uniform_upto(N - 1, &rng);
		int op = (int)backoff_uniform_upto(9, &rng);

		if (op < 5) {
			due[id] = now + backoff_uniform_upto(100000, &rng);
			bad += sched_add(s, id * 1000003, due[id]) != 0;
		} else if (op < 7) {
			bad += sched_remove(s, id * 1000003) != (due[id] == INT64_MAX ? -1 : 0);
			due[id] = INT64_MAX;
		} else if (op < 8) {
			sched_forget(s, id * 1000003);
			due[id] = INT64_MAX;
		} else {
			size_t k;

			now += backoff_uniform_upto(2000, &rng);
			k = sched_pop_due(s, now, ids, 64);
			last_due = INT64_MIN;
			for (size_t i = 0; i < k; i++) {
				int64_t j = ids[i] / 1000003;

				bad += !(due[j] <= now);
				bad += !(due[j] > last_due || (due[j] == last_due && ids[i] > last_id));
				last_due = due[j];
				last_id = ids[i];
				due[j] = INT64_MAX;
			}
		}
		if (step % 10007 == 0) {
			size_t queued = 0;
			int64_t min = INT64_MAX;

			for (int i = 0; i < N; i++) {
				bad += sched_due(s, i * 1000003LL) != due[i];
				queued += due[i] != INT64_MAX;
				min = due[i] < min ? due[i] : min;
			}
			ck_assert_uint_eq(sched_size(s), queued);
			ck_assert_int_eq(sched_next_due(s), min);
		}
	}
	ck_assert_int_eq(bad, 0);
	sched_free(s);
}
END_TEST

static double elapsed_s(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

START_TEST(heap_idle_bots_cost_nothing)
{
	enum { N = 100000 };
	struct sched *s = sched_new();
	uint64_t rng = 8, before;
	int64_t ids[16], now = 1000;
	struct timespec t0;
	long bad = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int64_t i = 0; i < N; i++)
		bad += sched_add(s, i, DAY + backoff_uniform_upto(DAY, &rng)) != 0;
	ck_assert_int_eq(bad, 0);
	ck_assert_uint_eq(sched_size(s), N);
	/* A tick with nothing due: one entry looked at, however many bots wait. */
	before = sched_touched(s);
	for (int tick = 0; tick < 1000; tick++) {
		bad += sched_pop_due(s, now + tick * 100, ids, 16) != 0;
		bad += sched_next_due(s) <= now + tick * 100;
	}
	ck_assert_int_eq(bad, 0);
	ck_assert_uint_eq(sched_touched(s) - before, 1000);
	/* One bot due among 100,000: popping it and re-arming it is O(log n). */
	ck_assert_int_eq(sched_add(s, 4242, now), 0);
	before = sched_touched(s);
	ck_assert_uint_eq(sched_pop_due(s, now, ids, 16), 1);
	ck_assert_int_eq(ids[0], 4242);
	ck_assert_int_eq(sched_add(s, 4242, now + 30000), 0);
	ck_assert_uint_le(sched_touched(s) - before, 2 * 17 + 4);
	/* Drain: every one comes out. */
	size_t total = 0, k;
	while ((k = sched_pop_due(s, INT64_MAX, ids, 16)) > 0)
		total += k;
	ck_assert_uint_eq(total, N);
	ck_assert_int_eq(sched_next_due(s), INT64_MAX);
	/* 100,000 adds and pops, plus the checks above, well under a second. */
	ck_assert_msg(elapsed_s(&t0) < 1.0, "took %.3f s", elapsed_s(&t0));
	sched_free(s);
}
END_TEST

START_TEST(heap_drain_is_ordered_and_fast)
{
	enum { N = 100000 };
	static int64_t due[N];
	struct sched *s = sched_new();
	uint64_t rng = 9;
	int64_t ids[256], last = INT64_MIN;
	size_t total = 0, k;
	struct timespec t0;
	long bad = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int64_t i = 0; i < N; i++) {
		due[i] = backoff_uniform_upto(DAY, &rng);
		bad += sched_add(s, i, due[i]) != 0;
	}
	while ((k = sched_pop_due(s, INT64_MAX, ids, 256)) > 0) {
		for (size_t i = 0; i < k; i++) {
			bad += due[ids[i]] < last;
			last = due[ids[i]];
		}
		total += k;
	}
	ck_assert_int_eq(bad, 0);
	ck_assert_uint_eq(total, N);
	ck_assert_msg(elapsed_s(&t0) < 1.0, "took %.3f s", elapsed_s(&t0));
	sched_free(s);
}
END_TEST

/* ---- send history ---- */

START_TEST(history_window_edges_and_seeding)
{
	struct sched *s = sched_new();
	const int64_t now = 5 * DAY;

	ck_assert_int_eq(sched_sent_last_hour(s, 1, now, HOUR), 0);
	/* Seeding after a restart: the last hour's sends, newest first. */
	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(sched_note_sent(s, 1, now - i * 6 * MIN_MS), 0);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now, HOUR), 10);
	/* (now - 1 h, now]: a send exactly an hour old has left. */
	ck_assert_int_eq(sched_note_sent(s, 1, now - HOUR), 0);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now, HOUR), 10);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now - 1, HOUR), 10);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now + 6 * MIN_MS - 1, HOUR), 10);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now + 6 * MIN_MS, HOUR), 9);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now + HOUR, HOUR), 0);
	/* A shorter window (scale 60: a minute). */
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now, MIN_MS), 1);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now, 7 * MIN_MS), 2);
	/* Other bots are apart; a queued bot keeps its history through pop and remove. */
	ck_assert_int_eq(sched_sent_last_hour(s, 2, now, HOUR), 0);
	ck_assert_int_eq(sched_add(s, 1, now), 0);
	int64_t id;
	ck_assert_uint_eq(sched_pop_due(s, now, &id, 1), 1);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now, HOUR), 10);
	ck_assert_int_eq(sched_add(s, 1, now), 0);
	ck_assert_int_eq(sched_remove(s, 1), 0);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now, HOUR), 10);
	/* Forget drops it all. */
	sched_forget(s, 1);
	ck_assert_int_eq(sched_sent_last_hour(s, 1, now, HOUR), 0);
	sched_forget(s, 1);
	sched_free(s);
}
END_TEST

START_TEST(history_holds_a_thousand_an_hour)
{
	struct sched *s = sched_new();
	struct sched_params p;
	const int64_t t0 = DAY;
	int64_t retry;
	long bad = 0;

	sched_params_default(&p);
	p.hourly_max = 1000;
	/* 1000 sends 3 s apart: all inside the hour, the bot is capped. */
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(sched_note_sent(s, 9, t0 + i * 3000), 0);
	ck_assert_int_eq(sched_sent_last_hour(s, 9, t0 + 3000000, HOUR), 1000);
	ck_assert_int_eq(sched_check(&p, s, 9, t0 + 3000000, 600, NULL, 0, &retry), SCHED_CAPPED);
	ck_assert_int_eq(retry, t0 + HOUR - (t0 + 3000000));
	/* Hours at 1200 an hour: the count saturates at SCHED_RING_MAX (above any cap
	 * we accept), and the history stays that size rather than growing. */
	for (int i = 1000; i < 20000; i++)
		bad += sched_note_sent(s, 9, t0 + i * 3000) != 0;
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(sched_sent_last_hour(s, 9, t0 + 19999 * 3000, HOUR), SCHED_RING_MAX);
	/* A cap above SCHED_RING_MAX acts as SCHED_RING_MAX: still capped. */
	p.hourly_max = 5000;
	ck_assert_int_eq(sched_check(&p, s, 9, t0 + 19999 * 3000, 600, NULL, 0, &retry), SCHED_CAPPED);
	/* A note older than the kept hour changes nothing. */
	ck_assert_int_eq(sched_note_sent(s, 9, t0), 0);
	ck_assert_int_eq(sched_sent_last_hour(s, 9, t0 + 19999 * 3000, HOUR), SCHED_RING_MAX);
	sched_free(s);
}
END_TEST

/* ---- verdicts ---- */

START_TEST(check_verdicts_and_retries)
{
	struct sched_params p;
	struct sched *s = sched_new();
	struct sched_hours office = hours("[\"09:00-17:00\"]");
	struct sched_hours night = hours("[\"22:00-02:00\"]");
	const int64_t day = 3 * DAY;
	int64_t retry = -1, t;

	sched_params_default(&p);
	/* Speak: inside the hours, under the cap, someone else wrote last. */
	t = day + 10 * HOUR;
	ck_assert_int_eq(sched_check(&p, s, 1, t, minute_of(t), &office, 0, &retry), SCHED_SPEAK);
	ck_assert_int_eq(retry, 0);
	ck_assert_int_eq(sched_check(&p, s, 1, t, minute_of(t), NULL, 0, NULL), SCHED_SPEAK);

	/* Own last. */
	retry = -1;
	ck_assert_int_eq(sched_check(&p, s, 1, t, minute_of(t), &office, 1, &retry), SCHED_OWN_LAST);
	ck_assert_int_eq(retry, 0);

	/* Inactive at 08:00:30.250: retry lands on 09:00:00.000. */
	t = day + 8 * HOUR + 30250;
	ck_assert_int_eq(sched_check(&p, s, 1, t, minute_of(t), &office, 1, &retry), SCHED_INACTIVE);
	ck_assert_int_eq(retry, HOUR - 30250);
	t = day + 17 * HOUR;
	ck_assert_int_eq(sched_check(&p, s, 1, t, minute_of(t), &office, 0, &retry), SCHED_INACTIVE);
	ck_assert_int_eq(retry, 16 * HOUR);
	t = day + 2 * HOUR + 59999;
	ck_assert_int_eq(sched_check(&p, s, 1, t, minute_of(t), &night, 0, &retry), SCHED_INACTIVE);
	ck_assert_int_eq(retry, 20 * HOUR - 59999);

	/* Capped: 12 sends from 10:00, one a minute; at 10:30 the oldest leaves at 11:00. */
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(sched_note_sent(s, 1, day + 10 * HOUR + i * MIN_MS), 0);
	t = day + 10 * HOUR + 30 * MIN_MS;
	ck_assert_int_eq(sched_check(&p, s, 1, t, minute_of(t), &office, 1, &retry), SCHED_CAPPED);
	ck_assert_int_eq(retry, 30 * MIN_MS);
	/* ...and at that instant the bot may speak. */
	ck_assert_int_eq(sched_check(&p, s, 1, t + retry, minute_of(t + retry), &office, 0, &retry),
			 SCHED_SPEAK);
	/* Inactive is reported before capped (the longer wait, and the one that holds). */
	t = day + 10 * HOUR + 30 * MIN_MS;
	ck_assert_int_eq(sched_check(&p, s, 1, t, minute_of(t), &night, 0, &retry), SCHED_INACTIVE);
	/* The cap lowered to 10 with 12 in the window: three must leave, so 10:02 + 1 h. */
	p.hourly_max = 10;
	ck_assert_int_eq(sched_check(&p, s, 1, t, minute_of(t), NULL, 0, &retry), SCHED_CAPPED);
	ck_assert_int_eq(retry, 32 * MIN_MS);
	/* A cap of 0: silent, ask again in a window. */
	p.hourly_max = 0;
	ck_assert_int_eq(sched_check(&p, s, 2, t, minute_of(t), NULL, 0, &retry), SCHED_CAPPED);
	ck_assert_int_eq(retry, HOUR);
	/* Scale 60: the window is a minute; sends of bot 3 at 0, 2, ..., 22 s. */
	p.hourly_max = 12;
	p.scale_factor = 60;
	p.hour_ms = sched_params_window_ms(&p);
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(sched_note_sent(s, 3, day + i * 2000), 0);
	ck_assert_int_eq(sched_check(&p, s, 3, day + 30000, 0, NULL, 0, &retry), SCHED_CAPPED);
	ck_assert_int_eq(retry, 30000);
	ck_assert_int_eq(sched_check(&p, s, 3, day + 60000, 1, NULL, 0, &retry), SCHED_SPEAK);
	/* hour_ms left at 0: the window is derived from the scale. */
	p.hour_ms = 0;
	ck_assert_int_eq(sched_check(&p, s, 3, day + 30000, 0, NULL, 0, &retry), SCHED_CAPPED);
	ck_assert_int_eq(retry, 30000);
	sched_free(s);
}
END_TEST

static Suite *sched_suite(void)
{
	Suite *s = suite_create("sched");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 20);
	tcase_add_test(tc, params_defaults_match_behaviour);
	tcase_add_test(tc, window_follows_scale);
	tcase_add_test(tc, prime_hours_from_setting);
	tcase_add_test(tc, speed_defaults_and_fields);
	tcase_add_test(tc, speed_refused);
	tcase_add_test(tc, hours_parse_contain_next_start);
	tcase_add_test(tc, hours_refused);
	tcase_add_test(tc, delay_means);
	tcase_add_test(tc, delay_jitter_bounds);
	tcase_add_test(tc, delay_clamped_defaults);
	tcase_add_test(tc, delay_is_deterministic_per_seed);
	tcase_add_test(tc, favoured_bot_speaks_sooner);
	tcase_add_test(tc, day_with_office_hours);
	tcase_add_test(tc, day_with_wrapping_hours);
	tcase_add_test(tc, prime_hours_speak_more_uncapped);
	tcase_add_test(tc, scaled_time_keeps_the_cap_per_scaled_hour);
	tcase_add_test(tc, heap_orders_moves_removes);
	tcase_add_test(tc, heap_random_against_reference);
	tcase_add_test(tc, heap_idle_bots_cost_nothing);
	tcase_add_test(tc, heap_drain_is_ordered_and_fast);
	tcase_add_test(tc, history_window_edges_and_seeding);
	tcase_add_test(tc, history_holds_a_thousand_an_hour);
	tcase_add_test(tc, check_verdicts_and_retries);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(sched_suite)
