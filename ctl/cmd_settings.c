/* cmd_settings: `piyasactl settings ...`: the fleet's behaviour knobs
 * (BEHAVIOUR.md "Settings and defaults"), stored as JSON in PostgreSQL. A value is
 * checked against its key's shape before it is stored (common/cast), and every
 * change is announced with PUBLISH <prefix>:settings KEY so the workers reload
 * without a SIGHUP. An unset key means "the worker's default". */
#include "common/cast.h"
#include "common/settings.h"
#include "ctl/ctl.h"

#include <stdlib.h>
#include <string.h>

int ctl_setting_write(PGconn *db, const char *key, const char *value, char *err, size_t el)
{
	/* A write that changes nothing leaves updated_at alone. */
	static const char sql[] =
		"INSERT INTO settings (key, value) VALUES ($1, $2::jsonb)"
		" ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()"
		" WHERE settings.value IS DISTINCT FROM EXCLUDED.value";
	const char *p[2] = { key, value };
	long n = ctl_x(db, sql, 2, p, err, el);

	return n < 0 ? -1 : n > 0;
}

/* A PostgreSQL array literal of strings: {"a","b\\"c"}. malloc'd. */
static char *pg_array(const char *(*item)(size_t), size_t n)
{
	size_t cap = 16, len = 0;
	char *out = malloc(cap);

	if (!out)
		return NULL;
	out[len++] = '{';
	for (size_t i = 0; i < n; i++) {
		const char *s = item(i);
		size_t need = len + 2 * strlen(s) + 8;
		if (need > cap) {
			char *p = realloc(out, cap = need * 2);
			if (!p) {
				free(out);
				return NULL;
			}
			out = p;
		}
		if (i)
			out[len++] = ',';
		out[len++] = '"';
		for (; *s; s++) {
			if (*s == '"' || *s == '\\')
				out[len++] = '\\';
			out[len++] = *s;
		}
		out[len++] = '"';
	}
	out[len++] = '}';
	out[len] = '\0';
	return out;
}

/* Every known key with its value, stored or default, then keys stored that
 * this build does not know. */
static int settings_list(struct ctl *c, int argc, char **argv)
{
	static const char sql[] =
		"SELECT COALESCE(d.key, s.key) AS key,"
		" COALESCE(s.value::text, d.dflt::jsonb::text) AS value,"
		" COALESCE(d.rng, '') AS range,"
		" CASE WHEN s.key IS NULL THEN 'default' WHEN d.key IS NULL THEN 'unknown'"
		" ELSE 'set' END AS source,"
		" COALESCE(to_char(s.updated_at, 'YYYY-MM-DD HH24:MI:SS'), '') AS updated_at"
		" FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS d(key, dflt, rng, n)"
		" FULL JOIN settings s ON s.key = d.key"
		" ORDER BY COALESCE(d.n, 100000), COALESCE(d.key, s.key)";
	char err[1024], *pos[1], *keys, *dflts, *ranges;
	const char *p[3];
	PGresult *res;
	PGconn *db;
	int np, rc;

	if ((rc = ctl_opts("settings", argc, argv, NULL, pos, 0, &np)) != 0)
		return rc;
	keys = pg_array(settings_key, settings_count());
	dflts = pg_array(settings_default_text, settings_count());
	ranges = pg_array(settings_range_text, settings_count());
	p[0] = keys;
	p[1] = dflts;
	p[2] = ranges;
	if (!keys || !dflts || !ranges)
		snprintf(err, sizeof err, "out of memory");
	res = NULL;
	if (keys && dflts && ranges && (db = ctl_db(c, err, sizeof err)))
		res = ctl_q(db, sql, 3, p, err, sizeof err);
	free(keys);
	free(dflts);
	free(ranges);
	if (!res)
		return ctl_fail("%s", err);
	ctl_table(stdout, res);
	PQclear(res);
	return CTL_OK;
}

/* An unset key prints its default (and says so on stderr). */
static int default_of(const char *key)
{
	for (size_t i = 0; i < settings_count(); i++) {
		if (strcmp(settings_key(i), key) == 0) {
			json_t *v = json_loads(settings_default_text(i), JSON_DECODE_ANY, NULL);
			char *t = v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
			printf("%s\n", t ? t : settings_default_text(i));
			free(t);
			json_decref(v);
			ctl_note("'%s' is not set: this is its default", key);
			return CTL_OK;
		}
	}
	return ctl_fail("no setting '%s'", key);
}

static int settings_get(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[1];
	PGresult *res;
	PGconn *db;
	int np, rc;

	if ((rc = ctl_opts("settings", argc, argv, NULL, pos, 1, &np)) != 0)
		return rc;
	if (np != 1)
		return ctl_usage("settings", "settings get needs a KEY");
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    !(res = ctl_q(db, "SELECT value::text FROM settings WHERE key = $1", 1,
			  (const char *const *)pos, err, sizeof err)))
		return ctl_fail("%s", err);
	if (PQntuples(res)) {
		printf("%s\n", PQgetvalue(res, 0, 0));
		rc = CTL_OK;
	} else {
		rc = default_of(pos[0]);
	}
	PQclear(res);
	return rc;
}

/* Announce a change; the stored value stands even when Redis is away. */
static int notify(struct ctl *c, const char *key)
{
	char err[512];
	long long n;

	if (ctl_publish_setting(c, key, &n, err, sizeof err) < 0)
		return ctl_fail("stored, but the change notice failed: %s; the workers read "
				"settings again on SIGHUP",
				err);
	printf("notified %lld %s\n", n, n == 1 ? "subscriber" : "subscribers");
	return CTL_OK;
}

/* The value argument parsed and checked; *text is its compact JSON. */
static int parse_value(const char *key, const char *arg, char **text)
{
	char err[1024];
	json_t *v;
	int r;

	if (ctl_json_arg(arg, &v, err, sizeof err) < 0)
		return ctl_fail("%s: %s (a string needs quotes: '\"text\"')", key, err);
	if ((r = settings_check(key, v, err, sizeof err)) < 0) {
		json_decref(v);
		return ctl_fail("%s", err);
	}
	if (r == CAST_SETTING_UNKNOWN)
		ctl_note("'%s' is not a setting this piyasactl knows; storing it as given", key);
	*text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | CTL_JSON_REAL);
	json_decref(v);
	return *text ? CTL_OK : ctl_fail("out of memory");
}

static int settings_set(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[2], *text = NULL;
	PGconn *db;
	int np, rc, changed;

	if ((rc = ctl_opts("settings", argc, argv, NULL, pos, 2, &np)) != 0)
		return rc;
	if (np != 2)
		return ctl_usage("settings", "settings set needs KEY VALUE");
	if ((rc = parse_value(pos[0], pos[1], &text)) != 0)
		return rc;
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    (changed = ctl_setting_write(db, pos[0], text, err, sizeof err)) < 0) {
		free(text);
		return ctl_fail("%s", err);
	}
	printf(changed ? "%s = %s\n" : "%s = %s (unchanged)\n", pos[0], text);
	free(text);
	return notify(c, pos[0]);
}

static int settings_unset(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[1];
	PGconn *db;
	int np, rc;
	long n;

	if ((rc = ctl_opts("settings", argc, argv, NULL, pos, 1, &np)) != 0)
		return rc;
	if (np != 1)
		return ctl_usage("settings", "settings unset needs a KEY");
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    (n = ctl_x(db, "DELETE FROM settings WHERE key = $1", 1, (const char *const *)pos, err,
		       sizeof err)) < 0)
		return ctl_fail("%s", err);
	if (n == 0)
		return ctl_fail("no setting '%s'", pos[0]);
	printf("%s unset (the workers use its default)\n", pos[0]);
	return notify(c, pos[0]);
}

int cmd_settings(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_sub subs[] = { { "list", settings_list },
					       { "get", settings_get },
					       { "set", settings_set },
					       { "unset", settings_unset },
					       { NULL, NULL } };

	return ctl_dispatch(c, "settings", subs, argc, argv);
}
