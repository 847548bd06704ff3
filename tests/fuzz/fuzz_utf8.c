/* fuzz_utf8: common/utf8.c on arbitrary bytes. utf8_cut and utf8_fmt always
 * give well-formed UTF-8 that fits the buffer and never grows the text;
 * utf8_valid agrees with utf8_char walked over the bytes. */
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"

static int walk_valid(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t k = utf8_char(s + i, n - i);

		if (k == 0 || s[i] == '\0')
			return 0;
		i += k;
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	size_t slen = strlen(s);
	size_t cap = size ? data[0] % 64 : 0;
	char *out = malloc(slen + 1);
	char small[64];
	size_t n;

	FUZZ_ASSERT(utf8_valid((const char *)data, size) == walk_valid((const char *)data, size));

	n = utf8_cut(out, slen + 1, s);
	FUZZ_ASSERT(n == strlen(out) && n <= slen);
	FUZZ_ASSERT(utf8_valid(out, n));
	if (utf8_valid(s, slen))
		FUZZ_ASSERT(n == slen && memcmp(out, s, n) == 0);

	n = utf8_cut(small, cap, s);
	if (cap) {
		FUZZ_ASSERT(n < cap && n == strlen(small));
		FUZZ_ASSERT(utf8_valid(small, n));
	} else {
		FUZZ_ASSERT(n == 0);
	}

	n = utf8_fmt(small, sizeof(small), "x%sy", s);
	FUZZ_ASSERT(n < sizeof(small) && n == strlen(small) && utf8_valid(small, n));

	/* In place. */
	n = utf8_cut(s, slen + 1, s);
	FUZZ_ASSERT(utf8_valid(s, n));
	free(out);
	free(s);
	return 0;
}
