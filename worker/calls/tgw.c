/* tgw: see tgw.h. */
#include "worker/calls/tgw.h"

#include "common/utf8.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t tgw_utf8_prefix(const char *s, size_t max_cp)
{
	size_t i = 0, cp = 0;

	while (s[i]) {
		if (((unsigned char)s[i] & 0xC0) != 0x80) {
			if (cp == max_cp)
				break;
			cp++;
		}
		i++;
	}
	return i;
}

static char *dump(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	return s;
}

char *tgw_send_message(int64_t chat_id, const char *text, int64_t reply_to)
{
	size_t n = tgw_utf8_prefix(text, TGW_MAX_TEXT);
	json_t *t = json_stringn(text, n); /* NULL when text is not UTF-8 */
	json_t *o = t ? json_object() : NULL;

	if (!o) {
		json_decref(t);
		return NULL;
	}
	json_object_set_new(o, "chat_id", json_integer(chat_id));
	json_object_set_new(o, "text", t);
	if (reply_to > 0)
		json_object_set_new(o, "reply_parameters",
				    json_pack("{s:I, s:b}", "message_id", (json_int_t)reply_to,
					      "allow_sending_without_reply", 1));
	return dump(o);
}

char *tgw_chat_action(int64_t chat_id, const char *action)
{
	return dump(json_pack("{s:I, s:s}", "chat_id", (json_int_t)chat_id, "action", action));
}

int tgw_parse(const char *body, size_t len, struct tgw_result *r, char *err, size_t el)
{
	json_error_t je;
	json_t *o = json_loadb(body, len, 0, &je), *ok, *v;
	const char *d;

	memset(r, 0, sizeof *r);
	r->retry_after = -1;
	if (!o || !json_is_object(o) || !json_is_boolean(ok = json_object_get(o, "ok"))) {
		utf8_fmt(err, el, "telegram answer is not a Bot API object%s%s", o ? "" : ": ",
			 o ? "" : je.text);
		json_decref(o);
		return -1;
	}
	r->ok = json_is_true(ok);
	if (json_is_integer(v = json_object_get(o, "error_code")))
		r->error_code = (int)json_integer_value(v);
	if ((d = json_string_value(json_object_get(o, "description"))))
		utf8_cut(r->description, sizeof r->description, d);
	v = json_object_get(json_object_get(o, "parameters"), "retry_after");
	if (json_is_integer(v))
		r->retry_after = (long)json_integer_value(v);
	v = json_object_get(json_object_get(o, "result"), "message_id");
	if (json_is_integer(v))
		r->message_id = json_integer_value(v);
	json_decref(o);
	return 0;
}

size_t tgw_failure_text(const struct tgw_result *r, char *out, size_t n)
{
	char d[TGW_FAILURE_DESC + 1];

	utf8_cut(d, sizeof d, r->description);
	return utf8_fmt(out, n, "telegram %d: %s", r->error_code, d);
}
