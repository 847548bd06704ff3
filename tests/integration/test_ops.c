/* The operator's tools as a script or an operator uses them (issue 17):
 * `supervisor -t` refusing what the workers refuse and `-T` masking secrets,
 * `piyasactl -o json` on listings and shows, `piyasactl keygen`, and
 * `piyasactl fleet status|reload|resize N` against a running supervisor. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHAT -1001000000317LL

static pid_t sup = -1, fake = -1;
static char conf[128], keyfile[128];

static void setup(void)
{
	itest_env_setup();
	snprintf(conf, sizeof conf, "/tmp/itest-ops-%d.conf", (int)getpid());
	snprintf(keyfile, sizeof keyfile, "/tmp/itest-ops-%d.key", (int)getpid());
}

static void teardown(void)
{
	if (sup > 0) {
		kill(sup, SIGTERM);
		if (itest_wait_exit(sup, 20000) < 0)
			kill(sup, SIGKILL);
		sup = -1;
	}
	if (fake > 0) {
		kill(fake, SIGKILL);
		itest_wait_exit(fake, 5000);
		fake = -1;
	}
	unlink(conf);
	unlink(keyfile);
	itest_env_teardown();
}

/* Run a command line through the shell; its stdout+stderr (malloc'd) and exit
 * status. The binaries are named by $PIYASA_BIN_DIR. */
static char *sh(int *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *sh(int *status, const char *fmt, ...)
{
	char cmd[2048], *out = NULL;
	size_t len = 0;
	va_list ap;
	FILE *p, *m = open_memstream(&out, &len);
	int c, rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	ck_assert_ptr_nonnull(p);
	while ((c = fgetc(p)) != EOF)
		fputc(c, m);
	rc = pclose(p);
	fclose(m);
	*status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
	return out;
}

/* The test's environment names its own services, and would win over the file. */
#define FILE_ONLY                                                                    \
	"env -u PIYASA_REDIS_URL -u PIYASA_DATABASE_URL -u PIYASA_TELEGRAM_API_URL " \
	"-u PIYASA_LLM_BASE_URL -u PIYASA_LLM_API_KEY "

static const char *bin(void)
{
	const char *b = getenv("PIYASA_BIN_DIR");

	return b && *b ? b : "bin";
}

static void write_conf(const char *text)
{
	FILE *f = fopen(conf, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

START_TEST(check_refuses_what_workers_refuse)
{
	static const char *const bad[][2] = {
		{ "redis_url = http://foo\n", "redis_url: redis url must start with" },
		{ "redis_url = rediss://h\n", "TLS" },
		{ "database_url = postgresql://u@h:99999/db\n", "database_url: bad port" },
		{ "[telegram]\napi_url = not a url\n", "telegram.api_url" },
		{ "workers = 2\n[provider p]\nmodel = m\n", ":2: [provider p]: base_url is missing" },
	};
	char *out;
	int st;

	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_conf(bad[i][0]);
		out = sh(&st, FILE_ONLY "%s/supervisor -t --config %s 2>&1", bin(), conf);
		ck_assert_msg(st == 1, "-t passed %s: %s", bad[i][0], out);
		ck_assert_msg(strstr(out, bad[i][1]) && strstr(out, "test failed"),
			      "-t on %s said: %s", bad[i][0], out);
		free(out);
	}
	/* A missing token key: none at all (-t then looks where the unit's
	 * LoadCredential= would take it from, so only where piyasa is not
	 * installed: a package test beside this one installs it for a while) ... */
	write_conf("workers = 2\n");
	if (access("/etc/piyasa/token_key", F_OK) != 0) {
		out = sh(&st,
			 "env -u PIYASA_TOKEN_KEY -u PIYASA_TOKEN_KEY_FILE -u CREDENTIALS_DIRECTORY "
			 "%s/supervisor -t --config %s 2>&1",
			 bin(), conf);
		ck_assert_msg(st == 1 && strstr(out, "token key"), "%s", out);
		free(out);
	}
	/* ... and a named file that is not there. */
	write_conf("workers = 2\ntoken_key_file = /nonexistent/piyasa-token-key\n");
	out = sh(&st,
		 "env -u PIYASA_TOKEN_KEY -u PIYASA_TOKEN_KEY_FILE -u CREDENTIALS_DIRECTORY %s/supervisor -t "
		 "--config %s 2>&1",
		 bin(), conf);
	ck_assert_msg(st == 1 && strstr(out, "token_key_file"), "%s", out);
	free(out);
	/* A good file passes, and -T prints it with its secrets masked. */
	write_conf("redis_url = redis://app:hunter2@[::1]:6379/1\n"
		   "[provider p]\nbase_url = http://127.0.0.1:1/v1\nmodel = m\napi_key = sk-hunter3\n");
	out = sh(&st, FILE_ONLY "%s/supervisor -t --config %s 2>&1", bin(), conf);
	ck_assert_msg(st == 0 && strstr(out, "is ok"), "%s", out);
	free(out);
	out = sh(&st, FILE_ONLY "%s/supervisor -T --config %s 2>&1", bin(), conf);
	ck_assert_msg(st == 0, "%s", out);
	ck_assert_msg(!strstr(out, "hunter"), "-T printed a secret: %s", out);
	ck_assert_msg(strstr(out, "redis_url = redis://app:****@[::1]:6379/1\n") &&
			      strstr(out, "[provider p]\n") && strstr(out, "api_key = ****\n") &&
			      strstr(out, "\n[telegram]\n"),
		      "%s", out);
	free(out);
}
END_TEST

START_TEST(json_output_for_scripts)
{
	char *cast = itest_write_cast(3, CHAT), *out;
	json_t *doc, *row;
	int st;

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	/* -o before the command, or after it: the same array, one object a bot. */
	out = sh(&st, "%s/piyasactl -o json bot list", bin());
	ck_assert_msg(st == 0, "%s", out);
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(json_is_array(doc) && json_array_size(doc) == 3, "%s", out);
	row = json_array_get(doc, 0);
	ck_assert(json_is_integer(json_object_get(row, "id")));
	ck_assert(json_is_string(json_object_get(row, "name")));
	json_decref(doc);
	free(out);
	out = sh(&st, "%s/piyasactl chat list --output json", bin());
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(st == 0 && json_is_array(doc) && json_array_size(doc) == 1, "%s", out);
	json_decref(doc);
	free(out);
	/* An empty listing is [], not a sentence. */
	out = sh(&st, "%s/piyasactl -o json dead list", bin());
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(st == 0 && json_is_array(doc) && json_array_size(doc) == 0, "%s", out);
	json_decref(doc);
	free(out);
	out = sh(&st, "%s/piyasactl -o json settings list", bin());
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(st == 0 && json_is_array(doc) && json_array_size(doc) > 0, "%s", out);
	json_decref(doc);
	free(out);
	out = sh(&st, "%s/piyasactl -o json status 2>/dev/null", bin());
	doc = json_loads(out, 0, NULL);
	ck_assert_msg(json_is_object(doc) && json_object_get(doc, "bots"), "%s", out);
	json_decref(doc);
	free(out);
	out = sh(&st, "%s/piyasactl -o yaml bot list 2>&1", bin());
	ck_assert_msg(st == 2 && strstr(out, "not json or text"), "%s", out);
	free(out);
	free(cast);
}
END_TEST

START_TEST(keygen_writes_once)
{
	struct stat sb;
	char key[80] = "", again[256] = "", *out;
	FILE *f;
	int st;

	out = sh(&st, "%s/piyasactl keygen %s", bin(), keyfile);
	ck_assert_msg(st == 0, "%s", out);
	free(out);
	ck_assert_int_eq(stat(keyfile, &sb), 0);
	ck_assert_int_eq(sb.st_mode & 0777, 0600);
	f = fopen(keyfile, "r");
	ck_assert_ptr_nonnull(fgets(key, sizeof key, f));
	fclose(f);
	ck_assert_int_eq(strlen(key), 65);
	ck_assert_int_eq(strspn(key, "0123456789abcdef"), 64);
	/* The key loads: -t with token_key_file pointing at it passes. */
	snprintf(again, sizeof again, "token_key_file = %s\n", keyfile);
	write_conf(again);
	out = sh(&st,
		 "env -u PIYASA_TOKEN_KEY -u PIYASA_TOKEN_KEY_FILE %s/supervisor -t --config %s 2>&1",
		 bin(), conf);
	ck_assert_msg(st == 0, "%s", out);
	free(out);
	/* A second keygen refuses and leaves the key alone. */
	out = sh(&st, "%s/piyasactl keygen %s 2>&1", bin(), keyfile);
	ck_assert_msg(st == 1 && strstr(out, "exists"), "%s", out);
	free(out);
	f = fopen(keyfile, "r");
	ck_assert_ptr_nonnull(fgets(again, sizeof again, f));
	fclose(f);
	ck_assert_str_eq(key, again);
}
END_TEST

static json_t *fleet_status(void)
{
	char *out;
	int st;
	json_t *doc;

	out = sh(&st, "%s/piyasactl -o json fleet status 2>/dev/null", bin());
	doc = st == 0 ? json_loads(out, 0, NULL) : NULL;
	free(out);
	return doc;
}

static int running_with(void *arg)
{
	json_t *doc = fleet_status();
	int ok = doc && json_integer_value(json_object_get(doc, "count")) == (intptr_t)arg &&
		 strcmp(json_string_value(json_object_get(doc, "phase")) ?: "", "running") == 0;

	json_decref(doc);
	return ok;
}

START_TEST(fleet_status_reload_resize)
{
	char *out;
	int st;
	json_t *doc;

	fake = itest_fake_start(NULL);
	out = sh(&st, "%s/piyasactl fleet status 2>&1", bin());
	ck_assert_msg(st == 1 && strstr(out, "no supervisor at"), "%s", out);
	free(out);
	sup = itest_supervisor("1");
	ck_assert_msg(itest_wait_for(running_with, (void *)1, 30000), "the fleet never ran 1 worker");
	out = sh(&st, "%s/piyasactl fleet status", bin());
	ck_assert_msg(st == 0 && strstr(out, "WORKER") && strstr(out, "running, 1 workers"), "%s", out);
	free(out);

	/* A live scrape passes promtool's checks (names, types, HELP, units), and
	 * has the process_* series of the supervisor and the worker. */
	out = sh(&st,
		 "curl -sf http://127.0.0.1:%d/metrics > /tmp/itest-ops-%d.prom && "
		 "promtool check metrics < /tmp/itest-ops-%d.prom 2>&1",
		 itest_http_port(), (int)getpid(), (int)getpid());
	ck_assert_msg(st == 0, "promtool check metrics: %s", out);
	free(out);
	out = sh(&st,
		 "grep -E '^process_(resident_memory_bytes|open_fds|cpu_seconds_total|"
		 "start_time_seconds)\\{process=\"(supervisor|worker)' /tmp/itest-ops-%d.prom; "
		 "rm -f /tmp/itest-ops-%d.prom",
		 (int)getpid(), (int)getpid());
	ck_assert_msg(strstr(out, "process_resident_memory_bytes{process=\"supervisor\"}") &&
			      strstr(out, "process_open_fds{process=\"worker\",worker=\"0\"}") &&
			      strstr(out, "process_start_time_seconds{process=\"worker\",worker=\"0\"}"),
		      "%s", out);
	free(out);

	out = sh(&st, "%s/piyasactl fleet reload 2>&1", bin());
	ck_assert_msg(st == 0 && strstr(out, "configuration reloaded"), "%s", out);
	free(out);
	doc = fleet_status();
	ck_assert_int_eq(json_integer_value(json_object_get(doc, "reloads")), 1);
	json_decref(doc);

	out = sh(&st, "%s/piyasactl fleet resize 3 2>&1", bin());
	ck_assert_msg(st == 0 && strstr(out, "fleet has 3 workers"), "%s", out);
	free(out);
	ck_assert(running_with((void *)3));
	out = sh(&st, "%s/piyasactl fleet resize 2 2>&1", bin());
	ck_assert_msg(st == 0 && strstr(out, "fleet has 2 workers"), "%s", out);
	free(out);
	ck_assert(running_with((void *)2));
	out = sh(&st, "%s/piyasactl fleet resize 0 2>&1", bin());
	ck_assert_msg(st == 2, "%s", out);
	free(out);
}
END_TEST

static Suite *ops_suite(void)
{
	Suite *s = suite_create("ops");
	TCase *tc;

	tc = tcase_create("check");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, check_refuses_what_workers_refuse);
	suite_add_tcase(s, tc);
	tc = tcase_create("json");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, json_output_for_scripts);
	suite_add_tcase(s, tc);
	tc = tcase_create("keygen");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, keygen_writes_once);
	suite_add_tcase(s, tc);
	tc = tcase_create("fleet");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, fleet_status_reload_resize);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ops_suite)
