/* test_console: the web console in a real browser against the real binaries.
 * This suite starts what an operator runs (the supervisor with 4 workers and
 * piyasa-api, PostgreSQL, Redis, the fake Telegram and LLM API), makes an admin,
 * an operator and a viewer, imports a small cast, and hands over to
 * tests/browser/console.mjs, which drives Debian's chromium headless through the
 * DevTools protocol (puppeteer-core) and checks what a user would see. The
 * browser script's exit status is the verdict; 77 means chromium could not
 * start, which is a skip (said loudly), not a pass of the checks. Screenshots
 * go to .data/screens/. */
#include "common/auth.h"
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHAT -1001000000777LL

static pid_t sup = -1, fake = -1;
static char base[128];

static void add_user(const char *name, const char *pass, const char *role)
{
	char hash[AUTH_PASS_HASH_MAX], err[128], sql[512];

	ck_assert_int_eq(auth_pass_hash(pass, hash, err, sizeof err), 0);
	snprintf(sql, sizeof sql, "INSERT INTO users (name, pass_hash, role) VALUES ('%s', '%s', '%s')",
		 name, hash, role);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
}

/* A job that ran out of attempts, its outbox row failed (as test_api makes
 * one): the browser retries it and sees it sent. */
static void add_dead_letter(void)
{
	long long bot = itest_pg_int("SELECT min(id) FROM bots");
	char sql[1024], b[24];

	snprintf(sql, sizeof sql,
		 "INSERT INTO dead_jobs (job_id, kind, bot_id, chat_id, attempts, job, reason)"
		 " VALUES ('console-dl', 'speak', %lld, %lld, 5, '{\"id\":\"console-dl\","
		 "\"kind\":\"speak\",\"bot_id\":%lld,\"chat_id\":%lld,"
		 "\"priority\":\"normal\",\"attempts\":5}', 'telegram: 502 five times')",
		 bot, CHAT, bot, CHAT);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
	snprintf(sql, sizeof sql,
		 "INSERT INTO messages (chat_id, bot_id, job_id, status, error)"
		 " VALUES (%lld, %lld, 'console-dl', 'failed', 'telegram: 502')",
		 CHAT, bot);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
	snprintf(b, sizeof b, "%lld", bot);
	setenv("CONSOLE_DEAD_BOT", b, 1);
}

/* The API answers /health (it listens on 127.0.0.2, which itest_http_get does not ask). */
static int api_up(void *arg)
{
	char cmd[256];

	(void)arg;
	snprintf(cmd, sizeof cmd, "curl -sf -o /dev/null --max-time 2 %s/health", base);
	return system(cmd) == 0;
}

static void setup(void)
{
	char listen[64], fake_url[64], chat[32];
	char *cast;

	itest_env_setup();
	/* Another loopback address, the supervisor's port: no port of its own to pick. */
	snprintf(listen, sizeof listen, "127.0.0.2:%d", itest_http_port());
	snprintf(base, sizeof base, "http://%s", listen);
	setenv("PIYASA_API_LISTEN", listen, 1);
	add_user("alice", "alice-password", "admin");
	add_user("olga", "olga-password", "operator");
	add_user("victor", "victor-password", "viewer");
	cast = itest_write_cast(4, CHAT);
	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	unlink(cast);
	free(cast);
	add_dead_letter();
	{
		const char *extra[] = { "--llm-latency-ms", "150", NULL };
		fake = itest_fake_start(extra);
	}
	sup = itest_supervisor("4");
	ck_assert_msg(itest_wait_for(api_up, NULL, 20000), "the API did not come up");
	snprintf(fake_url, sizeof fake_url, "http://127.0.0.1:%d", itest_fake_port());
	snprintf(chat, sizeof chat, "%lld", CHAT);
	setenv("CONSOLE_URL", base, 1);
	setenv("CONSOLE_FAKE_URL", fake_url, 1);
	setenv("CONSOLE_CHAT", chat, 1);
}

static void teardown(void)
{
	if (sup > 0) {
		itest_kill(sup, SIGTERM);
		ck_assert_msg(itest_wait_exit(sup, 30000) >= 0, "the supervisor did not stop");
	}
	if (fake > 0) {
		itest_kill(fake, SIGTERM);
		itest_wait_exit(fake, 5000);
	}
	itest_env_teardown();
	unsetenv("PIYASA_API_LISTEN");
}

START_TEST(in_a_browser)
{
	/* itest_run does not search PATH: env does */
	const char *av[] = { "/usr/bin/env", "node", "tests/browser/console.mjs", NULL };
	int rc = itest_run(av);

	if (rc == 77) {
		fprintf(stderr, "test_console: SKIPPED: chromium cannot start on this machine "
				"(the console was not checked in a browser)\n");
		return;
	}
	ck_assert_msg(rc == 0,
		      "the browser test failed (exit %d): its output is above; "
		      "screenshots in .data/screens/",
		      rc);
}
END_TEST

static Suite *console_suite(void)
{
	Suite *s = suite_create("console");
	TCase *tc = tcase_create("browser");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, in_a_browser);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(console_suite)
