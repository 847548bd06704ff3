/* ra: the worker's asynchronous Redis connection on its libuv loop.
 *
 * hiredis async on the loop (through ruv, which hands hiredis the socket errors
 * that its own 0.14 adapter drops), plus what hiredis 0.14 lacks: a deadline on
 * every command (an overdue reply drops the connection, failing every pending
 * command, so nothing waits forever), a deadline on every connect (2 s), and
 * reconnection for as long as the link is down, 100 ms after a loss and then
 * at most 1 s apart, whatever state the link was in; the queue scripts are
 * loaded on every (re)connect and re-sent as EVAL on NOSCRIPT. */
#ifndef PIYASA_RA_H
#define PIYASA_RA_H

#include "common/rq.h"

#include <hiredis/hiredis.h>
#include <uv.h>

struct ra;

/* r is NULL when err says why (timeout, connection lost, closing); an error
 * reply is passed as r with type REDIS_REPLY_ERROR. r is freed after the call. */
typedef void (*ra_cb)(redisReply *r, const char *err, void *arg);
typedef void (*ra_state_cb)(int up, const char *why, void *arg);

/* Start connecting to url; state_cb tells each time the link comes up (scripts
 * loaded) or goes down. NULL with err on a bad url. */
struct ra *ra_new(uv_loop_t *loop, const char *url, long timeout_ms, ra_state_cb state_cb,
		  void *arg, char *err, size_t errlen);

/* Close; pending callbacks are called with "closing". Memory goes in close_cb. */
void ra_free(struct ra *r);

int ra_up(const struct ra *r);

/* A command; timeout_ms 0 = the default. -1 when the link is down (cb not called). */
int ra_cmd(struct ra *r, ra_cb cb, void *arg, long timeout_ms, int argc, const char **argv);

/* A queue script on keys k, ARGV argv. -1 when the link is down (cb not called). */
int ra_eval(struct ra *r, enum rq_script s, const struct rq_keys *k, int argc, const char **argv,
	    ra_cb cb, void *arg);

/* Any other script by its source (a string that lives for ever; at most 8 of
 * them): EVALSHA once Redis told its sha (asked on first use and after each
 * reconnect), EVAL until then and on NOSCRIPT. */
int ra_eval_src(struct ra *r, const char *src, int nkeys, const char **keys, int argc,
		const char **argv, ra_cb cb, void *arg);

/* Commands sent and not yet answered. */
size_t ra_pending(const struct ra *r);

#endif
