/* res_messages: GET /api/v1/messages, the chat's messages across chats (bots'
 * outbox rows and humans' received ones), newest first, each with the message
 * it answers when there is one.
 *   ?chat=&bot=&status=&humans=true&since=&limit=&before=ID */
#ifndef PIYASA_RES_MESSAGES_H
#define PIYASA_RES_MESSAGES_H

#include "api/call.h"

void res_messages_list(struct call *c);

#endif
