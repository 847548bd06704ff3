/* cfgcheck: what `supervisor -t` checks beyond the parser, so a configuration
 * it passes is one the workers accept: every URL read by the library that will
 * use it (libcurl's URL API for the Redis and HTTP URLs, libpq's
 * PQconninfoParse for the database), and the token key present and well
 * formed. Nothing is connected to: -t runs before start and before reload,
 * when the services may well be down. */
#ifndef PIYASA_CFGCHECK_H
#define PIYASA_CFGCHECK_H

#include "common/cfg.h"

#include <stddef.h>

/* 0, or -1 with "key: why" in err for the first thing the workers would refuse,
 * led by where the key was set: "FILE:LINE: " (the line of c->path that sets it,
 * read again), or "ENV_VAR: " when the environment set it. */
int cfgcheck_run(const struct cfg *c, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The same checks in the running supervisor, on a reload: key_held says it holds
 * PIYASA_TOKEN_KEY in a descriptor for its workers (tok_env_to_fd), which they
 * read instead of any file, so the key is not looked for. Otherwise the key is
 * looked for only where the workers look (not the unit's file, as -t by hand
 * does). */
int cfgcheck_reload(const struct cfg *c, int key_held, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* cfg_dump's mask: passwords in URLs and conninfo strings and API keys become
 * "****". */
int cfgcheck_mask(const char *key, const char *value, char *out, size_t n);

#endif
