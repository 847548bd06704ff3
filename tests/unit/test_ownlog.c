/* test_ownlog: histories come back newest first and keep the newest
 * OWNLOG_MAX; a send joins a cached history and the journal; a history expires
 * with its TTL or a wider window; the least recently used bot goes first under
 * the byte budget; a handle outlives appends, replacement, eviction and the
 * cache itself (run under ASan), and a ring that grows while snapshots are
 * held; a load merges the sends it does not show yet.
 * Also dedup_exact_hash, the exact check talk.c runs on the stored hashes. */
#include "tests/check_main.h"
#include "worker/chat/ownlog.h"
#include "worker/chat/text/dedup.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN 60000LL
#define WEEK (7 * 86400000LL)

/* Message i of a bot: "m<i>", sent at i seconds, job "j<i>". */
static struct ownlog_msg msg(int i, char *text, char *job)
{
	struct ownlog_msg m = { 0 };

	sprintf(text, "m%d", i);
	sprintf(job, "j%d", i);
	m.at_ms = (int64_t)i * 1000;
	m.hash = dedup_hash(text);
	m.topic = i % 2 ? "altin" : "dolar";
	m.text = text;
	m.job_id = job;
	return m;
}

/* A load of messages first..last (newest first), put at now. */
static struct ownlog_hist *load(struct ownlog *ol, int64_t bot, int64_t now, int last, int first)
{
	static char texts[OWNLOG_MAX + 50][16], jobs[OWNLOG_MAX + 50][16];
	struct ownlog_msg rows[OWNLOG_MAX + 50];
	size_t n = 0;

	for (int i = last; i >= first; i--, n++)
		rows[n] = msg(i, texts[n], jobs[n]);
	return ownlog_put(ol, bot, now, WEEK, rows, n);
}

static void send(struct ownlog *ol, int64_t bot, int64_t now, int i)
{
	char text[16], job[16];
	struct ownlog_msg m = msg(i, text, job);

	m.at_ms = now;
	ownlog_add(ol, bot, now, &m);
}

static void ck_text(const struct ownlog_hist *h, size_t i, const char *want)
{
	ck_assert_ptr_nonnull(ownlog_at(h, i));
	ck_assert_str_eq(ownlog_at(h, i)->text, want);
}

START_TEST(put_get_newest_first)
{
	struct ownlog *ol = ownlog_new(0, 0);
	struct ownlog_hist *h, *g;

	ck_assert_ptr_null(ownlog_get(ol, 1, 1000, WEEK));
	h = load(ol, 1, 1000, 3, 1);
	ck_assert_uint_eq(ownlog_len(h), 3);
	ck_text(h, 0, "m3");
	ck_text(h, 2, "m1");
	ck_assert_ptr_null(ownlog_at(h, 3));
	ck_assert_str_eq(ownlog_at(h, 0)->topic, "altin");
	ck_assert(ownlog_at(h, 1)->hash == dedup_hash("M2!"));
	g = ownlog_get(ol, 1, 2000, WEEK);
	ck_assert_ptr_eq(g, h);
	ck_assert_ptr_null(ownlog_get(ol, 2, 2000, WEEK));
	ownlog_unref(g);
	ownlog_unref(h);
	ck_assert_uint_eq(ownlog_count(ol), 1);
	ownlog_free(ol);
}
END_TEST

START_TEST(add_is_newest_and_the_ring_keeps_100)
{
	struct ownlog *ol = ownlog_new(0, 0);
	struct ownlog_hist *h;
	char want[16];

	ownlog_unref(load(ol, 1, 200000, 120, 1)); /* a load past the cap keeps 100 */
	h = ownlog_get(ol, 1, 200000, WEEK);
	ck_assert_uint_eq(ownlog_len(h), OWNLOG_MAX);
	ck_text(h, 0, "m120");
	ck_text(h, OWNLOG_MAX - 1, "m21");
	ownlog_unref(h);
	for (int i = 121; i <= 250; i++)
		send(ol, 1, 200000 + i, i);
	h = ownlog_get(ol, 1, 201000, WEEK);
	ck_assert_uint_eq(ownlog_len(h), OWNLOG_MAX);
	for (size_t i = 0; i < OWNLOG_MAX; i++) {
		sprintf(want, "m%zu", 250 - i);
		ck_text(h, i, want);
	}
	ownlog_unref(h);
	ownlog_free(ol);
}
END_TEST

START_TEST(add_to_an_uncached_bot_is_not_a_history)
{
	struct ownlog *ol = ownlog_new(0, 0);

	send(ol, 5, 1000, 1);
	ck_assert_ptr_null(ownlog_get(ol, 5, 1000, WEEK));
	ownlog_free(ol);
}
END_TEST

START_TEST(ttl_and_window)
{
	struct ownlog *ol = ownlog_new(0, 10 * MIN);
	struct ownlog_hist *h;

	ownlog_unref(load(ol, 1, 1000, 3, 1));
	ck_assert_ptr_null(ownlog_get(ol, 1, 1000, WEEK + 1)); /* loaded for less */
	h = ownlog_get(ol, 1, 1000 + 10 * MIN - 1, WEEK);
	ck_assert_ptr_nonnull(h);
	ownlog_unref(h);
	ck_assert_ptr_null(ownlog_get(ol, 1, 1000 + 10 * MIN, WEEK));
	ck_assert_ptr_null(ownlog_get(ol, 1, 1000 + 10 * MIN, WEEK)); /* kept, not served */
	ownlog_unref(load(ol, 3, 1000, 3, 1));
	ck_assert_ptr_null(ownlog_get(ol, 3, 999, WEEK)); /* the clock stepped back */

	/* A send after the TTL does not revive the old history. */
	ownlog_unref(load(ol, 2, 1000, 3, 1));
	send(ol, 2, 1000 + 11 * MIN, 4);
	ck_assert_ptr_null(ownlog_get(ol, 2, 1000 + 11 * MIN, WEEK));
	ownlog_free(ol);
}
END_TEST

START_TEST(lru_eviction_under_the_budget)
{
	struct ownlog *probe = ownlog_new(0, 0);
	struct ownlog *ol;
	struct ownlog_hist *h;
	size_t one;

	ownlog_unref(load(probe, 1, 1000, 50, 1));
	one = ownlog_bytes(probe);
	ownlog_free(probe);

	ol = ownlog_new(3 * one + one / 2, 0); /* room for three bots */
	for (int b = 1; b <= 3; b++)
		ownlog_unref(load(ol, b, 1000, 50, 1));
	ck_assert_uint_eq(ownlog_count(ol), 3);
	ownlog_unref(ownlog_get(ol, 1, 1000, WEEK)); /* 1 used: 2 is the oldest now */
	ownlog_unref(load(ol, 4, 1000, 50, 1));
	ck_assert_uint_eq(ownlog_count(ol), 3);
	ck_assert_uint_le(ownlog_bytes(ol), 3 * one + one / 2);
	ck_assert_ptr_null(ownlog_get(ol, 2, 1000, WEEK));
	ck_assert_ptr_nonnull(h = ownlog_get(ol, 1, 1000, WEEK));
	ownlog_unref(h);
	ck_assert_ptr_nonnull(h = ownlog_get(ol, 4, 1000, WEEK)); /* 4, 1, 3 */
	ownlog_unref(h);
	/* Appends grow bot 3 to twice its share: the least recently used goes. */
	for (int i = 51; i <= 100; i++)
		send(ol, 3, 2000, i);
	ck_assert_uint_le(ownlog_bytes(ol), 3 * one + one / 2);
	ck_assert_uint_eq(ownlog_count(ol), 2);
	ck_assert_ptr_null(ownlog_get(ol, 1, 2000, WEEK));
	ck_assert_ptr_nonnull(h = ownlog_get(ol, 4, 2000, WEEK));
	ownlog_unref(h);
	ck_assert_ptr_nonnull(h = ownlog_get(ol, 3, 2000, WEEK));
	ck_assert_uint_eq(ownlog_len(h), 100);
	ownlog_unref(h);
	ownlog_free(ol);
}
END_TEST

START_TEST(a_history_over_the_budget_is_returned_not_kept)
{
	struct ownlog *ol = ownlog_new(64, 0);
	struct ownlog_hist *h = load(ol, 1, 1000, 10, 1);

	ck_assert_uint_eq(ownlog_len(h), 10);
	ck_text(h, 9, "m1");
	ck_assert_ptr_null(ownlog_get(ol, 1, 1000, WEEK));
	ck_assert_uint_le(ownlog_bytes(ol), 64);
	ownlog_unref(h);
	ownlog_free(ol);
}
END_TEST

START_TEST(a_handle_outlives_append_replace_evict_free)
{
	struct ownlog *ol = ownlog_new(0, 0);
	struct ownlog_hist *h, *g;

	h = load(ol, 1, 1000, 100, 1);
	send(ol, 1, 2000, 101); /* copy on write: h does not change */
	ck_assert_uint_eq(ownlog_len(h), 100);
	ck_text(h, 0, "m100");
	ck_text(h, 99, "m1");
	g = ownlog_get(ol, 1, 2000, WEEK);
	ck_assert_ptr_ne(g, h);
	ck_text(g, 0, "m101");
	ck_text(g, 99, "m2");

	ownlog_unref(load(ol, 1, 3000, 7, 5)); /* replaced */
	ck_text(h, 50, "m50");
	ck_text(g, 1, "m100");
	ownlog_free(ol); /* everything cached goes */
	ck_text(h, 99, "m1");
	ck_assert_str_eq(ownlog_at(g, 0)->job_id, "j101");
	ownlog_unref(h);
	ownlog_unref(g);

	ol = ownlog_new(1, 0); /* evicted at once */
	h = load(ol, 1, 1000, 3, 1);
	ownlog_unref(load(ol, 2, 1000, 3, 1));
	ck_assert_uint_eq(ownlog_count(ol), 0);
	ck_text(h, 2, "m1");
	ownlog_unref(h);
	ownlog_free(ol);
}
END_TEST

START_TEST(a_load_merges_the_sends_it_does_not_show)
{
	struct ownlog *ol = ownlog_new(0, 0);
	struct ownlog_hist *h;

	/* Sent at 10.5 s (job j11) and 12.5 s (j13); the load shows 1..12 and
	 * only j13 of them: j11 is merged in by time, j13 not twice. */
	send(ol, 1, 10500, 11);
	send(ol, 1, 12500, 13);
	{
		static char texts[20][16], jobs[20][16];
		struct ownlog_msg rows[20];
		size_t n = 0;

		for (int i = 13; i >= 1; i--) {
			if (i == 11)
				continue;
			rows[n] = msg(i, texts[n], jobs[n]);
			n++;
		}
		rows[0].at_ms = 12600; /* its row was marked after the send */
		h = ownlog_put(ol, 1, 13000, WEEK, rows, n);
	}
	ck_assert_uint_eq(ownlog_len(h), 13);
	ck_text(h, 0, "m13");
	ck_text(h, 1, "m12");
	ck_text(h, 2, "m11");
	ck_text(h, 3, "m10");
	ownlog_unref(h);

	/* A minute later the journal is done: a load stands as it is. */
	h = load(ol, 1, 12500 + OWNLOG_JOURNAL_MS, 10, 1);
	ck_assert_uint_eq(ownlog_len(h), 10);
	ck_text(h, 0, "m10");
	ownlog_unref(h);
	ownlog_free(ol);
}
END_TEST

/* Rings start small and double: every snapshot taken on the way keeps its
 * own messages while the cache's copy grows past its capacity and wraps. */
START_TEST(a_ring_grows_while_snapshots_are_held)
{
	struct ownlog *ol = ownlog_new(0, 0);
	struct ownlog_hist *snap[OWNLOG_MAX + 20] = { 0 };
	char want[16];

	ownlog_unref(load(ol, 1, 1000, 1, 1)); /* one message: room for one */
	for (int i = 2; i <= OWNLOG_MAX + 20; i++) {
		snap[i - 1] = ownlog_get(ol, 1, 1000 + i, WEEK);
		ck_assert_ptr_nonnull(snap[i - 1]);
		if (i % 3 == 0)
			ownlog_unref(snap[i - 1]); /* some grow in place, unshared */
		send(ol, 1, 1000 + i, i);
	}
	for (int k = 1; k < OWNLOG_MAX + 20; k++) {
		if ((k + 1) % 3 == 0)
			continue;
		ck_assert_uint_eq(ownlog_len(snap[k]), k < OWNLOG_MAX ? (size_t)k : OWNLOG_MAX);
		sprintf(want, "m%d", k);
		ck_text(snap[k], 0, want);
		sprintf(want, "m%d", k < OWNLOG_MAX ? 1 : k - OWNLOG_MAX + 1);
		ck_text(snap[k], ownlog_len(snap[k]) - 1, want);
	}
	snap[0] = ownlog_get(ol, 1, 5000, WEEK);
	ck_assert_uint_eq(ownlog_len(snap[0]), OWNLOG_MAX);
	for (size_t i = 0; i < OWNLOG_MAX; i++) {
		sprintf(want, "m%zu", OWNLOG_MAX + 20 - i);
		ck_text(snap[0], i, want);
	}
	ownlog_free(ol);
	for (int k = 0; k < OWNLOG_MAX + 20; k++)
		if (k == 0 || (k + 1) % 3 != 0)
			ownlog_unref(snap[k]);
}
END_TEST

/* An empty load is a history of no slots, and the first send makes room. */
START_TEST(an_empty_load_grows_on_send)
{
	struct ownlog *ol = ownlog_new(0, 0);
	struct ownlog_hist *h = ownlog_put(ol, 1, 1000, WEEK, NULL, 0), *g;

	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(ownlog_len(h), 0);
	ck_assert_ptr_null(ownlog_at(h, 0));
	send(ol, 1, 2000, 1);
	send(ol, 1, 3000, 2);
	send(ol, 1, 4000, 3);
	ck_assert_uint_eq(ownlog_len(h), 0);
	g = ownlog_get(ol, 1, 4000, WEEK);
	ck_assert_uint_eq(ownlog_len(g), 3);
	ck_text(g, 0, "m3");
	ck_text(g, 2, "m1");
	ownlog_unref(g);
	ownlog_unref(h);
	ownlog_free(ol);
}
END_TEST

/* A bot that sent once costs about its message, not a full ring and journal. */
START_TEST(a_small_history_is_small)
{
	struct ownlog *ol = ownlog_new(0, 0);

	ownlog_unref(load(ol, 1, 1000, 1, 1));
	send(ol, 1, 2000, 2);
	ck_assert_uint_lt(ownlog_bytes(ol), 320);
	ownlog_free(ol);
}
END_TEST

/* The journal keeps the newest OWNLOG_JOURNAL_MAX sends of the minute, grown
 * as they come, and lets them go after it. */
START_TEST(the_journal_grows_to_its_cap_and_empties)
{
	struct ownlog *ol = ownlog_new(0, 0);
	struct ownlog_hist *h;
	size_t bytes;

	for (int i = 1; i <= OWNLOG_JOURNAL_MAX + 8; i++)
		send(ol, 1, 1000 + i, i);
	h = ownlog_put(ol, 1, 2000, WEEK, NULL, 0);
	ck_assert_uint_eq(ownlog_len(h), OWNLOG_JOURNAL_MAX);
	ck_text(h, 0, "m40");
	ck_text(h, OWNLOG_JOURNAL_MAX - 1, "m9");
	ownlog_unref(h);
	bytes = ownlog_bytes(ol);
	h = ownlog_put(ol, 1, 2000 + OWNLOG_JOURNAL_MS, WEEK, NULL, 0);
	ck_assert_uint_eq(ownlog_len(h), 0);
	ck_assert_uint_lt(ownlog_bytes(ol), bytes / 8);
	ownlog_unref(h);
	ownlog_free(ol);
}
END_TEST

/* A send brings its vector; a reload of the same messages (the database keeps
 * no vectors) keeps it for the message of the same job and text, not for
 * another job's or a changed text; the bytes count it. */
START_TEST(a_reload_keeps_the_vectors)
{
	struct ownlog *ol = ownlog_new(0, MIN);
	struct ownlog_hist *h;
	char text[16], job[16];
	int8_t v[64];
	struct ownlog_msg m;
	size_t before;

	for (int i = 0; i < 64; i++)
		v[i] = (int8_t)(i - 32);
	ownlog_unref(load(ol, 1, 1000, 5, 1));
	before = ownlog_bytes(ol);
	m = msg(6, text, job);
	m.vec = v;
	m.dim = 64;
	ownlog_add(ol, 1, 6000, &m);
	ck_assert_uint_ge(ownlog_bytes(ol), before + 64 + 3 * sizeof(void *));
	h = ownlog_get(ol, 1, 6000, WEEK);
	ck_assert_uint_eq(ownlog_at(h, 0)->dim, 64);
	ck_assert_int_eq(memcmp(ownlog_at(h, 0)->vec, v, 64), 0);
	ck_assert_ptr_null(ownlog_at(h, 1)->vec);
	ownlog_unref(h);

	/* Past the journal and the TTL: the get misses, as talk.c's does before it
	 * reloads, and the reload's rows find the vector by job and text. */
	ck_assert_ptr_null(ownlog_get(ol, 1, 6000 + 2 * MIN, WEEK));
	h = load(ol, 1, 6000 + 2 * MIN, 6, 1);
	ck_text(h, 0, "m6");
	ck_assert_uint_eq(ownlog_at(h, 0)->dim, 64);
	ck_assert_int_eq(memcmp(ownlog_at(h, 0)->vec, v, 64), 0);
	ck_assert_ptr_null(ownlog_at(h, 1)->vec);
	ck_assert_uint_eq(ownlog_at(h, 1)->dim, 0);
	ownlog_unref(h);

	/* The same job with another text (an edit) is another message. */
	{
		char texts[2][16], jobs[2][16];
		struct ownlog_msg rows[2] = { msg(6, texts[0], jobs[0]), msg(5, texts[1], jobs[1]) };
		strcpy(texts[0], "m6 edited");
		rows[0].hash = dedup_hash(texts[0]);
		h = ownlog_put(ol, 1, 6000 + 3 * MIN, WEEK, rows, 2);
		ck_assert_ptr_null(ownlog_at(h, 0)->vec);
		ownlog_unref(h);
	}
	ownlog_free(ol);
}
END_TEST

/* A smaller budget (a reload of own_cache_mb) evicts the least recently used
 * at once; a larger one keeps what is there. */
START_TEST(a_new_budget_applies_at_once)
{
	struct ownlog *ol = ownlog_new(0, MIN);
	size_t one;

	ownlog_unref(load(ol, 1, 1000, 50, 1));
	one = ownlog_bytes(ol);
	ownlog_unref(load(ol, 2, 1000, 50, 1));
	ownlog_unref(load(ol, 3, 1000, 50, 1));
	ck_assert_uint_eq(ownlog_count(ol), 3);
	ownlog_set_max_bytes(ol, one * 2 + one / 2);
	ck_assert_uint_eq(ownlog_count(ol), 2);
	ck_assert_ptr_null(ownlog_get(ol, 1, 1000, WEEK)); /* the oldest went */
	ownlog_set_max_bytes(ol, 0);
	ck_assert_uint_eq(ownlog_count(ol), 2);
	ownlog_free(ol);
}
END_TEST

START_TEST(exact_hash_agrees_with_exact)
{
	const char *recent[] = { "Dolar 34,50'yi GEÇTİ!!! 🚀", "altın yükseliyor", "👍🚀" };
	uint64_t hashes[3];
	const char *drafts[] = {
		"dolar 34 50 yi geçti", "ALTIN yükseliyor.", "altın düşüyor", "🚀", "", NULL
	};

	for (int i = 0; i < 3; i++)
		hashes[i] = dedup_hash(recent[i]);
	for (size_t i = 0; i < sizeof drafts / sizeof drafts[0]; i++)
		ck_assert_int_eq(dedup_exact_hash(drafts[i], hashes, 3),
				 dedup_exact(drafts[i], recent, 3));
	ck_assert_int_eq(dedup_exact_hash("altın yükseliyor", hashes, 3), 1);
	ck_assert_int_eq(dedup_exact_hash("🚀", hashes, 3), 0); /* emoji repeat by design */
	ck_assert_int_eq(dedup_exact_hash("altın yükseliyor", NULL, 3), 0);
}
END_TEST

static Suite *ownlog_suite(void)
{
	Suite *s = suite_create("ownlog");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, put_get_newest_first);
	tcase_add_test(tc, add_is_newest_and_the_ring_keeps_100);
	tcase_add_test(tc, add_to_an_uncached_bot_is_not_a_history);
	tcase_add_test(tc, ttl_and_window);
	tcase_add_test(tc, lru_eviction_under_the_budget);
	tcase_add_test(tc, a_history_over_the_budget_is_returned_not_kept);
	tcase_add_test(tc, a_handle_outlives_append_replace_evict_free);
	tcase_add_test(tc, a_load_merges_the_sends_it_does_not_show);
	tcase_add_test(tc, a_ring_grows_while_snapshots_are_held);
	tcase_add_test(tc, an_empty_load_grows_on_send);
	tcase_add_test(tc, a_small_history_is_small);
	tcase_add_test(tc, the_journal_grows_to_its_cap_and_empties);
	tcase_add_test(tc, a_reload_keeps_the_vectors);
	tcase_add_test(tc, a_new_budget_applies_at_once);
	tcase_add_test(tc, exact_hash_agrees_with_exact);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ownlog_suite)
