/* rss: headlines out of news feeds, and the choice of one headline for a topic
 * (BEHAVIOUR.md step 4, "News").
 *
 * rss_parse reads RSS 2.0 (<rss><channel><item>), RSS 1.0 (<rdf:RDF><item>) and
 * Atom (<feed><entry>) with expat, nothing external ever read and entity
 * declarations refused outright (no billion laughs, no external entities): feeds
 * never need them. Titles come out as clean UTF-8 lines. rss_pick chooses the
 * headline a bot may quote. Nothing here logs or keeps state; the only I/O is
 * iconv loading a converter for a feed in an encoding expat does not read itself
 * (it reads UTF-8, UTF-16, ISO-8859-1 and US-ASCII; not ISO-8859-9 or
 * windows-1254). */
#ifndef PIYASA_RSS_H
#define PIYASA_RSS_H

#include <stddef.h>
#include <stdint.h>

#define RSS_MAX_BYTES (1024 * 1024) /* bigger documents are refused */
#define RSS_MAX_ITEMS 200           /* the first ones in document order are kept */
#define RSS_TITLE_MAX 400           /* bytes kept of a title, cut between characters */

#define RSS_FRESH_MS (3LL * 3600 * 1000)   /* preferred headlines are younger */
#define RSS_RECENT_MS (24LL * 3600 * 1000) /* older headlines are never picked */

struct rss_item {
	char *title;          /* trimmed, whitespace collapsed, never empty */
	char *link;           /* NULL when the item has none */
	int64_t published_ms; /* ms since the epoch; 0 when missing or unparsable */
};

/* Parse a feed. On success *items (malloc'd, free with rss_items_free) holds *n
 * items (0 for a valid feed without items; then *items is NULL) and 0 is
 * returned. Items without a title are skipped. Titles: text and CDATA joined,
 * entities decoded (XML's, numeric ones, and HTML named entities left over by
 * double escaping), HTML tags removed (common tag names only: "<b>" goes,
 * "<kırıldı>" stays), whitespace collapsed, cut to RSS_TITLE_MAX bytes. Dates:
 * RSS pubDate (RFC 822, English or Turkish month names), Atom published (else
 * updated), dc:date (RFC 3339); either format is accepted in any of them.
 * Returns -1 with the reason in err (never a crash, nothing allocated) when the
 * document is empty, over RSS_MAX_BYTES, not well-formed XML (or in an encoding
 * iconv does not know either), declares entities, or is not RSS or Atom. */
int rss_parse(const char *body, size_t len, struct rss_item **items, size_t *n, char *err,
	      size_t errlen) __attribute__((warn_unused_result));

/* Free n items and the array. Safe on NULL. */
void rss_items_free(struct rss_item *items, size_t n);

/* "Mon, 02 Jan 2006 15:04:05 +0300" (day name optional, seconds optional,
 * two-digit years, zones +HHMM, +HH:MM, GMT, UT, UTC, Z, TRT and the US ones;
 * a missing or unknown zone is UTC) to ms since the epoch; 0 when unparsable. */
int64_t rss_date_rfc822(const char *s);

/* "2006-01-02T15:04:05.123+03:00" (also "Z", a space instead of "T", or a date
 * alone, read as midnight UTC) to ms since the epoch; 0 when unparsable. */
int64_t rss_date_rfc3339(const char *s);

/* 1 when title is about topic: it holds the topic word, or for the default
 * topics one of their keywords (BIST: bist, borsa, hisse, endeks; FX: dolar,
 * euro, kur; Kripto: bitcoin, btc, kripto, eth; Makro: faiz, enflasyon, merkez
 * bankası, fed). Case and Turkish letters are folded (İ, I and ı all match i; ş
 * matches s, ...). A keyword must start a word; one shorter than four letters
 * ("kur", "fed", "btc") must also end it, though an apostrophe suffix is fine
 * ("Fed'in"), so "kurum" is not about FX. 0 for an empty or NULL topic. */
int rss_topic_match(const char *title, const char *topic);

/* The headline to quote for topic at now_ms, as an index into items, or -1:
 *   1. the newest one about the topic under RSS_FRESH_MS old;
 *   2. else the newest one about the topic under RSS_RECENT_MS old;
 *   3. else one under RSS_FRESH_MS old on any subject, uniform through rng
 *      (the newest when rng is NULL), so bots do not all quote the same one.
 * Undated items (published_ms 0), items RSS_RECENT_MS old or older and items
 * dated over RSS_FRESH_MS in the future (a broken clock) are never picked; a
 * smaller future skew counts as brand new. */
int rss_pick(const struct rss_item *items, size_t n, const char *topic, int64_t now_ms, uint64_t *rng);

#endif
