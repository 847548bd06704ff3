/* tok: bot tokens encrypted at rest (libsodium secretbox).
 *
 * The 32-byte key comes from PIYASA_TOKEN_KEY (64 hex digits), else the file
 * named by token_key_file, else $CREDENTIALS_DIRECTORY/token_key (systemd
 * LoadCredential=token_key:...). The file holds 64 hex digits or 32 raw bytes.
 * Stored form: nonce || ciphertext.
 *
 * The supervisor never hands PIYASA_TOKEN_KEY down to its workers (an
 * environment is copied into every child, core dump and `systemctl show`):
 * tok_env_to_fd moves the key into a sealed memfd that each worker gets as an
 * inherited descriptor and reads with tok_key_from_fd. */
#ifndef PIYASA_TOK_H
#define PIYASA_TOK_H

#include <stddef.h>

#define TOK_KEY_BYTES 32
#define TOK_MAX 256

/* 0, or -1 with err saying where a key was looked for. */
int tok_key_load(unsigned char key[TOK_KEY_BYTES], const char *key_file, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* PIYASA_TOKEN_KEY moved out of the environment: the key checked and written to
 * a sealed memfd (*fd, close-on-exec; -1 when the variable is not set), the
 * variable removed and its text in the original environment block wiped, so
 * that neither children nor /proc/PID/environ see it. 0, or -1 with err. */
int tok_env_to_fd(int *fd, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The key from fd (as tok_env_to_fd wrote it), read from its start. 0 or -1. */
int tok_key_from_fd(unsigned char key[TOK_KEY_BYTES], int fd, char *err, size_t errlen)
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
