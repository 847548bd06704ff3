/* app: the admin API's request path, from srv's handler to a resource's.
 *
 *   rate limit by address -> route (404, 405) -> body (415, 400 malformed JSON,
 *   must be an object) -> who (401; public routes skip it) -> rate limit by key
 *   or user -> role (403) -> CSRF for a session's state change (403) -> handler
 *
 * Every answer carries X-RateLimit-Limit, -Remaining and -Reset of the bucket
 * closest to empty; a refusal is 429 with Retry-After. The routes are one
 * table (method, path with {param} segments, the least role, handler). */
#ifndef PIYASA_APP_H
#define PIYASA_APP_H

#include "api/call.h"

struct app;

struct app *app_new(struct apictx *ctx);
void app_free(struct app *a);
/* srv's handler (srv.h); arg is the app. */
void app_handle(struct req *rq, void *arg);
/* Requests being handled now (their handlers have not answered). */
unsigned app_inflight(const struct app *a);

#endif
