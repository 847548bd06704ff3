/* assets: see assets.h. The table itself is generated (scripts/embed-assets,
 * build/MODE/console/assets_gen.c); this file only looks things up in it. */
#include "console/assets.h"

#include <stdlib.h>
#include <string.h>

const char *const assets_headers[] = {
	"Content-Security-Policy",
	ASSETS_CSP,
	/* X-Content-Type-Options: nosniff is on every answer of api/srv already */
	"Referrer-Policy",
	"no-referrer",
	/* not fingerprinted names: always revalidate, the ETag makes it cheap */
	"Cache-Control",
	"no-cache",
	NULL,
};

static int by_path(const void *key, const void *elem)
{
	return strcmp(key, ((const struct asset *)elem)->path);
}

const struct asset *assets_find(const char *path)
{
	if (!path)
		return NULL;
	return bsearch(path, assets_table, assets_table_len, sizeof assets_table[0], by_path);
}

size_t assets_count(void)
{
	return assets_table_len;
}

const struct asset *assets_at(size_t i)
{
	return i < assets_table_len ? &assets_table[i] : NULL;
}

/* One entity tag of the list at *p, weak prefix dropped; advances *p. */
static int next_tag(const char **p, const char **tag, size_t *len)
{
	const char *s = *p;
	while (*s == ' ' || *s == '\t' || *s == ',')
		s++;
	if (!*s)
		return 0;
	if (s[0] == 'W' && s[1] == '/')
		s += 2;
	const char *start = s;
	if (*s == '"') {
		const char *end = strchr(s + 1, '"');
		s = end ? end + 1 : s + strlen(s);
	} else {
		s += strcspn(s, ", \t");
	}
	*tag = start;
	*len = (size_t)(s - start);
	*p = s;
	return 1;
}

int assets_etag_matches(const struct asset *a, const char *if_none_match)
{
	if (!a || !if_none_match)
		return 0;
	const char *p = if_none_match, *tag;
	size_t len, want = strlen(a->etag);
	while (next_tag(&p, &tag, &len)) {
		/* If-None-Match compares weakly (RFC 9110 13.1.2): W/"x" matches "x" */
		if ((len == 1 && *tag == '*') || (len == want && !memcmp(tag, a->etag, len)))
			return 1;
	}
	return 0;
}
