/* pick: see pick.h. The word lists are ours (BEHAVIOUR.md: every phrase list may
 * be rewritten); they are written in plain Turkish and folded when matched, which
 * costs a few microseconds per message and keeps them readable.
 *
 * Everything scoring and topic choice read from a message for any bot (the folded
 * text, '?', curiosity and negative words, which chat topics it speaks of) is
 * worked out in one place, facts_into: from the message's kept facts when it has
 * them, else on the spot, so both ways give the same answers by construction. */
#include "worker/chat/pick.h"

#include "common/backoff.h"

#include <string.h>
#include <strings.h>
#include <time.h>

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

/* yükseldi, yükseliş, arttı, rekor, güzel, iyi, harika, kazandı, toparlandı,
 * ralli, uçtu, uçuyor, süper, olumlu, sevindim, yeşil */
static const char *const positive[] = { "yukseldi", "yukselis", "artti",   "rekor",      "guzel",
					"iyi",      "harika",   "kazandi", "toparlandi", "ralli",
					"uctu",     "ucuyor",   "super",   "olumlu",     "sevindim",
					"yesil",    "📈",        "🚀",       NULL };

/* Every list above, for the test that they are stored folded. */
static const char *const *const folded_lists[] = { kw_bist,  kw_fx,     kw_fx_whole, kw_kripto,
						   kw_makro, curiosity, negative,    positive };

/* Tickers worth storing even when no watchlist names them. */
static const char *const known_symbols[] = {
	"THYAO", "GARAN", "ASELS", "AKBNK",  "EREGL",  "SISE",   "KCHOL", "BIMAS",
	"TUPRS", "SAHOL", "YKBNK", "ISCTR",  "FROTO",  "PGSUS",  "TCELL", "KOZAL",
	"SASA",  "HEKTS", "XU100", "XU030",  "BTC",    "ETH",    "XRP",   "BNB",
	"AVAX",  "DOGE",  "USDT",  "USDTRY", "EURTRY", "XAUUSD", NULL,
};

static const char *const emoji_up[] = { "📈", "🚀", "💪", "🔥", "👏" };
static const char *const emoji_down[] = { "📉", "😬", "😕", "😟", "🤕" };
static const char *const emoji_talk[] = { "💬", "🤔", "👀", "🧐" };

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

size_t pick_fold(const char *in, char *out, size_t outsz)
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

static int count_any(const struct scan *sc, const char *const *list)
{
	int n = 0;

	for (size_t i = 0; list[i]; i++)
		n += has_keyword(sc, list[i], 0);
	return n;
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
	k->n = pick_fold(topic, k->t, sizeof k->t);
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
	mt->n = mt->has ? pick_fold(topic, mt->t, sizeof mt->t) : 0;
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

/* ---- the bot ---- */

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

int pick_bot_from_json(struct pick_bot *b, int64_t id, const char *name, const char *username,
		       const json_t *persona, const json_t *emotion, const json_t *chat_topics)
{
	json_t *e = json_is_object(emotion) ? json_object_get(emotion, "empathy") : NULL;

	if (!b)
		return -1;
	memset(b, 0, sizeof *b);
	b->id = id;
	b->name = name;
	b->username = username;
	if (json_is_object(persona))
		b->nwatch =
			strings_of(json_object_get(persona, "watchlist"), b->watch, PICK_MAX_WATCH);
	b->ntopics = topics_of(chat_topics, b->topics);
	b->empathy = json_is_number(e) ? json_number_value(e) : 0.5;
	return 0;
}

/* ---- facts ---- */

void pick_topics_init(struct pick_topics *t, const json_t *chat_topics)
{
	t->n = topics_of(chat_topics, t->names);
}

/* The same topics in the same order: detection depends on the names alone. */
static int same_topics(const struct pick_topics *a, const struct pick_topics *b)
{
	if (a == b)
		return 1;
	if (!a || !b || a->n != b->n)
		return 0;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->names[i], b->names[i]) != 0)
			return 0;
	return 1;
}

/* Bytes of text that ascii_upper(text, .., PICK_TEXT_MAX) keeps: the symbols of
 * a watchlist are matched in these. */
static size_t upper_len(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t o = 0;

	while (s[o]) {
		size_t n = s[o] < 0x80 ? 1 : char_len(s + o);

		if (o + n >= PICK_TEXT_MAX)
			break;
		o += n;
	}
	return o;
}

size_t pick_facts_size(const char *text)
{
	size_t n = text ? strnlen(text, PICK_TEXT_MAX) + 1 : 1;

	return n < PICK_TEXT_MAX ? n : PICK_TEXT_MAX;
}

/* m's facts into f, its folded text into buf, the scan of it left in sc. */
static size_t facts_into(struct pick_msg_facts *f, const struct convo_msg *m,
			 const struct pick_topics *ts, char *buf, size_t bufsz, struct scan *sc)
{
	const char *text = m->text ? m->text : "";
	size_t len = pick_fold(text, buf, bufsz);
	struct topic_key key;
	struct msg_topic mt;

	memset(f, 0, sizeof *f);
	f->folded = buf;
	f->topics = ts;
	f->ulen = (uint16_t)upper_len(text);
	scan_init(sc, buf, len);
	if (strchr(buf, '?') || strstr(buf, "？"))
		f->flags |= PICK_F_QUESTION;
	if (has_any(sc, curiosity, 1))
		f->flags |= PICK_F_CURIOUS;
	if (has_any(sc, negative, 0))
		f->flags |= PICK_F_NEGATIVE;
	if (strchr(buf, '@'))
		f->flags |= PICK_F_AT;
	if (ts && ts->n)
		msg_topic(&mt, m->topic);
	for (size_t j = 0; ts && j < ts->n && j < PICK_MAX_TOPICS; j++) {
		topic_key(&key, ts->names[j]);
		if (detects(sc, &mt, &key))
			f->topic_bits |= (uint16_t)(1u << j);
	}
	return len + 1;
}

size_t pick_msg_facts(struct pick_msg_facts *f, const struct convo_msg *m,
		      const struct pick_topics *ts, char *buf, size_t bufsz)
{
	const struct pick_msg_facts *old = m->facts;
	struct scan sc;
	size_t len;

	if (!bufsz) {
		memset(f, 0, sizeof *f);
		f->folded = "";
		f->topics = ts;
		return 0;
	}
	if (old && old->folded && same_topics(old->topics, ts) && (len = strlen(old->folded)) < bufsz) {
		*f = *old;
		f->folded = memcpy(buf, old->folded, len + 1);
		f->topics = ts;
		return len + 1;
	}
	return facts_into(f, m, ts, buf, bufsz, &sc);
}

/* A message as scoring and topic detection read it: its facts (its own, or
 * worked out now into own and buf), the scan of its folded text and its folded
 * metadata topic, both made only when a topic outside the facts' list is
 * looked for. */
struct msg_reading {
	const struct convo_msg *m;
	const struct pick_msg_facts *f;
	struct pick_msg_facts own;
	int scanned, topic_ready;
	struct msg_topic mt;
	struct scan sc;
	char buf[PICK_TEXT_MAX];
};

static void reading_init(struct msg_reading *r, const struct convo_msg *m)
{
	r->m = m;
	r->f = m->facts;
	r->scanned = r->topic_ready = 0;
	if (!r->f) {
		facts_into(&r->own, m, NULL, r->buf, sizeof r->buf, &r->sc);
		r->f = &r->own;
		r->scanned = 1;
	}
}

/* Where each of a set of topics sits in the list that messages' facts refer to
 * (bit -1: not there), worked out again only when the list changes: the
 * messages of one chat context share theirs. */
struct topic_map {
	int ready;
	const struct pick_topics *of;
	int bit[PICK_MAX_TOPICS];
};

static void map_topics(struct topic_map *tm, const char *const *names, size_t n,
		       const struct pick_topics *of)
{
	if (tm->ready && tm->of == of)
		return;
	tm->ready = 1;
	tm->of = of;
	for (size_t i = 0; i < n; i++) {
		tm->bit[i] = -1;
		for (size_t j = 0; of && j < of->n && tm->bit[i] < 0; j++)
			if (strcmp(names[i], of->names[j]) == 0)
				tm->bit[i] = (int)j;
	}
}

/* Does the message speak of the topic k (at bit in its facts' list, or -1)? */
static int reading_detects(struct msg_reading *r, int bit, const struct topic_key *k)
{
	if (bit >= 0)
		return r->f->topic_bits >> bit & 1;
	if (!r->scanned) {
		scan_init(&r->sc, r->f->folded, strlen(r->f->folded));
		r->scanned = 1;
	}
	if (!r->topic_ready) {
		msg_topic(&r->mt, r->m->topic);
		r->topic_ready = 1;
	}
	return detects(&r->sc, &r->mt, k);
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

/* What scoring matches for one bot, prepared once per call: pick_target scores up
 * to PICK_WINDOW messages against the same bot. */
struct bot_keys {
	char user[WORD_MAX];                  /* "@username" folded, "" when none */
	char name[WORD_MAX];                  /* the name folded, "" when none */
	char watch[PICK_MAX_WATCH][WORD_MAX]; /* the watchlist in capitals */
	size_t watch_len[PICK_MAX_WATCH];
	/* a symbol of ASCII bytes alone in small letters (else ""): such a symbol
	 * is in the folded text wherever it is in the text (see watched_in) */
	char watch_folded[PICK_MAX_WATCH][WORD_MAX];
	size_t nwatch, ntopics;
	struct topic_key topics[PICK_MAX_TOPICS];
	struct topic_map map; /* the topics in the messages' facts */
};

static void bot_keys(struct bot_keys *k, const struct pick_bot *b)
{
	k->user[0] = k->name[0] = '\0';
	if (b->username && *b->username) {
		k->user[0] = '@';
		pick_fold(b->username, k->user + 1, sizeof k->user - 1);
	}
	if (b->name)
		pick_fold(b->name, k->name, sizeof k->name);
	k->nwatch = b->nwatch < PICK_MAX_WATCH ? b->nwatch : PICK_MAX_WATCH;
	for (size_t i = 0; i < k->nwatch; i++) {
		size_t n = ascii_upper(b->watch[i], k->watch[i], sizeof k->watch[i]), j;

		k->watch_len[i] = n;
		for (j = 0; j < n && (unsigned char)k->watch[i][j] < 0x80; j++) {
			char c = k->watch[i][j];

			k->watch_folded[i][j] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		k->watch_folded[i][j < n ? 0 : n] = '\0';
	}
	k->ntopics = b->ntopics < PICK_MAX_TOPICS ? b->ntopics : PICK_MAX_TOPICS;
	for (size_t i = 0; i < k->ntopics; i++)
		topic_key(&k->topics[i], b->topics[i]);
	k->map.ready = 0;
}

/* has_word over the folded text is scan_has(.., WHOLE) without the scan: the
 * bot's two names are all that is left to look for per message. */
static int mentions(const struct pick_msg_facts *f, const struct bot_keys *k)
{
	return ((f->flags & PICK_F_AT) && has_word(f->folded, k->user, 0)) ||
	       has_word(f->folded, k->name, 0);
}

static char upper(char c)
{
	return (char)(c >= 'a' && c <= 'z' ? c - 32 : c);
}

/* sym (in capitals, nl > 0 bytes) at text + p, compared in ASCII capitals, as
 * has_word would find it in ascii_upper(text) cut at len bytes; p is where a
 * word starts, or sym starts with neither a letter nor a digit. */
static int symbol_at(const char *text, size_t len, size_t p, const char *sym, size_t nl)
{
	if (p + nl > len)
		return 0;
	for (size_t j = 0; j < nl; j++)
		if (upper(text[p + j]) != sym[j])
			return 0;
	return !(is_word(sym[nl - 1]) && p + nl < len && is_word(text[p + nl]));
}

/* How many of the watchlist's symbols (in capitals) the first len bytes of text
 * hold as whole words: scan_has(.., WHOLE) over ascii_upper(text) for each, in
 * one pass over the text and without the copy. A symbol that starts with a
 * letter or digit can only match where a word starts. Most symbols are in
 * no message: one of ASCII bytes alone is first looked for in the folded text
 * (a fast strstr), where its bytes would be too, in small letters and side by
 * side (an ASCII byte is a character of its own, and folding reads at least
 * as much of the text as len); only a symbol found there is matched for real. */
static int watched_in(const char *text, size_t len, const char *folded, const struct bot_keys *k)
{
	const size_t *nl = k->watch_len;
	uint32_t found = 0, wanted = 0;
	int prev = 0, n = 0;

	for (size_t i = 0; i < k->nwatch; i++) {
		if (!nl[i] || (k->watch_folded[i][0] && !strstr(folded, k->watch_folded[i])))
			continue;
		if (is_word(k->watch[i][0])) {
			wanted |= 1u << i;
			continue;
		}
		for (size_t p = 0; p + nl[i] <= len && !(found >> i & 1); p++)
			if (symbol_at(text, len, p, k->watch[i], nl[i]))
				found |= 1u << i;
	}
	for (size_t p = 0; p < len && wanted; p++) {
		int w = is_word(text[p]);

		if (w && !prev)
			for (size_t i = 0; i < k->nwatch; i++)
				if ((wanted >> i & 1) && k->watch[i][0] == upper(text[p]) &&
				    symbol_at(text, len, p, k->watch[i], nl[i])) {
					found |= 1u << i;
					wanted &= ~(1u << i);
				}
		prev = w;
	}
	for (; found; found &= found - 1)
		n++;
	return n;
}

int pick_mentions_user(const char *text, const char *username)
{
	char folded[PICK_TEXT_MAX], k[WORD_MAX];

	/* "@" folds from "@" alone: without one, nothing to fold. */
	if (!text || !username || !*username || !strchr(text, '@'))
		return 0;
	pick_fold(text, folded, sizeof folded);
	k[0] = '@';
	pick_fold(username, k + 1, sizeof k - 1);
	return has_word(folded, k, 0);
}

int pick_mentions(const struct convo_msg *m, const char *username)
{
	char k[WORD_MAX];

	if (!m->facts)
		return pick_mentions_user(m->text, username);
	if (!username || !*username || !(m->facts->flags & PICK_F_AT))
		return 0;
	k[0] = '@';
	pick_fold(username, k + 1, sizeof k - 1);
	return has_word(m->facts->folded, k, 0);
}

/* pick_score of r's message with b's keys prepared (k unused when b is NULL).
 * The points are added in the order of the table, so a score is the same
 * double whichever way the facts came. */
static double score_with(struct msg_reading *r, const struct pick_bot *b, struct bot_keys *k,
			 int64_t now_ms, int replies_to_m)
{
	const struct convo_msg *m = r->m;
	const struct pick_msg_facts *f = r->f;
	double s = m->bot_id == 0 ? 8.0 : 2.5;

	s += age_points(now_ms - m->at_ms);
	if (f->flags & PICK_F_QUESTION)
		s += 4;
	if (f->flags & PICK_F_CURIOUS)
		s += 3;
	if (replies_to_m >= 2)
		s += 1.5;
	if (!b)
		return s;
	if (mentions(f, k))
		s += 15;
	for (int i = k->nwatch ? watched_in(m->text ? m->text : "", f->ulen, f->folded, k) : 0;
	     i > 0; i--)
		s += 2.5;
	map_topics(&k->map, b->topics, k->ntopics, f->topics);
	for (size_t i = 0; i < k->ntopics; i++)
		if (reading_detects(r, k->map.bit[i], &k->topics[i]))
			s += 1.5;
	if (b->empathy > 0.7 && (m->sentiment < 0 || (f->flags & PICK_F_NEGATIVE)))
		s += 2;
	return s;
}

double pick_score(const struct convo_msg *m, const struct pick_bot *b, int64_t now_ms, int replies_to_m)
{
	struct bot_keys k;
	struct msg_reading r;

	if (b)
		bot_keys(&k, b);
	reading_init(&r, m);
	return score_with(&r, b, &k, now_ms, replies_to_m);
}

/* replies[i - start]: how many of msgs answer msgs[i] (by a non-zero tg_id),
 * for the window [start, n). Only the answers are matched against the window,
 * not every message against every other. */
static void count_replies(const struct convo_msg *msgs, size_t n, size_t start, int *replies)
{
	for (size_t i = start; i < n; i++)
		replies[i - start] = 0;
	for (size_t j = 0; j < n; j++)
		for (size_t i = start; msgs[j].reply_to_tg && i < n; i++)
			replies[i - start] += msgs[i].tg_id == msgs[j].reply_to_tg;
}

static double weight(double score)
{
	return score > 0.1 ? score : 0.1;
}

int pick_target(const struct convo_msg *msgs, size_t n, const struct pick_bot *b, int64_t now_ms,
		uint64_t *rng)
{
	size_t start = n > PICK_WINDOW ? n - PICK_WINDOW : 0;
	int top[PICK_TOP];
	double sc[PICK_TOP], total = 0, u;
	int nt = 0, replies[PICK_WINDOW];
	struct bot_keys keys;
	struct msg_reading r;

	if (!msgs)
		return -1;
	if (b)
		bot_keys(&keys, b);
	count_replies(msgs, n, start, replies);
	/* Newest first, and only a strictly better score displaces: ties keep the newer. */
	for (size_t i = n; i-- > start;) {
		double s;
		int k;

		if (b && b->id != 0 && msgs[i].bot_id == b->id)
			continue;
		reading_init(&r, &msgs[i]);
		s = score_with(&r, b, &keys, now_ms, replies[i - start]);
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

/* ---- chances ---- */

struct pick_probs pick_probs_default(void)
{
	return (struct pick_probs){ .reply = 0.65,
				    .reply_to_bots = 0.5,
				    .mention = 0.35,
				    .short_reaction = 0.12,
				    .len_short = 0.55,
				    .len_medium = 0.35,
				    .len_long = 0.10 };
}

void pick_probs_bias_length(struct pick_probs *pp, const json_t *persona)
{
	json_t *style = json_is_object(persona) ? json_object_get(persona, "style") : NULL;
	json_t *len = json_is_object(style) ? json_object_get(style, "length") : NULL;
	const char *v = json_is_string(len) ? json_string_value(len) : "";

	if (!pp)
		return;
	if (strcmp(v, "short") == 0)
		pp->len_short *= 2;
	else if (strcmp(v, "medium") == 0)
		pp->len_medium *= 2;
	else if (strcmp(v, "long") == 0)
		pp->len_long *= 2;
}

static int chance(double p, uint64_t *rng)
{
	return backoff_uniform(rng) < p;
}

static struct pick_probs probs_or_default(const struct pick_probs *pp)
{
	return pp ? *pp : pick_probs_default();
}

enum pick_mode pick_mode(const struct pick_probs *pp, const struct convo_msg *newest_or_null,
			 uint64_t *rng)
{
	struct pick_probs p = probs_or_default(pp);

	if (!newest_or_null)
		return PICK_OPEN;
	return chance(newest_or_null->bot_id ? p.reply_to_bots : p.reply, rng) ? PICK_REPLY : PICK_OPEN;
}

int pick_short_reaction(const struct pick_probs *pp, uint64_t *rng)
{
	return chance(probs_or_default(pp).short_reaction, rng);
}

int pick_mention(const struct pick_probs *pp, uint64_t *rng)
{
	return chance(probs_or_default(pp).mention, rng);
}

/* Uniform index in [0, n). */
static size_t draw_index(size_t n, uint64_t *rng)
{
	size_t i = (size_t)(backoff_uniform(rng) * (double)n);

	return i < n ? i : n - 1;
}

const char *pick_reaction_emoji(int sentiment, uint64_t *rng)
{
	if (sentiment > 0)
		return emoji_up[draw_index(NELEM(emoji_up), rng)];
	if (sentiment < 0)
		return emoji_down[draw_index(NELEM(emoji_down), rng)];
	return emoji_talk[draw_index(NELEM(emoji_talk), rng)];
}

enum pick_length pick_length(const struct pick_probs *pp, uint64_t *rng)
{
	struct pick_probs p = probs_or_default(pp);
	double w[3] = { p.len_short, p.len_medium, p.len_long }, total = 0, u;

	for (int i = 0; i < 3; i++) {
		w[i] = w[i] > 0 ? w[i] : 0;
		total += w[i];
	}
	if (!(total > 0)) {
		p = pick_probs_default();
		w[0] = p.len_short;
		w[1] = p.len_medium;
		w[2] = p.len_long;
		total = w[0] + w[1] + w[2];
	}
	u = backoff_uniform(rng) * total;
	if (u < w[0])
		return PICK_SHORT;
	return u < w[0] + w[1] ? PICK_MEDIUM : PICK_LONG;
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
		pick_fold(json_string_value(t), f, sizeof f);
		if (strcmp(f, ft) != 0)
			continue;
		ms = parse_time_ms(json_string_value(c));
		if (ms > end)
			end = ms;
	}
	return end;
}

const char *pick_topic(const json_t *chat_topics, const json_t *stances,
		       const struct convo_msg *msgs, size_t n, int64_t now_ms, uint64_t *rng)
{
	const char *all[PICK_MAX_TOPICS], *cand[PICK_MAX_TOPICS];
	struct topic_key keys[PICK_MAX_TOPICS];
	int64_t ends[PICK_MAX_TOPICS];
	int counts[PICK_MAX_TOPICS] = { 0 };
	size_t nall = topics_of(chat_topics, all), nc = 0, first = 0, nbest = 0;
	struct topic_map map = { 0 };
	struct msg_reading r;
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
		reading_init(&r, &msgs[m]);
		map_topics(&map, cand, nc, r.f->topics);
		for (size_t i = 0; i < nc; i++)
			counts[i] += reading_detects(&r, map.bit[i], &keys[i]);
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

/* The weighed choice. The strict rule above (the most mentioned topic) feeds
 * itself: each message on the leading topic makes it lead more, and in the demo
 * 41 of 43 messages were about BIST. Here the persona's watchlist pulls towards
 * its own topics, the recent share of a topic pushes back, and a reply leans to
 * its target's topic without being bound to it. */
#define TOPIC_FLOOR 0.15   /* a topic none of the watchlist points to still comes up */
#define TOPIC_RECENT 15    /* messages that make "recently" */
#define TOPIC_SATURATE 0.9 /* a topic with the whole recent transcript keeps 10% */

/* How strongly the watchlist points at each topic, 0..1 (the topic most of its
 * symbols name is 1). 0 everywhere when none does. */
static void watch_affinity(const json_t *watchlist, const struct topic_key *keys, size_t nk, double *aff)
{
	const char *watch[PICK_MAX_WATCH];
	size_t nw = strings_of(watchlist, watch, PICK_MAX_WATCH);
	struct msg_topic none = { .has = 0 };
	char f[WORD_MAX];
	struct scan sc;
	double most = 0;

	for (size_t i = 0; i < nk; i++)
		aff[i] = 0;
	for (size_t w = 0; w < nw; w++) {
		scan_init(&sc, f, pick_fold(watch[w], f, sizeof f));
		for (size_t i = 0; i < nk; i++)
			aff[i] += detects(&sc, &none, &keys[i]);
	}
	for (size_t i = 0; i < nk; i++)
		most = aff[i] > most ? aff[i] : most;
	for (size_t i = 0; i < nk && most > 0; i++)
		aff[i] /= most;
}

size_t pick_topic_weights(const json_t *chat_topics, const json_t *stances, const json_t *watchlist,
			  const char *lean, const struct convo_msg *msgs, size_t n, int64_t now_ms,
			  const char **names, double *w)
{
	const char *all[PICK_MAX_TOPICS];
	struct topic_key keys[PICK_MAX_TOPICS];
	double aff[PICK_MAX_TOPICS];
	int counts[PICK_MAX_TOPICS] = { 0 }, total = 0;
	size_t nall = topics_of(chat_topics, all), nc = 0,
	       from = n > TOPIC_RECENT ? n - TOPIC_RECENT : 0;
	struct topic_map map = { 0 };
	struct msg_reading r;
	char fl[WORD_MAX];

	if (lean)
		pick_fold(lean, fl, sizeof fl);
	for (size_t i = 0; i < nall; i++) {
		topic_key(&keys[nc], all[i]);
		if (cooldown_end(stances, keys[nc].t) <= now_ms)
			names[nc++] = all[i];
	}
	if (!nc)
		return 0;
	watch_affinity(watchlist, keys, nc, aff);
	for (size_t m = from; msgs && m < n; m++) {
		reading_init(&r, &msgs[m]);
		map_topics(&map, names, nc, r.f->topics);
		for (size_t i = 0; i < nc; i++) {
			int d = reading_detects(&r, map.bit[i], &keys[i]);

			counts[i] += d;
			total += d;
		}
	}
	for (size_t i = 0; i < nc; i++) {
		double share = total ? (double)counts[i] / total : 0;

		w[i] = (TOPIC_FLOOR + aff[i]) * (1 - TOPIC_SATURATE * share);
		if (lean && strcmp(keys[i].t, fl) == 0)
			w[i] *= 3; /* a reply keeps to what it answers, mostly */
	}
	return nc;
}

const char *pick_topic_weighed(const json_t *chat_topics, const json_t *stances,
			       const json_t *watchlist, const char *lean,
			       const struct convo_msg *msgs, size_t n, int64_t now_ms, uint64_t *rng)
{
	const char *names[PICK_MAX_TOPICS];
	double w[PICK_MAX_TOPICS], total = 0, u;
	size_t nc =
		pick_topic_weights(chat_topics, stances, watchlist, lean, msgs, n, now_ms, names, w);

	if (!nc) /* every topic cools down: the strict rule names the one free soonest */
		return pick_topic(chat_topics, stances, msgs, n, now_ms, rng);
	for (size_t i = 0; i < nc; i++)
		total += w[i];
	u = backoff_uniform(rng) * total;
	for (size_t i = 0; i < nc; i++) {
		if (u < w[i])
			return names[i];
		u -= w[i];
	}
	return names[nc - 1];
}

const char *pick_focus(const json_t *watchlist, const char *topic, uint64_t *rng)
{
	const char *watch[PICK_MAX_WATCH], *hit[PICK_MAX_WATCH];
	size_t nw = strings_of(watchlist, watch, PICK_MAX_WATCH), nh = 0;
	struct msg_topic none = { .has = 0 };
	struct topic_key key;
	char f[WORD_MAX];
	struct scan sc;

	if (!topic || !*topic)
		return NULL;
	topic_key(&key, topic);
	for (size_t w = 0; w < nw; w++) {
		scan_init(&sc, f, pick_fold(watch[w], f, sizeof f));
		if (detects(&sc, &none, &key))
			hit[nh++] = watch[w];
	}
	return nh ? hit[draw_index(nh, rng)] : NULL;
}

/* ---- metadata ---- */

static int add_symbol(const char **out, int n, const char *sym)
{
	for (int i = 0; i < n; i++)
		if (strcasecmp(out[i], sym) == 0)
			return n;
	out[n] = sym;
	return n + 1;
}

int pick_symbols(const char *text, const json_t *watchlist, const char **out, int max)
{
	const char *watch[PICK_MAX_WATCH];
	char upper[PICK_TEXT_MAX], sym[WORD_MAX];
	size_t nw = strings_of(watchlist, watch, PICK_MAX_WATCH);
	struct scan sc;
	int n = 0;

	if (max > PICK_MAX_SYMBOLS)
		max = PICK_MAX_SYMBOLS;
	if (!text || !out || max <= 0)
		return 0;
	/* The watchlist's symbols folded, against the text folded: a symbol in
	 * Turkish letters is written in any case ("ALTIN" is "gram altın",
	 * "TÜFE" "tüfe"), whole words only ("altında" is no ALTIN). */
	scan_init(&sc, upper, pick_fold(text, upper, sizeof upper));
	for (size_t i = 0; i < nw && n < max; i++) {
		pick_fold(watch[i], sym, sizeof sym);
		if (scan_has(&sc, sym, WHOLE))
			n = add_symbol(out, n, watch[i]);
	}
	scan_init(&sc, upper, ascii_upper(text, upper, sizeof upper));
	for (size_t i = 0; known_symbols[i] && n < max; i++)
		if (scan_has(&sc, known_symbols[i], WHOLE))
			n = add_symbol(out, n, known_symbols[i]);
	return n;
}

int pick_lists_folded(void)
{
	char f[WORD_MAX];

	for (size_t i = 0; i < NELEM(folded_lists); i++)
		for (size_t j = 0; folded_lists[i][j]; j++)
			if (pick_fold(folded_lists[i][j], f, sizeof f) != strlen(folded_lists[i][j]) ||
			    strcmp(f, folded_lists[i][j]) != 0)
				return 0;
	for (size_t i = 0; i < NELEM(topic_table); i++)
		for (size_t j = 0; topic_table[i].names[j]; j++)
			if (pick_fold(topic_table[i].names[j], f, sizeof f) == 0 ||
			    strcmp(f, topic_table[i].names[j]) != 0)
				return 0;
	/* The tickers are matched as written, against a text in capitals. */
	for (size_t i = 0; known_symbols[i]; i++)
		if (ascii_upper(known_symbols[i], f, sizeof f) == 0 || strcmp(f, known_symbols[i]) != 0)
			return 0;
	return 1;
}

int pick_sentiment(const char *text)
{
	char folded[PICK_TEXT_MAX];
	struct scan sc;
	int score;

	scan_init(&sc, folded, pick_fold(text ? text : "", folded, sizeof folded));
	score = count_any(&sc, positive) - count_any(&sc, negative);
	return score > 0 ? 1 : score < 0 ? -1 : 0;
}
