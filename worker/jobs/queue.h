/* queue: the worker's side of the Redis queue (common/rq.h has the scripts):
 * the fleet check at start, leasing while there is room, acks and nacks in
 * batches, lease renewal, the periodic promote and reap, the depth samples,
 * and enqueueing for the producers. It knows nothing of what a job does: a
 * leased job goes to on_job, and its ack or nack is answered to the caller's
 * callback. */
#ifndef PIYASA_QUEUE_H
#define PIYASA_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct cfg;
struct shm_slot;
struct ra;
struct job;
struct queue;
struct rq_tries;
struct settings;

/* A lease the worker holds, for renewal. */
typedef void (*queue_lease_fn)(const char *id, const char *token, void *arg);

/* What the queue reports, wired by the worker's main.c. */
struct queue_hooks {
	/* A leased job (tries: its lease number and what ended the earlier
	 * ones); it ends in queue_ack or queue_nack, or is left to its lease. */
	void (*on_job)(const char *id, const char *body, size_t len, const struct rq_tries *tries,
		       void *arg);
	/* The fleet was checked and our predecessor's leases are ours: producers
	 * may start. Once. */
	void (*on_ready)(void *arg);
	/* The queue refuses to go on (not the fleet's epoch or size): the worker
	 * must drain and exit with exit_code. */
	void (*on_stopped)(int exit_code, void *arg);
	/* How many more jobs may be leased now (<= 0: none). */
	int (*room)(void *arg);
	/* Every lease held: call fn for each (renewal). */
	void (*each_lease)(queue_lease_fn fn, void *fn_arg, void *arg);
	void *arg;
};

/* Called when an ack or nack is answered: acked 1 when Redis took it for the
 * lease we held, 0 when the lease was lost or Redis could not be asked. */
typedef void (*queue_done_fn)(int acked, void *arg);

/* The queues of worker index of count. redis runs the scripts; wait (a
 * connection of its own) only blocks on the wake key. cfg is read at each use
 * (it must outlive q, as must the clients). NULL: no memory. */
struct queue *queue_new(uv_loop_t *loop, const struct cfg *cfg, int index, int count, struct ra *redis,
			struct ra *wait, struct shm_slot *slot, const struct queue_hooks *hooks);
/* The fleet's settings (retry_max_takeovers: which jobs are leased as their
 * slot's only suspect, rq_alone_at), read at each lease; set must outlive q.
 * Until then the defaults. */
void queue_set_settings(struct queue *q, const struct settings *set);
/* Sends the acks held (answered "closing" when Redis closes) and closes. */
void queue_free(struct queue *q);

/* Redis is up: check the fleet and take back our predecessor's leases (until
 * that succeeds once; then on_ready). A start that cannot finish (no answer,
 * an epoch that is not the fleet's yet) is tried again by queue_tick. Once it
 * has finished, a call (the link is up again after an outage) leases at once. */
void queue_start(struct queue *q);
/* Lease if there is room, work and no lease out. */
void queue_maybe_lease(struct queue *q);
/* The periodic work at now (ms of the loop): promote, reap, renew, sample. */
void queue_tick(struct queue *q, uint64_t now);
/* No more leases from now on. */
void queue_drain(struct queue *q);
/* 1 while a lease call is out (its jobs are not in on_job yet). */
int queue_leasing(const struct queue *q);

/* Ack the job (id, token: the lease's) with the other acks of this loop turn;
 * done(acked, arg) follows. id and token must live until then. */
void queue_ack(struct queue *q, const char *id, const char *token, queue_done_fn done, void *arg);
/* Hand the job back, due in delay_ms; fault 1 when its try failed (it counts
 * towards max_attempts), 0 when it only waits (an outage of our own services,
 * a pause, a drain); done(acked, arg) follows. */
void queue_nack(struct queue *q, const char *id, const char *token, int64_t delay_ms, int fault,
		queue_done_fn done, void *arg);

/* Replace the leased job's body with json (the job with its checked draft), for
 * later attempts; done(kept, arg) follows: 1 kept, 0 the lease was lost or
 * Redis could not be asked. */
void queue_keep(struct queue *q, const char *id, const char *token, const char *json,
		queue_done_fn done, void *arg);

/* Enqueue j on its bot's owner's queue (j->id is the dedup key). cb (may be
 * NULL) gets 1 new, 0 duplicate, -1 failed. -1 when Redis is down (cb not called). */
int queue_enqueue(struct queue *q, struct job *j, int64_t delay_ms, void (*cb)(int rc, void *arg),
		  void *arg);

#endif
