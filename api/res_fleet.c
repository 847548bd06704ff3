/* res_fleet: see res_fleet.h. */
#include "api/res_fleet.h"

#include "common/log.h"
#include "common/net/httpc.h"
#include "common/net/ra.h"
#include "common/settings.h"
#include "common/shm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- control --- */

static void on_control(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	json_t *out = json_object(), *v;

	if (err) {
		json_decref(out);
		call_db_error(c, err);
		return;
	}
	/* defaults first, then what is stored */
	for (size_t i = 0; i < settings_count(); i++)
		if (!strcmp(settings_key(i), "simulation_active") ||
		    !strcmp(settings_key(i), "scale_factor"))
			json_object_set_new(out, settings_key(i),
					    json_loads(settings_default_text(i), JSON_DECODE_ANY, NULL));
	for (int r = 0; r < PQntuples(res); r++)
		if ((v = json_loads(PQgetvalue(res, r, 1), JSON_DECODE_ANY, NULL)))
			json_object_set_new(out, PQgetvalue(res, r, 0), v);
	call_json(c, 200, out);
}

static const char control_sql[] =
	"SELECT key, value::text FROM settings WHERE key IN ('simulation_active', 'scale_factor')";

void res_control_get(struct call *c)
{
	call_query(c, control_sql, 0, NULL, on_control);
}

struct control {
	int pending; /* PUBLISH answers still to come */
};

static void on_control_published(redisReply *r, const char *err, void *arg)
{
	struct call *c = arg;
	struct control *ct = c->data;

	(void)r;
	if (err)
		log_warn("api: control stored, but the change notice failed: %s", err);
	if (--ct->pending == 0)
		call_query(c, control_sql, 0, NULL, on_control);
}

static void on_control_stored(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	struct control *ct = c->data;
	static const char *const keys[] = { "simulation_active", "scale_factor" };
	char channel[64];

	(void)res;
	if (err) {
		call_db_error(c, err);
		return;
	}
	snprintf(channel, sizeof channel, "%s:settings", c->ctx->cfg->redis_prefix);
	ct->pending = 1; /* held until every PUBLISH is out */
	for (int i = 0; i < 2; i++) {
		const char *argv[3] = { "PUBLISH", channel, keys[i] };
		if (!json_object_get(c->body, keys[i]))
			continue;
		ct->pending++;
		if (ra_cmd(c->ctx->redis, on_control_published, c, 0, 3, argv) < 0)
			on_control_published(NULL, "Redis is not connected", c);
	}
	on_control_published(NULL, NULL, c);
}

void res_control_set(struct call *c)
{
	/* Both keys, their old values and the audit row: one statement. A key left
	 * out of the body is NULL here and not written. */
	static const char sql[] =
		"WITH old AS (SELECT jsonb_object_agg(key, value) AS v FROM settings"
		"  WHERE key IN ('simulation_active', 'scale_factor')),"
		" new(key, value) AS (SELECT * FROM (VALUES ('simulation_active', $1::jsonb),"
		"  ('scale_factor', $2::jsonb)) x(key, value) WHERE value IS NOT NULL),"
		" up AS (INSERT INTO settings (key, value) SELECT key, value FROM new"
		"  ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
		"  WHERE settings.value IS DISTINCT FROM EXCLUDED.value RETURNING key, value)"
		" INSERT INTO audit (actor, action, target, before, after, addr)"
		" SELECT $3, 'control.set', 'control', (SELECT v FROM old),"
		"  jsonb_object_agg(key, value), $4 FROM up HAVING count(*) > 0";
	static const char *const spec[] = { "simulation_active:b", "scale_factor:n", NULL };
	static const char *const keys[] = { "simulation_active", "scale_factor" };
	char *text[2] = { NULL, NULL }, err[512];
	const char *p[4];
	struct control *ct;

	if (call_fields(c, spec) < 0)
		return;
	for (int i = 0; i < 2; i++) {
		json_t *v = json_object_get(c->body, keys[i]);
		if (v && settings_check(keys[i], v, err, sizeof err) < 0) {
			call_problem(c, 422, "Invalid value", keys[i], "%s", err);
			goto out;
		}
		if (v)
			text[i] = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	if (!text[0] && !text[1]) {
		call_problem(c, 422, "Nothing to change", NULL,
			     "give simulation_active, scale_factor or both");
		goto out;
	}
	if (!(ct = calloc(1, sizeof *ct))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		goto out;
	}
	c->data = ct;
	p[0] = text[0];
	p[1] = text[1];
	p[2] = c->actor;
	p[3] = req_addr(c->rq);
	call_query(c, sql, 4, p, on_control_stored);
out:
	free(text[0]);
	free(text[1]);
}

/* --- fleet --- */

static void on_status(const struct httpc_resp *r, void *arg)
{
	struct call *c = arg;
	json_t *j;

	if (r->err_kind != HTTPC_OK || r->status != 200 ||
	    !(j = json_loadb(r->body, r->body_len, 0, NULL))) {
		call_problem(c, 503, "Supervisor unavailable", NULL,
			     "the supervisor's /status did not answer (%s)",
			     r->err_kind != HTTPC_OK ? r->err : "bad answer");
		return;
	}
	call_json(c, 200, j);
}

void res_fleet_status(struct call *c)
{
	const struct cfg *cfg = c->ctx->cfg;
	char url[160];
	struct httpc_req hr = { 0 };

	if (!cfg->http_port) {
		call_problem(c, 503, "Supervisor unavailable", NULL,
			     "http_port is 0: the supervisor serves no /status");
		return;
	}
	snprintf(url, sizeof url, "http://%s:%d/status",
		 strcmp(cfg->http_bind, "0.0.0.0") ? cfg->http_bind : "127.0.0.1", cfg->http_port);
	hr.method = "GET";
	hr.url = url;
	hr.timeout_ms = 2000;
	hr.connect_timeout_ms = 1000;
	if (httpc_request(c->ctx->http, &hr, on_status, c) < 0)
		call_problem(c, 500, "Internal error", NULL, "cannot ask the supervisor");
}

struct resize {
	int workers;
	char before[32];
};

static void on_resize_audited(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	struct resize *rs = c->data;

	(void)res;
	if (err) {
		call_db_error(c, err);
		return;
	}
	shm_ask_workers(shm_slot(c->ctx->shm, SHM_API_SLOT), rs->workers);
	call_json(c, 202, json_pack("{s:i, s:s}", "workers", rs->workers, "status", "asked"));
}

static void on_fleet_count(redisReply *r, const char *err, void *arg)
{
	static const char sql[] = "INSERT INTO audit (actor, action, target, before, after, addr)"
				  " VALUES ($1, 'fleet.resize', 'fleet', $2::jsonb, $3::jsonb, $4)";
	struct call *c = arg;
	struct resize *rs = c->data;
	char before[64], after[64];
	const char *p[4] = { c->actor, before, after, req_addr(c->rq) };

	(void)err;
	/* The size before, as the fleet's hash in Redis says (null when unknown). */
	if (r && r->type == REDIS_REPLY_STRING)
		snprintf(before, sizeof before, "{\"workers\": %d}", atoi(r->str));
	else
		snprintf(before, sizeof before, "null");
	snprintf(after, sizeof after, "{\"workers\": %d}", rs->workers);
	call_query(c, sql, 4, p, on_resize_audited);
}

void res_fleet_resize(struct call *c)
{
	static const char *const spec[] = { "workers:i!", NULL };
	json_int_t n;
	struct resize *rs;
	char key[64];
	const char *argv[3] = { "HGET", key, "count" };

	if (call_fields(c, spec) < 0)
		return;
	n = json_integer_value(json_object_get(c->body, "workers"));
	if (n < 1 || n > SHM_MAX_WORKERS) {
		call_problem(c, 422, "Invalid value", "workers", "workers: %lld is outside 1..%d",
			     (long long)n, SHM_MAX_WORKERS);
		return;
	}
	if (!c->ctx->shm) {
		call_problem(c, 503, "Not supervised", NULL,
			     "this piyasa-api runs without a supervisor: nobody to resize");
		return;
	}
	if (!(rs = calloc(1, sizeof *rs))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	rs->workers = (int)n;
	c->data = rs;
	snprintf(key, sizeof key, "%s:fleet", c->ctx->cfg->redis_prefix);
	if (ra_cmd(c->ctx->redis, on_fleet_count, c, 0, 3, argv) < 0)
		on_fleet_count(NULL, "Redis is not connected", c);
}

/* --- queues --- */

/* Per worker of the fleet (P:fleet count): the three queues, leased, delayed.
 * One script, so the numbers are of one moment. */
static const char queues_lua[] =
	"local p = ARGV[1]\n"
	"local n = tonumber(redis.call('HGET', p .. ':fleet', 'count') or '0') or 0\n"
	"local out = {}\n"
	"for w = 0, n - 1 do\n"
	"  local k = p .. ':{w' .. w .. '}:'\n"
	"  out[#out + 1] = {redis.call('LLEN', k .. 'q:high'), redis.call('LLEN', k .. 'q:normal'),\n"
	"    redis.call('LLEN', k .. 'q:low'), redis.call('ZCARD', k .. 'leased'),\n"
	"    redis.call('ZCARD', k .. 'delayed')}\n"
	"end\n"
	"return out\n";

static void on_queues(redisReply *r, const char *err, void *arg)
{
	struct call *c = arg;
	static const char *const names[] = { "high", "normal", "low", "leased", "delayed" };
	long long total[5] = { 0 };
	json_t *workers = json_array(), *tot = json_object();

	if (!r || r->type != REDIS_REPLY_ARRAY) {
		json_decref(workers);
		json_decref(tot);
		call_problem(c, 503, "Redis unavailable", NULL, "the queues cannot be read: %s",
			     err                                 ? err
			     : r && r->type == REDIS_REPLY_ERROR ? r->str
								 : "odd reply");
		return;
	}
	for (size_t w = 0; w < r->elements; w++) {
		redisReply *e = r->element[w];
		json_t *o = json_pack("{s:i}", "worker", (int)w);
		for (size_t k = 0; k < 5 && e->type == REDIS_REPLY_ARRAY && k < e->elements; k++) {
			json_object_set_new(o, names[k], json_integer(e->element[k]->integer));
			total[k] += e->element[k]->integer;
		}
		json_array_append_new(workers, o);
	}
	for (int k = 0; k < 5; k++)
		json_object_set_new(tot, names[k], json_integer(total[k]));
	call_json(c, 200, json_pack("{s:o, s:o}", "total", tot, "workers", workers));
}

void res_queues(struct call *c)
{
	const char *argv[1] = { c->ctx->cfg->redis_prefix };

	if (ra_eval_src(c->ctx->redis, queues_lua, 0, NULL, 1, argv, on_queues, c) < 0)
		call_problem(c, 503, "Redis unavailable", NULL, "Redis is not connected");
}
