/* tgc: see tgc.h. Per-bot state is made on a bot's first send, so idle bots
 * cost nothing; per-chat state only when pacing is on or a 429 pauses the
 * chat: without it a chat is unpaused with full buckets, which a fresh one is.
 * A bot is in a few chats, so they are a short list, not a map per bot. */
#include "worker/calls/tgc.h"

#include "common/backoff.h"
#include "common/cfg.h"
#include "common/imap.h"
#include "common/log.h"
#include "common/shm.h"
#include "worker/calls/brk.h"
#include "common/tbucket.h"

#include <stdio.h>
#include <stdlib.h>

/* A bucket of capacity C refilled at r lets C + r * 60 s through in a minute,
 * so a full one of 20 at 20/min allowed 40 in its first minute. A burst of 3
 * and 17 a minute keep every 60 s window at 20, Telegram's limit per group. */
#define GROUP_BURST 3

/* The per-group bucket for n a minute: burst b, refilled at n - b a minute. */
static void group_bucket(struct tb *tb, int n, int64_t now)
{
	int b = n > 2 * GROUP_BURST ? GROUP_BURST : 1;

	/* A rate of 0 would mean no limit: n = 1 keeps 1 a minute after the first. */
	tb_init(tb, (n > b ? n - b : n) / 60.0, b, now);
}

struct tg_chat {
	int64_t id;
	struct tg_chat *next;
	struct tb per_s;
	struct tb per_min;
	int64_t paused_until;
};

struct tg_bot {
	struct brk *brk; /* on tgc.bc, shared */
	struct tb per_s;
	struct tg_chat *chats;
};

struct tgc {
	const struct cfg *cfg; /* the worker's, reloaded in place */
	struct shm_slot *slot;
	uint64_t rng;
	struct brk *api;
	struct brk_config bc;
	struct imap *bots; /* bot id -> struct tg_bot */
};

static void on_api_transition(const char *name, enum brk_state from, enum brk_state to,
			      const char *why, void *arg)
{
	struct tgc *t = arg;

	log_event(to == BRK_OPEN ? LOG_ID_BREAKER_OPENED : NULL,
		  to == BRK_OPEN ? LOG_WARNING : LOG_NOTICE, NULL, "breaker %s: %s -> %s (%s)",
		  name, brk_state_name(from), brk_state_name(to), why);
	shm_gauge(t->slot, SHM_G_TG_BREAKER, to == BRK_COOLING ? BRK_OPEN : (int)to);
}

static void on_bot_transition(const char *name, enum brk_state from, enum brk_state to,
			      const char *why, void *arg)
{
	(void)arg;
	log_event(to == BRK_OPEN ? LOG_ID_BREAKER_OPENED : NULL,
		  to == BRK_OPEN ? LOG_WARNING : LOG_INFO, NULL, "breaker %s: %s -> %s (%s)", name,
		  brk_state_name(from), brk_state_name(to), why);
}

struct tgc *tgc_new(const struct cfg *cfg, struct shm_slot *slot, uint64_t seed)
{
	struct tgc *t = calloc(1, sizeof *t);

	if (!t)
		return NULL;
	t->cfg = cfg;
	t->slot = slot;
	t->rng = seed;
	brk_config_defaults(&t->bc);
	t->bc.consecutive_failures = 10; /* see llm.c: the rate is the signal */
	if (!(t->bots = imap_new()) || !(t->api = brk_new("telegram", &t->bc, backoff_rand(&t->rng)))) {
		tgc_free(t);
		return NULL;
	}
	brk_on_transition(t->api, on_api_transition, t);
	return t;
}

static void free_bot(int64_t key, void *val, void *arg)
{
	struct tg_bot *b = val;
	struct tg_chat *c, *next;

	(void)key;
	(void)arg;
	brk_free(b->brk);
	for (c = b->chats; c; c = next) {
		next = c->next;
		free(c);
	}
	free(b);
}

void tgc_free(struct tgc *t)
{
	if (!t)
		return;
	if (t->bots) {
		imap_each(t->bots, free_bot, NULL);
		imap_free(t->bots);
	}
	brk_free(t->api);
	free(t);
}

static struct tg_bot *bot_of(struct tgc *t, int64_t id, int64_t now)
{
	struct tg_bot *b = imap_get(t->bots, id);
	char name[40];

	if (b)
		return b;
	if (!(b = calloc(1, sizeof *b)))
		return NULL;
	snprintf(name, sizeof name, "telegram-bot-%lld", (long long)id);
	if (!(b->brk = brk_new_shared(name, &t->bc, backoff_rand(&t->rng))) ||
	    imap_put(t->bots, id, b) < 0) {
		free_bot(id, b, NULL);
		return NULL;
	}
	brk_on_transition(b->brk, on_bot_transition, t);
	tb_init(&b->per_s, t->cfg->telegram_bot_per_second, t->cfg->telegram_bot_per_second, now);
	return b;
}

static struct tg_chat *chat_find(const struct tg_bot *b, int64_t id)
{
	struct tg_chat *c = b->chats;

	while (c && c->id != id)
		c = c->next;
	return c;
}

static struct tg_chat *chat_of(const struct cfg *cf, struct tg_bot *b, int64_t id, int64_t now)
{
	struct tg_chat *c = chat_find(b, id);

	if (c || !(c = calloc(1, sizeof *c)))
		return c;
	c->id = id;
	tb_init(&c->per_s, cf->telegram_chat_per_second, 1, now);
	group_bucket(&c->per_min, cf->telegram_group_per_minute, now);
	c->next = b->chats;
	b->chats = c;
	return c;
}

static int64_t max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Buckets first: a breaker's half-open probe slot is taken only by a call that
 * will really go. */
int64_t tgc_admit(struct tgc *t, int64_t bot_id, int64_t chat_id, int64_t now, struct tgc_ticket *tk)
{
	struct tg_bot *b = bot_of(t, bot_id, now);
	struct tg_chat *c = b ? chat_find(b, chat_id) : NULL;
	int pacing = t->cfg->telegram_pacing;
	int64_t wait = 0;

	if (!b)
		return 1000;
	if (c && c->paused_until > now)
		return c->paused_until - now;
	if (pacing) {
		if (!c && !(c = chat_of(t->cfg, b, chat_id, now)))
			return 1000;
		wait = max64(tb_wait_ms(&b->per_s, now, 1), tb_wait_ms(&c->per_s, now, 1));
		if (chat_id < 0) /* groups and supergroups */
			wait = max64(wait, tb_wait_ms(&c->per_min, now, 1));
		if (wait > 0)
			return wait;
	}
	if (!brk_allow(t->api, now, &tk->gen_api))
		return max64(brk_retry_at(t->api) - now, 100);
	if (!brk_allow(b->brk, now, &tk->gen_bot)) {
		brk_record(t->api, now, tk->gen_api, BRK_IGNORED, 0);
		return max64(brk_retry_at(b->brk) - now, 100);
	}
	if (pacing) {
		tb_take(&b->per_s, now, 1);
		tb_take(&c->per_s, now, 1);
		tb_take(&c->per_min, now, 1);
	}
	tk->bot_id = bot_id;
	tk->chat_id = chat_id;
	return 0;
}

void tgc_done(struct tgc *t, const struct tgc_ticket *tk, int64_t now, enum tgc_outcome o,
	      int duration_ms, long retry_after_s)
{
	struct tg_bot *b = imap_get(t->bots, tk->bot_id);
	struct tg_chat *c;
	static const enum brk_result map[] = { BRK_SUCCESS, BRK_COOLDOWN, BRK_FAILURE, BRK_IGNORED };

	brk_record(t->api, now, tk->gen_api, map[o], duration_ms);
	if (b)
		brk_record(b->brk, now, tk->gen_bot, map[o], duration_ms);
	if (o == TGC_RATE_LIMITED && b && (c = chat_of(t->cfg, b, tk->chat_id, now)))
		c->paused_until =
			now + (retry_after_s > 0 ? backoff_retry_after_ms(retry_after_s) : 1000);
}
