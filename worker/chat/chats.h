/* chats: each chat's context for the bots that speak in it: its settings
 * (topics, time zone, language, enabled) and its last 30 messages (bots' and
 * humans', oldest first), cached and dropped when a message is written to the
 * chat. A chat holds bots of several workers, so a write is also told to the
 * others: the chat ids written in one turn of the loop go out as one PUBLISH
 * on P:chats. The others drop a chat with a human's new message at once, and
 * serve one with another worker's bot message at most 250 ms longer (a busy
 * chat would otherwise be reloaded for every job). The TTL (30 s) only bounds
 * a notice lost while Redis was away (a resubscription drops everything). */
#ifndef PIYASA_CHATS_H
#define PIYASA_CHATS_H

#include "worker/chat/convo.h"
#include "worker/chat/pick.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct cfg;
struct pgpool;
struct ra;

#define CHATS_HISTORY 30

/* Shared, read-only, reference-counted: a task that keeps it past the callback
 * takes a reference (chatctx_ref) and drops it (chatctx_unref). */
struct chatctx {
	int refs;
	int64_t id;
	int exists, enabled;
	json_t *topics;              /* array of strings */
	struct pick_topics topicset; /* topics as the messages' facts refer to them */
	char time_zone[64];
	char language[16];
	/* oldest first; strings and facts (pick_msg_facts: worked out once here for
	 * every job that decides over this context) owned by the context */
	struct convo_msg *msgs;
	size_t nmsgs;
};

struct chatctx *chatctx_ref(const struct chatctx *c);
void chatctx_unref(struct chatctx *c);

/* ctx is a const struct chatctx * (exists 0 for an unknown chat), NULL with
 * err on failure. (The signature is the cache's own, lcache_cb.) */
typedef void (*chats_cb)(const void *ctx, const char *err, void *arg);

/* Contexts read through pg; notices published on redis and heard on a
 * connection of their own (cfg's redis_url and prefix); index is this worker's.
 * pg and redis must outlive c. NULL: no memory. */
struct chats *chats_new(uv_loop_t *loop, const struct cfg *cfg, struct pgpool *pg, struct ra *redis,
			int index);
/* The worker stops: notices go at once from now on. */
void chats_drain(struct chats *c);
void chats_free(struct chats *c);
void chats_get(struct chats *c, int64_t chat_id, chats_cb cb, void *arg);
/* A message of chat_id was committed: drop it here and tell the others, with
 * the chat's other writes of the next 100 ms (urgent: a human's message, told
 * at once, which they drop at once too). */
void chats_written(struct chats *c, int64_t chat_id, int urgent);
/* Drop this worker's cached context of chat_id (the next chats_get reads it),
 * telling no one: for a reader that misses a message it knows was written. */
void chats_forget(struct chats *c, int64_t chat_id);
/* One of our bots' messages was committed: m (copied) goes into the cached
 * context in place, in id order, instead of a reload; the others are told. */
void chats_sent(struct chats *c, int64_t chat_id, const struct convo_msg *m);
void chats_stats(const struct chats *c, uint64_t *hits, uint64_t *misses, size_t *size);

#endif
