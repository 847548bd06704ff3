/* news: see news.h. Each feed owns its parsed items; a flat array of shallow
 * copies of all of them (rebuilt whenever a feed changes) is what rss_pick reads.
 * A fetch's callback argument is the feed itself: a feed removed by
 * news_set_feeds or news_free while its fetch is in flight is only marked
 * dropped and freed by that callback, and the struct news waits for its last
 * fetch and its timer before it goes, so no callback ever sees freed memory. */
#include "worker/chat/news.h"

#include "common/log.h"
#include "worker/chat/rss.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NEWS_TIMEOUT_MS 20000
#define NEWS_CONNECT_TIMEOUT_MS 5000
#define NEWS_LOW_SPEED_S 10

struct feed {
	struct news *owner;
	char *url;
	char label[160]; /* host and path, for logs */
	struct rss_item *items;
	size_t nitems;
	int inflight;
	int dropped; /* no longer listed: the fetch callback frees it */
	int failing; /* inside a failure streak (already logged) */
};

struct news {
	uv_loop_t *loop;
	struct httpc *http;
	uv_timer_t timer;
	struct feed **feeds;
	size_t nfeeds;
	long refresh_ms;
	struct rss_item *all; /* shallow copies of every feed's items */
	size_t nall;
	size_t inflight;
	int closing;
	int timer_open;
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "https://user:pw@host:8080/path?key=secret#x" -> "host:8080/path". */
static void url_label(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://"), *at, *end;

	p = p ? p + 3 : url;
	end = p + strcspn(p, "?#");
	at = memchr(p, '@', (size_t)(end - p));
	if (at && at < p + strcspn(p, "/"))
		p = at + 1;
	snprintf(out, len, "%.*s", (int)(end - p), p);
}

static void feed_free(struct feed *f)
{
	if (!f)
		return;
	rss_items_free(f->items, f->nitems);
	free(f->url);
	free(f);
}

static struct feed *feed_new(struct news *n, const char *url)
{
	struct feed *f = calloc(1, sizeof *f);

	if (!f || !(f->url = strdup(url))) {
		free(f);
		return NULL;
	}
	f->owner = n;
	url_label(url, f->label, sizeof f->label);
	return f;
}

/* Removes a feed from use: freed now, or by its fetch callback. */
static void feed_drop(struct feed *f)
{
	if (f->inflight)
		f->dropped = 1;
	else
		feed_free(f);
}

/* Rebuild the flat array rss_pick reads. On allocation failure the cache reads
 * as empty until the next rebuild (better than stale pointers). */
static void rebuild(struct news *n)
{
	size_t total = 0, k = 0;
	struct rss_item *all;

	for (size_t i = 0; i < n->nfeeds; i++)
		total += n->feeds[i]->nitems;
	free(n->all);
	n->all = NULL;
	n->nall = 0;
	if (total == 0 || !(all = malloc(total * sizeof *all)))
		return;
	for (size_t i = 0; i < n->nfeeds; i++) {
		if (n->feeds[i]->nitems == 0)
			continue; /* its items may be NULL */
		memcpy(all + k, n->feeds[i]->items, n->feeds[i]->nitems * sizeof *all);
		k += n->feeds[i]->nitems;
	}
	n->all = all;
	n->nall = total;
}

/* Drop items dated before cutoff (undated ones have been dated by now). */
static void prune(struct feed *f, int64_t cutoff)
{
	size_t w = 0;

	for (size_t i = 0; i < f->nitems; i++) {
		if (f->items[i].published_ms >= cutoff) {
			f->items[w++] = f->items[i];
			continue;
		}
		free(f->items[i].title);
		free(f->items[i].link);
	}
	f->nitems = w;
}

/* An undated item keeps the date it got when first seen, else gets now. */
static void date_undated(struct rss_item *items, size_t n, const struct feed *old, int64_t now)
{
	for (size_t i = 0; i < n; i++) {
		if (items[i].published_ms)
			continue;
		items[i].published_ms = now;
		for (size_t j = 0; j < old->nitems; j++)
			if (strcmp(old->items[j].title, items[i].title) == 0) {
				items[i].published_ms = old->items[j].published_ms;
				break;
			}
	}
}

static void feed_failed(struct news *n, struct feed *f, const char *why)
{
	if (!f->failing)
		log_warn("news feed %s: %s (skipped until it answers again)", f->label, why);
	f->failing = 1;
	prune(f, wall_ms() - RSS_RECENT_MS);
	rebuild(n);
}

static void feed_parsed(struct news *n, struct feed *f, const char *body, size_t len)
{
	struct rss_item *items;
	size_t count;
	int64_t now = wall_ms();
	char err[256];

	if (rss_parse(body, len, &items, &count, err, sizeof err) < 0) {
		feed_failed(n, f, err);
		return;
	}
	date_undated(items, count, f, now);
	rss_items_free(f->items, f->nitems);
	f->items = items;
	f->nitems = count;
	prune(f, now - RSS_RECENT_MS);
	rebuild(n);
	if (f->failing)
		log_info("news feed %s: answering again (%zu headlines)", f->label, f->nitems);
	f->failing = 0;
}

static void release_if_done(struct news *n)
{
	if (n->closing && !n->timer_open && n->inflight == 0)
		free(n);
}

static void on_fetched(const struct httpc_resp *resp, void *arg)
{
	struct feed *f = arg;
	struct news *n = f->owner;
	char why[64];

	f->inflight = 0;
	n->inflight--;
	if (f->dropped || n->closing || resp->err_kind == HTTPC_ABORTED) {
		if (f->dropped)
			feed_free(f);
		release_if_done(n);
		return;
	}
	if (resp->err_kind != HTTPC_OK) {
		feed_failed(n, f, resp->err);
	} else if (resp->status < 200 || resp->status > 299) {
		snprintf(why, sizeof why, "HTTP %d", resp->status);
		feed_failed(n, f, why);
	} else {
		feed_parsed(n, f, resp->body, resp->body_len);
	}
}

static void feed_fetch(struct news *n, struct feed *f)
{
	static const char *const headers[] = {
		"Accept: application/rss+xml, application/atom+xml, application/xml;q=0.9, "
		"text/xml;q=0.9, */*;q=0.1",
		"User-Agent: piyasa-news/1",
		NULL,
	};
	struct httpc_req req = {
		.method = "GET",
		.url = f->url,
		.headers = headers,
		.timeout_ms = NEWS_TIMEOUT_MS,
		.connect_timeout_ms = NEWS_CONNECT_TIMEOUT_MS,
		.low_speed_time_s = NEWS_LOW_SPEED_S,
	};

	if (f->inflight)
		return;
	if (httpc_request(n->http, &req, on_fetched, f) < 0) {
		feed_failed(n, f, "request not started (bad URL or no memory)");
		return;
	}
	f->inflight = 1;
	n->inflight++;
}

static void on_refresh(uv_timer_t *t)
{
	struct news *n = t->data;

	for (size_t i = 0; i < n->nfeeds && !n->closing; i++)
		feed_fetch(n, n->feeds[i]);
}

static void on_timer_closed(uv_handle_t *h)
{
	struct news *n = h->data;

	n->timer_open = 0;
	release_if_done(n);
}

struct news *news_new(uv_loop_t *loop, struct httpc *http)
{
	struct news *n = calloc(1, sizeof *n);

	if (!n)
		return NULL;
	n->loop = loop;
	n->http = http;
	if (uv_timer_init(loop, &n->timer) != 0) {
		free(n);
		return NULL;
	}
	n->timer.data = n;
	n->timer_open = 1;
	return n;
}

void news_free(struct news *n)
{
	if (!n || n->closing)
		return;
	n->closing = 1;
	uv_timer_stop(&n->timer);
	uv_close((uv_handle_t *)&n->timer, on_timer_closed);
	for (size_t i = 0; i < n->nfeeds; i++)
		feed_drop(n->feeds[i]);
	free(n->feeds);
	free(n->all);
	n->feeds = NULL;
	n->all = NULL;
	n->nfeeds = n->nall = 0;
}

static int is_web_url(const char *u)
{
	return u && (strncmp(u, "http://", 7) == 0 || strncmp(u, "https://", 8) == 0) && strlen(u) > 8;
}

/* Index of url in feeds[0..len), or -1. */
static long find_feed(struct feed *const *feeds, size_t len, const char *url)
{
	for (size_t i = 0; i < len; i++)
		if (feeds[i] && strcmp(feeds[i]->url, url) == 0)
			return (long)i;
	return -1;
}

/* 1 when urls (after filtering) is exactly the current list, in order. */
static int same_feeds(const struct news *n, const char *const *urls, size_t nurls)
{
	size_t k = 0;

	for (size_t i = 0; i < nurls; i++) {
		if (!is_web_url(urls[i]) || find_feed(n->feeds, k, urls[i]) >= 0)
			continue; /* skipped when the list was built too */
		if (k >= n->nfeeds || strcmp(n->feeds[k]->url, urls[i]) != 0)
			return 0;
		k++;
	}
	return k == n->nfeeds;
}

void news_set_feeds(struct news *n, const char *const *urls, size_t nurls, long refresh_ms)
{
	struct feed **feeds;
	size_t k = 0;

	if (!n || n->closing)
		return;
	refresh_ms = refresh_ms <= 0 ? NEWS_REFRESH_DEFAULT_MS : refresh_ms;
	refresh_ms = refresh_ms < NEWS_REFRESH_MIN_MS ? NEWS_REFRESH_MIN_MS : refresh_ms;
	if (refresh_ms == n->refresh_ms && same_feeds(n, urls, nurls))
		return;
	feeds = calloc(nurls ? nurls : 1, sizeof *feeds);
	if (!feeds) {
		log_warn("news: out of memory, feed list unchanged");
		return;
	}
	for (size_t i = 0; i < nurls; i++) {
		long old;
		if (!is_web_url(urls[i]) || find_feed(feeds, k, urls[i]) >= 0)
			continue;
		old = find_feed(n->feeds, n->nfeeds, urls[i]);
		if (old >= 0) {
			feeds[k++] = n->feeds[old];
			n->feeds[old] = NULL; /* moved */
		} else if ((feeds[k] = feed_new(n, urls[i])) != NULL) {
			k++;
		}
	}
	for (size_t i = 0; i < n->nfeeds; i++)
		if (n->feeds[i])
			feed_drop(n->feeds[i]);
	free(n->feeds);
	n->feeds = feeds;
	n->nfeeds = k;
	n->refresh_ms = refresh_ms;
	rebuild(n);
	uv_timer_stop(&n->timer);
	if (k > 0)
		uv_timer_start(&n->timer, on_refresh, 0, (uint64_t)refresh_ms);
}

int news_headline(struct news *n, const char *topic, int64_t now_ms, uint64_t *rng, char *out,
		  size_t outlen)
{
	const char *title;
	size_t len;
	int i;

	if (!out || outlen == 0)
		return -1;
	out[0] = '\0';
	if (!n || (i = rss_pick(n->all, n->nall, topic, now_ms, rng)) < 0)
		return -1;
	title = n->all[i].title;
	len = strlen(title);
	if (len >= outlen) {
		len = outlen - 1;
		while (len > 0 && ((unsigned char)title[len] & 0xC0) == 0x80)
			len--; /* never split a character */
	}
	memcpy(out, title, len);
	out[len] = '\0';
	return 0;
}

size_t news_count(const struct news *n)
{
	return n ? n->nall : 0;
}
