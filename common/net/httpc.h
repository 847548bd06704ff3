/* httpc: asynchronous HTTP on a libuv loop (libcurl multi).
 *
 * One struct httpc is one CURLM whose sockets are watched by uv_poll_t handles
 * and whose timeouts run on a uv_timer_t. Connections stay open and are reused
 * between requests to the same host; over https the server may offer HTTP/2 and
 * requests are then multiplexed on one connection, over plain http they use
 * HTTP/1.1 keep-alive. At most max_host_connections connections per host
 * (default 16); requests beyond wait inside curl for a free one.
 *
 * URLs carry secrets (Telegram bot tokens in the path): httpc never copies a
 * URL, never logs, never turns on curl's verbose output, and an error text that
 * would contain the URL's path is replaced by curl's generic message.
 *
 * curl_global_init is called by the first httpc_new (the process is single-
 * threaded when it runs); main may call curl_global_cleanup at exit. */
#ifndef PIYASA_HTTPC_H
#define PIYASA_HTTPC_H

#include <stddef.h>
#include <uv.h>

struct httpc;

/* What went wrong, for retry and breaker decisions. */
enum httpc_err {
	HTTPC_OK = 0,  /* a response came (whatever its status) */
	HTTPC_TIMEOUT, /* timeout_ms passed or the transfer stalled (low_speed_time_s)
			* after the request may have reached the server */
	HTTPC_CONNECT, /* the request was never sent: DNS, refused, TLS handshake,
			* connect timeout. Safe to retry even a non-idempotent call */
	HTTPC_NETWORK, /* the connection failed mid-way, or "response too large" */
	HTTPC_ABORTED, /* httpc_free was called */
};

struct httpc_req {
	const char *method;         /* "GET", "POST", ...; NULL: POST if body else GET */
	const char *url;            /* http:// or https:// only */
	const char *const *headers; /* NULL-terminated "Name: value" lines, or NULL */
	const char *body;           /* sent as is; NULL: none */
	size_t body_len;
	long timeout_ms;         /* whole request; 0: none */
	long connect_timeout_ms; /* 0: curl's default (300 s) */
	long low_speed_time_s;   /* abort when under 1 byte/s for this long; 0: off */
	size_t max_body;         /* the answer's body cap, bytes; 0: 1 MiB (at most 64 MiB) */
	int want_ratelimit;      /* read the answer's x-ratelimit-* headers (LLM providers) */
};

/* An LLM provider's x-ratelimit-* headers, when asked for (-1 / "": absent). */
struct httpc_ratelimit {
	long remaining_requests, remaining_tokens;
	char reset_requests[24], reset_tokens[24]; /* as sent: "6m0s", "1.5s", "20ms" */
};

struct httpc_resp {
	int status;       /* HTTP status, 0 when no response */
	int err_kind;     /* enum httpc_err */
	const char *err;  /* "" when HTTPC_OK; never contains the URL */
	const char *body; /* valid only during the callback; NUL-terminated */
	size_t body_len;
	double total_s;            /* time the transfer took */
	long retry_after_s;        /* from a Retry-After header (seconds or date), -1: absent */
	int too_large;             /* HTTPC_NETWORK because the body passed req.max_body */
	struct httpc_ratelimit rl; /* with req.want_ratelimit and an answer */
};

/* Called once per accepted request, never from inside httpc_request. May call
 * httpc_request and httpc_free. */
typedef void (*httpc_cb)(const struct httpc_resp *resp, void *arg);

/* A client on loop. NULL with the reason in err when curl cannot be set up. The
 * caller releases it with httpc_free. */
struct httpc *httpc_new(uv_loop_t *loop, char *err, size_t errlen) __attribute__((warn_unused_result));

/* Connections per host (0: no limit). Takes effect for connections opened from
 * now on. Sets the connections kept (below) to 4 x n, at least 64. */
void httpc_set_max_host_connections(struct httpc *h, long n);

/* Connections kept open, all hosts together (at least 64). Past it, each
 * request that ends closes a connection: keep at least as many as there are
 * requests in flight, or each one opens a connection of its own. */
void httpc_set_max_connections(struct httpc *h, long n);

/* curl's receive buffer per request, 1 KB to 64 KB (default 4 KB); a body
 * larger than it just takes more reads. For requests opened from now on. */
void httpc_set_buffer_size(struct httpc *h, long bytes);

/* Start a request. Everything in req is copied (the caller may free it on
 * return). Returns 0 and calls cb later exactly once; -1 without calling cb when
 * the request is malformed, memory is short, or h is closing. Response bodies
 * over req.max_body (1 MiB when 0) fail with HTTPC_NETWORK "response too large"
 * and resp.too_large set. */
int httpc_request(struct httpc *h, const struct httpc_req *req, httpc_cb cb, void *arg)
	__attribute__((warn_unused_result));

/* Requests started whose callback has not run yet. */
size_t httpc_inflight(const struct httpc *h);

/* New connections opened so far (CURLINFO_NUM_CONNECTS summed over finished
 * requests): a measure of connection reuse. */
long httpc_connects(const struct httpc *h);

/* Abort every request in flight (each callback once, HTTPC_ABORTED, before
 * httpc_free returns; from inside a callback, the ones still to come), close
 * the connections and handles. The memory goes in the last close callback, so
 * the loop must run once more; after that nothing of h is left on it. Safe on
 * NULL and from inside an httpc callback. */
void httpc_free(struct httpc *h);

#endif
