/* market: the market chat's state in a worker: the settings (loaded from
 * PostgreSQL at start, on SIGHUP and on every change notice), the bots this
 * worker owns with their speed, active hours and chats, the scheduler that
 * queues their speak jobs, and the caps: each bot's hourly cap (in memory: a bot
 * has one owner) and each chat's per-minute cap (in Redis: a chat holds bots of
 * every worker). */
#ifndef PIYASA_MARKET_H
#define PIYASA_MARKET_H

#include "common/settings.h"

#include <stdint.h>
#include <uv.h>

struct cfg;
struct shm_slot;
struct pgpool;
struct ra;
struct queue;
struct news;
struct market;

/* What the market uses; all but news must outlive it. */
struct market_deps {
	uv_loop_t *loop;
	const struct cfg *cfg; /* the worker's, reloaded in place */
	struct shm_slot *slot; /* metrics */
	struct pgpool *pg;     /* settings, bots, recent sends */
	struct ra *redis;      /* the chats' minute caps */
	struct queue *queue;   /* where speak and memorize jobs go */
	struct news *news;     /* the settings' feeds go to it; NULL: none */
	int index, count;      /* this worker's bots: bot_id % count == index */
	uint64_t seed;         /* of its random draws */
	/* Each load of the settings answered (NULL: not told). */
	void (*on_settings)(void *arg);
	void *arg;
};

/* NULL: no memory. */
struct market *market_new(const struct market_deps *d);
void market_free(struct market *m);
/* The worker stops: queue nothing more. */
void market_drain(struct market *m);
/* The fleet is known (queues usable): load settings and bots, start the timer. */
void market_start(struct market *m);
/* SIGHUP: settings and bots again. */
void market_reload(struct market *m);
/* The bot change notice named ids[0..n) (n 0: any bot): when one is ours, the
 * bots (enabled, speed, hours, chats) are read again, so an enable or an edit
 * shows in the schedule now rather than at the next 5-minute reload. */
void market_bots_changed(struct market *m, const int64_t *ids, size_t n);
const struct settings *market_settings(const struct market *m);
/* 1 once the first load of the settings has answered (the defaults until
 * then; kept when it failed). */
int market_settings_loaded(const struct market *m);
/* Asks for the first load of the settings again when it could not be sent or
 * its connection was lost (PostgreSQL down at the start); else nothing. */
void market_settings_ensure(struct market *m);

/* The hourly cap of a bot we own. 0: a slot is held for this message (give it
 * back with release, or turn it into a send with sent); otherwise the ms until
 * one frees. */
int64_t market_bot_reserve(struct market *m, int64_t bot_id, int64_t now_ms);
void market_bot_release(struct market *m, int64_t bot_id);
/* The message went out: it counts in the hour; may queue a memorize job. */
void market_bot_sent(struct market *m, int64_t bot_id, int64_t chat_id, int64_t now_ms);
/* 1 when the prompt should re-state the persona (persona_refresh_*); resets. */
int market_refresh_due(struct market *m, int64_t bot_id, int64_t now_ms);

/* A chat's per-minute cap, counted in Redis over every author. cb gets 0 when
 * granted (or, for a check, when there is room), the ms to wait when full, -1
 * on a Redis error. */
enum market_cap_op { MARKET_CAP_CHECK, MARKET_CAP_RESERVE };
typedef void (*market_cap_cb)(int64_t wait_ms, void *arg);
/* -1 when Redis is down (cb not called). member names the message (job id).
 * With max_msgs_per_min 0 there is no chat cap: cb gets 0 at once, inside the
 * call, and nothing is asked of Redis (release and stamp do nothing either). */
int market_chat_cap(struct market *m, enum market_cap_op op, int64_t chat_id, const char *member,
		    market_cap_cb cb, void *arg);
/* Give a reservation back (the message was not sent). */
void market_chat_release(struct market *m, int64_t chat_id, const char *member);
/* Count a message at the current time: a bot's message when it went out (its
 * reservation moves to the send time), or a human's when it arrived. */
void market_chat_stamp(struct market *m, int64_t chat_id, const char *member);

/* Chatter answering human message tg_id of chat_id, besides the bot it
 * addressed: at most max such answers, counted in Redis across workers (the
 * chat contexts of jobs deciding at once do not see each other). cb gets 0
 * (join), 1 (enough answered) or -1 (Redis). -1 when Redis is down. */
int market_human_join(struct market *m, int64_t chat_id, int64_t tg_id, int max, market_cap_cb cb,
		      void *arg);

/* Bots owned and bots scheduled, for the tests and /status. */
void market_counts(const struct market *m, size_t *owned, size_t *scheduled);

#endif
