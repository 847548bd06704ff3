/* cmd_bot: `piyasactl bot ...`. A bot's token is a credential: it is sealed with
 * the token key before it reaches PostgreSQL and never printed; listings show the
 * public part (the Telegram bot id before ':'). Profiles are checked against the
 * shapes of BEHAVIOUR.md (common/cast) before they are stored, so a worker never
 * meets a string where an object belongs. */
#include "common/cast.h"
#include "common/tok.h"
#include "ctl/ctl.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int ctl_token_key(struct ctl *c, char *err, size_t el)
{
	if (!c->have_key) {
		if (tok_key_load(c->key, c->cfg.token_key_file, err, el) < 0)
			return -1;
		c->have_key = 1;
	}
	return 0;
}

char *ctl_seal_token(struct ctl *c, const char *token, char *err, size_t el)
{
	unsigned char *sealed;
	size_t n;
	char *hex;

	if (ctl_token_key(c, err, el) < 0)
		return NULL;
	if (tok_encrypt(c->key, token, &sealed, &n) < 0) {
		snprintf(err, el, "cannot encrypt the token");
		return NULL;
	}
	/* bytea's text input: "\x" and two hex digits a byte. */
	if ((hex = malloc(2 * n + 3))) {
		hex[0] = '\\';
		hex[1] = 'x';
		sodium_bin2hex(hex + 2, 2 * n + 1, sealed, n);
	} else {
		snprintf(err, el, "out of memory");
	}
	free(sealed);
	return hex;
}

int ctl_token_clash(PGconn *db, const char *hint, int64_t except_id, char *err, size_t el)
{
	char ex[24];
	const char *p[2] = { hint, ex };
	PGresult *res;
	int found;

	snprintf(ex, sizeof ex, "%lld", (long long)except_id);
	res = ctl_q(db, "SELECT id, name FROM bots WHERE token_hint = $1 AND id <> $2 LIMIT 1", 2,
		    p, err, el);
	if (!res)
		return -1;
	if ((found = PQntuples(res) > 0))
		snprintf(err, el, "Telegram bot %s is already bot %s (%s): one token, one bot",
			 hint, PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
	return found;
}

int ctl_bump_bot_ids(PGconn *db, char *err, size_t el)
{
	/* An explicit id does not move the identity sequence: move it past the
	 * largest id so the next generated one cannot collide. */
	return ctl_x(db,
		     "SELECT setval(pg_get_serial_sequence('bots', 'id'),"
		     " (SELECT max(id) FROM bots))",
		     0, NULL, err, el) < 0
		       ? -1
		       : 0;
}

/* A profile option: parsed, checked against its shape, re-encoded compactly.
 * *out stays NULL when the option was not given. */
static int profile_arg(const char *arg, const char *flag,
		       int (*check)(const json_t *, const char *, char *, size_t), char **out,
		       char *err, size_t el)
{
	json_t *v;

	*out = NULL;
	if (!arg)
		return 0;
	if (ctl_json_arg(arg, &v, err, el) < 0) {
		char why[400];

		snprintf(why, sizeof why, "%s", err);
		snprintf(err, el, "%s: %s", flag, why);
		return -1;
	}
	if (check(v, flag, err, el) < 0) {
		json_decref(v);
		return -1;
	}
	*out = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | CTL_JSON_REAL);
	json_decref(v);
	if (!*out) {
		snprintf(err, el, "out of memory");
		return -1;
	}
	return 0;
}

struct bot_args {
	const char *name, *token, *username, *persona, *emotion, *speed, *hours, *id;
};

/* Translate the unique violations of an insert into the operator's terms. */
static int add_failed(const struct bot_args *a, const char *err)
{
	if (strcmp(ctl_db_state(), "23505") == 0 && strcmp(ctl_db_constraint(), "bots_name_key") == 0)
		return ctl_fail("a bot named '%s' already exists", a->name);
	if (strcmp(ctl_db_state(), "23505") == 0 && strcmp(ctl_db_constraint(), "bots_pkey") == 0)
		return ctl_fail("bot id %s is taken", a->id);
	return ctl_fail("bot add: %s", err);
}

static int bot_insert(PGconn *db, const struct bot_args *a, char *const prof[4], const char *sealed,
		      const char *hint)
{
	static const char sql[] =
		"INSERT INTO bots (id, name, username, token_enc, token_hint, persona_profile,"
		" emotion_profile, speed_profile, active_hours)"
		" VALUES (COALESCE($9::bigint, nextval(pg_get_serial_sequence('bots', 'id'))),"
		" $1, $2, $3::bytea, $4, COALESCE($5::jsonb, '{}'), COALESCE($6::jsonb, '{}'),"
		" COALESCE($7::jsonb, '{}'), COALESCE($8::jsonb, '[]')) RETURNING id";
	const char *p[9] = { a->name, a->username, sealed,  hint, prof[0],
			     prof[1], prof[2],     prof[3], a->id };
	char err[1024];
	PGresult *res;

	if (!(res = ctl_q(db, sql, 9, p, err, sizeof err)))
		return add_failed(a, err);
	printf("%s\n", PQgetvalue(res, 0, 0));
	PQclear(res);
	if (a->id && ctl_bump_bot_ids(db, err, sizeof err) < 0)
		return ctl_fail("bot add: %s", err);
	return CTL_OK;
}

static int bot_add_checked(struct ctl *c, const struct bot_args *a, char *const prof[4])
{
	char token[TOK_MAX], hint[32], err[1024], *sealed;
	int64_t id;
	PGconn *db;
	int rc;

	if (!a->name || !a->token)
		return ctl_usage("bot", "bot add needs --name and --token");
	if (!*a->name)
		return ctl_usage("bot", "--name: empty");
	if (a->id && ctl_parse_id(a->id, &id) < 0)
		return ctl_usage("bot", "--id: expected a positive integer");
	if (ctl_secret_arg(a->token, token, sizeof token, err, sizeof err) < 0 ||
	    cast_check_token(token, "--token", err, sizeof err) < 0)
		return ctl_fail("%s", err);
	tok_hint(token, hint, sizeof hint);
	if (!(db = ctl_db(c, err, sizeof err)))
		return ctl_fail("%s", err);
	if ((rc = ctl_token_clash(db, hint, 0, err, sizeof err)) != 0)
		return ctl_fail("%s", err);
	sealed = ctl_seal_token(c, token, err, sizeof err);
	sodium_memzero(token, sizeof token);
	if (!sealed)
		return ctl_fail("%s", err);
	rc = bot_insert(db, a, prof, sealed, hint);
	free(sealed);
	return rc;
}

static int bot_add(struct ctl *c, int argc, char **argv)
{
	struct bot_args a;
	const struct ctl_opt opts[] = {
		{ "name", &a.name, NULL },
		{ "token", &a.token, NULL },
		{ "username", &a.username, NULL },
		{ "persona", &a.persona, NULL },
		{ "emotion", &a.emotion, NULL },
		{ "speed", &a.speed, NULL },
		{ "active-hours", &a.hours, NULL },
		{ "id", &a.id, NULL },
		{ NULL, NULL, NULL },
	};
	char *prof[4] = { NULL, NULL, NULL, NULL }, *pos[1], err[1024];
	int np, rc;

	if ((rc = ctl_opts("bot", argc, argv, opts, pos, 0, &np)) != 0)
		return rc;
	if (profile_arg(a.persona, "--persona", cast_check_persona, &prof[0], err, sizeof err) < 0 ||
	    profile_arg(a.emotion, "--emotion", cast_check_emotion, &prof[1], err, sizeof err) < 0 ||
	    profile_arg(a.speed, "--speed", cast_check_speed, &prof[2], err, sizeof err) < 0 ||
	    profile_arg(a.hours, "--active-hours", cast_check_hours, &prof[3], err, sizeof err) < 0)
		rc = ctl_fail("%s", err);
	else
		rc = bot_add_checked(c, &a, prof);
	for (int i = 0; i < 4; i++)
		free(prof[i]);
	return rc;
}

static int bot_list(struct ctl *c, int argc, char **argv)
{
	static const char sql[] =
		"SELECT b.id, b.name, COALESCE(b.username, '') AS username, b.token_hint,"
		" CASE WHEN b.enabled THEN 'yes' ELSE 'no' END AS enabled,"
		" COALESCE(string_agg(cb.chat_id::text || CASE WHEN cb.status = 'kicked'"
		" THEN '(kicked)' ELSE '' END, ',' ORDER BY cb.chat_id), '') AS chats"
		" FROM bots b LEFT JOIN chat_bots cb ON cb.bot_id = b.id"
		" GROUP BY b.id ORDER BY b.id";
	char err[1024], *pos[1];
	PGresult *res;
	PGconn *db;
	int np, rc;

	if ((rc = ctl_opts("bot", argc, argv, NULL, pos, 0, &np)) != 0)
		return rc;
	if (!(db = ctl_db(c, err, sizeof err)) || !(res = ctl_q(db, sql, 0, NULL, err, sizeof err)))
		return ctl_fail("%s", err);
	ctl_table(stdout, res);
	PQclear(res);
	return CTL_OK;
}

/* The one positional bot id of enable/disable/show/remove. */
static int one_id(const char *cmd, int argc, char **argv, int want, char **pos, int64_t *id)
{
	int np, rc;

	if ((rc = ctl_opts("bot", argc, argv, NULL, pos, want, &np)) != 0)
		return rc;
	if (np != want)
		return ctl_usage("bot", "bot %s needs %s", cmd, want == 1 ? "ID" : "ID TOKEN");
	if (ctl_parse_id(pos[0], id) < 0)
		return ctl_usage("bot", "'%s' is not a bot id", pos[0]);
	return 0;
}

/* json (not jsonb) keeps the order the query built; jansson keeps it too. */
static int print_pretty(const char *text)
{
	json_t *v = json_loads(text, 0, NULL);
	char *s = v ? json_dumps(v, JSON_INDENT(2) | JSON_PRESERVE_ORDER | CTL_JSON_REAL) : NULL;

	printf("%s\n", s ? s : text);
	free(s);
	json_decref(v);
	return CTL_OK;
}

static int bot_show(struct ctl *c, int argc, char **argv)
{
	static const char sql[] =
		"SELECT json_build_object('id', b.id, 'name', b.name,"
		" 'username', b.username, 'token_hint', b.token_hint, 'enabled', b.enabled,"
		" 'persona_profile', b.persona_profile, 'emotion_profile', b.emotion_profile,"
		" 'speed_profile', b.speed_profile, 'active_hours', b.active_hours,"
		" 'created_at', b.created_at, 'updated_at', b.updated_at,"
		" 'stances', (SELECT COALESCE(json_agg(json_build_object('topic', s.topic,"
		"   'stance_text', s.stance_text, 'confidence', s.confidence,"
		"   'cooldown_until', s.cooldown_until) ORDER BY s.topic), '[]'::json)"
		"   FROM bot_stances s WHERE s.bot_id = b.id),"
		" 'holdings', (SELECT COALESCE(json_agg(json_build_object('symbol', h.symbol,"
		"   'avg_price', h.avg_price, 'size', h.size, 'note', h.note) ORDER BY h.symbol),"
		"   '[]'::json) FROM bot_holdings h WHERE h.bot_id = b.id),"
		" 'memories', (SELECT COALESCE(json_agg(json_build_object('id', m.id,"
		"   'memory_type', m.memory_type, 'content', m.content, 'relevance_score',"
		"   m.relevance_score, 'usage_count', m.usage_count, 'last_used_at',"
		"   m.last_used_at) ORDER BY m.id), '[]'::json) FROM bot_memories m WHERE m.bot_id = b.id),"
		" 'chats', (SELECT COALESCE(json_agg(json_build_object('chat_id', cb.chat_id,"
		"   'status', cb.status) ORDER BY cb.chat_id), '[]'::json)"
		"   FROM chat_bots cb WHERE cb.bot_id = b.id))"
		" FROM bots b WHERE b.id = $1";
	char err[1024], *pos[1];
	PGresult *res;
	int64_t id;
	PGconn *db;
	int rc;

	if ((rc = one_id("show", argc, argv, 1, pos, &id)) != 0)
		return rc;
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    !(res = ctl_q(db, sql, 1, (const char *const *)pos, err, sizeof err)))
		return ctl_fail("%s", err);
	rc = PQntuples(res) ? print_pretty(PQgetvalue(res, 0, 0)) : ctl_fail("no bot %s", pos[0]);
	PQclear(res);
	return rc;
}

static int bot_enable(struct ctl *c, int argc, char **argv, int on)
{
	const char *p[2];
	char err[1024], *pos[1];
	int64_t id;
	PGconn *db;
	long n;
	int rc;

	if ((rc = one_id(on ? "enable" : "disable", argc, argv, 1, pos, &id)) != 0)
		return rc;
	p[0] = pos[0];
	p[1] = on ? "true" : "false";
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    (n = ctl_x(db, "UPDATE bots SET enabled = $2, updated_at = now() WHERE id = $1", 2, p,
		       err, sizeof err)) < 0)
		return ctl_fail("%s", err);
	if (n == 0)
		return ctl_fail("no bot %s", pos[0]);
	printf("bot %s %s\n", pos[0], on ? "enabled" : "disabled");
	ctl_notify_bots(c, &id, 1);
	return CTL_OK;
}

static int bot_set_token(struct ctl *c, int argc, char **argv)
{
	char token[TOK_MAX], hint[32], err[1024], *pos[2], *sealed = NULL;
	const char *p[3];
	int64_t id;
	PGconn *db;
	long n = -1;
	int rc;

	if ((rc = one_id("set-token", argc, argv, 2, pos, &id)) != 0)
		return rc;
	if (ctl_secret_arg(pos[1], token, sizeof token, err, sizeof err) < 0 ||
	    cast_check_token(token, "TOKEN", err, sizeof err) < 0)
		return ctl_fail("%s", err);
	tok_hint(token, hint, sizeof hint);
	if (!(db = ctl_db(c, err, sizeof err)) || ctl_token_clash(db, hint, id, err, sizeof err) != 0 ||
	    !(sealed = ctl_seal_token(c, token, err, sizeof err))) {
		sodium_memzero(token, sizeof token);
		return ctl_fail("%s", err);
	}
	sodium_memzero(token, sizeof token);
	p[0] = pos[0];
	p[1] = sealed;
	p[2] = hint;
	n = ctl_x(db,
		  "UPDATE bots SET token_enc = $2::bytea, token_hint = $3, updated_at = now()"
		  " WHERE id = $1",
		  3, p, err, sizeof err);
	free(sealed);
	if (n < 0)
		return ctl_fail("%s", err);
	if (n == 0)
		return ctl_fail("no bot %s", pos[0]);
	printf("bot %s: token replaced (Telegram bot %s)\n", pos[0], hint);
	ctl_notify_bots(c, &id, 1);
	return CTL_OK;
}

static int bot_remove(struct ctl *c, int argc, char **argv)
{
	char err[1024], *pos[1];
	PGresult *res;
	int64_t id;
	PGconn *db;
	int rc;

	if ((rc = one_id("remove", argc, argv, 1, pos, &id)) != 0)
		return rc;
	/* Stances, holdings, memories and memberships go with it (ON DELETE CASCADE);
	 * its messages stay, they are the chat's history. */
	if (!(db = ctl_db(c, err, sizeof err)) ||
	    !(res = ctl_q(db, "DELETE FROM bots WHERE id = $1 RETURNING name", 1,
			  (const char *const *)pos, err, sizeof err)))
		return ctl_fail("%s", err);
	rc = PQntuples(res) ? (printf("removed bot %s (%s)\n", pos[0], PQgetvalue(res, 0, 0)), CTL_OK)
			    : ctl_fail("no bot %s", pos[0]);
	PQclear(res);
	if (rc == CTL_OK)
		ctl_notify_bots(c, &id, 1);
	return rc;
}

static int bot_enable_cmd(struct ctl *c, int argc, char **argv)
{
	return bot_enable(c, argc, argv, 1);
}

static int bot_disable_cmd(struct ctl *c, int argc, char **argv)
{
	return bot_enable(c, argc, argv, 0);
}

int cmd_bot(struct ctl *c, int argc, char **argv)
{
	static const struct ctl_sub subs[] = { { "add", bot_add },
					       { "list", bot_list },
					       { "show", bot_show },
					       { "enable", bot_enable_cmd },
					       { "disable", bot_disable_cmd },
					       { "set-token", bot_set_token },
					       { "remove", bot_remove },
					       { NULL, NULL } };

	return ctl_dispatch(c, "bot", subs, argc, argv);
}
