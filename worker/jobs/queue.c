/* queue: the worker's side of the Redis queue (see rq.h for the scripts).
 *
 * Leasing runs while there is room (max_inflight) and work: a lease that comes
 * back short means the queues are empty, so the worker blocks on its wake key
 * (BLPOP, on a connection of its own, 1 s at most) instead of polling. Every
 * k-th lease looks at the lower priorities first so `low` never starves. The
 * tick promotes due delayed jobs, returns expired leases, renews ours and
 * samples the queue depth. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "worker/chat/market.h"
#include "worker/chat/updates.h"
#include "worker/wk.h"

#define LEASE_BATCH 64
#define ACK_BATCH 256
#define LOWFIRST_EVERY 8
#define MAINT_MS 250
#define DEPTH_MS 1000

static void on_leased(redisReply *r, const char *err, void *arg);

static void start_wait(struct wk *w);

static void on_woken(redisReply *r, const char *err, void *arg)
{
	struct wk *w = arg;

	(void)r;
	(void)err;
	w->waiting = 0;
	queue_maybe_lease(w);
}

static void start_wait(struct wk *w)
{
	const char *av[] = { "BLPOP", w->keys.k[RQ_K_WAKE], "1" };

	if (w->waiting || w->draining || !ra_up(w->redis_wait))
		return;
	if (ra_cmd(w->redis_wait, on_woken, w, 3000, 3, av) == 0)
		w->waiting = 1;
}

void queue_maybe_lease(struct wk *w)
{
	char lease_ms[16], max[16];
	const char *av[4] = { w->epoch, lease_ms, "0", max };
	int room = w->cfg.max_inflight - w->inflight;

	if (w->leasing || w->waiting || w->draining || !w->fleet_ok || room <= 0 ||
	    !ra_up(w->redis))
		return;
	w->lease_want = room < LEASE_BATCH ? room : LEASE_BATCH;
	snprintf(lease_ms, sizeof lease_ms, "%d", w->cfg.lease_ms);
	snprintf(max, sizeof max, "%d", w->lease_want);
	if (++w->lease_calls % LOWFIRST_EVERY == 0)
		av[2] = "1";
	if (ra_eval(w->redis, RQ_LEASE, &w->keys, 4, av, on_leased, w) == 0)
		w->leasing = 1;
}

static void on_leased(redisReply *r, const char *err, void *arg)
{
	struct wk *w = arg;
	size_t n;

	w->leasing = 0;
	if (!r || r->type == REDIS_REPLY_ERROR) {
		log_warn("lease failed: %s", r ? r->str : err);
		shm_count(w->slot, SHM_C_REDIS_ERRORS, 1);
		return; /* the tick tries again */
	}
	if (r->type == REDIS_REPLY_INTEGER) {
		/* -1: our epoch is no longer the fleet's; a resize is under way. */
		log_error("lease refused: epoch %s is stale; stopping", w->epoch);
		w->draining = 1;
		w->exit_code = 3;
		wk_maybe_exit(w);
		return;
	}
	n = r->elements / 3;
	shm_count(w->slot, SHM_C_LEASED, n);
	for (size_t i = 0; i + 2 < r->elements; i += 3)
		task_start(w, r->element[i]->str, r->element[i + 1]->str, r->element[i + 1]->len,
			   (int)r->element[i + 2]->integer);
	/* Fewer than asked: the queues were empty. Block on the wake key now
	 * rather than asking again (one script call per job less when jobs
	 * trickle in); an enqueue since then has left its token there. */
	if (n < (size_t)w->lease_want)
		start_wait(w);
	else
		queue_maybe_lease(w);
}

static void on_acked(redisReply *r, const char *err, void *arg)
{
	struct task *t = arg;

	(void)err;
	task_finished(t, r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
}

/* The acks of one loop turn go as one script call: one round trip and one
 * script run for the lot instead of one per job. */
struct acks {
	struct wk *w;
	size_t n;
	struct task *t[ACK_BATCH];
};

static void on_acks(redisReply *r, const char *err, void *arg)
{
	struct acks *a = arg;
	long long acked = r && r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? r->integer : 0;

	(void)err;
	if ((size_t)acked < a->n)
		shm_count(a->w->slot, SHM_C_LEASES_LOST, a->n - (size_t)acked);
	for (size_t i = 0; i < a->n; i++)
		task_finished(a->t[i], 1);
	free(a);
}

static void send_acks(struct wk *w)
{
	struct acks *a = w->acks;
	const char *av[1 + 2 * ACK_BATCH];

	w->acks = NULL;
	if (!a)
		return;
	av[0] = w->epoch;
	for (size_t i = 0; i < a->n; i++) {
		av[1 + 2 * i] = task_id(a->t[i]);
		av[2 + 2 * i] = task_token(a->t[i]);
	}
	if (ra_eval(w->redis, RQ_ACK, &w->keys, (int)(1 + 2 * a->n), av, on_acks, a) < 0) {
		shm_count(w->slot, SHM_C_REDIS_ERRORS, 1);
		/* The leases expire; the outbox stops a second send. */
		for (size_t i = 0; i < a->n; i++)
			task_finished(a->t[i], 0);
		free(a);
	}
}

static void on_ack_turn(uv_timer_t *h)
{
	send_acks(h->data);
}

void queue_ack(struct wk *w, struct task *t)
{
	if (w->acks && w->acks->n == ACK_BATCH)
		send_acks(w);
	if (!w->acks) {
		if (!(w->acks = calloc(1, sizeof *w->acks))) {
			const char *av[3] = { w->epoch, task_id(t), task_token(t) };
			if (ra_eval(w->redis, RQ_ACK, &w->keys, 3, av, on_acked, t) < 0)
				task_finished(t, 0);
			return;
		}
		w->acks->w = w;
		uv_timer_start(&w->ack_timer, on_ack_turn, 0, 0);
	}
	w->acks->t[w->acks->n++] = t;
}

void queue_acks_flush(struct wk *w)
{
	uv_timer_stop(&w->ack_timer);
	send_acks(w);
}

void queue_acks_init(struct wk *w)
{
	uv_timer_init(w->loop, &w->ack_timer);
	w->ack_timer.data = w;
}

void queue_nack(struct wk *w, struct task *t, int64_t delay_ms)
{
	char delay[24];
	const char *av[4] = { w->epoch, task_id(t), task_token(t), delay };

	snprintf(delay, sizeof delay, "%lld", (long long)(delay_ms > 0 ? delay_ms : 0));
	if (ra_eval(w->redis, RQ_NACK, &w->keys, 4, av, on_acked, t) < 0) {
		shm_count(w->slot, SHM_C_REDIS_ERRORS, 1);
		task_finished(t, 0);
	}
}

static void on_maint(redisReply *r, const char *err, void *arg)
{
	struct wk *w = arg;

	if (!r || r->type == REDIS_REPLY_ERROR) {
		shm_count(w->slot, SHM_C_REDIS_ERRORS, 1);
		log_warn("queue maintenance failed: %s", r ? r->str : err);
		return;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
		queue_maybe_lease(w);
}

static void renew_leases(struct wk *w)
{
	const char *av[2 + 2 * 64];
	char lease_ms[16];
	int n = 2;

	snprintf(lease_ms, sizeof lease_ms, "%d", w->cfg.lease_ms);
	av[0] = w->epoch;
	av[1] = lease_ms;
	for (struct task *t = w->tasks; t; t = task_next(t)) {
		av[n++] = task_id(t);
		av[n++] = task_token(t);
		if (n == (int)(sizeof av / sizeof av[0]) || !task_next(t)) {
			ra_eval(w->redis, RQ_RENEW, &w->keys, n, av, on_maint, w);
			n = 2;
		}
	}
}

static void on_depth(redisReply *r, const char *err, void *arg)
{
	struct wk *w = arg;
	static const enum shm_gauge g[] = { SHM_G_QUEUE_HIGH, SHM_G_QUEUE_NORMAL, SHM_G_QUEUE_LOW,
					    SHM_G_LEASED, SHM_G_DELAYED };

	(void)err;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 5)
		return;
	for (int i = 0; i < 5; i++)
		if (r->element[i]->type == REDIS_REPLY_INTEGER)
			shm_gauge(w->slot, g[i], r->element[i]->integer);
}

/* One round trip for five counts: a tiny read-only script. */
static void sample_depth(struct wk *w)
{
	static const char lua[] =
		"return {redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), "
		"redis.call('LLEN', KEYS[3]), redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5])}";
	const char *av[] = { "EVAL", lua, "5", w->keys.k[0], w->keys.k[1], w->keys.k[2],
			     w->keys.k[RQ_K_LEASED], w->keys.k[RQ_K_DELAYED] };

	ra_cmd(w->redis, on_depth, w, 0, 8, av);
}

void queue_tick(struct wk *w, uint64_t now)
{
	const char *promote[2] = { w->epoch, "500" };
	const char *reap[3] = { w->epoch, "500", "0" };

	if (!w->fleet_ok || !ra_up(w->redis))
		return;
	if (now >= w->next_maint) {
		w->next_maint = now + MAINT_MS;
		ra_eval(w->redis, RQ_PROMOTE, &w->keys, 2, promote, on_maint, w);
		ra_eval(w->redis, RQ_REAP, &w->keys, 3, reap, on_maint, w);
	}
	if (now >= w->next_renew && w->tasks) {
		w->next_renew = now + (uint64_t)w->cfg.lease_ms / 3;
		renew_leases(w);
	}
	if (now >= w->next_depth) {
		w->next_depth = now + DEPTH_MS;
		sample_depth(w);
	}
	queue_maybe_lease(w);
}

/* ---- start: the fleet, then the predecessor's leases ---- */

static void on_takeover(redisReply *r, const char *err, void *arg)
{
	struct wk *w = arg;

	if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < 0) {
		log_error("taking back leases failed: %s", r && r->type == REDIS_REPLY_ERROR ? r->str
					: r ? "stale epoch" : err);
		return; /* retried by the next queue_start */
	}
	if (r->integer > 0)
		log_notice("took back %lld leased jobs of an earlier worker %d",
			   (long long)r->integer, w->index);
	if (!w->fleet_ok) {
		/* The queues are ours: the market chat may start queuing. */
		market_start(w->market);
		updates_start(w->updates);
	}
	w->fleet_ok = 1;
	wk_update_ready(w);
	queue_maybe_lease(w);
}

static void on_fleet(redisReply *r, const char *err, void *arg)
{
	struct wk *w = arg;
	const char *av[3] = { w->epoch, "1000000", "1" };

	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
		log_error("cannot read the fleet: %s (run `worker --reshard %d` or start through the "
			  "supervisor)", r && r->type == REDIS_REPLY_ERROR ? r->str : err ? err : "absent",
			  w->count);
		w->draining = 1;
		w->exit_code = 3;
		wk_maybe_exit(w);
		return;
	}
	if (atoi(r->element[0]->str) != w->count) {
		log_error("the fleet has %s workers, this worker was started for %d: stopping",
			  r->element[0]->str, w->count);
		w->draining = 1;
		w->exit_code = 3;
		wk_maybe_exit(w);
		return;
	}
	snprintf(w->epoch, sizeof w->epoch, "%s", r->element[1]->str);
	/* The worker that had our index before us is gone: its leases are ours. */
	ra_eval(w->redis, RQ_REAP, &w->keys, 3, av, on_takeover, w);
}

void queue_start(struct wk *w)
{
	char key[64];
	const char *av[] = { "HMGET", key, "count", "epoch" };

	if (w->fleet_ok)
		return;
	rq_fleet_key(key, sizeof key, w->cfg.redis_prefix);
	ra_cmd(w->redis, on_fleet, w, 0, 4, av);
}

/* ---- producing: the scheduler, the pollers and memorize triggers ---- */

struct enq {
	void (*cb)(int rc, void *arg);
	void *arg;
};

static void on_enqueued(redisReply *r, const char *err, void *arg)
{
	struct enq *e = arg;
	int rc = -1;

	if (r && r->type == REDIS_REPLY_INTEGER && r->integer >= 0)
		rc = (int)r->integer; /* 1 new, 0 a duplicate id */
	else if (r && r->type == REDIS_REPLY_ERROR)
		log_warn("enqueue refused by redis: %s", r->str);
	(void)err;
	if (e->cb)
		e->cb(rc, e->arg);
	free(e);
}

int queue_enqueue(struct wk *w, struct job *j, int64_t delay_ms, void (*cb)(int rc, void *arg),
		  void *arg)
{
	struct rq_keys keys;
	char prio[4], delay[24];
	char *json;
	struct enq *e;

	if (!j->enqueued_at)
		j->enqueued_at = job_now_ms();
	if (!(json = job_encode(j)) || !(e = malloc(sizeof *e))) {
		free(json);
		return -1;
	}
	e->cb = cb;
	e->arg = arg;
	rq_keys_for(&keys, w->cfg.redis_prefix, rq_owner(j->bot_id, w->count));
	snprintf(prio, sizeof prio, "%d", (int)j->prio);
	snprintf(delay, sizeof delay, "%lld", (long long)(delay_ms > 0 ? delay_ms : 0));
	{
		const char *av[5] = { w->epoch, j->id, json, prio, delay };
		if (ra_eval(w->redis, RQ_ENQUEUE, &keys, 5, av, on_enqueued, e) < 0) {
			free(json);
			free(e);
			return -1;
		}
	}
	free(json);
	return 0;
}
