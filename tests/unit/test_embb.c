/* test_embb: the embeddings batcher on a real loop. Texts queued in one turn
 * go as one request and each gets exactly one answer: with the provider
 * unreachable every text of the batch gets the error; texts of two models go
 * as two requests; a text that is not UTF-8 is refused when queued; embb_free
 * answers the texts not sent yet with "closing". (The happy path against the
 * fake API is itest_pipeline's semantic_dedup_sees_the_sent_messages.) */
#include "tests/check_main.h"
#include "worker/calls/embb.h"

#include <check.h>
#include <string.h>

struct got {
	int n;
	char err[8][200];
};

static void on_vec(const float *v, size_t dim, const char *err, void *arg)
{
	struct got *g = arg;

	ck_assert_ptr_null(v);
	ck_assert_uint_eq(dim, 0);
	ck_assert_ptr_nonnull(err);
	if (g->n < 8)
		snprintf(g->err[g->n], sizeof g->err[0], "%s", err);
	g->n++;
}

/* Port 9 on loopback: nothing listens, the connect fails at once. */
static const struct embb_target nowhere = { "http://127.0.0.1:9/v1", "k", "m1" };

START_TEST(a_turn_is_one_request_and_every_text_is_answered)
{
	uv_loop_t loop;
	char err[128];
	struct httpc *h;
	struct embb *b;
	struct got g = { 0 };
	struct embb_target other = nowhere;
	unsigned long requests, texts;

	uv_loop_init(&loop);
	h = httpc_new(&loop, err, sizeof err);
	ck_assert_ptr_nonnull(h);
	b = embb_new(&loop, h);
	ck_assert_ptr_nonnull(b);
	other.model = "m2";
	ck_assert_int_eq(embb_get(b, &nowhere, "dolar yükseliyor", on_vec, &g), 0);
	ck_assert_int_eq(embb_get(b, &other, "altın düşüyor", on_vec, &g), 0);
	ck_assert_int_eq(embb_get(b, &nowhere, "borsa yatay", on_vec, &g), 0);
	ck_assert_int_eq(embb_get(b, &nowhere, "bad \xff utf8", on_vec, &g), -1);
	ck_assert_int_eq(g.n, 0);   /* never from inside embb_get */
	uv_run(&loop, UV_RUN_ONCE); /* the turn: two requests, one per model */
	embb_stats(b, &requests, &texts);
	ck_assert_uint_eq(requests, 2);
	ck_assert_uint_eq(texts, 3);
	while (g.n < 3 && uv_run(&loop, UV_RUN_ONCE))
		;
	ck_assert_int_eq(g.n, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_msg(strstr(g.err[i], "embeddings request failed"), "%s", g.err[i]);
	embb_free(b);
	httpc_free(h);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

START_TEST(free_answers_what_was_not_sent)
{
	uv_loop_t loop;
	char err[128];
	struct httpc *h;
	struct embb *b;
	struct got g = { 0 };

	uv_loop_init(&loop);
	h = httpc_new(&loop, err, sizeof err);
	b = embb_new(&loop, h);
	ck_assert_int_eq(embb_get(b, &nowhere, "bir", on_vec, &g), 0);
	ck_assert_int_eq(embb_get(b, &nowhere, "iki", on_vec, &g), 0);
	embb_free(b);
	ck_assert_int_eq(g.n, 2);
	ck_assert_str_eq(g.err[0], "closing");
	ck_assert_str_eq(g.err[1], "closing");
	httpc_free(h);
	uv_run(&loop, UV_RUN_DEFAULT);
	ck_assert_int_eq(uv_loop_close(&loop), 0);
}
END_TEST

static Suite *embb_suite(void)
{
	Suite *s = suite_create("embb");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, a_turn_is_one_request_and_every_text_is_answered);
	tcase_add_test(tc, free_answers_what_was_not_sent);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(embb_suite)
