/* ra: see ra.h. Replies on one connection arrive in order, so pending commands
 * are a FIFO and only the oldest deadline needs watching.
 *
 * The link is in one of four states, and the 50 ms tick bounds each:
 *   waiting     ac NULL, reconnect_at set: the tick connects when it is due;
 *   connecting  ac set, connect_deadline set: hiredis answers through on_connect
 *               (ruv hands it a refused connect), or the tick drops the attempt
 *               at its deadline (a connect nobody answers);
 *   handshake   connected, scripts loading: each SCRIPT LOAD has a deadline;
 *   up          every command has a deadline.
 * Any failure drops the context and goes back to waiting, with a backoff of
 * 100 ms doubling to 1 s; the backoff starts over once the link is up. */
#include "common/net/ra.h"

#include "common/net/ruv.h"
#include "common/rurl.h"

#include <hiredis/async.h>
#include <stdlib.h>
#include <string.h>

#define RA_EXTRA_MAX 8
#define RA_BACKOFF_FIRST_MS 100
#define RA_BACKOFF_MAX_MS 1000
#define RA_CONNECT_MS 2000 /* a TCP connect on a LAN takes a millisecond */

struct ra_req {
	struct ra *r;
	ra_cb cb;
	void *arg;
	uint64_t deadline; /* uv_now ms */
	int script;        /* -1: plain command */
	const char *src;   /* the script's source, for a NOSCRIPT resend */
	int retried;       /* NOSCRIPT re-sent once */
	int argc;
	char **argv; /* kept for a NOSCRIPT resend; NULL for plain commands */
	size_t *argvlen;
	struct ra_req *prev, *next;
};

struct ra {
	uv_loop_t *loop;
	struct rurl url;
	redisAsyncContext *ac;
	int up; /* connected and scripts loaded */
	int closing;
	long timeout_ms;
	char sha[RQ_NSCRIPTS][48];
	int scripts_loaded;
	struct { /* other scripts (ra_eval_src), learned on first use */
		const char *src;
		char sha[48];
	} extra[RA_EXTRA_MAX];
	int nextra;
	struct ra_req *head, *tail;
	size_t pending;
	uv_timer_t timer;          /* deadlines and reconnects */
	uint64_t connect_deadline; /* while connecting, else 0 */
	uint64_t reconnect_at;     /* while waiting, else 0 */
	uint64_t backoff_ms;
	ra_state_cb state_cb;
	void *state_arg;
};

static void start_connect(struct ra *r);

/* Reconnect after 100 ms, doubling to 1 s while attempts keep failing: a Redis
 * that comes back is in use again within about a second, whatever the outage's
 * length, and a refused connect a second per link costs nothing. */
static void schedule_reconnect(struct ra *r)
{
	r->backoff_ms = r->backoff_ms ? r->backoff_ms * 2 : RA_BACKOFF_FIRST_MS;
	if (r->backoff_ms > RA_BACKOFF_MAX_MS)
		r->backoff_ms = RA_BACKOFF_MAX_MS;
	r->connect_deadline = 0;
	r->reconnect_at = uv_now(r->loop) + r->backoff_ms;
}

static void list_remove(struct ra *r, struct ra_req *q)
{
	if (q->prev)
		q->prev->next = q->next;
	else
		r->head = q->next;
	if (q->next)
		q->next->prev = q->prev;
	else
		r->tail = q->prev;
	q->prev = q->next = NULL;
	r->pending--;
}

static void list_append(struct ra *r, struct ra_req *q)
{
	q->prev = r->tail;
	q->next = NULL;
	if (r->tail)
		r->tail->next = q;
	else
		r->head = q;
	r->tail = q;
	r->pending++;
}

static void req_free(struct ra_req *q)
{
	if (q->argv) {
		for (int i = 0; i < q->argc; i++)
			free(q->argv[i]);
		free(q->argv);
		free(q->argvlen);
	}
	free(q);
}

static void set_state(struct ra *r, int up, const char *why)
{
	if (r->up == up)
		return;
	r->up = up;
	if (r->state_cb)
		r->state_cb(up, why, r->state_arg);
}

static int send_req(struct ra *r, struct ra_req *q);

/* A NOSCRIPT error means Redis restarted and forgot the scripts: resend once as
 * EVAL with the source, which also caches it again. */
static int resend_as_eval(struct ra *r, struct ra_req *q)
{
	const char *src = q->src ? q->src : rq_script_source(q->script);

	free(q->argv[0]);
	free(q->argv[1]);
	q->argv[0] = strdup("EVAL");
	q->argv[1] = strdup(src);
	if (!q->argv[0] || !q->argv[1])
		return -1;
	q->argvlen[0] = 4;
	q->argvlen[1] = strlen(src);
	q->retried = 1;
	return send_req(r, q);
}

static void on_reply(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct ra_req *q = privdata;
	struct ra *r = q->r;
	redisReply *rep = reply;

	(void)ac;
	list_remove(r, q);
	if (rep && rep->type == REDIS_REPLY_ERROR && (q->script >= 0 || q->src) && !q->retried &&
	    strncmp(rep->str, "NOSCRIPT", 8) == 0 && !r->closing && resend_as_eval(r, q) == 0)
		return;
	if (q->cb)
		q->cb(rep, rep ? NULL : (r->closing ? "closing" : "connection lost"), q->arg);
	req_free(q);
}

static int send_req(struct ra *r, struct ra_req *q)
{
	if (!r->ac || redisAsyncCommandArgv(r->ac, on_reply, q, q->argc, (const char **)q->argv,
					    q->argvlen) != REDIS_OK)
		return -1;
	list_append(r, q);
	return 0;
}

static int submit(struct ra *r, struct ra_req *q, long timeout_ms)
{
	q->r = r;
	q->deadline = uv_now(r->loop) + (uint64_t)(timeout_ms > 0 ? timeout_ms : r->timeout_ms);
	if (!r->ac || r->closing)
		return -1;
	return send_req(r, q);
}

/* A command without script bookkeeping: queued on the link as it is. */
static int send_plain(struct ra *r, ra_cb cb, void *arg, long timeout_ms, int argc, const char **argv)
{
	struct ra_req *q;

	if (!r->ac || r->closing || !(q = calloc(1, sizeof *q)))
		return -1;
	q->cb = cb;
	q->arg = arg;
	q->script = -1;
	q->r = r;
	q->deadline = uv_now(r->loop) + (uint64_t)(timeout_ms > 0 ? timeout_ms : r->timeout_ms);
	if (redisAsyncCommandArgv(r->ac, on_reply, q, argc, argv, NULL) != REDIS_OK) {
		free(q);
		return -1;
	}
	list_append(r, q);
	return 0;
}

int ra_cmd(struct ra *r, ra_cb cb, void *arg, long timeout_ms, int argc, const char **argv)
{
	return r->up ? send_plain(r, cb, arg, timeout_ms, argc, argv) : -1;
}

/* cmd head nkeys keys... argv...: a script call, its strings kept for a
 * NOSCRIPT resend. */
static struct ra_req *eval_req(const char *cmd, const char *head, int nkeys,
			       const char *const *keys, int argc, const char **argv)
{
	struct ra_req *q = calloc(1, sizeof *q);
	int n = 3 + nkeys + argc, i = 0;
	char nk[16];

	if (!q)
		return NULL;
	q->script = -1;
	q->argc = n;
	q->argv = calloc((size_t)n, sizeof *q->argv);
	q->argvlen = calloc((size_t)n, sizeof *q->argvlen);
	if (!q->argv || !q->argvlen) {
		req_free(q);
		return NULL;
	}
	snprintf(nk, sizeof nk, "%d", nkeys);
	q->argv[i++] = strdup(cmd);
	q->argv[i++] = strdup(head);
	q->argv[i++] = strdup(nk);
	for (int j = 0; j < nkeys; j++)
		q->argv[i++] = strdup(keys[j]);
	for (int j = 0; j < argc; j++)
		q->argv[i++] = strdup(argv[j]);
	for (i = 0; i < n; i++) {
		if (!q->argv[i]) {
			req_free(q);
			return NULL;
		}
		q->argvlen[i] = strlen(q->argv[i]);
	}
	return q;
}

static int submit_eval(struct ra *r, struct ra_req *q, ra_cb cb, void *arg)
{
	q->cb = cb;
	q->arg = arg;
	if (submit(r, q, 0) < 0) {
		req_free(q);
		return -1;
	}
	return 0;
}

int ra_eval(struct ra *r, enum rq_script s, const struct rq_keys *k, int argc, const char **argv,
	    ra_cb cb, void *arg)
{
	const char *keys[RQ_NKEYS];
	struct ra_req *q;

	for (int j = 0; j < RQ_NKEYS; j++)
		keys[j] = k->k[j];
	if (!r->up || r->closing || !(q = eval_req("EVALSHA", r->sha[s], RQ_NKEYS, keys, argc, argv)))
		return -1;
	q->script = s;
	return submit_eval(r, q, cb, arg);
}

static void on_extra_loaded(redisReply *rep, const char *err, void *arg)
{
	char *sha = arg; /* the entry's, inside struct ra (alive until ra_free's callbacks) */

	(void)err;
	if (rep && rep->type == REDIS_REPLY_STRING)
		snprintf(sha, 48, "%s", rep->str);
	else
		sha[0] = '\0';
}

/* The sha of src, or NULL while not known (the first use asks Redis for it). */
static const char *extra_sha(struct ra *r, const char *src)
{
	int i;

	for (i = 0; i < r->nextra && r->extra[i].src != src; i++)
		;
	if (i == r->nextra) {
		if (r->nextra == RA_EXTRA_MAX)
			return NULL;
		r->extra[r->nextra].src = src;
		r->extra[r->nextra++].sha[0] = '\0';
	}
	if (!r->extra[i].sha[0]) {
		const char *av[] = { "SCRIPT", "LOAD", src };
		r->extra[i].sha[0] = '-'; /* asked */
		if (send_plain(r, on_extra_loaded, r->extra[i].sha, 0, 3, av) < 0)
			r->extra[i].sha[0] = '\0';
		return NULL;
	}
	return r->extra[i].sha[0] == '-' ? NULL : r->extra[i].sha;
}

int ra_eval_src(struct ra *r, const char *src, int nkeys, const char **keys, int argc,
		const char **argv, ra_cb cb, void *arg)
{
	struct ra_req *q;
	const char *sha;

	if (!r->up || r->closing)
		return -1;
	sha = extra_sha(r, src);
	if (!(q = eval_req(sha ? "EVALSHA" : "EVAL", sha ? sha : src, nkeys, keys, argc, argv)))
		return -1;
	q->src = src;
	q->retried = sha == NULL; /* a plain EVAL has nothing to fall back to */
	return submit_eval(r, q, cb, arg);
}

/* Scripts are loaded before the link counts as up. */
static void on_script_loaded(redisReply *rep, const char *err, void *arg)
{
	struct ra *r = arg;
	int i = r->scripts_loaded;

	if (!rep || rep->type != REDIS_REPLY_STRING) {
		if (r->ac && !r->closing)
			redisAsyncDisconnect(r->ac);
		(void)err;
		return;
	}
	snprintf(r->sha[i], sizeof r->sha[i], "%s", rep->str);
	if (++r->scripts_loaded == RQ_NSCRIPTS) {
		r->backoff_ms = 0;
		set_state(r, 1, NULL);
	}
}

static void on_handshake(redisReply *rep, const char *err, void *arg)
{
	struct ra *r = arg;

	(void)err;
	if ((!rep || rep->type == REDIS_REPLY_ERROR) && r->ac && !r->closing)
		redisAsyncDisconnect(r->ac);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct ra *r = ac->data;
	char db[16];

	if (status != REDIS_OK) {
		r->ac = NULL; /* hiredis frees a context whose connect failed */
		set_state(r, 0, "connect failed");
		schedule_reconnect(r);
		return;
	}
	r->connect_deadline = 0; /* the handshake's commands have deadlines of their own */
	if (*r->url.user) {
		const char *av[] = { "AUTH", r->url.user, r->url.password };
		send_plain(r, on_handshake, r, 0, 3, av);
	} else if (*r->url.password) {
		const char *av[] = { "AUTH", r->url.password };
		send_plain(r, on_handshake, r, 0, 2, av);
	}
	if (r->url.db) {
		snprintf(db, sizeof db, "%d", r->url.db);
		const char *av[] = { "SELECT", db };
		send_plain(r, on_handshake, r, 0, 2, av);
	}
	r->scripts_loaded = 0;
	for (int i = 0; i < r->nextra; i++)
		r->extra[i].sha[0] = '\0'; /* a restarted Redis forgot them */
	for (int i = 0; i < RQ_NSCRIPTS; i++) {
		const char *av[] = { "SCRIPT", "LOAD", rq_script_source(i) };
		send_plain(r, on_script_loaded, r, 0, 3, av);
	}
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct ra *r = ac->data;

	(void)status;
	r->ac = NULL;
	set_state(r, 0, "disconnected");
	if (r->closing)
		return;
	schedule_reconnect(r);
}

/* A connect that fails at once (a bad address, no memory) waits its backoff
 * like any other; one under way is watched by the tick until on_connect. */
static void start_connect(struct ra *r)
{
	redisAsyncContext *ac;

	r->reconnect_at = 0;
	ac = *r->url.path ? redisAsyncConnectUnix(r->url.path)
			  : redisAsyncConnect(r->url.host, r->url.port);
	if (!ac || ac->err || ruv_attach(ac, r->loop) < 0) {
		if (ac)
			redisAsyncFree(ac);
		schedule_reconnect(r);
		return;
	}
	r->ac = ac;
	ac->data = r;
	r->connect_deadline = uv_now(r->loop) + RA_CONNECT_MS;
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* Give up on the context, whatever its state: every pending command is called
 * back with NULL ("connection lost"), and the next attempt waits its backoff.
 * Only the tick calls it, so never from inside a hiredis callback. */
static void drop(struct ra *r, const char *why)
{
	redisAsyncContext *ac = r->ac;

	set_state(r, 0, why);
	/* The callbacks that the free runs (and on_disconnect, when it had
	 * connected) see the link gone. */
	r->ac = NULL;
	redisAsyncFree(ac);
	if (!r->reconnect_at)
		schedule_reconnect(r);
}

/* Every 50 ms: a connect past its deadline or an overdue oldest command drops
 * the link (failing all pending commands at once); a due reconnect starts. */
static void on_tick(uv_timer_t *t)
{
	struct ra *r = t->data;
	uint64_t now = uv_now(r->loop);

	if (r->ac && r->connect_deadline && r->connect_deadline <= now)
		drop(r, "connect timed out");
	else if (r->ac && r->head && r->head->deadline < now)
		drop(r, "command timed out");
	else if (!r->ac && r->reconnect_at && r->reconnect_at <= now)
		start_connect(r);
}

struct ra *ra_new(uv_loop_t *loop, const char *url, long timeout_ms, ra_state_cb state_cb,
		  void *arg, char *err, size_t el)
{
	struct ra *r = calloc(1, sizeof *r);

	if (!r) {
		snprintf(err, el, "out of memory");
		return NULL;
	}
	if (rurl_parse(&r->url, url, err, el) < 0) {
		free(r);
		return NULL;
	}
	r->loop = loop;
	r->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	r->state_cb = state_cb;
	r->state_arg = arg;
	uv_timer_init(loop, &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, on_tick, 50, 50);
	start_connect(r);
	return r;
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void ra_free(struct ra *r)
{
	if (!r)
		return;
	r->closing = 1;
	r->state_cb = NULL;
	if (r->ac)
		redisAsyncFree(r->ac); /* pending callbacks see "closing" */
	r->ac = NULL;
	uv_close((uv_handle_t *)&r->timer, on_timer_closed);
}

int ra_up(const struct ra *r)
{
	return r->up;
}

size_t ra_pending(const struct ra *r)
{
	return r->pending;
}
