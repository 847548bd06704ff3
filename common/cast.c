/* cast: see cast.h. Shapes are tables of fields (name, kind, required, detail),
 * so what BEHAVIOUR.md writes as `{tone, empathy 0..1, ...}` reads almost the same
 * here, and one walker produces every path-naming message. */
#include "common/cast.h"

#include "common/tok.h"
#include "common/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PATH_MAX_LEN 256

enum kind {
	K_STR,    /* any string */
	K_NESTR,  /* non-empty string */
	K_NUM,    /* any number */
	K_UNIT,   /* number in [0, 1] */
	K_NONNEG, /* number >= 0 */
	K_POS,    /* number > 0 */
	K_COUNT,  /* integer >= 0 */
	K_BOOL,
	K_STRS,    /* array of non-empty strings */
	K_HOURS,   /* active hours */
	K_ENUM,    /* string among aux (a NULL-terminated list) */
	K_TIME,    /* string (a timestamp PostgreSQL parses) or null */
	K_OBJ,     /* object of spec aux */
	K_EACH,    /* array, each element checked by the function aux */
	K_CHATID,  /* non-zero integer */
	K_BOTID,   /* positive integer */
	K_CHATIDS, /* array of distinct non-zero integers */
};

typedef int (*check_fn)(const json_t *, const char *, char *, size_t);

struct field {
	const char *name;
	enum kind kind;
	int required;
	const void *aux;
};

struct spec {
	const struct field *fields;
	size_t n;
	/* Cross-field rules (min <= max), run once the fields are known good. */
	int (*extra)(const json_t *, const char *, char *, size_t);
};

#define SPEC(f, x)                               \
	{                                        \
		f, sizeof(f) / sizeof((f)[0]), x \
	}

static int fail(char *err, size_t el, const char *path, const char *why)
{
	utf8_fmt(err, el, "%s: %s", *path ? path : "(top)", why);
	return -1;
}

/* Keys come from the file: a long one is cut, never inside a character. */
static void child_key(char *out, const char *path, const char *key)
{
	utf8_fmt(out, PATH_MAX_LEN, "%s%s%s", path, *path ? "." : "", key);
}

static void child_index(char *out, const char *path, size_t i)
{
	utf8_fmt(out, PATH_MAX_LEN, "%s[%zu]", path, i);
}

static int check_object(const json_t *v, const struct spec *s, const char *path, char *err, size_t el);

static int check_strings(const json_t *v, const char *path, char *err, size_t el)
{
	char p[PATH_MAX_LEN];
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return fail(err, el, path, "expected an array of strings");
	json_array_foreach(v, i, e) {
		child_index(p, path, i);
		if (!json_is_string(e))
			return fail(err, el, p, "expected a string");
		if (json_string_length(e) == 0)
			return fail(err, el, p, "empty string");
	}
	return 0;
}

static int check_enum(const json_t *v, const char *const *names, const char *path, char *err, size_t el)
{
	char why[256];
	size_t n = 0;

	if (json_is_string(v))
		for (size_t i = 0; names[i]; i++)
			if (strcmp(json_string_value(v), names[i]) == 0)
				return 0;
	n = (size_t)snprintf(why, sizeof why, "expected one of");
	for (size_t i = 0; names[i] && n < sizeof why; i++)
		n += (size_t)snprintf(why + n, sizeof why - n, "%s %s", i ? "," : "", names[i]);
	return fail(err, el, path, why);
}

static int check_each(const json_t *v, check_fn fn, const char *path, char *err, size_t el)
{
	char p[PATH_MAX_LEN];
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return fail(err, el, path, "expected an array");
	json_array_foreach(v, i, e) {
		child_index(p, path, i);
		if (fn(e, p, err, el) < 0)
			return -1;
	}
	return 0;
}

static int check_chat_ids(const json_t *v, const char *path, char *err, size_t el)
{
	char p[PATH_MAX_LEN];
	size_t i, j;
	json_t *e;

	if (!json_is_array(v))
		return fail(err, el, path, "expected an array of chat ids");
	json_array_foreach(v, i, e) {
		child_index(p, path, i);
		if (!json_is_integer(e) || json_integer_value(e) == 0)
			return fail(err, el, p, "expected a non-zero integer chat id");
		for (j = 0; j < i; j++)
			if (json_integer_value(json_array_get(v, j)) == json_integer_value(e))
				return fail(err, el, p, "duplicate chat id");
	}
	return 0;
}

static int check_number(const json_t *v, enum kind k, const char *path, char *err, size_t el)
{
	double d;

	if (!json_is_number(v))
		return fail(err, el, path,
			    k == K_UNIT ? "expected a number between 0 and 1" : "expected a number");
	d = json_number_value(v);
	if (k == K_UNIT && (d < 0 || d > 1))
		return fail(err, el, path, "expected a number between 0 and 1");
	if (k == K_NONNEG && d < 0)
		return fail(err, el, path, "expected a number >= 0");
	if (k == K_POS && d <= 0)
		return fail(err, el, path, "expected a number > 0");
	return 0;
}

/* One value against its field description. */
static int check_value(const json_t *v, const struct field *f, const char *path, char *err, size_t el)
{
	switch (f->kind) {
	case K_STR:
	case K_NESTR:
		if (!json_is_string(v))
			return fail(err, el, path, "expected a string");
		if (f->kind == K_NESTR && json_string_length(v) == 0)
			return fail(err, el, path, "empty string");
		return 0;
	case K_NUM:
	case K_UNIT:
	case K_NONNEG:
	case K_POS: return check_number(v, f->kind, path, err, el);
	case K_COUNT:
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return fail(err, el, path, "expected an integer >= 0");
		return 0;
	case K_BOOL: return json_is_boolean(v) ? 0 : fail(err, el, path, "expected true or false");
	case K_STRS: return check_strings(v, path, err, el);
	case K_HOURS: return cast_check_hours(v, path, err, el);
	case K_ENUM: return check_enum(v, f->aux, path, err, el);
	case K_TIME:
		if (!json_is_null(v) && !json_is_string(v))
			return fail(err, el, path, "expected a timestamp string or null");
		return 0;
	case K_OBJ: return check_object(v, f->aux, path, err, el);
	case K_EACH: return check_each(v, *(const check_fn *)f->aux, path, err, el);
	case K_CHATID:
		if (!json_is_integer(v) || json_integer_value(v) == 0)
			return fail(err, el, path, "expected a non-zero integer");
		return 0;
	case K_BOTID:
		if (!json_is_integer(v) || json_integer_value(v) <= 0)
			return fail(err, el, path, "expected a positive integer");
		return 0;
	case K_CHATIDS: return check_chat_ids(v, path, err, el);
	}
	return fail(err, el, path, "internal error: unknown field kind");
}

static const struct field *find_field(const struct spec *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->fields[i].name, name) == 0)
			return &s->fields[i];
	return NULL;
}

static int check_object(const json_t *v, const struct spec *s, const char *path, char *err, size_t el)
{
	char p[PATH_MAX_LEN];
	const char *key;
	json_t *val;

	if (!json_is_object(v))
		return fail(err, el, path, "expected an object");
	json_object_foreach((json_t *)v, key, val) {
		const struct field *f = find_field(s, key);

		child_key(p, path, key);
		if (!f)
			return fail(err, el, p, "unknown field");
		if (check_value(val, f, p, err, el) < 0)
			return -1;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->fields[i].required && !json_object_get(v, s->fields[i].name)) {
			child_key(p, path, s->fields[i].name);
			return fail(err, el, p, "required field missing");
		}
	return s->extra ? s->extra(v, path, err, el) : 0;
}

/* When both a and b are present, a <= b. */
static int check_pair(const json_t *o, const char *a, const char *b, const char *path, char *err,
		      size_t el)
{
	json_t *va = json_object_get(o, a), *vb = json_object_get(o, b);
	char p[PATH_MAX_LEN], why[128];

	if (!va || !vb || json_number_value(va) <= json_number_value(vb))
		return 0;
	child_key(p, path, a);
	snprintf(why, sizeof why, "larger than %s", b);
	return fail(err, el, p, why);
}

/* ---- the shapes ---- */

static const char *const lengths[] = { "short", "medium", "long", NULL };
static const char *const memory_types[] = { "personal_fact", "past_event", "relationship",
					    "preference",    "routine",    NULL };

static const struct field style_fields[] = {
	{ "emojis", K_BOOL, 0, NULL },
	{ "length", K_ENUM, 0, lengths },
	{ "disclaimer", K_STR, 0, NULL },
};
static const struct spec style_spec = SPEC(style_fields, NULL);

static const struct field persona_fields[] = {
	{ "tone", K_STR, 0, NULL },         { "risk_profile", K_STR, 0, NULL },
	{ "watchlist", K_STRS, 0, NULL },   { "never_do", K_STRS, 0, NULL },
	{ "style", K_OBJ, 0, &style_spec },
};
static const struct spec persona_spec = SPEC(persona_fields, NULL);

static const struct field emotion_fields[] = {
	{ "tone", K_STR, 0, NULL },
	{ "empathy", K_UNIT, 0, NULL },
	{ "energy", K_STR, 0, NULL },
	{ "signature_emoji", K_STR, 0, NULL },
	{ "signature_phrases", K_STRS, 0, NULL },
	{ "anecdotes", K_STRS, 0, NULL },
};
static const struct spec emotion_spec = SPEC(emotion_fields, NULL);

static int delay_extra(const json_t *o, const char *path, char *err, size_t el)
{
	if (check_pair(o, "jitter_min", "jitter_max", path, err, el) < 0)
		return -1;
	return check_pair(o, "min_seconds", "max_seconds", path, err, el);
}

static int typing_extra(const json_t *o, const char *path, char *err, size_t el)
{
	if (check_pair(o, "wpm_min", "wpm_max", path, err, el) < 0)
		return -1;
	return check_pair(o, "min_seconds", "max_seconds", path, err, el);
}

static const struct field delay_fields[] = {
	{ "base_delay_seconds", K_NONNEG, 0, NULL }, { "delay_multiplier", K_POS, 0, NULL },
	{ "jitter_min", K_NONNEG, 0, NULL },         { "jitter_max", K_NONNEG, 0, NULL },
	{ "min_seconds", K_NONNEG, 0, NULL },        { "max_seconds", K_NONNEG, 0, NULL },
};
static const struct spec delay_spec = SPEC(delay_fields, delay_extra);

static const struct field typing_fields[] = {
	{ "wpm_min", K_POS, 0, NULL },           { "wpm_max", K_POS, 0, NULL },
	{ "typing_multiplier", K_POS, 0, NULL }, { "min_seconds", K_NONNEG, 0, NULL },
	{ "max_seconds", K_NONNEG, 0, NULL },
};
static const struct spec typing_spec = SPEC(typing_fields, typing_extra);

static const struct field speed_fields[] = {
	{ "delay", K_OBJ, 0, &delay_spec },
	{ "typing", K_OBJ, 0, &typing_spec },
};
static const struct spec speed_spec = SPEC(speed_fields, NULL);

static const struct field stance_fields[] = {
	{ "topic", K_NESTR, 1, NULL },
	{ "stance_text", K_NESTR, 1, NULL },
	{ "confidence", K_UNIT, 0, NULL },
	{ "cooldown_until", K_TIME, 0, NULL },
};
static const struct spec stance_spec = SPEC(stance_fields, NULL);

static const struct field holding_fields[] = {
	{ "symbol", K_NESTR, 1, NULL },
	{ "avg_price", K_NONNEG, 0, NULL },
	{ "size", K_NUM, 0, NULL },
	{ "note", K_STR, 0, NULL },
};
static const struct spec holding_spec = SPEC(holding_fields, NULL);

static const struct field memory_fields[] = {
	{ "memory_type", K_ENUM, 1, memory_types },
	{ "content", K_NESTR, 1, NULL },
	{ "relevance_score", K_NONNEG, 0, NULL },
	{ "usage_count", K_COUNT, 0, NULL },
};
static const struct spec memory_spec = SPEC(memory_fields, NULL);

int cast_check_persona(const json_t *v, const char *path, char *err, size_t el)
{
	return check_object(v, &persona_spec, path, err, el);
}

int cast_check_emotion(const json_t *v, const char *path, char *err, size_t el)
{
	return check_object(v, &emotion_spec, path, err, el);
}

int cast_check_speed(const json_t *v, const char *path, char *err, size_t el)
{
	return check_object(v, &speed_spec, path, err, el);
}

int cast_check_stance(const json_t *v, const char *path, char *err, size_t el)
{
	return check_object(v, &stance_spec, path, err, el);
}

int cast_check_holding(const json_t *v, const char *path, char *err, size_t el)
{
	return check_object(v, &holding_spec, path, err, el);
}

int cast_check_memory(const json_t *v, const char *path, char *err, size_t el)
{
	return check_object(v, &memory_spec, path, err, el);
}

int cast_check_topics(const json_t *v, const char *path, char *err, size_t el)
{
	return check_strings(v, path, err, el);
}

/* ---- active hours ---- */

/* "HH:MM" at s: minutes since midnight, or -1. 24:00 only when end is set. */
static int parse_hhmm(const char *s, int end)
{
	int h, m;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' || s[2] != ':' || s[3] < '0' ||
	    s[3] > '9' || s[4] < '0' || s[4] > '9')
		return -1;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && (!end || m != 0)))
		return -1;
	return h * 60 + m;
}

int cast_parse_range(const char *s, int *from_min, int *to_min)
{
	int a, b;

	if (strlen(s) != 11 || s[5] != '-')
		return -1;
	if ((a = parse_hhmm(s, 0)) < 0 || (b = parse_hhmm(s + 6, 1)) < 0 || a == b)
		return -1;
	*from_min = a;
	*to_min = b;
	return 0;
}

int cast_check_hours(const json_t *v, const char *path, char *err, size_t el)
{
	char p[PATH_MAX_LEN];
	int a, b;
	size_t i;
	json_t *e;

	if (!json_is_array(v))
		return fail(err, el, path, "expected an array of \"HH:MM-HH:MM\" strings");
	json_array_foreach(v, i, e) {
		child_index(p, path, i);
		if (!json_is_string(e) || cast_parse_range(json_string_value(e), &a, &b) < 0)
			return fail(err, el, p, "expected \"HH:MM-HH:MM\" (a non-empty range)");
	}
	return 0;
}

/* ---- tokens ---- */

int cast_check_token(const char *t, const char *path, char *err, size_t el)
{
	size_t digits = strspn(t, "0123456789"), n = strlen(t);

	if (n == 0)
		return fail(err, el, path, "empty token");
	if (n >= TOK_MAX)
		return fail(err, el, path, "token too long");
	/* Never echo the token: it is a credential. */
	if (digits == 0 || digits > 20 || t[digits] != ':' || n == digits + 1 ||
	    strspn(t + digits + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") !=
		    n - digits - 1)
		return fail(err, el, path, "not a bot token of the form <bot id>:<secret>");
	return 0;
}

/* ---- the cast file ---- */

static const check_fn each_stance = cast_check_stance;
static const check_fn each_holding = cast_check_holding;
static const check_fn each_memory = cast_check_memory;

static const struct field chat_fields[] = {
	{ "id", K_CHATID, 1, NULL },       { "title", K_NESTR, 1, NULL },
	{ "enabled", K_BOOL, 0, NULL },    { "topics", K_STRS, 0, NULL },
	{ "time_zone", K_NESTR, 0, NULL }, { "language", K_NESTR, 0, NULL },
};
static const struct spec chat_spec = SPEC(chat_fields, NULL);

/* Within one bot: stance topics and holding symbols are keys. */
static int check_unique_member(const json_t *arr, const char *key, const char *path,
			       const char *what, char *err, size_t el)
{
	char p[PATH_MAX_LEN], why[160];
	size_t i, j;
	json_t *e;

	json_array_foreach(arr, i, e) {
		const char *s = json_string_value(json_object_get(e, key));

		for (j = 0; j < i; j++)
			if (strcmp(s, json_string_value(json_object_get(json_array_get(arr, j), key))) ==
			    0) {
				char v[101];

				utf8_cut(v, sizeof v, s);
				utf8_fmt(p, sizeof p, "%s[%zu].%s", path, i, key);
				snprintf(why, sizeof why, "duplicate %s '%s'", what, v);
				return fail(err, el, p, why);
			}
	}
	return 0;
}

static int bot_extra(const json_t *o, const char *path, char *err, size_t el)
{
	json_t *tok = json_object_get(o, "token"), *a;
	char p[PATH_MAX_LEN];

	if (tok) {
		child_key(p, path, "token");
		if (cast_check_token(json_string_value(tok), p, err, el) < 0)
			return -1;
	}
	if ((a = json_object_get(o, "stances"))) {
		child_key(p, path, "stances");
		if (check_unique_member(a, "topic", p, "topic", err, el) < 0)
			return -1;
	}
	if ((a = json_object_get(o, "holdings"))) {
		child_key(p, path, "holdings");
		if (check_unique_member(a, "symbol", p, "symbol", err, el) < 0)
			return -1;
	}
	return 0;
}

static const struct field bot_fields[] = {
	{ "name", K_NESTR, 1, NULL },
	{ "id", K_BOTID, 0, NULL },
	{ "token", K_NESTR, 0, NULL },
	{ "username", K_NESTR, 0, NULL },
	{ "enabled", K_BOOL, 0, NULL },
	{ "persona_profile", K_OBJ, 0, &persona_spec },
	{ "emotion_profile", K_OBJ, 0, &emotion_spec },
	{ "speed_profile", K_OBJ, 0, &speed_spec },
	{ "active_hours", K_HOURS, 0, NULL },
	{ "stances", K_EACH, 0, &each_stance },
	{ "holdings", K_EACH, 0, &each_holding },
	{ "memories", K_EACH, 0, &each_memory },
	{ "chats", K_CHATIDS, 0, NULL },
};
static const struct spec bot_spec = SPEC(bot_fields, bot_extra);

/* The string (or integer, as text) identity of arr[i] for duplicate checks. */
static void ident_of(const json_t *arr, size_t i, const char *key, int token_hint, char *out, size_t n)
{
	json_t *v = json_object_get(json_array_get(arr, i), key);

	*out = '\0';
	if (json_is_integer(v))
		snprintf(out, n, "%lld", (long long)json_integer_value(v));
	else if (json_is_string(v) && token_hint)
		tok_hint(json_string_value(v), out, n);
	else if (json_is_string(v))
		snprintf(out, n, "%s", json_string_value(v));
}

struct ident {
	char s[TOK_MAX];
	size_t i;
};

static int ident_cmp(const void *a, const void *b)
{
	const struct ident *x = a, *y = b;
	int c = strcmp(x->s, y->s);

	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* No two elements of arr share key (the token compares by its bot id part).
 * Sorted, not pairwise: a cast of 10,000 bots took seconds to check. The
 * report names the first element with an earlier twin, and that twin's first
 * occurrence, as a front-to-back scan would. */
static int check_unique(const json_t *arr, const char *arrname, const char *key, int token_hint,
			char *err, size_t el)
{
	char p[PATH_MAX_LEN], why[TOK_MAX + 64];
	size_t n = json_array_size(arr), dup = 0, first = 0;
	struct ident *v;

	if (n < 2)
		return 0;
	if (!(v = malloc(n * sizeof *v)))
		return fail(err, el, arrname, "out of memory");
	for (size_t i = 0; i < n; i++) {
		ident_of(arr, i, key, token_hint, v[i].s, sizeof v[i].s);
		v[i].i = i;
	}
	qsort(v, n, sizeof *v, ident_cmp);
	for (size_t k = 1; k < n; k++)
		if (*v[k].s && strcmp(v[k].s, v[k - 1].s) == 0 &&
		    (k < 2 || strcmp(v[k - 1].s, v[k - 2].s) != 0) && (!dup || v[k].i < dup)) {
			dup = v[k].i;
			first = v[k - 1].i;
		}
	if (dup) {
		char a[TOK_MAX];

		ident_of(arr, dup, key, token_hint, a, sizeof a);
		utf8_fmt(p, sizeof p, "%s[%zu].%s", arrname, dup, key);
		if (token_hint)
			snprintf(why, sizeof why, "Telegram bot %s is also %s[%zu]'s", a, arrname,
				 first);
		else
			snprintf(why, sizeof why, "duplicate of %s[%zu]", arrname, first);
	}
	free(v);
	return dup ? fail(err, el, p, why) : 0;
}

static int settings_check_all(const json_t *v, char *err, size_t el)
{
	char why[512];
	const char *key;
	json_t *val;

	if (!json_is_object(v))
		return fail(err, el, "settings", "expected an object");
	json_object_foreach((json_t *)v, key, val) {
		if (cast_check_setting(key, val, why, sizeof why) < 0) {
			/* why already starts with the key */
			utf8_fmt(err, el, "settings.%s", why);
			return -1;
		}
	}
	return 0;
}

static int check_chat(const json_t *v, const char *path, char *err, size_t el)
{
	return check_object(v, &chat_spec, path, err, el);
}

static int check_bot(const json_t *v, const char *path, char *err, size_t el)
{
	return check_object(v, &bot_spec, path, err, el);
}

int cast_check_file(const json_t *root, char *err, size_t el)
{
	json_t *chats, *bots, *settings;
	const char *key;
	json_t *val;

	if (!json_is_object(root))
		return fail(err, el, "", "expected an object with chats, bots and settings");
	json_object_foreach((json_t *)root, key, val)
		if (strcmp(key, "chats") && strcmp(key, "bots") && strcmp(key, "settings"))
			return fail(err, el, key, "unknown field (expected chats, bots, settings)");
	chats = json_object_get(root, "chats");
	bots = json_object_get(root, "bots");
	settings = json_object_get(root, "settings");
	if (chats && (check_each(chats, check_chat, "chats", err, el) < 0 ||
		      check_unique(chats, "chats", "id", 0, err, el) < 0))
		return -1;
	if (bots && (check_each(bots, check_bot, "bots", err, el) < 0 ||
		     check_unique(bots, "bots", "name", 0, err, el) < 0 ||
		     check_unique(bots, "bots", "id", 0, err, el) < 0 ||
		     check_unique(bots, "bots", "token", 1, err, el) < 0))
		return -1;
	return settings ? settings_check_all(settings, err, el) : 0;
}

/* ---- settings ---- */

static int minmax_extra(const json_t *o, const char *path, char *err, size_t el)
{
	return check_pair(o, "min", "max", path, err, el);
}

static const struct field count_range_fields[] = {
	{ "min", K_COUNT, 1, NULL },
	{ "max", K_COUNT, 1, NULL },
};
static const struct spec count_range_spec = SPEC(count_range_fields, minmax_extra);

static const struct field wpm_range_fields[] = {
	{ "min", K_POS, 1, NULL },
	{ "max", K_POS, 1, NULL },
};
static const struct spec wpm_range_spec = SPEC(wpm_range_fields, minmax_extra);

static const struct field length_profile_fields[] = {
	{ "short", K_UNIT, 0, NULL },
	{ "medium", K_UNIT, 0, NULL },
	{ "long", K_UNIT, 0, NULL },
};
static const struct spec length_profile_spec = SPEC(length_profile_fields, NULL);

static const char *const budget_actions[] = { "wait", "skip", NULL };

/* BEHAVIOUR.md "Settings and defaults". The humaniser probabilities and any
 * other *_probability / *_enabled key are checked by their suffix. */
static const struct field setting_fields[] = {
	{ "simulation_active", K_BOOL, 0, NULL },
	{ "scale_factor", K_POS, 0, NULL },
	{ "max_msgs_per_min", K_COUNT, 0, NULL },
	{ "bot_hourly_msg_limit", K_OBJ, 0, &count_range_spec },
	{ "prime_hours", K_HOURS, 0, NULL },
	{ "prime_hours_boost", K_BOOL, 0, NULL },
	{ "message_length_profile", K_OBJ, 0, &length_profile_spec },
	{ "typing_speed_wpm", K_OBJ, 0, &wpm_range_spec },
	{ "persona_refresh_interval", K_COUNT, 0, NULL },
	{ "persona_refresh_minutes", K_COUNT, 0, NULL },
	{ "news_feed_urls", K_STRS, 0, NULL },
	{ "dedup_window_hours", K_NONNEG, 0, NULL },
	{ "dedup_max_attempts", K_COUNT, 0, NULL },
	{ "semantic_dedup_threshold", K_UNIT, 0, NULL },
	{ "news_refresh_minutes", K_POS, 0, NULL },
	{ "memorize_interval", K_COUNT, 0, NULL },
	{ "messages_retention_days", K_COUNT, 0, NULL },
	{ "dead_jobs_retention_days", K_COUNT, 0, NULL },
	{ "retry_max_age_s", K_COUNT, 0, NULL },
	{ "retry_max_takeovers", K_COUNT, 0, NULL },
	{ "embedding_model", K_NESTR, 0, NULL },
	{ "typing_interval_seconds", K_POS, 0, NULL },
	{ "draft_max_age_seconds", K_NONNEG, 0, NULL },
	{ "draft_max_messages", K_COUNT, 0, NULL },
	{ "human_max_other_replies", K_COUNT, 0, NULL },
	{ "bot_daily_tokens", K_COUNT, 0, NULL },
	{ "chat_daily_tokens", K_COUNT, 0, NULL },
	{ "budget_exhausted_action", K_ENUM, 0, budget_actions },
};
static const struct spec setting_spec = SPEC(setting_fields, NULL);

static int has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcmp(s + n - m, suffix) == 0;
}

int cast_check_setting(const char *key, const json_t *v, char *err, size_t el)
{
	static const struct field prob = { "", K_UNIT, 0, NULL };
	static const struct field flag = { "", K_BOOL, 0, NULL };
	const struct field *f = find_field(&setting_spec, key);

	if (!*key)
		return fail(err, el, "(key)", "empty setting name");
	if (!f && has_suffix(key, "_probability"))
		f = &prob;
	else if (!f && has_suffix(key, "_enabled"))
		f = &flag;
	if (!f)
		return CAST_SETTING_UNKNOWN;
	return check_value(v, f, key, err, el) < 0 ? -1 : CAST_SETTING_OK;
}
