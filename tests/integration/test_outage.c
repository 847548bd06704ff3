/* A Redis outage under load (issue 18): a fleet of 4 workers with a backlog of
 * jobs in flight, the test Redis stopped as an operator would (SHUTDOWN; the
 * AOF keeps the queues) for 15 s and started again. No one touches the fleet:
 * it must be ready again within a few seconds of Redis answering, every job
 * must end in one terminal row, none twice, none dead-lettered; and while Redis
 * was away /health/ready must have said so ("redis is down (workers 0,1,2,3)"),
 * not "worker 0 is starting". Before the fix the fleet never came back: the
 * first reconnect that found Redis down hung for good.
 *
 * Redis is started again by the test, and once more by the unchecked
 * fixture's teardown, which runs in the runner whatever became of the test,
 * so the suites after this one find it running. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHAT -1001000000088LL
#define BACKLOG 2000
#define AFTER 200
#define OUTAGE_MS 15000

static pid_t fake, sup;

static void setup(void)
{
	const char *slow[] = { "--llm-latency-ms", "200", NULL }; /* jobs in flight at the stop */

	itest_env_setup();
	fake = itest_fake_start(slow);
}

static void teardown(void)
{
	itest_kill(sup, SIGKILL);
	itest_kill(fake, SIGTERM);
	itest_wait_exit(sup, 5000);
	itest_wait_exit(fake, 5000);
	itest_redis_ensure(); /* the DROP of our keys below needs it */
	itest_env_teardown();
}

static void enqueue(int n)
{
	char chat[32], count[16];

	snprintf(chat, sizeof chat, "%lld", CHAT);
	snprintf(count, sizeof count, "%d", n);
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--count", count, NULL), 0);
}

/* /health/ready's status; its text in why. */
static long ready(char *why, size_t n)
{
	long st = 0;
	char *body = itest_http_get(itest_http_port(), "/health/ready", &st);

	snprintf(why, n, "%s", body ? body : "(no answer)");
	why[strcspn(why, "\n")] = '\0';
	free(body);
	return body ? st : 0;
}

static int fleet_ready(void *arg)
{
	char why[512];

	(void)arg;
	return ready(why, sizeof why) == 200;
}

static int all_terminal(void *arg)
{
	return itest_pg_int("SELECT count(*) FROM messages WHERE status IN "
			    "('sent', 'failed', 'unknown')") >= (long long)(intptr_t)arg;
}

START_TEST(redis_outage_the_fleet_resumes_by_itself)
{
	char *cast = itest_write_cast(8, CHAT), why[512], other[600] = "";
	int samples = 0, named = 0, total;
	int64_t t0, back, took;

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	sup = itest_supervisor("4");
	ck_assert_msg(itest_wait_for(fleet_ready, NULL, 20000), "the fleet did not start");
	enqueue(BACKLOG);
	total = BACKLOG;

	itest_redis_stop();
	t0 = itest_now_ms();
	while (itest_now_ms() - t0 < OUTAGE_MS) {
		long st = ready(why, sizeof why);

		/* After 2 s: the workers have noticed (a link drop, their next tick). */
		if (itest_now_ms() - t0 > 2000) {
			samples++;
			if (st == 503 && strcmp(why, "redis is down (workers 0,1,2,3)") == 0)
				named++;
			else
				snprintf(other, sizeof other, "%ld %s", st, why);
		}
		usleep(250000);
	}
	itest_redis_start();
	back = itest_now_ms();
	ck_assert_msg(itest_wait_for(fleet_ready, NULL, 15000),
		      "the fleet was not ready 15 s after Redis came back (/health/ready: %s)",
		      (ready(why, sizeof why), why));
	took = itest_now_ms() - back;
	ck_assert_msg(named == samples, "/health/ready named redis in %d of %d answers (another: %s)",
		      named, samples, other);
	ck_assert_msg(took <= 5000, "the fleet was ready %lld ms after Redis came back",
		      (long long)took);

	enqueue(AFTER); /* and it takes new work */
	total += AFTER;
	ck_assert_msg(itest_wait_for(all_terminal, (void *)(intptr_t)total, 30000),
		      "%lld of %d jobs have a terminal row 30 s after Redis came back",
		      itest_pg_int("SELECT count(*) FROM messages WHERE status IN "
				   "('sent', 'failed', 'unknown')"),
		      total);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages"), total);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status <> 'sent'"), 0);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM dead_jobs"), 0);
	json_t *st = itest_fake_stats();
	ck_assert_int_eq(json_integer_value(json_object_get(st, "duplicate_sends")), 0);
	json_decref(st);
	fprintf(stderr,
		"outage: Redis away %d s under %d jobs; ready %lld ms after it came back; "
		"/health/ready named redis in %d/%d answers; %d jobs sent, none twice\n",
		OUTAGE_MS / 1000, BACKLOG, (long long)took, named, samples, total);
	unlink(cast);
	free(cast);
}
END_TEST

/* In the runner: whatever happened in the test, Redis runs for the next suites. */
static void redis_back(void)
{
	itest_redis_ensure();
}

static Suite *outage_suite(void)
{
	Suite *s = suite_create("outage");
	TCase *tc = tcase_create("redis");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_unchecked_fixture(tc, NULL, redis_back);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, redis_outage_the_fleet_resumes_by_itself);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(outage_suite)
