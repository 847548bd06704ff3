/* test_auth: what a login relies on: a password round-trips and a wrong one is
 * refused, tokens and keys are unique and of their shape, their hashes are
 * stable and not the token, TOTP gives RFC 6238's codes (its test vectors at
 * their fixed times) and accepts one step of clock skew but not two, base32 is
 * RFC 4648's, and a sealed TOTP secret opens only with its key. */
#include "common/auth.h"
#include "tests/check_main.h"

#include <check.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

START_TEST(roles)
{
	ck_assert_int_eq(auth_role_parse("viewer"), AUTH_VIEWER);
	ck_assert_int_eq(auth_role_parse("operator"), AUTH_OPERATOR);
	ck_assert_int_eq(auth_role_parse("admin"), AUTH_ADMIN);
	ck_assert_int_eq(auth_role_parse("Admin"), AUTH_NONE);
	ck_assert_int_eq(auth_role_parse("root"), AUTH_NONE);
	ck_assert_int_eq(auth_role_parse(""), AUTH_NONE);
	ck_assert_int_eq(auth_role_parse(NULL), AUTH_NONE);
	ck_assert_str_eq(auth_role_name(AUTH_OPERATOR), "operator");
	ck_assert_str_eq(auth_role_name(AUTH_NONE), "");
	ck_assert(auth_role_allows(AUTH_ADMIN, AUTH_OPERATOR));
	ck_assert(auth_role_allows(AUTH_OPERATOR, AUTH_OPERATOR));
	ck_assert(auth_role_allows(AUTH_OPERATOR, AUTH_VIEWER));
	ck_assert(!auth_role_allows(AUTH_VIEWER, AUTH_OPERATOR));
	ck_assert(!auth_role_allows(AUTH_OPERATOR, AUTH_ADMIN));
	ck_assert(!auth_role_allows(AUTH_NONE, AUTH_VIEWER));
}
END_TEST

START_TEST(names)
{
	char long_name[80];

	ck_assert(auth_name_ok("alice"));
	ck_assert(auth_name_ok("ops.team-1_a"));
	ck_assert(!auth_name_ok(""));
	ck_assert(!auth_name_ok("Alice"));
	ck_assert(!auth_name_ok("al ice"));
	ck_assert(!auth_name_ok("al:ice"));
	ck_assert(!auth_name_ok("ali\xc3\xa7"));
	ck_assert(!auth_name_ok(NULL));
	memset(long_name, 'a', 64);
	long_name[64] = '\0';
	ck_assert(auth_name_ok(long_name));
	long_name[64] = 'a';
	long_name[65] = '\0';
	ck_assert(!auth_name_ok(long_name));
}
END_TEST

START_TEST(password_round_trip)
{
	char h1[AUTH_PASS_HASH_MAX], h2[AUTH_PASS_HASH_MAX], err[256];

	ck_assert_int_eq(auth_pass_hash("correct horse battery", h1, err, sizeof err), 0);
	ck_assert_int_eq(auth_pass_hash("correct horse battery", h2, err, sizeof err), 0);
	ck_assert_msg(strncmp(h1, "$argon2id$", 10) == 0, "not Argon2id: %.12s", h1);
	ck_assert(strstr(h1, "correct") == NULL);
	ck_assert_str_ne(h1, h2); /* salted */
	ck_assert_int_eq(auth_pass_verify(h1, "correct horse battery"), 0);
	ck_assert_int_eq(auth_pass_verify(h2, "correct horse battery"), 0);
	ck_assert_int_eq(auth_pass_needs_rehash(h1), 0);
}
END_TEST

START_TEST(password_refused)
{
	char h[AUTH_PASS_HASH_MAX], err[256], big[AUTH_PASS_MAX + 2];

	ck_assert_int_eq(auth_pass_hash("correct horse battery", h, err, sizeof err), 0);
	ck_assert_int_eq(auth_pass_verify(h, "correct horse batterY"), -1);
	ck_assert_int_eq(auth_pass_verify(h, ""), -1);
	ck_assert_int_eq(auth_pass_verify("not a hash", "correct horse battery"), -1);
	ck_assert_int_eq(auth_pass_verify("", ""), -1);
	ck_assert_int_eq(auth_pass_verify(NULL, "x"), -1);
	ck_assert_int_eq(auth_pass_needs_rehash("not a hash"), -1);

	ck_assert_int_eq(auth_pass_hash("short", h, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "too short"));
	ck_assert(strstr(err, "short\"") == NULL);
	ck_assert_int_eq(auth_pass_hash("tab\there-long", h, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "control"));
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	ck_assert_int_eq(auth_pass_hash(big, h, err, sizeof err), -1);
	ck_assert_ptr_nonnull(strstr(err, "too long"));
	/* UTF-8 is fine. */
	ck_assert_int_eq(auth_pass_check("şifre-çok-gizli", err, sizeof err), 0);
}
END_TEST

START_TEST(password_of_no_user)
{
	ck_assert_int_eq(auth_pass_verify_none("correct horse battery"), -1);
	ck_assert_int_eq(auth_pass_verify_none(""), -1);
	ck_assert_int_eq(auth_pass_verify_none(NULL), -1);
}
END_TEST

START_TEST(generated_password)
{
	char a[AUTH_GEN_PASS_SIZE], b[AUTH_GEN_PASS_SIZE], err[128];

	auth_pass_generate(a);
	auth_pass_generate(b);
	ck_assert_uint_eq(strlen(a), 24);
	ck_assert_str_ne(a, b);
	ck_assert_int_eq(auth_pass_check(a, err, sizeof err), 0);
}
END_TEST

static int cmp_token(const void *a, const void *b)
{
	return strcmp(a, b);
}

START_TEST(tokens_unique_and_shaped)
{
	enum { N = 2000 };
	static char seen[N][AUTH_TOKEN_SIZE];

	for (int i = 0; i < N; i++) {
		auth_token_new(seen[i]);
		ck_assert_uint_eq(strlen(seen[i]), 43);
		ck_assert(auth_token_ok(seen[i]));
		ck_assert(strpbrk(seen[i], "+/=") == NULL);
	}
	/* Sorted, a repeat would sit next to its twin. */
	qsort(seen, N, sizeof seen[0], cmp_token);
	for (int i = 1; i < N; i++)
		if (strcmp(seen[i - 1], seen[i]) == 0)
			ck_abort_msg("token %d repeated", i);
	ck_assert(!auth_token_ok(""));
	ck_assert(!auth_token_ok("abc"));
	ck_assert(!auth_token_ok("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+"));
	ck_assert(!auth_token_ok("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	ck_assert(auth_token_ok("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-"));
}
END_TEST

START_TEST(keys)
{
	char k1[AUTH_KEY_SIZE], k2[AUTH_KEY_SIZE], hint[AUTH_KEY_HINT_SIZE];

	auth_key_new(k1);
	auth_key_new(k2);
	ck_assert_uint_eq(strlen(k1), 47);
	ck_assert_int_eq(strncmp(k1, "piy_", 4), 0);
	ck_assert(auth_key_ok(k1));
	ck_assert_str_ne(k1, k2);
	auth_key_hint(k1, hint);
	ck_assert_uint_eq(strlen(hint), 8);
	ck_assert_int_eq(strncmp(hint, k1, 8), 0);
	ck_assert(!auth_key_ok(k1 + 4));
	ck_assert(!auth_key_ok("pix_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
	auth_key_hint("piy_ab", hint);
	ck_assert_str_eq(hint, "piy_ab");
}
END_TEST

START_TEST(token_hash)
{
	char t[AUTH_TOKEN_SIZE], h1[AUTH_HASH_HEX_SIZE], h2[AUTH_HASH_HEX_SIZE];
	unsigned char raw[32];
	char want[AUTH_HASH_HEX_SIZE];

	auth_token_new(t);
	auth_token_hash(t, h1);
	auth_token_hash(t, h2);
	ck_assert_str_eq(h1, h2);
	ck_assert_uint_eq(strlen(h1), 64);
	ck_assert(strspn(h1, "0123456789abcdef") == 64);
	ck_assert(strstr(h1, t) == NULL);
	t[0] = t[0] == 'A' ? 'B' : 'A';
	auth_token_hash(t, h2);
	ck_assert_str_ne(h1, h2);
	/* BLAKE2b-256 of "abc", unkeyed (RFC 7693's algorithm, 32-byte output). */
	auth_token_hash("abc", h1);
	crypto_generichash(raw, sizeof raw, (const unsigned char *)"abc", 3, NULL, 0);
	sodium_bin2hex(want, sizeof want, raw, sizeof raw);
	ck_assert_str_eq(h1, want);
	ck_assert_str_eq(h1, "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319");
}
END_TEST

START_TEST(constant_time_equal)
{
	ck_assert(auth_equal("abc", "abc"));
	ck_assert(auth_equal("", ""));
	ck_assert(!auth_equal("abc", "abd"));
	ck_assert(!auth_equal("abc", "abcd"));
	ck_assert(!auth_equal("abc", NULL));
	ck_assert(!auth_equal(NULL, NULL));
}
END_TEST

/* RFC 4648 section 10, without the padding (which the decoder accepts). */
START_TEST(base32_vectors)
{
	static const char *const plain[] = { "f", "fo", "foo", "foob", "fooba", "foobar" };
	static const char *const enc[] = { "MY",      "MZXQ",     "MZXW6",
					   "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI" };
	static const char *const padded[] = { "MY======", "MZXQ====", "MZXW6===",
					      "MZXW6YQ=", "MZXW6YTB", "MZXW6YTBOI======" };
	char out[64];
	unsigned char dec[64];
	size_t n;

	for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
		ck_assert_int_eq(auth_base32_encode((const unsigned char *)plain[i],
						    strlen(plain[i]), out, sizeof out),
				 0);
		ck_assert_str_eq(out, enc[i]);
		ck_assert_int_eq(auth_base32_decode(enc[i], dec, sizeof dec, &n), 0);
		ck_assert_uint_eq(n, strlen(plain[i]));
		ck_assert_int_eq(memcmp(dec, plain[i], n), 0);
		ck_assert_int_eq(auth_base32_decode(padded[i], dec, sizeof dec, &n), 0);
		ck_assert_uint_eq(n, strlen(plain[i]));
	}
	/* As people type it: lower case, in groups. */
	ck_assert_int_eq(auth_base32_decode("mzxw 6ytb oi", dec, sizeof dec, &n), 0);
	ck_assert_uint_eq(n, 6);
	ck_assert_int_eq(memcmp(dec, "foobar", 6), 0);
	ck_assert_int_eq(auth_base32_decode("MZXW1", dec, sizeof dec, &n), -1);
	ck_assert_int_eq(auth_base32_decode("", dec, sizeof dec, &n), -1);
	ck_assert_int_eq(auth_base32_decode("MZXW6YTBOI", dec, 3, &n), -1);
	ck_assert_int_eq(auth_base32_encode((const unsigned char *)"foobar", 6, out, 5), -1);
}
END_TEST

/* RFC 6238 appendix B, HMAC-SHA1: the seed "12345678901234567890", 8 digits. */
#define RFC_SECRET "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
static const struct {
	time_t t;
	const char *code;
} rfc[] = {
	{ 59, "94287082" },         { 1111111109, "07081804" }, { 1111111111, "14050471" },
	{ 1234567890, "89005924" }, { 2000000000, "69279037" }, { 20000000000, "65353130" },
};

START_TEST(totp_rfc6238_vectors)
{
	char code[16];
	uint64_t step;

	for (size_t i = 0; i < sizeof rfc / sizeof *rfc; i++) {
		ck_assert_int_eq(auth_totp_code(RFC_SECRET, rfc[i].t, 8, code, sizeof code), 0);
		ck_assert_str_eq(code, rfc[i].code);
		ck_assert_int_eq(auth_totp_verify(RFC_SECRET, rfc[i].code, rfc[i].t, &step), 0);
		ck_assert_uint_eq(step, (uint64_t)rfc[i].t / 30);
		/* The 6-digit code is the last six digits of the 8-digit one. */
		ck_assert_int_eq(auth_totp_code(RFC_SECRET, rfc[i].t, 6, code, sizeof code), 0);
		ck_assert_str_eq(code, rfc[i].code + 2);
		ck_assert_int_eq(auth_totp_verify(RFC_SECRET, rfc[i].code + 2, rfc[i].t, NULL), 0);
	}
}
END_TEST

START_TEST(totp_window)
{
	const time_t t = 1234567890; /* step 41152263 */
	char code[16];
	uint64_t step = 0;

	ck_assert_int_eq(auth_totp_code(RFC_SECRET, t, 6, code, sizeof code), 0);
	/* One step either side passes, and reports the step the code belongs to. */
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, code, t - 30, &step), 0);
	ck_assert_uint_eq(step, 41152263);
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, code, t + 30, &step), 0);
	ck_assert_uint_eq(step, 41152263);
	/* Two steps away does not. */
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, code, t - 60 - 30, NULL), -1);
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, code, t + 60 + 30, NULL), -1);
}
END_TEST

START_TEST(totp_refuses_malformed)
{
	char code[16];

	ck_assert_int_eq(auth_totp_code(RFC_SECRET, 59, 6, code, sizeof code), 0);
	code[5] = code[5] == '0' ? '1' : '0';
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, code, 59, NULL), -1);
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, "", 59, NULL), -1);
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, "12345", 59, NULL), -1);
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, "123456789", 59, NULL), -1);
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, "28708a", 59, NULL), -1);
	ck_assert_int_eq(auth_totp_verify(RFC_SECRET, NULL, 59, NULL), -1);
	ck_assert_int_eq(auth_totp_verify("not base32!", "287082", 59, NULL), -1);
	ck_assert_int_eq(auth_totp_code(RFC_SECRET, 59, 5, code, sizeof code), -1);
	ck_assert_int_eq(auth_totp_code(RFC_SECRET, 59, 6, code, 6), -1);
}
END_TEST

START_TEST(totp_secret_and_uri)
{
	char s1[AUTH_TOTP_SECRET_SIZE], s2[AUTH_TOTP_SECRET_SIZE], uri[256], code[8];
	unsigned char raw[64];
	size_t n;

	ck_assert_int_eq(auth_totp_secret_new(s1), 0);
	ck_assert_int_eq(auth_totp_secret_new(s2), 0);
	ck_assert_uint_eq(strlen(s1), 32);
	ck_assert_str_ne(s1, s2);
	ck_assert(strspn(s1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") == 32);
	ck_assert_int_eq(auth_base32_decode(s1, raw, sizeof raw, &n), 0);
	ck_assert_uint_eq(n, AUTH_TOTP_SECRET_BYTES);
	ck_assert_int_eq(auth_totp_code(s1, 1700000000, 6, code, sizeof code), 0);
	ck_assert_int_eq(auth_totp_verify(s1, code, 1700000000, NULL), 0);

	ck_assert_int_eq(auth_totp_uri("piyasa", "alice", RFC_SECRET, uri, sizeof uri), 0);
	ck_assert_str_eq(uri, "otpauth://totp/piyasa:alice?secret=" RFC_SECRET
			      "&issuer=piyasa&algorithm=SHA1&digits=6&period=30");
	ck_assert_int_eq(auth_totp_uri("piyasa", "Al ice", RFC_SECRET, uri, sizeof uri), -1);
	ck_assert_int_eq(auth_totp_uri("pi&yasa", "alice", RFC_SECRET, uri, sizeof uri), -1);
	ck_assert_int_eq(auth_totp_uri("piyasa", "alice", RFC_SECRET, uri, 40), -1);
}
END_TEST

START_TEST(sealed_secret)
{
	unsigned char key[32], other[32];
	char s[AUTH_TOTP_SECRET_SIZE], out[64], *sealed, *again;

	randombytes_buf(key, sizeof key);
	randombytes_buf(other, sizeof other);
	ck_assert_int_eq(auth_totp_secret_new(s), 0);
	ck_assert_ptr_nonnull(sealed = auth_secret_seal(key, s));
	ck_assert_ptr_nonnull(again = auth_secret_seal(key, s));
	ck_assert(strstr(sealed, s) == NULL);
	ck_assert_str_ne(sealed, again); /* a fresh nonce each time */
	ck_assert_int_eq(auth_secret_open(key, sealed, out, sizeof out), 0);
	ck_assert_str_eq(out, s);
	ck_assert_int_eq(auth_secret_open(other, sealed, out, sizeof out), -1);
	ck_assert_int_eq(auth_secret_open(key, sealed, out, 10), -1);
	ck_assert_int_eq(auth_secret_open(key, "zz", out, sizeof out), -1);
	sealed[strlen(sealed) - 1] = sealed[strlen(sealed) - 1] == '0' ? '1' : '0';
	ck_assert_int_eq(auth_secret_open(key, sealed, out, sizeof out), -1);
	free(sealed);
	free(again);
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc;

	tc = tcase_create("roles");
	tcase_add_test(tc, roles);
	tcase_add_test(tc, names);
	suite_add_tcase(s, tc);

	tc = tcase_create("password");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, password_round_trip);
	tcase_add_test(tc, password_refused);
	tcase_add_test(tc, password_of_no_user);
	tcase_add_test(tc, generated_password);
	suite_add_tcase(s, tc);

	tc = tcase_create("tokens");
	tcase_add_test(tc, tokens_unique_and_shaped);
	tcase_add_test(tc, keys);
	tcase_add_test(tc, token_hash);
	tcase_add_test(tc, constant_time_equal);
	suite_add_tcase(s, tc);

	tc = tcase_create("totp");
	tcase_add_test(tc, base32_vectors);
	tcase_add_test(tc, totp_rfc6238_vectors);
	tcase_add_test(tc, totp_window);
	tcase_add_test(tc, totp_refuses_malformed);
	tcase_add_test(tc, totp_secret_and_uri);
	tcase_add_test(tc, sealed_secret);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(auth_suite)
