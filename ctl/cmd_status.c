/* cmd_status: `piyasactl status [--json]`: the queues of every worker (from Redis)
 * and the outcome of the work (from PostgreSQL) on one screen. Each side is shown
 * even when the other cannot be reached, and then the exit code says so. */
#include "ctl/ctl.h"

#include <stdlib.h>
#include <string.h>

/* depth high/normal/low, leased, delayed */
#define NCOLS 5
static const char *const col_names[NCOLS] = { "high", "normal", "low", "leased", "delayed" };

struct queues {
	int ok;
	int count;
	char epoch[32];
	long long (*w)[NCOLS]; /* per worker */
	long long total[NCOLS];
	char err[512];
};

struct outcomes {
	int ok;
	PGresult *by_status; /* status, count */
	long long dead_open;
	long long bots, bots_enabled, chats;
	char err[1024];
};

static void read_queues(struct ctl *c, struct queues *q)
{
	struct rqs *r = ctl_redis(c, q->err, sizeof q->err);

	if (!r || rqs_fleet(r, &q->count, q->epoch, sizeof q->epoch, q->err, sizeof q->err) < 0)
		return;
	if (!(q->w = calloc((size_t)q->count, sizeof *q->w))) {
		snprintf(q->err, sizeof q->err, "out of memory");
		return;
	}
	for (int i = 0; i < q->count; i++) {
		long long *v = q->w[i];

		if (rqs_depth(r, i, v, &v[3], &v[4], q->err, sizeof q->err) < 0)
			return;
		for (int k = 0; k < NCOLS; k++)
			q->total[k] += v[k];
	}
	q->ok = 1;
}

static void read_outcomes(struct ctl *c, struct outcomes *o)
{
	static const char counts[] =
		"SELECT (SELECT count(*) FROM dead_jobs WHERE retried_at IS NULL),"
		" (SELECT count(*) FROM bots), (SELECT count(*) FROM bots WHERE enabled),"
		" (SELECT count(*) FROM chats)";
	PGconn *db = ctl_db(c, o->err, sizeof o->err);
	PGresult *res;

	if (!db || !(o->by_status = ctl_q(db,
					  "SELECT status, count(*) FROM messages"
					  " GROUP BY status ORDER BY status",
					  0, NULL, o->err, sizeof o->err)))
		return;
	if (!(res = ctl_q(db, counts, 0, NULL, o->err, sizeof o->err)))
		return;
	o->dead_open = atoll(PQgetvalue(res, 0, 0));
	o->bots = atoll(PQgetvalue(res, 0, 1));
	o->bots_enabled = atoll(PQgetvalue(res, 0, 2));
	o->chats = atoll(PQgetvalue(res, 0, 3));
	PQclear(res);
	o->ok = 1;
}

static void print_row(const char *label, const long long *v)
{
	printf("%7s", label);
	for (int k = 0; k < NCOLS; k++)
		printf(" %9lld", v[k]);
	putchar('\n');
}

static void print_text(const struct queues *q, const struct outcomes *o)
{
	if (q->ok) {
		char idx[16];

		printf("fleet: %d worker%s, epoch %s\n", q->count, q->count == 1 ? "" : "s", q->epoch);
		printf("%7s", "worker");
		for (int k = 0; k < NCOLS; k++)
			printf(" %9s", col_names[k]);
		putchar('\n');
		for (int i = 0; i < q->count; i++) {
			snprintf(idx, sizeof idx, "%d", i);
			print_row(idx, q->w[i]);
		}
		print_row("total", q->total);
	} else {
		printf("queues: unavailable (%s)\n", q->err);
	}
	if (!o->ok) {
		printf("database: unavailable (%s)\n", o->err);
		return;
	}
	printf("messages:");
	for (int i = 0; i < PQntuples(o->by_status); i++)
		printf("%s %s %s", i ? "," : "", PQgetvalue(o->by_status, i, 0),
		       PQgetvalue(o->by_status, i, 1));
	printf("%s\n", PQntuples(o->by_status) ? "" : " none");
	printf("dead jobs: %lld open\n", o->dead_open);
	printf("bots: %lld (%lld enabled), chats: %lld\n", o->bots, o->bots_enabled, o->chats);
}

static json_t *queues_json(const struct queues *q)
{
	json_t *workers = json_array(), *total = json_object();

	for (int i = 0; i < q->count; i++) {
		json_t *w = json_pack("{s:i}", "index", i);

		for (int k = 0; k < NCOLS; k++)
			json_object_set_new(w, col_names[k], json_integer(q->w[i][k]));
		json_array_append_new(workers, w);
	}
	for (int k = 0; k < NCOLS; k++)
		json_object_set_new(total, col_names[k], json_integer(q->total[k]));
	return json_pack("{s:i, s:s, s:o, s:o}", "count", q->count, "epoch", q->epoch, "workers",
			 workers, "total", total);
}

static void print_json(const struct queues *q, const struct outcomes *o)
{
	json_t *root = json_object(), *msgs;
	char *s;

	if (q->ok)
		json_object_set_new(root, "fleet", queues_json(q));
	else
		json_object_set_new(root, "fleet_error", json_string(q->err));
	if (o->ok) {
		msgs = json_object();
		for (int i = 0; i < PQntuples(o->by_status); i++)
			json_object_set_new(msgs, PQgetvalue(o->by_status, i, 0),
					    json_integer(atoll(PQgetvalue(o->by_status, i, 1))));
		json_object_set_new(root, "messages", msgs);
		json_object_set_new(root, "dead_jobs_open", json_integer(o->dead_open));
		json_object_set_new(root, "bots", json_integer(o->bots));
		json_object_set_new(root, "bots_enabled", json_integer(o->bots_enabled));
		json_object_set_new(root, "chats", json_integer(o->chats));
	} else {
		json_object_set_new(root, "database_error", json_string(o->err));
	}
	if ((s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER | CTL_JSON_REAL))) {
		printf("%s\n", s);
		free(s);
	}
	json_decref(root);
}

int cmd_status(struct ctl *c, int argc, char **argv)
{
	int as_json, np, rc;
	const struct ctl_opt opts[] = { { "json", NULL, &as_json }, { NULL, NULL, NULL } };
	struct queues q;
	struct outcomes o;
	char *pos[1];

	if ((rc = ctl_opts("status", argc - 1, argv + 1, opts, pos, 0, &np)) != 0)
		return rc;
	memset(&q, 0, sizeof q);
	memset(&o, 0, sizeof o);
	read_queues(c, &q);
	read_outcomes(c, &o);
	if (as_json || ctl_json())
		print_json(&q, &o);
	else
		print_text(&q, &o);
	free(q.w);
	PQclear(o.by_status);
	if (!q.ok || !o.ok) {
		fflush(stdout);
		return ctl_fail("%s%s%s", q.ok ? "" : q.err, !q.ok && !o.ok ? "; " : "",
				o.ok ? "" : o.err);
	}
	return CTL_OK;
}
