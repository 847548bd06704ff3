/* test_pickfacts: the facts a chat context keeps per message (pick_msg_facts)
 * change no decision. Over thousands of random contexts of Turkish market
 * chatter (the fake LLM's phrases, pick's own keyword lists bent by case,
 * Turkish letters and suffixes, mentions, symbols, over-long texts), with
 * several bots each, pick_score, pick_target, pick_topic and pick_mentions give
 * with the facts, and without, exactly what pick.c gave before facts existed
 * (kept below, verbatim but for the names, as the reference): the same scores
 * (as doubles), the same targets, topics and random draws. Facts copied into a
 * rebuilt context (worker/chats.c, a send) equal facts worked out afresh. */
#include "common/backoff.h"
#include "tests/check_main.h"
#include "worker/chat/pick.h"

#include <check.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* ---- the reference: common/pick.c before facts ----
 *
 * Copied as it was (only pick_fold, pick_score, pick_target, pick_topic and
 * pick_mentions_user renamed ref_*, made static, and what they do not use left
 * out). Do not "fix" it along with pick.c: it is what pick.c must agree with.
 * The word lists are data and follow pick.c's (session 9 added tickers and the
 * whole-word keywords of a topic, kw_fx_whole). */

/* ---- word lists ---- */

/* The lists are stored already folded (ASCII, lowercase: "dustu" is düştü), so a
 * match costs one strstr and no folding; test_pick checks that folding them
 * changes nothing. */

static const char *const default_topics[] = { "BIST", "FX", "Kripto", "Makro" };

static const char *const kw_bist[] = { "bist",  "borsa", "hisse", "endeks", "xu100", "xu030",
				       "thyao", "garan", "asels", "akbnk",  "eregl", "kchol",
				       "tuprs", "bimas", "sahol", "ykbnk",  "froto", "sasa",
				       "isctr", "pgsus", "tcell", "kozal",  "hekts", NULL };
/* döviz */
static const char *const kw_fx[] = { "dolar",  "euro",    "avro",   "kur",        "tl",
				     "doviz",  "usd",     "eur",    "usdtry",     "eurtry",
				     "parite", "sterlin", "xauusd", "gram altin", NULL };
/* Whole words only: "altında" (below) is no gold. */
static const char *const kw_fx_whole[] = { "altin", NULL };
/* "sol" is whole words only (3 bytes): Solana, and now and then "left" */
static const char *const kw_kripto[] = { "bitcoin", "btc",     "eth",       "ethereum",   "kripto",
					 "coin",    "altcoin", "binance",   "blockchain", "sol",
					 "solana",  "avax",    "avalanche", "xrp",        "bnb",
					 "doge",    NULL };
/* merkez bankası, büyüme, işsizlik, cari açık, TÜFE */
static const char *const kw_makro[] = { "faiz",      "enflasyon", "merkez bankasi", "fed",
					"tcmb",      "buyume",    "gsyh",           "issizlik",
					"cari acik", "ppk",       "tufe",           NULL };

/* A default topic, the (folded) names it goes by, its keywords and those that
 * match as whole words only (never with a suffix), or NULL. */
static const struct {
	const char *names[3];
	const char *const *kw, *const *whole;
} topic_table[] = {
	{ { "bist", "borsa", NULL }, kw_bist, NULL },
	{ { "fx", "doviz", NULL }, kw_fx, kw_fx_whole },
	{ { "kripto", "crypto", NULL }, kw_kripto, NULL },
	{ { "makro", "ekonomi", NULL }, kw_makro, NULL },
};

/* Whole words only: "neden" must not match "nedeniyle" (because of).
 * ne düşünüyorsunuz, ne düşünüyorsun, nasıl olur, ne yapmalı */
static const char *const curiosity[] = { "ne dersiniz",
					 "ne dersin",
					 "sizce",
					 "sence",
					 "merak ediyorum",
					 "merak ettim",
					 "ne dusunuyorsunuz",
					 "ne dusunuyorsun",
					 "nasil olur",
					 "neden",
					 "niye",
					 "acaba",
					 "ne olacak",
					 "fikriniz",
					 "yorumunuz",
					 "ne yapmali",
					 NULL };

/* düştü, düşüş, çöktü, çöküş, kayıp, zarar, panik, kötü, eridi, battı, sert satış,
 * endişe, korku, olumsuz */
static const char *const negative[] = { "dustu",     "dusus",      "coktu",  "cokus", "kayip",
					"kaybettim", "zarar",      "panik",  "kotu",  "eridi",
					"batti",     "sert satis", "endise", "korku", "olumsuz",
					"📉",         NULL };

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define WORD_MAX 256 /* a folded keyword, name or symbol */

/* ---- folding and matching ---- */

/* The ASCII letter a two-byte Turkish (or â/î/û) letter folds to, or 0. */
static char fold2(unsigned char a, unsigned char b)
{
	if (a == 0xC3) {
		switch (b) {
		case 0x82:
		case 0xA2: return 'a'; /* Â â */
		case 0x87:
		case 0xA7: return 'c'; /* Ç ç */
		case 0x8E:
		case 0xAE: return 'i'; /* Î î */
		case 0x96:
		case 0xB6: return 'o'; /* Ö ö */
		case 0x9B:
		case 0xBB: return 'u'; /* Û û */
		case 0x9C:
		case 0xBC: return 'u'; /* Ü ü */
		}
	} else if (a == 0xC4) {
		if (b == 0x9E || b == 0x9F)
			return 'g'; /* Ğ ğ */
		if (b == 0xB0 || b == 0xB1)
			return 'i'; /* İ ı */
	} else if (a == 0xC5 && (b == 0x9E || b == 0x9F)) {
		return 's'; /* Ş ş */
	}
	return 0;
}

/* Bytes of the UTF-8 character at s: 1 for ASCII and for anything malformed, so a
 * broken sequence is copied byte by byte and never read past its NUL. */
static size_t char_len(const unsigned char *s)
{
	size_t n = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 1;

	if (s[0] < 0x80 || s[0] > 0xF4)
		return 1;
	for (size_t k = 1; k < n; k++)
		if ((s[k] & 0xC0) != 0x80)
			return 1;
	return n;
}

static size_t ref_fold(const char *in, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	if (!outsz)
		return 0;
	while (s && *s) {
		size_t n;
		char c;

		if (*s < 0x80) { /* most of any text: nothing to decode */
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
			s++;
			continue;
		}
		n = char_len(s);
		c = n == 2 ? fold2(s[0], s[1]) : 0;
		if (c) {
			if (o + 1 >= outsz)
				break;
			out[o++] = c;
		} else {
			if (o + n >= outsz)
				break;
			memcpy(out + o, s, n);
			o += n;
		}
		s += n;
	}
	out[o] = 0;
	return o;
}

/* ASCII-only capitals (for symbols), cut on a character boundary: the built-in
 * tickers are stored in capitals, so only the text and a watchlist need this. */
static size_t ascii_upper(const char *in, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;

	while (s && *s) {
		size_t n = *s < 0x80 ? 1 : char_len(s);

		if (o + n >= outsz)
			break;
		for (size_t k = 0; k < n; k++)
			out[o++] = (char)(s[k] >= 'a' && s[k] <= 'z' ? s[k] - 32 : s[k]);
		s += n;
	}
	out[o] = 0;
	return o;
}

static const unsigned char word_bytes[256] = {
	['a' ... 'z'] = 1,
	['A' ... 'Z'] = 1,
	['0' ... '9'] = 1,
	['_'] = 1,
};

static int is_word(char c)
{
	return word_bytes[(unsigned char)c];
}

/* needle in hay at the start of a word (when needle starts with a letter or digit)
 * and, unless prefix_ok, at the end of one. Both already folded or capitalised. */
static int has_word(const char *hay, const char *needle, int prefix_ok)
{
	size_t nl = strlen(needle);

	if (!nl)
		return 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) {
		if (p > hay && is_word(p[-1]) && is_word(needle[0]))
			continue;
		if (!prefix_ok && is_word(needle[nl - 1]) && is_word(p[nl]))
			continue;
		return 1;
	}
	return 0;
}

_Static_assert(PICK_TEXT_MAX <= INT16_MAX, "word starts are int16_t");

/* A folded (or capitalised) text with its word starts listed by first byte. A
 * needle that starts with a letter or digit can only match where a word starts,
 * so it is compared there alone instead of strstr running over the whole text
 * once per keyword (some 80 keywords per message). */
struct scan {
	const char *s;
	size_t len;
	int16_t head[128];           /* first word start with this byte, -1: none */
	int16_t next[PICK_TEXT_MAX]; /* the next word start with the same byte */
};

static void scan_init(struct scan *sc, const char *s, size_t len)
{
	int prev = 0;

	sc->s = s;
	sc->len = len;
	memset(sc->head, 0xff, sizeof sc->head);
	for (size_t i = 0; i < len; i++) {
		int w = is_word(s[i]);

		if (w && !prev) {
			sc->next[i] = sc->head[(unsigned char)s[i]];
			sc->head[(unsigned char)s[i]] = (int16_t)i;
		}
		prev = w;
	}
}

/* A needle of this many bytes or more may carry a suffix ("borsada"). */
#define SUFFIX_MIN 4
#define WHOLE ((size_t)-1) /* no needle is this long: whole words only */

/* has_word over a scanned text, prefix_ok when needle has prefix_min bytes or
 * more. The needle is compared byte by byte, so its length costs nothing. */
static int scan_has(const struct scan *sc, const char *needle, size_t prefix_min)
{
	if (!is_word(needle[0]))
		return *needle && has_word(sc->s, needle, strlen(needle) >= prefix_min);
	for (int p = sc->head[(unsigned char)needle[0]]; p >= 0; p = sc->next[p]) {
		const char *t = sc->s + p;
		size_t j = 1;

		while (needle[j] && needle[j] == t[j]) /* the text's NUL stops it */
			j++;
		if (needle[j])
			continue;
		if (j < prefix_min && is_word(needle[j - 1]) && is_word(t[j]))
			continue;
		return 1;
	}
	return 0;
}

/* A (folded) keyword in a folded text: 4+ bytes may carry a suffix, unless
 * whole_only. */
static int has_keyword(const struct scan *sc, const char *kw, int whole_only)
{
	return scan_has(sc, kw, whole_only ? WHOLE : SUFFIX_MIN);
}

static int has_any(const struct scan *sc, const char *const *list, int whole_only)
{
	for (size_t i = 0; list[i]; i++)
		if (has_keyword(sc, list[i], whole_only))
			return 1;
	return 0;
}

/* A topic as detection needs it, folded once per call rather than per message. */
struct topic_key {
	char t[WORD_MAX];
	size_t n;
	const char *const *kw;    /* the keywords of a default topic it names, or NULL */
	const char *const *whole; /* ... and its whole-word ones, or NULL */
};

static void topic_key(struct topic_key *k, const char *topic)
{
	k->n = ref_fold(topic, k->t, sizeof k->t);
	k->kw = NULL;
	k->whole = NULL;
	for (size_t i = 0; i < NELEM(topic_table) && !k->kw; i++)
		for (size_t j = 0; topic_table[i].names[j] && !k->kw; j++)
			if (strcmp(topic_table[i].names[j], k->t) == 0) {
				k->kw = topic_table[i].kw;
				k->whole = topic_table[i].whole;
			}
}

/* A message's metadata topic, folded; has is 0 when it has none. */
struct msg_topic {
	char t[WORD_MAX];
	size_t n;
	int has;
};

static void msg_topic(struct msg_topic *mt, const char *topic)
{
	mt->has = topic != NULL;
	mt->n = mt->has ? ref_fold(topic, mt->t, sizeof mt->t) : 0;
}

/* Does a message (scanned folded text, metadata topic) speak of the topic? */
static int detects(const struct scan *sc, const struct msg_topic *mt, const struct topic_key *k)
{
	if (mt->has && mt->n == k->n && strcmp(mt->t, k->t) == 0)
		return 1;
	if (scan_has(sc, k->t, SUFFIX_MIN))
		return 1;
	return (k->kw && has_any(sc, k->kw, 0)) || (k->whole && has_any(sc, k->whole, 1));
}

/* ---- the bot (reference) ---- */

static size_t strings_of(const json_t *arr, const char **out, size_t max)
{
	size_t i, n = 0;
	json_t *e;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach(arr, i, e) {
		if (n == max)
			break;
		if (json_is_string(e) && json_string_length(e) > 0)
			out[n++] = json_string_value(e);
	}
	return n;
}

/* The chat's topics, or the defaults. */
static size_t topics_of(const json_t *chat_topics, const char **out)
{
	size_t n = strings_of(chat_topics, out, PICK_MAX_TOPICS);

	if (n)
		return n;
	for (n = 0; n < NELEM(default_topics); n++)
		out[n] = default_topics[n];
	return n;
}

/* ---- scoring ---- */

static double age_points(int64_t age_ms)
{
	if (age_ms < 3 * 60000)
		return 3;
	if (age_ms < 10 * 60000)
		return 2;
	if (age_ms < 30 * 60000)
		return 1;
	return -1;
}

/* What scoring matches for one bot, prepared once per call: ref_target scores up
 * to PICK_WINDOW messages against the same bot. */
struct bot_keys {
	char user[WORD_MAX];                  /* "@username" folded, "" when none */
	char name[WORD_MAX];                  /* the name folded, "" when none */
	char watch[PICK_MAX_WATCH][WORD_MAX]; /* the watchlist in capitals */
	size_t nwatch, ntopics;
	struct topic_key topics[PICK_MAX_TOPICS];
};

static void bot_keys(struct bot_keys *k, const struct pick_bot *b)
{
	k->user[0] = k->name[0] = '\0';
	if (b->username && *b->username) {
		k->user[0] = '@';
		ref_fold(b->username, k->user + 1, sizeof k->user - 1);
	}
	if (b->name)
		ref_fold(b->name, k->name, sizeof k->name);
	k->nwatch = b->nwatch < PICK_MAX_WATCH ? b->nwatch : PICK_MAX_WATCH;
	for (size_t i = 0; i < k->nwatch; i++)
		ascii_upper(b->watch[i], k->watch[i], sizeof k->watch[i]);
	k->ntopics = b->ntopics < PICK_MAX_TOPICS ? b->ntopics : PICK_MAX_TOPICS;
	for (size_t i = 0; i < k->ntopics; i++)
		topic_key(&k->topics[i], b->topics[i]);
}

static int mentions(const struct scan *sc, const struct bot_keys *k)
{
	return scan_has(sc, k->user, WHOLE) || scan_has(sc, k->name, WHOLE);
}

static int ref_mentions_user(const char *text, const char *username)
{
	char folded[PICK_TEXT_MAX], k[WORD_MAX];

	/* "@" folds from "@" alone: without one, nothing to fold. */
	if (!text || !username || !*username || !strchr(text, '@'))
		return 0;
	ref_fold(text, folded, sizeof folded);
	k[0] = '@';
	ref_fold(username, k + 1, sizeof k - 1);
	return has_word(folded, k, 0);
}

/* ref_score with b's keys prepared (k unused when b is NULL). */
static double score_with(const struct convo_msg *m, const struct pick_bot *b,
			 const struct bot_keys *k, int64_t now_ms, int replies_to_m)
{
	char folded[PICK_TEXT_MAX], upper[PICK_TEXT_MAX];
	const char *text = m->text ? m->text : "";
	double s = m->bot_id == 0 ? 8.0 : 2.5;
	struct scan sc, usc;
	struct msg_topic mt;

	s += age_points(now_ms - m->at_ms);
	scan_init(&sc, folded, ref_fold(text, folded, sizeof folded));
	if (strchr(folded, '?') || strstr(folded, "？"))
		s += 4;
	if (has_any(&sc, curiosity, 1))
		s += 3;
	if (replies_to_m >= 2)
		s += 1.5;
	if (!b)
		return s;
	if (mentions(&sc, k))
		s += 15;
	if (k->nwatch) {
		scan_init(&usc, upper, ascii_upper(text, upper, sizeof upper));
		for (size_t i = 0; i < k->nwatch; i++)
			if (scan_has(&usc, k->watch[i], WHOLE))
				s += 2.5;
	}
	msg_topic(&mt, m->topic);
	for (size_t i = 0; i < k->ntopics; i++)
		if (detects(&sc, &mt, &k->topics[i]))
			s += 1.5;
	if (b->empathy > 0.7 && (m->sentiment < 0 || has_any(&sc, negative, 0)))
		s += 2;
	return s;
}

static double ref_score(const struct convo_msg *m, const struct pick_bot *b, int64_t now_ms,
			int replies_to_m)
{
	struct bot_keys k;

	if (b)
		bot_keys(&k, b);
	return score_with(m, b, &k, now_ms, replies_to_m);
}

static int count_replies(const struct convo_msg *msgs, size_t n, int64_t tg_id)
{
	int c = 0;

	if (tg_id == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		c += msgs[i].reply_to_tg == tg_id;
	return c;
}

static double weight(double score)
{
	return score > 0.1 ? score : 0.1;
}

static int ref_target(const struct convo_msg *msgs, size_t n, const struct pick_bot *b,
		      int64_t now_ms, uint64_t *rng)
{
	size_t start = n > PICK_WINDOW ? n - PICK_WINDOW : 0;
	int top[PICK_TOP];
	double sc[PICK_TOP], total = 0, u;
	int nt = 0;
	struct bot_keys keys;

	if (!msgs)
		return -1;
	if (b)
		bot_keys(&keys, b);
	/* Newest first, and only a strictly better score displaces: ties keep the newer. */
	for (size_t i = n; i-- > start;) {
		double s;
		int k;

		if (b && b->id != 0 && msgs[i].bot_id == b->id)
			continue;
		s = score_with(&msgs[i], b, &keys, now_ms, count_replies(msgs, n, msgs[i].tg_id));
		if (nt == PICK_TOP && s <= sc[PICK_TOP - 1])
			continue;
		if (nt < PICK_TOP)
			nt++;
		for (k = nt - 1; k > 0 && sc[k - 1] < s; k--) {
			sc[k] = sc[k - 1];
			top[k] = top[k - 1];
		}
		sc[k] = s;
		top[k] = (int)i;
	}
	if (!nt)
		return -1;
	for (int k = 0; k < nt; k++)
		total += weight(sc[k]);
	u = backoff_uniform(rng) * total;
	for (int k = 0; k < nt; k++) {
		if (u < weight(sc[k]))
			return top[k];
		u -= weight(sc[k]);
	}
	return top[nt - 1];
}

/* Uniform index in [0, n). */
static size_t draw_index(size_t n, uint64_t *rng)
{
	size_t i = (size_t)(backoff_uniform(rng) * (double)n);

	return i < n ? i : n - 1;
}

/* ---- topic ---- */

/* "YYYY-MM-DD[(T| )HH:MM[:SS[.frac]]][Z|(+|-)HH[[:]MM]]" in ms since the epoch, or
 * -1 when it is none of these. */
static int64_t parse_time_ms(const char *s)
{
	struct tm tm;
	const char *p;
	long off = 0;
	time_t t;

	memset(&tm, 0, sizeof tm);
	if (!(p = strptime(s, "%Y-%m-%d", &tm)))
		return -1;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		if (!(p = strptime(p + 1, "%H:%M", &tm)))
			return -1;
		if (*p == ':' && !(p = strptime(p + 1, "%S", &tm)))
			return -1;
		if (*p == '.' || *p == ',')
			for (p++; *p >= '0' && *p <= '9'; p++)
				;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, hh, mm = 0;

		p++;
		if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
			return -1;
		hh = (p[0] - '0') * 10 + (p[1] - '0');
		p += 2;
		if (*p == ':')
			p++;
		if (p[0] >= '0' && p[0] <= '9' && p[1] >= '0' && p[1] <= '9') {
			mm = (p[0] - '0') * 10 + (p[1] - '0');
			p += 2;
		}
		off = sign * (hh * 3600L + mm * 60L);
	}
	if (*p)
		return -1;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -1;
	return ((int64_t)t - off) * 1000;
}

/* When the topic (folded: ft) cools down until (ms), 0 when none of stances cools
 * it down. */
static int64_t cooldown_end(const json_t *stances, const char *ft)
{
	char f[WORD_MAX];
	int64_t end = 0;
	size_t i;
	json_t *st;

	if (!json_is_array(stances))
		return 0;
	json_array_foreach(stances, i, st) {
		json_t *t = json_object_get(st, "topic"), *c = json_object_get(st, "cooldown_until");
		int64_t ms;

		if (!json_is_string(t) || !json_is_string(c))
			continue;
		ref_fold(json_string_value(t), f, sizeof f);
		if (strcmp(f, ft) != 0)
			continue;
		ms = parse_time_ms(json_string_value(c));
		if (ms > end)
			end = ms;
	}
	return end;
}

static const char *ref_topic(const json_t *chat_topics, const json_t *stances,
			     const struct convo_msg *msgs, size_t n, int64_t now_ms, uint64_t *rng)
{
	const char *all[PICK_MAX_TOPICS], *cand[PICK_MAX_TOPICS];
	struct topic_key keys[PICK_MAX_TOPICS];
	int64_t ends[PICK_MAX_TOPICS];
	int counts[PICK_MAX_TOPICS] = { 0 };
	size_t nall = topics_of(chat_topics, all), nc = 0, first = 0, nbest = 0;
	char folded[PICK_TEXT_MAX];
	struct msg_topic mt;
	struct scan sc;
	int best = 0;

	for (size_t i = 0; i < nall; i++) {
		topic_key(&keys[nc], all[i]);
		ends[i] = cooldown_end(stances, keys[nc].t);
		if (ends[i] <= now_ms)
			cand[nc++] = all[i];
		else if (ends[i] < ends[first])
			first = i;
	}
	if (!nc) /* all cooling down: the one free soonest */
		return all[first];
	for (size_t m = 0; msgs && m < n; m++) {
		scan_init(&sc, folded,
			  ref_fold(msgs[m].text ? msgs[m].text : "", folded, sizeof folded));
		msg_topic(&mt, msgs[m].topic);
		for (size_t i = 0; i < nc; i++)
			counts[i] += detects(&sc, &mt, &keys[i]);
	}
	for (size_t i = 0; i < nc; i++)
		best = counts[i] > best ? counts[i] : best;
	for (size_t i = 0; i < nc; i++)
		nbest += counts[i] == best;
	nbest = draw_index(nbest, rng);
	for (size_t i = 0; i < nc; i++)
		if (counts[i] == best && nbest-- == 0)
			return cand[i];
	return cand[0];
}

/* ---- random contexts ---- */

#define NOW 1740830400000LL /* 2025-03-01T12:00:00Z */
#define MIN 60000LL
#define MAX_MSGS 40
#define TEXT_CAP (PICK_TEXT_MAX + 600)

static uint64_t gen = 0x9E3779B97F4A7C15ULL; /* the generator's own state */

static uint64_t rnd(void)
{
	gen ^= gen << 13;
	gen ^= gen >> 7;
	gen ^= gen << 17;
	return gen;
}

static size_t below(size_t n)
{
	return (size_t)(rnd() % n);
}

static int one_in(size_t n)
{
	return below(n) == 0;
}

#define ANY(a) ((a)[below(NELEM(a))])

/* From tests/fakeapi/fa_text.c: what the fake LLM writes. */
static const char *const openers[] = {
	"Arkadaşlar ",
	"Bence ",
	"Dikkat, ",
	"Şu an ",
	"Sabah sabah ",
	"Bugün ",
	"Valla ",
	"Hocam ",
	"Açıkçası ",
	"Beyler ",
	"Gözünüz olsun, ",
	"Ekrana bakın, ",
	"Haberiniz olsun, ",
	"Bu arada ",
	"Net söylüyorum, ",
	"Kimse konuşmuyor ama ",
	"Katılıyorum, ",
	"Bence öyle değil, ",
	"Haklısın ama ",
	"İtiraz edeceğim, ",
};
static const char *const assets[] = {
	"THYAO",
	"ASELS",
	"GARAN",
	"AKBNK",
	"EREGL",
	"SISE",
	"KCHOL",
	"BIMAS",
	"TUPRS",
	"FROTO",
	"SASA",
	"YKBNK",
	"PGSUS",
	"TCELL",
	"ISCTR",
	"BIST 100",
	"dolar/TL",
	"euro/TL",
	"gram altın",
	"ons altın",
	"BTC",
	"ETH",
	"Brent petrol",
	"gümüş",
	"SOL",
	"XRP",
	"AVAX",
	"politika faizi",
	"yıllık enflasyon",
	"CDS primi",
	"Fed faizi",
	"sterlin/TL",
};
static const char *const moves[] = {
	"yine hareketlendi.",
	"sert düştü.",
	"tavana koşuyor.",
	"yatay seyrediyor.",
	"güçlü alıcı buldu.",
	"satış baskısı altında.",
	"direnci zorluyor.",
	"desteğe çekildi.",
	"hacimli yükseliyor.",
	"kâr satışı yiyor.",
	"toparlanmaya çalışıyor.",
	"dip arıyor gibi.",
	"yeni zirveye koşuyor.",
	"likidasyon dalgası yedi.",
	"beklentinin üzerinde geldi.",
	"sürpriz yaptı.",
	"herkesin dilinde.",
	"sert tepki çekti.",
	"ani bir sıçrama yaptı.",
};
static const char *const views[] = {
	"Teknik olarak",
	"Bana göre",
	"Grafiğe bakınca",
	"Kısa vadede",
	"Takas verisine bakılırsa",
	"Endeks tarafında",
	"Kur tarafında",
	"Spot piyasada",
	"Zincir üstü verilere göre",
	"Ekonomistlere göre",
	"Merkez Bankası iletişimine göre",
	"Makro açıdan",
	"Takasta",
	"Döviz bürolarına bakınca",
	"Kripto tarafında",
	"Dolar endeksine bakınca",
};
static const char *const levels[] = {
	"seviyesi kritik.",
	"üstünde kalıcılık şart.",
	"altına inerse stop olurum.",
	"kırılırsa hareket hızlanır.",
	"civarı alım fırsatı.",
	"güçlü direnç gibi duruyor.",
	"üstü piyasayı korkutur.",
	"üstünde kalırsa faiz indirimi gecikir.",
	"seviyesi borsaya iyi gelmez.",
	"kaybedilirse düşüş derinleşir.",
};
static const char *const closers[] = {
	"",
	" Yatırım tavsiyesi değildir.",
	" Faiz kararı her şeyi değiştirebilir.",
	" Dolar/TL tarafını da unutmayın.",
	" Enflasyon verisi öncesi temkinliyim.",
	" Kripto tarafı da bugün karışık.",
	" Merkez Bankası ne der, bakalım.",
	" Fed açıklaması sonrası netleşir.",
	" Stopsuz işlem yapmayın arkadaşlar.",
};
static const char *const emojis[] = { "", "", " 📈", " 📉", " 🚀", " 🤔", " 😅" };

/* pick's own lists (folded) and names, to be bent back into Turkish. */
static const char *const words[] = {
	"bist",
	"borsa",
	"hisse",
	"endeks",
	"xu100",
	"xu030",
	"thyao",
	"garan",
	"asels",
	"dolar",
	"euro",
	"avro",
	"kur",
	"tl",
	"doviz",
	"usd",
	"eur",
	"usdtry",
	"parite",
	"bitcoin",
	"btc",
	"eth",
	"ethereum",
	"kripto",
	"coin",
	"altcoin",
	"binance",
	"faiz",
	"enflasyon",
	"merkez bankasi",
	"fed",
	"tcmb",
	"buyume",
	"gsyh",
	"issizlik",
	"cari acik",
	"ppk",
	"ne dersiniz",
	"ne dersin",
	"sizce",
	"sence",
	"merak ediyorum",
	"ne dusunuyorsunuz",
	"nasil olur",
	"neden",
	"niye",
	"acaba",
	"ne olacak",
	"fikriniz",
	"yorumunuz",
	"ne yapmali",
	"nedeniyle",
	"dustu",
	"dusus",
	"coktu",
	"kayip",
	"zarar",
	"panik",
	"kotu",
	"eridi",
	"batti",
	"sert satis",
	"endise",
	"korku",
	"olumsuz",
	"yukseldi",
	"rekor",
	"iyi",
	"harika",
	"fx",
	"makro",
	"ekonomi",
	"crypto",
	"altin",
	"emtia",
	"petrol",
	"gumus",
	"kemal",
	"ayse",
	"cagri",
	"ilker",
	"deniz",
	"kurum",
	"sise",
	"sol",
	"kemalettin",
	"faizler",
	"borsada",
	"tlye",
};
static const char *const glue[] = { " ", " ", " ", ", ", ". ", "! ", "?",  " ? ", "？",
				    "'", "-", "/", "_",  "",   "\n", " @", "$",   "#" };
static const char *const suffixes[] = { "",     "",  "",    "da", "ler", "'ye",
					"'nin", "ı", "lar", "de", "2",   "_" };
static const char *const at_names[] = {
	"@kemal_bot",    "@Kemal_Bot",    "@KEMAL_BOT", "@kemal_bot2",
	"@ayse_yatirim", "@AYŞE_YATIRIM", "@cagri",     "@çağrı",
	"@x_bot",        "@deniz",        "@",          "kemal_bot",
};

/* Symbols as people write them, put in as they are. */
static const char *const raw_symbols[] = { "$BTC",  "$btc",    "GÜMÜŞ", "gümüş",  "ŞİŞE",  "şişe",
					   "SISE",  "THYAO",   "thy",   "Eth'de", "XU100", "usdtry",
					   "ALTIN", "BTCUSDT", "sol",   "X" };

/* The Turkish letters a folded ASCII letter may come from. */
static const char *bend(char c)
{
	static const char
		*const s[] = { "ş", "Ş", "s", "S" },
		       *const cc[] = { "ç", "Ç", "c", "C" }, *const g[] = { "ğ", "Ğ", "g", "G" },
		       *const u[] = { "ü", "Ü", "û", "u", "U" }, *const o[] = { "ö", "Ö", "o", "O" },
		       *const i[] = { "ı", "İ", "I", "î", "i" }, *const a[] = { "â", "Â", "a", "A" };

	switch (c) {
	case 's': return ANY(s);
	case 'c': return ANY(cc);
	case 'g': return ANY(g);
	case 'u': return ANY(u);
	case 'o': return ANY(o);
	case 'i': return ANY(i);
	case 'a': return ANY(a);
	}
	return NULL;
}

static void put(char *out, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o + n >= TEXT_CAP)
		n = TEXT_CAP - 1 - *o;
	memcpy(out + *o, s, n);
	*o += n;
	out[*o] = '\0';
}

/* A word of pick's lists, written as a person might: capitals, Turkish letters. */
static void put_word(char *out, size_t *o, const char *w)
{
	int style = (int)below(4);
	char one[2] = { 0, 0 };

	for (; *w; w++) {
		const char *t = style == 3 && one_in(2) ? bend(*w) : NULL;

		one[0] = style == 1 || (style == 2 && one_in(3))
				 ? (char)(*w >= 'a' && *w <= 'z' ? *w - 32 : *w)
				 : *w;
		put(out, o, t ? t : one);
	}
}

/* The fake LLM's sentence shape, or a jumble of keywords. */
static void make_text(char *out)
{
	size_t o = 0, n;

	out[0] = '\0';
	if (one_in(4)) {
		n = 1 + below(12);
		for (size_t i = 0; i < n; i++) {
			if (one_in(6))
				put(out, &o, ANY(at_names));
			else if (one_in(5))
				put(out, &o, ANY(raw_symbols));
			else
				put_word(out, &o, ANY(words));
			put(out, &o, ANY(suffixes));
			put(out, &o, ANY(glue));
		}
		return;
	}
	put(out, &o, ANY(openers));
	if (one_in(8)) {
		put(out, &o, ANY(at_names));
		put(out, &o, " ");
	}
	put(out, &o, ANY(assets));
	put(out, &o, " ");
	put(out, &o, ANY(moves));
	put(out, &o, " ");
	put(out, &o, ANY(views));
	put(out, &o, " ");
	put(out, &o, ANY(assets));
	put(out, &o, " ");
	put(out, &o, ANY(levels));
	put(out, &o, ANY(closers));
	if (one_in(3)) {
		put(out, &o, " ");
		put_word(out, &o, ANY(words));
		put(out, &o, one_in(2) ? "?" : ".");
	}
	put(out, &o, ANY(emojis));
}

/* About PICK_TEXT_MAX bytes, with something to find on either side of the cut,
 * and a Turkish letter sometimes cut in half by it. */
static void make_long(char *out)
{
	static const char *const tail[] = { "düştü",      " düştü",  "ş düştü", " btc",    " THYAO",
					    "@kemal_bot", " borsa?", " sizce",  "ğ@x_bot", "ş",
					    " $BTC",      "sol",     " ETH " };
	size_t o = 0, stop = PICK_TEXT_MAX - 16 + below(20);

	out[0] = '\0';
	while (o + 2 < stop)
		put(out, &o, one_in(5) ? "ş" : "x ");
	put(out, &o, one_in(2) ? "ş" : " ");
	for (int i = 0; i < 4; i++)
		put(out, &o, ANY(tail));
}

static const char *const meta_topics[] = { "BIST",  "bist",  "Kripto", "altın",  "FX ",
					   "makro", "Döviz", "Petrol", "crypto", "EKONOMİ" };

/* A chat's messages three ways: plain (no facts), with facts for the chat's
 * topics (as worker/chats.c keeps them), and mixed: some with no facts, some
 * with facts for another topic list (pick must not care). */
struct context {
	json_t *topics, *topics2, *stances;
	struct pick_topics set, set2;
	struct convo_msg plain[MAX_MSGS], with[MAX_MSGS], with2[MAX_MSGS], mixed[MAX_MSGS];
	struct pick_msg_facts facts[MAX_MSGS], facts2[MAX_MSGS];
	char texts[MAX_MSGS][TEXT_CAP];
	char *folded, *folded2;
	size_t n;
};

static json_t *make_topics(void)
{
	switch (below(9)) {
	case 0: return NULL;
	case 1: return json_array();
	case 2: return json_pack("[s,s]", "BIST", "FX");
	case 3: return json_pack("[s,s,s]", "Kripto", "BIST", "Altın");
	case 4: return json_pack("[s,s,s,s,s]", "Makro", "ekonomi", "Döviz", "crypto", "borsa");
	case 5: return json_pack("[i,s,n,s]", 1, "FX", "Kripto");
	case 6: return json_pack("[s,s,s,s]", "BIST", "FX", "Kripto", "Makro");
	case 7: return json_pack("[s,s]", "BIST", "BIST");
	}
	return json_pack("[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]", "bist", "FX", "Kripto", "Makro",
			 "Altın", "Emtia", "Petrol", "Gümüş", "Faiz", "Enflasyon", "Dolar", "Euro",
			 "Bitcoin", "Ethereum", "Hisse", "Endeks", "Borsa");
}

static json_t *make_stances(void)
{
	static const char *const topic[] = { "BIST",  "bist",  "FX",    "Kripto",
					     "Makro", "Altın", "ALTIN", "Döviz" };
	static const char *const until[] = {
		"2025-03-01T14:00:00+03:00",
		"2025-03-01T16:00:00+03:00",
		"2025-03-01T12:00:00Z",
		"2025-03-01T12:00:01Z",
		"2025-03-01 12:30:00.5+00",
		"2025-03-02",
		"yarın",
		"2025-03-01T11:00:00Z",
		"2025-03-01T13:00:00Z",
	};
	json_t *a = json_array();
	size_t n = below(6);

	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_pack("{s:s,s:s}", "topic", ANY(topic),
						   "cooldown_until", ANY(until)));
	return a;
}

/* Facts for msgs[0..n) the way worker/chats.c keeps them: one buffer, each text
 * folded into pick_facts_size bytes. */
static char *keep_facts(struct convo_msg *dst, const struct convo_msg *src,
			struct pick_msg_facts *facts, size_t n, const struct pick_topics *set)
{
	size_t bytes = 1, off = 0;
	char *buf;

	for (size_t i = 0; i < n; i++)
		bytes += pick_facts_size(src[i].text);
	ck_assert_ptr_nonnull(buf = malloc(bytes));
	for (size_t i = 0; i < n; i++) {
		dst[i] = src[i];
		off += pick_msg_facts(&facts[i], &src[i], set, buf + off, pick_facts_size(src[i].text));
		dst[i].facts = &facts[i];
	}
	ck_assert_uint_le(off, bytes);
	return buf;
}

static void make_context(struct context *c)
{
	static const int64_t authors[] = { 0, 0, 0, 7, 8, 9, 3 };

	memset(c, 0, sizeof *c);
	c->topics = make_topics();
	c->stances = one_in(3) ? NULL : make_stances();
	pick_topics_init(&c->set, c->topics);
	c->n = below(MAX_MSGS + 1);
	for (size_t i = 0; i < c->n; i++) {
		struct convo_msg *m = &c->plain[i];

		if (one_in(30))
			make_long(c->texts[i]);
		else
			make_text(c->texts[i]);
		m->id = (int64_t)i + 1;
		m->tg_id = one_in(15) ? 0 : 1000 + (int64_t)i;
		m->bot_id = ANY(authors);
		m->speaker = "biri";
		m->text = one_in(40) ? NULL : c->texts[i];
		m->at_ms = NOW - (int64_t)below(90) * MIN + (one_in(20) ? 10 * MIN : 0);
		m->reply_to_tg = i && one_in(3) ? 1000 + (int64_t)below(i) : 0;
		m->topic = one_in(4) ? ANY(meta_topics) : NULL;
		m->sentiment = (int)below(3) - 1;
	}
	c->folded = keep_facts(c->with, c->plain, c->facts, c->n, &c->set);
	c->topics2 = make_topics();
	pick_topics_init(&c->set2, c->topics2);
	c->folded2 = keep_facts(c->with2, c->plain, c->facts2, c->n, &c->set2);
	for (size_t i = 0; i < c->n; i++)
		c->mixed[i] = one_in(3) ? c->plain[i] : one_in(2) ? c->with2[i] : c->with[i];
}

static void free_context(struct context *c)
{
	free(c->folded);
	free(c->folded2);
	json_decref(c->topics);
	json_decref(c->topics2);
	json_decref(c->stances);
}

struct botspec {
	int64_t id;
	const char *name, *username;
};

static const struct botspec bots[] = {
	{ 7, "Kemal", "kemal_bot" }, { 8, "Ayşe", "ayse_yatirim" }, { 9, "Çağrı", "cagri" },
	{ 3, "İlker", NULL },        { 11, NULL, "x_bot" },         { 12, "Deniz", "" },
	{ 0, "deniz", "deniz" },
};

static const char *const watch_pool[] = { "THYAO", "btc",    "BTC",   "Eth",  "GARAN",
					  "SISE",  "USDTRY", "XU100", "$BTC", "ALTIN",
					  "GÜMÜŞ", "şişe",   "sol",   "x",    "THY" };

static json_t *make_persona(void)
{
	json_t *w = json_array();
	size_t n = below(6);

	for (size_t i = 0; i < n; i++)
		json_array_append_new(w, json_string(ANY(watch_pool)));
	return json_pack("{s:o}", "watchlist", w);
}

/* ---- the comparisons ---- */

static void same_scores(const struct context *c, const struct pick_bot *b)
{
	for (size_t i = 0; i < c->n; i++) {
		int replies = (int)below(4);
		double want = ref_score(&c->plain[i], b, NOW, replies);

		ck_assert_msg(pick_score(&c->with[i], b, NOW, replies) == want,
			      "score with facts differs on \"%.200s\"", c->plain[i].text);
		ck_assert_msg(pick_score(&c->plain[i], b, NOW, replies) == want,
			      "score without facts differs on \"%.200s\"", c->plain[i].text);
		ck_assert_msg(pick_score(&c->with2[i], b, NOW, replies) == want,
			      "score with other facts differs on \"%.200s\"", c->plain[i].text);
	}
}

static void same_mentions(const struct context *c, const char *username)
{
	for (size_t i = 0; i < c->n; i++) {
		int want = ref_mentions_user(c->plain[i].text, username);

		ck_assert_int_eq(pick_mentions(&c->with[i], username), want);
		ck_assert_int_eq(pick_mentions(&c->plain[i], username), want);
		ck_assert_int_eq(pick_mentions(&c->with2[i], username), want);
		ck_assert_int_eq(pick_mentions_user(c->plain[i].text, username), want);
	}
}

static void same_targets(const struct context *c, const struct pick_bot *b)
{
	for (int k = 0; k < 4; k++) {
		uint64_t seed = rnd(), r0 = seed, r1 = seed, r2 = seed, r3 = seed;
		int want = ref_target(c->plain, c->n, b, NOW, &r0);

		ck_assert_int_eq(pick_target(c->with, c->n, b, NOW, &r1), want);
		ck_assert_int_eq(pick_target(c->plain, c->n, b, NOW, &r2), want);
		ck_assert_int_eq(pick_target(c->mixed, c->n, b, NOW, &r3), want);
		ck_assert(r1 == r0 && r2 == r0 && r3 == r0);
	}
}

static void same_topic(const struct context *c)
{
	for (int k = 0; k < 4; k++) {
		uint64_t seed = rnd(), r0 = seed, r1 = seed, r2 = seed, r3 = seed;
		const char *want = ref_topic(c->topics, c->stances, c->plain, c->n, NOW, &r0);

		ck_assert_str_eq(pick_topic(c->topics, c->stances, c->with, c->n, NOW, &r1), want);
		ck_assert_str_eq(pick_topic(c->topics, c->stances, c->plain, c->n, NOW, &r2), want);
		ck_assert_str_eq(pick_topic(c->topics, c->stances, c->mixed, c->n, NOW, &r3), want);
		ck_assert(r1 == r0 && r2 == r0 && r3 == r0);
	}
}

static void same_facts(const struct pick_msg_facts *a, const struct pick_msg_facts *b)
{
	ck_assert_str_eq(a->folded, b->folded);
	ck_assert_int_eq(a->ulen, b->ulen);
	ck_assert_int_eq(a->topic_bits, b->topic_bits);
	ck_assert_int_eq(a->flags, b->flags);
}

/* A send rebuilds the context around the new message (worker/chats.c ctx_with):
 * the kept messages' facts are copied against a new topic list of the same
 * topics, the new message's worked out. Facts for other topics are not copied. */
static void same_after_rebuild(struct context *c)
{
	struct convo_msg src[MAX_MSGS], dst[MAX_MSGS], fresh[MAX_MSGS];
	struct pick_msg_facts facts[MAX_MSGS], ffacts[MAX_MSGS];
	struct pick_topics set;
	char *a, *b;
	size_t n = c->n;

	if (!n)
		return;
	memcpy(src, c->with, n * sizeof *src);
	src[n - 1] = c->plain[n - 1]; /* the new one: no facts yet */
	pick_topics_init(&set, c->topics);
	a = keep_facts(dst, src, facts, n, &set);
	b = keep_facts(fresh, c->plain, ffacts, n, &set);
	for (size_t i = 0; i < n; i++) {
		same_facts(&facts[i], &ffacts[i]);
		ck_assert_ptr_eq(facts[i].topics, &set);
		ck_assert_ptr_ne(facts[i].folded, c->facts[i].folded);
	}
	free(a);
	free(b);
	a = keep_facts(dst, c->with, facts, n, &c->set2);
	for (size_t i = 0; i < n; i++)
		same_facts(&facts[i], &c->facts2[i]);
	free(a);
}

START_TEST(facts_change_no_decision)
{
	const int contexts = 500;

	for (int i = 0; i < contexts; i++) {
		struct context *c = malloc(sizeof *c);

		ck_assert_ptr_nonnull(c);
		make_context(c);
		same_topic(c);
		same_after_rebuild(c);
		same_scores(c, NULL);
		same_targets(c, NULL);
		for (int k = 0; k < 3; k++) {
			const struct botspec *bs = &bots[below(NELEM(bots))];
			json_t *persona = make_persona();
			json_t *emotion = json_pack("{s:f}", "empathy", one_in(2) ? 0.8 : 0.4);
			/* Mostly the chat's topics, as the worker does; sometimes others,
			 * which the facts do not list. */
			json_t *other = one_in(4) ? make_topics() : NULL;
			struct pick_bot b;

			ck_assert_int_eq(pick_bot_from_json(&b, bs->id, bs->name, bs->username, persona,
							    emotion, other ? other : c->topics),
					 0);
			same_scores(c, &b);
			same_targets(c, &b);
			same_mentions(c, bs->username);
			json_decref(persona);
			json_decref(emotion);
			json_decref(other);
		}
		same_mentions(c, NULL);
		free_context(c);
		free(c);
	}
}
END_TEST

/* The few bytes kept per message are what they say. */
START_TEST(facts_read_as_documented)
{
	json_t *topics = json_pack("[s,s,s]", "BIST", "FX", "Altın");
	struct convo_msg m = { .text = "Sizce ALTIN ne olur? Borsa ÇÖKTÜ, @Kemal_Bot", .topic = "fx" };
	struct pick_msg_facts f;
	struct pick_topics set;
	char buf[128];

	pick_topics_init(&set, topics);
	ck_assert_uint_eq(set.n, 3);
	ck_assert_uint_eq(pick_facts_size(m.text), strlen(m.text) + 1);
	ck_assert_uint_eq(pick_facts_size(NULL), 1);
	ck_assert_uint_eq(pick_msg_facts(&f, &m, &set, buf, sizeof buf),
			  strlen("sizce altin ne olur? borsa coktu, @kemal_bot") + 1);
	ck_assert_str_eq(f.folded, "sizce altin ne olur? borsa coktu, @kemal_bot");
	ck_assert_int_eq(f.flags, PICK_F_QUESTION | PICK_F_CURIOUS | PICK_F_NEGATIVE | PICK_F_AT);
	ck_assert_int_eq(f.topic_bits, 7); /* BIST (borsa), FX (its metadata), Altın */
	ck_assert_int_eq(f.ulen, strlen(m.text));
	pick_topics_init(&set, NULL);
	ck_assert_uint_eq(set.n, 4);
	ck_assert_str_eq(set.names[3], "Makro");
	json_decref(topics);
}
END_TEST

static Suite *pickfacts_suite(void)
{
	Suite *s = suite_create("pickfacts");
	TCase *tc = tcase_create("facts");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, facts_read_as_documented);
	tcase_add_test(tc, facts_change_no_decision);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(pickfacts_suite)
