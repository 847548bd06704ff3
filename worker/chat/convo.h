/* convo: one message of a chat's recent history as the behaviour modules see it
 * (pick, prompt, dedup). Plain data, filled by the worker from PostgreSQL; the
 * strings (and facts) belong to whoever filled the array. */
#ifndef PIYASA_CONVO_H
#define PIYASA_CONVO_H

#include <stdint.h>

struct pick_msg_facts;

struct convo_msg {
	int64_t id;          /* messages.id (0 when not stored yet) */
	int64_t tg_id;       /* Telegram message_id, 0 when unknown */
	int64_t bot_id;      /* author; 0 = a human wrote it */
	const char *speaker; /* bot name or the human's username / first name */
	const char *text;
	int64_t at_ms;       /* when it was written (ms since the epoch) */
	int64_t reply_to_tg; /* Telegram id of the message it answers, 0 = none */
	const char *topic;   /* metadata.topic, NULL when unknown */
	int sentiment;       /* metadata.sentiment: -1 negative, 0 neutral, 1 positive */
	/* What pick found in text and topic for every bot alike (pick_msg_facts),
	 * kept by whoever decides for many bots over the same messages; NULL: pick
	 * works from the text. Must describe this text and topic. */
	const struct pick_msg_facts *facts;
};

#endif
