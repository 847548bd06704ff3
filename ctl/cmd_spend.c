/* cmd_spend: `piyasactl spend [--json] [--top N]`: what the fleet spent on the
 * LLM today (UTC), as the workers count it in Redis (worker/calls/budget.h):
 * each provider's tokens against its daily_tokens, its requests and tokens in
 * the current minute against rpm and tpm, a pause its headers asked for; the
 * bots and chats that spent the most. */
#include "common/rqs.h"
#include "ctl/ctl.h"

#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct spender {
	char name[96];
	long long tokens;
};

static int by_tokens(const void *a, const void *b)
{
	const struct spender *x = a, *y = b;

	return x->tokens < y->tokens ? 1 : x->tokens > y->tokens ? -1 : strcmp(x->name, y->name);
}

static long long hget_ll(redisContext *rc, const char *key, const char *field)
{
	redisReply *r = redisCommand(rc, "HGET %s %s", key, field);
	long long v = r && r->type == REDIS_REPLY_STRING ? atoll(r->str) : 0;

	freeReplyObject(r);
	return v;
}

/* Bots or chats (fields "bot:ID" / "chat:ID") of the day's hash, most first. */
static size_t spenders(redisReply *all, const char *kind, struct spender **out)
{
	size_t n = 0, k = strlen(kind);
	struct spender *s = calloc(all->elements / 2 + 1, sizeof *s);

	*out = s;
	for (size_t i = 0; s && i + 1 < all->elements; i += 2) {
		const char *f = all->element[i]->str;
		if (!f || strncmp(f, kind, k) != 0 || f[k] != ':')
			continue;
		snprintf(s[n].name, sizeof s[n].name, "%s", f + k + 1);
		s[n++].tokens = atoll(all->element[i + 1]->str ? all->element[i + 1]->str : "0");
	}
	if (s)
		qsort(s, n, sizeof *s, by_tokens);
	return n;
}

/* A limit as printed: "-" for none. */
static const char *limit(char buf[24], long long v)
{
	if (!v)
		return "-";
	snprintf(buf, 24, "%lld", v);
	return buf;
}

static const char *percent(char buf[24], long long used, long long of)
{
	if (!of)
		return "-";
	snprintf(buf, 24, "%.0f", 100.0 * (double)used / (double)of);
	return buf;
}

int cmd_spend(struct ctl *c, int argc, char **argv)
{
	const char *top_s = NULL;
	int as_json = 0, np, rc;
	const struct ctl_opt opts[] = { { "json", NULL, &as_json },
					{ "top", &top_s, NULL },
					{ NULL, NULL, NULL } };
	char *pos[1], err[512], day_key[160], key[200], date[32];
	struct rqs *r;
	redisContext *rctx;
	redisReply *all;
	int64_t top = 10;
	time_t now = time(NULL);
	long day = (long)(now / 86400), minute = (long)(now / 60);
	struct spender *bots = NULL, *chats = NULL;
	size_t nb, nc;
	json_t *root = json_object(), *provs = json_array();

	if ((rc = ctl_opts("spend", argc - 1, argv + 1, opts, pos, 0, &np)) != 0)
		return rc;
	if (top_s && (ctl_parse_i64(top_s, &top) < 0 || top < 0))
		return ctl_usage("spend", "--top wants a count, not '%s'", top_s);
	if (!(r = ctl_redis(c, err, sizeof err)))
		return ctl_fail("%s", err);
	rctx = rqs_context(r);
	snprintf(day_key, sizeof day_key, "%s:{spend}:%ld", rqs_prefix(r), day);
	if (!(all = redisCommand(rctx, "HGETALL %s", day_key)) || all->type != REDIS_REPLY_ARRAY) {
		freeReplyObject(all);
		return ctl_fail("redis: %s", rctx->err ? rctx->errstr : "HGETALL failed");
	}
	strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
	if (!as_json)
		printf("LLM spend today (%s UTC), counted by the workers in Redis\n\n"
		       "%-16s %12s %12s %6s %9s %5s %9s %7s %7s\n",
		       date, "provider", "tokens", "daily_tokens", "used", "req/min", "rpm",
		       "tok/min", "tpm", "paused");
	for (int i = 0; i < c->cfg.nproviders; i++) {
		const struct cfg_provider *p = &c->cfg.providers[i];
		char field[96], paused[24] = "-";
		long long used, mreq, mtok, pttl;
		redisReply *pr;

		snprintf(field, sizeof field, "llm:%s", p->name);
		used = hget_ll(rctx, day_key, field);
		snprintf(key, sizeof key, "%s:{spend}:llm:%s:%ld", rqs_prefix(r), p->name, minute);
		mreq = hget_ll(rctx, key, "r");
		mtok = hget_ll(rctx, key, "t");
		snprintf(key, sizeof key, "%s:{spend}:llm:%s:pause", rqs_prefix(r), p->name);
		pr = redisCommand(rctx, "PTTL %s", key);
		pttl = pr && pr->type == REDIS_REPLY_INTEGER ? pr->integer : -2;
		freeReplyObject(pr);
		if (pttl > 0)
			snprintf(paused, sizeof paused, "%.1fs", (double)pttl / 1000.0);
		json_array_append_new(
			provs, json_pack("{s:s, s:I, s:I, s:I, s:i, s:I, s:i, s:I}", "provider",
					 p->name, "tokens", used, "daily_tokens", p->daily_tokens,
					 "minute_requests", mreq, "rpm", p->rpm, "minute_tokens",
					 mtok, "tpm", p->tpm, "paused_ms", pttl > 0 ? pttl : 0));
		if (as_json)
			continue;
		{
			char dl[24], pct[24], rpm[24], tpm[24];
			printf("%-16s %12lld %12s %5s%% %9lld %5s %9lld %7s %7s\n", p->name, used,
			       limit(dl, p->daily_tokens), percent(pct, used, p->daily_tokens),
			       mreq, limit(rpm, p->rpm), mtok, limit(tpm, p->tpm), paused);
		}
	}
	nb = spenders(all, "bot", &bots);
	nc = spenders(all, "chat", &chats);
	json_object_set_new(root, "day", json_string(date));
	json_object_set_new(root, "providers", provs);
	for (int k = 0; k < 2; k++) {
		struct spender *s = k ? chats : bots;
		size_t n = k ? nc : nb;
		json_t *arr = json_array();

		if (!as_json)
			printf("\n%s that spent the most today (of %zu):\n", k ? "chats" : "bots", n);
		for (size_t i = 0; i < n && (int64_t)i < top; i++) {
			json_array_append_new(arr, json_pack("{s:s, s:I}", "id", s[i].name,
							     "tokens", s[i].tokens));
			if (!as_json)
				printf("  %-24s %12lld tokens\n", s[i].name, s[i].tokens);
		}
		json_object_set_new(root, k ? "chats" : "bots", arr);
	}
	if (as_json) {
		char *out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		if (out)
			printf("%s\n", out);
		free(out);
	}
	json_decref(root);
	free(bots);
	free(chats);
	freeReplyObject(all);
	return CTL_OK;
}
