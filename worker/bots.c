/* bots: see bots.h. */
#include "bots.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcache.h"
#include "log.h"
#include "wk.h"

#define BOT_TTL_MS (10 * 60 * 1000)

struct bots {
	struct wk *w;
	struct lcache *cache;
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
	sodium_memzero(b->token, sizeof b->token);
	free(b);
}

static json_t *parse_or_empty(const char *s)
{
	json_t *o = json_loads(s, 0, NULL);

	if (!json_is_object(o)) {
		json_decref(o);
		o = json_object();
	}
	return o;
}

static json_t *parse_array(const char *s)
{
	json_t *a = json_loads(s, 0, NULL);

	if (!json_is_array(a)) {
		json_decref(a);
		a = json_array();
	}
	return a;
}

static struct bot *bot_from_row(struct bots *bs, PGresult *res, char *err, size_t el)
{
	struct bot *b = calloc(1, sizeof *b);
	size_t enc_len;
	unsigned char *enc;

	if (!b) {
		snprintf(err, el, "out of memory");
		return NULL;
	}
	b->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(b->name, sizeof b->name, "%s", PQgetvalue(res, 0, 1));
	snprintf(b->username, sizeof b->username, "%s", PQgetvalue(res, 0, 2));
	b->enabled = PQgetvalue(res, 0, 4)[0] == 't';
	b->persona = parse_or_empty(PQgetvalue(res, 0, 5));
	b->emotion = parse_or_empty(PQgetvalue(res, 0, 6));
	b->speed = parse_or_empty(PQgetvalue(res, 0, 7));
	b->hours = parse_array(PQgetvalue(res, 0, 8));
	b->stances = parse_array(PQgetvalue(res, 0, 9));
	b->holdings = parse_array(PQgetvalue(res, 0, 10));
	b->memories = parse_array(PQgetvalue(res, 0, 11));
	enc = PQunescapeBytea((const unsigned char *)PQgetvalue(res, 0, 3), &enc_len);
	if (!enc || tok_decrypt(bs->w->token_key, enc, enc_len, b->token, sizeof b->token) < 0) {
		snprintf(err, el, "cannot decrypt the token of bot %lld (wrong token key?)",
			 (long long)b->id);
		PQfreemem(enc);
		bot_free(b);
		return NULL;
	}
	PQfreemem(enc);
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
		"ORDER BY relevance_score DESC, id DESC LIMIT 8) mm)::text "
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
	if (pgc_query(wk_pg(bs->w), sql, 1, params, on_bot_row, ld) < 0) {
		free(ld);
		lcache_loaded(c, id, NULL, "database unavailable");
	}
}

struct bots *bots_new(struct wk *w)
{
	struct bots *b = calloc(1, sizeof *b);

	if (!b)
		return NULL;
	b->w = w;
	if (!(b->cache = lcache_new(w->loop, BOT_TTL_MS, load_bot, bot_free, b))) {
		free(b);
		return NULL;
	}
	lcache_set_max(b->cache, (size_t)w->cfg.bot_cache_max);
	return b;
}

void bots_free(struct bots *b)
{
	if (!b)
		return;
	lcache_free(b->cache);
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
	lcache_set_max(b->cache, (size_t)b->w->cfg.bot_cache_max); /* a reload may change it */
}

void bots_stats(const struct bots *b, uint64_t *hits, uint64_t *misses, size_t *size)
{
	lcache_stats(b->cache, hits, misses, size);
}
