/* memo: a memorize job (low priority, queued by the market every
 * memorize_interval messages of a bot) asks the LLM to distil the bot's recent
 * messages into a few memories, stores the new ones and lets the old fade as
 * BEHAVIOUR.md "Memories" says: over 180 days old, -10% relevance once a month;
 * under .3 relevance, used fewer than 2 times and unused for 6 months: gone; at
 * most 50 per bot. Fading runs here, per bot, whenever the bot memorizes, so no
 * fleet-wide sweep is needed. An answer that is not the JSON asked for stores
 * nothing and is not retried: memories are a nicety, not a duty. */
#include "worker/chat/memo.h"

#include "common/cast.h"
#include "common/log.h"
#include "common/utf8.h"
#include "worker/chat/bots.h"
#include "worker/jobs/task.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMO_MAX_NEW 3

static void on_capped(PGresult *res, const char *err, void *arg)
{
	struct task *t = arg;

	(void)res; /* a cap missed now is kept by the bot's next memorize job */
	(void)err;
	bots_invalidate(task_data(t), task_job(t)->bot_id);
	task_finish(t, SHM_OUT_SENT);
}

static void on_stored(PGresult *res, const char *err, void *arg)
{
	/* The cap once more, in a statement of its own: memorize jobs of one bot
	 * running at once each capped what their own snapshot held, and together
	 * left more than 50 (the memories test saw 52). This one sees them all;
	 * rows another statement holds are skipped, not waited for (no 40P01). */
	static const char cap[] =
		"DELETE FROM bot_memories WHERE id IN (SELECT id FROM bot_memories WHERE id IN "
		"(SELECT id FROM bot_memories WHERE bot_id = $1 "
		"ORDER BY relevance_score DESC, id DESC OFFSET 50) ORDER BY id FOR UPDATE SKIP LOCKED)";
	struct task *t = arg;
	char bot[24];
	const char *p[1] = { bot };

	if (!res) {
		task_retry(t, -1);
		(void)err;
		return;
	}
	shm_count(task_slot(t), SHM_C_MEMORIES, (uint64_t)atoll(PQgetvalue(res, 0, 0)));
	snprintf(bot, sizeof bot, "%lld", (long long)task_job(t)->bot_id);
	task_query(t, cap, 1, p, on_capped);
}

/* The first JSON array in text (models wrap answers in prose or fences). */
static json_t *array_in(const char *text)
{
	const char *a = strchr(text, '['), *b = strrchr(text, ']');

	if (!a || !b || b < a)
		return NULL;
	return json_loadb(a, (size_t)(b - a + 1), 0, NULL);
}

static void on_summary(struct task *t, char *text)
{
	static const char sql[] =
		"WITH new AS (SELECT x->>'memory_type' AS memory_type, x->>'content' AS content "
		"FROM json_array_elements($2::json) x), "
		"ins AS (INSERT INTO bot_memories (bot_id, memory_type, content) "
		"SELECT $1, n.memory_type, n.content FROM new n WHERE NOT EXISTS "
		"(SELECT 1 FROM bot_memories m WHERE m.bot_id = $1 AND m.content = n.content) "
		"RETURNING id), "
		"fade AS (UPDATE bot_memories SET relevance_score = relevance_score * 0.9, "
		"faded_at = now() WHERE bot_id = $1 AND created_at < now() - interval '180 days' "
		"AND coalesce(faded_at, created_at) < now() - interval '30 days' RETURNING id), "
		"gone AS (DELETE FROM bot_memories WHERE bot_id = $1 AND relevance_score < 0.3 "
		"AND usage_count < 2 AND coalesce(last_used_at, created_at) < now() - interval '6 months' "
		"RETURNING id), "
		/* The statement's snapshot holds neither the rows ins adds nor those gone
		 * takes: the cap counts the first and leaves the second out, or a bot
		 * kept 50 plus each job's new ones (the memories test saw 52). */
		"over AS (DELETE FROM bot_memories WHERE id IN (SELECT id FROM bot_memories "
		"WHERE bot_id = $1 AND id NOT IN (SELECT id FROM gone) "
		"ORDER BY relevance_score DESC, id DESC "
		"OFFSET greatest(0, 50 - (SELECT count(*) FROM ins))) RETURNING id) "
		"SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM fade), "
		"(SELECT count(*) FROM gone), (SELECT count(*) FROM over)";
	json_t *arr = array_in(text), *keep = json_array(), *m;
	struct log_ctx c = task_log_ctx(t);
	char bot[24], why[256], *json;
	size_t i;

	free(text);
	json_array_foreach(arr, i, m) {
		if (json_array_size(keep) >= MEMO_MAX_NEW)
			break;
		if (cast_check_memory(m, "memory", why, sizeof why) == 0)
			json_array_append(keep, m);
		else
			log_msg(LOG_INFO, &c, "memory refused: %s", why);
	}
	json_decref(arr);
	if (json_array_size(keep) == 0) {
		json_decref(keep);
		log_msg(LOG_INFO, &c, "memorize: the answer held no memory");
		task_finish(t, SHM_OUT_SKIPPED);
		return;
	}
	json = json_dumps(keep, JSON_COMPACT);
	json_decref(keep);
	snprintf(bot, sizeof bot, "%lld", (long long)task_job(t)->bot_id);
	{
		const char *p[2] = { bot, json };
		if (!json)
			task_retry(t, -1);
		else
			task_query(t, sql, 2, p, on_stored);
	}
	free(json);
}

static void on_recent(PGresult *res, const char *err, void *arg)
{
	struct task *t = arg;
	struct llmw_params par = { 0.4, 1.0, 0, 0, 300 };
	char *user = NULL, *lines = NULL, *sys;
	size_t len = 0;
	FILE *f;

	if (!res) {
		task_retry(t, -1);
		(void)err;
		return;
	}
	if (PQntuples(res) == 0) {
		task_finish(t, SHM_OUT_SKIPPED);
		return;
	}
	if (!(f = open_memstream(&lines, &len))) {
		task_retry(t, -1);
		return;
	}
	for (int i = PQntuples(res) - 1; i >= 0; i--) {
		char line[301]; /* a cut inside a character: the LLM request fails */

		utf8_cut(line, sizeof line, PQgetvalue(res, i, 0));
		fprintf(f, "- %s\n", line);
	}
	fclose(f);
	sys = strdup("HAFIZA ÖZETİ. Bir piyasa sohbet grubundaki bir kişinin son mesajları "
		     "verilecek. Bu kişi hakkında hatırlanmaya değer en fazla 3 şeyi çıkar. "
		     "Yalnızca bir JSON dizisi yaz: [{\"memory_type\": \"personal_fact\"|"
		     "\"past_event\"|\"relationship\"|\"preference\"|\"routine\", "
		     "\"content\": \"kısa bir cümle\"}]");
	if (asprintf(&user, "%s adlı kişinin son mesajları:\n%s", task_bot_name(t), lines) < 0)
		user = NULL;
	free(lines);
	task_llm(t, TASK_LLM_MEMORIZE, sys, user, &par, on_summary);
}

static void on_bot(const void *val, const char *err, void *arg)
{
	static const char sql[] = "SELECT text FROM messages WHERE bot_id = $1 AND status = 'sent' "
				  "ORDER BY sent_at DESC LIMIT 20";
	const struct bot *b = val;
	struct task *t = arg;
	char bot[24], why[96];
	const char *p[1] = { bot };

	switch (bots_check(b, err, task_job(t)->bot_id, why, sizeof why)) {
	case 1: task_retry(t, -1); return;
	case -1: task_dead(t, why); return;
	}
	task_set_bot(t, b->name, b->token);
	snprintf(bot, sizeof bot, "%lld", (long long)task_job(t)->bot_id);
	task_query(t, sql, 1, p, on_recent);
}

/* The task's data is the bots cache (nothing of its own to free). */
static void on_start(struct task *t, void *arg)
{
	task_set_data(t, arg);
	bots_get(arg, task_job(t)->bot_id, on_bot, t);
}

static void on_clear(struct task *t, void *arg)
{
	(void)arg;
	task_set_data(t, NULL);
}

void memo_kind(struct bots *bots, struct task_kind *kind)
{
	*kind = (struct task_kind){ .start = on_start, .clear = on_clear, .arg = bots };
}
