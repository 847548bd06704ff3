/* supervisor: command line. Loads the configuration (flags win over it), then
 * either checks it (-t, like `nginx -t`; -T also prints it, secrets masked) or runs the supervisor
 * in the foreground: under systemd it is a Type=notify service and never daemonizes. */
#include "common/cfg.h"
#include "common/log.h"
#include "common/tok.h"
#include "common/version.h"
#include "supervisor/cfgcheck.h"
#include "supervisor/sup.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

struct opts {
	const char *config;
	int workers; /* 0 = from the config */
	int test;    /* 1: -t, 2: -T */
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: supervisor [--workers N] [--config FILE] [-t|-T] [--foreground]\n"
		"                  [--help] [--version]\n"
		"\n"
		"  -w, --workers N   run N workers (1..%d); wins over `workers` in the file\n"
		"  -c, --config FILE read FILE (defaults and PIYASA_* variables otherwise)\n"
		"  -t                check the configuration as the workers will read it\n"
		"                    (URLs, database, token key) and exit (0 ok, 1 bad)\n"
		"  -T                check it, then print the effective configuration with\n"
		"                    its secrets masked\n"
		"      --foreground  accepted for compatibility: the supervisor never forks away\n"
		"  -h, --help        this text\n"
		"  -V, --version     print the version\n"
		"\n"
		"Signals: HUP reload, TERM/INT drain and exit (twice: kill now),\n"
		"TTIN one worker more, TTOU one worker fewer.\n",
		SHM_MAX_WORKERS);
}

static int parse_workers(const char *v)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(v, &end, 10);
	if (errno || end == v || *end || n < 1 || n > SHM_MAX_WORKERS)
		return -1;
	return (int)n;
}

/* 0 to run, 1 to exit with an error, 2 to exit 0 (--help, --version). */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "w:c:tThV", longs, NULL)) != -1) {
		switch (ch) {
		case 'w':
			if ((o->workers = parse_workers(optarg)) < 0) {
				fprintf(stderr, "supervisor: --workers: '%s' is not 1..%d\n",
					optarg, SHM_MAX_WORKERS);
				return 1;
			}
			break;
		case 'c': o->config = optarg; break;
		case 't': o->test = 1; break;
		case 'T': o->test = 2; break;
		case 'F': break;
		case 'h': usage(stdout); return 2;
		case 'V': printf("piyasa supervisor %s\n", PIYASA_VERSION); return 2;
		default: usage(stderr); return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "supervisor: unexpected argument '%s'\n", argv[optind]);
		return 1;
	}
	return 0;
}

static int check_config(const struct opts *o)
{
	struct cfg c;
	char err[512];

	if (cfg_load(&c, o->config, err, sizeof err) < 0 || cfgcheck_run(&c, err, sizeof err) < 0) {
		fprintf(stderr, "supervisor: %s\n", err);
		fprintf(stderr, "configuration %s test failed\n", o->config ? o->config : "(defaults)");
		return 1;
	}
	if (o->test == 2) {
		printf("# configuration %s is ok; effective values (defaults, file, environment)\n",
		       o->config ? o->config : "(defaults)");
		cfg_dump(&c, stdout, cfgcheck_mask);
		return 0;
	}
	printf("configuration %s is ok\n", o->config ? o->config : "(defaults)");
	return 0;
}

static int run(const struct opts *o)
{
	struct sup *s = calloc(1, sizeof *s);
	char err[512];
	int rc = 1;

	if (!s) {
		fprintf(stderr, "supervisor: out of memory\n");
		return 1;
	}
	/* The workers get PIYASA_TOKEN_KEY as a descriptor, not in their environment. */
	if (tok_env_to_fd(&s->key_fd, err, sizeof err) < 0 ||
	    cfgsnap_load(&s->snap, &s->cfg, o->config, err, sizeof err) < 0) {
		fprintf(stderr, "supervisor: %s\n", err);
		free(s);
		return 1;
	}
	log_init("supervisor", s->cfg.log_format, s->cfg.log_level);
	s->config_path = o->config;
	s->flag_workers = o->workers;
	if (sup_init(s) == 0)
		rc = sup_run(s);
	sup_free(s);
	free(s);
	return rc;
}

int main(int argc, char **argv)
{
	struct opts o = { NULL, 0, 0 };
	int rc = parse_args(argc, argv, &o);

	if (rc)
		return rc == 2 ? 0 : 1;
	if (o.test)
		return check_config(&o);
	return run(&o);
}
