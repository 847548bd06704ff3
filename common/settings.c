/* settings: see settings.h. Each row names where its value lives (an offset into
 * struct settings), how it is stored and the range of its numbers;
 * settings_check (cast_check_setting's shapes, then settings_check_range) has
 * already said the value is right when a row's store function runs: a number
 * outside its range would overflow a conversion (an hourly limit of
 * 2768830768 stored as an int, a window of 3e15 hours in milliseconds). */
#include "common/settings.h"

#include "common/cast.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum st_kind {
	ST_BOOL,    /* int */
	ST_NUM,     /* double */
	ST_INT,     /* int */
	ST_IRANGE,  /* {min,max} into two ints */
	ST_DRANGE,  /* {min,max} into two doubles */
	ST_HOURS,   /* ["HH:MM-HH:MM"...] into nprime/prime_from/prime_to */
	ST_LENGTHS, /* {short, medium, long} */
	ST_FEEDS,   /* [url...] */
	ST_STR,     /* char[128] */
};

struct st_row {
	const char *key;
	const char *dflt;
	enum st_kind kind;
	size_t off, off2;
	double lo, hi; /* each number of the value in [lo, hi]; lo == hi: not a number */
	const char *help;
};

#define F(field) offsetof(struct settings, field)

static const struct st_row rows[] = {
	{ "simulation_active", "false", ST_BOOL, F(simulation_active), 0, 0, 0,
	  "master switch: scheduled chatter runs only when true (replies to humans always run)" },
	{ "scale_factor", "1.0", ST_NUM, F(scale_factor), 0, 0.1, 1000,
	  "divides every delay and the hourly window (floor 0.1); 60 runs an hour in a minute" },
	{ "max_msgs_per_min", "6", ST_INT, F(max_msgs_per_min), 0, 0, 600,
	  "per chat: messages of any author in the last 60 s, counted across workers; 0: no cap" },
	{ "bot_hourly_msg_limit", "{\"min\": 6, \"max\": 12}", ST_IRANGE, F(hourly_min), F(hourly_max),
	  0, 1000000, "per bot and hour: below min the bot is favoured, at max it is silent" },
	{ "prime_hours", "[\"09:30-12:00\", \"14:00-18:00\"]", ST_HOURS, 0, 0, 0, 0,
	  "busy hours in the chat's time zone: mean delay 18 s instead of 30 s" },
	{ "prime_hours_boost", "true", ST_BOOL, F(prime_hours_boost), 0, 0, 0,
	  "whether prime hours speed the chat up" },
	{ "reply_probability", "0.65", ST_NUM, F(reply_probability), 0, 0, 1,
	  "chance of replying rather than opening a topic" },
	{ "reply_to_bots_probability", "0.5", ST_NUM, F(reply_to_bots_probability), 0, 0, 1,
	  "the same when the newest message is a bot's" },
	{ "mention_probability", "0.35", ST_NUM, F(mention_probability), 0, 0, 1,
	  "chance of @mentioning the author replied to" },
	{ "short_reaction_probability", "0.12", ST_NUM, F(short_reaction_probability), 0, 0, 1,
	  "chance that a reply is a single emoji" },
	{ "message_length_profile", "{\"short\": 0.55, \"medium\": 0.35, \"long\": 0.10}",
	  ST_LENGTHS, 0, 0, 0, 1, "weights of 1-2, 2-3 and 3-4 sentence messages" },
	{ "typing_enabled", "true", ST_BOOL, F(typing_enabled), 0, 0, 0,
	  "send the typing indicator before a message" },
	{ "typing_speed_wpm", "{\"min\": 2.5, \"max\": 4.5}", ST_DRANGE, F(wpm_min), F(wpm_max),
	  0.1, 1000, "typing speed: typing lasts clamp(chars / (wpm x 5 / 60), 2, 8) s" },
	{ "typing_interval_seconds", "2.5", ST_NUM, F(typing_interval_s), 0, 0.5, 60,
	  "sendChatAction is repeated this often while a bot types" },
	{ "persona_refresh_interval", "8", ST_INT, F(persona_refresh_interval), 0, 0, 1000,
	  "re-state the persona in the prompt after this many messages of the bot" },
	{ "persona_refresh_minutes", "30", ST_INT, F(persona_refresh_minutes), 0, 0, 10080,
	  "... or after this many minutes" },
	{ "news_feed_urls", "[]", ST_FEEDS, 0, 0, 0, 0, "RSS or Atom feeds for headlines (up to 8)" },
	{ "news_trigger_probability", "0.5", ST_NUM, F(news_trigger_probability), 0, 0, 1,
	  "chance that an opening message carries a headline" },
	{ "news_refresh_minutes", "15", ST_NUM, F(news_refresh_minutes), 0, 1, 10080,
	  "how often the feeds are fetched" },
	{ "dedup_enabled", "true", ST_BOOL, F(dedup_enabled), 0, 0, 0,
	  "refuse a message equal (normalised) to one of the bot's last 100" },
	{ "dedup_window_hours", "12", ST_NUM, F(dedup_window_hours), 0, 0, 720,
	  "how far back the dedup looks" },
	{ "dedup_max_attempts", "2", ST_INT, F(dedup_max_attempts), 0, 0, 5,
	  "paraphrases tried for a duplicate before the message is skipped" },
	{ "semantic_dedup_enabled", "true", ST_BOOL, F(semantic_dedup_enabled), 0, 0, 0,
	  "also refuse near-duplicates by embedding similarity" },
	{ "semantic_dedup_threshold", "0.85", ST_NUM, F(semantic_dedup_threshold), 0, 0, 1,
	  "cosine similarity at or above which a message is a near-duplicate" },
	{ "embedding_model", "\"text-embedding-3-small\"", ST_STR, F(embedding_model), 0, 0, 0,
	  "model asked for /v1/embeddings (of the first provider in the config)" },
	{ "consistency_guard_enabled", "true", ST_BOOL, F(consistency_guard_enabled), 0, 0, 0,
	  "a second, cheap LLM call checks a message against the bot's stances" },
	{ "opening_phrase_probability", "0.40", ST_NUM, F(hum.opening), 0, 0, 1,
	  "humaniser: an opening phrase (\"Valla\", \"Bence\")" },
	{ "hesitation_probability", "0.55", ST_NUM, F(hum.hesitation), 0, 0, 1,
	  "humaniser: a hesitation marker (\"galiba\", \"sanki\")" },
	{ "contraction_probability", "0.40", ST_NUM, F(hum.contraction), 0, 0, 1,
	  "humaniser: colloquial contractions (\"bi şey\", \"di mi\")" },
	{ "filler_probability", "0.35", ST_NUM, F(hum.filler), 0, 0, 1,
	  "humaniser: fillers (\"yani\", \"işte\")" },
	{ "typo_probability", "0.30", ST_NUM, F(hum.typo), 0, 0, 1,
	  "humaniser: a typo followed by its correction" },
	{ "human_opening_phrase_probability", "0.35", ST_NUM, F(hum_human.opening), 0, 0, 1,
	  "the same, in replies to humans" },
	{ "human_hesitation_probability", "0.25", ST_NUM, F(hum_human.hesitation), 0, 0, 1,
	  "the same, in replies to humans" },
	{ "human_contraction_probability", "0.20", ST_NUM, F(hum_human.contraction), 0, 0, 1,
	  "the same, in replies to humans" },
	{ "human_filler_probability", "0.25", ST_NUM, F(hum_human.filler), 0, 0, 1,
	  "the same, in replies to humans" },
	{ "human_typo_probability", "0.12", ST_NUM, F(hum_human.typo), 0, 0, 1,
	  "the same, in replies to humans" },
	{ "voice_profile_enabled", "true", ST_BOOL, F(voice_profile_enabled), 0, 0, 0,
	  "apply the persona's voice (slang, punctuation, emoji) after the humanisers" },
	{ "human_reply_probability", "0.6", ST_NUM, F(human_reply_probability), 0, 0, 1,
	  "chance that a human message mentioning no bot gets an answer from a bot of the chat" },
	{ "messages_retention_days", "0", ST_INT, F(messages_retention_days), 0, 0, 36500,
	  "piyasactl prune deletes messages older than this many days (0: keep them all)" },
	{ "dead_jobs_retention_days", "0", ST_INT, F(dead_jobs_retention_days), 0, 0, 36500,
	  "piyasactl prune deletes dead letters older than this many days (0: keep them all)" },
	{ "memorize_interval", "20", ST_INT, F(memorize_interval), 0, 0, 10000,
	  "a memorize job after this many messages of a bot (0: never)" },
	{ "retry_max_age_s", "600", ST_INT, F(retry_max_age_s), 0, 0, 86400,
	  "a job whose first failed try is this old gives up at its next lease, tries left or not "
	  "(0: only max_attempts bounds it)" },
	{ "retry_max_takeovers", "20", ST_INT, F(retry_max_takeovers), 0, 1, 1000,
	  "a job taken back this many times from workers that stopped before it ended (a job "
	  "that kills its worker) is dead-lettered; its last lease before that runs as its "
	  "worker's only suspect, so the jobs beside it are spared" },
	{ "draft_max_age_seconds", "300", ST_NUM, F(draft_max_age_s), 0, 0, 86400,
	  "a checked draft kept with its job is dropped (not redrafted) when older than this "
	  "at a later attempt; 0: no age limit" },
	{ "draft_max_messages", "6", ST_INT, F(draft_max_messages), 0, 0, 10000,
	  "... or when more than this many messages came into the chat after it" },
	{ "human_max_other_replies", "1", ST_INT, F(human_max_other_replies), 0, 0, 20,
	  "bots that may answer a human message besides the one it addressed (chatter joining "
	  "in, each with human_reply_probability)" },
	{ "bot_daily_tokens", "0", ST_INT, F(bot_daily_tokens), 0, 0, 1000000000,
	  "LLM tokens a bot may use a UTC day, counted across the fleet (0: no limit)" },
	{ "chat_daily_tokens", "0", ST_INT, F(chat_daily_tokens), 0, 0, 1000000000,
	  "LLM tokens the messages of a chat may use a UTC day, across the fleet (0: no limit)" },
	{ "budget_exhausted_action", "\"wait\"", ST_STR, F(budget_action), 0, 0, 0,
	  "when a daily token budget (a provider's, a bot's, a chat's) is spent: \"wait\" "
	  "(jobs wait for the next UTC day) or \"skip\" (chatter and replies are skipped)" },
};

#define NROWS (sizeof rows / sizeof rows[0])

static const struct st_row *find(const char *key)
{
	for (size_t i = 0; i < NROWS; i++)
		if (strcmp(rows[i].key, key) == 0)
			return &rows[i];
	return NULL;
}

static void store(struct settings *s, const struct st_row *r, const json_t *v)
{
	char *base = (char *)s;
	size_t i;
	json_t *e;

	switch (r->kind) {
	case ST_BOOL: *(int *)(base + r->off) = json_is_true(v); break;
	case ST_NUM: *(double *)(base + r->off) = json_number_value(v); break;
	case ST_INT: *(int *)(base + r->off) = (int)json_integer_value(v); break;
	case ST_IRANGE:
		*(int *)(base + r->off) = (int)json_integer_value(json_object_get(v, "min"));
		*(int *)(base + r->off2) = (int)json_integer_value(json_object_get(v, "max"));
		break;
	case ST_DRANGE:
		*(double *)(base + r->off) = json_number_value(json_object_get(v, "min"));
		*(double *)(base + r->off2) = json_number_value(json_object_get(v, "max"));
		break;
	case ST_HOURS:
		s->nprime = 0;
		json_array_foreach(v, i, e) {
			if (s->nprime < SETTINGS_MAX_RANGES &&
			    cast_parse_range(json_string_value(e), &s->prime_from[s->nprime],
					     &s->prime_to[s->nprime]) == 0)
				s->nprime++;
		}
		break;
	case ST_LENGTHS:
		/* A missing weight is 0: {"short": 1} means only short messages. */
		s->len_short = json_number_value(json_object_get(v, "short"));
		s->len_medium = json_number_value(json_object_get(v, "medium"));
		s->len_long = json_number_value(json_object_get(v, "long"));
		break;
	case ST_FEEDS:
		s->nfeeds = 0;
		json_array_foreach(v, i, e) {
			if (s->nfeeds < SETTINGS_MAX_FEEDS)
				snprintf(s->feeds[s->nfeeds++], SETTINGS_URL_MAX, "%s",
					 json_string_value(e));
		}
		break;
	case ST_STR: snprintf(base + r->off, 128, "%s", json_string_value(v)); break;
	}
}

/* What cast does not say: limits that only make sense for the worker. */
static int extra_check(const struct st_row *r, const json_t *v, char *err, size_t el)
{
	if (r->kind == ST_FEEDS) {
		size_t i;
		json_t *e;

		if (json_array_size(v) > SETTINGS_MAX_FEEDS) {
			snprintf(err, el, "%s: at most %d feeds", r->key, SETTINGS_MAX_FEEDS);
			return -1;
		}
		json_array_foreach(v, i, e) {
			const char *u = json_string_value(e);
			if (strncmp(u, "http://", 7) && strncmp(u, "https://", 8)) {
				snprintf(err, el, "%s[%zu]: expected an http:// or https:// URL",
					 r->key, i);
				return -1;
			}
			if (strlen(u) >= SETTINGS_URL_MAX) {
				snprintf(err, el, "%s[%zu]: URL too long", r->key, i);
				return -1;
			}
		}
	}
	if (r->kind == ST_LENGTHS) {
		double sum = json_number_value(json_object_get(v, "short")) +
			     json_number_value(json_object_get(v, "medium")) +
			     json_number_value(json_object_get(v, "long"));
		if (sum <= 0) {
			snprintf(err, el, "%s: the weights add up to 0", r->key);
			return -1;
		}
	}
	if (r->kind == ST_STR && json_string_length(v) >= 128) {
		snprintf(err, el, "%s: longer than 127 bytes", r->key);
		return -1;
	}
	return 0;
}

static int ranged(const struct st_row *r)
{
	return r->lo < r->hi;
}

static int number_in_range(const struct st_row *r, const json_t *n, const char *member, char *err,
			   size_t el)
{
	double d = json_number_value(n);

	if (!json_is_number(n) || (d >= r->lo && d <= r->hi))
		return 0;
	snprintf(err, el, "%s%s%s: %.15g is out of range [%.15g, %.15g]", r->key,
		 *member ? "." : "", member, d, r->lo, r->hi);
	return -1;
}

int settings_check_range(const char *key, const json_t *v, char *err, size_t el)
{
	const struct st_row *r = find(key);
	const char *member;
	json_t *n;

	if (!r || !ranged(r))
		return 0;
	if (!json_is_object(v))
		return number_in_range(r, v, "", err, el);
	json_object_foreach((json_t *)v, member, n)
		if (number_in_range(r, n, member, err, el) < 0)
			return -1;
	return 0;
}

int settings_range(const char *key, double *lo, double *hi)
{
	const struct st_row *r = find(key);

	if (!r || !ranged(r))
		return 0;
	*lo = r->lo;
	*hi = r->hi;
	return 1;
}

/* The worker's own limits (extra_check) too: a value piyasactl stores is one
 * the worker takes, never one it silently replaces by the default. */
int settings_check(const char *key, const json_t *v, char *err, size_t el)
{
	const struct st_row *r = find(key);
	int rc = cast_check_setting(key, v, err, el);

	if (rc < 0 || settings_check_range(key, v, err, el) < 0)
		return -1;
	if (rc == CAST_SETTING_OK && r && extra_check(r, v, err, el) < 0)
		return -1;
	return rc;
}

int settings_apply(struct settings *s, const char *key, const json_t *v, char *err, size_t el)
{
	const struct st_row *r = find(key);
	int rc;

	if (!r)
		return 1;
	if ((rc = settings_check(key, v, err, el)) < 0)
		return -1;
	/* cast does not know the key (a row added here only): its kind decides. */
	if (rc == CAST_SETTING_UNKNOWN) {
		snprintf(err, el, "%s: no shape check for this key", key);
		return -1;
	}
	store(s, r, v);
	return 0;
}

void settings_defaults(struct settings *s)
{
	char err[256];

	memset(s, 0, sizeof *s);
	for (size_t i = 0; i < NROWS; i++) {
		json_t *v = json_loads(rows[i].dflt, JSON_DECODE_ANY, NULL);
		/* The table is ours: a default that does not parse is a build bug,
		 * caught by test_settings. */
		if (v && settings_apply(s, rows[i].key, v, err, sizeof err) == 0) {
			json_decref(v);
			continue;
		}
		json_decref(v);
	}
}

size_t settings_count(void)
{
	return NROWS;
}

const char *settings_key(size_t i)
{
	return i < NROWS ? rows[i].key : NULL;
}

const char *settings_default_text(size_t i)
{
	return i < NROWS ? rows[i].dflt : NULL;
}

const char *settings_help(size_t i)
{
	return i < NROWS ? rows[i].help : NULL;
}

const char *settings_range_text(size_t i)
{
	static char text[NROWS][80];

	if (i >= NROWS)
		return NULL;
	if (!ranged(&rows[i]))
		return "";
	snprintf(text[i], sizeof text[i], "%s%.15g..%.15g",
		 rows[i].kind == ST_IRANGE || rows[i].kind == ST_DRANGE || rows[i].kind == ST_LENGTHS
			 ? "each "
			 : "",
		 rows[i].lo, rows[i].hi);
	return text[i];
}
