/* fa_bots.h: the bots' side of the fake's state (fa_bots.c): update queues, long
 * polls and send counts. The _locked functions run under the state lock. */
#ifndef FA_BOTS_H
#define FA_BOTS_H

#include "tests/fakeapi/fa_http.h"

#include <jansson.h>
#include <stdint.h>

/* Queues msg (an update's message) for bot_id; if the bot's long poll is waiting it is
 * claimed into claimed[*nc] for the caller to resume after unlocking. */
int fa_bots_deliver_locked(int64_t bot_id, json_t *msg, struct fa_req **claimed, size_t *nc);
void fa_bots_count_send_locked(int64_t bot_id);
/* Adds getUpdates_conflicts, sends_by_bot, pending_updates and pending_polls to s. */
void fa_bots_stats_locked(json_t *s);
/* Frees every bot; waiting polls are claimed into *claimed (resume them after
 * unlocking; they answer []). Returns how many. */
size_t fa_bots_reset_locked(struct fa_req ***claimed);

/* getUpdates: confirms updates below offset, then answers at once (returns 0, *out set)
 * or suspends req as the bot's long poll (returns 1). A poll already waiting for the
 * bot is answered 409. Takes the lock itself. */
int fa_bots_updates(struct fa_req *req, int64_t bot_id, int64_t offset, int has_offset, int limit,
                    int timeout_s, json_t **out);
/* The answer of a resumed long poll: pending updates (possibly none). */
json_t *fa_bots_poll_result(struct fa_req *req);
/* Under the lock, from fa_wait when a poll is claimed: the bot forgets it. */
void fa_bots_poll_detach_locked(struct fa_req *req);

#endif
