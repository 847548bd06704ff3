/* piyasactl: the operator's command. main reads the global flags and the config,
 * hands the rest of the line to one command, and closes what the command opened.
 * The help texts live here, next to the dispatch table, so `piyasactl --help`,
 * `piyasactl help CMD` and a usage error all print the same words. */
#include "common/log.h"
#include "common/version.h"
#include "ctl/ctl.h"
#include "ctl/migrations.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where the package and `make install` put the configuration. */
#define DEFAULT_CONFIG "/etc/piyasa/piyasa.conf"

struct command {
	const char *name;
	int (*run)(struct ctl *, int, char **);
	const char *summary;
	const char *usage;
};

static int cmd_version(struct ctl *c, int argc, char **argv);

static const struct command commands[] = {
	{ "migrate", cmd_migrate, "apply the missing schema migrations",
	  "usage: piyasactl migrate\n"
	  "  Applies the migrations this piyasactl carries that the database lacks, in\n"
	  "  order, each in its own transaction, under an advisory lock (two concurrent\n"
	  "  runs are safe: the second waits, then finds nothing to do).\n" },
	{ "bot", cmd_bot, "add, list, show, enable, disable, re-key or remove bots",
	  "usage: piyasactl bot add --name NAME --token TOKEN [--username U] [--id ID]\n"
	  "                         [--persona JSON] [--emotion JSON] [--speed JSON]\n"
	  "                         [--active-hours JSON]\n"
	  "       piyasactl bot list\n"
	  "       piyasactl bot show ID\n"
	  "       piyasactl bot enable|disable ID\n"
	  "       piyasactl bot set-token ID TOKEN\n"
	  "       piyasactl bot remove ID\n"
	  "  TOKEN \"-\" reads the token from standard input. A JSON argument may be\n"
	  "  @FILE. The token is stored encrypted and never printed; listings show its\n"
	  "  public part (the Telegram bot id). `add` prints the new bot's id.\n" },
	{ "chat", cmd_chat, "add, list, enable or disable chats; join or leave bots",
	  "usage: piyasactl chat add --id TELEGRAM_CHAT_ID --title TITLE [--topics JSON]\n"
	  "                          [--tz ZONE] [--language L]\n"
	  "       piyasactl chat list\n"
	  "       piyasactl chat join --chat ID --bot ID\n"
	  "       piyasactl chat leave --chat ID --bot ID\n"
	  "       piyasactl chat enable|disable ID\n" },
	{ "import", cmd_import, "write a whole cast (chats, bots, personas) from a JSON file",
	  "usage: piyasactl import [--check] FILE\n"
	  "  FILE is {\"chats\": [...], \"bots\": [...], \"settings\": {...}} (see\n"
	  "  docs/PIYASACTL.md). The whole file is validated first; then it is written in\n"
	  "  one transaction, upserting bots by name and chats by id, so importing the same\n"
	  "  file again changes nothing. --check validates only.\n" },
	{ "enqueue", cmd_enqueue, "queue speak/reply/memorize jobs",
	  "usage: piyasactl enqueue --chat ID [--bot ID | --bots ID,ID,... | --all-bots]\n"
	  "                         [--priority high|normal|low] [--kind speak|reply|memorize]\n"
	  "                         [--count K] [--delay-ms N] [--payload JSON] [--spread]\n"
	  "                         [--job-id ID] [--rate R]\n"
	  "  Without --bot the K jobs go round-robin over the chat's enabled member bots\n"
	  "  (or over the --bots given). --job-id fixes the id of a single job (a second\n"
	  "  enqueue of the same id is a no-op). --rate R puts them on the queues at R a\n"
	  "  second, each stamped when it is queued. Prints \"enqueued K jobs\".\n" },
	{ "status", cmd_status, "queue depths per worker, messages by status, dead letters",
	  "usage: piyasactl status [--json]\n" },
	{ "spend", cmd_spend, "LLM tokens spent today: providers, bots, chats (the fleet's budgets)",
	  "usage: piyasactl spend [--json] [--top N]\n"
	  "  What the workers counted in Redis today (UTC): each provider's tokens against\n"
	  "  its daily_tokens, its requests and tokens this minute against rpm and tpm, a\n"
	  "  pause its x-ratelimit headers asked for; the N bots and chats (default 10)\n"
	  "  that spent the most.\n" },
	{ "dead", cmd_dead, "list, show and retry dead-lettered jobs",
	  "usage: piyasactl dead list [--limit N] [--all]\n"
	  "       piyasactl dead show ID\n"
	  "       piyasactl dead retry ID|--all\n"
	  "  list shows the open ones (--all: also those already retried). retry puts the\n"
	  "  job back on its queue with its attempts reset, under the same job id.\n" },
	{ "settings", cmd_settings, "list, get, set or unset the fleet's settings",
	  "usage: piyasactl settings list\n"
	  "       piyasactl settings get KEY\n"
	  "       piyasactl settings set KEY VALUE\n"
	  "       piyasactl settings unset KEY\n"
	  "  VALUE is JSON: true, 0.5, '{\"min\":6,\"max\":12}', '\"text\"'. Known keys are\n"
	  "  checked against their shape. Workers hear of the change on\n"
	  "  PUBLISH <prefix>:settings KEY.\n" },
	{ "tail", cmd_tail, "print a chat's messages, optionally as they happen",
	  "usage: piyasactl tail --chat ID [--follow] [--limit N] [--no-color]\n"
	  "  Prints \"HH:MM:SS name: text\" (the chat's time zone), oldest first; --follow\n"
	  "  keeps printing new messages until Ctrl-C.\n" },
	{ "user", cmd_user, "add, list and change the admin API's users and keys",
	  "usage: piyasactl user add NAME --role ROLE [--generate]\n"
	  "       piyasactl user list [--json]\n"
	  "       piyasactl user passwd NAME [--generate]\n"
	  "       piyasactl user role NAME ROLE\n"
	  "       piyasactl user disable|enable NAME\n"
	  "       piyasactl user totp NAME on|off\n"
	  "       piyasactl user key add NAME --role ROLE\n"
	  "       piyasactl user key list [--all] [--json]\n"
	  "       piyasactl user key revoke NAME|ID\n"
	  "  ROLE is viewer, operator or admin. A password is read from standard input\n"
	  "  (one line) when it is not a terminal, else asked twice; --generate makes a\n"
	  "  random one and prints it once. disable ends the user's sessions, passwd too.\n"
	  "  key add prints the new key (piy_...) once; totp on prints the otpauth:// URI\n"
	  "  once. Every change is written to the audit (piyasactl audit).\n" },
	{ "audit", cmd_audit, "who changed what, when: the audit table",
	  "usage: piyasactl audit [--since T] [--actor A] [--action X] [--limit N] [--json]\n"
	  "  The newest N (50) rows that match, oldest first. T is a time PostgreSQL reads\n"
	  "  ('2026-12-07 17:00') or an age: 30m, 2h, 7d. A is 'ctl:root', 'user:alice',\n"
	  "  'key:deploy'; X an action ('user.add') or a prefix ('user.*').\n" },
	{ "fleet", cmd_fleet, "the running supervisor: status, reload, resize N",
	  "usage: piyasactl fleet status\n"
	  "       piyasactl fleet reload\n"
	  "       piyasactl fleet resize N\n"
	  "  Talks to the supervisor at http_bind:http_port (its /status) and signals\n"
	  "  its pid: reload sends SIGHUP and waits until the supervisor took the file\n"
	  "  (a refused file fails, the old configuration stays; under systemd prefer\n"
	  "  `systemctl reload piyasa`, which runs `supervisor -t` first); resize sends\n"
	  "  SIGTTIN or SIGTTOU a worker at a time and waits for N workers running.\n"
	  "  status prints the workers (index, pid, state, restarts, up).\n" },
	{ "keygen", cmd_keygen, "write a new token key (64 hex digits) to a file",
	  "usage: piyasactl keygen [FILE]\n"
	  "  Writes a new random key to FILE (default /etc/piyasa/token_key), mode 0600,\n"
	  "  and refuses to overwrite one: the bots' tokens are sealed with it, a new\n"
	  "  key would lose them all. The unit hands the file over as the credential\n"
	  "  token_key.\n" },
	{ "backup", cmd_backup, "dump the database (pg_dump) and keep 7 daily, 4 weekly, 12 monthly",
	  "usage: piyasactl backup [--dir DIR] [--keep-daily N] [--keep-weekly N]\n"
	  "                        [--keep-monthly N]\n"
	  "  Writes DIR/piyasa-YYYYmmddTHHMMSSZ.dump (pg_dump, custom format; default DIR\n"
	  "  /var/lib/piyasa/backups), then keeps the newest backup of each of the last 7\n"
	  "  days, 4 weeks and 12 months and removes the others. Redis is not dumped: it\n"
	  "  holds queues the fleet rebuilds (docs/OPERATIONS.md). Safe under load.\n" },
	{ "restore", cmd_restore, "restore the database from a backup (pg_restore)",
	  "usage: piyasactl restore [--force] FILE\n"
	  "  Replaces the database's tables with the backup's, in one transaction (a\n"
	  "  failure changes nothing). Refuses while a supervisor answers on its HTTP\n"
	  "  port: stop the fleet first (--force skips the check).\n" },
	{ "prune", cmd_prune, "delete old messages and dead letters (the retention settings)",
	  "usage: piyasactl prune [--batch N]\n"
	  "  Deletes messages older than the setting messages_retention_days and dead\n"
	  "  letters older than dead_jobs_retention_days (0, the default: keep), N rows\n"
	  "  a transaction (default 1000), so the workers never wait on it. Rows still\n"
	  "  in flight (sending, retry) are kept.\n" },
	{ "version", cmd_version, "print the version", "usage: piyasactl version\n" },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char global_usage[] =
	"usage: piyasactl [--config FILE] [-o text|json] COMMAND [ARGS...]\n"
	"       piyasactl help COMMAND\n"
	"  --config FILE  the piyasa config (default: $PIYASA_CONFIG, else\n"
	"                 " DEFAULT_CONFIG " when it exists, else built-in\n"
	"                 defaults); PIYASA_* environment variables override it.\n"
	"  -o, --output json|text  listings and shows as JSON for scripts (anywhere\n"
	"                 on the line).\n";

int ctl_help(FILE *f, const char *cmd)
{
	if (!cmd) {
		fputs(global_usage, f);
		fputs("\ncommands:\n", f);
		for (size_t i = 0; i < NCOMMANDS; i++)
			fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
		return 0;
	}
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, cmd) == 0) {
			fputs(commands[i].usage, f);
			return 0;
		}
	return -1;
}

static int cmd_version(struct ctl *c, int argc, char **argv)
{
	char *pos[1];
	int np, rc;

	(void)c;
	if ((rc = ctl_opts("version", argc - 1, argv + 1, NULL, pos, 0, &np)) != 0)
		return rc;
	printf("piyasactl %s (schema version %d)\n", PIYASA_VERSION,
	       ctl_nmigrations ? ctl_migrations[ctl_nmigrations - 1].version : 0);
	return CTL_OK;
}

static int cmd_help(int argc, char **argv)
{
	if (argc < 2) {
		ctl_help(stdout, NULL);
		return CTL_OK;
	}
	if (ctl_help(stdout, argv[1]) < 0) {
		fprintf(stderr, "piyasactl: no command '%s'\n\n", argv[1]);
		ctl_help(stderr, NULL);
		return CTL_USAGE;
	}
	return CTL_OK;
}

/* Global flags come before the command: --config FILE (or --config=FILE). */
static int global_flags(int argc, char **argv, int *first, const char **config)
{
	int i = 1;

	/* PIYASA_CONFIG set, even empty (the defaults), wins over the installed file. */
	if (!(*config = getenv("PIYASA_CONFIG")) && access(DEFAULT_CONFIG, F_OK) == 0)
		*config = DEFAULT_CONFIG;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			ctl_help(stdout, NULL);
			exit(CTL_OK);
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("piyasactl %s\n", PIYASA_VERSION);
			exit(CTL_OK);
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
			*config = argv[++i];
		} else if (strncmp(argv[i], "--config=", 9) == 0) {
			*config = argv[i] + 9;
		} else {
			fprintf(stderr, "piyasactl: unknown option '%s'\n\n", argv[i]);
			ctl_help(stderr, NULL);
			return CTL_USAGE;
		}
	}
	if (i >= argc) {
		ctl_help(stderr, NULL);
		return CTL_USAGE;
	}
	*first = i;
	return 0;
}

/* -o/--output FORMAT anywhere on the line (before or after the command words):
 * taken out of argv, so no command sees it. 0, or CTL_USAGE. */
static int output_flag(int *argc, char **argv)
{
	int j = 0;

	for (int i = 0; i < *argc; i++) {
		const char *v = NULL;

		if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--output") == 0) && i + 1 < *argc)
			v = argv[++i];
		else if (strncmp(argv[i], "--output=", 9) == 0)
			v = argv[i] + 9;
		else if (strncmp(argv[i], "-o", 2) == 0 && argv[i][2])
			v = argv[i] + 2;
		if (!v) {
			argv[j++] = argv[i];
			continue;
		}
		if (strcmp(v, "json") && strcmp(v, "text")) {
			fprintf(stderr, "piyasactl: -o: '%s' is not json or text\n", v);
			return CTL_USAGE;
		}
		ctl_set_json(strcmp(v, "json") == 0);
	}
	*argc = j;
	argv[j] = NULL;
	return 0;
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	static struct ctl c;
	const struct command *cmd;
	const char *config;
	char err[512];
	int first, rc;

	if ((rc = output_flag(&argc, argv)) != 0 ||
	    (rc = global_flags(argc, argv, &first, &config)) != 0)
		return rc;
	if (strcmp(argv[first], "help") == 0)
		return cmd_help(argc - first, argv + first);
	if (!(cmd = find_command(argv[first]))) {
		fprintf(stderr, "piyasactl: no command '%s'\n\n", argv[first]);
		ctl_help(stderr, NULL);
		return CTL_USAGE;
	}
	if (cfg_load(&c.cfg, config, err, sizeof err) < 0)
		return ctl_fail("config: %s", err);
	/* A tool talks to its operator's terminal, never to the journal. */
	log_init("piyasactl", "text", c.cfg.log_level);
	rc = cmd->run(&c, argc - first, argv + first);
	if (c.db)
		PQfinish(c.db);
	rqs_free(c.rq);
	sodium_memzero(c.key, sizeof c.key);
	return rc;
}
