/* authdb: the statements of users, keys and the audit. Each change is one
 * statement: a CTE locks and reads the row as it was (old), another changes it
 * (new), a third writes the audit row from both; PostgreSQL runs them in one
 * snapshot and one transaction, so the audit row and the change stand or fall
 * together. */
#include "common/authdb.h"

#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

/* What the audit shows of a user or a key: never a hash or a secret. */
#define USER_JSON(t)                                                                 \
	"jsonb_build_object('id', " t ".id, 'name', " t ".name, 'role', " t ".role," \
	" 'disabled', " t ".disabled, 'totp', " t ".totp)"
#define USER_COLS(t) \
	t ".id, " t ".name, " t ".role, " t ".disabled, " t ".totp_secret IS NOT NULL AS totp"
#define KEY_JSON(t)                                                                  \
	"jsonb_build_object('id', " t ".id, 'name', " t ".name, 'hint', " t ".hint," \
	" 'role', " t ".role, 'revoked', " t ".revoked_at IS NOT NULL)"
#define KEY_COLS(t) t ".id, " t ".name, " t ".hint, " t ".role, " t ".revoked_at"
#define ISO(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

const char AUTHDB_USER_ADD[] =
	"WITH u AS (INSERT INTO users (name, pass_hash, role) VALUES ($1, $2, $3)"
	" RETURNING " USER_COLS("users") "),"
					 " a AS (INSERT INTO audit (actor, action, target, after, addr)"
					 " SELECT $4, 'user.add', 'user:' || u.name, " USER_JSON(
						 "u") ", $5 FROM u)"
						      " SELECT id FROM u";

/* The shape of the single-user changes: old (locked), new (changed when it
 * differs), the audit row from both, and what the caller reports. */
const char AUTHDB_USER_ROLE[] = "WITH old AS (SELECT " USER_COLS(
	"users") " FROM users WHERE name = $1 FOR UPDATE),"
		 " new AS (UPDATE users u SET role = $2 FROM old WHERE u.id = old.id AND old.role <> $2"
		 " RETURNING " USER_COLS(
			 "u") "),"
			      " a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
			      " SELECT $3, 'user.role', 'user:' || new.name, " USER_JSON("old") ", " USER_JSON(
				      "new") ", $4"
					     " FROM old JOIN new ON new.id = old.id)"
					     " SELECT EXISTS (SELECT 1 FROM new) AS changed, old.role AS old_role FROM old";

const char AUTHDB_USER_PASSWD[] = "WITH old AS (SELECT " USER_COLS(
	"users") " FROM users WHERE name = $1 FOR UPDATE),"
		 " new AS (UPDATE users u SET pass_hash = $2 FROM old WHERE u.id = old.id"
		 " RETURNING " USER_COLS(
			 "u") "),"
			      " s AS (DELETE FROM sessions WHERE user_id IN (SELECT id FROM new) RETURNING 1),"
			      " a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
			      " SELECT $3, 'user.passwd', 'user:' || new.name, " USER_JSON("old") ", " USER_JSON(
				      "new") ", $4"
					     " FROM old JOIN new ON new.id = old.id)"
					     " SELECT EXISTS (SELECT 1 FROM new) AS changed, (SELECT count(*) FROM s) AS sessions_ended"
					     " FROM old";

const char AUTHDB_USER_DISABLE[] = "WITH old AS (SELECT " USER_COLS(
	"users") " FROM users WHERE name = $1 FOR UPDATE),"
		 " new AS (UPDATE users u SET disabled = $2::boolean FROM old"
		 " WHERE u.id = old.id AND old.disabled <> $2::boolean RETURNING " USER_COLS(
			 "u") "),"
			      " s AS (DELETE FROM sessions WHERE $2::boolean AND user_id IN (SELECT id FROM old)"
			      " RETURNING 1),"
			      " a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
			      " SELECT $3, CASE WHEN $2::boolean THEN 'user.disable' ELSE 'user.enable' END,"
			      " 'user:' || new.name, " USER_JSON("old") ", " USER_JSON(
				      "new") ", $4"
					     " FROM old JOIN new ON new.id = old.id)"
					     " SELECT EXISTS (SELECT 1 FROM new) AS changed, (SELECT count(*) FROM s) AS sessions_ended"
					     " FROM old";

const char AUTHDB_USER_TOTP[] = "WITH old AS (SELECT " USER_COLS(
	"users") " FROM users WHERE name = $1 FOR UPDATE),"
		 " new AS (UPDATE users u SET totp_secret = $2::text FROM old"
		 " WHERE u.id = old.id AND old.totp = ($2::text IS NULL) RETURNING " USER_COLS(
			 "u") "),"
			      " a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
			      " SELECT $3, CASE WHEN $2::text IS NULL THEN 'user.totp.off' ELSE 'user.totp.on' END,"
			      " 'user:' || new.name, " USER_JSON("old") ", " USER_JSON(
				      "new") ", $4"
					     " FROM old JOIN new ON new.id = old.id)"
					     " SELECT EXISTS (SELECT 1 FROM new) AS changed, old.totp AS was_on FROM old";

const char AUTHDB_USER_LIST[] =
	"SELECT u.id, u.name, u.role, u.disabled, u.totp_secret IS NOT NULL AS totp,"
	" " ISO("u.created_at") " AS created_at, " ISO(
		"u.last_login_at") " AS last_login_at,"
				   " (SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.expires_at > now())"
				   " AS sessions"
				   " FROM users u ORDER BY u.name";

const char AUTHDB_KEY_ADD[] =
	"WITH k AS (INSERT INTO api_keys (name, hint, key_hash, role, created_by)"
	" VALUES ($1, $2, $3, $4, $5) RETURNING " KEY_COLS(
		"api_keys") "),"
			    " a AS (INSERT INTO audit (actor, action, target, after, addr)"
			    " SELECT $5, 'key.add', 'key:' || k.name, " KEY_JSON("k") ", $6 FROM k)"
										      " SELECT id FROM k";

const char AUTHDB_KEY_REVOKE[] = "WITH old AS (SELECT " KEY_COLS(
	"api_keys") " FROM api_keys WHERE revoked_at IS NULL"
		    " AND (id = $1::bigint OR name = $2::text) FOR UPDATE),"
		    " new AS (UPDATE api_keys k SET revoked_at = now() FROM old WHERE k.id = old.id"
		    " RETURNING " KEY_COLS(
			    "k") "),"
				 " a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
				 " SELECT $3, 'key.revoke', 'key:' || new.name, " KEY_JSON(
					 "old") ", " KEY_JSON("new") ", $4"
								     " FROM old JOIN new ON new.id = old.id)"
								     " SELECT id, name FROM new";

const char AUTHDB_KEY_LIST[] = "SELECT id, name, hint, role, created_by, " ISO(
	"created_at") " AS created_at,"
		      " " ISO("last_used_at") " AS last_used_at, " ISO(
			      "revoked_at") " AS revoked_at"
					    " FROM api_keys WHERE $1::boolean OR revoked_at IS NULL ORDER BY id";

const char AUTHDB_AUDIT_ADD[] = "INSERT INTO audit (actor, action, target, before, after, addr)"
				" VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6) RETURNING id";

const char AUTHDB_AUDIT_LIST[] = "SELECT * FROM (SELECT id, " ISO(
	"at") " AS at, actor, action, target, before::text AS before,"
	      " after::text AS after, addr FROM audit"
	      " WHERE ($1::timestamptz IS NULL OR audit.at >= $1::timestamptz)"
	      " AND ($2::text IS NULL OR actor = $2::text)"
	      " AND ($3::text IS NULL OR action = $3::text OR (right($3::text, 1) = '*'"
	      " AND starts_with(action, left($3::text, -1))))"
	      " ORDER BY audit.at DESC, id DESC LIMIT $4::bigint) t ORDER BY t.id";

void authdb_ctl_actor(char *out, size_t outsize)
{
	struct passwd *pw = getpwuid(geteuid());

	if (pw && pw->pw_name && *pw->pw_name)
		snprintf(out, outsize, "ctl:%s", pw->pw_name);
	else
		snprintf(out, outsize, "ctl:%u", (unsigned)geteuid());
}
