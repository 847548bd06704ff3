/* What spends a job's attempts (issue 18, item 4): only a try that failed. A
 * worker kill -9'd while it holds leases, and PostgreSQL stopped under a
 * stream, must not dead-letter anything even with max_attempts = 1 (before,
 * the lease taken back counted as an attempt: every such job was dead). And
 * retries of a transient fault are bounded by time (retry_max_age_s) as well
 * as by count.
 *
 * PostgreSQL is started again by the test, and once more by the unchecked
 * fixture's teardown, which runs in the runner whatever became of the test. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHAT -1001000000118LL

static pid_t fake, sup;
static char conf[128];

static void setup(void)
{
	itest_env_setup();
	snprintf(conf, sizeof conf, "/tmp/itest-attempts-%d.conf", (int)getpid());
}

static void teardown(void)
{
	itest_kill(sup, SIGKILL);
	itest_kill(fake, SIGTERM);
	itest_wait_exit(sup, 5000);
	itest_wait_exit(fake, 5000);
	unlink(conf);
	itest_pg_ensure(); /* the DROP of our database below needs it */
	itest_env_teardown();
}

/* piyasa.conf with extra lines (the provider is the fake). */
static void write_conf(const char *extra)
{
	FILE *f = fopen(conf, "w");

	ck_assert_ptr_nonnull(f);
	fprintf(f,
		"%s\n[telegram]\ntimeout_ms = 5000\n[provider fake]\nbase_url = %s\nmodel = "
		"fake-1\napi_key = k\ntimeout_ms = 5000\n",
		extra, getenv("PIYASA_LLM_BASE_URL"));
	fclose(f);
}

static pid_t start_fleet(const char *workers)
{
	char *bin = itest_bin("supervisor"), *cast = itest_write_cast(8, CHAT);
	const char *av[] = { bin, "--workers", workers, "--config", conf, NULL };
	pid_t pid;

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	pid = itest_spawn(av, getenv("PIYASA_ITEST_LOG"));
	unlink(cast);
	free(cast);
	free(bin);
	return pid;
}

static void enqueue(int n)
{
	char chat[32], count[16];

	snprintf(chat, sizeof chat, "%lld", CHAT);
	snprintf(count, sizeof count, "%d", n);
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--count", count, NULL), 0);
}

/* The worker of slot 0 (the only one), 0 when none runs. */
static pid_t the_worker(void)
{
	char cmd[64];
	int pid = 0;
	FILE *p;

	snprintf(cmd, sizeof cmd, "pgrep -P %d -x worker", (int)sup);
	if (!(p = popen(cmd, "r")))
		return 0;
	if (fscanf(p, "%d", &pid) != 1)
		pid = 0;
	pclose(p);
	return pid;
}

static long long leased(void)
{
	char key[96];

	snprintf(key, sizeof key, "%s:{w0}:leased", getenv("PIYASA_REDIS_PREFIX"));
	return itest_redis_int("ZCARD %s", key);
}

/* Jobs whose lease number (the att hash's first field, common/rq.h) is at
 * least lease. */
static long long leased_at_least(int lease)
{
	static const char lua[] =
		"local n = 0 for _, v in ipairs(redis.call('HVALS', KEYS[1])) do "
		"if tonumber(string.match(v, '^%d+')) >= tonumber(ARGV[1]) then n = n + 1 end end "
		"return n";
	char key[96], want[16];

	snprintf(key, sizeof key, "%s:{w0}:att", getenv("PIYASA_REDIS_PREFIX"));
	snprintf(want, sizeof want, "%d", lease);
	return itest_redis_int("EVAL %s 1 %s %s", lua, key, want);
}

/* Every job leased (again) by the worker of this round, none done. */
static int holds(void *arg)
{
	int round = (int)(intptr_t)arg;

	return leased() >= 40 && leased_at_least(round + 1) >= 40 && itest_terminal() == 0;
}

static int not_worker(void *arg)
{
	pid_t p = the_worker();

	return p != 0 && p != (pid_t)(intptr_t)arg;
}

static void no_duplicates(void)
{
	json_t *st = itest_fake_stats();

	ck_assert_int_eq(json_integer_value(json_object_get(st, "duplicate_sends")), 0);
	json_decref(st);
}

/* One worker holds 40 leases (the LLM answers in 2.5 s); it is kill -9'd, its
 * successor takes the leases back and is killed in its turn. With
 * max_attempts = 1 every job must still be sent, once: a lease taken back is
 * a takeover, not a failed try. */
START_TEST(a_killed_workers_jobs_spend_no_attempt)
{
	const char *slow[] = { "--llm-latency-ms", "2500", NULL };
	enum { N = 40 };
	pid_t w;

	fake = itest_fake_start(slow);
	write_conf("max_attempts = 1\nlease_ms = 4000");
	sup = start_fleet("1");
	ck_assert_msg(itest_wait_for(itest_ready, NULL, 20000), "the fleet did not start");
	enqueue(N);
	for (int round = 0; round < 2; round++) {
		ck_assert_msg(itest_wait_for(holds, (void *)(intptr_t)round, 10000),
			      "round %d: %lld leases held, %lld jobs done", round, leased(),
			      itest_terminal());
		ck_assert_int_gt(w = the_worker(), 0);
		itest_kill(w, SIGKILL);
		ck_assert_msg(itest_wait_for(not_worker, (void *)(intptr_t)w, 10000),
			      "no worker came after the kill");
	}
	ck_assert_msg(itest_wait_for(itest_terminal_at_least, (void *)(intptr_t)N, 30000),
		      "%lld of %d jobs ended", itest_terminal(), N);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM dead_jobs"), 0);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'"), N);
	/* Each was leased three times: by the two workers killed, then sent. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE attempt = 3"), N);
	no_duplicates();
}
END_TEST

/* PostgreSQL stopped for 8 s under a stream (2 workers, 20 jobs in flight
 * each, the LLM answering in 1 s): with max_attempts = 1, no job is
 * dead-lettered, each ends in one terminal row, none is sent twice, and the
 * fleet goes on by itself. */
START_TEST(a_database_outage_dead_letters_nothing)
{
	const char *slow[] = { "--llm-latency-ms", "1000", NULL };
	enum { N = 600 };
	int64_t t0;

	fake = itest_fake_start(slow);
	write_conf("max_attempts = 1\nlease_ms = 5000\nmax_inflight = 20");
	sup = start_fleet("2");
	ck_assert_msg(itest_wait_for(itest_ready, NULL, 20000), "the fleet did not start");
	enqueue(N);
	ck_assert_msg(itest_wait_for(itest_terminal_at_least, (void *)(intptr_t)60, 20000),
		      "the stream did not start");
	itest_pg_stop();
	t0 = itest_now_ms();
	usleep(8000000);
	itest_pg_start();
	ck_assert_msg(itest_wait_for(itest_ready, NULL, 15000),
		      "the fleet was not ready 15 s after PostgreSQL came back");
	ck_assert_msg(itest_wait_for(itest_terminal_at_least, (void *)(intptr_t)N, 90000),
		      "%lld of %d jobs ended", itest_terminal(), N);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM dead_jobs"), 0);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages"), N);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status = 'failed'"), 0);
	no_duplicates();
	fprintf(stderr,
		"attempts: PostgreSQL away %lld ms under %d jobs: %lld sent, %lld unknown, no "
		"dead letter\n",
		(long long)(itest_now_ms() - t0), N,
		itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'"),
		itest_pg_int("SELECT count(*) FROM messages WHERE status = 'unknown'"));
}
END_TEST

/* A worker started while PostgreSQL is down cannot load the settings, and
 * leases nothing until it has (they bound the retries): once the database is
 * back it must load them and lease by itself. */
START_TEST(a_worker_started_in_an_outage_leases_after_it)
{
	const char *none[] = { NULL };
	enum { N = 20 };
	pid_t w;

	fake = itest_fake_start(none);
	write_conf("");
	sup = start_fleet("1");
	ck_assert_msg(itest_wait_for(itest_ready, NULL, 20000), "the fleet did not start");
	itest_pg_stop();
	ck_assert_int_gt(w = the_worker(), 0);
	itest_kill(w, SIGKILL);
	ck_assert_msg(itest_wait_for(not_worker, (void *)(intptr_t)w, 10000),
		      "no worker came after the kill");
	usleep(2000000); /* its first settings query fails meanwhile */
	itest_pg_start();
	enqueue(N);
	ck_assert_msg(itest_wait_for(itest_terminal_at_least, (void *)(intptr_t)N, 30000),
		      "%lld of %d jobs ended after PostgreSQL came back", itest_terminal(), N);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'"), N);
}
END_TEST

static int one_dead(void *arg)
{
	(void)arg;
	return itest_pg_int("SELECT count(*) FROM dead_jobs") >= 1;
}

/* Every LLM call fails (5xx): with 100 tries allowed, retry_max_age_s = 2
 * still ends the job a few seconds after its first fault. */
START_TEST(transient_retries_are_bounded_by_time)
{
	const char *broken[] = { "--fault-5xx", "1", "--fault-scope", "llm", NULL };
	int64_t t0;

	fake = itest_fake_start(broken);
	write_conf("max_attempts = 100\nbackoff_base_ms = 400\nbackoff_max_ms = 800");
	ck_assert_int_eq(itest_ctl("settings", "set", "retry_max_age_s", "2", NULL), 0);
	sup = start_fleet("1");
	ck_assert_msg(itest_wait_for(itest_ready, NULL, 20000), "the fleet did not start");
	t0 = itest_now_ms();
	enqueue(1);
	ck_assert_msg(itest_wait_for(one_dead, NULL, 40000), "the job was not dead-lettered");
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM dead_jobs WHERE reason LIKE "
				      "'gave up after % attempts over % s (retry_max_age_s 2)'"),
			 1);
	ck_assert_int_lt(itest_pg_int("SELECT attempts FROM dead_jobs"), 100);
	/* Its outbox row says so: one terminal row. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status = 'failed'"), 1);
	fprintf(stderr,
		"attempts: the always-failing job was dead-lettered after %lld ms, lease %lld\n",
		(long long)(itest_now_ms() - t0), itest_pg_int("SELECT attempts FROM dead_jobs"));
}
END_TEST

/* In the runner: whatever happened in the test, PostgreSQL runs for the next suites. */
static void pg_back(void)
{
	itest_pg_ensure();
}

static Suite *attempts_suite(void)
{
	Suite *s = suite_create("attempts");
	TCase *tc = tcase_create("takeover");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, a_killed_workers_jobs_spend_no_attempt);
	suite_add_tcase(s, tc);
	tc = tcase_create("pgoutage");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, pg_back);
	tcase_set_timeout(tc, 150);
	tcase_add_test(tc, a_database_outage_dead_letters_nothing);
	tcase_add_test(tc, a_worker_started_in_an_outage_leases_after_it);
	suite_add_tcase(s, tc);
	tc = tcase_create("age");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, transient_retries_are_bounded_by_time);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(attempts_suite)
