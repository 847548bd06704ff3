/* bots: see bots.h. */
#include "worker/chat/bots.h"

#include "common/cfg.h"
#include "common/log.h"
#include "common/net/pgpool.h"
#include "common/net/rsub.h"
#include "worker/chat/lcache.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BOT_TTL_MS (10 * 60 * 1000)
/* Ids handled per notice; a longer one (a big import) is cut into several by
 * its writers, and anything past this is dropped whole (see on_notice). */
#define NOTICE_IDS 256

struct bots {
	const struct cfg *cfg;
	struct pgpool *pg;
	const unsigned char *token_key;
	struct lcache *cache;
	json_t *no_obj, *no_arr; /* the empty values, shared by every bot */
	struct rsub *notices;    /* "<prefix>:bots": NULL when it could not start */
	bots_changed_cb changed;
	void *changed_arg;
};

struct bot_load {
	struct bots *b;
	int64_t id;
};

static void bot_free(void *p)
{
	struct bot *b = p;

	json_decref(b->persona);
	json_decref(b->emotion);
	json_decref(b->speed);
	json_decref(b->hours);
	json_decref(b->stances);
	json_decref(b->holdings);
	json_decref(b->memories);
	sodium_memzero((char *)b->token, strlen(b->token));
	free(b);
}

/* An empty jansson object or array costs some 200 bytes, and most bots have
 * a few empty profiles: those share one (the values are read-only). */
static json_t *parse_or_empty(struct bots *bs, const char *s)
{
	json_t *o = json_loads(s, 0, NULL);

	if (json_is_object(o) && json_object_size(o) > 0)
		return o;
	json_decref(o);
	return json_incref(bs->no_obj);
}

static json_t *parse_array(struct bots *bs, const char *s)
{
	json_t *a = json_loads(s, 0, NULL);

	if (json_is_array(a) && json_array_size(a) > 0)
		return a;
	json_decref(a);
	return json_incref(bs->no_arr);
}

/* The bot with its strings after it, in one allocation; NULL when memory
 * runs out. */
static struct bot *bot_alloc(const char *name, const char *username, const char *token)
{
	size_t ln = strnlen(name, BOTS_NAME_MAX), lu = strnlen(username, BOTS_NAME_MAX);
	size_t lt = strlen(token);
	struct bot *b = calloc(1, sizeof *b + ln + lu + lt + 3);
	char *p;

	if (!b)
		return NULL;
	p = (char *)(b + 1);
	b->name = memcpy(p, name, ln);
	b->username = memcpy(p += ln + 1, username, lu);
	b->token = memcpy(p += lu + 1, token, lt);
	return b;
}

static struct bot *bot_from_row(struct bots *bs, PGresult *res, char *err, size_t el)
{
	int64_t id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	char token[TOK_MAX];
	struct bot *b = NULL;
	size_t enc_len;
	unsigned char *enc;

	enc = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 3), &enc_len);
	if (!enc || tok_decrypt(bs->token_key, enc, enc_len, token, sizeof token) < 0) {
		snprintf(err, el, "cannot decrypt the token of bot %lld (wrong token key?)",
			 (long long)id);
		sodium_memzero(token, sizeof token);
		PQfreemem(enc);
		return NULL;
	}
	PQfreemem(enc);
	b = bot_alloc(PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2), token);
	sodium_memzero(token, sizeof token);
	if (!b) {
		snprintf(err, el, "out of memory");
		return NULL;
	}
	b->id = id;
	b->enabled = PQgetvalue(res, 0, 4)[0] == 't';
	b->persona = parse_or_empty(bs, PQgetvalue(res, 0, 5));
	b->emotion = parse_or_empty(bs, PQgetvalue(res, 0, 6));
	b->speed = parse_or_empty(bs, PQgetvalue(res, 0, 7));
	b->hours = parse_array(bs, PQgetvalue(res, 0, 8));
	b->stances = parse_array(bs, PQgetvalue(res, 0, 9));
	b->holdings = parse_array(bs, PQgetvalue(res, 0, 10));
	b->memories = parse_array(bs, PQgetvalue(res, 0, 11));
	b->updated_us = strtoll(PQgetvalue(res, 0, 12), NULL, 10);
	return b;
}

static void on_bot_row(PGresult *res, const char *err, void *arg)
{
	struct bot_load *ld = arg;
	struct bots *bs = ld->b;
	char why[256];
	struct bot *b = NULL;

	if (!res) {
		lcache_loaded(bs->cache, ld->id, NULL, err ? err : "query failed");
	} else if (PQntuples(res) == 0) {
		lcache_loaded(bs->cache, ld->id, NULL, NULL);
	} else if (!(b = bot_from_row(bs, res, why, sizeof why))) {
		struct log_ctx ctx = { .bot_id = ld->id };
		log_msg(LOG_ERR, &ctx, "%s", why);
		lcache_loaded(bs->cache, ld->id, NULL, why);
	} else {
		lcache_loaded(bs->cache, ld->id, b, NULL);
	}
	free(ld);
}

static void load_bot(struct lcache *c, int64_t id, void *owner)
{
	static const char sql[] =
		"SELECT id, name, coalesce(username, ''), token_enc, enabled, "
		"persona_profile::text, emotion_profile::text, speed_profile::text, "
		"active_hours::text, "
		"(SELECT coalesce(json_agg(json_build_object('topic', topic, 'stance_text', "
		"stance_text, 'confidence', confidence, 'cooldown_until', cooldown_until) "
		"ORDER BY confidence DESC), '[]') FROM bot_stances WHERE bot_id = b.id)::text, "
		"(SELECT coalesce(json_agg(json_build_object('symbol', symbol, 'avg_price', "
		"avg_price, 'size', size, 'note', note) ORDER BY symbol), '[]') "
		"FROM bot_holdings WHERE bot_id = b.id)::text, "
		/* The 8 most relevant memories (BEHAVIOUR.md "Memories"). */
		"(SELECT coalesce(json_agg(json_build_object('id', id, 'memory_type', memory_type, "
		"'content', content, 'relevance_score', relevance_score, 'usage_count', "
		"usage_count) ORDER BY relevance_score DESC, id DESC), '[]') FROM "
		"(SELECT * FROM bot_memories WHERE bot_id = b.id "
		"ORDER BY relevance_score DESC, id DESC LIMIT 8) mm)::text, "
		/* exact: extract gives a numeric since PostgreSQL 14 */
		"(extract(epoch FROM updated_at) * 1000000)::bigint "
		"FROM bots b WHERE id = $1";
	struct bots *bs = owner;
	struct bot_load *ld = malloc(sizeof *ld);
	char idbuf[24];
	const char *params[1] = { idbuf };

	if (!ld) {
		lcache_loaded(c, id, NULL, "out of memory");
		return;
	}
	ld->b = bs;
	ld->id = id;
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	if (pgc_query(pgpool_pick(bs->pg), sql, 1, params, on_bot_row, ld) < 0) {
		free(ld);
		lcache_loaded(c, id, NULL, "database unavailable");
	}
}

size_t bots_parse_notice(const char *msg, int64_t *ids, size_t max)
{
	const char *p = msg;
	size_t n = 0;
	char *end;

	while (n < max) {
		long long id;

		while (*p == ' ')
			p++;
		errno = 0;
		id = strtoll(p, &end, 10);
		if (end == p || errno)
			break;
		ids[n++] = (int64_t)id;
		p = end;
	}
	return n;
}

/* Bots changed (or, message NULL, we were away and may have missed some). */
static void on_notice(const char *message, void *arg)
{
	struct bots *b = arg;
	int64_t ids[NOTICE_IDS];
	size_t n;

	if (!message) {
		lcache_clear(b->cache);
		if (b->changed)
			b->changed(NULL, 0, b->changed_arg);
		return;
	}
	n = bots_parse_notice(message, ids, NOTICE_IDS);
	for (size_t i = 0; i < n; i++)
		lcache_invalidate(b->cache, ids[i]);
	if (n == NOTICE_IDS) /* more than we read: forget them all */
		lcache_clear(b->cache);
	if (n && b->changed)
		b->changed(ids, n == NOTICE_IDS ? 0 : n, b->changed_arg);
}

struct bots *bots_new(uv_loop_t *loop, const struct cfg *cfg, struct pgpool *pg,
		      const unsigned char *token_key)
{
	struct bots *b = calloc(1, sizeof *b);
	char channel[64], err[256];

	if (!b)
		return NULL;
	b->cfg = cfg;
	b->pg = pg;
	b->token_key = token_key;
	if (!(b->no_obj = json_object()) || !(b->no_arr = json_array()) ||
	    !(b->cache = lcache_new(loop, BOT_TTL_MS, load_bot, bot_free, b))) {
		json_decref(b->no_obj);
		json_decref(b->no_arr);
		free(b);
		return NULL;
	}
	lcache_set_max(b->cache, (size_t)cfg->bot_cache_max);
	snprintf(channel, sizeof channel, "%s:bots", cfg->redis_prefix);
	if (!(b->notices = rsub_new(loop, cfg->redis_url, channel, on_notice, b, err, sizeof err)))
		log_warn("no bot change notices (%s): edits reach this worker within %d minutes",
			 err, BOT_TTL_MS / 60000);
	return b;
}

void bots_on_change(struct bots *b, bots_changed_cb cb, void *arg)
{
	b->changed = cb;
	b->changed_arg = arg;
}

void bots_free(struct bots *b)
{
	if (!b)
		return;
	rsub_free(b->notices);
	lcache_free(b->cache);
	json_decref(b->no_obj); /* after the bots that share them */
	json_decref(b->no_arr);
	free(b);
}

void bots_get(struct bots *b, int64_t id, bots_cb cb, void *arg)
{
	lcache_get(b->cache, id, cb, arg);
}

void bots_invalidate(struct bots *b, int64_t id)
{
	lcache_invalidate(b->cache, id);
}

void bots_clear(struct bots *b)
{
	lcache_clear(b->cache);
	lcache_set_max(b->cache, (size_t)b->cfg->bot_cache_max); /* a reload may change it */
}

int bots_check(const struct bot *b, const char *err, int64_t id, char *why, size_t n)
{
	if (!b && err)
		return 1;
	if (b && b->enabled)
		return 0;
	snprintf(why, n, "bot %lld %s", (long long)id, b ? "is disabled" : "does not exist");
	return -1;
}

void bots_stats(const struct bots *b, uint64_t *hits, uint64_t *misses, size_t *size)
{
	lcache_stats(b->cache, hits, misses, size);
}
