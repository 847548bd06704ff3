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
	struct log_ctx c = { .bot_id = 7, .chat_id = -100, .job_id = "job\xff" };
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

/* The JSON line's time is UTC to the millisecond, and an event carries its id. */
START_TEST(json_time_in_milliseconds)
{
	FILE *f = capture_stderr();
	json_t *l[2];
	const char *ts;

	ck_assert_int_eq(log_init("test", "json", "info"), 0);
	log_event(LOG_ID_RELOADED, LOG_NOTICE, NULL, "reloaded");
	ck_assert_int_eq(read_lines(f, l, 2), 1);
	ts = json_string_value(json_object_get(l[0], "ts"));
	ck_assert_ptr_nonnull(ts);
	ck_assert_uint_eq(strlen(ts), 24); /* 2026-12-07T17:53:03.085Z */
	ck_assert(ts[10] == 'T' && ts[19] == '.' && ts[23] == 'Z');
	ck_assert_str_eq(json_string_value(json_object_get(l[0], "message_id")), LOG_ID_RELOADED);
	json_decref(l[0]);
	fclose(f);
}
END_TEST

static int has(char (*f)[LOG_FIELD_MAX], int n, const char *want)
{
	for (int i = 0; i < n; i++)
		if (strcmp(f[i], want) == 0)
			return 1;
	return 0;
}

static int has_prefix(char (*f)[LOG_FIELD_MAX], int n, const char *p)
{
	for (int i = 0; i < n; i++)
		if (strncmp(f[i], p, strlen(p)) == 0)
			return 1;
	return 0;
}

/* The journal gets the call site (this file, this line, this function), not
 * log.c's; no field without a value; ERRNO and MESSAGE_ID when there are some. */
START_TEST(journal_fields_name_the_call_site)
{
	static char f[16][LOG_FIELD_MAX];
	struct log_ctx c = { .provider = "groq" };
	char line[32];
	int n, at;

	ck_assert_int_eq(log_init("test", "text", "info"), 0);
	log_set_worker(-1);
	at = __LINE__ + 1;
	n = log_journal_fields(&(const struct log_site){ __FILE__, __LINE__, __func__,
							 LOG_ID_BREAKER_OPENED, 104 },
			       LOG_WARNING, &c, "open", f, 16);
	ck_assert(has(f, n, "MESSAGE=open"));
	ck_assert(has(f, n, "PRIORITY=4"));
	ck_assert(has(f, n, "CODE_FILE=tests/unit/test_log.c"));
	snprintf(line, sizeof line, "CODE_LINE=%d", at);
	ck_assert_msg(has(f, n, line), "no %s", line);
	ck_assert(has_prefix(f, n, "CODE_FUNC=journal_fields_name_the_call_site"));
	ck_assert(has(f, n, "MESSAGE_ID=" LOG_ID_BREAKER_OPENED));
	ck_assert(has(f, n, "PROVIDER=groq"));
	ck_assert(has(f, n, "ERRNO=104"));
	ck_assert(!has_prefix(f, n, "WORKER=") && !has_prefix(f, n, "BOT_ID=") &&
		  !has_prefix(f, n, "CHAT_ID=") && !has_prefix(f, n, "JOB_ID="));
	/* log_errno's site carries the errno. */
	n = log_journal_fields(LOG_SITE_ERRNO(32), LOG_ERR, NULL, "x", f, 16);
	ck_assert(has(f, n, "ERRNO=32") && !has_prefix(f, n, "MESSAGE_ID="));
	/* A plain line: no MESSAGE_ID, no ERRNO. */
	n = log_journal_fields(LOG_SITE(NULL), LOG_INFO, NULL, "plain", f, 16);
	ck_assert(!has_prefix(f, n, "MESSAGE_ID=") && !has_prefix(f, n, "ERRNO="));
	log_set_worker(3);
	n = log_journal_fields(LOG_SITE(NULL), LOG_INFO, NULL, "plain", f, 16);
	ck_assert(has(f, n, "WORKER=3"));
	log_set_worker(-1);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, json_lines_survive_bad_utf8);
	tcase_add_test(tc, json_time_in_milliseconds);
	tcase_add_test(tc, journal_fields_name_the_call_site);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(log_suite)
