/* tgc: when a bot may call Telegram. A breaker for the Bot API as a whole and
 * one per bot; token buckets per bot (~30/s), per bot and chat (1/s) and per bot
 * and group (20/min), all settings; a 429 pauses only the bot+chat it hit, for
 * retry_after. With telegram.pacing off the buckets are skipped (benchmarks
 * against the fake), but 429 pauses and breakers still hold. */
#ifndef PIYASA_TGC_H
#define PIYASA_TGC_H

#include <stdint.h>

struct cfg;
struct shm_slot;
struct tgc;

struct tgc_ticket {
	int64_t bot_id, chat_id;
	uint64_t gen_api, gen_bot;
};

enum tgc_outcome {
	TGC_OK,
	TGC_RATE_LIMITED, /* 429 */
	TGC_FAILED,       /* 5xx, timeout, network: the service's fault */
	TGC_REJECTED      /* other 4xx: not a failure of the service */
};

/* Limits as cfg says (read at each call; it must outlive t); the API breaker's
 * state goes to slot; seed starts the jitter. NULL: no memory. */
struct tgc *tgc_new(const struct cfg *cfg, struct shm_slot *slot, uint64_t seed);
void tgc_free(struct tgc *t);

/* 0: the call may go now (tokens taken; pass tk back to tgc_done). Otherwise
 * the milliseconds to wait before asking again. */
int64_t tgc_admit(struct tgc *t, int64_t bot_id, int64_t chat_id, int64_t now_ms,
		  struct tgc_ticket *tk);
void tgc_done(struct tgc *t, const struct tgc_ticket *tk, int64_t now_ms, enum tgc_outcome o,
	      int duration_ms, long retry_after_s);

#endif
