/* access: see access.h. The primitives (hashes, tokens, Argon2id, TOTP) are
 * common/auth's, shared with `piyasactl user`. */
#include "api/access.h"

#include "common/auth.h"
#include "common/log.h"
#include "common/shm.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

void access_hash(const char *secret, char out[65])
{
	auth_token_hash(secret, out);
}

/* --- who is calling --- */

static void unauthorized(struct call *c, const char *why)
{
	req_add_header(c->rq, "WWW-Authenticate", "Bearer realm=\"piyasa\"");
	call_problem(c, 401, "Unauthorized", NULL, "%s", why);
}

static void on_resolved(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	if (err) {
		call_db_error(c, err);
		return;
	}
	if (PQntuples(res) != 1) {
		unauthorized(c, c->session ? "the session has expired or ended; log in again"
					   : "the API key is unknown or revoked");
		return;
	}
	c->role = role_parse(PQgetvalue(res, 0, 1));
	if (c->session) {
		snprintf(c->actor, sizeof c->actor, "user:%s", PQgetvalue(res, 0, 0));
		snprintf(c->csrf, sizeof c->csrf, "%s", PQgetvalue(res, 0, 2));
		c->user_id = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	} else {
		snprintf(c->actor, sizeof c->actor, "key:%s", PQgetvalue(res, 0, 0));
	}
	c->next(c);
}

void access_resolve(struct call *c, void (*next)(struct call *))
{
	/* The session's last_seen_at and the key's last_used_at are written by
	 * the same statement that reads them. */
	static const char by_session[] =
		"WITH s AS (UPDATE sessions SET last_seen_at = now()"
		" WHERE id_hash = $1 AND expires_at > now() RETURNING user_id, csrf)"
		" SELECT u.name, u.role, s.csrf, u.id FROM s JOIN users u ON u.id = s.user_id"
		" WHERE NOT u.disabled";
	static const char by_key[] =
		"UPDATE api_keys SET last_used_at = now()"
		" WHERE key_hash = $1 AND revoked_at IS NULL RETURNING name, role";
	const char *auth = req_header(c->rq, "Authorization");
	const char *cookie = req_cookie(c->rq, ACCESS_COOKIE);
	char hash[65];
	const char *p[1] = { hash };

	if (auth && !strncasecmp(auth, "Bearer ", 7)) {
		access_hash(auth + 7, hash);
		c->session = 0;
	} else if (cookie && *cookie) {
		access_hash(cookie, hash);
		c->session = 1;
	} else {
		unauthorized(c, "log in (POST /api/v1/login) or send Authorization: Bearer KEY");
		return;
	}
	c->next = next;
	call_query(c, c->session ? by_session : by_key, 1, p, on_resolved);
}

int access_csrf_ok(struct call *c)
{
	const char *m = req_method(c->rq), *t;

	if (!c->session || !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "OPTIONS"))
		return 1;
	t = req_header(c->rq, "X-CSRF-Token");
	if (t && *c->csrf && auth_equal(t, c->csrf))
		return 1;
	call_problem(c, 403, "CSRF token missing or wrong", "X-CSRF-Token",
		     "a state-changing request of a session needs the X-CSRF-Token header given at login");
	return 0;
}

/* --- login --- */

/* The last TOTP step each user logged in with, so a code seen once (shoulder,
 * proxy log) cannot be used again within its window. In memory: a restart of
 * the API forgets it, which reopens at most one 90 s window. */
#define TOTP_SEEN 1024
static struct {
	char name[72];
	uint64_t step;
} totp_seen[TOTP_SEEN];

static int totp_step_fresh(const char *name, uint64_t step)
{
	unsigned h = 5381;
	size_t i;

	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	i = h % TOTP_SEEN;
	if (!strcmp(totp_seen[i].name, name) && step <= totp_seen[i].step)
		return 0;
	/* A slot shared by two names keeps the later; the other may replay
	 * within the window only if both log in inside it. */
	snprintf(totp_seen[i].name, sizeof totp_seen[i].name, "%s", name);
	totp_seen[i].step = step;
	return 1;
}

struct login {
	uv_work_t work;
	struct call *c;
	char name[72];
	char *password;
	char pass_hash[256];
	char totp_sealed[256]; /* "" when the user has no TOTP */
	char totp[16];         /* the code given, "" when none */
	char role[16];
	long long user_id;
	int verified;
};

static void refuse_login(struct call *c)
{
	/* One answer for "no such user", "wrong password" and "disabled": no
	 * probing for names. */
	shm_count(c->ctx->slot, SHM_C_API_LOGINS_FAILED, 1);
	call_problem(c, 401, "Login failed", NULL, "wrong name or password");
}

static void on_session_made(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	struct login *l = c->data;
	char *sid = (char *)(l + 1), cookie[256];
	json_t *j;

	if (err) {
		call_db_error(c, err);
		return;
	}
	snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s",
		 ACCESS_COOKIE, sid, c->ctx->cfg->api_session_minutes * 60,
		 c->ctx->cfg->api_cookie_secure ||
				 (req_header(c->rq, "X-Forwarded-Proto") &&
				  !strcmp(req_header(c->rq, "X-Forwarded-Proto"), "https"))
			 ? "; Secure"
			 : "");
	req_add_header(c->rq, "Set-Cookie", cookie);
	shm_count(c->ctx->slot, SHM_C_API_LOGINS, 1);
	j = json_pack("{s:s, s:s, s:s, s:s}", "name", l->name, "role", l->role, "csrf",
		      PQgetvalue(res, 0, 1), "expires_at", PQgetvalue(res, 0, 0));
	sodium_memzero(sid, 64);
	call_json(c, 200, j);
}

static void make_session(struct call *c, struct login *l)
{
	static const char sql[] =
		"WITH s AS (INSERT INTO sessions (id_hash, user_id, csrf, expires_at, addr)"
		" VALUES ($1, $2, $3, now() + make_interval(mins => $4::int), $5)"
		" RETURNING expires_at, csrf),"
		" u AS (UPDATE users SET last_login_at = now() WHERE id = $2),"
		" a AS (INSERT INTO audit (actor, action, target, addr) VALUES ($6, 'session.login', $6, $5)),"
		/* Sessions a day past their expiry go at the next login: the table
		 * does not grow with every session ever made. */
		" x AS (DELETE FROM sessions WHERE expires_at < now() - interval '1 day')"
		" SELECT to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), csrf FROM s";
	char *sid = (char *)(l + 1), hash[65], csrf[64], uid[24], mins[16], actor[96];
	const char *p[6] = { hash, uid, csrf, mins, req_addr(c->rq), actor };

	auth_token_new(sid);
	access_hash(sid, hash);
	auth_token_new(csrf);
	snprintf(uid, sizeof uid, "%lld", l->user_id);
	snprintf(mins, sizeof mins, "%d", c->ctx->cfg->api_session_minutes);
	snprintf(actor, sizeof actor, "user:%s", l->name);
	call_query(c, sql, 6, p, on_session_made);
}

static void verify_work(uv_work_t *w)
{
	struct login *l = w->data;

	/* No such user (or disabled): the same work, the same answer. */
	l->verified = *l->pass_hash ? auth_pass_verify(l->pass_hash, l->password) == 0
				    : auth_pass_verify_none(l->password) == 0;
}

static void on_verified(uv_work_t *w, int status)
{
	struct login *l = w->data;
	struct call *c = l->c;

	sodium_memzero(l->password, strlen(l->password));
	if (status < 0 || !l->verified) {
		refuse_login(c);
		return;
	}
	/* The second factor is asked for only once the password is right, so a
	 * missing code tells nothing to someone without it. */
	if (*l->totp_sealed) {
		char secret[AUTH_TOTP_SECRET_SIZE + 8];
		uint64_t step;
		int ok;

		if (!*l->totp) {
			call_problem(c, 401, "TOTP code required", "totp",
				     "this user has TOTP: send the 6-digit code as totp");
			return;
		}
		if (!c->ctx->have_token_key ||
		    auth_secret_open(c->ctx->token_key, l->totp_sealed, secret, sizeof secret) < 0) {
			log_error("api: login of %s: the TOTP secret cannot be opened (token key?)",
				  l->name);
			call_problem(c, 500, "Internal error", NULL, "the TOTP secret cannot be read");
			return;
		}
		ok = auth_totp_verify(secret, l->totp, time(NULL), &step) == 0 &&
		     totp_step_fresh(l->name, step);
		sodium_memzero(secret, sizeof secret);
		if (!ok) {
			shm_count(c->ctx->slot, SHM_C_API_LOGINS_FAILED, 1);
			call_problem(c, 401, "Login failed", "totp", "wrong TOTP code");
			return;
		}
	}
	make_session(c, l);
}

static void on_user(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	struct login *l = c->data;

	if (err) {
		call_db_error(c, err);
		return;
	}
	if (PQntuples(res) != 1 || *PQgetvalue(res, 0, 3) == 't') {
		*l->pass_hash = '\0'; /* auth_pass_verify_none in the work */
	} else {
		snprintf(l->pass_hash, sizeof l->pass_hash, "%s", PQgetvalue(res, 0, 1));
		snprintf(l->role, sizeof l->role, "%s", PQgetvalue(res, 0, 2));
		l->user_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	}
	if (PQntuples(res) == 1 && !PQgetisnull(res, 0, 4))
		snprintf(l->totp_sealed, sizeof l->totp_sealed, "%s", PQgetvalue(res, 0, 4));
	l->work.data = l;
	if (uv_queue_work(c->ctx->loop, &l->work, verify_work, on_verified) < 0)
		call_problem(c, 500, "Internal error", NULL, "cannot check the password");
}

void access_login(struct call *c, struct rlim *lim)
{
	static const char *const spec[] = { "name:s!", "password:s!", "totp:s", NULL };
	static const char sql[] =
		"SELECT id, pass_hash, role, disabled, totp_secret FROM users WHERE name = $1";
	const char *name, *pw;
	struct rlim_result ru, ra;
	char key[128];
	struct login *l;
	const char *p[1];
	int64_t now = shm_now_ms();
	double per = c->ctx->cfg->api_login_per_minute;

	if (call_fields(c, spec) < 0)
		return;
	name = json_string_value(json_object_get(c->body, "name"));
	pw = json_string_value(json_object_get(c->body, "password"));
	snprintf(key, sizeof key, "login-user:%.64s", name);
	rlim_take(lim, key, per, per, now, &ru);
	snprintf(key, sizeof key, "login-addr:%s", req_addr(c->rq));
	rlim_take(lim, key, per * 4, per * 4, now, &ra);
	if (!ru.ok || !ra.ok) {
		char s[24];
		c->lim = !ru.ok ? ru : ra;
		c->have_lim = 1;
		snprintf(s, sizeof s, "%ld", !ru.ok ? ru.retry_after_s : ra.retry_after_s);
		req_add_header(c->rq, "Retry-After", s);
		call_problem(c, 429, "Too many login attempts", NULL, "try again in %s s", s);
		return;
	}
	/* One block: the struct, the session id (64), the password; freed with the call. */
	if (!(l = calloc(1, sizeof *l + 64 + strlen(pw) + 1))) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	l->password = (char *)(l + 1) + 64;
	memcpy(l->password, pw, strlen(pw) + 1);
	l->c = c;
	snprintf(l->name, sizeof l->name, "%.64s", name);
	snprintf(l->totp, sizeof l->totp, "%s",
		 json_string_value(json_object_get(c->body, "totp")) ?: "");
	c->data = l;
	p[0] = l->name;
	call_query(c, sql, 1, p, on_user);
}

/* --- logout, me --- */

static void on_logged_out(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	char cookie[160];

	(void)res;
	if (err) {
		call_db_error(c, err);
		return;
	}
	snprintf(cookie, sizeof cookie, "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
		 ACCESS_COOKIE);
	req_add_header(c->rq, "Set-Cookie", cookie);
	call_json(c, 200, json_pack("{s:b}", "logged_out", 1));
}

void access_logout(struct call *c)
{
	static const char sql[] =
		"WITH d AS (DELETE FROM sessions WHERE id_hash = $1 RETURNING 1)"
		" INSERT INTO audit (actor, action, target, addr) SELECT $2, 'session.logout', $2, $3"
		" FROM d";
	const char *cookie = req_cookie(c->rq, ACCESS_COOKIE);
	char hash[65];
	const char *p[3] = { hash, c->actor, req_addr(c->rq) };

	if (!c->session) {
		call_problem(c, 400, "Not a session", NULL, "an API key has no session to end");
		return;
	}
	access_hash(cookie ? cookie : "", hash);
	call_query(c, sql, 3, p, on_logged_out);
}

void access_me(struct call *c)
{
	call_json(c, 200,
		  json_pack("{s:s, s:s, s:s}", "actor", c->actor, "role", role_name(c->role), "via",
			    c->session ? "session" : "key"));
}
