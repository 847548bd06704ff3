/* res_spend: what the workers' shared memory says about the LLM providers.
 *
 *   GET /api/v1/spend[?days=N]
 *                         per provider: calls by outcome, prompt and completion
 *                         tokens of the running workers (since each started;
 *                         the supervisor's /metrics has the totals with exited
 *                         workers folded in), its daily_tokens (the fleet's);
 *                         and the fleet's tokens by UTC day (today and up to
 *                         2 days back) by provider, bot and chat, as the
 *                         budgets count them in Redis (worker/calls/budget.h)
 *   GET /api/v1/breakers  per provider and worker: closed, open, half-open; the
 *                         Telegram breaker per worker
 * Read straight from the segment the supervisor gave the API (the API's
 * slot is one of them): no query, no lock (relaxed atomic loads); the days are
 * one script in Redis. Older days are Prometheus's (piyasa_llm_tokens_total). */
#ifndef PIYASA_RES_SPEND_H
#define PIYASA_RES_SPEND_H

#include "api/call.h"

void res_spend(struct call *c);
void res_breakers(struct call *c);

#endif
