/* test_pick: every row of the reply-target scoring table (BEHAVIOUR.md step 3) on
 * its own, the target drawn only among the top 3 (never the bot's own message,
 * never outside the last 30) in proportion to the scores, the reply/open, length,
 * reaction and mention chances, and a topic choice that skips cooling-down stances
 * and follows the transcript. */
#include "common/backoff.h"
#include "tests/check_main.h"
#include "worker/chat/pick.h"

#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1740830400000LL /* 2025-03-01T12:00:00Z */
#define MIN 60000LL
#define BOT_ID 7

static json_t *persona, *emotion, *topics;
static struct pick_bot bot;

static void setup(void)
{
	persona = json_pack("{s:[s,s]}", "watchlist", "THYAO", "BTC");
	emotion = json_pack("{s:f}", "empathy", 0.8);
	topics = json_pack("[s,s]", "BIST", "FX");
	ck_assert_int_eq(
		pick_bot_from_json(&bot, BOT_ID, "Kemal", "kemal_bot", persona, emotion, topics), 0);
}

static void teardown(void)
{
	json_decref(persona);
	json_decref(emotion);
	json_decref(topics);
}

/* A human message written now, with nothing in it the table rewards. */
static struct convo_msg msg(const char *text)
{
	return (struct convo_msg){ .id = 1, .tg_id = 100, .speaker = "deniz", .text = text, .at_ms = NOW };
}

static double score(const char *text)
{
	struct convo_msg m = msg(text);

	return pick_score(&m, &bot, NOW, 0);
}

#define BASE 11.0 /* human +8, under 3 minutes +3 */

START_TEST(score_human_vs_bot)
{
	struct convo_msg m = msg("merhaba millet");

	ck_assert_double_eq_tol(pick_score(&m, &bot, NOW, 0), BASE, 1e-9);
	m.bot_id = 3;
	ck_assert_double_eq_tol(pick_score(&m, &bot, NOW, 0), 2.5 + 3, 1e-9);
	m.text = NULL; /* no text: no crash, nothing matched */
	ck_assert_double_eq_tol(pick_score(&m, &bot, NOW, 0), 2.5 + 3, 1e-9);
}
END_TEST

START_TEST(score_age_brackets)
{
	static const struct {
		int64_t age_ms;
		double points;
	} rows[] = {
		{ 0, 3 },        { 2 * MIN, 3 },   { 3 * MIN - 1, 3 },
		{ 3 * MIN, 2 },  { 9 * MIN, 2 },   { 10 * MIN, 1 },
		{ 29 * MIN, 1 }, { 30 * MIN, -1 }, { 24 * 60 * MIN, -1 },
		{ -5 * MIN, 3 }, /* clock skew: counts as new */
	};
	struct convo_msg m = msg("merhaba millet");

	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		m.at_ms = NOW - rows[i].age_ms;
		ck_assert_double_eq_tol(pick_score(&m, &bot, NOW, 0), 8 + rows[i].points, 1e-9);
	}
}
END_TEST

START_TEST(score_question_and_curiosity)
{
	ck_assert_double_eq_tol(score("bu hafta ne olur?"), BASE + 4, 1e-9);
	ck_assert_double_eq_tol(score("Sizce bu hafta toparlanma gelir"), BASE + 3, 1e-9);
	ck_assert_double_eq_tol(score("merak ediyorum bu işin sonu"), BASE + 3, 1e-9);
	ck_assert_double_eq_tol(score("NE DÜŞÜNÜYORSUNUZ bu işe"), BASE + 3, 1e-9);
	ck_assert_double_eq_tol(score("sizce ne olur?"), BASE + 4 + 3, 1e-9);
	/* "neden" is a whole word: "nedeniyle" (because of) is not a question. */
	ck_assert_double_eq_tol(score("tatil nedeniyle sakin"), BASE, 1e-9);
	ck_assert_double_eq_tol(score("Neden bu kadar sakin"), BASE + 3, 1e-9);
}
END_TEST

START_TEST(score_mention)
{
	ck_assert_double_eq_tol(score("@kemal_bot sen ne diyorsun"), BASE + 15, 1e-9);
	ck_assert_double_eq_tol(score("selam @KEMAL_BOT"), BASE + 15, 1e-9);
	ck_assert_double_eq_tol(score("selam @kemal_bot2"), BASE, 1e-9);
	ck_assert_double_eq_tol(score("KEMAL abi burada mı"), BASE + 15, 1e-9);
	ck_assert_double_eq_tol(score("Kemal'in dediği oldu"), BASE + 15, 1e-9);
	ck_assert_double_eq_tol(score("Kemalettin geldi"), BASE, 1e-9);
}
END_TEST

START_TEST(score_mention_turkish_name)
{
	struct pick_bot b;
	struct convo_msg m = msg("AYŞE bu işe ne der");

	ck_assert_int_eq(pick_bot_from_json(&b, 9, "Ayşe", NULL, NULL, NULL, NULL), 0);
	ck_assert_double_eq_tol(pick_score(&m, &b, NOW, 0), BASE + 15, 1e-9);
	m.text = "ayse nerede";
	ck_assert_double_eq_tol(pick_score(&m, &b, NOW, 0), BASE + 15, 1e-9);
	m.text = "İstanbul'da hava güzel";
	ck_assert_double_eq_tol(pick_score(&m, &b, NOW, 0), BASE, 1e-9);
}
END_TEST

START_TEST(score_watchlist_symbols)
{
	/* BTC is watched and Kripto is not a topic of this chat: only the symbol counts. */
	ck_assert_double_eq_tol(score("btc'ye bakıyorum"), BASE + 2.5, 1e-9);
	/* THYAO is watched and also a BIST keyword. */
	ck_assert_double_eq_tol(score("THYAO ve BTC"), BASE + 2 * 2.5 + 1.5, 1e-9);
	ck_assert_double_eq_tol(score("BTCUSDT grafiği"), BASE, 1e-9);
}
END_TEST

START_TEST(score_topics)
{
	struct convo_msg m = msg("merhaba millet");

	ck_assert_double_eq_tol(score("dolar yine yerinde"), BASE + 1.5, 1e-9);
	ck_assert_double_eq_tol(score("Borsada hisseler karışık"), BASE + 1.5, 1e-9);
	ck_assert_double_eq_tol(score("dolar da borsa da sakin"), BASE + 3, 1e-9);
	ck_assert_double_eq_tol(score("TL'ye geçtim"), BASE + 1.5, 1e-9);
	ck_assert_double_eq_tol(score("kurumlar sakin"), BASE, 1e-9);         /* not "kur" */
	ck_assert_double_eq_tol(score("faiz kararı bekleniyor"), BASE, 1e-9); /* Makro: not here */
	m.topic = "bist"; /* metadata topic, any case */
	ck_assert_double_eq_tol(pick_score(&m, &bot, NOW, 0), BASE + 1.5, 1e-9);
}
END_TEST

START_TEST(score_empathy_and_negative)
{
	struct convo_msg m = msg("merhaba millet");
	struct pick_bot cold = bot;

	ck_assert_double_eq_tol(score("herkes panikte"), BASE + 2, 1e-9);
	ck_assert_double_eq_tol(score("Bugün ÇOK KÖTÜ geçti"), BASE + 2, 1e-9);
	m.sentiment = -1;
	ck_assert_double_eq_tol(pick_score(&m, &bot, NOW, 0), BASE + 2, 1e-9);
	cold.empathy = 0.7; /* "> 0.7" */
	ck_assert_double_eq_tol(pick_score(&m, &cold, NOW, 0), BASE, 1e-9);
}
END_TEST

START_TEST(score_replies)
{
	struct convo_msg m = msg("merhaba millet");

	ck_assert_double_eq_tol(pick_score(&m, &bot, NOW, 1), BASE, 1e-9);
	ck_assert_double_eq_tol(pick_score(&m, &bot, NOW, 2), BASE + 1.5, 1e-9);
	ck_assert_double_eq_tol(pick_score(&m, &bot, NOW, 5), BASE + 1.5, 1e-9);
}
END_TEST

START_TEST(bot_from_odd_json)
{
	json_t *p = json_pack("{s:i,s:s}", "watchlist", 5, "tone", "x");
	json_t *e = json_pack("{s:s}", "empathy", "high");
	json_t *t = json_pack("[i,n]", 1);
	json_t *w = json_pack("{s:[s,i,s,s]}", "watchlist", "A", 2, "", "B");
	struct pick_bot b;

	ck_assert_int_eq(pick_bot_from_json(NULL, 1, "x", "y", p, e, t), -1);
	ck_assert_int_eq(pick_bot_from_json(&b, 1, NULL, NULL, p, e, t), 0);
	ck_assert_uint_eq(b.nwatch, 0);
	ck_assert_double_eq(b.empathy, 0.5);
	ck_assert_uint_eq(b.ntopics, 4);
	ck_assert_str_eq(b.topics[0], "BIST");
	ck_assert_str_eq(b.topics[3], "Makro");
	ck_assert_int_eq(pick_bot_from_json(&b, 1, NULL, NULL, w, t, NULL), 0);
	ck_assert_uint_eq(b.nwatch, 2);
	ck_assert_str_eq(b.watch[1], "B");
	json_decref(p);
	json_decref(e);
	json_decref(t);
	json_decref(w);
}
END_TEST

START_TEST(target_none)
{
	struct convo_msg own[2] = { msg("a"), msg("b") };
	uint64_t rng = 1;

	ck_assert_int_eq(pick_target(NULL, 0, &bot, NOW, &rng), -1);
	ck_assert_int_eq(pick_target(own, 0, &bot, NOW, &rng), -1);
	own[0].bot_id = own[1].bot_id = BOT_ID;
	ck_assert_int_eq(pick_target(own, 2, &bot, NOW, &rng), -1);
}
END_TEST

START_TEST(target_top3_weighted)
{
	/* Scores: [0] 7 (old human), [1] 5.5 (bot), [2] own (would be 30), [3] 15 ('?'),
	 * [4] 11, [5] 5.5 (bot). Top 3: 15, 11, 7. */
	struct convo_msg m[6] = {
		msg("eski mesaj"),     msg("bot mesajı"), msg("@kemal_bot ne diyorsun?"),
		msg("yarın ne olur?"), msg("merhaba"),    msg("bot yine")
	};
	int hits[6] = { 0 };
	uint64_t rng = 2024;
	const int n = 20000;

	m[0].at_ms = NOW - 60 * MIN;
	m[1].bot_id = m[5].bot_id = 3;
	m[2].bot_id = BOT_ID;
	for (int i = 0; i < n; i++) {
		int k = pick_target(m, 6, &bot, NOW, &rng);

		if (k < 0 || k >= 6)
			ck_assert_int_eq(k, 0); /* fails: check only on a miss, not 20,000 times */
		hits[k]++;
	}
	ck_assert_int_eq(hits[1] + hits[2] + hits[5], 0);
	ck_assert_double_eq_tol(hits[3] / (double)n, 15.0 / 33, 0.015);
	ck_assert_double_eq_tol(hits[4] / (double)n, 11.0 / 33, 0.015);
	ck_assert_double_eq_tol(hits[0] / (double)n, 7.0 / 33, 0.015);
}
END_TEST

START_TEST(target_window_and_replies)
{
	struct convo_msg m[40];
	uint64_t rng = 9;

	/* 40 plain human messages; the oldest mentions the bot but lies outside the
	 * last 30. Message 20 has two replies (+1.5) and a question: it wins the top
	 * spot, the rest tie at 11 and the newest of them fill the other two. */
	for (int i = 0; i < 40; i++) {
		m[i] = msg("merhaba");
		m[i].tg_id = 1000 + i;
	}
	m[0].text = "@kemal_bot bak buraya";
	m[20].text = "ne yapalım?";
	m[30].reply_to_tg = m[35].reply_to_tg = 1020;
	for (int i = 0; i < 1000; i++) {
		int k = pick_target(m, 40, &bot, NOW, &rng);

		if (k != 20 && k != 39 && k != 38)
			ck_assert_int_eq(k, 20);
	}
}
END_TEST

START_TEST(mode_frequencies)
{
	struct pick_probs pp = pick_probs_default();
	struct convo_msg human = msg("x"), other_bot = msg("y");
	uint64_t rng = 77;
	int reply_h = 0, reply_b = 0, open_empty = 0;
	const int n = 100000;

	other_bot.bot_id = 3;
	for (int i = 0; i < n; i++) {
		reply_h += pick_mode(&pp, &human, &rng) == PICK_REPLY;
		reply_b += pick_mode(&pp, &other_bot, &rng) == PICK_REPLY;
		open_empty += pick_mode(&pp, NULL, &rng) == PICK_OPEN;
	}
	ck_assert_int_eq(open_empty, n);
	ck_assert_double_eq_tol(reply_h / (double)n, 0.65, 0.01);
	ck_assert_double_eq_tol(reply_b / (double)n, 0.50, 0.01);
	pp.reply = 1;
	ck_assert_int_eq(pick_mode(&pp, &human, &rng), PICK_REPLY);
	pp.reply = 0;
	ck_assert_int_eq(pick_mode(&pp, &human, &rng), PICK_OPEN);
}
END_TEST

START_TEST(reaction_and_mention_frequencies)
{
	uint64_t rng = 5;
	int react = 0, mention = 0;
	const int n = 100000;

	for (int i = 0; i < n; i++) {
		react += pick_short_reaction(NULL, &rng);
		mention += pick_mention(NULL, &rng);
	}
	ck_assert_double_eq_tol(react / (double)n, 0.12, 0.01);
	ck_assert_double_eq_tol(mention / (double)n, 0.35, 0.01);
}
END_TEST

static int in_set(const char *e, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(e, *set) == 0)
			return 1;
	return 0;
}

START_TEST(reaction_emoji_by_sentiment)
{
	static const char *const up[] = { "📈", "🚀", "💪", "🔥", "👏", NULL };
	static const char *const down[] = { "📉", "😬", "😕", "😟", "🤕", NULL };
	static const char *const talk[] = { "💬", "🤔", "👀", "🧐", NULL };
	uint64_t rng = 3;
	int seen_rocket = 0;

	for (int i = 0; i < 500; i++) {
		const char *e = pick_reaction_emoji(1, &rng);

		ck_assert(in_set(e, up));
		seen_rocket |= strcmp(e, "🚀") == 0;
		ck_assert(in_set(pick_reaction_emoji(-1, &rng), down));
		ck_assert(in_set(pick_reaction_emoji(0, &rng), talk));
	}
	ck_assert(seen_rocket);
}
END_TEST

START_TEST(length_frequencies)
{
	struct pick_probs pp = pick_probs_default();
	json_t *longp = json_pack("{s:{s:s}}", "style", "length", "long");
	json_t *odd = json_pack("{s:s}", "style", "long");
	int c[3] = { 0 }, d[3] = { 0 };
	uint64_t rng = 11;
	const int n = 100000;

	for (int i = 0; i < n; i++)
		c[pick_length(&pp, &rng)]++;
	ck_assert_double_eq_tol(c[PICK_SHORT] / (double)n, 0.55, 0.01);
	ck_assert_double_eq_tol(c[PICK_MEDIUM] / (double)n, 0.35, 0.01);
	ck_assert_double_eq_tol(c[PICK_LONG] / (double)n, 0.10, 0.01);

	pick_probs_bias_length(&pp, odd); /* not a valid style: unchanged */
	ck_assert_double_eq(pp.len_long, 0.10);
	pick_probs_bias_length(&pp, longp);
	for (int i = 0; i < n; i++)
		d[pick_length(&pp, &rng)]++;
	ck_assert_double_eq_tol(d[PICK_LONG] / (double)n, 0.20 / 1.10, 0.01);
	ck_assert_double_eq_tol(d[PICK_SHORT] / (double)n, 0.55 / 1.10, 0.01);

	pp.len_short = pp.len_medium = pp.len_long = 0; /* all zero: the defaults */
	memset(c, 0, sizeof c);
	for (int i = 0; i < 10000; i++)
		c[pick_length(&pp, &rng)]++;
	ck_assert_double_eq_tol(c[PICK_SHORT] / 10000.0, 0.55, 0.03);
	json_decref(longp);
	json_decref(odd);
}
END_TEST

/* Five messages about BIST, one about FX. */
static struct convo_msg transcript[6];

static void fill_transcript(void)
{
	static const char *const texts[] = { "borsa bugün sert", "THYAO yine uçtu",
					     "endeks rekor",     "hisselerde satış var",
					     "bist 100 nereye",  "dolar da sakin" };

	for (int i = 0; i < 6; i++)
		transcript[i] = msg(texts[i]);
}

static const char *topic_with(const char *cooldown, uint64_t *rng)
{
	json_t *st = json_pack("[{s:s,s:s,s:s}]", "topic", "BIST", "stance_text", "x",
			       "cooldown_until", cooldown);
	const char *t = pick_topic(NULL, st, transcript, 6, NOW, rng);

	json_decref(st);
	return t;
}

START_TEST(topic_most_mentioned_unless_cooling)
{
	uint64_t rng = 1;

	fill_transcript();
	ck_assert_str_eq(pick_topic(NULL, NULL, transcript, 6, NOW, &rng), "BIST");
	/* 11:00Z, one hour ago: over. */
	ck_assert_str_eq(topic_with("2025-03-01T14:00:00+03:00", &rng), "BIST");
	/* 13:00Z: still cooling down, FX is next. */
	ck_assert_str_eq(topic_with("2025-03-01T16:00:00+03:00", &rng), "FX");
	ck_assert_str_eq(topic_with("2025-03-01 12:30:00.123456+00", &rng), "FX");
	ck_assert_str_eq(topic_with("2025-03-01T12:00:01Z", &rng), "FX");
	ck_assert_str_eq(topic_with("2025-03-01T12:00:00Z", &rng), "BIST");
	ck_assert_str_eq(topic_with("2025-03-02", &rng), "FX");
	ck_assert_str_eq(topic_with("yarın akşam", &rng), "BIST"); /* unparsable: no cooldown */
	ck_assert_str_eq(topic_with("2025-03-01T16:00:00+03:00 junk", &rng), "BIST");
}
END_TEST

START_TEST(topic_all_cooling)
{
	json_t *st = json_pack("[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]", "topic", "bist",
			       "cooldown_until", "2025-03-01T15:00:00Z", "topic", "FX",
			       "cooldown_until", "2025-03-01T13:00:00Z", "topic", "Kripto",
			       "cooldown_until", "2025-03-01T14:00:00Z", "topic", "Makro",
			       "cooldown_until", "2025-03-01T18:00:00Z");
	uint64_t rng = 4;

	fill_transcript();
	ck_assert_str_eq(pick_topic(NULL, st, transcript, 6, NOW, &rng), "FX");
	json_decref(st);
}
END_TEST

START_TEST(topic_ties_and_empty_transcript)
{
	json_t *chat = json_pack("[s,s,s]", "Kripto", "BIST", "Altın");
	struct convo_msg two[2] = { msg("bitcoin sakin"), msg("borsa sakin") };
	int seen[3] = { 0 }, tie[2] = { 0 };
	uint64_t rng = 8;

	for (int i = 0; i < 3000; i++) {
		const char *t = pick_topic(chat, NULL, NULL, 0, NOW, &rng);

		seen[strcmp(t, "Kripto") == 0 ? 0 : strcmp(t, "BIST") == 0 ? 1 : 2]++;
		t = pick_topic(chat, json_null(), two, 2, NOW, &rng);
		ck_assert(strcmp(t, "Altın") != 0);
		tie[strcmp(t, "BIST") == 0]++;
	}
	for (int i = 0; i < 3; i++)
		ck_assert_int_gt(seen[i], 800);
	ck_assert_int_gt(tie[0], 1300);
	ck_assert_int_gt(tie[1], 1300);
	/* A custom topic is found by its own name, with Turkish letters folded. */
	two[0].text = "ALTIN yine rekor";
	two[1].text = "altına bakıyorum";
	ck_assert_str_eq(pick_topic(chat, NULL, two, 2, NOW, &rng), "Altın");
	json_decref(chat);
}
END_TEST

/* Issue 16, item 4: the demo cast's four watchlists talk in one chat for 400
 * messages, 65% of them replies leaning to the newest message's topic. With a
 * fixed seed: no topic over half of the messages, and each persona mostly on
 * the topics its watchlist names. The strict rule (pick_topic) on the same run
 * lets one topic take the chat over, as the demo showed. */
#define RUN 400

static void wander(int weighed, int *per_topic, int own[4], int mine[4])
{
	static const char *const names[] = { "BIST", "FX", "Kripto", "Makro" };
	/* Kripto Kerem, Nevzat Bey, Borsacı Selin, Dr. Aylin (config/demo-cast.json) */
	json_t *watch[4] = {
		json_pack("[s,s,s,s]", "BTC", "ETH", "SOL", "AVAX"),
		json_pack("[s,s,s,s]", "GARAN", "AKBNK", "TUPRS", "ALTIN"),
		json_pack("[s,s,s,s,s]", "THYAO", "ASELS", "SASA", "KCHOL", "XU100"),
		json_pack("[s,s,s,s,s]", "USDTRY", "EURTRY", "TCMB", "TÜFE", "XAUUSD"),
	};
	/* the topics each watchlist names */
	static const char *const home[4][2] = {
		{ "Kripto", NULL }, { "BIST", "FX" }, { "BIST", NULL }, { "FX", "Makro" }
	};
	static struct convo_msg tr[RUN];
	uint64_t rng = 42;

	for (int i = 0; i < RUN; i++) {
		int b = (int)(backoff_uniform(&rng) * 4) % 4;
		const char *lean = i && backoff_uniform(&rng) < 0.65 ? tr[i - 1].topic : NULL;
		const char *t =
			weighed ? pick_topic_weighed(NULL, NULL, watch[b], lean, tr, i, NOW, &rng)
				: pick_topic(NULL, NULL, tr, i, NOW, &rng);

		tr[i] = (struct convo_msg){ .id = i + 1,
					    .tg_id = i + 1,
					    .bot_id = b + 1,
					    .speaker = "bot",
					    .text = "bugün hareketli",
					    .at_ms = NOW,
					    .topic = t };
		for (int j = 0; j < 4; j++)
			per_topic[j] += strcmp(t, names[j]) == 0;
		mine[b]++;
		own[b] += strcmp(t, home[b][0]) == 0 || (home[b][1] && strcmp(t, home[b][1]) == 0);
	}
	for (int j = 0; j < 4; j++)
		json_decref(watch[j]);
}

START_TEST(topic_wanders_by_persona)
{
	int per_topic[4] = { 0 }, own[4] = { 0 }, mine[4] = { 0 };
	int strict[4] = { 0 }, sown[4] = { 0 }, smine[4] = { 0 }, top = 0;

	wander(1, per_topic, own, mine);
	for (int j = 0; j < 4; j++) {
		ck_assert_msg(per_topic[j] * 2 <= RUN, "topic %d has %d of %d", j, per_topic[j], RUN);
		ck_assert_msg(per_topic[j] * 10 >= RUN, "topic %d has only %d of %d", j,
			      per_topic[j], RUN);
		ck_assert_msg(own[j] * 2 > mine[j], "persona %d: %d of %d on its own topics", j,
			      own[j], mine[j]);
	}
	wander(0, strict, sown, smine);
	for (int j = 0; j < 4; j++)
		top = strict[j] > top ? strict[j] : top;
	ck_assert_msg(top * 2 > RUN, "the strict rule had no runaway topic (%d)", top);
}
END_TEST

START_TEST(topic_weights)
{
	const char *names[PICK_MAX_TOPICS];
	double w[PICK_MAX_TOPICS];
	json_t *kripto = json_pack("[s,s]", "BTC", "SOL");
	json_t *st = json_pack("[{s:s,s:s,s:s}]", "topic", "FX", "stance_text", "x",
			       "cooldown_until", "2025-03-01T13:00:00Z");
	size_t n;

	fill_transcript(); /* five of six about BIST */
	/* No watchlist: the topic the transcript is full of weighs least. */
	n = pick_topic_weights(NULL, NULL, NULL, NULL, transcript, 6, NOW, names, w);
	ck_assert_uint_eq(n, 4);
	ck_assert_str_eq(names[0], "BIST");
	for (size_t i = 1; i < n; i++)
		ck_assert(w[0] < w[i]);
	/* The watchlist pulls to its topic, a cooling topic is out, lean triples. */
	n = pick_topic_weights(NULL, st, kripto, "Makro", transcript, 6, NOW, names, w);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(names[1], "Kripto");
	ck_assert_double_eq_tol(w[1], 1.15, 1e-9);
	ck_assert_str_eq(names[2], "Makro");
	ck_assert_double_eq_tol(w[2], 0.45, 1e-9);
	/* Everything cooling: pick_topic's answer, never NULL. */
	json_decref(st);
	st = json_pack("[{s:s,s:s}]", "topic", "BIST", "cooldown_until", "2025-03-01T13:00:00Z");
	{
		json_t *one = json_pack("[s]", "BIST");
		uint64_t rng = 1;

		ck_assert_str_eq(pick_topic_weighed(one, st, kripto, NULL, transcript, 6, NOW, &rng),
				 "BIST");
		json_decref(one);
	}
	json_decref(st);
	json_decref(kripto);
}
END_TEST

START_TEST(focus_on_own_symbols)
{
	json_t *w = json_pack("[s,s,s,s]", "GARAN", "AKBNK", "ALTIN", "USDTRY");
	int garan = 0, akbnk = 0;
	uint64_t rng = 9;

	for (int i = 0; i < 200; i++) {
		const char *f = pick_focus(w, "BIST", &rng);

		ck_assert_ptr_nonnull(f);
		garan += strcmp(f, "GARAN") == 0;
		akbnk += strcmp(f, "AKBNK") == 0;
	}
	ck_assert_int_eq(garan + akbnk, 200); /* ALTIN and USDTRY name no BIST */
	ck_assert(garan > 50 && akbnk > 50);
	for (int i = 0; i < 20; i++) { /* ALTIN is gold: FX as USDTRY */
		const char *f = pick_focus(w, "FX", &rng);

		ck_assert(strcmp(f, "USDTRY") == 0 || strcmp(f, "ALTIN") == 0);
	}
	ck_assert_ptr_null(pick_focus(w, "Kripto", &rng));
	ck_assert_ptr_null(pick_focus(w, NULL, &rng));
	ck_assert_ptr_null(pick_focus(NULL, "BIST", &rng));
	json_decref(w);
}
END_TEST

/* The topics (of BIST, FX, Kripto, Makro, in that order: bit i) the default
 * lists detect in text. */
static unsigned topics_in(const char *text)
{
	struct pick_topics ts;
	struct pick_msg_facts f;
	struct convo_msg m = { .text = text };
	char buf[PICK_TEXT_MAX];

	pick_topics_init(&ts, NULL);
	pick_msg_facts(&f, &m, &ts, buf, sizeof buf);
	return f.topic_bits;
}

/* The demo cast's watchlist symbols that named no topic (issue 16): each names
 * its own now, and "altında" (below) is still no gold. */
START_TEST(demo_symbols_name_topics)
{
	enum { BIST = 1, FX = 2, KRIPTO = 4, MAKRO = 8 };

	ck_assert_uint_eq(topics_in("SOL yine hareketlendi"), KRIPTO);
	ck_assert_uint_eq(topics_in("AVAX'ta hacim var"), KRIPTO);
	ck_assert_uint_eq(topics_in("solana ağı yoğun"), KRIPTO);
	ck_assert_uint_eq(topics_in("SASA'da stop oldum"), BIST);
	ck_assert_uint_eq(topics_in("ALTIN rekor tazeledi"), FX);
	ck_assert_uint_eq(topics_in("gram altına talep arttı"), FX);
	ck_assert_uint_eq(topics_in("XAUUSD 2400 üstünde"), FX);
	ck_assert_uint_eq(topics_in("TÜFE beklentinin altında geldi"), MAKRO);
	ck_assert_uint_eq(topics_in("TÜFE'deki düşüş"), MAKRO);
	ck_assert_uint_eq(topics_in("desteğin altında kapattı"), 0);
	ck_assert_uint_eq(topics_in("altına sarktı"), 0);
	ck_assert_uint_eq(topics_in("solda kaldı"), 0);
}
END_TEST

START_TEST(symbols_for_metadata)
{
	json_t *watch = json_pack("[s,s]", "ASELS", "SOL");
	const char *out[8];
	int n;

	n = pick_symbols("THYAO ve btc'ye bakıyorum, asels de fena değil; şişe kırıldı", watch, out, 8);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(out[0], "ASELS");
	ck_assert_str_eq(out[1], "THYAO");
	ck_assert_str_eq(out[2], "BTC");
	n = pick_symbols("THYAO GARAN AKBNK EREGL KCHOL TUPRS BTC ETH", NULL, out, 8);
	ck_assert_int_eq(n, 5);
	ck_assert_int_eq(pick_symbols("THYAO GARAN", NULL, out, 1), 1);
	ck_assert_int_eq(pick_symbols("sol tarafta", watch, out, 8), 1); /* the watchlist decides */
	json_decref(watch);
	/* Symbols in Turkish letters, in any case; whole words only. */
	watch = json_pack("[s,s]", "ALTIN", "TÜFE");
	ck_assert_int_eq(pick_symbols("gram altın yine rekorda", watch, out, 8), 1);
	ck_assert_str_eq(out[0], "ALTIN");
	ck_assert_int_eq(pick_symbols("tüfe beklentinin altında", watch, out, 8), 1);
	ck_assert_str_eq(out[0], "TÜFE");
	ck_assert_int_eq(pick_symbols("desteğin altında kaldı", watch, out, 8), 0);
	ck_assert_int_eq(pick_symbols(NULL, watch, out, 8), 0);
	ck_assert_int_eq(pick_symbols("merhaba", NULL, out, 8), 0);
	json_decref(watch);
}
END_TEST

START_TEST(sentiment_words)
{
	ck_assert_int_eq(pick_sentiment("BIST yükseldi 🚀"), 1);
	ck_assert_int_eq(pick_sentiment("Dolar çöktü, panik var"), -1);
	ck_assert_int_eq(pick_sentiment("HER ŞEY DÜŞTÜ"), -1);
	ck_assert_int_eq(pick_sentiment("dustu yine"), -1);
	ck_assert_int_eq(pick_sentiment("iyi başladı ama kötü bitti"), 0);
	ck_assert_int_eq(pick_sentiment("merhaba"), 0);
	ck_assert_int_eq(pick_sentiment(NULL), 0);
}
END_TEST

START_TEST(fold_turkish)
{
	char out[64];

	ck_assert(pick_lists_folded());

	ck_assert_uint_eq(pick_fold("İSTANBUL Işık ŞĞÜÖÇ âî", out, sizeof out), strlen(out));
	ck_assert_str_eq(out, "istanbul isik sguoc ai");
	pick_fold("ağaç🚀", out, sizeof out);
	ck_assert_str_eq(out, "agac🚀");
	/* Cut on a character boundary: the emoji does not fit in 6 bytes, nothing half. */
	pick_fold("abc🚀", out, 6);
	ck_assert_str_eq(out, "abc");
	pick_fold("ab\xff\xc3", out, sizeof out); /* malformed bytes pass through, no overread */
	ck_assert_str_eq(out, "ab\xff\xc3");
}
END_TEST

/* Keywords are compared only where a word starts; the edges of that rule. */
START_TEST(matching_edges)
{
	static char big[PICK_TEXT_MAX + 64];
	const char *out[8];

	/* Only the first PICK_TEXT_MAX - 1 bytes are read: "dustu" fits from 4090 on. */
	memset(big, 0, sizeof big);
	for (int i = 0; i < 4090; i += 2)
		strcat(big, "x ");
	strcat(big, "düştü");
	ck_assert_int_eq(pick_sentiment(big), -1);
	big[4090] = '\0';
	strcat(big, " düştü");
	ck_assert_int_eq(pick_sentiment(big), 0);

	ck_assert_int_eq(pick_sentiment("🚀🚀🚀"), 1);         /* emoji match anywhere */
	ck_assert_int_eq(pick_sentiment("düştüdüştü"), -1); /* 4+ letters: a prefix */
	ck_assert_int_eq(pick_mentions_user("selam kemal_bot", "kemal_bot"), 0);
	ck_assert_int_eq(pick_mentions_user("selam @Kemal_Bot!", "kemal_bot"), 1);
	ck_assert_int_eq(pick_mentions_user("@kemal_botlar", "kemal_bot"), 0);
	ck_assert_int_eq(pick_symbols("thyao,GARAN;btc/eth", NULL, out, 8), 4);
	ck_assert_str_eq(out[3], "ETH");
	ck_assert_int_eq(pick_symbols("XTHYAO GARAN_ ASELS2 USDTRY'de", NULL, out, 8), 1);
	ck_assert_str_eq(out[0], "USDTRY");
}
END_TEST

static Suite *pick_suite(void)
{
	Suite *s = suite_create("pick");
	TCase *score = tcase_create("score");
	TCase *choice = tcase_create("choice");

	tcase_add_checked_fixture(score, setup, teardown);
	tcase_add_test(score, score_human_vs_bot);
	tcase_add_test(score, score_age_brackets);
	tcase_add_test(score, score_question_and_curiosity);
	tcase_add_test(score, score_mention);
	tcase_add_test(score, score_mention_turkish_name);
	tcase_add_test(score, score_watchlist_symbols);
	tcase_add_test(score, score_topics);
	tcase_add_test(score, score_empathy_and_negative);
	tcase_add_test(score, score_replies);
	tcase_add_test(score, bot_from_odd_json);
	tcase_add_test(score, fold_turkish);
	suite_add_tcase(s, score);

	tcase_add_checked_fixture(choice, setup, teardown);
	tcase_add_test(choice, target_none);
	tcase_add_test(choice, target_top3_weighted);
	tcase_add_test(choice, target_window_and_replies);
	tcase_add_test(choice, mode_frequencies);
	tcase_add_test(choice, reaction_and_mention_frequencies);
	tcase_add_test(choice, reaction_emoji_by_sentiment);
	tcase_add_test(choice, length_frequencies);
	tcase_add_test(choice, topic_most_mentioned_unless_cooling);
	tcase_add_test(choice, topic_all_cooling);
	tcase_add_test(choice, topic_ties_and_empty_transcript);
	tcase_add_test(choice, topic_weights);
	tcase_add_test(choice, topic_wanders_by_persona);
	tcase_add_test(choice, focus_on_own_symbols);
	tcase_add_test(choice, symbols_for_metadata);
	tcase_add_test(choice, demo_symbols_name_topics);
	tcase_add_test(choice, sentiment_words);
	tcase_add_test(choice, matching_edges);
	suite_add_tcase(s, choice);
	return s;
}

CHECK_MAIN(pick_suite)
