/* res_profile: see res_profile.h. */
#include "api/res_profile.h"

#include "common/cast.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "path: why" from cast, answered 422 with the path. */
static void refuse(struct call *c, const char *err)
{
	const char *colon = strstr(err, ": ");
	char field[160];

	snprintf(field, sizeof field, "%.*s", colon ? (int)(colon - err) : (int)strlen(err), err);
	call_problem(c, 422, "Invalid value", field, "%s", err);
}

static int bot_id_ok(struct call *c)
{
	const char *s = c->params[0];

	if (*s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 18)
		return 1;
	call_problem(c, 404, "Not found", "id", "no bot %.40s", s);
	return 0;
}

/* Every write below also moves the bot's updated_at (the CTE t): stances,
 * holdings and memories are in its prompt, and a draft kept with a job is
 * dropped when its bot's updated_at has moved on since (PERSONAS.md "A draft
 * is paid for once"). */
static void on_done(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;

	if (err) {
		if (!strncmp(err, "23503", 5)) /* the bot is not there */
			call_problem(c, 404, "Not found", "id", "no bot %s", c->params[0]);
		else
			call_db_error(c, err);
		return;
	}
	if (!PQntuples(res)) {
		call_problem(c, 404, "Not found", NULL, "nothing to change there");
		return;
	}
	call_bots_changed(c, c->params[0]); /* the prompt has stances, holdings, memories */
	call_json(c, 200, call_row(res, 0));
}

/* The body with the path's key added (topic, symbol), checked by fn; its JSON
 * text in *out (free it), or -1 after answering. */
static int checked(struct call *c, const char *key, const char *value,
		   int (*fn)(const json_t *, const char *, char *, size_t), char **out)
{
	json_t *v = c->body ? json_deep_copy(c->body) : json_object();
	char err[512];

	if (key) {
		if (json_object_get(v, key)) {
			json_decref(v);
			call_problem(c, 422, "Unknown field", key, "%s: it is in the path", key);
			return -1;
		}
		json_object_set_new(v, key, json_string(value));
	}
	if (fn(v, "", err, sizeof err) < 0) {
		json_decref(v);
		/* cast names the field after the empty path: ".confidence: ..." */
		refuse(c, err[0] == '.' ? err + 1 : err);
		return -1;
	}
	*out = json_dumps(v, JSON_COMPACT);
	json_decref(v);
	return *out ? 0 : -1;
}

/* A stance or holding put, a memory added: the body, with the path's key
 * (params[1]) added when key is given, checked as `piyasactl import` checks it,
 * then sql with $1 bot id, $2 the checked JSON, $3 actor, $4 address. */
static void put_checked(struct call *c, const char *key,
			int (*fn)(const json_t *, const char *, char *, size_t), const char *sql)
{
	char *body;
	const char *p[4];

	if (!bot_id_ok(c) || checked(c, key, c->params[1], fn, &body) < 0)
		return;
	p[0] = c->params[0];
	p[1] = body;
	p[2] = c->actor;
	p[3] = req_addr(c->rq);
	call_query(c, sql, 4, p, on_done);
	free(body);
}

void res_stance_put(struct call *c)
{
	static const char sql[] =
		"WITH v AS (SELECT $2::jsonb AS j),"
		" old AS (SELECT to_jsonb(s) - 'bot_id' AS o FROM bot_stances s"
		"  WHERE bot_id = $1::bigint AND topic = (SELECT j->>'topic' FROM v)),"
		" up AS (INSERT INTO bot_stances (bot_id, topic, stance_text, confidence, cooldown_until)"
		"  SELECT $1::bigint, j->>'topic', j->>'stance_text', COALESCE((j->>'confidence')::real, 0.5),"
		"  (j->>'cooldown_until')::timestamptz FROM v"
		"  ON CONFLICT (bot_id, topic) DO UPDATE SET stance_text = EXCLUDED.stance_text,"
		"  confidence = EXCLUDED.confidence,"
		"  cooldown_until = COALESCE(EXCLUDED.cooldown_until, bot_stances.cooldown_until)"
		"  RETURNING *),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $3, 'bot.stance.put', 'bot:' || up.bot_id, (SELECT o FROM old),"
		"  to_jsonb(up) - 'bot_id', $4 FROM up),"
		" t AS (UPDATE bots SET updated_at = now() WHERE id IN (SELECT bot_id FROM up))"
		" SELECT topic, stance_text, confidence, cooldown_until::text FROM up";
	put_checked(c, "topic", cast_check_stance, sql);
}

void res_holding_put(struct call *c)
{
	static const char sql[] =
		"WITH v AS (SELECT $2::jsonb AS j),"
		" old AS (SELECT to_jsonb(h) - 'bot_id' AS o FROM bot_holdings h"
		"  WHERE bot_id = $1::bigint AND symbol = (SELECT j->>'symbol' FROM v)),"
		" up AS (INSERT INTO bot_holdings (bot_id, symbol, avg_price, size, note)"
		"  SELECT $1::bigint, j->>'symbol', (j->>'avg_price')::numeric, (j->>'size')::numeric,"
		"  j->>'note' FROM v"
		"  ON CONFLICT (bot_id, symbol) DO UPDATE SET avg_price = EXCLUDED.avg_price,"
		"  size = EXCLUDED.size, note = EXCLUDED.note RETURNING *),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $3, 'bot.holding.put', 'bot:' || up.bot_id, (SELECT o FROM old),"
		"  to_jsonb(up) - 'bot_id', $4 FROM up),"
		" t AS (UPDATE bots SET updated_at = now() WHERE id IN (SELECT bot_id FROM up))"
		" SELECT symbol, avg_price, size, note FROM up";
	put_checked(c, "symbol", cast_check_holding, sql);
}

void res_memory_add(struct call *c)
{
	static const char sql[] =
		"WITH v AS (SELECT $2::jsonb AS j),"
		" ins AS (INSERT INTO bot_memories (bot_id, memory_type, content, relevance_score,"
		"  usage_count) SELECT $1::bigint, j->>'memory_type', j->>'content',"
		"  COALESCE((j->>'relevance_score')::real, 1.0), COALESCE((j->>'usage_count')::int, 0)"
		"  FROM v RETURNING *),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $3, 'bot.memory.add', 'bot:' || ins.bot_id, NULL, to_jsonb(ins) - 'bot_id', $4"
		"  FROM ins),"
		" t AS (UPDATE bots SET updated_at = now() WHERE id IN (SELECT bot_id FROM ins))"
		" SELECT id, memory_type, content, relevance_score, usage_count FROM ins";

	put_checked(c, NULL, cast_check_memory, sql);
}

/* DELETE of one row of table by its key column; the row goes to the audit. */
static void del(struct call *c, const char *sql)
{
	const char *p[4] = { c->params[0], c->params[1], c->actor, req_addr(c->rq) };

	if (bot_id_ok(c))
		call_query(c, sql, 4, p, on_done);
}

void res_stance_delete(struct call *c)
{
	del(c, "WITH d AS (DELETE FROM bot_stances WHERE bot_id = $1::bigint AND topic = $2"
	       " RETURNING *),"
	       " a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
	       "  SELECT $3, 'bot.stance.delete', 'bot:' || d.bot_id, to_jsonb(d) - 'bot_id', NULL, $4"
	       "  FROM d),"
	       " t AS (UPDATE bots SET updated_at = now() WHERE id IN (SELECT bot_id FROM d))"
	       " SELECT topic, true AS deleted FROM d");
}

void res_holding_delete(struct call *c)
{
	del(c, "WITH d AS (DELETE FROM bot_holdings WHERE bot_id = $1::bigint AND symbol = $2"
	       " RETURNING *),"
	       " a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
	       "  SELECT $3, 'bot.holding.delete', 'bot:' || d.bot_id, to_jsonb(d) - 'bot_id', NULL,"
	       "  $4 FROM d),"
	       " t AS (UPDATE bots SET updated_at = now() WHERE id IN (SELECT bot_id FROM d))"
	       " SELECT symbol, true AS deleted FROM d");
}

void res_memory_delete(struct call *c)
{
	const char *s = c->params[1];

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18) {
		call_problem(c, 404, "Not found", "mid", "no memory %.40s", s);
		return;
	}
	del(c, "WITH d AS (DELETE FROM bot_memories WHERE bot_id = $1::bigint AND id = $2::bigint"
	       " RETURNING *),"
	       " a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
	       "  SELECT $3, 'bot.memory.delete', 'bot:' || d.bot_id, to_jsonb(d) - 'bot_id', NULL,"
	       "  $4 FROM d),"
	       " t AS (UPDATE bots SET updated_at = now() WHERE id IN (SELECT bot_id FROM d))"
	       " SELECT id, true AS deleted FROM d");
}
