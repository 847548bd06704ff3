/* rqs: see rqs.h. */
#include "common/rqs.h"

#include "common/rurl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct rqs {
	redisContext *c;
	char prefix[32];
	int fallback_count;
	char sha[RQ_NSCRIPTS][48];
};

redisContext *rqs_context(struct rqs *r)
{
	return r->c;
}

const char *rqs_prefix(const struct rqs *r)
{
	return r->prefix;
}

void rqs_free(struct rqs *r)
{
	if (!r)
		return;
	if (r->c)
		redisFree(r->c);
	free(r);
}

/* A reply that is an error (or missing) becomes err and -1. */
static int reply_err(redisContext *c, redisReply *rep, const char *what, char *err, size_t el)
{
	if (!rep) {
		snprintf(err, el, "redis %s: %s", what, c->errstr[0] ? c->errstr : "no reply");
		return -1;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		snprintf(err, el, "redis %s: %s", what, rep->str);
		return -1;
	}
	return 0;
}

static int load_scripts(struct rqs *r, char *err, size_t el)
{
	for (int i = 0; i < RQ_NSCRIPTS; i++) {
		redisReply *rep = redisCommand(r->c, "SCRIPT LOAD %s", rq_script_source(i));
		if (reply_err(r->c, rep, "SCRIPT LOAD", err, el) < 0) {
			freeReplyObject(rep);
			return -1;
		}
		snprintf(r->sha[i], sizeof r->sha[i], "%s", rep->str);
		freeReplyObject(rep);
	}
	return 0;
}

static int run_simple(struct rqs *r, char *err, size_t el, const char *fmt, const char *arg,
		      const char *arg2)
{
	redisReply *rep = redisCommand(r->c, fmt, arg, arg2);
	int rc = reply_err(r->c, rep, "handshake", err, el);

	freeReplyObject(rep);
	return rc;
}

struct rqs *rqs_connect(const char *url, const char *prefix, int fallback_count, char *err, size_t el)
{
	struct timeval tv = { 5, 0 };
	struct rurl u;
	struct rqs *r;
	char db[16];

	if (rurl_parse(&u, url, err, el) < 0)
		return NULL;
	if (!(r = calloc(1, sizeof *r))) {
		snprintf(err, el, "out of memory");
		return NULL;
	}
	snprintf(r->prefix, sizeof r->prefix, "%s", prefix);
	r->fallback_count = fallback_count;
	r->c = *u.path ? redisConnectUnixWithTimeout(u.path, tv)
		       : redisConnectWithTimeout(u.host, u.port, tv);
	if (!r->c || r->c->err) {
		snprintf(err, el, "redis connect %s: %s", *u.path ? u.path : u.host,
			 r->c ? r->c->errstr : "out of memory");
		rqs_free(r);
		return NULL;
	}
	redisSetTimeout(r->c, tv);
	snprintf(db, sizeof db, "%d", u.db);
	if ((*u.user && run_simple(r, err, el, "AUTH %s %s", u.user, u.password) < 0) ||
	    (!*u.user && *u.password && run_simple(r, err, el, "AUTH %s", u.password, NULL) < 0) ||
	    (u.db && run_simple(r, err, el, "SELECT %s", db, NULL) < 0) ||
	    load_scripts(r, err, el) < 0) {
		rqs_free(r);
		return NULL;
	}
	return r;
}

int rqs_fleet(struct rqs *r, int *count, char *epoch, size_t epochlen, char *err, size_t el)
{
	char key[64];
	redisReply *rep;

	rq_fleet_key(key, sizeof key, r->prefix);
	for (int tries = 0; tries < 2; tries++) {
		rep = redisCommand(r->c, "HMGET %s count epoch", key);
		if (reply_err(r->c, rep, "HMGET fleet", err, el) < 0) {
			freeReplyObject(rep);
			return -1;
		}
		if (rep->element[0]->type == REDIS_REPLY_STRING &&
		    rep->element[1]->type == REDIS_REPLY_STRING) {
			*count = atoi(rep->element[0]->str);
			snprintf(epoch, epochlen, "%s", rep->element[1]->str);
			freeReplyObject(rep);
			return *count > 0 ? 0 : (snprintf(err, el, "fleet count is not positive"), -1);
		}
		freeReplyObject(rep);
		/* No fleet yet: assume the configured size; `worker --reshard` moves jobs
		 * if the supervisor later starts with another count. */
		freeReplyObject(redisCommand(r->c, "HSETNX %s count %d", key, r->fallback_count));
		freeReplyObject(redisCommand(r->c, "HSETNX %s epoch 1", key));
	}
	snprintf(err, el, "cannot read or create %s", key);
	return -1;
}

redisReply *rqs_eval(struct rqs *r, enum rq_script s, int w, int argc, const char **argv, char *err,
		     size_t el)
{
	const char *av[4 + RQ_NKEYS + 64];
	char nk[8];
	struct rq_keys k;
	redisReply *rep;
	int n = 0;

	if (argc > 64) {
		snprintf(err, el, "too many script arguments");
		return NULL;
	}
	rq_keys_for(&k, r->prefix, w);
	snprintf(nk, sizeof nk, "%d", RQ_NKEYS);
	av[n++] = "EVALSHA";
	av[n++] = r->sha[s];
	av[n++] = nk;
	for (int i = 0; i < RQ_NKEYS; i++)
		av[n++] = k.k[i];
	for (int i = 0; i < argc; i++)
		av[n++] = argv[i];
	rep = redisCommandArgv(r->c, n, av, NULL);
	if (rep && rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0) {
		freeReplyObject(rep);
		if (load_scripts(r, err, el) < 0)
			return NULL;
		av[1] = r->sha[s];
		rep = redisCommandArgv(r->c, n, av, NULL);
	}
	if (reply_err(r->c, rep, rq_script_name(s), err, el) < 0) {
		freeReplyObject(rep);
		return NULL;
	}
	return rep;
}

/* Append one enqueue for j under the given fleet. */
static int append_enqueue(struct rqs *r, struct job *j, int count, const char *epoch,
			  int64_t delay_ms, char *err, size_t el)
{
	char *body = job_encode(j), prio[4], delay[24];
	const char *av[3 + RQ_NKEYS + 5];
	struct rq_keys k;
	char nk[8];
	int n = 0;

	if (!body) {
		snprintf(err, el, "out of memory");
		return -1;
	}
	rq_keys_for(&k, r->prefix, rq_owner(j->bot_id, count));
	snprintf(nk, sizeof nk, "%d", RQ_NKEYS);
	snprintf(prio, sizeof prio, "%d", (int)j->prio);
	snprintf(delay, sizeof delay, "%lld", (long long)delay_ms);
	av[n++] = "EVALSHA";
	av[n++] = r->sha[RQ_ENQUEUE];
	av[n++] = nk;
	for (int i = 0; i < RQ_NKEYS; i++)
		av[n++] = k.k[i];
	av[n++] = epoch;
	av[n++] = j->id;
	av[n++] = body;
	av[n++] = prio;
	av[n++] = delay;
	redisAppendCommandArgv(r->c, n, av, NULL);
	free(body);
	return 0;
}

/* One pipelined pass; jobs refused for their epoch are left in *retry. */
static int enqueue_pass(struct rqs *r, struct job *const *jobs, size_t n, int64_t delay_ms,
			size_t *added, struct job **retry, size_t *nretry, char *err, size_t el)
{
	char epoch[32];
	int count, rc = 0;
	redisReply *rep;

	if (rqs_fleet(r, &count, epoch, sizeof epoch, err, el) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (append_enqueue(r, jobs[i], count, epoch, delay_ms, err, el) < 0)
			return -1;
	*nretry = 0;
	for (size_t i = 0; i < n; i++) {
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK) {
			snprintf(err, el, "redis enqueue: %s", r->c->errstr);
			return -1;
		}
		if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0)
			retry[(*nretry)++] = jobs[i];
		else if (rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, el, "redis enqueue: %s", rep->str);
			rc = -1;
		} else if (rep->type == REDIS_REPLY_INTEGER && rep->integer < 0)
			retry[(*nretry)++] = jobs[i];
		else if (rep->type == REDIS_REPLY_INTEGER)
			*added += (size_t)rep->integer;
		freeReplyObject(rep);
	}
	return rc;
}

int rqs_enqueue(struct rqs *r, struct job *const *jobs, size_t n, int64_t delay_ms, size_t *added,
		char *err, size_t el)
{
	struct job **retry = malloc((n ? n : 1) * sizeof *retry), **tmp;
	size_t nretry = 0;
	int rc = 0;

	tmp = malloc((n ? n : 1) * sizeof *tmp);
	if (!retry || !tmp) {
		free(retry);
		free(tmp);
		snprintf(err, el, "out of memory");
		return -1;
	}
	*added = 0;
	memcpy(retry, jobs, n * sizeof *jobs);
	nretry = n;
	/* A refused epoch means a resize is moving jobs: wait for it (up to ~60 s). */
	for (int pass = 0; nretry > 0; pass++) {
		if (pass > 0) {
			if (pass > 600) {
				snprintf(err, el, "the fleet kept resharding for a minute");
				rc = -1;
				break;
			}
			if (load_scripts(r, err, el) < 0) {
				rc = -1;
				break;
			}
			usleep(100000);
		}
		memcpy(tmp, retry, nretry * sizeof *retry);
		if ((rc = enqueue_pass(r, tmp, nretry, delay_ms, added, retry, &nretry, err, el)) < 0)
			break;
	}
	free(retry);
	free(tmp);
	return rc;
}

int rqs_depth(struct rqs *r, int w, long long depth[3], long long *leased, long long *delayed,
	      char *err, size_t el)
{
	struct rq_keys k;
	redisReply *rep;

	rq_keys_for(&k, r->prefix, w);
	for (int i = 0; i < 3; i++)
		redisAppendCommand(r->c, "LLEN %s", k.k[i]);
	redisAppendCommand(r->c, "ZCARD %s", k.k[RQ_K_LEASED]);
	redisAppendCommand(r->c, "ZCARD %s", k.k[RQ_K_DELAYED]);
	for (int i = 0; i < 5; i++) {
		if (redisGetReply(r->c, (void **)&rep) != REDIS_OK) {
			snprintf(err, el, "redis: %s", r->c->errstr);
			return -1;
		}
		long long v = rep->type == REDIS_REPLY_INTEGER ? rep->integer : 0;
		if (i < 3)
			depth[i] = v;
		else if (i == 3)
			*leased = v;
		else
			*delayed = v;
		freeReplyObject(rep);
	}
	return 0;
}
