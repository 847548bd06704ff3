/* srv: see srv.h. Every MHD call happens on the loop thread: MHD_run from the
 * poll and timer callbacks, MHD_resume_connection from srv_reply (then a run
 * soon, through a zero timer: MHD wants a run after a resume in external mode). */
#include "api/srv.h"

#include "common/utf8.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

struct hdr {
	char *name, *value;
	struct hdr *next;
};

struct req {
	struct srv *srv;
	struct MHD_Connection *conn;
	char method[16];
	char *path;
	char addr[64];
	char *body;
	size_t len, cap;
	int too_large;
	int dispatched; /* the handler ran */
	int suspended;
	int answered; /* srv_reply or srv_stream called */
	int observed; /* the observer was told of the answer */
	unsigned status;
	char *ctype;
	char *out;
	size_t out_len;
	struct hdr *hdrs;
	struct timespec t0;
	/* a stream */
	srv_pull pull;
	void (*stream_done)(void *);
	void *stream_arg;
	int stream_waiting; /* suspended in the reader, waiting for srv_stream_wake */
	void *data;
	void (*data_free)(void *);
};

struct srv {
	uv_loop_t *loop;
	struct MHD_Daemon *d;
	uv_poll_t poll;
	uv_timer_t timer;
	int nclosing;
	size_t max_body;
	srv_handler h;
	void *arg;
	srv_observe obs;
	void *obs_arg;
	int freeing;
};

static void srv_run(struct srv *s);

static void on_timer(uv_timer_t *t)
{
	srv_run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	srv_run(p->data);
}

/* Run MHD, then sleep until its next deadline or the next event. */
static void srv_run(struct srv *s)
{
	MHD_UNSIGNED_LONG_LONG to;

	if (s->freeing)
		return;
	MHD_run(s->d);
	if (MHD_get_timeout(s->d, &to) == MHD_YES)
		uv_timer_start(&s->timer, on_timer, (uint64_t)to, 0);
	else
		uv_timer_stop(&s->timer);
}

static void run_soon(struct srv *s)
{
	if (!s->freeing)
		uv_timer_start(&s->timer, on_timer, 0, 0);
}

static void free_req(struct req *rq)
{
	struct hdr *h, *n;

	if (rq->data_free)
		rq->data_free(rq->data);
	for (h = rq->hdrs; h; h = n) {
		n = h->next;
		free(h->name);
		free(h->value);
		free(h);
	}
	free(rq->path);
	free(rq->body);
	free(rq->ctype);
	free(rq->out);
	free(rq);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req *rq = *con_cls;

	(void)cls;
	(void)c;
	(void)toe;
	if (!rq)
		return;
	*con_cls = NULL;
	if (rq->pull && rq->stream_done)
		rq->stream_done(rq->stream_arg);
	free_req(rq);
}

static void client_addr(struct MHD_Connection *c, char *out, size_t n)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;

	snprintf(out, n, "?");
	if (!sa)
		return;
	getnameinfo(sa,
		    sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
					      : sizeof(struct sockaddr_in),
		    out, (socklen_t)n, NULL, 0, NI_NUMERICHOST);
}

static enum MHD_Result queue(struct req *rq)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(rq->out_len, rq->out ? rq->out : "", MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	for (struct hdr *h = rq->hdrs; h; h = h->next)
		MHD_add_response_header(r, h->name, h->value);
	if (rq->ctype)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	rc = MHD_queue_response(rq->conn, rq->status, r);
	MHD_destroy_response(r);
	return rc;
}

static ssize_t on_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct req *rq = cls;
	long n;

	(void)pos;
	n = rq->pull(buf, max, rq->stream_arg);
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (n == 0) {
		/* Nothing to send: park the connection until srv_stream_wake. */
		rq->stream_waiting = 1;
		MHD_suspend_connection(rq->conn);
		return 0;
	}
	return n;
}

static enum MHD_Result queue_stream(struct req *rq)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, on_stream_read, rq, NULL);
	if (!r)
		return MHD_NO;
	for (struct hdr *h = rq->hdrs; h; h = h->next)
		MHD_add_response_header(r, h->name, h->value);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rq->ctype);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	rc = MHD_queue_response(rq->conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result answer(struct req *rq)
{
	if (rq->srv->obs && !rq->observed) {
		rq->observed = 1;
		rq->srv->obs(rq->pull ? 200 : rq->status, req_age_us(rq), rq->srv->obs_arg);
	}
	return rq->pull ? queue_stream(rq) : queue(rq);
}

static int append_body(struct req *rq, const char *data, size_t n)
{
	if (rq->too_large || rq->len + n > rq->srv->max_body) {
		rq->too_large = 1;
		return 0;
	}
	if (rq->len + n + 1 > rq->cap) {
		size_t cap = (rq->len + n + 1) * 2;
		char *p = realloc(rq->body, cap);
		if (!p)
			return -1;
		rq->body = p;
		rq->cap = cap;
	}
	memcpy(rq->body + rq->len, data, n);
	rq->len += n;
	rq->body[rq->len] = '\0';
	return 0;
}

static void set_error(struct req *rq, unsigned status, const char *title)
{
	char body[256];
	int n = snprintf(body, sizeof body,
			 "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%u}", title, status);

	rq->answered = 1;
	rq->status = status;
	free(rq->ctype);
	rq->ctype = strdup("application/problem+json");
	free(rq->out);
	rq->out = strndup(body, (size_t)n);
	rq->out_len = (size_t)n;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct srv *s = cls;
	struct req *rq = *con_cls;
	const char *cl;

	(void)version;
	if (!rq) {
		if (!(rq = calloc(1, sizeof *rq)))
			return MHD_NO;
		rq->srv = s;
		rq->conn = c;
		snprintf(rq->method, sizeof rq->method, "%s", method);
		rq->path = strdup(url);
		clock_gettime(CLOCK_MONOTONIC, &rq->t0);
		client_addr(c, rq->addr, sizeof rq->addr);
		*con_cls = rq;
		if (!rq->path)
			return MHD_NO;
		/* A declared length over the limit is refused before a byte of it is read. */
		cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > s->max_body) {
			set_error(rq, 413, "Request body too large");
			return answer(rq);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		if (append_body(rq, upload, *upload_size) < 0)
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	if (rq->answered)
		return answer(rq); /* resumed after srv_reply, or answered in the handler */
	if (rq->dispatched)
		return MHD_YES; /* a spurious call while suspended */
	if (rq->too_large) {
		set_error(rq, 413, "Request body too large");
		return answer(rq);
	}
	if (!rq->body && !(rq->body = strdup("")))
		return MHD_NO;
	rq->dispatched = 1;
	s->h(rq, s->arg);
	if (rq->answered)
		return answer(rq);
	rq->suspended = 1;
	MHD_suspend_connection(c);
	return MHD_YES;
}

static void on_closed(uv_handle_t *h)
{
	struct srv *s = h->data;

	if (--s->nclosing == 0)
		free(s);
}

struct srv *srv_new(uv_loop_t *loop, const struct srv_opts *o, srv_handler h, void *arg, char *err,
		    size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	const union MHD_DaemonInfo *info;
	struct srv *s;
	char port[16];
	unsigned flags =
		MHD_USE_EPOLL |
		MHD_ALLOW_SUSPEND_RESUME; /* no MHD_USE_ERROR_LOG: a client that leaves a stream is no error */
	int rc;

	snprintf(port, sizeof port, "%d", o->port);
	if ((rc = getaddrinfo(o->host, port, &hints, &ai)) != 0) {
		snprintf(err, errlen, "listen %s:%d: %s", o->host, o->port, gai_strerror(rc));
		return NULL;
	}
	if (!(s = calloc(1, sizeof *s))) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->loop = loop;
	s->h = h;
	s->arg = arg;
	s->max_body = o->max_body;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s,
				MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
				o->max_conns, MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_ip,
				MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!s->d || !(info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_EPOLL_FD))) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", o->host, o->port,
			 errno ? strerror(errno) : "libmicrohttpd refused");
		if (s->d)
			MHD_stop_daemon(s->d);
		free(s);
		return NULL;
	}
	uv_poll_init(loop, &s->poll, info->epoll_fd);
	uv_timer_init(loop, &s->timer);
	s->poll.data = s->timer.data = s;
	uv_poll_start(&s->poll, UV_READABLE, on_poll);
	srv_run(s);
	return s;
}

void srv_quiesce(struct srv *s)
{
	MHD_socket fd;

	if (!s || !s->d)
		return;
	fd = MHD_quiesce_daemon(s->d);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	run_soon(s);
}

unsigned srv_connections(const struct srv *s)
{
	const union MHD_DaemonInfo *i =
		s ? MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_CURRENT_CONNECTIONS) : NULL;

	return i ? i->num_connections : 0;
}

void srv_free(struct srv *s)
{
	if (!s)
		return;
	s->freeing = 1;
	/* Resume what is parked so MHD can close it (and call on_completed). */
	MHD_stop_daemon(s->d);
	s->d = NULL;
	s->nclosing = 2;
	uv_close((uv_handle_t *)&s->poll, on_closed);
	uv_close((uv_handle_t *)&s->timer, on_closed);
}

/* --- requests --- */

const char *req_method(const struct req *rq)
{
	return rq->method;
}

const char *req_path(const struct req *rq)
{
	return rq->path;
}

const char *req_arg(const struct req *rq, const char *key)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	const char **bad = cls;

	(void)kind;
	if (utf8_valid(key, strlen(key)) && (!value || utf8_valid(value, strlen(value))))
		return MHD_YES;
	*bad = key;
	return MHD_NO;
}

const char *req_bad_arg(const struct req *rq)
{
	const char *bad = NULL;

	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, on_arg, &bad);
	return bad;
}

const char *req_header(const struct req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

const char *req_cookie(const struct req *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, name);
}

const char *req_addr(const struct req *rq)
{
	return rq->addr;
}

const char *req_body(const struct req *rq, size_t *len)
{
	*len = rq->len;
	return rq->body ? rq->body : "";
}

long long req_age_us(const struct req *rq)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)(t.tv_sec - rq->t0.tv_sec) * 1000000 + (t.tv_nsec - rq->t0.tv_nsec) / 1000;
}

void req_add_header(struct req *rq, const char *name, const char *value)
{
	struct hdr *h = calloc(1, sizeof *h), **tail;

	if (!h || !(h->name = strdup(name)) || !(h->value = strdup(value))) {
		if (h)
			free(h->name);
		free(h);
		return;
	}
	for (tail = &rq->hdrs; *tail; tail = &(*tail)->next)
		;
	*tail = h;
}

static void resume(struct req *rq)
{
	if (rq->suspended) {
		rq->suspended = 0;
		MHD_resume_connection(rq->conn);
		run_soon(rq->srv);
	}
}

void srv_reply(struct req *rq, unsigned status, const char *ctype, const char *body, size_t len)
{
	if (rq->answered)
		return;
	rq->answered = 1;
	rq->status = status;
	rq->ctype = ctype ? strdup(ctype) : NULL;
	rq->out = malloc(len + 1);
	if (rq->out) {
		memcpy(rq->out, body, len);
		rq->out[len] = '\0';
		rq->out_len = len;
	}
	resume(rq);
}

void srv_stream(struct req *rq, const char *ctype, srv_pull pull, void (*done)(void *), void *arg)
{
	if (rq->answered)
		return;
	rq->answered = 1;
	rq->ctype = strdup(ctype);
	rq->pull = pull;
	rq->stream_done = done;
	rq->stream_arg = arg;
	resume(rq);
}

void srv_set_observer(struct srv *s, srv_observe obs, void *arg)
{
	s->obs = obs;
	s->obs_arg = arg;
}

void srv_stream_wake(struct srv *s, struct req *rq)
{
	if (rq->stream_waiting) {
		rq->stream_waiting = 0;
		MHD_resume_connection(rq->conn);
		run_soon(s);
	}
}

void req_set_data(struct req *rq, void *data, void (*fr)(void *))
{
	rq->data = data;
	rq->data_free = fr;
}

void *req_data(const struct req *rq)
{
	return rq->data;
}

struct srv *req_srv(const struct req *rq)
{
	return rq->srv;
}
