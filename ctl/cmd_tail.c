/* cmd_tail: `piyasactl tail --chat ID [--follow]`: a chat as its members see it,
 * "HH:MM:SS name: text", in the chat's own time zone. The demo runs it beside
 * the fleet, so it follows the chat live and colours each speaker.
 *
 * Following cannot simply ask for "id > last printed": a bot's outbox row gets its
 * id when it is written 'sending' and becomes 'sent' only after Telegram answers,
 * so a lower id can turn visible after a higher one. The poll therefore starts
 * just below the oldest row still in flight (a floor) and remembers which rows
 * above the floor it has printed. A row stuck in flight for minutes (its worker
 * died; the retry will settle it as 'unknown') stops holding the floor. */
#include "ctl/ctl.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define POLL_MS 500
#define STUCK "interval '5 minutes'"

static volatile sig_atomic_t stop;

static void on_interrupt(int sig)
{
	(void)sig;
	stop = 1;
}

/* Columns of both queries: id, time, bot_id, name, username, from_user_id, text,
 * status, in flight (holds the floor), the time as a timestamp (to sort by). */
#define SELECT_ROWS                                                                          \
	"SELECT m.id, to_char(COALESCE(m.sent_at, m.created_at) AT TIME ZONE c.time_zone,"   \
	" 'HH24:MI:SS'), COALESCE(m.bot_id::text, ''), COALESCE(b.name, ''),"                \
	" COALESCE(m.metadata->>'username', ''), COALESCE(m.metadata->>'from_user_id', '')," \
	" m.text, m.status, (m.status IN ('sending', 'retry') AND"                           \
	" m.created_at > now() - " STUCK "), COALESCE(m.sent_at, m.created_at)"              \
	" FROM messages m JOIN chats c ON c.id = m.chat_id LEFT JOIN bots b ON b.id = m.bot_id"

/* The newest rows by id (the index), shown in the order they were sent. */
static const char sql_last[] =
	"SELECT * FROM (" SELECT_ROWS " WHERE m.chat_id = $1 AND m.status IN ('sent', 'received')"
	" ORDER BY m.id DESC LIMIT $2) t ORDER BY 10, 1";
static const char sql_after[] = SELECT_ROWS " WHERE m.chat_id = $1 AND m.id > $2 ORDER BY m.id";
static const char sql_floor[] =
	"SELECT COALESCE(min(id) FILTER (WHERE status IN ('sending', 'retry')"
	" AND created_at > now() - " STUCK ") - 1, max(id), 0) FROM messages WHERE chat_id = $1";

/* A readable palette (256 colours); a bot keeps its colour across runs. */
static const int palette[] = { 39, 208, 41, 170, 220, 45, 203, 118, 141, 214, 81, 168 };

struct tail {
	int color;
	int64_t floor;
	int64_t *printed; /* ids above the floor already shown */
	size_t nprinted, cap;
};

static void print_row(const struct tail *t, const PGresult *res, int i)
{
	const char *bot = PQgetvalue(res, i, 2), *name = PQgetvalue(res, i, 3);
	const char *user = PQgetvalue(res, i, 4), *uid = PQgetvalue(res, i, 5);
	const char *text = PQgetvalue(res, i, 6), *nl;
	char who[160];
	size_t indent;

	if (*bot)
		snprintf(who, sizeof who, "%s", *name ? name : bot);
	else
		snprintf(who, sizeof who, "human:%s", *user ? user : *uid ? uid : "?");
	indent = 8 + 1 + ctl_width(who) + 2;
	if (t->color)
		printf("\033[2m%s\033[0m \033[1;38;5;%dm%s\033[0m: ", PQgetvalue(res, i, 1),
		       *bot ? palette[strtoull(bot, NULL, 10) % (sizeof palette / sizeof *palette)] : 15,
		       who);
	else
		printf("%s %s: ", PQgetvalue(res, i, 1), who);
	/* Continuation lines start under the text, not under the time. */
	while ((nl = strchr(text, '\n'))) {
		printf("%.*s\n%*s", (int)(nl - text), text, (int)indent, "");
		text = nl + 1;
	}
	printf("%s\n", text);
}

static int was_printed(const struct tail *t, int64_t id)
{
	for (size_t i = 0; i < t->nprinted; i++)
		if (t->printed[i] == id)
			return 1;
	return 0;
}

static int remember(struct tail *t, int64_t id)
{
	if (t->nprinted == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		int64_t *more = realloc(t->printed, cap * sizeof *more);

		if (!more)
			return -1;
		t->printed = more;
		t->cap = cap;
	}
	t->printed[t->nprinted++] = id;
	return 0;
}

/* Forget what is at or below the floor: no poll returns it again. */
static void prune(struct tail *t)
{
	size_t k = 0;

	for (size_t i = 0; i < t->nprinted; i++)
		if (t->printed[i] > t->floor)
			t->printed[k++] = t->printed[i];
	t->nprinted = k;
}

/* Print what is new above the floor, then move the floor up. */
static int poll_once(struct tail *t, PGconn *db, const char *chat, char *err, size_t el)
{
	char floor[24];
	const char *p[2] = { chat, floor };
	int64_t first_busy = 0, top = t->floor;
	PGresult *res;

	snprintf(floor, sizeof floor, "%lld", (long long)t->floor);
	if (!(res = ctl_q(db, sql_after, 2, p, err, el)))
		return -1;
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		const char *st = PQgetvalue(res, i, 7);

		top = id;
		if (!first_busy && strcmp(PQgetvalue(res, i, 8), "t") == 0)
			first_busy = id;
		if ((strcmp(st, "sent") == 0 || strcmp(st, "received") == 0) && !was_printed(t, id)) {
			print_row(t, res, i);
			if (remember(t, id) < 0) {
				PQclear(res);
				snprintf(err, el, "out of memory");
				return -1;
			}
		}
	}
	PQclear(res);
	t->floor = first_busy ? first_busy - 1 : top;
	prune(t);
	fflush(stdout);
	return 0;
}

/* Mark every visible row above the floor as printed: the rows older than the
 * window shown must not come back as new on the first poll. */
static int mark_seen(struct tail *t, PGconn *db, const char *chat, char *err, size_t el)
{
	static const char sql[] = "SELECT id FROM messages WHERE chat_id = $1 AND id > $2"
				  " AND status IN ('sent', 'received')";
	char floor[24];
	const char *p[2] = { chat, floor };
	PGresult *res;
	int rc = 0;

	snprintf(floor, sizeof floor, "%lld", (long long)t->floor);
	if (!(res = ctl_q(db, sql, 2, p, err, el)))
		return -1;
	for (int i = 0; rc == 0 && i < PQntuples(res); i++)
		if ((rc = remember(t, strtoll(PQgetvalue(res, i, 0), NULL, 10))) < 0)
			snprintf(err, el, "out of memory");
	PQclear(res);
	return rc;
}

/* The floor, the rows seen and the last rows from one snapshot, so nothing
 * falls between them: what lands later is above the floor and unseen. */
static int show_last(struct tail *t, PGconn *db, const char *chat, const char *limit, char *err,
		     size_t el)
{
	const char *p[2] = { chat, limit };
	PGresult *res = NULL;

	if (ctl_script(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", err, el) < 0)
		return -1;
	if (!(res = ctl_q(db, sql_floor, 1, p, err, el)))
		goto fail;
	t->floor = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (mark_seen(t, db, chat, err, el) < 0 || !(res = ctl_q(db, sql_last, 2, p, err, el)))
		goto fail;
	for (int i = 0; i < PQntuples(res); i++)
		print_row(t, res, i);
	PQclear(res);
	fflush(stdout);
	return ctl_script(db, "COMMIT", err, el);
fail:
	ctl_rollback(db);
	return -1;
}

static int follow(struct tail *t, PGconn *db, const char *chat, char *err, size_t el)
{
	struct sigaction sa;
	struct timespec ts = { 0, POLL_MS * 1000000L };

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the sleep ends at once on Ctrl-C. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!stop) {
		if (poll_once(t, db, chat, err, el) < 0)
			return -1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

int cmd_tail(struct ctl *c, int argc, char **argv)
{
	const char *chat, *limit;
	int fol, nocolor, np, rc;
	const struct ctl_opt opts[] = {
		{ "chat", &chat, NULL },        { "limit", &limit, NULL }, { "follow", NULL, &fol },
		{ "no-color", NULL, &nocolor }, { NULL, NULL, NULL },
	};
	struct tail t;
	char err[1024], *pos[1];
	int64_t v;
	PGconn *db;

	if ((rc = ctl_opts("tail", argc - 1, argv + 1, opts, pos, 0, &np)) != 0)
		return rc;
	if (!chat || ctl_parse_i64(chat, &v) < 0 || v == 0)
		return ctl_usage("tail", "--chat ID is needed (a non-zero Telegram chat id)");
	if (limit && (ctl_parse_i64(limit, &v) < 0 || v < 0))
		return ctl_usage("tail", "--limit: expected a number >= 0");
	memset(&t, 0, sizeof t);
	t.color = !nocolor && ctl_color();
	if (!(db = ctl_db(c, err, sizeof err)) || ctl_chat_exists(db, chat, err, sizeof err) < 0 ||
	    show_last(&t, db, chat, limit ? limit : "20", err, sizeof err) < 0 ||
	    (fol && follow(&t, db, chat, err, sizeof err) < 0))
		rc = ctl_fail("%s", err);
	free(t.printed);
	return rc;
}
