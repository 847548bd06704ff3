/* rsub: see rsub.h. */
#include "common/net/rsub.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/rurl.h"

#define RSUB_RETRY_MS 2000

struct rsub {
	uv_loop_t *loop;
	struct rurl url;
	char channel[128];
	rsub_cb cb;
	void *arg;
	redisAsyncContext *ac;
	int connected;    /* ac's connect completed */
	uv_timer_t retry;
	int closing;
	int warned;
};

static void rsub_connect(struct rsub *s);

static void on_retry_due(uv_timer_t *t)
{
	rsub_connect(t->data);
}

static void schedule_retry(struct rsub *s)
{
	if (!s->closing)
		uv_timer_start(&s->retry, on_retry_due, RSUB_RETRY_MS, 0);
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

	if (status != REDIS_OK) {
		if (!s->warned++)
			log_warn("%s notices: cannot connect to redis: %s", s->channel, ac->errstr);
		s->ac = NULL; /* hiredis frees the context after this callback */
		schedule_retry(s);
		return;
	}
	s->connected = 1;
	if (*s->url.password)
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
	s->ac = *s->url.path ? redisAsyncConnectUnix(s->url.path)
			     : redisAsyncConnect(s->url.host, s->url.port);
	if (!s->ac || s->ac->err) {
		if (s->ac)
			redisAsyncFree(s->ac);
		s->ac = NULL;
		schedule_retry(s);
		return;
	}
	s->ac->data = s;
	redisLibuvAttach(s->ac, s->loop);
	redisAsyncSetConnectCallback(s->ac, on_connected);
	redisAsyncSetDisconnectCallback(s->ac, on_disconnected);
}

struct rsub *rsub_new(uv_loop_t *loop, const char *url, const char *channel, rsub_cb cb,
		      void *arg, char *err, size_t el)
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
	/* A connect under way (or one that hiredis 0.14's libuv adapter left
	 * hanging after a Redis restart): hiredis calls nothing back when it is
	 * freed, so the timer would stay open and the loop would not close. */
	if (s->ac)
		redisAsyncFree(s->ac);
	s->ac = NULL;
	uv_close((uv_handle_t *)&s->retry, on_timer_closed);
}
