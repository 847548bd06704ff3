/* test_log: the JSON sink writes every line, even when the message or a field
 * holds bytes that are not UTF-8 or is cut by the buffer inside a character
 * (jansson refuses such strings: the line used to vanish without a trace). */
#include "common/log.h"
#include "tests/check_main.h"

#include <check.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* stderr goes to a temporary file; returns it, for reading back. */
static FILE *capture_stderr(void)
{
	FILE *f = tmpfile();

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(dup2(fileno(f), STDERR_FILENO), 0);
	return f;
}

/* The lines written so far, each parsed; n of them. */
static int read_lines(FILE *f, json_t **out, int max)
{
	char line[8192];
	int n = 0;

	fflush(stderr);
	rewind(f);
	while (n < max && fgets(line, sizeof line, f)) {
		json_error_t je;

		out[n] = json_loads(line, 0, &je);
		ck_assert_msg(out[n] != NULL, "line %d is not JSON: %s", n, je.text);
		n++;
	}
	return n;
}

START_TEST(json_lines_survive_bad_utf8)
{
	FILE *f = capture_stderr();
	struct log_ctx c = { 7, -100, "job\xff", NULL };
	char big[2100] = "";
	json_t *l[4];
	const char *msg;

	for (int i = 0; i < 1000; i++)
		strcat(big, "\xc3\xa7"); /* 2000 bytes: cut at 1023, inside a "ç" */
	ck_assert_int_eq(log_init("test", "json", "info"), 0);
	log_msg(LOG_WARNING, &c, "dead letter: %s", "malformed job: near '\xc3'");
	log_msg(LOG_INFO, NULL, "%s", big);
	log_msg(LOG_INFO, NULL, "plain");
	ck_assert_int_eq(read_lines(f, l, 4), 3);
	msg = json_string_value(json_object_get(l[0], "msg"));
	ck_assert_str_eq(msg, "dead letter: malformed job: near '?'");
	ck_assert_str_eq(json_string_value(json_object_get(l[0], "job_id")), "job?");
	ck_assert_int_eq(json_integer_value(json_object_get(l[0], "bot_id")), 7);
	msg = json_string_value(json_object_get(l[1], "msg"));
	ck_assert_uint_eq(strlen(msg), 1022);
	ck_assert_str_eq(json_string_value(json_object_get(l[2], "msg")), "plain");
	for (int i = 0; i < 3; i++)
		json_decref(l[i]);
	fclose(f);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, json_lines_survive_bad_utf8);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(log_suite)
