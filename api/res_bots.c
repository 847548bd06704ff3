/* res_bots: see res_bots.h. */
#include "api/res_bots.h"

#include "common/cast.h"
#include "common/net/httpc.h"
#include "common/tok.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ISO(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* A cast message "path: why" answered 422 with path as the field. */
static void refuse_shape(struct call *c, const char *err)
{
	const char *colon = strstr(err, ": ");
	char field[160];

	snprintf(field, sizeof field, "%.*s", colon ? (int)(colon - err) : (int)strlen(err), err);
	call_problem(c, 422, "Invalid value", field, "%s", err);
}

/* An id in the path as a number, or 404. */
static int path_num(struct call *c, int i, const char *what)
{
	const char *s = c->params[i];

	if (*s == '-')
		s++;
	if (*s && strspn(s, "0123456789") == strlen(s) && strlen(s) <= 18)
		return 0;
	call_problem(c, 404, "Not found", "id", "no %s %.40s", what, c->params[i]);
	return -1;
}

static void on_rows(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;

	if (err) {
		call_db_error(c, err);
		return;
	}
	call_json(c, 200, json_pack("{s:o}", (char *)c->data, call_rows(res)));
}

/* 404 when no row, else the first row as the answer. */
static void on_one(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;

	if (err) {
		if (!strncmp(err, "23505", 5))
			call_problem(c, 409, "Already exists", "id", "it exists already");
		else if (!strncmp(err, "23503", 5))
			call_problem(c, 404, "Not found", NULL, "no such bot or chat");
		else
			call_db_error(c, err);
		return;
	}
	if (!PQntuples(res)) {
		call_problem(c, 404, "Not found", "id", "no %s %s", (char *)c->data, c->params[0]);
		return;
	}
	call_json(c, 200, call_row(res, 0));
}

/* on_one for a change of bot params[bot] committed: the workers hear of it. */
static void on_bot_changed(PGresult *res, const char *err, void *arg, int bot)
{
	struct call *c = arg;

	if (!err && PQntuples(res))
		call_bots_changed(c, c->params[bot]);
	on_one(res, err, arg);
}

static void on_bot_row(PGresult *res, const char *err, void *arg)
{
	on_bot_changed(res, err, arg, 0);
}

/* on_one for a chat added, changed or deleted (its id the first column): the
 * workers drop their cached context of it. */
static void on_chat_row(PGresult *res, const char *err, void *arg)
{
	if (!err && PQntuples(res))
		call_chats_changed(arg, PQgetvalue(res, 0, 0));
	on_one(res, err, arg);
}

static void on_member_row(PGresult *res, const char *err, void *arg)
{
	on_bot_changed(res, err, arg, 1); /* the bot's chats: its schedule */
}

static int named(struct call *c, const char *what)
{
	if ((c->data = strdup(what)))
		return 0;
	call_problem(c, 500, "Internal error", NULL, "out of memory");
	return -1;
}

/* --- bots --- */

#define BOT_COLS                                                                                                \
	"b.id, b.name, b.username, b.token_hint, b.enabled, " ISO("b.created_at") " AS created_at, " ISO(       \
		"b.updated_at") " AS updated_at,"                                                               \
				" COALESCE((SELECT jsonb_agg(cb.chat_id ORDER BY cb.chat_id) FROM chat_bots cb" \
				" WHERE cb.bot_id = b.id AND cb.status = 'member'), '[]'::jsonb) AS chats"

void res_bots_list(struct call *c)
{
	static const char sql[] =
		"SELECT " BOT_COLS " FROM bots b"
		" WHERE ($1::boolean IS NULL OR b.enabled = $1::boolean)"
		" AND ($2::bigint IS NULL OR EXISTS (SELECT 1 FROM chat_bots x WHERE x.bot_id = b.id"
		"  AND x.chat_id = $2::bigint))"
		" AND ($3::text IS NULL OR strpos(b.name, $3) > 0)"
		" AND ($5::bigint IS NULL OR b.id > $5::bigint)"
		" ORDER BY b.id LIMIT $4::int";
	const char *en = req_arg(c->rq, "enabled");
	long long limit, chat, after;
	char lim[24], ch[24], af[24];
	const char *p[5];

	if (call_arg_int(c, "limit", 100, 1, 1000, &limit) < 0 ||
	    call_arg_int(c, "chat", 0, -(1LL << 62), 1LL << 62, &chat) < 0 ||
	    call_arg_int(c, "after", 0, 0, 1LL << 62, &after) < 0)
		return;
	if (en && strcmp(en, "true") && strcmp(en, "false")) {
		call_problem(c, 400, "Bad query argument", "enabled", "enabled: true or false");
		return;
	}
	snprintf(lim, sizeof lim, "%lld", limit);
	snprintf(ch, sizeof ch, "%lld", chat);
	snprintf(af, sizeof af, "%lld", after);
	p[0] = en;
	p[1] = call_arg_given(c, "chat") ? ch : NULL;
	p[2] = req_arg(c->rq, "q");
	p[3] = lim;
	p[4] = call_arg_given(c, "after") ? af : NULL;
	if (named(c, "bots") == 0)
		call_query(c, sql, 5, p, on_rows);
}

void res_bots_show(struct call *c)
{
	static const char sql[] =
		"SELECT " BOT_COLS ", b.persona_profile, b.emotion_profile, b.speed_profile,"
		" b.active_hours,"
		" COALESCE((SELECT jsonb_agg(to_jsonb(s) - 'bot_id' ORDER BY s.topic) FROM bot_stances s"
		"  WHERE s.bot_id = b.id), '[]') AS stances,"
		" COALESCE((SELECT jsonb_agg(to_jsonb(h) - 'bot_id' ORDER BY h.symbol) FROM bot_holdings h"
		"  WHERE h.bot_id = b.id), '[]') AS holdings,"
		" COALESCE((SELECT jsonb_agg(to_jsonb(m) - 'bot_id' ORDER BY m.id) FROM bot_memories m"
		"  WHERE m.bot_id = b.id), '[]') AS memories"
		" FROM bots b WHERE b.id = $1::bigint";
	const char *p[1] = { c->params[0] };

	if (path_num(c, 0, "bot") == 0 && named(c, "bot") == 0)
		call_query(c, sql, 1, p, on_one);
}

void res_bots_edit(struct call *c)
{
	/* The old row, the new one and the audit row: one statement. A field left
	 * out is NULL here and keeps its value. */
	static const char sql[] =
		"WITH old AS (SELECT id, name, username, enabled, persona_profile, emotion_profile,"
		"  speed_profile, active_hours FROM bots WHERE id = $1::bigint),"
		" up AS (UPDATE bots b SET enabled = COALESCE($2::boolean, b.enabled),"
		"  username = COALESCE($3, b.username),"
		"  persona_profile = COALESCE($4::jsonb, b.persona_profile),"
		"  emotion_profile = COALESCE($5::jsonb, b.emotion_profile),"
		"  speed_profile = COALESCE($6::jsonb, b.speed_profile),"
		"  active_hours = COALESCE($7::jsonb, b.active_hours), updated_at = now()"
		"  FROM old WHERE b.id = old.id RETURNING b.id, b.name, b.username, b.enabled,"
		"  b.persona_profile, b.emotion_profile, b.speed_profile, b.active_hours),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $8, 'bot.update', 'bot:' || up.id, (SELECT to_jsonb(o) FROM old o),"
		"  to_jsonb(up), $9 FROM up)"
		" SELECT id, name, username, enabled, persona_profile, emotion_profile, speed_profile,"
		" active_hours FROM up";
	static const char *const spec[] = { "enabled:b",
					    "username:s",
					    "persona_profile:o",
					    "emotion_profile:o",
					    "speed_profile:o",
					    "active_hours:a",
					    NULL };
	static const char *const keys[] = { "persona_profile", "emotion_profile", "speed_profile",
					    "active_hours" };
	int (*const check[])(const json_t *, const char *, char *,
			     size_t) = { cast_check_persona, cast_check_emotion, cast_check_speed,
					 cast_check_hours };
	char err[512], *text[4] = { NULL };
	const char *p[9];
	json_t *en;

	if (path_num(c, 0, "bot") < 0 || call_fields(c, spec) < 0)
		return;
	if (!c->body || !json_object_size(c->body)) {
		call_problem(c, 422, "Nothing to change", NULL, "give at least one field");
		return;
	}
	for (int i = 0; i < 4; i++) {
		json_t *v = json_object_get(c->body, keys[i]);
		if (v && check[i](v, keys[i], err, sizeof err) < 0) {
			refuse_shape(c, err);
			goto out;
		}
		text[i] = v ? json_dumps(v, JSON_COMPACT) : NULL;
	}
	en = json_object_get(c->body, "enabled");
	p[0] = c->params[0];
	p[1] = en ? (json_is_true(en) ? "true" : "false") : NULL;
	p[2] = json_string_value(json_object_get(c->body, "username"));
	for (int i = 0; i < 4; i++)
		p[3 + i] = text[i];
	p[7] = c->actor;
	p[8] = req_addr(c->rq);
	if (named(c, "bot") == 0)
		call_query(c, sql, 9, p, on_bot_row);
out:
	for (int i = 0; i < 4; i++)
		free(text[i]);
}

void res_bots_delete(struct call *c)
{
	static const char sql[] =
		"WITH d AS (DELETE FROM bots WHERE id = $1::bigint RETURNING id, name, token_hint),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $2, 'bot.delete', 'bot:' || d.id, to_jsonb(d), NULL, $3 FROM d)"
		" SELECT id, name, true AS deleted FROM d";
	const char *p[3] = { c->params[0], c->actor, req_addr(c->rq) };

	if (path_num(c, 0, "bot") == 0 && named(c, "bot") == 0)
		call_query(c, sql, 3, p, on_bot_row);
}

/* --- chats --- */

#define CHAT_COLS \
	"c.id, c.title, c.enabled, c.topics, c.time_zone, c.language, " ISO("c.created_at") " AS created_at"

void res_chats_list(struct call *c)
{
	static const char sql[] =
		"SELECT " CHAT_COLS ", (SELECT count(*) FROM chat_bots cb WHERE cb.chat_id = c.id"
		" AND cb.status = 'member') AS bots FROM chats c ORDER BY c.id";

	if (named(c, "chats") == 0)
		call_query(c, sql, 0, NULL, on_rows);
}

void res_chats_show(struct call *c)
{
	static const char sql[] =
		"SELECT " CHAT_COLS ", COALESCE((SELECT jsonb_agg(jsonb_build_object('id', b.id,"
		" 'name', b.name, 'status', cb.status) ORDER BY b.id) FROM chat_bots cb"
		" JOIN bots b ON b.id = cb.bot_id WHERE cb.chat_id = c.id), '[]') AS bots"
		" FROM chats c WHERE c.id = $1::bigint";
	const char *p[1] = { c->params[0] };

	if (path_num(c, 0, "chat") == 0 && named(c, "chat") == 0)
		call_query(c, sql, 1, p, on_one);
}

/* The body as one chat of a cast file, through cast_check_file: the same
 * rules as import, errors named without the "chats[0]." of the wrapper. */
static int check_chat(struct call *c, json_t *chat)
{
	json_t *file = json_pack("{s:[O]}", "chats", chat);
	char err[512];
	int rc = file ? cast_check_file(file, err, sizeof err) : -1;

	json_decref(file);
	if (rc == 0)
		return 0;
	refuse_shape(c, !strncmp(err, "chats[0].", 9) ? err + 9 : err);
	return -1;
}

/* The parameters of the chat add and edit statements, from the body: $1 id,
 * $2 title, $3 enabled, $4 topics, $5 time_zone, $6 language (NULL: not
 * given), $7 actor, $8 address. Returns the topics' text, for the caller to
 * free after the query is sent. */
static char *chat_params(struct call *c, const char *id, const char *p[8])
{
	json_t *en = json_object_get(c->body, "enabled"), *t = json_object_get(c->body, "topics");
	char *topics = t ? json_dumps(t, JSON_COMPACT) : NULL;

	p[0] = id;
	p[1] = json_string_value(json_object_get(c->body, "title"));
	p[2] = en ? (json_is_true(en) ? "true" : "false") : NULL;
	p[3] = topics;
	p[4] = json_string_value(json_object_get(c->body, "time_zone"));
	p[5] = json_string_value(json_object_get(c->body, "language"));
	p[6] = c->actor;
	p[7] = req_addr(c->rq);
	return topics;
}

void res_chats_add(struct call *c)
{
	static const char sql[] =
		"WITH ins AS (INSERT INTO chats (id, title, enabled, topics, time_zone, language)"
		"  VALUES ($1::bigint, $2, COALESCE($3::boolean, true),"
		"  COALESCE($4::jsonb, '[\"BIST\",\"FX\",\"Kripto\",\"Makro\"]'),"
		"  COALESCE($5, 'Europe/Istanbul'), COALESCE($6, 'tr')) RETURNING *),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $7, 'chat.add', 'chat:' || ins.id, NULL, to_jsonb(ins), $8 FROM ins)"
		" SELECT id, title, enabled, topics, time_zone, language FROM ins";
	static const char *const spec[] = { "id:i!",       "title:s!",   "enabled:b", "topics:a",
					    "time_zone:s", "language:s", NULL };
	char id[24], *topics;
	const char *p[8];

	if (call_fields(c, spec) < 0 || check_chat(c, c->body) < 0)
		return;
	snprintf(id, sizeof id, "%lld", (long long)json_integer_value(json_object_get(c->body, "id")));
	topics = chat_params(c, id, p);
	if (named(c, "chat") == 0)
		call_query(c, sql, 8, p, on_chat_row);
	free(topics);
}

void res_chats_edit(struct call *c)
{
	static const char sql[] =
		"WITH old AS (SELECT * FROM chats WHERE id = $1::bigint),"
		" up AS (UPDATE chats x SET title = COALESCE($2, x.title),"
		"  enabled = COALESCE($3::boolean, x.enabled), topics = COALESCE($4::jsonb, x.topics),"
		"  time_zone = COALESCE($5, x.time_zone), language = COALESCE($6, x.language)"
		"  FROM old WHERE x.id = old.id RETURNING x.*),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $7, 'chat.update', 'chat:' || up.id, (SELECT to_jsonb(o) FROM old o),"
		"  to_jsonb(up), $8 FROM up)"
		" SELECT id, title, enabled, topics, time_zone, language FROM up";
	static const char *const spec[] = { "title:s",     "enabled:b",  "topics:a",
					    "time_zone:s", "language:s", NULL };
	json_t *whole;
	char *topics;
	const char *p[8];

	if (path_num(c, 0, "chat") < 0 || call_fields(c, spec) < 0)
		return;
	if (!c->body || !json_object_size(c->body)) {
		call_problem(c, 422, "Nothing to change", NULL, "give at least one field");
		return;
	}
	/* Checked as a whole chat: the given fields and a stand-in id and title. */
	whole = json_deep_copy(c->body);
	json_object_set_new(whole, "id", json_integer(strtoll(c->params[0], NULL, 10)));
	if (!json_object_get(whole, "title"))
		json_object_set_new(whole, "title", json_string("-"));
	if (check_chat(c, whole) < 0) {
		json_decref(whole);
		return;
	}
	json_decref(whole);
	topics = chat_params(c, c->params[0], p);
	if (named(c, "chat") == 0)
		call_query(c, sql, 8, p, on_chat_row);
	free(topics);
}

void res_chats_delete(struct call *c)
{
	static const char sql[] =
		"WITH d AS (DELETE FROM chats WHERE id = $1::bigint RETURNING *),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $2, 'chat.delete', 'chat:' || d.id, to_jsonb(d), NULL, $3 FROM d)"
		" SELECT id, title, true AS deleted FROM d";
	const char *p[3] = { c->params[0], c->actor, req_addr(c->rq) };

	if (path_num(c, 0, "chat") == 0 && named(c, "chat") == 0)
		call_query(c, sql, 3, p, on_chat_row);
}

void res_chats_member_add(struct call *c)
{
	static const char sql[] =
		"WITH ins AS (INSERT INTO chat_bots (chat_id, bot_id) VALUES ($1::bigint, $2::bigint)"
		"  ON CONFLICT (chat_id, bot_id) DO UPDATE SET status = 'member'"
		"  WHERE chat_bots.status <> 'member' RETURNING chat_id, bot_id),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $3, 'chat.member.add', 'chat:' || chat_id, NULL, to_jsonb(ins), $4 FROM ins)"
		" SELECT $1::bigint AS chat_id, $2::bigint AS bot_id, 'member' AS status,"
		" (SELECT count(*) FROM ins) > 0 AS changed";
	const char *p[4] = { c->params[0], c->params[1], c->actor, req_addr(c->rq) };

	if (path_num(c, 0, "chat") == 0 && path_num(c, 1, "bot") == 0 && named(c, "chat") == 0)
		call_query(c, sql, 4, p, on_member_row);
}

void res_chats_member_remove(struct call *c)
{
	static const char sql[] =
		"WITH d AS (DELETE FROM chat_bots WHERE chat_id = $1::bigint AND bot_id = $2::bigint"
		"  RETURNING chat_id, bot_id),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $3, 'chat.member.remove', 'chat:' || chat_id, to_jsonb(d), NULL, $4 FROM d)"
		" SELECT chat_id, bot_id, true AS removed FROM d";
	const char *p[4] = { c->params[0], c->params[1], c->actor, req_addr(c->rq) };

	if (path_num(c, 0, "chat") == 0 && path_num(c, 1, "bot") == 0 && named(c, "membership") == 0)
		call_query(c, sql, 4, p, on_member_row);
}

/* --- a new bot: its token checked with Telegram's getMe first --- */

struct bot_add {
	char *sealed;  /* "\x..." bytea text of the token sealed with the token key */
	char hint[32]; /* the Telegram bot id */
	char username[72];
};

static void free_bot_add(struct bot_add *b)
{
	free(b->sealed);
	b->sealed = NULL;
}

static void on_bot_added(PGresult *res, const char *err, void *arg)
{
	struct call *c = arg;
	struct bot_add *b = c->data;

	free_bot_add(b);
	if (err) {
		if (!strncmp(err, "23505", 5))
			call_problem(c, 409, "Already exists", "name", "a bot of that name exists");
		else if (!strncmp(err, "23503", 5))
			call_problem(c, 422, "Invalid value", "chats",
				     "chats: a chat that does not exist");
		else
			call_db_error(c, err);
		return;
	}
	if (!PQntuples(res)) {
		call_problem(c, 409, "Already exists", "token",
			     "token: another bot has Telegram bot id %s", b->hint);
		return;
	}
	call_bots_changed(c, PQgetvalue(res, 0, 0)); /* its owner schedules it now */
	call_json(c, 201, call_row(res, 0));
}

static void on_get_me(const struct httpc_resp *r, void *arg)
{
	static const char sql[] =
		"WITH b AS (INSERT INTO bots (name, username, token_enc, token_hint, enabled,"
		"  persona_profile, emotion_profile, speed_profile, active_hours)"
		"  SELECT $1, $2, $3::bytea, $4, COALESCE($5::boolean, true), COALESCE($6::jsonb, '{}'),"
		"  COALESCE($7::jsonb, '{}'), COALESCE($8::jsonb, '{}'), COALESCE($9::jsonb, '[]')"
		"  WHERE NOT EXISTS (SELECT 1 FROM bots WHERE token_hint = $4)"
		"  RETURNING id, name, username, token_hint, enabled),"
		" m AS (INSERT INTO chat_bots (chat_id, bot_id) SELECT x::bigint, b.id FROM b,"
		"  jsonb_array_elements_text(COALESCE($10::jsonb, '[]')) x),"
		" a AS (INSERT INTO audit (actor, action, target, before, after, addr)"
		"  SELECT $11, 'bot.add', 'bot:' || b.id, NULL, to_jsonb(b), $12 FROM b)"
		" SELECT id, name, username, token_hint, enabled FROM b";
	static const char *const prof[] = { "persona_profile", "emotion_profile", "speed_profile",
					    "active_hours", "chats" };
	struct call *c = arg;
	struct bot_add *b = c->data;
	json_t *j = r->err_kind == HTTPC_OK ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
	json_t *res = json_object_get(j, "result"), *en;
	char *text[5] = { NULL };
	const char *p[12];

	if (r->err_kind != HTTPC_OK) {
		json_decref(j);
		free_bot_add(b);
		call_problem(c, 503, "Telegram unavailable", "token", "getMe: %s", r->err);
		return;
	}
	if (r->status != 200 || !json_is_true(json_object_get(j, "ok")) || !json_is_object(res)) {
		json_decref(j);
		free_bot_add(b);
		call_problem(c, 422, "Invalid value", "token",
			     "token: Telegram refused it (getMe answered %d)", r->status);
		return;
	}
	snprintf(b->username, sizeof b->username, "%s",
		 json_string_value(json_object_get(res, "username")) ?: "");
	json_decref(j);
	for (int i = 0; i < 5; i++)
		if (json_object_get(c->body, prof[i]))
			text[i] = json_dumps(json_object_get(c->body, prof[i]), JSON_COMPACT);
	en = json_object_get(c->body, "enabled");
	p[0] = json_string_value(json_object_get(c->body, "name"));
	p[1] = *b->username ? b->username : json_string_value(json_object_get(c->body, "username"));
	p[2] = b->sealed;
	p[3] = b->hint;
	p[4] = en ? (json_is_true(en) ? "true" : "false") : NULL;
	for (int i = 0; i < 5; i++)
		p[5 + i] = text[i];
	p[10] = c->actor;
	p[11] = req_addr(c->rq);
	call_query(c, sql, 12, p, on_bot_added);
	for (int i = 0; i < 5; i++)
		free(text[i]);
}

void res_bots_add(struct call *c)
{
	static const char *const spec[] = { "name:s!",           "token:s!",
					    "username:s",        "enabled:b",
					    "persona_profile:o", "emotion_profile:o",
					    "speed_profile:o",   "active_hours:a",
					    "chats:a",           NULL };
	const char *token;
	json_t *file;
	char err[512], url[600];
	unsigned char *sealed;
	size_t n;
	struct bot_add *b;
	struct httpc_req hr = { 0 };
	int rc;

	if (call_fields(c, spec) < 0)
		return;
	/* The cast file's rules for one bot, errors without the wrapper's "bots[0]." */
	file = json_pack("{s:[O]}", "bots", c->body);
	rc = file ? cast_check_file(file, err, sizeof err) : -1;
	json_decref(file);
	if (rc < 0) {
		refuse_shape(c, !strncmp(err, "bots[0].", 8) ? err + 8 : err);
		return;
	}
	if (!c->ctx->have_token_key) {
		call_problem(c, 503, "No token key", NULL,
			     "the API has no token key (token_key_file, PIYASA_TOKEN_KEY): it cannot store a token");
		return;
	}
	token = json_string_value(json_object_get(c->body, "token"));
	if (!(b = calloc(1, sizeof *b)) || tok_encrypt(c->ctx->token_key, token, &sealed, &n) < 0) {
		free(b);
		call_problem(c, 500, "Internal error", NULL, "cannot seal the token");
		return;
	}
	c->data = b;
	tok_hint(token, b->hint, sizeof b->hint);
	/* bytea's text input: "\x" and two hex digits a byte. */
	if ((b->sealed = malloc(2 * n + 3))) {
		b->sealed[0] = '\\';
		b->sealed[1] = 'x';
		sodium_bin2hex(b->sealed + 2, 2 * n + 1, sealed, n);
	}
	sodium_memzero(sealed, n);
	free(sealed);
	if (!b->sealed) {
		call_problem(c, 500, "Internal error", NULL, "out of memory");
		return;
	}
	/* The URL holds the token: httpc never logs or returns it. */
	snprintf(url, sizeof url, "%s/bot%s/getMe", c->ctx->cfg->telegram_api_url, token);
	hr.method = "GET";
	hr.url = url;
	hr.timeout_ms = 5000;
	hr.connect_timeout_ms = 2000;
	rc = httpc_request(c->ctx->http, &hr, on_get_me, c);
	sodium_memzero(url, sizeof url);
	if (rc < 0) {
		free_bot_add(b);
		call_problem(c, 500, "Internal error", NULL, "cannot ask Telegram");
	}
}
