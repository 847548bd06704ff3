/* ctl_rq: piyasactl's Redis side: the blocking queue client (common/rqs) opened
 * on first use, and the change notice workers subscribe to. */
#include "ctl/ctl.h"

#include <stdio.h>
#include <string.h>

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
