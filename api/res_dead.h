/* res_dead: /api/v1/dead, the jobs that ran out of attempts (dead_jobs), as
 * `piyasactl dead` shows and retries them.
 *
 *   GET    /api/v1/dead?bot=&chat=&kind=&reason=&since=&state=&limit=&before=
 *          newest first; reason is a substring; state open (default),
 *          retried or all; before=ID pages back
 *   GET    /api/v1/dead/{id}          with the job as stored
 *   POST   /api/v1/dead/{id}/retry    re-enqueued under its own id, attempts
 *          reset; its outbox row goes from failed to retry BEFORE the job is
 *          queued (as cmd_dead.c: a worker that leases it at once finds a row
 *          it may send); a refused epoch (a resize under way) puts the row
 *          back and answers 503
 *   POST   /api/v1/dead/retry {ids: [...]}  each in turn; the answer says
 *          which were queued
 *   DELETE /api/v1/dead/{id}
 * Every change writes its audit row. */
#ifndef PIYASA_RES_DEAD_H
#define PIYASA_RES_DEAD_H

#include "api/call.h"

void res_dead_list(struct call *c);
void res_dead_show(struct call *c);
void res_dead_retry(struct call *c);
void res_dead_retry_many(struct call *c);
void res_dead_delete(struct call *c);

#endif
