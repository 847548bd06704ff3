/* res_profile: a bot's stances, holdings and memories (they are listed with
 * the bot: GET /api/v1/bots/{id}), each checked by common/cast as import
 * checks them, written with its audit row in one statement.
 *
 *   PUT    /api/v1/bots/{id}/stances/{topic}   {stance_text, confidence, cooldown_until}
 *   DELETE /api/v1/bots/{id}/stances/{topic}
 *   PUT    /api/v1/bots/{id}/holdings/{symbol} {avg_price, size, note}
 *   DELETE /api/v1/bots/{id}/holdings/{symbol}
 *   POST   /api/v1/bots/{id}/memories          {memory_type, content, relevance_score, usage_count}
 *   DELETE /api/v1/bots/{id}/memories/{mid} */
#ifndef PIYASA_RES_PROFILE_H
#define PIYASA_RES_PROFILE_H

#include "api/call.h"

void res_stance_put(struct call *c);
void res_stance_delete(struct call *c);
void res_holding_put(struct call *c);
void res_holding_delete(struct call *c);
void res_memory_add(struct call *c);
void res_memory_delete(struct call *c);

#endif
