/* fa_bots.c: bots as the fake's getUpdates sees them: an update queue each, the one
 * long poll that may be waiting, and the send count. All of it under the state lock;
 * a waiting poll is claimed through fa_wait (so exactly one party resumes it). */
#include "tests/fakeapi/fa_bots.h"

#include "tests/fakeapi/fa_map.h"
#include "tests/fakeapi/fa_state.h"
#include "tests/fakeapi/fa_util.h"
#include "tests/fakeapi/fa_wait.h"

#include <stdio.h>
#include <stdlib.h>

#define FA_MAX_UPDATES 100000 /* per bot; the oldest are dropped beyond this */

struct fa_update {
    int64_t id;
    json_t *json;
};

struct fa_bot {
    int64_t id;
    struct fa_update *q;
    size_t qhead, qlen, qcap;
    struct fa_req *poll;
    int64_t sends;
};

static struct fa_map fa_bots;
static int64_t fa_conflicts;
static int64_t fa_next_update = 1; /* global, so ids keep increasing across resets */

static void fa_bot_free(void *p)
{
    struct fa_bot *b = p;

    for (size_t i = 0; i < b->qlen; i++)
        json_decref(b->q[(b->qhead + i) % b->qcap].json);
    free(b->q);
    free(b);
}

static struct fa_bot *fa_bot_get(int64_t id)
{
    struct fa_bot *b = fa_map_get(&fa_bots, id);

    if (b)
        return b;
    b = calloc(1, sizeof(*b));
    if (!b || fa_map_put(&fa_bots, id, b) < 0) {
        free(b);
        return NULL;
    }
    b->id = id;
    return b;
}

static int fa_bot_push(struct fa_bot *b, json_t *message)
{
    struct fa_update u;

    if (b->qlen == b->qcap) {
        if (b->qcap >= FA_MAX_UPDATES) {
            json_decref(b->q[b->qhead].json); /* drop the oldest, like Telegram's 24 h */
            b->qhead = (b->qhead + 1) % b->qcap;
            b->qlen--;
        } else {
            size_t ncap = b->qcap ? b->qcap * 2 : 16;
            struct fa_update *n = malloc(ncap * sizeof(*n));
            if (!n)
                return -1;
            for (size_t i = 0; i < b->qlen; i++)
                n[i] = b->q[(b->qhead + i) % b->qcap];
            free(b->q);
            b->q = n;
            b->qcap = ncap;
            b->qhead = 0;
        }
    }
    u.id = fa_next_update++;
    u.json = json_pack("{s:I, s:O}", "update_id", (json_int_t)u.id, "message", message);
    if (!u.json)
        return -1;
    b->q[(b->qhead + b->qlen++) % b->qcap] = u;
    return 0;
}

/* Drops updates below offset; a negative offset keeps only the last -offset ones. */
static void fa_bot_confirm(struct fa_bot *b, int64_t offset)
{
    while (b->qlen > 0) {
        struct fa_update *u = &b->q[b->qhead];
        if (offset >= 0 ? u->id >= offset : (int64_t)b->qlen <= -offset)
            break;
        json_decref(u->json);
        b->qhead = (b->qhead + 1) % b->qcap;
        b->qlen--;
    }
}

static json_t *fa_bot_take(const struct fa_bot *b, int limit)
{
    json_t *a = json_array();

    for (size_t i = 0; b && a && i < b->qlen && (int)i < limit; i++)
        json_array_append(a, b->q[(b->qhead + i) % b->qcap].json);
    return a;
}

int fa_bots_deliver_locked(int64_t bot_id, json_t *msg, struct fa_req **claimed, size_t *nc)
{
    struct fa_bot *b = fa_bot_get(bot_id);

    if (!b || fa_bot_push(b, msg) < 0)
        return -1;
    if (b->poll) {
        struct fa_req *r = b->poll;
        if (fa_wait_claim_locked(r) == 0)
            claimed[(*nc)++] = r;
    }
    return 0;
}

int fa_bots_updates(struct fa_req *req, int64_t bot_id, int64_t offset, int has_offset, int limit,
                    int timeout_s, json_t **out)
{
    struct fa_req *older = NULL;
    struct fa_bot *b;
    int rc = 0;

    fa_state_lock();
    b = fa_bot_get(bot_id);
    if (b && has_offset)
        fa_bot_confirm(b, offset);
    if (b && b->poll) { /* like Telegram: the older request loses */
        older = b->poll;
        older->poll_conflict = 1;
        fa_conflicts++;
        if (fa_wait_claim_locked(older) < 0)
            older = NULL;
    }
    req->wait_kind = FA_WAIT_POLL;
    req->poll_bot = bot_id;
    req->poll_limit = limit;
    if (b && b->qlen == 0 && timeout_s > 0 &&
        fa_wait_suspend_locked(req, fa_now_ms() + (int64_t)timeout_s * 1000) == 0) {
        b->poll = req;
        rc = 1;
    } else {
        req->wait_kind = FA_WAIT_NONE;
        *out = fa_bot_take(b, limit);
    }
    fa_state_unlock();
    if (older)
        fa_wait_resume(older);
    return rc;
}

json_t *fa_bots_poll_result(struct fa_req *req)
{
    json_t *a;

    fa_state_lock();
    a = fa_bot_take(fa_map_get(&fa_bots, req->poll_bot), req->poll_limit);
    fa_state_unlock();
    return a;
}

void fa_bots_poll_detach_locked(struct fa_req *req)
{
    struct fa_bot *b = fa_map_get(&fa_bots, req->poll_bot);

    if (b && b->poll == req)
        b->poll = NULL;
}

void fa_bots_count_send_locked(int64_t bot_id)
{
    struct fa_bot *b = fa_bot_get(bot_id);

    if (b)
        b->sends++;
}

void fa_bots_stats_locked(json_t *s)
{
    json_t *by_bot = json_object();
    int64_t pending = 0, polls = 0;
    char k[24];

    for (size_t i = 0; i < fa_bots.cap; i++) {
        struct fa_bot *b = fa_bots.slots[i].val;
        if (!b)
            continue;
        snprintf(k, sizeof(k), "%lld", (long long)b->id);
        json_object_set_new(by_bot, k, json_integer(b->sends));
        pending += (int64_t)b->qlen;
        polls += b->poll != NULL;
    }
    json_object_set_new(s, "getUpdates_conflicts", json_integer(fa_conflicts));
    json_object_set_new(s, "sends_by_bot", by_bot);
    json_object_set_new(s, "pending_updates", json_integer(pending));
    json_object_set_new(s, "pending_polls", json_integer(polls));
}

size_t fa_bots_reset_locked(struct fa_req ***claimed)
{
    size_t n = 0;

    *claimed = calloc(fa_bots.len ? fa_bots.len : 1, sizeof(**claimed));
    for (size_t i = 0; i < fa_bots.cap; i++) {
        struct fa_bot *b = fa_bots.slots[i].val;
        struct fa_req *r = b ? b->poll : NULL;
        if (r && *claimed && fa_wait_claim_locked(r) == 0)
            (*claimed)[n++] = r;
    }
    fa_map_clear(&fa_bots, fa_bot_free);
    fa_conflicts = 0;
    return n;
}
