/* talk: what a bot says, for speak and reply jobs (BEHAVIOUR.md "One message,
 * step by step"): the chat's context and the bot's own recent messages, reply
 * or open, the reply target, topic, news, the caps, the prompt, then the checks
 * on the draft (content filter, exact and semantic dedup with paraphrases, the
 * consistency guard), the humanisers and the typing indicator, before the
 * task's outbox and send steps take over. */
#ifndef PIYASA_TALK_H
#define PIYASA_TALK_H

#include <stdint.h>

struct task;
struct bot;

/* The bot is loaded; b is valid during the call only. */
void talk_start(struct task *t, const struct bot *b);
/* The message went out: the caps count it. */
void talk_sent(struct task *t);
/* The Telegram message id the message answers, 0 for none. */
int64_t talk_reply_to(const struct task *t);
/* Release what the task holds (caps not consumed, references). */
void talk_free(struct task *t);

/* Frees the worker-wide caches (embeddings, own messages) when the loop is
 * done; handles tasks still hold stay valid until talk_free. */
void talk_cleanup(void);

/* memo.c: a memorize job distils the bot's recent messages into memories. */
void memo_start(struct task *t, const struct bot *b);

#endif
