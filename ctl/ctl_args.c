/* ctl_args: the command line. One small parser for every subcommand, so each
 * accepts "--key value" and "--key=value" alike and refuses what it does not
 * know; strict number parsing, because "12abc" taken as 12 would act on the
 * wrong bot. */
#include "common/auth.h"
#include "ctl/ctl.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static const struct ctl_opt *find_opt(const struct ctl_opt *opts, const char *name, size_t n)
{
	for (; opts && opts->name; opts++)
		if (strlen(opts->name) == n && strncmp(opts->name, name, n) == 0)
			return opts;
	return NULL;
}

/* One "--name[=value]" at argv[*i]; advances *i past a separate value. */
static int take_opt(const char *cmd, int argc, char **argv, int *i, const struct ctl_opt *opts)
{
	const char *arg = argv[*i] + 2, *eq = strchr(arg, '=');
	size_t n = eq ? (size_t)(eq - arg) : strlen(arg);
	const struct ctl_opt *o = find_opt(opts, arg, n);

	if (!o)
		return ctl_usage(cmd, "unknown option --%.*s", (int)n, arg);
	if (o->flag) {
		if (eq)
			return ctl_usage(cmd, "--%s takes no value", o->name);
		*o->flag = 1;
		return 0;
	}
	if (eq) {
		*o->val = eq + 1;
		return 0;
	}
	if (*i + 1 >= argc)
		return ctl_usage(cmd, "--%s needs a value", o->name);
	*o->val = argv[++*i];
	return 0;
}

int ctl_opts(const char *cmd, int argc, char **argv, const struct ctl_opt *opts, char **pos,
	     int maxpos, int *npos)
{
	int only_pos = 0;

	*npos = 0;
	for (const struct ctl_opt *o = opts; o && o->name; o++) {
		if (o->val)
			*o->val = NULL;
		if (o->flag)
			*o->flag = 0;
	}
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!only_pos && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
			ctl_help(stdout, cmd);
			exit(CTL_OK);
		}
		if (!only_pos && strcmp(a, "--") == 0) {
			only_pos = 1;
		} else if (!only_pos && a[0] == '-' && a[1] == '-' && a[2]) {
			if (take_opt(cmd, argc, argv, &i, opts) != 0)
				return CTL_USAGE;
		} else {
			if (*npos >= maxpos)
				return ctl_usage(cmd, "unexpected argument '%s'", a);
			pos[(*npos)++] = argv[i];
		}
	}
	return 0;
}

int ctl_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || end == s)
		return -1;
	*out = v;
	return 0;
}

int ctl_parse_id(const char *s, int64_t *out)
{
	return ctl_parse_i64(s, out) < 0 || *out <= 0 ? -1 : 0;
}

int ctl_json_arg(const char *arg, json_t **out, char *err, size_t el)
{
	json_error_t je;

	if (arg[0] == '@') {
		*out = json_load_file(arg + 1, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
		if (!*out && je.line > 0)
			snprintf(err, el, "%s:%d:%d: %s", arg + 1, je.line, je.column, je.text);
		else if (!*out)
			snprintf(err, el, "%s", je.text);
	} else {
		*out = json_loads(arg, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
		if (!*out)
			snprintf(err, el, "invalid JSON at column %d: %s", je.column, je.text);
	}
	return *out ? 0 : -1;
}

int ctl_secret_arg(const char *arg, char *out, size_t n, char *err, size_t el)
{
	size_t len;

	if (strcmp(arg, "-") != 0) {
		len = strlen(arg);
		if (len >= n) {
			snprintf(err, el, "too long");
			return -1;
		}
		memcpy(out, arg, len + 1);
		/* argv is ours to write: blank the secret so `ps` no longer shows it
		 * while we run (it was visible until now, hence "-"). */
		memset((char *)arg, 'x', len);
		return 0;
	}
	if (!fgets(out, (int)n, stdin)) {
		snprintf(err, el, "nothing to read on standard input");
		return -1;
	}
	len = strcspn(out, "\r\n");
	if (out[len] == '\0' && len == n - 1) {
		snprintf(err, el, "too long");
		return -1;
	}
	out[len] = '\0';
	return 0;
}

/* One line from stdin into out without its newline; echo off when echo is 0
 * (a terminal). -1 at end of input or when the line does not fit. */
static int read_line(const char *prompt, int echo, char *out, size_t n)
{
	struct termios old, quiet;
	int restore = 0, rc = 0;
	size_t len;

	/* Echo off before the prompt: what is typed once the prompt shows must
	 * never be echoed. */
	if (!echo && tcgetattr(STDIN_FILENO, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		restore = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
	}
	if (prompt) {
		fputs(prompt, stderr);
		fflush(stderr);
	}
	if (!fgets(out, (int)n, stdin))
		rc = -1;
	if (restore) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr); /* the newline the user typed was not echoed */
	}
	if (rc < 0)
		return -1;
	len = strcspn(out, "\r\n");
	if (out[len] == '\0' && len == n - 1)
		return -1;
	out[len] = '\0';
	return 0;
}

int ctl_read_password(int gen, char *out, size_t n, char *err, size_t el)
{
	char again[AUTH_PASS_MAX + 2];
	int same;

	if (gen) {
		if (n < AUTH_GEN_PASS_SIZE) {
			snprintf(err, el, "no room for a password");
			return -1;
		}
		auth_pass_generate(out);
		return 0;
	}
	if (!isatty(STDIN_FILENO)) {
		if (read_line(NULL, 1, out, n) < 0) {
			snprintf(err, el, "no password on standard input (one line; or --generate)");
			return -1;
		}
		return auth_pass_check(out, err, el);
	}
	if (read_line("new password: ", 0, out, n) < 0 ||
	    read_line("again: ", 0, again, sizeof again) < 0) {
		snprintf(err, el, "no password read");
		return -1;
	}
	same = strcmp(out, again) == 0;
	sodium_memzero(again, sizeof again);
	if (!same) {
		snprintf(err, el, "the two passwords differ");
		return -1;
	}
	return auth_pass_check(out, err, el);
}
