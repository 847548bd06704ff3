/* talk: what a bot says, for speak and reply jobs (BEHAVIOUR.md "One message,
 * step by step"): the bot, the chat's context and the bot's own recent
 * messages, reply or open, the reply target, topic, news, the caps, the
 * prompt, then the checks on the draft (content filter, exact and semantic
 * dedup with paraphrases, the consistency guard), the humanisers and the
 * typing indicator, before the task's outbox and send steps take over. It is
 * a job kind of the task runner (task.h): talk_kind fills the table entry. */
#ifndef PIYASA_TALK_H
#define PIYASA_TALK_H

#include <uv.h>

struct cfg;
struct httpc;
struct market;
struct chats;
struct bots;
struct news;
struct task_kind;
struct talk;

/* What talk uses; all but news must outlive it. */
struct talk_deps {
	uv_loop_t *loop;
	const struct cfg *cfg; /* the worker's, reloaded in place */
	struct httpc *http;    /* embeddings and typing */
	struct market *market; /* settings and caps */
	struct chats *chats;   /* chat contexts */
	struct bots *bots;     /* the job's bot */
	struct news *news;     /* headlines; NULL: none */
};

/* NULL: no memory. */
struct talk *talk_new(const struct talk_deps *d);
/* Frees the worker-wide caches (embeddings, own messages) once the loop is
 * done; what tasks still hold stays valid until they end. NULL is fine. */
void talk_free(struct talk *tk);
/* The job kind (speak, reply) that runs on tk. */
void talk_kind(struct talk *tk, struct task_kind *kind);

#endif
