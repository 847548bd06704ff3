/* fa_news.h: the fake news site. RSS 2.0 feeds at GET /_rss/<name> with ten built-in
 * Turkish market headlines (BIST, FX, Kripto, Makro) dated a few minutes to a few hours
 * before each request, plus headlines added through POST /_control/news; /_rss/dead
 * answers 503. Never faulted, never delayed. */
#ifndef FA_NEWS_H
#define FA_NEWS_H

#include "tests/fakeapi/fa_http.h"

#include <jansson.h>

/* GET /_rss/<name>: the feed (every name serves the same headlines, newest first). */
void fa_news_rss(struct fa_answer *a, const char *name);

/* POST /_control/news {"title": "...", "age_s": N}: a headline dated N seconds ago
 * (default 0) for every feed. */
void fa_news_add(struct fa_answer *a, json_t *params);

/* Back to the built-in headlines only; counters to zero. Frees what was added. */
void fa_news_reset(void);

/* {"served": feeds answered, "dead": 503s of /_rss/dead, "added": headlines added} */
json_t *fa_news_stats_json(void);

#endif
