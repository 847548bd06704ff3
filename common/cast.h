/* cast: the shapes of BEHAVIOUR.md ("Shapes" and "Settings"), checked.
 *
 * The earlier system let shapes drift (a string where an object belonged) and
 * crashed later, far from the mistake. Everything that writes personas, chats or
 * settings into PostgreSQL goes through these checks first, and anything that
 * reads them may use the same checks, so one table says what a valid persona is.
 *
 * Errors name the path of the offending value, e.g.
 *   "bots[2].persona_profile: expected an object"
 *   "bots[0].stances[1].confidence: expected a number between 0 and 1"
 * Fields are optional unless noted; unknown fields are refused (a misspelt
 * "watchlst" would otherwise vanish silently). Pure functions over jansson
 * values: no I/O, no allocation that outlives a call. */
#ifndef PIYASA_CAST_H
#define PIYASA_CAST_H

#include <jansson.h>
#include <stddef.h>

/* The message_length / style.length values. */
#define CAST_LENGTHS "short, medium, long"

/* Each check: 0, or -1 with "path: why" in err. path names v in messages
 * ("persona_profile", "bots[1].persona_profile"). */

/* {tone, risk_profile, watchlist[], never_do[], style:{emojis bool,
 *  length short|medium|long, disclaimer string}} */
int cast_check_persona(const json_t *v, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* {tone, empathy 0..1, energy, signature_emoji, signature_phrases[], anecdotes[]} */
int cast_check_emotion(const json_t *v, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* {delay:{base_delay_seconds, delay_multiplier, jitter_min, jitter_max, min_seconds,
 *  max_seconds}, typing:{wpm_min, wpm_max, typing_multiplier, min_seconds,
 *  max_seconds}}; every pair min <= max. */
int cast_check_speed(const json_t *v, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* ["HH:MM-HH:MM", ...]; a range may wrap midnight, [] = always. */
int cast_check_hours(const json_t *v, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* One "HH:MM-HH:MM": 0 with the minutes since midnight, or -1. */
int cast_parse_range(const char *s, int *from_min, int *to_min);

/* {topic (required), stance_text (required), confidence 0..1, cooldown_until} */
int cast_check_stance(const json_t *v, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* {symbol (required), avg_price, size, note} */
int cast_check_holding(const json_t *v, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* {memory_type (required, personal_fact|past_event|relationship|preference|routine),
 *  content (required), relevance_score, usage_count} */
int cast_check_memory(const json_t *v, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A chat's topics: an array of non-empty strings. */
int cast_check_topics(const json_t *v, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A Telegram bot token: "<digits>:<secret>", no spaces, shorter than TOK_MAX.
 * The message never repeats the token. */
int cast_check_token(const char *token, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A whole cast file (piyasactl import):
 *   {"chats": [{id (required), title (required), enabled, topics, time_zone, language}],
 *    "bots": [{name (required), id, token, username, enabled, persona_profile,
 *              emotion_profile, speed_profile, active_hours, stances[], holdings[],
 *              memories[], chats: [chat id]}],
 *    "settings": {key: value}}
 * Also refuses duplicate chat ids, bot names, bot ids, Telegram bot ids (the part
 * of the token before ':'), stance topics and holding symbols of one bot.
 * A bot's chats may name chats absent from the file (they must then exist in the
 * database: the importer checks). */
int cast_check_file(const json_t *root, char *err, size_t errlen) __attribute__((warn_unused_result));

enum cast_setting { CAST_SETTING_OK = 0, CAST_SETTING_UNKNOWN = 1 };

/* A setting's value against the settings table of BEHAVIOUR.md: CAST_SETTING_OK,
 * CAST_SETTING_UNKNOWN for a key this build does not know (any JSON accepted, the
 * caller may warn), or -1 with "key: why". */
int cast_check_setting(const char *key, const json_t *v, char *err, size_t errlen)
	__attribute__((warn_unused_result));

#endif
