/* fuzz_auth: common/auth.c on what a login sends (a user name, a TOTP code, a
 * cookie's session id, a CSRF token, a Bearer key) and on what it reads back
 * (a base32 secret, a sealed secret). The input is two strings split at the
 * first NUL. Each check agrees with its definition (a name is 1..64 of
 * a-z0-9_.-, a token 43 base64url characters, auth_equal is strcmp's equality);
 * base32 decodes to what encodes back to it; a code TOTP accepts is 6 to 8
 * digits and is the secret's code at the step it reports; nothing crashes. */
#include "common/auth.h"
#include "tests/fuzz/fuzz.h"

static const unsigned char key[32] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 };

static void check_shapes(const char *s)
{
	size_t n = strlen(s);

	if (auth_name_ok(s)) {
		FUZZ_ASSERT(n >= 1 && n <= 64);
		FUZZ_ASSERT(strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n);
	}
	if (auth_token_ok(s)) {
		FUZZ_ASSERT(n == AUTH_TOKEN_LEN);
		FUZZ_ASSERT(strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				      "0123456789-_") == n);
	}
	if (auth_key_ok(s))
		FUZZ_ASSERT(n == AUTH_KEY_LEN && strncmp(s, "piy_", 4) == 0);
	if (auth_role_parse(s) != AUTH_NONE)
		FUZZ_ASSERT(strcmp(auth_role_name(auth_role_parse(s)), s) == 0);
}

static void check_base32(const char *s)
{
	unsigned char dec[128], dec2[128];
	char enc[300];
	size_t n, n2;

	if (auth_base32_decode(s, dec, sizeof dec, &n) < 0)
		return;
	FUZZ_ASSERT(n <= sizeof dec);
	FUZZ_ASSERT(auth_base32_encode(dec, n, enc, sizeof enc) == 0);
	FUZZ_ASSERT(auth_base32_decode(enc, dec2, sizeof dec2, &n2) == 0);
	FUZZ_ASSERT(n2 == n && memcmp(dec, dec2, n) == 0);
}

static void check_totp(const char *secret, const char *code)
{
	const time_t now = 1700000000;
	uint64_t step = 0;
	char again[16];
	size_t d;

	if (auth_totp_verify(secret, code, now, &step) < 0)
		return;
	d = strlen(code);
	FUZZ_ASSERT(d >= 6 && d <= 8 && strspn(code, "0123456789") == d);
	FUZZ_ASSERT(step + 1 >= (uint64_t)now / 30 && step <= (uint64_t)now / 30 + 1);
	FUZZ_ASSERT(auth_totp_code(secret, (time_t)(step * 30), (unsigned)d, again, sizeof again) == 0);
	FUZZ_ASSERT(strcmp(again, code) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *a = fuzz_str(data, size), *b, out[300];
	size_t na = strlen(a);

	b = na < size ? a + na + 1 : a + na;
	check_shapes(a);
	check_shapes(b);
	FUZZ_ASSERT(auth_equal(a, b) == (strcmp(a, b) == 0));
	check_base32(a);
	check_totp(a, b);
	if (auth_secret_open(key, a, out, sizeof out) == 0)
		FUZZ_ASSERT(memchr(out, '\0', sizeof out));
	free(a);
	return 0;
}
