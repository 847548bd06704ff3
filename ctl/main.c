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
	{ "version", cmd_version, "print the version", "usage: piyasactl version\n" },
};

#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char global_usage[] =
	"usage: piyasactl [--config FILE] COMMAND [ARGS...]\n"
	"       piyasactl help COMMAND\n"
	"  --config FILE  the piyasa config (default: $PIYASA_CONFIG, else built-in\n"
	"                 defaults); PIYASA_* environment variables override it.\n";

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

	*config = getenv("PIYASA_CONFIG");
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

	if ((rc = global_flags(argc, argv, &first, &config)) != 0)
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
