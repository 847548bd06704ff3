/* tok: see tok.h. */
#include "common/tok.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int key_from_text(unsigned char key[TOK_KEY_BYTES], const char *s, size_t n)
{
	size_t bin_len = 0;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n == TOK_KEY_BYTES * 2 &&
	    sodium_hex2bin(key, TOK_KEY_BYTES, s, n, NULL, &bin_len, NULL) == 0 &&
	    bin_len == TOK_KEY_BYTES)
		return 0;
	if (n == TOK_KEY_BYTES) {
		memcpy(key, s, TOK_KEY_BYTES);
		return 0;
	}
	return -1;
}

static int key_from_file(unsigned char key[TOK_KEY_BYTES], const char *path, char *err, size_t el)
{
	char buf[TOK_KEY_BYTES * 2 + 8];
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		snprintf(err, el, "token key %s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof buf, f);
	fclose(f);
	if (key_from_text(key, buf, n) < 0) {
		snprintf(err, el, "token key %s: not 64 hex digits or 32 bytes", path);
		sodium_memzero(buf, sizeof buf);
		return -1;
	}
	sodium_memzero(buf, sizeof buf);
	return 0;
}

int tok_key_load(unsigned char key[TOK_KEY_BYTES], const char *key_file, char *err, size_t el)
{
	const char *env = getenv("PIYASA_TOKEN_KEY"), *cred = getenv("CREDENTIALS_DIRECTORY");
	char path[512];

	if (sodium_init() < 0) {
		snprintf(err, el, "libsodium failed to initialise");
		return -1;
	}
	if (env && *env) {
		if (key_from_text(key, env, strlen(env)) < 0) {
			snprintf(err, el, "PIYASA_TOKEN_KEY: not 64 hex digits");
			return -1;
		}
		return 0;
	}
	if (key_file && *key_file)
		return key_from_file(key, key_file, err, el);
	if (cred && *cred) {
		snprintf(path, sizeof path, "%s/token_key", cred);
		return key_from_file(key, path, err, el);
	}
	snprintf(err, el,
		 "no token key: set PIYASA_TOKEN_KEY (64 hex digits), token_key_file, "
		 "or a systemd credential named token_key");
	return -1;
}

int tok_env_to_fd(int *fd, char *err, size_t el)
{
	char *env = getenv("PIYASA_TOKEN_KEY");
	unsigned char key[TOK_KEY_BYTES];
	int f;

	*fd = -1;
	if (!env || !*env)
		return 0;
	if (sodium_init() < 0 || key_from_text(key, env, strlen(env)) < 0) {
		snprintf(err, el, "PIYASA_TOKEN_KEY: not 64 hex digits");
		return -1;
	}
	f = memfd_create("piyasa-token-key", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (f < 0 || write(f, key, sizeof key) != (ssize_t)sizeof key ||
	    fcntl(f, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
		snprintf(err, el, "token key: memfd: %s", strerror(errno));
		if (f >= 0)
			close(f);
		sodium_memzero(key, sizeof key);
		return -1;
	}
	sodium_memzero(key, sizeof key);
	/* getenv points into the environment block the kernel shows in
	 * /proc/PID/environ: wipe the text there before dropping the variable. */
	sodium_memzero(env, strlen(env));
	unsetenv("PIYASA_TOKEN_KEY");
	*fd = f;
	return 0;
}

int tok_key_from_fd(unsigned char key[TOK_KEY_BYTES], int fd, char *err, size_t el)
{
	ssize_t n;

	if (sodium_init() < 0) {
		snprintf(err, el, "libsodium failed to initialise");
		return -1;
	}
	n = pread(fd, key, TOK_KEY_BYTES, 0);
	if (n != TOK_KEY_BYTES) {
		snprintf(err, el, "token key fd %d: %s", fd, n < 0 ? strerror(errno) : "short read");
		return -1;
	}
	return 0;
}

int tok_encrypt(const unsigned char key[TOK_KEY_BYTES], const char *token, unsigned char **out,
		size_t *outlen)
{
	size_t n = strlen(token);
	unsigned char *buf;

	if (n == 0 || n >= TOK_MAX)
		return -1;
	*outlen = crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES + n;
	if (!(buf = malloc(*outlen)))
		return -1;
	randombytes_buf(buf, crypto_secretbox_NONCEBYTES);
	crypto_secretbox_easy(buf + crypto_secretbox_NONCEBYTES, (const unsigned char *)token, n,
			      buf, key);
	*out = buf;
	return 0;
}

int tok_decrypt(const unsigned char key[TOK_KEY_BYTES], const unsigned char *in, size_t inlen,
		char *out, size_t outsize)
{
	size_t n;

	if (inlen < crypto_secretbox_NONCEBYTES + crypto_secretbox_MACBYTES)
		return -1;
	n = inlen - crypto_secretbox_NONCEBYTES - crypto_secretbox_MACBYTES;
	if (n + 1 > outsize)
		return -1;
	if (crypto_secretbox_open_easy((unsigned char *)out, in + crypto_secretbox_NONCEBYTES,
				       inlen - crypto_secretbox_NONCEBYTES, in, key) < 0)
		return -1;
	out[n] = '\0';
	return 0;
}

void tok_hint(const char *token, char *out, size_t outsize)
{
	size_t n = strcspn(token, ":");

	if (n >= outsize)
		n = outsize - 1;
	memcpy(out, token, n);
	out[n] = '\0';
}
