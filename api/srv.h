/* srv: the admin API's HTTP server, libmicrohttpd driven from the libuv loop.
 *
 * MHD runs with MHD_USE_EPOLL and no thread of its own: a uv_poll_t watches
 * MHD's epoll descriptor, a uv_timer_t follows MHD_get_timeout, and MHD_run does
 * the work on the loop thread, so handlers share the loop with the PostgreSQL
 * and Redis clients and need no lock. A request reaches the handler once its
 * body is complete (a body over max_body is answered 413 without reading it
 * further). The handler answers at once (srv_reply) or later: a request not
 * answered when the handler returns is suspended (MHD_suspend_connection) and
 * resumed by srv_reply, from any later callback on the loop. Slow clients are
 * bounded as in supervisor/httpd.c: connections in all and per address, an
 * idle timeout. A stream (srv_stream) is a response whose chunks come from a
 * callback; it holds a socket, never a thread. */
#ifndef PIYASA_SRV_H
#define PIYASA_SRV_H

#include <stddef.h>
#include <uv.h>

struct srv;
struct req;

typedef void (*srv_handler)(struct req *rq, void *arg);

struct srv_opts {
	const char *host; /* numeric address to bind */
	int port;
	size_t max_body;
	unsigned max_conns, per_ip, timeout_s;
};

/* Listen and serve on loop; h(rq, arg) for each request with its whole body.
 * NULL with err when the address cannot be bound. */
struct srv *srv_new(uv_loop_t *loop, const struct srv_opts *o, srv_handler h, void *arg, char *err,
		    size_t errlen);
/* obs(status, microseconds since arrival, arg) once per answer as it is queued,
 * the server's own (413) and streams (200, at their start) included: the
 * process's request counters. */
typedef void (*srv_observe)(unsigned status, long long age_us, void *arg);
void srv_set_observer(struct srv *s, srv_observe obs, void *arg);
/* Stop accepting; requests under way go on. */
void srv_quiesce(struct srv *s);
/* Connections open now (streams included). */
unsigned srv_connections(const struct srv *s);
/* Close everything; requests still suspended are dropped. The memory goes once
 * the loop has closed the handles. NULL is safe. */
void srv_free(struct srv *s);

/* --- a request, valid from the handler until it is answered --- */

const char *req_method(const struct req *rq);
/* The path, without the query string. */
const char *req_path(const struct req *rq);
/* A query argument, a header, a cookie; NULL when absent. */
const char *req_arg(const struct req *rq, const char *key);
const char *req_header(const struct req *rq, const char *name);
const char *req_cookie(const struct req *rq, const char *name);
/* The name of the first query argument whose name or value is not well-formed
 * UTF-8 (MHD has %-decoded both), NULL when all are: the one check before any
 * argument can reach PostgreSQL, which refuses such text. */
const char *req_bad_arg(const struct req *rq);
/* The client's address, numeric ("127.0.0.1", "::1"). */
const char *req_addr(const struct req *rq);
/* The body ("" when none); *len its length. */
const char *req_body(const struct req *rq, size_t *len);
/* Microseconds since the request arrived. */
long long req_age_us(const struct req *rq);

/* A header for the answer (copied); call before srv_reply. */
void req_add_header(struct req *rq, const char *name, const char *value);
/* Answer (body copied). Resumes a suspended request. Once per request. */
void srv_reply(struct req *rq, unsigned status, const char *ctype, const char *body, size_t len);

/* A stream: the answer's body comes from pull(buf, max, arg): > 0 bytes
 * written, 0 when nothing is ready (the stream waits until srv_stream_wake),
 * -1 to end it. done(arg) once the connection is gone, whatever the reason. */
typedef long (*srv_pull)(char *buf, size_t max, void *arg);
void srv_stream(struct req *rq, const char *ctype, srv_pull pull, void (*done)(void *), void *arg);
/* New data for a stream made with arg: wake it. */
void srv_stream_wake(struct srv *s, struct req *rq);

/* Per-request data for the application; fr(data) when the request ends. */
void req_set_data(struct req *rq, void *data, void (*fr)(void *));
void *req_data(const struct req *rq);
struct srv *req_srv(const struct req *rq);

#endif
