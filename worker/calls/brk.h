/* brk: circuit breakers for the services we call (one per LLM provider, one per
 * Telegram bot, one for the Telegram API as a whole).
 *
 * A pure state machine: no I/O, no clock, no logging. Every function that needs
 * the time takes now_ms (any monotonic millisecond clock, the same for every call
 * on one breaker); the jitter of the open wait comes from a generator seeded by
 * the caller, so a test replays exactly. One breaker is one small allocation
 * (256 bytes with a short name and a shared config) and recording a call
 * allocates nothing: there is one per bot, 10,000 and more per worker. Not
 * thread-safe: a breaker belongs to one loop.
 *
 *   CLOSED     calls go; results land in a sliding window of BRK_BUCKETS buckets.
 *              Too many failures (or slow calls) over the window, or too many
 *              failures in a row, trip it: -> OPEN.
 *   OPEN       nothing goes until the wait is over: open_ms * 2^(trips-1), capped
 *              at open_max_ms, +-open_jitter. The first brk_allow after that moves
 *              it to HALF_OPEN.
 *   HALF_OPEN  half_open_probes calls go, no more. One failure (or a probe with no
 *              result within probe_timeout_ms) -> OPEN with a longer wait; all of
 *              them successful -> CLOSED, the trip count and window cleared.
 *
 * A cooldown (429 with retry_after, insufficient_quota) is not a failure: it holds
 * every call until a time the provider named and leaves the state machine alone.
 * brk_state() shows it as BRK_COOLING; the transition callback never sees it.
 *
 * Each state change starts a new generation. brk_allow hands out the generation of
 * the call; brk_record ignores a result from an older one, so a call that started
 * before the breaker tripped cannot close or reopen it later. docs/BREAKERS.md is
 * the operator's side of this. */
#ifndef PIYASA_BRK_H
#define PIYASA_BRK_H

#include <stddef.h>
#include <stdint.h>

/* Buckets of the sliding window: each covers window_ms / BRK_BUCKETS. */
#define BRK_BUCKETS 10
/* Longest name kept (the rest is cut): "bot 1234567890", a provider's name. */
#define BRK_NAME_MAX 39

enum brk_state {
	BRK_CLOSED = 0,
	BRK_OPEN = 1,
	BRK_HALF_OPEN = 2,
	BRK_COOLING = 3, /* only from brk_state(): a cooldown holds calls */
};

enum brk_result {
	BRK_SUCCESS,  /* the service answered (a slow answer counts as slow too) */
	BRK_FAILURE,  /* 5xx, timeout, connection error, garbage reply */
	BRK_IGNORED,  /* a 4xx that is the request's fault (docs/BREAKERS.md says which) */
	BRK_COOLDOWN, /* 429: neither success nor failure (call brk_cooldown too) */
};

struct brk_config {
	int window_ms;            /* sliding window length; >= BRK_BUCKETS (30000) */
	int min_calls;            /* calls in the window before a rate can trip (10) */
	double failure_rate;      /* failures / calls that trip; 0 = off (0.5) */
	int consecutive_failures; /* failures in a row that trip; 0 = off (5) */
	int slow_call_ms;         /* a success this slow counts as slow; 0 = off (10000) */
	double slow_rate;         /* slow / calls that trip (0.8) */
	int open_ms;              /* wait in OPEN after the first trip (5000) */
	int open_max_ms;          /* the wait never exceeds this (120000) */
	double open_jitter;       /* the wait is spread by +-this fraction (0.2) */
	int half_open_probes;     /* calls let through in HALF_OPEN (3) */
	int probe_timeout_ms;     /* a probe with no result this long failed; 0 = off (120000) */
};

/* The transition callback: from and to are CLOSED, OPEN or HALF_OPEN (never
 * COOLING); why is short text for the log line ("failure rate 62% over 20 calls",
 * "5 consecutive failures", "probe failed", "3 probes succeeded"), valid only
 * during the call. Called after the state changed, so brk_state() inside it shows
 * the new state (unless cooling). It may read the breaker but must not change or
 * free it: no brk_allow, brk_record, brk_cooldown or brk_free from inside. */
typedef void (*brk_transition_cb)(const char *name, enum brk_state from, enum brk_state to,
				  const char *why, void *arg);

/* Fill cfg with the defaults given in the struct's comments. */
void brk_config_defaults(struct brk_config *cfg);

/* 0 when cfg is usable, else -1 with the first problem ("open_max_ms 100 is below
 * open_ms 5000") in err (NUL-terminated, cut to errlen). For the config loader, so
 * a bad value stops start-up or a reload with a reason. */
int brk_config_check(const struct brk_config *cfg, char *err, size_t errlen);

/* A new CLOSED breaker. name is copied (cut at BRK_NAME_MAX bytes), cfg is copied;
 * seed feeds the open-wait jitter (any value; backoff_seed() in production).
 * Returns NULL when cfg fails brk_config_check or memory runs out. */
struct brk *brk_new(const char *name, const struct brk_config *cfg, uint64_t seed);

/* brk_new, except that cfg is not copied: the breaker reads it where it is, so
 * it must stay alive and unchanged until the breaker is freed. For the many
 * breakers of one configuration (one per bot), 64 bytes less each. */
struct brk *brk_new_shared(const char *name, const struct brk_config *cfg, uint64_t seed);

/* Free a breaker; NULL is fine. */
void brk_free(struct brk *b);

/* Report each transition to cb (NULL: stop reporting). */
void brk_on_transition(struct brk *b, brk_transition_cb cb, void *arg);

/* May a call go now? 1 when CLOSED, or HALF_OPEN with a probe slot free (that slot
 * is now taken); 0 during a cooldown, in OPEN before its wait is over, or in
 * HALF_OPEN with every probe out. An OPEN breaker whose wait is over moves to
 * HALF_OPEN here first; a HALF_OPEN one whose probes all went out more than
 * probe_timeout_ms ago moves back to OPEN. *gen (if not NULL) receives the
 * generation to pass back to brk_record; it is set on 0 too. */
int brk_allow(struct brk *b, int64_t now_ms, uint64_t *gen);

/* The result of a call that brk_allow let through with generation gen;
 * duration_ms is how long it took (for slow calls). A result from an older
 * generation, or one arriving while OPEN, changes nothing. In HALF_OPEN an IGNORED
 * or COOLDOWN result frees the probe slot it held (it said nothing about health). */
void brk_record(struct brk *b, int64_t now_ms, uint64_t gen, enum brk_result r, int duration_ms);

/* Hold every call until until_ms without counting a failure (a 429's retry_after,
 * an exhausted quota). A later until_ms extends the hold, an earlier one does not
 * shorten it. The state, the window and the trip count stay as they are. */
void brk_cooldown(struct brk *b, int64_t now_ms, int64_t until_ms);

/* The state for metrics and decisions: BRK_COOLING while a cooldown holds, else
 * CLOSED, OPEN or HALF_OPEN as stored (an OPEN breaker whose wait is over still
 * shows OPEN until brk_allow moves it). */
enum brk_state brk_state(const struct brk *b, int64_t now_ms);

/* "closed", "open", "half_open", "cooling"; "?" for anything else. */
const char *brk_state_name(enum brk_state s);

/* When calls may go again, for the caller to schedule a retry: the later of the
 * cooldown's end and, in OPEN, the end of the wait; in HALF_OPEN with every probe
 * out, the last probe's start + open_ms (a guess: the probes have usually answered
 * by then). A time at or before now (0 when CLOSED) means: ask brk_allow now. */
int64_t brk_retry_at(const struct brk *b);

/* Trips since the breaker last closed (0 when CLOSED): the exponent of the wait. */
int brk_trips(const struct brk *b);

/* The name given to brk_new. */
const char *brk_name(const struct brk *b);

#endif
