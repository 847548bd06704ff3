/* bots: the worker's cache of the bots it owns (name, decrypted token, persona),
 * read from PostgreSQL on first use and again after a reload or 10 minutes. At
 * most bot_cache_max profiles stay (least recently used go first): with
 * thousands of bots a worker keeps those with recent jobs, not all.
 *
 * The API and piyasactl announce a committed change of bots with PUBLISH
 * "<prefix>:bots" "ID ID ..." (the bot change notice); every worker subscribes
 * and drops those bots, so the next job reads them again. A notice lost (Redis
 * away) costs only freshness: the 10 minutes stay the fallback, and a
 * subscription made again after a loss forgets every bot. */
#ifndef PIYASA_BOTS_H
#define PIYASA_BOTS_H

#include "common/tok.h"

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

struct cfg;
struct pgpool;

/* Longest name or username kept (the rest is cut). */
#define BOTS_NAME_MAX 63

/* The strings are never NULL. They sit in the bot's own allocation, each as
 * long as it is: fixed buffers would be most of a cached bot. */
struct bot {
	int64_t id;
	const char *name;     /* cut at BOTS_NAME_MAX bytes */
	const char *username; /* cut at BOTS_NAME_MAX bytes */
	const char *token;    /* never logged */
	int enabled;
	json_t *persona;  /* persona_profile */
	json_t *emotion;  /* emotion_profile */
	json_t *speed;    /* speed_profile */
	json_t *hours;    /* active_hours (array) */
	json_t *stances;  /* [{topic, stance_text, confidence, cooldown_until}] */
	json_t *holdings; /* [{symbol, avg_price, size, note}] */
	json_t *memories; /* the 8 most relevant: [{id, memory_type, content, ...}] */
	/* bots.updated_at in microseconds since the epoch: the row's version. Every
	 * operator's edit of what a prompt is built from moves it (the profiles,
	 * stances, holdings, memories: docs/PERSONAS.md); a kept draft records it
	 * and is dropped when the bot has moved on (talk.c reuse). */
	int64_t updated_us;
};

/* bot is a const struct bot *, NULL when err is set or the bot does not exist
 * (err NULL). Copy what you need: it is not valid after the callback returns.
 * The signature is the cache's own (lcache_cb), so no cast sits between them. */
typedef void (*bots_cb)(const void *bot, const char *err, void *arg);

/* Bots read through pg; tokens decrypted with token_key (TOK_KEY_BYTES, kept
 * by the caller); bot_cache_max from cfg (read again at bots_clear). cfg, pg
 * and the key must outlive b. NULL: no memory. */
struct bots *bots_new(uv_loop_t *loop, const struct cfg *cfg, struct pgpool *pg,
		      const unsigned char *token_key);
void bots_free(struct bots *b);
void bots_get(struct bots *b, int64_t id, bots_cb cb, void *arg);
/* Forget every bot and take bot_cache_max from the configuration (reload). */
void bots_clear(struct bots *b);
/* Forget one bot (its memories or stances changed). */
void bots_invalidate(struct bots *b, int64_t id);
/* What a job does with bots_get's answer (b, err) for bot id: 0 go on, 1
 * try again later (the database did not answer), -1 give up (why says: it
 * does not exist or is disabled). */
int bots_check(const struct bot *b, const char *err, int64_t id, char *why, size_t n);
/* What the bot change notice named (ids[0..n)), after the cache dropped them;
 * n 0: anything may have changed (the subscription was lost meanwhile). */
typedef void (*bots_changed_cb)(const int64_t *ids, size_t n, void *arg);
void bots_on_change(struct bots *b, bots_changed_cb cb, void *arg);
/* Parse a notice ("ID ID ...", at most max ids kept): how many were read. */
size_t bots_parse_notice(const char *msg, int64_t *ids, size_t max);
void bots_stats(const struct bots *b, uint64_t *hits, uint64_t *misses, size_t *size);

#endif
