/* res_spend: what the workers' shared memory says about the LLM providers.
 *
 *   GET /api/v1/spend     per provider: calls by outcome, prompt and completion
 *                         tokens of the running workers (since each started;
 *                         the supervisor's /metrics has the totals with exited
 *                         workers folded in), its daily_tokens budget per worker
 *   GET /api/v1/breakers  per provider and worker: closed, open, half-open; the
 *                         Telegram breaker per worker
 * Read straight from the segment the supervisor gave the API (the API's
 * slot is one of them): no query, no lock (relaxed atomic loads). Spend by bot
 * and by day is not kept anywhere yet: it needs a table the workers write. */
#ifndef PIYASA_RES_SPEND_H
#define PIYASA_RES_SPEND_H

#include "api/call.h"

void res_spend(struct call *c);
void res_breakers(struct call *c);

#endif
