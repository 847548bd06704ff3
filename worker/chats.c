/* chats: see chats.h. The TTL is short because other workers' bots write to the
 * same chats; within it, our own writes invalidate at once. */
#include "chats.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lcache.h"
#include "wk.h"

#define CHAT_TTL_MS 1000

struct chats {
	struct wk *w;
	struct lcache *cache;
};

struct chat_load {
	struct chats *c;
	int64_t id;
};

static char *transcript_from(PGresult *res)
{
	int n = PQntuples(res);
	size_t len = 1, off = 0;
	char *s;

	for (int i = 0; i < n; i++)
		len += (size_t)PQgetlength(res, i, 0) + (size_t)PQgetlength(res, i, 1) + 6;
	if (!(s = malloc(len)))
		return NULL;
	s[0] = '\0';
	/* Rows come newest first. */
	for (int i = n - 1; i >= 0; i--)
		off += (size_t)snprintf(s + off, len - off, "[%s]: %s\n", PQgetvalue(res, i, 0),
					PQgetvalue(res, i, 1));
	return s;
}

static void on_history_rows(PGresult *res, const char *err, void *arg)
{
	struct chat_load *ld = arg;
	char *t;

	if (!res)
		lcache_loaded(ld->c->cache, ld->id, NULL, err ? err : "query failed");
	else if (!(t = transcript_from(res)))
		lcache_loaded(ld->c->cache, ld->id, NULL, "out of memory");
	else
		lcache_loaded(ld->c->cache, ld->id, t, NULL);
	free(ld);
}

static void load_history(struct lcache *lc, int64_t id, void *owner)
{
	static const char sql[] =
		"SELECT coalesce(b.name, 'human:' || coalesce(m.metadata->>'username', '?')), "
		"m.text FROM messages m LEFT JOIN bots b ON b.id = m.bot_id "
		"WHERE m.chat_id = $1 AND m.status IN ('sent', 'received') "
		"ORDER BY m.id DESC LIMIT 15";
	struct chats *c = owner;
	struct chat_load *ld = malloc(sizeof *ld);
	char idbuf[24];
	const char *params[1] = { idbuf };

	if (!ld) {
		lcache_loaded(lc, id, NULL, "out of memory");
		return;
	}
	ld->c = c;
	ld->id = id;
	snprintf(idbuf, sizeof idbuf, "%lld", (long long)id);
	if (pgc_query(wk_pg(c->w), sql, 1, params, on_history_rows, ld) < 0) {
		free(ld);
		lcache_loaded(lc, id, NULL, "database unavailable");
	}
}

struct chats *chats_new(struct wk *w)
{
	struct chats *c = calloc(1, sizeof *c);

	if (!c)
		return NULL;
	c->w = w;
	if (!(c->cache = lcache_new(w->loop, CHAT_TTL_MS, load_history, free, c))) {
		free(c);
		return NULL;
	}
	return c;
}

void chats_free(struct chats *c)
{
	if (!c)
		return;
	lcache_free(c->cache);
	free(c);
}

void chats_history(struct chats *c, int64_t chat_id, chats_cb cb, void *arg)
{
	lcache_get(c->cache, chat_id, cb, arg);
}

void chats_invalidate(struct chats *c, int64_t chat_id)
{
	lcache_invalidate(c->cache, chat_id);
}

void chats_stats(const struct chats *c, uint64_t *hits, uint64_t *misses, size_t *size)
{
	lcache_stats(c->cache, hits, misses, size);
}
