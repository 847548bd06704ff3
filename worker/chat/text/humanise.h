/* humanise: make a checked completion read like a person typing in a group chat
 * (BEHAVIOUR.md, point 8).
 *
 * The humanisers, in order, each with its own probability:
 *   opening      "Valla", "Bence", "Açıkçası", "Bak şimdi,", "Hmm," ... at the start
 *                (after any leading @mentions; the first word then loses its capital)
 *   hesitation   "galiba" / "sanki" at the end of a sentence, "bilmiyorum ama" at the
 *                start of one, or "..." for a sentence's full stop
 *   contraction  every whole-word match of a table of safe colloquial forms
 *                ("bir şey" -> "bi şey", "değil mi" -> "di mi", "geliyor" -> "geliyo",
 *                "yapıyorum" -> "yapıyom", ...)
 *   filler       "yani", "işte" or "falan" at the end of a sentence
 *   typo         two adjacent letters of one word (>= 5 letters, not in capitals)
 *                swapped, and " *word" appended after the message as people correct
 *                themselves in chat
 * then the voice profile of the persona's tone (persona.tone, else emotion.tone):
 *   young ("genç", "young", "slang", "argo", "gen z"): slang ("abi", "kanka",
 *     "resmen"), maybe a lowercase first letter, maybe no final full stop;
 *   professional ("profesyonel", "professional", "kurumsal", "formal", "resmi",
 *     "ciddi", "analist"): no slang, no contractions, no fillers, punctuation and
 *     capitals kept; the opening comes from a sober list ("Bence", "Açıkçası",
 *     "Bana kalırsa", ...) at half its probability, the hesitation is "sanırım" /
 *     "galiba" at 0.3 of its probability, a typo at 0.3 of its probability;
 *   anything else: neutral, nothing more.
 * For every tone: emotion.signature_phrases may be appended (voice.signature_phrase);
 * persona.style.emojis false strips every emoji (the model adds some anyway), true
 * may append emotion.signature_emoji (voice.signature_emoji); absent leaves emoji
 * alone. The result is capped at 500 code points on a word boundary.
 *
 * Never altered: @mentions, $SYMBOLS, #tags, numbers ("34,50", "%3", "10.000"),
 * links (http://, www., t.me/, anything.with.a.dot), words in capitals (tickers).
 * Pure: randomness only from *rng (backoff_rand), so a seed replays exactly. */
#ifndef PIYASA_HUMANISE_H
#define PIYASA_HUMANISE_H

#include "common/settings.h"

#include <jansson.h>
#include <stdint.h>

/* The message length cap, in code points (same as the content filter's). */
#define HUMANISE_MAX_CP 500

/* Multipliers applied to the probabilities for a professional tone. */
#define HUMANISE_PRO_OPENING 0.5
#define HUMANISE_PRO_HESITATION 0.3
#define HUMANISE_PRO_TYPO 0.3

/* struct humanise_probs (the chances of each tic) is a group of settings:
 * common/settings.h has it. */

/* The voice profile's own chances. */
struct humanise_voice {
	double slang;            /* young: add "abi" / "kanka" / "resmen" (.5) */
	double lowercase_start;  /* young: first letter in lowercase (.5) */
	double drop_period;      /* young: no final full stop (.6) */
	double signature_emoji;  /* emojis true: append emotion.signature_emoji (.3) */
	double signature_phrase; /* append one of emotion.signature_phrases (.15) */
};

enum humanise_tone { HUMANISE_NEUTRAL = 0, HUMANISE_YOUNG, HUMANISE_PRO };

/* What humanise_ex did, as bits in *applied. */
enum {
	HUMANISE_DID_OPENING = 1 << 0,
	HUMANISE_DID_HESITATION = 1 << 1,
	HUMANISE_DID_CONTRACTION = 1 << 2,
	HUMANISE_DID_FILLER = 1 << 3,
	HUMANISE_DID_TYPO = 1 << 4,
	HUMANISE_DID_SLANG = 1 << 5,
	HUMANISE_DID_LOWERCASE = 1 << 6,
	HUMANISE_DID_DROP_PERIOD = 1 << 7,
	HUMANISE_DID_PHRASE = 1 << 8,
	HUMANISE_DID_EMOJI = 1 << 9,        /* signature emoji appended */
	HUMANISE_DID_STRIP_EMOJI = 1 << 10, /* at least one emoji removed */
};

/* .40 .55 .40 .35 .30: messages that open a topic or answer a bot. */
void humanise_probs_default(struct humanise_probs *p);
/* .35 .25 .20 .25 .12: replies to humans, who notice the tics more. */
void humanise_probs_default_human(struct humanise_probs *p);
/* .5 .5 .6 .3 .15, as listed in struct humanise_voice. */
void humanise_voice_default(struct humanise_voice *v);

/* The tone the voice profile uses: persona.tone decides when it names a known
 * tone, else emotion.tone, else neutral. Either may be NULL. */
enum humanise_tone humanise_tone(const json_t *persona, const json_t *emotion);

/* The humanised text, malloc'd (free()); NULL when text is NULL or memory runs
 * out. p NULL = humanise_probs_default; persona / emotion may be NULL (neutral,
 * no signature). rng is advanced; NULL uses a fixed seed. Invalid UTF-8 bytes of
 * text are dropped; the result is valid UTF-8 of at most HUMANISE_MAX_CP code
 * points. */
char *humanise(const char *text, const struct humanise_probs *p, const json_t *persona,
	       const json_t *emotion, uint64_t *rng);

/* The same with the voice chances given (NULL = humanise_voice_default) and, when
 * applied is not NULL, the HUMANISE_DID_* bits of what was done. */
char *humanise_ex(const char *text, const struct humanise_probs *p, const struct humanise_voice *v,
		  const json_t *persona, const json_t *emotion, uint64_t *rng, unsigned *applied);

#endif
