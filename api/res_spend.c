/* res_spend: see res_spend.h. */
#include "api/res_spend.h"

#include "common/shm.h"

#include <stdio.h>

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

void res_spend(struct call *c)
{
	static const char *const outcomes[] = { "ok", "429", "5xx", "timeout", "error" };
	const struct cfg *cfg = c->ctx->cfg;
	json_t *out = json_array();
	int workers = 0;

	if (no_shm(c)) {
		json_decref(out);
		return;
	}
	for (int i = 0; i < SHM_MAX_WORKERS; i++)
		workers += live(c->ctx->shm, i) != NULL;
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
				  (json_int_t)n[SHM_P_COMPLETION_TOKENS], "daily_tokens_per_worker",
				  cfg->providers[p].daily_tokens
					  ? json_integer((json_int_t)cfg->providers[p].daily_tokens)
					  : json_null()));
	}
	call_json(c, 200, json_pack("{s:i, s:o}", "workers", workers, "providers", out));
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
