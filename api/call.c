/* call: see call.h. */
#include "api/call.h"

#include "common/log.h"
#include "common/net/pgpool.h"
#include "common/net/ra.h"
#include "common/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum role role_parse(const char *s)
{
	if (!s)
		return ROLE_NONE;
	if (!strcmp(s, "viewer"))
		return ROLE_VIEWER;
	if (!strcmp(s, "operator"))
		return ROLE_OPERATOR;
	if (!strcmp(s, "admin"))
		return ROLE_ADMIN;
	return ROLE_NONE;
}

const char *role_name(enum role r)
{
	static const char *const n[] = { "none", "viewer", "operator", "admin" };

	return n[r];
}

static void limit_headers(struct call *c)
{
	char v[32];

	if (!c->have_lim)
		return;
	c->have_lim = 0; /* once */
	snprintf(v, sizeof v, "%ld", c->lim.limit);
	req_add_header(c->rq, "X-RateLimit-Limit", v);
	snprintf(v, sizeof v, "%ld", c->lim.remaining);
	req_add_header(c->rq, "X-RateLimit-Remaining", v);
	snprintf(v, sizeof v, "%ld", c->lim.reset_s);
	req_add_header(c->rq, "X-RateLimit-Reset", v);
}

void call_reply(struct call *c, unsigned status, const char *ctype, const void *body, size_t len)
{
	limit_headers(c);
	srv_reply(c->rq, status, ctype, body, len);
}

void call_json(struct call *c, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15)) : NULL;

	json_decref(j);
	if (!text) {
		call_problem(c, 500, "Internal error", NULL, "the answer could not be encoded");
		return;
	}
	limit_headers(c);
	srv_reply(c->rq, status, "application/json", text, strlen(text));
	free(text);
}

/* A copy of s as well-formed UTF-8 (malloc'd; NULL without memory). */
static char *clean_copy(const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = malloc(n);

	if (d)
		utf8_cut(d, n, s);
	return d;
}

void call_problem(struct call *c, unsigned status, const char *title, const char *field,
		  const char *fmt, ...)
{
	static const char internal[] =
		"{\"type\":\"about:blank\",\"title\":\"Internal error\",\"status\":500,"
		"\"detail\":\"the answer could not be encoded\"}";
	char detail[1024], *text, *instance, *fld;
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	/* The detail and the instance echo the path, its arguments, the body's
	 * keys: bytes that are not UTF-8 (%ff in a path) or a character cut by
	 * the buffer would make jansson refuse the whole document. */
	utf8_cut(detail, sizeof detail, detail);
	instance = clean_copy(req_path(c->rq));
	fld = field ? clean_copy(field) : NULL;
	limit_headers(c);
	j = instance && (fld || !field)
		    ? json_pack("{s:s, s:s, s:i, s:s, s:s}", "type", "about:blank", "title", title,
				"status", (int)status, "detail", detail, "instance", instance)
		    : NULL;
	if (j && fld)
		json_object_set_new(j, "field", json_string(fld));
	free(instance);
	free(fld);
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!text) {
		srv_reply(c->rq, 500, "application/problem+json", internal, sizeof internal - 1);
		return;
	}
	srv_reply(c->rq, status, "application/problem+json", text, strlen(text));
	free(text);
}

void call_stream(struct call *c, const char *ctype, srv_pull pull, void (*done)(void *), void *arg)
{
	limit_headers(c);
	req_add_header(c->rq, "X-Accel-Buffering", "no"); /* nginx: pass events at once */
	srv_stream(c->rq, ctype, pull, done, arg);
}

void call_db_error(struct call *c, const char *err)
{
	log_error("api %s %s: database: %s", req_method(c->rq), req_path(c->rq), err);
	if (!strncmp(err, "connection lost", 15) || !strcmp(err, "closing"))
		call_problem(c, 503, "Database unavailable", NULL,
			     "PostgreSQL did not answer; try again");
	else
		call_problem(c, 500, "Internal error", NULL, "the database refused the request");
}

int call_query(struct call *c, const char *sql, int n, const char *const *params, pgc_cb cb)
{
	if (pgc_query(pgpool_pick(c->ctx->pool), sql, n, params, cb, c) < 0) {
		call_problem(c, 503, "Database unavailable", NULL, "PostgreSQL is not connected");
		return -1;
	}
	return 0;
}

static int type_ok(char t, const json_t *v)
{
	switch (t) {
	case 's': return json_is_string(v);
	case 'i': return json_is_integer(v);
	case 'n': return json_is_number(v);
	case 'b': return json_is_boolean(v);
	case 'o': return json_is_object(v);
	case 'a': return json_is_array(v);
	default: return 1;
	}
}

static const char *type_word(char t)
{
	switch (t) {
	case 's': return "a string";
	case 'i': return "an integer";
	case 'n': return "a number";
	case 'b': return "a boolean";
	case 'o': return "an object";
	case 'a': return "an array";
	default: return "a value";
	}
}

/* spec entry "name:t" or "name:t!" into name (without the type) */
static const char *spec_find(const char *const *spec, const char *key, char *type, int *required)
{
	for (; *spec; spec++) {
		const char *colon = strchr(*spec, ':');
		size_t n = colon ? (size_t)(colon - *spec) : strlen(*spec);
		if (strlen(key) == n && !strncmp(*spec, key, n)) {
			*type = colon ? colon[1] : 'j';
			*required = colon && colon[1] && colon[2] == '!';
			return *spec;
		}
	}
	return NULL;
}

int call_fields(struct call *c, const char *const *spec)
{
	const char *key;
	json_t *v;
	char t, name[64];
	int req;

	if (c->body)
		json_object_foreach(c->body, key, v) {
			if (!spec_find(spec, key, &t, &req)) {
				call_problem(c, 422, "Unknown field", key, "%s: no such field", key);
				return -1;
			}
			if (!type_ok(t, v)) {
				call_problem(c, 422, "Wrong type", key, "%s: must be %s", key,
					     type_word(t));
				return -1;
			}
		}
	for (const char *const *s = spec; *s; s++) {
		const char *colon = strchr(*s, ':');
		size_t n = colon ? (size_t)(colon - *s) : strlen(*s);
		if (!colon || colon[1] == '\0' || colon[2] != '!')
			continue;
		snprintf(name, sizeof name, "%.*s", (int)n, *s);
		if (!c->body || !json_object_get(c->body, name)) {
			call_problem(c, 422, "Missing field", name, "%s: required", name);
			return -1;
		}
	}
	return 0;
}

int call_arg_given(struct call *c, const char *name)
{
	const char *v = req_arg(c->rq, name);

	return v && *v;
}

int call_arg_int(struct call *c, const char *name, long long dflt, long long lo, long long hi,
		 long long *out)
{
	const char *v = req_arg(c->rq, name);
	char *end;
	long long n;

	if (!v || !*v) {
		*out = dflt;
		return 0;
	}
	errno = 0;
	n = strtoll(v, &end, 10);
	if (errno || *end || n < lo || n > hi) {
		call_problem(c, 400, "Bad query argument", name,
			     "%s: must be a whole number in %lld..%lld", name, lo, hi);
		return -1;
	}
	*out = n;
	return 0;
}

/* n digits at *s as a number in lo..hi, *s moved past them; -1 when not. */
static int digits(const char **s, int n, int lo, int hi)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*s)++) {
		if (**s < '0' || **s > '9')
			return -1;
		v = v * 10 + (**s - '0');
	}
	return v >= lo && v <= hi ? v : -1;
}

/* The shapes call_arg_time takes, each field in its range (PostgreSQL refuses
 * 2026-02-30 or 25:00 with an error the caller would see as a 500). */
static int time_ok(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d;

	if ((y = digits(&s, 4, 1, 9999)) < 0 || *s++ != '-' || (m = digits(&s, 2, 1, 12)) < 0 ||
	    *s++ != '-' || (d = digits(&s, 2, 1, mdays[m - 1])) < 0)
		return 0;
	if (m == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)))
		return 0;
	if (!*s)
		return 1;
	if ((*s != 'T' && *s != ' ') || (s++, digits(&s, 2, 0, 23)) < 0 || *s++ != ':' ||
	    digits(&s, 2, 0, 59) < 0)
		return 0;
	if (*s == ':') {
		s++;
		if (digits(&s, 2, 0, 59) < 0)
			return 0;
		if (*s == '.') {
			size_t n = strspn(++s, "0123456789");
			if (n < 1 || n > 9)
				return 0;
			s += n;
		}
	}
	if (*s == 'Z')
		return !s[1];
	if (*s == '+' || *s == '-') {
		s++;
		if (digits(&s, 2, 0, 15) < 0)
			return 0;
		if (*s == ':')
			s++;
		return !*s || (digits(&s, 2, 0, 59) >= 0 && !*s);
	}
	return !*s;
}

int call_arg_time(struct call *c, const char *name, const char **out)
{
	const char *v = req_arg(c->rq, name);

	*out = v && *v ? v : NULL;
	if (!*out || time_ok(v))
		return 0;
	call_problem(c, 400, "Bad query argument", name,
		     "%s: an ISO 8601 time, e.g. 2026-12-07T10:00:00Z", name);
	return -1;
}

/* PostgreSQL type oids (pg_type.h) */
#define OID_BOOL 16
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_JSON 114
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700
#define OID_JSONB 3802

static json_t *value(PGresult *res, int row, int col)
{
	const char *v = PQgetvalue(res, row, col);

	if (PQgetisnull(res, row, col))
		return json_null();
	switch (PQftype(res, col)) {
	case OID_BOOL: return json_boolean(*v == 't');
	case OID_INT2:
	case OID_INT4:
	case OID_INT8: return json_integer(strtoll(v, NULL, 10));
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC: return json_real(strtod(v, NULL));
	case OID_JSON:
	case OID_JSONB: {
		json_t *j = json_loads(v, JSON_DECODE_ANY, NULL);
		return j ? j : json_string(v);
	}
	default: return json_string(v);
	}
}

json_t *call_row(PGresult *res, int row)
{
	json_t *o = json_object();

	for (int col = 0; o && col < PQnfields(res); col++)
		json_object_set_new(o, PQfname(res, col), value(res, row, col));
	return o;
}

json_t *call_rows(PGresult *res)
{
	json_t *a = json_array();

	for (int r = 0; a && r < PQntuples(res); r++)
		json_array_append_new(a, call_row(res, r));
	return a;
}

static void on_notice_published(redisReply *r, const char *err, void *arg)
{
	(void)r;
	if (err)
		log_warn("api: a change stored, but its notice failed (%s): the workers see it "
			 "within %s",
			 err, (const char *)arg);
}

void call_bots_changed(struct call *c, const char *ids)
{
	char channel[64];
	const char *argv[3] = { "PUBLISH", channel, ids };

	snprintf(channel, sizeof channel, "%s:bots", c->ctx->cfg->redis_prefix);
	if (!c->ctx->redis ||
	    ra_cmd(c->ctx->redis, on_notice_published, "10 minutes", 2000, 3, argv) < 0)
		on_notice_published(NULL, "Redis is not connected", "10 minutes");
}

void call_chats_changed(struct call *c, const char *chat)
{
	char channel[64], msg[40];
	const char *argv[3] = { "PUBLISH", channel, msg };

	/* The workers' own notice: from no worker (-1), the chat urgent (=). */
	snprintf(channel, sizeof channel, "%s:chats", c->ctx->cfg->redis_prefix);
	snprintf(msg, sizeof msg, "-1 =%.24s", chat);
	if (!c->ctx->redis || ra_cmd(c->ctx->redis, on_notice_published, "30 s", 2000, 3, argv) < 0)
		on_notice_published(NULL, "Redis is not connected", "30 s");
}
