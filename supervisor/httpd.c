/* httpd: see httpd.h. Each request takes one snapshot (heap: it holds a copy of
 * every worker's gauges) and answers from it, so a scrape costs the loop thread
 * nothing but a short wait on the view's mutex. */
#include "supervisor/httpd.h"

#include "supervisor/metrics.h"
#include "supervisor/view.h"

#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct httpd {
	struct MHD_Daemon *d;
	struct view *v;
};

#define TEXT "text/plain; charset=utf-8"

/* A slow client must not starve the others (slowloris: 32 connections sending a
 * header line every 4 s once held the old limit of 32 for good, and systemd's and
 * Prometheus' probes got nothing). An idle connection is closed after
 * HTTPD_IDLE_S, so a trickle slower than that loses its socket; the limits are
 * far above what a scraper and a probe use, so a faster trickle needs hundreds of
 * sockets, and one address can hold half of them at most (a remote client, when
 * http_bind is not loopback, cannot lock out the local probes). The thread polls
 * with epoll (MHD_USE_AUTO), so the count is not bound by select()'s 1024; a
 * trickle that grows its header past the connection's memory pool (32 KiB) is
 * answered 431 and closed by libmicrohttpd. */
#define HTTPD_MAX_CONNS 512
#define HTTPD_MAX_PER_IP 256
#define HTTPD_IDLE_S 3

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type, char *body,
			     size_t len)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	/* body is malloc'd and now the response's: MHD frees it with free(). */
	r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	rc = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	char *body;
	int n = asprintf(&body, "%s\n", text);

	if (n < 0)
		return MHD_NO;
	return reply(c, code, TEXT, body, (size_t)n);
}

static enum MHD_Result serve_health(struct MHD_Connection *c, const struct snap *s,
				    int (*check)(const struct snap *, char *, size_t))
{
	char why[512];
	int ok = check(s, why, sizeof why);

	return reply_text(c, ok ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE, why);
}

static enum MHD_Result route(struct MHD_Connection *c, const char *url, const struct snap *s)
{
	char *body;
	size_t len;

	if (strcmp(url, "/metrics") == 0) {
		if (!(body = metrics_prometheus(s, &len)))
			return MHD_NO;
		return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len);
	}
	if (strcmp(url, "/status") == 0) {
		if (!(body = metrics_status_json(s)))
			return MHD_NO;
		return reply(c, MHD_HTTP_OK, "application/json", body, strlen(body));
	}
	if (strcmp(url, "/health/live") == 0)
		return serve_health(c, s, metrics_live);
	if (strcmp(url, "/health/ready") == 0)
		return serve_health(c, s, metrics_ready);
	return reply_text(c, MHD_HTTP_NOT_FOUND,
			  "not found: try /metrics, /status, /health/live, /health/ready");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **req)
{
	struct httpd *h = cls;
	struct snap *s;
	enum MHD_Result rc;

	(void)version;
	(void)upload;
	(void)upload_size;
	(void)req;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD");
	if (!(s = malloc(sizeof *s)))
		return MHD_NO;
	view_snapshot(h->v, s);
	rc = route(c, url, s);
	free(s);
	return rc;
}

static struct addrinfo *resolve(const char *bind, int port, char *err, size_t errlen)
{
	struct addrinfo hints, *ai = NULL;
	char ps[16];
	int rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(ps, sizeof ps, "%d", port);
	rc = getaddrinfo(*bind ? bind : NULL, ps, &hints, &ai);
	if (rc != 0) {
		snprintf(err, errlen, "http_bind %s: %s", bind, gai_strerror(rc));
		return NULL;
	}
	return ai;
}

struct httpd *httpd_start(struct view *v, const char *bind, int port, char *err, size_t errlen)
{
	struct addrinfo *ai = resolve(bind, port, err, errlen);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
	struct httpd *h;

	if (!ai)
		return NULL;
	if (!(h = calloc(1, sizeof *h))) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->v = v;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
				MHD_OPTION_SOCK_ADDR, ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT,
				(unsigned)HTTPD_MAX_CONNS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
				(unsigned)HTTPD_MAX_PER_IP, MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)HTTPD_IDLE_S, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!h->d) {
		snprintf(err, errlen, "cannot listen on %s:%d: %s", bind, port,
			 errno ? strerror(errno) : "libmicrohttpd refused");
		free(h);
		return NULL;
	}
	return h;
}

void httpd_stop(struct httpd *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
