/* fa_news.c: RSS 2.0 feeds for the worker's news cache. The built-in headlines are dated
 * relative to each request, so the feed always looks fresh however long the fake runs
 * (a demo lasting hours still has headlines under 3 h old); added headlines get a fixed
 * date when added and age like real news. Dates alternate between +0300 and GMT so
 * clients' time zone handling is exercised. The headlines have their own small lock:
 * building a feed never holds the state lock. */
#include "tests/fakeapi/fa_news.h"

#include "tests/fakeapi/fa_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FA_NEWS_MAX_ADDED 200
#define FA_NEWS_MAX_TITLE 500
#define FA_NEWS_MAX_AGE_S (30 * 86400)

struct fa_headline {
    const char *title;
    int64_t at_ms; /* ms since the epoch */
    uint64_t id;
};

/* Ten headlines over the four default topics, 15 minutes to 5 hours old. */
static const struct {
    const char *title;
    int age_min;
} fa_builtin[] = {
    { "Borsa İstanbul'da BIST 100 endeksi güne yükselişle başladı", 15 },
    { "Dolar/TL yeni haftaya 34,20 seviyesinden başladı", 35 },
    { "Bitcoin 67 bin doların üzerine çıktı", 50 },
    { "Merkez Bankası politika faizini sabit tuttu", 75 },
    { "Bankacılık hisselerinde kâr satışı sürüyor", 100 },
    { "Euro/TL'de ECB kararı öncesi hareketlilik", 130 },
    { "Kripto piyasasında Ethereum öne çıktı", 160 },
    { "Yıllık enflasyon beklentilerin altında geldi", 200 },
    { "Endeks 10.000 puan direncini test ediyor", 240 },
    { "Fed faiz indirimi sinyali verdi", 300 },
};

#define FA_NEWS_BUILTIN (sizeof(fa_builtin) / sizeof(fa_builtin[0]))

static pthread_mutex_t fa_news_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fa_headline fa_added[FA_NEWS_MAX_ADDED]; /* oldest first */
static size_t fa_nadded;
static uint64_t fa_next_id = FA_NEWS_BUILTIN + 1;
static long fa_served, fa_dead, fa_added_total;

static int64_t fa_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* RFC 822 date in the C locale's English names, at UTC + offset_h. */
static void fa_rfc822(char *buf, size_t len, int64_t ms, int offset_h)
{
    static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t t = (time_t)(ms / 1000) + offset_h * 3600;
    struct tm tm;

    gmtime_r(&t, &tm);
    if (offset_h)
        snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d %+03d00", days[tm.tm_wday], tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec, offset_h);
    else
        snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
                 months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static void fa_xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            /* XML 1.0 allows no control characters but tab and newline */
            fputc((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' ? ' ' : *s, f);
        }
    }
}

static int fa_newer_first(const void *a, const void *b)
{
    const struct fa_headline *x = a, *y = b;

    return x->at_ms < y->at_ms ? 1 : x->at_ms > y->at_ms ? -1 : 0;
}

static void fa_item(FILE *f, const struct fa_headline *h, size_t i)
{
    char date[64];

    fa_rfc822(date, sizeof(date), h->at_ms, i % 2 ? 0 : 3);
    fputs("<item><title>", f);
    fa_xml_text(f, h->title);
    fprintf(f,
            "</title><link>http://fakeapi.invalid/haber/%llu</link>"
            "<guid isPermaLink=\"false\">fakeapi-%llu</guid><pubDate>%s</pubDate></item>\n",
            (unsigned long long)h->id, (unsigned long long)h->id, date);
}

/* The whole feed as a malloc'd document, or NULL. */
static char *fa_feed(const char *name, size_t *len)
{
    struct fa_headline all[FA_NEWS_BUILTIN + FA_NEWS_MAX_ADDED];
    int64_t now = fa_wall_ms();
    size_t n = 0;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, len);

    if (!f)
        return NULL;
    for (size_t i = 0; i < FA_NEWS_BUILTIN; i++)
        all[n++] =
            (struct fa_headline){ fa_builtin[i].title, now - fa_builtin[i].age_min * 60000LL, i + 1 };
    fprintf(f,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>"
            "<title>piyasa-fakeapi: %s</title><link>http://fakeapi.invalid/</link>"
            "<description>Piyasa haberleri (sahte)</description>\n",
            name);
    pthread_mutex_lock(&fa_news_mu);
    for (size_t i = 0; i < fa_nadded; i++)
        all[n++] = fa_added[i];
    qsort(all, n, sizeof(all[0]), fa_newer_first);
    for (size_t i = 0; i < n; i++)
        fa_item(f, &all[i], i);
    pthread_mutex_unlock(&fa_news_mu); /* the added titles are read until here */
    fputs("</channel></rss>\n", f);
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int fa_feed_name(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > 64)
        return 0;
    for (; *s; s++)
        if (!(*s == '_' || *s == '-' || *s == '.' || (*s >= '0' && *s <= '9') ||
              (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
            return 0;
    return 1;
}

static void fa_text_answer(struct fa_answer *a, unsigned status, const char *ctype, char *body,
                           size_t len)
{
    fa_answer_free(a);
    a->status = body ? status : MHD_HTTP_INTERNAL_SERVER_ERROR;
    a->body = body;
    a->len = body ? len : 0;
    a->ctype = ctype;
}

void fa_news_rss(struct fa_answer *a, const char *name)
{
    size_t len = 0;
    char *doc;

    if (strcmp(name, "dead") == 0) {
        __atomic_add_fetch(&fa_dead, 1, __ATOMIC_RELAXED);
        fa_text_answer(a, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
                       strdup("feed unavailable\n"), strlen("feed unavailable\n"));
        return;
    }
    if (!fa_feed_name(name)) {
        fa_text_answer(a, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8", strdup("no such feed\n"),
                       strlen("no such feed\n"));
        return;
    }
    doc = fa_feed(name, &len);
    __atomic_add_fetch(&fa_served, 1, __ATOMIC_RELAXED);
    fa_text_answer(a, MHD_HTTP_OK, "application/rss+xml; charset=utf-8", doc, len);
}

void fa_news_add(struct fa_answer *a, json_t *p)
{
    const char *title = fa_param_str(p, "title");
    int64_t age = 0;
    char *copy;
    size_t total;

    if (!title || !*title || strlen(title) > FA_NEWS_MAX_TITLE) {
        fa_answer_json(a, 400,
                       json_pack("{s:b, s:s}", "ok", 0, "description",
                                 "title must be a non-empty string of at most 500 bytes"));
        return;
    }
    if (json_object_get(p, "age_s") &&
        (fa_param_int(p, "age_s", &age) < 0 || age < 0 || age > FA_NEWS_MAX_AGE_S)) {
        fa_answer_json(a, 400,
                       json_pack("{s:b, s:s}", "ok", 0, "description",
                                 "age_s must be an integer in 0..2592000"));
        return;
    }
    if (!(copy = strdup(title))) {
        fa_answer_json(a, 500, json_pack("{s:b, s:s}", "ok", 0, "description", "out of memory"));
        return;
    }
    pthread_mutex_lock(&fa_news_mu);
    if (fa_nadded == FA_NEWS_MAX_ADDED) { /* the oldest added one goes */
        free((char *)fa_added[0].title);
        memmove(fa_added, fa_added + 1, (FA_NEWS_MAX_ADDED - 1) * sizeof(fa_added[0]));
        fa_nadded--;
    }
    fa_added[fa_nadded++] = (struct fa_headline){ copy, fa_wall_ms() - age * 1000, fa_next_id++ };
    total = fa_nadded + FA_NEWS_BUILTIN;
    pthread_mutex_unlock(&fa_news_mu);
    __atomic_add_fetch(&fa_added_total, 1, __ATOMIC_RELAXED);
    fa_log(1, "control: news headline added (%lld s old)", (long long)age);
    fa_answer_json(a, 200, json_pack("{s:b, s:I}", "ok", 1, "headlines", (json_int_t)total));
}

void fa_news_reset(void)
{
    pthread_mutex_lock(&fa_news_mu);
    for (size_t i = 0; i < fa_nadded; i++)
        free((char *)fa_added[i].title);
    fa_nadded = 0;
    pthread_mutex_unlock(&fa_news_mu);
    __atomic_store_n(&fa_served, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fa_dead, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fa_added_total, 0, __ATOMIC_RELAXED);
}

json_t *fa_news_stats_json(void)
{
    return json_pack("{s:I, s:I, s:I}", "served",
                     (json_int_t)__atomic_load_n(&fa_served, __ATOMIC_RELAXED), "dead",
                     (json_int_t)__atomic_load_n(&fa_dead, __ATOMIC_RELAXED), "added",
                     (json_int_t)__atomic_load_n(&fa_added_total, __ATOMIC_RELAXED));
}
