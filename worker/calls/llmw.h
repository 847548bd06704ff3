/* llmw: the OpenAI-compatible chat completions wire format. Pure functions. */
#ifndef PIYASA_LLMW_H
#define PIYASA_LLMW_H

#include <stddef.h>

struct llmw_msg {
	const char *role; /* "system", "user", "assistant" */
	const char *content;
};

struct llmw_params {
	double temperature;
	double top_p;
	double frequency_penalty;
	double presence_penalty;
	int max_tokens;
};

/* JSON body for POST /chat/completions. malloc'd or NULL. */
char *llmw_request(const char *model, const struct llmw_msg *msgs, int n, const struct llmw_params *p);

/* The most tokens one answer may count for, each of prompt and completion. */
#define LLMW_TOKENS_MAX 10000000

struct llmw_result {
	char *content;         /* malloc'd, trimmed; owned by the caller */
	int prompt_tokens;     /* 0..LLMW_TOKENS_MAX */
	int completion_tokens; /* 0..LLMW_TOKENS_MAX */
};

/* Parse a 200 answer. -1 with err when malformed or the content is missing.
 * The usage counts come from outside: a missing or negative one is refused as
 * 0 (it must not lower a budget), a larger one is clamped to LLMW_TOKENS_MAX,
 * so their sum always fits an int. */
int llmw_parse(const char *body, size_t len, struct llmw_result *r, char *err, size_t errlen)
	__attribute__((warn_unused_result));

void llmw_result_clear(struct llmw_result *r);

/* What an error answer means for the caller. */
enum llmw_failure {
	LLMW_RATE_LIMIT, /* 429 rate_limit: wait Retry-After, then again */
	LLMW_QUOTA,      /* 429 insufficient_quota, 401, 403: cool the provider down long */
	LLMW_SERVER,     /* 5xx, 408, 409: retry with backoff, fall through */
	LLMW_BAD_REQUEST /* other 4xx: this job fails */
};
enum llmw_failure llmw_classify(int status, const char *body, size_t len);

#endif
