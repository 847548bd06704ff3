/* cfg: the configuration every binary reads.
 *
 * Sources, weakest first: built-in defaults (which run against the local services
 * of scripts/services), the file (`key = value`, `# comments`, `[section]`,
 * `[provider NAME]` once per LLM provider, in order of preference), then the
 * environment (PIYASA_*). Command-line flags are applied by the caller and win.
 * An unknown key or a bad value is an error naming the file, line and key.
 * The struct is plain data: callers read its fields and copy it freely. */
#ifndef PIYASA_CFG_H
#define PIYASA_CFG_H

#include <stddef.h>
#include <stdio.h>

#define CFG_MAX_PROVIDERS 8

struct cfg_provider {
	char name[32];
	char base_url[256]; /* OpenAI-compatible, e.g. https://api.openai.com/v1 */
	char model[64];
	char api_key[256]; /* literal, or read from api_key_file */
	int timeout_ms;
	int rpm;                /* requests per minute, 0 = unlimited */
	int tpm;                /* tokens per minute, 0 = unlimited */
	long long daily_tokens; /* 0 = unlimited */
};

struct cfg {
	char path[256]; /* the file read, "" for defaults only */
	int workers;
	char database_url[512];
	char redis_url[256];
	char redis_prefix[32];
	char http_bind[64];
	int http_port;
	int max_inflight;
	int pg_connections; /* per worker: commits on several overlap */
	int max_pollers;    /* getUpdates in flight per worker; more bots take turns */
	int bot_cache_max;  /* bot profiles cached per worker (LRU) */
	int own_cache_mb;   /* the bots' own recent messages cached per worker */
	int lease_ms;
	int max_attempts;
	int backoff_base_ms;
	int backoff_max_ms;
	int heartbeat_ms;
	int worker_timeout_ms;
	int drain_timeout_ms;
	int respawn_max_ms;
	char telegram_api_url[256];
	int telegram_timeout_ms;
	int telegram_pacing;           /* 0 = off (benchmarks against the fake) */
	int telegram_bot_per_second;   /* sends per bot, all chats */
	int telegram_chat_per_second;  /* sends per bot and chat */
	int telegram_group_per_minute; /* sends per bot and group, any 60 s */
	int nproviders;
	struct cfg_provider providers[CFG_MAX_PROVIDERS];
	char log_level[16];
	char log_format[16];
	char token_key_file[256];
	/* [api]: the admin API (piyasa-api), off unless the section is there */
	int api_enabled;
	char api_listen[80];        /* host:port, IPv6 as [::1]:8080 */
	int api_cookie_secure;      /* Secure on the session cookie (TLS in front) */
	int api_session_minutes;    /* a session's life */
	int api_max_body_kb;        /* a larger body is refused with 413 */
	int api_max_connections;    /* in all */
	int api_per_ip_connections; /* per client address */
	int api_timeout_s;          /* an idle or slow connection is closed */
	int api_rate_per_minute;    /* requests per client address (token bucket) */
	int api_rate_burst;
	int api_key_rate_per_minute; /* requests per API key or session user */
	int api_key_rate_burst;
	int api_login_per_minute; /* login attempts per user name and per address */
	int api_pg_connections;
};

/* Fill c from defaults, then path (NULL: no file), then the environment.
 * Returns 0, or -1 with "file:line: key: why" (or "ENV_VAR: why") in err. */
int cfg_load(struct cfg *c, const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* The line of path that sets key, for a message an operator acts on: the last
 * one (a later line wins, as in cfg_load), 0 when no line does or path cannot
 * be read. key is as cfg_dump names it ("redis_url", "telegram.api_url"); with
 * provider set, a key of [provider PROVIDER] ("base_url"). */
int cfg_key_line(const char *path, const char *provider, const char *key);
/* The environment variable that sets key, when it is set (it wins over the
 * file), else NULL. */
const char *cfg_key_env(const char *key);

/* Defaults only (no file, no environment). */
void cfg_defaults(struct cfg *c);

/* Check values that depend on each other; -1 with a message naming the key. */
int cfg_validate(const struct cfg *c, char *err, size_t errlen) __attribute__((warn_unused_result));

/* A value about to be printed by cfg_dump: key ("redis_url", "telegram.api_url",
 * "api_key" in a provider) and its text; return 1 with the replacement in out
 * (a secret masked), 0 to print it as is. */
typedef int (*cfg_mask_fn)(const char *key, const char *value, char *out, size_t n);

/* Every key with its effective value, in the file's syntax and sections (what
 * `supervisor -T` prints), each value passed through mask when it is not NULL. */
void cfg_dump(const struct cfg *c, FILE *f, cfg_mask_fn mask);
/* "host:port" or "[v6]:port" into host (without brackets) and port; host and
 * port may be NULL to only check. 0, or -1 when it is not that shape. */
int cfg_split_listen(const char *listen, char *host, size_t hl, int *port);

/* Parse "on/off/true/false/yes/no/1/0"; -1 when it is none of those. */
int cfg_parse_bool(const char *s);

#endif
