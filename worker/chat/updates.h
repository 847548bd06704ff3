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

#include <stddef.h>

struct wk;
struct updates;

struct updates *updates_new(struct wk *w);
void updates_free(struct updates *u);
/* The fleet is known: find our bots and their tokens and start polling (the
 * list and tokens are read again every 30 s). */
void updates_start(struct updates *u);
/* Read the list and the tokens now (SIGHUP); max_pollers applies at once. */
void updates_reload(struct updates *u);
size_t updates_count(const struct updates *u);

#endif
