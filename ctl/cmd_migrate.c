/* cmd_migrate: `piyasactl migrate`. The numbered SQL files of ctl/migrations are
 * compiled into the binary (scripts/embed-sql); each missing one is applied in its
 * own transaction together with its schema_migrations row, so a failure leaves
 * the database at the last good version. A session advisory lock serialises
 * concurrent runs (two hosts deploying at once): the second waits, then finds
 * nothing to do. The lock is released with the session if we die. */
#include "ctl/ctl.h"
#include "ctl/migrations.h"

#include <stdlib.h>
#include <string.h>

/* 0x7069796173610001: "piyasa" in ASCII, then 1; no other lock of ours uses it. */
#define MIGRATE_LOCK_KEY "8100138864257073153"

static const char create_table[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
				   " version integer PRIMARY KEY,"
				   " name text NOT NULL,"
				   " applied_at timestamptz NOT NULL DEFAULT now())";

/* The embedded table must be in strictly increasing version order. */
static int check_embedded(char *err, size_t el)
{
	for (int i = 1; i < ctl_nmigrations; i++)
		if (ctl_migrations[i].version <= ctl_migrations[i - 1].version) {
			snprintf(err, el, "migrations %s and %s: versions out of order",
				 ctl_migrations[i - 1].name, ctl_migrations[i].name);
			return -1;
		}
	return 0;
}

static int is_applied(const PGresult *res, int version)
{
	for (int i = 0; i < PQntuples(res); i++)
		if (atoi(PQgetvalue(res, i, 0)) == version)
			return 1;
	return 0;
}

static int apply_one(PGconn *db, const struct ctl_migration *m, char *err, size_t el)
{
	char ver[16], why[400];
	const char *p[2] = { ver, m->name };

	snprintf(ver, sizeof ver, "%d", m->version);
	if (ctl_script(db, "BEGIN", why, sizeof why) < 0 ||
	    ctl_script(db, m->sql, why, sizeof why) < 0 ||
	    ctl_x(db, "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", 2, p, why,
		  sizeof why) < 0 ||
	    ctl_script(db, "COMMIT", why, sizeof why) < 0) {
		ctl_rollback(db);
		snprintf(err, el, "%s: %s", m->name, why);
		return -1;
	}
	return 0;
}

/* With the lock held: apply what is missing, report what was done. */
static int migrate_locked(PGconn *db, char *err, size_t el)
{
	PGresult *res;
	int applied = 0, top = 0;

	if (ctl_script(db, create_table, err, el) < 0)
		return -1;
	if (!(res = ctl_q(db, "SELECT version FROM schema_migrations ORDER BY version", 0, NULL,
			  err, el)))
		return -1;
	for (int i = 0; i < ctl_nmigrations; i++) {
		const struct ctl_migration *m = &ctl_migrations[i];

		if (is_applied(res, m->version))
			continue;
		if (apply_one(db, m, err, el) < 0) {
			PQclear(res);
			return -1;
		}
		printf("applied %s\n", m->name);
		fflush(stdout);
		applied++;
	}
	if (PQntuples(res) > 0)
		top = atoi(PQgetvalue(res, PQntuples(res) - 1, 0));
	PQclear(res);
	if (ctl_nmigrations && ctl_migrations[ctl_nmigrations - 1].version > top)
		top = ctl_migrations[ctl_nmigrations - 1].version;
	if (!applied)
		printf("schema is up to date (version %d)\n", top);
	if (ctl_nmigrations && top > ctl_migrations[ctl_nmigrations - 1].version)
		ctl_note("the database is at version %d, newer than this piyasactl knows (%d)", top,
			 ctl_migrations[ctl_nmigrations - 1].version);
	return 0;
}

int cmd_migrate(struct ctl *c, int argc, char **argv)
{
	const char *key[1] = { MIGRATE_LOCK_KEY };
	char err[1024], uerr[256];
	char *pos[1];
	PGconn *db;
	int np, rc;

	if ((rc = ctl_opts("migrate", argc - 1, argv + 1, NULL, pos, 0, &np)) != 0)
		return rc;
	if (check_embedded(err, sizeof err) < 0 || !(db = ctl_db(c, err, sizeof err)))
		return ctl_fail("%s", err);
	if (ctl_x(db, "SELECT pg_advisory_lock($1::bigint)", 1, key, err, sizeof err) < 0)
		return ctl_fail("%s", err);
	rc = migrate_locked(db, err, sizeof err);
	if (ctl_x(db, "SELECT pg_advisory_unlock($1::bigint)", 1, key, uerr, sizeof uerr) < 0 && rc == 0)
		ctl_note("releasing the migration lock: %s", uerr);
	return rc < 0 ? ctl_fail("migrate: %s", err) : CTL_OK;
}
