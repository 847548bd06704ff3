/* fa_chat.c: chats (members, message history), recorded sends, duplicate detection
 * and human messages (handed to fa_bots for delivery). Everything here runs under the
 * state lock; allocation and hashing that need no shared data are done before it. */
#include "tests/fakeapi/fa_bots.h"
#include "tests/fakeapi/fa_map.h"
#include "tests/fakeapi/fa_state.h"
#include "tests/fakeapi/fa_wait.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct fa_msg {
    int64_t id, date, from_id, reply_to;
    int from_bot;
    char *username, *first_name, *text; /* names NULL for bots: derived from the id */
};

struct fa_ids {
    int64_t *v;
    size_t len, cap;
};

struct fa_chat {
    int64_t id;
    struct fa_ids members, kicked;
    struct fa_msg *ring;
    size_t head, len; /* ring of the last fa_history messages */
    int64_t sends;
};

static struct fa_map fa_chats;
static struct fa_map fa_msgids; /* chat -> next message id; survives reset */
static struct fa_fpset fa_dups;
static int64_t fa_sends, fa_dup_sends;
static size_t fa_history = 1000;

/* ---- small helpers ---- */

static int fa_in_prefix(const int64_t *v, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == id)
            return 1;
    return 0;
}

static int fa_ids_has(const struct fa_ids *s, int64_t id)
{
    return fa_in_prefix(s->v, s->len, id);
}

static int fa_ids_add(struct fa_ids *s, int64_t id)
{
    if (fa_ids_has(s, id))
        return 0;
    if (s->len == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4;
        int64_t *n = realloc(s->v, ncap * sizeof(*n));
        if (!n)
            return -1;
        s->v = n;
        s->cap = ncap;
    }
    s->v[s->len++] = id;
    return 0;
}

static void fa_ids_del(struct fa_ids *s, int64_t id)
{
    for (size_t i = 0; i < s->len; i++)
        if (s->v[i] == id) {
            s->v[i] = s->v[--s->len];
            return;
        }
}

static void fa_msg_free(struct fa_msg *m)
{
    free(m->username);
    free(m->first_name);
    free(m->text);
}

static void fa_chat_free(void *p)
{
    struct fa_chat *c = p;

    for (size_t i = 0; i < c->len; i++)
        fa_msg_free(&c->ring[(c->head + i) % fa_history]);
    free(c->ring);
    free(c->members.v);
    free(c->kicked.v);
    free(c);
}

static struct fa_chat *fa_chat_get(int64_t id)
{
    struct fa_chat *c = fa_map_get(&fa_chats, id);

    if (c)
        return c;
    c = calloc(1, sizeof(*c));
    if (!c || !(c->ring = calloc(fa_history, sizeof(*c->ring))) || fa_map_put(&fa_chats, id, c) < 0) {
        if (c)
            free(c->ring);
        free(c);
        return NULL;
    }
    c->id = id;
    return c;
}

static int64_t fa_next_msgid(int64_t chat_id)
{
    uintptr_t next = (uintptr_t)fa_map_get(&fa_msgids, chat_id);

    if (!next)
        next = 1;
    fa_map_put(&fa_msgids, chat_id, (void *)(next + 1));
    return (int64_t)next;
}

/* Takes ownership of the strings in m. */
static void fa_chat_store(struct fa_chat *c, struct fa_msg *m)
{
    size_t slot;

    if (c->len == fa_history) {
        fa_msg_free(&c->ring[c->head]);
        c->head = (c->head + 1) % fa_history;
        c->len--;
    }
    slot = (c->head + c->len) % fa_history;
    c->ring[slot] = *m;
    c->len++;
}

static const struct fa_msg *fa_chat_find(const struct fa_chat *c, int64_t message_id)
{
    for (size_t i = c->len; i-- > 0;) {
        const struct fa_msg *m = &c->ring[(c->head + i) % fa_history];
        if (m->id == message_id)
            return m;
    }
    return NULL;
}

/* ---- JSON shapes (Bot API objects) ---- */

static json_t *fa_user_json(const struct fa_msg *m)
{
    char first[48], user[48];

    if (!m->from_bot)
        return json_pack("{s:I, s:b, s:s, s:s}", "id", (json_int_t)m->from_id, "is_bot", 0,
                         "first_name", m->first_name ? m->first_name : "", "username",
                         m->username ? m->username : "");
    snprintf(first, sizeof(first), "Bot %lld", (long long)m->from_id);
    snprintf(user, sizeof(user), "bot%lld_bot", (long long)m->from_id);
    return json_pack("{s:I, s:b, s:s, s:s}", "id", (json_int_t)m->from_id, "is_bot", 1,
                     "first_name", first, "username", user);
}

static json_t *fa_chat_json(int64_t chat_id)
{
    char title[48];

    snprintf(title, sizeof(title), "Chat %lld", (long long)chat_id);
    return json_pack("{s:I, s:s, s:s}", "id", (json_int_t)chat_id, "type", "supergroup", "title",
                     title);
}

static json_t *fa_msg_json(int64_t chat_id, const struct fa_msg *m)
{
    return json_pack("{s:I, s:I, s:o, s:o, s:s}", "message_id", (json_int_t)m->id, "date",
                     (json_int_t)m->date, "chat", fa_chat_json(chat_id), "from", fa_user_json(m),
                     "text", m->text ? m->text : "");
}

/* The message with its reply_to_message, when the replied-to message is still known. */
static json_t *fa_msg_json_reply(const struct fa_chat *c, const struct fa_msg *m)
{
    json_t *j = fa_msg_json(c->id, m);
    const struct fa_msg *r = m->reply_to ? fa_chat_find(c, m->reply_to) : NULL;

    if (j && r)
        json_object_set_new(j, "reply_to_message", fa_msg_json(c->id, r));
    return j;
}

/* ---- sends ---- */

static enum fa_send_rc fa_chat_enter_locked(int64_t bot_id, int64_t chat_id, struct fa_chat **out)
{
    struct fa_chat *c;

    if (fa_settings_chat_missing_locked(chat_id))
        return FA_SEND_MISSING;
    c = fa_chat_get(chat_id);
    if (!c)
        return FA_SEND_NOMEM;
    if (fa_ids_has(&c->kicked, bot_id))
        return FA_SEND_KICKED;
    if (fa_ids_add(&c->members, bot_id) < 0)
        return FA_SEND_NOMEM;
    *out = c;
    return FA_SEND_OK;
}

static void fa_count_send_locked(struct fa_chat *c, int64_t bot_id, struct fa_fp fp)
{
    fa_sends++;
    c->sends++;
    fa_bots_count_send_locked(bot_id);
    if (fa_fpset_add(&fa_dups, fp) == 1)
        fa_dup_sends++;
}

enum fa_send_rc fa_chat_send(int64_t bot_id, int64_t chat_id, const char *text, int64_t reply_to,
                             struct fa_sent *out)
{
    struct fa_msg m = { .from_id = bot_id, .from_bot = 1, .reply_to = reply_to };
    size_t len = strlen(text);
    struct fa_fp fp = { fa_hash64(text, len, (uint64_t)chat_id),
                        fa_hash64(text, len, (uint64_t)chat_id ^ 0x5bd1e995ULL) };
    struct fa_chat *c = NULL;
    const struct fa_msg *r;
    enum fa_send_rc rc;

    m.text = strdup(text);
    m.date = time(NULL);
    if (!m.text)
        return FA_SEND_NOMEM;
    fa_state_lock();
    rc = fa_chat_enter_locked(bot_id, chat_id, &c);
    if (rc == FA_SEND_OK) {
        m.id = fa_next_msgid(chat_id);
        r = reply_to ? fa_chat_find(c, reply_to) : NULL;
        out->reply_to = r ? fa_msg_json(chat_id, r) : NULL;
        out->message_id = m.id;
        out->date = m.date;
        fa_chat_store(c, &m);
        fa_count_send_locked(c, bot_id, fp);
    }
    fa_state_unlock();
    if (rc != FA_SEND_OK)
        free(m.text);
    return rc;
}

enum fa_send_rc fa_chat_action(int64_t bot_id, int64_t chat_id)
{
    struct fa_chat *c;
    enum fa_send_rc rc;

    fa_state_lock();
    rc = fa_chat_enter_locked(bot_id, chat_id, &c);
    fa_state_unlock();
    return rc;
}

int fa_chat_join(int64_t chat_id, int64_t bot_id, int kick)
{
    struct fa_chat *c;
    int rc = -1;

    fa_state_lock();
    c = fa_chat_get(chat_id);
    if (c && kick) {
        fa_ids_del(&c->members, bot_id);
        rc = fa_ids_add(&c->kicked, bot_id);
    } else if (c) {
        fa_ids_del(&c->kicked, bot_id);
        rc = fa_ids_add(&c->members, bot_id);
    }
    fa_state_unlock();
    return rc;
}

static int fa_store_human_locked(const struct fa_human *h, struct fa_chat **cp, json_t **msgp)
{
    struct fa_msg m = { .from_id = h->from_id, .reply_to = h->reply_to, .date = time(NULL) };
    struct fa_chat *c = fa_chat_get(h->chat_id);

    if (!c)
        return -1;
    m.text = strdup(h->text);
    m.username = strdup(h->username);
    m.first_name = strdup(h->first_name);
    if (!m.text || !m.username || !m.first_name) {
        fa_msg_free(&m);
        return -1;
    }
    m.id = fa_next_msgid(h->chat_id);
    fa_chat_store(c, &m);
    *msgp = fa_msg_json_reply(c, &c->ring[(c->head + c->len - 1) % fa_history]);
    *cp = c;
    return *msgp ? 0 : -1;
}

int fa_chat_human(const struct fa_human *h, int64_t *message_id, int *delivered)
{
    struct fa_chat *c;
    json_t *msg = NULL;
    struct fa_req **claimed = NULL;
    size_t nc = 0, cap;
    int rc = -1;

    fa_state_lock();
    if (fa_store_human_locked(h, &c, &msg) < 0)
        goto out;
    *message_id = json_integer_value(json_object_get(msg, "message_id"));
    *delivered = 0;
    cap = c->members.len + h->n_extra;
    claimed = calloc(cap ? cap : 1, sizeof(*claimed));
    if (!claimed)
        goto out;
    for (size_t i = 0; i < c->members.len; i++)
        if (fa_bots_deliver_locked(c->members.v[i], msg, claimed, &nc) == 0)
            (*delivered)++;
    for (size_t i = 0; i < h->n_extra; i++)
        if (!fa_ids_has(&c->members, h->extra_bots[i]) &&
            !fa_in_prefix(h->extra_bots, i, h->extra_bots[i]) &&
            fa_bots_deliver_locked(h->extra_bots[i], msg, claimed, &nc) == 0)
            (*delivered)++;
    rc = 0;
out:
    fa_state_unlock();
    json_decref(msg);
    for (size_t i = 0; i < nc; i++)
        fa_wait_resume(claimed[i]);
    free(claimed);
    return rc;
}

/* ---- listing, stats, reset ---- */

json_t *fa_chat_messages(int64_t chat_id, int limit)
{
    json_t *a = json_array();
    struct fa_chat *c;
    size_t n;

    fa_state_lock();
    c = fa_map_get(&fa_chats, chat_id);
    n = c ? (c->len < (size_t)limit ? c->len : (size_t)limit) : 0;
    for (size_t i = c ? c->len - n : 0; c && a && i < c->len; i++) {
        const struct fa_msg *m = &c->ring[(c->head + i) % fa_history];
        json_t *j = fa_msg_json(chat_id, m);
        if (j && m->reply_to)
            json_object_set_new(j, "reply_to_message_id", json_integer(m->reply_to));
        json_array_append_new(a, j);
    }
    fa_state_unlock();
    return a;
}

void fa_chat_stats_locked(json_t *s)
{
    json_t *by_chat = json_object(), *members = json_object();
    char k[24];

    for (size_t i = 0; i < fa_chats.cap; i++) {
        struct fa_chat *c = fa_chats.slots[i].val;
        json_t *ids;
        if (!c)
            continue;
        ids = json_array();
        snprintf(k, sizeof(k), "%lld", (long long)c->id);
        json_object_set_new(by_chat, k, json_integer(c->sends));
        for (size_t j = 0; j < c->members.len; j++)
            json_array_append_new(ids, json_integer(c->members.v[j]));
        json_object_set_new(members, k, ids);
    }
    json_object_set_new(s, "sends", json_integer(fa_sends));
    json_object_set_new(s, "duplicate_sends", json_integer(fa_dup_sends));
    json_object_set_new(s, "sends_by_chat", by_chat);
    json_object_set_new(s, "members", members);
    fa_bots_stats_locked(s);
}

json_t *fa_chat_sends_json(void)
{
    json_t *j;

    fa_state_lock();
    j = json_pack("{s:I, s:I}", "sends", (json_int_t)fa_sends, "duplicate_sends",
                  (json_int_t)fa_dup_sends);
    fa_state_unlock();
    return j;
}

size_t fa_chat_reset_locked(struct fa_req ***claimed)
{
    size_t n = fa_bots_reset_locked(claimed);

    fa_map_clear(&fa_chats, fa_chat_free);
    fa_fpset_clear(&fa_dups);
    fa_sends = fa_dup_sends = 0;
    return n;
}

void fa_chat_init_locked(int history)
{
    if (history > 0)
        fa_history = (size_t)history;
}

void fa_chat_free_locked(void)
{
    fa_map_clear(&fa_msgids, NULL);
}
