/* sched: when each bot of a worker speaks next, and whether it may speak now
 * (BEHAVIOUR.md "One message, step by step", point 1, Rhythm).
 *
 * Three parts, used together by the worker's timer:
 *  - a min-heap of bots keyed by their next due time, with an id -> entry hash
 *    table so that adding, moving and removing a bot are O(log n) and looking at
 *    the next due time is O(1): a tick costs in proportion to the bots that are
 *    due, never to the bots that exist (100,000 idle bots cost nothing);
 *  - the delay model: mean 30 s (18 s in prime hours) / scale_factor, times the
 *    bot's delay_multiplier (or its base_delay_seconds as the mean), halved for a
 *    bot below its hourly minimum; delay = Exp(mean) x U(jitter_min, jitter_max),
 *    clamped to [min_seconds, max_seconds] / scale_factor;
 *  - the policy: active hours, the hourly cap (the times of each bot's recent
 *    sends are kept in its entry), and "not right after its own message".
 *
 * scale_factor compresses time for simulations: at scale 60 a virtual hour takes
 * a minute. So it divides everything that measures time: the mean delay, the
 * clamp bounds min_seconds and max_seconds (floor SCHED_MIN_DELAY_S, so a delay is
 * never 0 and a timer never spins) and the hourly-cap window (3600 s / scale, see
 * sched_params_window_ms). A scale below 1 slows bots down (delays grow, floor
 * scale 0.1) but the cap window stays one real hour: the caps are per hour.
 *
 * The per-chat per-minute cap is not here (it is counted in Redis). Randomness only
 * comes from the caller's backoff_rand() state. No I/O, no logging, no globals. */

/* This file shadows the C library's <sched.h> for everything built with
 * -Icommon (pthread.h and uv.h include <sched.h> for cpu_set_t), so it pulls the
 * real one in first. Nothing below clashes with it (struct sched_param, SCHED_FIFO
 * and the like are the library's; ours are sched_params, SCHED_SPEAK, ...), and
 * it needs nothing but <stddef.h> and <stdint.h>, so being included from deep
 * inside system headers is safe. */
#include_next <sched.h>

#ifndef PIYASA_SCHED_H
#define PIYASA_SCHED_H

#include <stddef.h>
#include <stdint.h>

struct json_t; /* jansson's json_t */

#define SCHED_MAX_PRIME 8
#define SCHED_MAX_HOURS 16
/* Send times kept per bot: caps above this count behave as this count. */
#define SCHED_RING_MAX 1024
/* The smallest delay and clamp bound, in seconds, whatever the scale. */
#define SCHED_MIN_DELAY_S 0.05
/* The lowest scale_factor honoured (BEHAVIOUR.md: "floor 0.1"). */
#define SCHED_MIN_SCALE 0.1

/* ---- parameters (from the settings) ---- */

struct sched_params {
	double scale_factor;         /* 1.0; divides delays, clamp bounds and the window */
	double mean_s, prime_mean_s; /* 30, 18 */
	int prime_boost;             /* 1: prime hours use prime_mean_s */
	int nprime;                  /* 0 = no prime hours (unlike active hours) */
	int prime_from[SCHED_MAX_PRIME], prime_to[SCHED_MAX_PRIME]; /* minutes of day */
	int hourly_min, hourly_max; /* 6, 12; hourly_max 0 = silent */
	int64_t hour_ms;            /* the cap window: set it with sched_params_window_ms */
};

/* The defaults of BEHAVIOUR.md: scale 1, mean 30 s / 18 s, boost on, prime hours
 * 09:30-12:00 and 14:00-18:00, caps {6, 12}, hour_ms 3,600,000. */
void sched_params_default(struct sched_params *p);

/* The cap window for p's scale: 3,600,000 ms / scale_factor for a scale above 1,
 * one hour otherwise (never below 1 ms). After changing scale_factor, the worker
 * sets p->hour_ms = sched_params_window_ms(p). A hour_ms <= 0 is read as this. */
int64_t sched_params_window_ms(const struct sched_params *p);

/* The prime_hours setting (["HH:MM-HH:MM", ...], at most SCHED_MAX_PRIME) into
 * p->nprime/prime_from/prime_to: 0, or -1 with "prime_hours...: why" and p
 * unchanged. [] means no prime hours. */
int sched_params_set_prime(struct sched_params *p, const struct json_t *prime_hours, char *err,
			   size_t errlen) __attribute__((warn_unused_result));

/* ---- one bot: speed profile and active hours ---- */

struct sched_speed {
	double base_delay_s;           /* 0 = none: the mean comes from the settings */
	double delay_multiplier;       /* 1 */
	double jitter_min, jitter_max; /* .7, 1.3 */
	double min_s, max_s;           /* 2, 180 */
};

void sched_speed_default(struct sched_speed *sp);

/* speed_profile {delay:{base_delay_seconds, delay_multiplier, jitter_min,
 * jitter_max, min_seconds, max_seconds}, typing:{...}} into *out; the typing part
 * is checked but not read here. NULL, JSON null or {} give the defaults, missing
 * fields their default. 0, or -1 with "speed_profile...: why" (shape checked by
 * cast_check_speed; also refused: jitter or seconds whose min exceeds the max once
 * defaults fill the gaps, e.g. only min_seconds 300). *out is unchanged on error. */
int sched_speed_from_json(const struct json_t *speed_profile, struct sched_speed *out, char *err,
			  size_t errlen) __attribute__((warn_unused_result));

struct sched_hours {
	int n;                                          /* 0 = always active */
	int from[SCHED_MAX_HOURS], to[SCHED_MAX_HOURS]; /* minutes of day; to may be 1440 */
};

/* active_hours ["HH:MM-HH:MM", ...] (may wrap midnight, at most SCHED_MAX_HOURS)
 * into *out. NULL, JSON null or [] = always. 0, or -1 with "active_hours...: why"
 * and *out unchanged. */
int sched_hours_from_json(const struct json_t *active_hours, struct sched_hours *out, char *err,
			  size_t errlen) __attribute__((warn_unused_result));

/* 1 when minute_of_day (0..1439) is inside one of the ranges (or there are none).
 * A range is [from, to): "09:00-17:00" holds 09:00 and 16:59, not 17:00;
 * "22:00-02:00" holds 23:30 and 01:59. */
int sched_hours_contain(const struct sched_hours *h, int minute_of_day);

/* Minutes from minute_of_day until the next minute inside: 0 when inside now,
 * 1..1439 otherwise. */
int sched_hours_next_start(const struct sched_hours *h, int minute_of_day);

/* ---- the delay model ---- */

/* 1 when minute_of_day falls in p's prime hours. */
int sched_in_prime(const struct sched_params *p, int minute_of_day);

/* Seconds until the bot should speak again, drawn from rng (backoff_rand state):
 *   scale = max(scale_factor, SCHED_MIN_SCALE)
 *   mean  = (prime && prime_boost ? prime_mean_s : mean_s) / scale
 *   with base_delay_s > 0: mean = base_delay_s / scale, times prime_mean_s / mean_s
 *         in prime hours (when boosted)
 *   mean *= delay_multiplier; favoured: mean /= 2
 *   delay = Exp(mean) x U(jitter_min, jitter_max), clamped to
 *           [max(min_s / scale, SCHED_MIN_DELAY_S), max(max_s / scale, that)].
 * sp NULL = the default speed. Always finite and > 0. */
double sched_delay_s(const struct sched_params *p, const struct sched_speed *sp, int minute_of_day,
		     int favoured, uint64_t *rng);

/* The mean sched_delay_s draws from before jitter and clamping, for tests and
 * metrics: Exp(mean) x U(a, b) has mean mean x (a + b) / 2. */
double sched_mean_s(const struct sched_params *p, const struct sched_speed *sp, int minute_of_day,
		    int favoured);

/* ---- the heap and each bot's send history ---- */

struct sched;

/* An empty scheduler, or NULL when out of memory. */
struct sched *sched_new(void);
/* Frees everything; NULL is fine. */
void sched_free(struct sched *s);

/* Schedule bot id at due_ms: adds it, or moves it if it is already queued. 0, or
 * -1 when out of memory (then nothing changed). O(log n). */
int sched_add(struct sched *s, int64_t id, int64_t due_ms) __attribute__((warn_unused_result));

/* Take id out of the queue (its send history stays): 0, or -1 when not queued. */
int sched_remove(struct sched *s, int64_t id);

/* Drop id altogether: out of the queue and its send history gone (the bot left
 * this worker). Unknown ids are fine. */
void sched_forget(struct sched *s, int64_t id);

/* The earliest due time, INT64_MAX when nothing is queued. O(1). */
int64_t sched_next_due(const struct sched *s);

/* The due time of id, INT64_MAX when it is not queued. O(1). */
int64_t sched_due(const struct sched *s, int64_t id);

/* Remove up to max ids due at or before now_ms, earliest first (equal times by
 * id), into ids; returns how many. The send history of each stays until
 * sched_forget. Costs O(k log n) for k ids popped; nothing when none is due. */
size_t sched_pop_due(struct sched *s, int64_t now_ms, int64_t *ids, size_t max);

/* Bots queued. */
size_t sched_size(const struct sched *s);

/* Heap entries touched so far (sift steps, peeks and pops), for the cost tests. */
uint64_t sched_touched(const struct sched *s);

/* Record that id sent a message at t_ms (the bot need not be queued). Times may
 * come in any order (seeding after a restart: the worker loads the bot's sends of
 * the last hour from PostgreSQL and notes each). Keeps the sends of the hour
 * before the newest one, at most SCHED_RING_MAX. 0, or -1 when out of memory. */
int sched_note_sent(struct sched *s, int64_t id, int64_t t_ms);

/* Sends of id in (now_ms - hour_ms, now_ms] and later (a clock that stepped back
 * still counts them); hour_ms is p->hour_ms, at most an hour. */
int sched_sent_last_hour(const struct sched *s, int64_t id, int64_t now_ms, int64_t hour_ms);

/* ---- the policy ---- */

/* 1 when id sent fewer than p->hourly_min messages in the window: it is behind and
 * its next delay is halved. */
int sched_favoured(const struct sched_params *p, const struct sched *s, int64_t id, int64_t now_ms);

enum sched_verdict {
	SCHED_SPEAK = 0, /* go ahead (then the per-chat minute cap in Redis) */
	SCHED_INACTIVE,  /* outside active hours: retry at the next start */
	SCHED_CAPPED,    /* hourly_max reached: retry when a send leaves the window */
	SCHED_OWN_LAST,  /* the chat's newest message is the bot's own: retry after a
			    normal delay (the worker draws it: retry_in is 0) */
};

/* May bot id speak at now_ms? minute_of_day is local to the chat (tz_local),
 * active the bot's active hours (NULL = always). Checked in the order above; the
 * first that holds is returned with *retry_in_ms (may be NULL) set:
 *   SCHED_SPEAK: 0.
 *   SCHED_INACTIVE: until the first millisecond of the next active minute
 *     (minute_of_day is taken to be now_ms's minute; zones are whole minutes).
 *   SCHED_CAPPED: until enough sends leave the window that one more fits: with
 *     exactly hourly_max sends, until the oldest leaves; with hourly_max 0, a window.
 *   SCHED_OWN_LAST: 0. */
enum sched_verdict sched_check(const struct sched_params *p, const struct sched *s, int64_t id,
			       int64_t now_ms, int minute_of_day, const struct sched_hours *active,
			       int last_author_is_self, int64_t *retry_in_ms);

#endif
