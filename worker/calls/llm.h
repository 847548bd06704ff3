/* llm: the worker's view of its LLM providers, in the config's order: a breaker
 * each, a cooldown (429 rate limits, spent quota, bad keys), the rpm/tpm buckets
 * and the daily token budget. A call goes to the first provider that may take
 * it now; token usage is counted per provider (metrics) and per bot. */
#ifndef PIYASA_LLM_H
#define PIYASA_LLM_H

#include "worker/calls/llmw.h"

#include <stdint.h>
#include <uv.h>

struct cfg;
struct shm_slot;
struct llm;

/* Providers as cfg lists them (cfg is read again at llm_reload; it must
 * outlive l); breaker states go to slot; seed starts the jitter. NULL: no memory. */
struct llm *llm_new(uv_loop_t *loop, const struct cfg *cfg, struct shm_slot *slot, uint64_t seed);
void llm_free(struct llm *l);
/* Providers changed (SIGHUP): state is rebuilt, names that stay keep theirs. */
int llm_reload(struct llm *l);

/* The first provider at index >= from that may take a call now; -1 when none
 * can, with *wait_ms the time until one might. *gen is the breaker generation
 * to hand back to llm_done. */
int llm_pick(struct llm *l, int from, int64_t now_ms, uint64_t *gen, int64_t *wait_ms);

enum llm_outcome {
	LLM_OK,
	LLM_RATE_LIMITED, /* 429 rate limit: cool down for retry_after */
	LLM_QUOTA,        /* insufficient_quota, 401, 403: cool down long */
	LLM_FAILED,       /* 5xx, timeout, unreadable answer: a breaker failure */
	LLM_BAD_REQUEST   /* 400: our request, not the provider */
};

/* The outcome of a call to provider p picked with gen. retry_after_s (of a
 * 429; <= 0: none) cools it down, at most BACKOFF_RETRY_AFTER_MAX_S; tokens (of
 * LLM_OK; a negative count counts as 0) go to its budget and the bot's count. */
void llm_done(struct llm *l, int p, uint64_t gen, int64_t now_ms, enum llm_outcome o,
	      int duration_ms, long retry_after_s, int64_t bot_id, int tokens);

/* Tokens a bot used so far (this worker's count). */
int64_t llm_bot_tokens(const struct llm *l, int64_t bot_id);

#endif
