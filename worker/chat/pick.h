/* pick: what a bot does next in a chat (BEHAVIOUR.md "One message, step by step",
 * points 2-4): reply or open a topic, which message to answer (the scoring table of
 * step 3), an emoji-only reaction, a mention, the length class, the topic; and the
 * metadata the worker stores with a bot message (symbols, sentiment).
 *
 * Pure functions over plain data and jansson values: no I/O, no logging, no
 * allocation; every random draw goes through backoff_uniform(rng), so a seeded
 * state gives the same decisions every time (tests depend on it).
 *
 * Text matching is "Turkish-folded": ASCII letters lowercased and the Turkish
 * letters reduced to their ASCII skeleton (İ/I/ı -> i, Ş -> s, Ğ -> g, Ü -> u,
 * Ö -> o, Ç -> c, also â/î/û), so "DÜŞTÜ", "düştü" and "dustu" all match the
 * keyword "düştü", and "BANKASI" matches "bankası". Keywords match at the start
 * of a word; those of 4 or more letters also match with a suffix ("borsada",
 * "faizler"), shorter ones only as whole words ("TL'ye" yes, "kurum" not "kur").
 * Symbols (tickers) match case-insensitively as whole words, without folding,
 * so "şişe" is not SISE. Only the first PICK_TEXT_MAX bytes of a text are read. */
#ifndef PIYASA_PICK_H
#define PIYASA_PICK_H

#include "worker/chat/convo.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PICK_MAX_WATCH 16  /* watchlist symbols a bot scores on */
#define PICK_MAX_TOPICS 16 /* chat topics considered */
#define PICK_WINDOW 30     /* messages considered as reply targets */
#define PICK_TOP 3         /* the target is drawn among this many best */
#define PICK_TEXT_MAX 4096 /* bytes of a text read when matching */
#define PICK_MAX_SYMBOLS 5 /* symbols stored in a bot message's metadata */

/* What scoring needs to know about one bot in one chat. Every pointer refers to
 * memory the caller owns (see pick_bot_from_json); the struct itself may live on
 * the stack. */
struct pick_bot {
	int64_t id;           /* bots.id: messages with this bot_id are its own */
	const char *name;     /* display name, matched in the text (may be NULL) */
	const char *username; /* Telegram username without '@', matched as "@username" */
	const char *watch[PICK_MAX_WATCH];
	size_t nwatch;
	const char *topics[PICK_MAX_TOPICS];
	size_t ntopics;
	double empathy; /* 0..1, emotion_profile.empathy */
};

/* Fill b from the bot's row: the watchlist from persona.watchlist (strings only,
 * at most PICK_MAX_WATCH), empathy from emotion.empathy (0.5 when missing or not
 * a number), topics from chat_topics (strings only, at most PICK_MAX_TOPICS;
 * BIST, FX, Kripto, Makro when NULL, empty or without a string). Any of the JSON
 * values may be NULL or of an unexpected type: what is not usable is left out.
 * b keeps pointers into name, username, persona and chat_topics, so it is valid
 * only while they are (and not modified). Returns 0, or -1 when b is NULL. */
int pick_bot_from_json(struct pick_bot *b, int64_t id, const char *name, const char *username,
		       const json_t *persona, const json_t *emotion, const json_t *chat_topics);

/* A chat's topics as the facts of its messages refer to them: topics_of the chat's
 * chat_topics (see pick_topic), pointers into it or at static defaults. */
struct pick_topics {
	const char *names[PICK_MAX_TOPICS];
	size_t n;
};

/* Fill t from chat_topics (strings only, at most PICK_MAX_TOPICS; BIST, FX,
 * Kripto, Makro when NULL, empty or without a string). t keeps pointers into
 * chat_topics, so it is valid only while chat_topics is (and not modified). */
void pick_topics_init(struct pick_topics *t, const json_t *chat_topics);

/* What matching finds in a message for every bot alike, worked out once
 * (pick_msg_facts) and kept with the message (convo_msg.facts) by whoever holds
 * it for many decisions: the worker's chat context serves hundreds of jobs, and
 * each would otherwise fold and scan every text again. What depends on the bot
 * (its name, username, watchlist, a topic outside the list) is still matched per
 * call, over the folded text. Filled by pick; the fields are pick's business. */
struct pick_msg_facts {
	const char *folded;               /* the text folded, as matching reads it */
	const struct pick_topics *topics; /* the list topic_bits refer to, or NULL */
	uint16_t ulen;                    /* bytes of the text that symbols are matched in */
	uint16_t topic_bits;              /* bit i: the message speaks of topics->names[i] */
	uint8_t flags;                    /* PICK_F_* */
};

#define PICK_F_QUESTION 0x01 /* a '?' (or '？') */
#define PICK_F_CURIOUS 0x02  /* a curiosity phrase ("sizce", "ne dersiniz", ...) */
#define PICK_F_NEGATIVE 0x04 /* a negative word ("düştü", "panik", 📉, ...) */
#define PICK_F_AT 0x08       /* an '@': it may mention someone */

_Static_assert(PICK_MAX_TOPICS <= 16, "topic_bits is 16 bits");

/* Bytes of buffer pick_msg_facts needs for a message with this text (NULL:
 * empty): min(strlen + 1, PICK_TEXT_MAX), as folding never lengthens a text. */
size_t pick_facts_size(const char *text);

/* Work out the facts of m (its text and metadata topic) into f, topic_bits for
 * the topics of ts (NULL: none; f->topics = ts). The folded text goes into buf
 * and f->folded points at it, so f is valid while buf and ts are; bufsz must be
 * at least pick_facts_size(m->text), or matching reads a cut text. When m->facts
 * is set already and refers to the same topics as ts (a context rebuilt around
 * a new message), they are copied instead of worked out again. Returns the
 * bytes of buf used (with the NUL). */
size_t pick_msg_facts(struct pick_msg_facts *f, const struct convo_msg *m,
		      const struct pick_topics *ts, char *buf, size_t bufsz);

/* The score of m as a reply target for b (BEHAVIOUR.md step 3):
 *   human +8 / bot +2.5; age < 3 min +3, < 10 +2, < 30 +1, older -1 (a time in
 *   the future counts as new); a '?' +4 and a curiosity phrase ("sizce", "ne
 *   dersiniz", ...) +3, both when both; a mention of b ("@username" or its name)
 *   +15; +2.5 per watchlist symbol in the text; +1.5 per chat topic detected
 *   (metadata topic equal to it, its name or one of its keywords in the text);
 *   +2 when m is negative (sentiment < 0 or a negative word) and empathy > 0.7;
 *   +1.5 when replies_to_m >= 2.
 * A NULL text counts as empty. The same with or without m->facts (they only
 * save work), as in pick_target and pick_topic. */
double pick_score(const struct convo_msg *m, const struct pick_bot *b, int64_t now_ms,
		  int replies_to_m);

/* The reply target among the last PICK_WINDOW of msgs (oldest first) that b did
 * not write: the PICK_TOP best by pick_score (ties: the newer first), one drawn
 * with weight max(score, 0.1). Replies to a message are the messages of msgs whose
 * reply_to_tg equals its (non-zero) tg_id. Returns the index into msgs, or -1
 * when there is no candidate. */
int pick_target(const struct convo_msg *msgs, size_t n, const struct pick_bot *b, int64_t now_ms,
		uint64_t *rng);

/* The chance settings of BEHAVIOUR.md "Settings and defaults". */
struct pick_probs {
	double reply;                           /* reply_probability */
	double reply_to_bots;                   /* reply_to_bots_probability */
	double mention;                         /* mention_probability */
	double short_reaction;                  /* short_reaction_probability */
	double len_short, len_medium, len_long; /* message_length_profile (weights) */
};

/* 0.65, 0.5, 0.35, 0.12, {0.55, 0.35, 0.10}. */
struct pick_probs pick_probs_default(void);

/* Bias the length weights towards a persona's style.length ("short", "medium" or
 * "long"): that class's weight is doubled (defaults: a "long" persona writes long
 * messages 18% of the time instead of 10%). Anything else leaves pp unchanged. */
void pick_probs_bias_length(struct pick_probs *pp, const json_t *persona);

enum pick_mode { PICK_OPEN, PICK_REPLY };

/* Reply with pp->reply, or pp->reply_to_bots when the newest message is a bot's;
 * otherwise open a topic. An empty chat (newest_or_null NULL) opens without a
 * draw. A NULL pp means the defaults (so do the other pp arguments below). */
enum pick_mode pick_mode(const struct pick_probs *pp, const struct convo_msg *newest_or_null,
			 uint64_t *rng);

/* 1 with pp->short_reaction: answer with an emoji only. */
int pick_short_reaction(const struct pick_probs *pp, uint64_t *rng);

/* An emoji for a reaction to a message of this sentiment: rising (> 0), falling
 * (< 0) or speech/thinking (0). A static string. */
const char *pick_reaction_emoji(int sentiment, uint64_t *rng);

/* 1 when text mentions "@username" as a word (case and Turkish letters folded,
 * as in pick_score). The pollers and the worker's chatter use this one rule. */
int pick_mentions_user(const char *text, const char *username);

/* pick_mentions_user(m->text, username), from m's facts when it has them (no
 * folding of the text). */
int pick_mentions(const struct convo_msg *m, const char *username);

/* 1 with pp->mention: @mention the author of the target. */
int pick_mention(const struct pick_probs *pp, uint64_t *rng);

/* Same values as enum compose_length, so a worker may cast between them. */
enum pick_length { PICK_SHORT, PICK_MEDIUM, PICK_LONG };

/* SHORT (1-2 sentences), MEDIUM (2-3) or LONG (3-4), drawn with the weights
 * len_short/len_medium/len_long (normalised; negative weights count as 0, all 0
 * means the defaults). */
enum pick_length pick_length(const struct pick_probs *pp, uint64_t *rng);

/* The topic to open (step 4): among chat_topics (strings; BIST, FX, Kripto, Makro
 * when NULL, empty or without a string), leaving out those with a stance whose
 * cooldown_until (ISO-8601, e.g. "2025-03-01T10:00:00Z", "...+03:00", or
 * PostgreSQL's "2025-03-01 10:00:00.5+00"; no zone = UTC; null or unparsable = no
 * cooldown) is after now_ms, the one most of msgs mention (each message counts a
 * topic once, detected as in pick_score); ties, and a transcript mentioning none,
 * are drawn at random. When every topic cools down, the one whose cooldown ends
 * first. Returns a pointer into chat_topics (or a static default), never NULL. */
const char *pick_topic(const json_t *chat_topics, const json_t *stances,
		       const struct convo_msg *msgs, size_t n, int64_t now_ms, uint64_t *rng);

/* The topic a bot talks about (item 4 of issue 16), drawn rather than the
 * strict rule of pick_topic, which lets one topic take a chat over. Among the
 * chat_topics not cooling down (as pick_topic), topic i weighs
 *   (0.15 + a_i) x (1 - 0.9 x r_i) [x 3 when it is lean]
 * where a_i (0..1) is how many of the watchlist's symbols name the topic (its
 * keywords: BTC names Kripto, GARAN BIST, USDTRY FX), relative to the topic
 * most of them name, and r_i the topic's share of the topics detected in the
 * last 15 messages of msgs. lean (or NULL) is the topic of the message a reply
 * answers. When every topic cools down, pick_topic's answer. Never NULL. */
const char *pick_topic_weighed(const json_t *chat_topics, const json_t *stances,
			       const json_t *watchlist, const char *lean,
			       const struct convo_msg *msgs, size_t n, int64_t now_ms, uint64_t *rng);

/* The weights pick_topic_weighed draws from: names[i] (pointers as
 * pick_topic's) and w[i] for each of the returned count (0: every topic cools
 * down) of at most PICK_MAX_TOPICS topics. For the tests and the bench. */
size_t pick_topic_weights(const json_t *chat_topics, const json_t *stances, const json_t *watchlist,
			  const char *lean, const struct convo_msg *msgs, size_t n, int64_t now_ms,
			  const char **names, double *w);

/* The symbol of watchlist a message on topic is about, so that a persona on
 * its own ground names its own symbols: one drawn among the watchlist's
 * symbols that name the topic (as pick_topic_weighed's a_i), or NULL when
 * none does (or topic is NULL or ""). A pointer into watchlist. */
const char *pick_focus(const json_t *watchlist, const char *topic, uint64_t *rng);

/* Symbols for a bot message's metadata: the watchlist's (strings; matched folded,
 * as whole words: "gram altın" names ALTIN, "tüfe" TÜFE) then well-known
 * tickers (THYAO, GARAN, ... XU100, BTC, ETH, USDTRY, ...) found in text, without
 * duplicates, at most min(max, PICK_MAX_SYMBOLS). out[] points into watchlist or
 * at static strings. Returns how many were stored. */
int pick_symbols(const char *text, const json_t *watchlist, const char **out, int max);

/* -1, 0 or 1: the sign of (positive words - negative words) in text, from small
 * Turkish word lists (and 📈/🚀 vs 📉). */
int pick_sentiment(const char *text);

/* Turkish-fold in into out (see above), cut on a character boundary so that it
 * fits in outsz bytes with its NUL. Returns the length written. Shared with
 * compose, which classifies persona tones the same way. */
size_t pick_fold(const char *in, char *out, size_t outsz);

/* 1 when the built-in word lists are stored folded, as matching assumes (a
 * self-check for the tests). */
int pick_lists_folded(void);

#endif
