/* ctl: what the piyasactl commands share: the run context with its lazily opened
 * connections, option parsing, output helpers, synchronous libpq helpers and
 * the command entry points. piyasactl is a short-lived tool, so everything here
 * blocks; errors go to stderr once, in the command that handles them. */
#ifndef PIYASA_CTL_H
#define PIYASA_CTL_H

#include "common/cfg.h"
#include "common/rqs.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Every JSON piyasactl writes or prints: 15 significant digits is what a decimal
 * written by a person survives as a double, so 0.7 stays 0.7, not
 * 0.69999999999999996. */
#define CTL_JSON_REAL JSON_REAL_PRECISION(15)

/* Exit codes: 0 done, 1 the operation failed, 2 the command line was wrong. */
enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

struct ctl {
	struct cfg cfg;
	PGconn *db;     /* ctl_db() opens it on first use; main closes it */
	struct rqs *rq; /* ctl_redis() likewise */
	int have_key;   /* token key loaded (ctl_seal_token) */
	unsigned char key[32];
};

/* ---- output (ctl_out.c) ---- */

/* "piyasactl: <message>" on stderr; returns CTL_FAIL. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "piyasactl <cmd>: <message>" and the command's usage on stderr; CTL_USAGE. */
int ctl_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "piyasactl: note: <message>" on stderr (a warning that does not fail). */
void ctl_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* 1 when stdout is a terminal and NO_COLOR is unset. */
int ctl_color(void);

/* -o json (or --output json): listings and shows print JSON for scripts. */
void ctl_set_json(int on);
int ctl_json(void);

/* Print res as aligned columns under its field names (UTF-8 aware widths), or
 * under -o json as an array of objects, one a row (numbers, booleans and json
 * columns keep their type, NULL is null). */
void ctl_table(FILE *f, const PGresult *res);
void ctl_text_table(FILE *f, const PGresult *res); /* always the columns */

/* v indented, in its key order, and a newline. */
void ctl_print_json(FILE *f, json_t *v);

/* Print res as a JSON array of objects named by its fields: booleans, integers
 * and JSON columns (and text columns named before/after) typed, NULL as null,
 * the rest strings. 0 or -1 (out of memory). */
int ctl_json_rows(FILE *f, const PGresult *res);

/* Display width of a UTF-8 string (code points; good enough for Turkish). */
size_t ctl_width(const char *s);

/* ---- the help texts (main.c) ---- */

/* Print the usage of cmd ("bot", "chat", ...) to f; 0, or -1 when unknown. */
int ctl_help(FILE *f, const char *cmd);

/* A subcommand of a command (bot add, chat list, ...). */
struct ctl_sub {
	const char *name;
	int (*fn)(struct ctl *c, int argc, char **argv);
};

/* Run the subcommand argv[1] of cmd from subs (NULL-terminated) with the
 * arguments after it; --help prints cmd's help; anything else is a usage error. */
int ctl_dispatch(struct ctl *c, const char *cmd, const struct ctl_sub *subs, int argc, char **argv);

/* ---- command-line arguments (ctl_args.c) ---- */

struct ctl_opt {
	const char *name; /* without the leading "--" */
	const char **val; /* takes a value: set to it (NULL when absent) */
	int *flag;        /* a flag: set to 1 when present */
};

/* Parse argv[0..argc) (after the command words): "--name value", "--name=value"
 * and flags; the rest are positionals, up to maxpos. "--help" prints cmd's usage
 * and exits 0. Returns 0 or CTL_USAGE (already reported). */
int ctl_opts(const char *cmd, int argc, char **argv, const struct ctl_opt *opts, char **pos,
	     int maxpos, int *npos);

/* Strict integers: 0, or -1 when s is not entirely a number in range. */
int ctl_parse_i64(const char *s, int64_t *out);
int ctl_parse_id(const char *s, int64_t *out); /* > 0 */

/* A JSON argument, or "@FILE" for a file's content; -1 with err. */
int ctl_json_arg(const char *arg, json_t **out, char *err, size_t errlen);

/* A secret argument; "-" reads one line from stdin (keeps it out of `ps` and the
 * shell history). Otherwise arg, which must point into argv, is copied and then
 * overwritten with 'x'. -1 with err. */
int ctl_secret_arg(const char *arg, char *out, size_t n, char *err, size_t errlen);

/* A new password for user NAME: with gen, a random one (auth_pass_generate) that
 * the caller prints once; else from the terminal, asked twice without echo; else
 * (stdin not a terminal) the first line of stdin. Checked with auth_pass_check.
 * 0 or -1 with err (never the password). */
int ctl_read_password(int gen, char *out, size_t n, char *err, size_t errlen);

/* ---- PostgreSQL (ctl_db.c) ---- */

/* The connection, opened on first use. NULL with err. */
PGconn *ctl_db(struct ctl *c, char *err, size_t errlen);

/* Run one statement with text parameters (NULL = SQL NULL). Returns the result
 * (PQclear it) or NULL with the server's message in err. */
PGresult *ctl_q(PGconn *db, const char *sql, int n, const char *const *params, char *err,
		size_t errlen);

/* ctl_q that discards the result; returns the affected row count, or -1. */
long ctl_x(PGconn *db, const char *sql, int n, const char *const *params, char *err, size_t errlen);

/* Several statements in one string (migrations). 0 or -1 with err. */
int ctl_script(PGconn *db, const char *sql, char *err, size_t errlen);

/* The SQLSTATE of the last failed ctl_q/ctl_x/ctl_script ("" if none). */
const char *ctl_db_state(void);

/* The constraint named by the last failure ("" if none). */
const char *ctl_db_constraint(void);

/* 0 when the bot (chat) of that id exists, else -1 with "no bot ID" or the
 * database's error in err. */
int ctl_bot_exists(PGconn *db, const char *id, char *err, size_t errlen);
int ctl_chat_exists(PGconn *db, const char *id, char *err, size_t errlen);

/* 0 when PostgreSQL knows the time zone name, else -1 with err. */
int ctl_check_tz(PGconn *db, const char *tz, char *err, size_t errlen);

/* Roll back, ignoring errors (the connection may already be broken). */
void ctl_rollback(PGconn *db);

/* Write a chat: insert (upsert: or update the title of) row id, then set the
 * optional fields that are not NULL (topics as JSON text, enabled "true"/"false").
 * Call inside a transaction. 1 inserted, 0 updated, -1 with err (a duplicate id
 * without upsert reads "chat ID already exists"). */
int ctl_chat_write(PGconn *db, int upsert, const char *id, const char *title, const char *topics,
		   const char *tz, const char *language, const char *enabled, char *err,
		   size_t errlen);

/* Upsert one setting (value: JSON text). 1 changed, 0 already so, -1 with err. */
int ctl_setting_write(PGconn *db, const char *key, const char *value, char *err, size_t errlen);

/* ---- Redis (ctl_rq.c) ---- */

/* The blocking queue client, opened on first use. NULL with err. */
struct rqs *ctl_redis(struct ctl *c, char *err, size_t errlen);

/* PUBLISH <prefix>:settings key; *receivers = how many subscribers heard it. */
int ctl_publish_setting(struct ctl *c, const char *key, long long *receivers, char *err, size_t errlen);

/* After a committed change of bots ids[0..n): PUBLISH <prefix>:bots "ID ID ..."
 * (a few hundred ids a message), the bot change notice on which every worker
 * drops its cached copies. A failure is a note, not the command's failure: the
 * workers' caches expire within 10 minutes anyway. */
void ctl_notify_bots(struct ctl *c, const int64_t *ids, size_t n);
/* After a committed change of chats ids[0..n) (settings, enabled): the chat
 * notice the workers already share (P:chats, "-1 =ID ..."), on which they
 * drop their cached context of those chats at once (else within 30 s). */
void ctl_notify_chats(struct ctl *c, const int64_t *ids, size_t n);

/* ---- commands: argv[0] is the command word; return an exit code ---- */

int cmd_migrate(struct ctl *c, int argc, char **argv);
int cmd_bot(struct ctl *c, int argc, char **argv);
int cmd_chat(struct ctl *c, int argc, char **argv);
int cmd_import(struct ctl *c, int argc, char **argv);
int cmd_enqueue(struct ctl *c, int argc, char **argv);
int cmd_status(struct ctl *c, int argc, char **argv);
int cmd_spend(struct ctl *c, int argc, char **argv);
int cmd_dead(struct ctl *c, int argc, char **argv);
int cmd_settings(struct ctl *c, int argc, char **argv);
int cmd_tail(struct ctl *c, int argc, char **argv);
int cmd_user(struct ctl *c, int argc, char **argv);
int cmd_audit(struct ctl *c, int argc, char **argv);
int cmd_fleet(struct ctl *c, int argc, char **argv);
int cmd_keygen(struct ctl *c, int argc, char **argv);
int cmd_backup(struct ctl *c, int argc, char **argv);
int cmd_restore(struct ctl *c, int argc, char **argv);
int cmd_prune(struct ctl *c, int argc, char **argv);

/* Load the token key once (c->key). 0 or -1 with err. */
int ctl_token_key(struct ctl *c, char *err, size_t errlen);

/* Shared by bot add, bot set-token and import: the token sealed for the bots
 * table, as bytea hex text ("\x..."), malloc'd. NULL with err. */
char *ctl_seal_token(struct ctl *c, const char *token, char *err, size_t errlen);

/* Another bot (not except_id) that already uses the Telegram bot of this hint:
 * 1 with its description in err, 0 none, -1 with err. */
int ctl_token_clash(PGconn *db, const char *hint, int64_t except_id, char *err, size_t errlen);

/* After inserting bots with explicit ids: move the id sequence past them. */
int ctl_bump_bot_ids(PGconn *db, char *err, size_t errlen);

#endif
