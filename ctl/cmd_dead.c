/* cmd_dead: `piyasactl dead ...`: the jobs that ran out of attempts (or could
 * not be decoded), kept in PostgreSQL with their reason, and a way back.
 *
 * A retry re-enqueues the job under its SAME id with its attempts reset. Its
 * outbox row (unique on job id) says 'failed'; it is set to 'retry' and committed
 * BEFORE the job is queued, so a worker that leases the job at once already finds
 * a row it may send again (a 'failed' row would end the job a second time). */
#include "ctl/ctl.h"

#include <stdlib.h>
#include <string.h>

static int dead_list(struct ctl *c, int argc, char **argv)
{
	static const char sql[] =
		"SELECT id, job_id, COALESCE(kind, '?') AS kind, COALESCE(bot_id::text, '') AS bot,"
		" COALESCE(chat_id::text, '') AS chat, attempts,"
		" to_char(created_at, 'YYYY-MM-DD HH24:MI:SS') AS died,"
		" CASE WHEN retried_at IS NULL THEN 'open' ELSE 'retried' END AS state,"
		" CASE WHEN length(reason) > 60 THEN left(reason, 57) || '...' ELSE reason END"
		" AS reason FROM dead_jobs WHERE ($2::boolean OR retried_at IS NULL)"
		" ORDER BY id DESC LIMIT $1";
	int all, np, rc;
	const char *limit, *p[2];
	const struct ctl_opt opts[] = { { "limit", &limit, NULL },
					{ "all", NULL, &all },
					{ NULL, NULL, NULL } };
	char err[1024], *pos[1];
	PGresult *res;
	int64_t n;
	PGconn *db;

	if ((rc = ctl_opts("dead", argc, argv, opts, pos, 0, &np)) != 0)
		return rc;
	if (limit && (ctl_parse_i64(limit, &n) < 0 || n < 1))
		return ctl_usage("dead", "--limit: expected a positive number");
	p[0] = limit ? limit : "20";
	p[1] = all ? "true" : "false";
	if (!(db = ctl_db(c, err, sizeof err)) || !(res = ctl_q(db, sql, 2, p, err, sizeof err)))
		return ctl_fail("%s", err);
	if (PQntuples(res) || ctl_json())
		ctl_table(stdout, res);
	else
		printf(all ? "no dead jobs\n" : "no open dead jobs\n");
	PQclear(res);
	return CTL_OK;
}

/* The stored job, pretty when it is JSON (it may not be: that can be why it died). */
static void print_job(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	char *pretty = v ? json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | CTL_JSON_REAL) : NULL;

	printf("job:\n%s\n", pretty ? pretty : text);
	free(pretty);
	json_decref(v);
}

static int dead_show(struct ctl *c, int argc, char **argv)
{
	static const char sql[] =
		"SELECT id, job_id, COALESCE(kind, ''), COALESCE(bot_id::text, ''),"
		" COALESCE(chat_id::text, ''), attempts, created_at::text,"
		" COALESCE(retried_at::text, ''), reason, job FROM dead_jobs WHERE id = $1";
	static const char *const labels[] = { "id",       "job_id", "kind",    "bot",   "chat",
					      "attempts", "died",   "retried", "reason" };
	char err[1024], *pos[1];
	PGresult *res;
	int64_t id;
	PGconn *db;
	int np, rc;

	if ((rc = ctl_opts("dead", argc, argv, NULL, pos, 1, &np)) != 0)
		return rc;
	if (np != 1 || ctl_parse_id(pos[0], &id) < 0)
		return ctl_usage("dead", "dead show needs the ID of a dead job (see dead list)");
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    !(res = ctl_q(db, sql, 1, (const char *const *)pos, err, sizeof err)))
		return ctl_fail("%s", err);
	if (PQntuples(res) == 0) {
		PQclear(res);
		return ctl_fail("no dead job %s", pos[0]);
	}
	if (ctl_json()) {
		json_t *o = json_object(), *job = json_loads(PQgetvalue(res, 0, 9), 0, NULL);

		for (int i = 0; i < 9; i++) {
			const char *v = PQgetvalue(res, 0, i);

			/* ids and counts as numbers, an absent bot, chat or retry as null */
			json_object_set_new(o, labels[i],
					    !*v                ? json_null()
					    : i == 0 || i == 5 ? json_integer(strtoll(v, NULL, 10))
							       : json_string(v));
		}
		/* The stored job as JSON when it is JSON (it may not be: that can be why it died). */
		json_object_set_new(o, "job", job ? job : json_string(PQgetvalue(res, 0, 9)));
		ctl_print_json(stdout, o);
		json_decref(o);
	} else {
		for (int i = 0; i < 9; i++)
			printf("%-9s %s\n", labels[i], PQgetvalue(res, 0, i));
		print_job(PQgetvalue(res, 0, 9));
	}
	PQclear(res);
	return CTL_OK;
}

/* Re-enqueue one dead job; 0, or CTL_FAIL after saying why. */
static int retry_one(struct ctl *c, PGconn *db, const char *dead_id, const char *text)
{
	char err[1024];
	struct job j, *jp = &j;
	const char *p[1];
	size_t added = 0;
	struct rqs *r;

	if (job_decode(&j, text, strlen(text), err, sizeof err) < 0)
		return ctl_fail("dead job %s cannot be retried: the job is malformed (%s)", dead_id,
				err);
	j.attempts = 0;
	j.not_before = 0;
	j.enqueued_at = job_now_ms();
	p[0] = j.id;
	if (ctl_x(db,
		  "UPDATE messages SET status = 'retry', error = NULL"
		  " WHERE job_id = $1 AND status = 'failed'",
		  1, p, err, sizeof err) < 0 ||
	    !(r = ctl_redis(c, err, sizeof err)) ||
	    rqs_enqueue(r, &jp, 1, 0, &added, err, sizeof err) < 0) {
		/* Nothing was queued: put the row back as it was. */
		char ignore[256];
		ctl_x(db, "UPDATE messages SET status = 'failed' WHERE job_id = $1 AND status = 'retry'",
		      1, p, ignore, sizeof ignore);
		job_clear(&j);
		return ctl_fail("dead job %s: %s", dead_id, err);
	}
	if (ctl_x(db,
		  "UPDATE dead_jobs SET retried_at = now() WHERE job_id = $1"
		  " AND retried_at IS NULL",
		  1, p, err, sizeof err) < 0) {
		job_clear(&j);
		return ctl_fail("dead job %s was re-queued, but marking it retried failed: %s",
				dead_id, err);
	}
	if (added)
		printf("retried dead job %s (job %s)\n", dead_id, j.id);
	else
		printf("dead job %s: job %s is still queued; marked retried\n", dead_id, j.id);
	job_clear(&j);
	return 0;
}

static int dead_retry(struct ctl *c, int argc, char **argv)
{
	/* One run per job id: a job that died twice has two rows, one retry. */
	static const char all_sql[] =
		"SELECT DISTINCT ON (job_id) id, job, retried_at IS NOT NULL FROM dead_jobs"
		" WHERE retried_at IS NULL ORDER BY job_id, id DESC";
	static const char one_sql[] =
		"SELECT id, job, retried_at IS NOT NULL FROM dead_jobs WHERE id = $1";
	int all, np, rc, failed = 0;
	const struct ctl_opt opts[] = { { "all", NULL, &all }, { NULL, NULL, NULL } };
	char err[1024], *pos[1];
	PGresult *res;
	int64_t id;
	PGconn *db;

	if ((rc = ctl_opts("dead", argc, argv, opts, pos, 1, &np)) != 0)
		return rc;
	if (all == (np == 1) || (np == 1 && ctl_parse_id(pos[0], &id) < 0))
		return ctl_usage("dead", "dead retry needs one dead job ID, or --all");
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    !(res = ctl_q(db, all ? all_sql : one_sql, all ? 0 : 1, (const char *const *)pos, err,
			  sizeof err)))
		return ctl_fail("%s", err);
	if (!all && PQntuples(res) == 0)
		rc = ctl_fail("no dead job %s", pos[0]);
	else if (!all && strcmp(PQgetvalue(res, 0, 2), "t") == 0)
		rc = ctl_fail("dead job %s was already retried (see dead show %s)", pos[0], pos[0]);
	else if (all && PQntuples(res) == 0)
		printf("no open dead jobs\n");
	for (int i = 0; rc == 0 && i < PQntuples(res); i++)
		failed += retry_one(c, db, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1)) != 0;
	if (rc == 0 && all && PQntuples(res) > 0)
		printf("retried %d of %d\n", PQntuples(res) - failed, PQntuples(res));
	PQclear(res);
	return rc ? rc : failed ? CTL_FAIL : CTL_OK;
}

int cmd_dead(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {
		{ "list", dead_list }, { "show", dead_show }, { "retry", dead_retry }, { NULL, NULL }
	};

	return ctl_dispatch(c, "dead", subs, argc, argv);
}
