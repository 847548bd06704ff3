/* reshard: `worker --reshard N`, run by the supervisor (never by itself: it
 * touches no Redis) while no worker runs, before it starts N workers. */
#ifndef PIYASA_RESHARD_H
#define PIYASA_RESHARD_H

#include "common/cfg.h"

/* Make the queues fit a fleet of target workers: every job goes to the slot of
 * its owner (bot_id % target), leases of the stopped workers go back to the
 * front of their queues, the epoch moves on. Idempotent; safe to run again
 * after a crash. 0, or -1 after logging why. */
int reshard_run(const struct cfg *c, int target);

#endif
