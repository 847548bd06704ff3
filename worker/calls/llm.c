/* llm: see llm.h. */
#include "worker/calls/llm.h"

#include "common/backoff.h"
#include "common/cfg.h"
#include "common/imap.h"
#include "common/log.h"
#include "common/shm.h"
#include "worker/calls/brk.h"
#include "common/tbucket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define QUOTA_COOLDOWN_MS (10 * 60 * 1000) /* spent quota or a bad key: try again later */
#define DEFAULT_429_MS 1000

struct provider {
	char name[32];
	struct brk *brk;
	int64_t cooldown_until;
	struct tb rpm, tpm;
	long long tokens_today;
	long day; /* days since the epoch, for the daily budget */
};

struct llm {
	uv_loop_t *loop;
	const struct cfg *cfg; /* the worker's, reloaded in place */
	struct shm_slot *slot;
	uint64_t rng;
	int n;
	struct provider p[CFG_MAX_PROVIDERS];
	struct imap *bot_tokens; /* bot id -> (intptr) tokens */
};

static void on_transition(const char *name, enum brk_state from, enum brk_state to, const char *why,
			  void *arg)
{
	struct llm *l = arg;
	struct log_ctx c = { .provider = name };

	log_event(to == BRK_OPEN ? LOG_ID_BREAKER_OPENED : NULL,
		  to == BRK_OPEN ? LOG_WARNING : LOG_NOTICE, &c, "breaker %s: %s -> %s (%s)", name,
		  brk_state_name(from), brk_state_name(to), why);
	for (int i = 0; i < l->n; i++)
		if (strcmp(l->p[i].name, name) == 0)
			shm_set_breaker(l->slot, i, to == BRK_COOLING ? BRK_OPEN : (int)to);
}

static long today(void)
{
	return (long)(time(NULL) / 86400);
}

static int build(struct llm *l)
{
	const struct cfg *c = l->cfg;
	struct brk_config bc;
	int64_t now = (int64_t)uv_now(l->loop);

	brk_config_defaults(&bc);
	/* Many calls run at once: a short run of failures at a normal fault rate is
	 * chance; the failure rate over the window is the signal. */
	bc.consecutive_failures = 10;
	for (int i = 0; i < c->nproviders; i++) {
		struct provider *p = &l->p[i];
		memset(p, 0, sizeof *p);
		snprintf(p->name, sizeof p->name, "%s", c->providers[i].name);
		if (!(p->brk = brk_new(p->name, &bc, backoff_rand(&l->rng))))
			return -1;
		brk_on_transition(p->brk, on_transition, l);
		tb_init(&p->rpm, c->providers[i].rpm / 60.0,
			c->providers[i].rpm ? c->providers[i].rpm / 6.0 + 1 : 0, now);
		tb_init(&p->tpm, c->providers[i].tpm / 60.0,
			c->providers[i].tpm ? c->providers[i].tpm / 6.0 + 1 : 0, now);
		p->day = today();
		shm_set_breaker(l->slot, i, BRK_CLOSED);
	}
	l->n = c->nproviders;
	return 0;
}

static void clear(struct llm *l)
{
	for (int i = 0; i < l->n; i++)
		brk_free(l->p[i].brk);
	l->n = 0;
}

struct llm *llm_new(uv_loop_t *loop, const struct cfg *cfg, struct shm_slot *slot, uint64_t seed)
{
	struct llm *l = calloc(1, sizeof *l);

	if (!l || !(l->bot_tokens = imap_new())) {
		free(l);
		return NULL;
	}
	l->loop = loop;
	l->cfg = cfg;
	l->slot = slot;
	l->rng = seed;
	if (build(l) < 0) {
		llm_free(l);
		return NULL;
	}
	return l;
}

void llm_free(struct llm *l)
{
	if (!l)
		return;
	clear(l);
	imap_free(l->bot_tokens);
	free(l);
}

int llm_reload(struct llm *l)
{
	struct provider old[CFG_MAX_PROVIDERS];
	int nold = l->n;

	memcpy(old, l->p, sizeof old);
	l->n = 0;
	if (build(l) < 0)
		return -1;
	/* Budgets and cooldowns follow the provider's name across a reload. */
	for (int i = 0; i < l->n; i++)
		for (int j = 0; j < nold; j++)
			if (strcmp(l->p[i].name, old[j].name) == 0) {
				l->p[i].tokens_today = old[j].tokens_today;
				l->p[i].day = old[j].day;
				l->p[i].cooldown_until = old[j].cooldown_until;
			}
	for (int j = 0; j < nold; j++)
		brk_free(old[j].brk);
	return 0;
}

/* 0 when p may take a call now, else how long until it might (ms). */
static int64_t unavailable_for(struct llm *l, int i, int64_t now)
{
	const struct cfg_provider *cp = &l->cfg->providers[i];
	struct provider *p = &l->p[i];
	int64_t wait = 0, w;

	if (p->day != today()) {
		p->day = today();
		p->tokens_today = 0;
	}
	if (cp->daily_tokens && p->tokens_today >= cp->daily_tokens)
		return 60000; /* spent for today: look again in a minute */
	if (p->cooldown_until > now)
		wait = p->cooldown_until - now;
	if ((w = tb_wait_ms(&p->rpm, now, 1)) > wait)
		wait = w;
	if ((w = tb_wait_ms(&p->tpm, now, 1)) > wait)
		wait = w;
	return wait;
}

int llm_pick(struct llm *l, int from, int64_t now, uint64_t *gen, int64_t *wait_ms)
{
	int64_t best = -1;

	for (int i = from; i < l->n; i++) {
		int64_t w = unavailable_for(l, i, now);
		if (w == 0 && brk_allow(l->p[i].brk, now, gen)) {
			tb_take(&l->p[i].rpm, now, 1);
			return i;
		}
		if (w == 0)
			w = brk_retry_at(l->p[i].brk) > now ? brk_retry_at(l->p[i].brk) - now : 100;
		if (best < 0 || w < best)
			best = w;
	}
	*wait_ms = best < 0 ? 1000 : best;
	return -1;
}

static void add_bot_tokens(struct llm *l, int64_t bot_id, int tokens)
{
	intptr_t cur = (intptr_t)imap_get(l->bot_tokens, bot_id);

	/* Values are stored +1 so that zero is never a NULL entry. */
	imap_put(l->bot_tokens, bot_id, (void *)(cur ? cur + tokens : tokens + 1));
}

int64_t llm_bot_tokens(const struct llm *l, int64_t bot_id)
{
	intptr_t v = (intptr_t)imap_get(l->bot_tokens, bot_id);

	return v ? v - 1 : 0;
}

void llm_done(struct llm *l, int i, uint64_t gen, int64_t now, enum llm_outcome o, int duration_ms,
	      long retry_after_s, int64_t bot_id, int tokens)
{
	struct provider *p;

	if (i < 0 || i >= l->n)
		return;
	p = &l->p[i];
	switch (o) {
	case LLM_OK:
		brk_record(p->brk, now, gen, BRK_SUCCESS, duration_ms);
		tokens = tokens < 0 ? 0 : tokens; /* a usage count never lowers a budget */
		p->tokens_today += tokens;
		tb_take(&p->tpm, now, tokens);
		add_bot_tokens(l, bot_id, tokens);
		break;
	case LLM_RATE_LIMITED:
		brk_record(p->brk, now, gen, BRK_COOLDOWN, duration_ms);
		p->cooldown_until = now + (retry_after_s > 0 ? backoff_retry_after_ms(retry_after_s)
							     : DEFAULT_429_MS);
		brk_cooldown(p->brk, now, p->cooldown_until);
		break;
	case LLM_QUOTA:
		brk_record(p->brk, now, gen, BRK_COOLDOWN, duration_ms);
		p->cooldown_until = now + QUOTA_COOLDOWN_MS;
		brk_cooldown(p->brk, now, p->cooldown_until);
		log_msg(LOG_ERR, &(struct log_ctx){ .provider = p->name },
			"provider %s refused us (quota or key): cooling it down for %d min",
			p->name, QUOTA_COOLDOWN_MS / 60000);
		break;
	case LLM_FAILED: brk_record(p->brk, now, gen, BRK_FAILURE, duration_ms); break;
	case LLM_BAD_REQUEST: brk_record(p->brk, now, gen, BRK_IGNORED, duration_ms); break;
	}
}
