/* res_users: see res_users.h. */
#include "api/res_users.h"

#include "common/auth.h"
#include "common/authdb.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* before/after come back as JSON text: parse them in place. */
static json_t *rows_with_json(PGresult *res, const char *const *json_cols)
{
	json_t *rows = call_rows(res), *row, *v;
	size_t i;

	json_array_foreach(rows, i, row)
		for (const char *const *k = json_cols; *k; k++) {
			const char *t = json_string_value(json_object_get(row, *k));
			if (t && (v = json_loads(t, JSON_DECODE_ANY, NULL)))
				json_object_set_new(row, *k, v);
		}
	return rows;
}

static void on_list(PGresult *res, const char *err, void *arg)
{
	static const char *const none[] = { NULL };
	static const char *const audit_json[] = { "before", "after", NULL };
	struct call *c = arg;
	const char *what = c->data;

	if (err) {
		call_db_error(c, err);
		return;
	}
	call_json(c, 200,
		  json_pack("{s:o}", what,
			    rows_with_json(res, !strcmp(what, "audit") ? audit_json : none)));
}

static int list_as(struct call *c, const char *what)
{
	if (!(c->data = strdup(what))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return -1;
	}
	return 0;
}

void res_users_list(struct call *c)
{
	if (list_as(c, "users") == 0)
		call_query(c, AUTHDB_USER_LIST, 0, NULL, on_list);
}

void res_keys_list(struct call *c)
{
	const char *r = req_arg(c->rq, "revoked");
	const char *p[1] = { r && !strcmp(r, "true") ? "true" : "false" };

	if (list_as(c, "keys") == 0)
		call_query(c, AUTHDB_KEY_LIST, 1, p, on_list);
}

void res_audit_list(struct call *c)
{
	long long limit;
	char lim[24];
	const char *p[4];

	if (call_arg_int(c, "limit", 100, 1, 1000, &limit) < 0 ||
	    call_arg_time(c, "since", &p[0]) < 0 || list_as(c, "audit") < 0)
		return;
	snprintf(lim, sizeof lim, "%lld", limit);
	p[1] = req_arg(c->rq, "actor");
	p[2] = req_arg(c->rq, "action");
	p[3] = lim;
	call_query(c, AUTHDB_AUDIT_LIST, 4, p, on_list);
}

/* --- changes --- */

/* A 23505 is a taken name; a 22007/22008 a bad time; anything else is ours. */
static void change_error(struct call *c, const char *err, const char *field)
{
	if (!strncmp(err, "23505", 5))
		call_problem(c, 409, "Already exists", field, "%s: the name is taken", field);
	else
		call_db_error(c, err);
}

struct pw_work {
	uv_work_t w;
	struct call *c;
	char pass[AUTH_PASS_MAX + 1];
	char hash[AUTH_PASS_HASH_MAX];
	char name[72], role[16];
	int ok;
	void (*done)(struct call *c, struct pw_work *pw);
};

static void hash_work(uv_work_t *w)
{
	struct pw_work *pw = w->data;
	char err[128];

	pw->ok = auth_pass_hash(pw->pass, pw->hash, err, sizeof err) == 0;
	sodium_memzero(pw->pass, sizeof pw->pass);
}

static void on_hashed(uv_work_t *w, int status)
{
	struct pw_work *pw = w->data;

	if (status < 0 || !pw->ok) {
		call_problem(pw->c, 500, "Internal error", NULL, "cannot hash the password");
		return;
	}
	pw->done(pw->c, pw);
}

/* Check and hash body.password off the loop, then done(c, pw). */
static void with_hash(struct call *c, const char *pass, void (*done)(struct call *, struct pw_work *))
{
	struct pw_work *pw;
	char err[256];

	if (auth_pass_check(pass, err, sizeof err) < 0) {
		call_problem(c, 422, "Invalid value", "password", "password: %s", err);
		return;
	}
	if (!(pw = calloc(1, sizeof *pw))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	c->data = pw;
	pw->c = c;
	pw->done = done;
	pw->w.data = pw;
	snprintf(pw->pass, sizeof pw->pass, "%s", pass);
	if (uv_queue_work(c->ctx->loop, &pw->w, hash_work, on_hashed) < 0)
		call_problem(c, 500, "Internal error", NULL, "cannot hash the password");
}

static void on_user_added(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	struct pw_work *pw = c->data;

	if (err) {
		change_error(c, err, "name");
		return;
	}
	call_json(c, 201,
		  json_pack("{s:I, s:s, s:s}", "id",
			    (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10), "name", pw->name,
			    "role", pw->role));
}

static void add_hashed(struct call *c, struct pw_work *pw)
{
	const char *p[5] = { pw->name, pw->hash, pw->role, c->actor, req_addr(c->rq) };

	call_query(c, AUTHDB_USER_ADD, 5, p, on_user_added);
}

static int role_ok(struct call *c, const char *role)
{
	if (auth_role_parse(role) != AUTH_NONE)
		return 1;
	call_problem(c, 422, "Invalid value", "role", "role: viewer, operator or admin");
	return 0;
}

void res_users_add(struct call *c)
{
	static const char *const spec[] = { "name:s!", "password:s!", "role:s!", NULL };
	const char *name, *role;

	if (call_fields(c, spec) < 0)
		return;
	name = json_string_value(json_object_get(c->body, "name"));
	role = json_string_value(json_object_get(c->body, "role"));
	if (!auth_name_ok(name)) {
		call_problem(c, 422, "Invalid value", "name", "name: 1 to 64 of a-z 0-9 _ . -");
		return;
	}
	if (!role_ok(c, role))
		return;
	with_hash(c, json_string_value(json_object_get(c->body, "password")), add_hashed);
	if (c->data) {
		struct pw_work *pw = c->data;
		snprintf(pw->name, sizeof pw->name, "%s", name);
		snprintf(pw->role, sizeof pw->role, "%s", role);
	}
}

static void on_user_changed(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;

	if (err) {
		call_db_error(c, err);
		return;
	}
	if (!PQntuples(res)) {
		call_problem(c, 404, "Not found", "name", "no user %s", c->params[0]);
		return;
	}
	call_json(c, 200,
		  json_pack("{s:s, s:b}", "name", c->params[0], "changed",
			    *PQgetvalue(res, 0, 0) == 't'));
}

static void passwd_hashed(struct call *c, struct pw_work *pw)
{
	const char *p[4] = { c->params[0], pw->hash, c->actor, req_addr(c->rq) };

	call_query(c, AUTHDB_USER_PASSWD, 4, p, on_user_changed);
}

void res_users_edit(struct call *c)
{
	static const char *const spec[] = { "role:s", "disabled:b", "password:s", NULL };
	json_t *role, *dis, *pw;
	const char *p[4];

	if (call_fields(c, spec) < 0)
		return;
	role = json_object_get(c->body, "role");
	dis = json_object_get(c->body, "disabled");
	pw = json_object_get(c->body, "password");
	if (!!role + !!dis + !!pw != 1) {
		call_problem(c, 422, "One change at a time", NULL,
			     "give exactly one of role, disabled, password");
		return;
	}
	if (pw) {
		with_hash(c, json_string_value(pw), passwd_hashed);
		return;
	}
	if (role && !role_ok(c, json_string_value(role)))
		return;
	p[0] = c->params[0];
	p[1] = role ? json_string_value(role) : json_is_true(dis) ? "true" : "false";
	p[2] = c->actor;
	p[3] = req_addr(c->rq);
	call_query(c, role ? AUTHDB_USER_ROLE : AUTHDB_USER_DISABLE, 4, p, on_user_changed);
}

/* --- keys --- */

struct key_add {
	char key[AUTH_KEY_SIZE];
	char hint[AUTH_KEY_HINT_SIZE];
	char name[72], role[16];
};

static void on_key_added(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	struct key_add *k = c->data;
	json_t *j;

	if (err) {
		sodium_memzero(k->key, sizeof k->key);
		change_error(c, err, "name");
		return;
	}
	j = json_pack("{s:I, s:s, s:s, s:s, s:s}", "id",
		      (json_int_t)strtoll(PQgetvalue(res, 0, 0), NULL, 10), "name", k->name, "role",
		      k->role, "hint", k->hint, "key", k->key);
	sodium_memzero(k->key, sizeof k->key);
	call_json(c, 201, j);
}

void res_keys_add(struct call *c)
{
	static const char *const spec[] = { "name:s!", "role:s!", NULL };
	const char *name, *role;
	char hash[AUTH_HASH_HEX_SIZE];
	struct key_add *k;
	const char *p[6];

	if (call_fields(c, spec) < 0)
		return;
	name = json_string_value(json_object_get(c->body, "name"));
	role = json_string_value(json_object_get(c->body, "role"));
	if (!auth_name_ok(name)) {
		call_problem(c, 422, "Invalid value", "name", "name: 1 to 64 of a-z 0-9 _ . -");
		return;
	}
	if (!role_ok(c, role))
		return;
	if (!(k = calloc(1, sizeof *k))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	c->data = k;
	auth_key_new(k->key);
	auth_key_hint(k->key, k->hint);
	auth_token_hash(k->key, hash);
	snprintf(k->name, sizeof k->name, "%s", name);
	snprintf(k->role, sizeof k->role, "%s", role);
	p[0] = k->name;
	p[1] = k->hint;
	p[2] = hash;
	p[3] = k->role;
	p[4] = c->actor;
	p[5] = req_addr(c->rq);
	call_query(c, AUTHDB_KEY_ADD, 6, p, on_key_added);
}

static void on_key_revoked(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;

	if (err) {
		call_db_error(c, err);
		return;
	}
	if (!PQntuples(res)) {
		call_problem(c, 404, "Not found", "id", "no live key %s", c->params[0]);
		return;
	}
	call_json(c, 200,
		  json_pack("{s:s, s:s, s:b}", "id", PQgetvalue(res, 0, 0), "name",
			    PQgetvalue(res, 0, 1), "revoked", 1));
}

void res_keys_revoke(struct call *c)
{
	const char *p[4] = { c->params[0], NULL, c->actor, req_addr(c->rq) };

	if (strspn(c->params[0], "0123456789") != strlen(c->params[0]) || strlen(c->params[0]) > 18) {
		call_problem(c, 404, "Not found", "id", "no key %.40s", c->params[0]);
		return;
	}
	call_query(c, AUTHDB_KEY_REVOKE, 4, p, on_key_revoked);
}
