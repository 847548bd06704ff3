/* llmw: see llmw.h. */
#include "worker/calls/llmw.h"

#include "common/utf8.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *llmw_request(const char *model, const struct llmw_msg *msgs, int n, const struct llmw_params *p)
{
	json_t *o = json_object(), *arr = json_array();
	char *s;

	if (!o || !arr) {
		json_decref(o);
		json_decref(arr);
		return NULL;
	}
	/* The prompts are long and already valid UTF-8 (compose drops invalid
	 * bytes): the copy skips jansson's check, a quarter of the cost of the
	 * body. Should one slip through, json_dumps refuses it and we return NULL. */
	for (int i = 0; i < n; i++) {
		json_t *m = json_object();

		if (!m || json_array_append_new(arr, m) < 0 ||
		    json_object_set_new_nocheck(m, "role", json_string_nocheck(msgs[i].role)) < 0 ||
		    json_object_set_new_nocheck(m, "content", json_string_nocheck(msgs[i].content)) < 0) {
			json_decref(o);
			json_decref(arr);
			return NULL;
		}
	}
	json_object_set_new(o, "model", json_string(model));
	json_object_set_new(o, "messages", arr);
	json_object_set_new(o, "temperature", json_real(p->temperature));
	if (p->top_p > 0)
		json_object_set_new(o, "top_p", json_real(p->top_p));
	json_object_set_new(o, "frequency_penalty", json_real(p->frequency_penalty));
	json_object_set_new(o, "presence_penalty", json_real(p->presence_penalty));
	if (p->max_tokens > 0)
		json_object_set_new(o, "max_tokens", json_integer(p->max_tokens));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

void llmw_result_clear(struct llmw_result *r)
{
	free(r->content);
	r->content = NULL;
}

static char *trimmed_copy(const char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return strndup(s, n);
}

/* A usage count as llmw.h promises it. */
static int tokens_of(const json_t *usage, const char *key)
{
	json_int_t v = json_integer_value(json_object_get(usage, key));

	return v < 0 ? 0 : v > LLMW_TOKENS_MAX ? LLMW_TOKENS_MAX : (int)v;
}

int llmw_parse(const char *body, size_t len, struct llmw_result *r, char *err, size_t el)
{
	json_error_t je;
	json_t *o = json_loadb(body, len, 0, &je), *msg, *usage;
	const char *content;

	memset(r, 0, sizeof *r);
	if (!o) {
		utf8_fmt(err, el, "completion is not JSON: %s", je.text);
		return -1;
	}
	msg = json_object_get(json_array_get(json_object_get(o, "choices"), 0), "message");
	content = json_string_value(json_object_get(msg, "content"));
	if (!content) {
		snprintf(err, el, "completion has no choices[0].message.content");
		json_decref(o);
		return -1;
	}
	usage = json_object_get(o, "usage");
	r->prompt_tokens = tokens_of(usage, "prompt_tokens");
	r->completion_tokens = tokens_of(usage, "completion_tokens");
	r->content = trimmed_copy(content);
	json_decref(o);
	if (!r->content) {
		snprintf(err, el, "out of memory");
		return -1;
	}
	return 0;
}

enum llmw_failure llmw_classify(int status, const char *body, size_t len)
{
	json_t *o;
	const char *code = NULL, *type = NULL;
	enum llmw_failure f;

	if (status == 401 || status == 403)
		return LLMW_QUOTA;
	if (status >= 500 || status == 408 || status == 409 || status == 0)
		return LLMW_SERVER;
	if (status != 429)
		return LLMW_BAD_REQUEST;
	o = json_loadb(body ? body : "", len, 0, NULL);
	code = json_string_value(json_object_get(json_object_get(o, "error"), "code"));
	type = json_string_value(json_object_get(json_object_get(o, "error"), "type"));
	f = (code && strcmp(code, "insufficient_quota") == 0) ||
			    (type && strcmp(type, "insufficient_quota") == 0)
		    ? LLMW_QUOTA
		    : LLMW_RATE_LIMIT;
	json_decref(o);
	return f;
}
