/* rurl: see rurl.h. A redis:// URL is read by libcurl's URL parser (CURLU),
 * the one every URL of piyasa is meant to go through: it knows where the
 * userinfo ends, percent-decodes it, reads IPv6 hosts and checks the port. A
 * unix:// URL is read by hand (curl takes its first path segment for a host). */
#include "common/rurl.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *err, size_t el, const char *why)
{
	snprintf(err, el, "redis url: %s", why);
	return -1;
}

static int parse_db(const char *s, int *db)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || *end || v < 0 || v > 1000)
		return -1;
	*db = (int)v;
	return 0;
}

static int parse_unix(struct rurl *u, const char *rest, char *err, size_t el)
{
	const char *q = strchr(rest, '?');
	size_t n = q ? (size_t)(q - rest) : strlen(rest);

	if (n == 0 || n >= sizeof u->path)
		return fail(err, el, "bad socket path");
	memcpy(u->path, rest, n);
	u->path[n] = '\0';
	if (q && (strncmp(q, "?db=", 4) || parse_db(q + 4, &u->db) < 0))
		return fail(err, el, "bad '?db=N'");
	return 0;
}

/* More than one '@' before the host: an '@' of the password was not encoded.
 * Refused rather than guessed (curl would call the rest a bad host name). */
static int stray_at(const char *authority)
{
	size_t n = strcspn(authority, "/?#");
	const char *at = memchr(authority, '@', n);

	return at && memchr(at + 1, '@', n - (size_t)(at + 1 - authority)) != NULL;
}

static int absent(CURLUcode rc)
{
	return rc == CURLUE_NO_HOST || rc == CURLUE_NO_USER || rc == CURLUE_NO_PASSWORD ||
	       rc == CURLUE_NO_PORT || rc == CURLUE_NO_QUERY || rc == CURLUE_NO_FRAGMENT;
}

/* Part what of h into out (n bytes): 0; 1 when the URL has none; -1 when it
 * does not fit or cannot be read (a %00 in the password). */
static int get_part(CURLU *h, CURLUPart what, unsigned flags, char *out, size_t n)
{
	char *v = NULL;
	CURLUcode rc = curl_url_get(h, what, &v, flags);
	size_t len;

	*out = '\0';
	if (rc != CURLUE_OK || !v)
		return absent(rc) ? 1 : -1;
	len = strlen(v);
	if (len >= n) {
		curl_free(v);
		return -1;
	}
	memcpy(out, v, len + 1);
	curl_free(v);
	return 0;
}

/* The host without the brackets of an IPv6 address (hiredis wants it bare). */
static int get_host(CURLU *h, char *out, size_t n)
{
	size_t len;

	if (get_part(h, CURLUPART_HOST, 0, out, n) != 0 || !*out)
		return -1;
	len = strlen(out);
	if (out[0] == '[' && out[len - 1] == ']') {
		memmove(out, out + 1, len - 2);
		out[len - 2] = '\0';
	}
	return 0;
}

/* Host, port, password and database of the parsed URL h. */
static int read_parts(struct rurl *u, CURLU *h, char *err, size_t el)
{
	char port[8], path[16], extra[2];

	if (get_host(h, u->host, sizeof u->host) < 0)
		return fail(err, el, "missing or long host");
	if (get_part(h, CURLUPART_USER, CURLU_URLDECODE, u->user, sizeof u->user) < 0)
		return fail(err, el, "user too long or not decodable");
	if (get_part(h, CURLUPART_PASSWORD, CURLU_URLDECODE, u->password, sizeof u->password) < 0)
		return fail(err, el, "password too long or not decodable");
	if (*u->user && !*u->password)
		return fail(err, el, "a user without a password (redis://user:password@host)");
	if (get_part(h, CURLUPART_PORT, 0, port, sizeof port) == 0 &&
	    ((u->port = atoi(port)) <= 0 || u->port > 65535))
		return fail(err, el, "bad port");
	if (get_part(h, CURLUPART_QUERY, 0, extra, sizeof extra) != 1 ||
	    get_part(h, CURLUPART_FRAGMENT, 0, extra, sizeof extra) != 1)
		return fail(err, el, "unexpected '?' or '#' (the database is /N)");
	if (get_part(h, CURLUPART_PATH, 0, path, sizeof path) < 0 ||
	    (path[0] && path[1] && parse_db(path + 1, &u->db) < 0))
		return fail(err, el, "bad database number");
	return 0;
}

int rurl_parse(struct rurl *u, const char *url, char *err, size_t el)
{
	CURLU *h;
	CURLUcode rc;
	char why[128];
	int r;

	memset(u, 0, sizeof *u);
	u->port = 6379;
	if (strncmp(url, "unix://", 7) == 0)
		return parse_unix(u, url + 7, err, el);
	if (strncmp(url, "rediss://", 9) == 0) {
		snprintf(err, el,
			 "redis url: rediss:// (TLS) is not supported: piyasa's Redis client is "
			 "built without TLS; use redis:// on a private network or a local TLS "
			 "tunnel");
		return -1;
	}
	if (strncmp(url, "redis://", 8)) {
		snprintf(err, el, "redis url must start with redis:// or unix://");
		return -1;
	}
	if (stray_at(url + 8))
		return fail(err, el, "an '@' in the password must be written %40");
	if (!(h = curl_url()))
		return fail(err, el, "out of memory");
	if ((rc = curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME)) != CURLUE_OK) {
		snprintf(why, sizeof why, "%s", curl_url_strerror(rc));
		r = fail(err, el, why);
	} else {
		r = read_parts(u, h, err, el);
	}
	curl_url_cleanup(h);
	return r;
}
