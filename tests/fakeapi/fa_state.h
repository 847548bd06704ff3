/* fa_state.h: everything the fake remembers (settings, counters, bots, chats, messages,
 * update queues), behind one mutex whose critical sections stay a few hash lookups long. */
#ifndef FA_STATE_H
#define FA_STATE_H

#include "tests/fakeapi/fa_http.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>

enum fa_scope { FA_SCOPE_ALL = 0, FA_SCOPE_LLM, FA_SCOPE_TELEGRAM };

struct fa_settings {
    int llm_latency_ms;
    int telegram_latency_ms;
    double fault_429, fault_5xx, fault_hang, fault_badjson;
    int fault_scope;
    int retry_after;
    int hang_ms;
    double guard_reject; /* probability that the consistency guard answers HAYIR */
};

/* Call counters, indexed; names are the keys of "calls" in /_stats. */
enum fa_call {
    FA_CALL_GETME,
    FA_CALL_SEND,
    FA_CALL_ACTION,
    FA_CALL_UPDATES,
    FA_CALL_DELWEBHOOK,
    FA_CALL_TG_OTHER,
    FA_CALL_COMPLETIONS,
    FA_CALL_EMBEDDINGS,
    FA_CALL_MODELS,
    FA_CALL_COUNT
};

/* What a chat completion was for (fa_kind.c); names are the keys of "completions". */
enum fa_kind {
    FA_KIND_CHAT = 0,
    FA_KIND_GUARD,
    FA_KIND_MEMORIZE,
    FA_KIND_PARAPHRASE,
    FA_KIND_COUNT
};

enum fa_fault {
    FA_FAULT_NONE = -1,
    FA_FAULT_429,
    FA_FAULT_5XX,
    FA_FAULT_HANG,
    FA_FAULT_BADJSON,
    FA_FAULT_COUNT
};

enum fa_send_rc { FA_SEND_OK = 0, FA_SEND_MISSING, FA_SEND_KICKED, FA_SEND_NOMEM };

/* What a recorded send returns to the Telegram handler. */
struct fa_sent {
    int64_t message_id;
    int64_t date;
    json_t *reply_to; /* the replied-to message, if known (owned by caller) */
};

void fa_state_lock(void);
void fa_state_unlock(void);
pthread_mutex_t *fa_state_mutex(void);

int fa_state_init(const struct fa_settings *initial, int history);
void fa_state_free(void);

/* Settings (fa_state.c). */
void fa_settings_get(struct fa_settings *out);
/* Startup: the settings from the command line and the per-chat history length. */
void fa_settings_set(const struct fa_settings *s, int history);
/* Applies the keys present in obj; on a bad value fills err and returns -1. */
int fa_settings_apply(json_t *obj, char *err, size_t errlen);
json_t *fa_settings_json(void);
int fa_settings_add_missing_chat(int64_t chat_id);
int fa_state_llm_down(const char *model, const char *key);

/* Counters (fa_state.c). */
void fa_stats_call(enum fa_call c);
void fa_stats_fault(enum fa_fault f);
void fa_stats_tokens(const char *key, const char *model, int64_t tokens);
/* Tokens of one completion of kind k, prompt and completion apart ("tokens_by_kind"). */
void fa_stats_kind_tokens(enum fa_kind k, int64_t prompt, int64_t completion);
/* Tokens of one embeddings call ("tokens_by_kind"."embeddings"). */
void fa_stats_embed_tokens(int64_t tokens);
/* A completion of this kind was generated (answered, or faulted after generation). */
void fa_stats_completion(enum fa_kind k, int guard_rejected);
/* A completion of kind k answered cut (badjson) or hung (hang_ms). */
void fa_stats_completion_faulted(enum fa_kind k);
/* An embeddings call was answered with n vectors. */
void fa_stats_embedded(size_t n);
json_t *fa_stats_json(void);
void fa_state_reset(void);

/* Chats, messages and sends (fa_chat.c); bots and updates are in fa_bots.h. */
enum fa_send_rc fa_chat_send(int64_t bot_id, int64_t chat_id, const char *text, int64_t reply_to,
                             struct fa_sent *out);
enum fa_send_rc fa_chat_action(int64_t bot_id, int64_t chat_id);
int fa_chat_join(int64_t chat_id, int64_t bot_id, int kick);

struct fa_human {
    int64_t chat_id;
    const char *text;
    int64_t from_id;
    const char *username, *first_name;
    int64_t reply_to;
    const int64_t *extra_bots;
    size_t n_extra;
};
/* Records a human message and queues it for the chat's bots; returns -1 on no memory. */
int fa_chat_human(const struct fa_human *h, int64_t *message_id, int *delivered);

json_t *fa_chat_messages(int64_t chat_id, int limit);

/* Internals shared by fa_state.c and fa_chat.c (under the lock). */
/* Empties chats, bots and send counters; claims pending polls into *claimed (the caller
 * resumes them after unlocking). Returns how many. */
size_t fa_chat_reset_locked(struct fa_req ***claimed);
void fa_chat_stats_locked(json_t *stats);
/* {"sends", "duplicate_sends"} alone: what a poller waiting for a run's end
 * needs, without the per-bot and per-chat maps of /_stats. */
json_t *fa_chat_sends_json(void);
void fa_chat_free_locked(void);
void fa_chat_init_locked(int history);
int fa_settings_chat_missing_locked(int64_t chat_id);

#endif
