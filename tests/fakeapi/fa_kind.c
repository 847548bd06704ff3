/* fa_kind.c: the worker makes several kinds of LLM calls through one endpoint; the
 * fake tells them apart by the fixed openings of their system prompts and answers each
 * plausibly: chatter (fa_text), the consistency guard's EVET / HAYIR, and the memory
 * summary's JSON array. The markers are the prompt builder's exact sentences. */
#include "tests/fakeapi/fa_kind.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FA_N(a) (sizeof(a) / sizeof((a)[0]))

static const char fa_guard_mark[] = "TUTARLILIK DENETİMİ";
static const char fa_memo_mark[] = "HAFIZA ÖZETİ";
static const char fa_no_emoji[] = "Emoji kullanma.";
static const char fa_reply_mark[] = "Şu mesaja cevap ver:";
static const char fa_topic_mark[] = "Konu:";
/* The symbol the prompt asks to speak of: the fake writes about it, as a model
 * following the prompt would. */
static const char fa_focus_mark[] = "Odak:";
/* The worker's paraphrase request (a duplicate said again): answered as chatter,
 * counted apart so a test can tell drafts from paraphrases. */
static const char fa_paraphrase_mark[] = "Şu mesajı aynı anlamda";

static int fa_starts(const char *s, const char *prefix)
{
    while (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t')
        s++;
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The value of the last line starting with mark, trimmed, cut between characters. */
static void fa_topic_line(const char *user, const char *mark, char *out, size_t len)
{
    const char *found = NULL, *end;
    size_t n;

    out[0] = '\0';
    for (const char *p = strstr(user, mark); p; p = strstr(p + 1, mark))
        if (p == user || p[-1] == '\n')
            found = p + strlen(mark);
    if (!found)
        return;
    while (*found == ' ' || *found == '\t')
        found++;
    end = found + strcspn(found, "\r\n");
    while (end > found && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '.'))
        end--;
    n = (size_t)(end - found);
    if (n >= len) {
        n = len - 1;
        while (n > 0 && ((unsigned char)found[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, found, n);
    out[n] = '\0';
}

enum fa_kind fa_kind_read(const char *system, const char *user, struct fa_text_req *req)
{
    memset(req, 0, sizeof(*req));
    if (system && fa_starts(system, fa_guard_mark))
        return FA_KIND_GUARD;
    if (system && fa_starts(system, fa_memo_mark))
        return FA_KIND_MEMORIZE;
    req->no_emoji = system && strstr(system, fa_no_emoji) != NULL;
    req->reply = user && strstr(user, fa_reply_mark) != NULL;
    if (user) {
        fa_topic_line(user, fa_focus_mark, req->topic, sizeof(req->topic));
        if (!req->topic[0])
            fa_topic_line(user, fa_topic_mark, req->topic, sizeof(req->topic));
    }
    return user && fa_starts(user, fa_paraphrase_mark) ? FA_KIND_PARAPHRASE : FA_KIND_CHAT;
}

char *fa_kind_guard(uint64_t n, int reject, const char *user)
{
    static const char *const with_symbol[] = {
        "HAYIR: Mesaj, %s hakkındaki kayıtlı tutumunla çelişiyor.",
        "HAYIR: Daha önce %s için tersini savunmuştun.",
        "HAYIR: Mesajdaki %s yorumu tutumlarına uymuyor.",
    };
    const char *sym[1];
    char bufs[1][16], *out = NULL;

    if (!reject)
        return strdup("EVET");
    if (fa_text_symbols(user, sym, bufs, 1) == 0)
        return strdup("HAYIR: Mesaj, kayıtlı tutumlarınla çelişiyor.");
    if (asprintf(&out, with_symbol[n % FA_N(with_symbol)], sym[0]) < 0)
        return NULL;
    return out;
}

static const char *const fa_memo_types[] = { "past_event", "preference", "personal_fact" };

/* Sentence templates per memory type: with a symbol (%s), and one without. */
static const char *const fa_memo_symbol[3][3] = {
    { "%s pozisyonunda geçen hafta kâr aldı.", "%s düşüşünde zarar ettiğini anlattı.",
      "%s için erken satıp pişman olduğunu söyledi." },
    { "%s tarafında uzun vadeli düşünmeyi tercih ediyor.",
      "%s konusunda temkinli davranmayı seviyor.", "%s için kademeli alımı tercih ediyor." },
    { "%s grafiğini her sabah kontrol ediyor.", "Portföyünde %s bulunduğunu söyledi.",
      "%s haberlerini yakından takip ediyor." },
};
static const char *const fa_memo_plain[3] = {
    "Geçen ay aceleyle sattığı hisse için pişman olduğunu söyledi.",
    "Stop kullanmadan işlem yapmamayı tercih ediyor.",
    "Sabahları piyasa açılmadan haberleri okuyor.",
};

static json_t *fa_memo_item(uint64_t n, size_t i, const char *symbol)
{
    size_t type = (size_t)((n + i) % 3);
    char *content = NULL;
    json_t *o;

    if (symbol && asprintf(&content, fa_memo_symbol[type][(n / 3 + i) % 3], symbol) < 0)
        return NULL;
    o = json_pack("{s:s, s:s}", "memory_type", fa_memo_types[type], "content",
                  content ? content : fa_memo_plain[type]);
    free(content);
    return o;
}

char *fa_kind_memorize(uint64_t n, uint64_t rnd, const char *user, int broken)
{
    const char *syms[3];
    char bufs[3][16], *text;
    size_t nsym = fa_text_symbols(user, syms, bufs, 3), count = 1 + rnd % 3, len;
    json_t *arr = json_array();

    for (size_t i = 0; i < count && arr; i++)
        json_array_append_new(arr, fa_memo_item(n, i, nsym ? syms[i % nsym] : NULL));
    text = arr ? json_dumps(arr, JSON_INDENT(2)) : NULL;
    json_decref(arr);
    if (text && broken) {
        /* Half of the array, cut between characters: never JSON, still UTF-8. */
        len = strlen(text) / 2;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--;
        text[len] = '\0';
    }
    return text;
}
