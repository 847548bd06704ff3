/* cfg: see cfg.h. The known keys are one table (name, type, where it lives, bounds,
 * environment variable), so the parser, the environment and the docs agree. */
#include "common/cfg.h"

#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum cfg_type { T_INT, T_STR, T_BOOL, T_LL };

struct cfg_key {
	const char *name; /* as written in the file, "section.key" inside a section */
	enum cfg_type type;
	size_t off;  /* offset in struct cfg or struct cfg_provider */
	size_t size; /* for strings */
	long long min, max;
	const char *env;
};

#define S(f) T_STR, offsetof(struct cfg, f), sizeof(((struct cfg *)0)->f), 0, 0
#define I(f, lo, hi) T_INT, offsetof(struct cfg, f), 0, lo, hi
#define B(f) T_BOOL, offsetof(struct cfg, f), 0, 0, 1

static const struct cfg_key keys[] = {
	{ "workers", I(workers, 1, 256), "PIYASA_WORKERS" },
	{ "database_url", S(database_url), "PIYASA_DATABASE_URL" },
	{ "redis_url", S(redis_url), "PIYASA_REDIS_URL" },
	{ "redis_prefix", S(redis_prefix), "PIYASA_REDIS_PREFIX" },
	{ "http_bind", S(http_bind), "PIYASA_HTTP_BIND" },
	{ "http_port", I(http_port, 0, 65535), "PIYASA_HTTP_PORT" },
	{ "max_inflight", I(max_inflight, 1, 100000), "PIYASA_MAX_INFLIGHT" },
	{ "pg_connections", I(pg_connections, 1, 64), "PIYASA_PG_CONNECTIONS" },
	{ "max_pollers", I(max_pollers, 1, 100000), "PIYASA_MAX_POLLERS" },
	{ "bot_cache_max", I(bot_cache_max, 1, 10000000), "PIYASA_BOT_CACHE_MAX" },
	{ "own_cache_mb", I(own_cache_mb, 1, 65536), "PIYASA_OWN_CACHE_MB" },
	{ "lease_ms", I(lease_ms, 1000, 3600000), NULL },
	{ "max_attempts", I(max_attempts, 1, 100), NULL },
	{ "backoff_base_ms", I(backoff_base_ms, 1, 600000), NULL },
	{ "backoff_max_ms", I(backoff_max_ms, 1, 86400000), NULL },
	{ "heartbeat_ms", I(heartbeat_ms, 50, 60000), NULL },
	{ "worker_timeout_ms", I(worker_timeout_ms, 200, 600000), NULL },
	{ "drain_timeout_ms", I(drain_timeout_ms, 0, 3600000), NULL },
	{ "respawn_max_ms", I(respawn_max_ms, 100, 600000), NULL },
	{ "telegram.api_url", S(telegram_api_url), "PIYASA_TELEGRAM_API_URL" },
	{ "telegram.timeout_ms", I(telegram_timeout_ms, 100, 600000), NULL },
	{ "telegram.pacing", B(telegram_pacing), "PIYASA_TELEGRAM_PACING" },
	{ "telegram.bot_per_second", I(telegram_bot_per_second, 1, 10000), NULL },
	{ "telegram.chat_per_second", I(telegram_chat_per_second, 1, 10000), NULL },
	{ "telegram.group_per_minute", I(telegram_group_per_minute, 1, 100000), NULL },
	{ "log.level", S(log_level), "PIYASA_LOG_LEVEL" },
	{ "log.format", S(log_format), "PIYASA_LOG_FORMAT" },
	{ "token_key_file", S(token_key_file), "PIYASA_TOKEN_KEY_FILE" },
	{ "api.enabled", B(api_enabled), NULL },
	{ "api.listen", S(api_listen), "PIYASA_API_LISTEN" },
	{ "api.cookie_secure", B(api_cookie_secure), NULL },
	{ "api.session_minutes", I(api_session_minutes, 1, 525600), NULL },
	{ "api.max_body_kb", I(api_max_body_kb, 1, 65536), NULL },
	{ "api.max_connections", I(api_max_connections, 1, 100000), NULL },
	{ "api.per_ip_connections", I(api_per_ip_connections, 1, 100000), NULL },
	{ "api.timeout_s", I(api_timeout_s, 1, 3600), NULL },
	{ "api.rate_per_minute", I(api_rate_per_minute, 1, 1000000), NULL },
	{ "api.rate_burst", I(api_rate_burst, 1, 1000000), NULL },
	{ "api.key_rate_per_minute", I(api_key_rate_per_minute, 1, 1000000), NULL },
	{ "api.key_rate_burst", I(api_key_rate_burst, 1, 1000000), NULL },
	{ "api.login_per_minute", I(api_login_per_minute, 1, 10000), NULL },
	{ "api.pg_connections", I(api_pg_connections, 1, 64), NULL },
};

#define PS(f) T_STR, offsetof(struct cfg_provider, f), sizeof(((struct cfg_provider *)0)->f), 0, 0
#define PI(f, lo, hi) T_INT, offsetof(struct cfg_provider, f), 0, lo, hi
static const struct cfg_key provider_keys[] = {
	{ "base_url", PS(base_url), NULL },
	{ "model", PS(model), NULL },
	{ "api_key", PS(api_key), NULL },
	{ "api_key_file", PS(api_key), NULL }, /* special-cased: the value is a path */
	{ "timeout_ms", PI(timeout_ms, 100, 600000), NULL },
	{ "rpm", PI(rpm, 0, 100000000), NULL },
	{ "tpm", PI(tpm, 0, 2000000000), NULL },
	{ "daily_tokens", T_LL, offsetof(struct cfg_provider, daily_tokens), 0, 0,
	  (long long)1 << 50, NULL },
};

#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

int cfg_parse_bool(const char *s)
{
	static const char *const yes[] = { "1", "on", "true", "yes" };
	static const char *const no[] = { "0", "off", "false", "no" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

static void provider_defaults(struct cfg_provider *p, const char *name)
{
	memset(p, 0, sizeof *p);
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->base_url, sizeof p->base_url, "http://127.0.0.1:28080/v1");
	snprintf(p->model, sizeof p->model, "fake-1");
	snprintf(p->api_key, sizeof p->api_key, "fake-key");
	p->timeout_ms = 30000;
}

void cfg_defaults(struct cfg *c)
{
	const char *pg = getenv("PIYASA_PG_PORT"), *rd = getenv("PIYASA_REDIS_PORT");

	memset(c, 0, sizeof *c);
	c->workers = 4;
	/* The local services of scripts/services; their ports follow the same variables. */
	snprintf(c->database_url, sizeof c->database_url,
		 "postgresql://postgres@127.0.0.1:%s/piyasa", pg && *pg ? pg : "25432");
	snprintf(c->redis_url, sizeof c->redis_url, "redis://127.0.0.1:%s", rd && *rd ? rd : "26379");
	snprintf(c->redis_prefix, sizeof c->redis_prefix, "piyasa");
	snprintf(c->http_bind, sizeof c->http_bind, "127.0.0.1");
	c->http_port = 9464;
	c->max_inflight = 256;
	c->pg_connections = 2;
	c->max_pollers = 200;
	c->bot_cache_max = 1000;
	c->own_cache_mb = 4;
	c->lease_ms = 30000;
	c->max_attempts = 5;
	c->backoff_base_ms = 500;
	c->backoff_max_ms = 60000;
	c->heartbeat_ms = 250;
	c->worker_timeout_ms = 10000;
	c->drain_timeout_ms = 15000;
	c->respawn_max_ms = 30000;
	snprintf(c->telegram_api_url, sizeof c->telegram_api_url, "http://127.0.0.1:28080");
	c->telegram_timeout_ms = 10000;
	c->telegram_pacing = 1;
	c->telegram_bot_per_second = 30;
	c->telegram_chat_per_second = 1;
	c->telegram_group_per_minute = 20;
	snprintf(c->log_level, sizeof c->log_level, "info");
	snprintf(c->log_format, sizeof c->log_format, "auto");
	c->api_enabled = 0;
	snprintf(c->api_listen, sizeof c->api_listen, "127.0.0.1:8080");
	c->api_session_minutes = 720;
	c->api_max_body_kb = 256;
	c->api_max_connections = 1000;
	c->api_per_ip_connections = 600; /* a dashboard with many streams is one address */
	c->api_timeout_s = 30;
	c->api_rate_per_minute = 600;
	c->api_rate_burst = 60;
	c->api_key_rate_per_minute = 1200;
	c->api_key_rate_burst = 120;
	c->api_login_per_minute = 5;
	c->api_pg_connections = 2;
	c->nproviders = 1;
	provider_defaults(&c->providers[0], "default");
}

/* Store text into the field described by k inside base. */
static int set_value(void *base, const struct cfg_key *k, const char *v, char *why, size_t wl)
{
	char *end;
	long long n;
	int b;

	switch (k->type) {
	case T_STR:
		if (strlen(v) >= k->size) {
			snprintf(why, wl, "value longer than %zu characters", k->size - 1);
			return -1;
		}
		memcpy((char *)base + k->off, v, strlen(v) + 1);
		return 0;
	case T_BOOL:
		if ((b = cfg_parse_bool(v)) < 0) {
			snprintf(why, wl, "'%s' is not a boolean (on/off)", v);
			return -1;
		}
		*(int *)((char *)base + k->off) = b;
		return 0;
	case T_INT:
	case T_LL:
		errno = 0;
		n = strtoll(v, &end, 10);
		if (errno || end == v || *end) {
			snprintf(why, wl, "'%s' is not a whole number", v);
			return -1;
		}
		if (n < k->min || n > k->max) {
			snprintf(why, wl, "%lld is outside %lld..%lld", n, k->min, k->max);
			return -1;
		}
		if (k->type == T_INT)
			*(int *)((char *)base + k->off) = (int)n;
		else
			*(long long *)((char *)base + k->off) = n;
		return 0;
	}
	return -1;
}

static const struct cfg_key *find_key(const struct cfg_key *tab, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return &tab[i];
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* A value is the rest of the line; "double quotes" keep '#' and spaces; an
 * unquoted value ends at " #". */
static int unquote(char *v, char *why, size_t wl)
{
	char *t = trim(v), *close, *rest;

	if (*t == '"') {
		if (!(close = strchr(t + 1, '"'))) {
			snprintf(why, wl, "unterminated quote");
			return -1;
		}
		rest = trim(close + 1);
		if (*rest && *rest != '#') {
			snprintf(why, wl, "text after the closing quote");
			return -1;
		}
		*close = '\0';
		memmove(v, t + 1, strlen(t + 1) + 1);
		return 0;
	}
	char *hash = strstr(t, " #");
	if (hash)
		*hash = '\0';
	t = trim(t);
	memmove(v, t, strlen(t) + 1);
	return 0;
}

static int read_key_file(char *dst, size_t size, const char *path, char *why, size_t wl)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		snprintf(why, wl, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(dst, 1, size - 1, f);
	fclose(f);
	dst[n] = '\0';
	while (n && isspace((unsigned char)dst[n - 1]))
		dst[--n] = '\0';
	return 0;
}

struct parse_state {
	char section[64];
	struct cfg_provider *provider; /* inside [provider NAME] */
	int saw_provider;
	char prov_where[300];     /* "file:line" of the provider's header */
	int prov_url, prov_model; /* the provider wrote base_url, model */
};

/* A provider of the file must name its endpoint and model: the defaults are the
 * fake API's, which a production file never means. */
static int provider_done(struct parse_state *ps, char *err, size_t errlen)
{
	if (!ps->provider || (ps->prov_url && ps->prov_model))
		return 0;
	snprintf(err, errlen, "%s: [provider %s]: %s missing", ps->prov_where, ps->provider->name,
		 !ps->prov_url && !ps->prov_model ? "base_url and model are"
		 : !ps->prov_url                  ? "base_url is"
						  : "model is");
	return -1;
}

static int parse_section(struct cfg *c, struct parse_state *ps, char *line, char *why, size_t wl)
{
	char *end = strchr(line, ']'), *name;

	if (!end || trim(end + 1)[0]) {
		snprintf(why, wl, "malformed section header");
		return -1;
	}
	*end = '\0';
	name = trim(line + 1);
	ps->provider = NULL;
	if (strncmp(name, "provider", 8) == 0 && isspace((unsigned char)name[8])) {
		char *pname = trim(name + 8);
		if (!*pname || strlen(pname) >= sizeof c->providers[0].name) {
			snprintf(why, wl, "provider needs a short name: [provider NAME]");
			return -1;
		}
		if (!ps->saw_provider)
			c->nproviders = 0; /* the file's list replaces the default provider */
		ps->saw_provider = 1;
		if (c->nproviders == CFG_MAX_PROVIDERS) {
			snprintf(why, wl, "at most %d providers", CFG_MAX_PROVIDERS);
			return -1;
		}
		ps->provider = &c->providers[c->nproviders++];
		ps->prov_url = ps->prov_model = 0;
		provider_defaults(ps->provider, pname);
		snprintf(ps->section, sizeof ps->section, "provider");
		return 0;
	}
	/* [api] turns the admin API on; `enabled = off` inside it turns it off again. */
	if (strcmp(name, "api") == 0)
		c->api_enabled = 1;
	if (strcmp(name, "telegram") && strcmp(name, "log") && strcmp(name, "fleet") &&
	    strcmp(name, "api")) {
		snprintf(why, wl, "unknown section [%s]", name);
		return -1;
	}
	snprintf(ps->section, sizeof ps->section, "%s", strcmp(name, "fleet") ? name : "");
	return 0;
}

static int parse_assignment(struct cfg *c, struct parse_state *ps, char *line, char *key_out,
			    size_t kl, char *why, size_t wl)
{
	char *eq = strchr(line, '='), *key, *val, full[128];
	const struct cfg_key *k;

	snprintf(key_out, kl, "%s", "?");
	if (!eq) {
		snprintf(why, wl, "expected 'key = value'");
		return -1;
	}
	*eq = '\0';
	key = trim(line);
	val = eq + 1;
	snprintf(key_out, kl, "%s", key);
	if (unquote(val, why, wl) < 0)
		return -1;
	if (ps->provider) {
		if (!(k = find_key(provider_keys, NKEYS(provider_keys), key))) {
			snprintf(why, wl, "unknown key in [provider %s]", ps->provider->name);
			return -1;
		}
		ps->prov_url |= strcmp(key, "base_url") == 0;
		ps->prov_model |= strcmp(key, "model") == 0;
		if (strcmp(key, "api_key_file") == 0)
			return read_key_file(ps->provider->api_key, sizeof ps->provider->api_key,
					     val, why, wl);
		return set_value(ps->provider, k, val, why, wl);
	}
	snprintf(full, sizeof full, "%s%s%s", ps->section, *ps->section ? "." : "", key);
	if (!(k = find_key(keys, NKEYS(keys), full))) {
		snprintf(why, wl, "unknown key");
		return -1;
	}
	return set_value(c, k, val, why, wl);
}

/* One whole line of the file (n bytes read): 0, or -1 with err naming
 * path:lineno. */
static int load_line(struct cfg *c, struct parse_state *ps, char *buf, size_t n, const char *where,
		     char *err, size_t errlen)
{
	char why[256], key[128], *line;

	if (strlen(buf) != n) {
		snprintf(err, errlen, "%s: a NUL byte in the line", where);
		return -1;
	}
	line = trim(buf);
	if (!*line || *line == '#' || *line == ';')
		return 0;
	if (*line == '[') {
		if (provider_done(ps, err, errlen) < 0)
			return -1;
		snprintf(ps->prov_where, sizeof ps->prov_where, "%s", where);
		if (parse_section(c, ps, line, why, sizeof why) == 0)
			return 0;
		snprintf(err, errlen, "%s: %s", where, why);
		return -1;
	}
	if (parse_assignment(c, ps, line, key, sizeof key, why, sizeof why) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s: %s", where, key, why);
	return -1;
}

/* Whole lines, however long (a fixed buffer once split a long comment and
 * read its tail as a line of its own). */
static int load_file(struct cfg *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct parse_state ps = { "", NULL, 0, "", 0, 0 };
	char *buf = NULL, where[300];
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, rc = 0;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (n = getline(&buf, &cap, f)) >= 0) {
		snprintf(where, sizeof where, "%s:%d", path, ++lineno);
		rc = load_line(c, &ps, buf, (size_t)n, where, err, errlen);
	}
	if (rc == 0)
		rc = provider_done(&ps, err, errlen);
	if (rc == 0 && ferror(f)) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		rc = -1;
	}
	free(buf);
	fclose(f);
	return rc;
}

static int load_env(struct cfg *c, char *err, size_t errlen)
{
	char why[256];
	const char *v;

	for (size_t i = 0; i < NKEYS(keys); i++) {
		if (!keys[i].env || !(v = getenv(keys[i].env)) || !*v)
			continue;
		if (set_value(c, &keys[i], v, why, sizeof why) < 0) {
			snprintf(err, errlen, "%s: %s", keys[i].env, why);
			return -1;
		}
	}
	/* PIYASA_API_LISTEN alone turns the API on, as the section does. */
	if ((v = getenv("PIYASA_API_LISTEN")) && *v)
		c->api_enabled = 1;
	if ((v = getenv("PIYASA_LLM_BASE_URL")) && *v) {
		if (strlen(v) >= sizeof c->providers[0].base_url) {
			snprintf(err, errlen, "PIYASA_LLM_BASE_URL: too long");
			return -1;
		}
		snprintf(c->providers[0].base_url, sizeof c->providers[0].base_url, "%s", v);
	}
	if ((v = getenv("PIYASA_LLM_API_KEY")) && *v)
		snprintf(c->providers[0].api_key, sizeof c->providers[0].api_key, "%s", v);
	return 0;
}

int cfg_split_listen(const char *listen, char *host, size_t hl, int *port)
{
	const char *colon = strrchr(listen, ':'), *h = listen;
	size_t n;
	char *end;
	long p;

	if (!colon || colon == listen)
		return -1;
	n = (size_t)(colon - listen);
	if (*h == '[') { /* [::1]:8080 */
		if (n < 3 || colon[-1] != ']')
			return -1;
		h++;
		n -= 2;
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (errno || end == colon + 1 || *end || p < 1 || p > 65535)
		return -1;
	if (host) {
		if (n >= hl)
			return -1;
		memcpy(host, h, n);
		host[n] = '\0';
	}
	if (port)
		*port = (int)p;
	return 0;
}

int cfg_validate(const struct cfg *c, char *err, size_t errlen)
{
	const char *where = *c->path ? c->path : "config";

	if (c->nproviders < 1) {
		snprintf(err, errlen, "%s: at least one [provider NAME] is needed", where);
		return -1;
	}
	for (int i = 0; i < c->nproviders; i++)
		if (!*c->providers[i].base_url || !*c->providers[i].model) {
			snprintf(err, errlen, "%s: [provider %s]: base_url and model are required",
				 where, c->providers[i].name);
			return -1;
		}
	if (c->backoff_base_ms > c->backoff_max_ms) {
		snprintf(err, errlen, "%s: backoff_base_ms: larger than backoff_max_ms", where);
		return -1;
	}
	if (c->heartbeat_ms * 2 > c->worker_timeout_ms) {
		snprintf(err, errlen, "%s: worker_timeout_ms: must be at least twice heartbeat_ms",
			 where);
		return -1;
	}
	if (c->api_enabled && cfg_split_listen(c->api_listen, NULL, 0, NULL) < 0) {
		snprintf(err, errlen, "%s: api.listen: '%s' is not HOST:PORT", where, c->api_listen);
		return -1;
	}
	if (log_level_parse(c->log_level) < 0) {
		snprintf(err, errlen, "%s: log.level: unknown level '%s'", where, c->log_level);
		return -1;
	}
	if (strcmp(c->log_format, "auto") && strcmp(c->log_format, "text") &&
	    strcmp(c->log_format, "json") && strcmp(c->log_format, "journal")) {
		snprintf(err, errlen, "%s: log.format: '%s' is not auto, text, json or journal",
			 where, c->log_format);
		return -1;
	}
	return 0;
}

int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen)
{
	cfg_defaults(c);
	if (path && *path) {
		snprintf(c->path, sizeof c->path, "%s", path);
		if (load_file(c, path, err, errlen) < 0)
			return -1;
	}
	if (load_env(c, err, errlen) < 0)
		return -1;
	return cfg_validate(c, err, errlen);
}

/* A line's section header: the section ("" for [fleet], "provider"), and for
 * [provider NAME] its name. 0, or -1 when line is no well-formed header. */
static int header_of(char *line, char *sect, size_t sl, char *prov, size_t pl)
{
	char *end = strchr(line, ']'), *name;

	if (*line != '[' || !end)
		return -1;
	*end = '\0';
	name = trim(line + 1);
	*prov = '\0';
	if (strncmp(name, "provider", 8) == 0 && isspace((unsigned char)name[8])) {
		snprintf(prov, pl, "%s", trim(name + 8));
		name = "provider";
	}
	snprintf(sect, sl, "%s", strcmp(name, "fleet") ? name : "");
	return 0;
}

int cfg_key_line(const char *path, const char *provider, const char *key)
{
	FILE *f = path && *path ? fopen(path, "r") : NULL;
	char *buf = NULL, sect[64] = "", prov[64] = "", full[192];
	size_t cap = 0;
	int lineno = 0, found = 0;

	if (!f)
		return 0;
	while (getline(&buf, &cap, f) >= 0) {
		char *line = trim(buf), *eq;

		lineno++;
		if (*line == '[') {
			header_of(line, sect, sizeof sect, prov, sizeof prov);
			continue;
		}
		if (!*line || *line == '#' || *line == ';' || !(eq = strchr(line, '=')))
			continue;
		*eq = '\0';
		line = trim(line);
		if (provider) {
			if (strcmp(sect, "provider") == 0 && strcmp(prov, provider) == 0 &&
			    strcmp(line, key) == 0)
				found = lineno;
			continue;
		}
		if (strcmp(sect, "provider") == 0)
			continue;
		snprintf(full, sizeof full, "%s%s%s", sect, *sect ? "." : "", line);
		if (strcmp(full, key) == 0)
			found = lineno;
	}
	free(buf);
	fclose(f);
	return found;
}

const char *cfg_key_env(const char *key)
{
	const struct cfg_key *k = find_key(keys, NKEYS(keys), key);
	const char *v;

	if (!k || !k->env || !(v = getenv(k->env)) || !*v)
		return NULL;
	return k->env;
}

/* One key's value as the file would write it. */
static void format_value(const void *base, const struct cfg_key *k, char *out, size_t n)
{
	const char *p = (const char *)base + k->off;

	switch (k->type) {
	case T_STR: snprintf(out, n, "%s", p); break;
	case T_BOOL: snprintf(out, n, "%s", *(const int *)p ? "on" : "off"); break;
	case T_INT: snprintf(out, n, "%d", *(const int *)p); break;
	case T_LL: snprintf(out, n, "%lld", *(const long long *)p); break;
	}
}

static void dump_key(FILE *f, const void *base, const struct cfg_key *k, const char *name,
		     cfg_mask_fn mask)
{
	char v[1024], m[1024];

	format_value(base, k, v, sizeof v);
	if (mask && mask(k->name, v, m, sizeof m))
		snprintf(v, sizeof v, "%s", m);
	/* Quoted when the parser would otherwise cut or trim it. */
	if (!*v || strstr(v, " #") || isspace((unsigned char)v[0]) ||
	    isspace((unsigned char)v[strlen(v) - 1]) || v[0] == '"')
		fprintf(f, "%s = \"%s\"\n", name, v);
	else
		fprintf(f, "%s = %s\n", name, v);
}

void cfg_dump(const struct cfg *c, FILE *f, cfg_mask_fn mask)
{
	static const char *const sections[] = { "telegram", "log", "api" };

	for (size_t i = 0; i < NKEYS(keys); i++)
		if (!strchr(keys[i].name, '.'))
			dump_key(f, c, &keys[i], keys[i].name, mask);
	for (size_t s = 0; s < NKEYS(sections); s++) {
		size_t sl = strlen(sections[s]);

		fprintf(f, "\n[%s]\n", sections[s]);
		for (size_t i = 0; i < NKEYS(keys); i++)
			if (strncmp(keys[i].name, sections[s], sl) == 0 && keys[i].name[sl] == '.')
				dump_key(f, c, &keys[i], keys[i].name + sl + 1, mask);
	}
	for (int p = 0; p < c->nproviders; p++) {
		fprintf(f, "\n[provider %s]\n", c->providers[p].name);
		/* api_key_file was read into api_key: the key is shown (masked) instead. */
		for (size_t i = 0; i < NKEYS(provider_keys); i++)
			if (strcmp(provider_keys[i].name, "api_key_file"))
				dump_key(f, &c->providers[p], &provider_keys[i],
					 provider_keys[i].name, mask);
	}
}
