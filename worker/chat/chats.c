/* chats: see chats.h. A notice is "<worker index> <chat> <chat> ...", each chat
 * an id, or "=id" when the others must drop it at once (a human's message):
 * a worker skips its own notices (it dropped those chats when it wrote). */
#include "worker/chat/chats.h"

#include "common/cfg.h"
#include "common/log.h"
#include "common/net/pgpool.h"
#include "common/net/ra.h"
#include "common/net/rsub.h"
#include "worker/chat/lcache.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHAT_TTL_MS 30000
/* How long another worker's bot message may be missing from a context here:
 * NOTICE_DELAY_MS for the writer to tell, CHAT_STALE_MS for the others to
 * drop their copy, 250 ms in all. A busy chat is written many times a second
 * by every worker: dropping it at each of them meant a reload per job; a job's
 * context is anyway a moment old by the time its LLM answers. The writer's
 * delay gathers a chat's writes into one notice: one PUBLISH (and a wake-up of
 * each other worker) per 100 ms instead of per message. */
#define NOTICE_DELAY_MS 100
#define CHAT_STALE_MS 150
#define NOTICE_MAX 64 /* chat ids per PUBLISH; more go in the next turn */
#define NOTICE_TIMEOUT_MS 2000

struct chats {
	struct pgpool *pg;
	struct ra *redis; /* notices are published on it */
	int index;        /* this worker's: its own notices are skipped */
	int draining;
	struct lcache *cache;
	struct rsub *notices;
	char channel[128];
	uv_timer_t flush; /* 0 ms: the ids written in this turn go together */
	struct {
		int64_t id;
		int urgent;
	} written[NOTICE_MAX];
	size_t nwritten;
};

struct chat_load {
	struct chats *c;
	int64_t id;
};

struct chatctx *chatctx_ref(const struct chatctx *c)
{
	struct chatctx *m = (struct chatctx *)c;

	m->refs++;
	return m;
}

void chatctx_unref(struct chatctx *c)
{
	if (!c || --c->refs > 0)
		return;
	free(c->msgs); /* the strings too (set_msgs) */
	json_decref(c->topics);
	free(c);
}

static void ctx_free(void *p)
{
	chatctx_unref(p);
}

/* c's messages: a copy of src[0..n) in one allocation, the array followed by
 * their facts and every string, so a context costs one malloc (a send rebuilds
 * one in place of a reload: three per message would be most of that work).
 * The facts (the folded text and a few flags) are worked out here once for
 * every job that decides over c, or copied from src's when it has them (a
 * rebuild around a new message): c->topicset must be set. -1 on OOM. */
static int set_msgs(struct chatctx *c, const struct convo_msg *src, size_t n)
{
	size_t bytes = n * (sizeof *c->msgs + sizeof(struct pick_msg_facts));
	struct pick_msg_facts *facts;
	char *p;

	for (size_t i = 0; i < n; i++)
		bytes += strlen(src[i].speaker ?: "?") + strlen(src[i].text ?: "") + 2 +
			 (src[i].topic ? strlen(src[i].topic) + 1 : 0) + pick_facts_size(src[i].text);
	if (n == 0 || !(c->msgs = malloc(bytes)))
		return n == 0 ? 0 : -1;
	facts = (struct pick_msg_facts *)(c->msgs + n);
	p = (char *)(facts + n);
	for (size_t i = 0; i < n; i++) {
		const char **f[3] = { &c->msgs[i].speaker, &c->msgs[i].text, &c->msgs[i].topic };

		c->msgs[i] = src[i];
		c->msgs[i].speaker = src[i].speaker ?: "?";
		c->msgs[i].text = src[i].text ?: "";
		for (int k = 0; k < 3; k++) {
			size_t len;

			if (!*f[k])
				continue;
			len = strlen(*f[k]) + 1;
			memcpy(p, *f[k], len);
			*f[k] = p;
			p += len;
		}
		p += pick_msg_facts(&facts[i], &c->msgs[i], &c->topicset, p,
				    pick_facts_size(src[i].text));
		c->msgs[i].facts = &facts[i];
	}
	c->nmsgs = n;
	return 0;
}

static int64_t int_of(json_t *v)
{
	return json_is_integer(v) ? (int64_t)json_integer_value(v)
	       : json_is_real(v)  ? (int64_t)json_real_value(v)
				  : 0;
}

/* Row: topics, time_zone, language, enabled, messages (a JSON array). */
static struct chatctx *ctx_from(int64_t id, PGresult *res)
{
	struct chatctx *c = calloc(1, sizeof *c);
	struct convo_msg tmp[CHATS_HISTORY];
	json_t *arr, *m;
	size_t i, n;

	if (!c)
		return NULL;
	c->refs = 1;
	c->id = id;
	if (PQntuples(res) == 0) {
		c->topics = json_array();
		return c;
	}
	c->exists = 1;
	c->topics = json_loads(PQgetvalue(res, 0, 0), 0, NULL);
	if (!json_is_array(c->topics)) {
		json_decref(c->topics);
		c->topics = json_array();
	}
	pick_topics_init(&c->topicset, c->topics);
	snprintf(c->time_zone, sizeof c->time_zone, "%s", PQgetvalue(res, 0, 1));
	snprintf(c->language, sizeof c->language, "%s", PQgetvalue(res, 0, 2));
	c->enabled = PQgetvalue(res, 0, 3)[0] == 't';
	arr = json_loads(PQgetvalue(res, 0, 4), 0, NULL);
	/* The strings point into arr until set_msgs copies them. */
	n = json_array_size(arr) < CHATS_HISTORY ? json_array_size(arr) : CHATS_HISTORY;
	for (i = 0; i < n; i++) {
		struct convo_msg *x = &tmp[i];
		const char *sent;

		m = json_array_get(arr, i);
		sent = json_string_value(json_object_get(m, "sentiment"));
		*x = (struct convo_msg){ 0 };
		x->id = int_of(json_object_get(m, "id"));
		x->tg_id = int_of(json_object_get(m, "tg"));
		x->bot_id = int_of(json_object_get(m, "bot"));
		x->speaker = json_string_value(json_object_get(m, "speaker")) ?: "?";
		x->text = json_string_value(json_object_get(m, "text")) ?: "";
		x->at_ms = int_of(json_object_get(m, "at"));
		x->reply_to_tg = int_of(json_object_get(m, "reply_to"));
		x->topic = json_string_value(json_object_get(m, "topic"));
		x->sentiment = sent ? atoi(sent) : 0;
	}
	/* Out of memory: a context without its history, as before. */
	(void)set_msgs(c, tmp, n);
	json_decref(arr);
	return c;
}

static void on_ctx_row(PGresult *res, const char *err, void *arg)
{
	struct chat_load *ld = arg;
	struct chatctx *c;

	if (!res)
		lcache_loaded(ld->c->cache, ld->id, NULL, err ? err : "query failed");
	else if (!(c = ctx_from(ld->id, res)))
		lcache_loaded(ld->c->cache, ld->id, NULL, "out of memory");
	else
		lcache_loaded(ld->c->cache, ld->id, c, NULL);
	free(ld);
}

static void load_ctx(struct lcache *lc, int64_t id, void *owner)
{
	/* One round trip: the chat and its last 30 messages as JSON, oldest first. */
	static const char sql[] =
		"SELECT c.topics::text, c.time_zone, c.language, c.enabled, "
		"(SELECT coalesce(json_agg(x ORDER BY x.id), '[]') FROM "
		"(SELECT m.id, m.telegram_message_id AS tg, m.bot_id AS bot, "
		"coalesce(b.name, m.metadata->>'username', m.metadata->>'first_name', 'biri') "
		"AS speaker, m.text, "
		"(extract(epoch FROM coalesce(m.sent_at, m.created_at)) * 1000)::bigint AS at, "
		"m.reply_to_message_id AS reply_to, m.metadata->>'topic' AS topic, "
		"m.metadata->>'sentiment' AS sentiment "
		"FROM messages m LEFT JOIN bots b ON b.id = m.bot_id "
		"WHERE m.chat_id = c.id AND m.status IN ('sent', 'received') "
		"ORDER BY m.id DESC LIMIT 30) x)::text "
		"FROM chats c WHERE c.id = $1";
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
	if (pgc_query(pgpool_pick(c->pg), sql, 1, params, on_ctx_row, ld) < 0) {
		free(ld);
		lcache_loaded(lc, id, NULL, "database unavailable");
	}
}

/* Another worker wrote these chats (or, message NULL, we were away). */
static void on_notice(const char *message, void *arg)
{
	struct chats *c = arg;
	const char *p = message;
	char *end;
	long from;

	if (!message) {
		lcache_clear(c->cache);
		return;
	}
	errno = 0;
	from = strtol(p, &end, 10);
	if (end == p || errno || from == c->index)
		return;
	for (p = end;;) {
		long long id;
		int urgent;

		while (*p == ' ')
			p++;
		if ((urgent = *p == '='))
			p++;
		errno = 0;
		id = strtoll(p, &end, 10);
		if (end == p || errno)
			break;
		lcache_expire_within(c->cache, (int64_t)id, urgent ? 0 : CHAT_STALE_MS);
		p = end;
	}
}

static void on_published(redisReply *r, const char *err, void *arg)
{
	(void)r;
	(void)arg;
	/* Lost: the others see the message when their entry expires (TTL). */
	if (err)
		log_debug("chat notice not published: %s", err);
}

static void on_flush_due(uv_timer_t *h)
{
	struct chats *c = h->data;
	char msg[25 * (NOTICE_MAX + 1)];
	const char *argv[3] = { "PUBLISH", c->channel, msg };
	size_t off;

	off = (size_t)snprintf(msg, sizeof msg, "%d", c->index);
	for (size_t i = 0; i < c->nwritten; i++)
		off += (size_t)snprintf(msg + off, sizeof msg - off, " %s%" PRId64,
					c->written[i].urgent ? "=" : "", c->written[i].id);
	c->nwritten = 0;
	if (c->redis)
		ra_cmd(c->redis, on_published, NULL, NOTICE_TIMEOUT_MS, 3, argv);
}

struct chats *chats_new(uv_loop_t *loop, const struct cfg *cfg, struct pgpool *pg, struct ra *redis,
			int index)
{
	struct chats *c = calloc(1, sizeof *c);
	char err[256];

	if (!c)
		return NULL;
	c->pg = pg;
	c->redis = redis;
	c->index = index;
	if (!(c->cache = lcache_new(loop, CHAT_TTL_MS, load_ctx, ctx_free, c))) {
		free(c);
		return NULL;
	}
	uv_timer_init(loop, &c->flush);
	c->flush.data = c;
	snprintf(c->channel, sizeof c->channel, "%s:chats", cfg->redis_prefix);
	if (!(c->notices = rsub_new(loop, cfg->redis_url, c->channel, on_notice, c, err, sizeof err)))
		log_warn("no chat notices (%s): other workers' messages show after %d s", err,
			 CHAT_TTL_MS / 1000);
	return c;
}

static void on_flush_closed(uv_handle_t *h)
{
	free(h->data);
}

void chats_free(struct chats *c)
{
	if (!c)
		return;
	if (c->nwritten)
		on_flush_due(&c->flush); /* the last turn's writes, while Redis is up */
	rsub_free(c->notices);
	lcache_free(c->cache);
	uv_close((uv_handle_t *)&c->flush, on_flush_closed);
}

void chats_get(struct chats *c, int64_t chat_id, chats_cb cb, void *arg)
{
	lcache_get(c->cache, chat_id, cb, arg);
}

/* old with m in id order, the oldest dropped past CHATS_HISTORY. NULL when
 * memory runs out or m is there already (the caller reloads); *same when m is
 * older than every message kept, so nothing changes. */
static struct chatctx *ctx_with(const struct chatctx *old, const struct convo_msg *m, int *same)
{
	size_t n = old->nmsgs, at = n, keep, first, k = 0;
	struct convo_msg tmp[CHATS_HISTORY];
	struct chatctx *c;

	*same = 0;
	for (size_t i = 0; i < n; i++) {
		if (old->msgs[i].id == m->id)
			return NULL;
		if (at == n && old->msgs[i].id > m->id)
			at = i;
	}
	keep = n + 1 > CHATS_HISTORY ? CHATS_HISTORY : n + 1;
	first = n + 1 - keep; /* of the n + 1, the first ones go */
	if (at < first) {
		*same = 1;
		return NULL;
	}
	for (size_t i = first; i <= n; i++)
		tmp[k++] = i == at ? *m : old->msgs[i < at ? i : i - 1];
	if (!(c = calloc(1, sizeof *c)))
		return NULL;
	/* The same topics: the kept messages' facts are copied, m's worked out. */
	c->topics = json_incref(old->topics);
	pick_topics_init(&c->topicset, c->topics);
	if (set_msgs(c, tmp, k) < 0) {
		json_decref(c->topics);
		free(c);
		return NULL;
	}
	c->refs = 1;
	c->id = old->id;
	c->exists = old->exists;
	c->enabled = old->enabled;
	memcpy(c->time_zone, old->time_zone, sizeof c->time_zone);
	memcpy(c->language, old->language, sizeof c->language);
	return c;
}

static void notice_add(struct chats *c, int64_t chat_id, int urgent);

void chats_sent(struct chats *c, int64_t chat_id, const struct convo_msg *m)
{
	const struct chatctx *old = lcache_peek(c->cache, chat_id);
	struct chatctx *next = NULL;
	int same = 0;

	if (old && old->exists && m->id > 0)
		next = ctx_with(old, m, &same);
	if (next)
		lcache_replace(c->cache, chat_id, next);
	else if (!same)
		lcache_invalidate(c->cache, chat_id);
	notice_add(c, chat_id, 0);
}

void chats_forget(struct chats *c, int64_t chat_id)
{
	lcache_invalidate(c->cache, chat_id);
}

void chats_written(struct chats *c, int64_t chat_id, int urgent)
{
	lcache_invalidate(c->cache, chat_id);
	notice_add(c, chat_id, urgent);
}

static void notice_add(struct chats *c, int64_t chat_id, int urgent)
{
	size_t i = 0;

	while (i < c->nwritten && c->written[i].id != chat_id)
		i++;
	if (i == NOTICE_MAX) {
		on_flush_due(&c->flush);
		i = 0;
	}
	if (i == c->nwritten) {
		c->written[c->nwritten].id = chat_id;
		c->written[c->nwritten++].urgent = 0;
	}
	c->written[i].urgent |= urgent;
	/* A human's message, or a worker about to stop: tell them now. */
	if (urgent || c->draining)
		uv_timer_start(&c->flush, on_flush_due, 0, 0);
	else if (!uv_is_active((uv_handle_t *)&c->flush))
		uv_timer_start(&c->flush, on_flush_due, NOTICE_DELAY_MS, 0);
}

void chats_drain(struct chats *c)
{
	c->draining = 1;
}

void chats_stats(const struct chats *c, uint64_t *hits, uint64_t *misses, size_t *size)
{
	lcache_stats(c->cache, hits, misses, size);
}
