/* supervisor -t's checks (supervisor/cfgcheck.c): each URL refused the way the
 * library that uses it would refuse it, the token key required, a provider's
 * missing line named, and -T's masking of every secret. */
#include "common/cfg.h"
#include "supervisor/cfgcheck.h"
#include "tests/check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEY "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

static char path[64];

static void setup(void)
{
	setenv("PIYASA_TOKEN_KEY", KEY, 1);
	unsetenv("PIYASA_REDIS_URL");
	unsetenv("PIYASA_DATABASE_URL");
	unsetenv("PIYASA_TELEGRAM_API_URL");
	unsetenv("PIYASA_LLM_BASE_URL");
}

static void teardown(void)
{
	unlink(path);
}

/* Load text as a file and run the checks: 0, or -1 with err. */
static int check_text(const char *text, char *err, size_t n)
{
	struct cfg c;
	FILE *f;

	snprintf(path, sizeof path, "/tmp/piyasa-cfgcheck-%d.conf", (int)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	if (cfg_load(&c, path, err, n) < 0)
		return -1;
	return cfgcheck_run(&c, err, n);
}

#define REFUSED(text, words)                                                            \
	do {                                                                            \
		char e_[512] = "";                                                      \
		ck_assert_int_eq(check_text(text, e_, sizeof e_), -1);                  \
		ck_assert_msg(strstr(e_, words) != NULL, "'%s' lacks '%s'", e_, words); \
	} while (0)

START_TEST(what_the_workers_refuse_is_refused)
{
	char err[512];

	ck_assert_msg(check_text("workers = 2\n", err, sizeof err) == 0, "%s", err);
	REFUSED("redis_url = http://foo\n", "redis_url: redis url must start with");
	REFUSED("redis_url = rediss://h\n", "TLS");
	REFUSED("redis_url = redis://h:99999\n", "redis_url");
	REFUSED("database_url = postgresql://u@h:99999/db\n", "database_url: bad port '99999'");
	REFUSED("database_url = host=h port=five\n", "database_url: bad port 'five'");
	REFUSED("database_url = host=h bogus=1\n", "database_url: invalid connection option");
	REFUSED("[telegram]\napi_url = not a url\n", "telegram.api_url: 'not a url' is not a URL");
	REFUSED("[telegram]\napi_url = ftp://h/\n", "not an http:// or https:// URL");
	REFUSED("[provider a]\nbase_url = nope\nmodel = m\n", "[provider a] base_url");
	/* The line of the provider's header, and what it lacks. */
	REFUSED("workers = 2\n\n[provider a]\nmodel = m\n[log]\n",
		":3: [provider a]: base_url is missing");
	REFUSED("[provider a]\nbase_url = http://h/v1\n", ":1: [provider a]: model is missing");
}
END_TEST

START_TEST(what_the_workers_accept_passes)
{
	char err[512];

	ck_assert_msg(check_text("redis_url = redis://app:p%40ss@[::1]:6380/2\n"
				 "database_url = host=/run/postgresql port=5432,5433 dbname=p\n"
				 "[telegram]\napi_url = https://api.telegram.org\n",
				 err, sizeof err) == 0,
		      "%s", err);
	ck_assert_msg(check_text("redis_url = unix:///run/redis.sock?db=1\n", err, sizeof err) == 0,
		      "%s", err);
}
END_TEST

START_TEST(the_token_key_is_required_and_checked)
{
	char err[512];

	unsetenv("PIYASA_TOKEN_KEY");
	unsetenv("PIYASA_TOKEN_KEY_FILE"); /* scripts/test names its key file */
	unsetenv("CREDENTIALS_DIRECTORY");
	REFUSED("workers = 2\n", "token key: no token key");
	REFUSED("token_key_file = /nonexistent/key\n", "token key /nonexistent/key");
	setenv("PIYASA_TOKEN_KEY", "abc", 1);
	REFUSED("workers = 2\n", "PIYASA_TOKEN_KEY: not 64 hex digits");
	setenv("PIYASA_TOKEN_KEY", KEY, 1);
	ck_assert_msg(check_text("workers = 2\n", err, sizeof err) == 0, "%s", err);
}
END_TEST

/* The operator is told which line to fix, or which variable, as cfg_load does. */
START_TEST(a_refusal_names_the_file_line_and_key)
{
	char want[160];

	snprintf(want, sizeof want, "/tmp/piyasa-cfgcheck-%d.conf:3: redis_url: ", (int)getpid());
	REFUSED("workers = 2\n# the queue\nredis_url = http://foo\n", want);
	snprintf(want, sizeof want, ".conf:4: telegram.api_url: 'x' is not");
	REFUSED("workers = 2\n[telegram]\napi_url = http://h\napi_url = x\n", want);
	REFUSED("[provider a]\nmodel = m\n\nbase_url = nope\n",
		".conf:4: [provider a] base_url: 'nope'");
	REFUSED("[fleet]\ndatabase_url = host=h port=0\n", ".conf:2: database_url: bad port '0'");
	unsetenv("PIYASA_TOKEN_KEY");
	unsetenv("PIYASA_TOKEN_KEY_FILE");
	REFUSED("workers = 2\ntoken_key_file = /nonexistent/key\n",
		".conf:2: token_key_file: token key /nonexistent/key");
	/* A variable wins over the file: it is the one named. */
	setenv("PIYASA_REDIS_URL", "redis://h:0", 1);
	REFUSED("redis_url = redis://h\n", "PIYASA_REDIS_URL: redis_url: ");
	unsetenv("PIYASA_REDIS_URL");
	setenv("PIYASA_LLM_BASE_URL", "nope", 1); /* the first provider's */
	REFUSED("[provider a]\nbase_url = http://h/v1\nmodel = m\n",
		"PIYASA_LLM_BASE_URL: [provider a] base_url: 'nope'");
	unsetenv("PIYASA_LLM_BASE_URL");
}
END_TEST

/* In the running supervisor: a key it holds for the workers is not looked for
 * in files; otherwise only where the workers look. */
START_TEST(a_reload_checks_the_key_where_the_workers_find_it)
{
	struct cfg c;
	char err[512];

	unsetenv("PIYASA_TOKEN_KEY");
	unsetenv("PIYASA_TOKEN_KEY_FILE");
	unsetenv("CREDENTIALS_DIRECTORY");
	ck_assert_int_eq(check_text("token_key_file = /nonexistent/key\n", err, sizeof err), -1);
	ck_assert_int_eq(cfg_load(&c, path, err, sizeof err), 0);
	ck_assert_int_eq(cfgcheck_reload(&c, 1, err, sizeof err), 0);
	ck_assert_int_eq(cfgcheck_reload(&c, 0, err, sizeof err), -1);
	ck_assert_msg(strstr(err, ":1: token_key_file: token key /nonexistent/key"), "%s", err);
	/* The other checks stay whatever the key. */
	ck_assert_int_eq(check_text("redis_url = rediss://h\n", err, sizeof err), -1);
	ck_assert_int_eq(cfg_load(&c, path, err, sizeof err), 0);
	ck_assert_int_eq(cfgcheck_reload(&c, 1, err, sizeof err), -1);
	ck_assert_msg(strstr(err, ":1: redis_url: "), "%s", err);
}
END_TEST

START_TEST(dump_masks_every_secret)
{
	struct cfg c;
	char err[512], *buf = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_int_eq(check_text("redis_url = redis://app:hunter2@h/1\n"
				    "database_url = postgresql://u:hunter3@h:5432/db\n"
				    "[provider a]\nbase_url = https://x:hunter4@h/v1\nmodel = m\n"
				    "api_key = hunter5\n",
				    err, sizeof err),
			 0);
	ck_assert_int_eq(cfg_load(&c, path, err, sizeof err), 0);
	f = open_memstream(&buf, &len);
	cfg_dump(&c, f, cfgcheck_mask);
	fclose(f);
	ck_assert_msg(strstr(buf, "hunter") == NULL, "a secret printed:\n%s", buf);
	ck_assert_ptr_nonnull(strstr(buf, "redis_url = redis://app:****@h/1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "password=****"));
	ck_assert_ptr_nonnull(strstr(buf, "\n[provider a]\n"));
	ck_assert_ptr_nonnull(strstr(buf, "api_key = ****\n"));
	free(buf);
}
END_TEST

static Suite *cfgcheck_suite(void)
{
	Suite *s = suite_create("cfgcheck");
	TCase *tc = tcase_create("check");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, what_the_workers_refuse_is_refused);
	tcase_add_test(tc, what_the_workers_accept_passes);
	tcase_add_test(tc, the_token_key_is_required_and_checked);
	tcase_add_test(tc, a_refusal_names_the_file_line_and_key);
	tcase_add_test(tc, a_reload_checks_the_key_where_the_workers_find_it);
	tcase_add_test(tc, dump_masks_every_secret);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cfgcheck_suite)
