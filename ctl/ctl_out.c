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
void ctl_table(FILE *f, const PGresult *res)
{
	int nf = PQnfields(res), nt = PQntuples(res);
	size_t *w = calloc((size_t)(nf ? nf : 1), sizeof *w);

	if (!w)
		return;
	for (int j = 0; j < nf; j++) {
		w[j] = ctl_width(PQfname(res, j));
		for (int i = 0; i < nt; i++) {
			size_t cw = ctl_width(PQgetvalue(res, i, j));
			if (cw > w[j])
				w[j] = cw;
		}
	}
	for (int i = -1; i < nt; i++) {
		for (int j = 0; j < nf; j++) {
			const char *s = i < 0 ? PQfname(res, j) : PQgetvalue(res, i, j);
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
