/* wk: the worker process's state, shared by the worker's modules (queue, task,
 * bots, chats). One libuv loop; nothing here blocks. */
#ifndef PIYASA_WK_H
#define PIYASA_WK_H

#include <stdint.h>
#include <uv.h>

#include "common/cfg.h"
#include "common/net/httpc.h"
#include "common/net/pgc.h"
#include "common/net/ra.h"
#include "common/rq.h"
#include "common/shm.h"
#include "common/tok.h"

struct task;
struct bots;
struct chats;
struct llm;
struct tgc;
struct market;
struct news;
struct updates;
struct job;

struct wk {
	uv_loop_t *loop;
	struct cfg cfg;
	const char *config_path;
	int index, count;
	char epoch[32];
	struct rq_keys keys;
	struct shm *shm;
	struct shm_slot *slot;     /* ours in shm, or local_slot when run alone */
	struct shm_slot local_slot;
	unsigned char token_key[TOK_KEY_BYTES];
	struct ra *redis;          /* scripts and commands */
	struct ra *redis_wait;     /* only BLPOP on the wake key */
	struct pgc *pg[64];        /* cfg.pg_connections of them */
	int npg;
	struct pgb *claims, *marks; /* the outbox writes of a loop turn, batched */
	struct httpc *http;
	struct bots *bots;
	struct chats *chats;
	struct llm *llm;
	struct tgc *tgc;
	struct market *market;     /* settings, the bots' scheduler, the caps */
	struct news *news;         /* headlines of the settings' feeds */
	struct updates *updates;   /* getUpdates pollers of our bots */
	uv_timer_t tick;
	uv_timer_t ack_timer;       /* sends the acks of a loop turn */
	struct acks *acks;          /* waiting for it */
	uv_signal_t sig_term, sig_int, sig_hup;
	int fleet_ok;              /* fleet checked and predecessor's leases taken back */
	int draining;
	int closing;
	int leasing;               /* a lease call is outstanding */
	int waiting;               /* a BLPOP is outstanding */
	unsigned lease_calls;
	int lease_want;            /* jobs the outstanding lease asked for */
	int inflight;
	struct task *tasks;        /* in flight, for lease renewal */
	uint64_t next_maint, next_renew, next_depth, tick_expected;
	uint64_t rng;
	uint64_t cache_hits, cache_misses;  /* totals last published to shm */
	int exit_code;
};

/* queue.c: leasing and the periodic queue work. */
void queue_start(struct wk *w);
void queue_maybe_lease(struct wk *w);
void queue_tick(struct wk *w, uint64_t now);
void queue_ack(struct wk *w, struct task *t);
void queue_acks_init(struct wk *w);
void queue_acks_flush(struct wk *w);
void queue_nack(struct wk *w, struct task *t, int64_t delay_ms);
/* Enqueue j on its bot's owner's queue (j->id is the dedup key). cb (may be
 * NULL) gets 1 new, 0 duplicate, -1 failed. -1 when Redis is down (cb not called). */
int queue_enqueue(struct wk *w, struct job *j, int64_t delay_ms, void (*cb)(int rc, void *arg),
		  void *arg);

/* task.c: one job's state machine. */
void task_start(struct wk *w, const char *id, const char *body, size_t len, int attempts);
/* Called by queue.c when the ack or nack of t is answered. */
void task_finished(struct task *t, int acked);
const char *task_id(const struct task *t);
const char *task_token(const struct task *t);
struct task *task_next(const struct task *t);

/* task.c: the outbox batches (claims, marks); 0 or -1. */
int task_batches_new(struct wk *w);
void task_batches_free(struct wk *w);

/* The least busy live PostgreSQL connection (main.c). */
struct pgc *wk_pg(struct wk *w);

/* Run fn(arg) once after ms on the loop (main.c). */
void wk_after(struct wk *w, uint64_t ms, void (*fn)(void *), void *arg);

/* Worker lifecycle (main.c). */
void wk_maybe_exit(struct wk *w);
void wk_update_ready(struct wk *w);

#endif
