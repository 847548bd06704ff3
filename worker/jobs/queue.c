/* queue: the worker's side of the Redis queue (see rq.h for the scripts).
 *
 * Leasing runs while there is room (max_inflight) and work: a lease that comes
 * back short means the queues are empty, so the worker blocks on its wake key
 * (BLPOP, on a connection of its own, 1 s at most) instead of polling. Every
 * k-th lease looks at the lower priorities first so `low` never starves. The
 * tick promotes due delayed jobs, returns expired leases, renews ours and
 * samples the queue depth. */
#include "worker/jobs/queue.h"

#include "common/cfg.h"
#include "common/job.h"
#include "common/log.h"
#include "common/net/ra.h"
#include "common/rq.h"
#include "common/settings.h"
#include "common/shm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LEASE_BATCH 64
#define ACK_BATCH 256
#define LOWFIRST_EVERY 8
#define MAINT_MS 250
#define DEPTH_MS 1000
#define START_RETRY_MS 1000 /* a start that could not finish is tried again */

/* An ack or nack's caller. */
struct done {
	queue_done_fn fn;
	void *arg;
};

/* The acks of one loop turn go as one script call: one round trip and one
 * script run for the lot instead of one per job. */
struct acks {
	struct queue *q;
	size_t n;
	const char *id[ACK_BATCH], *token[ACK_BATCH];
	struct done done[ACK_BATCH];
};

struct queue {
	uv_loop_t *loop;
	const struct cfg *cfg;
	int index, count;
	char epoch[32];
	struct rq_keys keys;
	struct ra *redis;      /* scripts and commands */
	struct ra *redis_wait; /* only BLPOP on the wake key */
	struct shm_slot *slot;
	struct queue_hooks h;
	const struct settings *set; /* retry_max_takeovers */
	struct settings defaults;   /* ... until queue_set_settings */
	uv_timer_t ack_timer;       /* sends the acks of a loop turn */
	struct acks *acks;          /* waiting for it */
	int fleet_ok;               /* fleet checked and predecessor's leases taken back */
	int starting;               /* the fleet check or the takeover is out */
	int start_failed;           /* the last start failed (said once) */
	uint64_t next_start;
	int draining;
	int leasing; /* a lease call is outstanding */
	int waiting; /* a BLPOP is outstanding */
	unsigned lease_calls;
	int lease_want; /* jobs the outstanding lease asked for */
	uint64_t next_maint, next_renew, next_depth;
};

static void on_leased(redisReply *r, const char *err, void *arg);

static void stop(struct queue *w, int exit_code)
{
	w->draining = 1;
	w->h.on_stopped(exit_code, w->h.arg);
}

static void start_wait(struct queue *w);

static void on_woken(redisReply *r, const char *err, void *arg)
{
	struct queue *w = arg;

	(void)r;
	(void)err;
	w->waiting = 0;
	queue_maybe_lease(w);
}

static void start_wait(struct queue *w)
{
	const char *av[] = { "BLPOP", w->keys.k[RQ_K_WAKE], "1" };

	if (w->waiting || w->draining || !ra_up(w->redis_wait))
		return;
	if (ra_cmd(w->redis_wait, on_woken, w, 3000, 3, av) == 0)
		w->waiting = 1;
}

void queue_maybe_lease(struct queue *w)
{
	char lease_ms[16], max[16], alone[16];
	const char *av[5] = { w->epoch, lease_ms, "0", max, alone };
	int room;

	/* room() only while running: at exit the runner it asks is freed before
	 * the Redis clients, whose pending BLPOP still calls back here. */
	if (w->leasing || w->waiting || w->draining || !w->fleet_ok || !ra_up(w->redis) ||
	    (room = w->h.room(w->h.arg)) <= 0)
		return;
	w->lease_want = room < LEASE_BATCH ? room : LEASE_BATCH;
	snprintf(lease_ms, sizeof lease_ms, "%d", w->cfg->lease_ms);
	snprintf(max, sizeof max, "%d", w->lease_want);
	snprintf(alone, sizeof alone, "%d", rq_alone_at(w->set->retry_max_takeovers));
	if (++w->lease_calls % LOWFIRST_EVERY == 0)
		av[2] = "1";
	if (ra_eval(w->redis, RQ_LEASE, &w->keys, 5, av, on_leased, w) == 0)
		w->leasing = 1;
}

static void on_leased(redisReply *r, const char *err, void *arg)
{
	struct queue *w = arg;
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
		stop(w, 3);
		return;
	}
	n = r->elements / RQ_LEASE_FIELDS;
	shm_count(w->slot, SHM_C_LEASED, n);
	for (size_t i = 0; i + RQ_LEASE_FIELDS <= r->elements; i += RQ_LEASE_FIELDS) {
		struct rq_tries tries = { (int)r->element[i + 2]->integer,
					  (int)r->element[i + 3]->integer,
					  (int)r->element[i + 4]->integer, r->element[i + 5]->integer };
		w->h.on_job(r->element[i]->str, r->element[i + 1]->str, r->element[i + 1]->len,
			    &tries, w->h.arg);
	}
	/* Fewer than asked: the queues were empty. Block on the wake key now
	 * rather than asking again (one script call per job less when jobs
	 * trickle in); an enqueue since then has left its token there. */
	if (n < (size_t)w->lease_want)
		start_wait(w);
	else
		queue_maybe_lease(w);
}

/* Every answer to an ack or nack goes through here: a lease not taken back
 * (lost to another attempt, or Redis not answering) is counted once. */
static void answer(struct queue *q, const struct done *d, int acked)
{
	if (!acked)
		shm_count(q->slot, SHM_C_LEASES_LOST, 1);
	d->fn(acked, d->arg);
}

/* A single ack or nack's answer (arg: its struct one). */
struct one {
	struct queue *q;
	struct done d;
};

static void on_acked(redisReply *r, const char *err, void *arg)
{
	struct one *o = arg, copy = *o;

	(void)err;
	free(o);
	answer(copy.q, &copy.d, r && r->type == REDIS_REPLY_INTEGER && r->integer == 1);
}

/* 1 when the i-th ack of the batch took its lease (RQ_ACK's answer). */
static int acked_at(const redisReply *r, size_t i, size_t n)
{
	if (r && r->type == REDIS_REPLY_INTEGER)
		return r->integer == (long long)n;
	return r && r->type == REDIS_REPLY_ARRAY && i < r->elements &&
	       r->element[i]->type == REDIS_REPLY_INTEGER && r->element[i]->integer == 1;
}

static void on_acks(redisReply *r, const char *err, void *arg)
{
	struct acks *a = arg;

	(void)err;
	for (size_t i = 0; i < a->n; i++)
		answer(a->q, &a->done[i], acked_at(r, i, a->n));
	free(a);
}

static void send_acks(struct queue *w)
{
	struct acks *a = w->acks;
	const char *av[1 + 2 * ACK_BATCH];

	w->acks = NULL;
	if (!a)
		return;
	av[0] = w->epoch;
	for (size_t i = 0; i < a->n; i++) {
		av[1 + 2 * i] = a->id[i];
		av[2 + 2 * i] = a->token[i];
	}
	if (ra_eval(w->redis, RQ_ACK, &w->keys, (int)(1 + 2 * a->n), av, on_acks, a) < 0) {
		shm_count(w->slot, SHM_C_REDIS_ERRORS, 1);
		/* The leases expire; the outbox stops a second send. */
		for (size_t i = 0; i < a->n; i++)
			answer(w, &a->done[i], 0);
		free(a);
	}
}

static void on_ack_turn(uv_timer_t *h)
{
	send_acks(h->data);
}

/* One script call for one job, with its caller kept for the answer. */
static void eval_one(struct queue *w, enum rq_script sc, int argc, const char **av,
		     queue_done_fn done, void *arg)
{
	struct one *o = malloc(sizeof *o);
	struct done d = { done, arg };

	if (o)
		*o = (struct one){ w, d };
	if (!o || ra_eval(w->redis, sc, &w->keys, argc, av, on_acked, o) < 0) {
		if (o)
			shm_count(w->slot, SHM_C_REDIS_ERRORS, 1);
		free(o);
		answer(w, &d, 0);
	}
}

void queue_ack(struct queue *w, const char *id, const char *token, queue_done_fn done, void *arg)
{
	if (w->acks && w->acks->n == ACK_BATCH)
		send_acks(w);
	if (!w->acks) {
		if (!(w->acks = calloc(1, sizeof *w->acks))) {
			const char *av[3] = { w->epoch, id, token };
			eval_one(w, RQ_ACK, 3, av, done, arg);
			return;
		}
		w->acks->q = w;
		uv_timer_start(&w->ack_timer, on_ack_turn, 0, 0);
	}
	w->acks->id[w->acks->n] = id;
	w->acks->token[w->acks->n] = token;
	w->acks->done[w->acks->n++] = (struct done){ done, arg };
}

void queue_nack(struct queue *w, const char *id, const char *token, int64_t delay_ms, int fault,
		queue_done_fn done, void *arg)
{
	char delay[24];
	const char *av[5] = { w->epoch, id, token, delay, fault ? "1" : "0" };

	snprintf(delay, sizeof delay, "%lld", (long long)(delay_ms > 0 ? delay_ms : 0));
	eval_one(w, RQ_NACK, 5, av, done, arg);
}

void queue_keep(struct queue *w, const char *id, const char *token, const char *json,
		queue_done_fn done, void *arg)
{
	const char *av[4] = { w->epoch, id, token, json };

	eval_one(w, RQ_KEEP, 4, av, done, arg);
}

static void on_maint(redisReply *r, const char *err, void *arg)
{
	struct queue *w = arg;

	if (!r || r->type == REDIS_REPLY_ERROR) {
		shm_count(w->slot, SHM_C_REDIS_ERRORS, 1);
		log_warn("queue maintenance failed: %s", r ? r->str : err);
		return;
	}
	if (r->type == REDIS_REPLY_INTEGER && r->integer > 0)
		queue_maybe_lease(w);
}

/* The periodic reap's answer: each expired lease taken back is a takeover. */
static void on_reaped(redisReply *r, const char *err, void *arg)
{
	struct queue *w = arg;

	if (r && r->type == REDIS_REPLY_INTEGER && r->integer > 0)
		shm_count(w->slot, SHM_C_TAKEOVERS, (uint64_t)r->integer);
	on_maint(r, err, arg);
}

/* The leases held, 64 to a script call. */
struct renewal {
	struct queue *q;
	const char *av[2 + 2 * 64];
	char lease_ms[16];
	int n;
};

static void renew_send(struct renewal *rn)
{
	if (rn->n > 2)
		ra_eval(rn->q->redis, RQ_RENEW, &rn->q->keys, rn->n, rn->av, on_maint, rn->q);
	rn->n = 2;
}

static void renew_one(const char *id, const char *token, void *arg)
{
	struct renewal *rn = arg;

	rn->av[rn->n++] = id;
	rn->av[rn->n++] = token;
	if (rn->n == (int)(sizeof rn->av / sizeof rn->av[0]))
		renew_send(rn);
}

static void renew_leases(struct queue *w)
{
	struct renewal rn = { .q = w, .n = 2 };

	snprintf(rn.lease_ms, sizeof rn.lease_ms, "%d", w->cfg->lease_ms);
	rn.av[0] = w->epoch;
	rn.av[1] = rn.lease_ms;
	w->h.each_lease(renew_one, &rn, w->h.arg);
	renew_send(&rn);
}

static void on_depth(redisReply *r, const char *err, void *arg)
{
	struct queue *w = arg;
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
static void sample_depth(struct queue *w)
{
	static const char lua[] =
		"return {redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2]), "
		"redis.call('LLEN', KEYS[3]), redis.call('ZCARD', KEYS[4]), redis.call('ZCARD', KEYS[5])}";
	const char *av[] = { "EVAL",
			     lua,
			     "5",
			     w->keys.k[0],
			     w->keys.k[1],
			     w->keys.k[2],
			     w->keys.k[RQ_K_LEASED],
			     w->keys.k[RQ_K_DELAYED] };

	ra_cmd(w->redis, on_depth, w, 0, 8, av);
}

void queue_tick(struct queue *w, uint64_t now)
{
	const char *promote[2] = { w->epoch, "500" };
	const char *reap[3] = { w->epoch, "500", "0" };

	if (!w->fleet_ok && !w->draining && ra_up(w->redis) && now >= w->next_start) {
		w->next_start = now + START_RETRY_MS;
		queue_start(w);
	}
	if (!w->fleet_ok || !ra_up(w->redis))
		return;
	if (now >= w->next_maint) {
		w->next_maint = now + MAINT_MS;
		ra_eval(w->redis, RQ_PROMOTE, &w->keys, 2, promote, on_maint, w);
		ra_eval(w->redis, RQ_REAP, &w->keys, 3, reap, on_reaped, w);
	}
	if (now >= w->next_renew) {
		w->next_renew = now + (uint64_t)w->cfg->lease_ms / 3;
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
	struct queue *w = arg;

	w->starting = 0;
	if (!r || r->type != REDIS_REPLY_INTEGER || r->integer < 0) {
		/* An epoch that is not the fleet's (a reshard under way or cut short):
		 * the tick starts again until it is. */
		if (!w->start_failed)
			log_error("taking back leases failed: %s (trying again every %d ms)",
				  r && r->type == REDIS_REPLY_ERROR ? r->str
				  : r                               ? "stale epoch"
								    : err,
				  START_RETRY_MS);
		w->start_failed = 1;
		return;
	}
	w->start_failed = 0;
	if (r->integer > 0) {
		shm_count(w->slot, SHM_C_TAKEOVERS, (uint64_t)r->integer);
		log_notice("took back %lld leased jobs of an earlier worker %d",
			   (long long)r->integer, w->index);
	}
	if (!w->fleet_ok) {
		/* The queues are ours: the producers may start queuing. */
		w->fleet_ok = 1;
		w->h.on_ready(w->h.arg);
	}
	queue_maybe_lease(w);
}

static void on_fleet(redisReply *r, const char *err, void *arg)
{
	struct queue *w = arg;
	const char *av[3] = { w->epoch, "1000000", "1" };

	w->starting = 0;
	if (!r || r->type == REDIS_REPLY_ERROR) {
		/* The link's trouble or Redis' (LOADING after a restart), not the
		 * fleet's: the tick starts again. */
		log_warn("cannot read the fleet: %s (trying again)", r     ? r->str
								     : err ? err
									   : "no answer");
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
		log_error("cannot read the fleet: absent (run `worker --reshard %d` or start through "
			  "the supervisor)",
			  w->count);
		stop(w, 3);
		return;
	}
	if (atoi(r->element[0]->str) != w->count) {
		log_error("the fleet has %s workers, this worker was started for %d: stopping",
			  r->element[0]->str, w->count);
		stop(w, 3);
		return;
	}
	snprintf(w->epoch, sizeof w->epoch, "%s", r->element[1]->str);
	/* The worker that had our index before us is gone: its leases are ours. */
	if (ra_eval(w->redis, RQ_REAP, &w->keys, 3, av, on_takeover, w) == 0)
		w->starting = 1;
}

void queue_start(struct queue *w)
{
	char key[64];
	const char *av[] = { "HMGET", key, "count", "epoch" };

	if (w->fleet_ok) {
		/* A reconnect: the queues are still ours; lease now, not at the tick. */
		queue_maybe_lease(w);
		return;
	}
	if (w->starting || w->draining)
		return;
	rq_fleet_key(key, sizeof key, w->cfg->redis_prefix);
	if (ra_cmd(w->redis, on_fleet, w, 0, 4, av) == 0)
		w->starting = 1;
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

int queue_enqueue(struct queue *w, struct job *j, int64_t delay_ms, void (*cb)(int rc, void *arg),
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
	rq_keys_for(&keys, w->cfg->redis_prefix, rq_owner(j->bot_id, w->count));
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

/* ---- life ---- */

struct queue *queue_new(uv_loop_t *loop, const struct cfg *cfg, int index, int count, struct ra *redis,
			struct ra *wait, struct shm_slot *slot, const struct queue_hooks *hooks)
{
	struct queue *q = calloc(1, sizeof *q);

	if (!q)
		return NULL;
	q->loop = loop;
	q->cfg = cfg;
	q->index = index;
	q->count = count;
	q->redis = redis;
	q->redis_wait = wait;
	q->slot = slot;
	q->h = *hooks;
	settings_defaults(&q->defaults);
	q->set = &q->defaults;
	rq_keys_for(&q->keys, cfg->redis_prefix, index);
	snprintf(q->epoch, sizeof q->epoch, "0");
	uv_timer_init(loop, &q->ack_timer);
	q->ack_timer.data = q;
	return q;
}

void queue_set_settings(struct queue *q, const struct settings *set)
{
	q->set = set ? set : &q->defaults;
}

static void on_ack_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void queue_free(struct queue *q)
{
	if (!q)
		return;
	q->draining = 1; /* what is still answered (a BLPOP) leases nothing */
	uv_timer_stop(&q->ack_timer);
	send_acks(q); /* answered "closing" when Redis closes */
	uv_close((uv_handle_t *)&q->ack_timer, on_ack_timer_closed);
}

void queue_drain(struct queue *q)
{
	q->draining = 1;
}

int queue_leasing(const struct queue *q)
{
	return q->leasing;
}
