/* A poison job (issue 18): a job that kills every worker that takes it. No
 * hook in the worker makes it so: the test watches Redis for the job's lease
 * (its slot's leased zset and att hash, common/rq.h) and kill -9s the worker
 * of that slot each time it holds it. The job must end dead-lettered after
 * retry_max_takeovers takeovers with a reason that says so; the jobs leased
 * beside it, which die with it, must each end once (none dead-lettered, no
 * duplicate send), and the fleet must go on. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHAT -1001000000119LL
#define WORKERS 2
#define MAX_TAKEOVERS 3
#define MAX_NEIGHBOURS 256

static pid_t fake, sup;
static char conf[128];

static void setup(void)
{
	itest_env_setup();
	snprintf(conf, sizeof conf, "/tmp/itest-poison-%d.conf", (int)getpid());
}

static void teardown(void)
{
	itest_kill(sup, SIGKILL);
	itest_kill(fake, SIGTERM);
	itest_wait_exit(sup, 5000);
	itest_wait_exit(fake, 5000);
	unlink(conf);
	itest_env_teardown();
}

static void write_conf(const char *extra)
{
	FILE *f = fopen(conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"%s\n[log]\nlevel = info\n[telegram]\ntimeout_ms = 5000\n[provider fake]\nbase_url = %s\nmodel = "
		"fake-1\napi_key = k\ntimeout_ms = 5000\n",
		extra, getenv("PIYASA_LLM_BASE_URL"));
	fclose(f);
}

static void enqueue(int n)
{
	char chat[32], count[16];

	snprintf(chat, sizeof chat, "%lld", CHAT);
	snprintf(count, sizeof count, "%d", n);
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--count", count, NULL), 0);
}

/* The pid of the worker in slot index (/status), 0 when none runs. */
static pid_t worker_of(int index)
{
	long st = 0;
	char *body = itest_http_get(itest_http_port(), "/status", &st);
	json_t *doc = body ? json_loads(body, 0, NULL) : NULL, *w;
	pid_t pid = 0;
	size_t i;

	json_array_foreach(json_object_get(doc, "workers"), i, w)
		if (json_integer_value(json_object_get(w, "index")) == index)
			pid = (pid_t)json_integer_value(json_object_get(w, "pid"));
	json_decref(doc);
	free(body);
	return pid;
}

static void key_of(char *buf, size_t n, int slot, const char *what)
{
	snprintf(buf, n, "%s:{w%d}:%s", getenv("PIYASA_REDIS_PREFIX"), slot, what);
}

/* What the test knows of the poison job and the jobs that died beside it. */
struct poison {
	redisContext *rc;
	char id[128];
	int slot;
	int lease_killed; /* the last lease number whose holder was killed */
	int kills;
	char *beside[MAX_NEIGHBOURS];
	int nbeside;
};

/* The first job leased in any slot becomes the poison. */
static int pick(struct poison *p)
{
	char key[128];

	for (int s = 0; s < WORKERS; s++) {
		redisReply *r;

		key_of(key, sizeof key, s, "leased");
		r = redisCommand(p->rc, "ZRANGE %s 0 0", key);
		if (r && r->type == REDIS_REPLY_ARRAY && r->elements == 1) {
			snprintf(p->id, sizeof p->id, "%s", r->element[0]->str);
			p->slot = s;
			freeReplyObject(r);
			return 1;
		}
		if (r)
			freeReplyObject(r);
	}
	return 0;
}

/* The poison's counts "L F T S" (rq.h), 0 when leased is not held now. */
static int held(struct poison *p, int *lease, int *takeovers)
{
	char leased[128], att[128];
	redisReply *z, *a;
	int ok = 0, f, s;

	key_of(leased, sizeof leased, p->slot, "leased");
	key_of(att, sizeof att, p->slot, "att");
	z = redisCommand(p->rc, "ZSCORE %s %s", leased, p->id);
	a = redisCommand(p->rc, "HGET %s %s", att, p->id);
	if (z && z->type == REDIS_REPLY_STRING && a && a->type == REDIS_REPLY_STRING)
		ok = sscanf(a->str, "%d %d %d %d", lease, &f, takeovers, &s) == 4;
	if (z)
		freeReplyObject(z);
	if (a)
		freeReplyObject(a);
	return ok;
}

/* The jobs leased beside the poison when its holder dies. */
static void note_beside(struct poison *p)
{
	char key[128];
	redisReply *r;

	key_of(key, sizeof key, p->slot, "leased");
	if (!(r = redisCommand(p->rc, "ZRANGE %s 0 -1", key)))
		return;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		int seen = !strcmp(r->element[i]->str, p->id);

		for (int j = 0; j < p->nbeside && !seen; j++)
			seen = !strcmp(p->beside[j], r->element[i]->str);
		if (!seen && p->nbeside < MAX_NEIGHBOURS)
			p->beside[p->nbeside++] = strdup(r->element[i]->str);
	}
	freeReplyObject(r);
}

static int dead(const char *id)
{
	char sql[256];

	snprintf(sql, sizeof sql, "SELECT count(*) FROM dead_jobs WHERE job_id = '%s'", id);
	return itest_pg_int(sql) > 0;
}

/* Every 10 ms: a new lease of the poison kills its holder. A worker that
 * leases it with retry_max_takeovers takeovers already gives up on it without
 * running it, so that lease is left alone (the job kills only a worker that
 * runs it). 1 when the poison was dead-lettered within timeout_ms. */
static int poison_until_dead(struct poison *p, int timeout_ms)
{
	int64_t end = itest_now_ms() + timeout_ms;

	while (itest_now_ms() < end) {
		int lease, takeovers;
		pid_t w;

		if (held(p, &lease, &takeovers) && lease > p->lease_killed &&
		    takeovers < MAX_TAKEOVERS && (w = worker_of(p->slot)) > 0) {
			note_beside(p);
			itest_kill(w, SIGKILL);
			p->lease_killed = lease;
			p->kills++;
		}
		if (dead(p->id))
			return 1;
		usleep(10000);
	}
	return 0;
}

/* 30 jobs on 2 workers holding up to 8 each, the LLM answering in 1 s:
 * the poison always has jobs leased beside it when its worker dies. */
START_TEST(a_poison_job_is_dead_lettered_alone)
{
	const char *slow[] = { "--llm-latency-ms", "1000", NULL };
	char workers[8], sql[512];
	struct poison p = { 0 };
	enum { N = 30, MORE = 10 };
	json_t *st;

	fake = itest_fake_start(slow);
	write_conf("max_inflight = 8\nlease_ms = 4000");
	snprintf(workers, sizeof workers, "%d", WORKERS);
	ck_assert_int_eq(itest_ctl("settings", "set", "retry_max_takeovers", "3", NULL), 0);
	{
		char *bin = itest_bin("supervisor"), *cast = itest_write_cast(8, CHAT);
		const char *av[] = { bin, "--workers", workers, "--config", conf, NULL };

		ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
		sup = itest_spawn(av, getenv("PIYASA_ITEST_LOG"));
		unlink(cast);
		free(cast);
		free(bin);
	}
	ck_assert_msg(itest_wait_for(itest_ready, NULL, 20000), "the fleet did not start");
	ck_assert_ptr_nonnull(p.rc = itest_redis_connect(2000));
	enqueue(N);
	for (int64_t end = itest_now_ms() + 10000; !pick(&p); usleep(5000))
		ck_assert_msg(itest_now_ms() < end, "no job was leased");
	if (!poison_until_dead(&p, 60000)) {
		char att[128];
		redisReply *r;

		key_of(att, sizeof att, p.slot, "att");
		r = redisCommand(p.rc, "HGET %s %s", att, p.id);
		ck_abort_msg("the poison %s was not dead-lettered (%d kills, att %s, %lld dead, "
			     "%lld ended)",
			     p.id, p.kills, r && r->str ? r->str : "-",
			     itest_pg_int("SELECT count(*) FROM dead_jobs"), itest_terminal());
	}
	fprintf(stderr, "poison: %s dead after %d kills of slot %d; %d jobs leased beside it\n",
		p.id, p.kills, p.slot, p.nbeside);
	ck_assert_int_eq(p.kills, MAX_TAKEOVERS);
	ck_assert_int_gt(p.nbeside, 0);
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM dead_jobs WHERE job_id = '%s' AND reason = 'gave up after "
		 "%d takeovers: every worker that ran it stopped before it ended'",
		 p.id, MAX_TAKEOVERS);
	ck_assert_int_eq(itest_pg_int(sql), 1);
	/* The others each end once: one terminal row, none dead. */
	ck_assert_msg(itest_wait_for(itest_terminal_at_least, (void *)(intptr_t)N, 60000),
		      "%lld of %d jobs ended", itest_terminal(), N);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM dead_jobs"), 1);
	for (int i = 0; i < p.nbeside; i++) {
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM messages WHERE job_id = '%s' AND status IN "
			 "('sent','unknown')",
			 p.beside[i]);
		ck_assert_msg(itest_pg_int(sql) == 1, "job %s leased beside the poison did not end",
			      p.beside[i]);
	}
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status = 'failed'"), 1);
	st = itest_fake_stats();
	ck_assert_int_eq(json_integer_value(json_object_get(st, "duplicate_sends")), 0);
	json_decref(st);
	/* /metrics counts the takeovers apart from failed tries: every kill took
	 * back the poison and its neighbours; nothing failed. */
	{
		long code = 0;
		char *m = itest_http_get(itest_http_port(), "/metrics", &code), *at;
		long long n = -1;

		ck_assert_ptr_nonnull(m);
		ck_assert_ptr_nonnull(at = strstr(m, "\npiyasa_job_takeovers_total "));
		n = atoll(at + strlen("\npiyasa_job_takeovers_total "));
		ck_assert_int_ge(n, MAX_TAKEOVERS + p.nbeside);
		ck_assert_ptr_nonnull(strstr(m, "\npiyasa_job_failures_total{kind=\"llm\"} 0\n"));
		free(m);
	}
	/* And the fleet goes on. */
	ck_assert_msg(itest_wait_for(itest_ready, NULL, 20000), "the fleet is not ready");
	enqueue(MORE);
	ck_assert_msg(itest_wait_for(itest_terminal_at_least, (void *)(intptr_t)(N + MORE), 30000),
		      "%lld of %d jobs ended after the poison", itest_terminal(), N + MORE);
	fprintf(stderr, "poison: %lld sent, %lld unknown, 1 dead letter\n",
		itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'"),
		itest_pg_int("SELECT count(*) FROM messages WHERE status = 'unknown'"));
	for (int i = 0; i < p.nbeside; i++)
		free(p.beside[i]);
	redisFree(p.rc);
}
END_TEST

static Suite *poison_suite(void)
{
	Suite *s = suite_create("poison");
	TCase *tc = tcase_create("poison");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, a_poison_job_is_dead_lettered_alone);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(poison_suite)
