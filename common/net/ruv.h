/* ruv: a hiredis async context on a libuv loop, in place of the adapter that
 * hiredis 0.14 ships (hiredis/adapters/libuv.h).
 *
 * Why our own: libuv reports a poll error (EPOLLERR: a non-blocking connect that
 * was refused or timed out, a connection reset) as status UV_EBADF and stops the
 * handle. The 0.14 adapter returns on any status other than 0, so hiredis never
 * hears of it: a connect to a Redis that is down neither completes nor fails, a
 * reset link is never read again, and the owner waits for ever (issue 18: a 30 s
 * Redis outage wedged every worker). Here an error is handed to hiredis as a
 * readable event, as hiredis 1.x's adapter does: hiredis reads the socket's error
 * and fails the connect (the connect callback with REDIS_ERR) or drops the link
 * (the disconnect callback, every pending callback with a NULL reply).
 *
 * A connect that never answers at all (a SYN dropped) still waits for the
 * kernel: an owner keeps its own connect deadline (ra and rsub do). */
#ifndef PIYASA_RUV_H
#define PIYASA_RUV_H

#include <hiredis/async.h>
#include <uv.h>

/* Attach ac (just made, not yet attached) to loop: hiredis then drives its socket
 * from the loop. Call it before redisAsyncSetConnectCallback, which starts the
 * wait for the connect. The poll handle is freed in its close_cb after hiredis
 * frees the context. -1 when ac is attached already or memory or the handle
 * cannot be had; then ac is untouched and the caller frees it. */
__attribute__((warn_unused_result)) int ruv_attach(redisAsyncContext *ac, uv_loop_t *loop);

#endif
