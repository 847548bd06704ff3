/* Memories end to end (BEHAVIOUR.md "Memories", issue 16 item 5): a bot talks,
 * every memorize_interval of its messages a memorize job asks the fake for
 * memories, and afterwards, as a user would check in the database:
 *   - new memories are stored;
 *   - they are recalled in later prompts: their usage_count and last_used_at move;
 *   - a memory over 180 days old lost 10% of its relevance (faded_at set);
 *   - one under .3 relevance, used fewer than 2 times, unused for 6 months, is gone;
 *   - the bot keeps at most 50;
 *   - no deadlock (40P01) between the prompts' usage bumps and the memorize
 *     statement, though both touch the same rows all along. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CHAT (-1004000000000LL)

static pid_t fake, sup;

static void setup(void)
{
	itest_env_setup();
	fake = itest_fake_start(NULL);
}

static void teardown(void)
{
	itest_kill(sup, SIGKILL);
	itest_kill(fake, SIGTERM);
	itest_wait_exit(sup, 5000);
	itest_wait_exit(fake, 5000);
	itest_env_teardown();
}

static long long bot1;

static int memorized(void *arg)
{
	char sql[256];

	(void)arg;
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM bot_memories WHERE bot_id = %lld AND content NOT LIKE 'seed %%'",
		 bot1);
	return itest_pg_int(sql) >= 1;
}

static int recalled(void *arg)
{
	char sql[256];

	(void)arg;
	snprintf(sql, sizeof sql,
		 "SELECT count(*) FROM bot_memories WHERE bot_id = %lld AND content NOT LIKE "
		 "'seed %%' AND usage_count > 0 AND last_used_at IS NOT NULL",
		 bot1);
	return itest_pg_int(sql) >= 1;
}

static long long q(const char *fmt)
{
	char sql[512];

	snprintf(sql, sizeof sql, fmt, bot1);
	return itest_pg_int(sql);
}

static void speak(int n)
{
	char chat[32], bot[32], count[16];

	snprintf(chat, sizeof chat, "%lld", CHAT);
	snprintf(bot, sizeof bot, "%lld", bot1);
	snprintf(count, sizeof count, "%d", n);
	ck_assert_int_eq(itest_ctl("enqueue", "--chat", chat, "--bot", bot, "--count", count, NULL), 0);
}

START_TEST(memorize_store_recall_fade_remove_cap)
{
	char *cast = itest_write_cast(3, CHAT), sql[1024];

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	/* The engine's cast turns memories off; here they are the point. */
	ck_assert_int_eq(itest_ctl("settings", "set", "memorize_interval", "3", NULL), 0);
	bot1 = itest_pg_int("SELECT min(id) FROM bots");
	/* 46 fresh memories, 3 old ones (200 days, never faded), 2 dead ones
	 * (relevance .2, never used, 300 days old): 51 before the new ones. The
	 * fresh ones rank below what a memorize job writes (relevance 1.0). */
	snprintf(sql, sizeof sql,
		 "INSERT INTO bot_memories (bot_id, memory_type, content, relevance_score) "
		 "SELECT %lld, 'preference', 'seed fresh ' || g, 0.5 FROM generate_series(1, 46) g",
		 bot1);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
	snprintf(sql, sizeof sql,
		 "INSERT INTO bot_memories (bot_id, memory_type, content, relevance_score, "
		 "created_at) SELECT %lld, 'past_event', 'seed old ' || g, 0.8, "
		 "now() - interval '200 days' FROM generate_series(1, 3) g",
		 bot1);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
	snprintf(sql, sizeof sql,
		 "INSERT INTO bot_memories (bot_id, memory_type, content, relevance_score, "
		 "created_at) SELECT %lld, 'routine', 'seed dead ' || g, 0.2, "
		 "now() - interval '300 days' FROM generate_series(1, 2) g",
		 bot1);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
	sup = itest_supervisor("2");
	sleep(2); /* the fleet of 2 settled before the jobs are queued */
	/* 12 messages: a memorize job after every 3rd; the prompts bump the
	 * seeded memories' usage meanwhile, on the same rows. */
	speak(12);
	ck_assert_msg(itest_wait_for(memorized, NULL, 60000), "no memory stored (%lld sent)",
		      q("SELECT count(*) FROM messages WHERE status = 'sent' AND bot_id = %lld"));
	sleep(5); /* every memorize job done */
	/* Later prompts recall the new memories (the bot's profile is reloaded
	 * after a memorize job). */
	speak(6);
	ck_assert_msg(itest_wait_for(recalled, NULL, 60000), "no new memory used in a prompt");
	fprintf(stderr,
		"memories: %lld stored now (%lld new), old ones at %lld%% relevance, %lld dead "
		"left, memorize jobs sent %lld\n",
		q("SELECT count(*) FROM bot_memories WHERE bot_id = %lld"),
		q("SELECT count(*) FROM bot_memories WHERE bot_id = %lld AND content NOT LIKE "
		  "'seed %%'"),
		q("SELECT coalesce(round(max(relevance_score) * 100), -1) FROM bot_memories WHERE "
		  "bot_id = %lld AND content LIKE 'seed old %%'"),
		q("SELECT count(*) FROM bot_memories WHERE bot_id = %lld AND content LIKE 'seed dead "
		  "%%'"),
		q("SELECT count(*) FROM bot_memories WHERE bot_id = %lld AND faded_at IS NOT NULL"));
	/* faded once (a month must pass before the next), not removed */
	ck_assert_int_eq(q("SELECT count(*) FROM bot_memories WHERE bot_id = %lld AND content LIKE "
			   "'seed old %%' AND faded_at IS NOT NULL AND abs(relevance_score - 0.72) "
			   "< 0.001"),
			 3);
	ck_assert_int_eq(
		q("SELECT count(*) FROM bot_memories WHERE bot_id = %lld AND content LIKE 'seed dead %%'"),
		0);
	ck_assert_int_le(q("SELECT count(*) FROM bot_memories WHERE bot_id = %lld"), 50);
	/* the best stay: every new one, every old one; the cap took fresh seeds */
	ck_assert_int_lt(q("SELECT count(*) FROM bot_memories WHERE bot_id = %lld AND content LIKE "
			   "'seed fresh %%'"),
			 46);
	ck_assert_int_eq(itest_log_count("40P01"), 0);
	ck_assert_int_eq(itest_log_count("deadlock"), 0);
	unlink(cast);
	free(cast);
}
END_TEST

static Suite *memories_suite(void)
{
	Suite *s = suite_create("memories");
	TCase *tc = tcase_create("memorize");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, memorize_store_recall_fade_remove_cap);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(memories_suite)
