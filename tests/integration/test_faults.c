/* The pipeline under faults: 10,000 jobs, 4 workers, the fake failing 10% with
 * 5xx, 5% with 429 + retry_after, 2% hanging past the client timeout, 1% with
 * malformed JSON, and a worker kill -9'ed every 3 s. Every job must end in one
 * terminal row, the fake must count zero duplicate sends, nothing may be lost. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHAT -1001000000077LL
#define JOBS 10000

static pid_t fake, sup;
static char conf[64];

static void setup(void)
{
	const char *faults[] = { "--fault-5xx",
				 "0.10",
				 "--fault-429",
				 "0.05",
				 "--fault-hang",
				 "0.02",
				 "--fault-badjson",
				 "0.01",
				 "--hang-ms",
				 "2500",
				 "--retry-after",
				 "1",
				 NULL };
	FILE *f;

	itest_env_setup();
	fake = itest_fake_start(faults);
	snprintf(conf, sizeof conf, "/tmp/itest-faults-%d.conf", (int)getpid());
	f = fopen(conf, "w");
	/* Short client timeouts so hung calls cost 1.5 s, quick retries, room for
	 * the attempts a 30% per-attempt failure rate needs. */
	fprintf(f,
		"backoff_base_ms = 100\nbackoff_max_ms = 2000\nmax_attempts = 10\n"
		"lease_ms = 5000\nmax_inflight = 500\n[telegram]\ntimeout_ms = 1500\n"
		"[provider fake]\nbase_url = %s\nmodel = fake-1\napi_key = k\ntimeout_ms = 1500\n",
		getenv("PIYASA_LLM_BASE_URL"));
	fclose(f);
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

static long long terminal(void)
{
	return itest_pg_int("SELECT count(*) FROM messages WHERE status IN ('sent','unknown','failed')");
}

/* A random live worker of the supervisor. */
static pid_t some_worker(void)
{
	char cmd[64];
	pid_t pids[16];
	int n = 0;
	FILE *p;

	snprintf(cmd, sizeof cmd, "pgrep -P %d -x worker", (int)sup);
	if (!(p = popen(cmd, "r")))
		return 0;
	while (n < 16 && fscanf(p, "%d", &pids[n]) == 1)
		n++;
	pclose(p);
	return n ? pids[rand() % n] : 0;
}

START_TEST(every_job_terminal_no_duplicates_under_faults_and_kill9)
{
	char *cast = itest_write_cast(40, CHAT), chat[32], *bin = itest_bin("supervisor");
	const char *av[] = { bin, "--workers", "4", "--config", conf, NULL };
	int64_t t0, next_kill;
	int kills = 0;

	snprintf(chat, sizeof chat, "%lld", CHAT);
	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	sup = itest_spawn(av, getenv("PIYASA_ITEST_LOG"));
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--count", "10000", NULL), 0);
	t0 = itest_now_ms();
	next_kill = t0 + 3000;
	srand((unsigned)getpid());
	while (terminal() < JOBS && itest_now_ms() - t0 < 240000) {
		if (itest_now_ms() >= next_kill && kills < 20) {
			pid_t w = some_worker();
			if (w > 0 && kill(w, SIGKILL) == 0)
				kills++;
			next_kill = itest_now_ms() + 3000;
		}
		usleep(200000);
	}
	json_t *st = itest_fake_stats();
	long long sent = itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'");
	long long unknown = itest_pg_int("SELECT count(*) FROM messages WHERE status = 'unknown'");
	long long failed = itest_pg_int("SELECT count(*) FROM messages WHERE status = 'failed'");
	fprintf(stderr,
		"faults: %d jobs in %.1f s, %d workers killed: sent %lld, unknown %lld, "
		"failed %lld; fake: %lld sends, %lld duplicates\n",
		JOBS, (double)(itest_now_ms() - t0) / 1000.0, kills, sent, unknown, failed,
		(long long)json_integer_value(json_object_get(st, "sends")),
		(long long)json_integer_value(json_object_get(st, "duplicate_sends")));
	ck_assert_int_ge(kills, 3);
	ck_assert_int_eq(terminal(), JOBS);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages"), JOBS);
	ck_assert_int_eq(json_integer_value(json_object_get(st, "duplicate_sends")), 0);
	/* every send the fake recorded is a row we know of: sent, or unknown (a
	 * hang the fake took) — never a row we think was not sent */
	ck_assert_int_le(json_integer_value(json_object_get(st, "sends")), sent + unknown);
	ck_assert_int_ge(json_integer_value(json_object_get(st, "sends")), sent);
	/* a failed job is a dead letter with its reason */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM dead_jobs"), failed);
	json_decref(st);
	unlink(cast);
	free(cast);
	free(bin);
}
END_TEST

static Suite *faults_suite(void)
{
	Suite *s = suite_create("faults");
	TCase *tc = tcase_create("pipeline");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, every_job_terminal_no_duplicates_under_faults_and_kill9);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(faults_suite)
