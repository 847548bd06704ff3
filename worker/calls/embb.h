/* embb: embeddings asked for in batches. The texts queued during one turn of
 * the loop go to the provider as one /embeddings request per provider and
 * model (at most EMBB_MAX_INPUTS texts or EMBB_MAX_BYTES of them each), instead
 * of one request per draft: the API takes a list of inputs, and a request
 * costs the worker, the kernel and the provider far more than an input.
 *
 * Every accepted text gets its answer exactly once, later, never from inside
 * embb_get: the vector, or NULL with the reason (the request failed, the answer
 * was malformed, embb_free came first). */
#ifndef PIYASA_EMBB_H
#define PIYASA_EMBB_H

#include "common/net/httpc.h"

#include <stddef.h>
#include <uv.h>

#define EMBB_MAX_INPUTS 64
#define EMBB_MAX_BYTES (64 * 1024)

struct embb;

/* v has dim floats, valid during the call only; NULL with err on failure. */
typedef void (*embb_cb)(const float *v, size_t dim, const char *err, void *arg);

/* Where to ask: the provider's base URL (".../v1"), its API key, the model. */
struct embb_target {
	const char *base_url;
	const char *api_key;
	const char *model;
};

/* A batcher on loop, sending through http (which must outlive the requests
 * it carries: httpc_free answers them). NULL when memory is short. */
struct embb *embb_new(uv_loop_t *loop, struct httpc *http);
/* Texts not sent yet are answered "closing" before it returns; requests in
 * flight are answered by their httpc. The memory goes on the loop's next turn. */
void embb_free(struct embb *b);

/* Queue text (copied, with the target's strings) for this turn's request.
 * 0: cb runs later, once. -1: no memory, or b is closing (cb not called). */
int embb_get(struct embb *b, const struct embb_target *to, const char *text, embb_cb cb, void *arg);

/* For metrics and tests: requests sent, texts sent. */
void embb_stats(const struct embb *b, unsigned long *requests, unsigned long *texts);

#endif
