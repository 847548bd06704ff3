/* rqs: a blocking Redis client for the queue, for short-lived tools (piyasactl,
 * `worker --reshard`, tests and benchmarks). Workers use the asynchronous client
 * on their loop instead. Scripts are loaded on connect and re-sent on NOSCRIPT. */
#ifndef PIYASA_RQS_H
#define PIYASA_RQS_H

#include "common/job.h"
#include "common/rq.h"

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

struct rqs;

/* Connect (timeout 5 s), select the db, load the scripts. fallback_count is the
 * fleet size assumed when P:fleet does not exist yet (it is then created).
 * NULL with the reason in err. */
struct rqs *rqs_connect(const char *url, const char *prefix, int fallback_count, char *err,
			size_t errlen);
void rqs_free(struct rqs *r);

redisContext *rqs_context(struct rqs *r);
const char *rqs_prefix(const struct rqs *r);

/* Read P:fleet (creating it with fallback_count, epoch 1, when absent). */
int rqs_fleet(struct rqs *r, int *count, char *epoch, size_t epochlen, char *err, size_t errlen);

/* Enqueue n jobs (pipelined). Sets added to how many were new (the rest were
 * duplicate ids). A job whose owner's epoch moved is re-routed after re-reading
 * the fleet. Returns 0 or -1 with err. */
int rqs_enqueue(struct rqs *r, struct job *const *jobs, size_t n, int64_t delay_ms, size_t *added,
		char *err, size_t errlen);

/* Run one queue script on worker w's keys with argv (after KEYS, ARGV[1] = epoch
 * must be argv[0]). The reply is the caller's to free. NULL with err. */
redisReply *rqs_eval(struct rqs *r, enum rq_script s, int w, int argc, const char **argv, char *err,
		     size_t errlen);

/* Queue depth of worker w by priority, plus leased and delayed counts. */
int rqs_depth(struct rqs *r, int w, long long depth[3], long long *leased, long long *delayed,
	      char *err, size_t errlen);

#endif
