/* fuzz_tgw: Telegram's answers (worker/calls/tgw.c) and the getUpdates batch
 * (worker/chat/updates.c updates_next_offset) on arbitrary bytes. A parsed
 * answer has a description that is valid UTF-8 inside its buffer, and what a
 * refused send records (tgw_failure_text) is valid UTF-8 that fits; a JSON
 * array of updates never moves the offset back (issue 19, item 6: INT64_MAX
 * does not wrap). tgw_send_message on the input as text gives JSON whose text
 * is at most TGW_MAX_TEXT characters. */
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"
#include "worker/calls/tgw.h"
#include "worker/chat/updates.h"

#include <jansson.h>

static void check_offset(const uint8_t *data, size_t size)
{
	json_t *v = json_loadb((const char *)data, size, 0, NULL);
	json_t *res;
	int64_t offsets[] = { 0, 1, 1000, INT64_MAX - 1, INT64_MAX };

	if (!v)
		return;
	res = json_is_array(v) ? v : json_object_get(v, "result");
	if (json_is_array(res))
		for (size_t i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++)
			FUZZ_ASSERT(updates_next_offset(offsets[i], res) >= offsets[i]);
	json_decref(v);
}

static void check_send(const char *s)
{
	char *body = tgw_send_message(-100123, s, 7);
	json_t *v;
	const char *text;

	if (!body) { /* only text that is not UTF-8 gives no body */
		FUZZ_ASSERT(!utf8_valid(s, strlen(s)));
		return;
	}
	v = json_loads(body, 0, NULL);
	FUZZ_ASSERT(v);
	text = json_string_value(json_object_get(v, "text"));
	FUZZ_ASSERT(text);
	FUZZ_ASSERT(tgw_utf8_prefix(text, TGW_MAX_TEXT) == strlen(text));
	json_decref(v);
	free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tgw_result r;
	char err[256], fail[300];
	char *s;

	check_offset(data, size);
	memset(&r, 0x5a, sizeof(r));
	err[0] = '\0';
	if (tgw_parse((const char *)data, size, &r, err, sizeof(err)) == 0) {
		size_t n;

		FUZZ_ASSERT(memchr(r.description, '\0', sizeof(r.description)));
		FUZZ_ASSERT(utf8_valid(r.description, strlen(r.description)));
		FUZZ_ASSERT(r.ok == 0 || r.ok == 1);
		n = tgw_failure_text(&r, fail, sizeof(fail));
		FUZZ_ASSERT(n == strlen(fail) && n < sizeof(fail));
		FUZZ_ASSERT(utf8_valid(fail, n));
		n = tgw_failure_text(&r, fail, 17);
		FUZZ_ASSERT(n == strlen(fail) && n < 17 && utf8_valid(fail, n));
	} else {
		FUZZ_ASSERT(err[0] && utf8_valid(err, strlen(err)));
	}
	s = fuzz_str(data, size);
	check_send(s);
	free(s);
	return 0;
}
