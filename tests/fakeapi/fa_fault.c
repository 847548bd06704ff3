/* fa_fault.c: fault injection. Each configured rate is an independent probability per
 * request, checked in a fixed order (429, 5xx, hang, badjson) with the calling thread's
 * seeded generator; 5xx statuses rotate 500, 502, 503 so clients see all three. */
#include "tests/fakeapi/fa_fault.h"

#include "tests/fakeapi/fa_util.h"

#include <stdio.h>
#include <string.h>

static unsigned fa_5xx_turn;

static int fa_fault_hit(double rate)
{
    return rate > 0 && (rate >= 1 || fa_rand01() < rate);
}

enum fa_fault fa_fault_draw(const struct fa_settings *s, int is_llm)
{
    enum fa_fault f = FA_FAULT_NONE;

    if ((s->fault_scope == FA_SCOPE_LLM && !is_llm) || (s->fault_scope == FA_SCOPE_TELEGRAM && is_llm))
        return FA_FAULT_NONE;
    if (fa_fault_hit(s->fault_429))
        f = FA_FAULT_429;
    else if (fa_fault_hit(s->fault_5xx))
        f = FA_FAULT_5XX;
    else if (fa_fault_hit(s->fault_hang))
        f = FA_FAULT_HANG;
    else if (fa_fault_hit(s->fault_badjson))
        f = FA_FAULT_BADJSON;
    if (f != FA_FAULT_NONE)
        fa_stats_fault(f);
    return f;
}

static void fa_fault_429(struct fa_answer *a, const struct fa_settings *s, int is_llm)
{
    char desc[64];

    if (is_llm) {
        fa_answer_json(a, MHD_HTTP_TOO_MANY_REQUESTS,
                       json_pack("{s:{s:s, s:s, s:s}}", "error", "message",
                                 "Rate limit reached for requests", "type", "requests", "code",
                                 "rate_limit_exceeded"));
        a->llm_ratelimit = 1;
    } else {
        snprintf(desc, sizeof(desc), "Too Many Requests: retry after %d", s->retry_after);
        fa_answer_json(a, MHD_HTTP_TOO_MANY_REQUESTS,
                       json_pack("{s:b, s:i, s:s, s:{s:i}}", "ok", 0, "error_code", 429,
                                 "description", desc, "parameters", "retry_after", s->retry_after));
    }
    a->retry_after = s->retry_after > 0 ? s->retry_after : 1;
}

static void fa_fault_5xx(struct fa_answer *a, int is_llm)
{
    static const unsigned codes[] = { 500, 502, 503 };
    static const char *const names[] = { "Internal Server Error", "Bad Gateway", "Service Unavailable" };
    unsigned i = __atomic_fetch_add(&fa_5xx_turn, 1, __ATOMIC_RELAXED) % 3;

    if (is_llm)
        fa_answer_json(a, codes[i],
                       json_pack("{s:{s:s, s:s, s:n}}", "error", "message", names[i], "type",
                                 "server_error", "code"));
    else
        fa_answer_json(a, codes[i],
                       json_pack("{s:b, s:i, s:s}", "ok", 0, "error_code", (int)codes[i],
                                 "description", names[i]));
}

void fa_fault_answer(struct fa_answer *a, enum fa_fault f, const struct fa_settings *s, int is_llm)
{
    if (f == FA_FAULT_429)
        fa_fault_429(a, s, is_llm);
    else
        fa_fault_5xx(a, is_llm);
}

void fa_fault_truncate(struct fa_answer *a)
{
    if (!a->body || a->len < 2) {
        fa_answer_free(a);
        a->body = strdup("{");
        a->len = a->body ? 1 : 0;
        a->status = MHD_HTTP_OK;
        return;
    }
    /* Half of a JSON object always lacks its closing brace. */
    a->len /= 2;
    a->body[a->len] = '\0';
    a->status = MHD_HTTP_OK;
}
