/* itest_users: the real piyasactl against the real PostgreSQL, as an operator
 * would use it to make the admin API's first admin and manage access: users
 * added, listed, re-passworded, re-roled, disabled (their sessions gone) and
 * enabled; API keys made (shown once, stored hashed), listed and revoked; TOTP
 * turned on (the URI's secret gives codes the stored secret accepts) and off;
 * wrong input refused with a clear message and nothing written; and every change
 * in the audit with its actor, before and after, and no secret anywhere in it. */
#include "common/auth.h"
#include "common/authdb.h"
#include "tests/check_main.h"
#include "tests/integration/itest.h"

#include <check.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pty.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PW1 "first-secret-pass"
#define PW2 "second-secret-pass"

static void setup(void)
{
	itest_env_setup();
}

static void teardown(void)
{
	itest_env_teardown();
}

/* piyasactl with stdin (NULL: none), its stdout and stderr into *out and *err
 * (when not NULL: free them); its exit status. The arguments end at the first
 * NULL. */
static int ctl_argv(const char *input, char **out, char **err, const char *const args[])
{
	char *o = NULL, *x = NULL;
	int rc = itest_ctl_iov(input, &o, &x, args);

	if (out)
		*out = o;
	else
		free(o);
	if (err)
		*err = x;
	else
		free(x);
	return rc;
}

#define ctl_in(input, out, err, ...) \
	ctl_argv(input, out, err, (const char *const[]){ __VA_ARGS__, NULL })

static char *q(const char *fmt, const char *arg)
{
	char sql[512];

	snprintf(sql, sizeof sql, fmt, arg);
	return itest_pg_text(sql);
}

static long long qi(const char *fmt, const char *arg)
{
	char sql[512];

	snprintf(sql, sizeof sql, fmt, arg);
	return itest_pg_int(sql);
}

static void assert_pass(const char *user, const char *pass, int want)
{
	char *hash = q("SELECT pass_hash FROM users WHERE name = '%s'", user);

	ck_assert_ptr_nonnull(hash);
	ck_assert_msg(strncmp(hash, "$argon2id$", 10) == 0, "not Argon2id");
	ck_assert(strstr(hash, pass) == NULL);
	ck_assert_int_eq(auth_pass_verify(hash, pass), want);
	free(hash);
}

static void add_session(const char *user)
{
	char sql[512], id[AUTH_TOKEN_SIZE], h[AUTH_HASH_HEX_SIZE];

	auth_token_new(id);
	auth_token_hash(id, h);
	snprintf(sql, sizeof sql,
		 "INSERT INTO sessions (id_hash, user_id, csrf, expires_at)"
		 " SELECT '%s', id, 'c', now() + interval '1 hour' FROM users WHERE name = '%s'",
		 h, user);
	ck_assert_int_eq(itest_pg_exec(sql), 0);
}

static char *the_actor(void)
{
	static char a[80];
	struct passwd *pw = getpwuid(geteuid());

	snprintf(a, sizeof a, "ctl:%s", pw ? pw->pw_name : "?");
	return a;
}

/* Read from the terminal's master until want shows up (or 10 s pass); appends
 * to buf. 1 when seen. */
static int pty_expect(int fd, char *buf, size_t size, const char *want)
{
	size_t n = strlen(buf);
	int64_t end = itest_now_ms() + 10000;

	while (!strstr(buf, want) && itest_now_ms() < end && n + 1 < size) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 200) <= 0)
			continue;
		if ((r = read(fd, buf + n, size - n - 1)) <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
	}
	return strstr(buf, want) != NULL;
}

/* `piyasactl user add NAME --role viewer` on a terminal, typing first and then
 * second at its two prompts; its exit status, what the terminal showed in out. */
static int add_on_tty(const char *name, const char *first, const char *second, char *out, size_t size)
{
	char *bin = itest_bin("piyasactl");
	int fd, st;
	pid_t pid = forkpty(&fd, NULL, NULL, NULL);

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(bin, bin, "user", "add", name, "--role", "viewer", (char *)NULL);
		_exit(127);
	}
	free(bin);
	out[0] = '\0';
	ck_assert_msg(pty_expect(fd, out, size, "new password: "), "no prompt: %s", out);
	ck_assert_int_gt(write(fd, first, strlen(first)), 0);
	ck_assert_int_gt(write(fd, "\n", 1), 0);
	ck_assert_msg(pty_expect(fd, out, size, "again: "), "no second prompt: %s", out);
	ck_assert_int_gt(write(fd, second, strlen(second)), 0);
	ck_assert_int_gt(write(fd, "\n", 1), 0);
	pty_expect(fd, out, size, "\x01"); /* the rest, until it exits */
	st = itest_wait_exit(pid, 30000);
	close(fd);
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(password_prompted_twice_without_echo)
{
	char out[4096];

	/* Two different answers: refused, nothing written. */
	ck_assert_int_eq(add_on_tty("erin", PW1, PW2, out, sizeof out), 1);
	ck_assert_msg(strstr(out, "the two passwords differ"), "%s", out);
	ck_assert(strstr(out, PW1) == NULL && strstr(out, PW2) == NULL);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM users"), 0);
	/* The same twice: added, and the terminal never showed it. */
	ck_assert_int_eq(add_on_tty("erin", PW1, PW1, out, sizeof out), 0);
	ck_assert_msg(strstr(out, "added user erin (viewer)"), "%s", out);
	ck_assert_msg(strstr(out, PW1) == NULL, "the password was echoed: %s", out);
	assert_pass("erin", PW1, 0);
}
END_TEST

START_TEST(users_added_changed_disabled)
{
	char *out, *err, *gen;

	/* The first admin, password on stdin. */
	ck_assert_int_eq(ctl_in(PW1 "\n", &out, NULL, "user", "add", "alice", "--role", "admin"), 0);
	ck_assert_ptr_nonnull(strstr(out, "added user alice (admin)"));
	free(out);
	assert_pass("alice", PW1, 0);
	assert_pass("alice", PW2, -1);
	ck_assert_int_eq(qi("SELECT count(*) FROM users WHERE name = '%s' AND role = 'admin'"
			    " AND NOT disabled AND totp_secret IS NULL",
			    "alice"),
			 1);

	/* A generated password: stdout is that password alone, and it logs in. */
	ck_assert_int_eq(ctl_in(NULL, &gen, &err, "user", "add", "bob", "--role", "operator",
				"--generate"),
			 0);
	gen[strcspn(gen, "\n")] = '\0';
	ck_assert_uint_eq(strlen(gen), 24);
	ck_assert_ptr_nonnull(strstr(err, "shown once"));
	ck_assert(strstr(err, gen) == NULL);
	free(err);
	assert_pass("bob", gen, 0);

	/* Refusals: clear words, exit 2 for a wrong command line, nothing written. */
	ck_assert_int_eq(ctl_in(PW1 "\n", NULL, &err, "user", "add", "carol", "--role", "root"), 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown role 'root' (viewer, operator or admin)"));
	free(err);
	ck_assert_int_eq(ctl_in(PW1 "\n", NULL, &err, "user", "add", "carol", NULL, NULL), 2);
	ck_assert_ptr_nonnull(strstr(err, "--role is needed"));
	free(err);
	ck_assert_int_eq(ctl_in(PW1 "\n", NULL, &err, "user", "add", "Carol", "--role", "viewer"), 2);
	ck_assert_ptr_nonnull(strstr(err, "invalid user name 'Carol'"));
	free(err);
	ck_assert_int_eq(ctl_in("short\n", NULL, &err, "user", "add", "carol", "--role", "viewer"), 1);
	ck_assert_ptr_nonnull(strstr(err, "too short"));
	free(err);
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "user", "add", "carol", "--role", "viewer"), 1);
	ck_assert_ptr_nonnull(strstr(err, "no password on standard input"));
	free(err);
	ck_assert_int_eq(ctl_in(PW2 "\n", NULL, &err, "user", "add", "alice", "--role", "viewer"), 1);
	ck_assert_ptr_nonnull(strstr(err, "user 'alice' already exists"));
	free(err);
	ck_assert_int_eq(qi("SELECT count(*) FROM users WHERE name <> '%s'", "zz"), 2);
	assert_pass("alice", PW1, 0);

	/* A new password ends the user's sessions; the old password stops working. */
	add_session("alice");
	add_session("alice");
	ck_assert_int_eq(ctl_in(PW2 "\n", &out, NULL, "user", "passwd", "alice", NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "2 session(s) ended"));
	free(out);
	assert_pass("alice", PW1, -1);
	assert_pass("alice", PW2, 0);
	ck_assert_int_eq(qi("SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id"
			    " WHERE u.name = '%s'",
			    "alice"),
			 0);

	/* Roles. */
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "user", "role", "bob", "viewer", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "bob: operator -> viewer"));
	free(out);
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "user", "role", "bob", "superuser", NULL), 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown role 'superuser'"));
	free(err);
	ck_assert_int_eq(qi("SELECT count(*) FROM users WHERE name = '%s' AND role = 'viewer'", "bob"),
			 1);
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "user", "role", "nobody", "admin", NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "no user 'nobody'"));
	free(err);

	/* Disabling ends every session of the user, and only theirs. */
	add_session("bob");
	add_session("bob");
	add_session("alice");
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "user", "disable", "bob", NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "bob disabled; 2 session(s) ended"));
	free(out);
	ck_assert_int_eq(qi("SELECT count(*) FROM users WHERE name = '%s' AND disabled", "bob"), 1);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM sessions"), 1);
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "user", "enable", "bob", NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "bob enabled"));
	free(out);
	ck_assert_int_eq(qi("SELECT count(*) FROM users WHERE name = '%s' AND NOT disabled", "bob"), 1);

	/* The listing, as JSON: what an operator sees, no hash, no password. */
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "user", "list", "--json", NULL, NULL), 0);
	{
		json_error_t je;
		json_t *v = json_loads(out, 0, &je), *u;

		ck_assert_msg(v && json_is_array(v), "not a JSON array: %s", out);
		ck_assert_uint_eq(json_array_size(v), 2);
		u = json_array_get(v, 0);
		ck_assert_str_eq(json_string_value(json_object_get(u, "name")), "alice");
		ck_assert_str_eq(json_string_value(json_object_get(u, "role")), "admin");
		ck_assert(json_is_false(json_object_get(u, "disabled")));
		ck_assert(json_is_false(json_object_get(u, "totp")));
		ck_assert_int_eq(json_integer_value(json_object_get(u, "sessions")), 1);
		u = json_array_get(v, 1);
		ck_assert_str_eq(json_string_value(json_object_get(u, "role")), "viewer");
		json_decref(v);
	}
	ck_assert(strstr(out, "argon2") == NULL && strstr(out, "pass") == NULL);
	free(out);
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "user", "list", NULL, NULL, NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "NAME"));
	ck_assert_ptr_nonnull(strstr(out, "alice"));
	free(out);
	free(gen);
}
END_TEST

START_TEST(keys_shown_once_stored_hashed_revoked)
{
	char *key, *err, *out, *s, hash[AUTH_HASH_HEX_SIZE], hint[AUTH_KEY_HINT_SIZE];

	ck_assert_int_eq(ctl_in(NULL, &key, &err, "user", "key", "add", "deploy", "--role=operator"),
			 0);
	key[strcspn(key, "\n")] = '\0';
	ck_assert_msg(auth_key_ok(key), "not a key: '%s'", key);
	ck_assert_ptr_nonnull(strstr(err, "shown once"));
	ck_assert(strstr(err, key) == NULL);
	free(err);
	/* Stored: the hash and the 8-character hint, never the key. */
	auth_token_hash(key, hash);
	auth_key_hint(key, hint);
	ck_assert_int_eq(qi("SELECT count(*) FROM api_keys WHERE key_hash = '%s' AND role = "
			    "'operator' AND name = 'deploy' AND revoked_at IS NULL",
			    hash),
			 1);
	s = q("SELECT hint FROM api_keys WHERE name = '%s'", "deploy");
	ck_assert_str_eq(s, hint);
	free(s);
	s = q("SELECT created_by FROM api_keys WHERE name = '%s'", "deploy");
	ck_assert_str_eq(s, the_actor());
	free(s);
	ck_assert_int_eq(
		qi("SELECT count(*) FROM api_keys WHERE strpos(api_keys::text, '%s') > 0", key), 0);

	/* One live key per name; a wrong role; a numeric name. */
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "user", "key", "add", "deploy", "--role=viewer"), 1);
	ck_assert_ptr_nonnull(strstr(err, "a live key named 'deploy' already exists"));
	free(err);
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "user", "key", "add", "ci", "--role=god"), 2);
	ck_assert_ptr_nonnull(strstr(err, "unknown role 'god'"));
	free(err);
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "user", "key", "add", "42", "--role=viewer"), 2);
	free(err);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM api_keys"), 1);

	/* The listing shows the hint, not the key. */
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "user", "key", "list", "--json", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, hint));
	ck_assert(strstr(out, key) == NULL && strstr(out, hash) == NULL);
	free(out);

	/* Revoked by name; then gone from the default listing, and the name free. */
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "user", "key", "revoke", "deploy", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "revoked key deploy"));
	free(out);
	ck_assert_int_eq(qi("SELECT count(*) FROM api_keys WHERE key_hash = '%s' AND revoked_at"
			    " IS NOT NULL",
			    hash),
			 1);
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "user", "key", "revoke", "deploy", NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "no live key named 'deploy'"));
	free(err);
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "user", "key", "list", NULL, NULL), 0);
	ck_assert(strstr(out, "deploy") == NULL);
	free(out);
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "user", "key", "list", "--all", NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "deploy"));
	free(out);
	free(key);
	ck_assert_int_eq(ctl_in(NULL, &key, NULL, "user", "key", "add", "deploy", "--role=admin"), 0);
	free(key);
	/* Revoked by id. */
	s = q("SELECT id FROM api_keys WHERE revoked_at IS NULL AND name = '%s'", "deploy");
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "key", "revoke", s, NULL), 0);
	free(s);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM api_keys WHERE revoked_at IS NULL"), 0);
}
END_TEST

START_TEST(totp_on_gives_working_codes_and_off)
{
	char *uri, *err, *sealed, *sec, secret[64], opened[64], code[8];
	unsigned char key[32];
	size_t n;

	ck_assert_int_eq(ctl_in(PW1 "\n", NULL, NULL, "user", "add", "alice", "--role", "viewer"), 0);
	ck_assert_int_eq(ctl_in(NULL, &uri, &err, "user", "totp", "alice", "on", NULL), 0);
	ck_assert_msg(strncmp(uri, "otpauth://totp/piyasa:alice?secret=", 35) == 0, "uri: %s", uri);
	ck_assert_ptr_nonnull(strstr(uri, "&issuer=piyasa&algorithm=SHA1&digits=6&period=30"));
	ck_assert(strstr(err, "secret=") == NULL);
	free(err);
	sec = uri + 35;
	n = strcspn(sec, "&");
	ck_assert_uint_eq(n, 32);
	memcpy(secret, sec, n);
	secret[n] = '\0';

	/* Stored sealed: not the secret, but it opens to it with the token key, and
	 * the code an authenticator app shows now is accepted. */
	sealed = q("SELECT totp_secret FROM users WHERE name = '%s'", "alice");
	ck_assert_ptr_nonnull(sealed);
	ck_assert(strstr(sealed, secret) == NULL);
	ck_assert_int_eq(
		sodium_hex2bin(key, sizeof key, getenv("PIYASA_TOKEN_KEY"), 64, NULL, &n, NULL), 0);
	ck_assert_int_eq(auth_secret_open(key, sealed, opened, sizeof opened), 0);
	ck_assert_str_eq(opened, secret);
	ck_assert_int_eq(auth_totp_code(opened, time(NULL), 6, code, sizeof code), 0);
	ck_assert_int_eq(auth_totp_verify(opened, code, time(NULL), NULL), 0);
	free(sealed);

	/* On twice keeps the first secret; off clears it. */
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "user", "totp", "alice", "on", NULL), 1);
	ck_assert_ptr_nonnull(strstr(err, "already has TOTP"));
	free(err);
	sealed = q("SELECT totp_secret FROM users WHERE name = '%s'", "alice");
	ck_assert_int_eq(auth_secret_open(key, sealed, opened, sizeof opened), 0);
	ck_assert_str_eq(opened, secret);
	free(sealed);
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "totp", "alice", "off", NULL), 0);
	ck_assert_int_eq(qi("SELECT count(*) FROM users WHERE name = '%s' AND totp_secret IS NULL",
			    "alice"),
			 1);
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "user", "totp", "alice", "maybe", NULL), 2);
	free(err);

	/* The audit saw it turned on and off, and never the secret. */
	ck_assert_int_eq(qi("SELECT count(*) FROM audit WHERE action IN ('user.totp.on',"
			    " 'user.totp.off') AND target = 'user:%s'",
			    "alice"),
			 2);
	ck_assert_int_eq(qi("SELECT count(*) FROM audit WHERE strpos(audit::text, '%s') > 0", secret),
			 0);
	free(uri);
}
END_TEST

START_TEST(audit_has_every_change_and_no_secret)
{
	char *key, *out, *err, sql[512];
	json_t *v;
	size_t i;
	static const char *const actions[] = {
		"user.add",    "user.add",     "user.passwd",   "user.role", "user.disable",
		"user.enable", "user.totp.on", "user.totp.off", "key.add",   "key.revoke",
	};

	ck_assert_int_eq(ctl_in(PW1 "\n", NULL, NULL, "user", "add", "alice", "--role", "admin"), 0);
	ck_assert_int_eq(ctl_in(PW1 "\n", NULL, NULL, "user", "add", "bob", "--role", "viewer"), 0);
	ck_assert_int_eq(ctl_in(PW2 "\n", NULL, NULL, "user", "passwd", "bob", NULL, NULL), 0);
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "role", "bob", "operator", NULL), 0);
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "disable", "bob", NULL, NULL), 0);
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "enable", "bob", NULL, NULL), 0);
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "totp", "bob", "on", NULL), 0);
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "totp", "bob", "off", NULL), 0);
	ck_assert_int_eq(ctl_in(NULL, &key, NULL, "user", "key", "add", "deploy", "--role=viewer"), 0);
	key[strcspn(key, "\n")] = '\0';
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "key", "revoke", "deploy", NULL), 0);
	/* Refused and no-op commands write nothing. */
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "role", "bob", "root", NULL), 2);
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "role", "bob", "operator", NULL), 0);
	ck_assert_int_eq(ctl_in(NULL, NULL, NULL, "user", "enable", "bob", NULL, NULL), 0);
	ck_assert_int_eq(ctl_in(PW1 "\n", NULL, NULL, "user", "add", "bob", "--role", "viewer"), 1);

	/* Each change once, in order, by this Unix user, with before and after. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit"), 10);
	for (i = 0; i < sizeof actions / sizeof *actions; i++) {
		char *a;

		snprintf(sql, sizeof sql, "SELECT action FROM audit ORDER BY id OFFSET %zu LIMIT 1", i);
		a = itest_pg_text(sql);
		ck_assert_str_eq(a, actions[i]);
		free(a);
	}
	ck_assert_int_eq(qi("SELECT count(*) FROM audit WHERE actor = '%s'", the_actor()), 10);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action = 'user.role' AND"
				      " before->>'role' = 'viewer' AND after->>'role' = 'operator'"
				      " AND target = 'user:bob'"),
			 1);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action = 'user.disable'"
				      " AND (before->>'disabled')::boolean = false"
				      " AND (after->>'disabled')::boolean = true"),
			 1);
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit WHERE action = 'key.revoke'"
				      " AND target = 'key:deploy' AND (after->>'revoked')::boolean"),
			 1);

	/* No secret: no password, no hash, no key, no sealed TOTP secret. */
	ck_assert_int_eq(itest_pg_int("SELECT count(*) FROM audit a WHERE"
				      " strpos(a::text, '" PW1 "') > 0 OR strpos(a::text, '" PW2
				      "') > 0 OR strpos(a::text, 'argon2') > 0"
				      " OR EXISTS (SELECT 1 FROM api_keys k WHERE"
				      " strpos(a::text, k.key_hash) > 0)"),
			 0);
	ck_assert_int_eq(qi("SELECT count(*) FROM audit WHERE strpos(audit::text, '%s') > 0", key), 0);

	/* piyasactl audit: filters, limit, JSON. */
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "audit", "--action", "user.*", "--json", NULL), 0);
	ck_assert_ptr_nonnull(v = json_loads(out, 0, NULL));
	ck_assert_uint_eq(json_array_size(v), 8);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 0), "action")),
			 "user.add");
	ck_assert_str_eq(json_string_value(json_object_get(
				 json_object_get(json_array_get(v, 0), "after"), "name")),
			 "alice");
	json_decref(v);
	free(out);
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "audit", "--limit", "2", "--json", NULL), 0);
	ck_assert_ptr_nonnull(v = json_loads(out, 0, NULL));
	ck_assert_uint_eq(json_array_size(v), 2);
	ck_assert_str_eq(json_string_value(json_object_get(json_array_get(v, 1), "action")),
			 "key.revoke");
	json_decref(v);
	free(out);
	ck_assert_int_eq(
		ctl_in(NULL, &out, NULL, "audit", "--since", "1h", "--actor", the_actor(), NULL), 0);
	ck_assert_ptr_nonnull(strstr(out, "user.totp.on"));
	ck_assert(strstr(out, key) == NULL);
	free(out);
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "audit", "--actor", "user:nobody", NULL, NULL), 0);
	ck_assert(strstr(out, "user.add") == NULL);
	free(out);
	ck_assert_int_eq(ctl_in(NULL, NULL, &err, "audit", "--since", "yesterday-ish", NULL, NULL), 2);
	ck_assert_ptr_nonnull(strstr(err, "not a time"));
	free(err);
	free(key);
}
END_TEST

/* What piyasa-api writes for its own changes (AUTHDB_AUDIT_ADD), as piyasactl
 * audit shows it: the address, the JSON before and after, the filters. */
START_TEST(audit_rows_of_the_api_are_listed)
{
	PGconn *db = PQconnectdb(getenv("PIYASA_DATABASE_URL"));
	const char *rows[][6] = {
		{ "user:alice", "settings.set", "settings:max_msgs_per_min", "{\"value\": 6}",
		  "{\"value\": 8}", "192.0.2.7" },
		{ "key:deploy", "bot.update", "bot:3", "{\"enabled\": true}",
		  "{\"enabled\": false}", "192.0.2.8" },
		{ "user:alice", "settings.unset", "settings:scale_factor", "{\"value\": 2}", NULL,
		  "192.0.2.7" },
	};
	char *out;
	json_t *v, *r;

	ck_assert_int_eq(PQstatus(db), CONNECTION_OK);
	for (size_t i = 0; i < 3; i++) {
		PGresult *res = PQexecParams(db, AUTHDB_AUDIT_ADD, 6, NULL, rows[i], NULL, NULL, 0);

		ck_assert_msg(PQresultStatus(res) == PGRES_TUPLES_OK, "%s", PQerrorMessage(db));
		ck_assert_int_eq(PQntuples(res), 1);
		PQclear(res);
	}
	PQfinish(db);

	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "audit", "--action", "settings.*", "--json"), 0);
	ck_assert_ptr_nonnull(v = json_loads(out, 0, NULL));
	ck_assert_uint_eq(json_array_size(v), 2);
	r = json_array_get(v, 0);
	ck_assert_str_eq(json_string_value(json_object_get(r, "actor")), "user:alice");
	ck_assert_str_eq(json_string_value(json_object_get(r, "addr")), "192.0.2.7");
	ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "after"), "value")), 8);
	ck_assert(json_is_null(json_object_get(json_array_get(v, 1), "after")));
	json_decref(v);
	free(out);
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "audit", "--actor", "key:deploy", "--since",
				"2000-01-01 00:00+00"),
			 0);
	ck_assert_ptr_nonnull(strstr(out, "bot.update"));
	ck_assert_ptr_nonnull(strstr(out, "192.0.2.8"));
	ck_assert(strstr(out, "settings.set") == NULL);
	free(out);
	ck_assert_int_eq(ctl_in(NULL, &out, NULL, "audit", "--since", "2999-01-01"), 0);
	ck_assert(strstr(out, "bot.update") == NULL);
	free(out);
}
END_TEST

static Suite *users_suite(void)
{
	Suite *s = suite_create("users");
	TCase *tc = tcase_create("users");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, users_added_changed_disabled);
	tcase_add_test(tc, password_prompted_twice_without_echo);
	tcase_add_test(tc, keys_shown_once_stored_hashed_revoked);
	tcase_add_test(tc, totp_on_gives_working_codes_and_off);
	tcase_add_test(tc, audit_has_every_change_and_no_secret);
	tcase_add_test(tc, audit_rows_of_the_api_are_listed);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(users_suite)
