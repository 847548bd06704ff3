/* fuzz_compose: the prompt builder (worker/chat/compose.c) on arbitrary strings,
 * as humans, feeds, the operator and the model's past output write them. The
 * first 4 bytes choose the switches (length, time, mention, target, emojis), the
 * rest is cut at NUL bytes into fields that fill every string compose renders:
 * the bot's name, topic, news, language, the transcript and the target (speakers
 * and texts), own past messages, and the persona, emotion, stances, holdings and
 * memories objects (strings taken as bytes, valid UTF-8 or not).
 *
 * Asserted, as compose.h promises: both prompts are valid UTF-8 with no
 * character that may end a line but the template's own "\n" (no other ASCII or
 * C1 control, no U+2028, U+2029), so data cannot forge a line: "Konu: " starts
 * one line at most, "Şu mesaja cevap ver: " one line when there is a target and
 * none otherwise, "» " (the target marked in the transcript) one line at most
 * and only with a target, the line "Emoji kullanma." is in the system prompt exactly when
 * style.emojis is false, and the system prompt never starts with the guard's or
 * memorize's markers. The sampling stays in its documented ranges. */
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"
#include "worker/chat/compose.h"

#define NF 24

struct fields {
	const char *f[NF];
	size_t n;
};

static const char *F(const struct fields *fs, size_t i)
{
	return fs->n ? fs->f[i % fs->n] : "";
}

static json_t *str(const struct fields *fs, size_t i)
{
	const char *s = F(fs, i);

	return json_stringn_nocheck(s, strlen(s));
}

static void check_chars(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);

	FUZZ_ASSERT(utf8_valid(s, n));
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(p[i] == '\n' || (p[i] >= 0x20 && p[i] != 0x7F));
		if (p[i] == 0xC2 && i + 1 < n)
			FUZZ_ASSERT(p[i + 1] >= 0xA0);
		if (p[i] == 0xE2 && i + 2 < n && p[i + 1] == 0x80)
			FUZZ_ASSERT(p[i + 2] != 0xA8 && p[i + 2] != 0xA9);
	}
}

/* Lines of s that start with prefix (whole: exact, a line equal to it). */
static int lines(const char *s, const char *prefix, int whole)
{
	size_t pl = strlen(prefix);
	int count = 0;

	for (const char *l = s; l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
		size_t len = strcspn(l, "\n");

		if (whole ? len == pl && strncmp(l, prefix, pl) == 0 : strncmp(l, prefix, pl) == 0)
			count++;
	}
	return count;
}

static void check(const struct compose_in *in, int emojis)
{
	char *sys = compose_system(in);
	char *user = compose_user(in);
	struct compose_params p;
	uint64_t rng = 7;

	FUZZ_ASSERT(sys && user);
	check_chars(sys);
	check_chars(user);
	FUZZ_ASSERT(lines(user, "Konu: ", 0) <= 1);
	FUZZ_ASSERT(lines(user, "Şu mesaja cevap ver: ", 0) == (in->target ? 1 : 0));
	/* The mark of the reply target in the transcript: data cannot forge it. */
	FUZZ_ASSERT(lines(user, "» ", 0) <= (in->target ? 1 : 0));
	FUZZ_ASSERT(lines(sys, "Emoji kullanma.", 1) == (emojis == 0 ? 1 : 0));
	FUZZ_ASSERT(strncmp(sys, "TUTARLILIK DENETİMİ", strlen("TUTARLILIK DENETİMİ")) != 0);
	FUZZ_ASSERT(strncmp(sys, "HAFIZA ÖZETİ", strlen("HAFIZA ÖZETİ")) != 0);
	compose_sampling(in, &rng, &p);
	FUZZ_ASSERT(p.temperature >= 1.2 && p.temperature <= 1.5);
	FUZZ_ASSERT(p.max_tokens >= 64 && p.max_tokens <= 400);
	free(sys);
	free(user);
}

static json_t *persona(const struct fields *fs, int emojis)
{
	json_t *style = json_pack("{s:o, s:o}", "length", str(fs, 6), "disclaimer", str(fs, 7));

	if (emojis >= 0)
		json_object_set_new(style, "emojis", json_boolean(emojis));
	return json_pack("{s:o, s:o, s:[o,o], s:[o,o], s:o}", "tone", str(fs, 1), "risk_profile",
			 str(fs, 2), "watchlist", str(fs, 0), str(fs, 3), "never_do", str(fs, 4),
			 str(fs, 5), "style", style);
}

static void run(const uint8_t *sw, struct fields *fs)
{
	int emojis = sw[3] % 3 - 1; /* -1: not said */
	json_t *pe = persona(fs, emojis);
	json_t *em = json_pack("{s:o, s:o, s:o, s:[o], s:[o,o]}", "tone", str(fs, 8), "energy",
			       str(fs, 9), "signature_emoji", str(fs, 10), "signature_phrases",
			       str(fs, 11), "anecdotes", str(fs, 12), str(fs, 13));
	json_t *st = json_pack("[{s:o, s:o, s:f}]", "topic", str(fs, 13), "stance_text",
			       str(fs, 14), "confidence", sw[0] / 255.0);
	json_t *ho = json_pack("[{s:o, s:o, s:f}]", "symbol", str(fs, 15), "note", str(fs, 16),
			       "size", (double)sw[1]);
	json_t *me = json_pack("[{s:s, s:o}]", "memory_type", "personal_fact", "content", str(fs, 17));
	struct convo_msg hist[3] = {
		{ .speaker = F(fs, 18), .text = F(fs, 19), .bot_id = 0 },
		{ .speaker = F(fs, 20), .text = F(fs, 21), .bot_id = 5, .topic = F(fs, 1) },
		{ .speaker = F(fs, 22), .text = F(fs, 23), .bot_id = 0 },
	};
	const char *own[] = { F(fs, 14), F(fs, 21) };
	struct compose_in in = {
		.bot_name = F(fs, 0),
		.persona = pe,
		.emotion = em,
		.stances = st,
		.holdings = ho,
		.memories = me,
		.history = hist,
		.nhistory = 3,
		.target = sw[2] & 1 ? &hist[2] : NULL,
		.own_past = own,
		.nown = 2,
		.topic = sw[2] & 2 ? F(fs, 1) : NULL,
		.news = sw[2] & 4 ? F(fs, 2) : NULL,
		.mention = sw[2] >> 3 & 1,
		.length = (enum compose_length)(sw[0] % 5) - 1,
		.minute_of_day = (int)(sw[1] * 7) - 100,
		.persona_refresh = sw[2] >> 4 & 1,
		.answering_human = sw[2] >> 5 & 1,
		.language = sw[2] & 64 ? F(fs, 3) : NULL,
	};

	FUZZ_ASSERT(pe && em && st && ho && me);
	check(&in, emojis);
	json_decref(pe);
	json_decref(em);
	json_decref(st);
	json_decref(ho);
	json_decref(me);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t sw[4] = { 0, 0, 0, 0 };
	struct fields fs = { .n = 0 };
	char *s, *p, *end;

	if (size < 4)
		return 0;
	memcpy(sw, data, 4);
	s = fuzz_str(data + 4, size - 4);
	end = s + (size - 4);
	for (p = s; p <= end && fs.n < NF; p += strlen(p) + 1)
		fs.f[fs.n++] = p;
	run(sw, &fs);
	free(s);
	return 0;
}
