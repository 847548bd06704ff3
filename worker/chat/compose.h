/* compose: the LLM request for one bot message (BEHAVIOUR.md "One message, step by
 * step", points 5 and 6): the system prompt (who the bot is and how it writes),
 * the user prompt (what it knows and what to write now) and the sampling
 * parameters.
 *
 * The prompts are Turkish and instruct another language when the chat has one.
 * Every part comes from data the worker loaded (persona and emotion objects,
 * stances, holdings and memories arrays, the transcript); a part that is missing,
 * empty or of an unexpected JSON type is left out with its heading, never
 * rendered empty and never a crash. Every string taken from data is capped
 * (COMPOSE_CAP_* bytes, cut on a UTF-8 character boundary and marked with "…")
 * and everything that may end a line becomes a space: the ASCII and C1 controls
 * (LF, CR, VT, FF, NEL U+0085) and U+2028, U+2029. So one huge or multi-line
 * value (a human's message or name, a headline, the topic, the bot's own past
 * messages) can neither blow up the prompt nor forge a line such as "Konu: X" or
 * "Şu mesaja cevap ver: ..." (lines the fake API and the worker's tests look
 * for). The bot's name is quoted and introduced as a name ("Adın \"X\"."), and a
 * '"' inside quoted data becomes '\'', so a name such as "Emoji kullanma." reads
 * as a name, not an instruction, and no quoted value can close its quotes.
 *
 * Contracts: when persona style.emojis is false the system prompt has the line
 * "Emoji kullanma." (and only then; the sentence may appear elsewhere only
 * inside quoted data, such as a bot named so); the user prompt carries the topic
 * as a line "Konu: X" and the reply target as a line starting
 * "Şu mesaja cevap ver: ". The system prompt never starts with the markers of
 * the guard or memorize calls ("TUTARLILIK DENETİMİ", "HAFIZA ÖZETİ").
 *
 * Pure: no I/O, no logging; randomness only in compose_sampling, through rng. */
#ifndef PIYASA_COMPOSE_H
#define PIYASA_COMPOSE_H

#include "worker/chat/convo.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Caps in bytes for strings rendered from data. */
#define COMPOSE_CAP_WORD 64    /* names, symbols, tone words, topic, language */
#define COMPOSE_CAP_ITEM 200   /* a never_do item, a phrase, a holding note */
#define COMPOSE_CAP_TEXT 400   /* a stance, a memory, a past message, a transcript line */
#define COMPOSE_CAP_TARGET 600 /* the message answered, the news headline */
#define COMPOSE_CAP_OLD 100    /* a transcript line older than the newest ..._FULL */
#define COMPOSE_HISTORY 15     /* transcript lines rendered */
#define COMPOSE_HISTORY_FULL 5 /* the newest of them, rendered up to COMPOSE_CAP_TEXT */
#define COMPOSE_STANCES 6
#define COMPOSE_HOLDINGS 6
#define COMPOSE_MEMORIES 8
#define COMPOSE_OWN_PAST 3

/* Same values as enum pick_length. */
enum compose_length { COMPOSE_SHORT, COMPOSE_MEDIUM, COMPOSE_LONG };

/* Everything a prompt is built from. Nothing is kept after a call. */
struct compose_in {
	const char *bot_name;
	const json_t *persona, *emotion;             /* objects, may be NULL or {} */
	const json_t *stances, *holdings, *memories; /* arrays, may be NULL */
	const struct convo_msg *history;             /* oldest first; the last 15 are used */
	size_t nhistory;
	const struct convo_msg *target; /* reply target or NULL (open a topic) */
	const char *const *own_past;    /* the bot's past messages on the topic */
	size_t nown;                    /* the first 3 are used */
	const char *topic;              /* may be NULL */
	const char *news;               /* a headline or NULL */
	const char *focus;              /* the watchlist symbol to speak of, or NULL */
	int mention;                    /* "@speaker" of the target (a username
					 * for a human, when known) */
	enum compose_length length;     /* out of range = COMPOSE_SHORT */
	int minute_of_day;              /* chat's zone, 0..1439; < 0 = unknown */
	int persona_refresh;            /* add the persona refresh note */
	int answering_human;            /* the target is a human's message */
	const char *language;           /* NULL/"tr" = Turkish, or e.g. "en" */
};

struct compose_params {
	double temperature, top_p, frequency_penalty, presence_penalty;
	int max_tokens;
};

/* The system prompt: a malloc'd string the caller frees; NULL on OOM or a NULL
 * in. Lines in this order, each only when its data is there: who the bot is
 * (always; its name quoted), tone (the persona's words, then the rule of its class, always:
 * young: slang allowed; professional: none; else plain), risk profile, emotion
 * (tone, energy, empathy), anecdotes (2), emoji use ("Emoji kullanma." for
 * emojis false; allowed with the signature emoji for true; else the signature
 * emoji alone), usual length (style.length), disclaimer, signature phrases (2),
 * watchlist (3), never_do (8), language; then one right example (in the tone's
 * voice, on the first watchlist symbol) and two wrong ones (assistant voice, a
 * promise of gain), and the group-chat rule (always). */
char *compose_system(const struct compose_in *in);

/* The user prompt: malloc'd, NULL on OOM or a NULL in. Parts in this order, each
 * only when there is something to say: persona summary (quoted name, tone; the
 * rest of the persona is in the system prompt), stances (6, with confidence),
 * holdings (6), own past messages (3), memories (8), the last 15 messages as
 * "[speaker]: text" (the older 10 cut at COMPOSE_CAP_OLD; the reply target
 * whole and marked "» "), "Konu: X", "Odak: S", the reply target ("Şu mesaja
 * cevap ver: » ile işaretli mesaj." when it is among those lines, else the
 * line itself) or the opening instruction, the news line, the mention
 * instruction, the length hint, the time of day, the persona refresh note,
 * "Sadece mesajın metnini yaz." (always). */
char *compose_user(const struct compose_in *in);

/* Sampling for this request:
 *   temperature 1.2 + U(0.05, 0.15) for a professional tone, 1.2 + U(0.15, 0.30)
 *   otherwise; top_p 0.92, frequency_penalty 0.3, presence_penalty 0.4;
 *   max_tokens from the table below, x0.8 for a reply to a message without '?',
 *   x1.3 for a reply to a question, x1.2 with news (rounded, then clamped to
 *   [64, 400]):
 *                    short  medium  long
 *     young            100     150   220
 *     other            120     180   250
 *     professional     140     200   280
 * "Professional" and "young" are read from persona.tone, else emotion.tone
 * (folded: "profesyonel", "professional", "kurumsal"; "genç", "young"). A NULL
 * in counts as an empty one; one draw is taken from rng. */
void compose_sampling(const struct compose_in *in, uint64_t *rng, struct compose_params *out);

#endif
