/* test_llm: what the worker's view of its providers makes of numbers from
 * outside: a 429's Retry-After cools a provider down for at most a day, and a
 * negative token count never lowers what a bot has used. The config and the
 * metrics slot are the test's own; no call is made. */
#include "common/backoff.h"
#include "common/cfg.h"
#include "common/shm.h"
#include "tests/check_main.h"
#include "worker/calls/llm.h"

#include <check.h>
#include <string.h>
#include <uv.h>

static struct {
	uv_loop_t loop;
	struct cfg cfg;
	struct shm_slot slot;
} w;

static struct llm *setup(void)
{
	struct llm *l;

	memset(&w, 0, sizeof w);
	ck_assert_int_eq(uv_loop_init(&w.loop), 0);
	cfg_defaults(&w.cfg);
	w.cfg.nproviders = 1;
	strcpy(w.cfg.providers[0].name, "p");
	ck_assert_ptr_nonnull(l = llm_new(&w.loop, &w.cfg, &w.slot, 42));
	return l;
}

static void teardown(struct llm *l)
{
	llm_free(l);
	ck_assert_int_eq(uv_loop_close(&w.loop), 0);
}

/* Retry-After: 2^62 s times 1000 wrapped to 0 (undefined behaviour): the
 * provider was not cooled down at all (issue 19, item 6). */
START_TEST(a_huge_retry_after_cools_a_day)
{
	struct llm *l = setup();
	int64_t now = 5000000, wait = 0;
	uint64_t gen;

	ck_assert_int_eq(llm_pick(l, 0, now, &gen, &wait), 0);
	llm_done(l, 0, gen, now, LLM_RATE_LIMITED, 100, 1L << 62, 1, 0);
	ck_assert_int_eq(llm_pick(l, 0, now + 1000, &gen, &wait), -1);
	ck_assert_int_eq(wait, BACKOFF_RETRY_AFTER_MAX_S * 1000LL - 1000);
	teardown(l);
}
END_TEST

/* Negative usage made a bot's count (and the daily budget) go down. */
START_TEST(negative_tokens_count_nothing)
{
	struct llm *l = setup();
	int64_t now = 5000000, wait = 0;
	uint64_t gen;

	ck_assert_int_eq(llm_pick(l, 0, now, &gen, &wait), 0);
	llm_done(l, 0, gen, now, LLM_OK, 100, -1, 9, 30);
	ck_assert_int_eq(llm_pick(l, 0, now, &gen, &wait), 0);
	llm_done(l, 0, gen, now, LLM_OK, 100, -1, 9, -1000000);
	ck_assert_int_eq(llm_bot_tokens(l, 9), 30);
	teardown(l);
}
END_TEST

static Suite *llm_suite(void)
{
	Suite *s = suite_create("llm");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, a_huge_retry_after_cools_a_day);
	tcase_add_test(tc, negative_tokens_count_nothing);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(llm_suite)
