/* brk: circuit breaker state machine; see brk.h for the states and contracts.
 *
 * The sliding window is BRK_BUCKETS fixed buckets indexed by now_ms / bucket_ms,
 * so it costs the same memory at 1 call a minute as at 10,000 a second, and old
 * buckets are cleared lazily when time moves past them: nothing runs on a timer.
 * The window therefore covers between window_ms - bucket_ms and window_ms of
 * history, which is as precise as a breaker needs to be. */
#include "worker/calls/brk.h"

#include "common/backoff.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct brk_bucket {
	uint32_t calls; /* successes and failures (not IGNORED, not COOLDOWN) */
	uint32_t failures;
	uint32_t slow; /* slow successes */
};

struct brk {
	const struct brk_config *cfg; /* the copy after the name, or shared (brk_new_shared) */
	brk_transition_cb cb;
	void *cb_arg;
	uint64_t gen;           /* bumped on every state change */
	uint64_t rng;           /* jitter of the open wait */
	int64_t open_until;     /* OPEN: when probes may start */
	int64_t cooldown_until; /* no call before this, whatever the state */
	int64_t probe_last_ms;  /* HALF_OPEN: when the latest probe went out */
	int64_t since_ms;       /* when the state last changed */
	int64_t win_idx;        /* absolute index of the newest bucket */
	enum brk_state state;   /* CLOSED, OPEN or HALF_OPEN: never COOLING */
	int trips;              /* trips since the last close */
	int consec;             /* failures in a row while CLOSED */
	int probes_out;         /* HALF_OPEN: probe slots taken */
	int probes_ok;          /* HALF_OPEN: probes that succeeded */
	int probes_slow;        /* HALF_OPEN: of those, slow ones */
	struct brk_bucket win[BRK_BUCKETS];
	char name[]; /* as long as it is, up to BRK_NAME_MAX */
};

/* One per bot, 10,000s per worker: with a bot's name and a shared config, one
 * breaker fits a 256-byte malloc chunk. */
_Static_assert(sizeof(struct brk) <= 224, "struct brk grew past 224 bytes");

void brk_config_defaults(struct brk_config *cfg)
{
	cfg->window_ms = 30000;
	cfg->min_calls = 10;
	cfg->failure_rate = 0.5;
	cfg->consecutive_failures = 5;
	cfg->slow_call_ms = 10000;
	cfg->slow_rate = 0.8;
	cfg->open_ms = 5000;
	cfg->open_max_ms = 120000;
	cfg->open_jitter = 0.2;
	cfg->half_open_probes = 3;
	cfg->probe_timeout_ms = 120000;
}

static int is_fraction(double x)
{
	return x >= 0.0 && x <= 1.0; /* false for NaN too */
}

int brk_config_check(const struct brk_config *c, char *err, size_t errlen)
{
	char dummy[1];

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof dummy;
	}
	if (c->window_ms < BRK_BUCKETS)
		snprintf(err, errlen, "window_ms %d is below %d", c->window_ms, BRK_BUCKETS);
	else if (c->min_calls < 1)
		snprintf(err, errlen, "min_calls %d is below 1", c->min_calls);
	else if (!is_fraction(c->failure_rate))
		snprintf(err, errlen, "failure_rate %g is not in 0..1", c->failure_rate);
	else if (c->consecutive_failures < 0)
		snprintf(err, errlen, "consecutive_failures %d is negative", c->consecutive_failures);
	else if (c->slow_call_ms < 0)
		snprintf(err, errlen, "slow_call_ms %d is negative", c->slow_call_ms);
	else if (!is_fraction(c->slow_rate))
		snprintf(err, errlen, "slow_rate %g is not in 0..1", c->slow_rate);
	else if (c->open_ms < 1)
		snprintf(err, errlen, "open_ms %d is below 1", c->open_ms);
	else if (c->open_max_ms < c->open_ms)
		snprintf(err, errlen, "open_max_ms %d is below open_ms %d", c->open_max_ms, c->open_ms);
	/* Below 1 so a jittered wait never reaches 0. */
	else if (!(c->open_jitter >= 0.0 && c->open_jitter < 1.0))
		snprintf(err, errlen, "open_jitter %g is not in 0..1 (1 excluded)", c->open_jitter);
	else if (c->half_open_probes < 1)
		snprintf(err, errlen, "half_open_probes %d is below 1", c->half_open_probes);
	else if (c->probe_timeout_ms < 0)
		snprintf(err, errlen, "probe_timeout_ms %d is negative", c->probe_timeout_ms);
	else
		return 0;
	return -1;
}

/* name, then (when cfg is to be copied) the copy, aligned, in one allocation. */
static struct brk *brk_make(const char *name, const struct brk_config *cfg, uint64_t seed, int copy)
{
	size_t len = name ? strnlen(name, BRK_NAME_MAX) : 0;
	size_t at = (sizeof(struct brk) + len + 1 + _Alignof(struct brk_config) - 1) &
		    ~(_Alignof(struct brk_config) - 1);
	struct brk *b;

	if (brk_config_check(cfg, NULL, 0) < 0)
		return NULL;
	b = calloc(1, copy ? at + sizeof *cfg : sizeof *b + len + 1);
	if (!b)
		return NULL;
	memcpy(b->name, name ? name : "", len);
	if (copy)
		b->cfg = memcpy((char *)b + at, cfg, sizeof *cfg);
	else
		b->cfg = cfg;
	b->state = BRK_CLOSED;
	b->rng = seed;
	return b;
}

struct brk *brk_new(const char *name, const struct brk_config *cfg, uint64_t seed)
{
	return brk_make(name, cfg, seed, 1);
}

struct brk *brk_new_shared(const char *name, const struct brk_config *cfg, uint64_t seed)
{
	return brk_make(name, cfg, seed, 0);
}

void brk_free(struct brk *b)
{
	free(b);
}

void brk_on_transition(struct brk *b, brk_transition_cb cb, void *arg)
{
	b->cb = cb;
	b->cb_arg = arg;
}

const char *brk_name(const struct brk *b)
{
	return b->name;
}

int brk_trips(const struct brk *b)
{
	return b->trips;
}

/* ---- the sliding window ---- */

static int64_t floor_div(int64_t a, int64_t d)
{
	int64_t q = a / d;

	return (a % d != 0 && (a < 0) != (d < 0)) ? q - 1 : q;
}

static void win_clear(struct brk *b)
{
	memset(b->win, 0, sizeof b->win);
}

/* Move the window to now and return the bucket a result lands in. Clearing only
 * the buckets time has passed keeps this O(BRK_BUCKETS) at worst. A clock that
 * steps back lands in the newest bucket: a few results counted a little longer. */
static struct brk_bucket *win_rotate(struct brk *b, int64_t now_ms)
{
	int64_t idx = floor_div(now_ms, b->cfg->window_ms / BRK_BUCKETS);

	if (idx > b->win_idx) {
		if (idx - b->win_idx >= BRK_BUCKETS) {
			win_clear(b);
		} else {
			for (int64_t i = b->win_idx + 1; i <= idx; i++)
				memset(&b->win[(uint64_t)i % BRK_BUCKETS], 0, sizeof b->win[0]);
		}
		b->win_idx = idx;
	}
	return &b->win[(uint64_t)b->win_idx % BRK_BUCKETS];
}

static void win_totals(const struct brk *b, struct brk_bucket *t)
{
	memset(t, 0, sizeof *t);
	for (int i = 0; i < BRK_BUCKETS; i++) {
		t->calls += b->win[i].calls;
		t->failures += b->win[i].failures;
		t->slow += b->win[i].slow;
	}
}

/* ---- transitions ---- */

static int percent(uint32_t part, uint32_t whole)
{
	return whole ? (int)((100.0 * part) / whole + 0.5) : 0;
}

/* part/whole >= rate, with a hair of slack so 0.5 of 20 calls is 10 failures
 * whatever the rounding of 0.5 * 20. A rate of 0 is "off". */
static int rate_reached(uint32_t part, uint32_t whole, double rate)
{
	return rate > 0.0 && whole > 0 && (double)part >= rate * (double)whole - 1e-9;
}

static void transition(struct brk *b, int64_t now_ms, enum brk_state to, const char *why)
{
	enum brk_state from = b->state;

	b->state = to;
	b->since_ms = now_ms;
	b->gen++; /* results of calls started before this no longer count */
	if (b->cb)
		b->cb(b->name, from, to, why, b->cb_arg);
}

/* open_ms * 2^(trips-1) capped, then +-jitter, capped again so open_max_ms is a
 * hard ceiling an operator can rely on. */
static int64_t open_wait(struct brk *b)
{
	int64_t c = backoff_ceiling(b->trips - 1, b->cfg->open_ms, b->cfg->open_max_ms);
	double j = b->cfg->open_jitter * (2.0 * backoff_uniform(&b->rng) - 1.0);
	int64_t w = (int64_t)((double)c * (1.0 + j) + 0.5);

	if (w > b->cfg->open_max_ms)
		w = b->cfg->open_max_ms;
	return w < 1 ? 1 : w;
}

static void trip(struct brk *b, int64_t now_ms, const char *why)
{
	if (b->trips < INT_MAX)
		b->trips++;
	b->open_until = now_ms + open_wait(b);
	b->consec = 0;
	win_clear(b);
	transition(b, now_ms, BRK_OPEN, why);
}

static void to_half_open(struct brk *b, int64_t now_ms)
{
	char why[64];

	snprintf(why, sizeof why, "open for %lld ms", (long long)(now_ms - b->since_ms));
	b->probes_out = b->probes_ok = b->probes_slow = 0;
	b->probe_last_ms = now_ms;
	transition(b, now_ms, BRK_HALF_OPEN, why);
}

static void to_closed(struct brk *b, int64_t now_ms, const char *why)
{
	b->trips = 0;
	b->consec = 0;
	win_clear(b);
	transition(b, now_ms, BRK_CLOSED, why);
}

/* ---- recording ---- */

static int is_slow(const struct brk *b, int duration_ms)
{
	return b->cfg->slow_call_ms > 0 && duration_ms >= b->cfg->slow_call_ms;
}

/* CLOSED: trip when the window holds enough calls and too many failed or were
 * slow. Failures are checked first: they say more than slowness. */
static void check_rates(struct brk *b, int64_t now_ms)
{
	struct brk_bucket t;
	char why[64];

	win_totals(b, &t);
	if (t.calls < (uint32_t)b->cfg->min_calls)
		return;
	if (rate_reached(t.failures, t.calls, b->cfg->failure_rate)) {
		snprintf(why, sizeof why, "failure rate %d%% over %u calls",
			 percent(t.failures, t.calls), t.calls);
		trip(b, now_ms, why);
	} else if (b->cfg->slow_call_ms > 0 && rate_reached(t.slow, t.calls, b->cfg->slow_rate)) {
		snprintf(why, sizeof why, "slow calls %d%% over %u calls", percent(t.slow, t.calls),
			 t.calls);
		trip(b, now_ms, why);
	}
}

static void record_closed(struct brk *b, int64_t now_ms, enum brk_result r, int duration_ms)
{
	struct brk_bucket *k;
	char why[64];

	if (r != BRK_SUCCESS && r != BRK_FAILURE)
		return; /* IGNORED and COOLDOWN say nothing about health, nor break a streak */
	k = win_rotate(b, now_ms);
	k->calls++;
	if (r == BRK_SUCCESS) {
		b->consec = 0;
		if (is_slow(b, duration_ms))
			k->slow++;
		check_rates(b, now_ms);
		return;
	}
	k->failures++;
	b->consec++;
	if (b->cfg->consecutive_failures > 0 && b->consec >= b->cfg->consecutive_failures) {
		snprintf(why, sizeof why, "%d consecutive failures", b->consec);
		trip(b, now_ms, why);
		return;
	}
	check_rates(b, now_ms);
}

/* All probes answered well: close, unless they were as slow as would trip a
 * closed breaker (a provider that is up but crawling would otherwise close and
 * trip again at the same short wait forever). */
static void probes_done(struct brk *b, int64_t now_ms)
{
	char why[64];
	uint32_t n = (uint32_t)b->probes_ok;

	if (b->cfg->slow_call_ms > 0 && rate_reached((uint32_t)b->probes_slow, n, b->cfg->slow_rate)) {
		snprintf(why, sizeof why, "slow probes %d%%", percent((uint32_t)b->probes_slow, n));
		trip(b, now_ms, why);
		return;
	}
	snprintf(why, sizeof why, "%d probe%s succeeded", b->probes_ok, b->probes_ok == 1 ? "" : "s");
	to_closed(b, now_ms, why);
}

static void record_half_open(struct brk *b, int64_t now_ms, enum brk_result r, int duration_ms)
{
	switch (r) {
	case BRK_SUCCESS:
		b->probes_ok++;
		if (is_slow(b, duration_ms))
			b->probes_slow++;
		if (b->probes_ok >= b->cfg->half_open_probes)
			probes_done(b, now_ms);
		break;
	case BRK_FAILURE: trip(b, now_ms, "probe failed"); break;
	case BRK_IGNORED:
	case BRK_COOLDOWN:
		/* The probe said nothing about health: let another one go instead. */
		if (b->probes_out > b->probes_ok)
			b->probes_out--;
		break;
	}
}

void brk_record(struct brk *b, int64_t now_ms, uint64_t gen, enum brk_result r, int duration_ms)
{
	if (gen != b->gen)
		return; /* started before the last state change: about another regime */
	if (b->state == BRK_CLOSED)
		record_closed(b, now_ms, r, duration_ms);
	else if (b->state == BRK_HALF_OPEN)
		record_half_open(b, now_ms, r, duration_ms);
	/* OPEN lets nothing through, so a current-generation result there is a
	 * caller's slip: ignore it rather than guess. */
}

/* ---- admission ---- */

static int allow_half_open(struct brk *b, int64_t now_ms)
{
	char why[64];

	if (b->probes_out < b->cfg->half_open_probes) {
		b->probes_out++;
		b->probe_last_ms = now_ms;
		return 1;
	}
	/* Every probe is out. One that never reports (a lost job, a caller's bug)
	 * would hold the breaker half-open for ever: treat silence as a timeout. */
	if (b->cfg->probe_timeout_ms > 0 && now_ms - b->probe_last_ms >= b->cfg->probe_timeout_ms) {
		snprintf(why, sizeof why, "no probe result in %d ms", b->cfg->probe_timeout_ms);
		trip(b, now_ms, why);
	}
	return 0;
}

static int allow_state(struct brk *b, int64_t now_ms)
{
	if (now_ms < b->cooldown_until)
		return 0;
	switch (b->state) {
	case BRK_CLOSED: return 1;
	case BRK_OPEN:
		if (now_ms < b->open_until)
			return 0;
		to_half_open(b, now_ms);
		return allow_half_open(b, now_ms);
	case BRK_HALF_OPEN: return allow_half_open(b, now_ms);
	default: return 0;
	}
}

int brk_allow(struct brk *b, int64_t now_ms, uint64_t *gen)
{
	int ok = allow_state(b, now_ms);

	if (gen)
		*gen = b->gen; /* read after any transition above */
	return ok;
}

void brk_cooldown(struct brk *b, int64_t now_ms, int64_t until_ms)
{
	if (until_ms > now_ms && until_ms > b->cooldown_until)
		b->cooldown_until = until_ms;
}

/* ---- reporting ---- */

enum brk_state brk_state(const struct brk *b, int64_t now_ms)
{
	return now_ms < b->cooldown_until ? BRK_COOLING : b->state;
}

const char *brk_state_name(enum brk_state s)
{
	switch (s) {
	case BRK_CLOSED: return "closed";
	case BRK_OPEN: return "open";
	case BRK_HALF_OPEN: return "half_open";
	case BRK_COOLING: return "cooling";
	}
	return "?";
}

int64_t brk_retry_at(const struct brk *b)
{
	int64_t at = 0;

	if (b->state == BRK_OPEN)
		at = b->open_until;
	else if (b->state == BRK_HALF_OPEN && b->probes_out >= b->cfg->half_open_probes)
		at = b->probe_last_ms + b->cfg->open_ms;
	return at > b->cooldown_until ? at : b->cooldown_until;
}
