/* fuzz_cfg: the config parser (common/cfg.c) on an arbitrary file. The input is
 * written to a temporary file and read by cfg_load, with no PIYASA_* variable
 * set. A loaded config passes cfg_validate, has 1..CFG_MAX_PROVIDERS providers
 * with a base_url and a model, every number inside the range of its key's table,
 * every string NUL-terminated inside its field; a refusal says why (the log
 * cleans the text's bytes, so it need not be UTF-8). */
#include "common/cfg.h"
#include "tests/fuzz/fuzz.h"

#include <unistd.h>

extern char **environ;
static char path[64];

#define IN(v, lo, hi) FUZZ_ASSERT((v) >= (lo) && (v) <= (hi))
#define TERMINATED(f) FUZZ_ASSERT(memchr((f), '\0', sizeof(f)))

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	/* The file alone decides: drop the environment's PIYASA_* variables. */
	for (size_t i = 0; environ[i];)
		if (strncmp(environ[i], "PIYASA_", 7) == 0) {
			char name[128];

			snprintf(name, sizeof(name), "%.*s", (int)strcspn(environ[i], "="), environ[i]);
			unsetenv(name);
		} else {
			i++;
		}
	snprintf(path, sizeof(path), "/tmp/fuzz_cfg.XXXXXX");
	if ((fd = mkstemp(path)) < 0)
		abort();
	close(fd);
	return 0;
}

static void check_cfg(const struct cfg *c)
{
	char err[512];

	FUZZ_ASSERT(cfg_validate(c, err, sizeof(err)) == 0);
	IN(c->workers, 1, 256);
	IN(c->http_port, 0, 65535);
	IN(c->max_inflight, 1, 100000);
	IN(c->pg_connections, 1, 64);
	IN(c->lease_ms, 1000, 3600000);
	IN(c->max_attempts, 1, 100);
	IN(c->telegram_pacing, 0, 1);
	IN(c->nproviders, 1, CFG_MAX_PROVIDERS);
	for (int i = 0; i < c->nproviders; i++) {
		const struct cfg_provider *p = &c->providers[i];

		TERMINATED(p->name);
		TERMINATED(p->base_url);
		TERMINATED(p->model);
		TERMINATED(p->api_key);
		FUZZ_ASSERT(p->base_url[0] && p->model[0]);
		IN(p->timeout_ms, 100, 600000);
		IN(p->rpm, 0, 100000000);
		IN(p->tpm, 0, 2000000000);
		IN(p->daily_tokens, 0, 1LL << 50);
	}
	TERMINATED(c->database_url);
	TERMINATED(c->redis_url);
	TERMINATED(c->redis_prefix);
	TERMINATED(c->telegram_api_url);
	TERMINATED(c->token_key_file);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fopen(path, "w");
	struct cfg c;
	char err[512];

	if (!f || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	err[0] = '\0';
	if (cfg_load(&c, path, err, sizeof(err)) == 0)
		check_cfg(&c);
	else
		FUZZ_ASSERT(err[0] && memchr(err, '\0', sizeof(err)));
	return 0;
}
