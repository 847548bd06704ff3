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

/* Columns as wide as their widest cell; numbers would read better right-aligned
 * but ids are the only numbers in these listings and they line up either way. */
static int json_output;

void ctl_set_json(int on)
{
	json_output = on;
}

int ctl_json(void)
{
	return json_output;
}

/* PostgreSQL type OIDs (pg_type.dat) that have a JSON shape of their own. */
enum {
	OID_BOOL = 16,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_JSON = 114,
	OID_FLOAT4 = 700,
	OID_FLOAT8 = 701,
	OID_NUMERIC = 1700,
	OID_JSONB = 3802
};

/* A text column named before or after is embedded as JSON, not quoted: the audit's
 * before/after come as text so the table shows them compactly. */
static int json_named(const char *name)
{
	return strcmp(name, "before") == 0 || strcmp(name, "after") == 0;
}

/* Boolean columns read yes/no, as the listings that convert in SQL print them. */
static const char *text_cell(const PGresult *res, int i, int j)
{
	const char *v = PQgetvalue(res, i, j);

	if (PQftype(res, j) == OID_BOOL && !PQgetisnull(res, i, j))
		return v[0] == 't' ? "yes" : "no";
	return v;
}

/* One cell as JSON: numbers, booleans and json columns keep their type. */
static json_t *cell(const PGresult *res, int i, int j)
{
	const char *v = PQgetvalue(res, i, j);
	json_t *parsed;

	if (PQgetisnull(res, i, j))
		return json_null();
	switch (PQftype(res, j)) {
	case OID_BOOL: return json_boolean(*v == 't');
	case OID_INT2:
	case OID_INT4:
	case OID_INT8: return json_integer(strtoll(v, NULL, 10));
	case OID_FLOAT4:
	case OID_FLOAT8:
	case OID_NUMERIC: return json_real(strtod(v, NULL));
	case OID_JSON:
	case OID_JSONB:
		if ((parsed = json_loads(v, JSON_DECODE_ANY, NULL)))
			return parsed;
		break;
	default:
		if (json_named(PQfname(res, j)) && (parsed = json_loads(v, JSON_DECODE_ANY, NULL)))
			return parsed;
	}
	return json_string(v);
}

void ctl_print_json(FILE *f, json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | CTL_JSON_REAL | JSON_ENCODE_ANY);

	if (s)
		fprintf(f, "%s\n", s);
	free(s);
}

/* -o json: an array with one object a row, keyed by the column names. */
static void json_table(FILE *f, const PGresult *res)
{
	json_t *rows = json_array();

	for (int i = 0; i < PQntuples(res); i++) {
		json_t *row = json_object();

		for (int j = 0; j < PQnfields(res); j++)
			json_object_set_new(row, PQfname(res, j), cell(res, i, j));
		json_array_append_new(rows, row);
	}
	ctl_print_json(f, rows);
	json_decref(rows);
}

void ctl_table(FILE *f, const PGresult *res)
{
	if (json_output) {
		json_table(f, res);
		return;
	}
	ctl_text_table(f, res);
}

void ctl_text_table(FILE *f, const PGresult *res)
{
	int nf = PQnfields(res), nt = PQntuples(res);
	size_t *w = calloc((size_t)(nf ? nf : 1), sizeof *w);

	if (!w)
		return;
	for (int j = 0; j < nf; j++) {
		w[j] = ctl_width(PQfname(res, j));
		for (int i = 0; i < nt; i++) {
			size_t cw = ctl_width(text_cell(res, i, j));
			if (cw > w[j])
				w[j] = cw;
		}
	}
	for (int i = -1; i < nt; i++) {
		for (int j = 0; j < nf; j++) {
			const char *s = i < 0 ? PQfname(res, j) : text_cell(res, i, j);
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

int ctl_json_rows(FILE *f, const PGresult *res)
{
	json_table(f, res);
	return 0;
}
