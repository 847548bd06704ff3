/* budget: see budget.h. */
#include "worker/calls/budget.h"

#include "common/net/ra.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY_MS 86400000LL
#define MINUTE_MS 60000LL

struct budget {
	struct ra *redis;
	const char *prefix;
};

/* KEYS: day hash, minute hash, pause. ARGV: the provider's, bot's and chat's
 * fields, est, rpm, tpm, daily, bot_daily, chat_daily, ms to the day's end, ms
 * to the minute's end. Answers {verdict, wait_ms, first}. Every check comes
 * before any count, so a refused call counts nothing. */
static const char take_src[] =
	"local est = tonumber(ARGV[4])\n"
	"local p = redis.call('PTTL', KEYS[3])\n"
	"if p > 0 then return {1, p, 0} end\n"
	"local function over(field, limit, code)\n"
	"  if limit <= 0 then return nil end\n"
	"  local u = tonumber(redis.call('HGET', KEYS[1], field) or '0')\n"
	"  if u + est > limit then\n"
	"    return {code, tonumber(ARGV[10]), redis.call('HSETNX', KEYS[1], 'told:' .. field, 1)}\n"
	"  end\n"
	"  return nil\n"
	"end\n"
	"local r = over(ARGV[1], tonumber(ARGV[7]), 2)\n"
	"if r then return r end\n"
	"r = over(ARGV[2], tonumber(ARGV[8]), 3)\n"
	"if r then return r end\n"
	"r = over(ARGV[3], tonumber(ARGV[9]), 4)\n"
	"if r then return r end\n"
	"local rpm, tpm = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
	"if rpm > 0 and tonumber(redis.call('HGET', KEYS[2], 'r') or '0') >= rpm then\n"
	"  return {1, tonumber(ARGV[11]), 0}\n"
	"end\n"
	"if tpm > 0 then\n"
	"  local t = tonumber(redis.call('HGET', KEYS[2], 't') or '0')\n"
	"  if t > 0 and t + est > tpm then return {1, tonumber(ARGV[11]), 0} end\n"
	"end\n"
	"redis.call('HINCRBY', KEYS[2], 'r', 1)\n"
	"redis.call('HINCRBY', KEYS[2], 't', est)\n"
	"redis.call('PEXPIRE', KEYS[2], 120000)\n"
	"redis.call('HINCRBY', KEYS[1], ARGV[1], est)\n"
	"redis.call('HINCRBY', KEYS[1], ARGV[2], est)\n"
	"redis.call('HINCRBY', KEYS[1], ARGV[3], est)\n"
	"redis.call('EXPIRE', KEYS[1], 3 * 86400)\n"
	"return {0, 0, 0}\n";

/* KEYS: day hash, minute hash. ARGV: the three fields, delta. */
static const char settle_src[] = "local d = tonumber(ARGV[4])\n"
				 "if redis.call('EXISTS', KEYS[2]) == 1 then\n"
				 "  redis.call('HINCRBY', KEYS[2], 't', d)\n"
				 "end\n"
				 "for i = 1, 3 do redis.call('HINCRBY', KEYS[1], ARGV[i], d) end\n"
				 "return 0\n";

struct take {
	budget_cb cb;
	void *arg;
};

struct budget *budget_new(struct ra *redis, const char *prefix)
{
	struct budget *b = calloc(1, sizeof *b);

	if (b) {
		b->redis = redis;
		b->prefix = prefix;
	}
	return b;
}

void budget_free(struct budget *b)
{
	free(b);
}

static void keys_of(const struct budget *b, const struct budget_ask *a, char k[3][160])
{
	snprintf(k[0], 160, "%s:{spend}:%ld", b->prefix, a->day);
	snprintf(k[1], 160, "%s:{spend}:llm:%s:%ld", b->prefix, a->provider, a->minute);
	snprintf(k[2], 160, "%s:{spend}:llm:%s:pause", b->prefix, a->provider);
}

static void fields_of(const struct budget_ask *a, char f[3][96])
{
	snprintf(f[0], 96, "llm:%s", a->provider);
	snprintf(f[1], 96, "bot:%lld", (long long)a->bot_id);
	snprintf(f[2], 96, "chat:%lld", (long long)a->chat_id);
}

static long long int_at(const redisReply *r, size_t i)
{
	return r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
}

static void on_take(redisReply *r, const char *err, void *arg)
{
	struct take tk = *(struct take *)arg;
	long long v;

	(void)err;
	free(arg);
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		tk.cb(BUDGET_UNKNOWN, 0, 0, tk.arg);
		return;
	}
	v = int_at(r, 0);
	tk.cb(v >= BUDGET_OK && v <= BUDGET_CHAT_SPENT ? (enum budget_verdict)v : BUDGET_UNKNOWN,
	      int_at(r, 1), (int)int_at(r, 2), tk.arg);
}

int budget_take(struct budget *b, struct budget_ask *a, int64_t now, budget_cb cb, void *arg)
{
	char k[3][160], f[3][96], num[8][32];
	const char *keys[3] = { k[0], k[1], k[2] };
	const char *av[11];
	struct take *tk = malloc(sizeof *tk);

	if (!tk)
		return -1;
	a->day = (long)(now / DAY_MS);
	a->minute = (long)(now / MINUTE_MS);
	keys_of(b, a, k);
	fields_of(a, f);
	snprintf(num[0], 32, "%lld", (long long)a->est);
	snprintf(num[1], 32, "%d", a->rpm);
	snprintf(num[2], 32, "%d", a->tpm);
	snprintf(num[3], 32, "%lld", a->daily);
	snprintf(num[4], 32, "%lld", a->bot_daily);
	snprintf(num[5], 32, "%lld", a->chat_daily);
	snprintf(num[6], 32, "%lld", (long long)(DAY_MS - now % DAY_MS));
	snprintf(num[7], 32, "%lld", (long long)(MINUTE_MS - now % MINUTE_MS));
	av[0] = f[0];
	av[1] = f[1];
	av[2] = f[2];
	for (int i = 0; i < 8; i++)
		av[3 + i] = num[i];
	tk->cb = cb;
	tk->arg = arg;
	if (ra_eval_src(b->redis, take_src, 3, keys, 11, av, on_take, tk) < 0) {
		free(tk);
		return -1;
	}
	return 0;
}

static void on_settled(redisReply *r, const char *err, void *arg)
{
	(void)r;
	(void)err;
	(void)arg; /* a lost settle leaves the estimate counted: never less than spent */
}

void budget_settle(struct budget *b, const struct budget_ask *a, int64_t delta)
{
	char k[3][160], f[3][96], d[32];
	const char *keys[2] = { k[0], k[1] };
	const char *av[4] = { f[0], f[1], f[2], d };

	if (!delta)
		return;
	keys_of(b, a, k);
	fields_of(a, f);
	snprintf(d, sizeof d, "%lld", (long long)delta);
	(void)ra_eval_src(b->redis, settle_src, 2, keys, 4, av, on_settled, NULL);
}

void budget_pause(struct budget *b, const char *provider, int64_t reset_ms)
{
	char key[160], ms[32];
	const char *av[5] = { "SET", key, "1", "PX", ms };

	if (reset_ms <= 0)
		return;
	snprintf(key, sizeof key, "%s:{spend}:llm:%s:pause", b->prefix, provider);
	snprintf(ms, sizeof ms, "%lld", (long long)reset_ms);
	(void)ra_cmd(b->redis, on_settled, NULL, 0, 5, av);
}

int64_t budget_parse_reset(const char *s)
{
	double total = 0;
	int any = 0;

	if (!s)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	while (*s) {
		char *end;
		double v = strtod(s, &end);
		if (end == s || v < 0)
			return -1;
		s = end;
		if (strncmp(s, "ms", 2) == 0) {
			total += v / 1000.0;
			s += 2;
		} else if (*s == 'h') {
			total += v * 3600.0;
			s++;
		} else if (*s == 'm') {
			total += v * 60.0;
			s++;
		} else if (*s == 's' || *s == '\0' || isspace((unsigned char)*s)) {
			total += v;
			if (*s == 's')
				s++;
		} else
			return -1;
		any = 1;
		while (isspace((unsigned char)*s))
			s++;
	}
	if (!any || total > 86400.0 * 2)
		return -1;
	return (int64_t)(total * 1000.0 + 0.5);
}

const char *budget_verdict_name(enum budget_verdict v)
{
	static const char *const names[] = { "ok", "paced", "provider", "bot", "chat", "unknown" };

	return (unsigned)v <= BUDGET_UNKNOWN ? names[v] : "?";
}
