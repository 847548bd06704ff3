/* fuzz_rss: news feeds (worker/chat/rss.c) on arbitrary bytes. A parsed feed
 * has at most RSS_MAX_ITEMS items, each with a title that is non-empty, valid
 * UTF-8, at most RSS_TITLE_MAX bytes, one line (no control character: a title
 * goes into a prompt's data line) with no space at either end; a link, when
 * there is one, is valid UTF-8. rss_pick gives -1 or an index of the array.
 * The date parsers and the topic match take the input as text without harm. */
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"
#include "worker/chat/rss.h"

static void check_title(const char *t)
{
	size_t n = strlen(t);

	FUZZ_ASSERT(n > 0 && n <= RSS_TITLE_MAX);
	FUZZ_ASSERT(utf8_valid(t, n));
	FUZZ_ASSERT(t[0] != ' ' && t[n - 1] != ' ');
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT((unsigned char)t[i] >= 0x20 && t[i] != 0x7F);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rss_item *items = (struct rss_item *)1;
	size_t n = 99999;
	char err[256];
	char *s;

	err[0] = '\0';
	if (rss_parse((const char *)data, size, &items, &n, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(n <= RSS_MAX_ITEMS);
		FUZZ_ASSERT(n > 0 || items == NULL);
		for (size_t i = 0; i < n; i++) {
			check_title(items[i].title);
			if (items[i].link)
				FUZZ_ASSERT(utf8_valid(items[i].link, strlen(items[i].link)));
		}
		for (int64_t now = 0; now < 4; now++) {
			uint64_t rng = 42;
			int k = rss_pick(items, n, now & 1 ? "BIST" : "Kripto",
					 now * 1700000000000LL, now & 2 ? &rng : NULL);

			FUZZ_ASSERT(k == -1 || (k >= 0 && (size_t)k < n));
		}
		rss_items_free(items, n);
	} else {
		FUZZ_ASSERT(err[0] && utf8_valid(err, strlen(err)));
	}
	s = fuzz_str(data, size);
	(void)rss_date_rfc822(s);
	(void)rss_date_rfc3339(s);
	(void)rss_topic_match(s, "BIST");
	(void)rss_topic_match("Borsa İstanbul'da hisseler yükseldi", s);
	free(s);
	return 0;
}
