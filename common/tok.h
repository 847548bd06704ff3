/* tok: bot tokens encrypted at rest (libsodium secretbox).
 *
 * The 32-byte key comes from PIYASA_TOKEN_KEY (64 hex digits), else the file
 * named by token_key_file, else $CREDENTIALS_DIRECTORY/token_key (systemd
 * LoadCredential=token_key:...). The file holds 64 hex digits or 32 raw bytes.
 * Stored form: nonce || ciphertext. */
#ifndef PIYASA_TOK_H
#define PIYASA_TOK_H

#include <stddef.h>

#define TOK_KEY_BYTES 32
#define TOK_MAX 256

/* 0, or -1 with err saying where a key was looked for. */
int tok_key_load(unsigned char key[TOK_KEY_BYTES], const char *key_file, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Encrypt token; *out is malloc'd (free it). 0 or -1. */
int tok_encrypt(const unsigned char key[TOK_KEY_BYTES], const char *token, unsigned char **out,
		size_t *outlen) __attribute__((warn_unused_result));

/* Decrypt into out (NUL-terminated). -1 when the key is wrong or data corrupt. */
int tok_decrypt(const unsigned char key[TOK_KEY_BYTES], const unsigned char *in, size_t inlen,
		char *out, size_t outsize) __attribute__((warn_unused_result));

/* The public part of a token (the bot id before ':'), for logs and listings. */
void tok_hint(const char *token, char *out, size_t outsize);

#endif
