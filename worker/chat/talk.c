/* talk: see talk.h. The steps, each a callback:
 *
 *   start -> chat context -> own recent messages (the worker's cache, else
 *   PostgreSQL) -> decide (reply target, topic, news, length, reaction)
 *   -> bot's hourly cap -> chat's minute cap (a check)
 *   -> LLM draft -> clean -> exact dedup -> semantic dedup (embeddings) ->
 *   consistency guard -> humanise -> typing -> chat's minute cap (reserved)
 *   -> task_send
 *
 * A refused draft is paraphrased (or drawn again) up to dedup_max_attempts
 * times, then the message is skipped and counted. Scheduled chatter that meets
 * a cap is skipped (the scheduler draws the bot's next turn anyway); a reply to
 * a human waits for the cap instead, so every human who asks gets an answer. */
#include "worker/chat/talk.h"

#include "common/backoff.h"
#include "common/cfg.h"
#include "common/log.h"
#include "common/net/httpc.h"
#include "common/net/pgc.h"
#include "worker/calls/brk.h"
#include "worker/calls/embb.h"
#include "worker/calls/tgw.h"
#include "worker/chat/bots.h"
#include "worker/chat/chats.h"
#include "worker/chat/compose.h"
#include "worker/chat/market.h"
#include "worker/chat/news.h"
#include "worker/chat/ownlog.h"
#include "worker/chat/pick.h"
#include "worker/chat/text/dedup.h"
#include "worker/chat/text/humanise.h"
#include "worker/chat/text/textcheck.h"
#include "worker/chat/tz.h"
#include "worker/jobs/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OWN_MAX OWNLOG_MAX

/* The module: what every speak and reply job of the worker uses. */
struct talk {
	struct talk_deps d;
	/* The drafts' embeddings of a loop turn go in one request (embb.h). */
	struct embb *emb;
	unsigned long emb_requests; /* embb's requests already counted in the metrics */
	/* A breaker per provider for its embeddings (made on first use), so a
	 * failing /embeddings is left alone and the next provider's is asked. */
	struct brk *emb_brk[CFG_MAX_PROVIDERS];
	/* Each bot's own recent sent messages, worker-wide: jobs are routed to
	 * the worker that owns the bot and every send of the bot goes through
	 * on_sent here, so after one load the list is kept without reading
	 * PostgreSQL. */
	struct ownlog *own;
	int own_mb;
};

/* One job's state (task_data). */
struct talk_job {
	struct talk *tk;
	struct task *t;
	json_t *persona, *emotion, *stances, *holdings, *memories, *speed;
	char username[64];
	struct chatctx *chat;
	/* the bot's own sent messages, newest first: a snapshot (ownlog.h) */
	struct ownlog_hist *own;
	int target;       /* index in chat->msgs, -1: opening a topic */
	int64_t reply_to; /* Telegram id answered */
	int answering_human;
	int scheduled;
	int mention;
	int refresh;
	enum pick_length length;
	struct pick_probs pp; /* the settings' probabilities, taken once */
	char topic[64];
	const char *focus; /* into k->persona's watchlist, or NULL */
	char news[512];
	int minute;
	int attempts; /* drafts refused so far */
	int loading;  /* the chat and the own messages, loading side by side */
	int load_failed;
	char unusable[96];       /* why the chat cannot be spoken in, once both loaded */
	int bot_held, chat_held; /* cap slots this message holds */
	int8_t *vec;             /* the draft's embedding (dedup_quantize), kept with */
	size_t dim;              /* the message in the ownlog once it is sent */
	int typing_left_ms;
	char *draft;
	int emb_provider; /* the provider asked for the draft's embedding */
	uint64_t emb_gen; /* its breaker's generation */
	uint64_t emb_t0;  /* when it was asked (uv_now) */
	int reused;       /* the draft is an earlier attempt's, kept with the job */
	int64_t bot_us;   /* the version (updated_at) of the bot row this attempt read */
	int reread;       /* the chat's context was read again for the target */
};

static void decide(struct talk_job *k);
static void loaded(struct talk_job *k);
static void load_own(struct talk_job *k);
static void ask(struct talk_job *k);
static void check_draft(struct task *t, char *text);
static void semantic(struct talk_job *k);
static void embed_from(struct talk_job *k, int from);
static void guard(struct talk_job *k);
static void checked(struct talk_job *k);
static void finalize(struct talk_job *k);
static void reserve_chat(struct talk_job *k);
static void reserve_bot(void *task);

static const struct settings *S(const struct talk_job *k)
{
	return market_settings(k->tk->d.market);
}

/* How far back the own messages are loaded: the recall of past messages looks
 * back a week even when dedup looks less. */
static int64_t own_window_ms(const struct talk_job *k)
{
	double window = S(k)->dedup_window_hours * 3600.0;

	if (window < 7 * 86400.0)
		window = 7 * 86400.0;
	return (int64_t)(window * 1000.0);
}

/* The bot's own messages sent after since (a cached snapshot may hold older
 * ones than a fresh SELECT would: the readers filter by time). */
static size_t own_since(const struct talk_job *k, int64_t since, size_t *idx)
{
	size_t n = 0;

	for (size_t i = 0; i < ownlog_len(k->own); i++) {
		if (ownlog_at(k->own, i)->at_ms <= since)
			continue;
		if (idx)
			idx[n] = i;
		n++;
	}
	return n;
}

/* The bot's own messages inside dedup_window_hours. Their indexes go to idx;
 * returns how many. */
static size_t in_dedup_window(const struct talk_job *k, size_t *idx)
{
	return own_since(k, job_now_ms() - (int64_t)(S(k)->dedup_window_hours * 3600000.0), idx);
}

/* The own messages' cache, made on first use and resized after a reload. */
static struct ownlog *own_log(struct talk *tk)
{
	int mb = tk->d.cfg->own_cache_mb;

	if (!tk->own) {
		tk->own = ownlog_new((size_t)mb << 20, OWNLOG_TTL_MS_DEFAULT);
		tk->own_mb = mb;
	} else if (tk->own_mb != mb) { /* a reload changed it */
		ownlog_set_max_bytes(tk->own, (size_t)mb << 20);
		tk->own_mb = mb;
	}
	return tk->own;
}

/* ---- endings ---- */

static void skip(struct talk_job *k, enum shm_counter c, const char *why)
{
	struct log_ctx ctx = task_log_ctx(k->t);

	if ((int)c >= 0)
		shm_count(task_slot(k->t), c, 1);
	log_msg(LOG_INFO, &ctx, "message skipped: %s", why);
	task_finish(k->t, SHM_OUT_SKIPPED);
}

/* A cap is full: chatter gives its turn up; a reply to a human waits, in
 * memory while the wait is short (no attempt is spent: a busy chat must not
 * dead-letter the answer a human asked for), in the queue otherwise. */
static void capped(struct talk_job *k, enum shm_counter c, int64_t wait_ms, const char *why,
		   void (*resume)(void *task))
{
	if (k->scheduled) {
		skip(k, c, why);
		return;
	}
	shm_count(task_slot(k->t), c, 1);
	/* A little spread, so waiting replies do not all wake on the same slot. */
	wait_ms += 20 + backoff_uniform_upto(wait_ms / 4 + 50, task_rng(k->t));
	if (wait_ms <= TASK_HOLD_MAX_MS)
		task_after(k->t, (uint64_t)wait_ms, resume);
	else
		task_retry(k->t, wait_ms);
}

/* ---- context ---- */

static void on_own(PGresult *res, const char *err, void *arg)
{
	struct task *t = arg;
	struct talk_job *k = task_data(t);
	struct ownlog_msg rows[OWN_MAX];
	struct ownlog *ol = own_log(k->tk);
	int n;

	(void)err;
	if (!res || !ol) {
		k->load_failed = 1;
		loaded(k);
		return;
	}
	n = PQntuples(res);
	if (n > OWN_MAX)
		n = OWN_MAX;
	for (int i = 0; i < n; i++) {
		rows[i] = (struct ownlog_msg){ 0 }; /* no vector: the database keeps none */
		rows[i].text = PQgetvalue(res, i, 0);
		rows[i].topic = PQgetvalue(res, i, 1);
		rows[i].at_ms = strtoll(PQgetvalue(res, i, 2), NULL, 10);
		rows[i].job_id = PQgetvalue(res, i, 3);
		rows[i].hash = dedup_hash(rows[i].text);
	}
	if (!(k->own = ownlog_put(ol, task_job(t)->bot_id, job_now_ms(), own_window_ms(k), rows,
				  (size_t)n)))
		k->load_failed = 1;
	loaded(k);
}

static void load_own(struct talk_job *k)
{
	/* The last 100 of the window; the job id merges the sends not visible yet. */
	static const char sql[] =
		"SELECT text, coalesce(metadata->>'topic', ''), "
		"(extract(epoch FROM sent_at) * 1000)::bigint, coalesce(job_id, '') FROM messages "
		"WHERE bot_id = $1 AND status = 'sent' "
		"AND sent_at > now() - make_interval(secs => $2::double precision) "
		"ORDER BY sent_at DESC LIMIT 100";
	int64_t window = own_window_ms(k);
	char bot[24], secs[32];
	const char *p[2] = { bot, secs };

	if (own_log(k->tk) &&
	    (k->own = ownlog_get(k->tk->own, task_job(k->t)->bot_id, job_now_ms(), window))) {
		shm_count(task_slot(k->t), SHM_C_OWN_HITS, 1);
		loaded(k);
		return;
	}
	shm_count(task_slot(k->t), SHM_C_OWN_MISSES, 1);
	snprintf(bot, sizeof bot, "%lld", (long long)task_job(k->t)->bot_id);
	snprintf(secs, sizeof secs, "%.3f", (double)window / 1000.0);
	/* Not task_query: a query that cannot start must wait for the chat's load
	 * before the task may go. */
	if (pgc_query(task_pg(k->t), sql, 2, p, on_own, k->t) < 0) {
		k->load_failed = 1;
		loaded(k);
	}
}

/* The chat's context and the bot's own messages load side by side (on a cold
 * cache, two round trips at once instead of one after the other); the last to
 * come moves on. Nothing ends the task while one is still out. */
static void loaded(struct talk_job *k)
{
	if (--k->loading > 0)
		return;
	if (k->load_failed)
		task_retry(k->t, -1);
	else if (*k->unusable)
		skip(k, -1, k->unusable);
	else
		decide(k);
}

static void on_chat(const void *val, const char *err, void *arg)
{
	const struct chatctx *c = val;
	struct task *t = arg;
	struct talk_job *k = task_data(t);

	(void)err;
	if (!c)
		k->load_failed = 1;
	else if (!c->exists || !c->enabled)
		snprintf(k->unusable, sizeof k->unusable, "chat %lld %s",
			 (long long)task_job(t)->chat_id,
			 c->exists ? "is disabled" : "does not exist");
	else
		k->chat = chatctx_ref(c);
	loaded(k);
}

static json_t *ref_or(json_t *v, json_t *(*make)(void))
{
	return v ? json_incref(v) : make();
}

/* The bot is loaded: its persona and the rest, copied for the job. */
static void on_bot(const void *val, const char *err, void *arg)
{
	const struct bot *b = val;
	struct task *t = arg;
	struct talk_job *k = task_data(t);
	char why[96];

	switch (bots_check(b, err, task_job(t)->bot_id, why, sizeof why)) {
	case 1: task_retry(t, -1); return;
	case -1: task_dead(t, why); return;
	}
	task_set_bot(t, b->name, b->token);
	k->persona = ref_or(b->persona, json_object);
	k->emotion = ref_or(b->emotion, json_object);
	k->stances = ref_or(b->stances, json_array);
	k->holdings = ref_or(b->holdings, json_array);
	k->memories = ref_or(b->memories, json_array);
	k->speed = ref_or(b->speed, json_object);
	snprintf(k->username, sizeof k->username, "%s", b->username);
	k->bot_us = b->updated_us;
	k->scheduled = json_is_true(json_object_get(task_job(t)->payload, "scheduled"));
	if (k->scheduled && !S(k)->simulation_active) {
		skip(k, -1, "the simulation is off");
		return;
	}
	k->loading = 2;
	chats_get(k->tk->d.chats, task_job(t)->chat_id, on_chat, t);
	load_own(k);
}

static void on_start(struct task *t, void *arg)
{
	struct talk_job *k = calloc(1, sizeof *k);

	if (!k) {
		task_retry(t, -1);
		return;
	}
	k->tk = arg;
	k->t = t;
	k->target = -1;
	task_set_data(t, k);
	bots_get(k->tk->d.bots, task_job(t)->bot_id, on_bot, t);
}

/* ---- decisions ---- */

static int find_tg(const struct chatctx *c, int64_t tg)
{
	for (size_t i = c->nmsgs; tg && i-- > 0;)
		if (c->msgs[i].tg_id == tg)
			return (int)i;
	return -1;
}

static enum compose_length length_of(enum pick_length l)
{
	return l == PICK_SHORT ? COMPOSE_SHORT : l == PICK_MEDIUM ? COMPOSE_MEDIUM : COMPOSE_LONG;
}

static void on_chat_room(int64_t wait_ms, void *arg);

/* 1 when m was written by bot b or answers one of b's messages in the chat. */
static int answers_bot(const struct chatctx *c, const struct convo_msg *m, int64_t b)
{
	if (!m->reply_to_tg)
		return 0;
	for (size_t i = 0; i < c->nmsgs; i++)
		if (c->msgs[i].tg_id == m->reply_to_tg)
			return c->msgs[i].bot_id == b;
	return 0;
}

/* 1 when chatter may answer human message m too: with human_reply_probability,
 * and only while fewer than human_max_other_replies bots answered it besides
 * the one it addressed (a mention, a reply to a bot: that bot has its own reply
 * job). One human, one answer, and now and then a voice or two more. */
static int joins_human(struct talk_job *k, const struct chatctx *c, const struct convo_msg *m)
{
	const struct settings *s = S(k);
	int answers = 0, addressed = (m->text && strchr(m->text, '@')) || m->reply_to_tg;

	for (size_t i = 0; m->tg_id && i < c->nmsgs; i++)
		answers += c->msgs[i].bot_id != 0 && c->msgs[i].reply_to_tg == m->tg_id;
	if (answers - (addressed && answers > 0) >= s->human_max_other_replies)
		return 0;
	return backoff_uniform(task_rng(k->t)) < s->human_reply_probability;
}

/* A reply target for chatter, among the messages it may answer: not one a
 * human addressed to this bot (the poller queued a reply job for exactly that,
 * and a human gets one answer), not one this bot answered already. */
static int pick_open_target(struct talk_job *k, const struct pick_bot *pb, int64_t now)
{
	const struct chatctx *c = k->chat;
	size_t cap = c->nmsgs ? c->nmsgs : 1;
	/* The candidates, then what this bot answered: its few replies are looked
	 * through per message, not the whole chat. */
	struct convo_msg *cand = malloc(cap * (sizeof *cand + sizeof(int64_t)));
	int64_t self = task_job(k->t)->bot_id, *answered;
	size_t n = 0, na = 0;
	int i, r = -1;

	if (!cand)
		return -1;
	answered = (int64_t *)(cand + cap);
	for (size_t j = 0; j < c->nmsgs; j++)
		if (c->msgs[j].bot_id == self && c->msgs[j].reply_to_tg)
			answered[na++] = c->msgs[j].reply_to_tg;
	for (size_t j = 0; j < c->nmsgs; j++) {
		const struct convo_msg *m = &c->msgs[j];
		int done = 0;

		if (m->bot_id == 0 && ((*k->username && pick_mentions(m, k->username)) ||
				       answers_bot(c, m, self) || !joins_human(k, c, m)))
			continue;
		for (size_t q = 0; q < na && m->tg_id && !done; q++)
			done = answered[q] == m->tg_id;
		if (!done)
			cand[n++] = *m;
	}
	i = pick_target(cand, n, pb, now, task_rng(k->t));
	if (i >= 0)
		for (size_t j = 0; j < c->nmsgs && r < 0; j++)
			if (c->msgs[j].id == cand[i].id)
				r = (int)j;
	free(cand);
	return r;
}

/* 1 when the bot row this attempt read is not the one the kept draft d was
 * drafted from: an operator edited the persona (or stances, holdings,
 * memories) since. The draft records the row's version (bot_us), so the
 * comparison needs no clock and holds after a restart or a resize; a draft
 * kept before it recorded one is compared by its time. */
static int bot_changed(const struct talk_job *k, const json_t *d)
{
	json_t *v = json_object_get(d, "bot_us");

	if (json_is_integer(v))
		return json_integer_value(v) != k->bot_us;
	return json_integer_value(json_object_get(d, "at")) < k->bot_us / 1000;
}

/* An earlier attempt's checked draft, kept with the job (task_keep): sent as
 * it is, after the caps, unless the chat has moved on (draft_max_age_seconds,
 * draft_max_messages). A stale one is dropped and counted: scheduled chatter
 * gives its turn up; a job someone asked for (an answer to a human, an
 * operator's enqueue) is drafted again, as it still owes a message, and ends
 * in its outbox row like any other (GUARANTEES.md). A draft made before its
 * bot was last edited is stale too, and every job drafts again then: the
 * moment has not passed, only the persona changed, and the next message must
 * be the new persona's. */
static void reuse(struct talk_job *k)
{
	struct task *t = k->t;
	const struct settings *s = S(k);
	json_t *payload = task_job(t)->payload, *d = json_object_get(payload, "draft");
	const char *text = json_string_value(json_object_get(d, "text"));
	int64_t at = json_integer_value(json_object_get(d, "at")), now = job_now_ms();
	const char *topic = json_string_value(json_object_get(d, "topic"));
	const char *news = json_string_value(json_object_get(d, "news"));
	size_t after = 0;
	int again = !k->scheduled;
	char why[128];

	for (size_t i = 0; i < k->chat->nmsgs; i++)
		after += k->chat->msgs[i].at_ms > at;
	why[0] = '\0';
	if (!text || !*text)
		snprintf(why, sizeof why, "its kept draft is unreadable");
	else if (s->draft_max_age_s > 0 && (double)(now - at) > s->draft_max_age_s * 1000.0)
		snprintf(why, sizeof why, "its kept draft is %.0f s old (draft_max_age_seconds %g)",
			 (double)(now - at) / 1000.0, s->draft_max_age_s);
	else if ((int64_t)after > s->draft_max_messages)
		snprintf(why, sizeof why,
			 "%zu messages came after its kept draft (draft_max_messages %d)", after,
			 s->draft_max_messages);
	else if (bot_changed(k, d)) {
		snprintf(why, sizeof why, "its bot was edited after its kept draft");
		again = 1;
	}
	if (*why) {
		struct log_ctx c = task_log_ctx(t);
		shm_count(task_slot(t), SHM_C_DRAFTS_STALE, 1);
		json_object_del(payload, "draft");
		if (again) {
			log_msg(LOG_INFO, &c, "kept draft dropped, drafting again: %s", why);
			decide(k);
		} else
			skip(k, -1, why);
		return;
	}
	if (!(k->draft = strdup(text))) {
		task_retry(t, -1);
		return;
	}
	k->reply_to = json_integer_value(json_object_get(d, "reply_to"));
	k->target = find_tg(k->chat, k->reply_to);
	k->mention = json_is_true(json_object_get(d, "mention")) && k->target >= 0;
	k->answering_human = json_is_true(json_object_get(d, "human"));
	k->length = (enum pick_length)json_integer_value(json_object_get(d, "length"));
	snprintf(k->topic, sizeof k->topic, "%s", topic ? topic : "");
	snprintf(k->news, sizeof k->news, "%s", news ? news : "");
	k->reused = 1;
	shm_count(task_slot(t), SHM_C_DRAFTS_REUSED, 1);
	reserve_bot(t);
}

/* The first of the chat's topics a message speaks of (its words: a human's
 * message carries no topic of its own). 0 when it names none. */
static int topic_in(const struct chatctx *c, const struct convo_msg *m, char *out, size_t n)
{
	struct pick_topics ts;
	struct pick_msg_facts f;
	const struct pick_msg_facts *fp = m->facts;
	char *buf = NULL;

	if (!fp || !fp->topics) {
		pick_topics_init(&ts, c->topics);
		if (!(buf = malloc(pick_facts_size(m->text))))
			return 0;
		pick_msg_facts(&f, m, &ts, buf, pick_facts_size(m->text));
		fp = &f;
	}
	for (size_t i = 0; fp->topics && i < fp->topics->n; i++)
		if (fp->topic_bits & (1u << i)) {
			snprintf(out, n, "%s", fp->topics->names[i]);
			free(buf);
			return 1;
		}
	free(buf);
	return 0;
}

static void on_joined(int64_t refused, void *arg)
{
	struct task *t = arg;
	struct talk_job *k = task_data(t);

	if (refused < 0)
		task_retry(t, -1);
	else if (refused)
		skip(k, -1, "the human's message has its answers (human_max_other_replies)");
	else
		reserve_bot(t);
}

static void decide(struct talk_job *k)
{
	struct task *t = k->t;
	uint64_t *rng = task_rng(t);
	const struct settings *s = S(k);
	const struct chatctx *c = k->chat;
	const struct convo_msg *newest = c->nmsgs ? &c->msgs[c->nmsgs - 1] : NULL;
	json_t *rt = json_object_get(task_job(t)->payload, "reply_to_message_id");
	const char *ptopic = json_string_value(json_object_get(task_job(t)->payload, "topic"));
	struct pick_probs *pp = &k->pp;
	struct pick_bot pb;
	struct tz_local l;
	char err[128];
	int64_t now = job_now_ms();

	if (k->scheduled && newest && newest->bot_id == task_job(t)->bot_id) {
		skip(k, -1, "its own message is the newest");
		return;
	}
	if (json_is_object(json_object_get(task_job(t)->payload, "draft"))) {
		reuse(k);
		return;
	}
	*pp = pick_probs_default();
	pp->reply = s->reply_probability;
	pp->reply_to_bots = s->reply_to_bots_probability;
	pp->mention = s->mention_probability;
	pp->short_reaction = s->short_reaction_probability;
	pp->len_short = s->len_short;
	pp->len_medium = s->len_medium;
	pp->len_long = s->len_long;
	pick_probs_bias_length(pp, k->persona);
	pick_bot_from_json(&pb, task_job(t)->bot_id, task_bot_name(t), k->username, k->persona,
			   k->emotion, c->topics);
	if (json_is_integer(rt)) {
		/* A reply asked for (a human's mention, an operator's job). */
		k->reply_to = json_integer_value(rt);
		k->target = find_tg(c, k->reply_to);
		if (k->target < 0 && !k->reread) {
			/* The job can come before the notice of the human's message
			 * (the demo answered one on the chat's topic, not the
			 * question's): read the chat once more. */
			k->reread = 1;
			chatctx_unref(k->chat);
			k->chat = NULL;
			k->loading = 1;
			chats_forget(k->tk->d.chats, task_job(t)->chat_id);
			chats_get(k->tk->d.chats, task_job(t)->chat_id, on_chat, t);
			return;
		}
	} else if (pick_mode(pp, newest, rng) == PICK_REPLY) {
		k->target = pick_open_target(k, &pb, now);
		if (k->target >= 0)
			k->reply_to = c->msgs[k->target].tg_id;
	}
	if (k->target >= 0) {
		k->answering_human = c->msgs[k->target].bot_id == 0;
		k->mention = pick_mention(pp, rng);
	}
	if (ptopic)
		snprintf(k->topic, sizeof k->topic, "%s", ptopic);
	else if (k->target >= 0 && k->answering_human && c->msgs[k->target].topic)
		snprintf(k->topic, sizeof k->topic, "%s", c->msgs[k->target].topic);
	else if (k->target >= 0 && k->answering_human &&
		 topic_in(c, &c->msgs[k->target], k->topic, sizeof k->topic))
		; /* the human's own topic, not the chat's majority */
	else {
		/* A reply to a bot leans to its target's topic but may bring the
		 * talk to the persona's own (issue 16, item 4): bound to it, the
		 * crypto persona talked about bank shares. */
		const char *lean = k->target >= 0 ? c->msgs[k->target].topic : NULL;
		const char *tp = pick_topic_weighed(c->topics, k->stances,
						    json_object_get(k->persona, "watchlist"), lean,
						    c->msgs, c->nmsgs, now, rng);
		snprintf(k->topic, sizeof k->topic, "%s", tp ? tp : "");
	}
	/* Not the watchlist's for a human: the answer keeps to the human's own
	 * words, and names the symbol they asked about when they named one. */
	if (!k->answering_human)
		k->focus = pick_focus(json_object_get(k->persona, "watchlist"), k->topic, rng);
	else if (k->target >= 0 &&
		 pick_symbols(c->msgs[k->target].text, json_object_get(k->persona, "watchlist"),
			      &k->focus, 1) < 1)
		k->focus = NULL;
	if (k->target < 0 && k->tk->d.news && backoff_uniform(rng) < s->news_trigger_probability &&
	    news_headline(k->tk->d.news, k->topic, now, rng, k->news, sizeof k->news) < 0)
		k->news[0] = '\0';
	k->length = pick_length(pp, rng);
	k->minute = tz_local(c->time_zone, now, &l, err, sizeof err) == 0 ? l.minute_of_day : -1;
	/* Chatter joining a human's conversation takes one of its few places
	 * first (a reply job is the addressed bot's own answer). */
	if (k->answering_human && !json_is_integer(rt)) {
		if (market_human_join(k->tk->d.market, task_job(t)->chat_id, k->reply_to,
				      s->human_max_other_replies, on_joined, t) < 0)
			task_retry(t, -1);
		return;
	}
	reserve_bot(t);
}

static void check_chat(void *task)
{
	struct task *t = task;
	struct talk_job *k = task_data(t);

	/* Reserved before the draft, not only checked: jobs that all found room
	 * would each pay for a draft and then wait, and a backlog would pay for
	 * drafts the cap never lets out. */
	if (market_chat_cap(k->tk->d.market, MARKET_CAP_RESERVE, task_job(t)->chat_id, task_id(t),
			    on_chat_room, t) < 0)
		task_retry(t, -1);
}

static void reserve_bot(void *task)
{
	struct task *t = task;
	struct talk_job *k = task_data(t);
	int64_t wait;

	if ((wait = market_bot_reserve(k->tk->d.market, task_job(t)->bot_id, job_now_ms())) > 0) {
		capped(k, SHM_C_CAP_BOT, wait, "the bot's hourly cap", reserve_bot);
		return;
	}
	k->bot_held = 1;
	check_chat(t);
}

static void on_chat_room(int64_t wait_ms, void *arg)
{
	struct task *t = arg;
	struct talk_job *k = task_data(t);

	if (wait_ms < 0) {
		task_retry(t, -1);
		return;
	}
	if (wait_ms > 0) {
		capped(k, SHM_C_CAP_CHAT, wait_ms, "the chat's per-minute cap", check_chat);
		return;
	}
	k->chat_held = 1;
	if (k->reused) { /* written and checked by an earlier attempt */
		semantic(k);
		return;
	}
	k->refresh = market_refresh_due(k->tk->d.market, task_job(t)->bot_id, job_now_ms());
	/* An emoji-only reaction needs no words. */
	if (k->target >= 0 && pick_short_reaction(&k->pp, task_rng(t))) {
		shm_count(task_slot(t), SHM_C_REACTIONS, 1);
		k->draft =
			strdup(pick_reaction_emoji(k->chat->msgs[k->target].sentiment, task_rng(t)));
		k->mention = 0;
		if (!k->draft) {
			task_retry(t, -1);
			return;
		}
		k->attempts = -1; /* no checks for a reaction */
		finalize(k);
		return;
	}
	ask(k);
}

/* ---- the draft ---- */

static void on_bumped(PGresult *res, const char *err, void *arg)
{
	(void)arg;
	if (!res)
		log_warn("memory usage not recorded: %s", err ? err : "?");
}

static void bump_memories(struct talk_job *k)
{
	/* Rows a memorize job (fading, removing, capping the same bot's memories
	 * in one statement) holds are skipped, not waited for: a bump that never
	 * waits is never in a deadlock (40P01), and a bump lost once only lets a
	 * memory fade a little sooner. */
	static const char sql[] =
		"UPDATE bot_memories SET usage_count = usage_count + 1, last_used_at = now() "
		"WHERE id IN (SELECT id FROM bot_memories WHERE id = ANY($1::bigint[]) "
		"ORDER BY id FOR UPDATE SKIP LOCKED)";
	char ids[512];
	size_t off = 0, i;
	json_t *m;

	ids[off++] = '{';
	json_array_foreach(k->memories, i, m) {
		json_t *id = json_object_get(m, "id");
		if (json_is_integer(id) && off < sizeof ids - 24)
			off += (size_t)snprintf(ids + off, sizeof ids - off, "%s%lld",
						off > 1 ? "," : "", (long long)json_integer_value(id));
	}
	if (off == 1)
		return;
	snprintf(ids + off, sizeof ids - off, "}");
	{
		const char *p[1] = { ids };
		/* Fire and forget: a lost bump only makes a memory fade sooner. */
		if (pgc_query(task_pg(k->t), sql, 1, p, on_bumped, NULL) < 0)
			log_warn("memory usage not recorded: database unavailable");
	}
}

static void ask(struct talk_job *k)
{
	struct task *t = k->t;
	const char *past[COMPOSE_OWN_PAST];
	size_t npast = 0;
	int64_t now = job_now_ms();
	struct compose_in in = { 0 };
	struct compose_params cp;
	struct llmw_params par;

	/* past[] points into k->own, which stays as it is while the task holds it. */
	for (size_t i = 0; i < ownlog_len(k->own) && npast < COMPOSE_OWN_PAST; i++) {
		const struct ownlog_msg *m = ownlog_at(k->own, i);
		int64_t age = now - m->at_ms;
		if (age >= 2 * 3600 * 1000LL && age <= 7 * 86400 * 1000LL && *k->topic &&
		    strcmp(m->topic, k->topic) == 0)
			past[npast++] = m->text;
	}
	in.bot_name = task_bot_name(t);
	in.persona = k->persona;
	in.emotion = k->emotion;
	in.stances = k->stances;
	in.holdings = k->holdings;
	in.memories = k->memories;
	in.history = k->chat->msgs;
	in.nhistory = k->chat->nmsgs;
	in.target = k->target >= 0 ? &k->chat->msgs[k->target] : NULL;
	in.own_past = past;
	in.nown = npast;
	in.topic = *k->topic ? k->topic : NULL;
	in.news = *k->news ? k->news : NULL;
	in.focus = k->focus;
	in.mention = k->mention;
	in.length = length_of(k->length);
	in.minute_of_day = k->minute;
	in.persona_refresh = k->refresh;
	in.answering_human = k->answering_human;
	in.language = k->chat->language;
	compose_sampling(&in, task_rng(t), &cp);
	par.temperature = cp.temperature;
	par.top_p = cp.top_p;
	par.frequency_penalty = cp.frequency_penalty;
	par.presence_penalty = cp.presence_penalty;
	par.max_tokens = cp.max_tokens;
	if (k->attempts == 0)
		bump_memories(k);
	task_llm(t, TASK_LLM_DRAFT, compose_system(&in), compose_user(&in), &par, check_draft);
}

/* A refused draft: another try while attempts last. With a duplicate the model
 * is asked to say it differently; otherwise it simply drafts again. */
static void refuse(struct talk_job *k, enum shm_counter c, const char *why, int paraphrase)
{
	struct task *t = k->t;
	struct llmw_params par = { 1.1, 0.92, 0.5, 0.6, 200 };
	char *sys = NULL, *user = NULL;

	shm_count(task_slot(t), c, 1);
	if (++k->attempts > S(k)->dedup_max_attempts) {
		skip(k, c == SHM_C_FILTERED || c == SHM_C_GUARD_REJECTED ? -1 : SHM_C_DEDUP_SKIPPED,
		     why);
		return;
	}
	if (!paraphrase || !k->draft) {
		free(k->draft);
		k->draft = NULL;
		ask(k);
		return;
	}
	/* The same persona, the same prompt frame: only the wording changes. */
	if (asprintf(&user,
		     "Şu mesajı aynı anlamda ama tamamen farklı kelimelerle, daha önce "
		     "yazdıklarından farklı olacak şekilde yeniden yaz. Sadece yeni metni yaz.\n\n%s",
		     k->draft) < 0)
		user = NULL;
	sys = strdup(task_system(t) ? task_system(t) : "");
	free(k->draft);
	k->draft = NULL;
	task_llm(t, TASK_LLM_PARAPHRASE, sys, user, &par, check_draft);
}

static void check_draft(struct task *t, char *text)
{
	struct talk_job *k = task_data(t);
	char clean[TEXTCHECK_OUT_MAX], why[160];
	uint64_t recent[OWN_MAX];
	size_t idx[OWN_MAX], n;

	if (textcheck_clean(text, clean, sizeof clean, why, sizeof why) < 0) {
		free(text);
		refuse(k, SHM_C_FILTERED, why, 0);
		return;
	}
	free(text);
	free(k->draft);
	if (!(k->draft = strdup(clean))) {
		task_retry(t, -1);
		return;
	}
	n = in_dedup_window(k, idx);
	for (size_t i = 0; i < n; i++)
		recent[i] = ownlog_at(k->own, idx[i])->hash;
	if (S(k)->dedup_enabled && dedup_exact_hash(k->draft, recent, n)) {
		refuse(k, SHM_C_DEDUP_EXACT, "a duplicate of a recent message", 1);
		return;
	}
	checked(k);
}

/* ---- semantic dedup: the draft's embedding against the recent ones we know ---- */

static void on_embedding(const float *v, size_t dim, const char *err, void *arg)
{
	struct task *t = arg;
	struct talk_job *k = task_data(t);
	const int8_t *vecs[OWN_MAX];
	size_t idx[OWN_MAX], n = 0, nwin;
	double best = 0;
	unsigned long req, texts;

	/* The requests (a loop turn's drafts share one) counted as LLM calls. */
	embb_stats(k->tk->emb, &req, &texts);
	if (req > k->tk->emb_requests) {
		shm_count(task_slot(t), SHM_C_LLM_EMBEDDINGS, req - k->tk->emb_requests);
		k->tk->emb_requests = req;
	}

	if (k->tk->emb_brk[k->emb_provider]) {
		uint64_t now = uv_now(k->tk->d.loop);
		brk_record(k->tk->emb_brk[k->emb_provider], (int64_t)now, k->emb_gen,
			   v ? BRK_SUCCESS : BRK_FAILURE, (int)(now - k->emb_t0));
	}
	if (!v && k->emb_provider + 1 < k->tk->d.cfg->nproviders) {
		/* The next provider's embeddings, as a completion fails over. */
		embed_from(k, k->emb_provider + 1);
		return;
	}
	if (!v) {
		/* No embeddings: the exact check stood; go on without the semantic one. */
		struct log_ctx c = task_log_ctx(t);
		log_msg(LOG_INFO, &c, "semantic dedup skipped: %s", err);
		guard(k);
		return;
	}
	nwin = in_dedup_window(k, idx);
	for (size_t i = 0; i < nwin; i++) {
		const struct ownlog_msg *m = ownlog_at(k->own, idx[i]);
		if (m->vec && m->dim == dim)
			vecs[n++] = m->vec;
	}
	if (n && dedup_semantic_q(v, vecs, n, dim, S(k)->semantic_dedup_threshold, &best)) {
		refuse(k, SHM_C_DEDUP_SEMANTIC, "too similar to a recent message", 1);
		return;
	}
	/* Kept to go with the message into the ownlog, as the recent ones did. */
	free(k->vec); /* an earlier draft's, when the guard sent this one back */
	if ((k->vec = malloc(dim)))
		dedup_quantize(v, dim, k->vec);
	k->dim = k->vec ? dim : 0;
	guard(k);
}

static void on_emb_transition(const char *name, enum brk_state from, enum brk_state to,
			      const char *why, void *arg)
{
	struct log_ctx c = { .provider = name };

	(void)arg;
	log_msg(to == BRK_OPEN ? LOG_WARNING : LOG_NOTICE, &c, "breaker %s: %s -> %s (%s)", name,
		brk_state_name(from), brk_state_name(to), why);
}

/* Provider i's embeddings breaker, made on first use (again when a reload
 * renamed the provider). */
static struct brk *emb_brk(struct talk_job *k, int i)
{
	struct talk *tk = k->tk;
	const char *pname = tk->d.cfg->providers[i].name;
	char name[BRK_NAME_MAX + 1];
	struct brk_config bc;

	snprintf(name, sizeof name, "embeddings %s", pname);
	if (tk->emb_brk[i] && strcmp(brk_name(tk->emb_brk[i]), name) == 0)
		return tk->emb_brk[i];
	brk_free(tk->emb_brk[i]);
	brk_config_defaults(&bc);
	if ((tk->emb_brk[i] = brk_new(name, &bc, backoff_rand(task_rng(k->t)))))
		brk_on_transition(tk->emb_brk[i], on_emb_transition, NULL);
	return tk->emb_brk[i];
}

/* The draft's embedding from the first provider at or after from whose
 * embeddings breaker lets a call through; none: go on without semantic dedup,
 * as when the request fails. */
static void embed_from(struct talk_job *k, int from)
{
	const struct cfg *cfg = k->tk->d.cfg;
	int64_t now = (int64_t)uv_now(k->tk->d.loop);
	struct embb_target to;
	struct brk *b = NULL;
	int i;

	for (i = from; i < cfg->nproviders; i++)
		if (!(b = emb_brk(k, i)) || brk_allow(b, now, &k->emb_gen))
			break;
	if (i >= cfg->nproviders) {
		struct log_ctx c = task_log_ctx(k->t);
		log_msg(LOG_INFO, &c, "semantic dedup skipped: every embeddings breaker is open");
		guard(k);
		return;
	}
	k->emb_provider = i;
	k->emb_t0 = (uint64_t)now;
	to.base_url = cfg->providers[i].base_url;
	to.api_key = cfg->providers[i].api_key;
	to.model = S(k)->embedding_model;
	if (embb_get(k->tk->emb, &to, k->draft, on_embedding, k->t) < 0)
		guard(k);
}

static void semantic(struct talk_job *k)
{
	const struct cfg *cfg = k->tk->d.cfg;

	/* With nothing sent in the dedup window there is nothing to compare, but
	 * the vector is still wanted: this message is the next one's "recent". */
	if (!S(k)->semantic_dedup_enabled || cfg->nproviders == 0) {
		guard(k);
		return;
	}
	if (!k->tk->emb && !(k->tk->emb = embb_new(k->tk->d.loop, k->tk->d.http))) {
		guard(k);
		return;
	}
	embed_from(k, 0);
}

/* ---- the draft kept ---- */

static void on_kept(struct task *t)
{
	semantic(task_data(t));
}

/* The draft passed the checks that cost no call (the filter, exact dedup): it
 * is paid for, so it goes with the job from here, and a wait, a nack, a failed
 * embeddings or guard call, a Telegram retry or a crash reuses it. The checks
 * that call out (semantic dedup, the guard) and the last touches (humanisers,
 * mention, typing) run again on reuse: they are cheap next to a draft, and
 * they must see the chat and the stances of the attempt that sends. */
static void checked(struct talk_job *k)
{
	json_t *d =
		json_pack("{s:s, s:I, s:I, s:b, s:b, s:s, s:s, s:i, s:I}", "text", k->draft, "at",
			  (json_int_t)job_now_ms(), "reply_to", (json_int_t)k->reply_to, "mention",
			  k->mention, "human", k->answering_human, "topic", k->topic, "news",
			  k->news, "length", (int)k->length, "bot_us", (json_int_t)k->bot_us);
	task_keep(k->t, d, on_kept);
}

/* ---- the consistency guard ---- */

static void on_guard(struct task *t, char *answer)
{
	struct talk_job *k = task_data(t);
	int refused = strncmp(answer, "HAYIR", 5) == 0 || strncmp(answer, "Hayır", 6) == 0;

	free(answer);
	if (refused) {
		refuse(k, SHM_C_GUARD_REJECTED, "inconsistent with the bot's stances", 0);
		return;
	}
	finalize(k);
}

/* 1 when the stance's topic is the job's topic or one the draft speaks of (f:
 * the draft's facts over the stances' topics); a stance without a topic is
 * about anything. */
static int stance_in_play(const char *topic, const char *job_topic, const struct pick_msg_facts *f)
{
	char a[64], b[64];

	if (!topic || !*topic)
		return 1;
	pick_fold(topic, a, sizeof a);
	pick_fold(job_topic, b, sizeof b);
	if (strcmp(a, b) == 0)
		return 1;
	for (size_t j = 0; f->topics && j < f->topics->n; j++) {
		if (!(f->topic_bits & (1u << j)))
			continue;
		pick_fold(f->topics->names[j], b, sizeof b);
		if (strcmp(a, b) == 0)
			return 1;
	}
	return 0;
}

/* The guard checks a draft against the bot's stances on the topics it speaks
 * of: the job's topic and those the draft's words name (as pick detects them).
 * A stance on another topic cannot be contradicted by it, and carrying all of
 * them was about half of the guard's prompt; a draft on no such topic needs no
 * guard at all (issue 16, item 6). */
static void guard(struct talk_job *k)
{
	struct llmw_params par = { 0.3, 1.0, 0, 0, 20 };
	char stances[2048], *sys, *user = NULL, *buf;
	size_t off = 0, i, used = 0;
	json_t *st, *names;
	struct pick_topics ts;
	struct pick_msg_facts f;
	struct convo_msg m = { .text = k->draft };

	if (!S(k)->consistency_guard_enabled || json_array_size(k->stances) == 0) {
		finalize(k);
		return;
	}
	/* The stances' topics as a topic list, so pick tells which the draft names. */
	names = json_array();
	buf = malloc(pick_facts_size(k->draft));
	if (!names || !buf) {
		json_decref(names);
		free(buf);
		task_retry(k->t, -1);
		return;
	}
	json_array_foreach(k->stances, i, st) {
		const char *topic = json_string_value(json_object_get(st, "topic"));

		if (i >= 6)
			break;
		if (topic && *topic)
			json_array_append_new(names, json_string(topic));
	}
	pick_topics_init(&ts, names);
	pick_msg_facts(&f, &m, &ts, buf, pick_facts_size(k->draft));
	stances[0] = '\0';
	json_array_foreach(k->stances, i, st) {
		const char *topic = json_string_value(json_object_get(st, "topic"));

		if (i >= 6 || off >= sizeof stances - 1)
			break;
		if (!stance_in_play(topic, k->topic, &f))
			continue;
		off += (size_t)snprintf(stances + off, sizeof stances - off, "- %s: %s\n",
					topic ? topic : "?",
					json_string_value(json_object_get(st, "stance_text")) ?: "");
		used++;
	}
	free(buf);
	json_decref(names);
	if (used == 0) {
		finalize(k);
		return;
	}
	sys = strdup("TUTARLILIK DENETİMİ. Bir piyasa sohbetindeki bir kişinin görüşleri ve "
		     "yazmak üzere olduğu mesaj verilecek. Mesaj bu görüşlerle çelişiyorsa "
		     "\"HAYIR: <kısa neden>\", çelişmiyorsa yalnızca \"EVET\" yaz.");
	if (asprintf(&user, "Görüşleri:\n%s\nMesaj: %s", stances, k->draft) < 0)
		user = NULL;
	task_llm(k->t, TASK_LLM_GUARD, sys, user, &par, on_guard);
}

/* ---- the last touches: humanisers, mention, metadata, typing ---- */

static void on_action_sent(const struct httpc_resp *r, void *arg)
{
	(void)r;
	(void)arg;
}

static void send_typing(struct talk_job *k)
{
	struct task *t = k->t;
	struct talk *tk = k->tk;
	char url[TOK_MAX + 300], *body = tgw_chat_action(task_job(t)->chat_id, "typing");
	const char *headers[] = { "Content-Type: application/json", NULL };
	struct httpc_req req = { 0 };

	if (!body)
		return;
	snprintf(url, sizeof url, "%s/bot%s/sendChatAction", tk->d.cfg->telegram_api_url,
		 task_bot_token(t));
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = 5000;
	req.connect_timeout_ms = 2000;
	/* Typing is a courtesy: its answer changes nothing. */
	if (httpc_request(tk->d.http, &req, on_action_sent, NULL) == 0)
		shm_count(task_slot(t), SHM_C_TYPING, 1);
	memset(url, 0, sizeof url);
	free(body);
}

static void on_typing_tick(void *arg)
{
	struct task *t = arg;
	struct talk_job *k = task_data(t);
	const struct settings *s = S(k);
	double scale = s->scale_factor > 1 ? s->scale_factor : 1;
	int every = (int)(s->typing_interval_s * 1000.0 / scale);

	if (k->typing_left_ms <= 0) {
		/* Back into a worker slot for the send. */
		task_off_slot(t, 0);
		reserve_chat(k);
		return;
	}
	send_typing(k);
	if (every < 50)
		every = 50;
	if (every > k->typing_left_ms)
		every = k->typing_left_ms;
	k->typing_left_ms -= every;
	task_after(t, (uint64_t)every, on_typing_tick);
}

/* clamp(chars / (wpm x 5 / 60), 2, 8) s, times the tempo of the bot's energy. */
static int typing_ms(struct talk_job *k)
{
	const struct settings *s = S(k);
	json_t *ty = json_object_get(k->speed, "typing");
	double lo = s->wpm_min, hi = s->wpm_max, mult = 1, mn = 2, mx = 8, wpm, secs;
	const char *energy = json_string_value(json_object_get(k->emotion, "energy"));
	double scale = s->scale_factor > 1 ? s->scale_factor : 1;

	if (json_is_number(json_object_get(ty, "wpm_min")))
		lo = json_number_value(json_object_get(ty, "wpm_min"));
	if (json_is_number(json_object_get(ty, "wpm_max")))
		hi = json_number_value(json_object_get(ty, "wpm_max"));
	if (json_is_number(json_object_get(ty, "typing_multiplier")))
		mult = json_number_value(json_object_get(ty, "typing_multiplier"));
	if (json_is_number(json_object_get(ty, "min_seconds")))
		mn = json_number_value(json_object_get(ty, "min_seconds"));
	if (json_is_number(json_object_get(ty, "max_seconds")))
		mx = json_number_value(json_object_get(ty, "max_seconds"));
	wpm = lo + (hi > lo ? (hi - lo) * backoff_uniform(task_rng(k->t)) : 0);
	if (wpm <= 0)
		wpm = 3.5;
	secs = (double)textcheck_utf8_count(k->draft) / (wpm * 5.0 / 60.0);
	secs = secs < mn ? mn : secs > mx ? mx : secs;
	if (energy && (strstr(energy, "high") || strstr(energy, "yüksek") ||
		       strstr(energy, "energetic") || strstr(energy, "enerjik")))
		mult *= 0.85;
	else if (energy && (strstr(energy, "low") || strstr(energy, "düşük") ||
			    strstr(energy, "calm") || strstr(energy, "sakin")))
		mult *= 1.15;
	return (int)(secs * mult * 1000.0 / scale);
}

/* What the human asked about, as the worker read it (a human's message row
 * carries no topic): question_topic (null when it names none of the chat's
 * topics) and question_symbols, so scripts/chat-report can tell an answer on
 * the question's topic from one on the chat's (issue 16). */
static void question_meta(struct talk_job *k, json_t *meta)
{
	const struct convo_msg *q = &k->chat->msgs[k->target];
	const char *syms[PICK_MAX_SYMBOLS];
	int n = pick_symbols(q->text, json_object_get(k->persona, "watchlist"), syms, PICK_MAX_SYMBOLS);
	json_t *arr = json_array();
	char topic[64];

	for (int i = 0; arr && i < n; i++)
		json_array_append_new(arr, json_string(syms[i]));
	if (arr)
		json_object_set_new(meta, "question_symbols", arr);
	if (q->topic)
		snprintf(topic, sizeof topic, "%s", q->topic);
	else if (!topic_in(k->chat, q, topic, sizeof topic))
		topic[0] = '\0';
	json_object_set_new(meta, "question_topic", *topic ? json_string(topic) : json_null());
}

static void add_meta(struct talk_job *k)
{
	struct task *t = k->t;
	const char *syms[PICK_MAX_SYMBOLS];
	int n = pick_symbols(k->draft, json_object_get(k->persona, "watchlist"), syms,
			     PICK_MAX_SYMBOLS);
	json_t *arr = json_array(), *meta;

	for (int i = 0; i < n; i++)
		json_array_append_new(arr, json_string(syms[i]));
	meta = json_pack("{s:s, s:o, s:i}", "topic", k->topic, "symbols", arr, "sentiment",
			 pick_sentiment(k->draft));
	task_set_meta(t, meta);
	if (!meta)
		return;
	if (*k->news) {
		json_object_set_new(meta, "news", json_string(k->news));
		shm_count(task_slot(t), SHM_C_NEWS_USED, 1);
	}
	if (k->answering_human && k->target >= 0) {
		json_object_set_new(meta, "answered_human", json_integer(k->reply_to));
		question_meta(k, meta);
	}
	if (k->attempts < 0)
		json_object_set_new(meta, "reaction", json_true());
}

/* "@name " at the start when the bot mentions whom it answers. */
static void add_mention(struct talk_job *k)
{
	const struct convo_msg *m = &k->chat->msgs[k->target];
	char *out = NULL;
	const char *who = m->speaker;

	if (!who || !*who || strchr(who, ' ') || strstr(k->draft, who))
		return;
	if (asprintf(&out, "@%s %s", who, k->draft) < 0)
		return;
	free(k->draft);
	k->draft = out;
}

static void typing(struct task *t)
{
	struct talk_job *k = task_data(t);

	if (!S(k)->typing_enabled) {
		reserve_chat(k);
		return;
	}
	/* A typing bot holds no worker slot: it waits on a timer. */
	k->typing_left_ms = typing_ms(k);
	task_off_slot(t, 1);
	on_typing_tick(t);
}

static void finalize(struct talk_job *k)
{
	struct task *t = k->t;
	const struct settings *s = S(k);

	if (k->attempts >= 0) {
		const struct humanise_probs *hp = k->answering_human ? &s->hum_human : &s->hum;
		char *x;

		if ((x = humanise(k->draft, hp, s->voice_profile_enabled ? k->persona : NULL,
				  s->voice_profile_enabled ? k->emotion : NULL, task_rng(t)))) {
			free(k->draft);
			k->draft = x;
		}
		if (k->mention && k->target >= 0)
			add_mention(k);
	}
	add_meta(k);
	typing(t);
}

static void reserve_chat_cb(void *task)
{
	reserve_chat(task_data(task));
}

static void on_chat_reserved(int64_t wait_ms, void *arg)
{
	struct task *t = arg;
	struct talk_job *k = task_data(t);
	char *text;

	if (wait_ms < 0) {
		task_retry(t, -1);
		return;
	}
	if (wait_ms > 0) {
		capped(k, SHM_C_CAP_CHAT, wait_ms, "the chat's per-minute cap", reserve_chat_cb);
		return;
	}
	k->chat_held = 1;
	text = k->draft;
	k->draft = NULL;
	task_send(t, text);
}

static void reserve_chat(struct talk_job *k)
{
	if (market_chat_cap(k->tk->d.market, MARKET_CAP_RESERVE, task_job(k->t)->chat_id,
			    task_id(k->t), on_chat_reserved, k->t) < 0)
		task_retry(k->t, -1);
}

/* ---- after ---- */

/* Telegram took it: the caps count it and the own messages keep it. */
static void on_sent(struct task *t, void *arg)
{
	struct talk_job *k = task_data(t);
	struct talk *tk = arg;
	const struct job *j = task_job(t);
	const char *text = task_text(t);

	if (!k)
		return;
	if (k->bot_held)
		market_bot_sent(tk->d.market, j->bot_id, j->chat_id, job_now_ms());
	if (k->chat_held)
		market_chat_stamp(tk->d.market, j->chat_id, task_id(t));
	k->bot_held = k->chat_held = 0;
	if (text && own_log(tk)) {
		/* As the row will read: the final text, the topic of its metadata; with
		 * the draft's vector, which the humanisers and a mention hardly move. */
		const char *topic = json_string_value(json_object_get(task_meta(t), "topic"));
		struct ownlog_msg m = { job_now_ms(), dedup_hash(text), topic ? topic : "", text,
					task_id(t),   k->vec,           (uint32_t)k->dim };

		ownlog_add(tk->own, j->bot_id, m.at_ms, &m);
	}
}

/* The row reads 'sent': the cached chat context takes the message in place. */
static void on_recorded(struct task *t, const struct task_sent *ts, void *arg)
{
	struct talk *tk = arg;
	json_t *meta = task_meta(t), *s = json_object_get(meta, "sentiment");
	struct convo_msg m = {
		.id = ts->row_id,
		.tg_id = ts->tg_id,
		.bot_id = task_job(t)->bot_id,
		.speaker = task_bot_name(t),
		.text = ts->text,
		.at_ms = ts->at_ms,
		.reply_to_tg = ts->reply_to,
		.topic = json_string_value(json_object_get(meta, "topic")),
		.sentiment = json_is_integer(s) ? (int)json_integer_value(s) : 0,
	};

	chats_sent(tk->d.chats, task_job(t)->chat_id, &m);
}

static int64_t on_reply_to(const struct task *t, void *arg)
{
	const struct talk_job *k = task_data(t);

	(void)arg;
	return k ? k->reply_to : 0;
}

static void on_clear(struct task *t, void *arg)
{
	struct talk_job *k = task_data(t);
	struct talk *tk = arg;

	if (!k)
		return;
	if (k->bot_held)
		market_bot_release(tk->d.market, task_job(t)->bot_id);
	if (k->chat_held)
		market_chat_release(tk->d.market, task_job(t)->chat_id, task_id(t));
	json_decref(k->persona);
	json_decref(k->emotion);
	json_decref(k->stances);
	json_decref(k->holdings);
	json_decref(k->memories);
	json_decref(k->speed);
	if (k->chat)
		chatctx_unref(k->chat);
	ownlog_unref(k->own);
	free(k->vec);
	free(k->draft);
	free(k);
	task_set_data(t, NULL);
}

/* ---- the module ---- */

struct talk *talk_new(const struct talk_deps *d)
{
	struct talk *tk = calloc(1, sizeof *tk);

	if (tk)
		tk->d = *d;
	return tk;
}

/* The settings' daily budgets of a bot and a chat, and what a spent one does. */
static void on_budget(const struct task *t, void *arg, struct task_budget *b)
{
	const struct settings *s = market_settings(((struct talk *)arg)->d.market);

	(void)t;
	b->bot_daily = s->bot_daily_tokens;
	b->chat_daily = s->chat_daily_tokens;
	b->skip = strcmp(s->budget_action, "skip") == 0;
}

void talk_kind(struct talk *tk, struct task_kind *kind)
{
	*kind = (struct task_kind){ .budget = on_budget,
				    .start = on_start,
				    .sent = on_sent,
				    .recorded = on_recorded,
				    .reply_to = on_reply_to,
				    .clear = on_clear,
				    .arg = tk };
}

void talk_free(struct talk *tk)
{
	if (!tk)
		return;
	embb_free(tk->emb);
	for (int i = 0; i < CFG_MAX_PROVIDERS; i++)
		brk_free(tk->emb_brk[i]);
	ownlog_free(tk->own);
	free(tk);
}
