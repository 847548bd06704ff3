/* res_settings: see res_settings.h. */
#include "api/res_settings.h"

#include "common/cast.h"
#include "common/log.h"
#include "common/net/ra.h"
#include "common/settings.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int known(const char *key, size_t *idx)
{
	for (size_t i = 0; i < settings_count(); i++)
		if (!strcmp(settings_key(i), key)) {
			*idx = i;
			return 1;
		}
	return 0;
}

/* One setting as the API shows it: value (stored or default), default,
 * source, range, meaning. stored may be NULL. */
static json_t *entry(size_t i, json_t *stored, const char *updated_at)
{
	json_t *dflt = json_loads(settings_default_text(i), JSON_DECODE_ANY, NULL), *range;
	double lo, hi;

	range = settings_range(settings_key(i), &lo, &hi)
			? json_pack("{s:f, s:f}", "min", lo, "max", hi)
			: json_null();
	return json_pack("{s:s, s:O, s:o, s:s, s:o, s:s, s:s?}", "key", settings_key(i), "value",
			 stored ? stored : dflt, "default", dflt ? dflt : json_null(), "source",
			 stored ? "set" : "default", "range", range, "description",
			 settings_help(i), "updated_at", updated_at);
}

static void on_list(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	json_t *out = json_array();

	if (err) {
		call_db_error(c, err);
		json_decref(out);
		return;
	}
	for (size_t i = 0; i < settings_count(); i++) {
		json_t *stored = NULL;
		const char *at = NULL;
		for (int r = 0; r < PQntuples(res); r++)
			if (!strcmp(PQgetvalue(res, r, 0), settings_key(i))) {
				stored = json_loads(PQgetvalue(res, r, 1), JSON_DECODE_ANY, NULL);
				at = PQgetvalue(res, r, 2);
			}
		json_array_append_new(out, entry(i, stored, at));
		json_decref(stored);
	}
	call_json(c, 200, json_pack("{s:o}", "settings", out));
}

#define ISO_AT(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

void res_settings_list(struct call *c)
{
	call_query(c, "SELECT key, value::text, " ISO_AT("updated_at") " FROM settings", 0, NULL,
		   on_list);
}

static void on_get(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	json_t *stored = NULL;
	size_t i = 0;

	if (err) {
		call_db_error(c, err);
		return;
	}
	known(c->params[0], &i);
	if (PQntuples(res))
		stored = json_loads(PQgetvalue(res, 0, 0), JSON_DECODE_ANY, NULL);
	call_json(c, 200, entry(i, stored, PQntuples(res) ? PQgetvalue(res, 0, 1) : NULL));
	json_decref(stored);
}

static int known_or_404(struct call *c, size_t *i)
{
	if (known(c->params[0], i))
		return 1;
	call_problem(c, 404, "No such setting", "key",
		     "no setting '%s' (GET /api/v1/settings lists them)", c->params[0]);
	return 0;
}

void res_settings_get(struct call *c)
{
	const char *p[1] = { c->params[0] };
	size_t i = 0;

	if (!known_or_404(c, &i))
		return;
	call_query(c, "SELECT value::text, " ISO_AT("updated_at") " FROM settings WHERE key = $1",
		   1, p, on_get);
}

/* The change is stored; announce it as piyasactl does, and answer. */
struct set_state {
	char key[64];
	char *value;
	int changed;
};

static void on_published(redisReply *r, const char *err, void *arg)
{
	struct call *c = arg;
	struct set_state *st = c->data;
	json_t *v = json_loads(st->value, JSON_DECODE_ANY, NULL);
	long long n = r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;

	if (n < 0)
		log_warn("api: settings %s stored, but the change notice failed: %s", st->key,
			 err ? err : "odd reply");
	free(st->value);
	call_json(c, 200,
		  json_pack("{s:s, s:o, s:b, s:o}", "key", st->key, "value", v ? v : json_null(),
			    "changed", st->changed, "notified",
			    n >= 0 ? json_integer(n) : json_null()));
}

static void publish(struct call *c)
{
	struct set_state *st = c->data;
	char channel[64];
	const char *argv[3] = { "PUBLISH", channel, st->key };

	snprintf(channel, sizeof channel, "%s:settings", c->ctx->cfg->redis_prefix);
	if (ra_cmd(c->ctx->redis, on_published, c, 0, 3, argv) < 0)
		on_published(NULL, "Redis is not connected", c);
}

static void on_stored(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	struct set_state *st = c->data;

	if (err) {
		free(st->value);
		call_db_error(c, err);
		return;
	}
	st->changed = PQntuples(res) && strtol(PQgetvalue(res, 0, 0), NULL, 10) > 0;
	publish(c);
}

void res_settings_set(struct call *c)
{
	/* The old value, the new one and the audit row in one statement: one
	 * transaction. A write that changes nothing leaves updated_at alone and
	 * writes no audit row. */
	static const char sql[] =
		"WITH old AS (SELECT value FROM settings WHERE key = $1),"
		" up AS (INSERT INTO settings (key, value) VALUES ($1, $2::jsonb)"
		"  ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
		"  WHERE settings.value IS DISTINCT FROM EXCLUDED.value RETURNING value),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $3, 'settings.set', $1, (SELECT value FROM old), up.value, $4 FROM up)"
		" SELECT count(*) FROM up";
	static const char *const spec[] = { "value:j!", NULL };
	struct set_state *st;
	char err[512];
	const char *p[4];
	size_t i = 0;

	if (!known_or_404(c, &i) || call_fields(c, spec) < 0)
		return;
	if (settings_check(c->params[0], json_object_get(c->body, "value"), err, sizeof err) < 0) {
		call_problem(c, 422, "Invalid value", "value", "%s", err);
		return;
	}
	if (!(st = calloc(1, sizeof *st))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	c->data = st;
	snprintf(st->key, sizeof st->key, "%s", c->params[0]);
	st->value = json_dumps(json_object_get(c->body, "value"),
			       JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
	p[0] = st->key;
	p[1] = st->value;
	p[2] = c->actor;
	p[3] = req_addr(c->rq);
	if (!st->value) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	if (call_query(c, sql, 4, p, on_stored) < 0) {
		free(st->value);
		st->value = NULL;
	}
}

static void on_unset(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	struct set_state *st = c->data;
	size_t i = 0;

	if (err) {
		call_db_error(c, err);
		return;
	}
	st->changed = PQntuples(res) && strtol(PQgetvalue(res, 0, 0), NULL, 10) > 0;
	/* The answer's value is the default the workers use from now on. */
	known(st->key, &i);
	st->value = strdup(settings_default_text(i));
	publish(c);
}

void res_settings_unset(struct call *c)
{
	static const char sql[] =
		"WITH d AS (DELETE FROM settings WHERE key = $1 RETURNING value),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $2, 'settings.unset', $1, d.value, NULL, $3 FROM d)"
		" SELECT count(*) FROM d";
	struct set_state *st;
	const char *p[3];
	size_t i = 0;

	if (!known_or_404(c, &i))
		return;
	if (!(st = calloc(1, sizeof *st))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	c->data = st;
	snprintf(st->key, sizeof st->key, "%s", c->params[0]);
	p[0] = st->key;
	p[1] = c->actor;
	p[2] = req_addr(c->rq);
	call_query(c, sql, 3, p, on_unset);
}
