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

/* An http(s) URL with a host, as libcurl will read it: 0 or -1 with why. */
static int check_http(const char *url, char *err, size_t n)
{
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL;
	CURLUcode rc;
	int r = -1;

	if (!h) {
		snprintf(err, n, "out of memory");
		return -1;
	}
	if ((rc = curl_url_set(h, CURLUPART_URL, url, 0)) != CURLUE_OK)
		snprintf(err, n, "'%s' is not a URL: %s", url, curl_url_strerror(rc));
	else if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
		 (strcmp(scheme, "http") && strcmp(scheme, "https")))
		snprintf(err, n, "'%s' is not an http:// or https:// URL", url);
	else if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host)
		snprintf(err, n, "'%s' has no host", url);
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
		snprintf(err, n, "%s", why ? why : "out of memory");
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
			snprintf(err, n, "bad port '%s' (1..65535)", i->val);
			PQconninfoFree(o);
			return -1;
		}
	PQconninfoFree(o);
	return 0;
}

/* The first thing refused: its key (provider set for a [provider] key) and why. */
struct finding {
	const char *key;      /* as cfg_key_line names it; NULL: no one key */
	const char *provider; /* the [provider NAME], or NULL */
	char why[512];
};

enum key_mode { KEY_BY_HAND, KEY_AS_WORKERS, KEY_HELD };

/* "ENV_VAR: ", "FILE:LINE: " or "": where the operator changes the refused value. */
static void where_set(const struct cfg *c, const struct finding *f, char *out, size_t n)
{
	const char *env = NULL, *llm = getenv("PIYASA_LLM_BASE_URL");
	int line;

	*out = '\0';
	if (!f->key)
		return;
	if (!f->provider)
		env = cfg_key_env(f->key);
	else if (f->provider == c->providers[0].name && llm && *llm) /* it sets the first's */
		env = "PIYASA_LLM_BASE_URL";
	if (env)
		snprintf(out, n, "%s: ", env);
	else if ((line = cfg_key_line(c->path, f->provider, f->key)) > 0)
		snprintf(out, n, "%s:%d: ", c->path, line);
}

static int check_key(const struct cfg *c, enum key_mode mode, struct finding *f)
{
	unsigned char key[TOK_KEY_BYTES];
	int r;

	if (mode == KEY_HELD)
		return 0;
	/* The key the workers will load, from the same places (tok.h). Run by
	 * hand (as root, no credential directory), the file the unit hands over
	 * with LoadCredential= is the one that matters. */
	r = tok_key_load(key, c->token_key_file, f->why, sizeof f->why);
	if (r < 0 && mode == KEY_BY_HAND && !*c->token_key_file && !getenv("PIYASA_TOKEN_KEY") &&
	    !getenv("CREDENTIALS_DIRECTORY") && access(CFGCHECK_UNIT_KEY, F_OK) == 0)
		r = tok_key_load(key, CFGCHECK_UNIT_KEY, f->why, sizeof f->why);
	sodium_memzero(key, sizeof key);
	if (r < 0 && *c->token_key_file && !getenv("PIYASA_TOKEN_KEY"))
		f->key = "token_key_file"; /* the file named is the one that failed */
	return r;
}

static int check_all(const struct cfg *c, enum key_mode mode, struct finding *f)
{
	struct rurl ru;
	char why[512];

	f->key = f->provider = NULL;
	if (rurl_parse(&ru, c->redis_url, why, sizeof why) < 0) {
		f->key = "redis_url";
		snprintf(f->why, sizeof f->why, "%s", why);
		return -1;
	}
	if (check_database(c->database_url, f->why, sizeof f->why) < 0) {
		f->key = "database_url";
		return -1;
	}
	if (check_http(c->telegram_api_url, f->why, sizeof f->why) < 0) {
		f->key = "telegram.api_url";
		return -1;
	}
	for (int i = 0; i < c->nproviders; i++)
		if (check_http(c->providers[i].base_url, f->why, sizeof f->why) < 0) {
			f->key = "base_url";
			f->provider = c->providers[i].name;
			return -1;
		}
	return check_key(c, mode, f);
}

static int run(const struct cfg *c, enum key_mode mode, char *err, size_t n)
{
	struct finding f;
	char where[320];

	if (check_all(c, mode, &f) == 0)
		return 0;
	where_set(c, &f, where, sizeof where);
	if (f.provider)
		snprintf(err, n, "%s[provider %s] %s: %s", where, f.provider, f.key, f.why);
	else
		snprintf(err, n, "%s%s: %s", where, f.key ? f.key : "token key", f.why);
	return -1;
}

int cfgcheck_run(const struct cfg *c, char *err, size_t n)
{
	return run(c, KEY_BY_HAND, err, n);
}

int cfgcheck_reload(const struct cfg *c, int key_held, char *err, size_t n)
{
	return run(c, key_held ? KEY_HELD : KEY_AS_WORKERS, err, n);
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
