/* ctl_out: how piyasactl talks to its operator: one-line errors on stderr, the
 * command's usage after a usage error, and aligned tables for the listings. */
#include "ctl/ctl.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int ctl_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("piyasactl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_FAIL;
}

void ctl_note(const char *fmt, ...)
{
	va_list ap;

	fputs("piyasactl: note: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int ctl_usage(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "piyasactl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n\n", stderr);
	if (ctl_help(stderr, cmd) < 0)
		ctl_help(stderr, NULL);
	return CTL_USAGE;
}

int ctl_color(void)
{
	const char *nc = getenv("NO_COLOR");

	return isatty(STDOUT_FILENO) && !(nc && *nc);
}

size_t ctl_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

/* Column types by their PostgreSQL oids (pg_type.h is a server header). */
enum {
	OID_BOOL = 16,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_JSON = 114,
	OID_JSONB = 3802
};

/* Boolean columns read yes/no, as the listings that convert in SQL print them. */
static const char *cell(const PGresult *res, int i, int j)
{
	const char *v = PQgetvalue(res, i, j);

	if (PQftype(res, j) == OID_BOOL && !PQgetisnull(res, i, j))
		return v[0] == 't' ? "yes" : "no";
	return v;
}

/* Columns as wide as their widest cell; numbers would read better right-aligned
 * but ids are the only numbers in these listings and they line up either way. */
void ctl_table(FILE *f, const PGresult *res)
{
	int nf = PQnfields(res), nt = PQntuples(res);
	size_t *w = calloc((size_t)(nf ? nf : 1), sizeof *w);

	if (!w)
		return;
	for (int j = 0; j < nf; j++) {
		w[j] = ctl_width(PQfname(res, j));
		for (int i = 0; i < nt; i++) {
			size_t cw = ctl_width(cell(res, i, j));
			if (cw > w[j])
				w[j] = cw;
		}
	}
	for (int i = -1; i < nt; i++) {
		for (int j = 0; j < nf; j++) {
			const char *s = i < 0 ? PQfname(res, j) : cell(res, i, j);
			int last = j == nf - 1;

			/* Headers in capitals, as ps and kubectl print them. */
			for (const char *q = s; *q; q++)
				fputc(i < 0 ? toupper((unsigned char)*q) : *q, f);
			for (size_t k = ctl_width(s); !last && k < w[j] + 2; k++)
				fputc(' ', f);
		}
		fputc('\n', f);
	}
	free(w);
}

int ctl_dispatch(struct ctl *c, const char *cmd, const struct ctl_sub *subs, int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "";

	if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0)
		return ctl_help(stdout, cmd), CTL_OK;
	for (const struct ctl_sub *s = subs; s->name; s++)
		if (strcmp(sub, s->name) == 0)
			return s->fn(c, argc - 2, argv + 2);
	return ctl_usage(cmd, *sub ? "unknown subcommand '%s'" : "a subcommand is needed%s", sub);
}

/* A text column named before or after is embedded as JSON, not quoted: the audit's
 * before/after come as text so the table shows them compactly. */
static int json_named(const char *name)
{
	return strcmp(name, "before") == 0 || strcmp(name, "after") == 0;
}

int ctl_json_rows(FILE *f, const PGresult *res)
{
	json_t *arr = json_array();
	char *s;
	int nf = PQnfields(res);

	for (int i = 0; arr && i < PQntuples(res); i++) {
		json_t *o = json_object();

		for (int j = 0; o && j < nf; j++) {
			const char *v = PQgetvalue(res, i, j), *name = PQfname(res, j);
			Oid t = PQftype(res, j);
			json_t *x;

			if (PQgetisnull(res, i, j))
				x = json_null();
			else if (t == OID_BOOL)
				x = json_boolean(v[0] == 't');
			else if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2)
				x = json_integer(strtoll(v, NULL, 10));
			else if (t == OID_JSON || t == OID_JSONB || json_named(name))
				x = json_loads(v, JSON_DECODE_ANY, NULL);
			else
				x = json_string(v);
			json_object_set_new(o, name, x ? x : json_string(v));
		}
		json_array_append_new(arr, o);
	}
	s = arr ? json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER | CTL_JSON_REAL) : NULL;
	json_decref(arr);
	if (!s)
		return -1;
	fprintf(f, "%s\n", s);
	free(s);
	return 0;
}
