/* app: see app.h. */
#include "api/app.h"

#include "api/access.h"
#include "api/res_bots.h"
#include "api/res_console.h"
#include "api/res_dead.h"
#include "api/res_fleet.h"
#include "api/res_messages.h"
#include "api/res_profile.h"
#include "api/res_settings.h"
#include "api/res_spend.h"
#include "api/res_users.h"
#include "api/rlim.h"
#include "api/stream.h"
#include "common/log.h"
#include "common/net/pgpool.h"
#include "common/net/ra.h"
#include "common/shm.h"
#include "common/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct app {
	struct apictx *ctx;
	struct rlim *lim;   /* requests, by address and by key or user */
	struct rlim *login; /* login attempts, by name and by address */
	unsigned inflight;
};

enum { PUBLIC = 1 };

struct route {
	const char *method;
	const char *path; /* segments; "{x}" takes any one segment */
	enum role min;
	int flags;
	void (*fn)(struct call *c);
};

static struct app *the_app; /* login needs the throttle table; one app per process */

static void h_health(struct call *c);
static void h_login(struct call *c)
{
	access_login(c, the_app->login);
}

static const struct route routes[] = {
	{ "GET", "/health", ROLE_NONE, PUBLIC, h_health },
	{ "GET", "/api/v1/health", ROLE_NONE, PUBLIC, h_health },
	{ "POST", "/api/v1/login", ROLE_NONE, PUBLIC, h_login },
	{ "POST", "/api/v1/logout", ROLE_VIEWER, 0, access_logout },
	{ "GET", "/api/v1/me", ROLE_VIEWER, 0, access_me },
	{ "GET", "/api/v1/settings", ROLE_VIEWER, 0, res_settings_list },
	{ "GET", "/api/v1/settings/{key}", ROLE_VIEWER, 0, res_settings_get },
	{ "PUT", "/api/v1/settings/{key}", ROLE_OPERATOR, 0, res_settings_set },
	{ "DELETE", "/api/v1/settings/{key}", ROLE_OPERATOR, 0, res_settings_unset },
	{ "GET", "/api/v1/control", ROLE_VIEWER, 0, res_control_get },
	{ "PATCH", "/api/v1/control", ROLE_OPERATOR, 0, res_control_set },
	{ "GET", "/api/v1/fleet", ROLE_VIEWER, 0, res_fleet_status },
	{ "POST", "/api/v1/fleet/resize", ROLE_OPERATOR, 0, res_fleet_resize },
	{ "GET", "/api/v1/queues", ROLE_VIEWER, 0, res_queues },
	{ "GET", "/api/v1/dead", ROLE_VIEWER, 0, res_dead_list },
	{ "POST", "/api/v1/dead/retry", ROLE_OPERATOR, 0, res_dead_retry_many },
	{ "GET", "/api/v1/dead/{id}", ROLE_VIEWER, 0, res_dead_show },
	{ "DELETE", "/api/v1/dead/{id}", ROLE_OPERATOR, 0, res_dead_delete },
	{ "POST", "/api/v1/dead/{id}/retry", ROLE_OPERATOR, 0, res_dead_retry },
	{ "GET", "/api/v1/bots", ROLE_VIEWER, 0, res_bots_list },
	{ "POST", "/api/v1/bots", ROLE_OPERATOR, 0, res_bots_add },
	{ "GET", "/api/v1/bots/{id}", ROLE_VIEWER, 0, res_bots_show },
	{ "PATCH", "/api/v1/bots/{id}", ROLE_OPERATOR, 0, res_bots_edit },
	{ "DELETE", "/api/v1/bots/{id}", ROLE_OPERATOR, 0, res_bots_delete },
	{ "PUT", "/api/v1/bots/{id}/stances/{topic}", ROLE_OPERATOR, 0, res_stance_put },
	{ "DELETE", "/api/v1/bots/{id}/stances/{topic}", ROLE_OPERATOR, 0, res_stance_delete },
	{ "PUT", "/api/v1/bots/{id}/holdings/{symbol}", ROLE_OPERATOR, 0, res_holding_put },
	{ "DELETE", "/api/v1/bots/{id}/holdings/{symbol}", ROLE_OPERATOR, 0, res_holding_delete },
	{ "POST", "/api/v1/bots/{id}/memories", ROLE_OPERATOR, 0, res_memory_add },
	{ "DELETE", "/api/v1/bots/{id}/memories/{mid}", ROLE_OPERATOR, 0, res_memory_delete },
	{ "GET", "/api/v1/chats", ROLE_VIEWER, 0, res_chats_list },
	{ "POST", "/api/v1/chats", ROLE_OPERATOR, 0, res_chats_add },
	{ "GET", "/api/v1/chats/{id}", ROLE_VIEWER, 0, res_chats_show },
	{ "PATCH", "/api/v1/chats/{id}", ROLE_OPERATOR, 0, res_chats_edit },
	{ "DELETE", "/api/v1/chats/{id}", ROLE_OPERATOR, 0, res_chats_delete },
	{ "PUT", "/api/v1/chats/{id}/bots/{bot}", ROLE_OPERATOR, 0, res_chats_member_add },
	{ "DELETE", "/api/v1/chats/{id}/bots/{bot}", ROLE_OPERATOR, 0, res_chats_member_remove },
	{ "GET", "/api/v1/messages", ROLE_VIEWER, 0, res_messages_list },
	{ "GET", "/api/v1/stats/messages", ROLE_VIEWER, 0, res_messages_stats },
	{ "GET", "/api/v1/spend", ROLE_VIEWER, 0, res_spend },
	{ "GET", "/api/v1/breakers", ROLE_VIEWER, 0, res_breakers },
	{ "GET", "/api/v1/stream", ROLE_VIEWER, 0, res_stream },
	{ "GET", "/api/v1/users", ROLE_ADMIN, 0, res_users_list },
	{ "POST", "/api/v1/users", ROLE_ADMIN, 0, res_users_add },
	{ "PATCH", "/api/v1/users/{name}", ROLE_ADMIN, 0, res_users_edit },
	{ "GET", "/api/v1/keys", ROLE_ADMIN, 0, res_keys_list },
	{ "POST", "/api/v1/keys", ROLE_ADMIN, 0, res_keys_add },
	{ "DELETE", "/api/v1/keys/{id}", ROLE_ADMIN, 0, res_keys_revoke },
	{ "GET", "/api/v1/audit", ROLE_ADMIN, 0, res_audit_list },
};
#define NROUTES (sizeof routes / sizeof routes[0])

struct app *app_new(struct apictx *ctx)
{
	struct app *a = calloc(1, sizeof *a);

	if (!a)
		return NULL;
	a->ctx = ctx;
	a->lim = rlim_new(100000);
	a->login = rlim_new(100000);
	if (!a->lim || !a->login) {
		app_free(a);
		return NULL;
	}
	the_app = a;
	return a;
}

void app_free(struct app *a)
{
	if (!a)
		return;
	rlim_free(a->lim);
	rlim_free(a->login);
	if (the_app == a)
		the_app = NULL;
	free(a);
}

unsigned app_inflight(const struct app *a)
{
	return a ? a->inflight : 0;
}

/* --- the call's life --- */

static void free_call(void *p)
{
	struct call *c = p;

	if (the_app)
		the_app->inflight--;
	for (int i = 0; i < c->nparams; i++)
		free(c->params[i]);
	json_decref(c->body);
	free(c->data);
	free(c);
}

/* Match path against a route's pattern, filling c's params. */
static int match(const char *pattern, const char *path, struct call *c)
{
	const char *p = pattern, *q = path;

	c->nparams = 0;
	while (*p && *q) {
		const char *pe = strchr(p + 1, '/'), *qe = strchr(q + 1, '/');
		size_t pl, ql;

		if (*p != '/' || *q != '/')
			return 0;
		p++;
		q++;
		pe = pe ? pe : p + strlen(p);
		qe = qe ? qe : q + strlen(q);
		pl = (size_t)(pe - p);
		ql = (size_t)(qe - q);
		if (*p == '{') {
			if (!ql || c->nparams == CALL_MAX_PARAMS || (ql <= 2 && q[0] == '.'))
				return 0;
			c->params[c->nparams++] = strndup(q, ql);
		} else if (pl != ql || strncmp(p, q, pl)) {
			return 0;
		}
		p = pe;
		q = qe;
	}
	return !*p && !*q;
}

static void drop_params(struct call *c)
{
	for (int i = 0; i < c->nparams; i++) {
		free(c->params[i]);
		c->params[i] = NULL;
	}
	c->nparams = 0;
}

/* The route for c's method and path; NULL after answering 404 or 405. */
static const struct route *find_route(struct call *c)
{
	const char *m = req_method(c->rq), *path = req_path(c->rq);
	char allow[128] = "";
	size_t al = 0;

	for (size_t i = 0; i < NROUTES; i++) {
		if (!match(routes[i].path, path, c)) {
			drop_params(c);
			continue;
		}
		if (!strcmp(routes[i].method, m) ||
		    (!strcmp(m, "HEAD") && !strcmp(routes[i].method, "GET")))
			return &routes[i];
		drop_params(c);
		al += (size_t)snprintf(allow + al, sizeof allow - al, "%s%s", al ? ", " : "",
				       routes[i].method);
	}
	if (al) {
		req_add_header(c->rq, "Allow", allow);
		call_problem(c, 405, "Method not allowed", NULL, "%s is not allowed on %s", m, path);
	} else {
		call_problem(c, 404, "Not found", NULL, "no resource at %s", path);
	}
	return NULL;
}

static int parse_body(struct call *c)
{
	const char *m = req_method(c->rq), *ct;
	size_t len;
	const char *body = req_body(c->rq, &len);
	json_error_t e;

	if (strcmp(m, "POST") && strcmp(m, "PUT") && strcmp(m, "PATCH"))
		return 0;
	if (!len)
		return 0;
	ct = req_header(c->rq, "Content-Type");
	/* application/json, with parameters (charset) or none: not a longer name */
	if (!ct || strncasecmp(ct, "application/json", 16) ||
	    (ct[16] && ct[16] != ';' && ct[16] != ' ' && ct[16] != '\t')) {
		call_problem(c, 415, "Unsupported media type", NULL,
			     "the body must be application/json");
		return -1;
	}
	if (!(c->body = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e))) {
		call_problem(c, 400, "Malformed JSON", NULL, "line %d, column %d: %s", e.line,
			     e.column, e.text);
		return -1;
	}
	if (!json_is_object(c->body)) {
		call_problem(c, 400, "Malformed JSON", NULL, "the body must be a JSON object");
		return -1;
	}
	return 0;
}

/* The path and the query arguments as PostgreSQL will take them: well-formed
 * UTF-8 (MHD has %-decoded them; "%ff" or a lone "%c4" would otherwise reach a
 * query as text and be refused there, a 500). No resource has such a name. */
static int text_ok(struct call *c)
{
	const char *path = req_path(c->rq), *bad;

	if (!utf8_valid(path, strlen(path))) {
		call_problem(c, 404, "Not found", NULL, "no resource at %s", path);
		return 0;
	}
	if ((bad = req_bad_arg(c->rq)) && !utf8_valid(bad, strlen(bad))) {
		call_problem(c, 400, "Bad query string", NULL, "an argument's name is not UTF-8 text");
		return 0;
	}
	if (bad) {
		call_problem(c, 400, "Bad query argument", bad, "%s: not UTF-8 text", bad);
		return 0;
	}
	return 1;
}

/* The numbers the answer will carry: the bucket with less left. */
static void set_limit(struct call *c, const struct rlim_result *r)
{
	if (!c->have_lim || !r->ok || r->remaining < c->lim.remaining) {
		c->lim = *r;
		c->have_lim = 1;
	}
}

static void too_many(struct call *c, const struct rlim_result *r)
{
	char v[32];

	snprintf(v, sizeof v, "%ld", r->retry_after_s);
	req_add_header(c->rq, "Retry-After", v);
	call_problem(c, 429, "Too many requests", NULL,
		     "the rate limit is %ld requests at once; try again in %ld s", r->limit,
		     r->retry_after_s);
}

/* What a call holds while its caller is looked up: its route. */
struct step {
	const struct route *route;
};

static void on_authenticated(struct call *c)
{
	struct app *a = the_app;
	struct step st = *(struct step *)c->data;
	const struct route *r = st.route;
	struct rlim_result k;
	char name[128];

	free(c->data);
	c->data = NULL;
	/* The caller's own bucket: a key, or a session's user, whatever address it uses. */
	snprintf(name, sizeof name, "who:%s", c->actor);
	rlim_take(a->lim, name, a->ctx->cfg->api_key_rate_per_minute,
		  a->ctx->cfg->api_key_rate_burst, shm_now_ms(), &k);
	set_limit(c, &k);
	if (!k.ok) {
		too_many(c, &k);
		return;
	}
	if (c->role < r->min) {
		call_problem(c, 403, "Forbidden", NULL, "%s %s needs the %s role; %s is %s",
			     r->method, r->path, role_name(r->min), c->actor, role_name(c->role));
		return;
	}
	if (!access_csrf_ok(c))
		return;
	r->fn(c);
}

void app_handle(struct req *rq, void *arg)
{
	struct app *a = arg;
	struct call *c = calloc(1, sizeof *c);
	const struct route *r;
	struct rlim_result ra;
	char name[96];
	struct step *st;

	if (!c) {
		srv_reply(rq, 500, "application/problem+json", "{\"status\":500}", 14);
		return;
	}
	c->ctx = a->ctx;
	c->rq = rq;
	a->inflight++;
	req_set_data(rq, c, free_call);
	snprintf(name, sizeof name, "addr:%s", req_addr(rq));
	rlim_take(a->lim, name, a->ctx->cfg->api_rate_per_minute, a->ctx->cfg->api_rate_burst,
		  shm_now_ms(), &ra);
	set_limit(c, &ra);
	if (!ra.ok) {
		too_many(c, &ra);
		return;
	}
	if (res_console(c) || !text_ok(c))
		return;
	if (!(r = find_route(c)) || parse_body(c) < 0)
		return;
	if (r->flags & PUBLIC) {
		r->fn(c);
		return;
	}
	if (!(st = malloc(sizeof *st))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	st->route = r;
	c->data = st;
	access_resolve(c, on_authenticated);
}

/* /health: the API answers, and what it can reach. 503 without PostgreSQL. */
static void h_health(struct call *c)
{
	int pg = pgpool_up(c->ctx->pool), rd = ra_up(c->ctx->redis);

	call_json(c, pg ? 200 : 503,
		  json_pack("{s:s, s:b, s:b}", "status", pg ? "ok" : "degraded", "postgres", pg,
			    "redis", rd));
}
