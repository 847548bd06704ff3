/* rq: the Redis priority queue shared by producers and workers.
 *
 * Each worker index w has its own keys, hash-tagged {wN} so every script touches
 * one slot (Redis Cluster ready):
 *   P:{wN}:q:high|normal|low  lists of job ids
 *   P:{wN}:jobs      hash id -> job JSON (the id is the dedup key)
 *   P:{wN}:att       hash id -> "L F T S": leases so far (L, the lease token),
 *                    tries that ended in a transient fault (F), leases taken
 *                    back from a worker that never ended them (T), Redis ms
 *                    of the first fault (S, 0: none); a plain "L" (older
 *                    data, a fresh enqueue) reads as "L 0 0 0"
 *   P:{wN}:leased    zset id -> lease deadline (ms, Redis TIME)
 *   P:{wN}:delayed   zset id -> due time (ms)
 *   P:{wN}:wake      list of at most one element a blocked worker waits on
 *   P:{wN}:meta      hash: epoch ("resharding" while jobs move), suspect (the
 *                    id of the one suspect the slot may hold: RQ_LEASE)
 * and P:fleet is a hash {count, epoch}. Every script takes the same nine KEYS in
 * that order and the caller's epoch as ARGV[1]; a script returns -1 when the
 * epoch does not match, so a worker or producer of an old fleet cannot lease,
 * ack or enqueue. */
#ifndef PIYASA_RQ_H
#define PIYASA_RQ_H

#include "common/job.h"

#include <stddef.h>
#include <stdint.h>

enum rq_script {
	RQ_ENQUEUE, /* ARGV epoch id json prio delay_ms -> 1 new, 0 duplicate id */
	RQ_LEASE,   /* ARGV epoch lease_ms lowfirst max [alone] -> {id, json, lease,
		     * faults, takeovers, fault_age_ms (-1: no fault)}... (RQ_LEASE_FIELDS
		     * each); a job with alone (> 0) takeovers or more is a suspect: a
		     * slot holds one suspect at a time (rq_alone_at) */
	RQ_ACK,     /* ARGV epoch (id token)... -> number acked when all or none were;
		     * else an array of 1 (acked) or 0 (lease lost) per pair */
	RQ_NACK,    /* ARGV epoch id token delay_ms [fault] -> 1, or 0 when the lease was
		     * lost; fault "1" (the default) counts a try that failed, "0" a
		     * wait (an outage of our own services, a pause, a drain) */
	RQ_RENEW,   /* ARGV epoch lease_ms (id token)... -> number renewed */
	RQ_PROMOTE, /* ARGV epoch max -> due delayed jobs moved to their queues */
	RQ_REAP,    /* ARGV epoch max all -> expired (all=1: every) leases requeued,
		     * each counted as a takeover */
	RQ_KEEP,    /* ARGV epoch id token json -> 1 the job's body is json now, 0 when
		     * the lease was lost (a checked draft kept with its job) */
	RQ_NSCRIPTS
};

#define RQ_NKEYS 9
#define RQ_LEASE_FIELDS 6
#define RQ_KEY_MAX 96
#define RQ_SKIP_MAX 64 /* suspects RQ_LEASE looks past per call */

struct rq_keys {
	char k[RQ_NKEYS][RQ_KEY_MAX]; /* q:high q:normal q:low jobs att leased delayed wake meta */
};

enum { RQ_K_JOBS = 3, RQ_K_ATT, RQ_K_LEASED, RQ_K_DELAYED, RQ_K_WAKE, RQ_K_META };

/* The keys of worker w under prefix. */
void rq_keys_for(struct rq_keys *k, const char *prefix, int w);

/* "P:fleet". */
void rq_fleet_key(char *buf, size_t n, const char *prefix);

/* The fleet's one partitioning rule: the worker index that owns bot_id. */
int rq_owner(int64_t bot_id, int count);

/* What the queue knows of a job's earlier leases, as RQ_LEASE answers it.
 * Only a try that failed (a 5xx, a 429, a timeout, bad JSON of an API...) is
 * a fault; a lease taken back from a worker that died, or handed back while
 * PostgreSQL was down, is not. */
struct rq_tries {
	int lease;            /* this lease's number, from 1: the lease token */
	int faults;           /* earlier tries ended by a transient fault */
	int takeovers;        /* earlier leases taken back (the holder never ended them) */
	int64_t fault_age_ms; /* since the first fault (Redis time); -1: no fault */
};

/* The fleet's one rule for giving up on a job at its lease: after max_faults
 * failed tries; after max_age_s seconds of retrying since its first fault
 * (0: no time bound); or after max_takeovers leases taken back (a job that
 * kills every worker that runs it). 1 with the reason in why, else 0. */
int rq_give_up(const struct rq_tries *t, int max_faults, int max_age_s, int max_takeovers,
	       char *why, size_t n);

/* RQ_LEASE's alone for a bound of max_takeovers: a job's last lease before
 * that bound is its slot's only suspect, so the jobs leased beside a poison
 * job are not dead-lettered with it (docs/GUARANTEES.md "A poison job"). 0
 * (no suspect) when the bound is 1: the first death cannot tell them apart. */
int rq_alone_at(int max_takeovers);

const char *rq_script_source(enum rq_script s);
const char *rq_script_name(enum rq_script s);

#endif
