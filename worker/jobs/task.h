/* task: one job's life in a worker, and the runner of all of them.
 *
 *   lease -> [attempt > 1 or a reply: look at the outbox row] -> the kind's
 *   start -> ... (the kind's own steps, with task_llm and task_query) ...
 *   -> task_send: pace, claim the outbox row (sending), sendMessage, mark the
 *   outcome -> ack
 *
 * What a job does is its kind's (a table filled by main.c: speak and reply go
 * to talk, memorize to memo); the runner owns the outbox and the two promises
 * of docs/GUARANTEES.md. Every task ends in task_finish (ack), task_retry
 * (nack with backoff), task_dead (a dead letter, then ack) or, when the
 * database is gone mid-job, is left to its lease. */
#ifndef PIYASA_TASK_H
#define PIYASA_TASK_H

#include "common/job.h"
#include "common/log.h"
#include "common/rq.h"
#include "common/shm.h"
#include "worker/calls/llmw.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct budget;
struct cfg;
struct httpc;
struct llm;
struct tgc;
struct pgpool;
struct settings;
struct task;
struct tasks;

/* A wait for a breaker, a cooldown or pacing up to this long holds the job in
 * memory (its lease is renewed); a longer one hands it back to the queue. */
#define TASK_HOLD_MAX_MS 30000
/* A send's outcome whose write failed (PostgreSQL down) is kept in memory and
 * written again this often, for this long, before the job is left to its
 * lease (and its row, still 'sending', becomes 'unknown'). */
#define TASK_REMARK_EVERY_MS 1000
#define TASK_REMARK_FOR_MS 180000

/* The sent message as the chat's context would read it back. */
struct task_sent {
	int64_t row_id;   /* messages.id */
	int64_t tg_id;    /* Telegram's message_id */
	int64_t at_ms;    /* when Telegram answered */
	int64_t reply_to; /* Telegram id answered, 0: none */
	const char *text;
};

/* The budgets of a job's LLM calls beyond its providers' (worker/calls/budget.h). */
struct task_budget {
	long long bot_daily, chat_daily; /* tokens a UTC day, 0: no limit */
	int skip; /* a spent budget skips the job (1) or holds it until there is room (0) */
};

/* A job kind: what runs once the outbox says the job may go on. Every hook
 * but start may be NULL. */
struct task_kind {
	/* Begin: the kind's steps end the task (task_finish, task_send...). */
	void (*start)(struct task *t, void *arg);
	/* Telegram took the text (before the outcome is written). */
	void (*sent)(struct task *t, void *arg);
	/* The row reads 'sent' now. */
	void (*recorded)(struct task *t, const struct task_sent *s, void *arg);
	/* The Telegram message the text answers, 0: the job payload's, if any. */
	int64_t (*reply_to)(const struct task *t, void *arg);
	/* The task ends: free what the kind keeps (task_data). */
	void (*clear)(struct task *t, void *arg);
	void *arg;
	/* The job's daily token budgets and what to do when one is spent (the
	 * settings); NULL: none, and a spent provider budget is waited for. */
	void (*budget)(const struct task *t, void *arg, struct task_budget *b);
};

/* What the runner uses and reports; all must outlive it. */
struct tasks_deps {
	uv_loop_t *loop;
	const struct cfg *cfg; /* the worker's, reloaded in place */
	struct shm_slot *slot; /* metrics */
	struct httpc *http;    /* LLM and Telegram calls */
	struct llm *llm;
	struct tgc *tgc;
	struct pgpool *pg; /* the outbox, dead letters, the kinds' queries */
	uint64_t seed;     /* of the backoff's jitter */
	/* The end of a task's lease: ack, or nack due in delay_ms (fault 1: the
	 * try failed and counts towards max_attempts; 0: it only waits, for an
	 * outage of our own services, a pause or a drain); both answer with
	 * task_done. */
	void (*ack)(struct task *t, void *arg);
	void (*nack)(struct task *t, int64_t delay_ms, int fault, void *arg);
	/* A task ended: a slot is free (lease more, or finish a drain). */
	void (*freed)(void *arg);
	void *arg;
	/* Store json (the job as it is now, with its checked draft) in place of
	 * the leased job, for its later attempts; answered with task_kept. NULL:
	 * nothing is kept (each attempt drafts again). */
	void (*keep)(struct task *t, const char *json, void *arg);
	/* The fleet's LLM budgets in Redis; NULL: only the worker's own limits. */
	struct budget *budget;
};

/* NULL: no memory. */
struct tasks *tasks_new(const struct tasks_deps *d);
/* Tasks still in flight are forgotten (their leases expire). NULL is fine. */
void tasks_free(struct tasks *ts);
/* Jobs of kind k go to kind (copied). -1: k is not a kind. */
int tasks_set_kind(struct tasks *ts, enum job_kind k, const struct task_kind *kind);
/* The fleet's settings (retry_max_age_s, retry_max_takeovers), read at each
 * lease; until set (NULL), their defaults. set must outlive ts. */
void tasks_set_settings(struct tasks *ts, const struct settings *set);
/* A leased job: decode it and run it to its end. tries: its lease number and
 * what ended the earlier ones (rq.h), copied. */
void tasks_start(struct tasks *ts, const char *id, const char *body, size_t len,
		 const struct rq_tries *tries);
/* Tasks holding a slot (not the ones off their slot, typing). */
int tasks_inflight(const struct tasks *ts);
/* The worker drains: every task waiting on a timer (pacing, an LLM provider,
 * a cap, typing: all before its outbox row) is handed back to the queue now,
 * due when it would have gone on, and later waits do the same, so a drain
 * waits only for calls and writes under way. The last task's nack may end the
 * drain inside this call (the freed hook). */
void tasks_drain(struct tasks *ts);
/* 1 when no task is in memory at all. */
int tasks_idle(const struct tasks *ts);
/* fn(id, token, arg) for every task in memory (lease renewal). */
void tasks_each(const struct tasks *ts, void (*fn)(const char *id, const char *token, void *arg),
		void *arg);

/* The lease's ack or nack was answered (acked 0: the lease was lost). */
void task_done(struct task *t, int acked);
/* The keep hook was answered (kept 0: the job's body is as it was). */
void task_kept(struct task *t, int kept);

/* ---- for the kinds ---- */

const struct job *task_job(const struct task *t);
const char *task_id(const struct task *t);
const char *task_token(const struct task *t);
/* The job's bot, once task_set_bot was called: its name, its token. */
const char *task_bot_name(const struct task *t);
const char *task_bot_token(const struct task *t);
/* The bot a kind loaded (copied; the token is wiped when the task ends). */
void task_set_bot(struct task *t, const char *name, const char *token);
/* What the kind keeps with the task (freed by its clear hook). */
void *task_data(const struct task *t);
void task_set_data(struct task *t, void *data);
/* The metadata stored with the message row (owned by the task from here). */
json_t *task_meta(const struct task *t);
void task_set_meta(struct task *t, json_t *meta);
/* The text being sent (after task_send), the last system prompt asked. */
const char *task_text(const struct task *t);
const char *task_system(const struct task *t);
/* A task off its slot (typing: waiting on a timer) does not count in
 * tasks_inflight, so its wait does not hold a job back. */
void task_off_slot(struct task *t, int off);
struct log_ctx task_log_ctx(const struct task *t);

/* Ends of a task. */
void task_finish(struct task *t, enum shm_outcome o);
void task_retry(struct task *t, int64_t delay_ms); /* < 0: backoff */
void task_dead(struct task *t, const char *reason);
/* What an LLM call is for: each request is counted by it
 * (piyasa_llm_requests_total{reason}), so the cost of a message is seen. */
enum task_llm_reason {
	TASK_LLM_DRAFT,
	TASK_LLM_PARAPHRASE,
	TASK_LLM_GUARD,
	TASK_LLM_MEMORIZE,
};
/* One LLM completion with provider failover; system and user become the
 * task's (freed by it). next gets the text (its own), or the job is retried. */
void task_llm(struct task *t, enum task_llm_reason why, char *system, char *user,
	      const struct llmw_params *par, void (*next)(struct task *t, char *text));
/* The checked draft (owned from here) goes into the job's payload as "draft"
 * and the job is stored so in the queue (the keep hook), so a wait, a nack, a
 * retry or a crash after this point reuses it instead of paying the LLM again;
 * next follows whether or not it was stored. */
void task_keep(struct task *t, json_t *draft, void (*next)(struct task *t));
/* The text (owned from here) is final: pace, claim the outbox row, send. */
void task_send(struct task *t, char *text);
/* A PostgreSQL query for t; -1 (the task is abandoned) when none is possible. */
int task_query(struct task *t, const char *sql, int n, const char *const *p,
	       void (*cb)(PGresult *res, const char *err, void *arg));
/* fn(t) once after ms on the loop (the task holds its lease meanwhile); if the
 * worker drains first, the job is nacked, due then, and fn never runs. */
void task_after(struct task *t, uint64_t ms, void (*fn)(void *task));
/* The runner's random state (backoff.h's draws), shared by its tasks. */
uint64_t *task_rng(struct task *t);
/* The least busy PostgreSQL connection (for a query that must not abandon). */
struct pgc *task_pg(struct task *t);
struct shm_slot *task_slot(const struct task *t);

#endif
