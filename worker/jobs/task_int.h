/* task_int: the inside of a task, shared by the modules that run steps of it
 * (task.c: the queue, the outbox, the LLM and Telegram; talk.c: what a bot
 * says; memo.c: memorize jobs). Nothing outside the worker's task modules
 * includes this. */
#ifndef PIYASA_TASK_INT_H
#define PIYASA_TASK_INT_H

#include <jansson.h>
#include <stdint.h>

#include "common/job.h"
#include "worker/calls/llmw.h"
#include "common/shm.h"
#include "worker/calls/tgc.h"
#include "common/tok.h"
#include "worker/wk.h"

struct talk;

/* A wait for a breaker, a cooldown or pacing up to this long holds the job in
 * memory (its lease is renewed); a longer one hands it back to the queue. */
#define HOLD_MAX_MS 30000

struct task {
	struct wk *w;
	char id[JOB_ID_MAX];
	char token_s[16];        /* the lease token: this attempt's number */
	int attempt;
	int decoded;
	struct job job;
	char *raw;               /* the job as leased, for dead letters */
	int provider;            /* index in cfg.providers being tried */
	uint64_t llm_gen;        /* its breaker generation */
	struct tgc_ticket tk;    /* Telegram admission of this send */
	char bot_name[64];
	char bot_token[TOK_MAX];
	char *system, *user, *text;
	uint64_t leased_at;
	enum shm_outcome outcome;
	int64_t retry_delay_ms;  /* for a send marked 'retry' */
	char why[256];           /* for a send marked 'failed' */
	struct task *prev, *next;
	/* what a completion is for (the message, a paraphrase, the guard, a
	 * memorize summary); it owns text afterwards */
	void (*llm_next)(struct task *t, char *text);
	struct llmw_params par;
	struct talk *talk;       /* speak and reply jobs: talk.c's state */
	json_t *meta;            /* metadata stored with the message row */
	int64_t row_id;          /* messages.id of the claimed row */
	int64_t tg_id;           /* Telegram's message_id once sent */
	int64_t sent_ms;         /* when Telegram answered (messages.sent_at) */
	int off_slot;            /* typing: not counted in w->inflight */
	uint64_t claim_ns;       /* uv_hrtime when the claim was asked for */
	uint64_t answer_ns;      /* uv_hrtime of Telegram's answer (0: none) */
};


struct bot;

/* Ends of a task (task.c). */
void task_finish(struct task *t, enum shm_outcome o);
void task_retry(struct task *t, int64_t delay_ms);     /* < 0: backoff */
void task_dead(struct task *t, const char *reason);
/* One LLM completion with the provider failover of task.c; system and user
 * become the task's (freed by it). next gets the text, or the job is retried. */
void task_llm(struct task *t, char *system, char *user, const struct llmw_params *par,
	      void (*next)(struct task *t, char *text));
/* The text is final: pace, claim the outbox row, send. t->meta may be set. */
void task_send(struct task *t, char *text);
/* A PostgreSQL query for t; -1 (the task is abandoned) when none is possible. */
int task_query(struct task *t, const char *sql, int n, const char *const *p,
	       void (*cb)(PGresult *res, const char *err, void *arg));
struct log_ctx task_log_ctx(const struct task *t);

#endif
