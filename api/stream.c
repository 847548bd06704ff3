/* stream: see stream.h. */
#include "api/stream.h"

#include "common/log.h"
#include "common/net/httpc.h"
#include "common/net/pgpool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STREAM_FLEET_MS 1000
#define STREAM_MAX_BUF (1 << 20) /* a client this far behind is cut; it resumes */
#define STREAM_CATCHUP_MAX 10000

#define MSG_COLS                                                                                      \
	"seq, id, chat_id, bot_id, status, text, telegram_message_id, reply_to_message_id,"           \
	" to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS created_at," \
	" to_char(sent_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"') AS sent_at"

/* A sorted set of message numbers, pruned below the window. */
struct seqset {
	long long *v;
	size_t n, cap;
};

static size_t seqset_pos(const struct seqset *s, long long x)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int seqset_has(const struct seqset *s, long long x)
{
	size_t i = seqset_pos(s, x);

	return i < s->n && s->v[i] == x;
}

/* 1 when added, 0 when already there (or out of memory: then it counts as sent). */
static int seqset_add(struct seqset *s, long long x)
{
	size_t i = seqset_pos(s, x);

	if (i < s->n && s->v[i] == x)
		return 0;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		long long *v = realloc(s->v, cap * sizeof *v);
		if (!v)
			return 1;
		s->v = v;
		s->cap = cap;
	}
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof *s->v);
	s->v[i] = x;
	s->n++;
	return 1;
}

static void seqset_prune(struct seqset *s, long long below)
{
	size_t i = seqset_pos(s, below);

	if (!i)
		return; /* nothing below (and v may still be NULL) */
	memmove(s->v, s->v + i, (s->n - i) * sizeof *s->v);
	s->n -= i;
}

struct sub {
	struct hub *hub;
	struct req *rq;
	struct sub *prev, *next;
	long long chat;
	int has_chat;
	char *buf;
	size_t len, off, cap;
	struct seqset sent;
	int catching_up; /* live events wait in pend until the catch-up is out */
	char *pend;
	size_t pend_len, pend_cap;
	int ended, gone, queries;
};

struct hub {
	struct apictx *ctx;
	struct sub *subs;
	unsigned nsubs;
	uv_timer_t poll, fleet;
	int polling, fleet_busy, ending, closing;
	long long floor; /* rows up to here were there before the first stream */
	long long top;   /* the highest number seen */
	struct seqset seen;
};

static void on_poll_timer(uv_timer_t *t);
static void on_fleet_timer(uv_timer_t *t);

struct hub *hub_new(struct apictx *ctx)
{
	struct hub *h = calloc(1, sizeof *h);

	if (!h)
		return NULL;
	h->ctx = ctx;
	h->floor = h->top = -1;
	uv_timer_init(ctx->loop, &h->poll);
	uv_timer_init(ctx->loop, &h->fleet);
	h->poll.data = h->fleet.data = h;
	return h;
}

unsigned hub_streams(const struct hub *h)
{
	return h ? h->nsubs : 0;
}

/* Both timers closed (libuv runs close callbacks in no promised order). */
static void on_timer_closed(uv_handle_t *t)
{
	struct hub *h = t->data;

	if (--h->closing == 0) {
		free(h->seen.v);
		free(h);
	}
}

void hub_free(struct hub *h)
{
	if (!h)
		return;
	h->closing = 2;
	uv_close((uv_handle_t *)&h->poll, on_timer_closed);
	uv_close((uv_handle_t *)&h->fleet, on_timer_closed);
}

/* --- one stream --- */

static int append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n > *cap) {
		size_t c = (*len + n) * 2;
		char *b = realloc(*buf, c);
		if (!b)
			return -1;
		*buf = b;
		*cap = c;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	return 0;
}

static void sub_push(struct sub *s, const char *text, size_t n)
{
	if (s->ended || s->gone)
		return;
	if (s->len - s->off + n > STREAM_MAX_BUF) {
		/* Too far behind: end it; the client resumes from its Last-Event-ID. */
		s->ended = 1;
	} else if (append(&s->buf, &s->len, &s->cap, text, n) < 0) {
		s->ended = 1;
	}
	srv_stream_wake(req_srv(s->rq), s->rq);
}

static long on_pull(char *buf, size_t max, void *arg)
{
	struct sub *s = arg;
	size_t n = s->len - s->off;

	if (!n) {
		s->len = s->off = 0;
		return s->ended ? -1 : 0;
	}
	if (n > max)
		n = max;
	memcpy(buf, s->buf + s->off, n);
	s->off += n;
	return (long)n;
}

static void sub_free(struct sub *s)
{
	free(s->buf);
	free(s->pend);
	free(s->sent.v);
	free(s);
}

static void hub_stop_timers(struct hub *h)
{
	uv_timer_stop(&h->poll);
	uv_timer_stop(&h->fleet);
}

static void on_done(void *arg)
{
	struct sub *s = arg;
	struct hub *h = s->hub;

	s->gone = 1;
	if (s->prev)
		s->prev->next = s->next;
	else
		h->subs = s->next;
	if (s->next)
		s->next->prev = s->prev;
	h->nsubs--;
	if (!h->nsubs)
		hub_stop_timers(h);
	if (!s->queries)
		sub_free(s);
}

/* "id: N\nevent: message\ndata: {...}\n\n" for row r of res. */
static char *message_event(PGresult *res, int r, long long *seq, long long *chat, size_t *n)
{
	json_t *row = call_row(res, r);
	char *data, *out = NULL;

	*seq = (long long)json_integer_value(json_object_get(row, "seq"));
	*chat = (long long)json_integer_value(json_object_get(row, "chat_id"));
	json_object_del(row, "seq");
	data = json_dumps(row, JSON_COMPACT);
	json_decref(row);
	if (data && asprintf(&out, "id: %lld\nevent: message\ndata: %s\n\n", *seq, data) < 0)
		out = NULL;
	free(data);
	*n = out ? strlen(out) : 0;
	return out;
}

/* Deliver one message event to s unless it filters it out or sent it. */
static void sub_message(struct sub *s, long long seq, long long chat, const char *ev, size_t n)
{
	if (s->has_chat && chat != s->chat)
		return;
	if (s->catching_up) {
		if (!seqset_has(&s->sent, seq) &&
		    append(&s->pend, &s->pend_len, &s->pend_cap, ev, n) < 0)
			s->ended = 1; /* out of memory: end it, the client resumes */
		return;
	}
	if (seqset_add(&s->sent, seq))
		sub_push(s, ev, n);
}

/* --- the hub's poll --- */

static void on_rows(PGresult *res, const char *err, void *arg)
{
	struct hub *h = arg;
	long long low;

	h->polling = 0;
	if (err) {
		log_warn("api stream: %s", err);
		return;
	}
	if (h->floor < 0) { /* the first answer: max(seq), where streams start */
		h->floor = h->top =
			PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		return;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		long long seq, chat;
		size_t n;
		char *ev;

		seq = strtoll(PQgetvalue(res, r, 0), NULL, 10);
		if (seq <= h->floor || !seqset_add(&h->seen, seq))
			continue;
		if (seq > h->top)
			h->top = seq;
		if (!(ev = message_event(res, r, &seq, &chat, &n)))
			continue;
		for (struct sub *s = h->subs; s; s = s->next)
			sub_message(s, seq, chat, ev, n);
		free(ev);
	}
	low = h->top - STREAM_WINDOW;
	seqset_prune(&h->seen, low);
	for (struct sub *s = h->subs; s; s = s->next)
		if (!s->catching_up)
			seqset_prune(&s->sent, low);
}

static void on_poll_timer(uv_timer_t *t)
{
	static const char sql[] = "SELECT " MSG_COLS " FROM messages WHERE seq > $1::bigint"
				  " ORDER BY seq LIMIT 5000";
	struct hub *h = t->data;
	char from[24];
	const char *p[1] = { from };

	if (h->polling || !h->nsubs)
		return;
	if (h->floor < 0) {
		if (pgc_query(pgpool_pick(h->ctx->pool), "SELECT max(seq) FROM messages", 0, NULL,
			      on_rows, h) == 0)
			h->polling = 1;
		return;
	}
	snprintf(from, sizeof from, "%lld",
		 h->top - STREAM_WINDOW > h->floor ? h->top - STREAM_WINDOW : h->floor);
	if (pgc_query(pgpool_pick(h->ctx->pool), sql, 1, p, on_rows, h) == 0)
		h->polling = 1;
}

/* --- the fleet, once a second --- */

static void on_status(const struct httpc_resp *r, void *arg)
{
	struct hub *h = arg;
	json_t *st, *w, *out, *workers = json_array(), *x;
	char *data = NULL, *ev = NULL;
	size_t i;

	h->fleet_busy = 0;
	if (r->err_kind != HTTPC_OK || r->status != 200 ||
	    !(st = json_loadb(r->body, r->body_len, 0, NULL))) {
		json_decref(workers);
		for (struct sub *s = h->subs; s; s = s->next)
			sub_push(s, ": no fleet status\n\n", 19);
		return;
	}
	w = json_object_get(st, "workers");
	json_array_foreach(w, i, x)
		json_array_append_new(workers, json_pack("{s:O?, s:O?, s:O?, s:O?}", "index",
							 json_object_get(x, "index"), "pid",
							 json_object_get(x, "pid"), "state",
							 json_object_get(x, "state"), "restarts",
							 json_object_get(x, "restarts")));
	out = json_pack("{s:O?, s:O?, s:o, s:O?}", "phase", json_object_get(st, "phase"), "count",
			json_object_get(st, "count"), "workers", workers, "queue_depth",
			json_object_get(st, "queue_depth"));
	json_decref(st);
	if (out && (data = json_dumps(out, JSON_COMPACT)) &&
	    asprintf(&ev, "event: fleet\ndata: %s\n\n", data) >= 0)
		for (struct sub *s = h->subs; s; s = s->next)
			if (!s->catching_up)
				sub_push(s, ev, strlen(ev));
	json_decref(out);
	free(data);
	free(ev);
}

static void on_fleet_timer(uv_timer_t *t)
{
	struct hub *h = t->data;
	const struct cfg *cfg = h->ctx->cfg;
	struct httpc_req hr = { 0 };
	char url[160];

	if (h->fleet_busy || !h->nsubs)
		return;
	if (!cfg->http_port) {
		for (struct sub *s = h->subs; s; s = s->next)
			sub_push(s, ": ping\n\n", 8);
		return;
	}
	snprintf(url, sizeof url, "http://%s:%d/status",
		 strcmp(cfg->http_bind, "0.0.0.0") ? cfg->http_bind : "127.0.0.1", cfg->http_port);
	hr.method = "GET";
	hr.url = url;
	hr.timeout_ms = 900;
	hr.connect_timeout_ms = 500;
	if (httpc_request(h->ctx->http, &hr, on_status, h) == 0)
		h->fleet_busy = 1;
}

/* --- catch-up and the handler --- */

static void on_catchup(PGresult *res, const char *err, void *arg)
{
	struct sub *s = arg;

	s->queries--;
	if (s->gone) {
		if (!s->queries)
			sub_free(s);
		return;
	}
	s->catching_up = 0;
	if (err) {
		log_warn("api stream: catch-up: %s", err);
		s->ended = 1; /* the client retries with the same Last-Event-ID */
		sub_push(s, "", 0);
		return;
	}
	for (int r = 0; r < PQntuples(res); r++) {
		long long seq, chat;
		size_t n;
		char *ev = message_event(res, r, &seq, &chat, &n);

		if (ev && seqset_add(&s->sent, seq))
			sub_push(s, ev, n);
		free(ev);
	}
	/* What came live meanwhile: already formatted, deduplicated by number. */
	for (size_t off = 0; off < s->pend_len;) {
		const char *ev = s->pend + off, *end = strstr(ev, "\n\n");
		size_t n = end ? (size_t)(end - ev) + 2 : s->pend_len - off;
		long long seq = strtoll(ev + 4, NULL, 10); /* "id: N" */

		if (seqset_add(&s->sent, seq))
			sub_push(s, ev, n);
		off += n;
	}
	free(s->pend);
	s->pend = NULL;
	s->pend_len = s->pend_cap = 0;
}

void hub_end_all(struct hub *h)
{
	if (!h)
		return;
	h->ending = 1;
	for (struct sub *s = h->subs; s; s = s->next) {
		s->ended = 1;
		srv_stream_wake(req_srv(s->rq), s->rq);
	}
}

void res_stream(struct call *c)
{
	static const char sql[] =
		"SELECT " MSG_COLS " FROM messages WHERE seq > $1::bigint"
		" AND ($2::bigint IS NULL OR chat_id = $2::bigint) ORDER BY seq LIMIT 10000";
	struct hub *h = c->ctx->hub;
	const char *last = req_header(c->rq, "Last-Event-ID");
	long long chat, from = 0;
	char f[24], ch[24];
	const char *p[2] = { f, ch };
	struct sub *s;
	char *end;

	if (call_arg_int(c, "chat", 0, -(1LL << 62), 1LL << 62, &chat) < 0)
		return;
	if (last && *last) {
		from = strtoll(last, &end, 10);
		if (*end || from < 0) {
			call_problem(c, 400, "Bad Last-Event-ID", "Last-Event-ID",
				     "Last-Event-ID: the id of an event of this stream");
			return;
		}
	}
	if (!h || h->ending) {
		call_problem(c, 503, "Shutting down", NULL, "the API is draining; reconnect");
		return;
	}
	if (!(s = calloc(1, sizeof *s))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	s->hub = h;
	s->rq = c->rq;
	s->chat = chat;
	s->has_chat = req_arg(c->rq, "chat") != NULL;
	s->next = h->subs;
	if (h->subs)
		h->subs->prev = s;
	h->subs = s;
	if (!h->nsubs++) {
		uv_timer_start(&h->poll, on_poll_timer, 0, STREAM_POLL_MS);
		uv_timer_start(&h->fleet, on_fleet_timer, 0, STREAM_FLEET_MS);
	}
	append(&s->buf, &s->len, &s->cap, "retry: 1000\n\n", 13);
	if (last && *last) {
		snprintf(f, sizeof f, "%lld", from);
		snprintf(ch, sizeof ch, "%lld", chat);
		if (!s->has_chat)
			p[1] = NULL;
		s->catching_up = 1;
		if (pgc_query(pgpool_pick(c->ctx->pool), sql, 2, p, on_catchup, s) == 0)
			s->queries++;
		else
			s->catching_up = 0, s->ended = 1;
	}
	call_stream(c, "text/event-stream", on_pull, on_done, s);
}
