/* fuzz_rurl: common/rurl.c on arbitrary URLs. A parsed URL has a port in
 * 0..65535 (0 for a unix socket), a database >= 0, every field NUL-terminated
 * inside its buffer, a user only with a password (AUTH user password); a refusal says why in an error that is valid UTF-8. */
#include "common/rurl.h"
#include "common/utf8.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size);
	struct rurl u;
	char err[256];

	memset(&u, 0x5a, sizeof(u));
	err[0] = '\0';
	if (rurl_parse(&u, s, err, sizeof(err)) == 0) {
		FUZZ_ASSERT(memchr(u.host, '\0', sizeof(u.host)));
		FUZZ_ASSERT(memchr(u.path, '\0', sizeof(u.path)));
		FUZZ_ASSERT(memchr(u.password, '\0', sizeof(u.password)));
		FUZZ_ASSERT(memchr(u.user, '\0', sizeof(u.user)));
		FUZZ_ASSERT(!u.user[0] || u.password[0]);
		FUZZ_ASSERT(u.port >= 0 && u.port <= 65535);
		FUZZ_ASSERT(u.db >= 0);
		FUZZ_ASSERT(u.host[0] || u.path[0]);
	} else {
		FUZZ_ASSERT(err[0]);
		FUZZ_ASSERT(utf8_valid(err, strlen(err)));
	}
	free(s);
	return 0;
}
