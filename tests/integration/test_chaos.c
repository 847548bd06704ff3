/* The short chaos run (issue 18): scripts/chaos with small numbers. 2,000 jobs at
 * 100 a second on 4 workers, the fault mix of the issue on both APIs (10% 5xx,
 * 5% 429, 2% hangs, 1% truncated JSON), a worker killed every 2 s, Redis and
 * PostgreSQL each stopped for 4 s, a reload and a resize. Every job must end in
 * a terminal row (or a dead letter), no text may be sent twice to a chat, and
 * the fleet must be ready again with all its workers without anyone's help.
 *
 * The script starts the services again on any exit of its own; the unchecked
 * fixture's teardown does it once more in the runner, whatever became of the
 * test (a timeout kills the script with it), so the suites after this one find
 * PostgreSQL and Redis running. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *script(const char *name, char *buf, size_t n)
{
	const char *bin = getenv("PIYASA_BIN_DIR");

	snprintf(buf, n, "scripts/%s", name);
	if (access(buf, R_OK) != 0)
		snprintf(buf, n, "%s/../../../scripts/%s", bin && *bin ? bin : "bin", name);
	return buf;
}

static long long num(json_t *r, const char *key)
{
	return json_integer_value(json_object_get(r, key));
}

START_TEST(chaos_short)
{
	char path[1024], out[128], fport[16], hport[16];
	const char *log = getenv("PIYASA_ITEST_LOG");
	json_error_t jerr;
	json_t *r;
	pid_t pid;
	int st;

	itest_env_setup();
	snprintf(out, sizeof out, "/tmp/piyasa-chaos-%d.json", (int)getpid());
	snprintf(fport, sizeof fport, "%d", itest_fake_port());
	snprintf(hport, sizeof hport, "%d", itest_http_port());
	const char *argv[] = { "/bin/bash",
			       script("chaos", path, sizeof path),
			       "--jobs",
			       "2000",
			       "--rate",
			       "100",
			       "--workers",
			       "4",
			       "--kill-every-ms",
			       "2000",
			       "--redis-down",
			       "4",
			       "--pg-down",
			       "4",
			       "--hang-ms",
			       "3000",
			       "--call-timeout-ms",
			       "2000",
			       "--settle",
			       "40",
			       "--db",
			       "itchaos",
			       "--fake-port",
			       fport,
			       "--http-port",
			       hport,
			       "--out",
			       out,
			       NULL };

	unlink(out);
	pid = itest_spawn(argv, log && *log ? log : NULL);
	st = itest_wait_exit(pid, 100000);
	ck_assert_msg(st >= 0, "scripts/chaos did not end within 100 s");
	r = json_load_file(out, 0, &jerr);
	ck_assert_msg(r, "scripts/chaos wrote no results (%s); exit status %d", jerr.text, st);
	fprintf(stderr,
		"chaos: %lld jobs in %.1f s, %lld workers killed; %lld without a terminal row, "
		"%lld duplicate sends of %lld; %lld dead letters; ready at the end: %s\n",
		num(r, "enqueued"), json_real_value(json_object_get(r, "seconds")), num(r, "kills"),
		num(r, "missing"), num(r, "duplicate_sends"), num(r, "sends"), num(r, "dead"),
		json_is_true(json_object_get(r, "ready")) ? "yes" : "no");
	ck_assert_int_eq(num(r, "enqueued"), 2000);
	ck_assert_int_eq(num(r, "missing"), 0);
	ck_assert_int_eq(num(r, "nonterminal_rows"), 0);
	ck_assert_int_eq(num(r, "duplicate_sends"), 0);
	ck_assert_msg(json_is_true(json_object_get(r, "ready")),
		      "the fleet was not ready at the end: %s",
		      json_string_value(json_object_get(r, "ready_answer")));
	ck_assert_msg(num(r, "kills") >= 5, "only %lld workers killed", num(r, "kills"));
	/* Dead letters within what the fault rates explain: five failed tries in a
	 * row, (0.18 + 0.82 x 0.15)^5 = 0.25%, 5 of 2,000 (GUARANTEES.md); 20 is
	 * far out of chance's reach (Poisson, p < 1e-6). Before kills and outages
	 * stopped spending attempts, this run had 17. */
	ck_assert_msg(num(r, "dead") <= 20, "%lld dead letters (5 expected)", num(r, "dead"));
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "scripts/chaos exit status %d", st);
	json_decref(r);
	unlink(out);
	itest_env_teardown();
}
END_TEST

/* In the runner: whatever happened in the test, both services run. */
static void services_back(void)
{
	char path[1024], cmd[1200];

	snprintf(cmd, sizeof cmd, "bash %s start >/dev/null 2>&1",
		 script("services", path, sizeof path));
	if (system(cmd) != 0)
		fprintf(stderr, "chaos: %s could not start the services\n", cmd);
	itest_redis_ensure();
}

static Suite *chaos_suite(void)
{
	Suite *s = suite_create("chaos");
	TCase *tc = tcase_create("short");

	tcase_add_unchecked_fixture(tc, NULL, services_back);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, chaos_short);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(chaos_suite)
