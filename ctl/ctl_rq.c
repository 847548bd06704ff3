/* ctl_rq: piyasactl's Redis side: the blocking queue client (common/rqs) opened
 * on first use, and the change notice workers subscribe to. */
#include "ctl/ctl.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define NOTICE_IDS 200 /* the workers read up to 256 a message */

struct rqs *ctl_redis(struct ctl *c, char *err, size_t el)
{
	if (!c->rq)
		c->rq = rqs_connect(c->cfg.redis_url, c->cfg.redis_prefix, c->cfg.workers, err, el);
	return c->rq;
}

int ctl_publish_setting(struct ctl *c, const char *key, long long *receivers, char *err, size_t el)
{
	struct rqs *r = ctl_redis(c, err, el);
	redisContext *rc;
	redisReply *rep;
	char channel[64];

	if (!r)
		return -1;
	rc = rqs_context(r);
	snprintf(channel, sizeof channel, "%s:settings", rqs_prefix(r));
	rep = redisCommand(rc, "PUBLISH %s %s", channel, key);
	if (!rep || rep->type != REDIS_REPLY_INTEGER) {
		snprintf(err, el, "redis PUBLISH %s: %s", channel,
			 !rep                             ? rc->errstr
			 : rep->type == REDIS_REPLY_ERROR ? rep->str
							  : "odd reply");
		freeReplyObject(rep);
		return -1;
	}
	*receivers = rep->integer;
	freeReplyObject(rep);
	return 0;
}

/* PUBLISH <prefix>:<what> with ids[0..n), NOTICE_IDS a message, each message
 * opened by head and each id after mark; a failure is a note (why says what
 * the workers do meanwhile). */
static void notify(struct ctl *c, const char *what, const char *head, const char *mark,
		   const int64_t *ids, size_t n, const char *meanwhile)
{
	char err[512], channel[64], msg[NOTICE_IDS * 22 + 16];
	redisContext *rc;
	redisReply *rep;
	struct rqs *r;

	if (!n)
		return;
	if (!(r = ctl_redis(c, err, sizeof err))) {
		ctl_note("%s stored, but the change notice failed (%s); %s", what, err, meanwhile);
		return;
	}
	rc = rqs_context(r);
	snprintf(channel, sizeof channel, "%s:%s", rqs_prefix(r), what);
	for (size_t i = 0; i < n;) {
		size_t off = (size_t)snprintf(msg, sizeof msg, "%s", head);

		for (size_t k = 0; k < NOTICE_IDS && i < n; k++, i++)
			off += (size_t)snprintf(msg + off, sizeof msg - off, "%s%s%" PRId64,
						off ? " " : "", mark, ids[i]);
		rep = redisCommand(rc, "PUBLISH %s %s", channel, msg);
		if (!rep || rep->type != REDIS_REPLY_INTEGER) {
			ctl_note("%s stored, but the change notice failed (%s); %s", what,
				 !rep                             ? rc->errstr
				 : rep->type == REDIS_REPLY_ERROR ? rep->str
								  : "odd reply",
				 meanwhile);
			freeReplyObject(rep);
			return;
		}
		freeReplyObject(rep);
	}
}

void ctl_notify_bots(struct ctl *c, const int64_t *ids, size_t n)
{
	notify(c, "bots", "", "", ids, n, "the workers see it within 10 minutes");
}

void ctl_notify_chats(struct ctl *c, const int64_t *ids, size_t n)
{
	/* The workers' own chat notice: "<worker> =ID ...", from no worker (-1),
	 * each id urgent (dropped at once, not within 250 ms). */
	notify(c, "chats", "-1", "=", ids, n, "the workers see it within 30 s");
}
