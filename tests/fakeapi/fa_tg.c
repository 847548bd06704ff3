/* fa_tg.c: Telegram Bot API methods. Answers have the real API's shapes and error
 * descriptions, so clients exercise their real parsing and error paths. The token is
 * only ever reduced to its bot id: it is never logged. */
#include "tests/fakeapi/fa_tg.h"

#include "tests/fakeapi/fa_bots.h"
#include "tests/fakeapi/fa_fault.h"
#include "tests/fakeapi/fa_state.h"
#include "tests/fakeapi/fa_text.h"
#include "tests/fakeapi/fa_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define FA_TG_MAX_TEXT 4096
#define FA_TG_MAX_TIMEOUT 50

struct fa_tg_call {
    struct fa_req *req;
    int64_t bot_id;
    json_t *params;
};

struct fa_tg_method {
    const char *name;
    enum fa_call call;
    int faultable;
    int (*fn)(struct fa_tg_call *c); /* 1: suspended */
};

static json_t *fa_tg_bot_user(int64_t bot_id)
{
    char first[48], user[48];

    snprintf(first, sizeof(first), "Bot %lld", (long long)bot_id);
    snprintf(user, sizeof(user), "bot%lld_bot", (long long)bot_id);
    return json_pack("{s:I, s:b, s:s, s:s}", "id", (json_int_t)bot_id, "is_bot", 1, "first_name",
                     first, "username", user);
}

static int fa_tg_get_me(struct fa_tg_call *c)
{
    json_t *u = fa_tg_bot_user(c->bot_id);

    json_object_set_new(u, "can_join_groups", json_true());
    json_object_set_new(u, "can_read_all_group_messages", json_false());
    json_object_set_new(u, "supports_inline_queries", json_false());
    fa_answer_tg_ok(&c->req->ans, u);
    return 0;
}

static int fa_tg_true(struct fa_tg_call *c)
{
    fa_answer_tg_ok(&c->req->ans, json_true());
    return 0;
}

/* reply_to_message_id, or reply_parameters.message_id (an object, or JSON in a form). */
static int64_t fa_tg_reply_to(json_t *params)
{
    json_t *rp = json_object_get(params, "reply_parameters"), *parsed = NULL;
    int64_t id = 0;

    if (fa_param_int(params, "reply_to_message_id", &id) == 0)
        return id;
    if (json_is_string(rp))
        rp = parsed = json_loads(json_string_value(rp), 0, NULL);
    if (fa_param_int(rp, "message_id", &id) < 0)
        id = 0;
    json_decref(parsed);
    return id;
}

static int fa_tg_send_error(struct fa_answer *a, enum fa_send_rc rc)
{
    if (rc == FA_SEND_MISSING)
        fa_answer_tg_err(a, 400, "Bad Request: chat not found");
    else if (rc == FA_SEND_KICKED)
        fa_answer_tg_err(a, 403, "Forbidden: bot was kicked from the supergroup chat");
    else
        fa_answer_tg_err(a, 500, "Internal Server Error: out of memory");
    return 0;
}

static int fa_tg_chat_id(struct fa_tg_call *c, int64_t *chat_id)
{
    if (!json_object_get(c->params, "chat_id")) {
        fa_answer_tg_err(&c->req->ans, 400, "Bad Request: chat_id is empty");
        return -1;
    }
    if (fa_param_int(c->params, "chat_id", chat_id) < 0) { /* "@name": unknown here */
        fa_answer_tg_err(&c->req->ans, 400, "Bad Request: chat not found");
        return -1;
    }
    return 0;
}

static int fa_tg_send_message(struct fa_tg_call *c)
{
    const char *text = fa_param_str(c->params, "text");
    struct fa_sent sent = { 0 };
    enum fa_send_rc rc;
    int64_t chat_id;
    json_t *m;

    if (fa_tg_chat_id(c, &chat_id) < 0)
        return 0;
    if (!text || !*text) {
        fa_answer_tg_err(&c->req->ans, 400, "Bad Request: message text is empty");
        return 0;
    }
    if (fa_text_codepoints(text) > FA_TG_MAX_TEXT) {
        fa_answer_tg_err(&c->req->ans, 400, "Bad Request: message is too long");
        return 0;
    }
    rc = fa_chat_send(c->bot_id, chat_id, text, fa_tg_reply_to(c->params), &sent);
    if (rc != FA_SEND_OK)
        return fa_tg_send_error(&c->req->ans, rc);
    m = json_pack("{s:I, s:I, s:{s:I, s:s}, s:o, s:s}", "message_id", (json_int_t)sent.message_id,
                  "date", (json_int_t)sent.date, "chat", "id", (json_int_t)chat_id, "type",
                  "supergroup", "from", fa_tg_bot_user(c->bot_id), "text", text);
    if (m && sent.reply_to)
        json_object_set_new(m, "reply_to_message", sent.reply_to);
    else
        json_decref(sent.reply_to);
    fa_answer_tg_ok(&c->req->ans, m);
    return 0;
}

static int fa_tg_send_action(struct fa_tg_call *c)
{
    enum fa_send_rc rc;
    int64_t chat_id;

    if (fa_tg_chat_id(c, &chat_id) < 0)
        return 0;
    rc = fa_chat_action(c->bot_id, chat_id);
    if (rc != FA_SEND_OK)
        return fa_tg_send_error(&c->req->ans, rc);
    fa_answer_tg_ok(&c->req->ans, json_true());
    return 0;
}

static int64_t fa_tg_clamp(json_t *params, const char *key, int64_t dflt, int64_t lo, int64_t hi)
{
    int64_t v;

    if (fa_param_int(params, key, &v) < 0)
        return dflt;
    return v < lo ? lo : v > hi ? hi : v;
}

static int fa_tg_get_updates(struct fa_tg_call *c)
{
    int64_t offset = 0;
    int has_offset = fa_param_int(c->params, "offset", &offset) == 0;
    int limit = (int)fa_tg_clamp(c->params, "limit", 100, 1, 100);
    int timeout = (int)fa_tg_clamp(c->params, "timeout", 0, 0, FA_TG_MAX_TIMEOUT);
    json_t *result = NULL;

    if (fa_bots_updates(c->req, c->bot_id, offset, has_offset, limit, timeout, &result) == 1)
        return 1;
    fa_answer_tg_ok(&c->req->ans, result);
    return 0;
}

void fa_tg_poll_answer(struct fa_req *req)
{
    if (req->poll_conflict) {
        fa_log(1, "getUpdates bot=%lld: conflict, older poll terminated", (long long)req->poll_bot);
        fa_answer_tg_err(&req->ans, 409,
                         "Conflict: terminated by other getUpdates request; make sure that "
                         "only one bot instance is running");
        return;
    }
    fa_answer_tg_ok(&req->ans, fa_bots_poll_result(req));
}

static const struct fa_tg_method fa_tg_methods[] = {
    { "getMe", FA_CALL_GETME, 0, fa_tg_get_me },
    { "sendMessage", FA_CALL_SEND, 1, fa_tg_send_message },
    { "sendChatAction", FA_CALL_ACTION, 1, fa_tg_send_action },
    { "getUpdates", FA_CALL_UPDATES, 0, fa_tg_get_updates },
    { "deleteWebhook", FA_CALL_DELWEBHOOK, 0, fa_tg_true },
};

/* "<digits>:<secret>/<method>" -> bot id and method name (a pointer into path). */
static int fa_tg_parse(const char *path, int64_t *bot_id, const char **method)
{
    const char *colon = strchr(path, ':'), *slash = strchr(path, '/');
    char *end;

    if (!colon || !slash || colon > slash || colon == path || colon + 1 == slash)
        return -1;
    *bot_id = strtoll(path, &end, 10);
    if (end != colon || *bot_id <= 0 || strchr(slash + 1, '/'))
        return -1;
    *method = slash + 1;
    return 0;
}

static const struct fa_tg_method *fa_tg_lookup(const char *name)
{
    for (size_t i = 0; i < sizeof(fa_tg_methods) / sizeof(fa_tg_methods[0]); i++)
        if (strcasecmp(name, fa_tg_methods[i].name) == 0)
            return &fa_tg_methods[i];
    return NULL;
}

/* Runs the method under the drawn fault; returns 1 if suspended as a long poll. */
static int fa_tg_run(const struct fa_tg_method *m, struct fa_tg_call *c,
                     const struct fa_settings *s, int *delay_ms)
{
    enum fa_fault f = m->faultable ? fa_fault_draw(s, 0) : FA_FAULT_NONE;

    if (f == FA_FAULT_429 || f == FA_FAULT_5XX) {
        fa_fault_answer(&c->req->ans, f, s, 0);
        return 0;
    }
    if (f == FA_FAULT_BADJSON) { /* nothing recorded: the method never ran */
        fa_answer_tg_ok(&c->req->ans,
                        json_pack("{s:i, s:I}", "message_id", 0, "date", (json_int_t)time(NULL)));
        fa_fault_truncate(&c->req->ans);
        return 0;
    }
    if (m->fn(c) == 1)
        return 1;
    if (f == FA_FAULT_HANG) /* accepted (and recorded), but answered too late */
        *delay_ms = s->hang_ms;
    else if (c->req->ans.status == MHD_HTTP_OK)
        *delay_ms = s->telegram_latency_ms;
    return 0;
}

int fa_tg_handle(struct fa_req *req, const char *path, const char *http_method, int *delay_ms)
{
    struct fa_tg_call c = { .req = req };
    const struct fa_tg_method *m;
    struct fa_settings s;
    const char *name;
    int bad, rc;

    (void)http_method;
    if (fa_tg_parse(path, &c.bot_id, &name) < 0) {
        fa_answer_tg_err(&req->ans, 401, "Unauthorized");
        return 0;
    }
    m = fa_tg_lookup(name);
    fa_stats_call(m ? m->call : FA_CALL_TG_OTHER);
    if (!m) {
        fa_answer_tg_err(&req->ans, 404, "Not Found");
        return 0;
    }
    c.params = fa_req_params(req, &bad);
    if (!c.params) {
        fa_answer_tg_err(&req->ans, 400, "Bad Request: can't parse JSON object");
        return 0;
    }
    fa_settings_get(&s);
    rc = fa_tg_run(m, &c, &s, delay_ms);
    json_decref(c.params);
    if (rc == 1)
        fa_log(2, "%s bot=%lld -> long poll", m->name, (long long)c.bot_id);
    else
        fa_log(2, "%s bot=%lld -> %u after %d ms", m->name, (long long)c.bot_id, req->ans.status,
               *delay_ms);
    return rc;
}
