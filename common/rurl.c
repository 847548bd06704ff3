/* rurl: see rurl.h. */
#include "common/rurl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

	if (n == 0 || n >= sizeof u->path) {
		snprintf(err, el, "redis url: bad socket path");
		return -1;
	}
	memcpy(u->path, rest, n);
	u->path[n] = '\0';
	if (q && (strncmp(q, "?db=", 4) || parse_db(q + 4, &u->db) < 0)) {
		snprintf(err, el, "redis url: bad '?db=N'");
		return -1;
	}
	return 0;
}

int rurl_parse(struct rurl *u, const char *url, char *err, size_t el)
{
	const char *p, *at, *slash, *colon;
	size_t n;

	memset(u, 0, sizeof *u);
	u->port = 6379;
	if (strncmp(url, "unix://", 7) == 0)
		return parse_unix(u, url + 7, err, el);
	if (strncmp(url, "redis://", 8)) {
		snprintf(err, el, "redis url must start with redis:// or unix://");
		return -1;
	}
	p = url + 8;
	slash = strchr(p, '/');
	at = strchr(p, '@');
	if (at && (!slash || at < slash)) {
		const char *pw = memchr(p, ':', (size_t)(at - p));
		pw = pw ? pw + 1 : p;
		n = (size_t)(at - pw);
		if (n >= sizeof u->password) {
			snprintf(err, el, "redis url: password too long");
			return -1;
		}
		memcpy(u->password, pw, n);
		u->password[n] = '\0';
		p = at + 1;
	}
	n = slash ? (size_t)(slash - p) : strlen(p);
	colon = memchr(p, ':', n);
	if (colon) {
		char port[8] = "";
		size_t pl = n - (size_t)(colon - p) - 1;
		if (pl == 0 || pl >= sizeof port) {
			snprintf(err, el, "redis url: bad port");
			return -1;
		}
		memcpy(port, colon + 1, pl);
		u->port = atoi(port);
		if (u->port <= 0 || u->port > 65535) {
			snprintf(err, el, "redis url: bad port");
			return -1;
		}
		n = (size_t)(colon - p);
	}
	if (n == 0 || n >= sizeof u->host) {
		snprintf(err, el, "redis url: missing or long host");
		return -1;
	}
	memcpy(u->host, p, n);
	u->host[n] = '\0';
	if (slash && slash[1] && parse_db(slash + 1, &u->db) < 0) {
		snprintf(err, el, "redis url: bad database number");
		return -1;
	}
	return 0;
}
