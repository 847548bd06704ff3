/* tbucket: token buckets for pacing calls (Telegram's 30 msg/s per bot, 1 msg/s
 * per chat, 20 msg/min per group; an LLM provider's rpm and tpm).
 *
 * A pure value type: no allocation, no clock, no I/O. Callers embed a struct tb in
 * their per-bot or per-chat structs (10,000s of them) and pass now_ms (any
 * monotonic millisecond clock, the same for every call on one bucket). A bucket
 * holds up to burst tokens, starts full and refills at rate_per_s; a call takes
 * n tokens or waits. A zeroed struct tb is a valid unlimited bucket.
 *
 * Refill is computed from the elapsed time in one multiplication and tokens carry
 * over between takes, so a bucket paced for hours lets through exactly rate * time
 * (+ burst) takes: nothing drifts, nothing is lost to rounding. Burst 1 means
 * strict spacing: nothing carries past a full bucket, so at 30/s on a millisecond
 * clock takes come every 34 ms (never faster than the rate); give a burst of 2 or
 * more where the average must be exact. */
#ifndef PIYASA_TBUCKET_H
#define PIYASA_TBUCKET_H

#include <stdint.h>

struct tb {
	double tokens;        /* tokens as of last_ms (refill not yet added) */
	double rate_per_ms;   /* 0: unlimited */
	double burst;         /* most tokens the bucket holds */
	int64_t last_ms;      /* when tokens was last brought up to date */
	int64_t paused_until; /* nothing is taken before this (a 429's retry_after) */
};

/* Start a full bucket: burst tokens, refilling at rate_per_s. A rate <= 0 (or not
 * a number) makes it unlimited; a burst below 1 is raised to 1 so that a take of
 * one token can always happen eventually. */
void tb_init(struct tb *b, double rate_per_s, double burst, int64_t now_ms);

/* Take n tokens if they are there now and the bucket is not paused: 1 taken, 0 not
 * (and then nothing changed). An unlimited bucket always takes unless paused. n <= 0
 * takes nothing and succeeds unless paused. A clock that steps back refills
 * nothing. */
int tb_take(struct tb *b, int64_t now_ms, double n);

/* Milliseconds from now_ms until tb_take(n) would succeed (if nothing else takes
 * meanwhile), counting the pause: 0 means now. -1 when it never can: n > burst on a
 * limited bucket. tb_take at now_ms + tb_wait_ms(...) succeeds. */
int64_t tb_wait_ms(const struct tb *b, int64_t now_ms, double n);

/* Take nothing before until_ms (a 429's retry_after). A later time extends the
 * pause, an earlier one does not shorten it. Tokens keep refilling meanwhile. */
void tb_pause(struct tb *b, int64_t until_ms);

/* New settings (a reload): the tokens earned so far at the old rate are kept,
 * clamped to the new burst; a bucket that was unlimited starts full. The pause
 * stays. Same rules for rate and burst as tb_init. */
void tb_set_rate(struct tb *b, double rate_per_s, double burst, int64_t now_ms);

/* Tokens available at now_ms (burst for an unlimited bucket), for metrics. */
double tb_tokens(const struct tb *b, int64_t now_ms);

#endif
