/* cmd_import: `piyasactl import FILE`: a whole cast (chats, bots with their
 * personas, stances, holdings, memories and memberships, settings) in one go.
 *
 * The file is checked whole against the shapes (common/cast) before anything is
 * written, then written in one transaction, so a bad file changes nothing and a
 * good one lands entirely. Bots are matched by name and chats by id, so importing
 * the same file twice leaves the database as the first import left it; a field the
 * file leaves out keeps its stored value. Within a bot that lists them, stances and
 * holdings become exactly the file's; memories are only added (the workers add
 * their own, which an import must not erase); memberships are only added. */
#include "common/cast.h"
#include "common/settings.h"
#include "common/tok.h"
#include "ctl/ctl.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

/* Two imports at once would race on "does this bot exist yet". */
#define IMPORT_LOCK_KEY "8100138864257073154"

struct stats {
	int chats, chats_new, bots, bots_new, bots_changed, members, stances, holdings;
	int memories, memories_new, settings, settings_changed;
};

struct imp {
	struct ctl *c;
	PGconn *db;
	char path[48]; /* "bots[3]": the prefix of every message about this element */
	struct stats st;
	int explicit_ids;
	int64_t *ids; /* the bots written, for the change notice after the commit */
	size_t nids;
	int64_t *chat_ids; /* the chats written, likewise */
	size_t nchat_ids;
};

/* "path: why" into err, where why may be err itself. */
static int fail_at(struct imp *m, char *err, size_t el, const char *field)
{
	char why[2048];

	snprintf(why, sizeof why, "%s", err);
	snprintf(err, el, "%s%s%s: %.1900s", m->path, field ? "." : "", field ? field : "", why);
	return -1;
}

/* A JSON member as compact text (NULL when absent). Caller frees. */
static char *member_text(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return v ? json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | CTL_JSON_REAL) : NULL;
}

static const char *bool_text(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return !v ? NULL : json_is_true(v) ? "true" : "false";
}

static int import_chats(struct imp *m, const json_t *chats, char *err, size_t el)
{
	size_t i;
	json_t *ch;

	/* Without memory for the ids: no notice, the workers see it within 30 s. */
	m->chat_ids = calloc(json_array_size(chats) + 1, sizeof *m->chat_ids);
	json_array_foreach(chats, i, ch) {
		char id[24], *topics = member_text(ch, "topics");
		int r;

		snprintf(m->path, sizeof m->path, "chats[%zu]", i);
		if (json_object_get(ch, "time_zone") &&
		    ctl_check_tz(m->db, json_string_value(json_object_get(ch, "time_zone")), err,
				 el) < 0) {
			free(topics);
			return fail_at(m, err, el, "time_zone");
		}
		snprintf(id, sizeof id, "%lld",
			 (long long)json_integer_value(json_object_get(ch, "id")));
		r = ctl_chat_write(m->db, 1, id, json_string_value(json_object_get(ch, "title")),
				   topics, json_string_value(json_object_get(ch, "time_zone")),
				   json_string_value(json_object_get(ch, "language")),
				   bool_text(ch, "enabled"), err, el);
		free(topics);
		if (r < 0)
			return fail_at(m, err, el, NULL);
		m->st.chats++;
		m->st.chats_new += r;
		if (m->chat_ids)
			m->chat_ids[m->nchat_ids++] = json_integer_value(json_object_get(ch, "id"));
	}
	return 0;
}

/* ---- one bot ---- */

struct bot_row {
	int exists;
	char id[24];
	char *sealed; /* the token to store, NULL to keep the stored one */
	char hint[32];
};

/* Is the stored token (hex of nonce || box) the same as token? A changed key
 * reads as "different", which re-seals the token under the current key. */
static int same_token(struct imp *m, const char *hex, const char *token)
{
	unsigned char bin[512];
	char old[TOK_MAX];
	size_t n;
	int same;

	if (sodium_hex2bin(bin, sizeof bin, hex, strlen(hex), NULL, &n, NULL) < 0 ||
	    tok_decrypt(m->c->key, bin, n, old, sizeof old) < 0)
		return 0;
	same = strcmp(old, token) == 0;
	sodium_memzero(old, sizeof old);
	return same;
}

/* Find the bot by name; settle its id and whether its token must be (re)sealed. */
static int bot_lookup(struct imp *m, const json_t *b, struct bot_row *r, char *err, size_t el)
{
	const char *p[1] = { json_string_value(json_object_get(b, "name")) };
	const char *token = json_string_value(json_object_get(b, "token"));
	json_t *want = json_object_get(b, "id");
	PGresult *res;

	res = ctl_q(m->db, "SELECT id, encode(token_enc, 'hex') FROM bots WHERE name = $1 FOR UPDATE",
		    1, p, err, el);
	if (!res)
		return fail_at(m, err, el, NULL);
	r->exists = PQntuples(res) > 0;
	if (r->exists)
		snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, 0, 0));
	else if (want)
		snprintf(r->id, sizeof r->id, "%lld", (long long)json_integer_value(want));
	if (r->exists && want && atoll(r->id) != json_integer_value(want)) {
		snprintf(err, el, "bot '%s' already exists with id %s", p[0], r->id);
		PQclear(res);
		return fail_at(m, err, el, "id");
	}
	if (token && r->exists && same_token(m, PQgetvalue(res, 0, 1), token))
		token = NULL;
	PQclear(res);
	if (!token && !r->exists) {
		snprintf(err, el, "required for a new bot");
		return fail_at(m, err, el, "token");
	}
	if (!token)
		return 0;
	tok_hint(token, r->hint, sizeof r->hint);
	if (ctl_token_clash(m->db, r->hint, (r->exists || want) ? atoll(r->id) : 0, err, el) != 0)
		return fail_at(m, err, el, "token");
	if (!(r->sealed = ctl_seal_token(m->c, token, err, el)))
		return fail_at(m, err, el, "token");
	return 0;
}

static int bot_insert(struct imp *m, const json_t *b, struct bot_row *r, char *const prof[4],
		      char *err, size_t el)
{
	static const char sql[] =
		"INSERT INTO bots (id, name, username, token_enc, token_hint, persona_profile,"
		" emotion_profile, speed_profile, active_hours, enabled)"
		" VALUES (COALESCE($1::bigint, nextval(pg_get_serial_sequence('bots', 'id'))),"
		" $2, $3, $4::bytea, $5, COALESCE($6::jsonb, '{}'), COALESCE($7::jsonb, '{}'),"
		" COALESCE($8::jsonb, '{}'), COALESCE($9::jsonb, '[]'), COALESCE($10::boolean, true))"
		" RETURNING id";
	const char *p[10] = { *r->id ? r->id : NULL,
			      json_string_value(json_object_get(b, "name")),
			      json_string_value(json_object_get(b, "username")),
			      r->sealed,
			      r->hint,
			      prof[0],
			      prof[1],
			      prof[2],
			      prof[3],
			      bool_text(b, "enabled") };
	PGresult *res = ctl_q(m->db, sql, 10, p, err, el);

	if (!res) {
		if (strcmp(ctl_db_constraint(), "bots_pkey") == 0)
			snprintf(err, el, "id %s is taken by another bot", r->id);
		return fail_at(m, err, el, strcmp(ctl_db_constraint(), "bots_pkey") ? NULL : "id");
	}
	m->explicit_ids |= *r->id != '\0';
	snprintf(r->id, sizeof r->id, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	m->st.bots_new++;
	return 0;
}

static int bot_update(struct imp *m, const json_t *b, struct bot_row *r, char *const prof[4],
		      char *err, size_t el)
{
	/* Only a real change touches the row (and its updated_at). */
	static const char sql[] =
		"UPDATE bots SET username = COALESCE($2, username),"
		" token_enc = COALESCE($3::bytea, token_enc), token_hint = COALESCE($4, token_hint),"
		" persona_profile = COALESCE($5::jsonb, persona_profile),"
		" emotion_profile = COALESCE($6::jsonb, emotion_profile),"
		" speed_profile = COALESCE($7::jsonb, speed_profile),"
		" active_hours = COALESCE($8::jsonb, active_hours),"
		" enabled = COALESCE($9::boolean, enabled), updated_at = now()"
		" WHERE id = $1 AND (username, token_enc, persona_profile, emotion_profile,"
		" speed_profile, active_hours, enabled) IS DISTINCT FROM"
		" (COALESCE($2, username), COALESCE($3::bytea, token_enc),"
		" COALESCE($5::jsonb, persona_profile), COALESCE($6::jsonb, emotion_profile),"
		" COALESCE($7::jsonb, speed_profile), COALESCE($8::jsonb, active_hours),"
		" COALESCE($9::boolean, enabled))";
	const char *p[9] = { r->id,
			     json_string_value(json_object_get(b, "username")),
			     r->sealed,
			     r->sealed ? r->hint : NULL,
			     prof[0],
			     prof[1],
			     prof[2],
			     prof[3],
			     bool_text(b, "enabled") };
	long n = ctl_x(m->db, sql, 9, p, err, el);

	if (n < 0)
		return fail_at(m, err, el, NULL);
	m->st.bots_changed += n > 0;
	return 0;
}

static int run_list(struct imp *m, const char *sql, const char *id, const json_t *b,
		    const char *key, long *rows, char *err, size_t el)
{
	char *text = member_text(b, key);
	const char *p[2] = { id, text };
	long n;

	if (!text)
		return 0;
	n = ctl_x(m->db, sql, 2, p, err, el);
	free(text);
	if (n < 0)
		return fail_at(m, err, el, key);
	if (rows)
		*rows = n;
	return 0;
}

static const char stances_drop[] = "DELETE FROM bot_stances WHERE bot_id = $1 AND topic NOT IN"
				   " (SELECT s->>'topic' FROM jsonb_array_elements($2::jsonb) s)";
static const char stances_put[] =
	"INSERT INTO bot_stances (bot_id, topic, stance_text, confidence, cooldown_until)"
	" SELECT $1, s->>'topic', s->>'stance_text', COALESCE((s->>'confidence')::real, 0.5),"
	" (s->>'cooldown_until')::timestamptz FROM jsonb_array_elements($2::jsonb) s"
	" ON CONFLICT (bot_id, topic) DO UPDATE SET stance_text = EXCLUDED.stance_text,"
	" confidence = EXCLUDED.confidence,"
	" cooldown_until = COALESCE(EXCLUDED.cooldown_until, bot_stances.cooldown_until)"
	" WHERE (bot_stances.stance_text, bot_stances.confidence, bot_stances.cooldown_until)"
	" IS DISTINCT FROM (EXCLUDED.stance_text, EXCLUDED.confidence,"
	" COALESCE(EXCLUDED.cooldown_until, bot_stances.cooldown_until))";
static const char holdings_drop[] = "DELETE FROM bot_holdings WHERE bot_id = $1 AND symbol NOT IN"
				    " (SELECT h->>'symbol' FROM jsonb_array_elements($2::jsonb) h)";
static const char holdings_put[] =
	"INSERT INTO bot_holdings (bot_id, symbol, avg_price, size, note)"
	" SELECT $1, h->>'symbol', (h->>'avg_price')::numeric, (h->>'size')::numeric, h->>'note'"
	" FROM jsonb_array_elements($2::jsonb) h"
	" ON CONFLICT (bot_id, symbol) DO UPDATE SET avg_price = EXCLUDED.avg_price,"
	" size = EXCLUDED.size, note = EXCLUDED.note"
	" WHERE (bot_holdings.avg_price, bot_holdings.size, bot_holdings.note)"
	" IS DISTINCT FROM (EXCLUDED.avg_price, EXCLUDED.size, EXCLUDED.note)";
static const char memories_add[] =
	"INSERT INTO bot_memories (bot_id, memory_type, content, relevance_score, usage_count)"
	" SELECT $1, x->>'memory_type', x->>'content',"
	" COALESCE((x->>'relevance_score')::real, 1.0), COALESCE((x->>'usage_count')::int, 0)"
	" FROM jsonb_array_elements($2::jsonb) x WHERE NOT EXISTS (SELECT 1 FROM bot_memories o"
	" WHERE o.bot_id = $1 AND o.memory_type = x->>'memory_type' AND o.content = x->>'content')";
static const char chats_missing[] =
	"SELECT c FROM jsonb_array_elements_text($1::jsonb) c"
	" WHERE NOT EXISTS (SELECT 1 FROM chats WHERE id = c::bigint) LIMIT 1";
static const char chats_join[] =
	"INSERT INTO chat_bots (chat_id, bot_id) SELECT c::bigint, $1"
	" FROM jsonb_array_elements_text($2::jsonb) c ON CONFLICT DO NOTHING";

/* Memberships: every chat named must exist (in the file, written already, or
 * in the database). */
static int bot_chats(struct imp *m, const json_t *b, const char *id, char *err, size_t el)
{
	char *text = member_text(b, "chats");
	const char *p[2] = { id, text };
	PGresult *res;
	int missing;

	if (!text)
		return 0;
	if (!(res = ctl_q(m->db, chats_missing, 1, p + 1, err, el))) {
		free(text);
		return fail_at(m, err, el, "chats");
	}
	if ((missing = PQntuples(res) > 0))
		snprintf(err, el, "chat %s is neither in the file nor in the database",
			 PQgetvalue(res, 0, 0));
	PQclear(res);
	if (missing || ctl_x(m->db, chats_join, 2, p, err, el) < 0) {
		free(text);
		return fail_at(m, err, el, "chats");
	}
	free(text);
	m->st.members += (int)json_array_size(json_object_get(b, "chats"));
	return 0;
}

/* The bot's updated_at moves when its stances, holdings or memories changed:
 * they are in its prompt, and a draft kept with a job is dropped when its
 * bot's updated_at has moved on (PERSONAS.md "A draft is paid for once"). */
static const char bot_touch[] = "UPDATE bots SET updated_at = now() WHERE id = $1";

static int bot_children(struct imp *m, const json_t *b, const char *id, char *err, size_t el)
{
	long added = 0, n[4] = { 0 };
	const char *p[1] = { id };

	if (run_list(m, stances_drop, id, b, "stances", &n[0], err, el) < 0 ||
	    run_list(m, stances_put, id, b, "stances", &n[1], err, el) < 0 ||
	    run_list(m, holdings_drop, id, b, "holdings", &n[2], err, el) < 0 ||
	    run_list(m, holdings_put, id, b, "holdings", &n[3], err, el) < 0 ||
	    run_list(m, memories_add, id, b, "memories", &added, err, el) < 0)
		return -1;
	if (n[0] + n[1] + n[2] + n[3] + added > 0 && ctl_x(m->db, bot_touch, 1, p, err, el) < 0)
		return fail_at(m, err, el, NULL);
	m->st.stances += (int)json_array_size(json_object_get(b, "stances"));
	m->st.holdings += (int)json_array_size(json_object_get(b, "holdings"));
	m->st.memories += (int)json_array_size(json_object_get(b, "memories"));
	m->st.memories_new += (int)added;
	return bot_chats(m, b, id, err, el);
}

static int import_bot(struct imp *m, const json_t *b, char *err, size_t el)
{
	static const char *const keys[4] = { "persona_profile", "emotion_profile", "speed_profile",
					     "active_hours" };
	struct bot_row r;
	char *prof[4];
	int rc;

	memset(&r, 0, sizeof r);
	for (int i = 0; i < 4; i++)
		prof[i] = member_text(b, keys[i]);
	rc = bot_lookup(m, b, &r, err, el);
	if (rc == 0)
		rc = r.exists ? bot_update(m, b, &r, prof, err, el)
			      : bot_insert(m, b, &r, prof, err, el);
	if (rc == 0)
		rc = bot_children(m, b, r.id, err, el);
	if (rc == 0 && m->ids)
		m->ids[m->nids++] = strtoll(r.id, NULL, 10);
	for (int i = 0; i < 4; i++)
		free(prof[i]);
	free(r.sealed);
	m->st.bots += rc == 0;
	return rc;
}

static int import_bots(struct imp *m, const json_t *bots, char *err, size_t el)
{
	size_t i;
	json_t *b;

	/* Without memory for the ids the import goes on: no notice, the workers
	 * see it within 10 minutes. */
	m->ids = calloc(json_array_size(bots) + 1, sizeof *m->ids);
	json_array_foreach(bots, i, b) {
		snprintf(m->path, sizeof m->path, "bots[%zu]", i);
		if (import_bot(m, b, err, el) < 0)
			return -1;
	}
	if (m->explicit_ids && ctl_bump_bot_ids(m->db, err, el) < 0)
		return -1;
	return 0;
}

static int import_settings(struct imp *m, const json_t *settings, char *err, size_t el)
{
	const char *key;
	json_t *v;

	json_object_foreach((json_t *)settings, key, v) {
		char *text, why[256];
		int r;

		snprintf(m->path, sizeof m->path, "settings");
		/* cast_check_file said the shapes are right; the ranges are the
		 * settings table's (the whole import rolls back). */
		if ((r = settings_check(key, v, why, sizeof why)) < 0) {
			snprintf(err, el, "%s", why);
			return fail_at(m, err, el, NULL);
		}
		if (r == CAST_SETTING_UNKNOWN)
			ctl_note("settings.%s: not a setting this piyasactl knows; stored as given",
				 key);
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | CTL_JSON_REAL);
		r = text ? ctl_setting_write(m->db, key, text, err, el) : -1;
		free(text);
		if (r < 0)
			return fail_at(m, err, el, key);
		m->st.settings++;
		m->st.settings_changed += r;
	}
	return 0;
}

/* Everything in one transaction; on failure nothing of the file remains. */
static int import_write(struct imp *m, const json_t *root, char *err, size_t el)
{
	const char *lock[1] = { IMPORT_LOCK_KEY };
	json_t *v;

	m->path[0] = '\0';
	if (ctl_script(m->db, "BEGIN", err, el) < 0)
		return -1;
	if (ctl_x(m->db, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock, err, el) < 0 ||
	    ((v = json_object_get(root, "chats")) && import_chats(m, v, err, el) < 0) ||
	    ((v = json_object_get(root, "bots")) && import_bots(m, v, err, el) < 0) ||
	    ((v = json_object_get(root, "settings")) && import_settings(m, v, err, el) < 0) ||
	    ctl_script(m->db, "COMMIT", err, el) < 0) {
		ctl_rollback(m->db);
		return -1;
	}
	return 0;
}

static const char *plural(int n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void print_summary(const struct stats *s, int checked_only)
{
	printf("%s%d %s, %d %s, %d %s", checked_only ? "valid: " : "", s->bots,
	       plural(s->bots, "bot", "bots"), s->chats, plural(s->chats, "chat", "chats"),
	       s->members, plural(s->members, "membership", "memberships"));
	if (s->settings)
		printf(", %d %s", s->settings, plural(s->settings, "setting", "settings"));
	if (!checked_only)
		printf("; new: %d %s, %d %s, %d %s; changed: %d %s, %d %s", s->bots_new,
		       plural(s->bots_new, "bot", "bots"), s->chats_new,
		       plural(s->chats_new, "chat", "chats"), s->memories_new,
		       plural(s->memories_new, "memory", "memories"), s->bots_changed,
		       plural(s->bots_changed, "bot", "bots"), s->settings_changed,
		       plural(s->settings_changed, "setting", "settings"));
	putchar('\n');
}

/* What a valid file holds, for --check. */
static void count_file(const json_t *root, struct stats *s)
{
	json_t *bots = json_object_get(root, "bots"), *b;
	size_t i;

	memset(s, 0, sizeof *s);
	s->chats = (int)json_array_size(json_object_get(root, "chats"));
	s->bots = (int)json_array_size(bots);
	s->settings = (int)json_object_size(json_object_get(root, "settings"));
	json_array_foreach(bots, i, b)
		s->members += (int)json_array_size(json_object_get(b, "chats"));
}

/* After the commit: tell the workers which settings moved. */
static void notify_settings(struct ctl *c, const json_t *root)
{
	const char *key;
	long long n;
	char err[512];
	json_t *v;

	json_object_foreach(json_object_get(root, "settings"), key, v) {
		if (ctl_publish_setting(c, key, &n, err, sizeof err) < 0) {
			ctl_note("settings stored, but the change notice failed (%s); workers "
				 "read them on SIGHUP",
				 err);
			return;
		}
	}
}

/* The key is needed (and loaded before the transaction) only for tokens. */
static int has_tokens(const json_t *root)
{
	json_t *b;
	size_t i;

	json_array_foreach(json_object_get(root, "bots"), i, b)
		if (json_object_get(b, "token"))
			return 1;
	return 0;
}

static json_t *load_file(const char *path, char *err, size_t el)
{
	json_error_t je;
	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);

	if (!root && je.line > 0)
		snprintf(err, el, "%s:%d:%d: %s", path, je.line, je.column, je.text);
	else if (!root)
		snprintf(err, el, "%s", je.text);
	return root;
}

int cmd_import(struct ctl *c, int argc, char **argv)
{
	int check, np, rc;
	const struct ctl_opt opts[] = { { "check", NULL, &check }, { NULL, NULL, NULL } };
	char err[2048], *pos[1];
	struct imp m;
	json_t *root;

	if ((rc = ctl_opts("import", argc - 1, argv + 1, opts, pos, 1, &np)) != 0)
		return rc;
	if (np != 1)
		return ctl_usage("import", "import needs a FILE");
	if (!(root = load_file(pos[0], err, sizeof err)))
		return ctl_fail("%s", err);
	if (cast_check_file(root, err, sizeof err) < 0) {
		json_decref(root);
		return ctl_fail("%s: %s", pos[0], err);
	}
	memset(&m, 0, sizeof m);
	m.c = c;
	if (check) {
		count_file(root, &m.st);
		print_summary(&m.st, 1);
	} else if ((has_tokens(root) && ctl_token_key(c, err, sizeof err) < 0) ||
		   !(m.db = ctl_db(c, err, sizeof err)) ||
		   import_write(&m, root, err, sizeof err) < 0) {
		rc = ctl_fail("%s: %s", pos[0], err);
	} else {
		print_summary(&m.st, 0);
		if (m.st.settings_changed)
			notify_settings(c, root);
		ctl_notify_chats(c, m.chat_ids, m.nchat_ids);
		ctl_notify_bots(c, m.ids, m.nids);
	}
	free(m.ids);
	free(m.chat_ids);
	json_decref(root);
	return rc;
}
