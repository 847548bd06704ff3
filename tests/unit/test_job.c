/* Job codec, ownership rule, wire codecs and the int64 map. */
#include "common/imap.h"
#include "common/job.h"
#include "common/rq.h"
#include "common/rurl.h"
#include "tests/check_main.h"
#include "worker/calls/llmw.h"
#include "worker/calls/tgw.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

START_TEST(job_round_trip)
{
	struct job j = { 0 }, back;
	char err[128], *s;

	job_new_id(j.id);
	ck_assert_int_eq(strlen(j.id), 32);
	j.kind = JOB_REPLY;
	j.prio = PRIO_HIGH;
	j.bot_id = 42;
	j.chat_id = -1001000000001LL;
	j.attempts = 2;
	j.enqueued_at = 1700000000123LL;
	j.payload = json_pack("{s:I}", "reply_to_message_id", (json_int_t)77);
	s = job_encode(&j);
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(job_decode(&back, s, strlen(s), err, sizeof err), 0);
	ck_assert_str_eq(back.id, j.id);
	ck_assert_int_eq(back.kind, JOB_REPLY);
	ck_assert_int_eq(back.prio, PRIO_HIGH);
	ck_assert_int_eq(back.bot_id, 42);
	ck_assert(back.chat_id == -1001000000001LL);
	ck_assert(back.enqueued_at == 1700000000123LL);
	ck_assert_int_eq(json_integer_value(json_object_get(back.payload, "reply_to_message_id")), 77);
	free(s);
	job_clear(&j);
	job_clear(&back);
}
END_TEST

static void assert_refused(const char *text, const char *why)
{
	struct job j;
	char err[128];

	ck_assert_int_eq(job_decode(&j, text, strlen(text), err, sizeof err), -1);
	ck_assert_msg(strstr(err, why) != NULL, "'%s' not in '%s'", why, err);
	ck_assert_ptr_null(j.payload);
}

START_TEST(job_malformed_is_refused_with_reason)
{
	assert_refused("{", "not JSON");
	assert_refused("[1]", "not a JSON object");
	assert_refused("{\"kind\":\"speak\",\"bot_id\":1,\"chat_id\":1}", "'id'");
	assert_refused("{\"id\":\"a b\",\"kind\":\"speak\",\"bot_id\":1,\"chat_id\":1}", "'id'");
	assert_refused("{\"id\":\"a\",\"kind\":\"dance\",\"bot_id\":1,\"chat_id\":1}", "'kind'");
	assert_refused("{\"id\":\"a\",\"kind\":\"speak\",\"chat_id\":1}", "missing field 'bot_id'");
	assert_refused("{\"id\":\"a\",\"kind\":\"speak\",\"bot_id\":\"1\",\"chat_id\":1}",
		       "not an integer");
	assert_refused("{\"id\":\"a\",\"kind\":\"speak\",\"bot_id\":0,\"chat_id\":1}", "positive");
	assert_refused("{\"id\":\"a\",\"kind\":\"speak\",\"bot_id\":1,\"chat_id\":1,\"priority\":\"urgent\"}",
		       "'priority'");
	assert_refused("{\"id\":\"a\",\"kind\":\"speak\",\"bot_id\":1,\"chat_id\":1,\"payload\":\"x\"}",
		       "'payload'");
	assert_refused("{\"id\":\"a\",\"id\":\"b\",\"kind\":\"speak\",\"bot_id\":1,\"chat_id\":1}",
		       "not JSON");
}
END_TEST

/* What jansson, and so a JSON log line or an outbox row, accepts. */
static int is_utf8(const char *s)
{
	json_t *j = json_string(s);

	json_decref(j);
	return j != NULL;
}

/* Texts from outside in error messages: jansson quotes the input near its error
 * and cuts it at its own limit (here inside "ç"), Telegram descriptions are cut
 * to 255 and 200 bytes. Each must stay valid UTF-8, or the log line, the
 * outbox row ("failed") and the dead letter are lost (issue 19, item 5). */
START_TEST(error_texts_stay_utf8)
{
	const char *bad_escape = "{\"id\": \"\\u12\xc3\xa7\"}";
	char err[128], desc[700], body[800], why[256];
	struct llmw_result lr;
	struct tgw_result r;
	struct job j;

	ck_assert_int_eq(job_decode(&j, bad_escape, strlen(bad_escape), err, sizeof err), -1);
	ck_assert_msg(is_utf8(err), "job: %s", err);
	ck_assert_ptr_nonnull(strstr(err, "not JSON: invalid escape"));
	ck_assert_int_eq(llmw_parse(bad_escape, strlen(bad_escape), &lr, err, sizeof err), -1);
	ck_assert_msg(is_utf8(err), "llmw: %s", err);
	ck_assert_int_eq(tgw_parse(bad_escape, strlen(bad_escape), &r, err, sizeof err), -1);
	ck_assert_msg(is_utf8(err), "tgw: %s", err);
	/* A 400 whose description is 300 "ş" (600 bytes): odd cuts at 255 and 200. */
	for (int i = 0; i < 300; i++)
		memcpy(desc + 2 * i, "\xc5\x9f", 2);
	desc[600] = 0;
	snprintf(body, sizeof body, "{\"ok\":false,\"error_code\":400,\"description\":\"x%s\"}", desc);
	ck_assert_int_eq(tgw_parse(body, strlen(body), &r, err, sizeof err), 0);
	ck_assert(is_utf8(r.description));
	ck_assert_uint_eq(strlen(r.description), 1 + 2 * 127);
	tgw_failure_text(&r, why, sizeof why);
	ck_assert_msg(is_utf8(why), "%s", why);
	ck_assert_uint_eq(strlen(why), strlen("telegram 400: x") + 2 * 99);
	/* A small buffer cuts it too, on a character boundary. */
	tgw_failure_text(&r, why, 20);
	ck_assert_str_eq(why, "telegram 400: x\xc5\x9f\xc5\x9f");
}
END_TEST

/* What a dead letter stores of a job's bytes: themselves when PostgreSQL takes
 * them as text, else base64 behind a mark (issue 19, item 4). */
START_TEST(raw_job_text_is_storable)
{
	char *s;

	ck_assert_str_eq((s = job_raw_text("{\"id\":\"ç\"}", 11)), "{\"id\":\"ç\"}");
	free(s);
	ck_assert_str_eq((s = job_raw_text("{\xff}", 3)), "base64:e/99");
	free(s);
	ck_assert_str_eq((s = job_raw_text("a\0b", 3)), "base64:YQBi");
	free(s);
	ck_assert_str_eq((s = job_raw_text("", 0)), "");
	free(s);
}
END_TEST

START_TEST(ownership_is_bot_id_mod_n)
{
	int seen[4] = { 0 };

	ck_assert_int_eq(rq_owner(7, 4), 3);
	ck_assert_int_eq(rq_owner(8, 4), 0);
	ck_assert_int_eq(rq_owner(-5, 4), 3);
	ck_assert_int_eq(rq_owner(5, 1), 0);
	for (int b = 1; b <= 400; b++)
		seen[rq_owner(b, 4)]++;
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(seen[i], 100);
}
END_TEST

START_TEST(queue_keys_share_one_hash_tag)
{
	struct rq_keys k;

	rq_keys_for(&k, "piyasa", 3);
	ck_assert_str_eq(k.k[0], "piyasa:{w3}:q:high");
	ck_assert_str_eq(k.k[2], "piyasa:{w3}:q:low");
	ck_assert_str_eq(k.k[RQ_K_LEASED], "piyasa:{w3}:leased");
	for (int i = 0; i < RQ_NKEYS; i++)
		ck_assert_ptr_nonnull(strstr(k.k[i], "{w3}"));
}
END_TEST

START_TEST(redis_urls)
{
	struct rurl u;
	char err[128];

	ck_assert_int_eq(rurl_parse(&u, "redis://127.0.0.1:26379", err, sizeof err), 0);
	ck_assert_str_eq(u.host, "127.0.0.1");
	ck_assert_int_eq(u.port, 26379);
	ck_assert_int_eq(rurl_parse(&u, "redis://:pw@h/2", err, sizeof err), 0);
	ck_assert_str_eq(u.password, "pw");
	ck_assert_int_eq(u.db, 2);
	ck_assert_int_eq(u.port, 6379);
	ck_assert_int_eq(rurl_parse(&u, "unix:///run/r.sock?db=1", err, sizeof err), 0);
	ck_assert_str_eq(u.path, "/run/r.sock");
	ck_assert_int_eq(rurl_parse(&u, "http://x", err, sizeof err), -1);
	ck_assert_int_eq(rurl_parse(&u, "redis://h:99999", err, sizeof err), -1);
	/* The userinfo: an '@' of the password was taken for its end, and the host
	 * became "ss@host" (issue 19, item 8). Encoded it is read, bare refused. */
	ck_assert_int_eq(rurl_parse(&u, "redis://:p@ss@host", err, sizeof err), -1);
	ck_assert_msg(strstr(err, "%40") != NULL, "%s", err);
	ck_assert_int_eq(rurl_parse(&u, "redis://u:p@ss@host:7000/1", err, sizeof err), -1);
	ck_assert_int_eq(rurl_parse(&u, "redis://:p%40ss@host:7000/3", err, sizeof err), 0);
	ck_assert_str_eq(u.password, "p@ss");
	ck_assert_str_eq(u.host, "host");
	ck_assert_int_eq(u.port, 7000);
	ck_assert_int_eq(u.db, 3);
	ck_assert_int_eq(rurl_parse(&u, "redis://default:p:w@h", err, sizeof err), 0);
	ck_assert_str_eq(u.password, "p:w");
	ck_assert_str_eq(u.user, "default");
	/* An ACL user goes with its password (AUTH user password); both decoded. */
	ck_assert_int_eq(rurl_parse(&u, "redis://pi%79asa:s%3Acret@127.0.0.1:26379", err, sizeof err),
			 0);
	ck_assert_str_eq(u.user, "piyasa");
	ck_assert_str_eq(u.password, "s:cret");
	ck_assert_int_eq(rurl_parse(&u, "redis://piyasa@h", err, sizeof err), -1);
	ck_assert_int_eq(rurl_parse(&u, "redis://:pw@h", err, sizeof err), 0);
	ck_assert_str_eq(u.user, "");
	ck_assert_int_eq(rurl_parse(&u, "redis://[::1]:6380", err, sizeof err), 0);
	ck_assert_str_eq(u.host, "::1");
	ck_assert_int_eq(u.port, 6380);
	ck_assert_int_eq(rurl_parse(&u, "redis://h/", err, sizeof err), 0);
	ck_assert_int_eq(u.db, 0);
	ck_assert_str_eq(u.password, "");
	ck_assert_int_eq(rurl_parse(&u, "redis://h?db=2", err, sizeof err), -1);
	ck_assert_int_eq(rurl_parse(&u, "redis://h/x", err, sizeof err), -1);
	ck_assert_int_eq(rurl_parse(&u, "redis://h:0", err, sizeof err), -1);
	ck_assert_int_eq(rurl_parse(&u, "redis://:a%00b@h", err, sizeof err), -1);
	ck_assert_int_eq(rurl_parse(&u, "redis://", err, sizeof err), -1);
	/* An ACL user, %-decoded like the password; a user alone is refused. */
	ck_assert_int_eq(rurl_parse(&u, "redis://app%2Done:s%3Acret@[::1]/1", err, sizeof err), 0);
	ck_assert_str_eq(u.user, "app-one");
	ck_assert_str_eq(u.password, "s:cret");
	ck_assert_str_eq(u.host, "::1");
	ck_assert_int_eq(u.db, 1);
	ck_assert_int_eq(rurl_parse(&u, "redis://:pw@h", err, sizeof err), 0);
	ck_assert_str_eq(u.user, "");
	ck_assert_int_eq(rurl_parse(&u, "redis://app@h", err, sizeof err), -1);
	/* TLS: refused with its reason, not as an unknown scheme. */
	ck_assert_int_eq(rurl_parse(&u, "rediss://h:6380", err, sizeof err), -1);
	ck_assert_msg(strstr(err, "TLS") != NULL, "%s", err);
}
END_TEST

START_TEST(telegram_wire)
{
	struct tgw_result r;
	char err[128], *body, big[5000 * 2 + 1];

	const char *ok = "{\"ok\":true,\"result\":{\"message_id\":9}}";
	ck_assert_int_eq(tgw_parse(ok, strlen(ok), &r, err, sizeof err), 0);
	ck_assert(r.ok && r.message_id == 9);
	const char *e429 =
		"{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests\",\"parameters\":{\"retry_after\":5}}";
	ck_assert_int_eq(tgw_parse(e429, strlen(e429), &r, err, sizeof err), 0);
	ck_assert(!r.ok && r.error_code == 429 && r.retry_after == 5);
	ck_assert_int_eq(tgw_parse("{\"ok\":tr", 8, &r, err, sizeof err), -1);
	ck_assert_int_eq(tgw_parse("{\"result\":1}", 12, &r, err, sizeof err), -1);
	/* 5000 two-byte characters are cut to 4096 characters, not bytes */
	for (int i = 0; i < 5000; i++)
		memcpy(big + 2 * i, "\xc3\xbc", 2);
	big[10000] = '\0';
	ck_assert_int_eq(tgw_utf8_prefix(big, 4096), 8192);
	body = tgw_send_message(-100, big, 3);
	json_t *o = json_loads(body, 0, NULL);
	ck_assert_int_eq(strlen(json_string_value(json_object_get(o, "text"))), 8192);
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(o, "reply_parameters"),
							    "message_id")),
			 3);
	json_decref(o);
	free(body);
	/* Text that is not UTF-8 gives no body, not one without its text (found by
	 * tests/fuzz/fuzz_tgw). */
	ck_assert_ptr_null(tgw_send_message(-100, "\n\x86", 0));
}
END_TEST

START_TEST(llm_wire)
{
	struct llmw_result r;
	char err[128];
	const char *ok =
		"{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"  selam  \"}}],"
		"\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":3}}";

	ck_assert_int_eq(llmw_parse(ok, strlen(ok), &r, err, sizeof err), 0);
	ck_assert_str_eq(r.content, "selam");
	ck_assert_int_eq(r.prompt_tokens, 10);
	llmw_result_clear(&r);
	/* Usage from outside: negative refused as 0, huge clamped (issue 19, item 6). */
	const char *odd = "{\"choices\":[{\"message\":{\"content\":\"x\"}}],"
			  "\"usage\":{\"prompt_tokens\":-500,\"completion_tokens\":4294967301}}";
	ck_assert_int_eq(llmw_parse(odd, strlen(odd), &r, err, sizeof err), 0);
	ck_assert_int_eq(r.prompt_tokens, 0);
	ck_assert_int_eq(r.completion_tokens, LLMW_TOKENS_MAX);
	llmw_result_clear(&r);
	ck_assert_int_eq(llmw_parse("{\"choices\":[]}", 14, &r, err, sizeof err), -1);
	ck_assert_int_eq(llmw_parse("garbage", 7, &r, err, sizeof err), -1);
	const char *quota = "{\"error\":{\"code\":\"insufficient_quota\"}}";
	ck_assert_int_eq(llmw_classify(429, quota, strlen(quota)), LLMW_QUOTA);
	ck_assert_int_eq(llmw_classify(429, "{}", 2), LLMW_RATE_LIMIT);
	ck_assert_int_eq(llmw_classify(503, "", 0), LLMW_SERVER);
	ck_assert_int_eq(llmw_classify(401, "", 0), LLMW_QUOTA);
	ck_assert_int_eq(llmw_classify(400, "", 0), LLMW_BAD_REQUEST);

	/* The request body, read back: the texts exactly, escapes and all. */
	struct llmw_msg msgs[2] = { { "system", "Sen \"Ayşe\"sin.\nKısa yaz." },
				    { "user", "[Mehmet]: THYAO 300'ü görür mü? \\ / \t" } };
	struct llmw_params par = { 1.25, 0.92, 0.3, 0.4, 150 };
	char *body = llmw_request("m-1", msgs, 2, &par);
	json_error_t je;
	json_t *o;

	ck_assert_ptr_nonnull(body);
	o = json_loads(body, 0, &je);
	ck_assert_msg(o != NULL, "not JSON: %s", je.text);
	ck_assert_str_eq(json_string_value(json_object_get(o, "model")), "m-1");
	ck_assert_int_eq(json_array_size(json_object_get(o, "messages")), 2);
	for (int i = 0; i < 2; i++) {
		json_t *m = json_array_get(json_object_get(o, "messages"), (size_t)i);
		ck_assert_str_eq(json_string_value(json_object_get(m, "role")), msgs[i].role);
		ck_assert_str_eq(json_string_value(json_object_get(m, "content")), msgs[i].content);
	}
	ck_assert(json_real_value(json_object_get(o, "temperature")) == 1.25);
	ck_assert_int_eq(json_integer_value(json_object_get(o, "max_tokens")), 150);
	json_decref(o);
	free(body);
	/* Invalid UTF-8 makes no body rather than a broken one. */
	msgs[1].content = "bozuk \xff metin";
	ck_assert_ptr_null(llmw_request("m-1", msgs, 2, &par));
}
END_TEST

START_TEST(imap_put_get_delete)
{
	struct imap *m = imap_new();
	static int vals[5000];

	for (int i = 0; i < 5000; i++)
		ck_assert_int_eq(imap_put(m, i * 7919LL - 100000, &vals[i]), 0);
	ck_assert_int_eq(imap_count(m), 5000);
	for (int i = 0; i < 5000; i += 2)
		ck_assert_ptr_eq(imap_del(m, i * 7919LL - 100000), &vals[i]);
	for (int i = 0; i < 5000; i++)
		ck_assert_ptr_eq(imap_get(m, i * 7919LL - 100000), i % 2 ? &vals[i] : NULL);
	ck_assert_int_eq(imap_count(m), 2500);
	imap_free(m);
}
END_TEST

static Suite *job_suite(void)
{
	Suite *s = suite_create("job");
	TCase *tc = tcase_create("codec");

	tcase_add_test(tc, job_round_trip);
	tcase_add_test(tc, job_malformed_is_refused_with_reason);
	tcase_add_test(tc, error_texts_stay_utf8);
	tcase_add_test(tc, raw_job_text_is_storable);
	tcase_add_test(tc, ownership_is_bot_id_mod_n);
	tcase_add_test(tc, queue_keys_share_one_hash_tag);
	tcase_add_test(tc, redis_urls);
	tcase_add_test(tc, telegram_wire);
	tcase_add_test(tc, llm_wire);
	tcase_add_test(tc, imap_put_get_delete);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(job_suite)
