/* compose: see compose.h. Prompts are built line by line into a growing buffer;
 * a line whose data is missing is skipped as a whole, and a heading is written
 * only once its first item is known to render. Data strings pass through
 * put_data(), the one place that caps, cuts on a character boundary, drops
 * malformed UTF-8 (the worker's JSON encoder would refuse the whole request) and
 * turns whatever may end a line into spaces: the ASCII and C1 controls (CR, VT,
 * FF, NEL U+0085) and U+2028, U+2029, which a model reads as line breaks as well
 * as "\n". Inside quotes a '"' of the data becomes '\'', so a name or a headline
 * cannot close its quote and go on as an instruction. */
#include "worker/chat/compose.h"

#include "common/backoff.h"
#include "common/utf8.h"
#include "worker/chat/pick.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define FOLD_MAX 256

/* ---- a growing string ---- */

struct sb {
	char *p;
	size_t len, cap;
	int oom;
};

static void sb_add(struct sb *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		if (!(p = realloc(b->p, cap))) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_puts(struct sb *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void sb_printf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Only for short formatted numbers; data strings go through put_data. */
static void sb_printf(struct sb *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n > 0)
		sb_add(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* The string (the caller frees it), or NULL after an allocation failed. */
static char *sb_done(struct sb *b)
{
	if (!b->oom && !b->p)
		sb_add(b, "", 0);
	if (b->oom) {
		free(b->p);
		return NULL;
	}
	return b->p;
}

/* ---- data strings ---- */

static size_t char_at(const unsigned char *p)
{
	return utf8_char((const char *)p, SIZE_MAX);
}

/* What put_data makes of the character of n bytes at p. */
enum ch { CH_COPY, CH_BLANK, CH_QUOTE };

static enum ch char_kind(const unsigned char *p, size_t n, int quoted)
{
	if (n == 1)
		return *p <= 0x20 || *p == 0x7F ? CH_BLANK
		       : quoted && *p == '"'    ? CH_QUOTE
						: CH_COPY;
	if (n == 2) /* the C1 controls U+0080..U+009F, NEL among them */
		return p[0] == 0xC2 && p[1] < 0xA0 ? CH_BLANK : CH_COPY;
	if (n == 3) /* U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR */
		return p[0] == 0xE2 && p[1] == 0x80 && (p[2] == 0xA8 || p[2] == 0xA9) ? CH_BLANK
										      : CH_COPY;
	return CH_COPY;
}

/* s as one clean line of at most cap bytes (plus "…" when cut): leading and
 * trailing blanks trimmed, anything that may end a line as a space, malformed
 * bytes left out, never cut inside a character; with quoted, '"' as '\''.
 * Returns the bytes of s rendered (0 = nothing was written). */
static size_t put_text_at(struct sb *b, const char *s, size_t cap, int quoted, int at_word)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t out = 0, pending = 0;         /* spaces held back until a visible character */
	size_t space_len = 0, space_out = 0; /* where the last space was written */

	if (!s)
		return 0;
	while (*p) {
		size_t n = char_at(p);
		enum ch k = n ? char_kind(p, n, quoted) : CH_BLANK;

		if (n == 0 || k == CH_BLANK) {
			pending += n && out > 0;
			p += n ? n : 1;
			continue;
		}
		if (out + (pending ? 1 : 0) + n > cap) {
			if (at_word && !pending && space_len) { /* no half word before "…" */
				b->len = space_len;
				if (b->p)
					b->p[space_len] = 0;
				out = space_out;
			}
			sb_puts(b, "…");
			break;
		}
		if (pending) {
			space_len = b->len;
			space_out = out;
			sb_add(b, " ", 1);
			out++;
			pending = 0;
		}
		/* This character and the plain ones after it that fit go in one
		 * copy: a prompt is mostly such runs, and a call per character was a
		 * tenth of the job's CPU. (A NUL ends the run as a control would.) */
		for (size_t m; k == CH_COPY && (m = char_at(p + n)) > 0 && out + n + m <= cap; n += m)
			if (char_kind(p + n, m, quoted) != CH_COPY)
				break;
		sb_add(b, k == CH_QUOTE ? "'" : (const char *)p, n);
		out += n;
		p += n;
	}
	return out;
}

static size_t put_text(struct sb *b, const char *s, size_t cap, int quoted)
{
	return put_text_at(b, s, cap, quoted, 0);
}

static size_t put_data(struct sb *b, const char *s, size_t cap)
{
	return put_text(b, s, cap, 0);
}

/* s in double quotes, which it cannot close; the quotes are written only when
 * something of s is. Returns the bytes of s rendered. */
static size_t put_quoted(struct sb *b, const char *s, size_t cap)
{
	size_t at = b->len, n;

	sb_puts(b, "\"");
	if (!(n = put_text(b, s, cap, 1))) {
		b->len = at;
		if (b->p)
			b->p[at] = 0;
		return 0;
	}
	sb_puts(b, "\"");
	return n;
}

/* 1 when put_data would show something of s. */
static int has_text(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t n; p && *p; p += n ? n : 1)
		if ((n = char_at(p)) && char_kind(p, n, 0) != CH_BLANK)
			return 1;
	return 0;
}

/* A string field with something visible in it, or NULL. */
static const char *str_of(const json_t *o, const char *key)
{
	json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;
	const char *s = json_is_string(v) ? json_string_value(v) : NULL;

	return has_text(s) ? s : NULL;
}

/* The visible strings of an array field, at most max. */
static size_t strs_of(const json_t *o, const char *key, const char **out, size_t max)
{
	json_t *arr = json_is_object(o) ? json_object_get(o, key) : NULL, *e;
	size_t i, n = 0;

	if (!json_is_array(arr))
		return 0;
	json_array_foreach(arr, i, e) {
		if (n == max)
			break;
		if (json_is_string(e) && has_text(json_string_value(e)))
			out[n++] = json_string_value(e);
	}
	return n;
}

/* "a<sep>b<sep>c", each quoted when quote is set. */
static void put_list(struct sb *b, const char *const *v, size_t n, const char *sep, int quote,
		     size_t cap)
{
	for (size_t i = 0; i < n; i++) {
		if (i)
			sb_puts(b, sep);
		if (quote)
			put_quoted(b, v[i], cap);
		else
			put_data(b, v[i], cap);
	}
}

/* A number as people write it: 1500, 98.35, 12.5, 0.0042 (1e+20 when absurd). */
static void put_num(struct sb *b, double x)
{
	char tmp[64];
	size_t n;

	if (fabs(x) >= 1e15 || fabs(x) < 1) {
		sb_printf(b, "%.6g", x);
		return;
	}
	n = (size_t)snprintf(tmp, sizeof tmp, "%.2f", x); /* always has a '.' */
	while (tmp[n - 1] == '0')
		tmp[--n] = 0;
	if (tmp[n - 1] == '.')
		tmp[--n] = 0;
	sb_puts(b, tmp);
}

/* ---- persona reading ---- */

enum tone { TONE_PLAIN, TONE_YOUNG, TONE_PRO };

static enum tone tone_class(const char *s)
{
	char f[FOLD_MAX];

	if (!s)
		return TONE_PLAIN;
	pick_fold(s, f, sizeof f);
	if (strstr(f, "profesyonel") || strstr(f, "professional") || strstr(f, "kurumsal"))
		return TONE_PRO;
	if (strstr(f, "genc") || strstr(f, "young"))
		return TONE_YOUNG;
	return TONE_PLAIN;
}

static enum tone tone_of(const struct compose_in *in)
{
	enum tone t = tone_class(str_of(in->persona, "tone"));

	return t != TONE_PLAIN ? t : tone_class(str_of(in->emotion, "tone"));
}

static const json_t *style_of(const struct compose_in *in)
{
	json_t *s = json_is_object(in->persona) ? json_object_get(in->persona, "style") : NULL;

	return json_is_object(s) ? s : NULL;
}

/* The chat language as "Turkish name (English name)", or NULL for Turkish. */
static const struct {
	const char *code, *tr, *en;
} languages[] = {
	{ "en", "İngilizce", "English" }, { "de", "Almanca", "German" },
	{ "fr", "Fransızca", "French" },  { "es", "İspanyolca", "Spanish" },
	{ "it", "İtalyanca", "Italian" }, { "ru", "Rusça", "Russian" },
	{ "ar", "Arapça", "Arabic" },     { "az", "Azerice", "Azerbaijani" },
	{ "nl", "Felemenkçe", "Dutch" },  { "pt", "Portekizce", "Portuguese" },
};

static int is_turkish(const char *lang)
{
	return !has_text(lang) || (strncasecmp(lang, "tr", 2) == 0 &&
				   (lang[2] == 0 || lang[2] == '-' || lang[2] == '_'));
}

/* ---- the system prompt ---- */

/* The name is quoted and called a name: a bot named "Emoji kullanma." must not
 * read as that instruction. */
static void sys_identity(struct sb *b, const struct compose_in *in)
{
	if (has_text(in->bot_name)) {
		sb_puts(b, "Adın ");
		put_quoted(b, in->bot_name, COMPOSE_CAP_WORD);
		sb_puts(b, ". Bir Telegram piyasa sohbet grubunun üyesisin ve grupta bu adla "
			   "yazıyorsun.\n");
		return;
	}
	sb_puts(b, "Sen bir Telegram piyasa sohbet grubunun üyesisin ve grupta kendi adınla "
		   "yazıyorsun.\n");
}

static void sys_tone(struct sb *b, const struct compose_in *in)
{
	static const char *const rule[] = {
		[TONE_PLAIN] = "Doğal ve samimi yaz; ağır argoya kaçma.",
		[TONE_YOUNG] = "Genç ve rahat yaz; argo, kısaltma ve esprili ifadeler serbest "
			       "(\"abi\", \"valla\", \"bi\").",
		[TONE_PRO] = "Profesyonel ve ölçülü yaz; argo, kısaltma ve laubali ifadeler "
			     "kullanma.",
	};
	const char *tone = str_of(in->persona, "tone"), *risk = str_of(in->persona, "risk_profile");

	if (tone) {
		sb_puts(b, "Üslubun: ");
		put_data(b, tone, COMPOSE_CAP_WORD);
		sb_puts(b, ". ");
	}
	sb_puts(b, rule[tone_of(in)]);
	sb_puts(b, "\n");
	if (risk) {
		sb_puts(b, "Risk profilin: ");
		put_data(b, risk, COMPOSE_CAP_WORD);
		sb_puts(b, ".\n");
	}
}

static void sys_emotion(struct sb *b, const struct compose_in *in)
{
	const char *tone = str_of(in->emotion, "tone"), *energy = str_of(in->emotion, "energy");
	json_t *e = json_is_object(in->emotion) ? json_object_get(in->emotion, "empathy") : NULL;
	const char *anec[2];
	size_t na = strs_of(in->emotion, "anecdotes", anec, 2);
	const char *sep = "";

	if (tone || energy || json_is_number(e)) {
		sb_puts(b, "Ruh halin: ");
		if (tone) {
			put_data(b, tone, COMPOSE_CAP_WORD);
			sep = "; ";
		}
		if (energy) {
			sb_puts(b, sep);
			sb_puts(b, "enerjin: ");
			put_data(b, energy, COMPOSE_CAP_WORD);
			sep = "; ";
		}
		if (json_is_number(e)) {
			double v = json_number_value(e);

			sb_puts(b, sep);
			sb_puts(b, v > 0.7 ? "empatin yüksek, karşındakinin kaygısını önemsersin"
				   : v >= 0.4 ? "empatin orta"
					      : "empatin düşük, duygusallığa kapılmazsın");
		}
		sb_puts(b, ".\n");
	}
	if (na) {
		sb_puts(b, "Ara sıra değinebileceğin anıların: ");
		put_list(b, anec, na, "; ", 1, COMPOSE_CAP_ITEM);
		sb_puts(b, ".\n");
	}
}

static void sys_style(struct sb *b, const struct compose_in *in)
{
	const json_t *style = style_of(in);
	json_t *emojis = style ? json_object_get(style, "emojis") : NULL;
	const char *sig = str_of(in->emotion, "signature_emoji");
	const char *len = str_of(style, "length"), *disc = str_of(style, "disclaimer");

	if (json_is_false(emojis)) {
		sb_puts(b, "Emoji kullanma.\n");
	} else if (json_is_true(emojis)) {
		sb_puts(b, "Emoji kullanabilirsin ama abartma, bir mesajda en fazla bir tane.");
		if (sig) {
			sb_puts(b, " İmza emojin: ");
			put_data(b, sig, COMPOSE_CAP_WORD);
			sb_puts(b, ".");
		}
		sb_puts(b, "\n");
	} else if (sig) {
		sb_puts(b, "İmza emojin: ");
		put_data(b, sig, COMPOSE_CAP_WORD);
		sb_puts(b, "; ara sıra kullan.\n");
	}
	if (len && strcmp(len, "short") == 0)
		sb_puts(b, "Genelde kısa ve öz yazarsın.\n");
	else if (len && strcmp(len, "medium") == 0)
		sb_puts(b, "Genelde orta uzunlukta yazarsın.\n");
	else if (len && strcmp(len, "long") == 0)
		sb_puts(b, "Genelde uzun ve açıklayıcı yazarsın.\n");
	if (disc) {
		sb_puts(b, "Yatırım tavsiyesi gibi anlaşılabilecek bir şey yazarsan sonuna şu notu ekle: ");
		put_quoted(b, disc, COMPOSE_CAP_ITEM);
		sb_puts(b, "\n");
	}
}

static void sys_habits(struct sb *b, const struct compose_in *in)
{
	const char *v[8];
	size_t n;

	if ((n = strs_of(in->emotion, "signature_phrases", v, 2))) {
		sb_puts(b, "Sık kullandığın ifadeler (yerinde ve ara sıra): ");
		put_list(b, v, n, ", ", 1, COMPOSE_CAP_ITEM);
		sb_puts(b, ".\n");
	}
	if ((n = strs_of(in->persona, "watchlist", v, 3))) {
		sb_puts(b, "Yakından takip ettiğin semboller: ");
		put_list(b, v, n, ", ", 0, COMPOSE_CAP_WORD);
		sb_puts(b, ".\n");
	}
	if ((n = strs_of(in->persona, "never_do", v, 8))) {
		sb_puts(b, "Asla yapmadıkların: ");
		put_list(b, v, n, "; ", 0, COMPOSE_CAP_ITEM);
		sb_puts(b, ".\n");
	}
}

static void sys_language(struct sb *b, const struct compose_in *in)
{
	if (is_turkish(in->language))
		return;
	for (size_t i = 0; i < sizeof languages / sizeof languages[0]; i++)
		if (strcasecmp(in->language, languages[i].code) == 0) {
			sb_printf(b, "Mesajlarını %s yaz (write in %s).\n", languages[i].tr,
				  languages[i].en);
			return;
		}
	sb_puts(b, "Mesajlarını şu dilde yaz: ");
	put_data(b, in->language, COMPOSE_CAP_WORD);
	sb_puts(b, " (write in this language).\n");
}

static void sys_examples(struct sb *b, const struct compose_in *in)
{
	static const char *const right[][2] = {
		[TONE_PLAIN] = { "", " bugün yine hacimsiz, ben biraz beklemeyi düşünüyorum açıkçası." },
		[TONE_YOUNG] = { "valla ", " yine yerinde sayıyo, ben bi süre kenardan izlicem" },
		[TONE_PRO] = { "", " tarafında hacim hâlâ zayıf; teyit gelmeden pozisyon artırmam." },
	};
	const char *sym = "BIST";
	enum tone t = tone_of(in);

	strs_of(in->persona, "watchlist", &sym, 1);
	sb_puts(b, "\nDoğru örnek: \"");
	sb_puts(b, right[t][0]);
	put_text(b, sym, COMPOSE_CAP_WORD, 1);
	sb_puts(b, right[t][1]);
	sb_puts(b, "\"\n");
	sb_puts(b, "Yanlış örnek (asistan ağzı): \"Tabii ki! İşte analiz: 1) Teknik görünüm olumlu "
		   "2) Hedef fiyat...\"\n");
	sb_puts(b, "Yanlış örnek (kazanç vaadi): \"Bu hisse kesin uçar, garanti kazanç, "
		   "kaçırmayın!\"\n");
}

char *compose_system(const struct compose_in *in)
{
	struct sb b = { 0 };

	if (!in)
		return NULL;
	sys_identity(&b, in);
	sys_tone(&b, in);
	sys_emotion(&b, in);
	sys_style(&b, in);
	sys_habits(&b, in);
	sys_language(&b, in);
	sys_examples(&b, in);
	sb_puts(&b, "\nBir grup sohbetinde yazan bir insan gibi yaz, asistan gibi değil: selamlama, "
		    "başlık, madde işareti yok. Asla kazanç vaat etme.\n");
	return sb_done(&b);
}

/* ---- the user prompt ---- */

/* A blank line between parts. */
static void part(struct sb *b)
{
	if (b->len)
		sb_puts(b, "\n");
}

/* The persona summary: the name and the persona's tone. Risk profile, mood and
 * watchlist are in the system prompt word for word: said again here they cost
 * some 20 tokens a draft and told the model nothing new (issue 16, item 6). */
static void user_summary(struct sb *b, const struct compose_in *in)
{
	const char *sep = "", *tone = str_of(in->persona, "tone");
	size_t start = b->len;

	sb_puts(b, "Karakterin: ");
	if (put_quoted(b, in->bot_name, COMPOSE_CAP_WORD))
		sep = "; ";
	if (tone) {
		sb_printf(b, "%süslup: ", sep);
		put_data(b, tone, COMPOSE_CAP_WORD);
		sep = "; ";
	}
	if (!*sep) { /* nothing known: no line at all */
		b->len = start;
		if (b->p)
			b->p[start] = 0;
		return;
	}
	sb_puts(b, ".\n");
}

/* Writes heading before the first item only. */
static void heading(struct sb *b, const char *h, int *done)
{
	if (*done)
		return;
	part(b);
	sb_puts(b, h);
	sb_puts(b, "\n");
	*done = 1;
}

static void user_stances(struct sb *b, const struct compose_in *in)
{
	size_t i, n = 0;
	json_t *st;
	int head = 0;

	if (!json_is_array(in->stances))
		return;
	json_array_foreach(in->stances, i, st) {
		const char *topic = str_of(st, "topic"), *text = str_of(st, "stance_text");
		json_t *c = json_object_get(st, "confidence");

		if (n == COMPOSE_STANCES)
			break;
		if (!text)
			continue;
		heading(b, "Görüşlerin:", &head);
		sb_puts(b, "- ");
		if (topic) {
			put_data(b, topic, COMPOSE_CAP_WORD);
			sb_puts(b, ": ");
		}
		put_data(b, text, COMPOSE_CAP_TEXT);
		if (json_is_number(c)) {
			double v = json_number_value(c);

			v = v < 0 ? 0 : v > 1 ? 1 : v;
			sb_printf(b, " (güven: %%%d)", (int)lround(v * 100));
		}
		sb_puts(b, "\n");
		n++;
	}
}

static void user_holdings(struct sb *b, const struct compose_in *in)
{
	size_t i, n = 0;
	json_t *h;
	int head = 0;

	if (!json_is_array(in->holdings))
		return;
	json_array_foreach(in->holdings, i, h) {
		const char *sym = str_of(h, "symbol"), *note = str_of(h, "note");
		json_t *size = json_object_get(h, "size"), *avg = json_object_get(h, "avg_price");
		const char *sep = ": ";

		if (n == COMPOSE_HOLDINGS)
			break;
		if (!sym)
			continue;
		heading(b, "Portföyün:", &head);
		sb_puts(b, "- ");
		put_data(b, sym, COMPOSE_CAP_WORD);
		if (json_is_number(size)) {
			sb_puts(b, sep);
			put_num(b, json_number_value(size));
			sb_puts(b, " adet");
			sep = ", ";
		}
		if (json_is_number(avg)) {
			sb_puts(b, sep);
			sb_puts(b, "maliyet ");
			put_num(b, json_number_value(avg));
			sep = ", ";
		}
		if (note) {
			sb_puts(b, sep);
			put_data(b, note, COMPOSE_CAP_ITEM);
		}
		sb_puts(b, "\n");
		n++;
	}
}

static void user_own_past(struct sb *b, const struct compose_in *in)
{
	int head = 0;

	for (size_t i = 0, n = 0; in->own_past && i < in->nown && n < COMPOSE_OWN_PAST; i++) {
		if (!has_text(in->own_past[i]))
			continue;
		heading(b, "Daha önce şunları yazdın (aynılarını tekrarlama):", &head);
		sb_puts(b, "- ");
		put_quoted(b, in->own_past[i], COMPOSE_CAP_TEXT);
		sb_puts(b, "\n");
		n++;
	}
}

static void user_memories(struct sb *b, const struct compose_in *in)
{
	size_t i, n = 0;
	json_t *m;
	int head = 0;

	if (!json_is_array(in->memories))
		return;
	json_array_foreach(in->memories, i, m) {
		/* A bare string is taken as the content: harmless, and kinder than dropping it. */
		const char *c = json_is_string(m) ? json_string_value(m) : str_of(m, "content");

		if (n == COMPOSE_MEMORIES)
			break;
		if (!has_text(c))
			continue;
		heading(b, "Hatırladıkların:", &head);
		sb_puts(b, "- ");
		put_data(b, c, COMPOSE_CAP_TEXT);
		sb_puts(b, "\n");
		n++;
	}
}

/* "[speaker]: text"; a text cut at a word's end with at_word. */
static void put_line_at(struct sb *b, const struct convo_msg *m, size_t cap, int at_word)
{
	sb_puts(b, "[");
	if (!put_data(b, m->speaker, COMPOSE_CAP_WORD))
		sb_puts(b, "?");
	sb_puts(b, "]: ");
	put_text_at(b, m->text, cap, 0, at_word);
}

static void put_line(struct sb *b, const struct convo_msg *m, size_t cap)
{
	put_line_at(b, m, cap, 0);
}

static int same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The transcript line (an index into history) that is the reply target, or -1
 * when the target is not among the lines rendered. */
static long target_line(const struct compose_in *in, size_t start)
{
	const struct convo_msg *t = in->target;

	for (size_t i = in->nhistory; t && in->history && i-- > start;) {
		const struct convo_msg *m = &in->history[i];

		if (!has_text(m->text))
			continue;
		if (m == t || (t->tg_id && m->tg_id == t->tg_id) ||
		    (!t->tg_id && same_str(m->speaker, t->speaker) && same_str(m->text, t->text)))
			return (long)i;
	}
	return -1;
}

static size_t history_start(const struct compose_in *in)
{
	return in->nhistory > COMPOSE_HISTORY ? in->nhistory - COMPOSE_HISTORY : 0;
}

/* The last 15 messages. The newest COMPOSE_HISTORY_FULL are given whole (up to
 * COMPOSE_CAP_TEXT), the older ones their start (COMPOSE_CAP_OLD): they tell the
 * model what the talk was about, and their full text was a third of a draft's
 * prompt (issue 16, item 6). The reply target, whole, is marked with "» ", so the
 * task line points at it instead of quoting it again. */
static void user_history(struct sb *b, const struct compose_in *in)
{
	size_t start = history_start(in);
	long target = target_line(in, start);
	int head = 0;

	for (size_t i = start; in->history && i < in->nhistory; i++) {
		size_t cap = in->nhistory - i <= COMPOSE_HISTORY_FULL ? COMPOSE_CAP_TEXT
								      : COMPOSE_CAP_OLD;

		if (!has_text(in->history[i].text))
			continue;
		heading(b, "Son mesajlar:", &head);
		if ((long)i == target) {
			sb_puts(b, "» ");
			cap = COMPOSE_CAP_TARGET;
		}
		put_line_at(b, &in->history[i], cap, cap == COMPOSE_CAP_OLD);
		sb_puts(b, "\n");
	}
}

static const char *day_phrase(int minute)
{
	int h = minute / 60;

	if (minute < 0 || minute >= 24 * 60)
		return NULL;
	if (h >= 5 && h < 11)
		return "sabah";
	if (h >= 11 && h < 14)
		return "öğle";
	if (h >= 14 && h < 18)
		return "öğleden sonra";
	if (h >= 18 && h < 22)
		return "akşam";
	return "gece";
}

/* The speaker to @mention: without a leading '@', or NULL. */
static const char *mention_of(const struct compose_in *in)
{
	const char *s = in->target ? in->target->speaker : NULL;

	while (s && (*s == '@' || *s == ' '))
		s++;
	return has_text(s) ? s : NULL;
}

static void user_task(struct sb *b, const struct compose_in *in)
{
	static const char *const hints[] = { "1-2 cümle", "2-3 cümle", "3-4 cümle" };
	const char *when = day_phrase(in->minute_of_day), *who = mention_of(in);
	unsigned len = (unsigned)in->length <= COMPOSE_LONG ? (unsigned)in->length : 0;

	part(b);
	if (has_text(in->topic)) {
		sb_puts(b, "Konu: ");
		put_data(b, in->topic, COMPOSE_CAP_WORD);
		sb_puts(b, "\n");
	}
	if (has_text(in->focus)) { /* the persona's own symbol on this topic */
		sb_puts(b, "Odak: ");
		put_data(b, in->focus, COMPOSE_CAP_WORD);
		sb_puts(b, "\n");
	}
	if (in->target) {
		sb_puts(b, "Şu mesaja cevap ver: ");
		if (target_line(in, history_start(in)) >= 0)
			sb_puts(b, "» ile işaretli mesaj.");
		else
			put_line(b, in->target, COMPOSE_CAP_TARGET);
		sb_puts(b, "\n");
		if (in->answering_human)
			sb_puts(b, "Bu mesajı grupta bir insan yazdı; ona doğrudan ve ilgiyle cevap ver.\n");
	} else {
		sb_puts(b, has_text(in->topic) ? "Sohbete bu konuda kendiliğinden yeni bir mesajla gir.\n"
					       : "Sohbete kendiliğinden yeni bir mesajla gir.\n");
	}
	if (has_text(in->news)) {
		sb_puts(b, "Haber: ");
		put_quoted(b, in->news, COMPOSE_CAP_TARGET);
		sb_puts(b, " (uygunsa buna değin).\n");
	}
	if (in->mention && who) {
		sb_puts(b, "Mesaja @");
		put_data(b, who, COMPOSE_CAP_WORD);
		sb_puts(b, " diye başla.\n");
	}
	sb_printf(b, "Uzunluk: %s.\n", hints[len]);
	if (when)
		sb_printf(b, "Şu an %s; gerekirse buna uygun konuş.\n", when);
	if (in->persona_refresh) {
		sb_puts(b, "Hatırlatma: ");
		if (put_quoted(b, in->bot_name, COMPOSE_CAP_WORD))
			sb_puts(b, " olarak ");
		sb_puts(b, "karakterinden, üslubundan ve görüşlerinden çıkma.\n");
	}
	sb_puts(b, "Sadece mesajın metnini yaz.\n");
}

char *compose_user(const struct compose_in *in)
{
	struct sb b = { 0 };

	if (!in)
		return NULL;
	user_summary(&b, in);
	user_stances(&b, in);
	user_holdings(&b, in);
	user_own_past(&b, in);
	user_memories(&b, in);
	user_history(&b, in);
	user_task(&b, in);
	return sb_done(&b);
}

/* ---- sampling ---- */

void compose_sampling(const struct compose_in *in, uint64_t *rng, struct compose_params *out)
{
	static const int table[3][3] = {
		[TONE_PLAIN] = { 120, 180, 250 },
		[TONE_YOUNG] = { 100, 150, 220 },
		[TONE_PRO] = { 140, 200, 280 },
	};
	const struct compose_in none = { 0 };
	enum tone t;
	unsigned len;
	double u = backoff_uniform(rng), mt;

	if (!out)
		return;
	in = in ? in : &none;
	t = tone_of(in);
	len = (unsigned)in->length <= COMPOSE_LONG ? (unsigned)in->length : 0;
	out->temperature = 1.2 + (t == TONE_PRO ? 0.05 + 0.10 * u : 0.15 + 0.15 * u);
	mt = table[t][len];
	if (in->target)
		mt *= in->target->text && (strchr(in->target->text, '?') ||
					   strstr(in->target->text, "？"))
			      ? 1.3
			      : 0.8;
	if (has_text(in->news))
		mt *= 1.2;
	mt = round(mt);
	out->max_tokens = mt < 64 ? 64 : mt > 400 ? 400 : (int)mt;
	out->top_p = 0.92;
	out->frequency_penalty = 0.3;
	out->presence_penalty = 0.4;
}
