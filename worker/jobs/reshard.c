/* reshard: see reshard.h.
 *
 * The jobs hash of each slot is the truth (lists only order it), so a reshard
 * interrupted at any point and run again still finds every job. Steps:
 *   1. fence: every slot's meta epoch becomes "resharding" (producers and old
 *      workers are refused and retry);
 *   2. per slot: copy jobs owned elsewhere to their owner (HSETNX: a second run
 *      adds nothing), then rewrite the slot in one MULTI with what stays, leased
 *      jobs at the front of their queue, the rest by enqueue time;
 *   3. the new epoch on every slot, then P:fleet {count, epoch}. */
#include "worker/jobs/reshard.h"

#include "common/job.h"
#include "common/log.h"
#include "common/rqs.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rjob {
	const char *id, *body, *att;
	int owner;
	int prio;
	int leased;
	int delayed;
	double due; /* delayed score */
	int64_t enqueued_at;
};

static int cmp_rjob(const void *a, const void *b)
{
	const struct rjob *x = a, *y = b;

	if (x->leased != y->leased)
		return y->leased - x->leased; /* leased first: they ran before the rest */
	return x->enqueued_at < y->enqueued_at ? -1 : x->enqueued_at > y->enqueued_at;
}

static redisReply *cmd(redisContext *c, const char *fmt, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, fmt);
	r = redisvCommand(c, fmt, ap);
	va_end(ap);
	if (!r || r->type == REDIS_REPLY_ERROR) {
		log_error("reshard: redis: %s", r ? r->str : c->errstr);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

/* Slots that hold any job, from a SCAN of P:{w*}:jobs, plus 0..upto-1. */
static int find_slots(redisContext *c, const char *prefix, int upto, int *max_slot)
{
	char pattern[96], cursor[32] = "0";
	redisReply *r;

	*max_slot = upto;
	snprintf(pattern, sizeof pattern, "%s:{w*}:jobs", prefix);
	do {
		if (!(r = cmd(c, "SCAN %s MATCH %s COUNT 1000", cursor, pattern)))
			return -1;
		snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			const char *k = strstr(r->element[1]->element[i]->str, ":{w");
			int w = k ? atoi(k + 3) : -1;
			if (w >= 0 && w + 1 > *max_slot && w < 100000)
				*max_slot = w + 1;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}

static int set_meta(redisContext *c, const char *prefix, int nslots, const char *epoch)
{
	struct rq_keys k;
	redisReply *r;

	for (int w = 0; w < nslots; w++) {
		rq_keys_for(&k, prefix, w);
		if (!(r = cmd(c, "HSET %s epoch %s", k.k[RQ_K_META], epoch)))
			return -1;
		freeReplyObject(r);
	}
	return 0;
}

static void classify(struct rjob *j, int target, int self)
{
	struct job parsed;
	char err[128];

	j->owner = self < target ? self
				 : 0; /* a malformed job stays put: its worker dead-letters it */
	j->prio = PRIO_NORMAL;
	if (job_decode(&parsed, j->body, strlen(j->body), err, sizeof err) == 0) {
		j->owner = rq_owner(parsed.bot_id, target);
		j->prio = parsed.prio;
		j->enqueued_at = parsed.enqueued_at;
		job_clear(&parsed);
	}
}

/* A reply's members (with their values, if it has them), sorted by member:
 * a slot may hold hundreds of thousands of jobs, so each lookup is a binary
 * search, not a scan of the reply. */
struct kv {
	const char *k, *v;
};

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct kv *)a)->k, ((const struct kv *)b)->k);
}

/* step 2 for HGETALL and WITHSCORES replies, 1 for plain member lists. */
static struct kv *index_reply(const redisReply *r, size_t step, size_t *n)
{
	struct kv *x = calloc(r->elements / step + 1, sizeof *x);

	*n = 0;
	if (!x)
		return NULL;
	for (size_t i = 0; i + step - 1 < r->elements; i += step, (*n)++) {
		x[*n].k = r->element[i]->str;
		x[*n].v = step > 1 ? r->element[i + 1]->str : NULL;
	}
	qsort(x, *n, sizeof *x, cmp_kv);
	return x;
}

static const struct kv *find_kv(const struct kv *x, size_t n, const char *k)
{
	struct kv key = { .k = k };

	return n ? bsearch(&key, x, n, sizeof *x, cmp_kv) : NULL;
}

/* Where each job of slot s is: leased or delayed (with its due time). */
static int mark_sets(redisReply *leased, redisReply *delayed, struct rjob *jobs, size_t n)
{
	size_t nl, nd;
	struct kv *l = index_reply(leased, 1, &nl), *d = index_reply(delayed, 2, &nd);
	const struct kv *hit;

	if (!l || !d) {
		free(l);
		free(d);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (find_kv(l, nl, jobs[i].id))
			jobs[i].leased = 1;
		if ((hit = find_kv(d, nd, jobs[i].id))) {
			jobs[i].delayed = 1;
			jobs[i].due = atof(hit->v);
		}
	}
	free(l);
	free(d);
	return 0;
}

static void append_place(redisContext *c, const struct rq_keys *k, const struct rjob *j)
{
	if (j->delayed && !j->leased)
		redisAppendCommand(c, "ZADD %s %.0f %s", k->k[RQ_K_DELAYED], j->due, j->id);
	else
		redisAppendCommand(c, "RPUSH %s %s", k->k[j->prio], j->id);
}

static int drain_replies(redisContext *c, int n)
{
	redisReply *r;
	int rc = 0;

	for (int i = 0; i < n; i++) {
		if (redisGetReply(c, (void **)&r) != REDIS_OK)
			return -1;
		if (r->type == REDIS_REPLY_ERROR) {
			log_error("reshard: redis: %s", r->str);
			rc = -1;
		}
		freeReplyObject(r);
	}
	return rc;
}

/* Copy the jobs of slot s owned elsewhere to their owners. */
static int copy_out(redisContext *c, const char *prefix, int s, struct rjob *jobs, size_t n)
{
	struct rq_keys k;
	int sent = 0;

	for (size_t i = 0; i < n; i++) {
		if (jobs[i].owner == s)
			continue;
		rq_keys_for(&k, prefix, jobs[i].owner);
		redisAppendCommand(c, "HSETNX %s %s %s", k.k[RQ_K_JOBS], jobs[i].id, jobs[i].body);
		redisAppendCommand(c, "HSET %s %s %s", k.k[RQ_K_ATT], jobs[i].id, jobs[i].att);
		append_place(c, &k, &jobs[i]);
		sent += 3;
	}
	return drain_replies(c, sent);
}

/* Rewrite slot s with the jobs that stay, atomically. */
static int rewrite_slot(redisContext *c, const char *prefix, int s, struct rjob *jobs, size_t n)
{
	struct rq_keys k;
	int sent = 0;

	rq_keys_for(&k, prefix, s);
	redisAppendCommand(c, "MULTI");
	redisAppendCommand(c, "DEL %s %s %s %s %s", k.k[0], k.k[1], k.k[2], k.k[RQ_K_LEASED],
			   k.k[RQ_K_DELAYED]);
	sent += 2;
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].owner == s) {
			append_place(c, &k, &jobs[i]);
		} else {
			redisAppendCommand(c, "HDEL %s %s", k.k[RQ_K_JOBS], jobs[i].id);
			redisAppendCommand(c, "HDEL %s %s", k.k[RQ_K_ATT], jobs[i].id);
			sent++;
		}
		sent++;
	}
	redisAppendCommand(c, "EXEC");
	return drain_replies(c, sent + 1);
}

static int move_slot(redisContext *c, const char *prefix, int s, int target, size_t *moved)
{
	struct rq_keys k;
	redisReply *all = NULL, *att = NULL, *leased = NULL, *delayed = NULL;
	struct rjob *jobs = NULL;
	struct kv *atts = NULL;
	const struct kv *hit;
	size_t n = 0, natt;
	int rc = -1;

	rq_keys_for(&k, prefix, s);
	if (!(all = cmd(c, "HGETALL %s", k.k[RQ_K_JOBS])) ||
	    !(att = cmd(c, "HGETALL %s", k.k[RQ_K_ATT])) ||
	    !(leased = cmd(c, "ZRANGE %s 0 -1", k.k[RQ_K_LEASED])) ||
	    !(delayed = cmd(c, "ZRANGE %s 0 -1 WITHSCORES", k.k[RQ_K_DELAYED])))
		goto out;
	if (!(jobs = calloc(all->elements / 2 + 1, sizeof *jobs)) ||
	    !(atts = index_reply(att, 2, &natt))) {
		log_error("reshard: out of memory");
		goto out;
	}
	for (size_t i = 0; i + 1 < all->elements; i += 2, n++) {
		jobs[n].id = all->element[i]->str;
		jobs[n].body = all->element[i + 1]->str;
		jobs[n].att = (hit = find_kv(atts, natt, jobs[n].id)) ? hit->v : "0";
		classify(&jobs[n], target, s);
		*moved += jobs[n].owner != s;
	}
	if (mark_sets(leased, delayed, jobs, n) < 0) {
		log_error("reshard: out of memory");
		goto out;
	}
	qsort(jobs, n, sizeof *jobs, cmp_rjob);
	rc = copy_out(c, prefix, s, jobs, n) < 0 ? -1 : rewrite_slot(c, prefix, s, jobs, n);
out:
	free(jobs);
	free(atts);
	freeReplyObject(all);
	freeReplyObject(att);
	freeReplyObject(leased);
	freeReplyObject(delayed);
	return rc;
}

int reshard_run(const struct cfg *cf, int target)
{
	char err[512], epoch[32], next[32], fleet[64];
	struct rqs *q = rqs_connect(cf->redis_url, cf->redis_prefix, target, err, sizeof err);
	int count, nslots, rc = -1;
	size_t moved = 0;
	redisContext *c;
	redisReply *r;

	if (!q) {
		log_error("reshard: %s", err);
		return -1;
	}
	c = rqs_context(q);
	if (rqs_fleet(q, &count, epoch, sizeof epoch, err, sizeof err) < 0) {
		log_error("reshard: %s", err);
		goto out;
	}
	if (find_slots(c, cf->redis_prefix, count > target ? count : target, &nslots) < 0)
		goto out;
	snprintf(next, sizeof next, "%lld", atoll(epoch) + (count != target || nslots > target));
	if (set_meta(c, cf->redis_prefix, nslots, "resharding") < 0)
		goto out;
	for (int s = 0; s < nslots; s++)
		if (move_slot(c, cf->redis_prefix, s, target, &moved) < 0)
			goto out;
	if (set_meta(c, cf->redis_prefix, nslots, next) < 0)
		goto out;
	rq_fleet_key(fleet, sizeof fleet, cf->redis_prefix);
	if (!(r = cmd(c, "HSET %s count %d epoch %s", fleet, target, next)))
		goto out;
	freeReplyObject(r);
	log_info("reshard: fleet %d -> %d workers, epoch %s -> %s, %zu jobs moved", count, target,
		 epoch, next, moved);
	rc = 0;
out:
	rqs_free(q);
	return rc;
}
