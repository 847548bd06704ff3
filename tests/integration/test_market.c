/* The market chat end to end: 200 bots in 20 chats talk for a simulated hour
 * (scale_factor 60: a minute of real time) under supervisor --workers 4, with
 * humans writing in every chat. What a user would check afterwards:
 *   - the bots talked, on their own (simulation_active switched on by a change
 *     notice, no restart);
 *   - no bot sent more than its hourly cap in any simulated hour, no chat more
 *     than its per-minute cap in any simulated minute;
 *   - every human mention got exactly one answer from the bot mentioned, as a
 *     reply to the human's message, on the question's topic, and at most one
 *     other bot joined in; each human message is stored once;
 *   - no duplicate send, no bot answering itself, typing shown. */
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NCHATS 20
#define NBOTS 200
#define CHAT0 (-1002000000000LL)
#define HOURLY_MAX 12
#define PER_MIN 3
#define SCALE 60
#define RUN_MS 62000

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

static long long tg_id(int bot)
{
	return 7000000 + bot;
}

/* Bot i (1-based) sits in chat (i - 1) % NCHATS; a few personas in turn, some
 * with stances (the consistency guard runs for them). */
static char *write_cast(void)
{
	static const char *tones[] = { "genç", "profesyonel", "samimi", "sakin" };
	json_t *cast = json_object(), *chats = json_array(), *bots = json_array();
	char *path, name[32], user[32], token[64];

	for (int c = 0; c < NCHATS; c++) {
		char title[32];
		snprintf(title, sizeof title, "Piyasa %d", c);
		json_array_append_new(chats, json_pack("{s:I, s:s}", "id", (json_int_t)(CHAT0 - c),
						       "title", title));
	}
	for (int i = 1; i <= NBOTS; i++) {
		json_t *b;
		snprintf(name, sizeof name, "Yatirimci %d", i);
		snprintf(user, sizeof user, "mbot%03d", i);
		snprintf(token, sizeof token, "%lld:market-token-%d", tg_id(i), i);
		b = json_pack("{s:s, s:s, s:s, s:{s:s, s:s, s:[s, s], s:{s:b}}, s:{s:s, s:f}, s:[I]}",
			      "name", name, "username", user, "token", token, "persona_profile",
			      "tone", tones[i % 4], "risk_profile", "orta", "watchlist", "THYAO",
			      "BTC", "style", "emojis", i % 2 == 0, "emotion_profile", "energy",
			      i % 3 ? "yüksek" : "sakin", "empathy", 0.8, "chats",
			      (json_int_t)(CHAT0 - (i - 1) % NCHATS));
		if (i % 5 == 0)
			json_object_set_new(
				b, "stances",
				json_pack("[{s:s, s:s, s:f}]", "topic", "FX", "stance_text",
					  "Dolar/TL yukarı gider, TL varlıklara temkinli bakıyorum.",
					  "confidence", 0.8));
		json_array_append_new(bots, b);
	}
	json_object_set_new(cast, "chats", chats);
	json_object_set_new(cast, "bots", bots);
	json_object_set_new(cast, "settings",
			    json_pack("{s:b, s:i, s:i, s:{s:i, s:i}, s:[]}", "simulation_active", 0,
				      "scale_factor", SCALE, "max_msgs_per_min", PER_MIN,
				      "bot_hourly_msg_limit", "min", 3, "max", HOURLY_MAX,
				      "prime_hours"));
	if (asprintf(&path, "/tmp/itest-market-%d.json", (int)getpid()) < 0)
		abort();
	json_dump_file(cast, path, JSON_INDENT(1));
	json_decref(cast);
	return path;
}

static int some_sent(void *arg)
{
	return itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'") >=
	       (long long)(intptr_t)arg;
}

struct mention {
	long long chat, msg;
	int bot;
};

static struct mention mentions[NCHATS];

static int all_answered(void *arg)
{
	char sql[256];

	(void)arg;
	for (int c = 0; c < NCHATS; c++) {
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM messages WHERE status = 'sent' AND "
			 "chat_id = %lld AND reply_to_message_id = %lld AND bot_id = %d",
			 mentions[c].chat, mentions[c].msg, mentions[c].bot);
		if (itest_pg_int(sql) < 1)
			return 0;
	}
	return 1;
}

/* A human in chat c mentions one of its bots; every bot of the chat gets the update. */
static void human_mentions(int c)
{
	int bot = c + 1 + NCHATS * (c % 3); /* a bot of chat c */
	char body[512], ids[256];
	size_t off = 0;
	json_t *r;

	ids[0] = '\0';
	for (int i = c + 1; i <= NBOTS; i += NCHATS)
		off += (size_t)snprintf(ids + off, sizeof ids - off, "%s%lld", off ? "," : "",
					tg_id(i));
	snprintf(body, sizeof body,
		 "{\"chat_id\": %lld, \"text\": \"@mbot%03d sence dolar bu hafta nereye gider?\", "
		 "\"from\": {\"id\": %d, \"username\": \"ayse%d\", \"first_name\": \"Ayşe\"}, "
		 "\"bot_ids\": [%s]}",
		 CHAT0 - c, bot, 500 + c, c, ids);
	r = itest_fake_post("/_control/human", body);
	ck_assert_msg(r != NULL, "the fake refused the human message");
	mentions[c].chat = CHAT0 - c;
	mentions[c].msg = json_integer_value(json_object_get(r, "message_id"));
	mentions[c].bot = bot;
	ck_assert_int_gt(mentions[c].msg, 0);
	json_decref(r);
}

START_TEST(two_hundred_bots_twenty_chats_a_simulated_hour)
{
	char *cast = write_cast(), sql[1024];
	long long sent, n;
	int64_t t0;

	ck_assert_int_eq(itest_ctl("import", cast, NULL), 0);
	sup = itest_supervisor("4");
	ck_assert(itest_wait_for(some_sent, (void *)(intptr_t)0, 1000));
	sleep(2); /* the workers are up and subscribed */
	/* Switched on without a restart: the change notice reaches every worker. */
	ck_assert_int_eq(itest_ctl("settings", "set", "simulation_active", "true", NULL), 0);
	t0 = itest_now_ms();
	ck_assert_msg(itest_wait_for(some_sent, (void *)(intptr_t)20, 10000),
		      "the bots did not start talking within 10 s of the notice");
	sleep(3);
	for (int c = 0; c < NCHATS; c++)
		human_mentions(c);
	while (itest_now_ms() - t0 < RUN_MS)
		usleep(200000);
	ck_assert_int_eq(itest_ctl("settings", "set", "simulation_active", "false", NULL), 0);
	ck_assert_msg(itest_wait_for(all_answered, NULL, 90000), "a human mention got no answer");
	sleep(2); /* anything still in flight lands */

	sent = itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'");
	fprintf(stderr, "market: %lld messages in a simulated hour, %lld bots spoke, %lld chats\n",
		sent,
		itest_pg_int("SELECT count(DISTINCT bot_id) FROM messages WHERE status = 'sent'"),
		itest_pg_int("SELECT count(DISTINCT chat_id) FROM messages WHERE status = 'sent'"));
	ck_assert_msg(sent >= 500, "only %lld messages", sent);
	ck_assert_int_ge(itest_pg_int("SELECT count(DISTINCT bot_id) FROM messages WHERE status = 'sent'"),
			 150);

	/* The hourly cap: no bot above HOURLY_MAX in any simulated hour (3600/SCALE s),
	 * with 150 ms of slack for the clocks of Redis and PostgreSQL. */
	snprintf(sql, sizeof sql,
		 "SELECT coalesce(max(n), 0) FROM (SELECT a.id, count(*) AS n FROM messages a "
		 "JOIN messages b ON b.bot_id = a.bot_id AND b.status = 'sent' "
		 "AND b.sent_at <= a.sent_at AND b.sent_at > a.sent_at - make_interval(secs => %f) "
		 "WHERE a.status = 'sent' GROUP BY a.id) x",
		 3600.0 / SCALE - 0.15);
	n = itest_pg_int(sql);
	fprintf(stderr, "market: most messages of one bot in a simulated hour: %lld (cap %d)\n", n,
		HOURLY_MAX);
	ck_assert_int_le(n, HOURLY_MAX);
	ck_assert_int_ge(n, HOURLY_MAX - 2); /* the cap was reached: it is what held them */

	/* The per-minute cap: no chat above PER_MIN bot messages in any simulated minute. */
	snprintf(sql, sizeof sql,
		 "SELECT coalesce(max(n), 0) FROM (SELECT a.id, count(*) AS n FROM messages a "
		 "JOIN messages b ON b.chat_id = a.chat_id AND b.status = 'sent' "
		 "AND b.sent_at <= a.sent_at AND b.sent_at > a.sent_at - make_interval(secs => %f) "
		 "WHERE a.status = 'sent' GROUP BY a.id) x",
		 60.0 / SCALE - 0.15);
	n = itest_pg_int(sql);
	fprintf(stderr, "market: most messages of one chat in a simulated minute: %lld (cap %d)\n",
		n, PER_MIN);
	ck_assert_int_le(n, PER_MIN);

	/* Every mention: exactly one answer from the bot mentioned. */
	for (int c = 0; c < NCHATS; c++) {
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM messages WHERE status = 'sent' AND "
			 "chat_id = %lld AND reply_to_message_id = %lld AND bot_id = %d",
			 mentions[c].chat, mentions[c].msg, mentions[c].bot);
		ck_assert_int_eq(itest_pg_int(sql), 1);
		/* on the question's topic ("dolar": FX), not the chat's majority */
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM messages WHERE status = 'sent' AND chat_id = %lld AND "
			 "reply_to_message_id = %lld AND bot_id = %d AND metadata->>'topic' = 'FX'",
			 mentions[c].chat, mentions[c].msg, mentions[c].bot);
		ck_assert_int_eq(itest_pg_int(sql), 1);
		/* and at most human_max_other_replies (1) other bots joined in */
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM messages WHERE status = 'sent' AND chat_id = %lld AND "
			 "reply_to_message_id = %lld AND bot_id <> %d",
			 mentions[c].chat, mentions[c].msg, mentions[c].bot);
		ck_assert_int_le(itest_pg_int(sql), 1);
	}
	/* Each human message stored once, though ten bots saw it. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status = 'received'"),
			 NCHATS);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM (SELECT chat_id, telegram_message_id "
				      "FROM messages WHERE status = 'received' GROUP BY 1, 2 "
				      "HAVING count(*) > 1) x"),
			 0);
	/* Nobody answers itself. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages a JOIN messages b ON "
				      "b.chat_id = a.chat_id AND b.telegram_message_id = "
				      "a.reply_to_message_id WHERE a.bot_id = b.bot_id"),
			 0);
	/* Messages carry what they are about. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent' AND "
				      "NOT metadata ? 'topic'"),
			 0);
	/* No text twice from one bot. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM (SELECT bot_id, text FROM messages "
				      "WHERE status = 'sent' AND NOT metadata ? 'reaction' "
				      "GROUP BY 1, 2 HAVING count(*) > 1) x"),
			 0);
	/* Exactly once: every send the fake took is one 'sent' row, and back.
	 * (The fake's duplicate_sends counts equal texts in a chat, and two bots
	 * may well react with the same emoji.) */
	json_t *st = itest_fake_stats();
	ck_assert_int_eq(json_integer_value(json_object_get(st, "sends")),
			 itest_pg_int("SELECT count(*) FROM messages WHERE status = 'sent'"));
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM messages WHERE status IN "
				      "('unknown', 'failed', 'sending', 'retry')"),
			 0);
	json_decref(st);
	{
		long status;
		char *m = itest_http_get(itest_http_port(), "/metrics", &status);
		ck_assert_ptr_nonnull(m);
		ck_assert(strstr(m, "piyasa_typing_total ") && !strstr(m, "piyasa_typing_total 0\n"));
		ck_assert(strstr(m, "piyasa_human_messages_total 20\n"));
		free(m);
	}
	kill(sup, SIGTERM);
	int status = itest_wait_exit(sup, 30000);
	ck_assert_msg(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "supervisor did not exit 0 on SIGTERM (status %d)", status);
	sup = 0;
	unlink(cast);
	free(cast);
}
END_TEST

static Suite *market_suite(void)
{
	Suite *s = suite_create("market");
	TCase *tc = tcase_create("chat");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, two_hundred_bots_twenty_chats_a_simulated_hour);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(market_suite)
