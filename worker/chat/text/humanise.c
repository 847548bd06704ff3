/* humanise: see humanise.h. The text lives in one growable buffer; every step
 * finds its places afresh (protected spans, words, sentences) and splices, so no
 * step can be confused by what an earlier one inserted, and nothing is ever
 * written into a protected span: steps only insert between tokens or replace
 * whole unprotected words. The typo's correction is held back and appended after
 * the voice profile, so " *word" stays the last thing typed (bar an emoji). */
#include "worker/chat/text/humanise.h"

#include "common/backoff.h"
#include "worker/chat/text/textcheck.h"

#include <stdlib.h>
#include <string.h>

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_SENT 64
#define MAX_WORD_BYTES 64

struct buf {
	char *s;
	size_t len, cap;
};

struct sent {
	size_t start;    /* first byte */
	size_t body_end; /* end of the words, before trailing emoji and punctuation */
	size_t term_at;  /* start of the terminal run (== end when there is none) */
	size_t end;      /* after the terminal run */
	int words;       /* it holds at least one free letter */
	int open_end;    /* its last word is no particle: room for one at the end */
};

static const char *const openings[] = {
	"valla",        "bence",   "açıkçası",  "bak şimdi,",
	"hmm,",         "aslında", "şöyle ki,", "dürüst olmak gerekirse,",
	"bana kalırsa", "ya",
};
static const char *const openings_pro[] = {
	"bence", "açıkçası", "bana kalırsa", "kanaatimce", "şahsen",
};
/* First words that already open a message: no second opening then. */
static const char *const opening_words[] = {
	"valla",  "vallahi", "bence", "açıkçası",   "bak",    "hmm",  "aslında", "şöyle",
	"dürüst", "bana",    "ya",    "kanaatimce", "şahsen", "yani", "abi",     "kanka",
};

struct swap {
	const char *from, *to;
};

static const struct swap contractions[] = {
	{ "bir şeyler", "bi şeyler" }, { "bir şey", "bi şey" },        { "bir de", "bi de" },
	{ "bir daha", "bi daha" },     { "bir tane", "bi tane" },      { "bir dakika", "bi dakka" },
	{ "değil mi", "di mi" },       { "geliyor", "geliyo" },        { "gidiyor", "gidiyo" },
	{ "oluyor", "oluyo" },         { "yükseliyor", "yükseliyo" },  { "düşüyor", "düşüyo" },
	{ "yapıyorum", "yapıyom" },    { "diyorum", "diyom" },         { "biliyorum", "biliyom" },
	{ "bilmiyorum", "bilmiyom" },  { "düşünüyorum", "düşünüyom" }, { "bekliyorum", "bekliyom" },
	{ "olacak", "olcak" },         { "yapacak", "yapcak" },
};

static const char *const fillers[] = { "yani", "işte", "falan" };

/* Words a sentence may end with after which another tail word reads wrong
 * ("galiba falan", "değil mi galiba?"). */
static const char *const particles[] = {
	"galiba", "sanki", "sanırım", "yani", "işte", "falan", "filan", "abi",
	"kanka",  "mi",    "mı",      "mu",   "mü",   "di",    "ya",    "be",
};

static const char *const young_words[] = {
	"genç", "young", "slang", "argo", "gen z", "genz", "z kuşağı", "youth",
};
static const char *const pro_words[] = {
	"profesyonel", "professional", "kurumsal", "corporate", "formal",
	"resmi",       "ciddi",        "analist",  "analyst",
};

void humanise_probs_default(struct humanise_probs *p)
{
	*p = (struct humanise_probs){
		.opening = .40, .hesitation = .55, .contraction = .40, .filler = .35, .typo = .30
	};
}

void humanise_probs_default_human(struct humanise_probs *p)
{
	*p = (struct humanise_probs){
		.opening = .35, .hesitation = .25, .contraction = .20, .filler = .25, .typo = .12
	};
}

void humanise_voice_default(struct humanise_voice *v)
{
	*v = (struct humanise_voice){ .slang = .5,
				      .lowercase_start = .5,
				      .drop_period = .6,
				      .signature_emoji = .3,
				      .signature_phrase = .15 };
}

/* --- small helpers -------------------------------------------------------- */

static int chance(double p, uint64_t *rng)
{
	return backoff_uniform(rng) < p;
}

static size_t pick(size_t n, uint64_t *rng)
{
	return n ? (size_t)backoff_uniform_upto((int64_t)n - 1, rng) : 0;
}

static int is_sp(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_alnum_ascii(char c)
{
	return is_digit(c) || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

static int is_term(uint32_t cp)
{
	return cp == '.' || cp == '!' || cp == '?' || cp == 0x2026;
}

static uint32_t cp_at(const struct buf *b, size_t pos, size_t *n)
{
	uint32_t cp = 0;
	size_t k = 0;

	if (pos < b->len)
		k = textcheck_utf8_next(b->s + pos, b->len - pos, &cp);
	if (n)
		*n = k;
	return cp;
}

/* Start of the code point that ends at pos (pos > 0). */
static size_t cp_start_before(const struct buf *b, size_t pos)
{
	size_t i = pos - 1;

	while (i > 0 && pos - i < 4 && ((unsigned char)b->s[i] & 0xC0) == 0x80)
		i--;
	return i;
}

static int is_upper_letter(uint32_t cp)
{
	return textcheck_is_letter(cp) && textcheck_lower(cp) != cp;
}

static int is_lower_letter(uint32_t cp)
{
	return textcheck_is_letter(cp) && textcheck_upper(cp) != cp;
}

/* --- the buffer ----------------------------------------------------------- */

static int buf_splice(struct buf *b, size_t pos, size_t del, const char *ins, size_t n)
{
	size_t need = b->len - del + n + 1;

	if (need > b->cap) {
		size_t cap = b->cap * 2 > need ? b->cap * 2 : need;
		char *s = realloc(b->s, cap);
		if (!s)
			return -1;
		b->s = s;
		b->cap = cap;
	}
	memmove(b->s + pos + n, b->s + pos + del, b->len - pos - del + 1);
	memcpy(b->s + pos, ins, n);
	b->len = b->len - del + n;
	return 0;
}

static int buf_insert(struct buf *b, size_t pos, const char *ins)
{
	return buf_splice(b, pos, 0, ins, strlen(ins));
}

static int buf_append(struct buf *b, const char *ins)
{
	return buf_insert(b, b->len, ins);
}

/* Replaces the code point at pos by cp (the lengths may differ: İ -> i). */
static int buf_set_cp(struct buf *b, size_t pos, uint32_t cp)
{
	char enc[4];
	size_t old;

	cp_at(b, pos, &old);
	return buf_splice(b, pos, old, enc, textcheck_utf8_put(cp, enc));
}

/* --- protected spans ------------------------------------------------------ */

/* A chunk of non-space bytes that is a link or an address as a whole. */
static int is_link(const char *s, size_t n)
{
	const char *at = memchr(s, '@', n);

	if (memmem(s, n, "://", 3) || (at && at > s))
		return 1;
	if ((n >= 4 && !strncasecmp(s, "www.", 4)) || (n >= 5 && !strncasecmp(s, "t.me/", 5)))
		return 1;
	for (size_t i = 1; i + 1 < n; i++)
		if (s[i] == '.' && is_alnum_ascii(s[i - 1]) &&
		    ((s[i + 1] | 32) >= 'a' && (s[i + 1] | 32) <= 'z'))
			return 1;
	return 0;
}

/* Length of the @mention, $SYMBOL, #tag or number starting at s[0] (n bytes left
 * in the chunk), or 0. first: s starts the chunk (a sign may lead a number). */
static size_t token_len(const char *s, size_t n, int first)
{
	size_t j = 1;

	if (s[0] == '@' || s[0] == '$' || s[0] == '#') {
		while (j < n && (is_alnum_ascii(s[j]) || s[j] == '_' ||
				 (s[0] == '$' && s[j] == '.' && j + 1 < n && is_alnum_ascii(s[j + 1]))))
			j++;
		return j > 1 ? j : 0;
	}
	if (!is_digit(s[0])) {
		if (!(n > 1 && is_digit(s[1]) &&
		      (s[0] == '%' || (first && (s[0] == '+' || s[0] == '-')))))
			return 0;
	}
	j = 1;
	while (j < n) {
		if (is_digit(s[j]))
			j++;
		else if (strchr(".,:/", s[j]) && j + 1 < n && is_digit(s[j + 1]))
			j++;
		else if (s[j] == '%')
			return j + 1;
		else
			break;
	}
	return j;
}

/* 1 for each byte of b that no step may change. */
static unsigned char *protect_mask(const struct buf *b)
{
	unsigned char *m = calloc(b->len + 1, 1);
	size_t a = 0, e, z;

	if (!m)
		return NULL;
	while (a < b->len) {
		while (a < b->len && is_sp(b->s[a]))
			a++;
		for (z = a; z < b->len && !is_sp(b->s[z]); z++)
			;
		/* Sentence punctuation after a link is not part of it. */
		for (e = z; e > a && strchr(".,!?;:)\"'", b->s[e - 1]); e--)
			;
		if (e > a && is_link(b->s + a, e - a)) {
			memset(m + a, 1, e - a);
		} else {
			for (size_t i = a; i < e;) {
				size_t k = token_len(b->s + i, e - i, i == a);
				if (k)
					memset(m + i, 1, k), i += k;
				else
					i++;
			}
		}
		a = z;
	}
	return m;
}

/* Next run of free letters at or after from: 1 with [*ws, *we). */
static int next_word(const struct buf *b, const unsigned char *m, size_t from, size_t *ws, size_t *we)
{
	size_t i = from, n;
	uint32_t cp;

	while (i < b->len) {
		cp = cp_at(b, i, &n);
		if (!m[i] && textcheck_is_letter(cp)) {
			size_t j = i + n;
			while (j < b->len && !m[j] && textcheck_is_letter(cp_at(b, j, &n)))
				j += n;
			*ws = i;
			*we = j;
			return 1;
		}
		i += n;
	}
	return 0;
}

/* A word standing alone: not glued to a digit, a protected span, an apostrophe or
 * a "*" correction on either side. */
static int word_free(const struct buf *b, const unsigned char *m, size_t ws, size_t we)
{
	if (ws > 0) {
		char c = b->s[ws - 1];
		if (m[ws - 1] || is_digit(c) || c == '\'' || c == '*' || c == '-' || c == '_' ||
		    ((unsigned char)c & 0x80))
			return 0;
	}
	if (we < b->len) {
		char c = b->s[we];
		if (m[we] || is_digit(c) || c == '\'' || c == '*' || c == '-' || c == '_')
			return 0;
		if ((unsigned char)c & 0x80) {
			uint32_t cp = cp_at(b, we, NULL);
			if (cp != 0x2026 && !textcheck_is_emoji(cp) && cp != 0x201D && cp != 0xBB)
				return 0;
		}
	}
	return 1;
}

/* --- sentences ------------------------------------------------------------ */

static int last_word(const struct buf *b, const unsigned char *m, const struct sent *s, size_t *ws,
		     size_t *we);

static int is_particle(const struct buf *b, size_t ws, size_t we)
{
	for (size_t i = 0; i < NELEM(particles); i++)
		if (we - ws == strlen(particles[i]) &&
		    textcheck_fold_prefix(b->s + ws, we - ws, particles[i]))
			return 1;
	return 0;
}

static size_t body_end_of(const struct buf *b, size_t start, size_t end)
{
	while (end > start) {
		size_t i = cp_start_before(b, end);
		uint32_t cp = cp_at(b, i, NULL);
		if (!is_sp(b->s[i]) && !textcheck_is_emoji(cp))
			break;
		end = i;
	}
	return end;
}

static int has_free_letter(const struct buf *b, const unsigned char *m, size_t a, size_t z)
{
	size_t ws, we;

	return next_word(b, m, a, &ws, &we) && ws < z;
}

/* Splits b into sentences: a run of . ! ? … outside protected spans, followed by
 * a space or the end, ends one. */
static size_t sentences(const struct buf *b, const unsigned char *m, struct sent *out)
{
	size_t n = 0, i = 0, k, ws, we;

	while (i < b->len && n < MAX_SENT) {
		struct sent *s = &out[n];

		while (i < b->len && is_sp(b->s[i]))
			i++;
		if (i >= b->len)
			break;
		s->start = i;
		s->term_at = s->end = (size_t)-1;
		while (i < b->len) {
			if (!m[i] && is_term(cp_at(b, i, &k))) {
				size_t j = i;
				while (j < b->len && !m[j] && is_term(cp_at(b, j, &k)))
					j += k;
				if (j >= b->len || is_sp(b->s[j])) {
					s->term_at = i;
					s->end = i = j;
					break;
				}
				i = j;
				continue;
			}
			cp_at(b, i, &k);
			i += k;
		}
		if (s->end == (size_t)-1) {
			s->end = b->len;
			while (s->end > s->start && is_sp(b->s[s->end - 1]))
				s->end--;
			s->term_at = s->end;
		}
		s->body_end = body_end_of(b, s->start, s->term_at);
		s->words = has_free_letter(b, m, s->start, s->body_end);
		s->open_end = s->words && !(last_word(b, m, s, &ws, &we) && is_particle(b, ws, we));
		n++;
	}
	return n;
}

/* A random sentence with words (and, when end, room for a tail word), or -1. */
static long pick_sentence(const struct sent *s, size_t n, int end, uint64_t *rng)
{
	size_t idx[MAX_SENT], k = 0;

	for (size_t i = 0; i < n; i++)
		if (end ? s[i].open_end : s[i].words)
			idx[k++] = i;
	return k ? (long)idx[pick(k, rng)] : -1;
}

/* --- inserting phrases ---------------------------------------------------- */

/* Position after the leading @mentions (and the spaces after them). */
static size_t after_mentions(const struct buf *b)
{
	size_t i = 0;

	while (i < b->len && b->s[i] == '@') {
		size_t j = i + 1;
		while (j < b->len && (is_alnum_ascii(b->s[j]) || b->s[j] == '_'))
			j++;
		if (j == i + 1 || (j < b->len && !is_sp(b->s[j]) && b->s[j] != ','))
			break;
		while (j < b->len && (is_sp(b->s[j]) || b->s[j] == ','))
			j++;
		i = j;
	}
	return i;
}

/* Lowercases the first letter of a capitalised free word at pos ("Dolar" ->
 * "dolar"; "BIST", "$THYAO", "www.X.com" and one-letter words stay). */
static int decap_word(struct buf *b, size_t pos, int *changed)
{
	unsigned char *m = protect_mask(b);
	size_t ws, we, n;
	uint32_t c1, c2;
	int rc = 0;

	if (!m)
		return -1;
	if (next_word(b, m, pos, &ws, &we) && ws == pos && word_free(b, m, ws, we)) {
		c1 = cp_at(b, ws, &n);
		c2 = cp_at(b, ws + n, NULL);
		if (ws + n < we && is_upper_letter(c1) && is_lower_letter(c2)) {
			rc = buf_set_cp(b, ws, textcheck_lower(c1));
			if (changed)
				*changed = 1;
		}
	}
	free(m);
	return rc;
}

/* phrase (lowercase) with its first letter capitalised when cap, then tail. */
static char *phrase_cased(const char *phrase, int cap, const char *tail)
{
	size_t pl = strlen(phrase), tl = strlen(tail), n = 0;
	char *out = malloc(pl + tl + 5);
	uint32_t cp;

	if (!out)
		return NULL;
	if (cap && pl) {
		size_t k = textcheck_utf8_next(phrase, pl, &cp);
		n = textcheck_utf8_put(textcheck_upper(cp), out);
		memcpy(out + n, phrase + k, pl - k);
		n += pl - k;
	} else {
		memcpy(out, phrase, pl);
		n = pl;
	}
	memcpy(out + n, tail, tl + 1);
	return out;
}

/* Inserts "phrase " at pos. At a sentence start (or before a capital) the phrase
 * takes the capital and the word after it gives its own up. Returns the bytes
 * inserted, or -1. */
static long insert_start(struct buf *b, size_t pos, const char *phrase, int sentence_start)
{
	unsigned char *m = protect_mask(b);
	uint32_t cp = cp_at(b, pos, NULL);
	int cap;
	long n;
	char *t;

	if (!m)
		return -1;
	/* A sentence keeps its capital unless it starts with a word in lowercase
	 * (the persona writes so); a link or a number gives it to the phrase. */
	cap = is_upper_letter(cp) || (sentence_start && (!is_lower_letter(cp) || m[pos]));
	free(m);
	if (cap && decap_word(b, pos, NULL) < 0)
		return -1;
	if (!(t = phrase_cased(phrase, cap, " ")))
		return -1;
	n = buf_insert(b, pos, t) < 0 ? -1 : (long)strlen(t);
	free(t);
	return n;
}

/* The free word that ends the sentence body, when the body ends on one. */
static int last_word(const struct buf *b, const unsigned char *m, const struct sent *s, size_t *ws,
		     size_t *we)
{
	size_t a = s->start, x, y;
	int found = 0;

	while (next_word(b, m, a, &x, &y) && y <= s->body_end) {
		*ws = x, *we = y, found = 1;
		a = y;
	}
	return found && *we == s->body_end;
}

/* Inserts " word" at the end of the body of sentence s. */
static int insert_end(struct buf *b, const struct sent *s, const char *word, int *done)
{
	char t[64];

	t[0] = ' ';
	strncpy(t + 1, word, sizeof(t) - 2);
	t[sizeof(t) - 1] = '\0';
	*done = 1;
	return buf_insert(b, s->body_end, t);
}

/* --- the humanisers ------------------------------------------------------- */

static int first_word_opens(const struct buf *b, size_t pos)
{
	for (size_t i = 0; i < NELEM(opening_words); i++) {
		size_t k = textcheck_fold_prefix(b->s + pos, b->len - pos, opening_words[i]);
		if (k && !textcheck_is_letter(cp_at(b, pos + k, NULL)))
			return 1;
	}
	return 0;
}

/* Returns the byte after the inserted opening (0 when none), or -1. */
static long do_opening(struct buf *b, enum humanise_tone tone, uint64_t *rng)
{
	size_t pos = after_mentions(b);
	const char *o;
	long n;

	if (pos >= b->len || first_word_opens(b, pos))
		return 0;
	o = tone == HUMANISE_PRO ? openings_pro[pick(NELEM(openings_pro), rng)]
				 : openings[pick(NELEM(openings), rng)];
	n = insert_start(b, pos, o, pos == 0);
	return n < 0 ? -1 : (long)pos + n;
}

enum hes_kind { HES_END, HES_START, HES_DOTS };

static int do_hesitation(struct buf *b, enum humanise_tone tone, size_t opening_end, uint64_t *rng,
			 int *done)
{
	static const char *const casual_end[] = { "galiba", "sanki" };
	static const char *const pro_end[] = { "sanırım", "galiba" };
	struct sent s[MAX_SENT];
	unsigned char *m = protect_mask(b);
	enum hes_kind kind = HES_END;
	size_t n, pos;
	long i;
	int rc = 0;

	if (!m)
		return -1;
	n = sentences(b, m, s);
	if (tone != HUMANISE_PRO) {
		/* Half at the end ("galiba", "sanki"), a quarter each for the others. */
		size_t k = pick(4, rng);
		kind = k < 2 ? HES_END : k == 2 ? HES_START : HES_DOTS;
	}
	if (kind != HES_END && (i = pick_sentence(s, n, 0, rng)) < 0)
		goto out;
	if (kind == HES_DOTS) {
		const struct sent *t = &s[i];
		if (t->term_at == t->end) {
			*done = 1;
			rc = buf_insert(b, t->body_end, "...");
			goto out;
		}
		if (t->end - t->term_at == 1 && b->s[t->term_at] == '.') {
			*done = 1;
			rc = buf_insert(b, t->term_at, "..");
			goto out;
		}
		kind = HES_END; /* "?" and "!" keep their mark */
	}
	if (kind == HES_START) {
		pos = s[i].start;
		if (i == 0)
			pos = opening_end ? opening_end : after_mentions(b);
		if (pos < s[i].body_end) {
			*done = 1;
			rc = insert_start(b, pos, "bilmiyorum ama", pos == s[i].start) < 0 ? -1 : 0;
			goto out;
		}
	}
	if ((i = pick_sentence(s, n, 1, rng)) >= 0)
		rc = insert_end(b, &s[i],
				tone == HUMANISE_PRO ? pro_end[pick(2, rng)] : casual_end[pick(2, rng)],
				done);
out:
	free(m);
	return rc;
}

/* Length of text at pos matched by the lowercase words of from (single spaces
 * between them), ending on a word end; 0 when it does not match. */
static size_t match_words(const struct buf *b, const unsigned char *m, size_t pos, const char *from)
{
	size_t i = pos, j = 0, fl = strlen(from), k, kf;
	uint32_t a, c;

	while (j < fl) {
		if (i >= b->len || m[i])
			return 0;
		a = cp_at(b, i, &k);
		kf = textcheck_utf8_next(from + j, fl - j, &c);
		if (textcheck_lower(a) != c)
			return 0;
		i += k;
		j += kf;
	}
	return textcheck_is_letter(cp_at(b, i, NULL)) ? 0 : i - pos;
}

static int do_contractions(struct buf *b, int *done)
{
	size_t from = 0, ws, we, k;
	unsigned char *m;

	while ((m = protect_mask(b)) && next_word(b, m, from, &ws, &we)) {
		from = we;
		for (size_t i = 0; i < NELEM(contractions); i++) {
			if (!(k = match_words(b, m, ws, contractions[i].from)) ||
			    !word_free(b, m, ws, ws + k))
				continue;
			char *t = phrase_cased(contractions[i].to,
					       is_upper_letter(cp_at(b, ws, NULL)), "");
			if (!t || buf_splice(b, ws, k, t, strlen(t)) < 0) {
				free(t);
				free(m);
				return -1;
			}
			from = ws + strlen(t);
			free(t);
			*done = 1;
			break;
		}
		free(m);
	}
	if (!m)
		return -1;
	free(m);
	return 0;
}

static int do_filler(struct buf *b, uint64_t *rng, int *done)
{
	struct sent s[MAX_SENT];
	unsigned char *m = protect_mask(b);
	long i;
	int rc = 0;

	if (!m)
		return -1;
	i = pick_sentence(s, sentences(b, m, s), 1, rng);
	if (i >= 0)
		rc = insert_end(b, &s[i], fillers[pick(NELEM(fillers), rng)], done);
	free(m);
	return rc;
}

/* A free word of >= 5 letters, not all capitals, with two different adjacent
 * letters to swap (never the first letter). */
static int typo_candidate(const struct buf *b, const unsigned char *m, size_t ws, size_t we)
{
	size_t i = ws, n, cps = 0, lower = 0;
	uint32_t cp;

	if (we - ws >= MAX_WORD_BYTES || !word_free(b, m, ws, we))
		return 0;
	while (i < we) {
		cp = cp_at(b, i, &n);
		lower += is_lower_letter(cp);
		cps++;
		i += n;
	}
	return cps >= 5 && lower > 0;
}

/* Swaps two letters of a random candidate word; *fix receives the word as it was. */
static int do_typo(struct buf *b, uint64_t *rng, char *fix, int *done)
{
	size_t ws[MAX_SENT * 4], we[MAX_SENT * 4], n = 0, from = 0, x, y, k;
	uint32_t cps[MAX_WORD_BYTES];
	size_t nc = 0, at[MAX_WORD_BYTES], na = 0;
	unsigned char *m = protect_mask(b);
	char swapped[MAX_WORD_BYTES];

	if (!m)
		return -1;
	while (n < NELEM(ws) && next_word(b, m, from, &x, &y)) {
		if (typo_candidate(b, m, x, y))
			ws[n] = x, we[n++] = y;
		from = y;
	}
	free(m);
	if (n == 0)
		return 0;
	k = pick(n, rng);
	for (size_t i = ws[k], len; i < we[k]; i += len)
		cps[nc++] = cp_at(b, i, &len);
	for (size_t i = 1; i + 1 < nc; i++)
		if (cps[i] != cps[i + 1])
			at[na++] = i;
	if (na == 0)
		return 0;
	memcpy(fix, b->s + ws[k], we[k] - ws[k]);
	fix[we[k] - ws[k]] = '\0';
	x = at[pick(na, rng)];
	y = 0;
	for (size_t i = 0; i < nc; i++) {
		uint32_t c = i == x ? cps[x + 1] : i == x + 1 ? cps[x] : cps[i];
		y += textcheck_utf8_put(c, swapped + y);
	}
	*done = 1;
	return buf_splice(b, ws[k], we[k] - ws[k], swapped, y);
}

/* --- the voice profile ---------------------------------------------------- */

static int do_slang(struct buf *b, uint64_t *rng, int *done)
{
	struct sent s[MAX_SENT];
	unsigned char *m = protect_mask(b);
	size_t n, ws, we, pos;
	long i;
	int rc = 0, kind = (int)pick(4, rng);

	if (!m)
		return -1;
	n = sentences(b, m, s);
	if ((i = pick_sentence(s, n, 0, rng)) < 0)
		goto out;
	/* "resmen" goes before the verb, which Turkish puts last. */
	if (kind == 3 && last_word(b, m, &s[i], &ws, &we) && ws > s[i].start &&
	    !is_particle(b, ws, we)) {
		*done = 1;
		rc = buf_insert(b, ws, "resmen ");
		goto out;
	}
	if (kind <= 1) {
		pos = after_mentions(b);
		if (pos < b->len) {
			*done = 1;
			rc = insert_start(b, pos, kind ? "kanka" : "abi", pos == 0) < 0 ? -1 : 0;
			goto out;
		}
	}
	if ((i = pick_sentence(s, n, 1, rng)) >= 0)
		rc = insert_end(b, &s[i], "abi", done);
out:
	free(m);
	return rc;
}

/* Appends a signature phrase as its own sentence, or after a comma. */
static int append_phrase(struct buf *b, const char *phrase)
{
	struct buf ph = { (char *)phrase, strlen(phrase), 0 };
	uint32_t last, plast;
	char *t;
	int rc, cap;

	while (b->len && is_sp(b->s[b->len - 1]))
		b->s[--b->len] = '\0';
	if (!b->len)
		return buf_append(b, phrase);
	last = cp_at(b, cp_start_before(b, b->len), NULL);
	plast = cp_at(&ph, cp_start_before(&ph, ph.len), NULL);
	cap = is_term(last) && is_upper_letter(cp_at(b, after_mentions(b), NULL));
	if (!(t = phrase_cased(phrase, cap, "")))
		return -1;
	if (is_term(last) || textcheck_is_emoji(last))
		rc = buf_append(b, " ");
	else
		rc = buf_append(b, ", ");
	if (!rc)
		rc = buf_append(b, t);
	if (!rc && last == '.' && !is_term(plast) && !textcheck_is_emoji(plast))
		rc = buf_append(b, ".");
	free(t);
	return rc;
}

static int do_phrase(struct buf *b, const json_t *emotion, uint64_t *rng, int *done)
{
	const json_t *arr = json_object_get(emotion, "signature_phrases");
	const char *ok[32];
	size_t n = 0, i;
	json_t *e;
	int rc;

	json_array_foreach(arr, i, e) {
		const char *p = json_string_value(e);
		if (p && *p && n < NELEM(ok) && textcheck_utf8_valid(p, strlen(p)))
			ok[n++] = p;
	}
	if (n == 0)
		return 0;
	const char *p = ok[pick(n, rng)];
	if (textcheck_fold_contains(b->s, p))
		return 0;
	rc = append_phrase(b, p);
	*done = !rc;
	return rc;
}

/* Drops every emoji; a space left doubled, leading, trailing or before
 * punctuation by a removal goes too. */
static int strip_emoji(struct buf *b)
{
	size_t i = 0, o = 0, n;
	int removed = 0, just = 0;
	uint32_t cp;

	while (i < b->len) {
		cp = cp_at(b, i, &n);
		if (textcheck_is_emoji(cp)) {
			removed = just = 1;
			i += n;
			continue;
		}
		if (just && is_sp(b->s[i]) && (o == 0 || is_sp(b->s[o - 1]))) {
			i += n;
			continue;
		}
		if (just && o > 0 && is_sp(b->s[o - 1]) && strchr(".,!?;:", b->s[i]))
			o--;
		if (!is_sp(b->s[i]))
			just = 0;
		memmove(b->s + o, b->s + i, n);
		o += n;
		i += n;
	}
	while (removed && o > 0 && is_sp(b->s[o - 1]))
		o--;
	b->s[o] = '\0';
	b->len = o;
	return removed;
}

static int drop_period(struct buf *b)
{
	if (b->len >= 1 && b->s[b->len - 1] == '.' && (b->len == 1 || b->s[b->len - 2] != '.')) {
		b->s[--b->len] = '\0';
		return 1;
	}
	return 0;
}

static int append_emoji(struct buf *b, const json_t *emotion)
{
	const char *e = json_string_value(json_object_get(emotion, "signature_emoji"));

	if (!e || !*e || !textcheck_utf8_valid(e, strlen(e)) || strstr(b->s, e))
		return 0;
	while (b->len && is_sp(b->s[b->len - 1]))
		b->s[--b->len] = '\0';
	if (b->len && buf_append(b, " ") < 0)
		return -1;
	return buf_append(b, e) < 0 ? -1 : 1;
}

/* --- tone ----------------------------------------------------------------- */

static enum humanise_tone tone_of(const char *t)
{
	if (!t)
		return HUMANISE_NEUTRAL;
	for (size_t i = 0; i < NELEM(pro_words); i++)
		if (textcheck_fold_contains(t, pro_words[i]))
			return HUMANISE_PRO;
	for (size_t i = 0; i < NELEM(young_words); i++)
		if (textcheck_fold_contains(t, young_words[i]))
			return HUMANISE_YOUNG;
	return HUMANISE_NEUTRAL;
}

enum humanise_tone humanise_tone(const json_t *persona, const json_t *emotion)
{
	enum humanise_tone t = tone_of(json_string_value(json_object_get(persona, "tone")));

	return t != HUMANISE_NEUTRAL ? t
				     : tone_of(json_string_value(json_object_get(emotion, "tone")));
}

/* -1 unknown, 0 false, 1 true. */
static int emojis_setting(const json_t *persona)
{
	const json_t *v = json_object_get(json_object_get(persona, "style"), "emojis");

	return json_is_boolean(v) ? json_is_true(v) : -1;
}

/* --- the pipeline --------------------------------------------------------- */

struct run {
	struct buf b;
	struct humanise_probs p;
	struct humanise_voice v;
	enum humanise_tone tone;
	uint64_t *rng;
	unsigned did;
	char fix[MAX_WORD_BYTES];
};

static void damp(struct run *r)
{
	if (r->tone != HUMANISE_PRO)
		return;
	r->p.opening *= HUMANISE_PRO_OPENING;
	r->p.hesitation *= HUMANISE_PRO_HESITATION;
	r->p.typo *= HUMANISE_PRO_TYPO;
	r->p.contraction = 0;
	r->p.filler = 0;
}

static int humanisers(struct run *r)
{
	long opening_end = 0;
	int done;

	if (chance(r->p.opening, r->rng)) {
		if ((opening_end = do_opening(&r->b, r->tone, r->rng)) < 0)
			return -1;
		if (opening_end)
			r->did |= HUMANISE_DID_OPENING;
	}
	if (chance(r->p.hesitation, r->rng)) {
		done = 0;
		if (do_hesitation(&r->b, r->tone, (size_t)opening_end, r->rng, &done) < 0)
			return -1;
		r->did |= done ? HUMANISE_DID_HESITATION : 0;
	}
	if (chance(r->p.contraction, r->rng)) {
		done = 0;
		if (do_contractions(&r->b, &done) < 0)
			return -1;
		r->did |= done ? HUMANISE_DID_CONTRACTION : 0;
	}
	if (chance(r->p.filler, r->rng)) {
		done = 0;
		if (do_filler(&r->b, r->rng, &done) < 0)
			return -1;
		r->did |= done ? HUMANISE_DID_FILLER : 0;
	}
	if (chance(r->p.typo, r->rng)) {
		done = 0;
		if (do_typo(&r->b, r->rng, r->fix, &done) < 0)
			return -1;
		r->did |= done ? HUMANISE_DID_TYPO : 0;
	}
	return 0;
}

static int voice(struct run *r, const json_t *persona, const json_t *emotion)
{
	int emojis = emojis_setting(persona), done = 0, k;

	if (r->tone == HUMANISE_YOUNG && chance(r->v.slang, r->rng)) {
		if (do_slang(&r->b, r->rng, &done) < 0)
			return -1;
		r->did |= done ? HUMANISE_DID_SLANG : 0;
	}
	if (emotion && chance(r->v.signature_phrase, r->rng)) {
		done = 0;
		if (do_phrase(&r->b, emotion, r->rng, &done) < 0)
			return -1;
		r->did |= done ? HUMANISE_DID_PHRASE : 0;
	}
	if (emojis == 0 && strip_emoji(&r->b))
		r->did |= HUMANISE_DID_STRIP_EMOJI;
	if (r->tone == HUMANISE_YOUNG && chance(r->v.lowercase_start, r->rng)) {
		done = 0;
		if (decap_word(&r->b, after_mentions(&r->b), &done) < 0)
			return -1;
		r->did |= done ? HUMANISE_DID_LOWERCASE : 0;
	}
	if (r->tone == HUMANISE_YOUNG && chance(r->v.drop_period, r->rng) && drop_period(&r->b))
		r->did |= HUMANISE_DID_DROP_PERIOD;
	if (r->fix[0] && (buf_append(&r->b, " *") < 0 || buf_append(&r->b, r->fix) < 0))
		return -1;
	if (emojis == 1 && chance(r->v.signature_emoji, r->rng)) {
		if ((k = append_emoji(&r->b, emotion)) < 0)
			return -1;
		r->did |= k ? HUMANISE_DID_EMOJI : 0;
	}
	return 0;
}

char *humanise_ex(const char *text, const struct humanise_probs *p, const struct humanise_voice *v,
		  const json_t *persona, const json_t *emotion, uint64_t *rng, unsigned *applied)
{
	struct run r = { 0 };
	uint64_t local = 0;

	if (!text)
		return NULL;
	if (p)
		r.p = *p;
	else
		humanise_probs_default(&r.p);
	if (v)
		r.v = *v;
	else
		humanise_voice_default(&r.v);
	r.rng = rng ? rng : &local;
	r.tone = humanise_tone(persona, emotion);
	damp(&r);
	r.b.cap = strlen(text) + 256;
	if (!(r.b.s = malloc(r.b.cap)))
		return NULL;
	memcpy(r.b.s, text, strlen(text) + 1);
	r.b.len = textcheck_utf8_sanitize(r.b.s);
	if (r.b.len > 0 && (humanisers(&r) < 0 || voice(&r, persona, emotion) < 0)) {
		free(r.b.s);
		return NULL;
	}
	textcheck_cap(r.b.s, HUMANISE_MAX_CP);
	if (applied)
		*applied = r.did;
	return r.b.s;
}

char *humanise(const char *text, const struct humanise_probs *p, const json_t *persona,
	       const json_t *emotion, uint64_t *rng)
{
	return humanise_ex(text, p, NULL, persona, emotion, rng, NULL);
}
