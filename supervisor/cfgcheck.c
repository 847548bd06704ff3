/* cfgcheck: see cfgcheck.h. */
#include "supervisor/cfgcheck.h"

#include "common/rurl.h"
#include "common/tok.h"

#include <curl/curl.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MASK "****"
/* LoadCredential=token_key:... in systemd/piyasa.service.in */
#define CFGCHECK_UNIT_KEY "/etc/piyasa/token_key"

/* An http(s) URL with a host, as libcurl will read it: 0 or -1 with err. */
static int check_http(const char *key, const char *url, char *err, size_t n)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL;
	CURLUcode rc;
	int r = -1;

	if (!h) {
		snprintf(err, n, "%s: out of memory", key);
		return -1;
	}
	if ((rc = curl_url_set(h, CURLUPART_URL, url, 0)) != CURLUE_OK)
		snprintf(err, n, "%s: '%s' is not a URL: %s", key, url, curl_url_strerror(rc));
	else if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		 (strcmp(scheme, "http") && strcmp(scheme, "https")))
		snprintf(err, n, "%s: '%s' is not an http:// or https:// URL", key, url);
	else if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		snprintf(err, n, "%s: '%s' has no host", key, url);
	else
		r = 0;
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(h);
	return r;
}

/* "5432" or "5432,5433" (one per host); an empty item takes libpq's default. */
static int good_ports(const char *v)
{
	const char *p = v;

	while (*p) {
		char *end;
		long port = strtol(p, &end, 10);

		if (end == p && (*p == ',' || !*p)) {
			p = *p ? p + 1 : p;
			continue;
		}
		if (end == p || port < 1 || port > 65535 || (*end && *end != ','))
			return 0;
		p = *end ? end + 1 : end;
	}
	return 1;
}

static int check_database(const char *url, char *err, size_t n)
{
	char *why = NULL;
	PQconninfoOption *o = PQconninfoParse(url, &why);

	if (!o) {
		snprintf(err, n, "database_url: %s", why ? why : "out of memory");
		if (why) {
			/* libpq's messages end with a newline. */
			size_t l = strlen(err);
			if (l && err[l - 1] == '\n')
				err[l - 1] = '\0';
		}
		PQfreemem(why);
		return -1;
	}
	for (PQconninfoOption *i = o; i->keyword; i++)
		if (strcmp(i->keyword, "port") == 0 && i->val && !good_ports(i->val)) {
			snprintf(err, n, "database_url: bad port '%s' (1..65535)", i->val);
			PQconninfoFree(o);
			return -1;
		}
	PQconninfoFree(o);
	return 0;
}

int cfgcheck_run(const struct cfg *c, char *err, size_t n)
{
	unsigned char key[TOK_KEY_BYTES];
	struct rurl ru;
	char why[512], name[64];
	int r;

	if (rurl_parse(&ru, c->redis_url, why, sizeof why) < 0) {
		snprintf(err, n, "redis_url: %s", why);
		return -1;
	}
	if (check_database(c->database_url, err, n) < 0 ||
	    check_http("telegram.api_url", c->telegram_api_url, err, n) < 0)
		return -1;
	for (int i = 0; i < c->nproviders; i++) {
		snprintf(name, sizeof name, "[provider %s] base_url", c->providers[i].name);
		if (check_http(name, c->providers[i].base_url, err, n) < 0)
			return -1;
	}
	/* The key the workers will load, from the same places (tok.h). Run by
	 * hand (as root, no credential directory), the file the unit hands over
	 * with LoadCredential= is the one that matters. */
	r = tok_key_load(key, c->token_key_file, why, sizeof why);
	if (r < 0 && !*c->token_key_file && !getenv("PIYASA_TOKEN_KEY") &&
	    !getenv("CREDENTIALS_DIRECTORY") && access(CFGCHECK_UNIT_KEY, F_OK) == 0)
		r = tok_key_load(key, CFGCHECK_UNIT_KEY, why, sizeof why);
	sodium_memzero(key, sizeof key);
	if (r < 0) {
		snprintf(err, n, "token key: %s", why);
		return -1;
	}
	return 0;
}

/* A URL with its password replaced; 0 when it has none (or is no URL). */
static int mask_url(const char *v, char *out, size_t n)
{
	CURLU *h = curl_url();
	char *pw = NULL, *s = NULL;
	int r = 0;

	if (h && curl_url_set(h, CURLUPART_URL, v, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_PASSWORD, &pw, 0) == CURLUE_OK && *pw &&
	    curl_url_set(h, CURLUPART_PASSWORD, MASK, 0) == CURLUE_OK &&
	    curl_url_get(h, CURLUPART_URL, &s, 0) == CURLUE_OK) {
		snprintf(out, n, "%s", s);
		r = 1;
	}
	curl_free(pw);
	curl_free(s);
	curl_url_cleanup(h);
	return r;
}

/* A conninfo with a password (in the userinfo, a parameter or key=value) is
 * written back as key=value, from libpq's own parse, with the password masked. */
static int mask_conninfo(const char *v, char *out, size_t n)
{
	PQconninfoOption *o = PQconninfoParse(v, NULL);
	int has = 0;
	size_t len = 0;

	if (!o)
		return 0;
	for (PQconninfoOption *i = o; i->keyword; i++)
		has |= strcmp(i->keyword, "password") == 0 && i->val && *i->val;
	if (has) {
		*out = '\0';
		for (PQconninfoOption *i = o; i->keyword && len < n; i++) {
			if (!i->val)
				continue;
			len += (size_t)snprintf(out + len, n - len, "%s%s=%s", len ? " " : "",
						i->keyword,
						strcmp(i->keyword, "password") ? i->val : MASK);
		}
	}
	PQconninfoFree(o);
	return has;
}

int cfgcheck_mask(const char *key, const char *value, char *out, size_t n)
{
	if (strcmp(key, "api_key") == 0) {
		snprintf(out, n, "%s", *value ? MASK : "");
		return 1;
	}
	if (strcmp(key, "database_url") == 0)
		return mask_conninfo(value, out, n);
	if (strstr(key, "url"))
		return mask_url(value, out, n);
	return 0;
}
