/* fuzz_text: the text pipeline (worker/chat/text/) on arbitrary bytes, as an LLM
 * or a human may write them. textcheck_clean either refuses with a reason or
 * gives a message that is valid UTF-8, 1..TEXTCHECK_MAX_CP code points, with no
 * control character (no line break) and none of the invisible or bidirectional
 * controls it promises to drop (issue 19, item 10). humanise of a cleaned text is
 * valid UTF-8 of at most HUMANISE_MAX_CP code points; dedup_normalise is valid
 * UTF-8, at most DEDUP_NORM_CP code points, fits any buffer it is given. */
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"
#include "worker/chat/text/dedup.h"
#include "worker/chat/text/humanise.h"
#include "worker/chat/text/textcheck.h"

static int dropped(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7F || cp == 0x061C || cp == 0x200B || cp == 0x200C ||
	       cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
	       (cp >= 0x2060 && cp <= 0x206F) || cp == 0xFEFF;
}

static size_t check_clean_text(const char *s)
{
	size_t n = strlen(s), i = 0, cps = 0;

	FUZZ_ASSERT(utf8_valid(s, n));
	while (i < n) {
		uint32_t cp;
		size_t k = textcheck_utf8_next(s + i, n - i, &cp);

		FUZZ_ASSERT(k > 0 && cp != TEXTCHECK_BAD_CP);
		FUZZ_ASSERT(!dropped(cp));
		i += k;
		cps++;
	}
	return cps;
}

static void check_dedup(const char *s, size_t outlen)
{
	char out[DEDUP_NORM_MAX];
	size_t n = dedup_normalise(s, out, outlen);

	if (outlen == 0)
		return;
	FUZZ_ASSERT(n < outlen && n == strlen(out));
	FUZZ_ASSERT(utf8_valid(out, n));
	FUZZ_ASSERT(textcheck_utf8_count(out) <= DEDUP_NORM_CP);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	char out[TEXTCHECK_OUT_MAX], why[128];
	uint64_t rng = size ? data[0] * 0x9E3779B97F4A7C15ull + 1 : 1;
	char *h;

	check_dedup(s, DEDUP_NORM_MAX);
	check_dedup(s, size ? 1 + data[size - 1] % 32 : 0);
	why[0] = '\0';
	if (textcheck_clean(s, out, sizeof(out), why, sizeof(why)) != 0) {
		FUZZ_ASSERT(why[0] && utf8_valid(why, strlen(why)));
		free(s);
		return 0;
	}
	{
		size_t cps = check_clean_text(out);

		FUZZ_ASSERT(cps >= 1 && cps <= TEXTCHECK_MAX_CP);
	}
	h = humanise(out, NULL, NULL, NULL, &rng);
	FUZZ_ASSERT(h);
	FUZZ_ASSERT(utf8_valid(h, strlen(h)));
	FUZZ_ASSERT(textcheck_utf8_count(h) <= HUMANISE_MAX_CP);
	free(h);
	/* humanise takes raw text too: invalid bytes dropped. */
	h = humanise(s, NULL, NULL, NULL, &rng);
	FUZZ_ASSERT(h);
	FUZZ_ASSERT(utf8_valid(h, strlen(h)));
	FUZZ_ASSERT(textcheck_utf8_count(h) <= HUMANISE_MAX_CP);
	free(h);
	free(s);
	return 0;
}
