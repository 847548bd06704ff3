/* updates: see updates.h.
 *
 * Per bot, one chain, one turn at a time: [offset from Redis, the first time]
 * -> getUpdates(offset, timeout) -> for each update in order: store the human
 * message -> queue the replies it asks for -> then the offset moves on in Redis
 * -> the bot goes to the back of the line. A crash anywhere repeats the updates
 * after the stored offset, never skips one; a repeat is harmless because every
 * effect is idempotent: the message row is unique by (chat, Telegram id), a
 * reply job's id is derived from (chat, message, bot), and the outbox refuses
 * to send a job id twice. Every bot of a chat sees the same human message;
 * whichever stores it first, the replies it queues are the same jobs.
 *
 * Turns: at most max_pollers bots hold a turn at once (a curl handle, a
 * connection and a receive buffer each). While the worker owns no more bots
 * than that, every bot is always in a turn and waits the long timeout (25 s)
 * on Telegram, as a lone poller would. With more bots, turns are short polls
 * (2 s) taken in FIFO order, so a bot is heard again at most every
 * ceil(bots / max_pollers) x 2 s (plus the time to act on what came). A retry
 * gives the turn up while it waits, then joins the back of the line.
 *
 * A poll reads answers up to 16 MiB (a full batch of the longest messages),
 * and asks for fewer updates after one too large still. A failed poll counts in
 * piyasa_poll_failures_total; a bot whose turns fail 5 times in a row is
 * logged (then every 100th), and once more when it hears again.
 *
 * The token is read and decrypted with the list of our bots (now and every
 * RELOAD_MS), not through the bots cache: a poll needs no profile, and with
 * thousands of bots the cache would hold them all. */
#include "worker/chat/updates.h"

#include "common/backoff.h"
#include "common/cfg.h"
#include "common/imap.h"
#include "common/job.h"
#include "common/log.h"
#include "common/net/httpc.h"
#include "common/net/later.h"
#include "common/net/pgpool.h"
#include "common/net/ra.h"
#include "common/shm.h"
#include "common/tok.h"
#include "worker/chat/chats.h"
#include "worker/chat/market.h"
#include "worker/chat/pick.h"
#include "worker/jobs/queue.h"

#include <limits.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LONG_POLL_S 25
#define TURN_POLL_S 2
#define RELOAD_MS 30000
#define RETRY_MIN_MS 1000
#define RETRY_MAX_MS 30000
/* An answer of 100 updates is at most about 100 x 64 KiB (4096 characters
 * escaped as \uXXXX, entities, the message replied to): 16 MiB reads any
 * legal one. httpc's default of 1 MiB failed on ninety messages of 4096 stars,
 * and the chat went deaf. A bigger answer still (a Telegram that changed, or
 * lies) halves the limit asked for, down to 1 update, until the backlog is
 * read; then it is 100 again. */
#define POLL_BODY_MAX (16u << 20)
#define POLL_LIMIT 100
#define POLL_LIMIT_SHIFT_MAX 6 /* 100 >> 6 = 1 */
/* Failed turns in a row before a bot's polls are logged (and every LOUD_EVERY
 * more): a poll that keeps failing is a bot that hears nothing. */
#define LOUD_AFTER 5
#define LOUD_EVERY 100

/* One per bot of ours (thousands): kept to 72 bytes, an 80-byte malloc chunk. */
struct poller {
	struct updates *u;
	int64_t bot_id;
	int64_t offset; /* next update_id wanted; -1 = not read from Redis yet */
	int failures;
	uint32_t next;               /* index in batch (getUpdates returns at most 100) */
	uint8_t busy;                /* a callback of the chain is due (request or retry timer) */
	uint8_t queued;              /* in u's line, waiting for a turn */
	uint8_t turn;                /* holds one of u's max_pollers turns */
	uint8_t gone;                /* no longer ours: free when the chain stops */
	uint8_t token_bad;           /* said once until it decrypts again */
	uint8_t limit_shift;         /* getUpdates limit = POLL_LIMIT >> limit_shift */
	json_t *batch;               /* updates being processed */
	struct poller *prev, *nextq; /* the line */
	char *token;                 /* decrypted, its own size (thousands of pollers);
				      * NULL: none that decrypts */
};

struct updates {
	uv_loop_t *loop;
	const struct cfg *cfg;
	struct shm_slot *slot;
	struct pgpool *pg;
	struct ra *redis;
	struct queue *queue;
	struct market *market;
	struct chats *chats;
	const unsigned char *token_key;
	int index, count;
	uint64_t rng;
	struct httpc *http; /* long polls on connections of their own */
	struct imap *pollers;
	struct poller *head, *tail; /* the line: bots waiting for a turn */
	int turns;                  /* turns held */
	int dispatching;
	uv_timer_t reload;
	int loading;
	int closing;
};

static void turn_start(struct poller *p);
static void process_next(struct poller *p);

static void token_drop(struct poller *p)
{
	if (p->token) {
		sodium_memzero(p->token, strlen(p->token));
		free(p->token);
		p->token = NULL;
	}
}

static void poller_free(struct poller *p)
{
	json_decref(p->batch);
	token_drop(p);
	free(p);
}

/* ---- the line and the turns ---- */

static void line_remove(struct updates *u, struct poller *p)
{
	if (p->prev)
		p->prev->nextq = p->nextq;
	else
		u->head = p->nextq;
	if (p->nextq)
		p->nextq->prev = p->prev;
	else
		u->tail = p->prev;
	p->prev = p->nextq = NULL;
	p->queued = 0;
}

/* Hand free turns to the head of the line. Not re-entered: a turn that ends at
 * once (a failed request) is picked up by the loop already running. */
static void dispatch(struct updates *u)
{
	struct poller *p;

	if (u->dispatching)
		return;
	u->dispatching = 1;
	while (!u->closing && u->turns < u->cfg->max_pollers && (p = u->head)) {
		line_remove(u, p);
		if (!p->token)
			continue; /* waits for a reload with a token that decrypts */
		p->turn = 1;
		p->busy = 1;
		u->turns++;
		turn_start(p);
	}
	u->dispatching = 0;
}

static void line_join(struct poller *p)
{
	struct updates *u = p->u;

	p->prev = u->tail;
	p->nextq = NULL;
	if (u->tail)
		u->tail->nextq = p;
	else
		u->head = p;
	u->tail = p;
	p->queued = 1;
	dispatch(u);
}

static void turn_end(struct poller *p)
{
	if (!p->turn)
		return;
	p->turn = 0;
	p->u->turns--;
	dispatch(p->u);
}

/* The chain stops here (error, shutdown or the bot left us). */
static int chain_ends(struct poller *p)
{
	/* gone first: after updates_free, p->u is not to be touched (a gone
	 * poller holds no turn). */
	if (p->gone || p->u->closing) {
		p->busy = 0;
		if (p->gone)
			poller_free(p);
		return 1;
	}
	return 0;
}

/* A turn done well: the bot waits behind the others. */
static void turn_done(struct poller *p)
{
	p->busy = 0;
	turn_end(p);
	line_join(p);
}

static void on_retry_due(void *arg)
{
	struct poller *p = arg;

	if (chain_ends(p))
		return;
	p->busy = 0;
	line_join(p);
}

/* The turn goes to another bot while this one waits. */
static void retry_later(struct poller *p, int64_t ms)
{
	int n = p->failures;

	if (p->failures < INT_MAX)
		p->failures++; /* turns failed in a row; a good poll sets it to 0 */
	if (ms < 0)
		ms = backoff_equal_jitter(n, RETRY_MIN_MS, RETRY_MAX_MS, &p->u->rng);
	turn_end(p);
	later_run(p->u->loop, (uint64_t)ms, on_retry_due, p);
}

static void offset_key(const struct updates *u, int64_t bot, char *out, size_t n)
{
	snprintf(out, n, "%s:upd:%lld", u->cfg->redis_prefix, (long long)bot);
}

/* ---- the replies a human message asks for ---- */

static void on_reply_queued(int rc, void *arg)
{
	struct updates *u = arg;

	if (rc == 1)
		shm_count(u->slot, SHM_C_HUMAN_REPLIES, 1);
	else if (rc < 0)
		log_warn("could not queue a reply to a human");
}

static void queue_reply(struct updates *u, int64_t bot, int64_t chat, int64_t msg, int direct)
{
	struct job j = { 0 };

	snprintf(j.id, sizeof j.id, "%s:%lld:%lld:%lld", direct ? "reply" : "hreply",
		 (long long)chat, (long long)msg, (long long)bot);
	j.kind = JOB_REPLY;
	j.prio = direct ? PRIO_HIGH : PRIO_NORMAL;
	j.bot_id = bot;
	j.chat_id = chat;
	j.payload = json_pack("{s:I, s:b}", "reply_to_message_id", (json_int_t)msg, "human", 1);
	if (!j.payload || queue_enqueue(u->queue, &j, 0, on_reply_queued, u) < 0)
		log_warn("could not queue a reply to a human (redis down?)");
	job_clear(&j);
}

/* A stable draw in [0, 1) for a message, so every poller decides alike. */
static double draw_for(int64_t chat, int64_t msg)
{
	uint64_t s = (uint64_t)chat * 0x9E3779B97F4A7C15ULL ^ (uint64_t)msg * 0xC2B2AE3D27D4EB4FULL;

	return backoff_uniform(&s);
}

static void decide_replies(struct poller *p, json_t *msg, json_t *members)
{
	struct updates *u = p->u;
	int64_t chat = json_integer_value(json_object_get(json_object_get(msg, "chat"), "id"));
	int64_t id = json_integer_value(json_object_get(msg, "message_id"));
	const char *text = json_string_value(json_object_get(msg, "text"));
	json_t *rt = json_object_get(msg, "reply_to_message");
	json_t *rfrom = json_object_get(rt, "from");
	int64_t replied_tg = json_is_true(json_object_get(rfrom, "is_bot"))
				     ? json_integer_value(json_object_get(rfrom, "id"))
				     : 0;
	size_t i, n = json_array_size(members);
	json_t *m;
	int direct = 0;

	json_array_foreach(members, i, m) {
		int64_t bot = json_integer_value(json_array_get(m, 0));
		const char *user = json_string_value(json_array_get(m, 1));
		const char *hint = json_string_value(json_array_get(m, 2));

		if ((user && text && pick_mentions_user(text, user)) ||
		    (replied_tg && hint && strtoll(hint, NULL, 10) == replied_tg)) {
			queue_reply(u, bot, chat, id, 1);
			direct = 1;
		}
	}
	if (direct || n == 0)
		return;
	/* No one was addressed: maybe someone answers anyway. */
	if (draw_for(chat, id) < market_settings(u->market)->human_reply_probability) {
		size_t pick = (size_t)(draw_for(id, chat) * (double)n);
		queue_reply(u, json_integer_value(json_array_get(json_array_get(members, pick), 0)),
			    chat, id, 0);
	}
}

/* ---- one update ---- */

static void on_members(PGresult *res, const char *err, void *arg)
{
	struct poller *p = arg;
	json_t *upd = json_array_get(p->batch, p->next);
	json_t *msg = json_object_get(upd, "message");
	json_t *members = json_array();

	if (chain_ends(p)) {
		json_decref(members);
		return;
	}
	if (!res) {
		json_decref(members);
		log_warn("chat members not read: %s", err ? err : "?");
		retry_later(p, -1); /* the offset did not move: the update comes again */
		return;
	}
	for (int i = 0; i < PQntuples(res); i++)
		json_array_append_new(members,
				      json_pack("[I, s, s]",
						(json_int_t)strtoll(PQgetvalue(res, i, 0), NULL, 10),
						PQgetvalue(res, i, 1), PQgetvalue(res, i, 2)));
	decide_replies(p, msg, members);
	json_decref(members);
	p->next++;
	process_next(p);
}

static void on_stored(PGresult *res, const char *err, void *arg)
{
	static const char sql[] =
		"SELECT b.id, coalesce(b.username, ''), b.token_hint FROM chat_bots cb "
		"JOIN bots b ON b.id = cb.bot_id WHERE cb.chat_id = $1 AND cb.status = 'member' "
		"AND b.enabled ORDER BY b.id";
	struct poller *p = arg;
	struct updates *u = p->u;
	json_t *msg = json_object_get(json_array_get(p->batch, p->next), "message");
	int64_t chat = json_integer_value(json_object_get(json_object_get(msg, "chat"), "id"));
	int64_t id = json_integer_value(json_object_get(msg, "message_id"));
	char chat_s[24], member[48];
	const char *prm[1] = { chat_s };

	if (chain_ends(p))
		return;
	if (!res) {
		log_warn("human message not stored: %s", err ? err : "?");
		retry_later(p, -1);
		return;
	}
	if (PQntuples(res) > 0) {
		/* We stored it: it counts once in the chat's minute and history. */
		shm_count(u->slot, SHM_C_HUMAN_STORED, 1);
		snprintf(member, sizeof member, "h:%lld", (long long)id);
		market_chat_stamp(u->market, chat, member);
		chats_written(u->chats, chat, 1);
	}
	snprintf(chat_s, sizeof chat_s, "%lld", (long long)chat);
	if (pgc_query(pgpool_pick(u->pg), sql, 1, prm, on_members, p) < 0)
		retry_later(p, -1);
}

static void store(struct poller *p, json_t *msg)
{
	/* Known chats only: a bot added to a group the operator never registered
	 * does not make piyasa talk there. */
	static const char sql[] =
		"INSERT INTO messages (chat_id, bot_id, status, telegram_message_id, "
		"reply_to_message_id, text, metadata, created_at) "
		"SELECT $1, NULL, 'received', $2, NULLIF($3, '0')::bigint, $4, $5::jsonb, "
		"to_timestamp($6::double precision) WHERE EXISTS (SELECT 1 FROM chats WHERE id = $1) "
		"ON CONFLICT (chat_id, telegram_message_id) WHERE telegram_message_id IS NOT NULL "
		"DO NOTHING RETURNING id";
	json_t *from = json_object_get(msg, "from");
	json_t *rt = json_object_get(msg, "reply_to_message");
	char chat[24], id[24], reply[24], date[24], *meta;
	const char *text = json_string_value(json_object_get(msg, "text"));
	const char *prm[6] = { chat, id, reply, text, NULL, date };
	json_t *mj =
		json_pack("{s:I, s:s, s:s, s:I}", "from_user_id",
			  (json_int_t)json_integer_value(json_object_get(from, "id")), "username",
			  json_string_value(json_object_get(from, "username")) ?: "", "first_name",
			  json_string_value(json_object_get(from, "first_name")) ?: "", "update_id",
			  (json_int_t)json_integer_value(
				  json_object_get(json_array_get(p->batch, p->next), "update_id")));

	snprintf(chat, sizeof chat, "%lld",
		 (long long)json_integer_value(json_object_get(json_object_get(msg, "chat"), "id")));
	snprintf(id, sizeof id, "%lld",
		 (long long)json_integer_value(json_object_get(msg, "message_id")));
	snprintf(reply, sizeof reply, "%lld",
		 (long long)json_integer_value(json_object_get(rt, "message_id")));
	snprintf(date, sizeof date, "%lld",
		 (long long)json_integer_value(json_object_get(msg, "date")));
	meta = mj ? json_dumps(mj, JSON_COMPACT) : NULL;
	json_decref(mj);
	prm[4] = meta ? meta : "{}";
	if (pgc_query(pgpool_pick(p->u->pg), sql, 6, prm, on_stored, p) < 0)
		retry_later(p, -1);
	free(meta);
}

static void on_offset_saved(redisReply *r, const char *err, void *arg)
{
	struct poller *p = arg;

	if (chain_ends(p))
		return;
	if (!r || r->type == REDIS_REPLY_ERROR) {
		/* Not saved: the batch may come again, and is harmless then. */
		log_warn("update offset not saved: %s", err ? err : r->str);
	}
	json_decref(p->batch);
	p->batch = NULL;
	turn_done(p);
}

static void process_next(struct poller *p)
{
	json_t *upd, *msg, *from;

	for (; p->next < json_array_size(p->batch); p->next++) {
		upd = json_array_get(p->batch, p->next);
		msg = json_object_get(upd, "message");
		from = json_object_get(msg, "from");
		/* Humans' text messages in groups; bots never see other bots anyway. */
		if (json_is_string(json_object_get(msg, "text")) &&
		    json_is_integer(json_object_get(json_object_get(msg, "chat"), "id")) &&
		    json_is_integer(json_object_get(msg, "message_id")) &&
		    !json_is_true(json_object_get(from, "is_bot"))) {
			store(p, msg);
			return;
		}
	}
	if (json_array_size(p->batch) == 0) {
		/* An empty poll moved no offset: nothing to save (most turns). */
		json_decref(p->batch);
		p->batch = NULL;
		turn_done(p);
		return;
	}
	{
		char key[160], off[24];
		const char *av[] = { "SET", key, off };

		offset_key(p->u, p->bot_id, key, sizeof key);
		snprintf(off, sizeof off, "%lld", (long long)p->offset);
		if (ra_cmd(p->u->redis, on_offset_saved, p, 0, 3, av) < 0)
			retry_later(p, -1);
	}
}

/* ---- the poll ---- */

static int poll_limit(const struct poller *p)
{
	return POLL_LIMIT >> p->limit_shift > 0 ? POLL_LIMIT >> p->limit_shift : 1;
}

/* A poll that failed: counted, said when it keeps failing (the bot hears
 * nothing meanwhile), tried again after ms (-1: the backoff). */
static void poll_failed(struct poller *p, const char *why, int64_t ms)
{
	struct log_ctx c = { p->bot_id, 0, NULL, NULL };
	int n = p->failures < INT_MAX ? p->failures + 1 : INT_MAX;

	shm_count(p->u->slot, SHM_C_POLL_FAILURES, 1);
	if (n == LOUD_AFTER || n % LOUD_EVERY == 0)
		log_msg(LOG_WARNING, &c,
			"getUpdates failed %d times in a row, the bot hears "
			"nothing: %s",
			n, why);
	retry_later(p, ms);
}

static void on_too_large(struct poller *p)
{
	char why[96];

	snprintf(why, sizeof why, "an answer over %u MiB (limit %d)", POLL_BODY_MAX >> 20,
		 poll_limit(p));
	if (p->limit_shift < POLL_LIMIT_SHIFT_MAX)
		p->limit_shift++;
	poll_failed(p, why, 0); /* at once: the smaller batch is likely to fit */
}

static void on_poll_status(struct poller *p, const struct httpc_resp *r)
{
	char why[48];

	snprintf(why, sizeof why, "HTTP %d", r->status);
	/* 409: another poller holds this token (a resize hands it over);
	 * 401/404: the token is wrong: say so now and then, keep trying. */
	if (r->status == 401 || r->status == 404)
		log_warn("getUpdates for bot %lld: HTTP %d", (long long)p->bot_id, r->status);
	if (r->status == 409 || r->status == 401 || r->status == 404 || r->status == 429)
		poll_failed(p, why,
			    r->status == 429 && r->retry_after_s > 0
				    ? backoff_retry_after_ms(r->retry_after_s)
			    : r->status == 409 ? 5000
					       : 60000);
	else
		poll_failed(p, why, -1);
}

/* A good answer: the limit grows back once a batch did not fill it (the
 * backlog is read), and a bot that was failing says it hears again. */
static void poll_worked(struct poller *p, size_t n)
{
	struct log_ctx c = { p->bot_id, 0, NULL, NULL };

	if (n < (size_t)poll_limit(p))
		p->limit_shift = 0;
	if (p->failures >= LOUD_AFTER)
		log_msg(LOG_NOTICE, &c, "getUpdates works again after %d failed turns", p->failures);
	p->failures = 0;
}

static void on_polled(const struct httpc_resp *r, void *arg)
{
	struct poller *p = arg;
	json_t *root, *res;

	if (chain_ends(p))
		return;
	if (r->err_kind != HTTPC_OK && r->too_large) {
		on_too_large(p);
		return;
	}
	if (r->err_kind != HTTPC_OK) {
		poll_failed(p, r->err, -1);
		return;
	}
	if (r->status != 200) {
		on_poll_status(p, r);
		return;
	}
	root = json_loadb(r->body, r->body_len, 0, NULL);
	res = json_object_get(root, "result");
	if (!json_is_true(json_object_get(root, "ok")) || !json_is_array(res)) {
		json_decref(root);
		poll_failed(p, "an answer without ok and a result array", -1);
		return;
	}
	poll_worked(p, json_array_size(res));
	p->offset = updates_next_offset(p->offset, res);
	shm_count(p->u->slot, SHM_C_UPDATES, json_array_size(res));
	p->batch = json_incref(res);
	p->next = 0;
	json_decref(root);
	process_next(p);
}

int64_t updates_next_offset(int64_t offset, const json_t *result)
{
	size_t i;
	json_t *u;

	json_array_foreach(result, i, u) {
		json_t *id = json_object_get(u, "update_id");
		json_int_t uid = json_integer_value(id);

		if (!json_is_integer(id) || uid < offset)
			continue;
		offset = uid == INT64_MAX ? INT64_MAX : uid + 1;
	}
	return offset;
}

/* Long while every bot can hold a turn, short when they take turns. */
static int poll_timeout_s(const struct updates *u)
{
	return imap_count(u->pollers) > (size_t)u->cfg->max_pollers ? TURN_POLL_S : LONG_POLL_S;
}

static void poll_now(struct poller *p)
{
	const struct cfg *cfg = p->u->cfg;
	char url[TOK_MAX + 600];
	struct httpc_req req = { 0 };
	int timeout = poll_timeout_s(p->u);

	if (!p->token) {
		/* Lost at a reload: idle until one brings a token that decrypts. */
		p->busy = 0;
		turn_end(p);
		return;
	}
	snprintf(url, sizeof url,
		 "%.300s/bot%s/getUpdates?offset=%lld&limit=%d&timeout=%d"
		 "&allowed_updates=%%5B%%22message%%22%%5D",
		 cfg->telegram_api_url, p->token, (long long)p->offset, poll_limit(p), timeout);
	req.method = "GET";
	req.url = url;
	req.max_body = POLL_BODY_MAX;
	req.timeout_ms = (timeout + 10) * 1000L;
	req.connect_timeout_ms = 3000;
	if (httpc_request(p->u->http, &req, on_polled, p) < 0)
		retry_later(p, -1);
	sodium_memzero(url, sizeof url);
}

static void on_offset_read(redisReply *r, const char *err, void *arg)
{
	struct poller *p = arg;

	if (chain_ends(p))
		return;
	if (!r || r->type == REDIS_REPLY_ERROR) {
		(void)err;
		retry_later(p, -1);
		return;
	}
	p->offset = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
	poll_now(p);
}

static void turn_start(struct poller *p)
{
	char key[160];
	const char *av[] = { "GET", key };

	if (p->offset >= 0) {
		poll_now(p);
		return;
	}
	offset_key(p->u, p->bot_id, key, sizeof key);
	if (ra_cmd(p->u->redis, on_offset_read, p, 0, 2, av) < 0)
		retry_later(p, -1);
}

/* ---- which bots are ours ---- */

/* The token from the row, kept for the polls; a token that does not decrypt
 * stops the bot's turns until a reload brings one that does. */
static void set_token(struct poller *p, const char *escaped)
{
	size_t len;
	unsigned char *enc = PQunescapeBytea((const unsigned char *)escaped, &len);
	char tok[TOK_MAX];

	if (enc && tok_decrypt(p->u->token_key, enc, len, tok, sizeof tok) == 0) {
		if (!p->token || strcmp(p->token, tok)) {
			token_drop(p);
			p->token = strdup(tok); /* NULL: no memory, no polls until a reload */
		}
		p->token_bad = 0;
	} else {
		token_drop(p);
		if (!p->token_bad) {
			struct log_ctx ctx = { .bot_id = p->bot_id };
			log_msg(LOG_ERR, &ctx,
				"cannot decrypt the token of bot %lld (wrong token key?)",
				(long long)p->bot_id);
		}
		p->token_bad = 1;
	}
	sodium_memzero(tok, sizeof tok);
	PQfreemem(enc);
}

/* Bots no longer ours stop after their current step, whose turn is handed
 * back now (so a gone poller never needs u again); one waiting in the line or
 * for a token has no step under way and goes now. No dispatch here: the line
 * may still hold other bots about to be let go. */
static void let_go(int64_t id, void *val, void *arg)
{
	struct updates *u = arg;
	struct poller *p = val;

	(void)id;
	if (p->queued)
		line_remove(u, p);
	if (!p->busy) {
		poller_free(p);
		return;
	}
	p->gone = 1;
	if (p->turn) {
		p->turn = 0;
		u->turns--;
	}
}

static struct poller *poller_for(struct updates *u, struct imap *old, int64_t id)
{
	struct poller *p = imap_del(old, id);

	if (p || !(p = calloc(1, sizeof *p)))
		return p;
	p->u = u;
	p->bot_id = id;
	p->offset = -1;
	return p;
}

static void on_bots(PGresult *res, const char *err, void *arg)
{
	struct updates *u = arg;
	struct imap *old = u->pollers, *now;
	struct poller *p;

	u->loading = 0;
	if (!res || u->closing) {
		if (!res)
			log_warn("pollers: bots not read: %s", err ? err : "?");
		return;
	}
	if (!(now = imap_new()))
		return;
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);

		if (!(p = poller_for(u, old, id)))
			continue;
		set_token(p, PQgetvalue(res, i, 1));
		if (imap_put(now, id, p) < 0)
			let_go(id, p, u);
	}
	/* The new set first: turns handed out below count it. */
	u->pollers = now;
	imap_each(old, let_go, u);
	imap_free(old);
	for (int i = 0; i < PQntuples(res); i++) {
		p = imap_get(now, strtoll(PQgetvalue(res, i, 0), NULL, 10));
		if (p && !p->busy && !p->queued && p->token)
			line_join(p);
	}
	dispatch(u); /* turns handed back above */
}

static void load_bots(struct updates *u)
{
	/* Only bots in at least one enabled chat have anything to hear. */
	static const char sql[] =
		"SELECT b.id, b.token_enc FROM bots b WHERE b.enabled AND b.id % $1 = $2 "
		"AND EXISTS (SELECT 1 FROM chat_bots cb JOIN chats c ON c.id = cb.chat_id "
		"AND c.enabled WHERE cb.bot_id = b.id AND cb.status = 'member') ORDER BY b.id";
	char n[16], idx[16];
	const char *prm[2] = { n, idx };

	if (u->loading || u->closing)
		return;
	snprintf(n, sizeof n, "%d", u->count);
	snprintf(idx, sizeof idx, "%d", u->index);
	if (pgc_query(pgpool_pick(u->pg), sql, 2, prm, on_bots, u) == 0)
		u->loading = 1;
}

static void on_reload(uv_timer_t *t)
{
	load_bots(t->data);
}

struct updates *updates_new(const struct updates_deps *d)
{
	struct updates *u = calloc(1, sizeof *u);
	char err[256];

	if (!u)
		return NULL;
	u->loop = d->loop;
	u->cfg = d->cfg;
	u->slot = d->slot;
	u->pg = d->pg;
	u->redis = d->redis;
	u->queue = d->queue;
	u->market = d->market;
	u->chats = d->chats;
	u->token_key = d->token_key;
	u->index = d->index;
	u->count = d->count;
	u->rng = d->seed;
	if (!(u->pollers = imap_new()) || !(u->http = httpc_new(d->loop, err, sizeof err))) {
		imap_free(u->pollers);
		free(u);
		return NULL;
	}
	/* max_pollers bounds the connections: polls never wait inside curl. */
	httpc_set_max_host_connections(u->http, 0);
	/* ... and keeps them all: with the default 64 kept, every poll that ended
	 * closed its connection and the next opened one (a TLS handshake per poll
	 * against Telegram). */
	httpc_set_max_connections(u->http, d->cfg->max_pollers);
	/* Hundreds of polls wait at once, and most answer an empty list. */
	httpc_set_buffer_size(u->http, 1024);
	uv_timer_init(d->loop, &u->reload);
	u->reload.data = u;
	return u;
}

void updates_start(struct updates *u)
{
	load_bots(u);
	uv_timer_start(&u->reload, on_reload, RELOAD_MS, RELOAD_MS);
}

void updates_reload(struct updates *u)
{
	httpc_set_max_connections(u->http, u->cfg->max_pollers);
	load_bots(u);
}

size_t updates_count(const struct updates *u)
{
	return imap_count(u->pollers);
}

static void free_idle(int64_t id, void *val, void *arg)
{
	struct poller *p = val;

	(void)id;
	(void)arg;
	/* A busy chain frees itself when its callback sees gone, without
	 * touching u (its turn is forgotten here). */
	p->turn = 0;
	if (p->busy)
		p->gone = 1;
	else
		poller_free(p);
}

static void on_reload_closed(uv_handle_t *h)
{
	free(h->data);
}

/* Stop polling: pending polls are aborted (their callbacks end the chains). */
void updates_free(struct updates *u)
{
	if (!u)
		return;
	u->closing = 1;
	u->head = u->tail = NULL; /* the line's pollers are in the map: freed below */
	imap_each(u->pollers, free_idle, NULL);
	imap_free(u->pollers);
	u->pollers = NULL;
	httpc_free(u->http);
	uv_close((uv_handle_t *)&u->reload, on_reload_closed);
}
