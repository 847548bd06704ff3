/* ctl_db: synchronous libpq for a short-lived tool. One connection, opened when
 * a command first needs it; every statement goes through ctl_q so parameters are
 * always bound (never pasted into SQL) and every failure reads the same way: the
 * server's message, its detail, and a hint to migrate when a table is missing. */
#include "ctl/ctl.h"

#include <stdlib.h>
#include <string.h>

static char last_state[8];
static char last_constraint[128];

const char *ctl_db_state(void)
{
	return last_state;
}

const char *ctl_db_constraint(void)
{
	return last_constraint;
}

/* NOTICEs ("relation already exists, skipping") are noise for an operator. */
static void quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* libpq's messages end in a newline and may span lines: make them one line. */
static void strip_newline(char *s)
{
	size_t n = strlen(s);

	while (n && (s[n - 1] == '\n' || s[n - 1] == ' '))
		s[--n] = '\0';
	for (char *q = s; *q; q++)
		if (*q == '\n' || *q == '\t')
			*q = ' ';
}

PGconn *ctl_db(struct ctl *c, char *err, size_t el)
{
	/* connect_timeout and application_name come first so the URL may override. */
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const vals[] = { "5", "piyasactl", c->cfg.database_url, NULL };

	if (c->db)
		return c->db;
	c->db = PQconnectdbParams(keys, vals, 1);
	if (!c->db) {
		snprintf(err, el, "postgresql: out of memory");
		return NULL;
	}
	if (PQstatus(c->db) != CONNECTION_OK) {
		/* The message may quote the URL's host but never a password:
		 * libpq does not echo it. */
		snprintf(err, el, "postgresql: %s", PQerrorMessage(c->db));
		strip_newline(err);
		PQfinish(c->db);
		c->db = NULL;
		return NULL;
	}
	PQsetNoticeProcessor(c->db, quiet_notice, NULL);
	return c->db;
}

/* Fill err from a failed result (or the connection when there is none). */
static void result_error(PGconn *db, const PGresult *res, char *err, size_t el)
{
	const char *msg, *detail, *state, *cons;

	last_state[0] = last_constraint[0] = '\0';
	if (!res) {
		snprintf(err, el, "postgresql: %s", PQerrorMessage(db));
		strip_newline(err);
		return;
	}
	msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	cons = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);
	snprintf(last_state, sizeof last_state, "%s", state ? state : "");
	snprintf(last_constraint, sizeof last_constraint, "%s", cons ? cons : "");
	if (!msg) {
		snprintf(err, el, "postgresql: %s", PQresultErrorMessage(res));
		strip_newline(err);
		return;
	}
	snprintf(err, el, "postgresql: %s%s%s%s", msg, detail ? " (" : "", detail ? detail : "",
		 detail ? ")" : "");
	if (state && strcmp(state, "42P01") == 0) /* undefined_table */
		snprintf(err + strlen(err), el - strlen(err), "; run `piyasactl migrate` first");
}

PGresult *ctl_q(PGconn *db, const char *sql, int n, const char *const *params, char *err, size_t el)
{
	PGresult *res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)
		return res;
	result_error(db, res, err, el);
	PQclear(res);
	return NULL;
}

long ctl_x(PGconn *db, const char *sql, int n, const char *const *params, char *err, size_t el)
{
	PGresult *res = ctl_q(db, sql, n, params, err, el);
	const char *tuples;
	long rows;

	if (!res)
		return -1;
	tuples = PQcmdTuples(res);
	rows = *tuples ? strtol(tuples, NULL, 10) : 0;
	PQclear(res);
	return rows;
}

int ctl_script(PGconn *db, const char *sql, char *err, size_t el)
{
	PGresult *res = PQexec(db, sql);
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK || st == PGRES_EMPTY_QUERY) {
		PQclear(res);
		return 0;
	}
	result_error(db, res, err, el);
	PQclear(res);
	return -1;
}

void ctl_rollback(PGconn *db)
{
	PQclear(PQexec(db, "ROLLBACK"));
}

static int exists(PGconn *db, const char *sql, const char *what, const char *id, char *err, size_t el)
{
	const char *p[1] = { id };
	PGresult *res = ctl_q(db, sql, 1, p, err, el);
	int found;

	if (!res)
		return -1;
	found = PQntuples(res) > 0;
	PQclear(res);
	if (!found)
		snprintf(err, el, "no %s %s", what, id);
	return found ? 0 : -1;
}

int ctl_bot_exists(PGconn *db, const char *id, char *err, size_t el)
{
	return exists(db, "SELECT 1 FROM bots WHERE id = $1", "bot", id, err, el);
}

int ctl_chat_exists(PGconn *db, const char *id, char *err, size_t el)
{
	return exists(db, "SELECT 1 FROM chats WHERE id = $1", "chat", id, err, el);
}

int ctl_check_tz(PGconn *db, const char *tz, char *err, size_t el)
{
	if (exists(db, "SELECT 1 FROM pg_timezone_names WHERE name = $1", "time zone", tz, err, el) < 0) {
		if (strncmp(err, "no time zone", 12) == 0)
			snprintf(err, el, "unknown time zone '%s' (e.g. Europe/Istanbul)", tz);
		return -1;
	}
	return 0;
}
