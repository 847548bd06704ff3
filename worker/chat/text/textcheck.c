/* textcheck: see textcheck.h. The completion is first flattened (control bytes,
 * markdown, newlines gone), then judged on the flat text, then trimmed of the
 * leading assistant habits until nothing more comes off, then capped. Phrases are
 * compared code point by code point after a fold that lowercases the Turkish way
 * and drops dots and cedillas, so the lists below are written once, in plain
 * Turkish, and match whatever keyboard the model imitated. */
#include "worker/chat/text/textcheck.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A sentence end this close to the cap (in code points) is a better cut than a
 * word boundary: the message then ends on a whole sentence. */
#define CAP_SENTENCE_WINDOW 150
/* Labels longer than this are prose, not a speaker's name. */
#define LABEL_MAX_BYTES 64
#define NAME_MAX_CP 24

/* Promises of gain; longer spellings first so why names the most specific one.
 * A match may carry a suffix ("garantisi", "kaçırmayınız"). */
static const char *const promises[] = {
	"kesin kazandıracak",
	"kesin kazandırır",
	"kesin kazanırsınız",
	"kesin kazanç",
	"kesin getiri",
	"garantili",
	"garanti",
	"%100 kazanç",
	"% 100 kazanç",
	"%100 getiri",
	"yüzde yüz kazanç",
	"yüzde 100 kazanç",
	"risksiz kazanç",
	"risksiz getiri",
	"zengin olacaksınız",
	"zengin olursunuz",
	"zengin olacaksın",
	"kaçırmayın",
	"bu fırsatı kaçırma",
	"sakın kaçırma",
	"guaranteed profit",
	"guaranteed return",
	"guaranteed gain",
	"risk-free",
	"risk free",
	"100% profit",
	"get rich",
};

/* A word right after a promise that turns it into a warning. */
static const char *const negations[] = {
	"değil", "yok", "olmaz", "veremez", "veremem", "verilemez", "edemez", "edemem",
};

/* Words after "garanti" that make it the bank (ticker GARAN), not a promise. */
static const char *const garanti_bank[] = { "bbva", "bank", "hisse", "payı", "paylar" };

/* The message says it is a machine: dropped, since cutting the sentence out would
 * leave a message written in that voice anyway. */
static const char *const ai_phrases[] = {
	"yapay zeka olarak",
	"yapay zekayım",
	"yapay zeka modeli",
	"yapay zeka asistan",
	"bir yapay zeka olarak",
	"ben bir yapay zeka",
	"dil modeli olarak",
	"dil modeliyim",
	"bir dil modeli",
	"asistan olarak",
	"bir asistanım",
	"ben bir asistan",
	"ben bir bot",
	"bir bot olarak",
	"size nasıl yardımcı olabilirim",
	"nasıl yardımcı olabilirim",
	"as an ai",
	"i am an ai",
	"i'm an ai",
	"as a language model",
	"language model",
	"as an assistant",
	"i'm an assistant",
	"i am an assistant",
	"how can i help",
	"i cannot provide",
	"i can't provide",
};

/* Leading assistant openers, cut when punctuation follows ("Tabii ki! ...",
 * "Sure, ..."); "Elbette dolar yükselir" is a person talking and stays. */
static const char *const openers[] = {
	"tabii ki",     "tabi ki",     "tabii",          "tabi",     "elbette",
	"memnuniyetle", "harika soru", "güzel soru",     "iyi soru", "of course",
	"certainly",    "absolutely",  "great question", "sure",
};

/* First words of "Name:" that are market labels ("Dolar: 34,50" stays). */
static const char *const label_keep[] = {
	"dolar", "euro",     "avro", "altın",     "gümüş",  "bist",   "borsa",  "bitcoin", "btc",
	"eth",   "ethereum", "faiz", "enflasyon", "petrol", "brent",  "hedef",  "destek",  "direnç",
	"stop",  "fed",      "tcmb", "usd",       "eur",    "kripto", "endeks", "sterlin", "ons",
};

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* --- UTF-8 ---------------------------------------------------------------- */

size_t textcheck_utf8_next(const char *s, size_t len, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	uint32_t c, min;
	size_t n, i;

	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if (u[0] >= 0xC2 && u[0] <= 0xDF) {
		n = 2, c = u[0] & 0x1F, min = 0x80;
	} else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
		n = 3, c = u[0] & 0x0F, min = 0x800;
	} else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
		n = 4, c = u[0] & 0x07, min = 0x10000;
	} else {
		*cp = TEXTCHECK_BAD_CP;
		return 1;
	}
	if (len < n)
		goto bad;
	for (i = 1; i < n; i++) {
		if ((u[i] & 0xC0) != 0x80)
			goto bad;
		c = (c << 6) | (u[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		goto bad;
	*cp = c;
	return n;
bad:
	*cp = TEXTCHECK_BAD_CP;
	return 1;
}

/* textcheck_utf8_next inlined for ASCII, which is most of any text. */
static inline size_t next_cp(const char *s, size_t len, uint32_t *cp)
{
	if ((unsigned char)*s < 0x80) {
		*cp = (unsigned char)*s;
		return 1;
	}
	return textcheck_utf8_next(s, len, cp);
}

size_t textcheck_utf8_put(uint32_t cp, char *out)
{
	unsigned char *u = (unsigned char *)out;

	if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
		cp = 0xFFFD;
	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | (cp >> 6));
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | (cp >> 12));
		u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	u[0] = (unsigned char)(0xF0 | (cp >> 18));
	u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	u[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

int textcheck_utf8_valid(const char *s, size_t len)
{
	size_t i = 0;
	uint32_t cp;

	while (i < len) {
		i += next_cp(s + i, len - i, &cp);
		if (cp == TEXTCHECK_BAD_CP)
			return 0;
	}
	return 1;
}

size_t textcheck_utf8_count(const char *s)
{
	size_t len = strlen(s), i = 0, n = 0;
	uint32_t cp;

	while (i < len) {
		i += next_cp(s + i, len - i, &cp);
		n++;
	}
	return n;
}

size_t textcheck_utf8_sanitize(char *s)
{
	size_t len = strlen(s), i = 0, o = 0, n;
	uint32_t cp;

	while (i < len) {
		n = next_cp(s + i, len - i, &cp);
		if (cp != TEXTCHECK_BAD_CP) {
			memmove(s + o, s + i, n);
			o += n;
		}
		i += n;
	}
	s[o] = '\0';
	return o;
}

/* --- case and classes ----------------------------------------------------- */

uint32_t textcheck_lower(uint32_t cp)
{
	if (cp == 'I')
		return 0x131;
	if (cp >= 'A' && cp <= 'Z')
		return cp + 32;
	if (cp < 0xC0)
		return cp;
	if (cp <= 0xDE)
		return cp == 0xD7 ? cp : cp + 0x20;
	if (cp == 0x130)
		return 'i';
	if ((cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) ||
	    (cp >= 0x14A && cp <= 0x177))
		return (cp & 1) ? cp : cp + 1;
	if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
		return (cp & 1) ? cp + 1 : cp;
	if (cp == 0x178)
		return 0xFF;
	return cp;
}

uint32_t textcheck_upper(uint32_t cp)
{
	if (cp == 'i')
		return 0x130;
	if (cp == 0x131)
		return 'I';
	if (cp >= 'a' && cp <= 'z')
		return cp - 32;
	if (cp < 0xE0)
		return cp;
	if (cp <= 0xFE)
		return cp == 0xF7 ? cp : cp - 0x20;
	if (cp == 0xFF)
		return 0x178;
	if ((cp >= 0x100 && cp <= 0x12F) || (cp >= 0x132 && cp <= 0x137) ||
	    (cp >= 0x14A && cp <= 0x177))
		return (cp & 1) ? cp - 1 : cp;
	if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E))
		return (cp & 1) ? cp : cp - 1;
	return cp;
}

struct range {
	uint32_t lo, hi;
};

static int in_ranges(uint32_t cp, const struct range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (cp >= r[i].lo && cp <= r[i].hi)
			return 1;
	return 0;
}

/* Punctuation, signs and combining marks inside the alphabets below U+2000. */
static const struct range not_letters_low[] = {
	{ 0x2B0, 0x36F },   { 0x375, 0x375 },   { 0x37E, 0x37E },   { 0x384, 0x385 },
	{ 0x387, 0x387 },   { 0x482, 0x489 },   { 0x55A, 0x55F },   { 0x589, 0x58A },
	{ 0x591, 0x5C7 },   { 0x5F3, 0x5F4 },   { 0x600, 0x61F },   { 0x64B, 0x66D },
	{ 0x6D4, 0x6D4 },   { 0x964, 0x965 },   { 0xE4F, 0xE4F },   { 0xE5A, 0xE5B },
	{ 0x10FB, 0x10FB }, { 0x1360, 0x1368 }, { 0x1AB0, 0x1AFF }, { 0x1DC0, 0x1DFF },
};

/* The alphabets from U+2000 up; everything else there is a symbol or emoji. */
static const struct range letters_high[] = {
	{ 0x2C00, 0x2DFF }, { 0x3040, 0x30FA }, { 0x30FC, 0x318F },   { 0x31A0, 0x31FF },
	{ 0x3400, 0x4DBF }, { 0x4E00, 0x9FFF }, { 0xA000, 0xA4CF },   { 0xA640, 0xA69F },
	{ 0xA720, 0xA7FF }, { 0xAB30, 0xAB6F }, { 0xAC00, 0xD7AF },   { 0xF900, 0xFAFF },
	{ 0xFB00, 0xFD3D }, { 0xFD40, 0xFDFF }, { 0xFE70, 0xFEFC },   { 0xFF21, 0xFF3A },
	{ 0xFF41, 0xFF5A }, { 0xFF66, 0xFFDC }, { 0x10000, 0x1EFFF }, { 0x20000, 0x3FFFF },
};

static const struct range emoji[] = {
	{ 0x200D, 0x200D }, { 0x203C, 0x203C }, { 0x2049, 0x2049 },   { 0x20E3, 0x20E3 },
	{ 0x2122, 0x2122 }, { 0x2139, 0x2139 }, { 0x2190, 0x21FF },   { 0x2300, 0x23FF },
	{ 0x24C2, 0x24C2 }, { 0x25A0, 0x25FF }, { 0x2600, 0x27BF },   { 0x2934, 0x2935 },
	{ 0x2B00, 0x2BFF }, { 0x3030, 0x3030 }, { 0x303D, 0x303D },   { 0x3297, 0x3297 },
	{ 0x3299, 0x3299 }, { 0xFE0E, 0xFE0F }, { 0x1F000, 0x1FAFF }, { 0xE0020, 0xE007F },
};

int textcheck_is_letter(uint32_t cp)
{
	if (cp < 0x80)
		return (cp | 32) >= 'a' && (cp | 32) <= 'z';
	if (cp < 0xC0)
		return cp == 0xAA || cp == 0xB5 || cp == 0xBA;
	if (cp < 0x2B0)
		return cp != 0xD7 && cp != 0xF7;
	if (cp < 0x2000)
		return !in_ranges(cp, not_letters_low, NELEM(not_letters_low));
	return in_ranges(cp, letters_high, NELEM(letters_high));
}

int textcheck_is_emoji(uint32_t cp)
{
	return cp >= 0x2000 && in_ranges(cp, emoji, NELEM(emoji));
}

/* --- phrase matching ------------------------------------------------------ */

/* Lowercase, dotless and without cedillas: the keyboard-independent skeleton. */
static uint32_t fold(uint32_t cp)
{
	cp = textcheck_lower(cp);
	switch (cp) {
	case 0x131:
	case 0xEE: return 'i';
	case 0x15F: return 's';
	case 0x11F: return 'g';
	case 0xE7: return 'c';
	case 0xF6: return 'o';
	case 0xFC:
	case 0xFB: return 'u';
	case 0xE2: return 'a';
	case 0x2019:
	case 0x2018: return '\'';
	default: return cp;
	}
}

static int is_word_cp(uint32_t cp)
{
	return textcheck_is_letter(cp) || (cp >= '0' && cp <= '9');
}

static int is_space_cp(uint32_t cp)
{
	return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
	       cp == 0xA0 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
	       cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

/* The code point that ends just before byte pos (0 at the start). */
static uint32_t cp_before(const char *s, size_t pos)
{
	size_t b = pos;
	uint32_t cp;

	if (pos == 0)
		return 0;
	do
		b--;
	while (b > 0 && pos - b < 4 && ((unsigned char)s[b] & 0xC0) == 0x80);
	textcheck_utf8_next(s + b, pos - b, &cp);
	return cp;
}

static uint32_t cp_at(const char *s, size_t len, size_t pos)
{
	uint32_t cp;

	if (pos >= len)
		return 0;
	textcheck_utf8_next(s + pos, len - pos, &cp);
	return cp;
}

/* fold() of an ASCII byte: only the letters change. */
static unsigned char fold_ascii(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Bytes of s (len available) matched by pat (plen bytes) under fold, or 0. */
static size_t match_fold_n(const char *s, size_t len, const char *pat, size_t plen)
{
	size_t i = 0, j = 0;
	uint32_t a, b;

	while (j < plen) {
		if (i >= len)
			return 0;
		unsigned char ca = (unsigned char)s[i], cb = (unsigned char)pat[j];
		/* Two ASCII bytes need no decoding; ASCII against a non-ASCII letter does
		 * (ı, İ, ş fold to ASCII). */
		if (ca < 0x80 && cb < 0x80) {
			if (fold_ascii(ca) != fold_ascii(cb))
				return 0;
			i++;
			j++;
			continue;
		}
		size_t na = textcheck_utf8_next(s + i, len - i, &a);
		size_t nb = textcheck_utf8_next(pat + j, plen - j, &b);
		if (fold(a) != fold(b))
			return 0;
		i += na;
		j += nb;
	}
	return i;
}

static size_t match_fold(const char *s, size_t len, const char *pat)
{
	return match_fold_n(s, len, pat, strlen(pat));
}

size_t textcheck_fold_prefix(const char *s, size_t len, const char *pat)
{
	return match_fold(s, len, pat);
}

int textcheck_fold_contains(const char *s, const char *pat)
{
	size_t len = strlen(s), plen = strlen(pat);

	if (!plen)
		return 1;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80 && match_fold_n(s + i, len - i, pat, plen))
			return 1;
	return 0;
}

/* The text once under fold, as UTF-8, so that a phrase (folded once too) is found
 * with memmem instead of being decoded and folded at every byte. An invalid byte
 * becomes 0xFF, which no folded phrase contains. fold() never lengthens a
 * character, so f needs no more room than the source. */
struct folded {
	char *f;
	size_t *src; /* src[k]: source offset of the character folded byte k belongs to */
	size_t len;  /* src[len] is the source length */
};

/* Folds s (len bytes) into t, whose f and src have room for len + 1 entries. */
static void fold_text(const char *s, size_t len, struct folded *t)
{
	size_t i = 0, o = 0;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		uint32_t cp;
		size_t n, k;

		if (c < 0x80) {
			t->src[o] = i++;
			t->f[o++] = (char)fold_ascii(c);
			continue;
		}
		n = textcheck_utf8_next(s + i, len - i, &cp);
		if (cp == TEXTCHECK_BAD_CP) {
			t->f[o] = (char)0xFF;
			k = 1;
		} else {
			k = textcheck_utf8_put(fold(cp), t->f + o);
		}
		while (k--)
			t->src[o++] = i;
		i += n;
	}
	t->src[o] = len;
	t->f[o] = '\0';
	t->len = o;
}

/* Longer than any listed phrase; one that did not fit would be cut short and so
 * match more, which for a filter errs on the refusing side. */
#define PHRASE_MAX 64

/* A listed phrase under fold, built once. */
struct phrase {
	char f[PHRASE_MAX];
	size_t len;
	int need_start; /* starts with a letter or digit: must start a word */
};

static struct phrase promises_f[NELEM(promises)], ai_phrases_f[NELEM(ai_phrases)];
static pthread_once_t phrases_once = PTHREAD_ONCE_INIT;

static void fold_phrase(const char *pat, struct phrase *p)
{
	size_t len = strlen(pat), i = 0, o = 0;
	char buf[4];
	uint32_t cp;

	textcheck_utf8_next(pat, len, &cp);
	p->need_start = is_word_cp(cp);
	while (i < len) {
		size_t n = textcheck_utf8_next(pat + i, len - i, &cp);
		size_t k = textcheck_utf8_put(fold(cp), buf);

		if (o + k >= sizeof p->f)
			break;
		memcpy(p->f + o, buf, k);
		o += k;
		i += n;
	}
	p->len = o;
}

static void fold_phrases(void)
{
	for (size_t i = 0; i < NELEM(promises); i++)
		fold_phrase(promises[i], &promises_f[i]);
	for (size_t i = 0; i < NELEM(ai_phrases); i++)
		fold_phrase(ai_phrases[i], &ai_phrases_f[i]);
}

/* First match of p in t at or after folded offset from that starts a word (when p
 * starts with a letter or digit); its folded offset, or -1. s is the source. */
static long find_word(const char *s, const struct folded *t, const struct phrase *p, size_t from)
{
	while (p->len && from + p->len <= t->len) {
		const char *hit = memmem(t->f + from, t->len - from, p->f, p->len);
		size_t k;

		if (!hit)
			return -1;
		k = (size_t)(hit - t->f);
		if (!p->need_start || !is_word_cp(cp_before(s, t->src[k])))
			return (long)k;
		from = k + 1;
	}
	return -1;
}

/* The word starting at pos (after at most one space) matches one of list as a
 * prefix. */
static int next_word_in(const char *s, size_t len, size_t pos, const char *const *list, size_t n)
{
	if (pos < len && s[pos] == ' ')
		pos++;
	for (size_t i = 0; i < n; i++)
		if (match_fold(s + pos, len - pos, list[i]))
			return 1;
	return 0;
}

/* A promise that is negated or names the bank is no promise. */
static int promise_excused(const char *s, size_t len, const char *pat, size_t end)
{
	uint32_t cp;

	while (end < len && textcheck_is_letter(cp = cp_at(s, len, end)))
		end += textcheck_utf8_next(s + end, len - end, &cp);
	if (next_word_in(s, len, end, negations, NELEM(negations)))
		return 1;
	if (strcmp(pat, "garanti") != 0)
		return 0;
	cp = cp_at(s, len, end);
	if (cp == '\'' || cp == 0x2019)
		return 1; /* Garanti'nin, Garanti'de: a name takes its suffix after an apostrophe */
	return next_word_in(s, len, end, garanti_bank, NELEM(garanti_bank));
}

static int find_promise(const char *s, size_t len, const struct folded *t, const char **which)
{
	for (size_t i = 0; i < NELEM(promises); i++) {
		const struct phrase *p = &promises_f[i];
		size_t from = 0;
		long at;

		while ((at = find_word(s, t, p, from)) >= 0) {
			from = (size_t)at + p->len;
			if (!promise_excused(s, len, promises[i], t->src[from])) {
				*which = promises[i];
				return 1;
			}
		}
	}
	return 0;
}

static int find_ai(const char *s, const struct folded *t, const char **which)
{
	for (size_t i = 0; i < NELEM(ai_phrases); i++)
		if (find_word(s, t, &ai_phrases_f[i], 0) >= 0) {
			*which = ai_phrases[i];
			return 1;
		}
	return 0;
}

/* --- flattening ----------------------------------------------------------- */

/* Invisible characters a chat message never needs, and that only hide or
 * reorder text: zero-width space and non-joiner, word joiner, BOM, the
 * invisible operators, the deprecated format controls, and every bidirectional
 * control (LRM, RLM, ALM, the embeddings and overrides U+202A..U+202E, the
 * isolates U+2066..U+2069): an override from a model turns a message around in
 * the chat. The zero-width joiner is not here: it is judged by its neighbours. */
static int is_invisible(uint32_t cp)
{
	return (cp >= 0x200B && cp <= 0x200C) || cp == 0x200E || cp == 0x200F || cp == 0x061C ||
	       (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF;
}

/* An emoji that a zero-width joiner may glue to another ("👨‍👩‍👧", "❤️‍🔥"). */
static int joins_emoji(uint32_t cp)
{
	return cp != 0x200D && textcheck_is_emoji(cp);
}

/* U+200D stays only inside an emoji sequence: between two emoji, as written. */
static int keep_joiner(uint32_t before, const char *next, size_t left)
{
	uint32_t after = 0;

	if (left)
		next_cp(next, left, &after);
	return joins_emoji(before) && joins_emoji(after);
}

/* Invalid bytes, control and invisible characters dropped (a zero-width joiner
 * but inside an emoji sequence); every kind of space becomes ' ', every line
 * break '\n' (kept for the line-based markdown pass). */
static size_t flatten_chars(const char *in, char *w)
{
	size_t len = strlen(in), i = 0, o = 0, n;
	uint32_t cp, prev = 0; /* the last character written */

	while (i < len) {
		n = next_cp(in + i, len - i, &cp);
		i += n;
		if (cp == TEXTCHECK_BAD_CP || is_invisible(cp) ||
		    (cp == 0x200D && !keep_joiner(prev, in + i, len - i)))
			continue;
		if (cp == '\n' || cp == 0x2028 || cp == 0x2029) {
			w[o++] = '\n';
			prev = '\n';
			continue;
		}
		if (is_space_cp(cp)) {
			w[o++] = ' ';
			prev = ' ';
			continue;
		}
		if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
			continue;
		for (size_t k = i - n; k < i; k++) /* 1 to 4 bytes: cheaper than memcpy */
			w[o++] = in[k];
		prev = cp;
	}
	w[o] = '\0';
	return o;
}

/* Length of a markdown marker at the start of a line ("## ", "- ", "> "), or 0. */
static size_t line_marker(const char *s)
{
	size_t k = 0;

	if (s[0] == '#') {
		while (s[k] == '#' && k < 6)
			k++;
		return (s[k] == ' ' || s[k] == '\0') ? k : 0;
	}
	if ((s[0] == '-' || s[0] == '*' || s[0] == '+' || s[0] == '>') && s[1] == ' ')
		return 1;
	if (!strncmp(s, "\xE2\x80\xA2", 3)) /* • */
		return 3;
	return 0;
}

/* Markdown off each line, lines joined with spaces, inline "**" and "`" dropped,
 * runs of spaces collapsed, both ends trimmed; in place. */
static void flatten_markdown(char *w)
{
	char *r = w, *o = w;
	int at_line = 1;

	while (*r) {
		if (at_line) {
			size_t k;

			while (*r == ' ')
				r++;
			while ((k = line_marker(r)) > 0) {
				r += k;
				while (*r == ' ')
					r++;
			}
			at_line = 0;
			continue;
		}
		if (*r == '\n') {
			at_line = 1;
			*r = ' ';
		}
		if (r[0] == '*' && r[1] == '*') {
			r += 2;
			continue;
		}
		if (*r == '`') {
			r++;
			continue;
		}
		if (*r == ' ' && (o == w || o[-1] == ' ')) {
			r++;
			continue;
		}
		*o++ = *r++;
	}
	while (o > w && o[-1] == ' ')
		o--;
	*o = '\0';
}

/* --- leading and surrounding clutter -------------------------------------- */

static void cut_front(char *w, size_t n)
{
	while (w[n] == ' ')
		n++;
	memmove(w, w + n, strlen(w + n) + 1);
}

static int is_terminal(uint32_t cp)
{
	return cp == '.' || cp == '!' || cp == '?' || cp == 0x2026;
}

/* "Tabii ki!", "Sure," and "İşte ...:" at the start. */
static int strip_opener(char *w)
{
	size_t len = strlen(w), m, k;
	uint32_t cp;

	for (size_t i = 0; i < NELEM(openers); i++) {
		m = match_fold(w, len, openers[i]);
		if (!m)
			continue;
		k = m;
		while (k < len &&
		       ((cp = cp_at(w, len, k)) == ',' || cp == ':' || cp == ';' || is_terminal(cp)))
			k += textcheck_utf8_next(w + k, len - k, &cp);
		if (k > m && (k == len || w[k] == ' ')) {
			cut_front(w, k);
			return 1;
		}
	}
	m = match_fold(w, len, "işte");
	if (!m || (m < len && textcheck_is_letter(cp_at(w, len, m))))
		return 0;
	/* "İşte mesajım: ..." introduces the message; a bare "İşte bu yüzden" is Turkish
	 * speech and stays. */
	for (k = m; k < len && k < m + LABEL_MAX_BYTES; k++) {
		if ((w[k] == ':' && (w[k + 1] == ' ' || w[k + 1] == '\0')) ||
		    ((w[k] == ',' || w[k] == '!') && k == m)) {
			cut_front(w, k + 1);
			return 1;
		}
		if (w[k] == '.' || w[k] == '?' || w[k] == '!')
			break;
	}
	return 0;
}

static int strip_bracket_label(char *w)
{
	char *close;

	if (w[0] != '[' || !(close = strchr(w, ']')) || close - w > LABEL_MAX_BYTES)
		return 0;
	if (memchr(w + 1, '[', (size_t)(close - w - 1)))
		return 0;
	close++;
	while (*close == ' ')
		close++;
	if (*close == ':')
		close++;
	cut_front(w, (size_t)(close - w));
	return 1;
}

static int is_name_cp(uint32_t cp)
{
	return is_word_cp(cp) || cp == '_' || cp == '.' || cp == '-';
}

/* "Ahmet:", "Ahmet Bey:", "@ahmet:" at the start: at most two words, capitalised
 * (or an @username), short, then a colon and a space. Market labels, tickers in
 * capitals and a colon before a number are kept ("Dolar: 34,50", "BIST: ..."). */
static int strip_name_label(char *w)
{
	size_t len = strlen(w), i = 0, words = 1, cps = 0, letters = 0, uppers = 0;
	uint32_t cp = cp_at(w, len, 0);

	if (!(cp == '@' || textcheck_upper(cp) == cp) || !(cp == '@' || textcheck_is_letter(cp)))
		return 0;
	while (i < len && cps <= NAME_MAX_CP) {
		size_t n = textcheck_utf8_next(w + i, len - i, &cp);

		if (cp == ':')
			break;
		if (cp == ' ') {
			if (++words > 2)
				return 0;
			uint32_t nx = cp_at(w, len, i + 1);
			if (textcheck_upper(nx) != nx || !textcheck_is_letter(nx))
				return 0;
		} else if (!(is_name_cp(cp) || (i == 0 && cp == '@'))) {
			return 0;
		}
		if (textcheck_is_letter(cp)) {
			letters++;
			uppers += textcheck_lower(cp) != cp;
		}
		cps++;
		i += n;
	}
	if (i >= len || w[i] != ':' || cps > NAME_MAX_CP || letters == 0)
		return 0;
	if (w[i + 1] != ' ' && w[i + 1] != '\0')
		return 0;
	if (words == 1 && uppers == letters && letters <= 6)
		return 0;
	for (size_t k = 0; k < NELEM(label_keep); k++) {
		size_t m = match_fold(w, len, label_keep[k]);
		if (m && !is_name_cp(cp_at(w, len, m)))
			return 0;
	}
	cp = cp_at(w, len, i + 2);
	if ((cp >= '0' && cp <= '9') || cp == '%' || cp == '$' || cp == '+' || cp == '-')
		return 0;
	cut_front(w, i + 1);
	return 1;
}

/* Quotes around the whole message, when no quote of the same kind is inside. */
static int strip_quotes(char *w)
{
	static const char *const pairs[][2] = {
		{ "\"", "\"" },
		{ "'", "'" },
		{ "\xE2\x80\x9C", "\xE2\x80\x9D" },
		{ "\xE2\x80\x9E", "\xE2\x80\x9C" },
		{ "\xC2\xAB", "\xC2\xBB" },
		{ "\xE2\x80\x98", "\xE2\x80\x99" },
	};
	size_t len = strlen(w);

	for (size_t i = 0; i < NELEM(pairs); i++) {
		size_t ol = strlen(pairs[i][0]), cl = strlen(pairs[i][1]);

		if (len < ol + cl || memcmp(w, pairs[i][0], ol) ||
		    memcmp(w + len - cl, pairs[i][1], cl))
			continue;
		w[len - cl] = '\0';
		if (strstr(w + ol, pairs[i][0]) || strstr(w + ol, pairs[i][1])) {
			memcpy(w + len - cl, pairs[i][1], cl);
			continue;
		}
		cut_front(w, ol);
		len = strlen(w);
		while (len > 0 && w[len - 1] == ' ')
			w[--len] = '\0';
		return 1;
	}
	return 0;
}

static int has_content(const char *s)
{
	size_t len = strlen(s), i = 0;
	uint32_t cp;

	while (i < len) {
		i += next_cp(s + i, len - i, &cp);
		if (is_word_cp(cp) || (textcheck_is_emoji(cp) && cp != 0x200D && cp != 0xFE0F))
			return 1;
	}
	return 0;
}

/* --- cap ------------------------------------------------------------------ */

size_t textcheck_cap(char *s, size_t max_cp)
{
	size_t len = strlen(s), i = 0, n = 0, lim, sent = 0, space = 0;
	uint32_t cp;

	while (i < len && n < max_cp) {
		size_t k = next_cp(s + i, len - i, &cp);

		if (cp == ' ' && n > 0)
			space = i;
		i += k;
		n++;
		if (is_terminal(cp) && n + CAP_SENTENCE_WINDOW >= max_cp && i < len && s[i] == ' ')
			sent = i;
	}
	if (i >= len)
		return len;
	lim = i;
	if (s[lim] == ' ')
		space = lim;
	if (sent) {
		s[sent] = '\0';
		return sent;
	}
	if (space) {
		while (space > 0 && strchr(" ,;:-", s[space - 1]))
			space--;
		if (space > 0) {
			s[space] = '\0';
			return space;
		}
	}
	s[lim] = '\0';
	return lim;
}

/* --- the filter ----------------------------------------------------------- */

static int refuse(char *why, size_t whylen, const char *what, const char *phrase)
{
	if (why && whylen) {
		if (phrase)
			snprintf(why, whylen, "%s: '%s'", what, phrase);
		else
			snprintf(why, whylen, "%s", what);
	}
	return -1;
}

int textcheck_clean(const char *in, char *out, size_t outlen, char *why, size_t whylen)
{
	const char *phrase;
	struct folded t;
	size_t len, n = strlen(in ? in : "");
	char *w;
	int rc;

	if (!n)
		return refuse(why, whylen, "empty answer", NULL);
	/* One block: the source map, then the flat copy, then its fold. */
	if (n >= SIZE_MAX / (sizeof *t.src + 2) || !(t.src = malloc((n + 1) * (sizeof *t.src + 2))))
		return refuse(why, whylen, "out of memory", NULL);
	w = (char *)(t.src + n + 1);
	t.f = w + n + 1;
	pthread_once(&phrases_once, fold_phrases);
	flatten_chars(in, w);
	flatten_markdown(w);
	len = strlen(w);
	fold_text(w, len, &t);
	if (find_ai(w, &t, &phrase)) {
		rc = refuse(why, whylen, "assistant voice", phrase);
	} else if (find_promise(w, len, &t, &phrase)) {
		rc = refuse(why, whylen, "promise of gain", phrase);
	} else {
		while (strip_quotes(w) || strip_bracket_label(w) || strip_name_label(w) ||
		       strip_opener(w))
			;
		len = textcheck_cap(w, TEXTCHECK_MAX_CP);
		if (!has_content(w))
			rc = refuse(why, whylen, "empty answer", NULL);
		else if (len + 1 > outlen)
			rc = refuse(why, whylen, "output buffer too small", NULL);
		else
			rc = 0, memcpy(out, w, len + 1);
	}
	free(t.src);
	return rc;
}
