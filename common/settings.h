/* settings: the fleet's behaviour knobs (BEHAVIOUR.md "Settings and defaults")
 * as one struct with the defaults filled in.
 *
 * One table holds every known key, its default (as JSON text) and a one-line
 * meaning, so the worker, `piyasactl settings list` and docs/SETTINGS.md agree.
 * Values are checked by cast_check_setting before they are taken: a bad value
 * in the table is refused with the key named and the old value stays. */
#ifndef PIYASA_SETTINGS_H
#define PIYASA_SETTINGS_H

#include <jansson.h>
#include <stddef.h>

/* The humanisers' chances (worker/chat/text/humanise), each a probability in
 * [0, 1]; one setting each. */
struct humanise_probs {
	double opening, hesitation, contraction, filler, typo;
};

#define SETTINGS_MAX_RANGES 8
#define SETTINGS_MAX_FEEDS 8
#define SETTINGS_URL_MAX 512

struct settings {
	int simulation_active;
	double scale_factor;
	int max_msgs_per_min;
	int hourly_min, hourly_max; /* bot_hourly_msg_limit */
	int nprime;                 /* prime_hours, minutes of day */
	int prime_from[SETTINGS_MAX_RANGES], prime_to[SETTINGS_MAX_RANGES];
	int prime_hours_boost;
	double reply_probability, reply_to_bots_probability, mention_probability;
	double short_reaction_probability;
	double len_short, len_medium, len_long; /* message_length_profile */
	int typing_enabled;
	double wpm_min, wpm_max;  /* typing_speed_wpm */
	double typing_interval_s; /* sendChatAction again after this */
	int persona_refresh_interval, persona_refresh_minutes;
	int nfeeds;
	char feeds[SETTINGS_MAX_FEEDS][SETTINGS_URL_MAX];
	double news_trigger_probability;
	double news_refresh_minutes;
	int dedup_enabled;
	double dedup_window_hours;
	int dedup_max_attempts;
	int semantic_dedup_enabled;
	double semantic_dedup_threshold;
	char embedding_model[128];
	int consistency_guard_enabled;
	struct humanise_probs hum;       /* bot to bot */
	struct humanise_probs hum_human; /* replies to humans: milder */
	int voice_profile_enabled;
	double human_reply_probability; /* a plain human message gets an answer */
	int messages_retention_days;    /* piyasactl prune; 0 keeps everything */
	int dead_jobs_retention_days;   /* likewise */
	int memorize_interval;          /* a memorize job every N messages of a bot */
	int retry_max_age_s;         /* a job retrying this long since its first fault gives up */
	int retry_max_takeovers;     /* leases taken back from dead workers before it gives up */
	double draft_max_age_s;      /* a kept draft older than this is stale (0: never) */
	int draft_max_messages;      /* ... or with more messages after it in the chat */
	int human_max_other_replies; /* answers to a human besides the addressed bot's */
	int bot_daily_tokens;        /* LLM tokens a bot may use a UTC day, 0: no limit */
	int chat_daily_tokens;       /* ... a chat */
	char budget_action[128];     /* "wait" or "skip" when a budget is spent */
};

/* Every key with its default. */
void settings_defaults(struct settings *s);

/* A value for key as piyasactl stores it: its shape (cast_check_setting) and its
 * range (settings_check_range). CAST_SETTING_OK, CAST_SETTING_UNKNOWN for a key
 * cast does not know (any JSON; the caller may warn), or -1 with "key: why".
 * (cast cannot ask this table itself: cast is below settings.) */
int settings_check(const char *key, const json_t *v, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Take one key's value. 0 when taken; 1 for a key this build does not know
 * (ignored); -1 with "key: why" in err when the value is refused (s unchanged). */
int settings_apply(struct settings *s, const char *key, const json_t *v, char *err, size_t errlen);

/* Every setting whose value holds numbers has a range [lo, hi] for each of
 * them (both ends of a {min, max}, each weight of a profile): the code's use
 * stays sane and its conversions (to int, to milliseconds) cannot overflow.
 * settings_check enforces it where a value is written (piyasactl settings set
 * and import), and settings_apply where it is read (the worker keeps the
 * default of a value out of range). settings_check_range: 0, or -1 with
 * "key[.member]: N is out of range [lo, hi]" in err; a key with no range or not
 * known is 0. settings_range: 1 with lo and hi set, 0 for a key with no numbers
 * (a switch, a string, hours, feeds). */
int settings_check_range(const char *key, const json_t *v, char *err, size_t errlen);
int settings_range(const char *key, double *lo, double *hi);

/* The known keys, in table order: name, default as JSON text, meaning, and the
 * range as text ("0..1", "each 0..1000000", "" for none; a static buffer per
 * key, so not for threads). */
size_t settings_count(void);
const char *settings_key(size_t i);
const char *settings_default_text(size_t i);
const char *settings_help(size_t i);
const char *settings_range_text(size_t i);

#endif
