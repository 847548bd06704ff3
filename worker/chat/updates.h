/* updates: the Telegram getUpdates long polls of the bots this worker owns (one
 * poller per token: ownership is bot_id % N, so no two workers poll one token),
 * with the offset of each bot kept in Redis (P:upd:<bot_id>) and moved only
 * after the updates before it are stored and acted on. A human message is
 * stored once, whichever bot saw it; a mention of a bot or a reply to one of
 * its messages queues a high-priority reply job for that bot; another human
 * message, with human_reply_probability, a normal-priority reply from one bot
 * of the chat. Long polls run on an HTTP client of their own so they never take
 * the connections sendMessage needs, and at most max_pollers at once: a worker
 * with more bots than that polls them in turns (see updates.c), trading how
 * soon a human is heard for memory. */
#ifndef PIYASA_UPDATES_H
#define PIYASA_UPDATES_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct cfg;
struct shm_slot;
struct pgpool;
struct ra;
struct queue;
struct market;
struct chats;
struct updates;

/* What the pollers use; all must outlive them. */
struct updates_deps {
	uv_loop_t *loop;
	const struct cfg *cfg;          /* the worker's, reloaded in place */
	struct shm_slot *slot;          /* metrics */
	struct pgpool *pg;              /* bots, members, human messages */
	struct ra *redis;               /* the offsets */
	struct queue *queue;            /* where reply jobs go */
	struct market *market;          /* a human's message counts in its chat's minute */
	struct chats *chats;            /* ... and drops the chat's cached context */
	const unsigned char *token_key; /* TOK_KEY_BYTES */
	int index, count;               /* this worker's bots: bot_id % count == index */
	uint64_t seed;                  /* of the retries' jitter */
};

/* NULL: no memory. */
struct updates *updates_new(const struct updates_deps *d);
void updates_free(struct updates *u);
/* The fleet is known: find our bots and their tokens and start polling (the
 * list and tokens are read again every 30 s). */
void updates_start(struct updates *u);
/* Read the list and the tokens now (SIGHUP); max_pollers applies at once. */
void updates_reload(struct updates *u);
size_t updates_count(const struct updates *u);

/* The getUpdates offset after the batch result (a JSON array of updates): one
 * past its highest update_id, never below offset. An update_id of INT64_MAX
 * leaves INT64_MAX (one past it would wrap to the lowest offset, and the same
 * updates would come back for ever); an update_id that is not an integer is
 * ignored. Pure. */
int64_t updates_next_offset(int64_t offset, const json_t *result);

#endif
