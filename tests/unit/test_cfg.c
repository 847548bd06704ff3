/* Config parser: defaults, sections, providers, environment, and errors that
 * name the file, the line and the key. */
#include "common/cfg.h"
#include "tests/check_main.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char path[64];

static const char *write_conf(const char *text)
{
	FILE *f;

	snprintf(path, sizeof path, "/tmp/piyasa-cfg-%d.conf", (int)getpid());
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void teardown(void)
{
	unlink(path);
}

START_TEST(defaults_run_against_local_services)
{
	struct cfg c;
	char err[256];

	unsetenv("PIYASA_PG_PORT");
	unsetenv("PIYASA_DATABASE_URL");
	ck_assert_int_eq(cfg_load(&c, NULL, err, sizeof err), 0);
	ck_assert_str_eq(c.database_url, "postgresql://postgres@127.0.0.1:25432/piyasa");
	ck_assert_int_eq(c.workers, 4);
	ck_assert_int_eq(c.nproviders, 1);
	ck_assert_int_eq(c.telegram_pacing, 1);
}
END_TEST

START_TEST(file_sections_and_providers)
{
	struct cfg c;
	char err[256];
	const char *p = write_conf("# comment\nworkers = 6\nredis_prefix = \"pz # x\"\n"
				   "[telegram]\npacing = off\ntimeout_ms = 2500 # inline\n"
				   "[provider main]\nbase_url = http://a/v1\nmodel = m1\n"
				   "[provider spare]\nbase_url = http://b/v1\nmodel = m2\nrpm = 60\n"
				   "[log]\nformat = json\n");

	ck_assert_msg(cfg_load(&c, p, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(c.workers, 6);
	ck_assert_str_eq(c.redis_prefix, "pz # x");
	ck_assert_int_eq(c.telegram_pacing, 0);
	ck_assert_int_eq(c.telegram_timeout_ms, 2500);
	ck_assert_int_eq(c.nproviders, 2);
	ck_assert_str_eq(c.providers[0].name, "main");
	ck_assert_str_eq(c.providers[1].base_url, "http://b/v1");
	ck_assert_int_eq(c.providers[1].rpm, 60);
	ck_assert_str_eq(c.log_format, "json");
}
END_TEST

START_TEST(unknown_key_names_file_line_key)
{
	struct cfg c;
	char err[256], want[128];
	const char *p = write_conf("workers = 2\n\nmax_inflite = 10\n");

	ck_assert_int_eq(cfg_load(&c, p, err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:3: max_inflite: unknown key", p);
	ck_assert_str_eq(err, want);
}
END_TEST

/* A line longer than the old 1023-byte buffer was split: the tail of a long
 * comment loaded as a setting, and later lines got the wrong numbers (issue
 * 19, item 8). */
START_TEST(long_lines_are_read_whole)
{
	struct cfg c, d;
	char text[4096], err[256], want[128];
	FILE *f;

	cfg_defaults(&d);
	snprintf(text, sizeof text, "#%1021s workers = 9\nmax_inflite = 1\n", "");
	memset(text + 1, 'x', 1021);
	ck_assert_int_eq(cfg_load(&c, write_conf(text), err, sizeof err), -1);
	snprintf(want, sizeof want, "%s:2: max_inflite: unknown key", path);
	ck_assert_str_eq(err, want);
	text[strlen(text) - strlen("max_inflite = 1\n")] = 0;
	ck_assert_int_eq(cfg_load(&c, write_conf(text), err, sizeof err), 0);
	ck_assert_int_eq(c.workers, d.workers);
	/* a value far longer than 1023 bytes is read whole, then refused for its length */
	snprintf(text, sizeof text, "redis_prefix = %3000s\n", "p");
	memset(text + strlen("redis_prefix = "), 'p', 3000);
	ck_assert_int_eq(cfg_load(&c, write_conf(text), err, sizeof err), -1);
	ck_assert_msg(strstr(err, ":1: redis_prefix: ") != NULL, "%s", err);
	/* a NUL cuts no line in two either: it is refused */
	f = fopen(path, "w");
	fwrite("workers = 2\0\nworkers = 3\n", 1, 26, f);
	fclose(f);
	ck_assert_int_eq(cfg_load(&c, path, err, sizeof err), -1);
	ck_assert_msg(strstr(err, ":1: a NUL byte in the line") != NULL, "%s", err);
}
END_TEST

START_TEST(bad_values_are_refused)
{
	struct cfg c;
	char err[256];

	ck_assert_int_eq(cfg_load(&c, write_conf("workers = many\n"), err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, ":1: workers: 'many' is not a whole number"));
	ck_assert_int_eq(cfg_load(&c, write_conf("workers = 0\n"), err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "outside 1..256"));
	ck_assert_int_eq(cfg_load(&c, write_conf("[telegram]\npacing = maybe\n"), err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, ":2: pacing:"));
	ck_assert_int_eq(cfg_load(&c, write_conf("[nosuch]\n"), err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown section"));
	ck_assert_int_eq(cfg_load(&c, write_conf("just words\n"), err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "expected 'key = value'"));
	ck_assert_int_eq(cfg_load(&c, write_conf("[log]\nformat = xml\n"), err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "log.format"));
	ck_assert_int_eq(cfg_load(&c, "/nonexistent/piyasa.conf", err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "cannot open"));
}
END_TEST

START_TEST(environment_overrides_file)
{
	struct cfg c;
	char err[256];

	setenv("PIYASA_REDIS_URL", "redis://10.0.0.1:7000", 1);
	setenv("PIYASA_HTTP_PORT", "9999", 1);
	setenv("PIYASA_LLM_BASE_URL", "http://llm/v1", 1);
	setenv("PIYASA_TELEGRAM_PACING", "off", 1);
	ck_assert_int_eq(cfg_load(&c, write_conf("redis_url = redis://x:1\n"), err, sizeof err), 0);
	ck_assert_str_eq(c.redis_url, "redis://10.0.0.1:7000");
	ck_assert_int_eq(c.http_port, 9999);
	ck_assert_str_eq(c.providers[0].base_url, "http://llm/v1");
	ck_assert_int_eq(c.telegram_pacing, 0);
	setenv("PIYASA_HTTP_PORT", "eighty", 1);
	ck_assert_int_eq(cfg_load(&c, NULL, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "PIYASA_HTTP_PORT"));
	unsetenv("PIYASA_HTTP_PORT");
	unsetenv("PIYASA_REDIS_URL");
	unsetenv("PIYASA_LLM_BASE_URL");
	unsetenv("PIYASA_TELEGRAM_PACING");
}
END_TEST

START_TEST(ports_follow_service_variables)
{
	struct cfg c;
	char err[256];

	setenv("PIYASA_PG_PORT", "6000", 1);
	setenv("PIYASA_REDIS_PORT", "6001", 1);
	unsetenv("PIYASA_DATABASE_URL");
	unsetenv("PIYASA_REDIS_URL");
	ck_assert_int_eq(cfg_load(&c, NULL, err, sizeof err), 0);
	ck_assert_ptr_nonnull(strstr(c.database_url, ":6000/"));
	ck_assert_str_eq(c.redis_url, "redis://127.0.0.1:6001");
}
END_TEST

START_TEST(api_section_turns_the_api_on)
{
	struct cfg c;
	char err[256], host[80];
	int port;

	unsetenv("PIYASA_API_LISTEN");
	ck_assert_msg(cfg_load(&c, write_conf("workers = 2\n"), err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(c.api_enabled, 0); /* no [api]: off */
	ck_assert_msg(cfg_load(&c, write_conf("[api]\n"), err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(c.api_enabled, 1);
	ck_assert_str_eq(c.api_listen, "127.0.0.1:8080");
	ck_assert_msg(cfg_load(&c, write_conf("[api]\nlisten = [::1]:9000\nrate_burst = 5\n"), err,
			       sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(cfg_split_listen(c.api_listen, host, sizeof host, &port), 0);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 9000);
	ck_assert_int_eq(c.api_rate_burst, 5);
	ck_assert_msg(cfg_load(&c, write_conf("[api]\nenabled = off\n"), err, sizeof err) == 0,
		      "%s", err);
	ck_assert_int_eq(c.api_enabled, 0);
	ck_assert_int_eq(cfg_load(&c, write_conf("[api]\nlisten = nowhere\n"), err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "api.listen"));
	ck_assert_int_eq(cfg_load(&c, write_conf("[api]\nlisten = 127.0.0.1:0\n"), err, sizeof err),
			 -1);
	setenv("PIYASA_API_LISTEN", "127.0.0.1:8181", 1);
	ck_assert_msg(cfg_load(&c, NULL, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(c.api_enabled, 1);
	ck_assert_str_eq(c.api_listen, "127.0.0.1:8181");
	unsetenv("PIYASA_API_LISTEN");
}
END_TEST

/* -T prints what runs, [api] included, as a file that loads back to the same
 * configuration (the API off stays off: the section with enabled = off). */
START_TEST(dump_prints_the_api_and_loads_back)
{
	static const char *const texts[] = { "[api]\nlisten = [::1]:8081\nrate_burst = 7\n",
					     "workers = 3\n" };
	struct cfg c, back;
	char err[256], *buf;
	size_t len;
	FILE *f;

	unsetenv("PIYASA_API_LISTEN");
	for (int i = 0; i < 2; i++) {
		ck_assert_msg(cfg_load(&c, write_conf(texts[i]), err, sizeof err) == 0, "%s", err);
		buf = NULL;
		f = open_memstream(&buf, &len);
		cfg_dump(&c, f, NULL);
		fclose(f);
		ck_assert_ptr_nonnull(strstr(buf, "\n[api]\nenabled = "));
		ck_assert_msg(cfg_load(&back, write_conf(buf), err, sizeof err) == 0, "%s", err);
		free(buf);
		ck_assert_int_eq(back.api_enabled, c.api_enabled);
		ck_assert_str_eq(back.api_listen, c.api_listen);
		ck_assert_int_eq(back.api_rate_burst, c.api_rate_burst);
		ck_assert_int_eq(back.workers, c.workers);
	}
	ck_assert_int_eq(c.api_enabled, 0);
	ck_assert_int_eq(back.api_rate_burst, 60);
}
END_TEST

/* Where a refused value was set, for the message that names its line. */
START_TEST(the_line_of_a_key_is_found)
{
	const char *p = write_conf("redis_url = a\n[telegram]\napi_url = b\n[provider x]\n"
				   "base_url = c\nmodel = m\n[provider y]\nbase_url = d\n"
				   "[fleet]\nredis_url = e\n# redis_url = f\n");

	ck_assert_int_eq(cfg_key_line(p, NULL, "redis_url"), 10);
	ck_assert_int_eq(cfg_key_line(p, NULL, "telegram.api_url"), 3);
	ck_assert_int_eq(cfg_key_line(p, "x", "base_url"), 5);
	ck_assert_int_eq(cfg_key_line(p, "y", "base_url"), 8);
	ck_assert_int_eq(cfg_key_line(p, NULL, "base_url"), 0);
	ck_assert_int_eq(cfg_key_line(p, NULL, "database_url"), 0);
	ck_assert_int_eq(cfg_key_line("/nonexistent", NULL, "redis_url"), 0);
	setenv("PIYASA_REDIS_URL", "redis://h", 1);
	ck_assert_str_eq(cfg_key_env("redis_url"), "PIYASA_REDIS_URL");
	unsetenv("PIYASA_REDIS_URL");
	ck_assert_ptr_null(cfg_key_env("redis_url"));
	ck_assert_ptr_null(cfg_key_env("lease_ms"));
}
END_TEST

static Suite *cfg_suite(void)
{
	Suite *s = suite_create("cfg");
	TCase *tc = tcase_create("parse");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, defaults_run_against_local_services);
	tcase_add_test(tc, file_sections_and_providers);
	tcase_add_test(tc, unknown_key_names_file_line_key);
	tcase_add_test(tc, long_lines_are_read_whole);
	tcase_add_test(tc, bad_values_are_refused);
	tcase_add_test(tc, environment_overrides_file);
	tcase_add_test(tc, ports_follow_service_variables);
	tcase_add_test(tc, api_section_turns_the_api_on);
	tcase_add_test(tc, dump_prints_the_api_and_loads_back);
	tcase_add_test(tc, the_line_of_a_key_is_found);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cfg_suite)
