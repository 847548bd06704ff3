/* cmd_user: `piyasactl user ...`: the people and scripts that may use the admin API
 * (issue 14), and `piyasactl audit`. The statements are common/authdb's, shared
 * with piyasa-api: each change writes its audit row (actor "ctl:<unix user>") in
 * the same statement. A secret this command makes (a generated password, an API
 * key, a TOTP URI) goes to stdout alone, once, so a script can capture it; what
 * happened goes to stderr then. Nothing secret is ever stored in the clear or
 * written to the audit (docs/SECURITY.md). */
#include "common/auth.h"
#include "common/authdb.h"
#include "ctl/ctl.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ACTOR_SIZE 80

static int check_name(const char *what, const char *name)
{
	if (auth_name_ok(name))
		return 0;
	return ctl_usage("user", "invalid %s name '%s': 1 to 64 of a-z 0-9 _ . -", what, name);
}

static int parse_role(const char *arg, enum auth_role *r)
{
	if (!arg)
		return ctl_usage("user", "--role is needed (viewer, operator or admin)");
	if ((*r = auth_role_parse(arg)) == AUTH_NONE)
		return ctl_usage("user", "unknown role '%s' (viewer, operator or admin)", arg);
	return 0;
}

/* Run a change with the actor and a NULL address appended to params. */
static PGresult *change(struct ctl *c, const char *sql, int n, const char **params, char *err, size_t el)
{
	char actor[ACTOR_SIZE];
	const char *p[8];
	PGconn *db;

	if (n + 2 > 8 || !(db = ctl_db(c, err, el)))
		return NULL;
	authdb_ctl_actor(actor, sizeof actor);
	memcpy(p, params, (size_t)n * sizeof *p);
	p[n] = actor;
	p[n + 1] = NULL;
	return ctl_q(db, sql, n + 2, p, err, el);
}

static int user_add(struct ctl *c, int argc, char **argv)
{
	const char *role_arg;
	int gen, np, rc;
	const struct ctl_opt opts[] = { { "role", &role_arg, NULL },
					{ "generate", NULL, &gen },
					{ NULL, NULL, NULL } };
	char err[1024], *pos[1], pass[AUTH_PASS_MAX + 2], hash[AUTH_PASS_HASH_MAX];
	enum auth_role role;
	PGresult *res;

	if ((rc = ctl_opts("user", argc, argv, opts, pos, 1, &np)) != 0)
		return rc;
	if (np != 1)
		return ctl_usage("user", "user add needs a NAME");
	if ((rc = check_name("user", pos[0])) != 0 || (rc = parse_role(role_arg, &role)) != 0)
		return rc;
	rc = ctl_read_password(gen, pass, sizeof pass, err, sizeof err) < 0 ||
	     auth_pass_hash(pass, hash, err, sizeof err) < 0;
	if (rc) {
		sodium_memzero(pass, sizeof pass);
		return ctl_fail("%s", err);
	}
	{
		const char *p[3] = { pos[0], hash, auth_role_name(role) };
		res = change(c, AUTHDB_USER_ADD, 3, p, err, sizeof err);
	}
	sodium_memzero(hash, sizeof hash);
	if (!res) {
		sodium_memzero(pass, sizeof pass);
		if (strcmp(ctl_db_state(), "23505") == 0)
			return ctl_fail("user '%s' already exists", pos[0]);
		return ctl_fail("%s", err);
	}
	if (gen) {
		/* The only copy: stdout alone, so `PW=$(piyasactl user add ...)` works. */
		printf("%s\n", pass);
		fprintf(stderr, "added user %s (%s), id %s; the password above is shown once\n",
			pos[0], auth_role_name(role), PQgetvalue(res, 0, 0));
	} else {
		printf("added user %s (%s), id %s\n", pos[0], auth_role_name(role),
		       PQgetvalue(res, 0, 0));
	}
	sodium_memzero(pass, sizeof pass);
	PQclear(res);
	return CTL_OK;
}

/* A listing as a table, or with --json as an array of objects; flag_name (or
 * NULL) is a flag whose presence is the query's one parameter ('true'/'false'). */
static int list(struct ctl *c, int argc, char **argv, const char *sql, const char *flag_name)
{
	int as_json, flag = 0, np, rc;
	struct ctl_opt opts[3] = { { "json", NULL, &as_json } };
	char err[1024], *pos[1];
	const char *p[1];
	PGresult *res;
	PGconn *db;

	if (flag_name)
		opts[1] = (struct ctl_opt){ flag_name, NULL, &flag };
	if ((rc = ctl_opts("user", argc, argv, opts, pos, 0, &np)) != 0)
		return rc;
	p[0] = flag ? "true" : "false";
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    !(res = ctl_q(db, sql, flag_name ? 1 : 0, flag_name ? p : NULL, err, sizeof err)))
		return ctl_fail("%s", err);
	if (as_json)
		rc = ctl_json_rows(stdout, res) < 0 ? ctl_fail("out of memory") : CTL_OK;
	else
		ctl_table(stdout, res);
	PQclear(res);
	return rc;
}

static int user_list(struct ctl *c, int argc, char **argv)
{
	return list(c, argc, argv, AUTHDB_USER_LIST, NULL);
}

/* The NAME of a one-user subcommand (passwd, disable, ...); CTL_OK or an exit. */
static int one_name(const char *sub, int argc, char **argv, const struct ctl_opt *opts, char **pos,
		    int want)
{
	int np, rc;

	if ((rc = ctl_opts("user", argc, argv, opts, pos, want, &np)) != 0)
		return rc;
	if (np != want)
		return ctl_usage("user",
				 want == 1 ? "user %s needs a NAME" : "user %s needs NAME ROLE", sub);
	return check_name("user", pos[0]);
}

static int user_passwd(struct ctl *c, int argc, char **argv)
{
	int gen, rc;
	const struct ctl_opt opts[] = { { "generate", NULL, &gen }, { NULL, NULL, NULL } };
	char err[1024], *pos[1], pass[AUTH_PASS_MAX + 2], hash[AUTH_PASS_HASH_MAX];
	PGresult *res;

	if ((rc = one_name("passwd", argc, argv, opts, pos, 1)) != 0)
		return rc;
	rc = ctl_read_password(gen, pass, sizeof pass, err, sizeof err) < 0 ||
	     auth_pass_hash(pass, hash, err, sizeof err) < 0;
	if (rc) {
		sodium_memzero(pass, sizeof pass);
		return ctl_fail("%s", err);
	}
	{
		const char *p[2] = { pos[0], hash };
		res = change(c, AUTHDB_USER_PASSWD, 2, p, err, sizeof err);
	}
	sodium_memzero(hash, sizeof hash);
	if (!res || PQntuples(res) == 0) {
		sodium_memzero(pass, sizeof pass);
		rc = res ? ctl_fail("no user '%s'", pos[0]) : ctl_fail("%s", err);
		PQclear(res);
		return rc;
	}
	if (gen) {
		printf("%s\n", pass);
		fprintf(stderr, "password of %s changed (shown once above); %s session(s) ended\n",
			pos[0], PQgetvalue(res, 0, 1));
	} else {
		printf("password of %s changed; %s session(s) ended\n", pos[0], PQgetvalue(res, 0, 1));
	}
	sodium_memzero(pass, sizeof pass);
	PQclear(res);
	return CTL_OK;
}

static int user_role(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[2];
	enum auth_role role;
	PGresult *res;
	int rc;

	if ((rc = one_name("role", argc, argv, NULL, pos, 2)) != 0 ||
	    (rc = parse_role(pos[1], &role)) != 0)
		return rc;
	{
		const char *p[2] = { pos[0], auth_role_name(role) };
		if (!(res = change(c, AUTHDB_USER_ROLE, 2, p, err, sizeof err)))
			return ctl_fail("%s", err);
	}
	if (PQntuples(res) == 0)
		rc = ctl_fail("no user '%s'", pos[0]);
	else if (PQgetvalue(res, 0, 0)[0] == 't')
		printf("%s: %s -> %s\n", pos[0], PQgetvalue(res, 0, 1), auth_role_name(role));
	else
		printf("%s is already %s\n", pos[0], auth_role_name(role));
	PQclear(res);
	return rc;
}

static int set_disabled(struct ctl *c, int argc, char **argv, int disable)
{
	const char *sub = disable ? "disable" : "enable";
	char err[1024], *pos[1];
	PGresult *res;
	int rc;

	if ((rc = one_name(sub, argc, argv, NULL, pos, 1)) != 0)
		return rc;
	{
		const char *p[2] = { pos[0], disable ? "true" : "false" };
		if (!(res = change(c, AUTHDB_USER_DISABLE, 2, p, err, sizeof err)))
			return ctl_fail("%s", err);
	}
	if (PQntuples(res) == 0)
		rc = ctl_fail("no user '%s'", pos[0]);
	else if (disable)
		printf("%s %s; %s session(s) ended\n", pos[0],
		       PQgetvalue(res, 0, 0)[0] == 't' ? "disabled" : "was already disabled",
		       PQgetvalue(res, 0, 1));
	else
		printf("%s %s\n", pos[0],
		       PQgetvalue(res, 0, 0)[0] == 't' ? "enabled" : "was already enabled");
	PQclear(res);
	return rc;
}

static int user_disable(struct ctl *c, int argc, char **argv)
{
	return set_disabled(c, argc, argv, 1);
}

static int user_enable(struct ctl *c, int argc, char **argv)
{
	return set_disabled(c, argc, argv, 0);
}

static int totp_on(struct ctl *c, const char *name)
{
	char err[1024], secret[AUTH_TOTP_SECRET_SIZE], uri[256], *sealed;
	PGresult *res;
	int rc;

	if (ctl_token_key(c, err, sizeof err) < 0)
		return ctl_fail("%s", err);
	if (auth_totp_secret_new(secret) < 0 || !(sealed = auth_secret_seal(c->key, secret))) {
		sodium_memzero(secret, sizeof secret);
		return ctl_fail("cannot make a TOTP secret");
	}
	{
		const char *p[2] = { name, sealed };
		res = change(c, AUTHDB_USER_TOTP, 2, p, err, sizeof err);
	}
	free(sealed);
	if (!res)
		rc = ctl_fail("%s", err);
	else if (PQntuples(res) == 0)
		rc = ctl_fail("no user '%s'", name);
	else if (PQgetvalue(res, 0, 0)[0] != 't')
		rc = ctl_fail("%s already has TOTP (turn it off first to give a new secret)", name);
	else if (auth_totp_uri("piyasa", name, secret, uri, sizeof uri) < 0)
		rc = ctl_fail("cannot write the otpauth URI");
	else {
		printf("%s\n", uri);
		fprintf(stderr,
			"TOTP on for %s: scan the URI above into an authenticator app; it is "
			"shown once\n",
			name);
		sodium_memzero(uri, sizeof uri);
		rc = CTL_OK;
	}
	sodium_memzero(secret, sizeof secret);
	PQclear(res);
	return rc;
}

static int user_totp(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[2];
	PGresult *res;
	int np, rc;

	if ((rc = ctl_opts("user", argc, argv, NULL, pos, 2, &np)) != 0)
		return rc;
	if (np != 2 || (strcmp(pos[1], "on") != 0 && strcmp(pos[1], "off") != 0))
		return ctl_usage("user", "user totp needs NAME on|off");
	if ((rc = check_name("user", pos[0])) != 0)
		return rc;
	if (strcmp(pos[1], "on") == 0)
		return totp_on(c, pos[0]);
	{
		const char *p[2] = { pos[0], NULL };
		if (!(res = change(c, AUTHDB_USER_TOTP, 2, p, err, sizeof err)))
			return ctl_fail("%s", err);
	}
	if (PQntuples(res) == 0)
		rc = ctl_fail("no user '%s'", pos[0]);
	else
		printf("TOTP %s for %s\n",
		       PQgetvalue(res, 0, 0)[0] == 't' ? "off" : "was already off", pos[0]);
	PQclear(res);
	return rc;
}

/* ---- keys ---- */

static int key_add(struct ctl *c, int argc, char **argv)
{
	const char *role_arg;
	int np, rc;
	const struct ctl_opt opts[] = { { "role", &role_arg, NULL }, { NULL, NULL, NULL } };
	char err[1024], *pos[1], key[AUTH_KEY_SIZE], hint[AUTH_KEY_HINT_SIZE],
		hash[AUTH_HASH_HEX_SIZE];
	enum auth_role role;
	PGresult *res;

	if ((rc = ctl_opts("user", argc, argv, opts, pos, 1, &np)) != 0)
		return rc;
	if (np != 1)
		return ctl_usage("user", "user key add needs a NAME");
	if ((rc = check_name("key", pos[0])) != 0 || (rc = parse_role(role_arg, &role)) != 0)
		return rc;
	/* `key revoke 12` means the key of id 12: a name must not read as one. */
	if (strspn(pos[0], "0123456789") == strlen(pos[0]))
		return ctl_usage("user", "a key name needs a letter ('%s' reads as an id)", pos[0]);
	auth_key_new(key);
	auth_key_hint(key, hint);
	auth_token_hash(key, hash);
	{
		char actor[ACTOR_SIZE];
		const char *p[6] = { pos[0], hint, hash, auth_role_name(role), actor, NULL };
		PGconn *db = ctl_db(c, err, sizeof err);

		authdb_ctl_actor(actor, sizeof actor);
		res = db ? ctl_q(db, AUTHDB_KEY_ADD, 6, p, err, sizeof err) : NULL;
	}
	if (!res) {
		sodium_memzero(key, sizeof key);
		if (strcmp(ctl_db_state(), "23505") == 0)
			return ctl_fail("a live key named '%s' already exists (revoke it first)",
					pos[0]);
		return ctl_fail("%s", err);
	}
	printf("%s\n", key);
	fprintf(stderr,
		"added key %s (%s), id %s; the key above is shown once: use it as "
		"'Authorization: Bearer KEY'\n",
		pos[0], auth_role_name(role), PQgetvalue(res, 0, 0));
	sodium_memzero(key, sizeof key);
	PQclear(res);
	return CTL_OK;
}

static int key_list(struct ctl *c, int argc, char **argv)
{
	return list(c, argc, argv, AUTHDB_KEY_LIST, "all");
}

static int key_revoke(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[1];
	int64_t id;
	PGresult *res;
	int np, rc, by_id;

	if ((rc = ctl_opts("user", argc, argv, NULL, pos, 1, &np)) != 0)
		return rc;
	if (np != 1)
		return ctl_usage("user", "user key revoke needs a NAME or an ID");
	by_id = ctl_parse_id(pos[0], &id) == 0;
	if (!by_id && (rc = check_name("key", pos[0])) != 0)
		return rc;
	{
		const char *p[2] = { by_id ? pos[0] : NULL, by_id ? NULL : pos[0] };
		if (!(res = change(c, AUTHDB_KEY_REVOKE, 2, p, err, sizeof err)))
			return ctl_fail("%s", err);
	}
	if (PQntuples(res) == 0)
		rc = ctl_fail("no live key %s'%s'", by_id ? "of id " : "named ", pos[0]);
	else
		printf("revoked key %s (id %s)\n", PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 0));
	PQclear(res);
	return rc;
}

static int user_key(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {
		{ "add", key_add }, { "list", key_list }, { "revoke", key_revoke }, { NULL, NULL }
	};

	/* argv[-1] is "key": ctl_dispatch reads the subcommand at argv[1]. */
	return ctl_dispatch(c, "user", subs, argc + 1, argv - 1);
}

int cmd_user(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_sub subs[] = {
		{ "add", user_add },   { "list", user_list },       { "passwd", user_passwd },
		{ "role", user_role }, { "disable", user_disable }, { "enable", user_enable },
		{ "totp", user_totp }, { "key", user_key },         { NULL, NULL },
	};

	return ctl_dispatch(c, "user", subs, argc, argv);
}

/* ---- audit ---- */

/* "30m", "2h", "7d", "90s", "1w" before now, as a timestamp PostgreSQL reads;
 * anything else is handed to PostgreSQL as a timestamp as it is. */
static const char *since_arg(const char *s, char *buf, size_t n)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	long long unit = 0;
	time_t t;
	struct tm tm;

	if (end == s || v < 0 || end[0] == '\0' || end[1] != '\0')
		return s;
	switch (*end) {
	case 's': unit = 1; break;
	case 'm': unit = 60; break;
	case 'h': unit = 3600; break;
	case 'd': unit = 86400; break;
	case 'w': unit = 7 * 86400; break;
	default: return s;
	}
	t = time(NULL) - (time_t)(v * unit);
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d %H:%M:%S+00", &tm);
	return buf;
}

int cmd_audit(struct ctl *c, int argc, char **argv)
{
	const char *since, *actor, *action, *limit;
	int as_json, np, rc;
	const struct ctl_opt opts[] = { { "since", &since, NULL },   { "actor", &actor, NULL },
					{ "action", &action, NULL }, { "limit", &limit, NULL },
					{ "json", NULL, &as_json },  { NULL, NULL, NULL } };
	char err[1024], *pos[1], sbuf[40];
	int64_t lim = 50;
	PGresult *res;
	PGconn *db;

	if ((rc = ctl_opts("audit", argc - 1, argv + 1, opts, pos, 0, &np)) != 0)
		return rc;
	if (limit && (ctl_parse_id(limit, &lim) < 0 || lim > 100000))
		return ctl_usage("audit", "--limit needs a number from 1 to 100000");
	{
		char lbuf[24];
		const char *p[4] = { since ? since_arg(since, sbuf, sizeof sbuf) : NULL, actor,
				     action, lbuf };

		snprintf(lbuf, sizeof lbuf, "%lld", (long long)lim);
		if (!(db = ctl_db(c, err, sizeof err)) ||
		    !(res = ctl_q(db, AUTHDB_AUDIT_LIST, 4, p, err, sizeof err))) {
			if (strcmp(ctl_db_state(), "22007") == 0 || strcmp(ctl_db_state(), "22008") == 0)
				return ctl_usage("audit",
						 "--since '%s': not a time (2026-12-07, "
						 "'2026-12-07 17:00', 30m, 2h, 7d)",
						 since);
			return ctl_fail("%s", err);
		}
	}
	if (as_json)
		rc = ctl_json_rows(stdout, res) < 0 ? ctl_fail("out of memory") : CTL_OK;
	else
		ctl_table(stdout, res);
	PQclear(res);
	return rc;
}
