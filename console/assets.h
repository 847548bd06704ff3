/* assets: the web console's files (console/), compiled into piyasa-api by
 * scripts/embed-assets, so the API serves them from memory: no files, no Node and
 * no network at run time. console/index.html is "/", every other file is
 * "/assets/" + its path under console/ ("/assets/js/app.js"). The console routes
 * with the URL's fragment (#/bots/3), so these are the only paths it needs.
 *
 * The server answers a found asset with 200 (or 304 when assets_etag_matches),
 * its type as Content-Type, its etag as ETag, and the headers of assets_headers;
 * a path not found is the API's 404. */
#ifndef PIYASA_CONSOLE_ASSETS_H
#define PIYASA_CONSOLE_ASSETS_H

#include <stddef.h>

struct asset {
	const char *path;           /* the URL path: "/", "/assets/app.css" */
	const unsigned char *bytes; /* length bytes, then a NUL not counted */
	size_t length;
	const char *type; /* Content-Type, with the charset of text */
	const char *etag; /* strong, quoted: "\"<20 hex of sha256>\"" */
};

/* The asset at a request's path (without its query string), or NULL. Exact
 * match only: no "..", no index.html alias, no trailing slash folding, so no
 * path trick reaches anything but the table. */
const struct asset *assets_find(const char *path);

/* 1 when an If-None-Match header's value names a's ETag (a list, W/ weak forms
 * and "*" as RFC 9110 13.1.2 says): the answer is 304 without a body. 0 for
 * NULL or no match. */
int assets_etag_matches(const struct asset *a, const char *if_none_match);

/* How many assets there are, and the i-th in path order (NULL past the end). */
size_t assets_count(void);
const struct asset *assets_at(size_t i);

/* The security headers every console answer carries. The policy allows scripts,
 * styles, images and connections from the API's own origin only: no inline
 * script or style attribute, no eval, no framing, no plugin. The console's
 * pages are written for it (no inline handlers; styles set through the DOM). */
#define ASSETS_CSP                                                                        \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " \
	"font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "     \
	"form-action 'self'; frame-ancestors 'none'"
/* name, value pairs, NULL-terminated: assets_headers[0] = "Content-Security-Policy". */
extern const char *const assets_headers[];

/* The table scripts/embed-assets writes (sorted by path). */
extern const struct asset assets_table[];
extern const size_t assets_table_len;

#endif
