/* authdb: the SQL of users, API keys and the audit table (ctl/migrations/
 * 004_users.sql), shared by piyasactl (libpq, blocking) and piyasa-api (pgc).
 *
 * Each state-changing statement makes its change AND writes its audit row in one
 * statement (data-modifying CTEs): pgc cannot hold a transaction across calls,
 * and an audit row must exist exactly when the change happened. The audit's
 * before/after are built by the database from the rows with the secrets left out:
 *   a user: {"id", "name", "role", "disabled", "totp"}  (totp: true/false)
 *   a key:  {"id", "name", "hint", "role", "revoked"}
 * so no password hash, key hash, session or TOTP secret can reach the audit.
 *
 * Parameters are text ($n, NULL = SQL NULL); the last two of every change are
 * the actor ("ctl:root", "user:alice", "key:deploy"; authdb_ctl_actor for
 * piyasactl) and the client's address (NULL from piyasactl). Results are text, in the columns each
 * comment names. A bad role or name fails the table's check (SQLSTATE 23514);
 * callers check with auth_role_parse / auth_name_ok first for a clear message. */
#ifndef PIYASA_AUTHDB_H
#define PIYASA_AUTHDB_H

#include <stddef.h>

/* $1 name, $2 pass_hash, $3 role, $4 actor, $5 addr -> (id). Audit 'user.add'.
 * A taken name fails with 23505 on constraint "users_name_key". */
extern const char AUTHDB_USER_ADD[];

/* Each: 0 rows when there is no such user; else one row (changed: t|f, ...).
 * Nothing is written (no audit row either) when changed is f. */

/* $1 name, $2 role, $3 actor, $4 addr -> (changed, old_role). Audit 'user.role'. */
extern const char AUTHDB_USER_ROLE[];

/* $1 name, $2 pass_hash, $3 actor, $4 addr -> (changed, sessions_ended). Always
 * changes; ends the user's sessions (a password change locks out whoever had
 * the old one). Audit 'user.passwd' (before = after: the hash is not shown). */
extern const char AUTHDB_USER_PASSWD[];

/* $1 name, $2 disabled ('true'|'false'), $3 actor, $4 addr ->
 * (changed, sessions_ended). Disabling deletes the user's sessions (even when
 * already disabled). Audit 'user.disable' or 'user.enable'. */
extern const char AUTHDB_USER_DISABLE[];

/* $1 name, $2 sealed secret (auth_secret_seal) or NULL for off, $3 actor,
 * $4 addr -> (changed, was_on). Turning on a user who has TOTP changes nothing
 * (changed f, was_on t): turn it off first. Audit 'user.totp.on'|'user.totp.off'. */
extern const char AUTHDB_USER_TOTP[];

/* -> (id, name, role, disabled, totp, created_at, last_login_at, sessions):
 * every user by name; times as ISO 8601 UTC text ("2026-12-07T17:40:01Z"). */
extern const char AUTHDB_USER_LIST[];

/* $1 name, $2 hint, $3 key_hash, $4 role, $5 actor (also created_by), $6 addr
 * -> (id). Audit 'key.add'. A live key of that name fails with 23505 on
 * constraint "api_keys_live_name". */
extern const char AUTHDB_KEY_ADD[];

/* $1 id (or NULL), $2 name (or NULL), $3 actor, $4 addr -> (id, name) of the
 * key revoked; 0 rows when no live key matches. Audit 'key.revoke'. */
extern const char AUTHDB_KEY_REVOKE[];

/* $1 'true' to include revoked keys -> (id, name, hint, role, created_by,
 * created_at, last_used_at, revoked_at), by id. */
extern const char AUTHDB_KEY_LIST[];

/* Any other change: $1 actor, $2 action, $3 target, $4 before (JSON text or
 * NULL), $5 after (JSON or NULL), $6 addr -> (id). The caller leaves secrets out
 * of before and after (a bot's token: its hint only). */
extern const char AUTHDB_AUDIT_ADD[];

/* $1 since (timestamptz text or NULL), $2 actor (NULL: any), $3 action (NULL:
 * any; a trailing '*' matches a prefix: 'user.*'), $4 limit -> (id, at, actor,
 * action, target, before, after, addr): the newest $4 rows that match, oldest
 * first; before/after as JSON text. */
extern const char AUTHDB_AUDIT_LIST[];

/* "ctl:<unix user>" for piyasactl (the effective user's name, else its uid),
 * into out. */
void authdb_ctl_actor(char *out, size_t outsize);

#endif
