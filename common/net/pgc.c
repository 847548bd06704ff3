/* pgc: see pgc.h.
 *
 * States: CONNECTING (PQconnectPoll driven by the poll handle, the timer is the
 * deadline), UP (pipeline mode; the timer watches the oldest query), BACKOFF (no
 * connection; the timer starts the next attempt) and CLOSING (pgc_free was
 * called; memory goes in the last close_cb).
 *
 * Queries sent are kept in a ring in the order they went out; libpq answers in
 * the same order, each query with its result, a NULL, then the PGRES_PIPELINE_SYNC
 * of its own Sync. A ring entry stays until its Sync so the ring and libpq's
 * command queue never drift apart. Queries made while connecting wait in a list
 * with their own copies of the SQL and parameters (libpq copies them once sent).
 *
 * Every user callback may re-enter (pgc_query, pgc_free), so after each one the
 * code checks that the connection it was working on is still the current one. */
#include "common/net/pgc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define DEFAULT_TIMEOUT_MS 10000
#define CONNECT_TIMEOUT_MS 10000
#define MAX_PARAMS 65535

enum state { ST_CONNECTING, ST_UP, ST_BACKOFF, ST_CLOSING };

/* A query sent on the current connection, or (cb NULL) the Prepare that
 * precedes the first use of a statement in the same Sync segment. */
struct sent {
	pgc_cb cb;
	void *arg;
	uint64_t sent_ms;
	uint64_t name; /* the statement's name number; 0: unnamed */
	int slot;      /* its slot in the statement cache, -1: none */
	int answered;  /* callback done, its Sync still to come */
};

/* The statement cache: SQL text -> a statement prepared on this connection.
 * Open addressing in a fixed table that is never rehashed, so slot numbers stay
 * valid; keys are kept across reconnects, names are not. */
#define STMT_SLOTS 512 /* a power of two */
#define STMT_MAX 256   /* then further SQL texts go unnamed */

struct stmt {
	char *sql;       /* NULL: free slot */
	uint64_t name;   /* pgc_<name> exists on the server; 0: not prepared */
	uint64_t failed; /* the name whose Prepare failed with err */
	char *err;
};

/* FIFO of sent queries; cap is a power of two. */
struct ring {
	struct sent *e;
	size_t head, n, cap;
};

/* A query made while connecting: one block holding the SQL and parameters. */
struct waiting {
	struct waiting *next;
	pgc_cb cb;
	void *arg;
	int nparams;
	char *sql;
	char **params;
};

/* A poll handle lives in its own block: it is replaced on every connect step and
 * each one is freed only in its close_cb. */
struct pgc_poll {
	uv_poll_t h;
	struct pgc *c;
};

struct pgc {
	uv_loop_t *loop;
	uv_timer_t timer;
	struct pgc_poll *poll;
	int poll_events;
	int nhandles; /* handles not yet closed: memory goes at 0 */
	PGconn *conn;
	char *conninfo;
	enum state state;
	unsigned timeout_ms;
	unsigned backoff_ms;
	struct ring ring;
	struct stmt *stmts; /* STMT_SLOTS, allocated on first use */
	size_t nstmts;
	uint64_t next_name;
	struct waiting *wait_head, **wait_tail;
	size_t ncb; /* accepted queries whose callback has not run */
	int fault;  /* a send failed inside pgc_query: break on the next tick */
	char fault_msg[256];
	pgc_state_cb state_cb;
	void *state_arg;
};

static void on_timer(uv_timer_t *t);
static void on_poll(uv_poll_t *h, int status, int events);
static void broken(struct pgc *c, const char *why);

/* --- small helpers ------------------------------------------------------ */

/* libpq messages end in newlines and may span lines: keep one line. */
static void one_line(char *dst, size_t n, const char *src)
{
	size_t j = 0;
	int space = 0;

	if (n == 0)
		return;
	for (; src && *src && j + 1 < n; src++) {
		if (*src == '\n' || *src == '\t' || *src == '\r' || *src == ' ') {
			space = j > 0;
			continue;
		}
		if (space && j + 2 < n)
			dst[j++] = ' ';
		space = 0;
		dst[j++] = *src;
	}
	dst[j] = '\0';
}

/* Room for two more entries (a Prepare and its query), so that recording what
 * was handed to libpq cannot fail. */
static int ring_grow(struct ring *r)
{
	size_t cap = r->cap ? r->cap * 2 : 64;
	struct sent *e;

	if (r->n + 2 <= r->cap)
		return 0;
	if (!(e = malloc(cap * sizeof *e)))
		return -1;
	for (size_t i = 0; i < r->n; i++)
		e[i] = r->e[(r->head + i) & (r->cap - 1)];
	free(r->e);
	r->e = e;
	r->head = 0;
	r->cap = cap;
	return 0;
}

static void ring_push(struct ring *r, const struct sent *s)
{
	r->e[(r->head + r->n) & (r->cap - 1)] = *s;
	r->n++;
}

static struct sent *ring_head(struct ring *r)
{
	return r->n ? &r->e[r->head] : NULL;
}

static void ring_pop(struct ring *r)
{
	r->head = (r->head + 1) & (r->cap - 1);
	r->n--;
}

/* The next query's clock starts when it reaches the head of the line: a long
 * pipeline is not a hung server. */
static void ring_advance(struct ring *r, uint64_t now)
{
	ring_pop(r);
	if (r->n && r->e[r->head].sent_ms < now)
		r->e[r->head].sent_ms = now;
}

static struct waiting *waiting_new(const char *sql, int n, const char *const *params, pgc_cb cb,
				   void *arg)
{
	size_t sz = sizeof(struct waiting) + n * sizeof(char *) + strlen(sql) + 1;
	struct waiting *w;
	char *p;

	for (int i = 0; i < n; i++)
		sz += params[i] ? strlen(params[i]) + 1 : 0;
	if (!(w = malloc(sz)))
		return NULL;
	*w = (struct waiting){ .cb = cb, .arg = arg, .nparams = n };
	w->params = (char **)(w + 1);
	p = (char *)(w->params + n);
	for (int i = 0; i < n; i++) {
		w->params[i] = params[i] ? strcpy(p, params[i]) : NULL;
		p += params[i] ? strlen(params[i]) + 1 : 0;
	}
	w->sql = strcpy(p, sql);
	return w;
}

/* --- handles ------------------------------------------------------------- */

static void free_pgc(struct pgc *c)
{
	for (size_t i = 0; c->stmts && i < STMT_SLOTS; i++) {
		free(c->stmts[i].sql);
		free(c->stmts[i].err);
	}
	free(c->stmts);
	free(c->ring.e);
	free(c->conninfo);
	free(c);
}

static void on_poll_close(uv_handle_t *h)
{
	struct pgc_poll *p = h->data;
	struct pgc *c = p->c;

	free(p);
	if (--c->nhandles == 0 && c->state == ST_CLOSING)
		free_pgc(c);
}

static void on_timer_close(uv_handle_t *h)
{
	struct pgc *c = h->data;

	if (--c->nhandles == 0)
		free_pgc(c);
}

static void poll_close(struct pgc *c)
{
	if (!c->poll)
		return;
	uv_close((uv_handle_t *)&c->poll->h, on_poll_close);
	c->poll = NULL;
	c->poll_events = 0;
}

/* A fresh poll handle on the connection's current socket. Used on every connect
 * step because libpq may close the socket and open another with the same number
 * (next address, SSL fallback), which epoll would silently stop watching. */
static int poll_open(struct pgc *c, int events)
{
	struct pgc_poll *p;
	int fd = PQsocket(c->conn);

	poll_close(c);
	if (fd < 0 || !(p = malloc(sizeof *p)))
		return -1;
	p->c = c;
	if (uv_poll_init(c->loop, &p->h, fd) < 0) {
		free(p);
		return -1;
	}
	p->h.data = p;
	c->nhandles++;
	c->poll = p;
	c->poll_events = events;
	return uv_poll_start(&p->h, events, on_poll);
}

/* Watch for output room only while libpq holds unsent bytes. */
static void poll_want(struct pgc *c, int want_write)
{
	int ev = UV_READABLE | (want_write ? UV_WRITABLE : 0);

	if (c->poll && ev != c->poll_events) {
		c->poll_events = ev;
		uv_poll_start(&c->poll->h, ev, on_poll);
	}
}

/* The server forgets its prepared statements with the session. */
static void drop_conn(struct pgc *c)
{
	poll_close(c);
	if (c->conn)
		PQfinish(c->conn);
	c->conn = NULL;
	for (size_t i = 0; c->stmts && i < STMT_SLOTS; i++)
		c->stmts[i].name = 0;
}

/* --- failing queries ----------------------------------------------------- */

static void call_failed(struct pgc *c, pgc_cb cb, void *arg, const char *why)
{
	c->ncb--;
	cb(NULL, why, arg);
}

/* Fail every query waiting or sent. The lists are taken off c first: callbacks
 * may add queries (refused in these states) or free c (memory stays until the
 * close callbacks run). */
static void fail_all(struct pgc *c, const char *why)
{
	struct ring r = c->ring;
	struct waiting *w = c->wait_head, *next;

	c->ring = (struct ring){ 0 };
	c->wait_head = NULL;
	c->wait_tail = &c->wait_head;
	for (; r.n; ring_pop(&r))
		if (r.e[r.head].cb && !r.e[r.head].answered)
			call_failed(c, r.e[r.head].cb, r.e[r.head].arg, why);
	free(r.e);
	for (; w; w = next) {
		next = w->next;
		call_failed(c, w->cb, w->arg, why);
		free(w);
	}
}

/* --- connecting ---------------------------------------------------------- */

static void noop_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static unsigned connect_deadline(const struct pgc *c)
{
	return c->timeout_ms ? c->timeout_ms : CONNECT_TIMEOUT_MS;
}

static void start_connect(struct pgc *c)
{
	char why[256];

	c->state = ST_CONNECTING;
	c->conn = PQconnectStart(c->conninfo);
	if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
		one_line(why, sizeof why, c->conn ? PQerrorMessage(c->conn) : "out of memory");
		broken(c, why);
		return;
	}
	/* Notices (e.g. "table does not exist, skipping") would go to stderr. */
	PQsetNoticeProcessor(c->conn, noop_notice, NULL);
	uv_timer_start(&c->timer, on_timer, connect_deadline(c), 0);
	/* Before the first PQconnectPoll, libpq wants the socket writable. */
	if (poll_open(c, UV_WRITABLE) < 0)
		broken(c, "cannot watch the socket");
}

/* FNV-1a: SQL texts are short and few. */
static uint32_t hash_sql(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The cache slot of sql, added when there is room; -1 when the cache is full
 * or memory is short (the query then goes unnamed). */
static int stmt_slot(struct pgc *c, const char *sql)
{
	uint32_t i = hash_sql(sql) & (STMT_SLOTS - 1);

	if (!c->stmts && !(c->stmts = calloc(STMT_SLOTS, sizeof *c->stmts)))
		return -1;
	for (; c->stmts[i].sql; i = (i + 1) & (STMT_SLOTS - 1))
		if (strcmp(c->stmts[i].sql, sql) == 0)
			return (int)i;
	if (c->nstmts >= STMT_MAX || !(c->stmts[i].sql = strdup(sql)))
		return -1;
	c->nstmts++;
	return (int)i;
}

static void stmt_name(char *buf, size_t n, uint64_t name)
{
	snprintf(buf, n, "pgc_%llu", (unsigned long long)name);
}

/* Hand one query and its Sync to libpq, preparing its statement on first use
 * (Prepare and query share the Sync segment, so a Prepare that fails fails
 * only this query). Records both in the ring (ring_grow made room); a failed
 * send marks the connection to be broken, which fails the query with the rest. */
static void send_query(struct pgc *c, const char *sql, int n, const char *const *params, pgc_cb cb,
		       void *arg)
{
	struct sent q = { cb, arg, uv_now(c->loop), 0, stmt_slot(c, sql), 0 };
	PGconn *conn = c->conn;
	char name[32];
	int ok = !c->fault;

	if (q.slot >= 0 && !c->stmts[q.slot].name) {
		struct sent prep = { NULL, NULL, q.sent_ms, ++c->next_name, q.slot, 0 };

		c->stmts[q.slot].name = prep.name;
		stmt_name(name, sizeof name, prep.name);
		ok = ok && PQsendPrepare(conn, name, sql, n, NULL);
		ring_push(&c->ring, &prep);
	}
	if (q.slot >= 0) {
		q.name = c->stmts[q.slot].name;
		stmt_name(name, sizeof name, q.name);
		ok = ok && PQsendQueryPrepared(conn, name, n, params, NULL, NULL, 0);
	} else {
		ok = ok && PQsendQueryParams(conn, sql, n, NULL, params, NULL, NULL, 0);
	}
	ok = ok && PQpipelineSync(conn);
	ring_push(&c->ring, &q);
	if (!ok && !c->fault) {
		c->fault = 1;
		one_line(c->fault_msg, sizeof c->fault_msg, PQerrorMessage(conn));
	}
}

/* Push the unsent bytes; on failure mark the connection to be broken. */
static void flush_out(struct pgc *c)
{
	int r = PQflush(c->conn);

	if (r < 0 && !c->fault) {
		c->fault = 1;
		one_line(c->fault_msg, sizeof c->fault_msg, PQerrorMessage(c->conn));
	}
	poll_want(c, r == 1);
}

static void arm_timer(struct pgc *c)
{
	struct sent *s = ring_head(&c->ring);
	uint64_t now = uv_now(c->loop), due;

	if (c->fault) {
		uv_timer_start(&c->timer, on_timer, 0, 0);
	} else if (s && c->timeout_ms) {
		due = s->sent_ms + c->timeout_ms;
		uv_timer_start(&c->timer, on_timer, due > now ? due - now : 0, 0);
	} else {
		uv_timer_stop(&c->timer);
	}
}

/* Move the queries made while connecting onto the new connection. */
static void send_waiting(struct pgc *c)
{
	struct waiting *w;

	while ((w = c->wait_head) && ring_grow(&c->ring) == 0) {
		send_query(c, w->sql, w->nparams, (const char *const *)w->params, w->cb, w->arg);
		c->wait_head = w->next;
		free(w);
	}
	if (!c->wait_head) {
		c->wait_tail = &c->wait_head;
	} else if (!c->fault) {
		c->fault = 1; /* the rest fail with the connection */
		snprintf(c->fault_msg, sizeof c->fault_msg, "out of memory");
	}
}

static void on_connected(struct pgc *c)
{
	if (PQsetnonblocking(c->conn, 1) != 0 || !PQenterPipelineMode(c->conn)) {
		char why[256];

		one_line(why, sizeof why, PQerrorMessage(c->conn));
		broken(c, why);
		return;
	}
	c->state = ST_UP;
	c->backoff_ms = BACKOFF_MIN_MS;
	poll_want(c, 0);
	send_waiting(c);
	flush_out(c);
	arm_timer(c);
	if (c->state_cb)
		c->state_cb(1, c->state_arg);
}

static void connect_step(struct pgc *c)
{
	char why[256];

	switch (PQconnectPoll(c->conn)) {
	case PGRES_POLLING_READING:
		if (poll_open(c, UV_READABLE) < 0)
			broken(c, "cannot watch the socket");
		break;
	case PGRES_POLLING_WRITING:
		if (poll_open(c, UV_WRITABLE) < 0)
			broken(c, "cannot watch the socket");
		break;
	case PGRES_POLLING_OK: on_connected(c); break;
	default:
		one_line(why, sizeof why, PQerrorMessage(c->conn));
		broken(c, why);
		break;
	}
}

/* The connection is gone: drop it, fail what waited, retry after a backoff. */
static void broken(struct pgc *c, const char *why)
{
	char msg[320];
	int was_up = c->state == ST_UP;

	snprintf(msg, sizeof msg, "connection lost: %s", why);
	drop_conn(c);
	c->fault = 0;
	c->state = ST_BACKOFF;
	uv_timer_start(&c->timer, on_timer, c->backoff_ms, 0);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	fail_all(c, msg);
	if (was_up && c->state_cb && c->state != ST_CLOSING)
		c->state_cb(0, c->state_arg);
}

/* --- answers ------------------------------------------------------------- */

/* A FATAL or PANIC error means the server is closing this session. */
static int session_ending(const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	return sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0);
}

static int is_success(ExecStatusType st)
{
	return st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY;
}

/* "SQLSTATE: message", or libpq's own text when the server sent no code. */
static void error_text(char *dst, size_t n, const PGresult *res)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char line[512];

	if (code && msg) {
		one_line(line, sizeof line, msg);
		snprintf(dst, n, "%s: %s", code, line);
	} else if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
		snprintf(dst, n, "pipeline aborted");
	} else {
		one_line(dst, n, PQresultErrorMessage(res));
		if (!*dst)
			snprintf(dst, n, "unexpected result %s", PQresStatus(PQresultStatus(res)));
	}
}

/* Stop using a statement the server does not have (its Prepare failed) or can
 * no longer run as prepared (the schema changed under it: 0A000 "cached plan
 * must not change result type"); the next use prepares it afresh. */
static void stmt_forget(struct pgc *c, const struct sent *s)
{
	if (s->slot >= 0 && c->stmts[s->slot].name == s->name)
		c->stmts[s->slot].name = 0;
}

static int stale_stmt(const PGresult *res)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return code && (strcmp(code, "26000") == 0 || strcmp(code, "0A000") == 0);
}

/* Queries pipelined behind a Prepare that failed find no statement (26000):
 * they get the Prepare's error instead, which says what is wrong. */
static void query_error(struct pgc *c, const struct sent *s, const PGresult *res, char *dst, size_t n)
{
	const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const struct stmt *st = s->slot >= 0 ? &c->stmts[s->slot] : NULL;

	if (st && st->err && st->failed == s->name && code && strcmp(code, "26000") == 0)
		snprintf(dst, n, "%s", st->err);
	else
		error_text(dst, n, res);
}

/* Give res to the query at the head. Returns -1 when the connection is ending
 * (the query then fails with the rest as "connection lost"). */
static int deliver(struct pgc *c, PGresult *res)
{
	struct sent *s = ring_head(&c->ring);
	char err[600];

	if (is_success(PQresultStatus(res))) {
		s->answered = 1;
		c->ncb--;
		s->cb(res, NULL, s->arg);
		return 0;
	}
	query_error(c, s, res, err, sizeof err);
	if (session_ending(res) || PQstatus(c->conn) == CONNECTION_BAD) {
		broken(c, err);
		return -1;
	}
	if (stale_stmt(res))
		stmt_forget(c, s);
	s->answered = 1;
	c->ncb--;
	s->cb(NULL, err, s->arg);
	return 0;
}

/* A result for the Prepare at the head: on success it just leaves; on failure
 * its error is the answer of the query behind it (whose own result will only
 * be PGRES_PIPELINE_ABORTED). */
static int prepared(struct pgc *c, PGresult *res)
{
	struct sent *s = ring_head(&c->ring);
	struct stmt *st = &c->stmts[s->slot];
	char err[600];

	ring_pop(&c->ring);
	if (is_success(PQresultStatus(res)))
		return 0;
	error_text(err, sizeof err, res);
	free(st->err);
	st->err = strdup(err);
	st->failed = s->name; /* s still points into the ring's memory */
	stmt_forget(c, s);
	return deliver(c, res);
}

static void drop_notifies(PGconn *conn)
{
	PGnotify *n;

	while ((n = PQnotifies(conn)))
		PQfreemem(n);
}

/* Hand out every answer libpq has complete. Stops when libpq needs more input,
 * when the ring is empty, or when a callback closed or broke the connection. */
static void drain(struct pgc *c)
{
	PGconn *conn = c->conn;
	int nulls = 0;

	while (c->conn == conn && c->ring.n && nulls < 2 && !PQisBusy(conn)) {
		PGresult *res = PQgetResult(conn);
		int gone = 0;

		if (!res) {
			nulls++; /* the end of one query's results */
			continue;
		}
		nulls = 0;
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC)
			ring_advance(&c->ring, uv_now(c->loop));
		else if (!ring_head(&c->ring)->cb)
			gone = prepared(c, res) < 0;
		else if (!ring_head(&c->ring)->answered)
			gone = deliver(c, res) < 0;
		PQclear(res);
		if (gone)
			return;
	}
	if (c->conn == conn)
		drop_notifies(conn);
}

/* After input, output or a timer tick on a live connection. */
static void service(struct pgc *c)
{
	PGconn *conn = c->conn;
	char why[256];

	drain(c);
	if (c->conn != conn || c->state != ST_UP)
		return;
	if (c->fault) {
		broken(c, c->fault_msg);
		return;
	}
	if (PQstatus(conn) == CONNECTION_BAD) {
		one_line(why, sizeof why, PQerrorMessage(conn));
		broken(c, why);
		return;
	}
	arm_timer(c);
}

static void io_step(struct pgc *c, int events)
{
	char why[256];

	if ((events & UV_READABLE) && !PQconsumeInput(c->conn)) {
		one_line(why, sizeof why, PQerrorMessage(c->conn));
		broken(c, why);
		return;
	}
	if (events & UV_WRITABLE)
		flush_out(c);
	service(c);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct pgc *c = ((struct pgc_poll *)h->data)->c;

	if (status < 0) {
		broken(c, uv_strerror(status));
		return;
	}
	if (c->state == ST_CONNECTING)
		connect_step(c);
	else if (c->state == ST_UP)
		io_step(c, events);
}

static int timed_out(struct pgc *c)
{
	struct sent *s = ring_head(&c->ring);

	return s && c->timeout_ms && uv_now(c->loop) >= s->sent_ms + c->timeout_ms;
}

static void on_timer(uv_timer_t *t)
{
	struct pgc *c = t->data;

	switch (c->state) {
	case ST_CONNECTING: broken(c, "connect timeout"); break;
	case ST_BACKOFF: start_connect(c); break;
	case ST_UP:
		if (c->fault)
			broken(c, c->fault_msg);
		else if (timed_out(c))
			broken(c, "query timeout");
		else
			service(c);
		break;
	case ST_CLOSING: break;
	}
}

/* --- public -------------------------------------------------------------- */

struct pgc *pgc_new(uv_loop_t *loop, const char *conninfo, char *err, size_t errlen)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	struct pgc *c;

	if (!opts) {
		one_line(err, errlen, perr ? perr : "out of memory");
		PQfreemem(perr);
		return NULL;
	}
	PQconninfoFree(opts);
	if (!(c = calloc(1, sizeof *c)) || !(c->conninfo = strdup(conninfo))) {
		free(c);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->loop = loop;
	c->timeout_ms = DEFAULT_TIMEOUT_MS;
	c->backoff_ms = BACKOFF_MIN_MS;
	c->wait_tail = &c->wait_head;
	uv_timer_init(loop, &c->timer);
	c->timer.data = c;
	c->nhandles = 1;
	start_connect(c);
	return c;
}

int pgc_query(struct pgc *c, const char *sql, int nparams, const char *const *params, pgc_cb cb,
	      void *arg)
{
	struct waiting *w;
	int was_empty;

	if (!c || !sql || !cb || nparams < 0 || nparams > MAX_PARAMS || (nparams && !params))
		return -1;
	if (c->state == ST_CONNECTING) {
		if (!(w = waiting_new(sql, nparams, params, cb, arg)))
			return -1;
		*c->wait_tail = w;
		c->wait_tail = &w->next;
		c->ncb++;
		return 0;
	}
	if (c->state != ST_UP)
		return -1;
	if (ring_grow(&c->ring) < 0)
		return -1;
	was_empty = c->ring.n == 0;
	send_query(c, sql, nparams, params, cb, arg);
	c->ncb++;
	flush_out(c);
	if (was_empty || c->fault)
		arm_timer(c);
	return 0;
}

void pgc_set_timeout_ms(struct pgc *c, unsigned ms)
{
	c->timeout_ms = ms;
}

void pgc_on_state(struct pgc *c, pgc_state_cb cb, void *arg)
{
	c->state_cb = cb;
	c->state_arg = arg;
}

int pgc_ok(const struct pgc *c)
{
	return c && c->state == ST_UP && !c->fault;
}

size_t pgc_inflight(const struct pgc *c)
{
	return c ? c->ncb : 0;
}

void pgc_free(struct pgc *c)
{
	if (!c || c->state == ST_CLOSING)
		return;
	c->state = ST_CLOSING;
	drop_conn(c);
	uv_close((uv_handle_t *)&c->timer, on_timer_close);
	fail_all(c, "closing");
}
