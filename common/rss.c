/* rss: see rss.h. The document is parsed into a tree by libxml2 with the network
 * off and a SAX hook that stops the parser at the first entity declaration, so an
 * entity bomb is refused before anything is expanded, whatever the document's
 * encoding. Items are found by local element name, which covers RSS 2.0, RSS 1.0
 * and Atom without namespace bookkeeping. Topic matching folds Turkish letters to
 * ASCII on both sides, so "BIST", "Bist" and "BİST" (and "bıst") are one word. */
#include "rss.h"

#include "backoff.h"

#include <ctype.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/tree.h>
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
	static const char *const names[] = { "jan", "feb", "mar", "apr", "may", "jun",
					     "jul", "aug", "sep", "oct", "nov", "dec",
					     "oca", "sub", "mar", "nis", "may", "haz",
					     "tem", "agu", "eyl", "eki", "kas", "ara" };
	const char *s = *p;
	char folded[16];
	size_t len = 0;

	while (s[len] && (isalpha((unsigned char)s[len]) || (unsigned char)s[len] >= 0x80) &&
	       len < 12)
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
	} zones[] = { { "EST", -5 }, { "EDT", -4 }, { "CST", -6 }, { "CDT", -5 },
		      { "MST", -7 }, { "MDT", -6 }, { "PST", -8 }, { "PDT", -7 },
		      { "TRT", 3 } };
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
	if (read_num(&p, 4, &y) != 4 || *p++ != '-' || read_num(&p, 2, &mo) != 2 ||
	    *p++ != '-' || read_num(&p, 2, &d) != 2)
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

/* Code point of "&...;" at s (len bytes up to and including ';'), 0 if unknown. */
static unsigned long entity_value(const char *s, size_t len)
{
	char name[40];
	const htmlEntityDesc *e;
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
	e = htmlEntityLookup((const xmlChar *)name);
	return e ? e->value : 0;
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
	static const char *const names[] = { "a", "abbr", "b", "big", "br", "cite", "code",
					     "del", "div", "em", "font", "h1", "h2", "h3",
					     "h4", "h5", "h6", "hr", "i", "img", "ins", "li",
					     "mark", "ol", "p", "q", "s", "small", "span",
					     "strike", "strong", "sub", "sup", "u", "ul" };
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

/* Growable text; once memory runs short it stops growing and says so. */
struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

#define RSS_TEXT_MAX (64 * 1024) /* of a title's raw text: more is never a headline */

static void sbuf_add(struct sbuf *b, const char *s, size_t n)
{
	char *np;
	size_t ncap;

	if (b->oom || b->len + n > RSS_TEXT_MAX)
		return;
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

/* The text under node: text and CDATA as they are, child elements' text (Atom's
 * xhtml titles), and entity references as "&name;". Entity declarations are
 * refused, so a reference left in the tree is an undeclared one (a feed naming an
 * external DTD, never loaded, and using &nbsp; or &uuml;): decode_entities then
 * reads it with the HTML names. */
static void node_text(const xmlNode *node, struct sbuf *b)
{
	for (const xmlNode *c = node->children; c; c = c->next) {
		if ((c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) && c->content) {
			sbuf_add(b, (const char *)c->content, strlen((const char *)c->content));
		} else if (c->type == XML_ENTITY_REF_NODE && c->name) {
			sbuf_add(b, "&", 1);
			sbuf_add(b, (const char *)c->name, strlen((const char *)c->name));
			sbuf_add(b, ";", 1);
		} else if (c->type == XML_ELEMENT_NODE) {
			node_text(c, b);
		}
	}
}

/* A clean title from the element's text, or NULL when it is empty. */
static char *clean_title(xmlNode *node)
{
	struct sbuf raw = { 0 };
	char *out = NULL;

	node_text(node, &raw);
	if (raw.p && !raw.oom && (out = malloc(raw.len + 1)) != NULL) {
		decode_entities(raw.p, out);
		strip_tags(out);
		collapse_ws(out);
	}
	free(raw.p);
	if (out && !*out) {
		free(out);
		out = NULL;
	}
	return out;
}

/* ---- documents ---- */

struct parse_state {
	int entities; /* an entity declaration was seen: the parser is stopped */
};

static void on_entity_decl(void *ctx, const xmlChar *name, int type, const xmlChar *public_id,
			   const xmlChar *system_id, xmlChar *content)
{
	xmlParserCtxtPtr ctxt = ctx;
	struct parse_state *st = ctxt->_private;

	(void)name, (void)type, (void)public_id, (void)system_id, (void)content;
	st->entities = 1;
	xmlStopParser(ctxt);
}

static int is_elem(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

static xmlNode *child_elem(const xmlNode *parent, const char *name)
{
	for (xmlNode *c = parent->children; c; c = c->next)
		if (is_elem(c, name))
			return c;
	return NULL;
}

static int64_t node_date(xmlNode *n)
{
	xmlChar *text = n ? xmlNodeGetContent(n) : NULL;
	int64_t ms;

	if (!text)
		return 0;
	ms = rss_date_rfc822((const char *)text);
	if (!ms)
		ms = rss_date_rfc3339((const char *)text);
	xmlFree(text);
	return ms;
}

/* The first date among the item's date elements in order of preference. */
static int64_t item_date(const xmlNode *item)
{
	static const char *const names[] = { "pubDate", "published", "updated", "date",
					      "issued", "modified" };
	int64_t ms = 0;

	for (size_t i = 0; i < sizeof names / sizeof names[0] && !ms; i++)
		ms = node_date(child_elem(item, names[i]));
	return ms;
}

/* RSS <link>text</link>, or Atom <link href> with rel alternate or none. */
static char *item_link(const xmlNode *item)
{
	for (xmlNode *c = item->children; c; c = c->next) {
		xmlChar *v, *rel;
		char *out;
		if (!is_elem(c, "link"))
			continue;
		v = xmlGetProp(c, (const xmlChar *)"href");
		if (v) {
			rel = xmlGetProp(c, (const xmlChar *)"rel");
			if (rel && strcmp((const char *)rel, "alternate") != 0) {
				xmlFree(rel);
				xmlFree(v);
				continue;
			}
			xmlFree(rel);
		} else {
			v = xmlNodeGetContent(c);
		}
		out = v ? strdup((const char *)v) : NULL;
		xmlFree(v);
		if (out)
			collapse_ws(out);
		if (out && *out)
			return out;
		free(out);
	}
	return NULL;
}

/* Adds one item; titleless ones (and any memory shortage) skip it. */
static void add_item(const xmlNode *node, struct rss_item *items, size_t *n)
{
	xmlNode *t = child_elem(node, "title");
	struct rss_item *it = &items[*n];

	if (!t || !(it->title = clean_title(t)))
		return;
	it->link = item_link(node);
	it->published_ms = item_date(node);
	(*n)++;
}

/* Where the items are: the channel for RSS 2.0, the root for RSS 1.0 and Atom. */
static const xmlNode *item_parent(const xmlNode *root, const char **item_name)
{
	if (is_elem(root, "rss")) {
		*item_name = "item";
		return child_elem(root, "channel");
	}
	if (is_elem(root, "RDF")) {
		*item_name = "item";
		return root;
	}
	if (is_elem(root, "feed")) {
		*item_name = "entry";
		return root;
	}
	return NULL;
}

static int collect(const xmlNode *root, struct rss_item **items, size_t *n, char *err,
		   size_t errlen)
{
	const char *name = NULL;
	const xmlNode *parent = item_parent(root, &name);
	struct rss_item *v;

	if (!parent) {
		snprintf(err, errlen, "not an RSS or Atom document (root element <%.40s>)",
			 (const char *)root->name);
		return -1;
	}
	v = calloc(RSS_MAX_ITEMS, sizeof *v);
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (xmlNode *c = parent->children; c && *n < RSS_MAX_ITEMS; c = c->next)
		if (is_elem(c, name))
			add_item(c, v, n);
	if (*n == 0) {
		free(v);
		v = NULL;
	}
	*items = v;
	return 0;
}

/* libxml2's message for a document that did not parse, on one line. */
static void xml_error(xmlParserCtxtPtr ctxt, const struct parse_state *st, char *err,
		      size_t errlen)
{
	const xmlError *e = xmlCtxtGetLastError(ctxt);
	char msg[160];
	size_t len;

	if (st->entities) {
		snprintf(err, errlen, "document declares entities (refused)");
		return;
	}
	snprintf(msg, sizeof msg, "%s", e && e->message ? e->message : "unknown error");
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		msg[--len] = '\0';
	snprintf(err, errlen, "malformed XML (line %d): %s", e ? e->line : 0, msg);
}

int rss_parse(const char *body, size_t len, struct rss_item **items, size_t *n, char *err,
	      size_t errlen)
{
	struct parse_state st = { 0 };
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	xmlNode *root;
	int rc = -1;

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
	xmlInitParser();
	ctxt = xmlCreateMemoryParserCtxt(body, (int)len);
	if (!ctxt) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	/* NOERROR/NOWARNING keep libxml2 off stderr; the last error stays readable.
	 * No NOENT and no DTDLOAD: nothing external is ever fetched or substituted. */
	xmlCtxtUseOptions(ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
					XML_PARSE_NOCDATA);
	ctxt->_private = &st;
	ctxt->sax->entityDecl = on_entity_decl;
	xmlParseDocument(ctxt);
	doc = ctxt->myDoc;
	ctxt->myDoc = NULL;
	if (!ctxt->wellFormed || st.entities || !doc)
		xml_error(ctxt, &st, err, errlen);
	else if (!(root = xmlDocGetRootElement(doc)))
		snprintf(err, errlen, "document has no root element");
	else
		rc = collect(root, items, n, err, errlen);
	xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
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

int rss_pick(const struct rss_item *items, size_t n, const char *topic, int64_t now_ms,
	     uint64_t *rng)
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
