/* fa_ctl.c: the control API that tests and the demo use to play humans, change faults,
 * add news headlines and read what the fleet did; also the news feeds (/_rss/<name>).
 * Never faulted, never delayed. */
#include "tests/fakeapi/fa_ctl.h"

#include "tests/fakeapi/fa_llm.h"
#include "tests/fakeapi/fa_map.h"
#include "tests/fakeapi/fa_news.h"
#include "tests/fakeapi/fa_state.h"
#include "tests/fakeapi/fa_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FA_CTL_MAX_BOTS 256
#define FA_HUMAN_ID 1000

static void fa_ctl_err(struct fa_answer *a, unsigned status, const char *msg)
{
    fa_answer_json(a, status, json_pack("{s:b, s:s}", "ok", 0, "description", msg));
}

/* "from": an object {id, username, first_name}, a username string, or absent. */
static void fa_ctl_from(json_t *p, struct fa_human *h, char *idname, size_t len)
{
    json_t *from = json_object_get(p, "from");
    const char *name = json_string_value(from);

    h->from_id = FA_HUMAN_ID;
    if (json_is_object(from)) {
        if (fa_param_int(from, "id", &h->from_id) < 0)
            h->from_id = FA_HUMAN_ID;
        name = fa_param_str(from, "username");
        h->first_name = fa_param_str(from, "first_name");
    } else if (name) {
        /* The same username always maps to the same human id. */
        h->from_id = FA_HUMAN_ID + (int64_t)(fa_hash64(name, strlen(name), 0) % 1000000);
    }
    if (!name) {
        snprintf(idname, len, "human%lld", (long long)h->from_id);
        name = idname;
    }
    h->username = name;
    if (!h->first_name)
        h->first_name = name;
}

static int fa_ctl_bot_ids(json_t *p, int64_t *ids, size_t *n)
{
    json_t *list = json_object_get(p, "bot_ids"), *e;
    size_t i;

    *n = 0;
    if (!list)
        return 0;
    if (!json_is_array(list) || json_array_size(list) > FA_CTL_MAX_BOTS)
        return -1;
    json_array_foreach(list, i, e) {
        if (!json_is_integer(e))
            return -1;
        ids[(*n)++] = json_integer_value(e);
    }
    return 0;
}

static void fa_ctl_human(struct fa_answer *a, json_t *p)
{
    struct fa_human h = { 0 };
    int64_t ids[FA_CTL_MAX_BOTS], message_id = 0;
    char idname[40];
    size_t n;
    int delivered = 0;

    h.text = fa_param_str(p, "text");
    if (fa_param_int(p, "chat_id", &h.chat_id) < 0 || !h.text || !*h.text) {
        fa_ctl_err(a, 400, "chat_id and a non-empty text are required");
        return;
    }
    if (fa_ctl_bot_ids(p, ids, &n) < 0) {
        fa_ctl_err(a, 400, "bot_ids must be a list of bot ids");
        return;
    }
    fa_ctl_from(p, &h, idname, sizeof(idname));
    if (fa_param_int(p, "reply_to_message_id", &h.reply_to) < 0)
        h.reply_to = 0;
    h.extra_bots = ids;
    h.n_extra = n;
    if (fa_chat_human(&h, &message_id, &delivered) < 0) {
        fa_ctl_err(a, 500, "out of memory");
        return;
    }
    fa_log(1, "control: human message %lld in chat %lld delivered to %d bots",
           (long long)message_id, (long long)h.chat_id, delivered);
    fa_answer_json(a, 200,
                   json_pack("{s:b, s:I, s:i}", "ok", 1, "message_id", (json_int_t)message_id,
                             "delivered_to", delivered));
}

static void fa_ctl_join(struct fa_answer *a, json_t *p, int kick)
{
    int64_t chat_id, bot_id;

    if (fa_param_int(p, "chat_id", &chat_id) < 0 || fa_param_int(p, "bot_id", &bot_id) < 0) {
        fa_ctl_err(a, 400, "chat_id and bot_id are required");
        return;
    }
    if (fa_chat_join(chat_id, bot_id, kick) < 0) {
        fa_ctl_err(a, 500, "out of memory");
        return;
    }
    fa_log(1, "control: bot %lld %s chat %lld", (long long)bot_id, kick ? "kicked from" : "joined",
           (long long)chat_id);
    fa_answer_json(a, 200, json_pack("{s:b}", "ok", 1));
}

static void fa_ctl_faults(struct fa_answer *a, json_t *p)
{
    char err[128];

    if (fa_settings_apply(p, err, sizeof(err)) < 0) {
        fa_ctl_err(a, 400, err);
        return;
    }
    if (json_object_size(p) > 0)
        fa_log(1, "control: settings changed");
    fa_answer_json(a, 200, fa_settings_json());
}

static void fa_ctl_messages(struct fa_answer *a, json_t *p)
{
    int64_t chat_id, limit = 50;

    if (fa_param_int(p, "chat_id", &chat_id) < 0) {
        fa_ctl_err(a, 400, "chat_id is required");
        return;
    }
    if (fa_param_int(p, "limit", &limit) < 0 || limit <= 0)
        limit = 50;
    fa_answer_json(a, 200, fa_chat_messages(chat_id, limit > 100000 ? 100000 : (int)limit));
}

static void fa_ctl_route(struct fa_answer *a, const char *url, int post, json_t *p)
{
    if (strcmp(url, "/_stats") == 0)
        fa_answer_json(a, 200, fa_stats_json());
    else if (strcmp(url, "/_stats/sends") == 0)
        fa_answer_json(a, 200, fa_chat_sends_json());
    else if (strcmp(url, "/_messages") == 0)
        fa_ctl_messages(a, p);
    else if (strcmp(url, "/_prompts") == 0)
        fa_answer_json(a, 200, fa_llm_prompts_json());
    else if (strcmp(url, "/_health") == 0)
        fa_answer_json(a, 200, json_pack("{s:b}", "ok", 1));
    else if (strncmp(url, "/_rss/", 6) == 0)
        fa_news_rss(a, url + 6);
    else if (strcmp(url, "/_control/faults") == 0)
        fa_ctl_faults(a, p);
    else if (strncmp(url, "/_control/", 10) == 0 && !post)
        fa_ctl_err(a, 405, "use POST");
    else if (strcmp(url, "/_control/human") == 0)
        fa_ctl_human(a, p);
    else if (strcmp(url, "/_control/join") == 0)
        fa_ctl_join(a, p, 0);
    else if (strcmp(url, "/_control/kick") == 0)
        fa_ctl_join(a, p, 1);
    else if (strcmp(url, "/_control/news") == 0)
        fa_news_add(a, p);
    else if (strcmp(url, "/_control/reset") == 0) {
        fa_state_reset();
        fa_llm_prompts_reset();
        fa_log(1, "control: reset");
        fa_answer_json(a, 200, json_pack("{s:b}", "ok", 1));
    } else
        fa_ctl_err(a, 404, "Not Found");
}

void fa_ctl_handle(struct fa_req *req, const char *url, const char *method)
{
    int bad;
    json_t *p = fa_req_params(req, &bad);

    if (!p) {
        fa_ctl_err(&req->ans, 400, "body must be a JSON object");
        return;
    }
    fa_ctl_route(&req->ans, url, strcmp(method, "POST") == 0, p);
    json_decref(p);
}
