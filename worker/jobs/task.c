/* task: one job's life in a worker, a chain of asynchronous steps:
 *
 *   lease -> [attempt > 1: look at the outbox row] -> bot -> history -> LLM
 *         -> claim the outbox row (sending) -> sendMessage -> mark sent -> ack
 *
 * The outbox row in PostgreSQL is the truth about a send (DESIGN.md): a row
 * found 'sending' by a later attempt may have been sent, so it becomes 'unknown'
 * and is never sent again; only failures known to happen before Telegram took
 * the message (429, 5xx, connection refused) become 'retry'. Every step that
 * cannot go on ends in ack, nack (with backoff) or a dead letter. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/backoff.h"
#include "worker/chat/bots.h"
#include "worker/chat/chats.h"
#include "common/job.h"
#include "worker/calls/llm.h"
#include "worker/calls/llmw.h"
#include "common/log.h"
#include "common/net/pgb.h"
#include "worker/calls/tgc.h"
#include "worker/calls/tgw.h"
#include "worker/wk.h"
#include "worker/jobs/task_int.h"
#include "worker/chat/talk.h"

static void load_bot(struct task *t);
static void call_llm(struct task *t);
static void claim(struct task *t);
static void admit(struct task *t);
static void send_message(struct task *t);
static void dead_letter(struct task *t, const char *reason);

static struct log_ctx ctx_of(const struct task *t)
{
	struct log_ctx c = { t->job.bot_id, t->job.chat_id, t->id, NULL };
	return c;
}

const char *task_id(const struct task *t)
{
	return t->id;
}

const char *task_token(const struct task *t)
{
	return t->token_s;
}

struct task *task_next(const struct task *t)
{
	return t->next;
}

static void task_free(struct task *t)
{
	struct wk *w = t->w;

	if (t->prev)
		t->prev->next = t->next;
	else
		w->tasks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	job_clear(&t->job);
	free(t->raw);
	free(t->system);
	free(t->user);
	free(t->text);
	talk_free(t);
	json_decref(t->meta);
	memset(t->bot_token, 0, sizeof t->bot_token);
	if (!t->off_slot)
		w->inflight--;
	free(t);
	shm_gauge(w->slot, SHM_G_INFLIGHT, w->inflight);
}

void task_finished(struct task *t, int acked)
{
	struct wk *w = t->w;
	double secs = (double)(uv_now(w->loop) - t->leased_at) / 1000.0;

	if (t->answer_ns)
		shm_observe(w->slot, SHM_H_FINISH_SECONDS, (double)(uv_hrtime() - t->answer_ns) / 1e9);

	if (t->decoded) {
		shm_job(w->slot, t->job.kind, t->outcome);
		shm_observe(w->slot, SHM_H_JOB_SECONDS, secs);
		if (t->outcome == SHM_OUT_SENT && t->job.enqueued_at > 0)
			shm_observe(w->slot, SHM_H_E2E_SECONDS,
				    (double)(job_now_ms() - t->job.enqueued_at) / 1000.0);
	}
	if (!acked)
		shm_count(w->slot, SHM_C_LEASES_LOST, 1);
	task_free(t);
	queue_maybe_lease(w);
	wk_maybe_exit(w);
}

static void finish(struct task *t, enum shm_outcome o)
{
	t->outcome = o;
	queue_ack(t->w, t);
}

void task_finish(struct task *t, enum shm_outcome o)
{
	finish(t, o);
}

struct log_ctx task_log_ctx(const struct task *t)
{
	return ctx_of(t);
}

static void retry_later(struct task *t, int64_t delay_ms)
{
	struct wk *w = t->w;

	if (delay_ms < 0)
		delay_ms = backoff_full_jitter(t->attempt - 1, w->cfg.backoff_base_ms,
					       w->cfg.backoff_max_ms, &w->rng);
	t->outcome = SHM_OUT_RETRY;
	queue_nack(w, t, delay_ms);
}

void task_retry(struct task *t, int64_t delay_ms)
{
	retry_later(t, delay_ms);
}

/* The database is unreachable mid-job: leave the lease to expire; the reaper
 * hands the job back and the outbox row tells the next attempt where it was. */
static void abandon(struct task *t, const char *why)
{
	struct log_ctx c = ctx_of(t);

	log_msg(LOG_WARNING, &c, "job left to its lease: %s", why);
	shm_count(t->w->slot, SHM_C_PG_ERRORS, 1);
	t->outcome = SHM_OUT_RETRY;
	task_finished(t, 1);
}

static int query(struct task *t, const char *sql, int n, const char *const *p, pgc_cb cb)
{
	if (pgc_query(wk_pg(t->w), sql, n, p, cb, t) < 0) {
		abandon(t, "database unavailable");
		return -1;
	}
	return 0;
}

int task_query(struct task *t, const char *sql, int n, const char *const *p,
	       void (*cb)(PGresult *res, const char *err, void *arg))
{
	return query(t, sql, n, p, cb);
}

/* ---- dead letters ---- */

static void on_dead_written(PGresult *res, const char *err, void *arg)
{
	struct task *t = arg;

	if (!res) {
		abandon(t, err);
		return;
	}
	shm_count(t->w->slot, SHM_C_DEAD_LETTERS, 1);
	finish(t, SHM_OUT_FAILED);
}

static void dead_letter(struct task *t, const char *reason)
{
	static const char sql[] =
		"WITH d AS (INSERT INTO dead_jobs (job_id, kind, bot_id, chat_id, attempts, job, reason) "
		"VALUES ($1, NULLIF($2, ''), NULLIF($3, '0')::bigint, NULLIF($4, '0')::bigint, $5, $6, $7) "
		"ON CONFLICT (job_id) WHERE retried_at IS NULL DO NOTHING) "
		"INSERT INTO messages (job_id, bot_id, chat_id, status, attempt, error) "
		"SELECT $1, NULLIF($3, '0')::bigint, $4::bigint, 'failed', $5, $7 WHERE $4::bigint <> 0 "
		"ON CONFLICT (job_id) DO UPDATE SET status = CASE messages.status "
		"WHEN 'sending' THEN 'unknown' WHEN 'retry' THEN 'failed' ELSE messages.status END, "
		"error = EXCLUDED.error";
	char bot[24], chat[24], att[16];
	const char *p[7] = { t->id, t->decoded ? job_kind_name(t->job.kind) : "", bot, chat, att,
			     t->raw, reason };
	struct log_ctx c = ctx_of(t);

	log_msg(LOG_WARNING, &c, "dead letter: %s", reason);
	snprintf(bot, sizeof bot, "%lld", (long long)t->job.bot_id);
	snprintf(chat, sizeof chat, "%lld", (long long)t->job.chat_id);
	snprintf(att, sizeof att, "%d", t->attempt);
	query(t, sql, 7, p, on_dead_written);
}

void task_dead(struct task *t, const char *reason)
{
	dead_letter(t, reason);
}

/* ---- a second attempt first reads the outbox ---- */

/* Out of attempts: a dead letter; otherwise on to the bot and its prompt. */
static void proceed(struct task *t)
{
	char why[64];

	if (t->attempt > t->w->cfg.max_attempts) {
		snprintf(why, sizeof why, "gave up after %d attempts", t->attempt - 1);
		dead_letter(t, why);
		return;
	}
	load_bot(t);
}

static void on_unknown_marked(PGresult *res, const char *err, void *arg)
{
	struct task *t = arg;

	if (!res) {
		abandon(t, err);
		return;
	}
	finish(t, SHM_OUT_UNKNOWN);
}

static void on_outbox_row(PGresult *res, const char *err, void *arg)
{
	static const char mark[] = "UPDATE messages SET status = 'unknown' "
				   "WHERE job_id = $1 AND status = 'sending' AND attempt < $2";
	struct task *t = arg;
	const char *st, *p[2] = { t->id, t->token_s };

	if (!res) {
		abandon(t, err);
		return;
	}
	if (PQntuples(res) == 0 || strcmp((st = PQgetvalue(res, 0, 0)), "retry") == 0) {
		proceed(t);
		return;
	}
	if (strcmp(st, "sending") == 0 && atoi(PQgetvalue(res, 0, 1)) < t->attempt) {
		struct log_ctx c = ctx_of(t);
		log_msg(LOG_WARNING, &c, "an earlier attempt may have sent this: marked unknown");
		query(t, mark, 2, p, on_unknown_marked);
		return;
	}
	finish(t, strcmp(st, "unknown") == 0 ? SHM_OUT_UNKNOWN : SHM_OUT_SKIPPED);
}

/* ---- context: bot and chat history ---- */

static void on_bot(const void *val, const char *err, void *arg)
{
	const struct bot *b = val;
	struct task *t = arg;
	char why[96];

	if (!b && err) {
		retry_later(t, -1);
		return;
	}
	if (!b || !b->enabled) {
		snprintf(why, sizeof why, "bot %lld %s", (long long)t->job.bot_id,
			 b ? "is disabled" : "does not exist");
		dead_letter(t, why);
		return;
	}
	snprintf(t->bot_name, sizeof t->bot_name, "%s", b->name);
	snprintf(t->bot_token, sizeof t->bot_token, "%s", b->token);
	if (t->job.kind == JOB_MEMORIZE)
		memo_start(t, b);
	else
		talk_start(t, b);
}

static void load_bot(struct task *t)
{
	bots_get(t->w->bots, t->job.bot_id, on_bot, t);
}

/* ---- the LLM ---- */

static void llm_failed(struct task *t, enum llmw_failure f, long retry_after_s, const char *why)
{
	struct wk *w = t->w;
	struct log_ctx c = ctx_of(t);

	c.provider = w->cfg.providers[t->provider].name;
	log_msg(LOG_WARNING, &c, "llm call failed: %s", why);
	if (f == LLMW_BAD_REQUEST) {
		dead_letter(t, why);
		return;
	}
	/* Fall through to the next provider at once; after the last, back off. */
	if (t->provider + 1 < w->cfg.nproviders) {
		t->provider++;
		call_llm(t);
		return;
	}
	retry_later(t, f == LLMW_RATE_LIMIT && retry_after_s >= 0 ? retry_after_s * 1000 : -1);
}

static enum llm_outcome llm_outcome_of(enum llmw_failure f)
{
	switch (f) {
	case LLMW_RATE_LIMIT: return LLM_RATE_LIMITED;
	case LLMW_QUOTA: return LLM_QUOTA;
	case LLMW_BAD_REQUEST: return LLM_BAD_REQUEST;
	default: return LLM_FAILED;
	}
}

static void llm_record(struct task *t, const struct httpc_resp *r, enum llm_outcome o, int tokens)
{
	struct wk *w = t->w;

	llm_done(w->llm, t->provider, t->llm_gen, (int64_t)uv_now(w->loop), o,
		 (int)(r->total_s * 1000), r->retry_after_s, t->job.bot_id, tokens);
}

static void count_llm(struct task *t, const struct httpc_resp *r, enum llmw_failure f, int ok)
{
	struct shm_slot *s = t->w->slot;
	int p = t->provider;

	shm_observe(s, SHM_H_LLM_SECONDS, r->total_s);
	if (ok)
		shm_pcount(s, p, SHM_P_CALLS_OK, 1);
	else if (r->err_kind == HTTPC_TIMEOUT)
		shm_pcount(s, p, SHM_P_CALLS_TIMEOUT, 1);
	else if (r->status == 429)
		shm_pcount(s, p, SHM_P_CALLS_429, 1);
	else if (f == LLMW_SERVER && r->status >= 500)
		shm_pcount(s, p, SHM_P_CALLS_5XX, 1);
	else
		shm_pcount(s, p, SHM_P_CALLS_ERROR, 1);
}

static void on_llm(const struct httpc_resp *r, void *arg)
{
	struct task *t = arg;
	struct llmw_result res;
	char why[256];

	if (r->err_kind != HTTPC_OK || r->status != 200) {
		enum llmw_failure f = r->err_kind != HTTPC_OK ? LLMW_SERVER
			: llmw_classify(r->status, r->body, r->body_len);
		count_llm(t, r, f, 0);
		llm_record(t, r, llm_outcome_of(f), 0);
		if (r->err_kind != HTTPC_OK)
			snprintf(why, sizeof why, "%s", r->err ? r->err : "network error");
		else
			snprintf(why, sizeof why, "HTTP %d", r->status);
		llm_failed(t, f, r->retry_after_s, why);
		return;
	}
	if (llmw_parse(r->body, r->body_len, &res, why, sizeof why) < 0 || !*res.content) {
		count_llm(t, r, LLMW_SERVER, 0);
		llm_record(t, r, LLM_FAILED, 0);
		if (res.content)
			snprintf(why, sizeof why, "empty completion");
		llmw_result_clear(&res);
		llm_failed(t, LLMW_SERVER, -1, why);
		return;
	}
	count_llm(t, r, LLMW_SERVER, 1);
	llm_record(t, r, LLM_OK, res.prompt_tokens + res.completion_tokens);
	shm_pcount(t->w->slot, t->provider, SHM_P_PROMPT_TOKENS, (uint64_t)res.prompt_tokens);
	shm_pcount(t->w->slot, t->provider, SHM_P_COMPLETION_TOKENS, (uint64_t)res.completion_tokens);
	t->llm_next(t, res.content);
}

void task_llm(struct task *t, char *system, char *user, const struct llmw_params *par,
	      void (*next)(struct task *t, char *text))
{
	free(t->system);
	free(t->user);
	t->system = system;
	t->user = user;
	t->par = *par;
	t->llm_next = next;
	t->provider = 0;
	if (!system || !user) {
		retry_later(t, -1);
		return;
	}
	call_llm(t);
}

static void on_llm_due(void *arg)
{
	call_llm(arg);
}

static void call_llm(struct task *t)
{
	struct wk *w = t->w;
	int64_t wait;
	int i = llm_pick(w->llm, t->provider, (int64_t)uv_now(w->loop), &t->llm_gen, &wait);

	if (i < 0) {
		/* Every provider is open, cooling down or out of budget: wait for the
		 * first to come back without spending an attempt, unless that is long. */
		t->provider = 0;
		if (wait <= HOLD_MAX_MS)
			wk_after(w, (uint64_t)wait, on_llm_due, t);
		else
			retry_later(t, wait);
		return;
	}
	t->provider = i;
	const struct cfg_provider *p = &w->cfg.providers[i];
	struct llmw_msg msgs[2] = { { "system", t->system }, { "user", t->user } };
	char url[300], auth[300];
	const char *headers[] = { "Content-Type: application/json", auth, NULL };
	struct httpc_req req = { 0 };
	char *body = llmw_request(p->model, msgs, 2, &t->par);

	if (!body) {
		retry_later(t, -1);
		return;
	}
	snprintf(url, sizeof url, "%s/chat/completions", p->base_url);
	snprintf(auth, sizeof auth, "Authorization: Bearer %s", p->api_key);
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = p->timeout_ms;
	req.connect_timeout_ms = 3000;
	req.low_speed_time_s = 10;
	if (httpc_request(w->http, &req, on_llm, t) < 0) {
		free(body);
		llm_done(w->llm, i, t->llm_gen, (int64_t)uv_now(w->loop), LLM_BAD_REQUEST, 0, -1,
			 t->job.bot_id, 0);
		llm_failed(t, LLMW_SERVER, -1, "cannot start the request");
		return;
	}
	free(body);
}

/* ---- the outbox and Telegram ---- */

static void on_admit_due(void *arg)
{
	admit(arg);
}

/* Pacing and breakers decide when the send may go; a short wait holds the
 * task on a timer, a long one hands the job back to the queue. */
static void admit(struct task *t)
{
	struct wk *w = t->w;
	int64_t wait = tgc_admit(w->tgc, t->job.bot_id, t->job.chat_id, (int64_t)uv_now(w->loop),
				 &t->tk);

	if (wait == 0)
		claim(t);
	else if (wait <= HOLD_MAX_MS)
		wk_after(w, (uint64_t)wait, on_admit_due, t);
	else
		retry_later(t, wait);
}

void task_send(struct task *t, char *text)
{
	free(t->text);
	t->text = text;
	admit(t);
}

/* The Telegram message answered: talk's choice, else the job's payload. */
static int64_t task_reply_to(const struct task *t)
{
	json_t *rt = json_object_get(t->job.payload, "reply_to_message_id");
	int64_t id = talk_reply_to(t);

	return id ? id : json_is_integer(rt) ? (int64_t)json_integer_value(rt) : 0;
}

static void on_claimed(PGresult *res, int row, const char *err, void *arg)
{
	struct task *t = arg;
	const char *st;

	shm_observe(t->w->slot, SHM_H_CLAIM_SECONDS, (double)(uv_hrtime() - t->claim_ns) / 1e9);
	if (!res || row < 0) {
		struct log_ctx c = ctx_of(t);
		log_msg(LOG_WARNING, &c, "outbox row not claimed: %s", err ? err : "no row returned");
		retry_later(t, -1); /* nothing was sent: safe to run again */
		return;
	}
	st = PQgetvalue(res, row, 1);
	t->row_id = atoll(PQgetvalue(res, row, 3));
	if (strcmp(st, "sending") == 0 && atoi(PQgetvalue(res, row, 2)) == t->attempt) {
		send_message(t);
		return;
	}
	finish(t, strcmp(st, "unknown") == 0 ? SHM_OUT_UNKNOWN : SHM_OUT_SKIPPED);
}

/* The outbox claims of one loop turn, one statement (pgb): a row is inserted
 * 'sending', or an existing one moves on as DESIGN.md's outbox says. */
static const char claim_sql[] =
	"INSERT INTO messages (job_id, bot_id, chat_id, status, attempt, text, reply_to_message_id, "
	"enqueued_at, metadata) "
	"SELECT x.job_id, x.bot_id, x.chat_id, 'sending', x.attempt, x.text, NULLIF(x.reply_to, 0), "
	"to_timestamp(NULLIF(x.enq, 0) / 1000.0), coalesce(x.meta, '{}') "
	"FROM json_to_recordset($1::json) AS x(job_id text, bot_id bigint, chat_id bigint, "
	"attempt int, text text, reply_to bigint, enq bigint, meta jsonb) "
	"ON CONFLICT (job_id) DO UPDATE SET "
	"status = CASE WHEN EXCLUDED.attempt <= messages.attempt THEN messages.status "
	"WHEN messages.status = 'retry' THEN 'sending' "
	"WHEN messages.status = 'sending' THEN 'unknown' ELSE messages.status END, "
	"text = CASE WHEN EXCLUDED.attempt > messages.attempt AND messages.status = 'retry' "
	"THEN EXCLUDED.text ELSE messages.text END, "
	"metadata = CASE WHEN EXCLUDED.attempt > messages.attempt AND messages.status = 'retry' "
	"THEN EXCLUDED.metadata ELSE messages.metadata END, "
	"reply_to_message_id = CASE WHEN EXCLUDED.attempt > messages.attempt AND "
	"messages.status = 'retry' THEN EXCLUDED.reply_to_message_id "
	"ELSE messages.reply_to_message_id END, "
	"attempt = CASE WHEN EXCLUDED.attempt > messages.attempt AND messages.status IN "
	"('retry', 'sending') THEN EXCLUDED.attempt ELSE messages.attempt END "
	"RETURNING job_id, status, attempt, id";

/* The sends' outcomes of one loop turn, one statement. An upsert rather than
 * UPDATE ... FROM: its conflict check is an index probe per row whatever the
 * planner thinks of the table (a plan cached while messages was small joins by
 * scanning all of it). The row exists (claimed before the send); were it gone,
 * the outcome is recorded as a new row rather than lost. */
static const char mark_sql[] =
	"INSERT INTO messages (job_id, bot_id, chat_id, status, attempt, telegram_message_id, "
	"error, sent_at) "
	"SELECT x.job_id, x.bot_id, x.chat_id, x.status, x.attempt, NULLIF(x.mid, 0), "
	"NULLIF(x.error, ''), CASE WHEN x.status = 'sent' THEN to_timestamp(x.at / 1000.0) END "
	"FROM json_to_recordset($1::json) AS x(job_id text, bot_id bigint, chat_id bigint, "
	"attempt int, status text, mid bigint, error text, at bigint) "
	"ON CONFLICT (job_id) DO UPDATE SET status = EXCLUDED.status, "
	"telegram_message_id = EXCLUDED.telegram_message_id, error = EXCLUDED.error, "
	"sent_at = EXCLUDED.sent_at "
	"WHERE messages.attempt = EXCLUDED.attempt AND messages.status = 'sending'";

#define MARK_DELAY_MS 20

/* Rows per statement: big enough that a busy turn is one statement, small
 * enough that one statement stays a short transaction. */
#define BATCH_ROWS 256

static struct pgc *batch_conn(void *arg)
{
	return wk_pg(arg);
}

int task_batches_new(struct wk *w)
{
	w->claims = pgb_new(w->loop, claim_sql, BATCH_ROWS, batch_conn, w);
	w->marks = pgb_new(w->loop, mark_sql, BATCH_ROWS, batch_conn, w);
	if (!w->claims || !w->marks)
		return -1;
	/* One statement of each kind out at a time: under load the rows of many
	 * turns share one statement and one commit, and a job's rows commit in
	 * the order they were written. */
	pgb_set_window(w->claims, 1);
	pgb_set_window(w->marks, 1);
	return 0;
}

void task_batches_free(struct wk *w)
{
	pgb_free(w->claims);
	pgb_free(w->marks);
	w->claims = w->marks = NULL;
}

static void claim(struct task *t)
{
	json_t *row = json_pack("{s:s, s:I, s:I, s:i, s:s, s:I, s:I, s:O?}", "job_id", t->id,
				"bot_id", (json_int_t)t->job.bot_id, "chat_id",
				(json_int_t)t->job.chat_id, "attempt", t->attempt, "text", t->text,
				"reply_to", (json_int_t)task_reply_to(t), "enq",
				(json_int_t)t->job.enqueued_at, "meta", t->meta);

	if (!row) {
		retry_later(t, -1);
		return;
	}
	t->claim_ns = uv_hrtime();
	if (pgb_add(t->w->claims, t->id, row, on_claimed, t) < 0)
		abandon(t, "database unavailable");
}

/* The message as the chat's context query would read it back. */
static void tell_chat(struct task *t)
{
	json_t *s = json_object_get(t->meta, "sentiment");
	struct convo_msg m = {
		.id = t->row_id,
		.tg_id = t->tg_id,
		.bot_id = t->job.bot_id,
		.speaker = t->bot_name,
		.text = t->text,
		.at_ms = t->sent_ms,
		.reply_to_tg = task_reply_to(t),
		.topic = json_string_value(json_object_get(t->meta, "topic")),
		.sentiment = json_is_integer(s) ? (int)json_integer_value(s) : 0,
	};

	chats_sent(t->w->chats, t->job.chat_id, &m);
}

static void on_marked(PGresult *res, int row, const char *err, void *arg)
{
	struct task *t = arg;

	(void)row;
	if (!res) {
		abandon(t, err);
		return;
	}
	if (t->outcome == SHM_OUT_RETRY)
		retry_later(t, t->retry_delay_ms);
	else if (t->outcome == SHM_OUT_FAILED)
		dead_letter(t, t->why); /* the row is 'failed' already: it stays so */
	else {
		/* Now that the row reads 'sent', a chat context loaded anywhere has it. */
		if (t->outcome == SHM_OUT_SENT)
			tell_chat(t);
		finish(t, t->outcome);
	}
}

/* Record what the send did; the outcome decides what follows (on_marked). */
static void mark(struct task *t, const char *status, int64_t message_id, const char *error)
{
	/* sent_at is when Telegram answered, not when the batch was written. */
	json_t *row;

	t->tg_id = message_id;
	t->sent_ms = job_now_ms();
	row = json_pack("{s:s, s:I, s:I, s:i, s:s, s:I, s:s, s:I}", "job_id", t->id, "bot_id",
			(json_int_t)t->job.bot_id, "chat_id", (json_int_t)t->job.chat_id, "attempt",
			t->attempt, "status", status, "mid", (json_int_t)message_id, "error",
			error ? error : "", "at", (json_int_t)t->sent_ms);

	/* Off the enqueue-to-sent path: with room to spare, an outcome waits a
	 * little for others to share its commit and its ack's script call (when
	 * jobs come one by one, a commit and an ack each); under pressure it goes
	 * on the next turn, as its job holds a slot. */
	pgb_set_delay(t->w->marks, t->w->inflight * 4 <= t->w->cfg.max_inflight * 3 ? MARK_DELAY_MS : 0);
	/* Not recorded: the row stays 'sending' and the next attempt marks it
	 * unknown, which is the truth as far as we can tell. */
	if (!row || pgb_add(t->w->marks, t->id, row, on_marked, t) < 0)
		abandon(t, row ? "database unavailable" : "out of memory");
}

/* Metrics, and the breakers and pauses of tgc; retry_after_s only for a 429. */
static void tg_count(struct task *t, enum shm_counter c, const struct httpc_resp *r,
		     long retry_after_s)
{
	enum tgc_outcome o = c == SHM_C_TG_OK ? TGC_OK : c == SHM_C_TG_429 ? TGC_RATE_LIMITED
			   : c == SHM_C_TG_4XX ? TGC_REJECTED : TGC_FAILED;

	shm_count(t->w->slot, c, 1);
	shm_observe(t->w->slot, SHM_H_TG_SECONDS, r->total_s);
	tgc_done(t->w->tgc, &t->tk, (int64_t)uv_now(t->w->loop), o, (int)(r->total_s * 1000),
		 retry_after_s);
}

static void on_side_effect(PGresult *res, const char *err, void *arg)
{
	(void)arg;
	if (!res)
		log_warn("could not record a bot or chat change: %s", err);
}

/* 403: the bot was removed from the chat; 400 "chat not found": the chat is gone. */
static void note_rejection(struct task *t, int code, const char *description)
{
	char bot[24], chat[24];
	const char *p[2] = { chat, bot };
	struct log_ctx c = ctx_of(t);

	snprintf(bot, sizeof bot, "%lld", (long long)t->job.bot_id);
	snprintf(chat, sizeof chat, "%lld", (long long)t->job.chat_id);
	if (code == 403) {
		log_msg(LOG_WARNING, &c, "telegram 403: bot marked out of the chat");
		if (pgc_query(wk_pg(t->w), "UPDATE chat_bots SET status = 'kicked' "
			      "WHERE chat_id = $1 AND bot_id = $2", 2, p, on_side_effect, NULL) < 0)
			log_warn("could not mark bot %s out of chat %s", bot, chat);
	} else if (code == 400 && strstr(description, "chat not found")) {
		log_msg(LOG_WARNING, &c, "telegram 400 chat not found: chat disabled");
		if (pgc_query(wk_pg(t->w), "UPDATE chats SET enabled = false WHERE id = $1", 1, p,
			      on_side_effect, NULL) < 0)
			log_warn("could not disable chat %s", chat);
	}
}

/* A known failure before Telegram took the message: send again later. */
static void mark_retry(struct task *t, int64_t delay_ms, const char *why)
{
	struct wk *w = t->w;

	if (delay_ms < 0)
		delay_ms = backoff_full_jitter(t->attempt - 1, w->cfg.backoff_base_ms,
					       w->cfg.backoff_max_ms, &w->rng);
	t->outcome = SHM_OUT_RETRY;
	t->retry_delay_ms = delay_ms;
	mark(t, "retry", 0, why);
}

static void on_sent(const struct httpc_resp *r, void *arg)
{
	struct task *t = arg;
	struct tgw_result res;
	char why[256];

	t->answer_ns = uv_hrtime();
	if (r->err_kind == HTTPC_CONNECT) {
		tg_count(t, SHM_C_TG_NETERR, r, -1);
		mark_retry(t, -1, "telegram unreachable");
		return;
	}
	if (r->err_kind != HTTPC_OK) {
		/* The request left us: Telegram may have posted it. Never again. */
		tg_count(t, r->err_kind == HTTPC_TIMEOUT ? SHM_C_TG_TIMEOUT : SHM_C_TG_NETERR, r, -1);
		t->outcome = SHM_OUT_UNKNOWN;
		mark(t, "unknown", 0, r->err ? r->err : "network error after sending");
		return;
	}
	if (r->status >= 500) {
		tg_count(t, SHM_C_TG_5XX, r, -1);
		snprintf(why, sizeof why, "telegram HTTP %d", r->status);
		mark_retry(t, -1, why);
		return;
	}
	if (tgw_parse(r->body, r->body_len, &res, why, sizeof why) < 0) {
		tg_count(t, r->status == 200 ? SHM_C_TG_NETERR : SHM_C_TG_4XX, r, -1);
		t->outcome = SHM_OUT_UNKNOWN;
		mark(t, "unknown", 0, why);
		return;
	}
	if (res.ok) {
		tg_count(t, SHM_C_TG_OK, r, -1);
		t->outcome = SHM_OUT_SENT;
		talk_sent(t);
		mark(t, "sent", res.message_id, NULL);
		return;
	}
	if (r->status == 429 || res.error_code == 429) {
		long ra = res.retry_after >= 0 ? res.retry_after : r->retry_after_s;
		tg_count(t, SHM_C_TG_429, r, ra);
		mark_retry(t, ra >= 0 ? ra * 1000 : 1000, "telegram 429");
		return;
	}
	tg_count(t, SHM_C_TG_4XX, r, -1);
	note_rejection(t, res.error_code ? res.error_code : r->status, res.description);
	snprintf(t->why, sizeof t->why, "telegram %d: %.200s", res.error_code, res.description);
	t->outcome = SHM_OUT_FAILED;
	mark(t, "failed", 0, t->why);
}

static void send_message(struct task *t)
{
	struct wk *w = t->w;
	char *body = tgw_send_message(t->job.chat_id, t->text, task_reply_to(t));
	const char *headers[] = { "Content-Type: application/json", NULL };
	struct httpc_req req = { 0 };
	char url[TOK_MAX + 300];

	if (!body) {
		mark_retry(t, -1, "out of memory");
		return;
	}
	/* The URL holds the bot's token: it goes to curl and nowhere else. */
	snprintf(url, sizeof url, "%s/bot%s/sendMessage", w->cfg.telegram_api_url, t->bot_token);
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = w->cfg.telegram_timeout_ms;
	req.connect_timeout_ms = 3000;
	if (httpc_request(w->http, &req, on_sent, t) < 0)
		mark_retry(t, -1, "cannot start the request");
	memset(url, 0, sizeof url);
	free(body);
}

/* ---- entry ---- */

/* How long a first attempt waited on the queue once it was due (a delayed job
 * is due at not_before; a retry's wait is its backoff, not the queue's).
 * Producers' clocks may differ a little from ours. */
static void observe_queue_wait(struct task *t)
{
	int64_t due = t->job.enqueued_at > t->job.not_before ? t->job.enqueued_at
							     : t->job.not_before;
	int64_t waited = job_now_ms() - due;

	if (due > 0 && t->attempt == 1)
		shm_observe(t->w->slot, SHM_H_QUEUE_SECONDS, (double)(waited > 0 ? waited : 0) / 1000.0);
}

void task_start(struct wk *w, const char *id, const char *body, size_t len, int attempts)
{
	struct task *t = calloc(1, sizeof *t);
	char why[256];

	if (!t)
		return; /* the lease expires and the job comes back */
	t->w = w;
	snprintf(t->id, sizeof t->id, "%s", id);
	t->attempt = attempts;
	snprintf(t->token_s, sizeof t->token_s, "%d", attempts);
	t->leased_at = uv_now(w->loop);
	t->raw = strndup(body, len);
	t->next = w->tasks;
	if (w->tasks)
		w->tasks->prev = t;
	w->tasks = t;
	w->inflight++;
	shm_gauge(w->slot, SHM_G_INFLIGHT, w->inflight);
	if (!t->raw) {
		abandon(t, "out of memory");
		return;
	}
	if (job_decode(&t->job, body, len, why, sizeof why) < 0) {
		char reason[300];
		snprintf(reason, sizeof reason, "malformed job: %s", why);
		dead_letter(t, reason);
		return;
	}
	t->decoded = 1;
	observe_queue_wait(t);
	/* A reply's id is derived from the message it answers, so a repeated
	 * update can queue it again after it ran: the outbox says so first. */
	if (attempts > 1 || t->job.kind == JOB_REPLY) {
		/* The outbox first: a row an earlier attempt left decides before the
		 * attempt count does (a 'sending' row becomes 'unknown', not failed). */
		const char *p[1] = { t->id };
		query(t, "SELECT status, attempt FROM messages WHERE job_id = $1", 1, p, on_outbox_row);
		return;
	}
	load_bot(t);
}
