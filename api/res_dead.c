/* res_dead: see res_dead.h. A retry is a chain of callbacks on the loop:
 * read the dead row -> row to 'retry' -> the fleet's count and epoch -> the
 * enqueue script -> dead row retried + audit -> next id or the answer. */
#include "api/res_dead.h"

#include "common/job.h"
#include "common/log.h"
#include "common/net/ra.h"
#include "common/rq.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEAD_COLS                                                                                  \
	"id, job_id, kind, bot_id, chat_id, attempts, reason,"                                     \
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS died_at," \
	" to_char(retried_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS retried_at"

static void on_list(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	json_t *rows;

	if (err) {
		call_db_error(c, err);
		return;
	}
	rows = call_rows(res);
	call_json(c, 200, json_pack("{s:o}", "dead", rows));
}

void res_dead_list(struct call *c)
{
	static const char sql[] = "SELECT " DEAD_COLS " FROM dead_jobs"
				  " WHERE ($1::bigint IS NULL OR bot_id = $1::bigint)"
				  " AND ($2::bigint IS NULL OR chat_id = $2::bigint)"
				  " AND ($3::text IS NULL OR kind = $3)"
				  " AND ($4::text IS NULL OR strpos(lower(reason), lower($4)) > 0)"
				  " AND ($5::timestamptz IS NULL OR created_at >= $5::timestamptz)"
				  " AND ($6 = 'all' OR ($6 = 'open') = (retried_at IS NULL))"
				  " AND ($8::bigint IS NULL OR id < $8::bigint)"
				  " ORDER BY id DESC LIMIT $7::int";
	long long limit, bot, chat, before;
	const char *state = req_arg(c->rq, "state"), *since;
	char lim[24], b[24], ch[24], bf[24];
	const char *p[8];

	if (call_arg_int(c, "limit", 50, 1, 500, &limit) < 0 ||
	    call_arg_int(c, "bot", 0, -(1LL << 62), 1LL << 62, &bot) < 0 ||
	    call_arg_int(c, "chat", 0, -(1LL << 62), 1LL << 62, &chat) < 0 ||
	    call_arg_int(c, "before", 0, 1, 1LL << 62, &before) < 0)
		return;
	state = state ? state : "open";
	if (strcmp(state, "open") && strcmp(state, "retried") && strcmp(state, "all")) {
		call_problem(c, 400, "Bad query argument", "state", "state: open, retried or all");
		return;
	}
	if (call_arg_time(c, "since", &since) < 0)
		return;
	snprintf(lim, sizeof lim, "%lld", limit);
	snprintf(b, sizeof b, "%lld", bot);
	snprintf(ch, sizeof ch, "%lld", chat);
	snprintf(bf, sizeof bf, "%lld", before);
	p[0] = call_arg_given(c, "bot") ? b : NULL;
	p[1] = call_arg_given(c, "chat") ? ch : NULL;
	p[2] = req_arg(c->rq, "kind");
	p[3] = req_arg(c->rq, "reason");
	p[4] = since;
	p[5] = state;
	p[6] = lim;
	p[7] = call_arg_given(c, "before") ? bf : NULL;
	call_query(c, sql, 8, p, on_list);
}

/* A path id as a positive integer, or 404. */
static int path_id(struct call *c, long long *id)
{
	char *end;

	/* Digits only, in range: the text goes to PostgreSQL as $1::bigint, which
	 * would refuse 20 digits with an error (a 500). */
	errno = 0;
	*id = strtoll(c->params[0], &end, 10);
	if (*end || *id < 1 || errno || !isdigit((unsigned char)c->params[0][0])) {
		call_problem(c, 404, "Not found", "id", "no dead job %.40s", c->params[0]);
		return -1;
	}
	return 0;
}

static void on_show(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	json_t *row, *job;

	if (err) {
		call_db_error(c, err);
		return;
	}
	if (!PQntuples(res)) {
		call_problem(c, 404, "Not found", "id", "no dead job %s", c->params[0]);
		return;
	}
	row = call_row(res, 0);
	/* The job as JSON when it is JSON; as text when it is not (why it may have died). */
	job = json_loads(json_string_value(json_object_get(row, "job")), 0, NULL);
	if (job)
		json_object_set_new(row, "job", job);
	call_json(c, 200, row);
}

void res_dead_show(struct call *c)
{
	static const char sql[] = "SELECT " DEAD_COLS ", job FROM dead_jobs WHERE id = $1::bigint";
	const char *p[1] = { c->params[0] };
	long long id;

	if (path_id(c, &id) < 0)
		return;
	call_query(c, sql, 1, p, on_show);
}

/* --- retry --- */

#define RETRY_MAX 100

struct retry {
	json_t *ids;  /* the ids to retry, in order */
	size_t next;  /* index of the one under way */
	json_t *done; /* per id: {id, job_id, queued} or {id, error} */
	int single;   /* POST /dead/{id}/retry: answer as one */
	struct job job;
	int have_job;
	char dead_id[24], job_id[JOB_ID_MAX];
	char *json;
};

static void retry_next(struct call *c);

static void retry_clear_job(struct retry *r)
{
	if (r->have_job)
		job_clear(&r->job);
	r->have_job = 0;
	free(r->json);
	r->json = NULL;
}

static void free_retry(struct retry *r)
{
	retry_clear_job(r);
	json_decref(r->ids);
	json_decref(r->done);
	r->ids = r->done = NULL;
}

/* This id is over, for good or not: on to the next. status: 0 queued, else
 * the problem's status for a single retry. */
static void retry_result(struct call *c, unsigned status, const char *why)
{
	struct retry *r = c->data;

	if (r->single && status) {
		call_problem(c, status, status == 404 ? "Not found" : "Cannot retry", "id",
			     "dead job %s: %s", r->dead_id, why);
		free_retry(r);
		return;
	}
	json_array_append_new(r->done, status ? json_pack("{s:s, s:s}", "id", r->dead_id, "error", why)
					      : json_pack("{s:s, s:s, s:b}", "id", r->dead_id,
							  "job_id", r->job_id, "queued", 1));
	retry_clear_job(r);
	r->next++;
	retry_next(c);
}

static void on_marked(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;

	(void)res;
	if (err) {
		log_error("api: dead job %s was re-queued, but marking it retried failed: %s",
			  ((struct retry *)c->data)->dead_id, err);
		retry_result(c, 500, "re-queued, but marking it retried failed");
		return;
	}
	retry_result(c, 0, NULL);
}

static void on_row_restored(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;

	(void)res;
	(void)err;
	retry_result(c, 503, "the fleet is resharding or Redis is away: nothing was queued, try again");
}

static void restore_row(struct call *c)
{
	struct retry *r = c->data;
	const char *p[1] = { r->job_id };

	if (call_query(c, "UPDATE messages SET status = 'failed' WHERE job_id = $1 AND status = 'retry'",
		       1, p, on_row_restored) < 0)
		free_retry(r);
}

static void on_enqueued(redisReply *rep, const char *err, void *arg)
{
	static const char sql[] =
		"WITH d AS (UPDATE dead_jobs SET retried_at = now() WHERE job_id = $1"
		"  AND retried_at IS NULL RETURNING id, reason)"
		" INSERT INTO audit (actor, action, target, before, after, addr)"
		" SELECT $2, 'dead.retry', 'dead:' || $3, jsonb_build_object('reason', max(reason)),"
		"  jsonb_build_object('job_id', $1::text, 'queued', true), $4 FROM d";
	struct call *c = arg;
	struct retry *r = c->data;
	const char *p[4] = { r->job_id, c->actor, r->dead_id, req_addr(c->rq) };

	if (!rep || rep->type != REDIS_REPLY_INTEGER || rep->integer < 0) {
		log_warn("api: dead job %s not re-queued: %s", r->dead_id,
			 err                                     ? err
			 : rep && rep->type == REDIS_REPLY_ERROR ? rep->str
								 : "epoch refused");
		restore_row(c);
		return;
	}
	if (call_query(c, sql, 4, p, on_marked) < 0)
		free_retry(r);
}

static void on_fleet(redisReply *rep, const char *err, void *arg)
{
	struct call *c = arg;
	struct retry *r = c->data;
	struct rq_keys keys;
	char prio[8];
	int count;

	(void)err;
	if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
	    rep->element[0]->type != REDIS_REPLY_STRING ||
	    rep->element[1]->type != REDIS_REPLY_STRING || (count = atoi(rep->element[0]->str)) < 1) {
		restore_row(c);
		return;
	}
	rq_keys_for(&keys, c->ctx->cfg->redis_prefix, rq_owner(r->job.bot_id, count));
	snprintf(prio, sizeof prio, "%d", (int)r->job.prio);
	{
		const char *av[5] = { rep->element[1]->str, r->job.id, r->json, prio, "0" };
		if (ra_eval(c->ctx->redis, RQ_ENQUEUE, &keys, 5, av, on_enqueued, c) < 0)
			restore_row(c);
	}
}

static void on_row_retry(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	char key[64];
	const char *av[4] = { "HMGET", key, "count", "epoch" };

	(void)res;
	if (err) {
		call_db_error(c, err);
		free_retry(c->data);
		return;
	}
	snprintf(key, sizeof key, "%s:fleet", c->ctx->cfg->redis_prefix);
	if (ra_cmd(c->ctx->redis, on_fleet, c, 0, 4, av) < 0)
		restore_row(c);
}

static void on_dead_row(PGresult *res, const char *err, void *arg)
{
	/* The row is committed to 'retry' before the job is queued (cmd_dead.c). */
	static const char sql[] =
		"UPDATE messages SET status = 'retry', error = NULL WHERE job_id = $1 AND status = 'failed'";
	struct call *c = arg;
	struct retry *r = c->data;
	char why[256];
	const char *p[1];

	if (err) {
		call_db_error(c, err);
		free_retry(r);
		return;
	}
	if (!PQntuples(res)) {
		retry_result(c, 404, "no such dead job");
		return;
	}
	if (*PQgetvalue(res, 0, 1) == 't') {
		retry_result(c, 409, "already retried");
		return;
	}
	if (job_decode(&r->job, PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0), why,
		       sizeof why) < 0) {
		char msg[300];
		snprintf(msg, sizeof msg, "the job is malformed (%s)", why);
		retry_result(c, 422, msg);
		return;
	}
	r->have_job = 1;
	r->job.attempts = 0;
	r->job.not_before = 0;
	r->job.enqueued_at = job_now_ms();
	snprintf(r->job_id, sizeof r->job_id, "%s", r->job.id);
	if (!(r->json = job_encode(&r->job))) {
		retry_result(c, 500, "out of memory");
		return;
	}
	p[0] = r->job_id;
	if (call_query(c, sql, 1, p, on_row_retry) < 0)
		free_retry(r);
}

static void retry_next(struct call *c)
{
	struct retry *r = c->data;
	const char *p[1];
	json_t *id;

	if (r->next >= json_array_size(r->ids)) {
		json_t *done = json_incref(r->done);
		free_retry(r);
		if (r->single)
			call_json(c, 200, json_incref(json_array_get(done, 0)));
		else
			call_json(c, 200, json_pack("{s:O}", "results", done));
		json_decref(done);
		return;
	}
	id = json_array_get(r->ids, r->next);
	snprintf(r->dead_id, sizeof r->dead_id, "%lld", (long long)json_integer_value(id));
	p[0] = r->dead_id;
	if (call_query(c, "SELECT job, retried_at IS NOT NULL FROM dead_jobs WHERE id = $1::bigint",
		       1, p, on_dead_row) < 0)
		free_retry(r);
}

static void retry_start(struct call *c, json_t *ids, int single)
{
	struct retry *r = calloc(1, sizeof *r);

	if (!r) {
		json_decref(ids);
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	r->ids = ids;
	r->done = json_array();
	r->single = single;
	c->data = r;
	retry_next(c);
}

void res_dead_retry(struct call *c)
{
	long long id;

	if (path_id(c, &id) < 0)
		return;
	retry_start(c, json_pack("[I]", (json_int_t)id), 1);
}

void res_dead_retry_many(struct call *c)
{
	static const char *const spec[] = { "ids:a!", NULL };
	json_t *ids, *v;
	size_t i;

	if (call_fields(c, spec) < 0)
		return;
	ids = json_object_get(c->body, "ids");
	if (json_array_size(ids) < 1 || json_array_size(ids) > RETRY_MAX) {
		call_problem(c, 422, "Invalid value", "ids", "ids: 1 to %d dead job ids", RETRY_MAX);
		return;
	}
	json_array_foreach(ids, i, v)
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			char field[32];
			snprintf(field, sizeof field, "ids[%zu]", i);
			call_problem(c, 422, "Wrong type", field, "%s: must be a dead job id", field);
			return;
		}
	retry_start(c, json_incref(ids), 0);
}

/* --- delete --- */

static void on_deleted(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;

	if (err) {
		call_db_error(c, err);
		return;
	}
	if (!PQntuples(res)) {
		call_problem(c, 404, "Not found", "id", "no dead job %s", c->params[0]);
		return;
	}
	call_json(c, 200, json_pack("{s:s, s:b}", "id", c->params[0], "deleted", 1));
}

void res_dead_delete(struct call *c)
{
	static const char sql[] =
		"WITH d AS (DELETE FROM dead_jobs WHERE id = $1::bigint"
		"  RETURNING id, job_id, kind, bot_id, chat_id, reason),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $2, 'dead.delete', 'dead:' || id, to_jsonb(d), NULL, $3 FROM d)"
		" SELECT id FROM d";
	const char *p[3] = { c->params[0], c->actor, req_addr(c->rq) };
	long long id;

	if (path_id(c, &id) < 0)
		return;
	call_query(c, sql, 3, p, on_deleted);
}
