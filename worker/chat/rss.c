/* rss: see rss.h. expat streams the document through callbacks that keep only
 * what items need, and reads nothing external. The first entity declaration
 * stops the parser (even one expat would skip after a parameter entity
 * reference it cannot read), so an entity bomb is refused before anything is
 * expanded, whatever the document's encoding; encodings expat does not know are
 * transcoded to UTF-8 with iconv first. Items are found by local element name
 * (the prefix is dropped; the parser is not namespace-aware), which covers RSS
 * 2.0, RSS 1.0 and Atom without namespace bookkeeping. Topic matching folds
 * Turkish letters to ASCII on both sides, so "BIST", "Bist" and "BİST" (and
 * "bıst") are one word. */
#include "worker/chat/rss.h"

#include "common/backoff.h"
#include "common/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <expat.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define RSS_FOLD_MAX 1024 /* bytes of a title looked at for topic words */

/* ---- dates ---- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar (Howard
 * Hinnant's days_from_civil), so no time zone or locale is involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

/* ms since the epoch of a UTC wall time minus offset_s; 0 when out of range. */
static int64_t civil_ms(int y, int mo, int d, int h, int mi, int s, int frac_ms, int offset_s)
{
	int64_t secs;

	if (y < 1970 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h > 23 || mi > 59 || s > 60)
		return 0;
	if (s == 60) /* a leap second reads as the last ordinary one */
		s = 59;
	secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
	return secs > 0 ? secs * 1000 + frac_ms : 0;
}

/* Reads 1..maxd digits; the count read, 0 when none. */
static int read_num(const char **p, int maxd, int *out)
{
	int n = 0, v = 0;

	while (n < maxd && isdigit((unsigned char)(*p)[n])) {
		v = v * 10 + ((*p)[n] - '0');
		n++;
	}
	*p += n;
	*out = v;
	return n;
}

static void skip_spaces(const char **p)
{
	while (**p == ' ' || **p == '\t' || **p == '\r' || **p == '\n')
		(*p)++;
}

/* Lower-case ASCII copy of one word with Turkish letters folded (see fold_text). */
static size_t fold_text(const char *s, size_t len, char *out, size_t cap);

/* Month from an English or Turkish name (first three letters, folded). */
static int month_from_name(const char **p)
{
	static const char *const names[] = { "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug",
					     "sep", "oct", "nov", "dec", "oca", "sub", "mar", "nis",
					     "may", "haz", "tem", "agu", "eyl", "eki", "kas", "ara" };
	const char *s = *p;
	char folded[16];
	size_t len = 0;

	while (s[len] && (isalpha((unsigned char)s[len]) || (unsigned char)s[len] >= 0x80) && len < 12)
		len++;
	if (fold_text(s, len, folded, sizeof folded) < 3)
		return 0;
	*p = s + len;
	for (int i = 0; i < 24; i++)
		if (strncmp(folded, names[i], 3) == 0)
			return i % 12 + 1;
	return 0;
}

/* Zone after an RFC 822 time: +HHMM, +HH:MM or a name. Unknown names are UTC:
 * RFC 1123 itself says the military letters cannot be trusted. */
static int zone_offset(const char *p, int *offset_s)
{
	static const struct {
		const char *name;
		int hours;
	} zones[] = { { "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 }, { "MST", -7 },
		      { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 }, { "TRT", 3 } };
	int sign, hh, mm = 0;

	*offset_s = 0;
	if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (read_num(&p, 2, &hh) != 2)
			return -1;
		if (*p == ':')
			p++;
		if (read_num(&p, 2, &mm) != 2 || hh > 23 || mm > 59)
			return -1;
		*offset_s = sign * (hh * 3600 + mm * 60);
		return 0;
	}
	for (size_t i = 0; i < sizeof zones / sizeof zones[0]; i++)
		if (strncasecmp(p, zones[i].name, 3) == 0)
			*offset_s = zones[i].hours * 3600;
	return 0;
}

int64_t rss_date_rfc822(const char *s)
{
	const char *p = s;
	int d, mo, y, h, mi, sec = 0, ny, off;

	if (!s)
		return 0;
	skip_spaces(&p);
	if (!isdigit((unsigned char)*p)) { /* a day name, English or Turkish */
		while (*p && *p != ',' && *p != ' ')
			p++;
		if (*p == ',')
			p++;
		skip_spaces(&p);
	}
	if (!read_num(&p, 2, &d))
		return 0;
	skip_spaces(&p);
	if (*p == '-')
		p++;
	if (!(mo = month_from_name(&p)))
		return 0;
	if (*p == '-')
		p++;
	skip_spaces(&p);
	ny = read_num(&p, 4, &y);
	if (ny == 2)
		y += y < 50 ? 2000 : 1900;
	else if (ny != 4)
		return 0;
	skip_spaces(&p);
	if (read_num(&p, 2, &h) < 1 || *p++ != ':' || read_num(&p, 2, &mi) != 2)
		return 0;
	if (*p == ':' && (p++, read_num(&p, 2, &sec) != 2))
		return 0;
	skip_spaces(&p);
	if (zone_offset(p, &off) < 0)
		return 0;
	return civil_ms(y, mo, d, h, mi, sec, 0, off);
}

/* Fraction of a second after the dot: milliseconds, extra digits ignored. */
static int read_frac_ms(const char **p)
{
	int ms = 0, n = 0;

	for (; isdigit((unsigned char)**p); (*p)++, n++)
		if (n < 3)
			ms = ms * 10 + (**p - '0');
	for (; n < 3; n++)
		ms *= 10;
	return ms;
}

int64_t rss_date_rfc3339(const char *s)
{
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, off = 0;

	if (!s)
		return 0;
	skip_spaces(&p);
	if (read_num(&p, 4, &y) != 4 || *p++ != '-' || read_num(&p, 2, &mo) != 2 || *p++ != '-' ||
	    read_num(&p, 2, &d) != 2)
		return 0;
	if (*p == 'T' || *p == 't' || (*p == ' ' && isdigit((unsigned char)p[1]))) {
		p++;
		if (read_num(&p, 2, &h) != 2 || *p++ != ':' || read_num(&p, 2, &mi) != 2)
			return 0;
		if (*p == ':' && (p++, read_num(&p, 2, &sec) != 2))
			return 0;
		if (*p == '.' || *p == ',') {
			p++;
			ms = read_frac_ms(&p);
		}
		if (*p == 'Z' || *p == 'z')
			p++;
		else if ((*p == '+' || *p == '-') && zone_offset(p, &off) == 0)
			p += p[3] == ':' ? 6 : 5;
		else if (*p == '+' || *p == '-')
			return 0;
	}
	skip_spaces(&p);
	return *p ? 0 : civil_ms(y, mo, d, h, mi, sec, ms, off);
}

/* ---- titles ---- */

static size_t utf8_put(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* HTML 4.01's named character entities (Latin-1, symbols, special) and &apos;,
 * sorted for bsearch: what a title escaped twice ("&amp;eacute;") leaves after
 * expat has decoded XML's own entities once. */
static const struct html_entity {
	const char *name;
	unsigned short cp;
} html_entities[] = {
	{ "AElig", 198 },    { "Aacute", 193 },  { "Acirc", 194 },    { "Agrave", 192 },
	{ "Alpha", 913 },    { "Aring", 197 },   { "Atilde", 195 },   { "Auml", 196 },
	{ "Beta", 914 },     { "Ccedil", 199 },  { "Chi", 935 },      { "Dagger", 8225 },
	{ "Delta", 916 },    { "ETH", 208 },     { "Eacute", 201 },   { "Ecirc", 202 },
	{ "Egrave", 200 },   { "Epsilon", 917 }, { "Eta", 919 },      { "Euml", 203 },
	{ "Gamma", 915 },    { "Iacute", 205 },  { "Icirc", 206 },    { "Igrave", 204 },
	{ "Iota", 921 },     { "Iuml", 207 },    { "Kappa", 922 },    { "Lambda", 923 },
	{ "Mu", 924 },       { "Ntilde", 209 },  { "Nu", 925 },       { "OElig", 338 },
	{ "Oacute", 211 },   { "Ocirc", 212 },   { "Ograve", 210 },   { "Omega", 937 },
	{ "Omicron", 927 },  { "Oslash", 216 },  { "Otilde", 213 },   { "Ouml", 214 },
	{ "Phi", 934 },      { "Pi", 928 },      { "Prime", 8243 },   { "Psi", 936 },
	{ "Rho", 929 },      { "Scaron", 352 },  { "Sigma", 931 },    { "THORN", 222 },
	{ "Tau", 932 },      { "Theta", 920 },   { "Uacute", 218 },   { "Ucirc", 219 },
	{ "Ugrave", 217 },   { "Upsilon", 933 }, { "Uuml", 220 },     { "Xi", 926 },
	{ "Yacute", 221 },   { "Yuml", 376 },    { "Zeta", 918 },     { "aacute", 225 },
	{ "acirc", 226 },    { "acute", 180 },   { "aelig", 230 },    { "agrave", 224 },
	{ "alefsym", 8501 }, { "alpha", 945 },   { "amp", 38 },       { "and", 8743 },
	{ "ang", 8736 },     { "apos", 39 },     { "aring", 229 },    { "asymp", 8776 },
	{ "atilde", 227 },   { "auml", 228 },    { "bdquo", 8222 },   { "beta", 946 },
	{ "brvbar", 166 },   { "bull", 8226 },   { "cap", 8745 },     { "ccedil", 231 },
	{ "cedil", 184 },    { "cent", 162 },    { "chi", 967 },      { "circ", 710 },
	{ "clubs", 9827 },   { "cong", 8773 },   { "copy", 169 },     { "crarr", 8629 },
	{ "cup", 8746 },     { "curren", 164 },  { "dArr", 8659 },    { "dagger", 8224 },
	{ "darr", 8595 },    { "deg", 176 },     { "delta", 948 },    { "diams", 9830 },
	{ "divide", 247 },   { "eacute", 233 },  { "ecirc", 234 },    { "egrave", 232 },
	{ "empty", 8709 },   { "emsp", 8195 },   { "ensp", 8194 },    { "epsilon", 949 },
	{ "equiv", 8801 },   { "eta", 951 },     { "eth", 240 },      { "euml", 235 },
	{ "euro", 8364 },    { "exist", 8707 },  { "fnof", 402 },     { "forall", 8704 },
	{ "frac12", 189 },   { "frac14", 188 },  { "frac34", 190 },   { "frasl", 8260 },
	{ "gamma", 947 },    { "ge", 8805 },     { "gt", 62 },        { "hArr", 8660 },
	{ "harr", 8596 },    { "hearts", 9829 }, { "hellip", 8230 },  { "iacute", 237 },
	{ "icirc", 238 },    { "iexcl", 161 },   { "igrave", 236 },   { "image", 8465 },
	{ "infin", 8734 },   { "int", 8747 },    { "iota", 953 },     { "iquest", 191 },
	{ "isin", 8712 },    { "iuml", 239 },    { "kappa", 954 },    { "lArr", 8656 },
	{ "lambda", 955 },   { "lang", 9001 },   { "laquo", 171 },    { "larr", 8592 },
	{ "lceil", 8968 },   { "ldquo", 8220 },  { "le", 8804 },      { "lfloor", 8970 },
	{ "lowast", 8727 },  { "loz", 9674 },    { "lrm", 8206 },     { "lsaquo", 8249 },
	{ "lsquo", 8216 },   { "lt", 60 },       { "macr", 175 },     { "mdash", 8212 },
	{ "micro", 181 },    { "middot", 183 },  { "minus", 8722 },   { "mu", 956 },
	{ "nabla", 8711 },   { "nbsp", 160 },    { "ndash", 8211 },   { "ne", 8800 },
	{ "ni", 8715 },      { "not", 172 },     { "notin", 8713 },   { "nsub", 8836 },
	{ "ntilde", 241 },   { "nu", 957 },      { "oacute", 243 },   { "ocirc", 244 },
	{ "oelig", 339 },    { "ograve", 242 },  { "oline", 8254 },   { "omega", 969 },
	{ "omicron", 959 },  { "oplus", 8853 },  { "or", 8744 },      { "ordf", 170 },
	{ "ordm", 186 },     { "oslash", 248 },  { "otilde", 245 },   { "otimes", 8855 },
	{ "ouml", 246 },     { "para", 182 },    { "part", 8706 },    { "permil", 8240 },
	{ "perp", 8869 },    { "phi", 966 },     { "pi", 960 },       { "piv", 982 },
	{ "plusmn", 177 },   { "pound", 163 },   { "prime", 8242 },   { "prod", 8719 },
	{ "prop", 8733 },    { "psi", 968 },     { "quot", 34 },      { "rArr", 8658 },
	{ "radic", 8730 },   { "rang", 9002 },   { "raquo", 187 },    { "rarr", 8594 },
	{ "rceil", 8969 },   { "rdquo", 8221 },  { "real", 8476 },    { "reg", 174 },
	{ "rfloor", 8971 },  { "rho", 961 },     { "rlm", 8207 },     { "rsaquo", 8250 },
	{ "rsquo", 8217 },   { "sbquo", 8218 },  { "scaron", 353 },   { "sdot", 8901 },
	{ "sect", 167 },     { "shy", 173 },     { "sigma", 963 },    { "sigmaf", 962 },
	{ "sim", 8764 },     { "spades", 9824 }, { "sub", 8834 },     { "sube", 8838 },
	{ "sum", 8721 },     { "sup", 8835 },    { "sup1", 185 },     { "sup2", 178 },
	{ "sup3", 179 },     { "supe", 8839 },   { "szlig", 223 },    { "tau", 964 },
	{ "there4", 8756 },  { "theta", 952 },   { "thetasym", 977 }, { "thinsp", 8201 },
	{ "thorn", 254 },    { "tilde", 732 },   { "times", 215 },    { "trade", 8482 },
	{ "uArr", 8657 },    { "uacute", 250 },  { "uarr", 8593 },    { "ucirc", 251 },
	{ "ugrave", 249 },   { "uml", 168 },     { "upsih", 978 },    { "upsilon", 965 },
	{ "uuml", 252 },     { "weierp", 8472 }, { "xi", 958 },       { "yacute", 253 },
	{ "yen", 165 },      { "yuml", 255 },    { "zeta", 950 },     { "zwj", 8205 },
	{ "zwnj", 8204 },
};

static int html_entity_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct html_entity *)elem)->name);
}

/* Code point of "&...;" at s (len bytes up to and including ';'), 0 if unknown. */
static unsigned long entity_value(const char *s, size_t len)
{
	char name[40];
	const struct html_entity *e;
	unsigned long cp;
	char *end;

	if (len < 4 || len - 2 >= sizeof name)
		return 0;
	memcpy(name, s + 1, len - 2);
	name[len - 2] = '\0';
	if (name[0] == '#') {
		int hex = name[1] == 'x' || name[1] == 'X';
		const char *digits = name + 1 + hex;
		if (!*digits || !isxdigit((unsigned char)*digits))
			return 0;
		cp = strtoul(digits, &end, hex ? 16 : 10);
		if (*end || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return 0;
		return cp;
	}
	e = bsearch(name, html_entities, sizeof html_entities / sizeof html_entities[0],
		    sizeof html_entities[0], html_entity_cmp);
	return e ? e->cp : 0;
}

/* One level of entity decoding, for titles that were escaped twice ("&amp;quot;").
 * The output is never longer than the input. */
static size_t decode_entities(const char *in, char *out)
{
	size_t o = 0;

	for (const char *p = in; *p;) {
		const char *semi = *p == '&' ? memchr(p, ';', strnlen(p, 12)) : NULL;
		unsigned long cp = semi ? entity_value(p, (size_t)(semi - p) + 1) : 0;
		if (cp) {
			o += utf8_put(out + o, cp < 0x20 ? ' ' : cp);
			p = semi + 1;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return o;
}

/* 1 when s (just after '<') starts an HTML tag or comment: "!", or an optional '/'
 * and a common tag name followed by '>', '/' or a space. "<kırıldı>" is text. */
static int html_tag_at(const char *s)
{
	static const char *const names[] = { "a",      "abbr", "b",   "big",   "br",   "cite",
					     "code",   "del",  "div", "em",    "font", "h1",
					     "h2",     "h3",   "h4",  "h5",    "h6",   "hr",
					     "i",      "img",  "ins", "li",    "mark", "ol",
					     "p",      "q",    "s",   "small", "span", "strike",
					     "strong", "sub",  "sup", "u",     "ul" };
	size_t len = 0;

	if (*s == '!')
		return 1;
	if (*s == '/')
		s++;
	while (isalnum((unsigned char)s[len]) && len < 8)
		len++;
	if (len == 0 || !(s[len] == '>' || s[len] == '/' || s[len] == ' '))
		return 0;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == len && strncasecmp(s, names[i], len) == 0)
			return 1;
	return 0;
}

/* HTML tags ("<b>", "</a>", "<br/>", "<!-- -->") become a space; other '<' stay. In
 * place. */
static void strip_tags(char *s)
{
	char *w = s;
	int unclosed = 0;

	for (char *r = s; *r;) {
		int tag = *r == '<' && html_tag_at(r + 1);
		char *close = tag && !unclosed ? strchr(r, '>') : NULL;
		if (tag && !close)
			unclosed = 1; /* no '>' further on: stop looking (stays linear) */
		if (close) {
			*w++ = ' ';
			r = close + 1;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

/* Bytes of the UTF-8 character that starts with c (1 for a stray byte). */
static size_t char_len(unsigned char c)
{
	return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

/* Collapse runs of whitespace (ASCII, control characters and no-break spaces) into
 * one space, trim both ends, cut to RSS_TITLE_MAX bytes between characters. In
 * place. */
static void collapse_ws(char *s)
{
	char *w = s;
	int space = 1; /* drops leading whitespace */
	unsigned char *r = (unsigned char *)s;

	while (*r) {
		size_t clen = char_len(*r);
		if (*r <= 0x20 || *r == 0x7F || (r[0] == 0xC2 && r[1] == 0xA0)) {
			r += r[0] == 0xC2 ? 2 : 1;
			if (!space)
				*w++ = ' ';
			space = 1;
			continue;
		}
		if ((size_t)(w - s) + clen > RSS_TITLE_MAX)
			break;
		for (size_t k = 0; k < clen && *r; k++)
			*w++ = (char)*r++;
		space = 0;
	}
	while (w > s && w[-1] == ' ')
		w--;
	*w = '\0';
}

/* Growable text; once memory runs short or the text grows past RSS_TEXT_MAX it
 * stops growing and says so. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom, full;
};

#define RSS_TEXT_MAX (64 * 1024) /* of an element's text: more is no headline, link or date */

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->oom || b->full)
		return;
	if (b->len + n > RSS_TEXT_MAX) {
		b->full = 1;
		return;
	}
	if (b->len + n + 1 > b->cap) {
		ncap = b->cap ? b->cap * 2 : 256;
		while (ncap < b->len + n + 1)
			ncap *= 2;
		if (!(np = realloc(b->p, ncap))) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Empties b and keeps its memory for the next text. */
static void sbuf_reset(struct sbuf *b)
{
	b->len = 0;
	b->oom = b->full = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* A clean title from raw element text, or NULL when it is empty or too long. */
static char *clean_title(const struct sbuf *raw)
{
	char *out;

	if (!raw->p || raw->oom || raw->full || !(out = malloc(raw->len + 1)))
		return NULL;
	decode_entities(raw->p, out);
	strip_tags(out);
	collapse_ws(out);
	if (!*out) {
		free(out);
		out = NULL;
	}
	return out;
}

/* ---- documents ----
 *
 * expat streams the document through the on_* callbacks below; what an item's
 * direct children hold is gathered as they go by, and the item is kept (or
 * dropped for want of a title) when it closes. The text of a child is all the
 * character data under it, CDATA and nested elements included (Atom's xhtml
 * titles). */

/* An item's date elements in order of preference: the first that parses wins. */
static const char *const date_names[] = { "pubDate", "published", "updated",
					  "date",    "issued",    "modified" };
#define RSS_NDATES (sizeof date_names / sizeof date_names[0])

/* What the direct child of an item being read is; F_DATE + i for date_names[i]. */
enum { F_NONE, F_TITLE, F_LINK, F_DATE };

/* The item being read. Only the first <title> and the first of each date element
 * count; the first <link> that yields a link does. */
struct item_read {
	int field;
	int has_title;
	unsigned dates_seen; /* bit i: date_names[i] was read */
	struct sbuf title;   /* raw text of the first <title> */
	struct sbuf text;    /* of the <link> or date element being read */
	char *link;
	int64_t dates[RSS_NDATES];
};

struct parse_state {
	XML_Parser xp;
	int depth;    /* of the innermost open element; the root is 1 */
	int entities; /* an entity declaration was seen: the parser is stopped */
	int in_doctype;
	int rss2; /* the root is <rss>: items are in its first <channel> */
	int channel_seen;
	char root[48];         /* the root element's local name */
	char encoding[48];     /* declared, and unknown to expat: see on_unknown_encoding */
	const char *item_name; /* "item" or "entry"; NULL while the root is no feed */
	int parent_depth;      /* of the element holding the items while it is open */
	int in_item;
	struct item_read cur;
	struct rss_item *items; /* RSS_MAX_ITEMS of them */
	size_t n;
};

/* The name without its prefix: "dc:date" is "date", "rdf:RDF" is "RDF". The
 * parser is not namespace-aware, so an undeclared prefix is no error. */
static const char *local_name(const char *qname)
{
	const char *colon = strrchr(qname, ':');

	return colon ? colon + 1 : qname;
}

/* Value of the attribute with this local name (any prefix), NULL when none. */
static const char *attr_value(const XML_Char **atts, const char *name)
{
	for (; atts[0]; atts += 2)
		if (strncmp(atts[0], "xmlns", 5) != 0 && strcmp(local_name(atts[0]), name) == 0)
			return atts[1];
	return NULL;
}

/* A link from text: whitespace collapsed; NULL when empty. */
static char *clean_link(const char *s)
{
	char *out = strdup(s);

	if (out)
		collapse_ws(out);
	if (out && !*out) {
		free(out);
		out = NULL;
	}
	return out;
}

static int64_t text_date(const struct sbuf *b)
{
	int64_t ms;

	if (!b->p || b->oom || b->full)
		return 0;
	ms = rss_date_rfc822(b->p);
	return ms ? ms : rss_date_rfc3339(b->p);
}

/* Atom <link href rel>: taken at once when rel is alternate or missing. RSS
 * <link>text</link>: its text is read. */
static void start_link(struct item_read *it, const XML_Char **atts)
{
	const char *href = attr_value(atts, "href"), *rel;

	if (!href) {
		it->field = F_LINK;
		return;
	}
	rel = attr_value(atts, "rel");
	if (!rel || strcmp(rel, "alternate") == 0)
		it->link = clean_link(href);
}

/* A direct child of the item opens. */
static void start_field(struct item_read *it, const char *name, const XML_Char **atts)
{
	if (strcmp(name, "title") == 0 && !it->has_title) {
		it->has_title = 1;
		it->field = F_TITLE;
	} else if (strcmp(name, "link") == 0 && !it->link) {
		start_link(it, atts);
	} else {
		for (size_t i = 0; i < RSS_NDATES; i++)
			if (strcmp(name, date_names[i]) == 0 && !(it->dates_seen & 1u << i)) {
				it->dates_seen |= 1u << i;
				it->field = F_DATE + (int)i;
			}
	}
}

static void end_field(struct item_read *it)
{
	if (it->field == F_LINK && !it->text.oom && !it->text.full)
		it->link = clean_link(it->text.p ? it->text.p : "");
	else if (it->field >= F_DATE)
		it->dates[it->field - F_DATE] = text_date(&it->text);
	it->field = F_NONE;
	sbuf_reset(&it->text);
}

/* Forgets the item read, keeping the buffers' memory. */
static void item_reset(struct item_read *it)
{
	struct sbuf title = it->title, text = it->text;

	free(it->link);
	memset(it, 0, sizeof *it);
	it->title = title;
	it->text = text;
	sbuf_reset(&it->title);
	sbuf_reset(&it->text);
}

/* The item closes: kept when it has a title (a memory shortage drops it). */
static void end_item(struct parse_state *st)
{
	struct item_read *it = &st->cur;
	struct rss_item *out = &st->items[st->n];

	st->in_item = 0;
	if ((out->title = clean_title(&it->title)) != NULL) {
		out->link = it->link;
		it->link = NULL;
		for (size_t i = 0; i < RSS_NDATES && !out->published_ms; i++)
			out->published_ms = it->dates[i];
		st->n++;
	}
	item_reset(it);
}

/* RSS 2.0 keeps its items in the channel, RSS 1.0 and Atom in the root. */
static void start_root(struct parse_state *st, const char *name)
{
	snprintf(st->root, sizeof st->root, "%s", name);
	if (strcmp(name, "rss") == 0) {
		st->rss2 = 1;
		st->item_name = "item";
	} else if (strcmp(name, "RDF") == 0 || strcmp(name, "feed") == 0) {
		st->item_name = name[0] == 'R' ? "item" : "entry";
		st->parent_depth = 1;
	}
}

static void XMLCALL on_start(void *ud, const XML_Char *qname, const XML_Char **atts)
{
	struct parse_state *st = ud;
	const char *name = local_name(qname);
	int d = ++st->depth;

	if (d == 1) {
		start_root(st, name);
	} else if (d == 2 && st->rss2 && !st->channel_seen && strcmp(name, "channel") == 0) {
		st->channel_seen = 1;
		st->parent_depth = 2;
	} else if (st->parent_depth && d == st->parent_depth + 1) {
		st->in_item = strcmp(name, st->item_name) == 0 && st->n < RSS_MAX_ITEMS;
	} else if (st->in_item && d == st->parent_depth + 2) {
		start_field(&st->cur, name, atts);
	}
}

static void XMLCALL on_end(void *ud, const XML_Char *qname)
{
	struct parse_state *st = ud;
	int d = st->depth--;

	(void)qname;
	if (st->in_item && d == st->parent_depth + 2)
		end_field(&st->cur);
	else if (st->in_item && d == st->parent_depth + 1)
		end_item(st);
	else if (d == st->parent_depth)
		st->parent_depth = 0; /* later channels hold no items */
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
	struct parse_state *st = ud;
	struct item_read *it = &st->cur;

	if (st->in_item && it->field != F_NONE)
		sbuf_add(it->field == F_TITLE ? &it->title : &it->text, s, (size_t)len);
}

/* A reference to an undeclared entity, allowed in a document naming an external
 * DTD (never loaded), as old feeds naming Netscape's do for &nbsp; or &uuml;. A
 * title keeps it as "&name;" for decode_entities to read with the HTML names;
 * links and dates drop it. */
static void XMLCALL on_skipped_entity(void *ud, const XML_Char *name, int is_parameter)
{
	struct parse_state *st = ud;
	struct item_read *it = &st->cur;

	if (is_parameter || !st->in_item || it->field != F_TITLE)
		return;
	sbuf_add(&it->title, "&", 1);
	sbuf_add(&it->title, name, strlen(name));
	sbuf_add(&it->title, ";", 1);
}

/* Called before anything declared is used: one entity declaration, general or
 * parameter, internal or external, and the document is refused. */
static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_parameter,
				   const XML_Char *value, int value_len, const XML_Char *base,
				   const XML_Char *system_id, const XML_Char *public_id,
				   const XML_Char *notation)
{
	struct parse_state *st = ud;

	(void)name, (void)is_parameter, (void)value, (void)value_len, (void)base;
	(void)system_id, (void)public_id, (void)notation;
	st->entities = 1;
	XML_StopParser(st->xp, XML_FALSE);
}

static void XMLCALL on_doctype_start(void *ud, const XML_Char *name, const XML_Char *sysid,
				     const XML_Char *pubid, int has_internal_subset)
{
	struct parse_state *st = ud;

	(void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
	st->in_doctype = 1;
}

static void XMLCALL on_doctype_end(void *ud)
{
	struct parse_state *st = ud;

	st->in_doctype = 0;
}

/* Markup no other handler took. After a parameter entity reference it cannot
 * read, expat skips the declarations that follow instead of reporting them: an
 * entity declaration among those still refuses the document. */
static void XMLCALL on_default(void *ud, const XML_Char *s, int len)
{
	struct parse_state *st = ud;

	if (st->in_doctype && len >= 8 && memcmp(s, "<!ENTITY", 8) == 0) {
		st->entities = 1;
		XML_StopParser(st->xp, XML_FALSE);
	}
}

/* An encoding expat does not know itself (ISO-8859-9, windows-1254, "utf8", ...):
 * its name is kept and this parse fails, for rss_parse to transcode the document
 * with iconv (as libxml2 did) and parse it again as UTF-8. */
static int XMLCALL on_unknown_encoding(void *ud, const XML_Char *name, XML_Encoding *info)
{
	struct parse_state *st = ud;

	(void)info;
	snprintf(st->encoding, sizeof st->encoding, "%s", name);
	return XML_STATUS_ERROR;
}

/* Lines before byte n of s. */
static size_t count_lines(const char *s, size_t n)
{
	size_t lines = 0;

	for (const char *p = s; (p = memchr(p, '\n', n - (size_t)(p - s))) != NULL; p++)
		lines++;
	return lines;
}

/* len bytes of body in encoding, as UTF-8 in *out (malloc'd, *outlen bytes); -1
 * with the reason in err when iconv does not know the encoding, the body is not
 * valid in it, or memory runs short. */
static int transcode(const char *body, size_t len, const char *encoding, char **out, size_t *outlen,
		     char *err, size_t errlen)
{
	iconv_t cd = iconv_open("UTF-8", encoding);
	size_t cap = 3 * len + 64, left = len, room = cap, used;
	char *in = (char *)body, *buf, *np, *o;
	int bad = 0;

	if (cd == (iconv_t)-1) {
		utf8_fmt(err, errlen, "malformed XML (line 1): unsupported encoding %.40s", encoding);
		return -1;
	}
	o = buf = malloc(cap);
	while (buf && iconv(cd, &in, &left, &o, &room) == (size_t)-1) {
		if (errno != E2BIG) {
			bad = 1;
			break;
		}
		used = (size_t)(o - buf);
		if (!(np = realloc(buf, 2 * cap))) {
			free(buf);
			buf = NULL;
			break;
		}
		buf = np;
		o = buf + used;
		room += cap;
		cap *= 2;
	}
	iconv_close(cd);
	if (bad) {
		utf8_fmt(err, errlen, "malformed XML (line %zu): not valid %.40s",
			 1 + count_lines(body, (size_t)(in - body)), encoding);
		free(buf);
		return -1;
	}
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*out = buf;
	*outlen = (size_t)(o - buf);
	return 0;
}

/* Why a document that did not parse was refused, on one line. */
static void parse_error(XML_Parser xp, const struct parse_state *st, char *err, size_t errlen)
{
	if (st->entities)
		snprintf(err, errlen, "document declares entities (refused)");
	else
		snprintf(err, errlen, "malformed XML (line %lu): %s",
			 (unsigned long)XML_GetCurrentLineNumber(xp),
			 XML_ErrorString(XML_GetErrorCode(xp)));
}

/* Parses len bytes of body into st (whose items array is set) with every
 * callback on; encoding, when not NULL, overrides the document's declaration.
 * Nothing external is ever read: expat does no I/O, there is no external entity
 * handler and parameter entity parsing stays off. 0, or -1 with err filled. */
static int parse_doc(struct parse_state *st, const char *body, size_t len, const char *encoding,
		     char *err, size_t errlen)
{
	XML_Parser xp = XML_ParserCreate(encoding);
	int rc = -1;

	if (!xp) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	st->xp = xp;
	XML_SetUserData(xp, st);
	XML_SetElementHandler(xp, on_start, on_end);
	XML_SetCharacterDataHandler(xp, on_text);
	XML_SetSkippedEntityHandler(xp, on_skipped_entity);
	XML_SetUnknownEncodingHandler(xp, on_unknown_encoding, st);
	XML_SetParamEntityParsing(xp, XML_PARAM_ENTITY_PARSING_NEVER);
	XML_SetEntityDeclHandler(xp, on_entity_decl);
	XML_SetDoctypeDeclHandler(xp, on_doctype_start, on_doctype_end);
	XML_SetDefaultHandlerExpand(xp, on_default);
	if (XML_Parse(xp, body, (int)len, 1) != XML_STATUS_OK || st->entities)
		parse_error(xp, st, err, errlen);
	else if (!st->item_name || (st->rss2 && !st->channel_seen))
		utf8_fmt(err, errlen, "not an RSS or Atom document (root element <%.40s>)", st->root);
	else
		rc = 0;
	XML_ParserFree(xp);
	return rc;
}

/* Parses again, as UTF-8, a document that declared an encoding expat does not
 * know (nothing was read before the declaration). */
static int parse_transcoded(struct parse_state *st, const char *body, size_t len, char *err,
			    size_t errlen)
{
	struct rss_item *items = st->items;
	char encoding[sizeof st->encoding], *utf8;
	size_t ulen;
	int rc;

	memcpy(encoding, st->encoding, sizeof encoding);
	if (transcode(body, len, encoding, &utf8, &ulen, err, errlen) < 0)
		return -1;
	memset(st, 0, sizeof *st);
	st->items = items;
	rc = parse_doc(st, utf8, ulen, "UTF-8", err, errlen);
	free(utf8);
	return rc;
}

int rss_parse(const char *body, size_t len, struct rss_item **items, size_t *n, char *err, size_t errlen)
{
	struct parse_state st = { 0 };
	int rc;

	*items = NULL;
	*n = 0;
	if (!body || len == 0) {
		snprintf(err, errlen, "empty document");
		return -1;
	}
	if (len > RSS_MAX_BYTES) {
		snprintf(err, errlen, "document of %zu bytes is over the 1 MiB limit", len);
		return -1;
	}
	if (!(st.items = calloc(RSS_MAX_ITEMS, sizeof *st.items))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	rc = parse_doc(&st, body, len, NULL, err, errlen);
	if (rc < 0 && st.encoding[0] && !st.entities && st.depth == 0)
		rc = parse_transcoded(&st, body, len, err, errlen);
	item_reset(&st.cur);
	free(st.cur.title.p);
	free(st.cur.text.p);
	if (rc == 0 && st.n > 0) {
		*items = st.items;
		*n = st.n;
	} else {
		rss_items_free(st.items, st.n);
	}
	return rc;
}

void rss_items_free(struct rss_item *items, size_t n)
{
	if (!items)
		return;
	for (size_t i = 0; i < n; i++) {
		free(items[i].title);
		free(items[i].link);
	}
	free(items);
}

/* ---- topics ---- */

/* Folds len bytes of s into out (NUL-terminated, at most cap - 1 bytes): ASCII
 * lower case, Turkish and circumflexed letters to their ASCII base (İ, I, ı, î to
 * i; ş to s; ğ to g; ü, û to u; ö to o; ç to c; â to a), curly apostrophes to '.
 * Other bytes are copied. Returns the length written. */
static size_t fold_text(const char *s, size_t len, char *out, size_t cap)
{
	static const struct {
		const char *utf8;
		char ascii;
	} map[] = { { "\xC4\xB0", 'i' }, { "\xC4\xB1", 'i' }, { "\xC3\x8E", 'i' },
		    { "\xC3\xAE", 'i' }, { "\xC5\x9E", 's' }, { "\xC5\x9F", 's' },
		    { "\xC4\x9E", 'g' }, { "\xC4\x9F", 'g' }, { "\xC3\x9C", 'u' },
		    { "\xC3\xBC", 'u' }, { "\xC3\x9B", 'u' }, { "\xC3\xBB", 'u' },
		    { "\xC3\x96", 'o' }, { "\xC3\xB6", 'o' }, { "\xC3\x87", 'c' },
		    { "\xC3\xA7", 'c' }, { "\xC3\x82", 'a' }, { "\xC3\xA2", 'a' } };
	size_t i = 0, o = 0;

	while (i < len && s[i] && o + 1 < cap) {
		unsigned char c = (unsigned char)s[i];
		size_t k;
		if (c < 0x80) {
			out[o++] = (char)tolower(c);
			i++;
			continue;
		}
		if (i + 2 < len && c == 0xE2 && (unsigned char)s[i + 1] == 0x80 &&
		    ((unsigned char)s[i + 2] == 0x98 || (unsigned char)s[i + 2] == 0x99)) {
			out[o++] = '\''; /* U+2018, U+2019 */
			i += 3;
			continue;
		}
		for (k = 0; k < sizeof map / sizeof map[0]; k++)
			if (i + 1 < len && s[i] == map[k].utf8[0] && s[i + 1] == map[k].utf8[1])
				break;
		if (k < sizeof map / sizeof map[0]) {
			out[o++] = map[k].ascii;
			i += 2;
		} else {
			out[o++] = s[i++];
		}
	}
	out[o] = '\0';
	return o;
}

static int word_byte(unsigned char c)
{
	return isalnum(c) || c >= 0x80;
}

/* kw (folded) occurs in t (folded) at a word start, and short keywords end there. */
static int has_word(const char *t, const char *kw)
{
	size_t klen = strlen(kw);

	if (!klen)
		return 0;
	for (const char *p = strstr(t, kw); p; p = strstr(p + 1, kw)) {
		if (p > t && word_byte((unsigned char)p[-1]))
			continue;
		if (klen < 4 && word_byte((unsigned char)p[klen]))
			continue;
		return 1;
	}
	return 0;
}

static const char *const *topic_keywords(const char *folded_topic)
{
	static const char *const bist[] = { "bist", "borsa", "hisse", "endeks", NULL };
	static const char *const fx[] = { "dolar", "euro", "kur", NULL };
	static const char *const kripto[] = { "bitcoin", "btc", "kripto", "eth", NULL };
	static const char *const makro[] = { "faiz", "enflasyon", "merkez bankasi", "fed", NULL };

	if (strcmp(folded_topic, "bist") == 0)
		return bist;
	if (strcmp(folded_topic, "fx") == 0)
		return fx;
	if (strcmp(folded_topic, "kripto") == 0)
		return kripto;
	if (strcmp(folded_topic, "makro") == 0)
		return makro;
	return NULL;
}

/* Like rss_topic_match, with the topic already folded. */
static int match_folded(const char *title, const char *ftopic)
{
	char ft[RSS_FOLD_MAX];
	const char *const *kw = topic_keywords(ftopic);

	fold_text(title, strlen(title), ft, sizeof ft);
	if (has_word(ft, ftopic))
		return 1;
	for (; kw && *kw; kw++)
		if (has_word(ft, *kw))
			return 1;
	return 0;
}

/* Topic folded and trimmed into out; 0 when nothing is left. */
static size_t fold_topic(const char *topic, char *out, size_t cap)
{
	size_t len;

	if (!topic)
		return 0;
	while (*topic == ' ')
		topic++;
	len = fold_text(topic, strlen(topic), out, cap);
	while (len > 0 && out[len - 1] == ' ')
		out[--len] = '\0';
	return len;
}

int rss_topic_match(const char *title, const char *topic)
{
	char ftopic[128];

	if (!title || !fold_topic(topic, ftopic, sizeof ftopic))
		return 0;
	return match_folded(title, ftopic);
}

/* Age of an item at now_ms, or -1 when it may not be picked. */
static int64_t item_age(const struct rss_item *it, int64_t now_ms)
{
	int64_t age = now_ms - it->published_ms;

	if (it->published_ms <= 0 || !it->title || age >= RSS_RECENT_MS || age < -RSS_FRESH_MS)
		return -1;
	return age < 0 ? 0 : age;
}

static int newer(const struct rss_item *items, int best, size_t i)
{
	return best < 0 || items[i].published_ms > items[best].published_ms ? (int)i : best;
}

int rss_pick(const struct rss_item *items, size_t n, const char *topic, int64_t now_ms, uint64_t *rng)
{
	char ftopic[128];
	int has_topic = fold_topic(topic, ftopic, sizeof ftopic) > 0;
	int best_fresh = -1, best_recent = -1, newest_any = -1;
	size_t nfresh = 0, k;

	if (!items || n > (size_t)INT32_MAX)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int64_t age = item_age(&items[i], now_ms);
		int fresh = age >= 0 && age < RSS_FRESH_MS;
		if (age < 0)
			continue;
		if (fresh) {
			nfresh++;
			newest_any = newer(items, newest_any, i);
		}
		if (has_topic && match_folded(items[i].title, ftopic)) {
			if (fresh)
				best_fresh = newer(items, best_fresh, i);
			else
				best_recent = newer(items, best_recent, i);
		}
	}
	if (best_fresh >= 0)
		return best_fresh;
	if (best_recent >= 0)
		return best_recent;
	if (nfresh == 0 || !rng)
		return newest_any;
	k = (size_t)backoff_uniform_upto((int64_t)nfresh - 1, rng);
	for (size_t i = 0; i < n; i++) {
		int64_t age = item_age(&items[i], now_ms);
		if (age >= 0 && age < RSS_FRESH_MS && k-- == 0)
			return (int)i;
	}
	return newest_any;
}
