/* job: see job.h. */
#include "common/job.h"

#include "common/utf8.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const kind_names[JOB_KIND_COUNT] = { "speak", "reply", "memorize" };
static const char *const prio_names[PRIO_COUNT] = { "high", "normal", "low" };

const char *job_kind_name(enum job_kind k)
{
	return (unsigned)k < JOB_KIND_COUNT ? kind_names[k] : "?";
}

const char *job_prio_name(enum job_prio p)
{
	return (unsigned)p < PRIO_COUNT ? prio_names[p] : "?";
}

static int parse_name(const char *const *names, int n, const char *name)
{
	for (int i = 0; name && i < n; i++)
		if (strcmp(names[i], name) == 0)
			return i;
	return -1;
}

int job_kind_parse(const char *name)
{
	return parse_name(kind_names, JOB_KIND_COUNT, name);
}

int job_prio_parse(const char *name)
{
	return parse_name(prio_names, PRIO_COUNT, name);
}

int64_t job_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void job_new_id(char out[JOB_ID_MAX])
{
	unsigned char raw[16];

	randombytes_buf(raw, sizeof raw);
	sodium_bin2hex(out, JOB_ID_MAX, raw, sizeof raw);
}

void job_clear(struct job *j)
{
	json_decref(j->payload);
	j->payload = NULL;
}

/* An id is 1..63 characters of [A-Za-z0-9_.:-]: it becomes part of Redis
 * members, SQL rows and log fields. */
static int id_ok(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= JOB_ID_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-", id[i]))
			return 0;
	return 1;
}

static int get_int(json_t *o, const char *k, int required, int64_t *out, char *err, size_t el)
{
	json_t *v = json_object_get(o, k);

	if (!v) {
		if (required) {
			snprintf(err, el, "missing field '%s'", k);
			return -1;
		}
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v)) {
		snprintf(err, el, "field '%s' is not an integer", k);
		return -1;
	}
	*out = json_integer_value(v);
	return 0;
}

static int decode_fields(struct job *j, json_t *o, char *err, size_t el)
{
	const char *id, *kind, *prio;
	int64_t attempts;
	int k, p;

	if (!json_is_object(o)) {
		snprintf(err, el, "job is not a JSON object");
		return -1;
	}
	id = json_string_value(json_object_get(o, "id"));
	if (!id || !id_ok(id)) {
		snprintf(err, el, "field 'id' missing or not 1-63 of [A-Za-z0-9_.:-]");
		return -1;
	}
	snprintf(j->id, sizeof j->id, "%s", id);
	kind = json_string_value(json_object_get(o, "kind"));
	if ((k = job_kind_parse(kind)) < 0) {
		snprintf(err, el, "field 'kind' missing or unknown");
		return -1;
	}
	prio = json_string_value(json_object_get(o, "priority"));
	if ((p = prio ? job_prio_parse(prio) : PRIO_NORMAL) < 0) {
		snprintf(err, el, "field 'priority' is not high, normal or low");
		return -1;
	}
	j->kind = k;
	j->prio = p;
	if (get_int(o, "bot_id", 1, &j->bot_id, err, el) < 0 ||
	    get_int(o, "chat_id", 1, &j->chat_id, err, el) < 0 ||
	    get_int(o, "attempts", 0, &attempts, err, el) < 0 ||
	    get_int(o, "not_before", 0, &j->not_before, err, el) < 0 ||
	    get_int(o, "enqueued_at", 0, &j->enqueued_at, err, el) < 0)
		return -1;
	if (j->bot_id <= 0) {
		snprintf(err, el, "field 'bot_id' must be positive");
		return -1;
	}
	if (attempts < 0 || attempts > 1000000) {
		snprintf(err, el, "field 'attempts' out of range");
		return -1;
	}
	j->attempts = (int)attempts;
	return 0;
}

int job_decode(struct job *j, const char *text, size_t len, char *err, size_t errlen)
{
	json_error_t je;
	json_t *o, *payload;

	memset(j, 0, sizeof *j);
	o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		/* jansson quotes the input near the error, cut at its own limit. */
		utf8_fmt(err, errlen, "not JSON: %s", je.text);
		return -1;
	}
	if (decode_fields(j, o, err, errlen) < 0) {
		json_decref(o);
		return -1;
	}
	payload = json_object_get(o, "payload");
	if (payload && !json_is_object(payload)) {
		snprintf(err, errlen, "field 'payload' is not an object");
		json_decref(o);
		return -1;
	}
	j->payload = payload ? json_incref(payload) : json_object();
	json_decref(o);
	return 0;
}

char *job_raw_text(const char *raw, size_t n)
{
	size_t mark = sizeof JOB_RAW_MARK - 1, b64;
	char *s;

	if (utf8_valid(raw, n))
		return strndup(raw, n);
	b64 = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	if (!(s = malloc(mark + b64)))
		return NULL;
	memcpy(s, JOB_RAW_MARK, mark);
	sodium_bin2base64(s + mark, b64, (const unsigned char *)raw, n, sodium_base64_VARIANT_ORIGINAL);
	return s;
}

char *job_encode(const struct job *j)
{
	json_t *payload = j->payload ? json_incref(j->payload) : json_object();
	json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:s, s:i, s:I, s:I, s:o}", "id", j->id, "kind",
			      job_kind_name(j->kind), "bot_id", (json_int_t)j->bot_id, "chat_id",
			      (json_int_t)j->chat_id, "priority", job_prio_name(j->prio),
			      "attempts", j->attempts, "not_before", (json_int_t)j->not_before,
			      "enqueued_at", (json_int_t)j->enqueued_at, "payload", payload);
	char *s;

	if (!o)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}
