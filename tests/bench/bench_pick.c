/* bench_pick: CPU per decide step (worker/chat/talk.c's decide(): pick_mode, the
 * open-target scan, pick_target, pick_topic) for 50 bots over one 40-message chat
 * context of the fake LLM's texts and human questions and mentions; run by
 * scripts/bench-pick, which documents the output.
 *
 *   bench_pick [N]     N decides per mode (default 100000)
 *
 * NOFACTS=1 measures pick working a message's facts out per call; MODE0=1 makes
 * the first mode all replies. Built by make against this tree; scripts/bench-pick
 * also compiles it with -DBENCH_PICK_OLD against an older pick.c (PICK_OLD_REV),
 * before pick_msg_facts existed, so the #ifndef BENCH_PICK_OLD parts are what
 * that revision lacks. */
#include "tests/fakeapi/fa_text.h"
#include "worker/chat/pick.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NMSG 40
#define NBOTS 50
#define NOW 1740830400000LL

static uint64_t g = 12345;
static uint64_t rnd(void)
{
	g ^= g << 13;
	g ^= g >> 7;
	g ^= g << 17;
	return g;
}
static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

struct ctx {
	json_t *topics;
	struct convo_msg msgs[NMSG];
	size_t n;
	char *texts[NMSG];
#ifndef BENCH_PICK_OLD
	struct pick_topics set;
	struct pick_msg_facts facts[NMSG];
	char *buf;
#endif
};

struct bot {
	int64_t id;
	char name[32], user[40];
	json_t *persona, *emotion, *stances;
};

static const char *const humans[] = {
	"@%s sence THYAO 300'ü görür mü?",
	"Dolar nereye gidiyor arkadaşlar, ne dersiniz?",
	"bugün borsa çok kötü, panik var",
	"BTC'ye girdim, yorumunuz?",
	"faiz kararı ne olur sizce",
	"selam millet",
	"@%s haklısın ama enflasyon verisi kötü geldi",
	"altın mı alsak acaba",
};
static const char *const names[] = { "Kemal",  "Ayşe", "Çağrı", "Deniz", "Mehmet",
				     "Zeynep", "Emre", "Elif",  "Burak", "Selin" };
static const char *const syms[] = { "THYAO",  "GARAN", "BTC",  "ETH",   "ASELS",
				    "USDTRY", "XU100", "SISE", "AKBNK", "SOL" };
static const char *const tps[] = { "BIST", "FX", "Kripto", "Makro" };

static void make_ctx(struct ctx *c, struct bot *bots)
{
	c->topics = json_pack("[s,s,s,s]", "BIST", "FX", "Kripto", "Makro");
	c->n = NMSG;
	for (size_t i = 0; i < NMSG; i++) {
		struct convo_msg *m = &c->msgs[i];
		int human = rnd() % 10 < 3;

		memset(m, 0, sizeof *m);
		if (human) {
			char b[512];
			snprintf(b, sizeof b, humans[rnd() % 8], bots[rnd() % NBOTS].user);
			c->texts[i] = strdup(b);
		} else {
			struct fa_text_req req = { 0 };
			snprintf(req.topic, sizeof req.topic, "%s", tps[rnd() % 4]);
			req.reply = rnd() % 2;
			c->texts[i] = fa_text_completion(i * 7 + 3, rnd(), &req);
			m->topic = tps[rnd() % 4];
			m->bot_id = bots[rnd() % NBOTS].id;
		}
		m->id = (int64_t)i + 1;
		m->tg_id = 5000 + (int64_t)i;
		m->speaker = "x";
		m->text = c->texts[i];
		m->at_ms = NOW - (int64_t)(NMSG - i) * 45000;
		m->reply_to_tg = i > 2 && rnd() % 3 == 0 ? 5000 + (int64_t)(rnd() % i) : 0;
		m->sentiment = (int)(rnd() % 3) - 1;
	}
}

#ifndef BENCH_PICK_OLD
static void keep_facts(struct ctx *c)
{
	size_t bytes = 0, off = 0;

	if (getenv("NOFACTS")) { /* measure pick working the facts out per call */
		c->buf = NULL;
		return;
	}
	pick_topics_init(&c->set, c->topics);
	for (size_t i = 0; i < c->n; i++)
		bytes += pick_facts_size(c->msgs[i].text);
	c->buf = malloc(bytes);
	for (size_t i = 0; i < c->n; i++) {
		c->msgs[i].facts = NULL;
		off += pick_msg_facts(&c->facts[i], &c->msgs[i], &c->set, c->buf + off,
				      pick_facts_size(c->msgs[i].text));
		c->msgs[i].facts = &c->facts[i];
	}
}
#define MENTIONS(m, u) pick_mentions(m, u)
#else
#define MENTIONS(m, u) pick_mentions_user((m)->text, u)
#endif

/* worker/chat/talk.c's */
static int answers_bot(const struct ctx *c, const struct convo_msg *m, int64_t b)
{
	if (!m->reply_to_tg)
		return 0;
	for (size_t i = 0; i < c->n; i++)
		if (c->msgs[i].tg_id == m->reply_to_tg)
			return c->msgs[i].bot_id == b;
	return 0;
}

#ifndef BENCH_PICK_OLD /* worker/chat/talk.c's open-target scan */
static int open_target(const struct ctx *c, const struct bot *bt, const struct pick_bot *pb,
		       uint64_t *rng)
{
	size_t cap = c->n ? c->n : 1;
	struct convo_msg *cand = malloc(cap * (sizeof *cand + sizeof(int64_t)));
	int64_t *answered = (int64_t *)(cand + cap);
	int64_t self = bt->id;
	size_t n = 0, na = 0;
	int i, r = -1;

	for (size_t j = 0; j < c->n; j++)
		if (c->msgs[j].bot_id == self && c->msgs[j].reply_to_tg)
			answered[na++] = c->msgs[j].reply_to_tg;
	for (size_t j = 0; j < c->n; j++) {
		const struct convo_msg *m = &c->msgs[j];
		int done = 0;

		if (m->bot_id == 0 && ((*bt->user && MENTIONS(m, bt->user)) || answers_bot(c, m, self)))
			continue;
		for (size_t q = 0; q < na && m->tg_id && !done; q++)
			done = answered[q] == m->tg_id;
		if (!done)
			cand[n++] = *m;
	}
	i = pick_target(cand, n, pb, NOW, rng);
	if (i >= 0)
		for (size_t j = 0; j < c->n && r < 0; j++)
			if (c->msgs[j].id == cand[i].id)
				r = (int)j;
	free(cand);
	return r;
}
#else
static int open_target(const struct ctx *c, const struct bot *bt, const struct pick_bot *pb,
		       uint64_t *rng)
{
	struct convo_msg *cand = malloc(c->n * sizeof *cand);
	size_t n = 0;
	int i, r = -1;

	for (size_t j = 0; j < c->n; j++) {
		const struct convo_msg *m = &c->msgs[j];
		int done = 0;

		if (m->bot_id == 0 &&
		    ((*bt->user && MENTIONS(m, bt->user)) || answers_bot(c, m, bt->id)))
			continue;
		for (size_t q = 0; q < c->n && m->tg_id && !done; q++)
			done = c->msgs[q].bot_id == bt->id && c->msgs[q].reply_to_tg == m->tg_id;
		if (!done)
			cand[n++] = *m;
	}
	i = pick_target(cand, n, pb, NOW, rng);
	if (i >= 0)
		for (size_t j = 0; j < c->n && r < 0; j++)
			if (c->msgs[j].id == cand[i].id)
				r = (int)j;
	free(cand);
	return r;
}
#endif

static unsigned long sink;

static void decide(const struct ctx *c, const struct bot *bt, double reply, uint64_t *rng)
{
	struct pick_probs pp = pick_probs_default();
	const struct convo_msg *newest = &c->msgs[c->n - 1];
	struct pick_bot pb;
	int target = -1;
	const char *topic;

	pp.reply = pp.reply_to_bots = reply;
	pick_probs_bias_length(&pp, bt->persona);
	pick_bot_from_json(&pb, bt->id, bt->name, bt->user, bt->persona, bt->emotion, c->topics);
	if (pick_mode(&pp, newest, rng) == PICK_REPLY)
		target = open_target(c, bt, &pb, rng);
	if (target >= 0)
		sink += pick_mention(&pp, rng);
	if (target >= 0 && c->msgs[target].topic)
		topic = c->msgs[target].topic;
	else
		topic = pick_topic(c->topics, bt->stances, c->msgs, c->n, NOW, rng);
	sink += (unsigned long)target + topic[0] + pick_length(&pp, rng);
}

int main(int argc, char **argv)
{
	int iters = argc > 1 ? atoi(argv[1]) : 100000;
	static struct bot bots[NBOTS];
	struct ctx c;
	const double modes[3] = { getenv("MODE0") ? 1.0 : 0.65, 1.0, 0.0 };
	const char *label[3] = { "mix (reply 0.65)", "reply (open target)", "open (pick_topic)" };

	for (int i = 0; i < NBOTS; i++) {
		struct bot *b = &bots[i];
		json_t *w = json_array();
		int nw = 1 + (int)(rnd() % 4);

		b->id = 100 + i;
		snprintf(b->name, sizeof b->name, "%s", names[i % 10]);
		/* Every handle is x_<i>_bot: the script's old test for "Çağrı" (a char
		 * == 0xC3) never held, and the measured numbers were taken so. */
		snprintf(b->user, sizeof b->user, "x_%d_bot", i);
		for (int k = 0; k < nw; k++)
			json_array_append_new(w, json_string(syms[rnd() % 10]));
		b->persona = json_pack("{s:o,s:{s:s}}", "watchlist", w, "style", "length", "short");
		b->emotion = json_pack("{s:f}", "empathy", (double)(rnd() % 100) / 100);
		b->stances = json_pack("[{s:s,s:s},{s:s,s:s}]", "topic", tps[rnd() % 4],
				       "cooldown_until", "2025-03-01T13:00:00Z", "topic",
				       tps[rnd() % 4], "cooldown_until", "2025-03-01T11:00:00Z");
	}
	make_ctx(&c, bots);
#ifndef BENCH_PICK_OLD
	if (!getenv("NOFACTS")) {
		double t0 = now_s();
		for (int i = 0; i < 2000; i++) {
			free(c.buf);
			keep_facts(&c);
		}
		printf("facts for the %d-message context: %.2f us (once per load)\n", NMSG,
		       (now_s() - t0) / 2000 * 1e6);
		{ /* a send's rebuild: every message's facts copied but the newest's */
			struct convo_msg cp[NMSG];
			struct pick_msg_facts f2[NMSG];
			char *b2 = malloc(NMSG * PICK_TEXT_MAX);
			memcpy(cp, c.msgs, sizeof cp);
			cp[NMSG - 1].facts = NULL;
			t0 = now_s();
			for (int k = 0; k < 20000; k++) {
				size_t off = 0;
				for (size_t i = 0; i < NMSG; i++)
					off += pick_msg_facts(&f2[i], &cp[i], &c.set, b2 + off,
							      pick_facts_size(cp[i].text));
			}
			printf("facts on a send's rebuild (39 copied, 1 new): %.2f us\n",
			       (now_s() - t0) / 20000 * 1e6);
			free(b2);
		}
	}
#endif
	for (int m = 0; m < 3; m++) {
		uint64_t rng = 42;
		double t0;

		for (int i = 0; i < iters / 10; i++) /* warm up */
			decide(&c, &bots[i % NBOTS], modes[m], &rng);
		t0 = now_s();
		for (int i = 0; i < iters; i++)
			decide(&c, &bots[i % NBOTS], modes[m], &rng);
		printf("%-22s %7.2f us/decide\n", label[m], (now_s() - t0) / iters * 1e6);
	}
	return (int)(sink & 0);
}
