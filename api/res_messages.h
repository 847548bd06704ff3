/* res_messages: GET /api/v1/messages, the chat's messages across chats (bots'
 * outbox rows and humans' received ones), newest first, each with the message
 * it answers when there is one.
 *   ?chat=&bot=&status=&humans=true&since=&limit=&before=ID */
#ifndef PIYASA_RES_MESSAGES_H
#define PIYASA_RES_MESSAGES_H

#include "api/call.h"

void res_messages_list(struct call *c);
/* GET /api/v1/stats/messages?minutes=60: per minute of the last N (1..1440),
 * oldest first, the bots' messages sent, failed and unknown, and the p50 and
 * p95 of enqueue-to-sent latency in ms (null in a minute with none sent). */
void res_messages_stats(struct call *c);

#endif
