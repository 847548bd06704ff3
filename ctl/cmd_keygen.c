/* cmd_keygen: `piyasactl keygen [FILE]`: a new token key, written once.
 * The file is created with O_EXCL and mode 0600, so an existing key (which the
 * stored tokens need) is never replaced and the key is never readable by
 * others, not even for a moment. */
#include "common/tok.h"
#include "ctl/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

int cmd_keygen(struct ctl *c, int argc, char **argv)
{
	const char *out = NULL;
	unsigned char key[TOK_KEY_BYTES];
	char hex[TOK_KEY_BYTES * 2 + 2], *pos[1];
	int np, rc, fd;
	ssize_t w;

	(void)c;
	if ((rc = ctl_opts("keygen", argc - 1, argv + 1, NULL, pos, 1, &np)) != 0)
		return rc;
	out = np ? pos[0] : "/etc/piyasa/token_key";
	if (sodium_init() < 0)
		return ctl_fail("libsodium failed to initialise");
	if ((fd = open(out, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		if (errno == EEXIST)
			return ctl_fail("%s exists: the stored bot tokens are sealed with it; "
					"a new key would lose them (remove it yourself if that is "
					"what you want)",
					out);
		return ctl_fail("%s: %s", out, strerror(errno));
	}
	randombytes_buf(key, sizeof key);
	sodium_bin2hex(hex, sizeof hex, key, sizeof key);
	sodium_memzero(key, sizeof key);
	hex[TOK_KEY_BYTES * 2] = '\n';
	w = write(fd, hex, TOK_KEY_BYTES * 2 + 1);
	sodium_memzero(hex, sizeof hex);
	if (w != TOK_KEY_BYTES * 2 + 1 || fsync(fd) < 0 || close(fd) < 0) {
		rc = errno;
		unlink(out);
		return ctl_fail("%s: cannot write: %s", out, strerror(rc));
	}
	printf("wrote a new token key to %s\n", out);
	return CTL_OK;
}
