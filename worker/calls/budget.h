/* budget: the fleet's LLM budgets, counted in Redis so that every worker of
 * the fleet, and a worker started in place of a dead one, sees the same count.
 *
 * Per provider: requests and tokens per minute (`rpm`, `tpm` of its config) and
 * tokens per UTC day (`daily_tokens`); per bot and per chat: tokens per UTC day
 * (the settings `bot_daily_tokens`, `chat_daily_tokens`); and a pause the
 * provider's x-ratelimit-* headers asked for. A call reserves its estimated
 * tokens before it leaves, in one script that checks every limit first, so
 * concurrent workers cannot together pass a limit: what the fleet spends stays
 * under a limit but for the difference between an estimate and the usage the
 * provider reports (settled after the call). Keys, one hash tag:
 *   P:{spend}:D          hash, day D (days since the epoch, UTC): llm:NAME,
 *                        bot:ID, chat:ID -> tokens; told:FIELD -> 1 once a
 *                        refusal of FIELD was reported (the log line is once)
 *   P:{spend}:llm:NAME:M hash, minute M: r (requests), t (tokens)
 *   P:{spend}:llm:NAME:pause  set with a PX while the provider asked to wait */
#ifndef PIYASA_BUDGET_H
#define PIYASA_BUDGET_H

#include <stdint.h>

struct ra;
struct budget;

struct budget_ask {
	const char *provider;
	int rpm, tpm;    /* 0: no limit */
	long long daily; /* the provider's tokens a day, 0: no limit */
	int64_t bot_id, chat_id;
	long long bot_daily, chat_daily; /* 0: no limit */
	int64_t est;                     /* tokens reserved: the prompt's bytes / 4 + max_tokens */
	/* set by budget_take, for budget_settle */
	long day, minute;
};

enum budget_verdict {
	BUDGET_OK,             /* reserved: the call may go */
	BUDGET_PACED,          /* rpm, tpm or the provider's pause: wait wait_ms */
	BUDGET_PROVIDER_SPENT, /* the provider's tokens for today */
	BUDGET_BOT_SPENT,      /* the bot's tokens for today */
	BUDGET_CHAT_SPENT,     /* the chat's tokens for today */
	BUDGET_UNKNOWN         /* Redis did not answer: the worker's own limits hold */
};

/* first: 1 when this is the fleet's first refusal of that budget today (log
 * it; the others do not). */
typedef void (*budget_cb)(enum budget_verdict v, int64_t wait_ms, int first, void *arg);

/* Counting on redis under prefix (both must outlive b). NULL: no memory. */
struct budget *budget_new(struct ra *redis, const char *prefix);
void budget_free(struct budget *b);

/* Check every limit of a and reserve a->est tokens when all allow it. cb runs
 * later, once. -1 when Redis is down (cb not called): the caller goes on
 * under its own limits. */
int budget_take(struct budget *b, struct budget_ask *a, int64_t now_ms, budget_cb cb, void *arg);
/* The call's usage is known: add delta (usage - est; -est for a call the
 * provider refused) to what take counted. Fire and forget. */
void budget_settle(struct budget *b, const struct budget_ask *a, int64_t delta);
/* The provider said it has no requests or tokens left until reset_ms from now:
 * the whole fleet waits that long before its next call to it. */
void budget_pause(struct budget *b, const char *provider, int64_t reset_ms);

/* "6m0s", "1.5s", "20ms", "2h3m4.5s" (the x-ratelimit-reset-* format) or a bare
 * number of seconds, in ms; -1 when unreadable. */
int64_t budget_parse_reset(const char *s);

/* The verdict's name: "ok", "paced", "provider", "bot", "chat", "unknown". */
const char *budget_verdict_name(enum budget_verdict v);

#endif
