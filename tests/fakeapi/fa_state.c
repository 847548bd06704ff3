/* fa_state.c: the global lock, run-time settings (flags and /_control/faults), call,
 * fault and completion-kind counters, token usage, /_stats and /_control/reset (which
 * also resets the news headlines of fa_news). Counters that every request
 * touches are atomics so the hot path takes the lock only where it must. */
#include "tests/fakeapi/fa_state.h"

#include "tests/fakeapi/fa_map.h"
#include "tests/fakeapi/fa_news.h"
#include "tests/fakeapi/fa_util.h"
#include "tests/fakeapi/fa_wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static pthread_mutex_t fa_mu = PTHREAD_MUTEX_INITIALIZER;
static struct fa_settings fa_set;
static json_t *fa_down_models; /* array of strings */
static json_t *fa_down_keys;
static struct fa_map fa_missing; /* chat_id -> (void *)1, survives reset */
static json_t *fa_tokens;        /* bearer key -> total tokens */
static json_t *fa_tokens_model;  /* model -> total tokens */
static long fa_calls[FA_CALL_COUNT];
static long fa_faults[FA_FAULT_COUNT];
static long fa_kinds[FA_KIND_COUNT];
static long fa_kinds_faulted[FA_KIND_COUNT];
static long fa_guard_rejected;
static long fa_embed_calls, fa_embed_inputs;
/* Tokens by completion kind, prompt and completion apart (issue 16 item 6: what a
 * message costs and where); embeddings are fa_embed_tokens. */
static long fa_kind_prompt[FA_KIND_COUNT], fa_kind_completion[FA_KIND_COUNT];
static long fa_embed_tokens;

static const char *const fa_call_names[FA_CALL_COUNT] = {
    "getMe", "sendMessage",      "sendChatAction", "getUpdates", "deleteWebhook",
    "other", "chat.completions", "embeddings",     "models",
};
static const char *const fa_fault_names[FA_FAULT_COUNT] = { "429", "5xx", "hang", "badjson" };
static const char *const fa_kind_names[FA_KIND_COUNT] = { "chat", "guard", "memorize", "paraphrase" };
static const char *const fa_scope_names[] = { "all", "llm", "telegram" };

void fa_state_lock(void)
{
    pthread_mutex_lock(&fa_mu);
}
void fa_state_unlock(void)
{
    pthread_mutex_unlock(&fa_mu);
}
pthread_mutex_t *fa_state_mutex(void)
{
    return &fa_mu;
}

int fa_state_init(const struct fa_settings *initial, int history)
{
    fa_set = *initial;
    fa_down_models = json_array();
    fa_down_keys = json_array();
    fa_tokens = json_object();
    fa_tokens_model = json_object();
    if (!fa_down_models || !fa_down_keys || !fa_tokens || !fa_tokens_model)
        return -1;
    fa_chat_init_locked(history);
    return 0;
}

void fa_state_free(void)
{
    struct fa_req **claimed = NULL;

    fa_state_lock();
    fa_chat_reset_locked(&claimed);
    free(claimed);
    fa_chat_free_locked();
    json_decref(fa_down_models);
    json_decref(fa_down_keys);
    json_decref(fa_tokens);
    json_decref(fa_tokens_model);
    fa_map_clear(&fa_missing, NULL);
    fa_state_unlock();
    fa_news_reset();
}

void fa_settings_set(const struct fa_settings *s, int history)
{
    fa_state_lock();
    fa_set = *s;
    fa_chat_init_locked(history);
    fa_state_unlock();
}

void fa_settings_get(struct fa_settings *out)
{
    fa_state_lock();
    *out = fa_set;
    fa_state_unlock();
}

static int fa_get_rate(json_t *obj, const char *key, double *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1) {
        snprintf(err, errlen, "%s must be a number in 0..1", key);
        return -1;
    }
    *out = json_number_value(v);
    return 0;
}

static int fa_get_ms(json_t *obj, const char *key, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key);

    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 3600000) {
        snprintf(err, errlen, "%s must be an integer in 0..3600000", key);
        return -1;
    }
    *out = (int)json_integer_value(v);
    return 0;
}

static int fa_get_scope(json_t *obj, int *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, "fault_scope");

    if (!v)
        return 0;
    for (int i = 0; i < 3 && json_is_string(v); i++)
        if (strcmp(json_string_value(v), fa_scope_names[i]) == 0) {
            *out = i;
            return 0;
        }
    snprintf(err, errlen, "fault_scope must be all, llm or telegram");
    return -1;
}

static int fa_get_strings(json_t *obj, const char *key, json_t **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, key), *e;
    size_t i;

    if (!v)
        return 0;
    if (json_is_null(v)) {
        *out = json_array();
        return 0;
    }
    if (!json_is_array(v))
        goto bad;
    json_array_foreach(v, i, e)
        if (!json_is_string(e))
            goto bad;
    *out = json_deep_copy(v);
    return 0;
bad:
    snprintf(err, errlen, "%s must be a list of strings", key);
    return -1;
}

static int fa_get_chats(json_t *obj, json_t **out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, "missing_chats"), *e;
    size_t i;

    if (!v)
        return 0;
    json_array_foreach(v, i, e)
        if (!json_is_integer(e))
            goto bad;
    if (json_is_array(v) || json_is_null(v)) {
        *out = v;
        return 0;
    }
bad:
    snprintf(err, errlen, "missing_chats must be a list of chat ids");
    return -1;
}

/* Parses everything first and commits only if all keys are valid, so a bad request
 * never leaves half-applied settings behind. */
int fa_settings_apply(json_t *obj, char *err, size_t errlen)
{
    struct fa_settings s;
    json_t *models = NULL, *keys = NULL, *chats = NULL;
    int rc = -1;

    fa_settings_get(&s);
    if (fa_get_ms(obj, "llm_latency_ms", &s.llm_latency_ms, err, errlen) < 0 ||
        fa_get_ms(obj, "telegram_latency_ms", &s.telegram_latency_ms, err, errlen) < 0 ||
        fa_get_ms(obj, "hang_ms", &s.hang_ms, err, errlen) < 0 ||
        fa_get_ms(obj, "retry_after", &s.retry_after, err, errlen) < 0 ||
        fa_get_rate(obj, "fault_429", &s.fault_429, err, errlen) < 0 ||
        fa_get_rate(obj, "fault_5xx", &s.fault_5xx, err, errlen) < 0 ||
        fa_get_rate(obj, "fault_hang", &s.fault_hang, err, errlen) < 0 ||
        fa_get_rate(obj, "fault_badjson", &s.fault_badjson, err, errlen) < 0 ||
        fa_get_rate(obj, "guard_reject", &s.guard_reject, err, errlen) < 0 ||
        fa_get_scope(obj, &s.fault_scope, err, errlen) < 0 ||
        fa_get_strings(obj, "down_models", &models, err, errlen) < 0 ||
        fa_get_strings(obj, "down_keys", &keys, err, errlen) < 0 ||
        fa_get_chats(obj, &chats, err, errlen) < 0)
        goto out;
    fa_state_lock();
    fa_set = s;
    if (models) {
        json_decref(fa_down_models);
        fa_down_models = models;
        models = NULL;
    }
    if (keys) {
        json_decref(fa_down_keys);
        fa_down_keys = keys;
        keys = NULL;
    }
    if (chats) {
        size_t i;
        json_t *e;
        fa_map_clear(&fa_missing, NULL);
        json_array_foreach(chats, i, e)
            fa_map_put(&fa_missing, json_integer_value(e), (void *)1);
    }
    fa_state_unlock();
    rc = 0;
out:
    json_decref(models);
    json_decref(keys);
    return rc;
}

static json_t *fa_missing_json_locked(void)
{
    json_t *a = json_array();

    for (size_t i = 0; i < fa_missing.cap; i++)
        if (fa_missing.slots[i].val)
            json_array_append_new(a, json_integer(fa_missing.slots[i].key));
    return a;
}

json_t *fa_settings_json(void)
{
    json_t *j;

    fa_state_lock();
    j = json_pack("{s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:s, s:i, s:i, s:O, s:O, s:o}",
                  "llm_latency_ms", fa_set.llm_latency_ms, "telegram_latency_ms",
                  fa_set.telegram_latency_ms, "fault_429", fa_set.fault_429, "fault_5xx",
                  fa_set.fault_5xx, "fault_hang", fa_set.fault_hang, "fault_badjson",
                  fa_set.fault_badjson, "guard_reject", fa_set.guard_reject, "fault_scope",
                  fa_scope_names[fa_set.fault_scope], "retry_after", fa_set.retry_after, "hang_ms",
                  fa_set.hang_ms, "down_models", fa_down_models, "down_keys", fa_down_keys,
                  "missing_chats", fa_missing_json_locked());
    fa_state_unlock();
    return j;
}

int fa_settings_add_missing_chat(int64_t chat_id)
{
    int rc;

    fa_state_lock();
    rc = fa_map_put(&fa_missing, chat_id, (void *)1);
    fa_state_unlock();
    return rc;
}

int fa_settings_chat_missing_locked(int64_t chat_id)
{
    return fa_map_get(&fa_missing, chat_id) != NULL;
}

static int fa_in_list(json_t *list, const char *s)
{
    size_t i;
    json_t *e;

    if (!s)
        return 0;
    json_array_foreach(list, i, e)
        if (strcmp(json_string_value(e), s) == 0)
            return 1;
    return 0;
}

int fa_state_llm_down(const char *model, const char *key)
{
    int down;

    fa_state_lock();
    down = fa_in_list(fa_down_models, model) || fa_in_list(fa_down_keys, key);
    fa_state_unlock();
    return down;
}

void fa_stats_call(enum fa_call c)
{
    __atomic_add_fetch(&fa_calls[c], 1, __ATOMIC_RELAXED);
}

void fa_stats_fault(enum fa_fault f)
{
    __atomic_add_fetch(&fa_faults[f], 1, __ATOMIC_RELAXED);
}

void fa_stats_completion_faulted(enum fa_kind k)
{
    __atomic_add_fetch(&fa_kinds_faulted[k], 1, __ATOMIC_RELAXED);
}

void fa_stats_completion(enum fa_kind k, int guard_rejected)
{
    __atomic_add_fetch(&fa_kinds[k], 1, __ATOMIC_RELAXED);
    if (guard_rejected)
        __atomic_add_fetch(&fa_guard_rejected, 1, __ATOMIC_RELAXED);
}

void fa_stats_embedded(size_t n)
{
    __atomic_add_fetch(&fa_embed_calls, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&fa_embed_inputs, (long)n, __ATOMIC_RELAXED);
}

void fa_stats_kind_tokens(enum fa_kind k, int64_t prompt, int64_t completion)
{
    __atomic_add_fetch(&fa_kind_prompt[k], (long)prompt, __ATOMIC_RELAXED);
    __atomic_add_fetch(&fa_kind_completion[k], (long)completion, __ATOMIC_RELAXED);
}

void fa_stats_embed_tokens(int64_t tokens)
{
    __atomic_add_fetch(&fa_embed_tokens, (long)tokens, __ATOMIC_RELAXED);
}

static json_t *fa_kind_tokens_json(void)
{
    json_t *o = json_object();

    for (int i = 0; i < FA_KIND_COUNT; i++)
        json_object_set_new(
            o, fa_kind_names[i],
            json_pack("{s:I, s:I}", "prompt",
                      (json_int_t)__atomic_load_n(&fa_kind_prompt[i], __ATOMIC_RELAXED), "completion",
                      (json_int_t)__atomic_load_n(&fa_kind_completion[i], __ATOMIC_RELAXED)));
    json_object_set_new(o, "embeddings",
                        json_pack("{s:I, s:I}", "prompt",
                                  (json_int_t)__atomic_load_n(&fa_embed_tokens, __ATOMIC_RELAXED),
                                  "completion", (json_int_t)0));
    return o;
}

static void fa_add_tokens(json_t *obj, const char *key, int64_t tokens)
{
    json_t *v = json_object_get(obj, key);

    if (v)
        json_integer_set(v, json_integer_value(v) + tokens);
    else
        json_object_set_new(obj, key, json_integer(tokens));
}

void fa_stats_tokens(const char *key, const char *model, int64_t tokens)
{
    fa_state_lock();
    fa_add_tokens(fa_tokens, key ? key : "", tokens);
    fa_add_tokens(fa_tokens_model, model ? model : "", tokens);
    fa_state_unlock();
}

static json_t *fa_counters_json(long *counters, const char *const *names, int n)
{
    json_t *o = json_object();

    for (int i = 0; i < n; i++)
        json_object_set_new(o, names[i], json_integer(__atomic_load_n(&counters[i], __ATOMIC_RELAXED)));
    return o;
}

json_t *fa_stats_json(void)
{
    json_t *s = json_object(), *kinds;

    json_object_set_new(s, "calls", fa_counters_json(fa_calls, fa_call_names, FA_CALL_COUNT));
    json_object_set_new(s, "faults", fa_counters_json(fa_faults, fa_fault_names, FA_FAULT_COUNT));
    kinds = fa_counters_json(fa_kinds, fa_kind_names, FA_KIND_COUNT);
    json_object_set_new(kinds, "guard_rejected",
                        json_integer(__atomic_load_n(&fa_guard_rejected, __ATOMIC_RELAXED)));
    json_object_set_new(s, "completions", kinds);
    json_object_set_new(s, "completions_faulted",
                        fa_counters_json(fa_kinds_faulted, fa_kind_names, FA_KIND_COUNT));
    json_object_set_new(s, "embeddings",
                        json_pack("{s:I, s:I}", "calls",
                                  (json_int_t)__atomic_load_n(&fa_embed_calls, __ATOMIC_RELAXED),
                                  "inputs",
                                  (json_int_t)__atomic_load_n(&fa_embed_inputs, __ATOMIC_RELAXED)));
    json_object_set_new(s, "tokens_by_kind", fa_kind_tokens_json());
    json_object_set_new(s, "rss", fa_news_stats_json());
    fa_state_lock();
    json_object_set_new(s, "tokens", json_deep_copy(fa_tokens));
    json_object_set_new(s, "tokens_by_model", json_deep_copy(fa_tokens_model));
    fa_chat_stats_locked(s);
    fa_state_unlock();
    return s;
}

void fa_state_reset(void)
{
    struct fa_req **claimed = NULL;
    size_t n;

    fa_state_lock();
    n = fa_chat_reset_locked(&claimed);
    for (int i = 0; i < FA_CALL_COUNT; i++)
        __atomic_store_n(&fa_calls[i], 0, __ATOMIC_RELAXED);
    for (int i = 0; i < FA_FAULT_COUNT; i++)
        __atomic_store_n(&fa_faults[i], 0, __ATOMIC_RELAXED);
    for (int i = 0; i < FA_KIND_COUNT; i++) {
        __atomic_store_n(&fa_kinds[i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&fa_kinds_faulted[i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&fa_kind_prompt[i], 0, __ATOMIC_RELAXED);
        __atomic_store_n(&fa_kind_completion[i], 0, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&fa_embed_tokens, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fa_guard_rejected, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fa_embed_calls, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&fa_embed_inputs, 0, __ATOMIC_RELAXED);
    json_object_clear(fa_tokens);
    json_object_clear(fa_tokens_model);
    fa_state_unlock();
    fa_news_reset();
    for (size_t i = 0; i < n; i++)
        fa_wait_resume(claimed[i]);
    free(claimed);
}
