/* news: the worker's cache of headlines from the settings' news_feed_urls
 * (BEHAVIOUR.md step 4), refreshed on a libuv timer through the worker's
 * asynchronous HTTP client. Nothing here blocks; at most one fetch per feed is in
 * flight. A feed that fails (connect error, HTTP error, unparsable document) is
 * logged once per failure streak, by host and path only (a query string may hold
 * a key), and skipped; its headlines stay until they are RSS_RECENT_MS (24 h)
 * old. Undated headlines are dated when first seen. Redirects are not followed
 * (httpc does not), so a feed that moved fails with its 3xx status: configure its
 * final URL. The choice of a headline is rss_pick's (common/rss.h). */
#ifndef PIYASA_NEWS_H
#define PIYASA_NEWS_H

#include "common/net/httpc.h"

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct news;

#define NEWS_REFRESH_DEFAULT_MS (10L * 60 * 1000)
#define NEWS_REFRESH_MIN_MS 1000L

/* An empty cache with no feeds on loop. http must outlive it: call news_free
 * before httpc_free. NULL when memory is short. */
struct news *news_new(uv_loop_t *loop, struct httpc *http);

/* Stop the timer and drop the cache. Fetches in flight finish (or are aborted by
 * httpc_free) without touching anything freed; the memory goes once the last of
 * them and the timer's close callback ran, so the loop must run once more. Safe
 * on NULL. */
void news_free(struct news *n);

/* Replace the feed list (settings reload). Feeds kept from the old list keep their
 * headlines; dropped ones lose theirs. Only http:// and https:// URLs are taken;
 * duplicates and empty strings are ignored. Every feed is fetched on the next
 * loop iteration, then every refresh_ms (<= 0: NEWS_REFRESH_DEFAULT_MS; at least
 * NEWS_REFRESH_MIN_MS). The same list with the same period changes nothing, so
 * a reload of unrelated settings does not refetch. An empty list stops fetching. */
void news_set_feeds(struct news *n, const char *const *urls, size_t nurls, long refresh_ms);

/* The headline to quote for topic at now_ms (ms since the epoch) as chosen by
 * rss_pick, copied into out (cut between UTF-8 characters when outlen is short).
 * 0, or -1 (out set to "") when there is none. rng: the caller's generator. */
int news_headline(struct news *n, const char *topic, int64_t now_ms, uint64_t *rng, char *out,
		  size_t outlen);

/* Headlines cached, over all feeds (for metrics and tests). */
size_t news_count(const struct news *n);

#endif
