/* convo: one message of a chat's recent history as the behaviour modules see it
 * (pick, prompt, dedup). Plain data, filled by the worker from PostgreSQL; the
 * strings belong to whoever filled the array. */
#ifndef PIYASA_CONVO_H
#define PIYASA_CONVO_H

#include <stdint.h>

struct convo_msg {
	int64_t id;           /* messages.id (0 when not stored yet) */
	int64_t tg_id;        /* Telegram message_id, 0 when unknown */
	int64_t bot_id;       /* author; 0 = a human wrote it */
	const char *speaker;  /* bot name or the human's username / first name */
	const char *text;
	int64_t at_ms;        /* when it was written (ms since the epoch) */
	int64_t reply_to_tg;  /* Telegram id of the message it answers, 0 = none */
	const char *topic;    /* metadata.topic, NULL when unknown */
	int sentiment;        /* metadata.sentiment: -1 negative, 0 neutral, 1 positive */
};

#endif
