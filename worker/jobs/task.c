/* task: see task.h. A job's steps in the runner:
 *
 *   lease -> [attempt > 1: look at the outbox row] -> the kind's steps (bot,
 *   history, LLM) -> claim the outbox row (sending) -> sendMessage -> mark
 *   sent -> ack
 *
 * The outbox row in PostgreSQL is the truth about a send (DESIGN.md): a row
 * found 'sending' by a later attempt may have been sent, so it becomes 'unknown'
 * and is never sent again; only failures known to happen before Telegram took
 * the message (429, 5xx, connection refused) become 'retry'. Every step that
 * cannot go on ends in ack, nack (with backoff) or a dead letter. */
#include "worker/jobs/task.h"

#include "common/backoff.h"
#include "common/cfg.h"
#include "common/job.h"
#include "common/log.h"
#include "common/net/httpc.h"
#include "common/net/later.h"
#include "common/net/pgb.h"
#include "common/net/pgpool.h"
#include "common/rq.h"
#include "common/settings.h"
#include "common/tok.h"
#include "common/utf8.h"
#include "worker/calls/budget.h"
#include "worker/calls/llm.h"
#include "worker/calls/llmw.h"
#include "worker/calls/tgc.h"
#include "worker/calls/tgw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A spent daily budget is looked at again this often, in memory, for up to
 * TASK_HOLD_MAX_MS, before the job waits for the day's end in the queue. */
#define TASK_BUDGET_RECHECK_MS 5000

/* The cause of a row found 'sending' by a later attempt, made 'unknown': the
 * attempt that claimed it ended (a crash, a kill, a lease lost) between the
 * claim and Telegram's answer. In SQL literals: no quote in it. */
#define TASK_CUT_CAUSE \
	"cut: an attempt ended between its claim and the answer (a crash or a lost lease)"

struct task {
	struct tasks *r;  /* the runner */
	char *id;         /* the queue's id, exactly (any length or bytes):
			   * the ack must name the job it leased */
	char token_s[16]; /* the lease token: this attempt's number */
	int attempt;
	struct rq_tries tries; /* what ended the earlier leases */
	int decoded;
	struct job job;
	char *raw;            /* the job as leased, for dead letters */
	size_t raw_len;       /* its bytes (a NUL may be among them) */
	int provider;         /* index in cfg.providers being tried */
	uint64_t llm_gen;     /* its breaker generation */
	struct tgc_ticket tk; /* Telegram admission of this send */
	char bot_name[64];
	char bot_token[TOK_MAX];
	char *system, *user, *text;
	uint64_t leased_at;
	enum shm_outcome outcome;
	int64_t retry_delay_ms; /* for a send marked 'retry' */
	char why[256];          /* for a send marked 'failed' */
	struct task *prev, *next;
	/* what a completion is for (the message, a paraphrase, the guard, a
	 * memorize summary); it owns text afterwards */
	void (*llm_next)(struct task *t, char *text);
	struct llmw_params par;
	const struct task_kind *kind; /* set once decoded */
	void *data;                   /* the kind's state */
	json_t *meta;                 /* metadata stored with the message row */
	int64_t row_id;               /* messages.id of the claimed row */
	int64_t tg_id;                /* Telegram's message_id once sent */
	int64_t sent_ms;              /* when Telegram answered (messages.sent_at) */
	int off_slot;                 /* typing: not counted in inflight */
	int row_retry;                /* this attempt found its row 'retry' and has not
				       * claimed it again: an end without a send must
				       * make it terminal (close_retry_row) */
	uint64_t claim_ns;            /* uv_hrtime when the claim was asked for */
	uint64_t answer_ns;           /* uv_hrtime of Telegram's answer (0: none) */
	struct later *hold;           /* waiting on a timer (see hold); NULL otherwise */
	struct later *remark;         /* the outcome's write waits for the database */
	const char *mark_status;      /* the outcome to write (a literal) */
	char mark_err[256];
	uint64_t mark_since; /* uv_now of the first failed write, 0 = none */
	void (*hold_fn)(void *task);
	uint64_t hold_until; /* uv_now when hold_fn is due */
	enum task_llm_reason llm_why;
	struct budget_ask bask;            /* the fleet budget reserved for this LLM request */
	char bprov[32];                    /* bask.provider */
	int budget_held;                   /* bask is reserved: settle it with the answer */
	int budget_skip;                   /* a spent budget skips the job (the kind says) */
	int64_t budget_waited_ms;          /* held in memory for a spent day so far */
	void (*keep_next)(struct task *t); /* task_keep: on once the queue answered */
};

struct tasks {
	struct tasks_deps d;
	uint64_t rng;
	struct pgb *claims, *marks; /* the outbox writes of a loop turn, batched */
	struct task *head;          /* in memory, for lease renewal */
	int inflight;
	int draining;               /* tasks_drain: hold hands jobs back instead */
	const struct settings *set; /* retry_max_age_s, retry_max_takeovers */
	struct settings defaults;   /* ... until tasks_set_settings */
	struct task_kind kinds[JOB_KIND_COUNT];
};

static void start_kind(struct task *t);
static void call_llm(struct task *t);
static void take_budget(struct task *t);
static void claim(struct task *t);
static void admit(struct task *t);
static void send_message(struct task *t);
static void dead_letter(struct task *t, const char *reason);
static void abandon(struct task *t, const char *why);
static int query(struct task *t, const char *sql, int n, const char *const *p, pgc_cb cb);

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

static void task_free(struct task *t)
{
	struct tasks *w = t->r;

	if (t->prev)
		t->prev->next = t->next;
	else
		w->head = t->next;
	if (t->next)
		t->next->prev = t->prev;
	if (t->hold)
		later_cancel(t->hold);
	if (t->remark)
		later_cancel(t->remark);
	job_clear(&t->job);
	free(t->id);
	free(t->raw);
	free(t->system);
	free(t->user);
	free(t->text);
	if (t->kind && t->kind->clear)
		t->kind->clear(t, t->kind->arg);
	json_decref(t->meta);
	memset(t->bot_token, 0, sizeof t->bot_token);
	if (!t->off_slot)
		w->inflight--;
	free(t);
	shm_gauge(w->d.slot, SHM_G_INFLIGHT, w->inflight);
}

void task_done(struct task *t, int acked)
{
	struct tasks *w = t->r;
	struct shm_slot *slot = w->d.slot;
	double secs = (double)(uv_now(w->d.loop) - t->leased_at) / 1000.0;

	if (t->answer_ns)
		shm_observe(slot, SHM_H_FINISH_SECONDS, (double)(uv_hrtime() - t->answer_ns) / 1e9);

	if (t->decoded) {
		shm_job(slot, t->job.kind, t->outcome);
		shm_observe_job(slot, t->job.kind, secs);
		if (t->outcome == SHM_OUT_SENT && t->job.enqueued_at > 0)
			shm_observe(slot, SHM_H_E2E_SECONDS,
				    (double)(job_now_ms() - t->job.enqueued_at) / 1000.0);
	}
	(void)acked; /* a lost lease is counted by the queue, which knows */
	task_free(t);
	w->d.freed(w->d.arg);
}

static void finish(struct task *t, enum shm_outcome o)
{
	t->outcome = o;
	t->r->d.ack(t, t->r->d.arg);
}

static void on_retry_row_closed(PGresult *res, const char *err, void *arg)
{
	struct task *t = arg;

	if (!res) {
		abandon(t, err); /* the next attempt finds 'retry' and decides again */
		return;
	}
	finish(t, t->outcome);
}

/* An earlier attempt's send was refused before Telegram took it (429, 5xx) and
 * left the row 'retry'; this attempt ends without sending (the kind skipped it,
 * or failed). 'retry' is not an end: acked as it is, the job would leave a row
 * no one finishes (GUARANTEES.md: every job ends in one terminal row). Nothing
 * was posted, so the row becomes 'failed', saying why after the send's error. */
static void close_retry_row(struct task *t, enum shm_outcome o)
{
	static const char sql[] =
		"UPDATE messages SET status = 'failed', error = 'not sent: ' || $3 || ' on attempt ' "
		"|| $2 || ', after: ' || coalesce(error, '') WHERE job_id = $1 AND status = 'retry'";
	const char *p[3] = { t->id, t->token_s, o == SHM_OUT_SKIPPED ? "skipped" : "given up" };

	t->outcome = o;
	t->row_retry = 0;
	query(t, sql, 3, p, on_retry_row_closed);
}

void task_finish(struct task *t, enum shm_outcome o)
{
	if (t->row_retry && o != SHM_OUT_SENT) {
		close_retry_row(t, o);
		return;
	}
	finish(t, o);
}

struct log_ctx task_log_ctx(const struct task *t)
{
	return ctx_of(t);
}

/* The backoff grows with the failed tries, not with the leases: a job taken
 * back from a dead worker, or waiting out an outage, has not failed. */
static int64_t backoff_of(struct task *t)
{
	const struct cfg *c = t->r->d.cfg;

	return backoff_full_jitter(t->tries.faults, c->backoff_base_ms, c->backoff_max_ms, &t->r->rng);
}

/* Waiting out an outage of PostgreSQL: soon, spread, and not leased again
 * before the database is back (the worker's room is 0 meanwhile). */
#define OUTAGE_WAIT_MS 1000

/* What failed in a try handed back as failed (piyasa_job_failures_total). */
enum fault { NO_FAULT, FAULT_LLM, FAULT_TELEGRAM, FAULT_STEP };

/* fault: this try failed (a 5xx, a 429, a timeout, bad JSON: it counts
 * towards max_attempts), and what failed; NO_FAULT: the job only waits (an
 * outage of our own, a long pause, a drain). delay_ms < 0: the backoff, or
 * the outage wait. */
static void retry_later(struct task *t, int64_t delay_ms, enum fault fault)
{
	static const enum shm_counter counter[] = { SHM_C_COUNT, SHM_C_FAIL_LLM,
						    SHM_C_FAIL_TELEGRAM, SHM_C_FAIL_STEP };

	if (fault != NO_FAULT)
		shm_count(t->r->d.slot, counter[fault], 1);
	if (delay_ms < 0)
		delay_ms = fault ? backoff_of(t)
				 : OUTAGE_WAIT_MS + backoff_uniform_upto(OUTAGE_WAIT_MS, &t->r->rng);
	t->outcome = SHM_OUT_RETRY;
	t->r->d.nack(t, delay_ms, fault != NO_FAULT, t->r->d.arg);
}

/* PostgreSQL is down or the connection broke under the query (pgc.h's
 * "connection lost: ", a query pgc could not even send, an admin shutdown or
 * a server not accepting connections yet): an outage, not the job's fault. */
static int pg_outage(const struct task *t, const char *err)
{
	if (!pgpool_up(t->r->d.pg))
		return 1;
	return err && (strncmp(err, "connection lost", 15) == 0 ||
		       strcmp(err, "database unavailable") == 0 || strncmp(err, "57P", 3) == 0 ||
		       strncmp(err, "08", 2) == 0);
}

/* A kind's retry: with a delay, a wait (a cap); without, a failed step,
 * unless the database is down (its query could not run). */
void task_retry(struct task *t, int64_t delay_ms)
{
	retry_later(t, delay_ms, delay_ms < 0 && !pg_outage(t, NULL) ? FAULT_STEP : NO_FAULT);
}

static void on_hold_due(void *arg)
{
	struct task *t = arg;

	t->hold = NULL;
	t->hold_fn(t);
}

/* Every wait of a task in memory goes through here: pacing, an LLM provider
 * that comes back, a cap, typing. Each comes before the outbox row is claimed,
 * so a draining worker hands the job back to the queue (nacked, due when fn
 * would have run) instead of keeping the drain waiting up to TASK_HOLD_MAX_MS
 * (tasks_drain). */
static void hold(struct task *t, uint64_t ms, void (*fn)(void *task))
{
	struct tasks *w = t->r;

	if (w->draining) {
		retry_later(t, (int64_t)ms, NO_FAULT);
		return;
	}
	t->hold_fn = fn;
	t->hold_until = uv_now(w->d.loop) + ms;
	if (!(t->hold = later_start(w->d.loop, ms, on_hold_due, t)))
		fn(t); /* no memory for a timer: now rather than never */
}

/* The database is unreachable mid-job. The outbox row tells the next attempt
 * where this one was, so the job may go back to the queue: in an outage, at
 * once and without spending a try (it waits it out); for anything else (a
 * query PostgreSQL refused, no memory), left to its lease as before, which
 * the reaper counts as a takeover (bounded by retry_max_takeovers). */
static void abandon(struct task *t, const char *why)
{
	struct log_ctx c = ctx_of(t);

	shm_count(t->r->d.slot, SHM_C_PG_ERRORS, 1);
	if (t->id && pg_outage(t, why)) {
		log_msg(LOG_WARNING, &c, "job handed back until the database is back: %s", why);
		retry_later(t, -1, NO_FAULT);
		return;
	}
	log_msg(LOG_WARNING, &c, "job left to its lease: %s", why);
	t->outcome = SHM_OUT_RETRY;
	task_done(t, 1);
}

static int query(struct task *t, const char *sql, int n, const char *const *p, pgc_cb cb)
{
	if (pgc_query(pgpool_pick(t->r->d.pg), sql, n, p, cb, t) < 0) {
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
	shm_count(t->r->d.slot, SHM_C_DEAD_LETTERS, 1);
	finish(t, SHM_OUT_FAILED);
}

/* Every text of a dead letter as PostgreSQL takes it (a parameter that is not
 * UTF-8 fails with 22021: the job was then leased again for ever): the job's
 * bytes as they are or in base64 (job_raw_text), the id and the reason with
 * any bad byte replaced. */
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
	char bot[24], chat[24], att[16], id[256], why[512];
	char *job = job_raw_text(t->raw, t->raw_len);
	const char *p[7] = { id, t->decoded ? job_kind_name(t->job.kind) : "", bot, chat, att, job,
			     why };
	struct log_ctx c = ctx_of(t);

	log_msg(LOG_WARNING, &c, "dead letter: %s", reason);
	if (!job) {
		abandon(t, "out of memory");
		return;
	}
	utf8_cut(id, sizeof id, t->id);
	utf8_cut(why, sizeof why, reason);
	snprintf(bot, sizeof bot, "%lld", (long long)t->job.bot_id);
	snprintf(chat, sizeof chat, "%lld", (long long)t->job.chat_id);
	snprintf(att, sizeof att, "%d", t->attempt);
	query(t, sql, 7, p, on_dead_written);
	free(job);
}

void task_dead(struct task *t, const char *reason)
{
	dead_letter(t, reason);
}

/* ---- a second attempt first reads the outbox ---- */

/* Out of tries (rq_give_up: failed tries, their age, takeovers): a dead
 * letter; otherwise on to the kind's steps. */
static void proceed(struct task *t)
{
	const struct settings *s = t->r->set;
	char why[160];

	if (rq_give_up(&t->tries, t->r->d.cfg->max_attempts, s->retry_max_age_s,
		       s->retry_max_takeovers, why, sizeof why)) {
		dead_letter(t, why);
		return;
	}
	start_kind(t);
}

static void on_outbox_row(PGresult *res, const char *err, void *arg);

static void on_unknown_marked(PGresult *res, const char *err, void *arg)
{
	struct task *t = arg;
	const char *p[1] = { t->id };

	if (!res) {
		abandon(t, err);
		return;
	}
	/* No row changed: the earlier attempt's outcome landed between our read
	 * and this write (its worker was killed with the write on its way). Acked
	 * now, a 'retry' row would be left for good: read the row again. */
	if (strcmp(PQcmdTuples(res), "0") == 0) {
		query(t, "SELECT status, attempt FROM messages WHERE job_id = $1", 1, p, on_outbox_row);
		return;
	}
	finish(t, SHM_OUT_UNKNOWN);
}

static void on_outbox_row(PGresult *res, const char *err, void *arg)
{
	static const char mark[] = "UPDATE messages SET status = 'unknown', error = '" TASK_CUT_CAUSE
				   "' WHERE job_id = $1 AND status = 'sending' AND attempt < $2";
	struct task *t = arg;
	const char *st, *p[2] = { t->id, t->token_s };

	if (!res) {
		abandon(t, err);
		return;
	}
	if (PQntuples(res) == 0 || strcmp((st = PQgetvalue(res, 0, 0)), "retry") == 0) {
		t->row_retry = PQntuples(res) > 0;
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

/* ---- the kind's steps ---- */

static void start_kind(struct task *t)
{
	char why[64];

	if (!t->kind) {
		snprintf(why, sizeof why, "no worker runs %s jobs", job_kind_name(t->job.kind));
		dead_letter(t, why);
		return;
	}
	t->kind->start(t, t->kind->arg);
}

/* ---- the LLM ---- */

static void llm_failed(struct task *t, enum llmw_failure f, long retry_after_s, const char *why)
{
	const struct cfg *cfg = t->r->d.cfg;
	struct log_ctx c = ctx_of(t);

	c.provider = cfg->providers[t->provider].name;
	log_msg(LOG_WARNING, &c, "llm call failed: %s", why);
	if (f == LLMW_BAD_REQUEST) {
		dead_letter(t, why);
		return;
	}
	/* Fall through to the next provider at once; after the last, back off. */
	if (t->provider + 1 < cfg->nproviders) {
		t->provider++;
		call_llm(t);
		return;
	}
	retry_later(t, f == LLMW_RATE_LIMIT ? backoff_retry_after_ms(retry_after_s) : -1, FAULT_LLM);
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
	struct tasks *w = t->r;

	llm_done(w->d.llm, t->provider, t->llm_gen, (int64_t)uv_now(w->d.loop), o,
		 (int)(r->total_s * 1000), r->retry_after_s, t->job.bot_id, tokens);
}

static void count_llm(struct task *t, const struct httpc_resp *r, enum llmw_failure f, int ok)
{
	struct shm_slot *s = t->r->d.slot;
	int p = t->provider;

	shm_observe_llm(s, p, r->total_s);
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

/* The x-ratelimit-* headers: a provider with no requests or tokens left
 * until its reset pauses the whole fleet's calls to it until then, before a
 * 429 would (a 429's reset does the same). */
static void note_ratelimit(struct task *t, const struct httpc_resp *r)
{
	struct tasks *w = t->r;
	int64_t ms = -1, m;

	if (!w->d.budget || !r->status || (!r->rl.reset_requests[0] && !r->rl.reset_tokens[0]))
		return;
	if ((r->rl.remaining_requests == 0 || r->status == 429) &&
	    (m = budget_parse_reset(r->rl.reset_requests)) > ms)
		ms = m;
	if ((r->rl.remaining_tokens == 0 || r->status == 429) &&
	    (m = budget_parse_reset(r->rl.reset_tokens)) > ms)
		ms = m;
	if (ms > 0) {
		budget_pause(w->d.budget, w->d.cfg->providers[t->provider].name, ms);
		shm_count(w->d.slot, SHM_C_LLM_PACED, 1);
	}
}

/* The reservation made for this request becomes what it used: its usage, or
 * nothing for an answer the provider refused (429, 5xx, no connection); a
 * timeout or a cut answer keeps the estimate, as the provider may bill it. */
static void settle_budget(struct task *t, const struct httpc_resp *r, int64_t used)
{
	if (!t->budget_held)
		return;
	t->budget_held = 0;
	if (used >= 0)
		budget_settle(t->r->d.budget, &t->bask, used - t->bask.est);
	else if (r->err_kind == HTTPC_CONNECT || r->status == 429 || r->status >= 500)
		budget_settle(t->r->d.budget, &t->bask, -t->bask.est);
}

static void on_llm(const struct httpc_resp *r, void *arg)
{
	struct task *t = arg;
	struct llmw_result res;
	char why[256];

	note_ratelimit(t, r);
	if (r->err_kind != HTTPC_OK || r->status != 200) {
		settle_budget(t, r, -1);
		enum llmw_failure f = r->err_kind != HTTPC_OK
					      ? LLMW_SERVER
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
		settle_budget(t, r, -1);
		count_llm(t, r, LLMW_SERVER, 0);
		llm_record(t, r, LLM_FAILED, 0);
		if (res.content)
			snprintf(why, sizeof why, "empty completion");
		llmw_result_clear(&res);
		llm_failed(t, LLMW_SERVER, -1, why);
		return;
	}
	settle_budget(t, r, (int64_t)res.prompt_tokens + res.completion_tokens);
	count_llm(t, r, LLMW_SERVER, 1);
	shm_count(t->r->d.slot, SHM_C_LLM_DONE_DRAFT + (int)t->llm_why, 1);
	llm_record(t, r, LLM_OK, res.prompt_tokens + res.completion_tokens); /* each clamped */
	shm_pcount(t->r->d.slot, t->provider, SHM_P_PROMPT_TOKENS, (uint64_t)res.prompt_tokens);
	shm_pcount(t->r->d.slot, t->provider, SHM_P_COMPLETION_TOKENS, (uint64_t)res.completion_tokens);
	t->llm_next(t, res.content);
}

void task_llm(struct task *t, enum task_llm_reason why, char *system, char *user,
	      const struct llmw_params *par, void (*next)(struct task *t, char *text))
{
	t->llm_why = why;
	free(t->system);
	free(t->user);
	t->system = system;
	t->user = user;
	t->par = *par;
	t->llm_next = next;
	t->provider = 0;
	if (!system || !user) {
		retry_later(t, -1, FAULT_STEP);
		return;
	}
	call_llm(t);
}

static void on_llm_due(void *arg)
{
	call_llm(arg);
}

static void send_llm(struct task *t);

static void on_budget(enum budget_verdict v, int64_t wait, int first, void *arg)
{
	struct task *t = arg;
	struct tasks *w = t->r;
	const struct cfg *cfg = w->d.cfg;
	struct log_ctx c = ctx_of(t);

	if (v == BUDGET_OK || v == BUDGET_UNKNOWN) {
		/* Unknown: Redis did not answer; the worker's own limits stand. */
		t->budget_held = v == BUDGET_OK;
		send_llm(t);
		return;
	}
	/* The breaker let this call through: give the pass back unused. */
	llm_done(w->d.llm, t->provider, t->llm_gen, (int64_t)uv_now(w->d.loop), LLM_BAD_REQUEST, 0,
		 -1, t->job.bot_id, 0);
	c.provider = cfg->providers[t->provider].name;
	if (first) /* once a day for the fleet, whatever the number of jobs */
		log_msg(LOG_WARNING, &c,
			"LLM budget spent for today: %s %s (daily tokens %lld); jobs %s until 00:00 UTC",
			budget_verdict_name(v),
			v == BUDGET_PROVIDER_SPENT ? t->bprov
			: v == BUDGET_BOT_SPENT    ? "of this bot"
						   : "of this chat",
			v == BUDGET_PROVIDER_SPENT ? t->bask.daily
			: v == BUDGET_BOT_SPENT    ? t->bask.bot_daily
						   : t->bask.chat_daily,
			t->budget_skip ? "are skipped" : "wait");
	if ((v == BUDGET_PACED || v == BUDGET_PROVIDER_SPENT) && t->provider + 1 < cfg->nproviders) {
		t->provider++;
		call_llm(t);
		return;
	}
	if (v != BUDGET_PACED && t->budget_skip) {
		shm_count(w->d.slot, SHM_C_BUDGET_SKIPS, 1);
		task_finish(t, SHM_OUT_SKIPPED);
		return;
	}
	shm_count(w->d.slot, v == BUDGET_PACED ? SHM_C_LLM_PACED_WAITS : SHM_C_BUDGET_WAITS, 1);
	t->provider = 0;
	if (wait <= 0)
		wait = 100;
	/* A spent day may have room again soon: the calls in flight reserved
	 * their max_tokens and settle lower. So the job looks again every few
	 * seconds for a while, in memory, before it waits for the day's end in
	 * the queue. */
	if (v != BUDGET_PACED && wait > TASK_BUDGET_RECHECK_MS &&
	    t->budget_waited_ms + TASK_BUDGET_RECHECK_MS <= TASK_HOLD_MAX_MS) {
		t->budget_waited_ms += TASK_BUDGET_RECHECK_MS;
		hold(t, TASK_BUDGET_RECHECK_MS, on_llm_due);
	} else if (wait <= TASK_HOLD_MAX_MS)
		hold(t, (uint64_t)wait, on_llm_due);
	else
		retry_later(t, wait, 0); /* a budget: a wait, not a failed try */
}

/* The fleet's budgets for this request: its estimated tokens (the prompt's
 * bytes / 4, never fewer than a provider's characters / 4, plus max_tokens)
 * reserved in Redis, or the reason to wait or skip. */
static void take_budget(struct task *t)
{
	struct tasks *w = t->r;
	const struct cfg_provider *p = &w->d.cfg->providers[t->provider];
	struct task_budget tb = { 0, 0, 0 };

	if (t->kind && t->kind->budget)
		t->kind->budget(t, t->kind->arg, &tb);
	snprintf(t->bprov, sizeof t->bprov, "%s", p->name);
	t->bask = (struct budget_ask){ .provider = t->bprov,
				       .rpm = p->rpm,
				       .tpm = p->tpm,
				       .daily = p->daily_tokens,
				       .bot_id = t->job.bot_id,
				       .chat_id = t->job.chat_id,
				       .bot_daily = tb.bot_daily,
				       .chat_daily = tb.chat_daily,
				       .est = (int64_t)(strlen(t->system) + strlen(t->user) + 3) / 4 +
					      8 + (t->par.max_tokens > 0 ? t->par.max_tokens : 512) };
	t->budget_skip = tb.skip;
	if (budget_take(w->d.budget, &t->bask, job_now_ms(), on_budget, t) < 0)
		send_llm(t); /* Redis is down: the worker's own limits stand */
}

static void call_llm(struct task *t)
{
	struct tasks *w = t->r;
	int64_t wait;
	int i = llm_pick(w->d.llm, t->provider, (int64_t)uv_now(w->d.loop), &t->llm_gen, &wait);

	if (i < 0) {
		/* Every provider is open, cooling down or out of budget: wait for the
		 * first to come back without spending an attempt, unless that is long. */
		t->provider = 0;
		if (wait <= TASK_HOLD_MAX_MS)
			hold(t, (uint64_t)wait, on_llm_due);
		else
			retry_later(t, wait, NO_FAULT);
		return;
	}
	t->provider = i;
	if (w->d.budget && !t->budget_held) {
		take_budget(t);
		return;
	}
	send_llm(t);
}

static void send_llm(struct task *t)
{
	struct tasks *w = t->r;
	int i = t->provider;
	const struct cfg_provider *p = &w->d.cfg->providers[i];
	struct llmw_msg msgs[2] = { { "system", t->system }, { "user", t->user } };
	char url[300], auth[300];
	const char *headers[] = { "Content-Type: application/json", auth, NULL };
	struct httpc_req req = { 0 };
	char *body = llmw_request(p->model, msgs, 2, &t->par);

	if (!body) {
		retry_later(t, -1, FAULT_STEP);
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
	req.want_ratelimit = 1;
	/* Every request that leaves is counted by what it is for: failed ones
	 * too, as a provider may bill a timed-out call. */
	shm_count(w->d.slot, SHM_C_LLM_DRAFT + (int)t->llm_why, 1);
	if (httpc_request(w->d.http, &req, on_llm, t) < 0) {
		free(body);
		if (t->budget_held) { /* nothing left: give the reservation back */
			budget_settle(w->d.budget, &t->bask, -t->bask.est);
			t->budget_held = 0;
		}
		llm_done(w->d.llm, i, t->llm_gen, (int64_t)uv_now(w->d.loop), LLM_BAD_REQUEST, 0,
			 -1, t->job.bot_id, 0);
		llm_failed(t, LLMW_SERVER, -1, "cannot start the request");
		return;
	}
	free(body);
}

/* ---- the draft kept with its job ---- */

void task_keep(struct task *t, json_t *draft, void (*next)(struct task *t))
{
	struct tasks *w = t->r;
	char *body;

	if (!draft || json_object_set_new(t->job.payload, "draft", draft) < 0 || !w->d.keep ||
	    !(body = job_encode(&t->job))) {
		next(t);
		return;
	}
	t->keep_next = next;
	w->d.keep(t, body, w->d.arg);
	free(body);
}

void task_kept(struct task *t, int kept)
{
	if (kept)
		shm_count(t->r->d.slot, SHM_C_DRAFTS_KEPT, 1);
	else {
		/* Not fatal: the outbox still decides the send; a later attempt
		 * only drafts again. */
		struct log_ctx c = ctx_of(t);
		log_msg(LOG_INFO, &c, "draft not kept with its job (Redis, or a lost lease)");
	}
	t->keep_next(t);
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
	struct tasks *w = t->r;
	int64_t wait = tgc_admit(w->d.tgc, t->job.bot_id, t->job.chat_id,
				 (int64_t)uv_now(w->d.loop), &t->tk);

	if (wait == 0)
		claim(t);
	else if (wait <= TASK_HOLD_MAX_MS)
		hold(t, (uint64_t)wait, on_admit_due);
	else
		retry_later(t, wait, NO_FAULT);
}

void task_send(struct task *t, char *text)
{
	free(t->text);
	t->text = text;
	admit(t);
}

/* The Telegram message answered: the kind's choice, else the job's payload. */
static int64_t task_reply_to(const struct task *t)
{
	json_t *rt = json_object_get(t->job.payload, "reply_to_message_id");
	int64_t id = t->kind && t->kind->reply_to ? t->kind->reply_to(t, t->kind->arg) : 0;

	return id ? id : json_is_integer(rt) ? (int64_t)json_integer_value(rt) : 0;
}

static void on_claimed(PGresult *res, int row, const char *err, void *arg)
{
	struct task *t = arg;
	const char *st;

	shm_observe(t->r->d.slot, SHM_H_CLAIM_SECONDS, (double)(uv_hrtime() - t->claim_ns) / 1e9);
	if (!res || row < 0) {
		struct log_ctx c = ctx_of(t);
		log_msg(LOG_WARNING, &c, "outbox row not claimed: %s", err ? err : "no row returned");
		/* Nothing was sent: safe to run again; a failed try only when the
		 * database was up and refused it. */
		retry_later(t, -1, pg_outage(t, err) ? NO_FAULT : FAULT_STEP);
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
	"('retry', 'sending') THEN EXCLUDED.attempt ELSE messages.attempt END, "
	/* The cause is this attempt's: not the one of the retry before it. */
	"error = CASE WHEN EXCLUDED.attempt <= messages.attempt THEN messages.error "
	"WHEN messages.status = 'retry' THEN NULL "
	"WHEN messages.status = 'sending' THEN '" TASK_CUT_CAUSE "' ELSE messages.error END "
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
	return pgpool_pick(arg);
}

static int batches_new(struct tasks *w)
{
	w->claims = pgb_new(w->d.loop, claim_sql, BATCH_ROWS, batch_conn, w->d.pg);
	w->marks = pgb_new(w->d.loop, mark_sql, BATCH_ROWS, batch_conn, w->d.pg);
	if (!w->claims || !w->marks)
		return -1;
	/* One statement of each kind out at a time: under load the rows of many
	 * turns share one statement and one commit, and a job's rows commit in
	 * the order they were written. */
	pgb_set_window(w->claims, 1);
	pgb_set_window(w->marks, 1);
	return 0;
}

static void claim(struct task *t)
{
	t->row_retry = 0; /* the claim takes the row over: its mark ends it */
	json_t *row = json_pack("{s:s, s:I, s:I, s:i, s:s, s:I, s:I, s:O?}", "job_id", t->id,
				"bot_id", (json_int_t)t->job.bot_id, "chat_id",
				(json_int_t)t->job.chat_id, "attempt", t->attempt, "text", t->text,
				"reply_to", (json_int_t)task_reply_to(t), "enq",
				(json_int_t)t->job.enqueued_at, "meta", t->meta);

	if (!row) {
		retry_later(t, -1, FAULT_STEP);
		return;
	}
	t->claim_ns = uv_hrtime();
	if (pgb_add(t->r->claims, t->id, row, on_claimed, t) < 0)
		abandon(t, "database unavailable");
}

/* The message as the chat's context query would read it back. */
static void tell_kind(struct task *t)
{
	struct task_sent s = { t->row_id, t->tg_id, t->sent_ms, task_reply_to(t), t->text };

	if (t->kind && t->kind->recorded)
		t->kind->recorded(t, &s, t->kind->arg);
}

static void write_mark(struct task *t);

static void on_remark_due(void *arg)
{
	struct task *t = arg;

	t->remark = NULL;
	write_mark(t);
}

/* The outcome's write failed (PostgreSQL down or restarting). The outcome is
 * known (Telegram answered), so the task keeps it in memory, its lease renewed
 * like any task's, and writes it again every TASK_REMARK_EVERY_MS, for up to
 * TASK_REMARK_FOR_MS; then it is left to its lease as before, and the next
 * attempt finds 'sending' and marks 'unknown'. */
static void mark_failed(struct task *t, const char *why)
{
	struct tasks *w = t->r;
	uint64_t now = uv_now(w->d.loop);
	struct log_ctx c = ctx_of(t);

	if (!t->mark_since) {
		t->mark_since = now;
		shm_count(w->d.slot, SHM_C_PG_ERRORS, 1);
		log_msg(LOG_WARNING, &c,
			"outcome '%s' not recorded: %s; keeping it, writing it "
			"again for up to %d s",
			t->mark_status, why, TASK_REMARK_FOR_MS / 1000);
	}
	if (now - t->mark_since >= TASK_REMARK_FOR_MS) {
		abandon(t, why);
		return;
	}
	if (!(t->remark = later_start(w->d.loop, TASK_REMARK_EVERY_MS, on_remark_due, t)))
		abandon(t, "out of memory");
}

static void on_marked(PGresult *res, int row, const char *err, void *arg)
{
	struct task *t = arg;

	(void)row;
	if (!res) {
		mark_failed(t, err ? err : "no result");
		return;
	}
	if (t->mark_since) {
		struct log_ctx c = ctx_of(t);
		log_msg(LOG_NOTICE, &c, "outcome '%s' recorded %.1f s after the first try",
			t->mark_status, (double)(uv_now(t->r->d.loop) - t->mark_since) / 1000.0);
	}
	if (t->outcome == SHM_OUT_RETRY)
		retry_later(t, t->retry_delay_ms, FAULT_TELEGRAM);
	else if (t->outcome == SHM_OUT_FAILED)
		dead_letter(t, t->why); /* the row is 'failed' already: it stays so */
	else {
		/* Now that the row reads 'sent', a chat context loaded anywhere has it. */
		if (t->outcome == SHM_OUT_SENT)
			tell_kind(t);
		finish(t, t->outcome);
	}
}

/* The outcome as recorded by mark, one row of the marks batch. */
static void write_mark(struct task *t)
{
	json_t *row =
		json_pack("{s:s, s:I, s:I, s:i, s:s, s:I, s:s, s:I}", "job_id", t->id, "bot_id",
			  (json_int_t)t->job.bot_id, "chat_id", (json_int_t)t->job.chat_id,
			  "attempt", t->attempt, "status", t->mark_status, "mid",
			  (json_int_t)t->tg_id, "error", t->mark_err, "at", (json_int_t)t->sent_ms);

	if (!row) {
		abandon(t, "out of memory");
		return;
	}
	/* Off the enqueue-to-sent path: with room to spare, an outcome waits a
	 * little for others to share its commit and its ack's script call (when
	 * jobs come one by one, a commit and an ack each); under pressure it goes
	 * on the next turn, as its job holds a slot. */
	pgb_set_delay(t->r->marks,
		      t->r->inflight * 4 <= t->r->d.cfg->max_inflight * 3 ? MARK_DELAY_MS : 0);
	if (pgb_add(t->r->marks, t->id, row, on_marked, t) < 0)
		mark_failed(t, "database unavailable");
}

/* Record what the send did; the outcome decides what follows (on_marked). */
static void mark(struct task *t, const char *status, int64_t message_id, const char *error)
{
	/* sent_at is when Telegram answered, not when the batch was written. */
	t->tg_id = message_id;
	t->sent_ms = job_now_ms();
	t->mark_status = status;
	/* Texts from curl or Telegram: jansson refuses a string that is not UTF-8,
	 * and the row would then stay 'sending'. */
	utf8_cut(t->mark_err, sizeof t->mark_err, error ? error : "");
	write_mark(t);
}

/* Metrics, and the breakers and pauses of tgc; retry_after_s only for a 429. */
static void tg_count(struct task *t, enum shm_counter c, const struct httpc_resp *r, long retry_after_s)
{
	enum tgc_outcome o = c == SHM_C_TG_OK    ? TGC_OK
			     : c == SHM_C_TG_429 ? TGC_RATE_LIMITED
			     : c == SHM_C_TG_4XX ? TGC_REJECTED
						 : TGC_FAILED;

	shm_count(t->r->d.slot, c, 1);
	shm_observe(t->r->d.slot, SHM_H_TG_SECONDS, r->total_s);
	tgc_done(t->r->d.tgc, &t->tk, (int64_t)uv_now(t->r->d.loop), o, (int)(r->total_s * 1000),
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
		if (pgc_query(pgpool_pick(t->r->d.pg),
			      "UPDATE chat_bots SET status = 'kicked' "
			      "WHERE chat_id = $1 AND bot_id = $2",
			      2, p, on_side_effect, NULL) < 0)
			log_warn("could not mark bot %s out of chat %s", bot, chat);
	} else if (code == 400 && strstr(description, "chat not found")) {
		log_msg(LOG_WARNING, &c, "telegram 400 chat not found: chat disabled");
		if (pgc_query(pgpool_pick(t->r->d.pg), "UPDATE chats SET enabled = false WHERE id = $1",
			      1, p, on_side_effect, NULL) < 0)
			log_warn("could not disable chat %s", chat);
	}
}

/* A known failure before Telegram took the message: send again later. */
static void mark_retry(struct task *t, int64_t delay_ms, const char *why)
{
	if (delay_ms < 0)
		delay_ms = backoff_of(t);
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
		if (t->kind && t->kind->sent)
			t->kind->sent(t, t->kind->arg);
		mark(t, "sent", res.message_id, NULL);
		return;
	}
	if (r->status == 429 || res.error_code == 429) {
		long ra = res.retry_after >= 0 ? res.retry_after : r->retry_after_s;
		tg_count(t, SHM_C_TG_429, r, ra);
		mark_retry(t, ra >= 0 ? backoff_retry_after_ms(ra) : 1000, "telegram 429");
		return;
	}
	tg_count(t, SHM_C_TG_4XX, r, -1);
	note_rejection(t, res.error_code ? res.error_code : r->status, res.description);
	tgw_failure_text(&res, t->why, sizeof t->why);
	t->outcome = SHM_OUT_FAILED;
	mark(t, "failed", 0, t->why);
}

static void send_message(struct task *t)
{
	const struct cfg *cfg = t->r->d.cfg;
	char *body = tgw_send_message(t->job.chat_id, t->text, task_reply_to(t));
	const char *headers[] = { "Content-Type: application/json", NULL };
	struct httpc_req req = { 0 };
	char url[TOK_MAX + 300];

	if (!body) {
		mark_retry(t, -1, "out of memory");
		return;
	}
	/* The URL holds the bot's token: it goes to curl and nowhere else. */
	snprintf(url, sizeof url, "%s/bot%s/sendMessage", cfg->telegram_api_url, t->bot_token);
	req.method = "POST";
	req.url = url;
	req.headers = headers;
	req.body = body;
	req.body_len = strlen(body);
	req.timeout_ms = cfg->telegram_timeout_ms;
	req.connect_timeout_ms = 3000;
	if (httpc_request(t->r->d.http, &req, on_sent, t) < 0)
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
	int64_t due = t->job.enqueued_at > t->job.not_before ? t->job.enqueued_at : t->job.not_before;
	int64_t waited = job_now_ms() - due;

	if (due > 0 && t->attempt == 1)
		shm_observe(t->r->d.slot, SHM_H_QUEUE_SECONDS,
			    (double)(waited > 0 ? waited : 0) / 1000.0);
}

void tasks_start(struct tasks *w, const char *id, const char *body, size_t len,
		 const struct rq_tries *tries)
{
	struct task *t = calloc(1, sizeof *t);
	int attempts = tries->lease;
	char why[256];

	if (!t)
		return; /* the lease expires and the job comes back */
	t->r = w;
	t->id = strdup(id);
	t->tries = *tries;
	t->attempt = attempts;
	snprintf(t->token_s, sizeof t->token_s, "%d", attempts);
	t->leased_at = uv_now(w->d.loop);
	if ((t->raw = malloc(len + 1))) {
		memcpy(t->raw, body, len);
		t->raw[len] = 0;
		t->raw_len = len;
	}
	t->next = w->head;
	if (w->head)
		w->head->prev = t;
	w->head = t;
	w->inflight++;
	shm_gauge(w->d.slot, SHM_G_INFLIGHT, w->inflight);
	if (!t->id || !t->raw) {
		abandon(t, "out of memory");
		return;
	}
	if (job_decode(&t->job, body, len, why, sizeof why) < 0) {
		char reason[300];
		snprintf(reason, sizeof reason, "malformed job: %s", why);
		dead_letter(t, reason);
		return;
	}
	if (strcmp(t->job.id, t->id) != 0) {
		/* Producers queue a job under its own id: another one (bytes that are
		 * not UTF-8, say) would reach the outbox queries, which refuse it, and
		 * the job would be leased for ever. */
		job_clear(&t->job);
		memset(&t->job, 0, sizeof t->job);
		dead_letter(t, "malformed job: queued under an id that is not its own");
		return;
	}
	t->decoded = 1;
	if (w->kinds[t->job.kind].start)
		t->kind = &w->kinds[t->job.kind];
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
	start_kind(t);
}

/* ---- the runner ---- */

struct tasks *tasks_new(const struct tasks_deps *d)
{
	struct tasks *w = calloc(1, sizeof *w);

	if (!w)
		return NULL;
	w->d = *d;
	w->rng = d->seed;
	settings_defaults(&w->defaults);
	w->set = &w->defaults;
	if (batches_new(w) < 0) {
		tasks_free(w);
		return NULL;
	}
	return w;
}

void tasks_free(struct tasks *w)
{
	if (!w)
		return;
	pgb_free(w->claims);
	pgb_free(w->marks);
	free(w);
}

void tasks_set_settings(struct tasks *w, const struct settings *set)
{
	w->set = set ? set : &w->defaults;
}

int tasks_set_kind(struct tasks *w, enum job_kind k, const struct task_kind *kind)
{
	if ((int)k < 0 || k >= JOB_KIND_COUNT || !kind->start)
		return -1;
	w->kinds[k] = *kind;
	return 0;
}

int tasks_inflight(const struct tasks *w)
{
	return w->inflight;
}

void tasks_drain(struct tasks *w)
{
	uint64_t now = uv_now(w->d.loop);
	struct task *t, *next;

	w->draining = 1;
	for (t = w->head; t; t = next) {
		next = t->next; /* a nack answered at once frees t, and only t */
		if (!t->hold)
			continue;
		later_cancel(t->hold);
		t->hold = NULL;
		retry_later(t, t->hold_until > now ? (int64_t)(t->hold_until - now) : 0, NO_FAULT);
	}
}

int tasks_idle(const struct tasks *w)
{
	return w->head == NULL;
}

void tasks_each(const struct tasks *w, void (*fn)(const char *id, const char *token, void *arg),
		void *arg)
{
	for (struct task *t = w->head; t; t = t->next)
		fn(t->id, t->token_s, arg);
}

/* ---- for the kinds ---- */

const struct job *task_job(const struct task *t)
{
	return &t->job;
}

const char *task_bot_name(const struct task *t)
{
	return t->bot_name;
}

const char *task_bot_token(const struct task *t)
{
	return t->bot_token;
}

void task_set_bot(struct task *t, const char *name, const char *token)
{
	snprintf(t->bot_name, sizeof t->bot_name, "%s", name);
	snprintf(t->bot_token, sizeof t->bot_token, "%s", token);
}

void *task_data(const struct task *t)
{
	return t->data;
}

void task_set_data(struct task *t, void *data)
{
	t->data = data;
}

json_t *task_meta(const struct task *t)
{
	return t->meta;
}

void task_set_meta(struct task *t, json_t *meta)
{
	json_decref(t->meta);
	t->meta = meta;
}

const char *task_text(const struct task *t)
{
	return t->text;
}

const char *task_system(const struct task *t)
{
	return t->system;
}

void task_off_slot(struct task *t, int off)
{
	if (off == t->off_slot)
		return;
	t->off_slot = off;
	t->r->inflight += off ? -1 : 1;
	if (off)
		t->r->d.freed(t->r->d.arg); /* room for another job meanwhile */
}

void task_after(struct task *t, uint64_t ms, void (*fn)(void *task))
{
	hold(t, ms, fn);
}

uint64_t *task_rng(struct task *t)
{
	return &t->r->rng;
}

struct pgc *task_pg(struct task *t)
{
	return pgpool_pick(t->r->d.pg);
}

struct shm_slot *task_slot(const struct task *t)
{
	return t->r->d.slot;
}
