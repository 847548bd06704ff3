/* cmd_chat: `piyasactl chat ...`: the Telegram groups the bots talk in, and which
 * bots are members. A chat's id is Telegram's (negative for groups), so it is
 * given, never generated. */
#include "common/cast.h"
#include "ctl/ctl.h"

#include <stdlib.h>
#include <string.h>

int ctl_chat_write(PGconn *db, int upsert, const char *id, const char *title, const char *topics,
		   const char *tz, const char *language, const char *enabled, char *err, size_t el)
{
	static const char ins[] = "INSERT INTO chats (id, title) VALUES ($1, $2) RETURNING true";
	/* xmax = 0 only on a row this statement inserted: tells new from updated. */
	static const char ups[] = "INSERT INTO chats (id, title) VALUES ($1, $2)"
				  " ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title"
				  " RETURNING (xmax = 0)";
	/* The columns' defaults stay in the schema: only given fields are set. */
	static const char set[] = "UPDATE chats SET topics = COALESCE($2::jsonb, topics),"
				  " time_zone = COALESCE($3, time_zone),"
				  " language = COALESCE($4, language),"
				  " enabled = COALESCE($5::boolean, enabled) WHERE id = $1";
	const char *p1[2] = { id, title }, *p2[5] = { id, topics, tz, language, enabled };
	PGresult *res;
	int inserted;

	if (tz && ctl_check_tz(db, tz, err, el) < 0)
		return -1;
	if (!(res = ctl_q(db, upsert ? ups : ins, 2, p1, err, el))) {
		if (strcmp(ctl_db_state(), "23505") == 0)
			snprintf(err, el, "chat %s already exists", id);
		return -1;
	}
	inserted = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if ((topics || tz || language || enabled) && ctl_x(db, set, 5, p2, err, el) < 0)
		return -1;
	return inserted;
}

static int chat_add(struct ctl *c, int argc, char **argv)
{
	const char *id, *title, *topics, *tz, *lang;
	const struct ctl_opt opts[] = {
		{ "id", &id, NULL }, { "title", &title, NULL },   { "topics", &topics, NULL },
		{ "tz", &tz, NULL }, { "language", &lang, NULL }, { NULL, NULL, NULL },
	};
	char err[1024], *pos[1], *topics_text = NULL;
	json_t *t = NULL;
	int64_t cid;
	PGconn *db;
	int np, rc;

	if ((rc = ctl_opts("chat", argc, argv, opts, pos, 0, &np)) != 0)
		return rc;
	if (!id || !title)
		return ctl_usage("chat", "chat add needs --id and --title");
	if (ctl_parse_i64(id, &cid) < 0 || cid == 0)
		return ctl_usage("chat", "--id: expected a non-zero Telegram chat id");
	if (!*title || (lang && !*lang))
		return ctl_usage("chat", "--title and --language must not be empty");
	if (topics && (ctl_json_arg(topics, &t, err, sizeof err) < 0 ||
		       cast_check_topics(t, "--topics", err, sizeof err) < 0)) {
		json_decref(t);
		return ctl_fail("%s", err);
	}
	if (t && !(topics_text = json_dumps(t, JSON_COMPACT | CTL_JSON_REAL)))
		rc = ctl_fail("out of memory");
	json_decref(t);
	if (rc)
		return rc;
	if (!(db = ctl_db(c, err, sizeof err)) || ctl_script(db, "BEGIN", err, sizeof err) < 0 ||
	    ctl_chat_write(db, 0, id, title, topics_text, tz, lang, NULL, err, sizeof err) < 0 ||
	    ctl_script(db, "COMMIT", err, sizeof err) < 0) {
		if (db)
			ctl_rollback(db);
		free(topics_text);
		return ctl_fail("%s", err);
	}
	free(topics_text);
	/* a worker may hold "no such chat" for it (a job that came first) */
	ctl_notify_chats(c, &cid, 1);
	printf("chat %s added\n", id);
	return CTL_OK;
}

static int chat_list(struct ctl *c, int argc, char **argv)
{
	static const char sql[] =
		"SELECT c.id, c.title, CASE WHEN c.enabled THEN 'yes' ELSE 'no' END AS enabled,"
		" c.topics::text AS topics, c.time_zone, c.language,"
		" count(cb.bot_id) FILTER (WHERE cb.status = 'member') AS bots"
		" FROM chats c LEFT JOIN chat_bots cb ON cb.chat_id = c.id"
		" GROUP BY c.id ORDER BY c.id";
	char err[1024], *pos[1];
	PGresult *res;
	PGconn *db;
	int np, rc;

	if ((rc = ctl_opts("chat", argc, argv, NULL, pos, 0, &np)) != 0)
		return rc;
	if (!(db = ctl_db(c, err, sizeof err)) || !(res = ctl_q(db, sql, 0, NULL, err, sizeof err)))
		return ctl_fail("%s", err);
	ctl_table(stdout, res);
	PQclear(res);
	return CTL_OK;
}

/* --chat ID --bot ID of join and leave, both checked to exist. */
static int member_args(struct ctl *c, int argc, char **argv, const char *sub, const char **p,
		       PGconn **db)
{
	const struct ctl_opt opts[] = { { "chat", &p[0], NULL },
					{ "bot", &p[1], NULL },
					{ NULL, NULL, NULL } };
	char err[1024], *pos[1];
	int64_t v;
	int np, rc;

	if ((rc = ctl_opts("chat", argc, argv, opts, pos, 0, &np)) != 0)
		return rc;
	if (!p[0] || !p[1])
		return ctl_usage("chat", "chat %s needs --chat ID and --bot ID", sub);
	if (ctl_parse_i64(p[0], &v) < 0 || v == 0)
		return ctl_usage("chat", "--chat: '%s' is not a chat id", p[0]);
	if (ctl_parse_id(p[1], &v) < 0)
		return ctl_usage("chat", "--bot: '%s' is not a bot id", p[1]);
	if (!(*db = ctl_db(c, err, sizeof err)) || ctl_chat_exists(*db, p[0], err, sizeof err) < 0 ||
	    ctl_bot_exists(*db, p[1], err, sizeof err) < 0)
		return ctl_fail("%s", err);
	return 0;
}

/* The bot's chats changed: its owner schedules it with them now. */
static void member_changed(struct ctl *c, const char *bot)
{
	int64_t id;

	if (ctl_parse_id(bot, &id) == 0)
		ctl_notify_bots(c, &id, 1);
}

static int chat_join(struct ctl *c, int argc, char **argv)
{
	/* Joining again after a kick makes the bot a member again. */
	static const char sql[] = "INSERT INTO chat_bots (chat_id, bot_id) VALUES ($1, $2)"
				  " ON CONFLICT (chat_id, bot_id) DO UPDATE SET status = 'member'"
				  " WHERE chat_bots.status <> 'member' RETURNING 1";
	const char *p[2];
	char err[1024];
	PGconn *db;
	long n;
	int rc;

	if ((rc = member_args(c, argc, argv, "join", p, &db)) != 0)
		return rc;
	if ((n = ctl_x(db, sql, 2, p, err, sizeof err)) < 0)
		return ctl_fail("%s", err);
	printf(n ? "bot %s joined chat %s\n" : "bot %s is already in chat %s\n", p[1], p[0]);
	if (n)
		member_changed(c, p[1]);
	return CTL_OK;
}

static int chat_leave(struct ctl *c, int argc, char **argv)
{
	const char *p[2];
	char err[1024];
	PGconn *db;
	long n;
	int rc;

	if ((rc = member_args(c, argc, argv, "leave", p, &db)) != 0)
		return rc;
	if ((n = ctl_x(db, "DELETE FROM chat_bots WHERE chat_id = $1 AND bot_id = $2", 2, p, err,
		       sizeof err)) < 0)
		return ctl_fail("%s", err);
	if (n == 0)
		return ctl_fail("bot %s is not in chat %s", p[1], p[0]);
	printf("bot %s left chat %s\n", p[1], p[0]);
	member_changed(c, p[1]);
	return CTL_OK;
}

static int chat_enable(struct ctl *c, int argc, char **argv, int on)
{
	char err[1024], *pos[1];
	const char *p[2];
	int64_t v;
	PGconn *db;
	int np, rc;
	long n;

	if ((rc = ctl_opts("chat", argc, argv, NULL, pos, 1, &np)) != 0)
		return rc;
	if (np != 1 || ctl_parse_i64(pos[0], &v) < 0 || v == 0)
		return ctl_usage("chat", "chat %s needs a chat ID", on ? "enable" : "disable");
	p[0] = pos[0];
	p[1] = on ? "true" : "false";
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    (n = ctl_x(db, "UPDATE chats SET enabled = $2 WHERE id = $1", 2, p, err, sizeof err)) < 0)
		return ctl_fail("%s", err);
	if (n == 0)
		return ctl_fail("no chat %s", pos[0]);
	ctl_notify_chats(c, &v, 1);
	printf("chat %s %s\n", pos[0], on ? "enabled" : "disabled");
	return CTL_OK;
}

static int chat_enable_cmd(struct ctl *c, int argc, char **argv)
{
	return chat_enable(c, argc, argv, 1);
}

static int chat_disable_cmd(struct ctl *c, int argc, char **argv)
{
	return chat_enable(c, argc, argv, 0);
}

int cmd_chat(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_sub subs[] = { { "add", chat_add },
					       { "list", chat_list },
					       { "join", chat_join },
					       { "leave", chat_leave },
					       { "enable", chat_enable_cmd },
					       { "disable", chat_disable_cmd },
					       { NULL, NULL } };

	return ctl_dispatch(c, "chat", subs, argc, argv);
}
