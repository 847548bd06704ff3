/* fuzz_cast: the operator's casts and settings (common/cast.c, common/settings.c)
 * on arbitrary JSON, as `piyasactl import` and `settings set` read them and the
 * worker takes them from PostgreSQL. The input is read as JSON; the whole
 * document goes to cast_check_file and each member to each cast_check_*; every
 * known setting is checked and applied with the member of its name (or the whole
 * document). Refusals say why in valid UTF-8 (issue 19, item 5: the path
 * buffers); a value settings_check accepts, settings_apply takes (what piyasactl
 * writes, the worker reads: issue 19, item 7); a refused value leaves the
 * settings unchanged. */
#include "common/cast.h"
#include "common/settings.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"

#include <jansson.h>

typedef int (*check_fn)(const json_t *, const char *, char *, size_t);

static const check_fn checks[] = {
	cast_check_persona, cast_check_emotion, cast_check_speed,  cast_check_hours,
	cast_check_stance,  cast_check_holding, cast_check_memory, cast_check_topics,
};

static void check_err(int rc, const char *err)
{
	if (rc < 0)
		FUZZ_ASSERT(err[0] && utf8_valid(err, strlen(err)));
}

static void check_settings(const json_t *root)
{
	struct settings s, before;
	char err[512];

	settings_defaults(&s);
	for (size_t i = 0; i < settings_count(); i++) {
		const char *key = settings_key(i);
		const json_t *v = json_is_object(root) && json_object_get(root, key)
					  ? json_object_get(root, key)
					  : root;
		int ck, ap;

		err[0] = '\0';
		ck = settings_check(key, v, err, sizeof(err));
		check_err(ck, err);
		FUZZ_ASSERT(ck == CAST_SETTING_OK || ck == -1); /* every key is known */
		memcpy(&before, &s, sizeof(s));
		err[0] = '\0';
		ap = settings_apply(&s, key, v, err, sizeof(err));
		check_err(ap, err);
		if (ck == CAST_SETTING_OK && ap != 0) {
			fprintf(stderr, "settings_check took %s, settings_apply: %s\n", key, err);
			abort();
		}
		if (ap < 0)
			FUZZ_ASSERT(memcmp(&before, &s, sizeof(s)) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *root = json_loadb((const char *)data, size, JSON_ALLOW_NUL, NULL);
	char err[512];
	const char *key;
	json_t *v;

	if (!root)
		return 0;
	err[0] = '\0';
	check_err(cast_check_file(root, err, sizeof(err)), err);
	if (json_is_object(root))
		json_object_foreach(root, key, v) {
			for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
				err[0] = '\0';
				check_err(checks[i](v, key, err, sizeof(err)), err);
			}
			if (json_is_string(v)) {
				err[0] = '\0';
				check_err(cast_check_token(json_string_value(v), key, err, sizeof(err)),
					  err);
			}
			err[0] = '\0';
			check_err(cast_check_setting(key, v, err, sizeof(err)), err);
		}
	check_settings(root);
	json_decref(root);
	return 0;
}
