/* auth: the pure functions of users and access (issue 14), shared by piyasactl and
 * piyasa-api: roles, user names, password hashes, random tokens (session ids, CSRF
 * tokens, API keys) and their hashes, TOTP (RFC 6238), constant-time comparison.
 * No I/O but the system's randomness; nothing here logs, so no secret can reach a
 * log through it (docs/SECURITY.md "Users and access").
 *
 * Stored forms (ctl/migrations/004_users.sql):
 *   users.pass_hash     crypto_pwhash_str (Argon2id, its parameters and salt inside)
 *   sessions.id_hash    auth_token_hash(session id): hex BLAKE2b-256
 *   api_keys.key_hash   auth_token_hash(key)
 *   users.totp_secret   auth_secret_seal(token key, base32 secret): hex of
 *                       nonce || secretbox, as bot tokens (common/tok.h) */
#ifndef PIYASA_AUTH_H
#define PIYASA_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Roles, ordered: each may do what the ones below it may. */
enum auth_role { AUTH_NONE = 0, AUTH_VIEWER = 1, AUTH_OPERATOR = 2, AUTH_ADMIN = 3 };

/* "viewer" -> AUTH_VIEWER ...; AUTH_NONE for anything else (NULL too). */
enum auth_role auth_role_parse(const char *s);

/* The name of a role ("viewer", ...); "" for AUTH_NONE. */
const char *auth_role_name(enum auth_role r);

/* 1 when a holder of role have may act where need is required. */
int auth_role_allows(enum auth_role have, enum auth_role need);

/* 1 when name matches ^[a-z0-9_.-]{1,64}$ (the users table's check). */
int auth_name_ok(const char *name);

/* ---- passwords ---- */

#define AUTH_PASS_MIN 8
#define AUTH_PASS_MAX 1024
/* crypto_pwhash_STRBYTES; checked against libsodium in auth.c. */
#define AUTH_PASS_HASH_MAX 128

/* 0 when pass is acceptable (AUTH_PASS_MIN..AUTH_PASS_MAX bytes, no control
 * characters), else -1 with the reason in err (never the password). */
int auth_pass_check(const char *pass, char *err, size_t errlen);

/* Argon2id hash of pass (crypto_pwhash_str, interactive limits). 0, or -1 with
 * err (out of memory, or pass refused by auth_pass_check). */
int auth_pass_hash(const char *pass, char out[AUTH_PASS_HASH_MAX], char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* 0 when pass matches hash, -1 when it does not or hash is not a hash. */
int auth_pass_verify(const char *hash, const char *pass) __attribute__((warn_unused_result));

/* For a login naming no user (or a disabled one): spends what auth_pass_verify
 * spends (an Argon2id verify against a hash made once, of a random password)
 * and returns -1, so the answer's time does not tell which names exist. */
int auth_pass_verify_none(const char *pass);

/* 1 when hash was made with other limits than today's (rehash it at the next
 * successful login), 0 when current, -1 when not a hash. */
int auth_pass_needs_rehash(const char *hash);

/* A random password for `--generate`: 18 random bytes, base64url (24 chars). */
#define AUTH_GEN_PASS_SIZE 25
void auth_pass_generate(char out[AUTH_GEN_PASS_SIZE]);

/* ---- random tokens and their hashes ---- */

/* 32 random bytes, base64url without padding: 43 characters (+ NUL). Session ids
 * and CSRF tokens are these. */
#define AUTH_TOKEN_BYTES 32
#define AUTH_TOKEN_LEN 43
#define AUTH_TOKEN_SIZE (AUTH_TOKEN_LEN + 1)
void auth_token_new(char out[AUTH_TOKEN_SIZE]);

/* 1 when s is exactly AUTH_TOKEN_LEN base64url characters. */
int auth_token_ok(const char *s);

/* API keys: "piy_" + a token (47 characters); the hint is the first 8. */
#define AUTH_KEY_PREFIX "piy_"
#define AUTH_KEY_LEN (4 + AUTH_TOKEN_LEN)
#define AUTH_KEY_SIZE (AUTH_KEY_LEN + 1)
#define AUTH_KEY_HINT_LEN 8
#define AUTH_KEY_HINT_SIZE (AUTH_KEY_HINT_LEN + 1)
void auth_key_new(char out[AUTH_KEY_SIZE]);
int auth_key_ok(const char *s);
void auth_key_hint(const char *key, char out[AUTH_KEY_HINT_SIZE]);

/* hex BLAKE2b-256 (crypto_generichash, no key) of s: 64 hex digits (+ NUL). What
 * the database keeps of a session id or an API key. */
#define AUTH_HASH_HEX_SIZE 65
void auth_token_hash(const char *s, char out[AUTH_HASH_HEX_SIZE]);

/* Constant-time equality of two strings (their lengths are not secret). 1 equal. */
int auth_equal(const char *a, const char *b);

/* ---- TOTP (RFC 6238: HMAC-SHA1, 30 s steps from the Unix epoch) ---- */

/* 20 random bytes (RFC 4226's recommended 160 bits), base32: 32 characters. */
#define AUTH_TOTP_SECRET_BYTES 20
#define AUTH_TOTP_SECRET_SIZE 33
#define AUTH_TOTP_STEP 30
#define AUTH_TOTP_DIGITS 6
int auth_totp_secret_new(char out[AUTH_TOTP_SECRET_SIZE]) __attribute__((warn_unused_result));

/* RFC 4648 base32 (liboath): 0, or -1 when the input is not base32 or does not
 * fit. Decoding accepts lower case and ignores spaces and '=' padding. */
int auth_base32_encode(const unsigned char *in, size_t n, char *out, size_t outsize);
int auth_base32_decode(const char *in, unsigned char *out, size_t outsize, size_t *n);

/* The code of secret (base32) at time now with digits digits (6..8) into out
 * (digits + 1 bytes). 0 or -1. For tests and for the CLI's confirmation. */
int auth_totp_code(const char *secret_b32, time_t now, unsigned digits, char *out, size_t outsize);

/* 0 when code (6 to 8 digits; its length is the digit count) is secret's code at
 * now, or one step before or after; *step (may be NULL) is then the matched time
 * step (now / 30 + offset), which a caller keeps to refuse a code used twice.
 * -1 otherwise. Compared in constant time. */
int auth_totp_verify(const char *secret_b32, const char *code, time_t now, uint64_t *step);

/* "otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=ISSUER&algorithm=SHA1&digits=6
 * &period=30": what an authenticator app scans. account must pass auth_name_ok,
 * issuer be [A-Za-z0-9_.-]. 0, or -1 when out is too small or a part unsafe. */
int auth_totp_uri(const char *issuer, const char *account, const char *secret_b32, char *out,
		  size_t outsize);

/* ---- secrets sealed with the token key (common/tok.h) ---- */

/* The text stored in users.totp_secret: hex of nonce || secretbox(secret).
 * malloc'd, NULL on failure. */
char *auth_secret_seal(const unsigned char key[32], const char *secret);

/* Back from auth_secret_seal's text into out (NUL-terminated). -1 when the hex is
 * bad, the key wrong or out too small. */
int auth_secret_open(const unsigned char key[32], const char *sealed_hex, char *out, size_t outsize)
	__attribute__((warn_unused_result));

#endif
