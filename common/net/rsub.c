/* rsub: see rsub.h. One timer serves both waits: while a connect is under way
 * it is the connect's deadline, while no context exists it is the retry. */
#include "common/net/rsub.h"

#include "common/log.h"
#include "common/net/ruv.h"
#include "common/rurl.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RSUB_RETRY_MS 2000
#define RSUB_CONNECT_MS 2000

struct rsub {
	uv_loop_t *loop;
	struct rurl url;
	char channel[128];
	rsub_cb cb;
	void *arg;
	redisAsyncContext *ac;
	int connected;    /* ac's connect completed */
	uv_timer_t retry; /* the retry, or the connect's deadline */
	int closing;
	int warned;
};

static void rsub_connect(struct rsub *s);

static void schedule_retry(struct rsub *s);

/* No context: time to try again. A context still connecting: its deadline has
 * passed (nobody answers); freeing a context that never connected calls no
 * callback, so the retry is scheduled here. */
static void on_timer(uv_timer_t *t)
{
	struct rsub *s = t->data;
	redisAsyncContext *ac = s->ac;

	if (!ac) {
		rsub_connect(s);
		return;
	}
	if (s->connected)
		return;
	if (!s->warned++)
		log_warn("%s notices: cannot connect to redis: timed out", s->channel);
	s->ac = NULL;
	redisAsyncFree(ac);
	schedule_retry(s);
}

static void schedule_retry(struct rsub *s)
{
	if (!s->closing)
		uv_timer_start(&s->retry, on_timer, RSUB_RETRY_MS, 0);
}

/* SUBSCRIBE answers "subscribe" once, then "message" per notice. */
static void on_sub_reply(redisAsyncContext *ac, void *r, void *priv)
{
	struct rsub *s = priv;
	redisReply *rep = r;
	(void)ac;

	if (!rep || s->closing)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		log_warn("%s notices: redis refused SUBSCRIBE: %s", s->channel, rep->str);
		return;
	}
	if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 3 ||
	    rep->element[0]->type != REDIS_REPLY_STRING)
		return;
	if (strcmp(rep->element[0]->str, "subscribe") == 0) {
		s->warned = 0;
		s->cb(NULL, s->arg);
	} else if (strcmp(rep->element[0]->str, "message") == 0 &&
		   rep->element[2]->type == REDIS_REPLY_STRING) {
		s->cb(rep->element[2]->str, s->arg);
	}
}

static void on_connected(const redisAsyncContext *ac, int status)
{
	struct rsub *s = ac->data;

	uv_timer_stop(&s->retry); /* the connect's deadline */
	if (status != REDIS_OK) {
		if (!s->warned++)
			log_warn("%s notices: cannot connect to redis: %s", s->channel, ac->errstr);
		s->ac = NULL; /* hiredis frees the context after this callback */
		schedule_retry(s);
		return;
	}
	s->connected = 1;
	if (*s->url.user)
		redisAsyncCommand(s->ac, NULL, NULL, "AUTH %s %s", s->url.user, s->url.password);
	else if (*s->url.password)
		redisAsyncCommand(s->ac, NULL, NULL, "AUTH %s", s->url.password);
	redisAsyncCommand(s->ac, on_sub_reply, s, "SUBSCRIBE %s", s->channel);
}

static void on_timer_closed(uv_handle_t *h)
{
	free(h->data);
}

static void on_disconnected(const redisAsyncContext *ac, int status)
{
	struct rsub *s = ac->data;

	s->ac = NULL;
	s->connected = 0;
	if (s->closing) {
		uv_close((uv_handle_t *)&s->retry, on_timer_closed);
		return;
	}
	if (status != REDIS_OK && !s->warned++)
		log_warn("%s notices: redis connection lost: %s", s->channel, ac->errstr);
	schedule_retry(s);
}

static void rsub_connect(struct rsub *s)
{
	redisAsyncContext *ac = *s->url.path ? redisAsyncConnectUnix(s->url.path)
					     : redisAsyncConnect(s->url.host, s->url.port);

	if (!ac || ac->err || ruv_attach(ac, s->loop) < 0) {
		if (ac)
			redisAsyncFree(ac);
		schedule_retry(s);
		return;
	}
	s->ac = ac;
	s->connected = 0;
	ac->data = s;
	uv_timer_start(&s->retry, on_timer, RSUB_CONNECT_MS, 0);
	redisAsyncSetConnectCallback(ac, on_connected);
	redisAsyncSetDisconnectCallback(ac, on_disconnected);
}

struct rsub *rsub_new(uv_loop_t *loop, const char *url, const char *channel, rsub_cb cb, void *arg,
		      char *err, size_t el)
{
	struct rsub *s = calloc(1, sizeof *s);

	if (!s) {
		snprintf(err, el, "out of memory");
		return NULL;
	}
	if (rurl_parse(&s->url, url, err, el) < 0) {
		free(s);
		return NULL;
	}
	s->loop = loop;
	snprintf(s->channel, sizeof s->channel, "%s", channel);
	s->cb = cb;
	s->arg = arg;
	uv_timer_init(loop, &s->retry);
	s->retry.data = s;
	rsub_connect(s);
	return s;
}

void rsub_free(struct rsub *s)
{
	if (!s)
		return;
	s->closing = 1;
	uv_timer_stop(&s->retry);
	if (s->ac && s->connected) {
		/* The disconnect callback closes the timer and frees s. */
		redisAsyncDisconnect(s->ac);
		return;
	}
	/* A connect under way: hiredis calls nothing back when it is freed. */
	if (s->ac)
		redisAsyncFree(s->ac);
	s->ac = NULL;
	uv_close((uv_handle_t *)&s->retry, on_timer_closed);
}
