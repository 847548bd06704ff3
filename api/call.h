/* call: one API request as the resource handlers see it, and the process-wide
 * things they reach through it (the loop, the config, the PostgreSQL pool, the
 * Redis link, the shared segment).
 *
 * A handler reads the caller (actor, role), the path parameters and the parsed
 * body, queries with call_query (the answer comes back on the loop; the request
 * waits suspended, no thread held), and ends the call exactly once with
 * call_json or call_problem. Errors are RFC 9457 problem details
 * (application/problem+json) naming the field at fault. */
#ifndef PIYASA_CALL_H
#define PIYASA_CALL_H

#include "api/rlim.h"
#include "api/srv.h"
#include "common/cfg.h"
#include "common/net/pgc.h"

#include <jansson.h>

struct pgpool;
struct ra;
struct shm;
struct shm_slot;
struct httpc;
struct hub;

enum role { ROLE_NONE, ROLE_VIEWER, ROLE_OPERATOR, ROLE_ADMIN };

/* What every handler may reach: filled once by main.c. */
struct apictx {
	uv_loop_t *loop;
	const struct cfg *cfg;
	struct pgpool *pool;
	struct ra *redis;
	struct httpc *http;          /* to the supervisor's /status */
	struct shm *shm;             /* NULL when run alone */
	struct shm_slot *slot;       /* the API's counters (a private one when alone) */
	struct hub *hub;             /* the live stream's (api/stream.h) */
	unsigned char token_key[32]; /* bot tokens at rest (common/tok) */
	int have_token_key;
};

#define CALL_MAX_PARAMS 4

struct call {
	struct apictx *ctx;
	struct req *rq;
	char actor[96]; /* "user:alice", "key:deploy", "" before auth */
	enum role role;
	int session;                   /* authenticated by a session cookie (CSRF applies) */
	long long user_id;             /* the session's user, 0 for a key */
	char csrf[96];                 /* the session's CSRF token */
	char *params[CALL_MAX_PARAMS]; /* {id} segments of the route, in order */
	int nparams;
	json_t *body; /* the parsed body (an object), NULL when the request had none */
	void *data;   /* the handler's own, freed with free() at the end */
	void (*next)(struct call *c); /* where access_resolve goes on */
	struct rlim_result lim;       /* the bucket closest to empty: its headers go
					 on the answer (X-RateLimit-*) */
	int have_lim;
};

/* "viewer", "operator", "admin"; ROLE_NONE for anything else. */
enum role role_parse(const char *s);
const char *role_name(enum role r);

/* Every answer goes out through these two; both add c->lim's
 * X-RateLimit-Limit/-Remaining/-Reset headers. */
/* Answer with j (stolen; NULL answers 500). */
void call_json(struct call *c, unsigned status, json_t *j);
/* Answer with a body of another type (the console's files: copied), with the
 * headers every answer carries. */
void call_reply(struct call *c, unsigned status, const char *ctype, const void *body, size_t len);
/* A problem: title and detail as given, field (a JSON path like
 * "persona.emotion", or NULL) named in "field" and in the detail's position. */
void call_problem(struct call *c, unsigned status, const char *title, const char *field,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Answer with a stream (srv_stream) and the rate-limit headers. */
void call_stream(struct call *c, const char *ctype, srv_pull pull, void (*done)(void *), void *arg);
/* A committed change of bots ids ("ID ID ..."): PUBLISH <prefix>:bots ids, the
 * bot change notice the workers drop their cached copies on. Sent, not waited
 * for: a lost notice only delays the change to the workers' 10-minute expiry
 * (logged). */
void call_bots_changed(struct call *c, const char *ids);
/* Likewise for a chat's settings (topics, time zone, language, enabled):
 * PUBLISH <prefix>:chats "-1 =ID", the notice on which the workers drop a
 * chat's cached context (else within 30 s). */
void call_chats_changed(struct call *c, const char *chat);
/* A query on the pool; cb(res, err, c). A query that cannot be sent is
 * answered 503 here and cb is not called; returns -1 then. */
int call_query(struct call *c, const char *sql, int n, const char *const *params, pgc_cb cb);
/* A database error as a problem: 503 when the connection is lost, else 500
 * (the message is logged, not returned: it may name tables and values). */
void call_db_error(struct call *c, const char *err);

/* The body's fields against a spec: each "name:type" with type one of s
 * (string), i (integer), n (number), b (boolean), o (object), a (array), j
 * (any); a trailing '!' marks it required. An unknown field, a wrong type or a
 * missing field is answered 422 naming it, and -1 returned. A call without a
 * body is treated as {}. */
int call_fields(struct call *c, const char *const *spec);

/* 1 when the query argument is there and not empty ("?chat=" filters on
 * nothing, as call_arg_int then gives its default). */
int call_arg_given(struct call *c, const char *name);
/* Query arguments as numbers, with bounds and a default; a bad one is answered
 * 400 naming it, and -1 returned. */
int call_arg_int(struct call *c, const char *name, long long dflt, long long lo, long long hi,
		 long long *out);

/* A query argument as a time PostgreSQL takes as timestamptz: RFC 3339 as
 * the console sends it (2026-12-07T10:00:00.000Z), or a date, with a space for
 * the T and the zone (Z, +03, +03:00) optional; *out is the argument, NULL when
 * absent or empty. A bad one is answered 400 naming it, and -1 returned. */
int call_arg_time(struct call *c, const char *name, const char **out);

/* A result's row as a JSON object, columns by name, values by type: integers
 * and numerics as numbers, booleans, json/jsonb parsed, NULL as null, the rest
 * as strings. call_rows: every row, as an array. */
json_t *call_row(PGresult *res, int row);
json_t *call_rows(PGresult *res);

#endif
