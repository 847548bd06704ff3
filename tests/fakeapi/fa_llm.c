/* fa_llm.c: OpenAI-compatible endpoints. A completion's kind (chatter, consistency
 * guard, memory summary) is read from its prompt by fa_kind. Chatter comes from fa_text
 * with a global counter, so every chat completion in the process lifetime is different
 * (clients' near-duplicate filters must never be tripped by the fake itself). Token
 * counts are about characters / 4, accumulated per bearer key and per model for
 * /_stats. */
#include "tests/fakeapi/fa_llm.h"

#include "tests/fakeapi/fa_fault.h"
#include "tests/fakeapi/fa_kind.h"
#include "tests/fakeapi/fa_state.h"
#include "tests/fakeapi/fa_text.h"
#include "tests/fakeapi/fa_util.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static uint64_t fa_llm_counter;

/* The ring of /_prompts: each entry the request's messages as JSON text (text,
 * not a json_t, so no jansson value is shared between the server's threads)
 * and the content answered (NULL: none), so a test can tell which prompt a
 * sent message was drafted from. */
static struct fa_llm_prompt {
    uint64_t seq;
    char model[64];
    char *messages;
    char *answer;
} fa_llm_ring[FA_LLM_PROMPTS];
static uint64_t fa_llm_ring_seq;
static pthread_mutex_t fa_llm_ring_mu = PTHREAD_MUTEX_INITIALIZER;

static void fa_llm_keep_prompt(const char *model, json_t *messages, const char *answer)
{
    char *text = json_dumps(messages, JSON_COMPACT);
    char *ans = answer ? strdup(answer) : NULL;
    struct fa_llm_prompt *p;

    if (!text) {
        free(ans);
        return;
    }
    pthread_mutex_lock(&fa_llm_ring_mu);
    p = &fa_llm_ring[fa_llm_ring_seq % FA_LLM_PROMPTS];
    free(p->messages);
    free(p->answer);
    p->messages = text;
    p->answer = ans;
    p->seq = ++fa_llm_ring_seq;
    snprintf(p->model, sizeof p->model, "%s", model ? model : "");
    pthread_mutex_unlock(&fa_llm_ring_mu);
}

json_t *fa_llm_prompts_json(void)
{
    json_t *list = json_array();

    pthread_mutex_lock(&fa_llm_ring_mu);
    for (uint64_t s = fa_llm_ring_seq > FA_LLM_PROMPTS ? fa_llm_ring_seq - FA_LLM_PROMPTS : 0;
         s < fa_llm_ring_seq; s++) {
        struct fa_llm_prompt *p = &fa_llm_ring[s % FA_LLM_PROMPTS];
        json_t *m = p->messages ? json_loads(p->messages, 0, NULL) : NULL;

        if (m)
            json_array_append_new(list,
                                  json_pack("{s:I, s:s, s:o, s:s?}", "seq", (json_int_t)p->seq,
                                            "model", p->model, "messages", m, "answer", p->answer));
    }
    pthread_mutex_unlock(&fa_llm_ring_mu);
    return json_pack("{s:o}", "prompts", list);
}

void fa_llm_prompts_reset(void)
{
    pthread_mutex_lock(&fa_llm_ring_mu);
    for (size_t i = 0; i < FA_LLM_PROMPTS; i++) {
        free(fa_llm_ring[i].messages);
        free(fa_llm_ring[i].answer);
        fa_llm_ring[i].messages = NULL;
        fa_llm_ring[i].answer = NULL;
    }
    fa_llm_ring_seq = 0;
    pthread_mutex_unlock(&fa_llm_ring_mu);
}

struct fa_llm_call {
    struct fa_req *req;
    json_t *body;
    const char *key;
    const char *model;
    double guard_reject; /* from the settings read by fa_llm_run */
    int badjson;         /* the badjson fault was drawn for this call */
    int badjson_used;    /* ... and spent on the content (memorize), not the body */
    int kind;            /* the completion's enum fa_kind, -1: none generated */
};

static void fa_llm_error(struct fa_answer *a, unsigned status, const char *msg, const char *type,
                         const char *code)
{
    fa_answer_json(a, status,
                   json_pack("{s:{s:s, s:s, s:s*}}", "error", "message", msg, "type", type, "code",
                             code));
}

static int64_t fa_llm_tokens(size_t chars)
{
    return chars ? (int64_t)(chars + 3) / 4 : 0;
}

/* Characters of every message's content: a string, or a list of {type, text} parts. */
static size_t fa_llm_prompt_chars(json_t *messages)
{
    size_t i, j, n = 0;
    json_t *m, *part;

    json_array_foreach(messages, i, m) {
        json_t *content = json_object_get(m, "content");
        if (json_is_string(content))
            n += fa_text_codepoints(json_string_value(content));
        json_array_foreach(content, j, part) {
            const char *t = json_string_value(json_object_get(part, "text"));
            n += t ? fa_text_codepoints(t) : 0;
        }
    }
    return n;
}

/* Every message's content of one role joined by newlines (strings and text parts);
 * malloc'd, "" when there is none, NULL when memory is short. */
static char *fa_llm_role_text(json_t *messages, const char *role)
{
    size_t i, j, len = 0;
    json_t *m, *part;
    char *buf = NULL;
    FILE *f = open_memstream(&buf, &len);

    if (!f)
        return NULL;
    json_array_foreach(messages, i, m) {
        json_t *content = json_object_get(m, "content");
        const char *r = json_string_value(json_object_get(m, "role"));
        if (!r || strcmp(r, role) != 0)
            continue;
        if (json_is_string(content))
            fprintf(f, "%s\n", json_string_value(content));
        json_array_foreach(content, j, part) {
            const char *t = json_string_value(json_object_get(part, "text"));
            if (t)
                fprintf(f, "%s\n", t);
        }
    }
    if (fclose(f) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

/* The assistant's text for completion n, by the prompt's kind; counts the kind. */
static char *fa_llm_content(struct fa_llm_call *c, json_t *messages, uint64_t n)
{
    char *system = fa_llm_role_text(messages, "system");
    char *user = fa_llm_role_text(messages, "user");
    struct fa_text_req treq;
    enum fa_kind kind = fa_kind_read(system, user, &treq);
    char *text;
    int rejected = 0;

    if (kind == FA_KIND_GUARD) {
        rejected = c->guard_reject > 0 && (c->guard_reject >= 1 || fa_rand01() < c->guard_reject);
        text = fa_kind_guard(n, rejected, user);
    } else if (kind == FA_KIND_MEMORIZE) {
        /* A broken JSON array in a valid answer tests what the client must parse
         * itself; the generic badjson (a cut HTTP body) is tested everywhere else. */
        c->badjson_used = c->badjson;
        text = fa_kind_memorize(n, fa_rand(), user, c->badjson);
    } else {
        text = fa_text_completion(n, fa_rand(), &treq);
    }
    if (text) {
        fa_stats_completion(kind, rejected);
        c->kind = (int)kind;
    }
    free(system);
    free(user);
    return text;
}

static json_t *fa_llm_completion(struct fa_llm_call *c, json_t *messages)
{
    uint64_t n = __atomic_fetch_add(&fa_llm_counter, 1, __ATOMIC_RELAXED);
    char *text = fa_llm_content(c, messages, n);
    int64_t prompt = fa_llm_tokens(fa_llm_prompt_chars(messages));
    int64_t completion = text ? fa_llm_tokens(fa_text_codepoints(text)) : 0;
    char id[40];
    json_t *j;

    if (!text)
        return NULL;
    snprintf(id, sizeof(id), "chatcmpl-%llu", (unsigned long long)n + 1);
    j = json_pack("{s:s, s:s, s:I, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:{s:I, s:I, s:I}}", "id", id,
                  "object", "chat.completion", "created", (json_int_t)time(NULL), "model", c->model,
                  "choices", "index", 0, "message", "role", "assistant", "content", text,
                  "finish_reason", "stop", "usage", "prompt_tokens", (json_int_t)prompt,
                  "completion_tokens", (json_int_t)completion, "total_tokens",
                  (json_int_t)(prompt + completion));
    free(text);
    fa_stats_tokens(c->key, c->model, prompt + completion);
    fa_stats_kind_tokens((enum fa_kind)c->kind, prompt, completion);
    return j;
}

static int fa_llm_chat(struct fa_llm_call *c)
{
    json_t *messages = json_object_get(c->body, "messages");
    json_t *j;

    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        fa_llm_error(&c->req->ans, 400, "'messages' must be a non-empty array",
                     "invalid_request_error", NULL);
        return 0;
    }
    j = fa_llm_completion(c, messages);
    fa_llm_keep_prompt(
        c->model, messages,
        json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(j, "choices"), 0), "message"), "content")));
    fa_answer_json(&c->req->ans, j ? 200 : 500, j);
    return 0;
}

static json_t *fa_llm_vector(const char *text)
{
    float v[FA_EMBED_DIM];
    json_t *a = json_array();

    fa_text_embed(text, v);
    for (int i = 0; i < FA_EMBED_DIM && a; i++)
        json_array_append_new(a, json_real(v[i]));
    return a;
}

static int fa_llm_embeddings(struct fa_llm_call *c)
{
    json_t *input = json_object_get(c->body, "input"), *data = json_array(), *e;
    json_t *one = json_is_string(input) ? json_pack("[O]", input) : json_incref(input);
    size_t i, chars = 0;
    int64_t tokens;

    json_array_foreach(one, i, e) {
        if (!json_is_string(e))
            break;
        chars += fa_text_codepoints(json_string_value(e));
        json_array_append_new(data, json_pack("{s:s, s:i, s:o}", "object", "embedding", "index", (int)i,
                                              "embedding", fa_llm_vector(json_string_value(e))));
    }
    if (!json_is_array(one) || i == 0 || i != json_array_size(one)) {
        fa_llm_error(&c->req->ans, 400, "'input' must be a string or a list of strings",
                     "invalid_request_error", NULL);
        json_decref(data);
        json_decref(one);
        return 0;
    }
    json_decref(one);
    fa_stats_embedded(i);
    tokens = fa_llm_tokens(chars);
    fa_stats_tokens(c->key, c->model, tokens);
    fa_stats_embed_tokens(tokens);
    fa_answer_json(&c->req->ans, 200,
                   json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data,
                             "model", c->model, "usage", "prompt_tokens", (json_int_t)tokens,
                             "total_tokens", (json_int_t)tokens));
    return 0;
}

/* "Authorization: Bearer KEY" -> KEY, or NULL. */
static const char *fa_llm_key(struct MHD_Connection *conn)
{
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

    if (!h || strncasecmp(h, "Bearer ", 7) != 0)
        return NULL;
    h += 7;
    while (*h == ' ')
        h++;
    return *h ? h : NULL;
}

static void fa_llm_models(struct fa_req *req)
{
    fa_answer_json(&req->ans, 200,
                   json_pack("{s:s, s:[{s:s, s:s, s:s}]}", "object", "list", "data", "id",
                             "fake-model", "object", "model", "owned_by", "piyasa-fakeapi"));
}

/* Applies faults and the down lists around fn; fills *delay_ms on success. */
static void fa_llm_run(struct fa_llm_call *c, int (*fn)(struct fa_llm_call *), int *delay_ms)
{
    struct fa_settings s;
    enum fa_fault f;
    char msg[160];

    if (fa_state_llm_down(c->model, c->key)) {
        snprintf(msg, sizeof(msg), "The model %.100s is currently unavailable", c->model);
        fa_llm_error(&c->req->ans, 503, msg, "server_error", "model_unavailable");
        return;
    }
    fa_settings_get(&s);
    f = fa_fault_draw(&s, 1);
    if (f == FA_FAULT_429 || f == FA_FAULT_5XX) {
        fa_fault_answer(&c->req->ans, f, &s, 1);
        return;
    }
    c->guard_reject = s.guard_reject;
    c->badjson = f == FA_FAULT_BADJSON;
    c->kind = -1;
    fn(c);
    /* A completion generated but cut or held past hang_ms: the client most
     * likely never read it (counted apart, so a test can tell). */
    if (c->kind >= 0 && ((f == FA_FAULT_BADJSON && !c->badjson_used) || f == FA_FAULT_HANG))
        fa_stats_completion_faulted((enum fa_kind)c->kind);
    if (f == FA_FAULT_BADJSON && !c->badjson_used)
        fa_fault_truncate(&c->req->ans);
    else if (f == FA_FAULT_HANG)
        *delay_ms = s.hang_ms;
    else if (c->req->ans.status == 200)
        *delay_ms = s.llm_latency_ms;
}

int fa_llm_handle(struct fa_req *req, const char *path, const char *http_method, int *delay_ms)
{
    int (*fn)(struct fa_llm_call *) = NULL;
    struct fa_llm_call c = { .req = req };
    int bad;

    if (strcmp(path, "/chat/completions") == 0) {
        fa_stats_call(FA_CALL_COMPLETIONS);
        fn = fa_llm_chat;
    } else if (strcmp(path, "/embeddings") == 0) {
        fa_stats_call(FA_CALL_EMBEDDINGS);
        fn = fa_llm_embeddings;
    } else if (strcmp(path, "/models") == 0) {
        fa_stats_call(FA_CALL_MODELS);
    } else {
        fa_llm_error(&req->ans, 404, "Unknown endpoint", "invalid_request_error", NULL);
        return 0;
    }
    c.key = fa_llm_key(req->conn);
    if (!c.key) {
        fa_llm_error(&req->ans, 401, "You didn't provide an API key.", "invalid_request_error",
                     "invalid_api_key");
        return 0;
    }
    if (!fn) {
        fa_llm_models(req);
        return 0;
    }
    if (strcmp(http_method, "POST") != 0 || !(c.body = fa_req_params(req, &bad))) {
        fa_llm_error(&req->ans, 400, "We could not parse the JSON body of your request.",
                     "invalid_request_error", NULL);
        return 0;
    }
    c.model = fa_param_str(c.body, "model");
    if (!c.model)
        c.model = fn == fa_llm_chat ? "fake-model" : "fake-embedding";
    fa_llm_run(&c, fn, delay_ms);
    fa_log(2, "llm %s model=%s -> %u after %d ms", path, c.model, req->ans.status, *delay_ms);
    json_decref(c.body);
    return 0;
}
