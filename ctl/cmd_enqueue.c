/* cmd_enqueue: `piyasactl enqueue`: put jobs on the queues by hand, for an
 * operator who wants a bot to speak now, and for tests and benchmarks that need
 * thousands of jobs spread over a chat's bots. The bot and chat are checked in
 * PostgreSQL first (a job for an unknown bot would only die in a worker); the
 * jobs go through rqs_enqueue, pipelined, a batch at a time. */
#include "ctl/ctl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 1000
#define MAX_COUNT 100000000LL
#define MAX_BOTS 10000

struct enq_args {
	const char *bot, *bots, *chat, *prio, *kind, *count, *delay, *payload, *job_id, *rate;
	int all_bots, spread;
};

struct plan {
	int64_t chat;
	int64_t *bots;
	size_t nbots;
	int kind, prio;
	int64_t count, delay_ms;
	int64_t rate; /* jobs per second, evenly; 0: all at once */
	json_t *payload;
	const char *job_id;
};

/* "1,2,3" into ids (malloc'd). */
static int parse_bot_list(const char *s, int64_t **ids, size_t *n)
{
	char *copy = strdup(s), *save = NULL, *tok;
	size_t cap = 0;

	*ids = NULL;
	*n = 0;
	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n == cap) {
			int64_t *more = realloc(*ids, (cap = cap ? cap * 2 : 8) * sizeof **ids);
			if (!more)
				break;
			*ids = more;
		}
		if (ctl_parse_id(tok, &(*ids)[*n]) < 0 || *n >= MAX_BOTS)
			break;
		(*n)++;
	}
	free(copy);
	if (tok || *n == 0) {
		free(*ids);
		*ids = NULL;
		return -1;
	}
	return 0;
}

/* The command line into a plan (bots still to be resolved when none given). */
static int make_plan(const struct enq_args *a, struct plan *p)
{
	char err[512];

	if (!a->chat || ctl_parse_i64(a->chat, &p->chat) < 0 || p->chat == 0)
		return ctl_usage("enqueue", "--chat ID is needed (a non-zero Telegram chat id)");
	if ((a->bot != NULL) + (a->bots != NULL) + a->all_bots > 1)
		return ctl_usage("enqueue", "--bot, --bots and --all-bots exclude each other");
	if ((p->kind = job_kind_parse(a->kind ? a->kind : "speak")) < 0)
		return ctl_usage("enqueue", "--kind: expected speak, reply or memorize");
	if ((p->prio = job_prio_parse(a->prio ? a->prio : "normal")) < 0)
		return ctl_usage("enqueue", "--priority: expected high, normal or low");
	if (ctl_parse_i64(a->count ? a->count : "1", &p->count) < 0 || p->count < 1 ||
	    p->count > MAX_COUNT)
		return ctl_usage("enqueue", "--count: expected 1..%lld", MAX_COUNT);
	if (ctl_parse_i64(a->delay ? a->delay : "0", &p->delay_ms) < 0 || p->delay_ms < 0)
		return ctl_usage("enqueue", "--delay-ms: expected a number >= 0");
	if (ctl_parse_i64(a->rate ? a->rate : "0", &p->rate) < 0 || p->rate < 0 || p->rate > 1000000)
		return ctl_usage("enqueue",
				 "--rate: expected jobs per second, 0..1000000 (0: all at once)");
	if (a->job_id && p->count != 1)
		return ctl_usage("enqueue", "--job-id names one job: it needs --count 1");
	if (a->job_id && (strlen(a->job_id) >= JOB_ID_MAX || !*a->job_id ||
			  strspn(a->job_id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					    "0123456789_.:-") != strlen(a->job_id)))
		return ctl_usage("enqueue", "--job-id: 1-63 of [A-Za-z0-9_.:-]");
	p->job_id = a->job_id;
	if (a->payload) {
		if (ctl_json_arg(a->payload, &p->payload, err, sizeof err) < 0)
			return ctl_fail("--payload: %s", err);
		if (!json_is_object(p->payload))
			return ctl_fail("--payload: expected a JSON object");
	}
	if (a->bot) {
		if (!(p->bots = malloc(sizeof *p->bots)) || ctl_parse_id(a->bot, p->bots) < 0)
			return ctl_usage("enqueue", "--bot: '%s' is not a bot id", a->bot);
		p->nbots = 1;
	} else if (a->bots && parse_bot_list(a->bots, &p->bots, &p->nbots) < 0) {
		return ctl_usage("enqueue", "--bots: expected bot ids separated by commas");
	}
	return 0;
}

/* Each named bot must exist; a disabled one or a non-member is worth a note
 * (the worker will skip or refuse it), not a refusal: tests do that on purpose. */
static int check_bots(PGconn *db, const struct plan *p, const char *chat)
{
	static const char sql[] =
		"SELECT b.enabled, EXISTS (SELECT 1 FROM chat_bots cb WHERE cb.bot_id = b.id"
		" AND cb.chat_id = $2 AND cb.status = 'member') FROM bots b WHERE b.id = $1";
	char err[1024], id[24];
	const char *prm[2] = { id, chat };

	for (size_t i = 0; i < p->nbots; i++) {
		PGresult *res;

		snprintf(id, sizeof id, "%lld", (long long)p->bots[i]);
		if (!(res = ctl_q(db, sql, 2, prm, err, sizeof err)))
			return ctl_fail("%s", err);
		if (PQntuples(res) == 0) {
			PQclear(res);
			return ctl_fail("no bot %s", id);
		}
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
			ctl_note("bot %s is disabled", id);
		if (strcmp(PQgetvalue(res, 0, 1), "t") != 0)
			ctl_note("bot %s is not a member of chat %s", id, chat);
		PQclear(res);
	}
	return 0;
}

/* No bots named: the chat's enabled member bots, in id order. */
static int member_bots(PGconn *db, struct plan *p, const char *chat)
{
	static const char sql[] =
		"SELECT b.id FROM chat_bots cb JOIN bots b ON b.id = cb.bot_id"
		" WHERE cb.chat_id = $1 AND cb.status = 'member' AND b.enabled ORDER BY b.id";
	const char *prm[1] = { chat };
	char err[1024];
	PGresult *res = ctl_q(db, sql, 1, prm, err, sizeof err);

	if (!res)
		return ctl_fail("%s", err);
	p->nbots = (size_t)PQntuples(res);
	if (p->nbots == 0) {
		PQclear(res);
		return ctl_fail("chat %s has no enabled member bots (piyasactl chat join ...)", chat);
	}
	if (!(p->bots = malloc(p->nbots * sizeof *p->bots))) {
		PQclear(res);
		return ctl_fail("out of memory");
	}
	for (size_t i = 0; i < p->nbots; i++)
		p->bots[i] = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
	PQclear(res);
	return 0;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* With --rate, how many of the jobs are due now (at least one more than done,
 * after sleeping until it is): job i is due i/rate seconds after the start, so
 * each arrives on its own, not in bursts, and a slow round trip is caught up. */
static size_t due_now(const struct plan *p, int64_t t0, int64_t done)
{
	int64_t next = t0 + done * 1000000000 / p->rate, now = mono_ns(), due;

	if (next > now) {
		struct timespec ts = { (time_t)((next - now) / 1000000000),
				       (long)((next - now) % 1000000000) };
		nanosleep(&ts, NULL);
		now = mono_ns();
	}
	due = (now - t0) * p->rate / 1000000000 + 1 - done;
	return (size_t)(due < 1 ? 1 : due > BATCH ? BATCH : due);
}

/* K jobs, round-robin over the bots, BATCH at a time (or as they fall due). */
static int send_jobs(struct rqs *r, const struct plan *p, size_t *added)
{
	int64_t t0 = mono_ns();
	struct job *jobs = calloc(BATCH, sizeof *jobs);
	struct job **ptrs = calloc(BATCH, sizeof *ptrs);
	char err[512];
	int rc = 0;

	*added = 0;
	if (!jobs || !ptrs)
		rc = ctl_fail("out of memory");
	for (int64_t done = 0; rc == 0 && done < p->count;) {
		size_t n = p->count - done < BATCH ? (size_t)(p->count - done) : BATCH, a = 0;
		int64_t now;

		if (p->rate) {
			size_t due = due_now(p, t0, done);
			n = due < n ? due : n;
		}
		now = job_now_ms();

		for (size_t i = 0; i < n; i++) {
			struct job *j = &jobs[i];

			if (p->job_id)
				snprintf(j->id, sizeof j->id, "%s", p->job_id);
			else
				job_new_id(j->id);
			j->kind = p->kind;
			j->prio = p->prio;
			j->bot_id = p->bots[(size_t)(done + (int64_t)i) % p->nbots];
			j->chat_id = p->chat;
			j->not_before = p->delay_ms ? now + p->delay_ms : 0;
			j->enqueued_at = now;
			j->payload = p->payload; /* borrowed: job_encode only reads it */
			ptrs[i] = j;
		}
		if (rqs_enqueue(r, ptrs, n, p->delay_ms, &a, err, sizeof err) < 0)
			rc = ctl_fail("enqueue: %s (%zu jobs enqueued before)", err, *added);
		*added += a;
		done += (int64_t)n;
	}
	free(jobs);
	free(ptrs);
	return rc;
}

static int enqueue_run(struct ctl *c, struct plan *p)
{
	char err[1024], chat[24];
	struct rqs *r;
	size_t added = 0;
	PGconn *db;
	int rc;

	snprintf(chat, sizeof chat, "%lld", (long long)p->chat);
	if (!(db = ctl_db(c, err, sizeof err)) || ctl_chat_exists(db, chat, err, sizeof err) < 0)
		return ctl_fail("%s", err);
	if ((rc = p->bots ? check_bots(db, p, chat) : member_bots(db, p, chat)) != 0)
		return rc;
	if (!(r = ctl_redis(c, err, sizeof err)))
		return ctl_fail("%s", err);
	if ((rc = send_jobs(r, p, &added)) != 0)
		return rc;
	if ((int64_t)added == p->count)
		printf("enqueued %zu jobs\n", added);
	else
		printf("enqueued %zu jobs (%lld already queued under the same id)\n", added,
		       (long long)p->count - (long long)added);
	return CTL_OK;
}

int cmd_enqueue(struct ctl *c, int argc, char **argv)
{
	struct enq_args a;
	const struct ctl_opt opts[] = {
		{ "bot", &a.bot, NULL },
		{ "bots", &a.bots, NULL },
		{ "all-bots", NULL, &a.all_bots },
		{ "spread", NULL, &a.spread },
		{ "chat", &a.chat, NULL },
		{ "priority", &a.prio, NULL },
		{ "kind", &a.kind, NULL },
		{ "count", &a.count, NULL },
		{ "delay-ms", &a.delay, NULL },
		{ "payload", &a.payload, NULL },
		{ "job-id", &a.job_id, NULL },
		{ "rate", &a.rate, NULL },
		{ NULL, NULL, NULL },
	};
	struct plan p;
	char *pos[1];
	int np, rc;

	memset(&p, 0, sizeof p);
	if ((rc = ctl_opts("enqueue", argc - 1, argv + 1, opts, pos, 0, &np)) == 0 &&
	    (rc = make_plan(&a, &p)) == 0)
		rc = enqueue_run(c, &p);
	free(p.bots);
	json_decref(p.payload);
	return rc;
}
