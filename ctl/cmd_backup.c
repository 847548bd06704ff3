/* cmd_backup: `piyasactl backup`, `restore` and `prune`.
 *
 * backup runs pg_dump (custom format) into DIR/piyasa-YYYYmmddTHHMMSSZ.dump,
 * written under a temporary name and renamed once complete, then keeps the
 * newest backup of each of the last 7 days, 4 ISO weeks and 12 months with a
 * backup (the earlier system's retention) and removes the others. Redis is not
 * dumped: it holds queues and counters the fleet rebuilds, not records
 * (docs/OPERATIONS.md, "Backup and restore").
 *
 * pg_dump and pg_restore get the connection through libpq's environment
 * variables (PGHOST, PGPASSWORD...), filled from the parsed database_url, so a
 * password never shows in `ps`.
 *
 * prune deletes messages and dead letters older than the settings
 * messages_retention_days and dead_jobs_retention_days (0: keep), a batch of
 * rows a transaction, so the workers' writes never wait long behind it. */
#include "ctl/ctl.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define DEFAULT_DIR "/var/lib/piyasa/backups"
#define PREFIX "piyasa-"
#define SUFFIX ".dump"
#define MAX_BACKUPS 4096

/* libpq's variables from the database URL, for the child to inherit. */
static int export_conninfo(const char *url, char *err, size_t el)
{
	char *why = NULL;
	PQconninfoOption *o = PQconninfoParse(url, &why);

	if (!o) {
		snprintf(err, el, "database_url: %s", why ? why : "out of memory");
		PQfreemem(why);
		return -1;
	}
	for (PQconninfoOption *i = o; i->keyword; i++)
		if (i->envvar && i->val && *i->val)
			setenv(i->envvar, i->val, 1);
	PQconninfoFree(o);
	return 0;
}

/* Run argv (found on $PATH) to the end: 0, or -1 with err. */
static int run(char *const argv[], char *err, size_t el)
{
	pid_t pid;
	int st, rc = posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ);

	if (rc != 0) {
		snprintf(err, el, "%s: %s%s", argv[0], strerror(rc),
			 rc == ENOENT ? " (install postgresql-client)" : "");
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			snprintf(err, el, "%s: waitpid: %s", argv[0], strerror(errno));
			return -1;
		}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		snprintf(err, el, "%s failed (%s %d)", argv[0],
			 WIFEXITED(st) ? "exit status" : "signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -1;
	}
	return 0;
}

/* --- retention --- */

struct bk {
	char name[64];
	time_t t;
	int keep;
};

static int by_time_desc(const void *a, const void *b)
{
	const struct bk *x = a, *y = b;

	return x->t < y->t ? 1 : x->t > y->t ? -1 : 0;
}

/* "piyasa-20261207T174501Z.dump": 0 with its time, -1 for any other name. */
static int parse_name(const char *name, time_t *t)
{
	struct tm tm;
	const char *rest;

	memset(&tm, 0, sizeof tm);
	if (strncmp(name, PREFIX, strlen(PREFIX)) ||
	    !(rest = strptime(name + strlen(PREFIX), "%Y%m%dT%H%M%SZ", &tm)) || strcmp(rest, SUFFIX))
		return -1;
	*t = timegm(&tm);
	return 0;
}

/* Mark the newest backup of each of the n most recent periods (strftime fmt
 * names the period) to keep. b is sorted newest first. */
static void keep_periods(struct bk *b, int nb, const char *fmt, int n)
{
	char last[32] = "", cur[32];
	struct tm tm;
	int periods = 0;

	for (int i = 0; i < nb && periods < n; i++) {
		gmtime_r(&b[i].t, &tm);
		strftime(cur, sizeof cur, fmt, &tm);
		if (strcmp(cur, last)) {
			b[i].keep = 1;
			periods++;
			snprintf(last, sizeof last, "%s", cur);
		}
	}
}

/* Keep 7 daily, 4 weekly, 12 monthly; remove the rest. */
static int apply_retention(const char *dir, int daily, int weekly, int monthly, int *kept,
			   int *removed, char *err, size_t el)
{
	struct bk *b = calloc(MAX_BACKUPS, sizeof *b);
	struct dirent *e;
	DIR *d = opendir(dir);
	char path[4096];
	int nb = 0;

	*kept = *removed = 0;
	if (!b || !d) {
		snprintf(err, el, "%s: %s", dir, b ? strerror(errno) : "out of memory");
		free(b);
		if (d)
			closedir(d);
		return -1;
	}
	while ((e = readdir(d)) && nb < MAX_BACKUPS) {
		size_t len = strlen(e->d_name);

		if (len < sizeof b[nb].name && parse_name(e->d_name, &b[nb].t) == 0)
			memcpy(b[nb++].name, e->d_name, len + 1);
	}
	closedir(d);
	qsort(b, (size_t)nb, sizeof *b, by_time_desc);
	keep_periods(b, nb, "%Y-%m-%d", daily);
	keep_periods(b, nb, "%G-W%V", weekly);
	keep_periods(b, nb, "%Y-%m", monthly);
	for (int i = 0; i < nb; i++) {
		if (b[i].keep) {
			(*kept)++;
			continue;
		}
		snprintf(path, sizeof path, "%s/%s", dir, b[i].name);
		if (unlink(path) == 0)
			(*removed)++;
		else
			ctl_note("cannot remove %s: %s", path, strerror(errno));
	}
	free(b);
	return 0;
}

static int count_arg(const char *cmd, const char *v, int dflt, int *out)
{
	int64_t n;

	if (!v) {
		*out = dflt;
		return 0;
	}
	if (ctl_parse_i64(v, &n) < 0 || n < 0 || n > 1000)
		return ctl_usage(cmd, "'%s' is not a count of backups to keep (0..1000)", v);
	*out = (int)n;
	return 0;
}

int cmd_backup(struct ctl *c, int argc, char **argv)
{
	const char *dir = NULL, *kd = NULL, *kw = NULL, *km = NULL;
	const struct ctl_opt opts[] = { { "dir", &dir, NULL },
					{ "keep-daily", &kd, NULL },
					{ "keep-weekly", &kw, NULL },
					{ "keep-monthly", &km, NULL },
					{ NULL, NULL, NULL } };
	char err[1024], stamp[32], final[4096], tmp[4200], *pos[1];
	int np, rc, daily = 7, weekly = 4, monthly = 12, kept, removed;
	struct timespec t0, t1;
	struct stat sb;
	struct tm tm;
	time_t now;

	if ((rc = ctl_opts("backup", argc - 1, argv + 1, opts, pos, 0, &np)) != 0)
		return rc;
	if ((rc = count_arg("backup", kd, 7, &daily)) || (rc = count_arg("backup", kw, 4, &weekly)) ||
	    (rc = count_arg("backup", km, 12, &monthly)))
		return rc;
	dir = dir ? dir : DEFAULT_DIR;
	if (mkdir(dir, 0750) < 0 && errno != EEXIST)
		return ctl_fail("%s: %s", dir, strerror(errno));
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(final, sizeof final, "%s/" PREFIX "%s" SUFFIX, dir, stamp);
	snprintf(tmp, sizeof tmp, "%s.partial", final);
	if (export_conninfo(c->cfg.database_url, err, sizeof err) < 0)
		return ctl_fail("%s", err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	{
		/* One consistent snapshot of the whole database, compressed. */
		char *av[] = { "pg_dump", "--format=custom", "--compress=6", "--file", tmp, NULL };

		if (run(av, err, sizeof err) < 0) {
			unlink(tmp);
			return ctl_fail("backup: %s", err);
		}
	}
	/* Complete on disk before it gets its name: a crash leaves a .partial. */
	{
		int fd = open(tmp, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || fsync(fd) < 0 || close(fd) < 0 || rename(tmp, final) < 0 ||
		    stat(final, &sb) < 0) {
			unlink(tmp);
			return ctl_fail("backup %s: %s", final, strerror(errno));
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("backup %s (%lld bytes, %.1f s)\n", final, (long long)sb.st_size,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	if (apply_retention(dir, daily, weekly, monthly, &kept, &removed, err, sizeof err) < 0)
		return ctl_fail("retention: %s", err);
	printf("retention: kept %d, removed %d (%d daily, %d weekly, %d monthly)\n", kept, removed,
	       daily, weekly, monthly);
	return CTL_OK;
}

/* A supervisor answering on /status: restoring under a running fleet would pull
 * the outbox from under its workers. */
static int fleet_running(const struct cfg *cfg)
{
	CURL *h;
	char url[300];
	long code = 0;
	const char *host = strcmp(cfg->http_bind, "0.0.0.0") ? cfg->http_bind : "127.0.0.1";

	if (cfg->http_port == 0 || !(h = curl_easy_init()))
		return 0;
	snprintf(url, sizeof url,
		 strchr(host, ':') ? "http://[%s]:%d/health/live" : "http://%s:%d/health/live",
		 host, cfg->http_port);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	return code > 0;
}

int cmd_restore(struct ctl *c, int argc, char **argv)
{
	int force = 0, np, rc;
	const struct ctl_opt opts[] = { { "force", NULL, &force }, { NULL, NULL, NULL } };
	char err[1024], *pos[1];

	if ((rc = ctl_opts("restore", argc - 1, argv + 1, opts, pos, 1, &np)) != 0)
		return rc;
	if (np != 1)
		return ctl_usage("restore", "restore needs the backup FILE");
	if (access(pos[0], R_OK) < 0)
		return ctl_fail("%s: %s", pos[0], strerror(errno));
	if (!force && fleet_running(&c->cfg))
		return ctl_fail("a supervisor answers on %s:%d: stop the fleet first (systemctl stop "
				"piyasa), or --force",
				c->cfg.http_bind, c->cfg.http_port);
	if (export_conninfo(c->cfg.database_url, err, sizeof err) < 0)
		return ctl_fail("%s", err);
	{
		/* All or nothing: a failed restore leaves the database as it was. */
		char *av[] = { "pg_restore",
			       "--clean",
			       "--if-exists",
			       "--no-owner",
			       "--single-transaction",
			       "--exit-on-error",
			       "--dbname",
			       "",
			       pos[0],
			       NULL };

		/* The database comes from PGDATABASE; --dbname must still be given
		 * for pg_restore to restore into a database rather than print SQL. */
		av[7] = getenv("PGDATABASE") ? getenv("PGDATABASE") : "piyasa";
		if (run(av, err, sizeof err) < 0)
			return ctl_fail("restore: %s", err);
	}
	printf("restored %s\n", pos[0]);
	return CTL_OK;
}

/* Days of retention for a setting (0: keep everything); -1 with err. */
static int retention_days(PGconn *db, const char *key, char *err, size_t el)
{
	const char *p[1] = { key };
	PGresult *res = ctl_q(db, "SELECT value::text FROM settings WHERE key = $1", 1, p, err, el);
	int days = 0;

	if (!res)
		return -1;
	if (PQntuples(res))
		days = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return days < 0 ? 0 : days;
}

/* Delete in batches of `batch` rows, each its own transaction. */
static long prune_table(PGconn *db, const char *sql, int days, int batch, char *err, size_t el)
{
	char d[16], b[16];
	const char *p[2] = { d, b };
	long total = 0, n;

	snprintf(d, sizeof d, "%d", days);
	snprintf(b, sizeof b, "%d", batch);
	do {
		if ((n = ctl_x(db, sql, 2, p, err, el)) < 0)
			return -1;
		total += n;
		if (n == batch)
			usleep(20000); /* let the workers' writes through between batches */
	} while (n == batch);
	return total;
}

int cmd_prune(struct ctl *c, int argc, char **argv)
{
	/* In-flight outbox rows (sending, retry) are never touched: they are the
	 * record that keeps a job from being sent twice. */
	static const char msgs[] =
		"DELETE FROM messages WHERE id IN (SELECT id FROM messages"
		" WHERE created_at < now() - make_interval(days => $1::int)"
		" AND status IN ('sent', 'failed', 'unknown', 'received') ORDER BY id LIMIT $2)";
	static const char dead[] =
		"DELETE FROM dead_jobs WHERE id IN (SELECT id FROM dead_jobs"
		" WHERE created_at < now() - make_interval(days => $1::int) ORDER BY id LIMIT $2)";
	const char *batch_s = NULL;
	const struct ctl_opt opts[] = { { "batch", &batch_s, NULL }, { NULL, NULL, NULL } };
	char err[1024], *pos[1];
	int np, rc, mdays, ddays;
	int64_t batch = 1000;
	long nm = 0, nd = 0;
	PGconn *db;

	if ((rc = ctl_opts("prune", argc - 1, argv + 1, opts, pos, 0, &np)) != 0)
		return rc;
	if (batch_s && (ctl_parse_i64(batch_s, &batch) < 0 || batch < 1 || batch > 100000))
		return ctl_usage("prune", "--batch: expected 1..100000");
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    (mdays = retention_days(db, "messages_retention_days", err, sizeof err)) < 0 ||
	    (ddays = retention_days(db, "dead_jobs_retention_days", err, sizeof err)) < 0)
		return ctl_fail("%s", err);
	if (mdays && (nm = prune_table(db, msgs, mdays, (int)batch, err, sizeof err)) < 0)
		return ctl_fail("messages: %s", err);
	if (ddays && (nd = prune_table(db, dead, ddays, (int)batch, err, sizeof err)) < 0)
		return ctl_fail("dead_jobs: %s", err);
	if (mdays)
		printf("pruned %ld messages older than %d days\n", nm, mdays);
	else
		printf("messages kept (messages_retention_days is 0)\n");
	if (ddays)
		printf("pruned %ld dead jobs older than %d days\n", nd, ddays);
	else
		printf("dead jobs kept (dead_jobs_retention_days is 0)\n");
	return CTL_OK;
}
