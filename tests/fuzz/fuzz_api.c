/* fuzz_api: the admin API's request handling (api/app.c, call.c, access.c,
 * res_*.c) in-process, without sockets or services (issue 14, issue 19).
 *
 * The input is an HTTP request as text:
 *
 *   METHOD /path?query
 *   Header: value
 *   ...
 *   <empty line>
 *   body
 *
 * It becomes a struct req as api/srv.c would make it from libmicrohttpd: the
 * path and each query argument %-decoded by MHD_http_unescape (the library's
 * own), the Cookie header split into cookies. This file stands in for srv.c
 * (it defines every req_* and srv_* the API calls) and app_handle runs on it.
 *
 * Where a handler would leave the process (a PostgreSQL query, a Redis command,
 * an HTTP call, a password hash on the thread pool) the link wraps the call
 * (-Wl,--wrap, see the Makefile): the wrapper notes that the request got that
 * far and fails, as a lost connection does, so the handler answers at once.
 * access_resolve is wrapped too: a pseudo-header "X-Fuzz-Role: admin [session]"
 * makes the caller that role (a key, or a session whose CSRF token is
 * "fuzz-csrf"); without it the real access_resolve reads the cookie or the key.
 *
 * What every answer must be (docs/API.md "Errors"):
 *   - exactly one answer per request, and nothing left allocated (LeakSanitizer);
 *   - a JSON answer is valid UTF-8 and valid JSON; header values hold no CR, LF
 *     or invalid UTF-8;
 *   - a refusal (4xx) is a problem document: application/problem+json with
 *     title, detail and a status equal to the answer's; the refusal of a field
 *     (422 Invalid value, Wrong type, ...; 400 Bad query argument) names it;
 *   - a 5xx only once the request reached a service (which failed here);
 *   - what a query would send, PostgreSQL would take: UTF-8 text, and each
 *     parameter the statement casts ($1::bigint, ::int, ::boolean, ::jsonb,
 *     ::timestamptz) a value of that type, else the caller's mistake is a 500;
 *   - no secret of the request (a password, a token, a key, a session id) in
 *     the answer or its headers. */
#include "api/access.h"
#include "api/app.h"
#include "api/call.h"
#include "api/srv.h"
#include "api/stream.h"
#include "common/cfg.h"
#include "common/net/httpc.h"
#include "common/net/pgc.h"
#include "common/net/pgpool.h"
#include "common/net/ra.h"
#include "common/shm.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <strings.h>
#include <time.h>

struct kv {
	char *k, *v;
	struct kv *next;
};

struct req {
	char method[16];
	char *path;
	char addr[64];
	char *body;
	size_t len;
	const char *raw; /* the input */
	size_t raw_len;
	struct kv *args, *headers, *cookies, *out;
	int answers;
	unsigned status;
	char *ctype;
	char *text;
	size_t text_len;
	void *data;
	void (*data_free)(void *);
	void (*stream_done)(void *);
	void *stream_arg;
};

static int reached; /* a wrapped service was called for this request */

/* --- the services, wrapped: the request stops where it would leave --- */

struct pgc *__wrap_pgpool_pick(struct pgpool *p);
int __wrap_pgpool_up(const struct pgpool *p);
int __wrap_pgc_query(struct pgc *c, const char *sql, int n, const char *const *params, pgc_cb cb,
		     void *arg);
int __wrap_ra_up(const struct ra *r);
int __wrap_ra_cmd(struct ra *r, ra_cb cb, void *arg, long timeout_ms, int argc, const char **argv);
int __wrap_ra_eval(struct ra *r, enum rq_script s, const struct rq_keys *k, int argc,
		   const char **argv, ra_cb cb, void *arg);
int __wrap_ra_eval_src(struct ra *r, const char *src, int nkeys, const char **keys, int argc,
		       const char **argv, ra_cb cb, void *arg);
int __wrap_httpc_request(struct httpc *h, const struct httpc_req *rq, httpc_cb cb, void *arg);
int __wrap_uv_queue_work(uv_loop_t *loop, uv_work_t *w, uv_work_cb work, uv_after_work_cb after);
void __wrap_access_resolve(struct call *c, void (*next)(struct call *));
void __real_access_resolve(struct call *c, void (*next)(struct call *));

struct pgc *__wrap_pgpool_pick(struct pgpool *p)
{
	(void)p;
	return NULL;
}

int __wrap_pgpool_up(const struct pgpool *p)
{
	(void)p;
	return 1;
}

static int int_ok(const char *v, long long lo, long long hi)
{
	char *end;
	long long n;

	errno = 0;
	n = strtoll(v, &end, 10);
	return *v && !*end && !errno && n >= lo && n <= hi;
}

static int bool_ok(const char *v)
{
	static const char *const w[] = { "true", "false", "t", "f", "yes", "no",
					 "on",   "off",   "1", "0", NULL };

	for (int i = 0; w[i]; i++)
		if (!strcasecmp(v, w[i]))
			return 1;
	return 0;
}

/* A date as PostgreSQL reads it (YYYY-MM-DD, a real day), then a time in range. */
static int time_ok(const char *v)
{
	struct tm tm = { 0 }, back;
	int y, m, d, h = 0, mi = 0, sec = 0, n = 0;
	time_t t;

	if (sscanf(v, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10)
		return 0;
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	back = tm;
	t = timegm(&back);
	gmtime_r(&t, &back);
	if (y < 1 || back.tm_year != tm.tm_year || back.tm_mon != tm.tm_mon || back.tm_mday != tm.tm_mday)
		return 0;
	if (v[10] && sscanf(v + 11, "%2d:%2d:%2d", &h, &mi, &sec) < 2)
		return 0;
	return h < 24 && mi < 60 && sec < 60;
}

/* Each parameter as the statement casts it ("$2::bigint"): a value PostgreSQL
 * would refuse is a caller's mistake the handler should have answered 4xx (it
 * would be a 500, "the database refused the request"). */
static void check_param(const char *sql, int i, const char *v)
{
	char pat[16];
	json_t *j;

	/* Text: well-formed UTF-8 (else 22021). */
	FUZZ_ASSERT(utf8_valid(v, strlen(v)));
	snprintf(pat, sizeof pat, "$%d::", i + 1);
	for (const char *p = strstr(sql, pat); p; p = strstr(p + 1, pat)) {
		const char *t = p + strlen(pat);

		if (!strncmp(t, "bigint", 6))
			FUZZ_ASSERT(int_ok(v, INT64_MIN, INT64_MAX));
		else if (!strncmp(t, "int", 3))
			FUZZ_ASSERT(int_ok(v, INT32_MIN, INT32_MAX));
		else if (!strncmp(t, "boolean", 7))
			FUZZ_ASSERT(bool_ok(v));
		else if (!strncmp(t, "timestamptz", 11))
			FUZZ_ASSERT(time_ok(v));
		else if (!strncmp(t, "jsonb", 5)) {
			FUZZ_ASSERT((j = json_loads(v, JSON_DECODE_ANY, NULL)));
			json_decref(j);
		}
	}
}

int __wrap_pgc_query(struct pgc *c, const char *sql, int n, const char *const *params, pgc_cb cb,
		     void *arg)
{
	(void)c;
	(void)cb;
	(void)arg;
	for (int i = 0; i < n; i++)
		if (params[i])
			check_param(sql, i, params[i]);
	reached = 1;
	return -1;
}

int __wrap_ra_up(const struct ra *r)
{
	(void)r;
	return 1;
}

int __wrap_ra_cmd(struct ra *r, ra_cb cb, void *arg, long timeout_ms, int argc, const char **argv)
{
	(void)r;
	(void)cb;
	(void)arg;
	(void)timeout_ms;
	(void)argc;
	(void)argv;
	reached = 1;
	return -1;
}

int __wrap_ra_eval(struct ra *r, enum rq_script s, const struct rq_keys *k, int argc,
		   const char **argv, ra_cb cb, void *arg)
{
	(void)r;
	(void)s;
	(void)k;
	(void)argc;
	(void)argv;
	(void)cb;
	(void)arg;
	reached = 1;
	return -1;
}

int __wrap_ra_eval_src(struct ra *r, const char *src, int nkeys, const char **keys, int argc,
		       const char **argv, ra_cb cb, void *arg)
{
	(void)r;
	(void)src;
	(void)nkeys;
	(void)keys;
	(void)argc;
	(void)argv;
	(void)cb;
	(void)arg;
	reached = 1;
	return -1;
}

int __wrap_httpc_request(struct httpc *h, const struct httpc_req *rq, httpc_cb cb, void *arg)
{
	(void)h;
	(void)rq;
	(void)cb;
	(void)arg;
	reached = 1;
	return -1;
}

int __wrap_uv_queue_work(uv_loop_t *loop, uv_work_t *w, uv_work_cb work, uv_after_work_cb after)
{
	(void)loop;
	(void)w;
	(void)work;
	(void)after;
	reached = 1;
	return UV_ENOMEM;
}

void __wrap_access_resolve(struct call *c, void (*next)(struct call *))
{
	const char *as = req_header(c->rq, "X-Fuzz-Role");
	char role[16] = "";

	if (!as) {
		__real_access_resolve(c, next);
		return;
	}
	sscanf(as, "%15s", role);
	c->role = role_parse(role);
	c->session = strstr(as, "session") != NULL;
	snprintf(c->actor, sizeof c->actor, "%s:fuzz", c->session ? "user" : "key");
	snprintf(c->csrf, sizeof c->csrf, "%s", c->session ? "fuzz-csrf" : "");
	c->user_id = c->session ? 1 : 0;
	next(c);
}

/* --- srv.c's side, on a request made from the input --- */

static const char *kv_get(const struct kv *l, const char *k)
{
	for (; l; l = l->next)
		if (!strcasecmp(l->k, k))
			return l->v;
	return NULL;
}

static const char *kv_get_exact(const struct kv *l, const char *k)
{
	for (; l; l = l->next)
		if (!strcmp(l->k, k))
			return l->v;
	return NULL;
}

static void kv_add(struct kv **l, const char *k, size_t kl, const char *v, size_t vl)
{
	struct kv *e = calloc(1, sizeof *e), **tail;

	if (!e || !(e->k = strndup(k, kl)) || !(e->v = strndup(v, vl)))
		abort();
	for (tail = l; *tail; tail = &(*tail)->next)
		;
	*tail = e;
}

static void kv_free(struct kv *l)
{
	while (l) {
		struct kv *n = l->next;
		free(l->k);
		free(l->v);
		free(l);
		l = n;
	}
}

const char *req_method(const struct req *rq)
{
	return rq->method;
}

const char *req_path(const struct req *rq)
{
	return rq->path;
}

/* MHD's lookups: header names without case, arguments and cookies with it. */
const char *req_arg(const struct req *rq, const char *key)
{
	return kv_get_exact(rq->args, key);
}

const char *req_bad_arg(const struct req *rq)
{
	for (const struct kv *a = rq->args; a; a = a->next)
		if (!utf8_valid(a->k, strlen(a->k)) || !utf8_valid(a->v, strlen(a->v)))
			return a->k;
	return NULL;
}

const char *req_header(const struct req *rq, const char *name)
{
	return kv_get(rq->headers, name);
}

const char *req_cookie(const struct req *rq, const char *name)
{
	return kv_get_exact(rq->cookies, name);
}

const char *req_addr(const struct req *rq)
{
	return rq->addr;
}

const char *req_body(const struct req *rq, size_t *len)
{
	*len = rq->len;
	return rq->body;
}

long long req_age_us(const struct req *rq)
{
	(void)rq;
	return 0;
}

void req_add_header(struct req *rq, const char *name, const char *value)
{
	FUZZ_ASSERT(!rq->answers); /* srv.c sends the headers given before the answer */
	kv_add(&rq->out, name, strlen(name), value, strlen(value));
}

void srv_reply(struct req *rq, unsigned status, const char *ctype, const char *body, size_t len)
{
	FUZZ_ASSERT(rq->answers++ == 0);
	rq->status = status;
	rq->ctype = ctype ? strdup(ctype) : NULL;
	if (!(rq->text = malloc(len + 1)))
		abort();
	memcpy(rq->text, body, len);
	rq->text[len] = '\0';
	rq->text_len = len;
}

void srv_stream(struct req *rq, const char *ctype, srv_pull pull, void (*done)(void *), void *arg)
{
	(void)pull;
	FUZZ_ASSERT(rq->answers++ == 0);
	rq->status = 200;
	rq->ctype = strdup(ctype);
	rq->stream_done = done;
	rq->stream_arg = arg;
}

void srv_stream_wake(struct srv *s, struct req *rq)
{
	(void)s;
	(void)rq;
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
	(void)rq;
	return NULL;
}

/* --- the input as a request --- */

static void parse_args(struct req *rq, char *q)
{
	/* MHD: '&' separates, the first '=' splits, both sides %-decoded. */
	while (q && *q) {
		char *amp = strchr(q, '&'), *eq;

		if (amp)
			*amp = '\0';
		if ((eq = strchr(q, '=')))
			*eq = '\0';
		MHD_http_unescape(q);
		if (eq)
			MHD_http_unescape(eq + 1);
		if (*q)
			kv_add(&rq->args, q, strlen(q), eq ? eq + 1 : "", eq ? strlen(eq + 1) : 0);
		q = amp ? amp + 1 : NULL;
	}
}

static void parse_cookies(struct req *rq, const char *v)
{
	while (*v) {
		const char *semi = strchr(v, ';'), *end = semi ? semi : v + strlen(v), *eq;

		while (*v == ' ')
			v++;
		eq = memchr(v, '=', (size_t)(end - v));
		if (eq && eq > v)
			kv_add(&rq->cookies, v, (size_t)(eq - v), eq + 1, (size_t)(end - eq - 1));
		v = semi ? semi + 1 : end;
	}
}

static struct req *make_req(const uint8_t *data, size_t size)
{
	struct req *rq = calloc(1, sizeof *rq);
	const char *s = (const char *)data, *end = s + size, *nl, *sp;
	char *target, *q;
	const char *cookie;

	if (!rq)
		abort();
	snprintf(rq->addr, sizeof rq->addr, "192.0.2.1");
	rq->raw = (const char *)data;
	rq->raw_len = size;
	nl = memchr(s, '\n', size);
	nl = nl ? nl : end;
	sp = memchr(s, ' ', (size_t)(nl - s));
	if (!sp) {
		free(rq);
		return NULL;
	}
	snprintf(rq->method, sizeof rq->method, "%.*s", (int)(sp - s), s);
	if (!(target = strndup(sp + 1, (size_t)(nl - sp - 1))))
		abort();
	if ((q = strchr(target, '?')))
		*q++ = '\0';
	MHD_http_unescape(target);
	parse_args(rq, q);
	rq->path = target;
	/* Headers: "Name: value" lines up to an empty one (a CR before LF dropped;
	 * MHD takes no header without a colon). */
	s = nl < end ? nl + 1 : end;
	while (s < end) {
		const char *e = memchr(s, '\n', (size_t)(end - s)), *line = s, *colon;
		size_t l;

		e = e ? e : end;
		l = (size_t)(e - line);
		s = e < end ? e + 1 : end;
		if (l && line[l - 1] == '\r')
			l--;
		if (!l)
			break;
		if ((colon = memchr(line, ':', l)) && colon > line) {
			const char *v = colon + 1;
			while (v < line + l && (*v == ' ' || *v == '\t'))
				v++;
			kv_add(&rq->headers, line, (size_t)(colon - line), v, (size_t)(line + l - v));
		}
	}
	if ((cookie = kv_get(rq->headers, "Cookie")))
		parse_cookies(rq, cookie);
	rq->len = (size_t)(end - s);
	if (!(rq->body = malloc(rq->len + 1)))
		abort();
	memcpy(rq->body, s, rq->len);
	rq->body[rq->len] = '\0';
	return rq;
}

static void free_req(struct req *rq)
{
	if (rq->stream_done)
		rq->stream_done(rq->stream_arg);
	if (rq->data_free)
		rq->data_free(rq->data);
	kv_free(rq->args);
	kv_free(rq->headers);
	kv_free(rq->cookies);
	kv_free(rq->out);
	free(rq->path);
	free(rq->body);
	free(rq->ctype);
	free(rq->text);
	free(rq);
}

/* --- the answer --- */

static void fail(const struct req *rq, const char *why)
{
	fprintf(stderr, "invariant broken: %s\n%s %s -> %u %s\n%.*s\n", why, rq->method, rq->path,
		rq->status, rq->ctype ? rq->ctype : "(no type)", (int)rq->text_len, rq->text);
	abort();
}

/* The refusals of one field (a 422 may also be about the whole body: "Nothing
 * to change", "One change at a time"). */
static int names_field(const char *title)
{
	static const char *const t[] = { "Invalid value", "Wrong type",         "Missing field",
					 "Unknown field", "Bad query argument", NULL };

	for (int i = 0; t[i]; i++)
		if (!strcmp(title, t[i]))
			return 1;
	return 0;
}

/* A secret of the request (a body's password or token, the key after Bearer,
 * the session cookie) is never in the answer: not in an error's detail, not in
 * a header. Short ones are skipped ("x" is in every answer); one the answer
 * still holds when the request carries another secret in its place is the
 * answer's own text ("application/json"), or the request says it elsewhere. */
static struct req *make_req(const uint8_t *data, size_t size);
static void free_req(struct req *rq);
static struct app *app;

static int holds(const struct req *rq, const char *secret)
{
	if (rq->text && strstr(rq->text, secret)) /* a stream has no text */
		return 1;
	for (const struct kv *h = rq->out; h; h = h->next)
		if (strstr(h->v, secret))
			return 1;
	return 0;
}

static void check_secret(const struct req *rq, const char *secret)
{
	size_t n = secret ? strlen(secret) : 0;
	char *other, *p;
	struct req *again;
	int was = reached, still;

	const char *first;

	if (n < 12 || !holds(rq, secret))
		return;
	first = memmem(rq->raw, rq->raw_len, secret, n);
	if (first && memmem(first + 1, rq->raw_len - (size_t)(first + 1 - rq->raw), secret, n))
		return;
	if (!(other = malloc(rq->raw_len)))
		abort();
	memcpy(other, rq->raw, rq->raw_len);
	for (p = other; (p = memmem(p, rq->raw_len - (size_t)(p - other), secret, n)); p += n)
		memset(p, secret[0] == 'q' ? 'z' : 'q', n);
	again = make_req((const uint8_t *)other, rq->raw_len);
	app_handle(again, app);
	still = again->answers && holds(again, secret);
	free_req(again);
	free(other);
	reached = was;
	if (!still)
		fail(rq, "a secret of the request in the answer");
}

static void check_secrets(const struct req *rq)
{
	const char *auth = kv_get(rq->headers, "Authorization");
	json_t *body = json_loadb(rq->body, rq->len, 0, NULL);

	if (auth && !strncasecmp(auth, "Bearer ", 7))
		check_secret(rq, auth + 7);
	check_secret(rq, kv_get_exact(rq->cookies, ACCESS_COOKIE));
	check_secret(rq, json_string_value(json_object_get(body, "password")));
	check_secret(rq, json_string_value(json_object_get(body, "token")));
	json_decref(body);
}

static void check_answer(const struct req *rq)
{
	int json = rq->ctype && (!strcmp(rq->ctype, "application/json") ||
				 !strcmp(rq->ctype, "application/problem+json"));
	json_t *doc = NULL, *st, *field;
	json_error_t e;

	if (rq->answers != 1)
		fail(rq, "not answered");
	for (const struct kv *h = rq->out; h; h = h->next)
		if (!utf8_valid(h->v, strlen(h->v)) || strpbrk(h->v, "\r\n") ||
		    !utf8_valid(h->k, strlen(h->k)) || strpbrk(h->k, "\r\n: "))
			fail(rq, "a header that is not one line of UTF-8");
	if (json) {
		if (!utf8_valid(rq->text, rq->text_len))
			fail(rq, "an answer that is not UTF-8");
		if (!(doc = json_loadb(rq->text, rq->text_len, 0, &e)))
			fail(rq, "an answer that is not JSON");
	}
	if (rq->status >= 500 && !reached)
		fail(rq, "a 5xx from a request that reached no service");
	if (rq->status >= 400) {
		if (!json || strcmp(rq->ctype, "application/problem+json"))
			fail(rq, "a refusal that is no problem document");
		st = json_object_get(doc, "status");
		if (!json_is_object(doc) || !json_is_integer(st) ||
		    json_integer_value(st) != (json_int_t)rq->status ||
		    !json_is_string(json_object_get(doc, "title")) ||
		    !json_is_string(json_object_get(doc, "detail")) ||
		    !json_is_string(json_object_get(doc, "type")))
			fail(rq, "a problem without type, title, detail or its status");
		field = json_object_get(doc, "field");
		/* "" is a name: {"": 1} has a field of that name. */
		if (field && !json_is_string(field))
			fail(rq, "a problem's field that is no name");
		if (!field && names_field(json_string_value(json_object_get(doc, "title"))))
			fail(rq, "a refusal of a field that names no field");
	}
	json_decref(doc);
	check_secrets(rq);
}

/* --- the process: one app, as piyasa-api has --- */

static struct cfg cfg;
static uv_loop_t loop; /* never run: the live stream's timers wait on it */
static struct apictx ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct req *rq;
	char err[256];

	if (!app) {
		cfg_defaults(&cfg);
		/* The limits would soon refuse everything the fuzzer sends from one address. */
		cfg.api_rate_per_minute = cfg.api_rate_burst = 1000000000;
		cfg.api_key_rate_per_minute = cfg.api_key_rate_burst = 1000000000;
		cfg.api_login_per_minute = 1000000000;
		if (uv_loop_init(&loop) < 0)
			abort();
		ctx.loop = &loop;
		ctx.cfg = &cfg;
		/* Under a supervisor: the shared segment, the API's slot in it. */
		if (!(ctx.shm = shm_create(SHM_NSLOTS, err, sizeof err)) ||
		    !(ctx.slot = shm_slot(ctx.shm, SHM_API_SLOT)))
			abort();
		ctx.have_token_key = 1;
		if (!(ctx.hub = hub_new(&ctx)) || !(app = app_new(&ctx)))
			abort();
	}
	if (!(rq = make_req(data, size)))
		return 0;
	reached = 0;
	app_handle(rq, app);
	if (getenv("FUZZ_API_SHOW")) /* to read what the seeds get */
		fprintf(stderr, "%s %s -> %u%s %.*s\n", rq->method, rq->path, rq->status,
			reached ? " (stopped at a service)" : "", (int)rq->text_len, rq->text);
	check_answer(rq);
	free_req(rq);
	FUZZ_ASSERT(app_inflight(app) == 0);
	return 0;
}
