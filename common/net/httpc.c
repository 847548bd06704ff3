/* httpc: see httpc.h.
 *
 * The classic curl-multi-on-libuv wiring: curl tells us which sockets to watch
 * (on_curl_socket: one uv_poll_t per socket, found again through
 * curl_multi_assign) and when to wake it (on_curl_timer: one uv_timer_t); we
 * call curl_multi_socket_action on those events and then collect finished
 * transfers with curl_multi_info_read.
 *
 * A transfer (struct xfer) holds its easy handle, the response body and the
 * error buffer; finished ones go back to a small pool so their easy handles are
 * reused. The connection cache lives in the multi handle, so connections are
 * reused whatever happens to the easy handles.
 *
 * User callbacks may call httpc_free. The multi handle cannot be cleaned up
 * while we are inside curl_multi_info_read's loop, so httpc_free aborts the
 * transfers at once but leaves the teardown to the outermost dispatch (depth). */
#include "common/net/httpc.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BODY_MAX (1 << 20)       /* a request's default cap */
#define BODY_MAX_MOST (64 << 20) /* the most a caller may ask for */
#define POOL_MAX 64
#define DEFAULT_HOST_CONNS 16
#define CACHE_MIN 64 /* connections kept, all hosts together */

/* A socket curl asked us to watch. */
struct sock {
	uv_poll_t poll;
	struct httpc *h;
	curl_socket_t fd;
	struct sock *prev, *next;
};

struct xfer {
	struct xfer *prev, *next; /* active list, or the pool (next only) */
	struct httpc *h;
	CURL *easy;
	struct curl_slist *headers;
	httpc_cb cb;
	void *arg;
	char *body;
	size_t len, cap;
	size_t max; /* the body's cap, bytes */
	int too_large;
	int want_rl;
	char errbuf[CURL_ERROR_SIZE];
};

struct httpc {
	uv_loop_t *loop;
	uv_timer_t timer;
	CURLM *multi;
	struct xfer *active;
	struct xfer *pool;
	int npool;
	struct sock *socks;
	size_t ninflight;
	long connects;
	int nhandles;  /* libuv handles not closed yet: memory goes at 0 */
	long bufsize;  /* curl's receive buffer per request */
	int no_capath; /* curl has a CA bundle: verify with it alone (set_common) */
	int closing;
	int depth; /* > 0 while dispatching curl events */
};

static void on_poll(uv_poll_t *p, int status, int events);
static void on_timeout(uv_timer_t *t);

/* --- lists and memory ------------------------------------------------------ */

static void xfer_link(struct httpc *h, struct xfer *x)
{
	x->prev = NULL;
	x->next = h->active;
	if (h->active)
		h->active->prev = x;
	h->active = x;
}

static void xfer_unlink(struct httpc *h, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		h->active = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

static struct xfer *xfer_get(struct httpc *h)
{
	struct xfer *x = h->pool;

	if (x) {
		h->pool = x->next;
		h->npool--;
		return x;
	}
	if (!(x = calloc(1, sizeof *x)))
		return NULL;
	if (!(x->easy = curl_easy_init())) {
		free(x);
		return NULL;
	}
	x->h = h;
	return x;
}

/* Back to the pool with a clean easy handle, or gone when the pool is full or h
 * is closing. */
static void xfer_put(struct httpc *h, struct xfer *x)
{
	curl_slist_free_all(x->headers);
	free(x->body);
	x->headers = NULL;
	x->body = NULL;
	x->len = x->cap = 0;
	x->too_large = 0;
	x->errbuf[0] = '\0';
	if (h->closing || h->npool >= POOL_MAX) {
		curl_easy_cleanup(x->easy);
		free(x);
		return;
	}
	curl_easy_reset(x->easy);
	x->next = h->pool;
	h->pool = x;
	h->npool++;
}

static void free_httpc(struct httpc *h)
{
	free(h);
}

/* --- sockets and the timer ------------------------------------------------- */

static void on_sock_close(uv_handle_t *hd)
{
	struct sock *s = hd->data;
	struct httpc *h = s->h;

	free(s);
	if (--h->nhandles == 0 && h->closing)
		free_httpc(h);
}

static void on_timer_close(uv_handle_t *hd)
{
	struct httpc *h = hd->data;

	if (--h->nhandles == 0)
		free_httpc(h);
}

static struct sock *sock_open(struct httpc *h, curl_socket_t fd)
{
	struct sock *s = calloc(1, sizeof *s);

	if (!s)
		return NULL;
	if (uv_poll_init_socket(h->loop, &s->poll, fd) < 0) {
		free(s);
		return NULL;
	}
	s->poll.data = s;
	s->h = h;
	s->fd = fd;
	s->next = h->socks;
	if (h->socks)
		h->socks->prev = s;
	h->socks = s;
	h->nhandles++;
	curl_multi_assign(h->multi, fd, s);
	return s;
}

/* Stop watching before curl closes the socket: the fd number may come back
 * for another socket at once. */
static void sock_close(struct httpc *h, struct sock *s)
{
	if (h->multi)
		curl_multi_assign(h->multi, s->fd, NULL);
	if (s->prev)
		s->prev->next = s->next;
	else
		h->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_close((uv_handle_t *)&s->poll, on_sock_close);
}

static int on_curl_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct httpc *h = userp;
	struct sock *s = socketp;
	int ev = 0;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (s)
			sock_close(h, s);
		return 0;
	}
	if (!s && !(s = sock_open(h, fd)))
		return -1; /* curl fails the transfer */
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		ev |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		ev |= UV_WRITABLE;
	return uv_poll_start(&s->poll, ev, on_poll) < 0 ? -1 : 0;
}

static int on_curl_timer(CURLM *m, long ms, void *userp)
{
	struct httpc *h = userp;

	(void)m;
	if (ms < 0)
		uv_timer_stop(&h->timer);
	else
		uv_timer_start(&h->timer, on_timeout, (uint64_t)ms, 0);
	return 0;
}

/* --- responses ------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	if (x->len + len > x->max) {
		x->too_large = 1;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	if (x->len + len + 1 > x->cap) {
		size_t cap = x->cap ? x->cap : 4096;
		char *b;

		while (cap < x->len + len + 1)
			cap *= 2;
		if (!(b = realloc(x->body, cap)))
			return 0;
		x->body = b;
		x->cap = cap;
	}
	memcpy(x->body + x->len, p, len);
	x->len += len;
	x->body[x->len] = '\0';
	return len;
}

/* Nothing of the request went out: no protocol exchange began. */
static int never_sent(CURL *e)
{
	curl_off_t pre = 0;
	long reqsize = 0;

	curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
	curl_easy_getinfo(e, CURLINFO_REQUEST_SIZE, &reqsize);
	return pre == 0 && reqsize == 0;
}

static int classify(struct xfer *x, CURLcode code)
{
	if (code == CURLE_OK)
		return HTTPC_OK;
	if (x->too_large || code == CURLE_FILESIZE_EXCEEDED)
		return HTTPC_NETWORK;
	switch (code) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT: return HTTPC_CONNECT;
	case CURLE_OPERATION_TIMEDOUT: return never_sent(x->easy) ? HTTPC_CONNECT : HTTPC_TIMEOUT;
	default: return HTTPC_NETWORK;
	}
}

/* 1 when text holds a piece (6+ characters) of the URL's path or query: a
 * bot token, say. curl's messages name hosts and ports, not paths, but this
 * is the one place a secret could leak from. */
static int holds_url_part(const char *text, const char *url)
{
	const char *p = url ? strstr(url, "://") : NULL;
	size_t n;

	if (!p || !(p = strchr(p + 3, '/')))
		return 0;
	while (*p) {
		p += strspn(p, "/?&=#");
		n = strcspn(p, "/?&=#");
		if (n >= 6 && memmem(text, strlen(text), p, n))
			return 1;
		p += n;
	}
	return 0;
}

static const char *error_text(struct xfer *x, CURLcode code)
{
	char *url = NULL;

	if (code == CURLE_OK)
		return "";
	if (x->too_large || code == CURLE_FILESIZE_EXCEEDED)
		return "response too large";
	curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
	if (!x->errbuf[0] || !url || holds_url_part(x->errbuf, url))
		return curl_easy_strerror(code);
	return x->errbuf;
}

/* Seconds from Retry-After (curl reads both forms), -1 when there is none. */
static long retry_after(CURL *e)
{
	struct curl_header *hd;
	curl_off_t s = 0;

	if (curl_easy_header(e, "Retry-After", 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
		return -1;
	curl_easy_getinfo(e, CURLINFO_RETRY_AFTER, &s);
	return (long)s;
}

static void header_text(CURL *e, const char *name, char *out, size_t n)
{
	struct curl_header *hd;

	out[0] = '\0';
	if (curl_easy_header(e, name, 0, CURLH_HEADER, -1, &hd) == CURLHE_OK && hd->value)
		snprintf(out, n, "%s", hd->value);
}

static long header_long(CURL *e, const char *name)
{
	char v[24], *end;
	long n;

	header_text(e, name, v, sizeof v);
	n = strtol(v, &end, 10);
	return *v && end != v && n >= 0 ? n : -1;
}

static void read_ratelimit(CURL *e, struct httpc_ratelimit *rl)
{
	rl->remaining_requests = header_long(e, "x-ratelimit-remaining-requests");
	rl->remaining_tokens = header_long(e, "x-ratelimit-remaining-tokens");
	header_text(e, "x-ratelimit-reset-requests", rl->reset_requests, sizeof rl->reset_requests);
	header_text(e, "x-ratelimit-reset-tokens", rl->reset_tokens, sizeof rl->reset_tokens);
}

static void fill_resp(struct httpc *h, struct xfer *x, CURLcode code, struct httpc_resp *r)
{
	long status = 0, nconn = 0;
	double total = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &total);
	curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &nconn);
	h->connects += nconn;
	*r = (struct httpc_resp){
		.status = (int)status,
		.err_kind = classify(x, code),
		.err = error_text(x, code),
		.body = x->body ? x->body : "",
		.body_len = x->len,
		.total_s = total,
		.retry_after_s = status ? retry_after(x->easy) : -1,
		.too_large = code != CURLE_OK && (x->too_large || code == CURLE_FILESIZE_EXCEEDED),
		.rl = { -1, -1, "", "" },
	};
	if (x->want_rl && status)
		read_ratelimit(x->easy, &r->rl);
}

static void finish(struct httpc *h, CURL *easy, CURLcode code)
{
	struct xfer *x = NULL;
	struct httpc_resp r;

	curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
	fill_resp(h, x, code, &r);
	curl_multi_remove_handle(h->multi, easy);
	xfer_unlink(h, x);
	h->ninflight--;
	x->cb(&r, x->arg);
	xfer_put(h, x);
}

static void check_done(struct httpc *h)
{
	CURLMsg *m;
	int left;

	while (!h->closing && (m = curl_multi_info_read(h->multi, &left)))
		if (m->msg == CURLMSG_DONE)
			finish(h, m->easy_handle, m->data.result);
}

/* --- teardown -------------------------------------------------------------- */

static void abort_all(struct httpc *h)
{
	static const struct httpc_resp aborted = {
		.err_kind = HTTPC_ABORTED,
		.err = "aborted",
		.body = "",
		.retry_after_s = -1,
		.rl = { -1, -1, "", "" },
	};
	struct xfer *x;

	while ((x = h->active)) {
		xfer_unlink(h, x);
		curl_multi_remove_handle(h->multi, x->easy);
		h->ninflight--;
		x->cb(&aborted, x->arg);
		xfer_put(h, x);
	}
}

/* Close our watchers first, then let curl close its sockets and connections. */
static void teardown(struct httpc *h)
{
	struct xfer *x;

	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, (curl_socket_callback)NULL);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, (curl_multi_timer_callback)NULL);
	while (h->socks)
		sock_close(h, h->socks);
	curl_multi_cleanup(h->multi);
	h->multi = NULL;
	while ((x = h->pool)) {
		h->pool = x->next;
		curl_easy_cleanup(x->easy);
		free(x);
	}
	uv_close((uv_handle_t *)&h->timer, on_timer_close);
}

/* --- events ---------------------------------------------------------------- */

static void act(struct httpc *h, curl_socket_t fd, int flags)
{
	int running;

	h->depth++;
	curl_multi_socket_action(h->multi, fd, flags, &running);
	check_done(h);
	h->depth--;
	if (h->closing && h->depth == 0)
		teardown(h);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct sock *s = p->data;
	int flags = 0;

	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	act(s->h, s->fd, flags);
}

static void on_timeout(uv_timer_t *t)
{
	act(t->data, CURL_SOCKET_TIMEOUT, 0);
}

/* --- requests -------------------------------------------------------------- */

/* Options every request has. */
static int set_common(struct xfer *x, const struct httpc_req *r)
{
	CURL *e = x->easy;
	int bad = 0;

	bad |= curl_easy_setopt(e, CURLOPT_URL, r->url) != CURLE_OK;
	bad |= curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK;
	curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)x);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	/* Our answers are a few KB: curl's 16 KB receive buffer per request in
	 * flight is most of a worker's heap when thousands are (long polls). A
	 * bigger body just takes more reads. */
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, x->h->bufsize);
	/* Over https curl copies each request into an upload buffer kept with the
	 * handle (OpenSSL wants the same pointer when a write is retried): 64 KB
	 * by default, 48 KB more per request in flight than the 16 KB minimum
	 * (9 MB for 200 long polls). A bigger body goes out in 16 KB pieces. */
	curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, 16384L);
	/* Debian's curl verifies with the CA bundle and the hashed directory
	 * /etc/ssl/certs, two forms of the same CAs. With a directory set, curl
	 * does not cache the CAs: every new https connection parses the whole
	 * bundle (about 430 KB at the peak and 16 ms of CPU each; 200 pollers
	 * connecting at once took 85 MB). With the bundle alone, curl keeps one
	 * parsed copy per client for all its connections. */
	if (x->h->no_capath)
		curl_easy_setopt(e, CURLOPT_CAPATH, (char *)NULL);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* Over TLS, wait for a connection that may multiplex (HTTP/2) rather than
	 * open another. Plain http is HTTP/1.1 here: waiting would only hold every
	 * request of a burst behind the first answer (the first jobs took one LLM
	 * latency more). */
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, strncasecmp(r->url, "https:", 6) == 0 ? 1L : 0L);
	x->want_rl = r->want_ratelimit;
	x->max = r->max_body == 0              ? BODY_MAX
		 : r->max_body < BODY_MAX_MOST ? r->max_body
					       : BODY_MAX_MOST;
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, r->timeout_ms > 0 ? r->timeout_ms : 0L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
			 r->connect_timeout_ms > 0 ? r->connect_timeout_ms : 0L);
	if (r->low_speed_time_s > 0) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, r->low_speed_time_s);
	}
	return bad ? -1 : 0;
}

static int set_method(struct xfer *x, const struct httpc_req *r)
{
	const char *m = r->method ? r->method : r->body ? "POST" : "GET";
	CURL *e = x->easy;

	if (r->body || strcmp(m, "POST") == 0) {
		curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
		if (curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, r->body ? r->body : "") != CURLE_OK)
			return -1;
	}
	if (strcmp(m, "HEAD") == 0)
		curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
	else if (strcmp(m, "POST") != 0 && (r->body || strcmp(m, "GET") != 0))
		return curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, m) == CURLE_OK ? 0 : -1;
	return 0;
}

/* The caller's headers, and an empty Expect: so a body goes out at once
 * instead of after a 100-continue round trip. */
static int set_headers(struct xfer *x, const struct httpc_req *r)
{
	struct curl_slist *l;

	for (const char *const *hd = r->headers; hd && *hd; hd++) {
		if (!(l = curl_slist_append(x->headers, *hd)))
			return -1;
		x->headers = l;
	}
	if (!(l = curl_slist_append(x->headers, "Expect:")))
		return -1;
	x->headers = l;
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	return 0;
}

/* --- public ---------------------------------------------------------------- */

struct httpc *httpc_new(uv_loop_t *loop, char *err, size_t errlen)
{
	static int curl_ready;
	struct httpc *h;

	if (!curl_ready && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		return NULL;
	}
	curl_ready = 1;
	if (!(h = calloc(1, sizeof *h)) || !(h->multi = curl_multi_init())) {
		free(h);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->loop = loop;
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
	curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
	curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
	curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	uv_timer_init(loop, &h->timer);
	h->timer.data = h;
	h->nhandles = 1;
	h->bufsize = 4096;
	h->no_capath = curl_version_info(CURLVERSION_NOW)->cainfo != NULL;
	httpc_set_max_host_connections(h, DEFAULT_HOST_CONNS);
	return h;
}

/* The idle-connection cache gets a fixed size too: by default curl sizes it by
 * the transfers in progress, so at the end of a burst it shrinks and closes
 * the connections the next burst would have reused. */
void httpc_set_max_host_connections(struct httpc *h, long n)
{
	curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n > 0 ? n : 0L);
	httpc_set_max_connections(h, n > 0 ? n * 4 : 0);
}

/* curl counts the connections in use too: when a request ends with more open
 * than this, it closes the oldest idle one, which is the one just freed when
 * all the others are busy. */
void httpc_set_max_connections(struct httpc *h, long n)
{
	curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS, n > CACHE_MIN ? n : (long)CACHE_MIN);
}

void httpc_set_buffer_size(struct httpc *h, long bytes)
{
	h->bufsize = bytes < 1024 ? 1024 : bytes > 65536 ? 65536 : bytes;
}

int httpc_request(struct httpc *h, const struct httpc_req *req, httpc_cb cb, void *arg)
{
	struct xfer *x;

	if (!h || h->closing || !req || !req->url || !cb || (req->body_len && !req->body))
		return -1;
	if (!(x = xfer_get(h)))
		return -1;
	if (set_common(x, req) < 0 || set_method(x, req) < 0 || set_headers(x, req) < 0 ||
	    curl_multi_add_handle(h->multi, x->easy) != CURLM_OK) {
		xfer_put(h, x);
		return -1;
	}
	x->cb = cb;
	x->arg = arg;
	xfer_link(h, x);
	h->ninflight++;
	return 0;
}

size_t httpc_inflight(const struct httpc *h)
{
	return h ? h->ninflight : 0;
}

long httpc_connects(const struct httpc *h)
{
	return h ? h->connects : 0;
}

void httpc_free(struct httpc *h)
{
	if (!h || h->closing)
		return;
	h->closing = 1;
	abort_all(h);
	if (h->depth == 0)
		teardown(h);
}
