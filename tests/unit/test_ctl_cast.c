/* test_ctl_cast: the shape checks piyasactl runs before it writes a persona,
 * a cast file or a setting (common/cast). Each refusal must name the path of the
 * offending value, since that is all an operator has to find it by; the demo cast
 * shipped in config/ must pass. */
#include "common/cast.h"
#include "tests/check_main.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *parse(const char *text)
{
	json_error_t je;
	json_t *v = json_loads(text, JSON_DECODE_ANY, &je);

	ck_assert_msg(v != NULL, "test JSON does not parse: %s", je.text);
	return v;
}

/* The file check on text: 0 or -1, with err. */
static int check_file(const char *text, char *err, size_t el)
{
	json_t *v = parse(text);
	int rc = cast_check_file(v, err, el);

	json_decref(v);
	return rc;
}

static void expect_file_error(const char *text, const char *want)
{
	char err[512] = "";

	ck_assert_int_eq(check_file(text, err, sizeof err), -1);
	ck_assert_msg(strstr(err, want) != NULL, "error '%s' lacks '%s'", err, want);
}

START_TEST(test_persona_ok)
{
	char err[256];
	json_t *v = parse("{\"tone\":\"sakin\",\"risk_profile\":\"düşük\",\"watchlist\":[\"GARAN\"],"
			  "\"never_do\":[],\"style\":{\"emojis\":false,\"length\":\"medium\","
			  "\"disclaimer\":\"Yatırım tavsiyesi değildir.\"}}");

	ck_assert_int_eq(cast_check_persona(v, "persona_profile", err, sizeof err), 0);
	json_decref(v);
	v = parse("{}");
	ck_assert_int_eq(cast_check_persona(v, "persona_profile", err, sizeof err), 0);
	json_decref(v);
}
END_TEST

/* The drift of the earlier system: strings where objects and numbers belong. */
START_TEST(test_persona_drift)
{
	char err[256];
	json_t *v = parse("\"agresif trader\"");

	ck_assert_int_eq(cast_check_persona(v, "bots[2].persona_profile", err, sizeof err), -1);
	ck_assert_str_eq(err, "bots[2].persona_profile: expected an object");
	json_decref(v);
	v = parse("{\"style\":\"Rahat, öğretici\"}");
	ck_assert_int_eq(cast_check_persona(v, "p", err, sizeof err), -1);
	ck_assert_str_eq(err, "p.style: expected an object");
	json_decref(v);
	v = parse("{\"watchlist\":\"GARAN\"}");
	ck_assert_int_eq(cast_check_persona(v, "p", err, sizeof err), -1);
	ck_assert_str_eq(err, "p.watchlist: expected an array of strings");
	json_decref(v);
	v = parse("{\"style\":{\"length\":\"huge\"}}");
	ck_assert_int_eq(cast_check_persona(v, "p", err, sizeof err), -1);
	ck_assert_str_eq(err, "p.style.length: expected one of short, medium, long");
	json_decref(v);
	v = parse("{\"watchlst\":[]}");
	ck_assert_int_eq(cast_check_persona(v, "p", err, sizeof err), -1);
	ck_assert_str_eq(err, "p.watchlst: unknown field");
	json_decref(v);
}
END_TEST

START_TEST(test_emotion)
{
	char err[256];
	json_t *v = parse("{\"empathy\":\"yüksek\"}");

	ck_assert_int_eq(cast_check_emotion(v, "e", err, sizeof err), -1);
	ck_assert_str_eq(err, "e.empathy: expected a number between 0 and 1");
	json_decref(v);
	v = parse("{\"empathy\":1.2}");
	ck_assert_int_eq(cast_check_emotion(v, "e", err, sizeof err), -1);
	json_decref(v);
	v = parse("{\"signature_emoji\":[\"a\"]}");
	ck_assert_int_eq(cast_check_emotion(v, "e", err, sizeof err), -1);
	ck_assert_str_eq(err, "e.signature_emoji: expected a string");
	json_decref(v);
	v = parse("{\"tone\":\"x\",\"empathy\":0,\"energy\":\"yüksek\",\"signature_emoji\":\"🚀\","
		  "\"signature_phrases\":[\"a\"],\"anecdotes\":[]}");
	ck_assert_int_eq(cast_check_emotion(v, "e", err, sizeof err), 0);
	json_decref(v);
}
END_TEST

START_TEST(test_speed)
{
	char err[256];
	json_t *v = parse("{\"delay\":{\"base_delay_seconds\":45,\"delay_multiplier\":1.2,"
			  "\"jitter_min\":0.7,\"jitter_max\":1.3,\"min_seconds\":2,\"max_seconds\":180},"
			  "\"typing\":{\"wpm_min\":2.5,\"wpm_max\":4.5}}");

	ck_assert_int_eq(cast_check_speed(v, "s", err, sizeof err), 0);
	json_decref(v);
	v = parse("{\"typing\":{\"wpm_min\":5,\"wpm_max\":4}}");
	ck_assert_int_eq(cast_check_speed(v, "s", err, sizeof err), -1);
	ck_assert_str_eq(err, "s.typing.wpm_min: larger than wpm_max");
	json_decref(v);
	v = parse("{\"delay\":{\"delay_multiplier\":0}}");
	ck_assert_int_eq(cast_check_speed(v, "s", err, sizeof err), -1);
	ck_assert_str_eq(err, "s.delay.delay_multiplier: expected a number > 0");
	json_decref(v);
}
END_TEST

START_TEST(test_hours)
{
	static const char *const good[] = { "09:00-17:00", "22:00-02:00", "00:00-24:00" };
	static const char *const bad[] = { "9-17",        "09:00-09:00", "25:00-26:00",
					   "09:60-10:00", "24:00-10:00", "09:00 - 17:00",
					   "09:00-17:0" };
	int a, b;

	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		ck_assert_msg(cast_parse_range(good[i], &a, &b) == 0, "%s refused", good[i]);
	ck_assert_int_eq(cast_parse_range("22:00-02:00", &a, &b), 0);
	ck_assert_int_eq(a, 22 * 60);
	ck_assert_int_eq(b, 2 * 60);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(cast_parse_range(bad[i], &a, &b) == -1, "%s accepted", bad[i]);
}
END_TEST

START_TEST(test_token)
{
	char err[256];

	ck_assert_int_eq(cast_check_token("7000001:demo-token-a", "t", err, sizeof err), 0);
	ck_assert_int_eq(cast_check_token("123456789:AAH_x-y", "t", err, sizeof err), 0);
	ck_assert_int_eq(cast_check_token("TELEGRAM_BOT_TOKEN_BURAYA", "t", err, sizeof err), -1);
	/* The message must never echo the token. */
	ck_assert_ptr_null(strstr(err, "BURAYA"));
	ck_assert_int_eq(cast_check_token("123:", "t", err, sizeof err), -1);
	ck_assert_int_eq(cast_check_token(":abc", "t", err, sizeof err), -1);
	ck_assert_int_eq(cast_check_token("123:a b", "t", err, sizeof err), -1);
	ck_assert_int_eq(cast_check_token("", "t", err, sizeof err), -1);
}
END_TEST

START_TEST(test_file_errors)
{
	expect_file_error("[]", "expected an object");
	expect_file_error("{\"bot\":[]}", "bot: unknown field");
	expect_file_error("{\"bots\":[{\"name\":\"a\"},{\"name\":\"b\",\"persona_profile\":\"x\"}]}",
			  "bots[1].persona_profile: expected an object");
	expect_file_error("{\"bots\":[{\"token\":\"1:a\"}]}", "bots[0].name: required field missing");
	expect_file_error("{\"bots\":[{\"name\":\"a\"},{\"name\":\"a\"}]}",
			  "bots[1].name: duplicate of bots[0]");
	expect_file_error("{\"bots\":[{\"name\":\"a\",\"token\":\"5:x\"},{\"name\":\"b\","
			  "\"token\":\"5:y\"}]}",
			  "bots[1].token: Telegram bot 5 is also bots[0]'s");
	expect_file_error("{\"chats\":[{\"id\":-1,\"title\":\"a\"},{\"id\":-1,\"title\":\"b\"}]}",
			  "chats[1].id: duplicate of chats[0]");
	/* the first element with an earlier twin, named with the twin's first place */
	expect_file_error("{\"bots\":[{\"name\":\"x\"},{\"name\":\"a\"},{\"name\":\"b\"},"
			  "{\"name\":\"b\"},{\"name\":\"a\"},{\"name\":\"b\"}]}",
			  "bots[3].name: duplicate of bots[2]");
	expect_file_error("{\"bots\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"a\"},"
			  "{\"name\":\"a\"}]}",
			  "bots[2].name: duplicate of bots[0]");
	expect_file_error("{\"chats\":[{\"id\":0,\"title\":\"a\"}]}",
			  "chats[0].id: expected a non-zero");
	expect_file_error("{\"bots\":[{\"name\":\"a\",\"stances\":[{\"topic\":\"BIST\","
			  "\"stance_text\":\"x\",\"confidence\":\"yüksek\"}]}]}",
			  "bots[0].stances[0].confidence: expected a number between 0 and 1");
	expect_file_error("{\"bots\":[{\"name\":\"a\",\"stances\":[{\"topic\":\"B\",\"stance_text\":"
			  "\"x\"},{\"topic\":\"B\",\"stance_text\":\"y\"}]}]}",
			  "bots[0].stances[1].topic: duplicate topic 'B'");
	expect_file_error("{\"bots\":[{\"name\":\"a\",\"memories\":[{\"memory_type\":\"fact\","
			  "\"content\":\"x\"}]}]}",
			  "bots[0].memories[0].memory_type: expected one of");
	expect_file_error("{\"bots\":[{\"name\":\"a\",\"holdings\":[{\"avg_price\":1}]}]}",
			  "bots[0].holdings[0].symbol: required field missing");
	expect_file_error("{\"bots\":[{\"name\":\"a\",\"chats\":[-1,-1]}]}",
			  "bots[0].chats[1]: duplicate chat id");
	expect_file_error("{\"bots\":[{\"name\":\"a\",\"active_hours\":\"09:00-17:00\"}]}",
			  "bots[0].active_hours: expected an array");
	expect_file_error("{\"settings\":{\"simulation_active\":\"yes\"}}",
			  "settings.simulation_active: expected true or false");
}
END_TEST

/* A key of 200 "ç" makes a path longer than its buffer: the path is cut on a
 * character boundary, so the error stays UTF-8 (a JSON log line, a JSON answer
 * of piyasactl). */
START_TEST(test_long_path_stays_utf8)
{
	char text[600] = "{\"bots\":[{\"name\":\"a\",\"persona_profile\":{\"", err[512] = "";
	json_t *e;

	for (int i = 0; i < 200; i++)
		strcat(text, "\xc3\xa7");
	strcat(text, "\":1}}]}");
	ck_assert_int_eq(check_file(text, err, sizeof err), -1);
	ck_assert_msg((e = json_string(err)) != NULL, "not UTF-8: %s", err);
	json_decref(e);
	ck_assert_ptr_nonnull(strstr(err, "bots[0].persona_profile.\xc3\xa7"));
}
END_TEST

/* The tests run from the project root; from build/MODE/tests as a fallback. */
static const char *demo_cast_path(void)
{
	static const char *const paths[] = { "config/demo-cast.json", "../../../config/demo-cast.json",
					     "../config/demo-cast.json" };

	for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
		if (access(paths[i], R_OK) == 0)
			return paths[i];
	return paths[0];
}

START_TEST(test_demo_cast)
{
	const char *path = demo_cast_path();
	char err[512] = "";
	json_error_t je;
	json_t *v = json_load_file(path, JSON_REJECT_DUPLICATES, &je);

	ck_assert_msg(v != NULL, "%s: %s", path, je.text);
	ck_assert_msg(cast_check_file(v, err, sizeof err) == 0, "%s", err);
	ck_assert_int_eq(json_array_size(json_object_get(v, "bots")), 4);
	json_decref(v);
}
END_TEST

START_TEST(test_settings)
{
	char err[256];
	json_t *v;

	v = parse("{\"min\":6,\"max\":12}");
	ck_assert_int_eq(cast_check_setting("bot_hourly_msg_limit", v, err, sizeof err),
			 CAST_SETTING_OK);
	json_decref(v);
	v = parse("{\"min\":12,\"max\":6}");
	ck_assert_int_eq(cast_check_setting("bot_hourly_msg_limit", v, err, sizeof err), -1);
	ck_assert_str_eq(err, "bot_hourly_msg_limit.min: larger than max");
	json_decref(v);
	v = parse("0.4");
	ck_assert_int_eq(cast_check_setting("humaniser_filler_probability", v, err, sizeof err),
			 CAST_SETTING_OK);
	json_decref(v);
	v = parse("1.4");
	ck_assert_int_eq(cast_check_setting("reply_probability", v, err, sizeof err), -1);
	json_decref(v);
	v = parse("[\"09:30-12:00\",\"14:00-18:00\"]");
	ck_assert_int_eq(cast_check_setting("prime_hours", v, err, sizeof err), CAST_SETTING_OK);
	json_decref(v);
	v = parse("\"anything\"");
	ck_assert_int_eq(cast_check_setting("some_future_key", v, err, sizeof err),
			 CAST_SETTING_UNKNOWN);
	ck_assert_int_eq(cast_check_setting("typing_enabled", v, err, sizeof err), -1);
	json_decref(v);
}
END_TEST

static Suite *cast_suite(void)
{
	Suite *s = suite_create("cast");
	TCase *tc = tcase_create("shapes");

	tcase_add_test(tc, test_persona_ok);
	tcase_add_test(tc, test_persona_drift);
	tcase_add_test(tc, test_emotion);
	tcase_add_test(tc, test_speed);
	tcase_add_test(tc, test_hours);
	tcase_add_test(tc, test_token);
	tcase_add_test(tc, test_file_errors);
	tcase_add_test(tc, test_long_path_stays_utf8);
	tcase_add_test(tc, test_demo_cast);
	tcase_add_test(tc, test_settings);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(cast_suite)
