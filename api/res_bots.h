/* res_bots: /api/v1/bots and /api/v1/chats, through the same shape checks as
 * `piyasactl import` (common/cast): a bad field is refused 422 with its path
 * ("persona_profile.style.length") and nothing is written. Tokens are never
 * returned, only their hint (the Telegram bot id). Each change is one
 * statement with its audit row.
 *
 *   GET    /api/v1/bots?enabled=&chat=&q=&limit=&before=
 *   GET    /api/v1/bots/{id}       with stances, holdings, memories, chats
 *   PATCH  /api/v1/bots/{id} {enabled, username, persona_profile,
 *          emotion_profile, speed_profile, active_hours}
 *   DELETE /api/v1/bots/{id}
 *   GET    /api/v1/chats, GET /api/v1/chats/{id} (with its bots)
 *   POST   /api/v1/chats {id, title, enabled, topics, time_zone, language}
 *   PATCH  /api/v1/chats/{id} {title, enabled, topics, time_zone, language}
 *   DELETE /api/v1/chats/{id}
 *   PUT    /api/v1/chats/{id}/bots/{bot}, DELETE ...: membership
 * Workers hold bots in a cache for up to 10 minutes (worker/chat/bots.c), as
 * after `piyasactl bot` or `import`; chats up to CHAT_TTL_MS. */
#ifndef PIYASA_RES_BOTS_H
#define PIYASA_RES_BOTS_H

#include "api/call.h"

void res_bots_list(struct call *c);
void res_bots_show(struct call *c);
/* POST /api/v1/bots {name, token, ...}: the token checked with getMe (the
 * username filled in from it), sealed with the token key, never returned. */
void res_bots_add(struct call *c);
void res_bots_edit(struct call *c);
void res_bots_delete(struct call *c);
void res_chats_list(struct call *c);
void res_chats_show(struct call *c);
void res_chats_add(struct call *c);
void res_chats_edit(struct call *c);
void res_chats_delete(struct call *c);
void res_chats_member_add(struct call *c);
void res_chats_member_remove(struct call *c);

#endif
