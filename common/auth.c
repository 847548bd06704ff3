/* auth: roles, password hashes, tokens, TOTP. The cryptography is libsodium's
 * (Argon2id, BLAKE2b, secretbox, the system's randomness) and liboath's (HOTP and
 * TOTP, base32); this file only chooses parameters and shapes. */
#include "common/auth.h"

#include "common/tok.h"

#include <liboath/oath.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(AUTH_PASS_HASH_MAX == crypto_pwhash_STRBYTES, "crypto_pwhash_STRBYTES changed");
_Static_assert(AUTH_TOKEN_LEN + 1 == sodium_base64_ENCODED_LEN(AUTH_TOKEN_BYTES,
							       sodium_base64_VARIANT_URLSAFE_NO_PADDING),
	       "a token is 43 base64url characters");
_Static_assert(TOK_KEY_BYTES == 32, "the token key is 32 bytes");

static const char *const role_names[] = { "", "viewer", "operator", "admin" };

enum auth_role auth_role_parse(const char *s)
{
	for (int r = AUTH_VIEWER; s && r <= AUTH_ADMIN; r++)
		if (strcmp(s, role_names[r]) == 0)
			return (enum auth_role)r;
	return AUTH_NONE;
}

const char *auth_role_name(enum auth_role r)
{
	return r >= AUTH_VIEWER && r <= AUTH_ADMIN ? role_names[r] : "";
}

int auth_role_allows(enum auth_role have, enum auth_role need)
{
	return have >= AUTH_VIEWER && have <= AUTH_ADMIN && need >= AUTH_VIEWER && have >= need;
}

int auth_name_ok(const char *name)
{
	size_t n = 0;

	if (!name)
		return 0;
	for (const char *p = name; *p; p++, n++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return 0;
	}
	return n >= 1 && n <= 64;
}

/* ---- passwords ---- */

/* sodium_init is idempotent and thread-safe; every entry that draws random
 * bytes or hashes calls it, so no caller has to remember. */
static int sodium_ready(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int auth_pass_check(const char *pass, char *err, size_t el)
{
	size_t n = pass ? strlen(pass) : 0;

	if (n < AUTH_PASS_MIN) {
		snprintf(err, el, "the password is too short (at least %d characters)", AUTH_PASS_MIN);
		return -1;
	}
	if (n > AUTH_PASS_MAX) {
		snprintf(err, el, "the password is too long (at most %d bytes)", AUTH_PASS_MAX);
		return -1;
	}
	for (const unsigned char *p = (const unsigned char *)pass; *p; p++)
		if (*p < 0x20 || *p == 0x7f) {
			snprintf(err, el, "the password contains a control character");
			return -1;
		}
	return 0;
}

int auth_pass_hash(const char *pass, char out[AUTH_PASS_HASH_MAX], char *err, size_t el)
{
	if (auth_pass_check(pass, err, el) < 0)
		return -1;
	if (sodium_ready() < 0) {
		snprintf(err, el, "libsodium failed to initialise");
		return -1;
	}
	/* Interactive limits (64 MiB, 2 passes): a login must answer in well under a
	 * second on a small host; the API throttles guessing besides. */
	if (crypto_pwhash_str(out, pass, strlen(pass), crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
		snprintf(err, el, "cannot hash the password (out of memory)");
		return -1;
	}
	return 0;
}

int auth_pass_verify(const char *hash, const char *pass)
{
	if (!hash || !pass || sodium_ready() < 0)
		return -1;
	if (strnlen(hash, AUTH_PASS_HASH_MAX) >= AUTH_PASS_HASH_MAX)
		return -1;
	return crypto_pwhash_str_verify(hash, pass, strlen(pass)) == 0 ? 0 : -1;
}

static pthread_once_t none_once = PTHREAD_ONCE_INIT;
static char none_hash[AUTH_PASS_HASH_MAX];

static void none_make(void)
{
	char pass[AUTH_GEN_PASS_SIZE], err[128];

	auth_pass_generate(pass);
	if (auth_pass_hash(pass, none_hash, err, sizeof err) < 0)
		none_hash[0] = '\0';
	sodium_memzero(pass, sizeof pass);
}

int auth_pass_verify_none(const char *pass)
{
	int spent = 0;

	pthread_once(&none_once, none_make);
	if (none_hash[0] && pass)
		spent = crypto_pwhash_str_verify(none_hash, pass, strlen(pass));
	(void)spent; /* a match is not a login: there is no such user */
	return -1;
}

int auth_pass_needs_rehash(const char *hash)
{
	if (!hash || sodium_ready() < 0 || strnlen(hash, AUTH_PASS_HASH_MAX) >= AUTH_PASS_HASH_MAX)
		return -1;
	return crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
					      crypto_pwhash_MEMLIMIT_INTERACTIVE);
}

void auth_pass_generate(char out[AUTH_GEN_PASS_SIZE])
{
	unsigned char raw[18];

	if (sodium_ready() < 0)
		abort(); /* no randomness: nothing safe to hand out */
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out, AUTH_GEN_PASS_SIZE, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
}

/* ---- tokens ---- */

void auth_token_new(char out[AUTH_TOKEN_SIZE])
{
	unsigned char raw[AUTH_TOKEN_BYTES];

	if (sodium_ready() < 0)
		abort();
	randombytes_buf(raw, sizeof raw);
	sodium_bin2base64(out, AUTH_TOKEN_SIZE, raw, sizeof raw,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(raw, sizeof raw);
}

static int b64url_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int auth_token_ok(const char *s)
{
	size_t n = 0;

	if (!s)
		return 0;
	for (; s[n] && n <= AUTH_TOKEN_LEN; n++)
		if (!b64url_char(s[n]))
			return 0;
	return n == AUTH_TOKEN_LEN;
}

void auth_key_new(char out[AUTH_KEY_SIZE])
{
	memcpy(out, AUTH_KEY_PREFIX, 4);
	auth_token_new(out + 4);
}

int auth_key_ok(const char *s)
{
	return s && strncmp(s, AUTH_KEY_PREFIX, 4) == 0 && auth_token_ok(s + 4);
}

void auth_key_hint(const char *key, char out[AUTH_KEY_HINT_SIZE])
{
	size_t n = strnlen(key, AUTH_KEY_HINT_LEN);

	memcpy(out, key, n);
	out[n] = '\0';
}

void auth_token_hash(const char *s, char out[AUTH_HASH_HEX_SIZE])
{
	unsigned char h[32];

	if (sodium_ready() < 0)
		abort();
	crypto_generichash(h, sizeof h, (const unsigned char *)s, strlen(s), NULL, 0);
	sodium_bin2hex(out, AUTH_HASH_HEX_SIZE, h, sizeof h);
}

int auth_equal(const char *a, const char *b)
{
	size_t n;

	if (!a || !b || (n = strlen(a)) != strlen(b))
		return 0;
	return n == 0 || sodium_memcmp(a, b, n) == 0;
}

/* ---- TOTP ---- */

static pthread_once_t oath_once = PTHREAD_ONCE_INIT;
static int oath_status = -1;

static void oath_start(void)
{
	oath_status = oath_init() == OATH_OK ? 0 : -1;
}

static int oath_ready(void)
{
	pthread_once(&oath_once, oath_start);
	return oath_status;
}

int auth_base32_encode(const unsigned char *in, size_t n, char *out, size_t outsize)
{
	char *enc = NULL;
	size_t len = 0;
	int rc = -1;

	if (oath_ready() < 0 || oath_base32_encode((const char *)in, n, &enc, &len) != OATH_OK)
		return -1;
	/* liboath pads to a multiple of 8 with '='; authenticator apps want none. */
	while (len > 0 && enc[len - 1] == '=')
		len--;
	if (len < outsize) {
		memcpy(out, enc, len);
		out[len] = '\0';
		rc = 0;
	}
	free(enc);
	return rc;
}

int auth_base32_decode(const char *in, unsigned char *out, size_t outsize, size_t *n)
{
	char buf[256], *dec = NULL;
	size_t len = 0, k = 0;
	int rc = -1;

	/* Upper case, no spaces, padding put back: what liboath's decoder takes. */
	for (; *in; in++) {
		char c = *in;
		if (c == ' ' || c == '=')
			continue;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (k + 1 >= sizeof buf)
			return -1;
		buf[k++] = c;
	}
	if (k == 0)
		return -1;
	while (k % 8 && k + 1 < sizeof buf)
		buf[k++] = '=';
	buf[k] = '\0';
	if (oath_ready() < 0 || oath_base32_decode(buf, k, &dec, &len) != OATH_OK)
		return -1;
	if (len <= outsize) {
		memcpy(out, dec, len);
		*n = len;
		rc = 0;
	}
	sodium_memzero(dec, len);
	free(dec);
	return rc;
}

int auth_totp_secret_new(char out[AUTH_TOTP_SECRET_SIZE])
{
	unsigned char raw[AUTH_TOTP_SECRET_BYTES];
	int rc;

	if (sodium_ready() < 0)
		return -1;
	randombytes_buf(raw, sizeof raw);
	rc = auth_base32_encode(raw, sizeof raw, out, AUTH_TOTP_SECRET_SIZE);
	sodium_memzero(raw, sizeof raw);
	return rc;
}

int auth_totp_code(const char *secret_b32, time_t now, unsigned digits, char *out, size_t outsize)
{
	unsigned char key[128];
	size_t n;
	int rc;

	if (digits < 6 || digits > 8 || outsize < digits + 1 ||
	    auth_base32_decode(secret_b32, key, sizeof key, &n) < 0)
		return -1;
	rc = oath_totp_generate((const char *)key, n, now, AUTH_TOTP_STEP,
				OATH_TOTP_DEFAULT_START_TIME, digits, out) == OATH_OK
		     ? 0
		     : -1;
	sodium_memzero(key, sizeof key);
	return rc;
}

/* liboath's comparison hook: the code given against each candidate, in
 * constant time (a timing difference must not tell which digits were right). */
static int code_cmp(void *handle, const char *candidate)
{
	return auth_equal((const char *)handle, candidate) ? 0 : 1;
}

int auth_totp_verify(const char *secret_b32, const char *code, time_t now, uint64_t *step)
{
	unsigned char key[128];
	size_t n, digits = code ? strlen(code) : 0;
	uint64_t counter = 0;
	int pos = 0, rc;

	if (digits < 6 || digits > 8)
		return -1;
	for (size_t i = 0; i < digits; i++)
		if (code[i] < '0' || code[i] > '9')
			return -1;
	if (auth_base32_decode(secret_b32, key, sizeof key, &n) < 0)
		return -1;
	/* Window 1: the step before and the step after, for clocks 30 s apart. */
	rc = oath_totp_validate3_callback((const char *)key, n, now, AUTH_TOTP_STEP,
					  OATH_TOTP_DEFAULT_START_TIME, (unsigned)digits, 1, &pos,
					  &counter, code_cmp, (void *)code);
	sodium_memzero(key, sizeof key);
	if (rc < 0)
		return -1;
	if (step)
		*step = counter;
	return 0;
}

static int issuer_ok(const char *s)
{
	if (!s || !*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return 0;
	return 1;
}

int auth_totp_uri(const char *issuer, const char *account, const char *secret_b32, char *out,
		  size_t outsize)
{
	int n;

	/* Only characters that need no escaping in a URI are let through. */
	if (!issuer_ok(issuer) || !auth_name_ok(account) || !issuer_ok(secret_b32))
		return -1;
	n = snprintf(out, outsize,
		     "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=%d&period=%d",
		     issuer, account, secret_b32, issuer, AUTH_TOTP_DIGITS, AUTH_TOTP_STEP);
	return n < 0 || (size_t)n >= outsize ? -1 : 0;
}

/* ---- sealed secrets ---- */

char *auth_secret_seal(const unsigned char key[32], const char *secret)
{
	unsigned char *sealed;
	size_t n;
	char *hex;

	if (sodium_ready() < 0 || tok_encrypt(key, secret, &sealed, &n) < 0)
		return NULL;
	if ((hex = malloc(2 * n + 1)))
		sodium_bin2hex(hex, 2 * n + 1, sealed, n);
	free(sealed);
	return hex;
}

int auth_secret_open(const unsigned char key[32], const char *sealed_hex, char *out, size_t outsize)
{
	unsigned char buf[TOK_MAX + 64];
	size_t n;

	if (!sealed_hex || sodium_ready() < 0 ||
	    sodium_hex2bin(buf, sizeof buf, sealed_hex, strlen(sealed_hex), NULL, &n, NULL) != 0)
		return -1;
	return tok_decrypt(key, buf, n, out, outsize);
}
