/* tbucket: token buckets; see tbucket.h for the contracts.
 *
 * The state is only brought up to date when a take succeeds (or the settings
 * change), so a failed take or a wait query changes nothing, and rounding happens
 * once per take, not once per poll. Rates like 20/min are not exact in binary (1/3000 per ms), so
 * every comparison allows TB_EPS of a token: without it, a bucket that should hold
 * exactly 1 token after 3000 ms may hold 0.9999999999999 and make the caller wait
 * one more millisecond, and a wait computed by tb_wait_ms might not be enough. */
#include "common/tbucket.h"

#include <math.h>
#include <stdint.h>

/* Far below one token, far above double rounding over any realistic run. */
#define TB_EPS 1e-9

static double clean_rate_per_ms(double rate_per_s)
{
	return rate_per_s > 0.0 && isfinite(rate_per_s) ? rate_per_s / 1000.0 : 0.0;
}

static double clean_burst(double burst)
{
	return burst >= 1.0 && isfinite(burst) ? burst : 1.0;
}

/* Tokens at now_ms, refill included, capped at burst. */
static double tokens_at(const struct tb *b, int64_t now_ms)
{
	double t = b->tokens;

	if (now_ms > b->last_ms)
		t += (double)(now_ms - b->last_ms) * b->rate_per_ms;
	return t < b->burst ? t : b->burst;
}

void tb_init(struct tb *b, double rate_per_s, double burst, int64_t now_ms)
{
	b->rate_per_ms = clean_rate_per_ms(rate_per_s);
	b->burst = clean_burst(burst);
	b->tokens = b->burst;
	b->last_ms = now_ms;
	b->paused_until = 0;
}

int tb_take(struct tb *b, int64_t now_ms, double n)
{
	double t;

	if (now_ms < b->paused_until)
		return 0;
	if (b->rate_per_ms <= 0.0 || !(n > 0.0))
		return 1;
	t = tokens_at(b, now_ms);
	if (t + TB_EPS < n)
		return 0;
	b->tokens = t - n;
	if (now_ms > b->last_ms)
		b->last_ms = now_ms;
	return 1;
}

/* The test tb_take applies: n tokens (less a rounding hair) at at_ms. */
static int enough(const struct tb *b, int64_t at_ms, double n)
{
	return tokens_at(b, at_ms) + TB_EPS >= n;
}

/* Milliseconds until n tokens are there, ignoring the pause. The division gives
 * the answer to within a millisecond; stepping to the first millisecond at which
 * enough() holds makes it exact, so that a take at now + wait succeeds and one a
 * millisecond earlier would not. Refill starts at last_ms when the clock stepped
 * back before it. */
static int64_t refill_wait(const struct tb *b, int64_t now_ms, double n)
{
	int64_t from = now_ms > b->last_ms ? now_ms : b->last_ms;
	double ms;
	int64_t at;

	if (enough(b, now_ms, n))
		return 0;
	ms = ceil((n - tokens_at(b, from)) / b->rate_per_ms);
	if (!(ms < 1e15)) /* thousands of years: no point being exact */
		return INT64_MAX / 4;
	at = from + (int64_t)ms;
	while (!enough(b, at, n))
		at++;
	while (at - 1 > from && enough(b, at - 1, n))
		at--;
	return at - now_ms;
}

int64_t tb_wait_ms(const struct tb *b, int64_t now_ms, double n)
{
	int64_t pause = now_ms < b->paused_until ? b->paused_until - now_ms : 0;
	int64_t refill;

	if (b->rate_per_ms <= 0.0 || !(n > 0.0))
		return pause;
	if (n > b->burst + TB_EPS)
		return -1;
	refill = refill_wait(b, now_ms, n);
	return refill > pause ? refill : pause;
}

void tb_pause(struct tb *b, int64_t until_ms)
{
	if (until_ms > b->paused_until)
		b->paused_until = until_ms;
}

void tb_set_rate(struct tb *b, double rate_per_s, double burst, int64_t now_ms)
{
	int was_unlimited = b->rate_per_ms <= 0.0;
	double t = tokens_at(b, now_ms); /* earned at the old rate, up to now */

	b->rate_per_ms = clean_rate_per_ms(rate_per_s);
	b->burst = clean_burst(burst);
	b->tokens = was_unlimited || t > b->burst ? b->burst : t;
	if (now_ms > b->last_ms)
		b->last_ms = now_ms;
}

double tb_tokens(const struct tb *b, int64_t now_ms)
{
	return b->rate_per_ms <= 0.0 ? b->burst : tokens_at(b, now_ms);
}
