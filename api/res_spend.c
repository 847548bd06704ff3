/* res_spend: see res_spend.h. */
#include "api/res_spend.h"

#include "common/net/ra.h"
#include "common/shm.h"

#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const breaker_names[] = { "closed", "open", "half-open" };

static const char *breaker_name(int64_t v)
{
	return v >= 0 && v <= 2 ? breaker_names[v] : "unknown";
}

/* A worker slot with a live process, or NULL. */
static struct shm_slot *live(struct shm *shm, int i)
{
	struct shm_slot *sl = shm_slot(shm, i);

	if (!sl || !shm_load_i32(&sl->pid))
		return NULL;
	return shm_load_i32(&sl->state) == SHM_READY || shm_load_i32(&sl->state) == SHM_DRAINING
		       ? sl
		       : NULL;
}

static int no_shm(struct call *c)
{
	if (c->ctx->shm)
		return 0;
	call_problem(c, 503, "Not supervised", NULL,
		     "this piyasa-api runs without a supervisor: no shared memory to read");
	return 1;
}

/* The fleet's spend by day from the budgets' day hashes in Redis
 * (worker/calls/budget.h: P:{spend}:D, fields llm:NAME, bot:ID, chat:ID; each
 * kept 3 days). ARGV: prefix, today's day number, how many days back. */
static const char days_lua[] =
	"local out = {}\n"
	"for d = 0, tonumber(ARGV[3]) - 1 do\n"
	"  local day = tonumber(ARGV[2]) - d\n"
	"  out[#out + 1] = {day, redis.call('HGETALL', ARGV[1] .. ':{spend}:' .. day)}\n"
	"end\n"
	"return out\n";

#define SPEND_DAYS_KEPT 3 /* budget.c's EXPIRE: 3 days */

/* Fields "llm:NAME", "bot:ID", "chat:ID" of one day into its three maps. */
static json_t *day_json(const redisReply *r)
{
	const redisReply *f = r->element[1];
	json_t *llm = json_object(), *bots = json_object(), *chats = json_object();
	char date[16];
	time_t t = (time_t)r->element[0]->integer * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%Y-%m-%d", &tm);
	for (size_t i = 0; f->type == REDIS_REPLY_ARRAY && i + 1 < f->elements; i += 2) {
		const char *k = f->element[i]->str, *v = f->element[i + 1]->str;
		json_t *n;

		if (!k || !v)
			continue;
		n = json_integer(strtoll(v, NULL, 10));
		if (strncmp(k, "llm:", 4) == 0)
			json_object_set_new(llm, k + 4, n);
		else if (strncmp(k, "bot:", 4) == 0)
			json_object_set_new(bots, k + 4, n);
		else if (strncmp(k, "chat:", 5) == 0)
			json_object_set_new(chats, k + 5, n);
		else
			json_decref(n); /* told:FIELD: the once-a-day log mark */
	}
	return json_pack("{s:s, s:o, s:o, s:o}", "date", date, "providers", llm, "bots", bots,
			 "chats", chats);
}

/* Per provider, from the running workers' slots. */
static json_t *providers_json(struct call *c, int *workers)
{
	static const char *const outcomes[] = { "ok", "429", "5xx", "timeout", "error" };
	const struct cfg *cfg = c->ctx->cfg;
	json_t *out = json_array();

	*workers = 0;
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		*workers += live(c->ctx->shm, i) != NULL;
	for (int p = 0; p < cfg->nproviders && p < SHM_MAX_PROVIDERS; p++) {
		uint64_t n[SHM_P_COUNT] = { 0 };
		json_t *calls = json_object();

		for (int i = 0; i < SHM_MAX_WORKERS; i++) {
			struct shm_slot *sl = live(c->ctx->shm, i);
			for (int k = 0; sl && k < SHM_P_COUNT; k++)
				n[k] += shm_load(&sl->pcounters[p][k]);
		}
		for (int o = 0; o < 5; o++)
			json_object_set_new(calls, outcomes[o],
					    json_integer((json_int_t)n[SHM_P_CALLS_OK + o]));
		json_array_append_new(
			out,
			json_pack("{s:s, s:s, s:o, s:I, s:I, s:o}", "provider", cfg->providers[p].name,
				  "model", cfg->providers[p].model, "calls", calls, "prompt_tokens",
				  (json_int_t)n[SHM_P_PROMPT_TOKENS], "completion_tokens",
				  (json_int_t)n[SHM_P_COMPLETION_TOKENS], "daily_tokens",
				  cfg->providers[p].daily_tokens
					  ? json_integer((json_int_t)cfg->providers[p].daily_tokens)
					  : json_null()));
	}
	return out;
}

static void on_days(redisReply *r, const char *err, void *arg)
{
	struct call *c = arg;
	json_t *days = json_array(), *providers;
	int workers;

	for (size_t i = 0; r && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *d = r->element[i];

		if (d->type == REDIS_REPLY_ARRAY && d->elements == 2 &&
		    d->element[0]->type == REDIS_REPLY_INTEGER)
			json_array_append_new(days, day_json(d));
	}
	providers = providers_json(c, &workers);
	/* Redis down: the shared memory's figures still answer, the days are
	 * empty and days_error says why. */
	call_json(c, 200,
		  json_pack("{s:i, s:o, s:o, s:o}", "workers", workers, "providers", providers,
			    "days", days, "days_error",
			    err ? json_string("Redis did not answer") : json_null()));
}

void res_spend(struct call *c)
{
	long long ndays;
	char prefix[160], today[24], nd[8];
	const char *argv[6] = { "EVAL", days_lua, "0", prefix, today, nd };

	if (call_arg_int(c, "days", 1, 1, SPEND_DAYS_KEPT, &ndays) < 0 || no_shm(c))
		return;
	snprintf(prefix, sizeof prefix, "%s", c->ctx->cfg->redis_prefix);
	snprintf(today, sizeof today, "%lld", (long long)(time(NULL) / 86400));
	snprintf(nd, sizeof nd, "%lld", ndays);
	if (ra_cmd(c->ctx->redis, on_days, c, 0, 6, argv) < 0)
		on_days(NULL, "Redis is not connected", c);
}

void res_breakers(struct call *c)
{
	const struct cfg *cfg = c->ctx->cfg;
	json_t *workers = json_array();

	if (no_shm(c)) {
		json_decref(workers);
		return;
	}
	for (int i = 0; i < SHM_MAX_WORKERS; i++) {
		struct shm_slot *sl = live(c->ctx->shm, i);
		json_t *llm;

		if (!sl)
			continue;
		llm = json_object();
		for (int p = 0; p < cfg->nproviders && p < SHM_MAX_PROVIDERS; p++)
			json_object_set_new(llm, cfg->providers[p].name,
					    json_string(breaker_name(shm_load_i64(&sl->pbreaker[p]))));
		json_array_append_new(
			workers, json_pack("{s:i, s:s, s:o}", "worker", i, "telegram",
					   breaker_name(shm_load_i64(&sl->gauges[SHM_G_TG_BREAKER])),
					   "llm", llm));
	}
	call_json(c, 200, json_pack("{s:o}", "workers", workers));
}
